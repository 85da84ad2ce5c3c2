/* tickets.c - the tickets an instance knows: attributes and written fields. */
#include "config.h"

#include "tickets.h"
#include "deadlines.h"
#include "promptly.h"
#include "sla.h"

#include <stdlib.h>
#include <string.h>

/* The names and values nearly every ticket holds: the attributes hosts
** send and the fields the module writes, with their usual values.  A set
** points into this read-only table instead of copying them, which saves
** two small allocations per entry (a third of a ticket's memory) and the
** time to free them.  One array, so that whether a string is the table's
** is one range check. */
#define COMMON_LEN 26
static const char common[][COMMON_LEN] = {
  "", "0", "1", "2", "3", "P1", "P2", "P3", "P4",
  "body", "channel", "queue", "requestor", "status", "subject", "tier",
  "type", "owner", "actor", "priority", "new", "open", "resolved", "closed",
  "email", "chat", "phone", "web",
  "sla.policy", "sla.status", "sla.due", "sla.escalation",
  "sla.customer_wait",
  "sla.first_response.due", "sla.first_response.state",
  "sla.next_response.due", "sla.next_response.state",
  "sla.periodic_update.due", "sla.periodic_update.state",
  "sla.resolution.due", "sla.resolution.state",
  "on_track", "at_risk", "breached", "paused", "met", "none", "running",
};
#define N_COMMON (sizeof(common) / sizeof(common[0]))


/* The table's copy of s, or NULL. */
static const char *
common_str(const char *s)
{
  size_t len = strlen(s);
  if (len >= COMMON_LEN) {
    return NULL;
  }
  /* Bounded by the row: an entry of exactly COMMON_LEN characters (which C
  ** stores without its NUL) can never match, nor be read past. */
  for (size_t i = 0; i < N_COMMON; i++) {
    if (common[i][0] == s[0] && memcmp(common[i], s, len + 1) == 0) {
      return common[i];
    }
  }
  return NULL;
}


static int
is_common(const char *s)
{
  uintptr_t p = (uintptr_t)s;
  return p >= (uintptr_t)common && p < (uintptr_t)(common + N_COMMON);
}


/* A string the set owns: the table's copy or a fresh one (NULL: ENOMEM). */
static const char *
own(const char *s)
{
  const char *c = common_str(s);
  return c != NULL ? c : pr_strdup(s);
}


static void
disown(const char *s)
{
  if (s != NULL && !is_common(s)) {
    free((char *)s);
  }
}


void
pr_kvset_free(pr_kvset *s)
{
  for (uint32_t i = 0; i < s->n; i++) {
    disown(s->kv[i].name);
    disown(s->kv[i].value);
  }
  free(s->kv);
  s->kv = NULL;
  s->n = s->cap = 0;
}


static int
kvset_index(const pr_kvset *s, const char *name)
{
  for (uint32_t i = 0; i < s->n; i++) {
    if (strcmp(s->kv[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}


const char *
pr_kvset_get(const pr_kvset *s, const char *name)
{
  int i = kvset_index(s, name);
  return i < 0 ? NULL : s->kv[i].value;
}


int
pr_kvset_set(pr_kvset *s, const char *name, const char *value)
{
  int i = kvset_index(s, name);
  if (i >= 0 && strcmp(s->kv[i].value, value) == 0) {
    return PROMPTLY_OK;
  }
  const char *v = own(value);
  if (v == NULL) {
    return PROMPTLY_ENOMEM;
  }
  if (i >= 0) {
    disown(s->kv[i].value);
    s->kv[i].value = v;
    return PROMPTLY_OK;
  }
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    pr_kv *kv = realloc(s->kv, cap * sizeof(*kv));
    if (kv == NULL) {
      disown(v);
      return PROMPTLY_ENOMEM;
    }
    s->kv = kv;
    s->cap = cap;
  }
  const char *n = own(name);
  if (n == NULL) {
    disown(v);
    return PROMPTLY_ENOMEM;
  }
  s->kv[s->n].name = n;
  s->kv[s->n].value = v;
  s->n++;
  return PROMPTLY_OK;
}


uint32_t
pr_ticket_diff(const pr_ticket *t, const pr_kv *want, uint32_t n, pr_kv *out)
{
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    const char *old = pr_kvset_get(&t->written, want[i].name);
    /* A field never written reads as empty to the host. */
    if (old == NULL ? want[i].value[0] != '\0'
                    : strcmp(old, want[i].value) != 0) {
      out[k++] = want[i];
    }
  }
  return k;
}


/* --- The id map ---------------------------------------------------------- */

static size_t
hash_id(int64_t id)
{
  uint64_t x = (uint64_t)id;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (size_t)x;
}


void
pr_tickets_init(pr_tickets *m)
{
  m->slot = NULL;
  m->cap = 0;
  m->n = 0;
}


static void
snaps_free(pr_attr_snaps *sn)
{
  for (uint32_t i = 0; sn != NULL && i < sn->n; i++) {
    free(sn->v[i].json);
  }
  free(sn);
}


void
pr_ticket_snap(pr_ticket *t, int64_t until_ms, int64_t oldest, char *json)
{
  if (json == NULL) {
    return;
  }
  if (t->snaps == NULL && (t->snaps = calloc(1, sizeof(*t->snaps))) == NULL) {
    free(json);
    return;
  }
  pr_attr_snaps *sn = t->snaps;
  uint32_t k = 0;
  for (uint32_t i = 0; i < sn->n; i++) {
    if (sn->v[i].until_ms <= oldest) {
      free(sn->v[i].json);
    } else {
      sn->v[k++] = sn->v[i];
    }
  }
  sn->n = k;
  if (sn->n == PR_ATTR_SNAPS) {
    free(sn->v[0].json);
    memmove(&sn->v[0], &sn->v[1], (PR_ATTR_SNAPS - 1) * sizeof(sn->v[0]));
    sn->n--;
  }
  sn->v[sn->n].until_ms = until_ms;
  sn->v[sn->n].json = json;
  sn->n++;
}


const char *
pr_ticket_snap_at(const pr_ticket *t, int64_t at_ms)
{
  for (uint32_t i = 0; t->snaps != NULL && i < t->snaps->n; i++) {
    if (t->snaps->v[i].until_ms > at_ms) {
      return t->snaps->v[i].json;
    }
  }
  return NULL;
}


static void
ticket_free(pr_ticket *t)
{
  snaps_free(t->snaps);
  pr_kvset_free(&t->attrs);
  pr_kvset_free(&t->written);
  free(t->priority);
  pr_sla_ticket_free(t->sla);
  free(t);
}


static int
cmp_addr(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t)*(pr_ticket *const *)a;
  uintptr_t y = (uintptr_t)*(pr_ticket *const *)b;
  return (x > y) - (x < y);
}


/* The slots are in hash order, which is no order in memory: freeing a
** million tickets that way misses the cache on nearly every block.  In
** address order (the slot array itself, packed and sorted) the same frees
** walk the heap forwards. */
void
pr_tickets_free(pr_tickets *m)
{
  size_t n = 0;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slot[i] != NULL) {
      m->slot[n++] = m->slot[i];
    }
  }
  if (n > 1) {
    qsort(m->slot, n, sizeof(*m->slot), cmp_addr);
  }
  for (size_t i = 0; i < n; i++) {
    ticket_free(m->slot[i]);
  }
  free(m->slot);
  pr_tickets_init(m);
}


pr_ticket *
pr_tickets_get(const pr_tickets *m, int64_t id)
{
  if (m->cap == 0) {
    return NULL;
  }
  size_t mask = m->cap - 1;
  for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
    if (m->slot[i] == NULL) {
      return NULL;
    }
    if (m->slot[i]->id == id) {
      return m->slot[i];
    }
  }
}


static void
place(pr_ticket **slot, size_t mask, pr_ticket *t)
{
  size_t i = hash_id(t->id) & mask;
  while (slot[i] != NULL) {
    i = (i + 1) & mask;
  }
  slot[i] = t;
}


static int
grow(pr_tickets *m)
{
  size_t cap = m->cap ? m->cap * 2 : 64;
  pr_ticket **slot = calloc(cap, sizeof(*slot));
  if (slot == NULL) {
    return PROMPTLY_ENOMEM;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slot[i] != NULL) {
      place(slot, cap - 1, m->slot[i]);
    }
  }
  free(m->slot);
  m->slot = slot;
  m->cap = cap;
  return PROMPTLY_OK;
}


pr_ticket *
pr_tickets_add(pr_tickets *m, int64_t id)
{
  /* Keep the load factor at or below one half. */
  if ((m->n + 1) * 2 > m->cap && grow(m) != PROMPTLY_OK) {
    return NULL;
  }
  pr_ticket *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    return NULL;
  }
  t->id = id;
  t->deadline = PR_DEADLINE_NONE;
  place(m->slot, m->cap - 1, t);
  m->n++;
  return t;
}


void
pr_tickets_each(pr_tickets *m, void (*fn)(pr_ticket *t, void *ud), void *ud)
{
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slot[i] != NULL) {
      fn(m->slot[i], ud);
    }
  }
}


void
pr_tickets_remove(pr_tickets *m, int64_t id)
{
  if (m->cap == 0) {
    return;
  }
  size_t mask = m->cap - 1;
  size_t i = hash_id(id) & mask;
  while (m->slot[i] != NULL && m->slot[i]->id != id) {
    i = (i + 1) & mask;
  }
  if (m->slot[i] == NULL) {
    return;
  }
  ticket_free(m->slot[i]);
  m->slot[i] = NULL;
  m->n--;
  /* Backward-shift deletion: re-place the rest of the probe run so that
  ** lookups never stop early at the hole. */
  for (size_t j = (i + 1) & mask; m->slot[j] != NULL; j = (j + 1) & mask) {
    pr_ticket *t = m->slot[j];
    m->slot[j] = NULL;
    place(m->slot, mask, t);
  }
}
