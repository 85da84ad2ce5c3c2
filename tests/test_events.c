/* test_events.c - the SLA events of ABI 1.2 (promptly.h, "SLA events")
** through the built promptly.so: one event per change worth reading, each
** naming the rule's file:line, steps joined to their breach, pauses and
** resumes, met, exceptions, quiet hours, and an ABI 1.1 host that gets
** none.  The rules are written here, one declaration a line, so that the
** sites below are the lines of the text; every expected line is written
** out by hand from the rules and the instants of the events. */
#include "config.h"

#include "cmocka_all.h"

#include "fake_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fake_api api;

/* 2026-11-16T09:00:00Z, a Monday. */
#define T0 INT64_C(1794819600000)
#define MIN INT64_C(60000)

#define EV_MAX 32

typedef struct ev_host {
  promptly_host host;
  char *lines[EV_MAX];
  int n;
  int actions;
  char dir[64];
} ev_host;


static void
on_event(void *ud, int64_t ticket, int64_t at_ms, const char *json)
{
  ev_host *h = ud;
  (void)ticket;
  (void)at_ms;
  assert_true(h->n < EV_MAX);
  h->lines[h->n++] = strdup(json);
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  (void)ud;
  (void)ticket;
  (void)at_ms;
  (void)f;
  (void)n;
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  ev_host *h = ud;
  (void)ticket;
  (void)at_ms;
  (void)action;
  (void)args;
  (void)n;
  (void)key;
  h->actions++;
  return 0;
}


static void
on_log(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  if (level == PROMPTLY_LOG_ERROR) {
    fail_msg("module error: %s", msg);
  }
}


/* A host for rules (written to a fresh folder as 10-t.lua), opened. */
static promptly *
open_with(ev_host *h, const char *rules)
{
  memset(h, 0, sizeof(*h));
  snprintf(h->dir, sizeof(h->dir), "/tmp/promptly-events.XXXXXX");
  assert_non_null(mkdtemp(h->dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/10-t.lua", h->dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(rules, f);
  fclose(f);
  h->host.struct_size = sizeof(h->host);
  h->host.abi_version = PROMPTLY_ABI_VERSION;
  h->host.user_data = h;
  h->host.log = on_log;
  h->host.write_fields = on_write;
  h->host.do_action = on_action;
  h->host.sla_event = on_event;
  char err[512] = "";
  promptly *p = NULL;
  int rc = api.open(&h->host, h->dir, &p, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("open: %s (%s)", api.strerror(rc), err);
  }
  return p;
}


static void
close_host(ev_host *h, promptly *p)
{
  assert_int_equal(api.close(p), PROMPTLY_OK);
  for (int i = 0; i < h->n; i++) {
    free(h->lines[i]);
  }
  char path[128];
  snprintf(path, sizeof(path), "%s/10-t.lua", h->dir);
  unlink(path);
  rmdir(h->dir);
}


static void
submit(promptly *p, int32_t type, int64_t at_ms, const char *name,
       const char *value)
{
  promptly_attr a[2] = {{"subject", "printer jammed"}, {name, value}};
  uint32_t n = 1;
  const promptly_attr *attrs = a;
  if (type != PROMPTLY_EV_CREATE) {
    attrs = &a[1];
    n = name != NULL ? 1 : 0;
  } else if (name != NULL) {
    n = 2;
  }
  promptly_event ev = {sizeof(ev), type, 1, at_ms, attrs, n, 0, NULL};
  char err[256] = "";
  int rc = api.submit(p, &ev, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("submit: %s (%s)", api.strerror(rc), err);
  }
  assert_int_equal(api.advance(p, at_ms), PROMPTLY_OK);
}


static void
expect_lines(const ev_host *h, const char *const *want, int n)
{
  for (int i = 0; i < h->n && i < n; i++) {
    if (strcmp(h->lines[i], want[i]) != 0) {
      fail_msg("event %d:\n got  %s\n want %s", i, h->lines[i], want[i]);
    }
  }
  assert_int_equal(h->n, n);
}


/* Line 2 is the policy, 3 the pause, 4 the step, 5 the exception. */
static const char rules_basic[] =
  "-- test_events.c: one declaration a line; the sites are these lines.\n"
  "policy \"fast\" { first_response = \"30m\", resolution = \"2h\" }\n"
  "pause_on { \"on hold\" }\n"
  "at \"100%\" { metrics = { \"first_response\" }, "
  "notify = { \"Owner\", \"SLA Managers\" } }\n"
  "exception \"outage\" { extend = \"4h\", reason = \"Data centre outage\" }\n";

/* Keys after "at" that the events below leave null, for short lines. */
#define NO_EXC "\"exception\": null, \"reason\": null, \"reached_at\": null"


/* Created at 09:00 with a 30-minute first response: applied at once,
** at risk at 75% (09:22:30, no at_risk declared: the policy's line), and
** at 09:30 the breach and the two notifies of the step at line 4 in one
** event named by that step. */
static void
test_events_breach_with_its_notifies_is_one_event(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h, rules_basic);
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  assert_int_equal(api.advance(p, T0 + 31 * MIN), PROMPTLY_OK);
  static const char *const want[] = {
    "{\"ticket\": 1, \"event\": \"applied\", \"at\": \"2026-11-16T09:00:00Z\", "
    "\"metric\": null, \"cycle\": null, \"site\": \"10-t.lua:2\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", \"due\": null, "
    "\"threshold\": null, " NO_EXC ", \"actions\": []}",
    "{\"ticket\": 1, \"event\": \"at_risk\", \"at\": \"2026-11-16T09:22:30Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:2\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", "
    "\"due\": \"2026-11-16T09:30:00Z\", \"threshold\": null, " NO_EXC
    ", \"actions\": []}",
    "{\"ticket\": 1, \"event\": \"breached\", \"at\": \"2026-11-16T09:30:00Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:4\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", "
    "\"due\": \"2026-11-16T09:30:00Z\", \"threshold\": \"100%\", " NO_EXC
    ", \"actions\": ["
    "{\"action\": \"notify\", \"args\": {\"to\": \"Owner\"}, "
    "\"key\": \"1:first_response:1:100%:notify\", \"threshold\": \"100%\", "
    "\"site\": \"10-t.lua:4\", \"held_until\": null}, "
    "{\"action\": \"notify\", \"args\": {\"to\": \"SLA Managers\"}, "
    "\"key\": \"1:first_response:1:100%:notify.2\", \"threshold\": \"100%\", "
    "\"site\": \"10-t.lua:4\", \"held_until\": null}]}",
  };
  expect_lines(&h, want, 3);
  assert_int_equal(h.actions, 2);
  close_host(&h, p);
}


/* On hold at 09:10 pauses both clocks (line 3), open at 09:20 resumes
** them (line 3 still: what had paused them) with the dues moved by the
** 10 minutes paused, an agent reply at 09:25 meets the first response
** against 09:40 (the policy's line). */
static void
test_events_pause_resume_met(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h, rules_basic);
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  submit(p, PROMPTLY_EV_STATUS, T0 + 10 * MIN, "status", "on hold");
  submit(p, PROMPTLY_EV_STATUS, T0 + 20 * MIN, "status", "open");
  submit(p, PROMPTLY_EV_REPLY_AGENT, T0 + 25 * MIN, NULL, NULL);
#define CLOCK(ev, at, metric, due)                                          \
  "{\"ticket\": 1, \"event\": \"" ev "\", \"at\": \"" at "\", "             \
  "\"metric\": \"" metric "\", \"cycle\": 1, \"site\": \"10-t.lua:3\", "    \
  "\"policy\": \"fast\", \"priority\": \"P3\", \"due\": " due ", "          \
  "\"threshold\": null, " NO_EXC ", \"actions\": []}"
  static const char *const want[] = {
    "{\"ticket\": 1, \"event\": \"applied\", \"at\": \"2026-11-16T09:00:00Z\", "
    "\"metric\": null, \"cycle\": null, \"site\": \"10-t.lua:2\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", \"due\": null, "
    "\"threshold\": null, " NO_EXC ", \"actions\": []}",
    CLOCK("paused", "2026-11-16T09:10:00Z", "first_response", "null"),
    CLOCK("paused", "2026-11-16T09:10:00Z", "resolution", "null"),
    CLOCK("resumed", "2026-11-16T09:20:00Z", "first_response",
          "\"2026-11-16T09:40:00Z\""),
    CLOCK("resumed", "2026-11-16T09:20:00Z", "resolution",
          "\"2026-11-16T11:10:00Z\""),
    "{\"ticket\": 1, \"event\": \"met\", \"at\": \"2026-11-16T09:25:00Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:2\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", "
    "\"due\": \"2026-11-16T09:40:00Z\", \"threshold\": null, " NO_EXC
    ", \"actions\": []}",
  };
#undef CLOCK
  expect_lines(&h, want, 6);
  close_host(&h, p);
}


/* An exception requested at creation is applied (line 5) with its
** declared reason, after the policy applies; emptied at 09:05 it is
** undone. */
static void
test_events_exception_applied_and_undone(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h, rules_basic);
  submit(p, PROMPTLY_EV_CREATE, T0, "sla_exception", "outage");
  submit(p, PROMPTLY_EV_UPDATE, T0 + 5 * MIN, "sla_exception", "");
  static const char *const want[] = {
    "{\"ticket\": 1, \"event\": \"applied\", \"at\": \"2026-11-16T09:00:00Z\", "
    "\"metric\": null, \"cycle\": null, \"site\": \"10-t.lua:2\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", \"due\": null, "
    "\"threshold\": null, " NO_EXC ", \"actions\": []}",
    "{\"ticket\": 1, \"event\": \"exception\", "
    "\"at\": \"2026-11-16T09:00:00Z\", \"metric\": null, \"cycle\": null, "
    "\"site\": \"10-t.lua:5\", \"policy\": null, \"priority\": \"P3\", "
    "\"due\": null, \"threshold\": null, \"exception\": \"outage\", "
    "\"reason\": \"Data centre outage\", \"reached_at\": null, "
    "\"actions\": []}",
    "{\"ticket\": 1, \"event\": \"exception_undone\", "
    "\"at\": \"2026-11-16T09:05:00Z\", \"metric\": null, \"cycle\": null, "
    "\"site\": \"10-t.lua:5\", \"policy\": null, \"priority\": \"P3\", "
    "\"due\": null, \"threshold\": null, \"exception\": \"outage\", "
    "\"reason\": null, \"reached_at\": null, \"actions\": []}",
  };
  expect_lines(&h, want, 3);
  close_host(&h, p);
}


/* Quiet hours: business 09:00-17:00 on weekdays (UTC) is the folder's
** notification calendar.  Created Monday 16:50, the first response is
** due 17:20 (calendar time): at risk at 17:12:30, the breach at 17:20
** names the step (line 4) and its notify held until Tuesday 09:00, when
** the notify goes out as a step of its own that tells when it was
** reached. */
static void
test_events_held_notify(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(
    &h,
    "calendar \"business\" { tz = \"UTC\", hours = { mon_fri = { \"09:00-17:00\" } } }\n"
    "notify_calendar \"business\"\n"
    "policy \"fast\" { first_response = \"30m\" }\n"
    "at \"100%\" { notify = \"Owner\" }\n");
  int64_t t = T0 + (7 * 60 + 50) * MIN;  /* 16:50 */
  submit(p, PROMPTLY_EV_CREATE, t, NULL, NULL);
  assert_int_equal(api.advance(p, T0 + 25 * 60 * MIN), PROMPTLY_OK);
  static const char *const want[] = {
    "{\"ticket\": 1, \"event\": \"applied\", \"at\": \"2026-11-16T16:50:00Z\", "
    "\"metric\": null, \"cycle\": null, \"site\": \"10-t.lua:3\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", \"due\": null, "
    "\"threshold\": null, " NO_EXC ", \"actions\": []}",
    "{\"ticket\": 1, \"event\": \"at_risk\", \"at\": \"2026-11-16T17:12:30Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:3\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", "
    "\"due\": \"2026-11-16T17:20:00Z\", \"threshold\": null, " NO_EXC
    ", \"actions\": []}",
    "{\"ticket\": 1, \"event\": \"breached\", \"at\": \"2026-11-16T17:20:00Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:4\", "
    "\"policy\": \"fast\", \"priority\": \"P3\", "
    "\"due\": \"2026-11-16T17:20:00Z\", \"threshold\": \"100%\", " NO_EXC
    ", \"actions\": [{\"action\": \"notify\", \"args\": {\"to\": \"Owner\"}, "
    "\"key\": \"1:first_response:1:100%:notify\", \"threshold\": \"100%\", "
    "\"site\": \"10-t.lua:4\", "
    "\"held_until\": \"2026-11-17T09:00:00Z\"}]}",
    "{\"ticket\": 1, \"event\": \"step\", \"at\": \"2026-11-17T09:00:00Z\", "
    "\"metric\": \"first_response\", \"cycle\": 1, \"site\": \"10-t.lua:4\", "
    "\"policy\": null, \"priority\": \"P3\", \"due\": null, "
    "\"threshold\": \"100%\", \"exception\": null, \"reason\": null, "
    "\"reached_at\": \"2026-11-16T17:20:00Z\", "
    "\"actions\": [{\"action\": \"notify\", \"args\": {\"to\": \"Owner\"}, "
    "\"key\": \"1:first_response:1:100%:notify\", \"threshold\": \"100%\", "
    "\"site\": \"10-t.lua:4\", \"held_until\": null}]}",
  };
  expect_lines(&h, want, 4);
  assert_int_equal(h.actions, 1);
  close_host(&h, p);
}


/* A host built against ABI 1.1 (its struct ends after record) keeps
** working, and whatever lies after its struct is never called: the
** breach of the first test reaches it as actions, no event. */
static void
test_events_abi_1_1_host_gets_none(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = NULL;
  {
    ev_host probe;
    p = open_with(&probe, rules_basic);
    assert_int_equal(api.close(p), PROMPTLY_OK);
    h = probe;
  }
  h.host.struct_size =
    (uint32_t)(offsetof(promptly_host, record) + sizeof(h.host.record));
  h.host.abi_version = (1u << 16) | 1u;
  h.host.user_data = &h;
  char err[256] = "";
  assert_int_equal(api.open(&h.host, h.dir, &p, err, sizeof(err)),
                   PROMPTLY_OK);
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  assert_int_equal(api.advance(p, T0 + 31 * MIN), PROMPTLY_OK);
  assert_int_equal(h.n, 0);
  assert_int_equal(h.actions, 2);
  close_host(&h, p);
}


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


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_events_breach_with_its_notifies_is_one_event),
    cmocka_unit_test(test_events_pause_resume_met),
    cmocka_unit_test(test_events_exception_applied_and_undone),
    cmocka_unit_test(test_events_held_notify),
    cmocka_unit_test(test_events_abi_1_1_host_gets_none),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
