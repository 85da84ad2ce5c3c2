/* test_deadlines.c - the deadline heap: time order, ties by insertion. */
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
  srand(7);
  for (int i = 0; i < 10000; i++) {
    assert_int_equal(pr_deadlines_push(&d, rand() % 5000, i, (uint64_t)i),
                     PROMPTLY_OK);
  }
  pr_deadline prev = {INT64_MIN, 0, 0, 0}, e;
  int n = 0;
  while (pr_deadlines_pop(&d, &e) == 0) {
    assert_true(e.at_ms > prev.at_ms ||
                (e.at_ms == prev.at_ms && e.seq > prev.seq));
    prev = e;
    n++;
  }
  assert_int_equal(n, 10000);
  assert_null(pr_deadlines_peek(&d));
  pr_deadlines_free(&d);
}


static void
test_deadlines_ties_keep_insertion_order(void **state)
{
  (void)state;
  pr_deadlines d;
  pr_deadlines_init(&d);
  for (int i = 0; i < 100; i++) {
    pr_deadlines_push(&d, 1000, i, 0);
  }
  pr_deadlines_push(&d, 999, 555, 0);
  pr_deadline e;
  assert_int_equal(pr_deadlines_pop(&d, &e), 0);
  assert_int_equal(e.ticket, 555);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(pr_deadlines_pop(&d, &e), 0);
    assert_int_equal(e.ticket, i);
  }
  assert_int_equal(pr_deadlines_pop(&d, &e), -1);
  pr_deadlines_free(&d);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deadlines_pop_in_time_order),
    cmocka_unit_test(test_deadlines_ties_keep_insertion_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
