/*
 * yz/wire.h: the CBOR messages of the yz protocol (schemas in proto/,
 * rules in docs/protocol.md), encoded canonically and decoded strictly.
 *
 * Every decoder takes (const uint8_t *, size_t), is bounded before libcbor
 * allocates anything (a streaming pre-check over the whole input rejects
 * declared lengths that the input cannot hold, indefinite lengths, floats,
 * tags and nesting deeper than YZ_WIRE_MAX_DEPTH), requires the input to be
 * exactly one data item (no trailing bytes), and requires the deterministic
 * encoding of RFC 8949 section 4.2.1 (minimal-width heads, map keys in
 * bytewise order of their encodings, hence no duplicates). Re-encoding a
 * decoded value without unknown fields gives the same bytes.
 */
#ifndef YZ_WIRE_H
#define YZ_WIRE_H

#include "yz/common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_WIRE_MAX_DEPTH = 8,           /* nesting of arrays and maps */
  YZ_WIRE_PROOF_MAX_LEN = 4096,    /* encoded identity proof */
  YZ_WIRE_MAX_ADDRESSES = 8,       /* addresses in one proof */
  YZ_WIRE_URL_MAX_LEN = 255,       /* bytes of one address URL */
  YZ_WIRE_VERSION_MAX_LEN = 64,    /* bytes of the software version */
  YZ_WIRE_PK_LEN = 32,             /* Ed25519 public key */
  YZ_WIRE_SIG_LEN = 64,            /* Ed25519 signature */
  /* The network name (docs/protocol.md section 5, "Network name"). */
  YZ_WIRE_NETWORK_MAX_LEN = 32,
};

/* Identity proof map keys (proto/identity-proof.cddl). */
enum {
  YZ_WIRE_PROOF_KEY_IDENTITY = 1,
  YZ_WIRE_PROOF_KEY_SIGNATURE = 2,
  YZ_WIRE_PROOF_KEY_ADDRESSES = 3,
  YZ_WIRE_PROOF_KEY_NODE_TYPE = 4,
  YZ_WIRE_PROOF_KEY_CAPABILITIES = 5,
  YZ_WIRE_PROOF_KEY_VERSION = 6,
  YZ_WIRE_PROOF_KEY_NETWORK = 7,
};

/* Address map keys. */
enum { YZ_WIRE_ADDR_KEY_URL = 1, YZ_WIRE_ADDR_KEY_CLIENTS = 2 };

/* Client types an address serves (bits of a uint). */
enum {
  YZ_WIRE_CLIENT_WS = 1u << 0,  /* nodes, plain ws:// */
  YZ_WIRE_CLIENT_WSS = 1u << 1, /* browsers, wss:// */
};

/* Node types (one value). */
enum {
  YZ_WIRE_NODE_INFRASTRUCTURE = 1,
  YZ_WIRE_NODE_COMMUNITY = 2,
};

/* Capabilities (bits of a uint). */
enum {
  YZ_WIRE_CAP_ROUTING = 1u << 0,
  YZ_WIRE_CAP_STORAGE = 1u << 1,
  YZ_WIRE_CAP_RELAY = 1u << 2,
};

typedef struct yz_wire_address {
  char url[YZ_WIRE_URL_MAX_LEN + 1]; /* NUL-terminated; "ws://" or "wss://" */
  uint16_t url_len;
  uint64_t client_types; /* YZ_WIRE_CLIENT_* bits; unknown bits kept */
} yz_wire_address;

/*
 * An identity proof: the Ed25519 identity public key and its signature
 * over YZ_SESSION_SIG_PREFIX || the Noise static public key, and optional
 * advertised fields. All fields are public.
 */
typedef struct yz_wire_identity_proof {
  uint8_t identity_pk[YZ_WIRE_PK_LEN];
  uint8_t signature[YZ_WIRE_SIG_LEN];
  uint8_t n_addresses; /* 0 = field absent */
  yz_wire_address addresses[YZ_WIRE_MAX_ADDRESSES];
  uint64_t node_type;    /* 0 = absent, else YZ_WIRE_NODE_* */
  bool has_capabilities;
  uint64_t capabilities; /* YZ_WIRE_CAP_* bits; unknown bits kept */
  uint8_t version_len;   /* 0 = absent */
  char version[YZ_WIRE_VERSION_MAX_LEN + 1]; /* NUL-terminated UTF-8 */
  bool had_unknown; /* set by the decoder: unknown keys were skipped */
  /* The network name, 1..32 bytes of a-z 0-9 . - _ (NUL-terminated); 0 =
   * absent, which means the public network "yz" (the session layer
   * compares them; docs/protocol.md section 5, "Network name"). */
  uint8_t network_len;
  char network[YZ_WIRE_NETWORK_MAX_LEN + 1];
} yz_wire_identity_proof;

/* Whether s (n bytes) is a valid network name: 1..YZ_WIRE_NETWORK_MAX_LEN
 * bytes, each a lowercase ASCII letter, a digit, '.', '-' or '_'. */
YZ_EXPORT bool yz_wire_network_valid(const char *s, size_t n);

/*
 * Canonical encoding of a proof into out (cap bytes). Fields are validated
 * as the decoder would (YZ_E_INVAL for a value the decoder would refuse).
 * Returns 0 and *outlen, YZ_E_TOO_LARGE, YZ_E_INVAL or YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_wire_proof_encode(const yz_wire_identity_proof *p, uint8_t *out,
                     size_t cap, size_t *outlen);

/*
 * Strict decoding of a proof. Does not verify the signature (that needs the
 * Noise static key: see the session layer). Returns 0, or YZ_E_TOO_LARGE,
 * YZ_E_MALFORMED, YZ_E_TRUNCATED, YZ_E_TRAILING, YZ_E_DUPLICATE,
 * YZ_E_TOO_DEEP, YZ_E_NOMEM; *reason (if not NULL) gets a static
 * explanation. On error *p is zeroed.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_wire_proof_decode(yz_wire_identity_proof *p, const uint8_t *in,
                     size_t len, const char **reason);

/*
 * The generic strict check every decoder runs first: exactly one
 * well-formed, deterministically encoded CBOR item of at most max_len bytes,
 * no indefinite lengths, floats, tags or simple values other than
 * false/true/null, depth at most YZ_WIRE_MAX_DEPTH. Allocates nothing
 * except while verifying canonical form (bounded by len). 0 or an error as
 * above.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_wire_check(const uint8_t *in, size_t len,
                                           size_t max_len,
                                           const char **reason);

/* Whether the bytes are valid UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF). */
YZ_EXPORT bool yz_wire_utf8_valid(const uint8_t *s, size_t len);

/* The length of the longest prefix of s that is valid UTF-8 (len if all of
 * it is): where to cut text that must go on the wire as UTF-8. */
YZ_EXPORT size_t yz_wire_utf8_valid_prefix(const uint8_t *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* YZ_WIRE_H */
