/*
 * yz/seal.h: sealed values and encrypted topics, end-to-end encryption
 * above the DHT and PubSub (docs/protocol.md "Sealed values and encrypted
 * topics", docs/sealed.md).
 *
 * A user holds an Ed25519 key (a key file of the node-key format, `yz
 * keygen --user FILE`), separate from any node's identity. From it come:
 *   - a name key and a value key (libsodium's crypto_kdf, BLAKE2b, under
 *     the 8-byte contexts below), and
 *   - an X25519 key pair (libsodium's Ed25519 -> Curve25519 conversion)
 *     that receives sealed boxes (crypto_box_seal).
 *
 * Three things are sealed, each a versioned format that starts with the
 * 6-byte header "yzs" 00, version, kind:
 *   - a private value: a mutable DHT record signed by the user, salt = a
 *     keyed hash of the value's name, value = header || nonce ||
 *     XChaCha20-Poly1305(value key, AD = DHT key || seq || header);
 *   - a shared value: the same record, its content key sealed to each
 *     recipient's X25519 key (the owner is always one);
 *   - a topic key record: per epoch, the topic key sealed to each member;
 *     messages of the topic carry XChaCha20-Poly1305 ciphertext under a key
 *     derived from the epoch's topic key.
 *
 * Storage nodes and relays see only ciphertext: the DHT's and PubSub's own
 * checks (signatures over the bytes, message IDs) work on it unchanged.
 *
 * Everything here is sans-I/O except yz_seal_put/get/share, which run on a
 * yz_dht (yz/dht.h), and yz_seal_topic_publish, on a yz_pubsub
 * (yz/pubsub.h); they follow those layers' threading and callback rules.
 * Secrets in the structs below are wiped by their _clear() functions.
 */
#ifndef YZ_SEAL_H
#define YZ_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/common.h"
#include "yz/dht.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/pubsub.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_SEAL_VERSION = 1,
  YZ_SEAL_HEADER_LEN = 6, /* "yzs" 00 version kind */
  YZ_SEAL_KEY_LEN = 32,   /* every symmetric key */
  YZ_SEAL_NONCE_LEN = 24, /* XChaCha20-Poly1305 IETF, random */
  YZ_SEAL_TAG_LEN = 16,
  YZ_SEAL_SALT_LEN = 32, /* the salt of a sealed record */
  YZ_SEAL_BOX_LEN = 80,  /* a sealed box of a 32-byte key: 32 + 32 + 16 */
  YZ_SEAL_RECIPIENTS_MAX = 64, /* readers of a shared value, owner included */
  YZ_SEAL_MEMBERS_MAX = 64,    /* members of one topic epoch, owner included */
  YZ_SEAL_EPOCHS_MAX = 8, /* epochs a topic key record and a keyring hold */
  /* The largest plaintext a sealed record may carry: the DHT's value cap
   * less the largest framing (a shared value to 64 recipients). */
  YZ_SEAL_PLAINTEXT_MAX = YZ_DHTREC_VALUE_MAX_LIMIT - 16384,
  /* An encrypted topic message's framing: version, epoch, nonce, tag. */
  YZ_SEAL_MSG_OVERHEAD = 1 + 8 + YZ_SEAL_NONCE_LEN + YZ_SEAL_TAG_LEN,
};

/* The kinds (the header's last byte). */
typedef enum yz_seal_kind {
  YZ_SEAL_PLAIN = 0, /* not sealed: no header */
  YZ_SEAL_PRIVATE = 1,
  YZ_SEAL_SHARED = 2,
  YZ_SEAL_TOPIC_KEYS = 3,
} yz_seal_kind;

/* KDF contexts (crypto_kdf, 8 bytes each; docs/protocol.md). */
/* name key: subkey 1 of the user seed */
#define YZ_SEAL_CTX_NAME "yzsealnm"
/* value key: subkey 1 of the user seed */
#define YZ_SEAL_CTX_VALUE "yzsealpv"
/* message key: subkey (the epoch) of a topic key */
#define YZ_SEAL_CTX_TOPIC "yzsealtp"

/* A user's keys, derived once from the Ed25519 key pair. */
typedef struct yz_seal_user {
  uint8_t ed_sk[YZ_IDENTITY_SK_LEN]; /* seed || public key */
  uint8_t ed_pk[YZ_IDENTITY_PK_LEN];
  uint8_t x_sk[32], x_pk[32]; /* X25519, converted */
  uint8_t name_key[YZ_SEAL_KEY_LEN];
  uint8_t value_key[YZ_SEAL_KEY_LEN];
} yz_seal_user;

/* The keys of a user key (a yz_identity loaded from a key file with
 * yz_identity_load()). 0 or YZ_E_INVAL (a key libsodium cannot convert). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_user_init(yz_seal_user *u,
                                               const yz_identity *key);
/* Wipe every key. */
YZ_EXPORT void yz_seal_user_clear(yz_seal_user *u);

/* What a value is: YZ_SEAL_PLAIN (no header), a kind, or YZ_E_SEAL_VERSION
 * (the header with an unknown version or kind). */
YZ_EXPORT int yz_seal_kind_of(const uint8_t *value, size_t len);

/* The salt of the sealed record named name (1..255 bytes): BLAKE2b-256
 * keyed with the name key; and the DHT key it gives with the user's public
 * key (yz_dhtrec_mutable_key()). 0 or YZ_E_INVAL. */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_name_salt(const yz_seal_user *u,
                                               const uint8_t *name, size_t len,
                                               uint8_t salt[YZ_SEAL_SALT_LEN]);
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_name_key(const yz_seal_user *u,
                                              const uint8_t *name, size_t len,
                                              uint8_t key[YZ_DHTREC_KEY_LEN]);

/* The X25519 public key that receives sealed boxes for an Ed25519 public
 * key. 0 or YZ_E_INVAL (not a valid Ed25519 point). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_box_key(uint8_t x_pk[32],
                                             const uint8_t ed_pk[32]);

/* ---- sealed values ------------------------------------------------------ */

/* The sealed value's length for a plaintext: private, and shared to n
 * recipients (the owner counted among them). */
YZ_EXPORT size_t yz_seal_private_len(size_t plaintext_len);
YZ_EXPORT size_t yz_seal_shared_len(size_t plaintext_len, size_t n);

/*
 * Seal plaintext (1..YZ_SEAL_PLAINTEXT_MAX bytes) as the value of the
 * record under key with seq, into out (cap bytes). Private: only u reads
 * it. Shared: readable by u and by each of the n recipients (Ed25519
 * public keys, 32 bytes each, one after the other; u's own is added if absent,
 * duplicates are dropped, at most YZ_SEAL_RECIPIENTS_MAX in all). 0 and
 * *outlen, YZ_E_INVAL, YZ_E_LIMIT (recipients), YZ_E_TOO_LARGE (plaintext, or
 * cap).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_private(const yz_seal_user *u, const uint8_t key[YZ_DHTREC_KEY_LEN],
                uint64_t seq, const uint8_t *pt, size_t pt_len, uint8_t *out,
                size_t cap, size_t *outlen);
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_shared(const yz_seal_user *u, const uint8_t key[YZ_DHTREC_KEY_LEN],
               uint64_t seq, const uint8_t *recipients, size_t n,
               const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
               size_t *outlen);

/* What yz_seal_open() read. */
typedef struct yz_seal_opened {
  yz_seal_kind kind;
  const uint8_t *plaintext; /* in the caller's out buffer */
  size_t plaintext_len;
  /* Shared: the readers' Ed25519 public keys (in out too, 32 bytes each). */
  const uint8_t *recipients;
  size_t n_recipients;
} yz_seal_opened;

/*
 * Open the sealed value of a record (decoded and checked: yz_dhtrec_check
 * or a DHT GET) as u, into out (cap >= value length always suffices).
 * Errors, each distinct:
 *   YZ_E_SEAL_NOT_SEALED  a plain record (no header), or a topic key record
 *   YZ_E_SEAL_VERSION     a header of another version or an unknown kind
 *   YZ_E_MALFORMED        a sealed value too short or badly framed
 *   YZ_E_SEAL_WRONG_KEY   private: the record is another user's
 *   YZ_E_SEAL_NOT_RECIPIENT shared: no box is sealed to u
 *   YZ_E_SEAL_TAMPERED    the ciphertext does not authenticate under the
 *                         record's key and seq (changed, moved, replayed)
 *   YZ_E_TOO_LARGE        cap too small
 * The plaintext is wiped from out on every error.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_open(const yz_seal_user *u,
                                          const yz_dhtrec *rec, uint8_t *out,
                                          size_t cap, yz_seal_opened *res);

/*
 * A complete sealed record named name (private when n_recipients is 0,
 * else shared), signed by u, canonically encoded into out (cap >=
 * yz_dhtrec_encoded_max(0) suffices for values up to 64 KiB). *rec_key
 * (if not NULL) gets its DHT key. 0 or the errors above and of
 * yz_dhtrec_encode().
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_record(const yz_seal_user *u, const uint8_t *name, size_t name_len,
               uint64_t seq, uint64_t expiry, const uint8_t *recipients,
               size_t n_recipients, const uint8_t *pt, size_t pt_len,
               uint8_t *out, size_t cap, size_t *outlen,
               uint8_t rec_key[YZ_DHTREC_KEY_LEN]);

/* ---- encrypted topics --------------------------------------------------- */

/*
 * The owner's state of a topic: the retained epochs (newest first), each
 * with its topic key and the boxes sealed to its members, and the current
 * members. A topic key record carries all of it, the member list encrypted
 * to the owner alone, so the owner can rebuild this from the record
 * (yz_seal_topic_owner_load()).
 */
typedef struct yz_seal_topic_epoch {
  uint64_t epoch;
  uint8_t key[YZ_SEAL_KEY_LEN];
  size_t n_boxes;
  uint8_t boxes[YZ_SEAL_MEMBERS_MAX][YZ_SEAL_BOX_LEN];
} yz_seal_topic_epoch;

typedef struct yz_seal_topic_owner {
  uint8_t topic[32]; /* the PubSub topic hash (yz_ps_topic_hash()) */
  size_t n_epochs;
  yz_seal_topic_epoch epochs[YZ_SEAL_EPOCHS_MAX];
  size_t n_members; /* the current epoch's, owner first */
  uint8_t members[YZ_SEAL_MEMBERS_MAX][32];
  uint64_t seq; /* of the last record made */
} yz_seal_topic_owner;

/* Create a topic for u at epoch 1 with the given members (u added first).
 * 0, YZ_E_INVAL, YZ_E_LIMIT. */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_create(yz_seal_topic_owner *t,
                                                  const yz_seal_user *u,
                                                  const uint8_t topic[32],
                                                  const uint8_t *members,
                                                  size_t n);
/* Add a member: the current epoch's key is sealed to it too (it reads the
 * current epoch, not earlier ones). 0, YZ_E_LIMIT, YZ_E_INVAL, or
 * YZ_E_DUPLICATE (already a member). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_add(yz_seal_topic_owner *t,
                                               const uint8_t member[32]);
/* Remove a member: a new epoch with a fresh key sealed to those who stay
 * (the oldest epoch beyond YZ_SEAL_EPOCHS_MAX is dropped). 0, YZ_E_INVAL
 * (the owner), YZ_E_NOT_FOUND (not a member). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_remove(yz_seal_topic_owner *t,
                                                  const yz_seal_user *u,
                                                  const uint8_t member[32]);
/* Rotate to a new epoch with the same members. */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_rotate(yz_seal_topic_owner *t);
YZ_EXPORT void yz_seal_topic_owner_clear(yz_seal_topic_owner *t);

/* The DHT key of a topic's key record: the owner's public key with the
 * topic hash as salt (public: members find it from the owner's key and the
 * topic name). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_topic_record_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                         const uint8_t owner_pk[32], const uint8_t topic[32]);

/*
 * The topic key record of t at seq, signed by u, encoded into out (cap >=
 * yz_dhtrec_encoded_max(0)). 0 or YZ_E_INVAL, YZ_E_TOO_LARGE.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_topic_record(const yz_seal_topic_owner *t, const yz_seal_user *u,
                     uint64_t seq, uint64_t expiry, uint8_t *out, size_t cap,
                     size_t *outlen);

/* The owner's state back from its own topic key record (checked). 0,
 * YZ_E_SEAL_WRONG_KEY (another owner's), YZ_E_SEAL_TAMPERED, the decoding
 * errors of yz_seal_topic_keys_open(). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_owner_load(yz_seal_topic_owner *t,
                                                      const yz_seal_user *u,
                                                      const uint8_t topic[32],
                                                      const yz_dhtrec *rec);

/*
 * A member's keyring of one topic: the message keys of the epochs it can
 * read, newest first. When a newer epoch arrives, the older ones stay
 * readable for window_ms more (messages in flight across a rotation), then
 * are forgotten; at most YZ_SEAL_EPOCHS_MAX are kept.
 */
typedef struct yz_seal_keyring {
  uint8_t topic[32];
  uint8_t owner_pk[32];
  uint64_t window_ms; /* default YZ_SEAL_WINDOW_MS_DEFAULT */
  size_t n;
  struct {
    uint64_t epoch;
    uint8_t key[YZ_SEAL_KEY_LEN]; /* the message key (YZ_SEAL_CTX_TOPIC) */
    uint64_t superseded_ms;       /* 0: current */
  } e[YZ_SEAL_EPOCHS_MAX];
} yz_seal_keyring;

#define YZ_SEAL_WINDOW_MS_DEFAULT 600000u /* 10 min, a message's lifetime */

YZ_EXPORT void yz_seal_keyring_init(yz_seal_keyring *kr,
                                    const uint8_t topic[32],
                                    const uint8_t owner_pk[32],
                                    uint64_t window_ms);
YZ_EXPORT void yz_seal_keyring_clear(yz_seal_keyring *kr);

/*
 * Read a topic key record (decoded, checked; the owner's and topic's
 * record: its public key and salt are compared) as member u at now_ms,
 * adding the keys of the epochs sealed to u to kr. 0 if u can read the
 * newest epoch; YZ_E_SEAL_NOT_RECIPIENT if not (removed, or never a
 * member: older epochs sealed to u are still added); YZ_E_SEAL_WRONG_KEY
 * (another owner's or topic's record), YZ_E_SEAL_NOT_SEALED,
 * YZ_E_SEAL_VERSION, YZ_E_MALFORMED (a bad frame). A box is found by
 * trying each one (sealed boxes do not name their recipient), so a box
 * changed in transit reads as "not a recipient"; the record's signature
 * is what protects the boxes.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_keys_open(yz_seal_keyring *kr,
                                                     const yz_seal_user *u,
                                                     const yz_dhtrec *rec,
                                                     uint64_t now_ms);

/* The newest epoch of kr (0: none). */
YZ_EXPORT uint64_t yz_seal_keyring_epoch(const yz_seal_keyring *kr);

/*
 * An encrypted topic message's payload (the PubSub message's data; its
 * epoch field carries the epoch too): version || epoch || nonce ||
 * XChaCha20-Poly1305(message key, AD = topic || author || epoch). Sealed
 * under kr's newest epoch, which *epoch gets. 0, YZ_E_SEAL_EPOCH (no key),
 * YZ_E_TOO_LARGE (cap), YZ_E_INVAL.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_topic_seal(const yz_seal_keyring *kr, const uint8_t author[32],
                   const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
                   size_t *outlen, uint64_t *epoch);

/*
 * Open a payload of the message (topic of kr, author, epoch from the
 * message) at now_ms. 0 and *outlen; YZ_E_SEAL_VERSION, YZ_E_MALFORMED,
 * YZ_E_SEAL_EPOCH (an epoch kr has no key for, or one past its window;
 * or the payload's epoch is not the message's), YZ_E_SEAL_TAMPERED,
 * YZ_E_TOO_LARGE (cap).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_topic_open(const yz_seal_keyring *kr, const uint8_t author[32],
                   uint64_t epoch, const uint8_t *payload, size_t len,
                   uint64_t now_ms, uint8_t *out, size_t cap, size_t *outlen);

/* ---- on PubSub (yz/pubsub.h) -------------------------------------------- */

/*
 * Publish plaintext to the encrypted topic topic_name (kr's topic: its
 * hash must be kr->topic) on ps: sealed under kr's newest epoch with ps's
 * author key in the AD, sent with yz_pubsub_publish_epoch() (its reached,
 * id_out, cb as there). 0, YZ_E_SEAL_EPOCH (no current key: not, or no
 * longer, a member), YZ_E_INVAL (another topic), or yz_pubsub_publish's
 * errors.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_topic_publish(
    yz_pubsub *ps, const yz_seal_keyring *kr, const char *topic_name,
    const uint8_t *pt, size_t pt_len, uint32_t ttl_ms, size_t *reached,
    uint8_t id_out[YZ_PS_ID_LEN], yz_pubsub_publish_cb cb, void *arg);

/*
 * Open a received message of an encrypted topic (from a subscription's
 * on_message; kr the topic's keyring) at now_ms into out. 0 and *outlen,
 * YZ_E_SEAL_NOT_SEALED (epoch 0: a plain message), YZ_E_INVAL (another
 * topic), or yz_seal_topic_open()'s errors.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_topic_open_message(const yz_seal_keyring *kr,
                           const yz_pubsub_message *m, uint64_t now_ms,
                           uint8_t *out, size_t cap, size_t *outlen);

/* ---- on the DHT --------------------------------------------------------- */

/* The outcome of a sealed operation, once, from the loop. status: 0, the
 * DHT's (yz/dht.h), or yz_seal_open()'s. Pointers valid during the call. */
typedef struct yz_seal_result {
  int status;
  const yz_dht_result *dht; /* the DHT operation's result (NULL if none ran) */
  uint8_t key[YZ_DHTREC_KEY_LEN];
  uint64_t seq;
  yz_seal_opened opened; /* get */
  const uint8_t *record; /* get: the record as stored (ciphertext) */
  size_t record_len;
} yz_seal_result;

typedef void (*yz_seal_cb)(const yz_seal_result *r, void *arg);

/*
 * Put a sealed value named name: private when n_recipients is 0, else
 * shared to them (yz_seal_shared()); seq 0 means "the time in ms". The
 * user key is copied. 0 then cb once, or an error and no cb.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_put(yz_dht *dht, const yz_seal_user *u, const uint8_t *name,
            size_t name_len, const uint8_t *recipients, size_t n_recipients,
            const uint8_t *pt, size_t pt_len, uint64_t seq, uint64_t expiry,
            yz_seal_cb cb, void *arg);

/* Get and open the sealed record under key (u's own: yz_seal_name_key();
 * shared with u: the key the owner gave). */
YZ_EXPORT YZ_WARN_UNUSED int yz_seal_get(yz_dht *dht, const yz_seal_user *u,
                                         const uint8_t key[YZ_DHTREC_KEY_LEN],
                                         yz_seal_cb cb, void *arg);

/*
 * Share u's value named name with more recipients: get it, open it, and
 * put it again at seq + 1 sealed to its readers and these. The result's
 * key is what the recipients pass to yz_seal_get().
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_seal_share(yz_dht *dht, const yz_seal_user *u, const uint8_t *name,
              size_t name_len, const uint8_t *recipients, size_t n,
              uint64_t expiry, yz_seal_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* YZ_SEAL_H */
