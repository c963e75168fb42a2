/*
 * yz/dhtrec.h: DHT records (docs/protocol.md "DHT records").
 *
 * A DHT record is a value stored under a 32-byte key on the nodes closest
 * to that key. Two kinds:
 *   - immutable: key = SHA-256("yz dht immutable v1" 0x00 || value); anyone
 *     may store it, nobody can change it (another value has another key);
 *   - mutable: key = SHA-256("yz dht mutable v1" 0x00 || public key ||
 *     salt); the value is signed with Ed25519 by the key's owner over a byte
 *     string built field by field (yz_dhtrec_signed_bytes()), and replaced
 *     by a higher sequence number (BEP 44's rules, yz_dhtrec_replace()).
 * Both carry an expiry (Unix seconds) chosen by the writer, at most a
 * store's maximum ahead of its clock; for a mutable record it is signed.
 *
 * The wire form is canonical CBOR with integer keys (yz_dhtrec_encode());
 * the DHT messages embed it as a byte string. yz_dhtrec_decode() is the
 * strict, bounded decoder; yz_dhtrec_check() and yz_dhtrec_replace() are the
 * store's rules as pure functions, each refusal with its own status
 * (yz_dhtrec_status) and a static reason.
 *
 * A record does not own its value: r->value points into the caller's
 * buffer (the decoder's input, or the writer's value) and is valid as long
 * as that buffer is.
 */
#ifndef YZ_DHTREC_H
#define YZ_DHTREC_H

#include "yz/common.h"
#include "yz/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_DHTREC_KEY_LEN = 32,              /* SHA-256 */
  YZ_DHTREC_SALT_MAX = 64,             /* bytes of salt, 0..64 */
  YZ_DHTREC_VALUE_MAX_DEFAULT = 65536, /* the default value limit, 64 KiB */
  /* The largest value limit a store may configure (1 MiB): bounds every
   * buffer and the decoder's input whatever the configuration. */
  YZ_DHTREC_VALUE_MAX_LIMIT = 1048576,
  /* Default maximum of expiry - now: 48 hours. */
  YZ_DHTREC_EXPIRY_AHEAD_DEFAULT = 48 * 3600,
  /* The most bytes of CBOR around the value in an encoded record: the map
   * head, 7 keys, the fields other than the value (kind 1; expiry and seq
   * up to 9 each; public key 32 + 2, salt 64 + 2, signature 64 + 2) and the
   * value's head (up to 5 bytes). yz_dhtrec_encoded_max(). */
  YZ_DHTREC_OVERHEAD_MAX = 1 + 7 + 1 + 9 + 9 + 34 + 66 + 66 + 5,
  /* Bytes of the domain prefixes, each with its 0x00. */
  YZ_DHTREC_IMMUTABLE_PREFIX_LEN = 20,
  YZ_DHTREC_MUTABLE_PREFIX_LEN = 18,
  YZ_DHTREC_SIGN_PREFIX_LEN = 25,
  /* The signed byte string of a mutable record: prefix, public key, salt
   * length (1) and salt, seq, expiry, SHA-256 of the value. */
  YZ_DHTREC_SIGNED_MAX_LEN = YZ_DHTREC_SIGN_PREFIX_LEN + YZ_IDENTITY_PK_LEN +
                             1 + YZ_DHTREC_SALT_MAX + 8 + 8 + 32,
};

/* Domain prefixes (each used with its terminating NUL as a 0x00 byte). */
#define YZ_DHTREC_IMMUTABLE_PREFIX "yz dht immutable v1"
#define YZ_DHTREC_MUTABLE_PREFIX "yz dht mutable v1"
#define YZ_DHTREC_SIGN_PREFIX "yz dht mutable record v1"

/* Record kinds (map key 1). */
enum {
  YZ_DHTREC_IMMUTABLE = 1,
  YZ_DHTREC_MUTABLE = 2,
};

/* Record map keys (docs/protocol.md "DHT records", "Encoding"). An
 * immutable record has exactly keys 1..3, a mutable one exactly 1..7. */
enum {
  YZ_DHTREC_MAP_KIND = 1,
  YZ_DHTREC_MAP_VALUE = 2,
  YZ_DHTREC_MAP_EXPIRY = 3,
  YZ_DHTREC_MAP_PUBLIC_KEY = 4,
  YZ_DHTREC_MAP_SALT = 5,
  YZ_DHTREC_MAP_SEQ = 6,
  YZ_DHTREC_MAP_SIGNATURE = 7,
};

/*
 * Store statuses: what a store answers to a record it refuses. They are the
 * DHT message statuses of the same names (yz/dht_wire.h, docs/protocol.md
 * "DHT messages", "Statuses"), so a store puts them in its STATUS answer
 * as they are.
 */
typedef enum yz_dhtrec_status {
  YZ_DHTREC_OK = 0,
  YZ_DHTREC_MALFORMED = 1,      /* not a record (yz_dhtrec_decode()) */
  YZ_DHTREC_TOO_LARGE = 3,      /* value over the store's limit */
  YZ_DHTREC_BAD_SIGNATURE = 4,  /* mutable: the signature does not verify */
  YZ_DHTREC_WRONG_KEY = 5,      /* the key is not derived from the record */
  YZ_DHTREC_EXPIRED = 6,        /* expiry <= now */
  YZ_DHTREC_EXPIRY_TOO_FAR = 7, /* expiry > now + the store's maximum */
  YZ_DHTREC_SEQ_TOO_LOW = 8,    /* lower seq than the stored record */
  YZ_DHTREC_SEQ_CONFLICT = 9,   /* same seq, another value */
  YZ_DHTREC_CAS_MISMATCH = 10,  /* stored seq is not the expected one */
} yz_dhtrec_status;

/* The status's name, e.g. "BAD_SIGNATURE"; "UNKNOWN" for other numbers. */
YZ_EXPORT const char *yz_dhtrec_status_name(int status);

/*
 * A DHT record. All fields are public. Immutable: the writer sets kind,
 * value, value_len and expiry, then yz_dhtrec_derive_key(). Mutable: the
 * writer sets kind, salt, salt_len, seq, expiry, value and value_len, then
 * yz_dhtrec_sign*() sets public_key, key and signature. The decoder fills
 * every field (key derived).
 */
typedef struct yz_dhtrec {
  uint8_t kind; /* YZ_DHTREC_IMMUTABLE or YZ_DHTREC_MUTABLE */
  uint8_t key[YZ_DHTREC_KEY_LEN]; /* derived, never on the wire */
  const uint8_t *value;           /* borrowed, value_len bytes */
  size_t value_len;               /* 1..value limit */
  uint64_t expiry;                /* Unix seconds */
  /* mutable only (zero for immutable): */
  uint8_t public_key[YZ_IDENTITY_PK_LEN]; /* Ed25519 */
  uint8_t salt[YZ_DHTREC_SALT_MAX];
  uint8_t salt_len; /* 0..YZ_DHTREC_SALT_MAX */
  uint64_t seq;
  uint8_t signature[YZ_IDENTITY_SIG_LEN];
} yz_dhtrec;

/* A store's limits; a zero field means its default. */
typedef struct yz_dhtrec_limits {
  size_t value_max;      /* 0: 64 KiB; at most YZ_DHTREC_VALUE_MAX_LIMIT */
  uint64_t expiry_ahead; /* 0: 48 h; seconds past now an expiry may be */
} yz_dhtrec_limits;

/*
 * The key of an immutable value: SHA-256(prefix 0x00 || value). value_len
 * may be 0 here (the key is defined for any bytes; records refuse it).
 */
YZ_EXPORT void yz_dhtrec_immutable_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                                       const uint8_t *value, size_t value_len);

/*
 * The key of a mutable record: SHA-256(prefix 0x00 || public key || salt).
 * 0, or YZ_E_INVAL for salt_len over YZ_DHTREC_SALT_MAX.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dhtrec_mutable_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                      const uint8_t public_key[YZ_IDENTITY_PK_LEN],
                      const uint8_t *salt, size_t salt_len);

/*
 * Set r->key from r's fields (for either kind). 0, or YZ_E_INVAL (no
 * record, an unknown kind, salt too long).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dhtrec_derive_key(yz_dhtrec *r);

/*
 * The byte string a mutable record's signature covers (docs/protocol.md
 * "DHT records", "Signed bytes") into out (cap bytes;
 * YZ_DHTREC_SIGNED_MAX_LEN always suffices). 0 and *outlen, YZ_E_INVAL (not
 * a mutable record, salt too long, no value) or YZ_E_TOO_LARGE (cap).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dhtrec_signed_bytes(const yz_dhtrec *r,
                                                    uint8_t *out, size_t cap,
                                                    size_t *outlen);

/*
 * Sign a mutable record with a node identity: sets r->public_key, r->key
 * and r->signature. 0 or YZ_E_INVAL (*reason, if not NULL, says why).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dhtrec_sign(yz_dhtrec *r, const yz_identity *id, const char **reason);

/*
 * The same with a raw Ed25519 key pair in libsodium's form (sk = seed ||
 * public key, 64 bytes): for keys that are not node identities. The public
 * key is the second half of sk. 0 or YZ_E_INVAL.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dhtrec_sign_raw(yz_dhtrec *r, const uint8_t sk[YZ_IDENTITY_SK_LEN],
                   const char **reason);

/* The largest encoded record for a value limit (0: the default). */
YZ_EXPORT size_t yz_dhtrec_encoded_max(size_t value_max);

/*
 * Canonical CBOR encoding of r into out (cap bytes). Fields are encoded as
 * they are (the signature is not checked). 0 and *outlen; YZ_E_INVAL (no
 * value, an unknown kind, salt too long, a value over
 * YZ_DHTREC_VALUE_MAX_LIMIT) or YZ_E_TOO_LARGE (cap).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dhtrec_encode(const yz_dhtrec *r, uint8_t *out,
                                              size_t cap, size_t *outlen);

/*
 * Strict decoding of a record received from anywhere (docs/protocol.md
 * "DHT records", "Encoding"), with value_max the store's value limit (0:
 * the default; over YZ_DHTREC_VALUE_MAX_LIMIT it is that). In order:
 *   - YZ_E_TOO_LARGE: more than yz_dhtrec_encoded_max(value_max) bytes;
 *   - the generic strict CBOR check (yz_wire_check()): YZ_E_MALFORMED,
 *     YZ_E_TRUNCATED, YZ_E_TRAILING, YZ_E_DUPLICATE, YZ_E_TOO_DEEP;
 *   - YZ_E_MALFORMED: not exactly one of the two record maps (a key
 *     missing or unknown, a value of the wrong type, a public key or
 *     signature not of 32/64 bytes, salt over 64 bytes, an empty value);
 *   - YZ_E_TOO_LARGE: the value is over value_max.
 * Allocates nothing. r->value points into in. r->key is derived. The
 * signature, the expiry and the key a record is stored under are checked
 * by yz_dhtrec_check(). *reason (if not NULL) gets a static explanation.
 * On error *r is zeroed. yz_dhtrec_decode_status() maps the result to the
 * status a store answers.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dhtrec_decode(yz_dhtrec *r, const uint8_t *in,
                                              size_t len, size_t value_max,
                                              const char **reason);

/* YZ_DHTREC_OK for 0, YZ_DHTREC_TOO_LARGE for YZ_E_TOO_LARGE, otherwise
 * YZ_DHTREC_MALFORMED. */
YZ_EXPORT yz_dhtrec_status yz_dhtrec_decode_status(int decode_result);

/*
 * The store's checks of a decoded record put under key at time now (Unix
 * seconds), cheapest first (docs/protocol.md "DHT records", "Checks"):
 * TOO_LARGE (value over lim->value_max), WRONG_KEY (key is not the one
 * derived from the record), EXPIRED (expiry <= now), EXPIRY_TOO_FAR
 * (expiry > now + lim->expiry_ahead), BAD_SIGNATURE (mutable: the
 * signature does not verify over the signed bytes), or OK. lim may be NULL
 * (the defaults). MALFORMED for a NULL record or key, or fields the
 * decoder would refuse. *reason (if not NULL) gets a static explanation.
 */
YZ_EXPORT YZ_WARN_UNUSED yz_dhtrec_status yz_dhtrec_check(
    const yz_dhtrec *r, const uint8_t key[YZ_DHTREC_KEY_LEN], uint64_t now,
    const yz_dhtrec_limits *lim, const char **reason);

/* What a store does with an accepted record (yz_dhtrec_replace()). */
typedef enum yz_dhtrec_action {
  YZ_DHTREC_STORE = 1,   /* nothing stored under the key: store cand */
  YZ_DHTREC_REPLACE = 2, /* higher seq: cand replaces cur */
  /* the same record (immutable: the same key; mutable: the same seq and
   * value) with a later expiry: cand replaces cur (its signature covers
   * its expiry) */
  YZ_DHTREC_REFRESH = 3,
  /* the same record with an expiry no later than cur's: cur stays; the
   * put succeeds (nothing to change) */
  YZ_DHTREC_KEEP = 4,
} yz_dhtrec_action;

/*
 * BEP 44's replacement rules (docs/protocol.md "DHT records",
 * "Replacement") for cand, already accepted by yz_dhtrec_check(), against
 * cur, the record stored under the same key (NULL if none). cas, if not
 * NULL, is the sequence number the writer expects stored (compare and
 * swap; mutable records only, and only when something is stored).
 * Returns OK and *action, or: WRONG_KEY (cand and cur are under different
 * keys), CAS_MISMATCH (cur->seq != *cas), SEQ_TOO_LOW (cand->seq <
 * cur->seq), SEQ_CONFLICT (equal seq, another value), MALFORMED (a NULL
 * cand or action). *reason (if not NULL) gets a static explanation.
 */
YZ_EXPORT YZ_WARN_UNUSED yz_dhtrec_status yz_dhtrec_replace(
    const yz_dhtrec *cand, const yz_dhtrec *cur, const uint64_t *cas,
    yz_dhtrec_action *action, const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_DHTREC_H */
