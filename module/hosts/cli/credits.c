/* credits.c - service credits for "promptly report --contracts FILE".
**
** A contracts file is Lua in the rule language's declarative style:
**
**   contract "acme" {
**     customer = "acme",            -- or tier = "enterprise"
**     fee = 5000, currency = "EUR", -- the monthly fee
**     target = "95%",               -- compliance target
**     credit = { per_point = "10%", cap = "50%" },  -- or function(m) ... end
**     min_tickets = 10,             -- fewer in a month: no credit
**     metrics = { "first_response", "resolution" }, -- default: every metric
**   }
**
** Invariants.  The file runs in a Lua state of its own with only the base
** (without dofile, loadfile, load, print, collectgarbage), string, table,
** math and utf8 libraries: no io, os, require or debug; memory is capped
** and every call (the file, each credit function) has an instruction
** budget.  Every message about a contract starts with "FILE:LINE:" of its
** declaration.  A record belongs to at most one contract: the first whose
** customer is the record's customer, else the first whose tier is its
** tier.  Credits are computed per customer, month (of the cycle's stop, in
** the report's zone) and contract, over met and breached cycles only.
*/
#include "config.h"

#include "cli.h"
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define CONTRACT_MEM_CAP (64u << 20)
#define CONTRACT_BUDGET 10000000
#define CONTRACT_HOOK_EVERY 1000

typedef struct contract {
  char *name;
  char *where;  /* "FILE:LINE:" */
  char *customer, *tier, *currency;
  double fee, target, per_point, cap;
  int fn;       /* registry ref of a credit function, or LUA_NOREF */
  int64_t min_tickets;
  GPtrArray *metrics;  /* char *, or NULL: every metric */
} contract;

typedef struct lua_box {
  lua_State *L;
  size_t used;
  long steps;
} lua_box;


static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  lua_box *b = ud;
  if (ptr == NULL) {
    osize = 0;
  }
  if (nsize == 0) {
    b->used -= osize;
    free(ptr);
    return NULL;
  }
  if (nsize > osize && b->used + (nsize - osize) > CONTRACT_MEM_CAP) {
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p != NULL) {
    b->used = b->used - osize + nsize;
  }
  return p;
}


static void
budget_hook(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  lua_box *b = *(lua_box **)lua_getextraspace(L);
  b->steps += CONTRACT_HOOK_EVERY;
  if (b->steps > CONTRACT_BUDGET) {
    luaL_error(L, "instruction budget exceeded (%d instructions)",
               CONTRACT_BUDGET);
  }
}


static void
contract_free(gpointer p)
{
  contract *c = p;
  g_free(c->name);
  g_free(c->where);
  g_free(c->customer);
  g_free(c->tier);
  g_free(c->currency);
  if (c->metrics != NULL) {
    g_ptr_array_free(c->metrics, TRUE);
  }
  g_free(c);
}


/* Raise a message as it is: luaL_error would prefix a position of its
** own, and every message here starts with the contract's. */
static int
fail(lua_State *L, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return lua_error(L);
}


/* A percentage: a number (95) or a string "95%". */
static int
get_pct(lua_State *L, int idx, double *out)
{
  if (lua_type(L, idx) == LUA_TNUMBER) {
    *out = lua_tonumber(L, idx);
  } else if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    char *end;
    *out = strtod(s, &end);
    if (end == s || (*end != '%' && *end != '\0') ||
        (*end == '%' && end[1] != '\0')) {
      return -1;
    }
  } else {
    return -1;
  }
  return isfinite(*out) && *out >= 0 ? 0 : -1;
}


/* The function contract "name" returns: it takes the body table. */
static int
contract_body(lua_State *L)
{
  report *r = lua_touserdata(L, lua_upvalueindex(1));
  const char *name = lua_tostring(L, lua_upvalueindex(2));
  const char *where = lua_tostring(L, lua_upvalueindex(3));
  if (!lua_istable(L, 1) || lua_gettop(L) != 1) {
    return fail(L, "%s: contract '%s': write contract \"%s\" { ... }",
                      where, name, name);
  }
  /* Unknown keys are typos: refuse them. */
  static const char *const known[] = {
    "customer", "tier", "fee", "currency", "target", "credit",
    "min_tickets", "metrics", NULL,
  };
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      for (int i = 0; known[i] != NULL; i++) {
        ok |= strcmp(lua_tostring(L, -1), known[i]) == 0;
      }
    }
    if (!ok) {
      return fail(L,
                        "%s: contract '%s': unknown key '%s' (keys: customer, "
                        "tier, fee, currency, target, credit, min_tickets, "
                        "metrics)",
                        where, name, luaL_tolstring(L, -1, NULL));
    }
  }

  contract *c = g_new0(contract, 1);
  c->name = g_strdup(name);
  c->where = g_strdup(where);
  c->fn = LUA_NOREF;
  c->cap = 100;
  g_ptr_array_add(r->contracts, c);  /* freed with the list on error too */

  lua_getfield(L, 1, "customer");
  lua_getfield(L, 1, "tier");
  if (!lua_isnil(L, -2) && lua_type(L, -2) != LUA_TSTRING) {
    return fail(L, "%s: contract '%s': customer is not a string", where,
                      name);
  }
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
    return fail(L, "%s: contract '%s': tier is not a string", where,
                      name);
  }
  if (lua_isnil(L, -2) == lua_isnil(L, -1)) {
    return fail(L, "%s: contract '%s': give either customer or tier",
                      where, name);
  }
  c->customer = g_strdup(lua_tostring(L, -2));
  c->tier = g_strdup(lua_tostring(L, -1));
  lua_pop(L, 2);

  lua_getfield(L, 1, "fee");
  if (lua_isnil(L, -1)) {
    return fail(L, "%s: contract '%s': fee is missing (the monthly fee)",
                      where, name);
  }
  if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) >= 0) ||
      !isfinite(lua_tonumber(L, -1))) {
    return fail(L, "%s: contract '%s': fee is not a number of 0 or more",
                      where, name);
  }
  c->fee = lua_tonumber(L, -1);
  lua_pop(L, 1);

  lua_getfield(L, 1, "currency");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
    return fail(L, "%s: contract '%s': currency is not a string", where,
                      name);
  }
  c->currency = g_strdup(lua_tostring(L, -1));
  lua_pop(L, 1);

  lua_getfield(L, 1, "target");
  if (lua_isnil(L, -1)) {
    return fail(L, "%s: contract '%s': target is missing (\"95%%\")",
                      where, name);
  }
  if (get_pct(L, -1, &c->target) != 0 || c->target > 100) {
    return fail(L,
                      "%s: contract '%s': target is not a percentage (\"95%%\")",
                      where, name);
  }
  lua_pop(L, 1);

  lua_getfield(L, 1, "credit");
  if (lua_isfunction(L, -1)) {
    c->fn = luaL_ref(L, LUA_REGISTRYINDEX);
  } else if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "per_point");
    if (get_pct(L, -1, &c->per_point) != 0) {
      return fail(L,
                        "%s: contract '%s': credit.per_point is not a "
                        "percentage of the fee (\"10%%\")",
                        where, name);
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "cap");
    if (!lua_isnil(L, -1) && (get_pct(L, -1, &c->cap) != 0 || c->cap > 100)) {
      return fail(L,
                        "%s: contract '%s': credit.cap is not a percentage "
                        "of the fee (\"50%%\")",
                        where, name);
    }
    lua_pop(L, 2);
  } else {
    return fail(L,
                      "%s: contract '%s': credit is missing: { per_point = "
                      "\"10%%\", cap = \"50%%\" } or a function",
                      where, name);
  }

  lua_getfield(L, 1, "min_tickets");
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0) {
      return fail(L,
                        "%s: contract '%s': min_tickets is not a whole number "
                        "of 0 or more",
                        where, name);
    }
    c->min_tickets = (int64_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);

  lua_getfield(L, 1, "metrics");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) {
      return fail(L, "%s: contract '%s': metrics is not a list", where,
                        name);
    }
    c->metrics = g_ptr_array_new_with_free_func(g_free);
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) {
        return fail(L, "%s: contract '%s': metrics[%d] is not a string",
                          where, name, (int)i);
      }
      g_ptr_array_add(c->metrics, g_strdup(lua_tostring(L, -1)));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return 0;
}


static int
contract_decl(lua_State *L)
{
  report *r = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_type(L, 1) != LUA_TSTRING) {
    luaL_where(L, 1);
    return fail(L, "%swrite contract \"name\" { ... }", lua_tostring(L, -1));
  }
  const char *name = lua_tostring(L, 1);
  luaL_where(L, 1);
  /* "FILE:LINE: " without its ": ". */
  size_t wlen;
  const char *w = lua_tolstring(L, -1, &wlen);
  lua_pushlstring(L, w, wlen >= 2 ? wlen - 2 : wlen);
  lua_remove(L, -2);
  for (guint i = 0; i < r->contracts->len; i++) {
    const contract *c = g_ptr_array_index(r->contracts, i);
    if (strcmp(c->name, name) == 0) {
      return fail(L, "%s: contract '%s' is declared twice (first at %s)",
                        lua_tostring(L, -1), name, c->where);
    }
  }
  lua_pushlightuserdata(L, r);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, contract_body, 3);
  return 1;
}


static int
run_protected(lua_State *L, int nargs, int nres)
{
  lua_box *b = *(lua_box **)lua_getextraspace(L);
  b->steps = 0;
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, CONTRACT_HOOK_EVERY);
  int rc = lua_pcall(L, nargs, nres, 0);
  lua_sethook(L, NULL, 0, 0);
  return rc;
}


int
rep_contracts_load(report *r, const char *path)
{
  r->contracts = g_ptr_array_new_with_free_func(contract_free);
  lua_box *b = g_new0(lua_box, 1);
  lua_State *L = lua_newstate(capped_alloc, b);
  if (L == NULL) {
    g_free(b);
    fprintf(stderr, "promptly: out of memory\n");
    return -1;
  }
  b->L = L;
  r->contracts_lua = b;
  *(lua_box **)lua_getextraspace(L) = b;

  static const luaL_Reg libs[] = {
    {LUA_GNAME, luaopen_base},         {LUA_STRLIBNAME, luaopen_string},
    {LUA_TABLIBNAME, luaopen_table},   {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},   {NULL, NULL},
  };
  for (const luaL_Reg *l = libs; l->name != NULL; l++) {
    luaL_requiref(L, l->name, l->func, 1);
    lua_pop(L, 1);
  }
  static const char *const drop[] = {"dofile", "loadfile", "load", "print",
                                     "collectgarbage", NULL};
  for (int i = 0; drop[i] != NULL; i++) {
    lua_pushnil(L);
    lua_setglobal(L, drop[i]);
  }
  lua_pushlightuserdata(L, r);
  lua_pushcclosure(L, contract_decl, 1);
  lua_setglobal(L, "contract");

  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "promptly: %s: %s\n", path, g_strerror(errno));
    return -1;
  }
  GString *text = g_string_new(NULL);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    g_string_append_len(text, buf, (gssize)n);
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    g_string_free(text, TRUE);
    fprintf(stderr, "promptly: %s: read error\n", path);
    return -1;
  }
  char *chunk = g_strdup_printf("@%s", path);
  /* Text only: a precompiled chunk is refused. */
  int rc = luaL_loadbufferx(L, text->str, text->len, chunk, "t");
  g_free(chunk);
  g_string_free(text, TRUE);
  if (rc == LUA_OK) {
    rc = run_protected(L, 0, 0);
  }
  if (rc != LUA_OK) {
    fprintf(stderr, "promptly: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  if (r->contracts->len == 0) {
    fprintf(stderr, "promptly: %s: no contract declared (contract \"name\" "
            "{ ... })\n", path);
    return -1;
  }
  /* A contract "x" without its body table declares nothing. */
  return 0;
}


void
rep_contracts_free(report *r)
{
  if (r->contracts != NULL) {
    g_ptr_array_free(r->contracts, TRUE);
    r->contracts = NULL;
  }
  lua_box *b = r->contracts_lua;
  if (b != NULL) {
    lua_close(b->L);
    g_free(b);
    r->contracts_lua = NULL;
  }
}


/* --- Computing credits ---------------------------------------------------- */

static const contract *
contract_of(const report *r, const rep_record *rec)
{
  const char *cust = rec->attr[REP_ATTR_CUSTOMER];
  const char *tier = rec->attr[REP_ATTR_TIER];
  const contract *by_tier = NULL;
  for (guint i = 0; i < r->contracts->len; i++) {
    const contract *c = g_ptr_array_index(r->contracts, i);
    if (c->customer != NULL && cust != NULL && strcmp(c->customer, cust) == 0) {
      return c;
    }
    if (by_tier == NULL && c->tier != NULL && tier != NULL &&
        strcmp(c->tier, tier) == 0) {
      by_tier = c;
    }
  }
  return by_tier;
}


static int
covers(const contract *c, const char *metric)
{
  if (c->metrics == NULL) {
    return 1;
  }
  for (guint i = 0; i < c->metrics->len; i++) {
    if (strcmp(g_ptr_array_index(c->metrics, i), metric) == 0) {
      return 1;
    }
  }
  return 0;
}


typedef struct credit_acc {
  rep_credit cr;
  const contract *c;
  GHashTable *tickets;  /* int64 -> present */
} credit_acc;


static void
credit_free(gpointer p)
{
  rep_credit *cr = p;
  g_ptr_array_free(cr->breaches, TRUE);
  g_free(cr);
}


static gint
cmp_credit(gconstpointer a, gconstpointer b)
{
  const rep_credit *x = *(rep_credit *const *)a;
  const rep_credit *y = *(rep_credit *const *)b;
  int c = strcmp(x->customer, y->customer);
  if (c == 0) {
    c = strcmp(x->month, y->month);
  }
  if (c == 0) {
    c = strcmp(x->contract, y->contract);
  }
  return c;
}


static gint
cmp_ref(gconstpointer a, gconstpointer b)
{
  const rep_record *x = *(rep_record *const *)a;
  const rep_record *y = *(rep_record *const *)b;
  if (x->ticket != y->ticket) {
    return x->ticket < y->ticket ? -1 : 1;
  }
  int c = strcmp(x->metric, y->metric);
  if (c != 0) {
    return c;
  }
  return (x->cycle > y->cycle) - (x->cycle < y->cycle);
}


/* The credit function's answer for one line; -1 with a message on error. */
static int
call_credit_fn(report *r, const contract *c, rep_credit *cr)
{
  lua_box *b = r->contracts_lua;
  lua_State *L = b->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn);
  lua_createtable(L, 0, 10);
  lua_pushstring(L, cr->customer);
  lua_setfield(L, -2, "customer");
  lua_pushstring(L, cr->month);
  lua_setfield(L, -2, "month");
  lua_pushinteger(L, (lua_Integer)cr->tickets);
  lua_setfield(L, -2, "tickets");
  lua_pushinteger(L, (lua_Integer)cr->met);
  lua_setfield(L, -2, "met");
  lua_pushinteger(L, (lua_Integer)cr->breached);
  lua_setfield(L, -2, "breached");
  lua_pushnumber(L, cr->compliance * 100.0);
  lua_setfield(L, -2, "compliance");
  lua_pushnumber(L, cr->target);
  lua_setfield(L, -2, "target");
  lua_pushnumber(L, cr->shortfall);
  lua_setfield(L, -2, "shortfall");
  lua_pushnumber(L, cr->fee);
  lua_setfield(L, -2, "fee");
  if (run_protected(L, 1, 1) != LUA_OK) {
    fprintf(stderr, "promptly: %s: contract '%s': credit function: %s\n",
            c->where, c->name, lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  int isnum;
  double v = lua_tonumberx(L, -1, &isnum);
  lua_pop(L, 1);
  if (!isnum || !isfinite(v) || v < 0 || v > cr->fee) {
    fprintf(stderr,
            "promptly: %s: contract '%s': the credit function must return an "
            "amount from 0 to the fee (%s %s: got %s)\n",
            c->where, c->name, cr->customer, cr->month,
            isnum ? "out of range" : "not a number");
    return -1;
  }
  cr->credit = v;
  return 0;
}


int
rep_credits_compute(report *r)
{
  r->credits = g_ptr_array_new_with_free_func(credit_free);
  GHashTable *accs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
  GPtrArray *list = g_ptr_array_new();
  for (guint i = 0; i < r->selected->len; i++) {
    const rep_record *rec = g_ptr_array_index(r->selected, i);
    if (rec->outcome != REP_MET && rec->outcome != REP_BREACHED) {
      continue;
    }
    const contract *c = contract_of(r, rec);
    if (c == NULL || !covers(c, rec->metric)) {
      continue;
    }
    const char *cust = rec->attr[REP_ATTR_CUSTOMER] != NULL
                         ? rec->attr[REP_ATTR_CUSTOMER]
                         : rep_intern(r, "(none)");
    const char *month = rep_period(r, REP_KEY_MONTH, rec->stopped);
    char *k = g_strdup_printf("%p\x1f%p\x1f%p", (const void *)cust,
                              (const void *)month, (const void *)c);
    credit_acc *a = g_hash_table_lookup(accs, k);
    if (a == NULL) {
      a = g_new0(credit_acc, 1);
      a->c = c;
      a->cr.customer = cust;
      a->cr.month = month;
      a->cr.contract = c->name;
      a->cr.breaches = g_ptr_array_new();
      a->tickets = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                         NULL);
      g_hash_table_insert(accs, k, a);
      g_ptr_array_add(list, a);
    } else {
      g_free(k);
    }
    if (!g_hash_table_contains(a->tickets, &rec->ticket)) {
      int64_t *t = g_new(int64_t, 1);
      *t = rec->ticket;
      g_hash_table_add(a->tickets, t);
    }
    if (rec->outcome == REP_MET) {
      a->cr.met++;
    } else {
      a->cr.breached++;
      g_ptr_array_add(a->cr.breaches, (gpointer)rec);
    }
  }
  int rc = 0;
  for (guint i = 0; i < list->len; i++) {
    credit_acc *a = g_ptr_array_index(list, i);
    rep_credit *cr = g_new(rep_credit, 1);
    *cr = a->cr;
    const contract *c = a->c;
    cr->tickets = (int64_t)g_hash_table_size(a->tickets);
    g_hash_table_destroy(a->tickets);
    g_free(a);
    g_ptr_array_add(r->credits, cr);
    g_ptr_array_sort(cr->breaches, cmp_ref);
    int64_t d = cr->met + cr->breached;
    cr->compliance = (double)cr->met / (double)d;
    cr->target = c->target;
    cr->fee = c->fee;
    cr->currency = c->currency != NULL ? rep_intern(r, c->currency) : NULL;
    /* target - 100 met / d, on one denominator. */
    double s = (c->target * (double)d - 100.0 * (double)cr->met) / (double)d;
    cr->shortfall = s > 0 ? s : 0;
    cr->credit = 0;
    if (cr->tickets < c->min_tickets) {
      char note[96];
      snprintf(note, sizeof(note),
               "fewer tickets (%" PRId64 ") than the minimum (%" PRId64 ")",
               cr->tickets, c->min_tickets);
      cr->note = rep_intern(r, note);
      continue;
    }
    if (cr->shortfall <= 0 || rc != 0) {
      continue;
    }
    if (c->fn != LUA_NOREF) {
      if (call_credit_fn(r, c, cr) != 0) {
        rc = -1;
      }
    } else {
      double pct = fmin(c->cap, c->per_point * cr->shortfall);
      cr->credit = c->fee * pct / 100.0;
    }
    cr->credit = round(cr->credit * 100.0) / 100.0;
  }
  g_ptr_array_free(list, TRUE);
  g_hash_table_destroy(accs);
  g_ptr_array_sort(r->credits, cmp_credit);
  return rc;
}
