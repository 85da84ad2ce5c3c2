/* rules_load.c - a rules folder loaded into one sandbox.
**
** Loading has two phases.  First every *.lua file runs, in byte order of
** names, in one sandbox (files share globals).  The declaration functions
** the files call (levels, default_priority, priority, calendar, and the
** SLA declarations metric, policy, pause_on, customer_wait, at_risk, at,
** waiting, remind_customer_after, close_after, escalate_priority,
** exception) check their
** arguments on the spot, where the caller's file:line is known, and
** collect plain C data into the pr_rules; they never stop a file, so that
** every problem is reported.  Then the collected declarations are compiled
** in the order of rules_decls[] (levels before the rules that name them;
** the SLA rows into one pr_sla_set, sealed at the end; all keywords into
** one matcher).  Any problem in either phase is reported as
** "file:line: message" and fails the load.
**
** Problems go into one pr_problems (problems.h: at most 100 kept, the
** first by file and line, identical ones collapsed) and reach the caller
** at the end of the load.  Limits: a folder makes at most
** PR_RULES_DECLS_MAX declarations, each charged, by the size of what it
** may copy into C, to the sandbox's memory account (one cap for Lua and
** C); passing either limit stops the file and is reported once.  Strings
** in declarations are valid UTF-8, rule files too; only regular files
** inside the folder (after resolving links) are read, without blocking.
** The whole load runs under one CPU time span of the sandbox.
**
** This file: the registry of declarations, problems, the helpers that read
** declaration tables, the loader itself and the queries on a loaded set.
** Each kind of declaration lives in its own file (rules_priority.c,
** rules_calendar.c, rules_sla.c, rules_policy.c, rules_pauses.c,
** rules_exceptions.c, rules_thresholds.c, ...); the verdicts on a
** ticket in rules_eval.c.
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

#include "rules_internal.h"
#include "ruletest.h"
#include "promptly.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

/* --- Problems and small helpers ------------------------------------------- */

static int cmp_names(const void *a, const void *b);

static void
rules_report(pr_rules *r, const rules_site *site, int severity,
             const char *fmt, va_list ap)
{
  char msg[RULES_MSG_MAX];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (severity == PR_SEV_ERROR) {
    r->n_problems++;
  }
  if (site != NULL) {
    pr_problems_add(&r->problems, site->file, site->line, severity, "%s",
                    msg);
  } else {
    pr_problems_add_text(&r->problems, r->cur_file, severity, msg);
  }
}


void
rules_problem(pr_rules *r, const rules_site *site, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  rules_report(r, site, PR_SEV_ERROR, fmt, ap);
  va_end(ap);
}


void
rules_warning(pr_rules *r, const rules_site *site, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  rules_report(r, site, PR_SEV_WARNING, fmt, ap);
  va_end(ap);
}


/* The file:line of the Lua code that called the running C function. */
static void
site_here(lua_State *L, rules_site *site)
{
  lua_Debug ar;
  snprintf(site->where, sizeof(site->where), "?");
  site->file[0] = '\0';
  site->line = 0;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
    snprintf(site->where, sizeof(site->where), "%s:%d", ar.short_src,
             ar.currentline);
    snprintf(site->file, sizeof(site->file), "%s", ar.short_src);
    site->line = ar.currentline > 0 ? ar.currentline : 0;
  }
}


/* Unicode case folding for comparisons; g_free the result, NULL if s is
** not UTF-8. */
char *
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

int
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
long
push_elem(void **arr, size_t *n, size_t size)
{
  /* The capacity is *n rounded up to a power of two: the arrays start
  ** empty and grow only here, so they double when *n is 0 or a power of
  ** two (growing by one made 10000 declarations quadratic). */
  if ((*n & (*n - 1)) == 0) {
    size_t cap = *n == 0 ? 1 : *n * 2;
    if (cap > (size_t)LONG_MAX / size) {
      return -1;
    }
    void *p = realloc(*arr, cap * size);
    if (p == NULL) {
      return -1;
    }
    *arr = p;
  }
  void *p = *arr;
  memset((char *)p + *n * size, 0, size);
  return (long)(*n)++;
}

int
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

void
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
const char *
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
int
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

void
rules_out_of_memory(pr_rules *r, const rules_site *site, const char *what)
{
  rules_problem(r, site, "%s: out of memory", what);
}

/* --- Reading declaration tables -------------------------------------------- */

/* The string keys of the table at idx, sorted bytewise, in a userdata
** pushed on the stack: Lua memory, so that a memory error leaks nothing.
** The strings live as long as the table does.  Pairs order is not
** deterministic, so declarations read keys in this order.  Keys that are
** not strings are reported (a list entry where name = value belongs). */
const char **
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
int
raw_field(lua_State *L, int idx, const char *key)
{
  idx = lua_absindex(L, idx);
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}

int
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
int
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

void
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
uint32_t
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

/* --- The declaration registry --------------------------------------------- */

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
  {"accounts",         NULL,             open_accounts, body_accounts,
   compile_accounts},
  {"pause_on",         collect_pause_on, NULL,          NULL,
   compile_pauses},
  {"customer_wait",    collect_customer_wait, NULL,     NULL,
   NULL},
  {"at_risk",          collect_at_risk,  NULL,          NULL,
   compile_at_risk},
  {"notify_calendar",  collect_notify_calendar, NULL,   NULL,
   compile_notify_calendar},
  {"at",               NULL,             open_at,       body_at,
   compile_ats},
  {"waiting",          NULL,             open_waiting,  body_waiting,
   compile_waits},
  {"remind_customer_after", collect_remind_after, NULL, NULL,
   NULL},
  {"close_after",      collect_close_after, NULL,       NULL,
   NULL},
  {"escalate_priority", collect_escalate, NULL,          NULL,
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

/* --- What declarations may hold ------------------------------------------ */

/* Bytes of C memory the value at idx may become once collected (strings
** are copied, some also case-folded: twice their length), walked to a
** bounded depth; *steps counts the values seen, *bad is set for a string
** that is not UTF-8.  Raw access only: no metamethod runs. */
static size_t
decl_value_bytes(lua_State *L, int idx, int depth, uint64_t *steps, int *bad)
{
  (*steps)++;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (!pr_utf8_valid(s, len, NULL)) {
      *bad = 1;
    }
    return 2 * len + 32;
  }
  case LUA_TTABLE: {
    size_t total = 64;
    if (depth >= 16 || *steps > ((uint64_t)1 << 22)) {
      return total;
    }
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "declaration nested too deeply");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      total += decl_value_bytes(L, -2, depth + 1, steps, bad);
      total += decl_value_bytes(L, -1, depth + 1, steps, bad);
      lua_pop(L, 1);
    }
    return total;
  }
  default:
    return 32;
  }
}


/* Raise the limit error, the same message each time, reported once. */
static int
decl_refuse(lua_State *L, pr_rules *r, const rules_site *site,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
decl_refuse(lua_State *L, pr_rules *r, const rules_site *site,
            const char *fmt, ...)
{
  char msg[RULES_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (!r->decl_limit_hit) {
    r->decl_limit_hit = 1;
    rules_problem(r, site, "%s", msg);
  }
  /* Stop the file: every further declaration would be refused too.  The
  ** loader knows this message and does not report it a second time. */
  lua_pushfstring(L, "%s: %s", site->where, msg);
  return lua_error(L);
}


/* Whether a declaration (its arguments from index 1 on) may be collected:
** within the count of declarations, within the memory cap together with
** everything the rule set holds, and made of valid UTF-8 (its strings
** reach the host as fields and actions).  Charges the walk to the
** budget; raises when a limit is passed; reports and answers 0 for a
** string that is not UTF-8.  counts: this call is a declaration of its
** own (the table of name "x" { ... } is the same declaration as its
** name). */
static int
decl_admit(lua_State *L, pr_rules *r, const rules_site *site,
           const char *what, int counts)
{
  if (r->decl_limit_hit) {
    return decl_refuse(L, r, site, "too many declarations or too much "
                       "declared: the rules stop here");
  }
  if (counts && ++r->n_decls > PR_RULES_DECLS_MAX) {
    return decl_refuse(L, r, site,
                       "%s: more than %d declarations in the rules folder",
                       what, PR_RULES_DECLS_MAX);
  }
  uint64_t steps = 0;
  int bad = 0;
  size_t bytes = 256;
  for (int i = 1, n = lua_gettop(L); i <= n; i++) {
    bytes += decl_value_bytes(L, i, 0, &steps, &bad);
  }
  pr_sandbox_charge(L, steps);
  if (pr_sandbox_reserve(r->sb, bytes) != PROMPTLY_OK) {
    return decl_refuse(L, r, site,
                       "%s: the declarations hold more than the rules' "
                       "memory cap of %zu bytes", what, r->opts.mem_cap);
  }
  r->decl_bytes += bytes;
  if (bad) {
    rules_problem(r, site, "%s: a string in it is not valid UTF-8", what);
    return 0;
  }
  return 1;
}


/* name "x" { ... }: the second call. */
static int
l_rules_body(lua_State *L)
{
  const rules_decl *d;
  pr_rules *r = rules_of_upvalue(L, &d);
  rules_site site;
  site_here(L, &site);
  if (!decl_admit(L, r, &site, d->name, 0)) {
    return 0;
  }
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
  int admitted = decl_admit(L, r, &site, d->name, 1);
  if (d->collect != NULL) {
    if (admitted) {
      d->collect(L, r, &site, 1);
    }
    return 0;
  }
  long entry = -1;
  if (!admitted) {
    entry = -1;
  } else if (lua_type(L, 1) != LUA_TSTRING) {
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
  lua_pushcfunction(L, rules_lua_from);
  lua_setglobal(L, "from");
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

/* The *.lua files of dir (regular files, no dot files, no *.test.lua),
** in byte order. */
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
        strcmp(e->d_name + n - 4, ".lua") != 0 ||
        pr_ruletest_is_test_file(e->d_name)) {
      continue;  /* Not a rule file; *.test.lua are tests (ruletest.c). */
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

/* Whether path, once every link is resolved, is inside the folder
** real_dir (itself resolved). */
static int
inside_folder(const char *real_dir, const char *path)
{
  char *real = realpath(path, NULL);
  if (real == NULL) {
    return 0;
  }
  size_t n = strlen(real_dir);
  int in = strncmp(real, real_dir, n) == 0 &&
           (real[n] == '/' || (n == 1 && real_dir[0] == '/'));
  free(real);
  return in;
}


/* The 1-based line of byte offset off in src. */
static int
line_of(const char *src, size_t off)
{
  int line = 1;
  for (size_t i = 0; i < off; i++) {
    line += src[i] == '\n';
  }
  return line;
}


static void
load_file(pr_rules *r, const char *real_dir, const char *name)
{
  char *path = g_build_filename(r->dir, name, NULL);
  char *src = NULL;
  size_t len = 0, bad;
  char why[256];
  r->cur_file = name;

  if (real_dir != NULL && !inside_folder(real_dir, path)) {
    rules_problem(r, NULL, "%s: leads outside the rules folder (a symbolic "
                  "link?): not loaded", name);
  } else if (pr_read_file(path, RULES_FILE_MAX, &src, &len, why,
                          sizeof(why)) != PROMPTLY_OK) {
    rules_problem(r, NULL, "%s: cannot read: %s", name, why);
  } else if (!pr_utf8_valid(src, len, &bad)) {
    /* Rule strings reach the host; promptly.h promises UTF-8. */
    pr_problems_add(&r->problems, name, line_of(src, bad), PR_SEV_ERROR,
                    "invalid UTF-8 (byte 0x%02x): rule files are UTF-8 "
                    "text", (unsigned char)src[bad]);
    r->n_problems++;
  } else {
    char msg[RULES_MSG_MAX];
    if (pr_sandbox_exec(r->sb, name, src, len, msg, sizeof(msg)) !=
        PROMPTLY_OK && !(r->decl_limit_hit && strstr(msg, "declar"))) {
      /* Lua's message has file:line (the sandbox adds it to memory
      ** errors); a declaration limit was reported where it was hit. */
      rules_problem(r, NULL, "%s", msg);
    }
  }
  r->cur_file = NULL;
  free(src);
  g_free(path);
}


/* Hand the problems to opts.problem, one line each, then the count of
** those left out; the first error into err. */
static void
report_problems(pr_rules *r, char *err, size_t errlen)
{
  const pr_problems *ps = &r->problems;
  char line[RULES_MSG_MAX];
  for (size_t i = 0; i < pr_problems_count(ps); i++) {
    const pr_problem *p = pr_problems_get(ps, i);
    if (r->opts.problem != NULL) {
      r->opts.problem(r->opts.problem_ud,
                      p->severity == PR_SEV_ERROR ? PROMPTLY_LOG_ERROR
                                                  : PROMPTLY_LOG_WARN,
                      pr_problem_format(p, line, sizeof(line)));
    }
  }
  if (pr_problems_format_more(ps, line, sizeof(line)) != NULL &&
      r->opts.problem != NULL) {
    r->opts.problem(r->opts.problem_ud,
                    pr_problems_failed(ps) ? PROMPTLY_LOG_ERROR
                                           : PROMPTLY_LOG_WARN,
                    line);
  }
  if (!pr_problems_failed(ps)) {
    return;
  }
  const pr_problem *first = pr_problems_first_error(ps);
  size_t others = pr_problems_count(ps) - 1 + pr_problems_more(ps);
  if (first == NULL) {
    pr_err(err, errlen, PROMPTLY_ERULE, "%zu problems", others + 1);
  } else if (others == 0) {
    pr_err(err, errlen, PROMPTLY_ERULE, "%s",
           pr_problem_format(first, line, sizeof(line)));
  } else {
    pr_err(err, errlen, PROMPTLY_ERULE, "%s (and %zu more problem%s)",
           pr_problem_format(first, line, sizeof(line)), others,
           others == 1 ? "" : "s");
  }
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
  pr_problems_init(&r->problems, 0);

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
  pr_sandbox_set_time(r->sb, r->opts.time_call_ns);
  char why[RULES_MSG_MAX];
  if (pr_sandbox_run(r->sb, rules_register, r, why, sizeof(why)) !=
      PROMPTLY_OK) {
    pr_rules_free(r);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "rules: %s", why);
  }

  /* One CPU time budget for the whole load: every file and the compile
  ** steps that call into Lua. */
  pr_sandbox_span_begin(r->sb, r->opts.time_load_ns);
  char *real_dir = realpath(r->dir, NULL);
  r->loading = 1;
  for (size_t i = 0; i < r->n_files; i++) {
    load_file(r, real_dir, r->files[i]);
  }
  r->loading = 0;
  free(real_dir);
  for (const rules_decl *d = rules_decls; d->name != NULL; d++) {
    if (d->compile != NULL) {
      d->compile(r);
    }
  }
  compile_keywords(r);
  compile_policy_index(r);
  seal_sla(r);
  pr_sandbox_span_end(r->sb);
  if (r->opts.lint) {
    pr_rules_lint(r, &r->problems);  /* warnings, rules_lint.c */
  }

  report_problems(r, err, errlen);
  int failed = pr_problems_failed(&r->problems);
  if (r->opts.problems != NULL) {
    /* The caller gets the list as it was reported. */
    pr_problems_clear(r->opts.problems);
    *r->opts.problems = r->problems;
    pr_problems_init(&r->problems, 0);
  }
  if (failed) {
    pr_rules_free(r);
    return PROMPTLY_ERULE;
  }
  pr_problems_clear(&r->problems);
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
  rules_index_free(r->pindex);
  free_accounts(r);
  free_zones(r);
  free_strs(r->at_risk_names, r->n_at_risk);
  free(r->at_risk_shares);
  if (r->policy_names != NULL) {
    g_hash_table_destroy(r->policy_names);
  }
  free_pconds(r);
  for (size_t i = 0; i < r->n_pauses; i++) {
    free(r->pauses[i].status);
  }
  free(r->pauses);
  for (size_t i = 0; i < r->n_ats; i++) {
    free_at(&r->ats[i]);
  }
  free(r->ats);
  for (size_t i = 0; i < r->n_fns; i++) {
    free(r->fns[i].what);
  }
  free(r->fns);
  for (size_t i = 0; i < r->n_waits; i++) {
    free_wait(&r->waits[i]);
  }
  free(r->waits);
  free(r->notify_cal);
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
  pr_problems_clear(&r->problems);
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
