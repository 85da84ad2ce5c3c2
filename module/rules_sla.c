/* rules_sla.c - the SLA declarations' common ground: durations and
** shares, metric, at_risk, and sealing the set.  policy is in
** rules_policy.c, pause_on / customer_wait in rules_pauses.c, exception in
** rules_exceptions.c.
**
** Each is collected at the caller's file:line and compiled, in the order
** of rules_decls[], into the rule set's one pr_sla_set (sla.h), which is
** sealed after the last row (seal_sla, here).  A target is checked at
** compile time, when every metric is declared, so a key that is no metric
** is reported as such.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


void
seal_sla(pr_rules *r)
{
  char err[512];
  if (r->sla != NULL && r->n_problems == 0 &&
      pr_sla_set_seal(r->sla, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, NULL, "SLA: %s", err);
  }
}
