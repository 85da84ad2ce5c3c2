/* sla_events.c - the SLA events a person reads (ABI 1.2): collected per
** change of a ticket, steps joined to their breach or at-risk event,
** handed out as JSON lines (promptly.h, "SLA events").
**
** Invariants.  An event's strings are its own (fixed arrays, the reason
** and the actions on the heap) and go at emit; the list is empty after
** every emit, its memory kept.  Every key of the schema is written, in
** the schema's order, null where the event has none, so that a host can
** read the lines by position as well as by name.  A step joins at most
** one event: the breach of its metric and cycle in the same change, else
** its at-risk event; a held action delivered later stays a step of its
** own (it is news of its own: the notification went out).
*/
#include "config.h"

#include "sla_events.h"
#include "promptly.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[PR_SLA_EVK_COUNT] = {
  "applied", "policy", "exception", "exception_undone", "paused", "resumed",
  "at_risk", "breached", "met", "step", "met_late",
};


void
pr_sla_evts_init(pr_sla_evts *e)
{
  memset(e, 0, sizeof(*e));
}


static void
event_clear(pr_sla_evt *ev)
{
  free(ev->reason);
  ev->reason = NULL;
  pr_buf_free(&ev->actions);
}


void
pr_sla_evts_free(pr_sla_evts *e)
{
  for (uint32_t i = 0; i < e->n; i++) {
    event_clear(&e->v[i]);
  }
  free(e->v);
  pr_sla_evts_init(e);
}


void
pr_sla_evt_put(char *dst, size_t len, const char *src)
{
  size_t n = src != NULL ? strlen(src) : 0;
  if (n >= len) {
    n = len - 1;
  }
  if (n > 0) {
    memcpy(dst, src, n);
  }
  dst[n] = '\0';
}


pr_sla_evt *
pr_sla_evts_add(pr_sla_evts *e, int32_t kind, int64_t at_ms,
                  const char *metric, uint32_t cycle, const char *site)
{
  if (kind < 0 || kind >= PR_SLA_EVK_COUNT) {
    return NULL;
  }
  if (e->n == e->cap) {
    uint32_t cap = e->cap ? e->cap * 2 : 8;
    pr_sla_evt *v = realloc(e->v, cap * sizeof(*v));
    if (v == NULL) {
      return NULL;
    }
    e->v = v;
    e->cap = cap;
  }
  pr_sla_evt *ev = &e->v[e->n++];
  memset(ev, 0, sizeof(*ev));
  pr_buf_init(&ev->actions);
  ev->kind = kind;
  ev->at_ms = at_ms;
  ev->cycle = cycle;
  pr_sla_evt_put(ev->metric, sizeof(ev->metric), metric);
  pr_sla_evt_put(ev->site, sizeof(ev->site), site);
  return ev;
}


/* "key": "value" or "key": null for an empty value, after a comma. */
static void
json_key(pr_buf *b, const char *key, const char *value)
{
  pr_buf_printf(b, ", \"%s\": ", key);
  if (value != NULL && value[0] != '\0') {
    pr_sla_json_str(b, value);
  } else {
    pr_buf_append(b, "null", 4);
  }
}


/* The step event of a's step, metric, cycle and instant, made if none. */
static pr_sla_evt *
step_of(pr_sla_evts *e, const pr_sla_action *a, int64_t at,
        const char *site)
{
  for (uint32_t i = 0; i < e->n; i++) {
    pr_sla_evt *ev = &e->v[i];
    if (ev->kind == PR_SLA_EVK_STEP && ev->at_ms == at &&
        ev->cycle == a->cycle && strcmp(ev->metric, a->metric) == 0 &&
        strcmp(ev->threshold, a->threshold) == 0) {
      return ev;
    }
  }
  pr_sla_evt *ev = pr_sla_evts_add(e, PR_SLA_EVK_STEP, at, a->metric,
                                       a->cycle, site);
  if (ev != NULL) {
    pr_sla_evt_put(ev->threshold, sizeof(ev->threshold), a->threshold);
  }
  return ev;
}


int
pr_sla_evts_action(pr_sla_evts *e, const pr_sla_action *a,
                     const char *site, int held)
{
  int delivered_late = !held && a->reached_at_ms < a->at_ms;
  pr_sla_evt *ev = step_of(e, a, held ? a->reached_at_ms : a->at_ms, site);
  if (ev == NULL) {
    return PROMPTLY_ENOMEM;
  }
  char iso[PR_ISO_LEN];
  if (delivered_late) {
    pr_iso_format(a->reached_at_ms, iso);
    pr_sla_evt_put(ev->reached_at, sizeof(ev->reached_at), iso);
  }
  pr_buf *b = &ev->actions;
  int rc = pr_buf_printf(b, "%s{\"action\": ", ev->n_actions ? ", " : "");
  rc |= pr_sla_json_str(b, a->name);
  rc |= pr_buf_printf(b, ", \"args\": {");
  for (uint32_t j = 0; j < a->n_args; j++) {
    rc |= pr_buf_printf(b, "%s", j ? ", " : "");
    rc |= pr_sla_json_str(b, a->args[j].name);
    rc |= pr_buf_printf(b, ": ");
    rc |= pr_sla_json_str(b, a->args[j].value);
  }
  rc |= pr_buf_printf(b, "}, \"key\": ");
  rc |= pr_sla_json_str(b, a->key);
  json_key(b, "threshold", a->threshold);
  json_key(b, "site", site);
  if (held) {
    pr_iso_format(a->at_ms, iso);
  }
  json_key(b, "held_until", held ? iso : NULL);
  rc |= pr_buf_printf(b, "}");
  ev->n_actions++;
  return rc != 0 ? PROMPTLY_ENOMEM : PROMPTLY_OK;
}


/* The breach (else the at-risk event) of step's metric and cycle. */
static pr_sla_evt *
join_target(pr_sla_evts *e, const pr_sla_evt *step)
{
  static const int32_t kinds[] = {PR_SLA_EVK_BREACHED, PR_SLA_EVK_AT_RISK};
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    for (uint32_t i = 0; i < e->n; i++) {
      pr_sla_evt *ev = &e->v[i];
      if (ev->kind == kinds[k] && ev->cycle == step->cycle &&
          strcmp(ev->metric, step->metric) == 0) {
        return ev;
      }
    }
  }
  return NULL;
}


static void
join_steps(pr_sla_evts *e)
{
  for (uint32_t i = 0; i < e->n; i++) {
    pr_sla_evt *st = &e->v[i];
    if (st->kind != PR_SLA_EVK_STEP || st->reached_at[0] != '\0') {
      continue;
    }
    pr_sla_evt *to = join_target(e, st);
    if (to == NULL) {
      continue;
    }
    /* The first step that joins names the event: it is what the rules
    ** said to do at that point. */
    if (to->n_actions == 0) {
      if (st->site[0] != '\0') {
        memcpy(to->site, st->site, sizeof(to->site));
      }
      memcpy(to->threshold, st->threshold, sizeof(to->threshold));
    }
    pr_buf_printf(&to->actions, "%s%s", to->n_actions ? ", " : "",
                  pr_buf_cstr(&st->actions));
    to->n_actions += st->n_actions;
    st->merged = 1;
  }
}


static void
event_json(const pr_sla_evt *ev, int64_t ticket, const char *priority,
           pr_buf *b)
{
  char iso[PR_ISO_LEN];
  pr_iso_format(ev->at_ms, iso);
  b->len = 0;
  pr_buf_printf(b, "{\"ticket\": %lld, \"event\": \"%s\"", (long long)ticket,
                kind_names[ev->kind]);
  json_key(b, "at", iso);
  json_key(b, "metric", ev->metric);
  if (ev->cycle > 0) {
    pr_buf_printf(b, ", \"cycle\": %u", (unsigned)ev->cycle);
  } else {
    pr_buf_printf(b, ", \"cycle\": null");
  }
  json_key(b, "site", ev->site);
  json_key(b, "policy", ev->policy);
  json_key(b, "priority", priority);
  json_key(b, "due", ev->due);
  json_key(b, "threshold", ev->threshold);
  json_key(b, "exception", ev->exception);
  json_key(b, "reason", ev->reason);
  json_key(b, "reached_at", ev->reached_at);
  pr_buf_printf(b, ", \"actions\": [");
  if (ev->n_actions > 0) {
    pr_buf_append(b, ev->actions.data, ev->actions.len);
  }
  pr_buf_printf(b, "]}");
}


void
pr_sla_evts_emit(pr_sla_evts *e, int64_t ticket, const char *priority,
                   pr_sla_evt_fn fn, void *ud)
{
  if (e->n == 0) {
    return;
  }
  join_steps(e);
  pr_buf b;
  pr_buf_init(&b);
  for (int32_t k = 0; fn != NULL && k < PR_SLA_EVK_COUNT; k++) {
    for (uint32_t i = 0; i < e->n; i++) {
      const pr_sla_evt *ev = &e->v[i];
      if (ev->kind != k || ev->merged) {
        continue;
      }
      event_json(ev, ticket, priority, &b);
      fn(ud, ticket, ev->at_ms, pr_buf_cstr(&b));
    }
  }
  pr_buf_free(&b);
  for (uint32_t i = 0; i < e->n; i++) {
    event_clear(&e->v[i]);
  }
  e->n = 0;
}
