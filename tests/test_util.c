/* test_util.c - the util unit: buffers, error messages, dates. */
#include "config.h"

#include "cmocka_all.h"

#include "promptly.h"
#include "util.h"

#include <string.h>

static void
test_util_err_formats_and_returns_code(void **state)
{
  (void)state;
  char buf[32];
  assert_int_equal(pr_err(buf, sizeof(buf), PROMPTLY_EINVAL, "bad %s", "x"),
                   PROMPTLY_EINVAL);
  assert_string_equal(buf, "bad x");
  assert_int_equal(pr_err(NULL, 0, PROMPTLY_EIO, "ignored"), PROMPTLY_EIO);
  char tiny[4];
  pr_err(tiny, sizeof(tiny), PROMPTLY_EINVAL, "truncated");
  assert_string_equal(tiny, "tru");
}


static void
test_util_buf_grows(void **state)
{
  (void)state;
  pr_buf b;
  pr_buf_init(&b);
  assert_string_equal(pr_buf_cstr(&b), "");
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(pr_buf_printf(&b, "%d,", i % 10), PROMPTLY_OK);
  }
  assert_int_equal(b.len, 2000);
  assert_int_equal(strncmp(pr_buf_cstr(&b), "0,1,2,", 6), 0);
  assert_int_equal(pr_buf_append(&b, "xyz", 2), PROMPTLY_OK);
  assert_string_equal(pr_buf_cstr(&b) + 2000, "xy");
  pr_buf_free(&b);
}


static void
test_util_civil_days_round_trip(void **state)
{
  (void)state;
  assert_int_equal(pr_days_from_civil(1970, 1, 1), 0);
  assert_int_equal(pr_days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(pr_days_from_civil(1969, 12, 31), -1);
  for (int64_t z = -800000; z < 800000; z += 97) {
    int64_t y;
    unsigned m, d;
    pr_civil_from_days(z, &y, &m, &d);
    assert_int_equal(pr_days_from_civil(y, m, d), z);
  }
}


static void
test_util_iso_format(void **state)
{
  (void)state;
  char out[PR_ISO_LEN];
  pr_iso_format(0, out);
  assert_string_equal(out, "1970-01-01T00:00:00Z");
  pr_iso_format(1795194000000LL, out);
  assert_string_equal(out, "2026-11-20T17:00:00Z");
  pr_iso_format(1795194000123LL, out);
  assert_string_equal(out, "2026-11-20T17:00:00.123Z");
  pr_iso_format(951782400000LL, out); /* a leap day */
  assert_string_equal(out, "2000-02-29T00:00:00Z");
}


static void
test_util_utf8_valid(void **state)
{
  (void)state;
  size_t bad = 99;
  assert_true(pr_utf8_valid("plain", 5, NULL));
  assert_true(pr_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, NULL));
  /* A lone continuation byte, an overlong '/', a surrogate, > U+10FFFF, a
  ** cut sequence, a NUL. */
  assert_false(pr_utf8_valid("ab\x80", 3, &bad));
  assert_int_equal(bad, 2);
  assert_false(pr_utf8_valid("\xc0\xaf", 2, &bad));
  assert_int_equal(bad, 0);
  assert_false(pr_utf8_valid("x\xed\xa0\x80", 4, &bad));
  assert_int_equal(bad, 1);
  assert_false(pr_utf8_valid("\xf4\x90\x80\x80", 4, NULL));
  assert_false(pr_utf8_valid("\xe2\x82", 2, NULL));
  assert_false(pr_utf8_valid("a\0b", 3, &bad));
  assert_int_equal(bad, 1);
}


static void
test_util_text_line_escapes(void **state)
{
  (void)state;
  char out[64];
  const char forged[] = "P1\npromptly: error: x.lua:1: fake";
  pr_text_line(forged, strlen(forged), out, sizeof(out));
  assert_string_equal(out, "P1\\npromptly: error: x.lua:1: fake");
  /* Tab, CR, ESC, DEL, a bad byte, C1 NEL, U+2028; UTF-8 kept. */
  const char mix[] = "a\tb\r\x1b[0m\x7f\xff\xc2\x85\xe2\x80\xa8\xc3\xa9";
  pr_text_line(mix, strlen(mix), out, sizeof(out));
  assert_string_equal(out,
                      "a\\tb\\r\\x1b[0m\\x7f\\xff\\u0085\\u2028\xc3\xa9");
  /* Cut at a character boundary, marked. */
  char small[8];
  assert_int_equal(pr_text_line("abcdefghij", 10, small, sizeof(small)), 7);
  assert_string_equal(small, "abcd...");
  assert_int_equal(pr_text_line("abcdefg", 7, small, sizeof(small)), 7);
  assert_string_equal(small, "abcdefg");
  /* An escape is never cut in half: "abcd" then "\\n" does not fit. */
  char six[6];
  pr_text_line("abcd\n", 5, six, sizeof(six));
  assert_string_equal(six, "ab...");
  assert_string_equal((pr_text_line("\xc3\xa9\xc3\xa9\xc3\xa9", 6, six,
                                    sizeof(six)), six), "\xc3\xa9...");
}


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_util_err_formats_and_returns_code),
    cmocka_unit_test(test_util_buf_grows),
    cmocka_unit_test(test_util_civil_days_round_trip),
    cmocka_unit_test(test_util_iso_format),
    cmocka_unit_test(test_util_utf8_valid),
    cmocka_unit_test(test_util_text_line_escapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
