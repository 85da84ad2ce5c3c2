/* deadlines.h - the one deadline structure of an instance: a min-heap
** of (instant, sequence) entries.
**
** Live, the core arms one uv_timer at the earliest entry; in replay,
** promptly_advance pops every entry up to the target instant.  Both paths
** pop from here, so a replay fires the same deadlines in the same order as
** live.
**
** An entry's owner (a ticket: its next deadline) is named by a position
** slot (uint32_t *pos, PR_DEADLINE_NONE while it has no entry), which the
** heap keeps at the index of the owner's entry as entries move, so that
** pr_deadlines_set moves that entry in place and pr_deadlines_cancel takes
** it out: one entry per owner, never stale ones, 24 bytes each.  The slot
** is the owner's: the core finds the ticket from it (it is a member of
** pr_ticket).  A moved entry takes a fresh sequence number, so ties order
** by the time of the last set, as for a new entry.  The owner must cancel
** its entry before its slot goes away.  At most UINT32_MAX - 1 entries.
** Loop thread only.
*/
#ifndef PR_DEADLINES_H
#define PR_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

#define PR_DEADLINE_NONE UINT32_MAX  /* *pos of an owner without an entry */

typedef struct pr_deadline {
  int64_t at_ms;  /* when it is due */
  uint64_t seq;   /* insertion order: breaks ties deterministically */
  uint32_t *pos;  /* the owner's slot: whose deadline it is */
} pr_deadline;

typedef struct pr_deadlines {
  pr_deadline *heap;
  size_t n;
  size_t cap;
  uint64_t next_seq;
} pr_deadlines;

void pr_deadlines_init(pr_deadlines *d);
void pr_deadlines_free(pr_deadlines *d);

/* Add an entry for the owner of slot pos (which has none), set to its
** index.  0 or PROMPTLY_ENOMEM (nothing changed). */
int pr_deadlines_push(pr_deadlines *d, int64_t at_ms, uint32_t *pos);

/* The owner of slot pos is due at at_ms: its entry moves there (with a new
** sequence number), or is pushed when it has none.  0 or PROMPTLY_ENOMEM
** (nothing changed). */
int pr_deadlines_set(pr_deadlines *d, int64_t at_ms, uint32_t *pos);

/* Take out the entry of slot pos, if any; *pos becomes PR_DEADLINE_NONE. */
void pr_deadlines_cancel(pr_deadlines *d, uint32_t *pos);

/* The earliest entry, or NULL when empty.  Valid until the next change. */
const pr_deadline *pr_deadlines_peek(const pr_deadlines *d);

/* Remove the earliest entry into *out (its slot becomes PR_DEADLINE_NONE).
** 0, or -1 when empty. */
int pr_deadlines_pop(pr_deadlines *d, pr_deadline *out);

#endif /* PR_DEADLINES_H */
