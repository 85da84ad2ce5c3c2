/* deadlines.c - a 4-ary min-heap of deadlines ordered by (at_ms, seq); an
** entry with an owner's slot keeps *slot equal to its index.  Four children
** a node: half the depth of a binary heap, and siblings side by side in
** memory, for the moves of a million owners' entries. */
#include "config.h"

#include "deadlines.h"
#include "promptly.h"

#include <stdlib.h>

#define ARITY 4

static int
earlier(const pr_deadline *a, const pr_deadline *b)
{
  if (a->at_ms != b->at_ms) {
    return a->at_ms < b->at_ms;
  }
  return a->seq < b->seq;
}


static void
put(pr_deadlines *d, size_t i, pr_deadline e)
{
  d->heap[i] = e;
  *e.pos = (uint32_t)i;
}


/* Place e at hole i or above it. */
static size_t
sift_up(pr_deadlines *d, size_t i, pr_deadline e)
{
  while (i > 0) {
    size_t parent = (i - 1) / ARITY;
    if (!earlier(&e, &d->heap[parent])) {
      break;
    }
    put(d, i, d->heap[parent]);
    i = parent;
  }
  put(d, i, e);
  return i;
}


/* Place e at hole i or below it (among the first d->n entries). */
static void
sift_down(pr_deadlines *d, size_t i, pr_deadline e)
{
  for (;;) {
    size_t first = ARITY * i + 1;
    if (first >= d->n) {
      break;
    }
    size_t child = first;
    size_t end = first + ARITY < d->n ? first + ARITY : d->n;
    for (size_t c = first + 1; c < end; c++) {
      if (earlier(&d->heap[c], &d->heap[child])) {
        child = c;
      }
    }
    if (!earlier(&d->heap[child], &e)) {
      break;
    }
    put(d, i, d->heap[child]);
    i = child;
  }
  put(d, i, e);
}


/* Put e into hole i, wherever order wants it. */
static void
settle(pr_deadlines *d, size_t i, pr_deadline e)
{
  if (sift_up(d, i, e) == i) {
    sift_down(d, i, e);
  }
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
pr_deadlines_push(pr_deadlines *d, int64_t at_ms, uint32_t *pos)
{
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    if (cap > PR_DEADLINE_NONE) {
      cap = PR_DEADLINE_NONE;
    }
    if (cap <= d->n) {
      return PROMPTLY_ENOMEM;
    }
    pr_deadline *h = realloc(d->heap, cap * sizeof(*h));
    if (h == NULL) {
      return PROMPTLY_ENOMEM;
    }
    d->heap = h;
    d->cap = cap;
  }
  pr_deadline e = {at_ms, d->next_seq++, pos};
  sift_up(d, d->n++, e);
  return PROMPTLY_OK;
}


int
pr_deadlines_set(pr_deadlines *d, int64_t at_ms, uint32_t *pos)
{
  if (*pos == PR_DEADLINE_NONE) {
    return pr_deadlines_push(d, at_ms, pos);
  }
  pr_deadline e = {at_ms, d->next_seq++, pos};
  settle(d, *pos, e);
  return PROMPTLY_OK;
}


/* Take out the entry at index i. */
static void
take(pr_deadlines *d, size_t i)
{
  *d->heap[i].pos = PR_DEADLINE_NONE;
  pr_deadline last = d->heap[--d->n];
  if (i < d->n) {
    settle(d, i, last);
  }
}


void
pr_deadlines_cancel(pr_deadlines *d, uint32_t *pos)
{
  if (*pos != PR_DEADLINE_NONE) {
    take(d, *pos);
  }
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
  take(d, 0);
  return 0;
}
