/* test_tickets.c - the ticket map, attribute sets and the field diff. */
#include "config.h"

#include "cmocka_all.h"

#include "promptly.h"
#include "tickets.h"
#include "util.h"

#include <stdio.h>
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
  assert_int_equal(pr_fields_set(&t->written, "priority", "P1"), PROMPTLY_OK);
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 1);
  assert_string_equal(out[0].name, "sla.status");
  assert_int_equal(pr_fields_set(&t->written, "sla.status", "on_track"),
                   PROMPTLY_OK);
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 0);
  want[0].value = "P2";
  assert_int_equal(pr_ticket_diff(t, want, 2, out), 1);
  assert_string_equal(out[0].value, "P2");
  pr_tickets_free(&m);
}


/* A merge sets its pairs in turn (a name twice: the last wins), copies
** what it keeps, and leaves the set as it was when nothing changes. */
static void
test_tickets_kvset_merge(void **state)
{
  (void)state;
  pr_kvset s = {0};
  char subject[64], queue[16];
  strcpy(subject, "Printer on fire");
  strcpy(queue, "Facilities");
  pr_kv add[4] = {{"subject", subject}, {"queue", queue},
                  {"status", "new"}, {"queue", "General"}};
  assert_int_equal(pr_kvset_merge(&s, add, 4), PROMPTLY_OK);
  strcpy(subject, "overwritten");
  strcpy(queue, "overwritten");
  assert_int_equal(s.n, 3);
  assert_string_equal(s.kv[0].name, "subject");
  assert_string_equal(s.kv[0].value, "Printer on fire");
  assert_string_equal(s.kv[1].name, "queue");
  assert_string_equal(s.kv[1].value, "General");
  assert_string_equal(s.kv[2].name, "status");
  assert_string_equal(s.kv[2].value, "new");
  const pr_kv *before = s.kv;
  pr_kv same[2] = {{"status", "new"}, {"queue", "General"}};
  assert_int_equal(pr_kvset_merge(&s, same, 2), PROMPTLY_OK);
  assert_ptr_equal(s.kv, before);
  pr_kv more[2] = {{"status", "pending customer"}, {"tier", "gold"}};
  assert_int_equal(pr_kvset_merge(&s, more, 2), PROMPTLY_OK);
  assert_int_equal(s.n, 4);
  assert_string_equal(pr_kvset_get(&s, "subject"), "Printer on fire");
  assert_string_equal(pr_kvset_get(&s, "status"), "pending customer");
  assert_string_equal(pr_kvset_get(&s, "tier"), "gold");
  /* More pairs than the merge keeps on its stack. */
  char names[40][16];
  pr_kv many[40];
  for (int i = 0; i < 40; i++) {
    snprintf(names[i], sizeof(names[i]), "x%d", i);
    many[i] = (pr_kv){names[i], names[i]};
  }
  assert_int_equal(pr_kvset_merge(&s, many, 40), PROMPTLY_OK);
  assert_int_equal(s.n, 44);
  assert_string_equal(pr_kvset_get(&s, "x39"), "x39");
  assert_string_equal(pr_kvset_get(&s, "tier"), "gold");
  pr_kvset_free(&s);
}


/* The written fields read back exactly what was set, whatever encoding
** the value takes: a common string, an instant in the canonical form, or
** a copy (a string that only looks like an instant stays as written). */
static void
test_tickets_fields_read_back(void **state)
{
  (void)state;
  static const char *const values[] = {
    "on_track", "2026-11-23T13:00:00Z", "2026-11-23T13:00:00.250Z",
    "2026-11-23T13:00:00.000Z", "2026-02-30T13:00:00Z",
    "2026-11-23T13:00:00", "2026-11-23 13:00:00Z", "2026-11-23T24:00:00Z",
    "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z",
    "2028-02-29T00:00:00Z", "2027-02-29T00:00:00Z", "+026-11-23T13:00:00Z",
    "corporate", "", "P3", "2026-11-23T13:00:00Zx",
  };
  size_t nv = sizeof(values) / sizeof(values[0]);
  static const char *const names[] = {"sla.due", "sla.my_metric.due",
                                      "priority"};
  pr_fields f = {0};
  char buf[PR_ISO_LEN];
  for (size_t i = 0; i < nv; i++) {
    for (size_t k = 0; k < 3; k++) {
      const char *v = values[(i + k) % nv];
      assert_int_equal(pr_fields_set(&f, names[k], v), PROMPTLY_OK);
    }
    for (size_t k = 0; k < 3; k++) {
      const char *got = pr_fields_get(&f, names[k], buf);
      assert_non_null(got);
      assert_string_equal(got, values[(i + k) % nv]);
    }
  }
  assert_null(pr_fields_get(&f, "sla.status", buf));
  /* Instants as pr_iso_format writes them, years 0 to 9999, with and
  ** without milliseconds: each reads back, and one ms later differs. */
  pr_tickets m;
  pr_tickets_init(&m);
  pr_ticket *t = pr_tickets_add(&m, 1);
  srand(5);
  for (int i = 0; i < 20000; i++) {
    int64_t lo = -62167219200000LL, hi = 253402300799999LL;  /* 0000..9999 */
    uint64_t r = ((uint64_t)rand() << 31) ^ (uint64_t)rand();
    int64_t ms = lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
    if (i % 2) {
      ms -= ms % 1000;
    }
    char iso[PR_ISO_LEN], next[PR_ISO_LEN];
    pr_iso_format(ms, iso);
    pr_iso_format(ms + 1, next);
    assert_int_equal(pr_fields_set(&t->written, "sla.due", iso), PROMPTLY_OK);
    assert_string_equal(pr_fields_get(&t->written, "sla.due", buf), iso);
    pr_kv want[1] = {{"sla.due", iso}}, out[1];
    assert_int_equal(pr_ticket_diff(t, want, 1, out), 0);
    want[0].value = next;
    assert_int_equal(pr_ticket_diff(t, want, 1, out), 1);
  }
  pr_tickets_free(&m);
  pr_fields_free(&f);
}


/* The diff compares strings, whatever the encoding: an instant differs
** from the same instant written another way, and from its neighbours. */
static void
test_tickets_diff_instants(void **state)
{
  (void)state;
  pr_tickets m;
  pr_tickets_init(&m);
  pr_ticket *t = pr_tickets_add(&m, 7);
  pr_kv out[1];
  assert_int_equal(pr_fields_set(&t->written, "sla.due",
                                 "2026-11-23T13:00:00Z"), PROMPTLY_OK);
  pr_kv want[1] = {{"sla.due", "2026-11-23T13:00:00Z"}};
  assert_int_equal(pr_ticket_diff(t, want, 1, out), 0);
  static const char *const other[] = {
    "2026-11-23T13:00:00.000Z", "2026-11-23T13:00:00.001Z",
    "2026-11-23T13:00:01Z", "2026-11-23T12:59:59Z", "2026-11-23T13:00:00",
    "", "2026-11-23t13:00:00Z",
  };
  for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
    want[0].value = other[i];
    assert_int_equal(pr_ticket_diff(t, want, 1, out), 1);
  }
  assert_int_equal(pr_fields_set(&t->written, "sla.due", ""), PROMPTLY_OK);
  want[0].value = "";
  assert_int_equal(pr_ticket_diff(t, want, 1, out), 0);
  want[0].value = "2026-11-23T13:00:00Z";
  assert_int_equal(pr_ticket_diff(t, want, 1, out), 1);
  /* A custom field name, not in the table. */
  assert_int_equal(pr_fields_set(&t->written, "sla.my_metric.state", "met"),
                   PROMPTLY_OK);
  want[0] = (pr_kv){"sla.my_metric.state", "met"};
  assert_int_equal(pr_ticket_diff(t, want, 1, out), 0);
  want[0].value = "running";
  assert_int_equal(pr_ticket_diff(t, want, 1, out), 1);
  assert_int_equal(pr_ticket_set_priority(t, "P2"), PROMPTLY_OK);
  assert_int_equal(pr_ticket_set_priority(t, "urgent-custom"), PROMPTLY_OK);
  assert_string_equal(t->priority, "urgent-custom");
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
    cmocka_unit_test(test_tickets_kvset_merge),
    cmocka_unit_test(test_tickets_fields_read_back),
    cmocka_unit_test(test_tickets_diff_instants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
