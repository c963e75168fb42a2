/*
 * Fuzz target: the cookie functions of the session layer
 * (docs/protocol.md 4, "Cookie"): yz_session_msg1_parse(),
 * yz_session_cookie_reply_parse() / _encode(), yz_session_cookie_make() /
 * _check().
 *
 * Input: [selector][bytes...]. Selector & 3: 0 = message 1, 1 = a
 * COOKIE_REPLY, 2 = the MAC (secret 32 bytes, address length, address,
 * node ID 32 bytes, a cookie to check), 3 = encode -> parse.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/session.h"

#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))

static void msg1(const uint8_t *p, size_t n)
{
  yz_session_msg1 m;
  const char *reason = NULL;
  int rc = yz_session_msg1_parse(&m, p, n, &reason);
  bool want = n == YZ_SESSION_MSG1_LEN ||
              (n == YZ_SESSION_MSG1_COOKIE_LEN &&
               p[YZ_SESSION_MSG1_LEN] == YZ_SESSION_COOKIE_TYPE);
  FUZZ_CHECK((rc == 0) == want);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(m.e == NULL && m.cookie == NULL);
    return;
  }
  FUZZ_CHECK(m.e == p);
  FUZZ_CHECK(m.cookie == (n == YZ_SESSION_MSG1_COOKIE_LEN ? p + 33 : NULL));
}

static void reply(const uint8_t *p, size_t n)
{
  uint8_t c[YZ_SESSION_COOKIE_LEN], again[YZ_SESSION_COOKIE_REPLY_LEN];
  const char *reason = NULL;
  int rc = yz_session_cookie_reply_parse(c, p, n, &reason);
  if (rc != 0) {
    static const uint8_t zero[YZ_SESSION_COOKIE_LEN];
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(memcmp(c, zero, sizeof c) == 0);
    return;
  }
  /* accepted: exactly the encoding of the cookie it gave */
  FUZZ_CHECK(n == YZ_SESSION_COOKIE_REPLY_LEN);
  FUZZ_CHECK(yz_session_cookie_reply_encode(again, c) == n);
  FUZZ_CHECK(memcmp(again, p, n) == 0);
}

static void mac(fuzz_in *in)
{
  uint8_t secret[YZ_SESSION_COOKIE_SECRET_LEN] = {0};
  uint8_t addr[32] = {0};
  yz_node_id id;
  uint8_t given[YZ_SESSION_COOKIE_LEN] = {0}, c[YZ_SESSION_COOKIE_LEN];
  memset(&id, 0, sizeof id);
  size_t k = CK_MIN(in->n, sizeof secret);
  memcpy(secret, in->p, k);
  in->p += k, in->n -= k;
  size_t alen = fuzz_u8(in) % 20; /* 17..19: refused */
  k = CK_MIN(in->n, alen);
  memcpy(addr, in->p, k);
  in->p += k, in->n -= k;
  k = CK_MIN(in->n, sizeof id.bytes);
  memcpy(id.bytes, in->p, k);
  in->p += k, in->n -= k;
  k = CK_MIN(in->n, sizeof given);
  memcpy(given, in->p, k);
  int rc = yz_session_cookie_make(c, secret, addr, alen, &id);
  if (alen > YZ_SESSION_COOKIE_ADDR_MAX) {
    FUZZ_CHECK(rc == YZ_E_INVAL);
    FUZZ_CHECK(!yz_session_cookie_check(given, secret, addr, alen, &id));
    return;
  }
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(yz_session_cookie_check(c, secret, addr, alen, &id));
  FUZZ_CHECK(yz_session_cookie_check(given, secret, addr, alen, &id) ==
             (memcmp(given, c, sizeof c) == 0));
  /* a flipped bit of the cookie, the address or the node ID is refused */
  uint8_t bit = (uint8_t)(1u << (given[0] & 7));
  c[given[1] % sizeof c] ^= bit;
  FUZZ_CHECK(!yz_session_cookie_check(c, secret, addr, alen, &id));
  c[given[1] % sizeof c] ^= bit;
  if (alen) {
    addr[given[2] % alen] ^= bit;
    FUZZ_CHECK(!yz_session_cookie_check(c, secret, addr, alen, &id));
    addr[given[2] % alen] ^= bit;
  }
  id.bytes[given[3] % sizeof id.bytes] ^= bit;
  FUZZ_CHECK(!yz_session_cookie_check(c, secret, addr, alen, &id));
}

static void roundtrip(const uint8_t *p, size_t n)
{
  uint8_t c[YZ_SESSION_COOKIE_LEN] = {0}, r[YZ_SESSION_COOKIE_REPLY_LEN];
  uint8_t back[YZ_SESSION_COOKIE_LEN];
  memcpy(c, p, CK_MIN(n, sizeof c));
  FUZZ_CHECK(yz_session_cookie_reply_encode(r, c) == sizeof r);
  FUZZ_CHECK(yz_session_cookie_reply_parse(back, r, sizeof r, NULL) == 0);
  FUZZ_CHECK(memcmp(back, c, sizeof c) == 0);
  /* one byte more or less is refused */
  FUZZ_CHECK(yz_session_cookie_reply_parse(back, r, sizeof r - 1, NULL) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  switch (fuzz_u8(&in) & 3) {
  case 0:
    msg1(in.p, in.n);
    break;
  case 1:
    reply(in.p, in.n);
    break;
  case 2:
    mac(&in);
    break;
  default:
    roundtrip(in.p, in.n);
    break;
  }
  return 0;
}
