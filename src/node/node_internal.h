/*
 * node/node_internal.h: what the layers above the node inside libyz (the
 * DHT, PubSub) need of it beyond yz/node.h: the node's clock and its
 * identity. They use these and the public API only, never the link
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

#endif /* YZ_NODE_INTERNAL_H */
