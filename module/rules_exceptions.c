/* rules_exceptions.c - exception "name" { extend = "4h" | exclude =
** true, metrics, attr, ... }: approved changes to a ticket's targets,
** applied while the ticket's attribute (sla_exception by default) names
** one.
**
** Names are unique (a second declaration is a problem naming the
** first's file:line); extend and exclude exclude each other, metrics go
** with extend only.  Compiled into the pr_sla_set after the pauses, each
** problem at the exception's file:line.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

/* --- exception "name" { extend = "4h" | exclude = true, ... } -------------- */

void
free_exc(rules_exc *e)
{
  free(e->name);
  free_strs(e->metrics, e->n_metrics);
  free(e->reason);
  free(e->attr);
  free(e->reason_attr);
}

long
open_exception(lua_State *L, pr_rules *r, const rules_site *site,
               const char *name)
{
  (void)L;
  if (name[0] == '\0' || strlen(name) >= PR_SLA_NAME_MAX) {
    rules_problem(r, site, "exception: a name needs 1 to %d bytes",
                  PR_SLA_NAME_MAX - 1);
    return -1;
  }
  for (size_t i = 0; i < r->n_excs; i++) {
    if (equal_folded(r->excs[i].name, name)) {
      rules_problem(r, site, "exception '%s': already declared at %s", name,
                    r->excs[i].site.where);
      return -1;
    }
  }
  long i = push_elem((void **)&r->excs, &r->n_excs, sizeof(rules_exc));
  if (i < 0) {
    rules_out_of_memory(r, site, "exception");
    return -1;
  }
  r->excs[i].site = *site;
  r->excs[i].kind = -1;
  if ((r->excs[i].name = pr_strdup(name)) == NULL) {
    rules_out_of_memory(r, site, "exception");
    return -1;
  }
  return i;
}

void
body_exception(lua_State *L, pr_rules *r, long ei, int arg)
{
  static const char *const keys_known[] = {
    "extend", "exclude", "metrics", "reason", "attr", NULL
  };
  rules_exc *e = &r->excs[ei];
  char what[96];
  snprintf(what, sizeof(what), "exception '%s'", e->name);
  e->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &e->site, "%s: expects a table, as in exception \"%s\" "
                  "{ extend = \"4h\", reason = \"...\" }", what, e->name);
    return;
  }
  size_t n;
  const char **keys = sorted_keys(L, r, &e->site, what, arg, &n);
  for (size_t i = 0; i < n; i++) {
    if (!in_list(keys_known, keys[i])) {
      rules_problem(r, &e->site, "%s: unknown key '%s' (known: extend, "
                    "exclude, metrics, reason, attr)", what, keys[i]);
    }
  }
  lua_pop(L, 1);
  int extend = raw_field(L, arg, "extend") != LUA_TNIL;
  if (extend) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &e->site, "%s: extend must be a duration such as "
                    "\"4h\"", what);
    } else if (duration_or_problem(r, &e->site, what, "extend",
                                   lua_tostring(L, -1), 0,
                                   &e->extend_ms) == 0) {
      e->kind = PR_SLA_EXC_EXTEND;
    }
  }
  lua_pop(L, 1);
  int exclude = raw_field(L, arg, "exclude");
  if (exclude != LUA_TNIL && (exclude != LUA_TBOOLEAN ||
                              !lua_toboolean(L, -1))) {
    rules_problem(r, &e->site, "%s: exclude can only be true", what);
  } else if (exclude != LUA_TNIL) {
    e->kind = PR_SLA_EXC_EXCLUDE;
  }
  lua_pop(L, 1);
  if (extend && exclude != LUA_TNIL) {
    rules_problem(r, &e->site, "%s: give extend or exclude, not both", what);
  } else if (!extend && exclude == LUA_TNIL) {
    rules_problem(r, &e->site, "%s: give extend = \"4h\" (more time) or "
                  "exclude = true (no SLA)", what);
  }
  if (raw_field(L, arg, "metrics") != LUA_TNIL) {
    if (exclude != LUA_TNIL) {
      rules_problem(r, &e->site, "%s: metrics go with extend only (exclude "
                    "stops every clock)", what);
    } else {
      rules_strs st = {&e->metrics, &e->n_metrics, what};
      each_string(L, r, &e->site, what, "metrics", -1, add_name, &st);
    }
  }
  lua_pop(L, 1);
  static const char *const str_keys[] = {"reason", "attr"};
  char **dst[] = {&e->reason, &e->attr};
  for (size_t k = 0; k < 2; k++) {
    if (raw_field(L, arg, str_keys[k]) != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0') {
        rules_problem(r, &e->site, "%s: %s must be a non-empty string",
                      what, str_keys[k]);
      } else if ((*dst[k] = pr_strdup(lua_tostring(L, -1))) == NULL) {
        rules_out_of_memory(r, &e->site, what);
      }
    }
    lua_pop(L, 1);
  }
}

void
compile_exceptions(pr_rules *r)
{
  char err[512];
  for (size_t i = 0; i < r->n_excs; i++) {
    rules_exc *e = &r->excs[i];
    char what[96];
    snprintf(what, sizeof(what), "exception '%s'", e->name);
    if (!e->complete) {
      rules_problem(r, &e->site, "%s: no table follows the name, as in "
                    "exception \"%s\" { extend = \"4h\" }", what, e->name);
      continue;
    }
    const char *attr = e->attr != NULL ? e->attr : "sla_exception";
    size_t len = strlen(attr) + sizeof("_reason");
    if ((e->reason_attr = malloc(len)) == NULL) {
      rules_out_of_memory(r, &e->site, what);
      continue;
    }
    snprintf(e->reason_attr, len, "%s_reason", attr);
    if (r->sla == NULL || e->kind < 0) {
      continue;
    }
    uint32_t mask = metric_mask(r, &e->site, what, e->metrics, e->n_metrics);
    if (pr_sla_set_add_exception(r->sla, e->name, e->reason, e->kind,
                                 e->extend_ms, mask, NULL, err,
                                 sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, &e->site, "%s: %s", what, err);
    }
  }
}

/* After every row: the set is complete. */
