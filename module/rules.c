/* rules.c - a rules folder loaded into one sandbox, and its verdicts.
**
** Loading has two phases.  First every *.lua file runs, in byte order of
** names, in one sandbox (files share globals).  The declaration functions
** the files call (levels, default_priority, priority, calendar, and the
** SLA declarations metric, policy, pause_on, customer_wait, at_risk, at,
** waiting, remind_customer_after, close_after, exception) check their
** arguments on the spot, where the caller's file:line is known, and
** collect plain C data into the pr_rules; they never stop a file, so that
** every problem is reported.  Then the collected declarations are compiled
** in the order of rules_decls[] (levels before the rules that name them;
** the SLA rows into one pr_sla_set, sealed at the end; all keywords into
** one matcher).  Any problem in either phase is reported as
** "file:line: message" and fails the load.
**
** Determinism: Lua's pairs() order changes with each state's string hash
** seed, so declaration tables are read by sorted keys, and actions come
** out in the fixed order of action_keys[].
**
** A new kind of declaration is one more row in rules_decls[]: a collect
** function (or open/body for the name "x" { ... } form) and a compile
** function.
**
** Memory: collect functions run inside Lua and may be interrupted by a
** memory error at any Lua API call, so each malloc'd piece is attached to
** the pr_rules before the next API call; pr_rules_free frees all of it.
*/
#include "config.h"

#include "rules.h"
#include "calendar.h"
#include "matcher.h"
#include "promptly.h"
#include "sandbox.h"
#include "sla.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

/* A rule file larger than this is refused. */
#define RULES_FILE_MAX ((size_t)4 << 20)

#define RULES_MSG_MAX 1024

typedef struct rules_site {
  char where[128]; /* "file:line" */
} rules_site;

typedef struct rules_level {
  char *id;
  char *name; /* NULL: the id is the name */
} rules_level;

typedef struct rules_cond {
  char *attr;     /* a host attribute name, compared case-insensitively */
  char **values;  /* case-folded (g_free); any one may equal */
  size_t n_values;
} rules_cond;

/* The conditions of a priority rule or a policy; all must hold. */
typedef struct rules_match {
  char **words;      /* as written */
  uint32_t *word_ids;
  size_t n_words;
  rules_cond *conds;
  size_t n_conds;
  int when_ref;      /* a function in the registry, or LUA_NOREF */
} rules_match;

typedef struct rules_prio {
  rules_site site;
  char *level_text;  /* as written */
  size_t level;      /* resolved at compile time */
  rules_match m;
} rules_prio;

typedef struct rules_hours {
  int wday;
  char *open;
  char *close;
} rules_hours;

typedef struct rules_cal {
  rules_site site;
  char *name;
  int complete;      /* its table was given */
  char *tz;
  int is_24x7;
  rules_hours *hours;
  size_t n_hours;
  char **holidays;
  size_t n_holidays;
  char **ics;
  size_t n_ics;
  pr_calendar *cal;
} rules_cal;

/* --- SLA declarations, as collected -------------------------------------- */

/* One target of a policy as written: metric, level (NULL: every level)
** and value, checked at compile time, when every metric is declared (so
** that a key that is no metric is reported as such, not as a bad value). */
typedef struct rules_target {
  char *metric;
  char *level;
  char *text;        /* the duration; NULL: no target (false) */
  const char *bad_type; /* not a string or false: Lua's (static) type name */
} rules_target;

typedef struct rules_policy {
  rules_site site;
  char *name;
  int complete;      /* its table was given */
  char *calendar;    /* NULL: calendar time */
  rules_target *targets;
  size_t n_targets;
  rules_match m;
} rules_policy;

typedef struct rules_on {
  int32_t role;      /* PR_SLA_ON_* */
  int32_t kind;      /* PR_SLA_EV_* */
  char *status;      /* "status:<value>"; NULL = any */
} rules_on;

typedef struct rules_metric {
  rules_site site;
  char *name;
  int complete;
  rules_on *on;
  size_t n_on;
} rules_metric;

typedef struct rules_pause {
  rules_site site;   /* of the first declaration that named it */
  char *status;
  int customer_wait;
  rules_site decl[2]; /* where pause_on [0] and customer_wait [1] named it */
  int named[2];
} rules_pause;

typedef struct rules_arg {
  char *name;
  char *value;
} rules_arg;

typedef struct rules_action {
  char *name;
  rules_arg *args;
  size_t n_args;
} rules_action;

typedef struct rules_at {
  rules_site site;
  char *text;        /* as written */
  int complete;
  int32_t permille;
  int64_t offset_ms;
  char **metrics;    /* names; none = every metric */
  size_t n_metrics;
  rules_action *actions;
  size_t n_actions;
} rules_at;

typedef struct rules_wait {
  rules_site site;
  char *text;
  int complete;
  int64_t after_ms;
  rules_action *actions;
  size_t n_actions;
} rules_wait;

typedef struct rules_exc {
  rules_site site;
  char *name;
  int complete;
  int32_t kind;      /* PR_SLA_EXC_*, -1 until given */
  int64_t extend_ms;
  char **metrics;
  size_t n_metrics;
  char *reason;      /* NULL: the name */
  char *attr;        /* NULL: "sla_exception" */
  char *reason_attr; /* attr + "_reason", made at compile time */
} rules_exc;

struct pr_rules {
  pr_rules_opts opts;
  char *dir;
  pr_sandbox *sb;
  int loading;
  size_t n_problems;
  char *first_problem;   /* for the caller's err */
  char **files;
  size_t n_files;

  rules_level *levels;
  size_t n_levels;
  int levels_declared;
  rules_site levels_site;

  char *default_text;
  rules_site default_site;
  size_t default_level;

  rules_prio *prios;
  size_t n_prios;
  pr_matcher *matcher;
  size_t n_word_rules;

  rules_cal *cals;
  size_t n_cals;

  rules_metric *metrics;
  size_t n_metrics;
  rules_policy *policies;
  size_t n_policies;
  rules_pause *pauses;
  size_t n_pauses;
  int32_t at_risk;       /* per mille; 0 = not declared */
  rules_site at_risk_site;
  rules_at *ats;
  size_t n_ats;
  rules_wait *waits;
  size_t n_waits;
  rules_exc *excs;
  size_t n_excs;
  pr_sla_set *sla;       /* sealed after a successful load */

  int ticket_mt_ref;
};


/* --- Problems and small helpers ------------------------------------------- */

static int cmp_names(const void *a, const void *b);

static void rules_problem(pr_rules *r, const rules_site *site,
                          const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
rules_problem(pr_rules *r, const rules_site *site, const char *fmt, ...)
{
  char msg[RULES_MSG_MAX];
  size_t off = 0;
  if (site != NULL) {
    off = (size_t)snprintf(msg, sizeof(msg), "%s: ", site->where);
    if (off >= sizeof(msg)) {
      off = sizeof(msg) - 1;
    }
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + off, sizeof(msg) - off, fmt, ap);
  va_end(ap);
  r->n_problems++;
  if (r->first_problem == NULL) {
    r->first_problem = pr_strdup(msg);
  }
  if (r->opts.problem != NULL) {
    r->opts.problem(r->opts.problem_ud, PROMPTLY_LOG_ERROR, msg);
  }
}


/* The file:line of the Lua code that called the running C function. */
static void
site_here(lua_State *L, rules_site *site)
{
  lua_Debug ar;
  snprintf(site->where, sizeof(site->where), "?");
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
    snprintf(site->where, sizeof(site->where), "%s:%d", ar.short_src,
             ar.currentline);
  }
}


/* Unicode case folding for comparisons; g_free the result, NULL if s is
** not UTF-8. */
static char *
fold_value(const char *s)
{
  if (!g_utf8_validate(s, -1, NULL)) {
    return NULL;
  }
  char *nfc = g_utf8_normalize(s, -1, G_NORMALIZE_DEFAULT_COMPOSE);
  if (nfc == NULL) {
    return NULL;
  }
  char *f = g_utf8_casefold(nfc, -1);
  g_free(nfc);
  return f;
}


static int
equal_folded(const char *a, const char *b)
{
  char *fa = fold_value(a), *fb = fold_value(b);
  int eq = fa != NULL && fb != NULL ? strcmp(fa, fb) == 0 : strcmp(a, b) == 0;
  g_free(fa);
  g_free(fb);
  return eq;
}


/* Grow *arr (of *n elements of size) by one zeroed element; its index, or
** -1 when out of memory. */
static long
push_elem(void **arr, size_t *n, size_t size)
{
  void *p = realloc(*arr, (*n + 1) * size);
  if (p == NULL) {
    return -1;
  }
  *arr = p;
  memset((char *)p + *n * size, 0, size);
  return (long)(*n)++;
}


static int
push_str(char ***arr, size_t *n, const char *s)
{
  char *copy = pr_strdup(s);
  if (copy == NULL) {
    return PROMPTLY_ENOMEM;
  }
  long i = push_elem((void **)arr, n, sizeof(char *));
  if (i < 0) {
    free(copy);
    return PROMPTLY_ENOMEM;
  }
  (*arr)[i] = copy;
  return PROMPTLY_OK;
}


static void
free_strs(char **arr, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(arr[i]);
  }
  free(arr);
}


/* The text of a string or number at idx, without converting the stack
** slot (lua_tolstring would, and that breaks lua_next).  NULL for other
** types. */
static const char *
value_text(lua_State *L, int idx, char *buf, size_t len)
{
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    return lua_tostring(L, idx);
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      snprintf(buf, len, "%lld", (long long)lua_tointeger(L, idx));
    } else {
      snprintf(buf, len, "%.14g", (double)lua_tonumber(L, idx));
    }
    return buf;
  default:
    return NULL;
  }
}


/* Whether the table at idx is a list: keys exactly 1..n.  *n gets n. */
static int
is_list(lua_State *L, int idx, size_t *n)
{
  idx = lua_absindex(L, idx);
  size_t len = (size_t)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        (size_t)lua_tointeger(L, -1) > len) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  *n = len;
  return count == len;
}


static void
rules_out_of_memory(pr_rules *r, const rules_site *site, const char *what)
{
  rules_problem(r, site, "%s: out of memory", what);
}


/* --- levels { ... } ------------------------------------------------------ */

static int
add_level(pr_rules *r, const char *id, const char *name)
{
  long i = push_elem((void **)&r->levels, &r->n_levels, sizeof(rules_level));
  if (i < 0) {
    return PROMPTLY_ENOMEM;
  }
  r->levels[i].id = pr_strdup(id);
  r->levels[i].name = name != NULL ? pr_strdup(name) : NULL;
  if (r->levels[i].id == NULL || (name != NULL && r->levels[i].name == NULL)) {
    return PROMPTLY_ENOMEM;
  }
  return PROMPTLY_OK;
}


static void
free_levels(pr_rules *r)
{
  for (size_t i = 0; i < r->n_levels; i++) {
    free(r->levels[i].id);
    free(r->levels[i].name);
  }
  free(r->levels);
  r->levels = NULL;
  r->n_levels = 0;
}


static void
collect_levels(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  size_t n;
  if (r->levels_declared) {
    rules_problem(r, site, "levels: already declared at %s",
                  r->levels_site.where);
    return;
  }
  r->levels_declared = 1;
  r->levels_site = *site;
  if (lua_type(L, arg) != LUA_TTABLE || !is_list(L, arg, &n) || n == 0) {
    rules_problem(r, site,
                  "levels: expects a non-empty list, as in "
                  "levels { \"P1\", \"P2\" } or levels { {\"P1\", "
                  "\"Urgent\"}, ... }");
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    const char *id = NULL, *name = NULL;
    size_t m = 0;
    lua_rawgeti(L, arg, (lua_Integer)i);
    if (lua_type(L, -1) == LUA_TSTRING) {
      id = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TTABLE && is_list(L, -1, &m) &&
               m == 2) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        id = lua_tostring(L, -2);
        name = lua_tostring(L, -1);
      }
    }
    if (id == NULL || id[0] == '\0' || (name != NULL && name[0] == '\0')) {
      rules_problem(r, site,
                    "levels: entry %zu must be an id \"P1\" or a pair "
                    "{\"P1\", \"Urgent\"}",
                    i);
    } else {
      for (size_t j = 0; j < r->n_levels; j++) {
        const rules_level *l = &r->levels[j];
        if (equal_folded(l->id, id) ||
            (l->name != NULL && equal_folded(l->name, id)) ||
            (name != NULL && (equal_folded(l->id, name) ||
                              (l->name != NULL &&
                               equal_folded(l->name, name))))) {
          rules_problem(r, site, "levels: '%s' is given twice", id);
          id = NULL;
          break;
        }
      }
      if (id != NULL && add_level(r, id, name) != PROMPTLY_OK) {
        rules_out_of_memory(r, site, "levels");
      }
    }
    lua_settop(L, arg);
  }
}


static void
compile_levels(pr_rules *r)
{
  static const char *const defaults[][2] = {
    {"P1", "Urgent"}, {"P2", "High"}, {"P3", "Normal"}, {"P4", "Low"},
  };
  if (!r->levels_declared) {
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
      if (add_level(r, defaults[i][0], defaults[i][1]) != PROMPTLY_OK) {
        rules_out_of_memory(r, NULL, "levels");
        return;
      }
    }
  }
  if (r->n_levels == 0) {
    return; /* reported at the declaration */
  }
  if (r->default_text == NULL) {
    r->default_level = r->n_levels >= 3 ? 2 : r->n_levels - 1;
    return;
  }
  int i = pr_rules_level_find(r, r->default_text);
  if (i < 0) {
    rules_problem(r, &r->default_site, "default_priority: unknown level '%s'",
                  r->default_text);
    return;
  }
  r->default_level = (size_t)i;
}


/* --- default_priority "P3" ------------------------------------------------ */

static void
collect_default(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  if (r->default_text != NULL) {
    rules_problem(r, site, "default_priority: already declared at %s",
                  r->default_site.where);
    return;
  }
  if (lua_type(L, arg) != LUA_TSTRING) {
    rules_problem(r, site,
                  "default_priority: expects a level, as in "
                  "default_priority \"P3\"");
    return;
  }
  r->default_site = *site;
  r->default_text = pr_strdup(lua_tostring(L, arg));
  if (r->default_text == NULL) {
    rules_out_of_memory(r, site, "default_priority");
  }
}


/* --- Conditions: priority rules and policies ------------------------------ */

static const char *const match_attr_keys[] = {
  "tier", "type", "channel", "queue", "status", NULL
};


static void
free_cond(rules_cond *c)
{
  free(c->attr);
  for (size_t i = 0; i < c->n_values; i++) {
    g_free(c->values[i]);
  }
  free(c->values);
}


static void
free_match(rules_match *m)
{
  free_strs(m->words, m->n_words);
  free(m->word_ids);
  for (size_t c = 0; c < m->n_conds; c++) {
    free_cond(&m->conds[c]);
  }
  free(m->conds);
}


/* Add a condition to m: attribute attr equals the string at idx or one of
** the list at idx.  what names the declaration in messages. */
static void
collect_cond(lua_State *L, pr_rules *r, const rules_site *site,
             const char *what, rules_match *m, const char *attr, int idx)
{
  char buf[64];
  size_t n = 1;
  int list = lua_type(L, idx) == LUA_TTABLE;

  if (list && (!is_list(L, idx, &n) || n == 0)) {
    rules_problem(r, site, "%s: '%s' must be a string or a non-empty "
                  "list of strings", what, attr);
    return;
  }
  if (!list && value_text(L, idx, buf, sizeof(buf)) == NULL) {
    rules_problem(r, site,
                  "%s: '%s' must be a string or a list of strings, "
                  "not a %s",
                  what, attr, luaL_typename(L, idx));
    return;
  }
  long ci = push_elem((void **)&m->conds, &m->n_conds, sizeof(rules_cond));
  if (ci < 0) {
    rules_out_of_memory(r, site, what);
    return;
  }
  rules_cond *c = &m->conds[ci];
  c->attr = pr_strdup(attr);
  c->values = calloc(n, sizeof(char *));
  if (c->attr == NULL || c->values == NULL) {
    rules_out_of_memory(r, site, what);
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    if (list) {
      lua_rawgeti(L, idx, (lua_Integer)i);
    } else {
      lua_pushvalue(L, idx);
    }
    const char *v = value_text(L, -1, buf, sizeof(buf));
    char *f = v != NULL ? fold_value(v) : NULL;
    if (v == NULL) {
      rules_problem(r, site, "%s: '%s' entry %zu is a %s, not a string",
                    what, attr, i, luaL_typename(L, -1));
    } else if (f == NULL) {
      rules_problem(r, site, "%s: '%s' value is not valid UTF-8", what,
                    attr);
    } else {
      c->values[c->n_values++] = f;
    }
    lua_pop(L, 1);
  }
}


static void
collect_words(lua_State *L, pr_rules *r, const rules_site *site,
              const char *what, rules_match *m, int idx)
{
  size_t n;
  if (lua_type(L, idx) != LUA_TTABLE || !is_list(L, idx, &n) || n == 0) {
    rules_problem(r, site,
                  "%s: 'words' must be a non-empty list of strings, "
                  "as in words = { \"outage\", \"data loss\" }",
                  what);
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    const char *w = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                   : NULL;
    if (w == NULL) {
      rules_problem(r, site, "%s: 'words' entry %zu is a %s, not a "
                    "string", what, i, luaL_typename(L, -1));
    } else if (strspn(w, " \t\r\n") == strlen(w)) {
      rules_problem(r, site, "%s: 'words' entry %zu is empty", what, i);
    } else if (push_str(&m->words, &m->n_words, w) != PROMPTLY_OK) {
      rules_out_of_memory(r, site, what);
    }
    lua_pop(L, 1);
  }
}


/* attrs = { name = value, ... } (also the table form of `when`). */
static void
collect_attr_table(lua_State *L, pr_rules *r, const rules_site *site,
                   const char *what, rules_match *m, const char *key, int val)
{
  int any = 0;
  lua_pushnil(L);
  while (lua_next(L, val) != 0) {
    any = 1;
    if (lua_type(L, -2) != LUA_TSTRING) {
      rules_problem(r, site, "%s: '%s' keys must be attribute names", what,
                    key);
    } else {
      collect_cond(L, r, site, what, m, lua_tostring(L, -2),
                   lua_gettop(L));
    }
    lua_pop(L, 1);
  }
  if (!any) {
    rules_problem(r, site, "%s: '%s' is empty", what, key);
  }
}


/* If key names a condition (words, tier, type, channel, queue, status,
** attrs, when), collect the value at val into m and return 1; else 0. */
static int
collect_match_key(lua_State *L, pr_rules *r, const rules_site *site,
                  const char *what, rules_match *m, const char *key, int val)
{
  if (strcmp(key, "words") == 0) {
    collect_words(L, r, site, what, m, val);
  } else if (strcmp(key, "when") == 0) {
    if (lua_type(L, val) == LUA_TFUNCTION) {
      lua_pushvalue(L, val);
      m->when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (lua_type(L, val) == LUA_TTABLE) {
      collect_attr_table(L, r, site, what, m, key, val);
    } else {
      rules_problem(r, site, "%s: 'when' must be a function, or a table "
                    "of attribute = value, not a %s",
                    what, luaL_typename(L, val));
    }
  } else if (strcmp(key, "attrs") == 0) {
    if (lua_type(L, val) != LUA_TTABLE) {
      rules_problem(r, site, "%s: 'attrs' must be a table of "
                    "attribute = value, not a %s",
                    what, luaL_typename(L, val));
    } else {
      collect_attr_table(L, r, site, what, m, key, val);
    }
  } else {
    const char *const *k = match_attr_keys;
    while (*k != NULL && strcmp(key, *k) != 0) {
      k++;
    }
    if (*k == NULL) {
      return 0;
    }
    collect_cond(L, r, site, what, m, key, val);
  }
  return 1;
}


/* Put the keywords of m into the one matcher of the rule set. */
static void
match_add_words(pr_rules *r, const rules_site *site, const char *what,
                rules_match *m)
{
  char err[256];
  if (m->n_words == 0) {
    return;
  }
  if (r->matcher == NULL && pr_matcher_new(&r->matcher) != PROMPTLY_OK) {
    r->matcher = NULL;
    rules_out_of_memory(r, NULL, "keywords");
    return;
  }
  m->word_ids = calloc(m->n_words, sizeof(uint32_t));
  if (m->word_ids == NULL) {
    rules_out_of_memory(r, site, what);
    return;
  }
  for (size_t w = 0; w < m->n_words; w++) {
    if (pr_matcher_add(r->matcher, m->words[w], &m->word_ids[w], err,
                       sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, site, "%s: %s", what, err);
    }
  }
}


/* After priorities and policies added theirs: one matcher for all. */
static void
compile_keywords(pr_rules *r)
{
  if (r->matcher == NULL && pr_matcher_new(&r->matcher) != PROMPTLY_OK) {
    r->matcher = NULL;
    rules_out_of_memory(r, NULL, "keywords");
    return;
  }
  if (pr_matcher_compile(r->matcher) != PROMPTLY_OK) {
    rules_out_of_memory(r, NULL, "keywords");
  }
}


/* --- priority { "P1", ... } ----------------------------------------------- */

static void
collect_priority(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, site,
                  "priority: expects a table, as in "
                  "priority { \"P1\", words = { \"outage\" } }");
    return;
  }
  long pi = push_elem((void **)&r->prios, &r->n_prios, sizeof(rules_prio));
  if (pi < 0) {
    rules_out_of_memory(r, site, "priority");
    return;
  }
  r->prios[pi].site = *site;
  r->prios[pi].m.when_ref = LUA_NOREF;
  rules_match *m = &r->prios[pi].m;
  int conditions = 0;

  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, site, "priority: the level must be a string such "
                      "as \"P1\", not a %s", luaL_typename(L, val));
      } else {
        r->prios[pi].level_text = pr_strdup(lua_tostring(L, val));
        if (r->prios[pi].level_text == NULL) {
          rules_out_of_memory(r, site, "priority");
        }
      }
    } else if (key == NULL) {
      rules_problem(r, site,
                    "priority: unexpected %s key (only the level comes "
                    "without a name)",
                    luaL_typename(L, -2));
    } else if (collect_match_key(L, r, site, "priority", m, key, val)) {
      conditions++;
    } else {
      rules_problem(r, site,
                    "priority: unknown key '%s' (known: words, tier, "
                    "type, channel, queue, status, attrs, when)",
                    key);
    }
    lua_settop(L, val - 1);
  }
  if (r->prios[pi].level_text == NULL && lua_rawlen(L, arg) == 0) {
    rules_problem(r, site, "priority: the level comes first, as in "
                  "priority { \"P1\", ... }");
  }
  if (conditions == 0) {
    rules_problem(r, site,
                  "priority: no condition (give words, tier, type, channel, "
                  "queue, status, attrs or when; default_priority sets the "
                  "level of tickets no rule matches)");
  }
}


static void
compile_priorities(pr_rules *r)
{
  for (size_t i = 0; i < r->n_prios; i++) {
    rules_prio *p = &r->prios[i];
    if (p->level_text != NULL && r->n_levels > 0) {
      int level = pr_rules_level_find(r, p->level_text);
      if (level < 0) {
        rules_problem(r, &p->site, "priority: unknown level '%s'",
                      p->level_text);
      } else {
        p->level = (size_t)level;
      }
    }
    if (p->m.n_words > 0) {
      r->n_word_rules++;
    }
    match_add_words(r, &p->site, "priority", &p->m);
  }
}


/* --- calendar "name" { ... } ---------------------------------------------- */

static const struct {
  const char *key;
  int from, to;
} cal_days[] = {
  {"mon", 0, 0}, {"tue", 1, 1}, {"wed", 2, 2}, {"thu", 3, 3},
  {"fri", 4, 4}, {"sat", 5, 5}, {"sun", 6, 6},
  {"mon_fri", 0, 4}, {"mon_sat", 0, 5}, {"mon_sun", 0, 6},
  {"daily", 0, 6}, {"sat_sun", 5, 6},
};


static void
free_cal(rules_cal *c)
{
  free(c->name);
  free(c->tz);
  for (size_t i = 0; i < c->n_hours; i++) {
    free(c->hours[i].open);
    free(c->hours[i].close);
  }
  free(c->hours);
  free_strs(c->holidays, c->n_holidays);
  free_strs(c->ics, c->n_ics);
  pr_calendar_free(c->cal);
}


static int
add_hours(rules_cal *c, int from, int to, const char *open, size_t olen,
          const char *close)
{
  for (int d = from; d <= to; d++) {
    long i = push_elem((void **)&c->hours, &c->n_hours, sizeof(rules_hours));
    if (i < 0) {
      return PROMPTLY_ENOMEM;
    }
    c->hours[i].wday = d;
    c->hours[i].open = strndup(open, olen);
    c->hours[i].close = pr_strdup(close);
    if (c->hours[i].open == NULL || c->hours[i].close == NULL) {
      return PROMPTLY_ENOMEM;
    }
  }
  return PROMPTLY_OK;
}


/* One opening, "HH:MM-HH:MM" or {"HH:MM", "HH:MM"}, at idx. */
static void
collect_opening(lua_State *L, pr_rules *r, rules_cal *c, const char *key,
                int from, int to, int idx)
{
  int rc = PROMPTLY_EINVAL;
  size_t n;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    const char *dash = strchr(s, '-');
    if (dash != NULL) {
      rc = add_hours(c, from, to, s, (size_t)(dash - s), dash + 1);
    }
  } else if (lua_type(L, idx) == LUA_TTABLE && is_list(L, idx, &n) &&
             n == 2) {
    lua_rawgeti(L, idx, 1);
    lua_rawgeti(L, idx, 2);
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      const char *open = lua_tostring(L, -2);
      rc = add_hours(c, from, to, open, strlen(open), lua_tostring(L, -1));
    }
    lua_pop(L, 2);
  }
  if (rc == PROMPTLY_ENOMEM) {
    rules_out_of_memory(r, &c->site, "calendar");
  } else if (rc != PROMPTLY_OK) {
    rules_problem(r, &c->site,
                  "calendar '%s': hours '%s' must be \"HH:MM-HH:MM\" or "
                  "{\"HH:MM\", \"HH:MM\"}",
                  c->name, key);
  }
}


static void
collect_hours(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) == LUA_TSTRING &&
      strcmp(lua_tostring(L, idx), "24x7") == 0) {
    c->is_24x7 = 1;
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': hours must be \"24x7\" or a table such as "
                  "{ mon_fri = { \"09:00-17:00\" } }",
                  c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    int from = -1, to = -1;
    for (size_t i = 0; key != NULL && i < sizeof(cal_days) / sizeof(*cal_days);
         i++) {
      if (strcmp(key, cal_days[i].key) == 0) {
        from = cal_days[i].from;
        to = cal_days[i].to;
      }
    }
    size_t n;
    if (from < 0) {
      rules_problem(r, &c->site,
                    "calendar '%s': unknown day '%s' in hours (known: mon "
                    "tue wed thu fri sat sun mon_fri mon_sat mon_sun daily "
                    "sat_sun)",
                    c->name, key != NULL ? key : luaL_typename(L, -2));
    } else if (lua_type(L, val) == LUA_TTABLE && is_list(L, val, &n) &&
               n > 0) {
      /* A pair of two plain times is one opening, else a list. */
      lua_rawgeti(L, val, 1);
      int pair = n == 2 && lua_type(L, -1) == LUA_TSTRING &&
                 strchr(lua_tostring(L, -1), '-') == NULL;
      lua_pop(L, 1);
      if (pair) {
        collect_opening(L, r, c, key, from, to, val);
      } else {
        for (size_t i = 1; i <= n; i++) {
          lua_rawgeti(L, val, (lua_Integer)i);
          collect_opening(L, r, c, key, from, to, lua_gettop(L));
          lua_pop(L, 1);
        }
      }
    } else {
      collect_opening(L, r, c, key, from, to, val);
    }
    lua_settop(L, val - 1);
  }
}


static void
collect_ics(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) != LUA_TSTRING) {
    rules_problem(r, &c->site, "calendar '%s': ics must be a file name",
                  c->name);
    return;
  }
  const char *path = lua_tostring(L, idx);
  /* Calendars read files from the rules folder only. */
  if (path[0] == '/' || strcmp(path, "..") == 0 ||
      strncmp(path, "../", 3) == 0 || strstr(path, "/../") != NULL ||
      (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0)) {
    rules_problem(r, &c->site,
                  "calendar '%s': ics '%s' must be a path inside the rules "
                  "folder",
                  c->name, path);
    return;
  }
  if (push_str(&c->ics, &c->n_ics, path) != PROMPTLY_OK) {
    rules_out_of_memory(r, &c->site, "calendar");
  }
}


static void
collect_holidays(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': holidays must be a list such as "
                  "{ \"2026-12-24..2026-12-26\", \"*-01-01\" }",
                  c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int val = lua_gettop(L);
    if (lua_type(L, -2) == LUA_TSTRING &&
        strcmp(lua_tostring(L, -2), "ics") == 0) {
      collect_ics(L, r, c, val);
    } else if (!lua_isinteger(L, -2)) {
      rules_problem(r, &c->site, "calendar '%s': holidays: unexpected key",
                    c->name);
    } else if (lua_type(L, val) != LUA_TSTRING) {
      rules_problem(r, &c->site,
                    "calendar '%s': holiday %lld is a %s, not a date",
                    c->name, (long long)lua_tointeger(L, -2),
                    luaL_typename(L, val));
    } else if (push_str(&c->holidays, &c->n_holidays,
                        lua_tostring(L, val)) != PROMPTLY_OK) {
      rules_out_of_memory(r, &c->site, "calendar");
    }
    lua_settop(L, val - 1);
  }
}


static long
open_calendar(lua_State *L, pr_rules *r, const rules_site *site,
              const char *name)
{
  (void)L;
  if (name[0] == '\0') {
    rules_problem(r, site, "calendar: the name is empty");
    return -1;
  }
  for (size_t i = 0; i < r->n_cals; i++) {
    if (strcmp(r->cals[i].name, name) == 0) {
      rules_problem(r, site, "calendar '%s': already declared at %s", name,
                    r->cals[i].site.where);
      return -1;
    }
  }
  long ci = push_elem((void **)&r->cals, &r->n_cals, sizeof(rules_cal));
  if (ci < 0) {
    rules_out_of_memory(r, site, "calendar");
    return -1;
  }
  r->cals[ci].site = *site;
  r->cals[ci].name = pr_strdup(name);
  if (r->cals[ci].name == NULL) {
    r->n_cals--;
    rules_out_of_memory(r, site, "calendar");
    return -1;
  }
  return ci;
}


static void
body_calendar(lua_State *L, pr_rules *r, long ci, int arg)
{
  rules_cal *c = &r->cals[ci];
  c->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': expects a table, as in calendar \"%s\" "
                  "{ tz = \"Europe/Berlin\", hours = { ... } }",
                  c->name, c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    if (key != NULL && strcmp(key, "tz") == 0) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, &c->site, "calendar '%s': tz must be a zone name "
                      "such as \"Europe/Berlin\"", c->name);
      } else if ((c->tz = pr_strdup(lua_tostring(L, val))) == NULL) {
        rules_out_of_memory(r, &c->site, "calendar");
      }
    } else if (key != NULL && strcmp(key, "hours") == 0) {
      collect_hours(L, r, c, val);
    } else if (key != NULL && strcmp(key, "holidays") == 0) {
      collect_holidays(L, r, c, val);
    } else if (key != NULL && strcmp(key, "ics") == 0) {
      collect_ics(L, r, c, val);
    } else {
      rules_problem(r, &c->site,
                    "calendar '%s': unknown key '%s' (known: tz, hours, "
                    "holidays, ics)",
                    c->name, key != NULL ? key : luaL_typename(L, -2));
    }
    lua_settop(L, val - 1);
  }
  if (!c->is_24x7 && c->n_hours == 0) {
    rules_problem(r, &c->site,
                  "calendar '%s': no hours (give hours = { mon_fri = "
                  "{ \"09:00-17:00\" } } or hours = \"24x7\")",
                  c->name);
  }
}


static void
compile_calendar(pr_rules *r, rules_cal *c)
{
  char err[512];
  pr_cal_spec *spec = NULL;
  if (!c->complete) {
    rules_problem(r, &c->site,
                  "calendar '%s': no table follows the name, as in "
                  "calendar \"%s\" { ... }",
                  c->name, c->name);
    return;
  }
  if (pr_cal_spec_new(c->tz, &spec, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, &c->site, "calendar '%s': %s", c->name, err);
    return;
  }
  if (c->is_24x7) {
    pr_cal_spec_set_24x7(spec);
  }
  for (size_t i = 0; i < c->n_hours; i++) {
    if (pr_cal_spec_add_hours(spec, c->hours[i].wday, c->hours[i].open,
                              c->hours[i].close, err,
                              sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': hours: %s", c->name, err);
    }
  }
  for (size_t i = 0; i < c->n_holidays; i++) {
    if (pr_cal_spec_add_holiday(spec, c->holidays[i], err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': holidays: %s", c->name,
                    err);
    }
  }
  for (size_t i = 0; i < c->n_ics; i++) {
    char *path = g_build_filename(r->dir, c->ics[i], NULL);
    if (pr_cal_spec_add_ics(spec, path, err, sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': ics: %s", c->name, err);
    }
    g_free(path);
  }
  if (pr_cal_compile(spec, &c->cal, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, &c->site, "calendar '%s': %s", c->name, err);
    c->cal = NULL;
  }
  pr_cal_spec_free(spec);
}


static void
compile_calendars(pr_rules *r)
{
  for (size_t i = 0; i < r->n_cals; i++) {
    compile_calendar(r, &r->cals[i]);
  }
}


/* --- Durations and shares ------------------------------------------------- */

#define DURATION_FORMS "\"30m\", \"1h30m\", \"90s\", \"7d\" or \"2w\""
#define SHARE_FORMS    "\"75%%\", \"87.5%%\" or \"100%% + 2h\"" /* a format */

/* Parse a duration: whole numbers with units w, d, h, m, s, ms, largest
** first, each unit once, spaces allowed between parts ("1h30m", "1h 30m",
** "90s", "7d", "2w", "1500ms").  0 and *ms set; -1 malformed ("-1h",
** "1.5h", "1x", ""); -2 beyond PR_SLA_MAX_MS. */
static int
parse_duration(const char *s, int64_t *ms)
{
  static const struct {
    const char *unit;
    int64_t ms;
  } units[] = {
    {"w", INT64_C(604800000)}, {"d", INT64_C(86400000)},
    {"h", INT64_C(3600000)},   {"m", INT64_C(60000)},
    {"s", INT64_C(1000)},      {"ms", INT64_C(1)},
  };
  const char *p = s;
  int64_t total = 0;
  int last = -1, parts = 0, big = 0;
  while (*p == ' ') {
    p++;
  }
  while (*p != '\0') {
    if (*p < '0' || *p > '9') {
      return -1;
    }
    int64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (n <= PR_SLA_MAX_MS) {
        n = n * 10 + (*p - '0');
      }
    }
    const char *u = p;
    while (*p >= 'a' && *p <= 'z') {
      p++;
    }
    size_t ulen = (size_t)(p - u);
    int i = 0, nu = (int)(sizeof(units) / sizeof(units[0]));
    while (i < nu && !(strlen(units[i].unit) == ulen &&
                       strncmp(units[i].unit, u, ulen) == 0)) {
      i++;
    }
    if (i == nu || i <= last) {
      return -1;
    }
    last = i;
    if (n > (PR_SLA_MAX_MS - total) / units[i].ms) {
      big = 1;
    } else if (!big) {
      total += n * units[i].ms;
    }
    parts++;
    while (*p == ' ') {
      p++;
    }
  }
  if (parts == 0) {
    return -1;
  }
  if (big) {
    return -2;
  }
  *ms = total;
  return 0;
}


/* Parse a share "75%", "87.5%" (one decimal at most), and with
** allow_offset "100% + 2h".  0 with *permille and *offset_ms; -1
** malformed; -2 a number too large. */
static int
parse_share(const char *s, int allow_offset, int32_t *permille,
            int64_t *offset_ms)
{
  const char *p = s;
  int64_t v = 0;
  int digits = 0;
  while (*p == ' ') {
    p++;
  }
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (v < 1000000) {
      v = v * 10 + (*p - '0');
    }
  }
  if (digits == 0) {
    return -1;
  }
  v *= 10;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') {
      return -1;
    }
    v += *p++ - '0';
  }
  if (*p++ != '%') {
    return -1;
  }
  while (*p == ' ') {
    p++;
  }
  *offset_ms = 0;
  if (*p == '+' && allow_offset) {
    int rc = parse_duration(p + 1, offset_ms);
    if (rc != 0) {
      return rc;
    }
  } else if (*p != '\0') {
    return -1;
  }
  if (v > 10000000) {
    return -2;
  }
  *permille = (int32_t)v;
  return 0;
}


/* Report a bad duration text: what, then where (e.g. "first_response
** P1"), then why.  Returns 0 for OK, -1 after a problem. */
static int
duration_or_problem(pr_rules *r, const rules_site *site, const char *what,
                    const char *where, const char *text, int zero_ok,
                    int64_t *ms)
{
  int rc = parse_duration(text, ms);
  if (rc == -1) {
    rules_problem(r, site,
                  "%s: %s: '%s' is not a duration (write " DURATION_FORMS
                  ")",
                  what, where, text);
  } else if (rc == -2) {
    rules_problem(r, site,
                  "%s: %s: '%s' is out of range (at most 10 years)", what,
                  where, text);
  } else if (*ms == 0 && !zero_ok) {
    rules_problem(r, site, "%s: %s: '%s' must be more than nothing", what,
                  where, text);
    rc = -1;
  }
  return rc == 0 ? 0 : -1;
}


/* --- Reading declaration tables -------------------------------------------- */

/* The string keys of the table at idx, sorted bytewise, in a userdata
** pushed on the stack: Lua memory, so that a memory error leaks nothing.
** The strings live as long as the table does.  Pairs order is not
** deterministic, so declarations read keys in this order.  Keys that are
** not strings are reported (a list entry where name = value belongs). */
static const char **
sorted_keys(lua_State *L, pr_rules *r, const rules_site *site,
            const char *what, int idx, size_t *n)
{
  idx = lua_absindex(L, idx);
  size_t count = 0, k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    count += lua_type(L, -1) == LUA_TSTRING;
  }
  const char **keys = lua_newuserdatauv(L, (count + 1) * sizeof(char *), 0);
  int bad = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      keys[k++] = lua_tostring(L, -1);
    } else {
      bad++;
    }
  }
  if (bad > 0) {
    rules_problem(r, site,
                  "%s: %d unexpected entr%s without a name (write "
                  "name = value)",
                  what, bad, bad == 1 ? "y" : "ies");
  }
  qsort(keys, k, sizeof(char *), cmp_names);
  *n = k;
  return keys;
}


/* Push t[key] of the table at idx, without metamethods. */
static int
raw_field(lua_State *L, int idx, const char *key)
{
  idx = lua_absindex(L, idx);
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}


static int
in_list(const char *const *list, const char *s)
{
  for (; *list != NULL; list++) {
    if (strcmp(*list, s) == 0) {
      return 1;
    }
  }
  return 0;
}


/* A string or a non-empty list of strings at idx, each passed to fn with
** its 1-based position.  Reports and returns -1 for anything else. */
static int
each_string(lua_State *L, pr_rules *r, const rules_site *site,
            const char *what, const char *key, int idx,
            void (*fn)(lua_State *L, pr_rules *r, const rules_site *site,
                       void *ud, const char *s),
            void *ud)
{
  size_t n;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TSTRING) {
    fn(L, r, site, ud, lua_tostring(L, idx));
    return 0;
  }
  if (lua_type(L, idx) != LUA_TTABLE || !is_list(L, idx, &n) || n == 0) {
    rules_problem(r, site,
                  "%s: '%s' must be a string or a non-empty list of "
                  "strings, not a %s",
                  what, key, luaL_typename(L, idx));
    return -1;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "%s: '%s' entry %zu is a %s, not a string",
                    what, key, i, luaL_typename(L, -1));
    } else {
      fn(L, r, site, ud, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  return 0;
}


typedef struct rules_strs {
  char ***v;
  size_t *n;
  const char *what;
} rules_strs;


static void
add_name(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
         const char *s)
{
  (void)L;
  rules_strs *st = ud;
  if (push_str(st->v, st->n, s) != PROMPTLY_OK) {
    rules_out_of_memory(r, site, st->what);
  }
}


/* A metric mask from names; reports unknown names.  0 = every metric. */
static uint32_t
metric_mask(pr_rules *r, const rules_site *site, const char *what,
            char **names, size_t n)
{
  uint32_t mask = 0;
  for (size_t i = 0; i < n; i++) {
    int m = pr_sla_set_metric_find(r->sla, names[i]);
    if (m < 0) {
      rules_problem(r, site,
                    "%s: metrics: unknown metric '%s' (first_response, "
                    "next_response, periodic_update, resolution, or a "
                    "declared metric)",
                    what, names[i]);
    } else {
      mask |= (uint32_t)1 << m;
    }
  }
  return mask;
}


/* --- metric "name" { start = ..., pause = ..., resume = ..., stop = ... } - */

static const char *const metric_roles[PR_SLA_ON_ROLES + 1] = {
  "start", "pause", "resume", "stop", NULL
};

static const struct {
  const char *name;
  int32_t kind;
} sla_events[] = {
  {"create",         PR_SLA_EV_CREATE},
  {"reply_agent",    PR_SLA_EV_REPLY_AGENT},
  {"reply_customer", PR_SLA_EV_REPLY_CUSTOMER},
  {"note",           PR_SLA_EV_NOTE},
  {"status",         PR_SLA_EV_STATUS},
  {"reopen",         PR_SLA_EV_REOPEN},
  {"merge",          PR_SLA_EV_MERGE},
  {"delete",         PR_SLA_EV_DELETE},
};

/* Keys a policy understands besides metric names: a metric may not be
** called like one of them. */
static const char *const policy_keys[] = {
  "calendar", "first_response", "next_response", "periodic_update",
  "resolution", "words", "tier", "type", "channel", "queue", "status",
  "attrs", "when", NULL
};


static void
free_metric(rules_metric *m)
{
  free(m->name);
  for (size_t i = 0; i < m->n_on; i++) {
    free(m->on[i].status);
  }
  free(m->on);
}


static long
open_metric(lua_State *L, pr_rules *r, const rules_site *site,
            const char *name)
{
  (void)L;
  for (size_t i = 0; i < r->n_metrics; i++) {
    if (strcmp(r->metrics[i].name, name) == 0) {
      rules_problem(r, site, "metric '%s': already declared at %s", name,
                    r->metrics[i].site.where);
      return -1;
    }
  }
  long i = push_elem((void **)&r->metrics, &r->n_metrics,
                     sizeof(rules_metric));
  if (i < 0) {
    rules_out_of_memory(r, site, "metric");
    return -1;
  }
  r->metrics[i].site = *site;
  if ((r->metrics[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "metric");
    return -1;
  }
  return i;
}


typedef struct rules_on_ctx {
  rules_metric *m;
  int32_t role;
} rules_on_ctx;


static void
add_on(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
       const char *s)
{
  (void)L;
  rules_on_ctx *ctx = ud;
  rules_metric *m = ctx->m;
  int32_t kind = -1;
  const char *status = NULL;
  if (strncmp(s, "status:", 7) == 0 && s[7] != '\0') {
    kind = PR_SLA_EV_STATUS;
    status = s + 7;
  }
  for (size_t i = 0; kind < 0 && i < sizeof(sla_events) / sizeof(*sla_events);
       i++) {
    if (strcmp(s, sla_events[i].name) == 0) {
      kind = sla_events[i].kind;
    }
  }
  if (kind < 0) {
    rules_problem(r, site,
                  "metric '%s': %s: unknown event '%s' (known: create, "
                  "reply_agent, reply_customer, note, status, "
                  "status:<value>, reopen, merge, delete)",
                  m->name, metric_roles[ctx->role], s);
    return;
  }
  long i = push_elem((void **)&m->on, &m->n_on, sizeof(rules_on));
  if (i < 0) {
    rules_out_of_memory(r, site, "metric");
    return;
  }
  m->on[i].role = ctx->role;
  m->on[i].kind = kind;
  if (status != NULL && (m->on[i].status = pr_strdup(status)) == NULL) {
    rules_out_of_memory(r, site, "metric");
  }
}


static void
body_metric(lua_State *L, pr_rules *r, long mi, int arg)
{
  rules_metric *m = &r->metrics[mi];
  char what[96];
  snprintf(what, sizeof(what), "metric '%s'", m->name);
  m->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &m->site,
                  "%s: expects a table, as in metric \"%s\" { start = { "
                  "\"status:scheduled\" }, stop = { \"status:visited\" } }",
                  what, m->name);
    return;
  }
  size_t n;
  const char **keys = sorted_keys(L, r, &m->site, what, arg, &n);
  for (size_t i = 0; i < n; i++) {
    if (!in_list(metric_roles, keys[i])) {
      rules_problem(r, &m->site,
                    "%s: unknown key '%s' (known: start, pause, resume, "
                    "stop)",
                    what, keys[i]);
    }
  }
  for (int32_t role = 0; role < PR_SLA_ON_ROLES; role++) {
    if (raw_field(L, arg, metric_roles[role]) != LUA_TNIL) {
      rules_on_ctx ctx = {m, role};
      each_string(L, r, &m->site, what, metric_roles[role], -1, add_on,
                  &ctx);
    } else if (role == PR_SLA_ON_START) {
      rules_problem(r, &m->site,
                    "%s: no start events (give start = { ... }, e.g. "
                    "start = { \"status:scheduled\" })",
                    what);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


/* The first SLA row: the set begins here, with the rule set's levels. */
static void
compile_metrics(pr_rules *r)
{
  char err[512];
  if (r->n_levels == 0) {
    return; /* reported at the levels */
  }
  const char **ids = calloc(r->n_levels, sizeof(char *));
  if (ids == NULL) {
    rules_out_of_memory(r, NULL, "SLA");
    return;
  }
  for (size_t i = 0; i < r->n_levels; i++) {
    ids[i] = r->levels[i].id;
  }
  int rc = pr_sla_set_new(ids, (uint32_t)r->n_levels, &r->sla, err,
                          sizeof(err));
  free(ids);
  if (rc != PROMPTLY_OK) {
    r->sla = NULL;
    rules_problem(r, r->levels_declared ? &r->levels_site : NULL,
                  "levels: %s", err);
    return;
  }
  for (size_t i = 0; i < r->n_metrics; i++) {
    rules_metric *m = &r->metrics[i];
    uint32_t index;
    if (!m->complete) {
      rules_problem(r, &m->site,
                    "metric '%s': no table follows the name, as in "
                    "metric \"%s\" { start = { ... }, stop = { ... } }",
                    m->name, m->name);
      continue;
    }
    if (in_list(policy_keys, m->name)) {
      rules_problem(r, &m->site,
                    "metric '%s': the name is taken (a built-in metric or "
                    "a policy key)",
                    m->name);
      continue;
    }
    if (pr_sla_set_add_metric(r->sla, m->name, &index, err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &m->site, "metric '%s': %s", m->name, err);
      continue;
    }
    for (size_t j = 0; j < m->n_on; j++) {
      if (pr_sla_set_metric_on(r->sla, index, m->on[j].role, m->on[j].kind,
                               m->on[j].status, err,
                               sizeof(err)) != PROMPTLY_OK) {
        rules_problem(r, &m->site, "metric '%s': %s", m->name, err);
      }
    }
  }
}


/* --- policy "name" { ... } ------------------------------------------------ */

static void
free_policy(rules_policy *p)
{
  free(p->name);
  free(p->calendar);
  for (size_t i = 0; i < p->n_targets; i++) {
    free(p->targets[i].metric);
    free(p->targets[i].level);
    free(p->targets[i].text);
  }
  free(p->targets);
  free_match(&p->m);
}


static long
open_policy(lua_State *L, pr_rules *r, const rules_site *site,
            const char *name)
{
  (void)L;
  if (name[0] == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    rules_problem(r, site, "policy: a name needs 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
    return -1;
  }
  for (size_t i = 0; i < r->n_policies; i++) {
    if (strcmp(r->policies[i].name, name) == 0) {
      rules_problem(r, site, "policy '%s': already declared at %s", name,
                    r->policies[i].site.where);
      return -1;
    }
  }
  if (r->n_policies >= PR_SLA_MAX_POLICIES) {
    rules_problem(r, site, "policy '%s': too many policies (at most %d)",
                  name, PR_SLA_MAX_POLICIES);
    return -1;
  }
  long i = push_elem((void **)&r->policies, &r->n_policies,
                     sizeof(rules_policy));
  if (i < 0) {
    rules_out_of_memory(r, site, "policy");
    return -1;
  }
  r->policies[i].site = *site;
  r->policies[i].m.when_ref = LUA_NOREF;
  if ((r->policies[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "policy");
    return -1;
  }
  return i;
}


static void
add_target(pr_rules *r, rules_policy *p, const char *what, const char *metric,
           const char *level, int idx, lua_State *L)
{
  long i = push_elem((void **)&p->targets, &p->n_targets,
                     sizeof(rules_target));
  if (i < 0) {
    rules_out_of_memory(r, &p->site, what);
    return;
  }
  rules_target *t = &p->targets[i];
  if (lua_type(L, idx) == LUA_TSTRING) {
    if ((t->text = pr_strdup(lua_tostring(L, idx))) == NULL) {
      rules_out_of_memory(r, &p->site, what);
    }
  } else if (lua_type(L, idx) != LUA_TBOOLEAN || lua_toboolean(L, idx)) {
    t->bad_type = luaL_typename(L, idx);
  }
  t->metric = pr_strdup(metric);
  t->level = level ? pr_strdup(level) : NULL;
  if (t->metric == NULL || (level && !t->level)) {
    rules_out_of_memory(r, &p->site, what);
  }
}


/* metric = "1h" | "best effort" | false | { P1 = "30m", ... } */
static void
collect_targets(lua_State *L, pr_rules *r, rules_policy *p, const char *what,
                const char *metric, int val)
{
  if (lua_type(L, val) != LUA_TTABLE) {
    add_target(r, p, what, metric, NULL, val, L);
    return;
  }
  char where[128];
  snprintf(where, sizeof(where), "%s: %s", what, metric);
  size_t n;
  const char **levels = sorted_keys(L, r, &p->site, where, val, &n);
  if (n == 0 && lua_rawlen(L, val) == 0) {
    rules_problem(r, &p->site,
                  "%s: '%s' is empty (give { P1 = \"30m\", ... }, one "
                  "duration for every level, or \"best effort\")",
                  what, metric);
  }
  for (size_t i = 0; i < n; i++) {
    raw_field(L, val, levels[i]);
    add_target(r, p, what, metric, levels[i], lua_gettop(L), L);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


static void
body_policy(lua_State *L, pr_rules *r, long pi, int arg)
{
  rules_policy *p = &r->policies[pi];
  char what[96];
  snprintf(what, sizeof(what), "policy '%s'", p->name);
  p->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &p->site,
                  "%s: expects a table, as in policy \"%s\" { calendar = "
                  "\"business\", first_response = \"1h\" }",
                  what, p->name);
    return;
  }
  size_t n;
  const char **keys = sorted_keys(L, r, &p->site, what, arg, &n);
  for (size_t i = 0; i < n; i++) {
    raw_field(L, arg, keys[i]);
    int val = lua_gettop(L);
    if (strcmp(keys[i], "calendar") == 0) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, &p->site, "%s: calendar must be the name of a "
                      "calendar, not a %s", what, luaL_typename(L, val));
      } else if ((p->calendar = pr_strdup(lua_tostring(L, val))) == NULL) {
        rules_out_of_memory(r, &p->site, what);
      }
    } else if (!collect_match_key(L, r, &p->site, what, &p->m, keys[i],
                                  val)) {
      /* A built-in metric or one declared anywhere in the folder; checked
      ** at compile time. */
      collect_targets(L, r, p, what, keys[i], val);
    }
    lua_settop(L, val - 1);
  }
  lua_pop(L, 1);
}


static void
compile_policies(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_policies; i++) {
    rules_policy *p = &r->policies[i];
    char what[96];
    snprintf(what, sizeof(what), "policy '%s'", p->name);
    if (!p->complete) {
      rules_problem(r, &p->site,
                    "%s: no table follows the name, as in policy \"%s\" "
                    "{ ... }",
                    what, p->name);
      continue;
    }
    match_add_words(r, &p->site, what, &p->m);
    if (r->sla == NULL) {
      continue;
    }
    pr_calendar *cal = NULL;
    if (p->calendar != NULL) {
      size_t c = 0;
      while (c < r->n_cals && strcmp(r->cals[c].name, p->calendar) != 0) {
        c++;
      }
      if (c < r->n_cals) {
        cal = r->cals[c].cal;
        if (cal == NULL) {
          continue; /* the calendar's own problem is reported */
        }
      } else if (strcmp(p->calendar, "24x7") != 0) {
        pr_buf names;
        pr_buf_init(&names);
        for (size_t k = 0; k < r->n_cals; k++) {
          pr_buf_printf(&names, "%s'%s'", k ? ", " : "", r->cals[k].name);
        }
        rules_problem(r, &p->site, "%s: unknown calendar '%s' (%s%s)", what,
                      p->calendar,
                      r->n_cals ? "declared: " : "no calendar is declared",
                      pr_buf_cstr(&names));
        pr_buf_free(&names);
        continue;
      }
    }
    uint32_t index;
    if (pr_sla_set_add_policy(r->sla, p->name, cal, &index, err,
                              sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &p->site, "%s: %s", what, err);
      continue;
    }
    /* Which (metric, level) pairs a table gave, to find one given twice
    ** (by id and by name). */
    uint8_t seen[PR_SLA_MAX_METRICS][PR_SLA_MAX_LEVELS];
    memset(seen, 0, sizeof(seen));
    for (size_t t = 0; t < p->n_targets; t++) {
      const rules_target *tg = &p->targets[t];
      int m = pr_sla_set_metric_find(r->sla, tg->metric);
      if (m < 0) {
        if (t == 0 || strcmp(p->targets[t - 1].metric, tg->metric) != 0) {
          rules_problem(r, &p->site,
                        "%s: unknown key '%s' (known: calendar, "
                        "first_response, next_response, periodic_update, "
                        "resolution, words, tier, type, channel, queue, "
                        "status, attrs, when, or the name of a metric)",
                        what, tg->metric);
        }
        continue;
      }
      size_t from = 0, to = r->n_levels;
      char where[128];
      snprintf(where, sizeof(where), "%s%s%s", tg->metric,
               tg->level ? " " : "", tg->level ? tg->level : "");
      if (tg->level != NULL) {
        int l = pr_rules_level_find(r, tg->level);
        if (l < 0) {
          rules_problem(r, &p->site, "%s: %s: unknown level '%s'", what,
                        tg->metric, tg->level);
          continue;
        }
        if (seen[m][l]) {
          rules_problem(r, &p->site, "%s: %s: level '%s' is given twice",
                        what, tg->metric, r->levels[l].id);
          continue;
        }
        seen[m][l] = 1;
        from = (size_t)l;
        to = from + 1;
      }
      int64_t ms = PR_SLA_NONE;
      if (tg->bad_type != NULL) {
        rules_problem(r, &p->site,
                      "%s: %s: a target is a duration such as \"4h\", "
                      "\"best effort\" or false, not a %s",
                      what, where, tg->bad_type);
        continue;
      }
      if (tg->text != NULL && g_ascii_strcasecmp(tg->text, "best effort") &&
          duration_or_problem(r, &p->site, what, where, tg->text, 0, &ms)) {
        continue;
      }
      for (size_t l = from; l < to; l++) {
        if (pr_sla_set_target(r->sla, index, (uint32_t)l, (uint32_t)m, ms,
                              err, sizeof(err)) != PROMPTLY_OK) {
          rules_problem(r, &p->site, "%s", err);
          break;
        }
      }
    }
  }
}


/* --- pause_on { ... } and customer_wait { ... } --------------------------- */

typedef struct rules_pause_ctx {
  int kind;          /* 0 pause_on, 1 customer_wait */
} rules_pause_ctx;


static void
add_pause(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
          const char *status)
{
  (void)L;
  static const char *const decl[2] = {"pause_on", "customer_wait"};
  int kind = ((rules_pause_ctx *)ud)->kind;
  if (strspn(status, " \t") == strlen(status)) {
    rules_problem(r, site, "%s: a status is empty", decl[kind]);
    return;
  }
  for (size_t i = 0; i < r->n_pauses; i++) {
    rules_pause *p = &r->pauses[i];
    if (equal_folded(p->status, status)) {
      if (p->named[kind]) {
        rules_problem(r, site, "%s: '%s' is already given at %s",
                      decl[kind], status, p->decl[kind].where);
        return;
      }
      p->named[kind] = 1;
      p->decl[kind] = *site;
      p->customer_wait |= kind;
      return;
    }
  }
  long i = push_elem((void **)&r->pauses, &r->n_pauses, sizeof(rules_pause));
  if (i < 0) {
    rules_out_of_memory(r, site, decl[kind]);
    return;
  }
  rules_pause *p = &r->pauses[i];
  p->site = *site;
  p->decl[kind] = *site;
  p->named[kind] = 1;
  p->customer_wait = kind;
  if ((p->status = pr_strdup(status)) == NULL) {
    rules_out_of_memory(r, site, decl[kind]);
  }
}


static void
collect_pause_on(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  rules_pause_ctx ctx = {0};
  each_string(L, r, site, "pause_on", "pause_on", arg, add_pause, &ctx);
}


static void
collect_customer_wait(lua_State *L, pr_rules *r, const rules_site *site,
                      int arg)
{
  rules_pause_ctx ctx = {1};
  each_string(L, r, site, "customer_wait", "customer_wait", arg, add_pause,
              &ctx);
}


static void
compile_pauses(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; r->sla != NULL && i < r->n_pauses; i++) {
    const rules_pause *p = &r->pauses[i];
    if (pr_sla_set_add_pause(r->sla, p->status, p->customer_wait, err,
                             sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &p->site, "%s: %s",
                    p->named[0] ? "pause_on" : "customer_wait", err);
    }
  }
}


/* --- at_risk "75%" ---------------------------------------------------------- */

static void
collect_at_risk(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  int32_t permille;
  int64_t offset;
  if (r->at_risk != 0) {
    rules_problem(r, site, "at_risk: already declared at %s",
                  r->at_risk_site.where);
    return;
  }
  if (lua_type(L, arg) != LUA_TSTRING) {
    rules_problem(r, site, "at_risk: expects a share, as in at_risk \"75%%\"");
    return;
  }
  const char *text = lua_tostring(L, arg);
  int rc = parse_share(text, 0, &permille, &offset);
  if (rc == -1) {
    rules_problem(r, site, "at_risk: '%s' is not a share (write \"75%%\" "
                  "or \"87.5%%\")", text);
  } else if (rc == -2 || permille < 1 || permille > 1000) {
    rules_problem(r, site, "at_risk: '%s' is out of range (more than 0%% "
                  "and at most 100%%)", text);
  } else {
    r->at_risk = permille;
    r->at_risk_site = *site;
  }
}


static void
compile_at_risk(pr_rules *r)
{
  char err[512];
  if (r->sla != NULL && r->at_risk != 0 &&
      pr_sla_set_at_risk(r->sla, r->at_risk, err, sizeof(err)) !=
        PROMPTLY_OK) {
    rules_problem(r, &r->at_risk_site, "at_risk: %s", err);
  }
}


/* --- Actions ----------------------------------------------------------------
** The action keys of an `at` or `waiting` table, in the order the actions
** come out: determinism does not depend on Lua's pairs() order.  Each
** value may give one action or, for notify, a list of several. */

static const char *const action_keys[] = {
  "notify", "raise_priority", "set_priority", "reassign", "set_field",
  "note", "message", "remind_customer", "close", NULL
};

/* The argument name of the actions that take one string. */
static const struct {
  const char *action;
  const char *arg;
} action_string_args[] = {
  {"notify", "to"},       {"set_priority", "priority"},
  {"reassign", "to"},     {"note", "text"},
  {"message", "template"}, {"remind_customer", "template"},
};

#define ACTION_LIST "notify, raise_priority, set_priority, reassign, " \
                    "set_field, note, message, remind_customer, close"


static void
free_actions(rules_action *a, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(a[i].name);
    for (size_t j = 0; j < a[i].n_args; j++) {
      free(a[i].args[j].name);
      free(a[i].args[j].value);
    }
    free(a[i].args);
  }
  free(a);
}


typedef struct rules_actions {
  rules_action **v;
  size_t *n;
  const char *what;
} rules_actions;


/* Append an action with up to one argument (arg NULL: none); the action,
** or NULL after a problem. */
static rules_action *
push_action(pr_rules *r, const rules_site *site, rules_actions *acts,
            const char *name, const char *arg, const char *value)
{
  long i = push_elem((void **)acts->v, acts->n, sizeof(rules_action));
  if (i < 0) {
    rules_out_of_memory(r, site, acts->what);
    return NULL;
  }
  rules_action *a = &(*acts->v)[i];
  if ((a->name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, acts->what);
    return NULL;
  }
  if (arg != NULL) {
    long j = push_elem((void **)&a->args, &a->n_args, sizeof(rules_arg));
    if (j < 0 || (a->args[j].name = pr_strdup(arg)) == NULL ||
        (a->args[j].value = pr_strdup(value)) == NULL) {
      rules_out_of_memory(r, site, acts->what);
      return NULL;
    }
  }
  return a;
}


typedef struct rules_action_ctx {
  rules_actions *acts;
  const char *action;
  const char *arg;
} rules_action_ctx;


static void
add_string_action(lua_State *L, pr_rules *r, const rules_site *site,
                  void *ud, const char *s)
{
  (void)L;
  rules_action_ctx *ctx = ud;
  if (s[0] == '\0') {
    rules_problem(r, site, "%s: %s: the value is empty", ctx->acts->what,
                  ctx->action);
    return;
  }
  push_action(r, site, ctx->acts, ctx->action, ctx->arg, s);
}


static void
collect_set_field(lua_State *L, pr_rules *r, const rules_site *site,
                  rules_actions *acts, int val)
{
  char what[128], buf[64];
  snprintf(what, sizeof(what), "%s: set_field", acts->what);
  if (lua_type(L, val) != LUA_TTABLE) {
    rules_problem(r, site, "%s: expects a table of field = value, not a %s",
                  what, luaL_typename(L, val));
    return;
  }
  size_t n;
  const char **fields = sorted_keys(L, r, site, what, val, &n);
  if (n == 0) {
    rules_problem(r, site, "%s: no field (write set_field = { name = "
                  "\"value\" })", what);
    lua_pop(L, 1);
    return;
  }
  rules_action *a = push_action(r, site, acts, "set_field", NULL, NULL);
  for (size_t i = 0; a != NULL && i < n; i++) {
    raw_field(L, val, fields[i]);
    const char *v = value_text(L, -1, buf, sizeof(buf));
    if (lua_type(L, -1) == LUA_TBOOLEAN) {
      v = lua_toboolean(L, -1) ? "true" : "false";
    }
    if (v == NULL) {
      rules_problem(r, site, "%s: '%s' must be a string, number or "
                    "boolean, not a %s", what, fields[i],
                    luaL_typename(L, -1));
    } else {
      long j = push_elem((void **)&a->args, &a->n_args, sizeof(rules_arg));
      if (j < 0 || (a->args[j].name = pr_strdup(fields[i])) == NULL ||
          (a->args[j].value = pr_strdup(v)) == NULL) {
        rules_out_of_memory(r, site, what);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


/* The action keys of the table at arg, in action_keys order.  extra is a
** key that is no action but allowed here (NULL: none); unknown keys are
** problems. */
static void
collect_actions(lua_State *L, pr_rules *r, const rules_site *site,
                rules_actions *acts, int arg, const char *extra)
{
  size_t n;
  const char **keys = sorted_keys(L, r, site, acts->what, arg, &n);
  int any = 0, unknown = 0;
  for (size_t i = 0; i < n; i++) {
    if (in_list(action_keys, keys[i])) {
      any = 1;
    } else if (extra == NULL || strcmp(keys[i], extra) != 0) {
      unknown = 1;
      rules_problem(r, site, "%s: unknown action '%s' (known: " ACTION_LIST
                    "%s%s)", acts->what, keys[i], extra ? "; and " : "",
                    extra ? extra : "");
    }
  }
  lua_pop(L, 1);
  if (!any) {
    if (!unknown) {
      rules_problem(r, site, "%s: no action (give one of " ACTION_LIST ")",
                    acts->what);
    }
    return;
  }
  for (const char *const *k = action_keys; *k != NULL; k++) {
    if (raw_field(L, arg, *k) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    int val = lua_gettop(L);
    const char *arg_name = NULL;
    for (size_t i = 0;
         i < sizeof(action_string_args) / sizeof(*action_string_args); i++) {
      if (strcmp(action_string_args[i].action, *k) == 0) {
        arg_name = action_string_args[i].arg;
      }
    }
    if (strcmp(*k, "notify") == 0) {
      rules_action_ctx ctx = {acts, *k, arg_name};
      each_string(L, r, site, acts->what, *k, val, add_string_action, &ctx);
    } else if (arg_name != NULL) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, site, "%s: %s must be a string, not a %s",
                      acts->what, *k, luaL_typename(L, val));
      } else {
        rules_action_ctx ctx = {acts, *k, arg_name};
        add_string_action(L, r, site, &ctx, lua_tostring(L, val));
      }
    } else if (strcmp(*k, "raise_priority") == 0) {
      lua_Integer by = lua_isinteger(L, val) ? lua_tointeger(L, val) : 0;
      if (by < 1 || by >= PR_SLA_MAX_LEVELS) {
        rules_problem(r, site, "%s: raise_priority must be a whole number "
                      "of levels from 1 to %d", acts->what,
                      PR_SLA_MAX_LEVELS - 1);
      } else {
        char num[16];
        snprintf(num, sizeof(num), "%d", (int)by);
        push_action(r, site, acts, *k, "by", num);
      }
    } else if (strcmp(*k, "set_field") == 0) {
      collect_set_field(L, r, site, acts, val);
    } else { /* close */
      if (lua_type(L, val) != LUA_TBOOLEAN) {
        rules_problem(r, site, "%s: close must be true or false, not a %s",
                      acts->what, luaL_typename(L, val));
      } else if (lua_toboolean(L, val)) {
        push_action(r, site, acts, *k, NULL, NULL);
      }
    }
    lua_settop(L, val - 1);
  }
}


/* Hand the actions to the SLA set through add (threshold or wait index
** i); set_priority names a level, which becomes its canonical id. */
static void
compile_actions(pr_rules *r, const rules_site *site, const char *what,
                const rules_action *v, size_t n, uint32_t i,
                int (*add)(pr_sla_set *s, uint32_t i, const char *name,
                           const pr_kv *args, uint32_t n_args, char *err,
                           size_t errlen))
{
  char err[512];
  for (size_t a = 0; a < n; a++) {
    pr_kv args[64];
    uint32_t n_args = 0;
    for (size_t k = 0; k < v[a].n_args && n_args < 64; k++) {
      args[n_args].name = v[a].args[k].name;
      args[n_args++].value = v[a].args[k].value;
    }
    if (v[a].n_args > 64) {
      rules_problem(r, site, "%s: %s: too many fields (at most 64)", what,
                    v[a].name);
      continue;
    }
    if (strcmp(v[a].name, "set_priority") == 0 && n_args > 0) {
      int l = pr_rules_level_find(r, args[0].value);
      if (l < 0) {
        rules_problem(r, site, "%s: set_priority: unknown level '%s'", what,
                      args[0].value);
        continue;
      }
      args[0].value = r->levels[l].id;
    }
    if (add(r->sla, i, v[a].name, args, n_args, err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, site, "%s: %s", what, err);
    }
  }
}


/* --- at "75%" { ... } ------------------------------------------------------- */

static void
free_at(rules_at *a)
{
  free(a->text);
  free_strs(a->metrics, a->n_metrics);
  free_actions(a->actions, a->n_actions);
}


static long
open_at(lua_State *L, pr_rules *r, const rules_site *site, const char *text)
{
  (void)L;
  int32_t permille = 0;
  int64_t offset = 0;
  int rc = parse_share(text, 1, &permille, &offset);
  if (rc == -1) {
    rules_problem(r, site, "at: '%s' is not a share of the target (write "
                  SHARE_FORMS ")", text);
    return -1;
  }
  if (rc == -2 || permille < 1 || permille > 10000) {
    rules_problem(r, site, "at: '%s' is out of range (more than 0%%, at "
                  "most 1000%%, plus at most 10 years)", text);
    return -1;
  }
  for (size_t i = 0; i < r->n_ats; i++) {
    if (r->ats[i].permille == permille && r->ats[i].offset_ms == offset) {
      rules_problem(r, site, "at '%s': already declared at %s", text,
                    r->ats[i].site.where);
      return -1;
    }
  }
  long i = push_elem((void **)&r->ats, &r->n_ats, sizeof(rules_at));
  if (i < 0) {
    rules_out_of_memory(r, site, "at");
    return -1;
  }
  r->ats[i].site = *site;
  r->ats[i].permille = permille;
  r->ats[i].offset_ms = offset;
  if ((r->ats[i].text = pr_strdup(text)) == NULL) {
    rules_out_of_memory(r, site, "at");
    return -1;
  }
  return i;
}


static void
body_at(lua_State *L, pr_rules *r, long ai, int arg)
{
  rules_at *a = &r->ats[ai];
  char what[96];
  snprintf(what, sizeof(what), "at '%s'", a->text);
  a->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &a->site, "%s: expects a table of actions, as in "
                  "at \"%s\" { notify = \"team-lead\" }", what, a->text);
    return;
  }
  rules_actions acts = {&a->actions, &a->n_actions, what};
  collect_actions(L, r, &a->site, &acts, arg, "metrics");
  if (raw_field(L, arg, "metrics") != LUA_TNIL) {
    rules_strs st = {&a->metrics, &a->n_metrics, what};
    each_string(L, r, &a->site, what, "metrics", -1, add_name, &st);
  }
  lua_pop(L, 1);
}


static void
compile_ats(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_ats; i++) {
    const rules_at *a = &r->ats[i];
    char what[96];
    snprintf(what, sizeof(what), "at '%s'", a->text);
    if (!a->complete) {
      rules_problem(r, &a->site, "%s: no table of actions follows, as in "
                    "at \"%s\" { notify = \"manager\" }", what, a->text);
      continue;
    }
    if (r->sla == NULL) {
      continue;
    }
    uint32_t mask = metric_mask(r, &a->site, what, a->metrics,
                                a->n_metrics);
    uint32_t index;
    if (pr_sla_set_add_threshold(r->sla, a->permille, a->offset_ms, mask,
                                 &index, err, sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &a->site, "%s: %s", what, err);
      continue;
    }
    compile_actions(r, &a->site, what, a->actions, a->n_actions, index,
                    pr_sla_set_threshold_action);
  }
}


/* --- waiting "24h" { ... }, remind_customer_after, close_after ------------ */

static void
free_wait(rules_wait *w)
{
  free(w->text);
  free_actions(w->actions, w->n_actions);
}


static long
new_wait(pr_rules *r, const rules_site *site, const char *decl,
         const char *text)
{
  int64_t ms;
  if (duration_or_problem(r, site, decl, "after", text, 0, &ms) != 0) {
    return -1;
  }
  long i = push_elem((void **)&r->waits, &r->n_waits, sizeof(rules_wait));
  if (i < 0) {
    rules_out_of_memory(r, site, decl);
    return -1;
  }
  r->waits[i].site = *site;
  r->waits[i].after_ms = ms;
  if ((r->waits[i].text = pr_strdup(text)) == NULL) {
    rules_out_of_memory(r, site, decl);
    return -1;
  }
  return i;
}


static long
open_waiting(lua_State *L, pr_rules *r, const rules_site *site,
             const char *text)
{
  (void)L;
  return new_wait(r, site, "waiting", text);
}


static void
body_waiting(lua_State *L, pr_rules *r, long wi, int arg)
{
  rules_wait *w = &r->waits[wi];
  char what[96];
  snprintf(what, sizeof(what), "waiting '%s'", w->text);
  w->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &w->site, "%s: expects a table of actions, as in "
                  "waiting \"%s\" { remind_customer = \"reminder\" }", what,
                  w->text);
    return;
  }
  rules_actions acts = {&w->actions, &w->n_actions, what};
  collect_actions(L, r, &w->site, &acts, arg, NULL);
}


typedef struct rules_remind_ctx {
  const char *template_name;
} rules_remind_ctx;


static void
add_remind(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
           const char *text)
{
  (void)L;
  rules_remind_ctx *ctx = ud;
  long i = new_wait(r, site, "remind_customer_after", text);
  if (i < 0) {
    return;
  }
  r->waits[i].complete = 1;
  rules_actions acts = {&r->waits[i].actions, &r->waits[i].n_actions,
                        "remind_customer_after"};
  push_action(r, site, &acts, "remind_customer", "template",
              ctx->template_name);
}


/* remind_customer_after { "24h", "48h", template = "reminder" } */
static void
collect_remind_after(lua_State *L, pr_rules *r, const rules_site *site,
                     int arg)
{
  rules_remind_ctx ctx = {"reminder"};
  size_t n;
  if (lua_type(L, arg) == LUA_TSTRING) {
    add_remind(L, r, site, &ctx, lua_tostring(L, arg));
    return;
  }
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, site, "remind_customer_after: expects durations, as "
                  "in remind_customer_after { \"24h\", \"48h\" }");
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING &&
        strcmp(lua_tostring(L, -1), "template") != 0) {
      rules_problem(r, site, "remind_customer_after: unknown key '%s' "
                    "(known: template)", lua_tostring(L, -1));
    }
  }
  if (raw_field(L, arg, "template") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0') {
      rules_problem(r, site, "remind_customer_after: template must be the "
                    "name of a message template");
      return;
    }
    ctx.template_name = lua_tostring(L, -1);
  }
  size_t len = (size_t)lua_rawlen(L, arg);
  if (len == 0) {
    rules_problem(r, site, "remind_customer_after: no duration (write "
                  "remind_customer_after { \"24h\", \"48h\" })");
  }
  for (n = 1; n <= len; n++) {
    lua_rawgeti(L, arg, (lua_Integer)n);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "remind_customer_after: entry %zu is a %s, "
                    "not a duration", n, luaL_typename(L, -1));
    } else {
      add_remind(L, r, site, &ctx, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


/* close_after "7d" */
static void
collect_close_after(lua_State *L, pr_rules *r, const rules_site *site,
                    int arg)
{
  if (lua_type(L, arg) != LUA_TSTRING) {
    rules_problem(r, site, "close_after: expects a duration, as in "
                  "close_after \"7d\"");
    return;
  }
  long i = new_wait(r, site, "close_after", lua_tostring(L, arg));
  if (i < 0) {
    return;
  }
  r->waits[i].complete = 1;
  rules_actions acts = {&r->waits[i].actions, &r->waits[i].n_actions,
                        "close_after"};
  push_action(r, site, &acts, "close", NULL, NULL);
}


/* Declarations for the same wait join, in file order: one timer each. */
static void
compile_waits(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_waits; i++) {
    const rules_wait *w = &r->waits[i];
    char what[96];
    snprintf(what, sizeof(what), "waiting '%s'", w->text);
    if (!w->complete) {
      rules_problem(r, &w->site, "%s: no table of actions follows, as in "
                    "waiting \"%s\" { close = true }", what, w->text);
      continue;
    }
    size_t first = 0;
    while (r->waits[first].after_ms != w->after_ms) {
      first++;
    }
    if (r->sla == NULL || first < i) {
      continue; /* joined into the first one */
    }
    uint32_t index;
    if (pr_sla_set_add_wait(r->sla, w->after_ms, &index, err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &w->site, "%s: %s", what, err);
      continue;
    }
    for (size_t j = i; j < r->n_waits; j++) {
      if (r->waits[j].after_ms == w->after_ms && r->waits[j].complete) {
        compile_actions(r, &r->waits[j].site, what, r->waits[j].actions,
                        r->waits[j].n_actions, index,
                        pr_sla_set_wait_action);
      }
    }
  }
}


/* --- exception "name" { extend = "4h" | exclude = true, ... } -------------- */

static void
free_exc(rules_exc *e)
{
  free(e->name);
  free_strs(e->metrics, e->n_metrics);
  free(e->reason);
  free(e->attr);
  free(e->reason_attr);
}


static long
open_exception(lua_State *L, pr_rules *r, const rules_site *site,
               const char *name)
{
  (void)L;
  if (name[0] == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    rules_problem(r, site, "exception: a name needs 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
    return -1;
  }
  for (size_t i = 0; i < r->n_excs; i++) {
    if (equal_folded(r->excs[i].name, name)) {
      rules_problem(r, site, "exception '%s': already declared at %s", name,
                    r->excs[i].site.where);
      return -1;
    }
  }
  long i = push_elem((void **)&r->excs, &r->n_excs, sizeof(rules_exc));
  if (i < 0) {
    rules_out_of_memory(r, site, "exception");
    return -1;
  }
  r->excs[i].site = *site;
  r->excs[i].kind = -1;
  if ((r->excs[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "exception");
    return -1;
  }
  return i;
}


static void
body_exception(lua_State *L, pr_rules *r, long ei, int arg)
{
  static const char *const keys_known[] = {
    "extend", "exclude", "metrics", "reason", "attr", NULL
  };
  rules_exc *e = &r->excs[ei];
  char what[96];
  snprintf(what, sizeof(what), "exception '%s'", e->name);
  e->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &e->site, "%s: expects a table, as in exception \"%s\" "
                  "{ extend = \"4h\", reason = \"...\" }", what, e->name);
    return;
  }
  size_t n;
  const char **keys = sorted_keys(L, r, &e->site, what, arg, &n);
  for (size_t i = 0; i < n; i++) {
    if (!in_list(keys_known, keys[i])) {
      rules_problem(r, &e->site, "%s: unknown key '%s' (known: extend, "
                    "exclude, metrics, reason, attr)", what, keys[i]);
    }
  }
  lua_pop(L, 1);
  int extend = raw_field(L, arg, "extend") != LUA_TNIL;
  if (extend) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &e->site, "%s: extend must be a duration such as "
                    "\"4h\"", what);
    } else if (duration_or_problem(r, &e->site, what, "extend",
                                   lua_tostring(L, -1), 0,
                                   &e->extend_ms) == 0) {
      e->kind = PR_SLA_EXC_EXTEND;
    }
  }
  lua_pop(L, 1);
  int exclude = raw_field(L, arg, "exclude");
  if (exclude != LUA_TNIL && (exclude != LUA_TBOOLEAN ||
                              !lua_toboolean(L, -1))) {
    rules_problem(r, &e->site, "%s: exclude can only be true", what);
  } else if (exclude != LUA_TNIL) {
    e->kind = PR_SLA_EXC_EXCLUDE;
  }
  lua_pop(L, 1);
  if (extend && exclude != LUA_TNIL) {
    rules_problem(r, &e->site, "%s: give extend or exclude, not both", what);
  } else if (!extend && exclude == LUA_TNIL) {
    rules_problem(r, &e->site, "%s: give extend = \"4h\" (more time) or "
                  "exclude = true (no SLA)", what);
  }
  if (raw_field(L, arg, "metrics") != LUA_TNIL) {
    if (exclude != LUA_TNIL) {
      rules_problem(r, &e->site, "%s: metrics go with extend only (exclude "
                    "stops every clock)", what);
    } else {
      rules_strs st = {&e->metrics, &e->n_metrics, what};
      each_string(L, r, &e->site, what, "metrics", -1, add_name, &st);
    }
  }
  lua_pop(L, 1);
  static const char *const str_keys[] = {"reason", "attr"};
  char **dst[] = {&e->reason, &e->attr};
  for (size_t k = 0; k < 2; k++) {
    if (raw_field(L, arg, str_keys[k]) != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0') {
        rules_problem(r, &e->site, "%s: %s must be a non-empty string",
                      what, str_keys[k]);
      } else if ((*dst[k] = pr_strdup(lua_tostring(L, -1))) == NULL) {
        rules_out_of_memory(r, &e->site, what);
      }
    }
    lua_pop(L, 1);
  }
}


static void
compile_exceptions(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_excs; i++) {
    rules_exc *e = &r->excs[i];
    char what[96];
    snprintf(what, sizeof(what), "exception '%s'", e->name);
    if (!e->complete) {
      rules_problem(r, &e->site, "%s: no table follows the name, as in "
                    "exception \"%s\" { extend = \"4h\" }", what, e->name);
      continue;
    }
    const char *attr = e->attr != NULL ? e->attr : "sla_exception";
    size_t len = strlen(attr) + sizeof("_reason");
    if ((e->reason_attr = malloc(len)) == NULL) {
      rules_out_of_memory(r, &e->site, what);
      continue;
    }
    snprintf(e->reason_attr, len, "%s_reason", attr);
    if (r->sla == NULL || e->kind < 0) {
      continue;
    }
    uint32_t mask = metric_mask(r, &e->site, what, e->metrics, e->n_metrics);
    if (pr_sla_set_add_exception(r->sla, e->name, e->reason, e->kind,
                                 e->extend_ms, mask, NULL, err,
                                 sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &e->site, "%s: %s", what, err);
    }
  }
}


/* After every row: the set is complete. */
static void
seal_sla(pr_rules *r)
{
  char err[512];
  if (r->sla != NULL && r->n_problems == 0 &&
      pr_sla_set_seal(r->sla, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, NULL, "SLA: %s", err);
  }
}


/* --- The declaration registry --------------------------------------------- */

typedef struct rules_decl {
  const char *name;  /* the global that rule files call */
  /* The plain form, name { ... } or name "x": check the argument at arg
  ** and collect it.  Never raises on bad input: reports a problem. */
  void (*collect)(lua_State *L, pr_rules *r, const rules_site *site,
                  int arg);
  /* The named form, name "x" { ... }: open registers the name and returns
  ** an entry (-1 after a problem); body collects the table at arg. */
  long (*open)(lua_State *L, pr_rules *r, const rules_site *site,
               const char *name);
  void (*body)(lua_State *L, pr_rules *r, long entry, int arg);
  /* After every file loaded, in this table's order. */
  void (*compile)(pr_rules *r);
} rules_decl;

static const rules_decl rules_decls[] = {
  {"levels",           collect_levels,   NULL,          NULL,
   compile_levels},
  {"default_priority", collect_default,  NULL,          NULL,
   NULL},
  {"priority",         collect_priority, NULL,          NULL,
   compile_priorities},
  {"calendar",         NULL,             open_calendar, body_calendar,
   compile_calendars},
  /* The SLA rows: the set begins with the metrics (custom metrics must
  ** exist before policies and thresholds name them), and is sealed after
  ** the last row (seal_sla). */
  {"metric",           NULL,             open_metric,   body_metric,
   compile_metrics},
  {"policy",           NULL,             open_policy,   body_policy,
   compile_policies},
  {"pause_on",         collect_pause_on, NULL,          NULL,
   compile_pauses},
  {"customer_wait",    collect_customer_wait, NULL,     NULL,
   NULL},
  {"at_risk",          collect_at_risk,  NULL,          NULL,
   compile_at_risk},
  {"at",               NULL,             open_at,       body_at,
   compile_ats},
  {"waiting",          NULL,             open_waiting,  body_waiting,
   compile_waits},
  {"remind_customer_after", collect_remind_after, NULL, NULL,
   NULL},
  {"close_after",      collect_close_after, NULL,       NULL,
   NULL},
  {"exception",        NULL,             open_exception, body_exception,
   compile_exceptions},
  {NULL, NULL, NULL, NULL, NULL}
};


static pr_rules *
rules_of_upvalue(lua_State *L, const rules_decl **d)
{
  pr_rules *r = lua_touserdata(L, lua_upvalueindex(1));
  *d = &rules_decls[lua_tointeger(L, lua_upvalueindex(2))];
  if (!r->loading) {
    luaL_error(L, "%s: declarations are only allowed while the rules load",
               (*d)->name);
  }
  return r;
}


static int
l_rules_noop(lua_State *L)
{
  (void)L;
  return 0;
}


/* name "x" { ... }: the second call. */
static int
l_rules_body(lua_State *L)
{
  const rules_decl *d;
  pr_rules *r = rules_of_upvalue(L, &d);
  d->body(L, r, (long)lua_tointeger(L, lua_upvalueindex(3)), 1);
  return 0;
}


static int
l_rules_declare(lua_State *L)
{
  const rules_decl *d;
  pr_rules *r = rules_of_upvalue(L, &d);
  rules_site site;
  site_here(L, &site);
  if (d->collect != NULL) {
    d->collect(L, r, &site, 1);
    return 0;
  }
  long entry = -1;
  if (lua_type(L, 1) != LUA_TSTRING) {
    rules_problem(r, &site, "%s: expects a name, as in %s \"name\" { ... }",
                  d->name, d->name);
  } else {
    entry = d->open(L, r, &site, lua_tostring(L, 1));
  }
  if (entry < 0) {
    /* Swallow the table that follows, so the file goes on. */
    lua_pushcfunction(L, l_rules_noop);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushinteger(L, entry);
  lua_pushcclosure(L, l_rules_body, 3);
  return 1;
}


static int
l_rules_readonly(lua_State *L)
{
  return luaL_error(L, "the ticket's attributes are read-only");
}


static int
rules_register(lua_State *L)
{
  pr_rules *r = lua_touserdata(L, 1);
  for (lua_Integer i = 0; rules_decls[i].name != NULL; i++) {
    lua_pushlightuserdata(L, r);
    lua_pushinteger(L, i);
    lua_pushcclosure(L, l_rules_declare, 2);
    lua_setglobal(L, rules_decls[i].name);
  }
  /* The metatable of the tables `when` functions get. */
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, l_rules_readonly);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  r->ticket_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}


/* --- Loading -------------------------------------------------------------- */

static int
cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}


/* The *.lua files of dir (regular files, no dot files), in byte order. */
static int
list_files(pr_rules *r, char *err, size_t errlen)
{
  DIR *d = opendir(r->dir);
  if (d == NULL) {
    return pr_err(err, errlen, PROMPTLY_EIO, "rules folder %s: %s", r->dir,
                  strerror(errno));
  }
  struct dirent *e;
  int rc = PROMPTLY_OK;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.' || n < 5 ||
        strcmp(e->d_name + n - 4, ".lua") != 0) {
      continue;
    }
    char *path = g_build_filename(r->dir, e->d_name, NULL);
    struct stat st;
    int regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    g_free(path);
    if (regular && push_str(&r->files, &r->n_files, e->d_name) != 0) {
      rc = pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
      break;
    }
  }
  closedir(d);
  if (rc == PROMPTLY_OK && r->n_files > 1) {
    qsort(r->files, r->n_files, sizeof(char *), cmp_names);
  }
  return rc;
}


static void
load_file(pr_rules *r, const char *name)
{
  char *path = g_build_filename(r->dir, name, NULL);
  char *src = NULL;
  size_t len = 0;
  GError *gerr = NULL;
  rules_site site;
  snprintf(site.where, sizeof(site.where), "%s", name);

  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size > RULES_FILE_MAX) {
    /* Refused before reading it in. */
    rules_problem(r, NULL, "%s: too large (%lld bytes, at most %zu)", name,
                  (long long)st.st_size, RULES_FILE_MAX);
  } else if (!g_file_get_contents(path, &src, &len, &gerr)) {
    rules_problem(r, NULL, "%s: cannot read: %s", name, gerr->message);
    g_error_free(gerr);
  } else if (len > RULES_FILE_MAX) {
    rules_problem(r, NULL, "%s: too large (%zu bytes, at most %zu)", name,
                  len, RULES_FILE_MAX);
  } else {
    char msg[RULES_MSG_MAX];
    if (pr_sandbox_exec(r->sb, name, src, len, msg, sizeof(msg)) !=
        PROMPTLY_OK) {
      /* Lua's message has file:line, except for a memory error. */
      if (strncmp(msg, name, strlen(name)) == 0) {
        rules_problem(r, NULL, "%s", msg);
      } else {
        rules_problem(r, NULL, "%s: %s", name, msg);
      }
    }
  }
  g_free(src);
  g_free(path);
}


int
pr_rules_load(const char *dir, const pr_rules_opts *opts, pr_rules **out,
              char *err, size_t errlen)
{
  if (dir == NULL || opts == NULL || out == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  pr_rules *r = calloc(1, sizeof(*r));
  if (r == NULL || (r->dir = pr_strdup(dir)) == NULL) {
    free(r);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  r->opts = *opts;
  if (r->opts.mem_cap == 0) {
    r->opts.mem_cap = PR_RULES_MEM_CAP;
  }
  if (r->opts.budget == 0) {
    r->opts.budget = PR_RULES_BUDGET;
  }
  r->ticket_mt_ref = LUA_NOREF;

  int rc = list_files(r, err, errlen);
  if (rc != PROMPTLY_OK) {
    pr_rules_free(r);
    return rc;
  }
  rc = pr_sandbox_new(r->opts.mem_cap, r->opts.budget, r->opts.log,
                      r->opts.log_ud, &r->sb, err, errlen);
  if (rc != PROMPTLY_OK) {
    pr_rules_free(r);
    return rc;
  }
  char why[RULES_MSG_MAX];
  if (pr_sandbox_run(r->sb, rules_register, r, why, sizeof(why)) !=
      PROMPTLY_OK) {
    pr_rules_free(r);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "rules: %s", why);
  }

  r->loading = 1;
  for (size_t i = 0; i < r->n_files; i++) {
    load_file(r, r->files[i]);
  }
  r->loading = 0;
  for (const rules_decl *d = rules_decls; d->name != NULL; d++) {
    if (d->compile != NULL) {
      d->compile(r);
    }
  }
  compile_keywords(r);
  seal_sla(r);

  if (r->n_problems > 0) {
    if (r->n_problems == 1) {
      pr_err(err, errlen, PROMPTLY_ERULE, "%s", r->first_problem);
    } else {
      pr_err(err, errlen, PROMPTLY_ERULE, "%s (and %zu more problems)",
             r->first_problem ? r->first_problem : "out of memory",
             r->n_problems - 1);
    }
    pr_rules_free(r);
    return PROMPTLY_ERULE;
  }
  *out = r;
  return PROMPTLY_OK;
}


void
pr_rules_free(pr_rules *r)
{
  if (r == NULL) {
    return;
  }
  pr_sandbox_free(r->sb);
  /* The set borrows the calendars: free it first. */
  pr_sla_set_free(r->sla);
  for (size_t i = 0; i < r->n_prios; i++) {
    free(r->prios[i].level_text);
    free_match(&r->prios[i].m);
  }
  free(r->prios);
  for (size_t i = 0; i < r->n_metrics; i++) {
    free_metric(&r->metrics[i]);
  }
  free(r->metrics);
  for (size_t i = 0; i < r->n_policies; i++) {
    free_policy(&r->policies[i]);
  }
  free(r->policies);
  for (size_t i = 0; i < r->n_pauses; i++) {
    free(r->pauses[i].status);
  }
  free(r->pauses);
  for (size_t i = 0; i < r->n_ats; i++) {
    free_at(&r->ats[i]);
  }
  free(r->ats);
  for (size_t i = 0; i < r->n_waits; i++) {
    free_wait(&r->waits[i]);
  }
  free(r->waits);
  for (size_t i = 0; i < r->n_excs; i++) {
    free_exc(&r->excs[i]);
  }
  free(r->excs);
  pr_matcher_free(r->matcher);
  for (size_t i = 0; i < r->n_cals; i++) {
    free_cal(&r->cals[i]);
  }
  free(r->cals);
  free_levels(r);
  free(r->default_text);
  free_strs(r->files, r->n_files);
  free(r->first_problem);
  free(r->dir);
  free(r);
}


/* --- Queries -------------------------------------------------------------- */

size_t
pr_rules_file_count(const pr_rules *r)
{
  return r->n_files;
}


size_t
pr_rules_level_count(const pr_rules *r)
{
  return r->n_levels;
}


const char *
pr_rules_level_id(const pr_rules *r, size_t i)
{
  return i < r->n_levels ? r->levels[i].id : NULL;
}


const char *
pr_rules_level_name(const pr_rules *r, size_t i)
{
  if (i >= r->n_levels) {
    return NULL;
  }
  return r->levels[i].name != NULL ? r->levels[i].name : r->levels[i].id;
}


int
pr_rules_level_find(const pr_rules *r, const char *id_or_name)
{
  if (id_or_name == NULL) {
    return -1;
  }
  for (size_t i = 0; i < r->n_levels; i++) {
    if (equal_folded(r->levels[i].id, id_or_name)) {
      return (int)i;
    }
  }
  for (size_t i = 0; i < r->n_levels; i++) {
    if (r->levels[i].name != NULL &&
        equal_folded(r->levels[i].name, id_or_name)) {
      return (int)i;
    }
  }
  return -1;
}


size_t
pr_rules_default_level(const pr_rules *r)
{
  return r->default_level;
}


struct pr_calendar *
pr_rules_calendar(const pr_rules *r, const char *name)
{
  for (size_t i = 0; name != NULL && i < r->n_cals; i++) {
    if (strcmp(r->cals[i].name, name) == 0) {
      return r->cals[i].cal;
    }
  }
  return NULL;
}


/* --- Verdicts ------------------------------------------------------------- */

typedef struct rules_eval {
  pr_rules *r;
  int64_t ticket;
  const pr_kv *attrs;
  size_t n_attrs;
  const uint64_t *hits;
  size_t next;     /* the rule or policy to look at next */
  long matched;    /* the rule that matched, or -1 */
  uint64_t need;   /* policies whose `when` still has to run */
  uint64_t mask;   /* policies that match */
} rules_eval;


static const char *
attr_value(const pr_kv *attrs, size_t n_attrs, const char *name)
{
  for (size_t i = 0; i < n_attrs; i++) {
    if (attrs[i].name != NULL && attrs[i].value != NULL &&
        g_ascii_strcasecmp(attrs[i].name, name) == 0) {
      return attrs[i].value;
    }
  }
  return NULL;
}


/* Whether the conditions of m that need no Lua hold. */
static int
match_holds(const rules_eval *ev, const rules_match *m)
{
  if (m->n_words > 0) {
    int any = 0;
    for (size_t w = 0; !any && ev->hits != NULL && w < m->n_words; w++) {
      any = pr_matcher_hit(ev->hits, m->word_ids[w]);
    }
    if (!any) {
      return 0;
    }
  }
  for (size_t c = 0; c < m->n_conds; c++) {
    const char *v = attr_value(ev->attrs, ev->n_attrs, m->conds[c].attr);
    if (v == NULL) {
      return 0;
    }
    char *valid = g_utf8_make_valid(v, -1);
    char *f = fold_value(valid);
    g_free(valid);
    int any = 0;
    for (size_t i = 0; f != NULL && !any && i < m->conds[c].n_values; i++) {
      any = strcmp(f, m->conds[c].values[i]) == 0;
    }
    g_free(f);
    if (!any) {
      return 0;
    }
  }
  return 1;
}


/* Scan subject and body once for every keyword of the rule set; *hits is
** NULL when there are none, else the caller frees it. */
static int
scan_words(pr_rules *r, const rules_eval *ev, uint64_t **hits, char *err,
           size_t errlen)
{
  *hits = NULL;
  size_t n_kw = r->matcher != NULL ? pr_matcher_count(r->matcher) : 0;
  if (n_kw == 0) {
    return PROMPTLY_OK;
  }
  uint64_t *h = calloc(PR_MATCHER_WORDS(n_kw), sizeof(uint64_t));
  if (h == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  /* Subject and body separately: a phrase does not run from one into the
  ** other. */
  static const char *const texts[] = {"subject", "body"};
  for (size_t i = 0; i < 2; i++) {
    const char *text = attr_value(ev->attrs, ev->n_attrs, texts[i]);
    if (text != NULL &&
        pr_matcher_scan(r->matcher, text, strlen(text), h, NULL) !=
          PROMPTLY_OK) {
      free(h);
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }
  *hits = h;
  return PROMPTLY_OK;
}


/* In Lua: the read-only table `when` functions get, left on the stack. */
static int
push_ticket(lua_State *L, const rules_eval *ev)
{
  lua_createtable(L, 0, (int)ev->n_attrs + 1);
  for (size_t i = 0; i < ev->n_attrs; i++) {
    if (ev->attrs[i].name != NULL && ev->attrs[i].value != NULL) {
      lua_pushstring(L, ev->attrs[i].value);
      lua_setfield(L, -2, ev->attrs[i].name);
    }
  }
  lua_pushinteger(L, ev->ticket);
  lua_setfield(L, -2, "id");
  lua_rawgeti(L, LUA_REGISTRYINDEX, ev->r->ticket_mt_ref);
  lua_setmetatable(L, -2);
  return lua_gettop(L);
}


/* Call the `when` function ref with the ticket table at t. */
static int
call_when(lua_State *L, int ref, int t)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushvalue(L, t);
  lua_call(L, 1, 1);
  int yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}


/* Report a failed `when` as "file:line: message" (the function's own
** position when Lua gives one, else the declaration's). */
static int
when_failed(pr_rules *r, int rc, const char *msg, const rules_site *site,
            const char *what, char *err, size_t errlen)
{
  if (strstr(msg, ".lua:") != NULL) {
    pr_err(err, errlen, rc, "%s", msg);
  } else {
    pr_err(err, errlen, rc, "%s: %s: %s", site->where, what, msg);
  }
  if (r->opts.log != NULL && pr_sandbox_traceback(r->sb)[0] != '\0') {
    r->opts.log(r->opts.log_ud, PROMPTLY_LOG_DEBUG,
                pr_sandbox_traceback(r->sb));
  }
  return rc;
}


/* In Lua: walk the rules from ev->next on, calling `when` functions with
** one table of the ticket's attributes, under one budget. */
static int
rules_eval_lua(lua_State *L)
{
  rules_eval *ev = lua_touserdata(L, 1);
  pr_rules *r = ev->r;
  int t = push_ticket(L, ev);
  for (; ev->next < r->n_prios; ev->next++) {
    const rules_prio *p = &r->prios[ev->next];
    if (!match_holds(ev, &p->m)) {
      continue;
    }
    if (p->m.when_ref != LUA_NOREF && !call_when(L, p->m.when_ref, t)) {
      continue;
    }
    ev->matched = (long)ev->next;
    return 0;
  }
  return 0;
}


int
pr_rules_priority(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                  size_t n_attrs, size_t *level, const char **why, char *err,
                  size_t errlen)
{
  if (r == NULL || level == NULL || (attrs == NULL && n_attrs > 0)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  rules_eval ev = {
    .r = r, .ticket = ticket, .attrs = attrs, .n_attrs = n_attrs,
    .hits = NULL, .next = 0, .matched = -1,
  };
  uint64_t *hits;
  int rc = scan_words(r, &ev, &hits, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  ev.hits = hits;

  for (; ev.next < r->n_prios; ev.next++) {
    const rules_prio *p = &r->prios[ev.next];
    if (p->m.when_ref != LUA_NOREF && match_holds(&ev, &p->m)) {
      /* From the first rule that needs Lua, go on inside Lua. */
      char msg[RULES_MSG_MAX];
      rc = pr_sandbox_run(r->sb, rules_eval_lua, &ev, msg, sizeof(msg));
      if (rc != PROMPTLY_OK) {
        const rules_prio *at = &r->prios[ev.next < r->n_prios ? ev.next : 0];
        when_failed(r, rc, msg, &at->site, "priority", err, errlen);
      }
      break;
    }
    if (match_holds(&ev, &p->m)) {
      ev.matched = (long)ev.next;
      break;
    }
  }
  free(hits);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (ev.matched >= 0) {
    *level = r->prios[ev.matched].level;
    if (why != NULL) {
      *why = r->prios[ev.matched].site.where;
    }
  } else {
    *level = r->default_level;
    if (why != NULL) {
      *why = NULL;
    }
  }
  return PROMPTLY_OK;
}


/* In Lua: the `when` functions of the policies in ev->need, in order. */
static int
rules_policies_lua(lua_State *L)
{
  rules_eval *ev = lua_touserdata(L, 1);
  pr_rules *r = ev->r;
  int t = push_ticket(L, ev);
  for (ev->next = 0; ev->next < r->n_policies; ev->next++) {
    uint64_t bit = (uint64_t)1 << ev->next;
    if ((ev->need & bit) &&
        call_when(L, r->policies[ev->next].m.when_ref, t)) {
      ev->mask |= bit;
    }
  }
  return 0;
}


const struct pr_sla_set *
pr_rules_sla(const pr_rules *r)
{
  return r->sla;
}


int
pr_rules_policies(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                  size_t n_attrs, uint64_t *mask, char *err, size_t errlen)
{
  if (r == NULL || mask == NULL || (attrs == NULL && n_attrs > 0)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  rules_eval ev = {
    .r = r, .ticket = ticket, .attrs = attrs, .n_attrs = n_attrs,
    .hits = NULL, .next = 0, .matched = -1, .need = 0, .mask = 0,
  };
  /* The text is scanned only if a policy has words: most have none, and
  ** the scan is the costliest step of a verdict. */
  uint64_t *hits = NULL;
  int rc = PROMPTLY_OK;
  for (size_t i = 0; i < r->n_policies; i++) {
    if (r->policies[i].m.n_words > 0) {
      rc = scan_words(r, &ev, &hits, err, errlen);
      break;
    }
  }
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  ev.hits = hits;
  /* Policies are declared in set order, at most PR_SLA_MAX_POLICIES. */
  for (size_t i = 0; i < r->n_policies; i++) {
    const rules_policy *p = &r->policies[i];
    if (!match_holds(&ev, &p->m)) {
      continue;
    }
    if (p->m.when_ref != LUA_NOREF) {
      ev.need |= (uint64_t)1 << i;
    } else {
      ev.mask |= (uint64_t)1 << i;
    }
  }
  free(hits);
  ev.hits = NULL;
  if (ev.need != 0) {
    char msg[RULES_MSG_MAX];
    rc = pr_sandbox_run(r->sb, rules_policies_lua, &ev, msg, sizeof(msg));
    if (rc != PROMPTLY_OK) {
      const rules_policy *at =
        &r->policies[ev.next < r->n_policies ? ev.next : 0];
      char what[96];
      snprintf(what, sizeof(what), "policy '%s'", at->name);
      return when_failed(r, rc, msg, &at->site, what, err, errlen);
    }
  }
  *mask = ev.mask;
  return PROMPTLY_OK;
}


int
pr_rules_exceptions(const pr_rules *r, const pr_kv *attrs, size_t n_attrs,
                    pr_rules_exception *out, size_t cap, size_t *n)
{
  if (r == NULL || n == NULL || (attrs == NULL && n_attrs > 0) ||
      (out == NULL && cap > 0)) {
    return PROMPTLY_EINVAL;
  }
  size_t found = 0;
  for (size_t i = 0; r->sla != NULL && i < r->n_excs; i++) {
    const rules_exc *e = &r->excs[i];
    const char *v = attr_value(attrs, n_attrs,
                               e->attr != NULL ? e->attr : "sla_exception");
    if (v == NULL || !equal_folded(v, e->name)) {
      continue;
    }
    if (found < cap) {
      const char *why = attr_value(attrs, n_attrs, e->reason_attr);
      out[found].index = (uint32_t)i;
      out[found].reason = why != NULL && why[0] != '\0'
                            ? why
                            : r->sla->exceptions[i].reason;
    }
    found++;
  }
  *n = found;
  return found > cap ? PROMPTLY_ENOBUFS : PROMPTLY_OK;
}
