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


int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_util_err_formats_and_returns_code),
    cmocka_unit_test(test_util_buf_grows),
    cmocka_unit_test(test_util_civil_days_round_trip),
    cmocka_unit_test(test_util_iso_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
