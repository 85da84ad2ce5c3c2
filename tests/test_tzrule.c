/* test_tzrule.c - the tzrule unit: POSIX TZ footer rules and their offsets.
**
** Every instant is worked out by hand in a comment from two anchors:
** 2026-03-29 and 2026-10-25 are Sundays (the EU's changes of 2026).
*/
#include "config.h"

#include "cmocka_all.h"

#include "tzrule.h"
#include "util.h"

#include <limits.h>
#include <stdint.h>

/* UTC seconds of a civil date and time. */
static int64_t
utc(int64_t y, unsigned mo, unsigned d, int h, int mi)
{
  return pr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}


/* Europe/Dublin: IST (+1) is standard time, GMT in winter is "daylight"
** time with a negative saving.  2026-10-25 -> 2040-10-25 is 14 years with
** 4 leap days (2028..2040), 5114 days = 730 weeks + 4: a Thursday, so the
** last Sunday of October 2040 is the 28th; 02:00 IST = 01:00 UTC.
** 2026-03-29 -> 2040-03-29 likewise +4 days, a Thursday: the last Sunday of
** March 2040 is the 25th; 01:00 GMT = 01:00 UTC. */
static void
test_tzrule_negative_dst(void **state)
{
  (void)state;
  pr_tzrule r;
  assert_int_equal(pr_tzrule_parse("IST-1GMT0,M10.5.0,M3.5.0/1", &r), 0);
  assert_int_equal(r.std_off, 3600);
  assert_int_equal(r.dst_off, 0);
  assert_int_equal(pr_tzrule_offset(&r, utc(2040, 1, 15, 12, 0)), 0);
  assert_int_equal(pr_tzrule_offset(&r, utc(2040, 7, 15, 12, 0)), 3600);
  int64_t t = pr_tzrule_next(&r, utc(2040, 1, 15, 12, 0));
  assert_int_equal(t, utc(2040, 3, 25, 1, 0));
  assert_int_equal(pr_tzrule_offset(&r, t - 1), 0);
  assert_int_equal(pr_tzrule_offset(&r, t), 3600);
  assert_int_equal(pr_tzrule_next(&r, t), utc(2040, 10, 28, 1, 0));
}


/* Australia/Sydney: daylight time across New Year.  First Sunday of
** October 2040: Oct 28 is a Sunday (above), so Oct 7; 02:00 AEST (+10) =
** Oct 6 16:00 UTC.  First Sunday of April 2041: 2040-10-28 + 22 weeks =
** 2041-03-31, so April 7; 03:00 AEDT (+11) = Apr 6 16:00 UTC. */
static void
test_tzrule_southern(void **state)
{
  (void)state;
  pr_tzrule r;
  assert_int_equal(pr_tzrule_parse("AEST-10AEDT,M10.1.0,M4.1.0/3", &r), 0);
  assert_int_equal(pr_tzrule_offset(&r, utc(2041, 1, 1, 0, 0)), 39600);
  assert_int_equal(pr_tzrule_offset(&r, utc(2040, 7, 1, 0, 0)), 36000);
  assert_int_equal(pr_tzrule_next(&r, utc(2040, 7, 1, 0, 0)),
                   utc(2040, 10, 6, 16, 0));
  assert_int_equal(pr_tzrule_next(&r, utc(2040, 10, 6, 16, 0)),
                   utc(2041, 4, 6, 16, 0));
}


/* America/Nuuk's footer: transitions at -1:00 and 0:00 local (RFC 8536
** allows -167h..167h); daylight time all year never changes. */
static void
test_tzrule_extended_times_and_all_year(void **state)
{
  (void)state;
  pr_tzrule r;
  assert_int_equal(pr_tzrule_parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", &r), 0);
  assert_int_equal(r.std_off, -7200);
  assert_int_equal(r.dst_off, -3600);
  assert_int_equal(r.start.time_s, -3600);
  /* Last Sunday of March 2040 is the 25th; -1:00 local (-2) is Mar 24
  ** 23:00 local = Mar 25 01:00 UTC. */
  assert_int_equal(pr_tzrule_next(&r, utc(2040, 1, 1, 0, 0)),
                   utc(2040, 3, 25, 1, 0));

  assert_int_equal(pr_tzrule_parse("EST5EDT,0/0,J365/25", &r), 0);
  assert_int_equal(pr_tzrule_offset(&r, utc(2050, 1, 1, 0, 30)), -14400);
  assert_int_equal(pr_tzrule_offset(&r, utc(2050, 12, 31, 23, 30)), -14400);
  assert_int_equal(pr_tzrule_next(&r, utc(2050, 6, 1, 0, 0)), INT64_MAX);

  assert_int_equal(pr_tzrule_parse("<+03>-3", &r), 0);
  assert_int_equal(pr_tzrule_offset(&r, utc(2800, 6, 1, 0, 0)), 10800);
  assert_int_equal(pr_tzrule_next(&r, 0), INT64_MAX);
}


static void
test_tzrule_refuses_bad_rules(void **state)
{
  (void)state;
  pr_tzrule r;
  const char *bad[] = {"", "X1", "EST", "EST5EDT,M13.1.0,M11.1.0",
                       "EST5EDT,M3.2.0", "EST5EDT,M3.6.0,M11.1.0",
                       "EST5EDT,J366,J1", "EST5EDT,M3.2.0/168,M11.1.0",
                       "<AB>5", "EST25"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_not_equal(pr_tzrule_parse(bad[i], &r), 0);
  }
  assert_int_not_equal(pr_tzrule_load("/nonexistent/zone", &r), 0);
  assert_int_not_equal(pr_tzrule_load("/dev/null", &r), 0);
}


/* The system's Dublin file ends with the rule above. */
static void
test_tzrule_loads_a_tzif_footer(void **state)
{
  (void)state;
  pr_tzrule r;
  assert_int_equal(pr_tzrule_load("/usr/share/zoneinfo/Europe/Dublin", &r), 0);
  assert_int_equal(r.std_off, 3600);
  assert_int_equal(r.dst_off, 0);
  assert_true(r.after_s > utc(1990, 1, 1, 0, 0));
  assert_int_equal(pr_tzrule_offset(&r, utc(2040, 1, 15, 12, 0)), 0);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tzrule_negative_dst),
    cmocka_unit_test(test_tzrule_southern),
    cmocka_unit_test(test_tzrule_extended_times_and_all_year),
    cmocka_unit_test(test_tzrule_refuses_bad_rules),
    cmocka_unit_test(test_tzrule_loads_a_tzif_footer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
