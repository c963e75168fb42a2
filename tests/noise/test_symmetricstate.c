/*
 * SymmetricState (spec section 5.2), each operation against its definition
 * written out with the HASH and HKDF primitives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "noise_test.h"

static void test_initialize_symmetric(void **state)
{
  (void)state;
  yz_noise_symmetricstate ss;
  uint8_t want[64] = {0};

  /* A name no longer than HASHLEN is zero-padded. */
  yz_noise_protocol p = proto_of("Noise_XX_25519_ChaChaPoly_BLAKE2b");
  yz_noise_ss_init(&ss, &p);
  memcpy(want, p.name, strlen(p.name));
  assert_memory_equal(ss.h, want, 64);
  assert_memory_equal(ss.ck, want, 64);
  assert_false(yz_noise_cs_has_key(&ss.cs));

  /* Exactly HASHLEN (32 for SHA256): still padded, not hashed. */
  p = proto_of("Noise_XX_25519_ChaChaPoly_SHA256");
  assert_int_equal(strlen(p.name), 32);
  yz_noise_ss_init(&ss, &p);
  assert_memory_equal(ss.h, p.name, 32);

  /* Longer: HASH(name). */
  p = proto_of("Noise_XXpsk0+psk1_25519_ChaChaPoly_SHA256");
  yz_noise_ss_init(&ss, &p);
  yz__noise_hash(YZ_NOISE_HASH_SHA256, want, (const uint8_t *)p.name,
                 strlen(p.name));
  assert_memory_equal(ss.h, want, 32);
  assert_memory_equal(ss.ck, want, 32);
  yz_noise_ss_clear(&ss);
}

static void test_mix_operations(void **state)
{
  (void)state;
  static const uint8_t ikm[] = "input key material";
  yz_noise_protocol p = proto_of("Noise_NN_25519_ChaChaPoly_SHA512");
  yz_noise_symmetricstate ss;
  uint8_t ck[64], h[64], o1[64], o2[64], o3[64];

  yz_noise_ss_init(&ss, &p);
  memcpy(ck, ss.ck, 64);
  memcpy(h, ss.h, 64);

  /* MixHash: h = HASH(h || data) */
  yz_noise_ss_mix_hash(&ss, ikm, sizeof ikm);
  yz__noise_hash2(YZ_NOISE_HASH_SHA512, h, h, 64, ikm, sizeof ikm);
  assert_memory_equal(ss.h, h, 64);

  /* MixKey: ck, temp_k = HKDF(ck, ikm, 2); k = temp_k[0..32]; n = 0 */
  yz_noise_ss_mix_key(&ss, ikm, sizeof ikm);
  yz__noise_hkdf(YZ_NOISE_HASH_SHA512, ck, ikm, sizeof ikm, o1, o2, NULL);
  assert_memory_equal(ss.ck, o1, 64);
  assert_memory_equal(ss.cs.k, o2, 32);
  assert_true(yz_noise_cs_has_key(&ss.cs));
  assert_int_equal(yz_noise_cs_nonce(&ss.cs), 0);
  memcpy(ck, o1, 64);

  /* MixKeyAndHash: ck, temp_h, temp_k = HKDF(ck, ikm, 3) */
  yz_noise_ss_mix_key_and_hash(&ss, ikm, sizeof ikm);
  yz__noise_hkdf(YZ_NOISE_HASH_SHA512, ck, ikm, sizeof ikm, o1, o2, o3);
  yz__noise_hash2(YZ_NOISE_HASH_SHA512, h, h, 64, o2, 64);
  assert_memory_equal(ss.ck, o1, 64);
  assert_memory_equal(ss.h, h, 64);
  assert_memory_equal(ss.cs.k, o3, 32);

  assert_int_equal(yz_noise_ss_get_handshake_hash(&ss, o1), 64);
  assert_memory_equal(o1, h, 64);
  yz_noise_ss_clear(&ss);
}

/* EncryptAndHash / DecryptAndHash, in place, with h following the
 * ciphertext on both sides; a forged ciphertext changes nothing. */
static void test_encrypt_decrypt_and_hash(void **state)
{
  (void)state;
  static const uint8_t ikm[] = "shared";
  yz_noise_protocol p = proto_of("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  yz_noise_symmetricstate a, b, saved;
  uint8_t buf[128], h[64];
  size_t n, m;

  yz_noise_ss_init(&a, &p);
  yz_noise_ss_init(&b, &p);
  /* Without a key: plaintext goes out, and is hashed. */
  memcpy(buf, "hello", 5);
  assert_int_equal(yz_noise_ss_encrypt_and_hash(&a, buf, 5, buf, 128, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(yz_noise_ss_decrypt_and_hash(&b, buf, n, buf, 128, &m), 0);
  assert_memory_equal(a.h, b.h, 64);

  yz_noise_ss_mix_key(&a, ikm, sizeof ikm);
  yz_noise_ss_mix_key(&b, ikm, sizeof ikm);
  memcpy(buf, "payload bytes", 13);
  memcpy(h, a.h, 64);
  assert_int_equal(yz_noise_ss_encrypt_and_hash(&a, buf, 13, buf, 128, &n), 0);
  assert_int_equal(n, 29);
  yz__noise_hash2(YZ_NOISE_HASH_BLAKE2B, h, h, 64, buf, n);
  assert_memory_equal(a.h, h, 64);

  saved = b;
  buf[3] ^= 0x80;
  assert_int_equal(yz_noise_ss_decrypt_and_hash(&b, buf, n, buf + 64, 64, &m),
                   YZ_E_DECRYPT);
  assert_memory_equal(b.h, saved.h, 64);
  assert_int_equal(yz_noise_cs_nonce(&b.cs), 0);
  buf[3] ^= 0x80;
  /* In place: the new h is of the ciphertext, not of what replaced it. */
  assert_int_equal(yz_noise_ss_decrypt_and_hash(&b, buf, n, buf, 128, &m), 0);
  assert_int_equal(m, 13);
  assert_memory_equal(buf, "payload bytes", 13);
  assert_memory_equal(b.h, a.h, 64);
}

static void test_split(void **state)
{
  (void)state;
  yz_noise_protocol p = proto_of("Noise_NN_25519_ChaChaPoly_SHA256");
  yz_noise_symmetricstate ss;
  yz_noise_cipherstate c1, c2;
  uint8_t o1[64], o2[64];

  yz_noise_ss_init(&ss, &p);
  yz_noise_ss_mix_key(&ss, (const uint8_t *)"x", 1);
  yz_noise_ss_split(&ss, &c1, &c2);
  /* temp_k1, temp_k2 = HKDF(ck, zerolen, 2) */
  yz__noise_hkdf(YZ_NOISE_HASH_SHA256, ss.ck, NULL, 0, o1, o2, NULL);
  assert_memory_equal(c1.k, o1, 32);
  assert_memory_equal(c2.k, o2, 32);
  assert_true(yz_noise_cs_has_key(&c1) && yz_noise_cs_has_key(&c2));
  assert_int_equal(yz_noise_cs_nonce(&c1), 0);
  assert_int_equal(c1.cipher, YZ_NOISE_CIPHER_CHACHAPOLY);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initialize_symmetric),
      cmocka_unit_test(test_mix_operations),
      cmocka_unit_test(test_encrypt_decrypt_and_hash),
      cmocka_unit_test(test_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
