/* ruletest_internal.h - what the files of the rule tests share
** (ruletest.c: messages, instants, finding and loading the files, the
** entry points; ruletest_declare.c: the functions test files call;
** ruletest_run.c: running a case).  Not an interface: ruletest.h is.
**
** Invariants: a context's steps are copied into C when their constructor
** is called and referred to by index from their case (rt_case.steps), in
** the order written; a step or case with bad set was reported as a
** problem and does not run; a case's instants never go back.
*/
#ifndef PR_RULETEST_INTERNAL_H
#define PR_RULETEST_INTERNAL_H

#include "promptly.h"
#include "problems.h"
#include "rules.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#define RT_WHERE 96
#define RT_MSG 1024
#define RT_FILE_MAX ((size_t)1 << 20)
#define RT_STEP_MT "promptly.test.step"
/* Cases of one folder: each runs an instance, on the loop thread when a
** reload runs them, so their number is bounded. */
#define RT_MAX_CASES 1000

enum { ST_EVENT, ST_EXPECT, ST_ACTION, ST_RECORD };

/* Check names beyond plain fields. */
#define CHK_RULE "@rule"
#define CHK_POLICY "@policy:"  /* followed by the metric */

typedef struct rt_step {
  int kind;
  char where[RT_WHERE];  /* "file:line" of the call */
  int has_at;
  int64_t at_ms;
  int has_ticket;
  int64_t ticket;
  int32_t type;          /* ST_EVENT: PROMPTLY_EV_* */
  int bad;               /* a problem was reported: its case does not run */
  char *action;          /* ST_ACTION: the action's name */
  pr_kv *kv;             /* event attrs, action args (sorted), checks */
  size_t n_kv;
} rt_step;

typedef struct rt_case {
  char *name;
  char where[RT_WHERE];
  int64_t ticket;
  int64_t end_ms;        /* the latest instant of its steps, or through */
  size_t *steps;         /* indices into ctx->steps */
  size_t n_steps;
  int bad;               /* a problem was reported: it does not run */
} rt_case;

typedef struct rt_ctx {
  const promptly_host *host;
  int level;             /* of failures and problems: ERROR or WARN */
  const char *dir;
  pr_rules *rules;
  rt_step *steps;
  size_t n_steps, cap_steps;
  rt_case *cases;
  size_t n_cases, cap_cases;
  int on_reload;
  char on_reload_where[RT_WHERE];
  uint32_t problems;      /* problems of the test files, reported or not */
  pr_problems found;      /* the same, sorted and collapsed (problems.h) */
  uint32_t failed;
} rt_ctx;

/* ruletest.c: messages to the host's log; problems of a test file at
** where ("file:line"), reported sorted once every file ran. */
void rt_say(const rt_ctx *c, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void rt_problem(rt_ctx *c, const char *where, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void rt_report_problems(rt_ctx *c);
/* Exactly n decimal digits of s into *out; -1 if not. */
int rt_digits(const char *s, int n, int *out);
/* "2026-11-16T07:42:00Z" (".123" allowed before the Z), UTC only; -1. */
int rt_parse_iso(const char *s, int64_t *out);

/* ruletest_declare.c */
int rt_cmp_kv(const void *a, const void *b);
void rt_free_step(rt_step *s);
/* The step constructors and test, as globals of a test file's state
** (run through pr_sandbox_run, the context at index 1). */
int rt_register_fns(lua_State *L);

/* ruletest_run.c: run case k on an instance of its own, report. */
void rt_run_case(rt_ctx *c, const rt_case *k);

#endif /* PR_RULETEST_INTERNAL_H */
