/* rules.h - a rules folder loaded into a Lua 5.4 sandbox, and its verdicts.
**
** A pr_rules is one immutable rule set: every *.lua file of a folder,
** loaded in name order into one fresh sandboxed lua_State, plus what the
** files declared (priority levels, priority rules, calendars, and the SLA
** declarations: metrics, policies, pauses, thresholds, wait timers,
** exceptions), compiled to C.  Reloading builds a new pr_rules beside the old one; the caller swaps
** pointers only when the load succeeded.  Loop thread only.
*/
#ifndef PR_RULES_H
#define PR_RULES_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pr_rules pr_rules;
struct pr_calendar;
struct pr_problems;
struct pr_sla_set;

/* A sink for messages: level is PROMPTLY_LOG_*. */
typedef void (*pr_log_fn)(void *ud, int level, const char *msg);

typedef struct pr_rules_opts {
  pr_log_fn log;      /* promptly.log() from rules, run-time rule errors */
  void *log_ud;
  pr_log_fn problem;  /* each load problem, "file:line: message"; may be NULL */
  void *problem_ud;
  size_t mem_cap;     /* bytes for the Lua state and what declarations hold
                      ** in C; 0 = PR_RULES_MEM_CAP */
  uint64_t budget;    /* VM instructions per call; 0 = PR_RULES_BUDGET */
  uint64_t time_load_ns; /* CPU time of a whole load; 0 = PR_SANDBOX_TIME_LOAD */
  uint64_t time_call_ns; /* CPU time of one call; 0 = PR_SANDBOX_TIME_CALL */
  struct pr_problems *problems; /* if not NULL (initialised by the caller):
                      ** receives the load's problem list, as reported */
  int lint;           /* also report pr_rules_lint's warnings (check) */
} pr_rules_opts;

#define PR_RULES_MEM_CAP ((size_t)64 << 20)
#define PR_RULES_BUDGET  ((uint64_t)10000000)
/* Declarations one load may make, and the longest keyword (bytes). */
#define PR_RULES_DECLS_MAX 10000
#define PR_RULES_WORD_MAX  256

/* Load every *.lua in dir.  OK; EIO if dir cannot be read (the path and
** the reason in err); ERULE if any file failed.  The problems (errors and
** warnings) are collected in a pr_problems (problems.h: at most
** PR_PROBLEMS_MAX, sorted by file and line, identical ones collapsed) and
** go to opts->problem at the end of the load, one line each, then "and N
** more problems" if some were left out; the first error leads err.  Only
** regular files inside dir (after resolving links) of at most 4 MiB,
** valid UTF-8, are loaded.  *out is set only on OK. */
int pr_rules_load(const char *dir, const pr_rules_opts *opts, pr_rules **out,
                  char *err, size_t errlen);
void pr_rules_free(pr_rules *r);

/* Number of *.lua files loaded. */
size_t pr_rules_file_count(const pr_rules *r);

/* Priority levels, most urgent first: ids ("P1") and names ("Urgent"). */
size_t pr_rules_level_count(const pr_rules *r);
const char *pr_rules_level_id(const pr_rules *r, size_t i);
const char *pr_rules_level_name(const pr_rules *r, size_t i);
/* Index of a level by id or name, case-insensitive; -1 if none. */
int pr_rules_level_find(const pr_rules *r, const char *id_or_name);
size_t pr_rules_default_level(const pr_rules *r);

/* The priority the rules give a ticket with these attributes (subject,
** body, tier, type, channel, queue, status, anything else): the level of
** the first matching priority rule in file order, or the default level.
** *why is "file:line" of the rule that matched, or NULL for the default;
** it lives as long as r.  A rule whose `when` function fails counts as not
** matching: the ticket falls through to the next rules and the default,
** *level and *why are set as for a match, and ERULE is returned with the
** first failure as "file:line: message" in err. */
int pr_rules_priority(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                      size_t n_attrs, size_t *level, const char **why,
                      char *err, size_t errlen);

/* --- Explanations (rules_why.c) ------------------------------------------ */

/* One sentence for a person. */
typedef void (*pr_rules_say_fn)(void *ud, const char *line);

/* How the priority rules judge a ticket with these attributes, in
** sentences: "levels: P1, P2, P3, P4 (default P3)", then
** "priority P1 by 10-priority.lua:26, at 'down' at subject:13"
** (or the default), then "near miss: FILE:LINE (LEVEL): 'word' at
** FIELD:COLUMN, ...; why it did not win" for every other rule that has
** keywords in the text or whose attribute conditions hold, then the
** warnings of pr_rules_lint.  Columns count characters from 1.  ERULE
** when a `when` function fails (as pr_rules_priority), ENOMEM. */
int pr_rules_why(pr_rules *r, const pr_kv *attrs, size_t n_attrs,
                 pr_rules_say_fn say, void *ud, char *err, size_t errlen);

/* Warnings about a rule set (rules_lint.c) into ps, at PR_SEV_WARNING,
** each message starting "warning: ": shadowed priority rules, keywords
** listed twice or that never decide, calendars never open in the year
** from now and the policies that use them, policies without any target
** (only when nothing failed), *.LUA-style names that do not load, a folder
** where nothing loads, `when` functions that fail on a ticket without
** attributes or with empty ones.  Runs `when` functions in the sandbox
** (loop thread, like pr_rules_priority).  pr_rules_load calls it when
** opts->lint is set, into the load's own list. */
void pr_rules_lint(const pr_rules *r, struct pr_problems *ps);

/* promptly_why: load dir (problems to host->log, as promptly_check), then
** pr_rules_why, each sentence to host->trace (ticket 0, at 0).  host is
** struct_size bytes, version-checked; ENOTSUP without trace. */
struct promptly_host;
int pr_rules_why_folder(const struct promptly_host *host, size_t host_size,
                        const char *dir, const pr_kv *attrs, size_t n_attrs,
                        char *err, size_t errlen);

/* A calendar the rules declared, by name; NULL if none. */
struct pr_calendar *pr_rules_calendar(const pr_rules *r, const char *name);

/* --- SLA ------------------------------------------------------------------ */

/* The sealed SLA set the rules declared: levels = the rule set's levels
** (same indices), metrics = the built-in ones then the declared metrics
** in declaration order, policies and exceptions in declaration order,
** thresholds and wait timers sorted (sla.h).  Never NULL for a loaded r,
** possibly without policies.  It lives as long as r (it borrows r's
** calendars). */
const struct pr_sla_set *pr_rules_sla(const pr_rules *r);

/* Which policies match a ticket with these attributes: bit i of *mask is
** set when policy i of pr_rules_sla(r) matches (all of its conditions
** hold; a policy without conditions matches every ticket).  Attributes,
** keywords and the ticket table given to `when` functions are those of
** pr_rules_priority.  Every `when` function involved runs in one sandbox
** call, under one budget.  ERULE, with "file:line: message" in err, when
** a `when` function fails: then *mask is untouched.  EINVAL, ENOMEM. */
int pr_rules_policies(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                      size_t n_attrs, uint64_t *mask, char *err,
                      size_t errlen);

/* The same for any number of policies: the matching ones in *pick, in
** declaration order, the first PR_SLA_MAX_PICK of them; *n_matched (may
** be NULL) is how many match.  Policies are looked up through an index of
** their first attribute condition (else their keywords), so the cost
** does not grow with policies filed under values the ticket lacks.  OK;
** ENOBUFS when more than PR_SLA_MAX_PICK match (the first ones are in
** *pick); ERULE, EINVAL, ENOMEM as above (then *pick is untouched).
** pr_rules_policies gives the mask of the pick's policies below 64, and
** ENOBUFS likewise. */
struct pr_sla_pick;
int pr_rules_pick(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                  size_t n_attrs, struct pr_sla_pick *pick, size_t *n_matched,
                  char *err, size_t errlen);

/* The deadline target function fn (PR_SLA_FN(fn) in pr_rules_sla(r))
** gives a cycle: fn(t, c) runs in the sandbox with the ticket table of
** `when` functions and c = { start = "2026-11-16T10:00:00Z", start_ms,
** metric, policy, priority }, and returns an instant (an ISO 8601 UTC
** string or milliseconds since 1970) or nil / false.  OK with *at_ms
** (INT64_MAX for nil or false: no target); ERULE with "file:line: message"
** in err when it fails or returns anything else; EINVAL. */
int pr_rules_deadline(pr_rules *r, uint32_t fn, int64_t ticket,
                      const pr_kv *attrs, size_t n_attrs, const char *metric,
                      const char *policy, const char *level,
                      int64_t start_ms, int64_t *at_ms, char *err,
                      size_t errlen);

/* An approved exception that applies to a ticket. */
typedef struct pr_rules_exception {
  uint32_t index;       /* into pr_rules_sla(r)->exceptions */
  const char *reason;   /* the reason to record: borrowed, see below */
} pr_rules_exception;

/* Which exceptions the attributes apply, in declaration order.  An
** exception applies when the attribute it names (attr = "...", by default
** "sla_exception") equals its name, case-insensitively.  The reason is the
** value of the attribute "<attr>_reason" ("sla_exception_reason") when
** present and not empty, else the declared reason (else the name).
** out[0..min(*n, cap)) are filled; *n is the number that apply
** (PR_SLA_MAX_EXCEPTIONS at most, so such an array always suffices).
** Reasons point into attrs or into r: copy them (pr_sla_except does)
** before either goes.  OK; ENOBUFS when more than cap apply (the first cap
** are filled); EINVAL.  Pure: any thread that owns r. */
int pr_rules_exceptions(const pr_rules *r, const pr_kv *attrs,
                        size_t n_attrs, pr_rules_exception *out, size_t cap,
                        size_t *n);

/* Whether the rules declare pause conditions (pause_on or customer_wait
** with attributes or a `when`). */
int pr_rules_has_conditions(const pr_rules *r);

/* Which pause conditions hold for a ticket with these attributes:
** PR_SLA_COND_PAUSE (one of pause_on's) and PR_SLA_COND_WAIT (one of
** customer_wait's) in *holds (sla.h).  Attributes and the `when` table
** are those of pr_rules_priority.  A `when` that fails counts as not
** holding: *holds is set all the same, and ERULE is returned with the
** first failure as "file:line: message" in err.  *first (unless NULL):
** 1 + the index, in declaration order, of the first condition that holds
** of the kind that decides (customer_wait when one of those holds, else
** pause_on), 0 when none holds: pr_rules_pause_site names it.  EINVAL,
** ENOMEM. */
int pr_rules_conditions(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                        size_t n_attrs, uint32_t *holds, uint32_t *first,
                        char *err, size_t errlen);

/* An exception attribute (sla_exception, or an exception's attr) that
** holds a value naming no exception declared for it: *attr and *value
** (borrowed from r and attrs), known = the names declared for that
** attribute, ", "-joined (truncated to knownlen).  *attr NULL when there
** is none, or when no exception is declared at all (the attribute is
** then only data).  OK; EINVAL.  Pure. */
int pr_rules_exception_unknown(const pr_rules *r, const pr_kv *attrs,
                               size_t n_attrs, const char **attr,
                               const char **value, char *known,
                               size_t knownlen);

/* Where the rules declared what a ticket's SLA event came from, as
** "file:line" (rules_sites.c), for the SLA events of ABI 1.2; NULL when
** no declaration of the rules made it (a default, or a name the rules do
** not have).  The strings live as long as r.  Pure.
** - pr_rules_policy_site: the policy of that name.
** - pr_rules_threshold_site: the ladder step (at "75%" { ... }, or the
**   escalate_priority declaration of a step labelled "escalate-75%")
**   with that canonical label that applies to metric.
** - pr_rules_wait_site: the waiting "24h" { ... } timer of that label.
** - pr_rules_exception_site: the exception of that name.
** - pr_rules_pause_site: the pause_on / customer_wait naming status
**   (customer_wait when both do); else, with holds (PR_SLA_COND_* bits),
**   the condition first (pr_rules_conditions) names when it is of that
**   kind (customer_wait when PR_SLA_COND_WAIT holds, else pause_on),
**   otherwise the first declared condition of that kind.
** - pr_rules_at_risk_site: the at_risk declaration. */
const char *pr_rules_policy_site(const pr_rules *r, const char *policy);
const char *pr_rules_threshold_site(const pr_rules *r, const char *metric,
                                    const char *label);
const char *pr_rules_wait_site(const pr_rules *r, const char *label);
const char *pr_rules_exception_site(const pr_rules *r, const char *name);
const char *pr_rules_pause_site(const pr_rules *r, const char *status,
                                uint32_t holds, uint32_t first);
const char *pr_rules_at_risk_site(const pr_rules *r);

#endif /* PR_RULES_H */
