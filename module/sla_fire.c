/* sla_fire.c - thresholds, breaches, actions and their idempotency keys,
** and the next instant at which a ticket changes.
**
** Invariants.  A ladder entry fires at most once per (ticket, metric,
** cycle) and a wait timer once per wait period: the fired bits are set
** before the actions go out.  Actions come out in (instant, metric,
** entry) order.
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


static int
emit(pr_sla_actions *out, const pr_sla_ticket *t, int64_t at,
     const char *metric, uint32_t cycle, uint32_t gen, const char *label,
     const pr_sla_action_decl *d)
{
  pr_sla_action act;
  memset(&act, 0, sizeof(act));
  sla_key(act.key, sizeof(act.key), t->id, metric, cycle, gen, label, d);
  if (out->done != NULL && out->done(out->done_ud, act.key)) {
    return PROMPTLY_OK;
  }
  if (out->n == out->cap) {
    uint32_t cap = out->cap ? out->cap * 2 : 8;
    pr_sla_action *v = realloc(out->v, cap * sizeof(*v));
    if (v == NULL) {
      return PROMPTLY_ENOMEM;
    }
    out->v = v;
    out->cap = cap;
  }
  act.at_ms = at;
  act.name = d->name;
  act.args = d->args;
  act.n_args = d->n_args;
  act.metric = metric;
  act.threshold = label;
  act.cycle = cycle;
  out->v[out->n++] = act;
  return PROMPTLY_OK;
}


typedef struct due_item {
  int64_t at_ms;
  uint32_t metric;  /* PR_SLA_MAX_METRICS for a wait timer */
  uint32_t entry;   /* ladder or wait index */
} due_item;


static int
cmp_due(const void *a, const void *b)
{
  const due_item *x = a, *y = b;
  if (x->at_ms != y->at_ms) {
    return x->at_ms < y->at_ms ? -1 : 1;
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


/* Record breaches and fire every ladder entry and wait timer reached at
** or before at, in (instant, metric, entry) order. */
int
sla_fire_due(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
         pr_sla_actions *out)
{
  if (t->flags & (T_DEAD | T_EXCLUDED)) {
    return PROMPTLY_OK;
  }
  due_item items[PR_SLA_MAX_METRICS * PR_SLA_MAX_THRESHOLDS + PR_SLA_MAX_WAITS];
  uint32_t n = 0;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
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
        items[n++] = (due_item){when, m, j};
      }
    }
  }
  if (t->flags & T_WAITING) {
    for (uint32_t w = 0; w < s->n_waits; w++) {
      int64_t when = t->ext->wait_since_at_ms + s->waits[w].after_ms;
      if ((t->ext->wait_fired & (1u << w)) == 0 && when <= at) {
        items[n++] = (due_item){when, PR_SLA_MAX_METRICS, w};
      }
    }
  }
  if (n > 1) {
    qsort(items, n, sizeof(items[0]), cmp_due);
  }
  int rc = PROMPTLY_OK;
  for (uint32_t i = 0; i < n; i++) {
    const pr_sla_action_decl *acts;
    uint32_t n_acts, cycle, gen = 1;
    const char *metric, *label;
    if (items[i].metric == PR_SLA_MAX_METRICS) {
      const pr_sla_wait *w = &s->waits[items[i].entry];
      t->ext->wait_fired |= (uint8_t)(1u << items[i].entry);
      acts = w->actions;
      n_acts = w->n_actions;
      metric = "wait";
      cycle = t->ext->wait_cycle;
      label = w->label;
    } else {
      sla_clock *c = &t->clocks[items[i].metric];
      const pr_sla_threshold *th = &s->thresholds[items[i].entry];
      c->fired |= (uint32_t)1 << items[i].entry;
      acts = th->actions;
      n_acts = th->n_actions;
      metric = s->metrics[items[i].metric].name;
      cycle = c->cycle;
      gen = c->gen;
      label = th->label;
    }
    for (uint32_t k = 0; k < n_acts; k++) {
      if (emit(out, t, items[i].at_ms, metric, cycle, gen, label, &acts[k]) !=
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
      t->n_clocks != s->n_metrics || (t->flags & (T_DEAD | T_EXCLUDED))) {
    return 0;
  }
  int64_t best = NEVER;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
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
  if (t->flags & T_WAITING) {
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


