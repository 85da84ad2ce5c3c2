/* sandbox.c - a sandboxed Lua 5.4 state for rule files.
**
** Invariants.  mem_used never exceeds mem_cap (the allocator refuses the
** growth that would).  The count hook is installed only inside
** pr_sandbox_call/run; once the budget is spent it re-arms itself with
** count 1 and raises at every instruction until the call returns.  No
** function here calls a raising Lua API function outside a protected call.
*/
#include "config.h"

#include "sandbox.h"
#include "promptly.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Instructions between two hook calls while the budget is not spent. */
#define SANDBOX_HOOK_EVERY 1000

/* A pattern-matching step costs about this share of a VM instruction. */
#define SANDBOX_STEPS_PER_INSTR 8

#define SANDBOX_TRACEBACK_MAX 2048

struct pr_sandbox {
  lua_State *L;
  size_t mem_cap;
  size_t mem_used;
  size_t mem_peak;   /* since the start of the last call */
  uint64_t budget;
  uint64_t used;     /* instructions in the running or last call */
  int spent;         /* the budget ran out in this call */
  pr_sandbox_log_fn log;
  void *log_ud;
  char traceback[SANDBOX_TRACEBACK_MAX];
};


pr_sandbox *
pr_sandbox_of(lua_State *L)
{
  return *(pr_sandbox **)lua_getextraspace(L);
}


lua_State *
pr_sandbox_state(pr_sandbox *sb)
{
  return sb->L;
}


size_t
pr_sandbox_mem_used(const pr_sandbox *sb)
{
  return sb->mem_used;
}


size_t
pr_sandbox_mem_peak(const pr_sandbox *sb)
{
  return sb->mem_peak;
}


uint64_t
pr_sandbox_used(const pr_sandbox *sb)
{
  return sb->used;
}


const char *
pr_sandbox_traceback(const pr_sandbox *sb)
{
  return sb->traceback;
}


/* --- Allocator and budget ------------------------------------------------ */

/* The lua_Alloc contract: nsize 0 frees and returns NULL; otherwise behave
** like realloc and return NULL only when the request cannot be met.  When
** ptr is NULL, osize is a type tag, not a size. */
static void *
sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  pr_sandbox *sb = ud;
  size_t old = ptr != NULL ? osize : 0;

  if (nsize == 0) {
    free(ptr);
    sb->mem_used -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > sb->mem_cap - sb->mem_used) {
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p == NULL) {
    return NULL;
  }
  sb->mem_used = sb->mem_used - old + nsize;
  if (sb->mem_used > sb->mem_peak) {
    sb->mem_peak = sb->mem_used;
  }
  return p;
}


static void sandbox_hook(lua_State *L, lua_Debug *ar);

/* Mark the budget spent and raise; the hook now fires at every
** instruction, so a pcall in the rule that catches this error is
** interrupted again at its next instruction. */
static int
sandbox_spent(lua_State *L, pr_sandbox *sb, const char *where)
{
  sb->spent = 1;
  lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
  lua_pushfstring(L, "%sinstruction budget exceeded (%I instructions)", where,
                  (lua_Integer)sb->budget);
  return lua_error(L);
}


static void
sandbox_hook(lua_State *L, lua_Debug *ar)
{
  pr_sandbox *sb = pr_sandbox_of(L);
  char where[256] = "";

  if (!sb->spent) {
    sb->used += SANDBOX_HOOK_EVERY < sb->budget ? SANDBOX_HOOK_EVERY
                                                : sb->budget;
    if (sb->used < sb->budget) {
      return;
    }
  }
  /* Inside a hook, ar is the interrupted Lua function: name its line. */
  if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
    snprintf(where, sizeof(where), "%s:%d: ", ar->short_src,
             ar->currentline);
  }
  sandbox_spent(L, sb, where);
}


void
pr_sandbox_charge(lua_State *L, uint64_t n)
{
  pr_sandbox *sb = pr_sandbox_of(L);

  if (sb->spent || sb->used >= sb->budget || n >= sb->budget - sb->used) {
    sb->used = sb->budget;
    luaL_where(L, 1);
    sandbox_spent(L, sb, lua_tostring(L, -1));
  }
  sb->used += n;
}


/* Converts any error object to a string without running metamethods and
** keeps the traceback for the log. */
static int
sandbox_msgh(lua_State *L)
{
  pr_sandbox *sb = pr_sandbox_of(L);
  const char *msg = lua_tostring(L, 1);

  if (msg == NULL) {
    if (lua_isnil(L, 1)) {
      msg = lua_pushliteral(L, "error with a nil value");
    } else {
      msg = lua_pushfstring(L, "error with a %s value",
                            luaL_typename(L, 1));
    }
  }
  luaL_traceback(L, L, NULL, 1);
  snprintf(sb->traceback, sizeof(sb->traceback), "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_pushstring(L, msg);
  return 1;
}


int
pr_sandbox_call(pr_sandbox *sb, int nargs, int nresults, char *err,
                size_t errlen)
{
  lua_State *L = sb->L;
  int base = lua_gettop(L) - nargs;

  /* A light C function: pushing it allocates nothing, so cannot raise. */
  lua_pushcfunction(L, sandbox_msgh);
  lua_insert(L, base);
  sb->used = 0;
  sb->spent = 0;
  sb->mem_peak = sb->mem_used;
  sb->traceback[0] = '\0';
  lua_sethook(L, sandbox_hook, LUA_MASKCOUNT,
              SANDBOX_HOOK_EVERY < sb->budget ? SANDBOX_HOOK_EVERY
                                              : (int)sb->budget);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  if (status == LUA_OK) {
    return PROMPTLY_OK;
  }
  const char *msg = lua_tostring(L, -1);
  if (status == LUA_ERRMEM) {
    msg = "not enough memory (the rules' memory cap was reached)";
  } else if (msg == NULL) {
    msg = "error in error handling";
  }
  pr_err(err, errlen, PROMPTLY_ERULE, "%s", msg);
  lua_pop(L, 1);
  /* Give the memory of the failed call back before the next one. */
  lua_gc(L, LUA_GCCOLLECT);
  return PROMPTLY_ERULE;
}


int
pr_sandbox_run(pr_sandbox *sb, lua_CFunction fn, void *ud, char *err,
               size_t errlen)
{
  lua_pushcfunction(sb->L, fn);
  lua_pushlightuserdata(sb->L, ud);
  return pr_sandbox_call(sb, 1, 0, err, errlen);
}


int
pr_sandbox_exec(pr_sandbox *sb, const char *name, const char *src, size_t len,
                char *err, size_t errlen)
{
  char chunk[1024];
  snprintf(chunk, sizeof(chunk), "@%s", name);
  sb->traceback[0] = '\0';
  /* lua_load runs in protected mode itself and reports by status. */
  int status = luaL_loadbufferx(sb->L, src, len, chunk, "t");
  if (status != LUA_OK) {
    const char *msg = status == LUA_ERRMEM ? NULL : lua_tostring(sb->L, -1);
    if (msg == NULL) {
      pr_err(err, errlen, PROMPTLY_ERULE,
             "%s: not enough memory (the rules' memory cap was reached)",
             name);
    } else if (strstr(msg, "binary chunk") != NULL) {
      /* This message carries no file name: add it. */
      pr_err(err, errlen, PROMPTLY_ERULE, "%s: %s", name, msg);
    } else {
      pr_err(err, errlen, PROMPTLY_ERULE, "%s", msg);
    }
    lua_pop(sb->L, 1);
    return PROMPTLY_ERULE;
  }
  return pr_sandbox_call(sb, 0, 0, err, errlen);
}


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
      p += 2; /* a back reference compares one capture: linear */
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
  pr_sandbox *sb = pr_sandbox_of(L);
  double instr = cost / SANDBOX_STEPS_PER_INSTR;
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


static int
l_sandbox_find(lua_State *L)
{
  pattern_guard(L, "string.find", 1, lua_toboolean(L, 4));
  return call_real(L);
}


static int
l_sandbox_match(lua_State *L)
{
  pattern_guard(L, "string.match", 1, 0);
  return call_real(L);
}


static int
l_sandbox_gmatch(lua_State *L)
{
  /* The iterator resumes where the last match ended, so every start
  ** position is tried at most once over the whole loop: charged here. */
  pattern_guard(L, "string.gmatch", 0, 0);
  return call_real(L);
}


static int
l_sandbox_gsub(lua_State *L)
{
  pattern_guard(L, "string.gsub", 1, 0);
  return call_real(L);
}


static int
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
  pr_sandbox_charge(L, (uint64_t)n / SANDBOX_STEPS_PER_INSTR);
  return call_real(L);
}


static int
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


static int
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


/* --- promptly.log, promptly.warn ----------------------------------------- */

static int
sandbox_log(lua_State *L, int level)
{
  pr_sandbox *sb = pr_sandbox_of(L);
  int n = lua_gettop(L);
  luaL_Buffer b;

  luaL_buffinit(L, &b);
  luaL_where(L, 1);
  luaL_addvalue(&b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) {
      luaL_addchar(&b, ' ');
    }
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  if (sb->log != NULL) {
    sb->log(sb->log_ud, level, lua_tostring(L, -1));
  }
  return 0;
}


static int
l_promptly_log(lua_State *L)
{
  return sandbox_log(L, PROMPTLY_LOG_INFO);
}


static int
l_promptly_warn(lua_State *L)
{
  return sandbox_log(L, PROMPTLY_LOG_WARN);
}


/* --- Setting up a state --------------------------------------------------- */

static const luaL_Reg sandbox_libs[] = {
  {LUA_GNAME,       luaopen_base},
  {LUA_TABLIBNAME,  luaopen_table},
  {LUA_STRLIBNAME,  luaopen_string},
  {LUA_MATHLIBNAME, luaopen_math},
  {LUA_UTF8LIBNAME, luaopen_utf8},
  {NULL, NULL}
};

static const char *const sandbox_removed[] = {
  "dofile", "loadfile", "load", "require", "collectgarbage", "print",
  "warn", "rawget", "rawset", "rawequal", "rawlen", NULL
};

static const luaL_Reg sandbox_string_wraps[] = {
  {"find",   l_sandbox_find},
  {"match",  l_sandbox_match},
  {"gmatch", l_sandbox_gmatch},
  {"gsub",   l_sandbox_gsub},
  {"rep",    l_sandbox_rep},
  {NULL, NULL}
};

static const luaL_Reg promptly_lib[] = {
  {"log",  l_promptly_log},
  {"warn", l_promptly_warn},
  {NULL, NULL}
};


/* Replace t[name] (t at index idx) with fn, the original as upvalue 1. */
static void
wrap_field(lua_State *L, int idx, const char *name, lua_CFunction fn)
{
  idx = lua_absindex(L, idx);
  lua_getfield(L, idx, name);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, idx, name);
}


static int
sandbox_setup(lua_State *L)
{
  for (const luaL_Reg *lib = sandbox_libs; lib->func != NULL; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  for (const char *const *name = sandbox_removed; *name != NULL; name++) {
    lua_pushnil(L);
    lua_setfield(L, -2, *name);
  }
  wrap_field(L, -1, "setmetatable", l_sandbox_setmetatable);

  lua_getfield(L, -1, LUA_STRLIBNAME);
  for (const luaL_Reg *w = sandbox_string_wraps; w->func != NULL; w++) {
    wrap_field(L, -1, w->name, w->func);
  }
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);

  lua_getfield(L, -1, LUA_TABLIBNAME);
  wrap_field(L, -1, "move", l_sandbox_move);
  lua_pop(L, 1);

  luaL_newlib(L, promptly_lib);
  lua_setfield(L, -2, "promptly");
  lua_pop(L, 1);

  /* Hide the string metatable shared by all files: getmetatable('') is
  ** false and rules cannot redirect string methods. */
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}


int
pr_sandbox_new(size_t mem_cap, uint64_t budget, pr_sandbox_log_fn log,
               void *log_ud, pr_sandbox **out, char *err, size_t errlen)
{
  if (mem_cap == 0 || budget == 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "sandbox: the memory cap and the budget must not be 0");
  }
  pr_sandbox *sb = calloc(1, sizeof(*sb));
  if (sb == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "sandbox: out of memory");
  }
  sb->mem_cap = mem_cap;
  sb->budget = budget;
  sb->log = log;
  sb->log_ud = log_ud;
  sb->L = lua_newstate(sandbox_alloc, sb);
  if (sb->L == NULL) {
    free(sb);
    return pr_err(err, errlen, PROMPTLY_ENOMEM,
                  "sandbox: a Lua state does not fit in %zu bytes", mem_cap);
  }
  *(pr_sandbox **)lua_getextraspace(sb->L) = sb;
  char why[512];
  if (pr_sandbox_run(sb, sandbox_setup, NULL, why, sizeof(why)) !=
      PROMPTLY_OK) {
    pr_sandbox_free(sb);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "sandbox: %s", why);
  }
  *out = sb;
  return PROMPTLY_OK;
}


void
pr_sandbox_free(pr_sandbox *sb)
{
  if (sb == NULL) {
    return;
  }
  lua_close(sb->L);
  free(sb);
}
