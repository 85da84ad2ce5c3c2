/* ruletest_run.c - running one rule test case: an instance of its own
** on the folder's rules (pr_core_open_unwatched), fed and advanced in
** virtual time step by step, its writes, actions, traces, outcome records
** and log lines collected through its host callbacks and compared with
** the case's expectations; a failure is reported with the case's
** timeline.  Nothing reaches the caller's host but the report.
*/

#include "config.h"

#include "ruletest.h"
#include "ruletest_internal.h"
#include "core.h"
#include "problems.h"
#include "rules.h"
#include "sla.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* --- Running a case ------------------------------------------------------- */

typedef struct rt_field {
  int64_t ticket;
  char *name;
  char *value;
} rt_field;

typedef struct rt_act {
  int64_t at_ms;
  int64_t ticket;
  char *text;        /* "notify to=team-lead" */
  const char *where; /* expected: the step's file:line */
} rt_act;

typedef struct rt_run {
  rt_ctx *c;
  const rt_case *k;
  int failed;
  rt_field *fields;
  size_t n_fields, cap_fields;
  rt_field *rules;   /* per ticket: the rule that set its priority */
  size_t n_rules, cap_rules;
  rt_act *acts;      /* fired */
  size_t n_acts, cap_acts;
  pr_buf timeline;   /* "iso ticket N: ..." lines, \n-separated */
  int capture;       /* explain lines go to captured, not the timeline */
  pr_buf captured;
  rt_field *records; /* outcome records: ticket, name "metric cycle", json */
  size_t n_records, cap_records;
  int open_records;  /* records_open is running: into opened */
  rt_field *opened;
  size_t n_opened, cap_opened;
  int oom;
} rt_run;


static void fail(rt_run *r, const char *where, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
fail(rt_run *r, const char *where, const char *fmt, ...)
{
  char msg[RT_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  r->failed = 1;
  rt_say(r->c, r->c->level, "%s: test '%s': %s", where, r->k->name, msg);
}


static int
set_kv(rt_field **arr, size_t *n, size_t *cap, int64_t ticket,
       const char *name, const char *value)
{
  for (size_t i = 0; i < *n; i++) {
    if ((*arr)[i].ticket == ticket && strcmp((*arr)[i].name, name) == 0) {
      char *v = pr_strdup(value);
      if (v == NULL) {
        return -1;
      }
      free((*arr)[i].value);
      (*arr)[i].value = v;
      return 0;
    }
  }
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 32;
    rt_field *na = realloc(*arr, nc * sizeof(*na));
    if (na == NULL) {
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  char *nm = pr_strdup(name), *v = pr_strdup(value);
  if (nm == NULL || v == NULL) {
    free(nm);
    free(v);
    return -1;
  }
  (*arr)[*n] = (rt_field){ticket, nm, v};
  (*n)++;
  return 0;
}


static const char *
get_kv(const rt_field *arr, size_t n, int64_t ticket, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (arr[i].ticket == ticket && strcmp(arr[i].name, name) == 0) {
      return arr[i].value;
    }
  }
  return NULL;
}


static void
free_kvs(rt_field *arr, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(arr[i].name);
    free(arr[i].value);
  }
  free(arr);
}


static void
timeline_line(rt_run *r, int64_t at_ms, int64_t ticket, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static void
timeline_line(rt_run *r, int64_t at_ms, int64_t ticket, const char *fmt, ...)
{
  char iso[PR_ISO_LEN], msg[RT_MSG];
  pr_iso_format(at_ms, iso);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (pr_buf_printf(&r->timeline, "%s ticket %lld: %s\n", iso,
                    (long long)ticket, msg) != PROMPTLY_OK) {
    r->oom = 1;
  }
}


static void
on_log(void *ud, int32_t level, const char *msg)
{
  rt_run *r = ud;
  if (level == PROMPTLY_LOG_ERROR) {
    fail(r, r->k->where, "the rules reported: %s", msg);
  } else if (level == PROMPTLY_LOG_WARN) {
    if (pr_buf_printf(&r->timeline, "warning: %s\n", msg) != PROMPTLY_OK) {
      r->oom = 1;
    }
  }
}


static int32_t
on_write(void *ud, int64_t ticket, int64_t at_ms, const promptly_attr *f,
         uint32_t n)
{
  rt_run *r = ud;
  pr_buf b;
  pr_buf_init(&b);
  for (uint32_t i = 0; i < n; i++) {
    if (set_kv(&r->fields, &r->n_fields, &r->cap_fields, ticket, f[i].name,
               f[i].value) != 0 ||
        pr_buf_printf(&b, "%s%s = %s", i ? ", " : "", f[i].name,
                      f[i].value) != PROMPTLY_OK) {
      r->oom = 1;
    }
  }
  timeline_line(r, at_ms, ticket, "  %s", pr_buf_cstr(&b));
  pr_buf_free(&b);
  return 0;
}


/* "notify to=team-lead, x=y": the name, then the arguments by name. */
static char *
action_text(const char *name, const pr_kv *args, size_t n)
{
  pr_kv *sorted = NULL;
  if (n > 0) {
    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
      return NULL;
    }
    memcpy(sorted, args, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), rt_cmp_kv);
  }
  pr_buf b;
  pr_buf_init(&b);
  int rc = pr_buf_printf(&b, "%s", name);
  for (size_t i = 0; i < n && rc == PROMPTLY_OK; i++) {
    rc = pr_buf_printf(&b, "%s%s=%s", i ? ", " : " ", sorted[i].name,
                       sorted[i].value);
  }
  free(sorted);
  char *out = rc == PROMPTLY_OK ? pr_strdup(pr_buf_cstr(&b)) : NULL;
  pr_buf_free(&b);
  return out;
}


static int
push_act(rt_act **arr, size_t *n, size_t *cap, rt_act a)
{
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    rt_act *na = realloc(*arr, nc * sizeof(*na));
    if (na == NULL) {
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = a;
  return 0;
}


static int32_t
on_action(void *ud, int64_t ticket, int64_t at_ms, const char *action,
          const promptly_attr *args, uint32_t n, const char *key)
{
  rt_run *r = ud;
  _Static_assert(sizeof(pr_kv) == sizeof(promptly_attr), "same layout");
  char *text = action_text(action, (const pr_kv *)(const void *)args, n);
  if (text == NULL ||
      push_act(&r->acts, &r->n_acts, &r->cap_acts,
               (rt_act){at_ms, ticket, text, NULL}) != 0) {
    free(text);
    r->oom = 1;
    return 0;
  }
  timeline_line(r, at_ms, ticket, "@ %s (key %s)", text, key);
  return 0;
}


static void
on_trace(void *ud, int64_t ticket, int64_t at_ms, const char *line)
{
  rt_run *r = ud;
  (void)at_ms;
  if (r->capture) {
    if (pr_buf_printf(&r->captured, "%s\n", line) != PROMPTLY_OK) {
      r->oom = 1;
    }
    return;
  }
  /* core.c: "priority P1 by 10-priority.lua:26", or "... by the default
  ** (no priority rule matched)"; an agent's is "priority set to ...". */
  if (strncmp(line, "priority ", 9) != 0 ||
      strncmp(line, "priority set to ", 16) == 0) {
    return;
  }
  const char *by = strstr(line, " by ");
  if (by == NULL) {
    return;
  }
  const char *rule = by + 4;
  if (strncmp(rule, "the default", 11) == 0) {
    rule = "default";
  }
  if (set_kv(&r->rules, &r->n_rules, &r->cap_rules, ticket, "rule", rule) !=
      0) {
    r->oom = 1;
  }
}


/* A record's "metric cycle" key, from its JSON (module-made, the keys in
** the order of promptly.h). */
static int
record_key(const char *json, char *out, size_t len)
{
  const char *m = strstr(json, "\"metric\": \"");
  const char *c = strstr(json, "\"cycle\": ");
  if (m == NULL || c == NULL) {
    return -1;
  }
  m += 11;
  size_t n = strcspn(m, "\"");
  snprintf(out, len, "%.*s %ld", (int)n, m, strtol(c + 9, NULL, 10));
  return 0;
}


/* The text of a scalar top-level value of a module-made record: a
** string's content, a number's rt_digits, or "null". */
static void
record_value(const char *json, const char *key, char *out, size_t len)
{
  char pat[64];
  snprintf(pat, sizeof(pat), "\"%s\": ", key);
  const char *v = strstr(json, pat);
  snprintf(out, len, "(missing)");
  if (v == NULL) {
    return;
  }
  v += strlen(pat);
  if (*v == '"') {
    size_t o = 0;
    for (v++; *v != '\0' && *v != '"' && o + 1 < len; v++) {
      if (*v == '\\' && v[1] != '\0') {
        v++;
      }
      out[o++] = *v;
    }
    out[o] = '\0';
  } else {
    size_t n = strcspn(v, ",}");
    snprintf(out, len, "%.*s", (int)n, v);
  }
}


static void
on_record(void *ud, int64_t ticket, int64_t at_ms, const char *json)
{
  rt_run *r = ud;
  char key[PR_SLA_NAME_MAX + 32];
  if (record_key(json, key, sizeof(key)) != 0) {
    return;
  }
  if (r->open_records) {
    if (set_kv(&r->opened, &r->n_opened, &r->cap_opened, ticket, key,
               json) != 0) {
      r->oom = 1;
    }
    return;
  }
  /* A later record of the same cycle (a reopen) supersedes it. */
  if (set_kv(&r->records, &r->n_records, &r->cap_records, ticket, key,
             json) != 0) {
    r->oom = 1;
  }
  char outcome[32];
  record_value(json, "outcome", outcome, sizeof(outcome));
  timeline_line(r, at_ms, ticket, "  record %s: %s", key, outcome);
}


static void
check_record(rt_run *r, promptly *p, const rt_step *s, int64_t at_ms)
{
  int64_t ticket = s->has_ticket ? s->ticket : r->k->ticket;
  const char *metric = "?", *cycle = "1";
  for (size_t i = 0; i < s->n_kv; i++) {
    if (strcmp(s->kv[i].name, "@metric") == 0) {
      metric = s->kv[i].value;
    } else if (strcmp(s->kv[i].name, "@cycle") == 0) {
      cycle = s->kv[i].value;
    }
  }
  char key[PR_SLA_NAME_MAX + 32];
  snprintf(key, sizeof(key), "%s %s", metric, cycle);
  const char *json = get_kv(r->records, r->n_records, ticket, key);
  if (json == NULL) {
    free_kvs(r->opened, r->n_opened);
    r->opened = NULL;
    r->n_opened = r->cap_opened = 0;
    r->open_records = 1;
    pr_core_records_open(p, at_ms);
    r->open_records = 0;
    json = get_kv(r->opened, r->n_opened, ticket, key);
  }
  if (json == NULL) {
    fail(r, s->where, "expected a record of %s cycle %s, got none", metric,
         cycle);
    return;
  }
  for (size_t i = 0; i < s->n_kv; i++) {
    if (s->kv[i].name[0] == '@') {
      continue;
    }
    char got[256];
    record_value(json, s->kv[i].name, got, sizeof(got));
    if (strcmp(got, s->kv[i].value) != 0) {
      fail(r, s->where, "expected record %s cycle %s %s %s, got %s", metric,
           cycle, s->kv[i].name, s->kv[i].value, got);
    }
  }
}


/* The policy explain names for metric m, from captured explain lines
** ("<m>: running (cycle 1, business time, policy corporate): ..."). */
static void
policy_from_explain(const char *lines, const char *m, char *out, size_t len)
{
  snprintf(out, len, "none");
  size_t ml = strlen(m);
  for (const char *l = lines; *l != '\0';) {
    const char *end = strchr(l, '\n');
    size_t n = end ? (size_t)(end - l) : strlen(l);
    if (n > ml + 1 && strncmp(l, m, ml) == 0 && l[ml] == ':') {
      const char *p = strstr(l, "policy ");
      if (p != NULL && p < l + n) {
        p += 7;
        size_t k = strcspn(p, "),\n");
        snprintf(out, len, "%.*s", (int)k, p);
        if (strcmp(out, "none") == 0) {
          return;
        }
      }
      return;
    }
    l += n + (end != NULL);
  }
}


static void
check_expect(rt_run *r, promptly *p, const rt_step *s, int64_t at_ms)
{
  int64_t ticket = s->has_ticket ? s->ticket : r->k->ticket;
  int explained = 0;
  for (size_t i = 0; i < s->n_kv; i++) {
    const char *name = s->kv[i].name, *want = s->kv[i].value;
    const char *got;
    char buf[PR_SLA_NAME_MAX + 8];
    char label[PR_SLA_NAME_MAX + 32];
    snprintf(label, sizeof(label), "%s", name);
    if (strcmp(name, CHK_RULE) == 0) {
      got = get_kv(r->rules, r->n_rules, ticket, "rule");
      snprintf(label, sizeof(label), "rule");
    } else if (strncmp(name, CHK_POLICY, strlen(CHK_POLICY)) == 0) {
      const char *m = name + strlen(CHK_POLICY);
      if (!explained) {
        pr_buf_free(&r->captured);
        pr_buf_init(&r->captured);
        r->capture = 1;
        pr_core_explain(p, ticket, at_ms);
        r->capture = 0;
        explained = 1;
      }
      policy_from_explain(pr_buf_cstr(&r->captured), m, buf, sizeof(buf));
      got = buf;
      snprintf(label, sizeof(label), "%s policy", m);
    } else {
      got = get_kv(r->fields, r->n_fields, ticket, name);
      if (got != NULL && got[0] == '\0') {
        got = NULL;
      }
    }
    if (got == NULL) {
      got = "none";
    }
    if (strcmp(got, want) != 0) {
      fail(r, s->where, "expected %s %s, got %s", label, want, got);
    }
  }
}


/* Expected against fired actions, both in time order; each difference is
** a failure, and *diff gets the merged list ("  " same, "- " expected
** only, "+ " fired only). */
static void
compare_actions(rt_run *r, const rt_act *want, size_t nw, pr_buf *diff)
{
  size_t i = 0, j = 0;
  while (i < nw || j < r->n_acts) {
    const rt_act *w = i < nw ? &want[i] : NULL;
    const rt_act *g = j < r->n_acts ? &r->acts[j] : NULL;
    char iso[PR_ISO_LEN];
    if (w && g && w->at_ms == g->at_ms && w->ticket == g->ticket &&
        strcmp(w->text, g->text) == 0) {
      pr_iso_format(g->at_ms, iso);
      pr_buf_printf(diff, "  %s ticket %lld: %s\n", iso, (long long)g->ticket,
                    g->text);
      i++;
      j++;
      continue;
    }
    /* Which one is out of place: the earlier; at the same instant, the
    ** fired one if the expected one comes later among the fired. */
    int take_want;
    if (w == NULL) {
      take_want = 0;
    } else if (g == NULL) {
      take_want = 1;
    } else if (w->at_ms != g->at_ms) {
      take_want = w->at_ms < g->at_ms;
    } else {
      take_want = 1;
      for (size_t k = j + 1; k < r->n_acts && r->acts[k].at_ms == w->at_ms;
           k++) {
        if (r->acts[k].ticket == w->ticket &&
            strcmp(r->acts[k].text, w->text) == 0) {
          take_want = 0;
        }
      }
    }
    if (take_want && g != NULL && g->at_ms == w->at_ms &&
        g->ticket == w->ticket) {
      /* One in place of the other: one failure names both. */
      pr_iso_format(w->at_ms, iso);
      fail(r, w->where, "expected action '%s' at %s (ticket %lld), got '%s'",
           w->text, iso, (long long)w->ticket, g->text);
      pr_buf_printf(diff, "- %s ticket %lld: %s\n+ %s ticket %lld: %s\n",
                    iso, (long long)w->ticket, w->text, iso,
                    (long long)g->ticket, g->text);
      i++;
      j++;
    } else if (take_want) {
      pr_iso_format(w->at_ms, iso);
      fail(r, w->where, "expected action '%s' at %s (ticket %lld), got %s",
           w->text, iso, (long long)w->ticket,
           "none");
      pr_buf_printf(diff, "- %s ticket %lld: %s\n", iso, (long long)w->ticket,
                    w->text);
      i++;
    } else {
      pr_iso_format(g->at_ms, iso);
      fail(r, r->k->where, "expected no action '%s' at %s (ticket %lld), "
           "got it", g->text, iso, (long long)g->ticket);
      pr_buf_printf(diff, "+ %s ticket %lld: %s\n", iso, (long long)g->ticket,
                    g->text);
      j++;
    }
  }
}


static void
print_lines(rt_run *r, const char *title, const char *text)
{
  if (text[0] == '\0') {
    return;
  }
  rt_say(r->c, PROMPTLY_LOG_INFO, "%s: test '%s': %s", r->k->where, r->k->name,
      title);
  for (const char *l = text; *l != '\0';) {
    const char *end = strchr(l, '\n');
    size_t n = end ? (size_t)(end - l) : strlen(l);
    rt_say(r->c, PROMPTLY_LOG_INFO, "%s:   %.*s", r->k->where, (int)n, l);
    l += n + (end != NULL);
  }
}


void
rt_run_case(rt_ctx *c, const rt_case *k)
{
  rt_run r;
  memset(&r, 0, sizeof(r));
  r.c = c;
  r.k = k;
  pr_buf_init(&r.timeline);
  pr_buf_init(&r.captured);
  rt_act *want = NULL;
  size_t n_want = 0, cap_want = 0;

  promptly_host h;
  memset(&h, 0, sizeof(h));
  h.struct_size = sizeof(h);
  h.abi_version = PROMPTLY_ABI_VERSION;
  h.user_data = &r;
  h.log = on_log;
  h.write_fields = on_write;
  h.do_action = on_action;
  h.trace = on_trace;
  h.record = on_record;
  promptly *p = NULL;
  char err[RT_MSG];
  if (pr_core_open_unwatched(&h, sizeof(h), c->dir, &p, err, sizeof(err)) !=
      PROMPTLY_OK) {
    fail(&r, k->where, "cannot load the rules: %s", err);
    goto done;
  }
  int64_t now = INT64_MIN;
  for (size_t i = 0; i < k->n_steps; i++) {
    const rt_step *s = &c->steps[k->steps[i]];
    int64_t at = s->has_at ? s->at_ms : now;
    if (s->kind == ST_ACTION) {
      char *text = action_text(s->action ? s->action : "?", s->kv, s->n_kv);
      if (text == NULL ||
          push_act(&want, &n_want, &cap_want,
                   (rt_act){s->at_ms, s->has_ticket ? s->ticket : k->ticket,
                            text, s->where}) != 0) {
        free(text);
        r.oom = 1;
      }
      continue;
    }
    if (at == INT64_MIN) {
      continue;  /* reported when declared */
    }
    if (at > now && pr_core_advance(p, at) != PROMPTLY_OK) {
      fail(&r, s->where, "cannot advance to this instant");
      break;
    }
    now = at;
    if (s->kind == ST_EXPECT) {
      check_expect(&r, p, s, at);
      continue;
    }
    if (s->kind == ST_RECORD) {
      check_record(&r, p, s, at);
      continue;
    }
    promptly_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.struct_size = sizeof(ev);
    ev.type = s->type;
    ev.ticket = s->has_ticket ? s->ticket : k->ticket;
    ev.at_ms = at;
    ev.attrs = (const promptly_attr *)(const void *)s->kv;
    ev.n_attrs = (uint32_t)s->n_kv;
    ev.source = s->where;
    if (pr_core_submit(p, &ev, err, sizeof(err)) != PROMPTLY_OK) {
      fail(&r, s->where, "event refused: %s", err);
      continue;
    }
    if (pr_core_advance(p, at) != PROMPTLY_OK) {
      fail(&r, s->where, "cannot advance to this instant");
      break;
    }
  }
  if (k->end_ms > now && k->end_ms != INT64_MIN) {
    pr_core_advance(p, k->end_ms);
  }
  pr_buf diff;
  pr_buf_init(&diff);
  compare_actions(&r, want, n_want, &diff);
  if (r.oom) {
    fail(&r, k->where, "out of memory");
  }
  if (r.failed) {
    print_lines(&r, "timeline (fields, @ actions)",
                pr_buf_cstr(&r.timeline));
    print_lines(&r, "actions (- expected only, + fired only)",
                pr_buf_cstr(&diff));
  }
  pr_buf_free(&diff);
  pr_core_close(p);
done:
  if (r.failed) {
    c->failed++;
  } else {
    rt_say(c, PROMPTLY_LOG_DEBUG, "%s: test '%s': ok", k->where, k->name);
  }
  for (size_t i = 0; i < n_want; i++) {
    free(want[i].text);
  }
  free(want);
  for (size_t i = 0; i < r.n_acts; i++) {
    free(r.acts[i].text);
  }
  free(r.acts);
  free_kvs(r.fields, r.n_fields);
  free_kvs(r.rules, r.n_rules);
  free_kvs(r.records, r.n_records);
  free_kvs(r.opened, r.n_opened);
  pr_buf_free(&r.timeline);
  pr_buf_free(&r.captured);
}
