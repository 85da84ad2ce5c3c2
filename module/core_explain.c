/* core_explain.c - explanations (promptly_explain: a ticket's priority,
** policies and, per metric, state, business time used and left and due,
** as trace sentences) and the outcome records of the cycles still open at
** the end of a replay (promptly_records_open, tickets in id order).  Both
** only read: no ticket, clock or deadline changes.
*/
#include "config.h"

#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Explanations ------------------------------------------------------- */

/* "26h", "1h30m", "45m", "30s", "0s": for people, not for parsing.  Hours
** rather than days, since a business day is not 24 hours. */
static void
fmt_duration(int64_t ms, char *out, size_t len)
{
  int64_t s = ms / 1000;
  int64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
  size_t off = 0;
  out[0] = '\0';
  if (h > 0) {
    off += (size_t)snprintf(out + off, len - off, "%lldh", (long long)h);
  }
  if (m > 0 && off < len) {
    off += (size_t)snprintf(out + off, len - off, "%lldm", (long long)m);
  }
  if ((sec > 0 && h == 0) || off == 0) {
    snprintf(out + off, len - off, "%llds", (long long)sec);
  }
}


static void
explain_clock(promptly *p, const pr_ticket *t, uint32_t m, int64_t at_ms)
{
  const pr_sla_set *s = core_sla_set(p);
  pr_sla_clock_info ci;
  if (pr_sla_clock_info_at(t->sla, s, m, at_ms, &ci) != PROMPTLY_OK) {
    return;
  }
  const char *name = s->metrics[m].name;
  if (ci.target_ms == PR_SLA_NONE) {
    core_trace(p, t, at_ms, "%s: no target (best effort)", name);
    return;
  }
  if (ci.cycle == 0) {
    core_trace(p, t, at_ms, "%s: not started", name);
    return;
  }
  char el[32], tg[32], rest[32], due[PR_ISO_LEN] = "";
  fmt_duration(ci.elapsed_ms, el, sizeof(el));
  fmt_duration(ci.target_ms, tg, sizeof(tg));
  int64_t left = ci.target_ms - ci.elapsed_ms;
  fmt_duration(left > 0 ? left : -left, rest, sizeof(rest));
  const char *kind = ci.business ? "business" : "calendar";
  const char *policy = ci.policy ? ci.policy : "none";
  if (strcmp(ci.state, "met") == 0) {
    core_trace(p, t, at_ms, "%s: met after %s of %s (%s time, policy %s)", name,
          el, tg, kind, policy);
    return;
  }
  if (ci.met_at_ms > 0) {
    /* Breached, then met: the cycle ended; nothing counts on. */
    char when[PR_ISO_LEN];
    pr_iso_format(ci.met_at_ms, when);
    core_trace(p, t, at_ms, "%s: met late at %s, %s over its %s (cycle %u, "
          "%s time, policy %s)", name, when, rest, tg, (unsigned)ci.cycle, kind,
          policy);
    return;
  }
  if (ci.due_at_ms > 0) {
    pr_iso_format(ci.due_at_ms, due);
  }
  core_trace(p, t, at_ms, "%s: %s (cycle %u, %s time, policy %s): %s of %s "
        "elapsed, %s %s%s%s", name, ci.state, (unsigned)ci.cycle, kind,
        policy, el, tg, rest, left >= 0 ? "remaining" : "over",
        due[0] ? ", due " : "", due);
}


int
pr_core_explain(promptly *p, int64_t ticket, int64_t at_ms)
{
  if (p->host.trace == NULL) {
    return PROMPTLY_ENOTSUP;
  }
  if (core_enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  pr_ticket *t = pr_tickets_get(&p->tickets, ticket);
  if (at_ms == 0) {
    at_ms = core_now_ms(p);
  }
  const struct gone_ticket *g = t == NULL ? core_gone_find(p, ticket) : NULL;
  if (g != NULL && p->host.trace != NULL) {
    /* Its story was told as it happened; this is its end. */
    char iso[PR_ISO_LEN], when[PR_ISO_LEN];
    pr_iso_format(at_ms, iso);
    pr_iso_format(g->at_ms, when);
    char line[160];
    if (g->into > 0) {
      snprintf(line, sizeof(line), "as of %s: merged into ticket %lld at %s; "
               "its clocks stopped (sla.status stopped)", iso,
               (long long)g->into, when);
    } else {
      snprintf(line, sizeof(line), "as of %s: deleted at %s; its clocks "
               "stopped (sla.status stopped)", iso, when);
    }
    p->host.trace(p->host.user_data, ticket, at_ms, line);
    core_leave(p);
    return PROMPTLY_OK;
  }
  if (t == NULL) {
    core_leave(p);
    return PROMPTLY_EINVAL;
  }
  char iso[PR_ISO_LEN];
  pr_iso_format(at_ms, iso);
  core_trace(p, t, at_ms, "as of %s: priority %s%s, status %s", iso,
        t->priority ? t->priority : "(none)",
        t->manual ? " (set by an agent)" : "",
        pr_kvset_get(&t->attrs, "status") ? pr_kvset_get(&t->attrs, "status")
                                          : "(none)");
  if (t->sla == NULL) {
    core_trace(p, t, at_ms, "no SLA clocks");
    core_leave(p);
    return PROMPTLY_OK;
  }
  pr_sla_pick pick = core_current_pick(t);
  core_trace_policies(p, t, &pick, at_ms);
  const pr_sla_set *s = core_sla_set(p);
  for (uint32_t m = 0; m < s->n_metrics; m++) {
    explain_clock(p, t, m, at_ms);
  }
  pr_sla_fieldset fs;
  pr_sla_fields(t->sla, s, at_ms, &fs);
  for (uint32_t i = 0; i < fs.n; i++) {
    if (strcmp(fs.kv[i].name, "sla.status") == 0 ||
        strcmp(fs.kv[i].name, "sla.escalation") == 0 ||
        strcmp(fs.kv[i].name, "sla.customer_wait") == 0) {
      core_trace(p, t, at_ms, "%s = %s", fs.kv[i].name, fs.kv[i].value);
    }
  }
  int excluded = 0;
  const char *why = pr_sla_ticket_exception(t->sla, &excluded);
  if (why != NULL) {
    core_trace(p, t, at_ms, "exception: %s%s", why, excluded ? " (excluded)" : "");
  }
  /* Every cycle: the ended ones were told as they ended; the open ones
  ** now, as records. */
  pr_sla_actions acts;
  core_acts_init(p, &acts);
  pr_sla_records_open(t->sla, s, at_ms, &acts);
  for (uint32_t i = 0; i < acts.n_recs; i++) {
    acts.recs[i].at_ms = at_ms;
  }
  if (p->host.record != NULL) {
    /* Explanations do not hand records out twice. */
    pr_sla_records_clear(&acts);
  }
  core_hand_records(p, t, &acts);
  pr_sla_actions_free(&acts);
  core_leave(p);
  return PROMPTLY_OK;
}

/* --- Open cycles at the end of a replay ---------------------------------- */

typedef struct open_ctx {
  promptly *p;
  int64_t at_ms;
  int rc;
  pr_ticket **v;  /* the tickets, sorted by id: a replay's order */
  size_t n;
} open_ctx;

static void
collect_one(pr_ticket *t, void *ud)
{
  open_ctx *c = ud;
  c->v[c->n++] = t;
}


static int
cmp_ticket_id(const void *a, const void *b)
{
  int64_t x = (*(pr_ticket *const *)a)->id, y = (*(pr_ticket *const *)b)->id;
  return (x > y) - (x < y);
}


int
pr_core_records_open(promptly *p, int64_t at_ms)
{
  if (p->host.record == NULL && p->host.trace == NULL) {
    return PROMPTLY_ENOTSUP;
  }
  if (core_enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  if (at_ms == 0) {
    at_ms = core_now_ms(p);
  }
  open_ctx c = {p, at_ms, PROMPTLY_OK, NULL, 0};
  if (p->tickets.n > 0) {
    c.v = malloc(p->tickets.n * sizeof(*c.v));
    if (c.v == NULL) {
      core_leave(p);
      return PROMPTLY_ENOMEM;
    }
    pr_tickets_each(&p->tickets, collect_one, &c);
    qsort(c.v, c.n, sizeof(*c.v), cmp_ticket_id);
  }
  pr_sla_actions acts;
  core_acts_init(p, &acts);
  for (size_t i = 0; i < c.n; i++) {
    pr_ticket *t = c.v[i];
    if (t->sla == NULL) {
      continue;
    }
    if (pr_sla_records_open(t->sla, core_sla_set(p), at_ms, &acts) ==
        PROMPTLY_ENOMEM) {
      c.rc = PROMPTLY_ENOMEM;
    }
    core_hand_records(p, t, &acts);
  }
  pr_sla_actions_free(&acts);
  free(c.v);
  core_leave(p);
  return c.rc;
}
