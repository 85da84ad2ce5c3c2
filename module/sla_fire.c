/* sla_fire.c - thresholds, breaches, actions and their idempotency keys,
** and the next instant at which a ticket changes.
**
** Invariants.  A ladder entry fires at most once per (ticket, metric,
** cycle) and a wait timer once per wait period: the fired bits are set
** before the actions go out (or are held to a notification calendar:
** ext->held, each entry handed out once, at its calendar's opening).
** Actions come out in (instant, reached, metric, entry) order.
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Actions and the ledger ---------------------------------------------- */

void
pr_sla_actions_init(pr_sla_actions *a)
{
  memset(a, 0, sizeof(*a));
}


void
pr_sla_actions_clear(pr_sla_actions *a)
{
  a->n = 0;
  a->n_held = 0;
}


void
pr_sla_actions_free(pr_sla_actions *a)
{
  pr_sla_records_clear(a);
  free(a->recs);
  a->recs = NULL;
  a->cap_recs = 0;
  free(a->v);
  a->v = NULL;
  a->n = 0;
  a->cap = 0;
  free(a->held);
  a->held = NULL;
  a->n_held = 0;
  a->cap_held = 0;
}


void
sla_key(char *key, size_t len, int64_t ticket, const char *metric,
        uint32_t cycle, uint32_t gen, const char *label,
        const pr_sla_action_decl *d)
{
  char cyc[24];
  if (gen > 1) {
    snprintf(cyc, sizeof(cyc), "%u.%u", (unsigned)cycle, (unsigned)gen);
  } else {
    snprintf(cyc, sizeof(cyc), "%u", (unsigned)cycle);
  }
  if (d->ordinal > 1) {
    snprintf(key, len, "%lld:%s:%s:%s:%s.%u", (long long)ticket, metric, cyc,
             label, d->name, (unsigned)d->ordinal);
  } else {
    snprintf(key, len, "%lld:%s:%s:%s:%s", (long long)ticket, metric, cyc,
             label, d->name);
  }
}


void
sla_note_breach(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                int64_t when)
{
  sla_clock *c = &t->clocks[m];
  c->flags |= CLK_BREACHED;
  if (c->flags & CLK_HAD_BREACH) {
    return;
  }
  sla_ext *e = sla_ext_get(t);
  if (e != NULL && e->facts == NULL) {
    e->facts = calloc(PR_SLA_MAX_METRICS, sizeof(sla_fact));
  }
  if (e == NULL || e->facts == NULL) {
    return;  /* Out of memory: the state still says breached. */
  }
  e->facts[m].at_ms = when;
  e->facts[m].target_ms = sla_clock_target(t, s, m);
  e->facts[m].policy = c->policy;
  c->flags |= CLK_HAD_BREACH;
}


/* Append action d to out->v (notice 0) or, as a notice of an action held
** until at, to out->held (notice 1). */
static int
emit(pr_sla_actions *out, const pr_sla_ticket *t, int64_t at, int64_t reached,
     const char *metric, uint32_t cycle, uint32_t gen, const char *label,
     const pr_sla_action_decl *d, int notice)
{
  pr_sla_action act;
  memset(&act, 0, sizeof(act));
  sla_key(act.key, sizeof(act.key), t->id, metric, cycle, gen, label, d);
  if (out->done != NULL && out->done(out->done_ud, act.key)) {
    return PROMPTLY_OK;
  }
  pr_sla_action **vp = notice ? &out->held : &out->v;
  uint32_t *np = notice ? &out->n_held : &out->n;
  uint32_t *capp = notice ? &out->cap_held : &out->cap;
  if (*np == *capp) {
    uint32_t cap = *capp ? *capp * 2 : 8;
    pr_sla_action *v = realloc(*vp, cap * sizeof(*v));
    if (v == NULL) {
      return PROMPTLY_ENOMEM;
    }
    *vp = v;
    *capp = cap;
  }
  act.at_ms = at;
  act.reached_at_ms = reached;
  act.name = d->name;
  act.args = d->args;
  act.n_args = d->n_args;
  act.metric = metric;
  act.threshold = label;
  act.cycle = cycle;
  (*vp)[(*np)++] = act;
  return PROMPTLY_OK;
}


typedef struct due_item {
  int64_t at_ms;      /* when its actions go out */
  int64_t reached_ms; /* when the entry was reached */
  uint32_t metric;    /* SLA_HELD_WAIT for a wait timer */
  uint32_t entry;     /* ladder or wait index */
  uint32_t cycle;
  uint32_t gen;
} due_item;


static int
cmp_due(const void *a, const void *b)
{
  const due_item *x = a, *y = b;
  if (x->at_ms != y->at_ms) {
    return x->at_ms < y->at_ms ? -1 : 1;
  }
  if (x->reached_ms != y->reached_ms) {
    return x->reached_ms < y->reached_ms ? -1 : 1;
  }
  if (x->metric != y->metric) {
    return x->metric < y->metric ? -1 : 1;
  }
  return (x->entry > y->entry) - (x->entry < y->entry);
}


int64_t
sla_threshold_point(const pr_sla_threshold *th, int64_t target)
{
  return target * th->permille / 1000 + th->offset_ms;
}


/* --- Quiet hours ------------------------------------------------------------ */

static const pr_sla_quiet *
quiet_of(const pr_sla_set *s, uint32_t metric, uint32_t entry)
{
  return metric == SLA_HELD_WAIT ? &s->waits[entry].quiet
                                 : &s->thresholds[entry].quiet;
}


/* When the actions of an entry reached at when go out: then, or at the
** next opening of its notification calendar in the ticket's zone (then
** too if the calendar never opens again: never silently never). */
static int64_t
delivery(const pr_sla_ticket *t, const pr_sla_quiet *q, int64_t when)
{
  pr_calendar *cal = q->cal;
  if (cal == NULL) {
    return when;
  }
  if (t->pick.zone != 0 && q->zone_fn != NULL) {
    pr_calendar *z = q->zone_fn(q->zone_ud, t->pick.zone);
    if (z != NULL) {
      cal = z;
    }
  }
  if (pr_cal_is_open(cal, when) != 0) {
    return when;  /* open, or the calendar cannot say: at once */
  }
  int64_t d = sla_cal_add(cal, when, 0);
  return d == NEVER || d < when ? when : d;
}


/* Keep the entry's actions until deliver; 0 when there is no room (then
** they go out at once). */
static int
hold(pr_sla_ticket *t, const due_item *it, int64_t deliver)
{
  sla_ext *e = sla_ext_get(t);
  if (e == NULL || e->n_held >= SLA_MAX_HELD) {
    return 0;
  }
  if (e->n_held == e->cap_held) {
    uint32_t cap = e->cap_held ? e->cap_held * 2 : 2;
    sla_held *v = realloc(e->held, cap * sizeof(*v));
    if (v == NULL) {
      return 0;
    }
    e->held = v;
    e->cap_held = cap;
  }
  e->held[e->n_held++] = (sla_held){it->reached_ms, deliver, it->cycle,
                                    (uint8_t)it->metric, (uint8_t)it->entry,
                                    (uint8_t)it->gen};
  return 1;
}


void
sla_held_drop_waits(pr_sla_ticket *t)
{
  sla_ext *e = t->ext;
  uint32_t k = 0;
  for (uint32_t i = 0; e != NULL && i < e->n_held; i++) {
    if (e->held[i].metric != SLA_HELD_WAIT) {
      e->held[k++] = e->held[i];
    }
  }
  if (e != NULL) {
    e->n_held = k;
  }
}


void
sla_held_rebind(sla_ext *e, const pr_sla_set *old_s, const pr_sla_set *new_s)
{
  uint32_t k = 0;
  for (uint32_t i = 0; i < e->n_held; i++) {
    sla_held h = e->held[i];
    int found = 0;
    if (h.metric == SLA_HELD_WAIT) {
      for (uint32_t w = 0; !found && w < new_s->n_waits; w++) {
        if (strcmp(new_s->waits[w].label, old_s->waits[h.entry].label) == 0) {
          h.entry = (uint8_t)w;
          found = 1;
        }
      }
    } else {
      int m = pr_sla_set_metric_find(new_s, old_s->metrics[h.metric].name);
      for (uint32_t j = 0; m >= 0 && !found && j < new_s->n_thresholds; j++) {
        if (strcmp(new_s->thresholds[j].label,
                   old_s->thresholds[h.entry].label) == 0 &&
            sla_applies(new_s->thresholds[j].metrics, (uint32_t)m)) {
          h.metric = (uint8_t)m;
          h.entry = (uint8_t)j;
          found = 1;
        }
      }
    }
    if (found) {
      e->held[k++] = h;
    }
  }
  e->n_held = k;
}


/* The notices of the actions of entry it, held (explanations). */
static void
held_notices(const pr_sla_ticket *t, const pr_sla_set *s, const due_item *it,
             pr_sla_actions *out)
{
  const pr_sla_action_decl *acts;
  uint32_t n_acts;
  const char *metric, *label;
  if (it->metric == SLA_HELD_WAIT) {
    acts = s->waits[it->entry].actions;
    n_acts = s->waits[it->entry].n_actions;
    metric = "wait";
    label = s->waits[it->entry].label;
  } else {
    acts = s->thresholds[it->entry].actions;
    n_acts = s->thresholds[it->entry].n_actions;
    metric = s->metrics[it->metric].name;
    label = s->thresholds[it->entry].label;
  }
  for (uint32_t a = 0; a < n_acts; a++) {
    /* Out of memory: only the explanation is short of it. */
    (void)emit(out, t, it->at_ms, it->reached_ms, metric, it->cycle,
               it->gen, label, &acts[a], 1);
  }
}


/* Record breaches and fire every ladder entry and wait timer reached at
** or before at, in (instant, metric, entry) order; the actions of those
** held to a closed notification calendar wait for its opening, and the
** held ones whose opening came go out, in order of their instants. */
int
sla_fire_due(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
         pr_sla_actions *out)
{
  if (t->flags & T_DEAD) {
    return PROMPTLY_OK;
  }
  due_item items[PR_SLA_MAX_METRICS * PR_SLA_MAX_THRESHOLDS + PR_SLA_MAX_WAITS +
                 SLA_MAX_HELD];
  uint32_t n = 0;
  for (uint32_t m = 0; (t->flags & T_EXCLUDED) == 0 && m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    int64_t tg = sla_clock_target(t, s, m);
    if (c->state != CLK_ACTIVE || tg == PR_SLA_NONE) {
      continue;
    }
    if ((c->flags & CLK_BREACHED) == 0 && sla_reached(s, c, tg, at)) {
      int64_t when = sla_instant_of(s, c, tg);
      sla_note_breach(t, s, m, when == NEVER || when > at ? at : when);
    }
    int running = sla_clock_running(c);
    for (uint32_t j = 0; j < s->n_thresholds; j++) {
      const pr_sla_threshold *th = &s->thresholds[j];
      if (!sla_applies(th->metrics, m) || (c->fired & ((uint32_t)1 << j))) {
        continue;
      }
      int64_t point = sla_threshold_point(th, tg);
      if (!running && point >= c->elapsed_ms) {
        /* A paused clock reaches nothing new until it resumes; what a
        ** lower target put behind it is reached now. */
        continue;
      }
      int64_t when = sla_instant_of(s, c, point);
      if (when != NEVER && when <= at) {
        items[n++] = (due_item){when, when, m, j, c->cycle, c->gen};
      }
    }
  }
  if ((t->flags & (T_WAITING | T_EXCLUDED)) == T_WAITING) {
    for (uint32_t w = 0; w < s->n_waits; w++) {
      int64_t when = t->ext->wait_since_at_ms + s->waits[w].after_ms;
      if ((t->ext->wait_fired & (1u << w)) == 0 && when <= at) {
        items[n++] = (due_item){when, when, SLA_HELD_WAIT, w,
                                t->ext->wait_cycle, 1};
      }
    }
  }
  if (n > 1) {
    qsort(items, n, sizeof(items[0]), cmp_due);
  }
  /* The ledger records each entry as fired when reached; its actions go
  ** out now or wait for the notification calendar. */
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    due_item it = items[i];
    if (it.metric == SLA_HELD_WAIT) {
      t->ext->wait_fired |= (uint8_t)(1u << it.entry);
    } else {
      t->clocks[it.metric].fired |= (uint32_t)1 << it.entry;
    }
    it.at_ms = delivery(t, quiet_of(s, it.metric, it.entry), it.reached_ms);
    if (it.at_ms > at && hold(t, &it, it.at_ms)) {
      held_notices(t, s, &it, out);
      continue;
    }
    if (it.at_ms > at) {
      it.at_ms = it.reached_ms;  /* no room to hold it: at once */
    }
    items[k++] = it;
  }
  n = k;
  sla_ext *e = t->ext;
  k = 0;
  for (uint32_t i = 0; e != NULL && i < e->n_held; i++) {
    const sla_held *h = &e->held[i];
    if (h->deliver_ms <= at) {
      items[n++] = (due_item){h->deliver_ms, h->reached_ms, h->metric,
                              h->entry, h->cycle, h->gen};
    } else {
      e->held[k++] = *h;
    }
  }
  if (e != NULL) {
    e->n_held = k;
  }
  if (n > 1) {
    qsort(items, n, sizeof(items[0]), cmp_due);
  }
  int rc = PROMPTLY_OK;
  for (uint32_t i = 0; i < n; i++) {
    const pr_sla_action_decl *acts;
    uint32_t n_acts;
    const char *metric, *label;
    if (items[i].metric == SLA_HELD_WAIT) {
      const pr_sla_wait *w = &s->waits[items[i].entry];
      acts = w->actions;
      n_acts = w->n_actions;
      metric = "wait";
      label = w->label;
    } else {
      const pr_sla_threshold *th = &s->thresholds[items[i].entry];
      acts = th->actions;
      n_acts = th->n_actions;
      metric = s->metrics[items[i].metric].name;
      label = th->label;
    }
    for (uint32_t a = 0; a < n_acts; a++) {
      if (emit(out, t, items[i].at_ms, items[i].reached_ms, metric,
               items[i].cycle, items[i].gen, label, &acts[a], 0) !=
          PROMPTLY_OK) {
        rc = PROMPTLY_ENOMEM;
      }
    }
  }
  return rc;
}



static void
consider(int64_t when, int64_t after, int64_t *best)
{
  if (when != NEVER && when > after && when < *best) {
    *best = when;
  }
}


int
pr_sla_next_deadline(const pr_sla_ticket *t, const pr_sla_set *s,
                     int64_t at_ms, int64_t *next_ms)
{
  if (t == NULL || !sla_check_set(s) || next_ms == NULL ||
      t->n_clocks != s->n_metrics || (t->flags & T_DEAD)) {
    return 0;
  }
  int64_t best = NEVER;
  /* Held actions go out at their calendar's opening, excluded or not. */
  for (uint32_t i = 0; t->ext != NULL && i < t->ext->n_held; i++) {
    consider(t->ext->held[i].deliver_ms, INT64_MIN, &best);
  }
  for (uint32_t m = 0; (t->flags & T_EXCLUDED) == 0 && m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int64_t tg = sla_clock_target(t, s, m);
    if (!sla_clock_running(c) || tg == PR_SLA_NONE) {
      continue;
    }
    /* Ledger entries not yet fired count even when overdue. */
    for (uint32_t j = 0; j < s->n_thresholds; j++) {
      const pr_sla_threshold *th = &s->thresholds[j];
      if (sla_applies(th->metrics, m) && (c->fired & ((uint32_t)1 << j)) == 0) {
        consider(sla_instant_of(s, c, sla_threshold_point(th, tg)), INT64_MIN, &best);
      }
    }
    if ((c->flags & CLK_BREACHED) == 0) {
      consider(sla_instant_of(s, c, tg), at_ms, &best);
    }
    consider(sla_instant_of(s, c, tg * pr_sla_at_risk(s, m) / 1000), at_ms, &best);
  }
  if ((t->flags & (T_WAITING | T_EXCLUDED)) == T_WAITING) {
    for (uint32_t w = 0; w < s->n_waits; w++) {
      if ((t->ext->wait_fired & (1u << w)) == 0) {
        consider(t->ext->wait_since_at_ms + s->waits[w].after_ms, INT64_MIN,
                 &best);
      }
    }
  }
  if (best == NEVER) {
    return 0;
  }
  *next_ms = best;
  return 1;
}


