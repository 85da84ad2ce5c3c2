/* rules_index.c - the policies indexed by their conditions, so that the
** policies of a ticket are found without looking at the ones that cannot
** match.
**
** Each policy is filed once, under its first condition that C can check:
** - its first attribute condition (tier = "gold", customer = "acme", any
**   attribute of `attrs`): under each (attribute, folded value) it
**   accepts;
** - else its keywords: under each keyword id;
** - else (no condition, or only a `when` function) in the general list.
** A ticket's candidates are the general list, the policies filed under
** its own (attribute, value) pairs and under the keywords its subject and
** body hit.  A policy never filed under what the ticket has cannot match
** it (its filing condition fails), so the candidates hold every match;
** each candidate is then checked in full (match_holds, `when`), in
** declaration order.
**
** Invariant: the lists hold policy indices of the rule set, ascending
** within each list; the index is built once after compile_policies and
** only read afterwards.
*/

#include "config.h"

#include "rules_internal.h"
#include "promptly.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

typedef struct pidx_list {
  uint32_t *v;
  size_t n;
  size_t cap;
} pidx_list;

struct rules_pindex {
  pidx_list general;
  GHashTable *by_value;   /* "attr\x1fvalue" (owned) -> pidx_list * */
  char **attrs;           /* the attributes filed under, lower case */
  size_t n_attrs;
  uint32_t *word_off;     /* CSR by keyword id: [n_kw + 1] offsets */
  uint32_t *word_pol;
  size_t n_kw;
  int any_words;          /* some policy has keywords: scan the text */
};

static int
list_add(pidx_list *l, uint32_t p)
{
  if (l->n > 0 && l->v[l->n - 1] == p) {
    return 0; /* two values of one condition */
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 4;
    uint32_t *v = realloc(l->v, cap * sizeof(uint32_t));
    if (v == NULL) {
      return -1;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = p;
  return 0;
}

static void
list_free(gpointer l)
{
  if (l != NULL) {
    free(((pidx_list *)l)->v);
    free(l);
  }
}

void
rules_index_free(rules_pindex *x)
{
  if (x == NULL) {
    return;
  }
  free(x->general.v);
  if (x->by_value != NULL) {
    g_hash_table_destroy(x->by_value);
  }
  for (size_t i = 0; i < x->n_attrs; i++) {
    g_free(x->attrs[i]);
  }
  free(x->attrs);
  free(x->word_off);
  free(x->word_pol);
  free(x);
}

static char *
value_key(const char *attr_lower, const char *folded)
{
  return g_strconcat(attr_lower, "\x1f", folded, NULL);
}

static int
file_cond(rules_pindex *x, const rules_cond *c, uint32_t p)
{
  char *attr = g_ascii_strdown(c->attr, -1);
  size_t a = 0;
  while (a < x->n_attrs && strcmp(x->attrs[a], attr) != 0) {
    a++;
  }
  if (a == x->n_attrs) {
    char **v = realloc(x->attrs, (x->n_attrs + 1) * sizeof(char *));
    if (v == NULL) {
      g_free(attr);
      return -1;
    }
    x->attrs = v;
    x->attrs[x->n_attrs++] = g_strdup(attr);
  }
  for (size_t i = 0; i < c->n_values; i++) {
    char *key = value_key(attr, c->values[i]);
    pidx_list *l = g_hash_table_lookup(x->by_value, key);
    if (l == NULL) {
      l = calloc(1, sizeof(*l));
      if (l == NULL) {
        g_free(key);
        g_free(attr);
        return -1;
      }
      g_hash_table_insert(x->by_value, key, l);
    } else {
      g_free(key);
    }
    if (list_add(l, p) != 0) {
      g_free(attr);
      return -1;
    }
  }
  g_free(attr);
  return 0;
}

void
compile_policy_index(pr_rules *r)
{
  rules_index_free(r->pindex);
  r->pindex = NULL;
  rules_pindex *x = calloc(1, sizeof(*x));
  if (x == NULL) {
    rules_out_of_memory(r, NULL, "policy index");
    return;
  }
  x->by_value = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      list_free);
  x->n_kw = r->matcher != NULL ? pr_matcher_count(r->matcher) : 0;
  int bad = 0;
  /* Keywords: count, then fill (CSR). */
  size_t n_word_pol = 0;
  for (size_t p = 0; p < r->n_policies; p++) {
    const rules_match *m = &r->policies[p].m;
    if (m->n_conds == 0 && m->n_words > 0 && m->word_ids != NULL) {
      n_word_pol += m->n_words;
    }
    x->any_words |= m->n_words > 0;
  }
  if (n_word_pol > 0) {
    x->word_off = calloc(x->n_kw + 1, sizeof(uint32_t));
    x->word_pol = calloc(n_word_pol, sizeof(uint32_t));
    bad = x->word_off == NULL || x->word_pol == NULL;
  }
  for (size_t p = 0; !bad && n_word_pol > 0 && p < r->n_policies; p++) {
    const rules_match *m = &r->policies[p].m;
    if (m->n_conds == 0 && m->n_words > 0 && m->word_ids != NULL) {
      for (size_t w = 0; w < m->n_words; w++) {
        if (m->word_ids[w] < x->n_kw) {
          x->word_off[m->word_ids[w] + 1]++;
        }
      }
    }
  }
  for (size_t k = 0; !bad && n_word_pol > 0 && k < x->n_kw; k++) {
    x->word_off[k + 1] += x->word_off[k];
  }
  uint32_t *fill = NULL;
  if (!bad && n_word_pol > 0) {
    fill = calloc(x->n_kw + 1, sizeof(uint32_t));
    bad = fill == NULL;
  }
  for (size_t p = 0; !bad && p < r->n_policies; p++) {
    const rules_match *m = &r->policies[p].m;
    if (m->n_conds > 0) {
      bad = file_cond(x, &m->conds[0], (uint32_t)p) != 0;
    } else if (m->n_words > 0 && m->word_ids != NULL) {
      for (size_t w = 0; w < m->n_words; w++) {
        uint32_t k = m->word_ids[w];
        if (k < x->n_kw) {
          x->word_pol[x->word_off[k] + fill[k]++] = (uint32_t)p;
        }
      }
    } else {
      bad = list_add(&x->general, (uint32_t)p) != 0;
    }
  }
  free(fill);
  if (bad) {
    rules_index_free(x);
    rules_out_of_memory(r, NULL, "policy index");
    return;
  }
  r->pindex = x;
}

static int
cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int
cand_add(pidx_list *out, const uint32_t *v, size_t n)
{
  if (n == 0) {
    return 0; /* v may be NULL (an empty list) */
  }
  if (out->n + n > out->cap) {
    size_t cap = out->cap ? out->cap : 16;
    while (cap < out->n + n) {
      cap *= 2;
    }
    uint32_t *nv = realloc(out->v, cap * sizeof(uint32_t));
    if (nv == NULL) {
      return -1;
    }
    out->v = nv;
    out->cap = cap;
  }
  memcpy(out->v + out->n, v, n * sizeof(uint32_t));
  out->n += n;
  return 0;
}

int
rules_index_candidates(const pr_rules *r, const pr_kv *attrs, size_t n_attrs,
                       const uint64_t *hits, uint32_t **out, size_t *n)
{
  const rules_pindex *x = r->pindex;
  pidx_list c = {0};
  *out = NULL;
  *n = 0;
  if (x == NULL) {
    return PROMPTLY_OK;
  }
  int bad = cand_add(&c, x->general.v, x->general.n);
  for (size_t i = 0; !bad && x->n_attrs > 0 && i < n_attrs; i++) {
    if (attrs[i].name == NULL || attrs[i].value == NULL) {
      continue;
    }
    char *attr = g_ascii_strdown(attrs[i].name, -1);
    size_t a = 0;
    while (a < x->n_attrs && strcmp(x->attrs[a], attr) != 0) {
      a++;
    }
    if (a < x->n_attrs) {
      char *valid = g_utf8_make_valid(attrs[i].value, -1);
      char *f = fold_value(valid);
      g_free(valid);
      if (f != NULL) {
        char *key = value_key(attr, f);
        const pidx_list *l = g_hash_table_lookup(x->by_value, key);
        if (l != NULL) {
          bad = cand_add(&c, l->v, l->n);
        }
        g_free(key);
        g_free(f);
      }
    }
    g_free(attr);
  }
  if (!bad && hits != NULL && x->word_off != NULL) {
    for (size_t w = 0; !bad && w < PR_MATCHER_WORDS(x->n_kw); w++) {
      for (uint64_t bits = hits[w]; !bad && bits != 0; bits &= bits - 1) {
        size_t k = w * 64 + (size_t)__builtin_ctzll(bits);
        if (k < x->n_kw && x->word_off[k + 1] > x->word_off[k]) {
          bad = cand_add(&c, x->word_pol + x->word_off[k],
                         x->word_off[k + 1] - x->word_off[k]);
        }
      }
    }
  }
  if (bad) {
    free(c.v);
    return PROMPTLY_ENOMEM;
  }
  if (c.n > 1) {
    qsort(c.v, c.n, sizeof(uint32_t), cmp_u32);
    size_t j = 1;
    for (size_t i = 1; i < c.n; i++) {
      if (c.v[i] != c.v[j - 1]) {
        c.v[j++] = c.v[i];
      }
    }
    c.n = j;
  }
  *out = c.v;
  *n = c.n;
  return PROMPTLY_OK;
}

int
rules_index_has_words(const pr_rules *r)
{
  return r->pindex != NULL && r->pindex->any_words;
}
