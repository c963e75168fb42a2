/*
 * CipherState (Noise spec section 5.1) with the ChaChaPoly and AESGCM
 * cipher functions (section 12.3 and 12.4).
 *
 * The AEAD calls are libsodium's _detached forms: the ciphertext and tag go
 * straight to the caller's buffer, and encryption and decryption may run in
 * place, so the transport path makes no copies.
 */
#include <string.h>

#include "common/util.h"
#include "noise/noise_internal.h"

/* The 96-bit AEAD nonce: 32 zero bits, then n as 64 bits, little-endian for
 * ChaChaPoly (section 12.3), big-endian for AESGCM (section 12.4). */
static void make_nonce(uint8_t nonce[12], int cipher, uint64_t n)
{
  memset(nonce, 0, 4);
  if (cipher == YZ_NOISE_CIPHER_AESGCM)
    yz__store64_be(nonce + 4, n);
  else
    yz__store64_le(nonce + 4, n);
}

/* ENCRYPT(k, n, ad, plaintext) into out (ptlen bytes) and tag. */
static void aead_encrypt(int cipher, const uint8_t *k, uint64_t n,
                         const uint8_t *ad, size_t adlen, const uint8_t *pt,
                         size_t ptlen, uint8_t *out, uint8_t *tag)
{
  uint8_t nonce[12];
  make_nonce(nonce, cipher, n);
  if (cipher == YZ_NOISE_CIPHER_AESGCM)
    crypto_aead_aes256gcm_encrypt_detached(out, tag, NULL, pt, ptlen, ad,
                                           adlen, NULL, nonce, k);
  else
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        out, tag, NULL, pt, ptlen, ad, adlen, NULL, nonce, k);
}

void yz_noise_cs_init(yz_noise_cipherstate *cs, yz_noise_cipher cipher)
{
  sodium_memzero(cs, sizeof *cs);
  cs->cipher = (uint8_t)cipher;
}

void yz_noise_cs_initialize_key(yz_noise_cipherstate *cs,
                                const uint8_t k[YZ_NOISE_KEY_LEN])
{
  memcpy(cs->k, k, YZ_NOISE_KEY_LEN);
  cs->n = 0;
  cs->has_k = 1;
}

bool yz_noise_cs_has_key(const yz_noise_cipherstate *cs)
{
  return cs->has_k != 0;
}

int yz_noise_cs_set_nonce(yz_noise_cipherstate *cs, uint64_t n)
{
  /* 2^64-1 is reserved for Rekey (section 5.1): accepting it would let the
   * next EncryptWithAd reuse the rekey nonce. */
  if (n == UINT64_MAX)
    return YZ_E_RANGE;
  cs->n = n;
  return 0;
}

uint64_t yz_noise_cs_nonce(const yz_noise_cipherstate *cs)
{
  return cs->n;
}

int yz_noise_cs_encrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                                size_t adlen, const uint8_t *pt, size_t ptlen,
                                uint8_t *out, size_t outcap, size_t *outlen)
{
  if (!cs->has_k) {
    /* No key: the "ciphertext" is the plaintext (section 5.1). */
    if (ptlen > YZ_NOISE_MAX_MSG_LEN || ptlen > outcap)
      return YZ_E_TOO_LARGE;
    if (ptlen && out != pt)
      memmove(out, pt, ptlen);
    *outlen = ptlen;
    return 0;
  }
  if (ptlen > YZ_NOISE_MAX_PAYLOAD_LEN || outcap < ptlen + YZ_NOISE_TAG_LEN)
    return YZ_E_TOO_LARGE;
  if (cs->n == UINT64_MAX)
    return YZ_E_NONCE_EXHAUSTED;
  aead_encrypt(cs->cipher, cs->k, cs->n, ad, adlen, pt, ptlen, out,
               out + ptlen);
  cs->n++;
  *outlen = ptlen + YZ_NOISE_TAG_LEN;
  return 0;
}

int yz_noise_cs_decrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                                size_t adlen, const uint8_t *ct, size_t ctlen,
                                uint8_t *out, size_t outcap, size_t *outlen)
{
  uint8_t nonce[12];
  size_t ptlen;
  int rc;

  if (ctlen > YZ_NOISE_MAX_MSG_LEN)
    return YZ_E_TOO_LARGE;
  if (!cs->has_k) {
    if (ctlen > outcap)
      return YZ_E_TOO_LARGE;
    if (ctlen && out != ct)
      memmove(out, ct, ctlen);
    *outlen = ctlen;
    return 0;
  }
  if (ctlen < YZ_NOISE_TAG_LEN)
    return YZ_E_TRUNCATED;
  ptlen = ctlen - YZ_NOISE_TAG_LEN;
  if (ptlen > outcap)
    return YZ_E_TOO_LARGE;
  if (cs->n == UINT64_MAX)
    return YZ_E_NONCE_EXHAUSTED;

  make_nonce(nonce, cs->cipher, cs->n);
  if (cs->cipher == YZ_NOISE_CIPHER_AESGCM)
    rc = crypto_aead_aes256gcm_decrypt_detached(
        out, NULL, ct, ptlen, ct + ptlen, ad, adlen, nonce, cs->k);
  else
    /* Checks the Poly1305 tag in constant time before decrypting. */
    rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        out, NULL, ct, ptlen, ct + ptlen, ad, adlen, nonce, cs->k);
  if (rc != 0) {
    /* "If an authentication failure occurs in DECRYPT() then n is not
     * incremented" (section 5.1); nothing unauthenticated is left. */
    sodium_memzero(out, ptlen);
    return YZ_E_DECRYPT;
  }
  cs->n++;
  *outlen = ptlen;
  return 0;
}

int yz_noise_cs_rekey(yz_noise_cipherstate *cs)
{
  static const uint8_t zeros[YZ_NOISE_KEY_LEN];
  uint8_t k[YZ_NOISE_KEY_LEN], tag[YZ_NOISE_TAG_LEN];

  if (!cs->has_k)
    return YZ_E_STATE;
  /* REKEY(k) = ENCRYPT(k, maxnonce, zerolen, zeros): the first 32 bytes
   * of the ciphertext, the tag dropped (section 4.2). */
  aead_encrypt(cs->cipher, cs->k, UINT64_MAX, NULL, 0, zeros, sizeof zeros, k,
               tag);
  memcpy(cs->k, k, sizeof k);
  sodium_memzero(k, sizeof k);
  sodium_memzero(tag, sizeof tag);
  return 0;
}

void yz_noise_cs_clear(yz_noise_cipherstate *cs)
{
  int cipher = cs->cipher;
  sodium_memzero(cs, sizeof *cs);
  cs->cipher = (uint8_t)cipher;
}
