/* sla_clock.c - clock arithmetic: elapsed business time, dues, cycles and
** the choice of the policy that supplies a metric's target.
**
** Invariants of a clock.  elapsed_ms is the business time of the current
** cycle up to since_at_ms, counted with the calendar of the clock's policy.
** A clock is running when it is active and has no pause bit; only a
** running clock accrues time after since_at_ms.  due_at_ms is the due of a
** running clock as computed at its last transition (0: none or paused).
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Clock arithmetic ---------------------------------------------------- */

pr_calendar *
sla_clock_cal(const pr_sla_set *s, const sla_clock *c)
{
  return c->policy == NO_POLICY ? NULL
                                 : sla_policy_cal(s, c->policy, c->zone);
}


pr_calendar *
sla_policy_cal(const pr_sla_set *s, uint32_t p, uint32_t zone)
{
  const pr_sla_policy *pol = &s->policies[p];
  if (zone != 0 && pol->zone_fn != NULL) {
    pr_calendar *z = pol->zone_fn(pol->zone_ud, zone);
    if (z != NULL) {
      return z;
    }
  }
  return pol->cal;
}


/* start + dur of business time of cal (calendar time if NULL); NEVER when
** the calendar never opens again or the sum overflows. */
int64_t
sla_cal_add(pr_calendar *cal, int64_t start, int64_t dur)
{
  if (cal == NULL) {
    return start > NEVER - dur ? NEVER : start + dur;
  }
  int64_t due;
  if (pr_cal_add(cal, start, dur, &due) != PROMPTLY_OK) {
    return NEVER;
  }
  return due;
}


int64_t
sla_cal_between(pr_calendar *cal, int64_t a, int64_t b)
{
  if (b <= a) {
    return 0;
  }
  if (cal == NULL) {
    return b - a;
  }
  int64_t d;
  if (pr_cal_between(cal, a, b, &d) != PROMPTLY_OK) {
    return 0;
  }
  return d;
}


int
sla_clock_running(const sla_clock *c)
{
  return c->state == CLK_ACTIVE && (c->flags & CLK_PAUSED) == 0;
}


int
sla_applies(uint32_t mask, uint32_t metric)
{
  return mask == 0 || (mask & ((uint32_t)1 << metric)) != 0;
}


int64_t
sla_extension(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  int64_t ext = 0;
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    const pr_sla_exception *e = &s->exceptions[i];
    if ((t->exceptions & ((uint32_t)1 << i)) && e->kind == PR_SLA_EXC_EXTEND &&
        sla_applies(e->metrics, m)) {
      ext += e->extend_ms;
    }
  }
  return ext;
}


int64_t
sla_target_of(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
          uint32_t policy)
{
  if (policy == NO_POLICY) {
    return PR_SLA_NONE;
  }
  int64_t v = s->policies[policy].target_ms[t->level * s->n_metrics + m];
  /* The cycle's start (a clock not started yet: as if it started now). */
  const sla_clock *c = &t->clocks[m];
  int64_t start = c->state == CLK_IDLE ? t->last_at_ms : c->start_at_ms;
  pr_calendar *cal = sla_policy_cal(s, policy, c->zone);
  if (PR_SLA_IS_BDAYS(v)) {
    /* Business days from the cycle's start. */
    uint32_t n = PR_SLA_BDAYS_N(v);
    if (cal == NULL) {
      v = (int64_t)n * INT64_C(86400000);
    } else if (pr_cal_bdays(cal, start, n, &v) != PROMPTLY_OK) {
      return PR_SLA_NONE; /* no such business days: never due */
    }
  } else if (PR_SLA_IS_REL(v)) {
    /* A relative deadline: the business time from the cycle's start to
    ** it, fixed by the start (pauses then move the due as for any
    ** target). */
    uint32_t n = PR_SLA_REL_N(v);
    int32_t min = PR_SLA_REL_MIN(v);
    int64_t tod = min == PR_SLA_REL_END ? -1 : (int64_t)min * 60000;
    if (cal == NULL) {
      /* Calendar time: every UTC day is a business day. */
      const int64_t day = INT64_C(86400000);
      int64_t d = start >= 0 ? start / day : -((-start + day - 1) / day);
      int64_t end = tod < 0 ? (d + (int64_t)n + 1) * day
                            : (d + (int64_t)n) * day + tod;
      v = end > start ? end - start : 0;
    } else if (pr_cal_deadline(cal, start, n, tod, &v) != PROMPTLY_OK) {
      return PR_SLA_NONE; /* no such business day: never due */
    }
  } else if (PR_SLA_IS_FN(v)) {
    /* A rule function's deadline for this cycle (sla_fn.c). */
    int64_t dl;
    if (c->state == CLK_IDLE ||
        !sla_fn_lookup(t, m, policy, PR_SLA_FN_INDEX(v), &dl)) {
      return PR_SLA_NONE;
    }
    v = sla_cal_between(cal, start, dl);
  }
  if (v == PR_SLA_NONE) {
    return PR_SLA_NONE;
  }
  const int64_t *grace = s->policies[policy].grace_ms;
  if (grace != NULL && grace[m] > 0 && cal != NULL &&
      pr_cal_is_open(cal, start) == 0) {
    v += grace[m]; /* arrived out of hours */
  }
  return v + sla_extension(t, s, m);
}


int64_t
sla_clock_target(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  return sla_target_of(t, s, m, t->clocks[m].policy);
}


/* Business time of the cycle at instant at. */
int64_t
sla_elapsed_at(const pr_sla_set *s, const sla_clock *c, int64_t at)
{
  if (!sla_clock_running(c)) {
    return c->elapsed_ms;
  }
  return c->elapsed_ms + sla_cal_between(sla_clock_cal(s, c), c->since_at_ms, at);
}


/* The instant at which a running clock's elapsed time reaches point, with
** the due convention of calendar.h; a point already passed at the last
** transition is reached at that transition.  NEVER if never. */
int64_t
sla_instant_of(const pr_sla_set *s, const sla_clock *c, int64_t point)
{
  if (point < c->elapsed_ms) {
    return c->since_at_ms;
  }
  return sla_cal_add(sla_clock_cal(s, c), c->since_at_ms, point - c->elapsed_ms);
}


/* Whether the clock's business time has reached point at instant at:
** decided by elapsed time, and only on a tie by the due instant, which
** is itself business-time arithmetic. */
int
sla_reached(const pr_sla_set *s, const sla_clock *c, int64_t point, int64_t at)
{
  int64_t el = sla_elapsed_at(s, c, at);
  if (el != point) {
    return el > point;
  }
  if (!sla_clock_running(c)) {
    return 0;
  }
  int64_t when = sla_instant_of(s, c, point);
  return when != NEVER && at >= when;
}


int
sla_clock_breached(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
               int64_t at)
{
  const sla_clock *c = &t->clocks[m];
  if (c->state == CLK_IDLE) {
    return 0;
  }
  if (c->flags & CLK_BREACHED) {
    return 1;
  }
  int64_t tg = sla_clock_target(t, s, m);
  return c->state == CLK_ACTIVE && tg != PR_SLA_NONE && sla_reached(s, c, tg, at);
}


/* Bring elapsed_ms up to at. */
void
sla_fold(const pr_sla_set *s, sla_clock *c, int64_t at)
{
  if (c->state != CLK_ACTIVE || at <= c->since_at_ms) {
    return;
  }
  if (sla_clock_running(c)) {
    c->elapsed_ms += sla_cal_between(sla_clock_cal(s, c), c->since_at_ms, at);
  }
  c->since_at_ms = at;
}


/* Choose the policy whose target for metric m is due first from the
** clock's state at its last transition: candidates already past their
** target first (the furthest past), then by due instant, "never due"
** last, ties to the policy declared first.  With no target anywhere the
** first matching policy still lends its calendar, so that time keeps
** being counted in the business time a later target will use. */
void
sla_choose_policy(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  sla_clock *c = &t->clocks[m];
  if (c->state == CLK_IDLE) {
    /* Not started: chosen as if it started now, for sla.policy. */
    c->since_at_ms = t->last_at_ms;
  }
  uint32_t best = NO_POLICY, first = NO_POLICY;
  int best_class = 3;
  int64_t best_key = 0;
  for (uint32_t i = 0; i < t->pick.n; i++) {
    uint32_t p = t->pick.v[i];
    if (first == NO_POLICY) {
      first = p;
    }
    int64_t tg = sla_target_of(t, s, m, p);
    if (tg == PR_SLA_NONE) {
      continue;
    }
    int64_t rem = tg - c->elapsed_ms;
    int cls;
    int64_t key;
    if (rem < 0) {
      cls = 0;
      key = rem;
    } else {
      key = sla_cal_add(sla_policy_cal(s, p, c->zone), c->since_at_ms, rem);
      cls = key == NEVER ? 2 : 1;
    }
    if (cls < best_class || (cls == best_class && key < best_key)) {
      best = p;
      best_class = cls;
      best_key = key;
    }
  }
  c->policy = (uint16_t)(best != NO_POLICY ? best : first);
}


/* Elapsed business time of m's cycle up to its last transition in cal:
** the running total when cal is the clock's own calendar, else recomputed
** over the cycle's running intervals. */
static int64_t
elapsed_in(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
           pr_calendar *cal)
{
  const sla_clock *c = &t->clocks[m];
  if (cal == sla_clock_cal(s, c)) {
    return c->elapsed_ms;
  }
  sla_hist h;
  sla_history_elapsed(t, m, cal, c->since_at_ms, &h);
  return h.business_ms;
}


/* Re-choose the policy of an active clock folded up to its last
** transition: each candidate's elapsed time is that of its own calendar
** over the whole cycle, its due the instant that leaves; the earliest
** wins as in sla_choose_policy.  A switch of calendar recomputes elapsed
** time (retroactively, over the whole cycle). */
static void
rechoose(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  sla_clock *c = &t->clocks[m];
  uint32_t best = NO_POLICY, first = NO_POLICY, only = NO_POLICY;
  uint32_t n = 0;
  for (uint32_t i = 0; i < t->pick.n; i++) {
    uint32_t p = t->pick.v[i];
    if (first == NO_POLICY) {
      first = p;
    }
    if (sla_target_of(t, s, m, p) != PR_SLA_NONE) {
      n++;
      if (only == NO_POLICY) {
        only = p;
      }
    }
  }
  if (n <= 1) {
    best = only;
  } else {
    int best_class = 3;
    int64_t best_key = 0;
    for (uint32_t i = 0; i < t->pick.n; i++) {
      uint32_t p = t->pick.v[i];
      int64_t tg;
      if (p < only || (tg = sla_target_of(t, s, m, p)) == PR_SLA_NONE) {
        continue;
      }
      pr_calendar *cal = sla_policy_cal(s, p, c->zone);
      int64_t rem = tg - elapsed_in(t, s, m, cal);
      int cls;
      int64_t key;
      if (rem < 0) {
        cls = 0;
        key = rem;
      } else {
        key = sla_cal_add(cal, c->since_at_ms, rem);
        cls = key == NEVER ? 2 : 1;
      }
      if (cls < best_class || (cls == best_class && key < best_key)) {
        best = p;
        best_class = cls;
        best_key = key;
      }
    }
  }
  uint32_t chosen = best != NO_POLICY ? best : first;
  pr_calendar *now_cal =
    chosen == NO_POLICY ? NULL : sla_policy_cal(s, chosen, c->zone);
  if (now_cal != sla_clock_cal(s, c)) {
    c->elapsed_ms = elapsed_in(t, s, m, now_cal);
  }
  c->policy = (uint16_t)chosen;
}


/* Recompute the due of an active clock from its last transition.  A clock
** already past its target is due when its cycle used the target up, in
** its calendar over its running intervals. */
void
sla_update_due(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  sla_clock *c = &t->clocks[m];
  int64_t tg = sla_clock_target(t, s, m);
  if (c->state != CLK_ACTIVE || tg == PR_SLA_NONE) {
    c->due_at_ms = 0;
    return;
  }
  if (tg < c->elapsed_ms) {
    int64_t when =
      sla_history_instant(t, m, sla_clock_cal(s, c), c->since_at_ms, tg);
    c->due_at_ms = when == NEVER || when > c->since_at_ms ? c->since_at_ms
                                                          : when;
    return;
  }
  if (c->flags & CLK_PAUSED) {
    return;  /* Shown as no due; recomputed on resume. */
  }
  int64_t due = sla_cal_add(sla_clock_cal(s, c), c->since_at_ms, tg - c->elapsed_ms);
  c->due_at_ms = due == NEVER ? 0 : due;
}


void
sla_start_cycle(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at)
{
  sla_clock *c = &t->clocks[m];
  c->cycle++;
  c->state = CLK_ACTIVE;
  c->start_at_ms = at;
  c->since_at_ms = at;
  c->elapsed_ms = 0;
  c->due_at_ms = 0;
  c->fired = 0;
  c->flags = sla_ticket_paused(t) ? CLK_PAUSE_STATUS : 0;
  c->level0 = t->level;
  c->zone = t->pick.zone;
  c->gen = 1;
  sla_history_cycle(t, m);
  sla_choose_policy(t, s, m);
  sla_update_due(t, s, m);
}


void
sla_meet(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at)
{
  sla_clock *c = &t->clocks[m];
  if (c->state != CLK_ACTIVE) {
    return;
  }
  int running = sla_clock_running(c);
  sla_fold(s, c, at);
  int64_t tg = sla_clock_target(t, s, m);
  /* Events at an instant come before the deadlines at that instant: a
  ** stop at the due itself, with elapsed == target, is in time. */
  if ((c->flags & CLK_BREACHED) || (tg != PR_SLA_NONE && c->elapsed_ms > tg)) {
    sla_note_breach(t, s, m, at);
  } else if (tg != PR_SLA_NONE && !(running && c->due_at_ms != 0)) {
    /* The due it was met against, as of now: a paused clock's due had
    ** been moving; a running one's is the one it ran against. */
    int64_t due = sla_cal_add(sla_clock_cal(s, c), at, tg - c->elapsed_ms);
    c->due_at_ms = due == NEVER ? 0 : due;
  }
  c->state = CLK_MET;
  c->flags &= (uint8_t)~CLK_PAUSED;
  c->flags |= CLK_REPORT;
}


void
sla_stop(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at)
{
  if (t->clocks[m].state == CLK_ACTIVE) {
    sla_meet(t, s, m, at);
    t->clocks[m].flags |= CLK_STOPPED;
  }
}


void
sla_pause_clock(const pr_sla_set *s, sla_clock *c, int64_t at, uint8_t bit)
{
  if (c->state != CLK_ACTIVE) {
    return;
  }
  sla_fold(s, c, at);
  c->flags |= bit;
}


void
sla_resume_clock(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at,
             uint8_t bit)
{
  sla_clock *c = &t->clocks[m];
  if (c->state != CLK_ACTIVE || (c->flags & bit) == 0) {
    return;
  }
  sla_fold(s, c, at);
  c->since_at_ms = at;
  c->flags &= (uint8_t)~bit;
  sla_update_due(t, s, m);
}


/* Re-choose every unmet clock's policy after a change of level, policies
** or exceptions.  A breach is re-decided under the new target; thresholds
** already fired in the cycle stay fired. */
void
sla_retarget_all(pr_sla_ticket *t, const pr_sla_set *s)
{
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if (c->state == CLK_MET) {
      continue;
    }
    sla_choose_policy(t, s, m);
    if (c->state == CLK_ACTIVE) {
      c->flags &= (uint8_t)~CLK_BREACHED;
      c->due_at_ms = 0;
      sla_update_due(t, s, m);
    }
  }
}


/* A change of target moved a breached clock back within its target: the
** breach stays a fact (ext->facts), the state shows the truth, and the
** ladder entries not reached under the new target may fire again, under
** a new target generation (their keys differ from the first ones). */
void
sla_unbreach(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t tg)
{
  sla_clock *c = &t->clocks[m];
  c->flags &= (uint8_t)~CLK_BREACHED;
  uint32_t unfired = 0;
  for (uint32_t j = 0; j < s->n_thresholds; j++) {
    if ((c->fired & ((uint32_t)1 << j)) &&
        (tg == PR_SLA_NONE ||
         c->elapsed_ms < sla_threshold_point(&s->thresholds[j], tg))) {
      unfired |= (uint32_t)1 << j;
    }
  }
  sla_past_next_gen(t, m, unfired);
}


void
sla_settle(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  if (t->flags & T_DEAD) {
    return;
  }
  sla_history_sync(t, s, at);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if (c->state == CLK_IDLE) {
      sla_choose_policy(t, s, m);
      continue;
    }
    if (c->state != CLK_ACTIVE) {
      continue;
    }
    sla_fold(s, c, at);
    rechoose(t, s, m);
    int64_t tg = sla_clock_target(t, s, m);
    if (tg != PR_SLA_NONE) {
      c->flags |= CLK_HAD_TARGET;
    } else if (c->flags & CLK_HAD_TARGET) {
      /* The metric stopped applying (a policy or priority change): the
      ** cycle ends, cancelled, or breached if it was. */
      sla_meet(t, s, m, at);
      c->flags |= CLK_CANCELLED;
      continue;
    }
    /* Time only moves forward: a breached clock now short of its target
    ** had its target moved out (priority, policy, exception, reload). */
    if ((c->flags & CLK_BREACHED) &&
        (tg == PR_SLA_NONE || c->elapsed_ms < tg)) {
      sla_unbreach(t, s, m, tg);
    }
    sla_update_due(t, s, m);
  }
}
