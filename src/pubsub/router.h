/*
 * pubsub/router.h: the PubSub router core (docs/pubsub.md), gossipsub
 * v1.1's rules over yz's wire format (docs/protocol.md "PubSub").
 *
 * Sans-I/O: the caller reports events (a peer connected or left, an RPC
 * decoded from a peer, a publish, a subscription, a heartbeat) with the
 * current time, and the router answers through callbacks: RPCs to send to
 * a peer (the caller encodes them with yz_ps_rpc_encode()), messages to
 * deliver to the application, random bytes it needs, node records a peer
 * offered (peer exchange). Nothing here reads a clock, touches a socket or
 * draws randomness itself, so a test wires several routers together and
 * drives them on virtual time.
 *
 * What it keeps, all bounded by yz__ps_config: per topic a mesh (D, D_lo,
 * D_hi, D_out), a fanout for topics it publishes to without subscribing
 * (TTL), GRAFT backoffs; a message cache of mcache_len heartbeats gossiped
 * (IHAVE) from the newest mcache_gossip; a seen-cache of message IDs; per
 * peer its subscriptions, score counters, a message rate limit, the IDs it
 * said it does not want, and the IWANT promises it made.
 *
 * Callbacks are called from inside the router's calls and must not call
 * back into the same router; RPCs for each peer are collected during a
 * call and sent at its end (one RPC, or several when the wire limits
 * split them).
 *
 * Internal (yz__): the public API (include/yz/pubsub.h) comes with the
 * node-layer glue.
 */
#ifndef YZ_PUBSUB_ROUTER_H
#define YZ_PUBSUB_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/identity.h"
#include "yz/pubsub_wire.h"

/* An IP address of a peer, for the colocation score. family 0: unknown
 * (never counted). */
typedef struct yz__ps_ip {
  uint8_t family;   /* 0, 4 or 6 */
  uint8_t addr[16]; /* IPv4: the first 4 bytes */
} yz__ps_ip;

/* What a validator says of a message (docs/protocol.md "Receiving a
 * message", step 6). */
typedef enum yz__ps_verdict {
  YZ__PS_ACCEPT = 0,
  YZ__PS_REJECT = 1, /* invalid: the sender is penalised */
  YZ__PS_IGNORE = 2, /* dropped, no penalty */
} yz__ps_verdict;

typedef yz__ps_verdict (*yz__ps_validator)(void *vud, const yz_ps_msg *m,
                                           const uint8_t id[YZ_PS_ID_LEN],
                                           const yz_node_id *from);

/* Peer-scoring parameters (docs/pubsub.md "Scoring"): one set for every
 * topic. Weights of penalties are negative. */
typedef struct yz__ps_score_params {
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
} yz__ps_score_params;

typedef struct yz__ps_config {
  /* 6 5 12 6 2 4; D_hi + D_out <= 256 (outbound peers may GRAFT over
   * D_hi) */
  unsigned D, D_lo, D_hi, D_lazy, D_out, D_score;
  uint64_t fanout_ttl_ms;         /* 60 s */
  uint32_t prune_backoff_s;       /* 60 s: sent in PRUNEs */
  uint32_t unsub_backoff_s;       /* 10 s: PRUNEs on unsubscribe */
  uint32_t max_backoff_s;         /* 3600: longer backoffs are cut to this */
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
  yz__ps_score_params score;
  yz_ps_limits limits; /* the wire limits of sent RPCs */
} yz__ps_config;

/* Every field to its default above. */
void yz__ps_config_default(yz__ps_config *cfg);

typedef struct yz__ps_callbacks {
  /* Send rpc to peer (encode with yz_ps_rpc_encode() under cfg limits);
   * rpc is valid during the call. */
  void (*send)(void *ud, const yz_node_id *peer, const yz_ps_rpc *rpc);
  /* An accepted message of a subscribed topic (from NULL: own). */
  void (*deliver)(void *ud, const yz_ps_msg *m, const uint8_t id[YZ_PS_ID_LEN],
                  const yz_node_id *from);
  /* n random bytes (the router's only randomness). */
  void (*random)(void *ud, uint8_t *buf, size_t n);
  /* Optional: node records offered by a PRUNE of a well-scored peer. */
  void (*px)(void *ud, const uint8_t topic[YZ_PS_TOPIC_LEN],
             const yz_ps_bytes *records, size_t n);
  void *ud;
} yz__ps_callbacks;

/* Counters, for tests, logs and metrics. */
typedef struct yz__ps_stats {
  uint64_t delivered;  /* messages delivered to the application */
  uint64_t duplicates; /* messages already seen */
  uint64_t rejected;   /* invalid: signature, size, expiry, validator */
  uint64_t ignored;    /* validator IGNORE, unknown topic, epoch */
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
} yz__ps_stats;

typedef struct yz__ps_router yz__ps_router;

/* A router for the node self. cfg NULL: defaults; the config is checked
 * (D_lo <= D <= D_hi, D_out < D_lo, D_out <= D / 2, mcache_gossip <=
 * mcache_len, thresholds ordered, limits within their caps, every bound
 * at least 1). NULL on a bad config, missing send/random callbacks or no
 * memory. */
yz__ps_router *yz__ps_router_new(const yz_node_id *self,
                                 const yz__ps_config *cfg,
                                 const yz__ps_callbacks *cb, uint64_t now_ms);
void yz__ps_router_free(yz__ps_router *r);

/* A link to peer is up (ip for the colocation score, outbound: we dialled
 * it; record: its node record for peer exchange, may be NULL). Sends it our
 * subscriptions. 0, YZ_E_LIMIT (max_peers), YZ_E_INVAL (already there, or
 * self), YZ_E_NOMEM. */
int yz__ps_peer_add(yz__ps_router *r, const yz_node_id *peer,
                    const yz__ps_ip *ip, bool outbound, const uint8_t *record,
                    size_t record_len, uint64_t now_ms);

/* The link to peer is gone: it leaves every mesh and fanout. 0 or
 * YZ_E_NOT_FOUND. */
int yz__ps_peer_remove(yz__ps_router *r, const yz_node_id *peer,
                       uint64_t now_ms);

/* An RPC decoded from peer (yz_ps_rpc_decode() under the config's limits).
 * 0, or YZ_E_NOT_FOUND (an unknown peer). What the router refuses in it
 * (invalid messages, GRAFTs in backoff, a graylisted sender) is counted in
 * the stats and scored, never an error. */
int yz__ps_rpc_in(yz__ps_router *r, const yz_node_id *peer,
                  const yz_ps_rpc *rpc, uint64_t now_ms);

/* A decode failure of an RPC from peer: a behaviour penalty (docs/pubsub.md
 * "Scoring"). */
void yz__ps_rpc_malformed(yz__ps_router *r, const yz_node_id *peer);

/* Join topic: announce it, GRAFT up to D peers (fanout peers first).
 * validator may be NULL (accept all). 0, YZ_E_LIMIT (max_topics),
 * YZ_E_NOMEM. Subscribing again replaces the validator. */
int yz__ps_subscribe(yz__ps_router *r, const uint8_t topic[YZ_PS_TOPIC_LEN],
                     yz__ps_validator validator, void *vud, uint64_t now_ms);

/* Leave topic: announce it and PRUNE the mesh. 0 or YZ_E_NOT_FOUND. */
int yz__ps_unsubscribe(yz__ps_router *r, const uint8_t topic[YZ_PS_TOPIC_LEN],
                       uint64_t now_ms);

/* Publish a message signed by the caller (yz_ps_msg_sign()): to every
 * subscribed peer above the publish threshold (flood_publish), else to the
 * mesh or the fanout. Returns the number of peers it was sent to (0: none
 * reached, the caller must say so: the message stays cached and is
 * gossiped), or YZ_E_INVAL (a message the receivers would refuse),
 * YZ_E_DUPLICATE (already seen), YZ_E_LIMIT (a fanout over max_topics),
 * YZ_E_NOMEM. */
int yz__ps_publish(yz__ps_router *r, const yz_ps_msg *m, uint64_t now_ms);

/* The heartbeat (every second): scores decay, broken promises are
 * penalised, meshes are repaired (to [D_lo, D_hi], D_out outbound),
 * fanouts expire, gossip is emitted, caches age. */
void yz__ps_heartbeat(yz__ps_router *r, uint64_t now_ms);

/* Inspection (tests, metrics). */
const yz__ps_stats *yz__ps_stats_get(const yz__ps_router *r);
/* The peer's score now; 0 for an unknown peer. */
double yz__ps_score(const yz__ps_router *r, const yz_node_id *peer,
                    uint64_t now_ms);
/* Mesh (or fanout, fanout = true) size of topic; ids (may be NULL) gets up
 * to cap members. */
size_t yz__ps_mesh(const yz__ps_router *r, const uint8_t topic[32],
                   bool fanout, yz_node_id *ids, size_t cap);
/* Whether peer is in backoff for topic at now. */
bool yz__ps_in_backoff(const yz__ps_router *r, const uint8_t topic[32],
                       const yz_node_id *peer, uint64_t now_ms);
/* Penalised peers remembered after they left. */
size_t yz__ps_retained(const yz__ps_router *r);
/* Counts held: seen IDs, cached messages, promises, topics, peers. */
void yz__ps_sizes(const yz__ps_router *r, size_t *seen, size_t *mcache,
                  size_t *promises, size_t *topics, size_t *peers);

#endif /* YZ_PUBSUB_ROUTER_H */
