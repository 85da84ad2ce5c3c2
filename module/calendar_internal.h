/* calendar_internal.h - what the files of the business calendar share
** (calendar_spec.c: the rules a spec collects; calendar_ics.c: iCalendar
** holidays; calendar.c: compiling and the queries).  Not part of any
** interface: calendar.h is the calendar's.
**
** Invariants of the structs below: a cal_rules owns every pointer in it
** (cal_rules_clear frees them and zeroes it); hours[w] holds n_hours[w]
** openings of weekday w in the order added; ranges holds n_ranges pairs
** of inclusive days, sorted and disjoint once cal_rules_merge_ranges ran
** (a compiled calendar's always are); a pr_calendar's caches are
** described in calendar.c.
*/
#ifndef PR_CALENDAR_INTERNAL_H
#define PR_CALENDAR_INTERNAL_H

#include "calendar.h"
#include "promptly.h"
#include "tzrule.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>
#include <libical/ical.h>

#include <libical/ical.h>

#define DAY_MS        INT64_C(86400000)
#define CAL_MARGIN_MS (2 * DAY_MS)
#define CAL_MIN_DAY   (PR_CAL_MIN_MS / DAY_MS)
#define CAL_MAX_DAY   (PR_CAL_MAX_MS / DAY_MS)

/* Never due: nothing opens within this span after a start (100 years). */
#define CAL_NEVER_MS (INT64_C(36525) * DAY_MS)

/* The Gregorian calendar repeats itself, weekdays included, every 400
** years: this many days, exactly 20871 weeks. */
#define CAL_CYCLE_DAYS INT64_C(146097)

/* The interval cache grows by at least this many days at a time. */
#define CAL_GROW_DAYS 183

/* Instants further than this outside the cache restart it there. */
#define CAL_FAR_MS (INT64_C(731) * DAY_MS)

/* An opening of a weekday, in local milliseconds from the day's midnight.
** close_ms > open_ms; it exceeds a day for an overnight shift. */
typedef struct cal_span {
  int32_t open_ms;
  int32_t close_ms;
} cal_span;

/* A recurring iCalendar event: its first day, its length in days, its
** RRULE (date based: DTSTART and UNTIL reduced to dates) and its EXDATEs. */
typedef struct cal_event {
  struct icalrecurrencetype rule;
  struct icaltimetype dtstart;
  int64_t first_day;
  int64_t n_days;
  int64_t *exdates;  /* sorted days */
  size_t n_exdates;
} cal_event;

/* Everything a calendar is made of; a spec owns one, and compiling copies
** it into the calendar. */
typedef struct cal_rules {
  char *tz_name;
  GTimeZone *tz;
  pr_tzrule rule;    /* the zone after its file's last transition */
  int has_rule;      /* 0: GLib's answer throughout */
  cal_span *hours[7];
  size_t n_hours[7];
  size_t cap_hours[7];
  int all_week;
  int64_t *ranges;  /* pairs of inclusive days [lo, hi] */
  size_t n_ranges;
  size_t cap_ranges;
  uint8_t yearly[12][31];  /* [month - 1][day - 1] */
  cal_event *events;
  size_t n_events;
  size_t cap_events;
} cal_rules;

/* A stretch of UTC time with one offset: from at to the next one's at. */
typedef struct cal_seg {
  int64_t at;
  int32_t off_ms;
} cal_seg;

/* A calendar's expansion of one recurring event: its occurrences so far
** and the iterator that goes on from there. */
typedef struct cal_expand {
  icalrecur_iterator *it;
  int64_t *occ;  /* first days, increasing */
  size_t n;
  size_t cap;
  int done;
  size_t src;    /* past libical's horizon: occ[src] + CAL_CYCLE_DAYS next */
} cal_expand;

struct pr_cal_spec {
  cal_rules r;
};

struct pr_calendar {
  cal_rules r;
  int never_open;  /* no opening on any weekday */
  cal_expand *expand;  /* one per r.events */

  /* Zone segments, sorted; the table is known for [seg_lo, seg_hi). */
  cal_seg *seg;
  size_t n_seg;
  size_t cap_seg;
  int64_t seg_lo;
  int64_t seg_hi;

  /* Open intervals [beg[i], end[i]) of the local days [d_lo, d_hi). */
  int have_window;
  int64_t d_lo;
  int64_t d_hi;
  int64_t *beg;
  int64_t *end;
  int64_t *cend;
  size_t n;
  size_t cap;
};


/* --- Small helpers ------------------------------------------------------ */

static inline int64_t
floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}


/* Make room for need elements of size elem in *p (capacity *cap). */
static inline int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap) {
    return PROMPTLY_OK;
  }
  size_t ncap = *cap != 0 ? *cap : 8;
  while (ncap < need) {
    ncap *= 2;
  }
  void *np = realloc(*p, ncap * elem);
  if (np == NULL) {
    return PROMPTLY_ENOMEM;
  }
  *p = np;
  *cap = ncap;
  return PROMPTLY_OK;
}


static inline int
is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


static inline unsigned
days_in_month(int64_t y, unsigned m)
{
  static const unsigned dim[12] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}


/* ISO weekday of a day number, PR_MON (0) .. PR_SUN (6); day 0 was a
** Thursday. */
static inline int
weekday_of(int64_t day)
{
  return (int)(((day + 3) % 7 + 7) % 7);
}


/* Read exactly n decimal digits. */
static inline int
read_digits(const char **p, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char ch = (*p)[i];
    if (ch < '0' || ch > '9') {
      return -1;
    }
    v = v * 10 + (ch - '0');
  }
  *p += n;
  *out = v;
  return 0;
}


static inline int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}


static inline int64_t
ical_day(struct icaltimetype t)
{
  return pr_days_from_civil(t.year, (unsigned)t.month, (unsigned)t.day);
}


/* --- The rules of a spec (calendar_spec.c) ------------------------------ */

void cal_rules_clear(cal_rules *r);
int cal_rules_copy(const cal_rules *src, cal_rules *dst);
/* Add the inclusive day range [lo, hi] as a holiday; ENOMEM. */
int cal_rules_add_range(cal_rules *r, int64_t lo, int64_t hi);
void cal_rules_merge_ranges(cal_rules *r);

#endif /* PR_CALENDAR_INTERNAL_H */
