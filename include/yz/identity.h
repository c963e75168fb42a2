/*
 * yz/identity.h: a node's long-term identity.
 *
 * A node is identified by an Ed25519 key pair. Its node ID is
 * SHA-256(identity public key), 32 bytes, written as 64 lowercase hex
 * digits. The Noise static key of a link may be fresh per process; the
 * identity key signs it (see yz/session.h and docs/protocol.md).
 */
#ifndef YZ_IDENTITY_H
#define YZ_IDENTITY_H

#include "yz/common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_NODE_ID_LEN = 32,      /* SHA-256 output */
  YZ_NODE_ID_HEX_LEN = 64,  /* text form, without NUL */
  YZ_IDENTITY_PK_LEN = 32,  /* Ed25519 public key */
  YZ_IDENTITY_SK_LEN = 64,  /* Ed25519 secret key (libsodium form) */
  YZ_IDENTITY_SEED_LEN = 32,
  YZ_IDENTITY_SIG_LEN = 64, /* Ed25519 signature */
};

/* A node ID. Compare with yz_node_id_equal(). */
typedef struct yz_node_id {
  uint8_t bytes[YZ_NODE_ID_LEN];
} yz_node_id;

/* An identity key pair and its node ID. Fields are private. */
typedef struct yz_identity {
  uint8_t sk[YZ_IDENTITY_SK_LEN];
  uint8_t pk[YZ_IDENTITY_PK_LEN];
  yz_node_id id;
} yz_identity;

/* A fresh identity from the CSPRNG. */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_generate(yz_identity *id);

/* The identity of a 32-byte Ed25519 seed (deterministic: tests, vectors). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_identity_from_seed(yz_identity *id,
                      const uint8_t seed[YZ_IDENTITY_SEED_LEN]);

/* Wipe the secret key. */
YZ_EXPORT void yz_identity_clear(yz_identity *id);

/* The public key and node ID of an identity. */
YZ_EXPORT const uint8_t *yz_identity_public_key(const yz_identity *id);
YZ_EXPORT const yz_node_id *yz_identity_node_id(const yz_identity *id);

/* Ed25519 signature of msg (detached, 64 bytes). */
YZ_EXPORT void yz_identity_sign(const yz_identity *id, const uint8_t *msg,
                                size_t len,
                                uint8_t sig[YZ_IDENTITY_SIG_LEN]);

/* Verify a detached Ed25519 signature: 0 or YZ_E_BAD_SIGNATURE. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_identity_verify(const uint8_t pk[YZ_IDENTITY_PK_LEN], const uint8_t *msg,
                   size_t len, const uint8_t sig[YZ_IDENTITY_SIG_LEN]);

/* node ID = SHA-256(pk). */
YZ_EXPORT void yz_node_id_from_public_key(yz_node_id *out,
                                          const uint8_t pk[YZ_IDENTITY_PK_LEN]);

/* Constant-time equality. */
YZ_EXPORT bool yz_node_id_equal(const yz_node_id *a, const yz_node_id *b);

/* The text form: 64 lowercase hex digits and a NUL. */
YZ_EXPORT void yz_node_id_to_hex(const yz_node_id *id,
                                 char out[YZ_NODE_ID_HEX_LEN + 1]);

/*
 * Parse the text form: exactly 64 lowercase hex digits, nothing else (no
 * uppercase, no prefix, no whitespace). 0, YZ_E_TRUNCATED, YZ_E_TRAILING or
 * YZ_E_MALFORMED; *reason (if not NULL) gets a static explanation.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_id_parse(yz_node_id *out,
                                              const uint8_t *text, size_t len,
                                              const char **reason);

/*
 * Key files. The format is documented in docs/operations.md: a small text
 * file holding the Ed25519 seed. yz_identity_save() creates the file with
 * mode 0600 and refuses to overwrite an existing one (YZ_E_IO, errno kept).
 * yz_identity_load() refuses a file that group or others can read or write
 * (YZ_E_PERM), with *reason saying how to fix it (chmod 600), as ssh does.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_save(const yz_identity *id,
                                              const char *path);
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_load(yz_identity *id,
                                              const char *path,
                                              const char **reason);

/* The pure key-file parser behind yz_identity_load(): bounded, strict,
 * fuzzable. */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_parse_keyfile(yz_identity *id,
                                                       const uint8_t *data,
                                                       size_t len,
                                                       const char **reason);

/* The key-file text of an identity, into out (cap bytes); returns its length
 * or YZ_E_TOO_LARGE. The output holds the secret: wipe it after use. */
YZ_EXPORT int yz_identity_format_keyfile(const yz_identity *id, char *out,
                                         size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* YZ_IDENTITY_H */
