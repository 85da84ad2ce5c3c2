/* sla_internal.h - what the files of the SLA unit share: the per-ticket
** state and the clock, ledger and set helpers.  Not for other units: they
** see sla.h only.
**
** Files of the unit and their concerns:
**   sla_set.c     building and sealing a pr_sla_set
**   sla_clock.c   clock arithmetic: elapsed business time, dues, cycles,
**                 the choice of policy
**   sla_fire.c    thresholds, breaches, actions and their keys, the next
**                 deadline
**   sla.c         transitions: events, pauses, retargeting, exceptions,
**                 reloads
**   sla_fields.c  the fields a ticket shows, and clock information
**   sla_fn.c      targets given by rule functions: their deadlines kept
*/
#ifndef PR_SLA_INTERNAL_H
#define PR_SLA_INTERNAL_H

#include "sla.h"

#include <stddef.h>
#include <stdint.h>

#define CLK_IDLE   0  /* no cycle yet */
#define CLK_ACTIVE 1  /* started, not met: running or paused */
#define CLK_MET    2  /* the cycle ended (met, resolved, stopped) */

/* Clock flags. */
#define CLK_PAUSE_STATUS 0x01  /* paused by a pause status of the ticket */
#define CLK_PAUSE_OWN    0x02  /* paused by a custom metric's own event */
#define CLK_BREACHED     0x04  /* past the target in force (current truth) */
#define CLK_HAD_BREACH   0x08  /* breached at some point in this cycle: the
                                  fact is in ext->facts[metric] */
#define CLK_HAD_TARGET   0x10  /* a target was in force in this cycle */
#define CLK_REPORT       0x20  /* ended; its record not handed out yet */
#define CLK_STOPPED      0x40  /* ended by merge, delete or resolve, not by
                                  its own stop event */
#define CLK_CANCELLED    0x80  /* ended: the metric stopped applying */
#define CLK_PAUSED       (CLK_PAUSE_STATUS | CLK_PAUSE_OWN)

/* Ticket flags. */
#define T_PAUSED   0x01  /* in a pause status, not resumed by the customer */
#define T_WAITING  0x02  /* in a customer-wait period (a status or a
                            condition of customer wait holds) */
#define T_DONE     0x04  /* resolved or closed */
#define T_DEAD     0x08  /* merged or deleted */
#define T_EXCLUDED 0x10  /* an exclusion exception applies */
#define T_REPLIED  0x20  /* an agent replied publicly at least once */
#define T_SWAIT    0x40  /* in a customer-wait status, not resumed by the
                            customer (T_WAITING follows it and ext->cond) */

/* ext->cond: the pause conditions that hold (pr_sla_conditions). */
#define COND_PAUSE PR_SLA_COND_PAUSE
#define COND_WAIT  PR_SLA_COND_WAIT

#define NO_POLICY 0xffff
#define NEVER     INT64_MAX

typedef struct sla_clock {
  int64_t start_at_ms;  /* start of the current cycle */
  int64_t since_at_ms;  /* last transition: elapsed_ms counts up to here */
  int64_t elapsed_ms;   /* business ms of the cycle up to since_at_ms */
  int64_t due_at_ms;    /* due of a running clock; 0 = none */
  uint32_t fired;       /* ladder entries fired in this cycle (bits) */
  uint32_t cycle;       /* 1.. for each start; 0 = never started */
  uint8_t state;        /* CLK_* */
  uint8_t flags;        /* CLK_PAUSE_*, CLK_BREACHED */
  uint16_t policy;      /* whose calendar and target; NO_POLICY = none */
  uint16_t zone;        /* the ticket's zone at the cycle's start */
  uint8_t level0;       /* the ticket's level when the cycle started */
  uint8_t gen;          /* target generation of the cycle, 1.. (keys) */
} sla_clock;

/* The history of a ticket's clocks, kept so that elapsed time can be
** recomputed in any calendar (sla_history.c).  A span is a stretch of
** time during which the clocks of its mask did not run: a pause status or
** a resolved ticket (every clock), or a custom metric's own pause (its
** bit).  Spans are appended in order of their start; to is NEVER while
** open.  A clock's running intervals are [origin, stop) minus the union of
** the spans of its bit. */
typedef struct sla_span {
  int64_t from_ms;
  int64_t to_ms;
  uint32_t clocks;      /* bit per metric index */
  uint32_t wait;        /* 1: the ticket waited on the customer */
} sla_span;

/* Bounded history: at most this many spans per ticket.  When a new span
** finds the history full, spans that ended before every open cycle's
** origin are dropped; if none did, the oldest span is folded into a
** frozen prefix (sla_frozen) of every open cycle it touches. */
#define SLA_MAX_SPANS 32

/* A frozen prefix of a cycle: its time before origin_ms was folded into
** these sums, business time counted in the calendar of the policy in
** force at that moment (recomputation after a later change of calendar
** is exact only from origin_ms on). */
typedef struct sla_frozen {
  int64_t origin_ms;    /* 0: none, the history starts at the cycle start */
  int64_t business_ms;
  int64_t paused_ms;
  int64_t wait_ms;
} sla_frozen;

/* The first breach of a cycle: a fact, kept whatever the target does
** later. */
typedef struct sla_fact {
  int64_t at_ms;
  int64_t target_ms;
  uint16_t policy;
} sla_fact;

/* What the keys of the outcome record are made of besides the current
** generation's fired bits, per metric in the order it happened:
**   PAST_FIRED    the entries of mask fired under generation gen (keys
**                 made from the rule set in force, whose ladder indexes
**                 mask names);
**   PAST_KEY      one key, as it was handed out (key, owned): an entry a
**                 reload removed or changed, whose key the new ladder
**                 cannot make;
**   PAST_CARRIED  the bits of the current generation's fired mask that
**                 its record must not list under it: they fired under an
**                 earlier generation (kept through a change of target), or
**                 are listed as PAST_KEY.  One per metric at most, gen is
**                 the clock's current one.
** A reload remaps masks whose entries make the same keys in the new
** ladder (same label and actions) and turns the others into PAST_KEY, so
** that the record lists exactly the keys handed out, whatever the rules
** became.  Cleared at each new cycle of the metric. */
#define PAST_FIRED   0
#define PAST_KEY     1
#define PAST_CARRIED 2
typedef struct sla_past {
  uint8_t metric;
  uint8_t gen;
  uint8_t kind;         /* PAST_* */
  uint32_t fired;
  char *key;            /* PAST_KEY only */
} sla_past;

/* An entry whose actions wait for its notification calendar to open. */
typedef struct sla_held {
  int64_t reached_ms;   /* when the entry was reached (it fired then) */
  int64_t deliver_ms;   /* the calendar's next opening */
  uint32_t cycle;       /* the metric's cycle, or the wait period */
  uint8_t metric;       /* PR_SLA_MAX_METRICS: a wait timer */
  uint8_t entry;        /* ladder or wait index */
  uint8_t gen;          /* the cycle's target generation (keys) */
} sla_held;

#define SLA_MAX_HELD 64
#define SLA_HELD_WAIT PR_SLA_MAX_METRICS

/* The deadline a target function gave one cycle of one metric under one
** policy (sla_fn.c); NEVER: no target. */
typedef struct sla_fnt {
  int64_t at_ms;
  uint32_t cycle;
  uint32_t fn;
  uint16_t policy;
  uint8_t metric;
} sla_fnt;

/* What a ticket keeps beyond its clocks, allocated on first need (a
** pause, a breach, an exception, a target function, a customer wait), so
** that a plain ticket stays small.  A waiting ticket (T_WAITING) always has
** one: a wait only begins once its ext is there, and an ext stays until
** the ticket goes. */
typedef struct sla_ext {
  int64_t wait_ms;           /* customer wait before wait_since_at_ms */
  int64_t wait_since_at_ms;  /* start of the current wait period */
  uint32_t wait_cycle;       /* wait periods begun */
  uint8_t wait_fired;        /* wait timers fired in this period (bits) */
  char *exc_reason;          /* the last exception's reason, owned */
  sla_span *spans;
  uint32_t n_spans;
  uint32_t cap_spans;
  sla_fact *facts;           /* [PR_SLA_MAX_METRICS] or NULL */
  sla_frozen *frozen;        /* [PR_SLA_MAX_METRICS] or NULL */
  char **reasons;            /* [PR_SLA_MAX_EXCEPTIONS] or NULL: the
                                reason each applied exception recorded */
  sla_past *past;
  uint32_t n_past;
  uint32_t cond;             /* COND_* that hold: the ticket is paused
                                (waits on the customer) while they do */
  sla_held *held;            /* actions held to a notification calendar,
                                in the order reached */
  uint32_t n_held;
  uint32_t cap_held;
  sla_fnt *fnt;              /* target functions' deadlines, or NULL */
  uint32_t n_fnt;
} sla_ext;

/* Elapsed figures of a cycle over its running intervals. */
typedef struct sla_hist {
  int64_t business_ms;  /* in the calendar asked for */
  int64_t paused_ms;    /* wall ms not running */
  int64_t wait_ms;      /* wall ms of customer wait */
} sla_hist;

struct pr_sla_ticket {
  int64_t id;
  int64_t last_at_ms;        /* the latest instant the ticket saw */
  pr_sla_pick pick;          /* matching policies */
  sla_ext *ext;              /* NULL until needed (customer wait in it) */
  uint32_t exceptions;       /* applied exceptions, bit per index */
  uint8_t level;
  uint8_t flags;             /* T_* */
  uint8_t n_clocks;
  sla_clock clocks[];
};


extern const char *const pr_sla_builtin_names[PR_SLA_BUILTIN];

/* sla_set.c */
int sla_ascii_casecmp(const char *a, const char *b);
void sla_format_duration(int64_t ms, char *out, size_t len);

/* sla_clock.c */
pr_calendar *sla_clock_cal(const pr_sla_set *s, const sla_clock *c);
/* Policy p's calendar in zone (its variant, or its own). */
pr_calendar *sla_policy_cal(const pr_sla_set *s, uint32_t p, uint32_t zone);
int64_t sla_cal_add(pr_calendar *cal, int64_t start, int64_t dur);
int64_t sla_cal_between(pr_calendar *cal, int64_t a, int64_t b);
int sla_clock_running(const sla_clock *c);
int sla_applies(uint32_t mask, uint32_t metric);
int64_t sla_extension(const pr_sla_ticket *t, const pr_sla_set *s,
                      uint32_t m);
int64_t sla_target_of(const pr_sla_ticket *t, const pr_sla_set *s,
                      uint32_t m, uint32_t policy);
int64_t sla_clock_target(const pr_sla_ticket *t, const pr_sla_set *s,
                         uint32_t m);
int64_t sla_elapsed_at(const pr_sla_set *s, const sla_clock *c, int64_t at);
int64_t sla_instant_of(const pr_sla_set *s, const sla_clock *c,
                       int64_t point);
int sla_reached(const pr_sla_set *s, const sla_clock *c, int64_t point,
                int64_t at);
int sla_clock_breached(const pr_sla_ticket *t, const pr_sla_set *s,
                       uint32_t m, int64_t at);
void sla_fold(const pr_sla_set *s, sla_clock *c, int64_t at);
void sla_choose_policy(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m);
void sla_update_due(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m);
void sla_start_cycle(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                     int64_t at);
void sla_meet(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at);
/* End m's cycle without its own stop event (merge, delete, resolve). */
void sla_stop(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at);
void sla_pause_clock(const pr_sla_set *s, sla_clock *c, int64_t at,
                     uint8_t bit);
void sla_resume_clock(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                      int64_t at, uint8_t bit);
void sla_retarget_all(pr_sla_ticket *t, const pr_sla_set *s);
/* At the end of every transition at at: the history follows the state,
** every open clock re-chooses its policy with elapsed time recomputed
** over its whole cycle, and its due follows. */
void sla_settle(pr_sla_ticket *t, const pr_sla_set *s, int64_t at);
/* Clock m is no longer past target tg (PR_SLA_NONE: none): clear the
** state, let the ladder entries not reached under tg fire again under the
** next target generation. */
void sla_unbreach(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                  int64_t tg);

/* sla_history.c */
sla_ext *sla_ext_get(pr_sla_ticket *t);
void sla_ext_free(sla_ext *e);
size_t sla_ext_size(const sla_ext *e);
/* Open and close spans so that the history matches the ticket's state
** from at on. */
void sla_history_sync(pr_sla_ticket *t, const pr_sla_set *s, int64_t at);
/* A new cycle of m starts at at: its frozen prefix and fact go. */
void sla_history_cycle(pr_sla_ticket *t, uint32_t m);
/* The figures of clock m's cycle from its start to at (at most its stop,
** for a clock that ended) in calendar cal (NULL: calendar time). */
void sla_history_elapsed(const pr_sla_ticket *t, uint32_t m,
                         pr_calendar *cal, int64_t at, sla_hist *out);
/* The instant at which clock m's cycle used up point ms of cal's business
** time over its running intervals up to at (the due convention of
** calendar.h); NEVER if not by at. */
int64_t sla_history_instant(const pr_sla_ticket *t, uint32_t m,
                            pr_calendar *cal, int64_t at, int64_t point);

/* sla_fire.c */
/* The idempotency key of action d of a ladder entry (see sla.h). */
void sla_key(char *key, size_t len, int64_t ticket, const char *metric,
             uint32_t cycle, uint32_t gen, const char *label,
             const pr_sla_action_decl *d);
/* Clock m is past its target since when: set the state, and keep the
** first breach of the cycle as a fact. */
void sla_note_breach(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                     int64_t when);
int64_t sla_threshold_point(const pr_sla_threshold *th, int64_t target);
int sla_fire_due(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
                 pr_sla_actions *out);
/* Drop the held actions of wait timers (their wait period ended). */
void sla_held_drop_waits(pr_sla_ticket *t);
/* Map the held actions from old_s to new_s by metric name and label
** (a reload); those whose entry is gone are dropped. */
void sla_held_rebind(sla_ext *e, const pr_sla_set *old_s,
                     const pr_sla_set *new_s);

/* sla_record.c */
/* Hand out, into out, the records of the clocks that ended (CLK_REPORT).
** The merged or deleted ticket's open clocks end here first. */
int sla_report(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
               pr_sla_actions *out);
/* m's target moved out of the entries of unfired (a subset of its fired
** bits): the generation's fired entries are remembered for the record,
** those still reached carried into the next generation, whose number is
** taken.  No-op when the generation number is used up. */
void sla_past_next_gen(pr_sla_ticket *t, uint32_t m, uint32_t unfired);
/* The bits of m's current fired mask its record lists elsewhere. */
uint32_t sla_past_carried(const pr_sla_ticket *t, uint32_t m);
/* After a reload (nt has t's ext, its clocks are nt's, their fired masks
** already mapped by label): remap the record's entries from old_s to
** new_s, metric and ladder indexes, keeping each key handed out. */
void sla_past_rebind(pr_sla_ticket *nt, const pr_sla_ticket *t,
                     const pr_sla_set *old_s, const pr_sla_set *new_s);
/* Drop the entries of metric m (a new cycle), or all with m = UINT32_MAX. */
void sla_past_clear(sla_ext *e, uint32_t m);

/* sla_fn.c */
/* Run the target functions that the open cycles' policies need and that
** did not run for their cycle yet (through out->deadline), before
** sla_settle. */
void sla_fn_targets(pr_sla_ticket *t, const pr_sla_set *s,
                    pr_sla_actions *out);
/* The deadline function fn gave m's current cycle under policy: 1 and
** *at_ms, or 0 (not run, or no target). */
int sla_fn_lookup(const pr_sla_ticket *t, uint32_t m, uint32_t policy,
                  uint32_t fn, int64_t *at_ms);

/* sla.c */
/* Whether the ticket's clocks stand still: a pause status or a pause
** condition holds, and the ticket is not resolved. */
int sla_ticket_paused(const pr_sla_ticket *t);
int64_t sla_clamp_at(pr_sla_ticket *t, int64_t at);
int sla_check_set(const pr_sla_set *s);

#endif /* PR_SLA_INTERNAL_H */
