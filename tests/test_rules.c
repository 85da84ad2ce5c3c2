/* test_rules.c - the rules unit: loading a folder, the rule language,
** verdicts, problems as file:line, calendars, the SLA declarations
** compiled into a pr_sla_set, policy matching and exceptions.
**
** Fixtures are folders under tests/fixtures/rules/, found through
** $PROMPTLY_SRCDIR (make check sets it), never through the current
** directory.
*/
#include "config.h"

#include "cmocka_all.h"

#include "calendar.h"
#include "promptly.h"
#include "problems.h"
#include "rules.h"
#include "sla.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PROBLEMS 64

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


/* The structured list a caller can ask for: the same problems, by file and
** line, each record with its place apart from its message. */
static void
test_rules_problem_list_is_structured_and_sorted(void **state)
{
  (void)state;
  pr_problems ps;
  pr_problems_init(&ps, 0);
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  o.problem = record_problem;
  o.problems = &ps;
  n_problems = 0;
  pr_rules *r = NULL;
  char err[1024];
  assert_int_equal(pr_rules_load(fixture("broken-many"), &o, &r, err,
                                 sizeof(err)),
                   PROMPTLY_ERULE);
  assert_null(r);
  assert_true(pr_problems_failed(&ps));
  /* Every line handed to opts.problem is one record, in the same order. */
  assert_int_equal((int)pr_problems_count(&ps), n_problems);
  char line[600];
  for (size_t i = 0; i < pr_problems_count(&ps); i++) {
    const pr_problem *p = pr_problems_get(&ps, i);
    assert_string_equal(pr_problem_format(p, line, sizeof(line)),
                        problems[i]);
    assert_int_equal(p->severity, PR_SEV_ERROR);
    if (i > 0) {
      const pr_problem *q = pr_problems_get(&ps, i - 1);
      int c = strcmp(q->file, p->file);
      assert_true(c < 0 || (c == 0 && q->line <= p->line));
    }
  }
  /* 30-decls.lua line 4 is "priority: no condition" (see below). */
  int found = 0;
  for (size_t i = 0; i < pr_problems_count(&ps); i++) {
    const pr_problem *p = pr_problems_get(&ps, i);
    if (strcmp(p->file, "30-decls.lua") == 0 && p->line == 4 &&
        strncmp(p->message, "priority: no condition (", 24) == 0) {
      found = 1;
    }
  }
  assert_true(found);
  pr_problems_clear(&ps);
}


/* A 6 MiB body reaches `when` (the host's values may be larger than the
** 4 MiB blocks rule code may make); a rule that copies a large value
** fails with file:line (and does not match), and the next verdict is fine
** again. */
static void
test_rules_large_attribute_values(void **state)
{
  (void)state;
  pr_rules *r = load_ok("big-attrs");
  size_t big = (size_t)6 << 20;
  char *body = malloc(big + 1);
  assert_non_null(body);
  memset(body, 'b', big);
  body[big] = '\0';
  pr_kv a[] = {{"subject", "short"}, {"body", body}};
  assert_string_equal(verdict_id(r, 1, a, 2, NULL), "P1");
  body[5000000] = '\0';
  pr_kv s[] = {{"subject", body}, {"body", "x"}};
  size_t level = 99;
  const char *why;
  char err[512];
  assert_int_equal(pr_rules_priority(r, 2, s, 2, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_non_null(strstr(err, "10-big.lua:3: "));
  /* The failing rule does not match: the default decides (issue 11). */
  assert_int_equal(level, pr_rules_default_level(r));
  pr_kv small[] = {{"subject", "hi"}, {"body", "x"}};
  assert_string_equal(verdict_id(r, 3, small, 2, NULL), "P2");
  free(body);
  pr_rules_free(r);
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
  /* A failing `when` does not match: the ticket falls through to the
  ** later rules (none matches "boom") and the default (issue 11). */
  pr_kv boom[] = {{"subject", "boom"}};
  assert_int_equal(pr_rules_priority(r, 1, boom, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_int_equal(level, pr_rules_default_level(r));
  assert_null(why);
  assert_non_null(strstr(err, "10-when.lua:2: attempt to index a nil value "
                              "(field 'customer')"));
  /* ... and to a later rule that matches. */
  pr_kv boom_fine[] = {{"subject", "boom, all fine"}};
  assert_int_equal(pr_rules_priority(r, 4, boom_fine, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_string_equal(pr_rules_level_id(r, level), "P4");
  assert_string_equal(why, "10-when.lua:11");
  pr_kv spin[] = {{"subject", "spin"}};
  level = 77;
  assert_int_equal(pr_rules_priority(r, 2, spin, 1, &level, &why, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_int_equal(level, pr_rules_default_level(r));
  /* Whichever budget runs out first: instructions or CPU time. */
  assert_non_null(strstr(err, "10-when.lua:5: "));
  assert_non_null(strstr(err, " budget exceeded ("));
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


/* --- SLA declarations --------------------------------------------------- */

#define H(n) ((int64_t)(n) * 3600000)
#define MIN(n) ((int64_t)(n) * 60000)

static int64_t
target(const pr_sla_set *s, const char *policy, const char *level,
       const char *metric)
{
  int p = pr_sla_set_policy_find(s, policy);
  int l = pr_sla_set_level_find(s, level);
  int m = pr_sla_set_metric_find(s, metric);
  if (p < 0 || l < 0 || m < 0) {
    fail_msg("no policy '%s', level '%s' or metric '%s'", policy, level,
             metric);
  }
  return s->policies[p].target_ms[(uint32_t)l * s->n_metrics + (uint32_t)m];
}


/* Action k of an entry: its name, ordinal and args "a=x b=y". */
static void
assert_action(const pr_sla_action_decl *v, uint32_t n, uint32_t k,
              const char *name, uint32_t ordinal, const char *args)
{
  char got[512] = "";
  size_t off = 0;
  if (k >= n) {
    fail_msg("no action %u (%u actions)", (unsigned)k, (unsigned)n);
  }
  for (uint32_t i = 0; i < v[k].n_args; i++) {
    off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s=%s",
                            i ? " " : "", v[k].args[i].name,
                            v[k].args[i].value);
  }
  if (strcmp(v[k].name, name) != 0 || strcmp(got, args) != 0 ||
      v[k].ordinal != ordinal) {
    fail_msg("action %u: got %s#%u(%s), want %s#%u(%s)", (unsigned)k,
             v[k].name, (unsigned)v[k].ordinal, got, name,
             (unsigned)ordinal, args);
  }
}


static void
test_rules_sla_empty_folder_gives_empty_set(void **state)
{
  (void)state;
  pr_rules *r = load_ok("empty");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_non_null(s);
  assert_int_equal(s->sealed, 1);
  assert_int_equal(s->n_levels, 4);
  assert_string_equal(s->levels[0], "P1");
  assert_string_equal(s->levels[3], "P4");
  assert_int_equal(s->n_metrics, PR_SLA_BUILTIN);
  assert_int_equal(s->n_policies, 0);
  assert_int_equal(s->n_thresholds, 0);
  assert_int_equal(s->n_waits, 0);
  assert_int_equal(s->at_risk_permille, 750);
  uint64_t mask = 99;
  char err[256];
  assert_int_equal(pr_rules_policies(r, 1, NULL, 0, &mask, err, sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(mask, 0);
  pr_rules_free(r);
}


static void
test_rules_sla_policy_targets(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->sealed, 1);
  assert_int_equal(s->n_policies, 4);
  assert_string_equal(s->policies[0].name, "corporate");
  assert_string_equal(s->policies[1].name, "cal-time");
  assert_string_equal(s->policies[2].name, "round");
  assert_string_equal(s->policies[3].name, "edge");
  /* Calendars: the declared ones, or calendar time. */
  assert_ptr_equal(s->policies[0].cal, pr_rules_calendar(r, "office"));
  assert_null(s->policies[1].cal);
  assert_ptr_equal(s->policies[2].cal, pr_rules_calendar(r, "24x7"));
  assert_non_null(s->policies[2].cal);
  /* A table by level; levels left out have no target. */
  assert_int_equal(target(s, "corporate", "P1", "first_response"), MIN(30));
  assert_int_equal(target(s, "corporate", "P2", "first_response"), H(1));
  assert_int_equal(target(s, "corporate", "P3", "first_response"), H(4));
  assert_int_equal(target(s, "corporate", "P4", "first_response"), H(24));
  /* One duration for every level. */
  for (int l = 1; l <= 4; l++) {
    char id[16];
    snprintf(id, sizeof(id), "P%d", l);
    assert_int_equal(target(s, "corporate", id, "next_response"), H(2));
    assert_int_equal(target(s, "cal-time", id, "first_response"), 90000);
    assert_int_equal(target(s, "cal-time", id, "resolution"), MIN(90));
    assert_int_equal(target(s, "cal-time", id, "next_response"),
                     PR_SLA_NONE);
    assert_int_equal(target(s, "round", id, "resolution"), 7 * H(24));
    assert_int_equal(target(s, "edge", id, "resolution"), PR_SLA_MAX_MS);
    assert_int_equal(target(s, "edge", id, "next_response"), 1500);
  }
  /* A level by name, false, "best effort". */
  assert_int_equal(target(s, "corporate", "P1", "periodic_update"), MIN(90));
  assert_int_equal(target(s, "corporate", "P2", "periodic_update"),
                   PR_SLA_NONE);
  assert_int_equal(target(s, "corporate", "P3", "periodic_update"),
                   PR_SLA_NONE);
  assert_int_equal(target(s, "corporate", "P3", "resolution"), H(24));
  assert_int_equal(target(s, "corporate", "P4", "resolution"), PR_SLA_NONE);
  /* A custom metric's targets, by its name. */
  assert_int_equal(target(s, "corporate", "P1", "onsite_visit"), 7 * H(24));
  assert_int_equal(target(s, "corporate", "P2", "onsite_visit"),
                   14 * H(24));
  assert_int_equal(target(s, "corporate", "P3", "onsite_visit"),
                   PR_SLA_NONE);
  pr_rules_free(r);
}


static void
test_rules_sla_custom_metric(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_metrics, PR_SLA_BUILTIN + 1);
  const pr_sla_metric *m = &s->metrics[PR_SLA_BUILTIN];
  assert_string_equal(m->name, "onsite_visit");
  assert_string_equal(m->due_field, "sla.onsite_visit.due");
  assert_int_equal(m->n_on[PR_SLA_ON_START], 1);
  assert_int_equal(m->on[PR_SLA_ON_START][0].kind, PR_SLA_EV_STATUS);
  assert_string_equal(m->on[PR_SLA_ON_START][0].status, "scheduled");
  assert_int_equal(m->n_on[PR_SLA_ON_PAUSE], 1);
  assert_string_equal(m->on[PR_SLA_ON_PAUSE][0].status, "on hold");
  assert_int_equal(m->n_on[PR_SLA_ON_RESUME], 2);
  assert_int_equal(m->on[PR_SLA_ON_RESUME][0].kind,
                   PR_SLA_EV_REPLY_CUSTOMER);
  assert_null(m->on[PR_SLA_ON_RESUME][0].status);
  assert_int_equal(m->on[PR_SLA_ON_RESUME][1].kind, PR_SLA_EV_STATUS);
  assert_null(m->on[PR_SLA_ON_RESUME][1].status);
  assert_int_equal(m->n_on[PR_SLA_ON_STOP], 2);
  assert_string_equal(m->on[PR_SLA_ON_STOP][0].status, "visited");
  assert_int_equal(m->on[PR_SLA_ON_STOP][1].kind, PR_SLA_EV_REPLY_AGENT);
  pr_rules_free(r);
}


static void
test_rules_sla_pauses_and_at_risk(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  /* In order of first mention; customer_wait also pauses. */
  assert_int_equal(s->n_pauses, 3);
  assert_string_equal(s->pauses[0].status, "on hold");
  assert_int_equal(s->pauses[0].customer_wait, 0);
  assert_string_equal(s->pauses[1].status, "pending customer");
  assert_int_equal(s->pauses[1].customer_wait, 1);
  assert_string_equal(s->pauses[2].status, "awaiting info");
  assert_int_equal(s->pauses[2].customer_wait, 1);
  assert_int_equal(s->at_risk_permille, 800);
  pr_rules_free(r);
}


static void
test_rules_sla_thresholds_sorted_with_actions(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_thresholds, 4);
  const pr_sla_threshold *t = s->thresholds;
  assert_string_equal(t[0].label, "75%");
  assert_int_equal(t[0].permille, 750);
  assert_int_equal(t[0].metrics, 0);
  assert_int_equal(t[0].n_actions, 3);
  /* A list of people is one notify each, in list order. */
  assert_action(t[0].actions, t[0].n_actions, 0, "notify", 1,
                "to=team-lead");
  assert_action(t[0].actions, t[0].n_actions, 1, "notify", 2,
                "to=duty-manager");
  assert_action(t[0].actions, t[0].n_actions, 2, "note", 1,
                "text=75% used");
  assert_string_equal(t[1].label, "87.5%");
  assert_int_equal(t[1].permille, 875);
  assert_int_equal(t[1].metrics, (1u << PR_SLA_RESOLUTION) |
                                   (1u << PR_SLA_BUILTIN));
  assert_action(t[1].actions, t[1].n_actions, 0, "notify", 1, "to=owner");
  assert_string_equal(t[2].label, "100%");
  assert_int_equal(t[2].offset_ms, 0);
  assert_string_equal(t[3].label, "100%+2h");
  assert_int_equal(t[3].permille, 1000);
  assert_int_equal(t[3].offset_ms, H(2));
  assert_int_equal(t[3].n_actions, 1);
  assert_action(t[3].actions, t[3].n_actions, 0, "notify", 1,
                "to=director");
  pr_rules_free(r);
}


/* Relative deadlines compile to their codes (words in any case, "by");
** escalate_priority's shares become ladder steps of the resolution with
** raise_priority by=1, labelled apart from an at step of the same share,
** after it, and outside sla.escalation's steps. */
static void
test_rules_relative_deadlines_and_escalation(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-rel-escalate");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_policies, 1);
  const int64_t *tg = s->policies[0].target_ms;
  uint32_t nm = s->n_metrics;
  for (uint32_t l = 0; l < 4; l++) {
    assert_true(tg[l * nm + PR_SLA_RESOLUTION] == PR_SLA_REL(1, 16 * 60));
  }
  assert_true(tg[0 * nm + PR_SLA_FIRST_RESPONSE] ==
              PR_SLA_REL(0, PR_SLA_REL_END));
  assert_true(tg[1 * nm + PR_SLA_FIRST_RESPONSE] ==
              PR_SLA_REL(2, 12 * 60 + 30));
  assert_true(tg[2 * nm + PR_SLA_FIRST_RESPONSE] ==
              PR_SLA_REL(1, PR_SLA_REL_END));
  assert_true(tg[3 * nm + PR_SLA_FIRST_RESPONSE] == PR_SLA_BDAYS(3));
  assert_true(PR_SLA_IS_REL(PR_SLA_REL(1000, PR_SLA_REL_END)));
  assert_false(PR_SLA_IS_BDAYS(PR_SLA_REL(0, 0)));
  assert_false(PR_SLA_IS_REL(PR_SLA_BDAYS(1000)));
  assert_int_equal(PR_SLA_REL_N(PR_SLA_REL(2, 750)), 2);
  assert_int_equal(PR_SLA_REL_MIN(PR_SLA_REL(2, 750)), 750);
  assert_int_equal(s->n_thresholds, 3);
  const pr_sla_threshold *t = s->thresholds;
  assert_string_equal(t[0].label, "50%");
  assert_int_equal(t[0].escalate, 0);
  assert_int_equal(t[0].metrics, 0);
  assert_int_equal(s->step[0], 1);
  assert_string_equal(t[1].label, "escalate-50%");
  assert_string_equal(t[2].label, "escalate-75%");
  for (int i = 1; i <= 2; i++) {
    assert_int_equal(t[i].escalate, PR_SLA_ESCALATE_OVER_MANUAL);
    assert_int_equal(t[i].metrics, 1u << PR_SLA_RESOLUTION);
    assert_int_equal(s->step[i], 0);
    assert_int_equal(t[i].n_actions, 1);
    assert_action(t[i].actions, t[i].n_actions, 0, "raise_priority", 1,
                  "by=1");
  }
  pr_rules_free(r);
}


/* The 100% entry names every action, in a scrambled order: they come out
** in the documented order, with set_field's fields by name, and a level
** name turned into its id; the same on every load (Lua's pairs() order
** changes with each state's hash seed). */
static void
test_rules_sla_actions_in_fixed_order(void **state)
{
  (void)state;
  for (int round = 0; round < 8; round++) {
    pr_rules *r = load_ok("sla-decls");
    const pr_sla_threshold *t = &pr_rules_sla(r)->thresholds[2];
    uint32_t n = t->n_actions;
    assert_string_equal(t->label, "100%");
    assert_int_equal(n, 9);
    assert_action(t->actions, n, 0, "notify", 1, "to=manager");
    assert_action(t->actions, n, 1, "raise_priority", 1, "by=1");
    assert_action(t->actions, n, 2, "set_priority", 1, "priority=P1");
    assert_action(t->actions, n, 3, "reassign", 1, "to=Tier 2");
    assert_action(t->actions, n, 4, "set_field", 1,
                  "escalated=yes level=2 vip=true");
    assert_action(t->actions, n, 5, "note", 1, "text=breached");
    assert_action(t->actions, n, 6, "message", 1, "template=breach-notice");
    assert_action(t->actions, n, 7, "remind_customer", 1, "template=sorry");
    assert_action(t->actions, n, 8, "close", 1, "");
    pr_rules_free(r);
  }
}


static void
test_rules_sla_waits_joined_and_sorted(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_waits, 3);
  const pr_sla_wait *w = s->waits;
  assert_string_equal(w[0].label, "1d");
  assert_int_equal(w[0].after_ms, H(24));
  assert_int_equal(w[0].n_actions, 1);
  assert_action(w[0].actions, w[0].n_actions, 0, "remind_customer", 1,
                "template=reminder");
  /* waiting "48h" and remind_customer_after's "48h": one timer, the
  ** actions in file order. */
  assert_string_equal(w[1].label, "2d");
  assert_int_equal(w[1].n_actions, 2);
  assert_action(w[1].actions, w[1].n_actions, 0, "message", 1,
                "template=still-waiting");
  assert_action(w[1].actions, w[1].n_actions, 1, "remind_customer", 1,
                "template=reminder");
  assert_string_equal(w[2].label, "7d");
  assert_action(w[2].actions, w[2].n_actions, 0, "close", 1, "");
  pr_rules_free(r);
}


static void
test_rules_sla_exceptions_declared(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_exceptions, 3);
  const pr_sla_exception *e = s->exceptions;
  assert_string_equal(e[0].name, "outage");
  assert_int_equal(e[0].kind, PR_SLA_EXC_EXTEND);
  assert_int_equal(e[0].extend_ms, H(4));
  assert_int_equal(e[0].metrics, 1u << PR_SLA_RESOLUTION);
  assert_string_equal(e[0].reason, "Data centre outage");
  assert_string_equal(e[1].name, "force majeure");
  assert_int_equal(e[1].kind, PR_SLA_EXC_EXCLUDE);
  assert_string_equal(e[1].reason, "Force majeure");
  assert_string_equal(e[2].name, "vendor");
  assert_int_equal(e[2].extend_ms, H(24));
  assert_int_equal(e[2].metrics, 0);
  assert_string_equal(e[2].reason, "vendor");
  pr_rules_free(r);
}


static void
test_rules_sla_exceptions_apply(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  pr_rules_exception out[PR_SLA_MAX_EXCEPTIONS];
  size_t n = 99;

  assert_int_equal(pr_rules_exceptions(r, NULL, 0, out, 4, &n), PROMPTLY_OK);
  assert_int_equal(n, 0);
  /* The name, in any case; the declared reason. */
  pr_kv a[] = {{"sla_exception", "Outage"}};
  assert_int_equal(pr_rules_exceptions(r, a, N(a), out, 4, &n), PROMPTLY_OK);
  assert_int_equal(n, 1);
  assert_int_equal(out[0].index, 0);
  assert_string_equal(out[0].reason, "Data centre outage");
  /* A reason given with the ticket wins. */
  pr_kv b[] = {{"sla_exception", "force majeure"},
               {"sla_exception_reason", "Flood, ticket #7"}};
  assert_int_equal(pr_rules_exceptions(r, b, N(b), out, 4, &n), PROMPTLY_OK);
  assert_int_equal(n, 1);
  assert_int_equal(out[0].index, 1);
  assert_string_equal(out[0].reason, "Flood, ticket #7");
  /* An exception with its own attribute; the generic one does not apply
  ** it.  Both at once, in declaration order. */
  pr_kv c[] = {{"sla_exception", "vendor"}};
  assert_int_equal(pr_rules_exceptions(r, c, N(c), out, 4, &n), PROMPTLY_OK);
  assert_int_equal(n, 0);
  pr_kv d[] = {{"vendor_delay", "vendor"}, {"vendor_delay_reason", ""},
               {"sla_exception", "outage"}};
  assert_int_equal(pr_rules_exceptions(r, d, N(d), out, 4, &n), PROMPTLY_OK);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].index, 0);
  assert_int_equal(out[1].index, 2);
  assert_string_equal(out[1].reason, "vendor");
  /* Too small an array. */
  assert_int_equal(pr_rules_exceptions(r, d, N(d), out, 1, &n),
                   PROMPTLY_ENOBUFS);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].index, 0);
  assert_int_equal(pr_rules_exceptions(r, d, N(d), NULL, 1, &n),
                   PROMPTLY_EINVAL);
  pr_rules_free(r);
}


/* Pause conditions (issue 12 item 5): attributes in any case, lists of
** values, a `when` that must hold too, and a failing `when` that counts
** as not holding, reported at its file:line. */
static void
test_rules_pause_conditions(void **state)
{
  (void)state;
  pr_rules *r = load_ok("pause-conds");
  char err[512];
  uint32_t holds = 99, first = 99;
  assert_int_equal(pr_rules_has_conditions(r), 1);
  /* The statuses are the set's pause statuses, not conditions. */
  assert_int_equal(pr_rules_sla(r)->n_pauses, 2);
  pr_kv a[] = {{"vendor_wait", "YES"}, {"waiting_on", "agent"}};
  assert_int_equal(pr_rules_conditions(r, 1, a, N(a), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(holds, PR_SLA_COND_PAUSE);
  /* Which one holds: the first pause_on (line 2), named by its site. */
  assert_int_equal(first, 1);
  assert_string_equal(pr_rules_pause_site(r, NULL, holds, first),
                      "20-pauses.lua:2");
  pr_kv b[] = {{"vendor_wait", "no"}, {"waiting_on", "Customer"}};
  assert_int_equal(pr_rules_conditions(r, 2, b, N(b), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(holds, PR_SLA_COND_WAIT);
  assert_int_equal(first, 3);
  assert_string_equal(pr_rules_pause_site(r, NULL, holds, first),
                      "20-pauses.lua:5");
  /* Every part of a condition: the queue and the when. */
  pr_kv c[] = {{"queue", "legal"}, {"contract", "basic"},
               {"waiting_on", ""}};
  assert_int_equal(pr_rules_conditions(r, 3, c, N(c), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(holds, PR_SLA_COND_PAUSE);
  /* The second pause_on (line 3), not the first declared one. */
  assert_int_equal(first, 2);
  assert_string_equal(pr_rules_pause_site(r, NULL, holds, first),
                      "20-pauses.lua:3");
  assert_string_equal(pr_rules_pause_site(r, NULL, holds, 0),
                      "20-pauses.lua:2");
  pr_kv d[] = {{"queue", "legal"}, {"contract", "premium"},
               {"waiting_on", ""}};
  assert_int_equal(pr_rules_conditions(r, 4, d, N(d), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(holds, 0);
  assert_int_equal(first, 0);
  /* No waiting_on: customer_wait's when fails on nil, counts as not
  ** holding, the other conditions still count. */
  pr_kv e[] = {{"queue", "Vendors"}};
  err[0] = '\0';
  assert_int_equal(pr_rules_conditions(r, 5, e, N(e), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_ERULE);
  assert_int_equal(holds, PR_SLA_COND_PAUSE);
  assert_int_equal(first, 2);
  assert_non_null(strstr(err, "20-pauses.lua:6:"));
  assert_non_null(strstr(err, "waiting_on"));
  assert_int_equal(pr_rules_conditions(r, 6, NULL, 0, NULL, NULL,
                                       err, sizeof(err)), PROMPTLY_EINVAL);
  pr_rules_free(r);
  r = load_ok("sla-decls");
  assert_int_equal(pr_rules_has_conditions(r), 0);
  assert_int_equal(pr_rules_conditions(r, 1, e, N(e), &holds, &first,
                                       err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(holds, 0);
  pr_rules_free(r);
}


/* Quiet hours (issue 12 item 7): the notification calendar of each step:
** the folder's notify_calendar by default, none with quiet = false, a
** named one (with its zone from the ticket), quiet = true for the
** folder's; wait timers the same. */
static void
test_rules_quiet_hours(void **state)
{
  (void)state;
  pr_rules *r = load_ok("quiet");
  const pr_sla_set *s = pr_rules_sla(r);
  pr_calendar *business = pr_rules_calendar(r, "business");
  pr_calendar *customer = pr_rules_calendar(r, "customer-hours");
  assert_non_null(business);
  assert_non_null(customer);
  /* Sorted by share: the escalate_priority step (50%) first, never held
  ** (a rising priority is no notification). */
  assert_int_equal(s->n_thresholds, 4);
  assert_int_not_equal(s->thresholds[0].escalate, 0);
  assert_null(s->thresholds[0].quiet.cal);
  assert_string_equal(s->thresholds[1].label, "75%");
  assert_ptr_equal(s->thresholds[1].quiet.cal, business);
  assert_null(s->thresholds[1].quiet.zone_fn);
  assert_string_equal(s->thresholds[2].label, "100%");
  assert_null(s->thresholds[2].quiet.cal);
  assert_string_equal(s->thresholds[3].label, "150%");
  assert_ptr_equal(s->thresholds[3].quiet.cal, customer);
  assert_non_null(s->thresholds[3].quiet.zone_fn);
  assert_int_equal(s->n_waits, 3);
  assert_string_equal(s->waits[0].label, "1d");
  assert_ptr_equal(s->waits[0].quiet.cal, business);
  assert_string_equal(s->waits[1].label, "2d");
  assert_ptr_equal(s->waits[1].quiet.cal, customer);
  assert_non_null(s->waits[1].quiet.zone_fn);
  assert_string_equal(s->waits[2].label, "7d");
  assert_ptr_equal(s->waits[2].quiet.cal, business);
  pr_rules_free(r);
  /* Without quiet hours nothing is held. */
  r = load_ok("sla-decls");
  s = pr_rules_sla(r);
  for (uint32_t i = 0; i < s->n_thresholds; i++) {
    assert_null(s->thresholds[i].quiet.cal);
  }
  for (uint32_t i = 0; i < s->n_waits; i++) {
    assert_null(s->waits[i].quiet.cal);
  }
  pr_rules_free(r);
}


/* A value naming no declared exception is found, with the names that the
** attribute takes; case does not matter, an empty value is no request,
** and vendor_delay has its own list. */
static void
test_rules_sla_exception_unknown(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-decls");
  const char *attr = "x", *value = "x";
  char known[128];

  assert_int_equal(pr_rules_exception_unknown(r, NULL, 0, &attr, &value,
                                              known, sizeof(known)),
                   PROMPTLY_OK);
  assert_null(attr);
  assert_null(value);
  pr_kv a[] = {{"sla_exception", "OUTAGE"}, {"vendor_delay", ""}};
  assert_int_equal(pr_rules_exception_unknown(r, a, N(a), &attr, &value,
                                              known, sizeof(known)),
                   PROMPTLY_OK);
  assert_null(attr);
  pr_kv b[] = {{"sla_exception", "outgae"}};
  assert_int_equal(pr_rules_exception_unknown(r, b, N(b), &attr, &value,
                                              known, sizeof(known)),
                   PROMPTLY_OK);
  assert_string_equal(attr, "sla_exception");
  assert_string_equal(value, "outgae");
  assert_string_equal(known, "outage, force majeure");
  /* "vendor" is declared, but for vendor_delay only. */
  pr_kv c[] = {{"sla_exception", "vendor"}};
  assert_int_equal(pr_rules_exception_unknown(r, c, N(c), &attr, &value,
                                              known, sizeof(known)),
                   PROMPTLY_OK);
  assert_string_equal(attr, "sla_exception");
  pr_kv d[] = {{"vendor_delay", "outage"}};
  assert_int_equal(pr_rules_exception_unknown(r, d, N(d), &attr, &value,
                                              known, sizeof(known)),
                   PROMPTLY_OK);
  assert_string_equal(attr, "vendor_delay");
  assert_string_equal(known, "vendor");
  /* The list cut to what fits. */
  assert_int_equal(pr_rules_exception_unknown(r, b, N(b), &attr, &value,
                                              known, 10),
                   PROMPTLY_OK);
  assert_string_equal(known, "outage");
  assert_int_equal(pr_rules_exception_unknown(r, b, N(b), NULL, &value,
                                              known, sizeof(known)),
                   PROMPTLY_EINVAL);
  pr_rules_free(r);
}


static uint64_t
policy_mask(pr_rules *r, const pr_kv *attrs, size_t n)
{
  uint64_t mask = 0xdead;
  char err[512];
  int rc = pr_rules_policies(r, 1, attrs, n, &mask, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("policies: %d %s", rc, err);
  }
  return mask;
}


#define BIT(i) ((uint64_t)1 << (i))

static void
test_rules_policies_match(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-match");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_policies, 8);
  /* "24x7" without a calendar of that name is calendar time. */
  assert_null(s->policies[4].cal);
  /* No condition: every ticket. */
  assert_int_equal(policy_mask(r, NULL, 0), BIT(0));
  pr_kv ent[] = {{"tier", "Enterprise"}};
  assert_int_equal(policy_mask(r, ent, N(ent)), BIT(0) | BIT(1));
  /* All conditions must hold; a list means any of its values. */
  pr_kv chat[] = {{"channel", "phone"}, {"queue", "support"}};
  assert_int_equal(policy_mask(r, chat, N(chat)), BIT(0) | BIT(2));
  pr_kv chat2[] = {{"channel", "chat"}, {"queue", "Sales"}};
  assert_int_equal(policy_mask(r, chat2, N(chat2)), BIT(0));
  pr_kv eu[] = {{"region", "eu"}};
  assert_int_equal(policy_mask(r, eu, N(eu)), BIT(0) | BIT(3));
  /* when = { type = "security" }: attribute equality. */
  pr_kv sec[] = {{"type", "Security"}};
  assert_int_equal(policy_mask(r, sec, N(sec)), BIT(0) | BIT(4));
  /* when = function: a Lua verdict. */
  pr_kv big[] = {{"seats", "250"}};
  assert_int_equal(policy_mask(r, big, N(big)), BIT(0) | BIT(5));
  pr_kv small[] = {{"seats", "20"}};
  assert_int_equal(policy_mask(r, small, N(small)), BIT(0));
  /* Keywords, in the subject or the body. */
  pr_kv pay[] = {{"subject", "Help"}, {"body", "the PAYMENT\n failed"}};
  assert_int_equal(policy_mask(r, pay, N(pay)), BIT(0) | BIT(6));
  /* Many at once. */
  pr_kv many[] = {{"tier", "enterprise"}, {"type", "incident"},
                  {"seats", "1000"}, {"subject", "payment failed"}};
  assert_int_equal(policy_mask(r, many, N(many)),
                   BIT(0) | BIT(1) | BIT(5) | BIT(6) | BIT(7));
  pr_rules_free(r);
}


static void
test_rules_policies_when_error(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-match");
  uint64_t mask = 77;
  char err[512];
  pr_kv boom[] = {{"type", "incident"}, {"explode", "yes"}};
  assert_int_equal(pr_rules_policies(r, 1, boom, N(boom), &mask, err,
                                     sizeof(err)),
                   PROMPTLY_ERULE);
  assert_int_equal(mask, 77);
  assert_non_null(strstr(err, "20-policies.lua:13: kaboom"));
  /* The other conditions are checked first: no call, no error. */
  pr_kv quiet[] = {{"type", "question"}, {"explode", "yes"}};
  assert_int_equal(policy_mask(r, quiet, N(quiet)), BIT(0));
  assert_int_equal(pr_rules_policies(r, 1, NULL, 1, &mask, err,
                                     sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_int_equal(pr_rules_policies(r, 1, NULL, 0, NULL, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  pr_rules_free(r);
}


static void
test_rules_sla_problems(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024];
  assert_int_equal(load("sla-bad", &r, err, sizeof(err)), PROMPTLY_ERULE);
  assert_null(r);
  static const char *const want[] = {
    "20-bad.lua:1: policy 'a': unknown calendar 'nope' (no calendar is "
    "declared)",
    "20-bad.lua:2: policy 'b': first_response: unknown level 'P9'",
    "20-bad.lua:3: policy 'c': first_response: '-1h' is not a duration",
    "20-bad.lua:4: policy 'd': resolution P1: '99999d' is out of range "
    "(at most 10 years)",
    "20-bad.lua:5: policy 'e': unknown key 'colour'",
    "20-bad.lua:6: policy 'a': already declared at 20-bad.lua:1",
    "20-bad.lua:7: at_risk: '75' is not a share",
    "20-bad.lua:8: at: 'abc%' is not a share of the target",
    "20-bad.lua:9: at: '0%' is out of range",
    "20-bad.lua:10: at '50%': unknown action 'page' (known: notify, "
    "raise_priority, set_priority, reassign, set_field, note, message, "
    "remind_customer, close; and metrics, quiet)",
    "20-bad.lua:11: at '60%': metrics: unknown metric 'speed'",
    "20-bad.lua:12: at '70%': set_priority: unknown level 'P9'",
    "20-bad.lua:13: at '80%': raise_priority must be a whole number",
    "20-bad.lua:14: waiting: after: 'soon' is not a duration",
    "20-bad.lua:15: exception 'x': give extend or exclude, not both",
    "20-bad.lua:16: exception 'y': give extend = \"4h\"",
    "20-bad.lua:17: metric 'visit': no start events",
    "20-bad.lua:18: metric 'call': start: unknown event 'ring'",
    "20-bad.lua:19: pause_on: 'On Hold' is already given at 20-bad.lua:19",
    "20-bad.lua:20: policy 'f': first_response: a target is a duration "
    "such as \"4h\", a deadline such as \"next business day 16:00\", a "
    "function returning one, \"best effort\" or false, not a number",
    "20-bad.lua:21: policy 'g': first_response: '1.5h' is not a duration",
    "20-bad.lua:23: at '90%': already declared at 20-bad.lua:22",
    "20-bad.lua:24: at_risk: '0%' is out of range",
    "20-bad.lua:25: exception 'z': metrics: unknown metric 'nope'",
    "20-bad.lua:26: policy 'i': first_response: level 'P1' is given twice",
    "20-bad.lua:27: policy 'j': resolution: '0m' must be more than nothing",
    "20-bad.lua:28: at: '100% + 1y' is not a share of the target",
    "20-bad.lua:29: remind_customer_after: template must be the name",
    "20-bad.lua:30: policy 'k': 'when' must be a function, or a table",
    "20-bad.lua:31: policy 'l': resolution: '3660d1ms' is out of range",
    "20-bad.lua:32: at '95%': no action",
    "20-bad.lua:33: metric 'tier': the name is taken",
    "20-bad.lua:34: policy 'm': no table follows the name",
  };
  for (size_t i = 0; i < N(want); i++) {
    assert_problem(want[i]);
  }
  /* One problem for each bad line, nothing else. */
  assert_int_equal(n_problems, N(want));
}


/* Index of the policy called name in the set, for the expectations. */
static uint16_t
policy_index(const pr_sla_set *s, const char *name)
{
  int i = pr_sla_set_policy_find(s, name);
  if (i < 0) {
    fail_msg("no policy '%s'", name);
  }
  return (uint16_t)i;
}

static void
pick_of(pr_rules *r, const pr_kv *attrs, size_t n, pr_sla_pick *pick,
        int want_rc, size_t want_n)
{
  char err[512];
  size_t matched = 99;
  int rc = pr_rules_pick(r, 1, attrs, n, pick, &matched, err, sizeof(err));
  if (rc != want_rc) {
    fail_msg("pick: %d %s", rc, err);
  }
  assert_int_equal(matched, want_n);
}

/* More than 64 policies (the old bit-mask limit): 10,000 account policies
** (one accounts table) and a few others, matched through the index. */
static void
test_rules_sla_many_policies(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-many");
  const pr_sla_set *s = pr_rules_sla(r);
  assert_int_equal(s->n_policies, 10003);
  /* Row order is index order: c1 is 0, c10000 is 9999. */
  assert_int_equal(policy_index(s, "c1"), 0);
  assert_int_equal(policy_index(s, "c10000"), 9999);
  pr_sla_pick pick;
  /* Case-insensitive attribute name and value, as for any condition. */
  pr_kv one[] = {{"Customer", "C7777"}};
  pick_of(r, one, N(one), &pick, PROMPTLY_OK, 1);
  assert_int_equal(pick.n, 1);
  assert_int_equal(pick.v[0], 7776);
  /* Every condition still holds in full: vip also needs tier gold. */
  pr_kv c42[] = {{"customer", "c42"}};
  pick_of(r, c42, N(c42), &pick, PROMPTLY_OK, 1);
  assert_int_equal(pick.v[0], 41);
  pr_kv c43g[] = {{"customer", "c43"}, {"tier", "Gold"},
                  {"subject", "payment failed again"}};
  pick_of(r, c43g, N(c43g), &pick, PROMPTLY_OK, 3);
  /* Ascending: acct43, payment (10000), vip (10001). */
  assert_int_equal(pick.n, 3);
  assert_int_equal(pick.v[0], 42);
  assert_int_equal(pick.v[1], policy_index(s, "payment"));
  assert_int_equal(pick.v[2], policy_index(s, "vip"));
  /* A `when` runs only for the candidates filed under the ticket. */
  pr_kv night[] = {{"customer", "c9999"}, {"shift", "night"}};
  pick_of(r, night, N(night), &pick, PROMPTLY_OK, 2);
  assert_int_equal(pick.v[0], 9998);
  assert_int_equal(pick.v[1], policy_index(s, "night"));
  pr_kv day[] = {{"customer", "c9999"}, {"shift", "day"}};
  pick_of(r, day, N(day), &pick, PROMPTLY_OK, 1);
  /* No account: nothing; an unknown one: nothing. */
  pick_of(r, NULL, 0, &pick, PROMPTLY_OK, 0);
  assert_int_equal(pick.n, 0);
  pr_kv none[] = {{"customer", "c10001"}};
  pick_of(r, none, N(none), &pick, PROMPTLY_OK, 0);
  /* The mask form keeps answering for the policies below 64. */
  uint64_t mask = 0;
  char err[512];
  assert_int_equal(pr_rules_policies(r, 1, c42, N(c42), &mask, err,
                                     sizeof(err)), PROMPTLY_OK);
  assert_int_equal(mask, (uint64_t)1 << 41);
  pr_rules_free(r);
}

/* Zones from the ticket: one id per distinct zone, shared; an unknown
** zone is 0 (the fallback) and logged once; a calendar variant per zone
** is built once and kept. */
static void
test_rules_zone_from_ticket(void **state)
{
  (void)state;
  pr_rules *r = load_ok("zones");
  const pr_sla_set *s = pr_rules_sla(r);
  pr_sla_pick a, b, c, u1, u2, none;
  pr_kv ny[] = {{"customer_tz", "America/New_York"}};
  pr_kv tk[] = {{"Customer_TZ", "Asia/Tokyo"}};
  pr_kv mars[] = {{"customer_tz", "Mars/Olympus"}};
  pick_of(r, ny, N(ny), &a, PROMPTLY_OK, 1);
  pick_of(r, tk, N(tk), &b, PROMPTLY_OK, 1);
  pick_of(r, ny, N(ny), &c, PROMPTLY_OK, 1);
  assert_int_equal(a.zone, 1);
  assert_int_equal(b.zone, 2);
  assert_int_equal(c.zone, a.zone);
  assert_string_equal(last_log, "");
  pick_of(r, mars, N(mars), &u1, PROMPTLY_OK, 1);
  assert_int_equal(u1.zone, 0);
  assert_non_null(strstr(last_log, "ticket 1: customer_tz 'Mars/Olympus' "
                                   "is not a known time zone"));
  last_log[0] = '\0';
  pick_of(r, mars, N(mars), &u2, PROMPTLY_OK, 1);
  assert_int_equal(u2.zone, 0);
  assert_string_equal(last_log, ""); /* once per zone */
  pick_of(r, NULL, 0, &none, PROMPTLY_OK, 1);
  assert_int_equal(none.zone, 0);
  /* The policy's calendar per zone: built once, then the same. */
  const pr_sla_policy *p = &s->policies[0];
  assert_non_null(p->zone_fn);
  pr_calendar *z1 = p->zone_fn(p->zone_ud, a.zone);
  assert_non_null(z1);
  assert_ptr_equal(p->zone_fn(p->zone_ud, a.zone), z1);
  assert_ptr_not_equal(p->zone_fn(p->zone_ud, b.zone), z1);
  assert_string_equal(pr_calendar_tz(z1), "America/New_York");
  assert_null(p->zone_fn(p->zone_ud, 0));
  assert_null(p->zone_fn(p->zone_ud, 99));
  pr_rules_free(r);
}

/* More matching policies than a ticket keeps: the first ones, ENOBUFS. */
static void
test_rules_sla_pick_overflow(void **state)
{
  (void)state;
  pr_rules *r = load_ok("sla-overflow");
  pr_sla_pick pick;
  pick_of(r, NULL, 0, &pick, PROMPTLY_ENOBUFS, 20);
  assert_int_equal(pick.n, PR_SLA_MAX_PICK);
  for (uint16_t i = 0; i < PR_SLA_MAX_PICK; i++) {
    assert_int_equal(pick.v[i], i);
  }
  pr_rules_free(r);
}


static void
test_rules_shipped_sla(void **state)
{
  (void)state;
  pr_rules *r = load_ok("shipped");
  const pr_sla_set *s = pr_rules_sla(r);
  struct pr_calendar *always = pr_rules_calendar(r, "24x7");
  struct pr_calendar *business = pr_rules_calendar(r, "business");
  assert_non_null(always);
  assert_non_null(business);
  assert_string_equal(pr_calendar_tz(business), "UTC");
  /* Friday 2026-11-20 17:00 UTC plus 4 business hours: Monday 13:00. */
  int64_t due;
  assert_int_equal(pr_cal_add(business, utc_ms(2026, 11, 20, 17, 0), H(4),
                              &due),
                   PROMPTLY_OK);
  assert_int_equal(due, utc_ms(2026, 11, 23, 13, 0));

  /* The corporate matrix: P1 round the clock, P2-P4 in business hours. */
  assert_ptr_equal(s->policies[pr_sla_set_policy_find(s, "corporate-p1")]
                     .cal, always);
  assert_ptr_equal(s->policies[pr_sla_set_policy_find(s, "corporate")].cal,
                   business);
  static const struct {
    const char *policy, *level;
    int64_t first, resolution;
  } matrix[] = {
    {"corporate-p1", "P1", MIN(30), H(4)},
    {"corporate-p1", "P2", PR_SLA_NONE, PR_SLA_NONE},
    {"corporate", "P1", PR_SLA_NONE, PR_SLA_NONE},
    {"corporate", "P2", H(1), H(8)},
    {"corporate", "P3", H(4), H(24)},
    {"corporate", "P4", H(24), PR_SLA_NONE},
    {"enterprise", "P3", H(1), H(4)},
    {"professional", "P1", H(4), H(24)},
    {"starter", "P4", H(24), H(72)},
    {"security", "P2", H(1), PR_SLA_NONE},
  };
  for (size_t i = 0; i < N(matrix); i++) {
    if (target(s, matrix[i].policy, matrix[i].level, "first_response") !=
          matrix[i].first ||
        target(s, matrix[i].policy, matrix[i].level, "resolution") !=
          matrix[i].resolution) {
      fail_msg("%s %s: targets differ", matrix[i].policy, matrix[i].level);
    }
  }
  for (size_t i = 0; i < N(matrix); i++) {
    const char *tiers[] = {"enterprise", "professional", "starter"};
    for (size_t k = 0; k < N(tiers); k++) {
      int p = pr_sla_set_policy_find(s, tiers[k]);
      assert_ptr_equal(s->policies[p].cal, business);
    }
  }
  assert_ptr_equal(s->policies[pr_sla_set_policy_find(s, "security")].cal,
                   always);

  /* Which policies match. */
  int cp1 = pr_sla_set_policy_find(s, "corporate-p1");
  int corp = pr_sla_set_policy_find(s, "corporate");
  uint64_t base = BIT(cp1) | BIT(corp);
  assert_int_equal(policy_mask(r, NULL, 0), base);
  pr_kv ent[] = {{"tier", "enterprise"}};
  assert_int_equal(policy_mask(r, ent, N(ent)),
                   base | BIT(pr_sla_set_policy_find(s, "enterprise")));
  pr_kv sec[] = {{"type", "security"}, {"tier", "starter"}};
  assert_int_equal(policy_mask(r, sec, N(sec)),
                   base | BIT(pr_sla_set_policy_find(s, "security")) |
                     BIT(pr_sla_set_policy_find(s, "starter")));

  /* Pauses, thresholds, wait timers. */
  assert_int_equal(s->n_pauses, 2);
  assert_string_equal(s->pauses[0].status, "pending customer");
  assert_int_equal(s->pauses[0].customer_wait, 1);
  assert_string_equal(s->pauses[1].status, "stalled");
  assert_int_equal(s->pauses[1].customer_wait, 0);
  assert_int_equal(s->at_risk_permille, 750);
  assert_int_equal(s->n_thresholds, 3);
  const pr_sla_threshold *t = s->thresholds;
  assert_string_equal(t[0].label, "75%");
  assert_action(t[0].actions, t[0].n_actions, 0, "notify", 1,
                "to=Owner, SLA Team Leads");
  assert_string_equal(t[1].label, "100%");
  assert_int_equal(t[1].n_actions, 2);
  assert_action(t[1].actions, t[1].n_actions, 0, "notify", 1,
                "to=Owner, SLA Managers");
  assert_action(t[1].actions, t[1].n_actions, 1, "raise_priority", 1,
                "by=1");
  assert_string_equal(t[2].label, "100%+2h");
  assert_action(t[2].actions, t[2].n_actions, 0, "notify", 1,
                "to=AdminCc, SLA Managers");
  assert_int_equal(s->n_waits, 3);
  assert_string_equal(s->waits[0].label, "1d");
  assert_action(s->waits[0].actions, s->waits[0].n_actions, 0,
                "remind_customer", 1, "template=reminder");
  assert_string_equal(s->waits[1].label, "2d");
  assert_action(s->waits[1].actions, s->waits[1].n_actions, 0,
                "remind_customer", 1, "template=reminder");
  assert_string_equal(s->waits[2].label, "7d");
  assert_action(s->waits[2].actions, s->waits[2].n_actions, 0, "close", 1,
                "");
  pr_rules_free(r);
}


/* What "promptly check" does with a folder: load it and report problems.
** The shipped folder reports none, and loads with no problem sink at all. */
static void
test_rules_shipped_check_reports_nothing(void **state)
{
  (void)state;
  pr_rules *r;
  char err[1024] = "untouched";
  assert_int_equal(load("shipped", &r, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(n_problems, 0);
  assert_string_equal(err, "untouched");
  assert_int_equal(pr_rules_file_count(r), 4);
  pr_rules_free(r);
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  assert_int_equal(pr_rules_load(fixture("shipped"), &o, &r, err,
                                 sizeof(err)),
                   PROMPTLY_OK);
  pr_rules_free(r);
}


/* Every folder under examples/policies/ loads clean and declares
** policies. */
static void
test_rules_examples_load(void **state)
{
  (void)state;
  char dir[4096];
  const char *src = getenv("PROMPTLY_SRCDIR");
  assert_non_null(src);
  snprintf(dir, sizeof(dir), "%s/examples/policies", src);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  int folders = 0;
  while ((e = readdir(d)) != NULL) {
    char path[4096 + 256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
      continue;
    }
    pr_rules_opts o;
    memset(&o, 0, sizeof(o));
    o.problem = record_problem;
    n_problems = 0;
    pr_rules *r = NULL;
    char err[1024];
    if (pr_rules_load(path, &o, &r, err, sizeof(err)) != PROMPTLY_OK) {
      fail_msg("examples/policies/%s: %s", e->d_name, err);
    }
    assert_int_equal(n_problems, 0);
    assert_true(pr_rules_sla(r)->n_policies > 0);
    pr_rules_free(r);
    folders++;
  }
  closedir(d);
  assert_true(folders >= 3);
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
    cmocka_unit_test(test_rules_problem_list_is_structured_and_sorted),
    cmocka_unit_test(test_rules_large_attribute_values),
    cmocka_unit_test(test_rules_when_errors),
    cmocka_unit_test(test_rules_missing_folder),
    cmocka_unit_test(test_rules_calendars_declared),
    cmocka_unit_test(test_rules_calendar_problems),
    cmocka_unit_test(test_rules_shipped_defaults),
    cmocka_unit_test(test_rules_sla_empty_folder_gives_empty_set),
    cmocka_unit_test(test_rules_sla_policy_targets),
    cmocka_unit_test(test_rules_sla_custom_metric),
    cmocka_unit_test(test_rules_sla_pauses_and_at_risk),
    cmocka_unit_test(test_rules_sla_thresholds_sorted_with_actions),
    cmocka_unit_test(test_rules_sla_actions_in_fixed_order),
    cmocka_unit_test(test_rules_relative_deadlines_and_escalation),
    cmocka_unit_test(test_rules_sla_waits_joined_and_sorted),
    cmocka_unit_test(test_rules_sla_exceptions_declared),
    cmocka_unit_test(test_rules_sla_exceptions_apply),
    cmocka_unit_test(test_rules_pause_conditions),
    cmocka_unit_test(test_rules_quiet_hours),
    cmocka_unit_test(test_rules_sla_exception_unknown),
    cmocka_unit_test(test_rules_policies_match),
    cmocka_unit_test(test_rules_policies_when_error),
    cmocka_unit_test(test_rules_sla_problems),
    cmocka_unit_test(test_rules_sla_many_policies),
    cmocka_unit_test(test_rules_sla_pick_overflow),
    cmocka_unit_test(test_rules_zone_from_ticket),
    cmocka_unit_test(test_rules_shipped_sla),
    cmocka_unit_test(test_rules_shipped_check_reports_nothing),
    cmocka_unit_test(test_rules_examples_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
