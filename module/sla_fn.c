/* sla_fn.c - targets given by rule functions: the deadline a function
** returned for one cycle of one metric under one policy.
**
** Invariants.  A function runs once per (metric, cycle, policy, function):
** when the cycle is open at the end of a transition and the policy is one
** of the ticket's, its target for the ticket's level is that function, and
** no answer is kept for it yet.  The answers live in the ticket's ext
** (allocated on first need, so tickets without target functions keep
** nothing); an answer for an older cycle of the same metric is replaced.
** A rule reload drops them (sla.c, move_ext): the new rules run again.
** Since the function sees the ticket as the transition left it and the
** cycle's start, replays give the same answers.
*/
#include "config.h"

#include "sla_internal.h"
#include "promptly.h"

#include <stdlib.h>

int
sla_fn_lookup(const pr_sla_ticket *t, uint32_t m, uint32_t policy,
              uint32_t fn, int64_t *at_ms)
{
  const sla_ext *e = t->ext;
  if (e == NULL) {
    return 0;
  }
  for (uint32_t i = 0; i < e->n_fnt; i++) {
    const sla_fnt *f = &e->fnt[i];
    if (f->metric == m && f->policy == policy && f->fn == fn &&
        f->cycle == t->clocks[m].cycle) {
      *at_ms = f->at_ms;
      return f->at_ms != NEVER;
    }
  }
  return 0;
}


static int
known(const sla_ext *e, uint32_t m, uint32_t policy, uint32_t fn,
      uint32_t cycle)
{
  for (uint32_t i = 0; e != NULL && i < e->n_fnt; i++) {
    const sla_fnt *f = &e->fnt[i];
    if (f->metric == m && f->policy == policy && f->fn == fn &&
        f->cycle == cycle) {
      return 1;
    }
  }
  return 0;
}


/* Keep f: over an answer of an older cycle of its metric, or appended. */
static void
keep(pr_sla_ticket *t, const sla_fnt *f)
{
  sla_ext *e = sla_ext_get(t);
  if (e == NULL) {
    return; /* Out of memory: the policy gives no target this time. */
  }
  for (uint32_t i = 0; i < e->n_fnt; i++) {
    if (e->fnt[i].metric == f->metric && e->fnt[i].cycle != f->cycle) {
      e->fnt[i] = *f;
      return;
    }
  }
  sla_fnt *v = realloc(e->fnt, (e->n_fnt + 1) * sizeof(*v));
  if (v == NULL) {
    return;
  }
  e->fnt = v;
  e->fnt[e->n_fnt++] = *f;
}


void
sla_fn_targets(pr_sla_ticket *t, const pr_sla_set *s, pr_sla_actions *out)
{
  if (t->flags & (T_DEAD | T_EXCLUDED)) {
    return;
  }
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    if (c->state != CLK_ACTIVE) {
      continue;
    }
    for (uint32_t i = 0; i < t->pick.n; i++) {
      uint32_t p = t->pick.v[i];
      int64_t v = s->policies[p].target_ms[t->level * s->n_metrics + m];
      if (!PR_SLA_IS_FN(v)) {
        continue;
      }
      uint32_t fn = PR_SLA_FN_INDEX(v);
      if (known(t->ext, m, p, fn, c->cycle)) {
        continue;
      }
      sla_fnt f = {NEVER, c->cycle, fn, (uint16_t)p, (uint8_t)m};
      int64_t at;
      if (out != NULL && out->deadline != NULL &&
          out->deadline(out->deadline_ud, t->id, fn, m, p, t->level,
                        c->start_at_ms, &at) == 1) {
        f.at_ms = at;
      }
      keep(t, &f);
    }
  }
}
