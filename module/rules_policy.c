/* rules_policy.c - policy "name" { match, targets, calendar, ... }: the
** SLA policies, their conditions and their targets (durations, business
** days "3bd", relative deadlines "next business day 16:00", target
** functions), compiled into the rule set's pr_sla_set after the metrics
** (rules_sla.c), in declaration order.
**
** A target must name a declared metric, so targets are checked at compile
** time, when every metric is known.  Every problem is reported at the
** policy's file:line and the rest of the policy is checked all the same
** (an unknown calendar: in calendar time): one problem never hides
** another, and any problem keeps the whole set from loading.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

/* --- policy "name" { ... } ------------------------------------------------ */

void
free_policy(rules_policy *p)
{
  free(p->name);
  free(p->calendar);
  for (size_t i = 0; i < p->n_targets; i++) {
    free(p->targets[i].metric);
    free(p->targets[i].level);
    free(p->targets[i].text);
  }
  free(p->targets);
  for (size_t i = 0; i < p->n_ooh; i++) {
    free(p->ooh[i].name);
    free(p->ooh[i].value);
  }
  free(p->ooh);
  free_match(&p->m);
}

/* out_of_hours = { first_response = "+30m", ... } at val. */
static void
collect_out_of_hours(lua_State *L, pr_rules *r, rules_policy *p,
                     const char *what, int val)
{
  if (lua_type(L, val) != LUA_TTABLE) {
    rules_problem(r, &p->site, "%s: out_of_hours must be a table, as in "
                  "out_of_hours = { first_response = \"+30m\" }, not a %s",
                  what, luaL_typename(L, val));
    return;
  }
  char where[128];
  snprintf(where, sizeof(where), "%s: out_of_hours", what);
  size_t n;
  const char **keys = sorted_keys(L, r, &p->site, where, val, &n);
  for (size_t i = 0; i < n; i++) {
    raw_field(L, val, keys[i]);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &p->site, "%s: %s: a duration such as \"+30m\", "
                    "not a %s", where, keys[i], luaL_typename(L, -1));
    } else {
      long k = push_elem((void **)&p->ooh, &p->n_ooh, sizeof(rules_arg));
      if (k < 0 || (p->ooh[k].name = pr_strdup(keys[i])) == NULL ||
          (p->ooh[k].value = pr_strdup(lua_tostring(L, -1))) == NULL) {
        rules_out_of_memory(r, &p->site, what);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

long
open_policy(lua_State *L, pr_rules *r, const rules_site *site,
            const char *name)
{
  (void)L;
  if (name[0] == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    rules_problem(r, site, "policy: a name needs 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
    return -1;
  }
  if (r->policy_names == NULL) {
    r->policy_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            NULL);
  }
  size_t dup = GPOINTER_TO_SIZE(g_hash_table_lookup(r->policy_names, name));
  if (dup > 0) {
    rules_problem(r, site, "policy '%s': already declared at %s", name,
                  r->policies[dup - 1].site.where);
    return -1;
  }
  if (r->n_policies >= PR_SLA_MAX_POLICIES) {
    rules_problem(r, site, "policy '%s': too many policies (at most %d)",
                  name, PR_SLA_MAX_POLICIES);
    return -1;
  }
  /* Grown by doubling (10,000 account policies): the array is a power of
  ** two of entries from 8 on. */
  size_t n = r->n_policies;
  if (n >= 8 && (n & (n - 1)) == 0) {
    rules_policy *v = realloc(r->policies, 2 * n * sizeof(rules_policy));
    if (v == NULL) {
      rules_out_of_memory(r, site, "policy");
      return -1;
    }
    r->policies = v;
  } else if (n == 0) {
    r->policies = malloc(8 * sizeof(rules_policy));
    if (r->policies == NULL) {
      rules_out_of_memory(r, site, "policy");
      return -1;
    }
  }
  long i = (long)r->n_policies++;
  memset(&r->policies[i], 0, sizeof(rules_policy));
  r->policies[i].site = *site;
  r->policies[i].m.when_ref = LUA_NOREF;
  if ((r->policies[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "policy");
    return -1;
  }
  g_hash_table_insert(r->policy_names, g_strdup(name),
                      GSIZE_TO_POINTER((size_t)i + 1));
  return i;
}

static void
add_target(pr_rules *r, rules_policy *p, const char *what, const char *metric,
           const char *level, int idx, lua_State *L)
{
  long i = push_elem((void **)&p->targets, &p->n_targets,
                     sizeof(rules_target));
  if (i < 0) {
    rules_out_of_memory(r, &p->site, what);
    return;
  }
  rules_target *t = &p->targets[i];
  if (lua_type(L, idx) == LUA_TSTRING) {
    if ((t->text = pr_strdup(lua_tostring(L, idx))) == NULL) {
      rules_out_of_memory(r, &p->site, what);
    }
  } else if (lua_type(L, idx) == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->has_fn = 1;
  } else if (lua_type(L, idx) != LUA_TBOOLEAN || lua_toboolean(L, idx)) {
    t->bad_type = luaL_typename(L, idx);
  }
  t->metric = pr_strdup(metric);
  t->level = level ? pr_strdup(level) : NULL;
  if (t->metric == NULL || (level && !t->level)) {
    rules_out_of_memory(r, &p->site, what);
  }
}

/* metric = "1h" | "best effort" | false | { P1 = "30m", ... } */
void
collect_targets(lua_State *L, pr_rules *r, rules_policy *p, const char *what,
                const char *metric, int val)
{
  if (lua_type(L, val) != LUA_TTABLE) {
    add_target(r, p, what, metric, NULL, val, L);
    return;
  }
  char where[128];
  snprintf(where, sizeof(where), "%s: %s", what, metric);
  size_t n;
  const char **levels = sorted_keys(L, r, &p->site, where, val, &n);
  if (n == 0 && lua_rawlen(L, val) == 0) {
    rules_problem(r, &p->site,
                  "%s: '%s' is empty (give { P1 = \"30m\", ... }, one "
                  "duration for every level, or \"best effort\")",
                  what, metric);
  }
  for (size_t i = 0; i < n; i++) {
    raw_field(L, val, levels[i]);
    add_target(r, p, what, metric, levels[i], lua_gettop(L), L);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

void
body_policy(lua_State *L, pr_rules *r, long pi, int arg)
{
  rules_policy *p = &r->policies[pi];
  char what[96];
  snprintf(what, sizeof(what), "policy '%s'", p->name);
  p->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &p->site,
                  "%s: expects a table, as in policy \"%s\" { calendar = "
                  "\"business\", first_response = \"1h\" }",
                  what, p->name);
    return;
  }
  size_t n;
  const char **keys = sorted_keys(L, r, &p->site, what, arg, &n);
  for (size_t i = 0; i < n; i++) {
    raw_field(L, arg, keys[i]);
    int val = lua_gettop(L);
    if (strcmp(keys[i], "calendar") == 0) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, &p->site, "%s: calendar must be the name of a "
                      "calendar, not a %s", what, luaL_typename(L, val));
      } else if ((p->calendar = pr_strdup(lua_tostring(L, val))) == NULL) {
        rules_out_of_memory(r, &p->site, what);
      }
    } else if (strcmp(keys[i], "out_of_hours") == 0) {
      collect_out_of_hours(L, r, p, what, val);
    } else if (!collect_match_key(L, r, &p->site, what, &p->m, keys[i],
                                  val)) {
      /* A built-in metric or one declared anywhere in the folder; checked
      ** at compile time. */
      collect_targets(L, r, p, what, keys[i], val);
    }
    lua_settop(L, val - 1);
  }
  lua_pop(L, 1);
}

/* A target in business days, "3bd" or "3 bd": n > 0; -1 for 0 or more
** than PR_CAL_MAX_BDAYS; 0 if the text is not of that form. */
static int
business_days(const char *text)
{
  const char *p = text;
  long n = 0;
  int digits = 0;
  while (*p == ' ') {
    p++;
  }
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (n <= PR_CAL_MAX_BDAYS) {
      n = n * 10 + (*p - '0');
    }
  }
  while (*p == ' ') {
    p++;
  }
  if (digits == 0 || p[0] != 'b' || p[1] != 'd') {
    return 0;
  }
  for (p += 2; *p == ' '; p++) {
  }
  if (*p != '\0') {
    return 0;
  }
  return n >= 1 && n <= PR_CAL_MAX_BDAYS ? (int)n : -1;
}

/* A relative deadline: [end of] (business day | next business day | N
** business day[s]) [[by | at] HH:MM], words in any case, any spaces.
** 1 with *n and *minute (PR_SLA_REL_END for "end of"); 0 if the text is
** not of that form (it does not start with "end", "next" or "N
** business"); -1 with a hint in msg for one that is malformed. */
static int
relative_deadline(const char *text, uint32_t *n, int32_t *minute, char *msg,
                  size_t len)
{
  char buf[128];
  const char *w[12];
  int nw = 0;
  size_t tl = strlen(text);
  if (tl >= sizeof(buf)) {
    return 0;
  }
  memcpy(buf, text, tl + 1);
  for (char *p = strtok(buf, " \t"); p != NULL && nw < 12;
       p = strtok(NULL, " \t")) {
    for (char *q = p; *q; q++) {
      *q = g_ascii_tolower(*q);
    }
    w[nw++] = p;
  }
  int i = 0, end = 0;
  long days = -1;
  if (nw == 0) {
    return 0;
  }
  const char *form = "write \"next business day 16:00\", \"2 business "
                     "days 12:00\", \"end of business day\" or \"end of "
                     "next business day\"";
  if (strcmp(w[0], "end") == 0) {
    if (nw < 2 || strcmp(w[1], "of") != 0) {
      snprintf(msg, len, "'%s' is not a relative deadline (%s)", text, form);
      return -1;
    }
    end = 1;
    i = 2;
  }
  if (i < nw && strcmp(w[i], "next") == 0) {
    days = 1;
    i++;
  } else if (i < nw && w[i][0] >= '0' && w[i][0] <= '9' &&
             strspn(w[i], "0123456789") == strlen(w[i])) {
    if (i + 1 >= nw || strcmp(w[i + 1], "business") != 0) {
      return end ? (snprintf(msg, len, "'%s' is not a relative deadline "
                             "(%s)", text, form), -1) : 0;
    }
    days = strlen(w[i]) > 5 ? 100000 : strtol(w[i], NULL, 10);
    i++;
  } else if (!end) {
    return 0;
  } else {
    days = 0;
  }
  if (i + 1 >= nw || strcmp(w[i], "business") != 0 ||
      (strcmp(w[i + 1], "day") != 0 && strcmp(w[i + 1], "days") != 0)) {
    snprintf(msg, len, "'%s' is not a relative deadline (%s)", text, form);
    return -1;
  }
  i += 2;
  if (days > PR_CAL_MAX_BDAYS) {
    snprintf(msg, len, "'%s': a relative deadline is at most %d business "
             "days away", text, PR_CAL_MAX_BDAYS);
    return -1;
  }
  if (days == 0 && !end) {
    snprintf(msg, len, "'%s': 0 business days is the cycle's own day: write "
             "\"end of business day\"", text);
    return -1;
  }
  if (i < nw && (strcmp(w[i], "by") == 0 || strcmp(w[i], "at") == 0)) {
    i++;
  }
  int hh = -1, mm = -1;
  if (i < nw) {
    size_t hl = strspn(w[i], "0123456789");
    if (i + 1 != nw) {
      snprintf(msg, len, "'%s': one time of day ends it, as in \"next "
               "business day 16:00\"", text);
      return -1;
    }
    if (hl < 1 || hl > 2 || w[i][hl] != ':' ||
        strspn(w[i] + hl + 1, "0123456789") != 2 || w[i][hl + 3] != '\0' ||
        sscanf(w[i], "%d:%d", &hh, &mm) != 2) {
      snprintf(msg, len, "'%s': '%s' is not a time of day (write \"16:00\")",
               text, w[i]);
      return -1;
    }
    if (hh > 23 || mm > 59) {
      snprintf(msg, len, "'%s': '%s' is out of range (00:00 to 23:59)", text,
               w[i]);
      return -1;
    }
  }
  if (end && hh >= 0) {
    snprintf(msg, len, "'%s': give the day's end or a time of day, not both",
             text);
    return -1;
  }
  if (!end && hh < 0) {
    snprintf(msg, len, "'%s': say when on that day: \"%s 16:00\", or \"end "
             "of %s\"", text, text, text);
    return -1;
  }
  *n = (uint32_t)days;
  *minute = end ? PR_SLA_REL_END : hh * 60 + mm;
  return 1;
}

void
compile_policies(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_policies; i++) {
    rules_policy *p = &r->policies[i];
    char what[96];
    snprintf(what, sizeof(what), "policy '%s'", p->name);
    if (!p->complete) {
      rules_problem(r, &p->site,
                    "%s: no table follows the name, as in policy \"%s\" "
                    "{ ... }",
                    what, p->name);
      continue;
    }
    match_add_words(r, &p->site, what, &p->m);
    if (r->sla == NULL) {
      continue;
    }
    pr_calendar *cal = NULL;
    rules_cal *zoned = NULL;
    if (p->calendar != NULL) {
      size_t c = 0;
      while (c < r->n_cals && strcmp(r->cals[c].name, p->calendar) != 0) {
        c++;
      }
      /* A calendar that is unknown or broken is reported, and the rest of
      ** the policy is checked all the same (in calendar time, since the set
      ** will not load): one problem never hides the others. */
      if (c < r->n_cals) {
        cal = r->cals[c].cal;  /* NULL: the calendar's own problem */
        zoned = r->cals[c].tz_attr != NULL && cal != NULL ? &r->cals[c]
                                                           : NULL;
      } else if (strcmp(p->calendar, "24x7") != 0) {
        pr_buf names;
        pr_buf_init(&names);
        for (size_t k = 0; k < r->n_cals; k++) {
          pr_buf_printf(&names, "%s'%s'", k ? ", " : "", r->cals[k].name);
        }
        rules_problem(r, &p->site, "%s: unknown calendar '%s' (%s%s)", what,
                      p->calendar,
                      r->n_cals ? "declared: " : "no calendar is declared",
                      pr_buf_cstr(&names));
        pr_buf_free(&names);
      }
    }
    uint32_t index;
    if (pr_sla_set_add_policy(r->sla, p->name, cal, &index, err,
                              sizeof(err)) != PROMPTLY_OK ||
        pr_sla_set_policy_calendar(r->sla, index, p->calendar, err,
                                   sizeof(err)) != PROMPTLY_OK ||
        (zoned != NULL &&
         pr_sla_set_policy_zones(r->sla, index, rules_zone_cal, zoned, err,
                                 sizeof(err)) != PROMPTLY_OK)) {
      rules_problem(r, &p->site, "%s: %s", what, err);
      continue;
    }
    /* A broken calendar is reported already: no out_of_hours problem on
    ** top of it. */
    for (size_t k = 0; (cal != NULL || p->calendar == NULL) && k < p->n_ooh;
         k++) {
      const rules_arg *g = &p->ooh[k];
      int m = pr_sla_set_metric_find(r->sla, g->name);
      char where[128];
      snprintf(where, sizeof(where), "out_of_hours: %s", g->name);
      int64_t ms;
      if (m < 0) {
        rules_problem(r, &p->site, "%s: out_of_hours: unknown metric '%s' "
                      "(first_response, next_response, periodic_update, "
                      "resolution, or a declared metric)", what, g->name);
      } else if (duration_or_problem(r, &p->site, what, where,
                                     g->value + (g->value[0] == '+'), 0,
                                     &ms) == 0 &&
                 pr_sla_set_out_of_hours(r->sla, index, (uint32_t)m, ms, err,
                                         sizeof(err)) != PROMPTLY_OK) {
        rules_problem(r, &p->site, "%s: %s", what, err);
      }
    }
    /* Which (metric, level) pairs a table gave, to find one given twice
    ** (by id and by name). */
    uint8_t seen[PR_SLA_MAX_METRICS][PR_SLA_MAX_LEVELS];
    memset(seen, 0, sizeof(seen));
    for (size_t t = 0; t < p->n_targets; t++) {
      const rules_target *tg = &p->targets[t];
      int m = pr_sla_set_metric_find(r->sla, tg->metric);
      if (m < 0) {
        if (t == 0 || strcmp(p->targets[t - 1].metric, tg->metric) != 0) {
          rules_problem(r, &p->site,
                        "%s: unknown key '%s' (known: calendar, "
                        "first_response, next_response, periodic_update, "
                        "resolution, words, tier, type, channel, queue, "
                        "status, attrs, when, out_of_hours, or the name of a "
                        "metric)",
                        what, tg->metric);
        }
        continue;
      }
      size_t from = 0, to = r->n_levels;
      char where[128];
      snprintf(where, sizeof(where), "%s%s%s", tg->metric,
               tg->level ? " " : "", tg->level ? tg->level : "");
      if (tg->level != NULL) {
        int l = pr_rules_level_find(r, tg->level);
        if (l < 0) {
          rules_problem(r, &p->site, "%s: %s: unknown level '%s'", what,
                        tg->metric, tg->level);
          continue;
        }
        if (seen[m][l]) {
          rules_problem(r, &p->site, "%s: %s: level '%s' is given twice",
                        what, tg->metric, r->levels[l].id);
          continue;
        }
        seen[m][l] = 1;
        from = (size_t)l;
        to = from + 1;
      }
      int64_t ms = PR_SLA_NONE;
      if (tg->bad_type != NULL) {
        rules_problem(r, &p->site,
                      "%s: %s: a target is a duration such as \"4h\", "
                      "a deadline such as \"next business day 16:00\", a "
                      "function returning one, \"best effort\" or false, "
                      "not a %s",
                      what, where, tg->bad_type);
        continue;
      }
      if (tg->has_fn) {
        long fi = push_elem((void **)&r->fns, &r->n_fns, sizeof(rules_fn));
        char *fw = fi < 0 ? NULL : g_strdup_printf("%s: %s", what, where);
        if (fi < 0 || fw == NULL) {
          free(fw);
          rules_out_of_memory(r, &p->site, what);
          continue;
        }
        r->fns[fi].ref = tg->fn_ref;
        r->fns[fi].site = p->site;
        r->fns[fi].what = pr_strdup(fw);
        g_free(fw);
        for (size_t l = from; l < to; l++) {
          if (pr_sla_set_target_fn(r->sla, index, (uint32_t)l, (uint32_t)m,
                                   (uint32_t)fi, err, sizeof(err)) !=
              PROMPTLY_OK) {
            rules_problem(r, &p->site, "%s", err);
            break;
          }
        }
        continue;
      }
      int bd = tg->text != NULL ? business_days(tg->text) : 0;
      uint32_t rel_n = 0;
      int32_t rel_min = 0;
      char rel_msg[320];
      int rel = bd == 0 && tg->text != NULL
                  ? relative_deadline(tg->text, &rel_n, &rel_min, rel_msg,
                                      sizeof(rel_msg))
                  : 0;
      if (rel < 0) {
        rules_problem(r, &p->site, "%s: %s: %s", what, where, rel_msg);
        continue;
      }
      if (bd < 0) {
        rules_problem(r, &p->site, "%s: %s: '%s': business days are 1bd "
                      "to %dbd", what, where, tg->text, PR_CAL_MAX_BDAYS);
        continue;
      }
      if (bd == 0 && rel == 0 && tg->text != NULL &&
                 g_ascii_strcasecmp(tg->text, "best effort") &&
                 duration_or_problem(r, &p->site, what, where, tg->text, 0,
                                     &ms)) {
        continue;
      }
      for (size_t l = from; l < to; l++) {
        int rc = rel > 0
          ? pr_sla_set_target_deadline(r->sla, index, (uint32_t)l,
                                       (uint32_t)m, rel_n, rel_min, err,
                                       sizeof(err))
          : bd > 0
          ? pr_sla_set_target_bdays(r->sla, index, (uint32_t)l, (uint32_t)m,
                                    (uint32_t)bd, err, sizeof(err))
          : pr_sla_set_target(r->sla, index, (uint32_t)l, (uint32_t)m, ms,
                              err, sizeof(err));
        if (rc != PROMPTLY_OK) {
          rules_problem(r, &p->site, "%s", err);
          break;
        }
      }
    }
  }
}
