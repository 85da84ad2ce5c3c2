/* rules_eval.c - the rule set's verdicts on a ticket: its priority, the
** policies that match, the exceptions that apply, the pause conditions
** that hold.
**
** Subject and body are scanned once for every keyword; conditions that
** need no Lua are checked in C first, and `when` functions run in the
** sandbox under its budgets.  A failing `when` is reported as the
** function's file:line with the ticket.
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

/* --- Verdicts ------------------------------------------------------------- */

typedef struct rules_eval {
  pr_rules *r;
  int64_t ticket;
  const pr_kv *attrs;
  size_t n_attrs;
  const uint64_t *hits;
  uint32_t *hit_ids; /* the ids set in hits, ascending */
  size_t n_hits;
  size_t next;     /* the rule or policy to look at next */
  long matched;    /* the rule that matched, or -1 */
  uint32_t *cand;  /* policies left to decide, ascending; ~0u = no match */
  size_t n_cand;
  uint8_t *need;   /* [n_cand]: 1 = its `when` still has to run */
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

static int
cmp_id(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Whether the conditions of m that need no Lua hold. */
static int
match_holds(const rules_eval *ev, const rules_match *m)
{
  if (m->n_words > 0) {
    int any = 0;
    if (ev->hits == NULL || ev->n_hits == 0) {
      /* no text scanned, or no keyword in it */
    } else if (ev->hit_ids != NULL && m->word_sorted != NULL &&
               ev->n_hits < m->n_words / 8) {
      /* Few hits, many words: look each hit up in the sorted ids. */
      for (size_t h = 0; !any && h < ev->n_hits; h++) {
        any = bsearch(&ev->hit_ids[h], m->word_sorted, m->n_words,
                      sizeof(uint32_t), cmp_id) != NULL;
      }
    } else {
      for (size_t w = 0; !any && w < m->n_words; w++) {
        any = pr_matcher_hit(ev->hits, m->word_ids[w]);
      }
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

/* The ids set in hits, for match_holds; none (NULL) on no memory, which
** only makes the lookups slower. */
static void
list_hits(rules_eval *ev, size_t n_kw)
{
  size_t n = 0;
  for (size_t w = 0; w < PR_MATCHER_WORDS(n_kw); w++) {
    n += (size_t)__builtin_popcountll(ev->hits[w]);
  }
  ev->n_hits = n;
  ev->hit_ids = n > 0 ? malloc(n * sizeof(uint32_t)) : NULL;
  for (size_t w = 0, k = 0; ev->hit_ids != NULL && w < PR_MATCHER_WORDS(n_kw);
       w++) {
    for (uint64_t bits = ev->hits[w]; bits != 0; bits &= bits - 1) {
      ev->hit_ids[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
    }
  }
}

/* In Lua: the read-only table `when` functions get, left on the stack. */
static int
push_ticket(lua_State *L, const rules_eval *ev)
{
  lua_createtable(L, 0, (int)ev->n_attrs + 1);
  /* An attribute may be larger than the strings rules may make (a raise
  ** here leaves it on: the next call resets it before rule code runs). */
  pr_sandbox_host_values(ev->r->sb, 1);
  for (size_t i = 0; i < ev->n_attrs; i++) {
    if (ev->attrs[i].name != NULL && ev->attrs[i].value != NULL) {
      lua_pushstring(L, ev->attrs[i].value);
      lua_setfield(L, -2, ev->attrs[i].name);
    }
  }
  pr_sandbox_host_values(ev->r->sb, 0);
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
  if (hits != NULL) {
    list_hits(&ev, pr_matcher_count(r->matcher));
  }

  /* A `when` that fails counts as not matching: the ticket falls through
  ** to the next rules and the default, and the first failure is reported
  ** (ERULE, with *level set all the same). */
  int failed = PROMPTLY_OK;
  for (; ev.next < r->n_prios; ev.next++) {
    const rules_prio *p = &r->prios[ev.next];
    if (p->m.when_ref != LUA_NOREF && match_holds(&ev, &p->m)) {
      /* From the first rule that needs Lua, go on inside Lua. */
      char msg[RULES_MSG_MAX];
      rc = pr_sandbox_run(r->sb, rules_eval_lua, &ev, msg, sizeof(msg));
      if (rc == PROMPTLY_OK) {
        break;
      }
      if (ev.next >= r->n_prios) {
        break;
      }
      if (failed == PROMPTLY_OK) {
        when_failed(r, rc, msg, &r->prios[ev.next].site, "priority", err,
                    errlen);
        failed = rc;
      }
      rc = PROMPTLY_OK;
      continue;  /* ev.next++: the rule after the failing one. */
    }
    if (match_holds(&ev, &p->m)) {
      ev.matched = (long)ev.next;
      break;
    }
  }
  free(hits);
  free(ev.hit_ids);
  ev.hit_ids = NULL;
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
  return failed;
}

/* In Lua: the `when` functions of the candidates marked in ev->need, in
** order; a candidate whose `when` says no becomes ~0u. */
static int
rules_policies_lua(lua_State *L)
{
  rules_eval *ev = lua_touserdata(L, 1);
  pr_rules *r = ev->r;
  int t = push_ticket(L, ev);
  for (ev->next = 0; ev->next < ev->n_cand; ev->next++) {
    if (ev->need[ev->next] &&
        !call_when(L, r->policies[ev->cand[ev->next]].m.when_ref, t)) {
      ev->cand[ev->next] = ~0u;
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
pr_rules_pick(pr_rules *r, int64_t ticket, const pr_kv *attrs,
              size_t n_attrs, pr_sla_pick *pick, size_t *n_matched,
              char *err, size_t errlen)
{
  if (r == NULL || pick == NULL || (attrs == NULL && n_attrs > 0)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  rules_eval ev = {
    .r = r, .ticket = ticket, .attrs = attrs, .n_attrs = n_attrs,
    .hits = NULL, .next = 0, .matched = -1,
  };
  /* The text is scanned only if a policy has words: most have none, and
  ** the scan is the costliest step of a verdict. */
  uint64_t *hits = NULL;
  int rc = PROMPTLY_OK;
  if (rules_index_has_words(r)) {
    rc = scan_words(r, &ev, &hits, err, errlen);
  }
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  ev.hits = hits;
  if (hits != NULL) {
    list_hits(&ev, pr_matcher_count(r->matcher));
  }
  /* Only the policies the index files under what the ticket has. */
  rc = rules_index_candidates(r, attrs, n_attrs, hits, &ev.cand, &ev.n_cand);
  ev.need = ev.n_cand ? calloc(ev.n_cand, 1) : NULL;
  if (rc != PROMPTLY_OK || (ev.n_cand > 0 && ev.need == NULL)) {
    free(hits);
  free(ev.hit_ids);
  ev.hit_ids = NULL;
    free(ev.cand);
    free(ev.need);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  int any_when = 0;
  for (size_t i = 0; i < ev.n_cand; i++) {
    const rules_policy *p = &r->policies[ev.cand[i]];
    if (!match_holds(&ev, &p->m)) {
      ev.cand[i] = ~0u;
    } else if (p->m.when_ref != LUA_NOREF) {
      ev.need[i] = 1;
      any_when = 1;
    }
  }
  free(hits);
  free(ev.hit_ids);
  ev.hit_ids = NULL;
  ev.hits = NULL;
  if (any_when) {
    char msg[RULES_MSG_MAX];
    rc = pr_sandbox_run(r->sb, rules_policies_lua, &ev, msg, sizeof(msg));
    if (rc != PROMPTLY_OK) {
      size_t at_i = ev.next < ev.n_cand ? ev.next : 0;
      while (at_i < ev.n_cand && !ev.need[at_i]) {
        at_i++;
      }
      const rules_policy *at = &r->policies[
        at_i < ev.n_cand && ev.cand[at_i] != ~0u ? ev.cand[at_i] : 0];
      char what[96];
      snprintf(what, sizeof(what), "policy '%s'", at->name);
      free(ev.cand);
      free(ev.need);
      return when_failed(r, rc, msg, &at->site, what, err, errlen);
    }
  }
  size_t found = 0;
  pick->n = 0;
  pick->zone = rules_ticket_zone(r, ticket, attrs, n_attrs);
  for (size_t i = 0; i < ev.n_cand; i++) {
    if (ev.cand[i] == ~0u) {
      continue;
    }
    if (pick->n < PR_SLA_MAX_PICK) {
      pick->v[pick->n++] = (uint16_t)ev.cand[i];
    }
    found++;
  }
  free(ev.cand);
  free(ev.need);
  if (n_matched != NULL) {
    *n_matched = found;
  }
  return found > PR_SLA_MAX_PICK ? PROMPTLY_ENOBUFS : PROMPTLY_OK;
}

int
pr_rules_policies(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                  size_t n_attrs, uint64_t *mask, char *err, size_t errlen)
{
  if (mask == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  pr_sla_pick pick;
  int rc = pr_rules_pick(r, ticket, attrs, n_attrs, &pick, NULL, err, errlen);
  if (rc != PROMPTLY_OK && rc != PROMPTLY_ENOBUFS) {
    return rc;
  }
  *mask = pr_sla_pick_mask(&pick);
  return rc;
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

/* --- Target functions ------------------------------------------------------ */

typedef struct rules_dl {
  rules_eval ev;
  const rules_fn *fn;
  const char *metric, *policy, *level;
  int64_t start_ms;
  int64_t at_ms;
  int given;        /* 1: an instant, 0: no target */
  char bad[160];    /* a result that is no instant, described */
} rules_dl;

/* "2026-11-17T16:00:00Z", optionally ".123" before the Z: UTC only. */
int
rules_parse_instant(const char *s, int64_t *out)
{
  int v[6] = {0}, ms = 0;
  static const int at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
  static const char sep[6] = {'-', '-', 'T', ':', ':', 0};
  if (strlen(s) < 20) {
    return -1;
  }
  for (int i = 0; i < 6; i++) {
    for (int k = 0; k < len[i]; k++) {
      char ch = s[at[i] + k];
      if (ch < '0' || ch > '9') {
        return -1;
      }
      v[i] = v[i] * 10 + (ch - '0');
    }
    if (sep[i] != 0 && s[at[i] + len[i]] != sep[i]) {
      return -1;
    }
  }
  const char *t = s + 19;
  if (*t == '.') {
    for (int k = 1; k <= 3; k++) {
      if (t[k] < '0' || t[k] > '9') {
        return -1;
      }
      ms = ms * 10 + (t[k] - '0');
    }
    t += 4;
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = v[0], mo = v[1], d = v[2];
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (strcmp(t, "Z") != 0 || mo < 1 || mo > 12 || d < 1 ||
      d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || v[3] > 23 ||
      v[4] > 59 || v[5] > 59) {
    return -1;
  }
  int64_t days = pr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out = ((days * 24 + v[3]) * 60 + v[4]) * 60000 + (int64_t)v[5] * 1000 + ms;
  return 0;
}

/* In Lua: fn(t, c), c = { start, start_ms, metric, policy, priority }. */
static int
rules_deadline_lua(lua_State *L)
{
  rules_dl *d = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->fn->ref);
  push_ticket(L, &d->ev);
  char iso[PR_ISO_LEN];
  pr_iso_format(d->start_ms, iso);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, iso);
  lua_setfield(L, -2, "start");
  lua_pushinteger(L, d->start_ms);
  lua_setfield(L, -2, "start_ms");
  lua_pushstring(L, d->metric);
  lua_setfield(L, -2, "metric");
  lua_pushstring(L, d->policy);
  lua_setfield(L, -2, "policy");
  lua_pushstring(L, d->level);
  lua_setfield(L, -2, "priority");
  lua_call(L, 2, 1);
  int ty = lua_type(L, -1);
  if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    d->given = 0;
  } else if (lua_isinteger(L, -1)) {
    d->at_ms = (int64_t)lua_tointeger(L, -1);
    d->given = 1;
  } else if (ty == LUA_TSTRING &&
             rules_parse_instant(lua_tostring(L, -1), &d->at_ms) == 0) {
    d->given = 1;
  } else if (ty == LUA_TSTRING) {
    snprintf(d->bad, sizeof(d->bad), "'%.60s', not an instant",
             lua_tostring(L, -1));
  } else {
    snprintf(d->bad, sizeof(d->bad), "a %s, not an instant",
             luaL_typename(L, -1));
  }
  if (d->given && (d->at_ms < PR_CAL_MIN_MS || d->at_ms >= PR_CAL_MAX_MS)) {
    snprintf(d->bad, sizeof(d->bad), "%lld, out of range",
             (long long)d->at_ms);
    d->given = 0;
  }
  lua_pop(L, 1);
  return 0;
}

int
pr_rules_deadline(pr_rules *r, uint32_t fn, int64_t ticket,
                  const pr_kv *attrs, size_t n_attrs, const char *metric,
                  const char *policy, const char *level, int64_t start_ms,
                  int64_t *at_ms, char *err, size_t errlen)
{
  if (r == NULL || fn >= r->n_fns || at_ms == NULL ||
      (attrs == NULL && n_attrs > 0)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  rules_dl d;
  memset(&d, 0, sizeof(d));
  d.ev.r = r;
  d.ev.ticket = ticket;
  d.ev.attrs = attrs;
  d.ev.n_attrs = n_attrs;
  d.ev.matched = -1;
  d.fn = &r->fns[fn];
  d.metric = metric;
  d.policy = policy;
  d.level = level;
  d.start_ms = start_ms;
  char msg[RULES_MSG_MAX];
  int rc = pr_sandbox_run(r->sb, rules_deadline_lua, &d, msg, sizeof(msg));
  if (rc != PROMPTLY_OK) {
    return when_failed(r, rc, msg, &d.fn->site, d.fn->what, err, errlen);
  }
  if (d.bad[0] != '\0') {
    return pr_err(err, errlen, PROMPTLY_ERULE, "%s: %s: the function "
                  "returned %s (give \"2026-11-17T16:00:00Z\", milliseconds "
                  "since 1970, or nil for no target)", d.fn->site.where,
                  d.fn->what, d.bad);
  }
  *at_ms = d.given ? d.at_ms : INT64_MAX;
  return PROMPTLY_OK;
}



/* The attribute an exception is named by: its attr, else sla_exception. */
static const char *
exc_attr(const rules_exc *e)
{
  return e->attr != NULL ? e->attr : "sla_exception";
}


int
pr_rules_exception_unknown(const pr_rules *r, const pr_kv *attrs,
                           size_t n_attrs, const char **attr,
                           const char **value, char *known, size_t knownlen)
{
  if (r == NULL || attr == NULL || value == NULL ||
      (attrs == NULL && n_attrs > 0) || (known == NULL && knownlen > 0)) {
    return PROMPTLY_EINVAL;
  }
  *attr = *value = NULL;
  if (knownlen > 0) {
    known[0] = '\0';
  }
  if (r->sla == NULL || r->n_excs == 0) {
    return PROMPTLY_OK;   /* no exceptions declared: the attribute is data */
  }
  for (size_t i = 0; i < r->n_excs && *attr == NULL; i++) {
    const char *name = exc_attr(&r->excs[i]);
    int first = 1;   /* each attribute once: at its first declaration */
    for (size_t j = 0; j < i && first; j++) {
      first = strcmp(exc_attr(&r->excs[j]), name) != 0;
    }
    const char *v = first ? attr_value(attrs, n_attrs, name) : NULL;
    if (v == NULL || v[0] == '\0') {
      continue;
    }
    int named = 0;
    for (size_t j = 0; j < r->n_excs && !named; j++) {
      named = strcmp(exc_attr(&r->excs[j]), name) == 0 &&
              equal_folded(v, r->excs[j].name);
    }
    if (!named) {
      *attr = name;
      *value = v;
    }
  }
  if (*attr == NULL) {
    return PROMPTLY_OK;
  }
  size_t used = 0;
  for (size_t j = 0; j < r->n_excs && knownlen > 0; j++) {
    if (strcmp(exc_attr(&r->excs[j]), *attr) != 0) {
      continue;
    }
    int w = snprintf(known + used, knownlen - used, "%s%s",
                     used > 0 ? ", " : "", r->excs[j].name);
    if (w < 0 || (size_t)w >= knownlen - used) {
      known[used] = '\0';   /* the names that fit, whole */
      break;
    }
    used += (size_t)w;
  }
  return PROMPTLY_OK;
}

/* In Lua: the `when` functions of the pause conditions marked in ev->need
** (ev->cand holds their indices), in order; one that fails stops the
** walk at ev->next, the caller goes on after it. */
static int
rules_pconds_lua(lua_State *L)
{
  rules_eval *ev = lua_touserdata(L, 1);
  pr_rules *r = ev->r;
  int t = push_ticket(L, ev);
  for (; ev->next < ev->n_cand; ev->next++) {
    if (ev->need[ev->next] &&
        !call_when(L, r->pconds[ev->cand[ev->next]].m.when_ref, t)) {
      ev->need[ev->next] = 0;
    }
  }
  return 0;
}

int
pr_rules_has_conditions(const pr_rules *r)
{
  return r != NULL && r->n_pconds > 0;
}

int
pr_rules_conditions(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                    size_t n_attrs, uint32_t *holds, uint32_t *first,
                    char *err, size_t errlen)
{
  if (r == NULL || holds == NULL || (attrs == NULL && n_attrs > 0)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "rules: bad arguments");
  }
  *holds = 0;
  if (first != NULL) {
    *first = 0;
  }
  if (r->n_pconds == 0) {
    return PROMPTLY_OK;
  }
  /* The first holding condition of each kind (1 + index), wait first. */
  uint32_t first_of[2] = {0, 0};
  rules_eval ev = {
    .r = r, .ticket = ticket, .attrs = attrs, .n_attrs = n_attrs,
    .hits = NULL, .next = 0, .matched = -1,
  };
  ev.cand = calloc(r->n_pconds, sizeof(uint32_t));
  ev.need = calloc(r->n_pconds, 1);
  if (ev.cand == NULL || ev.need == NULL) {
    free(ev.cand);
    free(ev.need);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  /* The conditions in C first; the `when` of those whose other parts
  ** hold then run in one sandbox call. */
  int any_when = 0;
  for (size_t i = 0; i < r->n_pconds; i++) {
    const rules_pcond *pc = &r->pconds[i];
    if (!match_holds(&ev, &pc->m)) {
      continue;
    }
    uint32_t bit = pc->customer_wait ? PR_SLA_COND_WAIT : PR_SLA_COND_PAUSE;
    if (pc->m.when_ref == LUA_NOREF) {
      *holds |= bit;
      if (first_of[pc->customer_wait != 0] == 0) {
        first_of[pc->customer_wait != 0] = (uint32_t)i + 1;
      }
      continue;
    }
    ev.cand[ev.n_cand] = (uint32_t)i;
    ev.need[ev.n_cand++] = 1;
    any_when = 1;
  }
  int failed = PROMPTLY_OK;
  ev.next = 0;
  while (any_when && ev.next < ev.n_cand) {
    char msg[RULES_MSG_MAX];
    int rc = pr_sandbox_run(r->sb, rules_pconds_lua, &ev, msg, sizeof(msg));
    if (rc == PROMPTLY_OK) {
      break;
    }
    /* A failing `when` counts as not holding; the first is reported. */
    const rules_pcond *pc = &r->pconds[ev.cand[ev.next]];
    if (failed == PROMPTLY_OK) {
      when_failed(r, rc, msg, &pc->site,
                  pc->customer_wait ? "customer_wait" : "pause_on", err,
                  errlen);
      failed = rc;
    }
    ev.need[ev.next] = 0;
    ev.next++;
  }
  for (size_t i = 0; i < ev.n_cand; i++) {
    if (ev.need[i]) {
      int w = r->pconds[ev.cand[i]].customer_wait != 0;
      *holds |= w ? PR_SLA_COND_WAIT : PR_SLA_COND_PAUSE;
      if (first_of[w] == 0 || ev.cand[i] + 1 < first_of[w]) {
        first_of[w] = ev.cand[i] + 1;
      }
    }
  }
  if (first != NULL) {
    *first = first_of[1] != 0 ? first_of[1] : first_of[0];
  }
  free(ev.cand);
  free(ev.need);
  return failed;
}
