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
  YZ_NODE_ID_LEN = 32,     /* SHA-256 output */
  YZ_NODE_ID_HEX_LEN = 64, /* text form, without NUL */
  YZ_IDENTITY_PK_LEN = 32, /* Ed25519 public key */
  YZ_IDENTITY_SK_LEN = 64, /* Ed25519 secret key (libsodium form) */
  YZ_IDENTITY_SEED_LEN = 32,
  YZ_IDENTITY_SIG_LEN = 64, /* Ed25519 signature */
  /* Key files larger than this are refused before parsing. */
  YZ_IDENTITY_KEYFILE_MAX = 4096,
  /* A buffer this size always holds yz_identity_format_keyfile()'s text. */
  YZ_IDENTITY_KEYFILE_TEXT_MAX = 512,
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
                                size_t len, uint8_t sig[YZ_IDENTITY_SIG_LEN]);

/* Verify a detached Ed25519 signature: 0 or YZ_E_BAD_SIGNATURE. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_identity_verify(const uint8_t pk[YZ_IDENTITY_PK_LEN], const uint8_t *msg,
                   size_t len, const uint8_t sig[YZ_IDENTITY_SIG_LEN]);

/* node ID = SHA-256(pk). */
YZ_EXPORT void
yz_node_id_from_public_key(yz_node_id *out,
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
 * Key files. The format is documented in docs/operations.md ("Keys and key
 * files"): a small text file, at most YZ_IDENTITY_KEYFILE_MAX bytes,
 *
 *   yz-identity-v1
 *   # comment lines (ignored)
 *   node-id <64 lowercase hex digits>   (optional; checked against the seed)
 *   seed <64 lowercase hex digits>      (the Ed25519 seed, RFC 8032)
 *
 * LF line endings, printable ASCII only, every line ends in LF, no empty
 * lines, each of seed and node-id at most once, nothing else.
 */

/*
 * Create path holding id's key file: O_CREAT|O_EXCL with mode 0600 (never
 * overwrites, never follows a symlink at path), written in full, fsync'd,
 * then the directory fsync'd. 0, or YZ_E_IO with errno kept (EEXIST when
 * the file exists); a partly written file is removed.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_save(const yz_identity *id,
                                              const char *path);

/*
 * Load a key file. Symlinks are followed; the checks are made on the file
 * actually opened (fstat): it must be a regular file, with no permission
 * bit for group or others (mode 0600 or 0400), else YZ_E_PERM and a
 * reason "key file F is readable by others (mode 0644); run: chmod 600 F",
 * as ssh does. Then the text is parsed as yz_identity_parse_keyfile().
 * Returns 0, YZ_E_NOENT (no such file), YZ_E_IO (errno kept), YZ_E_PERM,
 * YZ_E_TOO_LARGE, or a parse error. *reason (if not NULL) is NULL on
 * success, else a message that names the file; it points to a
 * thread-local buffer valid until the next load in the same thread.
 * Every buffer that held the seed is wiped; on error *id is wiped.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_identity_load(yz_identity *id, const char *path, const char **reason);

/*
 * yz-node's "created on first run": load path; if it does not exist,
 * generate a new identity and save it there (*created = true). If another
 * process creates the file in between, that file is loaded instead.
 * Errors and *reason as yz_identity_load(); a failed save is YZ_E_IO.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_load_or_create(yz_identity *id,
                                                        const char *path,
                                                        bool *created,
                                                        const char **reason);

/*
 * The pure key-file parser behind yz_identity_load(): bounded, strict,
 * fuzzable. 0, or YZ_E_TOO_LARGE (over YZ_IDENTITY_KEYFILE_MAX bytes),
 * YZ_E_TRUNCATED (empty, no final newline, short seed, no seed line),
 * YZ_E_TRAILING (seed too long), YZ_E_DUPLICATE (seed or node-id twice),
 * YZ_E_UNSUPPORTED (another yz-identity-vN), YZ_E_MALFORMED (anything
 * else, including a node-id line that does not match the seed). *reason
 * (if not NULL) gets a static explanation. On error *id is wiped.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_identity_parse_keyfile(yz_identity *id,
                                                       const uint8_t *data,
                                                       size_t len,
                                                       const char **reason);

/* The key-file text of an identity (with its node-id line), NUL-terminated,
 * into out (cap bytes; YZ_IDENTITY_KEYFILE_TEXT_MAX always suffices);
 * returns its length without the NUL, or YZ_E_TOO_LARGE. The output holds
 * the secret: wipe it after use. */
YZ_EXPORT int yz_identity_format_keyfile(const yz_identity *id, char *out,
                                         size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* YZ_IDENTITY_H */
