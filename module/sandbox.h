/* sandbox.h - a sandboxed Lua 5.4 state: allowlisted libraries, a memory
** cap, an instruction budget per call, bounded string functions.
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
** charged to the budget.  string.rep refuses results over the memory cap;
** table.move charges its element count.  The string metatable is hidden.
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

/* A new sandbox whose state may hold at most mem_cap bytes and may run at
** most budget VM instructions per call (both must be > 0).  log may be
** NULL (promptly.log output is then dropped).  The sandbox owns its state;
** log_ud is borrowed until pr_sandbox_free.  ENOMEM if the state cannot be
** made within the cap, EINVAL for a zero cap or budget. */
int pr_sandbox_new(size_t mem_cap, uint64_t budget, pr_sandbox_log_fn log,
                   void *log_ud, pr_sandbox **out, char *err, size_t errlen);

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

/* Bytes the state holds now, and the most it held during the last call. */
size_t pr_sandbox_mem_used(const pr_sandbox *sb);
size_t pr_sandbox_mem_peak(const pr_sandbox *sb);

/* Instructions used by the last (or running) call. */
uint64_t pr_sandbox_used(const pr_sandbox *sb);

/* The traceback of the last error, "" if none; valid until the next call. */
const char *pr_sandbox_traceback(const pr_sandbox *sb);

#endif /* PR_SANDBOX_H */
