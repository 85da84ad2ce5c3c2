/* test_calendar.c - the calendar unit: hand-checked cases, a brute-force
** oracle over random calendars, and bad input.
**
** Instants in the tables are UTC; each case says in a comment how the
** expected value follows from the local wall clock.  The property test
** walks UTC time minute by minute (or to the millisecond at the ends),
** asks GLib for the offset at each step and checks the local reading
** against the openings and holidays it generated; it shares nothing with
** calendar.c but GLib and the civil-date helpers of util.c.
*/
#include "config.h"

#include "cmocka_all.h"

#include "calendar.h"
#include "tzrule.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#define MIN_MS  INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS  INT64_C(86400000)

/* --- Helpers ------------------------------------------------------------ */

static int64_t
floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}


/* "YYYY-MM-DDTHH:MM[:SS[.mmm]]Z" to ms; the tables only use this form. */
static int64_t
iso(const char *s)
{
  int y, mo, d, h, mi, sec = 0, ms = 0, n = 0;
  int got = sscanf(s, "%d-%d-%dT%d:%d%n", &y, &mo, &d, &h, &mi, &n);
  assert_int_equal(got, 5);
  const char *p = s + n;
  if (*p == ':') {
    int k = 0;
    assert_int_equal(sscanf(p, ":%d%n", &sec, &k), 1);
    p += k;
    if (*p == '.') {
      assert_int_equal(sscanf(p, ".%d%n", &ms, &k), 1);
      p += k;
    }
  }
  assert_string_equal(p, "Z");
  return pr_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY_MS +
         ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms;
}


static const char *
fixture(const char *name, char *buf, size_t len)
{
  /* make check exports PROMPTLY_SRCDIR; the build names the source tree
  ** too, so that the test also runs by hand. */
  const char *src = getenv("PROMPTLY_SRCDIR");
#ifdef PR_TEST_SRCDIR
  if (src == NULL) {
    src = PR_TEST_SRCDIR;
  }
#endif
  snprintf(buf, len, "%s/tests/fixtures/ics/%s", src != NULL ? src : ".",
           name);
  return buf;
}


/* A calendar described for a table: hours like "mon-fri 09:00-17:00,
** sat 22:00-06:00" (or "24x7"), space-separated holidays, a fixture. */
typedef struct cal_desc {
  const char *tz;
  const char *hours;
  const char *holidays;
  const char *ics;
} cal_desc;

static const char *const day_names[7] = {"mon", "tue", "wed", "thu",
                                         "fri", "sat", "sun"};


static int
day_index(const char *s, size_t n)
{
  for (int w = 0; w < 7; w++) {
    if (n == 3 && strncmp(s, day_names[w], 3) == 0) {
      return w;
    }
  }
  fail_msg("bad day in table: %.*s", (int)n, s);
  return -1;
}


static pr_calendar *
make_cal(const cal_desc *d)
{
  char err[256], path[1024];
  pr_cal_spec *s = NULL;
  pr_calendar *c = NULL;
  if (pr_cal_spec_new(d->tz, &s, err, sizeof(err)) != PROMPTLY_OK) {
    fail_msg("spec: %s", err);
  }
  char hours[512];
  snprintf(hours, sizeof(hours), "%s", d->hours != NULL ? d->hours : "");
  for (char *save = NULL, *tok = strtok_r(hours, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') {
      tok++;
    }
    if (strcmp(tok, "24x7") == 0) {
      pr_cal_spec_set_24x7(s);
      continue;
    }
    char days[16], open[8], close[8];
    assert_int_equal(sscanf(tok, "%15s %7[0-9:]-%7[0-9:]", days, open, close),
                     3);
    char *dash = strchr(days, '-');
    int w0 = day_index(days, dash != NULL ? (size_t)(dash - days)
                                          : strlen(days));
    int w1 = dash != NULL ? day_index(dash + 1, strlen(dash + 1)) : w0;
    for (int w = w0; w <= w1; w++) {
      if (pr_cal_spec_add_hours(s, w, open, close, err, sizeof(err)) !=
          PROMPTLY_OK) {
        fail_msg("hours: %s", err);
      }
    }
  }
  char hol[512];
  snprintf(hol, sizeof(hol), "%s", d->holidays != NULL ? d->holidays : "");
  for (char *save = NULL, *tok = strtok_r(hol, " ", &save); tok != NULL;
       tok = strtok_r(NULL, " ", &save)) {
    if (pr_cal_spec_add_holiday(s, tok, err, sizeof(err)) != PROMPTLY_OK) {
      fail_msg("holiday: %s", err);
    }
  }
  if (d->ics != NULL) {
    if (pr_cal_spec_add_ics(s, fixture(d->ics, path, sizeof(path)), err,
                            sizeof(err)) != PROMPTLY_OK) {
      fail_msg("ics: %s", err);
    }
  }
  if (pr_cal_compile(s, &c, err, sizeof(err)) != PROMPTLY_OK) {
    fail_msg("compile: %s", err);
  }
  pr_cal_spec_free(s);
  return c;
}


static void
assert_iso_equal(int64_t got, const char *want, const char *name)
{
  char g[PR_ISO_LEN];
  pr_iso_format(got, g);
  if (strcmp(g, want) != 0) {
    fail_msg("%s: got %s, want %s", name, g, want);
  }
}


/* --- Hand-checked cases: add --------------------------------------------- */

typedef struct add_case {
  const char *name;
  cal_desc cal;
  const char *start;
  int64_t seconds;
  const char *due;
} add_case;

#define H 3600
#define M 60

#define OFFICE_BERLIN {"Europe/Berlin", "mon-fri 09:00-17:00", NULL, NULL}

static const add_case add_cases[] = {
  /* SPEC's example.  2026-11-20 is a Friday; Berlin is on CET (+1), so
  ** Fri 17:00 local = 16:00Z.  The office is closed until Mon 09:00 CET
  ** (08:00Z); four business hours later it is 13:00 CET = 12:00Z. */
  {"friday 17:00 + 4h", OFFICE_BERLIN,
   "2026-11-20T16:00:00Z", 4 * H, "2026-11-23T12:00:00Z"},
  /* Thu 2026-11-19 09:00 CET (08:00Z): Thursday gives 8h, Friday 8h, used
  ** up exactly at Fri 17:00, so due at the next opening, Mon 09:00 CET. */
  {"thursday 09:00 + 16h", OFFICE_BERLIN,
   "2026-11-19T08:00:00Z", 16 * H, "2026-11-23T08:00:00Z"},
  /* Mon 2026-11-23 09:00 CET + 8h ends exactly at the close: Tue 09:00. */
  {"target ends at closing", OFFICE_BERLIN,
   "2026-11-23T08:00:00Z", 8 * H, "2026-11-24T08:00:00Z"},
  /* One second less is still inside Monday: 16:59:59 CET = 15:59:59Z. */
  {"target a second before closing", OFFICE_BERLIN,
   "2026-11-23T08:00:00Z", 8 * H - 1, "2026-11-23T15:59:59Z"},
  /* Zero at a closed instant (Sat noon) is the next opening, Mon 09:00. */
  {"zero while closed", OFFICE_BERLIN,
   "2026-11-21T11:00:00Z", 0, "2026-11-23T08:00:00Z"},
  /* Zero at an open instant is the start itself. */
  {"zero while open", OFFICE_BERLIN,
   "2026-11-23T10:30:00Z", 0, "2026-11-23T10:30:00Z"},
  /* A start at the closing instant 17:00 is closed (half-open opening):
  ** one second is due one second after Tue 09:00. */
  {"start at closing", OFFICE_BERLIN,
   "2026-11-23T16:00:00Z", 1, "2026-11-24T08:00:01Z"},
  /* Milliseconds are kept: Mon 09:00:00.250 CET + 1 s of business =
  ** 09:00:01.250 CET. */
  {"milliseconds", OFFICE_BERLIN,
   "2026-11-23T08:00:00.250Z", 1, "2026-11-23T08:00:01.250Z"},

  /* Berlin spring-forward, Sun 2026-03-29: 02:00 CET becomes 03:00 CEST.
  ** Open daily 01:00-05:00: on that Sunday 01:00-02:00 CET is 00:00Z-01:00Z
  ** and 03:00-05:00 CEST is 01:00Z-03:00Z, three hours in one piece.  From
  ** 01:00 local (00:00Z), 2h30 is 02:30Z (04:30 CEST). */
  {"berlin spring-forward inside hours",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2026-03-29T00:00:00Z", 2 * H + 30 * M, "2026-03-29T02:30:00Z"},
  /* The same Sunday holds only 3h: 3h are used up at the close, so due at
  ** Monday 01:00 CEST = Sun 23:00Z. */
  {"berlin spring-forward day is 3h",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2026-03-29T00:00:00Z", 3 * H, "2026-03-29T23:00:00Z"},
  /* Berlin fall-back, Sun 2026-10-25: 03:00 CEST becomes 02:00 CET.  Open
  ** 01:00-05:00: 01:00 CEST = Sat 23:00Z, 05:00 CET = 04:00Z, so 5h.  From
  ** the opening, 4h30 is 03:30Z (04:30 CET). */
  {"berlin fall-back inside hours",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2026-10-24T23:00:00Z", 4 * H + 30 * M, "2026-10-25T03:30:00Z"},
  /* 5h use the whole 25-hour-day opening; next is Mon 01:00 CET = 00:00Z. */
  {"berlin fall-back day is 5h",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2026-10-24T23:00:00Z", 5 * H, "2026-10-26T00:00:00Z"},
  /* Far ahead, GLib still applies the EU rule (last Sunday of March,
  ** 01:00Z), as zdump shows for 2040: Sun 2040-03-25 01:00-05:00 local is
  ** 00:00Z-03:00Z, 3h; used up at the close, due Mon 01:00 CEST = Sun
  ** 23:00Z. */
  {"berlin 2040 spring-forward day is 3h",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2040-03-25T00:00:00Z", 3 * H, "2040-03-25T23:00:00Z"},
  /* Across the spring-forward weekend in office hours: Fri 2026-03-27
  ** 15:00 CET (14:00Z) + 4h = 2h on Friday, then Mon 09:00 CEST (07:00Z)
  ** + 2h = 11:00 CEST = 09:00Z. */
  {"berlin office across spring-forward", OFFICE_BERLIN,
   "2026-03-27T14:00:00Z", 4 * H, "2026-03-30T09:00:00Z"},
  /* Across fall-back: Fri 2026-10-23 15:00 CEST (13:00Z) + 4h = 2h, then
  ** Mon 09:00 CET (08:00Z) + 2h = 10:00Z. */
  {"berlin office across fall-back", OFFICE_BERLIN,
   "2026-10-23T13:00:00Z", 4 * H, "2026-10-26T10:00:00Z"},

  /* New York, Sun 2026-11-01: 02:00 EDT becomes 01:00 EST.  Sunday-only
  ** 00:00-24:00 runs from 04:00Z to Mon 05:00Z: a 25-hour day.  From Sat
  ** 12:00 EDT (16:00Z), 24h59m end at Mon 04:59Z. */
  {"new york fall-back sunday has 25h",
   {"America/New_York", "sun 00:00-24:00", NULL, NULL},
   "2026-10-31T16:00:00Z", 24 * H + 59 * M, "2026-11-02T04:59:00Z"},
  /* 25h use it all: due next Sunday 00:00 EST = 2026-11-08T05:00Z. */
  {"new york fall-back sunday used up",
   {"America/New_York", "sun 00:00-24:00", NULL, NULL},
   "2026-10-31T16:00:00Z", 25 * H, "2026-11-08T05:00:00Z"},
  /* Sun 2026-03-08: 02:00 EST becomes 03:00 EDT, so 02:00-03:00 has no
  ** instants.  Open daily 02:00-03:00: Sat 02:00 EST (07:00Z) + 1h ends at
  ** the close; Sunday's opening is empty, so due Mon 02:00 EDT = 06:00Z. */
  {"new york opening inside the gap is empty",
   {"America/New_York", "mon-sun 02:00-03:00", NULL, NULL},
   "2026-03-07T07:00:00Z", 1 * H, "2026-03-09T06:00:00Z"},
  /* Open daily 01:00-02:00 on Sun 2026-11-01: both passes count, 05:00Z to
  ** 07:00Z.  From the opening, 1h30 is 06:30Z (01:30 EST, second pass). */
  {"new york repeated hour counts twice",
   {"America/New_York", "mon-sun 01:00-02:00", NULL, NULL},
   "2026-11-01T05:00:00Z", 1 * H + 30 * M, "2026-11-01T06:30:00Z"},

  /* Sydney, Sun 2026-04-05: 03:00 AEDT becomes 02:00 AEST.  Fri
  ** 2026-04-03 16:00 AEDT (05:00Z) + 2h: 1h Friday, then Mon 09:00 AEST
  ** (Sun 23:00Z) + 1h = 00:00Z Monday. */
  {"sydney office across fall-back",
   {"Australia/Sydney", "mon-fri 09:00-17:00", NULL, NULL},
   "2026-04-03T05:00:00Z", 2 * H, "2026-04-06T00:00:00Z"},
  /* Sydney, Sun 2026-10-04: 02:00 AEST becomes 03:00 AEDT.  Overnight
  ** sat 22:00-06:00: Sat 22:00 AEST = 12:00Z, Sun 06:00 AEDT = 19:00Z, so
  ** the shift holds 7h; 7h from its start are due at the next shift, Sat
  ** 2026-10-10 22:00 AEDT = 11:00Z. */
  {"sydney overnight shift across spring-forward",
   {"Australia/Sydney", "sat 22:00-06:00", NULL, NULL},
   "2026-10-03T12:00:00Z", 7 * H, "2026-10-10T11:00:00Z"},
  /* Auckland, Sun 2026-04-05: 03:00 NZDT becomes 02:00 NZST.  Overnight
  ** sat 20:00-04:00: Sat 20:00 NZDT = 07:00Z, Sun 04:00 NZST = 16:00Z, a
  ** 9h shift; 8h30 from its start is 15:30Z (03:30 NZST). */
  {"auckland overnight shift across fall-back",
   {"Pacific/Auckland", "sat 20:00-04:00", NULL, NULL},
   "2026-04-04T07:00:00Z", 8 * H + 30 * M, "2026-04-04T15:30:00Z"},
  /* Auckland, Sun 2026-09-27: 02:00 NZST becomes 03:00 NZDT.  Office
  ** hours: Fri 2026-09-25 16:00 NZST (04:00Z) + 2h = 1h Friday, then Mon
  ** 09:00 NZDT (Sun 20:00Z) + 1h = 21:00Z. */
  {"auckland office across spring-forward",
   {"Pacific/Auckland", "mon-fri 09:00-17:00", NULL, NULL},
   "2026-09-25T04:00:00Z", 2 * H, "2026-09-27T21:00:00Z"},
  /* Berlin overnight sat 22:00-06:00 across fall-back: Sat 2026-10-24
  ** 22:00 CEST = 20:00Z, Sun 06:00 CET = 05:00Z: 9h. */
  {"berlin overnight across fall-back is 9h",
   {"Europe/Berlin", "sat 22:00-06:00", NULL, NULL},
   "2026-10-24T20:00:00Z", 9 * H - 1, "2026-10-25T04:59:59Z"},
  /* Across spring-forward: Sat 2026-03-28 22:00 CET = 21:00Z, Sun 06:00
  ** CEST = 04:00Z: 7h, so 7h are due at the next Saturday, 22:00 CET on
  ** 2026-04-04 is already CEST: 20:00Z. */
  {"berlin overnight across spring-forward is 7h",
   {"Europe/Berlin", "sat 22:00-06:00", NULL, NULL},
   "2026-03-28T21:00:00Z", 7 * H, "2026-04-04T20:00:00Z"},

  /* Kolkata is +05:30 all year.  Fri 2026-11-20 17:00 IST (11:30Z) + 2h:
  ** 1h on Friday to 18:00, then Mon 09:30 IST (04:00Z) + 1h = 05:00Z. */
  {"kolkata half-hour offset",
   {"Asia/Kolkata", "mon-fri 09:30-18:00", NULL, NULL},
   "2026-11-20T11:30:00Z", 2 * H, "2026-11-23T05:00:00Z"},
  /* Kathmandu is +05:45.  Fri 16:15 NPT (10:30Z) + 90m: 45m on Friday,
  ** then Mon 10:00 NPT (04:15Z) + 45m = 05:00Z. */
  {"kathmandu 45-minute offset",
   {"Asia/Kathmandu", "mon-fri 10:00-17:00", NULL, NULL},
   "2026-11-20T10:30:00Z", 90 * M, "2026-11-23T05:00:00Z"},

  /* Holidays Thu 24 - Sat 26 Dec 2026 (the Saturday is a weekend day
  ** anyway).  Wed 23 16:00 CET (15:00Z) + 2h: 1h Wednesday, then Mon 28
  ** 09:00 CET (08:00Z) + 1h = 09:00Z. */
  {"holiday range over a weekend",
   {"Europe/Berlin", "mon-fri 09:00-17:00", "2026-12-24..2026-12-26", NULL},
   "2026-12-23T15:00:00Z", 2 * H, "2026-12-28T09:00:00Z"},
  /* A holiday on a Saturday changes nothing: Fri 2026-11-20 16:00 CET
  ** (15:00Z) + 2h = 1h Friday, Mon 10:00 CET = 09:00Z. */
  {"holiday on a saturday",
   {"Europe/Berlin", "mon-fri 09:00-17:00", "2026-11-21", NULL},
   "2026-11-20T15:00:00Z", 2 * H, "2026-11-23T09:00:00Z"},
  /* Across the year end: 2026-12-24 .. 2027-01-01 off.  Wed 23 16:00 CET
  ** (15:00Z) + 2h: 1h Wednesday, next working day Mon 2027-01-04, 09:00
  ** CET (08:00Z) + 1h = 09:00Z. */
  {"holiday range across year end",
   {"Europe/Berlin", "mon-fri 09:00-17:00", "2026-12-24..2027-01-01", NULL},
   "2026-12-23T15:00:00Z", 2 * H, "2027-01-04T09:00:00Z"},
  /* The same as a yearly range that wraps the year end. */
  {"yearly range across year end",
   {"Europe/Berlin", "mon-fri 09:00-17:00", "12-24..01-01", NULL},
   "2026-12-23T15:00:00Z", 2 * H, "2027-01-04T09:00:00Z"},
  /* Yearly "*-12-25" and "12-26" in 2030 (Wed, Thu): Tue 2030-12-24
  ** 16:00 CET (15:00Z) + 2h = 1h Tuesday, Fri 27 09:00 + 1h = 09:00Z. */
  {"yearly holidays",
   {"Europe/Berlin", "mon-fri 09:00-17:00", "*-12-25 12-26", NULL},
   "2030-12-24T15:00:00Z", 2 * H, "2030-12-27T09:00:00Z"},
  /* An overnight shift opened on a holiday is off; one opened the day
  ** before still runs into the holiday.  fri 22:00-06:00 in UTC with Fri
  ** 2026-12-25 a holiday: from Thu noon, the next shift opens Fri
  ** 2027-01-01 22:00Z. */
  {"overnight shift opened on a holiday is off",
   {"UTC", "fri 22:00-06:00", "2026-12-25", NULL},
   "2026-12-24T12:00:00Z", 0, "2027-01-01T22:00:00Z"},
  /* With Sat 2026-12-26 the holiday instead, Friday's shift runs: from
  ** Fri 22:00Z, 7h is Sat 05:00Z. */
  {"overnight shift into a holiday runs",
   {"UTC", "fri 22:00-06:00", "2026-12-26", NULL},
   "2026-12-25T22:00:00Z", 7 * H, "2026-12-26T05:00:00Z"},

  /* .ics: Christmas and Boxing Day yearly (DTEND exclusive, 2 days); 2029
  ** has them on Tue and Wed.  Mon 24 16:00Z + 2h: 1h Monday, Thu 27 09:00
  ** + 1h = 10:00Z. */
  {"ics yearly two-day event",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2029-12-24T16:00:00Z", 2 * H, "2029-12-27T10:00:00Z"},
  /* New Year yearly but EXDATE 2027-01-01 (a Friday): Thu 2026-12-31
  ** 16:00Z + 2h = 1h Thursday, then Friday Jan 1 is a working day:
  ** 10:00Z. */
  {"ics exdate keeps the day",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2026-12-31T16:00:00Z", 2 * H, "2027-01-01T10:00:00Z"},
  /* 2031-01-01 is a Wednesday and a holiday: Tue 16:00Z + 2h = Thu
  ** 10:00Z. */
  {"ics new year",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2030-12-31T16:00:00Z", 2 * H, "2031-01-02T10:00:00Z"},
  /* Last Monday of May (BYDAY=-1MO): 2026-05-25.  Fri 22 16:00Z + 2h =
  ** 1h Friday, Tue 26 10:00Z. */
  {"ics byday rule",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2026-05-22T16:00:00Z", 2 * H, "2026-05-26T10:00:00Z"},
  /* In 2027 it is May 31: Fri 28 16:00Z + 2h = Tue 2027-06-01 10:00Z. */
  {"ics byday rule another year",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2027-05-28T16:00:00Z", 2 * H, "2027-06-01T10:00:00Z"},
  /* The retreat Wed 18 - Fri 20 Nov 2026 (DTEND 21st exclusive): Tue 17
  ** 16:00Z + 2h = 1h Tuesday, Mon 23 10:00Z. */
  {"ics multi-day event",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2026-11-17T16:00:00Z", 2 * H, "2026-11-23T10:00:00Z"},
  /* The cancelled closure on Tue 2026-10-27 is ignored: Mon 26 16:00Z +
  ** 2h = Tue 10:00Z. */
  {"ics cancelled event ignored",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2026-10-26T16:00:00Z", 2 * H, "2026-10-27T10:00:00Z"},

  /* A year: Mon-Fri 09:00-17:00 UTC from Mon 2027-01-04 09:00 for 52
  ** weeks x 40h = 2080h ends exactly at Fri 2027-12-31 17:00, so due at
  ** Mon 2028-01-03 09:00. */
  {"a year of office hours",
   {"UTC", "mon-fri 09:00-17:00", NULL, NULL},
   "2027-01-04T09:00:00Z", 2080 * H, "2028-01-03T09:00:00Z"},
  /* The same in Berlin: every DST change falls on a Sunday night, so each
  ** working day still has 8h; the year ends at Mon 2028-01-03 09:00 CET =
  ** 08:00Z. */
  {"a year of office hours in berlin", OFFICE_BERLIN,
   "2027-01-04T08:00:00Z", 2080 * H, "2028-01-03T08:00:00Z"},
  /* 24x7 counts real time: 1000 days after 2026-01-01 is 2028-09-27. */
  {"24x7 over years", {"Europe/Berlin", "24x7", NULL, NULL},
   "2026-01-01T00:00:00Z", 1000 * 24 * H, "2028-09-27T00:00:00Z"},
  /* 24x7 with the yearly holiday 01-01: 366 days from 2026-01-01 00:00
  ** CET (2025-12-31T23:00Z), the first day off: the clock starts on Jan 2
  ** 00:00 CET; 365 days of 2026 after Jan 1 end at 2027-01-01 00:00 CET,
  ** Jan 1 is off again, so one more day ends Jan 3 00:00 CET. */
  {"24x7 with a yearly holiday",
   {"Europe/Berlin", "24x7", "01-01", NULL},
   "2025-12-31T23:00:00Z", 365 * 24 * H, "2027-01-02T23:00:00Z"},
};


static void
test_calendar_add_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
    const add_case *t = &add_cases[i];
    pr_calendar *c = make_cal(&t->cal);
    int64_t due = 0;
    int rc = pr_cal_add(c, iso(t->start), t->seconds * 1000, &due);
    if (rc != PROMPTLY_OK) {
      fail_msg("%s: rc %d", t->name, rc);
    }
    assert_iso_equal(due, t->due, t->name);
    /* The inverse: exactly the target elapsed between start and due, and
    ** the due instant is business time. */
    int64_t el = -1;
    assert_int_equal(pr_cal_between(c, iso(t->start), due, &el), PROMPTLY_OK);
    assert_int_equal(el, t->seconds * 1000);
    assert_int_equal(pr_cal_is_open(c, due), 1);
    pr_calendar_free(c);
  }
}


/* --- Hand-checked cases: between ----------------------------------------- */

typedef struct between_case {
  const char *name;
  cal_desc cal;
  const char *a;
  const char *b;
  int64_t seconds;
} between_case;

static const between_case between_cases[] = {
  /* Fri 17:00 CET to Mon 13:00 CET: only Monday 09:00-13:00 counts. */
  {"weekend excluded", OFFICE_BERLIN,
   "2026-11-20T16:00:00Z", "2026-11-23T12:00:00Z", 4 * H},
  /* Within one opening: 10:00 to 10:00:30 CET. */
  {"seconds inside an opening", OFFICE_BERLIN,
   "2026-11-23T09:00:00Z", "2026-11-23T09:00:30Z", 30},
  /* Sat 00:00Z to Sun 00:00Z: closed all day. */
  {"closed span", OFFICE_BERLIN,
   "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z", 0},
  /* Empty span. */
  {"empty span", OFFICE_BERLIN,
   "2026-11-23T09:00:00Z", "2026-11-23T09:00:00Z", 0},
  /* Daily 01:00-05:00 Berlin from Sat 2026-03-28 00:00Z to Mon 00:00Z:
  ** Sat 01:00-05:00 CET = 00:00Z-04:00Z (4h); Sun 3h (spring-forward);
  ** Mon 01:00 CEST = Sun 23:00Z, one hour before the end: 8h. */
  {"berlin spring-forward weekend",
   {"Europe/Berlin", "mon-sun 01:00-05:00", NULL, NULL},
   "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z", 8 * H},
  /* 24x7 counts elapsed UTC time: New York's local day of 2026-03-08 is
  ** 23h long (05:00Z to Mon 04:00Z). */
  {"24x7 across spring-forward local day",
   {"America/New_York", "24x7", NULL, NULL},
   "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23 * H},
  /* Sunday-only in New York on 2026-03-08: 00:00 EST (05:00Z) to Mon
  ** 00:00 EDT (04:00Z) is 23h. */
  {"new york spring-forward sunday is 23h",
   {"America/New_York", "sun 00:00-24:00", NULL, NULL},
   "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z", 23 * H},
  /* New York in 2045 (first Sunday of November, 02:00 EDT -> 01:00 EST, as
  ** zdump shows): Sunday 2045-11-05 runs from 04:00Z to Mon 05:00Z, 25h. */
  {"new york 2045 fall-back sunday is 25h",
   {"America/New_York", "sun 00:00-24:00", NULL, NULL},
   "2045-11-04T00:00:00Z", "2045-11-07T00:00:00Z", 25 * H},
  /* Daily 01:00-02:00 in New York on 2026-11-01: both passes, 2h; the
  ** day before had 1h (05:00Z-06:00Z on Oct 31); a day from Oct 31
  ** 00:00Z to Nov 2 00:00Z therefore holds 3h. */
  {"new york repeated hour",
   {"America/New_York", "mon-sun 01:00-02:00", NULL, NULL},
   "2026-10-31T00:00:00Z", "2026-11-02T00:00:00Z", 3 * H},
  /* Sydney overnight sat 22:00-06:00 across spring-forward: 12:00Z to
  ** 19:00Z on 2026-10-03/04, 7h. */
  {"sydney overnight across spring-forward",
   {"Australia/Sydney", "sat 22:00-06:00", NULL, NULL},
   "2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z", 7 * H},
  /* Auckland overnight sat 20:00-04:00 across fall-back: 07:00Z-16:00Z on
  ** 2026-04-04, 9h. */
  {"auckland overnight across fall-back",
   {"Pacific/Auckland", "sat 20:00-04:00", NULL, NULL},
   "2026-04-04T00:00:00Z", "2026-04-05T00:00:00Z", 9 * H},
  /* Two openings a day in Kathmandu (+05:45): 09:00-12:00 and 13:00-17:30
  ** NPT = 7h30 a weekday; Mon 2026-11-23 00:00 NPT (Sun 18:15Z) to Sat
  ** 00:00 NPT (Fri 18:15Z) holds five days: 37h30. */
  {"kathmandu split day over a week",
   {"Asia/Kathmandu", "mon-fri 09:00-12:00, mon-fri 13:00-17:30", NULL,
    NULL},
   "2026-11-22T18:15:00Z", "2026-11-27T18:15:00Z", 37 * H + 30 * M},
  /* Fri 2026-12-25 as holiday kills Friday's overnight shift: 0h on the
  ** 25th and 26th. */
  {"overnight shift on a holiday",
   {"UTC", "fri 22:00-06:00", "2026-12-25", NULL},
   "2026-12-25T00:00:00Z", "2026-12-27T00:00:00Z", 0},
  /* With the holiday on Sat 26th instead the shift runs: Fri 22:00Z to
  ** Sat 06:00Z, 8h. */
  {"overnight shift into a holiday",
   {"UTC", "fri 22:00-06:00", "2026-12-26", NULL},
   "2026-12-25T00:00:00Z", "2026-12-27T00:00:00Z", 8 * H},
  /* 52 weeks of Mon-Fri 09:00-17:00 in Berlin: 2080h. */
  {"a year in berlin", OFFICE_BERLIN,
   "2027-01-04T00:00:00Z", "2028-01-03T00:00:00Z", 2080 * H},
  /* 2027 minus holidays.ics: 261 weekdays (2027 starts on a Friday and has
  ** 365 days: 52 weeks + Friday) less Memorial Day (Mon May 31) and
  ** Christmas (Sat) and Boxing Day (Sun) do not count, New Year 2027 is
  ** excluded by EXDATE: 260 days x 8h = 2080h. */
  {"a year with ics holidays",
   {"UTC", "mon-fri 09:00-17:00", NULL, "holidays.ics"},
   "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", 2080 * H},
  /* Ten years of 24x7 in Sydney: 2026-01-01 to 2036-01-01 is 3650 days
  ** plus the leap days of 2028 and 2032. */
  {"ten years of 24x7", {"Australia/Sydney", "24x7", NULL, NULL},
   "2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z", 3652 * 24 * H},
};


static void
test_calendar_between_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(between_cases) / sizeof(between_cases[0]);
       i++) {
    const between_case *t = &between_cases[i];
    pr_calendar *c = make_cal(&t->cal);
    int64_t el = -1;
    int rc = pr_cal_between(c, iso(t->a), iso(t->b), &el);
    if (rc != PROMPTLY_OK || el != t->seconds * 1000) {
      fail_msg("%s: rc %d, got %lld ms, want %lld s", t->name, rc,
               (long long)el, (long long)t->seconds);
    }
    pr_calendar_free(c);
  }
}


/* Local dates and business days (calendar_days.c), values by hand. */
static void
test_calendar_bdays(void **state)
{
  (void)state;
  cal_desc d = {"Europe/Berlin", "mon-thu 09:00-17:00, fri 09:00-13:00",
                NULL, NULL};
  pr_calendar *c = make_cal(&d);
  int64_t lo, hi, dur;
  /* 2026-10-25, the end of summer time: 25 hours, from 00:00 CEST
  ** (22:00Z the day before) to 00:00 CET (23:00Z). */
  assert_int_equal(pr_cal_local_day(c, iso("2026-10-25T12:00:00Z"), &lo, &hi),
                   PROMPTLY_OK);
  assert_int_equal(lo, iso("2026-10-24T22:00:00Z"));
  assert_int_equal(hi, iso("2026-10-25T23:00:00Z"));
  /* 23:30Z on the 24th is already the 25th in Berlin. */
  assert_int_equal(pr_cal_local_day(c, iso("2026-10-24T22:30:00Z"), &lo, &hi),
                   PROMPTLY_OK);
  assert_int_equal(lo, iso("2026-10-24T22:00:00Z"));
  /* Mon 2026-11-16 10:00 CET (09:00Z), 1h of Monday used: 1bd = 7h + 1h. */
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-16T09:00:00Z"), 1, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 8 * HOUR_MS);
  /* 3bd = 7h + Tue 8h + Wed 8h + 1h of Thursday. */
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-16T09:00:00Z"), 3, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 24 * HOUR_MS);
  /* Wed 15:00 CET, 6h used: 2bd = 2h + Thu 8h + min(6h, Fri's 4h). */
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-18T14:00:00Z"), 2, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 14 * HOUR_MS);
  /* Fri 12:00 CET, 3h of 4 used: 1bd = 1h + 3h of Monday. */
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-20T11:00:00Z"), 1, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 4 * HOUR_MS);
  /* Saturday, and Monday after closing: from the next opening, whole
  ** days. */
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-21T11:00:00Z"), 1, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 8 * HOUR_MS);
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-16T17:30:00Z"), 2, &dur),
                   PROMPTLY_OK);
  assert_int_equal(dur, 16 * HOUR_MS);
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-16T09:00:00Z"), 0, &dur),
                   PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_bdays(c, iso("2026-11-16T09:00:00Z"),
                                PR_CAL_MAX_BDAYS + 1, &dur),
                   PROMPTLY_EINVAL);
  pr_calendar_free(c);
}


/* Relative deadlines (calendar_days.c) and local times of day; values by
** hand.  Berlin, Mon-Fri 09:00-12:30 and 13:30-17:00 (7h a day), Thursday
** 2026-11-19 a holiday; 2026-11-16 is a Monday (CET = UTC+1). */
static void
test_calendar_deadline(void **state)
{
  (void)state;
  cal_desc d = {"Europe/Berlin", "mon-fri 09:00-12:30, mon-fri 13:30-17:00",
                "2026-11-19", NULL};
  pr_calendar *c = make_cal(&d);
  int64_t at, dur, due;
  const int64_t HR = HOUR_MS, MN = HOUR_MS / 60;
  /* Local times of day: 16:00 CET is 15:00Z, 16:00 CEST 14:00Z; 02:30 on
  ** 2026-03-29 does not exist (the gap's end, 03:00 CEST = 01:00Z); on
  ** 2026-10-25 it happens twice (the first, 02:30 CEST = 00:30Z). */
  assert_int_equal(pr_cal_local_at(c, iso("2026-11-16T09:00:00Z"), 16 * HR,
                                   &at), PROMPTLY_OK);
  assert_int_equal(at, iso("2026-11-16T15:00:00Z"));
  assert_int_equal(pr_cal_local_at(c, iso("2026-07-06T09:00:00Z"), 16 * HR,
                                   &at), PROMPTLY_OK);
  assert_int_equal(at, iso("2026-07-06T14:00:00Z"));
  assert_int_equal(pr_cal_local_at(c, iso("2026-03-29T12:00:00Z"),
                                   2 * HR + 30 * MN, &at), PROMPTLY_OK);
  assert_int_equal(at, iso("2026-03-29T01:00:00Z"));
  assert_int_equal(pr_cal_local_at(c, iso("2026-10-25T12:00:00Z"),
                                   2 * HR + 30 * MN, &at), PROMPTLY_OK);
  assert_int_equal(at, iso("2026-10-25T00:30:00Z"));
  /* From Mon 10:00 CET: Monday has 2h30m + 3h30m left.  Next business day
  ** at 16:00: + Tue 3h30m + 2h30m = 12h. */
  int64_t mon10 = iso("2026-11-16T09:00:00Z");
  assert_int_equal(pr_cal_deadline(c, mon10, 1, 16 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 12 * HR);
  assert_int_equal(pr_cal_add(c, mon10, dur, &due), PROMPTLY_OK);
  assert_int_equal(due, iso("2026-11-17T15:00:00Z"));
  /* At 08:00, before Tuesday opens: none of Tuesday's, 6h (due at its
  ** opening); at 13:00, in the break: Tuesday's morning, 9h30m; at 20:00,
  ** after the close: the whole Tuesday, 13h. */
  assert_int_equal(pr_cal_deadline(c, mon10, 1, 8 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 6 * HR);
  assert_int_equal(pr_cal_add(c, mon10, dur, &due), PROMPTLY_OK);
  assert_int_equal(due, iso("2026-11-17T08:00:00Z"));
  assert_int_equal(pr_cal_deadline(c, mon10, 1, 13 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 9 * HR + 30 * MN);
  assert_int_equal(pr_cal_deadline(c, mon10, 1, 20 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 13 * HR);
  /* End of business day: Monday's rest (6h) from 10:00; from 07:00, the
  ** whole Monday (7h); from 18:00, no time left: Tuesday's 7h. */
  assert_int_equal(pr_cal_deadline(c, mon10, 0, -1, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 6 * HR);
  assert_int_equal(pr_cal_deadline(c, iso("2026-11-16T06:00:00Z"), 0, -1,
                                   &dur), PROMPTLY_OK);
  assert_int_equal(dur, 7 * HR);
  assert_int_equal(pr_cal_deadline(c, iso("2026-11-16T17:00:00Z"), 0, -1,
                                   &dur), PROMPTLY_OK);
  assert_int_equal(dur, 7 * HR);
  /* The next business day after Monday 18:00 is Tuesday (the date counts,
  ** not the hour): 16:00 = Tuesday's 3h30m + 2h30m. */
  assert_int_equal(pr_cal_deadline(c, iso("2026-11-16T17:00:00Z"), 1, 16 * HR,
                                   &dur), PROMPTLY_OK);
  assert_int_equal(dur, 6 * HR);
  /* Wed 15:00 CET: the holiday is skipped, Friday 16:00 = 2h + 6h. */
  assert_int_equal(pr_cal_deadline(c, iso("2026-11-18T14:00:00Z"), 1, 16 * HR,
                                   &dur), PROMPTLY_OK);
  assert_int_equal(dur, 8 * HR);
  /* Saturday: the 2nd business day after it is Tuesday: Monday's 7h +
  ** Tuesday 09:00-12:00; end of 2 business days: 14h. */
  int64_t sat = iso("2026-11-21T11:00:00Z");
  assert_int_equal(pr_cal_deadline(c, sat, 2, 12 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 10 * HR);
  assert_int_equal(pr_cal_deadline(c, sat, 2, -1, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 14 * HR);
  /* Across the end of summer time: Fri 2026-10-23 10:00 CEST (08:00Z) to
  ** Mon 26 16:00 CET (15:00Z): 6h + 6h. */
  int64_t fri = iso("2026-10-23T08:00:00Z");
  assert_int_equal(pr_cal_deadline(c, fri, 1, 16 * HR, &dur), PROMPTLY_OK);
  assert_int_equal(dur, 12 * HR);
  assert_int_equal(pr_cal_add(c, fri, dur, &due), PROMPTLY_OK);
  assert_int_equal(due, iso("2026-10-26T15:00:00Z"));
  /* Bad arguments. */
  assert_int_equal(pr_cal_deadline(c, mon10, 0, 16 * HR, &dur),
                   PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_deadline(c, mon10, PR_CAL_MAX_BDAYS + 1, 16 * HR,
                                   &dur), PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_deadline(c, mon10, 1, 24 * HR, &dur),
                   PROMPTLY_EINVAL);
  pr_calendar_free(c);
}


static void
test_calendar_is_open(void **state)
{
  (void)state;
  cal_desc d = {"America/New_York", "mon-sun 02:00-03:00", NULL, NULL};
  pr_calendar *c = make_cal(&d);
  /* Sat 2026-03-07 02:30 EST = 07:30Z: open.  03:00 EST = 08:00Z: the
  ** closing instant is closed. */
  assert_int_equal(pr_cal_is_open(c, iso("2026-03-07T07:30:00Z")), 1);
  assert_int_equal(pr_cal_is_open(c, iso("2026-03-07T08:00:00Z")), 0);
  assert_int_equal(pr_cal_is_open(c, iso("2026-03-07T07:59:59.999Z")), 1);
  /* Sun 2026-03-08 06:59:59 EST is 01:59:59; the next instant is 03:00
  ** EDT: no instant of that day is open. */
  assert_int_equal(pr_cal_is_open(c, iso("2026-03-08T06:59:59Z")), 0);
  assert_int_equal(pr_cal_is_open(c, iso("2026-03-08T07:00:00Z")), 0);
  assert_string_equal(pr_calendar_tz(c), "America/New_York");
  pr_calendar_free(c);
}


/* --- Bad input ------------------------------------------------------------ */

typedef struct bad_hours {
  const char *open;
  const char *close;
  const char *msg;
} bad_hours;

static void
test_calendar_bad_hours(void **state)
{
  (void)state;
  static const bad_hours cases[] = {
    {"25:00", "26:00", "'25:00-26:00': hour out of range"},
    {"09:00", "25:00", "'09:00-25:00': hour out of range"},
    {"24:00", "06:00", "'24:00-06:00': an opening cannot start at 24:00"},
    {"09:60", "17:00", "'09:60-17:00': minute out of range"},
    {"09:00", "24:30", "'09:00-24:30': hour out of range"},
    {"9am", "17:00", "'9am-17:00': expected HH:MM-HH:MM"},
    {"09:00", "", "'09:00-': expected HH:MM-HH:MM"},
    {"0900", "1700", "'0900-1700': expected HH:MM-HH:MM"},
    {"09:00", "09:00", "'09:00-09:00': open and close are the same"},
    {"00:00", "00:00", "'00:00-00:00': open and close are the same"},
  };
  char err[256];
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new("UTC", &s, err, sizeof(err)), PROMPTLY_OK);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    err[0] = '\0';
    assert_int_equal(pr_cal_spec_add_hours(s, 1, cases[i].open,
                                           cases[i].close, err, sizeof(err)),
                     PROMPTLY_EINVAL);
    assert_string_equal(err, cases[i].msg);
  }
  assert_int_equal(pr_cal_spec_add_hours(s, 7, "09:00", "17:00", err,
                                         sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_spec_add_hours(s, -1, "09:00", "17:00", err,
                                         sizeof(err)),
                   PROMPTLY_EINVAL);
  /* Accepted edge forms. */
  assert_int_equal(pr_cal_spec_add_hours(s, 1, "9:00", "24:00", err,
                                         sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_spec_add_hours(s, 1, "23:59", "00:00", err,
                                         sizeof(err)),
                   PROMPTLY_OK);
  pr_cal_spec_free(s);
}


static void
test_calendar_bad_zone(void **state)
{
  (void)state;
  static const char *const zones[] = {
    "Mars/Base", "../../etc/passwd", "/etc/localtime", "Europe/Nowhere",
    "Local",
    /* Paths, ':' (GLib reads ":/path" as a file), POSIX TZ rules, empty or
    ** dotted components, a name too long: refused by syntax. */
    ":/etc/passwd", ":Europe/Berlin", "Europe/../../../etc/passwd",
    "Europe//Berlin", "Europe/Berlin/", "./UTC", ".UTC",
    "CET-1CEST,M3.5.0,M10.5.0/3", "<+03>-3", "Europe/Ber lin",
    "_Europe/Berlin",
    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  char err[256];
  for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
    pr_cal_spec *s = (pr_cal_spec *)&err;  /* must be cleared */
    assert_int_equal(pr_cal_spec_new(zones[i], &s, err, sizeof(err)),
                     PROMPTLY_EINVAL);
    assert_null(s);
    char want[128];
    snprintf(want, sizeof(want), "unknown time zone '%s'", zones[i]);
    assert_string_equal(err, want);
  }
  /* A control character is shown escaped, so the message is one line. */
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new("Europe/Berlin\nx", &s, err,
                                   sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_string_equal(err, "unknown time zone 'Europe/Berlin\\nx'");
  /* Real names of every shape still work. */
  static const char *const good[] = {"Europe/Berlin", "Etc/GMT+5",
                                     "America/Argentina/Buenos_Aires",
                                     "EST5EDT", "UTC", "Etc/GMT-14"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_true(pr_cal_zone_name_ok(good[i]));
    if (pr_cal_spec_new(good[i], &s, err, sizeof(err)) != PROMPTLY_OK) {
      fail_msg("%s: %s", good[i], err);
    }
    pr_cal_spec_free(s);
  }
  /* NULL and "" are UTC, not the process's zone. */
  pr_calendar *c;
  assert_int_equal(pr_cal_spec_new(NULL, &s, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(pr_cal_compile(s, &c, err, sizeof(err)), PROMPTLY_OK);
  assert_string_equal(pr_calendar_tz(c), "UTC");
  pr_calendar_free(c);
  pr_cal_spec_free(s);
}


typedef struct bad_holiday {
  const char *text;
  const char *msg;
} bad_holiday;

static void
test_calendar_bad_holidays(void **state)
{
  (void)state;
  static const bad_holiday cases[] = {
    {"2026-02-30", "'2026-02-30': no such date"},
    {"2027-02-29", "'2027-02-29': no such date"},
    {"2026-13-01", "'2026-13-01': no such date"},
    {"2026-04-31", "'2026-04-31': no such date"},
    {"2026-00-10", "'2026-00-10': no such date"},
    {"02-30", "'02-30': no such date"},
    {"*-11-31", "'*-11-31': no such date"},
    {"2026-12-31..2026-12-24", "'2026-12-31..2026-12-24': range is reversed"},
    {"2027-01-01..2026-12-31", "'2027-01-01..2026-12-31': range is reversed"},
    {"12-24..2027-01-01",
     "'12-24..2027-01-01': a range mixes a yearly and a dated day"},
    {"2026-1-5", "'2026-1-5': expected YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD or "
                 "MM-DD"},
    {"christmas", "'christmas': expected YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD "
                  "or MM-DD"},
    {"2026-12-24..", "'2026-12-24..': expected YYYY-MM-DD, "
                     "YYYY-MM-DD..YYYY-MM-DD or MM-DD"},
    {"2026-12-24 ", "'2026-12-24 ': expected YYYY-MM-DD, "
                    "YYYY-MM-DD..YYYY-MM-DD or MM-DD"},
    {"", "'': expected YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD or MM-DD"},
  };
  char err[256];
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new("UTC", &s, err, sizeof(err)), PROMPTLY_OK);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    err[0] = '\0';
    assert_int_equal(pr_cal_spec_add_holiday(s, cases[i].text, err,
                                             sizeof(err)),
                     PROMPTLY_EINVAL);
    assert_string_equal(err, cases[i].msg);
  }
  /* Leap days are fine where they exist. */
  assert_int_equal(pr_cal_spec_add_holiday(s, "2028-02-29", err, sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_spec_add_holiday(s, "02-29", err, sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_spec_add_holiday(s, "2026-12-24..2026-12-24", err,
                                           sizeof(err)),
                   PROMPTLY_OK);
  pr_cal_spec_free(s);
}


/* A FIFO, a device, a folder, a file over the size limit, a symbolic
** link out of the folder: each refused at once, nothing read. */
static void
test_calendar_ics_only_regular_files_inside(void **state)
{
  (void)state;
  char dir[] = "/tmp/pr-cal-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], err[512];
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new("UTC", &s, err, sizeof(err)), PROMPTLY_OK);

  snprintf(path, sizeof(path), "%s/fifo.ics", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  time_t t0 = time(NULL);
  assert_int_equal(pr_cal_spec_add_ics(s, path, err, sizeof(err)),
                   PROMPTLY_EIO);
  assert_true(time(NULL) - t0 < 30); /* never waits for a writer */
  assert_non_null(strstr(err, "fifo.ics': not a regular file"));
  assert_int_equal(pr_cal_spec_add_ics(s, "/dev/zero", err, sizeof(err)),
                   PROMPTLY_EIO);
  assert_string_equal(err, "'/dev/zero': not a regular file");
  assert_int_equal(pr_cal_spec_add_ics(s, dir, err, sizeof(err)),
                   PROMPTLY_EIO);

  snprintf(path, sizeof(path), "%s/big.ics", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), (off_t)PR_CAL_ICS_MAX + 1), 0);
  fclose(f);
  assert_int_equal(pr_cal_spec_add_ics(s, path, err, sizeof(err)),
                   PROMPTLY_EIO);
  assert_non_null(strstr(err, "big.ics': too large (4194305 bytes, at most "
                              "4194304)"));

  /* Inside the folder: a link out is refused, named as the rules named
  ** it; a link that stays inside is followed. */
  char link[256], ok[256], src[1024];
  snprintf(link, sizeof(link), "%s/out.ics", dir);
  assert_int_equal(symlink("/etc/passwd", link), 0);
  assert_int_equal(pr_cal_spec_add_ics_in(s, dir, "out.ics", err,
                                          sizeof(err)),
                   PROMPTLY_EIO);
  assert_string_equal(err, "'out.ics': leads outside the rules folder (to "
                           "'/etc/passwd')");
  assert_int_equal(pr_cal_spec_add_ics_in(s, dir, "fifo.ics", err,
                                          sizeof(err)),
                   PROMPTLY_EIO);
  assert_string_equal(err, "'fifo.ics': not a regular file");
  fixture("holidays.ics", src, sizeof(src));
  snprintf(ok, sizeof(ok), "%s/in.ics", dir);
  FILE *in = fopen(src, "rb");
  FILE *out = fopen(ok, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), in)) > 0) {
    assert_int_equal(fwrite(buf, 1, got, out), got);
  }
  fclose(in);
  fclose(out);
  snprintf(link, sizeof(link), "%s/alias.ics", dir);
  assert_int_equal(symlink("in.ics", link), 0);
  if (pr_cal_spec_add_ics_in(s, dir, "alias.ics", err, sizeof(err)) !=
      PROMPTLY_OK) {
    fail_msg("%s", err);
  }
  pr_cal_spec_free(s);

  const char *names[] = {"fifo.ics", "big.ics", "out.ics", "in.ics",
                         "alias.ics"};
  for (size_t i = 0; i < 5; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}


static void
test_calendar_bad_ics(void **state)
{
  (void)state;
  char err[512], path[1024], want[1100];
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new("UTC", &s, err, sizeof(err)), PROMPTLY_OK);

  fixture("missing.ics", path, sizeof(path));
  assert_int_equal(pr_cal_spec_add_ics(s, path, err, sizeof(err)),
                   PROMPTLY_EIO);
  snprintf(want, sizeof(want), "'%s': No such file or directory", path);
  assert_string_equal(err, want);

  fixture("not-ical.ics", path, sizeof(path));
  assert_int_equal(pr_cal_spec_add_ics(s, path, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  snprintf(want, sizeof(want), "'%s': not iCalendar", path);
  assert_string_equal(err, want);

  fixture("hourly.ics", path, sizeof(path));
  assert_int_equal(pr_cal_spec_add_ics(s, path, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  snprintf(want, sizeof(want),
           "'%s': event 1: a holiday repeats daily at most often", path);
  assert_string_equal(err, want);

  /* A failed import adds nothing: the calendar stays open on 2026-12-25,
  ** a Friday. */
  pr_calendar *c;
  assert_int_equal(pr_cal_spec_add_hours(s, PR_MON + 4, "09:00", "17:00", err,
                                         sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_compile(s, &c, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(pr_cal_is_open(c, iso("2026-12-25T10:00:00Z")), 1);
  pr_calendar_free(c);
  pr_cal_spec_free(s);
}


static void
test_calendar_never_due(void **state)
{
  (void)state;
  char err[256];
  pr_cal_spec *s;
  pr_calendar *c;
  int64_t due = 42, el = 42;

  /* No opening at all. */
  assert_int_equal(pr_cal_spec_new("Europe/Berlin", &s, err, sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_compile(s, &c, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(pr_cal_add(c, iso("2026-01-01T00:00:00Z"), 0, &due),
                   PROMPTLY_ERANGE);
  assert_int_equal(due, 42);
  assert_int_equal(pr_cal_between(c, iso("2026-01-01T00:00:00Z"),
                                  iso("2027-01-01T00:00:00Z"), &el),
                   PROMPTLY_OK);
  assert_int_equal(el, 0);
  assert_int_equal(pr_cal_is_open(c, iso("2026-01-01T00:00:00Z")), 0);
  pr_calendar_free(c);

  /* Openings, but every day for 150 years a holiday: never due within 100
  ** years, found without looping for ever. */
  assert_int_equal(pr_cal_spec_add_hours(s, PR_MON, "09:00", "17:00", err,
                                         sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_spec_add_holiday(s, "2026-01-01..2175-12-31", err,
                                           sizeof(err)),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_compile(s, &c, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(pr_cal_add(c, iso("2026-06-01T00:00:00Z"), 0, &due),
                   PROMPTLY_ERANGE);
  /* But a start whose next opening is within 100 years is due. */
  assert_int_equal(pr_cal_add(c, iso("2126-06-01T00:00:00Z"), 0, &due),
                   PROMPTLY_OK);
  assert_iso_equal(due, "2176-01-01T08:00:00Z", "after the long holiday");
  pr_calendar_free(c);
  pr_cal_spec_free(s);
}


static void
test_calendar_absurd_input(void **state)
{
  (void)state;
  cal_desc d = OFFICE_BERLIN;
  pr_calendar *c = make_cal(&d);
  int64_t due = 0, el = 0, t = iso("2026-11-23T08:00:00Z");
  assert_int_equal(pr_cal_add(c, t, -1, &due), PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_between(c, t, t - 1, &el), PROMPTLY_EINVAL);
  assert_int_equal(pr_cal_add(c, t, INT64_MAX, &due), PROMPTLY_ERANGE);
  assert_int_equal(pr_cal_add(c, INT64_MIN, 0, &due), PROMPTLY_ERANGE);
  assert_int_equal(pr_cal_add(c, PR_CAL_MAX_MS, 0, &due), PROMPTLY_ERANGE);
  assert_int_equal(pr_cal_between(c, PR_CAL_MIN_MS - 1, t, &el),
                   PROMPTLY_ERANGE);
  assert_int_equal(pr_cal_between(c, t, INT64_MAX, &el), PROMPTLY_ERANGE);
  assert_int_equal(pr_cal_is_open(c, INT64_MAX), PROMPTLY_ERANGE);
  /* A target that runs past the last supported instant. */
  assert_int_equal(pr_cal_add(c, iso("2899-06-01T00:00:00Z"),
                              INT64_C(2000) * 3600 * 1000, &due),
                   PROMPTLY_ERANGE);
  /* Eight centuries of office hours from 2026 end in the 2820s: the cache
  ** grows by half its size each time, also as it nears the end of the
  ** range (it once grew two days at a time there and took 20 s). */
  int64_t n800 = INT64_C(800) * 2080 * 3600 * 1000;
  assert_int_equal(pr_cal_add(c, t, n800, &due), PROMPTLY_OK);
  assert_int_equal(pr_cal_between(c, t, due, &el), PROMPTLY_OK);
  assert_int_equal(el, n800);
  assert_true(due > iso("2800-01-01T00:00:00Z"));
  /* The ends of the range work. */
  assert_int_equal(pr_cal_add(c, iso("1800-01-01T00:00:00Z"), 0, &due),
                   PROMPTLY_OK);
  assert_int_equal(pr_cal_add(c, iso("2899-12-01T00:00:00Z"), 0, &due),
                   PROMPTLY_OK);
  pr_calendar_free(c);
}


/* --- The exported ABI ------------------------------------------------------ */

static int
abi_open(const promptly_attr *spec, uint32_t n, promptly_calendar **out,
         char *err, size_t errlen)
{
  memset(err, 0, errlen);
  *out = (promptly_calendar *)err;  /* must be cleared on failure */
  int rc = promptly_calendar_open(spec, n, out, err, errlen);
  if (rc != PROMPTLY_OK) {
    assert_null(*out);
  }
  return rc;
}


static void
test_calendar_abi_round_trip(void **state)
{
  (void)state;
  char path[1024], err[256];
  const promptly_attr spec[] = {
    {"tz", "Europe/Berlin"},
    {"mon", "09:00-17:00"},
    {"tue", "09:00-12:00"},
    {"tue", "13:00-17:00"},
    {"wed", "09:00-17:00"},
    {"thu", "09:00-17:00"},
    {"fri", "09:00-17:00"},
    {"holiday", "2026-12-24..2026-12-26"},
    {"holiday", "*-01-01"},
    {"ics", fixture("holidays.ics", path, sizeof(path))},
  };
  promptly_calendar *cal;
  assert_int_equal(abi_open(spec, 10, &cal, err, sizeof(err)), PROMPTLY_OK);
  /* Fri 17:00 CET (16:00Z) + 4h in seconds = Mon 13:00 CET = 12:00Z. */
  int64_t due = 0, el = 0;
  assert_int_equal(promptly_calendar_add(cal, iso("2026-11-20T16:00:00Z"),
                                         4 * 3600, &due),
                   PROMPTLY_OK);
  assert_iso_equal(due, "2026-11-23T12:00:00Z", "abi friday");
  /* Mon 16:00 CET + 2h: 1h Monday, Tuesday 09:00-10:00 (12:00-13:00 is
  ** lunch, not reached). */
  assert_int_equal(promptly_calendar_add(cal, iso("2026-11-23T15:00:00Z"),
                                         2 * 3600, &due),
                   PROMPTLY_OK);
  assert_iso_equal(due, "2026-11-24T09:00:00Z", "abi split day");
  /* Tuesday 11:00 to 14:00 CET holds 2h (the lunch hour is closed). */
  assert_int_equal(promptly_calendar_between(cal, iso("2026-11-24T10:00:00Z"),
                                             iso("2026-11-24T13:00:00Z"),
                                             &el),
                   PROMPTLY_OK);
  assert_int_equal(el, 2 * HOUR_MS);
  /* The retreat from holidays.ics (Wed 18 - Fri 20 Nov) counts for
  ** nothing. */
  assert_int_equal(promptly_calendar_between(cal, iso("2026-11-18T00:00:00Z"),
                                             iso("2026-11-21T00:00:00Z"),
                                             &el),
                   PROMPTLY_OK);
  assert_int_equal(el, 0);
  assert_int_equal(promptly_calendar_add(cal, 0, -1, &due), PROMPTLY_EINVAL);
  assert_int_equal(promptly_calendar_add(cal, 0, INT64_MAX, &due),
                   PROMPTLY_ERANGE);
  assert_int_equal(promptly_calendar_add(NULL, 0, 0, &due), PROMPTLY_EINVAL);
  assert_int_equal(promptly_calendar_add(cal, 0, 0, NULL), PROMPTLY_EINVAL);
  assert_int_equal(promptly_calendar_between(cal, 1, 0, &el),
                   PROMPTLY_EINVAL);
  promptly_calendar_close(cal);
  promptly_calendar_close(NULL);

  /* 24x7, and the default zone is UTC. */
  const promptly_attr all[] = {{"24x7", ""}};
  assert_int_equal(abi_open(all, 1, &cal, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(promptly_calendar_add(cal, iso("2026-03-29T00:30:00Z"),
                                         3600, &due),
                   PROMPTLY_OK);
  assert_iso_equal(due, "2026-03-29T01:30:00Z", "abi 24x7");
  promptly_calendar_close(cal);

  /* No opening: never due. */
  assert_int_equal(abi_open(spec, 1, &cal, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(promptly_calendar_add(cal, 0, 0, &due), PROMPTLY_ERANGE);
  promptly_calendar_close(cal);
}


typedef struct abi_bad {
  promptly_attr pair;
  int rc;
  const char *msg;
} abi_bad;

static void
test_calendar_abi_errors_name_the_pair(void **state)
{
  (void)state;
  static const abi_bad cases[] = {
    {{"tue", "25:00-26:00"}, PROMPTLY_EINVAL,
     "tue: '25:00-26:00': hour out of range"},
    {{"wed", "09:00-09:00"}, PROMPTLY_EINVAL,
     "wed: '09:00-09:00': open and close are the same"},
    {{"mon", "0900"}, PROMPTLY_EINVAL, "mon: '0900': expected HH:MM-HH:MM"},
    {{"mon", "09:00-12:00-13:00"}, PROMPTLY_EINVAL,
     "mon: '09:00-12:00-13:00': expected HH:MM-HH:MM"},
    {{"tz", "Mars/Base"}, PROMPTLY_EINVAL,
     "tz: unknown time zone 'Mars/Base'"},
    {{"holiday", "2026-02-30"}, PROMPTLY_EINVAL,
     "holiday: '2026-02-30': no such date"},
    {{"holiday", "2026-12-31..2026-12-24"}, PROMPTLY_EINVAL,
     "holiday: '2026-12-31..2026-12-24': range is reversed"},
    {{"moon", "09:00-17:00"}, PROMPTLY_EINVAL,
     "'moon': unknown name (expected tz, mon..sun, 24x7, holiday or ics)"},
    {{"sat", NULL}, PROMPTLY_EINVAL, "sat: no value"},
    {{NULL, "x"}, PROMPTLY_EINVAL, "pair 2: no name"},
  };
  char err[512], path[1024], want[1200];
  promptly_calendar *cal;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    promptly_attr spec[2] = {{"mon", "09:00-17:00"}, cases[i].pair};
    assert_int_equal(abi_open(spec, 2, &cal, err, sizeof(err)), cases[i].rc);
    assert_string_equal(err, cases[i].msg);
  }
  promptly_attr twice[] = {{"tz", "UTC"}, {"tz", "Europe/Berlin"}};
  assert_int_equal(abi_open(twice, 2, &cal, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_string_equal(err,
                      "tz: 'Europe/Berlin': a calendar has one time zone");
  promptly_attr ics[] = {{"ics", fixture("missing.ics", path, sizeof(path))}};
  assert_int_equal(abi_open(ics, 1, &cal, err, sizeof(err)), PROMPTLY_EIO);
  snprintf(want, sizeof(want), "ics: '%s': No such file or directory", path);
  assert_string_equal(err, want);
  assert_int_equal(promptly_calendar_open(NULL, 1, &cal, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_int_equal(promptly_calendar_open(ics, 1, NULL, err, sizeof(err)),
                   PROMPTLY_EINVAL);
}


/* --- Cache paths: answers do not depend on query order ------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
  /* splitmix64 */
  uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}


/* Uniform in [lo, hi]. */
static int64_t
rnd_in(int64_t lo, int64_t hi)
{
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}


static void
test_calendar_long_spans_consistent(void **state)
{
  (void)state;
  rng_state = 7;
  cal_desc descs[] = {
    {"Europe/Berlin", "mon-fri 09:00-12:30, mon-fri 13:30-17:00",
     "2027-12-24..2028-01-01 *-05-01", NULL},
    {"America/New_York", "sat 22:00-06:00, sun 01:00-03:00", "07-04", NULL},
    {"Pacific/Chatham", "mon-sun 02:00-04:00", NULL, "holidays.ics"},
  };
  for (size_t k = 0; k < sizeof(descs) / sizeof(descs[0]); k++) {
    for (int i = 0; i < 60; i++) {
      /* Query a fresh calendar and one warmed far away (so its cache has
      ** been grown, or restarted, in another order). */
      pr_calendar *fresh = make_cal(&descs[k]);
      pr_calendar *warm = make_cal(&descs[k]);
      int64_t base = iso("2026-01-01T00:00:00Z");
      int64_t a = base + rnd_in(-5 * 365, 5 * 365) * DAY_MS +
                  rnd_in(0, DAY_MS - 1);
      int64_t b = a + rnd_in(0, 3 * 365) * DAY_MS + rnd_in(0, DAY_MS - 1);
      int64_t w = base + rnd_in(-20 * 365, 20 * 365) * DAY_MS, junk;
      assert_int_equal(pr_cal_between(warm, w, w + DAY_MS, &junk),
                       PROMPTLY_OK);
      int64_t e1, e2, mid = a + (b - a) / 3, e3, e4;
      assert_int_equal(pr_cal_between(fresh, a, b, &e1), PROMPTLY_OK);
      assert_int_equal(pr_cal_between(warm, a, b, &e2), PROMPTLY_OK);
      assert_int_equal(e1, e2);
      /* Additivity over a split point. */
      assert_int_equal(pr_cal_between(warm, a, mid, &e3), PROMPTLY_OK);
      assert_int_equal(pr_cal_between(fresh, mid, b, &e4), PROMPTLY_OK);
      assert_int_equal(e3 + e4, e1);
      /* add() inverts between(): the due instant of e1 - x is open and
      ** has exactly that much business time behind it. */
      int64_t n = e1 > 0 ? rnd_in(0, e1 - 1) : 0, d1, d2, back;
      assert_int_equal(pr_cal_add(warm, a, n, &d1), PROMPTLY_OK);
      assert_int_equal(pr_cal_add(fresh, a, n, &d2), PROMPTLY_OK);
      assert_int_equal(d1, d2);
      if (e1 > 0) {
        assert_true(d1 < b);
      }
      assert_int_equal(pr_cal_between(fresh, a, d1, &back), PROMPTLY_OK);
      assert_int_equal(back, n);
      assert_int_equal(pr_cal_is_open(warm, d1), 1);
      pr_calendar_free(fresh);
      pr_calendar_free(warm);
    }
  }
}


/* --- Property test against a brute-force oracle -------------------------- */

/* The oracle's own view of a calendar, built from the same random numbers
** as the spec text. */
typedef struct orc_cal {
  GTimeZone *tz;
  const pr_tzrule *rule;  /* after rule->after_s; NULL: GLib throughout */
  const char *tz_name;
  int all_week;
  int n_open[7];
  int32_t open_ms[7][3];
  int32_t close_ms[7][3];  /* > DAY_MS for an overnight shift */
  int n_dated;
  int64_t dated_lo[4];
  int64_t dated_hi[4];
  uint8_t yearly[12][31];
} orc_cal;

static const char *const prop_zones[] = {
  "Europe/Berlin",      "America/New_York", "Australia/Sydney",
  "Pacific/Auckland",   "Asia/Kolkata",     "Asia/Kathmandu",
  "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns",
  "Europe/London",      "UTC",              "America/Sao_Paulo",
  "Africa/Casablanca",  "Asia/Tehran",      "America/Santiago",
  "Australia/Adelaide", "Europe/Dublin",    "Antarctica/Troll",
  "America/Havana",     "Asia/Gaza",
};
#define N_PROP_ZONES (sizeof(prop_zones) / sizeof(prop_zones[0]))

static GTimeZone *prop_tz[N_PROP_ZONES];
static pr_tzrule prop_rule[N_PROP_ZONES];
static int prop_has_rule[N_PROP_ZONES];


/* The zone's offset (seconds) at UTC second t, as the module reads a zone:
** GLib up to the TZif file's last transition, its footer rule after it
** (GLib gets Dublin's negative saving wrong after 2037; tzrule.h).  The
** offsets themselves are checked against an independent reader, Python's
** zoneinfo, in every zone by test_tzscan.sh; this oracle checks the
** calendar arithmetic on top of them. */
static int32_t
orc_offset(GTimeZone *tz, const pr_tzrule *rule, int64_t t)
{
  if (rule != NULL && t >= rule->after_s) {
    return pr_tzrule_offset(rule, t);
  }
  return g_time_zone_get_offset(
    tz, g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t));
}


static int
orc_holiday(const orc_cal *o, int64_t day)
{
  for (int i = 0; i < o->n_dated; i++) {
    if (day >= o->dated_lo[i] && day <= o->dated_hi[i]) {
      return 1;
    }
  }
  int64_t y;
  unsigned m, d;
  pr_civil_from_days(day, &y, &m, &d);
  return o->yearly[m - 1][d - 1];
}


/* Whether UTC instant t is business time: the local wall-clock reading of
** t, by GLib's offset at t, inside an opening of its day or an overnight
** opening of the day before, neither a holiday. */
static int
orc_open(const orc_cal *o, int64_t t)
{
  int64_t local =
    t + (int64_t)orc_offset(o->tz, o->rule, floor_div(t, 1000)) * 1000;
  int64_t day = floor_div(local, DAY_MS);
  int64_t tod = local - day * DAY_MS;
  int w = (int)(((day + 3) % 7 + 7) % 7);
  int wp = (w + 6) % 7;
  if (!orc_holiday(o, day)) {
    if (o->all_week) {
      return 1;
    }
    for (int i = 0; i < o->n_open[w]; i++) {
      if (tod >= o->open_ms[w][i] && tod < o->close_ms[w][i]) {
        return 1;
      }
    }
  }
  if (!o->all_week && !orc_holiday(o, day - 1)) {
    for (int i = 0; i < o->n_open[wp]; i++) {
      if (o->close_ms[wp][i] > DAY_MS && tod + DAY_MS < o->close_ms[wp][i]) {
        return 1;
      }
    }
  }
  return 0;
}


typedef struct orc_segs {
  int64_t *beg;
  int64_t *end;
  size_t n;
  size_t cap;
} orc_segs;


/* Walk [a, b) in steps that end on whole UTC minutes: within a minute
** nothing changes (openings are whole local minutes and every offset of
** these zones since 1970 is whole minutes), so the walk is exact even for
** starts and ends to the millisecond. */
static void
orc_walk(const orc_cal *o, int64_t a, int64_t b, orc_segs *s)
{
  s->n = 0;
  for (int64_t u = a; u < b;) {
    int64_t v = (floor_div(u, MIN_MS) + 1) * MIN_MS;
    if (v > b) {
      v = b;
    }
    if (orc_open(o, u)) {
      if (s->n > 0 && s->end[s->n - 1] == u) {
        s->end[s->n - 1] = v;
      } else {
        if (s->n == s->cap) {
          s->cap = s->cap != 0 ? s->cap * 2 : 64;
          s->beg = realloc(s->beg, s->cap * sizeof(int64_t));
          s->end = realloc(s->end, s->cap * sizeof(int64_t));
          assert_non_null(s->beg);
          assert_non_null(s->end);
        }
        s->beg[s->n] = u;
        s->end[s->n] = v;
        s->n++;
      }
    }
    u = v;
  }
}


/* Business time of the walk within [x, y). */
static int64_t
orc_between(const orc_segs *s, int64_t x, int64_t y)
{
  int64_t sum = 0;
  for (size_t i = 0; i < s->n; i++) {
    int64_t b = s->beg[i] > x ? s->beg[i] : x;
    int64_t e = s->end[i] < y ? s->end[i] : y;
    if (e > b) {
      sum += e - b;
    }
  }
  return sum;
}


/* The due instant of n from x, if it lies within the walk; else -1. */
static int64_t
orc_add(const orc_segs *s, int64_t x, int64_t n)
{
  int64_t acc = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->end[i] <= x) {
      continue;
    }
    int64_t b = s->beg[i] > x ? s->beg[i] : x;
    int64_t len = s->end[i] - b;
    if (acc + len > n) {
      return b + (n - acc);
    }
    acc += len;
  }
  return -1;
}


static void
fmt_hhmm(int32_t ms, char out[8])
{
  int mins = (int)(ms / MIN_MS);
  snprintf(out, 8, "%02d:%02d", mins / 60 % 100, mins % 60);
}


/* A UTC instant near a change of offset in the given year, found by
** scanning GLib day by day; -1 if the zone has none that year. */
static int64_t
orc_near_transition(GTimeZone *tz, const pr_tzrule *rule, int64_t year)
{
  int64_t d0 = pr_days_from_civil(year, 1, 1), found[8];
  int n = 0;
  int32_t prev = orc_offset(tz, rule, d0 * 86400);
  for (int64_t d = d0 + 1; d < d0 + 366 && n < 8; d++) {
    int32_t off = orc_offset(tz, rule, d * 86400);
    if (off != prev) {
      found[n++] = d;
    }
    prev = off;
  }
  if (n == 0) {
    return -1;
  }
  return (found[rnd() % (uint64_t)n] - 1) * DAY_MS + rnd_in(0, DAY_MS - 1);
}


typedef struct prop_stats {
  long cases;
  long checks;
  long mismatches;
} prop_stats;


static void
prop_report(prop_stats *st, const orc_cal *o, const char *what, int64_t x,
            int64_t y, int64_t got, int64_t want, const char *spec_text)
{
  st->mismatches++;
  if (st->mismatches <= 10) {
    char xs[PR_ISO_LEN], ys[PR_ISO_LEN];
    pr_iso_format(x, xs);
    pr_iso_format(y, ys);
    print_message("MISMATCH %s in %s [%s]: x=%s y=%s got %lld want %lld\n",
                  what, o->tz_name, spec_text, xs, ys, (long long)got,
                  (long long)want);
  }
}


static void
prop_one(prop_stats *st, orc_segs *segs)
{
  char err[256], spec_text[1024], a[8], b[8];
  orc_cal o;
  memset(&o, 0, sizeof(o));
  size_t zi = (size_t)(rnd() % N_PROP_ZONES);
  o.tz = prop_tz[zi];
  o.rule = prop_has_rule[zi] ? &prop_rule[zi] : NULL;
  o.tz_name = prop_zones[zi];
  pr_cal_spec *s;
  assert_int_equal(pr_cal_spec_new(o.tz_name, &s, err, sizeof(err)),
                   PROMPTLY_OK);
  spec_text[0] = '\0';
  size_t sl = 0;

  /* Openings: 24x7 now and then; else random, many near the small hours
  ** where DST changes happen, some overnight, some up to 24:00. */
  if (rnd() % 25 == 0) {
    o.all_week = 1;
    pr_cal_spec_set_24x7(s);
    sl += (size_t)snprintf(spec_text + sl, sizeof(spec_text) - sl, "24x7 ");
  } else {
    for (int w = 0; w < 7; w++) {
      int r = (int)(rnd() % 100);
      int cnt = r < 30 ? 0 : r < 80 ? 1 : r < 95 ? 2 : 3;
      for (int i = 0; i < cnt; i++) {
        int open_min, len;
        int kind = (int)(rnd() % 10);
        if (kind < 3) {
          open_min = (int)rnd_in(0, 4) * 60 + (int)rnd_in(0, 3) * 15;
        } else if (kind < 5) {
          open_min = (int)rnd_in(0, 1439);
        } else {
          open_min = (int)rnd_in(0, 47) * 30;
        }
        kind = (int)(rnd() % 10);
        if (kind < 2) {
          len = 1440 - open_min;  /* to midnight: "24:00" */
        } else if (kind < 4) {
          len = (int)rnd_in(1, 1439);
        } else {
          len = (int)rnd_in(1, 16) * 30;
        }
        if (len <= 0 || len >= 1440) {
          len = 60;
        }
        int close_min = open_min + len;
        fmt_hhmm(open_min * (int32_t)MIN_MS, a);
        if (close_min == 1440) {
          strcpy(b, "24:00");
        } else {
          fmt_hhmm((close_min % 1440) * (int32_t)MIN_MS, b);
        }
        if (pr_cal_spec_add_hours(s, w, a, b, err, sizeof(err)) !=
            PROMPTLY_OK) {
          fail_msg("add_hours %s-%s: %s", a, b, err);
        }
        o.open_ms[w][o.n_open[w]] = open_min * (int32_t)MIN_MS;
        o.close_ms[w][o.n_open[w]] = close_min * (int32_t)MIN_MS;
        o.n_open[w]++;
        sl += (size_t)snprintf(spec_text + sl, sizeof(spec_text) - sl,
                               "%s %s-%s ", day_names[w], a, b);
      }
    }
  }

  /* The year and the start: clustered around DST changes and holidays. */
  int64_t year;
  int r = (int)(rnd() % 10);
  year = r < 7 ? rnd_in(2000, 2040) : r < 9 ? rnd_in(1975, 1999)
                                            : rnd_in(2041, 2100);
  int64_t y0 = pr_days_from_civil(year, 1, 1);
  int64_t start = (y0 + rnd_in(0, 364)) * DAY_MS + rnd_in(0, DAY_MS - 1);
  int mode = (int)(rnd() % 100);
  if (mode < 45) {
    int64_t t = orc_near_transition(o.tz, o.rule, year);
    if (t >= 0) {
      start = t + rnd_in(-3 * DAY_MS, 2 * DAY_MS);
    }
  } else if (mode < 55) {
    start = (pr_days_from_civil(year, 12, 31) + rnd_in(-4, 2)) * DAY_MS +
            rnd_in(0, DAY_MS - 1);
  }
  int64_t sday = floor_div(start, DAY_MS);

  /* Holidays near the start: dates, ranges (some across a year end),
  ** yearly days and a yearly range. */
  int n_hol = (int)rnd_in(0, 4);
  for (int i = 0; i < n_hol; i++) {
    char text[64];
    int kind = (int)(rnd() % 4);
    int64_t lo = sday + rnd_in(-3, 6), hi = lo;
    int64_t y1, y2;
    unsigned m1, d1, m2, d2;
    if (kind == 1) {
      hi = lo + rnd_in(1, 9);
    }
    pr_civil_from_days(lo, &y1, &m1, &d1);
    pr_civil_from_days(hi, &y2, &m2, &d2);
    if (kind == 0) {
      snprintf(text, sizeof(text), "%04lld-%02u-%02u", (long long)y1, m1, d1);
    } else if (kind == 1) {
      snprintf(text, sizeof(text), "%04lld-%02u-%02u..%04lld-%02u-%02u",
               (long long)y1, m1, d1, (long long)y2, m2, d2);
    } else if (kind == 2) {
      snprintf(text, sizeof(text), "%s%02u-%02u", rnd() % 2 ? "*-" : "", m1,
               d1);
      o.yearly[m1 - 1][d1 - 1] = 1;
    } else {
      hi = lo + rnd_in(1, 4);
      pr_civil_from_days(hi, &y2, &m2, &d2);
      snprintf(text, sizeof(text), "%02u-%02u..%02u-%02u", m1, d1, m2, d2);
      for (int64_t d = lo; d <= hi; d++) {
        int64_t yy;
        unsigned mm, dd;
        pr_civil_from_days(d, &yy, &mm, &dd);
        o.yearly[mm - 1][dd - 1] = 1;
      }
    }
    if (kind <= 1 && o.n_dated < 4) {
      o.dated_lo[o.n_dated] = lo;
      o.dated_hi[o.n_dated] = hi;
      o.n_dated++;
    } else if (kind <= 1) {
      continue;
    }
    if (pr_cal_spec_add_holiday(s, text, err, sizeof(err)) != PROMPTLY_OK) {
      fail_msg("holiday %s: %s", text, err);
    }
    sl += (size_t)snprintf(spec_text + sl, sizeof(spec_text) - sl, "hol %s ",
                           text);
  }
  if (mode >= 55 && mode < 75 && o.n_dated > 0) {
    start = o.dated_lo[0] * DAY_MS + rnd_in(-2 * DAY_MS, 2 * DAY_MS);
  }

  pr_calendar *c;
  assert_int_equal(pr_cal_compile(s, &c, err, sizeof(err)), PROMPTLY_OK);
  pr_cal_spec_free(s);

  /* Whole minutes mostly, milliseconds sometimes. */
  int ms_level = rnd() % 4 == 0;
  if (!ms_level) {
    start = floor_div(start, MIN_MS) * MIN_MS;
  }
  r = (int)(rnd() % 100);
  int64_t span = r < 70 ? rnd_in(0, 2 * DAY_MS) : r < 95
                                                    ? rnd_in(0, 7 * DAY_MS)
                                                    : rnd_in(0, 21 * DAY_MS);
  if (!ms_level) {
    span = floor_div(span, MIN_MS) * MIN_MS;
  }
  int64_t end = start + span;

  /* Sometimes query far away first, so that the cache is grown backwards,
  ** forwards or restarted before the checks. */
  if (rnd() % 5 == 0) {
    int64_t w = start + rnd_in(-900, 900) * DAY_MS, junk;
    assert_int_equal(pr_cal_between(c, w, w + DAY_MS, &junk), PROMPTLY_OK);
  }

  orc_walk(&o, start, end, segs);
  int64_t total = orc_between(segs, start, end), got;
  st->checks++;
  if (pr_cal_between(c, start, end, &got) != PROMPTLY_OK || got != total) {
    prop_report(st, &o, "between", start, end, got, total, spec_text);
  }
  for (int k = 0; k < 3; k++) {
    int64_t x = rnd_in(start, end), y = rnd_in(x, end);
    if (!ms_level) {
      x = floor_div(x, MIN_MS) * MIN_MS;
      y = x + floor_div(y - x, MIN_MS) * MIN_MS;
    }
    int64_t want = orc_between(segs, x, y);
    st->checks++;
    if (pr_cal_between(c, x, y, &got) != PROMPTLY_OK || got != want) {
      prop_report(st, &o, "between", x, y, got, want, spec_text);
    }
    int64_t xo = rnd_in(start, end);
    if (xo < end) {
      int want_open = orc_open(&o, xo);
      st->checks++;
      if (pr_cal_is_open(c, xo) != want_open) {
        prop_report(st, &o, "is_open", xo, xo, !want_open, want_open,
                    spec_text);
      }
    }
  }
  /* add(): targets inside the walk, from the start and from inside. */
  for (int k = 0; k < 4 && total > 0; k++) {
    int64_t x = k == 0 ? start : rnd_in(start, end);
    if (!ms_level) {
      x = floor_div(x, MIN_MS) * MIN_MS;
    }
    int64_t avail = orc_between(segs, x, end);
    if (avail == 0) {
      continue;
    }
    int64_t n = rnd_in(0, avail - 1);
    if (!ms_level && rnd() % 4 != 0) {
      n = floor_div(n, MIN_MS) * MIN_MS;
    }
    int64_t want = orc_add(segs, x, n);
    st->checks++;
    if (pr_cal_add(c, x, n, &got) != PROMPTLY_OK || got != want) {
      prop_report(st, &o, "add", x, n, got, want, spec_text);
    }
  }
  /* A target used up exactly at a closing: due at the next opening. */
  if (segs->n >= 2) {
    size_t i = (size_t)(rnd() % (uint64_t)(segs->n - 1));
    int64_t n = orc_between(segs, start, segs->end[i]);
    int64_t want = segs->beg[i + 1];
    st->checks++;
    if (pr_cal_add(c, start, n, &got) != PROMPTLY_OK || got != want) {
      prop_report(st, &o, "add at close", start, n, got, want, spec_text);
    }
  }
  st->cases++;
  pr_calendar_free(c);
}


static void
test_calendar_property_oracle(void **state)
{
  (void)state;
  long cases = 20000;
  const char *env = getenv("PROMPTLY_PROPERTY_CASES");
  if (env != NULL && *env != '\0') {
    cases = strtol(env, NULL, 10);
  }
  uint64_t seed = UINT64_C(20261120);
  env = getenv("PROMPTLY_PROPERTY_SEED");
  if (env != NULL && strcmp(env, "random") == 0) {
    seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
  } else if (env != NULL && *env != '\0') {
    seed = strtoull(env, NULL, 10);
  }
  rng_state = seed;
  for (size_t i = 0; i < N_PROP_ZONES; i++) {
    prop_tz[i] = g_time_zone_new_identifier(prop_zones[i]);
    assert_non_null(prop_tz[i]);
    char path[256];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", prop_zones[i]);
    prop_has_rule[i] = pr_tzrule_load(path, &prop_rule[i]) == 0;
  }
  print_message("property: %ld random calendars, seed %llu "
                "(PROMPTLY_PROPERTY_CASES, PROMPTLY_PROPERTY_SEED)\n",
                cases, (unsigned long long)seed);
  prop_stats st = {0, 0, 0};
  orc_segs segs = {NULL, NULL, 0, 0};
  for (long i = 0; i < cases; i++) {
    prop_one(&st, &segs);
  }
  free(segs.beg);
  free(segs.end);
  for (size_t i = 0; i < N_PROP_ZONES; i++) {
    g_time_zone_unref(prop_tz[i]);
  }
  print_message("property: %ld calendars, %ld checks, %ld mismatches\n",
                st.cases, st.checks, st.mismatches);
  assert_int_equal(st.mismatches, 0);
  assert_int_equal(st.cases, cases);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_calendar_add_table),
    cmocka_unit_test(test_calendar_between_table),
    cmocka_unit_test(test_calendar_is_open),
    cmocka_unit_test(test_calendar_bdays),
    cmocka_unit_test(test_calendar_deadline),
    cmocka_unit_test(test_calendar_bad_hours),
    cmocka_unit_test(test_calendar_bad_zone),
    cmocka_unit_test(test_calendar_bad_holidays),
    cmocka_unit_test(test_calendar_bad_ics),
    cmocka_unit_test(test_calendar_ics_only_regular_files_inside),
    cmocka_unit_test(test_calendar_never_due),
    cmocka_unit_test(test_calendar_absurd_input),
    cmocka_unit_test(test_calendar_abi_round_trip),
    cmocka_unit_test(test_calendar_abi_errors_name_the_pair),
    cmocka_unit_test(test_calendar_long_spans_consistent),
    cmocka_unit_test(test_calendar_property_oracle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
