/* matcher.h - one keyword matcher for all the keywords of a rule set.
**
** Aho-Corasick over case-folded UTF-8 (NFKC, then Unicode case folding,
** then NFC, all by GLib), so "Störung" matches "STÖRUNG" and "STRASSE"
** matches "Straße".  Whole words only: the characters right before and
** right after a match must not be word characters (letters, digits, marks
** and '_' by g_unichar_isalnum/ismark), so "down" matches neither
** "download" nor "sundown".  Inside a phrase any run of whitespace
** (spaces, tabs, newlines) matches any other, so "data loss" matches
** "Data\n  LOSS".  Invalid UTF-8 in a text reads as U+FFFD.
**
** Transitions are stored sparsely (sorted byte edges per state, a direct
** table at the root only), so memory grows with the total keyword length,
** not with 256 times the states.  One pass over a text reports every
** keyword found, as bits in a caller's bitset.
**
** Build: new, add..., compile; then scan any number of times.  A compiled
** matcher is read-only, so scans may run concurrently.  Errors are
** PROMPTLY_E* codes.
*/
#ifndef PR_MATCHER_H
#define PR_MATCHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct pr_matcher pr_matcher;

/* uint64_t words a hit bitset for n keywords needs. */
#define PR_MATCHER_WORDS(n) (((size_t)(n) + 63) / 64)

/* An empty matcher; ENOMEM. */
int pr_matcher_new(pr_matcher **out);
void pr_matcher_free(pr_matcher *m);

/* Add a keyword or phrase (UTF-8, copied).  *id is its id, 0, 1, 2, ... in
** order of first addition; a keyword equal to an earlier one once folded
** ("Down", "down ") gets the earlier id.  EINVAL with a message in err if
** it is not valid UTF-8 or is empty once whitespace is trimmed; ESTATE
** after pr_matcher_compile; ENOMEM. */
int pr_matcher_add(pr_matcher *m, const char *keyword, uint32_t *id,
                   char *err, size_t errlen);

/* Build the failure links; after this only scans.  OK or ENOMEM. */
int pr_matcher_compile(pr_matcher *m);

/* Distinct keywords added. */
size_t pr_matcher_count(const pr_matcher *m);

/* A keyword as folded for matching ("data loss"); NULL if id is unknown.
** Lives as long as m. */
const char *pr_matcher_keyword(const pr_matcher *m, uint32_t id);

/* Bytes held by the matcher (its structure, not malloc's overhead). */
size_t pr_matcher_memory(const pr_matcher *m);

/* Set bit id of hits (PR_MATCHER_WORDS(count) words, not cleared here) for
** every keyword found in text (len bytes, need not be NUL-terminated).
** *found (may be NULL) gets the number of whole-word matches.  OK; ESTATE
** if not compiled; ENOMEM. */
int pr_matcher_scan(const pr_matcher *m, const char *text, size_t len,
                    uint64_t *hits, size_t *found);

/* Every whole-word match in text (len bytes), for explanations: cb gets
** the keyword id and where the match stands in text itself, [start, end)
** in bytes, in order of the match's end.  The text is folded one
** character (with its combining marks) at a time, so that each folded
** byte maps back to the original; in the rare text where folding a whole
** string differs from that (compositions across characters), a match
** pr_matcher_scan reports may be missing here.  Invalid UTF-8 yields
** nothing.  OK; ESTATE if not compiled; ENOMEM. */
typedef void (*pr_matcher_each_fn)(void *ud, uint32_t id, size_t start,
                                   size_t end);
int pr_matcher_scan_each(const pr_matcher *m, const char *text, size_t len,
                         pr_matcher_each_fn cb, void *ud);

/* Whether bit id is set in a hit bitset. */
static inline int
pr_matcher_hit(const uint64_t *hits, uint32_t id)
{
  return (int)((hits[id / 64] >> (id % 64)) & 1);
}

#endif /* PR_MATCHER_H */
