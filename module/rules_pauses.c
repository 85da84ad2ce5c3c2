/* rules_pauses.c - pause_on { ... } and customer_wait { ... }: the
** statuses, attribute conditions and `when` functions (rules_pcond) that
** pause a ticket's clocks, or that count as waiting on the customer.
**
** A status (compared case-folded) is one rules_pause whichever
** declarations name it: named by both, it pauses and counts as customer
** wait; named twice by the same kind, the second is a problem naming the
** first's file:line (decl[kind]).  A table form's condition with a
** problem is dropped, so it neither pauses nor is reported as empty.
** Compiled into the pr_sla_set after the policies (compile_pauses).
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

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
