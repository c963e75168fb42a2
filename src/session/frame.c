/*
 * Transport frames (docs/protocol.md "Transport frames"): the pure parser
 * of one decrypted transport plaintext. No state, no allocation: fuzzable.
 */
#include "common/util.h"
#include "yz/session.h"

static int fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

int yz_session_frame_parse(yz_session_frame *f, const uint8_t *p, size_t n,
                           size_t max_message, const char **reason)
{
  *f = (yz_session_frame){0};
  if (n == 0)
    return fail(reason, "empty frame", YZ_E_TRUNCATED);
  if (n > YZ_SESSION_MAX_FRAME_LEN)
    return fail(reason, "frame longer than 65519 bytes", YZ_E_TOO_LARGE);
  f->type = p[0];
  switch (p[0]) {
  case YZ_FRAME_DATA:
    if (n - 1 > max_message)
      return fail(reason, "message larger than the maximum", YZ_E_TOO_LARGE);
    f->body = p + 1;
    f->body_len = n - 1;
    return 0;
  case YZ_FRAME_FRAG_FIRST:
    if (n < 6)
      return fail(reason, "first fragment too short", YZ_E_TRUNCATED);
    f->value = yz__load32_be(p + 1);
    f->body = p + 5;
    f->body_len = n - 5;
    if (f->value > max_message)
      return fail(reason, "declared message length exceeds the maximum",
                  YZ_E_TOO_LARGE);
    /* A chunk that reaches the declared total before FRAG_LAST is
     * TOO_LARGE in every fragment, this one included (docs/protocol.md
     * "Fragmentation"). */
    if (f->body_len >= f->value)
      return fail(reason, "first fragment reaches the declared length",
                  YZ_E_TOO_LARGE);
    return 0;
  case YZ_FRAME_FRAG_MIDDLE:
  case YZ_FRAME_FRAG_LAST:
    if (n < 2)
      return fail(reason, "empty fragment", YZ_E_TRUNCATED);
    f->body = p + 1;
    f->body_len = n - 1;
    return 0;
  case YZ_FRAME_PING:
  case YZ_FRAME_PONG:
    if (n < 9)
      return fail(reason, "ping or pong frame too short", YZ_E_TRUNCATED);
    if (n > 9)
      return fail(reason, "ping or pong frame too long", YZ_E_TRAILING);
    f->value = yz__load64_be(p + 1);
    return 0;
  case YZ_FRAME_REKEY:
    if (n != 1)
      return fail(reason, "rekey frame has a body", YZ_E_TRAILING);
    return 0;
  case YZ_FRAME_CLOSE:
    if (n < 3)
      return fail(reason, "close frame too short", YZ_E_TRUNCATED);
    /* A malformed frame, PROTOCOL (docs/protocol.md "Close"): TOO_LARGE
     * is only for messages above the maximum message size. */
    if (n - 3 > YZ_SESSION_MAX_CLOSE_TEXT)
      return fail(reason, "close text longer than 123 bytes", YZ_E_MALFORMED);
    if (!yz_wire_utf8_valid(p + 3, n - 3))
      return fail(reason, "close text is not UTF-8", YZ_E_MALFORMED);
    f->value = yz__load16_be(p + 1);
    f->body = p + 3;
    f->body_len = n - 3;
    return 0;
  default:
    return fail(reason, "unknown frame type", YZ_E_MALFORMED);
  }
}

const char *yz_session_close_code_name(uint16_t code)
{
  switch (code) {
  case YZ_CLOSE_NORMAL: return "NORMAL";
  case YZ_CLOSE_GOING_AWAY: return "GOING_AWAY";
  case YZ_CLOSE_PROTOCOL: return "PROTOCOL";
  case YZ_CLOSE_DECRYPT: return "DECRYPT";
  case YZ_CLOSE_TOO_LARGE: return "TOO_LARGE";
  case YZ_CLOSE_TIMEOUT: return "TIMEOUT";
  case YZ_CLOSE_NONCE_EXHAUSTED: return "NONCE_EXHAUSTED";
  case YZ_CLOSE_IDENTITY: return "IDENTITY";
  case YZ_CLOSE_PEER_ID_MISMATCH: return "PEER_ID_MISMATCH";
  case YZ_CLOSE_INTERNAL: return "INTERNAL";
  case YZ_CLOSE_DUPLICATE: return "DUPLICATE";
  case YZ_CLOSE_NETWORK: return "NETWORK";
  default: return code >= YZ_CLOSE_APP_MIN ? "APPLICATION" : "UNKNOWN";
  }
}
