/*
 * srccount.h: the inbound links and handshakes of each source, for the
 * per-source caps (max_links_per_source, max_handshakes_per_source;
 * docs/operations.md "Limits"), so that admitting a connection costs O(1)
 * instead of a walk over every link.
 *
 * A fixed table, allocated when the first source is counted (never, for
 * links without a source): open addressing with linear
 * probing, keyed SipHash (crypto_shorthash, so an attacker cannot aim its
 * sources at one run of slots), deletion by backward shift (no
 * tombstones). It holds at most `max` sources, each with at least one
 * counted link; a source whose counts drop to 0 leaves. The manager sizes
 * it for every inbound link and handshake it can hold, so it is never
 * full in practice; if it is, a new source is refused like one over its
 * share.
 */
#ifndef YZ_LINK_SRCCOUNT_H
#define YZ_LINK_SRCCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct yz__src_ent {
  uint8_t key[16]; /* the source (ip as in yz__link_src), length folded in */
  uint32_t links;  /* inbound links not down, handshakes included */
  uint32_t hs;     /* of which still in their handshake */
  bool used;
} yz__src_ent;

typedef struct yz__srccount {
  yz__src_ent *e;
  uint32_t cap; /* a power of two, at least 2 * max */
  uint32_t n, max;
  uint8_t hkey[16]; /* crypto_shorthash key */
} yz__srccount;

/* A table for up to max sources (its slots allocated by the first
 * yz__srccount_get()). 0. */
int yz__srccount_init(yz__srccount *t, uint32_t max);
void yz__srccount_clear(yz__srccount *t);

/* The entry of source ip (ip_len 1..16), or NULL if it has none. */
yz__src_ent *yz__srccount_find(const yz__srccount *t, const uint8_t *ip,
                               size_t ip_len);

/* The entry of source ip, added with zero counts if new; NULL when the
 * table holds max sources already (or ip_len is 0 or over 16, or the
 * slots cannot be allocated). */
yz__src_ent *yz__srccount_get(yz__srccount *t, const uint8_t *ip,
                              size_t ip_len);

/* Remove e if both its counts are 0 (e from find/get; invalid after). */
void yz__srccount_release(yz__srccount *t, yz__src_ent *e);

#endif
