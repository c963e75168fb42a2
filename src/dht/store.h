/*
 * dht/store.h: the DHT's local store of records and provider entries
 * (docs/dht.md "Store"), with every bound the DHT configures.
 *
 * Sans-I/O, like the routing table: the caller passes Unix time in
 * seconds (record expiries) and milliseconds on its own clock (rate
 * limits); nothing here reads a clock or sends anything. Records are
 * checked with the rules of docs/protocol.md "DHT records" (decode, key,
 * expiry, signature, replacement) and answered with the DHT message
 * statuses (YZ_DHT_OK, YZ_DHT_ST_*), so the DHT puts the result into its
 * STATUS answer as it is.
 *
 * Internal (yz__): the public API is yz/dht.h.
 */
#ifndef YZ_DHT_STORE_H
#define YZ_DHT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/dht_wire.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"

typedef struct yz__dht_store_config {
  size_t value_max;              /* 0: YZ_DHTREC_VALUE_MAX_DEFAULT */
  uint64_t expiry_ahead_s;       /* 0: YZ_DHTREC_EXPIRY_AHEAD_DEFAULT */
  size_t bytes_max;              /* records' encoded bytes, 64 MiB */
  size_t records_max;            /* 65536 */
  size_t per_author_records_max; /* mutable records per public key, 256 */
  size_t per_peer_records_max;   /* live records first put by one peer, 1024 */
  uint32_t put_rate_per_s;       /* PUT + PROVIDE per peer per second, 20 */
  uint32_t put_burst;            /* 100 */
  size_t rate_peers_max;         /* peers tracked by the rate limit, 4096 */
  size_t providers_per_key_max;  /* 20 */
  size_t provider_keys_max;      /* 65536 */
  uint32_t provider_ttl_s;       /* 24 h */
} yz__dht_store_config;

/* Zeros become the defaults above. */
void yz__dht_store_config_default(yz__dht_store_config *cfg);

/* One stored record. Read-only for the caller. */
typedef struct yz__dht_stored {
  uint8_t key[YZ_DHTREC_KEY_LEN];
  uint8_t *bytes; /* canonical record, owned */
  size_t len;
  uint64_t expiry; /* Unix seconds */
  uint64_t seq;    /* mutable: the record's seq; immutable: 0 */
  bool mutable_;
  yz_node_id from; /* the peer that first put it (all zero: local) */
  uint64_t stored_s;     /* Unix time it was stored or last replaced */
  uint64_t republished_s; /* last republish by this node (0: never) */
  /* this version (key and seq) was passed on by this node on a PUT with
   * spread (dht.c spread_put()): it never is again */
  bool spread_done;
} yz__dht_stored;

typedef struct yz__dht_store yz__dht_store;

/* 0, YZ_E_INVAL (a value out of range: value_max over
 * YZ_DHTREC_VALUE_MAX_LIMIT), YZ_E_NOMEM. */
int yz__dht_store_new(yz__dht_store **out, const yz__dht_store_config *cfg);
void yz__dht_store_free(yz__dht_store *s);

/*
 * The rate limit of PUT and PROVIDE per peer (a token bucket per node ID,
 * at most rate_peers_max tracked, the least recently used forgotten).
 * true: the request may go on (one token taken); false: answer
 * YZ_DHT_ST_RATE_LIMITED.
 */
bool yz__dht_store_rate_ok(yz__dht_store *s, const yz_node_id *peer,
                           uint64_t now_ms);

/*
 * Store a record put under key by peer (NULL: the node itself, exempt from
 * the per-peer quota and the rate limit), with an optional CAS. Checks in
 * order: decode (MALFORMED, TOO_LARGE), key (WRONG_KEY), expiry (EXPIRED,
 * EXPIRY_TOO_FAR), signature (BAD_SIGNATURE), replacement (SEQ_TOO_LOW,
 * SEQ_CONFLICT, CAS_MISMATCH), then the quotas for a new key (QUOTA: the
 * total bytes and records, the author's and the peer's share; expired
 * records are dropped first to make room). Returns YZ_DHT_OK (stored,
 * replaced, refreshed or kept) or a YZ_DHT_ST_* status; *reason (if not
 * NULL) gets a static text for a refusal; *stored_seq (if not NULL) the
 * seq held under key after the call (for the STATUS answer's seq), 0 if
 * none.
 */
uint64_t yz__dht_store_put(yz__dht_store *s, const uint8_t *key,
                           const uint8_t *record, size_t len,
                           const yz_node_id *peer, bool has_cas, uint64_t cas,
                           uint64_t now_s, uint64_t *stored_seq,
                           const char **reason);

/* The same, and on YZ_DHT_OK *action (if not NULL) says what changed:
 * YZ_DHTREC_STORE or YZ_DHTREC_REPLACE (a record new to this node, or
 * newer than the one held), YZ_DHTREC_REFRESH or YZ_DHTREC_KEEP (the
 * record held already). The DHT passes on only new ones (docs/dht.md
 * "Spread") and tells the embedder of them (yz_dht_config.on_store). */
uint64_t yz__dht_store_put_ex(yz__dht_store *s, const uint8_t *key,
                              const uint8_t *record, size_t len,
                              const yz_node_id *peer, bool has_cas,
                              uint64_t cas, uint64_t now_s,
                              uint64_t *stored_seq, const char **reason,
                              yz_dhtrec_action *action);

/* The live record under key (NULL: none, or expired: then dropped). */
const yz__dht_stored *yz__dht_store_get(yz__dht_store *s, const uint8_t *key,
                                        uint64_t now_s);

/* Drop every expired record and provider entry. Returns how many went. */
size_t yz__dht_store_expire(yz__dht_store *s, uint64_t now_s);

/* Walk the records (in no particular order); fn may not change the store
 * but may set (*st)->republished_s through the non-const pointer. */
void yz__dht_store_foreach(yz__dht_store *s,
                           void (*fn)(yz__dht_stored *st, void *ud),
                           void *ud);

/*
 * A provider entry: node `provider` (its node record, verified by the
 * caller, at most YZ_RECORD_MAX_LEN bytes) provides key, until
 * now_s + provider_ttl_s. The same provider again refreshes its entry and
 * record. A full key drops the entry that expires first if it expires
 * before the new one, else refuses (QUOTA); so do provider_keys_max keys.
 * YZ_DHT_OK or YZ_DHT_ST_QUOTA / YZ_DHT_ST_INTERNAL.
 */
uint64_t yz__dht_store_provide(yz__dht_store *s, const uint8_t *key,
                               const yz_node_id *provider,
                               const uint8_t *record, size_t record_len,
                               uint64_t now_s);

/* Up to max live providers of key (their record bytes, valid until the
 * next change to the store), most recently refreshed first. */
size_t yz__dht_store_providers(yz__dht_store *s, const uint8_t *key,
                               uint64_t now_s, yz_dht_bytes *out, size_t max);

typedef struct yz__dht_store_stats {
  size_t records, bytes;
  size_t provider_keys, providers;
  size_t rate_peers;
} yz__dht_store_stats;

void yz__dht_store_stats_get(const yz__dht_store *s,
                             yz__dht_store_stats *out);

#endif /* YZ_DHT_STORE_H */
