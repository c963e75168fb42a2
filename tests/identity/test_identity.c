/* src/identity/identity.c: key pairs, signatures, node IDs and their text
 * form. Expected values are RFC 8032 section 7.1 tests 1 and 2; the node
 * IDs are SHA-256 of those public keys, computed apart from yz (sha256sum
 * of the raw key bytes; Python's cryptography gave the same keys and
 * signatures). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "yz/identity.h"

struct vector {
  const char *seed, *pk, *node_id, *msg, *sig;
};

static const struct vector rfc8032[] = {
    {/* RFC 8032 7.1 TEST 1 */
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {/* RFC 8032 7.1 TEST 2 */
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

static void unhex(uint8_t *out, size_t n, const char *hex)
{
  assert_int_equal(yz__hex_decode(out, n, hex, strlen(hex)), 0);
}

static void test_from_seed_is_deterministic(void **state)
{
  (void)state;
  for (size_t v = 0; v < YZ__ARRAY_LEN(rfc8032); v++) {
    uint8_t seed[YZ_IDENTITY_SEED_LEN], pk[YZ_IDENTITY_PK_LEN];
    char idhex[YZ_NODE_ID_HEX_LEN + 1];
    yz_identity a, b;
    unhex(seed, sizeof seed, rfc8032[v].seed);
    unhex(pk, sizeof pk, rfc8032[v].pk);
    assert_int_equal(yz_identity_from_seed(&a, seed), 0);
    assert_int_equal(yz_identity_from_seed(&b, seed), 0);
    assert_memory_equal(yz_identity_public_key(&a), pk, sizeof pk);
    assert_memory_equal(a.sk, b.sk, sizeof a.sk);
    yz_node_id_to_hex(yz_identity_node_id(&a), idhex);
    assert_string_equal(idhex, rfc8032[v].node_id);

    yz_node_id fromkey;
    yz_node_id_from_public_key(&fromkey, pk);
    assert_true(yz_node_id_equal(&fromkey, yz_identity_node_id(&b)));
    yz_identity_clear(&a);
    yz_identity_clear(&b);
  }
}

static void test_clear_wipes(void **state)
{
  (void)state;
  static const uint8_t zero[sizeof(yz_identity)];
  yz_identity id;
  assert_int_equal(yz_identity_generate(&id), 0);
  yz_identity_clear(&id);
  assert_memory_equal(&id, zero, sizeof id);
  yz_identity_clear(NULL); /* a no-op */
}

static void test_generate_differs(void **state)
{
  (void)state;
  yz_identity a, b;
  assert_int_equal(yz_identity_generate(&a), 0);
  assert_int_equal(yz_identity_generate(&b), 0);
  assert_false(yz_node_id_equal(&a.id, &b.id));
  yz_node_id check;
  yz_node_id_from_public_key(&check, a.pk);
  assert_true(yz_node_id_equal(&check, &a.id));
  yz_identity_clear(&a);
  yz_identity_clear(&b);
}

static void test_sign_matches_rfc8032(void **state)
{
  (void)state;
  for (size_t v = 0; v < YZ__ARRAY_LEN(rfc8032); v++) {
    uint8_t seed[YZ_IDENTITY_SEED_LEN], msg[8], want[YZ_IDENTITY_SIG_LEN];
    uint8_t sig[YZ_IDENTITY_SIG_LEN];
    size_t mlen = strlen(rfc8032[v].msg) / 2;
    yz_identity id;
    unhex(seed, sizeof seed, rfc8032[v].seed);
    unhex(msg, mlen, rfc8032[v].msg);
    unhex(want, sizeof want, rfc8032[v].sig);
    assert_int_equal(yz_identity_from_seed(&id, seed), 0);
    yz_identity_sign(&id, msg, mlen, sig);
    assert_memory_equal(sig, want, sizeof sig);
    assert_int_equal(yz_identity_verify(id.pk, msg, mlen, sig), 0);
    yz_identity_clear(&id);
  }
}

/* Every single-bit change to the message, the signature or the key makes
 * verification fail. */
static void test_flipped_bits_fail(void **state)
{
  (void)state;
  static const uint8_t msg0[] = "yz identity proof test message";
  uint8_t msg[sizeof msg0], sig[YZ_IDENTITY_SIG_LEN], pk[YZ_IDENTITY_PK_LEN];
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  yz_identity id;
  unhex(seed, sizeof seed, rfc8032[0].seed);
  assert_int_equal(yz_identity_from_seed(&id, seed), 0);
  memcpy(msg, msg0, sizeof msg);
  yz_identity_sign(&id, msg, sizeof msg, sig);
  memcpy(pk, id.pk, sizeof pk);
  assert_int_equal(yz_identity_verify(pk, msg, sizeof msg, sig), 0);

  for (size_t bit = 0; bit < 8 * sizeof msg; bit++) {
    msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(yz_identity_verify(pk, msg, sizeof msg, sig),
                     YZ_E_BAD_SIGNATURE);
    msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
    sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(yz_identity_verify(pk, msg, sizeof msg, sig),
                     YZ_E_BAD_SIGNATURE);
    sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  for (size_t bit = 0; bit < 8 * sizeof pk; bit++) {
    pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(yz_identity_verify(pk, msg, sizeof msg, sig),
                     YZ_E_BAD_SIGNATURE);
    pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  /* A shorter message is another message. */
  assert_int_equal(yz_identity_verify(pk, msg, sizeof msg - 1, sig),
                   YZ_E_BAD_SIGNATURE);
  assert_int_equal(yz_identity_verify(pk, msg, sizeof msg, sig), 0);
  yz_identity_clear(&id);
}

static void test_node_id_equal(void **state)
{
  (void)state;
  yz_node_id a, b;
  memset(&a, 0x5a, sizeof a);
  b = a;
  assert_true(yz_node_id_equal(&a, &b));
  for (size_t i = 0; i < YZ_NODE_ID_LEN; i++) {
    b.bytes[i] ^= 0x80;
    assert_false(yz_node_id_equal(&a, &b));
    b.bytes[i] ^= 0x80;
  }
}

struct parse_case {
  const char *text;
  int rc;
  const char *reason_has; /* a word the reason must contain */
};

#define GOOD "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"

static const struct parse_case parse_cases[] = {
    {GOOD, 0, NULL},
    {"0000000000000000000000000000000000000000000000000000000000000000", 0,
     NULL},
    {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 0,
     NULL},
    {"21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47F9721B9",
     YZ_E_MALFORMED, "uppercase"},
    {"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721bA",
     YZ_E_MALFORMED, "uppercase"},
    {"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b",
     YZ_E_TRUNCATED, "too short"},
    {GOOD "0", YZ_E_TRAILING, "too long"},
    {"", YZ_E_TRUNCATED, "empty"},
    {"0x" GOOD, YZ_E_MALFORMED, "prefix"},
    {"0X" GOOD, YZ_E_MALFORMED, "prefix"},
    {" " GOOD, YZ_E_MALFORMED, "whitespace"},
    {GOOD " ", YZ_E_MALFORMED, "whitespace"},
    {GOOD "\n", YZ_E_MALFORMED, "whitespace"},
    {"21fe31df a154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b",
     YZ_E_MALFORMED, "whitespace"},
    {"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721bg",
     YZ_E_MALFORMED, "not a hex digit"},
    {"21:fe:31:df", YZ_E_MALFORMED, "':'"},
};

static void test_node_id_parse_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(parse_cases); i++) {
    const struct parse_case *c = &parse_cases[i];
    yz_node_id id;
    const char *why = "unset";
    int rc =
        yz_node_id_parse(&id, (const uint8_t *)c->text, strlen(c->text), &why);
    if (rc != c->rc)
      fail_msg("case %zu '%s': got %s, want %s", i, c->text, yz_err_name(rc),
               yz_err_name(c->rc));
    if (rc == 0) {
      char back[YZ_NODE_ID_HEX_LEN + 1];
      assert_null(why);
      yz_node_id_to_hex(&id, back);
      assert_string_equal(back, c->text); /* round trip */
    } else {
      assert_non_null(why);
      if (strstr(why, c->reason_has) == NULL)
        fail_msg("case %zu: reason '%s' lacks '%s'", i, why, c->reason_has);
    }
  }
  /* An embedded NUL is not a hex digit (the length, not C strings, rules). */
  uint8_t nul[YZ_NODE_ID_HEX_LEN];
  memcpy(nul, GOOD, sizeof nul);
  nul[10] = 0;
  yz_node_id id;
  assert_int_equal(yz_node_id_parse(&id, nul, sizeof nul, NULL),
                   YZ_E_MALFORMED);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_from_seed_is_deterministic),
      cmocka_unit_test(test_clear_wipes),
      cmocka_unit_test(test_generate_differs),
      cmocka_unit_test(test_sign_matches_rfc8032),
      cmocka_unit_test(test_flipped_bits_fail),
      cmocka_unit_test(test_node_id_equal),
      cmocka_unit_test(test_node_id_parse_table),
  };
  return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
