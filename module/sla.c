/* sla.c - SLA policies, per-ticket clocks, thresholds and the fire-once
** ledger, as pure functions of (set, calendars, events, time).
**
** Invariants of a clock.  elapsed_ms is the business time of the current
** cycle up to since_at_ms, counted with the calendar of the clock's policy.
** A clock is running when it is active and has no pause bit; only a
** running clock accrues time after since_at_ms.  Every transition first
** folds the running time into elapsed_ms (since_at_ms = the event's
** instant), so that a change of policy, calendar or target only affects
** the future.  due_at_ms is the due of a running clock as computed at its
** last transition (0: none or paused).
*/
#include "config.h"

#include "sla.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Clock states. */
#define CLK_IDLE   0  /* no cycle yet */
#define CLK_ACTIVE 1  /* started, not met: running or paused */
#define CLK_MET    2  /* the cycle ended (met, resolved, stopped) */

/* Clock flags. */
#define CLK_PAUSE_STATUS 0x01  /* paused by a pause status of the ticket */
#define CLK_PAUSE_OWN    0x02  /* paused by a custom metric's own event */
#define CLK_BREACHED     0x04  /* the target was exceeded in this cycle */
#define CLK_PAUSED       (CLK_PAUSE_STATUS | CLK_PAUSE_OWN)

/* Ticket flags. */
#define T_PAUSED   0x01  /* in a pause status, not resumed by the customer */
#define T_WAITING  0x02  /* in a customer-wait period */
#define T_DONE     0x04  /* resolved or closed */
#define T_DEAD     0x08  /* merged or deleted */
#define T_EXCLUDED 0x10  /* an exclusion exception applies */
#define T_REPLIED  0x20  /* an agent replied publicly at least once */

#define NO_POLICY 0xff
#define NEVER     INT64_MAX

typedef struct sla_clock {
  int64_t start_at_ms;  /* start of the current cycle */
  int64_t since_at_ms;  /* last transition: elapsed_ms counts up to here */
  int64_t elapsed_ms;   /* business ms of the cycle up to since_at_ms */
  int64_t due_at_ms;    /* due of a running clock; 0 = none */
  uint32_t fired;       /* ladder entries fired in this cycle (bits) */
  uint32_t cycle;       /* 1.. for each start; 0 = never started */
  uint8_t state;        /* CLK_* */
  uint8_t flags;        /* CLK_PAUSE_*, CLK_BREACHED */
  uint8_t policy;       /* whose calendar and target; NO_POLICY = none */
} sla_clock;

struct pr_sla_ticket {
  int64_t id;
  int64_t last_at_ms;        /* the latest instant the ticket saw */
  uint64_t policies;         /* matching policies, bit per index */
  int64_t wait_ms;           /* customer wait before wait_since_at_ms */
  int64_t wait_since_at_ms;  /* start of the current wait period */
  char *exc_reason;          /* the last exception's reason, owned */
  uint32_t exceptions;       /* applied exceptions, bit per index */
  uint32_t wait_cycle;       /* wait periods begun */
  uint8_t level;
  uint8_t flags;             /* T_* */
  uint8_t wait_fired;        /* wait timers fired in this period (bits) */
  uint8_t n_clocks;
  sla_clock clocks[];
};

static const char *const builtin_names[PR_SLA_BUILTIN] = {
  "first_response",
  "next_response",
  "periodic_update",
  "resolution",
};


/* --- Small helpers ------------------------------------------------------- */

static int
ascii_casecmp(const char *a, const char *b)
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
static void
format_duration(int64_t ms, char *out, size_t len)
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
    format_duration(offset_ms, out + n + 1, len - (size_t)n - 1);
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


/* --- Building a set ------------------------------------------------------ */

static int
set_metric_names(pr_sla_metric *m, const char *name)
{
  size_t n = strlen(name);
  m->name = pr_strdup(name);
  m->due_field = malloc(n + 9);
  m->state_field = malloc(n + 11);
  if (m->name == NULL || m->due_field == NULL || m->state_field == NULL) {
    free(m->name);
    free(m->due_field);
    free(m->state_field);
    memset(m, 0, sizeof(*m));
    return PROMPTLY_ENOMEM;
  }
  snprintf(m->due_field, n + 9, "sla.%s.due", name);
  snprintf(m->state_field, n + 11, "sla.%s.state", name);
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
      if (ascii_casecmp(levels[i], levels[j]) == 0) {
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
    if (set_metric_names(&s->metrics[i], builtin_names[i]) != PROMPTLY_OK) {
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
    for (int r = 0; r < PR_SLA_ON_ROLES; r++) {
      free_conds(m->on[r], m->n_on[r]);
    }
  }
  for (uint32_t i = 0; i < s->n_policies; i++) {
    free(s->policies[i].name);
    free(s->policies[i].target_ms);
  }
  free(s->policies);
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


int
pr_sla_set_metric_on(pr_sla_set *s, uint32_t metric, int32_t role,
                     int32_t kind, const char *status, char *err,
                     size_t errlen)
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
  pr_sla_policy *v = grow(s->policies, s->n_policies, sizeof(*v));
  if (v != NULL) {
    s->policies = v;
  }
  if (p.name == NULL || p.target_ms == NULL || v == NULL) {
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
  s->policies[s->n_policies++] = p;
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
      ascii_casecmp(status, "resolved") == 0 ||
      ascii_casecmp(status, "closed") == 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "bad pause status '%s'", status ? status : "(null)");
  }
  for (uint32_t i = 0; i < s->n_pauses; i++) {
    if (ascii_casecmp(s->pauses[i].status, status) == 0) {
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


int
pr_sla_set_add_threshold(pr_sla_set *s, int32_t permille, int64_t offset_ms,
                         uint32_t metrics, uint32_t *index, char *err,
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
  format_share(permille, offset_ms, th.label, sizeof(th.label));
  for (uint32_t i = 0; i < s->n_thresholds; i++) {
    if (strcmp(s->thresholds[i].label, th.label) == 0) {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "threshold %s declared twice", th.label);
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
  format_duration(after_ms, w.label, sizeof(w.label));
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
  return (x->offset_ms > y->offset_ms) - (x->offset_ms < y->offset_ms);
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
    if (ascii_casecmp(s->levels[i], id) == 0) {
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
  for (uint32_t i = 0; name != NULL && i < s->n_policies; i++) {
    if (strcmp(s->policies[i].name, name) == 0) {
      return (int)i;
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


/* --- Clock arithmetic ---------------------------------------------------- */

static pr_calendar *
clock_cal(const pr_sla_set *s, const sla_clock *c)
{
  return c->policy == NO_POLICY ? NULL : s->policies[c->policy].cal;
}


/* start + dur of business time of cal (calendar time if NULL); NEVER when
** the calendar never opens again or the sum overflows. */
static int64_t
cal_add(pr_calendar *cal, int64_t start, int64_t dur)
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


static int64_t
cal_between(pr_calendar *cal, int64_t a, int64_t b)
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


static int
clock_running(const sla_clock *c)
{
  return c->state == CLK_ACTIVE && (c->flags & CLK_PAUSED) == 0;
}


static int
applies(uint32_t mask, uint32_t metric)
{
  return mask == 0 || (mask & ((uint32_t)1 << metric)) != 0;
}


static int64_t
extension(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  int64_t ext = 0;
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    const pr_sla_exception *e = &s->exceptions[i];
    if ((t->exceptions & ((uint32_t)1 << i)) && e->kind == PR_SLA_EXC_EXTEND &&
        applies(e->metrics, m)) {
      ext += e->extend_ms;
    }
  }
  return ext;
}


static int64_t
target_of(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
          uint32_t policy)
{
  if (policy == NO_POLICY) {
    return PR_SLA_NONE;
  }
  int64_t v = s->policies[policy].target_ms[t->level * s->n_metrics + m];
  return v == PR_SLA_NONE ? PR_SLA_NONE : v + extension(t, s, m);
}


static int64_t
clock_target(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  return target_of(t, s, m, t->clocks[m].policy);
}


/* Business time of the cycle at instant at. */
static int64_t
elapsed_at(const pr_sla_set *s, const sla_clock *c, int64_t at)
{
  if (!clock_running(c)) {
    return c->elapsed_ms;
  }
  return c->elapsed_ms + cal_between(clock_cal(s, c), c->since_at_ms, at);
}


/* The instant at which a running clock's elapsed time reaches point, with
** the due convention of calendar.h; a point already passed at the last
** transition is reached at that transition.  NEVER if never. */
static int64_t
instant_of(const pr_sla_set *s, const sla_clock *c, int64_t point)
{
  if (point < c->elapsed_ms) {
    return c->since_at_ms;
  }
  return cal_add(clock_cal(s, c), c->since_at_ms, point - c->elapsed_ms);
}


/* Whether the clock's business time has reached point at instant at:
** decided by elapsed time, and only on a tie by the due instant, which
** is itself business-time arithmetic. */
static int
reached(const pr_sla_set *s, const sla_clock *c, int64_t point, int64_t at)
{
  int64_t el = elapsed_at(s, c, at);
  if (el != point) {
    return el > point;
  }
  if (!clock_running(c)) {
    return 0;
  }
  int64_t when = instant_of(s, c, point);
  return when != NEVER && at >= when;
}


static int
clock_breached(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
               int64_t at)
{
  const sla_clock *c = &t->clocks[m];
  if (c->state == CLK_IDLE) {
    return 0;
  }
  if (c->flags & CLK_BREACHED) {
    return 1;
  }
  int64_t tg = clock_target(t, s, m);
  return c->state == CLK_ACTIVE && tg != PR_SLA_NONE && reached(s, c, tg, at);
}


/* Bring elapsed_ms up to at. */
static void
fold(const pr_sla_set *s, sla_clock *c, int64_t at)
{
  if (c->state != CLK_ACTIVE || at <= c->since_at_ms) {
    return;
  }
  if (clock_running(c)) {
    c->elapsed_ms += cal_between(clock_cal(s, c), c->since_at_ms, at);
  }
  c->since_at_ms = at;
}


/* Choose the policy whose target for metric m is due first from the
** clock's state at its last transition: candidates already past their
** target first (the furthest past), then by due instant, "never due"
** last, ties to the policy declared first.  With no target anywhere the
** first matching policy still lends its calendar, so that time keeps
** being counted in the business time a later target will use. */
static void
choose_policy(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  sla_clock *c = &t->clocks[m];
  if (c->state == CLK_IDLE) {
    /* Not started: chosen as if it started now, for sla.policy. */
    c->since_at_ms = t->last_at_ms;
  }
  uint32_t best = NO_POLICY, first = NO_POLICY;
  int best_class = 3;
  int64_t best_key = 0;
  for (uint32_t p = 0; p < s->n_policies; p++) {
    if ((t->policies & ((uint64_t)1 << p)) == 0) {
      continue;
    }
    if (first == NO_POLICY) {
      first = p;
    }
    int64_t tg = target_of(t, s, m, p);
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
      key = cal_add(s->policies[p].cal, c->since_at_ms, rem);
      cls = key == NEVER ? 2 : 1;
    }
    if (cls < best_class || (cls == best_class && key < best_key)) {
      best = p;
      best_class = cls;
      best_key = key;
    }
  }
  c->policy = (uint8_t)(best != NO_POLICY ? best : first);
}


/* Recompute the due of an active clock from its last transition.  A clock
** already past its target keeps the due at which it broke, if known. */
static void
update_due(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m)
{
  sla_clock *c = &t->clocks[m];
  int64_t tg = clock_target(t, s, m);
  if (c->state != CLK_ACTIVE || tg == PR_SLA_NONE) {
    c->due_at_ms = 0;
    return;
  }
  if (tg < c->elapsed_ms) {
    if (c->due_at_ms == 0 || c->due_at_ms > c->since_at_ms) {
      c->due_at_ms = c->since_at_ms;
    }
    return;
  }
  if (c->flags & CLK_PAUSED) {
    return;  /* Shown as no due; recomputed on resume. */
  }
  int64_t due = cal_add(clock_cal(s, c), c->since_at_ms, tg - c->elapsed_ms);
  c->due_at_ms = due == NEVER ? 0 : due;
}


static void
start_cycle(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at)
{
  sla_clock *c = &t->clocks[m];
  c->cycle++;
  c->state = CLK_ACTIVE;
  c->start_at_ms = at;
  c->since_at_ms = at;
  c->elapsed_ms = 0;
  c->due_at_ms = 0;
  c->fired = 0;
  c->flags = (t->flags & T_PAUSED) ? CLK_PAUSE_STATUS : 0;
  choose_policy(t, s, m);
  update_due(t, s, m);
}


static void
meet(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at)
{
  sla_clock *c = &t->clocks[m];
  if (c->state != CLK_ACTIVE) {
    return;
  }
  fold(s, c, at);
  int64_t tg = clock_target(t, s, m);
  if (clock_breached(t, s, m, at)) {
    c->flags |= CLK_BREACHED;
  } else if (tg != PR_SLA_NONE) {
    /* The due it was met against, as of now: a paused clock's due had
    ** been moving. */
    int64_t due = cal_add(clock_cal(s, c), at, tg - c->elapsed_ms);
    c->due_at_ms = due == NEVER ? 0 : due;
  }
  c->state = CLK_MET;
  c->flags &= (uint8_t)~CLK_PAUSED;
}


static void
pause_clock(const pr_sla_set *s, sla_clock *c, int64_t at, uint8_t bit)
{
  if (c->state != CLK_ACTIVE) {
    return;
  }
  fold(s, c, at);
  c->flags |= bit;
}


static void
resume_clock(pr_sla_ticket *t, const pr_sla_set *s, uint32_t m, int64_t at,
             uint8_t bit)
{
  sla_clock *c = &t->clocks[m];
  if (c->state != CLK_ACTIVE || (c->flags & bit) == 0) {
    return;
  }
  fold(s, c, at);
  c->since_at_ms = at;
  c->flags &= (uint8_t)~bit;
  update_due(t, s, m);
}


/* Re-choose every unmet clock's policy after a change of level, policies
** or exceptions.  A breach is re-decided under the new target; thresholds
** already fired in the cycle stay fired. */
static void
retarget_all(pr_sla_ticket *t, const pr_sla_set *s)
{
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if (c->state == CLK_MET) {
      continue;
    }
    choose_policy(t, s, m);
    if (c->state == CLK_ACTIVE) {
      c->flags &= (uint8_t)~CLK_BREACHED;
      c->due_at_ms = 0;
      update_due(t, s, m);
    }
  }
}


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
  free(a->v);
  a->v = NULL;
  a->n = 0;
  a->cap = 0;
}


static int
emit(pr_sla_actions *out, const pr_sla_ticket *t, int64_t at,
     const char *metric, uint32_t cycle, const char *label,
     const pr_sla_action_decl *d)
{
  pr_sla_action act;
  memset(&act, 0, sizeof(act));
  if (d->ordinal > 1) {
    snprintf(act.key, sizeof(act.key), "%lld:%s:%u:%s:%s.%u",
             (long long)t->id, metric, (unsigned)cycle, label, d->name,
             (unsigned)d->ordinal);
  } else {
    snprintf(act.key, sizeof(act.key), "%lld:%s:%u:%s:%s", (long long)t->id,
             metric, (unsigned)cycle, label, d->name);
  }
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


static int64_t
threshold_point(const pr_sla_threshold *th, int64_t target)
{
  return target * th->permille / 1000 + th->offset_ms;
}


/* Record breaches and fire every ladder entry and wait timer reached at
** or before at, in (instant, metric, entry) order. */
static int
fire_due(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
         pr_sla_actions *out)
{
  if (t->flags & (T_DEAD | T_EXCLUDED)) {
    return PROMPTLY_OK;
  }
  due_item items[PR_SLA_MAX_METRICS * PR_SLA_MAX_THRESHOLDS + PR_SLA_MAX_WAITS];
  uint32_t n = 0;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    int64_t tg = clock_target(t, s, m);
    if (!clock_running(c) || tg == PR_SLA_NONE) {
      continue;
    }
    if ((c->flags & CLK_BREACHED) == 0 && reached(s, c, tg, at)) {
      c->flags |= CLK_BREACHED;
    }
    for (uint32_t j = 0; j < s->n_thresholds; j++) {
      const pr_sla_threshold *th = &s->thresholds[j];
      if (!applies(th->metrics, m) || (c->fired & ((uint32_t)1 << j))) {
        continue;
      }
      int64_t when = instant_of(s, c, threshold_point(th, tg));
      if (when != NEVER && when <= at) {
        items[n++] = (due_item){when, m, j};
      }
    }
  }
  if (t->flags & T_WAITING) {
    for (uint32_t w = 0; w < s->n_waits; w++) {
      int64_t when = t->wait_since_at_ms + s->waits[w].after_ms;
      if ((t->wait_fired & (1u << w)) == 0 && when <= at) {
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
    uint32_t n_acts, cycle;
    const char *metric, *label;
    if (items[i].metric == PR_SLA_MAX_METRICS) {
      const pr_sla_wait *w = &s->waits[items[i].entry];
      t->wait_fired |= (uint8_t)(1u << items[i].entry);
      acts = w->actions;
      n_acts = w->n_actions;
      metric = "wait";
      cycle = t->wait_cycle;
      label = w->label;
    } else {
      sla_clock *c = &t->clocks[items[i].metric];
      const pr_sla_threshold *th = &s->thresholds[items[i].entry];
      c->fired |= (uint32_t)1 << items[i].entry;
      acts = th->actions;
      n_acts = th->n_actions;
      metric = s->metrics[items[i].metric].name;
      cycle = c->cycle;
      label = th->label;
    }
    for (uint32_t k = 0; k < n_acts; k++) {
      if (emit(out, t, items[i].at_ms, metric, cycle, label, &acts[k]) !=
          PROMPTLY_OK) {
        rc = PROMPTLY_ENOMEM;
      }
    }
  }
  return rc;
}


/* --- Transitions --------------------------------------------------------- */

#define ST_OPEN  0
#define ST_PAUSE 1
#define ST_DONE  2

static int
status_class(const pr_sla_set *s, const char *status, int *customer)
{
  *customer = 0;
  if (ascii_casecmp(status, "resolved") == 0 ||
      ascii_casecmp(status, "closed") == 0) {
    return ST_DONE;
  }
  for (uint32_t i = 0; i < s->n_pauses; i++) {
    if (ascii_casecmp(s->pauses[i].status, status) == 0) {
      *customer = s->pauses[i].customer_wait;
      return ST_PAUSE;
    }
  }
  return ST_OPEN;
}


static void
begin_wait(pr_sla_ticket *t, int64_t at)
{
  t->flags |= T_WAITING;
  t->wait_cycle++;
  t->wait_fired = 0;
  t->wait_since_at_ms = at;
}


static void
end_wait(pr_sla_ticket *t, int64_t at)
{
  if (t->flags & T_WAITING) {
    t->wait_ms += at - t->wait_since_at_ms;
    t->flags &= (uint8_t)~T_WAITING;
  }
}


static void
resume_all(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  t->flags &= (uint8_t)~T_PAUSED;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    resume_clock(t, s, m, at, CLK_PAUSE_STATUS);
  }
}


static void
resolve(pr_sla_ticket *t, const pr_sla_set *s, int64_t at)
{
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    meet(t, s, m, at);
  }
  end_wait(t, at);
  t->flags &= (uint8_t)~T_PAUSED;
  t->flags |= T_DONE;
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
    r->flags &= (uint8_t)~CLK_PAUSED;
    update_due(t, s, PR_SLA_RESOLUTION);
  }
  if (t->clocks[PR_SLA_PERIODIC_UPDATE].cycle > 0) {
    start_cycle(t, s, PR_SLA_PERIODIC_UPDATE, at);
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
      resolve(t, s, at);
    }
    return;
  }
  if (t->flags & T_DONE) {
    reopen(t, s, at);
  }
  if (cls == ST_PAUSE) {
    if ((t->flags & T_PAUSED) == 0) {
      t->flags |= T_PAUSED;
      for (uint32_t m = 0; m < t->n_clocks; m++) {
        pause_clock(s, &t->clocks[m], at, CLK_PAUSE_STATUS);
      }
    }
    if (customer && (t->flags & T_WAITING) == 0) {
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
         (status != NULL && ascii_casecmp(c->status, status) == 0))) {
      return 1;
    }
  }
  return 0;
}


/* A custom metric's own conditions; one role per event, stop first. */
static void
custom_event(pr_sla_ticket *t, const pr_sla_set *s, int32_t kind,
             const char *status, int64_t at)
{
  for (uint32_t m = PR_SLA_BUILTIN; m < t->n_clocks; m++) {
    const pr_sla_metric *def = &s->metrics[m];
    sla_clock *c = &t->clocks[m];
    if (cond_match(def, PR_SLA_ON_STOP, kind, status)) {
      meet(t, s, m, at);
    } else if (cond_match(def, PR_SLA_ON_PAUSE, kind, status)) {
      pause_clock(s, c, at, CLK_PAUSE_OWN);
    } else if (cond_match(def, PR_SLA_ON_RESUME, kind, status)) {
      resume_clock(t, s, m, at, CLK_PAUSE_OWN);
    } else if (cond_match(def, PR_SLA_ON_START, kind, status)) {
      if (c->state != CLK_ACTIVE) {
        if ((t->flags & T_DONE) == 0) {
          start_cycle(t, s, m, at);
        }
      } else if (def->n_on[PR_SLA_ON_RESUME] == 0) {
        resume_clock(t, s, m, at, CLK_PAUSE_OWN);
      }
    }
  }
}


static int64_t
clamp_at(pr_sla_ticket *t, int64_t at)
{
  if (at < t->last_at_ms) {
    at = t->last_at_ms;
  }
  t->last_at_ms = at;
  return at;
}


static int
check_set(const pr_sla_set *s)
{
  return s != NULL && s->sealed;
}


int
pr_sla_open(const pr_sla_set *s, int64_t ticket, int64_t at_ms,
            uint32_t level, uint64_t policies, const char *status,
            pr_sla_actions *out, pr_sla_ticket **tp)
{
  if (!check_set(s) || out == NULL || tp == NULL || level >= s->n_levels ||
      (s->n_policies < 64 && (policies >> s->n_policies) != 0)) {
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
  t->policies = policies;
  t->n_clocks = (uint8_t)s->n_metrics;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    t->clocks[m].policy = NO_POLICY;
    choose_policy(t, s, m);
  }
  if (status != NULL) {
    apply_status(t, s, status, at_ms);
  }
  start_cycle(t, s, PR_SLA_FIRST_RESPONSE, at_ms);
  start_cycle(t, s, PR_SLA_RESOLUTION, at_ms);
  custom_event(t, s, PR_SLA_EV_CREATE, NULL, at_ms);
  if (t->flags & T_DONE) {
    resolve(t, s, at_ms);
  }
  int rc = fire_due(t, s, at_ms, out);
  *tp = t;
  return rc;
}


void
pr_sla_ticket_free(pr_sla_ticket *t)
{
  if (t != NULL) {
    free(t->exc_reason);
    free(t);
  }
}


int
pr_sla_event(pr_sla_ticket *t, const pr_sla_set *s, int32_t kind,
             const char *status, int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || kind < PR_SLA_EV_REPLY_AGENT ||
      kind >= PR_SLA_EV_COUNT || (kind == PR_SLA_EV_STATUS && status == NULL)) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  int64_t at = clamp_at(t, at_ms);
  int rc = fire_due(t, s, at, out);

  switch (kind) {
  case PR_SLA_EV_REPLY_AGENT:
    t->flags |= T_REPLIED;
    meet(t, s, PR_SLA_FIRST_RESPONSE, at);
    meet(t, s, PR_SLA_NEXT_RESPONSE, at);
    if ((t->flags & T_DONE) == 0) {
      meet(t, s, PR_SLA_PERIODIC_UPDATE, at);
      start_cycle(t, s, PR_SLA_PERIODIC_UPDATE, at);
    }
    break;
  case PR_SLA_EV_REPLY_CUSTOMER:
    if (t->flags & T_PAUSED) {
      resume_all(t, s, at);
    }
    end_wait(t, at);
    if ((t->flags & (T_REPLIED | T_DONE)) == T_REPLIED &&
        t->clocks[PR_SLA_NEXT_RESPONSE].state != CLK_ACTIVE) {
      start_cycle(t, s, PR_SLA_NEXT_RESPONSE, at);
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
      fold(s, &t->clocks[m], at);
    }
    end_wait(t, at);
    t->flags |= T_DEAD;
    return rc;
  default:
    break;  /* A note moves only custom metrics. */
  }
  custom_event(t, s, kind, status, at);
  int rc2 = fire_due(t, s, at, out);
  return rc != PROMPTLY_OK ? rc : rc2;
}


int
pr_sla_retarget(pr_sla_ticket *t, const pr_sla_set *s, uint32_t level,
                uint64_t policies, int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || level >= s->n_levels ||
      (s->n_policies < 64 && (policies >> s->n_policies) != 0)) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  int64_t at = clamp_at(t, at_ms);
  int rc = fire_due(t, s, at, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    fold(s, &t->clocks[m], at);
  }
  t->level = (uint8_t)level;
  t->policies = policies;
  retarget_all(t, s);
  int rc2 = fire_due(t, s, at, out);
  return rc != PROMPTLY_OK ? rc : rc2;
}


int
pr_sla_except(pr_sla_ticket *t, const pr_sla_set *s, uint32_t exception,
              const char *reason, int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || exception >= s->n_exceptions) {
    return PROMPTLY_EINVAL;
  }
  if (t->flags & T_DEAD) {
    return PROMPTLY_ESTATE;
  }
  if (t->exceptions & ((uint32_t)1 << exception)) {
    return PROMPTLY_OK;
  }
  const pr_sla_exception *e = &s->exceptions[exception];
  char *why = pr_strdup(reason != NULL ? reason : e->reason);
  if (why == NULL) {
    return PROMPTLY_ENOMEM;
  }
  int64_t at = clamp_at(t, at_ms);
  int rc = fire_due(t, s, at, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    fold(s, &t->clocks[m], at);
  }
  free(t->exc_reason);
  t->exc_reason = why;
  t->exceptions |= (uint32_t)1 << exception;
  if (e->kind == PR_SLA_EXC_EXCLUDE) {
    t->flags |= T_EXCLUDED;
    return rc;
  }
  retarget_all(t, s);
  int rc2 = fire_due(t, s, at, out);
  return rc != PROMPTLY_OK ? rc : rc2;
}


int
pr_sla_fire(pr_sla_ticket *t, const pr_sla_set *s, int64_t at_ms,
            pr_sla_actions *out)
{
  if (t == NULL || !check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  return fire_due(t, s, clamp_at(t, at_ms), out);
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
  if (t == NULL || !check_set(s) || next_ms == NULL ||
      t->n_clocks != s->n_metrics || (t->flags & (T_DEAD | T_EXCLUDED))) {
    return 0;
  }
  int64_t best = NEVER;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int64_t tg = clock_target(t, s, m);
    if (!clock_running(c) || tg == PR_SLA_NONE) {
      continue;
    }
    /* Ledger entries not yet fired count even when overdue. */
    for (uint32_t j = 0; j < s->n_thresholds; j++) {
      const pr_sla_threshold *th = &s->thresholds[j];
      if (applies(th->metrics, m) && (c->fired & ((uint32_t)1 << j)) == 0) {
        consider(instant_of(s, c, threshold_point(th, tg)), INT64_MIN, &best);
      }
    }
    if ((c->flags & CLK_BREACHED) == 0) {
      consider(instant_of(s, c, tg), at_ms, &best);
    }
    consider(instant_of(s, c, tg * s->at_risk_permille / 1000), at_ms, &best);
  }
  if (t->flags & T_WAITING) {
    for (uint32_t w = 0; w < s->n_waits; w++) {
      if ((t->wait_fired & (1u << w)) == 0) {
        consider(t->wait_since_at_ms + s->waits[w].after_ms, INT64_MIN, &best);
      }
    }
  }
  if (best == NEVER) {
    return 0;
  }
  *next_ms = best;
  return 1;
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


int
pr_sla_rebind(pr_sla_ticket *t, const pr_sla_set *old_s,
              const pr_sla_set *new_s, int64_t at_ms, pr_sla_actions *out,
              pr_sla_ticket **tp)
{
  if (t == NULL || !check_set(old_s) || !check_set(new_s) || out == NULL ||
      tp == NULL || t->n_clocks != old_s->n_metrics) {
    return PROMPTLY_EINVAL;
  }
  pr_sla_ticket *nt =
    calloc(1, sizeof(*nt) + (size_t)new_s->n_metrics * sizeof(sla_clock));
  if (nt == NULL) {
    return PROMPTLY_ENOMEM;
  }
  int64_t at = clamp_at(t, at_ms);
  int rc = fire_due(t, old_s, at, out);
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    fold(old_s, &t->clocks[m], at);
  }

  nt->id = t->id;
  nt->last_at_ms = t->last_at_ms;
  nt->wait_ms = t->wait_ms;
  nt->wait_since_at_ms = t->wait_since_at_ms;
  nt->wait_cycle = t->wait_cycle;
  nt->flags = t->flags;
  nt->n_clocks = (uint8_t)new_s->n_metrics;
  int level = pr_sla_set_level_find(new_s, old_s->levels[t->level]);
  nt->level = (uint8_t)(level < 0 ? 0 : level);
  for (uint32_t p = 0; p < old_s->n_policies; p++) {
    uint32_t q = map_policy(old_s, new_s, p);
    if ((t->policies & ((uint64_t)1 << p)) && q != NO_POLICY) {
      nt->policies |= (uint64_t)1 << q;
    }
  }
  for (uint32_t e = 0; e < old_s->n_exceptions; e++) {
    int f = pr_sla_set_exception_find(new_s, old_s->exceptions[e].name);
    if ((t->exceptions & ((uint32_t)1 << e)) && f >= 0) {
      nt->exceptions |= (uint32_t)1 << f;
    }
  }
  for (uint32_t w = 0; w < old_s->n_waits; w++) {
    for (uint32_t v = 0; v < new_s->n_waits; v++) {
      if ((t->wait_fired & (1u << w)) &&
          strcmp(old_s->waits[w].label, new_s->waits[v].label) == 0) {
        nt->wait_fired |= (uint8_t)(1u << v);
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
    c->policy = (uint8_t)map_policy(old_s, new_s, oc->policy);
    c->fired = 0;
    for (uint32_t j = 0; j < old_s->n_thresholds; j++) {
      if ((oc->fired & ((uint32_t)1 << j)) == 0) {
        continue;
      }
      for (uint32_t k = 0; k < new_s->n_thresholds; k++) {
        if (strcmp(old_s->thresholds[j].label, new_s->thresholds[k].label) ==
            0) {
          c->fired |= (uint32_t)1 << k;
        }
      }
    }
  }
  if (nt->flags & T_DONE) {
    /* A custom metric new in this set must not start on a done ticket. */
    for (uint32_t m = 0; m < nt->n_clocks; m++) {
      if (nt->clocks[m].state == CLK_ACTIVE) {
        meet(nt, new_s, m, at);
      }
    }
  }
  retarget_all(nt, new_s);
  nt->exc_reason = t->exc_reason;
  t->exc_reason = NULL;
  pr_sla_ticket_free(t);
  int rc2 = fire_due(nt, new_s, at, out);
  *tp = nt;
  return rc != PROMPTLY_OK ? rc : rc2;
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
  return t->policies;
}


const char *
pr_sla_ticket_exception(const pr_sla_ticket *t, int *excluded)
{
  if (excluded != NULL) {
    *excluded = (t->flags & T_EXCLUDED) != 0;
  }
  return t->exc_reason;
}


size_t
pr_sla_ticket_size(const pr_sla_ticket *t)
{
  size_t n = sizeof(*t) + (size_t)t->n_clocks * sizeof(sla_clock);
  if (t->exc_reason != NULL) {
    n += strlen(t->exc_reason) + 1;
  }
  return n;
}


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
  if (c->state == CLK_IDLE || clock_target(t, s, m) == PR_SLA_NONE) {
    return "none";
  }
  if (clock_breached(t, s, m, now)) {
    return "breached";
  }
  if (c->state == CLK_MET) {
    return "met";
  }
  return clock_running(c) ? "running" : "paused";
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
  out->business = clock_cal(s, c) != NULL;
  out->cycle = c->cycle;
  out->target_ms = clock_target(t, s, m);
  out->elapsed_ms = c->state == CLK_IDLE ? 0 : elapsed_at(s, c, now);
  out->due_at_ms = clock_running(c) ? c->due_at_ms : 0;
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
    if (clock_target(t, s, m) == PR_SLA_NONE) {
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
      if (clock_target(t, s, m) != PR_SLA_NONE && len < sizeof(pol)) {
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
    int64_t tg = clock_target(t, s, m);
    if (c->state == CLK_IDLE || tg == PR_SLA_NONE) {
      continue;
    }
    if (clock_breached(t, s, m, now)) {
      if (c->state == CLK_ACTIVE) {
        breached = 1;
      } else {
        was_breached = 1;
      }
    }
    if (clock_running(c)) {
      running = 1;
      if (reached(s, c, tg * s->at_risk_permille / 1000, now)) {
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
  put(out, &off, "sla.status", status);
  put_instant(out, &off, "sla.due", due);

  for (uint32_t m = 0; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    int show = !gone && c->state != CLK_IDLE &&
               (c->flags & CLK_PAUSED) == 0 &&
               clock_target(t, s, m) != PR_SLA_NONE;
    put_instant(out, &off, s->metrics[m].due_field, show ? c->due_at_ms : 0);
    put(out, &off, s->metrics[m].state_field,
        gone ? "none" : metric_state(t, s, m, now));
  }

  int level = 0;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    for (int j = PR_SLA_MAX_THRESHOLDS - 1; j >= level; j--) {
      if (t->clocks[m].fired & ((uint32_t)1 << j)) {
        level = j + 1;
        break;
      }
    }
  }
  char num[24];
  snprintf(num, sizeof(num), "%d", level);
  put(out, &off, "sla.escalation", num);
  int64_t wait = t->wait_ms;
  if (t->flags & T_WAITING) {
    wait += now - t->wait_since_at_ms;
  }
  snprintf(num, sizeof(num), "%lld", (long long)(wait / 1000));
  put(out, &off, "sla.customer_wait", num);
}
