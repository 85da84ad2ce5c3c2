/* due.c - "promptly due": business-time arithmetic on a calendar.
**
** One-off: promptly due CAL.json START MINUTES prints the due instant.
** Batch:   promptly due --batch [FILE|-] reads JSON lines
**   {"calendar": {...}, "start": ISO, "minutes": N | "seconds": N |
**    "end": ISO}
** and prints each line back with "due" or "elapsed_seconds" added.  A bad
** line gets one message on stderr ("line N: field: what is wrong") and no
** output; the exit status is then 2, after every line was processed.
**
** A calendar object is either the batch shape
**   {"tz": ..., "hours": {"mon": [["09:00", "17:00"]], ...} | "24x7",
**    "holidays": [...], "ics": "path" | [...]}
** or the module's own pairs ("tz", "mon".."sun", "24x7", "holiday",
** "ics"; a pair that repeats is an array of values), or a mix.  Compiled
** calendars are cached by their canonical JSON text (sorted keys), so a
** batch of many lines with one calendar compiles it once.
*/
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

/* Distinct calendars kept compiled at once; past this the cache starts
** over, which bounds memory on a batch of ever-new calendars. */
#define DUE_CACHE_MAX 4096

static const char *const due_days[7] = {
  "mon", "tue", "wed", "thu", "fri", "sat", "sun",
};

/* The name/value pairs of one calendar, with the strings they point to. */
typedef struct due_spec {
  promptly_attr *attrs;
  uint32_t n;
  uint32_t cap;
  GPtrArray *strings;  /* owned copies behind attrs' values */
} due_spec;

/* A cached calendar, or the message that compiling it gave. */
typedef struct due_entry {
  promptly_calendar *cal;
  char *error;
} due_entry;

typedef struct due_ctx {
  cli_module m;
  GHashTable *cache;  /* canonical JSON -> due_entry */
} due_ctx;


/* --- Calendar objects -------------------------------------------------- */

static void
spec_init(due_spec *s)
{
  memset(s, 0, sizeof(*s));
  s->strings = g_ptr_array_new_with_free_func(g_free);
}


static void
spec_free(due_spec *s)
{
  g_free(s->attrs);
  g_ptr_array_free(s->strings, TRUE);
}


/* Add a pair; value is copied. */
static void
spec_add(due_spec *s, const char *name, const char *value)
{
  if (s->n == s->cap) {
    s->cap = s->cap != 0 ? s->cap * 2 : 16;
    s->attrs = g_renew(promptly_attr, s->attrs, s->cap);
  }
  char *v = g_strdup(value);
  g_ptr_array_add(s->strings, v);
  s->attrs[s->n].name = name;
  s->attrs[s->n].value = v;
  s->n++;
}


static int
day_name(const char *key)
{
  for (int w = 0; w < 7; w++) {
    if (strcmp(key, due_days[w]) == 0) {
      return w;
    }
  }
  return -1;
}


/* One opening: "HH:MM-HH:MM" or ["HH:MM", "HH:MM"]. */
static int
add_opening(due_spec *s, const char *day, json_t *v, const char *field,
            char *err, size_t errlen)
{
  if (json_is_string(v)) {
    spec_add(s, day, json_string_value(v));
    return 0;
  }
  if (json_is_array(v) && json_array_size(v) == 2 &&
      json_is_string(json_array_get(v, 0)) &&
      json_is_string(json_array_get(v, 1))) {
    char *text = g_strdup_printf("%s-%s",
                                 json_string_value(json_array_get(v, 0)),
                                 json_string_value(json_array_get(v, 1)));
    spec_add(s, day, text);
    g_free(text);
    return 0;
  }
  snprintf(err, errlen,
           "%s: an opening is [\"HH:MM\", \"HH:MM\"] or \"HH:MM-HH:MM\"",
           field);
  return -1;
}


/* The openings of one day: one opening, or an array of them. */
static int
add_day(due_spec *s, const char *day, json_t *v, const char *field,
        char *err, size_t errlen)
{
  /* ["09:00", "17:00"] is one opening, not two. */
  if (json_is_array(v) && !(json_array_size(v) == 2 &&
                            json_is_string(json_array_get(v, 0)) &&
                            json_is_string(json_array_get(v, 1)) &&
                            strchr(json_string_value(json_array_get(v, 0)),
                                   '-') == NULL)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      if (add_opening(s, day, x, field, err, errlen) != 0) {
        return -1;
      }
    }
    return 0;
  }
  return add_opening(s, day, v, field, err, errlen);
}


/* A string, or an array of strings, added as pairs named name. */
static int
add_strings(due_spec *s, const char *name, json_t *v, const char *field,
            char *err, size_t errlen)
{
  if (json_is_string(v)) {
    spec_add(s, name, json_string_value(v));
    return 0;
  }
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      if (!json_is_string(x)) {
        snprintf(err, errlen, "%s: expected a string or an array of strings",
                 field);
        return -1;
      }
      spec_add(s, name, json_string_value(x));
    }
    return 0;
  }
  snprintf(err, errlen, "%s: expected a string or an array of strings",
           field);
  return -1;
}


/* Turn a calendar object into ABI pairs.  On error, err holds
** "field: what is wrong". */
static int
calendar_pairs(json_t *cal, due_spec *s, char *err, size_t errlen)
{
  char field[128];
  const char *key;
  json_t *v;
  if (!json_is_object(cal)) {
    snprintf(err, errlen, "calendar: expected an object");
    return -1;
  }
  json_object_foreach(cal, key, v) {
    snprintf(field, sizeof(field), "calendar.%s", key);
    int w = day_name(key);
    if (strcmp(key, "tz") == 0) {
      if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: expected a zone name", field);
        return -1;
      }
      spec_add(s, "tz", json_string_value(v));
    } else if (strcmp(key, "hours") == 0) {
      if (json_is_string(v) && strcmp(json_string_value(v), "24x7") == 0) {
        spec_add(s, "24x7", "");
        continue;
      }
      if (!json_is_object(v)) {
        snprintf(err, errlen,
                 "%s: expected \"24x7\" or an object of weekdays", field);
        return -1;
      }
      const char *day;
      json_t *dv;
      json_object_foreach(v, day, dv) {
        char dfield[160];
        snprintf(dfield, sizeof(dfield), "%s.%s", field, day);
        int dw = day_name(day);
        if (dw < 0) {
          snprintf(err, errlen, "%s: not a weekday (mon..sun)", dfield);
          return -1;
        }
        if (add_day(s, due_days[dw], dv, dfield, err, errlen) != 0) {
          return -1;
        }
      }
    } else if (w >= 0) {
      if (add_day(s, due_days[w], v, field, err, errlen) != 0) {
        return -1;
      }
    } else if (strcmp(key, "24x7") == 0) {
      if (!json_is_false(v) && !json_is_null(v)) {
        spec_add(s, "24x7", "");
      }
    } else if (strcmp(key, "holidays") == 0 || strcmp(key, "holiday") == 0) {
      if (add_strings(s, "holiday", v, field, err, errlen) != 0) {
        return -1;
      }
    } else if (strcmp(key, "ics") == 0) {
      if (add_strings(s, "ics", v, field, err, errlen) != 0) {
        return -1;
      }
    } else {
      snprintf(err, errlen,
               "%s: unknown field (expected tz, hours, holidays, ics, "
               "mon..sun, 24x7)", field);
      return -1;
    }
  }
  return 0;
}


static void
entry_free(due_ctx *d, due_entry *e)
{
  if (e->cal != NULL) {
    d->m.calendar_close(e->cal);
  }
  g_free(e->error);
  g_free(e);
}


static void
cache_clear(due_ctx *d)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, d->cache);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    entry_free(d, value);
    g_hash_table_iter_remove(&it);
  }
}


/* The compiled calendar of a calendar object, from the cache if it was
** seen before.  NULL with err set ("field: what is wrong") on error. */
static promptly_calendar *
calendar_get(due_ctx *d, json_t *cal, char *err, size_t errlen)
{
  char *key = json_dumps(cal, JSON_SORT_KEYS | JSON_COMPACT |
                                JSON_ENCODE_ANY);
  if (key == NULL) {
    snprintf(err, errlen, "calendar: cannot encode");
    return NULL;
  }
  due_entry *e = g_hash_table_lookup(d->cache, key);
  if (e != NULL) {
    free(key);
  } else {
    if (g_hash_table_size(d->cache) >= DUE_CACHE_MAX) {
      cache_clear(d);
    }
    e = g_new0(due_entry, 1);
    due_spec s;
    spec_init(&s);
    char msg[512];
    if (calendar_pairs(cal, &s, msg, sizeof(msg)) != 0) {
      e->error = g_strdup(msg);
    } else {
      int rc = d->m.calendar_open(s.attrs, s.n, &e->cal, msg, sizeof(msg));
      if (rc != PROMPTLY_OK) {
        e->cal = NULL;
        e->error = g_strdup_printf("calendar: %s", msg);
      }
    }
    spec_free(&s);
    /* The key came from jansson's allocator; the table owns a g_ copy. */
    g_hash_table_insert(d->cache, g_strdup(key), e);
    free(key);
  }
  if (e->cal == NULL) {
    snprintf(err, errlen, "%s", e->error);
  }
  return e->cal;
}


/* --- Lines ------------------------------------------------------------- */

/* A whole number of seconds from "minutes" or "seconds". */
static int
read_target(json_t *v, const char *field, int64_t per, int64_t *seconds,
            char *err, size_t errlen)
{
  double x;
  if (json_is_integer(v)) {
    json_int_t n = json_integer_value(v);
    if (n < 0) {
      snprintf(err, errlen, "%s: must not be negative", field);
      return -1;
    }
    if (n > INT64_MAX / 1000 / per) {
      snprintf(err, errlen, "%s: too large", field);
      return -1;
    }
    *seconds = (int64_t)n * per;
    return 0;
  }
  if (!json_is_real(v)) {
    snprintf(err, errlen, "%s: expected a number", field);
    return -1;
  }
  x = json_real_value(v) * (double)per;
  if (x < 0) {
    snprintf(err, errlen, "%s: must not be negative", field);
    return -1;
  }
  if (x > 9.0e15) {
    snprintf(err, errlen, "%s: too large", field);
    return -1;
  }
  if ((double)(int64_t)x != x) {
    snprintf(err, errlen, "%s: not a whole number of seconds", field);
    return -1;
  }
  *seconds = (int64_t)x;
  return 0;
}


static int
read_instant(json_t *obj, const char *field, int64_t *at_ms, char *err,
             size_t errlen)
{
  json_t *v = json_object_get(obj, field);
  if (v == NULL) {
    snprintf(err, errlen, "%s: missing", field);
    return -1;
  }
  if (!json_is_string(v) || cli_parse_iso(json_string_value(v), at_ms) != 0) {
    snprintf(err, errlen, "%s: expected an ISO 8601 instant", field);
    return -1;
  }
  return 0;
}


/* Answer one batch line.  0 and the line on out, or -1 and err. */
static int
due_line(due_ctx *d, const char *text, FILE *out, char *err, size_t errlen)
{
  json_error_t jerr;
  json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  int rc = -1;
  if (obj == NULL) {
    snprintf(err, errlen, "json: %s (column %d)", jerr.text, jerr.column);
    return -1;
  }
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "line: expected a JSON object");
    goto done;
  }
  json_t *cal = json_object_get(obj, "calendar");
  if (cal == NULL) {
    snprintf(err, errlen, "calendar: missing");
    goto done;
  }
  json_t *minutes = json_object_get(obj, "minutes");
  json_t *seconds = json_object_get(obj, "seconds");
  json_t *end = json_object_get(obj, "end");
  int given = (minutes != NULL) + (seconds != NULL) + (end != NULL);
  if (given != 1) {
    snprintf(err, errlen, "%s: give exactly one of minutes, seconds or end",
             minutes != NULL ? "minutes" : seconds != NULL ? "seconds"
                                                           : "end");
    goto done;
  }
  int64_t start_ms, end_ms = 0, target = 0;
  if (read_instant(obj, "start", &start_ms, err, errlen) != 0) {
    goto done;
  }
  if (end != NULL) {
    if (read_instant(obj, "end", &end_ms, err, errlen) != 0) {
      goto done;
    }
    if (end_ms < start_ms) {
      snprintf(err, errlen, "end: before start");
      goto done;
    }
  } else if (read_target(minutes != NULL ? minutes : seconds,
                         minutes != NULL ? "minutes" : "seconds",
                         minutes != NULL ? 60 : 1, &target, err,
                         errlen) != 0) {
    goto done;
  }
  promptly_calendar *pc = calendar_get(d, cal, err, errlen);
  if (pc == NULL) {
    goto done;
  }
  if (end != NULL) {
    int64_t el_ms;
    int r = d->m.calendar_between(pc, start_ms, end_ms, &el_ms);
    if (r == PROMPTLY_ERANGE) {
      snprintf(err, errlen, "start..end: outside the years 1800..2900");
      goto done;
    }
    if (r != PROMPTLY_OK) {
      snprintf(err, errlen, "end: %s", d->m.strerror(r));
      goto done;
    }
    json_object_set_new(obj, "elapsed_seconds",
                        el_ms % 1000 == 0 ? json_integer(el_ms / 1000)
                                          : json_real((double)el_ms / 1000));
  } else {
    int64_t due_ms;
    int r = d->m.calendar_add(pc, start_ms, target, &due_ms);
    if (r == PROMPTLY_ERANGE) {
      snprintf(err, errlen,
               "%s: never due (no opening within 100 years of start, or "
               "outside the years 1800..2900)",
               minutes != NULL ? "minutes" : "seconds");
      goto done;
    }
    if (r != PROMPTLY_OK) {
      snprintf(err, errlen, "start: %s", d->m.strerror(r));
      goto done;
    }
    char iso[CLI_ISO_LEN];
    cli_format_iso(due_ms, iso);
    json_object_set_new(obj, "due", json_string(iso));
  }
  if (json_dumpf(obj, out, 0) != 0 || fputc('\n', out) == EOF) {
    snprintf(err, errlen, "output: write error");
    goto done;
  }
  rc = 0;

done:
  json_decref(obj);
  return rc;
}


static int
due_batch(due_ctx *d, const char *path)
{
  FILE *in = stdin;
  if (path != NULL && strcmp(path, "-") != 0) {
    in = fopen(path, "r");
    if (in == NULL) {
      fprintf(stderr, "promptly due: %s: %s\n", path, strerror(errno));
      return CLI_EXIT_FAIL;
    }
  }
  char *line = NULL, err[1024];
  size_t cap = 0;
  ssize_t len;
  long lineno = 0, bad = 0;
  while ((len = getline(&line, &cap, in)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
      line[--len] = '\0';
    }
    if (strspn(line, " \t") == (size_t)len) {
      continue;  /* blank line */
    }
    if (due_line(d, line, stdout, err, sizeof(err)) != 0) {
      fprintf(stderr, "line %ld: %s\n", lineno, err);
      bad++;
    }
  }
  int read_error = ferror(in);
  free(line);
  if (in != stdin) {
    fclose(in);
  }
  if (read_error) {
    fprintf(stderr, "promptly due: %s: read error\n",
            path != NULL ? path : "-");
    return CLI_EXIT_FAIL;
  }
  if (fflush(stdout) != 0) {
    fprintf(stderr, "promptly due: stdout: write error\n");
    return CLI_EXIT_FAIL;
  }
  return bad > 0 ? CLI_EXIT_INPUT : CLI_EXIT_OK;
}


static int
due_once(due_ctx *d, const char *cal_path, const char *start,
         const char *minutes)
{
  json_error_t jerr;
  json_t *cal = json_load_file(cal_path, JSON_REJECT_DUPLICATES, &jerr);
  if (cal == NULL) {
    fprintf(stderr, "promptly due: %s:%d: %s\n", cal_path, jerr.line,
            jerr.text);
    return CLI_EXIT_INPUT;
  }
  int rc = CLI_EXIT_INPUT;
  char err[1024];
  int64_t start_ms, due_ms;
  char *endp;
  errno = 0;
  double mins = strtod(minutes, &endp);
  if (cli_parse_iso(start, &start_ms) != 0) {
    fprintf(stderr, "promptly due: START '%s': expected an ISO 8601 instant\n",
            start);
    goto done;
  }
  if (endp == minutes || *endp != '\0' || errno != 0 || !(mins >= 0) ||
      mins > 1.5e14 || (double)(int64_t)(mins * 60) != mins * 60) {
    fprintf(stderr, "promptly due: MINUTES '%s': expected a number of "
            "minutes >= 0 (whole seconds)\n", minutes);
    goto done;
  }
  promptly_calendar *pc = calendar_get(d, cal, err, sizeof(err));
  if (pc == NULL) {
    fprintf(stderr, "promptly due: %s: %s\n", cal_path, err);
    goto done;
  }
  int r = d->m.calendar_add(pc, start_ms, (int64_t)(mins * 60), &due_ms);
  if (r == PROMPTLY_ERANGE) {
    fprintf(stderr, "promptly due: never due (no opening within 100 years "
            "of %s, or outside the years 1800..2900)\n", start);
    goto done;
  }
  if (r != PROMPTLY_OK) {
    fprintf(stderr, "promptly due: %s\n", d->m.strerror(r));
    goto done;
  }
  char iso[CLI_ISO_LEN];
  cli_format_iso(due_ms, iso);
  printf("%s\n", iso);
  rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;

done:
  json_decref(cal);
  return rc;
}


static void
due_usage(FILE *f)
{
  fputs("usage: promptly due CAL.json START MINUTES\n"
        "       promptly due --batch [FILE|-]\n",
        f);
}


int
cli_due(int argc, char **argv)
{
  const char *module = NULL, *pos[4];
  int n_pos = 0, batch = 0;
  for (int i = 1; i < argc; i++) {
    int got = cli_opt_value(argc, argv, &i, "--module", &module);
    if (got < 0) {
      return CLI_EXIT_INPUT;
    }
    if (got > 0) {
      continue;
    }
    if (strcmp(argv[i], "--batch") == 0) {
      batch = 1;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      due_usage(stdout);
      return CLI_EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "promptly due: unknown option '%s'\n", argv[i]);
      due_usage(stderr);
      return CLI_EXIT_INPUT;
    } else if (n_pos < 4) {
      pos[n_pos++] = argv[i];
    } else {
      n_pos++;
    }
  }
  if ((batch && n_pos > 1) || (!batch && n_pos != 3)) {
    due_usage(stderr);
    return CLI_EXIT_INPUT;
  }

  due_ctx d;
  if (cli_module_load(&d.m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
  d.cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  int rc = batch ? due_batch(&d, n_pos == 1 ? pos[0] : NULL)
                 : due_once(&d, pos[0], pos[1], pos[2]);
  cache_clear(&d);
  g_hash_table_destroy(d.cache);
  cli_module_unload(&d.m);
  return rc;
}
