/* test_reload.c - hot reload of the rules folder under a stream of events:
** every event handled exactly once, broken files leave the old rules. */
#include "config.h"

#include "cmocka_all.h"

#include "fake_host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static fake_api api;

static void
sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}


static void
write_rule(const char *dir, const char *text)
{
  char tmp[512], path[512];
  snprintf(tmp, sizeof(tmp), "%s/.10-priority.lua.tmp", dir);
  snprintf(path, sizeof(path), "%s/10-priority.lua", dir);
  FILE *f = fopen(tmp, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  /* Editors and deploy tools replace files by rename. */
  assert_int_equal(rename(tmp, path), 0);
}


typedef struct stream {
  fake_host *h;
  atomic_int done;
  int submitted;
} stream;

static void *
submit_stream(void *arg)
{
  stream *s = arg;
  fake_event fe;
  /* About 3 s of events, a little at a time. */
  int total = 30000 / fake_scale();
  for (int i = 1; i <= total; i++) {
    fake_create(&fe, i, 0, "the database is down");
    assert_int_equal(api.submit(s->h->p, &fe.ev, NULL, 0), PROMPTLY_OK);
    s->submitted = i;
    if (i % (100 / fake_scale()) == 0) {
      sleep_ms(10);
    }
  }
  atomic_store(&s->done, 1);
  return NULL;
}


static void *
edit_rules(void *arg)
{
  const char *dir = arg;
  static const char *versions[] = {
    "priority { \"P2\", words = { \"down\" } }\n",
    "priority { \"P1\", words = { \"down\" }\n", /* broken: no } */
    "priority { \"P3\", words = { \"down\" } }\n",
    "priority { \"P1\", words = { \"down\" } }\n",
  };
  for (int i = 0; i < 4; i++) {
    sleep_ms(600);
    write_rule(dir, versions[i]);
  }
  return NULL;
}


static void
test_reload_under_stream_loses_nothing(void **state)
{
  (void)state;
  char dir[] = "/tmp/promptly-reload-XXXXXX";
  assert_non_null(mkdtemp(dir));
  write_rule(dir, "priority { \"P1\", words = { \"down\" } }\n");

  fake_host h;
  fake_host_init(&h, &api);
  char err[512] = "";
  assert_int_equal(api.open(&h.host, dir, &h.p, err, sizeof(err)),
                   PROMPTLY_OK);
  const int total = 30000 / fake_scale();
  h.stop_after_writes = total;
  stream s = {&h, 0, 0};
  pthread_t ts, te;
  assert_int_equal(pthread_create(&ts, NULL, submit_stream, &s), 0);
  assert_int_equal(pthread_create(&te, NULL, edit_rules, dir), 0);
  /* Run until every event was handled, then let the last reload land. */
  assert_int_equal(api.run(h.p, PROMPTLY_RUN_DEFAULT), 0);
  pthread_join(ts, NULL);
  pthread_join(te, NULL);
  for (int i = 0; i < 10; i++) {
    api.run(h.p, PROMPTLY_RUN_NOWAIT);
    sleep_ms(50);
  }

  assert_int_equal(s.submitted, total);
  assert_int_equal(h.writes, total);
  for (int id = 1; id <= total; id++) {
    if (h.per_ticket[id] != 1) {
      fail_msg("ticket %d written %d times", id, h.per_ticket[id]);
    }
  }
  /* Reloads landed while events streamed: every good version was used. */
  assert_true(h.by_level[1] > 0);
  assert_true(h.by_level[2] > 0);
  assert_true(h.by_level[3] > 0);
  /* The broken version was reported with its file and line. */
  assert_true(h.errors >= 1);
  assert_non_null(strstr(h.last_error, "10-priority.lua:"));
  /* The final version (P1) is in force: a new ticket gets P1. */
  fake_event fe;
  fake_create(&fe, 40000, 0, "down again");
  api.submit(h.p, &fe.ev, NULL, 0);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_priority, "P1");
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}


int
main(void)
{
  fake_api_load(&api);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reload_under_stream_loses_nothing),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fake_api_unload(&api);
  return rc;
}
