/* rules_eval.c - the rule set's verdicts on a ticket: its priority, the
** policies that match, the exceptions that apply.
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
