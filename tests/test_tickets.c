/* test_tickets.c - the ticket map, attribute sets and the field diff. */
#include "config.h"

#include "cmocka_all.h"

#include "promptly.h"
#include "tickets.h"

#include <stdlib.h>
#include <string.h>

static void
test_tickets_add_get_remove(void **state)
{
  (void)state;
  pr_tickets m;
  pr_tickets_init(&m);
  assert_null(pr_tickets_get(&m, 1));
  for (int64_t id = 1; id <= 5000; id++) {
    pr_ticket *t = pr_tickets_add(&m, id * 7919);
    assert_non_null(t);
    assert_int_equal(t->id, id * 7919);
  }
  assert_int_equal(m.n, 5000);
  /* Remove every other one; the rest must stay reachable (the probe runs
  ** are repaired on removal). */
  for (int64_t id = 1; id <= 5000; id += 2) {
    pr_tickets_remove(&m, id * 7919);
  }
  assert_int_equal(m.n, 2500);
  for (int64_t id = 1; id <= 5000; id++) {
    pr_ticket *t = pr_tickets_get(&m, id * 7919);
    if (id % 2 == 1) {
      assert_null(t);
    } else {
      assert_non_null(t);
      assert_int_equal(t->id, id * 7919);
    }
  }
  pr_tickets_remove(&m, 424242); /* absent: no effect */
  assert_int_equal(m.n, 2500);
  pr_tickets_free(&m);
}


static void
test_tickets_kvset_set_replaces(void **state)
{
  (void)state;
  pr_kvset s = {0};
  assert_null(pr_kvset_get(&s, "subject"));
  assert_int_equal(pr_kvset_set(&s, "subject", "a"), PROMPTLY_OK);
  assert_int_equal(pr_kvset_set(&s, "tier", "gold"), PROMPTLY_OK);
  assert_int_equal(pr_kvset_set(&s, "subject", "b"), PROMPTLY_OK);
  assert_int_equal(s.n, 2);
  assert_string_equal(pr_kvset_get(&s, "subject"), "b");
  assert_string_equal(pr_kvset_get(&s, "tier"), "gold");
  pr_kvset_free(&s);
}


/* Common names and values are shared, the rest copied: either way the set
** reads back what was set, never aliases the caller's buffer, and frees
** only its own copies (ASan and valgrind run this too). */
static void
test_tickets_kvset_common_and_own_strings(void **state)
{
  (void)state;
  pr_kvset s = {0};
  char buf[32];
  strcpy(buf, "on_track");
  assert_int_equal(pr_kvset_set(&s, "sla.status", buf), PROMPTLY_OK);
  strcpy(buf, "x-custom-field");
  assert_int_equal(pr_kvset_set(&s, buf, "on_track"), PROMPTLY_OK);
  strcpy(buf, "changed");
  assert_string_equal(pr_kvset_get(&s, "sla.status"), "on_track");
  assert_string_equal(pr_kvset_get(&s, "x-custom-field"), "on_track");
  assert_null(pr_kvset_get(&s, "changed"));
  /* common -> own -> common -> same again -> empty */
  assert_int_equal(pr_kvset_set(&s, "sla.status", "breached!"), PROMPTLY_OK);
  assert_string_equal(pr_kvset_get(&s, "sla.status"), "breached!");
  assert_int_equal(pr_kvset_set(&s, "sla.status", "breached"), PROMPTLY_OK);
  assert_int_equal(pr_kvset_set(&s, "sla.status", "breached"), PROMPTLY_OK);
  assert_string_equal(pr_kvset_get(&s, "sla.status"), "breached");
  assert_int_equal(pr_kvset_set(&s, "sla.status", ""), PROMPTLY_OK);
  assert_string_equal(pr_kvset_get(&s, "sla.status"), "");
  /* A prefix or extension of a common string is not that string. */
  assert_int_equal(pr_kvset_set(&s, "sla.due.x", "P1x"), PROMPTLY_OK);
  assert_int_equal(pr_kvset_set(&s, "sla", "P"), PROMPTLY_OK);
  assert_string_equal(pr_kvset_get(&s, "sla.due.x"), "P1x");
  assert_string_equal(pr_kvset_get(&s, "sla"), "P");
  assert_null(pr_kvset_get(&s, "sla.due"));
  assert_int_equal(s.n, 4);
  pr_kvset_free(&s);
}


static void
test_tickets_diff_only_changes(void **state)
{
  (void)state;
  pr_tickets m;
  pr_tickets_init(&m);
  pr_ticket *t = pr_tickets_add(&m, 42);
  pr_kv want[2] = {{"priority", "P1"}, {"sla.status", "on_track"}};
  pr_kv out[2];
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 2);
  assert_int_equal(pr_kvset_set(&t->written, "priority", "P1"), PROMPTLY_OK);
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 1);
  assert_string_equal(out[0].name, "sla.status");
  assert_int_equal(pr_kvset_set(&t->written, "sla.status", "on_track"),
                   PROMPTLY_OK);
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 0);
  want[0].value = "P2";
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 1);
  assert_string_equal(out[0].value, "P2");
  pr_tickets_free(&m);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tickets_add_get_remove),
    cmocka_unit_test(test_tickets_kvset_set_replaces),
    cmocka_unit_test(test_tickets_kvset_common_and_own_strings),
    cmocka_unit_test(test_tickets_diff_only_changes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
