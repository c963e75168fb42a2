/*
 * A node's long-term identity: an Ed25519 key pair and its node ID,
 * SHA-256(public key). Everything here is libsodium; this file only fixes
 * the shapes and the text form of node IDs.
 */
#include "yz/identity.h"

#include <sodium.h>
#include <string.h>

#include "common/util.h"

_Static_assert(YZ_NODE_ID_LEN == crypto_hash_sha256_BYTES, "node ID size");
_Static_assert(YZ_IDENTITY_PK_LEN == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(YZ_IDENTITY_SK_LEN == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(YZ_IDENTITY_SEED_LEN == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(YZ_IDENTITY_SIG_LEN == crypto_sign_BYTES, "sig size");

int yz_identity_generate(yz_identity *id)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  if (yz_init() != 0)
    return YZ_E_IO;
  randombytes_buf(seed, sizeof seed);
  int rc = yz_identity_from_seed(id, seed);
  sodium_memzero(seed, sizeof seed);
  return rc;
}

int yz_identity_from_seed(yz_identity *id,
                          const uint8_t seed[YZ_IDENTITY_SEED_LEN])
{
  if (yz_init() != 0)
    return YZ_E_IO;
  /* RFC 8032 5.1.5: the secret scalar is derived from SHA-512(seed);
   * libsodium keeps sk = seed || pk. */
  if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0) {
    sodium_memzero(id, sizeof *id);
    return YZ_E_IO;
  }
  yz_node_id_from_public_key(&id->id, id->pk);
  return 0;
}

void yz_identity_clear(yz_identity *id)
{
  if (id != NULL)
    sodium_memzero(id, sizeof *id);
}

const uint8_t *yz_identity_public_key(const yz_identity *id)
{
  return id->pk;
}

const yz_node_id *yz_identity_node_id(const yz_identity *id)
{
  return &id->id;
}

void yz_identity_sign(const yz_identity *id, const uint8_t *msg, size_t len,
                      uint8_t sig[YZ_IDENTITY_SIG_LEN])
{
  /* Ed25519 signing is deterministic (RFC 8032): no randomness to fail. */
  crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int yz_identity_verify(const uint8_t pk[YZ_IDENTITY_PK_LEN],
                       const uint8_t *msg, size_t len,
                       const uint8_t sig[YZ_IDENTITY_SIG_LEN])
{
  /* libsodium 1.0.18 also rejects small-order public keys and
   * non-canonical signatures, so a signature binds one key only. */
  if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
    return YZ_E_BAD_SIGNATURE;
  return 0;
}

void yz_node_id_from_public_key(yz_node_id *out,
                                const uint8_t pk[YZ_IDENTITY_PK_LEN])
{
  crypto_hash_sha256(out->bytes, pk, YZ_IDENTITY_PK_LEN);
}

bool yz_node_id_equal(const yz_node_id *a, const yz_node_id *b)
{
  /* Node IDs are public, but the comparison decides whom we trust: keep
   * it constant-time so the time taken says nothing either way. */
  return sodium_memcmp(a->bytes, b->bytes, YZ_NODE_ID_LEN) == 0;
}

void yz_node_id_to_hex(const yz_node_id *id, char out[YZ_NODE_ID_HEX_LEN + 1])
{
  yz__hex_encode(out, id->bytes, YZ_NODE_ID_LEN);
}

static bool is_lower_hex(uint8_t c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int yz_node_id_parse(yz_node_id *out, const uint8_t *text, size_t len,
                     const char **reason)
{
  const char *why = NULL;
  int rc = YZ_E_MALFORMED;

  /* The character checks come first: "has a 0x prefix" says more than
   * "66 characters". Each kind of mistake gets its own reason. */
  if (len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    why = "node ID has a '0x' prefix: write the 64 hex digits alone";
    goto fail;
  }
  for (size_t i = 0; i < len; i++) {
    uint8_t c = text[i];
    if (is_lower_hex(c))
      continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f')
      why = "node ID contains whitespace";
    else if (c >= 'A' && c <= 'F')
      why = "node ID contains uppercase hex digits: node IDs are written in "
            "lowercase";
    else if (c == ':')
      why = "node ID contains ':' separators: write the 64 hex digits alone";
    else
      why = "node ID contains a character that is not a hex digit";
    goto fail;
  }
  if (len < YZ_NODE_ID_HEX_LEN) {
    rc = YZ_E_TRUNCATED;
    why = len == 0 ? "node ID is empty: want 64 lowercase hex digits"
                   : "node ID is too short: want 64 lowercase hex digits";
    goto fail;
  }
  if (len > YZ_NODE_ID_HEX_LEN) {
    rc = YZ_E_TRAILING;
    why = "node ID is too long: want 64 lowercase hex digits";
    goto fail;
  }
  rc = yz__hex_decode(out->bytes, YZ_NODE_ID_LEN, (const char *)text, len);
  if (rc != 0) { /* unreachable after the checks above; keep it honest */
    why = "node ID is not valid hex";
    goto fail;
  }
  if (reason != NULL)
    *reason = NULL;
  return 0;

fail:
  memset(out, 0, sizeof *out);
  if (reason != NULL)
    *reason = why;
  return rc;
}
