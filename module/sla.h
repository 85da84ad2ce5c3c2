/* sla.h - SLA policies, per-ticket clocks, thresholds and the fire-once
** ledger: pure functions of (policy set, calendars, events, time).
**
** No libuv, no Lua, no process-global state.  Time enters only as event
** instants and the "at"/"now" arguments (int64_t ms since the epoch, UTC),
** so that a ticket's SLA state is a fold over its events: replaying the
** same events under the same set gives the same fields and actions.
**
** The model.
** - A pr_sla_set is one compiled rule set: priority levels, policies with
**   per-level per-metric targets, pause statuses, a threshold ladder,
**   customer-wait timers, custom metrics and exceptions.  The rules unit
**   builds it with the pr_sla_set_* functions below, then seals it.  A
**   sealed set is immutable and may be shared by every ticket.
** - A pr_sla_ticket is one ticket's state: per metric a clock (48 bytes)
**   with its fired-threshold ledger, after a 72-byte head (the matching
**   policies, flags, the level).  The customer wait, the history and the
**   exceptions' reasons live in a side structure allocated on first need
**   (sla_internal.h).  About 270 bytes with the four built-in metrics.
** - Metrics: first_response, next_response, periodic_update, resolution
**   (indices PR_SLA_FIRST_RESPONSE.. PR_SLA_RESOLUTION), then the custom
**   metrics of the set in declaration order.
**
** Clock rules (SPEC.md, Clocks).
** - first_response runs from creation and is met by the first public agent
**   reply.  next_response starts at the first customer reply after an agent
**   reply (one cycle per such reply) and is met by the next agent reply.
**   periodic_update starts at the first agent reply; each agent reply meets
**   the running cycle and starts the next one.  resolution runs from
**   creation and is met by the status "resolved" or "closed"; a reopen
**   resumes it with its elapsed time (same cycle).  Resolving or closing
**   meets every running clock; merge and delete stop everything.
** - A pause status (pr_sla_set_add_pause) pauses every running clock; a
**   customer reply or a change to a status that is not a pause status
**   resumes them.  A pause status marked as customer wait also accounts
**   calendar time to sla.customer_wait and runs the wait timers.  Pause
**   conditions (pr_sla_conditions) do the same while they hold; the
**   clocks run when neither a pause status nor a condition holds.
** - Elapsed time is business time of the calendar of the policy that
**   supplies the metric's target (calendar time for a NULL calendar),
**   counted over the cycle's running intervals: from its start to now
**   less the stretches it was paused (or its ticket resolved).  Each
**   ticket keeps those stretches (sla_history.c), so that at every
**   transition (event, pause, resume, priority, policy or attribute
**   change, exception, reload) each matching policy's elapsed time is
**   recomputed in its own calendar over the whole cycle, its due is
**   pr_cal_add(cal, at, target - elapsed), and the earliest wins (ties:
**   the policy declared first).  A switch of calendar is retroactive: the
**   new calendar's time over the whole cycle.  A clock already past its
**   target is due when its cycle used the target up.
** - Bounded state: at most 32 paused stretches per ticket.  When a new one
**   finds the history full, stretches that ended before every open cycle
**   began are dropped; if none did, the oldest is folded into a frozen
**   prefix of each open cycle (its sums so far, counted in the calendar
**   in force then), so a ticket with 1000 pauses keeps 32 stretches and
**   is exact in any calendar from the frozen prefix on.  A plain ticket
**   (no pause, breach or exception) keeps no history at all, and no
**   customer-wait figures.
** - Due = the first instant at which elapsed business time exceeds the
**   target (calendar.h).  Met or breached is decided by business time
**   elapsed: a clock is breached when its elapsed time exceeds the target,
**   or equals it at or after the due instant; a stop (a reply, a
**   resolve) at the due instant itself is met, since events at an instant
**   are handled before the deadlines at that instant.
**
** Thresholds.  A ladder entry is reached when the clock's elapsed business
** time reaches share * target + offset ("75%" = 750 per mille; "100% + 2h"
** = 1000 per mille plus 2 h of the clock's business time).  Entries are
** ordered by (share, offset); the escalation level of a ticket is the
** 1-based position of the highest entry fired by any metric in its
** current cycle and target generation (0: none).  The at-risk share (default 75%) only drives
** sla.status.  Wait timers fire after calendar time spent in one customer
** wait period.  Each entry fires once per (ticket, metric, cycle).
**
** Breaches are facts.  The first instant a cycle is past the target in
** force is kept with that target and its policy (sla.<metric>.breached_at,
** and the outcome record), whatever later changes do to the target.  A
** change that moves the target out again (a priority or policy change, an
** exception, a loosened target on reload) un-breaches the state, and the
** ladder entries not reached under the new target may fire again: the
** cycle's target generation goes up by one (at most 255).
**
** Quiet hours.  A ladder entry or wait timer may name a notification
** calendar (pr_sla_quiet): reached while that calendar (in the ticket's
** zone) is closed, its actions are held and handed out at the
** calendar's next opening, with at_ms that opening and reached_at_ms the
** instant reached; the ledger, the fields and the keys are as without
** quiet hours (the entry fired when reached).  Held actions are the
** ticket's (ext->held, allocated on first use, at most SLA_MAX_HELD; one
** more is handed out when reached).  A wait timer's held actions are
** dropped when its wait period ends (the customer answered, the ticket
** was resolved), every held action when the ticket is merged or deleted;
** a threshold's survive its cycle's end and the ticket's resolution (a
** breach at night is still news in the morning) and an exclusion.
**
** Idempotency keys, one per action:
**   "<ticket>:<metric>:<cycle>:<threshold>:<action>", where <cycle> is
**   "<cycle>.<generation>" from the second target generation on
**   ("42:first_response:1.2:100%:notify");
**   e.g. "42:first_response:1:75%:notify", "42:resolution:1:100%+2h:note",
**   "42:wait:2:24h:remind_customer" (metric "wait", cycle = wait period).
** <threshold> is canonical: per mille as "75%" or "87.5%", then "+" and
** the offset as "2h", "1h30m", "90s"-style units (d, h, m, s, ms).  A
** second action of the same name in one entry gets ".2", then ".3", ...
** The key without ":<action>" identifies the threshold itself.  Keys depend
** only on the ticket id, the metric name, the cycle number, the target
** generation (a function of the events) and the declared values, so they survive rule reloads (pr_sla_rebind maps the
** ledger by label) and replays.
**
** Threads: a set and its tickets belong to one thread (the loop thread);
** calendars grow caches on use, so two threads must not share a set.
*/
#ifndef PR_SLA_H
#define PR_SLA_H

#include "calendar.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* The built-in metrics, in field order. */
#define PR_SLA_FIRST_RESPONSE  0
#define PR_SLA_NEXT_RESPONSE   1
#define PR_SLA_PERIODIC_UPDATE 2
#define PR_SLA_RESOLUTION      3
#define PR_SLA_BUILTIN         4

/* Limits, chosen so that ledgers are bit masks. */
#define PR_SLA_MAX_METRICS    16  /* built-in + custom */
#define PR_SLA_MAX_POLICIES   65535 /* indices fit a uint16_t, 0xffff = none */
#define PR_SLA_MAX_PICK       15  /* policies matching one ticket */
#define PR_SLA_MAX_THRESHOLDS 32
#define PR_SLA_MAX_WAITS      8
#define PR_SLA_MAX_EXCEPTIONS 32
#define PR_SLA_MAX_LEVELS     32
#define PR_SLA_NAME_MAX       48  /* bytes of a metric, policy or action name */

/* A target of "best effort": no due, no thresholds. */
#define PR_SLA_NONE (-1)

/* A target of n business days ("3bd", calendar_days.c): stored as a
** negative code, turned into business ms at each cycle's start (the
** cycle's start and the policy's calendar give it; calendar time: n x
** 24 h).  n in [1, PR_CAL_MAX_BDAYS]. */
#define PR_SLA_BDAYS(n)      (-1 - (int64_t)(n))
#define PR_SLA_IS_BDAYS(v)   ((v) < -1 && (v) >= PR_SLA_BDAYS(PR_CAL_MAX_BDAYS))
#define PR_SLA_BDAYS_N(v)    ((uint32_t)(-1 - (v)))

/* A relative deadline ("next business day 16:00", "end of business day",
** pr_cal_deadline): n business days after the cycle's start date, at
** minute (0..1439) of that day, or minute PR_SLA_REL_END for the day's
** end.  Stored as a negative code, turned into business ms from each
** cycle's start in the policy's calendar (calendar time: UTC days). */
#define PR_SLA_REL_END       1440
#define PR_SLA_REL_BASE      (-(INT64_C(1) << 40))
#define PR_SLA_REL(n, min)   (PR_SLA_REL_BASE - ((int64_t)(n) * 2048 + (min)))
#define PR_SLA_IS_REL(v)     ((v) <= PR_SLA_REL_BASE && \
                              (v) > PR_SLA_REL_BASE - (int64_t)(PR_CAL_MAX_BDAYS + 1) * 2048)
#define PR_SLA_REL_N(v)      ((uint32_t)((PR_SLA_REL_BASE - (v)) / 2048))
#define PR_SLA_REL_MIN(v)    ((int32_t)((PR_SLA_REL_BASE - (v)) % 2048))

/* A target given by a rule function returning the deadline (index fn of
** the rules' target functions): run once per cycle and policy through
** pr_sla_actions.deadline when the cycle starts (or the policy comes to
** match), its answer kept with the ticket; the target is the business
** time from the cycle's start to that instant, as for PR_SLA_REL. */
#define PR_SLA_FN_BASE       (-(INT64_C(1) << 50))
#define PR_SLA_FN(fn)        (PR_SLA_FN_BASE - (int64_t)(fn))
#define PR_SLA_IS_FN(v)      ((v) <= PR_SLA_FN_BASE && \
                              (v) > PR_SLA_FN_BASE - (INT64_C(1) << 32))
#define PR_SLA_FN_INDEX(v)   ((uint32_t)(PR_SLA_FN_BASE - (v)))

/* Largest target or offset accepted: 10 years.  Beyond is "absurd". */
#define PR_SLA_MAX_MS ((int64_t)10 * 366 * 24 * 3600 * 1000)

/* Ticket events as the SLA clocks see them. */
#define PR_SLA_EV_CREATE         0  /* only in custom metric conditions */
#define PR_SLA_EV_REPLY_AGENT    1  /* a public agent reply */
#define PR_SLA_EV_REPLY_CUSTOMER 2
#define PR_SLA_EV_NOTE           3  /* an internal note */
#define PR_SLA_EV_STATUS         4  /* status changed; status = the new one */
#define PR_SLA_EV_REOPEN         5
#define PR_SLA_EV_MERGE          6
#define PR_SLA_EV_DELETE         7
#define PR_SLA_EV_COUNT          8
/* Only in custom metric conditions, not an event: the ticket's attribute
** attr takes the value status (any case) -- entering a queue, a field set.
** A role holds when, for every attribute it names, one of its values
** does; it triggers when it comes to hold (at creation too). */
#define PR_SLA_EV_ATTR          16

/* Roles of a custom metric condition. */
#define PR_SLA_ON_START  0  /* starts a new cycle unless one is running */
#define PR_SLA_ON_PAUSE  1
#define PR_SLA_ON_RESUME 2  /* none declared: a start event resumes */
#define PR_SLA_ON_STOP   3  /* meets the running cycle */
#define PR_SLA_ON_ROLES  4

/* Exception kinds. */
#define PR_SLA_EXC_EXCLUDE 0  /* the ticket leaves SLA: everything stops */
#define PR_SLA_EXC_EXTEND  1  /* targets of the named metrics grow */

/* --- Compiled policy set --------------------------------------------------
** Built only through pr_sla_set_*; read freely once sealed.  The set owns
** every string and array below; calendars are borrowed (the rules unit
** owns them and must keep them alive as long as the set). */

/* An action a threshold or wait timer requests: "notify", "raise_priority",
** "set_priority", "reassign", "note", "message", "remind_customer",
** "close", "set_field", or anything the host understands. */
typedef struct pr_sla_action_decl {
  char *name;
  pr_kv *args;      /* owned name/value copies */
  uint32_t n_args;
  uint32_t ordinal; /* 1 for the first action of this name in its entry */
} pr_sla_action_decl;

/* The notification calendar of a ladder entry or wait timer: its actions
** reached outside the calendar's open hours are held until its next
** opening (quiet hours).  cal NULL: delivered when reached.  zone_fn as
** for policies: the calendar in the ticket's zone. */
typedef pr_calendar *(*pr_sla_zone_fn)(void *ud, uint32_t zone);
typedef struct pr_sla_quiet {
  pr_calendar *cal;          /* borrowed */
  pr_sla_zone_fn zone_fn;    /* NULL: cal whatever the ticket's zone */
  void *zone_ud;
} pr_sla_quiet;

typedef struct pr_sla_threshold {
  int32_t permille;          /* share of the target: 750 = 75% */
  int64_t offset_ms;         /* business time after that share, >= 0 */
  uint32_t metrics;          /* bit per metric index; 0 = every metric */
  char label[40];            /* canonical, "100%+2h"; "escalate-50%" for
                                an escalate_priority step */
  pr_sla_action_decl *actions;
  uint32_t n_actions;
  pr_sla_quiet quiet;
  int32_t escalate;          /* 0: an `at` step; else a step of
                                escalate_priority (PR_SLA_ESCALATE_*) */
} pr_sla_threshold;

/* escalate_priority steps: each raises the ticket's priority one level,
** once per ticket, never past the top level; over a priority an agent set
** by hand only with PR_SLA_ESCALATE_OVER_MANUAL.  They are not steps of
** sla.escalation. */
#define PR_SLA_ESCALATE             1
#define PR_SLA_ESCALATE_OVER_MANUAL 2

typedef struct pr_sla_wait {
  int64_t after_ms;          /* calendar time in one customer wait period */
  char label[24];            /* canonical, "24h" */
  pr_sla_action_decl *actions;
  uint32_t n_actions;
  pr_sla_quiet quiet;
} pr_sla_wait;

/* pr_sla_zone_fn (above): the variant of a policy's calendar in time
** zone zone (an id the rules hand out, pr_sla_pick.zone), compiled once
** per zone by the owner of the calendar; NULL: use the calendar itself. */

typedef struct pr_sla_policy {
  char *name;
  char *cal_name;            /* the calendar's name in the rules, or NULL */
  pr_calendar *cal;          /* borrowed; NULL = calendar time */
  pr_sla_zone_fn zone_fn;    /* NULL: cal whatever the ticket's zone */
  void *zone_ud;
  int64_t *target_ms;        /* [level * n_metrics + metric]; PR_SLA_NONE */
  int64_t *grace_ms;         /* out-of-hours grace [PR_SLA_MAX_METRICS]:
                                added to a target whose cycle starts
                                outside cal's open hours; NULL = none */
} pr_sla_policy;

typedef struct pr_sla_pause {
  char *status;              /* compared case-insensitively (ASCII) */
  int32_t customer_wait;     /* 1: time here is customer wait */
} pr_sla_pause;

typedef struct pr_sla_cond {
  int32_t kind;              /* PR_SLA_EV_* */
  char *status;              /* for PR_SLA_EV_STATUS: this new status only;
                                NULL = any; PR_SLA_EV_ATTR: the value */
  char *attr;                /* PR_SLA_EV_ATTR: the attribute, else NULL */
} pr_sla_cond;

typedef struct pr_sla_metric {
  char *name;                /* "first_response", or the custom name */
  char *due_field;           /* "sla.<name>.due" */
  char *state_field;         /* "sla.<name>.state" */
  char *breached_field;      /* "sla.<name>.breached_at" */
  char *met_field;           /* "sla.<name>.met_at" */
  pr_sla_cond *on[PR_SLA_ON_ROLES];  /* custom metrics only */
  uint32_t n_on[PR_SLA_ON_ROLES];
} pr_sla_metric;

typedef struct pr_sla_exception {
  char *name;                /* what the rules call it */
  char *reason;              /* default reason, recorded when applied */
  int32_t kind;              /* PR_SLA_EXC_* */
  int64_t extend_ms;         /* PR_SLA_EXC_EXTEND: added to each target */
  uint32_t metrics;          /* bit per metric; 0 = every metric */
} pr_sla_exception;

/* The policies that match one ticket: indices into the set's policies,
** strictly ascending (declaration order, so that ties go to the policy
** declared first), at most PR_SLA_MAX_PICK.  A plain value: copy and
** compare it with pr_sla_pick_equal. */
typedef struct pr_sla_pick {
  uint16_t n;
  uint16_t v[PR_SLA_MAX_PICK];
  uint16_t zone;   /* the ticket's time zone for zone-from-ticket
                      calendars (pr_sla_zone_fn); 0 = their own zone */
} pr_sla_pick;

/* The pick of the policies of mask (bit i = policy i < 64); the first
** PR_SLA_MAX_PICK bits only. */
void pr_sla_pick_from_mask(uint64_t mask, pr_sla_pick *out);
/* Whether two picks name the same policies. */
int pr_sla_pick_equal(const pr_sla_pick *a, const pr_sla_pick *b);
/* The mask of the policies with an index below 64 in p. */
uint64_t pr_sla_pick_mask(const pr_sla_pick *p);

typedef struct pr_sla_set {
  char **levels;             /* priority level ids, most urgent first */
  uint32_t n_levels;
  pr_sla_metric metrics[PR_SLA_MAX_METRICS];
  uint32_t n_metrics;
  pr_sla_policy *policies;
  uint32_t n_policies;
  pr_sla_pause *pauses;
  uint32_t n_pauses;
  pr_sla_threshold *thresholds;  /* sorted by (permille, offset) at seal */
  uint32_t n_thresholds;
  pr_sla_wait *waits;            /* sorted by after_ms at seal */
  uint32_t n_waits;
  pr_sla_exception *exceptions;
  uint32_t n_exceptions;
  int32_t at_risk_permille;      /* default 750 */
  int32_t at_risk_metric[PR_SLA_MAX_METRICS]; /* per metric; 0 = the above */
  uint8_t step[PR_SLA_MAX_THRESHOLDS]; /* escalation step of each ladder
                                    entry: rank of its (share, offset)
                                    among the distinct ones, 1.. (seal) */
  int32_t sealed;
  uint32_t *policy_slots;        /* open addressing by name: index + 1, 0
                                    = empty; policy_cap slots, a power of
                                    two at least twice n_policies */
  uint32_t policy_cap;
} pr_sla_set;

/* The builders below share one contract.  Strings and arrays are copied;
** calendars are borrowed.  Each returns OK, or EINVAL (bad argument),
** ERANGE (absurd duration or share), ENOMEM, or ESTATE (the set is
** sealed), with a message naming what was wrong in err (may be NULL); on
** an error the set is as it was.  The rules unit calls them while loading
** a rule set, on the thread that loads it. */

/* A new empty set with these priority level ids (copied; 1 to
** PR_SLA_MAX_LEVELS, unique).  The built-in metrics are present.  EINVAL
** or ENOMEM, with a message in err; *out is set only on OK. */
int pr_sla_set_new(const char *const *levels, uint32_t n_levels,
                   pr_sla_set **out, char *err, size_t errlen);
void pr_sla_set_free(pr_sla_set *s);

/* Declare a custom metric (name unique, [a-z0-9_-], at most
** PR_SLA_NAME_MAX - 1 bytes, not "wait").  Its index is stored in *index. */
int pr_sla_set_add_metric(pr_sla_set *s, const char *name, uint32_t *index,
                          char *err, size_t errlen);

/* Add a condition of role PR_SLA_ON_* to a custom metric: the event kind,
** and for PR_SLA_EV_STATUS optionally the new status (NULL = any). */
/* Add an attribute condition (PR_SLA_EV_ATTR) of role PR_SLA_ON_* to a
** custom metric: attr equal to value, any case.  Several values of one
** attribute: any; several attributes in a role: all. */
int pr_sla_set_metric_on_attr(pr_sla_set *s, uint32_t metric, int32_t role,
                              const char *attr, const char *value, char *err,
                              size_t errlen);

int pr_sla_set_metric_on(pr_sla_set *s, uint32_t metric, int32_t role,
                         int32_t kind, const char *status, char *err,
                         size_t errlen);

/* Add a policy (unique name) whose clocks count business time of cal, or
** calendar time if cal is NULL.  Every target starts as PR_SLA_NONE. */
int pr_sla_set_add_policy(pr_sla_set *s, const char *name, pr_calendar *cal,
                          uint32_t *index, char *err, size_t errlen);

/* The name of the policy's calendar, for records (copied; NULL: none). */
int pr_sla_set_policy_calendar(pr_sla_set *s, uint32_t policy,
                               const char *name, char *err, size_t errlen);

/* Set a policy's target for one level and metric: ms in [0, PR_SLA_MAX_MS],
** or PR_SLA_NONE for best effort.  ERANGE for an absurd target.
** pr_sla_set_target_bdays sets n business days (1..PR_CAL_MAX_BDAYS). */
int pr_sla_set_target(pr_sla_set *s, uint32_t policy, uint32_t level,
                      uint32_t metric, int64_t target_ms, char *err,
                      size_t errlen);
/* Out-of-hours grace (RT's OutOfHours): grace_ms (0 to PR_SLA_MAX_MS) is
** added to the policy's targets for metric when the metric's cycle starts
** outside the open hours of the policy's calendar (never for a
** calendar-time policy).  EINVAL without a calendar. */
int pr_sla_set_out_of_hours(pr_sla_set *s, uint32_t policy, uint32_t metric,
                            int64_t grace_ms, char *err, size_t errlen);
/* The policy's calendar follows the ticket's zone (pr_sla_pick.zone):
** a clock counts in fn(ud, zone) of the zone its ticket had when the
** clock's cycle started. */
int pr_sla_set_policy_zones(pr_sla_set *s, uint32_t policy, pr_sla_zone_fn fn,
                            void *ud, char *err, size_t errlen);
/* A target function, PR_SLA_FN(fn). */
int pr_sla_set_target_fn(pr_sla_set *s, uint32_t policy, uint32_t level,
                         uint32_t metric, uint32_t fn, char *err,
                         size_t errlen);
/* A relative deadline, PR_SLA_REL(n, minute): n in [0, PR_CAL_MAX_BDAYS],
** minute in [0, 1440) for n >= 1, or PR_SLA_REL_END (any n). */
int pr_sla_set_target_deadline(pr_sla_set *s, uint32_t policy, uint32_t level,
                               uint32_t metric, uint32_t n, int32_t minute,
                               char *err, size_t errlen);
int pr_sla_set_target_bdays(pr_sla_set *s, uint32_t policy, uint32_t level,
                            uint32_t metric, uint32_t n, char *err,
                            size_t errlen);

/* A status that pauses the clocks; customer_wait 1 if time spent in it is
** customer wait time ("pending customer"), 0 otherwise ("on hold"). */
int pr_sla_set_add_pause(pr_sla_set *s, const char *status,
                         int32_t customer_wait, char *err, size_t errlen);

/* The share of a target at which sla.status turns at_risk (per mille,
** 1..1000; default 750). */
int pr_sla_set_at_risk(pr_sla_set *s, int32_t permille, char *err,
                       size_t errlen);
/* The same for one metric (index), over the set-wide share. */
int pr_sla_set_metric_at_risk(pr_sla_set *s, uint32_t metric,
                              int32_t permille, char *err, size_t errlen);
/* The at-risk share of metric m. */
int32_t pr_sla_at_risk(const pr_sla_set *s, uint32_t m);

/* A threshold: permille in [1, 10000], offset_ms in [0, PR_SLA_MAX_MS],
** metrics a mask of metric bits (0 = all).  The same (permille, offset)
** twice is allowed for metrics that do not overlap (per-metric warnings:
** 75% of first_response to the team lead, 75% of resolution to the
** manager), EINVAL when one metric would have both.  Its index (valid
** until seal) goes to *index. */
int pr_sla_set_add_threshold(pr_sla_set *s, int32_t permille,
                             int64_t offset_ms, uint32_t metrics,
                             uint32_t *index, char *err, size_t errlen);

/* A step of escalate_priority (kind PR_SLA_ESCALATE or
** PR_SLA_ESCALATE_OVER_MANUAL), as a threshold labelled "escalate-<share>":
** it may share a share with an `at` step of the same metrics, not with
** another escalation step.  Its actions are added as a threshold's. */
int pr_sla_set_add_escalation(pr_sla_set *s, int32_t permille,
                              int64_t offset_ms, uint32_t metrics,
                              int32_t kind, uint32_t *index, char *err,
                              size_t errlen);

/* A customer-wait timer after after_ms (> 0) of one wait period. */
int pr_sla_set_add_wait(pr_sla_set *s, int64_t after_ms, uint32_t *index,
                        char *err, size_t errlen);

/* Append an action (name, args copied) to threshold or wait timer index. */
int pr_sla_set_threshold_action(pr_sla_set *s, uint32_t threshold,
                                const char *name, const pr_kv *args,
                                uint32_t n_args, char *err, size_t errlen);
int pr_sla_set_wait_action(pr_sla_set *s, uint32_t wait, const char *name,
                           const pr_kv *args, uint32_t n_args, char *err,
                           size_t errlen);

/* Hold the actions of threshold (or wait timer) index to notification
** calendar cal (borrowed; zone_fn may be NULL) when reached outside its
** open hours.  EINVAL for a bad index or a NULL calendar. */
int pr_sla_set_threshold_quiet(pr_sla_set *s, uint32_t threshold,
                               pr_calendar *cal, pr_sla_zone_fn zone_fn,
                               void *zone_ud, char *err, size_t errlen);
int pr_sla_set_wait_quiet(pr_sla_set *s, uint32_t wait, pr_calendar *cal,
                          pr_sla_zone_fn zone_fn, void *zone_ud, char *err,
                          size_t errlen);

/* An approved exception the rules can apply to a ticket: kind
** PR_SLA_EXC_EXCLUDE, or PR_SLA_EXC_EXTEND by extend_ms for the metrics in
** the mask (0 = all).  reason is the default reason recorded. */
int pr_sla_set_add_exception(pr_sla_set *s, const char *name,
                             const char *reason, int32_t kind,
                             int64_t extend_ms, uint32_t metrics,
                             uint32_t *index, char *err, size_t errlen);

/* Finish the set: sort the ladder and the wait timers, check that the
** metric masks name metrics that exist.  After this only tickets use it. */
int pr_sla_set_seal(pr_sla_set *s, char *err, size_t errlen);

/* Index of a level, metric, policy or exception by name; -1 if none.
** Levels compare case-insensitively. */
int pr_sla_set_level_find(const pr_sla_set *s, const char *id);
int pr_sla_set_metric_find(const pr_sla_set *s, const char *name);
int pr_sla_set_policy_find(const pr_sla_set *s, const char *name);
int pr_sla_set_exception_find(const pr_sla_set *s, const char *name);

/* --- Per-ticket state ---------------------------------------------------- */

typedef struct pr_sla_ticket pr_sla_ticket;  /* opaque */

/* One action to carry out.  name, args, metric and threshold point into the
** set and live as long as it. */
typedef struct pr_sla_action {
  int64_t at_ms;           /* when to carry it out: the instant the
                              threshold was reached, or for an action held
                              to a notification calendar its next opening */
  int64_t reached_at_ms;   /* the instant the threshold was reached */
  const char *name;
  const pr_kv *args;
  uint32_t n_args;
  const char *metric;      /* metric name, or "wait" */
  const char *threshold;   /* canonical label */
  uint32_t cycle;
  char key[160];           /* the idempotency key (see the top) */
} pr_sla_action;

/* Whether the host already carried out key (1) or not (0). */
typedef int (*pr_sla_done_fn)(void *ud, const char *key);

/* Where transitions put the actions that became due.  Owned by the caller:
** init, use for any number of calls (actions are appended), free.  With
** done set, an action whose key done() reports as carried out is recorded
** as fired but not appended: a restart that replays events fires nothing
** twice. */
/* The attributes of a ticket at an instant, as a JSON object ("{}" when
** none are known), for outcome records; the string must live until the
** next call. */
typedef const char *(*pr_sla_attrs_fn)(void *ud, int64_t ticket,
                                       int64_t at_ms);

/* One outcome record of a cycle (see promptly.h, "Outcome records"). */
typedef struct pr_sla_record {
  int64_t at_ms;           /* when the cycle ended (or the instant asked) */
  uint32_t metric;         /* index */
  uint32_t cycle;
  const char *outcome;     /* static: "met", "breached", ... */
  char *json;              /* the record, one JSON line without newline */
} pr_sla_record;

/* The deadline target function fn gives metric m's cycle of ticket under
** policy (indices of the set) at level, started at start_ms: 1 with the
** instant in *at_ms, 0 for no target (the function said so, or failed:
** the callee reports it). */
typedef int (*pr_sla_deadline_fn)(void *ud, int64_t ticket, uint32_t fn,
                                  uint32_t metric, uint32_t policy,
                                  uint32_t level, int64_t start_ms,
                                  int64_t *at_ms);

typedef struct pr_sla_actions {
  pr_sla_action *v;
  uint32_t n;
  uint32_t cap;
  pr_sla_done_fn done;     /* may be NULL */
  void *done_ud;
  /* Outcome records of the cycles that ended, when want_records is set;
  ** attrs (may be NULL: "{}") gives the ticket's attributes. */
  int want_records;
  pr_sla_attrs_fn attrs;
  void *attrs_ud;
  pr_sla_record *recs;
  uint32_t n_recs;
  uint32_t cap_recs;
  /* Notices of the actions held to a notification calendar by these
  ** transitions (at_ms: their delivery, reached_at_ms: now), for
  ** explanations only: they are handed out later, in v. */
  pr_sla_action *held;
  uint32_t n_held;
  uint32_t cap_held;
  /* Target functions (PR_SLA_FN) run through this; NULL: they give no
  ** target. */
  pr_sla_deadline_fn deadline;
  void *deadline_ud;
} pr_sla_actions;

void pr_sla_actions_init(pr_sla_actions *a);
void pr_sla_actions_clear(pr_sla_actions *a);  /* n = n_held = 0, keeps
                                                  memory */
void pr_sla_actions_free(pr_sla_actions *a);
/* Drop the records (frees their JSON), keeping the memory of the array. */
void pr_sla_records_clear(pr_sla_actions *a);

/* The records of t's cycles still open at at_ms (outcome "active" or
** "paused", stopped null), appended to out->recs.  Pure.  ENOMEM. */
int pr_sla_records_open(const pr_sla_ticket *t, const pr_sla_set *s,
                        int64_t at_ms, pr_sla_actions *out);

/* The earliest start of a cycle that is open (or a resolution a reopen
** would resume), or INT64_MAX: attributes older than that are not needed
** for records. */
int64_t pr_sla_ticket_oldest_cycle(const pr_sla_ticket *t);

/* Append s as a JSON string (quoted, escaped) to b.  0 or ENOMEM. */
int pr_sla_json_str(pr_buf *b, const char *s);

/* Every transition below first fires what was due before at_ms under the
** old state, then applies the change, then fires what is due at or before
** at_ms (a lower target can put thresholds in the past): the events at an
** instant come before the deadlines at that instant, so a stop at the due
** itself is in time.
** Actions come out in order of (instant, metric, threshold), waits after
** metrics.  An at_ms earlier than the last instant the ticket saw is taken
** as that instant (event order is the truth; time never runs backwards).
** All take the sealed set the ticket was opened or rebound with; out must
** not be NULL.  Errors: EINVAL for bad arguments (nothing changes), ENOMEM
** (the transition was applied, some actions were lost), ESTATE for a
** ticket already merged or deleted (nothing changes). */

/* The state of a ticket created at at_ms with priority level (index into
** s->levels), the matching policies (bit i = s->policies[i]) and its
** initial status (NULL = "new").  *out is set only on OK. */
int pr_sla_open(const pr_sla_set *s, int64_t ticket, int64_t at_ms,
                uint32_t level, uint64_t policies, const char *status,
                pr_sla_actions *out, pr_sla_ticket **tp);
/* The same with the matching policies as a pick (any number of policies
** in the set); EINVAL for a pick that is not ascending or names a policy
** the set does not have. */
int pr_sla_open_pick(const pr_sla_set *s, int64_t ticket, int64_t at_ms,
                     uint32_t level, const pr_sla_pick *pick,
                     const char *status, pr_sla_actions *out,
                     pr_sla_ticket **tp);
void pr_sla_ticket_free(pr_sla_ticket *t);

/* Apply a ticket event (PR_SLA_EV_REPLY_AGENT .. PR_SLA_EV_DELETE); status
** is the new status for PR_SLA_EV_STATUS (required) and optional for
** PR_SLA_EV_REOPEN.  "resolved" and "closed" (any case) resolve. */
int pr_sla_event(pr_sla_ticket *t, const pr_sla_set *s, int32_t kind,
                 const char *status, int64_t at_ms, pr_sla_actions *out);

/* Pause conditions (pause_on / customer_wait with attribute conditions
** or a `when`, evaluated by the rules on the ticket's attributes at every
** transition): PR_SLA_COND_PAUSE while one of pause_on holds,
** PR_SLA_COND_WAIT while one of customer_wait holds (it pauses too).
** While either holds the ticket's clocks stand still as in a pause
** status (the same history spans, so elapsed, paused and customer-wait
** time are exact in any calendar); they run again when the last
** condition and status stop holding.  A customer reply resumes a pause
** status but not a condition: a condition holds until the attributes
** say otherwise.  A resolved ticket does not pause; a reopened one
** pauses again if a condition still holds. */
#define PR_SLA_COND_PAUSE 1u
#define PR_SLA_COND_WAIT  2u

/* The conditions that hold now, as a transition at at_ms (nothing
** happens when the clocks already follow them).  EINVAL, ENOMEM, ESTATE
** as the other transitions. */
int pr_sla_conditions(pr_sla_ticket *t, const pr_sla_set *s, uint32_t holds,
                      int64_t at_ms, pr_sla_actions *out);
/* Note the conditions that hold for the transition that comes next at
** the same instant (pr_sla_event applies them after firing what was due
** before its instant, so that a status event and the attributes it
** carries take effect together).  EINVAL, ENOMEM. */
int pr_sla_stage_conditions(pr_sla_ticket *t, uint32_t holds);
/* The conditions noted, PR_SLA_COND_* bits. */
uint32_t pr_sla_ticket_conditions(const pr_sla_ticket *t);

/* The priority level or the set of matching policies changed (priority,
** tier, type, channel, queue...): re-choose each metric's policy, keeping
** elapsed time. */
int pr_sla_retarget(pr_sla_ticket *t, const pr_sla_set *s, uint32_t level,
                    uint64_t policies, int64_t at_ms, pr_sla_actions *out);
int pr_sla_retarget_pick(pr_sla_ticket *t, const pr_sla_set *s,
                         uint32_t level, const pr_sla_pick *pick,
                         int64_t at_ms, pr_sla_actions *out);

/* Apply exception index of s (once; again only records a changed reason,
** the clocks untouched). reason (copied; NULL = the declared one) is
** recorded. */
int pr_sla_except(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
                  const char *reason, int64_t at_ms, pr_sla_actions *out);

/* Undo exception index of s (its condition no longer holds): its targets
** or exclusion go, the clocks re-choose as at any transition.  Not applied:
** a no-op returning OK. */
int pr_sla_unexcept(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
                    int64_t at_ms, pr_sla_actions *out);

/* The applied exceptions, bit per index of s->exceptions. */
uint32_t pr_sla_ticket_exceptions(const pr_sla_ticket *t);

/* Which attribute conditions of custom metrics hold on attrs: bit m of
** role[r] for metric m's role r (0 where the role has none). */
typedef struct pr_sla_attr_state {
  uint32_t role[PR_SLA_ON_ROLES];
} pr_sla_attr_state;
void pr_sla_attr_state_of(const pr_sla_set *s, const pr_kv *attrs, size_t n,
                          pr_sla_attr_state *out);

/* The ticket's attributes changed from before to after (two
** pr_sla_attr_state_of answers; at creation, before is all zero): each
** custom metric role that came to hold acts, in the order of events
** (stop, pause, resume, start). */
int pr_sla_attr_edges(pr_sla_ticket *t, const pr_sla_set *s,
                      const pr_sla_attr_state *before,
                      const pr_sla_attr_state *after, int64_t at_ms,
                      pr_sla_actions *out);

/* Fire everything due at or before at_ms (deadlines popped by the core). */
int pr_sla_fire(pr_sla_ticket *t, const pr_sla_set *s, int64_t at_ms,
                pr_sla_actions *out);

/* The earliest instant after at_ms at which the ticket's fields or actions
** change (a warning share, a threshold, a due, a wait timer), in *next_ms.
** Call it after a transition or pr_sla_fire at at_ms: then nothing is due
** at or before at_ms.  Returns 1 and sets *next_ms, or 0 if nothing is
** pending (e.g. every clock paused or met).  Pure: changes nothing. */
int pr_sla_next_deadline(const pr_sla_ticket *t, const pr_sla_set *s,
                         int64_t at_ms, int64_t *next_ms);

/* Rebuild t against a new set (a rule reload) at at_ms: clocks map by
** metric name, the chosen policy and the ledger by name and threshold
** label, the level by id (a level gone becomes the new default 0, the
** policies mask keeps the names still present).  Elapsed time is kept.
** The caller should then pr_sla_retarget with the new rules' verdict.  On
** OK *tp is a new state and the old one is freed; on error t is unchanged. */
int pr_sla_rebind(pr_sla_ticket *t, const pr_sla_set *old_s,
                  const pr_sla_set *new_s, int64_t at_ms, pr_sla_actions *out,
                  pr_sla_ticket **tp);

/* Accessors. */
int64_t pr_sla_ticket_id(const pr_sla_ticket *t);
uint32_t pr_sla_ticket_level(const pr_sla_ticket *t);
/* The matching policies with an index below 64, as a mask. */
uint64_t pr_sla_ticket_policies(const pr_sla_ticket *t);
const pr_sla_pick *pr_sla_ticket_pick(const pr_sla_ticket *t);
/* The recorded exception reason, or NULL; excluded 1 if excluded. */
const char *pr_sla_ticket_exception(const pr_sla_ticket *t, int *excluded);
/* Actions held to a notification calendar, not delivered yet. */
uint32_t pr_sla_ticket_held(const pr_sla_ticket *t);
/* Bytes the state of a ticket uses (heap included). */
size_t pr_sla_ticket_size(const pr_sla_ticket *t);

/* What one metric's clock shows at now_ms, for explanations. */
typedef struct pr_sla_clock_info {
  const char *state;     /* as in the fields: running, paused, met, ... */
  const char *policy;    /* the policy supplying the target, or NULL */
  int business;          /* 1: elapsed counts business time of a calendar */
  uint32_t cycle;        /* 0: never started */
  int64_t target_ms;     /* PR_SLA_NONE: best effort */
  int64_t elapsed_ms;    /* of the current cycle, up to now_ms */
  int64_t due_at_ms;     /* 0: none pending */
  int64_t met_at_ms;     /* the cycle ended met (in time or late) here; 0:
                         ** open (state "breached" with it: met late) */
} pr_sla_clock_info;

/* Fill *out for metric index m (< s->n_metrics).  Pure.  EINVAL for a
** metric out of range. */
int pr_sla_clock_info_at(const pr_sla_ticket *t, const pr_sla_set *s,
                         uint32_t m, int64_t now_ms, pr_sla_clock_info *out);

/* --- Fields ------------------------------------------------------------ */

#define PR_SLA_MAX_FIELDS (7 + 4 * PR_SLA_MAX_METRICS)

/* A ticket's fields at an instant: pairs in a fixed order (priority,
** sla.policy, sla.status, sla.due, per metric .due, .state,
** .breached_at and .met_at, sla.escalation, sla.customer_wait, sla.exception).
** Values point into buf. */
typedef struct pr_sla_fieldset {
  pr_kv kv[PR_SLA_MAX_FIELDS];
  uint32_t n;
  char buf[5120];
} pr_sla_fieldset;

/* Fill out with the full field set of t at now_ms (an instant before the
** last one the ticket saw is taken as that one).  Only metrics with a
** target count; see the end for merged, deleted and excluded tickets.
** - sla.status: over the clocks not yet met, the first that holds of
**   breached (one is past its target), at_risk (one running clock passed
**   the at-risk share), on_track (one runs), paused; when every clock is
**   met: breached if one was, else met; none without any clock.
** - <metric>.state: running | paused | met | breached (past its target,
**   met late or not met yet) | none (no target, or not started).
** - <metric>.due and sla.due: ISO 8601 UTC, "" when none; a paused clock
**   has none; a met clock shows the due it was met against (as of the
**   instant it was met); sla.due is the earliest due of the running
**   clocks.
** - <metric>.breached_at: the first instant of the current cycle at which
**   the clock was past the target then in force, "" if never: a fact that
**   stays when a later change (priority, policy, exception, reload) moves
**   the target out and the state back to running; a new cycle clears it.
** - <metric>.met_at: the instant the current cycle ended met, in time
**   (state met) or late (state breached), "" while it is open: with it a
**   host tells a cycle answered late from one still overdue.  A new cycle
**   clears it.
** - sla.policy: the policy supplying every target, or "metric=policy, ..."
**   when they differ; "" without a target.
** - sla.escalation: the level reached (see the top), "0" for none.
** - sla.customer_wait: whole seconds of customer wait, the current period
**   included.
** - sla.exception: each applied exception as "name: reason", joined by
**   "; " in declaration order; "" when none.
** - A merged or deleted ticket shows sla.status "stopped", every due ""
**   and every metric state "none" (its final write); an excluded one
**   shows "none" and "".
** Pure: changes nothing; out is caller-owned and self-contained. */
void pr_sla_fields(const pr_sla_ticket *t, const pr_sla_set *s,
                   int64_t now_ms, pr_sla_fieldset *out);

#endif /* PR_SLA_H */
