/* check.c - "promptly check [--format text|json] DIR": load a rules folder
** without running it and print each problem on stdout as
** "file:line: message", then each warning as "file:line: warning: message"
** (the module's, PROMPTLY_LOG_WARN lines of that form); with --format json
** one JSON object a line instead: {"file", "line", "severity", "message"},
** line null when the message names no line, file null when it names no
** file.  Exit 1 when there is a problem; warnings alone exit 0. */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

typedef struct check_ctx {
  int problems;  /* error lines printed on stdout */
  int json;      /* --format json */
} check_ctx;


/* One JSON line for "file:line: message" or "file: message"; file and
** line are null when the text before the first ": " has a space (a
** sentence, such as "rules folder x: No such file or directory"). */
static void
print_json(const char *msg, const char *severity)
{
  const char *sep = strstr(msg, ": ");
  json_t *o = json_object();
  json_t *file = json_null(), *line = json_null();
  const char *text = msg;
  if (sep != NULL && memchr(msg, ' ', (size_t)(sep - msg)) == NULL) {
    const char *colon = memchr(msg, ':', (size_t)(sep - msg));
    size_t flen = colon != NULL ? (size_t)(colon - msg) : (size_t)(sep - msg);
    if (colon != NULL) {
      char *end = NULL;
      long n = strtol(colon + 1, &end, 10);
      if (end == sep && n > 0) {
        line = json_integer(n);
      } else {
        flen = (size_t)(sep - msg);
      }
    }
    file = json_stringn(msg, flen);
    text = sep + 2;
  }
  if (strcmp(severity, "warning") == 0 && strncmp(text, "warning: ", 9) == 0) {
    text += 9;
  }
  json_object_set_new(o, "file", file);
  json_object_set_new(o, "line", line);
  json_object_set_new(o, "severity", json_string(severity));
  json_object_set_new(o, "message", json_string(text));
  char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
  if (s != NULL) {
    printf("%s\n", s);
    free(s);
  }
  json_decref(o);
}


/* Problems come at PROMPTLY_LOG_ERROR, already as "file:line: message";
** warnings at PROMPTLY_LOG_WARN as "file:line: warning: message". */
static void
on_check_log(void *ud, int32_t level, const char *msg)
{
  check_ctx *c = ud;
  if (level == PROMPTLY_LOG_ERROR) {
    if (c->json) {
      print_json(msg, "error");
    } else {
      printf("%s\n", msg);
    }
    c->problems++;
    return;
  }
  const char *sep = strstr(msg, ": warning: ");
  if (level == PROMPTLY_LOG_WARN && sep != NULL &&
      memchr(msg, ' ', (size_t)(sep - msg)) == NULL) {
    if (c->json) {
      print_json(msg, "warning");
    } else {
      printf("%s\n", msg);
    }
    return;
  }
  cli_print_log(level, msg);
}


static void
check_usage(FILE *f)
{
  fputs("usage: promptly check [--module PATH] [-v] [--format text|json] "
        "DIR\n", f);
}


int
cli_check(int argc, char **argv)
{
  const char *module = NULL;
  const char *dir = NULL;
  const char *format = NULL;
  int options = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (options && a[0] == '-' && a[1] != '\0') {
      int got = cli_opt_value(argc, argv, &i, "--module", &module);
      if (got == 0) {
        got = cli_opt_value(argc, argv, &i, "--format", &format);
      }
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
  check_ctx c = {0, 0};
  if (format != NULL) {
    if (strcmp(format, "json") == 0) {
      c.json = 1;
    } else if (strcmp(format, "text") != 0) {
      fprintf(stderr, "promptly check: --format: text or json, not '%s'\n",
              format);
      return CLI_EXIT_INPUT;
    }
  }

  cli_module m;
  if (cli_module_load(&m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
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
      const char *msg = err[0] != '\0' ? err : m.strerror(rc);
      if (c.json) {
        print_json(msg, "error");
      } else {
        printf("%s\n", msg);
      }
    }
    status = CLI_EXIT_FAIL;
  } else if (rc != PROMPTLY_OK) {
    const char *msg = err[0] != '\0' ? err : m.strerror(rc);
    if (c.json) {
      print_json(msg, "error");
    }
    fprintf(stderr, "promptly: %s\n", msg);
    status = CLI_EXIT_FAIL;
  }
  cli_module_unload(&m);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "promptly: stdout: write error\n");
    return CLI_EXIT_FAIL;
  }
  return status;
}
