/*
 * node/node_internal.h: what the layers above the node inside libyz (the
 * DHT, PubSub) need of it beyond yz/node.h: the node's clock, its
 * identity, and the claim of one service of a kind per node. They use these and the public API only, never the link
 * layer's internals (docs/architecture.md, "Layers").
 */
#ifndef YZ_NODE_INTERNAL_H
#define YZ_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "yz/identity.h"
#include "yz/node.h"

/* The node's clock in milliseconds: cfg.link.clock_ms with virtual time
 * (yz/node.h, "Virtual time"), else the loop's. The links' deadlines and
 * the node's request timeouts are due on it. */
uint64_t yz__node_now(const yz_node *node);

/* Whether the node runs on virtual time (cfg.link.virtual_time with a
 * clock): it then arms no timer, and neither should a layer above it. */
bool yz__node_virtual_time(const yz_node *node);

/* The node's identity (its secret key signs the node's records). Lives as
 * long as the node. */
const yz_identity *yz__node_identity(const yz_node *node);

/* One service of a kind per node (node/claim.c). The DHT and PubSub
 * allow one instance per node (yz/dht.h, yz/pubsub.h: "One per node"):
 * each instance claims (node, kind) when created and releases it when
 * stopped or freed. The claims are a process-wide list under a lock (nodes
 * may run on several loops in several threads), keyed by the node's
 * address only, never dereferenced, so a release stays safe after
 * yz_node_free() (yz/dht.h: yz_dht_free() "before or after
 * yz_node_free()"). */
/* The kinds of service that allow one per node. */
enum yz__node_claim_kind {
  YZ__NODE_CLAIM_DHT = 1,
  YZ__NODE_CLAIM_PUBSUB = 2,
};

/* A claim, embedded in the instance that makes it (zeroed before use). */
typedef struct yz__node_claim {
  const yz_node *node;
  int kind;
  bool held;
  struct yz__node_claim *next;
} yz__node_claim;

/* Claim (node, kind) for c: true, and c held; false when another holds
 * it (c unchanged). */
bool yz__node_claim_take(yz__node_claim *c, const yz_node *node, int kind);

/* Release c if held (any number of times). */
void yz__node_claim_release(yz__node_claim *c);

#endif /* YZ_NODE_INTERNAL_H */
