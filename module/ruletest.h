/* ruletest.h - rule test cases: the *.test.lua files of a rules folder.
**
** A test file declares cases (test "name" { steps }), each a short ticket
** history (events) with expectations at instants (priority and the rule
** that chose it, policy per metric, dues, states, any field) and the
** actions it must fire.  The files run in a sandbox with the limits of the
** rule files; each case then runs on a fresh instance of the folder's
** rules in virtual time, and what the instance wrote and did is compared
** with what the case expects.  Format: rules/README.md, "Rule tests".
**
** Every problem of a test file, and every failed expectation, goes to the
** host's log as "file:line: message" (ERROR, or WARN where the caller says
** failures only warn); the timeline of a failed case follows at INFO, one
** line each, actions marked "-" (expected, missing) or "+" (fired, not
** expected).  Loop thread of no instance: it opens its own.
*/
#ifndef PR_RULETEST_H
#define PR_RULETEST_H

#include "promptly.h"
#include "rules.h"

#include <stddef.h>
#include <stdint.h>

/* What a failing test does to a hot reload (on_reload "..." in a test
** file; refuse by default). */
#define PR_RULETEST_REFUSE 0
#define PR_RULETEST_WARN   1
#define PR_RULETEST_OFF    2

typedef struct pr_ruletest_result {
  uint32_t files;     /* *.test.lua files found */
  uint32_t cases;     /* cases run */
  uint32_t failed;    /* cases failed */
  uint32_t problems;  /* problems of the test files themselves */
  int on_reload;      /* PR_RULETEST_* the files asked for */
} pr_ruletest_result;

/* Run every *.test.lua of rules_dir against the rules loaded from it
** (rules: that folder, already loaded; the files' names, metrics, levels
** and policies are checked against it).  Messages go to host->log, at
** PROMPTLY_LOG_WARN instead of ERROR when warn_only.  OK when every case
** passed (also when there is none); ERULE when a case failed or a test file
** has a problem (a count in err); EIO when the folder cannot be read. */
int pr_ruletest_run(const promptly_host *host, const char *rules_dir,
                    pr_rules *rules, int warn_only, pr_ruletest_result *res,
                    char *err, size_t errlen);

/* For a hot reload of rules_dir into fresh: run its tests as their
** on_reload asks.  OK to go on with the reload (tests passed, or only warn,
** or off); ERULE, with the reason in err, to keep the old rules. */
int pr_ruletest_gate(const promptly_host *host, const char *rules_dir,
                     pr_rules *fresh, char *err, size_t errlen);

/* promptly_test: load the rules of rules_dir (each problem to host->log,
** as promptly_check), then run its tests.  *cases and *failed (may be
** NULL) get the counts.  OK, ERULE (rules or tests), EIO, ENOMEM. */
int pr_ruletest_folder(const promptly_host *host, size_t host_size,
                       const char *rules_dir, uint32_t *cases,
                       uint32_t *failed, char *err, size_t errlen);

/* Whether a file name is a test file ("*.test.lua"), which the rules
** loader skips. */
int pr_ruletest_is_test_file(const char *name);

#endif /* PR_RULETEST_H */
