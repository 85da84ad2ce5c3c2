/* calendar.c - business calendars compiled into UTC open intervals.
**
** A spec (calendar_spec.c, calendar_ics.c) is compiled here into a
** calendar that keeps two caches, both grown on demand:
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

#include "calendar_internal.h"

#include <limits.h>
#include <string.h>

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
  if (cal_rules_copy(&s->r, &c->r) != PROMPTLY_OK) {
    free(c);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  cal_rules_merge_ranges(&c->r);
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
  cal_rules_clear(&c->r);
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
