/*
 * SymmetricState (Noise spec section 5.2): the chaining key ck, the
 * handshake hash h and the CipherState they key.
 */
#include <string.h>

#include "noise/noise_internal.h"

void yz_noise_ss_init(yz_noise_symmetricstate *ss, const yz_noise_protocol *p)
{
  size_t hl = yz__noise_hashlen(p->hash);
  size_t len = p->name_len;

  sodium_memzero(ss, sizeof *ss);
  ss->hash = (uint8_t)p->hash;
  ss->hashlen = (uint8_t)hl;
  /* InitializeSymmetric(protocol_name): h = the name zero-padded to
   * HASHLEN if it fits, else HASH(name); ck = h. */
  if (len <= hl)
    memcpy(ss->h, p->name, len);
  else
    yz__noise_hash(p->hash, ss->h, (const uint8_t *)p->name, len);
  memcpy(ss->ck, ss->h, hl);
  yz_noise_cs_init(&ss->cs, p->cipher);
}

void yz_noise_ss_mix_key(yz_noise_symmetricstate *ss, const uint8_t *ikm,
                         size_t len)
{
  uint8_t ck[YZ_NOISE_MAX_HASH_LEN], temp_k[YZ_NOISE_MAX_HASH_LEN];

  /* ck, temp_k = HKDF(ck, input_key_material, 2); temp_k truncated to 32
   * bytes when HASHLEN is 64. */
  yz__noise_hkdf(ss->hash, ss->ck, ikm, len, ck, temp_k, NULL);
  memcpy(ss->ck, ck, ss->hashlen);
  yz_noise_cs_initialize_key(&ss->cs, temp_k);
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(temp_k, sizeof temp_k);
}

void yz_noise_ss_mix_hash(yz_noise_symmetricstate *ss, const uint8_t *data,
                          size_t len)
{
  /* h = HASH(h || data) */
  yz__noise_hash2(ss->hash, ss->h, ss->h, ss->hashlen, data, len);
}

void yz_noise_ss_mix_key_and_hash(yz_noise_symmetricstate *ss,
                                  const uint8_t *ikm, size_t len)
{
  uint8_t ck[YZ_NOISE_MAX_HASH_LEN], temp_h[YZ_NOISE_MAX_HASH_LEN],
      temp_k[YZ_NOISE_MAX_HASH_LEN];

  /* ck, temp_h, temp_k = HKDF(ck, input_key_material, 3) */
  yz__noise_hkdf(ss->hash, ss->ck, ikm, len, ck, temp_h, temp_k);
  memcpy(ss->ck, ck, ss->hashlen);
  yz_noise_ss_mix_hash(ss, temp_h, ss->hashlen);
  yz_noise_cs_initialize_key(&ss->cs, temp_k);
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(temp_h, sizeof temp_h);
  sodium_memzero(temp_k, sizeof temp_k);
}

size_t yz_noise_ss_get_handshake_hash(const yz_noise_symmetricstate *ss,
                                      uint8_t out[YZ_NOISE_MAX_HASH_LEN])
{
  memcpy(out, ss->h, ss->hashlen);
  return ss->hashlen;
}

int yz_noise_ss_encrypt_and_hash(yz_noise_symmetricstate *ss,
                                 const uint8_t *pt, size_t ptlen, uint8_t *out,
                                 size_t outcap, size_t *outlen)
{
  /* ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext) */
  int rc = yz_noise_cs_encrypt_with_ad(&ss->cs, ss->h, ss->hashlen, pt, ptlen,
                                       out, outcap, outlen);
  if (rc == 0)
    yz_noise_ss_mix_hash(ss, out, *outlen);
  return rc;
}

int yz_noise_ss_decrypt_and_hash(yz_noise_symmetricstate *ss,
                                 const uint8_t *ct, size_t ctlen, uint8_t *out,
                                 size_t outcap, size_t *outlen)
{
  uint8_t h[YZ_NOISE_MAX_HASH_LEN];
  int rc;

  /* plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). The
   * new h is computed first, so that out may overwrite ct in place; it is
   * committed only if the ciphertext was authentic. */
  if (ctlen > YZ_NOISE_MAX_MSG_LEN)
    return YZ_E_TOO_LARGE;
  yz__noise_hash2(ss->hash, h, ss->h, ss->hashlen, ct, ctlen);
  rc = yz_noise_cs_decrypt_with_ad(&ss->cs, ss->h, ss->hashlen, ct, ctlen, out,
                                   outcap, outlen);
  if (rc == 0)
    memcpy(ss->h, h, ss->hashlen);
  return rc;
}

void yz_noise_ss_split(const yz_noise_symmetricstate *ss,
                       yz_noise_cipherstate *c1, yz_noise_cipherstate *c2)
{
  uint8_t k1[YZ_NOISE_MAX_HASH_LEN], k2[YZ_NOISE_MAX_HASH_LEN];

  /* temp_k1, temp_k2 = HKDF(ck, zerolen, 2), each truncated to 32. */
  yz__noise_hkdf(ss->hash, ss->ck, NULL, 0, k1, k2, NULL);
  yz_noise_cs_init(c1, ss->cs.cipher);
  yz_noise_cs_init(c2, ss->cs.cipher);
  yz_noise_cs_initialize_key(c1, k1);
  yz_noise_cs_initialize_key(c2, k2);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
}

void yz_noise_ss_clear(yz_noise_symmetricstate *ss)
{
  sodium_memzero(ss, sizeof *ss);
}
