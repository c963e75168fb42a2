/*
 * yz/pubsub_wire.h: the PubSub wire format (docs/protocol.md "PubSub",
 * schema proto/pubsub.cddl): topic hashes, signed messages and their IDs,
 * and the RPC a node sends a peer, encoded canonically and decoded
 * strictly. Only the wire format: the router (mesh, gossip, scoring) lives
 * above, in src/pubsub.
 *
 * An RPC is the body of a one-way node message (kind 01) of protocol number
 * 3 (YZ_PUBSUB_PROTOCOL): one CBOR map with small integer keys,
 * deterministic (RFC 8949 4.2.1), nothing after it, no unknown keys, every
 * list non-empty, bounded and (lists of topics and IDs) in strictly
 * increasing bytewise order, so a set has one encoding and a repeat is
 * found by comparing neighbours.
 *
 * The decoder allocates nothing: byte fields point into the input, and a
 * list of 32-byte topics or IDs is a yz_ps_list whose items sit at a fixed
 * stride inside the input (each bstr's 2-byte head between them).
 */
#ifndef YZ_PUBSUB_WIRE_H
#define YZ_PUBSUB_WIRE_H

#include "yz/common.h"
#include "yz/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The node-message protocol number of PubSub (docs/protocol.md "Node
 * messages"). */
#define YZ_PUBSUB_PROTOCOL 3

/* Domain prefixes, each used with its NUL as a 0x00 byte. */
#define YZ_PS_TOPIC_PREFIX "yz pubsub topic v1"
#define YZ_PS_MSG_PREFIX "yz pubsub message v1"

enum {
  YZ_PS_TOPIC_LEN = 32,     /* SHA-256 of the prefixed name */
  YZ_PS_ID_LEN = 32,        /* message ID: SHA-256 of the signed bytes */
  YZ_PS_NAME_MAX_LEN = 255, /* bytes of a topic name (UTF-8) */
  YZ_PS_TOPIC_PREFIX_LEN = 19,
  YZ_PS_MSG_PREFIX_LEN = 21,
  /* The signed bytes: prefix, topic, author key, seq, expiry, epoch,
   * SHA-256 of the data (docs/protocol.md "PubSub", "Signed bytes"). */
  YZ_PS_SIGNED_LEN = YZ_PS_MSG_PREFIX_LEN + YZ_PS_TOPIC_LEN +
                     YZ_IDENTITY_PK_LEN + 8 + 8 + 8 + 32,
  /* Hard caps: array sizes of yz_ps_rpc and the largest limits. */
  YZ_PS_TOPICS_CAP = 1024,  /* per topic list, IHAVE and PRUNE entries */
  YZ_PS_IDS_CAP = 8192,     /* IDs of IWANT, IDONTWANT, of all IHAVEs */
  YZ_PS_MSGS_CAP = 256,     /* messages in one RPC */
  YZ_PS_PX_CAP = 64,        /* peer records in one PRUNE */
  YZ_PS_PX_TOTAL_CAP = 256, /* peer records in one RPC */
  YZ_PS_DATA_CAP = 1048576, /* bytes of a message's data (1 MiB) */
  YZ_PS_RPC_CAP = 16777216, /* bytes of an RPC (16 MiB) */
  YZ_PS_PEER_RECORD_MAX_LEN = 1024, /* a node record (YZ_RECORD_MAX_LEN) */
  /* Defaults of yz_ps_limits. */
  YZ_PS_MAX_TOPICS = 256,
  YZ_PS_MAX_IDS = 5000,
  YZ_PS_MAX_MSGS = 64,
  YZ_PS_MAX_PX = 16,
  YZ_PS_MAX_DATA = 262144, /* 256 KiB */
  YZ_PS_MAX_RPC = 1048576, /* 1 MiB, the link's default message size */
  /* Default of the longest lifetime a receiver accepts (expiry - now,
   * seconds): 10 minutes. The seen-cache keeps IDs at least this long. */
  YZ_PS_MAX_LIFETIME = 600,
};

/* RPC map keys (proto/pubsub.cddl). */
enum {
  YZ_PS_RKEY_SUBSCRIBE = 1,
  YZ_PS_RKEY_UNSUBSCRIBE = 2,
  YZ_PS_RKEY_PUBLISH = 3,
  YZ_PS_RKEY_GRAFT = 4,
  YZ_PS_RKEY_PRUNE = 5,
  YZ_PS_RKEY_IHAVE = 6,
  YZ_PS_RKEY_IWANT = 7,
  YZ_PS_RKEY_IDONTWANT = 8,
  YZ_PS_RKEY_MAX = 8,
};

/* Message map keys. Epoch is absent for 0 (plain topics). */
enum {
  YZ_PS_MKEY_TOPIC = 1,
  YZ_PS_MKEY_AUTHOR = 2,
  YZ_PS_MKEY_SEQ = 3,
  YZ_PS_MKEY_EXPIRY = 4,
  YZ_PS_MKEY_EPOCH = 5,
  YZ_PS_MKEY_DATA = 6,
  YZ_PS_MKEY_SIGNATURE = 7,
};

/* PRUNE map keys (peers optional), IHAVE map keys. */
enum {
  YZ_PS_PKEY_TOPIC = 1,
  YZ_PS_PKEY_BACKOFF = 2,
  YZ_PS_PKEY_PEERS = 3,
  YZ_PS_IKEY_TOPIC = 1,
  YZ_PS_IKEY_IDS = 2,
};

/* Bytes inside a buffer the caller owns. */
typedef struct yz_ps_bytes {
  const uint8_t *ptr;
  size_t len;
} yz_ps_bytes;

/* n items of 32 bytes (topics or IDs); item i is at ptr + i * stride
 * (stride 0 means 32: a plain array). The decoder sets stride 34. */
typedef struct yz_ps_list {
  const uint8_t *ptr;
  size_t n;
  size_t stride;
} yz_ps_list;

/* Item i of a list. */
static inline const uint8_t *yz_ps_list_at(const yz_ps_list *l, size_t i)
{
  return l->ptr + i * (l->stride ? l->stride : 32);
}

/*
 * A message. The author fills topic, seq, expiry, epoch (0: plain),
 * data/data_len, then yz_ps_msg_sign*() sets author and signature. The
 * decoder fills every field; data points into the input.
 */
typedef struct yz_ps_msg {
  uint8_t topic[YZ_PS_TOPIC_LEN];
  uint8_t author[YZ_IDENTITY_PK_LEN]; /* Ed25519 public key */
  uint64_t seq;    /* unique per author and topic (a counter) */
  uint64_t expiry; /* Unix seconds: dropped from then on */
  uint64_t epoch;  /* 0: plain; else the key epoch of an encrypted topic */
  const uint8_t *data;
  size_t data_len; /* 0..max_data */
  uint8_t signature[YZ_IDENTITY_SIG_LEN];
} yz_ps_msg;

/* A PRUNE: leave the mesh of topic, do not GRAFT again for backoff
 * seconds; peers: node records of other subscribers (peer exchange). */
typedef struct yz_ps_prune {
  const uint8_t *topic;
  uint64_t backoff;
  const yz_ps_bytes *peers;
  size_t n_peers; /* 0: no peer exchange */
} yz_ps_prune;

/* An IHAVE: the sender holds these messages of topic. */
typedef struct yz_ps_ihave {
  const uint8_t *topic;
  yz_ps_list ids;
} yz_ps_ihave;

/* One RPC. An absent list is n = 0; at least one list is non-empty. */
typedef struct yz_ps_rpc {
  yz_ps_list subscribe, unsubscribe;
  size_t n_publish;
  yz_ps_msg publish[YZ_PS_MSGS_CAP];
  yz_ps_list graft;
  size_t n_prune;
  yz_ps_prune prune[YZ_PS_TOPICS_CAP];
  size_t n_ihave;
  yz_ps_ihave ihave[YZ_PS_TOPICS_CAP];
  yz_ps_list iwant, idontwant;
  /* The decoder's storage for the PRUNEs' peers. */
  yz_ps_bytes px[YZ_PS_PX_TOTAL_CAP];
} yz_ps_rpc;

/* Limits a node applies to RPCs; a zero field means its default. Each must
 * be at most its cap (else YZ_E_INVAL). */
typedef struct yz_ps_limits {
  size_t max_topics;   /* per subscribe/unsubscribe/graft list, PRUNE and
                          IHAVE entries (default 256, cap 1024) */
  size_t max_ids;      /* IWANT, IDONTWANT, all IHAVE IDs together (5000,
                          8192) */
  size_t max_messages; /* published messages (64, 256) */
  size_t max_px;       /* peer records per PRUNE (16, 64); at most 256 per
                          RPC */
  size_t max_data;     /* bytes of a message's data (256 KiB, 1 MiB) */
  size_t max_rpc_len;  /* bytes of an RPC (1 MiB, 16 MiB) */
} yz_ps_limits;

/* ---- topics and messages ------------------------------------------------ */

/*
 * The wire form of a topic: SHA-256("yz pubsub topic v1" 0x00 || name).
 * 0, or YZ_E_INVAL: name empty, over 255 bytes or not UTF-8.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_ps_topic_hash(uint8_t out[YZ_PS_TOPIC_LEN],
                                              const char *name, size_t len);

/* The bytes the signature covers (YZ_PS_SIGNED_LEN; docs/protocol.md
 * "PubSub", "Signed bytes"). 0 or YZ_E_INVAL (no message, data NULL with
 * data_len > 0). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_ps_msg_signed_bytes(const yz_ps_msg *m, uint8_t out[YZ_PS_SIGNED_LEN]);

/* The message ID: SHA-256 of the signed bytes. 0 or YZ_E_INVAL. */
YZ_EXPORT YZ_WARN_UNUSED int yz_ps_msg_id(const yz_ps_msg *m,
                                          uint8_t id[YZ_PS_ID_LEN]);

/* Sign with a node identity: sets m->author and m->signature. 0 or
 * YZ_E_INVAL (*reason, if not NULL, says why). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_ps_msg_sign(yz_ps_msg *m, const yz_identity *id, const char **reason);

/* The same with a raw Ed25519 key pair in libsodium's form (seed || public
 * key), for authors that are not node identities. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_ps_msg_sign_raw(yz_ps_msg *m, const uint8_t sk[YZ_IDENTITY_SK_LEN],
                   const char **reason);

/* What a receiver does with a message (docs/protocol.md "PubSub",
 * "Receiving a message"). */
typedef enum yz_ps_status {
  YZ_PS_OK = 0,
  YZ_PS_TOO_LARGE = 1,      /* data over the limit: reject, penalise */
  YZ_PS_EXPIRED = 2,        /* expiry <= now: drop, no penalty */
  YZ_PS_EXPIRY_TOO_FAR = 3, /* expiry > now + max lifetime: reject */
  YZ_PS_BAD_SIGNATURE = 4,  /* reject, penalise */
} yz_ps_status;

/* The status's name ("BAD_SIGNATURE"), "UNKNOWN" for others. */
YZ_EXPORT const char *yz_ps_status_name(int status);

/*
 * The receiver's checks of a decoded message at now (Unix seconds), the
 * cheapest first: TOO_LARGE (data_len > max_data; 0: the default),
 * EXPIRED, EXPIRY_TOO_FAR (expiry - now > max_lifetime seconds; 0: the
 * default YZ_PS_MAX_LIFETIME), then the
 * signature over the signed bytes. *reason (if not NULL) says why.
 */
YZ_EXPORT YZ_WARN_UNUSED yz_ps_status yz_ps_msg_check(const yz_ps_msg *m,
                                                      uint64_t now,
                                                      uint64_t max_lifetime,
                                                      size_t max_data,
                                                      const char **reason);

/* ---- RPCs --------------------------------------------------------------- */

/* Zero an RPC (every list absent). */
YZ_EXPORT void yz_ps_rpc_init(yz_ps_rpc *r);

/*
 * Canonical encoding of r into out (cap bytes) under lim (NULL: defaults).
 * Every rule of the decoder is checked first; out may be NULL with cap 0
 * to learn the length (YZ_E_TOO_LARGE and *outlen = the length). 0 and
 * *outlen; YZ_E_INVAL (an RPC the decoder would refuse, or a limit over
 * its cap; *reason says why), YZ_E_TOO_LARGE (cap too small).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_ps_rpc_encode(const yz_ps_rpc *r, const yz_ps_limits *lim, uint8_t *out,
                 size_t cap, size_t *outlen, const char **reason);

/*
 * Strict decoding of an RPC (docs/protocol.md "PubSub", "Rules") under lim
 * (NULL: defaults). Pointers in *r point into in. Returns 0, or:
 *   - yz_wire_check(): YZ_E_TOO_LARGE (over max_rpc_len), YZ_E_MALFORMED,
 *     YZ_E_TRUNCATED, YZ_E_TRAILING, YZ_E_DUPLICATE (a repeated map key),
 *     YZ_E_TOO_DEEP;
 *   - YZ_E_MALFORMED: not a map, an unknown or non-integer key, a value of
 *     the wrong type or size, an empty RPC or list, a required field
 *     missing, epoch 0 present, a topic/ID list out of bytewise order, a
 *     peer record that is not one canonical CBOR map;
 *   - YZ_E_LIMIT: a list longer than its limit (checked before it is
 *     read);
 *   - YZ_E_TOO_LARGE: a message's data over max_data, a peer record over
 *     1024 bytes;
 *   - YZ_E_DUPLICATE: the same topic or ID twice in one list, a topic both
 *     subscribed and unsubscribed, the same message (topic, author, seq)
 *     or peer record twice;
 *   - YZ_E_INVAL: a NULL argument or a limit over its cap.
 * *reason (if not NULL) gets a static explanation. On error *r is zeroed.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_ps_rpc_decode(yz_ps_rpc *r, const uint8_t *in,
                                              size_t len,
                                              const yz_ps_limits *lim,
                                              const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_PUBSUB_WIRE_H */
