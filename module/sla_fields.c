/* sla_fields.c - the fields a ticket shows (pr_sla_fields) and what one
** clock shows for explanations (pr_sla_clock_info_at).
**
** Invariants.  Pure: nothing here changes a ticket; the field set is in a
** fixed order and self-contained (values point into its own buffer).
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* --- Fields -------------------------------------------------------------- */

/* Append value to the field set's buffer and the pair to its list. */
static void
put(pr_sla_fieldset *f, size_t *off, const char *name, const char *value)
{
  size_t n = strlen(value);
  const char *dst = "";
  /* The limits on names keep a full set well inside buf; a value that
  ** would not fit is written empty rather than cut. */
  if (*off + n + 1 <= sizeof(f->buf)) {
    memcpy(f->buf + *off, value, n + 1);
    dst = f->buf + *off;
    *off += n + 1;
  }
  f->kv[f->n].name = name;
  f->kv[f->n].value = dst;
  f->n++;
}


static void
put_instant(pr_sla_fieldset *f, size_t *off, const char *name, int64_t at)
{
  char iso[PR_ISO_LEN] = "";
  if (at != 0) {
    pr_iso_format(at, iso);
  }
  put(f, off, name, iso);
}


static const char *
metric_state(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
             int64_t now)
{
  const sla_clock *c = &t->clocks[m];
  if (c->state == CLK_IDLE || sla_clock_target(t, s, m) == PR_SLA_NONE) {
    return "none";
  }
  if (sla_clock_breached(t, s, m, now)) {
    return "breached";
  }
  if (c->state == CLK_MET) {
    return "met";
  }
  return sla_clock_running(c) ? "running" : "paused";
}


int
pr_sla_clock_info_at(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
                     int64_t now_ms, pr_sla_clock_info *out)
{
  if (m >= s->n_metrics || m >= t->n_clocks) {
    return PROMPTLY_EINVAL;
  }
  int64_t now = now_ms < t->last_at_ms ? t->last_at_ms : now_ms;
  const sla_clock *c = &t->clocks[m];
  out->state = metric_state(t, s, m, now);
  out->policy = c->policy == NO_POLICY ? NULL : s->policies[c->policy].name;
  out->business = sla_clock_cal(s, c) != NULL;
  out->cycle = c->cycle;
  out->target_ms = sla_clock_target(t, s, m);
  out->elapsed_ms = c->state == CLK_IDLE ? 0 : sla_elapsed_at(s, c, now);
  out->due_at_ms = sla_clock_running(c) ? c->due_at_ms : 0;
  out->met_at_ms = c->state == CLK_MET ? c->since_at_ms : 0;
  return PROMPTLY_OK;
}


void
pr_sla_fields(const pr_sla_ticket *t, const pr_sla_set *s, int64_t now_ms,
              pr_sla_fieldset *out)
{
  size_t off = 0;
  out->n = 0;
  int64_t now = now_ms < t->last_at_ms ? t->last_at_ms : now_ms;
  int gone = (t->flags & (T_DEAD | T_EXCLUDED)) != 0;

  put(out, &off, "priority", s->levels[t->level]);

  /* The policy behind each target: one name, or metric=policy pairs. */
  char pol[PR_SLA_MAX_METRICS * (2 * PR_SLA_NAME_MAX + 3)] = "";
  uint32_t first = NO_POLICY;
  int mixed = 0;
  for (uint32_t m = 0; !gone && m < t->n_clocks; m++) {
    if (sla_clock_target(t, s, m) == PR_SLA_NONE) {
      continue;
    }
    if (first == NO_POLICY) {
      first = t->clocks[m].policy;
    } else if (first != t->clocks[m].policy) {
      mixed = 1;
    }
  }
  if (mixed) {
    size_t len = 0;
    for (uint32_t m = 0; m < t->n_clocks; m++) {
      if (sla_clock_target(t, s, m) != PR_SLA_NONE && len < sizeof(pol)) {
        int w = snprintf(pol + len, sizeof(pol) - len, "%s%s=%s",
                         len ? ", " : "", s->metrics[m].name,
                         s->policies[t->clocks[m].policy].name);
        len += w > 0 ? (size_t)w : 0;
      }
    }
  } else if (first != NO_POLICY) {
    snprintf(pol, sizeof(pol), "%s", s->policies[first].name);
  }
  put(out, &off, "sla.policy", pol);

  /* Overall status and the earliest pending due. */
  int breached = 0, at_risk = 0, running = 0, paused = 0, met = 0;
  int was_breached = 0;
  int64_t due = 0;
  for (uint32_t m = 0; !gone && m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int64_t tg = sla_clock_target(t, s, m);
    if (c->state == CLK_IDLE || tg == PR_SLA_NONE) {
      continue;
    }
    if (sla_clock_breached(t, s, m, now)) {
      if (c->state == CLK_ACTIVE) {
        breached = 1;
      } else {
        was_breached = 1;
      }
    }
    if (sla_clock_running(c)) {
      running = 1;
      if (sla_reached(s, c, tg * pr_sla_at_risk(s, m) / 1000, now)) {
        at_risk = 1;
      }
      if (c->due_at_ms != 0 && (due == 0 || c->due_at_ms < due)) {
        due = c->due_at_ms;
      }
    } else if (c->state == CLK_ACTIVE) {
      paused = 1;
    } else {
      met = 1;
    }
  }
  /* What needs attention now: a clock still open decides; once every
  ** clock is met, the outcome. */
  const char *status = breached       ? "breached"
                       : at_risk      ? "at_risk"
                       : running      ? "on_track"
                       : paused       ? "paused"
                       : was_breached ? "breached"
                       : met          ? "met"
                                      : "none";
  if (t->flags & T_DEAD) {
    status = "stopped";  /* Merged or deleted: the clocks stopped for good. */
  }
  put(out, &off, "sla.status", status);
  put_instant(out, &off, "sla.due", due);

  for (uint32_t m = 0; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int show = !gone && c->state != CLK_IDLE &&
               (c->flags & CLK_PAUSED) == 0 &&
               sla_clock_target(t, s, m) != PR_SLA_NONE;
    put_instant(out, &off, s->metrics[m].due_field, show ? c->due_at_ms : 0);
    put(out, &off, s->metrics[m].state_field,
        gone ? "none" : metric_state(t, s, m, now));
    int64_t broke = 0;
    if (!gone && c->state != CLK_IDLE && (c->flags & CLK_HAD_BREACH) &&
        t->ext != NULL && t->ext->facts != NULL) {
      broke = t->ext->facts[m].at_ms;
    }
    put_instant(out, &off, s->metrics[m].breached_field, broke);
    put_instant(out, &off, s->metrics[m].met_field,
                show && c->state == CLK_MET ? c->since_at_ms : 0);
  }

  /* The highest step reached by any metric in its current cycle: entries
  ** of one share for different metrics are one step. */
  int level = 0;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    for (uint32_t j = 0; j < s->n_thresholds; j++) {
      if ((t->clocks[m].fired & ((uint32_t)1 << j)) && s->step[j] > level) {
        level = s->step[j];
      }
    }
  }
  char num[24];
  snprintf(num, sizeof(num), "%d", level);
  put(out, &off, "sla.escalation", num);
  int64_t wait = t->ext != NULL ? t->ext->wait_ms : 0;
  if (t->flags & T_WAITING) {
    wait += now - t->ext->wait_since_at_ms;
  }
  snprintf(num, sizeof(num), "%lld", (long long)(wait / 1000));
  put(out, &off, "sla.customer_wait", num);

  char exc[1024] = "";
  size_t len = 0;
  for (uint32_t i = 0; i < s->n_exceptions && len < sizeof(exc); i++) {
    if ((t->exceptions & ((uint32_t)1 << i)) == 0 || (t->flags & T_DEAD)) {
      continue;
    }
    const char *why = t->ext != NULL && t->ext->reasons != NULL &&
                          t->ext->reasons[i] != NULL
                        ? t->ext->reasons[i]
                        : s->exceptions[i].reason;
    int w = snprintf(exc + len, sizeof(exc) - len, "%s%s: %s",
                     len ? "; " : "", s->exceptions[i].name, why);
    len += w > 0 ? (size_t)w : 0;
  }
  put(out, &off, "sla.exception", exc);
}

