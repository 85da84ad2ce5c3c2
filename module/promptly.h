/* promptly.h - the one contract between a ticketing host and promptly.so.
**
** Change rules.  Versions with the same PROMPTLY_ABI_MAJOR are ABI stable:
** structs only grow at the end (each appended group is marked with the
** minor version that added it), functions are only added, and an existing
** event type id never changes meaning.  A host compiled against an older
** minor keeps working; a different major is refused by promptly_open.
**
** Types are FFI-friendly: fixed-width integers, NUL-terminated UTF-8
** strings, function pointers and void *.  No enum, bool, long or time_t.
** Instants are int64_t milliseconds since the Unix epoch, UTC.
**
** Ownership.  Every pointer argument is borrowed for the duration of the
** call; the module copies what it keeps.  Strings handed to host callbacks
** are valid only during the callback.  Nothing allocated on one side is
** freed on the other.
**
** Threads.  The module creates no thread.  promptly_submit and promptly_stop
** may be called from any thread.  Everything else, and every host callback,
** happens on the thread that calls promptly_run / promptly_advance (the
** loop thread), one call at a time; log also on the caller of open, check
** and reload.
*/
#ifndef PROMPTLY_H
#define PROMPTLY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PROMPTLY_API __attribute__((visibility("default")))
#else
#define PROMPTLY_API
#endif

#define PROMPTLY_ABI_MAJOR 1
#define PROMPTLY_ABI_MINOR 2
#define PROMPTLY_ABI_VERSION \
  ((uint32_t)((PROMPTLY_ABI_MAJOR << 16) | PROMPTLY_ABI_MINOR))

/* Return codes: 0 or negative.  promptly_strerror names each. */
#define PROMPTLY_OK        0
#define PROMPTLY_EINVAL   (-1)  /* bad argument or malformed input */
#define PROMPTLY_ENOMEM   (-2)  /* out of memory */
#define PROMPTLY_EVERSION (-3)  /* ABI major mismatch or struct too small */
#define PROMPTLY_EIO      (-4)  /* file or system error */
#define PROMPTLY_ERULE    (-5)  /* a rule file failed to load or to run */
#define PROMPTLY_ENOTSUP  (-6)  /* unknown event type or action */
#define PROMPTLY_ESTATE   (-7)  /* call not allowed now (e.g. from a callback) */
#define PROMPTLY_ENOBUFS  (-8)  /* caller's buffer too small */
#define PROMPTLY_ERANGE   (-9)  /* out of range: never due, absurd target */

/* Log levels passed to promptly_host.log. */
#define PROMPTLY_LOG_ERROR 0
#define PROMPTLY_LOG_WARN  1
#define PROMPTLY_LOG_INFO  2
#define PROMPTLY_LOG_DEBUG 3

/* Event types.  promptly_event_type() maps the names below to these ids. */
#define PROMPTLY_EV_CREATE         1  /* "create" */
#define PROMPTLY_EV_UPDATE         2  /* "update": attributes changed */
#define PROMPTLY_EV_REPLY_AGENT    3  /* "reply_agent": public agent reply */
#define PROMPTLY_EV_REPLY_CUSTOMER 4  /* "reply_customer" */
#define PROMPTLY_EV_NOTE           5  /* "note": internal comment */
#define PROMPTLY_EV_STATUS         6  /* "status": attr "status" is the new one */
#define PROMPTLY_EV_PRIORITY       7  /* "priority": manual change by an agent */
#define PROMPTLY_EV_REOPEN         8  /* "reopen" */
#define PROMPTLY_EV_MERGE          9  /* "merge": attr "into" names the target */
#define PROMPTLY_EV_DELETE        10  /* "delete" */

/* Modes of promptly_run. */
#define PROMPTLY_RUN_DEFAULT 0  /* until promptly_stop */
#define PROMPTLY_RUN_ONCE    1  /* wait for and handle one round of work */
#define PROMPTLY_RUN_NOWAIT  2  /* handle what is ready, do not wait */

typedef struct promptly promptly;                   /* opaque instance */
typedef struct promptly_calendar promptly_calendar; /* opaque calendar */

/* A name/value pair: event attributes, fields, action arguments. */
typedef struct promptly_attr {
  const char *name;
  const char *value;
} promptly_attr;

typedef struct promptly_event {
  uint32_t struct_size;        /* sizeof(promptly_event) as the host built it */
  int32_t type;                /* PROMPTLY_EV_* */
  int64_t ticket;              /* the host's ticket id, > 0 */
  int64_t at_ms;               /* when it happened; 0 = now; from 1970
                                  to before 2800 */
  const promptly_attr *attrs;  /* n_attrs pairs; names are unique */
  uint32_t n_attrs;
  uint32_t reserved;           /* 0 */
  const char *source;          /* optional: where it came from, named in
                                  messages ("events.jsonl:12"); may be NULL */
  /* ABI 1.0 ends here. */
} promptly_event;

typedef struct promptly_host {
  uint32_t struct_size;  /* sizeof(promptly_host) as the host built it */
  uint32_t abi_version;  /* PROMPTLY_ABI_VERSION the host was built with */
  void *user_data;       /* first argument of every callback */

  /* On the thread of the entry point that logs: the loop thread, or the
  ** caller of promptly_open / promptly_check / promptly_reload; never a
  ** thread of the module's own (it has none).  msg is one line without a
  ** newline.  May be NULL. */
  void (*log)(void *user_data, int32_t level, const char *msg);

  /* Loop thread.  The current instant; NULL for the real clock.  It may
  ** stand still and jump ahead: every promptly_run call fires what is due
  ** by it, so a host that holds time back (until it knows every earlier
  ** event) gets its deadlines at the next call after it lets time on. */
  int64_t (*now_ms)(void *user_data);

  /* Loop thread.  The fields of a ticket that changed, as of at_ms; only
  ** changed fields are passed.  Return 0 when written; a negative return
  ** makes the module retry these fields on the ticket's next change. */
  int32_t (*write_fields)(void *user_data, int64_t ticket, int64_t at_ms,
                          const promptly_attr *fields, uint32_t n_fields);

  /* Loop thread.  Carry out an action ("notify", "note", "reassign", ...).
  ** key identifies it for ever: a host that has carried out a key before
  ** must not do it again.  Return 0 when done or already done.
  ** raise_priority and set_priority are applied by the module itself: the
  ** new level comes as the field "priority", and the host only records
  ** their keys.  at_ms is when the action is due; one that the rules
  ** held to a notification calendar (quiet hours) comes at the
  ** calendar's opening, with the instant its threshold was reached as
  ** one more argument after its own: reached_at (ISO 8601 UTC).  Its key
  ** is the one it has without quiet hours. */
  int32_t (*do_action)(void *user_data, int64_t ticket, int64_t at_ms,
                       const char *action, const promptly_attr *args,
                       uint32_t n_args, const char *key);

  /* Loop thread, optional (a struct_size that ends before it, or NULL,
  ** means none).  One sentence on what happened to a ticket and why, for
  ** explanations: rules matched, clocks started, paused and met, dues,
  ** thresholds and actions.  The module builds these only when set. */
  void (*trace)(void *user_data, int64_t ticket, int64_t at_ms,
                const char *line);
  /* ABI 1.0 ends here. */

  /* ABI 1.1.  Loop thread, optional (a struct_size that ends before it,
  ** or NULL, means none).  The outcome record of an SLA cycle that ended
  ** (at_ms: when it ended), or, through promptly_records_open, of one
  ** still open: one JSON object on one line, without a newline, in the
  ** schema below ("Outcome records").  The module builds records only
  ** when this is set. */
  void (*record)(void *user_data, int64_t ticket, int64_t at_ms,
                 const char *json);
  /* ABI 1.1 ends here. */

  /* ABI 1.2.  Loop thread, optional (a struct_size that ends before it,
  ** or NULL, means none).  One SLA event worth a person's reading (at_ms:
  ** when it happened): one JSON object on one line, without a newline,
  ** in the schema below ("SLA events"), after the fields and actions of
  ** the same change were handed over.  The module builds events only
  ** when this is set. */
  void (*sla_event)(void *user_data, int64_t ticket, int64_t at_ms,
                    const char *json);
  /* ABI 1.2 ends here.  Append new members below this line. */
} promptly_host;

/* Outcome records (ABI 1.1).  One per metric cycle: when it ends (met,
** breached then met, cancelled, stopped) and, on request, for the cycles
** still open.  A JSON object with these keys, in this order:
**   ticket            integer
**   metric            "first_response" | "next_response" |
**                     "periodic_update" | "resolution" | a custom metric
**   cycle             integer, 1-based, per ticket and metric
**   policy            the policy supplying the target in force at the end,
**                     or null (no matching policy)
**   calendar          that policy's calendar name as the rules give it, or
**                     null (calendar time)
**   priority_start    the ticket's level id when the cycle started ("P3")
**   priority_end      its level id at the end
**   target_ms         business ms of the target in force at the end, or
**                     null (best effort)
**   started           "2026-11-16T07:42:00Z" (UTC; ".123" only when the
**                     milliseconds are not zero)
**   stopped           same form; null while open
**   due               the due in force at the end (a met cycle: the due
**                     it was met against), null if none (a paused open
**                     cycle has none)
**   outcome           "met" | "breached" | "cancelled" | "stopped" for an
**                     ended cycle; "active" | "paused" for an open one.
**                     breached: the cycle was past a target in force at
**                     some point, whatever ended it; cancelled: the metric
**                     stopped applying (no matching policy has a target
**                     any more) without breach; stopped: ended by merge,
**                     delete or a resolve that is not its own stop event,
**                     without breach; met: ended by its own stop event.
**   breached_at       the first instant the cycle was found past the
**                     target then in force (a change of target that puts
**                     it past at once breaches at that change), or null
**   breach_policy     the policy whose target that was, or null
**   breach_target_ms  that target, or null
**   elapsed_ms        business ms over the cycle's running intervals, in
**                     the final policy's calendar
**   paused_ms         wall ms not running: pauses, and for a reopened
**                     resolution the time it was resolved
**   customer_wait_ms  wall ms of customer wait inside the cycle
**   outside_ms        wall ms of running time outside the calendar's open
**                     hours (0 for calendar time)
**   attrs             object: the ticket's attributes at the cycle's
**                     start, subject and body left out
**   exceptions        [{"name": ..., "reason": ...}, ...]: the exceptions
**                     applied to the ticket that touch the metric
**   keys              the idempotency keys of the threshold actions fired
**                     in the cycle, in order, every target generation,
**                     each once and as it was handed out, also after a
**                     reload that removed or changed its ladder step
** A reopen resumes the resolution cycle: when it ends again its new record
** (same ticket, metric, cycle) supersedes the earlier one.  Replaying the
** same events under the same rules gives the same records. */

/* SLA events (ABI 1.2).  What a person reads in a ticket's history:
** one event per SLA change worth reading, each naming the declaration of
** the rules that made it ("site").  A JSON object with these keys, in
** this order, every key present (null where the event has none):
**   ticket      integer
**   event       "applied"   a policy applies to a ticket that had none
**                           (at creation: the one event then)
**               "policy"    another policy applies
**               "exception" an exception was applied (a changed reason
**                           applies it again); "exception_undone" its
**                           condition stopped holding
**               "paused" | "resumed"  a metric's clock stopped or ran
**                           again (not a clock that ended)
**               "at_risk"   the ticket turned at risk: the running metric
**                           past its at-risk share, due first; and a
**                           metric reaching its share while the ticket
**                           is at risk or breached already (another
**                           metric's turn): one per metric and cycle
**               "breached"  a metric went past its target
**               "met"       a metric was met in time (one met late stays
**                           breached: its breach was the news)
**               "step"      a ladder step or wait timer whose actions
**                           were handed out, when no at_risk or breached
**                           event of its metric and cycle came with the
**                           same change (then its actions are that
**                           event's), or one held for quiet hours and
**                           delivered now (reached_at)
**               "met_late"  a breached cycle ended: answered or resolved
**                           late (due: the instant it breached); a host
**                           ignores an event kind it does not know
**   at          the instant, "2026-11-16T07:42:00Z" (the form of records)
**   metric      the metric, "wait" for a wait timer, null for applied,
**               policy and exceptions
**   cycle       integer, 1-based, or null
**   site        "file:line" of the declaration that made it: the policy
**               supplying the target (applied, policy, breached, met,
**               at_risk without at_risk declared), the ladder step
**               (at "100%" {...}, escalate_priority, waiting "24h" {...})
**               whose actions the event carries (the first one's), the
**               at_risk declaration, the pause_on / customer_wait naming
**               the status or condition that paused (resumed: that paused
**               before), the exception; null when no declaration did
**   policy      the policy supplying the metric's target (sla.policy's
**               value for applied and policy)
**   priority    the ticket's priority level id after the change
**   due         the metric's due (breached: the one passed; met: the one
**               met against; at_risk: the coming one)
**   threshold   the label of the step whose actions the event carries
**               ("100%", "escalate-75%", "24h" for a wait timer)
**   exception   its name (exception, exception_undone)
**   reason      the reason recorded (exception)
**   reached_at  for a step held for quiet hours: when it was reached
**   actions     [{"action": "notify", "args": {"to": "Owner"}, "key":
**               ..., "threshold": "100%", "site": "file:line",
**               "held_until": null}, ...]: the actions the event hands
**               out (as do_action gets them: name, its own arguments,
**               key), or holds for quiet hours (held_until: the instant
**               they will be handed out, then in a step event of their
**               own); [] for none
** The events of one change come in the order of the event list above.
** Those that fields show (applied, policy, at_risk, paused, resumed,
** breached, met) come once write_fields accepted those fields (a refused
** write repeats them with the next change); steps, exceptions and
** met_late come with the change that made them.  A replay of the same
** events under the same rules gives the same events: a host that replays
** after a restart tells the new ones by what it shows already (its
** fields, the keys it carried out, its rows). */

/* The ABI version the module was built with (PROMPTLY_ABI_VERSION). */
PROMPTLY_API uint32_t promptly_abi_version(void);

/* The package version, e.g. "0.1.0".  Static string. */
PROMPTLY_API const char *promptly_version(void);

/* A static description of a PROMPTLY_E* code. */
PROMPTLY_API const char *promptly_strerror(int err);

/* The PROMPTLY_EV_* id of an event type name, or PROMPTLY_ENOTSUP. */
PROMPTLY_API int32_t promptly_event_type(const char *name);

/* The name of an event type id, or NULL. */
PROMPTLY_API const char *promptly_event_type_name(int32_t type);

/* Create an instance that loads every *.lua in rules_dir (name order) and
** watches the folder for changes.  host is copied.  On failure *out is NULL,
** a message naming what was wrong (path, or file:line for a rule) is written
** to errbuf (may be NULL), and a PROMPTLY_E* code is returned:
** EVERSION for another ABI major or a too-small host struct, EIO for a
** missing folder, ERULE for a broken rule file. */
PROMPTLY_API int promptly_open(const promptly_host *host, const char *rules_dir,
                               promptly **out, char *errbuf, size_t errlen);

/* Queue an event.  Any thread.  The event is validated and copied here;
** EINVAL (with the reason in errbuf) or ENOTSUP means it was refused and
** changes nothing.  It is handled, in submission order, on the loop thread
** by promptly_run or promptly_advance. */
PROMPTLY_API int promptly_submit(promptly *p, const promptly_event *ev,
                                 char *errbuf, size_t errlen);

/* Run the instance's loop on the calling thread (PROMPTLY_RUN_*).
** DEFAULT returns after promptly_stop; ONCE and NOWAIT return 1 if work is
** still pending, else 0.  ESTATE from inside a callback or while another
** thread runs the loop. */
PROMPTLY_API int promptly_run(promptly *p, int32_t mode);

/* Make promptly_run(DEFAULT) return soon.  Any thread. */
PROMPTLY_API int promptly_stop(promptly *p);

/* Virtual time for replays: handle every queued event, then fire every
** deadline up to t_ms in order, each at its own instant.  From the first
** call on, the instance runs on virtual time and arms no real timer.
** ERANGE if t_ms is before the instance's virtual now. */
PROMPTLY_API int promptly_advance(promptly *p, int64_t t_ms);

/* Reload the rules folder now (hot reload does this on a change).  On
** failure the running rules stay and the problem is in errbuf. */
PROMPTLY_API int promptly_reload(promptly *p, char *errbuf, size_t errlen);

/* Tell, through host->trace, the state of a ticket's clocks at at_ms (0 =
** now): priority, matched policies, per metric the state, business time
** elapsed and remaining, the due.  Loop thread, like promptly_advance.
** ENOTSUP without a trace callback, EINVAL for an unknown ticket. */
PROMPTLY_API int promptly_explain(promptly *p, int64_t ticket, int64_t at_ms);

/* ABI 1.1.  Hand the record of every cycle still open at at_ms (0 = now)
** to host->record, tickets in id order, outcome "active" or "paused",
** stopped null: for a replay that ends with tickets still open.  Changes
** nothing.  Loop thread, like promptly_advance.  ENOTSUP without a record
** (or trace) callback. */
PROMPTLY_API int promptly_records_open(promptly *p, int64_t at_ms);

/* Free the instance.  ESTATE from inside a callback or while the loop runs. */
PROMPTLY_API int promptly_close(promptly *p);

/* Load a rules folder without running it: each problem goes to host->log
** (PROMPTLY_LOG_ERROR, "file:line: message").  0 if clean, else ERULE or EIO
** (a message in errbuf too).  The folder is also looked over for what can
** never happen or would fail on an unusual ticket (shadowed rules,
** keywords listed twice, calendars never open in the coming year, policies
** without targets, *.LUA names, `when` functions that fail on a ticket
** without attributes): each such warning goes to host->log, in order among
** the problems, at PROMPTLY_LOG_WARN as "file:line: warning: message"
** (since 1.1); warnings do not change the return value. */
PROMPTLY_API int promptly_check(const promptly_host *host,
                                const char *rules_dir, char *errbuf,
                                size_t errlen);

/* ABI 1.1.  Run the rule tests of a rules folder: its *.test.lua files
** (promptly-rules(5), "Rule tests"), each case on a fresh instance of the
** folder's rules in virtual time.  Problems of the rules or of a test file,
** and each failed expectation, go to host->log (PROMPTLY_LOG_ERROR,
** "file:line: message"); the timeline of a failed case follows at
** PROMPTLY_LOG_INFO; a passing case is one line at PROMPTLY_LOG_DEBUG.
** *cases and *failed (may be NULL) get the number of cases run and failed.
** 0 when all passed (or there is none), else ERULE (a summary in errbuf),
** EIO for a folder that cannot be read. */
PROMPTLY_API int promptly_test(const promptly_host *host,
                               const char *rules_dir, uint32_t *cases,
                               uint32_t *failed, char *errbuf, size_t errlen);

/* ABI 1.1.  How the rules of rules_dir judge a ticket with these
** attributes (subject, body, tier, ...), without an instance: sentences
** through host->trace (ticket 0, at_ms 0) - the levels, most urgent
** first ("levels: P1, P2, P3, P4 (default P3)"), the priority rule that
** matched and at which words ("at 'down' at subject:13", columns in
** characters from 1), near misses (other rules with words in the text, or
** whose conditions hold, and why they did not win), then warnings about
** the rules ("file:line: priority: shadowed, ..."). Problems of the rules
** go to host->log as with promptly_check.  ENOTSUP without trace; ERULE
** when the rules do not load or a `when` function fails. */
PROMPTLY_API int promptly_why(const promptly_host *host, const char *rules_dir,
                              const promptly_attr *attrs, uint32_t n_attrs,
                              char *errbuf, size_t errlen);

/* --- Business calendars (pure arithmetic, no instance needed) --- */

/* Build a calendar from name/value pairs:
**   "tz"      IANA zone, once ("Europe/Berlin"); default "UTC"
**   "mon".."sun"  one opening "HH:MM-HH:MM" per pair ("24:00" closes the
**             day; a close before the open is an overnight shift)
**   "24x7"    any value: open all the time
**   "holiday" "YYYY-MM-DD", "YYYY-MM-DD..YYYY-MM-DD", "MM-DD" (yearly)
**   "ics"     path of an iCalendar file whose events are holidays
** On error *out is NULL and errbuf names the pair and what is wrong. */
PROMPTLY_API int promptly_calendar_open(const promptly_attr *spec, uint32_t n,
                                        promptly_calendar **out, char *errbuf,
                                        size_t errlen);

/* The instant at which business time since start_ms first exceeds
** seconds.  ERANGE if the calendar never opens again ("never due"). */
PROMPTLY_API int promptly_calendar_add(promptly_calendar *cal, int64_t start_ms,
                                       int64_t seconds, int64_t *due_ms);

/* Business milliseconds in [a_ms, b_ms); EINVAL if b_ms < a_ms. */
PROMPTLY_API int promptly_calendar_between(promptly_calendar *cal, int64_t a_ms,
                                           int64_t b_ms, int64_t *elapsed_ms);

PROMPTLY_API void promptly_calendar_close(promptly_calendar *cal);

#ifdef __cplusplus
}
#endif
#endif /* PROMPTLY_H */
