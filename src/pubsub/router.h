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
#include "yz/pubsub.h"
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

/* The parameters and counters are public (include/yz/pubsub.h): the
 * node's PubSub config carries them. */
typedef yz_pubsub_score_params yz__ps_score_params;
typedef yz_pubsub_router_config yz__ps_config;

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

typedef yz_pubsub_router_stats yz__ps_stats;

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
 * penalised, meshes are repaired (to [D_lo, D_hi], D_out outbound) and
 * trimmed towards D (docs/pubsub.md "Mesh size"),
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
