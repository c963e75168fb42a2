/*
 * yz/dht_wire.h: the DHT messages (docs/protocol.md "DHT messages", schema
 * proto/dht.cddl), encoded canonically and decoded strictly. Only the wire
 * format: the DHT itself (routing, lookups, storage) lives above, in
 * src/dht.
 *
 * A DHT message is the body of a node message of protocol number 2
 * (YZ_DHT_PROTOCOL). The node layer pairs requests with responses by id, so
 * a body carries no transaction id: it is one CBOR map with small integer
 * keys, deterministic (RFC 8949 4.2.1), with nothing after it, no unknown
 * keys, every field checked and every count bounded.
 *
 * Embedded objects are carried as byte strings holding their own canonical
 * encoding, and the decoder points into the input instead of copying:
 *   - contacts (closer peers, providers) are node records (yz/record.h),
 *     each at most YZ_RECORD_MAX_LEN bytes and one canonical CBOR map; the
 *     caller verifies each with yz_record_decode() against its network and
 *     clock (this layer does not know them), or uses
 *     yz_dht_msg_contact_decode();
 *   - DHT records (immutable and mutable values) are the canonical
 *     encoding of the DHT record layer; this layer only checks that one is a
 *     single canonical CBOR item of 1..max_record_len bytes.
 */
#ifndef YZ_DHT_WIRE_H
#define YZ_DHT_WIRE_H

#include "yz/common.h"
#include "yz/record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The node-message protocol number of the DHT (docs/protocol.md "Node
 * messages"). */
#define YZ_DHT_PROTOCOL 2

enum {
  YZ_DHT_KEY_LEN = 32, /* target keys: node IDs and record keys */
  /* Hard caps: the array sizes of yz_dht_msg; limits may be lower. */
  YZ_DHT_MSG_CONTACTS_CAP = 32,
  YZ_DHT_MSG_PROVIDERS_CAP = 32,
  YZ_DHT_MSG_RECORD_CAP = 1024 * 1024 + 1024,
  /* Defaults of yz_dht_msg_limits. */
  YZ_DHT_MSG_MAX_CONTACTS = 20, /* k */
  YZ_DHT_MSG_MAX_PROVIDERS = 20,
  /* a 64 KiB value plus the record's key, signature and other fields */
  YZ_DHT_MSG_MAX_RECORD_LEN = 65536 + 1024,
  /* bytes of a status reason (UTF-8) */
  YZ_DHT_MSG_REASON_MAX_LEN = 128,
};

/* Message types (key 1). Requests are 1..6; the response to request t is
 * t + 10, or a STATUS. PUT and PROVIDE are answered by STATUS only. */
typedef enum yz_dht_msg_type {
  YZ_DHT_FIND_NODE = 1,
  YZ_DHT_GET = 2,
  YZ_DHT_PUT = 3,
  YZ_DHT_PROVIDE = 4,
  YZ_DHT_GET_PROVIDERS = 5,
  /* HELLO: the sender's own node record (provider, key 9), or client
   * (key 3) for a client-only sender: exactly one of them. Answered by
   * HELLO_RESP with the responder's record (absent if client-only). */
  YZ_DHT_HELLO = 6,
  YZ_DHT_FIND_NODE_RESP = 11,
  YZ_DHT_GET_RESP = 12,
  YZ_DHT_GET_PROVIDERS_RESP = 15,
  YZ_DHT_HELLO_RESP = 16,
  YZ_DHT_STATUS = 20,
} yz_dht_msg_type;

/* Map keys (proto/dht.cddl). */
enum {
  YZ_DHT_MKEY_TYPE = 1,
  YZ_DHT_MKEY_TARGET = 2,
  YZ_DHT_MKEY_CLIENT = 3,
  YZ_DHT_MKEY_CLOSER = 4,
  YZ_DHT_MKEY_RECORD = 5,
  YZ_DHT_MKEY_SEQ = 6,
  YZ_DHT_MKEY_CAS = 7,
  YZ_DHT_MKEY_PROVIDERS = 8,
  YZ_DHT_MKEY_PROVIDER = 9,
  YZ_DHT_MKEY_STATUS = 10,
  YZ_DHT_MKEY_REASON = 11,
  YZ_DHT_MKEY_SPREAD = 12,
  YZ_DHT_MKEY_MAX = 12,
};

/* Status codes (key 10 of a STATUS): what a node answers instead of a
 * result, and why a store refuses a PUT or PROVIDE (docs/protocol.md "DHT
 * messages", "Statuses"). */
typedef enum yz_dht_status {
  YZ_DHT_OK = 0,             /* stored (PUT, PROVIDE) */
  YZ_DHT_ST_MALFORMED = 1,   /* the request broke this format */
  YZ_DHT_ST_UNSUPPORTED = 2, /* request type not served by this node */
  YZ_DHT_ST_TOO_LARGE = 3,   /* value over the store's limit */
  YZ_DHT_ST_BAD_SIGNATURE = 4,
  YZ_DHT_ST_WRONG_KEY = 5, /* the key is not derived from the record */
  YZ_DHT_ST_EXPIRED = 6,
  YZ_DHT_ST_EXPIRY_TOO_FAR = 7, /* expiry beyond the store's maximum */
  YZ_DHT_ST_SEQ_TOO_LOW = 8,    /* seq lower than the stored one */
  YZ_DHT_ST_SEQ_CONFLICT = 9,   /* equal seq, another value */
  YZ_DHT_ST_CAS_MISMATCH = 10,  /* stored seq is not the expected one */
  YZ_DHT_ST_QUOTA = 11,         /* store or per-peer quota full */
  YZ_DHT_ST_RATE_LIMITED = 12,
  YZ_DHT_ST_NOT_SERVER = 13, /* a client-only node stores nothing */
  YZ_DHT_ST_INTERNAL = 14,   /* the node failed (e.g. out of memory) */
  YZ_DHT_ST_MAX = 14,
} yz_dht_status;

/* The status's name, e.g. "SEQ_TOO_LOW"; "?" for an unknown code. */
YZ_EXPORT const char *yz_dht_status_name(uint64_t status);

/* Bytes inside a buffer the caller owns (for the decoder: the input). */
typedef struct yz_dht_bytes {
  const uint8_t *ptr;
  size_t len;
} yz_dht_bytes;

/* Limits a node applies to messages; a zero field means its default
 * above. Each must be at most its *_CAP (else YZ_E_INVAL). */
typedef struct yz_dht_msg_limits {
  size_t max_contacts;   /* closer peers per response (default 20) */
  size_t max_providers;  /* providers per response (default 20) */
  size_t max_record_len; /* encoded DHT record (default 64 KiB + 1 KiB) */
} yz_dht_msg_limits;

/*
 * One DHT message. Which fields a type has (R required, O optional, else
 * absent):
 *
 *   type               target client closer record seq cas providers
 *                                               provider status reason spread
 *   FIND_NODE            R      O
 *   GET                  R      O                  O
 *   PUT                  R      O           R          O                 O
 *   PROVIDE              R      O                             R
 *   GET_PROVIDERS        R      O
 *   HELLO                       O*                            O*
 *   FIND_NODE_RESP                    R
 *   GET_RESP                          R      O
 *   GET_PROVIDERS_RESP                R                  R
 *   HELLO_RESP                                                O
 *   STATUS                                         O              R   O
 *
 * GET's seq: answer with the record only if its seq is higher (the querier
 * has that one). PUT's cas: store only if the stored seq equals it.
 * STATUS's seq: the seq the node holds (for SEQ_TOO_LOW, SEQ_CONFLICT,
 * CAS_MISMATCH). client_only: the querier cannot be dialled back and must
 * not enter routing tables. PUT's spread: the receiver, if it stores the
 * record as new or newer and is among the k closest to the key, passes
 * it on to its linked neighbours (docs/protocol.md "DHT rules"); like
 * client_only, on the wire only as true (false: absent). HELLO (O*): exactly one of client and
 * provider (the sender's own node record). provider.ptr NULL: absent
 * (HELLO, HELLO_RESP). Lists may be empty; reason, when present, is
 * 1..128 bytes of UTF-8 (reason_len = 0: absent).
 */
typedef struct yz_dht_msg {
  yz_dht_msg_type type;
  uint8_t target[YZ_DHT_KEY_LEN];
  bool client_only;
  size_t n_closer;
  yz_dht_bytes closer[YZ_DHT_MSG_CONTACTS_CAP];
  bool has_record;
  yz_dht_bytes record;
  bool has_seq;
  uint64_t seq;
  bool has_cas;
  uint64_t cas;
  size_t n_providers;
  yz_dht_bytes providers[YZ_DHT_MSG_PROVIDERS_CAP];
  yz_dht_bytes provider; /* PROVIDE: the provider's node record; HELLO,
                            HELLO_RESP: the sender's own (NULL: absent) */
  uint64_t status;       /* YZ_DHT_OK or YZ_DHT_ST_* */
  size_t reason_len;
  char reason[YZ_DHT_MSG_REASON_MAX_LEN + 1]; /* NUL-terminated */
  bool spread; /* PUT: pass the record on to the neighbourhood (key 12) */
} yz_dht_msg;

/* Start a message of type t: zeroes *m and sets m->type. */
YZ_EXPORT void yz_dht_msg_init(yz_dht_msg *m, yz_dht_msg_type t);

/* Whether a message of type resp may answer a request of type req
 * (FIND_NODE -> FIND_NODE_RESP or STATUS, GET -> GET_RESP or STATUS,
 * HELLO -> HELLO_RESP or STATUS,
 * PUT and PROVIDE -> STATUS, GET_PROVIDERS -> GET_PROVIDERS_RESP or
 * STATUS). */
YZ_EXPORT bool yz_dht_msg_answers(yz_dht_msg_type req, yz_dht_msg_type resp);

/* The longest message the limits allow (NULL: the defaults): a buffer this
 * size holds any message yz_dht_msg_encode() produces, and longer input is
 * refused before it is parsed. 0 if a limit is over its cap. */
YZ_EXPORT size_t yz_dht_msg_max_len(const yz_dht_msg_limits *lim);

/*
 * Canonical encoding of m into out (cap bytes), under lim (NULL: the
 * defaults). Every rule of the decoder is checked first. 0 and *outlen;
 * YZ_E_INVAL (a message the decoder would refuse, or a limit over its cap;
 * *reason, if not NULL, says why), YZ_E_TOO_LARGE (cap too small).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_msg_encode(const yz_dht_msg *m,
                                               const yz_dht_msg_limits *lim,
                                               uint8_t *out, size_t cap,
                                               size_t *outlen,
                                               const char **reason);

/*
 * Strict decoding of a DHT message (docs/protocol.md "DHT messages",
 * "Rules"), under lim (NULL: the defaults). The yz_dht_bytes fields of *m
 * point into in, which must outlive their use. Returns 0, or:
 *   - the generic strict check (yz_wire_check()): YZ_E_TOO_LARGE (over
 *     yz_dht_msg_max_len()), YZ_E_MALFORMED, YZ_E_TRUNCATED,
 *     YZ_E_TRAILING, YZ_E_DUPLICATE (a repeated map key), YZ_E_TOO_DEEP;
 *   - YZ_E_UNSUPPORTED: an unknown message type;
 *   - YZ_E_MALFORMED: not a map, a non-integer or unknown key, a value of
 *     the wrong type or out of range, a field missing or not allowed for
 *     the type, an unknown status, an embedded record or contact that is
 *     not one canonical CBOR item (a map, for contacts);
 *   - YZ_E_LIMIT: more contacts or providers than the limits allow;
 *   - YZ_E_TOO_LARGE: a DHT record over max_record_len, a contact over
 *     YZ_RECORD_MAX_LEN bytes;
 *   - YZ_E_DUPLICATE: the same contact twice in one list;
 *   - YZ_E_INVAL: a NULL argument or a limit over its cap.
 * *reason (if not NULL) gets a static explanation. On error *m is zeroed.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_msg_decode(yz_dht_msg *m,
                                               const uint8_t *in, size_t len,
                                               const yz_dht_msg_limits *lim,
                                               const char **reason);

/* A convenience: yz_record_decode() of a contact (closer peer, provider)
 * against ex. Same results. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dht_msg_contact_decode(yz_record *r, const yz_dht_bytes *contact,
                          const yz_record_expect *ex, const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_DHT_WIRE_H */
