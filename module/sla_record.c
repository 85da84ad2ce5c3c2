/* sla_record.c - outcome records: one JSON line per cycle that ended (or
** is still open at the end of a replay), in the schema of promptly.h
** ("Outcome records").
**
** Invariants.  A record is built only from the ticket's state at the
** instant it is handed out, so a replay of the same events under the same
** rules gives byte-identical records.  A cycle is handed out once when it
** ends (CLK_REPORT is cleared as its record goes out); a reopened
** resolution cycle ends again later, and its later record, with the same
** ticket, metric and cycle, supersedes the earlier one.  Keys are listed
** in the order they fired within each target generation.
*/
#include "config.h"

#include "sla_internal.h"
#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int
pr_sla_json_str(pr_buf *b, const char *s)
{
  int rc = pr_buf_append(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p;
       p++) {
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      rc = pr_buf_append(b, esc, 2);
    } else if (*p < 0x20) {
      rc = pr_buf_printf(b, "\\u%04x", (unsigned)*p);
    } else {
      rc = pr_buf_append(b, (const char *)p, 1);
    }
  }
  return rc == 0 ? pr_buf_append(b, "\"", 1) : rc;
}


static void
json_key(pr_buf *b, const char *key)
{
  pr_buf_printf(b, "%s\"%s\": ", b->len > 1 ? ", " : "", key);
}


static void
json_str_or_null(pr_buf *b, const char *key, const char *v)
{
  json_key(b, key);
  if (v == NULL) {
    pr_buf_append(b, "null", 4);
  } else {
    pr_sla_json_str(b, v);
  }
}


static void
json_instant(pr_buf *b, const char *key, int64_t at, int has)
{
  json_key(b, key);
  if (!has) {
    pr_buf_append(b, "null", 4);
    return;
  }
  char iso[PR_ISO_LEN];
  pr_iso_format(at, iso);
  pr_buf_printf(b, "\"%s\"", iso);
}


static void
json_ms(pr_buf *b, const char *key, int64_t v, int has)
{
  json_key(b, key);
  if (has) {
    pr_buf_printf(b, "%lld", (long long)v);
  } else {
    pr_buf_append(b, "null", 4);
  }
}


void
sla_past_add(pr_sla_ticket *t, uint32_t m, uint32_t mask)
{
  sla_ext *e = sla_ext_get(t);
  if (e == NULL) {
    return;
  }
  sla_past *v = realloc(e->past, (e->n_past + 1) * sizeof(*v));
  if (v == NULL) {
    return;  /* Out of memory: the record lists fewer keys. */
  }
  e->past = v;
  e->past[e->n_past++] = (sla_past){(uint8_t)m, t->clocks[m].gen, mask};
}


static void
keys_of(pr_buf *b, const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
        uint32_t gen, uint32_t fired, int *first)
{
  const sla_clock *c = &t->clocks[m];
  for (uint32_t j = 0; j < s->n_thresholds; j++) {
    if ((fired & ((uint32_t)1 << j)) == 0) {
      continue;
    }
    const pr_sla_threshold *th = &s->thresholds[j];
    for (uint32_t k = 0; k < th->n_actions; k++) {
      char key[160];
      sla_key(key, sizeof(key), t->id, s->metrics[m].name, c->cycle, gen,
              th->label, &th->actions[k]);
      pr_buf_append(b, *first ? "" : ", ", *first ? 0 : 2);
      *first = 0;
      pr_sla_json_str(b, key);
    }
  }
}


static const char *
outcome_of(const sla_clock *c, int open)
{
  if (open) {
    return sla_clock_running(c) ? "active" : "paused";
  }
  if (c->flags & CLK_HAD_BREACH) {
    return "breached";
  }
  if (c->flags & CLK_CANCELLED) {
    return "cancelled";
  }
  if (c->flags & CLK_STOPPED) {
    return "stopped";
  }
  return "met";
}


/* The record of clock m as of at, appended to out. */
static int
add_record(const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
           int64_t at, int open, pr_sla_actions *out)
{
  const sla_clock *c = &t->clocks[m];
  const sla_ext *e = t->ext;
  pr_buf b;
  pr_buf_init(&b);
  pr_buf_append(&b, "{", 1);
  json_key(&b, "ticket");
  pr_buf_printf(&b, "%lld", (long long)t->id);
  json_str_or_null(&b, "metric", s->metrics[m].name);
  json_key(&b, "cycle");
  pr_buf_printf(&b, "%u", (unsigned)c->cycle);
  /* Best effort: no policy supplies a target (the one lending its
  ** calendar meanwhile is not named). */
  int64_t tg = sla_clock_target(t, s, m);
  const pr_sla_policy *pol = c->policy == NO_POLICY || tg == PR_SLA_NONE
                               ? NULL
                               : &s->policies[c->policy];
  json_str_or_null(&b, "policy", pol ? pol->name : NULL);
  json_str_or_null(&b, "calendar", pol ? pol->cal_name : NULL);
  json_str_or_null(&b, "priority_start", s->levels[c->level0 < s->n_levels
                                                     ? c->level0
                                                     : 0]);
  json_str_or_null(&b, "priority_end", s->levels[t->level]);
  json_ms(&b, "target_ms", tg, tg != PR_SLA_NONE);
  json_instant(&b, "started", c->start_at_ms, 1);
  int64_t end = open ? at : c->since_at_ms;
  json_instant(&b, "stopped", end, !open);
  int64_t due = c->due_at_ms;
  int has_due = tg != PR_SLA_NONE && due != 0 &&
                (!open || sla_clock_running(c));
  json_instant(&b, "due", due, has_due);
  const char *outcome = outcome_of(c, open);
  json_str_or_null(&b, "outcome", outcome);
  const sla_fact *f = (c->flags & CLK_HAD_BREACH) && e != NULL &&
                          e->facts != NULL
                        ? &e->facts[m]
                        : NULL;
  json_instant(&b, "breached_at", f ? f->at_ms : 0, f != NULL);
  json_str_or_null(&b, "breach_policy",
                   f != NULL && f->policy != NO_POLICY &&
                       f->policy < s->n_policies
                     ? s->policies[f->policy].name
                     : NULL);
  json_ms(&b, "breach_target_ms", f ? f->target_ms : 0,
          f != NULL && f->target_ms != PR_SLA_NONE);
  int64_t elapsed = open ? sla_elapsed_at(s, c, at) : c->elapsed_ms;
  sla_hist h;
  sla_history_elapsed(t, m, sla_clock_cal(s, c), end, &h);
  json_ms(&b, "elapsed_ms", elapsed, 1);
  json_ms(&b, "paused_ms", h.paused_ms, 1);
  json_ms(&b, "customer_wait_ms", h.wait_ms, 1);
  int64_t outside = 0;
  if (sla_clock_cal(s, c) != NULL) {
    outside = (end - c->start_at_ms) - h.paused_ms - elapsed;
    outside = outside < 0 ? 0 : outside;
  }
  json_ms(&b, "outside_ms", outside, 1);
  json_key(&b, "attrs");
  const char *attrs = out->attrs != NULL
                        ? out->attrs(out->attrs_ud, t->id, c->start_at_ms)
                        : NULL;
  pr_buf_printf(&b, "%s", attrs != NULL ? attrs : "{}");
  json_key(&b, "exceptions");
  pr_buf_append(&b, "[", 1);
  int first = 1;
  for (uint32_t i = 0; i < s->n_exceptions; i++) {
    const pr_sla_exception *x = &s->exceptions[i];
    if ((t->exceptions & ((uint32_t)1 << i)) == 0 ||
        !sla_applies(x->metrics, m)) {
      continue;
    }
    const char *why = e != NULL && e->reasons != NULL && e->reasons[i]
                        ? e->reasons[i]
                        : x->reason;
    pr_buf_printf(&b, "%s{\"name\": ", first ? "" : ", ");
    pr_sla_json_str(&b, x->name);
    pr_buf_append(&b, ", \"reason\": ", 12);
    pr_sla_json_str(&b, why);
    pr_buf_append(&b, "}", 1);
    first = 0;
  }
  pr_buf_append(&b, "]", 1);
  json_key(&b, "keys");
  pr_buf_append(&b, "[", 1);
  first = 1;
  for (uint32_t i = 0; e != NULL && i < e->n_past; i++) {
    if (e->past[i].metric == m) {
      keys_of(&b, t, s, m, e->past[i].gen, e->past[i].fired, &first);
    }
  }
  keys_of(&b, t, s, m, c->gen, c->fired, &first);
  pr_buf_append(&b, "]}", 2);
  if (pr_buf_append(&b, "", 0) != 0 || b.data == NULL) {
    pr_buf_free(&b);
    return PROMPTLY_ENOMEM;
  }
  if (out->n_recs == out->cap_recs) {
    uint32_t cap = out->cap_recs ? out->cap_recs * 2 : 4;
    pr_sla_record *v = realloc(out->recs, cap * sizeof(*v));
    if (v == NULL) {
      pr_buf_free(&b);
      return PROMPTLY_ENOMEM;
    }
    out->recs = v;
    out->cap_recs = cap;
  }
  pr_sla_record *r = &out->recs[out->n_recs++];
  r->at_ms = end;
  r->metric = m;
  r->cycle = c->cycle;
  r->outcome = outcome;
  r->json = pr_strdup(pr_buf_cstr(&b));
  pr_buf_free(&b);
  if (r->json == NULL) {
    out->n_recs--;
    return PROMPTLY_ENOMEM;
  }
  return PROMPTLY_OK;
}


int
sla_report(pr_sla_ticket *t, const pr_sla_set *s, int64_t at,
           pr_sla_actions *out)
{
  (void)at;
  int rc = PROMPTLY_OK;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    sla_clock *c = &t->clocks[m];
    if ((c->flags & CLK_REPORT) == 0) {
      continue;
    }
    c->flags &= (uint8_t)~CLK_REPORT;
    if (out->want_records && c->cycle > 0 &&
        add_record(t, s, m, c->since_at_ms, 0, out) != PROMPTLY_OK) {
      rc = PROMPTLY_ENOMEM;
    }
  }
  return rc;
}


int
pr_sla_records_open(const pr_sla_ticket *t, const pr_sla_set *s,
                    int64_t at_ms, pr_sla_actions *out)
{
  if (t == NULL || !sla_check_set(s) || out == NULL ||
      t->n_clocks != s->n_metrics || (t->flags & T_DEAD)) {
    return PROMPTLY_EINVAL;
  }
  int64_t at = at_ms < t->last_at_ms ? t->last_at_ms : at_ms;
  int rc = PROMPTLY_OK;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    if (t->clocks[m].state == CLK_ACTIVE &&
        add_record(t, s, m, at, 1, out) != PROMPTLY_OK) {
      rc = PROMPTLY_ENOMEM;
    }
  }
  return rc;
}


int64_t
pr_sla_ticket_oldest_cycle(const pr_sla_ticket *t)
{
  int64_t o = INT64_MAX;
  for (uint32_t m = 0; m < t->n_clocks; m++) {
    const sla_clock *c = &t->clocks[m];
    if ((c->state == CLK_ACTIVE ||
         (m == PR_SLA_RESOLUTION && c->state == CLK_MET)) &&
        c->start_at_ms < o) {
      o = c->start_at_ms;
    }
  }
  return o;
}


void
pr_sla_records_clear(pr_sla_actions *a)
{
  for (uint32_t i = 0; i < a->n_recs; i++) {
    free(a->recs[i].json);
  }
  a->n_recs = 0;
}
