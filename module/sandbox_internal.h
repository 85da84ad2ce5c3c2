/* sandbox_internal.h - what the sandbox's two files share: the state
** (struct pr_sandbox) and its tuning.  sandbox.c: the state, allocator,
** instruction and CPU budget, promptly.log/warn and setting a state up;
** sandbox_lib.c: the bounded and size-charged library functions that
** setup installs in place of Lua's own.  Not an interface: sandbox.h is.
** The invariants of the state are in sandbox.c's opening comment.
*/
#ifndef PR_SANDBOX_INTERNAL_H
#define PR_SANDBOX_INTERNAL_H

#include "sandbox.h"

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

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
  ** so after a first reading of the thread CPU clock (a system call),
  ** the cheap coarse monotonic clock tells when the next one is worth
  ** making: at wall_check and later.  Before the first reading, the wall
  ** time since the start counts as CPU time. */
  uint64_t time_call_ns;  /* limit of one call outside a span */
  uint64_t time_limit_ns; /* limit of the running call (or span) */
  int in_span;
  int time_spent;
  uint64_t wall_start;    /* monotonic ns at the start */
  uint64_t wall_check;    /* coarse ns after which to read the CPU clock;
                          ** UINT64_MAX: PR_SANDBOX_TIME_OFF */
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

/* sandbox.c: whether the running call's CPU time limit is reached (reads
** the thread CPU clock only when the coarse wall clock says it may be). */
int pr_sandbox_time_over(pr_sandbox *sb);

/* sandbox_lib.c: string.find, match, gmatch, gsub, rep and table.move
** with bounded work; table.sort and setmetatable charged. */
int l_sandbox_find(lua_State *L);
int l_sandbox_match(lua_State *L);
int l_sandbox_gmatch(lua_State *L);
int l_sandbox_gsub(lua_State *L);
int l_sandbox_rep(lua_State *L);
int l_sandbox_move(lua_State *L);
int l_sandbox_sort(lua_State *L);
int l_sandbox_setmetatable(lua_State *L);

/* Wrap the library functions charged by their arguments' size (string
** case mapping, table.concat, unpack, utf8, ...) in the globals table at
** the top of the stack: each is charged before the real one runs. */
void pr_sandbox_wrap_charged(lua_State *L);

#endif /* PR_SANDBOX_INTERNAL_H */
