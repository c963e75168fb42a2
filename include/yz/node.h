/*
 * yz/node.h: a yz node, the embedding API.
 *
 * A node is an identity, a link manager (yz/link.h) and what sits on top of
 * its links: peers known by node ID (however many links a peer has), one-way
 * messages and request/response tagged with an application protocol number,
 * and configured peers that are redialled with backoff. The DHT and PubSub
 * layers register their protocol numbers here.
 *
 * What the layers sharing one node need of it: any number of peer
 * observers (yz_node_peer_observer_add), the peers up and what their
 * identity proofs said (yz_node_peers, yz_node_peer_info_get), dials with
 * a completion callback of their own (yz_node_dial_with), request
 * cancellation, and a connection policy (cfg.link_cap) that closes idle
 * links beyond a cap unless their peer is protected
 * (yz_node_peer_protect). A node belongs to one named network
 * (cfg.link.network): nodes of different networks refuse each other at the
 * handshake.
 *
 * Threading and lifetime follow yz/link.h (libuv's model): every call is made
 * on the loop's thread, every callback runs on it, and callbacks never run
 * synchronously from the call that arms them.
 *
 *   yz_node_new()        the link manager exists; nothing listens yet
 *   yz_node_listen()     as many ws:// and wss:// listeners as wanted
 *   yz_node_start()      configured peers are dialled
 *   ... dial, send, request, events ...
 *   yz_node_stop(cb)     runs no callback itself: from the loop, pending
 *                        requests fail (YZ_E_CLOSED), every link goes
 *                        down, timers close; cb runs once all of it is
 *                        done. No callback of the node runs after cb.
 *   yz_node_free()       after cb (a node that was never started is
 *                        stopped too: its link manager holds handles)
 *
 * A minimal embedding (error checks left out; tools/yz/cmd_ping.c and
 * tools/yz-node/main.c are complete ones):
 *
 *   yz_identity id;  yz_identity_load(&id, "node.key", NULL);
 *   yz_node_config cfg;  yz_node_config_default(&cfg);
 *   cfg.identity = &id;  cfg.cb.on_peer_up = my_peer_up;
 *   yz_node *n;  yz_node_new(&n, loop, &cfg);  yz_identity_clear(&id);
 *   yz_link_listen_config lc = {.url = "ws://0.0.0.0:7700"};
 *   yz_node_listen(n, &lc);            // yz_node_address(n, 0): tell peers
 *   yz_node_add_peer(n, "ws://192.0.2.7:7700/#21fe...b9", NULL);
 *   const yz_node_protocol p = {my_on_message, my_on_request};
 *   yz_node_register(n, 300, &p, my_state);
 *   yz_node_start(n);
 *   uv_run(loop, UV_RUN_DEFAULT);      // ... until a signal calls
 *                                      // yz_node_stop(n, on_stopped, x)
 *   yz_node_free(n);  uv_loop_close(loop);
 *
 * In my_peer_up: yz_node_request(n, &peer->id, 300, data, len, 0, cb, arg,
 * NULL); in my_on_request: yz_node_respond(n, req, answer, answer_len).
 *
 * Duplicate links (docs/protocol.md, "Node messages"): when two links to the
 * same node ID are up (both nodes dialled each other at once, or one dialled
 * twice), both ends keep the same one and close the other: the link dialled
 * by the node with the smaller node ID (bytewise) survives; if one node
 * dialled both, the link with the smaller channel binding (handshake hash)
 * survives. Both ends know both facts, so they agree without talking.
 */
#ifndef YZ_NODE_H
#define YZ_NODE_H

#include <uv.h>

#include "yz/common.h"
#include "yz/identity.h"
#include "yz/link.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct yz_node yz_node;

/*
 * Protocol numbers (u16, never 0). 1..255 are reserved for yz itself;
 * applications use 256..65535.
 */
enum {
  YZ_NODE_PROTO_PING = 1, /* built in: a request is answered with its body */
  YZ_NODE_PROTO_APP_MIN = 256,
};

/*
 * Error codes a node sends in an error response (u16, never 0). 1..255 are
 * yz's; a handler may send any code from 256 up.
 */
enum {
  YZ_NODE_ERR_NO_HANDLER = 1, /* no handler for that protocol number */
  YZ_NODE_ERR_FAILED = 2,     /* the handler failed */
  YZ_NODE_ERR_BUSY = 3,       /* try again later */
  YZ_NODE_ERR_REASON_MAX = 256, /* bytes of reason text in an error */
  /* Bytes of node framing around a payload: a payload may be at most the
   * link's max_message_size minus this. */
  YZ_NODE_OVERHEAD = 13,
};

/* A request received, for the handler to answer (exactly once) with
 * yz_node_respond() or yz_node_respond_error(). It is a small value: copy it
 * to answer later, from another callback. */
typedef struct yz_node_incoming {
  yz_node_id from;
  uint16_t proto;
  uint64_t id;
} yz_node_incoming;

/* A response to a request of ours. Valid during the callback only. */
typedef struct yz_node_response {
  const yz_node_id *peer;
  uint16_t proto;
  uint64_t id;
  const uint8_t *data; /* the body (status 0), or the reason text */
  size_t len;
  uint16_t error_code; /* status YZ_E_REMOTE: the peer's code; else 0 */
} yz_node_response;

/*
 * The outcome of yz_node_request(), exactly once:
 *   0               the peer answered; r->data, r->len
 *   YZ_E_REMOTE     the peer answered with an error: r->error_code, and a
 *                   reason text in r->data / r->len (not NUL-terminated)
 *   YZ_E_TIMEOUT    no answer in time
 *   YZ_E_CLOSED     the peer went down, or the node is stopping; or, with
 *                   the peer still up (yz_node_peer_is_up()), the link the
 *                   request went out on was closed while another link to
 *                   the peer stays (a duplicate, see "Duplicate links"
 *                   above): the request may or may not have reached the
 *                   peer and its answer is lost, so send it again now if
 *                   it is worth it (it goes on the link that stays)
 *   YZ_E_MALFORMED  the peer answered with another protocol number
 * r is never NULL; for a timeout or close only peer, proto and id are set.
 */
typedef void (*yz_node_response_cb)(yz_node *node, int status,
                                    const yz_node_response *r, void *arg);

/* The handlers of one protocol number. Either may be NULL: messages are then
 * dropped, requests answered with YZ_NODE_ERR_NO_HANDLER. */
typedef struct yz_node_protocol {
  void (*on_message)(yz_node *node, const yz_node_id *from, uint16_t proto,
                     const uint8_t *data, size_t len, void *ud);
  void (*on_request)(yz_node *node, const yz_node_incoming *req,
                     const uint8_t *data, size_t len, void *ud);
} yz_node_protocol;

/* Node events; ud is yz_node_config.user_data. Any may be NULL. */
typedef struct yz_node_callbacks {
  /* The first link to a node ID came up. peer is valid during the call. */
  void (*on_peer_up)(yz_node *node, const yz_link_peer *peer, void *ud);
  /* The last link to a node ID went down; err and reason as in yz/link.h
   * (reason "duplicate link" is never seen here: a duplicate is closed only
   * while another link to the peer is up). */
  void (*on_peer_down)(yz_node *node, const yz_node_id *peer, int err,
                       const char *reason, void *ud);
  /* A dial never came up (unreachable, TLS, wrong node ID, ...). url is the
   * dialled address; expected is NULL for an unpinned dial. For the
   * redials of configured peers and yz_node_dial(); a dial of
   * yz_node_dial_with() reports to its own callback instead (prefer it:
   * this one is kept for existing programs and may go). */
  void (*on_dial_failed)(yz_node *node, const char *url,
                         const yz_node_id *expected, int err,
                         const char *reason, void *ud);
  /* Every link, also duplicates: for logs. up is true when it came up; on
   * the way down err and reason say why. */
  void (*on_link)(yz_node *node, const yz_node_id *peer,
                  yz_link_direction dir, bool up, int err, const char *reason,
                  void *ud);
  /* A send to this peer failed with YZ_E_QUEUE_FULL and its queue has
   * drained since: sending may resume. */
  void (*on_writable)(yz_node *node, const yz_node_id *peer, void *ud);
} yz_node_callbacks;

typedef struct yz_node_config {
  /* Required; copied. */
  const yz_identity *identity;
  yz_node_callbacks cb;
  void *user_data;
  /* Limits and timeouts of the links (yz/link.h); identity, callbacks and
   * user_data in it are the node's own and ignored. Setting link.memnet
   * puts the node on an in-memory network instead of WebSocket (tests,
   * simulations of many nodes: tests/node/test_node_mem.c). */
  yz_link_config link;
  uint32_t request_timeout_ms;   /* default 10000 */
  uint32_t max_pending_requests; /* default 4096 */
  uint32_t redial_initial_ms;    /* default 500 */
  uint32_t redial_max_ms;        /* default 60000 */
  /* Random bits for the redial jitter; NULL uses libsodium. */
  uint32_t (*random)(void *ud);

  /* The connection policy (docs/operations.md "Connection policy"), so
   * that lookups can dial freely without the link count growing without
   * bound. Whenever more than link_cap links are up, the node closes the
   * unprotected link idle longest (no application message either way for
   * at least link_idle_ms, on the links' clock), one after another, until
   * link_cap are left or no such link remains; it checks again when the
   * next link reaches link_idle_ms. Protected: the configured peers
   * (yz_node_add_peer) and the peers given to yz_node_peer_protect();
   * their links are also never evicted by the link layer
   * (yz_link_set_protected). The closed link goes down with YZ_E_LIMIT and
   * the reason "idle beyond the node's link cap"; its peer is sent a
   * GOING_AWAY close with that text.
   * link_cap 0 (the default) leaves the policy off: only link.max_links
   * limits. link_idle_ms default 10000. */
  uint32_t link_cap;
  uint32_t link_idle_ms;
} yz_node_config;

/* Defaults as documented above, and yz_link_config_default() in link. */
YZ_EXPORT void yz_node_config_default(yz_node_config *cfg);

/* A node on loop. 0, YZ_E_INVAL, YZ_E_NOMEM, or the errors of
 * yz_link_manager_new(). */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_new(yz_node **out, uv_loop_t *loop,
                                         const yz_node_config *cfg);

/* Free a node once its stop callback has run; NULL is a no-op. */
YZ_EXPORT void yz_node_free(yz_node *node);

YZ_EXPORT const yz_node_id *yz_node_get_id(const yz_node *node);
YZ_EXPORT uv_loop_t *yz_node_get_loop(const yz_node *node);
YZ_EXPORT yz_link_manager *yz_node_get_link_manager(yz_node *node);

/* The network the node belongs to (cfg.link.network, yz/link.h): "yz"
 * (YZ_SESSION_NETWORK_DEFAULT) for the public network, else the configured
 * name. Lives as long as the node. */
YZ_EXPORT const char *yz_node_network(const yz_node *node);

/*
 * Listen (see yz_link_listen()). The node address of the listener, with the
 * port the kernel chose for port 0, is appended to the node's list: see
 * yz_node_address(). 0 or the errors of yz_link_listen().
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_node_listen(yz_node *node, const yz_link_listen_config *lc);

/*
 * The node's addresses, one per listener, in the form yz_node_dial(),
 * `yz-node --peer` and `yz ping` accept: "ws://127.0.0.1:40123/#<node ID>".
 * NULL past the last one. The strings live as long as the node.
 */
YZ_EXPORT const char *yz_node_address(const yz_node *node, size_t i);
YZ_EXPORT size_t yz_node_address_count(const yz_node *node);

/* Per-dial options; NULL means pinned, TLS verified. */
typedef yz_link_dial_opts yz_node_dial_opts;

/*
 * Configure a peer: address "ws[s]://HOST:PORT[/PATH]#NODEID" (pinned), or
 * a URL without fragment with opts->unpinned. It is dialled at
 * yz_node_start() (or now, if started), and redialled with backoff whenever
 * the node has no link to it. 0, YZ_E_ADDRESS, YZ_E_INVAL, YZ_E_STATE
 * (stopping), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_add_peer(yz_node *node,
                                              const char *address,
                                              const yz_node_dial_opts *opts);

/* Start: dial the configured peers. 0 or YZ_E_STATE (twice, stopping). */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_start(yz_node *node);

/*
 * Dial once, without redial. on_peer_up follows (or nothing if the peer was
 * already up: the new link is then a duplicate, resolved as above), or
 * on_dial_failed. 0 or the errors of yz_link_dial().
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_dial(yz_node *node, const char *address,
                                          const yz_node_dial_opts *opts);

/*
 * Peer observers. The DHT, PubSub and the application share one node, so
 * any number of them may watch peers come and go, besides cfg.cb (which is
 * called first). The calls and their arguments are those of
 * cfg.cb.on_peer_up / on_peer_down; observers run in the order they were
 * added. One added during an event sees the next event, not this one; one
 * removed during an event is not called again, even for this one.
 */
typedef struct yz_node_peer_observer {
  void (*on_peer_up)(yz_node *node, const yz_link_peer *peer, void *ud);
  void (*on_peer_down)(yz_node *node, const yz_node_id *peer, int err,
                       const char *reason, void *ud);
} yz_node_peer_observer;

/* Add an observer (copied; either function may be NULL). *token_out (not
 * NULL) gets its handle for yz_node_peer_observer_remove(). 0, YZ_E_INVAL,
 * YZ_E_NOMEM. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_node_peer_observer_add(yz_node *node, const yz_node_peer_observer *o,
                          void *ud, uint64_t *token_out);

/* Remove an observer (safe from any callback). 0 or YZ_E_NOT_FOUND. */
YZ_EXPORT int yz_node_peer_observer_remove(yz_node *node, uint64_t token);

/*
 * What the node retains about a peer for as long as it is up: the fields
 * of its identity proof (docs/protocol.md section 5) as verified on its most
 * recent link to come up, and that link's direction and remote end.
 */
typedef struct yz_node_peer_info {
  yz_node_id id;
  /* identity_pk, addresses with their client types, node type,
   * capabilities, software version (the signature too, though it only
   * means something with the link's Noise static key). */
  yz_wire_identity_proof proof;
  yz_link_direction direction;
  bool tls;
  char remote_addr[YZ_LINK_ADDR_TEXT_MAX];
} yz_node_peer_info;

/* Copy the info of peer into *out. 0, or YZ_E_NOT_FOUND (not up). */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_peer_info_get(const yz_node *node,
                                                   const yz_node_id *peer,
                                                   yz_node_peer_info *out);

/* Enumerate the peers up: copies up to max of their node IDs into out (in
 * no particular order) and returns how many are up (if more than max,
 * call again with a larger array). */
YZ_EXPORT size_t yz_node_peers(const yz_node *node, yz_node_id *out,
                               size_t max);

/*
 * The outcome of yz_node_dial_with(), exactly once, from the loop:
 *   0      a link to the address came up; peer is the node ID (also when
 *          a link to that peer was already up: the new one is then a
 *          duplicate, resolved as above, and the peer stays up)
 *   else   the dial never came up: err and reason as in yz/link.h on_down
 *          (YZ_E_UNREACHABLE, YZ_E_PEER_ID_MISMATCH, YZ_E_TIMEOUT, ...;
 *          YZ_E_CLOSED if the node stopped first); peer is the expected
 *          node ID, NULL for an unpinned dial.
 * peer and reason are valid during the call.
 */
typedef void (*yz_node_dial_cb)(yz_node *node, int status,
                                const yz_node_id *peer, const char *reason,
                                void *arg);

/*
 * Dial once, like yz_node_dial(), with a completion callback of its own:
 * cb (not NULL) runs exactly once, never from this call; cfg.cb.
 * on_dial_failed is not called for this dial. On an error return cb never
 * runs: the errors of yz_node_dial().
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_dial_with(yz_node *node,
                                               const char *address,
                                               const yz_node_dial_opts *opts,
                                               yz_node_dial_cb cb, void *arg);

/*
 * Protection from the connection policy (link_cap) and from the link
 * layer's idle eviction, for peers the overlay needs to keep: reasons
 * are bits, each layer sets and clears its own, and a peer is protected
 * while any bit is set. Protection lasts while the peer is up: it is
 * forgotten when the peer goes down (an observer's on_peer_up is the place
 * to protect it again). The configured peers (yz_node_add_peer) carry
 * YZ_NODE_PROTECT_CONFIGURED, set by the node.
 */
enum {
  YZ_NODE_PROTECT_CONFIGURED = 1u << 0, /* the node's own */
  YZ_NODE_PROTECT_ROUTING = 1u << 1,    /* a routing-table member (DHT) */
  YZ_NODE_PROTECT_MESH = 1u << 2,       /* a PubSub mesh peer */
  YZ_NODE_PROTECT_APP = 1u << 8,        /* bits from here: applications */
};

/* Set (on) or clear the reason bits in reasons for peer. 0, YZ_E_INVAL
 * (reasons 0), YZ_E_NOT_FOUND (not up). Clearing the last bit lets the
 * connection policy close the peer's link once idle. */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_peer_protect(yz_node *node,
                                                  const yz_node_id *peer,
                                                  uint32_t reasons, bool on);

/* The protection bits of peer (0: unprotected or not up). */
YZ_EXPORT uint32_t yz_node_peer_protection(const yz_node *node,
                                           const yz_node_id *peer);

/* Is a link to this node ID up? */
YZ_EXPORT bool yz_node_peer_is_up(const yz_node *node, const yz_node_id *peer);

/* The number of peers up. */
YZ_EXPORT size_t yz_node_peer_count(const yz_node *node);

/*
 * Handlers for protocol number proto (1..65535; YZ_NODE_PROTO_PING is built
 * in and cannot be replaced). NULL p removes them. 0, YZ_E_INVAL, YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_register(yz_node *node, uint16_t proto,
                                              const yz_node_protocol *p,
                                              void *ud);

/*
 * A one-way message to peer. 0, YZ_E_NOT_FOUND (no link to it),
 * YZ_E_QUEUE_FULL (wait for on_writable), YZ_E_TOO_LARGE, YZ_E_INVAL,
 * YZ_E_STATE (stopping).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_node_send(yz_node *node,
                                          const yz_node_id *peer,
                                          uint16_t proto, const uint8_t *data,
                                          size_t len);

/*
 * A request to peer; cb runs exactly once, later, from the loop (see
 * yz_node_response_cb). timeout_ms 0 uses the configured default. *id_out
 * (if not NULL) gets the request id. On an error return cb never runs:
 * the errors of yz_node_send(), and YZ_E_LIMIT (too many pending).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_node_request(yz_node *node, const yz_node_id *peer, uint16_t proto,
                const uint8_t *data, size_t len, uint32_t timeout_ms,
                yz_node_response_cb cb, void *arg, uint64_t *id_out);

/*
 * Cancel a request of ours (id from yz_node_request()'s id_out): its
 * callback will not run, and a late answer is dropped like one to a
 * request that timed out. 0, or YZ_E_NOT_FOUND (unknown id, or its
 * callback has already run).
 */
YZ_EXPORT int yz_node_request_cancel(yz_node *node, uint64_t id);

/* Answer a request (from its handler or later). 0, or the errors of
 * yz_node_send() (the peer may have gone: the requester then sees a close
 * or a timeout). */
YZ_EXPORT int yz_node_respond(yz_node *node,
                                             const yz_node_incoming *req,
                                             const uint8_t *data, size_t len);

/* Answer a request with an error code (not 0) and a reason (NULL or text,
 * cut at YZ_NODE_ERR_REASON_MAX bytes). */
YZ_EXPORT int
yz_node_respond_error(yz_node *node, const yz_node_incoming *req,
                      uint16_t code, const char *reason);

/*
 * Virtual time (simulations): with cfg.link.virtual_time and
 * cfg.link.clock_ms set, the node arms no timer of its own either: request
 * timeouts and redials, like the links' deadlines, are due on that clock,
 * and the caller runs yz_node_run_timers() whenever its clock reaches
 * yz_node_next_deadline() (UINT64_MAX: nothing due). With real time neither
 * is needed.
 */
YZ_EXPORT uint64_t yz_node_next_deadline(const yz_node *node);
YZ_EXPORT void yz_node_run_timers(yz_node *node);

/* Stop (see the lifetime above). cb may be NULL. Calling it twice is
 * misuse. */
YZ_EXPORT void yz_node_stop(yz_node *node, void (*cb)(yz_node *node,
                                                      void *arg),
                            void *arg);

#ifdef __cplusplus
}
#endif
#endif /* YZ_NODE_H */
