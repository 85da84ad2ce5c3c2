/* rules_zones.c - calendars whose zone comes from the ticket:
**
**   calendar "customer-hours" {
**     hours = { mon_fri = { "09:00-17:00" } },
**     tz = from("customer_tz", "Europe/Berlin"),
**   }
**
** The calendar compiles at load in its fallback zone (Europe/Berlin): that
** is the calendar tickets without the attribute, or with a zone the tz
** database does not know, count in.  A ticket's zone is the attribute's
** value, named by an id of this rule set (pr_sla_pick.zone, 1..); each
** calendar compiles its variant for a zone the first time a clock asks
** (rules_zone_cal) and keeps it, so each distinct zone is compiled once
** per calendar and shared by every ticket in it.  An unknown zone gets id
** 0 (the fallback) and is logged once per zone, with the first ticket
** that named it.
**
** One attribute per folder: every from() must name the same attribute
** (a ticket has one zone).  Ids and variants live as long as the rules
** (loop thread only, like the calendars' own caches).
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

/* Ids fit pr_sla_pick.zone. */
#define ZONES_MAX 65535

int
rules_lua_from(lua_State *L)
{
  const char *attr = luaL_checkstring(L, 1);
  const char *fallback = luaL_checkstring(L, 2);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, attr);
  lua_setfield(L, -2, "from");
  lua_pushstring(L, fallback);
  lua_setfield(L, -2, "fallback");
  return 1;
}

void
collect_tz(lua_State *L, pr_rules *r, rules_cal *c, int val)
{
  if (lua_type(L, val) == LUA_TSTRING) {
    free(c->tz);
    if ((c->tz = pr_strdup(lua_tostring(L, val))) == NULL) {
      rules_out_of_memory(r, &c->site, "calendar");
    }
    return;
  }
  if (lua_type(L, val) == LUA_TTABLE &&
      raw_field(L, val, "from") == LUA_TSTRING &&
      raw_field(L, val, "fallback") == LUA_TSTRING) {
    const char *attr = lua_tostring(L, -2);
    const char *fallback = lua_tostring(L, -1);
    free(c->tz);
    free(c->tz_attr);
    c->tz = pr_strdup(fallback);
    c->tz_attr = pr_strdup(attr);
    if (c->tz == NULL || c->tz_attr == NULL) {
      rules_out_of_memory(r, &c->site, "calendar");
    } else if (attr[0] == '\0') {
      rules_problem(r, &c->site, "calendar '%s': tz: from() needs an "
                    "attribute name, as in tz = from(\"customer_tz\", "
                    "\"Europe/Berlin\")", c->name);
    }
    lua_pop(L, 2);
    return;
  }
  if (lua_type(L, val) == LUA_TTABLE) {
    lua_pop(L, 2);
  }
  rules_problem(r, &c->site, "calendar '%s': tz must be a zone name such as "
                "\"Europe/Berlin\", or from(\"attribute\", \"Europe/Berlin\")",
                c->name);
}

void
compile_zone_calendar(pr_rules *r, rules_cal *c)
{
  c->owner = r;
  if (r->zone_attr == NULL) {
    if ((r->zone_attr = pr_strdup(c->tz_attr)) == NULL) {
      rules_out_of_memory(r, &c->site, "calendar");
    }
    r->zone_site = c->site;
  } else if (g_ascii_strcasecmp(r->zone_attr, c->tz_attr) != 0) {
    rules_problem(r, &c->site, "calendar '%s': tz: from(\"%s\", ...): the "
                  "zone attribute is '%s' (at %s); a ticket has one zone",
                  c->name, c->tz_attr, r->zone_attr, r->zone_site.where);
  }
}

pr_calendar *
rules_zone_cal(void *ud, uint32_t zone)
{
  rules_cal *c = ud;
  pr_rules *r = c->owner;
  if (r == NULL || zone == 0 || zone > r->n_zones) {
    return NULL;
  }
  if (zone >= c->n_zcal) {
    size_t n = (size_t)zone + 16;
    pr_calendar **v = realloc(c->zcal, n * sizeof(*v));
    if (v == NULL) {
      return NULL; /* the fallback zone, rather than no SLA */
    }
    memset(v + c->n_zcal, 0, (n - c->n_zcal) * sizeof(*v));
    c->zcal = v;
    c->n_zcal = n;
  }
  if (c->zcal[zone] == NULL &&
      build_calendar(r, c, r->zone_names[zone - 1], 0, &c->zcal[zone]) !=
        PROMPTLY_OK) {
    c->zcal[zone] = NULL;
  }
  return c->zcal[zone];
}

uint16_t
rules_ticket_zone(pr_rules *r, int64_t ticket, const pr_kv *attrs,
                  size_t n_attrs)
{
  if (r->zone_attr == NULL) {
    return 0;
  }
  const char *name = NULL;
  for (size_t i = 0; i < n_attrs; i++) {
    if (attrs[i].name != NULL && attrs[i].value != NULL &&
        g_ascii_strcasecmp(attrs[i].name, r->zone_attr) == 0) {
      name = attrs[i].value;
    }
  }
  if (name == NULL || name[0] == '\0') {
    return 0;
  }
  if (r->zone_ids == NULL) {
    r->zone_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        NULL);
  }
  gpointer v;
  if (g_hash_table_lookup_extended(r->zone_ids, name, NULL, &v)) {
    return (uint16_t)GPOINTER_TO_UINT(v);
  }
  /* A new zone: known to the tz database? */
  char err[256];
  pr_cal_spec *probe = NULL;
  int known = g_utf8_validate(name, -1, NULL) && strlen(name) < 128 &&
              pr_cal_spec_new(name, &probe, err, sizeof(err)) == PROMPTLY_OK;
  pr_cal_spec_free(probe);
  uint16_t id = 0;
  if (known && r->n_zones < ZONES_MAX) {
    char **names = realloc(r->zone_names, (r->n_zones + 1) * sizeof(char *));
    char *copy = pr_strdup(name);
    if (names != NULL) {
      r->zone_names = names;
    }
    if (names == NULL || copy == NULL) {
      free(copy);
      return 0; /* out of memory: the fallback, asked again next time */
    }
    r->zone_names[r->n_zones++] = copy;
    id = (uint16_t)r->n_zones;
  } else if (r->opts.log != NULL) {
    char msg[512];
    char *whole = g_utf8_make_valid(name, -1);
    glong chars = g_utf8_strlen(whole, -1);
    char *valid = g_utf8_substring(whole, 0, chars < 64 ? chars : 64);
    g_free(whole);
    snprintf(msg, sizeof(msg), "ticket %lld: %s '%s' is %s: the "
             "calendars' own zones are used (reported once per zone)",
             (long long)ticket, r->zone_attr, valid,
             known ? "one zone too many" : "not a known time zone");
    g_free(valid);
    r->opts.log(r->opts.log_ud, PROMPTLY_LOG_WARN, msg);
  }
  g_hash_table_insert(r->zone_ids, g_strdup(name), GUINT_TO_POINTER(id));
  return id;
}

void
free_zone_cal(rules_cal *c)
{
  for (size_t i = 0; i < c->n_zcal; i++) {
    pr_calendar_free(c->zcal[i]);
  }
  free(c->zcal);
  free(c->tz_attr);
}

void
free_zones(pr_rules *r)
{
  if (r->zone_ids != NULL) {
    g_hash_table_destroy(r->zone_ids);
  }
  free_strs(r->zone_names, r->n_zones);
  free(r->zone_attr);
}
