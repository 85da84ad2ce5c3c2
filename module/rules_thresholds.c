/* rules_thresholds.c - actions and the declarations that carry them:
** at "75%" { ... }, waiting "24h" { ... }, remind_customer_after,
** close_after, and escalate_priority { at = { "50%", "75%" } } (one
** ladder step per share that raises the priority one level, sla.h);
** their quiet hours (quiet = ..., notify_calendar).
**
** Actions come out in the fixed order of action_keys[], whatever the
** order of a table's keys, so replays are deterministic.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

/* --- Actions ----------------------------------------------------------------
** The action keys of an `at` or `waiting` table, in the order the actions
** come out: determinism does not depend on Lua's pairs() order.  Each
** value may give one action or, for notify, a list of several. */

static const char *const action_keys[] = {
  "notify", "raise_priority", "set_priority", "reassign", "set_field",
  "note", "message", "remind_customer", "close", NULL
};

/* The argument name of the actions that take one string. */
static const struct {
  const char *action;
  const char *arg;
} action_string_args[] = {
  {"notify", "to"},       {"set_priority", "priority"},
  {"reassign", "to"},     {"note", "text"},
  {"message", "template"}, {"remind_customer", "template"},
};

#define ACTION_LIST "notify, raise_priority, set_priority, reassign, " \
                    "set_field, note, message, remind_customer, close"

static void
free_actions(rules_action *a, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(a[i].name);
    for (size_t j = 0; j < a[i].n_args; j++) {
      free(a[i].args[j].name);
      free(a[i].args[j].value);
    }
    free(a[i].args);
  }
  free(a);
}

typedef struct rules_actions {
  rules_action **v;
  size_t *n;
  const char *what;
} rules_actions;

/* Append an action with up to one argument (arg NULL: none); the action,
** or NULL after a problem. */
static rules_action *
push_action(pr_rules *r, const rules_site *site, rules_actions *acts,
            const char *name, const char *arg, const char *value)
{
  long i = push_elem((void **)acts->v, acts->n, sizeof(rules_action));
  if (i < 0) {
    rules_out_of_memory(r, site, acts->what);
    return NULL;
  }
  rules_action *a = &(*acts->v)[i];
  if ((a->name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, acts->what);
    return NULL;
  }
  if (arg != NULL) {
    long j = push_elem((void **)&a->args, &a->n_args, sizeof(rules_arg));
    if (j < 0 || (a->args[j].name = pr_strdup(arg)) == NULL ||
        (a->args[j].value = pr_strdup(value)) == NULL) {
      rules_out_of_memory(r, site, acts->what);
      return NULL;
    }
  }
  return a;
}

typedef struct rules_action_ctx {
  rules_actions *acts;
  const char *action;
  const char *arg;
} rules_action_ctx;

static void
add_string_action(lua_State *L, pr_rules *r, const rules_site *site,
                  void *ud, const char *s)
{
  (void)L;
  rules_action_ctx *ctx = ud;
  if (s[0] == '\0') {
    rules_problem(r, site, "%s: %s: the value is empty", ctx->acts->what,
                  ctx->action);
    return;
  }
  push_action(r, site, ctx->acts, ctx->action, ctx->arg, s);
}

static void
collect_set_field(lua_State *L, pr_rules *r, const rules_site *site,
                  rules_actions *acts, int val)
{
  char what[128], buf[64];
  snprintf(what, sizeof(what), "%s: set_field", acts->what);
  if (lua_type(L, val) != LUA_TTABLE) {
    rules_problem(r, site, "%s: expects a table of field = value, not a %s",
                  what, luaL_typename(L, val));
    return;
  }
  size_t n;
  const char **fields = sorted_keys(L, r, site, what, val, &n);
  if (n == 0) {
    rules_problem(r, site, "%s: no field (write set_field = { name = "
                  "\"value\" })", what);
    lua_pop(L, 1);
    return;
  }
  rules_action *a = push_action(r, site, acts, "set_field", NULL, NULL);
  for (size_t i = 0; a != NULL && i < n; i++) {
    raw_field(L, val, fields[i]);
    const char *v = value_text(L, -1, buf, sizeof(buf));
    if (lua_type(L, -1) == LUA_TBOOLEAN) {
      v = lua_toboolean(L, -1) ? "true" : "false";
    }
    if (v == NULL) {
      rules_problem(r, site, "%s: '%s' must be a string, number or "
                    "boolean, not a %s", what, fields[i],
                    luaL_typename(L, -1));
    } else {
      long j = push_elem((void **)&a->args, &a->n_args, sizeof(rules_arg));
      if (j < 0 || (a->args[j].name = pr_strdup(fields[i])) == NULL ||
          (a->args[j].value = pr_strdup(v)) == NULL) {
        rules_out_of_memory(r, site, what);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* The action keys of the table at arg, in action_keys order.  extra is a
** key that is no action but allowed here (NULL: none); unknown keys are
** problems. */
static void
collect_actions(lua_State *L, pr_rules *r, const rules_site *site,
                rules_actions *acts, int arg, const char *const *extra,
                const char *extra_text)
{
  size_t n;
  const char **keys = sorted_keys(L, r, site, acts->what, arg, &n);
  int any = 0, unknown = 0;
  for (size_t i = 0; i < n; i++) {
    if (in_list(action_keys, keys[i])) {
      any = 1;
    } else if (!in_list(extra, keys[i])) {
      unknown = 1;
      rules_problem(r, site, "%s: unknown action '%s' (known: " ACTION_LIST
                    "; and %s)", acts->what, keys[i], extra_text);
    }
  }
  lua_pop(L, 1);
  if (!any) {
    if (!unknown) {
      rules_problem(r, site, "%s: no action (give one of " ACTION_LIST ")",
                    acts->what);
    }
    return;
  }
  for (const char *const *k = action_keys; *k != NULL; k++) {
    if (raw_field(L, arg, *k) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    int val = lua_gettop(L);
    const char *arg_name = NULL;
    for (size_t i = 0;
         i < sizeof(action_string_args) / sizeof(*action_string_args); i++) {
      if (strcmp(action_string_args[i].action, *k) == 0) {
        arg_name = action_string_args[i].arg;
      }
    }
    if (strcmp(*k, "notify") == 0) {
      rules_action_ctx ctx = {acts, *k, arg_name};
      each_string(L, r, site, acts->what, *k, val, add_string_action, &ctx);
    } else if (arg_name != NULL) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, site, "%s: %s must be a string, not a %s",
                      acts->what, *k, luaL_typename(L, val));
      } else {
        rules_action_ctx ctx = {acts, *k, arg_name};
        add_string_action(L, r, site, &ctx, lua_tostring(L, val));
      }
    } else if (strcmp(*k, "raise_priority") == 0) {
      lua_Integer by = lua_isinteger(L, val) ? lua_tointeger(L, val) : 0;
      if (by < 1 || by >= PR_SLA_MAX_LEVELS) {
        rules_problem(r, site, "%s: raise_priority must be a whole number "
                      "of levels from 1 to %d", acts->what,
                      PR_SLA_MAX_LEVELS - 1);
      } else {
        char num[16];
        snprintf(num, sizeof(num), "%d", (int)by);
        push_action(r, site, acts, *k, "by", num);
      }
    } else if (strcmp(*k, "set_field") == 0) {
      collect_set_field(L, r, site, acts, val);
    } else { /* close */
      if (lua_type(L, val) != LUA_TBOOLEAN) {
        rules_problem(r, site, "%s: close must be true or false, not a %s",
                      acts->what, luaL_typename(L, val));
      } else if (lua_toboolean(L, val)) {
        push_action(r, site, acts, *k, NULL, NULL);
      }
    }
    lua_settop(L, val - 1);
  }
}

/* Hand the actions to the SLA set through add (threshold or wait index
** i); set_priority names a level, which becomes its canonical id. */
static void
compile_actions(pr_rules *r, const rules_site *site, const char *what,
                const rules_action *v, size_t n, uint32_t i,
                int (*add)(pr_sla_set *s, uint32_t i, const char *name,
                           const pr_kv *args, uint32_t n_args, char *err,
                           size_t errlen))
{
  char err[512];
  for (size_t a = 0; a < n; a++) {
    pr_kv args[64];
    uint32_t n_args = 0;
    for (size_t k = 0; k < v[a].n_args && n_args < 64; k++) {
      args[n_args].name = v[a].args[k].name;
      args[n_args++].value = v[a].args[k].value;
    }
    if (v[a].n_args > 64) {
      rules_problem(r, site, "%s: %s: too many fields (at most 64)", what,
                    v[a].name);
      continue;
    }
    if (strcmp(v[a].name, "set_priority") == 0 && n_args > 0) {
      int l = pr_rules_level_find(r, args[0].value);
      if (l < 0) {
        rules_problem(r, site, "%s: set_priority: unknown level '%s'", what,
                      args[0].value);
        continue;
      }
      args[0].value = r->levels[l].id;
    }
    if (add(r->sla, i, v[a].name, args, n_args, err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, site, "%s: %s", what, err);
    }
  }
}

/* --- Quiet hours: quiet = ..., notify_calendar "name" --------------------- */

/* quiet = "calendar" | true | false at val, for what. */
static void
collect_quiet(lua_State *L, pr_rules *r, const rules_site *site,
              const char *what, int val, int *quiet, char **cal)
{
  if (lua_type(L, val) == LUA_TBOOLEAN) {
    *quiet = lua_toboolean(L, val) ? QUIET_FOLDER : QUIET_OFF;
  } else if (lua_type(L, val) == LUA_TSTRING && lua_tostring(L, val)[0]) {
    *quiet = QUIET_NAMED;
    if ((*cal = pr_strdup(lua_tostring(L, val))) == NULL) {
      rules_out_of_memory(r, site, what);
    }
  } else {
    rules_problem(r, site, "%s: quiet must name a calendar (quiet = "
                  "\"business\"), or be true (the notify_calendar) or "
                  "false (at once), not a %s", what, luaL_typename(L, val));
  }
}

/* The calendar whose hours a step's actions wait for: NULL for none.  A
** problem for an unknown one. */
static const char *
quiet_name(pr_rules *r, const rules_site *site, const char *what, int quiet,
           const char *cal)
{
  switch (quiet) {
  case QUIET_NAMED:
    return cal;
  case QUIET_FOLDER:
    if (r->notify_cal == NULL) {
      rules_problem(r, site, "%s: quiet = true, but no notify_calendar is "
                    "declared (write quiet = \"business\", or declare "
                    "notify_calendar \"business\")", what);
    }
    return r->notify_cal;
  case QUIET_OFF:
    return NULL;
  default:
    return r->notify_cal;
  }
}

/* Hand the notification calendar name (NULL: none) of threshold or wait
** index i to the set. */
static void
compile_quiet(pr_rules *r, const rules_site *site, const char *what,
              const char *name, uint32_t i,
              int (*set)(pr_sla_set *s, uint32_t i, pr_calendar *cal,
                         pr_sla_zone_fn fn, void *ud, char *err,
                         size_t errlen))
{
  char err[512];
  if (name == NULL || r->sla == NULL) {
    return;
  }
  size_t c = 0;
  while (c < r->n_cals && strcmp(r->cals[c].name, name) != 0) {
    c++;
  }
  if (c == r->n_cals) {
    pr_buf names;
    pr_buf_init(&names);
    for (size_t k = 0; k < r->n_cals; k++) {
      pr_buf_printf(&names, "%s'%s'", k ? ", " : "", r->cals[k].name);
    }
    rules_problem(r, site, "%s: quiet: unknown calendar '%s' (%s%s)", what,
                  name, r->n_cals ? "declared: " : "no calendar is declared",
                  pr_buf_cstr(&names));
    pr_buf_free(&names);
    return;
  }
  rules_cal *rc = &r->cals[c];
  if (rc->cal == NULL) {
    return;  /* the calendar's own problem is reported */
  }
  if (set(r->sla, i, rc->cal, rc->tz_attr != NULL ? rules_zone_cal : NULL,
          rc->tz_attr != NULL ? rc : NULL, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, site, "%s: %s", what, err);
  }
}

/* notify_calendar "business": every at and waiting step without a quiet
** of its own waits for that calendar's hours. */
void
collect_notify_calendar(lua_State *L, pr_rules *r, const rules_site *site,
                        int arg)
{
  if (r->notify_cal != NULL) {
    rules_problem(r, site, "notify_calendar: already declared at %s",
                  r->notify_site.where);
    return;
  }
  if (lua_type(L, arg) != LUA_TSTRING || lua_tostring(L, arg)[0] == '\0') {
    rules_problem(r, site, "notify_calendar: expects the name of a "
                  "calendar, as in notify_calendar \"business\"");
    return;
  }
  r->notify_site = *site;
  if ((r->notify_cal = pr_strdup(lua_tostring(L, arg))) == NULL) {
    rules_out_of_memory(r, site, "notify_calendar");
  }
}

void
compile_notify_calendar(pr_rules *r)
{
  if (r->notify_cal == NULL) {
    return;
  }
  size_t c = 0;
  while (c < r->n_cals && strcmp(r->cals[c].name, r->notify_cal) != 0) {
    c++;
  }
  if (c == r->n_cals) {
    rules_problem(r, &r->notify_site, "notify_calendar: unknown calendar "
                  "'%s'", r->notify_cal);
    free(r->notify_cal);
    r->notify_cal = NULL; /* reported once, not again at every step */
  }
}

/* --- at "75%" { ... } ------------------------------------------------------- */

void
free_at(rules_at *a)
{
  free(a->text);
  free(a->quiet_cal);
  free_strs(a->metrics, a->n_metrics);
  free_actions(a->actions, a->n_actions);
}

long
open_at(lua_State *L, pr_rules *r, const rules_site *site, const char *text)
{
  (void)L;
  int32_t permille = 0;
  int64_t offset = 0;
  int rc = parse_share(text, 1, &permille, &offset);
  if (rc == -1) {
    rules_problem(r, site, "at: '%s' is not a share of the target (write "
                  SHARE_FORMS ")", text);
    return -1;
  }
  if (rc == -2 || permille < 1 || permille > 10000) {
    rules_problem(r, site, "at: '%s' is out of range (more than 0%%, at "
                  "most 1000%%, plus at most 10 years)", text);
    return -1;
  }
  /* The same share again is fine for other metrics: checked at compile
  ** time, when the metrics are known. */
  long i = push_elem((void **)&r->ats, &r->n_ats, sizeof(rules_at));
  if (i < 0) {
    rules_out_of_memory(r, site, "at");
    return -1;
  }
  r->ats[i].site = *site;
  r->ats[i].permille = permille;
  r->ats[i].offset_ms = offset;
  if ((r->ats[i].text = pr_strdup(text)) == NULL) {
    rules_out_of_memory(r, site, "at");
    return -1;
  }
  return i;
}

void
body_at(lua_State *L, pr_rules *r, long ai, int arg)
{
  rules_at *a = &r->ats[ai];
  char what[96];
  snprintf(what, sizeof(what), "at '%s'", a->text);
  a->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &a->site, "%s: expects a table of actions, as in "
                  "at \"%s\" { notify = \"team-lead\" }", what, a->text);
    return;
  }
  rules_actions acts = {&a->actions, &a->n_actions, what};
  static const char *const extra[] = {"metrics", "quiet", NULL};
  collect_actions(L, r, &a->site, &acts, arg, extra, "metrics, quiet");
  if (raw_field(L, arg, "metrics") != LUA_TNIL) {
    rules_strs st = {&a->metrics, &a->n_metrics, what};
    each_string(L, r, &a->site, what, "metrics", -1, add_name, &st);
  }
  lua_pop(L, 1);
  if (raw_field(L, arg, "quiet") != LUA_TNIL) {
    collect_quiet(L, r, &a->site, what, lua_gettop(L), &a->quiet,
                  &a->quiet_cal);
  }
  lua_pop(L, 1);
}

void
compile_ats(pr_rules *r)
{
  char err[512];
  uint32_t *masks = r->n_ats ? calloc(r->n_ats, sizeof(uint32_t)) : NULL;
  if (r->n_ats > 0 && masks == NULL) {
    rules_out_of_memory(r, NULL, "at");
    return;
  }
  for (size_t i = 0; i < r->n_ats; i++) {
    const rules_at *a = &r->ats[i];
    char what[96];
    snprintf(what, sizeof(what), "%s '%s'",
             a->escalate ? "escalate_priority" : "at", a->text);
    if (!a->complete) {
      rules_problem(r, &a->site, "%s: no table of actions follows, as in "
                    "at \"%s\" { notify = \"manager\" }", what, a->text);
      continue;
    }
    if (r->sla == NULL) {
      continue;
    }
    masks[i] = metric_mask(r, &a->site, what, a->metrics, a->n_metrics);
    /* One share twice for one metric: which of them would it fire?  The
    ** same share for other metrics is a per-metric warning.  A step of
    ** escalate_priority may share a share with an `at`. */
    size_t dup = i;
    for (size_t k = 0; k < i && dup == i; k++) {
      const rules_at *b = &r->ats[k];
      if (b->complete && (b->escalate != 0) == (a->escalate != 0) &&
          b->permille == a->permille &&
          b->offset_ms == a->offset_ms &&
          (masks[k] == 0 || masks[i] == 0 || (masks[k] & masks[i]) != 0)) {
        dup = k;
      }
    }
    if (dup < i && a->escalate) {
      rules_problem(r, &a->site, "escalate_priority: '%s' is given twice",
                    a->text);
      continue;
    }
    if (dup < i) {
      rules_problem(r, &a->site, "%s: already declared at %s for the same "
                    "metric (give each its own metrics = { ... })", what,
                    r->ats[dup].site.where);
      continue;
    }
    uint32_t index;
    if ((a->escalate
           ? pr_sla_set_add_escalation(r->sla, a->permille, a->offset_ms,
                                       masks[i], a->escalate, &index, err,
                                       sizeof(err))
           : pr_sla_set_add_threshold(r->sla, a->permille, a->offset_ms,
                                      masks[i], &index, err, sizeof(err))) !=
        PROMPTLY_OK) {
      rules_problem(r, &a->site, "%s: %s", what, err);
      continue;
    }
    compile_actions(r, &a->site, what, a->actions, a->n_actions, index,
                    pr_sla_set_threshold_action);
    /* A rising priority is no notification: never held. */
    if (!a->escalate) {
      compile_quiet(r, &a->site, what,
                    quiet_name(r, &a->site, what, a->quiet, a->quiet_cal),
                    index, pr_sla_set_threshold_quiet);
    }
  }
  free(masks);
}

/* --- escalate_priority { at = { "50%", "75%" }, metric = "resolution" } -- */

typedef struct rules_escalate_ctx {
  const char *metric;
  int32_t kind;
} rules_escalate_ctx;

static void
add_escalate_step(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
                  const char *text)
{
  (void)L;
  rules_escalate_ctx *ctx = ud;
  int32_t permille = 0;
  int64_t offset = 0;
  int rc = parse_share(text, 1, &permille, &offset);
  if (rc == -1) {
    rules_problem(r, site, "escalate_priority: '%s' is not a share of the "
                  "target (write " SHARE_FORMS ")", text);
    return;
  }
  if (rc == -2 || permille < 1 || permille > 10000) {
    rules_problem(r, site, "escalate_priority: '%s' is out of range (more "
                  "than 0%%, at most 1000%%, plus at most 10 years)", text);
    return;
  }
  long i = push_elem((void **)&r->ats, &r->n_ats, sizeof(rules_at));
  if (i < 0) {
    rules_out_of_memory(r, site, "escalate_priority");
    return;
  }
  rules_at *a = &r->ats[i];
  a->site = *site;
  a->permille = permille;
  a->offset_ms = offset;
  a->escalate = ctx->kind;
  a->complete = 1;
  char what[96];
  snprintf(what, sizeof(what), "escalate_priority '%s'", text);
  rules_actions acts = {&a->actions, &a->n_actions, "escalate_priority"};
  if ((a->text = pr_strdup(text)) == NULL ||
      push_str(&a->metrics, &a->n_metrics, ctx->metric) != PROMPTLY_OK ||
      push_action(r, site, &acts, "raise_priority", "by", "1") == NULL) {
    rules_out_of_memory(r, site, "escalate_priority");
  }
}

/* escalate_priority { at = "75%" | { shares }, metric = "resolution",
** over_manual = false }: once a folder. */
void
collect_escalate(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  static const char *const keys[] = {"at", "metric", "over_manual", NULL};
  for (size_t i = 0; i < r->n_ats; i++) {
    if (r->ats[i].escalate) {
      rules_problem(r, site, "escalate_priority: already declared at %s",
                    r->ats[i].site.where);
      return;
    }
  }
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, site, "escalate_priority: expects a table, as in "
                  "escalate_priority { at = { \"50%%\", \"75%%\" }, "
                  "metric = \"resolution\" }");
    return;
  }
  size_t n;
  const char **names = sorted_keys(L, r, site, "escalate_priority", arg, &n);
  for (size_t i = 0; i < n; i++) {
    if (!in_list(keys, names[i])) {
      rules_problem(r, site, "escalate_priority: unknown key '%s' (known: "
                    "at, metric, over_manual)", names[i]);
    }
  }
  lua_pop(L, 1);
  rules_escalate_ctx ctx = {"resolution", PR_SLA_ESCALATE};
  if (raw_field(L, arg, "metric") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "escalate_priority: metric must be the name of "
                    "a metric, not a %s", luaL_typename(L, -1));
      lua_pop(L, 1);
      return;
    }
    ctx.metric = lua_tostring(L, -1);
  }
  if (raw_field(L, arg, "over_manual") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TBOOLEAN) {
      rules_problem(r, site, "escalate_priority: over_manual must be true or "
                    "false, not a %s", luaL_typename(L, -1));
    } else if (lua_toboolean(L, -1)) {
      ctx.kind = PR_SLA_ESCALATE_OVER_MANUAL;
    }
  }
  lua_pop(L, 1);
  if (raw_field(L, arg, "at") == LUA_TNIL) {
    rules_problem(r, site, "escalate_priority: no shares (write at = { "
                  "\"50%%\", \"75%%\" })");
  } else {
    each_string(L, r, site, "escalate_priority", "at", -1, add_escalate_step,
                &ctx);
  }
  lua_pop(L, 2); /* at, metric */
}

/* --- waiting "24h" { ... }, remind_customer_after, close_after ------------ */

void
free_wait(rules_wait *w)
{
  free(w->text);
  free(w->quiet_cal);
  free_actions(w->actions, w->n_actions);
}

static long
new_wait(pr_rules *r, const rules_site *site, const char *decl,
         const char *text)
{
  int64_t ms;
  if (duration_or_problem(r, site, decl, "after", text, 0, &ms) != 0) {
    return -1;
  }
  long i = push_elem((void **)&r->waits, &r->n_waits, sizeof(rules_wait));
  if (i < 0) {
    rules_out_of_memory(r, site, decl);
    return -1;
  }
  r->waits[i].site = *site;
  r->waits[i].after_ms = ms;
  if ((r->waits[i].text = pr_strdup(text)) == NULL) {
    rules_out_of_memory(r, site, decl);
    return -1;
  }
  return i;
}

long
open_waiting(lua_State *L, pr_rules *r, const rules_site *site,
             const char *text)
{
  (void)L;
  return new_wait(r, site, "waiting", text);
}

void
body_waiting(lua_State *L, pr_rules *r, long wi, int arg)
{
  rules_wait *w = &r->waits[wi];
  char what[96];
  snprintf(what, sizeof(what), "waiting '%s'", w->text);
  w->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &w->site, "%s: expects a table of actions, as in "
                  "waiting \"%s\" { remind_customer = \"reminder\" }", what,
                  w->text);
    return;
  }
  rules_actions acts = {&w->actions, &w->n_actions, what};
  static const char *const extra[] = {"quiet", NULL};
  collect_actions(L, r, &w->site, &acts, arg, extra, "quiet");
  if (raw_field(L, arg, "quiet") != LUA_TNIL) {
    collect_quiet(L, r, &w->site, what, lua_gettop(L), &w->quiet,
                  &w->quiet_cal);
  }
  lua_pop(L, 1);
}

typedef struct rules_remind_ctx {
  const char *template_name;
  int quiet;
  const char *quiet_cal;
} rules_remind_ctx;

static void
add_remind(lua_State *L, pr_rules *r, const rules_site *site, void *ud,
           const char *text)
{
  (void)L;
  rules_remind_ctx *ctx = ud;
  long i = new_wait(r, site, "remind_customer_after", text);
  if (i < 0) {
    return;
  }
  r->waits[i].complete = 1;
  r->waits[i].quiet = ctx->quiet;
  if (ctx->quiet_cal != NULL &&
      (r->waits[i].quiet_cal = pr_strdup(ctx->quiet_cal)) == NULL) {
    rules_out_of_memory(r, site, "remind_customer_after");
  }
  rules_actions acts = {&r->waits[i].actions, &r->waits[i].n_actions,
                        "remind_customer_after"};
  push_action(r, site, &acts, "remind_customer", "template",
              ctx->template_name);
}

/* remind_customer_after { "24h", "48h", template = "reminder" } */
void
collect_remind_after(lua_State *L, pr_rules *r, const rules_site *site,
                     int arg)
{
  rules_remind_ctx ctx = {"reminder", QUIET_DEFAULT, NULL};
  char *quiet_cal = NULL;
  size_t n;
  if (lua_type(L, arg) == LUA_TSTRING) {
    add_remind(L, r, site, &ctx, lua_tostring(L, arg));
    return;
  }
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, site, "remind_customer_after: expects durations, as "
                  "in remind_customer_after { \"24h\", \"48h\" }");
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING &&
        strcmp(lua_tostring(L, -1), "template") != 0 &&
        strcmp(lua_tostring(L, -1), "quiet") != 0) {
      rules_problem(r, site, "remind_customer_after: unknown key '%s' "
                    "(known: template, quiet)", lua_tostring(L, -1));
    }
  }
  if (raw_field(L, arg, "quiet") != LUA_TNIL) {
    collect_quiet(L, r, site, "remind_customer_after", lua_gettop(L),
                  &ctx.quiet, &quiet_cal);
    ctx.quiet_cal = quiet_cal;
  }
  lua_pop(L, 1);
  if (raw_field(L, arg, "template") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0') {
      rules_problem(r, site, "remind_customer_after: template must be the "
                    "name of a message template");
      free(quiet_cal);
      return;
    }
    ctx.template_name = lua_tostring(L, -1);
  }
  size_t len = (size_t)lua_rawlen(L, arg);
  if (len == 0) {
    rules_problem(r, site, "remind_customer_after: no duration (write "
                  "remind_customer_after { \"24h\", \"48h\" })");
  }
  for (n = 1; n <= len; n++) {
    lua_rawgeti(L, arg, (lua_Integer)n);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, site, "remind_customer_after: entry %zu is a %s, "
                    "not a duration", n, luaL_typename(L, -1));
    } else {
      add_remind(L, r, site, &ctx, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  free(quiet_cal);
}

/* close_after "7d" */
void
collect_close_after(lua_State *L, pr_rules *r, const rules_site *site,
                    int arg)
{
  if (lua_type(L, arg) != LUA_TSTRING) {
    rules_problem(r, site, "close_after: expects a duration, as in "
                  "close_after \"7d\"");
    return;
  }
  long i = new_wait(r, site, "close_after", lua_tostring(L, arg));
  if (i < 0) {
    return;
  }
  r->waits[i].complete = 1;
  rules_actions acts = {&r->waits[i].actions, &r->waits[i].n_actions,
                        "close_after"};
  push_action(r, site, &acts, "close", NULL, NULL);
}

/* Declarations for the same wait join, in file order: one timer each. */
void
compile_waits(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_waits; i++) {
    const rules_wait *w = &r->waits[i];
    char what[96];
    snprintf(what, sizeof(what), "waiting '%s'", w->text);
    if (!w->complete) {
      rules_problem(r, &w->site, "%s: no table of actions follows, as in "
                    "waiting \"%s\" { close = true }", what, w->text);
      continue;
    }
    size_t first = 0;
    while (r->waits[first].after_ms != w->after_ms) {
      first++;
    }
    if (r->sla == NULL || first < i) {
      continue; /* joined into the first one */
    }
    uint32_t index;
    if (pr_sla_set_add_wait(r->sla, w->after_ms, &index, err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &w->site, "%s: %s", what, err);
      continue;
    }
    /* One timer, one notification calendar: the joined declarations
    ** must agree on it. */
    const char *quiet = quiet_name(r, &w->site, what, w->quiet, w->quiet_cal);
    for (size_t j = i; j < r->n_waits; j++) {
      const rules_wait *o = &r->waits[j];
      if (o->after_ms != w->after_ms || !o->complete) {
        continue;
      }
      compile_actions(r, &o->site, what, o->actions, o->n_actions, index,
                      pr_sla_set_wait_action);
      const char *q = j == i ? quiet
                             : quiet_name(r, &o->site, what, o->quiet,
                                          o->quiet_cal);
      if ((q == NULL) != (quiet == NULL) ||
          (q != NULL && strcmp(q, quiet) != 0)) {
        rules_problem(r, &o->site, "%s: quiet %s%s%s differs from the "
                      "timer's at %s (%s%s%s): the declarations of one "
                      "timer share its notification calendar", what,
                      q ? "'" : "", q ? q : "none", q ? "'" : "",
                      w->site.where, quiet ? "'" : "",
                      quiet ? quiet : "none", quiet ? "'" : "");
      }
    }
    compile_quiet(r, &w->site, what, quiet, index, pr_sla_set_wait_quiet);
  }
}
