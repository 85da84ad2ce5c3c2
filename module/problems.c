/* problems.c - the problems of one load: bounded, collapsed, sorted.
**
** Invariants.  items[0..n) is sorted by (file, line, seq) with strcmp on
** file, n <= max, and no two items are identical (file, line, severity,
** message).  Every report is counted exactly once: in an item's count, or
** in more.  errors + warnings is the number of reports.
*/
#include "config.h"

#include "problems.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pr_problems_init(pr_problems *ps, size_t max)
{
  memset(ps, 0, sizeof(*ps));
  ps->max = max > 0 ? max : PR_PROBLEMS_MAX;
}


static void
problem_free(pr_problem *p)
{
  free(p->file);
  free(p->message);
}


void
pr_problems_clear(pr_problems *ps)
{
  for (size_t i = 0; i < ps->n; i++) {
    problem_free(&ps->items[i]);
  }
  free(ps->items);
  pr_problems_init(ps, ps->max);
}


/* (file, line, seq) order. */
static int
place_cmp(const char *fa, int la, size_t sa, const pr_problem *b)
{
  int c = strcmp(fa, b->file);
  if (c != 0) {
    return c;
  }
  if (la != b->line) {
    return la < b->line ? -1 : 1;
  }
  return sa < b->seq ? -1 : sa > b->seq ? 1 : 0;
}


static void
problem_put(pr_problems *ps, const char *file, int line, int severity,
            const char *msg)
{
  if (severity == PR_SEV_WARNING) {
    ps->warnings++;
  } else {
    severity = PR_SEV_ERROR;
    ps->errors++;
  }
  if (file == NULL) {
    file = "";
  }
  if (line < 0) {
    line = 0;
  }
  /* One line of UTF-8, the file name too: it came from a directory. */
  char fbuf[256];
  pr_text_line(file, strlen(file), fbuf, sizeof(fbuf));
  char mbuf[PR_PROBLEM_MSG_MAX + 1];
  pr_text_line(msg, strlen(msg), mbuf, sizeof(mbuf));

  for (size_t i = 0; i < ps->n; i++) {
    pr_problem *p = &ps->items[i];
    if (p->line == line && p->severity == severity &&
        strcmp(p->file, fbuf) == 0 && strcmp(p->message, mbuf) == 0) {
      p->count++;
      return;
    }
  }
  size_t seq = ps->seq++;
  /* Where it goes in the sorted list. */
  size_t at = ps->n;
  while (at > 0 && place_cmp(fbuf, line, seq, &ps->items[at - 1]) < 0) {
    at--;
  }
  if (ps->n == ps->max) {
    if (at == ps->n) {
      ps->more++;   /* later than every kept one */
      return;
    }
    /* The last kept one makes room. */
    ps->more += ps->items[ps->n - 1].count;
    problem_free(&ps->items[ps->n - 1]);
    ps->n--;
  }
  if (ps->items == NULL) {
    ps->items = calloc(ps->max, sizeof(*ps->items));
    if (ps->items == NULL) {
      ps->more++;
      return;
    }
  }
  char *f = pr_strdup(fbuf), *m = pr_strdup(mbuf);
  if (f == NULL || m == NULL) {
    free(f);
    free(m);
    ps->more++;
    return;
  }
  memmove(&ps->items[at + 1], &ps->items[at],
          (ps->n - at) * sizeof(*ps->items));
  ps->items[at] = (pr_problem){f, line, severity, m, 1, seq};
  ps->n++;
}


void
pr_problems_add(pr_problems *ps, const char *file, int line, int severity,
                const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  problem_put(ps, file, line, severity, msg);
}


void
pr_problems_add_text(pr_problems *ps, const char *file, int severity,
                     const char *text)
{
  size_t fl = file != NULL ? strlen(file) : 0;
  int line = 0;
  const char *msg = text;
  if (fl > 0 && strncmp(text, file, fl) == 0 && text[fl] == ':') {
    const char *p = text + fl + 1;
    long v = 0;
    const char *d = p;
    while (*d >= '0' && *d <= '9' && v < 100000000) {
      v = v * 10 + (*d - '0');
      d++;
    }
    if (d > p && *d == ':') {
      line = (int)v;
      p = d + 1;
    }
    while (*p == ' ') {
      p++;
    }
    msg = p;
  }
  problem_put(ps, file, line, severity, msg);
}


int
pr_problems_failed(const pr_problems *ps)
{
  return ps->errors > 0;
}


size_t
pr_problems_count(const pr_problems *ps)
{
  return ps->n;
}


const pr_problem *
pr_problems_get(const pr_problems *ps, size_t i)
{
  return i < ps->n ? &ps->items[i] : NULL;
}


size_t
pr_problems_more(const pr_problems *ps)
{
  return ps->more;
}


const pr_problem *
pr_problems_first_error(const pr_problems *ps)
{
  for (size_t i = 0; i < ps->n; i++) {
    if (ps->items[i].severity == PR_SEV_ERROR) {
      return &ps->items[i];
    }
  }
  return NULL;
}


char *
pr_problem_format(const pr_problem *p, char *buf, size_t len)
{
  char times[48] = "";
  if (p->count > 1) {
    snprintf(times, sizeof(times), " (%zu times)", p->count);
  }
  if (p->file[0] == '\0') {
    snprintf(buf, len, "%s%s", p->message, times);
  } else if (p->line > 0) {
    snprintf(buf, len, "%s:%d: %s%s", p->file, p->line, p->message, times);
  } else {
    snprintf(buf, len, "%s: %s%s", p->file, p->message, times);
  }
  return buf;
}


char *
pr_problems_format_more(const pr_problems *ps, char *buf, size_t len)
{
  if (ps->more == 0) {
    return NULL;
  }
  snprintf(buf, len, "and %zu more problem%s", ps->more,
           ps->more == 1 ? "" : "s");
  return buf;
}
