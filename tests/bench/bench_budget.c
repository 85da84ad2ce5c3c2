/* bench_budget.c - what the CPU time budget costs: the default rules'
** verdicts on create events (the priority, then the policies: the sandbox
** calls an event makes), with the time budget as shipped and with it off
** (PR_SANDBOX_TIME_OFF: no clock read at all).  Measured on the thread's
** CPU clock, in short rounds that alternate between the two so that a
** busy machine slows both alike; the best round of each is printed.
** Printed, never asserted.
**
** Needs PROMPTLY_RULES (make bench sets it). */
#include "config.h"

#include "promptly.h"
#include "rules.h"
#include "sandbox.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EVENTS 20000
#define ROUNDS 25

static double
now_s(void)
{
  struct timespec ts;
  /* The thread's CPU time: other processes on a busy machine do not
  ** count, only what the verdicts cost. */
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static pr_rules *
load(const char *dir, uint64_t call_ns)
{
  pr_rules_opts o = {0};
  o.time_call_ns = call_ns;
  pr_rules *r = NULL;
  char err[1024];
  if (pr_rules_load(dir, &o, &r, err, sizeof(err)) != PROMPTLY_OK) {
    fprintf(stderr, "bench: %s: %s\n", dir, err);
    exit(1);
  }
  return r;
}


/* Seconds for EVENTS verdicts. */
static double
round_of(pr_rules *r)
{
  static const char *subjects[] = {
    "Production is down since 9am",
    "Invoice shows the wrong VAT number, please check",
    "Feature request: dark mode for the dashboard",
    "Login page error after the update, not working for anyone",
    "Question about the API rate limits on the starter plan",
    "St\xc3\xb6rung im Rechenzentrum Frankfurt",
  };
  static const char *body =
    "Hello team, since this morning our users report that the export "
    "fails with a timeout after roughly thirty seconds. Could you have a "
    "look? Best regards, Alice from the operations group.";
  double t0 = now_s();
  for (int i = 0; i < EVENTS; i++) {
    pr_kv a[6] = {
      {"subject", subjects[i % 6]}, {"body", body},
      {"channel", i % 3 ? "email" : "chat"},
      {"tier", i % 5 ? "starter" : "enterprise"},
      {"type", i % 7 ? "question" : "incident"}, {"queue", "General"},
    };
    size_t level;
    const char *why;
    uint64_t mask;
    char err[256];
    if (pr_rules_priority(r, i + 1, a, 6, &level, &why, err, sizeof(err)) !=
          PROMPTLY_OK ||
        pr_rules_policies(r, i + 1, a, 6, &mask, err, sizeof(err)) !=
          PROMPTLY_OK) {
      fprintf(stderr, "bench: %s\n", err);
      exit(1);
    }
  }
  return now_s() - t0;
}


int
main(void)
{
  const char *dir = getenv("PROMPTLY_RULES");
  if (dir == NULL) {
    fprintf(stderr, "bench: set PROMPTLY_RULES\n");
    return 1;
  }
  pr_rules *with = load(dir, 0);
  pr_rules *without = load(dir, PR_SANDBOX_TIME_OFF);
  double best_with = 1e9, best_without = 1e9;
  for (int i = 0; i < ROUNDS; i++) {
    double a = round_of(with), b = round_of(without);
    best_with = a < best_with ? a : best_with;
    best_without = b < best_without ? b : best_without;
  }
  double ev_with = EVENTS / best_with, ev_without = EVENTS / best_without;
  printf("time budget: %d create verdicts (priority + policies) on the "
         "default rules, best of %d rounds\n", EVENTS, ROUNDS);
  printf("  with the time budget (%d ms a call): %.0f events/s\n",
         (int)(PR_SANDBOX_TIME_CALL / 1000000), ev_with);
  printf("  without (no clock read):        %.0f events/s\n", ev_without);
  printf("  cost of the time budget: %+.1f%% (%.0f ns an event)\n",
         (ev_without - ev_with) / ev_without * 100.0,
         (best_with - best_without) / EVENTS * 1e9);
  pr_rules_free(with);
  pr_rules_free(without);
  return 0;
}
