/* test.c - "promptly test DIR": run the rule tests (*.test.lua) of a rules
** folder through the module and print each failure as
** "file:line: message", the timeline of a failed case after it.
**
** The module does the work (promptly_test): the cases run in its sandbox,
** with its limits, exactly as a hot reload runs them.  Failures and the
** timeline go to stdout, the summary to stderr; exit 0 when every case
** passed, 1 when one failed or a file has a problem, 2 for bad usage. */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct test_ctx {
  int lines;  /* failure lines printed */
} test_ctx;


static void
on_test_log(void *ud, int32_t level, const char *msg)
{
  test_ctx *c = ud;
  if (level == PROMPTLY_LOG_ERROR) {
    printf("%s\n", msg);
    c->lines++;
  } else if (level == PROMPTLY_LOG_INFO) {
    printf("%s\n", msg);  /* the timeline of a failed case */
  } else if (level == PROMPTLY_LOG_DEBUG && cli_verbose > 0) {
    printf("%s\n", msg);  /* "file:line: test 'x': ok" */
  } else if (level == PROMPTLY_LOG_WARN) {
    cli_print_log(level, msg);
  }
}


static void
test_usage(FILE *f)
{
  fputs("usage: promptly test [--module PATH] [-v] DIR\n", f);
}


int
cli_test(int argc, char **argv)
{
  const char *module = NULL;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int got = cli_opt_value(argc, argv, &i, "--module", &module);
    if (got < 0) {
      return CLI_EXIT_INPUT;
    }
    if (got > 0) {
      continue;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      cli_verbose++;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      test_usage(stdout);
      return CLI_EXIT_OK;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "promptly test: unknown option '%s'\n", a);
      test_usage(stderr);
      return CLI_EXIT_INPUT;
    } else if (dir == NULL) {
      dir = a;
    } else {
      fprintf(stderr, "promptly test: one folder only ('%s')\n", a);
      return CLI_EXIT_INPUT;
    }
  }
  if (dir == NULL) {
    test_usage(stderr);
    return CLI_EXIT_INPUT;
  }
  cli_module m;
  if (cli_module_load(&m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
  test_ctx c = {0};
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = &c;
  host.log = on_test_log;
  char err[1024] = "";
  uint32_t cases = 0, failed = 0;
  int rc = m.test(&host, dir, &cases, &failed, err, sizeof(err));
  int status = CLI_EXIT_OK;
  if (rc == PROMPTLY_OK) {
    fprintf(stderr, "promptly test: %u case%s passed\n", (unsigned)cases,
            cases == 1 ? "" : "s");
  } else if (rc == PROMPTLY_ERULE) {
    if (c.lines == 0) {
      printf("%s\n", err[0] != '\0' ? err : m.strerror(rc));
    }
    fprintf(stderr, "promptly test: %s\n", err[0] ? err : m.strerror(rc));
    status = CLI_EXIT_FAIL;
  } else {
    fprintf(stderr, "promptly: %s\n", err[0] != '\0' ? err : m.strerror(rc));
    status = CLI_EXIT_FAIL;
  }
  cli_module_unload(&m);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "promptly: stdout: write error\n");
    return CLI_EXIT_FAIL;
  }
  return status;
}
