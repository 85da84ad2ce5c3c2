/* rules_internal.h - what the files of the rules loader share.
**
** The rule set (struct pr_rules) and the declarations as collected, one
** typedef per kind; the declaration registry rules_decls[] (rules_load.c)
** names a collect/open/body/compile function of each kind's own file.
** Nothing here is part of the module's ABI: every name is hidden.
*/
#ifndef PROMPTLY_RULES_INTERNAL_H
#define PROMPTLY_RULES_INTERNAL_H

#include "rules.h"
#include "calendar.h"
#include "matcher.h"
#include "problems.h"
#include "sandbox.h"
#include "sla.h"

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <lua.h>

/* A rule file larger than this is refused. */
#define RULES_FILE_MAX ((size_t)4 << 20)

#define RULES_MSG_MAX 1024

/* How durations and shares are written, for messages. */
#define DURATION_FORMS "\"30m\", \"1h30m\", \"90s\", \"7d\" or \"2w\""
#define SHARE_FORMS    "\"75%%\", \"87.5%%\" or \"100%% + 2h\"" /* a format */


typedef struct rules_site {
  char where[128]; /* "file:line" */
  char file[64];   /* the file alone (Lua's short name of the chunk) */
  int line;        /* 0: the whole file */
} rules_site;

typedef struct rules_level {
  char *id;
  char *name; /* NULL: the id is the name */
} rules_level;

typedef struct rules_cond {
  char *attr;     /* a host attribute name, compared case-insensitively */
  char **values;  /* case-folded (g_free); any one may equal */
  size_t n_values;
} rules_cond;

/* The conditions of a priority rule or a policy; all must hold. */
typedef struct rules_match {
  char **words;      /* as written */
  uint32_t *word_ids; /* their matcher ids, in words order */
  uint32_t *word_sorted; /* the same ids ascending, for lookups */
  size_t n_words;
  rules_cond *conds;
  size_t n_conds;
  int when_ref;      /* a function in the registry, or LUA_NOREF */
} rules_match;

typedef struct rules_prio {
  rules_site site;
  char *level_text;  /* as written */
  size_t level;      /* resolved at compile time */
  rules_match m;
} rules_prio;

typedef struct rules_hours {
  int wday;
  char *open;
  char *close;
} rules_hours;

typedef struct rules_cal {
  rules_site site;
  char *name;
  int complete;      /* its table was given */
  char *tz;
  int is_24x7;
  rules_hours *hours;
  size_t n_hours;
  char **holidays;
  size_t n_holidays;
  char **ics;
  size_t n_ics;
  pr_calendar *cal;
  /* tz = from("attr", "fallback"): the zone from the ticket (rules_zones.c) */
  char *tz_attr;     /* NULL: the calendar's own tz only */
  pr_rules *owner;
  pr_calendar **zcal; /* by zone id, compiled on first use; [0] unused */
  size_t n_zcal;
} rules_cal;

/* --- SLA declarations, as collected -------------------------------------- */

/* One target of a policy as written: metric, level (NULL: every level)
** and value, checked at compile time, when every metric is declared (so
** that a key that is no metric is reported as such, not as a bad value). */
typedef struct rules_target {
  char *metric;
  char *level;
  char *text;        /* the duration; NULL: no target (false) */
  const char *bad_type; /* not a string or false: Lua's (static) type name */
  int fn_ref;        /* a function: its registry ref (has_fn) */
  int has_fn;
} rules_target;

/* A target given by a function (rules_eval.c): PR_SLA_FN(index). */
typedef struct rules_fn {
  int ref;           /* the function, in the registry */
  rules_site site;   /* the policy's */
  char *what;        /* "policy 'vip': resolution P1" */
} rules_fn;

/* rules_eval.c: an instant as target functions return it,
** "2026-11-17T16:00:00Z" (optionally ".123" before the Z); 0 or -1. */
int rules_parse_instant(const char *s, int64_t *out);

typedef struct rules_arg {
  char *name;
  char *value;
} rules_arg;

typedef struct rules_policy {
  rules_site site;
  char *name;
  int complete;      /* its table was given */
  char *calendar;    /* NULL: calendar time */
  rules_target *targets;
  size_t n_targets;
  rules_arg *ooh;    /* out_of_hours = { metric = "+30m" }, as written */
  size_t n_ooh;
  rules_match m;
} rules_policy;

typedef struct rules_on {
  int32_t role;      /* PR_SLA_ON_* */
  int32_t kind;      /* PR_SLA_EV_* */
  char *status;      /* "status:<value>"; NULL = any; PR_SLA_EV_ATTR: the
                        value */
  char *attr;        /* PR_SLA_EV_ATTR: the attribute (queue = "Network") */
} rules_on;

typedef struct rules_metric {
  rules_site site;
  char *name;
  int complete;
  rules_on *on;
  size_t n_on;
} rules_metric;

typedef struct rules_pause {
  rules_site site;   /* of the first declaration that named it */
  char *status;
  int customer_wait;
  rules_site decl[2]; /* where pause_on [0] and customer_wait [1] named it */
  int named[2];
} rules_pause;

/* pause_on / customer_wait { attr = value, ..., when = function } : a
** condition (all its parts hold) that pauses while it holds. */
typedef struct rules_pcond {
  rules_site site;
  int customer_wait; /* 0 pause_on, 1 customer_wait */
  rules_match m;
} rules_pcond;

typedef struct rules_action {
  char *name;
  rules_arg *args;
  size_t n_args;
} rules_action;

/* quiet = ... of an at or waiting step. */
#define QUIET_DEFAULT 0  /* not given: the folder's notify_calendar, if any */
#define QUIET_OFF     1  /* quiet = false: delivered when reached */
#define QUIET_FOLDER  2  /* quiet = true: the folder's notify_calendar */
#define QUIET_NAMED   3  /* quiet = "calendar" */

typedef struct rules_at {
  rules_site site;
  char *text;        /* as written */
  int complete;
  int quiet;         /* QUIET_* */
  char *quiet_cal;   /* QUIET_NAMED: the calendar's name */
  int32_t permille;
  int64_t offset_ms;
  char **metrics;    /* names; none = every metric */
  size_t n_metrics;
  rules_action *actions;
  size_t n_actions;
  int32_t escalate;  /* 0: at; a step of escalate_priority (PR_SLA_ESCALATE*) */
} rules_at;

typedef struct rules_wait {
  rules_site site;
  char *text;
  int complete;
  int quiet;         /* QUIET_* */
  char *quiet_cal;
  int64_t after_ms;
  rules_action *actions;
  size_t n_actions;
} rules_wait;

typedef struct rules_exc {
  rules_site site;
  char *name;
  int complete;
  int32_t kind;      /* PR_SLA_EXC_*, -1 until given */
  int64_t extend_ms;
  char **metrics;
  size_t n_metrics;
  char *reason;      /* NULL: the name */
  char *attr;        /* NULL: "sla_exception" */
  char *reason_attr; /* attr + "_reason", made at compile time */
} rules_exc;

/* An accounts "attr" { ... } table, as collected (rules_accounts.c). */
typedef struct rules_accts {
  rules_site site;
  char *attr;
  char *calendar;    /* for every row that names none; NULL: none */
  char *file;        /* a CSV file of the folder; NULL: none */
  int complete;
} rules_accts;

/* The policies indexed by their conditions (rules_index.c). */
typedef struct rules_pindex rules_pindex;

struct pr_rules {
  pr_rules_opts opts;
  char *dir;
  pr_sandbox *sb;
  int loading;
  size_t n_problems;     /* errors reported so far */
  pr_problems problems;  /* what the load found: sorted, bounded */
  const char *cur_file;  /* the file running, for messages without a site */
  size_t n_decls;        /* declarations made */
  size_t decl_bytes;     /* bytes of C memory declarations hold (estimate) */
  int decl_limit_hit;    /* the count or memory limit was reported */
  char **files;
  size_t n_files;

  rules_level *levels;
  size_t n_levels;
  int levels_declared;
  rules_site levels_site;

  char *default_text;
  rules_site default_site;
  size_t default_level;

  rules_prio *prios;
  size_t n_prios;
  pr_matcher *matcher;
  size_t n_word_rules;

  rules_cal *cals;
  size_t n_cals;

  rules_metric *metrics;
  size_t n_metrics;
  rules_policy *policies;
  size_t n_policies;
  rules_pause *pauses;
  size_t n_pauses;
  rules_pcond *pconds;
  size_t n_pconds;
  int32_t at_risk;       /* per mille; 0 = not declared */
  rules_site at_risk_site;
  char **at_risk_names;  /* at_risk { metric = "50%" }: metric names */
  int32_t *at_risk_shares; /* their shares, per mille */
  size_t n_at_risk;
  rules_at *ats;
  size_t n_ats;
  rules_fn *fns;         /* target functions */
  size_t n_fns;
  rules_wait *waits;
  size_t n_waits;
  char *notify_cal;      /* notify_calendar "name", or NULL */
  rules_site notify_site;
  rules_exc *excs;
  size_t n_excs;
  pr_sla_set *sla;       /* sealed after a successful load */
  rules_pindex *pindex;  /* built after the policies compiled */
  char *zone_attr;       /* the ticket attribute that names its zone */
  rules_site zone_site;
  GHashTable *zone_ids;  /* zone name -> id (1..), 0 = unknown (reported) */
  char **zone_names;     /* [id - 1] */
  size_t n_zones;
  rules_accts *accts;    /* each becomes policies, one per account */
  size_t n_accts;
  GHashTable *policy_names; /* name -> index + 1 of r->policies */

  int ticket_mt_ref;
};


/* Where add_name collects names: a string array, its count, what for. */
typedef struct rules_strs {
  char ***v;
  size_t *n;
  const char *what;
} rules_strs;

typedef struct rules_decl {
  const char *name;  /* the global that rule files call */
  /* The plain form, name { ... } or name "x": check the argument at arg
  ** and collect it.  Never raises on bad input: reports a problem. */
  void (*collect)(lua_State *L, pr_rules *r, const rules_site *site,
                  int arg);
  /* The named form, name "x" { ... }: open registers the name and returns
  ** an entry (-1 after a problem); body collects the table at arg. */
  long (*open)(lua_State *L, pr_rules *r, const rules_site *site,
               const char *name);
  void (*body)(lua_State *L, pr_rules *r, long entry, int arg);
  /* After every file loaded, in this table's order. */
  void (*compile)(pr_rules *r);
} rules_decl;


/* rules_load.c */
/* A load problem: an error fails the load, a warning is only reported.
** With a site, the problem is at its file:line; without one, the message
** may start with "file:line: " or "file: " of the running file. */
void rules_warning(pr_rules *r, const rules_site *site, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void rules_problem(pr_rules *r, const rules_site *site, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
char *fold_value(const char *s);
int equal_folded(const char *a, const char *b);
long push_elem(void **arr, size_t *n, size_t size);
int push_str(char ***arr, size_t *n, const char *s);
void free_strs(char **arr, size_t n);
const char *value_text(lua_State *L, int idx, char *buf, size_t len);
int is_list(lua_State *L, int idx, size_t *n);
void rules_out_of_memory(pr_rules *r, const rules_site *site, const char *what);
const char **sorted_keys(lua_State *L, pr_rules *r, const rules_site *site, const char *what, int idx, size_t *n);
int raw_field(lua_State *L, int idx, const char *key);
int in_list(const char *const *list, const char *s);
int each_string(lua_State *L, pr_rules *r, const rules_site *site, const char *what, const char *key, int idx, void (*fn)(lua_State *L, pr_rules *r, const rules_site *site, void *ud, const char *s), void *ud);
void add_name(lua_State *L, pr_rules *r, const rules_site *site, void *ud, const char *s);
uint32_t metric_mask(pr_rules *r, const rules_site *site, const char *what, char **names, size_t n);

/* rules_priority.c */
void free_levels(pr_rules *r);
void collect_levels(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_levels(pr_rules *r);
void collect_default(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void free_match(rules_match *m);
void collect_cond(lua_State *L, pr_rules *r, const rules_site *site, const char *what, rules_match *m, const char *attr, int idx);
int collect_match_key(lua_State *L, pr_rules *r, const rules_site *site, const char *what, rules_match *m, const char *key, int val);
void match_add_words(pr_rules *r, const rules_site *site, const char *what, rules_match *m);
void compile_keywords(pr_rules *r);
void collect_priority(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_priorities(pr_rules *r);

/* rules_calendar.c */
void free_cal(rules_cal *c);
long open_calendar(lua_State *L, pr_rules *r, const rules_site *site, const char *name);
void body_calendar(lua_State *L, pr_rules *r, long ci, int arg);
void compile_calendars(pr_rules *r);

/* rules_sla.c: durations and shares, metric, at_risk, sealing */
void free_metric(rules_metric *m);
int parse_share(const char *s, int allow_offset, int32_t *permille, int64_t *offset_ms);
int duration_or_problem(pr_rules *r, const rules_site *site, const char *what, const char *where, const char *text, int zero_ok, int64_t *ms);
long open_metric(lua_State *L, pr_rules *r, const rules_site *site, const char *name);
void body_metric(lua_State *L, pr_rules *r, long mi, int arg);
void compile_metrics(pr_rules *r);
void collect_at_risk(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_at_risk(pr_rules *r);
void seal_sla(pr_rules *r);

/* rules_policy.c */
void free_policy(rules_policy *p);
long open_policy(lua_State *L, pr_rules *r, const rules_site *site, const char *name);
void body_policy(lua_State *L, pr_rules *r, long pi, int arg);
void collect_targets(lua_State *L, pr_rules *r, rules_policy *p,
                     const char *what, const char *metric, int val);
void compile_policies(pr_rules *r);

/* rules_pauses.c */
void collect_pause_on(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void collect_customer_wait(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_pauses(pr_rules *r);
void free_pconds(pr_rules *r);

/* rules_exceptions.c */
void free_exc(rules_exc *e);
long open_exception(lua_State *L, pr_rules *r, const rules_site *site, const char *name);
void body_exception(lua_State *L, pr_rules *r, long ei, int arg);
void compile_exceptions(pr_rules *r);

/* rules_accounts.c */
long open_accounts(lua_State *L, pr_rules *r, const rules_site *site,
                   const char *attr);
void body_accounts(lua_State *L, pr_rules *r, long entry, int arg);
void compile_accounts(pr_rules *r);
void free_accounts(pr_rules *r);

/* rules_zones.c */
/* Lua: from("attr", "fallback"), a zone taken from the ticket. */
int rules_lua_from(lua_State *L);
/* tz = <value at val> of calendar c: a name, or from(...). */
void collect_tz(lua_State *L, pr_rules *r, rules_cal *c, int val);
/* After calendar c compiled with its fallback zone: check its attribute
** against the folder's. */
void compile_zone_calendar(pr_rules *r, rules_cal *c);
/* The pr_sla_zone_fn of a zone-from-ticket calendar (ud = the rules_cal). */
pr_calendar *rules_zone_cal(void *ud, uint32_t zone);
/* The zone id of a ticket with these attributes (0: none or unknown; an
** unknown zone is logged once per zone). */
uint16_t rules_ticket_zone(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                           size_t n_attrs);
void free_zones(pr_rules *r);
void free_zone_cal(rules_cal *c);
/* Build calendar c in zone tz (rules_calendar.c); report: problems go to
** the rules (at load) or are silent (a variant built at run time). */
int build_calendar(pr_rules *r, rules_cal *c, const char *tz, int report,
                   pr_calendar **out);

/* rules_index.c */
void compile_policy_index(pr_rules *r);
void rules_index_free(rules_pindex *x);
/* The policies that may match a ticket with these attributes and keyword
** hits (NULL: none), ascending, without repeats, in *out (free it). */
int rules_index_candidates(const pr_rules *r, const pr_kv *attrs,
                           size_t n_attrs, const uint64_t *hits,
                           uint32_t **out, size_t *n);
/* Whether some policy has keywords (the text must be scanned). */
int rules_index_has_words(const pr_rules *r);

/* rules_thresholds.c */
void free_at(rules_at *a);
long open_at(lua_State *L, pr_rules *r, const rules_site *site, const char *text);
void body_at(lua_State *L, pr_rules *r, long ai, int arg);
void compile_ats(pr_rules *r);
void free_wait(rules_wait *w);
long open_waiting(lua_State *L, pr_rules *r, const rules_site *site, const char *text);
void body_waiting(lua_State *L, pr_rules *r, long wi, int arg);
void collect_remind_after(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void collect_close_after(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void collect_escalate(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_waits(pr_rules *r);
void collect_notify_calendar(lua_State *L, pr_rules *r, const rules_site *site, int arg);
void compile_notify_calendar(pr_rules *r);

#endif /* PROMPTLY_RULES_INTERNAL_H */
