/* problems.h - the problems of one load: bounded, collapsed, sorted.
**
** A pr_problems collects what a load found wrong (or worth a warning) as
** plain records: file, line, severity, message.  It holds at most `max`
** distinct records, always the smallest by (file, line, order of first
** report), so that what is reported is the beginning of the folder in
** reading order however many problems a loop produces; the others are
** only counted (`more`).  A record identical to a kept one (same file,
** line, severity and message) is not kept twice: its count grows.
** Messages are stored as one line of valid UTF-8 (pr_text_line), at most
** PR_PROBLEM_MSG_MAX bytes, so that whatever a rule file says, a record
** prints as one honest line.
**
** Memory is bounded by max records; adding never fails the caller's load
** (an allocation failure counts the record in `more`).  Not thread-safe:
** one load, one thread.
*/
#ifndef PR_PROBLEMS_H
#define PR_PROBLEMS_H

#include <stddef.h>

/* Records kept by default; the rest are counted. */
#define PR_PROBLEMS_MAX 100

/* Bytes of one message (after escaping), NUL not included. */
#define PR_PROBLEM_MSG_MAX 480

typedef enum pr_severity {
  PR_SEV_ERROR = 0,    /* fails the load */
  PR_SEV_WARNING = 1   /* reported, the load goes on */
} pr_severity;

typedef struct pr_problem {
  char *file;      /* a file of the folder, as named there; "" for none */
  int line;        /* 1-based; 0 when the problem is about the whole file */
  int severity;    /* pr_severity */
  char *message;   /* without "file:line: "; one line, UTF-8 */
  size_t count;    /* identical reports collapsed into this one (>= 1) */
  size_t seq;      /* order of the first report, for ties */
} pr_problem;

typedef struct pr_problems {
  pr_problem *items;  /* n records, sorted by (file, line, seq) */
  size_t n;
  size_t max;
  size_t more;        /* reports not kept (beyond max or out of memory) */
  size_t errors;      /* error reports, kept or not, collapsed or not */
  size_t warnings;    /* warning reports, likewise */
  size_t seq;
} pr_problems;

/* An empty list keeping at most max records (0: PR_PROBLEMS_MAX). */
void pr_problems_init(pr_problems *ps, size_t max);

/* Free every record; ps is then empty, ready for reuse. */
void pr_problems_clear(pr_problems *ps);

/* Report a problem; file NULL is "", line < 0 is 0.  The message is
** escaped to one line of UTF-8 and truncated to PR_PROBLEM_MSG_MAX. */
void pr_problems_add(pr_problems *ps, const char *file, int line,
                     int severity, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

/* Report a message already in the form "file:line: message" or
** "file: message" (Lua's error messages), splitting the place off.  file
** is the name the message should start with; when it does not, the whole
** text is the message and the place is (file, 0). */
void pr_problems_add_text(pr_problems *ps, const char *file, int severity,
                          const char *text);

/* Whether any error was reported (kept or not). */
int pr_problems_failed(const pr_problems *ps);

/* The kept records, sorted, and how many were not kept. */
size_t pr_problems_count(const pr_problems *ps);
const pr_problem *pr_problems_get(const pr_problems *ps, size_t i);
size_t pr_problems_more(const pr_problems *ps);

/* The first kept error, or NULL. */
const pr_problem *pr_problems_first_error(const pr_problems *ps);

/* "file:line: message" ("file: message" without a line, "message" without
** a file) into buf, with " (N times)" when identical reports collapsed.
** Returns buf. */
char *pr_problem_format(const pr_problem *p, char *buf, size_t len);

/* One line of the end of a report: "and N more problems", into buf;
** returns NULL when nothing was left out. */
char *pr_problems_format_more(const pr_problems *ps, char *buf, size_t len);

#endif /* PR_PROBLEMS_H */
