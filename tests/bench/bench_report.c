/* bench_report.c - time and peak memory of "promptly report" over 100,000
** and 1,000,000 outcome records (BENCH_REPORT_SIZES="N,N..." to change).
** Printed, never asserted.
**
** The records are generated here, deterministically (a fixed-seed
** xorshift), in a temporary file: tickets of four priorities and four
** metrics, about 12% breached, some paused, some priorities raised, open
** cycles at the end.  The tool runs as a child so that its peak RSS is its
** own (wait4's ru_maxrss), once for a plain report and once with
** everything (--by metric,priority,week --breaches --calibrate --format
** json). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t
next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void
iso(int64_t ms, char *out, size_t len)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
generate(const char *path, long n)
{
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "bench_report: %s: %s\n", path, strerror(errno));
    return -1;
  }
  static const char *const metrics[] = {"first_response", "next_response",
                                        "periodic_update", "resolution"};
  static const char *const prios[] = {"P1", "P2", "P3", "P4"};
  static const char *const chans[] = {"email", "web", "phone"};
  static const char *const tiers[] = {"enterprise", "professional",
                                      "starter"};
  static const int64_t targets[4][4] = {
    {30, 60, 240, 1440}, {60, 120, 480, 1440},
    {120, 240, 480, 1440}, {240, 480, 1440, 4320}};
  int64_t t0 = 1767225600000;  /* 2026-01-01T00:00:00Z */
  for (long i = 0; i < n; i++) {
    uint64_t r = next();
    int m = (int)(r % 4), p = (int)(r / 4 % 4);
    int64_t target = targets[m][p] * 60000;
    int64_t start = t0 + (int64_t)(i * 29000) + (int64_t)(r / 16 % 600000);
    int64_t elapsed = (int64_t)(next() % (uint64_t)(target + target / 3));
    int breached = elapsed > target;
    int open = i >= n - n / 100;
    int64_t paused = r % 7 == 0 ? (int64_t)(r / 64 % 3600000) : 0;
    int64_t stop = start + elapsed + paused + (int64_t)(r / 256 % 7200000);
    char s[32], e[32], b[32], bt[32];
    snprintf(bt, sizeof(bt), "%" PRId64, target);
    iso(start, s, sizeof(s));
    iso(stop, e, sizeof(e));
    iso(start + target, b, sizeof(b));
    const char *pend = breached && p > 0 && r % 3 == 0 ? prios[p - 1]
                                                       : prios[p];
    const char *outcome = open ? (r % 5 == 0 ? "paused" : "active")
                          : breached ? "breached"
                                     : "met";
    fprintf(f,
            "{\"ticket\": %ld, \"metric\": \"%s\", \"cycle\": 1, "
            "\"policy\": \"corporate\", \"calendar\": \"business\", "
            "\"priority_start\": \"%s\", \"priority_end\": \"%s\", "
            "\"target_ms\": %" PRId64 ", \"started\": \"%s\", "
            "\"stopped\": %s%s%s, \"due\": \"%s\", \"outcome\": \"%s\", "
            "\"breached_at\": %s%s%s, \"breach_policy\": %s, "
            "\"breach_target_ms\": %s, \"elapsed_ms\": %" PRId64 ", "
            "\"paused_ms\": %" PRId64 ", \"customer_wait_ms\": %" PRId64
            ", \"outside_ms\": %" PRId64 ", \"attrs\": {\"queue\": "
            "\"support\", \"channel\": \"%s\", \"tier\": \"%s\", "
            "\"customer\": \"c%d\"}, \"exceptions\": [], \"keys\": []}\n",
            i / 4 + 1, metrics[m], prios[p], pend, target, s,
            open ? "" : "\"", open ? "null" : e, open ? "" : "\"", b,
            outcome, breached && !open ? "\"" : "",
            breached && !open ? b : "null", breached && !open ? "\"" : "",
            breached && !open ? "\"corporate\"" : "null",
            breached && !open ? bt : "null", elapsed, paused,
            paused, (int64_t)(r / 1024 % 3600000),
            chans[r / 4096 % 3], tiers[r / 16384 % 3], (int)(r / 65536 % 200));
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "bench_report: %s: write error\n", path);
    return -1;
  }
  return 0;
}

static int
run(const char *bin, char *const argv[], const char *what, long n)
{
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_report: fork");
    return -1;
  }
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
    }
    execv(bin, argv);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("bench_report: wait4");
    return -1;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench_report: %s failed (status %d)\n", what, status);
    return -1;
  }
  printf("report %-10s %8ld records: %7.2f s, %8.0f records/s, peak RSS "
         "%ld MiB\n",
         what, n, s, (double)n / s, ru.ru_maxrss / 1024);
  return 0;
}

int
main(void)
{
  const char *bin = getenv("PROMPTLY_BIN");
  if (bin == NULL) {
    fprintf(stderr, "bench_report: set PROMPTLY_BIN\n");
    return 2;
  }
  const char *sizes = getenv("BENCH_REPORT_SIZES");
  if (sizes == NULL) {
    sizes = "100000,1000000";
  }
  char dir[] = "/tmp/bench_report.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("bench_report: mkdtemp");
    return 1;
  }
  char path[64];
  snprintf(path, sizeof(path), "%s/records.jsonl", dir);
  int rc = 0;
  for (const char *p = sizes; *p != '\0' && rc == 0;) {
    char *end;
    long n = strtol(p, &end, 10);
    if (end == p || n <= 0) {
      fprintf(stderr, "bench_report: bad BENCH_REPORT_SIZES '%s'\n", sizes);
      rc = 2;
      break;
    }
    p = *end == ',' ? end + 1 : end;
    rng = 0x9E3779B97F4A7C15u;
    if (generate(path, n) != 0) {
      rc = 1;
      break;
    }
    char *plain[] = {(char *)bin, "report", "--records", path, NULL};
    char *all[] = {(char *)bin, "report", "--records", path, "--by",
                   "metric,priority,week", "--breaches", "--calibrate",
                   "--from", "2026-01-01", "--format", "json", NULL};
    if (run(bin, plain, "plain", n) != 0 || run(bin, all, "everything", n) != 0) {
      rc = 1;
    }
  }
  unlink(path);
  rmdir(dir);
  return rc;
}
