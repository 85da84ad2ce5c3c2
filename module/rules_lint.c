/* rules_lint.c - warnings about a rule set that loaded: what can never
** happen, and what would fail on the first unusual ticket.
**
** Each check is sufficient, never a guess, so a clean set stays clean:
** - a priority rule is shadowed when an earlier rule without `when` holds
**   for every ticket it holds for (the earlier rule's keywords include all
**   of its keywords, or it has none, and each of the earlier rule's
**   attribute conditions is one of its own with no more values);
** - a keyword listed twice in one rule; a keyword of a rule that an
**   earlier rule with nothing but keywords takes every ticket for;
** - a calendar with no business time in the year from now (its clocks
**   would never come due), and each policy that uses it;
** - a policy with no target for any level and metric: it can never
**   supply one to a ticket;
** - files whose name ends in .lua in another case ("10-prio.LUA"), which
**   do not load, and a folder where no rule file loads;
** - every `when` function (of priority rules and policies) called with two
**   synthetic tickets, one with no attributes and one whose attributes are
**   all empty strings, in the sandbox under its budget: an error (a nil
**   index, say) is reported with the function's own file:line.
** Each warning goes into a problem list (problems.h) at PR_SEV_WARNING,
** its message starting "warning: ", so that it reads "file:line: warning:
** message" once formatted; the list sorts (by file, then line, then order
** of report), collapses repeats and caps them with the load's errors.  The
** folder's own warning ("no *.lua file") has no file.  Policies are looked
** over only when the load had no error (their indices in the SLA set match
** the declarations only then).
*/
#include "config.h"

#include "rules_internal.h"
#include "problems.h"
#include "promptly.h"
#include "util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

#define LINT_LINE 1024
#define LINT_YEAR_MS ((int64_t)366 * 24 * 3600 * 1000)

typedef pr_problems lint_list;


static void warn(lint_list *w, const char *file, int line, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static void
warn(lint_list *w, const char *file, int line, const char *fmt, ...)
{
  char msg[LINT_LINE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pr_problems_add(w, file, line, PR_SEV_WARNING, "warning: %s", msg);
}


/* Whether every value of b is one of a's (both folded). */
static int
values_within(const rules_cond *b, const rules_cond *a)
{
  for (size_t i = 0; i < b->n_values; i++) {
    int found = 0;
    for (size_t j = 0; !found && j < a->n_values; j++) {
      found = strcmp(b->values[i], a->values[j]) == 0;
    }
    if (!found) {
      return 0;
    }
  }
  return 1;
}


/* Whether rule a matches every ticket rule b matches. */
static int
covers(const rules_prio *a, const rules_prio *b)
{
  if (a->m.when_ref != LUA_NOREF) {
    return 0;
  }
  if (a->m.n_words > 0) {
    if (a->m.word_ids == NULL || b->m.n_words == 0 || b->m.word_ids == NULL) {
      return 0;
    }
    for (size_t i = 0; i < b->m.n_words; i++) {
      int found = 0;
      for (size_t j = 0; !found && j < a->m.n_words; j++) {
        found = a->m.word_ids[j] == b->m.word_ids[i];
      }
      if (!found) {
        return 0;
      }
    }
  }
  for (size_t c = 0; c < a->m.n_conds; c++) {
    int found = 0;
    for (size_t d = 0; !found && d < b->m.n_conds; d++) {
      found =
        g_ascii_strcasecmp(a->m.conds[c].attr, b->m.conds[d].attr) == 0 &&
        values_within(&b->m.conds[d], &a->m.conds[c]);
    }
    if (!found) {
      return 0;
    }
  }
  return 1;
}


static void
lint_priorities(const pr_rules *r, lint_list *w)
{
  for (size_t b = 0; b < r->n_prios; b++) {
    const rules_prio *pb = &r->prios[b];
    int shadowed = 0;
    for (size_t a = 0; a < b; a++) {
      if (covers(&r->prios[a], pb)) {
        shadowed = 1;
        warn(w, pb->site.file, pb->site.line,
             "priority: shadowed, it can never match: %s (%s) comes first "
             "and matches every ticket it does",
             r->prios[a].site.where,
            pr_rules_level_id(r, r->prios[a].level));
        break;
      }
    }
    /* Keywords listed twice in a rule; keywords an earlier rule with
    ** nothing but keywords takes every ticket for (unless the whole rule
    ** is shadowed, which says more). */
    for (size_t k = 0; pb->m.word_ids != NULL && k < pb->m.n_words; k++) {
      uint32_t id = pb->m.word_ids[k];
      int twice = 0;
      for (size_t x = 0; !twice && x < k; x++) {
        twice = pb->m.word_ids[x] == id;
      }
      if (twice) {
        warn(w, pb->site.file, pb->site.line,
             "priority: keyword '%s' is listed twice", pb->m.words[k]);
        continue;
      }
      for (size_t a = 0; !shadowed && a < b; a++) {
        const rules_prio *pa = &r->prios[a];
        int taken = 0;
        for (size_t x = 0; pa->m.n_conds == 0 && pa->m.when_ref == LUA_NOREF &&
                           pa->m.word_ids != NULL && x < pa->m.n_words;
             x++) {
          taken |= pa->m.word_ids[x] == id;
        }
        if (taken) {
          warn(w, pb->site.file, pb->site.line,
               "priority: keyword '%s' never decides here: %s (%s) comes "
               "first and takes every ticket with it",
               pb->m.words[k], pa->site.where,
               pr_rules_level_id(r, pa->level));
          break;
        }
      }
    }
  }
}


static void
lint_calendars(const pr_rules *r, int64_t now_ms, lint_list *w)
{
  for (size_t i = 0; i < r->n_cals; i++) {
    const rules_cal *c = &r->cals[i];
    int64_t open = 0;
    if (c->cal == NULL ||
        pr_cal_between(c->cal, now_ms, now_ms + LINT_YEAR_MS, &open) !=
          PROMPTLY_OK ||
        open > 0) {
      continue;
    }
    warn(w, c->site.file, c->site.line,
         "calendar '%s': never open in the year from now: clocks in it "
         "never come due", c->name);
    for (size_t p = 0; p < r->n_policies; p++) {
      if (r->policies[p].calendar != NULL &&
          strcmp(r->policies[p].calendar, c->name) == 0) {
        warn(w, r->policies[p].site.file, r->policies[p].site.line,
             "policy '%s': its calendar '%s' is never open in the year "
             "from now: its tickets get no due",
             r->policies[p].name, c->name);
      }
    }
  }
}


static void
lint_policies(const pr_rules *r, lint_list *w)
{
  const pr_sla_set *s = r->sla;
  for (uint32_t p = 0; s != NULL && p < s->n_policies && p < r->n_policies;
       p++) {
    int any = 0;
    for (size_t k = 0; !any && k < (size_t)s->n_levels * s->n_metrics; k++) {
      any = s->policies[p].target_ms[k] != PR_SLA_NONE;
    }
    if (!any) {
      warn(w, r->policies[p].site.file, r->policies[p].site.line,
           "policy '%s': no target for any level (all best effort): it "
           "never supplies one",
           r->policies[p].name);
    }
  }
}


/* Files that look like rule files but do not load. */
static void
lint_files(const pr_rules *r, lint_list *w)
{
  DIR *d = opendir(r->dir);
  if (d == NULL) {
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (e->d_name[0] != '.' && n > 4 &&
        g_ascii_strcasecmp(e->d_name + n - 4, ".lua") == 0 &&
        strcmp(e->d_name + n - 4, ".lua") != 0) {
      warn(w, e->d_name, 0, "not loaded: rule files end in .lua, in lower "
           "case");
    }
  }
  closedir(d);
}


/* --- Calling `when` functions with synthetic tickets ---------------------- */

typedef struct lint_call {
  const pr_rules *r;
  int ref;
  int empty;   /* 1: every common attribute "", 0: none at all */
  int target;  /* 1: a target function: (t, c), returns an instant */
} lint_call;

static int
lint_call_when(lua_State *L)
{
  const lint_call *c = lua_touserdata(L, 1);
  static const char *const attrs[] = {"subject", "body", "tier", "type",
                                      "channel", "queue", "status",
                                      "priority"};
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  lua_createtable(L, 0, 9);
  for (size_t i = 0; c->empty && i < sizeof(attrs) / sizeof(attrs[0]); i++) {
    lua_pushliteral(L, "");
    lua_setfield(L, -2, attrs[i]);
  }
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "id");
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->r->ticket_mt_ref);
  lua_setmetatable(L, -2);
  if (!c->target) {
    lua_call(L, 1, 0);
    return 0;
  }
  /* A cycle that starts on Monday 2026-01-05 at 09:00 UTC. */
  lua_createtable(L, 0, 5);
  lua_pushliteral(L, "2026-01-05T09:00:00Z");
  lua_setfield(L, -2, "start");
  lua_pushinteger(L, INT64_C(1767603600000));
  lua_setfield(L, -2, "start_ms");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "metric");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "policy");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "priority");
  lua_call(L, 2, 1);
  int64_t at;
  int ty = lua_type(L, -1);
  if (!(ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
        lua_isinteger(L, -1) ||
        (ty == LUA_TSTRING &&
         rules_parse_instant(lua_tostring(L, -1), &at) == 0))) {
    if (ty == LUA_TSTRING) {
      return luaL_error(L, "it returns '%s', not an instant (\"2026-01-05T"
                        "17:00:00Z\", milliseconds since 1970, or nil)",
                        lua_tostring(L, -1));
    }
    return luaL_error(L, "it returns a %s, not an instant",
                      luaL_typename(L, -1));
  }
  return 0;
}

static void
exercise(const pr_rules *r, int ref, int target, const rules_site *site,
         const char *what, lint_list *w)
{
  const char *fn = target ? "the target function" : "when";
  for (int empty = 0; empty < 2; empty++) {
    lint_call c = {r, ref, empty, target};
    char msg[LINT_LINE];
    if (pr_sandbox_run(r->sb, lint_call_when, &c, msg, sizeof(msg)) ==
        PROMPTLY_OK) {
      continue;
    }
    const char *with = empty ? "a ticket whose attributes are all \"\""
                             : "a ticket without attributes";
    /* Lua's message leads with the function's own file:line. */
    const char *colon = strstr(msg, ".lua:");
    if (colon != NULL) {
      size_t at = (size_t)(colon - msg) + 5;
      at += strspn(msg + at, "0123456789");
      const char *num = colon + 5;
      if (msg[at] == ':' && at > (size_t)(num - msg)) {
        char file[256];
        snprintf(file, sizeof(file), "%.*s", (int)(num - 1 - msg), msg);
        warn(w, file, atoi(num), "%s: %s fails on %s:%s", what, fn, with,
             msg + at + 1);
        continue;
      }
    }
    warn(w, site->file, site->line, "%s: %s fails on %s: %s", what, fn, with,
         msg);
  }
}

static void
lint_whens(const pr_rules *r, lint_list *w)
{
  for (size_t i = 0; r->sb != NULL && i < r->n_prios; i++) {
    if (r->prios[i].m.when_ref != LUA_NOREF) {
      exercise(r, r->prios[i].m.when_ref, 0, &r->prios[i].site, "priority",
               w);
    }
  }
  for (size_t i = 0; r->sb != NULL && i < r->n_policies; i++) {
    if (r->policies[i].m.when_ref != LUA_NOREF) {
      char what[96];
      snprintf(what, sizeof(what), "policy '%s'", r->policies[i].name);
      exercise(r, r->policies[i].m.when_ref, 0, &r->policies[i].site, what,
               w);
    }
  }
  for (size_t i = 0; r->sb != NULL && i < r->n_pconds; i++) {
    if (r->pconds[i].m.when_ref != LUA_NOREF) {
      exercise(r, r->pconds[i].m.when_ref, 0, &r->pconds[i].site,
               r->pconds[i].customer_wait ? "customer_wait" : "pause_on", w);
    }
  }
  for (size_t i = 0; r->sb != NULL && i < r->n_fns; i++) {
    exercise(r, r->fns[i].ref, 1, &r->fns[i].site, r->fns[i].what, w);
  }
}


void
pr_rules_lint(const pr_rules *r, struct pr_problems *ps)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now_ms = (int64_t)ts.tv_sec * 1000;
  int clean = !pr_problems_failed(&r->problems) && !pr_problems_failed(ps);
  lint_files(r, ps);
  if (r->n_files == 0) {
    warn(ps, NULL, 0, "no *.lua file in %s: no rule loads (the default "
         "levels only)", r->dir);
  }
  lint_priorities(r, ps);
  lint_calendars(r, now_ms, ps);
  if (clean) {
    lint_policies(r, ps);
  }
  lint_whens(r, ps);
}
