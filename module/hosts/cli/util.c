/* util.c - pieces every subcommand of the CLI shares: ISO 8601 instants,
** log lines, option values. */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>


/* --- Instants ------------------------------------------------------------- */

int
cli_parse_iso(const char *s, int64_t *at_ms)
{
  if (s == NULL || s[0] == '\0') {
    return -1;
  }
  /* An instant without an offset is UTC, never the process's zone. */
  GTimeZone *utc = g_time_zone_new_utc();
  GDateTime *dt = g_date_time_new_from_iso8601(s, utc);
  g_time_zone_unref(utc);
  if (dt == NULL) {
    return -1;
  }
  /* to_unix() floors to the second, so the microseconds of that second
  ** are added on, also before 1970. */
  int64_t ms = (int64_t)g_date_time_to_unix(dt) * 1000 +
               g_date_time_get_microsecond(dt) / 1000;
  g_date_time_unref(dt);
  *at_ms = ms;
  return 0;
}


void
cli_format_iso(int64_t at_ms, char out[CLI_ISO_LEN])
{
  int64_t sec = at_ms / 1000;
  int ms = (int)(at_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    sec -= 1;
  }
  time_t t = (time_t)sec;
  struct tm tm;
  if ((int64_t)t != sec || gmtime_r(&t, &tm) == NULL) {
    snprintf(out, CLI_ISO_LEN, "%lldms", (long long)at_ms);
    return;
  }
  int n = snprintf(out, CLI_ISO_LEN, "%04lld-%02d-%02dT%02d:%02d:%02d",
                   (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (n < 0 || n >= CLI_ISO_LEN - 6) {
    snprintf(out, CLI_ISO_LEN, "%lldms", (long long)at_ms);
    return;
  }
  if (ms != 0) {
    snprintf(out + n, (size_t)(CLI_ISO_LEN - n), ".%03dZ", ms);
  } else {
    snprintf(out + n, (size_t)(CLI_ISO_LEN - n), "Z");
  }
}


/* --- Messages and options ------------------------------------------------- */

void
cli_print_log(int32_t level, const char *msg)
{
  const char *what;
  switch (level) {
  case PROMPTLY_LOG_ERROR: what = "error"; break;
  case PROMPTLY_LOG_WARN: what = "warning"; break;
  case PROMPTLY_LOG_INFO:
    if (cli_verbose < 1) {
      return;
    }
    what = "info";
    break;
  default:
    if (cli_verbose < 2) {
      return;
    }
    what = "debug";
    break;
  }
  fprintf(stderr, "promptly: %s: %s\n", what, msg);
}


int
cli_opt_value(int argc, char **argv, int *i, const char *name,
              const char **value)
{
  const char *a = argv[*i];
  size_t len = strlen(name);
  if (strncmp(a, name, len) != 0) {
    return 0;
  }
  if (a[len] == '=') {
    *value = a + len + 1;
    return 1;
  }
  if (a[len] != '\0') {
    return 0;
  }
  if (*i + 1 >= argc) {
    fprintf(stderr, "promptly: %s needs a value\n", name);
    return -1;
  }
  *i += 1;
  *value = argv[*i];
  return 1;
}
