/* check.c - "promptly check DIR": load a rules folder without running it
** and print each problem on stdout as "file:line: message". */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct check_ctx {
  int problems;  /* lines printed on stdout */
} check_ctx;


/* Problems come at PROMPTLY_LOG_ERROR, already as "file:line: message". */
static void
on_check_log(void *ud, int32_t level, const char *msg)
{
  check_ctx *c = ud;
  if (level == PROMPTLY_LOG_ERROR) {
    printf("%s\n", msg);
    c->problems++;
    return;
  }
  cli_print_log(level, msg);
}


static void
check_usage(FILE *f)
{
  fputs("usage: promptly check [--module PATH] [-v] DIR\n", f);
}


int
cli_check(int argc, char **argv)
{
  const char *module = NULL;
  const char *dir = NULL;
  int options = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (options && a[0] == '-' && a[1] != '\0') {
      int got = cli_opt_value(argc, argv, &i, "--module", &module);
      if (got < 0) {
        return CLI_EXIT_INPUT;
      }
      if (got > 0) {
        continue;
      }
      if (strcmp(a, "--") == 0) {
        options = 0;
      } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
        cli_verbose++;
      } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        check_usage(stdout);
        return CLI_EXIT_OK;
      } else {
        fprintf(stderr, "promptly check: unknown option '%s'\n", a);
        check_usage(stderr);
        return CLI_EXIT_INPUT;
      }
    } else if (dir == NULL) {
      dir = a;
    } else {
      fprintf(stderr, "promptly check: one folder only ('%s')\n", a);
      return CLI_EXIT_INPUT;
    }
  }
  if (dir == NULL) {
    check_usage(stderr);
    return CLI_EXIT_INPUT;
  }

  cli_module m;
  if (cli_module_load(&m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
  check_ctx c = {0};
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = &c;
  host.log = on_check_log;

  char err[1024] = "";
  int rc = m.check(&host, dir, err, sizeof(err));
  int status = c.problems > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
  if (rc == PROMPTLY_ERULE) {
    /* Every problem went through the log; print the summary only if the
    ** module logged none, so that a broken folder never looks clean. */
    if (c.problems == 0) {
      printf("%s\n", err[0] != '\0' ? err : m.strerror(rc));
    }
    status = CLI_EXIT_FAIL;
  } else if (rc != PROMPTLY_OK) {
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
