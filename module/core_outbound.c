/* core_outbound.c - what an instance hands to its host for a ticket: the
** fields that changed (publish: only what differs from what the host last
** accepted; a refused write is retried with the next change), the actions
** that came due, in order (carry_out; raise_priority and set_priority are
** applied here, and an action held for quiet hours carries reached_at),
** the outcome records of cycles that ended (hand_records), and the SLA
** events of the change (events_begin, event_add, events_emit: built only
** for a host that set sla_event, each handed out once the fields that
** show it were accepted).
*/
#include "config.h"

#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
action_arg(const pr_sla_action *a, const char *name)
{
  for (uint32_t i = 0; i < a->n_args; i++) {
    if (strcmp(a->args[i].name, name) == 0) {
      return a->args[i].value;
    }
  }
  return NULL;
}

/* raise_priority and set_priority change the priority the ticket shows;
** the clocks keep the targets they run on, so a raise at breach does not
** make later thresholds fire at once.  A step of escalate_priority raises
** one level once per ticket, not past the top level, and not over an
** agent's priority unless it says over_manual; a step that does nothing
** is not handed to the host (0), every other action is (1). */
int
core_apply_priority_action(promptly *p, pr_ticket *t, const pr_sla_action *a)
{
  if (strcmp(a->name, "raise_priority") != 0 &&
      strcmp(a->name, "set_priority") != 0) {
    return 1;
  }
  int cur = t->priority ? pr_rules_level_find(p->rules, t->priority)
                        : (int)pr_rules_default_level(p->rules);
  /* A ladder step changes the priority once per ticket, whichever metric
  ** reaches it first, unless the step names its metrics (then once per
  ** metric and cycle, as its key says). */
  const pr_sla_set *s = core_sla_set(p);
  for (uint32_t j = 0; j < s->n_thresholds && j < 32; j++) {
    const pr_sla_threshold *th = &s->thresholds[j];
    if (strcmp(th->label, a->threshold) != 0) {
      continue;
    }
    uint32_t bit = (uint32_t)1 << j;
    if (th->escalate) {
      const char *why = (t->raised & bit) ? "this step raised it already "
                                            "(once per ticket)"
                        : t->manual && th->escalate != PR_SLA_ESCALATE_OVER_MANUAL
                          ? "an agent set it by hand (over_manual is false)"
                        : cur <= 0 ? "it is at the top level already"
                                   : NULL;
      if (why != NULL) {
        core_trace(p, t, a->at_ms, "escalate_priority %s of %s: the priority "
              "stays %s: %s", a->threshold + 9, a->metric,
              t->priority ? t->priority : "(default)", why);
        return 0;
      }
      t->raised |= bit;
    } else if (th->metrics == 0) {
      if (t->raised & bit) {
        core_trace(p, t, a->at_ms, "%s at %s: the priority was changed by this "
              "step already (steps count per ticket)", a->name,
              a->threshold);
        return 1;
      }
      t->raised |= bit;
    }
    break;
  }
  int level = -1;
  if (strcmp(a->name, "raise_priority") == 0) {
    const char *by = action_arg(a, "by");
    level = cur - (by != NULL ? atoi(by) : 1);
    if (level < 0) {
      level = 0;
    }
  } else if (strcmp(a->name, "set_priority") == 0) {
    level = pr_rules_level_find(p->rules, action_arg(a, "priority"));
  }
  if (level >= 0 &&
      core_set_priority(t, pr_rules_level_id(p->rules, (size_t)level)) != 0) {
    core_oom(p, t->id);
  }
  return 1;
}

/* Hand the outcome records of the cycles that ended to the host (and to
** explanations). */
void
core_hand_records(promptly *p, const pr_ticket *t, pr_sla_actions *acts)
{
  const pr_sla_set *s = core_sla_set(p);
  for (uint32_t i = 0; i < acts->n_recs; i++) {
    const pr_sla_record *r = &acts->recs[i];
    core_trace(p, t, r->at_ms, "%s cycle %u %s: %s",
          r->metric < s->n_metrics ? s->metrics[r->metric].name : "?",
          (unsigned)r->cycle,
          strcmp(r->outcome, "active") == 0 ||
              strcmp(r->outcome, "paused") == 0
            ? "open"
            : "ended",
          r->json);
    if (p->host.record != NULL) {
      p->host.record(p->host.user_data, t->id, r->at_ms, r->json);
    }
  }
  pr_sla_records_clear(acts);
}

/* The SLA events (ABI 1.2), for hosts that take them: what the handling
** of one change saw is collected, then handed out after its fields. */
int
core_events_on(const promptly *p)
{
  return p->host.sla_event != NULL;
}


static void
event_step(promptly *p, const pr_ticket *t, const pr_sla_action *a, int held)
{
  const char *site = strcmp(a->metric, "wait") == 0
                       ? pr_rules_wait_site(p->rules, a->threshold)
                       : pr_rules_threshold_site(p->rules, a->metric,
                                                 a->threshold);
  if (pr_sla_evts_action(&p->events, a, site, held) != PROMPTLY_OK) {
    core_oom(p, t->id);
  }
}


pr_sla_evt *
core_event_add(promptly *p, const pr_ticket *t, int32_t kind, int64_t at_ms,
          const char *metric, uint32_t cycle, const char *site)
{
  pr_sla_evt *ev = pr_sla_evts_add(&p->events, kind, at_ms, metric, cycle,
                                       site);
  if (ev == NULL) {
    core_oom(p, t->id);
  }
  return ev;
}

/* Before a change: what pauses the ticket's clocks now. */
void
core_events_begin(promptly *p, const pr_ticket *t)
{
  if (!core_events_on(p)) {
    return;
  }
  pr_sla_evt_put(p->ev_status, sizeof(p->ev_status),
                   pr_kvset_get(&t->attrs, "status"));
  p->ev_holds = t->sla != NULL ? pr_sla_ticket_conditions(t->sla) : 0;
  p->ev_cond_first = t->cond_first;
}


static const char *
field_of(const pr_sla_fieldset *fs, const char *name)
{
  for (uint32_t i = 0; i < fs->n; i++) {
    if (strcmp(fs->kv[i].name, name) == 0) {
      return fs->kv[i].value;
    }
  }
  return "";
}

/* The running metric past its at-risk share that is due first, or -1. */
static int
at_risk_metric(promptly *p, const pr_ticket *t, int64_t at_ms,
               pr_sla_clock_info *out)
{
  const pr_sla_set *s = core_sla_set(p);
  int best = -1;
  for (uint32_t m = 0; m < s->n_metrics; m++) {
    pr_sla_clock_info ci;
    if (pr_sla_clock_info_at(t->sla, s, m, at_ms, &ci) != PROMPTLY_OK ||
        strcmp(ci.state, "running") != 0 || ci.target_ms <= 0 ||
        ci.elapsed_ms * 1000 < ci.target_ms * pr_sla_at_risk(s, m) ||
        (best >= 0 && ci.due_at_ms >= out->due_at_ms)) {
      continue;
    }
    best = (int)m;
    *out = ci;
  }
  return best;
}

/* The at-risk event of metric m (ci: its clock at at_ms; due: its due). */
static void
at_risk_event(promptly *p, const pr_ticket *t, int64_t at_ms,
              const char *due, uint32_t m, const pr_sla_clock_info *ci)
{
  const pr_sla_set *s = core_sla_set(p);
  const char *site = pr_rules_at_risk_site(p->rules);
  pr_sla_evt *ev = core_event_add(p, t, PR_SLA_EVK_AT_RISK, at_ms,
                                  s->metrics[m].name, ci->cycle,
                                  site ? site
                                       : pr_rules_policy_site(p->rules,
                                                              ci->policy));
  if (ev != NULL) {
    pr_sla_evt_put(ev->policy, sizeof(ev->policy), ci->policy);
    pr_sla_evt_put(ev->due, sizeof(ev->due), due);
  }
}

/* Whether this change already has metric m's at-risk event of cycle. */
static int
has_at_risk(const promptly *p, const char *metric, uint32_t cycle)
{
  for (uint32_t i = 0; i < p->events.n; i++) {
    const pr_sla_evt *ev = &p->events.v[i];
    if (ev->kind == PR_SLA_EVK_AT_RISK && ev->cycle == cycle &&
        strcmp(ev->metric, metric) == 0) {
      return 1;
    }
  }
  return 0;
}

/* The events a changed field shows (old: its value before, "" for none). */
static void
field_event(promptly *p, const pr_ticket *t, int64_t at_ms,
            const pr_sla_fieldset *fs, const char *name, const char *old,
            const char *new)
{
  const pr_sla_set *s = core_sla_set(p);
  if (strcmp(name, "sla.policy") == 0) {
    if (new[0] != '\0') {
      pr_sla_evt *ev = core_event_add(p, t, old[0] ? PR_SLA_EVK_POLICY
                                                : PR_SLA_EVK_APPLIED,
                                   at_ms, NULL, 0,
                                   pr_rules_policy_site(p->rules, new));
      if (ev != NULL) {
        pr_sla_evt_put(ev->policy, sizeof(ev->policy), new);
      }
    }
    return;
  }
  if (strcmp(name, "sla.status") == 0) {
    pr_sla_clock_info ci;
    int m;
    if (strcmp(new, "at_risk") == 0 &&
        (m = at_risk_metric(p, t, at_ms, &ci)) >= 0 &&
        !has_at_risk(p, s->metrics[m].name, ci.cycle)) {
      at_risk_event(p, t, at_ms, field_of(fs, s->metrics[m].due_field),
                    (uint32_t)m, &ci);
    }
    return;
  }
  uint32_t m = 0;
  while (m < s->n_metrics && strcmp(s->metrics[m].state_field, name) != 0) {
    m++;
  }
  if (m == s->n_metrics || strcmp(old, new) == 0) {
    return;
  }
  int32_t kind = strcmp(new, "breached") == 0 ? PR_SLA_EVK_BREACHED
               : strcmp(new, "met") == 0      ? PR_SLA_EVK_MET
               : strcmp(new, "paused") == 0 && (strcmp(old, "running") == 0 ||
                                                strcmp(old, "breached") == 0)
                 ? PR_SLA_EVK_PAUSED
               : strcmp(old, "paused") == 0 && (strcmp(new, "running") == 0 ||
                                                strcmp(new, "breached") == 0)
                 ? PR_SLA_EVK_RESUMED
                 : -1;
  if (kind < 0) {
    return;
  }
  pr_sla_clock_info ci;
  if (pr_sla_clock_info_at(t->sla, s, m, at_ms, &ci) != PROMPTLY_OK) {
    return;
  }
  const char *site =
    kind == PR_SLA_EVK_PAUSED
      ? pr_rules_pause_site(p->rules, pr_kvset_get(&t->attrs, "status"),
                            pr_sla_ticket_conditions(t->sla), t->cond_first)
    : kind == PR_SLA_EVK_RESUMED
      ? pr_rules_pause_site(p->rules, p->ev_status, p->ev_holds,
                            p->ev_cond_first)
      : pr_rules_policy_site(p->rules, ci.policy);
  pr_sla_evt *ev = core_event_add(p, t, kind, at_ms, s->metrics[m].name,
                               ci.cycle, site);
  if (ev != NULL) {
    pr_sla_evt_put(ev->policy, sizeof(ev->policy), ci.policy);
    pr_sla_evt_put(ev->due, sizeof(ev->due),
                     field_of(fs, s->metrics[m].due_field));
  }
}


/* At a deadline (at_ms its instant, the clocks fired up to it): a metric
** whose clock reaches its at-risk share right then gets its at-risk
** event, also when the ticket was at risk already (another metric), so
** that each metric's turn has its event.  A ticket has one deadline
** entry, next strictly after the one fired, so a turn comes once; the
** turn of the ticket's status (field_event) skips a metric it has. */
void
core_at_risk_turns(promptly *p, const pr_ticket *t, int64_t at_ms)
{
  if (!core_events_on(p) || t->sla == NULL) {
    return;
  }
  int excluded = 0;
  (void)pr_sla_ticket_exception(t->sla, &excluded);
  if (excluded) {
    return;  /* an exception excludes it: its clocks count for nothing */
  }
  const pr_sla_set *s = core_sla_set(p);
  for (uint32_t m = 0; m < s->n_metrics; m++) {
    pr_sla_clock_info ci;
    if (pr_sla_clock_info_at(t->sla, s, m, at_ms, &ci) != PROMPTLY_OK ||
        strcmp(ci.state, "running") != 0 || ci.target_ms <= 0 ||
        ci.elapsed_ms != ci.target_ms * pr_sla_at_risk(s, m) / 1000 ||
        has_at_risk(p, s->metrics[m].name, ci.cycle)) {
      continue;
    }
    char due[PR_ISO_LEN];
    pr_iso_format(ci.due_at_ms, due);
    at_risk_event(p, t, at_ms, due, m, &ci);
  }
}


void
core_events_emit(promptly *p, const pr_ticket *t)
{
  if (core_events_on(p)) {
    pr_sla_evts_emit(&p->events, t->id, t->priority, p->host.sla_event,
                       p->host.user_data);
  }
}

/* A cycle that ended breached (answered, resolved late) is met late:
** its event at the end, due the instant it breached (the breached_at the
** host holds).  Open cycles are not ended records: none for them. */
static void
met_late_event(promptly *p, const pr_ticket *t, const pr_sla_record *r)
{
  const pr_sla_set *s = core_sla_set(p);
  pr_sla_clock_info ci;
  if (strcmp(r->outcome, "breached") != 0 || r->metric >= s->n_metrics ||
      pr_sla_clock_info_at(t->sla, s, r->metric, r->at_ms, &ci) !=
        PROMPTLY_OK) {
    return;
  }
  char buf[PR_ISO_LEN];
  const char *due =
    pr_fields_get(&t->written, s->metrics[r->metric].breached_field, buf);
  pr_sla_evt *ev = core_event_add(p, t, PR_SLA_EVK_MET_LATE, r->at_ms,
                                  s->metrics[r->metric].name, r->cycle,
                                  pr_rules_policy_site(p->rules, ci.policy));
  if (ev != NULL) {
    pr_sla_evt_put(ev->policy, sizeof(ev->policy), ci.policy);
    pr_sla_evt_put(ev->due, sizeof(ev->due), due ? due : "");
  }
}

/* Hand the actions that became due to the host, in order. */
void
core_carry_out(promptly *p, pr_ticket *t, pr_sla_actions *acts)
{
  for (uint32_t i = 0; i < acts->n; i++) {
    const pr_sla_action *a = &acts->v[i];
    if (!core_apply_priority_action(p, t, a)) {
      continue;
    }
    if (p->host.sla_event != NULL) {
      event_step(p, t, a, 0);
    }
    if (p->host.trace != NULL) {
      pr_buf b;
      pr_buf_init(&b);
      for (uint32_t j = 0; j < a->n_args; j++) {
        pr_buf_printf(&b, "%s%s=%s", j ? ", " : " (", a->args[j].name,
                      a->args[j].value);
      }
      char held[PR_ISO_LEN + 32] = "";
      if (a->reached_at_ms < a->at_ms) {
        char iso[PR_ISO_LEN];
        pr_iso_format(a->reached_at_ms, iso);
        snprintf(held, sizeof(held), " (held from %s)", iso);
      }
      core_trace(p, t, a->at_ms, "%s %s reached (cycle %u): %s%s%s, key %s%s",
            a->metric, a->threshold, (unsigned)a->cycle, a->name,
            pr_buf_cstr(&b), b.len ? ")" : "", a->key, held);
      pr_buf_free(&b);
    }
    /* An action held to its notification calendar carries the instant it
    ** was reached, after its own arguments: reached_at. */
    pr_kv args[65];
    const pr_kv *av = a->args;
    uint32_t n_av = a->n_args;
    char reached[PR_ISO_LEN];
    if (a->reached_at_ms < a->at_ms && a->n_args < 64) {
      memcpy(args, a->args, a->n_args * sizeof(pr_kv));
      pr_iso_format(a->reached_at_ms, reached);
      args[a->n_args].name = "reached_at";
      args[a->n_args].value = reached;
      av = args;
      n_av = a->n_args + 1;
    }
    if (p->host.do_action != NULL) {
      int32_t rc = p->host.do_action(p->host.user_data, t->id, a->at_ms,
                                     a->name, (const promptly_attr *)av,
                                     n_av, a->key);
      if (rc != 0) {
        core_log(p, PROMPTLY_LOG_WARN,
                 "ticket %lld: the host could not carry out %s (%d), key %s",
                 (long long)t->id, a->name, (int)rc, a->key);
      }
    }
  }
  for (uint32_t i = 0; p->host.sla_event != NULL && i < acts->n_held; i++) {
    event_step(p, t, &acts->held[i], 1);
  }
  for (uint32_t i = 0; p->host.trace != NULL && i < acts->n_held; i++) {
    const pr_sla_action *a = &acts->held[i];
    char iso[PR_ISO_LEN];
    pr_iso_format(a->at_ms, iso);
    core_trace(p, t, a->reached_at_ms, "%s %s reached (cycle %u): %s held for "
          "the notification calendar until %s, key %s", a->metric,
          a->threshold, (unsigned)a->cycle, a->name, iso, a->key);
  }
  pr_sla_actions_clear(acts);
  for (uint32_t i = 0; core_events_on(p) && t->sla != NULL && i < acts->n_recs;
       i++) {
    met_late_event(p, t, &acts->recs[i]);
  }
  core_hand_records(p, t, acts);
}

/* Write the ticket's fields that changed since the host last accepted
** them.  A refused write is retried with the next change of the ticket. */
void
core_publish(promptly *p, pr_ticket *t, int64_t at_ms)
{
  /* Rules that declare no SLA policy at all ask for priorities only. */
  pr_sla_fieldset fs;
  if (t->sla != NULL && core_sla_set(p)->n_policies > 0) {
    pr_sla_fields(t->sla, core_sla_set(p), at_ms, &fs);
  } else {
    fs.n = 0;
  }
  /* The priority shown is the ticket's (rules, agent, escalation). */
  uint32_t i = 0;
  while (i < fs.n && strcmp(fs.kv[i].name, "priority") != 0) {
    i++;
  }
  if (i == fs.n && fs.n < PR_SLA_MAX_FIELDS) {
    fs.kv[fs.n].name = "priority";
    fs.n++;
  }
  if (i < fs.n) {
    fs.kv[i].value = t->priority != NULL ? t->priority : "";
  }
  pr_kv changed[PR_SLA_MAX_FIELDS];
  uint32_t k = pr_ticket_diff(t, fs.kv, fs.n, changed);
  if (k == 0) {
    return;
  }
  if (p->host.trace != NULL) {
    pr_buf b;
    pr_buf_init(&b);
    for (uint32_t j = 0; j < k; j++) {
      pr_buf_printf(&b, "%s%s = %s", j ? ", " : "", changed[j].name,
                    changed[j].value[0] ? changed[j].value : "(none)");
    }
    core_trace(p, t, at_ms, "fields: %s", pr_buf_cstr(&b));
    pr_buf_free(&b);
  }
  int32_t rc = 0;
  if (p->host.write_fields != NULL) {
    rc = p->host.write_fields(p->host.user_data, t->id, at_ms,
                              (const promptly_attr *)changed, k);
  }
  if (rc != 0) {
    core_log(p, PROMPTLY_LOG_WARN,
             "ticket %lld: the host refused a field write (%d); retrying "
             "with its next change",
             (long long)t->id, (int)rc);
    return;
  }
  for (uint32_t j = 0; core_events_on(p) && t->sla != NULL && j < k; j++) {
    char buf[PR_ISO_LEN];
    const char *old = pr_fields_get(&t->written, changed[j].name, buf);
    field_event(p, t, at_ms, &fs, changed[j].name, old ? old : "",
                changed[j].value);
  }
  for (uint32_t j = 0; j < k; j++) {
    if (pr_fields_set(&t->written, changed[j].name, changed[j].value) != 0) {
      core_oom(p, t->id);
    }
  }
}
