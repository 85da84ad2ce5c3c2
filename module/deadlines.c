/* deadlines.c - a binary min-heap of deadlines ordered by (at_ms, seq). */
#include "config.h"

#include "deadlines.h"
#include "promptly.h"

#include <stdlib.h>

static int
earlier(const pr_deadline *a, const pr_deadline *b)
{
  if (a->at_ms != b->at_ms) {
    return a->at_ms < b->at_ms;
  }
  return a->seq < b->seq;
}


void
pr_deadlines_init(pr_deadlines *d)
{
  d->heap = NULL;
  d->n = 0;
  d->cap = 0;
  d->next_seq = 0;
}


void
pr_deadlines_free(pr_deadlines *d)
{
  free(d->heap);
  pr_deadlines_init(d);
}


int
pr_deadlines_push(pr_deadlines *d, int64_t at_ms, int64_t ticket,
                  uint64_t tag)
{
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    pr_deadline *h = realloc(d->heap, cap * sizeof(*h));
    if (h == NULL) {
      return PROMPTLY_ENOMEM;
    }
    d->heap = h;
    d->cap = cap;
  }
  pr_deadline e = {at_ms, d->next_seq++, ticket, tag};
  size_t i = d->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!earlier(&e, &d->heap[parent])) {
      break;
    }
    d->heap[i] = d->heap[parent];
    i = parent;
  }
  d->heap[i] = e;
  return PROMPTLY_OK;
}


const pr_deadline *
pr_deadlines_peek(const pr_deadlines *d)
{
  return d->n > 0 ? &d->heap[0] : NULL;
}


int
pr_deadlines_pop(pr_deadlines *d, pr_deadline *out)
{
  if (d->n == 0) {
    return -1;
  }
  *out = d->heap[0];
  pr_deadline last = d->heap[--d->n];
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= d->n) {
      break;
    }
    if (child + 1 < d->n && earlier(&d->heap[child + 1], &d->heap[child])) {
      child++;
    }
    if (!earlier(&d->heap[child], &last)) {
      break;
    }
    d->heap[i] = d->heap[child];
    i = child;
  }
  if (d->n > 0) {
    d->heap[i] = last;
  }
  return 0;
}
