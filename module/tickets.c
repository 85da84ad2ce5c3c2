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
** is one range check; in strcmp order, for a binary search. */
#define COMMON_LEN 26
static const char common[][COMMON_LEN] = {
  "", "0", "1", "2", "3", "P1", "P2", "P3", "P4", "actor", "at_risk", "body",
  "breached", "channel", "chat", "closed", "email", "met", "new", "none",
  "on_track", "open", "owner", "paused", "pending customer", "phone",
  "priority", "queue", "requestor", "resolved", "running",
  "sla.customer_wait", "sla.due", "sla.escalation", "sla.exception",
  "sla.first_response.due", "sla.first_response.state",
  "sla.next_response.due", "sla.next_response.state",
  "sla.periodic_update.due", "sla.periodic_update.state", "sla.policy",
  "sla.resolution.due", "sla.resolution.state", "sla.status", "status",
  "stopped", "subject", "tier", "type", "web",
};
#define N_COMMON (sizeof(common) / sizeof(common[0]))


/* strcmp of a row with s, inline: it runs for every field of every
** publish, and rows mostly differ from s in their first bytes. */
static int
cmp_row(const char *row, const char *s)
{
  for (size_t i = 0; i < COMMON_LEN; i++) {
    unsigned char a = (unsigned char)row[i], b = (unsigned char)s[i];
    if (a != b) {
      return a < b ? -1 : 1;
    }
    if (a == 0) {
      return 0;
    }
  }
  return 0;
}


/* The table's copy of s, or NULL. */
static const char *
common_str(const char *s)
{
  if (strnlen(s, COMMON_LEN) >= COMMON_LEN) {
    return NULL;
  }
  /* Bounded by the row: an entry of exactly COMMON_LEN characters (which C
  ** stores without its NUL) can never match, nor be read past. */
  size_t lo = 0, hi = N_COMMON;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_row(common[mid], s);
    if (c == 0) {
      return common[mid];
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
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


/* --- Attribute sets ------------------------------------------------------
** One block per set: the pr_kv array, then the bytes of the strings that
** are not the table's, each NUL-terminated; entries point into the block
** or into the table.  A change builds the block anew at its exact size (a
** set changes seldom: at create, on status changes and updates). */

void
pr_kvset_free(pr_kvset *s)
{
  free(s->kv);
  s->kv = NULL;
  s->n = 0;
}


static int
kvset_index(const pr_kv *kv, uint32_t n, const char *name)
{
  for (uint32_t i = 0; i < n; i++) {
    if (strcmp(kv[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}


const char *
pr_kvset_get(const pr_kvset *s, const char *name)
{
  int i = kvset_index(s->kv, s->n, name);
  return i < 0 ? NULL : s->kv[i].value;
}


/* The table's copy of s, else s itself (to be copied into a block). */
static const char *
common_or(const char *s)
{
  if (is_common(s)) {
    return s;
  }
  const char *c = common_str(s);
  return c != NULL ? c : s;
}


int
pr_kvset_merge(pr_kvset *s, const pr_kv *add, uint32_t n_add)
{
  if (n_add > UINT32_MAX - s->n) {
    return PROMPTLY_ENOMEM;
  }
  /* The entries after the change, borrowed from the old block, the table
  ** and add. */
  pr_kv small[32];
  uint32_t max = s->n + n_add;
  pr_kv *kv = max <= 32 ? small : malloc(max * sizeof(*kv));
  if (kv == NULL) {
    return PROMPTLY_ENOMEM;
  }
  uint32_t n = s->n;
  if (n > 0) {
    memcpy(kv, s->kv, n * sizeof(*kv));
  }
  int changed = 0;
  for (uint32_t j = 0; j < n_add; j++) {
    int i = kvset_index(kv, n, add[j].name);
    if (i >= 0 && strcmp(kv[i].value, add[j].value) == 0) {
      continue;
    }
    changed = 1;
    if (i >= 0) {
      kv[i].value = common_or(add[j].value);
    } else {
      kv[n].name = common_or(add[j].name);
      kv[n].value = common_or(add[j].value);
      n++;
    }
  }
  int rc = PROMPTLY_OK;
  if (changed) {
    size_t size = n * sizeof(*kv);
    for (uint32_t i = 0; i < n; i++) {
      size += is_common(kv[i].name) ? 0 : strlen(kv[i].name) + 1;
      size += is_common(kv[i].value) ? 0 : strlen(kv[i].value) + 1;
    }
    pr_kv *block = malloc(size);
    if (block == NULL) {
      rc = PROMPTLY_ENOMEM;
    } else {
      char *at = (char *)(block + n);
      for (uint32_t i = 0; i < n; i++) {
        const char *str[2] = {kv[i].name, kv[i].value};
        for (int k = 0; k < 2; k++) {
          if (!is_common(str[k])) {
            size_t len = strlen(str[k]) + 1;
            memcpy(at, str[k], len);
            str[k] = at;
            at += len;
          }
        }
        block[i].name = str[0];
        block[i].value = str[1];
      }
      free(s->kv);
      s->kv = block;
      s->n = n;
    }
  }
  if (kv != small) {
    free(kv);
  }
  return rc;
}


int
pr_kvset_set(pr_kvset *s, const char *name, const char *value)
{
  pr_kv one = {name, value};
  return pr_kvset_merge(s, &one, 1);
}


/* --- Written fields --------------------------------------------------------
** One block of entries, each a name then a value, and END after the last
** (NULL: no entry).  A name is one byte: its index in the table, or LIT
** followed by the name and a NUL.  A value is a tag byte: a table index;
** TIME followed by 6 bytes, little-endian, the ms of an instant in the
** canonical form of pr_iso_format (what the dues are) since T_BASE (years
** 0000 to 8900, about); LIT followed by the string and a NUL.  A string has
** one encoding (the table's strings are always encoded by index, and
** canonical instants in range as TIME), so that equal strings are equal
** entries. */

#define F_END  0xfd
#define F_TIME 0xfe
#define F_LIT  0xff
#define T_BASE (-62167219200000LL)  /* 0000-01-01T00:00:00Z */
#define T_SPAN ((int64_t)1 << 48)
_Static_assert(N_COMMON < F_END, "the table's indexes fit a tag byte");

static int
common_index(const char *s)
{
  const char *c = common_str(s);
  return c != NULL ? (int)((c - common[0]) / COMMON_LEN) : -1;
}


static int
digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}


/* s as an instant if it is exactly what pr_iso_format writes for one
** ("2026-11-23T13:00:00Z", ".123" before the Z when the ms are not zero,
** years 0000 to 9999): 1 and *ms, else 0.  Distinct strings accepted give
** distinct instants. */
static int
canonical_instant(const char *s, int64_t *ms)
{
  size_t len = strnlen(s, 25);
  int y, mo, d, h, mi, se, frac = 0;
  if ((len != 20 && len != 24) || s[4] != '-' || s[7] != '-' ||
      s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len - 1] != 'Z' ||
      !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
      !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
      !digits(s + 17, 2, &se)) {
    return 0;
  }
  if (len == 24 && (s[19] != '.' || !digits(s + 20, 3, &frac) || frac == 0)) {
    return 0;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
    return 0;
  }
  int64_t days = pr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  int64_t yy;
  unsigned m2, d2;
  pr_civil_from_days(days, &yy, &m2, &d2);
  if (yy != y || m2 != (unsigned)mo || d2 != (unsigned)d) {
    return 0;  /* 30 February and the like */
  }
  *ms = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000) + frac;
  return 1;
}


/* The bytes after the name byte at e, and after the value at v. */
static const uint8_t *
skip_name(const uint8_t *e)
{
  return *e == F_LIT ? e + 1 + strlen((const char *)e + 1) + 1 : e + 1;
}


static const uint8_t *
skip_value(const uint8_t *v)
{
  if (*v == F_TIME) {
    return v + 1 + 6;
  }
  return *v == F_LIT ? v + 1 + strlen((const char *)v + 1) + 1 : v + 1;
}


static int64_t
get_time(const uint8_t *p)
{
  uint64_t x = 0;
  for (int i = 5; i >= 0; i--) {
    x = x << 8 | p[i];
  }
  return (int64_t)x + T_BASE;
}


static void
put_time(uint8_t *p, int64_t ms)
{
  uint64_t x = (uint64_t)(ms - T_BASE);
  for (int i = 0; i < 6; i++) {
    p[i] = (uint8_t)(x >> (8 * i));
  }
}


/* The bytes of the block up to its END, END excluded. */
static size_t
fields_len(const pr_fields *f)
{
  const uint8_t *p = f->buf;
  while (*p != F_END) {
    p = skip_value(skip_name(p));
  }
  return (size_t)(p - f->buf);
}


/* The value of the entry named name (ci: its table index or -1), or NULL;
** *entry: the entry's offset. */
static const uint8_t *
fields_find(const pr_fields *f, const char *name, int ci, size_t *entry)
{
  if (f->buf == NULL) {
    return NULL;
  }
  const uint8_t *p = f->buf;
  while (*p != F_END) {
    const uint8_t *v = skip_name(p);
    if (ci >= 0 ? *p == (uint8_t)ci
                : *p == F_LIT && strcmp((const char *)p + 1, name) == 0) {
      if (entry != NULL) {
        *entry = (size_t)(p - f->buf);
      }
      return v;
    }
    p = skip_value(v);
  }
  return NULL;
}


/* Whether the value encoded at v is the string s. */
static int
value_is(const uint8_t *v, const char *s)
{
  if (*v == F_LIT) {
    return strcmp((const char *)v + 1, s) == 0;
  }
  if (*v == F_TIME) {
    int64_t want;
    return canonical_instant(s, &want) && want == get_time(v + 1);
  }
  return strcmp(common[*v], s) == 0;
}


void
pr_fields_free(pr_fields *f)
{
  free(f->buf);
  f->buf = NULL;
}


const char *
pr_fields_get(const pr_fields *f, const char *name, char buf[PR_ISO_LEN])
{
  const uint8_t *v = fields_find(f, name, common_index(name), NULL);
  if (v == NULL) {
    return NULL;
  }
  if (*v == F_LIT) {
    return (const char *)v + 1;
  }
  if (*v == F_TIME) {
    pr_iso_format(get_time(v + 1), buf);
    return buf;
  }
  return common[*v];
}


int
pr_fields_set(pr_fields *f, const char *name, const char *value)
{
  int ci = common_index(name);
  size_t at = 0;
  const uint8_t *old = fields_find(f, name, ci, &at);
  if (old != NULL && value_is(old, value)) {
    return PROMPTLY_OK;
  }
  /* The new entry. */
  uint8_t head[1 + 6];
  size_t head_len = 1;
  const char *lit = NULL;
  int vi = common_index(value);
  int64_t ms;
  if (vi >= 0) {
    head[0] = (uint8_t)vi;
  } else if (canonical_instant(value, &ms) && ms >= T_BASE &&
             ms - T_BASE < T_SPAN) {
    head[0] = F_TIME;
    put_time(head + 1, ms);
    head_len = 1 + 6;
  } else {
    head[0] = F_LIT;
    lit = value;
  }
  size_t name_len = ci >= 0 ? 1 : 1 + strlen(name) + 1;
  size_t entry_len = name_len + head_len + (lit ? strlen(lit) + 1 : 0);
  /* The old entry goes, the new one comes last. */
  size_t old_len = old != NULL ? (size_t)(skip_value(old) - (f->buf + at)) : 0;
  size_t have = f->buf != NULL ? fields_len(f) : 0;
  size_t len = have - old_len + entry_len + 1;
  uint8_t *buf = malloc(len);
  if (buf == NULL) {
    return PROMPTLY_ENOMEM;
  }
  size_t k = 0;
  if (old != NULL) {
    memcpy(buf, f->buf, at);
    memcpy(buf + at, f->buf + at + old_len, have - at - old_len);
    k = have - old_len;
  } else if (f->buf != NULL) {
    memcpy(buf, f->buf, have);
    k = have;
  }
  if (ci >= 0) {
    buf[k++] = (uint8_t)ci;
  } else {
    buf[k++] = F_LIT;
    memcpy(buf + k, name, strlen(name) + 1);
    k += strlen(name) + 1;
  }
  memcpy(buf + k, head, head_len);
  k += head_len;
  if (lit != NULL) {
    memcpy(buf + k, lit, strlen(lit) + 1);
    k += strlen(lit) + 1;
  }
  buf[k] = F_END;
  free(f->buf);
  f->buf = buf;
  return PROMPTLY_OK;
}


uint32_t
pr_ticket_diff(const pr_ticket *t, const pr_kv *want, uint32_t n, pr_kv *out)
{
  /* The entries' names and values, decoded once (the first 64). */
  const uint8_t *name[64], *value[64];
  uint32_t ne = 0;
  int all = 1;
  for (const uint8_t *p = t->written.buf; p != NULL && *p != F_END;) {
    if (ne == 64) {
      all = 0;
      break;
    }
    name[ne] = p;
    value[ne] = skip_name(p);
    p = skip_value(value[ne]);
    ne++;
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    int ci = common_index(want[i].name);
    const uint8_t *old = NULL;
    for (uint32_t j = 0; j < ne && old == NULL; j++) {
      if (ci >= 0 ? *name[j] == (uint8_t)ci
                  : *name[j] == F_LIT &&
                      strcmp((const char *)name[j] + 1, want[i].name) == 0) {
        old = value[j];
      }
    }
    if (old == NULL && !all) {
      old = fields_find(&t->written, want[i].name, ci, NULL);
    }
    /* A field never written reads as empty to the host. */
    if (old == NULL ? want[i].value[0] != '\0'
                    : !value_is(old, want[i].value)) {
      out[k++] = want[i];
    }
  }
  return k;
}


int
pr_ticket_set_priority(pr_ticket *t, const char *id)
{
  const char *v = own(id);
  if (v == NULL) {
    return PROMPTLY_ENOMEM;
  }
  disown(t->priority);
  t->priority = v;
  return PROMPTLY_OK;
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
  pr_fields_free(&t->written);
  disown(t->priority);
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
