/*
 * wire/cbor_write.h: the writer of CBOR heads and strings that the codecs
 * without libcbor share (the DHT messages, DHT records, PubSub RPCs), the
 * twin of wire/cbor_read.h. Every head takes its shortest form, so the
 * output is the deterministic encoding the vectors fix (RFC 8949 4.2.1;
 * docs/protocol.md "Encoding"). Internal.
 */
#ifndef YZ_WIRE_CBOR_WRITE_H
#define YZ_WIRE_CBOR_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* CBOR major types (RFC 8949 3.1). */
enum {
  YZ__CBOR_UINT = 0,
  YZ__CBOR_BSTR = 2,
  YZ__CBOR_TSTR = 3,
  YZ__CBOR_ARRAY = 4,
  YZ__CBOR_MAP = 5,
  YZ__CBOR_SIMPLE = 7,
  YZ__CBOR_HEAD_MAX = 9, /* the longest head: 1 + 8 bytes */
};

/* A bounded writer into p[0..cap). Once something does not fit, over is
 * set and nothing more is written, but n goes on counting what the whole
 * output needs (saturating), so a writer with p NULL measures. */
struct wbuf {
  uint8_t *p;
  size_t cap, n;
  bool over;
};

/* The encoded size of a head with argument v. */
static inline size_t cbor_head_len(uint64_t v)
{
  return v < 24             ? 1
         : v <= 0xff        ? 2
         : v <= 0xffff      ? 3
         : v <= 0xffffffffu ? 5
                            : 9;
}

static inline void put_raw(struct wbuf *w, const void *b, size_t n)
{
  if (!w->over && w->p != NULL && w->cap - w->n >= n) {
    if (n)
      memcpy(w->p + w->n, b, n);
  } else {
    w->over = true;
  }
  w->n = n > SIZE_MAX - w->n ? SIZE_MAX : w->n + n;
}

/* A head of the shortest form (RFC 8949 4.2.1): major type, argument. */
static inline void put_head(struct wbuf *w, unsigned major, uint64_t v)
{
  uint8_t h[YZ__CBOR_HEAD_MAX];
  size_t hl = cbor_head_len(v);
  uint8_t mt = (uint8_t)(major << 5);
  if (hl == 1) {
    h[0] = (uint8_t)(mt | v);
  } else {
    /* additional information 24..27: 1, 2, 4 or 8 bytes follow */
    static const uint8_t ai[] = {0, 0, 24, 25, 0, 26, 0, 0, 0, 27};
    h[0] = (uint8_t)(mt | ai[hl]);
    for (size_t i = 1; i < hl; i++)
      h[i] = (uint8_t)(v >> (8 * (hl - 1 - i)));
  }
  put_raw(w, h, hl);
}

/* A definite byte (major 2) or text (major 3) string. */
static inline void put_string(struct wbuf *w, unsigned major, const void *b,
                              size_t n)
{
  put_head(w, major, n);
  put_raw(w, b, n);
}

static inline void put_bstr(struct wbuf *w, const void *b, size_t n)
{
  put_string(w, YZ__CBOR_BSTR, b, n);
}

#endif /* YZ_WIRE_CBOR_WRITE_H */
