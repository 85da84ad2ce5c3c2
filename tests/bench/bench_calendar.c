/* bench_calendar.c - due computations per second, next to Business::Hours.
**
** Times pr_cal_add() for one calendar and for 100 calendars (random starts
** over 2026, targets of 1 to 16 business hours), then runs a sample of the
** same cases through Perl's Business::Hours (tests/bench/business_hours.pl,
** run with TZ=UTC because Business::Hours works in the process's local
** time; so the calendars here are UTC ones) and prints both speeds, their
** ratio and how often the two agree on the due instant.  Printed, never
** asserted.
**
** Environment: PROMPTLY_SRCDIR (to find the Perl script), BENCH_CASES (C
** cases per run, default 1,000,000), BENCH_PERL_CASES (default 2,000).
*/
#include "config.h"

#include "calendar.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOUR_MS INT64_C(3600000)
#define DAY_MS  INT64_C(86400000)
#define N_CALS  100

/* One weekday of a bench calendar: closed, or [open, close) with an
** optional break [brk_open, brk_close), in minutes after midnight; this is
** what Business::Hours can express. */
typedef struct bench_day {
  int open;  /* -1: closed */
  int close;
  int brk_open;  /* -1: no break */
  int brk_close;
} bench_day;

typedef struct bench_cal {
  bench_day days[7];  /* Monday first */
  char holidays[3][16];
  int n_holidays;
  pr_calendar *cal;
} bench_cal;

typedef struct bench_case {
  int cal;
  int64_t start_ms;
  int64_t dur_ms;
  int64_t due_ms;
} bench_case;

static uint64_t rng = UINT64_C(0x5eed2026);


static uint64_t
rnd(void)
{
  uint64_t z = (rng += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}


static int64_t
rnd_in(int64_t lo, int64_t hi)
{
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}


static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void
hhmm(int minutes, char out[16])
{
  snprintf(out, 16, "%02d:%02d", minutes / 60, minutes % 60);
}


/* Calendar 0 is the office (Mon-Fri 09:00-17:00, Christmas and New Year);
** the others are random five- or six-day weeks with lunch breaks. */
static void
make_calendars(bench_cal *cals)
{
  for (int k = 0; k < N_CALS; k++) {
    bench_cal *b = &cals[k];
    memset(b, 0, sizeof(*b));
    for (int w = 0; w < 7; w++) {
      bench_day *d = &b->days[w];
      d->open = d->brk_open = -1;
      if (k == 0) {
        if (w < 5) {
          d->open = 9 * 60;
          d->close = 17 * 60;
        }
        continue;
      }
      if (w >= 5 + (int)(rnd() % 2)) {
        continue;
      }
      d->open = (int)rnd_in(6 * 4, 11 * 4) * 15;
      d->close = d->open + (int)rnd_in(4 * 4, 10 * 4) * 15;
      if (rnd() % 2) {
        d->brk_open = d->open + (int)rnd_in(2 * 4, 3 * 4) * 15;
        d->brk_close = d->brk_open + 30 + (int)(rnd() % 2) * 30;
        if (d->brk_close >= d->close) {
          d->brk_open = -1;
        }
      }
    }
    if (k == 0) {
      strcpy(b->holidays[0], "12-25");
      strcpy(b->holidays[1], "01-01");
      b->n_holidays = 2;
    } else {
      b->n_holidays = (int)(rnd() % 3);
      for (int i = 0; i < b->n_holidays; i++) {
        snprintf(b->holidays[i], sizeof(b->holidays[i]), "2026-%02d-%02d",
                 (int)rnd_in(1, 12), (int)rnd_in(1, 28));
      }
    }
  }
}


static int
compile_calendar(bench_cal *b, const char *tz)
{
  char err[256], o[16], c[16];
  pr_cal_spec *s;
  if (pr_cal_spec_new(tz, &s, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "bench: %s\n", err);
    return -1;
  }
  for (int w = 0; w < 7; w++) {
    const bench_day *d = &b->days[w];
    if (d->open < 0) {
      continue;
    }
    int rc;
    if (d->brk_open >= 0) {
      hhmm(d->open, o);
      hhmm(d->brk_open, c);
      rc = pr_cal_spec_add_hours(s, w, o, c, err, sizeof(err));
      hhmm(d->brk_close, o);
      hhmm(d->close, c);
      rc |= pr_cal_spec_add_hours(s, w, o, c, err, sizeof(err));
    } else {
      hhmm(d->open, o);
      hhmm(d->close, c);
      rc = pr_cal_spec_add_hours(s, w, o, c, err, sizeof(err));
    }
    if (rc != PROMPTLY_OK) {
      fprintf(stderr, "bench: %s\n", err);
      pr_cal_spec_free(s);
      return -1;
    }
  }
  for (int i = 0; i < b->n_holidays; i++) {
    if (pr_cal_spec_add_holiday(s, b->holidays[i], err, sizeof(err)) !=
        PROMPTLY_OK) {
      fprintf(stderr, "bench: %s\n", err);
      pr_cal_spec_free(s);
      return -1;
    }
  }
  int rc = pr_cal_compile(s, &b->cal, err, sizeof(err));
  pr_cal_spec_free(s);
  return rc == PROMPTLY_OK ? 0 : -1;
}


static void
make_cases(bench_case *cs, long n, int n_cals)
{
  int64_t y0 = pr_days_from_civil(2026, 1, 1) * DAY_MS;
  for (long i = 0; i < n; i++) {
    cs[i].cal = n_cals == 1 ? 0 : (int)(rnd() % (uint64_t)n_cals);
    cs[i].start_ms = y0 + rnd_in(0, 365 * 86400 - 1) * 1000;
    cs[i].dur_ms = rnd_in(60, 16 * 60) * 60 * 1000;
    cs[i].due_ms = 0;
  }
}


/* Run every case; returns ns per call. */
static double
time_cases(bench_cal *cals, bench_case *cs, long n)
{
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    if (pr_cal_add(cals[cs[i].cal].cal, cs[i].start_ms, cs[i].dur_ms,
                   &cs[i].due_ms) != PROMPTLY_OK) {
      cs[i].due_ms = -1;
    }
  }
  return (now_s() - t0) * 1e9 / (double)n;
}


/* Write the calendars and cases for the Perl script, run it, read its
** answers and compare.  Returns Perl's ns per call, or a negative value if
** it could not run. */
static double
run_perl(const bench_cal *cals, const bench_case *cs, long n,
         const char *label)
{
  const char *src = getenv("PROMPTLY_SRCDIR");
  char script[1024], dir[] = "/tmp/bench_calendar.XXXXXX";
  char calp[1100], casep[1100], outp[1100], cmd[4500];
  snprintf(script, sizeof(script), "%s/tests/bench/business_hours.pl",
           src != NULL ? src : ".");
  if (access(script, R_OK) != 0) {
    printf("  Business::Hours: %s not found (set PROMPTLY_SRCDIR)\n", script);
    return -1;
  }
  if (mkdtemp(dir) == NULL) {
    perror("bench: mkdtemp");
    return -1;
  }
  snprintf(calp, sizeof(calp), "%s/calendars.txt", dir);
  snprintf(casep, sizeof(casep), "%s/cases.txt", dir);
  snprintf(outp, sizeof(outp), "%s/answers.txt", dir);
  double ns = -1;
  FILE *f = fopen(calp, "w");
  if (f == NULL) {
    goto cleanup;
  }
  /* "cal day open close brk_open brk_close" (day 0 = Sunday, minutes,
  ** -1 = none), then "cal holiday TEXT". */
  for (int k = 0; k < N_CALS; k++) {
    for (int w = 0; w < 7; w++) {
      const bench_day *d = &cals[k].days[w];
      fprintf(f, "%d day %d %d %d %d %d\n", k, (w + 1) % 7, d->open,
              d->close, d->brk_open, d->brk_close);
    }
    for (int i = 0; i < cals[k].n_holidays; i++) {
      fprintf(f, "%d holiday %s\n", k, cals[k].holidays[i]);
    }
  }
  fclose(f);
  f = fopen(casep, "w");
  if (f == NULL) {
    goto cleanup;
  }
  for (long i = 0; i < n; i++) {
    fprintf(f, "%d %lld %lld\n", cs[i].cal, (long long)(cs[i].start_ms / 1000),
            (long long)(cs[i].dur_ms / 1000));
  }
  fclose(f);
  snprintf(cmd, sizeof(cmd), "TZ=UTC perl '%s' '%s' '%s' '%s'", script, calp,
           casep, outp);
  if (system(cmd) != 0) {
    printf("  Business::Hours: the Perl script failed (is "
           "libbusiness-hours-perl installed?)\n");
    goto cleanup;
  }
  f = fopen(outp, "r");
  if (f == NULL) {
    goto cleanup;
  }
  double secs;
  long agree = 0, beyond = 0, differ = 0;
  if (fscanf(f, "elapsed %lf", &secs) != 1) {
    fclose(f);
    goto cleanup;
  }
  for (long i = 0; i < n; i++) {
    long long due;
    if (fscanf(f, "%lld", &due) != 1) {
      break;
    }
    if (due == -1) {
      beyond++;
    } else if (due * 1000 == cs[i].due_ms) {
      agree++;
    } else {
      if (differ < 3) {
        char a[PR_ISO_LEN], b[PR_ISO_LEN], s[PR_ISO_LEN];
        pr_iso_format(cs[i].start_ms, s);
        pr_iso_format(cs[i].due_ms, a);
        pr_iso_format(due * 1000, b);
        printf("  differ: cal %d start %s +%llds: promptly %s, "
               "Business::Hours %s\n", cs[i].cal, s,
               (long long)(cs[i].dur_ms / 1000), a, b);
      }
      differ++;
    }
  }
  fclose(f);
  ns = secs * 1e9 / (double)n;
  printf("  %-14s Business::Hours: %9.0f calls/s  %12.0f ns/call  "
         "(%ld cases)\n", label, 1e9 / ns, ns, n);
  printf("  %-14s agreement on due instants: %ld of %ld (%ld beyond "
         "Business::Hours' 30 days, %ld differ)\n", label, agree, n - beyond,
         beyond, differ);

cleanup:
  unlink(calp);
  unlink(casep);
  unlink(outp);
  rmdir(dir);
  return ns;
}


int
main(void)
{
  long n = 1000000, n_perl = 2000;
  const char *env = getenv("BENCH_CASES");
  if (env != NULL && atol(env) > 0) {
    n = atol(env);
  }
  env = getenv("BENCH_PERL_CASES");
  if (env != NULL && atol(env) > 0) {
    n_perl = atol(env);
  }
  if (n_perl > n) {
    n_perl = n;
  }
  static bench_cal cals[N_CALS];
  make_calendars(cals);
  double t0 = now_s();
  for (int k = 0; k < N_CALS; k++) {
    if (compile_calendar(&cals[k], "UTC") != 0) {
      return 1;
    }
  }
  double compile_us = (now_s() - t0) * 1e6 / N_CALS;

  bench_case *cs = malloc((size_t)n * sizeof(*cs));
  if (cs == NULL) {
    return 1;
  }
  printf("calendar: pr_cal_add, random starts over 2026, targets 1h..16h "
         "business\n");
  for (int pass = 0; pass < 2; pass++) {
    int n_cals = pass == 0 ? 1 : N_CALS;
    const char *label = pass == 0 ? "1 calendar" : "100 calendars";
    make_cases(cs, n, n_cals);
    /* The first pass fills each calendar's interval cache for 2026 (its
    ** cost is the build line below); the second is the steady state. */
    t0 = now_s();
    for (int k = 0; k < n_cals; k++) {
      int64_t junk;
      pr_cal_add(cals[k].cal, pr_days_from_civil(2026, 12, 31) * DAY_MS, 0,
                 &junk);
      pr_cal_add(cals[k].cal, pr_days_from_civil(2026, 1, 1) * DAY_MS, 0,
                 &junk);
    }
    double warm_us = (now_s() - t0) * 1e6 / n_cals;
    double ns = time_cases(cals, cs, n);
    printf("  %-14s promptly:        %9.0f calls/s  %12.1f ns/call  "
           "(%ld cases; first query of a year builds its intervals in "
           "%.0f us)\n", label, 1e9 / ns, ns, n, warm_us);
    double perl_ns = run_perl(cals, cs, n_perl, label);
    if (perl_ns > 0) {
      printf("  %-14s promptly is %.0fx faster\n", label, perl_ns / ns);
    }
  }
  printf("  spec to calendar (pr_cal_compile): %.1f us each\n", compile_us);

  /* The same office in Berlin, to show a DST zone costs the same. */
  bench_cal berlin = cals[0];
  berlin.cal = NULL;
  if (compile_calendar(&berlin, "Europe/Berlin") == 0) {
    bench_cal one[1] = {berlin};
    make_cases(cs, n, 1);
    time_cases(one, cs, n < 1000 ? n : 1000);
    double ns = time_cases(one, cs, n);
    printf("  %-14s promptly:        %9.0f calls/s  %12.1f ns/call  "
           "(Europe/Berlin office)\n", "1 calendar", 1e9 / ns, ns);
    pr_calendar_free(berlin.cal);
  }
  for (int k = 0; k < N_CALS; k++) {
    pr_calendar_free(cals[k].cal);
  }
  free(cs);
  return 0;
}
