/* test_rules.c - the rules unit: loading a folder, the rule language,
** verdicts, problems as file:line, calendars.
**
** Fixtures are folders under tests/fixtures/rules/, found through
** $PROMPTLY_SRCDIR (make check sets it), never through the current
** directory.
*/
#include "config.h"

#include "cmocka_all.h"

#include "calendar.h"
#include "promptly.h"
#include "rules.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 32

static char problems[MAX_PROBLEMS][512];
static int n_problems;
static char last_log[512];

static void
record_problem(void *ud, int level, const char *msg)
{
  (void)ud;
  assert_int_equal(level, PROMPTLY_LOG_ERROR);
  if (n_problems < MAX_PROBLEMS) {
    snprintf(problems[n_problems], sizeof(problems[0]), "%s", msg);
  }
  n_problems++;
}


static void
record_log(void *ud, int level, const char *msg)
{
  (void)ud;
  if (level != PROMPTLY_LOG_DEBUG) {
    snprintf(last_log, sizeof(last_log), "%s", msg);
  }
}


static const char *
fixture(const char *name)
{
  static char path[4096];
  const char *src = getenv("PROMPTLY_SRCDIR");
  if (src == NULL || src[0] == '\0') {
    fail_msg("PROMPTLY_SRCDIR is not set (make check sets it)");
  }
  if (strcmp(name, "shipped") == 0) {
    snprintf(path, sizeof(path), "%s/rules", src);
  } else {
    snprintf(path, sizeof(path), "%s/tests/fixtures/rules/%s", src, name);
  }
  return path;
}


static int
load(const char *name, pr_rules **out, char *err, size_t errlen)
{
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  o.problem = record_problem;
  o.log = record_log;
  n_problems = 0;
  last_log[0] = '\0';
  *out = NULL;
  return pr_rules_load(fixture(name), &o, out, err, errlen);
}


static pr_rules *
load_ok(const char *name)
{
  pr_rules *r;
  char err[1024];
  int rc = load(name, &r, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("loading %s: %d %s", name, rc, err);
  }
  assert_int_equal(n_problems, 0);
  return r;
}


/* The level id a ticket gets; *why_out gets "file:line" or "default". */
static const char *
verdict_id(pr_rules *r, int64_t id, const pr_kv *attrs, size_t n,
           const char **why_out)
{
  size_t level = 999;
  const char *why = "unset";
  char err[512];
  int rc = pr_rules_priority(r, id, attrs, n, &level, &why, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("verdict: %d %s", rc, err);
  }
  if (why_out != NULL) {
    *why_out = why != NULL ? why : "default";
  }
  return pr_rules_level_id(r, level);
}


static void
assert_verdict(pr_rules *r, const pr_kv *attrs, size_t n, const char *level,
               const char *why)
{
  const char *got_why;
  const char *got = verdict_id(r, 1, attrs, n, &got_why);
  if (strcmp(got, level) != 0 || strcmp(got_why, why) != 0) {
    fail_msg("got %s by %s, want %s by %s", got, got_why, level, why);
  }
}


static void
assert_problem(const char *fragment)
{
  for (int i = 0; i < n_problems && i < MAX_PROBLEMS; i++) {
    if (strstr(problems[i], fragment) != NULL) {
      return;
    }
  }
  for (int i = 0; i < n_problems && i < MAX_PROBLEMS; i++) {
    print_message("problem: %s\n", problems[i]);
  }
  fail_msg("no problem reported with '%s'", fragment);
}


#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_rules_load_in_name_order(void **state)
{
  (void)state;
  pr_rules *r = load_ok("order");
  /* .hidden.lua and notes.txt are not rule files. */
  assert_int_equal(pr_rules_file_count(r), 4);
  assert_string_equal(last_log, "00-lib.lua:3: lib loaded");

  /* 10-a.lua comes before 10-b.lua: its rule wins. */
  pr_kv printer[] = {{"subject", "Printer on fire"}};
  assert_verdict(r, printer, N(printer), "P2", "10-a.lua:2");
  /* A helper from 00-lib.lua, used by a later file. */
  pr_kv vip[] = {{"tier", "vip"}};
  assert_verdict(r, vip, N(vip), "P1", "10-b.lua:3");
  /* 2-a.lua saw the globals of all three earlier files, in byte order. */
  pr_kv check[] = {{"check", "order"}};
  assert_verdict(r, check, N(check), "P3", "2-a.lua:3");
  pr_rules_free(r);
}


static void
test_rules_words(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  pr_kv s1[] = {{"subject", "Site is DOWN again"}};
  assert_verdict(r, s1, N(s1), "P1", "10-dsl.lua:2");
  pr_kv s2[] = {{"subject", "help"}, {"body", "We had data\n   loss."}};
  assert_verdict(r, s2, N(s2), "P1", "10-dsl.lua:2");
  pr_kv s3[] = {{"subject", "download slow"}, {"body", "sundown"}};
  assert_verdict(r, s3, N(s3), "P3", "default");
  /* A phrase does not run from the subject into the body. */
  pr_kv s4[] = {{"subject", "data"}, {"body", "loss"}};
  assert_verdict(r, s4, N(s4), "P3", "default");
  pr_rules_free(r);
}


static void
test_rules_attribute_equals(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  pr_kv a[] = {{"Tier", "ENTERPRISE"}};
  assert_verdict(r, a, N(a), "P2", "10-dsl.lua:3");
  pr_kv b[] = {{"tier", "enterprises"}};
  assert_verdict(r, b, N(b), "P3", "default");
  pr_rules_free(r);
}


static void
test_rules_all_conditions_must_hold(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  pr_kv both[] = {{"channel", "Chat"}, {"queue", "billing"}};
  assert_verdict(r, both, N(both), "P2", "10-dsl.lua:4");
  pr_kv one[] = {{"channel", "phone"}, {"queue", "Sales"}};
  assert_verdict(r, one, N(one), "P3", "default");
  pr_kv none[] = {{"channel", "web"}, {"queue", "Billing"}};
  assert_verdict(r, none, N(none), "P3", "default");
  /* Words and another condition: both. */
  pr_kv sw[] = {{"subject", "a suggestion"}, {"channel", "email"}};
  assert_verdict(r, sw, N(sw), "P4", "10-dsl.lua:7");
  pr_kv sx[] = {{"subject", "a suggestion"}, {"channel", "web"}};
  assert_verdict(r, sx, N(sx), "P3", "default");
  pr_rules_free(r);
}


static void
test_rules_any_host_attribute(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  pr_kv a[] = {{"region", "eu"}};
  assert_verdict(r, a, N(a), "P3", "10-dsl.lua:5");
  pr_kv b[] = {{"status", "new"}, {"team", "Marketing"}};
  assert_verdict(r, b, N(b), "P4", "10-dsl.lua:9");
  pr_kv c[] = {{"status", "new"}, {"team", "support"}};
  assert_verdict(r, c, N(c), "P3", "default");
  pr_rules_free(r);
}


static void
test_rules_when_function(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  pr_kv a[] = {{"tier", "gold"}, {"type", "incident"}};
  assert_verdict(r, a, N(a), "P1", "10-dsl.lua:6");
  pr_kv b[] = {{"tier", "gold"}, {"type", "question"}};
  assert_verdict(r, b, N(b), "P3", "default");
  /* The ticket id is there too. */
  const char *why;
  assert_string_equal(verdict_id(r, 4242, NULL, 0, &why), "P3");
  assert_string_equal(why, "10-dsl.lua:8");
  pr_rules_free(r);
}


static void
test_rules_first_match_wins(void **state)
{
  (void)state;
  pr_rules *r = load_ok("dsl");
  /* Matches lines 2, 3 and 6: line 2 comes first. */
  pr_kv a[] = {{"subject", "outage"}, {"tier", "enterprise"},
               {"type", "incident"}};
  assert_verdict(r, a, N(a), "P1", "10-dsl.lua:2");
  /* Matches lines 3 and 5. */
  pr_kv b[] = {{"region", "EU"}, {"tier", "enterprise"}};
  assert_verdict(r, b, N(b), "P2", "10-dsl.lua:3");
  pr_rules_free(r);
}


static void
test_rules_default_levels(void **state)
{
  (void)state;
  pr_rules *r = load_ok("empty");
  assert_int_equal(pr_rules_file_count(r), 0);
  assert_int_equal(pr_rules_level_count(r), 4);
  const char *ids[] = {"P1", "P2", "P3", "P4"};
  const char *names[] = {"Urgent", "High", "Normal", "Low"};
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(pr_rules_level_id(r, i), ids[i]);
    assert_string_equal(pr_rules_level_name(r, i), names[i]);
  }
  assert_null(pr_rules_level_id(r, 4));
  assert_int_equal(pr_rules_default_level(r), 2);
  assert_int_equal(pr_rules_level_find(r, "urgent"), 0);
  assert_int_equal(pr_rules_level_find(r, "p4"), 3);
  assert_int_equal(pr_rules_level_find(r, "P9"), -1);
  assert_int_equal(pr_rules_level_find(r, NULL), -1);
  pr_kv a[] = {{"subject", "outage"}};
  assert_verdict(r, a, N(a), "P3", "default");
  pr_rules_free(r);
}


static void
test_rules_levels_configurable(void **state)
{
  (void)state;
  pr_rules *r = load_ok("levels");
  assert_int_equal(pr_rules_level_count(r), 3);
  assert_string_equal(pr_rules_level_id(r, 0), "S1");
  assert_string_equal(pr_rules_level_name(r, 0), "Critical");
  assert_string_equal(pr_rules_level_name(r, 1), "Major");
  assert_string_equal(pr_rules_level_name(r, 2), "S3");
  assert_int_equal(pr_rules_default_level(r), 0);
  assert_int_equal(pr_rules_level_find(r, "major"), 1);
  pr_kv q[] = {{"subject", "a question"}};
  assert_verdict(r, q, N(q), "S3", "20-rules.lua:1");
  pr_kv s[] = {{"body", "all SLOW"}};
  assert_verdict(r, s, N(s), "S2", "20-rules.lua:2");
  pr_kv o[] = {{"body", "other"}};
  assert_verdict(r, o, N(o), "S1", "default");
  pr_rules_free(r);
}


static void
test_rules_broken_file_reported_as_file_line(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024];
  assert_int_equal(load("broken-one", &r, err, sizeof(err)), PROMPTLY_ERULE);
  assert_null(r);
  assert_string_equal(err, "20-priority.lua:7: priority: unknown level 'P9'");
  assert_int_equal(n_problems, 1);
  assert_string_equal(problems[0], err);
}


static void
test_rules_every_problem_reported(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024];
  assert_int_equal(load("broken-many", &r, err, sizeof(err)), PROMPTLY_ERULE);
  assert_null(r);
  assert_problem("10-syntax.lua:2: '}' expected");
  assert_problem("20-runtime.lua:2: attempt to index a nil value");
  assert_problem("30-decls.lua:1: priority: unknown key 'wrods'");
  assert_problem("30-decls.lua:2: priority: 'words' must be a non-empty list");
  assert_problem("30-decls.lua:3: priority: 'tier' must be a string or a "
                 "list of strings, not a boolean");
  assert_problem("30-decls.lua:4: priority: no condition");
  assert_problem("30-decls.lua:5: priority: expects a table");
  assert_problem("30-decls.lua:6: priority: 'when' must be a function");
  assert_problem("30-decls.lua:7: levels: 'P1' is given twice");
  assert_problem("30-decls.lua:8: calendar 'c': unknown day 'funday'");
  assert_problem("40-after.lua:2: default_priority: unknown level 'P7'");
  /* The first problem leads err, and the count of the others follows. */
  assert_non_null(strstr(err, "10-syntax.lua:2:"));
  assert_non_null(strstr(err, "more problems)"));
}


static void
test_rules_when_errors(void **state)
{
  (void)state;
  pr_rules *r = load_ok("when-error");
  size_t level = 77;
  const char *why = "unchanged";
  char err[512];
  pr_kv boom[] = {{"subject", "boom"}};
  assert_int_equal(pr_rules_priority(r, 1, boom, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_int_equal(level, 77);
  assert_non_null(strstr(err, "10-when.lua:2: attempt to index a nil value "
                              "(field 'customer')"));
  pr_kv spin[] = {{"subject", "spin"}};
  assert_int_equal(pr_rules_priority(r, 2, spin, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_int_equal(level, 77);
  assert_non_null(strstr(err, "10-when.lua:5: instruction budget exceeded"));
  pr_kv wr[] = {{"subject", "write"}};
  assert_int_equal(pr_rules_priority(r, 3, wr, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_non_null(strstr(err, "10-when.lua:8: the ticket's attributes are "
                              "read-only"));
  /* The rule set goes on working. */
  pr_kv fine[] = {{"subject", "all fine"}};
  assert_verdict(r, fine, N(fine), "P4", "10-when.lua:11");
  pr_rules_free(r);
}


static void
test_rules_missing_folder(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024];
  assert_int_equal(load("no-such-folder", &r, err, sizeof(err)),
                   PROMPTLY_EIO);
  assert_null(r);
  assert_non_null(strstr(err, "no-such-folder"));
  assert_non_null(strstr(err, "No such file"));
}


/* Milliseconds of a UTC wall-clock time. */
static int64_t
utc_ms(int y, unsigned mo, unsigned d, int h, int mi)
{
  return (pr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}


static void
test_rules_calendars_declared(void **state)
{
  (void)state;
  pr_rules *r = load_ok("calendars");
  struct pr_calendar *office = pr_rules_calendar(r, "office");
  assert_non_null(office);
  assert_string_equal(pr_calendar_tz(office), "Europe/Berlin");
  /* Monday 2026-11-23, Berlin is UTC+1. */
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 23, 9, 0)), 1);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 23, 11, 45)), 0);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 23, 12, 30)), 1);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 23, 16, 0)), 0);
  /* Saturday 10:00-14:00; Sunday closed. */
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 28, 10, 0)), 1);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 11, 29, 10, 0)), 0);
  /* Holidays: a range, a yearly date, and one from holidays.ics. */
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 12, 24, 9, 0)), 0);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2027, 1, 1, 9, 0)), 0);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 6, 5, 8, 0)), 0);
  assert_int_equal(pr_cal_is_open(office, utc_ms(2026, 6, 4, 8, 0)), 1);

  struct pr_calendar *support = pr_rules_calendar(r, "support");
  assert_non_null(support);
  assert_int_equal(pr_cal_is_open(support, utc_ms(2026, 11, 29, 3, 0)), 1);
  struct pr_calendar *night = pr_rules_calendar(r, "night");
  assert_non_null(night);
  /* 23:00 in New York (UTC-5) is open, noon is not. */
  assert_int_equal(pr_cal_is_open(night, utc_ms(2026, 11, 24, 4, 0)), 1);
  assert_int_equal(pr_cal_is_open(night, utc_ms(2026, 11, 24, 17, 0)), 0);
  assert_null(pr_rules_calendar(r, "nope"));
  pr_rules_free(r);
}


static void
test_rules_calendar_problems(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024];
  assert_int_equal(load("calendar-bad", &r, err, sizeof(err)),
                   PROMPTLY_ERULE);
  assert_problem("00-calendars.lua:1: calendar 'a': unknown time zone");
  assert_problem("00-calendars.lua:2: calendar 'b': hours:");
  assert_problem("00-calendars.lua:3: calendar 'c': ics '../../etc/holidays"
                 ".ics' must be a path inside the rules folder");
  assert_problem("00-calendars.lua:4: calendar 'd': no hours");
  assert_problem("00-calendars.lua:5: calendar 'e': no table follows");
  assert_problem("00-calendars.lua:6: calendar 'a': already declared at "
                 "00-calendars.lua:1");
  assert_problem("00-calendars.lua:7: calendar 'f': unknown key 'color'");
  assert_problem("00-calendars.lua:7: calendar 'f': holidays:");
}


static void
test_rules_shipped_defaults(void **state)
{
  (void)state;
  pr_rules *r = load_ok("shipped");
  static const struct {
    const char *subject, *body, *level;
  } cases[] = {
    {"Cannot log in", "", "P1"},
    {"Question", "since Monday we have DATA LOSS", "P1"},
    {"urgent!", "", "P1"},
    {"Printer not working", "", "P2"},
    {"Export failed", "", "P2"},
    {"Feature request: dark mode", "", "P4"},
    {"A suggestion", "", "P4"},
    {"Hello", "how do I download the report?", "P3"},
  };
  for (size_t i = 0; i < N(cases); i++) {
    pr_kv kv[] = {{"subject", cases[i].subject}, {"body", cases[i].body}};
    const char *got = verdict_id(r, 1, kv, N(kv), NULL);
    if (strcmp(got, cases[i].level) != 0) {
      fail_msg("'%s': got %s, want %s", cases[i].subject, got,
               cases[i].level);
    }
  }
  pr_rules_free(r);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rules_load_in_name_order),
    cmocka_unit_test(test_rules_words),
    cmocka_unit_test(test_rules_attribute_equals),
    cmocka_unit_test(test_rules_all_conditions_must_hold),
    cmocka_unit_test(test_rules_any_host_attribute),
    cmocka_unit_test(test_rules_when_function),
    cmocka_unit_test(test_rules_first_match_wins),
    cmocka_unit_test(test_rules_default_levels),
    cmocka_unit_test(test_rules_levels_configurable),
    cmocka_unit_test(test_rules_broken_file_reported_as_file_line),
    cmocka_unit_test(test_rules_every_problem_reported),
    cmocka_unit_test(test_rules_when_errors),
    cmocka_unit_test(test_rules_missing_folder),
    cmocka_unit_test(test_rules_calendars_declared),
    cmocka_unit_test(test_rules_calendar_problems),
    cmocka_unit_test(test_rules_shipped_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
