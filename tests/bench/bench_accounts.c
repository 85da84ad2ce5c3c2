/* bench_accounts.c - the scale of a rule set: load time and events per
** second with 10,000 account policies (one accounts declaration reading a
** CSV file) and 100,000 keywords, next to 10 accounts and 1,000 keywords,
** so that a per-event cost growing with the policies that cannot match
** would show; and the cost of a calendar whose zone comes from the ticket
** (tz = from(...)) with 400 distinct zones of the system's tz database
** (tzdata.zi), next to every ticket in one zone.  Load time is wall and CPU time of promptly_open (the CPU
** time is what the machine's other load does not change).  Printed, never
** asserted.
**
** A host like any other: dlopen()s $PROMPTLY_SO and replays create events
** in virtual time, one submit + advance per event. */
#include "config.h"

#include "bench_host.h"
#include "promptly.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 100000

/* The default rules, n_accounts account policies (a CSV file read by one
** accounts declaration) and n_words keywords in 20 priority rules, in dir. */
static void
make_rules(char *dir, const char *defaults, int n_accounts, int n_words)
{
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "cp '%s'/*.lua '%s'/", defaults, dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench: cannot copy %s\n", defaults);
    exit(1);
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/accounts.csv", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  fprintf(f, "customer,first_response,resolution.P1,resolution.P3\n");
  for (int i = 0; i < n_accounts; i++) {
    fprintf(f, "acct%d,%dh,%dh,%dh\n", i, 1 + i % 8, 4 + i % 4, 24 + i % 24);
  }
  fclose(f);
  snprintf(path, sizeof(path), "%s/25-accounts.lua", dir);
  if ((f = fopen(path, "w")) == NULL) {
    perror(path);
    exit(1);
  }
  fprintf(f, "accounts \"customer\" { calendar = \"business\", "
             "file = \"accounts.csv\" }\n");
  fclose(f);
  snprintf(path, sizeof(path), "%s/50-bench-keywords.lua", dir);
  if ((f = fopen(path, "w")) == NULL) {
    perror(path);
    exit(1);
  }
  unsigned seed = 42;
  for (int rule = 0; rule < 20; rule++) {
    fprintf(f, "priority { \"P%d\", words = {", 1 + rule % 4);
    for (int k = 0; k < n_words / 20; k++) {
      char w[16];
      bench_random_word(w, sizeof(w), &seed);
      fprintf(f, "%s\"%s zq%d\"", k ? ", " : " ", w, k);
    }
    fprintf(f, " } }\n");
  }
  fclose(f);
}


/* Open a folder with n_accounts and n_words, replay EVENTS creates of
** customers among n_accounts (and some without a row), print the load
** time and events/s. */
static int
run(const char *defaults, int n_accounts, int n_words)
{
  char dir[] = "/tmp/promptly-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  make_rules(dir, defaults, n_accounts, n_words);

  promptly_host host = {0};
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.write_fields = bench_count_write;
  char err[512];
  promptly *p = NULL;
  double l0 = bench_now_s(), c0 = bench_cpu_s();
  int rc = p_open(&host, dir, &p, err, sizeof(err));
  double load = bench_now_s() - l0, load_cpu = bench_cpu_s() - c0;
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "bench: open: %s\n", err);
    return 1;
  }
  static const char *subjects[] = {
    "Production is down since 9am",
    "Invoice shows the wrong VAT number, please check",
    "Question about the API rate limits on the starter plan",
  };
  static const char *body =
    "Hello team, since this morning our users report that the export "
    "fails with a timeout after roughly thirty seconds. We tried again "
    "from two offices and with two browsers. Could you have a look? "
    "Best regards, Alice from the operations group at Example Corp.";
  double *lat = malloc(sizeof(double) * EVENTS);
  const int64_t t0 = 1795194000000LL;
  unsigned seed = 7;
  bench_writes = 0;
  double start = bench_now_s();
  for (int i = 0; i < EVENTS; i++) {
    char customer[32];
    /* One in ten has no row. */
    snprintf(customer, sizeof(customer), "acct%d",
             i % 10 ? (int)(rand_r(&seed) % (unsigned)n_accounts)
                    : n_accounts + i);
    promptly_attr a[5] = {
      {"subject", subjects[i % 3]}, {"body", body},
      {"customer", customer}, {"tier", i % 5 ? "starter" : "enterprise"},
      {"queue", "General"},
    };
    promptly_event ev = {sizeof(ev), PROMPTLY_EV_CREATE, i + 1, t0 + i,
                         a, 5, 0, NULL};
    double t = bench_now_s();
    p_submit(p, &ev, NULL, 0);
    p_advance(p, t0 + i);
    lat[i] = bench_now_s() - t;
  }
  double total = bench_now_s() - start;
  p_close(p);
  qsort(lat, EVENTS, sizeof(double), bench_cmp_double);
  printf("  %5d account policies, %6d keywords: load %.3f s (CPU %.3f s), "
         "%.0f events/s (p50 %.2f us, p99 %.2f us)\n",
         n_accounts, n_words, load, load_cpu, EVENTS / total,
         lat[EVENTS / 2] * 1e6, lat[EVENTS * 99 / 100] * 1e6);
  free(lat);
  snprintf(err, sizeof(err), "rm -rf '%s'", dir);
  return system(err) != 0;
}


/* Up to max zone names of the tz database ("Z name" lines of tzdata.zi). */
static int
read_zones(char names[][64], int max)
{
  FILE *f = fopen("/usr/share/zoneinfo/tzdata.zi", "r");
  if (f == NULL) {
    return 0;
  }
  char line[512];
  int n = 0;
  while (n < max && fgets(line, sizeof(line), f) != NULL) {
    if (line[0] == 'Z' && line[1] == ' ' &&
        sscanf(line + 2, "%63s", names[n]) == 1) {
      n++;
    }
  }
  fclose(f);
  return n;
}


/* EVENTS creates through a calendar with tz = from("customer_tz", ...),
** the tickets spread over n_zones zones (1: all in one). */
static int
run_zones(char names[][64], int n_zones)
{
  char dir[] = "/tmp/promptly-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/20-zones.lua", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  fprintf(f, "calendar \"customer-hours\" { hours = { mon_fri = { "
             "\"09:00-17:00\" } }, tz = from(\"customer_tz\", "
             "\"Europe/Berlin\") }\n"
             "policy \"standard\" { calendar = \"customer-hours\", "
             "first_response = \"4h\", resolution = \"16h\" }\n");
  fclose(f);
  promptly_host host = {0};
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.write_fields = bench_count_write;
  char err[512];
  promptly *p = NULL;
  if (p_open(&host, dir, &p, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "bench: open: %s\n", err);
    return 1;
  }
  const int64_t t0 = 1795194000000LL;
  double start = bench_now_s(), c0 = bench_cpu_s();
  for (int i = 0; i < EVENTS; i++) {
    promptly_attr a[3] = {
      {"subject", "Invoice question"},
      {"customer_tz", names[i % n_zones]},
      {"queue", "General"},
    };
    promptly_event ev = {sizeof(ev), PROMPTLY_EV_CREATE, i + 1,
                         t0 + (int64_t)i * 1000, a, 3, 0, NULL};
    p_submit(p, &ev, NULL, 0);
    p_advance(p, t0 + (int64_t)i * 1000);
  }
  double total = bench_now_s() - start, cpu = bench_cpu_s() - c0;
  p_close(p);
  printf("  %3d zone%s: %.0f events/s (CPU %.2f s for %d creates)\n",
         n_zones, n_zones == 1 ? " " : "s", EVENTS / total, cpu, EVENTS);
  snprintf(err, sizeof(err), "rm -rf '%s'", dir);
  return system(err) != 0;
}


int
main(void)
{
  const char *so = getenv("PROMPTLY_SO");
  const char *rules = getenv("PROMPTLY_RULES");
  if (so == NULL || rules == NULL) {
    fprintf(stderr, "bench: set PROMPTLY_SO and PROMPTLY_RULES\n");
    return 1;
  }
  bench_host_load(so);
  printf("accounts: %d creates (customers among the accounts, one in ten "
         "without a row), default rules, one core\n", EVENTS);
  int bad = run(rules, 10, 1000);
  bad |= run(rules, 10000, 1000);
  bad |= run(rules, 10000, 100000);
  static char zones[400][64];
  int n = read_zones(zones, 400);
  printf("zone from the ticket: %d creates, 4h/16h in the customer's "
         "09:00-17:00\n", EVENTS);
  if (n < 400) {
    printf("  (only %d zones in /usr/share/zoneinfo/tzdata.zi)\n", n);
  }
  if (n > 0) {
    bad |= run_zones(zones, 1);
    bad |= run_zones(zones, n);
  }
  return bad;
}
