/* core.c - an instance: its loop, tickets and how each event changes
** them, rules and hot reload, deadlines, running, open and close.  What
** goes back to the host is built in core_outbound.c, explanations and
** open records in core_explain.c, submitted events are checked and
** queued in core_queue.c (core_internal.h: what they share).
**
** Invariants.  Every libuv handle, the rules, the tickets and the deadlines
** are touched only by the thread inside pr_core_run / pr_core_advance /
** pr_core_close, and only one such call runs at a time (the busy flag).
** Other threads reach the instance through the queue (under qlock) and
** uv_async_send, which libuv makes safe from any thread; sends coalesce, so
** the wakeup drains the whole queue.  Events are handled in submission
** order, each exactly once: a queued event is owned by the queue until the
** loop thread takes it, and freed right after it was handled.
*/
#include "config.h"

#include "core_internal.h"
#include "ruletest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Hot reload waits this long after the last change in the folder, so an
** editor's burst of writes, renames and temp files becomes one reload. */
#define PR_DEBOUNCE_MS 200

static const char *const event_names[] = {
  NULL,         "create", "update", "reply_agent", "reply_customer", "note",
  "status",     "priority", "reopen", "merge", "delete",
};
#define PR_EV_LAST PROMPTLY_EV_DELETE


const char *
pr_event_type_name(int32_t type)
{
  if (type < 1 || type > PR_EV_LAST) {
    return NULL;
  }
  return event_names[type];
}


int32_t
pr_event_type_find(const char *name)
{
  if (name == NULL) {
    return PROMPTLY_ENOTSUP;
  }
  for (int32_t i = 1; i <= PR_EV_LAST; i++) {
    if (strcmp(event_names[i], name) == 0) {
      return i;
    }
  }
  return PROMPTLY_ENOTSUP;
}

/* --- Logging and host callbacks ------------------------------------------ */

/* Every line the host gets is one line of valid UTF-8: attribute values
** (a customer's mail) and rule strings quoted in a message cannot start
** a forged second line nor hand the host bytes that are not text. */
static void
log_line(const promptly_host *host, int level, const char *msg)
{
  char line[2048];
  pr_text_line(msg, strlen(msg), line, sizeof(line));
  host->log(host->user_data, level, line);
}


static void
vlog_host(const promptly_host *host, int level, const char *fmt, va_list ap)
{
  if (host->log == NULL) {
    return;
  }
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  log_line(host, level, msg);
}


void
core_log(promptly *p, int level, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vlog_host(&p->host, level, fmt, ap);
  va_end(ap);
}


static void
log_sink(void *ud, int level, const char *msg)
{
  const promptly_host *host = ud;
  if (host->log != NULL) {
    log_line(host, level, msg);
  }
}


static void
problem_sink(void *ud, int level, const char *msg)
{
  /* Errors, and the warnings of the problem list, as they are. */
  log_sink(ud, level == PROMPTLY_LOG_WARN ? PROMPTLY_LOG_WARN
                                          : PROMPTLY_LOG_ERROR, msg);
}


static int64_t
real_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
core_now_ms(promptly *p)
{
  if (p->virtual_time) {
    return p->vnow_ms;
  }
  if (p->host.now_ms != NULL) {
    return p->host.now_ms(p->host.user_data);
  }
  return real_now_ms();
}

/* --- Tickets, clocks and fields ------------------------------------------ */


const pr_sla_set *
core_sla_set(const promptly *p)
{
  return pr_rules_sla(p->rules);
}

/* A sentence for explanations; built only when the host asks for them. */
void
core_trace(promptly *p, const pr_ticket *t, int64_t at_ms, const char *fmt, ...)
{
  if (p->host.trace == NULL) {
    return;
  }
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  p->host.trace(p->host.user_data, t->id, at_ms, line);
}


void
core_oom(promptly *p, int64_t ticket)
{
  core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
           (long long)ticket);
}

/* The ticket's attributes as a JSON object, subject and body left out:
** the "attrs" of outcome records. */
static void
attrs_json(const pr_ticket *t, pr_buf *b)
{
  b->len = 0;
  pr_buf_append(b, "{", 1);
  int first = 1;
  for (uint32_t i = 0; i < t->attrs.n; i++) {
    const pr_kv *kv = &t->attrs.kv[i];
    if (strcmp(kv->name, "subject") == 0 || strcmp(kv->name, "body") == 0) {
      continue;
    }
    if (!first) {
      pr_buf_append(b, ", ", 2);
    }
    first = 0;
    pr_sla_json_str(b, kv->name);
    pr_buf_append(b, ": ", 2);
    pr_sla_json_str(b, kv->value);
  }
  pr_buf_append(b, "}", 1);
}

/* pr_sla_attrs_fn: the attributes a ticket had at at_ms. */
static const char *
attrs_at(void *ud, int64_t ticket, int64_t at_ms)
{
  promptly *p = ud;
  const pr_ticket *t = pr_tickets_get(&p->tickets, ticket);
  if (t == NULL) {
    return "{}";
  }
  const char *snap = pr_ticket_snap_at(t, at_ms);
  if (snap != NULL) {
    return snap;
  }
  attrs_json(t, &p->attrs_buf);
  return pr_buf_cstr(&p->attrs_buf);
}

/* Before an event changes attributes: keep the old ones for the records
** of the cycles that began before it. */
static void
snap_attrs(promptly *p, pr_ticket *t, const pr_qevent *ev, int64_t at_ms)
{
  if (t->sla == NULL || (p->host.record == NULL && p->host.trace == NULL)) {
    return;
  }
  int64_t oldest = pr_sla_ticket_oldest_cycle(t->sla);
  if (oldest >= at_ms) {
    return;
  }
  int changes = 0;
  for (uint32_t i = 0; i < ev->n && !changes; i++) {
    const char *was = pr_kvset_get(&t->attrs, ev->attrs[i].name);
    changes = was == NULL || strcmp(was, ev->attrs[i].value) != 0;
  }
  if (!changes) {
    return;
  }
  attrs_json(t, &p->attrs_buf);
  pr_ticket_snap(t, at_ms, oldest, pr_strdup(pr_buf_cstr(&p->attrs_buf)));
}

/* pr_sla_deadline_fn: a target function of the rules, on the ticket as
** it is now.  A failure is logged as a failing `when` is, with the ticket;
** the policy then gives that cycle no target. */
static int
deadline_of(void *ud, int64_t ticket, uint32_t fn, uint32_t metric,
            uint32_t policy, uint32_t level, int64_t start_ms, int64_t *at_ms)
{
  promptly *p = ud;
  const pr_ticket *t = pr_tickets_get(&p->tickets, ticket);
  const pr_sla_set *s = core_sla_set(p);
  if (metric >= s->n_metrics || policy >= s->n_policies ||
      level >= s->n_levels) {
    return 0;
  }
  char err[1024];
  int rc = pr_rules_deadline(p->rules, fn, ticket,
                             t != NULL ? t->attrs.kv : NULL,
                             t != NULL ? t->attrs.n : 0,
                             s->metrics[metric].name,
                             s->policies[policy].name, s->levels[level],
                             start_ms, at_ms, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR, "%s (ticket %lld, %s)", err,
             (long long)ticket, s->metrics[metric].name);
    return 0;
  }
  return *at_ms != INT64_MAX;
}


void
core_acts_init(promptly *p, pr_sla_actions *a)
{
  pr_sla_actions_init(a);
  /* The SLA events read the ended cycles too (met_late). */
  a->want_records = p->host.record != NULL || p->host.trace != NULL ||
                    p->host.sla_event != NULL;
  a->attrs = attrs_at;
  a->attrs_ud = p;
  a->deadline = deadline_of;
  a->deadline_ud = p;
}


int
core_set_priority(pr_ticket *t, const char *id)
{
  return pr_ticket_set_priority(t, id);
}

/* The clocks' level: the priority the rules or an agent gave, else the
** rules' default. */
static uint32_t
sla_level(promptly *p, const pr_ticket *t)
{
  int l = t->priority != NULL ? pr_sla_set_level_find(core_sla_set(p), t->priority)
                              : -1;
  return l >= 0 ? (uint32_t)l : (uint32_t)pr_rules_default_level(p->rules);
}


void
core_trace_policies(promptly *p, const pr_ticket *t, const pr_sla_pick *pick,
               int64_t at_ms)
{
  if (p->host.trace == NULL) {
    return;
  }
  const pr_sla_set *s = core_sla_set(p);
  pr_buf b;
  pr_buf_init(&b);
  for (uint32_t i = 0; i < pick->n; i++) {
    pr_buf_printf(&b, "%s%s", b.len ? ", " : "",
                  s->policies[pick->v[i]].name);
  }
  core_trace(p, t, at_ms, "policies matched: %s",
        b.len ? pr_buf_cstr(&b) : "none (no SLA targets)");
  pr_buf_free(&b);
}

/* The policies the ticket's clocks follow: kept by its SLA state only
** (none without one). */
pr_sla_pick
core_current_pick(const pr_ticket *t)
{
  pr_sla_pick none = {0};
  return t->sla != NULL ? *pr_sla_ticket_pick(t->sla) : none;
}

/* Which policies match the ticket now; on a rule error the last good
** verdict stays. */
static pr_sla_pick
match_policies(promptly *p, const pr_ticket *t, const char *source)
{
  pr_sla_pick pick = {0};
  size_t n = 0;
  char err[512];
  int rc = pr_rules_pick(p->rules, t->id, t->attrs.kv, t->attrs.n, &pick, &n,
                         err, sizeof(err));
  if (rc == PROMPTLY_ENOBUFS) {
    core_log(p, PROMPTLY_LOG_WARN,
             "%zu policies match ticket %lld%s%s: only the first %d "
             "declared count", n, (long long)t->id, *source ? ", " : "",
             source, PR_SLA_MAX_PICK);
  } else if (rc != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR, "%s (ticket %lld%s%s)", err,
             (long long)t->id, *source ? ", " : "", source);
    return core_current_pick(t);
  }
  return pick;
}

/* Keep exactly one deadline entry per ticket, moved in place: the next
** instant at which its clocks change; none when there is no such instant. */
static void
schedule(promptly *p, pr_ticket *t, int64_t at_ms)
{
  int64_t next;
  if (t->sla != NULL &&
      pr_sla_next_deadline(t->sla, core_sla_set(p), at_ms, &next) == 1) {
    if (pr_deadlines_set(&p->deadlines, next, &t->deadline) != 0) {
      core_oom(p, t->id);  /* it had none: a push failed */
    }
  } else {
    pr_deadlines_cancel(&p->deadlines, &t->deadline);
  }
}

/* After any change: actions first (they may change the priority), then
** the fields as of now, then the next deadline. */
static void
settle(promptly *p, pr_ticket *t, pr_sla_actions *acts, int64_t at_ms)
{
  core_carry_out(p, t, acts);
  core_publish(p, t, at_ms);
  core_events_emit(p, t);
  schedule(p, t, at_ms);
}


static void
sla_failed(promptly *p, const pr_ticket *t, int rc, const char *what)
{
  core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: SLA %s: %s", (long long)t->id,
           what, pr_strerror(rc));
}


static void
retarget(promptly *p, pr_ticket *t, const pr_sla_pick *pick, int64_t at_ms,
         pr_sla_actions *acts)
{
  if (t->sla == NULL) {
    return;
  }
  int rc = pr_sla_retarget_pick(t->sla, core_sla_set(p), sla_level(p, t),
                                pick, at_ms, acts);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, "retarget");
  }
}


static void
event_exception(promptly *p, const pr_ticket *t, int64_t at_ms, int32_t kind,
                uint32_t index, const char *reason)
{
  if (!core_events_on(p)) {
    return;
  }
  const char *name = core_sla_set(p)->exceptions[index].name;
  pr_sla_evt *ev = core_event_add(p, t, kind, at_ms, NULL, 0,
                               pr_rules_exception_site(p->rules, name));
  if (ev != NULL) {
    pr_sla_evt_put(ev->exception, sizeof(ev->exception), name);
    if (reason != NULL && (ev->reason = pr_strdup(reason)) == NULL) {
      core_oom(p, t->id);
    }
  }
}


static void
apply_exceptions(promptly *p, pr_ticket *t, int64_t at_ms,
                 pr_sla_actions *acts)
{
  if (t->sla == NULL) {
    return;
  }
  const pr_sla_set *s = core_sla_set(p);
  pr_rules_exception exc[PR_SLA_MAX_EXCEPTIONS];
  size_t n = 0;
  if (pr_rules_exceptions(p->rules, t->attrs.kv, t->attrs.n, exc,
                          PR_SLA_MAX_EXCEPTIONS, &n) != PROMPTLY_OK) {
    return;
  }
  /* Those applied whose condition no longer holds are undone first. */
  uint32_t holds = 0;
  for (size_t i = 0; i < n; i++) {
    holds |= (uint32_t)1 << exc[i].index;
  }
  uint32_t applied = pr_sla_ticket_exceptions(t->sla);
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    uint32_t bit = (uint32_t)1 << i;
    if ((applied & bit) && !(holds & bit)) {
      int rc = pr_sla_unexcept(t->sla, s, i, at_ms, acts);
      if (rc != PROMPTLY_OK) {
        sla_failed(p, t, rc, "exception");
      } else {
        core_trace(p, t, at_ms, "exception %s no longer applies: undone",
              s->exceptions[i].name);
        event_exception(p, t, at_ms, PR_SLA_EVK_EXCEPTION_UNDONE, i, NULL);
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    int was_excluded = 0;
    const char *before = pr_sla_ticket_exception(t->sla, &was_excluded);
    int rc = pr_sla_except(t->sla, s, exc[i].index, exc[i].reason, at_ms,
                           acts);
    if (rc != PROMPTLY_OK) {
      sla_failed(p, t, rc, "exception");
    } else if (before == NULL || strcmp(before, exc[i].reason) != 0) {
      core_trace(p, t, at_ms, "exception %s applied: %s",
            s->exceptions[exc[i].index].name, exc[i].reason);
      event_exception(p, t, at_ms, PR_SLA_EVK_EXCEPTION, exc[i].index,
                      exc[i].reason);
    }
  }
}

/* An event that sets an exception attribute to a name no exception
** declares gets a warning with the ticket (and a line in explain): a
** misspelled request would otherwise apply nothing, silently.  The
** warning names no input line: the event itself is taken. */
static void
warn_unknown_exception(promptly *p, const pr_ticket *t, const pr_qevent *ev,
                       int64_t at_ms)
{
  const char *attr = NULL, *value = NULL;
  char known[256];
  if (pr_rules_exception_unknown(p->rules, t->attrs.kv, t->attrs.n, &attr,
                                 &value, known, sizeof(known)) !=
        PROMPTLY_OK ||
      attr == NULL) {
    return;
  }
  int in_event = 0;
  for (uint32_t i = 0; i < ev->n && !in_event; i++) {
    in_event = strcmp(ev->attrs[i].name, attr) == 0;
  }
  if (!in_event) {
    return;
  }
  core_log(p, PROMPTLY_LOG_WARN,
           "ticket %lld: %s '%s' names no exception (declared: %s); none "
           "applied",
           (long long)t->id, attr, value, known);
  core_trace(p, t, at_ms, "%s '%s' names no exception (declared: %s)", attr,
        value, known);
}


static int
merge_attrs(pr_ticket *t, const pr_qevent *ev)
{
  return pr_kvset_merge(&t->attrs, ev->attrs, ev->n);
}


static const char *
event_attr(const pr_qevent *ev, const char *name)
{
  for (uint32_t i = 0; i < ev->n; i++) {
    if (strcmp(ev->attrs[i].name, name) == 0) {
      return ev->attrs[i].value;
    }
  }
  return NULL;
}

/* An event that the ticket state refuses: bad input, logged with the
** event's source first so the host can point at it, and nothing changes. */
static void reject(promptly *p, const pr_qevent *ev, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
reject(promptly *p, const pr_qevent *ev, const char *fmt, ...)
{
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  core_log(p, PROMPTLY_LOG_WARN, "%s%sticket %lld: %s event ignored: %s",
           ev->source, *ev->source ? ": " : "", (long long)ev->ticket,
           pr_event_type_name(ev->type), why);
}


static void
assign_priority(promptly *p, pr_ticket *t, const pr_qevent *ev,
                int64_t at_ms)
{
  char err[512];
  size_t level = 0;
  const char *why = NULL;
  int rc = pr_rules_priority(p->rules, t->id, t->attrs.kv, t->attrs.n, &level,
                             &why, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    /* The rule's own file:line leads, as every rule error does. */
    core_log(p, PROMPTLY_LOG_ERROR, "%s (ticket %lld%s%s)%s", err,
             (long long)t->id, *ev->source ? ", " : "", ev->source,
             rc == PROMPTLY_ERULE ? "; the rule does not match, the next "
                                    "rules and the default decide"
                                  : "");
    if (rc != PROMPTLY_ERULE) {
      return;
    }
  }
  if (core_set_priority(t, pr_rules_level_id(p->rules, level)) != PROMPTLY_OK) {
    core_oom(p, t->id);
    return;
  }
  core_trace(p, t, at_ms, "priority %s by %s", t->priority,
        why ? why : "the default (no priority rule matched)");
}

/* Custom metrics whose attribute conditions came to hold between before
** and the ticket's attributes now. */
static void
attr_edges(promptly *p, pr_ticket *t, const pr_sla_attr_state *before,
           int64_t at_ms, pr_sla_actions *acts)
{
  if (t->sla == NULL) {
    return;
  }
  pr_sla_attr_state now;
  pr_sla_attr_state_of(core_sla_set(p), t->attrs.kv, t->attrs.n, &now);
  int rc = pr_sla_attr_edges(t->sla, core_sla_set(p), before, &now, at_ms, acts);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, "attribute conditions");
  }
}

/* Which pause conditions hold on the ticket's attributes now (a failing
** `when` is logged with the ticket and counts as not holding). */
static uint32_t
eval_conditions(promptly *p, pr_ticket *t, const char *source)
{
  uint32_t holds = 0, first = 0;
  char err[512];
  int rc = pr_rules_conditions(p->rules, t->id, t->attrs.kv, t->attrs.n,
                               &holds, &first, err, sizeof(err));
  t->cond_first = first <= 255 ? (uint8_t)first : 0;
  if (rc != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR, "%s (ticket %lld%s%s)%s", err,
             (long long)t->id, *source ? ", " : "", source,
             rc == PROMPTLY_ERULE ? "; the condition counts as not holding"
                                  : "");
  }
  return holds;
}

/* Whether the ticket's pause conditions need a look: the rules have some,
** or the ticket still follows some of earlier rules. */
static int
has_conditions(promptly *p, const pr_ticket *t)
{
  return t->sla != NULL && (pr_rules_has_conditions(p->rules) ||
                            pr_sla_ticket_conditions(t->sla) != 0);
}


static void
trace_conditions(promptly *p, const pr_ticket *t, uint32_t before,
                 uint32_t holds, int64_t at_ms)
{
  if (p->host.trace != NULL && before != (holds & PR_SLA_COND_WAIT
                                            ? holds | PR_SLA_COND_PAUSE
                                            : holds)) {
    core_trace(p, t, at_ms, "pause conditions: %s",
          (holds & PR_SLA_COND_WAIT) ? "customer wait holds"
          : holds ? "a pause holds"
                  : "none holds");
  }
}


static void
apply_conditions(promptly *p, pr_ticket *t, uint32_t holds, int64_t at_ms,
                 pr_sla_actions *acts)
{
  uint32_t before = pr_sla_ticket_conditions(t->sla);
  int rc = pr_sla_conditions(t->sla, core_sla_set(p), holds, at_ms, acts);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, "pause conditions");
  } else {
    trace_conditions(p, t, before, holds, at_ms);
  }
}


static void
handle_create(promptly *p, const pr_qevent *ev, int64_t at_ms,
              pr_sla_actions *acts)
{
  if (pr_tickets_get(&p->tickets, ev->ticket) != NULL) {
    reject(p, ev, "the ticket exists already");
    return;
  }
  pr_ticket *t = pr_tickets_add(&p->tickets, ev->ticket);
  if (t == NULL || merge_attrs(t, ev) != PROMPTLY_OK) {
    if (t != NULL) {
      pr_tickets_remove(&p->tickets, ev->ticket);
    }
    core_oom(p, ev->ticket);
    return;
  }
  core_trace(p, t, at_ms, "created%s%s", *ev->source ? " from " : "", ev->source);
  core_events_begin(p, t);  /* nothing paused it before */
  assign_priority(p, t, ev, at_ms);
  pr_sla_pick pick = match_policies(p, t, ev->source);
  core_trace_policies(p, t, &pick, at_ms);
  int rc = pr_sla_open_pick(core_sla_set(p), t->id, at_ms, sla_level(p, t),
                            &pick, pr_kvset_get(&t->attrs, "status"), acts,
                            &t->sla);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, "open");
  }
  if (has_conditions(p, t)) {
    apply_conditions(p, t, eval_conditions(p, t, ev->source), at_ms, acts);
  }
  const pr_sla_attr_state none = {{0}};
  attr_edges(p, t, &none, at_ms, acts);
  apply_exceptions(p, t, at_ms, acts);
  warn_unknown_exception(p, t, ev, at_ms);
  settle(p, t, acts, at_ms);
}

/* Attributes changed: the matching policies may have too. */
static void
rematch(promptly *p, pr_ticket *t, const pr_qevent *ev, int64_t at_ms,
        pr_sla_actions *acts)
{
  pr_sla_pick pick = match_policies(p, t, ev->source);
  pr_sla_pick was = core_current_pick(t);
  if (!pr_sla_pick_equal(&pick, &was)) {
    core_trace_policies(p, t, &pick, at_ms);
    retarget(p, t, &pick, at_ms, acts);
  }
  apply_exceptions(p, t, at_ms, acts);
  warn_unknown_exception(p, t, ev, at_ms);
}


void
core_sla_event(promptly *p, pr_ticket *t, int32_t kind, const char *status,
          int64_t at_ms, pr_sla_actions *acts)
{
  if (t->sla == NULL) {
    return;
  }
  int rc = pr_sla_event(t->sla, core_sla_set(p), kind, status, at_ms, acts);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, pr_event_type_name(kind));
  }
}


const struct gone_ticket *
core_gone_find(const promptly *p, int64_t id)
{
  size_t lo = 0, hi = p->n_gone;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->gone[mid].id == id) {
      return &p->gone[mid];
    }
    if (p->gone[mid].id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return NULL;
}


static void
gone_add(promptly *p, int64_t id, int64_t into, int64_t at_ms)
{
  if (p->n_gone == p->cap_gone) {
    size_t cap = p->cap_gone ? p->cap_gone * 2 : 16;
    struct gone_ticket *v = realloc(p->gone, cap * sizeof(*v));
    if (v == NULL) {
      core_oom(p, id);
      return;
    }
    p->gone = v;
    p->cap_gone = cap;
  }
  size_t i = p->n_gone;
  while (i > 0 && p->gone[i - 1].id > id) {
    p->gone[i] = p->gone[i - 1];
    i--;
  }
  p->gone[i] = (struct gone_ticket){id, into, at_ms};
  p->n_gone++;
}

/* A merge names the ticket it goes into: a positive id, another ticket,
** one that exists.  0 with *into set, or -1 after rejecting the event. */
static int
merge_target(promptly *p, const pr_qevent *ev, int64_t *into)
{
  const char *v = event_attr(ev, "into");
  char *end = NULL;
  long long id = v != NULL ? strtoll(v, &end, 10) : 0;
  if (v == NULL || *v == '\0' || *end != '\0' || id <= 0) {
    reject(p, ev, "a merge needs the attr 'into' with the id of the ticket "
           "it goes into (got %s%s%s)", v ? "'" : "", v ? v : "none",
           v ? "'" : "");
    return -1;
  }
  if (id == ev->ticket) {
    reject(p, ev, "a ticket cannot be merged into itself");
    return -1;
  }
  if (pr_tickets_get(&p->tickets, id) == NULL) {
    const struct gone_ticket *g = core_gone_find(p, id);
    reject(p, ev, "'into' names ticket %lld, which %s", id,
           g == NULL ? "is unknown (no create event seen)"
           : g->into > 0 ? "was merged itself"
                         : "was deleted");
    return -1;
  }
  *into = id;
  return 0;
}


void
core_handle_event(promptly *p, const pr_qevent *ev, int64_t at_ms)
{
  pr_sla_actions acts;
  core_acts_init(p, &acts);
  if (ev->type == PROMPTLY_EV_CREATE) {
    handle_create(p, ev, at_ms, &acts);
    pr_sla_actions_free(&acts);
    return;
  }
  pr_ticket *t = pr_tickets_get(&p->tickets, ev->ticket);
  if (t == NULL) {
    const struct gone_ticket *g = core_gone_find(p, ev->ticket);
    char iso[PR_ISO_LEN] = "";
    if (g != NULL) {
      pr_iso_format(g->at_ms, iso);
    }
    if (g != NULL && g->into > 0) {
      reject(p, ev, "the ticket was merged into %lld at %s",
             (long long)g->into, iso);
    } else if (g != NULL) {
      reject(p, ev, "the ticket was deleted at %s", iso);
    } else {
      reject(p, ev, "unknown ticket (no create event seen)");
    }
    pr_sla_actions_free(&acts);
    return;
  }
  core_events_begin(p, t);

  switch (ev->type) {
  case PROMPTLY_EV_PRIORITY: {
    const char *want = event_attr(ev, "priority");
    int level = pr_rules_level_find(p->rules, want);
    if (level < 0) {
      reject(p, ev, "unknown priority level '%s'", want);
      break;
    }
    const char *id = pr_rules_level_id(p->rules, (size_t)level);
    /* The agent's choice wins for good, and the host already shows it:
    ** record it as written so that it is not written back. */
    if (core_set_priority(t, id) != PROMPTLY_OK ||
        pr_fields_set(&t->written, "priority", id) != PROMPTLY_OK) {
      core_oom(p, t->id);
      break;
    }
    t->manual = 1;
    core_trace(p, t, at_ms, "priority set to %s by an agent", id);
    pr_sla_pick pick = core_current_pick(t);
    retarget(p, t, &pick, at_ms, &acts);
    settle(p, t, &acts, at_ms);
    break;
  }
  case PROMPTLY_EV_UPDATE: {
    pr_sla_attr_state before;
    pr_sla_attr_state_of(core_sla_set(p), t->attrs.kv, t->attrs.n, &before);
    snap_attrs(p, t, ev, at_ms);
    if (merge_attrs(t, ev) != PROMPTLY_OK) {
      core_oom(p, t->id);
      break;
    }
    if (has_conditions(p, t)) {
      apply_conditions(p, t, eval_conditions(p, t, ev->source), at_ms,
                       &acts);
    }
    attr_edges(p, t, &before, at_ms, &acts);
    rematch(p, t, ev, at_ms, &acts);
    settle(p, t, &acts, at_ms);
    break;
  }
  case PROMPTLY_EV_STATUS:
  case PROMPTLY_EV_REOPEN: {
    const char *status = event_attr(ev, "status");
    pr_sla_attr_state before;
    pr_sla_attr_state_of(core_sla_set(p), t->attrs.kv, t->attrs.n, &before);
    snap_attrs(p, t, ev, at_ms);
    if (merge_attrs(t, ev) != PROMPTLY_OK ||
        (status == NULL &&
         pr_kvset_set(&t->attrs, "status", "open") != PROMPTLY_OK)) {
      core_oom(p, t->id);
      break;
    }
    core_trace(p, t, at_ms, "%s %s",
          ev->type == PROMPTLY_EV_STATUS ? "status" : "reopened, status",
          pr_kvset_get(&t->attrs, "status"));
    /* The conditions on the attributes the event brings take effect
    ** with it, at its instant. */
    int conds = has_conditions(p, t);
    uint32_t holds = conds ? eval_conditions(p, t, ev->source) : 0;
    if (conds) {
      uint32_t was = pr_sla_ticket_conditions(t->sla);
      if (pr_sla_stage_conditions(t->sla, holds) != PROMPTLY_OK) {
        core_oom(p, t->id);
      } else {
        trace_conditions(p, t, was, holds, at_ms);
      }
    }
    core_sla_event(p, t,
              ev->type == PROMPTLY_EV_STATUS ? PR_SLA_EV_STATUS
                                             : PR_SLA_EV_REOPEN,
              status, at_ms, &acts);
    if (conds) {
      apply_conditions(p, t, holds, at_ms, &acts);
    }
    attr_edges(p, t, &before, at_ms, &acts);
    rematch(p, t, ev, at_ms, &acts);
    settle(p, t, &acts, at_ms);
    break;
  }
  case PROMPTLY_EV_REPLY_AGENT:
  case PROMPTLY_EV_REPLY_CUSTOMER:
  case PROMPTLY_EV_NOTE: {
    static const int32_t kinds[] = {
      [PROMPTLY_EV_REPLY_AGENT] = PR_SLA_EV_REPLY_AGENT,
      [PROMPTLY_EV_REPLY_CUSTOMER] = PR_SLA_EV_REPLY_CUSTOMER,
      [PROMPTLY_EV_NOTE] = PR_SLA_EV_NOTE,
    };
    core_trace(p, t, at_ms, "%s", pr_event_type_name(ev->type));
    core_sla_event(p, t, kinds[ev->type], NULL, at_ms, &acts);
    settle(p, t, &acts, at_ms);
    break;
  }
  case PROMPTLY_EV_MERGE:
  case PROMPTLY_EV_DELETE: {
    /* Its clocks stop with it (their records go out), its final fields
    ** are written (sla.status stopped, no dues), and a later event for
    ** it is refused by name; stale deadlines find no ticket. */
    int64_t into = 0;
    if (ev->type == PROMPTLY_EV_MERGE && merge_target(p, ev, &into) != 0) {
      break;
    }
    if (into > 0) {
      core_trace(p, t, at_ms, "merged into ticket %lld: its clocks stop",
            (long long)into);
    } else {
      core_trace(p, t, at_ms, "deleted: its clocks stop");
    }
    uint32_t held = t->sla != NULL ? pr_sla_ticket_held(t->sla) : 0;
    if (held > 0) {
      core_log(p, PROMPTLY_LOG_INFO, "ticket %lld: %s with %u action%s held "
               "for the notification calendar: dropped", (long long)t->id,
               into > 0 ? "merged" : "deleted", (unsigned)held,
               held == 1 ? "" : "s");
    }
    core_sla_event(p, t,
              ev->type == PROMPTLY_EV_MERGE ? PR_SLA_EV_MERGE
                                            : PR_SLA_EV_DELETE,
              NULL, at_ms, &acts);
    core_carry_out(p, t, &acts);
    core_publish(p, t, at_ms);
    core_events_emit(p, t);
    gone_add(p, ev->ticket, into, at_ms);
    pr_deadlines_cancel(&p->deadlines, &t->deadline);
    pr_tickets_remove(&p->tickets, ev->ticket);
    break;
  }
  default:
    break;
  }
  pr_sla_actions_free(&acts);
}

/* --- Rebinding tickets after a reload ------------------------------------ */

/* t->raised names ladder entries by their index in the rule set in force;
** a reload that inserts, removes or reorders steps moves them.  Each step
** that changed the priority keeps that memory under the new ladder's
** entry of the same label (the one apply_priority_action looks up), as
** the clocks' fired bits do (pr_sla_rebind): such a step does not raise
** again, a step new to the ladder raises once.  A step the reload removed
** is forgotten: a later reload that brings it back lets it raise again
** (as its clocks' fired bits, it is gone with the step). */
static uint32_t
remap_raised(uint32_t raised, const pr_sla_set *old_s, const pr_sla_set *new_s)
{
  uint32_t out = 0;
  for (uint32_t j = 0; j < old_s->n_thresholds && j < 32; j++) {
    if ((raised & ((uint32_t)1 << j)) == 0) {
      continue;
    }
    for (uint32_t k = 0; k < new_s->n_thresholds && k < 32; k++) {
      if (strcmp(old_s->thresholds[j].label, new_s->thresholds[k].label) ==
          0) {
        out |= (uint32_t)1 << k;
        break;
      }
    }
  }
  return out;
}


typedef struct rebind_ctx {
  promptly *p;
  pr_rules *old_rules;
  const pr_sla_set *old_set;
  int64_t at_ms;
  pr_sla_actions acts;
} rebind_ctx;

/* Before the new rules take t: what came due under the old rules before
** the reload is carried out under them (pr_sla_rebind would fire it too,
** in the same actions as the new rules'), so that its labels and levels
** are theirs and its raises count in t->raised by their ladder; then
** t->raised moves to the new ladder. */
static void
leave_old_rules(promptly *p, pr_ticket *t, rebind_ctx *c)
{
  if (t->sla != NULL) {
    int rc = pr_sla_fire(t->sla, c->old_set, c->at_ms - 1, &c->acts);
    if (rc != PROMPTLY_OK) {
      sla_failed(p, t, rc, "fire before reload");
    }
    pr_rules *fresh_rules = p->rules;
    p->rules = c->old_rules;
    core_carry_out(p, t, &c->acts);
    p->rules = fresh_rules;
  }
  t->raised = remap_raised(t->raised, c->old_set, core_sla_set(p));
}


static void
rebind_one(pr_ticket *t, void *ud)
{
  rebind_ctx *c = ud;
  promptly *p = c->p;
  t->cond_first = 0;  /* an index into the rules before the reload */
  core_events_begin(p, t);
  leave_old_rules(p, t, c);
  if (t->sla != NULL) {
    pr_sla_ticket *fresh = NULL;
    int rc = pr_sla_rebind(t->sla, c->old_set, core_sla_set(p), c->at_ms, &c->acts,
                           &fresh);
    if (rc != PROMPTLY_OK) {
      /* Its clocks cannot follow the new rules: stop them rather than
      ** keep a state that points into the old ones. */
      sla_failed(p, t, rc, "rebind after reload");
      pr_sla_ticket_free(t->sla);
      t->sla = NULL;
    } else {
      t->sla = fresh;
    }
  }
  pr_sla_pick pick = match_policies(p, t, "reload");
  retarget(p, t, &pick, c->at_ms, &c->acts);
  if (has_conditions(p, t)) {
    apply_conditions(p, t, eval_conditions(p, t, "reload"), c->at_ms,
                     &c->acts);
  }
  settle(p, t, &c->acts, c->at_ms);
}

/* --- Rules --------------------------------------------------------------- */

static void
rules_opts(const promptly_host *host, pr_rules_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->log = log_sink;
  o->log_ud = (void *)host;
  o->problem = problem_sink;
  o->problem_ud = (void *)host;
}



int
pr_core_reload(promptly *p, char *err, size_t errlen)
{
  pr_rules_opts o;
  rules_opts(&p->host, &o);
  char first[512] = "";
  pr_rules *fresh = NULL;
  int rc = pr_rules_load(p->rules_dir, &o, &fresh, first, sizeof(first));
  if (rc == PROMPTLY_OK &&
      (rc = pr_ruletest_gate(&p->host, p->rules_dir, fresh, first,
                             sizeof(first))) != PROMPTLY_OK) {
    pr_rules_free(fresh);  /* Its tests failed (*.test.lua, on_reload). */
  }
  if (rc != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR,
             "rules in %s not reloaded, the previous rules stay in force: %s",
             p->rules_dir, first);
    return pr_err(err, errlen, rc, "%s", first);
  }
  /* Built beside the old set; swapped only now that every file loaded.
  ** Each ticket's clocks move over to the new set keeping their elapsed
  ** time and their fired-threshold ledger, then take the new verdicts. */
  pr_rules *old = p->rules;
  p->rules = fresh;
  rebind_ctx c = {p, old, pr_rules_sla(old), core_now_ms(p), {0}};
  core_acts_init(p, &c.acts);
  pr_tickets_each(&p->tickets, rebind_one, &c);
  pr_sla_actions_free(&c.acts);
  pr_rules_free(old);
  core_arm_timer(p);
  core_log(p, PROMPTLY_LOG_INFO, "rules reloaded from %s (%zu files)",
           p->rules_dir, pr_rules_file_count(fresh));
  return PROMPTLY_OK;
}


static void
on_debounce(uv_timer_t *t)
{
  promptly *p = t->data;
  pr_core_reload(p, NULL, 0);
}


static void
on_rules_changed(uv_fs_event_t *h, const char *name, int events, int status)
{
  (void)name;
  (void)events;
  promptly *p = h->data;
  if (status < 0) {
    core_log(p, PROMPTLY_LOG_WARN, "watching %s: %s", p->rules_dir,
             uv_strerror(status));
    return;
  }
  /* Restarting the timer on every change is the debounce. */
  uv_timer_start(&p->debounce, on_debounce, PR_DEBOUNCE_MS, 0);
}

/* --- Deadlines ------------------------------------------------------------ */

void
core_fire(promptly *p, const pr_deadline *d)
{
  /* A ticket keeps one entry, taken out when it goes away or has no
  ** deadline: the entry popped is a live ticket's, and its slot is that
  ** ticket's member. */
  pr_ticket *t =
    (pr_ticket *)(void *)((char *)d->pos - offsetof(pr_ticket, deadline));
  if (t->sla == NULL) {
    return;
  }
  pr_sla_actions acts;
  core_acts_init(p, &acts);
  core_events_begin(p, t);
  int rc = pr_sla_fire(t->sla, core_sla_set(p), d->at_ms, &acts);
  if (rc != PROMPTLY_OK) {
    sla_failed(p, t, rc, "deadline");
  }
  core_at_risk_turns(p, t, d->at_ms);
  settle(p, t, &acts, d->at_ms);
  pr_sla_actions_free(&acts);
}


static void on_timer(uv_timer_t *h);

/* Live time: one timer at the earliest pending deadline. */
void
core_arm_timer(promptly *p)
{
  const pr_deadline *d = pr_deadlines_peek(&p->deadlines);
  if (p->virtual_time || d == NULL) {
    uv_timer_stop(&p->timer);
    return;
  }
  int64_t wait = d->at_ms - core_now_ms(p);
  uv_timer_start(&p->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Fire every deadline due by now, in order. */
void
core_fire_due(promptly *p)
{
  int64_t now = core_now_ms(p);
  const pr_deadline *top;
  while ((top = pr_deadlines_peek(&p->deadlines)) != NULL &&
         top->at_ms <= now) {
    pr_deadline d;
    pr_deadlines_pop(&p->deadlines, &d);
    core_fire(p, &d);
  }
}


static void
on_timer(uv_timer_t *h)
{
  promptly *p = h->data;
  core_fire_due(p);
  core_arm_timer(p);
}

/* --- Running -------------------------------------------------------------- */

int
core_enter(promptly *p)
{
  int expected = 0;
  return atomic_compare_exchange_strong(&p->busy, &expected, 1)
           ? PROMPTLY_OK
           : PROMPTLY_ESTATE;
}


void
core_leave(promptly *p)
{
  atomic_store(&p->busy, 0);
}


int
pr_core_run(promptly *p, int32_t mode)
{
  uv_run_mode m;
  switch (mode) {
  case PROMPTLY_RUN_DEFAULT: m = UV_RUN_DEFAULT; break;
  case PROMPTLY_RUN_ONCE: m = UV_RUN_ONCE; break;
  case PROMPTLY_RUN_NOWAIT: m = UV_RUN_NOWAIT; break;
  default: return PROMPTLY_EINVAL;
  }
  if (core_enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  /* A host clock may stand still and then jump (a host that holds time
  ** back until what happened before is known): the timer was armed for
  ** the distance the clock had then, so look again at every call.  The
  ** events queued first: one of them may be what held the clock back (a
  ** reply made before the due), and must count before the due fires. */
  if (!p->virtual_time && p->host.now_ms != NULL) {
    core_drain_live(p);
  }
  uv_run(&p->loop, m);
  uv_mutex_lock(&p->qlock);
  int pending = p->qhead != NULL;
  uv_mutex_unlock(&p->qlock);
  core_leave(p);
  return pending;
}


int
pr_core_stop(promptly *p)
{
  atomic_store(&p->stop_requested, 1);
  uv_async_send(&p->wakeup);
  return PROMPTLY_OK;
}


int
pr_core_advance(promptly *p, int64_t t_ms)
{
  if (core_enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  if (!p->virtual_time) {
    p->virtual_time = 1;
    p->vnow_ms = INT64_MIN;
    uv_timer_stop(&p->timer);
  }
  if (t_ms < p->vnow_ms) {
    core_leave(p);
    return PROMPTLY_ERANGE;
  }
  /* Events and deadlines up to t, in time order; the events at an instant
  ** come before the deadlines at that instant (a reply at the due itself
  ** is in time).  Events not yet due wait. */
  pr_qevent *list = core_queue_take_all(p);
  for (;;) {
    const pr_deadline *d = pr_deadlines_peek(&p->deadlines);
    int64_t ev_at = 0;
    if (list != NULL) {
      ev_at = list->at_ms != 0 ? list->at_ms
                               : (p->vnow_ms > 0 ? p->vnow_ms : t_ms);
    }
    if (list != NULL && ev_at <= t_ms && (d == NULL || d->at_ms >= ev_at)) {
      pr_qevent *ev = list;
      list = ev->next;
      if (ev_at > p->vnow_ms) {
        p->vnow_ms = ev_at;
      }
      core_handle_event(p, ev, ev_at);
      free(ev);
    } else if (d != NULL && d->at_ms <= t_ms) {
      pr_deadline due;
      pr_deadlines_pop(&p->deadlines, &due);
      if (due.at_ms > p->vnow_ms) {
        p->vnow_ms = due.at_ms;
      }
      core_fire(p, &due);
    } else {
      break;
    }
  }
  core_queue_put_back(p, list);
  p->vnow_ms = t_ms;
  core_leave(p);
  return PROMPTLY_OK;
}

/* --- Open and close -------------------------------------------------------- */

static void
close_one(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h)) {
    uv_close(h, NULL);
  }
}


static void
free_instance(promptly *p)
{
  pr_buf_free(&p->attrs_buf);
  pr_sla_evts_free(&p->events);
  free(p->gone);
  core_free_list(p->qhead);
  pr_tickets_free(&p->tickets);
  pr_deadlines_free(&p->deadlines);
  pr_rules_free(p->rules);
  free(p->rules_dir);
  free(p);
}


static int
open_instance(const promptly_host *host, size_t host_size,
              const char *rules_dir, int watch, promptly **out, char *err,
              size_t errlen)
{
  promptly *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  memcpy(&p->host, host, host_size < sizeof(p->host) ? host_size
                                                     : sizeof(p->host));
  p->host.struct_size = sizeof(p->host);
  pr_tickets_init(&p->tickets);
  pr_deadlines_init(&p->deadlines);
  atomic_init(&p->stop_requested, 0);
  atomic_init(&p->busy, 0);
  p->rules_dir = pr_strdup(rules_dir);
  if (p->rules_dir == NULL) {
    free_instance(p);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }

  pr_rules_opts o;
  rules_opts(&p->host, &o);
  int rc = pr_rules_load(rules_dir, &o, &p->rules, err, errlen);
  if (rc != PROMPTLY_OK) {
    free_instance(p);
    return rc;
  }

  int uv = uv_loop_init(&p->loop);
  if (uv != 0) {
    free_instance(p);
    return pr_err(err, errlen, PROMPTLY_EIO, "uv_loop_init: %s",
                  uv_strerror(uv));
  }
  if ((uv = uv_mutex_init(&p->qlock)) != 0) {
    goto fail_loop;
  }
  if ((uv = uv_async_init(&p->loop, &p->wakeup, core_on_wakeup)) != 0) {
    goto fail_mutex;
  }
  p->wakeup.data = p;
  uv_timer_init(&p->loop, &p->timer);
  p->timer.data = p;
  uv_timer_init(&p->loop, &p->debounce);
  p->debounce.data = p;
  uv_unref((uv_handle_t *)&p->debounce);

  uv_fs_event_init(&p->loop, &p->watch);
  p->watch.data = p;
  uv = watch ? uv_fs_event_start(&p->watch, on_rules_changed, rules_dir, 0)
             : 0;
  if (uv == 0) {
    p->watching = watch;
  } else {
    core_log(p, PROMPTLY_LOG_WARN,
             "cannot watch %s for changes (%s): hot reload is off",
             rules_dir, uv_strerror(uv));
  }
  *out = p;
  return PROMPTLY_OK;

fail_mutex:
  uv_mutex_destroy(&p->qlock);
fail_loop:
  uv_walk(&p->loop, close_one, NULL);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  uv_loop_close(&p->loop);
  free_instance(p);
  return pr_err(err, errlen, PROMPTLY_EIO, "libuv: %s", uv_strerror(uv));
}


int
pr_core_open(const promptly_host *host, size_t host_size,
             const char *rules_dir, promptly **out, char *err, size_t errlen)
{
  return open_instance(host, host_size, rules_dir, 1, out, err, errlen);
}


int
pr_core_open_unwatched(const promptly_host *host, size_t host_size,
                       const char *rules_dir, promptly **out, char *err,
                       size_t errlen)
{
  return open_instance(host, host_size, rules_dir, 0, out, err, errlen);
}


int
pr_core_close(promptly *p)
{
  if (core_enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  uv_walk(&p->loop, close_one, NULL);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  int uv = uv_loop_close(&p->loop);
  uv_mutex_destroy(&p->qlock);
  size_t dropped = 0;
  for (pr_qevent *q = p->qhead; q != NULL; q = q->next) {
    dropped++;
  }
  if (dropped > 0) {
    core_log(p, PROMPTLY_LOG_WARN, "closed with %zu events not handled",
             dropped);
  }
  if (uv != 0) {
    core_log(p, PROMPTLY_LOG_ERROR, "uv_loop_close: %s", uv_strerror(uv));
  }
  free_instance(p);
  return PROMPTLY_OK;
}


int
pr_core_check(const promptly_host *host, size_t host_size,
              const char *rules_dir, char *err, size_t errlen)
{
  promptly_host h;
  memset(&h, 0, sizeof(h));
  memcpy(&h, host, host_size < sizeof(h) ? host_size : sizeof(h));
  pr_rules_opts o;
  rules_opts(&h, &o);
  o.lint = 1;  /* check also warns: rules_lint.c */
  pr_rules *r = NULL;
  int rc = pr_rules_load(rules_dir, &o, &r, err, errlen);
  if (rc == PROMPTLY_OK) {
    pr_rules_free(r);
  }
  return rc;
}
