/*
 * dht/dht_priv.h: the DHT instance, shared by dht.c (record, HELLO,
 * serving, timers) and lookup.c (operations). Private to src/dht.
 */
#ifndef YZ_DHT_PRIV_H
#define YZ_DHT_PRIV_H

#include "common/util.h"
#include "dht/dht_internal.h"
#include "dht/routing.h"
#include "dht/store.h"
#include "node/node_internal.h"
#include "yz/dht.h"
#include "yz/log.h"

/* A result deliberately not used (warn_unused_result). */
#define YZ__IGNORE(x)                                                         \
  do {                                                                        \
    int ig_ = (x);                                                            \
    (void)ig_;                                                                \
  } while (0)

enum {
  /* dial-backs in flight (admission of nodes that dialled us) */
  YZ__DHT_DIALBACKS_MAX = 16,
  /* records handed to one new close node at once */
  YZ__DHT_HANDOFF_MAX = 64,
  /* the housekeeping period at most (expiry, refresh, republish checks) */
  YZ__DHT_HOUSE_MS = 60 * 1000,
  /* a lookup's candidates: YZ__DHT_CAND_FACTOR x k, closest kept */
  YZ__DHT_CAND_FACTOR = 3,
  YZ__DHT_DIAL_BACK = 1,   /* admission: enters the table if it works */
  YZ__DHT_DIAL_ADD = 2,    /* yz_dht_add_contact(): a HELLO if it works */
  YZ__DHT_DIAL_LOOKUP = 4, /* lookups wait for it */
  YZ__DHT_DIAL_JOIN = 8,
  /* table members protected per bucket beyond the neighbourhood (dht.c
   * protect_wanted()) */
  YZ__DHT_PROTECT_PER_BUCKET = 2,
};

/* A request of ours in flight. */
struct yz__dht_rpc {
  struct yz__dht_rpc *next, *prev;
  yz_dht *dht;
  uint64_t op; /* 0: none (HELLO, correction, hand-off) */
  yz_node_id peer;
  uint8_t type;
  uint64_t req_id; /* the node's, for yz_node_request_cancel() */
  uint64_t sent;
  bool retried; /* already sent a second time */
};

/* A pinned dial in flight (the DHT outlives it: dht_stop waits). One per
 * node ID at a time: a lookup that needs a node already being dialled
 * waits for that dial (two concurrent dials to one node would make
 * duplicate links for nothing). */
enum { YZ__DHT_DIAL_WAITERS = 8 };
struct yz__dht_dial {
  struct yz__dht_dial *next;
  yz_dht *dht;
  int purpose; /* YZ__DHT_DIAL_* bits (LOOKUP: waiters only) */
  uint64_t op; /* join dials: the join */
  uint64_t waiters[YZ__DHT_DIAL_WAITERS]; /* lookups waiting for it */
  unsigned n_waiters;
  yz_node_id id;
  uint8_t rec[YZ_RECORD_MAX_LEN];
  size_t rec_len;
  char url[YZ_WIRE_URL_MAX_LEN + 2 + YZ_NODE_ID_HEX_LEN];
};

/* A small memory of node IDs, the oldest forgotten first, with when each
 * was added. */
enum { YZ__DHT_RING = 64 };
struct yz__dht_ring {
  yz_node_id ids[YZ__DHT_RING];
  uint64_t at[YZ__DHT_RING];
  unsigned n, next;
};

/* A node we dialled (pinned, at its record's address) this recently is
 * known reachable: when it dials us it enters the table without a dial
 * back (docs/dht.md "HELLO and admission"). */
enum { YZ__DHT_REACHED_MS = 10 * 60 * 1000 };

struct yz__dht_op;
struct yz__dht_kept;

struct yz_dht {
  yz_node *node;
  yz__node_claim claim; /* one DHT per node */
  uv_loop_t *loop;
  yz_dht_config cfg;
  char network[YZ_RECORD_NETWORK_MAX_LEN + 1];
  bool virt;
  char *addr[YZ_RECORD_MAX_ADDRESSES];
  uint64_t addr_types[YZ_RECORD_MAX_ADDRESSES];
  size_t n_addr;

  /* the own node record */
  uint8_t own[YZ_RECORD_MAX_LEN];
  size_t own_len;
  uint64_t own_seq;
  size_t own_naddr; /* listener addresses it was built from */
  uint64_t resign_due;

  yz__dht_rt rt;
  bool rt_init;
  yz__dht_store *store;
  yz_dht_msg_limits lim;
  size_t tx_cap;          /* the longest message: yz__dht_scratch()'s size */
  yz_dht_msg rx, rq, ans; /* decoded messages (large: not on the stack) */

  uint64_t observer;
  struct yz__dht_rpc *rpcs;
  struct yz__dht_dial *dials; /* pinned dials in flight */
  /* dialled back lately (admission is tried once), and asked for their
   * record with a HELLO lately (a querier whose record we lack) */
  struct yz__dht_ring dialled_back, hello_asked;
  /* dialled by us lately, the dial up (YZ__DHT_REACHED_MS) */
  struct yz__dht_ring reached;
  bool retrying; /* yz__dht_send() is resending a lost request */
  unsigned n_dials, n_dialbacks;

  /* operations (lookup.c) */
  struct yz__dht_op *ops;  /* active */
  struct yz__dht_op *done; /* finished, result to deliver from the loop */
  size_t n_ops, n_internal;
  uint64_t next_op;
  struct yz__dht_kept *kept; /* yz_dht_keep() and yz_dht_provide() */
  size_t n_kept, n_provided;

  uint64_t self_due, house_due;
  uv_timer_t timer;
  uv_idle_t idle;
  bool handles, handles_closing;
  int handles_open;
  bool stopping;
  void (*stop_cb)(yz_dht *, void *);
  void *stop_arg;

  yz_log_ratelimit log_rl;
  yz_dht_stats st;
};

/* dht.c */
uint64_t yz__dht_now(const yz_dht *d);
uint64_t yz__dht_unix(const yz_dht *d);
/* A per-thread encode buffer of d->tx_cap bytes (which: 0 requests, 1
 * answers), NULL if out of memory. */
uint8_t *yz__dht_scratch(const yz_dht *d, int which);
void yz__dht_random(const yz_dht *d, uint8_t *out, size_t n);
const uint8_t *yz__dht_own(yz_dht *d, size_t *len);
bool yz__dht_is_client(yz_dht *d);
int yz__dht_send(yz_dht *d, const yz_node_id *peer, const yz_dht_msg *m,
                 uint64_t op);
int yz__dht_send_hello(yz_dht *d, const yz_node_id *peer, uint64_t op);
void yz__dht_cancel_rpcs(yz_dht *d, uint64_t op);
/* The same, but op's stores (PUT, PROVIDE) stay in flight. */
void yz__dht_cancel_lookup_rpcs(yz_dht *d, uint64_t op);
uint32_t yz__dht_rpc_timeout(const yz_dht *d, const yz_node_id *id);
/* Dial id pinned at its record's address for purpose, or join the dial
 * in flight to it; op (not 0): a lookup to tell (yz__dht_op_dialled()).
 * 0 or an error (YZ_E_LIMIT: too many waiters). */
int yz__dht_dial(yz_dht *d, const yz_node_id *id, const uint8_t *rec,
                 size_t len, int purpose, uint64_t op);
bool yz__dht_dialling(const yz_dht *d, const yz_node_id *id);
int yz__dht_dial_url(yz_dht *d, const uint8_t *rec, size_t len, char *url,
                     size_t cap);
void yz__dht_consider(yz_dht *d, const yz_node_id *id, const uint8_t *rec,
                      size_t len, uint32_t rtt);
int yz__dht_verify_contact(yz_dht *d, const yz_dht_bytes *c,
                           const yz_node_id *id, yz_record *out,
                           const char **why);
/* A record new to this node or newer was stored: yz_dht_config.on_store. */
void yz__dht_stored_new(yz_dht *d, const uint8_t *key, const uint8_t *rec,
                        size_t len);
void yz__dht_rearm(yz_dht *d);
void yz__dht_kick(yz_dht *d);
void yz__dht_maybe_stopped(yz_dht *d);

/* lookup.c */
/* A request of op to peer of this type was lost: send it again
 * (resend, on the link that stays) or ask again over a new dial
 * (requery, lookup requests only). */
int yz__dht_op_resend(yz_dht *d, uint64_t op, const yz_node_id *peer,
                      uint8_t type);
int yz__dht_op_requery(yz_dht *d, uint64_t op, const yz_node_id *peer,
                       uint8_t type);
void yz__dht_op_dialled(yz_dht *d, uint64_t op, const yz_node_id *id,
                        int status);
void yz__dht_op_answer(yz_dht *d, const struct yz__dht_rpc *q,
                       const yz_dht_msg *m, uint32_t rtt);
uint64_t yz__dht_ops_deadline(const yz_dht *d);
void yz__dht_ops_expire(yz_dht *d, uint64_t now);
void yz__dht_ops_close(yz_dht *d);
void yz__dht_ops_free(yz_dht *d);
void yz__dht_deliver(yz_dht *d);
bool yz__dht_internal_room(const yz_dht *d);
int yz__dht_find_internal(yz_dht *d, const yz_node_id *target);
int yz__dht_put_internal(yz_dht *d, const uint8_t *rec, size_t len,
                         bool republish);
bool yz__dht_keep_tick(yz_dht *d, uint64_t now, uint64_t now_s);

#endif /* YZ_DHT_PRIV_H */
