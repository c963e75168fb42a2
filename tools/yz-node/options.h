/*
 * yz-node's command line, parsed into a plain struct (no I/O but the
 * messages of a usage error), so that main.c only runs the node.
 */
#ifndef YZ_NODE_OPTIONS_H
#define YZ_NODE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "yz/log.h"

enum { YZN_MAX_LISTEN = 16, YZN_MAX_PEERS = 256 };
/* The DHT's options (docs/operations.md "The DHT"). */
enum { YZN_MAX_BOOTSTRAP = 64, YZN_MAX_ADVERTISE = 8 };
/* PubSub (docs/operations.md "PubSub"). */
enum { YZN_MAX_SUBSCRIBE = 32 };

typedef struct yzn_options {
  const char *listen[YZN_MAX_LISTEN];
  size_t nlisten;
  bool no_listen;
  const char *tls_cert, *tls_key, *tls_ca;
  bool tls_allow_selfsigned;
  const char *key;
  const char *peers[YZN_MAX_PEERS];
  bool peer_unpinned[YZN_MAX_PEERS];
  size_t npeers;
  yz_log_level log_level;
  /* Limits; 0 keeps the link layer's default. */
  uint32_t max_links, max_handshakes, ip_rate, ip_burst;
  uint32_t handshake_timeout_ms, ping_interval_ms, missed_pongs;
  uint64_t max_message_size, queue_max_bytes;
  uint32_t queue_max_msgs;
  uint32_t request_timeout_ms, redial_max_ms;
  uint32_t max_handshakes_per_source, max_links_per_source;
  uint32_t evict_min_idle_ms;
  uint64_t mem_budget; /* the link layer's node-wide memory budget */
  /* Cookies under load (docs/protocol.md 4, "Cookie"). */
  uint32_t cookie_load_pct, cookie_rate;
  bool cookie_always;
  const char *network; /* NULL: the public network "yz" */
  /* The node's connection policy; link_cap 0: off. */
  uint32_t link_cap, link_idle_ms;
  /* The DHT. */
  const char *bootstrap[YZN_MAX_BOOTSTRAP];
  size_t nbootstrap;
  const char *advertise[YZN_MAX_ADVERTISE];
  size_t nadvertise;
  const char *data_dir;  /* NULL: nothing persisted */
  bool key_given;        /* --key given (else DIR/yz-node.key with a DIR) */
  bool dht_client;       /* query only: never in routing tables */
  uint64_t dht_store_max, dht_value_max; /* bytes; 0: the defaults */
  uint32_t dht_records_max, dht_k;
  uint32_t dht_save_interval_s; /* 0: the default, 300 */
  /* PubSub. */
  const char *subscribe[YZN_MAX_SUBSCRIBE];
  size_t nsubscribe;
  bool help, version;
} yzn_options;

/* Parse argv (argv[0] is the program). 0, or 2 after printing a usage error
 * to stderr. */
int yzn_options_parse(yzn_options *o, int argc, char **argv);

void yzn_usage(FILE *f);

#endif
