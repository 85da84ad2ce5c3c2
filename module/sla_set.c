/* sla_set.c - building and sealing an SLA set (pr_sla_set_*).
**
** Invariants.  Every builder leaves the set as it was on error; a sealed
** set is never changed again (check_open refuses); the ladder and the wait
** timers are sorted at seal; every metric mask names metrics that exist.
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pr_sla_builtin_names[PR_SLA_BUILTIN] = {
  "first_response",
  "next_response",
  "periodic_update",
  "resolution",
};


/* --- Small helpers ------------------------------------------------------- */

int
sla_ascii_casecmp(const char *a, const char *b)
{
  for (;; a++, b++) {
    int ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z') {
      ca += 'a' - 'A';
    }
    if (cb >= 'A' && cb <= 'Z') {
      cb += 'a' - 'A';
    }
    if (ca != cb || ca == 0) {
      return ca - cb;
    }
  }
}


static int
name_ok(const char *name)
{
  if (name == NULL || *name == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    return 0;
  }
  for (const char *p = name; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-')) {
      return 0;
    }
  }
  return 1;
}


/* A duration in the canonical units of labels: "1d2h", "30m", "90s"
** stays "1m30s", "1500ms" is "1s500ms".  0 gives "0s". */
void
sla_format_duration(int64_t ms, char *out, size_t len)
{
  static const struct {
    int64_t ms;
    const char *unit;
  } units[] = {
    {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"},
  };
  size_t off = 0;
  out[0] = '\0';
  if (ms == 0) {
    snprintf(out, len, "0s");
    return;
  }
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    int64_t n = ms / units[i].ms;
    if (n > 0 && off < len) {
      int w = snprintf(out + off, len - off, "%lld%s", (long long)n,
                       units[i].unit);
      off += w > 0 ? (size_t)w : 0;
      ms -= n * units[i].ms;
    }
  }
}


static void
format_share(int32_t permille, int64_t offset_ms, char *out, size_t len)
{
  int n;
  if (permille % 10 == 0) {
    n = snprintf(out, len, "%d%%", (int)(permille / 10));
  } else {
    n = snprintf(out, len, "%d.%d%%", (int)(permille / 10),
                 (int)(permille % 10));
  }
  if (offset_ms > 0 && n > 0 && (size_t)n < len) {
    out[n] = '+';
    sla_format_duration(offset_ms, out + n + 1, len - (size_t)n - 1);
  }
}


static void
free_actions(pr_sla_action_decl *a, uint32_t n)
{
  for (uint32_t i = 0; i < n; i++) {
    free(a[i].name);
    for (uint32_t j = 0; j < a[i].n_args; j++) {
      free((char *)a[i].args[j].name);
      free((char *)a[i].args[j].value);
    }
    free(a[i].args);
  }
  free(a);
}


static void
free_conds(pr_sla_cond *c, uint32_t n)
{
  for (uint32_t i = 0; i < n; i++) {
    free(c[i].status);
    free(c[i].attr);
  }
  free(c);
}


/* Grow an array of elements of size sz by one; NULL on ENOMEM (then the
** old array is intact). */
static void *
grow(void *v, uint32_t n, size_t sz)
{
  return realloc(v, (n + 1) * sz);
}


/* --- Policy names: open addressing, so that 10,000 policies are added
** and found in constant time each ---------------------------------------- */

static uint32_t
name_hash(const char *name)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    h = (h ^ *p) * 16777619u;
  }
  return h;
}

static void
slot_put(uint32_t *slots, uint32_t cap, const char *name, uint32_t index)
{
  uint32_t i = name_hash(name) & (cap - 1);
  while (slots[i] != 0) {
    i = (i + 1) & (cap - 1);
  }
  slots[i] = index + 1;
}

/* Room for one more policy name; ENOMEM leaves the table as it was. */
static int
policy_slots_reserve(pr_sla_set *s)
{
  if ((s->n_policies + 1) * 2 <= s->policy_cap) {
    return PROMPTLY_OK;
  }
  uint32_t cap = s->policy_cap ? s->policy_cap * 2 : 16;
  uint32_t *slots = calloc(cap, sizeof(uint32_t));
  if (slots == NULL) {
    return PROMPTLY_ENOMEM;
  }
  for (uint32_t i = 0; i < s->n_policies; i++) {
    slot_put(slots, cap, s->policies[i].name, i);
  }
  free(s->policy_slots);
  s->policy_slots = slots;
  s->policy_cap = cap;
  return PROMPTLY_OK;
}


/* --- Building a set ------------------------------------------------------ */

static int
set_metric_names(pr_sla_metric *m, const char *name)
{
  size_t n = strlen(name);
  m->name = pr_strdup(name);
  m->due_field = malloc(n + 9);
  m->state_field = malloc(n + 11);
  m->breached_field = malloc(n + 17);
  m->met_field = malloc(n + 12);
  if (m->name == NULL || m->due_field == NULL || m->state_field == NULL ||
      m->breached_field == NULL || m->met_field == NULL) {
    free(m->name);
    free(m->due_field);
    free(m->state_field);
    free(m->breached_field);
    free(m->met_field);
    memset(m, 0, sizeof(*m));
    return PROMPTLY_ENOMEM;
  }
  snprintf(m->due_field, n + 9, "sla.%s.due", name);
  snprintf(m->state_field, n + 11, "sla.%s.state", name);
  snprintf(m->breached_field, n + 17, "sla.%s.breached_at", name);
  snprintf(m->met_field, n + 12, "sla.%s.met_at", name);
  return PROMPTLY_OK;
}


int
pr_sla_set_new(const char *const *levels, uint32_t n_levels,
               pr_sla_set **out, char *err, size_t errlen)
{
  if (levels == NULL || n_levels == 0 || n_levels > PR_SLA_MAX_LEVELS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "an SLA set needs 1 to %d priority levels",
                  PR_SLA_MAX_LEVELS);
  }
  for (uint32_t i = 0; i < n_levels; i++) {
    if (levels[i] == NULL || *levels[i] == '\0' ||
        strlen(levels[i]) >= PR_SLA_NAME_MAX) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "a priority level id needs 1 to %d bytes",
                    PR_SLA_NAME_MAX - 1);
    }
    for (uint32_t j = 0; j < i; j++) {
      if (sla_ascii_casecmp(levels[i], levels[j]) == 0) {
        return pr_err(err, errlen, PROMPTLY_EINVAL,
                      "priority level '%s' declared twice", levels[i]);
      }
    }
  }
  pr_sla_set *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  s->at_risk_permille = 750;
  s->levels = calloc(n_levels, sizeof(char *));
  if (s->levels == NULL) {
    goto fail;
  }
  for (uint32_t i = 0; i < n_levels; i++) {
    s->levels[i] = pr_strdup(levels[i]);
    s->n_levels++;
    if (s->levels[i] == NULL) {
      goto fail;
    }
  }
  for (uint32_t i = 0; i < PR_SLA_BUILTIN; i++) {
    if (set_metric_names(&s->metrics[i], pr_sla_builtin_names[i]) != PROMPTLY_OK) {
      goto fail;
    }
    s->n_metrics++;
  }
  *out = s;
  return PROMPTLY_OK;

fail:
  pr_sla_set_free(s);
  return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
}


void
pr_sla_set_free(pr_sla_set *s)
{
  if (s == NULL) {
    return;
  }
  for (uint32_t i = 0; i < s->n_levels; i++) {
    free(s->levels[i]);
  }
  free(s->levels);
  for (uint32_t i = 0; i < s->n_metrics; i++) {
    pr_sla_metric *m = &s->metrics[i];
    free(m->name);
    free(m->due_field);
    free(m->state_field);
    free(m->breached_field);
    free(m->met_field);
    for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
      free_conds(m->on[r], m->n_on[r]);
    }
  }
  for (uint32_t i = 0; i < s->n_policies; i++) {
    free(s->policies[i].name);
    free(s->policies[i].cal_name);
    free(s->policies[i].target_ms);
    free(s->policies[i].grace_ms);
  }
  free(s->policies);
  free(s->policy_slots);
  for (uint32_t i = 0; i < s->n_pauses; i++) {
    free(s->pauses[i].status);
  }
  free(s->pauses);
  for (uint32_t i = 0; i < s->n_thresholds; i++) {
    free_actions(s->thresholds[i].actions, s->thresholds[i].n_actions);
  }
  free(s->thresholds);
  for (uint32_t i = 0; i < s->n_waits; i++) {
    free_actions(s->waits[i].actions, s->waits[i].n_actions);
  }
  free(s->waits);
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    free(s->exceptions[i].name);
    free(s->exceptions[i].reason);
  }
  free(s->exceptions);
  free(s);
}


static int
check_open(const pr_sla_set *s, char *err, size_t errlen)
{
  if (s == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no SLA set");
  }
  if (s->sealed) {
    return pr_err(err, errlen, PROMPTLY_ESTATE,
                  "the SLA set is sealed; build a new one");
  }
  return PROMPTLY_OK;
}


int
pr_sla_set_add_metric(pr_sla_set *s, const char *name, uint32_t *index,
                      char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (!name_ok(name) || strcmp(name, "wait") == 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "bad metric name '%s' (want [a-z0-9_-], 1 to %d bytes, "
                  "not 'wait')",
                  name ? name : "(null)", PR_SLA_NAME_MAX - 1);
  }
  if (pr_sla_set_metric_find(s, name) >= 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "metric '%s' declared twice", name);
  }
  if (s->n_metrics >= PR_SLA_MAX_METRICS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "too many metrics (at most %d custom ones)",
                  PR_SLA_MAX_METRICS - PR_SLA_BUILTIN);
  }
  /* Build the names and the wider target tables first, then swap, so that
  ** a failure leaves the set as it was. */
  uint32_t nm = s->n_metrics + 1;
  pr_sla_metric m;
  memset(&m, 0, sizeof(m));
  int64_t **wide = calloc(s->n_policies + 1, sizeof(int64_t *));
  if (wide == NULL || set_metric_names(&m, name) != PROMPTLY_OK) {
    free(wide);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  for (uint32_t p = 0; p < s->n_policies; p++) {
    wide[p] = malloc(sizeof(int64_t) * nm * s->n_levels);
    if (wide[p] == NULL) {
      for (uint32_t q = 0; q < p; q++) {
        free(wide[q]);
      }
      free(wide);
      free(m.name);
      free(m.due_field);
      free(m.state_field);
      free(m.breached_field);
      free(m.met_field);
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
    for (uint32_t l = 0; l < s->n_levels; l++) {
      for (uint32_t k = 0; k < nm; k++) {
        wide[p][l * nm + k] =
          k < s->n_metrics ? s->policies[p].target_ms[l * s->n_metrics + k]
                           : PR_SLA_NONE;
      }
    }
  }
  for (uint32_t p = 0; p < s->n_policies; p++) {
    free(s->policies[p].target_ms);
    s->policies[p].target_ms = wide[p];
  }
  free(wide);
  s->metrics[s->n_metrics] = m;
  if (index != NULL) {
    *index = s->n_metrics;
  }
  s->n_metrics = nm;
  return PROMPTLY_OK;
}


/* The set still open and metric a custom one: conditions (start, pause,
** resume, stop roles) are for custom metrics only. */
static int
check_custom(const pr_sla_set *s, uint32_t metric, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (metric < PR_SLA_BUILTIN || metric >= s->n_metrics) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "conditions are for custom metrics only (metric %u)",
                  (unsigned)metric);
  }
  return PROMPTLY_OK;
}


int
pr_sla_set_metric_on(pr_sla_set *s, uint32_t metric, int32_t role,
                     int32_t kind, const char *status, char *err,
                     size_t errlen)
{
  int rc = check_custom(s, metric, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (role < 0 || role >= PR_SLA_ON_ROLES || kind < 0 ||
      kind >= PR_SLA_EV_COUNT) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "metric '%s': bad condition (role %d, event %d)",
                  s->metrics[metric].name, (int)role, (int)kind);
  }
  if (status != NULL && kind != PR_SLA_EV_STATUS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "metric '%s': a status only goes with a status event",
                  s->metrics[metric].name);
  }
  pr_sla_metric *m = &s->metrics[metric];
  pr_sla_cond *v = grow(m->on[role], m->n_on[role], sizeof(*v));
  if (v == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  m->on[role] = v;
  v[m->n_on[role]].kind = kind;
  v[m->n_on[role]].status = NULL;
  v[m->n_on[role]].attr = NULL;
  if (status != NULL) {
    v[m->n_on[role]].status = pr_strdup(status);
    if (v[m->n_on[role]].status == NULL) {
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }
  m->n_on[role]++;
  return PROMPTLY_OK;
}


int
pr_sla_set_metric_on_attr(pr_sla_set *s, uint32_t metric, int32_t role,
                          const char *attr, const char *value, char *err,
                          size_t errlen)
{
  int rc = check_custom(s, metric, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (role < 0 || role >= PR_SLA_ON_ROLES || attr == NULL || *attr == '\0' ||
      value == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "metric '%s': bad attribute condition",
                  s->metrics[metric].name);
  }
  pr_sla_metric *m = &s->metrics[metric];
  pr_sla_cond *v = grow(m->on[role], m->n_on[role], sizeof(*v));
  if (v == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  m->on[role] = v;
  pr_sla_cond *c = &v[m->n_on[role]];
  c->kind = PR_SLA_EV_ATTR;
  c->attr = pr_strdup(attr);
  c->status = pr_strdup(value);
  if (c->attr == NULL || c->status == NULL) {
    free(c->attr);
    free(c->status);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  m->n_on[role]++;
  return PROMPTLY_OK;
}


int
pr_sla_set_add_policy(pr_sla_set *s, const char *name, pr_calendar *cal,
                      uint32_t *index, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (name == NULL || *name == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "a policy needs a name of 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
  }
  if (pr_sla_set_policy_find(s, name) >= 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "policy '%s' declared twice", name);
  }
  if (s->n_policies >= PR_SLA_MAX_POLICIES) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "too many policies (at most %d)", PR_SLA_MAX_POLICIES);
  }
  pr_sla_policy p = {0};
  p.cal = cal;
  p.name = pr_strdup(name);
  p.target_ms = malloc(sizeof(int64_t) * s->n_levels * s->n_metrics);
  /* Grown by doubling: the array's size is a power of two from 8 on. */
  pr_sla_policy *v = s->policies;
  uint32_t n = s->n_policies;
  if (n < 8 || (n & (n - 1)) == 0) {
    v = realloc(s->policies, (n < 8 ? 8 : 2 * (size_t)n) * sizeof(*v));
    if (v != NULL) {
      s->policies = v;
    }
  }
  if (p.name == NULL || p.target_ms == NULL || v == NULL ||
      policy_slots_reserve(s) != PROMPTLY_OK) {
    free(p.name);
    free(p.target_ms);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < s->n_levels * s->n_metrics; i++) {
    p.target_ms[i] = PR_SLA_NONE;
  }
  if (index != NULL) {
    *index = s->n_policies;
  }
  slot_put(s->policy_slots, s->policy_cap, p.name, s->n_policies);
  s->policies[s->n_policies++] = p;
  return PROMPTLY_OK;
}


int
pr_sla_set_policy_calendar(pr_sla_set *s, uint32_t policy, const char *name,
                           char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (policy >= s->n_policies) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no policy %u",
                  (unsigned)policy);
  }
  char *copy = NULL;
  if (name != NULL && (copy = pr_strdup(name)) == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  free(s->policies[policy].cal_name);
  s->policies[policy].cal_name = copy;
  return PROMPTLY_OK;
}


int
pr_sla_set_target(pr_sla_set *s, uint32_t policy, uint32_t level,
                  uint32_t metric, int64_t target_ms, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (policy >= s->n_policies || level >= s->n_levels ||
      metric >= s->n_metrics) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "no such policy, level or metric (%u, %u, %u)",
                  (unsigned)policy, (unsigned)level, (unsigned)metric);
  }
  if (target_ms != PR_SLA_NONE &&
      (target_ms < 0 || target_ms > PR_SLA_MAX_MS)) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "policy '%s': %s target for %s out of range (0 to 10 "
                  "years)",
                  s->policies[policy].name, s->metrics[metric].name,
                  s->levels[level]);
  }
  s->policies[policy].target_ms[level * s->n_metrics + metric] = target_ms;
  return PROMPTLY_OK;
}


int
pr_sla_set_add_pause(pr_sla_set *s, const char *status, int32_t customer_wait,
                     char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (status == NULL || *status == '\0' ||
      sla_ascii_casecmp(status, "resolved") == 0 ||
      sla_ascii_casecmp(status, "closed") == 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "bad pause status '%s'", status ? status : "(null)");
  }
  for (uint32_t i = 0; i < s->n_pauses; i++) {
    if (sla_ascii_casecmp(s->pauses[i].status, status) == 0) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "pause status '%s' declared twice", status);
    }
  }
  pr_sla_pause *v = grow(s->pauses, s->n_pauses, sizeof(*v));
  if (v == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  s->pauses = v;
  v[s->n_pauses].status = pr_strdup(status);
  if (v[s->n_pauses].status == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  v[s->n_pauses].customer_wait = customer_wait ? 1 : 0;
  s->n_pauses++;
  return PROMPTLY_OK;
}


int
pr_sla_set_at_risk(pr_sla_set *s, int32_t permille, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (permille < 1 || permille > 1000) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "the at-risk share must be in (0%%, 100%%]");
  }
  s->at_risk_permille = permille;
  return PROMPTLY_OK;
}


static int
add_threshold(pr_sla_set *s, int32_t permille, int64_t offset_ms,
              uint32_t metrics, int32_t escalate, uint32_t *index, char *err,
              size_t errlen);

int
pr_sla_set_add_threshold(pr_sla_set *s, int32_t permille, int64_t offset_ms,
                         uint32_t metrics, uint32_t *index, char *err,
                         size_t errlen)
{
  return add_threshold(s, permille, offset_ms, metrics, 0, index, err,
                       errlen);
}


int
pr_sla_set_add_escalation(pr_sla_set *s, int32_t permille, int64_t offset_ms,
                          uint32_t metrics, int32_t kind, uint32_t *index,
                          char *err, size_t errlen)
{
  if (kind != PR_SLA_ESCALATE && kind != PR_SLA_ESCALATE_OVER_MANUAL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no such escalation kind");
  }
  return add_threshold(s, permille, offset_ms, metrics, kind, index, err,
                       errlen);
}


static int
add_threshold(pr_sla_set *s, int32_t permille, int64_t offset_ms,
              uint32_t metrics, int32_t escalate, uint32_t *index, char *err,
              size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (permille < 1 || permille > 10000 || offset_ms < 0 ||
      offset_ms > PR_SLA_MAX_MS) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "threshold out of range (share 0.1%% to 1000%%, offset 0 "
                  "to 10 years)");
  }
  if (s->n_thresholds >= PR_SLA_MAX_THRESHOLDS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "too many thresholds (at most %d)", PR_SLA_MAX_THRESHOLDS);
  }
  pr_sla_threshold th;
  memset(&th, 0, sizeof(th));
  th.permille = permille;
  th.offset_ms = offset_ms;
  th.metrics = metrics;
  th.escalate = escalate;
  if (escalate) {
    memcpy(th.label, "escalate-", 9);
    format_share(permille, offset_ms, th.label + 9, sizeof(th.label) - 9);
  } else {
    format_share(permille, offset_ms, th.label, sizeof(th.label));
  }
  for (uint32_t i = 0; i < s->n_thresholds; i++) {
    uint32_t other = s->thresholds[i].metrics;
    if (strcmp(s->thresholds[i].label, th.label) == 0 &&
        (other == 0 || metrics == 0 || (other & metrics) != 0)) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "threshold %s declared twice for one metric", th.label);
    }
  }
  pr_sla_threshold *v = grow(s->thresholds, s->n_thresholds, sizeof(*v));
  if (v == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  s->thresholds = v;
  if (index != NULL) {
    *index = s->n_thresholds;
  }
  v[s->n_thresholds++] = th;
  return PROMPTLY_OK;
}


int
pr_sla_set_out_of_hours(pr_sla_set *s, uint32_t policy, uint32_t metric,
                        int64_t grace_ms, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (policy >= s->n_policies || metric >= s->n_metrics) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no such policy or metric");
  }
  pr_sla_policy *p = &s->policies[policy];
  if (p->cal == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "out_of_hours needs a calendar (a calendar-time policy "
                  "has no hours to be out of)");
  }
  if (grace_ms < 0 || grace_ms > PR_SLA_MAX_MS) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "out_of_hours grace out of range (0 to 10 years)");
  }
  if (p->grace_ms == NULL &&
      (p->grace_ms = calloc(PR_SLA_MAX_METRICS, sizeof(int64_t))) == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  p->grace_ms[metric] = grace_ms;
  return PROMPTLY_OK;
}


int
pr_sla_set_policy_zones(pr_sla_set *s, uint32_t policy, pr_sla_zone_fn fn,
                        void *ud, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (policy >= s->n_policies || s->policies[policy].cal == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "no such policy, or one without a calendar");
  }
  s->policies[policy].zone_fn = fn;
  s->policies[policy].zone_ud = ud;
  return PROMPTLY_OK;
}


/* A target that is a code (PR_SLA_FN, PR_SLA_REL, PR_SLA_BDAYS) rather
** than milliseconds: checked as a target is, then stored as the code. */
static int
set_coded(pr_sla_set *s, uint32_t policy, uint32_t level, uint32_t metric,
          int64_t code, char *err, size_t errlen)
{
  int rc = pr_sla_set_target(s, policy, level, metric, 0, err, errlen);
  if (rc == PROMPTLY_OK) {
    s->policies[policy].target_ms[level * s->n_metrics + metric] = code;
  }
  return rc;
}


int
pr_sla_set_target_fn(pr_sla_set *s, uint32_t policy, uint32_t level,
                     uint32_t metric, uint32_t fn, char *err, size_t errlen)
{
  return set_coded(s, policy, level, metric, PR_SLA_FN(fn), err,
                   errlen);
}


int
pr_sla_set_target_deadline(pr_sla_set *s, uint32_t policy, uint32_t level,
                           uint32_t metric, uint32_t n, int32_t minute,
                           char *err, size_t errlen)
{
  if (n > PR_CAL_MAX_BDAYS || minute < 0 || minute > PR_SLA_REL_END ||
      (n == 0 && minute != PR_SLA_REL_END)) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "relative deadline out of range (0 to %d business days, "
                  "a time of day or the day's end)", PR_CAL_MAX_BDAYS);
  }
  return set_coded(s, policy, level, metric, PR_SLA_REL(n, minute), err,
                   errlen);
}


int
pr_sla_set_target_bdays(pr_sla_set *s, uint32_t policy, uint32_t level,
                        uint32_t metric, uint32_t n, char *err, size_t errlen)
{
  if (n < 1 || n > PR_CAL_MAX_BDAYS) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "%u business days out of range (1 to %d)", (unsigned)n,
                  PR_CAL_MAX_BDAYS);
  }
  return set_coded(s, policy, level, metric, PR_SLA_BDAYS(n), err,
                   errlen);
}


int
pr_sla_set_metric_at_risk(pr_sla_set *s, uint32_t metric, int32_t permille,
                          char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (metric >= s->n_metrics || permille < 1 || permille > 1000) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "at-risk share %d for metric %u out of range",
                  (int)permille, (unsigned)metric);
  }
  s->at_risk_metric[metric] = permille;
  return PROMPTLY_OK;
}


int32_t
pr_sla_at_risk(const pr_sla_set *s, uint32_t m)
{
  return m < PR_SLA_MAX_METRICS && s->at_risk_metric[m] != 0
           ? s->at_risk_metric[m]
           : s->at_risk_permille;
}


int
pr_sla_set_add_wait(pr_sla_set *s, int64_t after_ms, uint32_t *index,
                    char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (after_ms <= 0 || after_ms > PR_SLA_MAX_MS) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "a wait timer must be in (0, 10 years]");
  }
  if (s->n_waits >= PR_SLA_MAX_WAITS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "too many wait timers (at most %d)", PR_SLA_MAX_WAITS);
  }
  pr_sla_wait w;
  memset(&w, 0, sizeof(w));
  w.after_ms = after_ms;
  sla_format_duration(after_ms, w.label, sizeof(w.label));
  for (uint32_t i = 0; i < s->n_waits; i++) {
    if (s->waits[i].after_ms == after_ms) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "wait timer %s declared twice", w.label);
    }
  }
  pr_sla_wait *v = grow(s->waits, s->n_waits, sizeof(*v));
  if (v == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  s->waits = v;
  if (index != NULL) {
    *index = s->n_waits;
  }
  v[s->n_waits++] = w;
  return PROMPTLY_OK;
}


static int
add_action(pr_sla_action_decl **actions, uint32_t *n, const char *name,
           const pr_kv *args, uint32_t n_args, char *err, size_t errlen)
{
  if (!name_ok(name)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "bad action name '%s' (want [a-z0-9_-], 1 to %d bytes)",
                  name ? name : "(null)", PR_SLA_NAME_MAX - 1);
  }
  if (n_args > 0 && args == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "action '%s': no args", name);
  }
  for (uint32_t i = 0; i < n_args; i++) {
    if (args[i].name == NULL || args[i].value == NULL) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "action '%s': an argument without name or value", name);
    }
  }
  pr_sla_action_decl d;
  memset(&d, 0, sizeof(d));
  d.ordinal = 1;
  for (uint32_t i = 0; i < *n; i++) {
    if (strcmp((*actions)[i].name, name) == 0) {
      d.ordinal++;
    }
  }
  d.name = pr_strdup(name);
  d.args = n_args ? calloc(n_args, sizeof(pr_kv)) : NULL;
  if (d.name == NULL || (n_args && d.args == NULL)) {
    goto nomem;
  }
  for (uint32_t i = 0; i < n_args; i++) {
    d.args[i].name = pr_strdup(args[i].name);
    d.args[i].value = pr_strdup(args[i].value);
    d.n_args++;
    if (d.args[i].name == NULL || d.args[i].value == NULL) {
      goto nomem;
    }
  }
  pr_sla_action_decl *v = grow(*actions, *n, sizeof(*v));
  if (v == NULL) {
    goto nomem;
  }
  *actions = v;
  v[(*n)++] = d;
  return PROMPTLY_OK;

nomem:
  for (uint32_t i = 0; i < d.n_args; i++) {
    free((char *)d.args[i].name);
    free((char *)d.args[i].value);
  }
  free(d.args);
  free(d.name);
  return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
}


int
pr_sla_set_threshold_action(pr_sla_set *s, uint32_t threshold,
                            const char *name, const pr_kv *args,
                            uint32_t n_args, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (threshold >= s->n_thresholds) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no threshold %u",
                  (unsigned)threshold);
  }
  pr_sla_threshold *th = &s->thresholds[threshold];
  return add_action(&th->actions, &th->n_actions, name, args, n_args, err,
                    errlen);
}


int
pr_sla_set_wait_action(pr_sla_set *s, uint32_t wait, const char *name,
                       const pr_kv *args, uint32_t n_args, char *err,
                       size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (wait >= s->n_waits) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no wait timer %u",
                  (unsigned)wait);
  }
  pr_sla_wait *w = &s->waits[wait];
  return add_action(&w->actions, &w->n_actions, name, args, n_args, err,
                    errlen);
}


static int
set_quiet(pr_sla_quiet *q, pr_calendar *cal, pr_sla_zone_fn zone_fn,
          void *zone_ud, char *err, size_t errlen)
{
  if (cal == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "a notification calendar is needed");
  }
  q->cal = cal;
  q->zone_fn = zone_fn;
  q->zone_ud = zone_ud;
  return PROMPTLY_OK;
}


int
pr_sla_set_threshold_quiet(pr_sla_set *s, uint32_t threshold,
                           pr_calendar *cal, pr_sla_zone_fn zone_fn,
                           void *zone_ud, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (threshold >= s->n_thresholds) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no threshold %u",
                  (unsigned)threshold);
  }
  return set_quiet(&s->thresholds[threshold].quiet, cal, zone_fn, zone_ud,
                   err, errlen);
}


int
pr_sla_set_wait_quiet(pr_sla_set *s, uint32_t wait, pr_calendar *cal,
                      pr_sla_zone_fn zone_fn, void *zone_ud, char *err,
                      size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (wait >= s->n_waits) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "no wait timer %u",
                  (unsigned)wait);
  }
  return set_quiet(&s->waits[wait].quiet, cal, zone_fn, zone_ud, err,
                   errlen);
}


int
pr_sla_set_add_exception(pr_sla_set *s, const char *name, const char *reason,
                         int32_t kind, int64_t extend_ms, uint32_t metrics,
                         uint32_t *index, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (name == NULL || *name == '\0' || strlen(name) >= PR_SLA_NAME_MAX ||
      pr_sla_set_exception_find(s, name) >= 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "an exception needs a unique name of 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
  }
  if (kind != PR_SLA_EXC_EXCLUDE && kind != PR_SLA_EXC_EXTEND) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "exception '%s': unknown kind %d", name, (int)kind);
  }
  if (kind == PR_SLA_EXC_EXTEND &&
      (extend_ms <= 0 || extend_ms > PR_SLA_MAX_MS)) {
    return pr_err(err, errlen, PROMPTLY_ERANGE,
                  "exception '%s': extension out of range (0 to 10 years)",
                  name);
  }
  if (s->n_exceptions >= PR_SLA_MAX_EXCEPTIONS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "too many exceptions (at most %d)", PR_SLA_MAX_EXCEPTIONS);
  }
  pr_sla_exception e;
  memset(&e, 0, sizeof(e));
  e.kind = kind;
  e.extend_ms = kind == PR_SLA_EXC_EXTEND ? extend_ms : 0;
  e.metrics = metrics;
  e.name = pr_strdup(name);
  e.reason = pr_strdup(reason != NULL ? reason : name);
  pr_sla_exception *v = grow(s->exceptions, s->n_exceptions, sizeof(*v));
  if (v != NULL) {
    s->exceptions = v;
  }
  if (e.name == NULL || e.reason == NULL || v == NULL) {
    free(e.name);
    free(e.reason);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  if (index != NULL) {
    *index = s->n_exceptions;
  }
  v[s->n_exceptions++] = e;
  return PROMPTLY_OK;
}


static int
cmp_threshold(const void *a, const void *b)
{
  const pr_sla_threshold *x = a, *y = b;
  if (x->permille != y->permille) {
    return x->permille < y->permille ? -1 : 1;
  }
  if (x->offset_ms != y->offset_ms) {
    return x->offset_ms < y->offset_ms ? -1 : 1;
  }
  /* At one share, the `at` steps before those of escalate_priority. */
  return (x->escalate != 0) - (y->escalate != 0);
}


static int
cmp_wait(const void *a, const void *b)
{
  const pr_sla_wait *x = a, *y = b;
  return (x->after_ms > y->after_ms) - (x->after_ms < y->after_ms);
}


int
pr_sla_set_seal(pr_sla_set *s, char *err, size_t errlen)
{
  int rc = check_open(s, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  uint32_t all = s->n_metrics >= 32 ? UINT32_MAX
                                    : (((uint32_t)1 << s->n_metrics) - 1);
  for (uint32_t i = 0; i < s->n_thresholds; i++) {
    if (s->thresholds[i].metrics & ~all) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "threshold %s names a metric that does not exist",
                    s->thresholds[i].label);
    }
  }
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    if (s->exceptions[i].metrics & ~all) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "exception '%s' names a metric that does not exist",
                    s->exceptions[i].name);
    }
  }
  for (uint32_t m = PR_SLA_BUILTIN; m < s->n_metrics; m++) {
    if (s->metrics[m].n_on[PR_SLA_ON_START] == 0) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "metric '%s' has no start event", s->metrics[m].name);
    }
  }
  if (s->n_thresholds > 1) {
    qsort(s->thresholds, s->n_thresholds, sizeof(*s->thresholds),
          cmp_threshold);
  }
  /* Entries of one (share, offset) for different metrics are one step. */
  /* escalate_priority's steps are none of sla.escalation's (step 0). */
  const char *prev = NULL;
  for (uint32_t i = 0, step = 0; i < s->n_thresholds; i++) {
    if (s->thresholds[i].escalate) {
      s->step[i] = 0;
      continue;
    }
    if (prev == NULL || strcmp(s->thresholds[i].label, prev) != 0) {
      step++;
    }
    prev = s->thresholds[i].label;
    s->step[i] = (uint8_t)step;
  }
  if (s->n_waits > 1) {
    qsort(s->waits, s->n_waits, sizeof(*s->waits), cmp_wait);
  }
  s->sealed = 1;
  return PROMPTLY_OK;
}


int
pr_sla_set_level_find(const pr_sla_set *s, const char *id)
{
  for (uint32_t i = 0; id != NULL && i < s->n_levels; i++) {
    if (sla_ascii_casecmp(s->levels[i], id) == 0) {
      return (int)i;
    }
  }
  return -1;
}


int
pr_sla_set_metric_find(const pr_sla_set *s, const char *name)
{
  for (uint32_t i = 0; name != NULL && i < s->n_metrics; i++) {
    if (strcmp(s->metrics[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}


int
pr_sla_set_policy_find(const pr_sla_set *s, const char *name)
{
  if (name == NULL || s->policy_cap == 0) {
    return -1;
  }
  for (uint32_t i = name_hash(name) & (s->policy_cap - 1);
       s->policy_slots[i] != 0; i = (i + 1) & (s->policy_cap - 1)) {
    uint32_t p = s->policy_slots[i] - 1;
    if (strcmp(s->policies[p].name, name) == 0) {
      return (int)p;
    }
  }
  return -1;
}


int
pr_sla_set_exception_find(const pr_sla_set *s, const char *name)
{
  for (uint32_t i = 0; name != NULL && i < s->n_exceptions; i++) {
    if (strcmp(s->exceptions[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

