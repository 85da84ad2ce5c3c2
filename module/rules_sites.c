/* rules_sites.c - where the rules declared what the SLA set holds: the
** "file:line" of a policy, a ladder step, a wait timer, an exception, a
** pause, the at-risk share, for the SLA events a person reads (ABI 1.2).
**
** Invariants.  Pure lookups over a loaded rule set: nothing changes, and
** every answer is a string of r (valid as long as r) or NULL when the
** rules name no such declaration (a default: no at_risk written, a level
** no rule matched).  The sealed set sorts its ladder, so a step is found
** by what it is (share, offset, metrics, escalation or not), never by its
** index in the set.
*/
#include "config.h"

#include "rules_internal.h"
#include "sla.h"

#include <string.h>

#include <glib.h>

static const char *
where(const rules_site *site)
{
  return site->where[0] != '\0' ? site->where : NULL;
}


const char *
pr_rules_policy_site(const pr_rules *r, const char *policy)
{
  if (r == NULL || policy == NULL || r->policy_names == NULL) {
    return NULL;
  }
  size_t i = GPOINTER_TO_SIZE(g_hash_table_lookup(r->policy_names, policy));
  return i > 0 && i <= r->n_policies ? where(&r->policies[i - 1].site) : NULL;
}


/* The metric mask of a step's names, as the set holds it (0: every
** metric); a name the set lacks makes no mask (the step was refused). */
static int
names_mask(const pr_sla_set *s, char **names, size_t n, uint32_t *mask)
{
  *mask = 0;
  for (size_t i = 0; i < n; i++) {
    int m = pr_sla_set_metric_find(s, names[i]);
    if (m < 0) {
      return -1;
    }
    *mask |= (uint32_t)1 << m;
  }
  return 0;
}


const char *
pr_rules_threshold_site(const pr_rules *r, const char *metric,
                        const char *label)
{
  if (r == NULL || r->sla == NULL || metric == NULL || label == NULL) {
    return NULL;
  }
  const pr_sla_set *s = r->sla;
  int m = pr_sla_set_metric_find(s, metric);
  if (m < 0) {
    return NULL;
  }
  for (uint32_t j = 0; j < s->n_thresholds; j++) {
    const pr_sla_threshold *th = &s->thresholds[j];
    if (strcmp(th->label, label) != 0 ||
        (th->metrics != 0 && !(th->metrics & ((uint32_t)1 << m)))) {
      continue;
    }
    for (size_t i = 0; i < r->n_ats; i++) {
      const rules_at *a = &r->ats[i];
      uint32_t mask;
      if (a->complete && a->permille == th->permille &&
          a->offset_ms == th->offset_ms &&
          (a->escalate != 0) == (th->escalate != 0) &&
          names_mask(s, a->metrics, a->n_metrics, &mask) == 0 &&
          mask == th->metrics) {
        return where(&a->site);
      }
    }
  }
  return NULL;
}


const char *
pr_rules_wait_site(const pr_rules *r, const char *label)
{
  if (r == NULL || r->sla == NULL || label == NULL) {
    return NULL;
  }
  for (uint32_t j = 0; j < r->sla->n_waits; j++) {
    if (strcmp(r->sla->waits[j].label, label) != 0) {
      continue;
    }
    for (size_t i = 0; i < r->n_waits; i++) {
      if (r->waits[i].complete &&
          r->waits[i].after_ms == r->sla->waits[j].after_ms) {
        return where(&r->waits[i].site);
      }
    }
  }
  return NULL;
}


const char *
pr_rules_exception_site(const pr_rules *r, const char *name)
{
  for (size_t i = 0; r != NULL && name != NULL && i < r->n_excs; i++) {
    if (r->excs[i].name != NULL && strcmp(r->excs[i].name, name) == 0) {
      return where(&r->excs[i].site);
    }
  }
  return NULL;
}


const char *
pr_rules_pause_site(const pr_rules *r, const char *status, uint32_t holds,
                    uint32_t first)
{
  if (r == NULL) {
    return NULL;
  }
  for (size_t i = 0; status != NULL && i < r->n_pauses; i++) {
    const rules_pause *p = &r->pauses[i];
    if (g_ascii_strcasecmp(p->status, status) == 0) {
      /* customer_wait "x" over pause_on "x": the wait is what it does. */
      return where(p->named[1] ? &p->decl[1]
                   : p->named[0] ? &p->decl[0] : &p->site);
    }
  }
  int wait = (holds & PR_SLA_COND_WAIT) != 0;
  if (holds != 0 && first != 0 && first <= r->n_pconds &&
      r->pconds[first - 1].customer_wait == wait) {
    return where(&r->pconds[first - 1].site);
  }
  for (size_t i = 0; holds != 0 && i < r->n_pconds; i++) {
    if (r->pconds[i].customer_wait == wait) {
      return where(&r->pconds[i].site);
    }
  }
  return NULL;
}


const char *
pr_rules_at_risk_site(const pr_rules *r)
{
  return r != NULL ? where(&r->at_risk_site) : NULL;
}
