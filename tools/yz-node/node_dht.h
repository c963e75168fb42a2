/*
 * yz-node's DHT (docs/operations.md "The DHT"): the node record's
 * addresses, the join through --bootstrap with retries, the routing table
 * size in the log, and the data directory (load at start, save now and
 * then and at stop).
 */
#ifndef YZ_NODE_NODE_DHT_H
#define YZ_NODE_NODE_DHT_H

#include <uv.h>

#include "options.h"
#include "yz/dht.h"
#include "yz/node.h"

typedef struct yzn_dht {
  uv_loop_t *loop;
  yz_node *node;
  yz_dht *dht;
  const yzn_options *o;
  uv_timer_t tick, save, rejoin;
  bool timers_init, stopping, joining, joined_once;
  uint64_t join_op;
  unsigned join_attempts;
  size_t logged_size;
  uint64_t last_log_ms;
  void (*on_stopped)(void *arg);
  void *stopped_arg;
  /* The advertised URLs (no #NODEID) and their client types. */
  char adv[YZN_MAX_ADVERTISE + YZN_MAX_LISTEN][320];
  const char *adv_ptr[YZN_MAX_ADVERTISE + YZN_MAX_LISTEN];
  uint64_t adv_types[YZN_MAX_ADVERTISE + YZN_MAX_LISTEN];
  size_t n_adv;
} yzn_dht;

/* After the node listens, before it starts: create the DHT, load the
 * data directory. 0, or 1 after logging why. */
int yzn_dht_start(yzn_dht *d, uv_loop_t *loop, yz_node *node,
                  const yzn_options *o);

/* After the node has started: join through --bootstrap (retried). */
void yzn_dht_join(yzn_dht *d);

/* Stop: save, then on_stopped(arg) from the loop (before yz_node_stop). */
void yzn_dht_stop(yzn_dht *d, void (*on_stopped)(void *arg), void *arg);

/* After the loop has ended. */
void yzn_dht_free(yzn_dht *d);

#endif
