/* tzrule.c - the POSIX TZ rule of a TZif footer, and the offsets it gives.
**
** Invariants: a pr_tzrule is plain data (copied by assignment); offsets
** are seconds east of UTC (POSIX writes them west: parsing flips the
** sign); a year's two transitions are computed from its own calendar, and
** an instant is judged against the transitions of the years around it, so
** southern-hemisphere rules (daylight time across New Year), negative
** daylight saving (Europe/Dublin) and daylight time all year
** ("...,0/0,J365/25") come out right without special cases.
*/
#include "config.h"

#include "tzrule.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZIF_MAX ((size_t)1 << 20)

/* --- Parsing the rule --------------------------------------------------- */

static int
parse_name(const char **p)
{
  const char *s = *p;
  if (*s == '<') {
    s++;
    while (*s != '\0' && *s != '>') {
      s++;
    }
    if (*s != '>' || s - *p < 4) {
      return -1;
    }
    *p = s + 1;
    return 0;
  }
  while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
    s++;
  }
  if (s - *p < 3) {
    return -1;
  }
  *p = s;
  return 0;
}


static int
parse_num(const char **p, int lo, int hi, int *out)
{
  const char *s = *p;
  int v = 0;
  if (*s < '0' || *s > '9') {
    return -1;
  }
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s - '0');
    if (v > hi) {
      return -1;
    }
    s++;
  }
  if (v < lo) {
    return -1;
  }
  *p = s;
  *out = v;
  return 0;
}


/* [+-]hh[:mm[:ss]], hours up to max_h; seconds, sign as written. */
static int
parse_hms(const char **p, int max_h, int32_t *out)
{
  int sign = 1, h = 0, m = 0, sec = 0;
  if (**p == '+' || **p == '-') {
    sign = **p == '-' ? -1 : 1;
    (*p)++;
  }
  if (parse_num(p, 0, max_h, &h) != 0) {
    return -1;
  }
  if (**p == ':') {
    (*p)++;
    if (parse_num(p, 0, 59, &m) != 0) {
      return -1;
    }
    if (**p == ':') {
      (*p)++;
      if (parse_num(p, 0, 59, &sec) != 0) {
        return -1;
      }
    }
  }
  *out = sign * (h * 3600 + m * 60 + sec);
  return 0;
}


static int
parse_date(const char **p, pr_tzdate *d)
{
  int a, b, c;
  if (**p == 'M') {
    (*p)++;
    if (parse_num(p, 1, 12, &a) != 0 || *(*p)++ != '.' ||
        parse_num(p, 1, 5, &b) != 0 || *(*p)++ != '.' ||
        parse_num(p, 0, 6, &c) != 0) {
      return -1;
    }
    d->kind = 'M';
    d->month = a;
    d->week = b;
    d->day = c;
  } else if (**p == 'J') {
    (*p)++;
    if (parse_num(p, 1, 365, &a) != 0) {
      return -1;
    }
    d->kind = 'J';
    d->day = a;
  } else {
    if (parse_num(p, 0, 365, &a) != 0) {
      return -1;
    }
    d->kind = 'n';
    d->day = a;
  }
  d->time_s = 2 * 3600;
  if (**p == '/') {
    (*p)++;
    if (parse_hms(p, 167, &d->time_s) != 0) {
      return -1;
    }
  }
  return 0;
}


int
pr_tzrule_parse(const char *s, pr_tzrule *out)
{
  pr_tzrule r;
  memset(&r, 0, sizeof(r));
  r.after_s = INT64_MIN;
  int32_t off;
  if (parse_name(&s) != 0 || parse_hms(&s, 24, &off) != 0) {
    return -1;
  }
  r.std_off = -off;
  r.dst_off = r.std_off;
  if (*s != '\0') {
    if (parse_name(&s) != 0) {
      return -1;
    }
    r.has_dst = 1;
    r.dst_off = r.std_off + 3600;
    if (*s != ',' && *s != '\0') {
      if (parse_hms(&s, 24, &off) != 0) {
        return -1;
      }
      r.dst_off = -off;
    }
    if (*s == '\0') {
      /* No dates: POSIX leaves them to the implementation; glibc and
      ** tzcode take the US rule. */
      r.start = (pr_tzdate){'M', 0, 2, 3, 7200};
      r.end = (pr_tzdate){'M', 0, 1, 11, 7200};
    } else if (*s++ != ',' || parse_date(&s, &r.start) != 0 || *s++ != ',' ||
               parse_date(&s, &r.end) != 0 || *s != '\0') {
      return -1;
    }
  }
  *out = r;
  return 0;
}


/* --- Reading the TZif file ---------------------------------------------- */

static uint32_t
be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}


static int
read_file(const char *path, unsigned char **data, size_t *len)
{
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (size_t)st.st_size > TZIF_MAX || st.st_size < 44) {
    close(fd);
    return -1;
  }
  size_t n = (size_t)st.st_size, got = 0;
  unsigned char *buf = malloc(n + 1);
  if (buf == NULL) {
    close(fd);
    return -1;
  }
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k <= 0) {
      break;
    }
    got += (size_t)k;
  }
  close(fd);
  if (got != n) {
    free(buf);
    return -1;
  }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}


/* The size of a data block after the header at h, with times of tsize. */
static size_t
block_size(const unsigned char *h, size_t tsize)
{
  size_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28);
  size_t timecnt = be32(h + 32), typecnt = be32(h + 36),
         charcnt = be32(h + 40);
  return timecnt * tsize + timecnt + typecnt * 6 + charcnt +
         leap * (tsize + 4) + isstd + isut;
}


int
pr_tzrule_load(const char *path, pr_tzrule *out)
{
  unsigned char *d;
  size_t n;
  if (read_file(path, &d, &n) != 0) {
    return -1;
  }
  int rc = -1;
  if (memcmp(d, "TZif", 4) != 0 || d[4] < '2') {
    goto done;
  }
  size_t v1 = 44 + block_size(d, 4);
  if (v1 + 44 > n || memcmp(d + v1, "TZif", 4) != 0) {
    goto done;
  }
  const unsigned char *h2 = d + v1;
  size_t body = v1 + 44, timecnt = be32(h2 + 32);
  size_t end = body + block_size(h2, 8);
  if (end + 2 > n || d[end] != '\n') {
    goto done;
  }
  char *foot = (char *)d + end + 1;
  char *nl = memchr(foot, '\n', n - end - 1);
  if (nl == NULL || nl == foot) {
    goto done;
  }
  *nl = '\0';
  pr_tzrule r;
  if (pr_tzrule_parse(foot, &r) != 0) {
    goto done;
  }
  if (timecnt > 0) {
    const unsigned char *t = d + body + (timecnt - 1) * 8;
    r.after_s = (int64_t)((uint64_t)be32(t) << 32 | be32(t + 4));
  }
  *out = r;
  rc = 0;
done:
  free(d);
  return rc;
}


/* --- Offsets ------------------------------------------------------------ */

static int
is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


/* The local midnight of date d in year y, as days since 1970-01-01. */
static int64_t
date_day(const pr_tzdate *d, int64_t y)
{
  int64_t jan1 = pr_days_from_civil(y, 1, 1);
  if (d->kind == 'J') {
    return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60 ? 1 : 0);
  }
  if (d->kind == 'n') {
    return jan1 + d->day;
  }
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31};
  int64_t first = pr_days_from_civil(y, (unsigned)d->month, 1);
  int64_t wd1 = ((first % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday */
  int64_t day = first + (d->day - wd1 + 7) % 7 + (int64_t)(d->week - 1) * 7;
  int len = mdays[d->month - 1] + (d->month == 2 && is_leap(y) ? 1 : 0);
  while (day >= first + len) {
    day -= 7;
  }
  return day;
}


typedef struct tz_event {
  int64_t at;   /* UTC second */
  int32_t dst;  /* 1: to daylight time, 0: to standard */
} tz_event;


/* The transitions of years y0..y0+3, sorted; at one instant the change to
** standard time comes first, so that daylight time all year stays. */
static void
year_events(const pr_tzrule *r, int64_t y0, tz_event ev[8])
{
  for (int i = 0; i < 4; i++) {
    int64_t y = y0 + i;
    ev[2 * i].at = date_day(&r->start, y) * 86400 + r->start.time_s -
                   r->std_off;
    ev[2 * i].dst = 1;
    ev[2 * i + 1].at = date_day(&r->end, y) * 86400 + r->end.time_s -
                       r->dst_off;
    ev[2 * i + 1].dst = 0;
  }
  for (int i = 1; i < 8; i++) { /* insertion sort of eight */
    tz_event e = ev[i];
    int j = i - 1;
    while (j >= 0 && (ev[j].at > e.at || (ev[j].at == e.at && ev[j].dst &&
                                          !e.dst))) {
      ev[j + 1] = ev[j];
      j--;
    }
    ev[j + 1] = e;
  }
}


static int64_t
year_of(int64_t t)
{
  int64_t y;
  unsigned m, d;
  pr_civil_from_days(t >= 0 ? t / 86400 : -((-t + 86399) / 86400), &y, &m,
                     &d);
  return y;
}


int32_t
pr_tzrule_offset(const pr_tzrule *r, int64_t t)
{
  if (!r->has_dst) {
    return r->std_off;
  }
  tz_event ev[8];
  /* Years y-2..y+1: a transition (at most 167 h from its date, plus an
  ** offset) cannot move an instant's state out of that window. */
  year_events(r, year_of(t) - 2, ev);
  int dst = 0;
  for (int i = 0; i < 8 && ev[i].at <= t; i++) {
    dst = ev[i].dst;
  }
  return dst ? r->dst_off : r->std_off;
}


int64_t
pr_tzrule_next(const pr_tzrule *r, int64_t t)
{
  if (!r->has_dst || r->dst_off == r->std_off) {
    return INT64_MAX;
  }
  int32_t now = pr_tzrule_offset(r, t);
  int64_t y = year_of(t);
  /* Two windows of four years: a rule with any change has one a year. */
  for (int64_t y0 = y - 1; y0 <= y + 3; y0 += 4) {
    tz_event ev[8];
    year_events(r, y0, ev);
    for (int i = 0; i < 8; i++) {
      if (ev[i].at > t && pr_tzrule_offset(r, ev[i].at) != now) {
        return ev[i].at;
      }
    }
  }
  return INT64_MAX;
}
