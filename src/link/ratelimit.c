/*
 * ratelimit.c: per-IP token buckets (ratelimit.h).
 */
#include "link/ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int yz__ratelimit_init(yz__ratelimit *rl, uint32_t n_slots,
                       uint32_t rate_per_s, uint32_t burst) {
  memset(rl, 0, sizeof *rl);
  uint32_t n = 16;
  while (n < n_slots && n < (1u << 20))
    n <<= 1;
  /* The table (4,096 slots of 40 bytes for a manager: 160 KiB) is
   * allocated by the first take: a manager that never sees an inbound
   * handshake from an IP address (the in-memory backend, a dial-only
   * node) never pays for it, and the simulator runs thousands. */
  rl->slots = NULL;
  rl->n_slots = n;
  rl->rate_per_s = rate_per_s;
  rl->burst = burst > 0 ? burst : 1;
  randombytes_buf(rl->key, sizeof rl->key);
  return 0;
}

void yz__ratelimit_clear(yz__ratelimit *rl) {
  free(rl->slots);
  memset(rl, 0, sizeof *rl);
}

static void refill(const yz__ratelimit *rl, yz__rl_slot *s, uint64_t now) {
  uint64_t cap = (uint64_t)rl->burst * 1000u;
  if (now > s->last_ms) {
    uint64_t dt = now - s->last_ms;
    /* rate tokens per second = rate milli-tokens per millisecond */
    if (dt > UINT64_C(1000000000))
      dt = UINT64_C(1000000000); /* no overflow below: 1e9 * 2^32 < 2^64 */
    uint64_t add = dt * rl->rate_per_s;
    s->milli_tokens = s->milli_tokens + add > cap ? cap : s->milli_tokens + add;
  }
  s->last_ms = now;
}

bool yz__ratelimit_take(yz__ratelimit *rl, const uint8_t *ip, size_t ip_len,
                        uint64_t now_ms) {
  if (rl->slots == NULL) {
    rl->slots = calloc(rl->n_slots, sizeof *rl->slots);
    if (rl->slots == NULL)
      return false; /* no memory: refuse, as a full table would */
  }
  uint8_t key[16] = {0};
  memcpy(key, ip, ip_len > 16 ? 16 : ip_len);
  key[15] ^= (uint8_t)ip_len; /* an IPv4 address never equals an IPv6 /64 */
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, key, sizeof key, rl->key);
  uint32_t a, b;
  memcpy(&a, h, 4);
  memcpy(&b, h + 4, 4);
  yz__rl_slot *sa = &rl->slots[a & (rl->n_slots - 1)];
  yz__rl_slot *sb = &rl->slots[b & (rl->n_slots - 1)];
  yz__rl_slot *s = NULL;
  if (sa->used && memcmp(sa->ip, key, 16) == 0)
    s = sa;
  else if (sb->used && memcmp(sb->ip, key, 16) == 0)
    s = sb;
  if (s == NULL) {
    /* a free slot, an idle (full) one, else the least recently used */
    yz__rl_slot *pick = NULL;
    yz__rl_slot *cand[2] = {sa, sb};
    for (int i = 0; i < 2 && pick == NULL; i++) {
      if (!cand[i]->used) {
        pick = cand[i];
      } else {
        refill(rl, cand[i], now_ms);
        if (cand[i]->milli_tokens >= (uint64_t)rl->burst * 1000u)
          pick = cand[i];
      }
    }
    if (pick == NULL)
      pick = sa->last_ms <= sb->last_ms ? sa : sb;
    memcpy(pick->ip, key, 16);
    pick->used = true;
    pick->last_ms = now_ms;
    pick->milli_tokens = (uint64_t)rl->burst * 1000u;
    s = pick;
  }
  refill(rl, s, now_ms);
  if (s->milli_tokens < 1000u)
    return false;
  s->milli_tokens -= 1000u;
  return true;
}
