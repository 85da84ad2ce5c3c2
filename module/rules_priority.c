/* rules_priority.c - priority levels, the default, and priority rules.
**
** levels { ... }, default_priority "P3" and priority { "P1", words = ...,
** <attr> = ..., when = fn }: collected at the caller's file:line, compiled
** after every file ran.  Conditions (rules_match: words, attribute values,
** a when function) are shared with policies.  All keywords of the set go
** into one matcher, so one scan of subject and body serves every rule.
** Attribute values are case-folded once, at collect time.
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

/* --- levels { ... } ------------------------------------------------------ */

static int
add_level(pr_rules *r, const char *id, const char *name)
{
  long i = push_elem((void **)&r->levels, &r->n_levels, sizeof(rules_level));
  if (i < 0) {
    return PROMPTLY_ENOMEM;
  }
  r->levels[i].id = pr_strdup(id);
  r->levels[i].name = name != NULL ? pr_strdup(name) : NULL;
  if (r->levels[i].id == NULL || (name != NULL && r->levels[i].name == NULL)) {
    return PROMPTLY_ENOMEM;
  }
  return PROMPTLY_OK;
}

void
free_levels(pr_rules *r)
{
  for (size_t i = 0; i < r->n_levels; i++) {
    free(r->levels[i].id);
    free(r->levels[i].name);
  }
  free(r->levels);
  r->levels = NULL;
  r->n_levels = 0;
}

void
collect_levels(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  size_t n;
  if (r->levels_declared) {
    rules_problem(r, site, "levels: already declared at %s",
                  r->levels_site.where);
    return;
  }
  r->levels_declared = 1;
  r->levels_site = *site;
  if (lua_type(L, arg) != LUA_TTABLE || !is_list(L, arg, &n) || n == 0) {
    rules_problem(r, site,
                  "levels: expects a non-empty list, as in "
                  "levels { \"P1\", \"P2\" } or levels { {\"P1\", "
                  "\"Urgent\"}, ... }");
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    const char *id = NULL, *name = NULL;
    size_t m = 0;
    lua_rawgeti(L, arg, (lua_Integer)i);
    if (lua_type(L, -1) == LUA_TSTRING) {
      id = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TTABLE && is_list(L, -1, &m) &&
               m == 2) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        id = lua_tostring(L, -2);
        name = lua_tostring(L, -1);
      }
    }
    if (id == NULL || id[0] == '\0' || (name != NULL && name[0] == '\0')) {
      rules_problem(r, site,
                    "levels: entry %zu must be an id \"P1\" or a pair "
                    "{\"P1\", \"Urgent\"}",
                    i);
    } else {
      for (size_t j = 0; j < r->n_levels; j++) {
        const rules_level *l = &r->levels[j];
        if (equal_folded(l->id, id) ||
            (l->name != NULL && equal_folded(l->name, id)) ||
            (name != NULL && (equal_folded(l->id, name) ||
                              (l->name != NULL &&
                               equal_folded(l->name, name))))) {
          rules_problem(r, site, "levels: '%s' is given twice", id);
          id = NULL;
          break;
        }
      }
      if (id != NULL && add_level(r, id, name) != PROMPTLY_OK) {
        rules_out_of_memory(r, site, "levels");
      }
    }
    lua_settop(L, arg);
  }
}

void
compile_levels(pr_rules *r)
{
  static const char *const defaults[][2] = {
    {"P1", "Urgent"}, {"P2", "High"}, {"P3", "Normal"}, {"P4", "Low"},
  };
  if (!r->levels_declared) {
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
      if (add_level(r, defaults[i][0], defaults[i][1]) != PROMPTLY_OK) {
        rules_out_of_memory(r, NULL, "levels");
        return;
      }
    }
  }
  if (r->n_levels == 0) {
    return; /* reported at the declaration */
  }
  if (r->default_text == NULL) {
    r->default_level = r->n_levels >= 3 ? 2 : r->n_levels - 1;
    return;
  }
  int i = pr_rules_level_find(r, r->default_text);
  if (i < 0) {
    rules_problem(r, &r->default_site, "default_priority: unknown level '%s'",
                  r->default_text);
    return;
  }
  r->default_level = (size_t)i;
}

/* --- default_priority "P3" ------------------------------------------------ */

void
collect_default(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  if (r->default_text != NULL) {
    rules_problem(r, site, "default_priority: already declared at %s",
                  r->default_site.where);
    return;
  }
  if (lua_type(L, arg) != LUA_TSTRING) {
    rules_problem(r, site,
                  "default_priority: expects a level, as in "
                  "default_priority \"P3\"");
    return;
  }
  r->default_site = *site;
  r->default_text = pr_strdup(lua_tostring(L, arg));
  if (r->default_text == NULL) {
    rules_out_of_memory(r, site, "default_priority");
  }
}

/* --- Conditions: priority rules and policies ------------------------------ */

static const char *const match_attr_keys[] = {
  "tier", "type", "channel", "queue", "status", NULL
};

static void
free_cond(rules_cond *c)
{
  free(c->attr);
  for (size_t i = 0; i < c->n_values; i++) {
    g_free(c->values[i]);
  }
  free(c->values);
}

void
free_match(rules_match *m)
{
  free_strs(m->words, m->n_words);
  free(m->word_ids);
  free(m->word_sorted);
  for (size_t c = 0; c < m->n_conds; c++) {
    free_cond(&m->conds[c]);
  }
  free(m->conds);
}

/* Add a condition to m: attribute attr equals the string at idx or one of
** the list at idx.  what names the declaration in messages. */
void
collect_cond(lua_State *L, pr_rules *r, const rules_site *site,
             const char *what, rules_match *m, const char *attr, int idx)
{
  char buf[64];
  size_t n = 1;
  int list = lua_type(L, idx) == LUA_TTABLE;

  if (list && (!is_list(L, idx, &n) || n == 0)) {
    rules_problem(r, site, "%s: '%s' must be a string or a non-empty "
                  "list of strings", what, attr);
    return;
  }
  if (!list && value_text(L, idx, buf, sizeof(buf)) == NULL) {
    rules_problem(r, site,
                  "%s: '%s' must be a string or a list of strings, "
                  "not a %s",
                  what, attr, luaL_typename(L, idx));
    return;
  }
  long ci = push_elem((void **)&m->conds, &m->n_conds, sizeof(rules_cond));
  if (ci < 0) {
    rules_out_of_memory(r, site, what);
    return;
  }
  rules_cond *c = &m->conds[ci];
  c->attr = pr_strdup(attr);
  c->values = calloc(n, sizeof(char *));
  if (c->attr == NULL || c->values == NULL) {
    rules_out_of_memory(r, site, what);
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    if (list) {
      lua_rawgeti(L, idx, (lua_Integer)i);
    } else {
      lua_pushvalue(L, idx);
    }
    const char *v = value_text(L, -1, buf, sizeof(buf));
    char *f = v != NULL ? fold_value(v) : NULL;
    if (v == NULL) {
      rules_problem(r, site, "%s: '%s' entry %zu is a %s, not a string",
                    what, attr, i, luaL_typename(L, -1));
    } else if (f == NULL) {
      rules_problem(r, site, "%s: '%s' value is not valid UTF-8", what,
                    attr);
    } else {
      c->values[c->n_values++] = f;
    }
    lua_pop(L, 1);
  }
}

static void
collect_words(lua_State *L, pr_rules *r, const rules_site *site,
              const char *what, rules_match *m, int idx)
{
  size_t n;
  if (lua_type(L, idx) != LUA_TTABLE || !is_list(L, idx, &n) || n == 0) {
    rules_problem(r, site,
                  "%s: 'words' must be a non-empty list of strings, "
                  "as in words = { \"outage\", \"data loss\" }",
                  what);
    return;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    const char *w = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                   : NULL;
    if (w == NULL) {
      rules_problem(r, site, "%s: 'words' entry %zu is a %s, not a "
                    "string", what, i, luaL_typename(L, -1));
    } else if (strspn(w, " \t\r\n") == strlen(w)) {
      rules_problem(r, site, "%s: 'words' entry %zu is empty", what, i);
    } else if (lua_rawlen(L, -1) > PR_RULES_WORD_MAX) {
      /* Once per declaration: the keyword matcher holds every keyword. */
      rules_problem(r, site, "%s: 'words' entry %zu is longer than %d "
                    "bytes", what, i, PR_RULES_WORD_MAX);
      lua_pop(L, 1);
      return;
    } else if (push_str(&m->words, &m->n_words, w) != PROMPTLY_OK) {
      rules_out_of_memory(r, site, what);
    }
    lua_pop(L, 1);
  }
}

/* attrs = { name = value, ... } (also the table form of `when`). */
static void
collect_attr_table(lua_State *L, pr_rules *r, const rules_site *site,
                   const char *what, rules_match *m, const char *key, int val)
{
  int any = 0;
  lua_pushnil(L);
  while (lua_next(L, val) != 0) {
    any = 1;
    if (lua_type(L, -2) != LUA_TSTRING) {
      rules_problem(r, site, "%s: '%s' keys must be attribute names", what,
                    key);
    } else {
      collect_cond(L, r, site, what, m, lua_tostring(L, -2),
                   lua_gettop(L));
    }
    lua_pop(L, 1);
  }
  if (!any) {
    rules_problem(r, site, "%s: '%s' is empty", what, key);
  }
}

/* If key names a condition (words, tier, type, channel, queue, status,
** attrs, when), collect the value at val into m and return 1; else 0. */
int
collect_match_key(lua_State *L, pr_rules *r, const rules_site *site,
                  const char *what, rules_match *m, const char *key, int val)
{
  if (strcmp(key, "words") == 0) {
    collect_words(L, r, site, what, m, val);
  } else if (strcmp(key, "when") == 0) {
    if (lua_type(L, val) == LUA_TFUNCTION) {
      lua_pushvalue(L, val);
      m->when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (lua_type(L, val) == LUA_TTABLE) {
      collect_attr_table(L, r, site, what, m, key, val);
    } else {
      rules_problem(r, site, "%s: 'when' must be a function, or a table "
                    "of attribute = value, not a %s",
                    what, luaL_typename(L, val));
    }
  } else if (strcmp(key, "attrs") == 0) {
    if (lua_type(L, val) != LUA_TTABLE) {
      rules_problem(r, site, "%s: 'attrs' must be a table of "
                    "attribute = value, not a %s",
                    what, luaL_typename(L, val));
    } else {
      collect_attr_table(L, r, site, what, m, key, val);
    }
  } else {
    const char *const *k = match_attr_keys;
    while (*k != NULL && strcmp(key, *k) != 0) {
      k++;
    }
    if (*k == NULL) {
      return 0;
    }
    collect_cond(L, r, site, what, m, key, val);
  }
  return 1;
}

static int
cmp_word_id(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Put the keywords of m into the one matcher of the rule set. */
void
match_add_words(pr_rules *r, const rules_site *site, const char *what,
                rules_match *m)
{
  char err[256];
  if (m->n_words == 0) {
    return;
  }
  if (r->matcher == NULL && pr_matcher_new(&r->matcher) != PROMPTLY_OK) {
    r->matcher = NULL;
    rules_out_of_memory(r, NULL, "keywords");
    return;
  }
  m->word_ids = calloc(m->n_words, sizeof(uint32_t));
  if (m->word_ids == NULL) {
    rules_out_of_memory(r, site, what);
    return;
  }
  for (size_t w = 0; w < m->n_words; w++) {
    if (pr_matcher_add(r->matcher, m->words[w], &m->word_ids[w], err,
                       sizeof(err)) != PROMPTLY_OK) {
      rules_problem(r, site, "%s: %s", what, err);
    }
  }
  /* A sorted copy, so that a verdict can look its few hits up in it;
  ** without memory, verdicts walk word_ids instead. */
  m->word_sorted = malloc(m->n_words * sizeof(uint32_t));
  if (m->word_sorted != NULL) {
    memcpy(m->word_sorted, m->word_ids, m->n_words * sizeof(uint32_t));
    qsort(m->word_sorted, m->n_words, sizeof(uint32_t), cmp_word_id);
  }
}

/* After priorities and policies added theirs: one matcher for all. */
void
compile_keywords(pr_rules *r)
{
  if (r->matcher == NULL && pr_matcher_new(&r->matcher) != PROMPTLY_OK) {
    r->matcher = NULL;
    rules_out_of_memory(r, NULL, "keywords");
    return;
  }
  if (pr_matcher_compile(r->matcher) != PROMPTLY_OK) {
    rules_out_of_memory(r, NULL, "keywords");
  }
}

/* --- priority { "P1", ... } ----------------------------------------------- */

void
collect_priority(lua_State *L, pr_rules *r, const rules_site *site, int arg)
{
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, site,
                  "priority: expects a table, as in "
                  "priority { \"P1\", words = { \"outage\" } }");
    return;
  }
  long pi = push_elem((void **)&r->prios, &r->n_prios, sizeof(rules_prio));
  if (pi < 0) {
    rules_out_of_memory(r, site, "priority");
    return;
  }
  r->prios[pi].site = *site;
  r->prios[pi].m.when_ref = LUA_NOREF;
  rules_match *m = &r->prios[pi].m;
  int conditions = 0;

  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    int val = lua_gettop(L);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1) {
      if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, site, "priority: the level must be a string such "
                      "as \"P1\", not a %s", luaL_typename(L, val));
      } else {
        r->prios[pi].level_text = pr_strdup(lua_tostring(L, val));
        if (r->prios[pi].level_text == NULL) {
          rules_out_of_memory(r, site, "priority");
        }
      }
    } else if (key == NULL) {
      rules_problem(r, site,
                    "priority: unexpected %s key (only the level comes "
                    "without a name)",
                    luaL_typename(L, -2));
    } else if (collect_match_key(L, r, site, "priority", m, key, val)) {
      conditions++;
    } else {
      rules_problem(r, site,
                    "priority: unknown key '%s' (known: words, tier, "
                    "type, channel, queue, status, attrs, when)",
                    key);
    }
    lua_settop(L, val - 1);
  }
  if (r->prios[pi].level_text == NULL && lua_rawlen(L, arg) == 0) {
    rules_problem(r, site, "priority: the level comes first, as in "
                  "priority { \"P1\", ... }");
  }
  if (conditions == 0) {
    rules_problem(r, site,
                  "priority: no condition (give words, tier, type, channel, "
                  "queue, status, attrs or when; default_priority sets the "
                  "level of tickets no rule matches)");
  }
}

void
compile_priorities(pr_rules *r)
{
  for (size_t i = 0; i < r->n_prios; i++) {
    rules_prio *p = &r->prios[i];
    if (p->level_text != NULL && r->n_levels > 0) {
      int level = pr_rules_level_find(r, p->level_text);
      if (level < 0) {
        rules_problem(r, &p->site, "priority: unknown level '%s'",
                      p->level_text);
      } else {
        p->level = (size_t)level;
      }
    }
    if (p->m.n_words > 0) {
      r->n_word_rules++;
    }
    match_add_words(r, &p->site, "priority", &p->m);
  }
}
