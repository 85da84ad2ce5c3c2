/* calendar_abi.c - the exported promptly_calendar_* functions.
**
** A thin shim over calendar.h: it reads the name/value spec, names the pair
** in every message, and turns business seconds into milliseconds.  No
** business logic lives here.
*/
#include "config.h"

#include "promptly.h"

#include "calendar.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct promptly_calendar {
  pr_calendar *cal;
};

static const char *const calendar_days[7] = {
  "mon", "tue", "wed", "thu", "fri", "sat", "sun",
};


static int
calendar_day_index(const char *name)
{
  for (int w = 0; w < 7; w++) {
    if (strcmp(name, calendar_days[w]) == 0) {
      return w;
    }
  }
  return -1;
}


/* One "HH:MM-HH:MM" opening of weekday w. */
static int
calendar_add_opening(pr_cal_spec *s, int w, const char *name,
                     const char *value, char *errbuf, size_t errlen)
{
  const char *dash = strchr(value, '-');
  char open[16], close[16], msg[256];
  if (dash == NULL || strchr(dash + 1, '-') != NULL ||
      (size_t)(dash - value) >= sizeof(open) ||
      strlen(dash + 1) >= sizeof(close)) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL,
                  "%s: '%s': expected HH:MM-HH:MM", name, value);
  }
  memcpy(open, value, (size_t)(dash - value));
  open[dash - value] = '\0';
  strcpy(close, dash + 1);
  int rc = pr_cal_spec_add_hours(s, w, open, close, msg, sizeof(msg));
  if (rc != PROMPTLY_OK) {
    return pr_err(errbuf, errlen, rc, "%s: %s", name, msg);
  }
  return PROMPTLY_OK;
}


PROMPTLY_API int
promptly_calendar_open(const promptly_attr *spec, uint32_t n,
                       promptly_calendar **out, char *errbuf, size_t errlen)
{
  pr_cal_spec *s = NULL;
  pr_calendar *cal = NULL;
  promptly_calendar *pc = NULL;
  const char *tz = NULL;
  char msg[512];
  int rc;

  if (out == NULL) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "no place for the result");
  }
  *out = NULL;
  if (spec == NULL && n > 0) {
    return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "no spec");
  }
  for (uint32_t i = 0; i < n; i++) {
    if (spec[i].name == NULL) {
      return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "pair %u: no name",
                    (unsigned)i + 1);
    }
    if (spec[i].value == NULL) {
      return pr_err(errbuf, errlen, PROMPTLY_EINVAL, "%s: no value",
                    spec[i].name);
    }
    if (strcmp(spec[i].name, "tz") == 0) {
      if (tz != NULL) {
        return pr_err(errbuf, errlen, PROMPTLY_EINVAL,
                      "tz: '%s': a calendar has one time zone",
                      spec[i].value);
      }
      tz = spec[i].value;
    }
  }

  rc = pr_cal_spec_new(tz, &s, msg, sizeof(msg));
  if (rc != PROMPTLY_OK) {
    return pr_err(errbuf, errlen, rc, "tz: %s", msg);
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *name = spec[i].name, *value = spec[i].value;
    int w = calendar_day_index(name);
    if (w >= 0) {
      rc = calendar_add_opening(s, w, name, value, errbuf, errlen);
    } else if (strcmp(name, "24x7") == 0) {
      pr_cal_spec_set_24x7(s);
    } else if (strcmp(name, "holiday") == 0) {
      rc = pr_cal_spec_add_holiday(s, value, msg, sizeof(msg));
      if (rc != PROMPTLY_OK) {
        pr_err(errbuf, errlen, rc, "holiday: %s", msg);
      }
    } else if (strcmp(name, "ics") == 0) {
      rc = pr_cal_spec_add_ics(s, value, msg, sizeof(msg));
      if (rc != PROMPTLY_OK) {
        pr_err(errbuf, errlen, rc, "ics: %s", msg);
      }
    } else if (strcmp(name, "tz") != 0) {
      rc = pr_err(errbuf, errlen, PROMPTLY_EINVAL,
                  "'%s': unknown name (expected tz, mon..sun, 24x7, holiday "
                  "or ics)", name);
    }
    if (rc != PROMPTLY_OK) {
      goto fail_spec;
    }
  }

  rc = pr_cal_compile(s, &cal, msg, sizeof(msg));
  if (rc != PROMPTLY_OK) {
    pr_err(errbuf, errlen, rc, "%s", msg);
    goto fail_spec;
  }
  pc = malloc(sizeof(*pc));
  if (pc == NULL) {
    rc = pr_err(errbuf, errlen, PROMPTLY_ENOMEM, "out of memory");
    goto fail_cal;
  }
  pc->cal = cal;
  pr_cal_spec_free(s);
  *out = pc;
  return PROMPTLY_OK;

fail_cal:
  pr_calendar_free(cal);
fail_spec:
  pr_cal_spec_free(s);
  return rc;
}


PROMPTLY_API int
promptly_calendar_add(promptly_calendar *cal, int64_t start_ms,
                      int64_t seconds, int64_t *due_ms)
{
  if (cal == NULL || due_ms == NULL || seconds < 0) {
    return PROMPTLY_EINVAL;
  }
  if (seconds > INT64_MAX / 1000) {
    return PROMPTLY_ERANGE;
  }
  return pr_cal_add(cal->cal, start_ms, seconds * 1000, due_ms);
}


PROMPTLY_API int
promptly_calendar_between(promptly_calendar *cal, int64_t a_ms, int64_t b_ms,
                          int64_t *elapsed_ms)
{
  if (cal == NULL || elapsed_ms == NULL) {
    return PROMPTLY_EINVAL;
  }
  return pr_cal_between(cal->cal, a_ms, b_ms, elapsed_ms);
}


PROMPTLY_API void
promptly_calendar_close(promptly_calendar *cal)
{
  if (cal == NULL) {
    return;
  }
  pr_calendar_free(cal->cal);
  free(cal);
}
