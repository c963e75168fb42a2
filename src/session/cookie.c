/*
 * Cookies (docs/protocol.md 4, "Cookie"): the optional cookie in the
 * payload of handshake message 1, its MAC, and the COOKIE_REPLY a
 * responder under load sends instead of message 2. Modelled on
 * WireGuard's cookie reply (section 5.4.7 of its paper): the responder
 * proves the dialler's address with a MAC under a rotating secret before
 * it spends any DH on it. Pure functions: the link layer keeps the secret
 * and decides when to ask for a cookie.
 */
#include <string.h>

#include <sodium.h>

#include "yz/session.h"

_Static_assert(sizeof YZ_SESSION_COOKIE_PREFIX ==
                   YZ_SESSION_COOKIE_PREFIX_LEN,
               "the cookie prefix is its text and one 0x00 byte");
_Static_assert(sizeof YZ_SESSION_COOKIE_REPLY_TAG - 1 ==
                   YZ_SESSION_COOKIE_REPLY_TAG_LEN,
               "the reply tag has no NUL on the wire");
_Static_assert((int)YZ_SESSION_MSG1_LEN == (int)YZ_NOISE_DH_LEN,
               "message 1 without a cookie is e alone");
_Static_assert(YZ_SESSION_MSG1_COOKIE_LEN ==
                   YZ_SESSION_MSG1_LEN + 1 + YZ_SESSION_COOKIE_LEN,
               "message 1 with a cookie: e || type || cookie");
_Static_assert(YZ_SESSION_COOKIE_REPLY_LEN ==
                   YZ_SESSION_COOKIE_REPLY_TAG_LEN + 1 + YZ_SESSION_COOKIE_LEN,
               "COOKIE_REPLY: tag || type || cookie");
/* Message 2 is at least e (32) + Enc(s) (48) + an empty Enc(proof) (16):
 * a COOKIE_REPLY can never be taken for it. */
_Static_assert(YZ_SESSION_COOKIE_REPLY_LEN < 32 + 48 + 16,
               "a COOKIE_REPLY is shorter than any message 2");
_Static_assert(sizeof(((yz_session *)0)->cookie) == YZ_SESSION_COOKIE_LEN,
               "the session's copy of the cookie");
_Static_assert(YZ_SESSION_COOKIE_SECRET_LEN >= crypto_generichash_KEYBYTES_MIN &&
                   YZ_SESSION_COOKIE_SECRET_LEN <=
                       crypto_generichash_KEYBYTES_MAX,
               "a BLAKE2b key");
_Static_assert(YZ_SESSION_COOKIE_LEN >= crypto_generichash_BYTES_MIN,
               "a BLAKE2b output length");

int yz_session_msg1_parse(yz_session_msg1 *out, const uint8_t *p, size_t n,
                          const char **reason)
{
  const char *why = NULL;
  int rc = 0;
  memset(out, 0, sizeof *out);
  if (!p && n)
    return YZ_E_INVAL;
  if (n == YZ_SESSION_MSG1_LEN) {
    out->e = p;
    return 0;
  }
  if (n == YZ_SESSION_MSG1_COOKIE_LEN) {
    if (p[YZ_SESSION_MSG1_LEN] != YZ_SESSION_COOKIE_TYPE) {
      why = "handshake message 1 carries an unknown cookie type";
      rc = YZ_E_MALFORMED;
    } else {
      out->e = p;
      out->cookie = p + YZ_SESSION_MSG1_LEN + 1;
      return 0;
    }
  } else if (n < YZ_SESSION_MSG1_LEN) {
    why = "handshake message 1 is shorter than 32 bytes";
    rc = YZ_E_TRUNCATED;
  } else {
    why = "handshake message 1 must be 32 bytes, or 49 with a cookie";
    rc = YZ_E_MALFORMED;
  }
  if (reason)
    *reason = why;
  return rc;
}

int yz_session_cookie_make(uint8_t out[YZ_SESSION_COOKIE_LEN],
                           const uint8_t secret[YZ_SESSION_COOKIE_SECRET_LEN],
                           const uint8_t *addr, size_t addr_len,
                           const yz_node_id *responder)
{
  if (addr_len > YZ_SESSION_COOKIE_ADDR_MAX || (!addr && addr_len))
    return YZ_E_INVAL;
  /* prefix || addr_len || addr || node ID: the length byte keeps an IPv4
   * address apart from an IPv6 /64 that starts with the same bytes. */
  uint8_t len8 = (uint8_t)addr_len;
  crypto_generichash_state st;
  crypto_generichash_init(&st, secret, YZ_SESSION_COOKIE_SECRET_LEN,
                          YZ_SESSION_COOKIE_LEN);
  crypto_generichash_update(&st, (const uint8_t *)YZ_SESSION_COOKIE_PREFIX,
                            YZ_SESSION_COOKIE_PREFIX_LEN);
  crypto_generichash_update(&st, &len8, 1);
  if (addr_len)
    crypto_generichash_update(&st, addr, addr_len);
  crypto_generichash_update(&st, responder->bytes, sizeof responder->bytes);
  crypto_generichash_final(&st, out, YZ_SESSION_COOKIE_LEN);
  sodium_memzero(&st, sizeof st);
  return 0;
}

bool yz_session_cookie_check(const uint8_t cookie[YZ_SESSION_COOKIE_LEN],
                             const uint8_t secret[YZ_SESSION_COOKIE_SECRET_LEN],
                             const uint8_t *addr, size_t addr_len,
                             const yz_node_id *responder)
{
  uint8_t want[YZ_SESSION_COOKIE_LEN];
  bool ok = yz_session_cookie_make(want, secret, addr, addr_len,
                                   responder) == 0 &&
            sodium_memcmp(want, cookie, sizeof want) == 0;
  sodium_memzero(want, sizeof want);
  return ok;
}

size_t yz_session_cookie_reply_encode(uint8_t out[YZ_SESSION_COOKIE_REPLY_LEN],
                                      const uint8_t cookie[YZ_SESSION_COOKIE_LEN])
{
  memcpy(out, YZ_SESSION_COOKIE_REPLY_TAG, YZ_SESSION_COOKIE_REPLY_TAG_LEN);
  out[YZ_SESSION_COOKIE_REPLY_TAG_LEN] = YZ_SESSION_COOKIE_TYPE;
  memcpy(out + YZ_SESSION_COOKIE_REPLY_TAG_LEN + 1, cookie,
         YZ_SESSION_COOKIE_LEN);
  return YZ_SESSION_COOKIE_REPLY_LEN;
}

int yz_session_cookie_reply_parse(uint8_t out[YZ_SESSION_COOKIE_LEN],
                                  const uint8_t *p, size_t n,
                                  const char **reason)
{
  const char *why;
  int rc;
  memset(out, 0, YZ_SESSION_COOKIE_LEN);
  if (!p && n)
    return YZ_E_INVAL;
  if (n < YZ_SESSION_COOKIE_REPLY_LEN) {
    why = "a COOKIE_REPLY is 25 bytes: this is shorter";
    rc = YZ_E_TRUNCATED;
  } else if (n > YZ_SESSION_COOKIE_REPLY_LEN) {
    why = "a COOKIE_REPLY is 25 bytes: this is longer";
    rc = YZ_E_TRAILING;
  } else if (memcmp(p, YZ_SESSION_COOKIE_REPLY_TAG,
                    YZ_SESSION_COOKIE_REPLY_TAG_LEN) != 0) {
    why = "not a COOKIE_REPLY (no \"yzcookie\" tag)";
    rc = YZ_E_MALFORMED;
  } else if (p[YZ_SESSION_COOKIE_REPLY_TAG_LEN] != YZ_SESSION_COOKIE_TYPE) {
    why = "a COOKIE_REPLY of an unknown cookie type";
    rc = YZ_E_MALFORMED;
  } else {
    memcpy(out, p + YZ_SESSION_COOKIE_REPLY_TAG_LEN + 1,
           YZ_SESSION_COOKIE_LEN);
    return 0;
  }
  if (reason)
    *reason = why;
  return rc;
}
