/* calendar_ics.c - iCalendar (RFC 5545) files as holidays of a spec.
**
** Every VEVENT makes the dates it covers holidays: a plain event as
** dated day ranges, a recurring one (RRULE, EXDATE) as a cal_event that
** the calendar expands on demand (calendar.c, past libical's horizon by
** the 400-year Gregorian cycle).  An import either adds every event of
** the file or, on any problem, changes nothing and names the file and
** the event.  Files are read bounded and never block (pr_read_file);
** libical is pinned in memory before its first use (pin_libical).
*/
#include "config.h"

#include "calendar_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* --- iCalendar import --------------------------------------------------- */



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
    if (cal_rules_add_range(r, ical_day(t), ical_day(t) + n_days - 1) !=
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
    if (cal_rules_add_range(r, first, first + n_days - 1) != PROMPTLY_OK) {
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
  rc = cal_rules_copy(&s->r, &tmp);
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
  cal_rules_clear(&s->r);
  s->r = tmp;
  return PROMPTLY_OK;

fail:
  cal_rules_clear(&tmp);
  icalcomponent_free(root);
  return rc;
}
