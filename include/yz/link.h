/*
 * yz/link.h: links between nodes. A link is one WebSocket connection
 * carrying one yz session (yz/session.h): the Noise XX handshake bound to
 * the two node IDs, then encrypted messages.
 *
 * A link manager is bound to the caller's libuv loop. It listens on ws://
 * and wss:// (on libwebsockets, each listener a vhost of the process's
 * single libwebsockets context; or on the native backend: see
 * yz_link_config.backend), dials node addresses, runs one session per connection, queues
 * outgoing messages with a bound, enforces the limits of DESIGN.md (links,
 * handshakes in progress, per-IP handshake rate, message size, handshake
 * timeout), each source's share of them and the eviction of idle links
 * (docs/operations.md "Limits"), and reports link events through
 * callbacks. It speaks WebSocket over HTTP/1.1 only, never HTTP/2.
 *
 * Threading: none. Every call must be made on the loop's thread, and every
 * callback runs on it. All managers of a process must share one uv loop
 * (they share one libwebsockets context; yz_link_manager_new() returns
 * YZ_E_STATE for a second loop).
 *
 * Lifetime, modelled on libuv's handles:
 *   yz_link_manager_new()      -> listen / dial / send ...
 *   yz_link_manager_close(cb)  -> every link goes down (on_down, YZ_E_CLOSED),
 *                                 listeners stop, the manager's handles close;
 *                                 cb runs once all of it, and for the last
 *                                 manager the libwebsockets context, is gone.
 *   After cb, uv_run() returns once the caller's own handles are closed and
 *   uv_loop_close() returns 0.
 *
 * Callbacks are never called synchronously from the call that causes them
 * (yz_link_dial, yz_link_send, yz_link_close): they run from the loop.
 */
#ifndef YZ_LINK_H
#define YZ_LINK_H

#include <uv.h>

#include "yz/common.h"
#include "yz/identity.h"
#include "yz/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct yz_link_manager yz_link_manager;
typedef struct yz_link yz_link;

typedef enum yz_link_direction {
  YZ_LINK_INBOUND = 1,  /* the peer dialled us (we are the Noise responder) */
  YZ_LINK_OUTBOUND = 2, /* we dialled (we are the Noise initiator) */
} yz_link_direction;

enum {
  /* A Noise transport message is at most 65535 bytes (Noise spec 3); one
   * WebSocket binary message carries exactly one. A larger WebSocket
   * message closes the connection. */
  YZ_LINK_MAX_WIRE_MESSAGE = 65535,
  YZ_LINK_CHANNEL_BINDING_MAX = 64, /* the handshake hash (BLAKE2b: 64) */
  YZ_LINK_ADDR_TEXT_MAX = 64,       /* "[v6]:port" text of the remote end */
};

/*
 * What the upper layer learns about the peer when a link comes up. Valid
 * only during the on_up callback (copy what you keep).
 */
typedef struct yz_link_peer {
  yz_node_id id;                        /* SHA-256 of identity_pk, verified */
  uint8_t identity_pk[YZ_IDENTITY_PK_LEN]; /* the peer's Ed25519 key */
  /* Channel binding: the Noise handshake hash h after the last message
   * (DESIGN.md: "The handshake hash is exposed as a channel binding"). */
  uint8_t channel_binding[YZ_LINK_CHANNEL_BINDING_MAX];
  size_t channel_binding_len;
  /* The peer's identity proof, decoded and verified by the session
   * (proto/, docs/protocol.md): its optional fields advertise listen
   * addresses, node type, capabilities and software version. */
  const yz_wire_identity_proof *proof;
  yz_link_direction direction;
  bool tls;                             /* wss:// */
  char remote_addr[YZ_LINK_ADDR_TEXT_MAX]; /* "127.0.0.1:40000" */
} yz_link_peer;

/*
 * Event callbacks. ud is yz_link_config.user_data.
 *
 * on_down runs exactly once for every link the upper layer knows about:
 * every link returned by yz_link_dial() (also when it never came up: err
 * says why, e.g. YZ_E_UNREACHABLE, YZ_E_PEER_ID_MISMATCH, YZ_E_TIMEOUT) and
 * every inbound link announced by on_up. Inbound connections that fail
 * before on_up are only counted in the stats. The link handle is freed when
 * on_down returns.
 *
 * err is a YZ_E_* code, the reason class:
 *   YZ_E_CLOSED           closed locally (yz_link_close, manager shutdown)
 *   YZ_E_PEER_CLOSED      the peer closed (close frame or WebSocket close)
 *   YZ_E_IO               the connection broke (abrupt TCP close, reset)
 *   YZ_E_UNREACHABLE      the dial could not connect or upgrade
 *   YZ_E_TLS              the TLS handshake failed (e.g. certificate)
 *   YZ_E_TIMEOUT          handshake timeout or missed pongs
 *   YZ_E_DECRYPT          a message did not authenticate (nothing delivered)
 *   YZ_E_PEER_ID_MISMATCH the peer is not the node the address named:
 *                         a man in the middle or a wrong address
 *   YZ_E_BAD_SIGNATURE, YZ_E_VERSION, YZ_E_MALFORMED, YZ_E_TOO_LARGE,
 *   YZ_E_STATE            the peer broke the protocol (session reasons)
 *   YZ_E_QUEUE_FULL       the peer does not read what it makes us send
 *   YZ_E_LIMIT            evicted: the link was idle while max_links was
 *                         reached and a new peer wanted in (see
 *                         evict_min_idle_ms)
 *   YZ_E_LIMIT            or: the node's memory budget ran out and this link
 *                         held the most (mem_budget_bytes)
 *   YZ_E_LIMIT            or: the peer is under load: it answered the dial's
 *                         one redial with a cookie (docs/protocol.md 4,
 *                         "Cookie") with another COOKIE_REPLY
 *   YZ_E_NOMEM            out of memory
 * A dial that the peer refuses by a limit (it closes the connection before
 * the WebSocket upgrade, giving no reason by design) goes down with
 * YZ_E_UNREACHABLE and the reason "refused by the peer before the
 * WebSocket upgrade (its limits?): ...", which ends with the HTTP status
 * if the peer answered with one.
 * A dial answered by a 101 without the yz.link.v1 subprotocol goes down
 * with YZ_E_VERSION and a reason naming the subprotocol (docs/protocol.md
 * "The WebSocket upgrade"): nothing was sent.
 * reason is a static or short-lived human-readable text (never NULL; copy it
 * to keep it), e.g. "decryption failed: message not authentic".
 *
 * on_message: one whole application message (1 .. max_message_size
 * bytes), authenticated and decrypted. The buffer is valid during the call.
 *
 * on_writable: a yz_link_send() on this link returned YZ_E_QUEUE_FULL and
 * the queue has since drained below half of its bounds (or, when the
 * node's memory budget refused it, the node's total has fallen below half
 * of the application's share: see mem_budget_bytes): the upper layer may
 * send again. Runs once per QUEUE_FULL episode.
 */
typedef struct yz_link_callbacks {
  void (*on_up)(yz_link_manager *m, yz_link *link, const yz_link_peer *peer,
                void *ud);
  void (*on_message)(yz_link_manager *m, yz_link *link, const uint8_t *msg,
                     size_t len, void *ud);
  void (*on_writable)(yz_link_manager *m, yz_link *link, void *ud);
  void (*on_down)(yz_link_manager *m, yz_link *link, int err,
                  const char *reason, void *ud);
} yz_link_callbacks;

/*
 * Manager configuration. Fill with yz_link_config_default(), then set
 * identity, callbacks and whatever differs. Zero in a limit means the
 * default, not "unlimited".
 */
/* The WebSocket implementation under the links (docs/operations.md
 * "WebSocket backend"). */
typedef enum yz_link_backend {
  /* The environment's YZ_LINK_BACKEND ("native" or "lws") if set, else
   * the default: native. */
  YZ_LINK_BACKEND_AUTO = 0,
  YZ_LINK_BACKEND_LWS = 1, /* libwebsockets 4.1 on the loop (ws.c) */
  /* libuv TCP, a strict HTTP/1.1 upgrade, RFC 6455 framing and OpenSSL
   * TLS (native.c); no libwebsockets context is made */
  YZ_LINK_BACKEND_NATIVE = 2,
} yz_link_backend;

typedef struct yz_link_config {
  /* The node's identity (required). Copied: the manager signs its Noise
   * static key once at creation (DESIGN.md: one signature per process, a
   * verification per handshake). */
  const yz_identity *identity;

  yz_link_callbacks cb;
  void *user_data;

  uint32_t max_links;          /* links (up or in handshake); default 1024 */
  uint32_t max_handshakes;     /* handshakes in progress; default 128 */
  /* Per remote IP token bucket for inbound handshakes: rate per second and
   * burst. Defaults 20/s, burst 40. */
  uint32_t ip_rate_per_s;
  uint32_t ip_rate_burst;
  size_t max_message_size;     /* application message; default 1 MiB */
  uint32_t handshake_timeout_ms; /* default 10000 */
  uint32_t ping_interval_ms;   /* ping after idle; default 15000 */
  uint32_t missed_pongs;       /* close after this many; default 3 */
  /* The bounded send queue of each link: encrypted bytes and messages
   * waiting for the socket. Defaults 1 MiB and 1024 messages. A message
   * is always accepted into an empty queue (up to max_message_size), so
   * the bytes bound only has to cover the pipelining wanted; a peer that
   * never reads holds about max(bound, max_message_size) of the node's
   * memory, and all of them together at most mem_budget_bytes. */
  size_t send_queue_max_bytes;
  uint32_t send_queue_max_msgs;

  /* TLS for wss:// dials: a CA file (PEM) to verify servers with; NULL uses
   * the system CA bundle. Per-dial relaxations in yz_link_dial_opts. */
  const char *tls_ca_file;

  /* The clock of the limits' token buckets, of the idle times that
   * eviction compares and of the log budgets, in milliseconds; NULL uses
   * uv_now() of the loop. Tests set it to make them deterministic. */
  uint64_t (*clock_ms)(void *clock_ud);
  void *clock_ud;
  /* Virtual time (simulation, with clock_ms): the sessions take their time
   * from clock_ms too, and the manager arms no timer for their deadlines:
   * the caller runs yz_link_manager_run_timers() whenever its clock reaches
   * yz_link_manager_next_deadline(). */
  bool virtual_time;

  /* One source must not deny service to the others (docs/operations.md
   * "Limits"). A source is an IPv4 address or an IPv6 /64.
   * - max_handshakes_per_source: inbound connections from one source that
   *   are accepted and not yet up (upgrading or in the Noise handshake);
   *   default 8.
   * - max_links_per_source: inbound links from one source, up or not;
   *   default 32.
   * The handshake timeout runs from the TCP accept, whatever the peer
   * sends before the yz handshake ends; a plain HTTP request is answered
   * and the connection closed.
   * - evict_min_idle_ms: when max_links is reached and a new inbound
   *   connection comes, the link idle longest (no application message
   *   either way for at least this long), inbound ones first, is closed
   *   (GOING_AWAY, "evicted: idle while the link table is full"; on_down
   *   says YZ_E_LIMIT) to make room. Default 60000; links marked with
   *   yz_link_set_protected() are never evicted.
   * Zero means the default; the memnet backend (no source addresses)
   * applies only the eviction. */
  uint32_t max_handshakes_per_source;
  uint32_t max_links_per_source;
  uint32_t evict_min_idle_ms;

  /* Transport: NULL is WebSocket on libwebsockets. An in-memory network
   * (yz_link_memnet_new) instead: no sockets, no lws context; for tests and
   * simulations of many nodes in one process. */
  struct yz_link_memnet *memnet;

  /* Memory budget (docs/operations.md "Memory budget"). One bound for the
   * whole manager on the bytes its links hold for their peers: every send
   * queue (encrypted bytes waiting for the socket) and every message being
   * reassembled (docs/protocol.md section 7). Default 256 MiB; at least
   * twice max_message_size (else yz_link_manager_new() is YZ_E_INVAL).
   * - yz_link_send() refuses with YZ_E_QUEUE_FULL once a message would take
   *   the total above 7/8 of the budget (the rest is kept for what peers
   *   send); on_writable follows when the total falls below half of that.
   * - When anything else would take it above the budget (a growing
   *   reassembly, or a frame the session sends by itself), the links
   *   holding the most are closed, heaviest first, until it fits: their
   *   queued data is dropped, the peer gets a CLOSE with code INTERNAL
   *   and a "memory budget" text, and on_down says YZ_E_LIMIT. Counted in
   *   yz_link_stats.budget_closes; the total is yz_link_stats.budget_bytes.
   */
  size_t mem_budget_bytes;
  /* Cookies (docs/protocol.md 4, "Cookie"; docs/operations.md). Under
   * load, the node answers an inbound message 1 that carries no valid
   * cookie with a COOKIE_REPLY and closes the connection: no DH, no
   * session kept. The dialler proves its address by dialling again, once
   * and transparently, with the cookie in message 1; the upper layer sees
   * one on_up or one on_down. The node is under load when any of:
   *   - cookie_always is set (tests; operators under attack);
   *   - the other handshakes in progress (upgrading connections
   *     included) reach cookie_load_pct percent of max_handshakes
   *     (default 50; a value above 100 turns this trigger off);
   *   - more than cookie_msg1_per_s message 1s arrived in the current or
   *     the previous second of clock_ms (default 256; UINT32_MAX turns
   *     this trigger off).
   * Zero means the default, as for the limits above. */
  uint32_t cookie_load_pct;
  uint32_t cookie_msg1_per_s;
  bool cookie_always;
  /* The network the node belongs to (docs/protocol.md section 5, "Network
   * name"): NULL (the default) or "yz" is the public network; a test
   * network takes another name, 1..32 bytes of a-z 0-9 . - _ (else
   * yz_link_manager_new() returns YZ_E_INVAL). It travels in the identity
   * proof; a peer of another network fails the handshake on both ends with
   * YZ_E_NETWORK and a reason naming both networks (a dial's on_down; an
   * inbound connection's is logged, as a refusal). Copied. */
  const char *network;
  /* The optional fields of the node's identity proof (docs/protocol.md
   * section 5): listen addresses with their client types, node type,
   * capabilities, software version; its network field is ignored (the
   * network is the field above). NULL: none. Read by
   * yz_link_manager_new() only (YZ_E_INVAL for a value the proof refuses):
   * the proof is signed and encoded once, at creation. */
  const struct yz_session_proof_options *proof;

  /* The WebSocket backend (ignored with memnet). Zero: AUTO. Every
   * manager of a process on one backend shares its loop. */
  yz_link_backend backend;
} yz_link_config;

/* Defaults as documented above; identity and callbacks NULL. */
YZ_EXPORT void yz_link_config_default(yz_link_config *cfg);

/*
 * A manager on loop. On libwebsockets, creates (or shares, refcounted) the
 * process's libwebsockets context; the native backend likewise shares one
 * loop and its listeners among the process's managers (yz_link_config
 * .backend). 0, YZ_E_INVAL (no identity), YZ_E_NOMEM,
 * YZ_E_STATE (another loop already owns the process's context or native
 * backend, or the previous last manager's is still being torn down: wait
 * for its on_closed), YZ_E_IO
 * (libwebsockets failed, e.g. the evlib_uv plugin is missing: install
 * libwebsockets-evlib-uv).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_link_manager_new(yz_link_manager **out,
                                                 uv_loop_t *loop,
                                                 const yz_link_config *cfg);

/*
 * Shut down: every link goes down with YZ_E_CLOSED (on_down runs for each,
 * from the loop, after this returns). Each up link's session sends its
 * CLOSE frame (GOING_AWAY, "shutting down"), so that the peer's on_down
 * says YZ_E_PEER_CLOSED with that code; what is queued is written first,
 * for at most one second, then the connections are dropped. Listeners
 * stop, and once every handle
 * of the manager (and for the last manager the libwebsockets context, with
 * its two-phase destroy) is released, on_closed runs from the loop and the
 * manager is freed. Calling it twice is misuse. Safe to call from a link
 * callback.
 *
 * While other managers keep the process's context alive, a closed
 * manager's listeners stay bound and refuse every connection, and a new
 * manager listening on the same address and port (a node restarted in the
 * same process) takes them over at once; they close with the last manager.
 */
YZ_EXPORT void yz_link_manager_close(yz_link_manager *m,
                                     void (*on_closed)(void *ud), void *ud);

/* Virtual time (cfg.virtual_time): the earliest session deadline of the
 * manager's links on its clock (UINT64_MAX: none), and running every
 * deadline that is due at the clock's current time. With real time these
 * run by themselves from a uv timer. */
YZ_EXPORT uint64_t yz_link_manager_next_deadline(const yz_link_manager *m);
YZ_EXPORT void yz_link_manager_run_timers(yz_link_manager *m);

YZ_EXPORT uv_loop_t *yz_link_manager_loop(const yz_link_manager *m);
/* The name of the manager's backend: "websocket" (libwebsockets),
 * "native" or "memory". */
YZ_EXPORT const char *yz_link_manager_backend(const yz_link_manager *m);
YZ_EXPORT const yz_node_id *yz_link_manager_node_id(const yz_link_manager *m);

/*
 * Listen. url is "ws://HOST:PORT" or "wss://HOST:PORT", parsed by
 * yz_address_parse_listen() (yz/address.h: the node address grammar
 * without '#NODEID'; a path, if given, is ignored: any path is accepted);
 * HOST is an IP literal or a local name to bind ("0.0.0.0", "127.0.0.1",
 * "[::]"); PORT 0 lets the kernel choose.
 * wss:// needs tls_cert_file and tls_key_file (PEM). Each listener is a
 * vhost; a manager may listen on several. *port_out (if not NULL) gets the
 * bound port. 0, YZ_E_ADDRESS (bad url; the parser's reason is logged),
 * YZ_E_INVAL (wss without cert),
 * YZ_E_IO (bind failed, unreadable cert).
 */
typedef struct yz_link_listen_config {
  const char *url;
  const char *tls_cert_file;
  const char *tls_key_file;
} yz_link_listen_config;

YZ_EXPORT YZ_WARN_UNUSED int
yz_link_listen(yz_link_manager *m, const yz_link_listen_config *lc,
               uint16_t *port_out);

/* Per-dial options; a zeroed struct (or NULL) is the safe default. */
enum {
  /* wss:// only: accept a self-signed server certificate / skip the host
   * name check. The Noise handshake still authenticates the node ID, so a
   * node-to-node wss:// link stays protected; TLS then only hides the
   * WebSocket framing. */
  YZ_LINK_TLS_ALLOW_SELFSIGNED = 1u << 0,
  YZ_LINK_TLS_SKIP_HOSTNAME_CHECK = 1u << 1,
  YZ_LINK_TLS_INSECURE = 1u << 2, /* accept any certificate */
};

typedef struct yz_link_dial_opts {
  unsigned tls_flags;
  /* Accept any peer node ID. Deliberate and explicit (DESIGN.md: never the
   * default): expected_id must then be NULL. */
  bool unpinned;
} yz_link_dial_opts;

/*
 * Dial a node address ("ws[s]://HOST[:PORT][/PATH][#NODEID]", parsed by
 * yz_address_parse() of yz/address.h: the "#NODEID" fragment is taken as
 * expected_id when expected_id is NULL and opts->unpinned is false). The
 * link handle is returned at once; on_up or on_down follows. 0,
 * YZ_E_ADDRESS (the parser's reason is logged, rate-limited), YZ_E_INVAL
 * (no expected ID and not
 * unpinned), YZ_E_LIMIT (max_links or max_handshakes reached), YZ_E_STATE
 * (manager closing), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_link_dial(yz_link_manager *m, const char *url,
                                          const yz_node_id *expected_id,
                                          const yz_link_dial_opts *opts,
                                          yz_link **out);

/*
 * Queue one application message (1 .. max_message_size bytes) for the peer.
 * It is encrypted now (fragmented by the session if larger than one Noise
 * message) and written as the socket allows. 0, YZ_E_QUEUE_FULL (nothing
 * was queued, because of this link's queue bounds or of the node's memory
 * budget; wait for on_writable), YZ_E_TOO_LARGE, YZ_E_INVAL (empty),
 * YZ_E_STATE (link not up or going down).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_link_send(yz_link *link, const uint8_t *msg,
                                          size_t len);

/*
 * Close: the session sends its close frame, queued data is flushed for a
 * short while, then the connection closes; on_down follows with
 * YZ_E_CLOSED. Idempotent.
 */
YZ_EXPORT void yz_link_close(yz_link *link);

/*
 * Close with a close code and a text for the peer (docs/protocol.md
 * "Close"): as yz_link_close(), but the session's CLOSE frame carries code
 * and text (cut to 123 bytes of UTF-8; NULL: none), and on_down follows
 * with err (0: YZ_E_CLOSED) and the text as its reason. For an upper
 * layer that closes because of what the peer sent (e.g. YZ_CLOSE_PROTOCOL
 * with YZ_E_MALFORMED). Idempotent like yz_link_close().
 */
YZ_EXPORT void yz_link_close_with(yz_link *link, uint16_t code, int err,
                                  const char *text);

/* The queue level: encrypted bytes and messages waiting to be written. */
YZ_EXPORT void yz_link_queue_level(const yz_link *link, size_t *bytes,
                                   size_t *msgs);

/* Accessors. The peer ID is the verified one once up (before that, for an
 * outbound link, the expected one; NULL if unpinned and not up yet). */
YZ_EXPORT const yz_node_id *yz_link_peer_id(const yz_link *link);
YZ_EXPORT yz_link_direction yz_link_get_direction(const yz_link *link);
YZ_EXPORT bool yz_link_is_up(const yz_link *link);
YZ_EXPORT yz_link_manager *yz_link_get_manager(const yz_link *link);
YZ_EXPORT void yz_link_set_data(yz_link *link, void *data);
YZ_EXPORT void *yz_link_get_data(const yz_link *link);

/* A protected link is never evicted to make room for a new peer
 * (yz_link_config.evict_min_idle_ms); e.g. the node's configured peers.
 * Off by default. */
YZ_EXPORT void yz_link_set_protected(yz_link *link, bool protect);

/* Milliseconds on the manager's clock (yz_link_config.clock_ms) since the
 * last application message either way, or since the link came up: what
 * idle eviction compares, for an upper layer's own connection policy
 * (yz/node.h). 0 for a link not up. */
YZ_EXPORT uint64_t yz_link_idle_ms(const yz_link *link);

/*
 * An in-memory network on a loop: managers configured with it (cfg.memnet)
 * listen and dial on it with the same URLs (ws://HOST:PORT; port 0 picks a
 * free one; TLS options are ignored, wss:// is accepted and marked tls),
 * and run the same sessions, queues, limits (the per-IP rate limit aside)
 * and events as over WebSocket. Messages are delivered from the loop, in
 * order, one wire message per WebSocket message. The loop's clock is used.
 *
 * yz_link_memnet_free() after every manager on it has closed; it closes its
 * handle (uv_run() must run for the loop to close).
 */
typedef struct yz_link_memnet yz_link_memnet;

YZ_EXPORT YZ_WARN_UNUSED int yz_link_memnet_new(yz_link_memnet **out,
                                                uv_loop_t *loop);
YZ_EXPORT void yz_link_memnet_free(yz_link_memnet *net);

/*
 * Virtual-time memnet (simulation; docs/simulator.md). With a model set,
 * the network no longer runs events from the loop: every connection
 * set-up, wire message and close becomes an event at a time of the
 * model's clock, kept in a priority queue, and the driver runs them with
 * yz_link_memnet_run() whenever its clock reaches
 * yz_link_memnet_next_event(). The managers on it use the same clock with
 * cfg.virtual_time (yz_node_run_timers() for their own deadlines).
 *
 * - Latency: each pair of nodes gets a fixed one-way latency, log-normal
 *   with median latency_ms and sigma spread (of its natural logarithm),
 *   drawn from a hash of seed and the two node IDs: the same seed gives
 *   the same network whatever the order of dials. At least 1 ms (when
 *   latency_ms > 0), at most 60 s.
 * - A dial comes up (the dialer may send Noise message 1) after two round
 *   trips (TCP, then the WebSocket upgrade); a refused dial fails after
 *   one round trip at the median latency.
 * - Loss: links are TCP, so a lost segment is not lost but late: each
 *   message is lost with probability loss, again and again, and each loss
 *   adds a retransmission timeout (rto_ms, doubling each time, as TCP's
 *   backoff). A message never arrives before an earlier one of the same
 *   connection and direction: head-of-line blocking included.
 * - Kills (yz_link_memnet_kill): a killed node is a host that lost power.
 *   What it sends and what is sent to it vanishes silently, no
 *   connection is reset: its peers learn it from their own timeouts
 *   (request timeouts, the sessions' missed pongs). A dial to it fails
 *   with YZ_E_UNREACHABLE after dead_connect_ms. Its own local events
 *   (closes at shutdown) still run so that its manager can be closed.
 *
 * yz_link_memnet_set_model() must come before any manager is on the
 * network: 0 or YZ_E_INVAL (no clock, loss outside [0, 1), spread outside
 * [0, 4]), YZ_E_NOMEM. Without a model, memnet behaves as documented
 * above (the async handle, the loop's clock).
 */
typedef struct yz_link_memnet_model {
  uint64_t (*clock_ms)(void *clock_ud); /* required: the virtual clock */
  void *clock_ud;
  uint64_t seed;
  uint32_t latency_ms;     /* median one-way latency; 0: none */
  double spread;           /* sigma of ln(latency); 0: all pairs the median */
  double loss;             /* per message and attempt, [0, 1) */
  uint32_t rto_ms;         /* first retransmission delay; 0: 200 (Linux's
                              minimum RTO) */
  uint32_t dead_connect_ms; /* a dial to a killed node; 0: 3000 */
  /* Called after each event run for a manager (a delivery, a close, a
   * dial's outcome): its deadlines may have changed. May be NULL. */
  void (*on_touch)(yz_link_manager *m, void *touch_ud);
  void *touch_ud;
} yz_link_memnet_model;

typedef struct yz_link_memnet_stats {
  uint64_t messages; /* wire messages sent through the model */
  uint64_t losses;   /* simulated losses (retransmissions) */
  uint64_t dropped;  /* messages from or to killed nodes */
  size_t pending;    /* gauge: events queued */
} yz_link_memnet_stats;

YZ_EXPORT YZ_WARN_UNUSED int
yz_link_memnet_set_model(yz_link_memnet *net, const yz_link_memnet_model *m);
/* The time of the earliest queued event (UINT64_MAX: none, or no model). */
YZ_EXPORT uint64_t yz_link_memnet_next_event(const yz_link_memnet *net);
/* Run every event due at the clock's current time, those they cause at
 * that time included, in time order (ties: the order they were queued).
 * Returns how many ran. */
YZ_EXPORT size_t yz_link_memnet_run(yz_link_memnet *net);
/* Kill a node's manager on the network (see above); there is no revival. */
YZ_EXPORT void yz_link_memnet_kill(yz_link_memnet *net, yz_link_manager *m);
/* The model's one-way latency between two node IDs, in ms (0: no model). */
YZ_EXPORT uint32_t yz_link_memnet_pair_latency(const yz_link_memnet *net,
                                               const yz_node_id *a,
                                               const yz_node_id *b);
YZ_EXPORT void yz_link_memnet_get_stats(const yz_link_memnet *net,
                                        yz_link_memnet_stats *out);

/* Logging (yz/log.h): every line a peer can cause is rate-limited, one
 * budget per manager and kind. Refusals, evictions and dial errors: 10
 * lines per 10 s (warn). Link up and down events (debug; the upper layer
 * logs what it is told at info): YZ_LINK_LOG_EVENTS_BURST lines per
 * YZ_LINK_LOG_EVENTS_WINDOW_MS. What a budget drops is counted in the
 * next line it lets through ("N similar lines suppressed"). */
enum {
  YZ_LINK_LOG_EVENTS_BURST = 20,
  YZ_LINK_LOG_EVENTS_WINDOW_MS = 10000,
};

/* Refusal reasons counted in yz_link_stats.refused[]. */
typedef enum yz_link_refusal {
  YZ_LINK_REFUSED_MAX_LINKS = 0,   /* max_links reached */
  YZ_LINK_REFUSED_MAX_HANDSHAKES,  /* max_handshakes reached */
  YZ_LINK_REFUSED_RATE,            /* per-IP token bucket empty */
  YZ_LINK_REFUSED_SUBPROTOCOL,     /* missing or foreign WS subprotocol */
  YZ_LINK_REFUSED_CLOSING,         /* manager shutting down */
  /* max_handshakes_per_source or max_links_per_source reached */
  YZ_LINK_REFUSED_PER_SOURCE,
  YZ_LINK_REFUSED_COUNT
} yz_link_refusal;

/* Manager statistics (counters since creation, gauges now). */
typedef struct yz_link_stats {
  uint32_t links;               /* gauge: links up */
  uint32_t handshakes;          /* gauge: connections in handshake */
  uint64_t links_up_total;
  uint64_t links_down_total;
  uint64_t handshakes_failed;   /* inbound or outbound, any reason */
  uint64_t decrypt_failures;
  uint64_t timeouts;
  uint64_t bytes_in;            /* WebSocket payload bytes */
  uint64_t bytes_out;
  uint64_t msgs_in;             /* application messages */
  uint64_t msgs_out;
  uint64_t queue_full;          /* yz_link_send() refusals */
  uint64_t refused[YZ_LINK_REFUSED_COUNT];
  /* gauge: inbound TCP connections accepted and not yet upgraded to
   * WebSocket; they count against max_handshakes */
  uint32_t upgrading;
  /* connections closed because their handshake deadline (from the TCP
   * accept) passed before the WebSocket upgrade */
  uint64_t upgrade_timeouts;
  /* idle links closed to make room for a new peer (evict_min_idle_ms) */
  uint64_t evictions;

  /* memory budget (yz_link_config.mem_budget_bytes) */
  uint64_t budget_bytes;  /* gauge: send queues + reassembly held now */
  uint64_t budget_closes; /* links closed because the budget ran out */

  /* Cookies (docs/protocol.md 4, "Cookie"). Inbound: */
  uint64_t handshakes_answered; /* message 1s handed to the session, each
                                   answered with message 2: the DH work */
  uint64_t cookie_replies;      /* COOKIE_REPLYs sent instead (no DH);
                                   also counted in handshakes_failed */
  uint64_t cookies_accepted;    /* message 1s with a valid cookie */
  uint64_t cookies_rejected;    /* with a forged, stale or foreign one */
  /* Outbound: dials repeated once with the peer's cookie. */
  uint64_t cookie_redials;
} yz_link_stats;

YZ_EXPORT void yz_link_manager_stats(const yz_link_manager *m,
                                     yz_link_stats *out);

/* A refusal's name ("max_links", "rate", ...) for logs and metrics. */
YZ_EXPORT const char *yz_link_refusal_name(yz_link_refusal r);

#ifdef __cplusplus
}
#endif
#endif /* YZ_LINK_H */
