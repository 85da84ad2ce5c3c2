/* ruletest_declare.c - the functions a *.test.lua file calls: test
** "name" { steps }, create/update/reply/... (events), expect, action,
** record, on_reload.
**
** Each step is checked and copied into C the moment its constructor is
** called, with the file:line of the call (a problem is reported there and
** marks the step bad, so its case does not run); it returns a userdata
** handle that only `test` accepts, so a case holds its steps in the order
** written.  A case's instants never go back: checked when it is declared.
*/

#include "config.h"

#include "ruletest.h"
#include "ruletest_internal.h"
#include "core.h"
#include "problems.h"
#include "rules.h"
#include "sla.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

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


void
rt_free_step(rt_step *s)
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


int
rt_cmp_kv(const void *a, const void *b)
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


/* A new step of this kind from the table at index 1, at the caller's
** file:line: its "at" and "ticket"; bad holds the problem count at the
** start until push_step. */
static void
step_begin(lua_State *L, rt_ctx *c, rt_step *s, int kind)
{
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->bad = (int)c->problems;
  where_here(L, s->where);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "at");
  if (!lua_isnil(L, -1)) {
    const char *at = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                    : NULL;
    if (at == NULL || rt_parse_iso(at, &s->at_ms) != 0) {
      rt_problem(c, s->where,
              "at: '%s' is not an instant (write \"2026-11-16T07:42:00Z\", "
              "UTC)", at ? at : luaL_typename(L, -1));
    }
    s->has_at = 1;  /* given, even if wrong: no second message about it */
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "ticket");
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0) {
      rt_problem(c, s->where, "ticket: must be a whole number above 0");
    } else {
      s->has_ticket = 1;
      s->ticket = lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 1);
}


/* Append a step, its pairs sorted by name (checked and reported in that
** order), and return its handle (a userdata holding the index). */
static int
push_step(lua_State *L, rt_ctx *c, rt_step *s)
{
  if (s->n_kv > 1) {
    qsort(s->kv, s->n_kv, sizeof(pr_kv), rt_cmp_kv);
  }
  if (c->n_steps == c->cap_steps) {
    size_t cap = c->cap_steps ? c->cap_steps * 2 : 32;
    rt_step *n = realloc(c->steps, cap * sizeof(*n));
    if (n == NULL) {
      rt_free_step(s);
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
  step_begin(L, c, &s, ST_EVENT);
  s.type = (int32_t)lua_tointeger(L, lua_upvalueindex(2));
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    char buf[32];
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    const char *v = value_text(L, -1, buf);
    if (k == NULL) {
      rt_problem(c, s.where, "%s: attributes need names (name = \"value\")",
              pr_event_type_name(s.type));
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_begin's */
    } else if (v == NULL) {
      rt_problem(c, s.where, "%s: attribute '%s' must be a string",
              pr_event_type_name(s.type), k);
    } else {
      kv_add(L, &s, k, v);
    }
    lua_pop(L, 1);
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
      rt_problem(c, s->where, "expect: %s: unknown metric '%s' (known: %s)",
              key, m ? m : "?", pr_buf_cstr(&known));
      pr_buf_free(&known);
    } else if (v == NULL) {
      rt_problem(c, s->where, "expect: %s.%s must be a string", key, m);
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
  step_begin(L, c, &s, ST_EXPECT);
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
      rt_problem(c, s.where, "expect: checks need names (known: %s)",
              expect_keys);
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_begin's */
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
          rt_problem(c, s.where, "expect: fields: name = \"value\" pairs");
        } else {
          kv_add(L, &s, f, fv);
        }
        lua_pop(L, 1);
      }
    } else if (table || v == NULL) {
      rt_problem(c, s.where, "expect: %s: %s", k,
              table ? "a table only for policy, due, state and fields"
                    : "must be a string");
    } else if (strcmp(k, "priority") == 0) {
      if (pr_rules_level_find(c->rules, v) < 0) {
        rt_problem(c, s.where, "expect: priority: unknown level '%s'", v);
      } else {
        kv_add(L, &s, "priority",
               pr_rules_level_id(c->rules,
                                 (size_t)pr_rules_level_find(c->rules, v)));
      }
    } else if (strcmp(k, "rule") == 0) {
      kv_add(L, &s, CHK_RULE, v);
    } else if (strcmp(k, "policy") == 0) {
      if (strcmp(v, "none") != 0 && pr_sla_set_policy_find(set, v) < 0) {
        rt_problem(c, s.where, "expect: policy: unknown policy '%s'", v);
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
      rt_problem(c, s.where, "expect: unknown key '%s' (known: %s)", k,
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
      if (rt_parse_iso(s.kv[i].value, &t) != 0) {
        rt_problem(c, s.where, "expect: %s: '%s' is not an instant (write "
                "\"2026-11-16T07:42:00Z\" or \"none\")", s.kv[i].name,
                s.kv[i].value);
      } else {
        char iso[PR_ISO_LEN];
        pr_iso_format(t, iso);
        char *canon = pr_strdup(iso);
        if (canon == NULL) {
          rt_free_step(&s);
          oom_raise(L);
        }
        free((char *)s.kv[i].value);
        s.kv[i].value = canon;
      }
    }
  }
  if (s.n_kv == 0 && c->problems == (uint32_t)s.bad) {
    rt_problem(c, s.where, "expect: nothing to check (known: %s)", expect_keys);
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
  step_begin(L, c, &s, ST_ACTION);
  if (!s.has_at) {
    rt_problem(c, s.where, "action: at = \"...\" (its instant) is required");
  }
  lua_rawgeti(L, 1, 1);
  if (lua_type(L, -1) != LUA_TSTRING) {
    rt_problem(c, s.where, "action: its name comes first (action { at = ..., "
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
        rt_problem(c, s.where, "action: one name, then name = \"value\" "
                "arguments");
      }
    } else if (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0) {
      /* step_begin's */
    } else if (v == NULL) {
      rt_problem(c, s.where, "action: argument '%s' must be a string", k);
    } else {
      kv_add(L, &s, k, v);
    }
    lua_pop(L, 1);
  }
  return push_step(L, c, &s);
}


/* The keys of an outcome record a record step may check (promptly.h,
** "Outcome records"): the scalar ones, which come before attrs. */
static const char *const record_keys[] = {
  "outcome", "policy", "calendar", "priority_start", "priority_end",
  "target_ms", "started", "stopped", "due", "breached_at", "breach_policy",
  "breach_target_ms", "elapsed_ms", "paused_ms", "customer_wait_ms",
  "outside_ms", NULL};

/* record { at = ..., metric = "first_response", cycle = 1,
**          outcome = "met", policy = "corporate", elapsed_ms = 600000 }:
** the outcome record of that cycle, ended by the step's instant or still
** open then, has these values (false: null). */
static int
l_record(lua_State *L)
{
  rt_ctx *c = ctx_of(L);
  rt_step s;
  step_begin(L, c, &s, ST_RECORD);
  const pr_sla_set *set = pr_rules_sla(c->rules);
  int have_metric = 0, have_cycle = 0;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    char buf[32];
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    const char *v = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)
                      ? "null"
                      : value_text(L, -1, buf);
    int known = 0;
    for (size_t i = 0; k != NULL && record_keys[i] != NULL; i++) {
      known |= strcmp(k, record_keys[i]) == 0;
    }
    if (k != NULL && (strcmp(k, "at") == 0 || strcmp(k, "ticket") == 0)) {
      /* step_begin's */
    } else if (k != NULL && strcmp(k, "metric") == 0) {
      if (v == NULL || pr_sla_set_metric_find(set, v) < 0) {
        pr_buf known_m;
        pr_buf_init(&known_m);
        for (uint32_t i = 0; i < set->n_metrics; i++) {
          pr_buf_printf(&known_m, "%s%s", i ? ", " : "",
                        set->metrics[i].name);
        }
        rt_problem(c, s.where, "record: unknown metric '%s' (known: %s)",
                v ? v : "?", pr_buf_cstr(&known_m));
        pr_buf_free(&known_m);
      } else {
        kv_add(L, &s, "@metric", v);
        have_metric = 1;
      }
    } else if (k != NULL && strcmp(k, "cycle") == 0) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0) {
        rt_problem(c, s.where, "record: cycle: a whole number above 0");
      } else {
        kv_add(L, &s, "@cycle", v);
        have_cycle = 1;
      }
    } else if (!known) {
      rt_problem(c, s.where, "record: unknown key '%s' (known: at, ticket, "
              "metric, cycle, outcome, policy, calendar, priority_start, "
              "priority_end, target_ms, started, stopped, due, breached_at, "
              "breach_policy, breach_target_ms, elapsed_ms, paused_ms, "
              "customer_wait_ms, outside_ms)", k ? k : "?");
    } else if (v == NULL) {
      rt_problem(c, s.where, "record: %s: a string, a whole number or false",
              k);
    } else {
      kv_add(L, &s, k, v);
    }
    lua_pop(L, 1);
  }
  if (!have_metric && c->problems == (uint32_t)s.bad) {
    rt_problem(c, s.where, "record: metric = \"...\" is required");
  }
  if (!have_cycle) {
    kv_add(L, &s, "@cycle", "1");
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
      rt_problem(c, k.where, "test: ticket: must be a whole number above 0");
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
    if (u == NULL || rt_parse_iso(u, &until) != 0) {
      rt_problem(c, k.where, "test: through: '%s' is not an instant",
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
        rt_problem(c, k.where, "test: unknown key '%s' (known: ticket, through, "
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
      rt_problem(c, k.where, "test '%s': step %lld is not a step (create {...}, "
              "expect {...}, action {...}, ...)", k.name, (long long)i);
      continue;
    }
    rt_step *s = &c->steps[*h];
    k.bad |= s->bad;
    if (s->kind == ST_EVENT && first_event && !s->has_at) {
      rt_problem(c, s->where, "%s: the first event of a test needs at = \"...\"",
              pr_event_type_name(s->type));
    }
    if (s->kind == ST_EVENT) {
      first_event = 0;
    }
    if (s->has_at) {
      if (s->at_ms < last) {
        rt_problem(c, s->where, "at: before the step at %s; steps go in time "
                "order", last_where);
      } else {
        last = s->at_ms;
        last_where = s->where;
      }
    }
    k.steps[k.n_steps++] = *h;
  }
  if (first_event) {
    rt_problem(c, k.where, "test '%s': no event (create {...}, ...)", k.name);
  }
  k.end_ms = until > last ? until : last;
  if (until != INT64_MIN && until < last) {
    rt_problem(c, k.where, "test '%s': through is before its last step",
              k.name);
  }
  k.bad |= c->problems != problems_before;
  if (c->n_cases == RT_MAX_CASES) {
    rt_problem(c, k.where, "test '%s': more than %d cases in the folder", k.name,
            RT_MAX_CASES);
    free(k.steps);
    free(k.name);
    return 0;
  }
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
      rt_problem(c, w, "test '%s': already declared at %s", lua_tostring(L, 1),
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
    rt_problem(c, w, "on_reload: '%s' (write \"refuse\", \"warn\" or \"off\")",
            v);
  } else if (c->on_reload_where[0] != '\0') {
    rt_problem(c, w, "on_reload: already declared at %s", c->on_reload_where);
  } else {
    c->on_reload = mode;
    snprintf(c->on_reload_where, RT_WHERE, "%s", w);
  }
  return 0;
}


int
rt_register_fns(lua_State *L)
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
             {"record", l_record},
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
