/* calendar.c - business calendars compiled into UTC open intervals.
**
** A compiled calendar keeps two caches, both grown on demand:
**
** - zone segments: the zone's constant-offset stretches of UTC time, found
**   by asking GLib for the interval of an instant and searching for the
**   instants where that interval changes (GLib's interval index never
**   decreases as time goes on, so a search between two instants with the
**   same index may skip everything between them);
** - open intervals: the union of the UTC pieces of every opening of the
**   local days [d_lo, d_hi), sorted, with touching or overlapping pieces
**   merged, and cend[i] = business time up to the end of interval i.
**
** An instant's business status depends on the openings of its local day
** and of the day before (an overnight shift ends before the second day is
** out), and a UTC offset is less than CAL_MARGIN_MS in size (RFC 8536 caps
** it below 26 hours).  So the interval cache is exact for UTC instants in
** [valid_lo, valid_hi), see window_valid_*; outside it a piece may still
** be missing.
*/
#include "config.h"

#include "calendar.h"

#include "promptly.h"
#include "tzrule.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
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

static int64_t
floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}


/* Make room for need elements of size elem in *p (capacity *cap). */
static int
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


static int
is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


static unsigned
days_in_month(int64_t y, unsigned m)
{
  static const unsigned dim[12] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}


/* ISO weekday of a day number, PR_MON (0) .. PR_SUN (6); day 0 was a
** Thursday. */
static int
weekday_of(int64_t day)
{
  return (int)(((day + 3) % 7 + 7) % 7);
}


/* Read exactly n decimal digits. */
static int
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


/* --- Rules (the part shared by spec and calendar) ----------------------- */

static void
rules_clear(cal_rules *r)
{
  free(r->tz_name);
  if (r->tz != NULL) {
    g_time_zone_unref(r->tz);
  }
  for (int w = 0; w < 7; w++) {
    free(r->hours[w]);
  }
  free(r->ranges);
  for (size_t i = 0; i < r->n_events; i++) {
    free(r->events[i].exdates);
  }
  free(r->events);
  memset(r, 0, sizeof(*r));
}


static int
rules_copy(const cal_rules *src, cal_rules *dst)
{
  memset(dst, 0, sizeof(*dst));
  dst->tz_name = pr_strdup(src->tz_name);
  if (dst->tz_name == NULL) {
    goto fail;
  }
  dst->tz = g_time_zone_ref(src->tz);
  dst->rule = src->rule;
  dst->has_rule = src->has_rule;
  dst->all_week = src->all_week;
  memcpy(dst->yearly, src->yearly, sizeof(dst->yearly));
  for (int w = 0; w < 7; w++) {
    if (src->n_hours[w] == 0) {
      continue;
    }
    dst->hours[w] = malloc(src->n_hours[w] * sizeof(cal_span));
    if (dst->hours[w] == NULL) {
      goto fail;
    }
    memcpy(dst->hours[w], src->hours[w], src->n_hours[w] * sizeof(cal_span));
    dst->n_hours[w] = dst->cap_hours[w] = src->n_hours[w];
  }
  if (src->n_ranges > 0) {
    dst->ranges = malloc(src->n_ranges * 2 * sizeof(int64_t));
    if (dst->ranges == NULL) {
      goto fail;
    }
    memcpy(dst->ranges, src->ranges, src->n_ranges * 2 * sizeof(int64_t));
    dst->n_ranges = dst->cap_ranges = src->n_ranges;
  }
  if (src->n_events > 0) {
    dst->events = calloc(src->n_events, sizeof(cal_event));
    if (dst->events == NULL) {
      goto fail;
    }
    dst->cap_events = src->n_events;
    for (size_t i = 0; i < src->n_events; i++) {
      const cal_event *se = &src->events[i];
      cal_event *de = &dst->events[i];
      *de = *se;
      de->exdates = NULL;
      dst->n_events = i + 1;
      if (se->n_exdates > 0) {
        de->exdates = malloc(se->n_exdates * sizeof(int64_t));
        if (de->exdates == NULL) {
          goto fail;
        }
        memcpy(de->exdates, se->exdates, se->n_exdates * sizeof(int64_t));
      }
    }
  }
  return PROMPTLY_OK;

fail:
  rules_clear(dst);
  return PROMPTLY_ENOMEM;
}


static int
rules_add_range(cal_rules *r, int64_t lo, int64_t hi)
{
  if (grow((void **)&r->ranges, &r->cap_ranges, r->n_ranges + 1,
           2 * sizeof(int64_t)) != PROMPTLY_OK) {
    return PROMPTLY_ENOMEM;
  }
  r->ranges[2 * r->n_ranges] = lo;
  r->ranges[2 * r->n_ranges + 1] = hi;
  r->n_ranges++;
  return PROMPTLY_OK;
}


static int
cmp_range(const void *a, const void *b)
{
  const int64_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}


static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}


/* Sort the dated holiday ranges and merge those that overlap or touch, so
** that a binary search finds the one range that may hold a day. */
static void
rules_merge_ranges(cal_rules *r)
{
  if (r->n_ranges < 2) {
    return;
  }
  qsort(r->ranges, r->n_ranges, 2 * sizeof(int64_t), cmp_range);
  size_t k = 0;
  for (size_t i = 1; i < r->n_ranges; i++) {
    int64_t lo = r->ranges[2 * i], hi = r->ranges[2 * i + 1];
    if (lo <= r->ranges[2 * k + 1] + 1) {
      if (hi > r->ranges[2 * k + 1]) {
        r->ranges[2 * k + 1] = hi;
      }
    } else {
      k++;
      r->ranges[2 * k] = lo;
      r->ranges[2 * k + 1] = hi;
    }
  }
  r->n_ranges = k + 1;
}


/* --- Spec --------------------------------------------------------------- */

/* The footer rule of the zone's TZif file, read where GLib reads it
** ($TZDIR or /usr/share/zoneinfo); without one GLib answers throughout. */
static void
zone_rule(const char *name, cal_rules *r)
{
  const char *dir = g_getenv("TZDIR");
  char *path = g_build_filename(dir != NULL && dir[0] != '\0' ? dir :
                                "/usr/share/zoneinfo", name, NULL);
  r->has_rule = pr_tzrule_load(path, &r->rule) == 0;
  g_free(path);
}


int
pr_cal_zone_name_ok(const char *name)
{
  size_t n = strlen(name);
  if (n == 0 || n > PR_CAL_ZONE_NAME_MAX) {
    return 0;
  }
  /* Components of letters, digits and "_-+", separated by single '/';
  ** a component starts with a letter or digit ("Etc/GMT+5",
  ** "America/Argentina/Buenos_Aires", "EST5EDT"), so never "." or "..". */
  int start = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9');
    if (c == '/') {
      if (start) {
        return 0;
      }
      start = 1;
      continue;
    }
    if (start ? !alnum : !(alnum || c == '_' || c == '-' || c == '+')) {
      return 0;
    }
    start = 0;
  }
  return !start;
}


/* Whether the zone file GLib would read, if there is one, is a regular
** file (a FIFO there would block the loop for ever). */
static int
zone_file_ok(const char *name)
{
  if (strcmp(name, "UTC") == 0) {
    return 1; /* GLib makes UTC without a file */
  }
  const char *dir = getenv("TZDIR");
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s",
           dir != NULL && dir[0] != '\0' ? dir : "/usr/share/zoneinfo",
           name);
  struct stat st;
  if (stat(path, &st) != 0) {
    return 1; /* none there: GLib will say whether it knows the name */
  }
  return S_ISREG(st.st_mode);
}

int
pr_cal_spec_new(const char *tz, pr_cal_spec **out, char *err, size_t errlen)
{
  *out = NULL;
  const char *name = (tz == NULL || tz[0] == '\0') ? "UTC" : tz;
  /* GLib reads an identifier as a path under the zoneinfo folder, a path
  ** after ':', or a POSIX TZ rule: only a name of IANA syntax that is a
  ** regular file there gets that far. */
  if (!pr_cal_zone_name_ok(name) || !zone_file_ok(name)) {
    char shown[96];
    pr_text_line(name, strlen(name), shown, sizeof(shown));
    return pr_err(err, errlen, PROMPTLY_EINVAL, "unknown time zone '%s'",
                  shown);
  }
  GTimeZone *gtz = g_time_zone_new_identifier(name);
  if (gtz == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "unknown time zone '%s'",
                  name);
  }
  pr_cal_spec *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    g_time_zone_unref(gtz);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  s->r.tz = gtz;
  zone_rule(name, &s->r);
  s->r.tz_name = pr_strdup(name);
  if (s->r.tz_name == NULL) {
    pr_cal_spec_free(s);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  *out = s;
  return PROMPTLY_OK;
}


void
pr_cal_spec_free(pr_cal_spec *s)
{
  if (s == NULL) {
    return;
  }
  rules_clear(&s->r);
  free(s);
}


/* Parse "HH:MM" (or "H:MM") into milliseconds after midnight.  Returns 0,
** or -1 for a malformed time, -2 for an hour and -3 for a minute out of
** range.  "24:00" is accepted (the caller decides where it may stand). */
static int
parse_hhmm(const char *t, int32_t *ms)
{
  const char *p = t;
  int h, m;
  if (read_digits(&p, 2, &h) != 0) {
    p = t;
    if (read_digits(&p, 1, &h) != 0) {
      return -1;
    }
  }
  if (*p != ':') {
    return -1;
  }
  p++;
  if (read_digits(&p, 2, &m) != 0 || *p != '\0') {
    return -1;
  }
  if (h > 24 || (h == 24 && m != 0)) {
    return -2;
  }
  if (m > 59) {
    return -3;
  }
  *ms = (int32_t)((h * 60 + m) * 60000);
  return 0;
}


static const char *
hhmm_problem(int rc)
{
  switch (rc) {
  case -2: return "hour out of range";
  case -3: return "minute out of range";
  default: return "expected HH:MM-HH:MM";
  }
}


int
pr_cal_spec_add_hours(pr_cal_spec *s, int wday, const char *open,
                      const char *close, char *err, size_t errlen)
{
  if (wday < PR_MON || wday > PR_SUN) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "weekday %d out of range",
                  wday);
  }
  if (open == NULL || close == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "missing open or close");
  }
  int32_t o, c;
  int rc = parse_hhmm(open, &o);
  if (rc == 0) {
    rc = parse_hhmm(close, &c);
  }
  if (rc != 0) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s-%s': %s", open, close,
                  hhmm_problem(rc));
  }
  if (o == DAY_MS) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s-%s': an opening cannot start at 24:00", open, close);
  }
  if (o == c) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s-%s': open and close are the same", open, close);
  }
  if (c < o) {
    c += (int32_t)DAY_MS;  /* overnight: closes on the next day */
  }
  cal_rules *r = &s->r;
  if (grow((void **)&r->hours[wday], &r->cap_hours[wday], r->n_hours[wday] + 1,
           sizeof(cal_span)) != PROMPTLY_OK) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  r->hours[wday][r->n_hours[wday]].open_ms = o;
  r->hours[wday][r->n_hours[wday]].close_ms = c;
  r->n_hours[wday]++;
  return PROMPTLY_OK;
}


void
pr_cal_spec_set_24x7(pr_cal_spec *s)
{
  s->r.all_week = 1;
}


/* One side of a holiday: "YYYY-MM-DD" (dated), "MM-DD" or "*-MM-DD"
** (yearly).  Returns 0, -1 if malformed, -2 if no such date.  Consumes the
** text it read from *p. */
static int
parse_holiday_day(const char **p, int *yearly, int64_t *y, unsigned *m,
                  unsigned *d)
{
  const char *q = *p;
  int yy = 0, mm, dd;
  if (q[0] == '*' && q[1] == '-') {
    *yearly = 1;
    q += 2;
  } else if (q[0] >= '0' && q[0] <= '9' && q[1] >= '0' && q[1] <= '9' &&
             q[2] == '-') {
    *yearly = 1;
  } else {
    *yearly = 0;
    if (read_digits(&q, 4, &yy) != 0 || *q != '-') {
      return -1;
    }
    q++;
  }
  if (read_digits(&q, 2, &mm) != 0 || *q != '-') {
    return -1;
  }
  q++;
  if (read_digits(&q, 2, &dd) != 0) {
    return -1;
  }
  *p = q;
  if (mm < 1 || mm > 12 || dd < 1) {
    return -2;
  }
  /* A yearly day is checked against a leap year, so 02-29 is allowed. */
  if ((unsigned)dd > days_in_month(*yearly ? 2000 : yy, (unsigned)mm)) {
    return -2;
  }
  *y = yy;
  *m = (unsigned)mm;
  *d = (unsigned)dd;
  return 0;
}


int
pr_cal_spec_add_holiday(pr_cal_spec *s, const char *text, char *err,
                        size_t errlen)
{
  if (text == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "missing holiday");
  }
  const char *p = text;
  int yearly1, yearly2 = 0, ranged = 0;
  int64_t y1, y2 = 0;
  unsigned m1, d1, m2 = 0, d2 = 0;
  int rc = parse_holiday_day(&p, &yearly1, &y1, &m1, &d1);
  if (rc == 0 && p[0] == '.' && p[1] == '.') {
    p += 2;
    ranged = 1;
    rc = parse_holiday_day(&p, &yearly2, &y2, &m2, &d2);
  }
  if (rc == 0 && *p != '\0') {
    rc = -1;
  }
  if (rc == -1) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s': expected YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD or "
                  "MM-DD", text);
  }
  if (rc == -2) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': no such date", text);
  }
  if (ranged && yearly1 != yearly2) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s': a range mixes a yearly and a dated day", text);
  }
  cal_rules *r = &s->r;
  if (yearly1) {
    /* A yearly range may run across the year's end ("12-24..01-02"). */
    unsigned m = m1, d = d1;
    if (!ranged) {
      m2 = m1;
      d2 = d1;
    }
    for (;;) {
      r->yearly[m - 1][d - 1] = 1;
      if (m == m2 && d == d2) {
        break;
      }
      if (++d > days_in_month(2000, m)) {
        d = 1;
        m = m == 12 ? 1 : m + 1;
      }
    }
    return PROMPTLY_OK;
  }
  int64_t lo = pr_days_from_civil(y1, m1, d1);
  int64_t hi = ranged ? pr_days_from_civil(y2, m2, d2) : lo;
  if (hi < lo) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': range is reversed",
                  text);
  }
  if (rules_add_range(r, lo, hi) != PROMPTLY_OK) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  return PROMPTLY_OK;
}


/* --- iCalendar import --------------------------------------------------- */

static int64_t
ical_day(struct icaltimetype t)
{
  return pr_days_from_civil(t.year, (unsigned)t.month, (unsigned)t.day);
}


/* A floating DATE value.  (icaltime_null_date() sets the hour to -1,
** which the recurrence iterator does not expect.) */
static struct icaltimetype
ical_date(int y, int m, int d)
{
  struct icaltimetype t;
  memset(&t, 0, sizeof(t));
  t.year = y;
  t.month = m;
  t.day = d;
  t.is_date = 1;
  return t;
}


/* Read a whole .ics file (pr_read_file: regular, bounded, no blocking). */
static int
read_file(const char *path, char **out, char *err, size_t errlen)
{
  char why[256];
  size_t len;
  int rc = pr_read_file(path, PR_CAL_ICS_MAX, out, &len, why, sizeof(why));
  if (rc != PROMPTLY_OK) {
    return pr_err(err, errlen, rc, "'%s': %s", path, why);
  }
  return PROMPTLY_OK;
}


/* Add one VEVENT's days as holidays: a one-off event as a dated range, a
** recurring one as a cal_event (expanded when a year is compiled), each
** RDATE as a dated range. */
static int
ics_add_event(cal_rules *r, icalcomponent *ev, const char *path, int nth,
              char *err, size_t errlen)
{
  struct icaltimetype start = icalcomponent_get_dtstart(ev);
  if (icaltime_is_null_time(start)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': event %d has no DTSTART",
                  path, nth);
  }
  if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED) {
    return PROMPTLY_OK;
  }
  /* The days covered: DTEND is exclusive; a timed event covers the dates
  ** it touches as written (its own wall clock). */
  int64_t first = ical_day(start);
  int64_t n_days = 1;
  struct icaltimetype end = icalcomponent_get_dtend(ev);
  if (!icaltime_is_null_time(end)) {
    int64_t last_excl = ical_day(end);
    if (!end.is_date && (end.hour != 0 || end.minute != 0 || end.second != 0)) {
      last_excl++;
    }
    if (last_excl - first > n_days) {
      n_days = last_excl - first;
    }
  }
  if (n_days > 366 * 10) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s': event %d lasts more than ten years", path, nth);
  }

  icalproperty *p;
  for (p = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY);
       p != NULL;
       p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
    struct icaldatetimeperiodtype rd = icalproperty_get_rdate(p);
    struct icaltimetype t = icaltime_is_null_time(rd.time) ? rd.period.start
                                                           : rd.time;
    if (icaltime_is_null_time(t)) {
      continue;
    }
    if (rules_add_range(r, ical_day(t), ical_day(t) + n_days - 1) !=
        PROMPTLY_OK) {
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }

  int64_t *ex = NULL;
  size_t n_ex = 0, cap_ex = 0;
  for (p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY);
       p != NULL;
       p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
    struct icaltimetype t = icalproperty_get_exdate(p);
    if (icaltime_is_null_time(t)) {
      continue;
    }
    if (grow((void **)&ex, &cap_ex, n_ex + 1, sizeof(int64_t)) !=
        PROMPTLY_OK) {
      free(ex);
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
    ex[n_ex++] = ical_day(t);
  }
  if (n_ex > 1) {
    qsort(ex, n_ex, sizeof(int64_t), cmp_i64);
  }

  int rc = PROMPTLY_OK;
  int recurring = 0;
  for (p = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
       p != NULL;
       p = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
    struct icalrecurrencetype rule = icalproperty_get_rrule(p);
    if (rule.rscale != NULL) {
      rc = pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s': event %d: RSCALE is not supported", path, nth);
      goto done;
    }
    if (rule.freq == ICAL_NO_RECURRENCE || rule.freq < ICAL_DAILY_RECURRENCE) {
      rc = pr_err(err, errlen, PROMPTLY_EINVAL,
                  "'%s': event %d: a holiday repeats daily at most often",
                  path, nth);
      goto done;
    }
    /* Holidays are whole days: iterate over dates, so that no zone pointer
    ** into the parsed file is kept. */
    struct icaltimetype ds = ical_date(start.year, start.month, start.day);
    if (!icaltime_is_null_time(rule.until)) {
      rule.until = ical_date(rule.until.year, rule.until.month,
                             rule.until.day);
    }
    if (grow((void **)&r->events, &r->cap_events, r->n_events + 1,
             sizeof(cal_event)) != PROMPTLY_OK) {
      rc = pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
      goto done;
    }
    cal_event *e = &r->events[r->n_events];
    memset(e, 0, sizeof(*e));
    e->rule = rule;
    e->dtstart = ds;
    e->first_day = first;
    e->n_days = n_days;
    if (n_ex > 0) {
      e->exdates = malloc(n_ex * sizeof(int64_t));
      if (e->exdates == NULL) {
        rc = pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
        goto done;
      }
      memcpy(e->exdates, ex, n_ex * sizeof(int64_t));
      e->n_exdates = n_ex;
    }
    r->n_events++;
    recurring = 1;
  }
  /* DTSTART is always an occurrence (RFC 5545), unless excluded. */
  if (!(recurring && n_ex > 0 &&
        bsearch(&first, ex, n_ex, sizeof(int64_t), cmp_i64) != NULL)) {
    if (rules_add_range(r, first, first + n_days - 1) != PROMPTLY_OK) {
      rc = pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }

done:
  free(ex);
  return rc;
}


/* libical builds process-wide state on first use and never frees it: its
** built-in UTC zone (made by the parser) and, through ICU, the default
** locale and zone (made by rule expansion).  If a host unloads this
** module, libical and ICU would be unloaded with it and that state lost,
** once per load: a leak that grows with every reload (and that
** LeakSanitizer and valgrind report).  So before its first call libical is
** marked as never to be unloaded (RTLD_NOLOAD only finds the copy already
** mapped; ICU stays as its dependency). */
static void
pin_libical(void)
{
  static atomic_int pinned;
  Dl_info info;
  if (atomic_exchange(&pinned, 1) != 0) {
    return;
  }
  if (dladdr((void *)icalrecur_iterator_new, &info) != 0 &&
      info.dli_fname != NULL) {
    /* The handle is deliberately kept: the library is pinned anyway. */
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}


int
pr_cal_spec_add_ics_in(pr_cal_spec *s, const char *root, const char *name,
                       char *err, size_t errlen)
{
  if (root == NULL || name == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "missing .ics path");
  }
  char real_root[PATH_MAX], real[PATH_MAX], joined[PATH_MAX];
  if (realpath(root, real_root) == NULL) {
    return pr_err(err, errlen, PROMPTLY_EIO, "'%s': %s", root,
                  strerror(errno));
  }
  if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", real_root, name) >=
      sizeof(joined)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': path too long", name);
  }
  if (realpath(joined, real) == NULL) {
    return pr_err(err, errlen, PROMPTLY_EIO, "'%s': %s", name,
                  strerror(errno));
  }
  size_t rl = strlen(real_root);
  int inside = strncmp(real, real_root, rl) == 0 &&
               (real[rl] == '/' || (rl == 1 && real_root[0] == '/'));
  if (!inside) {
    return pr_err(err, errlen, PROMPTLY_EIO,
                  "'%s': leads outside the rules folder (to '%s')", name,
                  real);
  }
  int rc = pr_cal_spec_add_ics(s, real, err, errlen);
  if (rc != PROMPTLY_OK) {
    /* Name the file as the rules did, not by its resolved path. */
    char why[512];
    snprintf(why, sizeof(why), "%s", err != NULL ? err : "");
    const char *rest = why;
    size_t ql = strlen(real) + 2;
    if (why[0] == '\'' && strncmp(why + 1, real, ql - 2) == 0 &&
        why[ql - 1] == '\'') {
      rest = why + ql;
    }
    pr_err(err, errlen, rc, "'%s'%s", name, rest);
  }
  return rc;
}


int
pr_cal_spec_add_ics(pr_cal_spec *s, const char *path, char *err,
                    size_t errlen)
{
  if (path == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "missing .ics path");
  }
  char *text = NULL;
  int rc = read_file(path, &text, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  pin_libical();
  icalcomponent *root = icalparser_parse_string(text);
  free(text);
  if (root == NULL) {
    return pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': not iCalendar", path);
  }

  /* Work on a copy of the rules so that a failure changes nothing. */
  cal_rules tmp;
  rc = rules_copy(&s->r, &tmp);
  if (rc != PROMPTLY_OK) {
    icalcomponent_free(root);
    return pr_err(err, errlen, rc, "out of memory");
  }
  int n_cal = 0, nth = 0;
  icalcomponent *cal = root;
  if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT) {
    cal = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
  } else if (icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT) {
    cal = NULL;
  }
  for (; cal != NULL;
       cal = cal == root ? NULL
                         : icalcomponent_get_next_component(
                             root, ICAL_VCALENDAR_COMPONENT)) {
    n_cal++;
    for (icalcomponent *ev =
           icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
         ev != NULL;
         ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
      rc = ics_add_event(&tmp, ev, path, ++nth, err, errlen);
      if (rc != PROMPTLY_OK) {
        goto fail;
      }
    }
  }
  if (n_cal == 0) {
    rc = pr_err(err, errlen, PROMPTLY_EINVAL, "'%s': no VCALENDAR", path);
    goto fail;
  }
  icalcomponent_free(root);
  rules_clear(&s->r);
  s->r = tmp;
  return PROMPTLY_OK;

fail:
  rules_clear(&tmp);
  icalcomponent_free(root);
  return rc;
}


/* --- Compile ------------------------------------------------------------ */

int
pr_cal_compile(const pr_cal_spec *s, pr_calendar **out, char *err,
               size_t errlen)
{
  *out = NULL;
  pr_calendar *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  if (rules_copy(&s->r, &c->r) != PROMPTLY_OK) {
    free(c);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  rules_merge_ranges(&c->r);
  if (c->r.n_events > 0) {
    c->expand = calloc(c->r.n_events, sizeof(cal_expand));
    if (c->expand == NULL) {
      pr_calendar_free(c);
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }
  if (c->r.all_week) {
    /* One opening per day that closes at the next midnight: the pieces of
    ** consecutive days touch and merge into one interval. */
    for (int w = 0; w < 7; w++) {
      free(c->r.hours[w]);
      c->r.hours[w] = malloc(sizeof(cal_span));
      if (c->r.hours[w] == NULL) {
        pr_calendar_free(c);
        return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
      }
      c->r.hours[w][0].open_ms = 0;
      c->r.hours[w][0].close_ms = (int32_t)DAY_MS;
      c->r.n_hours[w] = c->r.cap_hours[w] = 1;
    }
  }
  c->never_open = 1;
  for (int w = 0; w < 7; w++) {
    if (c->r.n_hours[w] > 0) {
      c->never_open = 0;
    }
  }
  *out = c;
  return PROMPTLY_OK;
}


void
pr_calendar_free(pr_calendar *c)
{
  if (c == NULL) {
    return;
  }
  for (size_t i = 0; c->expand != NULL && i < c->r.n_events; i++) {
    if (c->expand[i].it != NULL) {
      icalrecur_iterator_free(c->expand[i].it);
    }
    free(c->expand[i].occ);
  }
  free(c->expand);
  rules_clear(&c->r);
  free(c->seg);
  free(c->beg);
  free(c->end);
  free(c->cend);
  free(c);
}


const char *
pr_calendar_tz(const pr_calendar *c)
{
  return c->r.tz_name;
}


/* --- Zone segments ------------------------------------------------------ */

static int32_t
zone_offset_ms(GTimeZone *tz, int idx)
{
  return (int32_t)g_time_zone_get_offset(tz, idx) * 1000;
}


/* The first second in (t, hi] whose GLib interval differs from idx (the
** interval of t), or hi + 1 if there is none. */
static int64_t
zone_next_change(GTimeZone *tz, int64_t t, int idx, int64_t hi)
{
  int64_t lo = t, step = 7 * 86400, probe;
  for (;;) {
    probe = hi - lo > step ? lo + step : hi;
    if (g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, probe) != idx) {
      break;
    }
    if (probe == hi) {
      return hi + 1;
    }
    lo = probe;
    step *= 2;
  }
  /* lo has interval idx, probe does not. */
  while (probe - lo > 1) {
    int64_t mid = lo + (probe - lo) / 2;
    if (g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, mid) == idx) {
      lo = mid;
    } else {
      probe = mid;
    }
  }
  return probe;
}


/* Append the segments of [lo_s, hi_s) seconds to *segs (n, cap); the
** first starts at lo_s.  Consecutive segments with one offset are joined. */
static int
zone_scan_glib(GTimeZone *tz, int64_t lo_s, int64_t hi_s, cal_seg **segs,
               size_t *n, size_t *cap)
{
  int64_t t = lo_s;
  int idx = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t);
  for (;;) {
    int32_t o = zone_offset_ms(tz, idx);
    if (*n == 0 || (*segs)[*n - 1].off_ms != o) {
      if (grow((void **)segs, cap, *n + 1, sizeof(cal_seg)) != PROMPTLY_OK) {
        return PROMPTLY_ENOMEM;
      }
      (*segs)[*n].at = t * 1000;
      (*segs)[*n].off_ms = o;
      (*n)++;
    }
    if (t >= hi_s - 1) {
      return PROMPTLY_OK;
    }
    t = zone_next_change(tz, t, idx, hi_s - 1);
    if (t >= hi_s) {
      return PROMPTLY_OK;
    }
    idx = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t);
  }
}


/* Append one segment at t with offset o, unless the last has o. */
static int
seg_push(cal_seg **segs, size_t *n, size_t *cap, int64_t t, int32_t o)
{
  if (*n > 0 && (*segs)[*n - 1].off_ms == o) {
    return PROMPTLY_OK;
  }
  if (grow((void **)segs, cap, *n + 1, sizeof(cal_seg)) != PROMPTLY_OK) {
    return PROMPTLY_ENOMEM;
  }
  (*segs)[*n].at = t * 1000;
  (*segs)[*n].off_ms = o;
  (*n)++;
  return PROMPTLY_OK;
}


/* zone_scan for the stretch the footer rule governs. */
static int
zone_scan_rule(const pr_tzrule *rule, int64_t lo_s, int64_t hi_s,
               cal_seg **segs, size_t *n, size_t *cap)
{
  for (int64_t t = lo_s; t < hi_s; t = pr_tzrule_next(rule, t)) {
    if (seg_push(segs, n, cap, t, pr_tzrule_offset(rule, t) * 1000) !=
        PROMPTLY_OK) {
      return PROMPTLY_ENOMEM;
    }
  }
  return PROMPTLY_OK;
}


/* Append the segments of [lo_s, hi_s): GLib's up to the last transition
** of the zone's file, the footer rule's after it (tzrule.h says why). */
static int
zone_scan(const cal_rules *r, int64_t lo_s, int64_t hi_s, cal_seg **segs,
          size_t *n, size_t *cap)
{
  int64_t cut = r->has_rule ? r->rule.after_s : INT64_MAX;
  if (cut < lo_s) {
    cut = lo_s;
  }
  if (cut > lo_s) {
    int rc = zone_scan_glib(r->tz, lo_s, cut < hi_s ? cut : hi_s, segs, n,
                            cap);
    if (rc != PROMPTLY_OK || cut >= hi_s) {
      return rc;
    }
  }
  return zone_scan_rule(&r->rule, cut, hi_s, segs, n, cap);
}


/* Make the segment table cover [lo_ms, hi_ms). */
static int
zone_ensure(pr_calendar *c, int64_t lo_ms, int64_t hi_ms)
{
  int64_t lo_s = floor_div(lo_ms, 1000);
  int64_t hi_s = floor_div(hi_ms + 999, 1000);
  int rc;
  if (c->n_seg == 0) {
    rc = zone_scan(&c->r, lo_s, hi_s, &c->seg, &c->n_seg, &c->cap_seg);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    c->seg_lo = lo_s * 1000;
    c->seg_hi = hi_s * 1000;
    return PROMPTLY_OK;
  }
  if (hi_s * 1000 > c->seg_hi) {
    rc = zone_scan(&c->r, c->seg_hi / 1000, hi_s, &c->seg, &c->n_seg,
                   &c->cap_seg);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    c->seg_hi = hi_s * 1000;
  }
  if (lo_s * 1000 < c->seg_lo) {
    cal_seg *segs = NULL;
    size_t n = 0, cap = 0;
    rc = zone_scan(&c->r, lo_s, c->seg_lo / 1000, &segs, &n, &cap);
    if (rc != PROMPTLY_OK) {
      free(segs);
      return rc;
    }
    /* The old first segment starts at the old edge of the table; drop it
    ** when the new last one carries on with its offset. */
    size_t skip = segs[n - 1].off_ms == c->seg[0].off_ms ? 1 : 0;
    size_t total = n + c->n_seg - skip;
    if (grow((void **)&segs, &cap, total, sizeof(cal_seg)) != PROMPTLY_OK) {
      free(segs);
      return PROMPTLY_ENOMEM;
    }
    memcpy(segs + n, c->seg + skip, (c->n_seg - skip) * sizeof(cal_seg));
    free(c->seg);
    c->seg = segs;
    c->n_seg = total;
    c->cap_seg = cap;
    c->seg_lo = lo_s * 1000;
  }
  return PROMPTLY_OK;
}


/* The index of the segment that holds UTC instant t (seg_lo <= t). */
static size_t
zone_find(const pr_calendar *c, int64_t t)
{
  size_t lo = 0, hi = c->n_seg;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->seg[mid].at <= t) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}


/* --- Interval cache ----------------------------------------------------- */

typedef struct cal_piece {
  int64_t beg;
  int64_t end;
} cal_piece;

typedef struct cal_pieces {
  cal_piece *p;
  size_t n;
  size_t cap;
} cal_pieces;


static int
cmp_piece(const void *a, const void *b)
{
  const cal_piece *x = a, *y = b;
  return x->beg < y->beg ? -1 : x->beg > y->beg;
}


/* Add the UTC pieces whose local reading lies in [l0, l1): in each
** constant-offset segment, local = utc + off, so utc lies in
** [l0 - off, l1 - off) intersected with the segment.  A spring-forward gap
** falls between two segments' pieces; a fall-back hour is met in both. */
static int
local_to_utc(const pr_calendar *c, int64_t l0, int64_t l1, cal_pieces *out)
{
  size_t k = zone_find(c, l0 - CAL_MARGIN_MS);
  for (; k < c->n_seg && c->seg[k].at < l1 + CAL_MARGIN_MS; k++) {
    int64_t s_beg = c->seg[k].at;
    int64_t s_end = k + 1 < c->n_seg ? c->seg[k + 1].at : c->seg_hi;
    int64_t b = l0 - c->seg[k].off_ms, e = l1 - c->seg[k].off_ms;
    if (b < s_beg) {
      b = s_beg;
    }
    if (e > s_end) {
      e = s_end;
    }
    if (b >= e) {
      continue;
    }
    if (grow((void **)&out->p, &out->cap, out->n + 1, sizeof(cal_piece)) !=
        PROMPTLY_OK) {
      return PROMPTLY_ENOMEM;
    }
    out->p[out->n].beg = b;
    out->p[out->n].end = e;
    out->n++;
  }
  return PROMPTLY_OK;
}


/* Whether an iCalendar occurrence starting on day occ is excluded. */
static int
event_excluded(const cal_event *e, int64_t occ)
{
  return e->n_exdates > 0 &&
         bsearch(&occ, e->exdates, e->n_exdates, sizeof(int64_t), cmp_i64) !=
           NULL;
}


/* Whether e's occurrences repeat every CAL_CYCLE_DAYS: no COUNT, and an
** INTERVAL that divides the frequency's units in 400 years. */
static int
event_cyclic(const cal_event *e)
{
  int64_t units;
  switch (e->rule.freq) {
  case ICAL_YEARLY_RECURRENCE:   units = 400; break;
  case ICAL_MONTHLY_RECURRENCE:  units = 4800; break;
  case ICAL_WEEKLY_RECURRENCE:   units = CAL_CYCLE_DAYS / 7; break;
  case ICAL_DAILY_RECURRENCE:    units = CAL_CYCLE_DAYS; break;
  case ICAL_HOURLY_RECURRENCE:   units = CAL_CYCLE_DAYS * 24; break;
  case ICAL_MINUTELY_RECURRENCE: units = CAL_CYCLE_DAYS * 1440; break;
  case ICAL_SECONDLY_RECURRENCE: units = CAL_CYCLE_DAYS * 86400; break;
  default: return 0;
  }
  int64_t k = e->rule.interval > 0 ? e->rule.interval : 1;
  return e->rule.count == 0 && units % k == 0;
}


/* The next occurrence after libical's iterator ran out, or -1 at the end.
** libical stops at its own horizon (the year 2582 here), well before the
** calendars' 2900, whatever the rule says.  A rule that repeats every 400
** years (event_cyclic) goes on as its occurrences 400 years earlier, once
** the expansion has a whole cycle of them; UNTIL still ends it. */
static int64_t
cycle_next(const cal_event *e, cal_expand *x)
{
  if (x->n == 0 || !event_cyclic(e) ||
      x->occ[x->n - 1] - x->occ[0] < CAL_CYCLE_DAYS) {
    return -1;
  }
  if (x->src == 0) {
    size_t lo = 0, hi = x->n;  /* the first occ[j] + cycle past the last */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (x->occ[mid] + CAL_CYCLE_DAYS <= x->occ[x->n - 1]) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    x->src = lo;
  }
  int64_t occ = x->occ[x->src++] + CAL_CYCLE_DAYS;
  if (!icaltime_is_null_time(e->rule.until) &&
      occ > ical_day(e->rule.until)) {
    return -1;
  }
  return occ > CAL_MAX_DAY ? -1 : occ;
}


/* Expand an event's occurrences (first days) up to at least day b.  The
** iterator starts at DTSTART and is kept, so each occurrence is computed
** once and COUNT or BYSETPOS rules need no special care. */
static int
expand_event(const cal_event *e, cal_expand *x, int64_t b)
{
  if (x->done || (x->n > 0 && x->occ[x->n - 1] >= b)) {
    return PROMPTLY_OK;
  }
  if (x->it == NULL && x->src == 0) {
    x->it = icalrecur_iterator_new(e->rule, e->dtstart);
    if (x->it == NULL) {
      x->done = 1;
      return PROMPTLY_OK;
    }
  }
  for (;;) {
    int64_t occ;
    if (x->it != NULL) {
      struct icaltimetype t = icalrecur_iterator_next(x->it);
      if (icaltime_is_null_time(t)) {
        icalrecur_iterator_free(x->it);
        x->it = NULL;
        continue;
      }
      occ = ical_day(t);
    } else {
      occ = cycle_next(e, x);
      if (occ < 0) {
        x->done = 1;
        break;
      }
    }
    if (x->n > 0 && occ <= x->occ[x->n - 1]) {
      continue;  /* the iterator only goes forward; be safe */
    }
    if (grow((void **)&x->occ, &x->cap, x->n + 1, sizeof(int64_t)) !=
        PROMPTLY_OK) {
      return PROMPTLY_ENOMEM;
    }
    x->occ[x->n++] = occ;
    if (occ >= b) {
      break;
    }
  }
  return PROMPTLY_OK;
}


/* Mark the days of [a, b) that are holidays in hol[day - a]. */
static int
mark_holidays(const cal_rules *r, cal_expand *exp, int64_t a, int64_t b,
              uint8_t *hol)
{
  /* Dated ranges: the first range that ends at or after a. */
  size_t lo = 0, hi = r->n_ranges;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->ranges[2 * mid + 1] < a) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  for (size_t i = lo; i < r->n_ranges && r->ranges[2 * i] < b; i++) {
    int64_t from = r->ranges[2 * i] > a ? r->ranges[2 * i] : a;
    int64_t to = r->ranges[2 * i + 1] < b - 1 ? r->ranges[2 * i + 1] : b - 1;
    for (int64_t d = from; d <= to; d++) {
      hol[d - a] = 1;
    }
  }

  int any_yearly = 0;
  for (int m = 0; m < 12 && !any_yearly; m++) {
    for (int d = 0; d < 31; d++) {
      if (r->yearly[m][d]) {
        any_yearly = 1;
        break;
      }
    }
  }
  if (any_yearly) {
    for (int64_t day = a; day < b; day++) {
      int64_t y;
      unsigned m, d;
      pr_civil_from_days(day, &y, &m, &d);
      if (r->yearly[m - 1][d - 1]) {
        hol[day - a] = 1;
      }
    }
  }

  for (size_t i = 0; i < r->n_events; i++) {
    const cal_event *e = &r->events[i];
    cal_expand *x = &exp[i];
    int rc = expand_event(e, x, b);
    if (rc != PROMPTLY_OK) {
      return rc;
    }
    /* The first occurrence that may reach day a. */
    int64_t from = a - e->n_days + 1;
    size_t first = 0, past = x->n;
    while (first < past) {
      size_t mid = first + (past - first) / 2;
      if (x->occ[mid] < from) {
        first = mid + 1;
      } else {
        past = mid;
      }
    }
    for (size_t k = first; k < x->n && x->occ[k] < b; k++) {
      int64_t occ = x->occ[k];
      if (event_excluded(e, occ)) {
        continue;
      }
      for (int64_t d = occ > a ? occ : a; d < occ + e->n_days && d < b; d++) {
        hol[d - a] = 1;
      }
    }
  }
  return PROMPTLY_OK;
}


/* The pieces of every opening of the local days [a, b), sorted. */
static int
gen_pieces(pr_calendar *c, int64_t a, int64_t b, cal_pieces *out)
{
  int rc = zone_ensure(c, a * DAY_MS - 2 * CAL_MARGIN_MS,
                       (b + 2) * DAY_MS + 2 * CAL_MARGIN_MS);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  uint8_t *hol = calloc((size_t)(b - a), 1);
  if (hol == NULL) {
    return PROMPTLY_ENOMEM;
  }
  rc = mark_holidays(&c->r, c->expand, a, b, hol);
  for (int64_t day = a; day < b && rc == PROMPTLY_OK; day++) {
    if (hol[day - a]) {
      continue;
    }
    int w = weekday_of(day);
    for (size_t i = 0; i < c->r.n_hours[w] && rc == PROMPTLY_OK; i++) {
      const cal_span *sp = &c->r.hours[w][i];
      rc = local_to_utc(c, day * DAY_MS + sp->open_ms,
                        day * DAY_MS + sp->close_ms, out);
    }
  }
  free(hol);
  if (rc == PROMPTLY_OK && out->n > 1) {
    qsort(out->p, out->n, sizeof(cal_piece), cmp_piece);
  }
  return rc;
}


/* Merge sorted pieces into the interval arrays, joining what overlaps or
** touches, and recount the running totals. */
static int
merge_pieces(pr_calendar *c, const cal_pieces *ps)
{
  size_t total = c->n + ps->n;
  if (total == 0) {
    return PROMPTLY_OK;
  }
  int64_t *nb = malloc(total * sizeof(int64_t));
  int64_t *ne = malloc(total * sizeof(int64_t));
  int64_t *nc = malloc(total * sizeof(int64_t));
  if (nb == NULL || ne == NULL || nc == NULL) {
    free(nb);
    free(ne);
    free(nc);
    return PROMPTLY_ENOMEM;
  }
  size_t i = 0, j = 0, k = 0;
  int64_t sum = 0;
  while (i < c->n || j < ps->n) {
    int64_t b, e;
    if (j >= ps->n || (i < c->n && c->beg[i] <= ps->p[j].beg)) {
      b = c->beg[i];
      e = c->end[i];
      i++;
    } else {
      b = ps->p[j].beg;
      e = ps->p[j].end;
      j++;
    }
    if (k > 0 && b <= ne[k - 1]) {
      if (e > ne[k - 1]) {
        sum += e - ne[k - 1];
        ne[k - 1] = e;
        nc[k - 1] = sum;
      }
    } else {
      nb[k] = b;
      ne[k] = e;
      sum += e - b;
      nc[k] = sum;
      k++;
    }
  }
  free(c->beg);
  free(c->end);
  free(c->cend);
  c->beg = nb;
  c->end = ne;
  c->cend = nc;
  c->n = k;
  c->cap = total;
  return PROMPTLY_OK;
}


/* Compile the local days [a, b) into the cache. */
static int
window_add_days(pr_calendar *c, int64_t a, int64_t b)
{
  cal_pieces ps = {NULL, 0, 0};
  int rc = gen_pieces(c, a, b, &ps);
  if (rc == PROMPTLY_OK) {
    rc = merge_pieces(c, &ps);
  }
  free(ps.p);
  return rc;
}


/* The UTC instants for which the cache is exact: both days that may cover
** an instant (its local day and the day before) are compiled. */
static int64_t
window_valid_lo(const pr_calendar *c)
{
  return (c->d_lo + 1) * DAY_MS + CAL_MARGIN_MS;
}


static int64_t
window_valid_hi(const pr_calendar *c)
{
  return c->d_hi * DAY_MS - CAL_MARGIN_MS;
}


static void
window_reset(pr_calendar *c)
{
  free(c->beg);
  free(c->end);
  free(c->cend);
  c->beg = c->end = c->cend = NULL;
  c->n = c->cap = 0;
  c->have_window = 0;
}


/* Make the cache exact on [lo, hi] (PR_CAL_MIN_MS <= lo <= hi <=
** PR_CAL_MAX_MS).  It grows by at least half its size, so that a long
** forward search costs amortised linear time. */
static int
window_ensure(pr_calendar *c, int64_t lo, int64_t hi)
{
  int64_t need_lo = floor_div(lo, DAY_MS) - 4;
  int64_t need_hi = floor_div(hi, DAY_MS) + 4;
  if (c->have_window &&
      (hi < window_valid_lo(c) - CAL_FAR_MS ||
       lo > window_valid_hi(c) + CAL_FAR_MS)) {
    window_reset(c);
  }
  if (!c->have_window) {
    c->d_lo = need_lo - 31;
    c->d_hi = need_hi + 366;
    int rc = window_add_days(c, c->d_lo, c->d_hi);
    if (rc != PROMPTLY_OK) {
      window_reset(c);
      return rc;
    }
    c->have_window = 1;
  }
  int64_t grow_days = (c->d_hi - c->d_lo) / 2;
  if (grow_days < CAL_GROW_DAYS) {
    grow_days = CAL_GROW_DAYS;
  }
  if (need_lo < c->d_lo) {
    int64_t a = c->d_lo - grow_days < need_lo ? c->d_lo - grow_days : need_lo;
    if (a < CAL_MIN_DAY - 8) {
      a = need_lo < CAL_MIN_DAY - 8 ? need_lo : CAL_MIN_DAY - 8;
    }
    int rc = window_add_days(c, a, c->d_lo);
    if (rc != PROMPTLY_OK) {
      window_reset(c);
      return rc;
    }
    c->d_lo = a;
  }
  if (need_hi > c->d_hi) {
    int64_t b = c->d_hi + grow_days > need_hi ? c->d_hi + grow_days : need_hi;
    if (b > CAL_MAX_DAY + 8) {
      b = need_hi > CAL_MAX_DAY + 8 ? need_hi : CAL_MAX_DAY + 8;
    }
    int rc = window_add_days(c, c->d_hi, b);
    if (rc != PROMPTLY_OK) {
      window_reset(c);
      return rc;
    }
    c->d_hi = b;
  }
  return PROMPTLY_OK;
}


/* The number of intervals that start at or before t. */
static size_t
count_beg_le(const pr_calendar *c, int64_t t)
{
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->beg[mid] <= t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}


/* Business time in the cache before t (relative to the cache's start). */
static int64_t
cum_at(const pr_calendar *c, int64_t t)
{
  size_t i = count_beg_le(c, t);
  if (i == 0) {
    return 0;
  }
  i--;
  return t >= c->end[i] ? c->cend[i] : c->cend[i] - (c->end[i] - t);
}


/* --- Queries ------------------------------------------------------------ */

int
pr_cal_add(pr_calendar *c, int64_t start_ms, int64_t dur_ms, int64_t *due_ms)
{
  if (dur_ms < 0) {
    return PROMPTLY_EINVAL;
  }
  if (start_ms < PR_CAL_MIN_MS || start_ms >= PR_CAL_MAX_MS ||
      c->never_open || dur_ms >= PR_CAL_MAX_MS - start_ms) {
    return PROMPTLY_ERANGE;
  }
  int rc = window_ensure(c, start_ms, start_ms);
  while (rc == PROMPTLY_OK) {
    int64_t vhi = window_valid_hi(c);
    int64_t target = cum_at(c, start_ms) + dur_ms;
    /* The first interval whose running total passes the target; the due
    ** instant lies inside it.  Search from the interval of the start. */
    size_t lo = count_beg_le(c, start_ms), hi = c->n;
    if (lo > 0) {
      lo--;
    }
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (c->cend[mid] <= target) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < c->n) {
      int64_t due = c->end[lo] - (c->cend[lo] - target);
      if (due < vhi) {
        if (due >= PR_CAL_MAX_MS) {
          return PROMPTLY_ERANGE;
        }
        *due_ms = due;
        return PROMPTLY_OK;
      }
    }
    if (vhi >= PR_CAL_MAX_MS) {
      return PROMPTLY_ERANGE;
    }
    /* Nothing open within 100 years of the start: never due. */
    if (vhi - start_ms >= CAL_NEVER_MS &&
        cum_at(c, vhi) == cum_at(c, start_ms)) {
      return PROMPTLY_ERANGE;
    }
    /* The cache grows by half its size or more on each round. */
    rc = window_ensure(c, start_ms, vhi + 1);
  }
  return rc;
}


int
pr_cal_between(pr_calendar *c, int64_t a_ms, int64_t b_ms, int64_t *dur_ms)
{
  if (b_ms < a_ms) {
    return PROMPTLY_EINVAL;
  }
  if (a_ms < PR_CAL_MIN_MS || b_ms > PR_CAL_MAX_MS) {
    return PROMPTLY_ERANGE;
  }
  if (c->never_open || a_ms == b_ms) {
    *dur_ms = 0;
    return PROMPTLY_OK;
  }
  int rc = window_ensure(c, a_ms, b_ms);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  *dur_ms = cum_at(c, b_ms) - cum_at(c, a_ms);
  return PROMPTLY_OK;
}


int
pr_cal_is_open(pr_calendar *c, int64_t t_ms)
{
  if (t_ms < PR_CAL_MIN_MS || t_ms >= PR_CAL_MAX_MS) {
    return PROMPTLY_ERANGE;
  }
  if (c->never_open) {
    return 0;
  }
  int rc = window_ensure(c, t_ms, t_ms + 1);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  size_t i = count_beg_le(c, t_ms);
  return i > 0 && t_ms < c->end[i - 1];
}


int
pr_cal_local_day(pr_calendar *c, int64_t t_ms, int64_t *lo_ms, int64_t *hi_ms)
{
  if (t_ms < PR_CAL_MIN_MS || t_ms >= PR_CAL_MAX_MS) {
    return PROMPTLY_ERANGE;
  }
  int rc = zone_ensure(c, t_ms - 3 * DAY_MS, t_ms + 3 * DAY_MS);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  int64_t d = floor_div(t_ms + c->seg[zone_find(c, t_ms)].off_ms, DAY_MS);
  cal_pieces ps = {0};
  rc = local_to_utc(c, d * DAY_MS, (d + 1) * DAY_MS, &ps);
  if (rc == PROMPTLY_OK && ps.n == 0) {
    rc = PROMPTLY_ERANGE; /* cannot be: t itself reads as day d */
  }
  if (rc == PROMPTLY_OK) {
    int64_t lo = ps.p[0].beg, hi = ps.p[0].end;
    for (size_t i = 1; i < ps.n; i++) {
      lo = ps.p[i].beg < lo ? ps.p[i].beg : lo;
      hi = ps.p[i].end > hi ? ps.p[i].end : hi;
    }
    *lo_ms = lo;
    *hi_ms = hi;
  }
  free(ps.p);
  return rc;
}


int
pr_cal_local_at(pr_calendar *c, int64_t t_ms, int64_t tod_ms, int64_t *at_ms)
{
  if (t_ms < PR_CAL_MIN_MS || t_ms >= PR_CAL_MAX_MS || tod_ms < 0 ||
      tod_ms > DAY_MS) {
    return tod_ms < 0 || tod_ms > DAY_MS ? PROMPTLY_EINVAL : PROMPTLY_ERANGE;
  }
  int rc = zone_ensure(c, t_ms - 3 * DAY_MS, t_ms + 3 * DAY_MS);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  int64_t d = floor_div(t_ms + c->seg[zone_find(c, t_ms)].off_ms, DAY_MS);
  cal_pieces ps = {0};
  /* The instants whose local reading lies in [tod, midnight): the first
  ** of them (after a spring-forward gap: the gap's end). */
  rc = local_to_utc(c, d * DAY_MS + tod_ms, (d + 1) * DAY_MS, &ps);
  if (rc == PROMPTLY_OK && ps.n == 0) {
    /* tod is midnight at the end of the day: the next day's start. */
    ps.n = 0;
    rc = local_to_utc(c, (d + 1) * DAY_MS, (d + 2) * DAY_MS, &ps);
    if (rc == PROMPTLY_OK && ps.n == 0) {
      rc = PROMPTLY_ERANGE;
    }
  }
  if (rc == PROMPTLY_OK) {
    int64_t lo = ps.p[0].beg;
    for (size_t i = 1; i < ps.n; i++) {
      lo = ps.p[i].beg < lo ? ps.p[i].beg : lo;
    }
    *at_ms = lo;
  }
  free(ps.p);
  return rc;
}
