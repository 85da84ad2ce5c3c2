/* rules.c - a rules folder loaded into one sandbox, and its verdicts.
**
** Loading has two phases.  First every *.lua file runs, in byte order of
** names, in one sandbox (files share globals).  The declaration functions
** the files call (levels, default_priority, priority, calendar) check
** their arguments on the spot, where the caller's file:line is known, and
** collect plain C data into the pr_rules; they never stop a file, so that
** every problem is reported.  Then the collected declarations are compiled
** in the order of rules_decls[] (levels before the rules that name them;
** all keywords into one matcher).  Any problem in either phase is reported
** as "file:line: message" and fails the load.
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

typedef struct rules_prio {
  rules_site site;
  char *level_text;  /* as written */
  size_t level;      /* resolved at compile time */
  char **words;      /* as written */
  uint32_t *word_ids;
  size_t n_words;
  rules_cond *conds;
  size_t n_conds;
  int when_ref;      /* a function in the registry, or LUA_NOREF */
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

  int ticket_mt_ref;
};


/* --- Problems and small helpers ------------------------------------------- */

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


/* --- priority { "P1", ... } ----------------------------------------------- */

static const char *const prio_attr_keys[] = {
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


/* Add a condition: attribute attr equals the string at idx or one of the
** list at idx. */
static void
collect_cond(lua_State *L, pr_rules *r, const rules_site *site, size_t pi,
             const char *attr, int idx)
{
  rules_prio *p = &r->prios[pi];
  char buf[64];
  size_t n = 1;
  int list = lua_type(L, idx) == LUA_TTABLE;

  if (list && (!is_list(L, idx, &n) || n == 0)) {
    rules_problem(r, site, "priority: '%s' must be a string or a non-empty "
                  "list of strings", attr);
    return;
  }
  if (!list && value_text(L, idx, buf, sizeof(buf)) == NULL) {
    rules_problem(r, site,
                  "priority: '%s' must be a string or a list of strings, "
                  "not a %s",
                  attr, luaL_typename(L, idx));
    return;
  }
  long ci = push_elem((void **)&p->conds, &p->n_conds, sizeof(rules_cond));
  if (ci < 0) {
    rules_out_of_memory(r, site, "priority");
    return;
  }
  rules_cond *c = &p->conds[ci];
  c->attr = pr_strdup(attr);
  c->values = calloc(n, sizeof(char *));
  if (c->attr == NULL || c->values == NULL) {
    rules_out_of_memory(r, site, "priority");
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
      rules_problem(r, site, "priority: '%s' entry %zu is a %s, not a string",
                    attr, i, luaL_typename(L, -1));
    } else if (f == NULL) {
      rules_problem(r, site, "priority: '%s' value is not valid UTF-8", attr);
    } else {
      c->values[c->n_values++] = f;
    }
    lua_pop(L, 1);
  }
}


static void
collect_words(lua_State *L, pr_rules *r, const rules_site *site, size_t pi,
              int idx)
{
  size_t n;
  if (lua_type(L, idx) != LUA_TTABLE || !is_list(L, idx, &n) || n == 0) {
    rules_problem(r, site,
                  "priority: 'words' must be a non-empty list of strings, "
                  "as in words = { \"outage\", \"data loss\" }");
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    const char *w = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                   : NULL;
    if (w == NULL) {
      rules_problem(r, site, "priority: 'words' entry %zu is a %s, not a "
                    "string", i, luaL_typename(L, -1));
    } else if (strspn(w, " \t\r\n") == strlen(w)) {
      rules_problem(r, site, "priority: 'words' entry %zu is empty", i);
    } else if (push_str(&r->prios[pi].words, &r->prios[pi].n_words, w) !=
               PROMPTLY_OK) {
      rules_out_of_memory(r, site, "priority");
    }
    lua_pop(L, 1);
  }
}


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
  r->prios[pi].when_ref = LUA_NOREF;
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
    } else if (strcmp(key, "words") == 0) {
      conditions++;
      collect_words(L, r, site, (size_t)pi, val);
    } else if (strcmp(key, "when") == 0) {
      conditions++;
      if (lua_type(L, val) != LUA_TFUNCTION) {
        rules_problem(r, site, "priority: 'when' must be a function, not a "
                      "%s", luaL_typename(L, val));
      } else {
        lua_pushvalue(L, val);
        r->prios[pi].when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      }
    } else if (strcmp(key, "attrs") == 0) {
      conditions++;
      if (lua_type(L, val) != LUA_TTABLE) {
        rules_problem(r, site, "priority: 'attrs' must be a table of "
                      "attribute = value, not a %s", luaL_typename(L, val));
      } else {
        int any = 0;
        lua_pushnil(L);
        while (lua_next(L, val) != 0) {
          any = 1;
          if (lua_type(L, -2) != LUA_TSTRING) {
            rules_problem(r, site, "priority: 'attrs' keys must be "
                          "attribute names");
          } else {
            collect_cond(L, r, site, (size_t)pi, lua_tostring(L, -2),
                         lua_gettop(L));
          }
          lua_pop(L, 1);
        }
        if (!any) {
          rules_problem(r, site, "priority: 'attrs' is empty");
        }
      }
    } else {
      int known = 0;
      for (const char *const *k = prio_attr_keys; *k != NULL; k++) {
        if (strcmp(key, *k) == 0) {
          known = 1;
        }
      }
      if (known) {
        conditions++;
        collect_cond(L, r, site, (size_t)pi, key, val);
      } else {
        rules_problem(r, site,
                      "priority: unknown key '%s' (known: words, tier, "
                      "type, channel, queue, status, attrs, when)",
                      key);
      }
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
  char err[256];
  if (pr_matcher_new(&r->matcher) != PROMPTLY_OK) {
    rules_out_of_memory(r, NULL, "keywords");
    return;
  }
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
    if (p->n_words == 0) {
      continue;
    }
    p->word_ids = calloc(p->n_words, sizeof(uint32_t));
    if (p->word_ids == NULL) {
      rules_out_of_memory(r, &p->site, "priority");
      continue;
    }
    r->n_word_rules++;
    for (size_t w = 0; w < p->n_words; w++) {
      if (pr_matcher_add(r->matcher, p->words[w], &p->word_ids[w], err,
                         sizeof(err)) != PROMPTLY_OK) {
        rules_problem(r, &p->site, "priority: %s", err);
      }
    }
  }
  if (pr_matcher_compile(r->matcher) != PROMPTLY_OK) {
    rules_out_of_memory(r, NULL, "keywords");
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
  for (size_t i = 0; i < r->n_prios; i++) {
    rules_prio *p = &r->prios[i];
    free(p->level_text);
    free_strs(p->words, p->n_words);
    free(p->word_ids);
    for (size_t c = 0; c < p->n_conds; c++) {
      free_cond(&p->conds[c]);
    }
    free(p->conds);
  }
  free(r->prios);
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
  size_t next;     /* the rule to look at next */
  long matched;    /* the rule that matched, or -1 */
} rules_eval;


static const char *
attr_value(const rules_eval *ev, const char *name)
{
  for (size_t i = 0; i < ev->n_attrs; i++) {
    if (ev->attrs[i].name != NULL && ev->attrs[i].value != NULL &&
        g_ascii_strcasecmp(ev->attrs[i].name, name) == 0) {
      return ev->attrs[i].value;
    }
  }
  return NULL;
}


/* Whether the conditions of rule p that need no Lua hold. */
static int
prio_conditions_hold(const rules_eval *ev, const rules_prio *p)
{
  if (p->n_words > 0) {
    int any = 0;
    for (size_t w = 0; !any && w < p->n_words; w++) {
      any = pr_matcher_hit(ev->hits, p->word_ids[w]);
    }
    if (!any) {
      return 0;
    }
  }
  for (size_t c = 0; c < p->n_conds; c++) {
    const char *v = attr_value(ev, p->conds[c].attr);
    if (v == NULL) {
      return 0;
    }
    char *valid = g_utf8_make_valid(v, -1);
    char *f = fold_value(valid);
    g_free(valid);
    int any = 0;
    for (size_t i = 0; f != NULL && !any && i < p->conds[c].n_values; i++) {
      any = strcmp(f, p->conds[c].values[i]) == 0;
    }
    g_free(f);
    if (!any) {
      return 0;
    }
  }
  return 1;
}


/* In Lua: walk the rules from ev->next on, calling `when` functions with
** one table of the ticket's attributes, under one budget. */
static int
rules_eval_lua(lua_State *L)
{
  rules_eval *ev = lua_touserdata(L, 1);
  pr_rules *r = ev->r;

  lua_createtable(L, 0, (int)ev->n_attrs + 1);
  for (size_t i = 0; i < ev->n_attrs; i++) {
    if (ev->attrs[i].name != NULL && ev->attrs[i].value != NULL) {
      lua_pushstring(L, ev->attrs[i].value);
      lua_setfield(L, -2, ev->attrs[i].name);
    }
  }
  lua_pushinteger(L, ev->ticket);
  lua_setfield(L, -2, "id");
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->ticket_mt_ref);
  lua_setmetatable(L, -2);
  int t = lua_gettop(L);

  for (; ev->next < r->n_prios; ev->next++) {
    const rules_prio *p = &r->prios[ev->next];
    if (!prio_conditions_hold(ev, p)) {
      continue;
    }
    if (p->when_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, p->when_ref);
      lua_pushvalue(L, t);
      lua_call(L, 1, 1);
      int yes = lua_toboolean(L, -1);
      lua_pop(L, 1);
      if (!yes) {
        continue;
      }
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
  uint64_t *hits = NULL;
  size_t n_kw = r->matcher != NULL ? pr_matcher_count(r->matcher) : 0;
  if (n_kw > 0) {
    hits = calloc(PR_MATCHER_WORDS(n_kw), sizeof(uint64_t));
    if (hits == NULL) {
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
    /* Subject and body separately: a phrase does not run from one into
    ** the other. */
    static const char *const texts[] = {"subject", "body"};
    for (size_t i = 0; i < 2; i++) {
      const char *text = attr_value(&ev, texts[i]);
      if (text != NULL &&
          pr_matcher_scan(r->matcher, text, strlen(text), hits, NULL) !=
            PROMPTLY_OK) {
        free(hits);
        return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
      }
    }
  }
  ev.hits = hits;

  int rc = PROMPTLY_OK;
  for (; ev.next < r->n_prios; ev.next++) {
    const rules_prio *p = &r->prios[ev.next];
    if (p->when_ref != LUA_NOREF && prio_conditions_hold(&ev, p)) {
      /* From the first rule that needs Lua, go on inside Lua. */
      char msg[RULES_MSG_MAX];
      rc = pr_sandbox_run(r->sb, rules_eval_lua, &ev, msg, sizeof(msg));
      if (rc != PROMPTLY_OK) {
        const rules_prio *at = &r->prios[ev.next < r->n_prios ? ev.next : 0];
        if (strstr(msg, ".lua:") != NULL) {
          pr_err(err, errlen, rc, "%s", msg);
        } else {
          pr_err(err, errlen, rc, "%s: priority: %s", at->site.where, msg);
        }
        if (r->opts.log != NULL && pr_sandbox_traceback(r->sb)[0] != '\0') {
          r->opts.log(r->opts.log_ud, PROMPTLY_LOG_DEBUG,
                      pr_sandbox_traceback(r->sb));
        }
      }
      break;
    }
    if (prio_conditions_hold(&ev, p)) {
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
