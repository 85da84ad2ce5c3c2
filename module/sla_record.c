/* sla_record.c - outcome records: one JSON line per cycle that ended (or
** is still open at the end of a replay), in the schema of promptly.h
** ("Outcome records").
**
** Invariants.  A record is built only from the ticket's state at the
** instant it is handed out, so a replay of the same events under the same
** rules gives byte-identical records.  A cycle is handed out once when it
** ends (CLK_REPORT is cleared as its record goes out); a reopened
** resolution cycle ends again later, and its later record, with the same
** ticket, metric and cycle, supersedes the earlier one.  Keys are exactly
** those handed out for the cycle, each once, in the order of their target
** generations and, within one, of the ladder; after a reload that changed
** the ladder, the keys its new entries cannot make are kept as written
** (sla_past in sla_internal.h), and listed where they fired.
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


static sla_past *
past_push(pr_sla_ticket *t, sla_past p)
{
  sla_ext *e = sla_ext_get(t);
  if (e == NULL) {
    return NULL;
  }
  sla_past *v = realloc(e->past, (e->n_past + 1) * sizeof(*v));
  if (v == NULL) {
    return NULL;  /* Out of memory: the record lists fewer keys. */
  }
  e->past = v;
  e->past[e->n_past] = p;
  return &e->past[e->n_past++];
}


static sla_past *
carried_of(const sla_ext *e, uint32_t m)
{
  for (uint32_t i = 0; e != NULL && i < e->n_past; i++) {
    if (e->past[i].kind == PAST_CARRIED && e->past[i].metric == m) {
      return &e->past[i];
    }
  }
  return NULL;
}


uint32_t
sla_past_carried(const pr_sla_ticket *t, uint32_t m)
{
  const sla_past *c = carried_of(t->ext, m);
  return c != NULL ? c->fired : 0;
}


void
sla_past_clear(sla_ext *e, uint32_t m)
{
  if (e == NULL) {
    return;
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < e->n_past; i++) {
    if (m == UINT32_MAX || e->past[i].metric == m) {
      free(e->past[i].key);
    } else {
      e->past[k++] = e->past[i];
    }
  }
  e->n_past = k;
}


void
sla_past_next_gen(pr_sla_ticket *t, uint32_t m, uint32_t unfired)
{
  sla_clock *c = &t->clocks[m];
  if (unfired == 0 || c->gen == UINT8_MAX) {
    return;
  }
  /* What fired under this generation is listed under it; what stays
  ** reached fired earlier, so the next generation carries it unlisted. */
  uint32_t carried = sla_past_carried(t, m);
  uint32_t mine = c->fired & ~carried;
  sla_past *cp = carried_of(t->ext, m);
  if (cp != NULL) {
    cp->kind = PAST_FIRED;  /* reused below, or emptied */
    cp->fired = 0;
  }
  if (mine != 0) {
    past_push(t, (sla_past){(uint8_t)m, c->gen, PAST_FIRED, mine, NULL});
  }
  c->fired &= ~unfired;
  c->gen++;
  if (c->fired != 0) {
    past_push(t, (sla_past){(uint8_t)m, c->gen, PAST_CARRIED, c->fired,
                            NULL});
  }
  /* The emptied entry is dropped. */
  sla_ext *e = t->ext;
  uint32_t k = 0;
  for (uint32_t i = 0; e != NULL && i < e->n_past; i++) {
    if (e->past[i].kind != PAST_FIRED || e->past[i].fired != 0) {
      e->past[k++] = e->past[i];
    }
  }
  if (e != NULL) {
    e->n_past = k;
  }
}


/* The keys of entry j of s's ladder for metric m. */
static void
entry_keys(pr_buf *b, const pr_sla_ticket *t, const pr_sla_set *s,
           uint32_t m, uint32_t gen, uint32_t j, int *first)
{
  const pr_sla_threshold *th = &s->thresholds[j];
  for (uint32_t k = 0; k < th->n_actions; k++) {
    char key[160];
    sla_key(key, sizeof(key), t->id, s->metrics[m].name, t->clocks[m].cycle,
            gen, th->label, &th->actions[k]);
    pr_buf_append(b, *first ? "" : ", ", *first ? 0 : 2);
    *first = 0;
    pr_sla_json_str(b, key);
  }
}


static void
keys_of(pr_buf *b, const pr_sla_ticket *t, const pr_sla_set *s, uint32_t m,
        uint32_t gen, uint32_t fired, int *first)
{
  for (uint32_t j = 0; j < s->n_thresholds; j++) {
    if (fired & ((uint32_t)1 << j)) {
      entry_keys(b, t, s, m, gen, j, first);
    }
  }
}


/* --- Reloads --------------------------------------------------------------- */

/* Entry k of new_s makes, for metric m, the keys entry j of old_s made. */
static int
same_keys(const pr_sla_set *old_s, uint32_t j, const pr_sla_set *new_s,
          uint32_t k, uint32_t m)
{
  const pr_sla_threshold *a = &old_s->thresholds[j];
  const pr_sla_threshold *b = &new_s->thresholds[k];
  if (strcmp(a->label, b->label) != 0 || !sla_applies(b->metrics, m) ||
      a->n_actions != b->n_actions) {
    return 0;
  }
  for (uint32_t i = 0; i < a->n_actions; i++) {
    if (strcmp(a->actions[i].name, b->actions[i].name) != 0 ||
        a->actions[i].ordinal != b->actions[i].ordinal) {
      return 0;
    }
  }
  return 1;
}


/* mask (old_s's indexes) in new_s's: by same keys (exact) or by label
** (what the clock's fired mask does).  *lost: the bits with no exact
** counterpart. */
static uint32_t
map_mask(const pr_sla_set *old_s, const pr_sla_set *new_s, uint32_t m_new,
         uint32_t mask, int exact, uint32_t *lost)
{
  uint32_t out = 0, gone = 0;
  for (uint32_t j = 0; j < old_s->n_thresholds; j++) {
    if ((mask & ((uint32_t)1 << j)) == 0) {
      continue;
    }
    int found = 0;
    for (uint32_t k = 0; k < new_s->n_thresholds; k++) {
      if (exact ? same_keys(old_s, j, new_s, k, m_new)
                : (strcmp(old_s->thresholds[j].label,
                          new_s->thresholds[k].label) == 0 &&
                   sla_applies(new_s->thresholds[k].metrics, m_new))) {
        out |= (uint32_t)1 << k;
        found = 1;
      }
    }
    if (!found) {
      gone |= (uint32_t)1 << j;
    }
  }
  if (lost != NULL) {
    *lost = gone;
  }
  return out;
}


/* The keys of mask under old_s become PAST_KEY entries of new metric
** m_new, in ladder order. */
static void
literal_keys(pr_sla_ticket *nt, const pr_sla_ticket *t,
             const pr_sla_set *old_s, uint32_t m_old, uint32_t m_new,
             uint32_t gen, uint32_t mask, sla_past *out, uint32_t *n,
             uint32_t cap)
{
  for (uint32_t j = 0; j < old_s->n_thresholds; j++) {
    if ((mask & ((uint32_t)1 << j)) == 0) {
      continue;
    }
    const pr_sla_threshold *th = &old_s->thresholds[j];
    for (uint32_t k = 0; k < th->n_actions && *n < cap; k++) {
      char key[160];
      sla_key(key, sizeof(key), nt->id, old_s->metrics[m_old].name,
              t->clocks[m_old].cycle, gen, th->label, &th->actions[k]);
      char *dup = pr_strdup(key);
      if (dup != NULL) {
        out[(*n)++] = (sla_past){(uint8_t)m_new, (uint8_t)gen, PAST_KEY, 0,
                                 dup};
      }
    }
  }
}


void
sla_past_rebind(pr_sla_ticket *nt, const pr_sla_ticket *t,
                const pr_sla_set *old_s, const pr_sla_set *new_s)
{
  sla_ext *e = nt->ext;
  int any = e != NULL && e->n_past > 0;
  for (uint32_t m = 0; m < t->n_clocks && !any; m++) {
    any = t->clocks[m].fired != 0;
  }
  if (!any) {
    return;  /* Nothing fired: nothing to keep (most tickets). */
  }
  /* The current generations' fired entries become record entries too,
  ** so count them in; each old entry gives at most one mask or carried
  ** entry, or one key per action of each of its entries. */
  uint32_t cap = 0;
  uint32_t keys_per_mask = 0;
  for (uint32_t j = 0; j < old_s->n_thresholds; j++) {
    keys_per_mask += old_s->thresholds[j].n_actions;
  }
  keys_per_mask = keys_per_mask > 0 ? keys_per_mask : 1;
  uint32_t n_old = e != NULL ? e->n_past : 0;
  cap = (n_old + 2 * t->n_clocks) * keys_per_mask + 1;
  sla_past *v = calloc(cap, sizeof(*v));
  if (v == NULL) {
    /* Out of memory: the record may list fewer keys; the masks can no
    ** longer be read in the new ladder. */
    sla_past_clear(e, UINT32_MAX);
    return;
  }
  uint32_t n = 0;
  int map[PR_SLA_MAX_METRICS];
  for (uint32_t m = 0; m < old_s->n_metrics; m++) {
    map[m] = pr_sla_set_metric_find(new_s, old_s->metrics[m].name);
  }
  for (uint32_t i = 0; i < n_old; i++) {
    sla_past p = e->past[i];
    int mn = p.metric < old_s->n_metrics ? map[p.metric] : -1;
    if (mn < 0) {
      free(p.key);
      continue;
    }
    if (p.kind == PAST_KEY) {
      p.metric = (uint8_t)mn;
      v[n++] = p;
      continue;
    }
    if (p.kind == PAST_CARRIED) {
      continue;  /* Made again below, with the clock's mask. */
    }
    uint32_t lost = 0;
    uint32_t mask = map_mask(old_s, new_s, (uint32_t)mn, p.fired, 1, &lost);
    if (lost == 0) {
      v[n++] = (sla_past){(uint8_t)mn, p.gen, PAST_FIRED, mask, NULL};
    } else {
      literal_keys(nt, t, old_s, p.metric, (uint32_t)mn, p.gen, p.fired, v,
                   &n, cap);
    }
  }
  /* The current generations: what fired under them and cannot be made
  ** in the new ladder is kept as keys; nt's fired mask (by label) then
  ** carries those, and what an earlier generation carried, unlisted. */
  for (uint32_t mo = 0; mo < old_s->n_metrics; mo++) {
    int mn = map[mo];
    if (mn < 0) {
      continue;
    }
    const sla_clock *oc = &t->clocks[mo];
    uint32_t old_carried = 0;
    for (uint32_t i = 0; i < n_old; i++) {
      if (e->past[i].kind == PAST_CARRIED && e->past[i].metric == mo) {
        old_carried = e->past[i].fired;
      }
    }
    uint32_t mine = oc->fired & ~old_carried;
    uint32_t lost = 0;
    map_mask(old_s, new_s, (uint32_t)mn, mine, 1, &lost);
    uint32_t carried =
      map_mask(old_s, new_s, (uint32_t)mn, old_carried, 0, NULL);
    if (lost != 0) {
      literal_keys(nt, t, old_s, mo, (uint32_t)mn, oc->gen, mine, v, &n, cap);
      carried |= map_mask(old_s, new_s, (uint32_t)mn, mine, 0, NULL);
    }
    carried &= nt->clocks[mn].fired;
    if (carried != 0 && n < cap) {
      v[n++] = (sla_past){(uint8_t)mn, oc->gen, PAST_CARRIED, carried, NULL};
    }
  }
  if (e == NULL && n > 0) {
    e = sla_ext_get(nt);
  }
  if (e == NULL) {
    for (uint32_t i = 0; i < n; i++) {
      free(v[i].key);
    }
    free(v);
    return;
  }
  free(e->past);
  e->past = NULL;
  e->n_past = 0;
  if (n == 0) {
    free(v);
    return;
  }
  sla_past *fit = realloc(v, n * sizeof(*v));
  e->past = fit != NULL ? fit : v;
  e->n_past = n;
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
    const sla_past *p = &e->past[i];
    if (p->metric != m) {
      continue;
    }
    if (p->kind == PAST_FIRED) {
      keys_of(&b, t, s, m, p->gen, p->fired, &first);
    } else if (p->kind == PAST_KEY) {
      pr_buf_append(&b, first ? "" : ", ", first ? 0 : 2);
      first = 0;
      pr_sla_json_str(&b, p->key);
    }
  }
  keys_of(&b, t, s, m, c->gen, c->fired & ~sla_past_carried(t, m), &first);
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
