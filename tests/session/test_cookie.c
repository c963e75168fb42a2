/*
 * Cookies (docs/protocol.md 4, "Cookie"; src/session/cookie.c): message 1
 * with and without a cookie, parsed strictly; the cookie MAC; the
 * COOKIE_REPLY format; a handshake whose message 1 carries a cookie.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "harness.h"

static side A, B;

static int teardown(void **state)
{
  (void)state;
  side_free(&A);
  side_free(&B);
  return 0;
}

/* ---- message 1 --------------------------------------------------------- */

static void test_msg1_parse(void **state)
{
  (void)state;
  static const struct {
    size_t n;
    int type; /* byte 32 when n > 32; -1: leave */
    int rc;
    bool cookie;
  } cases[] = {
      {0, -1, YZ_E_TRUNCATED, false},
      {1, -1, YZ_E_TRUNCATED, false},
      {31, -1, YZ_E_TRUNCATED, false},
      {32, -1, 0, false},
      {33, 0x01, YZ_E_MALFORMED, false},
      {48, 0x01, YZ_E_MALFORMED, false},
      {49, 0x01, 0, true},
      {49, 0x00, YZ_E_MALFORMED, false},
      {49, 0x02, YZ_E_MALFORMED, false},
      {49, 0xff, YZ_E_MALFORMED, false},
      {50, 0x01, YZ_E_MALFORMED, false},
      {96, 0x01, YZ_E_MALFORMED, false},
      {65535, 0x01, YZ_E_MALFORMED, false},
  };
  static uint8_t buf[65535];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 31 + 7);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].type >= 0)
      buf[32] = (uint8_t)cases[i].type;
    yz_session_msg1 m;
    const char *why = NULL;
    int rc = yz_session_msg1_parse(&m, buf, cases[i].n, &why);
    assert_int_equal(rc, cases[i].rc);
    if (rc == 0) {
      assert_ptr_equal(m.e, buf);
      assert_ptr_equal(m.cookie, cases[i].cookie ? buf + 33 : NULL);
    } else {
      assert_non_null(why);
      assert_null(m.e);
      assert_null(m.cookie);
    }
  }
}

/* ---- the MAC ----------------------------------------------------------- */

/* The MAC of docs/protocol.md, computed here in one piece. */
static void mac_ref(uint8_t out[16], const uint8_t secret[32],
                    const uint8_t *addr, size_t addr_len,
                    const yz_node_id *id)
{
  uint8_t in[18 + 1 + 16 + 32];
  size_t n = 0;
  memcpy(in, "yz-link-v1 cookie\0", 18);
  n = 18;
  in[n++] = (uint8_t)addr_len;
  if (addr_len)
    memcpy(in + n, addr, addr_len);
  n += addr_len;
  memcpy(in + n, id->bytes, 32);
  n += 32;
  assert_int_equal(crypto_generichash(out, 16, in, n, secret, 32), 0);
}

static void test_cookie_mac(void **state)
{
  (void)state;
  uint8_t secret[32], secret2[32];
  memset(secret, 0x5a, sizeof secret);
  memset(secret2, 0x5b, sizeof secret2);
  yz_node_id id, id2;
  memset(id.bytes, 0x11, sizeof id.bytes);
  memset(id2.bytes, 0x12, sizeof id2.bytes);
  const uint8_t v4[4] = {192, 0, 2, 7};
  const uint8_t v6[8] = {192, 0, 2, 7, 0, 0, 0, 0}; /* same first bytes */
  uint8_t c[16], ref[16], o[16];

  assert_int_equal(yz_session_cookie_make(c, secret, v4, 4, &id), 0);
  mac_ref(ref, secret, v4, 4, &id);
  assert_memory_equal(c, ref, 16);
  assert_true(yz_session_cookie_check(c, secret, v4, 4, &id));

  /* every input counts: secret, address (and its length), node ID */
  assert_false(yz_session_cookie_check(c, secret2, v4, 4, &id));
  assert_false(yz_session_cookie_check(c, secret, v6, 8, &id));
  assert_false(yz_session_cookie_check(c, secret, v4, 4, &id2));
  const uint8_t v4b[4] = {192, 0, 2, 8};
  assert_false(yz_session_cookie_check(c, secret, v4b, 4, &id));
  assert_int_equal(yz_session_cookie_make(o, secret, v6, 8, &id), 0);
  assert_memory_not_equal(o, c, 16);
  mac_ref(ref, secret, v6, 8, &id);
  assert_memory_equal(o, ref, 16);
  /* no address (the in-memory transport) */
  assert_int_equal(yz_session_cookie_make(o, secret, NULL, 0, &id), 0);
  mac_ref(ref, secret, NULL, 0, &id);
  assert_memory_equal(o, ref, 16);

  /* any flipped bit of the cookie is refused */
  for (size_t i = 0; i < 16 * 8; i++) {
    uint8_t t[16];
    memcpy(t, c, 16);
    t[i / 8] ^= (uint8_t)(1u << (i % 8));
    assert_false(yz_session_cookie_check(t, secret, v4, 4, &id));
  }

  /* bounds */
  uint8_t big[17] = {0};
  assert_int_equal(yz_session_cookie_make(o, secret, big, 17, &id),
                   YZ_E_INVAL);
  assert_false(yz_session_cookie_check(c, secret, big, 17, &id));
  assert_int_equal(yz_session_cookie_make(o, secret, big, 16, &id), 0);
  assert_int_equal(yz_session_cookie_make(o, secret, NULL, 4, &id),
                   YZ_E_INVAL);
}

/* ---- COOKIE_REPLY ------------------------------------------------------ */

static void test_cookie_reply(void **state)
{
  (void)state;
  uint8_t c[16], r[YZ_SESSION_COOKIE_REPLY_LEN], out[16];
  for (int i = 0; i < 16; i++)
    c[i] = (uint8_t)(0xc0 + i);
  assert_int_equal(yz_session_cookie_reply_encode(r, c), 25);
  static const uint8_t want[25] = {
      'y', 'z', 'c', 'o', 'o', 'k', 'i', 'e', 0x01, 0xc0, 0xc1, 0xc2, 0xc3,
      0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
  assert_memory_equal(r, want, 25);
  const char *why = NULL;
  assert_int_equal(yz_session_cookie_reply_parse(out, r, 25, &why), 0);
  assert_memory_equal(out, c, 16);

  uint8_t zero[16] = {0}, big[26];
  memcpy(big, r, 25);
  big[25] = 0;
  memset(out, 0xee, 16);
  assert_int_equal(yz_session_cookie_reply_parse(out, r, 24, &why),
                   YZ_E_TRUNCATED);
  assert_non_null(why);
  assert_memory_equal(out, zero, 16);
  assert_int_equal(yz_session_cookie_reply_parse(out, big, 26, &why),
                   YZ_E_TRAILING);
  assert_int_equal(yz_session_cookie_reply_parse(out, r, 0, &why),
                   YZ_E_TRUNCATED);
  /* each byte of the tag and the type matters */
  for (size_t i = 0; i < 9; i++) {
    uint8_t t[25];
    memcpy(t, r, 25);
    t[i] ^= 0x20;
    memset(out, 0xee, 16);
    assert_int_equal(yz_session_cookie_reply_parse(out, t, 25, &why),
                     YZ_E_MALFORMED);
    assert_memory_equal(out, zero, 16);
  }
  /* the cookie bytes are opaque */
  r[24] ^= 0xff;
  assert_int_equal(yz_session_cookie_reply_parse(out, r, 25, NULL), 0);
  assert_int_equal(out[15], 0xcf ^ 0xff);
}

/* ---- a handshake with a cookie ---------------------------------------- */

static const uint8_t the_cookie[16] = {1, 2, 3, 4, 5, 6, 7, 8,
                                       9, 10, 11, 12, 13, 14, 15, 16};

static void pair(const uint8_t *cookie_a, const uint8_t *cookie_b)
{
  side_identity(&A, "A", 0xa1);
  side_identity(&B, "B", 0xb2);
  yz_session_config ca, cb;
  side_config(&A, &ca, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
  side_config(&B, &cb, YZ_SESSION_RESPONDER, NULL);
  ca.cookie = cookie_a;
  cb.cookie = cookie_b;
  assert_int_equal(yz_session_init(&A.s, &ca), 0);
  assert_int_equal(yz_session_init(&B.s, &cb), 0);
  assert_int_equal(yz_session_start(&B.s, 0), 0);
  assert_int_equal(yz_session_start(&A.s, 0), 0);
}

static void test_handshake_with_cookie(void **state)
{
  (void)state;
  uint8_t copy[16];
  memcpy(copy, the_cookie, 16);
  pair(copy, NULL);
  memset(copy, 0, 16); /* the session keeps its own copy */
  assert_int_equal(q_len(&A.out), 1);
  const wmsg *m1 = &A.out.m[A.out.head];
  assert_int_equal(m1->n, 49);
  assert_int_equal(m1->p[32], 0x01);
  assert_memory_equal(m1->p + 33, the_cookie, 16);
  pump(&A, &B, 1);
  assert_int_equal(A.n_up, 1);
  assert_int_equal(B.n_up, 1);
  assert_memory_equal(A.up_cb, B.up_cb, YZ_SESSION_HASH_LEN);
  assert_int_equal(A.n_closed + B.n_closed, 0);
}

/* The cookie is mixed into h: a cookie changed on the way makes message 2
 * fail at the initiator (an observer cannot swap it unnoticed). */
static void test_cookie_in_h(void **state)
{
  (void)state;
  pair(the_cookie, NULL);
  A.out.m[A.out.head].p[40] ^= 0x01;
  pump(&A, &B, 1);
  assert_int_equal(A.n_up, 0);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_err, YZ_E_DECRYPT);
}

/* A responder's cookie setting is ignored: message 1 is the initiator's. */
static void test_responder_sends_no_cookie(void **state)
{
  (void)state;
  pair(NULL, the_cookie);
  assert_int_equal(A.out.m[A.out.head].n, 32);
  pump(&A, &B, 1);
  assert_int_equal(A.n_up + B.n_up, 2);
}

/* Strict lengths and type at the responder: PROTOCOL, nothing sent. */
static void test_msg1_refused(void **state)
{
  (void)state;
  static const struct {
    size_t n;
    uint8_t type;
    int err;
  } cases[] = {
      {49, 0x02, YZ_E_MALFORMED},
      {49, 0x00, YZ_E_MALFORMED},
      {50, 0x01, YZ_E_MALFORMED},
      {48, 0x01, YZ_E_MALFORMED},
      {33, 0x01, YZ_E_MALFORMED},
      {31, 0x01, YZ_E_TRUNCATED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pair(the_cookie, NULL);
    wmsg w = q_pop(&A.out);
    uint8_t buf[64] = {0};
    memcpy(buf, w.p, w.n);
    free(w.p);
    buf[32] = cases[i].type;
    int rc = yz_session_recv(&B.s, buf, cases[i].n, 1);
    assert_int_equal(rc, cases[i].err);
    assert_int_equal(B.n_closed, 1);
    assert_int_equal(B.close_err, cases[i].err);
    assert_int_equal(B.close_code, YZ_CLOSE_PROTOCOL);
    assert_int_equal(q_len(&B.out), 0);
    teardown(NULL);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_msg1_parse),
      cmocka_unit_test(test_cookie_mac),
      cmocka_unit_test(test_cookie_reply),
      cmocka_unit_test_teardown(test_handshake_with_cookie, teardown),
      cmocka_unit_test_teardown(test_cookie_in_h, teardown),
      cmocka_unit_test_teardown(test_responder_sends_no_cookie, teardown),
      cmocka_unit_test_teardown(test_msg1_refused, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
