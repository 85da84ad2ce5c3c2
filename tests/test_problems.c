/* test_problems.c - the problem list: sorted, collapsed, bounded. */
#include "config.h"

#include "cmocka_all.h"

#include "problems.h"

#include <stdio.h>
#include <string.h>

static const char *
fmt(const pr_problems *ps, size_t i)
{
  static char buf[600];
  return pr_problem_format(pr_problems_get(ps, i), buf, sizeof(buf));
}


static void
test_problems_sorted_by_file_then_line(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 0);
  assert_int_equal(ps.max, PR_PROBLEMS_MAX);
  /* Reported out of order, as the compile phase does after the files. */
  pr_problems_add(&ps, "20-b.lua", 3, PR_SEV_ERROR, "late %d", 1);
  pr_problems_add(&ps, "10-a.lua", 9, PR_SEV_WARNING, "w");
  pr_problems_add(&ps, "10-a.lua", 2, PR_SEV_ERROR, "first");
  pr_problems_add(&ps, "10-a.lua", 9, PR_SEV_ERROR, "same line, later");
  pr_problems_add(&ps, "10-a.lua", 0, PR_SEV_ERROR, "whole file");
  assert_int_equal(pr_problems_count(&ps), 5);
  assert_string_equal(fmt(&ps, 0), "10-a.lua: whole file");
  assert_string_equal(fmt(&ps, 1), "10-a.lua:2: first");
  assert_string_equal(fmt(&ps, 2), "10-a.lua:9: w");
  assert_int_equal(pr_problems_get(&ps, 2)->severity, PR_SEV_WARNING);
  assert_string_equal(fmt(&ps, 3), "10-a.lua:9: same line, later");
  assert_string_equal(fmt(&ps, 4), "20-b.lua:3: late 1");
  assert_int_equal(ps.errors, 4);
  assert_int_equal(ps.warnings, 1);
  assert_true(pr_problems_failed(&ps));
  assert_string_equal(pr_problems_first_error(&ps)->message, "whole file");
  char more[64];
  assert_null(pr_problems_format_more(&ps, more, sizeof(more)));
  pr_problems_clear(&ps);
  assert_int_equal(pr_problems_count(&ps), 0);
  assert_false(pr_problems_failed(&ps));
}


static void
test_problems_identical_collapse(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 0);
  for (int i = 0; i < 1000; i++) {
    pr_problems_add(&ps, "a.lua", 1, PR_SEV_ERROR, "policy: no name");
  }
  pr_problems_add(&ps, "a.lua", 1, PR_SEV_WARNING, "policy: no name");
  pr_problems_add(&ps, "a.lua", 2, PR_SEV_ERROR, "policy: no name");
  assert_int_equal(pr_problems_count(&ps), 3);
  assert_int_equal(pr_problems_get(&ps, 0)->count, 1000);
  assert_string_equal(fmt(&ps, 0), "a.lua:1: policy: no name (1000 times)");
  assert_int_equal(pr_problems_get(&ps, 1)->count, 1);
  assert_int_equal(ps.errors, 1001);
  assert_int_equal(pr_problems_more(&ps), 0);
  pr_problems_clear(&ps);
}


static void
test_problems_bounded_keeps_the_first_in_reading_order(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 10);
  /* A loop at line 5 of b.lua, then problems in a.lua reported later. */
  for (int i = 0; i < 100000; i++) {
    pr_problems_add(&ps, "b.lua", 5, PR_SEV_ERROR, "policy p%d: bad", i);
  }
  for (int i = 3; i >= 1; i--) {
    pr_problems_add(&ps, "a.lua", i, PR_SEV_ERROR, "early %d", i);
  }
  assert_int_equal(pr_problems_count(&ps), 10);
  assert_string_equal(fmt(&ps, 0), "a.lua:1: early 1");
  assert_string_equal(fmt(&ps, 2), "a.lua:3: early 3");
  /* Then b.lua's in the order they came. */
  assert_string_equal(fmt(&ps, 3), "b.lua:5: policy p0: bad");
  assert_string_equal(fmt(&ps, 9), "b.lua:5: policy p6: bad");
  /* 100003 reports, 10 kept. */
  assert_int_equal(pr_problems_more(&ps), 100003 - 10);
  char more[64];
  assert_string_equal(pr_problems_format_more(&ps, more, sizeof(more)),
                      "and 99993 more problems");
  assert_int_equal(ps.errors, 100003);
  pr_problems_clear(&ps);
}


static void
test_problems_messages_are_one_line(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 0);
  pr_problems_add(&ps, "a.lua", 4, PR_SEV_ERROR, "level %s: unknown",
                  "P1\npromptly: error: z.lua:1: forged\xff");
  assert_string_equal(fmt(&ps, 0), "a.lua:4: level P1\\npromptly: error: "
                                   "z.lua:1: forged\\xff: unknown");
  /* A long message is cut to PR_PROBLEM_MSG_MAX bytes. */
  char big[4000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  pr_problems_add(&ps, "a.lua", 5, PR_SEV_ERROR, "%s", big);
  size_t len = strlen(pr_problems_get(&ps, 1)->message);
  assert_true(len <= PR_PROBLEM_MSG_MAX);
  assert_true(len > PR_PROBLEM_MSG_MAX - 8);
  assert_string_equal(pr_problems_get(&ps, 1)->message + len - 3, "...");
  pr_problems_clear(&ps);
}


static void
test_problems_text_splits_lua_messages(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 0);
  pr_problems_add_text(&ps, "10-x.lua", PR_SEV_ERROR,
                       "10-x.lua:12: attempt to call a nil value");
  pr_problems_add_text(&ps, "10-x.lua", PR_SEV_ERROR,
                       "10-x.lua: too large");
  pr_problems_add_text(&ps, "10-x.lua", PR_SEV_ERROR,
                       "not enough memory");
  /* A name that only starts like the file is not split. */
  pr_problems_add_text(&ps, "10-x.lua", PR_SEV_ERROR, "10-x.luac:3: odd");
  assert_int_equal(pr_problems_count(&ps), 4);
  assert_string_equal(fmt(&ps, 0), "10-x.lua: too large");
  assert_string_equal(fmt(&ps, 1), "10-x.lua: not enough memory");
  assert_string_equal(fmt(&ps, 2), "10-x.lua: 10-x.luac:3: odd");
  assert_int_equal(pr_problems_get(&ps, 3)->line, 12);
  assert_string_equal(pr_problems_get(&ps, 3)->message,
                      "attempt to call a nil value");
  pr_problems_clear(&ps);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_problems_sorted_by_file_then_line),
    cmocka_unit_test(test_problems_identical_collapse),
    cmocka_unit_test(test_problems_bounded_keeps_the_first_in_reading_order),
    cmocka_unit_test(test_problems_messages_are_one_line),
    cmocka_unit_test(test_problems_text_splits_lua_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
