/* tune.c - "promptly tune --rules DIR --events FILE [--compare DIR2]":
** how the priority rules agree with what agents did afterwards.
**
** Every manual priority change is an agent saying what the ticket should
** have been.  The history's create and priority events are replayed on
** an instance of the rules (virtual time, like run): the module's trace
** names the level and the rule each ticket got at creation ("priority P1
** by FILE:LINE") and each priority an agent set ("priority set to P2 by an
** agent", the level as the rules know it, whatever case or name the agent
** used).  A ticket's agent level is the last one an agent set; a ticket no
** agent changed has the level they kept: the one the (first) rules gave.  The levels and their order come from
** promptly_why ("levels: ...").
**
** Printed: the confusion table (rules' level by agents' level), precision
** and recall of each rule, and the words most common in tickets agents
** raised and lowered: words are maximal runs of letters, digits, marks
** and '_' of the subject and the body, folded like the matcher folds
** keywords (NFKC, Unicode case folding, NFC), counted once a ticket; words
** of one character and numbers are left out.  --compare replays the same
** history on a second folder and prints its table and what changes.
** Bad input (a line that is no event, instants out of order) is reported
** as FILE:LINE and nothing is printed: exit 2. */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#define TUNE_MAX_LEVELS 32
#define TUNE_EXAMPLES 2

typedef struct tune_event {
  promptly_event ev;
  promptly_attr *attrs;
  json_t *root;
  char source[64];
} tune_event;

/* What one replay found about a ticket. */
typedef struct tune_verdict {
  int rules;    /* level index at creation, -1 none */
  char *rule;   /* "FILE:LINE" or "default" */
  int agent;    /* last level an agent set, -1 none */
} tune_verdict;

typedef struct tune_ticket {
  int64_t id;
  const char *subject;
  const char *body;
  tune_verdict v[2];  /* --rules, --compare */
} tune_ticket;

typedef struct tune_ctx {
  cli_module m;
  tune_ticket *tickets;
  size_t n_tickets, cap_tickets;
  GHashTable *by_id;      /* int64 id -> index + 1 */
  char *levels[TUNE_MAX_LEVELS];
  size_t n_levels;
  int run;                /* 0: --rules, 1: --compare */
  int oom;
} tune_ctx;


/* --- Reading the history -------------------------------------------------- */

static int
attrs_of(json_t *attrs, tune_event *e, char *why, size_t len)
{
  if (!json_is_object(attrs)) {
    snprintf(why, len, "attrs: must be an object");
    return -1;
  }
  size_t n = json_object_size(attrs);
  e->attrs = calloc(n ? n : 1, sizeof(*e->attrs));
  if (e->attrs == NULL) {
    snprintf(why, len, "out of memory");
    return -1;
  }
  uint32_t i = 0;
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(attrs, tmp, k, v) {
    if (json_is_integer(v) || json_is_boolean(v)) {
      char text[32];
      if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
      } else {
        snprintf(text, sizeof(text), "%s", json_is_true(v) ? "true" : "false");
      }
      if (json_object_set_new(attrs, k, json_string(text)) != 0) {
        snprintf(why, len, "out of memory");
        return -1;
      }
      v = json_object_get(attrs, k);
    }
    if (!json_is_string(v)) {
      snprintf(why, len, "attrs.%s: must be a string", k);
      return -1;
    }
    e->attrs[i].name = k;
    e->attrs[i].value = json_string_value(v);
    i++;
  }
  e->ev.attrs = e->attrs;
  e->ev.n_attrs = i;
  return 0;
}


static int
parse_line(tune_ctx *c, const char *line, tune_event *e, char *why,
           size_t len)
{
  json_error_t jerr;
  e->root = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
  if (e->root == NULL) {
    snprintf(why, len, "malformed JSON at column %d: %s", jerr.column,
             jerr.text);
    return -1;
  }
  if (!json_is_object(e->root)) {
    snprintf(why, len, "not a JSON object");
    return -1;
  }
  json_t *t = json_object_get(e->root, "type");
  json_t *id = json_object_get(e->root, "ticket");
  json_t *at = json_object_get(e->root, "at");
  if (!json_is_string(t) || c->m.event_type(json_string_value(t)) < 0) {
    snprintf(why, len, "type: missing or not an event type");
    return -1;
  }
  if (!json_is_integer(id) || json_integer_value(id) <= 0) {
    snprintf(why, len, "ticket: must be a positive integer");
    return -1;
  }
  if (!json_is_string(at) ||
      cli_parse_iso(json_string_value(at), &e->ev.at_ms) != 0 ||
      e->ev.at_ms <= 0) {
    snprintf(why, len, "at: an ISO 8601 instant is required here");
    return -1;
  }
  e->ev.struct_size = sizeof(e->ev);
  e->ev.type = c->m.event_type(json_string_value(t));
  e->ev.ticket = (int64_t)json_integer_value(id);
  json_t *attrs = json_object_get(e->root, "attrs");
  if (attrs != NULL) {
    return attrs_of(attrs, e, why, len);
  }
  return 0;
}


static void
events_free(tune_event *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    json_decref(v[i].root);
    free(v[i].attrs);
  }
  free(v);
}


static const char *
attr(const tune_event *e, const char *name)
{
  for (uint32_t i = 0; i < e->ev.n_attrs; i++) {
    if (strcmp(e->attrs[i].name, name) == 0) {
      return e->attrs[i].value;
    }
  }
  return NULL;
}


/* The create and priority events of the file, in order; the others do
** not bear on priorities.  -1 after a message FILE:LINE on stderr. */
static int
read_history(tune_ctx *c, const char *path, tune_event **out, size_t *n)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "promptly tune: %s: cannot open\n", path);
    return -1;
  }
  tune_event *v = NULL;
  size_t cap = 0;
  *n = 0;
  char *line = NULL;
  size_t lcap = 0;
  long lineno = 0;
  int64_t last = 0;
  int rc = 0;
  while (getline(&line, &lcap, f) >= 0) {
    lineno++;
    const char *p = line + strspn(line, " \t\r\n");
    if (*p == '\0' || *p == '#') {
      continue;
    }
    tune_event e;
    memset(&e, 0, sizeof(e));
    char why[256];
    if (parse_line(c, line, &e, why, sizeof(why)) != 0) {
      fprintf(stderr, "promptly tune: %s:%ld: %s\n", path, lineno, why);
      json_decref(e.root);
      free(e.attrs);
      rc = -1;
      break;
    }
    if (e.ev.at_ms < last) {
      fprintf(stderr, "promptly tune: %s:%ld: at: before the event before "
              "it (the history must be in time order)\n", path, lineno);
      json_decref(e.root);
      free(e.attrs);
      rc = -1;
      break;
    }
    last = e.ev.at_ms;
    if (e.ev.type != PROMPTLY_EV_CREATE && e.ev.type != PROMPTLY_EV_PRIORITY) {
      json_decref(e.root);
      free(e.attrs);
      continue;
    }
    snprintf(e.source, sizeof(e.source), "%s:%ld", path, lineno);
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      tune_event *nv = realloc(v, cap * sizeof(*nv));
      if (nv == NULL) {
        fprintf(stderr, "promptly: out of memory\n");
        json_decref(e.root);
        free(e.attrs);
        rc = -1;
        break;
      }
      v = nv;
    }
    v[(*n)++] = e;
  }
  free(line);
  if (f != stdin) {
    fclose(f);
  }
  if (rc != 0) {
    events_free(v, *n);
    *n = 0;
    return -1;
  }
  for (size_t i = 0; i < *n; i++) {
    v[i].ev.source = v[i].source;  /* now that v no longer moves */
  }
  *out = v;
  return 0;
}


/* --- Replaying ------------------------------------------------------------ */

static int
level_index(const tune_ctx *c, const char *id)
{
  for (size_t i = 0; i < c->n_levels; i++) {
    if (strcmp(c->levels[i], id) == 0) {
      return (int)i;
    }
  }
  return -1;
}


static tune_ticket *
ticket_of(tune_ctx *c, int64_t id)
{
  gpointer v = g_hash_table_lookup(c->by_id, &id);
  return v != NULL ? &c->tickets[GPOINTER_TO_SIZE(v) - 1] : NULL;
}


static void
on_tune_trace(void *ud, int64_t ticket, int64_t at_ms, const char *line)
{
  tune_ctx *c = ud;
  (void)at_ms;
  if (ticket == 0) {
    /* promptly_why: "levels: P1, P2, P3, P4 (default P3)" */
    if (strncmp(line, "levels: ", 8) == 0 && c->n_levels == 0) {
      const char *p = line + 8;
      while (*p != '\0' && *p != '(' && c->n_levels < TUNE_MAX_LEVELS) {
        size_t k = strcspn(p, ", (");
        c->levels[c->n_levels++] = g_strndup(p, k);
        p += k;
        p += strspn(p, ", ");
      }
    }
    return;
  }
  tune_ticket *t = ticket_of(c, ticket);
  if (t == NULL) {
    return;
  }
  tune_verdict *v = &t->v[c->run];
  char id[64];
  if (sscanf(line, "priority set to %63s by an agent", id) == 1) {
    v->agent = level_index(c, id);
  } else if (strncmp(line, "priority ", 9) == 0 && v->rule == NULL &&
             sscanf(line, "priority %63s by ", id) == 1) {
    const char *by = strstr(line, " by ");
    v->rules = level_index(c, id);
    v->rule = g_strdup(strncmp(by + 4, "the default", 11) == 0 ? "default"
                                                               : by + 4);
  }
}


static void
on_tune_log(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  if (level <= PROMPTLY_LOG_WARN) {
    cli_print_log(level, msg);
  }
}


static int32_t
on_tune_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
              uint32_t n)
{
  (void)ud, (void)ticket, (void)at_ms, (void)f, (void)n;
  return 0;
}


static int32_t
on_tune_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
               const promptly_attr *args, uint32_t n, const char *key)
{
  (void)ud, (void)ticket, (void)at_ms, (void)action, (void)args, (void)n;
  (void)key;
  return 0;
}


static void
host_init(tune_ctx *c, promptly_host *h)
{
  memset(h, 0, sizeof(*h));
  h->struct_size = sizeof(*h);
  h->abi_version = PROMPTLY_ABI_VERSION;
  h->user_data = c;
  h->log = on_tune_log;
  h->write_fields = on_tune_write;
  h->do_action = on_tune_action;
  h->trace = on_tune_trace;
}


/* Replay the history on dir into tickets[].v[run].  -1 on failure. */
static int
replay(tune_ctx *c, const char *dir, const tune_event *ev, size_t n)
{
  promptly_host h;
  host_init(c, &h);
  char err[1024] = "";
  promptly *p = NULL;
  if (c->m.open(&h, dir, &p, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "promptly: %s\n", err);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (c->m.submit(p, &ev[i].ev, err, sizeof(err)) != PROMPTLY_OK) {
      fprintf(stderr, "promptly tune: %s: %s\n", ev[i].source, err);
      continue;
    }
    c->m.advance(p, ev[i].ev.at_ms);
  }
  c->m.close(p);
  return c->oom ? -1 : 0;
}


/* --- Words ---------------------------------------------------------------- */

typedef struct word_stat {
  unsigned in_dir;       /* tickets of the direction with the word */
  unsigned in_all;       /* all tickets with it */
  const char *examples[TUNE_EXAMPLES];
} word_stat;


/* Call fn for each distinct folded word of s (into seen). */
static void
words_of(const char *s, GHashTable *seen)
{
  if (s == NULL) {
    return;
  }
  char *valid = g_utf8_make_valid(s, -1);
  const char *p = valid;
  while (*p != '\0') {
    gunichar ch = g_utf8_get_char(p);
    if (!(g_unichar_isalnum(ch) || g_unichar_ismark(ch) || ch == '_')) {
      p = g_utf8_next_char(p);
      continue;
    }
    const char *start = p;
    size_t chars = 0;
    int digits = 1;
    while (*p != '\0') {
      ch = g_utf8_get_char(p);
      if (!(g_unichar_isalnum(ch) || g_unichar_ismark(ch) || ch == '_')) {
        break;
      }
      digits &= g_unichar_isdigit(ch);
      chars++;
      p = g_utf8_next_char(p);
    }
    if (chars < 2 || digits) {
      continue;
    }
    char *compat = g_utf8_normalize(start, p - start, G_NORMALIZE_ALL);
    char *folded = compat ? g_utf8_casefold(compat, -1) : NULL;
    char *nfc = folded ? g_utf8_normalize(folded, -1,
                                          G_NORMALIZE_DEFAULT_COMPOSE)
                       : NULL;
    g_free(compat);
    g_free(folded);
    if (nfc != NULL) {
      g_hash_table_add(seen, nfc);  /* frees a duplicate key */
    }
  }
  g_free(valid);
}


static GHashTable *
ticket_words(const tune_ticket *t)
{
  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
  words_of(t->subject, seen);
  words_of(t->body, seen);
  return seen;
}


typedef struct ranked {
  const char *word;
  const word_stat *s;
} ranked;

static int
cmp_ranked(const void *a, const void *b)
{
  const ranked *x = a, *y = b;
  if (x->s->in_dir != y->s->in_dir) {
    return x->s->in_dir > y->s->in_dir ? -1 : 1;
  }
  unsigned ox = x->s->in_all - x->s->in_dir, oy = y->s->in_all - y->s->in_dir;
  if (ox != oy) {
    return ox < oy ? -1 : 1;
  }
  return strcmp(x->word, y->word);
}


/* dir > 0: tickets agents raised (made more urgent); < 0: lowered. */
static void
print_words(const tune_ctx *c, int run, int dir, size_t top)
{
  GHashTable *stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            g_free);
  size_t n_dir = 0;
  for (size_t i = 0; i < c->n_tickets; i++) {
    const tune_ticket *t = &c->tickets[i];
    const tune_verdict *v = &t->v[run];
    if (v->rules < 0) {
      continue;
    }
    int in = v->agent >= 0 && (dir > 0 ? v->agent < v->rules
                                       : v->agent > v->rules);
    n_dir += (size_t)in;
    GHashTable *seen = ticket_words(t);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, seen);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
      word_stat *s = g_hash_table_lookup(stats, key);
      if (s == NULL) {
        s = g_new0(word_stat, 1);
        g_hash_table_insert(stats, g_strdup(key), s);
      }
      s->in_all++;
      if (in) {
        if (s->in_dir < TUNE_EXAMPLES) {
          s->examples[s->in_dir] = t->subject ? t->subject : "";
        }
        s->in_dir++;
      }
    }
    g_hash_table_destroy(seen);
  }
  printf("words in tickets agents %s (%zu ticket%s):\n",
         dir > 0 ? "raised" : "lowered", n_dir, n_dir == 1 ? "" : "s");
  size_t n = 0;
  ranked *r = g_new0(ranked, g_hash_table_size(stats) + 1);
  GHashTableIter it;
  gpointer key, val;
  g_hash_table_iter_init(&it, stats);
  while (g_hash_table_iter_next(&it, &key, &val)) {
    if (((word_stat *)val)->in_dir > 0) {
      r[n].word = key;
      r[n].s = val;
      n++;
    }
  }
  qsort(r, n, sizeof(*r), cmp_ranked);
  for (size_t i = 0; i < n && i < top; i++) {
    printf("  '%s': %u %s, %u other%s; e.g. \"%s\"", r[i].word,
           r[i].s->in_dir, dir > 0 ? "raised" : "lowered",
           r[i].s->in_all - r[i].s->in_dir,
           r[i].s->in_all - r[i].s->in_dir == 1 ? "" : "s",
           r[i].s->examples[0]);
    if (r[i].s->in_dir > 1) {
      printf(", \"%s\"", r[i].s->examples[1]);
    }
    printf("\n");
  }
  g_free(r);
  g_hash_table_destroy(stats);
}


/* --- Tables --------------------------------------------------------------- */

/* The agents' level of a ticket in a replay: the last one they set, else
** the level they saw and kept, which is what the first folder's rules
** gave it (also when --compare's rules would give another). */
static int
agent_level(const tune_ticket *t, int run)
{
  return t->v[run].agent >= 0 ? t->v[run].agent : t->v[0].rules;
}


static void
ratio(size_t a, size_t b, char *out, size_t len)
{
  if (b == 0) {
    snprintf(out, len, "-");
  } else {
    snprintf(out, len, "%zu/%zu (%.1f%%)", a, b, 100.0 * (double)a / (double)b);
  }
}


/* "10-a.lua:9" before "10-a.lua:10", files by name, "default" last. */
static int
cmp_rule(const void *a, const void *b)
{
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  int dx = strcmp(x, "default") == 0, dy = strcmp(y, "default") == 0;
  if (dx || dy) {
    return dx - dy;
  }
  const char *cx = strrchr(x, ':'), *cy = strrchr(y, ':');
  size_t lx = cx ? (size_t)(cx - x) : strlen(x);
  size_t ly = cy ? (size_t)(cy - y) : strlen(y);
  int f = strncmp(x, y, lx < ly ? lx : ly);
  if (f != 0 || lx != ly) {
    return f != 0 ? f : (lx < ly ? -1 : 1);
  }
  long nx = cx ? strtol(cx + 1, NULL, 10) : 0;
  long ny = cy ? strtol(cy + 1, NULL, 10) : 0;
  return nx < ny ? -1 : nx > ny;
}


/* The confusion table, agreement and per-rule figures of one replay;
** the number of tickets that agree. */
static size_t
print_tables(const tune_ctx *c, int run, const char *dir)
{
  size_t table[TUNE_MAX_LEVELS][TUNE_MAX_LEVELS];
  memset(table, 0, sizeof(table));
  size_t total = 0, agree = 0, changed = 0, raised = 0, lowered = 0;
  size_t agents_at[TUNE_MAX_LEVELS];
  memset(agents_at, 0, sizeof(agents_at));
  for (size_t i = 0; i < c->n_tickets; i++) {
    const tune_verdict *v = &c->tickets[i].v[run];
    if (v->rules < 0 || c->tickets[i].v[0].rules < 0) {
      continue;
    }
    int a = agent_level(&c->tickets[i], run);
    table[v->rules][a]++;
    agents_at[a]++;
    total++;
    agree += (size_t)(a == v->rules);
    changed += (size_t)(v->agent >= 0);
    raised += (size_t)(a < v->rules);
    lowered += (size_t)(a > v->rules);
  }
  printf("rules %s: %zu tickets created, %zu changed by agents\n", dir, total,
         changed);
  printf("confusion (rows: the rules' level at creation; columns: the "
         "agents' last manual level, or the rules' if they kept it):\n");
  printf("  %-8s", "rules");
  for (size_t j = 0; j < c->n_levels; j++) {
    printf(" %6s", c->levels[j]);
  }
  printf("\n");
  for (size_t i = 0; i < c->n_levels; i++) {
    printf("  %-8s", c->levels[i]);
    for (size_t j = 0; j < c->n_levels; j++) {
      printf(" %6zu", table[i][j]);
    }
    printf("\n");
  }
  char r[64];
  ratio(agree, total, r, sizeof(r));
  printf("agreement: %s; agents raised %zu, lowered %zu\n", r, raised,
         lowered);

  /* Per rule: precision = its tickets the agents left at its level;
  ** recall = of the tickets agents put at its level, the share it chose. */
  const char **rules = g_new0(const char *, c->n_tickets + 1);
  size_t n_rules = 0;
  for (size_t i = 0; i < c->n_tickets; i++) {
    const tune_verdict *v = &c->tickets[i].v[run];
    int seen = v->rule == NULL;
    for (size_t k = 0; !seen && k < n_rules; k++) {
      seen = strcmp(rules[k], v->rule) == 0;
    }
    if (!seen) {
      rules[n_rules++] = v->rule;
    }
  }
  qsort(rules, n_rules, sizeof(*rules), cmp_rule);
  printf("rules (precision: its tickets agents left at its level; recall: "
         "of the tickets agents put at that level, the share it chose):\n");
  for (size_t k = 0; k < n_rules; k++) {
    size_t mine = 0, right = 0;
    int level = -1;
    for (size_t i = 0; i < c->n_tickets; i++) {
      const tune_verdict *v = &c->tickets[i].v[run];
      if (v->rule != NULL && strcmp(v->rule, rules[k]) == 0) {
        level = v->rules;
        mine++;
        right += (size_t)(agent_level(&c->tickets[i], run) == v->rules);
      }
    }
    char p[64], rc[64];
    ratio(right, mine, p, sizeof(p));
    ratio(right, level >= 0 ? agents_at[level] : 0, rc, sizeof(rc));
    printf("  %s (%s): %zu ticket%s, precision %s, recall %s\n", rules[k],
           level >= 0 ? c->levels[level] : "?", mine, mine == 1 ? "" : "s", p,
           rc);
  }
  g_free(rules);
  return agree;
}


/* --- The command ---------------------------------------------------------- */

static void
tune_usage(FILE *f)
{
  fputs("usage: promptly tune --rules DIR --events FILE|- [--compare DIR2] "
        "[--top N]\n",
        f);
}


static int
levels_of(tune_ctx *c, const char *dir)
{
  promptly_host h;
  host_init(c, &h);
  char err[1024] = "";
  if (c->m.why(&h, dir, NULL, 0, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "promptly: %s\n", err);
    return -1;
  }
  return c->n_levels > 0 ? 0 : -1;
}


int
cli_tune(int argc, char **argv)
{
  const char *module = NULL, *rules = NULL, *events = NULL, *compare = NULL;
  const char *top_text = NULL;
  for (int i = 1; i < argc; i++) {
    int got = cli_opt_value(argc, argv, &i, "--module", &module);
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--rules", &rules);
    }
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--events", &events);
    }
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--compare", &compare);
    }
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--top", &top_text);
    }
    if (got < 0) {
      return CLI_EXIT_INPUT;
    }
    if (got == 0) {
      if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        tune_usage(stdout);
        return CLI_EXIT_OK;
      }
      fprintf(stderr, "promptly tune: unexpected argument '%s'\n", argv[i]);
      tune_usage(stderr);
      return CLI_EXIT_INPUT;
    }
  }
  if (rules == NULL || events == NULL) {
    tune_usage(stderr);
    return CLI_EXIT_INPUT;
  }
  size_t top = 10;
  if (top_text != NULL) {
    char *end;
    long v = strtol(top_text, &end, 10);
    if (*end != '\0' || v < 1 || v > 1000) {
      fprintf(stderr, "promptly tune: --top: a number from 1 to 1000\n");
      return CLI_EXIT_INPUT;
    }
    top = (size_t)v;
  }

  tune_ctx c;
  memset(&c, 0, sizeof(c));
  if (cli_module_load(&c.m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
  int status = CLI_EXIT_FAIL;
  tune_event *ev = NULL;
  size_t n = 0;
  c.by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  if (read_history(&c, events, &ev, &n) != 0) {
    status = CLI_EXIT_INPUT;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (ev[i].ev.type != PROMPTLY_EV_CREATE ||
        ticket_of(&c, ev[i].ev.ticket) != NULL) {
      continue;
    }
    if (c.n_tickets == c.cap_tickets) {
      c.cap_tickets = c.cap_tickets ? c.cap_tickets * 2 : 256;
      c.tickets = g_renew(tune_ticket, c.tickets, c.cap_tickets);
    }
    tune_ticket *t = &c.tickets[c.n_tickets++];
    memset(t, 0, sizeof(*t));
    t->id = ev[i].ev.ticket;
    t->subject = attr(&ev[i], "subject");
    t->body = attr(&ev[i], "body");
    t->v[0] = t->v[1] = (tune_verdict){-1, NULL, -1};
    g_hash_table_insert(c.by_id, g_memdup2(&t->id, sizeof(t->id)),
                        GSIZE_TO_POINTER(c.n_tickets));
  }
  if (levels_of(&c, rules) != 0 || replay(&c, rules, ev, n) != 0) {
    goto done;
  }
  size_t agree = print_tables(&c, 0, rules);
  print_words(&c, 0, 1, top);
  print_words(&c, 0, -1, top);
  if (compare != NULL) {
    /* Level indices are the first folder's: the second must have the
    ** same levels for the tables to compare. */
    char *first[TUNE_MAX_LEVELS];
    size_t n_first = c.n_levels;
    memcpy(first, c.levels, sizeof(first));
    c.n_levels = 0;
    int same = levels_of(&c, compare) == 0 && c.n_levels == n_first;
    for (size_t i = 0; same && i < n_first; i++) {
      same = strcmp(first[i], c.levels[i]) == 0;
    }
    for (size_t i = 0; i < c.n_levels; i++) {
      g_free(c.levels[i]);
    }
    memcpy(c.levels, first, sizeof(first));
    c.n_levels = n_first;
    if (!same) {
      fprintf(stderr, "promptly tune: %s and %s have different levels\n",
              rules, compare);
      status = CLI_EXIT_INPUT;
      goto done;
    }
    c.run = 1;
    if (replay(&c, compare, ev, n) != 0) {
      goto done;
    }
    printf("\n");
    size_t agree2 = print_tables(&c, 1, compare);
    size_t fixed = 0, broke = 0, moved = 0;
    for (size_t i = 0; i < c.n_tickets; i++) {
      const tune_verdict *a = &c.tickets[i].v[0], *b = &c.tickets[i].v[1];
      if (a->rules < 0 || b->rules < 0) {
        continue;
      }
      int ok1 = agent_level(&c.tickets[i], 0) == a->rules;
      int ok2 = agent_level(&c.tickets[i], 1) == b->rules;
      moved += (size_t)(a->rules != b->rules);
      fixed += (size_t)(!ok1 && ok2);
      broke += (size_t)(ok1 && !ok2);
    }
    printf("what if: agreement %zu -> %zu; %zu tickets change level, %zu "
           "now agree with the agents, %zu no longer do\n",
           agree, agree2, moved, fixed, broke);
  }
  status = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
done:
  for (size_t i = 0; i < c.n_tickets; i++) {
    g_free(c.tickets[i].v[0].rule);
    g_free(c.tickets[i].v[1].rule);
  }
  g_free(c.tickets);
  for (size_t i = 0; i < c.n_levels; i++) {
    g_free(c.levels[i]);
  }
  g_hash_table_destroy(c.by_id);
  events_free(ev, n);
  cli_module_unload(&c.m);
  return status;
}
