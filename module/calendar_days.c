/* calendar_days.c - business days: "3bd" means three openings' worth of
** the calendar's days, not 3 x 24 business hours.
**
** A business day is a local date (midnight to midnight in the calendar's
** zone, pr_cal_local_day) with business time in it.  From a start inside
** its day's business time, n business days end at the same share of the
** n-th business day after it, measured as business time already used
** that day ("Monday 10:00 + 2bd" = Wednesday 10:00 on a 09-17 calendar,
** whatever Tuesday's hours); from a start outside it (a weekend, after
** closing) they count from the next business day's opening, so that
** "Friday 18:00 + 1bd" is Monday's whole day, due Tuesday at the opening
** (a target used up at a close is due at the next opening, calendar.h).
** The answer is a business duration, so that a clock measured in business
** time against it is met or breached exactly at that instant.
**
** A relative deadline ("next business day 16:00", "end of business day")
** is the business time from the start to an instant of a target day: the
** n-th business day after the start's date, or for "end of business day"
** the start's own day while business time is left on it.  It too is
** answered as a business duration, for the same reason.
**
** Only the public calendar queries are used: each step is a binary search
** in the calendar's interval cache.
*/

#include "config.h"

#include "calendar.h"
#include "promptly.h"

#include <stdint.h>

#define DAY_MS INT64_C(86400000)
/* Local dates looked at for one business day before giving up: 100 years. */
#define SCAN_DAYS (100 * 366)

/* The next business day from instant at (its own date included): its UTC
** bounds and business length.  ERANGE if none within SCAN_DAYS. */
static int
next_bday(pr_calendar *c, int64_t at, int64_t *lo, int64_t *hi, int64_t *len)
{
  for (int i = 0; i < SCAN_DAYS; i++) {
    int rc = pr_cal_local_day(c, at, lo, hi);
    if (rc == PROMPTLY_OK) {
      rc = pr_cal_between(c, *lo, *hi, len);
    }
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    if (*len > 0) {
      return PROMPTLY_OK;
    }
    at = *hi;
  }
  return PROMPTLY_ERANGE;
}

int
pr_cal_bdays(pr_calendar *c, int64_t start_ms, uint32_t n, int64_t *dur_ms)
{
  if (c == NULL || dur_ms == NULL || n == 0 || n > PR_CAL_MAX_BDAYS) {
    return PROMPTLY_EINVAL;
  }
  int64_t lo, hi, len, used = 0;
  int rc = pr_cal_local_day(c, start_ms, &lo, &hi);
  if (rc == PROMPTLY_OK) {
    rc = pr_cal_between(c, lo, hi, &len);
  }
  if (rc == PROMPTLY_OK) {
    rc = pr_cal_between(c, lo, start_ms, &used);
  }
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (len == 0 || used == len) {
    /* Outside its day's business time: from the next business day. */
    used = 0;
    rc = next_bday(c, hi, &lo, &hi, &len);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
  }
  int64_t total = len - used;
  for (uint32_t k = 1; k <= n; k++) {
    rc = next_bday(c, hi, &lo, &hi, &len);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    total += k < n ? len : (used < len ? used : len);
  }
  *dur_ms = total;
  return PROMPTLY_OK;
}


int
pr_cal_deadline(pr_calendar *c, int64_t start_ms, uint32_t n, int64_t tod_ms,
                int64_t *dur_ms)
{
  if (c == NULL || dur_ms == NULL || n > PR_CAL_MAX_BDAYS ||
      tod_ms >= DAY_MS || (n == 0 && tod_ms >= 0)) {
    return PROMPTLY_EINVAL;
  }
  int64_t lo, hi, len;
  int rc = pr_cal_local_day(c, start_ms, &lo, &hi);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (n == 0) {
    int64_t left;
    rc = pr_cal_between(c, start_ms, hi, &left);
    if (rc == PROMPTLY_OK && left == 0) {
      rc = next_bday(c, hi, &lo, &hi, &len);
    }
  }
  for (uint32_t k = 0; rc == PROMPTLY_OK && k < n; k++) {
    rc = next_bday(c, hi, &lo, &hi, &len);
  }
  int64_t end = hi;
  if (rc == PROMPTLY_OK && tod_ms >= 0) {
    rc = pr_cal_local_at(c, lo, tod_ms, &end);
  }
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  if (end <= start_ms) {
    *dur_ms = 0;
    return PROMPTLY_OK;
  }
  return pr_cal_between(c, start_ms, end, dur_ms);
}
