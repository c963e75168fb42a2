/*
 * Redial backoff: exponential, capped, with jitter, sans-I/O (the random
 * input is passed in, so tests are exact).
 *
 * Attempt k (from 0) waits a delay drawn uniformly from [b/2, b] where
 * b = min(max_ms, initial_ms * 2^k): "equal jitter". The lower half keeps
 * the growth (a node that keeps failing is not hammered), the random half
 * spreads nodes that lost the same peer at the same moment, so they do not
 * all redial in lockstep when it comes back.
 */
#ifndef YZ_NODE_BACKOFF_H
#define YZ_NODE_BACKOFF_H

#include <stdint.h>

typedef struct yz__backoff {
  uint32_t initial_ms;
  uint32_t max_ms;
  uint32_t attempt;
} yz__backoff;

void yz__backoff_init(yz__backoff *b, uint32_t initial_ms, uint32_t max_ms);

/* The delay before the next attempt, given 32 random bits; advances. */
uint32_t yz__backoff_next(yz__backoff *b, uint32_t random);

/* After a link that came up: start again from initial_ms. */
void yz__backoff_reset(yz__backoff *b);

#endif
