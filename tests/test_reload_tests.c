/* test_reload_tests.c - the rule tests as a hot reload runs them: a rule set
** whose tests fail is refused and the old rules stay (on_reload "refuse",
** the default), "warn" reloads and says so, "off" does not run them; and a
** folder whose test files name a rule set's own things wrongly is
** reported with file:line. */
#include "config.h"

#include "cmocka_all.h"

#include "core.h"
#include "promptly.h"
#include "ruletest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct host_seen {
  char log[8192];   /* every log line, "level|msg\n" */
  char priority[16];
  int64_t ticket;
} host_seen;

static void
on_log(void *ud, int32_t level, const char *msg)
{
  host_seen *s = ud;
  size_t n = strlen(s->log);
  snprintf(s->log + n, sizeof(s->log) - n, "%d|%s\n", (int)level, msg);
}

static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  host_seen *s = ud;
  (void)at_ms;
  for (uint32_t i = 0; i < n; i++) {
    if (strcmp(f[i].name, "priority") == 0) {
      snprintf(s->priority, sizeof(s->priority), "%s", f[i].value);
      s->ticket = ticket;
    }
  }
  return 0;
}

static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  (void)ud, (void)ticket, (void)at_ms, (void)action, (void)args, (void)n;
  (void)key;
  return 0;
}

static void
put(const char *dir, const char *name, const char *text)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static const char *const rule_p1 =
  "priority { \"P1\", words = { \"down\" } }\n";
static const char *const rule_p2 =
  "priority { \"P2\", words = { \"down\" } }\n";
/* Line 2 holds the expectation. */
static const char *const test_p1 =
  "test \"down is P1\" { create { at = \"2026-11-16T09:00:00Z\", subject = \"site down\" },\n"
  "  expect { priority = \"P1\", rule = \"10-p.lua:1\" } }\n";

typedef struct fixture {
  char dir[64];
  host_seen seen;
  promptly_host host;
  promptly *p;
  int64_t next_ticket;
} fixture;

static void
create(fixture *fx, const char *subject)
{
  promptly_attr a = {"subject", subject};
  promptly_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.struct_size = sizeof(ev);
  ev.type = PROMPTLY_EV_CREATE;
  ev.ticket = ++fx->next_ticket;
  ev.at_ms = 1795000000000 + fx->next_ticket * 1000;
  ev.attrs = &a;
  ev.n_attrs = 1;
  char err[256];
  assert_int_equal(pr_core_submit(fx->p, &ev, err, sizeof(err)), PROMPTLY_OK);
  assert_int_equal(pr_core_advance(fx->p, ev.at_ms), PROMPTLY_OK);
  assert_int_equal(fx->seen.ticket, fx->next_ticket);
}

static int
setup(void **state)
{
  fixture *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ruletest.XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  put(fx->dir, "10-p.lua", rule_p1);
  put(fx->dir, "10-p.test.lua", test_p1);
  fx->host.struct_size = sizeof(fx->host);
  fx->host.abi_version = PROMPTLY_ABI_VERSION;
  fx->host.user_data = &fx->seen;
  fx->host.log = on_log;
  fx->host.write_fields = on_write;
  fx->host.do_action = on_action;
  char err[512];
  assert_int_equal(pr_core_open(&fx->host, sizeof(fx->host), fx->dir, &fx->p,
                                err, sizeof(err)),
                   PROMPTLY_OK);
  *state = fx;
  return 0;
}

static int
teardown(void **state)
{
  fixture *fx = *state;
  assert_int_equal(pr_core_close(fx->p), PROMPTLY_OK);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

/* The test file itself does not load as a rule file: the rules hold. */
static void
test_passing_tests_reload(void **state)
{
  fixture *fx = *state;
  create(fx, "all down");
  assert_string_equal(fx->seen.priority, "P1");
  char err[512] = "";
  assert_int_equal(pr_core_reload(fx->p, err, sizeof(err)), PROMPTLY_OK);
  assert_null(strstr(fx->seen.log, "0|"));
}

static void
test_failing_tests_refuse_the_reload(void **state)
{
  fixture *fx = *state;
  put(fx->dir, "10-p.lua", rule_p2);
  char err[512] = "";
  assert_int_equal(pr_core_reload(fx->p, err, sizeof(err)), PROMPTLY_ERULE);
  assert_non_null(strstr(err, "1 of 1 failed"));
  assert_non_null(strstr(fx->seen.log,
                         "0|10-p.test.lua:2: test 'down is P1': expected "
                         "priority P1, got P2\n"));
  /* Only the failed check is reported: the rule matched as expected. */
  assert_null(strstr(fx->seen.log, "expected rule"));
  assert_non_null(strstr(fx->seen.log, "the previous rules stay in force"));
  /* The old rules are still those in force. */
  create(fx, "down again");
  assert_string_equal(fx->seen.priority, "P1");
}

static void
test_warn_reloads_anyway(void **state)
{
  fixture *fx = *state;
  put(fx->dir, "10-p.lua", rule_p2);
  char text[1024];
  snprintf(text, sizeof(text), "%son_reload \"warn\"\n", test_p1);
  put(fx->dir, "10-p.test.lua", text);
  char err[512] = "";
  assert_int_equal(pr_core_reload(fx->p, err, sizeof(err)), PROMPTLY_OK);
  assert_non_null(strstr(fx->seen.log,
                         "1|10-p.test.lua:2: test 'down is P1': expected "
                         "priority P1, got P2\n"));
  assert_non_null(strstr(fx->seen.log, "reloading anyway"));
  create(fx, "down again");
  assert_string_equal(fx->seen.priority, "P2");
}

static void
test_off_skips_them(void **state)
{
  fixture *fx = *state;
  put(fx->dir, "10-p.lua", rule_p2);
  char text[1024];
  snprintf(text, sizeof(text), "%son_reload \"off\"\n", test_p1);
  put(fx->dir, "10-p.test.lua", text);
  char err[512] = "";
  assert_int_equal(pr_core_reload(fx->p, err, sizeof(err)), PROMPTLY_OK);
  assert_null(strstr(fx->seen.log, "expected"));
  create(fx, "down again");
  assert_string_equal(fx->seen.priority, "P2");
}

/* Broken test files refuse the reload too (they test nothing); each
** problem is named, in every file. */
static void
test_broken_test_file_refuses(void **state)
{
  fixture *fx = *state;
  put(fx->dir, "10-p.lua", rule_p2);
  put(fx->dir, "10-p.test.lua",
      "test \"x\" { create { at = \"2026-11-16T09:00:00Z\" },\n"
      "  expect { due = { frist_response = \"none\" } } }\n");
  put(fx->dir, "20-q.test.lua", "\n\ntest \"y\" { create { at = } }\n");
  char err[512] = "";
  assert_int_equal(pr_core_reload(fx->p, err, sizeof(err)), PROMPTLY_ERULE);
  assert_non_null(strstr(fx->seen.log,
                         "0|10-p.test.lua:2: expect: due: unknown metric "
                         "'frist_response' (known: first_response, "
                         "next_response, periodic_update, resolution)\n"));
  assert_non_null(strstr(fx->seen.log, "0|20-q.test.lua:3: unexpected symbol near '}'\n"));
  create(fx, "down again");
  assert_string_equal(fx->seen.priority, "P1");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_passing_tests_reload, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_failing_tests_refuse_the_reload,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_warn_reloads_anyway, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_off_skips_them, setup, teardown),
    cmocka_unit_test_setup_teardown(test_broken_test_file_refuses, setup,
                                    teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
