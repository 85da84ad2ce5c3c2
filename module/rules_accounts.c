/* rules_accounts.c - accounts "attr" { ... }: per-account targets as a
** table, or as a CSV file in the rules folder.
**
**   accounts "customer" {
**     calendar = "business",             -- for every row, unless it says
**     file = "accounts.csv",             -- optional: more rows
**     { "acme",   first_response = "4h", resolution = { P1 = "8h" } },
**     { "globex", first_response = "2h", calendar = "24x7" },
**   }
**
** Each row is one policy, named after the account ("acme"), with one
** condition: the attribute (customer) equals the account,
** case-insensitively; its targets are those of a policy.  The rows become
** policies where the declaration stands, in row order (table rows first,
** then the file's), so they take part in the choice of policy like any
** other; a name taken by a policy is reported at the row.
**
** The CSV file: a header line whose first column is the attribute, then
** columns "calendar", a metric ("first_response") or a metric and a
** level ("first_response.P1"); one account a line; an empty cell gives
** nothing; lines that are empty or start with '#' are skipped; no quoted
** fields.  Its problems are reported as "file.csv:line".
**
** Invariant: everything a row needs is attached to its policy before the
** next Lua call (memory errors unwind from Lua calls).
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <lauxlib.h>
#include <lua.h>

/* A CSV file larger than this is refused. */
#define ACCOUNTS_FILE_MAX ((size_t)64 << 20)

void
free_accounts(pr_rules *r)
{
  for (size_t i = 0; i < r->n_accts; i++) {
    free(r->accts[i].attr);
    free(r->accts[i].calendar);
    free(r->accts[i].file);
  }
  free(r->accts);
}

long
open_accounts(lua_State *L, pr_rules *r, const rules_site *site,
              const char *attr)
{
  (void)L;
  if (attr[0] == '\0' || strlen(attr) > 64) {
    rules_problem(r, site, "accounts: the attribute needs 1 to 64 bytes, "
                  "as in accounts \"customer\" { ... }");
    return -1;
  }
  long i = push_elem((void **)&r->accts, &r->n_accts, sizeof(rules_accts));
  if (i < 0 || (r->accts[i].attr = pr_strdup(attr)) == NULL) {
    rules_out_of_memory(r, site, "accounts");
    return -1;
  }
  r->accts[i].site = *site;
  return i;
}

/* One policy for account value at site: its condition; NULL after a
** problem. */
static rules_policy *
account_policy(lua_State *L, pr_rules *r, const rules_site *site,
               const char *attr, const char *value, const char *calendar)
{
  char *f = fold_value(value);
  if (f == NULL) {
    rules_problem(r, site, "accounts '%s': '%s' is not valid UTF-8", attr,
                  value);
    return NULL;
  }
  long pi = open_policy(L, r, site, value);
  if (pi < 0) {
    g_free(f);
    return NULL;
  }
  rules_policy *p = &r->policies[pi];
  p->complete = 1;
  long ci = push_elem((void **)&p->m.conds, &p->m.n_conds, sizeof(rules_cond));
  if (ci < 0) {
    g_free(f);
    rules_out_of_memory(r, site, "accounts");
    return NULL;
  }
  rules_cond *c = &p->m.conds[ci];
  c->attr = pr_strdup(attr);
  c->values = calloc(1, sizeof(char *));
  if (c->attr == NULL || c->values == NULL) {
    g_free(f);
    rules_out_of_memory(r, site, "accounts");
    return NULL;
  }
  c->values[c->n_values++] = f;
  if (calendar != NULL && (p->calendar = pr_strdup(calendar)) == NULL) {
    rules_out_of_memory(r, site, "accounts");
    return NULL;
  }
  return p;
}

static void
add_text_target(pr_rules *r, rules_policy *p, const char *metric,
                const char *level, const char *text)
{
  long i = push_elem((void **)&p->targets, &p->n_targets,
                     sizeof(rules_target));
  if (i < 0) {
    rules_out_of_memory(r, &p->site, "accounts");
    return;
  }
  rules_target *t = &p->targets[i];
  t->metric = pr_strdup(metric);
  t->level = level != NULL ? pr_strdup(level) : NULL;
  t->text = pr_strdup(text);
  if (t->metric == NULL || t->text == NULL || (level && t->level == NULL)) {
    rules_out_of_memory(r, &p->site, "accounts");
  }
}

/* { "acme", first_response = "4h", ... } at idx. */
static void
table_row(lua_State *L, pr_rules *r, const rules_accts *a, size_t row,
          int idx, const char *calendar)
{
  char what[96];
  snprintf(what, sizeof(what), "accounts '%s': row %zu", a->attr, row);
  if (lua_type(L, idx) != LUA_TTABLE) {
    rules_problem(r, &a->site, "%s: a row is a table, as in { \"acme\", "
                  "first_response = \"4h\" }, not a %s",
                  what, luaL_typename(L, idx));
    return;
  }
  size_t len = (size_t)lua_rawlen(L, idx);
  lua_rawgeti(L, idx, 1);
  if (len != 1 || lua_type(L, -1) != LUA_TSTRING) {
    rules_problem(r, &a->site, "%s: the account comes first and alone, as "
                  "in { \"acme\", first_response = \"4h\" }", what);
    lua_pop(L, 1);
    return;
  }
  /* The row's named entries, without the account, for sorted_keys. */
  lua_newtable(L);
  int named = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, named);
    } else {
      lua_pop(L, 1);
    }
  }
  const char *cal = calendar;
  if (raw_field(L, named, "calendar") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      rules_problem(r, &a->site, "%s: calendar must be the name of a "
                    "calendar, not a %s", what, luaL_typename(L, -1));
    } else {
      cal = lua_tostring(L, -1);
    }
  }
  rules_policy *p = account_policy(L, r, &a->site, a->attr,
                                   lua_tostring(L, named - 1), cal);
  lua_pop(L, 1);
  if (p == NULL) {
    lua_settop(L, named - 2);
    return;
  }
  snprintf(what, sizeof(what), "policy '%s'", p->name);
  size_t n;
  const char **keys = sorted_keys(L, r, &a->site, what, named, &n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(keys[i], "calendar") == 0) {
      continue;
    }
    raw_field(L, named, keys[i]);
    int val = lua_gettop(L);
    collect_targets(L, r, p, what, keys[i], val);
    lua_settop(L, val - 1);
  }
  lua_settop(L, named - 2);
}

/* Split line (modified in place) at commas, trimming spaces; the number
** of fields, -1 if more than cap. */
static int
split_csv(char *line, char **fields, int cap)
{
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == cap) {
      return -1;
    }
    char *end = strchr(p, ',');
    if (end != NULL) {
      *end = '\0';
    }
    fields[n++] = g_strstrip(p);
    if (end == NULL) {
      return n;
    }
    p = end + 1;
  }
}

#define CSV_MAX_COLS 64

static void
csv_rows(lua_State *L, pr_rules *r, const rules_accts *a, const char *file,
         const char *calendar)
{
  if (file[0] == '\0' || strchr(file, '/') != NULL || file[0] == '.') {
    rules_problem(r, &a->site, "accounts '%s': file must name a file in "
                  "the rules folder, as in file = \"accounts.csv\" (no "
                  "'/', not starting with '.')", a->attr);
    return;
  }
  char *path = g_build_filename(r->dir, file, NULL);
  gchar *text = NULL;
  gsize len = 0;
  GError *gerr = NULL;
  if (!g_file_get_contents(path, &text, &len, &gerr)) {
    rules_problem(r, &a->site, "accounts '%s': %s", a->attr,
                  gerr != NULL ? gerr->message : path);
    g_clear_error(&gerr);
    g_free(path);
    return;
  }
  g_free(path);
  if (len > ACCOUNTS_FILE_MAX || memchr(text, '\0', len) != NULL) {
    rules_problem(r, &a->site, "accounts '%s': %s is %s", a->attr, file,
                  len > ACCOUNTS_FILE_MAX ? "larger than 64 MiB"
                                          : "not text (a NUL byte)");
    g_free(text);
    return;
  }
  char *head[CSV_MAX_COLS], *cell[CSV_MAX_COLS];
  char *metric[CSV_MAX_COLS], *level[CSV_MAX_COLS];
  int n_head = 0, cal_col = -1, bad_head = 0;
  memset(metric, 0, sizeof(metric));
  memset(level, 0, sizeof(level));
  size_t lineno = 0;
  char *save = NULL;
  for (char *line = text; line != NULL; line = save) {
    char *nl = strchr(line, '\n');
    save = nl != NULL ? nl + 1 : NULL;
    if (nl != NULL) {
      *nl = '\0';
    }
    lineno++;
    size_t ll = strlen(line);
    if (ll > 0 && line[ll - 1] == '\r') {
      line[--ll] = '\0';
    }
    char *t = line + strspn(line, " \t");
    if (*t == '\0' || *t == '#') {
      continue;
    }
    rules_site site;
    snprintf(site.where, sizeof(site.where), "%s:%zu", file, lineno);
    snprintf(site.file, sizeof(site.file), "%s", file);
    site.line = lineno < INT32_MAX ? (int)lineno : 0;
    if (strchr(line, '"') != NULL) {
      rules_problem(r, &site, "accounts '%s': quoted fields are not "
                    "supported (values are plain, separated by commas)",
                    a->attr);
      continue;
    }
    if (n_head == 0) {
      n_head = split_csv(line, head, CSV_MAX_COLS);
      if (n_head < 0 || g_ascii_strcasecmp(head[0], a->attr) != 0) {
        rules_problem(r, &site, "accounts '%s': the header starts with the "
                      "attribute '%s', then calendar, metrics or "
                      "metric.LEVEL columns (at most %d)",
                      a->attr, a->attr, CSV_MAX_COLS);
        bad_head = 1;
        break;
      }
      for (int c = 1; c < n_head; c++) {
        if (g_ascii_strcasecmp(head[c], "calendar") == 0) {
          cal_col = c;
          continue;
        }
        char *dot = strchr(head[c], '.');
        metric[c] = head[c];
        if (dot != NULL) {
          *dot = '\0';
          level[c] = dot + 1;
        }
        if (metric[c][0] == '\0' || (dot != NULL && level[c][0] == '\0')) {
          rules_problem(r, &site, "accounts '%s': column %d: empty name",
                        a->attr, c + 1);
          n_head = 0;
          break;
        }
      }
      if (bad_head) {
        break;
      }
      continue;
    }
    int n = split_csv(line, cell, CSV_MAX_COLS);
    if (n != n_head) {
      rules_problem(r, &site, "accounts '%s': %d fields, the header has %d",
                    a->attr, n < 0 ? CSV_MAX_COLS + 1 : n, n_head);
      continue;
    }
    if (cell[0][0] == '\0') {
      rules_problem(r, &site, "accounts '%s': no account in the first "
                    "field", a->attr);
      continue;
    }
    const char *cal = cal_col > 0 && cell[cal_col][0] ? cell[cal_col]
                                                      : calendar;
    rules_policy *p = account_policy(L, r, &site, a->attr, cell[0], cal);
    for (int c = 1; p != NULL && c < n; c++) {
      if (c != cal_col && cell[c][0] != '\0') {
        add_text_target(r, p, metric[c], level[c], cell[c]);
      }
    }
  }
  if (n_head == 0 && !bad_head) {
    rules_site site;
    snprintf(site.where, sizeof(site.where), "%s:1", file);
    snprintf(site.file, sizeof(site.file), "%s", file);
    site.line = 1;
    rules_problem(r, &site, "accounts '%s': no header line", a->attr);
  }
  g_free(text);
}

void
body_accounts(lua_State *L, pr_rules *r, long entry, int arg)
{
  rules_accts *a = &r->accts[entry];
  a->complete = 1;
  if (lua_type(L, arg) != LUA_TTABLE) {
    rules_problem(r, &a->site, "accounts '%s': expects a table, as in "
                  "accounts \"%s\" { { \"acme\", first_response = \"4h\" } }",
                  a->attr, a->attr);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    int val = lua_gettop(L);
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      int known = strcmp(k, "calendar") == 0 || strcmp(k, "file") == 0;
      char **slot = strcmp(k, "calendar") == 0 ? &a->calendar : &a->file;
      if (!known) {
        rules_problem(r, &a->site, "accounts '%s': unknown key '%s' "
                      "(known: calendar, file, and rows { \"account\", "
                      "metric = target, ... })", a->attr, k);
      } else if (lua_type(L, val) != LUA_TSTRING) {
        rules_problem(r, &a->site, "accounts '%s': %s must be a string, "
                      "not a %s", a->attr, k, luaL_typename(L, val));
      } else {
        free(*slot);
        if ((*slot = pr_strdup(lua_tostring(L, val))) == NULL) {
          rules_out_of_memory(r, &a->site, "accounts");
        }
      }
    }
    lua_settop(L, val - 1);
  }
  size_t rows = (size_t)lua_rawlen(L, arg);
  for (size_t i = 1; i <= rows; i++) {
    lua_rawgeti(L, arg, (lua_Integer)i);
    table_row(L, r, a, i, lua_gettop(L), a->calendar);
    lua_pop(L, 1);
  }
  if (a->file != NULL) {
    csv_rows(L, r, a, a->file, a->calendar);
  } else if (rows == 0) {
    rules_problem(r, &a->site, "accounts '%s': no rows (give rows { "
                  "\"acme\", first_response = \"4h\" } or file = "
                  "\"accounts.csv\")", a->attr);
  }
}

void
compile_accounts(pr_rules *r)
{
  for (size_t i = 0; i < r->n_accts; i++) {
    if (!r->accts[i].complete) {
      rules_problem(r, &r->accts[i].site,
                    "accounts '%s': no table follows the attribute, as in "
                    "accounts \"%s\" { ... }",
                    r->accts[i].attr, r->accts[i].attr);
    }
  }
}
