/* bench_events.c - events per second through the default rules plus 500
** extra keywords, one core; p50/p99 latency per event; memory per
** instance.  Printed, never asserted.
**
** It is a host like any other: it dlopen()s $PROMPTLY_SO and replays
** create events in virtual time, one submit + advance per event, which is
** the path `promptly run` takes. */
#include "config.h"

#include "bench_host.h"
#include "promptly.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 200000

/* The default rules plus a file with 500 extra keywords, in a temp dir. */
static void
make_rules(char *dir, const char *defaults)
{
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "cp '%s'/*.lua '%s'/", defaults, dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench: cannot copy %s\n", defaults);
    exit(1);
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/50-bench-keywords.lua", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  unsigned seed = 42;
  for (int rule = 0; rule < 10; rule++) {
    fprintf(f, "priority { \"P%d\", words = {", 1 + rule % 4);
    for (int k = 0; k < 50; k++) {
      char w[16];
      bench_random_word(w, sizeof(w), &seed);
      fprintf(f, "%s\"%s%s\"", k ? ", " : " ", w, k % 7 == 0 ? " zq" : "");
    }
    fprintf(f, " } }\n");
  }
  fclose(f);
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

  char dir[] = "/tmp/promptly-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  make_rules(dir, rules);

  promptly_host host = {0};
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.write_fields = bench_count_write;
  char err[512];
  promptly *p = NULL;

  struct mallinfo2 m0 = mallinfo2();
  int rc = p_open(&host, dir, &p, err, sizeof(err));
  struct mallinfo2 m1 = mallinfo2();
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "bench: open: %s\n", err);
    return 1;
  }

  static const char *subjects[] = {
    "Production is down since 9am",
    "Invoice shows the wrong VAT number, please check",
    "Feature request: dark mode for the dashboard",
    "Login page error after the update, not working for anyone",
    "Question about the API rate limits on the starter plan",
    "Störung im Rechenzentrum Frankfurt",
  };
  static const char *body =
    "Hello team, since this morning our users report that the export "
    "fails with a timeout after roughly thirty seconds. We tried again "
    "from two offices and with two browsers. Could you have a look? "
    "Best regards, Alice from the operations group at Example Corp.";
  double *lat = malloc(sizeof(double) * EVENTS);
  const int64_t t0 = 1795194000000LL;
  double start = bench_now_s();
  for (int i = 0; i < EVENTS; i++) {
    promptly_attr a[6] = {
      {"subject", subjects[i % 6]}, {"body", body},
      {"channel", i % 3 ? "email" : "chat"},
      {"tier", i % 5 ? "starter" : "enterprise"},
      {"type", "question"}, {"queue", "General"},
    };
    promptly_event ev = {sizeof(ev), PROMPTLY_EV_CREATE, i + 1, t0 + i,
                         a, 6, 0, NULL};
    double t = bench_now_s();
    p_submit(p, &ev, NULL, 0);
    p_advance(p, t0 + i);
    lat[i] = bench_now_s() - t;
  }
  double total = bench_now_s() - start;
  struct mallinfo2 m2 = mallinfo2();
  p_close(p);

  qsort(lat, EVENTS, sizeof(double), bench_cmp_double);
  printf("events: %d creates, default rules + 500 extra keywords, one core\n",
         EVENTS);
  printf("  throughput: %.0f events/s (%ld priority writes)\n",
         EVENTS / total, bench_writes);
  printf("  latency per event: p50 %.2f us, p99 %.2f us, max %.2f us\n",
         lat[EVENTS / 2] * 1e6, lat[EVENTS * 99 / 100] * 1e6,
         lat[EVENTS - 1] * 1e6);
  printf("  memory per instance (rules, matcher, loop): %.1f KiB\n",
         (double)(m1.uordblks - m0.uordblks) / 1024.0);
  printf("  memory per ticket (%d tickets): %.0f bytes\n", EVENTS,
         (double)(m2.uordblks - m1.uordblks) / EVENTS);
  free(lat);
  snprintf(err, sizeof(err), "rm -rf '%s'", dir);
  if (system(err) != 0) {
    return 1;
  }
  return 0;
}
