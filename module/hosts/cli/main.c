/* main.c - the promptly tool: global options, subcommands, the module.
**
** The tool is a host like any other: it sees the module only through
** promptly.h and the entry points dlsym() finds by name.
*/
#include "config.h"

#include "cli.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROMPTLY_MODULE_PATH
#error "PROMPTLY_MODULE_PATH (the installed promptly.so) must be defined"
#endif

/* dlsym() returns a void * that POSIX guarantees can hold a function. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
               "function pointers must fit in a void *");

const char *cli_module_path = NULL;
int cli_verbose = 0;

typedef struct module_sym {
  const char *name;
  size_t offset;  /* of the member in cli_module */
} module_sym;

/* clang-format off */
static const module_sym module_syms[] = {
  {"promptly_abi_version",      offsetof(cli_module, abi_version)},
  {"promptly_version",          offsetof(cli_module, version)},
  {"promptly_strerror",         offsetof(cli_module, strerror)},
  {"promptly_event_type",       offsetof(cli_module, event_type)},
  {"promptly_event_type_name",  offsetof(cli_module, event_type_name)},
  {"promptly_open",             offsetof(cli_module, open)},
  {"promptly_submit",           offsetof(cli_module, submit)},
  {"promptly_run",              offsetof(cli_module, run)},
  {"promptly_stop",             offsetof(cli_module, stop)},
  {"promptly_advance",          offsetof(cli_module, advance)},
  {"promptly_reload",           offsetof(cli_module, reload)},
  {"promptly_close",            offsetof(cli_module, close)},
  {"promptly_check",            offsetof(cli_module, check)},
  {"promptly_calendar_open",    offsetof(cli_module, calendar_open)},
  {"promptly_calendar_add",     offsetof(cli_module, calendar_add)},
  {"promptly_calendar_between", offsetof(cli_module, calendar_between)},
  {"promptly_calendar_close",   offsetof(cli_module, calendar_close)},
  {"promptly_explain",          offsetof(cli_module, explain)},
  {"promptly_test",             offsetof(cli_module, test)},
  {"promptly_why",              offsetof(cli_module, why)},
};

/* Entry points of later minors: NULL when the module predates them. */
static const module_sym optional_syms[] = {
  {"promptly_records_open",     offsetof(cli_module, records_open)},
};
/* clang-format on */


/* --- The module ----------------------------------------------------------- */

int
cli_module_load(cli_module *m, const char *path)
{
  memset(m, 0, sizeof(*m));
  const char *from = "--module";
  if (path == NULL) {
    path = cli_module_path;
  }
  if (path == NULL) {
    path = getenv("PROMPTLY_MODULE");
    from = "$PROMPTLY_MODULE";
  }
  if (path == NULL || path[0] == '\0') {
    path = PROMPTLY_MODULE_PATH;
    from = "the built-in path";
  }

  /* A name without a slash would make dlopen() search the library path;
  ** the user means the file of that name here. */
  void *handle;
  if (strchr(path, '/') == NULL) {
    size_t len = strlen(path);
    char *local = malloc(len + 3);
    if (local == NULL) {
      fprintf(stderr, "promptly: out of memory\n");
      return -1;
    }
    memcpy(local, "./", 2);
    memcpy(local + 2, path, len + 1);
    handle = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    free(local);
  } else {
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  if (handle == NULL) {
    fprintf(stderr, "promptly: cannot load the module %s (from %s): %s\n",
            path, from, dlerror());
    return -1;
  }

  for (size_t i = 0; i < sizeof(module_syms) / sizeof(module_syms[0]); i++) {
    dlerror();
    void *sym = dlsym(handle, module_syms[i].name);
    if (sym == NULL) {
      const char *why = dlerror();
      fprintf(stderr,
              "promptly: %s is not a promptly module: %s is missing (%s)\n",
              path, module_syms[i].name, why != NULL ? why : "NULL");
      dlclose(handle);
      memset(m, 0, sizeof(*m));
      return -1;
    }
    memcpy((char *)m + module_syms[i].offset, &sym, sizeof(sym));
  }

  for (size_t i = 0; i < sizeof(optional_syms) / sizeof(optional_syms[0]);
       i++) {
    void *sym = dlsym(handle, optional_syms[i].name);
    memcpy((char *)m + optional_syms[i].offset, &sym, sizeof(sym));
  }

  uint32_t abi = m->abi_version();
  if ((abi >> 16) != PROMPTLY_ABI_MAJOR) {
    fprintf(stderr,
            "promptly: the module %s has ABI %u.%u; this promptly needs ABI "
            "%u.x\n",
            path, (unsigned)(abi >> 16), (unsigned)(abi & 0xffff),
            (unsigned)PROMPTLY_ABI_MAJOR);
    dlclose(handle);
    memset(m, 0, sizeof(*m));
    return -1;
  }
  m->handle = handle;
  m->path = path;
  return 0;
}


void
cli_module_unload(cli_module *m)
{
  if (m->handle != NULL) {
    dlclose(m->handle);
  }
  memset(m, 0, sizeof(*m));
}


/* --- Subcommands ---------------------------------------------------------- */

static void
usage(FILE *f)
{
  fputs(
    "usage: promptly [--module PATH] [-v] COMMAND [ARGS]\n"
    "\n"
    "  run --rules DIR [--events FILE|-] [--until ISO8601] [--live]\n"
    "      [--strict]\n"
    "      feed JSON-lines events to the rules, print every write and\n"
    "      action as a JSON line\n"
    "  check DIR\n"
    "      load a rules folder and print each problem as file:line: message\n"
    "  due CAL.json START MINUTES | due --batch [FILE|-]\n"
    "      business-time arithmetic on a calendar\n"
    "  explain --rules DIR --events FILE|- --ticket N [--at ISO8601]\n"
    "      replay the events and tell one ticket's SLA story in words\n"
    "  why --rules DIR [--at ISO8601] SUBJECT [BODY] [ATTR=VALUE ...]\n"
    "      which rule gives a ticket its priority, at which words; near\n"
    "      misses, shadowed rules, the policies and dues\n"
    "  tune --rules DIR --events FILE|- [--compare DIR2] [--top N]\n"
    "      the rules' priorities against the agents' manual changes\n"
    "  test DIR\n"
    "      run the rule tests (*.test.lua) of a rules folder\n"
    "  report --records FILE|- [--by KEY,...] [--breaches] [--calibrate]\n"
    "      [--contracts FILE] [--format text|json|csv|html] ...\n"
    "      compliance, percentiles, breaches, calibration and credits\n"
    "  version\n"
    "      print the module's version, ABI and path\n"
    "\n"
    "The module is --module PATH, else $PROMPTLY_MODULE, else\n"
    "  " PROMPTLY_MODULE_PATH "\n"
    "Exit status: 0 success, 1 the module or the rules failed to load,\n"
    "2 bad input or usage.  See promptly(1).\n",
    f);
}


static int
cmd_version(int argc, char **argv)
{
  const char *module = NULL;
  for (int i = 1; i < argc; i++) {
    int got = cli_opt_value(argc, argv, &i, "--module", &module);
    if (got < 0) {
      return CLI_EXIT_INPUT;
    }
    if (got == 0) {
      fprintf(stderr, "promptly version: unexpected argument '%s'\n",
              argv[i]);
      return CLI_EXIT_INPUT;
    }
  }
  cli_module m;
  if (cli_module_load(&m, module) != 0) {
    return CLI_EXIT_FAIL;
  }
  uint32_t abi = m.abi_version();
  printf("promptly %s (ABI %u.%u)\nmodule: %s\n", m.version(),
         (unsigned)(abi >> 16), (unsigned)(abi & 0xffff), m.path);
  cli_module_unload(&m);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "promptly: stdout: write error\n");
    return CLI_EXIT_FAIL;
  }
  return CLI_EXIT_OK;
}


int
main(int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    int got = cli_opt_value(argc, argv, &i, "--module", &cli_module_path);
    if (got < 0) {
      return CLI_EXIT_INPUT;
    }
    if (got > 0) {
      continue;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      cli_verbose++;
    } else if (strcmp(a, "-vv") == 0) {
      cli_verbose += 2;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return CLI_EXIT_OK;
    } else if (strcmp(a, "--version") == 0) {
      char *args[] = {"version", NULL};
      return cmd_version(1, args);
    } else {
      fprintf(stderr, "promptly: unknown option '%s'\n", a);
      usage(stderr);
      return CLI_EXIT_INPUT;
    }
  }
  if (i == argc) {
    usage(stderr);
    return CLI_EXIT_INPUT;
  }

  const char *cmd = argv[i];
  int sub_argc = argc - i;
  char **sub_argv = argv + i;
  if (strcmp(cmd, "run") == 0) {
    return cli_run(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "check") == 0) {
    return cli_check(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "due") == 0) {
    return cli_due(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "explain") == 0) {
    return cli_explain(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "why") == 0) {
    return cli_why(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "tune") == 0) {
    return cli_tune(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "test") == 0) {
    return cli_test(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "report") == 0) {
    return cli_report(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "version") == 0) {
    return cmd_version(sub_argc, sub_argv);
  }
  if (strcmp(cmd, "help") == 0) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  fprintf(stderr, "promptly: unknown command '%s'\n", cmd);
  usage(stderr);
  return CLI_EXIT_INPUT;
}
