/* sandbox.c - a sandboxed Lua 5.4 state for rule files: the state, its
** allocator, the instruction and CPU budget, promptly.log/warn, and
** setting a state up with the bounded library of sandbox_lib.c.
**
** Invariants.  mem_used never exceeds mem_cap (the allocator refuses the
** growth that would); it counts the state's blocks and what was reserved
** for the rules' C data (pr_sandbox_reserve).  No block rule code makes
** exceeds PR_SANDBOX_BLOCK_MAX (host_values is off whenever rule code
** runs).  The count hook is installed only inside pr_sandbox_call/run;
** once the budget (instructions, or CPU time) is spent it re-arms itself
** with count 1 and raises at every instruction until the call returns.
** Within a call, used only grows: the hook, the library wrappers and the
** allocator add to it, none takes back.  The thread CPU clock is read
** only after 1000 instructions or a large charge, then only when the
** coarse wall clock says the limit may have been reached.  No function
** here calls a raising Lua API function outside a protected call.
*/
#include "config.h"

#include "sandbox.h"
#include "sandbox_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

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
  sb->wall_start = clock_ns(CLOCK_MONOTONIC);
  sb->wall_check = 0;
  sb->cpu_marked = 0;
  sb->time_used_ns = 0;
}


/* Whether the running call (or span) has used up its CPU time.  The
** first time, the thread's CPU clock is read and everything since the
** start is taken as CPU time (callers come here only after 1000
** instructions or a large charge, so calls shorter than that never make
** the system call); after that the CPU clock is read again only when the
** coarse wall clock says the limit may have been reached. */
int
pr_sandbox_time_over(pr_sandbox *sb)
{
  if (sb->time_spent) {
    return 1;
  }
  if (sb->wall_check == UINT64_MAX) {
    return 0; /* PR_SANDBOX_TIME_OFF */
  }
  uint64_t wall = clock_ns(CLOCK_MONOTONIC_COARSE);
  if (sb->cpu_marked && wall < sb->wall_check) {
    return 0;
  }
  uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (!sb->cpu_marked) {
    uint64_t mono = clock_ns(CLOCK_MONOTONIC);
    sb->cpu_marked = 1;
    sb->cpu_mark = cpu;
    sb->cpu_before = mono > sb->wall_start ? mono - sb->wall_start : 0;
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
    if (sb->used < sb->budget && !pr_sandbox_time_over(sb)) {
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
      ((n >= SANDBOX_HOOK_EVERY || sb->cpu_marked) && pr_sandbox_time_over(sb))) {
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
  sb->hook_wall = sb->wall_check == UINT64_MAX
                   ? 0 : clock_ns(CLOCK_MONOTONIC_COARSE);
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
  if (sb->wall_check == UINT64_MAX) {
    return 0; /* PR_SANDBOX_TIME_OFF: not measured */
  }
  if (!sb->cpu_marked) {
    uint64_t mono = clock_ns(CLOCK_MONOTONIC);
    return mono > sb->wall_start ? mono - sb->wall_start : 0;
  }
  return sb->cpu_before + (clock_ns(CLOCK_THREAD_CPUTIME_ID) - sb->cpu_mark);
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


/* --- promptly.log, promptly.warn ----------------------------------------- */

/* One line of at most PR_SANDBOX_LOG_BYTES, escaped (pr_text_line), with
** the caller's file:line; at most PR_SANDBOX_LOGS_CALL lines a call, or
** PR_SANDBOX_LOGS_SPAN in a span (a load), the first line over the limit
** saying so.  Nothing is built in Lua, so a huge argument costs nothing. */
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
  /* In a span (a load) its own limit applies, else the call's. */
  int over_call = !sb->in_span && sb->logs_call > PR_SANDBOX_LOGS_CALL;
  int over_span = sb->in_span && sb->logs_span > PR_SANDBOX_LOGS_SPAN;
  if (over_call || over_span) {
    if ((over_call && sb->logs_call == PR_SANDBOX_LOGS_CALL + 1) ||
        (over_span && sb->logs_span == PR_SANDBOX_LOGS_SPAN + 1)) {
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

  pr_sandbox_wrap_charged(L);

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
