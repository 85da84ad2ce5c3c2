/* core.c - an instance: its loop, inbound queue, tickets, rules, deadlines.
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

#include "core.h"
#include "deadlines.h"
#include "rules.h"
#include "tickets.h"
#include "util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <uv.h>

/* Hot reload waits this long after the last change in the folder, so an
** editor's burst of writes, renames and temp files becomes one reload. */
#define PR_DEBOUNCE_MS 200

/* Limits on what one event may carry. */
#define PR_MAX_ATTRS     256
#define PR_MAX_ATTR_NAME 128
#define PR_MAX_EVENT     (8u << 20)

typedef struct pr_qevent {
  struct pr_qevent *next;
  int32_t type;
  int64_t ticket;
  int64_t at_ms;
  const char *source;  /* "" when the host gave none */
  uint32_t n;
  pr_kv attrs[];       /* strings follow in the same allocation */
} pr_qevent;

struct promptly {
  promptly_host host;  /* zero-extended copy of what the host passed */
  char *rules_dir;
  pr_rules *rules;

  uv_loop_t loop;
  uv_async_t wakeup;
  uv_timer_t timer;     /* the earliest deadline, in live time */
  uv_timer_t debounce;  /* hot reload */
  uv_fs_event_t watch;
  int watching;

  uv_mutex_t qlock;     /* guards qhead, qtail */
  pr_qevent *qhead;
  pr_qevent *qtail;

  atomic_int stop_requested;
  atomic_int busy;      /* a run, advance or close is under way */

  int virtual_time;     /* set by the first advance */
  int64_t vnow_ms;

  pr_tickets tickets;
  pr_deadlines deadlines;
};

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

static void
vlog_host(const promptly_host *host, int level, const char *fmt, va_list ap)
{
  if (host->log == NULL) {
    return;
  }
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  host->log(host->user_data, level, msg);
}


static void core_log(promptly *p, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
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
    host->log(host->user_data, level, msg);
  }
}


static void
problem_sink(void *ud, int level, const char *msg)
{
  (void)level;
  log_sink(ud, PROMPTLY_LOG_ERROR, msg);
}


static int64_t
real_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int64_t
now_ms(promptly *p)
{
  if (p->virtual_time) {
    return p->vnow_ms;
  }
  if (p->host.now_ms != NULL) {
    return p->host.now_ms(p->host.user_data);
  }
  return real_now_ms();
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
  if (rc != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR,
             "rules in %s not reloaded, the previous rules stay in force: %s",
             p->rules_dir, first);
    return pr_err(err, errlen, rc, "%s", first);
  }
  /* Built beside the old set; swapped only now that every file loaded.
  ** Tickets live outside the rules, so nothing else changes. */
  pr_rules_free(p->rules);
  p->rules = fresh;
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


/* --- Tickets and fields -------------------------------------------------- */

/* Write the ticket's fields that changed since the host last accepted
** them.  A refused write is retried with the next change of the ticket. */
static void
publish(promptly *p, pr_ticket *t, int64_t at_ms)
{
  pr_kv want[1];
  uint32_t n = 0;
  if (t->priority != NULL) {
    want[n].name = "priority";
    want[n].value = t->priority;
    n++;
  }
  pr_kv changed[1];
  uint32_t k = pr_ticket_diff(t, want, n, changed);
  if (k == 0) {
    return;
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
  for (uint32_t i = 0; i < k; i++) {
    if (pr_kvset_set(&t->written, changed[i].name, changed[i].value) != 0) {
      core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
               (long long)t->id);
    }
  }
}


static int
merge_attrs(pr_ticket *t, const pr_qevent *ev)
{
  for (uint32_t i = 0; i < ev->n; i++) {
    int rc = pr_kvset_set(&t->attrs, ev->attrs[i].name, ev->attrs[i].value);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
  }
  return PROMPTLY_OK;
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


static int
set_priority(pr_ticket *t, const char *id)
{
  char *copy = pr_strdup(id);
  if (copy == NULL) {
    return PROMPTLY_ENOMEM;
  }
  free(t->priority);
  t->priority = copy;
  return PROMPTLY_OK;
}


static void
assign_priority(promptly *p, pr_ticket *t, const pr_qevent *ev)
{
  char err[512];
  size_t level = 0;
  const char *why = NULL;
  int rc = pr_rules_priority(p->rules, t->id, t->attrs.kv, t->attrs.n, &level,
                             &why, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    /* The rule's own file:line leads, as every rule error does. */
    core_log(p, PROMPTLY_LOG_ERROR, "%s (ticket %lld%s%s)", err,
             (long long)t->id, *ev->source ? ", " : "", ev->source);
    return;
  }
  if (set_priority(t, pr_rules_level_id(p->rules, level)) != PROMPTLY_OK) {
    core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
             (long long)t->id);
    return;
  }
  core_log(p, PROMPTLY_LOG_DEBUG, "ticket %lld: priority %s by %s",
           (long long)t->id, t->priority, why ? why : "default");
}


static void
handle_event(promptly *p, const pr_qevent *ev, int64_t at_ms)
{
  pr_ticket *t = pr_tickets_get(&p->tickets, ev->ticket);

  if (ev->type == PROMPTLY_EV_CREATE) {
    if (t != NULL) {
      reject(p, ev, "the ticket exists already");
      return;
    }
    t = pr_tickets_add(&p->tickets, ev->ticket);
    if (t == NULL || merge_attrs(t, ev) != PROMPTLY_OK) {
      if (t != NULL) {
        pr_tickets_remove(&p->tickets, ev->ticket);
      }
      core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
               (long long)ev->ticket);
      return;
    }
    t->created_at_ms = at_ms;
    assign_priority(p, t, ev);
    publish(p, t, at_ms);
    return;
  }

  if (t == NULL) {
    reject(p, ev, "unknown ticket (no create event seen)");
    return;
  }

  switch (ev->type) {
  case PROMPTLY_EV_PRIORITY: {
    const char *want = event_attr(ev, "priority");
    int level = pr_rules_level_find(p->rules, want);
    if (level < 0) {
      reject(p, ev, "unknown priority level '%s'", want);
      return;
    }
    const char *id = pr_rules_level_id(p->rules, (size_t)level);
    /* The agent's choice wins for good, and the host already shows it:
    ** record it as written so that it is not written back. */
    if (set_priority(t, id) != PROMPTLY_OK ||
        pr_kvset_set(&t->written, "priority", id) != PROMPTLY_OK) {
      core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
               (long long)t->id);
      return;
    }
    t->manual = 1;
    break;
  }
  case PROMPTLY_EV_UPDATE:
  case PROMPTLY_EV_STATUS:
    if (merge_attrs(t, ev) != PROMPTLY_OK) {
      core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
               (long long)t->id);
      return;
    }
    break;
  case PROMPTLY_EV_REOPEN:
    if (merge_attrs(t, ev) != PROMPTLY_OK ||
        (event_attr(ev, "status") == NULL &&
         pr_kvset_set(&t->attrs, "status", "open") != PROMPTLY_OK)) {
      core_log(p, PROMPTLY_LOG_ERROR, "ticket %lld: out of memory",
               (long long)t->id);
      return;
    }
    break;
  case PROMPTLY_EV_MERGE:
  case PROMPTLY_EV_DELETE:
    pr_tickets_remove(&p->tickets, ev->ticket);
    return;
  default:
    /* Replies and notes carry no ticket attributes of their own. */
    break;
  }
  publish(p, t, at_ms);
}


/* --- Deadlines ------------------------------------------------------------ */

static void
fire(promptly *p, const pr_deadline *d)
{
  pr_ticket *t = pr_tickets_get(&p->tickets, d->ticket);
  if (t == NULL) {
    return;  /* The ticket went away: its deadlines are stale. */
  }
  publish(p, t, d->at_ms);
}


static void on_timer(uv_timer_t *h);

/* Live time: one timer at the earliest pending deadline. */
static void
arm_timer(promptly *p)
{
  const pr_deadline *d = pr_deadlines_peek(&p->deadlines);
  if (p->virtual_time || d == NULL) {
    uv_timer_stop(&p->timer);
    return;
  }
  int64_t wait = d->at_ms - now_ms(p);
  uv_timer_start(&p->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}


static void
on_timer(uv_timer_t *h)
{
  promptly *p = h->data;
  int64_t now = now_ms(p);
  const pr_deadline *top;
  while ((top = pr_deadlines_peek(&p->deadlines)) != NULL &&
         top->at_ms <= now) {
    pr_deadline d;
    pr_deadlines_pop(&p->deadlines, &d);
    fire(p, &d);
  }
  arm_timer(p);
}


/* --- The inbound queue ---------------------------------------------------- */

static pr_qevent *
queue_take_all(promptly *p)
{
  uv_mutex_lock(&p->qlock);
  pr_qevent *list = p->qhead;
  p->qhead = p->qtail = NULL;
  uv_mutex_unlock(&p->qlock);
  return list;
}


/* Put back, ahead of anything queued meanwhile, what was not handled. */
static void
queue_put_back(promptly *p, pr_qevent *list)
{
  if (list == NULL) {
    return;
  }
  pr_qevent *last = list;
  while (last->next != NULL) {
    last = last->next;
  }
  uv_mutex_lock(&p->qlock);
  last->next = p->qhead;
  p->qhead = list;
  if (p->qtail == NULL) {
    p->qtail = last;
  }
  uv_mutex_unlock(&p->qlock);
}


static void
free_list(pr_qevent *list)
{
  while (list != NULL) {
    pr_qevent *next = list->next;
    free(list);
    list = next;
  }
}


static void
drain_live(promptly *p)
{
  pr_qevent *list = queue_take_all(p);
  while (list != NULL) {
    pr_qevent *ev = list;
    list = ev->next;
    handle_event(p, ev, ev->at_ms != 0 ? ev->at_ms : now_ms(p));
    free(ev);
  }
  arm_timer(p);
}


static void
on_wakeup(uv_async_t *h)
{
  promptly *p = h->data;
  /* Read the flag first: whatever was submitted before the stop is in
  ** the queue by now and is handled before the loop returns. */
  int stop = atomic_exchange(&p->stop_requested, 0);
  drain_live(p);
  if (stop) {
    uv_stop(&p->loop);
  }
}


static int
check_attr(const promptly_attr *a, uint32_t i, char *err, size_t errlen)
{
  if (a->name == NULL || a->name[0] == '\0') {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "attrs[%u]: no name", i);
  }
  size_t len = strlen(a->name);
  if (len > PR_MAX_ATTR_NAME || !g_utf8_validate(a->name, (gssize)len, NULL)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "attrs[%u]: name is not a short UTF-8 string", i);
  }
  if (a->value == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "attr '%s': no value",
                  a->name);
  }
  if (!g_utf8_validate(a->value, -1, NULL)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "attr '%s': value is not valid UTF-8", a->name);
  }
  return PROMPTLY_OK;
}


static int
check_event(const promptly_event *ev, char *err, size_t errlen)
{
  if (pr_event_type_name(ev->type) == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOTSUP, "unknown event type %d",
                  (int)ev->type);
  }
  if (ev->ticket <= 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "ticket: must be a positive id, not %lld",
                  (long long)ev->ticket);
  }
  if (ev->at_ms < 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "at: before 1970 (%lld ms)", (long long)ev->at_ms);
  }
  if (ev->n_attrs > PR_MAX_ATTRS || (ev->n_attrs > 0 && ev->attrs == NULL)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "attrs: %u pairs (at most %d, and not NULL)",
                  (unsigned)ev->n_attrs, PR_MAX_ATTRS);
  }
  for (uint32_t i = 0; i < ev->n_attrs; i++) {
    int rc = check_attr(&ev->attrs[i], i, err, errlen);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    for (uint32_t j = 0; j < i; j++) {
      if (strcmp(ev->attrs[i].name, ev->attrs[j].name) == 0) {
        return pr_err(err, errlen, PROMPTLY_EINVAL, "attr '%s': given twice",
                      ev->attrs[i].name);
      }
    }
  }
  const char *need = NULL;
  if (ev->type == PROMPTLY_EV_STATUS) {
    need = "status";
  } else if (ev->type == PROMPTLY_EV_PRIORITY) {
    need = "priority";
  }
  if (need != NULL) {
    uint32_t i = 0;
    while (i < ev->n_attrs && strcmp(ev->attrs[i].name, need) != 0) {
      i++;
    }
    if (i == ev->n_attrs || ev->attrs[i].value[0] == '\0') {
      return pr_err(err, errlen, PROMPTLY_EINVAL,
                    "a %s event needs the attr '%s'",
                    pr_event_type_name(ev->type), need);
    }
  }
  return PROMPTLY_OK;
}


/* One allocation per event: header, pairs, then the strings. */
static pr_qevent *
copy_event(const promptly_event *ev, const char *source)
{
  size_t strings = strlen(source) + 1;
  for (uint32_t i = 0; i < ev->n_attrs; i++) {
    strings += strlen(ev->attrs[i].name) + strlen(ev->attrs[i].value) + 2;
  }
  size_t size = sizeof(pr_qevent) + ev->n_attrs * sizeof(pr_kv) + strings;
  if (size > PR_MAX_EVENT) {
    return NULL;
  }
  pr_qevent *q = malloc(size);
  if (q == NULL) {
    return NULL;
  }
  q->next = NULL;
  q->type = ev->type;
  q->ticket = ev->ticket;
  q->at_ms = ev->at_ms;
  q->n = ev->n_attrs;
  char *s = (char *)&q->attrs[q->n];
  size_t len = strlen(source) + 1;
  memcpy(s, source, len);
  q->source = s;
  s += len;
  for (uint32_t i = 0; i < q->n; i++) {
    len = strlen(ev->attrs[i].name) + 1;
    memcpy(s, ev->attrs[i].name, len);
    q->attrs[i].name = s;
    s += len;
    len = strlen(ev->attrs[i].value) + 1;
    memcpy(s, ev->attrs[i].value, len);
    q->attrs[i].value = s;
    s += len;
  }
  return q;
}


int
pr_core_submit(promptly *p, const promptly_event *ev, char *err,
               size_t errlen)
{
  int rc = check_event(ev, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  const char *source = ev->source != NULL ? ev->source : "";
  if (strlen(source) > 256 || !g_utf8_validate(source, -1, NULL)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "source: not a short UTF-8 string");
  }
  pr_qevent *q = copy_event(ev, source);
  if (q == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM,
                  "event too large or out of memory");
  }
  uv_mutex_lock(&p->qlock);
  if (p->qtail != NULL) {
    p->qtail->next = q;
  } else {
    p->qhead = q;
  }
  p->qtail = q;
  uv_mutex_unlock(&p->qlock);
  uv_async_send(&p->wakeup);
  return PROMPTLY_OK;
}


/* --- Running -------------------------------------------------------------- */

static int
enter(promptly *p)
{
  int expected = 0;
  return atomic_compare_exchange_strong(&p->busy, &expected, 1)
           ? PROMPTLY_OK
           : PROMPTLY_ESTATE;
}


static void
leave(promptly *p)
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
  if (enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  uv_run(&p->loop, m);
  uv_mutex_lock(&p->qlock);
  int pending = p->qhead != NULL;
  uv_mutex_unlock(&p->qlock);
  leave(p);
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
  if (enter(p) != PROMPTLY_OK) {
    return PROMPTLY_ESTATE;
  }
  if (!p->virtual_time) {
    p->virtual_time = 1;
    p->vnow_ms = INT64_MIN;
    uv_timer_stop(&p->timer);
  }
  if (t_ms < p->vnow_ms) {
    leave(p);
    return PROMPTLY_ERANGE;
  }
  /* Events and deadlines up to t, in time order; a deadline due at the
  ** instant of an event fires first.  Events not yet due wait. */
  pr_qevent *list = queue_take_all(p);
  for (;;) {
    const pr_deadline *d = pr_deadlines_peek(&p->deadlines);
    int64_t ev_at = 0;
    if (list != NULL) {
      ev_at = list->at_ms != 0 ? list->at_ms
                               : (p->vnow_ms > 0 ? p->vnow_ms : t_ms);
    }
    if (list != NULL && ev_at <= t_ms && (d == NULL || d->at_ms > ev_at)) {
      pr_qevent *ev = list;
      list = ev->next;
      if (ev_at > p->vnow_ms) {
        p->vnow_ms = ev_at;
      }
      handle_event(p, ev, ev_at);
      free(ev);
    } else if (d != NULL && d->at_ms <= t_ms) {
      pr_deadline due;
      pr_deadlines_pop(&p->deadlines, &due);
      if (due.at_ms > p->vnow_ms) {
        p->vnow_ms = due.at_ms;
      }
      fire(p, &due);
    } else {
      break;
    }
  }
  queue_put_back(p, list);
  p->vnow_ms = t_ms;
  leave(p);
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
  free_list(p->qhead);
  pr_tickets_free(&p->tickets);
  pr_deadlines_free(&p->deadlines);
  pr_rules_free(p->rules);
  free(p->rules_dir);
  free(p);
}


int
pr_core_open(const promptly_host *host, size_t host_size,
             const char *rules_dir, promptly **out, char *err, size_t errlen)
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
  if ((uv = uv_async_init(&p->loop, &p->wakeup, on_wakeup)) != 0) {
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
  uv = uv_fs_event_start(&p->watch, on_rules_changed, rules_dir, 0);
  if (uv == 0) {
    p->watching = 1;
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
pr_core_close(promptly *p)
{
  if (enter(p) != PROMPTLY_OK) {
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
  pr_rules *r = NULL;
  int rc = pr_rules_load(rules_dir, &o, &r, err, errlen);
  if (rc == PROMPTLY_OK) {
    pr_rules_free(r);
  }
  return rc;
}
