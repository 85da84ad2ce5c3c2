/* fake_host.c - a real host for tests: dlopen()s promptly.so and records. */
#include "config.h"

#include "cmocka_all.h"

#include "fake_host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE(api, name)                                                   \
  do {                                                                       \
    *(void **)&(api)->name = dlsym((api)->handle, "promptly_" #name);        \
    assert_non_null((api)->name);                                            \
  } while (0)

void
fake_api_load(fake_api *api)
{
  const char *path = getenv("PROMPTLY_SO");
  assert_non_null(path);
  api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (api->handle == NULL) {
    fail_msg("dlopen %s: %s", path, dlerror());
  }
  RESOLVE(api, abi_version);
  RESOLVE(api, strerror);
  RESOLVE(api, open);
  RESOLVE(api, submit);
  RESOLVE(api, run);
  RESOLVE(api, stop);
  RESOLVE(api, advance);
  RESOLVE(api, reload);
  RESOLVE(api, close);
  RESOLVE(api, check);
}


void
fake_api_unload(fake_api *api)
{
  dlclose(api->handle);
  api->handle = NULL;
}


static void
on_log(void *ud, int32_t level, const char *msg)
{
  fake_host *h = ud;
  pthread_mutex_lock(&h->lock);
  snprintf(h->last_log, sizeof(h->last_log), "%s", msg);
  if (level == PROMPTLY_LOG_ERROR) {
    h->errors++;
    snprintf(h->last_error, sizeof(h->last_error), "%s", msg);
  } else if (level == PROMPTLY_LOG_WARN) {
    h->warnings++;
  }
  if (getenv("FAKE_HOST_VERBOSE") != NULL) {
    fprintf(stderr, "log %d: %s\n", (int)level, msg);
  }
  pthread_mutex_unlock(&h->lock);
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  fake_host *h = ud;
  h->writes++;
  h->last_ticket = ticket;
  h->last_at_ms = at_ms;
  for (uint32_t i = 0; i < n; i++) {
    if (strcmp(f[i].name, "sla.first_response.state") == 0) {
      snprintf(h->last_fr_state, sizeof(h->last_fr_state), "%s", f[i].value);
    }
    if (strcmp(f[i].name, "priority") == 0) {
      snprintf(h->last_priority, sizeof(h->last_priority), "%s", f[i].value);
      if (f[i].value[0] == 'P' && f[i].value[1] >= '0' &&
          f[i].value[1] <= '9') {
        h->by_level[f[i].value[1] - '0']++;
      }
      if (h->per_ticket != NULL && ticket > 0 && ticket < FAKE_MAX_TICKETS) {
        h->per_ticket[ticket]++;
      }
    }
  }
  if (h->try_close_in_callback) {
    h->close_in_callback_rc = h->api->close(h->p);
    h->run_in_callback_rc = h->api->run(h->p, PROMPTLY_RUN_NOWAIT);
  }
  if (h->stop_after_writes > 0 && h->writes == h->stop_after_writes) {
    h->api->stop(h->p);
  }
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  (void)ticket;
  (void)at_ms;
  (void)action;
  (void)args;
  (void)n;
  fake_host *h = ud;
  h->actions++;
  snprintf(h->last_action_key, sizeof(h->last_action_key), "%s", key);
  return 0;
}


static int64_t
on_now(void *ud)
{
  return ((fake_host *)ud)->now_ms;
}


/* Give the host a clock of its own (live mode with injected time). */
void
fake_host_set_clock(fake_host *h, int64_t now_ms)
{
  h->now_ms = now_ms;
  h->host.now_ms = on_now;
}


void
fake_host_init(fake_host *h, const fake_api *api)
{
  memset(h, 0, sizeof(*h));
  pthread_mutex_init(&h->lock, NULL);
  h->api = api;
  h->host.struct_size = sizeof(h->host);
  h->host.abi_version = PROMPTLY_ABI_VERSION;
  h->host.user_data = h;
  h->host.log = on_log;
  h->host.write_fields = on_write;
  h->host.do_action = on_action;
  h->per_ticket = calloc(FAKE_MAX_TICKETS, 1);
  assert_non_null(h->per_ticket);
}


void
fake_host_free(fake_host *h)
{
  free(h->per_ticket);
  pthread_mutex_destroy(&h->lock);
}


int
fake_scale(void)
{
  const char *s = getenv("PROMPTLY_TEST_SCALE");
  int n = s != NULL ? atoi(s) : 1;
  return n >= 1 ? n : 1;
}


const char *
fake_rules(const char *name)
{
  static char path[4096];
  const char *src = getenv("PROMPTLY_SRCDIR");
  assert_non_null(src);
  snprintf(path, sizeof(path), "%s/tests/fixtures/rules/%s", src, name);
  return path;
}


void
fake_create(fake_event *fe, int64_t ticket, int64_t at_ms,
            const char *subject)
{
  memset(fe, 0, sizeof(*fe));
  fe->attrs[0].name = "subject";
  fe->attrs[0].value = subject;
  fe->attrs[1].name = "body";
  fe->attrs[1].value = "";
  snprintf(fe->source, sizeof(fe->source), "test:%lld", (long long)ticket);
  fe->ev.struct_size = sizeof(fe->ev);
  fe->ev.type = PROMPTLY_EV_CREATE;
  fe->ev.ticket = ticket;
  fe->ev.at_ms = at_ms;
  fe->ev.attrs = fe->attrs;
  fe->ev.n_attrs = 2;
  fe->ev.source = fe->source;
}
