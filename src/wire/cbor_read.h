/*
 * wire/cbor_read.h: a reader of CBOR heads over input that yz_wire_check()
 * has already accepted (src/wire/check.c): every head is well-formed and
 * minimal and every length fits, so the decoders built on it (the DHT
 * messages, PubSub RPCs) need no libcbor and allocate nothing. Internal.
 */
#ifndef YZ_WIRE_CBOR_READ_H
#define YZ_WIRE_CBOR_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rbuf {
  const uint8_t *p;
  size_t len, off;
};

/* The next head: its major type and argument (a length, count or value).
 * false past the end or on an indefinite length, which the check refused
 * before. */
static inline bool get_head(struct rbuf *r, unsigned *major, uint64_t *arg)
{
  if (r->off >= r->len)
    return false;
  uint8_t ib = r->p[r->off++];
  *major = ib >> 5;
  unsigned ai = ib & 0x1f;
  if (ai < 24) {
    *arg = ai;
    return true;
  }
  if (ai > 27)
    return false;
  size_t w = (size_t)1 << (ai - 24);
  if (r->len - r->off < w)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++)
    v = (v << 8) | r->p[r->off + i];
  r->off += w;
  *arg = v;
  return true;
}

#endif /* YZ_WIRE_CBOR_READ_H */
