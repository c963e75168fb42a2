/* Redial backoff (see backoff.h). */
#include "node/backoff.h"

void yz__backoff_init(yz__backoff *b, uint32_t initial_ms, uint32_t max_ms)
{
  if (initial_ms == 0)
    initial_ms = 1;
  if (max_ms < initial_ms)
    max_ms = initial_ms;
  b->initial_ms = initial_ms;
  b->max_ms = max_ms;
  b->attempt = 0;
}

uint32_t yz__backoff_next(yz__backoff *b, uint32_t random)
{
  uint64_t base = b->initial_ms;
  for (uint32_t i = 0; i < b->attempt && base < b->max_ms; i++)
    base *= 2;
  if (base > b->max_ms)
    base = b->max_ms;
  else
    b->attempt++; /* stops growing once capped: no overflow */
  uint64_t half = base / 2;
  uint64_t span = base - half + 1; /* [half, base] inclusive */
  return (uint32_t)(half + (uint64_t)random % span);
}

void yz__backoff_reset(yz__backoff *b) { b->attempt = 0; }
