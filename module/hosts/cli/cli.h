/* cli.h - the promptly command-line host: shared pieces of its commands.
**
** The CLI is a host like any other: it includes only promptly.h and reaches
** the module through dlopen()/dlsym().
*/
#ifndef PR_CLI_H
#define PR_CLI_H

#include "promptly.h"

#include <stdint.h>
#include <stdio.h>

/* The module's entry points, resolved by name. */
typedef struct cli_module {
  void *handle;
  const char *path;
  uint32_t (*abi_version)(void);
  const char *(*version)(void);
  const char *(*strerror)(int);
  int32_t (*event_type)(const char *);
  const char *(*event_type_name)(int32_t);
  int (*open)(const promptly_host *, const char *, promptly **, char *,
              size_t);
  int (*submit)(promptly *, const promptly_event *, char *, size_t);
  int (*run)(promptly *, int32_t);
  int (*stop)(promptly *);
  int (*advance)(promptly *, int64_t);
  int (*reload)(promptly *, char *, size_t);
  int (*close)(promptly *);
  int (*check)(const promptly_host *, const char *, char *, size_t);
  int (*calendar_open)(const promptly_attr *, uint32_t, promptly_calendar **,
                       char *, size_t);
  int (*calendar_add)(promptly_calendar *, int64_t, int64_t, int64_t *);
  int (*calendar_between)(promptly_calendar *, int64_t, int64_t, int64_t *);
  void (*calendar_close)(promptly_calendar *);
  int (*explain)(promptly *, int64_t, int64_t);
  int (*test)(const promptly_host *, const char *, uint32_t *, uint32_t *,
              char *, size_t);
  int (*why)(const promptly_host *, const char *, const promptly_attr *,
             uint32_t, char *, size_t);
  /* ABI 1.1, optional: NULL with a 1.0 module. */
  int (*records_open)(promptly *, int64_t);
} cli_module;

/* Options given before the subcommand ("promptly --module P -v due ..."),
** set by main() before the subcommand runs. */
extern const char *cli_module_path;  /* --module PATH, or NULL */
extern int cli_verbose;              /* how many -v: 1 info, 2 debug */

/* Load the module from path (NULL: cli_module_path, else $PROMPTLY_MODULE,
** else the installed one), resolve every entry point by name and check
** that its ABI major is PROMPTLY_ABI_MAJOR.  m->path is the path used (it
** points into argv, the environment or a literal).  Prints the reason to
** stderr and returns -1 on failure; then nothing is left to unload. */
int cli_module_load(cli_module *m, const char *path);
void cli_module_unload(cli_module *m);

/* Print one module log line on stderr: "promptly: error: msg" (ERROR),
** "warning" (WARN), "info" (INFO, with -v), "debug" (DEBUG, with -vv).
** Any thread: one fprintf per line. */
void cli_print_log(int32_t level, const char *msg);

/* Option parsing for subcommands.  If argv[*i] is the option name, taking
** the next argument ("--rules DIR") or an attached one ("--rules=DIR"),
** set *value, step *i past it and return 1; return 0 if argv[*i] is
** something else, and -1 (with a message on stderr) if the value is
** missing. */
int cli_opt_value(int argc, char **argv, int *i, const char *name,
                  const char **value);

/* Parse ISO 8601 ("2026-11-20T17:00:00Z", an offset, optional fraction)
** into ms since the epoch.  0 on success, -1 if malformed. */
int cli_parse_iso(const char *s, int64_t *at_ms);

/* Format ms since the epoch as ISO 8601 UTC with seconds and "Z". */
#define CLI_ISO_LEN 32
void cli_format_iso(int64_t at_ms, char out[CLI_ISO_LEN]);

/* Exit statuses of every subcommand. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1  /* module or rules failed to load, I/O error */
#define CLI_EXIT_INPUT 2  /* bad input or bad usage */

/* Subcommands: argv[0] is the subcommand name.  Return the exit status. */
int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_due(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_test(int argc, char **argv);
int cli_why(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_report(int argc, char **argv);  /* report.c */

#endif /* PR_CLI_H */
