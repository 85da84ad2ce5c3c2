/* test_matcher.c - the matcher unit: folding, whole words, phrases, UTF-8. */
#include "config.h"

#include "cmocka_all.h"

#include "matcher.h"
#include "promptly.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A compiled matcher over a NULL-terminated keyword list. */
static pr_matcher *
make(const char *const *words)
{
  pr_matcher *m = NULL;
  char err[256];
  assert_int_equal(pr_matcher_new(&m), PROMPTLY_OK);
  for (const char *const *w = words; *w != NULL; w++) {
    uint32_t id;
    assert_int_equal(pr_matcher_add(m, *w, &id, err, sizeof(err)),
                     PROMPTLY_OK);
  }
  assert_int_equal(pr_matcher_compile(m), PROMPTLY_OK);
  return m;
}


/* The hits of text as a string of 0/1, one per keyword. */
static const char *
hits_of(const pr_matcher *m, const char *text)
{
  static char out[600];
  uint64_t hits[16];
  memset(hits, 0, sizeof(hits));
  assert_true(PR_MATCHER_WORDS(pr_matcher_count(m)) <= 16);
  assert_int_equal(pr_matcher_scan(m, text, strlen(text), hits, NULL),
                   PROMPTLY_OK);
  size_t n = pr_matcher_count(m);
  for (size_t i = 0; i < n; i++) {
    out[i] = pr_matcher_hit(hits, (uint32_t)i) ? '1' : '0';
  }
  out[n] = '\0';
  return out;
}


static void
test_matcher_ignores_case(void **state)
{
  (void)state;
  const char *const words[] = {"outage", "Data Loss", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "Major OUTAGE in DATA LOSS"), "11");
  assert_string_equal(hits_of(m, "OuTaGe"), "10");
  assert_string_equal(hits_of(m, "nothing here"), "00");
  pr_matcher_free(m);
}


static void
test_matcher_whole_words_only(void **state)
{
  (void)state;
  const char *const words[] = {"down", "error", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "please download the file"), "00");
  assert_string_equal(hits_of(m, "at sundown"), "00");
  assert_string_equal(hits_of(m, "downtime"), "00");
  assert_string_equal(hits_of(m, "errors everywhere"), "00");
  assert_string_equal(hits_of(m, "down_time"), "00");
  assert_string_equal(hits_of(m, "down"), "10");
  assert_string_equal(hits_of(m, "site is down!"), "10");
  assert_string_equal(hits_of(m, "(down) error."), "11");
  assert_string_equal(hits_of(m, "error:down"), "11");
  /* A later whole-word occurrence still counts after a partial one. */
  assert_string_equal(hits_of(m, "sundown, now down"), "10");
  pr_matcher_free(m);
}


static void
test_matcher_phrases_span_whitespace(void **state)
{
  (void)state;
  const char *const words[] = {"data loss", "cannot  log in", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "we have data\n\t  loss"), "10");
  assert_string_equal(hits_of(m, "I CANNOT\r\nLOG   IN since monday"), "01");
  assert_string_equal(hits_of(m, "dataloss"), "00");
  assert_string_equal(hits_of(m, "data-loss"), "00");
  assert_string_equal(hits_of(m, "big data lossy"), "00");
  assert_string_equal(hits_of(m, "cannot log into"), "00");
  /* Unicode spaces count as whitespace too (no-break space). */
  assert_string_equal(hits_of(m, "data\xc2\xa0loss"), "10");
  pr_matcher_free(m);
}


static void
test_matcher_utf8_case_folding(void **state)
{
  (void)state;
  const char *const words[] = {"Störung", "échec", "straße", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "STÖRUNG im Netz"), "100");
  assert_string_equal(hits_of(m, "ÉCHEC de connexion"), "010");
  /* Decomposed input (o + combining diaeresis) matches too. */
  assert_string_equal(hits_of(m, "Sto\xcc\x88rung"), "100");
  assert_string_equal(hits_of(m, "STRASSE gesperrt"), "001");
  /* Letters with diacritics are word characters. */
  assert_string_equal(hits_of(m, "Störungen"), "000");
  assert_string_equal(hits_of(m, "xéchec"), "000");
  pr_matcher_free(m);
}


/* Plain ASCII text takes a fast path; the same words with one non-ASCII
** letter elsewhere take GLib's Unicode path.  Both must agree. */
static void
test_matcher_ascii_path_agrees_with_unicode_path(void **state)
{
  (void)state;
  pr_matcher *m = make((const char *const[]){"server down", "cannot log in",
                                           "error", NULL});
  static const char *texts[] = {
    "SERVER\t\r\n  DOWN since 9", "we Cannot\fLog\vIn", "no errors",
    "Error!", "serverdown", "  error  ",
  };
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    char ascii[64], unicode[80];
    snprintf(unicode, sizeof(unicode), "%s \xc3\xa9", texts[i]);
    snprintf(ascii, sizeof(ascii), "%s", hits_of(m, texts[i]));
    assert_string_equal(ascii, hits_of(m, unicode));
  }
  assert_string_equal(hits_of(m, "SERVER\t\r\n  DOWN since 9"), "100");
  /* \v is no white space to GLib: "log\vin" is one word. */
  assert_string_equal(hits_of(m, "we Cannot\fLog\vIn"), "000");
  assert_string_equal(hits_of(m, "we Cannot\fLog In"), "010");
  assert_string_equal(hits_of(m, "no errors"), "000");
  pr_matcher_free(m);
}


static void
test_matcher_invalid_utf8_is_safe(void **state)
{
  (void)state;
  const char *const words[] = {"down", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "\xff\xfe down \xc3"), "1");
  assert_string_equal(hits_of(m, "\xff" "down"), "1");
  pr_matcher *bad = NULL;
  char err[128];
  uint32_t id;
  assert_int_equal(pr_matcher_new(&bad), PROMPTLY_OK);
  assert_int_equal(pr_matcher_add(bad, "\xff", &id, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "not valid UTF-8"));
  assert_int_equal(pr_matcher_add(bad, "  \t ", &id, err, sizeof(err)),
                   PROMPTLY_EINVAL);
  assert_non_null(strstr(err, "empty keyword"));
  pr_matcher_free(bad);
  pr_matcher_free(m);
}


static void
test_matcher_overlapping_keywords(void **state)
{
  (void)state;
  const char *const words[] = {"log", "log in", "cannot log in", "in",
                               "not working", "working", NULL};
  pr_matcher *m = make(words);
  assert_string_equal(hits_of(m, "cannot log in"), "111100");
  assert_string_equal(hits_of(m, "login"), "000000");
  assert_string_equal(hits_of(m, "it is not working"), "000011");
  pr_matcher_free(m);
}


static void
test_matcher_same_keyword_same_id(void **state)
{
  (void)state;
  pr_matcher *m = NULL;
  char err[128];
  uint32_t a, b, c;
  assert_int_equal(pr_matcher_new(&m), PROMPTLY_OK);
  assert_int_equal(pr_matcher_add(m, "Down", &a, err, sizeof(err)), 0);
  assert_int_equal(pr_matcher_add(m, "outage", &b, err, sizeof(err)), 0);
  assert_int_equal(pr_matcher_add(m, " down ", &c, err, sizeof(err)), 0);
  assert_int_equal(a, 0);
  assert_int_equal(b, 1);
  assert_int_equal(c, 0);
  assert_int_equal(pr_matcher_count(m), 2);
  assert_string_equal(pr_matcher_keyword(m, 0), "down");
  assert_null(pr_matcher_keyword(m, 2));
  assert_int_equal(pr_matcher_compile(m), PROMPTLY_OK);
  assert_int_equal(pr_matcher_add(m, "late", &a, err, sizeof(err)),
                   PROMPTLY_ESTATE);
  pr_matcher_free(m);
}


static void
test_matcher_scan_before_compile_fails(void **state)
{
  (void)state;
  pr_matcher *m = NULL;
  uint64_t hits[1] = {0};
  assert_int_equal(pr_matcher_new(&m), PROMPTLY_OK);
  assert_int_equal(pr_matcher_scan(m, "x", 1, hits, NULL), PROMPTLY_ESTATE);
  assert_int_equal(pr_matcher_compile(m), PROMPTLY_OK);
  size_t found = 9;
  assert_int_equal(pr_matcher_scan(m, "x", 1, hits, &found), PROMPTLY_OK);
  assert_int_equal(found, 0);
  pr_matcher_free(m);
}


static void
test_matcher_500_keywords(void **state)
{
  (void)state;
  pr_matcher *m = NULL;
  char err[128], word[64];
  assert_int_equal(pr_matcher_new(&m), PROMPTLY_OK);
  for (int i = 0; i < 500; i++) {
    uint32_t id;
    snprintf(word, sizeof(word), "%s keyword%03d",
             i % 2 ? "phrase" : "Wörter", i);
    assert_int_equal(pr_matcher_add(m, word, &id, err, sizeof(err)), 0);
    assert_int_equal(id, i);
  }
  assert_int_equal(pr_matcher_compile(m), PROMPTLY_OK);
  assert_int_equal(pr_matcher_count(m), 500);
  /* Sparse states: about 20 bytes a state plus 5 an edge, far from the
  ** megabytes 256-wide tables would take. */
  size_t mem = pr_matcher_memory(m);
  print_message("500 keywords: %zu bytes\n", mem);
  assert_true(mem < 100 * 1024);

  const char *text = "PHRASE   KEYWORD007 and wörter keyword010, "
                     "not phrase keyword0099 nor phrase keyword4991 "
                     "but Phrase\nkeyword499.";
  uint64_t hits[PR_MATCHER_WORDS(500)];
  memset(hits, 0, sizeof(hits));
  size_t found = 0;
  assert_int_equal(pr_matcher_scan(m, text, strlen(text), hits, &found),
                   PROMPTLY_OK);
  assert_int_equal(found, 3);
  for (uint32_t i = 0; i < 500; i++) {
    int want = i == 7 || i == 10 || i == 499;
    assert_int_equal(pr_matcher_hit(hits, i), want);
  }
  pr_matcher_free(m);
}



/* pr_matcher_scan_each: "id start end" of each match, in the original
** text's bytes. */
static void
on_each(void *ud, uint32_t id, size_t start, size_t end)
{
  char *out = ud;
  size_t n = strlen(out);
  snprintf(out + n, 256 - n, "%s%u %zu %zu", n ? "; " : "", (unsigned)id,
           start, end);
}

static void
test_matcher_scan_each_places(void **state)
{
  (void)state;
  const char *const words[] = {"strasse", "data loss", "down", NULL};
  pr_matcher *m = make(words);
  char out[256] = "";
  /* "Die Straße": S at byte 4, ß is two bytes, so Straße is [4, 11);
  ** then ": " and "DATA \t LOSS" is [13, 24), its run of white space
  ** inside; "down" is [25, 29); "download" is no whole word. */
  const char *text = "Die Straße: DATA \t LOSS down download";
  assert_int_equal(pr_matcher_scan_each(m, text, strlen(text), on_each, out),
                   PROMPTLY_OK);
  assert_string_equal(out, "0 4 11; 1 13 24; 2 25 29");
  /* Every match scan_each reports is one pr_matcher_scan reports. */
  assert_string_equal(hits_of(m, text), "111");
  out[0] = '\0';
  assert_int_equal(pr_matcher_scan_each(m, "nothing", 7, on_each, out),
                   PROMPTLY_OK);
  assert_string_equal(out, "");
  pr_matcher_free(m);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_matcher_ignores_case),
    cmocka_unit_test(test_matcher_whole_words_only),
    cmocka_unit_test(test_matcher_phrases_span_whitespace),
    cmocka_unit_test(test_matcher_utf8_case_folding),
    cmocka_unit_test(test_matcher_ascii_path_agrees_with_unicode_path),
    cmocka_unit_test(test_matcher_invalid_utf8_is_safe),
    cmocka_unit_test(test_matcher_overlapping_keywords),
    cmocka_unit_test(test_matcher_same_keyword_same_id),
    cmocka_unit_test(test_matcher_scan_before_compile_fails),
    cmocka_unit_test(test_matcher_500_keywords),
    cmocka_unit_test(test_matcher_scan_each_places),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
