/*
 * srccount.c: the per-source link counts (srccount.h).
 */
#include "link/srccount.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "yz/common.h"

int yz__srccount_init(yz__srccount *t, uint32_t max) {
  memset(t, 0, sizeof *t);
  if (max == 0)
    max = 1;
  if (max > (1u << 24))
    max = 1u << 24;
  uint32_t cap = 16;
  while (cap < 2 * max)
    cap <<= 1;
  /* The slots come with the first source (yz__srccount_get): a manager
   * sized for thousands of links would otherwise reserve megabytes that
   * the in-memory network, whose links have no source, never uses
   * (docs/simulator.md "Memory per link"). */
  t->cap = cap;
  t->max = max;
  randombytes_buf(t->hkey, sizeof t->hkey);
  return 0;
}

void yz__srccount_clear(yz__srccount *t) {
  free(t->e);
  memset(t, 0, sizeof *t);
}

static void key_of(uint8_t key[16], const uint8_t *ip, size_t ip_len) {
  memset(key, 0, 16);
  memcpy(key, ip, ip_len);
  key[15] ^= (uint8_t)ip_len; /* an IPv4 address never equals an IPv6 /64 */
}

static uint32_t home(const yz__srccount *t, const uint8_t key[16]) {
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, key, 16, t->hkey);
  uint32_t v;
  memcpy(&v, h, sizeof v);
  return v & (t->cap - 1);
}

/* The slot of key, or of the free slot where it would go. */
static uint32_t probe(const yz__srccount *t, const uint8_t key[16]) {
  uint32_t i = home(t, key);
  while (t->e[i].used && memcmp(t->e[i].key, key, 16) != 0)
    i = (i + 1) & (t->cap - 1);
  return i;
}

/* The slot of source ip (its entry, or the free slot where it would go),
 * its key in key; NULL for an ip no source has. */
static yz__src_ent *slot_of(const yz__srccount *t, const uint8_t *ip,
                            size_t ip_len, uint8_t key[16]) {
  if (t->e == NULL || ip_len == 0 || ip_len > 16)
    return NULL;
  key_of(key, ip, ip_len);
  return &t->e[probe(t, key)];
}

yz__src_ent *yz__srccount_find(const yz__srccount *t, const uint8_t *ip,
                               size_t ip_len) {
  uint8_t key[16];
  yz__src_ent *e = slot_of(t, ip, ip_len, key);
  return e != NULL && e->used ? e : NULL;
}

yz__src_ent *yz__srccount_get(yz__srccount *t, const uint8_t *ip,
                              size_t ip_len) {
  uint8_t key[16];
  if (t->e == NULL && ip_len > 0 && ip_len <= 16 && t->cap > 0 &&
      (t->e = calloc(t->cap, sizeof *t->e)) == NULL)
    return NULL; /* out of memory: refused like a source over its share */
  yz__src_ent *e = slot_of(t, ip, ip_len, key);
  if (e == NULL || e->used)
    return e;
  if (t->n >= t->max) /* at most half full: probing stays short */
    return NULL;
  memcpy(e->key, key, 16);
  e->links = e->hs = 0;
  e->used = true;
  t->n++;
  return e;
}

void yz__srccount_release(yz__srccount *t, yz__src_ent *e) {
  if (e == NULL || !e->used || e->links != 0 || e->hs != 0)
    return;
  /* Backward shift (Knuth 6.4, algorithm R): move later entries of the
   * run into the hole when their home slot does not lie cyclically in
   * (hole, j], so that every entry stays reachable from its home. */
  uint32_t mask = t->cap - 1;
  uint32_t i = (uint32_t)(e - t->e);
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!t->e[j].used)
      break;
    uint32_t h = home(t, t->e[j].key);
    bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (stays)
      continue;
    t->e[i] = t->e[j];
    i = j;
  }
  memset(&t->e[i], 0, sizeof t->e[i]);
  t->n--;
}
