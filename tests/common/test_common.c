/* Error codes, their strings and the hex helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/util.h"
#include "yz/common.h"

static void test_codes_are_distinct_and_named(void **state)
{
  (void)state;
  /* Every code in the list has its own message and a name that matches. */
  for (int e = -1; e > -YZ__EI_COUNT; e--) {
    assert_string_not_equal(yz_strerror(e), "unknown error");
    assert_true(strncmp(yz_err_name(e), "YZ_E_", 5) == 0);
    for (int f = e - 1; f > -YZ__EI_COUNT; f--)
      assert_string_not_equal(yz_err_name(e), yz_err_name(f));
  }
  assert_string_equal(yz_err_name(YZ_E_DECRYPT), "YZ_E_DECRYPT");
  assert_string_equal(yz_strerror(0), "success");
  assert_string_equal(yz_strerror(-YZ__EI_COUNT), "unknown error");
  assert_string_equal(yz_strerror(1), "unknown error");
  assert_string_equal(yz_err_name(-100000), "YZ_E_UNKNOWN");
}

static void test_hex(void **state)
{
  (void)state;
  const uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff};
  char out[9];
  yz__hex_encode(out, in, 4);
  assert_string_equal(out, "00ab7fff");

  uint8_t back[4];
  assert_int_equal(yz__hex_decode(back, 4, "00AB7fff", 8), 0);
  assert_memory_equal(back, in, 4);
  assert_int_equal(yz__hex_decode(back, 4, "00ab7f", 6), YZ_E_TRUNCATED);
  assert_int_equal(yz__hex_decode(back, 4, "00ab7fff00", 10), YZ_E_TRAILING);
  assert_int_equal(yz__hex_decode(back, 4, "00ab7fgf", 8), YZ_E_MALFORMED);
  assert_int_equal(yz__hex_decode(back, 4, "00ab7ff ", 8), YZ_E_MALFORMED);

  size_t n;
  assert_int_equal(yz__hex_decode_var(back, 4, &n, "abc", 3), YZ_E_MALFORMED);
  assert_int_equal(yz__hex_decode_var(back, 2, &n, "abcdef", 6),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz__hex_decode_var(back, 4, &n, "", 0), 0);
  assert_int_equal(n, 0);
}

static void test_byte_order(void **state)
{
  (void)state;
  uint8_t b[8];
  yz__store64_be(b, 0x0102030405060708ull);
  assert_int_equal(b[0], 1);
  assert_int_equal(b[7], 8);
  assert_true(yz__load64_be(b) == 0x0102030405060708ull);
  yz__store64_le(b, 0x0102030405060708ull);
  assert_int_equal(b[0], 8);
  yz__store32_be(b, 0xdeadbeef);
  assert_true(yz__load32_be(b) == 0xdeadbeef);
  yz__store16_be(b, 0xbeef);
  assert_int_equal(yz__load16_be(b), 0xbeef);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes_are_distinct_and_named),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_byte_order),
  };
  return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
