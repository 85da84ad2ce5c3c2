/* tzrule.h - a zone's offsets after its last transition: the POSIX TZ
** rule in the footer of its TZif file (RFC 8536, section 3.3).
**
** GLib turns that footer into transitions itself, but gets zones with a
** negative daylight saving wrong (Europe/Dublin: standard time IST in
** summer, "daylight" GMT in winter, +2h instead of +0 in every winter
** after the file's last transition, 2037).  calendar.c therefore asks
** GLib only up to the file's last transition and this unit after it.
**
** Pure: no GLib, no global state.  All hidden (pr_ prefix).
*/
#ifndef PR_TZRULE_H
#define PR_TZRULE_H

#include <stddef.h>
#include <stdint.h>

/* A transition date of a rule: Jn (julian, no Feb 29), n (zero-based day
** of year) or Mm.w.d, and the local time of day it happens at (seconds,
** -167h..167h: RFC 8536's extension). */
typedef struct pr_tzdate {
  int32_t kind;   /* 'J', 'n' or 'M' */
  int32_t day;    /* J: 1..365; n: 0..365; M: weekday 0..6 (Sunday 0) */
  int32_t week;   /* M: 1..5 (5 = the last) */
  int32_t month;  /* M: 1..12 */
  int32_t time_s; /* default 02:00 */
} pr_tzdate;

typedef struct pr_tzrule {
  int64_t after_s;  /* the rule holds from here on: the file's last
                       transition (INT64_MIN: no transition at all) */
  int32_t std_off;  /* seconds east of UTC */
  int32_t dst_off;
  int32_t has_dst;
  pr_tzdate start;  /* to daylight time, in standard local time */
  pr_tzdate end;    /* back to standard, in daylight local time */
} pr_tzrule;

/* Parse a POSIX TZ string ("IST-1GMT0,M10.5.0,M3.5.0/1"); 0 or -1. */
int pr_tzrule_parse(const char *s, pr_tzrule *out);

/* Read the TZif file at path (a regular file of at most 1 MiB): its last
** transition and its footer rule.  0, or -1 when the file cannot be read,
** is no TZif v2+ file or has no (or an empty) footer. */
int pr_tzrule_load(const char *path, pr_tzrule *out);

/* The UTC offset, seconds east, at UTC second t (t >= after_s). */
int32_t pr_tzrule_offset(const pr_tzrule *r, int64_t t);

/* The first UTC second after t at which the offset changes, or INT64_MAX
** if it never does. */
int64_t pr_tzrule_next(const pr_tzrule *r, int64_t t);

#endif /* PR_TZRULE_H */
