/*
 * yz/record.h: signed node records (docs/protocol.md "Node records",
 * schema proto/node-record.cddl).
 *
 * A node record says how to reach a node: its identity key (hence its node
 * ID), the network it belongs to, its addresses with the client types each
 * serves, its node type and capabilities, a sequence number and an expiry.
 * The node signs it with its Ed25519 identity key over a byte string built
 * field by field (yz_record_signed_bytes()), never over CBOR, so any third
 * party (a DHT node handing the record out) can check it without trusting
 * the encoder. A record is at most YZ_RECORD_MAX_LEN bytes of canonical
 * CBOR; a decoder refuses anything else, checks the network name, the
 * expiry, the expected node ID and the signature.
 *
 * Address, node type and capability values are those of the identity proof
 * (yz/wire.h, docs/protocol.md section 5), with the same meanings.
 */
#ifndef YZ_RECORD_H
#define YZ_RECORD_H

#include "yz/common.h"
#include "yz/identity.h"
#include "yz/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_RECORD_MAX_LEN = 1024,           /* encoded record, bytes */
  YZ_RECORD_MAX_ADDRESSES = 8,        /* addresses in one record */
  /* bytes of the network name: the handshake's network names
   * (docs/protocol.md 5, "Network name"; yz_wire_network_valid()) */
  YZ_RECORD_NETWORK_MAX_LEN = YZ_WIRE_NETWORK_MAX_LEN,
  YZ_RECORD_URL_MAX_LEN = YZ_WIRE_URL_MAX_LEN,
  /* Bytes of the signing domain prefix "yz node record v1" and a 0x00. */
  YZ_RECORD_PREFIX_LEN = 18,
  /*
   * The longest signed byte string: prefix, network (1 + 32), identity key
   * (32), seq, expiry, node type, capabilities (8 each), address count (1),
   * 8 addresses of (1 + 255 + 8). A buffer this size always suffices for
   * yz_record_signed_bytes().
   */
  YZ_RECORD_SIGNED_MAX_LEN = YZ_RECORD_PREFIX_LEN + 1 +
                             YZ_RECORD_NETWORK_MAX_LEN + YZ_IDENTITY_PK_LEN +
                             4 * 8 + 1 +
                             YZ_RECORD_MAX_ADDRESSES *
                                 (1 + YZ_RECORD_URL_MAX_LEN + 8),
};

/* The domain prefix the signature covers first (YZ_RECORD_PREFIX_LEN
 * bytes, the last one 0x00). */
#define YZ_RECORD_PREFIX "yz node record v1"

/* Node record map keys (proto/node-record.cddl). */
enum {
  YZ_RECORD_KEY_NETWORK = 1,
  YZ_RECORD_KEY_IDENTITY = 2,
  YZ_RECORD_KEY_SEQ = 3,
  YZ_RECORD_KEY_EXPIRY = 4,
  YZ_RECORD_KEY_NODE_TYPE = 5,
  YZ_RECORD_KEY_CAPABILITIES = 6,
  YZ_RECORD_KEY_ADDRESSES = 7,
  YZ_RECORD_KEY_SIGNATURE = 8,
};

/*
 * A node record. All fields are public. The caller fills network,
 * addresses, seq, expiry, node_type and capabilities, then
 * yz_record_sign() sets identity_pk, node_id and signature. The decoder
 * fills every field (node_id = SHA-256(identity_pk)).
 */
typedef struct yz_record {
  char network[YZ_RECORD_NETWORK_MAX_LEN + 1]; /* NUL-terminated */
  uint8_t network_len;                          /* 1..32 */
  uint8_t identity_pk[YZ_IDENTITY_PK_LEN];
  yz_node_id node_id;
  uint64_t seq;          /* higher replaces lower (yz_record_newer()) */
  uint64_t expiry;       /* Unix seconds; valid while now < expiry */
  uint64_t node_type;    /* YZ_WIRE_NODE_INFRASTRUCTURE or _COMMUNITY */
  uint64_t capabilities; /* YZ_WIRE_CAP_* bits; unknown bits kept, signed */
  uint8_t n_addresses;   /* 1..YZ_RECORD_MAX_ADDRESSES */
  yz_wire_address addresses[YZ_RECORD_MAX_ADDRESSES];
  uint8_t signature[YZ_IDENTITY_SIG_LEN];
} yz_record;

/*
 * Set a network name (1..32 bytes of a-z 0-9 . - _, as
 * yz_wire_network_valid() checks): a convenience for
 * filling r->network and r->network_len. 0 or YZ_E_INVAL.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_set_network(yz_record *r,
                                                   const char *name);

/*
 * Append an address (url NUL-terminated; client_types YZ_WIRE_CLIENT_*
 * bits). 0, YZ_E_LIMIT (already YZ_RECORD_MAX_ADDRESSES) or YZ_E_INVAL
 * (the URL or client types would be refused by the decoder; *reason, if
 * not NULL, says why).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_add_address(yz_record *r,
                                                   const char *url,
                                                   uint64_t client_types,
                                                   const char **reason);

/*
 * The byte string the signature covers (docs/protocol.md "Node records",
 * "Signed bytes") for r's fields (the signature field is not read) into
 * out (cap bytes; YZ_RECORD_SIGNED_MAX_LEN always suffices). 0 and
 * *outlen, YZ_E_INVAL (a field the decoder would refuse) or
 * YZ_E_TOO_LARGE.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_signed_bytes(const yz_record *r,
                                                    uint8_t *out, size_t cap,
                                                    size_t *outlen);

/*
 * Sign r with id: sets r->identity_pk and r->node_id from id, then
 * r->signature over yz_record_signed_bytes(). 0 or YZ_E_INVAL (a field
 * the decoder would refuse; *reason, if not NULL, says which).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_sign(yz_record *r,
                                            const yz_identity *id,
                                            const char **reason);

/*
 * Canonical CBOR encoding of r into out (cap bytes). The signature is
 * encoded as it is (not checked: tests build tampered records with it).
 * 0 and *outlen; YZ_E_INVAL (a field the decoder would refuse),
 * YZ_E_TOO_LARGE (over YZ_RECORD_MAX_LEN bytes, or over cap), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_encode(const yz_record *r,
                                              uint8_t *out, size_t cap,
                                              size_t *outlen);

/* What a decoder checks a record against. */
typedef struct yz_record_expect {
  const char *network;          /* required: the local network name */
  const yz_node_id *node_id;    /* NULL, or the node the record must be of */
  uint64_t now;                 /* Unix seconds: refused if expiry <= now */
} yz_record_expect;

/*
 * Strict decoding and verification of a record received from anywhere
 * (docs/protocol.md "Node records", "Checks"). In order:
 *   - YZ_E_TOO_LARGE: more than YZ_RECORD_MAX_LEN bytes;
 *   - the generic strict CBOR check (yz_wire_check()): YZ_E_MALFORMED,
 *     YZ_E_TRUNCATED, YZ_E_TRAILING, YZ_E_DUPLICATE (a repeated map key),
 *     YZ_E_TOO_DEEP;
 *   - YZ_E_MALFORMED: not exactly the record's map (a key missing, an
 *     unknown key, a value of the wrong type or out of its range, more
 *     than YZ_RECORD_MAX_ADDRESSES addresses, a URL that is not a canonical
 *     node address without a node ID); YZ_E_DUPLICATE: the same URL twice;
 *   - YZ_E_UNSUPPORTED: the record is of another network;
 *   - YZ_E_PEER_ID_MISMATCH: ex->node_id is set and differs from
 *     SHA-256(identity key);
 *   - YZ_E_RANGE: expired (expiry <= ex->now);
 *   - YZ_E_BAD_SIGNATURE: the signature does not verify over the signed
 *     bytes rebuilt from the decoded fields.
 * YZ_E_INVAL for a NULL argument or a missing ex->network. *reason (if not
 * NULL) gets a static explanation. On error *r is zeroed.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_decode(yz_record *r,
                                              const uint8_t *in, size_t len,
                                              const yz_record_expect *ex,
                                              const char **reason);

/*
 * The replacement rule (docs/protocol.md "Node records", "Replacement"),
 * for two verified records of the same node: 1 if cand replaces cur (a
 * higher sequence number), 0 if cur stays (cand has a lower sequence
 * number, or the same one and the same signed fields: a copy). YZ_E_DUPLICATE
 * if both have the same sequence number but different signed fields: the
 * node signed two records with one number; cur stays (first seen wins), so
 * nobody can swap a record for its twin. YZ_E_INVAL if they are records of
 * different nodes (or an argument is NULL). *reason (if not NULL) gets a
 * static explanation for 0 and errors.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_record_newer(const yz_record *cand,
                                             const yz_record *cur,
                                             const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_RECORD_H */
