/* sla_history.c - the history of a ticket's clocks: the spans during which
** they did not run, so that a cycle's elapsed time can be recomputed
** exactly in any calendar (a policy or calendar switch counts the new
** calendar's time over the whole cycle).
**
** Invariants.  Spans are in order of their start and at most one status
** span (mask SLA_ALL) and one own span per custom metric is open (to =
** NEVER); sla_history_sync, called at the end of every transition, opens
** and closes them so that a status span is open exactly while the ticket
** is paused (by a pause status or condition) or resolved (with wait = 1
** exactly while it waits on the customer), and an own span exactly while a custom clock is paused by
** its own events.  A clock's running intervals are [origin, stop) minus
** the union of the spans of its bit, origin being the cycle's start or,
** after coalescing, its frozen prefix's end.  At most SLA_MAX_SPANS spans
** are kept (see sla_internal.h for how they are coalesced).
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define SLA_ALL UINT32_MAX


sla_ext *
sla_ext_get(pr_sla_ticket *t)
{
  if (t->ext == NULL) {
    t->ext = calloc(1, sizeof(*t->ext));
  }
  return t->ext;
}


void
sla_ext_free(sla_ext *e)
{
  if (e != NULL) {
    free(e->exc_reason);
    free(e->spans);
    free(e->facts);
    free(e->frozen);
    if (e->reasons != NULL) {
      for (uint32_t i = 0; i < PR_SLA_MAX_EXCEPTIONS; i++) {
        free(e->reasons[i]);
      }
      free(e->reasons);
    }
    sla_past_clear(e, UINT32_MAX);
    free(e->past);
    free(e->held);
    free(e->fnt);
    free(e);
  }
}


size_t
sla_ext_size(const sla_ext *e)
{
  if (e == NULL) {
    return 0;
  }
  size_t n = sizeof(*e) + e->cap_spans * sizeof(sla_span);
  if (e->exc_reason != NULL) {
    n += strlen(e->exc_reason) + 1;
  }
  if (e->facts != NULL) {
    n += PR_SLA_MAX_METRICS * sizeof(sla_fact);
  }
  if (e->frozen != NULL) {
    n += PR_SLA_MAX_METRICS * sizeof(sla_frozen);
  }
  if (e->reasons != NULL) {
    n += PR_SLA_MAX_EXCEPTIONS * sizeof(char *);
    for (uint32_t i = 0; i < PR_SLA_MAX_EXCEPTIONS; i++) {
      n += e->reasons[i] != NULL ? strlen(e->reasons[i]) + 1 : 0;
    }
  }
  for (uint32_t i = 0; i < e->n_past; i++) {
    n += e->past[i].key != NULL ? strlen(e->past[i].key) + 1 : 0;
  }
  return n + e->n_past * sizeof(sla_past) + e->n_fnt * sizeof(sla_fnt) +
         e->cap_held * sizeof(sla_held);
}


static int64_t
origin_of(const pr_sla_ticket *t, uint32_t m)
{
  const sla_ext *e = t->ext;
  if (e != NULL && e->frozen != NULL && e->frozen[m].origin_ms != 0) {
    return e->frozen[m].origin_ms;
  }
  return t->clocks[m].start_at_ms;
}


/* Whether clock m may still need its history: open, or a resolution that
** a reopen would resume. */
static int
needs_history(const pr_sla_ticket *t, uint32_t m)
{
  const sla_clock *c = &t->clocks[m];
  return c->state == CLK_ACTIVE ||
         (m == PR_SLA_RESOLUTION && c->state == CLK_MET);
}


/* The running intervals of clock m in [origin, end), into iv (room for
** SLA_MAX_SPANS + 1 pairs); returns how many.  *paused and *wait get the
** wall time of the spans in that range. */
static uint32_t
running_intervals(const pr_sla_ticket *t, uint32_t m, int64_t origin,
                  int64_t end, int64_t (*iv)[2], int64_t *paused,
                  int64_t *wait)
{
  const sla_ext *e = t->ext;
  uint32_t n = 0;
  int64_t at = origin;  /* running from here, unless a span covers it */
  int64_t cur_a = 0, cur_b = 0;
  int open = 0;
  *paused = 0;
  *wait = 0;
  uint32_t bit = (uint32_t)1 << m;
  for (uint32_t i = 0; e != NULL && i < e->n_spans; i++) {
    const sla_span *sp = &e->spans[i];
    if ((sp->clocks & bit) == 0) {
      continue;
    }
    int64_t a = sp->from_ms > origin ? sp->from_ms : origin;
    int64_t b = sp->to_ms < end ? sp->to_ms : end;
    if (b <= a) {
      continue;
    }
    if (sp->wait) {
      *wait += b - a;
    }
    if (open && a <= cur_b) {
      if (b > cur_b) {
        cur_b = b;
      }
      continue;
    }
    if (open) {
      if (cur_a > at && n <= SLA_MAX_SPANS) {
        iv[n][0] = at;
        iv[n][1] = cur_a;
        n++;
      }
      *paused += cur_b - cur_a;
      at = cur_b;
    }
    cur_a = a;
    cur_b = b;
    open = 1;
  }
  if (open) {
    if (cur_a > at && n <= SLA_MAX_SPANS) {
      iv[n][0] = at;
      iv[n][1] = cur_a;
      n++;
    }
    *paused += cur_b - cur_a;
    at = cur_b;
  }
  if (end > at && n <= SLA_MAX_SPANS) {
    iv[n][0] = at;
    iv[n][1] = end;
    n++;
  }
  return n;
}


static int64_t
stop_of(const pr_sla_ticket *t, uint32_t m, int64_t at)
{
  const sla_clock *c = &t->clocks[m];
  if (c->state == CLK_MET && c->since_at_ms < at) {
    return c->since_at_ms;
  }
  return at;
}


void
sla_history_elapsed(const pr_sla_ticket *t, uint32_t m, pr_calendar *cal,
                    int64_t at, sla_hist *out)
{
  memset(out, 0, sizeof(*out));
  const sla_ext *e = t->ext;
  if (e != NULL && e->frozen != NULL && e->frozen[m].origin_ms != 0) {
    out->business_ms = e->frozen[m].business_ms;
    out->paused_ms = e->frozen[m].paused_ms;
    out->wait_ms = e->frozen[m].wait_ms;
  }
  int64_t origin = origin_of(t, m);
  int64_t end = stop_of(t, m, at);
  if (t->clocks[m].state == CLK_IDLE || end <= origin) {
    return;
  }
  int64_t iv[SLA_MAX_SPANS + 1][2];
  int64_t paused, wait;
  uint32_t n = running_intervals(t, m, origin, end, iv, &paused, &wait);
  for (uint32_t i = 0; i < n; i++) {
    out->business_ms += sla_cal_between(cal, iv[i][0], iv[i][1]);
  }
  out->paused_ms += paused;
  out->wait_ms += wait;
}


int64_t
sla_history_instant(const pr_sla_ticket *t, uint32_t m, pr_calendar *cal,
                    int64_t at, int64_t point)
{
  int64_t cum = 0;
  const sla_ext *e = t->ext;
  if (e != NULL && e->frozen != NULL && e->frozen[m].origin_ms != 0) {
    cum = e->frozen[m].business_ms;
    if (point < cum) {
      return e->frozen[m].origin_ms;  /* Inside the frozen prefix. */
    }
  }
  int64_t origin = origin_of(t, m);
  int64_t end = stop_of(t, m, at);
  if (end <= origin) {
    return NEVER;
  }
  int64_t iv[SLA_MAX_SPANS + 1][2];
  int64_t paused, wait;
  uint32_t n = running_intervals(t, m, origin, end, iv, &paused, &wait);
  for (uint32_t i = 0; i < n; i++) {
    int64_t bt = sla_cal_between(cal, iv[i][0], iv[i][1]);
    if (cum + bt > point) {
      return sla_cal_add(cal, iv[i][0], point - cum);
    }
    cum += bt;
  }
  return NEVER;
}


/* --- Keeping the spans ----------------------------------------------------- */

static int64_t
min_origin(const pr_sla_ticket *t)
{
  int64_t o = NEVER;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    if (needs_history(t, m)) {
      int64_t x = origin_of(t, m);
      if (x < o) {
        o = x;
      }
    }
  }
  return o;
}


static void
drop_before(sla_ext *e, int64_t origin)
{
  uint32_t k = 0;
  for (uint32_t i = 0; i < e->n_spans; i++) {
    if (e->spans[i].to_ms != NEVER && e->spans[i].to_ms <= origin) {
      continue;
    }
    e->spans[k++] = e->spans[i];
  }
  e->n_spans = k;
}


/* Fold the oldest closed span, and everything before its end, into the
** frozen prefix of each clock that needs it.  0 if nothing could go. */
static int
freeze_oldest(pr_sla_ticket *t, const pr_sla_set *s)
{
  sla_ext *e = t->ext;
  uint32_t i = 0;
  while (i < e->n_spans && e->spans[i].to_ms == NEVER) {
    i++;
  }
  if (i == e->n_spans) {
    return 0;
  }
  if (e->frozen == NULL) {
    e->frozen = calloc(PR_SLA_MAX_METRICS, sizeof(sla_frozen));
    if (e->frozen == NULL) {
      return 0;
    }
  }
  int64_t cut = e->spans[i].to_ms;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    if (!needs_history(t, m) || origin_of(t, m) >= cut) {
      continue;
    }
    sla_hist h;
    sla_history_elapsed(t, m, sla_clock_cal(s, &t->clocks[m]), cut, &h);
    e->frozen[m].origin_ms = cut;
    e->frozen[m].business_ms = h.business_ms;
    e->frozen[m].paused_ms = h.paused_ms;
    e->frozen[m].wait_ms = h.wait_ms;
  }
  memmove(&e->spans[i], &e->spans[i + 1],
          (e->n_spans - i - 1) * sizeof(sla_span));
  e->n_spans--;
  drop_before(e, min_origin(t));
  return 1;
}


static void
open_span(pr_sla_ticket *t, const pr_sla_set *s, int64_t at, uint32_t clocks,
          uint32_t wait)
{
  sla_ext *e = sla_ext_get(t);
  if (e == NULL) {
    return;  /* Out of memory: the history is short of this span. */
  }
  if (e->n_spans == SLA_MAX_SPANS) {
    drop_before(e, min_origin(t));
  }
  while (e->n_spans == SLA_MAX_SPANS) {
    if (!freeze_oldest(t, s)) {
      return;
    }
  }
  if (e->n_spans == e->cap_spans) {
    uint32_t cap = e->cap_spans ? e->cap_spans * 2 : 4;
    if (cap > SLA_MAX_SPANS) {
      cap = SLA_MAX_SPANS;
    }
    sla_span *v = realloc(e->spans, cap * sizeof(*v));
    if (v == NULL) {
      return;
    }
    e->spans = v;
    e->cap_spans = cap;
  }
  e->spans[e->n_spans++] = (sla_span){at, NEVER, clocks, wait};
}


/* The open span with this mask, or -1. */
static int
find_open(const sla_ext *e, uint32_t clocks)
{
  for (uint32_t i = e != NULL ? e->n_spans : 0; i-- > 0;) {
    if (e->spans[i].clocks == clocks && e->spans[i].to_ms == NEVER) {
      return (int)i;
    }
  }
  return -1;
}


static void
close_span(sla_ext *e, int i, int64_t at)
{
  if (e->spans[i].from_ms >= at) {
    /* Empty: as if it never was. */
    memmove(&e->spans[i], &e->spans[i + 1],
            (e->n_spans - (uint32_t)i - 1) * sizeof(sla_span));
    e->n_spans--;
    return;
  }
  e->spans[i].to_ms = at;
}


static void
sync_one(pr_sla_ticket *t, const pr_sla_set *s, int64_t at, uint32_t clocks,
         int want, uint32_t wait)
{
  int i = find_open(t->ext, clocks);
  if (i >= 0 && (!want || t->ext->spans[i].wait != wait)) {
    close_span(t->ext, i, at);
    i = -1;
  }
  if (want && i < 0) {
    open_span(t, s, at, clocks, wait);
  }
}


void
sla_history_sync(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  int stopped = (sla_ticket_paused(t) || (t->flags & T_DONE) != 0) &&
                (t->flags & T_DEAD) == 0;
  sync_one(t, s, at, SLA_ALL, stopped, (t->flags & T_WAITING) ? 1 : 0);
  for (uint32_t m = PR_SLA_BUILTIN; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int own = c->state == CLK_ACTIVE && (c->flags & CLK_PAUSE_OWN) != 0;
    if (own || t->ext != NULL) {
      sync_one(t, s, at, (uint32_t)1 << m, own, 0);
    }
  }
}


void
sla_history_cycle(pr_sla_ticket *t, uint32_t m)
{
  sla_ext *e = t->ext;
  if (e == NULL) {
    return;
  }
  if (e->frozen != NULL) {
    memset(&e->frozen[m], 0, sizeof(e->frozen[m]));
  }
  if (e->facts != NULL) {
    memset(&e->facts[m], 0, sizeof(e->facts[m]));
  }
  sla_past_clear(e, m);
}
