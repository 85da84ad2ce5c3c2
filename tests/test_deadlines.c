/* test_deadlines.c - the deadline heap: time order, ties by insertion,
** owners' entries moved and cancelled in place. */
#include "config.h"

#include "cmocka_all.h"

#include "deadlines.h"
#include "promptly.h"

#include <stdlib.h>

static void
test_deadlines_pop_in_time_order(void **state)
{
  (void)state;
  pr_deadlines d;
  pr_deadlines_init(&d);
  static uint32_t slot[10000];
  srand(7);
  for (int i = 0; i < 10000; i++) {
    slot[i] = PR_DEADLINE_NONE;
    assert_int_equal(pr_deadlines_push(&d, rand() % 5000, &slot[i]),
                     PROMPTLY_OK);
  }
  pr_deadline prev = {INT64_MIN, 0, NULL}, e;
  int n = 0;
  while (pr_deadlines_pop(&d, &e) == 0) {
    assert_true(e.at_ms > prev.at_ms ||
                (e.at_ms == prev.at_ms && e.seq > prev.seq));
    prev = e;
    n++;
  }
  assert_int_equal(n, 10000);
  assert_null(pr_deadlines_peek(&d));
  for (int i = 0; i < 10000; i++) {
    assert_int_equal(slot[i], PR_DEADLINE_NONE);
  }
  pr_deadlines_free(&d);
}


static void
test_deadlines_ties_keep_insertion_order(void **state)
{
  (void)state;
  pr_deadlines d;
  pr_deadlines_init(&d);
  uint32_t slot[101];
  for (int i = 0; i < 101; i++) {
    slot[i] = PR_DEADLINE_NONE;
  }
  for (int i = 0; i < 100; i++) {
    pr_deadlines_push(&d, 1000, &slot[i]);
  }
  pr_deadlines_push(&d, 999, &slot[100]);
  pr_deadline e;
  assert_int_equal(pr_deadlines_pop(&d, &e), 0);
  assert_ptr_equal(e.pos, &slot[100]);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(pr_deadlines_pop(&d, &e), 0);
    assert_ptr_equal(e.pos, &slot[i]);
  }
  assert_int_equal(pr_deadlines_pop(&d, &e), -1);
  pr_deadlines_free(&d);
}


/* Owners with one entry each, moved, cancelled and popped at random,
** against a model: each owner's (instant, sequence of its last set).  The
** pops must come out as the model's minimum, every slot must keep its
** entry's index, and the heap must hold one entry per owner with one. */
#define OWNERS 300
static void
test_deadlines_owners_move_in_place(void **state)
{
  (void)state;
  pr_deadlines d;
  pr_deadlines_init(&d);
  uint32_t pos[OWNERS];
  int64_t at[OWNERS];
  uint64_t seq[OWNERS];
  int has[OWNERS] = {0};
  uint64_t next_seq = 0;
  for (int i = 0; i < OWNERS; i++) {
    pos[i] = PR_DEADLINE_NONE;
  }
  srand(11);
  for (int step = 0; step < 100000; step++) {
    int o = rand() % OWNERS;
    int what = rand() % 10;
    if (what < 6) {
      int64_t when = rand() % 1000;
      assert_int_equal(pr_deadlines_set(&d, when, &pos[o]), PROMPTLY_OK);
      at[o] = when;
      seq[o] = next_seq++;
      has[o] = 1;
    } else if (what < 8) {
      pr_deadlines_cancel(&d, &pos[o]);
      has[o] = 0;
    } else {
      int best = -1;
      for (int i = 0; i < OWNERS; i++) {
        if (has[i] && (best < 0 || at[i] < at[best] ||
                       (at[i] == at[best] && seq[i] < seq[best]))) {
          best = i;
        }
      }
      pr_deadline e;
      if (best < 0) {
        assert_int_equal(pr_deadlines_pop(&d, &e), -1);
        continue;
      }
      assert_int_equal(pr_deadlines_pop(&d, &e), 0);
      assert_ptr_equal(e.pos, &pos[best]);
      assert_int_equal(e.at_ms, at[best]);
      has[best] = 0;
    }
    size_t live = 0;
    for (int i = 0; i < OWNERS; i++) {
      if (has[i]) {
        live++;
        assert_true(pos[i] < d.n);
        assert_true(d.heap[pos[i]].pos == &pos[i]);
        assert_int_equal(d.heap[pos[i]].at_ms, at[i]);
      } else {
        assert_int_equal(pos[i], PR_DEADLINE_NONE);
      }
    }
    assert_int_equal(d.n, live);
  }
  pr_deadlines_free(&d);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deadlines_pop_in_time_order),
    cmocka_unit_test(test_deadlines_ties_keep_insertion_order),
    cmocka_unit_test(test_deadlines_owners_move_in_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
