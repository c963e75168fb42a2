/*
 * seal layer internals: the sealing functions with their random bytes
 * passed in, so the vectors (tests/vectors/yz-seal-v1.json) can fix every
 * nonce, content key, topic key and ephemeral key. Not exported; the
 * public functions call these with libsodium's randombytes_buf.
 */
#ifndef YZ_SEAL_INTERNAL_H
#define YZ_SEAL_INTERNAL_H

#include "yz/seal.h"

/* A source of random bytes. */
typedef struct yz__seal_rng {
  void (*fn)(uint8_t *out, size_t n, void *ud);
  void *ud;
} yz__seal_rng;

/* The header of a kind: "yzs" 00 version kind. */
void yz__seal_header(uint8_t h[YZ_SEAL_HEADER_LEN], yz_seal_kind kind);

/* A sealed box of a 32-byte key to x_pk, libsodium's crypto_box_seal
 * construction with the ephemeral key pair from a 32-byte seed
 * (crypto_box_seed_keypair): out = epk || crypto_box(m, nonce =
 * BLAKE2b-192(epk || x_pk)). crypto_box_seal_open() opens it. */
int yz__seal_box(uint8_t out[YZ_SEAL_BOX_LEN], const uint8_t m[32],
                 const uint8_t x_pk[32], const uint8_t eph_seed[32]);

int yz__seal_private(const yz_seal_user *u, const uint8_t key[32],
                     uint64_t seq, const uint8_t *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *outlen,
                     const yz__seal_rng *rng);
int yz__seal_shared(const yz_seal_user *u, const uint8_t key[32], uint64_t seq,
                    const uint8_t *recipients, size_t n, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *outlen,
                    const yz__seal_rng *rng);
int yz__seal_topic_create(yz_seal_topic_owner *t, const yz_seal_user *u,
                          const uint8_t topic[32], const uint8_t *members,
                          size_t n, const yz__seal_rng *rng);
int yz__seal_topic_add(yz_seal_topic_owner *t, const uint8_t member[32],
                       const yz__seal_rng *rng);
int yz__seal_topic_remove(yz_seal_topic_owner *t, const yz_seal_user *u,
                          const uint8_t member[32], const yz__seal_rng *rng);
/* The value of a topic key record (what yz_seal_topic_record() signs). */
int yz__seal_topic_value(const yz_seal_topic_owner *t, const yz_seal_user *u,
                         const uint8_t key[32], uint64_t seq, uint8_t *out,
                         size_t cap, size_t *outlen, const yz__seal_rng *rng);
int yz__seal_topic_seal(const yz_seal_keyring *kr, const uint8_t author[32],
                        const uint8_t *pt, size_t pt_len, uint8_t *out,
                        size_t cap, size_t *outlen, uint64_t *epoch,
                        const yz__seal_rng *rng);
/* The message key of an epoch's topic key. */
void yz__seal_topic_msg_key(uint8_t mk[32], const uint8_t topic_key[32],
                            uint64_t epoch);

#endif
