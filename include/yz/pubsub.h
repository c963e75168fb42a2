/*
 * yz/pubsub.h: PubSub on a yz node (docs/pubsub.md): publish to a topic,
 * and every node subscribed to it receives the message, through a gossip
 * mesh per topic with gossipsub v1.1's rules, signed messages and peer
 * scoring. The wire format is yz/pubsub_wire.h (docs/protocol.md
 * "PubSub").
 *
 * An instance sits on one node, speaks node messages of protocol number 3
 * (YZ_PUBSUB_PROTOCOL) with every peer, and finds a topic's subscribers
 * through the DHT's provider records when it has a DHT (yz/dht.h):
 * subscribing announces the node as a provider of the topic's provider key
 * (docs/protocol.md "PubSub", "Finding subscribers"), and a subscriber or
 * publisher with too few peers in a topic looks the providers up and dials
 * them, pinned to their node IDs.
 *
 * Threading and lifetime follow yz/node.h: every call on the loop's
 * thread, every callback from the loop, never synchronously from the call
 * that arms it (validators excepted: they run while a message is received
 * and must not call into the same instance).
 *
 *   yz_node_new() ... [yz_dht_new()] ... yz_pubsub_new(&ps, node, dht, &cfg)
 *   yz_pubsub_subscribe(ps, "news", validator, on_message, ud)
 *   yz_pubsub_publish(ps, "news", data, len, 0, &reached, cb, arg)
 *   yz_pubsub_stop(ps, cb)   then yz_dht_stop(), yz_node_stop(),
 *                            yz_pubsub_free() (after its stop callback)
 *
 * Time: message expiries and the router's clock are Unix time
 * (cfg.unix_ms); timers (the heartbeat, discovery) run on the node's clock
 * (its cfg.link.clock_ms). With the node's virtual time
 * (yz_node_run_timers()) PubSub arms no timer: the caller runs
 * yz_pubsub_run_timers() whenever its clock reaches
 * yz_pubsub_next_deadline(), as for the DHT.
 */
#ifndef YZ_PUBSUB_H
#define YZ_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/common.h"
#include "yz/identity.h"
#include "yz/pubsub_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct yz_node yz_node;
typedef struct yz_dht yz_dht;
typedef struct yz_pubsub yz_pubsub;

/* ---- the router's parameters (docs/pubsub.md "Parameters", "Bounds",
 * "Scoring"); yz_pubsub_config_default() sets gossipsub's defaults ---- */

/* Peer-scoring parameters (docs/pubsub.md "Scoring"): one set for every
 * topic. Weights of penalties are negative. */
typedef struct yz_pubsub_score_params {
  double topic_weight;              /* 1 */
  double time_in_mesh_weight;       /* P1: 0.01 per quantum */
  uint32_t time_in_mesh_quantum_ms; /* 1000 */
  double time_in_mesh_cap;          /* 3600 quanta */
  double first_delivery_weight;     /* P2: 1 */
  double first_delivery_decay;      /* 0.5 per heartbeat */
  double first_delivery_cap;        /* 100 */
  /* P3, mesh message deliveries: a mesh peer (in the mesh for
   * activation_ms) that delivered fewer than threshold messages (first,
   * or a duplicate within window_ms of the first) is penalised by weight
   * x the square of the deficit. Off by default (weight 0): the threshold
   * depends on a topic's message rate. */
  double mesh_deliveries_weight;          /* 0 (off); e.g. -1 */
  double mesh_deliveries_threshold;       /* 1 */
  double mesh_deliveries_cap;             /* 10 */
  double mesh_deliveries_decay;           /* 0.5 */
  uint64_t mesh_deliveries_activation_ms; /* 5000 */
  uint64_t mesh_deliveries_window_ms;     /* 10 */
  /* P3b: the deficit squared of a peer leaving the mesh with one, kept
   * and decayed (sticky). */
  double mesh_failure_weight;       /* 0 (off) */
  double mesh_failure_decay;        /* 0.5 */
  double invalid_weight;            /* P4: -1 (of the square) */
  double invalid_decay;             /* 0.9 */
  double ip_colocation_weight;      /* P6: -10 (of the square of the excess) */
  unsigned ip_colocation_threshold; /* 1: a second peer on an IP counts */
  bool ip_loopback_exempt;          /* true: 127/8 and ::1 never count */
  double behaviour_weight;          /* P7: -10 (of the square of the excess) */
  double behaviour_threshold;       /* 0 */
  double behaviour_decay;           /* 0.9 */
  double decay_to_zero;             /* 0.01: smaller counters become 0 */
  /* Thresholds, in this order: gossip >= publish >= graylist. */
  double gossip_threshold;    /* -10: below, no IHAVE/IWANT either way */
  double publish_threshold;   /* -50: below, no flood publishing to it */
  double graylist_threshold;  /* -80: below, its RPCs are ignored */
  double accept_px_threshold; /* 10: peer exchange only from peers above */
  /* 1: a mesh whose median score is below gets better-scored peers
   * grafted (opportunistic grafting) */
  double opportunistic_graft_threshold;
} yz_pubsub_score_params;

typedef struct yz_pubsub_router_config {
  /* 6 5 12 6 2 4; D_hi + D_out <= 256 (outbound peers may GRAFT over
   * D_hi) */
  unsigned D, D_lo, D_hi, D_lazy, D_out, D_score;
  uint64_t fanout_ttl_ms;         /* 60 s */
  uint32_t prune_backoff_s;       /* 60 s: sent in PRUNEs */
  uint32_t unsub_backoff_s;       /* 10 s: PRUNEs on unsubscribe */
  uint32_t max_backoff_s;         /* 3600: longer backoffs are cut to this */
  /* A mesh over D (not over D_hi) for trim_after heartbeats in a row (3)
   * sheds one peer per heartbeat, PRUNEd with trim_backoff_s (10 s);
   * trim_after 0: kept anywhere up to D_hi, as gossipsub v1.1 does
   * (docs/pubsub.md "Mesh size") */
  unsigned trim_after;
  uint32_t trim_backoff_s;
  unsigned mcache_len;            /* 5 heartbeats kept */
  unsigned mcache_gossip;         /* 3 gossiped */
  size_t mcache_max;              /* 4096 messages cached */
  size_t seen_max;                /* 65536 IDs */
  uint64_t max_lifetime_s;        /* 600: expiry - now accepted; seen TTL */
  size_t max_data;                /* 256 KiB */
  size_t max_topics;              /* 256 topics subscribed or in fanout */
  size_t max_peers;               /* 1024 */
  size_t max_peer_topics;         /* 128 subscriptions tracked per peer */
  unsigned max_ihave_msgs;        /* 10 IHAVE RPCs per peer per heartbeat */
  size_t max_ihave_len;           /* 5000 IDs asked per peer per heartbeat,
                                     and IDs per IHAVE sent */
  unsigned gossip_retransmission; /* 3 IWANT answers per ID per peer */
  uint64_t iwant_followup_ms;     /* 3000: a promised message's deadline */
  size_t max_promises;            /* 4096 IWANT promises tracked */
  size_t idontwant_min_len;       /* 1024: data at least this long sends
                                     IDONTWANT to the mesh */
  size_t max_dontwant;            /* 512 IDs remembered per peer */
  uint32_t msg_rate_per_s;        /* 100 messages per peer per second */
  uint32_t msg_burst;             /* 200 */
  size_t max_px;                  /* 16 peer records per PRUNE */
  size_t max_outbox;              /* 256 messages queued per peer per call */
  unsigned opportunistic_graft_ticks; /* 60 heartbeats; 0: never */
  unsigned opportunistic_graft_peers; /* 2 grafted each time */
  uint64_t retain_score_ms;           /* 1 h: a peer that leaves with penalties
                                         gets them back if it returns within */
  size_t max_retained;                /* 1024 such peers remembered */
  bool flood_publish;                 /* true: own messages to every subscriber
                                         above the publish threshold */
  yz_pubsub_score_params score;
  yz_ps_limits limits; /* the wire limits of sent RPCs */
} yz_pubsub_router_config;

/* Counters, for tests, logs and metrics. */
typedef struct yz_pubsub_router_stats {
  uint64_t delivered;  /* messages delivered to the application */
  uint64_t duplicates; /* messages already seen */
  uint64_t rejected;   /* invalid: signature, size, expiry, validator */
  uint64_t ignored;    /* validator IGNORE, unknown topic */
  uint64_t expired;
  uint64_t rate_limited;     /* messages over a peer's rate */
  uint64_t graylisted;       /* RPCs ignored from graylisted peers */
  uint64_t broken_promises;  /* IWANTs not answered in time */
  uint64_t graft_backoff;    /* GRAFTs during a backoff */
  uint64_t peer_topics_full; /* subscriptions over max_peer_topics */
  uint64_t seen_evicted;     /* IDs pushed out of a full seen-cache */
  uint64_t mcache_full;      /* messages not cached: cache full */
  uint64_t promises_full;    /* IWANTs not tracked: table full */
  uint64_t ihave_dropped;    /* IHAVEs over max_ihave_msgs or the score */
  uint64_t iwant_capped;     /* IDs not asked: over max_ihave_len */
  uint64_t iwant_refused;    /* IWANTs not answered (retransmission cap) */
  uint64_t outbox_full;      /* messages not queued for a peer */
  uint64_t dontwant_skipped; /* sends saved by IDONTWANT */
  uint64_t retained_full;    /* penalised peers forgotten early: table full */
  uint64_t opportunistic_grafts;
  uint64_t sent_rpcs;
} yz_pubsub_router_stats;


/* ---- the node's PubSub ---------------------------------------------- */

enum {
  /* Domain prefix of a topic's provider key (docs/protocol.md "PubSub",
   * "Finding subscribers"), used with its NUL as a 0x00 byte. */
  YZ_PUBSUB_PROVIDER_PREFIX_LEN = 22,
  YZ_PUBSUB_PROVIDER_KEY_LEN = 32,
};
#define YZ_PUBSUB_PROVIDER_PREFIX "yz pubsub provider v1"

/* What a validator says of a message (docs/protocol.md "Receiving a
 * message", step 6). */
typedef enum yz_pubsub_verdict {
  YZ_PUBSUB_ACCEPT = 0,
  YZ_PUBSUB_REJECT = 1, /* invalid: the peer that sent it is penalised */
  YZ_PUBSUB_IGNORE = 2, /* dropped, no penalty */
} yz_pubsub_verdict;

/* A received (or own) message, valid during the callback. */
typedef struct yz_pubsub_message {
  const char *topic;                  /* the name subscribed */
  const uint8_t *topic_hash;          /* YZ_PS_TOPIC_LEN bytes */
  const uint8_t *id;                  /* YZ_PS_ID_LEN bytes */
  const uint8_t *author;              /* Ed25519 public key (32 bytes) */
  yz_node_id author_id;               /* SHA-256(author): the author's node
                                         ID if it signed with its identity */
  uint64_t seq;
  uint64_t expiry;                    /* Unix seconds */
  const uint8_t *data;
  size_t len;
  const yz_node_id *from;             /* the peer it came from; NULL: own */
  /* When it was published, from its seq: yz authors number their messages
   * with the Unix time in microseconds (never going back, see
   * yz_pubsub_publish()); 0 when seq is no such time (another author, or
   * more than max_lifetime_s away from now). latency_us: receipt minus
   * that (0 when unknown), on the receiver's clock. */
  uint64_t published_us;
  uint64_t latency_us;
  /* 0: a plain message; else the key epoch of an encrypted topic's
   * message (data is ciphertext: yz_seal_topic_open(), yz/seal.h). */
  uint64_t epoch;
} yz_pubsub_message;

/* A topic's validator: called while a message is received, after its
 * signature checked and before it is delivered or forwarded. Must not call
 * into the same yz_pubsub. */
typedef yz_pubsub_verdict (*yz_pubsub_validator)(yz_pubsub *ps,
                                                 const yz_pubsub_message *m,
                                                 void *ud);

/* A message of a subscribed topic, accepted: called from the loop, once
 * per message (own messages too). */
typedef void (*yz_pubsub_message_cb)(yz_pubsub *ps,
                                     const yz_pubsub_message *m, void *ud);

/* The outcome of a publish that reached no peer at once (see
 * yz_pubsub_publish()). status: 0 (sent to `reached` subscribers found
 * through the DHT), YZ_E_NOT_FOUND (no subscriber found: nobody got it),
 * YZ_E_UNREACHABLE (subscribers found, none could be reached), YZ_E_CLOSED
 * (yz_pubsub_stop()). */
typedef struct yz_pubsub_publish_result {
  int status;
  const char *topic;
  const uint8_t *id;  /* the message ID */
  uint64_t seq;
  size_t reached;     /* peers the message was sent to */
  size_t providers;   /* subscribers the DHT named */
  size_t dialled;     /* of them, links opened */
  uint64_t elapsed_ms; /* node clock */
} yz_pubsub_publish_result;

typedef void (*yz_pubsub_publish_cb)(yz_pubsub *ps,
                                     const yz_pubsub_publish_result *r,
                                     void *arg);

typedef struct yz_pubsub_config {
  /* The router (docs/pubsub.md). */
  yz_pubsub_router_config router;
  /* The author key of published messages: the node's identity when both
   * are NULL; else identity (copied), else sign_sk (libsodium's seed ||
   * public key, 64 bytes, copied and wiped at free). */
  const yz_identity *identity;
  const uint8_t *sign_sk;
  /* The heartbeat period on the node's clock, 1000 ms (the router's
   * decays are per heartbeat). */
  uint32_t heartbeat_ms;
  /* Default lifetime of published messages (ttl_ms 0), 120 s; at most
   * router.max_lifetime_s. */
  uint32_t default_ttl_ms;
  /* Finding subscribers (docs/pubsub.md "Cold start"). Every
   * discover_interval_ms (30 s) a subscribed topic whose known subscribed
   * peers are fewer than router.D_lo looks its providers up again (and a
   * provide that failed is retried); 0 means the default. */
  uint32_t discover_interval_ms;
  /* Pinned dials in flight at once (peer exchange, providers), 16. */
  unsigned max_dials;
  /* Publishes that reached nobody, waiting for the DHT, 64; their
   * deadline, 15 s. */
  unsigned max_pending;
  uint32_t publish_timeout_ms;
  /* Node records remembered (of providers and peer exchange), passed to
   * the router for its own peer exchange, 128 (the oldest is replaced). */
  unsigned max_records;
  /* Messages waiting to be handed to the application, 4096 (more are
   * dropped and counted: delivery_dropped). */
  unsigned max_delivery_queue;
  /* Unix time in milliseconds; NULL: the system clock. Simulations pass
   * their virtual clock. */
  uint64_t (*unix_ms)(void *ud);
  /* Random bytes (the router's choices); NULL: libsodium. A seeded
   * generator makes a simulation repeat itself. */
  void (*random)(uint8_t *out, size_t n, void *ud);
  void *user_data; /* for unix_ms and random */
} yz_pubsub_config;

/* gossipsub's defaults (docs/pubsub.md) and the ones above. */
YZ_EXPORT void yz_pubsub_config_default(yz_pubsub_config *cfg);

/*
 * PubSub on node (registers protocol YZ_PUBSUB_PROTOCOL and a peer
 * observer). dht may be NULL: then subscribers are found only among the
 * node's peers. One per node. 0, YZ_E_INVAL (a bad config, a router config
 * that breaks an ordering of docs/pubsub.md), YZ_E_STATE (the node already
 * has a PubSub, or is stopping), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_pubsub_new(yz_pubsub **out, yz_node *node,
                                           yz_dht *dht,
                                           const yz_pubsub_config *cfg);

/* Stop: from now on nothing is sent or delivered; pending publishes end
 * with YZ_E_CLOSED; cb (may be NULL) runs from the loop once nothing of
 * PubSub is left armed (never from this call). Stop PubSub before the DHT
 * and the node. */
YZ_EXPORT void yz_pubsub_stop(yz_pubsub *ps,
                              void (*cb)(yz_pubsub *ps, void *arg), void *arg);

/* Free after the stop callback (NULL: no-op). */
YZ_EXPORT void yz_pubsub_free(yz_pubsub *ps);

/* The topic hash of a name (yz_ps_topic_hash()) and its provider key:
 * SHA-256("yz pubsub provider v1" || 00 || topic hash). 0 or YZ_E_INVAL. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_pubsub_provider_key(uint8_t key[YZ_PUBSUB_PROVIDER_KEY_LEN],
                       const uint8_t topic[YZ_PS_TOPIC_LEN]);

/*
 * Subscribe to topic_name (1..255 bytes of UTF-8): announce it to the
 * peers, graft a mesh, provide the topic in the DHT and look up its other
 * subscribers. validator may be NULL (accept all); on_message may be NULL
 * (the node relays only). Subscribing again replaces the callbacks. 0,
 * YZ_E_INVAL, YZ_E_LIMIT (router.max_topics), YZ_E_STATE (stopping),
 * YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_pubsub_subscribe(yz_pubsub *ps, const char *topic_name,
                    yz_pubsub_validator validator,
                    yz_pubsub_message_cb on_message, void *ud);

/* Leave the topic (PRUNE the mesh, stop providing it). 0 or
 * YZ_E_NOT_FOUND. */
YZ_EXPORT int yz_pubsub_unsubscribe(yz_pubsub *ps, const char *topic_name);

/*
 * Publish data (at most router.max_data bytes) to topic_name, signed with
 * the config's author key, with seq the Unix time in microseconds (one
 * more than the last if the clock has not moved) and expiry now + ttl_ms
 * (0: cfg.default_ttl_ms; rounded up to a second). Returns 0 and
 * *reached = the peers it was sent to at once (flood publishing: every
 * subscribed peer above the publish threshold; or the mesh / fanout).
 *
 * It never drops silently: when *reached is 0, the node looks up the
 * topic's subscribers through the DHT, dials them, sends them the message
 * once they say they subscribe, and cb (may be NULL) reports the outcome
 * exactly once, from the loop. When *reached > 0 cb is not called. With
 * fewer than router.D_lo peers reached the node also looks for more
 * subscribers in the background. id_out (may be NULL) gets the message ID.
 *
 * Errors (cb not called): YZ_E_INVAL (no topic, too large, bad ttl),
 * YZ_E_LIMIT (a new fanout over max_topics, or max_pending publishes
 * waiting), YZ_E_STATE (stopping), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_pubsub_publish(yz_pubsub *ps, const char *topic_name, const uint8_t *data,
                  size_t len, uint32_t ttl_ms, size_t *reached,
                  uint8_t id_out[YZ_PS_ID_LEN], yz_pubsub_publish_cb cb,
                  void *arg);

/* The same with the message's epoch set (not 0): an encrypted topic's
 * message, its data sealed by yz_seal_topic_seal() (yz/seal.h,
 * yz_seal_topic_publish()). Relays check and forward it without a key. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_pubsub_publish_epoch(yz_pubsub *ps, const char *topic_name,
                        uint64_t epoch, const uint8_t *data, size_t len,
                        uint32_t ttl_ms, size_t *reached,
                        uint8_t id_out[YZ_PS_ID_LEN], yz_pubsub_publish_cb cb,
                        void *arg);

/* The author public key this instance signs with (32 bytes). */
YZ_EXPORT const uint8_t *yz_pubsub_author(const yz_pubsub *ps);

/* The seq of the last message this instance published (0: none yet). */
YZ_EXPORT uint64_t yz_pubsub_last_seq(const yz_pubsub *ps);

/* Counters since creation, gauges now. */
typedef struct yz_pubsub_stats {
  yz_pubsub_router_stats router; /* delivered, duplicates, rejected ... */
  size_t topics;                 /* gauge: subscribed */
  size_t peers;                  /* gauge: peers known to the router */
  size_t mesh_peers;             /* gauge: mesh members, all topics */
  size_t mesh_min, mesh_max;     /* gauge: smallest and largest mesh of a
                                    subscribed topic (0 0: none) */
  size_t seen, mcache;           /* gauge: cache sizes */
  size_t pending_publishes;      /* gauge */
  uint64_t published;            /* own messages */
  uint64_t published_unreached;  /* ... that reached nobody at once */
  uint64_t delivered_app;        /* handed to on_message */
  uint64_t delivery_dropped;     /* queue full */
  uint64_t rpcs_in, rpcs_out;
  uint64_t malformed;            /* RPCs that did not decode */
  uint64_t send_failed;          /* RPCs the node could not send */
  uint64_t provides, provide_failed;
  uint64_t lookups;              /* provider lookups started */
  uint64_t providers_found;
  uint64_t dials, dials_failed;  /* pinned dials (providers, PX) */
  uint64_t px_records;           /* peer exchange records received */
  size_t records;                /* gauge: node records remembered */
  size_t dials_in_flight;        /* gauge */
} yz_pubsub_stats;

YZ_EXPORT void yz_pubsub_get_stats(const yz_pubsub *ps, yz_pubsub_stats *out);

/* The mesh size of a subscribed topic (0 if not subscribed). */
YZ_EXPORT size_t yz_pubsub_mesh_size(const yz_pubsub *ps,
                                     const char *topic_name);

/* The score this node gives peer now (docs/pubsub.md "Scoring"). */
YZ_EXPORT double yz_pubsub_peer_score(const yz_pubsub *ps,
                                      const yz_node_id *peer);

/* Virtual time: see the top of this file. */
YZ_EXPORT uint64_t yz_pubsub_next_deadline(const yz_pubsub *ps);
YZ_EXPORT void yz_pubsub_run_timers(yz_pubsub *ps);

#ifdef __cplusplus
}
#endif
#endif /* YZ_PUBSUB_H */
