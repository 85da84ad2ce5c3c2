/* report_out.c - "promptly report" printed: text (aligned tables), json
** (one document, every field documented in promptly(1)), csv (one row per
** group) and html (one self-contained page with inline SVG charts, each
** with its numbers in a table beside it).
**
** Invariants.  Every format shows the same numbers, computed once in
** report.c; this file only formats them.  Durations are exact business ms
** in json and csv, and the rule language's form ("1h30m") in text and
** html.  Nothing in the html page refers to anything outside it, and every
** string from the records is escaped.
*/
#include "config.h"

#include "cli.h"
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define DEFINITIONS                                                          \
  "priority: the priority at the start of the cycle; compliance: met / "    \
  "(met + breached) over the cycles that ended in the period (a cycle "     \
  "breached and later met is breached; active and paused cycles are "       \
  "counted apart, never in the ratio); durations: business time of the "    \
  "cycle's own calendar; p50..p95: nearest rank over met and breached "     \
  "cycles; overrun: elapsed minus the breached target"


/* --- Small formatters ------------------------------------------------------- */

static const char *
or_none(const char *s)
{
  return s != NULL ? s : "(none)";
}


static char *
dur(int64_t ms)
{
  if (ms == REP_NONE) {
    return g_strdup("-");
  }
  char buf[64];
  rep_rule_duration(ms, buf, sizeof(buf));
  return g_strdup(buf);
}


static char *
pct_str(double v)
{
  if (v < 0) {
    return g_strdup("-");
  }
  return g_strdup_printf("%.1f%%", v * 100.0);
}


static char *
iso(int64_t ms)
{
  if (ms == REP_NONE) {
    return g_strdup("-");
  }
  char buf[CLI_ISO_LEN];
  cli_format_iso(ms, buf);
  return g_strdup(buf);
}


static char *
i64(int64_t v)
{
  return g_strdup_printf("%" PRId64, v);
}


/* --- Tables: rows of owned strings ---------------------------------------- */

typedef struct table {
  int ncol;
  GPtrArray *rows;  /* char ** of ncol owned strings; row 0 the header */
} table;

static table *
table_new(int ncol)
{
  table *t = g_new0(table, 1);
  t->ncol = ncol;
  t->rows = g_ptr_array_new();
  return t;
}

/* Takes ownership of the strings. */
static void
table_row(table *t, char **cells)
{
  char **row = g_new0(char *, (gsize)t->ncol + 1);
  memcpy(row, cells, sizeof(char *) * (size_t)t->ncol);
  g_ptr_array_add(t->rows, row);
}

static void
table_free(table *t)
{
  for (guint i = 0; i < t->rows->len; i++) {
    g_strfreev(g_ptr_array_index(t->rows, i));
  }
  g_ptr_array_free(t->rows, TRUE);
  g_free(t);
}

static void
table_text(FILE *f, const table *t)
{
  size_t w[32] = {0};
  for (guint i = 0; i < t->rows->len; i++) {
    char **row = g_ptr_array_index(t->rows, i);
    for (int c = 0; c < t->ncol && c < 32; c++) {
      size_t n = (size_t)g_utf8_strlen(row[c], -1);
      if (n > w[c]) {
        w[c] = n;
      }
    }
  }
  for (guint i = 0; i < t->rows->len; i++) {
    char **row = g_ptr_array_index(t->rows, i);
    for (int c = 0; c < t->ncol; c++) {
      if (c == t->ncol - 1) {
        fprintf(f, "%s\n", row[c]);
      } else {
        size_t n = (size_t)g_utf8_strlen(row[c], -1);
        fprintf(f, "%s%*s", row[c], (int)(w[c] - n + 2), "");
      }
    }
  }
}

static void
html_esc(FILE *f, const char *s)
{
  for (; *s != '\0'; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void
table_html(FILE *f, const table *t)
{
  fputs("<table>\n", f);
  for (guint i = 0; i < t->rows->len; i++) {
    char **row = g_ptr_array_index(t->rows, i);
    fputs("<tr>", f);
    for (int c = 0; c < t->ncol; c++) {
      fputs(i == 0 ? "<th>" : "<td>", f);
      html_esc(f, row[c]);
      fputs(i == 0 ? "</th>" : "</td>", f);
    }
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}


/* --- The tables of a report ---------------------------------------------- */

#define STAT_COLS 15

static void
stat_cells(const rep_stats *st, char **c)
{
  c[0] = i64(st->count);
  c[1] = i64(st->n[REP_MET]);
  c[2] = i64(st->n[REP_BREACHED]);
  c[3] = i64(st->n[REP_CANCELLED]);
  c[4] = i64(st->n[REP_STOPPED]);
  c[5] = i64(st->n[REP_ACTIVE]);
  c[6] = i64(st->n[REP_PAUSED]);
  c[7] = pct_str(rep_compliance(st));
  for (int i = 0; i < REP_PCTS; i++) {
    c[8 + i] = dur(st->pct[i]);
  }
  c[12] = dur(st->overrun_median);
  c[13] = dur(st->overrun_max);
}

static table *
groups_table(const report *r)
{
  static const char *const head[] = {
    "count", "met", "breached", "cancelled", "stopped", "active", "paused",
    "compliance", "p50", "p80", "p90", "p95", "overrun median",
    "overrun max",
  };
  int nk = r->nby;
  table *t = table_new(nk + STAT_COLS - 1);
  char *cells[REP_MAX_BY + STAT_COLS];
  for (int k = 0; k < nk; k++) {
    cells[k] = g_strdup(rep_key_names[r->by[k]]);
  }
  for (int i = 0; i < STAT_COLS - 1; i++) {
    cells[nk + i] = g_strdup(head[i]);
  }
  table_row(t, cells);
  for (guint g = 0; g < r->groups->len; g++) {
    const rep_group *gr = g_ptr_array_index(r->groups, g);
    for (int k = 0; k < nk; k++) {
      cells[k] = g_strdup(or_none(gr->key[k]));
    }
    stat_cells(&gr->st, cells + nk);
    table_row(t, cells);
  }
  for (int k = 0; k < nk; k++) {
    cells[k] = g_strdup(k == 0 ? "(all)" : "");
  }
  stat_cells(&r->total, cells + nk);
  table_row(t, cells);
  return t;
}

static table *
breaches_table(const report *r)
{
  table *t = table_new(12);
  char *h[] = {
    g_strdup("ticket"), g_strdup("metric"), g_strdup("cycle"),
    g_strdup("policy"), g_strdup("priority"), g_strdup("target"),
    g_strdup("elapsed"), g_strdup("overrun"), g_strdup("paused"),
    g_strdup("customer wait"), g_strdup("breached at"), g_strdup("cause"),
  };
  table_row(t, h);
  for (guint i = 0; i < r->breaches->len; i++) {
    const rep_record *b = g_ptr_array_index(r->breaches, i);
    char cause[1024];
    rep_cause(b, cause, sizeof(cause));
    int64_t target = b->breach_target_ms != REP_NONE ? b->breach_target_ms
                                                     : b->target_ms;
    char *c[] = {
      i64(b->ticket), g_strdup(b->metric), i64(b->cycle),
      g_strdup(or_none(b->breach_policy != NULL ? b->breach_policy
                                                : b->policy)),
      g_strdup(or_none(b->prio_start)), dur(target), dur(b->elapsed_ms),
      dur(rep_overrun(b)), dur(b->paused_ms), dur(b->wait_ms),
      iso(b->breached_at), g_strdup(cause),
    };
    table_row(t, c);
  }
  return t;
}

static table *
calib_table(const report *r)
{
  table *t = table_new(10);
  char *h[] = {
    g_strdup("metric"), g_strdup("priority"), g_strdup("policy"),
    g_strdup("target"), g_strdup("cycles"), g_strdup("compliance"),
    g_strdup("p80"), g_strdup("suggested"),
    g_strdup("compliance at suggested"), g_strdup("flag"),
  };
  table_row(t, h);
  for (guint i = 0; i < r->calib->len; i++) {
    const rep_calib *c = &g_array_index(r->calib, rep_calib, i);
    char *row[] = {
      g_strdup(c->metric), g_strdup(or_none(c->priority)),
      g_strdup(or_none(c->policy)),
      c->target_ms == REP_NONE ? g_strdup("best effort") : dur(c->target_ms),
      i64(c->cycles), pct_str(c->compliance), dur(c->p80),
      dur(c->suggested), pct_str(c->suggested_compliance),
      g_strdup(c->flag != NULL ? c->flag : ""),
    };
    table_row(t, row);
  }
  return t;
}

static char *
money(double v, const char *cur)
{
  return g_strdup_printf("%.2f%s%s", v, cur != NULL ? " " : "",
                         cur != NULL ? cur : "");
}

static char *
breach_refs(const rep_credit *c)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < c->breaches->len; i++) {
    const rep_record *b = g_ptr_array_index(c->breaches, i);
    g_string_append_printf(s, "%s#%" PRId64 " %s/%" PRId64, i ? ", " : "",
                           b->ticket, b->metric, b->cycle);
  }
  return g_string_free(s, FALSE);
}

static table *
credits_table(const report *r)
{
  table *t = table_new(11);
  char *h[] = {
    g_strdup("customer"), g_strdup("month"), g_strdup("contract"),
    g_strdup("tickets"), g_strdup("met"), g_strdup("breached"),
    g_strdup("compliance"), g_strdup("target"), g_strdup("shortfall"),
    g_strdup("credit"), g_strdup("breaches / note"),
  };
  table_row(t, h);
  for (guint i = 0; i < r->credits->len; i++) {
    const rep_credit *c = g_ptr_array_index(r->credits, i);
    char *refs = breach_refs(c);
    char *last = c->note != NULL
                   ? g_strdup_printf("%s%s%s", c->note, refs[0] ? "; " : "",
                                     refs)
                   : g_strdup(refs);
    g_free(refs);
    char *row[] = {
      g_strdup(c->customer), g_strdup(c->month), g_strdup(c->contract),
      i64(c->tickets), i64(c->met), i64(c->breached),
      pct_str(c->compliance), g_strdup_printf("%g%%", c->target),
      g_strdup_printf("%.2f pts", c->shortfall), money(c->credit, c->currency),
      last,
    };
    table_row(t, row);
  }
  return t;
}


/* --- Text ------------------------------------------------------------------- */

static void
header_text(const report *r, FILE *f)
{
  char *a = iso(r->from), *b = iso(r->to);
  fprintf(f, "promptly report: %s, %u cycles in the period", r->records_path,
          r->selected->len);
  if (r->from == REP_NONE && r->to == REP_NONE) {
    fprintf(f, " (all)");
  } else {
    fprintf(f, " [%s, %s)", r->from == REP_NONE ? "start" : a,
            r->to == REP_NONE ? "end" : b);
  }
  fprintf(f, ", zone %s\n", r->tz_name);
  g_free(a);
  g_free(b);
}

static int
out_text(report *r, FILE *f)
{
  header_text(r, f);
  fprintf(f, "%s\n\n", DEFINITIONS ".");
  table *t = groups_table(r);
  table_text(f, t);
  table_free(t);
  if (r->want_breaches) {
    fprintf(f, "\nBreaches (%u):\n", r->breaches->len);
    t = breaches_table(r);
    table_text(f, t);
    table_free(t);
  }
  if (r->calib != NULL) {
    fprintf(f, "\nCalibration (suggested = p80 + %g%%, rounded up):\n",
            r->buffer);
    t = calib_table(r);
    table_text(f, t);
    table_free(t);
  }
  if (r->credits != NULL) {
    fprintf(f, "\nService credits:\n");
    t = credits_table(r);
    table_text(f, t);
    table_free(t);
  }
  return ferror(f) ? -1 : 0;
}


/* --- JSON ------------------------------------------------------------------- */

static json_t *
j_dur(int64_t ms)
{
  return ms == REP_NONE ? json_null() : json_integer((json_int_t)ms);
}

static json_t *
j_str(const char *s)
{
  return s == NULL ? json_null() : json_string(s);
}

static json_t *
j_iso(int64_t ms)
{
  if (ms == REP_NONE) {
    return json_null();
  }
  char buf[CLI_ISO_LEN];
  cli_format_iso(ms, buf);
  return json_string(buf);
}

/* A fraction, rounded to 6 decimals. */
static json_t *
j_ratio(double v)
{
  return v < 0 ? json_null() : json_real(round(v * 1e6) / 1e6);
}

static void
j_stats(json_t *o, const rep_stats *st)
{
  json_object_set_new(o, "count", json_integer(st->count));
  for (int i = 0; i < REP_OUTCOMES; i++) {
    json_object_set_new(o, rep_outcome_names[i], json_integer(st->n[i]));
  }
  json_object_set_new(o, "compliance", j_ratio(rep_compliance(st)));
  for (int i = 0; i < REP_PCTS; i++) {
    char k[16];
    snprintf(k, sizeof(k), "p%d_ms", rep_pcts[i]);
    json_object_set_new(o, k, j_dur(st->pct[i]));
  }
  json_object_set_new(o, "overrun_median_ms", j_dur(st->overrun_median));
  json_object_set_new(o, "overrun_max_ms", j_dur(st->overrun_max));
}

static json_t *
j_breach(const rep_record *b)
{
  json_t *o = json_object();
  char cause[1024];
  rep_cause(b, cause, sizeof(cause));
  json_object_set_new(o, "ticket", json_integer(b->ticket));
  json_object_set_new(o, "metric", json_string(b->metric));
  json_object_set_new(o, "cycle", json_integer(b->cycle));
  json_object_set_new(o, "policy", j_str(b->policy));
  json_object_set_new(o, "breach_policy", j_str(b->breach_policy));
  json_object_set_new(o, "priority_start", j_str(b->prio_start));
  json_object_set_new(o, "priority_end", j_str(b->prio_end));
  json_object_set_new(o, "target_ms", j_dur(b->breach_target_ms != REP_NONE
                                              ? b->breach_target_ms
                                              : b->target_ms));
  json_object_set_new(o, "elapsed_ms", json_integer(b->elapsed_ms));
  json_object_set_new(o, "overrun_ms", json_integer(rep_overrun(b)));
  json_object_set_new(o, "started", j_iso(b->started));
  json_object_set_new(o, "breached_at", j_iso(b->breached_at));
  json_object_set_new(o, "stopped", j_iso(b->stopped));
  json_object_set_new(o, "due", j_iso(b->due));
  json_object_set_new(o, "paused_ms", json_integer(b->paused_ms));
  json_object_set_new(o, "customer_wait_ms", json_integer(b->wait_ms));
  json_object_set_new(o, "outside_ms", json_integer(b->outside_ms));
  json_object_set_new(o, "exceptions", j_str(b->exceptions));
  json_t *tags = json_array();
  unsigned m = rep_cause_tags(b);
  for (int i = 0; i < REP_CAUSES; i++) {
    if (m & (1u << i)) {
      json_array_append_new(tags, json_string(rep_cause_names[i]));
    }
  }
  json_object_set_new(o, "causes", tags);
  json_object_set_new(o, "cause", json_string(cause));
  return o;
}

#define JSON_FLAGS                                                          \
  (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15) |          \
   JSON_ENCODE_ANY)

/* v as json_dumpf() would print it nested level deep in an indented
** document. */
static int
dump_at(FILE *f, const json_t *v, int level)
{
  char *s = json_dumps(v, JSON_FLAGS);
  if (s == NULL) {
    return -1;
  }
  for (const char *p = s; *p != '\0'; p++) {
    fputc(*p, f);
    if (*p == '\n') {
      fprintf(f, "%*s", 2 * level, "");
    }
  }
  free(s);
  return 0;
}

/* The members of o as those of the top-level object, after "{" and any
** member printed before (*first: none yet). */
static int
dump_members(FILE *f, const json_t *o, int *first)
{
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach((json_t *)o, key, v) {
    json_t *k = json_string(key);
    fputs(*first ? "\n  " : ",\n  ", f);
    *first = 0;
    rc |= dump_at(f, k, 1);
    fputs(": ", f);
    json_decref(k);
    rc |= dump_at(f, v, 1);
  }
  return rc;
}

static int
out_json(report *r, FILE *f)
{
  json_t *doc = json_object();
  json_object_set_new(doc, "records", json_string(r->records_path));
  json_object_set_new(doc, "from", j_iso(r->from));
  json_object_set_new(doc, "to", j_iso(r->to));
  json_object_set_new(doc, "tz", json_string(r->tz_name));
  json_t *by = json_array();
  for (int k = 0; k < r->nby; k++) {
    json_array_append_new(by, json_string(rep_key_names[r->by[k]]));
  }
  json_object_set_new(doc, "by", by);
  json_object_set_new(doc, "definitions", json_string(DEFINITIONS));
  json_t *groups = json_array();
  for (guint g = 0; g < r->groups->len; g++) {
    const rep_group *gr = g_ptr_array_index(r->groups, g);
    json_t *o = json_object();
    json_t *key = json_object();
    for (int k = 0; k < r->nby; k++) {
      json_object_set_new(key, rep_key_names[r->by[k]], j_str(gr->key[k]));
    }
    json_object_set_new(o, "key", key);
    j_stats(o, &gr->st);
    json_array_append_new(groups, o);
  }
  json_object_set_new(doc, "groups", groups);
  json_t *total = json_object();
  j_stats(total, &r->total);
  json_object_set_new(doc, "total", total);
  /* The breach list can be long: each is built, printed and freed in
  ** turn, between the head and the tail of the document. */
  json_t *tail = json_object();
  json_t *head = doc;
  doc = tail;
  if (r->calib != NULL) {
    json_t *a = json_array();
    for (guint i = 0; i < r->calib->len; i++) {
      const rep_calib *c = &g_array_index(r->calib, rep_calib, i);
      json_t *o = json_object();
      char s[64];
      rep_rule_duration(c->suggested, s, sizeof(s));
      json_object_set_new(o, "metric", json_string(c->metric));
      json_object_set_new(o, "priority", j_str(c->priority));
      json_object_set_new(o, "policy", j_str(c->policy));
      json_object_set_new(o, "target_ms", j_dur(c->target_ms));
      json_object_set_new(o, "cycles", json_integer(c->cycles));
      json_object_set_new(o, "compliance", j_ratio(c->compliance));
      json_object_set_new(o, "p80_ms", j_dur(c->p80));
      json_object_set_new(o, "buffer_pct", json_real(r->buffer));
      json_object_set_new(o, "suggested_ms", j_dur(c->suggested));
      json_object_set_new(o, "suggested", json_string(s));
      json_object_set_new(o, "suggested_compliance",
                          j_ratio(c->suggested_compliance));
      json_object_set_new(o, "flag", j_str(c->flag));
      json_array_append_new(a, o);
    }
    json_object_set_new(doc, "calibration", a);
  }
  if (r->credits != NULL) {
    json_t *a = json_array();
    for (guint i = 0; i < r->credits->len; i++) {
      const rep_credit *c = g_ptr_array_index(r->credits, i);
      json_t *o = json_object();
      json_object_set_new(o, "customer", json_string(c->customer));
      json_object_set_new(o, "month", json_string(c->month));
      json_object_set_new(o, "contract", json_string(c->contract));
      json_object_set_new(o, "tickets", json_integer(c->tickets));
      json_object_set_new(o, "met", json_integer(c->met));
      json_object_set_new(o, "breached", json_integer(c->breached));
      json_object_set_new(o, "compliance", j_ratio(c->compliance));
      json_object_set_new(o, "target_pct", json_real(c->target));
      json_object_set_new(o, "shortfall_pts",
                          json_real(round(c->shortfall * 1e6) / 1e6));
      json_object_set_new(o, "fee", json_real(c->fee));
      json_object_set_new(o, "currency", j_str(c->currency));
      json_object_set_new(o, "credit", json_real(c->credit));
      json_object_set_new(o, "note", j_str(c->note));
      json_t *bs = json_array();
      for (guint j = 0; j < c->breaches->len; j++) {
        const rep_record *b = g_ptr_array_index(c->breaches, j);
        json_t *ref = json_object();
        json_object_set_new(ref, "ticket", json_integer(b->ticket));
        json_object_set_new(ref, "metric", json_string(b->metric));
        json_object_set_new(ref, "cycle", json_integer(b->cycle));
        json_array_append_new(bs, ref);
      }
      json_object_set_new(o, "breaches", bs);
      json_array_append_new(a, o);
    }
    json_object_set_new(doc, "credits", a);
  }
  int rc = 0, first = 1;
  fputs("{", f);
  rc |= dump_members(f, head, &first);
  if (r->want_breaches) {
    fputs(first ? "\n  \"breaches\": [" : ",\n  \"breaches\": [", f);
    first = 0;
    for (guint i = 0; i < r->breaches->len; i++) {
      json_t *b = j_breach(g_ptr_array_index(r->breaches, i));
      fputs(i == 0 ? "\n    " : ",\n    ", f);
      rc |= dump_at(f, b, 2);
      json_decref(b);
    }
    fputs(r->breaches->len == 0 ? "]" : "\n  ]", f);
  }
  rc |= dump_members(f, tail, &first);
  fputs("\n}\n", f);
  json_decref(head);
  json_decref(tail);
  return rc != 0 || ferror(f) ? -1 : 0;
}


/* --- CSV -------------------------------------------------------------------- */

static void
csv_cell(FILE *f, const char *s, int last)
{
  if (strpbrk(s, ",\"\r\n") != NULL) {
    fputc('"', f);
    for (; *s != '\0'; s++) {
      if (*s == '"') {
        fputc('"', f);
      }
      fputc(*s, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
  fputs(last ? "\r\n" : ",", f);
}

static void
csv_stats(FILE *f, const rep_stats *st)
{
  fprintf(f, "%" PRId64 ",", st->count);
  for (int i = 0; i < REP_OUTCOMES; i++) {
    fprintf(f, "%" PRId64 ",", st->n[i]);
  }
  double c = rep_compliance(st);
  if (c >= 0) {
    fprintf(f, "%.6f", c);
  }
  int64_t v[REP_PCTS + 2] = {st->pct[0], st->pct[1], st->pct[2], st->pct[3],
                             st->overrun_median, st->overrun_max};
  for (int i = 0; i < REP_PCTS + 2; i++) {
    fputc(',', f);
    if (v[i] != REP_NONE) {
      fprintf(f, "%" PRId64, v[i]);
    }
  }
  fputs("\r\n", f);
}

static int
out_csv(report *r, FILE *f)
{
  for (int k = 0; k < r->nby; k++) {
    fprintf(f, "%s,", rep_key_names[r->by[k]]);
  }
  fputs("count,met,breached,cancelled,stopped,active,paused,compliance,"
        "p50_ms,p80_ms,p90_ms,p95_ms,overrun_median_ms,overrun_max_ms\r\n",
        f);
  for (guint g = 0; g < r->groups->len; g++) {
    const rep_group *gr = g_ptr_array_index(r->groups, g);
    for (int k = 0; k < r->nby; k++) {
      csv_cell(f, gr->key[k] != NULL ? gr->key[k] : "", 0);
    }
    csv_stats(f, &gr->st);
  }
  return ferror(f) ? -1 : 0;
}


/* --- HTML and SVG --------------------------------------------------------- */

typedef struct series {
  GPtrArray *labels;  /* char * owned */
  GArray *values;     /* double */
} series;

static void
series_init(series *s)
{
  s->labels = g_ptr_array_new_with_free_func(g_free);
  s->values = g_array_new(FALSE, FALSE, sizeof(double));
}

static void
series_add(series *s, const char *label, double v)
{
  g_ptr_array_add(s->labels, g_strdup(label));
  g_array_append_val(s->values, v);
}

static void
series_free(series *s)
{
  g_ptr_array_free(s->labels, TRUE);
  g_array_free(s->values, TRUE);
}

/* Horizontal bars, one per label. */
static void
svg_bars(FILE *f, const series *s, const char *title)
{
  int n = (int)s->values->len;
  int h = 30 + 22 * (n > 0 ? n : 1);
  double max = 0;
  for (int i = 0; i < n; i++) {
    max = fmax(max, g_array_index(s->values, double, i));
  }
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" "
          "height=\"%d\" role=\"img\"><title>", h);
  html_esc(f, title);
  fputs("</title>\n", f);
  for (int i = 0; i < n; i++) {
    double v = g_array_index(s->values, double, i);
    double w = max > 0 ? 280.0 * v / max : 0;
    int y = 20 + 22 * i;
    fprintf(f, "<text x=\"130\" y=\"%d\" text-anchor=\"end\">", y + 13);
    html_esc(f, g_ptr_array_index(s->labels, i));
    fprintf(f, "</text><rect x=\"136\" y=\"%d\" width=\"%.1f\" height=\"16\" "
            "fill=\"#c0392b\"/><text x=\"%.1f\" y=\"%d\">%g</text>\n",
            y, w, 140 + w, y + 13, v);
  }
  if (n == 0) {
    fputs("<text x=\"10\" y=\"35\">no breach</text>\n", f);
  }
  fputs("</svg>\n", f);
}

/* Compliance per week as a line, the goal as a dashed line; y 0..100%. */
static void
svg_line(FILE *f, const series *s, double goal)
{
  int n = (int)s->values->len;
  const double x0 = 50, x1 = 560, y0 = 190, y1 = 20;
  fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" "
        "height=\"240\" role=\"img\"><title>compliance by week</title>\n",
        f);
  for (int p = 0; p <= 100; p += 25) {
    double y = y0 - (y0 - y1) * p / 100.0;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.1f\" "
            "text-anchor=\"end\">%d%%</text>\n",
            x0, y, x1, y, x0 - 4, y + 4, p);
  }
  double gy = y0 - (y0 - y1) * goal / 100.0;
  fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
          "stroke=\"#27ae60\" stroke-dasharray=\"6 4\"/><text x=\"%.0f\" "
          "y=\"%.1f\" fill=\"#27ae60\">goal %g%%</text>\n",
          x0, gy, x1, gy, x1 - 70, gy - 4, goal);
  GString *pts = g_string_new(NULL);
  for (int i = 0; i < n; i++) {
    double x = n == 1 ? (x0 + x1) / 2 : x0 + (x1 - x0) * i / (n - 1);
    double v = g_array_index(s->values, double, i);
    if (v < 0) {
      continue;
    }
    double y = y0 - (y0 - y1) * v;
    g_string_append_printf(pts, "%.1f,%.1f ", x, y);
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#2c3e50\"/>\n",
            x, y);
    if (i == 0 || i == n - 1 || n <= 8) {
      fprintf(f, "<text x=\"%.1f\" y=\"215\" text-anchor=\"middle\" "
              "font-size=\"10\">", x);
      html_esc(f, g_ptr_array_index(s->labels, i));
      fputs("</text>\n", f);
    }
  }
  fprintf(f, "<polyline points=\"%s\" fill=\"none\" stroke=\"#2c3e50\" "
          "stroke-width=\"2\"/>\n</svg>\n", pts->str);
  g_string_free(pts, TRUE);
}

/* The most common target among a metric's met and breached cycles. */
static int64_t
common_target(const report *r, const char *metric)
{
  GHashTable *n = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                        g_free);
  int64_t best = REP_NONE, best_n = 0;
  for (guint i = 0; i < r->selected->len; i++) {
    const rep_record *rec = g_ptr_array_index(r->selected, i);
    if (strcmp(rec->metric, metric) != 0 || rec->target_ms == REP_NONE ||
        (rec->outcome != REP_MET && rec->outcome != REP_BREACHED)) {
      continue;
    }
    int64_t *c = g_hash_table_lookup(n, &rec->target_ms);
    if (c == NULL) {
      int64_t *k = g_new(int64_t, 1);
      *k = rec->target_ms;
      c = g_new0(int64_t, 1);
      g_hash_table_insert(n, k, c);
    }
    (*c)++;
    if (*c > best_n || (*c == best_n && rec->target_ms < best)) {
      best = rec->target_ms;
      best_n = *c;
    }
  }
  g_hash_table_destroy(n);
  return best;
}

static int64_t
nice_step(int64_t ms)
{
  static const int64_t steps[] = {
    60000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 14400000,
    28800000, 43200000, 86400000, 172800000, 604800000,
  };
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    if (steps[i] >= ms) {
      return steps[i];
    }
  }
  return (ms + 604800000 - 1) / 604800000 * 604800000;
}

#define HIST_BINS 12

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* A histogram of a metric's durations with the most common target and the
** p80 marked, and its numbers beside it. */
static void
html_hist(FILE *f, const report *r, const char *metric)
{
  GArray *v = g_array_new(FALSE, FALSE, sizeof(int64_t));
  for (guint i = 0; i < r->selected->len; i++) {
    const rep_record *rec = g_ptr_array_index(r->selected, i);
    if (strcmp(rec->metric, metric) == 0 &&
        (rec->outcome == REP_MET || rec->outcome == REP_BREACHED)) {
      g_array_append_val(v, rec->elapsed_ms);
    }
  }
  fprintf(f, "<h3>%s</h3>\n", metric);
  if (v->len == 0) {
    fputs("<p>No met or breached cycle.</p>\n", f);
    g_array_free(v, TRUE);
    return;
  }
  qsort(v->data, v->len, sizeof(int64_t), cmp_i64);
  int64_t p80 = rep_nearest_rank(v, 80), p95 = rep_nearest_rank(v, 95);
  int64_t target = common_target(r, metric);
  int64_t hi = p95 > p80 ? p95 : p80;
  if (target != REP_NONE && target > hi) {
    hi = target;
  }
  int64_t step = nice_step((hi + hi / 5) / HIST_BINS + 1);
  int64_t bins[HIST_BINS] = {0};
  for (guint i = 0; i < v->len; i++) {
    int64_t b = g_array_index(v, int64_t, i) / step;
    bins[b >= HIST_BINS ? HIST_BINS - 1 : b]++;
  }
  int64_t max = 1;
  for (int i = 0; i < HIST_BINS; i++) {
    max = bins[i] > max ? bins[i] : max;
  }
  const double x0 = 40, bw = 40, y0 = 180, hgt = 150;
  fputs("<div class=\"pair\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"540\" height=\"230\" role=\"img\"><title>", f);
  html_esc(f, metric);
  fputs(" distribution</title>\n", f);
  for (int i = 0; i < HIST_BINS; i++) {
    double h = hgt * (double)bins[i] / (double)max;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"#2980b9\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\" font-size=\"10\">%" PRId64 "</text>\n",
            x0 + bw * i + 1, y0 - h, bw - 2, h, x0 + bw * i + bw / 2,
            y0 - h - 3, bins[i]);
  }
  char *s = dur(step * HIST_BINS / 2), *e = dur(step * (HIST_BINS - 1));
  fprintf(f, "<text x=\"%.0f\" y=\"195\" font-size=\"10\">0</text>"
          "<text x=\"%.0f\" y=\"195\" font-size=\"10\" "
          "text-anchor=\"middle\">%s</text><text x=\"%.0f\" y=\"195\" "
          "font-size=\"10\" text-anchor=\"middle\">%s+</text>\n",
          x0, x0 + bw * HIST_BINS / 2, s, x0 + bw * (HIST_BINS - 1) + bw / 2,
          e);
  g_free(s);
  g_free(e);
  struct {
    int64_t at;
    const char *name, *colour;
    int dy;
  } marks[2] = {{target, "target", "#c0392b", 210}, {p80, "p80", "#8e44ad", 225}};
  for (int m = 0; m < 2; m++) {
    if (marks[m].at == REP_NONE) {
      continue;
    }
    double x = x0 + bw * fmin((double)marks[m].at / (double)step,
                              (double)HIST_BINS);
    char *d = dur(marks[m].at);
    fprintf(f, "<line x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%.0f\" "
            "stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
            "<text x=\"%.1f\" y=\"%d\" fill=\"%s\" font-size=\"11\">%s %s"
            "</text>\n",
            x, x, y0, marks[m].colour, x + 3, marks[m].dy, marks[m].colour,
            marks[m].name, d);
    g_free(d);
  }
  fputs("</svg>\n", f);
  table *t = table_new(2);
  char *h[] = {g_strdup("elapsed"), g_strdup("cycles")};
  table_row(t, h);
  for (int i = 0; i < HIST_BINS; i++) {
    char *a = dur(step * i), *b = dur(step * (i + 1));
    char *row[] = {i == HIST_BINS - 1 ? g_strdup_printf("%s and more", a)
                                      : g_strdup_printf("%s to %s", a, b),
                   i64(bins[i])};
    g_free(a);
    g_free(b);
    table_row(t, row);
  }
  char *tg = target == REP_NONE ? g_strdup("-") : dur(target);
  char *row1[] = {g_strdup("target (most common)"), tg};
  char *row2[] = {g_strdup("p80"), dur(p80)};
  table_row(t, row1);
  table_row(t, row2);
  table_html(f, t);
  table_free(t);
  fputs("</div>\n", f);
  g_array_free(v, TRUE);
}

static gint
cmp_str(gconstpointer a, gconstpointer b, gpointer ud)
{
  (void)ud;
  return strcmp(a, b);
}

typedef struct week_acc {
  int64_t met, breached;
} week_acc;

static gboolean
week_collect(gpointer key, gpointer val, gpointer ud)
{
  series *s = ud;
  const week_acc *w = val;
  series_add(s, key, w->met + w->breached == 0
                       ? -1.0
                       : (double)w->met / (double)(w->met + w->breached));
  return FALSE;
}

static void
html_weeks(FILE *f, report *r)
{
  GTree *weeks = g_tree_new_full(cmp_str, NULL, NULL, g_free);
  for (guint i = 0; i < r->selected->len; i++) {
    const rep_record *rec = g_ptr_array_index(r->selected, i);
    if (rec->outcome != REP_MET && rec->outcome != REP_BREACHED) {
      continue;
    }
    const char *w = rep_period(r, REP_KEY_WEEK, rec->stopped);
    week_acc *a = g_tree_lookup(weeks, w);
    if (a == NULL) {
      a = g_new0(week_acc, 1);
      g_tree_insert(weeks, (gpointer)w, a);
    }
    if (rec->outcome == REP_MET) {
      a->met++;
    } else {
      a->breached++;
    }
  }
  series s;
  series_init(&s);
  g_tree_foreach(weeks, week_collect, &s);
  fputs("<div class=\"pair\">", f);
  svg_line(f, &s, r->goal);
  table *t = table_new(4);
  char *h[] = {g_strdup("week of"), g_strdup("met"), g_strdup("breached"),
               g_strdup("compliance")};
  table_row(t, h);
  for (guint i = 0; i < s.values->len; i++) {
    const week_acc *a = g_tree_lookup(weeks, g_ptr_array_index(s.labels, i));
    char *row[] = {g_strdup(g_ptr_array_index(s.labels, i)), i64(a->met),
                   i64(a->breached),
                   pct_str(g_array_index(s.values, double, i))};
    table_row(t, row);
  }
  table_html(f, t);
  table_free(t);
  fputs("</div>\n", f);
  series_free(&s);
  g_tree_destroy(weeks);
}

static void
html_bars(FILE *f, const series *s, const char *title, const char *what)
{
  fputs("<div class=\"pair\">", f);
  svg_bars(f, s, title);
  table *t = table_new(2);
  char *h[] = {g_strdup(what), g_strdup("breaches")};
  table_row(t, h);
  for (guint i = 0; i < s->values->len; i++) {
    char *row[] = {g_strdup(g_ptr_array_index(s->labels, i)),
                   g_strdup_printf("%g", g_array_index(s->values, double, i))};
    table_row(t, row);
  }
  table_html(f, t);
  table_free(t);
  fputs("</div>\n", f);
}

static gboolean
prio_collect(gpointer key, gpointer val, gpointer ud)
{
  series_add(ud, key, (double)*(int64_t *)val);
  return FALSE;
}

static int
out_html(report *r, FILE *f)
{
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>promptly SLA report</title>\n<style>\n"
        "body{font-family:sans-serif;margin:2em;color:#222}\n"
        "table{border-collapse:collapse;margin:.5em 0;font-size:13px}\n"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}\n"
        "th{background:#eee}\n"
        ".pair{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}\n"
        "svg{font-size:12px;background:#fafafa}\n"
        "</style></head><body>\n<h1>SLA report</h1>\n<p>", f);
  char *a = iso(r->from), *b = iso(r->to);
  html_esc(f, r->records_path);
  fprintf(f, ": %u cycles in the period [%s, %s), zone ", r->selected->len,
          r->from == REP_NONE ? "start" : a, r->to == REP_NONE ? "end" : b);
  g_free(a);
  g_free(b);
  html_esc(f, r->tz_name);
  fputs(".</p>\n<p>" DEFINITIONS ".</p>\n<h2>Compliance by week</h2>\n", f);
  html_weeks(f, r);

  fputs("<h2>Groups</h2>\n", f);
  table *t = groups_table(r);
  table_html(f, t);
  table_free(t);

  GTree *prios = g_tree_new_full(cmp_str, NULL, NULL, g_free);
  int64_t causes[REP_CAUSES] = {0};
  for (guint i = 0; i < r->breaches->len; i++) {
    const rep_record *rec = g_ptr_array_index(r->breaches, i);
    const char *p = rec->prio_start != NULL ? rec->prio_start : "(none)";
    int64_t *n = g_tree_lookup(prios, p);
    if (n == NULL) {
      n = g_new0(int64_t, 1);
      g_tree_insert(prios, (gpointer)p, n);
    }
    (*n)++;
    unsigned m = rep_cause_tags(rec);
    for (int c = 0; c < REP_CAUSES; c++) {
      causes[c] += (m >> c) & 1u;
    }
  }
  series s;
  series_init(&s);
  g_tree_foreach(prios, prio_collect, &s);
  fputs("<h2>Breaches by priority (at the cycle's start)</h2>\n", f);
  html_bars(f, &s, "breaches by priority", "priority");
  series_free(&s);
  g_tree_destroy(prios);
  series_init(&s);
  for (int c = 0; c < REP_CAUSES; c++) {
    series_add(&s, rep_cause_names[c], (double)causes[c]);
  }
  fputs("<h2>Breaches by cause</h2>\n<p>A breach counts under every cause "
        "its record shows.</p>\n", f);
  html_bars(f, &s, "breaches by cause", "cause");
  series_free(&s);

  fputs("<h2>Distributions (business time)</h2>\n", f);
  html_hist(f, r, "first_response");
  html_hist(f, r, "resolution");

  fprintf(f, "<h2>Breach list (%u)</h2>\n", r->breaches->len);
  t = breaches_table(r);
  table_html(f, t);
  table_free(t);
  if (r->calib != NULL) {
    fprintf(f, "<h2>Calibration</h2>\n<p>Suggested = p80 + %g%%, rounded "
            "up.</p>\n", r->buffer);
    t = calib_table(r);
    table_html(f, t);
    table_free(t);
  }
  if (r->credits != NULL) {
    fputs("<h2>Service credits</h2>\n", f);
    t = credits_table(r);
    table_html(f, t);
    table_free(t);
  }
  fputs("</body></html>\n", f);
  return ferror(f) ? -1 : 0;
}


int
rep_output(report *r, FILE *f)
{
  switch (r->format) {
  case REP_FMT_JSON: return out_json(r, f);
  case REP_FMT_CSV: return out_csv(r, f);
  case REP_FMT_HTML: return out_html(r, f);
  default: return out_text(r, f);
  }
}
