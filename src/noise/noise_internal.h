/*
 * Internals of the noise layer: the hash functions with their HMAC and HKDF
 * (spec section 4.3 and 5.2), the compiled pattern tokens and the pattern
 * table (section 7). Not installed; tests may use these yz__ functions.
 */
#ifndef YZ_NOISE_INTERNAL_H
#define YZ_NOISE_INTERNAL_H

#include <sodium.h>

#include "yz/noise.h"

/* The public sizes are libsodium's (checked here, not assumed). */
_Static_assert(YZ_NOISE_KEY_LEN ==
                       crypto_aead_chacha20poly1305_IETF_KEYBYTES &&
                   YZ_NOISE_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES,
               "cipher key length");
_Static_assert(YZ_NOISE_TAG_LEN == crypto_aead_chacha20poly1305_IETF_ABYTES &&
                   YZ_NOISE_TAG_LEN == crypto_aead_aes256gcm_ABYTES,
               "AEAD tag length");
_Static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12 &&
                   crypto_aead_aes256gcm_NPUBBYTES == 12,
               "96-bit nonces (sections 12.3, 12.4)");
_Static_assert(YZ_NOISE_DH_LEN == crypto_scalarmult_BYTES &&
                   YZ_NOISE_DH_LEN == crypto_scalarmult_SCALARBYTES,
               "X25519 key length");
_Static_assert(YZ_NOISE_MAX_HASH_LEN == crypto_hash_sha512_BYTES &&
                   YZ_NOISE_MAX_HASH_LEN == crypto_generichash_BYTES_MAX,
               "largest HASHLEN");
_Static_assert(YZ_NOISE_MAX_NAME_LEN < 256, "name_len is a uint8_t");

/* ---- HASH, HMAC-HASH, HKDF (section 4.3) -------------------------------- */

/* One running hash of any of the three functions. Plain structs, so a
 * state may be copied to fork a computation (how HMAC reuses its pads). */
typedef union yz__noise_hash_state {
  crypto_hash_sha256_state sha256;
  crypto_hash_sha512_state sha512;
  crypto_generichash_state blake2b;
} yz__noise_hash_state;

/* HASHLEN and BLOCKLEN of a yz_noise_hash. */
size_t yz__noise_hashlen(int hash);
size_t yz__noise_blocklen(int hash);

void yz__noise_hash_init(yz__noise_hash_state *st, int hash);
void yz__noise_hash_update(yz__noise_hash_state *st, int hash,
                           const uint8_t *p, size_t n);
void yz__noise_hash_final(yz__noise_hash_state *st, int hash, uint8_t *out);

/* HASH(data): hashlen bytes into out. */
void yz__noise_hash(int hash, uint8_t *out, const uint8_t *p, size_t n);

/* HASH(a || b) without building the concatenation. For public data only
 * (MixHash): the state is not wiped. */
void yz__noise_hash2(int hash, uint8_t *out, const uint8_t *a, size_t an,
                     const uint8_t *b, size_t bn);

/* An HMAC key: the inner and outer states after their padded key block, so
 * one key can MAC several messages at the cost of the messages only. */
typedef struct yz__noise_hmac_key {
  yz__noise_hash_state inner, outer;
  int hash;
} yz__noise_hmac_key;

void yz__noise_hmac_init(yz__noise_hmac_key *hk, int hash, const uint8_t *key,
                         size_t keylen);
/* HMAC-HASH(key, a || b); b may be NULL when bn is 0. */
void yz__noise_hmac2(const yz__noise_hmac_key *hk, uint8_t *out,
                     const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
/* HMAC-HASH(key, data) in one call (RFC 2104). */
void yz__noise_hmac(int hash, uint8_t *out, const uint8_t *key, size_t keylen,
                    const uint8_t *data, size_t n);

/* HKDF(chaining_key, input_key_material, num_outputs), section 4.3:
 * num_outputs is 2 (out3 NULL) or 3. chaining_key is hashlen bytes; every
 * output is hashlen bytes. */
void yz__noise_hkdf(int hash, const uint8_t *ck, const uint8_t *ikm,
                    size_t ikmlen, uint8_t *out1, uint8_t *out2,
                    uint8_t *out3);

/* ---- The AEAD backend (cipherstate.c) ----------------------------------
 */

/* How ENCRYPT and DECRYPT are routed, process-wide. AUTO (the default):
 * libcrypto where it is faster (ChaChaPoly from 128 bytes of plaintext,
 * AESGCM from 384 or without AES-NI), libsodium otherwise. LIBSODIUM,
 * OPENSSL: every call through the one named (tests comparing the two byte
 * for byte, and `yz bench noise`). */
enum {
  YZ__AEAD_AUTO = 0,
  YZ__AEAD_LIBSODIUM = 1,
  YZ__AEAD_OPENSSL = 2,
};

/* Set the route: 0; YZ_E_UNSUPPORTED for OPENSSL in a build without it or
 * when libcrypto has no usable cipher; YZ_E_INVAL for another value. Not
 * synchronised: tests and benchmarks call it before the messages. */
int yz__noise_aead_route(int route);

/* EncryptWithAd(empty ad, head || body) into out: the same bytes, nonce
 * and errors as yz_noise_cs_encrypt_with_ad() of the concatenation, but
 * through libcrypto the body is encrypted from where it lies, with no copy
 * (the session's frames: a header of a few bytes, then the application's
 * bytes). Otherwise body and head are first copied to out. head must not
 * overlap out; a body that overlaps out takes the copying path. */
int yz__noise_cs_encrypt_gather(yz_noise_cipherstate *cs, const uint8_t *head,
                                size_t headlen, const uint8_t *body,
                                size_t bodylen, uint8_t *out, size_t outcap,
                                size_t *outlen);

/* How many of the calling thread's libcrypto contexts hold key k (tests:
 * yz_noise_cs_clear() and Rekey must leave none). 0 without libcrypto. */
int yz__noise_aead_contexts_holding(const uint8_t k[YZ_NOISE_KEY_LEN]);

/* Whether AESGCM can run: through libcrypto, or libsodium with AES-NI. */
bool yz__noise_aead_aesgcm_ok(void);

/* ---- DH (section 4.1) ----------------------------------------------------
 */

/* DH(priv, pub): 0, or YZ_E_MALFORMED when the result is the all-zero value
 * (a low-order point: section 12.1 allows either rejecting or not). */
int yz__noise_dh(uint8_t out[YZ_NOISE_DH_LEN],
                 const uint8_t priv[YZ_NOISE_DH_LEN],
                 const uint8_t pub[YZ_NOISE_DH_LEN]);

/* ---- Patterns (section 7) ------------------------------------------------
 */

/* Message tokens, as compiled into yz_noise_protocol.tokens. Each message's
 * tokens end with MSG_END; the whole handshake with END. DH tokens are named
 * from the initiator's side ("es": initiator's e with responder's s). */
enum yz__noise_token {
  YZ__TOK_END = 0,
  YZ__TOK_E,
  YZ__TOK_S,
  YZ__TOK_EE,
  YZ__TOK_ES,
  YZ__TOK_SE,
  YZ__TOK_SS,
  YZ__TOK_PSK,
  YZ__TOK_MSG_END,
};

/* The protocol's flags (yz_noise_protocol.flags). */
enum {
  YZ__PROTO_ONEWAY = 1,
  YZ__PROTO_PSK = 2, /* any psk modifier: 'e' also calls MixKey (sect. 9.2) */
};

#endif
