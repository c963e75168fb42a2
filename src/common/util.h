/*
 * Internal helpers shared across layers (yz__ prefix: not exported).
 */
#ifndef YZ_COMMON_UTIL_H
#define YZ_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "yz/common.h"

#define YZ__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define YZ__MIN(a, b) ((a) < (b) ? (a) : (b))
#define YZ__MAX(a, b) ((a) > (b) ? (a) : (b))

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void yz__hex_encode(char *out, const uint8_t *in, size_t n);

/*
 * Strict hex decoding: exactly 2*n hex digits (either case) into out[n].
 * Returns 0, YZ_E_TRUNCATED / YZ_E_TRAILING on a length mismatch, or
 * YZ_E_MALFORMED on a non-hex character.
 */
int yz__hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen);

/* Same, but accepts any even length up to cap and reports it in *outlen. */
int yz__hex_decode_var(uint8_t *out, size_t cap, size_t *outlen,
                       const char *hex, size_t hexlen);

static inline void yz__store64_le(uint8_t p[8], uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static inline void yz__store64_be(uint8_t p[8], uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[7 - i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t yz__load64_be(const uint8_t p[8])
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static inline void yz__store16_be(uint8_t p[2], uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline uint16_t yz__load16_be(const uint8_t p[2])
{
  return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void yz__store32_be(uint8_t p[4], uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline uint32_t yz__load32_be(const uint8_t p[4])
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

#endif
