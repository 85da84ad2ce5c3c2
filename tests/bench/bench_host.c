/* bench_host.c - the host side the dlopen()ing benchmarks share (see
** bench_host.h). */
#include "config.h"

#include "bench_host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int (*p_open)(const promptly_host *, const char *, promptly **, char *,
              size_t);
int (*p_submit)(promptly *, const promptly_event *, char *, size_t);
int (*p_advance)(promptly *, int64_t);
int (*p_close)(promptly *);

long bench_writes;


static void *
need(void *h, const char *name)
{
  void *sym = dlsym(h, name);
  if (sym == NULL) {
    fprintf(stderr, "bench: %s: %s\n", name, dlerror());
    exit(1);
  }
  return sym;
}


void
bench_host_load(const char *so)
{
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "bench: %s\n", dlerror());
    exit(1);
  }
  *(void **)&p_open = need(h, "promptly_open");
  *(void **)&p_submit = need(h, "promptly_submit");
  *(void **)&p_advance = need(h, "promptly_advance");
  *(void **)&p_close = need(h, "promptly_close");
}


int32_t
bench_count_write(void *ud, int64_t ticket, int64_t at_ms,
                  const promptly_attr *f, uint32_t n)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  (void)f;
  (void)n;
  bench_writes++;
  return 0;
}


double
bench_now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


double
bench_cpu_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


int
bench_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}


void
bench_random_word(char *out, size_t len, unsigned *seed)
{
  size_t n = 4 + (size_t)(rand_r(seed) % 6);
  if (n >= len) {
    n = len - 1;
  }
  for (size_t i = 0; i < n; i++) {
    out[i] = (char)('a' + rand_r(seed) % 26);
  }
  out[n] = '\0';
}
