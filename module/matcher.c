/* matcher.c - Aho-Corasick over case-folded UTF-8, whole words only.
**
** While keywords are added the trie keeps its edges in linked lists (one
** pool); pr_matcher_compile turns them into one sorted edge array per state
** (bytes and targets in two parallel arrays, 5 bytes an edge), a 256-entry
** table for the root, failure links and "dictionary" links (the nearest
** state down the failure chain that ends a keyword), then frees the lists.
** State 0 is the root; a state ends at most one keyword, since equal folded
** keywords share an id.
*/
#include "config.h"

#include "matcher.h"
#include "promptly.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

typedef struct build_edge {
  uint32_t next;   /* next edge of the same state, 0 = none (edge 0 unused) */
  uint32_t target;
  uint8_t byte;
} build_edge;

typedef struct ac_state {
  uint32_t fail;
  uint32_t dict;   /* nearest state on the failure chain with a keyword */
  uint32_t first;  /* first edge in edge_byte/edge_target */
  uint32_t out;    /* keyword id + 1, or 0 */
  uint16_t n_edges;
} ac_state;

struct pr_matcher {
  int compiled;
  /* States: build time and compiled. */
  ac_state *states;
  uint32_t *build_head;   /* first build edge of each state, build time only */
  uint32_t n_states, cap_states;
  build_edge *build_edges;
  uint32_t n_build_edges, cap_build_edges;
  /* Compiled edges. */
  uint8_t *edge_byte;
  uint32_t *edge_target;
  uint32_t n_edges;
  uint32_t root[256];
  /* Keywords: folded text in one pool. */
  uint32_t *kw_off;
  uint32_t *kw_len;
  uint32_t n_kw, cap_kw;
  char *pool;
  size_t pool_len, pool_cap;
};


/* --- Folding -------------------------------------------------------------- */

static int
is_word_char(gunichar c)
{
  return g_unichar_isalnum(c) || g_unichar_ismark(c) || c == '_';
}


/* fold() for plain ASCII. */
static char *
fold_ascii(const char *s, size_t len, int trim, size_t *out_len)
{
  char *out = g_malloc(len + 1);
  char *w = out;
  int in_space = trim;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    /* Exactly the ASCII white space of g_unichar_isspace (not \v). */
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      if (!in_space) {
        *w++ = ' ';
      }
      in_space = 1;
    } else {
      *w++ = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      in_space = 0;
    }
  }
  if (trim && w > out && w[-1] == ' ') {
    w--;
  }
  *w = '\0';
  *out_len = (size_t)(w - out);
  return out;
}


/* Plain ASCII without NUL: NFKC leaves it as it is and case folding is
** tolower, so the common case skips GLib's Unicode passes. */
static int
is_plain_ascii(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)s[i] >= 0x80 || s[i] == '\0') {
      return 0;
    }
  }
  return 1;
}


/* Fold s for matching: valid UTF-8, NFKC, case folded, NFC, every run of
** whitespace one space; trimmed when trim is set.  g_free the result. */
static char *
fold(const char *s, size_t len, int trim, size_t *out_len)
{
  if (is_plain_ascii(s, len)) {
    return fold_ascii(s, len, trim, out_len);
  }
  char *valid = NULL;
  if (!g_utf8_validate_len(s, len, NULL)) {
    valid = g_utf8_make_valid(s, (gssize)len);
    s = valid;
    len = strlen(valid);
  }
  char *compat = g_utf8_normalize(s, (gssize)len, G_NORMALIZE_ALL);
  g_free(valid);
  if (compat == NULL) {
    return NULL;
  }
  char *folded = g_utf8_casefold(compat, -1);
  g_free(compat);
  char *nfc = g_utf8_normalize(folded, -1, G_NORMALIZE_DEFAULT_COMPOSE);
  g_free(folded);
  if (nfc == NULL) {
    return NULL;
  }
  /* Collapse whitespace in place: the result is never longer. */
  char *w = nfc;
  int in_space = trim;
  for (const char *p = nfc; *p != '\0';) {
    const char *next = g_utf8_next_char(p);
    if (g_unichar_isspace(g_utf8_get_char(p))) {
      if (!in_space) {
        *w++ = ' ';
      }
      in_space = 1;
    } else {
      memmove(w, p, (size_t)(next - p));
      w += next - p;
      in_space = 0;
    }
    p = next;
  }
  if (trim && w > nfc && w[-1] == ' ') {
    w--;
  }
  *w = '\0';
  *out_len = (size_t)(w - nfc);
  return nfc;
}


/* --- Building ------------------------------------------------------------- */

int
pr_matcher_new(pr_matcher **out)
{
  pr_matcher *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    return PROMPTLY_ENOMEM;
  }
  m->cap_states = 64;
  m->states = calloc(m->cap_states, sizeof(*m->states));
  m->build_head = calloc(m->cap_states, sizeof(*m->build_head));
  m->cap_build_edges = 64;
  m->build_edges = malloc(m->cap_build_edges * sizeof(*m->build_edges));
  if (m->states == NULL || m->build_head == NULL || m->build_edges == NULL) {
    pr_matcher_free(m);
    return PROMPTLY_ENOMEM;
  }
  m->n_states = 1;       /* the root */
  m->n_build_edges = 1;  /* edge 0 is the list terminator */
  *out = m;
  return PROMPTLY_OK;
}


void
pr_matcher_free(pr_matcher *m)
{
  if (m == NULL) {
    return;
  }
  free(m->states);
  free(m->build_head);
  free(m->build_edges);
  free(m->edge_byte);
  free(m->edge_target);
  free(m->kw_off);
  free(m->kw_len);
  free(m->pool);
  free(m);
}


static int
grow(void **p, uint32_t *cap, size_t size, uint32_t need)
{
  if (need <= *cap) {
    return PROMPTLY_OK;
  }
  uint32_t ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > UINT32_MAX / 2) {
      return PROMPTLY_ENOMEM;
    }
    ncap *= 2;
  }
  void *np = realloc(*p, (size_t)ncap * size);
  if (np == NULL) {
    return PROMPTLY_ENOMEM;
  }
  *p = np;
  *cap = ncap;
  return PROMPTLY_OK;
}


/* The child of state s on byte b, made if absent; 0 on ENOMEM (the root is
** never a child). */
static uint32_t
build_child(pr_matcher *m, uint32_t s, uint8_t b)
{
  for (uint32_t e = m->build_head[s]; e != 0; e = m->build_edges[e].next) {
    if (m->build_edges[e].byte == b) {
      return m->build_edges[e].target;
    }
  }
  uint32_t cap = m->cap_states;
  if (grow((void **)&m->states, &cap, sizeof(*m->states), m->n_states + 1) !=
      PROMPTLY_OK) {
    return 0;
  }
  uint32_t cap2 = m->cap_states;
  if (grow((void **)&m->build_head, &cap2, sizeof(*m->build_head),
           m->n_states + 1) != PROMPTLY_OK) {
    return 0;
  }
  /* Both arrays grow to the same capacity from the same one. */
  m->cap_states = cap < cap2 ? cap : cap2;
  if (grow((void **)&m->build_edges, &m->cap_build_edges,
           sizeof(*m->build_edges), m->n_build_edges + 1) != PROMPTLY_OK) {
    return 0;
  }
  uint32_t child = m->n_states++;
  memset(&m->states[child], 0, sizeof(m->states[child]));
  m->build_head[child] = 0;
  uint32_t e = m->n_build_edges++;
  m->build_edges[e].byte = b;
  m->build_edges[e].target = child;
  m->build_edges[e].next = m->build_head[s];
  m->build_head[s] = e;
  return child;
}


int
pr_matcher_add(pr_matcher *m, const char *keyword, uint32_t *id, char *err,
               size_t errlen)
{
  if (m->compiled) {
    return pr_err(err, errlen, PROMPTLY_ESTATE,
                  "keyword '%s': the matcher is already compiled", keyword);
  }
  size_t klen = strlen(keyword);
  if (!g_utf8_validate_len(keyword, klen, NULL)) {
    return pr_err(err, errlen, PROMPTLY_EINVAL,
                  "keyword '%s': not valid UTF-8", keyword);
  }
  size_t flen = 0;
  char *f = fold(keyword, klen, 1, &flen);
  if (f == NULL) {
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  if (flen == 0) {
    g_free(f);
    return pr_err(err, errlen, PROMPTLY_EINVAL, "empty keyword '%s'",
                  keyword);
  }
  uint32_t s = 0;
  for (size_t i = 0; i < flen; i++) {
    s = build_child(m, s, (uint8_t)f[i]);
    if (s == 0) {
      g_free(f);
      return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
    }
  }
  if (m->states[s].out != 0) {
    g_free(f);
    *id = m->states[s].out - 1;
    return PROMPTLY_OK;
  }
  uint32_t cap = m->cap_kw;
  int rc = grow((void **)&m->kw_off, &cap, sizeof(*m->kw_off), m->n_kw + 1);
  if (rc == PROMPTLY_OK) {
    uint32_t cap2 = m->cap_kw;
    rc = grow((void **)&m->kw_len, &cap2, sizeof(*m->kw_len), m->n_kw + 1);
    m->cap_kw = cap < cap2 ? cap : cap2;
  }
  if (rc == PROMPTLY_OK && m->pool_len + flen + 1 > m->pool_cap) {
    size_t ncap = m->pool_cap ? m->pool_cap : 256;
    while (ncap < m->pool_len + flen + 1) {
      ncap *= 2;
    }
    char *np = realloc(m->pool, ncap);
    if (np == NULL) {
      rc = PROMPTLY_ENOMEM;
    } else {
      m->pool = np;
      m->pool_cap = ncap;
    }
  }
  if (rc != PROMPTLY_OK || flen > UINT32_MAX || m->pool_len > UINT32_MAX) {
    g_free(f);
    return pr_err(err, errlen, PROMPTLY_ENOMEM, "out of memory");
  }
  memcpy(m->pool + m->pool_len, f, flen + 1);
  g_free(f);
  m->kw_off[m->n_kw] = (uint32_t)m->pool_len;
  m->kw_len[m->n_kw] = (uint32_t)flen;
  m->pool_len += flen + 1;
  *id = m->n_kw++;
  m->states[s].out = *id + 1;
  return PROMPTLY_OK;
}


/* --- Compiling ------------------------------------------------------------ */

static uint32_t
step(const pr_matcher *m, uint32_t s, uint8_t b)
{
  const ac_state *st = &m->states[s];
  const uint8_t *bytes = m->edge_byte + st->first;
  uint32_t lo = 0, hi = st->n_edges;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (bytes[mid] < b) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < st->n_edges && bytes[lo] == b) {
    return m->edge_target[st->first + lo];
  }
  return 0;
}


/* Where the automaton goes from state s on byte b. */
static uint32_t
advance(const pr_matcher *m, uint32_t s, uint8_t b)
{
  while (s != 0) {
    uint32_t t = step(m, s, b);
    if (t != 0) {
      return t;
    }
    s = m->states[s].fail;
  }
  return m->root[b];
}


int
pr_matcher_compile(pr_matcher *m)
{
  if (m->compiled) {
    return PROMPTLY_OK;
  }
  uint32_t n_edges = m->n_build_edges - 1;
  uint8_t *bytes = malloc(n_edges ? n_edges : 1);
  uint32_t *targets = malloc((n_edges ? n_edges : 1) * sizeof(*targets));
  uint32_t *queue = malloc(m->n_states * sizeof(*queue));
  if (bytes == NULL || targets == NULL || queue == NULL) {
    free(bytes);
    free(targets);
    free(queue);
    return PROMPTLY_ENOMEM;
  }
  /* Lay out each state's edges sorted by byte: a counting pass over the
  ** 256 byte values keeps it linear. */
  uint32_t at = 0;
  for (uint32_t s = 0; s < m->n_states; s++) {
    uint32_t child[256];
    uint16_t n = 0;
    memset(child, 0, sizeof(child));
    for (uint32_t e = m->build_head[s]; e != 0; e = m->build_edges[e].next) {
      child[m->build_edges[e].byte] = m->build_edges[e].target;
      n++;
    }
    m->states[s].first = at;
    m->states[s].n_edges = n;
    for (int b = 0; n > 0 && b < 256; b++) {
      if (child[b] != 0) {
        bytes[at] = (uint8_t)b;
        targets[at] = child[b];
        at++;
      }
    }
    if (s == 0) {
      memcpy(m->root, child, sizeof(m->root));
    }
  }
  m->edge_byte = bytes;
  m->edge_target = targets;
  m->n_edges = at;
  free(m->build_head);
  free(m->build_edges);
  m->build_head = NULL;
  m->build_edges = NULL;

  /* Failure links breadth first: a state's fail is where its parent's fail
  ** goes on the same byte. */
  uint32_t qh = 0, qt = 0;
  const ac_state *root = &m->states[0];
  for (uint32_t i = 0; i < root->n_edges; i++) {
    uint32_t c = targets[root->first + i];
    m->states[c].fail = 0;
    m->states[c].dict = 0;
    queue[qt++] = c;
  }
  while (qh < qt) {
    uint32_t s = queue[qh++];
    const ac_state *st = &m->states[s];
    for (uint32_t i = 0; i < st->n_edges; i++) {
      uint32_t c = targets[st->first + i];
      uint32_t f = advance(m, st->fail, bytes[st->first + i]);
      m->states[c].fail = f;
      m->states[c].dict = m->states[f].out != 0 ? f : m->states[f].dict;
      queue[qt++] = c;
    }
  }
  free(queue);
  /* Shrink the state array to its size. */
  ac_state *shrunk = realloc(m->states, m->n_states * sizeof(*m->states));
  if (shrunk != NULL) {
    m->states = shrunk;
    m->cap_states = m->n_states;
  }
  m->compiled = 1;
  return PROMPTLY_OK;
}


size_t
pr_matcher_count(const pr_matcher *m)
{
  return m->n_kw;
}


const char *
pr_matcher_keyword(const pr_matcher *m, uint32_t id)
{
  return id < m->n_kw ? m->pool + m->kw_off[id] : NULL;
}


size_t
pr_matcher_memory(const pr_matcher *m)
{
  size_t bytes = sizeof(*m);
  bytes += (size_t)m->cap_states * sizeof(*m->states);
  if (m->build_head != NULL) {
    bytes += (size_t)m->cap_states * sizeof(*m->build_head);
    bytes += (size_t)m->cap_build_edges * sizeof(*m->build_edges);
  }
  bytes += (size_t)m->n_edges * (sizeof(*m->edge_byte) +
                                 sizeof(*m->edge_target));
  bytes += (size_t)m->cap_kw * (sizeof(*m->kw_off) + sizeof(*m->kw_len));
  bytes += m->pool_cap;
  return bytes;
}


/* --- Scanning ------------------------------------------------------------- */

int
pr_matcher_scan(const pr_matcher *m, const char *text, size_t len,
                uint64_t *hits, size_t *found)
{
  if (!m->compiled) {
    return PROMPTLY_ESTATE;
  }
  if (found != NULL) {
    *found = 0;
  }
  if (m->n_kw == 0 || len == 0) {
    return PROMPTLY_OK;
  }
  size_t flen = 0;
  char *f = fold(text, len, 0, &flen);
  if (f == NULL) {
    return PROMPTLY_ENOMEM;
  }
  uint32_t s = 0;
  for (size_t i = 0; i < flen; i++) {
    s = advance(m, s, (uint8_t)f[i]);
    uint32_t o = m->states[s].out != 0 ? s : m->states[s].dict;
    for (; o != 0; o = m->states[o].dict) {
      uint32_t id = m->states[o].out - 1;
      size_t end = i + 1, start = end - m->kw_len[id];
      /* Both ends on a word boundary.  A match starts on a character
      ** boundary: a keyword starts with a lead byte. */
      if (start > 0 &&
          is_word_char(g_utf8_get_char(g_utf8_prev_char(f + start)))) {
        continue;
      }
      if (end < flen && is_word_char(g_utf8_get_char(f + end))) {
        continue;
      }
      hits[id / 64] |= (uint64_t)1 << (id % 64);
      if (found != NULL) {
        (*found)++;
      }
    }
  }
  g_free(f);
  return PROMPTLY_OK;
}


/* --- Matches with their places -------------------------------------------- */

int
pr_matcher_scan_each(const pr_matcher *m, const char *text, size_t len,
                     pr_matcher_each_fn cb, void *ud)
{
  if (!m->compiled) {
    return PROMPTLY_ESTATE;
  }
  if (m->n_kw == 0 || len == 0 || !g_utf8_validate_len(text, len, NULL)) {
    return PROMPTLY_OK;
  }
  /* The folded text, and for each of its bytes the original span of the
  ** character (with its marks) it came from. */
  size_t cap = len * 4 + 16, flen = 0;
  char *f = malloc(cap);
  size_t *from = malloc(cap * sizeof(size_t));
  size_t *to = malloc(cap * sizeof(size_t));
  int rc = f && from && to ? PROMPTLY_OK : PROMPTLY_ENOMEM;
  for (size_t i = 0; rc == PROMPTLY_OK && i < len;) {
    size_t j = (size_t)(g_utf8_next_char(text + i) - text);
    while (j < len && g_unichar_ismark(g_utf8_get_char(text + j))) {
      j = (size_t)(g_utf8_next_char(text + j) - text);
    }
    size_t n = 0;
    char *piece = fold(text + i, j - i, 0, &n);
    if (piece == NULL) {
      rc = PROMPTLY_ENOMEM;
      break;
    }
    if (n == 1 && piece[0] == ' ' && flen > 0 && f[flen - 1] == ' ') {
      to[flen - 1] = j;  /* a run of white space is one space */
      n = 0;
    }
    if (flen + n > cap) {
      size_t nc = (flen + n) * 2;
      char *nf = realloc(f, nc);
      if (nf != NULL) {
        f = nf;
      }
      size_t *nfr = nf ? realloc(from, nc * sizeof(size_t)) : NULL;
      if (nfr != NULL) {
        from = nfr;
      }
      size_t *nt = nfr ? realloc(to, nc * sizeof(size_t)) : NULL;
      if (nt == NULL) {
        g_free(piece);
        rc = PROMPTLY_ENOMEM;
        break;
      }
      to = nt;
      cap = nc;
    }
    for (size_t k = 0; k < n; k++) {
      f[flen] = piece[k];
      from[flen] = i;
      to[flen] = j;
      flen++;
    }
    g_free(piece);
    i = j;
  }
  uint32_t s = 0;
  for (size_t i = 0; rc == PROMPTLY_OK && i < flen; i++) {
    s = advance(m, s, (uint8_t)f[i]);
    uint32_t o = m->states[s].out != 0 ? s : m->states[s].dict;
    for (; o != 0; o = m->states[o].dict) {
      uint32_t id = m->states[o].out - 1;
      size_t end = i + 1, start = end - m->kw_len[id];
      /* The boundary rules of pr_matcher_scan, on the folded text. */
      if (start > 0 &&
          is_word_char(g_utf8_get_char(g_utf8_prev_char(f + start)))) {
        continue;
      }
      if (end < flen && is_word_char(g_utf8_get_char(f + end))) {
        continue;
      }
      cb(ud, id, from[start], to[end - 1]);
    }
  }
  free(f);
  free(from);
  free(to);
  return rc;
}
