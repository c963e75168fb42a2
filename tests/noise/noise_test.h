/*
 * Shared helpers of the noise tests: hex input, and a full conversation
 * between two HandshakeStates in memory.
 */
#ifndef YZ_TESTS_NOISE_TEST_H
#define YZ_TESTS_NOISE_TEST_H

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "noise/noise_internal.h"

/* Decode hex of any even length (asserting it is valid); returns the
 * byte count. */
static inline size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
  size_t n = 0;
  if (yz__hex_decode_var(out, cap, &n, hex, strlen(hex)) != 0)
    abort();
  return n;
}

static inline yz_noise_protocol proto_of(const char *name)
{
  yz_noise_protocol p;
  const char *why = NULL;
  if (yz_noise_protocol_parse(&p, (const uint8_t *)name, strlen(name), &why) !=
      0)
    abort();
  return p;
}

/* Fixed keys, so every test is deterministic. */
static const uint8_t test_key_i[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t test_key_r[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
static const uint8_t test_eph_i[32] = {0x11, 0x22, 0x33};
static const uint8_t test_eph_r[32] = {0x44, 0x55, 0x66};
static const uint8_t test_psk[32] = {0x70, 0x73, 0x6b};

#endif
