/* bench_sla.c - the SLA engine under load, through the ABI as a host sees
** it ($PROMPTLY_SO, dlopen), printed, never asserted:
**
**  1. a mixed stream (creates, agent and customer replies, status changes
**     including pending customer, resolutions, manual priority changes)
**     through the shipped rules in virtual time, one submit + advance per
**     event as "promptly run" does, deadlines firing on the way: events/s;
**  2. memory per open ticket (mallinfo2 delta / tickets, without and
**     with the blocks malloc maps apart);
**  3. rebuilding 1,000,000 open tickets after a restart: each ticket's
**     create and two more events, submitted in batches and handed over with
**     promptly_advance: seconds and tickets/s;
**  4. live mode (real clock, now_ms NULL, promptly_run on a thread): the
**     lag between a deadline's instant and its do_action callback, for a
**     few hundred tickets with 2 s / 4 s targets on a 24x7 calendar.
**
** BENCH_SLA_TICKETS overrides the 1,000,000 of part 3 (e.g. for a quick
** look under a sanitizer). */
#include "config.h"

#include "promptly.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int (*p_open)(const promptly_host *, const char *, promptly **, char *,
                     size_t);
static int (*p_submit)(promptly *, const promptly_event *, char *, size_t);
static int (*p_advance)(promptly *, int64_t);
static int (*p_run)(promptly *, int32_t);
static int (*p_stop)(promptly *);
static int (*p_close)(promptly *);

/* Monday 2026-11-23 09:00 UTC: business hours are open. */
#define T0 1795424400000LL

static double
mono_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static int64_t
real_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
die(const char *what, const char *why)
{
  fprintf(stderr, "bench_sla: %s: %s\n", what, why);
  exit(1);
}


/* --- Counting host --------------------------------------------------------- */

typedef struct counts {
  long writes;
  long actions;
} counts;

static int32_t
count_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
            uint32_t n)
{
  (void)ticket;
  (void)at_ms;
  (void)f;
  (void)n;
  ((counts *)ud)->writes++;
  return 0;
}


static int32_t
count_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
             const promptly_attr *args, uint32_t n_args, const char *key)
{
  (void)ticket;
  (void)at_ms;
  (void)action;
  (void)args;
  (void)n_args;
  (void)key;
  ((counts *)ud)->actions++;
  return 0;
}


static void
log_errors(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  if (level <= PROMPTLY_LOG_WARN) {
    fprintf(stderr, "bench_sla: module: %s\n", msg);
  }
}


static promptly *
open_instance(const char *rules, counts *c)
{
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = c;
  host.log = log_errors;
  host.write_fields = count_write;
  host.do_action = count_action;
  char err[1024];
  promptly *p = NULL;
  if (p_open(&host, rules, &p, err, sizeof(err)) != PROMPTLY_OK) {
    die(rules, err);
  }
  return p;
}


/* --- Event streams ------------------------------------------------------------ */

typedef struct bev {
  int64_t at_ms;
  int64_t ticket;
  int32_t type;
  int32_t what;  /* index into the attribute sets below */
} bev;

enum {
  A_NONE, A_CREATE_P3, A_CREATE_P1, A_CREATE_P2_ENT, A_CREATE_P4,
  A_PENDING, A_OPEN, A_RESOLVED, A_PRIO_P2, A_PRIO_P4, A_N
};

static const char *body =
  "Hello team, since this morning our users report that the export fails "
  "with a timeout after roughly thirty seconds. We tried again from two "
  "offices and with two browsers. Could you have a look? Best regards, "
  "Alice from the operations group at Example Corp.";

static const promptly_attr attr_sets[A_N][5] = {
  [A_CREATE_P3] = {{"subject", "Question about the invoice layout"},
                   {"body", NULL}, {"channel", "email"}, {"queue", "General"},
                   {"status", "new"}},
  [A_CREATE_P1] = {{"subject", "Production is down"}, {"body", NULL},
                   {"channel", "phone"}, {"queue", "Ops"}, {"status", "new"}},
  [A_CREATE_P2_ENT] = {{"subject", "Login error on the portal"},
                       {"body", NULL}, {"tier", "enterprise"},
                       {"queue", "General"}, {"status", "new"}},
  [A_CREATE_P4] = {{"subject", "Feature request: dark mode"}, {"body", NULL},
                   {"channel", "web"}, {"queue", "Feedback"},
                   {"status", "new"}},
  [A_PENDING] = {{"status", "pending customer"}},
  [A_OPEN] = {{"status", "open"}},
  [A_RESOLVED] = {{"status", "resolved"}},
  [A_PRIO_P2] = {{"priority", "P2"}},
  [A_PRIO_P4] = {{"priority", "P4"}},
};

static uint32_t
n_attrs(int what)
{
  switch (what) {
  case A_NONE: return 0;
  case A_CREATE_P3: case A_CREATE_P1: case A_CREATE_P2_ENT: case A_CREATE_P4:
    return 5;
  default: return 1;
  }
}


static int
submit(promptly *p, const bev *e)
{
  promptly_attr a[5];
  uint32_t n = n_attrs(e->what);
  for (uint32_t i = 0; i < n; i++) {
    a[i] = attr_sets[e->what][i];
    if (a[i].value == NULL) {
      a[i].value = body;
    }
  }
  promptly_event ev = {sizeof(ev), e->type, e->ticket, e->at_ms, a, n, 0,
                       NULL};
  char err[512];
  int rc = p_submit(p, &ev, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    die("submit", err);
  }
  return rc;
}


static int
cmp_bev(const void *a, const void *b)
{
  const bev *x = a, *y = b;
  if (x->at_ms != y->at_ms) {
    return x->at_ms < y->at_ms ? -1 : 1;
  }
  return (x->ticket > y->ticket) - (x->ticket < y->ticket);
}


/* The mixed life of ticket i, created at t: one of four stories. */
static size_t
story(bev *out, int64_t i, int64_t t)
{
  const int64_t min = 60000;
  size_t n = 0;
#define EV(dt, ty, w) (out[n++] = (bev){t + (dt), i, (ty), (w)})
  switch (i % 4) {
  case 0:  /* P3: answered, waits for the customer, answered, resolved */
    EV(0, PROMPTLY_EV_CREATE, A_CREATE_P3);
    EV(20 * min, PROMPTLY_EV_REPLY_AGENT, A_NONE);
    EV(21 * min, PROMPTLY_EV_STATUS, A_PENDING);
    EV(26 * 60 * min, PROMPTLY_EV_REPLY_CUSTOMER, A_NONE);
    EV(26 * 60 * min + 1, PROMPTLY_EV_STATUS, A_OPEN);
    EV(27 * 60 * min, PROMPTLY_EV_REPLY_AGENT, A_NONE);
    EV(28 * 60 * min, PROMPTLY_EV_STATUS, A_RESOLVED);
    break;
  case 1:  /* P1 by keyword, lowered to P2 by an agent, escalates */
    EV(0, PROMPTLY_EV_CREATE, A_CREATE_P1);
    EV(5 * min, PROMPTLY_EV_PRIORITY, A_PRIO_P2);
    EV(90 * min, PROMPTLY_EV_REPLY_AGENT, A_NONE);
    EV(95 * min, PROMPTLY_EV_REPLY_CUSTOMER, A_NONE);
    EV(10 * 60 * min, PROMPTLY_EV_REPLY_AGENT, A_NONE);
    break;
  case 2:  /* enterprise P2: answered, pending, customer comes back */
    EV(0, PROMPTLY_EV_CREATE, A_CREATE_P2_ENT);
    EV(30 * min, PROMPTLY_EV_REPLY_AGENT, A_NONE);
    EV(40 * min, PROMPTLY_EV_STATUS, A_PENDING);
    EV(50 * 60 * min, PROMPTLY_EV_REPLY_CUSTOMER, A_NONE);
    EV(51 * 60 * min, PROMPTLY_EV_STATUS, A_RESOLVED);
    break;
  default:  /* P4 feature request, set to P4 again, a note, never answered */
    EV(0, PROMPTLY_EV_CREATE, A_CREATE_P4);
    EV(min, PROMPTLY_EV_PRIORITY, A_PRIO_P4);
    EV(2 * min, PROMPTLY_EV_NOTE, A_NONE);
    break;
  }
#undef EV
  return n;
}


/* Part 1 and 2: the mixed stream. */
static void
bench_mixed(const char *rules)
{
  const int64_t tickets = 100000;
  bev *evs = malloc(sizeof(bev) * (size_t)tickets * 7);
  if (evs == NULL) {
    die("mixed", "out of memory");
  }
  size_t n = 0;
  for (int64_t i = 0; i < tickets; i++) {
    /* One new ticket every 3 s: 100k tickets over about 3.5 days. */
    n += story(evs + n, i + 1, T0 + i * 3000);
  }
  qsort(evs, n, sizeof(bev), cmp_bev);

  counts c = {0, 0};
  promptly *p = open_instance(rules, &c);
  double start = mono_s();
  for (size_t i = 0; i < n; i++) {
    submit(p, &evs[i]);
    p_advance(p, evs[i].at_ms);
  }
  double events_s = mono_s() - start;
  /* Fire what is left: two weeks later every clock has run out. */
  double t_rest = mono_s();
  p_advance(p, evs[n - 1].at_ms + 14LL * 86400000);
  t_rest = mono_s() - t_rest;
  p_close(p);

  long per_kind[11] = {0};
  for (size_t i = 0; i < n; i++) {
    per_kind[evs[i].type]++;
  }
  printf("mixed stream: %zu events on %lld tickets, shipped rules, virtual "
         "time, one core\n", n, (long long)tickets);
  printf("  (creates %ld, agent replies %ld, customer replies %ld, status "
         "%ld, priority %ld, notes %ld)\n",
         per_kind[PROMPTLY_EV_CREATE], per_kind[PROMPTLY_EV_REPLY_AGENT],
         per_kind[PROMPTLY_EV_REPLY_CUSTOMER], per_kind[PROMPTLY_EV_STATUS],
         per_kind[PROMPTLY_EV_PRIORITY], per_kind[PROMPTLY_EV_NOTE]);
  printf("  throughput: %.0f events/s (submit + advance each, deadlines "
         "included)\n", (double)n / events_s);
  printf("  %ld writes, %ld actions; the last two weeks of deadlines: "
         "%.2f s\n", c.writes, c.actions, t_rest);
  free(evs);
}


/* Part 2 and 3: open tickets, rebuilt after a restart. */
static void
bench_rebuild(const char *rules, int64_t tickets)
{
  counts c = {0, 0};
  promptly *p = open_instance(rules, &c);
  const int batch = 3000;  /* events per promptly_advance */
  bev *evs = malloc(sizeof(bev) * (size_t)batch);
  if (evs == NULL) {
    die("rebuild", "out of memory");
  }
  /* A ticket every millisecond; its agent reply 1 s and a customer reply
  ** 2 s later, in time order: P3 in business hours, so nothing falls due
  ** during the replay (1,000,000 tickets span about 17 minutes of virtual
  ** time).  Every ticket stays open: resolution and next response run. */
  struct mallinfo2 m0 = mallinfo2();
  double start = mono_s();
  size_t n = 0;
  for (int64_t k = 1; k <= tickets + 2000; k++) {
    int64_t t = T0 + k;
    if (k <= tickets) {
      evs[n++] = (bev){t, k, PROMPTLY_EV_CREATE, A_CREATE_P3};
    }
    if (k > 1000 && k - 1000 <= tickets) {
      evs[n++] = (bev){t, k - 1000, PROMPTLY_EV_REPLY_AGENT, A_NONE};
    }
    if (k > 2000) {
      evs[n++] = (bev){t, k - 2000, PROMPTLY_EV_REPLY_CUSTOMER, A_NONE};
    }
    if (n + 3 > (size_t)batch || k == tickets + 2000) {
      for (size_t i = 0; i < n; i++) {
        submit(p, &evs[i]);
      }
      p_advance(p, evs[n - 1].at_ms);
      n = 0;
    }
  }
  double secs = mono_s() - start;
  struct mallinfo2 m1 = mallinfo2();
  printf("rebuild: %lld open tickets, create + agent reply + customer reply "
         "each, advance per %d events\n", (long long)tickets, batch);
  printf("  %.1f s, %.0f tickets/s, %.0f events/s (%ld writes)\n", secs,
         (double)tickets / secs, (double)tickets * 3 / secs, c.writes);
  printf("  memory per open ticket: %.0f bytes (mallinfo2 delta / "
         "tickets)\n",
         (double)(m1.uordblks - m0.uordblks) / (double)tickets);
  /* uordblks leaves out the blocks malloc maps apart (the large arrays:
  ** the ticket slots, the deadline heap); hblkhd counts them. */
  printf("  with the blocks mapped apart: %.0f bytes (uordblks + hblkhd "
         "delta / tickets)\n",
         ((double)m1.uordblks + (double)m1.hblkhd - (double)m0.uordblks -
          (double)m0.hblkhd) / (double)tickets);
  double t_close = mono_s();
  p_close(p);
  printf("  close (frees them all): %.2f s\n", mono_s() - t_close);
  free(evs);
}


/* --- Part 4: live lag ----------------------------------------------------------- */

#define LIVE_TICKETS 300
#define LIVE_ACTIONS (LIVE_TICKETS * 4)

typedef struct live {
  promptly *p;
  atomic_int n;
  int64_t lag_ms[LIVE_ACTIONS + 64];
} live;

static int32_t
live_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
            const promptly_attr *args, uint32_t n_args, const char *key)
{
  (void)ticket;
  (void)action;
  (void)args;
  (void)n_args;
  (void)key;
  live *l = ud;
  int64_t now = real_ms();
  int i = atomic_fetch_add(&l->n, 1);
  if (i < LIVE_ACTIONS + 64) {
    l->lag_ms[i] = now - at_ms;
  }
  return 0;
}


static int32_t
live_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
           uint32_t n)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  (void)f;
  (void)n;
  return 0;
}


static void *
live_loop(void *arg)
{
  live *l = arg;
  int rc = p_run(l->p, PROMPTLY_RUN_DEFAULT);
  if (rc < 0) {
    fprintf(stderr, "bench_sla: promptly_run: %d\n", rc);
  }
  return NULL;
}


static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}


static void
write_file(const char *dir, const char *name, const char *text)
{
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    die(path, "cannot write");
  }
}


static void
bench_live(void)
{
  char dir[] = "/tmp/promptly-bench-sla-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    die("mkdtemp", "failed");
  }
  write_file(dir, "00-calendars.lua", "calendar \"24x7\" { hours = \"24x7\" }\n");
  write_file(dir, "20-fast.lua",
             "policy \"fast\" { calendar = \"24x7\",\n"
             "  first_response = \"2s\", resolution = \"4s\" }\n"
             "at \"50%\" { notify = \"team-lead\" }\n"
             "at \"100%\" { notify = \"manager\" }\n");

  live *l = calloc(1, sizeof(*l));
  if (l == NULL) {
    die("live", "out of memory");
  }
  atomic_init(&l->n, 0);
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = l;
  host.log = log_errors;
  host.now_ms = NULL;  /* the real clock */
  host.write_fields = live_write;
  host.do_action = live_action;
  char err[1024];
  if (p_open(&host, dir, &l->p, err, sizeof(err)) != PROMPTLY_OK) {
    die(dir, err);
  }
  pthread_t th;
  if (pthread_create(&th, NULL, live_loop, l) != 0) {
    die("live", "pthread_create");
  }
  /* 300 tickets over 1.5 s: each has thresholds at 1, 2 (two), 4 s. */
  for (int i = 0; i < LIVE_TICKETS; i++) {
    promptly_attr a[1] = {{"subject", "Live ticket"}};
    promptly_event ev = {sizeof(ev), PROMPTLY_EV_CREATE, i + 1, 0, a, 1, 0,
                         NULL};
    if (p_submit(l->p, &ev, err, sizeof(err)) != PROMPTLY_OK) {
      die("live submit", err);
    }
    usleep(5000);
  }
  double deadline = mono_s() + 30;
  while (atomic_load(&l->n) < LIVE_ACTIONS && mono_s() < deadline) {
    usleep(10000);
  }
  p_stop(l->p);
  pthread_join(th, NULL);
  p_close(l->p);

  int n = atomic_load(&l->n);
  if (n > LIVE_ACTIONS + 64) {
    n = LIVE_ACTIONS + 64;
  }
  qsort(l->lag_ms, (size_t)n, sizeof(int64_t), cmp_i64);
  printf("live: %d tickets, first response 2s / resolution 4s on 24x7, "
         "at 50%% and 100%%: %d of %d actions\n", LIVE_TICKETS, n,
         LIVE_ACTIONS);
  if (n > 0) {
    printf("  lag from the deadline's instant to do_action: p50 %lld ms, "
           "p99 %lld ms, max %lld ms (min %lld ms)\n",
           (long long)l->lag_ms[n / 2], (long long)l->lag_ms[n * 99 / 100],
           (long long)l->lag_ms[n - 1], (long long)l->lag_ms[0]);
  }
  free(l);
  snprintf(err, sizeof(err), "rm -rf '%s'", dir);
  if (system(err) != 0) {
    die(dir, "cannot remove");
  }
}


int
main(void)
{
  const char *so = getenv("PROMPTLY_SO");
  const char *rules = getenv("PROMPTLY_RULES");
  if (so == NULL || rules == NULL) {
    fprintf(stderr, "bench_sla: set PROMPTLY_SO and PROMPTLY_RULES\n");
    return 1;
  }
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    die(so, dlerror());
  }
  *(void **)&p_open = dlsym(h, "promptly_open");
  *(void **)&p_submit = dlsym(h, "promptly_submit");
  *(void **)&p_advance = dlsym(h, "promptly_advance");
  *(void **)&p_run = dlsym(h, "promptly_run");
  *(void **)&p_stop = dlsym(h, "promptly_stop");
  *(void **)&p_close = dlsym(h, "promptly_close");
  if (!p_open || !p_submit || !p_advance || !p_run || !p_stop || !p_close) {
    die(so, "missing symbols");
  }
  int64_t tickets = 1000000;
  const char *env = getenv("BENCH_SLA_TICKETS");
  if (env != NULL && atoll(env) > 0) {
    tickets = atoll(env);
  }
  double start = mono_s();
  bench_mixed(rules);
  bench_rebuild(rules, tickets);
  bench_live();
  printf("bench_sla: %.0f s in all\n", mono_s() - start);
  return 0;
}
