/* calendar.h - business calendars: weekly hours, holidays, an IANA zone.
**
** Pure C: no libuv, no Lua, no process-global time state (never TZ, tzset
** or localtime).  A calendar is compiled from a spec into sorted UTC open
** intervals with running totals, extended on demand, so that add() and
** between() are a couple of binary searches.
**
** Conventions (SPEC.md, Calendars): an opening is half-open [open, close)
** in local wall-clock time and belongs to the date and weekday it opens on
** (an overnight shift opened on a holiday is off).  An instant is business
** time when its local wall-clock reading lies inside an opening; so a
** spring-forward gap simply has no instants, and both passes of a
** fall-back hour count.  add(start, N) is the first instant at which
** business time since start exceeds N: a target used up exactly at a close
** is due at the next opening.
**
** Times are int64_t milliseconds since the Unix epoch (UTC).  A calendar is
** not thread-safe (it grows its interval cache on use); each instance uses
** its own.  Errors are PROMPTLY_E* codes with a message in err.
*/
#ifndef PR_CALENDAR_H
#define PR_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

typedef struct pr_cal_spec pr_cal_spec;  /* a calendar being described */
typedef struct pr_calendar pr_calendar;  /* a compiled calendar */

/* Weekdays, Monday first (ISO 8601). */
#define PR_MON 0
#define PR_SUN 6

/* The instants a calendar answers for: [1800-01-01, 2900-01-01) UTC.
** Queries outside return ERANGE.  (GLib applies a zone's current DST rules
** through the year 2999; libical expands yearly .ics rules through 2582.) */
#define PR_CAL_MIN_MS INT64_C(-5364662400000)
#define PR_CAL_MAX_MS INT64_C(29348006400000)

/* The longest zone name accepted; the largest .ics file read. */
#define PR_CAL_ZONE_NAME_MAX 64
#define PR_CAL_ICS_MAX ((size_t)4 << 20)

/* Whether name has the syntax of an IANA zone name: components of ASCII
** letters, digits, '_', '-' and '+', each starting with a letter or digit,
** joined by '/'; at most PR_CAL_ZONE_NAME_MAX bytes.  Never a path, never
** ':', never a POSIX TZ rule.  Pure. */
int pr_cal_zone_name_ok(const char *name);

/* A new spec in zone tz (IANA name; NULL or "" means UTC, never the
** process's local zone).  The caller owns *out (pr_cal_spec_free).  Any
** thread.  EINVAL with "unknown time zone 'X'" if the zone is not known,
** ENOMEM. */
int pr_cal_spec_new(const char *tz, pr_cal_spec **out, char *err,
                    size_t errlen);
void pr_cal_spec_free(pr_cal_spec *s);

/* Add an opening on weekday wday (PR_MON..PR_SUN) from open to close,
** both "HH:MM" (close may be "24:00"; a close before the open is an
** overnight shift into the next day).  EINVAL for "25:00", open == close;
** the message starts with the opening ("'25:00-26:00': hour out of
** range"), so that a caller can prefix where it came from. */
int pr_cal_spec_add_hours(pr_cal_spec *s, int wday, const char *open,
                          const char *close, char *err, size_t errlen);

/* Open at all times (24x7). */
void pr_cal_spec_set_24x7(pr_cal_spec *s);

/* A holiday: "YYYY-MM-DD", "YYYY-MM-DD..YYYY-MM-DD" (inclusive, not
** reversed) or a yearly "MM-DD" / "*-MM-DD" (also a yearly range
** "12-24..01-02", which may run across the year's end; "02-29" holds in
** leap years).  A holiday removes the openings that open on its date.
** EINVAL for invalid dates ("'2026-02-30': no such date"), reversed
** ranges, malformed text; the message starts with the quoted text. */
int pr_cal_spec_add_holiday(pr_cal_spec *s, const char *text, char *err,
                            size_t errlen);

/* Import the events of an iCalendar file (RFC 5545, with yearly RRULEs)
** as holidays.  Every VEVENT makes the dates it covers holidays: an
** all-day event from DTSTART to the exclusive DTEND (one day if none), a
** timed one the dates it touches on its own wall clock; RRULEs (DAILY or
** less often), RDATE and EXDATE are honoured; CANCELLED events are
** skipped.  On error nothing is added.  Only a regular file of at most
** PR_CAL_ICS_MAX bytes is read, opened without blocking (a FIFO or a
** device is refused, never waited on).  EIO if unreadable, not a regular
** file or too large, EINVAL if not iCalendar or an event cannot be used;
** the message names the path. */
int pr_cal_spec_add_ics(pr_cal_spec *s, const char *path, char *err,
                        size_t errlen);

/* pr_cal_spec_add_ics of the file name inside the folder root, which it
** must stay inside once every symbolic link is resolved ("'x.ics': leads
** outside the rules folder"); messages name it by name.  EIO, EINVAL. */
int pr_cal_spec_add_ics_in(pr_cal_spec *s, const char *root,
                           const char *name, char *err, size_t errlen);

/* Compile a spec into a calendar.  The spec may be freed afterwards; the
** caller owns *out (pr_calendar_free).  The compiled intervals are built
** lazily by the queries below.  ENOMEM. */
int pr_cal_compile(const pr_cal_spec *s, pr_calendar **out, char *err,
                   size_t errlen);
void pr_calendar_free(pr_calendar *c);

/* The zone name of a calendar. */
const char *pr_calendar_tz(const pr_calendar *c);

/* The first instant at which business time since start_ms exceeds dur_ms.
** ERANGE ("never due") when the calendar has no opening at or after
** start_ms within 100 years, or the result would overflow or fall outside
** [PR_CAL_MIN_MS, PR_CAL_MAX_MS).  EINVAL if dur_ms < 0, ENOMEM.  These
** queries grow c's cache: one thread at a time per calendar. */
int pr_cal_add(pr_calendar *c, int64_t start_ms, int64_t dur_ms,
               int64_t *due_ms);

/* Business milliseconds in [a_ms, b_ms).  EINVAL if b_ms < a_ms, ERANGE
** outside [PR_CAL_MIN_MS, PR_CAL_MAX_MS], ENOMEM. */
int pr_cal_between(pr_calendar *c, int64_t a_ms, int64_t b_ms,
                   int64_t *dur_ms);

/* Whether t_ms is business time (1) or not (0); ERANGE, ENOMEM. */
int pr_cal_is_open(pr_calendar *c, int64_t t_ms);

/* The UTC bounds [*lo_ms, *hi_ms) of the local date, midnight to
** midnight on the calendar's zone, that holds instant t_ms (a day of 23
** or 25 hours across a DST change).  ERANGE outside the range, ENOMEM. */
int pr_cal_local_day(pr_calendar *c, int64_t t_ms, int64_t *lo_ms,
                     int64_t *hi_ms);

/* The first instant on the local date that holds t_ms whose local
** reading is tod_ms after midnight or later (in a spring-forward gap: the
** gap's end; in a fall-back hour: its first pass), in *at_ms; tod_ms in
** [0, 24 h].  EINVAL for tod_ms out of range, ERANGE, ENOMEM. */
int pr_cal_local_at(pr_calendar *c, int64_t t_ms, int64_t tod_ms,
                    int64_t *at_ms);

/* Business days (calendar_days.c).  A business day is a local date with
** business time in it.  *dur_ms = the business time from start_ms to the
** same point of the n-th business day after start's: the rest of start's
** business day, the whole days between, and on the n-th day as much as
** start's day had used (capped at that day's length: a longer day used
** up at its close is due at the next opening).  A start outside its
** day's business time (a weekend, after closing) counts from the next
** business day's opening.  n in [1, PR_CAL_MAX_BDAYS]; ERANGE when fewer
** than n + 1 business days follow within 100 years; EINVAL, ENOMEM. */
#define PR_CAL_MAX_BDAYS 1000
int pr_cal_bdays(pr_calendar *c, int64_t start_ms, uint32_t n,
                 int64_t *dur_ms);

/* A relative deadline (calendar_days.c): *dur_ms = the business time
** from start_ms to the deadline on a target day.  The target day is, for
** n >= 1, the n-th business day after the local date of start_ms (later
** dates only, whatever the hour of start); for n == 0, start's own date
** if business time is left on it after start, else the next business
** day.  The deadline is tod_ms after that day's local midnight
** (pr_cal_local_at), or with tod_ms < 0 the day's end (its next
** midnight: the close of its last opening).  A deadline outside the
** day's hours counts the business time up to it (before the opening:
** none of that day's).  n in [0, PR_CAL_MAX_BDAYS], tod_ms in [0, 24 h)
** or negative (only negative for n == 0); EINVAL, ERANGE when fewer than
** n business days follow within 100 years, ENOMEM. */
int pr_cal_deadline(pr_calendar *c, int64_t start_ms, uint32_t n,
                    int64_t tod_ms, int64_t *dur_ms);

#endif /* PR_CALENDAR_H */
