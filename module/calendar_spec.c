/* calendar_spec.c - describing a business calendar: its zone, weekly
** openings and holidays, collected in a spec's cal_rules.
**
** A spec only collects and checks: each call either adds what it was
** given or changes nothing and says what was wrong, quoting the text
** ("'25:00-26:00': hour out of range").  Dated holiday ranges are kept in
** the order added; compiling (calendar.c) copies the rules and merges the
** ranges.  Zone names are checked for IANA syntax and looked up as
** regular files before GLib sees them (calendar.h, pr_cal_zone_name_ok).
*/
#include "config.h"

#include "calendar_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* --- Rules (the part shared by spec and calendar) ----------------------- */

void
cal_rules_clear(cal_rules *r)
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


int
cal_rules_copy(const cal_rules *src, cal_rules *dst)
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
  cal_rules_clear(dst);
  return PROMPTLY_ENOMEM;
}


int
cal_rules_add_range(cal_rules *r, int64_t lo, int64_t hi)
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



/* Sort the dated holiday ranges and merge those that overlap or touch, so
** that a binary search finds the one range that may hold a day. */
void
cal_rules_merge_ranges(cal_rules *r)
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
  cal_rules_clear(&s->r);
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
  if (cal_rules_add_range(r, lo, hi) != PROMPTLY_OK) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  return PROMPTLY_OK;
}
