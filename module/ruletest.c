/* ruletest.c - rule test cases: load *.test.lua files, run each case on a
** fresh instance in virtual time, compare, report.  This file: messages,
** instants, finding and loading the files, the entry points; the step
** constructors are in ruletest_declare.c, running a case in
** ruletest_run.c.
**
** Invariants.  Test files run in their own sandbox (the rule files' memory
** cap and instruction budget), never in the rules' state, so a test cannot
** change the rules it tests.  Each step constructor (create, expect,
** action, ...) is checked and copied into C the moment it is called, with
** the file:line of the call; it returns a userdata handle that only
** `test` accepts, so a case holds its steps in the order they were written.
** A case runs on an instance of its own (pr_core_open_unwatched on the
** folder), fed and advanced step by step; the instance's writes, actions,
** traces, outcome records and log lines are collected through its host
** callbacks (records_open asked for the cycles still open when a record
** step finds no ended one), and nothing reaches
** the caller's host but the report.  Instants of the steps of a case never
** go back (checked when the case is declared), so every advance is valid.
*/

#include "config.h"

#include "ruletest.h"
#include "ruletest_internal.h"
#include "problems.h"
#include "rules.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

/* --- Messages ------------------------------------------------------------- */

void
rt_say(const rt_ctx *c, int level, const char *fmt, ...)
{
  if (c->host->log == NULL) {
    return;
  }
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->host->log(c->host->user_data, level, msg);
}


/* A problem of a test file at where ("file:line"), into the list that is
** reported, sorted, once every file has run. */
void
rt_problem(rt_ctx *c, const char *where, const char *fmt, ...)
{
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->problems++;
  const char *colon = strrchr(where, ':');
  char file[RT_WHERE];
  int line = 0;
  if (colon != NULL && colon[1] >= '0' && colon[1] <= '9') {
    snprintf(file, sizeof(file), "%.*s", (int)(colon - where), where);
    line = atoi(colon + 1);
  } else {
    snprintf(file, sizeof(file), "%s", where);
  }
  pr_problems_add(&c->found, file, line, PR_SEV_ERROR, "%s", msg);
}


/* Say the problems found so far, in order, then "and N more". */
void
rt_report_problems(rt_ctx *c)
{
  char line[RT_MSG];
  for (size_t i = 0; i < pr_problems_count(&c->found); i++) {
    rt_say(c, c->level, "%s",
        pr_problem_format(pr_problems_get(&c->found, i), line, sizeof(line)));
  }
  if (pr_problems_format_more(&c->found, line, sizeof(line)) != NULL) {
    rt_say(c, c->level, "%s", line);
  }
  pr_problems_clear(&c->found);
}


/* --- Instants ------------------------------------------------------------- */

int
rt_digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}


/* "2026-11-16T07:42:00Z", optionally ".123" before the Z: UTC only. */
int
rt_parse_iso(const char *s, int64_t *out)
{
  int y, mo, d, h, mi, sec, ms = 0;
  if (strlen(s) < 20 || rt_digits(s, 4, &y) || s[4] != '-' ||
      rt_digits(s + 5, 2, &mo) || s[7] != '-' || rt_digits(s + 8, 2, &d) ||
      s[10] != 'T' || rt_digits(s + 11, 2, &h) || s[13] != ':' ||
      rt_digits(s + 14, 2, &mi) || s[16] != ':' || rt_digits(s + 17, 2, &sec)) {
    return -1;
  }
  const char *t = s + 19;
  if (*t == '.') {
    if (rt_digits(t + 1, 3, &ms)) {
      return -1;
    }
    t += 4;
  }
  if (strcmp(t, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
      mi > 59 || sec > 59) {
    return -1;
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
    return -1;
  }
  int64_t days = pr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
  return 0;
}


/* --- Finding and loading the files ---------------------------------------- */

int
pr_ruletest_is_test_file(const char *name)
{
  size_t n = strlen(name);
  return name[0] != '.' && n > 9 && strcmp(name + n - 9, ".test.lua") == 0;
}


static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}


/* The *.test.lua files of dir, sorted; *n of them.  EIO, ENOMEM. */
static int
list_tests(const char *dir, char ***out, size_t *n, char *err, size_t errlen)
{
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (d == NULL) {
    return pr_err(err, errlen, PROMPTLY_EIO, "rules folder %s: %s", dir,
                  strerror(errno));
  }
  char **names = NULL;
  size_t cap = 0;
  int rc = PROMPTLY_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!pr_ruletest_is_test_file(e->d_name)) {
      continue;
    }
    char *path = g_build_filename(dir, e->d_name, NULL);
    struct stat st;
    int regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    g_free(path);
    if (!regular) {
      continue;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      char **nn = realloc(names, cap * sizeof(*nn));
      if (nn == NULL) {
        rc = PROMPTLY_ENOMEM;
        break;
      }
      names = nn;
    }
    if ((names[*n] = pr_strdup(e->d_name)) == NULL) {
      rc = PROMPTLY_ENOMEM;
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (rc != PROMPTLY_OK) {
    for (size_t i = 0; i < *n; i++) {
      free(names[i]);
    }
    free(names);
    *n = 0;
    return pr_err(err, errlen, rc, "out of memory");
  }
  if (*n > 1) {
    qsort(names, *n, sizeof(char *), cmp_str);
  }
  *out = names;
  return PROMPTLY_OK;
}


static void
sandbox_log(void *ud, int level, const char *msg)
{
  rt_ctx *c = ud;
  rt_say(c, level, "%s", msg);
}


static void
load_test_file(rt_ctx *c, pr_sandbox *sb, const char *name)
{
  char *path = g_build_filename(c->dir, name, NULL);
  char *src = NULL;
  size_t len = 0;
  GError *gerr = NULL;
  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size > RT_FILE_MAX) {
    rt_problem(c, name, "too large (%lld bytes, at most %zu)",
            (long long)st.st_size, RT_FILE_MAX);
  } else if (!g_file_get_contents(path, &src, &len, &gerr)) {
    rt_problem(c, name, "cannot read: %s", gerr->message);
    g_error_free(gerr);
  } else {
    char msg[RT_MSG];
    if (pr_sandbox_exec(sb, name, src, len, msg, sizeof(msg)) !=
        PROMPTLY_OK) {
      c->problems++;
      pr_problems_add_text(&c->found, name, PR_SEV_ERROR, msg);
    }
  }
  g_free(src);
  g_free(path);
}


/* --- Entry points --------------------------------------------------------- */

static void
ctx_free(rt_ctx *c)
{
  for (size_t i = 0; i < c->n_steps; i++) {
    rt_free_step(&c->steps[i]);
  }
  free(c->steps);
  for (size_t i = 0; i < c->n_cases; i++) {
    free(c->cases[i].name);
    free(c->cases[i].steps);
  }
  free(c->cases);
}


/* Load the test files; run the cases unless gate and on_reload "off". */
static int
run_all(const promptly_host *host, const char *dir, pr_rules *rules,
        int warn_only, int gate, pr_ruletest_result *res, char *err,
        size_t errlen)
{
  memset(res, 0, sizeof(*res));
  rt_ctx c;
  memset(&c, 0, sizeof(c));
  c.host = host;
  c.level = warn_only ? PROMPTLY_LOG_WARN : PROMPTLY_LOG_ERROR;
  c.dir = dir;
  c.rules = rules;
  c.on_reload = PR_RULETEST_REFUSE;
  pr_problems_init(&c.found, 0);

  char **files = NULL;
  size_t n_files = 0;
  int rc = list_tests(dir, &files, &n_files, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  res->files = (uint32_t)n_files;
  if (n_files == 0) {
    free(files);
    return PROMPTLY_OK;
  }
  pr_sandbox *sb = NULL;
  rc = pr_sandbox_new(PR_RULES_MEM_CAP, PR_RULES_BUDGET, sandbox_log, &c, &sb,
                      err, errlen);
  if (rc == PROMPTLY_OK) {
    rc = pr_sandbox_run(sb, rt_register_fns, &c, err, errlen);
  }
  if (rc == PROMPTLY_OK) {
    for (size_t i = 0; i < n_files; i++) {
      load_test_file(&c, sb, files[i]);
    }
    res->on_reload = c.on_reload;
    if (gate && c.on_reload == PR_RULETEST_WARN) {
      c.level = PROMPTLY_LOG_WARN;
    }
    rt_report_problems(&c);
    if (!(gate && c.on_reload == PR_RULETEST_OFF)) {
      for (size_t i = 0; i < c.n_cases; i++) {
        if (!c.cases[i].bad) {  /* else its problems are reported */
          rt_run_case(&c, &c.cases[i]);
        }
      }
      res->cases = (uint32_t)c.n_cases;
    }
    res->failed = c.failed;
    res->problems = c.problems;
    if (c.failed > 0 || c.problems > 0) {
      char extra[64] = "";
      if (c.problems > 0) {
        snprintf(extra, sizeof(extra), ", %u problem%s in the test files",
                 (unsigned)c.problems, c.problems == 1 ? "" : "s");
      }
      rc = pr_err(err, errlen, PROMPTLY_ERULE, "rule tests: %u of %u failed%s",
                  (unsigned)c.failed, (unsigned)res->cases, extra);
    }
  }
  pr_problems_clear(&c.found);
  pr_sandbox_free(sb);
  for (size_t i = 0; i < n_files; i++) {
    free(files[i]);
  }
  free(files);
  ctx_free(&c);
  return rc;
}


int
pr_ruletest_run(const promptly_host *host, const char *rules_dir,
                pr_rules *rules, int warn_only, pr_ruletest_result *res,
                char *err, size_t errlen)
{
  pr_ruletest_result ignore;
  return run_all(host, rules_dir, rules, warn_only, 0, res ? res : &ignore,
                 err, errlen);
}


int
pr_ruletest_gate(const promptly_host *host, const char *rules_dir,
                 pr_rules *fresh, char *err, size_t errlen)
{
  pr_ruletest_result res;
  char why[RT_MSG] = "";
  int rc = run_all(host, rules_dir, fresh, 0, 1, &res, why, sizeof(why));
  if (rc == PROMPTLY_OK) {
    return PROMPTLY_OK;
  }
  if (rc == PROMPTLY_ERULE && res.on_reload != PR_RULETEST_REFUSE) {
    if (host->log != NULL) {
      char msg[RT_MSG + 64];
      snprintf(msg, sizeof(msg), "%s; reloading anyway (on_reload \"warn\")",
               why);
      host->log(host->user_data, PROMPTLY_LOG_WARN, msg);
    }
    return PROMPTLY_OK;
  }
  return pr_err(err, errlen, rc, "%s", why);
}


static void
folder_log(void *ud, int level, const char *msg)
{
  const promptly_host *h = ud;
  if (h->log != NULL) {
    h->log(h->user_data, level, msg);
  }
}


static void
folder_problem(void *ud, int level, const char *msg)
{
  folder_log(ud, level == PROMPTLY_LOG_WARN ? PROMPTLY_LOG_WARN : PROMPTLY_LOG_ERROR,
     msg);
}


int
pr_ruletest_folder(const promptly_host *host, size_t host_size,
                   const char *rules_dir, uint32_t *cases, uint32_t *failed,
                   char *err, size_t errlen)
{
  promptly_host h;
  memset(&h, 0, sizeof(h));
  memcpy(&h, host, host_size < sizeof(h) ? host_size : sizeof(h));
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  o.log = folder_log;
  o.log_ud = &h;
  o.problem = folder_problem;
  o.problem_ud = &h;
  pr_rules *r = NULL;
  int rc = pr_rules_load(rules_dir, &o, &r, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  pr_ruletest_result res;
  rc = run_all(&h, rules_dir, r, 0, 0, &res, err, errlen);
  pr_rules_free(r);
  if (cases != NULL) {
    *cases = res.cases;
  }
  if (failed != NULL) {
    *failed = res.failed;
  }
  return rc;
}
