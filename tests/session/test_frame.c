/*
 * Session: the pure transport frame parser (docs/protocol.md "Transport
 * frames"), table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "yz/session.h"

struct fcase {
  const char *hex;
  size_t max;
  int want;
  uint8_t type;
  uint64_t value;
  size_t body_len;
};

static const struct fcase cases[] = {
    {"", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"01", 100, 0, YZ_FRAME_DATA, 0, 0},
    {"01aabb", 100, 0, YZ_FRAME_DATA, 0, 2},
    {"01aabb", 1, YZ_E_TOO_LARGE, 0, 0, 0},
    {"0200000003aa", 100, 0, YZ_FRAME_FRAG_FIRST, 3, 1},
    {"0200000003aabb", 100, 0, YZ_FRAME_FRAG_FIRST, 3, 2},
    /* a first chunk that reaches the total: TOO_LARGE, as for any
     * fragment (docs/protocol.md "Fragmentation") */
    {"0200000003aabbcc", 100, YZ_E_TOO_LARGE, 0, 0, 0},
    {"0200000002aabbcc", 100, YZ_E_TOO_LARGE, 0, 0, 0},
    {"0200000003", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"02000000", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"0200000065aa", 100, YZ_E_TOO_LARGE, 0, 0, 0},
    {"0200000064aa", 100, 0, YZ_FRAME_FRAG_FIRST, 100, 1},
    {"03", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"03aa", 100, 0, YZ_FRAME_FRAG_MIDDLE, 0, 1},
    {"04", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"04aabb", 100, 0, YZ_FRAME_FRAG_LAST, 0, 2},
    {"050102030405060708", 100, 0, YZ_FRAME_PING, 0x0102030405060708ull, 0},
    {"0501020304050607", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"05010203040506070809", 100, YZ_E_TRAILING, 0, 0, 0},
    {"06ffffffffffffffff", 100, 0, YZ_FRAME_PONG, UINT64_MAX, 0},
    {"07", 100, 0, YZ_FRAME_REKEY, 0, 0},
    {"0700", 100, YZ_E_TRAILING, 0, 0, 0},
    {"080000", 100, 0, YZ_FRAME_CLOSE, 0, 0},
    {"081000626965", 100, 0, YZ_FRAME_CLOSE, 0x1000, 3},
    {"0800", 100, YZ_E_TRUNCATED, 0, 0, 0},
    {"080002c3", 100, YZ_E_MALFORMED, 0, 0, 0},
    {"00", 100, YZ_E_MALFORMED, 0, 0, 0},
    {"09", 100, YZ_E_MALFORMED, 0, 0, 0},
    {"80", 100, YZ_E_MALFORMED, 0, 0, 0},
};

static void test_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(cases); i++) {
    uint8_t buf[64];
    size_t n;
    const char *h = cases[i].hex;
    assert_int_equal(yz__hex_decode_var(buf, sizeof buf, &n, h, strlen(h)), 0);
    yz_session_frame f;
    const char *reason = NULL;
    int rc = yz_session_frame_parse(&f, buf, n, cases[i].max, &reason);
    if (rc != cases[i].want)
      fprintf(stderr, "case %zu (%s): %s\n", i, h, yz_err_name(rc));
    assert_int_equal(rc, cases[i].want);
    if (rc) {
      assert_non_null(reason);
      continue;
    }
    assert_int_equal(f.type, cases[i].type);
    assert_int_equal(f.value, cases[i].value);
    assert_int_equal(f.body_len, cases[i].body_len);
  }
}

static void test_close_text_bounds(void **state)
{
  (void)state;
  uint8_t buf[3 + 124];
  memset(buf, 'a', sizeof buf);
  buf[0] = YZ_FRAME_CLOSE;
  buf[1] = 0, buf[2] = 1;
  yz_session_frame f;
  assert_int_equal(yz_session_frame_parse(&f, buf, 3 + 123, 10, NULL), 0);
  assert_int_equal(f.body_len, 123);
  /* a malformed frame (PROTOCOL), not TOO_LARGE (docs/protocol.md "Close") */
  assert_int_equal(yz_session_frame_parse(&f, buf, 3 + 124, 10, NULL),
                   YZ_E_MALFORMED);
}

static void test_frame_size_bound(void **state)
{
  (void)state;
  uint8_t *buf = calloc(1, YZ_SESSION_MAX_FRAME_LEN + 1);
  assert_non_null(buf);
  buf[0] = YZ_FRAME_DATA;
  yz_session_frame f;
  assert_int_equal(yz_session_frame_parse(&f, buf, YZ_SESSION_MAX_FRAME_LEN,
                                          1 << 20, NULL),
                   0);
  assert_int_equal(f.body_len, YZ_SESSION_MAX_FRAME_LEN - 1);
  assert_int_equal(yz_session_frame_parse(&f, buf,
                                          YZ_SESSION_MAX_FRAME_LEN + 1,
                                          1 << 20, NULL),
                   YZ_E_TOO_LARGE);
  free(buf);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_close_text_bounds),
      cmocka_unit_test(test_frame_size_bound),
  };
  return cmocka_run_group_tests_name("session_frame", tests, NULL, NULL);
}
