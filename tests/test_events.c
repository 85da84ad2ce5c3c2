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

/* The fake host (its callbacks count writes, actions and log lines), and
** the events it got. */
typedef struct ev_host {
  fake_host fh;  /* first: the fake host's callbacks get this as theirs */
  char *lines[EV_MAX];
  int n;
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


/* A host for rules (written to a fresh folder as 10-t.lua), opened. */
static promptly *
open_with(ev_host *h, const char *rules)
{
  memset(h, 0, sizeof(*h));
  fake_host_init(&h->fh, &api);
  h->fh.host.sla_event = on_event;
  snprintf(h->dir, sizeof(h->dir), "/tmp/promptly-events.XXXXXX");
  assert_non_null(mkdtemp(h->dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/10-t.lua", h->dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(rules, f);
  fclose(f);
  char err[512] = "";
  promptly *p = NULL;
  int rc = api.open(&h->fh.host, h->dir, &p, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fail_msg("open: %s (%s)", api.strerror(rc), err);
  }
  return p;
}


static void
close_host(ev_host *h, promptly *p)
{
  assert_int_equal(api.close(p), PROMPTLY_OK);
  assert_int_equal(h->fh.errors, 0);
  fake_host_free(&h->fh);
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

/* One expected event line of ticket 1; the arguments are JSON values
** (Q("x") for a string, "null"), the actions without their brackets. */
#define Q(s) "\"" s "\""
#define EVENT(ev, at, metric, cycle, site, policy, due, threshold, exc,      \
              reason, reached, actions)                                     \
  "{\"ticket\": 1, \"event\": \"" ev "\", \"at\": \"" at "\", "             \
  "\"metric\": " metric ", \"cycle\": " cycle ", \"site\": " site ", "       \
  "\"policy\": " policy ", \"priority\": \"P3\", \"due\": " due ", "         \
  "\"threshold\": " threshold ", \"exception\": " exc ", \"reason\": "       \
  reason ", \"reached_at\": " reached ", \"actions\": [" actions "]}"
/* A clock's event (no step, no exception) and a notify action. */
#define CLOCK(ev, at, metric, line, due)                                    \
  EVENT(ev, at, Q(metric), "1", Q("10-t.lua:" line), Q("fast"), due,        \
        "null", "null", "null", "null", "")
#define NOTIFY(to, key, line, held)                                         \
  "{\"action\": \"notify\", \"args\": {\"to\": \"" to "\"}, "               \
  "\"key\": \"" key "\", \"threshold\": \"100%\", "                         \
  "\"site\": \"10-t.lua:" line "\", \"held_until\": " held "}"
/* The event of a policy applied at creation, at instant at, declared on
** line of 10-t.lua. */
#define APPLIED(at, line)                                                   \
  EVENT("applied", at, "null", "null", Q("10-t.lua:" line), Q("fast"),      \
        "null", "null", "null", "null", "null", "")
/* A breach of the first response at at, due then, with the actions of
** the step at 100% on line. */
#define BREACHED(at, line, actions)                                         \
  EVENT("breached", at, Q("first_response"), "1", Q("10-t.lua:" line),      \
        Q("fast"), Q(at), Q("100%"), "null", "null", "null", actions)


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
    APPLIED("2026-11-16T09:00:00Z", "2"),
    CLOCK("at_risk", "2026-11-16T09:22:30Z", "first_response", "2",
          Q("2026-11-16T09:30:00Z")),
    BREACHED("2026-11-16T09:30:00Z", "4",
             NOTIFY("Owner", "1:first_response:1:100%:notify", "4", "null")
             ", " NOTIFY("SLA Managers", "1:first_response:1:100%:notify.2",
                         "4", "null")),
  };
  expect_lines(&h, want, 3);
  assert_int_equal(h.fh.actions, 2);
  close_host(&h, p);
}


/* A ticket created at 09:00 under the policy "fast" of line 2 (a 30-minute
** first response, no step): applied, at risk at 09:22:30 (75%), breached
** at 09:30. */
#define FAST_0900_TO_BREACH                                                 \
  APPLIED("2026-11-16T09:00:00Z", "2"),                                     \
    CLOCK("at_risk", "2026-11-16T09:22:30Z", "first_response", "2",         \
          Q("2026-11-16T09:30:00Z")),                                       \
    CLOCK("breached", "2026-11-16T09:30:00Z", "first_response", "2",        \
          Q("2026-11-16T09:30:00Z"))

/* Each metric's turn at risk is its own event, also when the ticket is
** at risk or breached already: created at 09:00 with a 30-minute first
** response and a 2-hour resolution (line 2, no step, no at_risk
** declared), the first response is at risk at 09:22:30 (75%) and breached
** at 09:30, and the resolution, with the ticket breached, at risk at
** 10:30 (75% of 2 h), due 11:00. */
static void
test_events_each_metric_at_risk(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h,
    "-- test_events.c: two metrics, no step.\n"
    "policy \"fast\" { first_response = \"30m\", resolution = \"2h\" }\n");
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  assert_int_equal(api.advance(p, T0 + 100 * MIN), PROMPTLY_OK);
  static const char *const want[] = {
    FAST_0900_TO_BREACH,
    CLOCK("at_risk", "2026-11-16T10:30:00Z", "resolution", "2",
          Q("2026-11-16T11:00:00Z")),
  };
  expect_lines(&h, want, 4);
  close_host(&h, p);
}


/* An answer after the breach is news too: created at 09:00 with a
** 30-minute first response (line 2), breached at 09:30, the agent's reply
** at 09:40 meets it late: "met_late" at 09:40, due the 09:30 it breached.
** Its state stays breached (no "met"). */
static void
test_events_met_late(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h,
    "-- test_events.c: a late answer.\n"
    "policy \"fast\" { first_response = \"30m\", resolution = \"8h\" }\n");
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  submit(p, PROMPTLY_EV_REPLY_AGENT, T0 + 40 * MIN, NULL, NULL);
  static const char *const want[] = {
    FAST_0900_TO_BREACH,
    CLOCK("met_late", "2026-11-16T09:40:00Z", "first_response", "2",
          Q("2026-11-16T09:30:00Z")),
  };
  expect_lines(&h, want, 4);
  close_host(&h, p);
}


/* Both clocks of a ticket created at 09:00 under "fast" (30m, 2h) paused
** at 09:10 and resumed at 09:20 by what line declares, the dues moved by
** the 10 minutes paused. */
#define PAUSED_0910_RESUMED_0920(line)                                      \
  CLOCK("paused", "2026-11-16T09:10:00Z", "first_response", line, "null"),  \
    CLOCK("paused", "2026-11-16T09:10:00Z", "resolution", line, "null"),    \
    CLOCK("resumed", "2026-11-16T09:20:00Z", "first_response", line,        \
          Q("2026-11-16T09:40:00Z")),                                       \
    CLOCK("resumed", "2026-11-16T09:20:00Z", "resolution", line,            \
          Q("2026-11-16T11:10:00Z"))

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
  static const char *const want[] = {
    APPLIED("2026-11-16T09:00:00Z", "2"),
    PAUSED_0910_RESUMED_0920("3"),
    CLOCK("met", "2026-11-16T09:25:00Z", "first_response", "2",
          Q("2026-11-16T09:40:00Z")),
  };
  expect_lines(&h, want, 6);
  close_host(&h, p);
}


/* Two pause conditions of one kind: vendor_wait (line 3) and legal_hold
** (line 4).  legal_hold = "yes" at 09:10 pauses both clocks, and the rows
** name line 4, the condition that holds, not the first declared one;
** emptied at 09:20 it resumes them, line 4 again, the dues moved by the
** 10 minutes paused. */
static void
test_events_pause_names_the_condition_that_holds(void **state)
{
  (void)state;
  ev_host h;
  promptly *p = open_with(&h,
    "-- test_events.c: two pause conditions; the sites are these lines.\n"
    "policy \"fast\" { first_response = \"30m\", resolution = \"2h\" }\n"
    "pause_on { vendor_wait = \"yes\" }\n"
    "pause_on { legal_hold = \"yes\" }\n");
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  submit(p, PROMPTLY_EV_UPDATE, T0 + 10 * MIN, "legal_hold", "yes");
  submit(p, PROMPTLY_EV_UPDATE, T0 + 20 * MIN, "legal_hold", "");
  static const char *const want[] = {
    APPLIED("2026-11-16T09:00:00Z", "2"),
    PAUSED_0910_RESUMED_0920("4"),
  };
  expect_lines(&h, want, 5);
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
    APPLIED("2026-11-16T09:00:00Z", "2"),
    EVENT("exception", "2026-11-16T09:00:00Z", "null", "null",
          Q("10-t.lua:5"), "null", "null", "null", Q("outage"),
          Q("Data centre outage"), "null", ""),
    EVENT("exception_undone", "2026-11-16T09:05:00Z", "null", "null",
          Q("10-t.lua:5"), "null", "null", "null", Q("outage"), "null",
          "null", ""),
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
    APPLIED("2026-11-16T16:50:00Z", "3"),
    CLOCK("at_risk", "2026-11-16T17:12:30Z", "first_response", "3",
          Q("2026-11-16T17:20:00Z")),
    BREACHED("2026-11-16T17:20:00Z", "4",
             NOTIFY("Owner", "1:first_response:1:100%:notify", "4",
                    Q("2026-11-17T09:00:00Z"))),
    EVENT("step", "2026-11-17T09:00:00Z", Q("first_response"), "1",
          Q("10-t.lua:4"), "null", "null", Q("100%"), "null", "null",
          Q("2026-11-16T17:20:00Z"),
          NOTIFY("Owner", "1:first_response:1:100%:notify", "4", "null")),
  };
  expect_lines(&h, want, 4);
  assert_int_equal(h.fh.actions, 1);
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
  promptly *p = open_with(&h, rules_basic);
  assert_int_equal(api.close(p), PROMPTLY_OK);
  h.fh.host.struct_size =
    (uint32_t)(offsetof(promptly_host, record) + sizeof(h.fh.host.record));
  h.fh.host.abi_version = (1u << 16) | 1u;
  char err[256] = "";
  assert_int_equal(api.open(&h.fh.host, h.dir, &p, err, sizeof(err)),
                   PROMPTLY_OK);
  submit(p, PROMPTLY_EV_CREATE, T0, NULL, NULL);
  assert_int_equal(api.advance(p, T0 + 31 * MIN), PROMPTLY_OK);
  assert_int_equal(h.n, 0);
  assert_int_equal(h.fh.actions, 2);
  close_host(&h, p);
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_events_breach_with_its_notifies_is_one_event),
    cmocka_unit_test(test_events_each_metric_at_risk),
    cmocka_unit_test(test_events_met_late),
    cmocka_unit_test(test_events_pause_resume_met),
    cmocka_unit_test(test_events_pause_names_the_condition_that_holds),
    cmocka_unit_test(test_events_exception_applied_and_undone),
    cmocka_unit_test(test_events_held_notify),
    cmocka_unit_test(test_events_abi_1_1_host_gets_none),
  };
  fake_api_load(&api);
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  fake_api_unload(&api);
  return failed;
}
