/*
 * yz/dht.h: the overlay's Kademlia DHT, on a yz node (yz/node.h).
 *
 * A DHT instance sits on one node, speaks node messages with protocol
 * number 2 (docs/protocol.md "DHT messages"), keeps a routing table of
 * nodes reachable as servers (docs/dht.md), answers FIND_NODE, GET, PUT,
 * PROVIDE and GET_PROVIDERS, stores records (docs/protocol.md "DHT
 * records") and provider entries within configured bounds, runs iterative
 * lookups (alpha in flight, done when the k closest seen have answered),
 * republishes what it holds and what its owner asked it to keep alive, and
 * refreshes idle buckets with a periodic self-lookup.
 *
 * Contacts are signed node records (yz/record.h): a node found through the
 * DHT is always dialled pinned to its node ID. A node learns its peers'
 * records with HELLO (docs/protocol.md "DHT messages"), and enters a
 * routing table only once it is known reachable as a server: it answered a
 * query of ours on a link we dialled, or we dialled it back.
 *
 * Threading and lifetime follow yz/node.h: every call on the loop's
 * thread, every callback from the loop, never synchronously from the call
 * that arms it.
 *
 *   yz_node_new() ... yz_dht_new(&dht, node, &cfg)   registers protocol 2
 *   yz_node_listen(), yz_node_start(), yz_dht_join(dht, bootstrap, ...)
 *   ... yz_dht_get / put / find_node / provide / get_providers ...
 *   yz_dht_stop(dht, cb)   pending operations end with YZ_E_CLOSED; cb
 *                          runs from the loop once nothing of the DHT is
 *                          left armed; then yz_node_stop(), yz_dht_free()
 *                          (before or after yz_node_free()).
 *
 * Time: record expiries are Unix seconds (cfg.unix_time); everything else
 * runs on the node's clock (cfg.link.clock_ms of the node). With the node's
 * virtual time (yz_node_run_timers()), the DHT arms no timer either: the
 * caller runs yz_dht_run_timers() whenever its clock reaches
 * yz_dht_next_deadline().
 */
#ifndef YZ_DHT_H
#define YZ_DHT_H

#include <uv.h>

#include "yz/common.h"
#include "yz/dht_wire.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/node.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct yz_dht yz_dht;

enum {
  YZ_DHT_PROTO = 2, /* the node protocol number (docs/protocol.md) */
  YZ_DHT_K_DEFAULT = 20,
  YZ_DHT_ALPHA_DEFAULT = 3,
};

typedef struct yz_dht_config {
  /* What the own node record advertises (docs/protocol.md "Node
   * records"): the URLs peers dial ("ws://192.0.2.7:7700/", no node ID
   * fragment), with client types; n_addresses 0 advertises the node's
   * listener addresses (yz_node_address()). A node with no address is
   * client-only whatever client_only says. */
  const char *const *addresses;
  const uint64_t *address_client_types; /* NULL: YZ_WIRE_CLIENT_WS each */
  size_t n_addresses;
  uint64_t node_type;    /* YZ_WIRE_NODE_*; 0: community */
  uint64_t capabilities; /* YZ_WIRE_CAP_* */
  /* Query only: never enters a routing table, stores and answers nothing
   * (docs/protocol.md: the `client` flag). yz's ephemeral CLI nodes. */
  bool client_only;
  /* The node record's lifetime; it is re-signed at half of it. Default
   * 24 h. */
  uint32_t record_lifetime_s;

  /* Routing (docs/dht.md "Routing table"); 0 means the default. */
  unsigned k;                 /* 20 */
  unsigned alpha;             /* 3 requests in flight per lookup */
  unsigned cache_size;        /* 8 */
  unsigned max_failures;      /* 3 */
  unsigned subnet_per_bucket; /* 2 (UINT32_MAX: no limit) */
  unsigned subnet_per_table;  /* 3 (UINT32_MAX: no limit) */
  bool subnet_limit_loopback; /* false: loopback is exempt (default) */
  uint32_t refresh_ms;        /* idle bucket refresh, 15 min */
  uint32_t self_lookup_ms;    /* periodic self-lookup, 10 min */

  /* Lookups; 0 means the default. */
  uint32_t rpc_timeout_min_ms; /* adaptive per-request timeout floor, 500 */
  uint32_t rpc_timeout_max_ms; /* ... and cap, 5000 */
  uint32_t lookup_deadline_ms; /* a whole lookup, 30000 */
  unsigned max_lookups;        /* lookups in flight, 64 */
  unsigned get_quorum;         /* GET: answers with the record wanted, 3 */

  /* Storage; 0 means the default. */
  size_t value_max;              /* 64 KiB (YZ_DHTREC_VALUE_MAX_DEFAULT) */
  uint64_t expiry_ahead_s;       /* 48 h */
  size_t store_bytes_max;        /* 64 MiB, all records' bytes */
  size_t store_records_max;      /* 65536 */
  size_t per_author_records_max; /* mutable records of one public key, 256 */
  size_t per_peer_records_max;   /* records a peer put here, live, 1024 */
  uint32_t put_rate_per_s;       /* PUT/PROVIDE per peer per second, 20 */
  uint32_t put_burst;            /* ... with this burst, 100 */
  size_t providers_per_key_max;  /* 20 */
  size_t provider_keys_max;      /* 65536 */
  uint32_t provider_ttl_s;       /* a provider entry lives 24 h */
  uint32_t republish_ms;         /* holders republish every 1 h */
  unsigned keep_max;             /* records kept alive for the owner, 1024 */

  /* PUT: how many of a put's stores ask their receiver to spread the
   * record over its links to its own neighbourhood (docs/dht.md
   * "Spread"), twice over: up to put_spread stores to answerers of the
   * lookup that are among the k closest to the key by their own table,
   * sent as they answer, and the first put_spread of the stores the put
   * sends from its last step on (more than k counts as k). Not defaulted
   * from 0: 0 flags none; yz_dht_config_default() sets 3. */
  unsigned put_spread;

  /* Called when this node stores a record that is new to it or newer
   * than the one it held (not a refresh of the same record): from a PUT
   * of the network (a writer's, a spread, a republish, a correction, a
   * hand-off) or from the node's own put or keep. key is
   * YZ_DHTREC_KEY_LEN bytes, record the canonical bytes; both valid
   * during the call only. Called from the loop, or from within the call
   * that stored it (yz_dht_put() may store here at once); it must not
   * call into this DHT. Not called by yz_dht_store_local() (the caller
   * knows). NULL: none. */
  void (*on_store)(yz_dht *dht, const uint8_t *key, const uint8_t *record,
                   size_t record_len, void *arg);
  void *on_store_arg;

  /* Unix time in seconds for expiries; NULL: time(). Simulations pass
   * their virtual clock. */
  uint64_t (*unix_time)(void *ud);
  /* Random bytes (bucket refresh targets); NULL: libsodium. Simulations
   * and tests pass a seeded generator: the same seed, the same run. */
  void (*random)(uint8_t *out, size_t n, void *ud);
  void *user_data; /* for unix_time and random */
} yz_dht_config;

/* The defaults above. */
YZ_EXPORT void yz_dht_config_default(yz_dht_config *cfg);

/*
 * A DHT on node (registers protocol YZ_DHT_PROTO and a peer observer).
 * One per node. 0, YZ_E_INVAL (a value out of range, a bad address),
 * YZ_E_STATE (the node is stopping, or already has a DHT), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_new(yz_dht **out, yz_node *node,
                                        const yz_dht_config *cfg);

/* Stop: see the lifetime above. cb may be NULL. */
YZ_EXPORT void yz_dht_stop(yz_dht *dht, void (*cb)(yz_dht *dht, void *arg),
                           void *arg);

/* Free after the stop callback (NULL: no-op). */
YZ_EXPORT void yz_dht_free(yz_dht *dht);

/* A contact: a node ID and its signed node record (canonical bytes,
 * verified). Valid during the callback that hands it out. */
typedef struct yz_dht_contact {
  yz_node_id id;
  const uint8_t *record;
  size_t record_len;
} yz_dht_contact;

/* What an operation saw (also filled on failure). */
typedef struct yz_dht_op_stats {
  unsigned rounds;    /* hops: the longest chain of answers that led to the
                         result (1: the first contacts answered it) */
  unsigned queried;   /* requests sent */
  unsigned answered;  /* answers received (any status) */
  unsigned failed;    /* timeouts, closes, malformed answers, refusals;
                         and requests stalled (docs/dht.md "Lookups")
                         still unanswered when the lookup ended */
  unsigned dialled;   /* new links opened for the operation */
  uint64_t elapsed_ms; /* on the node's clock */
} yz_dht_op_stats;

/*
 * The outcome of an operation, exactly once, from the loop. status:
 *   0              done (for GET: a record found)
 *   YZ_E_NOT_FOUND GET found no record (the lookup itself completed)
 *   YZ_E_TIMEOUT   the lookup's deadline passed first (what it found so
 *                  far is reported)
 *   YZ_E_CLOSED    yz_dht_stop()
 *   YZ_E_UNREACHABLE no contact to start from (empty table)
 *   YZ_E_LIMIT     too many lookups in flight
 * The pointers are valid during the callback only.
 */
typedef struct yz_dht_result {
  int status;
  yz_dht_op_stats stats;
  /* FIND_NODE (and every lookup): the closest nodes that answered,
   * closest first, at most k. */
  const yz_dht_contact *closest;
  size_t n_closest;
  /* GET: the record (canonical bytes, checked) and its decoded fields
   * (value points into record). */
  const uint8_t *record;
  size_t record_len;
  const yz_dhtrec *rec;
  unsigned holders;   /* GET: nodes that returned this record */
  unsigned corrected; /* GET: older replicas sent the newer record */
  /* PUT / PROVIDE: nodes asked, and those that answered OK. */
  unsigned asked;
  unsigned stored;
  /* PUT: the first refusal's status and reason, if any (0: none). */
  uint64_t refusal;
  const char *refusal_reason;
  /* GET_PROVIDERS: the providers found (their node records). */
  const yz_dht_contact *providers;
  size_t n_providers;
} yz_dht_result;

typedef void (*yz_dht_cb)(yz_dht *dht, const yz_dht_result *r, void *arg);

/* Streaming: called as a lookup learns something new before it ends (a
 * record with a higher seq, a new provider); r holds only that. */
typedef void (*yz_dht_progress_cb)(yz_dht *dht, const yz_dht_result *r,
                                   void *arg);

typedef struct yz_dht_op_opts {
  uint32_t deadline_ms;         /* 0: cfg.lookup_deadline_ms */
  yz_dht_progress_cb progress;  /* optional */
  /* GET: return at once with the first valid record (false), or ask the
   * quorum for the latest, highest seq (true, the default in yz_dht_get
   * when opts is NULL), and send it to the replicas that returned older
   * ones. */
  bool latest;
  unsigned quorum;             /* 0: cfg.get_quorum */
  bool has_seq;                /* GET: only records with a seq above seq */
  uint64_t seq;
  bool has_cas;                /* PUT: compare and swap on this seq */
  uint64_t cas;
} yz_dht_op_opts;

/* Every operation returns 0 and then calls cb exactly once, or returns an
 * error and never calls it: YZ_E_INVAL, YZ_E_STATE (stopping), YZ_E_LIMIT,
 * YZ_E_NOMEM. *op_out (if not NULL) identifies it for yz_dht_cancel(). */

/* Join: dial each bootstrap node address (pinned "ws://...#ID", or unpinned
 * "ws://host:port/"), then look up the own ID and refresh the buckets.
 * cb's result: closest = the node's neighbourhood; status 0 if any
 * bootstrap answered, YZ_E_UNREACHABLE if none did. May be called again
 * (e.g. when the table has emptied). */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_join(yz_dht *dht,
                                         const char *const *bootstrap,
                                         size_t n, yz_dht_cb cb, void *arg,
                                         uint64_t *op_out);

/* The k closest nodes to target. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dht_find_node(yz_dht *dht, const yz_node_id *target,
                 const yz_dht_op_opts *opts, yz_dht_cb cb, void *arg,
                 uint64_t *op_out);

/* The record under key (YZ_DHTREC_KEY_LEN bytes). */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_get(yz_dht *dht, const uint8_t *key,
                                        const yz_dht_op_opts *opts,
                                        yz_dht_cb cb, void *arg,
                                        uint64_t *op_out);

/*
 * Store a record (canonical bytes, as yz_dhtrec_encode() makes them) on
 * the k closest nodes to its key, and here if this node is among them.
 * The record is checked first (YZ_E_INVAL with nothing sent if it is
 * not valid now). Up to 2 x cfg.put_spread stores ask their receivers to
 * pass the record on to their neighbours (docs/dht.md "Spread"); the
 * result counts only this node's own stores. Result: asked, stored, and
 * the first refusal.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_put(yz_dht *dht, const uint8_t *record,
                                        size_t record_len,
                                        const yz_dht_op_opts *opts,
                                        yz_dht_cb cb, void *arg,
                                        uint64_t *op_out);

/* Announce this node as a provider of key on the k closest nodes (it is
 * re-announced every republish_ms while it stays in yz_dht_provide's
 * list, at most keep_max keys; yz_dht_unprovide() ends that). Also
 * YZ_E_STATE for a client-only node (it has no record to announce) and
 * YZ_E_LIMIT for a full list. */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_provide(yz_dht *dht, const uint8_t *key,
                                            const yz_dht_op_opts *opts,
                                            yz_dht_cb cb, void *arg,
                                            uint64_t *op_out);
YZ_EXPORT int yz_dht_unprovide(yz_dht *dht, const uint8_t *key);

/* The providers of key (at most providers_per_key_max), streamed through
 * opts->progress as they are found. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_dht_get_providers(yz_dht *dht, const uint8_t *key,
                     const yz_dht_op_opts *opts, yz_dht_cb cb, void *arg,
                     uint64_t *op_out);

/* Cancel an operation: its callback will not run. 0 or YZ_E_NOT_FOUND. */
YZ_EXPORT int yz_dht_cancel(yz_dht *dht, uint64_t op);

/*
 * Keep a record alive for its owner: the node re-puts it to the current k
 * closest every republish_ms until it expires or yz_dht_unkeep(). A newer
 * record (higher seq) for the same key replaces the kept one. 0,
 * YZ_E_INVAL, YZ_E_LIMIT (keep_max), YZ_E_NOMEM.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_keep(yz_dht *dht, const uint8_t *record,
                                         size_t record_len);
YZ_EXPORT int yz_dht_unkeep(yz_dht *dht, const uint8_t *key);

/* The own signed node record (NULL for a client-only node). Valid until
 * the next call into the DHT. */
YZ_EXPORT const uint8_t *yz_dht_own_record(yz_dht *dht, size_t *len);

/*
 * The routing table: the up to max live contacts closest to target
 * (closest first; target NULL: the own ID), as node IDs. Returns how many
 * were written.
 */
YZ_EXPORT size_t yz_dht_table_closest(const yz_dht *dht,
                                      const yz_node_id *target,
                                      yz_node_id *out, size_t max);
YZ_EXPORT size_t yz_dht_table_size(const yz_dht *dht);

/*
 * Offer a contact learned elsewhere (a saved table, an operator): its node
 * record is verified (network, expiry, signature) and it is asked to
 * answer before it enters the table. 0, YZ_E_INVAL / the record's errors.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_add_contact(yz_dht *dht,
                                                const uint8_t *record,
                                                size_t record_len);

/* Call fn for every live contact of the table (node record bytes). */
YZ_EXPORT void yz_dht_foreach_contact(const yz_dht *dht,
                                      void (*fn)(const yz_dht_contact *c,
                                                 void *ud),
                                      void *ud);

/*
 * The local store. yz_dht_store_local() stores a record here as if a peer
 * had put it (the same checks; the status is returned: YZ_DHT_OK or a
 * YZ_DHT_ST_*), for restoring a saved store; yz_dht_foreach_record()
 * walks the records held (key, canonical bytes).
 */
YZ_EXPORT uint64_t yz_dht_store_local(yz_dht *dht, const uint8_t *key,
                                      const uint8_t *record,
                                      size_t record_len);
YZ_EXPORT void yz_dht_foreach_record(const yz_dht *dht,
                                     void (*fn)(const uint8_t *key,
                                                const uint8_t *record,
                                                size_t record_len, void *ud),
                                     void *ud);

/* Counters since creation, gauges now. */
typedef struct yz_dht_stats {
  size_t table_size;              /* gauge: live contacts */
  size_t records, record_bytes;   /* gauge: the store */
  size_t provider_keys, providers;
  size_t lookups_active;          /* gauge */
  uint64_t lookups, lookups_failed;
  uint64_t requests_in, requests_out;
  uint64_t answers_in, request_failures;
  uint64_t refused_in[YZ_DHT_ST_MAX + 1]; /* our answers, by status */
  uint64_t republished;
  uint64_t corrected;             /* stale replicas sent a newer record */
  /* Dials, each a full handshake (docs/dht.md "Links"): pinned dials the
   * DHT made (lookups, dial-backs, yz_dht_add_contact(); not the join's
   * bootstrap dials), of them dial-backs, and dial-backs skipped because
   * the node was proven reachable lately (we dialled it). */
  uint64_t dials, dial_backs, dial_backs_skipped;
  /* PUTs sent before their lookup ended (to the current k closest as
   * they answered), and of those the copies that landed on a node that
   * was not among the final k closest (docs/dht.md "PUT"). */
  uint64_t puts_early, puts_extra;
  /* Spread (docs/dht.md "Spread"). As a writer: stores sent with the
   * spread flag, and of them those sent as the lookup went on, to
   * answerers close to the key by their own table (spread_sent_near).
   * As a receiver: PUTs received with it (spread_in); of those, the ones
   * passed on (spread_waves), and the ones not passed on because this
   * node is not among the k closest to the key by its own table, because
   * it passed this version of the record on already, or because the
   * sender is client-only (refused PUTs make up the rest). The
   * copies sent on (spread_forwards), and those left out because no link
   * to the neighbour was up (spread_no_link: never dialled for). */
  uint64_t spread_sent, spread_sent_near;
  uint64_t spread_in, spread_waves;
  uint64_t spread_not_close, spread_held, spread_client;
  uint64_t spread_forwards, spread_no_link;
} yz_dht_stats;

YZ_EXPORT void yz_dht_get_stats(const yz_dht *dht, yz_dht_stats *out);

/* Virtual time: see the top of this file. */
YZ_EXPORT uint64_t yz_dht_next_deadline(const yz_dht *dht);
YZ_EXPORT void yz_dht_run_timers(yz_dht *dht);

/*
 * Persistence (src/dht/persist.c): save the routing contacts and the
 * stored records into dir (files written atomically: a temporary file,
 * fsync, rename), and load them back. A missing file is not an error; a
 * corrupt one is reported (YZ_E_MALFORMED, with the file named in
 * *reason) and ignored: nothing of it is loaded. Loaded contacts are
 * offered with yz_dht_add_contact(), records restored with
 * yz_dht_store_local() (expired ones are dropped).
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_save(const yz_dht *dht, const char *dir,
                                         const char **reason);
YZ_EXPORT YZ_WARN_UNUSED int yz_dht_load(yz_dht *dht, const char *dir,
                                         size_t *contacts, size_t *records,
                                         const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_DHT_H */
