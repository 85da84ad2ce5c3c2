/* rules_calendar.c - calendar "name" { tz, hours, holidays, ics }.
**
** Collected as text at the caller's file:line and compiled into a
** pr_calendar (calendar.c) after every file ran; a calendar that fails to
** compile is reported at its declaration and never reaches a policy.
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

/* --- calendar "name" { ... } ---------------------------------------------- */

static const struct {
  const char *key;
  int from, to;
} cal_days[] = {
  {"mon", 0, 0}, {"tue", 1, 1}, {"wed", 2, 2}, {"thu", 3, 3},
  {"fri", 4, 4}, {"sat", 5, 5}, {"sun", 6, 6},
  {"mon_fri", 0, 4}, {"mon_sat", 0, 5}, {"mon_sun", 0, 6},
  {"daily", 0, 6}, {"sat_sun", 5, 6},
};

void
free_cal(rules_cal *c)
{
  free(c->name);
  free(c->tz);
  for (size_t i = 0; i < c->n_hours; i++) {
    free(c->hours[i].open);
    free(c->hours[i].close);
  }
  free(c->hours);
  free_strs(c->holidays, c->n_holidays);
  free_strs(c->ics, c->n_ics);
  pr_calendar_free(c->cal);
}

static int
add_hours(rules_cal *c, int from, int to, const char *open, size_t olen,
          const char *close)
{
  for (int d = from; d <= to; d++) {
    long i = push_elem((void **)&c->hours, &c->n_hours, sizeof(rules_hours));
    if (i < 0) {
      return PROMPTLY_ENOMEM;
    }
    c->hours[i].wday = d;
    c->hours[i].open = strndup(open, olen);
    c->hours[i].close = pr_strdup(close);
    if (c->hours[i].open == NULL || c->hours[i].close == NULL) {
      return PROMPTLY_ENOMEM;
    }
  }
  return PROMPTLY_OK;
}

/* One opening, "HH:MM-HH:MM" or {"HH:MM", "HH:MM"}, at idx. */
static void
collect_opening(lua_State *L, pr_rules *r, rules_cal *c, const char *key,
                int from, int to, int idx)
{
  int rc = PROMPTLY_EINVAL;
  size_t n;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    const char *dash = strchr(s, '-');
    if (dash != NULL) {
      rc = add_hours(c, from, to, s, (size_t)(dash - s), dash + 1);
    }
  } else if (lua_type(L, idx) == LUA_TTABLE && is_list(L, idx, &n) &&
             n == 2) {
    lua_rawgeti(L, idx, 1);
    lua_rawgeti(L, idx, 2);
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      const char *open = lua_tostring(L, -2);
      rc = add_hours(c, from, to, open, strlen(open), lua_tostring(L, -1));
    }
    lua_pop(L, 2);
  }
  if (rc == PROMPTLY_ENOMEM) {
    rules_out_of_memory(r, &c->site, "calendar");
  } else if (rc != PROMPTLY_OK) {
    rules_problem(r, &c->site,
                  "calendar '%s': hours '%s' must be \"HH:MM-HH:MM\" or "
                  "{\"HH:MM\", \"HH:MM\"}",
                  c->name, key);
  }
}

static void
collect_hours(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) == LUA_TSTRING &&
      strcmp(lua_tostring(L, idx), "24x7") == 0) {
    c->is_24x7 = 1;
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': hours must be \"24x7\" or a table such as "
                  "{ mon_fri = { \"09:00-17:00\" } }",
                  c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    int from = -1, to = -1;
    for (size_t i = 0; key != NULL && i < sizeof(cal_days) / sizeof(*cal_days);
         i++) {
      if (strcmp(key, cal_days[i].key) == 0) {
        from = cal_days[i].from;
        to = cal_days[i].to;
      }
    }
    size_t n;
    if (from < 0) {
      rules_problem(r, &c->site,
                    "calendar '%s': unknown day '%s' in hours (known: mon "
                    "tue wed thu fri sat sun mon_fri mon_sat mon_sun daily "
                    "sat_sun)",
                    c->name, key != NULL ? key : luaL_typename(L, -2));
    } else if (lua_type(L, val) == LUA_TTABLE && is_list(L, val, &n) &&
               n > 0) {
      /* A pair of two plain times is one opening, else a list. */
      lua_rawgeti(L, val, 1);
      int pair = n == 2 && lua_type(L, -1) == LUA_TSTRING &&
                 strchr(lua_tostring(L, -1), '-') == NULL;
      lua_pop(L, 1);
      if (pair) {
        collect_opening(L, r, c, key, from, to, val);
      } else {
        for (size_t i = 1; i <= n; i++) {
          lua_rawgeti(L, val, (lua_Integer)i);
          collect_opening(L, r, c, key, from, to, lua_gettop(L));
          lua_pop(L, 1);
        }
      }
    } else {
      collect_opening(L, r, c, key, from, to, val);
    }
    lua_settop(L, val - 1);
  }
}

static void
collect_ics(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) != LUA_TSTRING) {
    rules_problem(r, &c->site, "calendar '%s': ics must be a file name",
                  c->name);
    return;
  }
  const char *path = lua_tostring(L, idx);
  /* Calendars read files from the rules folder only. */
  if (path[0] == '/' || strcmp(path, "..") == 0 ||
      strncmp(path, "../", 3) == 0 || strstr(path, "/../") != NULL ||
      (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0)) {
    rules_problem(r, &c->site,
                  "calendar '%s': ics '%s' must be a path inside the rules "
                  "folder",
                  c->name, path);
    return;
  }
  if (push_str(&c->ics, &c->n_ics, path) != PROMPTLY_OK) {
    rules_out_of_memory(r, &c->site, "calendar");
  }
}

static void
collect_holidays(lua_State *L, pr_rules *r, rules_cal *c, int idx)
{
  if (lua_type(L, idx) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': holidays must be a list such as "
                  "{ \"2026-12-24..2026-12-26\", \"*-01-01\" }",
                  c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int val = lua_gettop(L);
    if (lua_type(L, -2) == LUA_TSTRING &&
        strcmp(lua_tostring(L, -2), "ics") == 0) {
      collect_ics(L, r, c, val);
    } else if (!lua_isinteger(L, -2)) {
      rules_problem(r, &c->site, "calendar '%s': holidays: unexpected key",
                    c->name);
    } else if (lua_type(L, val) != LUA_TSTRING) {
      rules_problem(r, &c->site,
                    "calendar '%s': holiday %lld is a %s, not a date",
                    c->name, (long long)lua_tointeger(L, -2),
                    luaL_typename(L, val));
    } else if (push_str(&c->holidays, &c->n_holidays,
                        lua_tostring(L, val)) != PROMPTLY_OK) {
      rules_out_of_memory(r, &c->site, "calendar");
    }
    lua_settop(L, val - 1);
  }
}

long
open_calendar(lua_State *L, pr_rules *r, const rules_site *site,
              const char *name)
{
  (void)L;
  if (name[0] == '\0') {
    rules_problem(r, site, "calendar: the name is empty");
    return -1;
  }
  for (size_t i = 0; i < r->n_cals; i++) {
    if (strcmp(r->cals[i].name, name) == 0) {
      rules_problem(r, site, "calendar '%s': already declared at %s", name,
                    r->cals[i].site.where);
      return -1;
    }
  }
  long ci = push_elem((void **)&r->cals, &r->n_cals, sizeof(rules_cal));
  if (ci < 0) {
    rules_out_of_memory(r, site, "calendar");
    return -1;
  }
  r->cals[ci].site = *site;
  r->cals[ci].name = pr_strdup(name);
  if (r->cals[ci].name == NULL) {
    r->n_cals--;
    rules_out_of_memory(r, site, "calendar");
    return -1;
  }
  return ci;
}

void
body_calendar(lua_State *L, pr_rules *r, long ci, int arg)
{
  rules_cal *c = &r->cals[ci];
  c->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &c->site,
                  "calendar '%s': expects a table, as in calendar \"%s\" "
                  "{ tz = \"Europe/Berlin\", hours = { ... } }",
                  c->name, c->name);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    if (key != NULL && strcmp(key, "tz") == 0) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, &c->site, "calendar '%s': tz must be a zone name "
                      "such as \"Europe/Berlin\"", c->name);
      } else if ((c->tz = pr_strdup(lua_tostring(L, val))) == NULL) {
        rules_out_of_memory(r, &c->site, "calendar");
      }
    } else if (key != NULL && strcmp(key, "hours") == 0) {
      collect_hours(L, r, c, val);
    } else if (key != NULL && strcmp(key, "holidays") == 0) {
      collect_holidays(L, r, c, val);
    } else if (key != NULL && strcmp(key, "ics") == 0) {
      collect_ics(L, r, c, val);
    } else {
      rules_problem(r, &c->site,
                    "calendar '%s': unknown key '%s' (known: tz, hours, "
                    "holidays, ics)",
                    c->name, key != NULL ? key : luaL_typename(L, -2));
    }
    lua_settop(L, val - 1);
  }
  if (!c->is_24x7 && c->n_hours == 0) {
    rules_problem(r, &c->site,
                  "calendar '%s': no hours (give hours = { mon_fri = "
                  "{ \"09:00-17:00\" } } or hours = \"24x7\")",
                  c->name);
  }
}

static void
compile_calendar(pr_rules *r, rules_cal *c)
{
  char err[512];
  pr_cal_spec *spec = NULL;
  if (!c->complete) {
    rules_problem(r, &c->site,
                  "calendar '%s': no table follows the name, as in "
                  "calendar \"%s\" { ... }",
                  c->name, c->name);
    return;
  }
  if (pr_cal_spec_new(c->tz, &spec, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, &c->site, "calendar '%s': %s", c->name, err);
    return;
  }
  if (c->is_24x7) {
    pr_cal_spec_set_24x7(spec);
  }
  for (size_t i = 0; i < c->n_hours; i++) {
    if (pr_cal_spec_add_hours(spec, c->hours[i].wday, c->hours[i].open,
                              c->hours[i].close, err,
                              sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': hours: %s", c->name, err);
    }
  }
  for (size_t i = 0; i < c->n_holidays; i++) {
    if (pr_cal_spec_add_holiday(spec, c->holidays[i], err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': holidays: %s", c->name,
                    err);
    }
  }
  for (size_t i = 0; i < c->n_ics; i++) {
    /* Only a regular file that stays inside the folder once links are
    ** resolved, read without blocking. */
    if (pr_cal_spec_add_ics_in(spec, r->dir, c->ics[i], err, sizeof(err)) !=
        PROMPTLY_OK) {
      rules_problem(r, &c->site, "calendar '%s': ics: %s", c->name, err);
    }
  }
  if (pr_cal_compile(spec, &c->cal, err, sizeof(err)) != PROMPTLY_OK) {
    rules_problem(r, &c->site, "calendar '%s': %s", c->name, err);
    c->cal = NULL;
  }
  pr_cal_spec_free(spec);
}

void
compile_calendars(pr_rules *r)
{
  for (size_t i = 0; i < r->n_cals; i++) {
    compile_calendar(r, &r->cals[i]);
  }
}
