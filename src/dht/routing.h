/*
 * dht/routing.h: the DHT routing table (docs/dht.md "Routing table").
 *
 * A Kademlia routing table over 256-bit node IDs with the XOR metric:
 * 256 buckets, bucket i holds the contacts whose ID shares exactly i
 * leading bits with the own ID. Each bucket keeps up to k live contacts
 * and a bounded replacement cache. Live contacts are never evicted for
 * newcomers; a contact that failed max_failures consecutive queries is
 * replaced from the cache (or by the next newcomer). Subnet diversity
 * limits keep one host or one /24 (/48) from filling a neighbourhood.
 *
 * Sans-I/O: the caller passes the current time (milliseconds, any
 * monotonic origin) and any random bytes; nothing here reads a clock,
 * sends a packet or allocates after a contact is added beyond that
 * contact's storage. Internal (yz__): the public DHT API (include/yz/dht.h)
 * will expose lookups and records, not the table's bookkeeping.
 */
#ifndef YZ_DHT_ROUTING_H
#define YZ_DHT_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/identity.h"

enum {
  YZ__DHT_BUCKETS = 256, /* one per common-prefix length 0..255 */
  YZ__DHT_K_DEFAULT = 20,
  YZ__DHT_K_MAX = 64,
  YZ__DHT_CACHE_DEFAULT = 8, /* replacement cache entries per bucket */
  YZ__DHT_CACHE_MAX = 64,
  YZ__DHT_MAX_FAILURES_DEFAULT = 3,
  YZ__DHT_REFRESH_MS_DEFAULT = 15 * 60 * 1000,
  YZ__DHT_SUBNET_PER_BUCKET_DEFAULT = 2,
  YZ__DHT_SUBNET_PER_TABLE_DEFAULT = 3,
  /* a contact's stored node record (yz/record.h YZ_RECORD_MAX_LEN) */
  YZ__DHT_RECORD_MAX_LEN = 1024,
};

/* An IP address: the one the contact was dialled back on (docs/dht.md
 * "Diversity"). family 0: none known (the in-memory network). */
typedef struct yz__dht_ip {
  uint8_t family;   /* 0, 4 or 6 */
  uint8_t addr[16]; /* IPv4: the first 4 bytes */
} yz__dht_ip;

/* Set *ip from text ("192.0.2.1", "2001:db8::1"); an IPv4-mapped IPv6
 * address becomes IPv4. 0 or YZ_E_INVAL. */
int yz__dht_ip_parse(yz__dht_ip *ip, const char *text);

/* True for 127.0.0.0/8 and ::1 (exempt from the subnet limits when the
 * config says so). */
bool yz__dht_ip_is_loopback(const yz__dht_ip *ip);

/* True if a and b are in the same /24 (IPv4) or /48 (IPv6); two
 * family-0 addresses are one group. */
bool yz__dht_ip_same_subnet(const yz__dht_ip *a, const yz__dht_ip *b);

typedef struct yz__dht_config {
  unsigned k;                 /* live contacts per bucket, 1..YZ__DHT_K_MAX */
  unsigned cache_size;        /* replacement cache per bucket, 0..CACHE_MAX */
  unsigned max_failures;      /* consecutive failed queries that make a contact
                               * replaceable, >= 1 */
  uint64_t refresh_ms;        /* a bucket with no lookup for this long needs a
                               * refresh lookup */
  unsigned subnet_per_bucket; /* live contacts per /24 or /48 in one
                               * bucket; 0: no limit */
  unsigned subnet_per_table;  /* ... in the whole table; 0: no limit */
  bool loopback_exempt;       /* loopback addresses skip both limits */
} yz__dht_config;

/* The defaults above (k 20, cache 8, 3 failures, 15 min, 2 and 3 per
 * subnet, loopback exempt). */
void yz__dht_config_default(yz__dht_config *cfg);

/* What the caller knows of a node that answered (yz__dht_rt_seen()). */
typedef struct yz__dht_peer {
  yz_node_id id;
  yz__dht_ip ip;
  /* The node's signed node record, canonical bytes (docs/protocol.md
   * "Node records"), already verified by the caller; NULL/0 keeps the
   * stored one (or none). At most YZ__DHT_RECORD_MAX_LEN bytes. */
  const uint8_t *record;
  size_t record_len;
  /* The node cannot be dialled (a client, the browser tier): it may
   * query us but never enters the table (docs/dht.md). */
  bool client_only;
} yz__dht_peer;

/* A contact in the table. Fields are read-only for the caller. */
typedef struct yz__dht_contact {
  yz_node_id id;
  yz__dht_ip ip;
  uint8_t *record; /* owned; NULL if none */
  size_t record_len;
  uint64_t last_seen_ms; /* last answer or inbound query */
  uint32_t rtt_ms;       /* smoothed round trip; 0: not measured */
  uint32_t failures;     /* consecutive failed queries */
} yz__dht_contact;

typedef struct yz__dht_bucket {
  yz__dht_contact *live; /* n_live used of cfg.k, allocated on first use */
  yz__dht_contact *cache;
  unsigned n_live, n_cache;
  uint64_t last_lookup_ms; /* last lookup through this bucket */
} yz__dht_bucket;

typedef struct yz__dht_rt {
  yz_node_id self;
  yz__dht_config cfg;
  yz__dht_bucket buckets[YZ__DHT_BUCKETS];
  size_t n_live; /* live contacts in all buckets */
  /* The last contact yz__dht_rt_seen() moved to the cache to make room for
   * a closer one (the neighbourhood exception), for the caller to clear
   * what it kept for a member (link protection); the caller resets the
   * flag. */
  yz_node_id displaced;
  bool has_displaced;
} yz__dht_rt;

/* Results of yz__dht_rt_seen(). */
typedef enum yz__dht_seen_result {
  YZ__DHT_ADDED = 0,      /* now a live contact */
  YZ__DHT_UPDATED,        /* was live; last-seen, RTT, record refreshed */
  YZ__DHT_CACHED,         /* bucket full of good contacts: in the cache */
  YZ__DHT_REPLACED,       /* took the place of a failed contact */
  YZ__DHT_REFUSED_SELF,   /* the own ID */
  YZ__DHT_REFUSED_CLIENT, /* client-only (removed if it was present) */
  YZ__DHT_REFUSED_SUBNET, /* the diversity limits */
  YZ__DHT_REFUSED_FULL,   /* bucket full of good contacts, no cache */
} yz__dht_seen_result;

/* "added", "cached", ...; never NULL. */
const char *yz__dht_seen_result_name(int r);

/*
 * An empty table for self. cfg NULL: defaults. now_ms starts every
 * bucket's refresh clock. 0, YZ_E_INVAL (a config value out of range)
 * or YZ_E_NOMEM.
 */
int yz__dht_rt_init(yz__dht_rt *rt, const yz_node_id *self,
                    const yz__dht_config *cfg, uint64_t now_ms);
/* Free everything; rt can be init again. */
void yz__dht_rt_clear(yz__dht_rt *rt);

/* Bucket index of id: the number of leading bits it shares with the own
 * ID, 0..255; 256 for the own ID. */
unsigned yz__dht_rt_bucket_index(const yz__dht_rt *rt, const yz_node_id *id);

/*
 * The node answered a query of ours or is otherwise known reachable as a
 * server (the DHT dials back before calling this). rtt_ms: a measured
 * round trip, 0 for none. Returns a yz__dht_seen_result (>= 0) or
 * YZ_E_INVAL (a record longer than YZ__DHT_RECORD_MAX_LEN) / YZ_E_NOMEM.
 */
int yz__dht_rt_seen(yz__dht_rt *rt, const yz__dht_peer *peer, uint64_t now_ms,
                    uint32_t rtt_ms);

/*
 * A query to id timed out or failed. After cfg.max_failures in a row the
 * contact is replaced by the freshest cache entry that passes the
 * diversity limits, if any (else it stays, marked bad, until a newcomer
 * takes its place). A cache entry that fails is dropped. 1 if id was
 * removed, 0 if it stays, YZ_E_NOT_FOUND.
 */
int yz__dht_rt_failed(yz__dht_rt *rt, const yz_node_id *id);

/* Remove id (live or cached); a live contact's place is filled from the
 * cache. 0 or YZ_E_NOT_FOUND. */
int yz__dht_rt_remove(yz__dht_rt *rt, const yz_node_id *id);

/* The live contact for id, or NULL. Valid until the next change. */
const yz__dht_contact *yz__dht_rt_find(const yz__dht_rt *rt,
                                       const yz_node_id *id);

/* Would id enter the table now as a live contact: its bucket has room or
 * a bad contact, or id is among the k closest to the own ID and closer
 * than a member of its bucket (the neighbourhood exception)? */
bool yz__dht_rt_would_enter(const yz__dht_rt *rt, const yz_node_id *id);

/* True if id is in its bucket's replacement cache. */
bool yz__dht_rt_in_cache(const yz__dht_rt *rt, const yz_node_id *id);

/* Live contacts in the table. */
size_t yz__dht_rt_size(const yz__dht_rt *rt);

/* The XOR metric (docs/dht.md "Routing table"): <0 if a is closer to t
 * than b, >0 if farther, 0 if a == b (IDs compared as big-endian
 * numbers). */
int yz__dht_dist_cmp(const uint8_t *t, const uint8_t *a, const uint8_t *b);

/*
 * The up to n live contacts closest to target by XOR distance, closest
 * first, into out. Exact. Returns how many. The pointers stay valid until
 * the next change to the table.
 */
size_t yz__dht_rt_closest(const yz__dht_rt *rt, const yz_node_id *target,
                          const yz__dht_contact **out, size_t n);

/*
 * The least recently seen live contact in the bucket id falls in (the
 * one to ping when a newcomer was cached), or NULL.
 */
const yz__dht_contact *yz__dht_rt_stalest(const yz__dht_rt *rt,
                                          const yz_node_id *id);

/* A lookup for target went through its bucket: restart that bucket's
 * refresh clock (a lookup for the own ID touches none). */
void yz__dht_rt_touched(yz__dht_rt *rt, const yz_node_id *target,
                        uint64_t now_ms);

/*
 * The buckets that need a refresh lookup at now_ms: idle for refresh_ms
 * or more, and no deeper than the deepest non-empty bucket (deeper ones
 * are the own neighbourhood, covered by the periodic self-lookup).
 * Writes up to cap indices, lowest first; returns how many.
 */
size_t yz__dht_rt_refresh_due(const yz__dht_rt *rt, uint64_t now_ms,
                              unsigned *out, size_t cap);

/*
 * A random ID in bucket index (0..255): the own ID's first index bits,
 * bit index flipped, the rest from random (32 bytes from the caller).
 */
void yz__dht_rt_random_id(const yz__dht_rt *rt, unsigned index,
                          const uint8_t random[32], yz_node_id *out);

#endif /* YZ_DHT_ROUTING_H */
