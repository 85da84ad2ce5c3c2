/* sla.c - SLA policies, per-ticket clocks, thresholds and the fire-once
** ledger, as pure functions of (set, calendars, events, time): the
** transitions (events, pauses, retargeting, exceptions, reloads) and the
** accessors.  The unit's files are listed in sla_internal.h.
**
** Invariants.  Every transition first fires what was due before its
** instant under the old state, then applies the change, then fires what
** the change made due at its instant; a dead (merged, deleted) ticket
** refuses every transition.  At the end of a transition every open
** clock is paused exactly while a pause status or condition holds on a
** ticket not resolved (pause_follow), and the customer-wait period is
** open exactly while a customer-wait status or condition does
** (wait_follow).
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Transitions --------------------------------------------------------- */

#define ST_OPEN  0
#define ST_PAUSE 1
#define ST_DONE  2

static int
status_class(const pr_sla_set *s, const char *status, int *customer)
{
  *customer = 0;
  if (sla_ascii_casecmp(status, "resolved") == 0 ||
      sla_ascii_casecmp(status, "closed") == 0) {
    return ST_DONE;
  }
  for (uint32_t i = 0; i < s->n_pauses; i++) {
    if (sla_ascii_casecmp(s->pauses[i].status, status) == 0) {
      *customer = s->pauses[i].customer_wait;
      return ST_PAUSE;
    }
  }
  return ST_OPEN;
}


static uint32_t
cond_of(const pr_sla_ticket *t)
{
  return t->ext != NULL ? t->ext->cond : 0;
}


int
sla_ticket_paused(const pr_sla_ticket *t)
{
  return (t->flags & T_DONE) == 0 &&
         ((t->flags & T_PAUSED) != 0 || (cond_of(t) & COND_PAUSE) != 0);
}


/* The customer-wait period follows its sources: a customer-wait status
** (T_SWAIT) or condition (COND_WAIT) on a ticket not resolved.  A period
** opens when the first source comes and ends when the last one goes. */
static void
wait_follow(pr_sla_ticket *t, int64_t at)
{
  int want = (t->flags & T_DONE) == 0 &&
             ((t->flags & T_SWAIT) != 0 || (cond_of(t) & COND_WAIT) != 0);
  if (want && (t->flags & T_WAITING) == 0) {
    /* Its figures live in the ext: without memory for one, no wait
    ** period begins (no wait timers, no customer wait counted). */
    sla_ext *e = sla_ext_get(t);
    if (e == NULL) {
      return;
    }
    t->flags |= T_WAITING;
    e->wait_cycle++;
    e->wait_fired = 0;
    e->wait_since_at_ms = at;
  } else if (!want && (t->flags & T_WAITING) != 0) {
    t->ext->wait_ms += at - t->ext->wait_since_at_ms;
    t->flags &= (uint8_t)~T_WAITING;
    sla_held_drop_waits(t);  /* no reminder once the wait is over */
  }
}


/* Every open clock stands still exactly while the ticket is paused. */
static void
pause_follow(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  int want = sla_ticket_paused(t);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if (c->state != CLK_ACTIVE ||
        want == ((c->flags & CLK_PAUSE_STATUS) != 0)) {
      continue;
    }
    if (want) {
      sla_pause_clock(s, c, at, CLK_PAUSE_STATUS);
    } else {
      sla_resume_clock(t, s, m, at, CLK_PAUSE_STATUS);
    }
  }
}


static void
begin_wait(pr_sla_ticket *t, int64_t at)
{
  t->flags |= T_SWAIT;
  wait_follow(t, at);
}


static void
end_wait(pr_sla_ticket *t, int64_t at)
{
  t->flags &= (uint8_t)~T_SWAIT;
  wait_follow(t, at);
}


static void
resume_all(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  t->flags &= (uint8_t)~T_PAUSED;
  pause_follow(t, s, at);
}


static int cond_match(const pr_sla_metric *m, int role, int32_t kind,
                      const char *status);

static void
resolve(pr_sla_ticket *t, const pr_sla_set *s, const char *status,
        int64_t at)
{
  /* Resolving meets the resolution (its stop event) and a custom metric
  ** that stops on this status; every other open clock is stopped. */
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    if (m == PR_SLA_RESOLUTION ||
        (m >= PR_SLA_BUILTIN &&
         cond_match(&s->metrics[m], PR_SLA_ON_STOP, PR_SLA_EV_STATUS,
                    status))) {
      sla_meet(t, s, m, at);
    } else {
      sla_stop(t, s, m, at);
    }
  }
  t->flags &= (uint8_t)~(T_PAUSED | T_SWAIT);
  t->flags |= T_DONE;
  wait_follow(t, at);
}


/* Resolution resumes with its elapsed time and ledger; periodic updates
** start a new cycle if they had begun. */
static void
reopen(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  t->flags &= (uint8_t)~T_DONE;
  sla_clock *r = &t->clocks[PR_SLA_RESOLUTION];
  if (r->state == CLK_MET) {
    r->state = CLK_ACTIVE;
    r->since_at_ms = at;
    r->flags &= (uint8_t)~(CLK_PAUSED | CLK_REPORT | CLK_STOPPED |
                           CLK_CANCELLED);
    sla_update_due(t, s, PR_SLA_RESOLUTION);
  }
  if (t->clocks[PR_SLA_PERIODIC_UPDATE].cycle > 0) {
    sla_start_cycle(t, s, PR_SLA_PERIODIC_UPDATE, at);
  }
}


static void
apply_status(pr_sla_ticket *t, const pr_sla_set *s, const char *status,
             int64_t at)
{
  int customer;
  int cls = status_class(s, status, &customer);
  if (cls == ST_DONE) {
    if ((t->flags & T_DONE) == 0) {
      resolve(t, s, status, at);
    }
    return;
  }
  if (t->flags & T_DONE) {
    reopen(t, s, at);
  }
  if (cls == ST_PAUSE) {
    if ((t->flags & T_PAUSED) == 0) {
      t->flags |= T_PAUSED;
      pause_follow(t, s, at);
    }
    if (customer && (t->flags & T_SWAIT) == 0) {
      begin_wait(t, at);
    } else if (!customer) {
      end_wait(t, at);
    }
    return;
  }
  if (t->flags & T_PAUSED) {
    resume_all(t, s, at);
  }
  end_wait(t, at);
}


static int
cond_match(const pr_sla_metric *m, int role, int32_t kind, const char *status)
{
  for (uint32_t i = 0; i < m->n_on[role]; i++) {
    const pr_sla_cond *c = &m->on[role][i];
    if (c->kind == kind &&
        (c->status == NULL ||
         (status != NULL && sla_ascii_casecmp(c->status, status) == 0))) {
      return 1;
    }
  }
  return 0;
}


/* What a custom metric's roles that hold for one event (or one change of
** attributes) do: one role, in the order stop, pause, resume, start.  An
** event that is both resume and start resumes a clock paused by its own
** events and starts one that is not running a cycle (the shipped OLA
** example does this). */
static void
custom_roles(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
             const int on[PR_SLA_ON_ROLES], int64_t at)
{
  const pr_sla_metric *def = &s->metrics[m];
  sla_clock *c = &t->clocks[m];
  if (on[PR_SLA_ON_STOP]) {
    sla_meet(t, s, m, at);
  } else if (on[PR_SLA_ON_PAUSE]) {
    sla_pause_clock(s, c, at, CLK_PAUSE_OWN);
  } else if (on[PR_SLA_ON_RESUME] &&
             (c->state == CLK_ACTIVE || !on[PR_SLA_ON_START])) {
    sla_resume_clock(t, s, m, at, CLK_PAUSE_OWN);
  } else if (on[PR_SLA_ON_START]) {
    if (c->state != CLK_ACTIVE) {
      if ((t->flags & T_DONE) == 0) {
        sla_start_cycle(t, s, m, at);
      }
    } else if (def->n_on[PR_SLA_ON_RESUME] == 0) {
      sla_resume_clock(t, s, m, at, CLK_PAUSE_OWN);
    }
  }
}


/* A custom metric's own event conditions. */
static void
custom_event(pr_sla_ticket *t, const pr_sla_set *s, int32_t kind,
             const char *status, int64_t at)
{
  for (uint32_t m = PR_SLA_BUILTIN; m < t->n_clocks; m++) {
    int on[PR_SLA_ON_ROLES];
    for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
      on[r] = cond_match(&s->metrics[m], r, kind, status);
    }
    custom_roles(t, s, m, on, at);
  }
}


static const char *
kv_get(const pr_kv *a, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (sla_ascii_casecmp(a[i].name, name) == 0) {
      return a[i].value;
    }
  }
  return NULL;
}


/* Whether role r of m has attribute conditions and all of them hold:
** every attribute it names has one of its values. */
static int
attr_role_holds(const pr_sla_metric *m, int r, const pr_kv *a, size_t n)
{
  int any = 0;
  for (uint32_t i = 0; i < m->n_on[r]; i++) {
    const pr_sla_cond *c = &m->on[r][i];
    if (c->kind != PR_SLA_EV_ATTR) {
      continue;
    }
    any = 1;
    int ok = 0;
    const char *v = kv_get(a, n, c->attr);
    for (uint32_t j = 0; j < m->n_on[r] && !ok; j++) {
      const pr_sla_cond *d = &m->on[r][j];
      ok = d->kind == PR_SLA_EV_ATTR &&
           sla_ascii_casecmp(d->attr, c->attr) == 0 && v != NULL &&
           sla_ascii_casecmp(d->status, v) == 0;
    }
    if (!ok) {
      return 0;
    }
  }
  return any;
}


void
pr_sla_attr_state_of(const pr_sla_set *s, const pr_kv *attrs, size_t n,
                     pr_sla_attr_state *out)
{
  memset(out, 0, sizeof(*out));
  if (!sla_check_set(s)) {
    return;
  }
  for (uint32_t m = PR_SLA_BUILTIN; m < s->n_metrics; m++) {
    for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
      if (attr_role_holds(&s->metrics[m], r, attrs, n)) {
        out->role[r] |= (uint32_t)1 << m;
      }
    }
  }
}


/* The end of every transition: the target functions' deadlines (when
** the transition may have started a cycle), the clocks settled at at,
** what is due by then fired, the fields reported.  rc is the
** transition's own result, which wins over a later failure. */
static int
transition_end(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
               pr_sla_actions *out, int rc, int fn_targets)
{
  if (fn_targets) {
    sla_fn_targets(t, s, out);
  }
  sla_settle(t, s, at);
  int rc2 = sla_fire_due(t, s, at, out);
  if (sla_report(t, s, at, out) != PROMPTLY_OK) {
    rc2 = PROMPTLY_ENOMEM;
  }
  return rc != PROMPTLY_OK ? rc : rc2;
}


int
pr_sla_attr_edges(pr_sla_ticket *t, const pr_sla_set *s,
                  const pr_sla_attr_state *before,
                  const pr_sla_attr_state *after, int64_t at_ms,
                  pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL || before == NULL ||
      after == NULL || t->n_clocks != s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  uint32_t rising = 0;
  for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
    rising |= after->role[r] & ~before->role[r];
  }
  if (rising == 0) {
    return PROMPTLY_OK;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, s, at - 1, out);
  for (uint32_t m = PR_SLA_BUILTIN; m < t->n_clocks; m++) {
    if ((rising & ((uint32_t)1 << m)) == 0) {
      continue;
    }
    int on[PR_SLA_ON_ROLES];
    for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
      on[r] = ((after->role[r] & ~before->role[r]) >> m) & 1;
    }
    custom_roles(t, s, m, on, at);
  }
  return transition_end(t, s, at, out, rc, 1);
}


int64_t
sla_clamp_at(pr_sla_ticket *t, int64_t at)
{
  if (at < t->last_at_ms) {
    at = t->last_at_ms;
  }
  t->last_at_ms = at;
  return at;
}


int
sla_check_set(const pr_sla_set *s)
{
  return s != NULL && s->sealed;
}


/* A pick is ascending and names policies of s. */
static int
pick_valid(const pr_sla_set *s, const pr_sla_pick *pick)
{
  if (pick == NULL || pick->n > PR_SLA_MAX_PICK) {
    return 0;
  }
  for (uint32_t i = 0; i < pick->n; i++) {
    if (pick->v[i] >= s->n_policies || (i > 0 && pick->v[i] <= pick->v[i - 1])) {
      return 0;
    }
  }
  return 1;
}


/* A mask for the mask forms: only bits of policies the set has, at most
** PR_SLA_MAX_PICK of them. */
static int
mask_valid(const pr_sla_set *s, uint64_t policies)
{
  return (s->n_policies >= 64 || (policies >> s->n_policies) == 0) &&
         __builtin_popcountll(policies) <= PR_SLA_MAX_PICK;
}


int
pr_sla_open(const pr_sla_set *s, int64_t ticket, int64_t at_ms,
            uint32_t level, uint64_t policies, const char *status,
            pr_sla_actions *out, pr_sla_ticket **tp)
{
  if (!sla_check_set(s) || !mask_valid(s, policies)) {
    return PROMPTLY_EINVAL;
  }
  pr_sla_pick pick;
  pr_sla_pick_from_mask(policies, &pick);
  return pr_sla_open_pick(s, ticket, at_ms, level, &pick, status, out, tp);
}


int
pr_sla_open_pick(const pr_sla_set *s, int64_t ticket, int64_t at_ms,
                 uint32_t level, const pr_sla_pick *pick, const char *status,
                 pr_sla_actions *out, pr_sla_ticket **tp)
{
  if (!sla_check_set(s) || out == NULL || tp == NULL || level >= s->n_levels ||
      !pick_valid(s, pick)) {
    return PROMPTLY_EINVAL;
  }
  pr_sla_ticket *t =
    calloc(1, sizeof(*t) + (size_t)s->n_metrics * sizeof(sla_clock));
  if (t == NULL) {
    return PROMPTLY_ENOMEM;
  }
  t->id = ticket;
  t->last_at_ms = at_ms;
  t->level = (uint8_t)level;
  t->pick = *pick;
  t->n_clocks = (uint8_t)s->n_metrics;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    t->clocks[m].policy = NO_POLICY;
    t->clocks[m].zone = pick->zone;
    sla_choose_policy(t, s, m);
  }
  if (status != NULL) {
    apply_status(t, s, status, at_ms);
  }
  sla_start_cycle(t, s, PR_SLA_FIRST_RESPONSE, at_ms);
  sla_start_cycle(t, s, PR_SLA_RESOLUTION, at_ms);
  custom_event(t, s, PR_SLA_EV_CREATE, NULL, at_ms);
  if (t->flags & T_DONE) {
    resolve(t, s, status, at_ms);
  }
  sla_fn_targets(t, s, out);
  sla_settle(t, s, at_ms);
  int rc = sla_fire_due(t, s, at_ms, out);
  if (sla_report(t, s, at_ms, out) != PROMPTLY_OK) {
    rc = PROMPTLY_ENOMEM;
  }
  *tp = t;
  return rc;
}


void
pr_sla_ticket_free(pr_sla_ticket *t)
{
  if (t != NULL) {
    sla_ext_free(t->ext);
    free(t);
  }
}


int
pr_sla_event(pr_sla_ticket *t, const pr_sla_set *s, int32_t kind,
             const char *status, int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || kind < PR_SLA_EV_REPLY_AGENT ||
      kind >= PR_SLA_EV_COUNT || (kind == PR_SLA_EV_STATUS && status == NULL)) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, s, at - 1, out);

  switch (kind) {
  case PR_SLA_EV_REPLY_AGENT:
    t->flags |= T_REPLIED;
    sla_meet(t, s, PR_SLA_FIRST_RESPONSE, at);
    sla_meet(t, s, PR_SLA_NEXT_RESPONSE, at);
    if ((t->flags & T_DONE) == 0) {
      sla_meet(t, s, PR_SLA_PERIODIC_UPDATE, at);
      sla_start_cycle(t, s, PR_SLA_PERIODIC_UPDATE, at);
    }
    break;
  case PR_SLA_EV_REPLY_CUSTOMER:
    if (t->flags & T_PAUSED) {
      resume_all(t, s, at);
    }
    end_wait(t, at);
    if ((t->flags & (T_REPLIED | T_DONE)) == T_REPLIED &&
        t->clocks[PR_SLA_NEXT_RESPONSE].state != CLK_ACTIVE) {
      sla_start_cycle(t, s, PR_SLA_NEXT_RESPONSE, at);
    }
    break;
  case PR_SLA_EV_STATUS:
    apply_status(t, s, status, at);
    break;
  case PR_SLA_EV_REOPEN:
    if (t->flags & T_DONE) {
      reopen(t, s, at);
    }
    if (status != NULL) {
      apply_status(t, s, status, at);
    } else if (t->flags & T_PAUSED) {
      resume_all(t, s, at);
      end_wait(t, at);
    }
    break;
  case PR_SLA_EV_MERGE:
  case PR_SLA_EV_DELETE:
    for (uint32_t m = 0; m < t->n_clocks; m++) {
      sla_stop(t, s, m, at);
    }
    if (t->ext != NULL) {
      t->ext->cond = 0;
    }
    end_wait(t, at);
    t->flags |= T_DEAD;
    if (sla_report(t, s, at, out) != PROMPTLY_OK) {
      rc = PROMPTLY_ENOMEM;
    }
    return rc;
  default:
    break;  /* A note moves only custom metrics. */
  }
  /* Conditions staged for this event (a reopen, a status with them). */
  pause_follow(t, s, at);
  wait_follow(t, at);
  custom_event(t, s, kind, status, at);
  return transition_end(t, s, at, out, rc, 1);
}


int
pr_sla_stage_conditions(pr_sla_ticket *t, uint32_t holds)
{
  if (t == NULL || (holds & ~(uint32_t)(COND_PAUSE | COND_WAIT)) != 0) {
    return PROMPTLY_EINVAL;
  }
  if (holds & COND_WAIT) {
    holds |= COND_PAUSE;  /* customer wait pauses too */
  }
  if (cond_of(t) == holds) {
    return PROMPTLY_OK;
  }
  if (sla_ext_get(t) == NULL) {
    return PROMPTLY_ENOMEM;
  }
  t->ext->cond = holds;
  return PROMPTLY_OK;
}


uint32_t
pr_sla_ticket_conditions(const pr_sla_ticket *t)
{
  return cond_of(t);
}


int
pr_sla_conditions(pr_sla_ticket *t, const pr_sla_set *s, uint32_t holds,
                  int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  int rc = pr_sla_stage_conditions(t, holds);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  /* Nothing to do unless a clock or the wait period is not as the
  ** conditions say. */
  int want = sla_ticket_paused(t);
  int change = ((t->flags & T_WAITING) != 0) !=
               ((t->flags & T_DONE) == 0 &&
                ((t->flags & T_SWAIT) != 0 || (cond_of(t) & COND_WAIT) != 0));
  for (uint32_t m = 0; !change && m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    change = c->state == CLK_ACTIVE &&
             want != ((c->flags & CLK_PAUSE_STATUS) != 0);
  }
  if (!change) {
    return PROMPTLY_OK;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  rc = sla_fire_due(t, s, at - 1, out);
  pause_follow(t, s, at);
  wait_follow(t, at);
  return transition_end(t, s, at, out, rc, 0);
}


int
pr_sla_retarget(pr_sla_ticket *t, const pr_sla_set *s, uint32_t level,
                uint64_t policies, int64_t at_ms, pr_sla_actions *out)
{
  if (!sla_check_set(s) || !mask_valid(s, policies)) {
    return PROMPTLY_EINVAL;
  }
  pr_sla_pick pick;
  pr_sla_pick_from_mask(policies, &pick);
  return pr_sla_retarget_pick(t, s, level, &pick, at_ms, out);
}


int
pr_sla_retarget_pick(pr_sla_ticket *t, const pr_sla_set *s, uint32_t level,
                     const pr_sla_pick *pick, int64_t at_ms,
                     pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || level >= s->n_levels ||
      !pick_valid(s, pick)) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, s, at - 1, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_fold(s, &t->clocks[m], at);
  }
  t->level = (uint8_t)level;
  t->pick = *pick;
  /* A new zone: a running cycle's business time is recomputed over the
  ** whole cycle in the new zone's hours, as for any change of calendar. */
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if (c->zone == pick->zone) {
      continue;
    }
    c->zone = pick->zone;
    if (c->state == CLK_ACTIVE && c->policy != NO_POLICY) {
      sla_hist h;
      sla_history_elapsed(t, m, sla_clock_cal(s, c), c->since_at_ms, &h);
      c->elapsed_ms = h.business_ms;
    }
  }
  return transition_end(t, s, at, out, rc, 1);
}


/* Exception already applied, its reason given again (the ticket's reason
** attribute may change after the exception's own): a new reason replaces
** the recorded one and is written; the clocks are not touched. */
static int
sla_except_reason(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
                  const char *why, int64_t at_ms, pr_sla_actions *out)
{
  if (t->ext == NULL || t->ext->reasons == NULL ||
      (t->ext->reasons[exception] != NULL &&
       strcmp(t->ext->reasons[exception], why) == 0)) {
    return PROMPTLY_OK;
  }
  char *kept = pr_strdup(why);
  char *shown = pr_strdup(why);
  if (kept == NULL || shown == NULL) {
    free(kept);
    free(shown);
    return PROMPTLY_ENOMEM;
  }
  free(t->ext->reasons[exception]);
  t->ext->reasons[exception] = kept;
  free(t->ext->exc_reason);
  t->ext->exc_reason = shown;
  return sla_report(t, s, sla_clamp_at(t, at_ms), out);
}


int
pr_sla_except(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
              const char *reason, int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || exception >= s->n_exceptions) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  const pr_sla_exception *e = &s->exceptions[exception];
  if (t->exceptions & ((uint32_t)1 << exception)) {
    return sla_except_reason(t, s, exception,
                             reason != NULL ? reason : e->reason, at_ms, out);
  }
  char *why = pr_strdup(reason != NULL ? reason : e->reason);
  if (why == NULL || sla_ext_get(t) == NULL) {
    free(why);
    return PROMPTLY_ENOMEM;
  }
  if (t->ext->reasons == NULL) {
    t->ext->reasons = calloc(PR_SLA_MAX_EXCEPTIONS, sizeof(char *));
  }
  char *kept = t->ext->reasons != NULL ? pr_strdup(why) : NULL;
  if (kept == NULL) {
    free(why);
    return PROMPTLY_ENOMEM;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, s, at - 1, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_fold(s, &t->clocks[m], at);
  }
  free(t->ext->reasons[exception]);
  t->ext->reasons[exception] = kept;
  free(t->ext->exc_reason);
  t->ext->exc_reason = why;
  t->exceptions |= (uint32_t)1 << exception;
  if (e->kind == PR_SLA_EXC_EXCLUDE) {
    t->flags |= T_EXCLUDED;
    return rc;
  }
  return transition_end(t, s, at, out, rc, 1);
}


int
pr_sla_unexcept(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
                int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || exception >= s->n_exceptions) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  if ((t->exceptions & ((uint32_t)1 << exception)) == 0) {
    return PROMPTLY_OK;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, s, at - 1, out);
  t->exceptions &= ~((uint32_t)1 << exception);
  if (t->ext != NULL && t->ext->reasons != NULL) {
    free(t->ext->reasons[exception]);
    t->ext->reasons[exception] = NULL;
  }
  /* The last reason shown is that of an exception still applied. */
  if (t->ext != NULL) {
    free(t->ext->exc_reason);
    t->ext->exc_reason = NULL;
    for (uint32_t i = s->n_exceptions; i-- > 0;) {
      if ((t->exceptions & ((uint32_t)1 << i)) && t->ext->reasons != NULL &&
          t->ext->reasons[i] != NULL) {
        t->ext->exc_reason = pr_strdup(t->ext->reasons[i]);
        break;
      }
    }
  }
  int excluded = 0;
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    if ((t->exceptions & ((uint32_t)1 << i)) &&
        s->exceptions[i].kind == PR_SLA_EXC_EXCLUDE) {
      excluded = 1;
    }
  }
  if (!excluded) {
    t->flags &= (uint8_t)~T_EXCLUDED;
  }
  return transition_end(t, s, at, out, rc, 1);
}


uint32_t
pr_sla_ticket_exceptions(const pr_sla_ticket *t)
{
  return t->exceptions;
}


int
pr_sla_fire(pr_sla_ticket *t, const pr_sla_set *s, int64_t at_ms,
            pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  return sla_fire_due(t, s, sla_clamp_at(t, at_ms), out);
}


/* --- Rule reloads -------------------------------------------------------- */

static uint32_t
map_policy(const pr_sla_set *old_s, const pr_sla_set *new_s, uint32_t p)
{
  if (p == NO_POLICY) {
    return NO_POLICY;
  }
  int q = pr_sla_set_policy_find(new_s, old_s->policies[p].name);
  return q < 0 ? NO_POLICY : (uint32_t)q;
}


/* Hand t's history over to nt, metric bits and per-metric arrays mapped
** by metric name. */
static void
move_ext(pr_sla_ticket *t, pr_sla_ticket *nt, const pr_sla_set *old_s,
         const pr_sla_set *new_s)
{
  sla_ext *e = t->ext;
  t->ext = NULL;
  nt->ext = e;
  if (e == NULL) {
    return;
  }
  /* The new rules' target functions run again (their indices and
  ** policies are the new set's). */
  free(e->fnt);
  e->fnt = NULL;
  e->n_fnt = 0;
  int map[PR_SLA_MAX_METRICS];  /* old index -> new index, -1 gone */
  for (uint32_t m = 0; m < old_s->n_metrics; m++) {
    map[m] = pr_sla_set_metric_find(new_s, old_s->metrics[m].name);
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < e->n_spans; i++) {
    sla_span sp = e->spans[i];
    if (sp.clocks != UINT32_MAX) {
      uint32_t om = 0;
      while (om < old_s->n_metrics && sp.clocks != ((uint32_t)1 << om)) {
        om++;
      }
      if (om == old_s->n_metrics || map[om] < 0) {
        continue;
      }
      sp.clocks = (uint32_t)1 << map[om];
    }
    e->spans[k++] = sp;
  }
  e->n_spans = k;
  sla_fact facts[PR_SLA_MAX_METRICS];
  sla_frozen frozen[PR_SLA_MAX_METRICS];
  memset(facts, 0, sizeof(facts));
  memset(frozen, 0, sizeof(frozen));
  for (uint32_t m = 0; m < old_s->n_metrics; m++) {
    if (map[m] >= 0 && e->facts != NULL) {
      facts[map[m]] = e->facts[m];
      facts[map[m]].policy =
        (uint16_t)map_policy(old_s, new_s, e->facts[m].policy);
    }
    if (map[m] >= 0 && e->frozen != NULL) {
      frozen[map[m]] = e->frozen[m];
    }
  }
  if (e->facts != NULL) {
    memcpy(e->facts, facts, sizeof(facts));
  }
  if (e->frozen != NULL) {
    memcpy(e->frozen, frozen, sizeof(frozen));
  }
}


int
pr_sla_rebind(pr_sla_ticket *t, const pr_sla_set *old_s,
              const pr_sla_set *new_s, int64_t at_ms, pr_sla_actions *out,
              pr_sla_ticket **tp)
{
  if (t == NULL || !sla_check_set(old_s) || !sla_check_set(new_s) || out == NULL ||
      tp == NULL || t->n_clocks != old_s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  pr_sla_ticket *nt =
    calloc(1, sizeof(*nt) + (size_t)new_s->n_metrics * sizeof(sla_clock));
  if (nt == NULL) {
    return PROMPTLY_ENOMEM;
  }
  int64_t at = sla_clamp_at(t, at_ms);
  int rc = sla_fire_due(t, old_s, at - 1, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_fold(old_s, &t->clocks[m], at);
  }

  nt->id = t->id;
  nt->last_at_ms = t->last_at_ms;
  nt->flags = t->flags;
  nt->n_clocks = (uint8_t)new_s->n_metrics;
  int level = pr_sla_set_level_find(new_s, old_s->levels[t->level]);
  nt->level = (uint8_t)(level < 0 ? 0 : level);
  /* Zone ids belong to a rule set: the zone is the calendars' own until
  ** the retarget that follows a reload gives the ticket's again. */
  nt->pick.zone = 0;
  /* The policies still present, in the new set's order. */
  for (uint32_t i = 0; i < t->pick.n; i++) {
    uint32_t q = map_policy(old_s, new_s, t->pick.v[i]);
    if (q == NO_POLICY) {
      continue;
    }
    uint32_t j = nt->pick.n;
    while (j > 0 && nt->pick.v[j - 1] > q) {
      nt->pick.v[j] = nt->pick.v[j - 1];
      j--;
    }
    nt->pick.v[j] = (uint16_t)q;
    nt->pick.n++;
  }
  for (uint32_t e = 0; e < old_s->n_exceptions; e++) {
    int f = pr_sla_set_exception_find(new_s, old_s->exceptions[e].name);
    if ((t->exceptions & ((uint32_t)1 << e)) && f >= 0) {
      nt->exceptions |= (uint32_t)1 << f;
    }
  }
  /* The wait figures move with the ext; its timers are mapped by label. */
  uint8_t wait_fired = 0;
  for (uint32_t w = 0; t->ext != NULL && w < old_s->n_waits; w++) {
    for (uint32_t v = 0; v < new_s->n_waits; v++) {
      if ((t->ext->wait_fired & (1u << w)) &&
          strcmp(old_s->waits[w].label, new_s->waits[v].label) == 0) {
        wait_fired |= (uint8_t)(1u << v);
      }
    }
  }
  for (uint32_t m = 0; m < nt->n_clocks; m++) {
    sla_clock *c = &nt->clocks[m];
    int om = pr_sla_set_metric_find(old_s, new_s->metrics[m].name);
    if (om < 0) {
      c->policy = NO_POLICY;
      continue;
    }
    const sla_clock *oc = &t->clocks[om];
    *c = *oc;
    c->policy = (uint16_t)map_policy(old_s, new_s, oc->policy);
    c->zone = 0;
    int l0 = oc->level0 < old_s->n_levels
               ? pr_sla_set_level_find(new_s, old_s->levels[oc->level0])
               : -1;
    c->level0 = (uint8_t)(l0 < 0 ? 0 : l0);
    c->fired = 0;
    for (uint32_t j = 0; j < old_s->n_thresholds; j++) {
      if ((oc->fired & ((uint32_t)1 << j)) == 0) {
        continue;
      }
      for (uint32_t k = 0; k < new_s->n_thresholds; k++) {
        if (strcmp(old_s->thresholds[j].label, new_s->thresholds[k].label) ==
              0 &&
            sla_applies(new_s->thresholds[k].metrics, m)) {
          c->fired |= (uint32_t)1 << k;
        }
      }
    }
  }
  if (nt->flags & T_DONE) {
    /* A custom metric new in this set must not start on a done ticket. */
    for (uint32_t m = 0; m < nt->n_clocks; m++) {
      if (nt->clocks[m].state == CLK_ACTIVE) {
        sla_meet(nt, new_s, m, at);
      }
    }
  }
  move_ext(t, nt, old_s, new_s);
  if (nt->ext != NULL) {
    nt->ext->wait_fired = wait_fired;
    sla_held_rebind(nt->ext, old_s, new_s);
  }
  sla_past_rebind(nt, t, old_s, new_s);
  for (uint32_t m = 0; m < nt->n_clocks; m++) {
    sla_clock *c = &nt->clocks[m];
    if (c->state != CLK_ACTIVE) {
      continue;
    }
    /* Calendars are the new rules' own: elapsed time is recounted in the
    ** new one over the whole cycle, and a breach re-decided under the new
    ** target (a loosened target un-breaches, a new breach fires again). */
    sla_hist h;
    sla_history_elapsed(nt, m, sla_clock_cal(new_s, c), at, &h);
    c->elapsed_ms = h.business_ms;
    int64_t tg = sla_clock_target(nt, new_s, m);
    if ((c->flags & CLK_BREACHED) &&
        (tg == PR_SLA_NONE || c->elapsed_ms < tg)) {
      sla_unbreach(nt, new_s, m, tg);
    }
  }
  pr_sla_ticket_free(t);
  *tp = nt;
  return transition_end(nt, new_s, at, out, rc, 1);
}


/* --- Accessors ----------------------------------------------------------- */

int64_t
pr_sla_ticket_id(const pr_sla_ticket *t)
{
  return t->id;
}


uint32_t
pr_sla_ticket_level(const pr_sla_ticket *t)
{
  return t->level;
}


uint64_t
pr_sla_ticket_policies(const pr_sla_ticket *t)
{
  return pr_sla_pick_mask(&t->pick);
}


const pr_sla_pick *
pr_sla_ticket_pick(const pr_sla_ticket *t)
{
  return &t->pick;
}


void
pr_sla_pick_from_mask(uint64_t mask, pr_sla_pick *out)
{
  out->n = 0;
  out->zone = 0;
  for (uint32_t i = 0; i < 64 && out->n < PR_SLA_MAX_PICK; i++) {
    if (mask & ((uint64_t)1 << i)) {
      out->v[out->n++] = (uint16_t)i;
    }
  }
}


int
pr_sla_pick_equal(const pr_sla_pick *a, const pr_sla_pick *b)
{
  return a->n == b->n && a->zone == b->zone &&
         memcmp(a->v, b->v, (size_t)a->n * sizeof(a->v[0])) == 0;
}


uint64_t
pr_sla_pick_mask(const pr_sla_pick *p)
{
  uint64_t mask = 0;
  for (uint32_t i = 0; i < p->n; i++) {
    if (p->v[i] < 64) {
      mask |= (uint64_t)1 << p->v[i];
    }
  }
  return mask;
}


const char *
pr_sla_ticket_exception(const pr_sla_ticket *t, int *excluded)
{
  if (excluded != NULL) {
    *excluded = (t->flags & T_EXCLUDED) != 0;
  }
  return t->ext != NULL ? t->ext->exc_reason : NULL;
}


uint32_t
pr_sla_ticket_held(const pr_sla_ticket *t)
{
  return t->ext != NULL ? t->ext->n_held : 0;
}


size_t
pr_sla_ticket_size(const pr_sla_ticket *t)
{
  size_t n = sizeof(*t) + (size_t)t->n_clocks * sizeof(sla_clock);
  n += sla_ext_size(t->ext);
  return n;
}
