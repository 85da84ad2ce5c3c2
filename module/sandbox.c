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
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Instructions between two hook calls while the budget is not spent; and
** once one such interval took SANDBOX_HEAVY_NS of wall time (two ticks of
** the coarse clock), for the rest of the call. */
#define SANDBOX_HOOK_EVERY 1000
#define SANDBOX_HOOK_HEAVY 8
#define SANDBOX_HEAVY_NS ((uint64_t)8 * 1000000)

/* A pattern-matching step costs about this share of a VM instruction. */
#define SANDBOX_STEPS_PER_INSTR 8

/* Bytes a library function handles for the price of one VM instruction
** (copying, case mapping, decoding, comparing), and bytes allocated. */
#define SANDBOX_BYTES_PER_INSTR 16
#define SANDBOX_ALLOC_BYTES_PER_INSTR 64

#define SANDBOX_TRACEBACK_MAX 2048

struct pr_sandbox {
  lua_State *L;
  size_t mem_cap;
  size_t mem_used;
  size_t mem_peak;   /* since the start of the last call */
  uint64_t budget;
  uint64_t used;     /* instructions in the running or last call */
  int spent;         /* the budget ran out in this call */
  int in_call;       /* inside pr_sandbox_call: charges and limits apply */
  int host_values;   /* pushing the host's values: larger blocks allowed */
  int hook_every;    /* the count hook's interval in the running call */
  uint64_t hook_wall; /* coarse ns at the last hook */
  char mem_where[160]; /* "file:line: " of the last refused allocation */
  size_t mem_block;    /* its size, when over PR_SANDBOX_BLOCK_MAX, else 0 */
  /* CPU time.  The thread's CPU time cannot run ahead of the wall clock,
  ** so the cheap coarse monotonic clock tells when the thread CPU clock
  ** (a system call) is worth reading: at wall_check and later. */
  uint64_t time_call_ns;  /* limit of one call outside a span */
  uint64_t time_limit_ns; /* limit of the running call (or span) */
  int in_span;
  int time_spent;
  uint64_t wall_start;    /* coarse monotonic ns at the start */
  uint64_t wall_check;    /* coarse ns after which to read the CPU clock */
  int cpu_marked;
  uint64_t cpu_mark;      /* thread CPU ns at the first precise reading */
  uint64_t cpu_before;    /* an upper bound of CPU ns used before it */
  uint64_t time_used_ns;  /* at the last precise reading */
  /* promptly.log/warn lines in this call and in this span. */
  unsigned logs_call;
  unsigned logs_span;
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

static void sandbox_hook(lua_State *L, lua_Debug *ar);

/* Charge n instructions where raising is not allowed (the allocator):
** once the budget is spent, the hook fires at the next instruction. */
static void
sandbox_debt(pr_sandbox *sb, uint64_t n)
{
  if (n == 0) {
    return;
  }
  if (n >= sb->budget - (sb->used < sb->budget ? sb->used : sb->budget)) {
    sb->used = sb->budget;
    if (sb->L != NULL) {
      /* lua_sethook may be called at any time, even from a signal. */
      lua_sethook(sb->L, sandbox_hook, LUA_MASKCOUNT, 1);
    }
    return;
  }
  sb->used += n;
}


/* "file:line: " of the innermost Lua function running, into mem_where.
** Called from the allocator, so it uses only API functions that do not
** allocate (lua_getstack, lua_getinfo with "Sl"). */
static void
mem_where(pr_sandbox *sb)
{
  lua_Debug ar;
  for (int level = 0; sb->L != NULL && level < 64 &&
                      lua_getstack(sb->L, level, &ar); level++) {
    if (lua_getinfo(sb->L, "Sl", &ar) && ar.currentline > 0) {
      snprintf(sb->mem_where, sizeof(sb->mem_where), "%s:%d: ",
               ar.short_src, ar.currentline);
      return;
    }
  }
}


static uint64_t
clock_ns(clockid_t id)
{
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) {
    return 0;
  }
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


/* Start the time of a call (or a span): no system call. */
static void
time_start(pr_sandbox *sb, uint64_t limit_ns)
{
  sb->time_limit_ns = limit_ns;
  sb->time_spent = 0;
  if (limit_ns == PR_SANDBOX_TIME_OFF) {
    sb->wall_check = UINT64_MAX;
    return;
  }
  sb->wall_start = clock_ns(CLOCK_MONOTONIC_COARSE);
  /* The first precise reading comes after one coarse tick at most, so
  ** that a long call is measured on the CPU clock and not on the wall. */
  sb->wall_check = sb->wall_start + 1;
  sb->cpu_marked = 0;
  sb->time_used_ns = 0;
}


/* Whether the running call (or span) has used up its CPU time.  Cheap
** until the wall clock says it may have. */
static int
time_over(pr_sandbox *sb)
{
  if (sb->time_spent) {
    return 1;
  }
  if (sb->wall_check == UINT64_MAX) {
    return 0; /* PR_SANDBOX_TIME_OFF */
  }
  uint64_t wall = clock_ns(CLOCK_MONOTONIC_COARSE);
  if (wall < sb->wall_check) {
    return 0;
  }
  uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (!sb->cpu_marked) {
    /* All the wall time so far may have been CPU time. */
    sb->cpu_marked = 1;
    sb->cpu_mark = cpu;
    sb->cpu_before = wall - sb->wall_start;
  }
  uint64_t used = sb->cpu_before + (cpu - sb->cpu_mark);
  sb->time_used_ns = used;
  if (used >= sb->time_limit_ns) {
    sb->time_spent = 1;
    return 1;
  }
  /* CPU time cannot grow faster than the wall clock. */
  uint64_t left = sb->time_limit_ns - used;
  sb->wall_check = left < UINT64_MAX - 1 - wall ? wall + left : UINT64_MAX - 1;
  return 0;
}

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
  size_t block_max = sb->host_values ? PR_SANDBOX_HOST_BLOCK_MAX
                                      : PR_SANDBOX_BLOCK_MAX;
  if (nsize > old && (nsize - old > sb->mem_cap - sb->mem_used ||
                      nsize > block_max)) {
    if (sb->in_call) {
      /* Lua collects all garbage before it gives up on an allocation: a
      ** rule that fails allocations in a loop pays for the collections. */
      sandbox_debt(sb, sb->mem_used / SANDBOX_ALLOC_BYTES_PER_INSTR);
      mem_where(sb);
      sb->mem_block = nsize > block_max ? nsize : 0;
    }
    return NULL;
  }
  if (sb->in_call && nsize > old) {
    sandbox_debt(sb, (nsize - old) / SANDBOX_ALLOC_BYTES_PER_INSTR);
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


/* Mark the budget spent and raise; the hook now fires at every
** instruction, so a pcall in the rule that catches this error is
** interrupted again at its next instruction. */
static int
sandbox_spent(lua_State *L, pr_sandbox *sb, const char *where)
{
  sb->spent = 1;
  lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
  if (sb->time_spent) {
    lua_pushfstring(L, "%stime budget exceeded (%I ms of CPU time%s)", where,
                    (lua_Integer)(sb->time_limit_ns / 1000000),
                    sb->in_span ? " for loading the rules" : "");
  } else {
    lua_pushfstring(L, "%sinstruction budget exceeded (%I instructions)",
                    where, (lua_Integer)sb->budget);
  }
  return lua_error(L);
}


static void
sandbox_hook(lua_State *L, lua_Debug *ar)
{
  pr_sandbox *sb = pr_sandbox_of(L);
  char where[256] = "";

  if (!sb->spent) {
    uint64_t step = (uint64_t)sb->hook_every;
    sb->used = sb->used < sb->budget - step ? sb->used + step : sb->budget;
    if (sb->wall_check != UINT64_MAX && sb->hook_every > SANDBOX_HOOK_HEAVY) {
      /* Instructions that take milliseconds each (== or .. on long
      ** strings): from now on look at the clock every few of them. */
      uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
      if (now - sb->hook_wall >= SANDBOX_HEAVY_NS) {
        sb->hook_every = SANDBOX_HOOK_HEAVY;
        lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, sb->hook_every);
      }
      sb->hook_wall = now;
    }
    if (sb->used < sb->budget && !time_over(sb)) {
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

  if (sb->spent || sb->used >= sb->budget || n >= sb->budget - sb->used ||
      time_over(sb)) {
    sb->used = sb->budget;
    luaL_where(L, 1);
    sandbox_spent(L, sb, lua_tostring(L, -1));
  }
  sb->used += n;
}


/* Whether msg starts with "something:digits: " (Lua's position). */
static int
has_position(const char *msg)
{
  for (const char *p = msg; *p != '\0' && *p != '\n' && p - msg < 300;
       p++) {
    if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
      const char *d = p + 1;
      while (*d >= '0' && *d <= '9') {
        d++;
      }
      if (d[0] == ':' && d[1] == ' ') {
        return 1;
      }
    }
  }
  return 0;
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
  if (!has_position(msg)) {
    /* Raised in C (a C stack overflow, error() with level 0, an error
    ** object): name the innermost Lua line, the stack is still there. */
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
      if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
        lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
        return 1;
      }
    }
  }
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
  sb->logs_call = 0;
  sb->mem_where[0] = '\0';
  sb->mem_block = 0;
  if (!sb->in_span) {
    time_start(sb, sb->time_call_ns);
  } else if (sb->time_spent) {
    /* A spent span stays spent: the next call fails at once. */
    sb->used = sb->budget;
  }
  sb->in_call = 1;
  sb->host_values = 0;
  sb->hook_every = SANDBOX_HOOK_EVERY < sb->budget ? SANDBOX_HOOK_EVERY
                                                   : (int)sb->budget;
  sb->hook_wall = sb->in_span ? clock_ns(CLOCK_MONOTONIC_COARSE)
                              : sb->wall_start;
  lua_sethook(L, sandbox_hook, LUA_MASKCOUNT,
              sb->used >= sb->budget ? 1 : sb->hook_every);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_sethook(L, NULL, 0, 0);
  sb->in_call = 0;
  lua_remove(L, base);
  if (status == LUA_OK) {
    return PROMPTLY_OK;
  }
  const char *msg = lua_tostring(L, -1);
  if (status == LUA_ERRMEM) {
    /* Lua's memory error carries no position: the allocator noted it. */
    if (sb->mem_block > 0) {
      pr_err(err, errlen, PROMPTLY_ERULE,
             "%snot enough memory (one string or table of %zu bytes is "
             "over the largest block of %zu bytes)",
             sb->mem_where, sb->mem_block,
             sb->mem_block > PR_SANDBOX_HOST_BLOCK_MAX
               ? PR_SANDBOX_HOST_BLOCK_MAX : PR_SANDBOX_BLOCK_MAX);
    } else {
      pr_err(err, errlen, PROMPTLY_ERULE,
             "%snot enough memory (the rules' memory cap was reached)",
             sb->mem_where);
    }
  } else {
    pr_err(err, errlen, PROMPTLY_ERULE, "%s",
           msg != NULL ? msg : "error in error handling");
  }
  lua_pop(L, 1);
  /* Give the memory of the failed call back before the next one. */
  lua_gc(L, LUA_GCCOLLECT);
  return PROMPTLY_ERULE;
}


void
pr_sandbox_host_values(pr_sandbox *sb, int on)
{
  sb->host_values = on;
}


int
pr_sandbox_reserve(pr_sandbox *sb, size_t n)
{
  if (n > sb->mem_cap - sb->mem_used) {
    return PROMPTLY_ENOMEM;
  }
  sb->mem_used += n;
  if (sb->mem_used > sb->mem_peak) {
    sb->mem_peak = sb->mem_used;
  }
  return PROMPTLY_OK;
}


void
pr_sandbox_set_time(pr_sandbox *sb, uint64_t call_ns)
{
  sb->time_call_ns = call_ns > 0 ? call_ns : PR_SANDBOX_TIME_CALL;
}


void
pr_sandbox_span_begin(pr_sandbox *sb, uint64_t span_ns)
{
  sb->in_span = 1;
  sb->logs_span = 0;
  time_start(sb, span_ns > 0 ? span_ns : PR_SANDBOX_TIME_LOAD);
}


void
pr_sandbox_span_end(pr_sandbox *sb)
{
  sb->in_span = 0;
}


uint64_t
pr_sandbox_time_used(pr_sandbox *sb)
{
  uint64_t wall = clock_ns(CLOCK_MONOTONIC_COARSE);
  uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (!sb->cpu_marked) {
    return wall - sb->wall_start;
  }
  return sb->cpu_before + (cpu - sb->cpu_mark);
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
  if (time_over(sb)) {
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
static int
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

/* One line of at most PR_SANDBOX_LOG_BYTES, escaped (pr_text_line), with
** the caller's file:line; at most PR_SANDBOX_LOGS_CALL lines a call and
** PR_SANDBOX_LOGS_SPAN a span, the first line over either limit saying
** so.  Nothing is built in Lua, so a huge argument costs nothing. */
static int
sandbox_log(lua_State *L, int level)
{
  pr_sandbox *sb = pr_sandbox_of(L);
  int n = lua_gettop(L);

  if (sb->log == NULL) {
    return 0;
  }
  sb->logs_call++;
  sb->logs_span++;
  int over_call = sb->logs_call > PR_SANDBOX_LOGS_CALL;
  int over_span = sb->in_span && sb->logs_span > PR_SANDBOX_LOGS_SPAN;
  if (over_call || over_span) {
    if (sb->logs_call == PR_SANDBOX_LOGS_CALL + 1 ||
        (sb->in_span && sb->logs_span == PR_SANDBOX_LOGS_SPAN + 1)) {
      luaL_where(L, 1);
      char line[256];
      snprintf(line, sizeof(line),
               "%smore than %d promptly.log/warn lines %s: the rest are "
               "dropped", lua_tostring(L, -1),
               over_span ? PR_SANDBOX_LOGS_SPAN : PR_SANDBOX_LOGS_CALL,
               over_span ? "while the rules load" : "in one call");
      lua_pop(L, 1);
      sb->log(sb->log_ud, PROMPTLY_LOG_WARN, line);
    }
    return 0;
  }
  char line[PR_SANDBOX_LOG_BYTES + 1];
  size_t off = 0;
  luaL_where(L, 1);
  size_t wl;
  const char *w = lua_tolstring(L, -1, &wl);
  off += pr_text_line(w, wl, line, sizeof(line));
  lua_pop(L, 1);
  for (int i = 1; i <= n && off + 4 < sizeof(line); i++) {
    if (i > 1) {
      line[off++] = ' ';
      line[off] = '\0';
    }
    size_t len;
    const char *piece;
    char num[64];
    switch (lua_type(L, i)) {
    case LUA_TSTRING:
    case LUA_TNUMBER:
      /* A number converts in place: lua_tolstring on a copy. */
      lua_pushvalue(L, i);
      piece = lua_tolstring(L, -1, &len);
      off += pr_text_line(piece, len, line + off, sizeof(line) - off);
      lua_pop(L, 1);
      continue;
    case LUA_TNIL:
      piece = "nil";
      break;
    case LUA_TBOOLEAN:
      piece = lua_toboolean(L, i) ? "true" : "false";
      break;
    default:
      /* No __tostring or __name: metamethods would run rule code. */
      snprintf(num, sizeof(num), "%s: %p", luaL_typename(L, i),
               lua_topointer(L, i));
      piece = num;
      break;
    }
    off += pr_text_line(piece, strlen(piece), line + off,
                        sizeof(line) - off);
  }
  sb->log(sb->log_ud, level, line);
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
  wrap_field(L, -1, "sort", l_sandbox_sort);
  lua_pop(L, 1);

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
  sb->time_call_ns = PR_SANDBOX_TIME_CALL;
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
