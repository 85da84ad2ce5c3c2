/* tickets.h - the tickets an instance knows: attributes and written fields.
**
** A pr_ticket holds what the module needs of one host ticket: its current
** attributes (as the host reported them), the priority level the module or
** an agent set, and the fields last written to the host, so that writes
** happen on change only.  pr_tickets maps ticket ids to tickets.  Loop
** thread only.
*/
#ifndef PR_TICKETS_H
#define PR_TICKETS_H

#include "sla.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* A set of owned name/value strings, in insertion order: the pr_kv array
** and the strings in one block, the strings of tickets.c's table of common
** names and values not copied.  Pointers into it hold until its next
** change. */
typedef struct pr_kvset {
  pr_kv *kv;   /* n entries, then the strings they own */
  uint32_t n;
} pr_kvset;

void pr_kvset_free(pr_kvset *s);
const char *pr_kvset_get(const pr_kvset *s, const char *name);
/* Set name to value (copies both).  0 or ENOMEM (then s is unchanged). */
int pr_kvset_set(pr_kvset *s, const char *name, const char *value);
/* Set each of add[0..n) in turn, in one change.  0 or ENOMEM (then s is
** unchanged). */
int pr_kvset_merge(pr_kvset *s, const pr_kv *add, uint32_t n);

/* The fields last written to the host, name -> value, encoded compactly
** (tickets.c): the common names and values as a byte, instants in the
** canonical ISO form as 6 bytes of ms. */
typedef struct pr_fields {
  uint8_t *buf;  /* NULL, or the entries and an end mark */
} pr_fields;

void pr_fields_free(pr_fields *f);
/* Set name to value.  0 or ENOMEM (then f is unchanged). */
int pr_fields_set(pr_fields *f, const char *name, const char *value);
/* The value of name, or NULL: in buf, in the table or in f (valid until f
** changes). */
const char *pr_fields_get(const pr_fields *f, const char *name,
                          char buf[PR_ISO_LEN]);

struct pr_sla_ticket;
struct pr_ticket;

/* The ticket's attributes as they were before a change, for the outcome
** records of cycles that began before it (attrs at the cycle's start):
** json holds until until_ms.  At most PR_ATTR_SNAPS, oldest first; a
** ticket whose attributes never change while a cycle runs has none. */
#define PR_ATTR_SNAPS 8
typedef struct pr_attr_snap {
  int64_t until_ms;
  char *json;
} pr_attr_snap;
typedef struct pr_attr_snaps {
  uint32_t n;
  pr_attr_snap v[PR_ATTR_SNAPS];
} pr_attr_snaps;

/* Keep json (owned from now on, even on failure) as the attributes until
** until_ms, dropping the snapshots that end at or before oldest (no open
** cycle began before them) and, when full, the oldest one. */
void pr_ticket_snap(struct pr_ticket *t, int64_t until_ms, int64_t oldest,
                    char *json);
/* The snapshot in force at at_ms, or NULL for the current attributes. */
const char *pr_ticket_snap_at(const struct pr_ticket *t, int64_t at_ms);

typedef struct pr_ticket {
  int64_t id;
  pr_attr_snaps *snaps;  /* NULL until an attribute changes mid-cycle */
  pr_kvset attrs;    /* subject, body, tier, type, channel, queue, status... */
  pr_fields written; /* field name -> value the host last accepted */
  const char *priority;  /* level id ("P1"), NULL before any; owned
                            (pr_ticket_set_priority) */
  struct pr_sla_ticket *sla;  /* its clocks and the policies they follow;
                                 NULL if they could not open */
  uint32_t raised;   /* ladder steps (bit per entry) whose raise_priority
                        or set_priority changed the priority already */
  uint32_t deadline; /* its entry's index in the deadline heap, owned by
                        deadlines.c; PR_DEADLINE_NONE: none */
  uint8_t manual;    /* 1 once an agent set the priority by hand */
  uint8_t cond_first; /* the pause condition that holds (1 + its index in
                         the rules, pr_rules_conditions); 0 none or not
                         known (beyond 255, or rules reloaded since) */
} pr_ticket;

typedef struct pr_tickets {
  pr_ticket **slot;  /* open addressing, linear probing; NULL = empty */
  size_t cap;        /* a power of two */
  size_t n;
} pr_tickets;

void pr_tickets_init(pr_tickets *m);
void pr_tickets_free(pr_tickets *m);  /* frees every ticket */
pr_ticket *pr_tickets_get(const pr_tickets *m, int64_t id);
/* A new, empty ticket under id (which must not be present); NULL on ENOMEM. */
pr_ticket *pr_tickets_add(pr_tickets *m, int64_t id);
/* Call fn for every ticket (in no particular order); fn must not add or
** remove tickets. */
void pr_tickets_each(pr_tickets *m, void (*fn)(pr_ticket *t, void *ud),
                     void *ud);

/* Remove and free the ticket id, if present. */
void pr_tickets_remove(pr_tickets *m, int64_t id);

/* Set the ticket's priority to a copy of id.  0 or ENOMEM (unchanged). */
int pr_ticket_set_priority(pr_ticket *t, const char *id);

/* The fields of want[0..n) that differ from what t->written holds, copied
** (borrowed pointers) to out, which has room for n.  Returns how many. */
uint32_t pr_ticket_diff(const pr_ticket *t, const pr_kv *want, uint32_t n,
                        pr_kv *out);

#endif /* PR_TICKETS_H */
