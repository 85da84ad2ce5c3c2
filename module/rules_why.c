/* rules_why.c - why the priority rules judge a ticket as they do, and
** which rules can never win: explanations for people tuning rules.
**
** Nothing here decides anything: the verdict is pr_rules_priority's (the
** real one, `when` functions included), and this file only tells, rule by
** rule, which keywords stand where in the subject and body (character
** columns, 1-based) and which condition failed; the warnings that follow
** are pr_rules_lint's (rules_lint.c).
*/
#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

#define WHY_LINE 1024

typedef struct why_hit {
  uint32_t id;
  const char *field;   /* "subject" or "body" */
  size_t column;       /* 1-based, in characters */
  char *text;          /* the words as they stand in the ticket */
} why_hit;

typedef struct why_hits {
  why_hit *v;
  size_t n, cap;
  const char *field;
  const char *text;
  int oom;
} why_hits;


static void say(pr_rules_say_fn fn, void *ud, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
say(pr_rules_say_fn fn, void *ud, const char *fmt, ...)
{
  char line[WHY_LINE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fn(ud, line);
}


static void
on_match(void *ud, uint32_t id, size_t start, size_t end)
{
  why_hits *h = ud;
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    why_hit *v = realloc(h->v, cap * sizeof(*v));
    if (v == NULL) {
      h->oom = 1;
      return;
    }
    h->v = v;
    h->cap = cap;
  }
  char *text = g_strndup(h->text + start, end - start);
  h->v[h->n++] = (why_hit){id, h->field,
                           (size_t)g_utf8_strlen(h->text, (gssize)start) + 1,
                           text};
}


static const char *
attr_of(const pr_kv *attrs, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (attrs[i].name != NULL && attrs[i].value != NULL &&
        g_ascii_strcasecmp(attrs[i].name, name) == 0) {
      return attrs[i].value;
    }
  }
  return NULL;
}


/* The first attribute condition of m that fails, told in out; 0 if all
** hold (as pr_rules_priority compares: case-folded equality). */
static int
cond_fails(const rules_match *m, const pr_kv *attrs, size_t n, char *out,
           size_t len)
{
  for (size_t c = 0; c < m->n_conds; c++) {
    const rules_cond *k = &m->conds[c];
    const char *v = attr_of(attrs, n, k->attr);
    int any = 0;
    if (v != NULL) {
      char *valid = g_utf8_make_valid(v, -1);
      char *f = fold_value(valid);
      g_free(valid);
      for (size_t i = 0; f != NULL && !any && i < k->n_values; i++) {
        any = strcmp(f, k->values[i]) == 0;
      }
      g_free(f);
    }
    if (!any) {
      pr_buf want;
      pr_buf_init(&want);
      for (size_t i = 0; i < k->n_values; i++) {
        pr_buf_printf(&want, "%s'%s'", i ? " or " : "", k->values[i]);
      }
      if (v == NULL) {
        snprintf(out, len, "the ticket has no %s (the rule wants %s)",
                 k->attr, pr_buf_cstr(&want));
      } else {
        snprintf(out, len, "%s is '%s', not %s", k->attr, v,
                 pr_buf_cstr(&want));
      }
      pr_buf_free(&want);
      return 1;
    }
  }
  return 0;
}


/* "'down' at subject:13, 'error' at body:4" for the hits of m. */
static void
rule_hits(const rules_match *m, const why_hits *h, pr_buf *out)
{
  for (size_t i = 0; i < h->n; i++) {
    for (size_t w = 0; w < m->n_words; w++) {
      if (m->word_ids != NULL && m->word_ids[w] == h->v[i].id) {
        pr_buf_printf(out, "%s'%s' at %s:%zu", out->len ? ", " : "",
                      h->v[i].text, h->v[i].field, h->v[i].column);
        break;
      }
    }
  }
}


int
pr_rules_why(pr_rules *r, const pr_kv *attrs, size_t n_attrs,
             pr_rules_say_fn fn, void *ud, char *err, size_t errlen)
{
  size_t level = 0;
  const char *by = NULL;
  int rc = pr_rules_priority(r, 0, attrs, n_attrs, &level, &by, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  why_hits h;
  memset(&h, 0, sizeof(h));
  static const char *const fields[] = {"subject", "body"};
  for (size_t i = 0; r->matcher != NULL && i < 2; i++) {
    const char *text = attr_of(attrs, n_attrs, fields[i]);
    if (text == NULL) {
      continue;
    }
    h.field = fields[i];
    h.text = text;
    if (pr_matcher_scan_each(r->matcher, text, strlen(text), on_match, &h) !=
        PROMPTLY_OK) {
      h.oom = 1;
    }
  }
  pr_buf lv;
  pr_buf_init(&lv);
  for (size_t i = 0; i < pr_rules_level_count(r); i++) {
    pr_buf_printf(&lv, "%s%s", i ? ", " : "", pr_rules_level_id(r, i));
  }
  say(fn, ud, "levels: %s (default %s)", pr_buf_cstr(&lv),
      pr_rules_level_id(r, pr_rules_default_level(r)));
  pr_buf_free(&lv);
  long winner = -1;
  for (size_t i = 0; by != NULL && i < r->n_prios; i++) {
    if (r->prios[i].site.where == by) {
      winner = (long)i;
    }
  }
  if (winner < 0) {
    say(fn, ud, "priority %s: the default, no priority rule matched",
        pr_rules_level_id(r, level));
  } else {
    pr_buf b;
    pr_buf_init(&b);
    rule_hits(&r->prios[winner].m, &h, &b);
    say(fn, ud, "priority %s by %s%s%s", pr_rules_level_id(r, level), by,
        b.len ? ", at " : "", pr_buf_cstr(&b));
    pr_buf_free(&b);
  }
  /* Near misses: other rules that have some of their words in the text,
  ** or whose attribute conditions hold. */
  for (size_t i = 0; i < r->n_prios; i++) {
    const rules_prio *p = &r->prios[i];
    if ((long)i == winner) {
      continue;
    }
    pr_buf b;
    pr_buf_init(&b);
    rule_hits(&p->m, &h, &b);
    char why[512] = "";
    int fails = cond_fails(&p->m, attrs, n_attrs, why, sizeof(why));
    int words_ok = p->m.n_words == 0 || b.len > 0;
    if (b.len == 0 && (p->m.n_words > 0 || fails)) {
      pr_buf_free(&b);
      continue;  /* nothing of it in this ticket */
    }
    const char *level_id = pr_rules_level_id(r, p->level);
    char tail[640];
    if (!words_ok) {
      snprintf(tail, sizeof(tail), "none of its words is here");
    } else if (fails) {
      snprintf(tail, sizeof(tail), "but %s", why);
    } else if (winner >= 0 && (long)i > winner) {
      snprintf(tail, sizeof(tail), "it holds too, but %s comes first", by);
    } else if (p->m.when_ref != LUA_NOREF) {
      snprintf(tail, sizeof(tail), "but its when function returned false");
    } else {
      snprintf(tail, sizeof(tail), "it holds");
    }
    say(fn, ud, "near miss: %s (%s)%s%s; %s", p->site.where, level_id,
        b.len ? ": " : "", pr_buf_cstr(&b), tail);
    pr_buf_free(&b);
  }
  for (size_t i = 0; i < h.n; i++) {
    g_free(h.v[i].text);
  }
  free(h.v);
  if (h.oom) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  pr_rules_lint(r, (int64_t)ts.tv_sec * 1000, fn, ud);
  return PROMPTLY_OK;
}


/* --- promptly_why --------------------------------------------------------- */

static void
host_log(void *ud, int level, const char *msg)
{
  const promptly_host *h = ud;
  if (h->log != NULL) {
    h->log(h->user_data, level, msg);
  }
}

static void
host_problem(void *ud, int level, const char *msg)
{
  (void)level;
  host_log(ud, PROMPTLY_LOG_ERROR, msg);
}

static void
host_say(void *ud, const char *line)
{
  const promptly_host *h = ud;
  h->trace(h->user_data, 0, 0, line);
}

int
pr_rules_why_folder(const promptly_host *host, size_t host_size,
                    const char *dir, const pr_kv *attrs, size_t n_attrs,
                    char *err, size_t errlen)
{
  promptly_host h;
  memset(&h, 0, sizeof(h));
  memcpy(&h, host, host_size < sizeof(h) ? host_size : sizeof(h));
  if (h.trace == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOTSUP,
                  "why: the host has no trace callback");
  }
  pr_rules_opts o;
  memset(&o, 0, sizeof(o));
  o.log = host_log;
  o.log_ud = &h;
  o.problem = host_problem;
  o.problem_ud = &h;
  pr_rules *r = NULL;
  int rc = pr_rules_load(dir, &o, &r, err, errlen);
  if (rc != PROMPTLY_OK) {
    return rc;
  }
  rc = pr_rules_why(r, attrs, n_attrs, host_say, &h, err, errlen);
  pr_rules_free(r);
  return rc;
}
