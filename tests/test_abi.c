/* test_abi.c - the exported ABI, through a fake host that dlopen()s the
** built promptly.so: versions, errors, threads, instances, virtual time. */
#include "config.h"

#include "cmocka_all.h"

#include "fake_host.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static fake_api api;

static int
setup(void **state)
{
  (void)state;
  fake_api_load(&api);
  return 0;
}


static int
teardown(void **state)
{
  (void)state;
  fake_api_unload(&api);
  return 0;
}


static promptly *
open_ok(fake_host *h, const char *rules)
{
  char err[512] = "";
  int rc = api.open(&h->host, fake_rules(rules), &h->p, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("open %s: %s (%s)", rules, api.strerror(rc), err);
  }
  return h->p;
}


static void
test_abi_major_mismatch_refused(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  h.host.abi_version = (2u << 16) | 0;
  char err[256] = "";
  promptly *p = (promptly *)&h; /* must be cleared */
  assert_int_equal(api.open(&h.host, fake_rules("abi-p1"), &p, err,
                            sizeof(err)),
                   PROMPTLY_EVERSION);
  assert_null(p);
  assert_non_null(strstr(err, "ABI 2.0"));
  fake_host_free(&h);
}


static void
test_abi_small_vtable_refused(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  h.host.struct_size = 24; /* up to log only */
  char err[256] = "";
  promptly *p = NULL;
  assert_int_equal(api.open(&h.host, fake_rules("abi-p1"), &p, err,
                            sizeof(err)),
                   PROMPTLY_EVERSION);
  assert_null(p);
  assert_non_null(strstr(err, "24 bytes"));
  fake_host_free(&h);
}



/* ABI 1.1 appended the record callback: a host built against 1.0 (its
** struct ends after trace) keeps working, and whatever lies after its
** struct is never called. */
static void
bogus_record(void *ud, int64_t ticket, int64_t at_ms, const char *json)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  (void)json;
  fail_msg("a 1.0 host's record callback was called");
}


static void
test_abi_1_0_host_struct_still_works(void **state)
{
  (void)state;
  assert_int_equal(PROMPTLY_ABI_MINOR, 2);
  assert_int_equal(api.abi_version(), (1u << 16) | 2u);
  fake_host h;
  fake_host_init(&h, &api);
  h.host.struct_size =
    (uint32_t)(offsetof(promptly_host, trace) + sizeof(h.host.trace));
  h.host.abi_version = (1u << 16) | 0;
  h.host.record = bogus_record;  /* past the 1.0 struct: must be ignored */
  char err[256] = "";
  promptly *p = NULL;
  assert_int_equal(api.open(&h.host, fake_rules("abi-sla"), &p, err,
                            sizeof(err)),
                   PROMPTLY_OK);
  h.p = p;
  fake_event fe;
  fake_create(&fe, 1, 1795000000000, "server down");
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_OK);
  promptly_attr st = {"status", "resolved"};
  promptly_event ev = {sizeof(ev), PROMPTLY_EV_STATUS, 1, 1795000060000,
                       &st, 1, 0, NULL};
  assert_int_equal(api.submit(p, &ev, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(api.advance(p, 1795000120000), PROMPTLY_OK);
  assert_true(h.writes >= 2);
  assert_int_equal(api.close(p), PROMPTLY_OK);
  h.p = NULL;
  fake_host_free(&h);
}

static void
test_abi_missing_rules_folder_named(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  char err[512] = "";
  promptly *p = NULL;
  int rc = api.open(&h.host, "/nonexistent/promptly-rules", &p, err,
                    sizeof(err));
  assert_int_equal(rc, PROMPTLY_EIO);
  assert_null(p);
  assert_non_null(strstr(err, "/nonexistent/promptly-rules"));
  fake_host_free(&h);
}


static void
test_abi_bad_events_refused_and_change_nothing(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  promptly *p = open_ok(&h, "abi-p1");
  char err[256];
  fake_event fe;

  fake_create(&fe, 1, 0, "server down");
  fe.ev.type = 99;
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_ENOTSUP);

  fake_create(&fe, 0, 0, "server down");
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "ticket"));

  fake_create(&fe, 1, 0, "bad \xff utf-8");
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "subject"));

  fake_create(&fe, 1, 0, "server down");
  fe.attrs[1].name = "subject";
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "twice"));

  fake_create(&fe, 1, 0, "server down");
  fe.ev.type = PROMPTLY_EV_STATUS;
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "status"));

  fake_create(&fe, 1, 0, "server down");
  fe.ev.at_ms = -1;
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_string_equal(err, "at: before 1970 (-1 ms)");

  /* 2800-01-01T00:00:00Z and after: refused, the instant named. */
  fake_create(&fe, 1, 0, "server down");
  fe.ev.at_ms = INT64_C(26192246400000);
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_string_equal(err, "at: 2800-01-01T00:00:00Z is after the year 2800");
  fe.ev.at_ms = INT64_MAX;
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)), PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "is after the year 2800"));

  fake_create(&fe, 1, 0, "server down");
  fe.ev.struct_size = 16;
  assert_int_equal(api.submit(p, &fe.ev, err, sizeof(err)),
                   PROMPTLY_EVERSION);

  assert_int_equal(api.run(p, PROMPTLY_RUN_NOWAIT), 0);
  assert_int_equal(h.writes, 0);
  assert_int_equal(api.close(p), PROMPTLY_OK);
  fake_host_free(&h);
}


/* --- Threads ------------------------------------------------------------- */

#define SUBMITTERS 4
#define PER_THREAD (25000 / fake_scale())

typedef struct submitter {
  fake_host *h;
  int first;
  int failures;
} submitter;

static void *
submit_many(void *arg)
{
  submitter *s = arg;
  fake_event fe;
  for (int i = 0; i < PER_THREAD; i++) {
    int64_t id = s->first + i;
    fake_create(&fe, id, 1795194000000LL + id, i % 3 ? "server down" : "hi");
    if (api.submit(s->h->p, &fe.ev, NULL, 0) != PROMPTLY_OK) {
      s->failures++;
    }
  }
  return NULL;
}


static void
test_abi_threads_submit_each_handled_once(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  h.stop_after_writes = SUBMITTERS * PER_THREAD;
  pthread_t th[SUBMITTERS];
  submitter s[SUBMITTERS];
  for (int i = 0; i < SUBMITTERS; i++) {
    s[i] = (submitter){&h, 1 + i * PER_THREAD, 0};
    assert_int_equal(pthread_create(&th[i], NULL, submit_many, &s[i]), 0);
  }
  /* The loop runs on this thread while the others submit. */
  assert_int_equal(api.run(h.p, PROMPTLY_RUN_DEFAULT), 0);
  for (int i = 0; i < SUBMITTERS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(s[i].failures, 0);
  }
  assert_int_equal(h.writes, SUBMITTERS * PER_THREAD);
  for (int id = 1; id <= SUBMITTERS * PER_THREAD; id++) {
    if (h.per_ticket[id] != 1) {
      fail_msg("ticket %d written %d times", id, h.per_ticket[id]);
    }
  }
  assert_int_equal(h.errors, 0);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


static void *
stop_later(void *arg)
{
  fake_host *h = arg;
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  api.stop(h->p);
  return NULL;
}


static void
test_abi_stop_from_another_thread(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stop_later, &h), 0);
  assert_int_equal(api.run(h.p, PROMPTLY_RUN_DEFAULT), 0);
  pthread_join(th, NULL);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


static void *
run_one(void *arg)
{
  fake_host *h = arg;
  api.run(h->p, PROMPTLY_RUN_DEFAULT);
  return NULL;
}


static void
test_abi_two_instances_side_by_side(void **state)
{
  (void)state;
  fake_host a, b;
  fake_host_init(&a, &api);
  fake_host_init(&b, &api);
  open_ok(&a, "abi-p1");
  open_ok(&b, "abi-p2");
  a.stop_after_writes = b.stop_after_writes = 1;
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, run_one, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, run_one, &b), 0);
  fake_event fe;
  fake_create(&fe, 7, 0, "The server is down");
  assert_int_equal(api.submit(a.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  assert_int_equal(api.submit(b.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_string_equal(a.last_priority, "P1");
  assert_string_equal(b.last_priority, "P2");
  assert_int_equal(a.last_ticket, 7);
  assert_int_equal(b.last_ticket, 7);
  assert_int_equal(api.close(a.p), PROMPTLY_OK);
  assert_int_equal(api.close(b.p), PROMPTLY_OK);
  fake_host_free(&a);
  fake_host_free(&b);
}


static void
test_abi_close_inside_callback_refused(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  h.try_close_in_callback = 1;
  fake_event fe;
  fake_create(&fe, 1, 0, "down");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.writes, 1);
  assert_int_equal(h.close_in_callback_rc, PROMPTLY_ESTATE);
  assert_int_equal(h.run_in_callback_rc, PROMPTLY_ESTATE);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


/* --- Virtual time and ticket rules ------------------------------------------ */

static void
test_abi_advance_handles_events_at_their_instant(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  const int64_t t0 = 1795194000000LL; /* 2026-11-20T17:00:00Z */
  fake_event fe;
  fake_create(&fe, 1, t0, "down");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  fake_create(&fe, 2, t0 + 60000, "feature request: dark mode");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);

  assert_int_equal(api.advance(h.p, t0), PROMPTLY_OK);
  assert_int_equal(h.writes, 1); /* the second event is not due yet */
  assert_int_equal(h.last_at_ms, t0);
  assert_string_equal(h.last_priority, "P1");

  assert_int_equal(api.advance(h.p, t0 + 3600000), PROMPTLY_OK);
  assert_int_equal(h.writes, 2);
  assert_int_equal(h.last_ticket, 2);
  assert_int_equal(h.last_at_ms, t0 + 60000);
  assert_string_equal(h.last_priority, "P4");

  assert_int_equal(api.advance(h.p, t0), PROMPTLY_ERANGE);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


static void
submit_kv(fake_host *h, int32_t type, int64_t ticket, int64_t at,
          const char *name, const char *value)
{
  promptly_attr a = {name, value};
  promptly_event ev = {sizeof(ev), type, ticket, at, &a, name ? 1 : 0, 0,
                       "test"};
  char err[256] = "";
  int rc = api.submit(h->p, &ev, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("submit: %s", err);
  }
}


static void
test_abi_manual_priority_is_never_overwritten(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  const int64_t t0 = 1795194000000LL;
  fake_event fe;
  fake_create(&fe, 5, t0, "Production is down");
  api.submit(h.p, &fe.ev, NULL, 0);
  submit_kv(&h, PROMPTLY_EV_PRIORITY, 5, t0 + 1000, "priority", "Normal");
  submit_kv(&h, PROMPTLY_EV_UPDATE, 5, t0 + 2000, "subject",
            "Production is down again");
  submit_kv(&h, PROMPTLY_EV_REPLY_CUSTOMER, 5, t0 + 3000, NULL, NULL);
  assert_int_equal(api.advance(h.p, t0 + 10000), PROMPTLY_OK);
  assert_int_equal(h.writes, 1); /* only the create's P1 */
  assert_string_equal(h.last_priority, "P1");
  /* An unknown level is bad input: reported, nothing changes. */
  submit_kv(&h, PROMPTLY_EV_PRIORITY, 5, t0 + 11000, "priority", "P9");
  assert_int_equal(api.advance(h.p, t0 + 12000), PROMPTLY_OK);
  assert_int_equal(h.warnings, 1);
  assert_non_null(strstr(h.last_log, "P9"));
  assert_int_equal(h.writes, 1);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


static void
test_abi_unknown_ticket_reported_with_source(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  submit_kv(&h, PROMPTLY_EV_UPDATE, 77, 1000, "subject", "x");
  assert_int_equal(api.advance(h.p, 2000), PROMPTLY_OK);
  assert_int_equal(h.writes, 0);
  assert_int_equal(h.warnings, 1);
  assert_non_null(strstr(h.last_log, "test: ticket 77"));
  assert_non_null(strstr(h.last_log, "unknown ticket"));
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


/* Write text as DIR/10-rules.lua, replacing the file by rename. */
static void
write_rules(const char *dir, const char *text)
{
  char tmp[512], path[512];
  snprintf(tmp, sizeof(tmp), "%s/.10-rules.lua.tmp", dir);
  snprintf(path, sizeof(path), "%s/10-rules.lua", dir);
  FILE *f = fopen(tmp, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(rename(tmp, path), 0);
}


/* A reload after the host clock went past a step the new rules no longer
** have: the old rules' actions due before the reload still go out (both
** metrics reach 75% at 3h, before the reload at 3h01m), and the step, one
** for every metric, raises the priority once per ticket: P4 -> P3, not
** P4 -> P2.  (They were looked up in the new ladder, where 75% is gone.) */
static void
test_abi_reload_old_step_raises_once(void **state)
{
  (void)state;
  static const char head[] =
    "levels { {\"P1\", \"Urgent\"}, {\"P2\", \"High\"}, {\"P3\", \"Normal\"},"
    " {\"P4\", \"Low\"} }\n"
    "default_priority \"P3\"\n"
    "priority { \"P4\", words = { \"feature request\" } }\n"
    "calendar \"24x7\" { hours = \"24x7\" }\n"
    "policy \"round\" { calendar = \"24x7\", first_response = \"4h\","
    " resolution = \"4h\" }\n";
  char dir[] = "/tmp/promptly-abi-reload-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char text[2048];
  snprintf(text, sizeof(text), "%sat \"75%%\" { raise_priority = 1 }\n"
           "at \"100%%\" { notify = \"manager\" }\n", head);
  write_rules(dir, text);
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  char err[512] = "";
  assert_int_equal(api.open(&h.host, dir, &h.p, err, sizeof(err)),
                   PROMPTLY_OK);
  fake_event fe;
  fake_create(&fe, 9, now, "feature request: export to PDF");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_priority, "P4");
  assert_int_equal(h.actions, 0);

  h.now_ms = now + (3 * 60 + 1) * 60 * 1000;
  snprintf(text, sizeof(text), "%sat \"50%%\" { note = \"half used\" }\n"
           "at \"100%%\" { notify = \"manager\" }\n", head);
  write_rules(dir, text);
  assert_int_equal(api.reload(h.p, err, sizeof(err)), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  /* 75% of both metrics (old rules), then 50% of both (new rules). */
  assert_int_equal(h.actions, 4);
  assert_string_equal(h.last_priority, "P3");
  assert_int_equal(h.by_level[4], 1);
  assert_int_equal(h.by_level[3], 1);
  assert_int_equal(h.by_level[2], 0);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
  char path[512];
  snprintf(path, sizeof(path), "%s/10-rules.lua", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}


/* escalate_priority's steps across a reload that adds one in front: the
** ticket raised at 75% of the resolution (3h of 4h: P4 -> P3); the reload
** at 3h30m makes the ladder 50%, 75%.  75% does not raise again; 50% (2h),
** new and passed, raises at the reload (P3 -> P2).  The memory of the
** steps that raised was a ladder index: after the reload it named 50%,
** which then did nothing. */
static void
test_abi_reload_escalation_step_in_front(void **state)
{
  (void)state;
  static const char head[] =
    "levels { {\"P1\", \"Urgent\"}, {\"P2\", \"High\"}, {\"P3\", \"Normal\"},"
    " {\"P4\", \"Low\"} }\n"
    "default_priority \"P3\"\n"
    "priority { \"P4\", words = { \"feature request\" } }\n"
    "calendar \"24x7\" { hours = \"24x7\" }\n"
    "policy \"round\" { calendar = \"24x7\", first_response = \"8h\","
    " resolution = \"4h\" }\n"
    "at \"100%\" { notify = \"manager\" }\n";
  char dir[] = "/tmp/promptly-abi-reload-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char text[2048];
  snprintf(text, sizeof(text), "%sescalate_priority { at = { \"75%%\" } }\n",
           head);
  write_rules(dir, text);
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  char err[512] = "";
  assert_int_equal(api.open(&h.host, dir, &h.p, err, sizeof(err)),
                   PROMPTLY_OK);
  fake_event fe;
  fake_create(&fe, 9, now, "feature request: export to PDF");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_priority, "P4");
  h.now_ms = now + 3 * 3600 * 1000;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 1);
  assert_string_equal(h.last_action_key,
                      "9:resolution:1:escalate-75%:raise_priority");
  assert_string_equal(h.last_priority, "P3");

  h.now_ms = now + (3 * 60 + 30) * 60 * 1000;
  snprintf(text, sizeof(text),
           "%sescalate_priority { at = { \"50%%\", \"75%%\" } }\n", head);
  write_rules(dir, text);
  assert_int_equal(api.reload(h.p, err, sizeof(err)), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 2);
  assert_string_equal(h.last_action_key,
                      "9:resolution:1:escalate-50%:raise_priority");
  assert_string_equal(h.last_priority, "P2");
  assert_int_equal(h.by_level[3], 1);
  assert_int_equal(h.by_level[2], 1);
  assert_int_equal(h.by_level[1], 0);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
  char path[512];
  snprintf(path, sizeof(path), "%s/10-rules.lua", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}


/* A host catching up (live time, an event two hours old): when
** promptly_run returns, the deadlines already due have fired, so the
** fields it was given are those of now, not those of the old event. */
static void
test_abi_live_catch_up_fires_overdue_deadlines(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  open_ok(&h, "abi-sla");
  fake_event fe;
  fake_create(&fe, 9, now - 2 * 3600 * 1000, "server down");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_fr_state, "breached");
  assert_int_equal(h.actions, 1);
  assert_string_equal(h.last_action_key, "9:first_response:1:100%:notify");
  assert_int_equal(h.last_at_ms, now - 2 * 3600 * 1000 + 30 * 60 * 1000);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


/* A host clock held back, then let on (rt-promptly holds time until every
** earlier transaction is known): nothing fires while it stands before the
** due, and the next promptly_run after it jumps past fires the threshold
** at once, though the timer was armed for the distance of then (30 min). */
static void
test_abi_held_host_clock_fires_at_the_next_run(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  open_ok(&h, "abi-sla");
  fake_event fe;
  fake_create(&fe, 9, now, "server down");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 0);
  /* 30 min target (abi-sla): one ms before, nothing; at it, the breach. */
  h.now_ms = now + 30 * 60 * 1000 - 1;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 0);
  h.now_ms = now + 30 * 60 * 1000;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 1);
  assert_string_equal(h.last_action_key, "9:first_response:1:100%:notify");
  assert_int_equal(h.last_at_ms, now + 30 * 60 * 1000);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


/* The event that held the clock back (a reply made a minute before the
** due, known only later) is submitted with the jump past the due: it
** counts first, so the first response is met and nothing breaches. */
static void
test_abi_late_event_counts_before_the_jump(void **state)
{
  (void)state;
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  open_ok(&h, "abi-sla");
  fake_event fe;
  fake_create(&fe, 9, now, "server down");
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  h.now_ms = now + 31 * 60 * 1000;
  promptly_event reply = {sizeof(promptly_event), PROMPTLY_EV_REPLY_AGENT, 9,
                          now + 29 * 60 * 1000, NULL, 0, 0, "late"};
  assert_int_equal(api.submit(h.p, &reply, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 0);
  assert_string_equal(h.last_fr_state, "met");
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


static void
write_file(const char *dir, const char *name, const char *text)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}


/* Pause conditions follow a reload (issue 12 item 5): a ticket whose
** vendor_wait is "yes" pauses when the new rules say that pauses, and
** runs again when a later reload drops the condition. */
static void
test_abi_reload_applies_pause_conditions(void **state)
{
  (void)state;
  char dir[] = "/tmp/promptly-abi-conds.XXXXXX";
  assert_non_null(mkdtemp(dir));
  const char *plain = "policy \"p\" { first_response = \"1h\" }\n"
                      "at \"100%\" { notify = \"on-call\" }\n";
  write_file(dir, "20-p.lua", plain);
  fake_host h;
  fake_host_init(&h, &api);
  const int64_t now = 1795194000000LL;
  fake_host_set_clock(&h, now);
  char err[512] = "";
  assert_int_equal(api.open(&h.host, dir, &h.p, err, sizeof(err)),
                   PROMPTLY_OK);
  fake_event fe;
  fake_create(&fe, 3, now, "licence");
  fe.attrs[2].name = "vendor_wait";
  fe.attrs[2].value = "YES";
  fe.ev.n_attrs = 3;
  assert_int_equal(api.submit(h.p, &fe.ev, NULL, 0), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_fr_state, "running");
  write_file(dir, "20-p.lua",
             "policy \"p\" { first_response = \"1h\" }\n"
             "at \"100%\" { notify = \"on-call\" }\n"
             "pause_on { vendor_wait = \"yes\" }\n");
  h.now_ms = now + 10 * 60 * 1000;
  assert_int_equal(api.reload(h.p, err, sizeof(err)), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_fr_state, "paused");
  /* Paused: no breach at the old due. */
  h.now_ms = now + 70 * 60 * 1000;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 0);
  write_file(dir, "20-p.lua", plain);
  assert_int_equal(api.reload(h.p, err, sizeof(err)), PROMPTLY_OK);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_string_equal(h.last_fr_state, "running");
  /* 10 minutes used before the pause: the breach comes 50 minutes after
  ** the second reload, not before. */
  h.now_ms = now + 120 * 60 * 1000 - 1;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 0);
  h.now_ms = now + 120 * 60 * 1000;
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  assert_int_equal(h.actions, 1);
  assert_string_equal(h.last_action_key, "3:first_response:1:100%:notify");
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
  char path[512];
  snprintf(path, sizeof(path), "%s/20-p.lua", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}


static int
count_threads(void)
{
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    n += e->d_name[0] != '.';
  }
  closedir(d);
  return n;
}


static void
test_abi_creates_no_thread(void **state)
{
  (void)state;
  int before = count_threads();
  fake_host h;
  fake_host_init(&h, &api);
  open_ok(&h, "abi-p1");
  fake_event fe;
  fake_create(&fe, 1, 0, "down");
  api.submit(h.p, &fe.ev, NULL, 0);
  api.run(h.p, PROMPTLY_RUN_NOWAIT);
  char err[256];
  assert_int_equal(api.reload(h.p, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(count_threads(), before);
  assert_int_equal(h.writes, 1);
  assert_int_equal(api.close(h.p), PROMPTLY_OK);
  fake_host_free(&h);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_abi_major_mismatch_refused),
    cmocka_unit_test(test_abi_small_vtable_refused),
    cmocka_unit_test(test_abi_1_0_host_struct_still_works),
    cmocka_unit_test(test_abi_missing_rules_folder_named),
    cmocka_unit_test(test_abi_bad_events_refused_and_change_nothing),
    cmocka_unit_test(test_abi_threads_submit_each_handled_once),
    cmocka_unit_test(test_abi_stop_from_another_thread),
    cmocka_unit_test(test_abi_two_instances_side_by_side),
    cmocka_unit_test(test_abi_close_inside_callback_refused),
    cmocka_unit_test(test_abi_advance_handles_events_at_their_instant),
    cmocka_unit_test(test_abi_manual_priority_is_never_overwritten),
    cmocka_unit_test(test_abi_unknown_ticket_reported_with_source),
    cmocka_unit_test(test_abi_reload_old_step_raises_once),
    cmocka_unit_test(test_abi_reload_escalation_step_in_front),
    cmocka_unit_test(test_abi_live_catch_up_fires_overdue_deadlines),
    cmocka_unit_test(test_abi_held_host_clock_fires_at_the_next_run),
    cmocka_unit_test(test_abi_late_event_counts_before_the_jump),
    cmocka_unit_test(test_abi_creates_no_thread),
    cmocka_unit_test(test_abi_reload_applies_pause_conditions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
