/*
 * Fuzz target: noise transport decryption (CipherState, section 5.1).
 *
 * Input: [cipher][flags][nonce: 8 bytes BE][ad_len][ad][ciphertext...]
 * with a fixed key. The ciphertext goes to DecryptWithAd() into an output
 * buffer of exactly the capacity chosen by the flags (so ASan sees any write
 * past it). Then the same bytes are used as a plaintext for an
 * encrypt/decrypt round trip on a second pair of states, optionally after a
 * Rekey().
 *
 * Invariants checked: a failed decryption wipes the output and leaves the
 * nonce alone; a success moves it by one; SetNonce(2^64-1) is refused; a
 * round trip returns the plaintext; a one-bit change in the ciphertext is
 * refused; 2^64-1 is never used as a nonce.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "yz/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  yz_noise_cipher cipher = (fuzz_u8(&in) & 1) ? YZ_NOISE_CIPHER_AESGCM
                                              : YZ_NOISE_CIPHER_CHACHAPOLY;
  if (cipher == YZ_NOISE_CIPHER_AESGCM && (sodium_init() < 0 ||
                                           !crypto_aead_aes256gcm_is_available()))
    cipher = YZ_NOISE_CIPHER_CHACHAPOLY;
  uint8_t flags = fuzz_u8(&in);
  uint64_t nonce = fuzz_u64(&in);
  size_t adlen = fuzz_u8(&in);
  if (adlen > in.n)
    adlen = in.n;
  const uint8_t *ad = in.p;
  in.p += adlen;
  in.n -= adlen;
  const uint8_t *ct = in.p;
  size_t ctlen = in.n;
  if (ctlen > YZ_NOISE_MAX_MSG_LEN + 16)
    return 0;

  uint8_t key[YZ_NOISE_KEY_LEN];
  fuzz_key(key, (uint8_t)(flags >> 6));

  yz_noise_cipherstate cs;
  yz_noise_cs_init(&cs, cipher);
  FUZZ_CHECK(!yz_noise_cs_has_key(&cs));
  yz_noise_cs_initialize_key(&cs, key);
  FUZZ_CHECK(yz_noise_cs_has_key(&cs));
  int rc = yz_noise_cs_set_nonce(&cs, nonce);
  if (nonce == UINT64_MAX) {
    FUZZ_CHECK(rc != 0);
    nonce = 0;
    FUZZ_CHECK(yz_noise_cs_set_nonce(&cs, nonce) == 0);
  } else {
    FUZZ_CHECK(rc == 0);
  }
  FUZZ_CHECK(yz_noise_cs_nonce(&cs) == nonce);

  /* Decrypt the input as a ciphertext. */
  size_t ptmax = ctlen > YZ_NOISE_TAG_LEN ? ctlen - YZ_NOISE_TAG_LEN : 0;
  size_t cap = ptmax;
  if ((flags & 4) && cap > 0)
    cap -= 1 + (flags >> 3 & 3) % cap; /* too small on purpose */
  uint8_t *out = malloc(cap ? cap : 1);
  FUZZ_CHECK(out != NULL);
  memset(out, 0xAA, cap);
  size_t outlen = 0;
  if (flags & 1) { /* in place */
    uint8_t *buf = malloc(ctlen ? ctlen : 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, ct, ctlen);
    rc = yz_noise_cs_decrypt_with_ad(&cs, ad, adlen, buf, ctlen, buf, ctlen,
                                     &outlen);
    free(buf);
  } else {
    rc = yz_noise_cs_decrypt_with_ad(&cs, ad, adlen, ct, ctlen, out, cap,
                                     &outlen);
    if (rc == YZ_E_DECRYPT)
      for (size_t i = 0; i < cap; i++)
        FUZZ_CHECK(out[i] == 0 || out[i] == 0xAA);
  }
  if (rc == 0) {
    FUZZ_CHECK(outlen == ptmax);
    FUZZ_CHECK(yz_noise_cs_nonce(&cs) == nonce + 1);
  } else {
    FUZZ_CHECK(yz_noise_cs_nonce(&cs) == nonce);
  }
  free(out);

  /* Round trip: the input as a plaintext. */
  yz_noise_cipherstate e, d;
  yz_noise_cs_init(&e, cipher);
  yz_noise_cs_init(&d, cipher);
  yz_noise_cs_initialize_key(&e, key);
  yz_noise_cs_initialize_key(&d, key);
  FUZZ_CHECK(yz_noise_cs_set_nonce(&e, nonce) == 0);
  FUZZ_CHECK(yz_noise_cs_set_nonce(&d, nonce) == 0);
  if (flags & 2) {
    FUZZ_CHECK(yz_noise_cs_rekey(&e) == 0);
    FUZZ_CHECK(yz_noise_cs_rekey(&d) == 0);
    FUZZ_CHECK(yz_noise_cs_nonce(&e) == nonce);
  }
  static uint8_t cbuf[YZ_NOISE_MAX_MSG_LEN + 64], pbuf[YZ_NOISE_MAX_MSG_LEN];
  size_t clen = 0, plen = 0;
  rc = yz_noise_cs_encrypt_with_ad(&e, ad, adlen, ct, ctlen, cbuf,
                                   sizeof cbuf, &clen);
  if (ctlen > YZ_NOISE_MAX_PAYLOAD_LEN) {
    FUZZ_CHECK(rc == YZ_E_TOO_LARGE);
  } else {
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(clen == ctlen + YZ_NOISE_TAG_LEN);
    FUZZ_CHECK(yz_noise_cs_nonce(&e) == nonce + 1);
    if (flags & 8) {
      cbuf[(flags >> 4) % clen] ^= 1;
      FUZZ_CHECK(yz_noise_cs_decrypt_with_ad(&d, ad, adlen, cbuf, clen, pbuf,
                                             sizeof pbuf, &plen) ==
                 YZ_E_DECRYPT);
      cbuf[(flags >> 4) % clen] ^= 1;
    }
    FUZZ_CHECK(yz_noise_cs_decrypt_with_ad(&d, ad, adlen, cbuf, clen, pbuf,
                                           sizeof pbuf, &plen) == 0);
    FUZZ_CHECK(plen == ctlen && (plen == 0 || memcmp(pbuf, ct, plen) == 0));
    /* The last nonce, 2^64-2, is usable once; then the state is spent. */
    if (nonce == YZ_NOISE_NONCE_MAX)
      FUZZ_CHECK(yz_noise_cs_encrypt_with_ad(&e, ad, adlen, ct, ctlen, cbuf,
                                             sizeof cbuf, &clen) ==
                 YZ_E_NONCE_EXHAUSTED);
  }
  /* Without a key, EncryptWithAd copies the plaintext. */
  yz_noise_cipherstate nk;
  yz_noise_cs_init(&nk, cipher);
  if (ctlen <= YZ_NOISE_MAX_MSG_LEN) {
    FUZZ_CHECK(yz_noise_cs_encrypt_with_ad(&nk, ad, adlen, ct, ctlen, cbuf,
                                           sizeof cbuf, &clen) == 0);
    FUZZ_CHECK(clen == ctlen && (clen == 0 || memcmp(cbuf, ct, clen) == 0));
  }
  yz_noise_cs_clear(&cs);
  yz_noise_cs_clear(&e);
  yz_noise_cs_clear(&d);
  yz_noise_cs_clear(&nk);
  return 0;
}
