/* report.h - "promptly report": the support manager's numbers over outcome
** records.  Shared between report.c (reading and aggregating), report_out.c
** (text, json, csv, html) and credits.c (service-credit contracts).
**
** Invariants.  Every string of a record is interned in the report's string
** pool (or NULL for a JSON null or an absent attribute) and lives as long as
** the report.  A group's durations are those of its met and breached
** cycles only, sorted ascending once aggregation is done.  Times are ms:
** instants since the epoch (UTC), durations business ms of the cycle's own
** calendar (elapsed, target, overrun) or wall ms (paused, customer wait,
** outside hours).
*/
#ifndef PR_CLI_REPORT_H
#define PR_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#define REP_NONE INT64_MIN  /* a JSON null instant or duration */

typedef enum rep_outcome {
  REP_MET,
  REP_BREACHED,
  REP_CANCELLED,
  REP_STOPPED,
  REP_ACTIVE,
  REP_PAUSED,
  REP_OUTCOMES
} rep_outcome;

extern const char *const rep_outcome_names[REP_OUTCOMES];

/* The ticket attributes a report groups by, in attrs. */
typedef enum rep_attr {
  REP_ATTR_QUEUE,
  REP_ATTR_CHANNEL,
  REP_ATTR_TIER,
  REP_ATTR_TYPE,
  REP_ATTR_CUSTOMER,
  REP_ATTRS
} rep_attr;

extern const char *const rep_attr_names[REP_ATTRS];

typedef struct rep_record {
  int64_t ticket, cycle;
  const char *metric, *policy, *calendar, *prio_start, *prio_end;
  const char *breach_policy;
  const char *attr[REP_ATTRS];
  const char *exceptions;  /* "name (reason); ..." or NULL */
  int64_t target_ms, breach_target_ms;   /* REP_NONE: best effort / none */
  int64_t started, stopped, due, breached_at;  /* REP_NONE: null */
  int64_t elapsed_ms, paused_ms, wait_ms, outside_ms;
  int outcome;  /* rep_outcome */
  long line;
} rep_record;

/* The keys a report groups by (--by). */
typedef enum rep_key {
  REP_KEY_METRIC,
  REP_KEY_PRIORITY,
  REP_KEY_CHANNEL,
  REP_KEY_TIER,
  REP_KEY_QUEUE,
  REP_KEY_POLICY,
  REP_KEY_TYPE,
  REP_KEY_CUSTOMER,
  REP_KEY_DAY,
  REP_KEY_WEEK,
  REP_KEY_MONTH,
  REP_KEYS
} rep_key;

extern const char *const rep_key_names[REP_KEYS];

#define REP_MAX_BY 8
#define REP_PCTS 4
extern const int rep_pcts[REP_PCTS];  /* 50, 80, 90, 95 */

/* The numbers of one group of cycles. */
typedef struct rep_stats {
  int64_t n[REP_OUTCOMES];
  int64_t count;
  GArray *elapsed;   /* int64_t, met and breached, sorted */
  GArray *overrun;   /* int64_t, breached, sorted */
  int64_t pct[REP_PCTS];       /* REP_NONE if no met or breached */
  int64_t overrun_median, overrun_max;  /* REP_NONE if no breach */
} rep_stats;

typedef struct rep_group {
  const char *key[REP_MAX_BY];  /* NULL: the attribute was absent */
  rep_stats st;
} rep_group;

/* One calibration line: a metric and a start priority. */
typedef struct rep_calib {
  const char *metric, *priority, *policy;
  int64_t target_ms;        /* the most common target, REP_NONE if none */
  int64_t cycles;           /* met + breached */
  double compliance;        /* < 0: no cycle */
  int64_t p80, suggested;   /* REP_NONE if no cycle */
  double suggested_compliance;
  const char *flag;         /* NULL, "could tighten by 10-15%", "unrealistic" */
} rep_calib;

/* One credit line: a customer and a month under a contract. */
typedef struct rep_credit {
  const char *customer, *month, *contract;
  int64_t tickets, met, breached;
  double compliance;   /* < 0: no met or breached cycle */
  double target;       /* percent */
  double shortfall;    /* percentage points below target, >= 0 */
  double fee, credit;
  const char *currency;
  const char *note;    /* why no credit, or NULL */
  GPtrArray *breaches; /* rep_record *, the breaches behind it */
} rep_credit;

typedef enum rep_format {
  REP_FMT_TEXT,
  REP_FMT_JSON,
  REP_FMT_CSV,
  REP_FMT_HTML
} rep_format;

typedef enum rep_sort {
  REP_SORT_TIME,
  REP_SORT_OVERRUN,
  REP_SORT_TICKET
} rep_sort;

typedef struct report {
  /* Options. */
  const char *records_path;
  int64_t from, to;          /* REP_NONE: open */
  rep_key by[REP_MAX_BY];
  int nby;
  GTimeZone *tz;
  const char *tz_name;
  rep_format format;
  int want_breaches;
  rep_sort sort;
  int calibrate;
  double buffer;             /* percent */
  double goal;               /* percent, the compliance target line */
  const char *contracts_path;

  /* Data. */
  GStringChunk *pool;
  GHashTable *interned;      /* char * -> char * in pool */
  GArray *records;           /* rep_record, in file order */
  GPtrArray *selected;       /* rep_record * in the period */
  GPtrArray *groups;         /* rep_group *, sorted by key */
  rep_stats total;
  GPtrArray *breaches;       /* rep_record *, breached, in --sort order */
  GArray *calib;             /* rep_calib */
  GPtrArray *credits;        /* rep_credit * */
  GPtrArray *contracts;      /* credits.c's contracts */
  void *contracts_lua;       /* credits.c's Lua state */
} report;

/* report.c */
const char *rep_intern(report *r, const char *s);
void rep_stats_init(rep_stats *st);
void rep_stats_add(rep_stats *st, const rep_record *rec);
void rep_stats_finish(rep_stats *st);
void rep_stats_free(rep_stats *st);
int64_t rep_overrun(const rep_record *rec);
int64_t rep_nearest_rank(const GArray *sorted, int pct);
double rep_compliance(const rep_stats *st);  /* < 0 if undefined */
/* The period label of an instant in the report's zone: day "2026-11-16",
** week the Monday "2026-11-16", month "2026-11"; interned. */
const char *rep_period(report *r, rep_key k, int64_t at_ms);
/* The key of a record for k (interned or NULL). */
const char *rep_key_of(report *r, const rep_record *rec, rep_key k);

/* Durations in words: "1h 30 min", "40 min", "2d 3h", "45 s"; and the
** rule language's form: "1h30m". */
void rep_words(int64_t ms, char *out, size_t len);
void rep_rule_duration(int64_t ms, char *out, size_t len);
/* The cause of a breach in words, and its cause tags (for the bars). */
void rep_cause(const rep_record *rec, char *out, size_t len);
#define REP_CAUSES 7
extern const char *const rep_cause_names[REP_CAUSES];
unsigned rep_cause_tags(const rep_record *rec);  /* bit i: rep_cause_names[i] */

/* report_out.c: the report on f in r->format.  0, or -1 on a write error. */
int rep_output(report *r, FILE *f);

/* credits.c */
/* Load the contracts file into r->contracts; on error print
** "FILE:LINE: message" and return -1. */
int rep_contracts_load(report *r, const char *path);
/* Compute r->credits over r->selected; -1 (message printed) if a credit
** formula fails. */
int rep_credits_compute(report *r);
void rep_contracts_free(report *r);

#endif /* PR_CLI_REPORT_H */
