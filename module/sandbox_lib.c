/* sandbox_lib.c - the library functions a rule may call, bounded.
**
** Lua's string.find/match/gmatch/gsub, string.rep and table.move are
** wrapped: each is charged, before the real function runs, for the work
** its arguments ask (the runs a pattern may try, the bytes of a result,
** the elements moved), and refused when a result would be over the memory
** cap or the largest block.  Other library functions whose C loop runs as
** one VM instruction are charged alike for the bytes or elements they
** will go through (an upper estimate from their arguments), so that the
** instruction and CPU budgets of sandbox.c hold for them too.  Cost
** functions only read arguments: a bad argument is left for the real
** function to report.
*/
#include "config.h"

#include "sandbox.h"
#include "sandbox_internal.h"
#include "promptly.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* --- Bounded string and table functions ---------------------------------- */

/* Whether byte c belongs to the %-class cl (the letters of Lua patterns;
** upper case negates).  Uses the same <ctype.h> tests as lstrlib, so the
** runs measured below are the runs the matcher will see. */
static int
class_letter_match(int c, int cl)
{
  int res;
  switch (tolower(cl)) {
  case 'a': res = isalpha(c); break;
  case 'c': res = iscntrl(c); break;
  case 'd': res = isdigit(c); break;
  case 'g': res = isgraph(c); break;
  case 'l': res = islower(c); break;
  case 'p': res = ispunct(c); break;
  case 's': res = isspace(c); break;
  case 'u': res = isupper(c); break;
  case 'w': res = isalnum(c); break;
  case 'x': res = isxdigit(c); break;
  default: return cl == c;
  }
  if (isupper(cl)) {
    res = !res;
  }
  return res != 0;
}


/* The end of the single-character class starting at p, or NULL if the
** pattern is malformed there (the real function will say how). */
static const char *
class_end(const char *p, const char *pe)
{
  if (*p == '%') {
    return p + 1 < pe ? p + 2 : NULL;
  }
  if (*p == '[') {
    p++;
    if (p < pe && *p == '^') {
      p++;
    }
    /* The first character is part of the set even if it is ']'. */
    for (;;) {
      if (p >= pe) {
        return NULL;
      }
      if (*p++ == '%') {
        if (p >= pe) {
          return NULL;
        }
        p++;
      }
      if (p >= pe) {
        return NULL;
      }
      if (*p == ']') {
        return p + 1;
      }
    }
  }
  return p + 1;
}


/* Whether byte c matches the class [p, ep). */
static int
class_match(int c, const char *p, const char *ep)
{
  if (*p == '.') {
    return 1;
  }
  if (*p == '%') {
    return class_letter_match(c, (unsigned char)p[1]);
  }
  if (*p != '[') {
    return (unsigned char)*p == c;
  }
  const char *end = ep - 1; /* the closing ']' */
  int neg = 0;
  p++;
  if (*p == '^') {
    neg = 1;
    p++;
  }
  while (p < end) {
    if (*p == '%' && p + 1 < end) {
      if (class_letter_match(c, (unsigned char)p[1])) {
        return !neg;
      }
      p += 2;
    } else if (p + 2 < end && p[1] == '-') {
      if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) {
        return !neg;
      }
      p += 3;
    } else {
      if ((unsigned char)*p == c) {
        return !neg;
      }
      p++;
    }
  }
  return neg;
}


/* The longest run of subject bytes matching the class, and how many bytes
** match it at all. */
static void
class_runs(const char *s, size_t n, const char *p, const char *ep,
           double *longest, double *count)
{
  size_t run = 0, best = 0, all = 0;
  for (size_t i = 0; i < n; i++) {
    if (class_match((unsigned char)s[i], p, ep)) {
      run++;
      all++;
      if (run > best) {
        best = run;
      }
    } else {
      run = 0;
    }
  }
  *longest = (double)best;
  *count = (double)all;
}


/* An upper estimate of the matching steps of a Lua pattern over a subject:
** the start positions the first item allows, times the choices of each
** quantified item (at most its longest run in the subject, plus one), so
** that nested backtracking such as '.-.-.-.-b' is priced as it runs.
** -1 if the pattern is malformed (the real function raises then). */
static double
pattern_cost(const char *s, size_t n, const char *pat, size_t m,
             int anchor_ok)
{
  const char *p = pat, *pe = pat + m;
  double starts = (double)n + 1, product = 1;
  int first = 1;

  if (anchor_ok && p < pe && *p == '^') {
    starts = 1;
    p++;
  }
  while (p < pe) {
    if (*p == '(' || *p == ')') {
      p++;
      continue;
    }
    if (*p == '$' && p + 1 == pe) {
      break;
    }
    if (*p == '%' && p + 1 < pe && p[1] == 'b') {
      if (p + 3 >= pe) {
        return -1;
      }
      double longest, count;
      class_runs(s, n, p + 2, p + 3, &longest, &count);
      if (first) {
        starts = count < starts ? count : starts;
      }
      product *= (double)n + 1; /* each try scans for the balance */
      p += 4;
      first = 0;
      continue;
    }
    if (*p == '%' && p + 1 < pe && p[1] == 'f') {
      p += 2;
      if (p >= pe || *p != '[') {
        return -1;
      }
      const char *ep = class_end(p, pe);
      if (ep == NULL) {
        return -1;
      }
      p = ep;
      continue;
    }
    if (*p == '%' && p + 1 < pe && isdigit((unsigned char)p[1])) {
      /* A back reference compares its capture, up to the whole subject,
      ** at every try: '^(.-)%1$' is quadratic. */
      product *= (double)n + 1;
      p += 2;
      first = 0;
      continue;
    }
    const char *ep = class_end(p, pe);
    if (ep == NULL) {
      return -1;
    }
    int q = ep < pe ? *ep : 0;
    double longest = 0, count = 0;
    if (q == '*' || q == '-' || q == '+' || first) {
      class_runs(s, n, p, ep, &longest, &count);
    }
    if (q == '*' || q == '-') {
      product *= longest + 1;
      ep++;
    } else if (q == '+') {
      product *= longest + 1;
      if (first) {
        starts = count < starts ? count : starts;
      }
      ep++;
    } else if (q == '?') {
      product *= 2;
      ep++;
    } else if (first) {
      starts = count < starts ? count : starts;
    }
    first = 0;
    p = ep;
  }
  return (starts + 1) * product;
}


static lua_Integer
as_integer(double d)
{
  return d >= 9.0e18 ? (lua_Integer)9000000000000000000 : (lua_Integer)d;
}


static int
has_specials(const char *p, size_t m)
{
  for (size_t i = 0; i < m; i++) {
    if (strchr("^$*+?.([%-", p[i]) != NULL) {
      return 1;
    }
  }
  return 0;
}


/* The bytes gsub writes for a string replacement: each match adds the
** replacement's literal bytes, and each %0-%9 in it a capture; matches do
** not overlap, so one capture index adds at most the subject over all
** matches.  Matches: at most n + 1, or max_n. */
static double
gsub_repl_cost(lua_State *L, size_t n)
{
  if (lua_type(L, 3) != LUA_TSTRING && lua_type(L, 3) != LUA_TNUMBER) {
    return 0; /* a table or function: the hook and allocator see those */
  }
  size_t rl;
  const char *r = lua_tolstring(L, 3, &rl);
  double matches = (double)n + 1;
  if (lua_isinteger(L, 4)) {
    lua_Integer mx = lua_tointeger(L, 4);
    matches = mx < 0 ? 0 : (double)mx < matches ? (double)mx : matches;
  }
  double literal = 0, refs = 0;
  for (size_t i = 0; i < rl; i++) {
    if (r[i] == '%' && i + 1 < rl) {
      i++;
      if (isdigit((unsigned char)r[i])) {
        refs++;
        continue;
      }
    }
    literal++;
  }
  return matches * literal + refs * ((double)n + 1) + matches;
}


/* Check and charge a pattern call; raises if it cannot be afforded. */
static void
pattern_guard(lua_State *L, const char *fname, int anchor_ok, int plain)
{
  size_t n, m;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *pat = luaL_checklstring(L, 2, &m);

  if (n > PR_SANDBOX_SUBJECT_MAX) {
    luaL_error(L, "%s: subject of %I bytes is over the limit of %I bytes",
               fname, (lua_Integer)n, (lua_Integer)PR_SANDBOX_SUBJECT_MAX);
  }
  if (m > PR_SANDBOX_PATTERN_MAX) {
    luaL_error(L, "%s: pattern of %I bytes is over the limit of %I bytes",
               fname, (lua_Integer)m, (lua_Integer)PR_SANDBOX_PATTERN_MAX);
  }
  double cost;
  if (plain || !has_specials(pat, m)) {
    cost = (double)n * ((double)m + 1);
  } else {
    cost = pattern_cost(s, n, pat, m, anchor_ok);
    if (cost < 0) {
      return; /* malformed: the real function reports it */
    }
  }
  if (strcmp(fname, "string.gsub") == 0) {
    cost += gsub_repl_cost(L, n) * SANDBOX_STEPS_PER_INSTR /
            SANDBOX_BYTES_PER_INSTR;
  }
  pr_sandbox *sb = pr_sandbox_of(L);
  double instr = cost / SANDBOX_STEPS_PER_INSTR;
  if ((instr >= SANDBOX_HOOK_EVERY || sb->cpu_marked) && pr_sandbox_time_over(sb)) {
    pr_sandbox_charge(L, 0);
  }
  if (sb->spent || sb->used >= sb->budget ||
      instr >= (double)(sb->budget - sb->used)) {
    luaL_error(L,
               "%s: pattern too complex for a subject of %I bytes "
               "(it could take about %I steps; the instruction budget is "
               "%I)",
               fname, (lua_Integer)n, as_integer(cost),
               (lua_Integer)sb->budget);
  }
  sb->used += (uint64_t)instr;
}


/* Call upvalue 1 (the real function) with all arguments. */
static int
call_real(lua_State *L)
{
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}


int
l_sandbox_find(lua_State *L)
{
  pattern_guard(L, "string.find", 1, lua_toboolean(L, 4));
  return call_real(L);
}


int
l_sandbox_match(lua_State *L)
{
  pattern_guard(L, "string.match", 1, 0);
  return call_real(L);
}


int
l_sandbox_gmatch(lua_State *L)
{
  /* The iterator resumes where the last match ended, so every start
  ** position is tried at most once over the whole loop: charged here. */
  pattern_guard(L, "string.gmatch", 0, 0);
  return call_real(L);
}


int
l_sandbox_gsub(lua_State *L)
{
  pattern_guard(L, "string.gsub", 1, 0);
  return call_real(L);
}


int
l_sandbox_rep(lua_State *L)
{
  size_t l, lsep = 0;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  /* An empty result would still loop n times in C: answer it here. */
  if (l == 0 && lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  pr_sandbox *sb = pr_sandbox_of(L);
  double total = (double)l * (double)n + (double)lsep * (double)(n - 1);
  if (total > (double)(sb->mem_cap - sb->mem_used)) {
    return luaL_error(L,
                      "string.rep: a result of %I bytes is over the "
                      "memory cap of %I bytes",
                      as_integer(total), (lua_Integer)sb->mem_cap);
  }
  if (total > (double)PR_SANDBOX_BLOCK_MAX) {
    return luaL_error(L,
                      "string.rep: a result of %I bytes is over the "
                      "largest string of %I bytes",
                      as_integer(total), (lua_Integer)PR_SANDBOX_BLOCK_MAX);
  }
  uint64_t per_copy = (uint64_t)n / SANDBOX_STEPS_PER_INSTR;
  uint64_t per_byte = (uint64_t)total / SANDBOX_BYTES_PER_INSTR;
  pr_sandbox_charge(L, per_copy > per_byte ? per_copy : per_byte);
  return call_real(L);
}


int
l_sandbox_move(lua_State *L)
{
  lua_Integer f = luaL_checkinteger(L, 2);
  lua_Integer e = luaL_checkinteger(L, 3);
  /* Each element is a get and a set, in a C loop the hook cannot see. */
  if (e >= f) {
    uint64_t count = (uint64_t)e - (uint64_t)f + 1;
    pr_sandbox_charge(L, count == 0 ? UINT64_MAX : count);
  }
  return call_real(L);
}


/* --- Size-aware charging of library functions ---------------------------- */

/* A library function's C loop runs as one VM instruction: each wrapped
** function is charged, before it runs, for the bytes or elements it will
** go through (an upper estimate from its arguments).  The cost functions
** only read arguments; a bad argument is left for the real function to
** report. */

static uint64_t
bytes_cost(size_t n)
{
  return (uint64_t)n / SANDBOX_BYTES_PER_INSTR;
}


/* The string at idx, its length in *l; NULL (and 0) if it is not one. */
static const char *
arg_string(lua_State *L, int idx, size_t *l)
{
  *l = 0;
  if (lua_type(L, idx) != LUA_TSTRING) {
    return NULL;
  }
  return lua_tolstring(L, idx, l);
}


/* Elements of the range [i, j] of a sequence of length l, with the
** defaults and negative positions of the string library. */
static uint64_t
range_count(lua_State *L, int i_idx, lua_Integer i_def, int j_idx,
            lua_Integer j_def, size_t l)
{
  lua_Integer i = lua_isinteger(L, i_idx) ? lua_tointeger(L, i_idx) : i_def;
  lua_Integer j = lua_isinteger(L, j_idx) ? lua_tointeger(L, j_idx) : j_def;
  lua_Integer len = (lua_Integer)l;
  if (i < 0) {
    i = i < -len ? 1 : len + i + 1;
  } else if (i == 0) {
    i = 1;
  }
  if (j < 0) {
    j = j < -len ? 0 : len + j + 1;
  } else if (j > len) {
    j = len;
  }
  return j >= i ? (uint64_t)(j - i) + 1 : 0;
}


static uint64_t
cost_string_len(lua_State *L)
{
  size_t l;
  arg_string(L, 1, &l);
  return bytes_cost(l);
}


/* string.byte(s [, i [, j]]): each byte is a value pushed. */
static uint64_t
cost_string_byte(lua_State *L)
{
  size_t l;
  arg_string(L, 1, &l);
  if (lua_isnoneornil(L, 3)) {
    return 1;
  }
  return range_count(L, 2, 1, 3, -1, l);
}


static uint64_t
cost_string_sub(lua_State *L)
{
  size_t l;
  arg_string(L, 1, &l);
  return bytes_cost((size_t)range_count(L, 2, 1, 3, -1, l));
}


/* Every string argument is read once (string.format, pack, unpack). */
static uint64_t
cost_all_strings(lua_State *L)
{
  uint64_t total = 0;
  for (int i = 1, n = lua_gettop(L); i <= n; i++) {
    size_t l;
    arg_string(L, i, &l);
    total += l;
  }
  return bytes_cost((size_t)total) + (uint64_t)lua_gettop(L);
}


/* string.format: %s of a long string, and widths: pieces are bounded by
** the library (99 wide), so the strings are the cost. */
static uint64_t
cost_string_format(lua_State *L)
{
  return cost_all_strings(L);
}


static uint64_t
cost_nargs(lua_State *L)
{
  return (uint64_t)lua_gettop(L);
}


/* utf8.len(s [, i [, j]]), utf8.codepoint(s [, i [, j]]): decoding. */
static uint64_t
cost_utf8_len(lua_State *L)
{
  size_t l;
  arg_string(L, 1, &l);
  return range_count(L, 2, 1, 3, -1, l) / 4 + 1;
}


static uint64_t
cost_utf8_codepoint(lua_State *L)
{
  size_t l;
  arg_string(L, 1, &l);
  if (lua_isnoneornil(L, 3)) {
    return 1;
  }
  /* Each code point is a value pushed. */
  return range_count(L, 2, 1, 3, -1, l);
}


/* The raw length of the table at idx (no __len: that would run rule code
** here), 0 if it is no table. */
static uint64_t
table_len(lua_State *L, int idx)
{
  return lua_type(L, idx) == LUA_TTABLE ? (uint64_t)lua_rawlen(L, idx) : 0;
}


/* table.insert(t, pos, v), table.remove(t, pos): the elements after pos
** move by one. */
static uint64_t
cost_table_shift(lua_State *L)
{
  return lua_gettop(L) >= 2 ? table_len(L, 1) : 1;
}


/* table.concat(t [, sep [, i [, j]]]): one step per element; the bytes of
** the result are charged by the allocator. */
static uint64_t
cost_table_concat(lua_State *L)
{
  lua_Integer i = lua_isinteger(L, 3) ? lua_tointeger(L, 3) : 1;
  lua_Integer j = lua_isinteger(L, 4) ? lua_tointeger(L, 4)
                                      : (lua_Integer)table_len(L, 1);
  size_t lsep;
  arg_string(L, 2, &lsep);
  if (j < i) {
    return 1;
  }
  uint64_t n = (uint64_t)j - (uint64_t)i + 1;
  return n == 0 ? UINT64_MAX : n + n / SANDBOX_BYTES_PER_INSTR * lsep;
}


/* table.unpack(t [, i [, j]]): each element is a value pushed. */
static uint64_t
cost_table_unpack(lua_State *L)
{
  lua_Integer i = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : 1;
  lua_Integer j = lua_isinteger(L, 3) ? lua_tointeger(L, 3)
                                      : (lua_Integer)table_len(L, 1);
  if (j < i) {
    return 1;
  }
  uint64_t n = (uint64_t)j - (uint64_t)i + 1;
  return n == 0 ? UINT64_MAX : n;
}


/* tonumber(s): the conversion reads the whole string. */
static uint64_t
cost_tonumber(lua_State *L)
{
  return cost_string_len(L) + 1;
}


typedef uint64_t (*sandbox_cost_fn)(lua_State *L);

static const sandbox_cost_fn sandbox_costs[] = {
  cost_string_len, cost_string_byte, cost_string_sub, cost_string_format,
  cost_all_strings, cost_nargs, cost_utf8_len, cost_utf8_codepoint,
  cost_table_shift, cost_table_concat, cost_table_unpack, cost_tonumber,
};

enum {
  C_LEN, C_BYTE, C_SUB, C_FORMAT, C_STRINGS, C_NARGS, C_UTF8_LEN,
  C_UTF8_CODEPOINT, C_SHIFT, C_CONCAT, C_UNPACK, C_TONUMBER
};

typedef struct sandbox_charged {
  const char *lib;   /* NULL: a global */
  const char *name;
  int cost;          /* index into sandbox_costs */
} sandbox_charged;

static const sandbox_charged sandbox_charged_fns[] = {
  {LUA_STRLIBNAME, "lower", C_LEN},
  {LUA_STRLIBNAME, "upper", C_LEN},
  {LUA_STRLIBNAME, "reverse", C_LEN},
  {LUA_STRLIBNAME, "byte", C_BYTE},
  {LUA_STRLIBNAME, "sub", C_SUB},
  {LUA_STRLIBNAME, "char", C_NARGS},
  {LUA_STRLIBNAME, "format", C_FORMAT},
  {LUA_STRLIBNAME, "pack", C_STRINGS},
  {LUA_STRLIBNAME, "unpack", C_STRINGS},
  {LUA_UTF8LIBNAME, "len", C_UTF8_LEN},
  {LUA_UTF8LIBNAME, "codepoint", C_UTF8_CODEPOINT},
  {LUA_UTF8LIBNAME, "char", C_NARGS},
  {LUA_UTF8LIBNAME, "offset", C_LEN},
  {LUA_TABLIBNAME, "insert", C_SHIFT},
  {LUA_TABLIBNAME, "remove", C_SHIFT},
  {LUA_TABLIBNAME, "concat", C_CONCAT},
  {LUA_TABLIBNAME, "unpack", C_UNPACK},
  {NULL, "tonumber", C_TONUMBER},
  {NULL, "select", C_NARGS},
};


/* Upvalue 1: the real function; upvalue 2: the cost index. */
static int
l_sandbox_charged(lua_State *L)
{
  int c = (int)lua_tointeger(L, lua_upvalueindex(2));
  pr_sandbox_charge(L, sandbox_costs[c](L));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}


/* table.sort(t [, comp]): n log n comparisons in C (a Lua comparator's
** own instructions are counted by the hook as it runs). */
int
l_sandbox_sort(lua_State *L)
{
  uint64_t n = table_len(L, 1);
  if (n > PR_SANDBOX_SORT_MAX) {
    return luaL_error(L, "table.sort: %I elements are over the limit of %I",
                      (lua_Integer)n, (lua_Integer)PR_SANDBOX_SORT_MAX);
  }
  uint64_t lg = 1;
  while (((uint64_t)1 << lg) < n) {
    lg++;
  }
  pr_sandbox_charge(L, n * lg);
  return call_real(L);
}


int
l_sandbox_setmetatable(lua_State *L)
{
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    int t = lua_rawget(L, 2);
    lua_pop(L, 1);
    if (t != LUA_TNIL) {
      /* Finalizers run with hooks off: an endless __gc would hang the host
      ** at the next collection or at lua_close. */
      return luaL_error(L, "setmetatable: metatables with __gc are not "
                           "allowed in rules");
    }
  }
  return call_real(L);
}


void
pr_sandbox_wrap_charged(lua_State *L)
{
  for (size_t i = 0; i < sizeof(sandbox_charged_fns) /
                             sizeof(sandbox_charged_fns[0]); i++) {
    const sandbox_charged *c = &sandbox_charged_fns[i];
    if (c->lib != NULL) {
      lua_getfield(L, -1, c->lib);
    } else {
      lua_pushvalue(L, -1);
    }
    lua_getfield(L, -1, c->name);
    lua_pushinteger(L, c->cost);
    lua_pushcclosure(L, l_sandbox_charged, 2);
    lua_setfield(L, -2, c->name);
    lua_pop(L, 1);
  }
}
