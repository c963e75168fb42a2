/*
 * ratelimit.h: per-IP token buckets for inbound handshakes.
 *
 * A fixed table (no allocation after init, so a flood of source addresses
 * cannot grow memory): each address hashes (keyed SipHash, so an attacker
 * cannot aim at one slot) to two slots; a new address takes a free or full
 * (idle) slot, else evicts the least recently used of the two. An evicted
 * address starts again with a full bucket, which bounds what eviction can
 * buy an attacker to one burst per address it controls.
 */
#ifndef YZ_LINK_RATELIMIT_H
#define YZ_LINK_RATELIMIT_H

#include "yz/common.h"

typedef struct yz__rl_slot {
  uint8_t ip[16];
  uint64_t last_ms;
  uint64_t milli_tokens; /* tokens * 1000 */
  bool used;
} yz__rl_slot;

typedef struct yz__ratelimit {
  yz__rl_slot *slots;
  uint32_t n_slots;      /* power of two */
  uint32_t rate_per_s;
  uint32_t burst;
  uint8_t key[16];       /* crypto_shorthash key */
} yz__ratelimit;

/* n_slots is rounded up to a power of two (16 .. 2^20); the table itself
 * is allocated by the first yz__ratelimit_take(). */
int yz__ratelimit_init(yz__ratelimit *rl, uint32_t n_slots,
                       uint32_t rate_per_s, uint32_t burst);
void yz__ratelimit_clear(yz__ratelimit *rl);
/* Take one token for ip (an IPv4 address, 4 bytes; an IPv6 /64 prefix, 8
 * bytes; or 16 bytes) at now_ms: true if allowed. */
bool yz__ratelimit_take(yz__ratelimit *rl, const uint8_t *ip, size_t ip_len,
                        uint64_t now_ms);

#endif
