/* report.c - "promptly report": read outcome records, select the period,
** group them and compute compliance, percentiles, overruns, the breach list
** and the calibration; report_out.c prints, credits.c adds the credits.
**
** Invariants.  A records file is read whole before anything is printed:
** a malformed line is reported as "FILE: line N: why" and nothing else is
** output.  A cycle that ended (met, breached, cancelled, stopped) belongs
** to the period when its stop is in [--from, --to); one still open
** (active, paused) when it started before --to.  compliance is
** met / (met + breached), never counting open, cancelled or stopped
** cycles; percentiles are by nearest rank over met and breached cycles.
** A later record of a ticket, metric and cycle supersedes an earlier
** one.  Everything is deterministic: groups, breaches and calibration
** lines are sorted on keys that tell every two of them apart.
*/
#include "config.h"

#include "cli.h"
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

const char *const rep_outcome_names[REP_OUTCOMES] = {
  "met", "breached", "cancelled", "stopped", "active", "paused",
};

const char *const rep_attr_names[REP_ATTRS] = {
  "queue", "channel", "tier", "type", "customer",
};

const char *const rep_key_names[REP_KEYS] = {
  "metric", "priority", "channel", "tier", "queue", "policy", "type",
  "customer", "day", "week", "month",
};

const int rep_pcts[REP_PCTS] = {50, 80, 90, 95};

const char *const rep_cause_names[REP_CAUSES] = {
  "priority changed", "policy changed", "exception", "paused",
  "customer wait", "outside business hours", "none of these",
};

#define DAY_MS (24 * 3600 * (int64_t)1000)
#define REP_MAX_DURATION (1000 * 366 * DAY_MS)


/* --- Strings ---------------------------------------------------------------- */

const char *
rep_intern(report *r, const char *s)
{
  if (s == NULL) {
    return NULL;
  }
  const char *got = g_hash_table_lookup(r->interned, s);
  if (got == NULL) {
    got = g_string_chunk_insert(r->pool, s);
    g_hash_table_insert(r->interned, (gpointer)got, (gpointer)got);
  }
  return got;
}


/* --- Durations in words --------------------------------------------------- */

void
rep_words(int64_t ms, char *out, size_t len)
{
  if (ms < 0) {
    ms = 0;
  }
  if (ms > 0 && ms < 1000) {
    snprintf(out, len, "%" PRId64 " ms", ms);
    return;
  }
  int64_t s = ms / 1000;
  int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  size_t n = 0;
  out[0] = '\0';
#define REP_PART(v, unit)                                                    \
  if ((v) != 0 && n < len) {                                               \
    int k = snprintf(out + n, len - n, "%s%" PRId64 "%s", n ? " " : "", (v), \
                     unit);                                                \
    n += k > 0 ? (size_t)k : 0;                                            \
  }
  REP_PART(d, "d")
  REP_PART(h, "h")
  REP_PART(m, " min")
  REP_PART(sec, " s")
#undef REP_PART
  if (n == 0) {
    snprintf(out, len, "0 min");
  }
}


void
rep_rule_duration(int64_t ms, char *out, size_t len)
{
  if (ms < 0) {
    ms = 0;
  }
  if (ms % 1000 != 0) {
    snprintf(out, len, "%" PRId64 "ms", ms);
    return;
  }
  int64_t s = ms / 1000;
  int64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
  size_t n = 0;
  out[0] = '\0';
  if (h != 0) {
    int k = snprintf(out, len, "%" PRId64 "h", h);
    n = k > 0 ? (size_t)k : 0;
  }
  if (m != 0 && n < len) {
    int k = snprintf(out + n, len - n, "%" PRId64 "m", m);
    n += k > 0 ? (size_t)k : 0;
  }
  if ((sec != 0 || n == 0) && n < len) {
    snprintf(out + n, len - n, "%" PRId64 "s", sec);
  }
}


/* --- Causes ----------------------------------------------------------------- */

/* The level number of "P<digits>", or -1. */
static long
level_number(const char *p)
{
  if (p == NULL || p[0] != 'P' || p[1] < '0' || p[1] > '9') {
    return -1;
  }
  char *end;
  long v = strtol(p + 1, &end, 10);
  return *end == '\0' ? v : -1;
}


unsigned
rep_cause_tags(const rep_record *rec)
{
  unsigned tags = 0;
  if (rec->prio_start != NULL && rec->prio_end != NULL &&
      strcmp(rec->prio_start, rec->prio_end) != 0) {
    tags |= 1u << 0;
  }
  if (rec->breach_policy != NULL && rec->policy != NULL &&
      strcmp(rec->breach_policy, rec->policy) != 0) {
    tags |= 1u << 1;
  }
  if (rec->exceptions != NULL) {
    tags |= 1u << 2;
  }
  if (rec->paused_ms > 0) {
    tags |= 1u << 3;
  }
  if (rec->wait_ms > 0) {
    tags |= 1u << 4;
  }
  if (rec->outside_ms > 0) {
    tags |= 1u << 5;
  }
  if (tags == 0) {
    tags = 1u << 6;
  }
  return tags;
}


void
rep_cause(const rep_record *rec, char *out, size_t len)
{
  char t[64], w[64];
  int64_t target = rec->breach_target_ms != REP_NONE ? rec->breach_target_ms
                                                     : rec->target_ms;
  size_t n = 0;
#define REP_ADD(...)                                                         \
  do {                                                                     \
    if (n < len) {                                                         \
      int k_ = snprintf(out + n, len - n, __VA_ARGS__);                    \
      n += k_ > 0 ? (size_t)k_ : 0;                                        \
    }                                                                      \
  } while (0)
  out[0] = '\0';
  if (target == REP_NONE) {
    REP_ADD("%s breached", rec->metric);
  } else {
    rep_words(target, t, sizeof(t));
    if (strcmp(rec->metric, "first_response") == 0) {
      REP_ADD("no agent reply within %s", t);
    } else if (strcmp(rec->metric, "next_response") == 0) {
      REP_ADD("no next agent reply within %s", t);
    } else if (strcmp(rec->metric, "periodic_update") == 0) {
      REP_ADD("no update within %s", t);
    } else if (strcmp(rec->metric, "resolution") == 0) {
      REP_ADD("not resolved within %s", t);
    } else {
      REP_ADD("%s not met within %s", rec->metric, t);
    }
    rep_words(rep_overrun(rec), w, sizeof(w));
    REP_ADD(" (over by %s)", w);
  }
  if (rec->outside_ms > 0) {
    rep_words(rec->outside_ms, w, sizeof(w));
    REP_ADD("; %s outside business hours", w);
  }
  if (rec->paused_ms > 0) {
    rep_words(rec->paused_ms, w, sizeof(w));
    REP_ADD("; paused %s", w);
  }
  if (rec->wait_ms > 0) {
    rep_words(rec->wait_ms, w, sizeof(w));
    REP_ADD("; %s waiting on the customer", w);
  }
  if (rec->prio_start != NULL && rec->prio_end != NULL &&
      strcmp(rec->prio_start, rec->prio_end) != 0) {
    long a = level_number(rec->prio_start), b = level_number(rec->prio_end);
    const char *how = a < 0 || b < 0 ? "changed" : b < a ? "raised" : "lowered";
    REP_ADD("; priority %s from %s to %s", how, rec->prio_start,
            rec->prio_end);
  }
  if (rec->breach_policy != NULL && rec->policy != NULL &&
      strcmp(rec->breach_policy, rec->policy) != 0) {
    REP_ADD("; breached under policy %s, ended under %s", rec->breach_policy,
            rec->policy);
  }
  if (rec->exceptions != NULL) {
    REP_ADD("; exception %s", rec->exceptions);
  }
#undef REP_ADD
}


/* --- Statistics ------------------------------------------------------------- */

int64_t
rep_overrun(const rep_record *rec)
{
  int64_t t = rec->breach_target_ms != REP_NONE ? rec->breach_target_ms
                                                : rec->target_ms;
  if (t == REP_NONE || rec->elapsed_ms <= t) {
    return 0;
  }
  return rec->elapsed_ms - t;
}


void
rep_stats_init(rep_stats *st)
{
  memset(st, 0, sizeof(*st));
  st->elapsed = g_array_new(FALSE, FALSE, sizeof(int64_t));
  st->overrun = g_array_new(FALSE, FALSE, sizeof(int64_t));
}


void
rep_stats_free(rep_stats *st)
{
  if (st->elapsed != NULL) {
    g_array_free(st->elapsed, TRUE);
  }
  if (st->overrun != NULL) {
    g_array_free(st->overrun, TRUE);
  }
  memset(st, 0, sizeof(*st));
}


void
rep_stats_add(rep_stats *st, const rep_record *rec)
{
  st->n[rec->outcome]++;
  st->count++;
  if (rec->outcome == REP_MET || rec->outcome == REP_BREACHED) {
    g_array_append_val(st->elapsed, rec->elapsed_ms);
  }
  if (rec->outcome == REP_BREACHED) {
    int64_t o = rep_overrun(rec);
    g_array_append_val(st->overrun, o);
  }
}


static gint
cmp_i64(gconstpointer a, gconstpointer b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}


int64_t
rep_nearest_rank(const GArray *sorted, int pct)
{
  if (sorted->len == 0) {
    return REP_NONE;
  }
  /* The smallest value with at least pct% of the values at or below it:
  ** rank ceil(pct * n / 100), 1-based. */
  uint64_t n = sorted->len;
  uint64_t rank = ((uint64_t)pct * n + 99) / 100;
  if (rank < 1) {
    rank = 1;
  }
  return g_array_index(sorted, int64_t, rank - 1);
}


void
rep_stats_finish(rep_stats *st)
{
  g_array_sort(st->elapsed, cmp_i64);
  g_array_sort(st->overrun, cmp_i64);
  for (int i = 0; i < REP_PCTS; i++) {
    st->pct[i] = rep_nearest_rank(st->elapsed, rep_pcts[i]);
  }
  st->overrun_median = rep_nearest_rank(st->overrun, 50);
  st->overrun_max = st->overrun->len == 0
                      ? REP_NONE
                      : g_array_index(st->overrun, int64_t,
                                      st->overrun->len - 1);
}


double
rep_compliance(const rep_stats *st)
{
  int64_t d = st->n[REP_MET] + st->n[REP_BREACHED];
  return d == 0 ? -1.0 : (double)st->n[REP_MET] / (double)d;
}


/* --- Periods and keys ----------------------------------------------------- */

const char *
rep_period(report *r, rep_key k, int64_t at_ms)
{
  int64_t sec = at_ms >= 0 ? at_ms / 1000 : -((-at_ms + 999) / 1000);
  GDateTime *u = g_date_time_new_from_unix_utc(sec);
  if (u == NULL) {
    return rep_intern(r, "?");
  }
  GDateTime *dt = g_date_time_to_timezone(u, r->tz);
  g_date_time_unref(u);
  if (dt == NULL) {
    return rep_intern(r, "?");
  }
  if (k == REP_KEY_WEEK) {
    GDateTime *mon = g_date_time_add_days(dt,
                                          1 - g_date_time_get_day_of_week(dt));
    g_date_time_unref(dt);
    dt = mon;
  }
  int y, m, d;
  g_date_time_get_ymd(dt, &y, &m, &d);
  g_date_time_unref(dt);
  char buf[32];
  if (k == REP_KEY_MONTH) {
    snprintf(buf, sizeof(buf), "%04d-%02d", y, m);
  } else {
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
  }
  return rep_intern(r, buf);
}


static int
is_open(const rep_record *rec)
{
  return rec->outcome == REP_ACTIVE || rec->outcome == REP_PAUSED;
}


const char *
rep_key_of(report *r, const rep_record *rec, rep_key k)
{
  switch (k) {
  case REP_KEY_METRIC: return rec->metric;
  case REP_KEY_PRIORITY: return rec->prio_start;
  case REP_KEY_CHANNEL: return rec->attr[REP_ATTR_CHANNEL];
  case REP_KEY_TIER: return rec->attr[REP_ATTR_TIER];
  case REP_KEY_QUEUE: return rec->attr[REP_ATTR_QUEUE];
  case REP_KEY_POLICY: return rec->policy;
  case REP_KEY_TYPE: return rec->attr[REP_ATTR_TYPE];
  case REP_KEY_CUSTOMER: return rec->attr[REP_ATTR_CUSTOMER];
  case REP_KEY_DAY:
  case REP_KEY_WEEK:
  case REP_KEY_MONTH:
    return rep_period(r, k, is_open(rec) ? rec->started : rec->stopped);
  default: return NULL;
  }
}


/* --- Reading records ---------------------------------------------------- */

typedef struct reader {
  report *r;
  const char *path;
  long line;
} reader;

static int
bad(reader *rd, const char *fmt, const char *what)
{
  fprintf(stderr, "promptly: %s: line %ld: ", rd->path, rd->line);
  fprintf(stderr, fmt, what);
  fputc('\n', stderr);
  return -1;
}


/* key's value in *v: 1 when it is there and not null; 0 when it is
** absent or null and not required; -1 (reported) when it is required. */
static int
present(reader *rd, json_t *o, const char *key, int required, json_t **v)
{
  *v = json_object_get(o, key);
  if (*v != NULL && !json_is_null(*v)) {
    return 1;
  }
  if (required) {
    return bad(rd, *v == NULL ? "\"%s\" is missing" : "\"%s\" is null",
               key);
  }
  return 0;
}


/* key: an integer (required: no null). */
static int
get_int(reader *rd, json_t *o, const char *key, int required, int64_t *out)
{
  json_t *v = NULL;
  int got = present(rd, o, key, required, &v);
  if (got <= 0) {
    *out = REP_NONE;
    return got;
  }
  if (!json_is_integer(v)) {
    return bad(rd, "\"%s\" is not an integer", key);
  }
  *out = (int64_t)json_integer_value(v);
  return 0;
}


static int
get_dur(reader *rd, json_t *o, const char *key, int required, int64_t *out)
{
  if (get_int(rd, o, key, required, out) != 0) {
    return -1;
  }
  if (*out != REP_NONE && *out < 0) {
    return bad(rd, "\"%s\" is negative", key);
  }
  /* Calendars answer for about 1100 years: more is no duration. */
  if (*out != REP_NONE && *out > REP_MAX_DURATION) {
    return bad(rd, "\"%s\" is out of range (over 1000 years)", key);
  }
  return 0;
}


static int
get_str(reader *rd, json_t *o, const char *key, int required,
        const char **out)
{
  json_t *v = NULL;
  int got = present(rd, o, key, required, &v);
  if (got <= 0) {
    *out = NULL;
    return got;
  }
  if (!json_is_string(v)) {
    return bad(rd, "\"%s\" is not a string", key);
  }
  *out = rep_intern(rd->r, json_string_value(v));
  return 0;
}


static int
get_instant(reader *rd, json_t *o, const char *key, int required,
            int64_t *out)
{
  json_t *v = NULL;
  int got = present(rd, o, key, required, &v);
  if (got <= 0) {
    *out = REP_NONE;
    return got;
  }
  if (!json_is_string(v) || cli_parse_iso(json_string_value(v), out) != 0) {
    return bad(rd, "\"%s\" is not an ISO 8601 instant", key);
  }
  return 0;
}


static int
parse_record(reader *rd, json_t *o, rep_record *rec)
{
  memset(rec, 0, sizeof(*rec));
  rec->line = rd->line;
  const char *outcome;
  int64_t stopped_present;
  if (!json_is_object(o)) {
    return bad(rd, "%s", "not a JSON object");
  }
  if (get_int(rd, o, "ticket", 1, &rec->ticket) ||
      get_str(rd, o, "metric", 1, &rec->metric) ||
      get_int(rd, o, "cycle", 1, &rec->cycle) ||
      get_str(rd, o, "policy", 0, &rec->policy) ||
      get_str(rd, o, "calendar", 0, &rec->calendar) ||
      get_str(rd, o, "priority_start", 0, &rec->prio_start) ||
      get_str(rd, o, "priority_end", 0, &rec->prio_end) ||
      get_dur(rd, o, "target_ms", 0, &rec->target_ms) ||
      get_instant(rd, o, "started", 1, &rec->started) ||
      get_instant(rd, o, "stopped", 0, &rec->stopped) ||
      get_instant(rd, o, "due", 0, &rec->due) ||
      get_str(rd, o, "outcome", 1, &outcome) ||
      get_instant(rd, o, "breached_at", 0, &rec->breached_at) ||
      get_str(rd, o, "breach_policy", 0, &rec->breach_policy) ||
      get_dur(rd, o, "breach_target_ms", 0, &rec->breach_target_ms) ||
      get_dur(rd, o, "elapsed_ms", 1, &rec->elapsed_ms) ||
      get_dur(rd, o, "paused_ms", 0, &rec->paused_ms) ||
      get_dur(rd, o, "customer_wait_ms", 0, &rec->wait_ms) ||
      get_dur(rd, o, "outside_ms", 0, &rec->outside_ms)) {
    return -1;
  }
  if (json_object_get(o, "stopped") == NULL) {
    return bad(rd, "%s", "\"stopped\" is missing (null while open)");
  }
  stopped_present = rec->stopped;
  if (rec->paused_ms == REP_NONE) {
    rec->paused_ms = 0;
  }
  if (rec->wait_ms == REP_NONE) {
    rec->wait_ms = 0;
  }
  if (rec->outside_ms == REP_NONE) {
    rec->outside_ms = 0;
  }
  if (rec->cycle < 1) {
    return bad(rd, "%s", "\"cycle\" must be 1 or more");
  }
  rec->outcome = -1;
  for (int i = 0; i < REP_OUTCOMES; i++) {
    if (strcmp(outcome, rep_outcome_names[i]) == 0) {
      rec->outcome = i;
    }
  }
  if (rec->outcome < 0) {
    return bad(rd,
               "outcome '%s' is not one of met, breached, cancelled, "
               "stopped, active, paused",
               outcome);
  }
  if (is_open(rec) && stopped_present != REP_NONE) {
    return bad(rd, "an %s cycle has a \"stopped\" instant", outcome);
  }
  if (!is_open(rec) && stopped_present == REP_NONE) {
    return bad(rd, "a %s cycle needs a \"stopped\" instant", outcome);
  }
  if (!is_open(rec) && rec->stopped < rec->started) {
    return bad(rd, "%s", "\"stopped\" is before \"started\"");
  }

  json_t *attrs = json_object_get(o, "attrs");
  if (attrs != NULL && !json_is_null(attrs)) {
    if (!json_is_object(attrs)) {
      return bad(rd, "%s", "\"attrs\" is not an object");
    }
    for (int i = 0; i < REP_ATTRS; i++) {
      json_t *v = json_object_get(attrs, rep_attr_names[i]);
      if (v == NULL || json_is_null(v)) {
        continue;
      }
      if (json_is_string(v)) {
        rec->attr[i] = rep_intern(rd->r, json_string_value(v));
      } else if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        rec->attr[i] = rep_intern(rd->r, buf);
      } else {
        return bad(rd, "attrs \"%s\" is not a string", rep_attr_names[i]);
      }
    }
  }

  json_t *ex = json_object_get(o, "exceptions");
  if (ex != NULL && !json_is_null(ex)) {
    if (!json_is_array(ex)) {
      return bad(rd, "%s", "\"exceptions\" is not an array");
    }
    GString *s = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(ex, i, e) {
      const char *name = json_string_value(json_object_get(e, "name"));
      const char *why = json_string_value(json_object_get(e, "reason"));
      if (!json_is_object(e) || name == NULL) {
        if (s != NULL) {
          g_string_free(s, TRUE);
        }
        return bad(rd, "%s",
                   "an exception is not {\"name\": ..., \"reason\": ...}");
      }
      if (s == NULL) {
        s = g_string_new(NULL);
      } else {
        g_string_append(s, "; ");
      }
      g_string_append(s, name);
      if (why != NULL && why[0] != '\0') {
        g_string_append_printf(s, " (%s)", why);
      }
    }
    if (s != NULL) {
      rec->exceptions = rep_intern(rd->r, s->str);
      g_string_free(s, TRUE);
    }
  }
  return 0;
}


static gint
cmp_rec_ptr_id(gconstpointer a, gconstpointer b)
{
  const rep_record *x = *(rep_record *const *)a;
  const rep_record *y = *(rep_record *const *)b;
  if (x->ticket != y->ticket) {
    return x->ticket < y->ticket ? -1 : 1;
  }
  int c = strcmp(x->metric, y->metric);
  if (c != 0) {
    return c;
  }
  if (x->cycle != y->cycle) {
    return x->cycle < y->cycle ? -1 : 1;
  }
  return (x->line > y->line) - (x->line < y->line);
}


/* A later record of the same ticket, metric and cycle supersedes an
** earlier one (a reopened ticket's resolution cycle ends again): keep the
** last of each, in file order. */
static void
drop_superseded(report *r)
{
  GArray *recs = r->records;
  GPtrArray *order = g_ptr_array_sized_new(recs->len);
  for (guint i = 0; i < recs->len; i++) {
    g_ptr_array_add(order, &g_array_index(recs, rep_record, i));
  }
  g_ptr_array_sort(order, cmp_rec_ptr_id);
  guint dropped = 0;
  for (guint i = 0; i + 1 < order->len; i++) {
    rep_record *x = g_ptr_array_index(order, i);
    const rep_record *y = g_ptr_array_index(order, i + 1);
    if (x->ticket == y->ticket && x->cycle == y->cycle &&
        strcmp(x->metric, y->metric) == 0) {
      x->line = -1;
      dropped++;
    }
  }
  g_ptr_array_free(order, TRUE);
  if (dropped == 0) {
    return;
  }
  guint k = 0;
  for (guint i = 0; i < recs->len; i++) {
    const rep_record *rec = &g_array_index(recs, rep_record, i);
    if (rec->line >= 0) {
      if (k != i) {
        g_array_index(recs, rep_record, k) = *rec;
      }
      k++;
    }
  }
  g_array_set_size(recs, k);
}


static int
read_records(report *r)
{
  reader rd = {r, r->records_path, 0};
  FILE *f = stdin;
  if (strcmp(r->records_path, "-") != 0) {
    f = fopen(r->records_path, "r");
    if (f == NULL) {
      fprintf(stderr, "promptly: %s: %s\n", r->records_path,
              strerror(errno));
      return -1;
    }
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    rd.line++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
      len--;
    }
    size_t k = 0;
    while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t')) {
      k++;
    }
    if (k == (size_t)len) {
      continue;
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
      bad(&rd, "not JSON: %s", jerr.text);
      rc = -1;
      break;
    }
    rep_record rec;
    int got = parse_record(&rd, o, &rec);
    json_decref(o);
    if (got != 0) {
      rc = -1;
      break;
    }
    g_array_append_val(r->records, rec);
  }
  if (rc == 0 && ferror(f)) {
    fprintf(stderr, "promptly: %s: read error\n", r->records_path);
    rc = -1;
  }
  free(line);
  if (f != stdin) {
    fclose(f);
  }
  if (rc == 0) {
    drop_superseded(r);
  }
  return rc;
}


/* --- Aggregation -------------------------------------------------------- */

int
rep_group_cmp(const report *r, const rep_group *x, const rep_group *y)
{
  for (int i = 0; i < r->nby; i++) {
    const char *p = x->key[i], *q = y->key[i];
    if (p == q) {
      continue;
    }
    if (p == NULL) {
      return 1;
    }
    if (q == NULL) {
      return -1;
    }
    int c = strcmp(p, q);
    if (c != 0) {
      return c;
    }
  }
  return 0;
}


static gint
cmp_group(gconstpointer a, gconstpointer b, gpointer ud)
{
  return rep_group_cmp(ud, *(rep_group *const *)a, *(rep_group *const *)b);
}


static int64_t
breach_time(const rep_record *rec)
{
  return rec->breached_at != REP_NONE ? rec->breached_at : rec->stopped;
}


static int
cmp_rec_id(const rep_record *x, const rep_record *y)
{
  if (x->ticket != y->ticket) {
    return x->ticket < y->ticket ? -1 : 1;
  }
  int c = strcmp(x->metric, y->metric);
  if (c != 0) {
    return c;
  }
  if (x->cycle != y->cycle) {
    return x->cycle < y->cycle ? -1 : 1;
  }
  return (x->line > y->line) - (x->line < y->line);
}


static gint
cmp_breach(gconstpointer a, gconstpointer b, gpointer ud)
{
  const rep_record *x = *(rep_record *const *)a;
  const rep_record *y = *(rep_record *const *)b;
  rep_sort s = *(const rep_sort *)ud;
  if (s == REP_SORT_OVERRUN) {
    int64_t p = rep_overrun(x), q = rep_overrun(y);
    if (p != q) {
      return p > q ? -1 : 1;
    }
  } else if (s == REP_SORT_TIME) {
    int64_t p = breach_time(x), q = breach_time(y);
    if (p != q) {
      return p < q ? -1 : 1;
    }
  }
  return cmp_rec_id(x, y);
}


static void
group_free(gpointer p)
{
  rep_group *g = p;
  rep_stats_free(&g->st);
  g_free(g);
}


static void
aggregate(report *r)
{
  GHashTable *by_key = g_hash_table_new_full(g_str_hash, g_str_equal,
                                             g_free, NULL);
  r->groups = g_ptr_array_new_with_free_func(group_free);
  r->breaches = g_ptr_array_new();
  rep_stats_init(&r->total);
  GString *k = g_string_new(NULL);
  for (guint i = 0; i < r->selected->len; i++) {
    rep_record *rec = g_ptr_array_index(r->selected, i);
    const char *key[REP_MAX_BY];
    g_string_truncate(k, 0);
    for (int j = 0; j < r->nby; j++) {
      key[j] = rep_key_of(r, rec, r->by[j]);
      /* Interned: the address tells the values apart; "\x1f" the keys. */
      g_string_append_printf(k, "%p\x1f", (const void *)key[j]);
    }
    rep_group *g = g_hash_table_lookup(by_key, k->str);
    if (g == NULL) {
      g = g_new0(rep_group, 1);
      memcpy(g->key, key, sizeof(key[0]) * (size_t)r->nby);
      rep_stats_init(&g->st);
      g_hash_table_insert(by_key, g_strdup(k->str), g);
      g_ptr_array_add(r->groups, g);
    }
    rep_stats_add(&g->st, rec);
    rep_stats_add(&r->total, rec);
    if (rec->outcome == REP_BREACHED) {
      g_ptr_array_add(r->breaches, rec);
    }
  }
  g_string_free(k, TRUE);
  g_hash_table_destroy(by_key);
  for (guint i = 0; i < r->groups->len; i++) {
    rep_stats_finish(&((rep_group *)g_ptr_array_index(r->groups, i))->st);
  }
  rep_stats_finish(&r->total);
  g_ptr_array_sort_with_data(r->groups, cmp_group, r);
  g_ptr_array_sort_with_data(r->breaches, cmp_breach, &r->sort);
}


/* --- Calibration ---------------------------------------------------------- */

/* Round a suggestion up to a step a person writes. */
static int64_t
round_human(int64_t ms)
{
  const int64_t min = 60 * 1000, hour = 60 * min;
  int64_t step = ms <= hour       ? 5 * min
                 : ms <= 4 * hour  ? 15 * min
                 : ms <= 12 * hour ? 30 * min
                 : ms <= 48 * hour ? hour
                 : ms <= 7 * DAY_MS ? 4 * hour
                                    : DAY_MS;
  if (ms <= 0) {
    return step;
  }
  return (ms + step - 1) / step * step;
}


typedef struct calib_acc {
  const char *metric, *priority, *policy;
  rep_stats st;
  GHashTable *targets;  /* target ms (boxed) -> count */
} calib_acc;


static gint
cmp_calib(gconstpointer a, gconstpointer b)
{
  const rep_calib *x = a, *y = b;
  const char *p[3] = {x->metric, x->priority, x->policy};
  const char *q[3] = {y->metric, y->priority, y->policy};
  for (int i = 0; i < 3; i++) {
    if (p[i] == q[i]) {
      continue;
    }
    if (p[i] == NULL) {
      return 1;
    }
    if (q[i] == NULL) {
      return -1;
    }
    int c = strcmp(p[i], q[i]);
    if (c != 0) {
      return c;
    }
  }
  return 0;
}


static void
calibrate(report *r)
{
  r->calib = g_array_new(FALSE, FALSE, sizeof(rep_calib));
  GHashTable *accs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
  GPtrArray *list = g_ptr_array_new();
  for (guint i = 0; i < r->selected->len; i++) {
    rep_record *rec = g_ptr_array_index(r->selected, i);
    if (rec->outcome != REP_MET && rec->outcome != REP_BREACHED) {
      continue;
    }
    char *k = g_strdup_printf("%p\x1f%p\x1f%p", (const void *)rec->metric,
                              (const void *)rec->prio_start,
                              (const void *)rec->policy);
    calib_acc *a = g_hash_table_lookup(accs, k);
    if (a == NULL) {
      a = g_new0(calib_acc, 1);
      a->metric = rec->metric;
      a->priority = rec->prio_start;
      a->policy = rec->policy;
      rep_stats_init(&a->st);
      a->targets = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                         g_free);
      g_hash_table_insert(accs, k, a);
      g_ptr_array_add(list, a);
    } else {
      g_free(k);
    }
    rep_stats_add(&a->st, rec);
    int64_t *cnt = g_hash_table_lookup(a->targets, &rec->target_ms);
    if (cnt == NULL) {
      int64_t *t = g_new(int64_t, 1);
      *t = rec->target_ms;
      cnt = g_new0(int64_t, 1);
      g_hash_table_insert(a->targets, t, cnt);
    }
    (*cnt)++;
  }
  for (guint i = 0; i < list->len; i++) {
    calib_acc *a = g_ptr_array_index(list, i);
    rep_stats_finish(&a->st);
    rep_calib c = {0};
    c.metric = a->metric;
    c.priority = a->priority;
    c.policy = a->policy;
    /* Today's target: the one most of the cycles ran on (ties: the
    ** shorter, "best effort" last). */
    GHashTableIter it;
    gpointer key, val;
    int64_t best = REP_NONE, best_n = -1;
    g_hash_table_iter_init(&it, a->targets);
    while (g_hash_table_iter_next(&it, &key, &val)) {
      int64_t t = *(int64_t *)key, n = *(int64_t *)val;
      int better = n > best_n ||
                   (n == best_n && t != REP_NONE &&
                    (best == REP_NONE || t < best));
      if (better) {
        best = t;
        best_n = n;
      }
    }
    c.target_ms = best;
    c.cycles = (int64_t)a->st.elapsed->len;
    c.compliance = rep_compliance(&a->st);
    c.p80 = rep_nearest_rank(a->st.elapsed, 80);
    int64_t raw = c.p80 + (int64_t)ceil((double)c.p80 * r->buffer / 100.0);
    c.suggested = round_human(raw);
    /* An answer at the due is met: a cycle meets the suggestion when its
    ** elapsed time is at or below it. */
    guint lo = 0, hi = a->st.elapsed->len;
    while (lo < hi) {
      guint mid = lo + (hi - lo) / 2;
      if (g_array_index(a->st.elapsed, int64_t, mid) <= c.suggested) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    c.suggested_compliance = (double)lo / (double)c.cycles;
    if (c.target_ms != REP_NONE) {
      if (c.compliance >= 0.95) {
        c.flag = "could tighten by 10-15%";
      } else if (c.compliance < 0.80) {
        c.flag = "unrealistic";
      }
    }
    g_array_append_val(r->calib, c);
    rep_stats_free(&a->st);
    g_hash_table_destroy(a->targets);
    g_free(a);
  }
  g_ptr_array_free(list, TRUE);
  g_hash_table_destroy(accs);
  g_array_sort(r->calib, cmp_calib);
}


/* --- Options -------------------------------------------------------------- */

static int
parse_by(report *r, const char *list)
{
  gchar **parts = g_strsplit(list, ",", -1);
  int rc = 0;
  r->nby = 0;
  for (int i = 0; parts[i] != NULL; i++) {
    const char *p = g_strstrip(parts[i]);
    int k = -1;
    for (int j = 0; j < REP_KEYS; j++) {
      if (strcmp(p, rep_key_names[j]) == 0) {
        k = j;
      }
    }
    if (k < 0) {
      fprintf(stderr,
              "promptly report: --by: unknown key '%s' (keys: metric, "
              "priority, channel, tier, queue, policy, type, customer, day, "
              "week, month)\n",
              p);
      rc = -1;
      break;
    }
    for (int j = 0; j < r->nby; j++) {
      if (r->by[j] == (rep_key)k) {
        fprintf(stderr, "promptly report: --by: '%s' given twice\n", p);
        rc = -1;
      }
    }
    if (rc != 0) {
      break;
    }
    if (r->nby == REP_MAX_BY) {
      fprintf(stderr, "promptly report: --by: at most %d keys\n",
              REP_MAX_BY);
      rc = -1;
      break;
    }
    r->by[r->nby++] = (rep_key)k;
  }
  g_strfreev(parts);
  if (rc == 0 && r->nby == 0) {
    fprintf(stderr, "promptly report: --by: no key given\n");
    rc = -1;
  }
  return rc;
}


/* An instant, or a date "YYYY-MM-DD" meaning its midnight in the zone. */
static int
parse_when(report *r, const char *opt, const char *s, int64_t *out)
{
  int y, m, d;
  char tail;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
      strlen(s) == 10) {
    GDateTime *dt = g_date_time_new(r->tz, y, m, d, 0, 0, 0);
    if (dt != NULL) {
      *out = (int64_t)g_date_time_to_unix(dt) * 1000;
      g_date_time_unref(dt);
      return 0;
    }
  } else if (cli_parse_iso(s, out) == 0) {
    return 0;
  }
  fprintf(stderr,
          "promptly report: %s '%s' is not a date (2026-11-01) or an "
          "ISO 8601 instant\n",
          opt, s);
  return -1;
}


static int
parse_pct(const char *opt, const char *s, double max, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end == '%') {
    end++;
  }
  if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > max) {
    fprintf(stderr, "promptly report: %s '%s' is not a percentage "
            "(0 to %g, e.g. 10%%)\n", opt, s, max);
    return -1;
  }
  *out = v;
  return 0;
}


/* The first midnight in the zone after at_ms. */
static int64_t
next_midnight(report *r, int64_t at_ms)
{
  GDateTime *u = g_date_time_new_from_unix_utc(at_ms / 1000);
  GDateTime *dt = g_date_time_to_timezone(u, r->tz);
  int y, m, d;
  g_date_time_get_ymd(dt, &y, &m, &d);
  GDateTime *mid = g_date_time_new(r->tz, y, m, d, 0, 0, 0);
  GDateTime *next = g_date_time_add_days(mid, 1);
  int64_t out = (int64_t)g_date_time_to_unix(next) * 1000;
  g_date_time_unref(next);
  g_date_time_unref(mid);
  g_date_time_unref(dt);
  g_date_time_unref(u);
  return out;
}


/* The same wall-clock time n days before at_ms, in the zone. */
static int64_t
days_before(report *r, int64_t at_ms, int n)
{
  GDateTime *u = g_date_time_new_from_unix_utc(at_ms / 1000);
  GDateTime *dt = g_date_time_to_timezone(u, r->tz);
  GDateTime *back = g_date_time_add_days(dt, -n);
  int64_t out = (int64_t)g_date_time_to_unix(back) * 1000 + at_ms % 1000;
  g_date_time_unref(back);
  g_date_time_unref(dt);
  g_date_time_unref(u);
  return out;
}


static void
report_usage(FILE *f)
{
  fputs("usage: promptly report --records FILE|- [--from WHEN] [--to WHEN]\n"
        "       promptly report --rules DIR --events FILE [--until ISO8601]\n"
        "         [--compare DIR2] [--from WHEN] [--to WHEN]\n"
        "         [--by KEY,...] [--tz ZONE] [--breaches] "
        "[--sort time|overrun|ticket]\n"
        "         [--calibrate] [--buffer PCT] [--goal PCT] "
        "[--contracts FILE]\n"
        "         [--format text|json|csv|html] [--label TEXT]\n"
        "  KEY: metric priority channel tier queue policy type customer\n"
        "       day week month\n",
        f);
}


static void
report_free(report *r)
{
  rep_contracts_free(r);
  if (r->credits != NULL) {
    g_ptr_array_free(r->credits, TRUE);
  }
  if (r->calib != NULL) {
    g_array_free(r->calib, TRUE);
  }
  if (r->breaches != NULL) {
    g_ptr_array_free(r->breaches, TRUE);
  }
  if (r->groups != NULL) {
    g_ptr_array_free(r->groups, TRUE);
  }
  rep_stats_free(&r->total);
  if (r->selected != NULL) {
    g_ptr_array_free(r->selected, TRUE);
  }
  if (r->records != NULL) {
    g_array_free(r->records, TRUE);
  }
  if (r->interned != NULL) {
    g_hash_table_destroy(r->interned);
  }
  if (r->pool != NULL) {
    g_string_chunk_free(r->pool);
  }
  if (r->tz != NULL) {
    g_time_zone_unref(r->tz);
  }
}


/* Read r's records, take the period (own_window: the calibration's 90
** days when asked), group and compute.  0, or -1 (message printed). */
static int
report_data(report *r, int own_window)
{
  if (read_records(r) != 0) {
    return -1;
  }
  /* Calibration follows the seed's advice: 90 days of history, unless
  ** --from says otherwise. */
  if (own_window && r->calibrate && r->from == REP_NONE) {
    int64_t end = r->to;
    if (end == REP_NONE) {
      /* The midnight (in the zone) after the last cycle's end. */
      int64_t last = REP_NONE;
      for (guint i = 0; i < r->records->len; i++) {
        const rep_record *rec = &g_array_index(r->records, rep_record, i);
        if (rec->stopped != REP_NONE && (last == REP_NONE ||
                                          rec->stopped > last)) {
          last = rec->stopped;
        }
      }
      if (last != REP_NONE) {
        end = next_midnight(r, last);
      }
    }
    if (end != REP_NONE) {
      r->from = days_before(r, end, 90);
    }
  }

  r->selected = g_ptr_array_new();
  for (guint i = 0; i < r->records->len; i++) {
    rep_record *rec = &g_array_index(r->records, rep_record, i);
    int in;
    if (is_open(rec)) {
      in = r->to == REP_NONE || rec->started < r->to;
    } else {
      in = (r->from == REP_NONE || rec->stopped >= r->from) &&
           (r->to == REP_NONE || rec->stopped < r->to);
    }
    if (in) {
      g_ptr_array_add(r->selected, rec);
    }
  }
  aggregate(r);
  if (r->calibrate) {
    calibrate(r);
  }
  if (r->contracts != NULL && rep_credits_compute(r) != 0) {
    return -1;
  }
  return 0;
}


static void
report_init_data(report *r)
{
  r->pool = g_string_chunk_new(64 * 1024);
  r->interned = g_hash_table_new(g_str_hash, g_str_equal);
  r->records = g_array_new(FALSE, FALSE, sizeof(rep_record));
}


/* A second report with a's options and period, no data yet. */
static void
report_init_like(report *b, const report *a)
{
  memset(b, 0, sizeof(*b));
  b->from = a->from;
  b->to = a->to;
  memcpy(b->by, a->by, sizeof(b->by));
  b->nby = a->nby;
  b->tz = g_time_zone_ref(a->tz);
  b->tz_name = a->tz_name;
  b->format = a->format;
  b->sort = a->sort;
  b->buffer = a->buffer;
  b->goal = a->goal;
  report_init_data(b);
}


int
cli_report(int argc, char **argv)
{
  report rs;
  report *r = &rs;
  memset(r, 0, sizeof(*r));
  r->from = r->to = REP_NONE;
  r->buffer = 10;
  r->goal = 95;
  r->sort = REP_SORT_TIME;
  const char *from = NULL, *to = NULL, *by = "metric", *tz = "UTC";
  const char *format = "text", *sort = NULL, *buffer = NULL, *goal = NULL;
  const char *rules = NULL, *events = NULL, *compare = NULL, *until = NULL;
  const char *label = NULL;
  int rc = CLI_EXIT_INPUT;
  char *tmpdir = NULL, *path_a = NULL, *path_b = NULL;
  char *source_a = NULL, *source_b = NULL;
  report rb;
  int b_used = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int got;
    if ((got = cli_opt_value(argc, argv, &i, "--records",
                             &r->records_path)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--from", &from)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--to", &to)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--by", &by)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--tz", &tz)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--format", &format)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--sort", &sort)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--buffer", &buffer)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--goal", &goal)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--contracts",
                             &r->contracts_path)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--rules", &rules)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--events", &events)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--compare", &compare)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--until", &until)) != 0 ||
        (got = cli_opt_value(argc, argv, &i, "--label", &label)) != 0) {
      if (got < 0) {
        return CLI_EXIT_INPUT;
      }
      continue;
    }
    if (strcmp(a, "--breaches") == 0) {
      r->want_breaches = 1;
    } else if (strcmp(a, "--calibrate") == 0) {
      r->calibrate = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      report_usage(stdout);
      return CLI_EXIT_OK;
    } else {
      fprintf(stderr, "promptly report: unexpected argument '%s'\n", a);
      report_usage(stderr);
      return CLI_EXIT_INPUT;
    }
  }
  if (r->records_path != NULL && (rules != NULL || events != NULL)) {
    fprintf(stderr, "promptly report: give --records FILE, or --rules DIR "
            "with --events FILE, not both\n");
    return CLI_EXIT_INPUT;
  }
  if ((rules != NULL) != (events != NULL)) {
    fprintf(stderr, "promptly report: --rules DIR and --events FILE go "
            "together\n");
    return CLI_EXIT_INPUT;
  }
  if (until != NULL && rules == NULL) {
    fprintf(stderr, "promptly report: --until is for a replay (--rules DIR "
            "--events FILE)\n");
    return CLI_EXIT_INPUT;
  }
  if (compare != NULL && rules == NULL) {
    fprintf(stderr, "promptly report: --compare DIR2 needs --rules DIR and "
            "--events FILE\n");
    return CLI_EXIT_INPUT;
  }
  if (compare != NULL &&
      (r->want_breaches || r->calibrate || r->contracts_path != NULL)) {
    fprintf(stderr, "promptly report: --compare shows the groups side by "
            "side and the flips; --breaches, --calibrate and --contracts go "
            "without it\n");
    return CLI_EXIT_INPUT;
  }
  if (r->records_path == NULL && rules == NULL) {
    fprintf(stderr, "promptly report: --records FILE (or --rules DIR "
            "--events FILE) is required\n");
    report_usage(stderr);
    return CLI_EXIT_INPUT;
  }
  r->source = label != NULL ? label : r->records_path;

  report_init_data(r);
  r->tz_name = tz;
  r->tz = g_time_zone_new_identifier(tz);
  if (r->tz == NULL) {
    fprintf(stderr, "promptly report: --tz: unknown time zone '%s'\n", tz);
    goto out;
  }
  if (strcmp(format, "text") == 0) {
    r->format = REP_FMT_TEXT;
  } else if (strcmp(format, "json") == 0) {
    r->format = REP_FMT_JSON;
  } else if (strcmp(format, "csv") == 0) {
    r->format = REP_FMT_CSV;
  } else if (strcmp(format, "html") == 0) {
    r->format = REP_FMT_HTML;
  } else {
    fprintf(stderr, "promptly report: --format '%s' is not text, json, csv "
            "or html\n", format);
    goto out;
  }
  if (sort != NULL) {
    if (strcmp(sort, "time") == 0) {
      r->sort = REP_SORT_TIME;
    } else if (strcmp(sort, "overrun") == 0) {
      r->sort = REP_SORT_OVERRUN;
    } else if (strcmp(sort, "ticket") == 0) {
      r->sort = REP_SORT_TICKET;
    } else {
      fprintf(stderr, "promptly report: --sort '%s' is not time, overrun or "
              "ticket\n", sort);
      goto out;
    }
  }
  if ((buffer != NULL && parse_pct("--buffer", buffer, 1000, &r->buffer)) ||
      (goal != NULL && parse_pct("--goal", goal, 100, &r->goal)) ||
      parse_by(r, by) != 0 ||
      (from != NULL && parse_when(r, "--from", from, &r->from) != 0) ||
      (to != NULL && parse_when(r, "--to", to, &r->to) != 0)) {
    goto out;
  }
  if (r->from != REP_NONE && r->to != REP_NONE && r->to <= r->from) {
    fprintf(stderr, "promptly report: --to must be after --from\n");
    goto out;
  }
  if (r->contracts_path != NULL &&
      rep_contracts_load(r, r->contracts_path) != 0) {
    goto out;
  }
  if (rules != NULL) {
    tmpdir = g_dir_make_tmp("promptly-report-XXXXXX", NULL);
    if (tmpdir == NULL) {
      fprintf(stderr, "promptly report: cannot make a temporary folder\n");
      rc = CLI_EXIT_FAIL;
      goto out;
    }
    path_a = g_build_filename(tmpdir, "a.jsonl", NULL);
    path_b = g_build_filename(tmpdir, "b.jsonl", NULL);
    source_a = g_strdup_printf("rules %s", rules);
    if ((rc = rep_replay(rules, events, until, path_a)) != CLI_EXIT_OK) {
      goto out;
    }
    rc = CLI_EXIT_INPUT;
    r->records_path = path_a;
    r->source = label != NULL ? label : source_a;
  }
  if (report_data(r, 1) != 0) {
    goto out;
  }
  if (compare != NULL) {
    if ((rc = rep_replay(compare, events, until, path_b)) != CLI_EXIT_OK) {
      goto out;
    }
    rc = CLI_EXIT_INPUT;
    b_used = 1;
    report_init_like(&rb, r);
    source_b = g_strdup_printf("rules %s", compare);
    rb.records_path = path_b;
    rb.source = source_b;
    if (report_data(&rb, 0) != 0) {
      goto out;
    }
    GPtrArray *flips = rep_flips(r, &rb);
    int wrc = rep_output_compare(r, &rb, flips, stdout);
    g_ptr_array_free(flips, TRUE);
    if (wrc != 0 || fflush(stdout) != 0) {
      fprintf(stderr, "promptly: stdout: write error\n");
      rc = CLI_EXIT_FAIL;
      goto out;
    }
  } else if (rep_output(r, stdout) != 0 || fflush(stdout) != 0) {
    fprintf(stderr, "promptly: stdout: write error\n");
    rc = CLI_EXIT_FAIL;
    goto out;
  }
  rc = CLI_EXIT_OK;
out:
  report_free(r);
  if (b_used) {
    report_free(&rb);
  }
  if (tmpdir != NULL) {
    unlink(path_a);
    unlink(path_b);
    rmdir(tmpdir);
  }
  g_free(path_a);
  g_free(path_b);
  g_free(source_a);
  g_free(source_b);
  g_free(tmpdir);
  return rc;
}
