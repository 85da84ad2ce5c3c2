/* deadlines.h - the one deadline structure of an instance: a binary min-heap
** of (instant, sequence) entries.
**
** Live, the core arms one uv_timer at the earliest entry; in replay,
** promptly_advance pops every entry up to the target instant.  Both paths
** pop from here, so a replay fires the same deadlines in the same order as
** live.  Entries are never removed from the middle: a cancelled or moved
** deadline is left behind and recognised as stale by its tag when popped.
** Loop thread only.
*/
#ifndef PR_DEADLINES_H
#define PR_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pr_deadline {
  int64_t at_ms;  /* when it is due */
  uint64_t seq;   /* insertion order: breaks ties deterministically */
  int64_t ticket; /* whose deadline it is */
  uint64_t tag;   /* the owner's generation, to spot stale entries */
} pr_deadline;

typedef struct pr_deadlines {
  pr_deadline *heap;
  size_t n;
  size_t cap;
  uint64_t next_seq;
} pr_deadlines;

void pr_deadlines_init(pr_deadlines *d);
void pr_deadlines_free(pr_deadlines *d);

/* Add an entry.  0 or PROMPTLY_ENOMEM. */
int pr_deadlines_push(pr_deadlines *d, int64_t at_ms, int64_t ticket,
                      uint64_t tag);

/* The earliest entry, or NULL when empty.  Valid until the next change. */
const pr_deadline *pr_deadlines_peek(const pr_deadlines *d);

/* Remove the earliest entry into *out.  0, or -1 when empty. */
int pr_deadlines_pop(pr_deadlines *d, pr_deadline *out);

#endif /* PR_DEADLINES_H */
