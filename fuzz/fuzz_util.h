/*
 * Helpers shared by the fuzz harnesses: a reader that consumes the fuzzer's
 * input as a sequence of typed fields, and the fixed keys every harness uses
 * (a fuzzer needs determinism: the same input must take the same path).
 */
#ifndef YZ_FUZZ_UTIL_H
#define YZ_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Harness invariant checks: abort (a crash the fuzzer reports) when the code
 * under test breaks a documented promise. Never compiled out. */
#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond))                                                              \
      fuzz_fail(__FILE__, __LINE__, #cond);                                   \
  } while (0)

#include <stdio.h>
static inline void fuzz_fail(const char *file, int line, const char *what)
{
  fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  abort();
}

typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
  if (in->n == 0)
    return 0;
  uint8_t v = in->p[0];
  in->p++;
  in->n--;
  return v;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
  uint16_t hi = fuzz_u8(in);
  return (uint16_t)((hi << 8) | fuzz_u8(in));
}

static inline uint64_t fuzz_u64(fuzz_in *in)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | fuzz_u8(in);
  return v;
}

/* The next chunk: a 16-bit big-endian length, then that many bytes (fewer if
 * the input ends). Returns false when the input is exhausted. */
static inline bool fuzz_chunk(fuzz_in *in, const uint8_t **p, size_t *n)
{
  if (in->n == 0)
    return false;
  size_t len = fuzz_u16(in);
  if (len > in->n)
    len = in->n;
  *p = in->p;
  *n = len;
  in->p += len;
  in->n -= len;
  return true;
}

/* A fixed 32-byte key derived from a label byte (not secret: fuzzing). */
static inline void fuzz_key(uint8_t out[32], uint8_t label)
{
  for (int i = 0; i < 32; i++)
    out[i] = (uint8_t)(label * 31u + (unsigned)i * 7u + 1u);
}

#endif
