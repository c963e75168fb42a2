/*
 * yz/session.h: one secure yz link, sans-I/O (docs/protocol.md).
 *
 * A session drives the yz handshake (Noise_XX_25519_ChaChaPoly_BLAKE2b with
 * identity proofs in messages 2 and 3), checks the peer's node ID, then
 * frames, fragments, reassembles, rekeys, pings and closes. It never touches
 * a socket or a clock:
 *
 *   in:  yz_session_recv()   one received WebSocket binary message
 *        yz_session_send()   one application message to send
 *        yz_session_tick()   the current time, at yz_session_next_deadline()
 *        now_ms              every call takes the current time: milliseconds
 *                            of a monotonic clock chosen by the caller
 *   out: cfg.send()          one WebSocket binary message to transmit
 *        cfg.event()         UP, MESSAGE, CLOSED
 *
 * Life cycle:
 *   yz_session_local_init()   once per Noise static key: signs it once
 *   yz_session_config_default() + fill in role, local, peer, callbacks
 *   yz_session_init()         allocates nothing yet: the transmit buffer
 *                             grows to the largest frame sent, the receive
 *                             buffer to the message being reassembled (up
 *                             to max_message; freed once delivered); an
 *                             idle session (keepalive PING) frees both
 *   yz_session_start()        initiator: emits handshake message 1;
 *                             responder: arms the handshake timer
 *   ... recv / send / tick ...
 *   yz_session_clear()        frees and wipes (never from a callback)
 *
 * Reentrancy:
 *   - cfg.send() must not call any yz_session_* function on the session.
 *   - cfg.event() may call yz_session_send(), yz_session_close() and the
 *     read-only getters on the same session, but not yz_session_clear() or
 *     yz_session_recv(). A session may be cleared as soon as the call that
 *     emitted the CLOSED event has returned.
 *   - Different sessions are independent; one session is not thread-safe.
 *
 * Errors: after any failure the session is CLOSED (a CLOSED event was
 * emitted, once); later calls return YZ_E_CLOSED and emit nothing. Nothing
 * that did not authenticate is ever delivered.
 */
#ifndef YZ_SESSION_H
#define YZ_SESSION_H

#include "yz/common.h"
#include "yz/identity.h"
#include "yz/noise.h"
#include "yz/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The WebSocket subprotocol (Sec-WebSocket-Protocol) of yz link v1. */
#define YZ_SESSION_WS_SUBPROTOCOL "yz.link.v1"
/* The Noise protocol name. */
#define YZ_SESSION_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_BLAKE2b"
/* The Noise prologue: these 10 ASCII bytes, no NUL
 * (79 7a 2e 6c 69 6e 6b 2e 76 31). */
#define YZ_SESSION_PROLOGUE "yz.link.v1"
#define YZ_SESSION_PROLOGUE_LEN 10
/* The identity signature covers these 38 bytes (the text and one 0x00
 * byte) followed by the 32-byte Noise static public key. */
#define YZ_SESSION_SIG_PREFIX "yz-link-v1 noise static key signature"
#define YZ_SESSION_SIG_PREFIX_LEN 38

enum {
  YZ_SESSION_HASH_LEN = 64,            /* BLAKE2b handshake hash */
  YZ_SESSION_MAX_WIRE_LEN = 65535,     /* one WebSocket message */
  YZ_SESSION_MAX_FRAME_LEN = 65519,    /* plaintext of one transport msg */
  YZ_SESSION_MAX_CLOSE_TEXT = 123,     /* bytes of UTF-8 close text */
  YZ_SESSION_MAX_HEADROOM = 256,       /* cap on cfg.send_headroom */
};

/* Defaults (yz_session_config_default()). */
#define YZ_SESSION_DEFAULT_MAX_MESSAGE (1024u * 1024u)
#define YZ_SESSION_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define YZ_SESSION_DEFAULT_PING_IDLE_MS 15000u
#define YZ_SESSION_DEFAULT_MAX_MISSED_PONGS 3u
#define YZ_SESSION_DEFAULT_REKEY_MESSAGES (UINT64_C(1) << 32)
#define YZ_SESSION_DEFAULT_REKEY_MS 120000u

/* Frame types: the first plaintext byte of a transport message. */
typedef enum yz_session_frame_type {
  YZ_FRAME_DATA = 0x01,       /* a whole application message */
  YZ_FRAME_FRAG_FIRST = 0x02, /* u32 total length, then the first chunk */
  YZ_FRAME_FRAG_MIDDLE = 0x03,
  YZ_FRAME_FRAG_LAST = 0x04,
  YZ_FRAME_PING = 0x05,       /* u64 value */
  YZ_FRAME_PONG = 0x06,       /* u64 value echoed */
  YZ_FRAME_REKEY = 0x07,      /* empty: my next message uses Rekey()ed key */
  YZ_FRAME_CLOSE = 0x08,      /* u16 code, UTF-8 text */
} yz_session_frame_type;

/* Close codes (u16, table in docs/protocol.md). 0x0000-0x00ff are the
 * protocol's; 0x1000-0xffff belong to the application. */
typedef enum yz_session_close_code {
  YZ_CLOSE_NORMAL = 0x0000,        /* the application closed */
  YZ_CLOSE_GOING_AWAY = 0x0001,    /* node shutting down */
  YZ_CLOSE_PROTOCOL = 0x0002,      /* malformed frame or out of order */
  YZ_CLOSE_DECRYPT = 0x0003,       /* a message did not authenticate */
  YZ_CLOSE_TOO_LARGE = 0x0004,     /* message above the maximum */
  YZ_CLOSE_TIMEOUT = 0x0005,       /* handshake or ping timeout */
  YZ_CLOSE_NONCE_EXHAUSTED = 0x0006,
  YZ_CLOSE_IDENTITY = 0x0007,      /* bad identity proof or signature */
  YZ_CLOSE_PEER_ID_MISMATCH = 0x0008,
  YZ_CLOSE_INTERNAL = 0x0009,      /* local failure (memory, transport) */
  /* the link duplicates another between the same two nodes, which stays
   * (docs/protocol.md "Duplicate links") */
  YZ_CLOSE_DUPLICATE = 0x000a,
  /* the peer's identity proof names another network (docs/protocol.md
   * section 5, "Network name"); a handshake failure: local only */
  YZ_CLOSE_NETWORK = 0x000b,
  YZ_CLOSE_APP_MIN = 0x1000,
} yz_session_close_code;

typedef enum yz_session_role {
  YZ_SESSION_INITIATOR = 1, /* dials; knows whom it dials */
  YZ_SESSION_RESPONDER = 2,
} yz_session_role;

typedef enum yz_session_state {
  YZ_SESSION_NEW = 0,       /* initialised, not started */
  YZ_SESSION_HANDSHAKE = 1, /* messages 1..3 in progress */
  YZ_SESSION_UP = 2,        /* transport */
  YZ_SESSION_CLOSED = 3,
} yz_session_state;

/* ------------------------------------------------------------------------ */
/* The local side: identity + Noise static key + its signed proof.           */

/* Optional fields advertised in the proof (all may be zero/absent). */
/* The public network's name: what an identity proof without a network
 * name field means. */
#define YZ_SESSION_NETWORK_DEFAULT "yz"

typedef struct yz_session_proof_options {
  size_t n_addresses; /* at most YZ_WIRE_MAX_ADDRESSES */
  const char *const *address_urls; /* "ws://host:port/" or "wss://..." */
  const uint64_t *address_client_types; /* YZ_WIRE_CLIENT_* per address */
  uint64_t node_type;    /* 0 = absent, YZ_WIRE_NODE_* */
  bool has_capabilities;
  uint64_t capabilities; /* YZ_WIRE_CAP_* */
  const char *version;   /* NULL = absent; 1..64 bytes of UTF-8 */
  /* The network this node belongs to (docs/protocol.md section 5,
   * "Network name"): NULL or "yz" is the public network (the proof then
   * omits the field); else 1..32 bytes of a-z 0-9 . - _. */
  const char *network;
} yz_session_proof_options;

/*
 * Created once per Noise static key and shared (read-only) by every
 * session that uses it; must outlive them. Fields are private.
 */
typedef struct yz_session_local {
  uint8_t static_priv[YZ_NOISE_DH_LEN];
  uint8_t static_pub[YZ_NOISE_DH_LEN];
  yz_node_id id;
  uint8_t identity_pk[YZ_IDENTITY_PK_LEN];
  size_t proof_len;
  uint8_t proof[YZ_WIRE_PROOF_MAX_LEN]; /* canonical CBOR, signed */
  char network[YZ_WIRE_NETWORK_MAX_LEN + 1]; /* "yz" unless configured */
} yz_session_local;

/*
 * Sign the static key with the identity (the one signing of a static key's
 * life) and encode the proof. static_priv NULL = a fresh key pair from the
 * CSPRNG. opts may be NULL. The identity is not kept.
 * Returns 0, YZ_E_INVAL (bad options) or YZ_E_TOO_LARGE.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_session_local_init(yz_session_local *local, const yz_identity *identity,
                      const uint8_t static_priv[YZ_NOISE_DH_LEN],
                      const yz_session_proof_options *opts);

/* Wipe the static private key. */
YZ_EXPORT void yz_session_local_clear(yz_session_local *local);

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

typedef enum yz_session_event_type {
  YZ_SESSION_EVENT_UP = 1,      /* handshake done, peer authenticated */
  YZ_SESSION_EVENT_MESSAGE = 2, /* one complete application message */
  YZ_SESSION_EVENT_CLOSED = 3,  /* the session is closed (once) */
} yz_session_event_type;

typedef struct yz_session_event {
  yz_session_event_type type;
  union {
    struct {
      const yz_node_id *peer_id;  /* SHA-256 of the peer identity key */
      /* the peer's proof, verified; valid during the event only */
      const yz_wire_identity_proof *proof;
      const uint8_t *channel_binding; /* handshake hash, 64 bytes */
      size_t channel_binding_len;
    } up;
    struct {
      const uint8_t *data; /* valid only during the callback */
      size_t len;
    } message;
    struct {
      int err;       /* YZ_E_PEER_CLOSED if remote, else the local cause */
      bool remote;   /* the peer sent CLOSE */
      uint16_t code; /* yz_session_close_code or an application code */
      const char *text; /* NUL-terminated, valid during the callback */
      size_t text_len;
    } closed;
  } u;
} yz_session_event;

/*
 * Transmit one WebSocket binary message. msg has cfg.send_headroom writable
 * bytes before it (for LWS_PRE: lws_write() may be called in place) and is
 * valid only during the call: copy it to queue it. Return 0, or a negative
 * YZ_E_* (e.g. YZ_E_QUEUE_FULL): the session then closes locally (the Noise
 * nonce stream can no longer be kept in step) and the originating call
 * returns that error. Use yz_session_wire_messages_for() to check room
 * before a send.
 */
typedef int (*yz_session_send_cb)(void *user, uint8_t *msg, size_t len);
typedef void (*yz_session_event_cb)(void *user, const yz_session_event *ev);

/*
 * Optional (cfg.tx_alloc): a buffer of at least len bytes, with
 * cfg.send_headroom writable bytes before it, for the transport message
 * the session is about to seal; or NULL (the session then uses a buffer of
 * its own). The session writes the frame there, encrypts it in place and
 * passes that same pointer to cfg.send(), which may then keep the buffer
 * (queue it) instead of copying it: one copy of the application's bytes
 * per message, the encryption's. Only the last buffer handed out is ever
 * passed to send(); a buffer the session asked for and did not send (an
 * encryption failure: the session closes) stays the transport's to reuse
 * or free, and may hold the frame's plaintext (wipe it). Like send(), it
 * must not call any yz_session_* function on the session.
 */
typedef uint8_t *(*yz_session_tx_alloc_cb)(void *user, size_t len);

typedef struct yz_session_config {
  yz_session_role role;
  const yz_session_local *local; /* required; must outlive the session */
  /* Pinning (initiator): the node ID it dials. Required unless unpinned is
   * set; an initiator with neither fails yz_session_init() (YZ_E_INVAL). A
   * responder may also pin. */
  const yz_node_id *expected_peer;
  bool unpinned;
  size_t max_message;             /* default 1 MiB, max 2^32-1 */
  uint64_t handshake_timeout_ms;  /* default 10 s; 0 = none */
  uint64_t ping_idle_ms;          /* default 15 s; 0 = no keepalive */
  uint32_t max_missed_pongs;      /* default 3 */
  uint64_t rekey_after_messages;  /* per direction; default 2^32 */
  uint64_t rekey_after_ms;        /* per direction; default 120 s; 0 = off */
  size_t send_headroom;           /* bytes before msg in send(); <= 256 */
  yz_session_send_cb send;        /* required */
  yz_session_event_cb event;      /* required */
  void *user;
  /* Initiator: a cookie from the responder's COOKIE_REPLY
   * (YZ_SESSION_COOKIE_LEN bytes, copied; NULL = none): message 1 then
   * carries it in its payload (docs/protocol.md 4, "Cookie"). */
  const uint8_t *cookie;
  /* Transport buffers to seal into (see yz_session_tx_alloc_cb; NULL:
   * none, send() copies). */
  yz_session_tx_alloc_cb tx_alloc;
} yz_session_config;

/* Fill in the defaults; role, local, peer and callbacks stay to be set. */
YZ_EXPORT void yz_session_config_default(yz_session_config *cfg);

/* ------------------------------------------------------------------------ */
/* The session                                                               */

/* Caller-allocated; fields are private. */
typedef struct yz_session {
  yz_session_config cfg;
  uint8_t state;      /* yz_session_state */
  uint8_t hs_step;    /* handshake messages processed */
  uint8_t in_event;   /* reentrancy guard */
  uint8_t closing;    /* a local close is sending its CLOSE frame */
  /* heap, from init until Split() or the close (wiped when freed) */
  yz_noise_handshakestate *hs;
  yz_noise_cipherstate tx, rx;
  yz_node_id expected; /* copy of *cfg.expected_peer */
  yz_node_id peer_id;
  uint8_t hash[YZ_SESSION_HASH_LEN];
  /* heap, from the check of the peer's proof until its UP event returns */
  yz_wire_identity_proof *peer_proof;
  uint64_t nonce_limit;
  uint64_t hs_deadline;
  uint64_t last_rx_ms;
  uint64_t next_ping_ms;
  uint64_t ping_value;     /* last ping value sent */
  uint32_t missed_pongs;   /* pings outstanding */
  uint64_t tx_since_rekey;
  uint64_t tx_rekey_ms;
  /* transmit: headroom + the largest frame so far (<= 65535), on demand,
   * freed when idle */
  uint8_t *txbuf;
  size_t txcap;
  /* receive: decryption target and reassembly, sized to the message being
   * received (up to the maximum); a reassembly buffer is freed once
   * delivered, one of a single frame when idle */
  uint8_t *rxbuf;
  size_t rxcap;
  size_t frag_total; /* declared total; 0 = not reassembling */
  size_t frag_fill;
  /* initiator: the cookie message 1 carries (cfg.cookie) */
  bool has_cookie;
  uint8_t cookie[16]; /* YZ_SESSION_COOKIE_LEN */
} yz_session;

/* Validate cfg, copy it. 0, YZ_E_INVAL, YZ_E_NOMEM. */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_init(yz_session *s,
                                             const yz_session_config *cfg);

/* Free and wipe everything. Not from a callback of this session. */
YZ_EXPORT void yz_session_clear(yz_session *s);

/* Begin: the initiator sends message 1 (e; the payload is empty, or the
 * cookie of cfg.cookie); both arm the handshake timeout. YZ_E_STATE if
 * already started. */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_start(yz_session *s, uint64_t now_ms);

/*
 * One received WebSocket binary message. Returns 0 if it was processed
 * (events may have been emitted); a negative YZ_E_* if it closed the
 * session (the CLOSED event was emitted, with the reason); YZ_E_CLOSED
 * if the session was already closed (the input is ignored).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_recv(yz_session *s,
                                             const uint8_t *msg, size_t len,
                                             uint64_t now_ms);

/*
 * yz_session_recv() of a message the caller lets the session overwrite:
 * once the session is UP, a transport message is decrypted in place in
 * msg[0..len) (no copy; a message delivered from it is valid during its
 * MESSAGE event), except for a full-size transport message (most likely a
 * first fragment) and the fragments after the first of a fragmented
 * message, which are decrypted straight into the reassembly buffer.
 * msg's content is unspecified afterwards. Same results as
 * yz_session_recv().
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_recv_inplace(yz_session *s,
                                                     uint8_t *msg, size_t len,
                                                     uint64_t now_ms);

/*
 * Send one application message of 0..max_message bytes: one DATA frame or
 * a FRAG_FIRST..FRAG_LAST run, preceded by a REKEY frame when one is due.
 * Every wire message goes through cfg.send() before this returns.
 * YZ_E_STATE before UP; YZ_E_TOO_LARGE (session stays up); YZ_E_CLOSED.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_send(yz_session *s,
                                             const uint8_t *msg, size_t len,
                                             uint64_t now_ms);

/* The most wire messages yz_session_send() of len bytes may emit. */
YZ_EXPORT size_t yz_session_wire_messages_for(const yz_session *s,
                                              size_t len);

/*
 * Close locally: when UP, sends a CLOSE frame (code, text truncated to 123
 * bytes at a UTF-8 boundary, and before any byte that is not valid UTF-8,
 * which the peer would refuse), then emits CLOSED (err YZ_E_CLOSED, remote
 * false). text may be NULL. YZ_E_CLOSED if already closed.
 */
YZ_EXPORT int yz_session_close(yz_session *s, uint16_t code, const char *text,
                               uint64_t now_ms);

/* The next time yz_session_tick() must be called (UINT64_MAX: none). */
YZ_EXPORT uint64_t yz_session_next_deadline(const yz_session *s);

/* Run the timers due at now_ms: handshake timeout, ping, missed pongs.
 * 0, or the error that closed the session, or YZ_E_CLOSED. */
YZ_EXPORT int yz_session_tick(yz_session *s, uint64_t now_ms);

YZ_EXPORT yz_session_state yz_session_get_state(const yz_session *s);

/* The authenticated peer, once UP (NULL before). The peer's decoded proof
 * only during the UP event (NULL before and after): an established session
 * does not keep it (the UP event's copy is the one to keep). */
YZ_EXPORT const yz_node_id *yz_session_peer_id(const yz_session *s);
YZ_EXPORT const yz_wire_identity_proof *
yz_session_peer_proof(const yz_session *s);

/* The channel binding (handshake hash), once UP: copies 64 bytes into out
 * and returns 64, or 0 before UP. */
YZ_EXPORT size_t yz_session_channel_binding(const yz_session *s,
                                            uint8_t out[YZ_SESSION_HASH_LEN]);

/*
 * Memory (for a node-wide budget, yz/link.h): the bytes the session's
 * receive buffer holds now (a message being reassembled, or at most two
 * transport messages' plaintext kept between messages, 131,037 bytes;
 * 0 once idle), what
 * it will hold once yz_session_recv() of a wire message of wire_len bytes
 * has grown it (its current size if it would not grow; the caller can
 * refuse before it does), and the bytes of its transmit buffer (the
 * largest frame sent so far, at most headroom + 65535; 0 once idle, and
 * from the end of the handshake until a frame is sealed into it, which a
 * transport with cfg.tx_alloc never needs). "Idle": the keepalive PING
 * went out (no authentic input for ping_idle_ms).
 */
YZ_EXPORT size_t yz_session_rx_buffered(const yz_session *s);
YZ_EXPORT size_t yz_session_rx_reserve(const yz_session *s, size_t wire_len);
YZ_EXPORT size_t yz_session_tx_buffered(const yz_session *s);

/* Name of a close code ("PROTOCOL", ...; "APPLICATION" or "UNKNOWN"). */
YZ_EXPORT const char *yz_session_close_code_name(uint16_t code);

/*
 * Pure frame parser (fuzzable): checks one decrypted transport plaintext
 * and reports its type and body. Validates sizes and contents of every
 * type (e.g. UTF-8 close text, FRAG_FIRST total within max_message and
 * above one frame). 0 or YZ_E_MALFORMED / YZ_E_TRUNCATED / YZ_E_TRAILING /
 * YZ_E_TOO_LARGE with *reason.
 */
typedef struct yz_session_frame {
  uint8_t type;         /* yz_session_frame_type */
  const uint8_t *body;  /* DATA and FRAG_*: the chunk; CLOSE: the text */
  size_t body_len;
  uint64_t value;       /* PING/PONG value; FRAG_FIRST total; CLOSE code */
} yz_session_frame;

YZ_EXPORT YZ_WARN_UNUSED int yz_session_frame_parse(yz_session_frame *f,
                                                    const uint8_t *p,
                                                    size_t n,
                                                    size_t max_message,
                                                    const char **reason);

/* ------------------------------------------------------------------------ */
/* Cookies (docs/protocol.md 4, "Cookie"): a responder under load answers a  */
/* message 1 that carries no valid cookie with a COOKIE_REPLY and closes,   */
/* before any DH work; the initiator dials again with the cookie in the     */
/* payload of message 1. These functions are pure (bytes in, bytes out): the */
/* caller (the link layer) keeps the secret, decides when a cookie is       */
/* required, and looks at message 1 (responder) or a COOKIE_REPLY           */
/* (initiator) before it hands a message to the session.                    */

/* "yz-link-v1 cookie" and one 0x00 byte: the first 18 bytes of the MAC
 * input. */
#define YZ_SESSION_COOKIE_PREFIX "yz-link-v1 cookie"
#define YZ_SESSION_COOKIE_PREFIX_LEN 18
/* The first 8 bytes of a COOKIE_REPLY: ASCII "yzcookie". */
#define YZ_SESSION_COOKIE_REPLY_TAG "yzcookie"

enum {
  YZ_SESSION_COOKIE_LEN = 16,        /* the MAC carried in message 1 */
  YZ_SESSION_COOKIE_SECRET_LEN = 32, /* the responder's rotating key */
  YZ_SESSION_COOKIE_TYPE = 0x01,     /* the only cookie format of v1 */
  YZ_SESSION_COOKIE_ADDR_MAX = 16,   /* bytes of source address */
  YZ_SESSION_MSG1_LEN = 32,          /* e.public, empty payload */
  YZ_SESSION_MSG1_COOKIE_LEN = 32 + 1 + 16, /* e || type || cookie: 49 */
  YZ_SESSION_COOKIE_REPLY_TAG_LEN = 8,
  YZ_SESSION_COOKIE_REPLY_LEN = 8 + 1 + 16, /* tag || type || cookie: 25 */
};

/* Message 1 as the responder sees it, after yz_session_msg1_parse(). */
typedef struct yz_session_msg1 {
  const uint8_t *e;      /* the initiator's ephemeral key, 32 bytes */
  const uint8_t *cookie; /* YZ_SESSION_COOKIE_LEN bytes, or NULL: none */
} yz_session_msg1;

/*
 * Parse handshake message 1 strictly: exactly 32 bytes (no cookie) or
 * exactly 49 bytes whose byte 32 is YZ_SESSION_COOKIE_TYPE. Pointers into
 * p. 0, or YZ_E_TRUNCATED / YZ_E_MALFORMED (another length, an unknown
 * cookie type) with *reason (static text); the responder then closes with
 * PROTOCOL. reason may be NULL.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_session_msg1_parse(yz_session_msg1 *out,
                                                   const uint8_t *p, size_t n,
                                                   const char **reason);

/*
 * The cookie of a source address for a responder:
 *   BLAKE2b(key = secret, out = 16 bytes,
 *           prefix (18) || addr_len (1) || addr || responder node ID (32)).
 * addr is the dialler's IP address as the responder's transport sees it
 * (IPv4: 4 bytes; IPv6: its first 8 bytes, the /64); 0..16 bytes.
 * 0, or YZ_E_INVAL (addr_len above 16).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_session_cookie_make(uint8_t out[YZ_SESSION_COOKIE_LEN],
                       const uint8_t secret[YZ_SESSION_COOKIE_SECRET_LEN],
                       const uint8_t *addr, size_t addr_len,
                       const yz_node_id *responder);

/* Is cookie the one yz_session_cookie_make() gives for these inputs?
 * Compared in constant time; the computed value is wiped. */
YZ_EXPORT YZ_WARN_UNUSED bool
yz_session_cookie_check(const uint8_t cookie[YZ_SESSION_COOKIE_LEN],
                        const uint8_t secret[YZ_SESSION_COOKIE_SECRET_LEN],
                        const uint8_t *addr, size_t addr_len,
                        const yz_node_id *responder);

/* Write the 25-byte COOKIE_REPLY carrying cookie; returns its length. */
YZ_EXPORT size_t
yz_session_cookie_reply_encode(uint8_t out[YZ_SESSION_COOKIE_REPLY_LEN],
                               const uint8_t cookie[YZ_SESSION_COOKIE_LEN]);

/*
 * Is p a COOKIE_REPLY? Exactly 25 bytes, the tag, type 0x01: 0 and the
 * cookie in out. YZ_E_TRUNCATED / YZ_E_TRAILING (another length),
 * YZ_E_MALFORMED (not the tag; or the tag with an unknown type: *reason
 * says which) with *reason; out is then zeroed. reason may be NULL.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_session_cookie_reply_parse(uint8_t out[YZ_SESSION_COOKIE_LEN],
                              const uint8_t *p, size_t n,
                              const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_SESSION_H */
