/* core_queue.c - events a host submits: checked (type, ticket, instant,
** attribute names and sizes) and copied into one allocation on the
** caller's thread, queued under qlock, and taken by the loop thread in
** submission order (a wakeup drains the whole queue; events taken but not
** handled go back in front).  A refused event changes nothing and says
** why.
*/
#include "config.h"

#include "core_internal.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* --- The inbound queue ---------------------------------------------------- */

pr_qevent *
core_queue_take_all(promptly *p)
{
  uv_mutex_lock(&p->qlock);
  pr_qevent *list = p->qhead;
  p->qhead = p->qtail = NULL;
  uv_mutex_unlock(&p->qlock);
  return list;
}

/* Put back, ahead of anything queued meanwhile, what was not handled. */
void
core_queue_put_back(promptly *p, pr_qevent *list)
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


void
core_free_list(pr_qevent *list)
{
  while (list != NULL) {
    pr_qevent *next = list->next;
    free(list);
    list = next;
  }
}


void
core_drain_live(promptly *p)
{
  pr_qevent *list = core_queue_take_all(p);
  while (list != NULL) {
    pr_qevent *ev = list;
    list = ev->next;
    core_handle_event(p, ev, ev->at_ms != 0 ? ev->at_ms : core_now_ms(p));
    free(ev);
  }
  /* Events from the past (a host catching up after a restart) leave
  ** deadlines already due: fire them now, so that when promptly_run
  ** returns the fields are those of the present, not of the last event. */
  if (!p->virtual_time) {
    core_fire_due(p);
  }
  core_arm_timer(p);
}


void
core_on_wakeup(uv_async_t *h)
{
  promptly *p = h->data;
  /* Read the flag first: whatever was submitted before the stop is in
  ** the queue by now and is handled before the loop returns. */
  int stop = atomic_exchange(&p->stop_requested, 0);
  core_drain_live(p);
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

/* 2800-01-01T00:00:00Z: events after it are refused. */
#define PR_EVENT_MAX_MS INT64_C(26192246400000)


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
  /* Calendars answer up to the year 2900; a ticket's clocks need room
  ** after its events for targets of up to ten years. */
  if (ev->at_ms >= PR_EVENT_MAX_MS) {
    char iso[PR_ISO_LEN];
    pr_iso_format(ev->at_ms, iso);
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "at: %s is after the year 2800", iso);
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
