/*
 * HASH, HMAC-HASH and HKDF (Noise spec section 4.3) over SHA256, SHA512 and
 * BLAKE2b, from libsodium's incremental hash APIs.
 *
 * HMAC is RFC 2104 with the hash's block length (64 for SHA256, 128 for
 * SHA512 and BLAKE2b, section 4.3). BLAKE2b is used unkeyed, as the spec's
 * HMAC construction requires. For SHA256 and SHA512 an HMAC key is turned
 * once into the two states after the ipad/opad block (yz__noise_hmac_key),
 * so HKDF's MACs under the same temp_key cost only their message blocks;
 * BLAKE2b gains nothing from that (see hmac_direct).
 */
#include <string.h>

#include "noise/noise_internal.h"

size_t yz__noise_hashlen(int hash)
{
  return hash == YZ_NOISE_HASH_SHA256 ? 32 : 64;
}

size_t yz__noise_blocklen(int hash)
{
  return hash == YZ_NOISE_HASH_SHA256 ? 64 : 128;
}

void yz__noise_hash_init(yz__noise_hash_state *st, int hash)
{
  switch (hash) {
  case YZ_NOISE_HASH_SHA256:
    crypto_hash_sha256_init(&st->sha256);
    break;
  case YZ_NOISE_HASH_SHA512:
    crypto_hash_sha512_init(&st->sha512);
    break;
  default:
    crypto_generichash_init(&st->blake2b, NULL, 0, 64);
    break;
  }
}

void yz__noise_hash_update(yz__noise_hash_state *st, int hash,
                           const uint8_t *p, size_t n)
{
  switch (hash) {
  case YZ_NOISE_HASH_SHA256:
    crypto_hash_sha256_update(&st->sha256, p, n);
    break;
  case YZ_NOISE_HASH_SHA512:
    crypto_hash_sha512_update(&st->sha512, p, n);
    break;
  default:
    crypto_generichash_update(&st->blake2b, p, n);
    break;
  }
}

void yz__noise_hash_final(yz__noise_hash_state *st, int hash, uint8_t *out)
{
  switch (hash) {
  case YZ_NOISE_HASH_SHA256:
    crypto_hash_sha256_final(&st->sha256, out);
    break;
  case YZ_NOISE_HASH_SHA512:
    crypto_hash_sha512_final(&st->sha512, out);
    break;
  default:
    crypto_generichash_final(&st->blake2b, out, 64);
    break;
  }
}

void yz__noise_hash(int hash, uint8_t *out, const uint8_t *p, size_t n)
{
  switch (hash) {
  case YZ_NOISE_HASH_SHA256:
    crypto_hash_sha256(out, p, n);
    break;
  case YZ_NOISE_HASH_SHA512:
    crypto_hash_sha512(out, p, n);
    break;
  default:
    crypto_generichash(out, 64, p, n, NULL, 0);
    break;
  }
}

void yz__noise_hash2(int hash, uint8_t *out, const uint8_t *a, size_t an,
                     const uint8_t *b, size_t bn)
{
  yz__noise_hash_state st;
  yz__noise_hash_init(&st, hash);
  yz__noise_hash_update(&st, hash, a, an);
  if (bn)
    yz__noise_hash_update(&st, hash, b, bn);
  yz__noise_hash_final(&st, hash, out);
  /* No wipe: this serves MixHash only, whose inputs (h and the public
   * keys and ciphertexts of the transcript) are public. */
}

void yz__noise_hmac_init(yz__noise_hmac_key *hk, int hash, const uint8_t *key,
                         size_t keylen)
{
  uint8_t block[128];
  uint8_t kh[YZ_NOISE_MAX_HASH_LEN];
  size_t blocklen = yz__noise_blocklen(hash);

  /* RFC 2104: a key longer than the block is hashed first. Noise only
   * ever uses hashlen-byte keys, but HMAC-HASH is defined for any. */
  if (keylen > blocklen) {
    yz__noise_hash(hash, kh, key, keylen);
    key = kh;
    keylen = yz__noise_hashlen(hash);
  }
  hk->hash = hash;

  memset(block, 0x36, blocklen);
  for (size_t i = 0; i < keylen; i++)
    block[i] ^= key[i];
  yz__noise_hash_init(&hk->inner, hash);
  yz__noise_hash_update(&hk->inner, hash, block, blocklen);

  for (size_t i = 0; i < blocklen; i++)
    block[i] ^= 0x36 ^ 0x5c;
  yz__noise_hash_init(&hk->outer, hash);
  yz__noise_hash_update(&hk->outer, hash, block, blocklen);

  sodium_memzero(block, sizeof block);
  sodium_memzero(kh, sizeof kh);
}

void yz__noise_hmac2(const yz__noise_hmac_key *hk, uint8_t *out,
                     const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
  yz__noise_hash_state st;
  uint8_t ih[YZ_NOISE_MAX_HASH_LEN];
  int hash = hk->hash;

  st = hk->inner;
  if (an)
    yz__noise_hash_update(&st, hash, a, an);
  if (bn)
    yz__noise_hash_update(&st, hash, b, bn);
  yz__noise_hash_final(&st, hash, ih);

  st = hk->outer;
  yz__noise_hash_update(&st, hash, ih, yz__noise_hashlen(hash));
  yz__noise_hash_final(&st, hash, out);

  sodium_memzero(&st, sizeof st);
  sodium_memzero(ih, sizeof ih);
}

void yz__noise_hmac(int hash, uint8_t *out, const uint8_t *key, size_t keylen,
                    const uint8_t *data, size_t n)
{
  yz__noise_hmac_key hk;
  yz__noise_hmac_init(&hk, hash, key, keylen);
  yz__noise_hmac2(&hk, out, data, n, NULL, 0);
  sodium_memzero(&hk, sizeof hk);
}

/*
 * HMAC-HASH(key, a || b) for a key of hashlen bytes, without the padded-key
 * states. libsodium's BLAKE2b buffers up to two blocks before compressing,
 * so a saved state after the key block holds no work: for BLAKE2b the
 * pads cost the same every time and this direct form is the cheaper one.
 */
static void hmac_direct(int hash, uint8_t *out, const uint8_t *key,
                        const uint8_t *a, size_t an, const uint8_t *b,
                        size_t bn)
{
  yz__noise_hash_state st;
  uint8_t block[128], ih[YZ_NOISE_MAX_HASH_LEN];
  size_t hl = yz__noise_hashlen(hash), bl = yz__noise_blocklen(hash);

  for (size_t i = 0; i < hl; i++)
    block[i] = key[i] ^ 0x36;
  memset(block + hl, 0x36, bl - hl);
  yz__noise_hash_init(&st, hash);
  yz__noise_hash_update(&st, hash, block, bl);
  if (an)
    yz__noise_hash_update(&st, hash, a, an);
  if (bn)
    yz__noise_hash_update(&st, hash, b, bn);
  yz__noise_hash_final(&st, hash, ih);

  for (size_t i = 0; i < bl; i++)
    block[i] ^= 0x36 ^ 0x5c;
  yz__noise_hash_init(&st, hash);
  yz__noise_hash_update(&st, hash, block, bl);
  yz__noise_hash_update(&st, hash, ih, hl);
  yz__noise_hash_final(&st, hash, out);

  sodium_memzero(block, sizeof block);
  sodium_memzero(ih, sizeof ih);
  sodium_memzero(&st, sizeof st);
}

void yz__noise_hkdf(int hash, const uint8_t *ck, const uint8_t *ikm,
                    size_t ikmlen, uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
  size_t hl = yz__noise_hashlen(hash);
  uint8_t temp_key[YZ_NOISE_MAX_HASH_LEN];
  yz__noise_hmac_key hk;
  static const uint8_t one = 1, two = 2, three = 3;

  if (hash == YZ_NOISE_HASH_BLAKE2B) {
    /* The same four steps as below, each MAC computed in full. */
    hmac_direct(hash, temp_key, ck, ikm, ikmlen, NULL, 0);
    hmac_direct(hash, out1, temp_key, &one, 1, NULL, 0);
    hmac_direct(hash, out2, temp_key, out1, hl, &two, 1);
    if (out3)
      hmac_direct(hash, out3, temp_key, out2, hl, &three, 1);
    sodium_memzero(temp_key, sizeof temp_key);
    return;
  }

  /* temp_key = HMAC-HASH(chaining_key, input_key_material) */
  yz__noise_hmac(hash, temp_key, ck, hl, ikm, ikmlen);
  yz__noise_hmac_init(&hk, hash, temp_key, hl);
  /* output1 = HMAC-HASH(temp_key, byte(0x01)) */
  yz__noise_hmac2(&hk, out1, &one, 1, NULL, 0);
  /* output2 = HMAC-HASH(temp_key, output1 || byte(0x02)) */
  yz__noise_hmac2(&hk, out2, out1, hl, &two, 1);
  /* output3 = HMAC-HASH(temp_key, output2 || byte(0x03)) */
  if (out3)
    yz__noise_hmac2(&hk, out3, out2, hl, &three, 1);

  sodium_memzero(temp_key, sizeof temp_key);
  sodium_memzero(&hk, sizeof hk);
}
