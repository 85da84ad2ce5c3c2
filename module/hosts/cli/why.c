/* why.c - "promptly why --rules DIR SUBJECT [BODY] [ATTR=VALUE ...]": how
** the rules judge one ticket, for someone tuning them.
**
** Two sources, both the module's: promptly_why tells which priority rule
** matched at which words, the near misses and the shadowed rules; then a
** ticket with these attributes is created on an instance at --at (default
** now) and promptly_explain tells which policies apply and each metric's
** due from then.  Output on stdout, one sentence a line; exit 0, 1 when
** the rules do not load, 2 for bad usage. */
#include "config.h"

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHY_MAX_ATTRS 64

typedef struct why_ctx {
  int capture;  /* print trace lines (explain), not the create's */
} why_ctx;


static void
on_why_trace(void *ud, int64_t ticket, int64_t at_ms, const char *line)
{
  why_ctx *c = ud;
  (void)at_ms;
  if (ticket == 0) {
    printf("%s\n", line);  /* promptly_why's sentences */
  } else if (c->capture && strncmp(line, "as of ", 6) != 0) {
    printf("  %s\n", line);
  }
}


static void
on_why_log(void *ud, int32_t level, const char *msg)
{
  (void)ud;
  if (level == PROMPTLY_LOG_ERROR) {
    printf("%s\n", msg);  /* a rule problem, file:line: message */
  } else {
    cli_print_log(level, msg);
  }
}


static int32_t
on_why_write(void *ud, int64_t ticket, int64_t at_ms,
             const promptly_attr *f, uint32_t n)
{
  (void)ud, (void)ticket, (void)at_ms, (void)f, (void)n;
  return 0;
}


static int32_t
on_why_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
              const promptly_attr *args, uint32_t n, const char *key)
{
  (void)ud, (void)ticket, (void)at_ms, (void)action, (void)args, (void)n;
  (void)key;
  return 0;
}


static void
why_usage(FILE *f)
{
  fputs("usage: promptly why --rules DIR [--at ISO8601] SUBJECT [BODY] "
        "[ATTR=VALUE ...]\n",
        f);
}


/* "tier=enterprise": a name of letters, digits, '_', '.', '-', then '='. */
static int
is_assignment(const char *a)
{
  const char *eq = strchr(a, '=');
  if (eq == NULL || eq == a) {
    return 0;
  }
  for (const char *p = a; p < eq; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-')) {
      return 0;
    }
  }
  return 1;
}


int
cli_why(int argc, char **argv)
{
  const char *module = NULL, *rules = NULL, *at_text = NULL;
  promptly_attr attrs[WHY_MAX_ATTRS];
  char *names[WHY_MAX_ATTRS];
  uint32_t n = 0;
  int positional = 0, status = CLI_EXIT_INPUT;
  memset(names, 0, sizeof(names));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int got = cli_opt_value(argc, argv, &i, "--module", &module);
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--rules", &rules);
    }
    if (got == 0) {
      got = cli_opt_value(argc, argv, &i, "--at", &at_text);
    }
    if (got < 0) {
      goto out;
    }
    if (got > 0) {
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      why_usage(stdout);
      status = CLI_EXIT_OK;
      goto out;
    }
    if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "promptly why: unknown option '%s'\n", a);
      why_usage(stderr);
      goto out;
    }
    if (n == WHY_MAX_ATTRS) {
      fprintf(stderr, "promptly why: at most %d attributes\n",
              WHY_MAX_ATTRS);
      goto out;
    }
    const char *name, *value;
    if (positional == 0 || (positional == 1 && !is_assignment(a))) {
      name = positional == 0 ? "subject" : "body";
      value = a;
      positional++;
    } else if (is_assignment(a)) {
      const char *eq = strchr(a, '=');
      names[n] = strndup(a, (size_t)(eq - a));
      if (names[n] == NULL) {
        fprintf(stderr, "promptly: out of memory\n");
        status = CLI_EXIT_FAIL;
        goto out;
      }
      name = names[n];
      value = eq + 1;
      positional = 2;
    } else {
      fprintf(stderr, "promptly why: '%s': after the subject and the body, "
              "only attributes as name=value\n", a);
      goto out;
    }
    for (uint32_t k = 0; k < n; k++) {
      if (strcmp(attrs[k].name, name) == 0) {
        fprintf(stderr, "promptly why: %s given twice\n", name);
        goto out;
      }
    }
    attrs[n].name = name;
    attrs[n].value = value;
    n++;
  }
  if (rules == NULL || positional == 0) {
    why_usage(stderr);
    goto out;
  }
  int64_t at_ms;
  if (at_text != NULL) {
    if (cli_parse_iso(at_text, &at_ms) != 0) {
      fprintf(stderr, "promptly why: --at '%s' is not an ISO 8601 instant\n",
              at_text);
      goto out;
    }
  } else {
    at_ms = (int64_t)time(NULL) * 1000;
  }

  cli_module m;
  if (cli_module_load(&m, module) != 0) {
    status = CLI_EXIT_FAIL;
    goto out;
  }
  why_ctx c = {0};
  promptly_host host;
  memset(&host, 0, sizeof(host));
  host.struct_size = sizeof(host);
  host.abi_version = PROMPTLY_ABI_VERSION;
  host.user_data = &c;
  host.log = on_why_log;
  host.write_fields = on_why_write;
  host.do_action = on_why_action;
  host.trace = on_why_trace;
  char err[1024] = "";
  int rc = m.why(&host, rules, attrs, n, err, sizeof(err));
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly: %s\n", err[0] ? err : m.strerror(rc));
    cli_module_unload(&m);
    status = CLI_EXIT_FAIL;
    goto out;
  }

  /* The policies and dues: a ticket created at the instant, explained. */
  promptly *p = NULL;
  rc = m.open(&host, rules, &p, err, sizeof(err));
  if (rc == PROMPTLY_OK) {
    promptly_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.struct_size = sizeof(ev);
    ev.type = PROMPTLY_EV_CREATE;
    ev.ticket = 1;
    ev.at_ms = at_ms;
    ev.attrs = attrs;
    ev.n_attrs = n;
    ev.source = "the command line";
    rc = m.submit(p, &ev, err, sizeof(err));
    if (rc == PROMPTLY_OK) {
      rc = m.advance(p, at_ms);
    }
    if (rc == PROMPTLY_OK) {
      char iso[CLI_ISO_LEN];
      cli_format_iso(at_ms, iso);
      printf("if created at %s:\n", iso);
      c.capture = 1;
      rc = m.explain(p, 1, at_ms);
      c.capture = 0;
    }
    m.close(p);
  }
  if (rc != PROMPTLY_OK) {
    fprintf(stderr, "promptly: %s\n", err[0] ? err : m.strerror(rc));
    status = CLI_EXIT_FAIL;
  } else {
    status = CLI_EXIT_OK;
  }
  cli_module_unload(&m);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "promptly: stdout: write error\n");
    status = CLI_EXIT_FAIL;
  }
out:
  for (uint32_t k = 0; k < WHY_MAX_ATTRS; k++) {
    free(names[k]);
  }
  return status;
}
