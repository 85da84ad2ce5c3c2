/* bench_host.h - what the dlopen()ing benchmarks share: the module's entry
** points looked up by name in $PROMPTLY_SO (as a real host does), a
** write_fields callback that only counts, clocks, and random words for
** keyword rules.  Invariant: bench_host_load() either fills every pointer
** below or exits with the dlopen/dlsym error; the benches never link the
** module. */
#ifndef PROMPTLY_BENCH_HOST_H
#define PROMPTLY_BENCH_HOST_H

#include "promptly.h"

#include <stddef.h>

extern int (*p_open)(const promptly_host *, const char *, promptly **,
                     char *, size_t);
extern int (*p_submit)(promptly *, const promptly_event *, char *, size_t);
extern int (*p_advance)(promptly *, int64_t);
extern int (*p_close)(promptly *);

/* Fields write callbacks seen by bench_count_write. */
extern long bench_writes;

/* dlopen()s so and looks up the four entry points; exits on failure. */
void bench_host_load(const char *so);

int32_t bench_count_write(void *ud, int64_t ticket, int64_t at_ms,
                          const promptly_attr *f, uint32_t n);

double bench_now_s(void);   /* CLOCK_MONOTONIC, seconds */
double bench_cpu_s(void);   /* this process's CPU time, seconds */
int bench_cmp_double(const void *a, const void *b);   /* for qsort */

/* A lower-case word of 4 to 9 letters (fewer if len is smaller), drawn
** with rand_r(seed): the same seed gives the same words. */
void bench_random_word(char *out, size_t len, unsigned *seed);

#endif
