/*
 * The benchmark framework of `yz bench <area>`.
 *
 * An area (noise, session, link, ...) is one function in its own file
 * (bench_<area>.c) and one line in bench_areas.h. It measures a baseline
 * and yz in the same run (the link area with a peer process of its own),
 * and reports each figure through the emitter
 * as a value with the baseline it is compared to, so the ratio, not the
 * machine, is what matters.
 *
 * Output, one line per figure:
 *   readable: "noise.xx_handshakes_per_s     3412.0 /s  (0.95 of ...)"
 *   --json:   {"figure": ..., "value": ..., "unit": ..., "baseline": ...,
 *              "baseline_value": ..., "ratio": ...}
 * Figure names are stable identifiers listed in docs/benchmarks.md.
 *
 * Timing resists a shared, noisy machine: rounds are timed in CPU time of
 * the measuring thread (time spent descheduled does not count), and
 * yz_bench_compare() alternates short rounds of the baseline and of yz and
 * keeps each one's best round.
 */
#ifndef YZ_TOOLS_BENCH_H
#define YZ_TOOLS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Options common to every area. */
typedef struct yz_bench_opts {
  double seconds; /* time budget of the whole area (approximate) */
  bool json;      /* one JSON object per line instead of readable lines */
  bool quick;     /* a check of the output form: skip the long runs (the
                     link area's 1,000/5,000/10,000-link figures) */
} yz_bench_opts;

/* Where figures go. */
typedef struct yz_bench_emitter {
  FILE *out;
  bool json;
  unsigned count; /* figures emitted so far */
} yz_bench_emitter;

/*
 * Emit one figure. baseline names what it is compared to (a figure name or
 * a short description such as "libsodium.chacha20poly1305_1k_mb_per_s");
 * NULL when the figure is itself a baseline, in which case baseline_value
 * is ignored and the ratio is 1. ratio = value / baseline_value.
 */
void yz_bench_emit(yz_bench_emitter *e, const char *figure, double value,
                   const char *unit, const char *baseline,
                   double baseline_value);

/* A unit of work: run it `iters` times. ctx is the caller's. */
typedef void (*yz_bench_fn)(void *ctx, unsigned long iters);

/* Seconds on the monotonic clock. */
double yz_bench_now(void);

/* CPU seconds of the calling thread (the monotonic clock if unavailable):
 * what rounds are timed with. */
double yz_bench_cpu_now(void);

/*
 * Operations per CPU second of fn within a budget of `seconds`: calibrate
 * a batch that fills one round, run several rounds, return the best rate.
 */
double yz_bench_rate(yz_bench_fn fn, void *ctx, double seconds);

/*
 * Measure a baseline and a candidate fairly: calibrate both, then alternate
 * rounds (baseline, candidate, baseline, ...) within the budget `seconds`
 * and keep the best rate of each (the least disturbed round). Results in
 * *base and *cand, in operations per second.
 */
void yz_bench_compare(yz_bench_fn base_fn, void *base_ctx,
                      yz_bench_fn cand_fn, void *cand_ctx, double seconds,
                      double *base, double *cand);

/* An area: runs its measurements and emits figures. 0 on success, or a
 * yz exit code (cli.h) after printing an error. */
typedef int (*yz_bench_area_fn)(const yz_bench_opts *opts,
                                yz_bench_emitter *e);

#define YZ_BENCH_AREA(name, fn, summary) int fn(const yz_bench_opts *opts, \
                                                yz_bench_emitter *e);
#include "bench_areas.h"
#undef YZ_BENCH_AREA

/* Keep the compiler from optimising a result away. */
void yz_bench_sink(const void *p, size_t n);

/*
 * Raw libsodium baselines shared by the areas.
 *
 * yz_bench_dh: X25519 work on a key pair of its own. Each iteration
 * feeds its output back into the private key, so that no call can be
 * hoisted or dropped.
 */
typedef struct yz_bench_dh {
  unsigned char sk[32], pk[32], out[32];
} yz_bench_dh;

/* A fresh random key pair. */
void yz_bench_dh_init(yz_bench_dh *c);
/* `iters` times crypto_scalarmult (one DH); ctx is a yz_bench_dh. */
void yz_bench_dh_fn(void *ctx, unsigned long iters);
/* `iters` times crypto_scalarmult_base (one key generation). */
void yz_bench_keygen_fn(void *ctx, unsigned long iters);
/* `keygens` key generations then `dhs` DHs, on c (one unit of a bound). */
void yz_bench_dh_work(yz_bench_dh *c, int keygens, int dhs);

/*
 * yz_bench_aead: ChaCha20-Poly1305 IETF encrypt then decrypt of `len`
 * bytes with empty associated data and Noise's nonce layout (32 zero
 * bits, then the 64-bit counter n, little-endian): the transport baseline.
 * pt, ct and out hold at least len + 16 bytes; err is set if a decryption
 * fails.
 */
typedef struct yz_bench_aead {
  size_t len;
  unsigned char key[32];
  unsigned long long n;
  unsigned char *pt, *ct, *out;
  int err;
} yz_bench_aead;

/* Allocate pt, ct and out of `cap` bytes each (random key and
 * plaintext). 0, or -1 when out of memory (then everything is freed). */
int yz_bench_aead_init(yz_bench_aead *c, size_t cap);
/* Wipe the key and free the buffers; safe on a zeroed or failed one. */
void yz_bench_aead_clear(yz_bench_aead *c);
/* `iters` encrypt+decrypt round trips; ctx is a yz_bench_aead. */
void yz_bench_aead_fn(void *ctx, unsigned long iters);

#endif
