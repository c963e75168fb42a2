/*
 * yz-node's PubSub (docs/operations.md "PubSub"): the topics of
 * --subscribe, each message received logged with its topic, author, seq,
 * size and latency, and the mesh of each topic logged when it changes.
 */
#ifndef YZ_NODE_NODE_PUBSUB_H
#define YZ_NODE_NODE_PUBSUB_H

#include <uv.h>

#include "options.h"
#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub.h"

typedef struct yzn_pubsub {
  uv_loop_t *loop;
  yz_pubsub *ps;
  const yzn_options *o;
  uv_timer_t tick;
  bool timer_init, stopping;
  size_t mesh[YZN_MAX_SUBSCRIBE];
  yz_log_ratelimit msg_lines;
  void (*on_stopped)(void *arg);
  void *stopped_arg;
} yzn_pubsub;

/* After the DHT is created, before the node starts: PubSub on the node
 * and the --subscribe topics. 0, or 1 after logging why. */
int yzn_pubsub_start(yzn_pubsub *p, uv_loop_t *loop, yz_node *node,
                     yz_dht *dht, const yzn_options *o);

/* Stop, then on_stopped(arg) from the loop (before the DHT stops). */
void yzn_pubsub_stop(yzn_pubsub *p, void (*on_stopped)(void *arg), void *arg);

/* After the loop has ended. */
void yzn_pubsub_free(yzn_pubsub *p);

#endif
