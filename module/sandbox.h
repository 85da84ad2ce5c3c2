/* sandbox.h - a sandboxed Lua 5.4 state: allowlisted libraries, a memory
** cap, an instruction budget and a CPU time budget per call, bounded
** library functions and log lines.
**
** What a rule file gets: the base library without dofile, loadfile, load,
** require, collectgarbage, print, warn and the raw* functions; table,
** string (without string.dump), math and utf8; and promptly.log(...) and
** promptly.warn(...), routed to the log sink.  setmetatable refuses a
** metatable with a __gc field (finalizers run with hooks off, so one could
** hang lua_close).  string.find/match/gmatch/gsub refuse subjects over
** PR_SANDBOX_SUBJECT_MAX bytes, patterns over PR_SANDBOX_PATTERN_MAX bytes,
** and any call whose worst-case backtracking, estimated from the pattern and
** the subject, would not fit in the rest of the budget; the estimate is
** charged to the budget (gsub also for what its replacement writes, a
** back-reference for comparing its capture).  string.rep refuses results
** over the memory cap; table.move charges its element count.  The string
** metatable is hidden.
**
** One C call cannot run away: every library function whose C loop grows
** with its input (string lower/upper/reverse/byte/sub/char/format/pack/
** unpack, utf8 len/codepoint/char/offset, table insert/remove/concat/
** unpack/sort/move, tonumber, select) is charged for its bytes or
** elements before it runs; table.sort refuses more than
** PR_SANDBOX_SORT_MAX elements; allocations are charged by size (a
** refused one for the full collection Lua runs first); no single block
** (string, table part) exceeds PR_SANDBOX_BLOCK_MAX, so that a VM
** instruction comparing or concatenating strings stays short.  Next to
** the instruction budget, each call has a CPU time budget measured on the
** thread's CPU clock (PR_SANDBOX_TIME_CALL; a span of calls such as a
** load shares PR_SANDBOX_TIME_LOAD), checked at every hook and charge.
** promptly.log/warn lines are escaped to one line, cut at
** PR_SANDBOX_LOG_BYTES and limited per call and per span.  Memory errors
** and errors raised in C name the innermost Lua file:line.
**
** Every load and call runs under lua_pcall with a message handler, so no
** Lua error escapes into C; the budget is reset at the start of each call
** and, once spent, stays spent until the call returns (pcall inside Lua
** cannot swallow it).  Errors come back as PROMPTLY_ERULE with
** "file:line: message" in the caller's buffer.  Loop thread only: a sandbox
** and its lua_State are used by one thread at a time.
*/
#ifndef PR_SANDBOX_H
#define PR_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct pr_sandbox pr_sandbox;

/* Same shape as pr_log_fn in rules.h: level is PROMPTLY_LOG_*. */
typedef void (*pr_sandbox_log_fn)(void *ud, int level, const char *msg);

#define PR_SANDBOX_SUBJECT_MAX ((size_t)4 << 20) /* bytes, pattern subject */
#define PR_SANDBOX_PATTERN_MAX ((size_t)1024)    /* bytes, one pattern */
/* The largest single block (a string, a table's array) rule code may
** make, so that a VM instruction that compares or copies one stays short
** (the size of the largest pattern subject); and the largest the host's
** own values may take (pr_sandbox_host_values: an event's attribute
** fits, events are at most 8 MiB). */
#define PR_SANDBOX_BLOCK_MAX (((size_t)4 << 20) + 4096)
#define PR_SANDBOX_HOST_BLOCK_MAX (((size_t)8 << 20) + 4096)
/* Input caps of library functions whose C loop the hook cannot see. */
#define PR_SANDBOX_SORT_MAX ((size_t)1 << 17)    /* table.sort elements */

/* CPU time of the thread, by default: one call, and one load (a span of
** calls, see pr_sandbox_span_begin). */
#define PR_SANDBOX_TIME_CALL ((uint64_t)50 * 1000000)    /* 50 ms */
#define PR_SANDBOX_TIME_LOAD ((uint64_t)2000 * 1000000)  /* 2 s */

/* promptly.log/warn lines: per call, per span, and bytes of one line. */
#define PR_SANDBOX_LOGS_CALL 20
#define PR_SANDBOX_LOGS_SPAN 200
#define PR_SANDBOX_LOG_BYTES ((size_t)1024)

/* A new sandbox whose state may hold at most mem_cap bytes and may run at
** most budget VM instructions per call (both must be > 0).  log may be
** NULL (promptly.log output is then dropped).  The sandbox owns its state;
** log_ud is borrowed until pr_sandbox_free.  ENOMEM if the state cannot be
** made within the cap, EINVAL for a zero cap or budget. */
int pr_sandbox_new(size_t mem_cap, uint64_t budget, pr_sandbox_log_fn log,
                   void *log_ud, pr_sandbox **out, char *err, size_t errlen);

/* The CPU time one call may take outside a span (0: PR_SANDBOX_TIME_CALL,
** the default; PR_SANDBOX_TIME_OFF: no time budget and no clock read at
** all, for measuring what the budget costs). */
#define PR_SANDBOX_TIME_OFF UINT64_MAX
void pr_sandbox_set_time(pr_sandbox *sb, uint64_t call_ns);

/* A span: the calls until pr_sandbox_span_end share one CPU time limit of
** span_ns (0: PR_SANDBOX_TIME_LOAD) instead of one each, and one count of
** log lines.  Once the span's time is spent, every further call in it
** fails with the time budget error.  The instruction budget stays per
** call. */
void pr_sandbox_span_begin(pr_sandbox *sb, uint64_t span_ns);
void pr_sandbox_span_end(pr_sandbox *sb);

/* CPU ns used by the running or last call or span (an upper bound). */
uint64_t pr_sandbox_time_used(pr_sandbox *sb);

/* Close the state (no finalizer can run: __gc is refused) and free. */
void pr_sandbox_free(pr_sandbox *sb);

/* The state, for pushing values and registering functions.  The caller
** must not run Lua code, or call any API function that can raise (push a
** string, make a table), outside pr_sandbox_call or pr_sandbox_run. */
lua_State *pr_sandbox_state(pr_sandbox *sb);

/* The sandbox of a state made by pr_sandbox_new (for C functions). */
pr_sandbox *pr_sandbox_of(lua_State *L);

/* Compile src (len bytes, text only) as a chunk named "@name", so that
** messages read "name:line: message", and run it with no arguments.  OK;
** ERULE with the message in err for a syntax error, a binary chunk, a
** runtime error, a spent budget or the memory cap. */
int pr_sandbox_exec(pr_sandbox *sb, const char *name, const char *src,
                    size_t len, char *err, size_t errlen);

/* Call the function below the nargs arguments on top of the stack, under a
** fresh budget, like lua_pcall(L, nargs, nresults, handler).  On OK the
** results are left on the stack; on ERULE the function and arguments are
** gone and err holds "file:line: message". */
int pr_sandbox_call(pr_sandbox *sb, int nargs, int nresults, char *err,
                    size_t errlen);

/* Run the C function fn in protected mode, under a fresh budget, with ud as
** its only argument (a light userdata).  For C work that pushes values or
** calls Lua.  OK or ERULE as pr_sandbox_call; fn's results are dropped. */
int pr_sandbox_run(pr_sandbox *sb, lua_CFunction fn, void *ud, char *err,
                   size_t errlen);

/* Charge n instructions to the running call's budget from a C function;
** raises the budget error (and keeps it raised) once the budget is spent.
** Only from C functions called by Lua inside pr_sandbox_call/run. */
void pr_sandbox_charge(lua_State *L, uint64_t n);

/* While on (from a C function inside a call), blocks up to
** PR_SANDBOX_HOST_BLOCK_MAX are allowed: for pushing the host's values
** (a ticket's attributes), which rules then only read.  Off again before
** any rule code runs. */
void pr_sandbox_host_values(pr_sandbox *sb, int on);

/* Count n bytes held outside the state (what rules copied into C) against
** the memory cap, for the sandbox's lifetime: one account for both.  OK,
** or ENOMEM (nothing counted) when they do not fit. */
int pr_sandbox_reserve(pr_sandbox *sb, size_t n);

/* Bytes the state holds now, and the most it held during the last call. */
size_t pr_sandbox_mem_used(const pr_sandbox *sb);
size_t pr_sandbox_mem_peak(const pr_sandbox *sb);

/* Instructions used by the last (or running) call. */
uint64_t pr_sandbox_used(const pr_sandbox *sb);

/* The traceback of the last error, "" if none; valid until the next call. */
const char *pr_sandbox_traceback(const pr_sandbox *sb);

#endif /* PR_SANDBOX_H */
