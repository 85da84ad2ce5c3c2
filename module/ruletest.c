/* ruletest.c - rule test cases: load *.test.lua files, run each case on a
** fresh instance in virtual time, compare, report.
**
** Invariants.  Test files run in their own sandbox (the rule files' memory
** cap and instruction budget), never in the rules' state, so a test cannot
** change the rules it tests.  Each step constructor (create, expect,
** action, ...) is checked and copied into C the moment it is called, with
** the file:line of the call; it returns a userdata handle that only
** `test` accepts, so a case holds its steps in the order they were written.
** A case runs on an instance of its own (pr_core_open on the folder), fed
** and advanced step by step; the instance's writes, actions, traces and
** log lines are collected through its host callbacks and nothing reaches
** the caller's host but the report.  Instants of the steps of a case never
** go back (checked when the case is declared), so every advance is valid.
*/
#include "config.h"

#include "ruletest.h"
#include "core.h"
#include "rules.h"
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

#define RT_WHERE 96
#define RT_MSG 1024
#define RT_FILE_MAX ((size_t)1 << 20)
#define RT_STEP_MT "promptly.test.step"

enum { ST_EVENT, ST_EXPECT, ST_ACTION };

/* Check names beyond plain fields. */
#define CHK_RULE "@rule"
#define CHK_POLICY "@policy:"  /* followed by the metric */

typedef struct rt_step {
  int kind;
  char where[RT_WHERE];  /* "file:line" of the call */
  int has_at;
  int64_t at_ms;
  int has_ticket;
  int64_t ticket;
  int32_t type;          /* ST_EVENT: PROMPTLY_EV_* */
  int bad;               /* a problem was reported: its case does not run */
  char *action;          /* ST_ACTION: the action's name */
  pr_kv *kv;             /* event attrs, action args (sorted), checks */
  size_t n_kv;
} rt_step;

typedef struct rt_case {
  char *name;
  char where[RT_WHERE];
  int64_t ticket;
  int64_t end_ms;        /* the latest instant of its steps, or through */
  size_t *steps;         /* indices into ctx->steps */
  size_t n_steps;
  int bad;               /* a problem was reported: it does not run */
} rt_case;

typedef struct rt_ctx {
  const promptly_host *host;
  int level;             /* of failures and problems: ERROR or WARN */
  const char *dir;
  pr_rules *rules;
  rt_step *steps;
  size_t n_steps, cap_steps;
  rt_case *cases;
  size_t n_cases, cap_cases;
  int on_reload;
  char on_reload_where[RT_WHERE];
  uint32_t problems;
  uint32_t failed;
} rt_ctx;


/* --- Messages ------------------------------------------------------------- */

static void say(const rt_ctx *c, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
say(const rt_ctx *c, int level, const char *fmt, ...)
{
  if (c->host->log == NULL) {
    return;
  }
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->host->log(c->host->user_data, level, msg);
}


static void problem(rt_ctx *c, const char *where, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
problem(rt_ctx *c, const char *where, const char *fmt, ...)
{
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->problems++;
  say(c, c->level, "%s: %s", where, msg);
}


/* --- Instants ------------------------------------------------------------- */

static int
digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}


/* "2026-11-16T07:42:00Z", optionally ".123" before the Z: UTC only. */
static int
parse_iso(const char *s, int64_t *out)
{
  int y, mo, d, h, mi, sec, ms = 0;
  if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
      digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
      s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
      digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec)) {
    return -1;
  }
  const char *t = s + 19;
  if (*t == '.') {
    if (digits(t + 1, 3, &ms)) {
      return -1;
    }
    t += 4;
  }
  if (strcmp(t, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
      mi > 59 || sec > 59) {
    return -1;
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
    return -1;
  }
  int64_t days = pr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
  return 0;
}


/* --- Declaring: the functions test files call ----------------------------- */

static void
where_here(lua_State *L, char out[RT_WHERE])
{
  lua_Debug ar;
  snprintf(out, RT_WHERE, "?");
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
    snprintf(out, RT_WHERE, "%s:%d", ar.short_src, ar.currentline);
  }
}


static rt_ctx *
ctx_of(lua_State *L)
{
  return lua_touserdata(L, lua_upvalueindex(1));
}


static void
free_step(rt_step *s)
{
  for (size_t i = 0; i < s->n_kv; i++) {
    free((char *)s->kv[i].name);
    free((char *)s->kv[i].value);
  }
  free(s->kv);
  free(s->action);
}


static void
oom_raise(lua_State *L)
{
  luaL_error(L, "out of memory");
}


static void
kv_add(lua_State *L, rt_step *s, const char *name, const char *value)
{
  pr_kv *kv = realloc(s->kv, (s->n_kv + 1) * sizeof(*kv));
  if (kv == NULL) {
    oom_raise(L);
  }
  s->kv = kv;
  char *n = pr_strdup(name), *v = pr_strdup(value);
  if (n == NULL || v == NULL) {
    free(n);
    free(v);
    oom_raise(L);
  }
  s->kv[s->n_kv].name = n;
  s->kv[s->n_kv].value = v;
  s->n_kv++;
}


static int
cmp_kv(const void *a, const void *b)
{
  return strcmp(((const pr_kv *)a)->name, ((const pr_kv *)b)->name);
}


/* The string form of the value at idx: strings as they are, integers in
** decimal, booleans as "true"/"false"; NULL for anything else. */
static const char *
value_text(lua_State *L, int idx, char buf[32])
{
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    return lua_tostring(L, idx);
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      snprintf(buf, 32, "%lld", (long long)lua_tointeger(L, idx));
      return buf;
    }
    return NULL;
  case LUA_TBOOLEAN:
    return lua_toboolean(L, idx) ? "true" : "false";
  default:
    return NULL;
  }
}


/* The step table's "at" and "ticket". */
static void
step_common(lua_State *L, rt_ctx *c, rt_step *s)
{
  lua_getfield(L, 1, "at");
  if (!lua_isnil(L, -1)) {
    const char *at = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                    : NULL;
    if (at == NULL || parse_iso(at, &s->at_ms) != 0) {
      problem(c, s->where,
              "at: '%s' is not an instant (write \"2026-11-16T07:42:00Z\", "
              "UTC)", at ? at : luaL_typename(L, -1));
    }
    s->has_at = 1;  /* given, even if wrong: no second message about it */
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "ticket");
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0) {
      problem(c, s->where, "ticket: must be a whole number above 0");
    } else {
      s->has_ticket = 1;
      s->ticket = lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 1);
}


/* Append a step and return its handle (a userdata holding the index). */
static int
push_step(lua_State *L, rt_ctx *c, rt_step *s)
{
  if (c->n_steps == c->cap_steps) {
    size_t cap = c->cap_steps ? c->cap_steps * 2 : 32;
    rt_step *n = realloc(c->steps, cap * sizeof(*n));
    if (n == NULL) {
      free_step(s);
      oom_raise(L);
    }
    c->steps = n;
    c->cap_steps = cap;
  }
  s->bad = c->problems != (uint32_t)s->bad;  /* bad held the count at start */
  c->steps[c->n_steps] = *s;
  size_t *h = lua_newuserdatauv(L, sizeof(size_t), 0);
  *h = c->n_steps++;
  luaL_setmetatable(L, RT_STEP_MT);
  return 1;
}


/* create { at = "...", subject = "...", tier = "...", ... } and the other
** event types: the attributes are every other key. */
static int
l_event(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  rt_step s;
  memset(&s, 0, sizeof(s));
  s.kind = ST_EVENT;
  s.bad = (int)c->problems;
  s.type = (int32_t)lua_tointeger(L, lua_upvalueindex(2));
  where_here(L, s.where);
  luaL_checktype(L, 1, LUA_TTABLE);
  step_common(L, c, &s);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    char buf[32];
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    const char *v = value_text(L, -1, buf);
    if (k == NULL) {
      problem(c, s.where, "%s: attributes need names (name = \"value\")",
              pr_event_type_name(s.type));
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_common's */
    } else if (v == NULL) {
      problem(c, s.where, "%s: attribute '%s' must be a string",
              pr_event_type_name(s.type), k);
    } else {
      kv_add(L, &s, k, v);
    }
    lua_pop(L, 1);
  }
  if (s.n_kv > 1) {
    qsort(s.kv, s.n_kv, sizeof(pr_kv), cmp_kv);
  }
  return push_step(L, c, &s);
}


static const char *const expect_keys =
  "at, ticket, priority, rule, policy, status, due, state, escalation, "
  "customer_wait, fields";

/* A check of a per-metric table: { first_response = "...", ... }. */
static void
expect_metrics(lua_State *L, rt_ctx *c, rt_step *s, const char *key,
               const char *fmt)
{
  const pr_sla_set *set = pr_rules_sla(c->rules);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    char buf[32];
    const char *m = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    const char *v = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)
                      ? "none"
                      : value_text(L, -1, buf);
    if (m == NULL || pr_sla_set_metric_find(set, m) < 0) {
      pr_buf known;
      pr_buf_init(&known);
      for (uint32_t i = 0; i < set->n_metrics; i++) {
        pr_buf_printf(&known, "%s%s", i ? ", " : "", set->metrics[i].name);
      }
      problem(c, s->where, "expect: %s: unknown metric '%s' (known: %s)",
              key, m ? m : "?", pr_buf_cstr(&known));
      pr_buf_free(&known);
    } else if (v == NULL) {
      problem(c, s->where, "expect: %s.%s must be a string", key, m);
    } else {
      char name[PR_SLA_NAME_MAX + 32];
      snprintf(name, sizeof(name), fmt, m);
      kv_add(L, s, name, v);
    }
    lua_pop(L, 1);
  }
}


/* expect { at = ..., priority = "P1", rule = "10-priority.lua:26",
**          policy = "x" | { metric = "x" }, due = "..." | { metric = ... },
**          state = { metric = "running" }, status = "on_track",
**          escalation = 1, customer_wait = 0, fields = { name = value } } */
static int
l_expect(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  rt_step s;
  memset(&s, 0, sizeof(s));
  s.kind = ST_EXPECT;
  s.bad = (int)c->problems;
  where_here(L, s.where);
  luaL_checktype(L, 1, LUA_TTABLE);
  step_common(L, c, &s);
  const pr_sla_set *set = pr_rules_sla(c->rules);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    char buf[32];
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    int table = lua_istable(L, -1);
    const char *v = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)
                      ? "none"
                      : value_text(L, -1, buf);
    if (k == NULL) {
      problem(c, s.where, "expect: checks need names (known: %s)",
              expect_keys);
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_common's */
    } else if (strcmp(k, "policy") == 0 && table) {
      expect_metrics(L, c, &s, k, CHK_POLICY "%s");
    } else if (strcmp(k, "due") == 0 && table) {
      expect_metrics(L, c, &s, k, "sla.%s.due");
    } else if (strcmp(k, "state") == 0 && table) {
      expect_metrics(L, c, &s, k, "sla.%s.state");
    } else if (strcmp(k, "fields") == 0 && table) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        const char *f = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                       : NULL;
        const char *fv = value_text(L, -1, buf);
        if (f == NULL || fv == NULL) {
          problem(c, s.where, "expect: fields: name = \"value\" pairs");
        } else {
          kv_add(L, &s, f, fv);
        }
        lua_pop(L, 1);
      }
    } else if (table || v == NULL) {
      problem(c, s.where, "expect: %s: %s", k,
              table ? "a table only for policy, due, state and fields"
                    : "must be a string");
    } else if (strcmp(k, "priority") == 0) {
      if (pr_rules_level_find(c->rules, v) < 0) {
        problem(c, s.where, "expect: priority: unknown level '%s'", v);
      } else {
        kv_add(L, &s, "priority",
               pr_rules_level_id(c->rules,
                                 (size_t)pr_rules_level_find(c->rules, v)));
      }
    } else if (strcmp(k, "rule") == 0) {
      kv_add(L, &s, CHK_RULE, v);
    } else if (strcmp(k, "policy") == 0) {
      if (strcmp(v, "none") != 0 && pr_sla_set_policy_find(set, v) < 0) {
        problem(c, s.where, "expect: policy: unknown policy '%s'", v);
      } else {
        kv_add(L, &s, "sla.policy", v);
      }
    } else if (strcmp(k, "status") == 0) {
      kv_add(L, &s, "sla.status", v);
    } else if (strcmp(k, "due") == 0) {
      kv_add(L, &s, "sla.due", v);
    } else if (strcmp(k, "escalation") == 0) {
      kv_add(L, &s, "sla.escalation", v);
    } else if (strcmp(k, "customer_wait") == 0) {
      kv_add(L, &s, "sla.customer_wait", v);
    } else {
      problem(c, s.where, "expect: unknown key '%s' (known: %s)", k,
              expect_keys);
    }
    lua_pop(L, 1);
  }
  /* Dues are compared as instants: written in canonical form. */
  for (size_t i = 0; i < s.n_kv; i++) {
    size_t n = strlen(s.kv[i].name);
    int64_t t;
    if (n > 4 && strcmp(s.kv[i].name + n - 4, ".due") == 0 &&
        strcmp(s.kv[i].value, "none") != 0) {
      if (parse_iso(s.kv[i].value, &t) != 0) {
        problem(c, s.where, "expect: %s: '%s' is not an instant (write "
                "\"2026-11-16T07:42:00Z\" or \"none\")", s.kv[i].name,
                s.kv[i].value);
      } else {
        char iso[PR_ISO_LEN];
        pr_iso_format(t, iso);
        char *canon = pr_strdup(iso);
        if (canon == NULL) {
          free_step(&s);
          oom_raise(L);
        }
        free((char *)s.kv[i].value);
        s.kv[i].value = canon;
      }
    }
  }
  if (s.n_kv == 0 && c->problems == (uint32_t)s.bad) {
    problem(c, s.where, "expect: nothing to check (known: %s)", expect_keys);
  }
  if (s.n_kv > 1) {
    qsort(s.kv, s.n_kv, sizeof(pr_kv), cmp_kv);  /* reported in this order */
  }
  return push_step(L, c, &s);
}


/* action { at = "...", "notify", to = "team-lead" }: fired at that
** instant, with exactly these arguments. */
static int
l_action(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  rt_step s;
  memset(&s, 0, sizeof(s));
  s.kind = ST_ACTION;
  s.bad = (int)c->problems;
  where_here(L, s.where);
  luaL_checktype(L, 1, LUA_TTABLE);
  step_common(L, c, &s);
  if (!s.has_at) {
    problem(c, s.where, "action: at = \"...\" (its instant) is required");
  }
  lua_rawgeti(L, 1, 1);
  if (lua_type(L, -1) != LUA_TSTRING) {
    problem(c, s.where, "action: its name comes first (action { at = ..., "
            "\"notify\", to = \"team-lead\" })");
  } else {
    s.action = pr_strdup(lua_tostring(L, -1));
    if (s.action == NULL) {
      oom_raise(L);
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    char buf[32];
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    const char *v = value_text(L, -1, buf);
    if (k == NULL) {
      if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) != 1) {
        problem(c, s.where, "action: one name, then name = \"value\" "
                "arguments");
      }
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_common's */
    } else if (v == NULL) {
      problem(c, s.where, "action: argument '%s' must be a string", k);
    } else {
      kv_add(L, &s, k, v);
    }
    lua_pop(L, 1);
  }
  if (s.n_kv > 1) {
    qsort(s.kv, s.n_kv, sizeof(pr_kv), cmp_kv);
  }
  return push_step(L, c, &s);
}


/* test "name" { ticket = 7, through = "...", step, step, ... } */
static int
l_test_body(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  rt_case k;
  memset(&k, 0, sizeof(k));
  uint32_t problems_before = c->problems;
  where_here(L, k.where);
  k.ticket = 1;
  k.end_ms = INT64_MIN;
  lua_getfield(L, 1, "ticket");
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0) {
      problem(c, k.where, "test: ticket: must be a whole number above 0");
    } else {
      k.ticket = lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 1);
  int64_t until = INT64_MIN;
  lua_getfield(L, 1, "through");
  if (!lua_isnil(L, -1)) {
    const char *u = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                   : NULL;
    if (u == NULL || parse_iso(u, &until) != 0) {
      problem(c, k.where, "test: through: '%s' is not an instant",
              u ? u : luaL_typename(L, -1));
      until = INT64_MIN;
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -2);
      if (strcmp(key, "ticket") != 0 && strcmp(key, "through") != 0) {
        problem(c, k.where, "test: unknown key '%s' (known: ticket, through, "
                "then the steps)", key);
      }
    }
    lua_pop(L, 1);
  }

  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  k.steps = calloc(n > 0 ? (size_t)n : 1, sizeof(size_t));
  if (k.steps == NULL) {
    oom_raise(L);
  }
  k.name = pr_strdup(lua_tostring(L, lua_upvalueindex(2)));
  if (k.name == NULL) {
    free(k.steps);
    oom_raise(L);
  }
  int64_t last = INT64_MIN;
  const char *last_where = NULL;
  int first_event = 1;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    size_t *h = luaL_testudata(L, -1, RT_STEP_MT);
    lua_pop(L, 1);
    if (h == NULL) {
      problem(c, k.where, "test '%s': step %lld is not a step (create {...}, "
              "expect {...}, action {...}, ...)", k.name, (long long)i);
      continue;
    }
    rt_step *s = &c->steps[*h];
    k.bad |= s->bad;
    if (s->kind == ST_EVENT && first_event && !s->has_at) {
      problem(c, s->where, "%s: the first event of a test needs at = \"...\"",
              pr_event_type_name(s->type));
    }
    if (s->kind == ST_EVENT) {
      first_event = 0;
    }
    if (s->has_at) {
      if (s->at_ms < last) {
        problem(c, s->where, "at: before the step at %s; steps go in time "
                "order", last_where);
      } else {
        last = s->at_ms;
        last_where = s->where;
      }
    }
    k.steps[k.n_steps++] = *h;
  }
  if (first_event) {
    problem(c, k.where, "test '%s': no event (create {...}, ...)", k.name);
  }
  k.end_ms = until > last ? until : last;
  if (until != INT64_MIN && until < last) {
    problem(c, k.where, "test '%s': through is before its last step",
              k.name);
  }
  k.bad |= c->problems != problems_before;
  if (c->n_cases == c->cap_cases) {
    size_t cap = c->cap_cases ? c->cap_cases * 2 : 8;
    rt_case *nc = realloc(c->cases, cap * sizeof(*nc));
    if (nc == NULL) {
      free(k.steps);
      free(k.name);
      oom_raise(L);
    }
    c->cases = nc;
    c->cap_cases = cap;
  }
  c->cases[c->n_cases++] = k;
  return 0;
}


static int
l_test(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  if (lua_type(L, 1) != LUA_TSTRING || lua_rawlen(L, 1) == 0) {
    return luaL_error(L, "test: a name comes first (test \"name\" { ... })");
  }
  for (size_t i = 0; i < c->n_cases; i++) {
    if (strcmp(c->cases[i].name, lua_tostring(L, 1)) == 0) {
      char w[RT_WHERE];
      where_here(L, w);
      problem(c, w, "test '%s': already declared at %s", lua_tostring(L, 1),
              c->cases[i].where);
    }
  }
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, l_test_body, 2);
  return 1;
}


/* on_reload "refuse" | "warn" | "off" */
static int
l_on_reload(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  char w[RT_WHERE];
  where_here(L, w);
  const char *v = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : "";
  int mode = strcmp(v, "refuse") == 0 ? PR_RULETEST_REFUSE
             : strcmp(v, "warn") == 0 ? PR_RULETEST_WARN
             : strcmp(v, "off") == 0  ? PR_RULETEST_OFF
                                      : -1;
  if (mode < 0) {
    problem(c, w, "on_reload: '%s' (write \"refuse\", \"warn\" or \"off\")",
            v);
  } else if (c->on_reload_where[0] != '\0') {
    problem(c, w, "on_reload: already declared at %s", c->on_reload_where);
  } else {
    c->on_reload = mode;
    snprintf(c->on_reload_where, RT_WHERE, "%s", w);
  }
  return 0;
}


static int
register_fns(lua_State *L)
{
  rt_ctx *c = lua_touserdata(L, 1);
  luaL_newmetatable(L, RT_STEP_MT);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  for (int32_t t = PROMPTLY_EV_CREATE; t <= PROMPTLY_EV_DELETE; t++) {
    lua_pushlightuserdata(L, c);
    lua_pushinteger(L, t);
    lua_pushcclosure(L, l_event, 2);
    lua_setglobal(L, pr_event_type_name(t));
  }
  static const struct {
    const char *name;
    lua_CFunction fn;
  } fns[] = {{"expect", l_expect},
             {"action", l_action},
             {"test", l_test},
             {"on_reload", l_on_reload}};
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    lua_pushlightuserdata(L, c);
    lua_pushcclosure(L, fns[i].fn, 1);
    lua_setglobal(L, fns[i].name);
  }
  return 0;
}


/* --- Finding and loading the files ---------------------------------------- */

int
pr_ruletest_is_test_file(const char *name)
{
  size_t n = strlen(name);
  return name[0] != '.' && n > 9 && strcmp(name + n - 9, ".test.lua") == 0;
}


static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}


/* The *.test.lua files of dir, sorted; *n of them.  EIO, ENOMEM. */
static int
list_tests(const char *dir, char ***out, size_t *n, char *err, size_t errlen)
{
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (d == NULL) {
    return pr_err(err, errlen, PROMPTLY_EIO, "rules folder %s: %s", dir,
                  strerror(errno));
  }
  char **names = NULL;
  size_t cap = 0;
  int rc = PROMPTLY_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!pr_ruletest_is_test_file(e->d_name)) {
      continue;
    }
    char *path = g_build_filename(dir, e->d_name, NULL);
    struct stat st;
    int regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    g_free(path);
    if (!regular) {
      continue;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      char **nn = realloc(names, cap * sizeof(*nn));
      if (nn == NULL) {
        rc = PROMPTLY_ENOMEM;
        break;
      }
      names = nn;
    }
    if ((names[*n] = pr_strdup(e->d_name)) == NULL) {
      rc = PROMPTLY_ENOMEM;
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (rc != PROMPTLY_OK) {
    for (size_t i = 0; i < *n; i++) {
      free(names[i]);
    }
    free(names);
    *n = 0;
    return pr_err(err, errlen, rc, "out of memory");
  }
  if (*n > 1) {
    qsort(names, *n, sizeof(char *), cmp_str);
  }
  *out = names;
  return PROMPTLY_OK;
}


static void
sandbox_log(void *ud, int level, const char *msg)
{
  rt_ctx *c = ud;
  say(c, level, "%s", msg);
}


static void
load_test_file(rt_ctx *c, pr_sandbox *sb, const char *name)
{
  char *path = g_build_filename(c->dir, name, NULL);
  char *src = NULL;
  size_t len = 0;
  GError *gerr = NULL;
  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size > RT_FILE_MAX) {
    problem(c, name, "too large (%lld bytes, at most %zu)",
            (long long)st.st_size, RT_FILE_MAX);
  } else if (!g_file_get_contents(path, &src, &len, &gerr)) {
    problem(c, name, "cannot read: %s", gerr->message);
    g_error_free(gerr);
  } else {
    char msg[RT_MSG];
    if (pr_sandbox_exec(sb, name, src, len, msg, sizeof(msg)) !=
        PROMPTLY_OK) {
      c->problems++;
      if (strncmp(msg, name, strlen(name)) == 0) {
        say(c, c->level, "%s", msg);
      } else {
        say(c, c->level, "%s: %s", name, msg);
      }
    }
  }
  g_free(src);
  g_free(path);
}


/* --- Running a case ------------------------------------------------------- */

typedef struct rt_field {
  int64_t ticket;
  char *name;
  char *value;
} rt_field;

typedef struct rt_act {
  int64_t at_ms;
  int64_t ticket;
  char *text;        /* "notify to=team-lead" */
  const char *where; /* expected: the step's file:line */
} rt_act;

typedef struct rt_run {
  rt_ctx *c;
  const rt_case *k;
  int failed;
  rt_field *fields;
  size_t n_fields, cap_fields;
  rt_field *rules;   /* per ticket: the rule that set its priority */
  size_t n_rules, cap_rules;
  rt_act *acts;      /* fired */
  size_t n_acts, cap_acts;
  pr_buf timeline;   /* "iso ticket N: ..." lines, \n-separated */
  int capture;       /* explain lines go to captured, not the timeline */
  pr_buf captured;
  int oom;
} rt_run;


static void fail(rt_run *r, const char *where, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
fail(rt_run *r, const char *where, const char *fmt, ...)
{
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  r->failed = 1;
  say(r->c, r->c->level, "%s: test '%s': %s", where, r->k->name, msg);
}


static int
set_kv(rt_field **arr, size_t *n, size_t *cap, int64_t ticket,
       const char *name, const char *value)
{
  for (size_t i = 0; i < *n; i++) {
    if ((*arr)[i].ticket == ticket && strcmp((*arr)[i].name, name) == 0) {
      char *v = pr_strdup(value);
      if (v == NULL) {
        return -1;
      }
      free((*arr)[i].value);
      (*arr)[i].value = v;
      return 0;
    }
  }
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 32;
    rt_field *na = realloc(*arr, nc * sizeof(*na));
    if (na == NULL) {
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  char *nm = pr_strdup(name), *v = pr_strdup(value);
  if (nm == NULL || v == NULL) {
    free(nm);
    free(v);
    return -1;
  }
  (*arr)[*n] = (rt_field){ticket, nm, v};
  (*n)++;
  return 0;
}


static const char *
get_kv(const rt_field *arr, size_t n, int64_t ticket, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (arr[i].ticket == ticket && strcmp(arr[i].name, name) == 0) {
      return arr[i].value;
    }
  }
  return NULL;
}


static void
free_kvs(rt_field *arr, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(arr[i].name);
    free(arr[i].value);
  }
  free(arr);
}


static void
timeline_line(rt_run *r, int64_t at_ms, int64_t ticket, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static void
timeline_line(rt_run *r, int64_t at_ms, int64_t ticket, const char *fmt, ...)
{
  char iso[PR_ISO_LEN], msg[RT_MSG];
  pr_iso_format(at_ms, iso);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (pr_buf_printf(&r->timeline, "%s ticket %lld: %s\n", iso,
                    (long long)ticket, msg) != PROMPTLY_OK) {
    r->oom = 1;
  }
}


static void
on_log(void *ud, int32_t level, const char *msg)
{
  rt_run *r = ud;
  if (level == PROMPTLY_LOG_ERROR) {
    fail(r, r->k->where, "the rules reported: %s", msg);
  } else if (level == PROMPTLY_LOG_WARN) {
    if (pr_buf_printf(&r->timeline, "warning: %s\n", msg) != PROMPTLY_OK) {
      r->oom = 1;
    }
  }
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  rt_run *r = ud;
  pr_buf b;
  pr_buf_init(&b);
  for (uint32_t i = 0; i < n; i++) {
    if (set_kv(&r->fields, &r->n_fields, &r->cap_fields, ticket, f[i].name,
               f[i].value) != 0 ||
        pr_buf_printf(&b, "%s%s = %s", i ? ", " : "", f[i].name,
                      f[i].value) != PROMPTLY_OK) {
      r->oom = 1;
    }
  }
  timeline_line(r, at_ms, ticket, "  %s", pr_buf_cstr(&b));
  pr_buf_free(&b);
  return 0;
}


/* "notify to=team-lead, x=y": the name, then the arguments by name. */
static char *
action_text(const char *name, const pr_kv *args, size_t n)
{
  pr_kv *sorted = NULL;
  if (n > 0) {
    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
      return NULL;
    }
    memcpy(sorted, args, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_kv);
  }
  pr_buf b;
  pr_buf_init(&b);
  int rc = pr_buf_printf(&b, "%s", name);
  for (size_t i = 0; i < n && rc == PROMPTLY_OK; i++) {
    rc = pr_buf_printf(&b, "%s%s=%s", i ? ", " : " ", sorted[i].name,
                       sorted[i].value);
  }
  free(sorted);
  char *out = rc == PROMPTLY_OK ? pr_strdup(pr_buf_cstr(&b)) : NULL;
  pr_buf_free(&b);
  return out;
}


static int
push_act(rt_act **arr, size_t *n, size_t *cap, rt_act a)
{
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    rt_act *na = realloc(*arr, nc * sizeof(*na));
    if (na == NULL) {
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = a;
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  rt_run *r = ud;
  _Static_assert(sizeof(pr_kv) == sizeof(promptly_attr), "same layout");
  char *text = action_text(action, (const pr_kv *)(const void *)args, n);
  if (text == NULL ||
      push_act(&r->acts, &r->n_acts, &r->cap_acts,
               (rt_act){at_ms, ticket, text, NULL}) != 0) {
    free(text);
    r->oom = 1;
    return 0;
  }
  timeline_line(r, at_ms, ticket, "@ %s (key %s)", text, key);
  return 0;
}


static void
on_trace(void *ud, int64_t ticket, int64_t at_ms, const char *line)
{
  rt_run *r = ud;
  (void)at_ms;
  if (r->capture) {
    if (pr_buf_printf(&r->captured, "%s\n", line) != PROMPTLY_OK) {
      r->oom = 1;
    }
    return;
  }
  /* core.c: "priority P1 by 10-priority.lua:26", or "... by the default
  ** (no priority rule matched)"; an agent's is "priority set to ...". */
  if (strncmp(line, "priority ", 9) != 0 ||
      strncmp(line, "priority set to ", 16) == 0) {
    return;
  }
  const char *by = strstr(line, " by ");
  if (by == NULL) {
    return;
  }
  const char *rule = by + 4;
  if (strncmp(rule, "the default", 11) == 0) {
    rule = "default";
  }
  if (set_kv(&r->rules, &r->n_rules, &r->cap_rules, ticket, "rule", rule) !=
      0) {
    r->oom = 1;
  }
}


/* The policy explain names for metric m, from captured explain lines
** ("<m>: running (cycle 1, business time, policy corporate): ..."). */
static void
policy_from_explain(const char *lines, const char *m, char *out, size_t len)
{
  snprintf(out, len, "none");
  size_t ml = strlen(m);
  for (const char *l = lines; *l != '\0';) {
    const char *end = strchr(l, '\n');
    size_t n = end ? (size_t)(end - l) : strlen(l);
    if (n > ml + 1 && strncmp(l, m, ml) == 0 && l[ml] == ':') {
      const char *p = strstr(l, "policy ");
      if (p != NULL && p < l + n) {
        p += 7;
        size_t k = strcspn(p, "),\n");
        snprintf(out, len, "%.*s", (int)k, p);
        if (strcmp(out, "none") == 0) {
          return;
        }
      }
      return;
    }
    l += n + (end != NULL);
  }
}


static void
check_expect(rt_run *r, promptly *p, const rt_step *s, int64_t at_ms)
{
  int64_t ticket = s->has_ticket ? s->ticket : r->k->ticket;
  int explained = 0;
  for (size_t i = 0; i < s->n_kv; i++) {
    const char *name = s->kv[i].name, *want = s->kv[i].value;
    const char *got;
    char buf[PR_SLA_NAME_MAX + 8];
    char label[PR_SLA_NAME_MAX + 32];
    snprintf(label, sizeof(label), "%s", name);
    if (strcmp(name, CHK_RULE) == 0) {
      got = get_kv(r->rules, r->n_rules, ticket, "rule");
      snprintf(label, sizeof(label), "rule");
    } else if (strncmp(name, CHK_POLICY, strlen(CHK_POLICY)) == 0) {
      const char *m = name + strlen(CHK_POLICY);
      if (!explained) {
        pr_buf_free(&r->captured);
        pr_buf_init(&r->captured);
        r->capture = 1;
        pr_core_explain(p, ticket, at_ms);
        r->capture = 0;
        explained = 1;
      }
      policy_from_explain(pr_buf_cstr(&r->captured), m, buf, sizeof(buf));
      got = buf;
      snprintf(label, sizeof(label), "%s policy", m);
    } else {
      got = get_kv(r->fields, r->n_fields, ticket, name);
      if (got != NULL && got[0] == '\0') {
        got = NULL;
      }
    }
    if (got == NULL) {
      got = "none";
    }
    if (strcmp(got, want) != 0) {
      fail(r, s->where, "expected %s %s, got %s", label, want, got);
    }
  }
}


/* Expected against fired actions, both in time order; each difference is
** a failure, and *diff gets the merged list ("  " same, "- " expected
** only, "+ " fired only). */
static void
compare_actions(rt_run *r, const rt_act *want, size_t nw, pr_buf *diff)
{
  size_t i = 0, j = 0;
  while (i < nw || j < r->n_acts) {
    const rt_act *w = i < nw ? &want[i] : NULL;
    const rt_act *g = j < r->n_acts ? &r->acts[j] : NULL;
    char iso[PR_ISO_LEN];
    if (w && g && w->at_ms == g->at_ms && w->ticket == g->ticket &&
        strcmp(w->text, g->text) == 0) {
      pr_iso_format(g->at_ms, iso);
      pr_buf_printf(diff, "  %s ticket %lld: %s\n", iso, (long long)g->ticket,
                    g->text);
      i++;
      j++;
      continue;
    }
    /* Which one is out of place: the earlier; at the same instant, the
    ** fired one if the expected one comes later among the fired. */
    int take_want;
    if (w == NULL) {
      take_want = 0;
    } else if (g == NULL) {
      take_want = 1;
    } else if (w->at_ms != g->at_ms) {
      take_want = w->at_ms < g->at_ms;
    } else {
      take_want = 1;
      for (size_t k = j + 1; k < r->n_acts && r->acts[k].at_ms == w->at_ms;
           k++) {
        if (r->acts[k].ticket == w->ticket &&
            strcmp(r->acts[k].text, w->text) == 0) {
          take_want = 0;
        }
      }
    }
    if (take_want && g != NULL && g->at_ms == w->at_ms &&
        g->ticket == w->ticket) {
      /* One in place of the other: one failure names both. */
      pr_iso_format(w->at_ms, iso);
      fail(r, w->where, "expected action '%s' at %s (ticket %lld), got '%s'",
           w->text, iso, (long long)w->ticket, g->text);
      pr_buf_printf(diff, "- %s ticket %lld: %s\n+ %s ticket %lld: %s\n",
                    iso, (long long)w->ticket, w->text, iso,
                    (long long)g->ticket, g->text);
      i++;
      j++;
    } else if (take_want) {
      pr_iso_format(w->at_ms, iso);
      fail(r, w->where, "expected action '%s' at %s (ticket %lld), got %s",
           w->text, iso, (long long)w->ticket,
           "none");
      pr_buf_printf(diff, "- %s ticket %lld: %s\n", iso, (long long)w->ticket,
                    w->text);
      i++;
    } else {
      pr_iso_format(g->at_ms, iso);
      fail(r, r->k->where, "expected no action '%s' at %s (ticket %lld), "
           "got it", g->text, iso, (long long)g->ticket);
      pr_buf_printf(diff, "+ %s ticket %lld: %s\n", iso, (long long)g->ticket,
                    g->text);
      j++;
    }
  }
}


static void
print_lines(rt_run *r, const char *title, const char *text)
{
  if (text[0] == '\0') {
    return;
  }
  say(r->c, PROMPTLY_LOG_INFO, "%s: test '%s': %s", r->k->where, r->k->name,
      title);
  for (const char *l = text; *l != '\0';) {
    const char *end = strchr(l, '\n');
    size_t n = end ? (size_t)(end - l) : strlen(l);
    say(r->c, PROMPTLY_LOG_INFO, "%s:   %.*s", r->k->where, (int)n, l);
    l += n + (end != NULL);
  }
}


static void
run_case(rt_ctx *c, const rt_case *k)
{
  rt_run r;
  memset(&r, 0, sizeof(r));
  r.c = c;
  r.k = k;
  pr_buf_init(&r.timeline);
  pr_buf_init(&r.captured);
  rt_act *want = NULL;
  size_t n_want = 0, cap_want = 0;

  promptly_host h;
  memset(&h, 0, sizeof(h));
  h.struct_size = sizeof(h);
  h.abi_version = PROMPTLY_ABI_VERSION;
  h.user_data = &r;
  h.log = on_log;
  h.write_fields = on_write;
  h.do_action = on_action;
  h.trace = on_trace;
  promptly *p = NULL;
  char err[RT_MSG];
  if (pr_core_open(&h, sizeof(h), c->dir, &p, err, sizeof(err)) !=
      PROMPTLY_OK) {
    fail(&r, k->where, "cannot load the rules: %s", err);
    goto done;
  }
  int64_t now = INT64_MIN;
  for (size_t i = 0; i < k->n_steps; i++) {
    const rt_step *s = &c->steps[k->steps[i]];
    int64_t at = s->has_at ? s->at_ms : now;
    if (s->kind == ST_ACTION) {
      char *text = action_text(s->action ? s->action : "?", s->kv, s->n_kv);
      if (text == NULL ||
          push_act(&want, &n_want, &cap_want,
                   (rt_act){s->at_ms, s->has_ticket ? s->ticket : k->ticket,
                            text, s->where}) != 0) {
        free(text);
        r.oom = 1;
      }
      continue;
    }
    if (at == INT64_MIN) {
      continue;  /* reported when declared */
    }
    if (at > now && pr_core_advance(p, at) != PROMPTLY_OK) {
      fail(&r, s->where, "cannot advance to this instant");
      break;
    }
    now = at;
    if (s->kind == ST_EXPECT) {
      check_expect(&r, p, s, at);
      continue;
    }
    promptly_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.struct_size = sizeof(ev);
    ev.type = s->type;
    ev.ticket = s->has_ticket ? s->ticket : k->ticket;
    ev.at_ms = at;
    ev.attrs = (const promptly_attr *)(const void *)s->kv;
    ev.n_attrs = (uint32_t)s->n_kv;
    ev.source = s->where;
    if (pr_core_submit(p, &ev, err, sizeof(err)) != PROMPTLY_OK) {
      fail(&r, s->where, "event refused: %s", err);
      continue;
    }
    if (pr_core_advance(p, at) != PROMPTLY_OK) {
      fail(&r, s->where, "cannot advance to this instant");
      break;
    }
  }
  if (k->end_ms > now && k->end_ms != INT64_MIN) {
    pr_core_advance(p, k->end_ms);
  }
  pr_buf diff;
  pr_buf_init(&diff);
  compare_actions(&r, want, n_want, &diff);
  if (r.oom) {
    fail(&r, k->where, "out of memory");
  }
  if (r.failed) {
    print_lines(&r, "timeline (fields, @ actions)",
                pr_buf_cstr(&r.timeline));
    print_lines(&r, "actions (- expected only, + fired only)",
                pr_buf_cstr(&diff));
  }
  pr_buf_free(&diff);
  pr_core_close(p);
done:
  if (r.failed) {
    c->failed++;
  } else {
    say(c, PROMPTLY_LOG_DEBUG, "%s: test '%s': ok", k->where, k->name);
  }
  for (size_t i = 0; i < n_want; i++) {
    free(want[i].text);
  }
  free(want);
  for (size_t i = 0; i < r.n_acts; i++) {
    free(r.acts[i].text);
  }
  free(r.acts);
  free_kvs(r.fields, r.n_fields);
  free_kvs(r.rules, r.n_rules);
  pr_buf_free(&r.timeline);
  pr_buf_free(&r.captured);
}


/* --- Entry points --------------------------------------------------------- */

static void
ctx_free(rt_ctx *c)
{
  for (size_t i = 0; i < c->n_steps; i++) {
    free_step(&c->steps[i]);
  }
  free(c->steps);
  for (size_t i = 0; i < c->n_cases; i++) {
    free(c->cases[i].name);
    free(c->cases[i].steps);
  }
  free(c->cases);
}


/* Load the test files; run the cases unless gate and on_reload "off". */
static int
run_all(const promptly_host *host, const char *dir, pr_rules *rules,
        int warn_only, int gate, pr_ruletest_result *res, char *err,
        size_t errlen)
{
  memset(res, 0, sizeof(*res));
  rt_ctx c;
  memset(&c, 0, sizeof(c));
  c.host = host;
  c.level = warn_only ? PROMPTLY_LOG_WARN : PROMPTLY_LOG_ERROR;
  c.dir = dir;
  c.rules = rules;
  c.on_reload = PR_RULETEST_REFUSE;

  char **files = NULL;
  size_t n_files = 0;
  int rc = list_tests(dir, &files, &n_files, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  res->files = (uint32_t)n_files;
  if (n_files == 0) {
    free(files);
    return PROMPTLY_OK;
  }
  pr_sandbox *sb = NULL;
  rc = pr_sandbox_new(PR_RULES_MEM_CAP, PR_RULES_BUDGET, sandbox_log, &c, &sb,
                      err, errlen);
  if (rc == PROMPTLY_OK) {
    rc = pr_sandbox_run(sb, register_fns, &c, err, errlen);
  }
  if (rc == PROMPTLY_OK) {
    for (size_t i = 0; i < n_files; i++) {
      load_test_file(&c, sb, files[i]);
    }
    res->on_reload = c.on_reload;
    if (gate && c.on_reload == PR_RULETEST_WARN) {
      c.level = PROMPTLY_LOG_WARN;
    }
    if (!(gate && c.on_reload == PR_RULETEST_OFF)) {
      for (size_t i = 0; i < c.n_cases; i++) {
        if (!c.cases[i].bad) {  /* else its problems are reported */
          run_case(&c, &c.cases[i]);
        }
      }
      res->cases = (uint32_t)c.n_cases;
    }
    res->failed = c.failed;
    res->problems = c.problems;
    if (c.failed > 0 || c.problems > 0) {
      char extra[64] = "";
      if (c.problems > 0) {
        snprintf(extra, sizeof(extra), ", %u problem%s in the test files",
                 (unsigned)c.problems, c.problems == 1 ? "" : "s");
      }
      rc = pr_err(err, errlen, PROMPTLY_ERULE, "rule tests: %u of %u failed%s",
                  (unsigned)c.failed, (unsigned)res->cases, extra);
    }
  }
  pr_sandbox_free(sb);
  for (size_t i = 0; i < n_files; i++) {
    free(files[i]);
  }
  free(files);
  ctx_free(&c);
  return rc;
}


int
pr_ruletest_run(const promptly_host *host, const char *rules_dir,
                pr_rules *rules, int warn_only, pr_ruletest_result *res,
                char *err, size_t errlen)
{
  pr_ruletest_result ignore;
  return run_all(host, rules_dir, rules, warn_only, 0, res ? res : &ignore,
                 err, errlen);
}


int
pr_ruletest_gate(const promptly_host *host, const char *rules_dir,
                 pr_rules *fresh, char *err, size_t errlen)
{
  pr_ruletest_result res;
  char why[RT_MSG] = "";
  int rc = run_all(host, rules_dir, fresh, 0, 1, &res, why, sizeof(why));
  if (rc == PROMPTLY_OK) {
    return PROMPTLY_OK;
  }
  if (rc == PROMPTLY_ERULE && res.on_reload != PR_RULETEST_REFUSE) {
    if (host->log != NULL) {
      char msg[RT_MSG + 64];
      snprintf(msg, sizeof(msg), "%s; reloading anyway (on_reload \"warn\")",
               why);
      host->log(host->user_data, PROMPTLY_LOG_WARN, msg);
    }
    return PROMPTLY_OK;
  }
  return pr_err(err, errlen, rc, "%s", why);
}


static void
folder_log(void *ud, int level, const char *msg)
{
  const promptly_host *h = ud;
  if (h->log != NULL) {
    h->log(h->user_data, level, msg);
  }
}


static void
folder_problem(void *ud, int level, const char *msg)
{
  (void)level;
  folder_log(ud, PROMPTLY_LOG_ERROR, msg);
}


int
pr_ruletest_folder(const promptly_host *host, size_t host_size,
                   const char *rules_dir, uint32_t *cases, uint32_t *failed,
                   char *err, size_t errlen)
{
  promptly_host h;
  memset(&h, 0, sizeof(h));
  memcpy(&h, host, host_size < sizeof(h) ? host_size : sizeof(h));
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  o.log = folder_log;
  o.log_ud = &h;
  o.problem = folder_problem;
  o.problem_ud = &h;
  pr_rules *r = NULL;
  int rc = pr_rules_load(rules_dir, &o, &r, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  pr_ruletest_result res;
  rc = run_all(&h, rules_dir, r, 0, 0, &res, err, errlen);
  pr_rules_free(r);
  if (cases != NULL) {
    *cases = res.cases;
  }
  if (failed != NULL) {
    *failed = res.failed;
  }
  return rc;
}
