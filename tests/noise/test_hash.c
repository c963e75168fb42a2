/*
 * HASH, HMAC-HASH and HKDF (spec section 4.3): RFC 4231 and RFC 5869
 * answers, and values from Python's independent hmac module for BLAKE2b,
 * the long-key path and Noise's three-output HKDF.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "noise_test.h"

typedef struct hmac_case {
  int hash;
  const char *key_hex; /* NULL: the bytes 0, 1, ..., 199 */
  const char *data;
  const char *mac;
} hmac_case;

static const hmac_case hmac_cases[] = {
    /* RFC 4231 test case 1 */
    {YZ_NOISE_HASH_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
     "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {YZ_NOISE_HASH_SHA512, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
     "Hi There",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    /* RFC 4231 test case 2: key "Jefe" */
    {YZ_NOISE_HASH_SHA256, "4a656665", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {YZ_NOISE_HASH_SHA512, "4a656665", "what do ya want for nothing?",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    /* Keys longer than the block are hashed first (RFC 2104). */
    {YZ_NOISE_HASH_SHA256, NULL, "abc",
     "9e46e2c4b04219e5432c64395c33a1ed11d947bbeff71f5e610a8a98da5599bc"},
    {YZ_NOISE_HASH_SHA512, NULL, "abc",
     "4319a6f0a1f256bd58e92f10f14b80a68042694625f8afdceff857a255d57561"
     "60447262314594a30f122eb81428c55c1da267dadcaa0c6f9c8e3daf17bb19e7"},
    {YZ_NOISE_HASH_BLAKE2B, NULL, "abc",
     "feb09eb5b1c557085c0a53bdf39ef7bc9af291f21d7c917cd1cf09542aab9536"
     "2de79b3925fe55d92997423b5a68be1bda2f6518df34fa1053bb3ef559b08200"},
};

static void test_hmac(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof hmac_cases / sizeof hmac_cases[0]; i++) {
    const hmac_case *c = &hmac_cases[i];
    uint8_t key[200], want[64], got[64];
    size_t kn = 200;
    if (c->key_hex)
      kn = unhex(key, sizeof key, c->key_hex);
    else
      for (size_t j = 0; j < 200; j++)
        key[j] = (uint8_t)j;
    size_t wn = unhex(want, sizeof want, c->mac);
    assert_int_equal(wn, yz__noise_hashlen(c->hash));
    yz__noise_hmac(c->hash, got, key, kn, (const uint8_t *)c->data,
                   strlen(c->data));
    assert_memory_equal(got, want, wn);
  }
}

/* RFC 5869 A.3 (SHA-256, empty salt = HashLen zero bytes, empty info):
 * Noise's HKDF with two outputs is T(1) || T(2) of RFC 5869. */
static void test_hkdf_rfc5869(void **state)
{
  (void)state;
  uint8_t ck[32] = {0}, ikm[22], o1[32], o2[32], okm[64], want[42];
  memset(ikm, 0x0b, sizeof ikm);
  unhex(want, sizeof want,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        "9d201395faa4b61a96c8");
  yz__noise_hkdf(YZ_NOISE_HASH_SHA256, ck, ikm, sizeof ikm, o1, o2, NULL);
  memcpy(okm, o1, 32);
  memcpy(okm + 32, o2, 32);
  assert_memory_equal(okm, want, sizeof want);
}

typedef struct hkdf_case {
  int hash;
  const char *out[3];
} hkdf_case;

/* ck = 0, 1, ..., HASHLEN-1; ikm = "noise hkdf input key material". */
static const hkdf_case hkdf_cases[] = {
    {YZ_NOISE_HASH_SHA256,
     {"8231ff14410ae1fe2e6759d22bdefcad1914278feaaec3ce24b15b0cc37623c7",
      "bcbaeadd2aa45eeeccd9fb8cc5f02573fa843c08a35cf664e436edabbe5bbc17",
      "50b1c8afd89ead84dbb3b74eee1807cae9c2bf1dfa44cc3e45dd7b46fb1dea19"}},
    {YZ_NOISE_HASH_SHA512,
     {"425a4f7b93f8dd884c5ece4fb536a7a81269e67bea2130b815db5568653ded36"
      "f56484123653b8ec02858b8bce8f987e10a9c83f194215032361aee4afc4ae11",
      "3be8348a37c1bd97b69b7da883fdb265574a700c4bf93f11566a022b97b64e82"
      "5ad349d0158193a5d0e2827a13bbebb2de0999217ceff5499ce7e45fc458e7e8",
      "eb9b2bc53221ae84ec5349e3cc8aa03c9438f297b016e818fab98e45fade8cd0"
      "f76f1cb4c8a5a673b12c50467d43674ce2ad129b7c07af5a1cf07409668c089f"}},
    {YZ_NOISE_HASH_BLAKE2B,
     {"a86289632e2b09f82043cfea5421f8de9eaac2cf18fde9b2d8944aae76e5b643"
      "8f02b8e5899df7fdc95de4696fb942c49873fbb35cbff9d9ec977d4ded9e09c7",
      "b0b1fc465ee0a371dba232dd11a959886b70468b63ed7b34a55647e8f905485a"
      "bf68e15bf52cc2a42822948b011750fcf9c7e4a600dfac8905040abd5d2795ce",
      "29f9918cfe42f97f5023a284e3b35c935ac4b6bc2c4926d49d8c5db0afbbf65a"
      "9fe7747cbb6550b0788184e5c41b6316c30a0a8111c4ca0b09813f64b5f5ef06"}},
};

static void test_hkdf_three_outputs(void **state)
{
  (void)state;
  static const char ikm[] = "noise hkdf input key material";
  for (size_t i = 0; i < sizeof hkdf_cases / sizeof hkdf_cases[0]; i++) {
    const hkdf_case *c = &hkdf_cases[i];
    size_t hl = yz__noise_hashlen(c->hash);
    uint8_t ck[64], o[3][64], two[2][64], want[64];
    for (size_t j = 0; j < hl; j++)
      ck[j] = (uint8_t)j;
    yz__noise_hkdf(c->hash, ck, (const uint8_t *)ikm, strlen(ikm), o[0], o[1],
                   o[2]);
    for (int j = 0; j < 3; j++) {
      assert_int_equal(unhex(want, sizeof want, c->out[j]), hl);
      assert_memory_equal(o[j], want, hl);
    }
    /* Two outputs are the first two of three. */
    yz__noise_hkdf(c->hash, ck, (const uint8_t *)ikm, strlen(ikm), two[0],
                   two[1], NULL);
    assert_memory_equal(two[0], o[0], hl);
    assert_memory_equal(two[1], o[1], hl);
  }
}

/* HASH(a || b) equals HASH of the concatenation, for every function. */
static void test_hash2(void **state)
{
  (void)state;
  const int hashes[] = {YZ_NOISE_HASH_SHA256, YZ_NOISE_HASH_SHA512,
                        YZ_NOISE_HASH_BLAKE2B};
  uint8_t buf[300], a[64], b[64];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 7);
  for (size_t i = 0; i < 3; i++) {
    yz__noise_hash(hashes[i], a, buf, sizeof buf);
    yz__noise_hash2(hashes[i], b, buf, 100, buf + 100, 200);
    assert_memory_equal(a, b, yz__noise_hashlen(hashes[i]));
  }
  assert_int_equal(yz__noise_blocklen(YZ_NOISE_HASH_SHA256), 64);
  assert_int_equal(yz__noise_blocklen(YZ_NOISE_HASH_BLAKE2B), 128);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hmac),
      cmocka_unit_test(test_hkdf_rfc5869),
      cmocka_unit_test(test_hkdf_three_outputs),
      cmocka_unit_test(test_hash2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
