/* fake_host.h - a real host for tests: it dlopen()s the built promptly.so
** ($PROMPTLY_SO) and records every callback. */
#ifndef PR_FAKE_HOST_H
#define PR_FAKE_HOST_H

#include "promptly.h"

#include <pthread.h>
#include <stdint.h>

typedef struct fake_api {
  void *handle;
  uint32_t (*abi_version)(void);
  const char *(*strerror)(int);
  int (*open)(const promptly_host *, const char *, promptly **, char *,
              size_t);
  int (*submit)(promptly *, const promptly_event *, char *, size_t);
  int (*run)(promptly *, int32_t);
  int (*stop)(promptly *);
  int (*advance)(promptly *, int64_t);
  int (*reload)(promptly *, char *, size_t);
  int (*close)(promptly *);
  int (*check)(const promptly_host *, const char *, char *, size_t);
} fake_api;

/* What one host saw.  Counters are written on the loop thread only, except
** the log, which is guarded by lock. */
#define FAKE_MAX_TICKETS 200001
typedef struct fake_host {
  promptly_host host;
  promptly *p;
  pthread_mutex_t lock;
  int writes;
  int actions;
  int errors;            /* log lines at PROMPTLY_LOG_ERROR */
  int warnings;
  char last_log[1024];
  char last_error[1024];
  int64_t last_ticket;
  int64_t last_at_ms;
  char last_priority[32];
  char last_fr_state[32];     /* last sla.first_response.state written */
  char last_action_key[160];
  int64_t now_ms;             /* the host clock when now_ms is set */
  unsigned char *per_ticket;  /* priority writes per ticket id */
  int by_level[10];           /* priority writes of "P<n>" by n */
  int stop_after_writes;      /* call stop when writes reaches it (>0) */
  int close_in_callback_rc;   /* what close returned inside a callback */
  int run_in_callback_rc;
  int try_close_in_callback;
  const fake_api *api;
} fake_host;

/* Load the module; fails the test on error. */
void fake_api_load(fake_api *api);
void fake_api_unload(fake_api *api);

void fake_host_init(fake_host *h, const fake_api *api);
void fake_host_free(fake_host *h);
void fake_host_set_clock(fake_host *h, int64_t now_ms);

/* $PROMPTLY_TEST_SCALE (default 1): slow runs (valgrind) divide the sizes
** of stress tests by it. */
int fake_scale(void);

/* The fixture folder tests/fixtures/rules/NAME in the source tree. */
const char *fake_rules(const char *name);

/* A create event for ticket id with a subject; attrs live in *store. */
typedef struct fake_event {
  promptly_event ev;
  promptly_attr attrs[4];
  char source[32];
} fake_event;
void fake_create(fake_event *fe, int64_t ticket, int64_t at_ms,
                 const char *subject);

#endif
