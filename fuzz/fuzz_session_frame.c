/*
 * Fuzz target: the session's pure transport-frame parser
 * (yz_session_frame_parse), with the limits it promises.
 *
 * Input: [max_message selector][plaintext...].
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/session.h"
#include "yz/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t maxes[] = {YZ_SESSION_DEFAULT_MAX_MESSAGE, 0, 1, 100,
                                 65519, 65520, 200000, UINT32_MAX};
  fuzz_in in = {data, size};
  size_t max_message = maxes[fuzz_u8(&in) & 7];
  yz_session_frame f;
  const char *reason = NULL;
  int rc = yz_session_frame_parse(&f, in.p, in.n, max_message, &reason);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    return 0;
  }
  FUZZ_CHECK(in.n >= 1 && in.n <= YZ_SESSION_MAX_FRAME_LEN);
  FUZZ_CHECK(f.type == in.p[0]);
  if (f.body_len)
    FUZZ_CHECK(f.body >= in.p && f.body + f.body_len <= in.p + in.n);
  switch (f.type) {
  case YZ_FRAME_DATA:
    FUZZ_CHECK(f.body_len == in.n - 1 && f.body_len <= max_message);
    break;
  case YZ_FRAME_FRAG_FIRST:
    FUZZ_CHECK(f.value <= max_message && f.body_len < f.value);
    FUZZ_CHECK(f.body_len >= 1 && f.body_len == in.n - 5);
    break;
  case YZ_FRAME_FRAG_MIDDLE:
  case YZ_FRAME_FRAG_LAST:
    FUZZ_CHECK(f.body_len >= 1 && f.body_len == in.n - 1);
    break;
  case YZ_FRAME_PING:
  case YZ_FRAME_PONG:
    FUZZ_CHECK(in.n == 9 && f.body_len == 0);
    break;
  case YZ_FRAME_REKEY:
    FUZZ_CHECK(in.n == 1 && f.body_len == 0);
    break;
  case YZ_FRAME_CLOSE:
    FUZZ_CHECK(f.value <= UINT16_MAX);
    FUZZ_CHECK(f.body_len <= YZ_SESSION_MAX_CLOSE_TEXT);
    FUZZ_CHECK(yz_wire_utf8_valid(f.body, f.body_len));
    break;
  default:
    FUZZ_CHECK(0); /* an unknown type was accepted */
  }
  (void)yz_session_close_code_name((uint16_t)f.value);
  return 0;
}
