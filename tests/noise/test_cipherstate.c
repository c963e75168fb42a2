/*
 * CipherState (spec section 5.1): nonce encoding of both ciphers against
 * raw libsodium, in-place use, SetNonce and nonce exhaustion, failed
 * decryption leaving n alone, size limits, and Rekey (section 4.2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "noise_test.h"

static const uint8_t key[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5};
static const uint8_t ad[] = "associated";
static const uint8_t msg[] = "the quick brown fox";

static void pair(yz_noise_cipherstate *a, yz_noise_cipherstate *b,
                 yz_noise_cipher c)
{
  yz_noise_cs_init(a, c);
  yz_noise_cs_init(b, c);
  yz_noise_cs_initialize_key(a, key);
  yz_noise_cs_initialize_key(b, key);
}

static bool aes_ok(void)
{
  return crypto_aead_aes256gcm_is_available() != 0;
}

/* ChaChaPoly: nonce = 4 zero bytes || n little-endian (section 12.3). */
static void test_chachapoly_nonce(void **state)
{
  (void)state;
  yz_noise_cipherstate cs;
  uint8_t out[64], want[64], nonce[12] = {0};
  size_t n;
  yz_noise_cs_init(&cs, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_initialize_key(&cs, key);
  assert_int_equal(yz_noise_cs_set_nonce(&cs, 0x0102030405060708ull), 0);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&cs, ad, sizeof ad, msg,
                                               sizeof msg, out, sizeof out,
                                               &n),
                   0);
  assert_int_equal(n, sizeof msg + 16);
  assert_int_equal(yz_noise_cs_nonce(&cs), 0x0102030405060709ull);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(8 - i);
  crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL, msg, sizeof msg, ad,
                                            sizeof ad, NULL, nonce, key);
  assert_memory_equal(out, want, n);
}

/* AESGCM: nonce = 4 zero bytes || n big-endian (section 12.4). */
static void test_aesgcm_nonce(void **state)
{
  (void)state;
  yz_noise_cipherstate a, b;
  uint8_t out[64], want[64], back[64], nonce[12] = {0};
  size_t n, bn;
  if (!aes_ok())
    skip();
  pair(&a, &b, YZ_NOISE_CIPHER_AESGCM);
  assert_int_equal(yz_noise_cs_set_nonce(&a, 0x0102030405060708ull), 0);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, ad, sizeof ad, msg,
                                               sizeof msg, out, sizeof out,
                                               &n),
                   0);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(1 + i);
  crypto_aead_aes256gcm_encrypt(want, NULL, msg, sizeof msg, ad, sizeof ad,
                                NULL, nonce, key);
  assert_memory_equal(out, want, n);
  assert_int_equal(yz_noise_cs_set_nonce(&b, 0x0102030405060708ull), 0);
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad, out, n, back, 64, &bn),
      0);
  assert_memory_equal(back, msg, sizeof msg);
}

/* Without a key, EncryptWithAd and DecryptWithAd pass the bytes through. */
static void test_no_key(void **state)
{
  (void)state;
  yz_noise_cipherstate cs;
  uint8_t out[64];
  size_t n;
  yz_noise_cs_init(&cs, YZ_NOISE_CIPHER_CHACHAPOLY);
  assert_false(yz_noise_cs_has_key(&cs));
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&cs, ad, sizeof ad, msg,
                                               sizeof msg, out, sizeof out,
                                               &n),
                   0);
  assert_int_equal(n, sizeof msg);
  assert_memory_equal(out, msg, n);
  assert_int_equal(yz_noise_cs_decrypt_with_ad(&cs, ad, sizeof ad, msg,
                                               sizeof msg, out, sizeof out,
                                               &n),
                   0);
  assert_memory_equal(out, msg, n);
  assert_int_equal(yz_noise_cs_nonce(&cs), 0);
  assert_int_equal(yz_noise_cs_rekey(&cs), YZ_E_STATE);
}

static void roundtrip_in_place(yz_noise_cipher c)
{
  yz_noise_cipherstate a, b;
  uint8_t buf[1024 + 16];
  size_t n, m;
  pair(&a, &b, c);
  for (size_t i = 0; i < 1024; i++)
    buf[i] = (uint8_t)i;
  for (int round = 0; round < 3; round++) {
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, NULL, 0, buf, 1024, buf,
                                                 sizeof buf, &n),
                     0);
    assert_int_equal(n, 1040);
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b, NULL, 0, buf, n, buf, sizeof buf, &m),
        0);
    assert_int_equal(m, 1024);
    for (size_t i = 0; i < 1024; i++)
      assert_int_equal(buf[i], (uint8_t)i);
  }
  assert_int_equal(yz_noise_cs_nonce(&a), 3);
  assert_int_equal(yz_noise_cs_nonce(&b), 3);
}

static void test_in_place(void **state)
{
  (void)state;
  roundtrip_in_place(YZ_NOISE_CIPHER_CHACHAPOLY);
  if (aes_ok())
    roundtrip_in_place(YZ_NOISE_CIPHER_AESGCM);
}

/* "If an authentication failure occurs in DECRYPT() then n is not
 * incremented": a forged message, then the genuine one, decrypts. */
static void failed_decrypt_keeps_nonce(yz_noise_cipher c)
{
  yz_noise_cipherstate a, b;
  uint8_t ct[64], bad[64], out[64];
  size_t n, m;
  pair(&a, &b, c);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, ad, sizeof ad, msg,
                                               sizeof msg, ct, sizeof ct, &n),
                   0);
  for (size_t i = 0; i < n; i++) {
    memcpy(bad, ct, n);
    bad[i] ^= 0x01;
    memset(out, 0xee, sizeof out);
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad, bad, n, out, 64, &m),
        YZ_E_DECRYPT);
    /* Nothing unauthenticated is left in the output. */
    for (size_t j = 0; j < n - 16; j++)
      assert_int_equal(out[j], 0);
    assert_int_equal(yz_noise_cs_nonce(&b), 0);
  }
  /* Wrong associated data fails the same way. */
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad - 1, ct, n, out, 64, &m),
      YZ_E_DECRYPT);
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad, ct, n, out, 64, &m), 0);
  assert_memory_equal(out, msg, sizeof msg);
  assert_int_equal(yz_noise_cs_nonce(&b), 1);
  /* Replaying it now fails: n moved on. */
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad, ct, n, out, 64, &m),
      YZ_E_DECRYPT);
}

static void test_failed_decrypt_keeps_nonce(void **state)
{
  (void)state;
  failed_decrypt_keeps_nonce(YZ_NOISE_CIPHER_CHACHAPOLY);
  if (aes_ok())
    failed_decrypt_keeps_nonce(YZ_NOISE_CIPHER_AESGCM);
}

static void test_set_nonce_and_exhaustion(void **state)
{
  (void)state;
  yz_noise_cipherstate a, b;
  uint8_t ct[64], out[64];
  size_t n, m;
  pair(&a, &b, YZ_NOISE_CIPHER_CHACHAPOLY);
  /* 2^64-1 is reserved (section 5.1). */
  assert_int_equal(yz_noise_cs_set_nonce(&a, UINT64_MAX), YZ_E_RANGE);
  assert_int_equal(yz_noise_cs_nonce(&a), 0);
  assert_int_equal(yz_noise_cs_set_nonce(&a, YZ_NOISE_NONCE_MAX), 0);
  assert_int_equal(yz_noise_cs_set_nonce(&b, YZ_NOISE_NONCE_MAX), 0);
  /* The last usable nonce works once... */
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, NULL, 0, msg, sizeof msg,
                                               ct, sizeof ct, &n),
                   0);
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, NULL, 0, ct, n, out, sizeof out, &m), 0);
  /* ...then the state is exhausted both ways, without writing. */
  assert_int_equal(yz_noise_cs_nonce(&a), UINT64_MAX);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, NULL, 0, msg, sizeof msg,
                                               ct, sizeof ct, &n),
                   YZ_E_NONCE_EXHAUSTED);
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, NULL, 0, ct, 35, out, sizeof out, &m),
      YZ_E_NONCE_EXHAUSTED);
  /* Rekey still works: it uses 2^64-1 itself and leaves n alone. */
  assert_int_equal(yz_noise_cs_rekey(&a), 0);
  assert_int_equal(yz_noise_cs_nonce(&a), UINT64_MAX);
}

static void test_sizes(void **state)
{
  (void)state;
  static uint8_t big[YZ_NOISE_MAX_MSG_LEN + 32];
  yz_noise_cipherstate a, b, c;
  size_t n, m;
  pair(&a, &b, YZ_NOISE_CIPHER_CHACHAPOLY);
  /* The largest payload fits exactly into 65535 bytes. */
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, NULL, 0, big,
                                               YZ_NOISE_MAX_PAYLOAD_LEN, big,
                                               sizeof big, &n),
                   0);
  assert_int_equal(n, YZ_NOISE_MAX_MSG_LEN);
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, NULL, 0, big, n, big, sizeof big, &m),
      0);
  /* One more byte is refused, and n does not move. */
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, NULL, 0, big,
                                               YZ_NOISE_MAX_PAYLOAD_LEN + 1,
                                               big, sizeof big, &n),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_cs_decrypt_with_ad(&b, NULL, 0, big,
                                               YZ_NOISE_MAX_MSG_LEN + 1, big,
                                               sizeof big, &m),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_cs_nonce(&a), 1);
  /* Output too small. */
  assert_int_equal(
      yz_noise_cs_encrypt_with_ad(&a, NULL, 0, msg, sizeof msg, big, 20, &n),
      YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_cs_nonce(&a), 1);
  /* Shorter than a tag. */
  assert_int_equal(
      yz_noise_cs_decrypt_with_ad(&b, NULL, 0, big, 15, big, sizeof big, &m),
      YZ_E_TRUNCATED);
  assert_int_equal(yz_noise_cs_nonce(&b), 1);
  /* Without a key the limit is 65535 as well. */
  yz_noise_cs_init(&c, YZ_NOISE_CIPHER_CHACHAPOLY);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&c, NULL, 0, big,
                                               YZ_NOISE_MAX_MSG_LEN + 1, big,
                                               sizeof big, &n),
                   YZ_E_TOO_LARGE);
}

/* Rekey on both sides keeps them talking, with other ciphertexts. */
static void rekey(yz_noise_cipher c)
{
  yz_noise_cipherstate a, b, a0, b0;
  uint8_t ct[64], ct0[64], out[64];
  size_t n, n0, m;
  uint8_t k_before[32];
  pair(&a, &b, c);
  pair(&a0, &b0, c);
  memcpy(k_before, a.k, 32);
  assert_int_equal(yz_noise_cs_rekey(&a), 0);
  assert_int_equal(yz_noise_cs_rekey(&b), 0);
  assert_memory_not_equal(a.k, k_before, 32);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&a, ad, sizeof ad, msg,
                                                 sizeof msg, ct, 64, &n),
                     0);
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&a0, ad, sizeof ad, msg,
                                                 sizeof msg, ct0, 64, &n0),
                     0);
    assert_int_equal(n, n0);
    assert_memory_not_equal(ct, ct0, n);
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b, ad, sizeof ad, ct, n, out, 64, &m), 0);
    assert_memory_equal(out, msg, sizeof msg);
    /* The side that did not rekey cannot read it. */
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b0, ad, sizeof ad, ct, n, out, 64, &m),
        YZ_E_DECRYPT);
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b0, ad, sizeof ad, ct0, n0, out, 64, &m),
        0);
  }
  /* Rekey keeps n (section 4.2 leaves the nonce to the caller). */
  assert_int_equal(yz_noise_cs_nonce(&a), 3);
  assert_int_equal(yz_noise_cs_rekey(&a), 0);
  assert_int_equal(yz_noise_cs_nonce(&a), 3);
}

/* REKEY(k) = ENCRYPT(k, 2^64-1, "", 32 zero bytes)[0..32]. */
static void test_rekey_definition(void **state)
{
  (void)state;
  yz_noise_cipherstate cs;
  uint8_t zeros[32] = {0}, ct[48];
  uint8_t nonce[12] = {0,    0,    0,    0,    0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  yz_noise_cs_init(&cs, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_initialize_key(&cs, key);
  assert_int_equal(yz_noise_cs_rekey(&cs), 0);
  crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, zeros, 32, NULL, 0, NULL,
                                            nonce, key);
  assert_memory_equal(cs.k, ct, 32);
  rekey(YZ_NOISE_CIPHER_CHACHAPOLY);
  if (aes_ok())
    rekey(YZ_NOISE_CIPHER_AESGCM);
}

static void test_clear(void **state)
{
  (void)state;
  yz_noise_cipherstate cs;
  static const uint8_t zero[32];
  yz_noise_cs_init(&cs, YZ_NOISE_CIPHER_AESGCM);
  yz_noise_cs_initialize_key(&cs, key);
  assert_true(yz_noise_cs_has_key(&cs));
  yz_noise_cs_clear(&cs);
  assert_false(yz_noise_cs_has_key(&cs));
  assert_memory_equal(cs.k, zero, 32);
  assert_int_equal(cs.cipher, YZ_NOISE_CIPHER_AESGCM);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chachapoly_nonce),
      cmocka_unit_test(test_aesgcm_nonce),
      cmocka_unit_test(test_no_key),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_failed_decrypt_keeps_nonce),
      cmocka_unit_test(test_set_nonce_and_exhaustion),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_rekey_definition),
      cmocka_unit_test(test_clear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
