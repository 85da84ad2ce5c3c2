/* rules_sla.c - the SLA declarations: durations and shares, metric,
** policy, pause_on / customer_wait (statuses, and conditions on
** attributes or a `when`: rules_pcond), at_risk and exception.
**
** Each is collected at the caller's file:line and compiled, in the order
** of rules_decls[], into the rule set's one pr_sla_set (sla.h), which is
** sealed after the last row.  A target is checked at compile time, when
** every metric is declared, so a key that is no metric is reported as such.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
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

/* --- Durations and shares ------------------------------------------------- */

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
int
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
int
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
  "attrs", "when", "out_of_hours", NULL
};

void
free_metric(rules_metric *m)
{
  free(m->name);
  for (size_t i = 0; i < m->n_on; i++) {
    free(m->on[i].status);
    free(m->on[i].attr);
  }
  free(m->on);
}

long
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

/* Whether the table at idx has a string key (an attribute condition). */
static int
has_named(lua_State *L, int idx)
{
  idx = lua_absindex(L, idx);
  int named = 0;
  lua_pushnil(L);
  while (!named && lua_next(L, idx) != 0) {
    named = lua_type(L, -2) == LUA_TSTRING;
    lua_pop(L, 1);
  }
  if (named) {
    lua_pop(L, 1);  /* the key lua_next left */
  }
  return named;
}


static int
cmp_cstr(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}


typedef struct rules_attr_ctx {
  rules_on_ctx *on;
  const char *attr;
} rules_attr_ctx;

static void
add_attr_value(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
               const char *s)
{
  (void)L;
  rules_attr_ctx *ctx = ud;
  rules_metric *m = ctx->on->m;
  long i = push_elem((void **)&m->on, &m->n_on, sizeof(rules_on));
  if (i < 0) {
    rules_out_of_memory(r, site, "metric");
    return;
  }
  m->on[i].role = ctx->on->role;
  m->on[i].kind = PR_SLA_EV_ATTR;
  if ((m->on[i].attr = pr_strdup(ctx->attr)) == NULL ||
      (m->on[i].status = pr_strdup(s)) == NULL) {
    rules_out_of_memory(r, site, "metric");
  }
}


/* A role given as a table with named entries: its list entries are events
** as usual, each name = value (or = { values }) an attribute condition
** (start = { queue = "Network" }: the clock starts when the ticket comes
** to the queue Network). */
static void
collect_role_table(lua_State *L, pr_rules *r, rules_on_ctx *ctx,
                   const char *what, int idx)
{
  const char *role = metric_roles[ctx->role];
  size_t n = lua_rawlen(L, idx);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &ctx->m->site, "%s: '%s' entry %zu is a %s, not a "
                    "string", what, role, i, luaL_typename(L, -1));
    } else {
      add_on(L, r, &ctx->m->site, ctx, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  /* The names, sorted (pairs() order is not deterministic); keys that are
  ** neither a name nor a list position are reported. */
  size_t nk = 0, bad = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    nk += lua_type(L, -1) == LUA_TSTRING;
  }
  const char **keys = lua_newuserdatauv(L, (nk + 1) * sizeof(char *), 0);
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      keys[k++] = lua_tostring(L, -1);
    } else if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
               (size_t)lua_tointeger(L, -1) > n) {
      bad++;
    }
  }
  if (bad > 0) {
    rules_problem(r, &ctx->m->site, "%s: '%s': %zu entr%s neither an event "
                  "nor name = value", what, role, bad, bad == 1 ? "y" : "ies");
  }
  qsort(keys, k, sizeof(char *), cmp_cstr);
  char where[96];
  for (size_t i = 0; i < k; i++) {
    snprintf(where, sizeof(where), "%s.%s", role, keys[i]);
    rules_attr_ctx actx = {ctx, keys[i]};
    lua_pushstring(L, keys[i]);
    lua_rawget(L, idx);
    each_string(L, r, &ctx->m->site, what, where, -1, add_attr_value, &actx);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the names */
}


void
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
      if (lua_type(L, -1) == LUA_TTABLE && has_named(L, -1)) {
        collect_role_table(L, r, &ctx, what, lua_gettop(L));
      } else {
        each_string(L, r, &m->site, what, metric_roles[role], -1, add_on,
                    &ctx);
      }
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
void
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
      rules_on *o = &m->on[j];
      if ((o->attr != NULL
             ? pr_sla_set_metric_on_attr(r->sla, index, o->role, o->attr,
                                         o->status, err, sizeof(err))
             : pr_sla_set_metric_on(r->sla, index, o->role, o->kind,
                                    o->status, err, sizeof(err))) !=
          PROMPTLY_OK) {
        rules_problem(r, &m->site, "metric '%s': %s", m->name, err);
      }
    }
  }
}

/* --- policy "name" { ... } ------------------------------------------------ */

void
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
  for (size_t i = 0; i < p->n_ooh; i++) {
    free(p->ooh[i].name);
    free(p->ooh[i].value);
  }
  free(p->ooh);
  free_match(&p->m);
}

/* out_of_hours = { first_response = "+30m", ... } at val. */
static void
collect_out_of_hours(lua_State *L, pr_rules *r, rules_policy *p,
                     const char *what, int val)
{
  if (lua_type(L, val) != LUA_TTABLE) {
    rules_problem(r, &p->site, "%s: out_of_hours must be a table, as in "
                  "out_of_hours = { first_response = \"+30m\" }, not a %s",
                  what, luaL_typename(L, val));
    return;
  }
  char where[128];
  snprintf(where, sizeof(where), "%s: out_of_hours", what);
  size_t n;
  const char **keys = sorted_keys(L, r, &p->site, where, val, &n);
  for (size_t i = 0; i < n; i++) {
    raw_field(L, val, keys[i]);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &p->site, "%s: %s: a duration such as \"+30m\", "
                    "not a %s", where, keys[i], luaL_typename(L, -1));
    } else {
      long k = push_elem((void **)&p->ooh, &p->n_ooh, sizeof(rules_arg));
      if (k < 0 || (p->ooh[k].name = pr_strdup(keys[i])) == NULL ||
          (p->ooh[k].value = pr_strdup(lua_tostring(L, -1))) == NULL) {
        rules_out_of_memory(r, &p->site, what);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

long
open_policy(lua_State *L, pr_rules *r, const rules_site *site,
            const char *name)
{
  (void)L;
  if (name[0] == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    rules_problem(r, site, "policy: a name needs 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
    return -1;
  }
  if (r->policy_names == NULL) {
    r->policy_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            NULL);
  }
  size_t dup = GPOINTER_TO_SIZE(g_hash_table_lookup(r->policy_names, name));
  if (dup > 0) {
    rules_problem(r, site, "policy '%s': already declared at %s", name,
                  r->policies[dup - 1].site.where);
    return -1;
  }
  if (r->n_policies >= PR_SLA_MAX_POLICIES) {
    rules_problem(r, site, "policy '%s': too many policies (at most %d)",
                  name, PR_SLA_MAX_POLICIES);
    return -1;
  }
  /* Grown by doubling (10,000 account policies): the array is a power of
  ** two of entries from 8 on. */
  size_t n = r->n_policies;
  if (n >= 8 && (n & (n - 1)) == 0) {
    rules_policy *v = realloc(r->policies, 2 * n * sizeof(rules_policy));
    if (v == NULL) {
      rules_out_of_memory(r, site, "policy");
      return -1;
    }
    r->policies = v;
  } else if (n == 0) {
    r->policies = malloc(8 * sizeof(rules_policy));
    if (r->policies == NULL) {
      rules_out_of_memory(r, site, "policy");
      return -1;
    }
  }
  long i = (long)r->n_policies++;
  memset(&r->policies[i], 0, sizeof(rules_policy));
  r->policies[i].site = *site;
  r->policies[i].m.when_ref = LUA_NOREF;
  if ((r->policies[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "policy");
    return -1;
  }
  g_hash_table_insert(r->policy_names, g_strdup(name),
                      GSIZE_TO_POINTER((size_t)i + 1));
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
  } else if (lua_type(L, idx) == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->has_fn = 1;
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
void
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

void
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
    } else if (strcmp(keys[i], "out_of_hours") == 0) {
      collect_out_of_hours(L, r, p, what, val);
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

/* A target in business days, "3bd" or "3 bd": n > 0; -1 for 0 or more
** than PR_CAL_MAX_BDAYS; 0 if the text is not of that form. */
static int
business_days(const char *text)
{
  const char *p = text;
  long n = 0;
  int digits = 0;
  while (*p == ' ') {
    p++;
  }
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (n <= PR_CAL_MAX_BDAYS) {
      n = n * 10 + (*p - '0');
    }
  }
  while (*p == ' ') {
    p++;
  }
  if (digits == 0 || p[0] != 'b' || p[1] != 'd') {
    return 0;
  }
  for (p += 2; *p == ' '; p++) {
  }
  if (*p != '\0') {
    return 0;
  }
  return n >= 1 && n <= PR_CAL_MAX_BDAYS ? (int)n : -1;
}

/* A relative deadline: [end of] (business day | next business day | N
** business day[s]) [[by | at] HH:MM], words in any case, any spaces.
** 1 with *n and *minute (PR_SLA_REL_END for "end of"); 0 if the text is
** not of that form (it does not start with "end", "next" or "N
** business"); -1 with a hint in msg for one that is malformed. */
static int
relative_deadline(const char *text, uint32_t *n, int32_t *minute, char *msg,
                  size_t len)
{
  char buf[128];
  const char *w[12];
  int nw = 0;
  size_t tl = strlen(text);
  if (tl >= sizeof(buf)) {
    return 0;
  }
  memcpy(buf, text, tl + 1);
  for (char *p = strtok(buf, " \t"); p != NULL && nw < 12;
       p = strtok(NULL, " \t")) {
    for (char *q = p; *q; q++) {
      *q = g_ascii_tolower(*q);
    }
    w[nw++] = p;
  }
  int i = 0, end = 0;
  long days = -1;
  if (nw == 0) {
    return 0;
  }
  const char *form = "write \"next business day 16:00\", \"2 business "
                     "days 12:00\", \"end of business day\" or \"end of "
                     "next business day\"";
  if (strcmp(w[0], "end") == 0) {
    if (nw < 2 || strcmp(w[1], "of") != 0) {
      snprintf(msg, len, "'%s' is not a relative deadline (%s)", text, form);
      return -1;
    }
    end = 1;
    i = 2;
  }
  if (i < nw && strcmp(w[i], "next") == 0) {
    days = 1;
    i++;
  } else if (i < nw && w[i][0] >= '0' && w[i][0] <= '9' &&
             strspn(w[i], "0123456789") == strlen(w[i])) {
    if (i + 1 >= nw || strcmp(w[i + 1], "business") != 0) {
      return end ? (snprintf(msg, len, "'%s' is not a relative deadline "
                             "(%s)", text, form), -1) : 0;
    }
    days = strlen(w[i]) > 5 ? 100000 : strtol(w[i], NULL, 10);
    i++;
  } else if (!end) {
    return 0;
  } else {
    days = 0;
  }
  if (i + 1 >= nw || strcmp(w[i], "business") != 0 ||
      (strcmp(w[i + 1], "day") != 0 && strcmp(w[i + 1], "days") != 0)) {
    snprintf(msg, len, "'%s' is not a relative deadline (%s)", text, form);
    return -1;
  }
  i += 2;
  if (days > PR_CAL_MAX_BDAYS) {
    snprintf(msg, len, "'%s': a relative deadline is at most %d business "
             "days away", text, PR_CAL_MAX_BDAYS);
    return -1;
  }
  if (days == 0 && !end) {
    snprintf(msg, len, "'%s': 0 business days is the cycle's own day: write "
             "\"end of business day\"", text);
    return -1;
  }
  if (i < nw && (strcmp(w[i], "by") == 0 || strcmp(w[i], "at") == 0)) {
    i++;
  }
  int hh = -1, mm = -1;
  if (i < nw) {
    size_t hl = strspn(w[i], "0123456789");
    if (i + 1 != nw) {
      snprintf(msg, len, "'%s': one time of day ends it, as in \"next "
               "business day 16:00\"", text);
      return -1;
    }
    if (hl < 1 || hl > 2 || w[i][hl] != ':' ||
        strspn(w[i] + hl + 1, "0123456789") != 2 || w[i][hl + 3] != '\0' ||
        sscanf(w[i], "%d:%d", &hh, &mm) != 2) {
      snprintf(msg, len, "'%s': '%s' is not a time of day (write \"16:00\")",
               text, w[i]);
      return -1;
    }
    if (hh > 23 || mm > 59) {
      snprintf(msg, len, "'%s': '%s' is out of range (00:00 to 23:59)", text,
               w[i]);
      return -1;
    }
  }
  if (end && hh >= 0) {
    snprintf(msg, len, "'%s': give the day's end or a time of day, not both",
             text);
    return -1;
  }
  if (!end && hh < 0) {
    snprintf(msg, len, "'%s': say when on that day: \"%s 16:00\", or \"end "
             "of %s\"", text, text, text);
    return -1;
  }
  *n = (uint32_t)days;
  *minute = end ? PR_SLA_REL_END : hh * 60 + mm;
  return 1;
}

void
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
    rules_cal *zoned = NULL;
    if (p->calendar != NULL) {
      size_t c = 0;
      while (c < r->n_cals && strcmp(r->cals[c].name, p->calendar) != 0) {
        c++;
      }
      /* A calendar that is unknown or broken is reported, and the rest of
      ** the policy is checked all the same (in calendar time, since the set
      ** will not load): one problem never hides the others. */
      if (c < r->n_cals) {
        cal = r->cals[c].cal;  /* NULL: the calendar's own problem */
        zoned = r->cals[c].tz_attr != NULL && cal != NULL ? &r->cals[c]
                                                           : NULL;
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
      }
    }
    uint32_t index;
    if (pr_sla_set_add_policy(r->sla, p->name, cal, &index, err,
                              sizeof(err)) != PROMPTLY_OK ||
        pr_sla_set_policy_calendar(r->sla, index, p->calendar, err,
                                   sizeof(err)) != PROMPTLY_OK ||
        (zoned != NULL &&
         pr_sla_set_policy_zones(r->sla, index, rules_zone_cal, zoned, err,
                                 sizeof(err)) != PROMPTLY_OK)) {
      rules_problem(r, &p->site, "%s: %s", what, err);
      continue;
    }
    /* A broken calendar is reported already: no out_of_hours problem on
    ** top of it. */
    for (size_t k = 0; (cal != NULL || p->calendar == NULL) && k < p->n_ooh;
         k++) {
      const rules_arg *g = &p->ooh[k];
      int m = pr_sla_set_metric_find(r->sla, g->name);
      char where[128];
      snprintf(where, sizeof(where), "out_of_hours: %s", g->name);
      int64_t ms;
      if (m < 0) {
        rules_problem(r, &p->site, "%s: out_of_hours: unknown metric '%s' "
                      "(first_response, next_response, periodic_update, "
                      "resolution, or a declared metric)", what, g->name);
      } else if (duration_or_problem(r, &p->site, what, where,
                                     g->value + (g->value[0] == '+'), 0,
                                     &ms) == 0 &&
                 pr_sla_set_out_of_hours(r->sla, index, (uint32_t)m, ms, err,
                                         sizeof(err)) != PROMPTLY_OK) {
        rules_problem(r, &p->site, "%s: %s", what, err);
      }
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
                        "status, attrs, when, out_of_hours, or the name of a "
                        "metric)",
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
                      "a deadline such as \"next business day 16:00\", a "
                      "function returning one, \"best effort\" or false, "
                      "not a %s",
                      what, where, tg->bad_type);
        continue;
      }
      if (tg->has_fn) {
        long fi = push_elem((void **)&r->fns, &r->n_fns, sizeof(rules_fn));
        char *fw = fi < 0 ? NULL : g_strdup_printf("%s: %s", what, where);
        if (fi < 0 || fw == NULL) {
          free(fw);
          rules_out_of_memory(r, &p->site, what);
          continue;
        }
        r->fns[fi].ref = tg->fn_ref;
        r->fns[fi].site = p->site;
        r->fns[fi].what = pr_strdup(fw);
        g_free(fw);
        for (size_t l = from; l < to; l++) {
          if (pr_sla_set_target_fn(r->sla, index, (uint32_t)l, (uint32_t)m,
                                   (uint32_t)fi, err, sizeof(err)) !=
              PROMPTLY_OK) {
            rules_problem(r, &p->site, "%s", err);
            break;
          }
        }
        continue;
      }
      int bd = tg->text != NULL ? business_days(tg->text) : 0;
      uint32_t rel_n = 0;
      int32_t rel_min = 0;
      char rel_msg[320];
      int rel = bd == 0 && tg->text != NULL
                  ? relative_deadline(tg->text, &rel_n, &rel_min, rel_msg,
                                      sizeof(rel_msg))
                  : 0;
      if (rel < 0) {
        rules_problem(r, &p->site, "%s: %s: %s", what, where, rel_msg);
        continue;
      }
      if (bd < 0) {
        rules_problem(r, &p->site, "%s: %s: '%s': business days are 1bd "
                      "to %dbd", what, where, tg->text, PR_CAL_MAX_BDAYS);
        continue;
      }
      if (bd == 0 && rel == 0 && tg->text != NULL &&
                 g_ascii_strcasecmp(tg->text, "best effort") &&
                 duration_or_problem(r, &p->site, what, where, tg->text, 0,
                                     &ms)) {
        continue;
      }
      for (size_t l = from; l < to; l++) {
        int rc = rel > 0
          ? pr_sla_set_target_deadline(r->sla, index, (uint32_t)l,
                                       (uint32_t)m, rel_n, rel_min, err,
                                       sizeof(err))
          : bd > 0
          ? pr_sla_set_target_bdays(r->sla, index, (uint32_t)l, (uint32_t)m,
                                    (uint32_t)bd, err, sizeof(err))
          : pr_sla_set_target(r->sla, index, (uint32_t)l, (uint32_t)m, ms,
                              err, sizeof(err));
        if (rc != PROMPTLY_OK) {
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

/* The table form with conditions: statuses at 1..n (each pauses on its
** own), and named keys making one condition, all of whose parts must
** hold: attributes (any name: vendor_wait = "yes", or a list of values),
** attrs = { ... }, when = function(t) ... end. */
static void
collect_pause_decl(lua_State *L, pr_rules *r, const rules_site *site,
                   int arg, int kind)
{
  static const char *const decl[2] = {"pause_on", "customer_wait"};
  rules_pause_ctx ctx = {kind};
  size_t n;
  if (lua_type(L, arg) != LUA_TTABLE || is_list(L, arg, &n)) {
    each_string(L, r, site, decl[kind], decl[kind], arg, add_pause, &ctx);
    return;
  }
  size_t len = (size_t)lua_rawlen(L, arg);
  for (size_t i = 1; i <= len; i++) {
    lua_rawgeti(L, arg, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "%s: entry %zu is a %s, not a status",
                    decl[kind], i, luaL_typename(L, -1));
    } else {
      add_pause(L, r, site, &ctx, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  long ci = push_elem((void **)&r->pconds, &r->n_pconds, sizeof(rules_pcond));
  if (ci < 0) {
    rules_out_of_memory(r, site, decl[kind]);
    return;
  }
  rules_pcond *pc = &r->pconds[ci];
  pc->site = *site;
  pc->customer_wait = kind;
  pc->m.when_ref = LUA_NOREF;
  size_t problems = r->n_problems;
  /* The named part alone, in name order (the statuses are done). */
  lua_newtable(L);
  int named = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
        (size_t)lua_tointeger(L, -2) <= len) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, named);
  }
  size_t nk;
  const char **keys = sorted_keys(L, r, site, decl[kind], named, &nk);
  for (size_t i = 0; i < nk; i++) {
    int val = lua_gettop(L) + 1;
    raw_field(L, named, keys[i]);
    if (strcmp(keys[i], "words") == 0) {
      rules_problem(r, site, "%s: words cannot pause a clock (give "
                    "statuses, attributes such as vendor_wait = \"yes\", "
                    "attrs or when)", decl[kind]);
    } else if (strcmp(keys[i], "when") == 0 || strcmp(keys[i], "attrs") == 0) {
      collect_match_key(L, r, site, decl[kind], &pc->m, keys[i], val);
    } else {
      collect_cond(L, r, site, decl[kind], &pc->m, keys[i], val);
    }
    lua_settop(L, val - 1);
  }
  lua_pop(L, 2);
  if (r->n_problems > problems) {
    /* Reported: the condition does not count (nor say it has none). */
    free_match(&r->pconds[ci].m);
    r->n_pconds--;
  }
}

void
collect_pause_on(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  collect_pause_decl(L, r, site, arg, 0);
}

void
collect_customer_wait(lua_State *L, pr_rules *r, const rules_site *site,
                      int arg)
{
  collect_pause_decl(L, r, site, arg, 1);
}

void
free_pconds(pr_rules *r)
{
  for (size_t i = 0; i < r->n_pconds; i++) {
    free_match(&r->pconds[i].m);
  }
  free(r->pconds);
  r->pconds = NULL;
  r->n_pconds = 0;
}

void
compile_pauses(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_pconds; i++) {
    const rules_pcond *pc = &r->pconds[i];
    if (pc->m.n_conds == 0 && pc->m.when_ref == LUA_NOREF) {
      rules_problem(r, &pc->site, "%s: no condition (give statuses, "
                    "attributes such as vendor_wait = \"yes\", attrs or "
                    "when)", pc->customer_wait ? "customer_wait" : "pause_on");
    }
  }
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

/* A share for at_risk: per mille, or 0 after a problem. */
static int32_t
at_risk_share(pr_rules *r, const rules_site *site, const char *what,
              const char *text)
{
  int32_t permille;
  int64_t offset;
  int rc = parse_share(text, 0, &permille, &offset);
  if (rc == -1) {
    rules_problem(r, site, "%s: '%s' is not a share (write \"75%%\" "
                  "or \"87.5%%\")", what, text);
  } else if (rc == -2 || permille < 1 || permille > 1000) {
    rules_problem(r, site, "%s: '%s' is out of range (more than 0%% "
                  "and at most 100%%)", what, text);
  } else {
    return permille;
  }
  return 0;
}

/* at_risk "75%", or at_risk { "75%", first_response = "50%", ... }: the
** share for every metric (the first entry, optional) and per metric. */
void
collect_at_risk(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  /* A declaration with problems does not count as one. */
  if (r->at_risk != 0 || r->n_at_risk > 0) {
    rules_problem(r, site, "at_risk: already declared at %s",
                  r->at_risk_site.where);
    return;
  }
  r->at_risk_site = *site;
  if (lua_type(L, arg) == LUA_TSTRING) {
    r->at_risk = at_risk_share(r, site, "at_risk", lua_tostring(L, arg));
    return;
  }
  size_t len;
  if (lua_type(L, arg) != LUA_TTABLE || (len = (size_t)lua_rawlen(L, arg)) > 1) {
    rules_problem(r, site, "at_risk: expects a share, as in at_risk "
                  "\"75%%\", or a table, as in at_risk { \"75%%\", "
                  "first_response = \"50%%\" }");
    return;
  }
  if (len == 1) {
    lua_rawgeti(L, arg, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      r->at_risk = at_risk_share(r, site, "at_risk", lua_tostring(L, -1));
    } else {
      rules_problem(r, site, "at_risk: the share for every metric is a "
                    "string such as \"75%%\", not a %s",
                    luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  /* The named entries, without the list entry, for sorted_keys. */
  lua_newtable(L);
  int named = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, named);
    } else {
      lua_pop(L, 1);
    }
  }
  size_t n;
  const char **keys = sorted_keys(L, r, site, "at_risk", named, &n);
  for (size_t i = 0; i < n; i++) {
    char what[96];
    snprintf(what, sizeof(what), "at_risk: %s", keys[i]);
    raw_field(L, named, keys[i]);
    int32_t share = 0;
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "%s: a share such as \"50%%\", not a %s",
                    what, luaL_typename(L, -1));
    } else {
      share = at_risk_share(r, site, what, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    if (share == 0) {
      continue;
    }
    int32_t *v = realloc(r->at_risk_shares,
                         (r->n_at_risk + 1) * sizeof(int32_t));
    if (v == NULL) {
      rules_out_of_memory(r, site, "at_risk");
      break;
    }
    r->at_risk_shares = v;
    size_t k = r->n_at_risk;
    if (push_str(&r->at_risk_names, &r->n_at_risk, keys[i]) != PROMPTLY_OK) {
      rules_out_of_memory(r, site, "at_risk");
      break;
    }
    r->at_risk_shares[k] = share;
  }
  lua_pop(L, 2); /* keys, named */
}

void
compile_at_risk(pr_rules *r)
{
  char err[512];
  if (r->sla == NULL) {
    return;
  }
  if (r->at_risk != 0 &&
      pr_sla_set_at_risk(r->sla, r->at_risk, err, sizeof(err)) !=
        PROMPTLY_OK) {
    rules_problem(r, &r->at_risk_site, "at_risk: %s", err);
  }
  for (size_t i = 0; i < r->n_at_risk; i++) {
    int m = pr_sla_set_metric_find(r->sla, r->at_risk_names[i]);
    if (m < 0) {
      rules_problem(r, &r->at_risk_site,
                    "at_risk: unknown metric '%s' (first_response, "
                    "next_response, periodic_update, resolution, or a "
                    "declared metric)", r->at_risk_names[i]);
    } else if (pr_sla_set_metric_at_risk(r->sla, (uint32_t)m,
                                         r->at_risk_shares[i], err,
                                         sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &r->at_risk_site, "at_risk: %s", err);
    }
  }
}

/* --- exception "name" { extend = "4h" | exclude = true, ... } -------------- */

void
free_exc(rules_exc *e)
{
  free(e->name);
  free_strs(e->metrics, e->n_metrics);
  free(e->reason);
  free(e->attr);
  free(e->reason_attr);
}

long
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

void
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

void
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
void
seal_sla(pr_rules *r)
{
  char err[512];
  if (r->sla != NULL && r->n_problems == 0 &&
      pr_sla_set_seal(r->sla, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, NULL, "SLA: %s", err);
  }
}
