/*
 * The benchmark framework: timing loops and the output form (bench.h).
 */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

double yz_bench_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double yz_bench_cpu_now(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return yz_bench_now();
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Written through a volatile, so the compiler keeps what feeds it (at file
 * scope: clang counts a function-local one as set but unused). */
static volatile unsigned char sink_acc;

void yz_bench_sink(const void *p, size_t n)
{
  const unsigned char *b = p;
  if (n > 0)
    sink_acc ^= b[0] ^ b[n - 1];
}

/*
 * Rounds: each figure keeps its best round. Many short rounds give more
 * chances of an undisturbed one than a few long ones, so a round lasts
 * ROUND_S (more if the budget allows no more than MAX_ROUNDS), and there
 * are at least MIN_ROUNDS.
 */
#define ROUND_S 0.01
enum { MIN_ROUNDS = 3, MAX_ROUNDS = 200 };

static int rounds_for(double seconds, int sides, double *per_round)
{
  int n = (int)(seconds / (sides * ROUND_S)) - 1;
  if (n < MIN_ROUNDS)
    n = MIN_ROUNDS;
  if (n > MAX_ROUNDS)
    n = MAX_ROUNDS;
  *per_round = seconds / (sides * (n + 1));
  return n;
}

/* Smallest batch lasting at least `target` seconds (at least 1 iteration),
 * found by doubling; *rate gets that batch's rate. */
static unsigned long calibrate(yz_bench_fn fn, void *ctx, double target,
                               double *rate)
{
  unsigned long iters = 1;
  for (;;) {
    double t0 = yz_bench_cpu_now();
    fn(ctx, iters);
    double dt = yz_bench_cpu_now() - t0;
    if (dt >= target || iters >= (1ul << 40)) {
      *rate = dt > 0 ? (double)iters / dt : 0;
      return iters;
    }
    /* Aim straight for the target once the timer is meaningful. */
    if (dt > 1e-4) {
      double want = (double)iters * target / dt * 1.05;
      unsigned long next = (unsigned long)want;
      iters = next > iters ? next : iters * 2;
    } else {
      iters *= 2;
    }
  }
}

static double round_rate(yz_bench_fn fn, void *ctx, unsigned long iters)
{
  double t0 = yz_bench_cpu_now();
  fn(ctx, iters);
  double dt = yz_bench_cpu_now() - t0;
  return dt > 0 ? (double)iters / dt : 0;
}

double yz_bench_rate(yz_bench_fn fn, void *ctx, double seconds)
{
  double per_round, best;
  int rounds = rounds_for(seconds, 1, &per_round);
  unsigned long iters = calibrate(fn, ctx, per_round, &best);
  for (int r = 0; r < rounds; r++) {
    double rate = round_rate(fn, ctx, iters);
    if (rate > best)
      best = rate;
  }
  return best;
}

void yz_bench_compare(yz_bench_fn base_fn, void *base_ctx,
                      yz_bench_fn cand_fn, void *cand_ctx, double seconds,
                      double *base, double *cand)
{
  double per_round, b, c;
  int rounds = rounds_for(seconds, 2, &per_round);
  unsigned long bi = calibrate(base_fn, base_ctx, per_round, &b);
  unsigned long ci = calibrate(cand_fn, cand_ctx, per_round, &c);
  /* Alternate, so that a slow spell of the machine hits both sides. */
  for (int r = 0; r < rounds; r++) {
    double x = round_rate(base_fn, base_ctx, bi);
    double y = round_rate(cand_fn, cand_ctx, ci);
    if (x > b)
      b = x;
    if (y > c)
      c = y;
  }
  *base = b;
  *cand = c;
}

/* Figure names and units are identifiers; escape anyway, for safety. */
static void json_string(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

/* JSON has no NaN or infinity. */
static void json_number(FILE *f, double v)
{
  if (!isfinite(v))
    fputs("null", f);
  else
    fprintf(f, "%.4f", v);
}

void yz_bench_emit(yz_bench_emitter *e, const char *figure, double value,
                   const char *unit, const char *baseline,
                   double baseline_value)
{
  double ratio = 1.0;
  if (baseline == NULL)
    baseline_value = value;
  else
    ratio = baseline_value > 0 ? value / baseline_value : NAN;
  e->count++;
  if (e->json) {
    fputs("{\"figure\": ", e->out);
    json_string(e->out, figure);
    fputs(", \"value\": ", e->out);
    json_number(e->out, value);
    fputs(", \"unit\": ", e->out);
    json_string(e->out, unit);
    fputs(", \"baseline\": ", e->out);
    if (baseline == NULL)
      fputs("null", e->out);
    else
      json_string(e->out, baseline);
    fputs(", \"baseline_value\": ", e->out);
    json_number(e->out, baseline_value);
    fputs(", \"ratio\": ", e->out);
    json_number(e->out, ratio);
    fputs("}\n", e->out);
  } else if (baseline == NULL) {
    fprintf(e->out, "%-34s %12.1f %-5s (baseline)\n", figure, value, unit);
  } else {
    fprintf(e->out, "%-34s %12.1f %-5s %5.3f of %s (%.1f)\n", figure, value,
            unit, ratio, baseline, baseline_value);
  }
  fflush(e->out);
}

/* ---- raw libsodium baselines ------------------------------------------- */

void yz_bench_dh_init(yz_bench_dh *c)
{
  memset(c, 0, sizeof *c);
  randombytes_buf(c->sk, sizeof c->sk);
  crypto_scalarmult_base(c->pk, c->sk);
}

void yz_bench_dh_work(yz_bench_dh *c, int keygens, int dhs)
{
  for (int k = 0; k < keygens; k++) {
    crypto_scalarmult_base(c->out, c->sk);
    c->sk[0] ^= c->out[0]; /* a dependency between iterations */
  }
  for (int k = 0; k < dhs; k++) {
    if (crypto_scalarmult(c->out, c->sk, c->pk) != 0)
      abort(); /* cannot happen with a valid public key */
    c->sk[0] ^= c->out[0];
  }
}

void yz_bench_dh_fn(void *ctx, unsigned long iters)
{
  yz_bench_dh *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    yz_bench_dh_work(c, 0, 1);
  yz_bench_sink(c->out, sizeof c->out);
}

void yz_bench_keygen_fn(void *ctx, unsigned long iters)
{
  yz_bench_dh *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    yz_bench_dh_work(c, 1, 0);
  yz_bench_sink(c->out, sizeof c->out);
}

int yz_bench_aead_init(yz_bench_aead *c, size_t cap)
{
  memset(c, 0, sizeof *c);
  c->pt = malloc(cap);
  c->ct = malloc(cap);
  c->out = malloc(cap);
  if (c->pt == NULL || c->ct == NULL || c->out == NULL) {
    yz_bench_aead_clear(c);
    return -1;
  }
  randombytes_buf(c->key, sizeof c->key);
  randombytes_buf(c->pt, cap);
  return 0;
}

void yz_bench_aead_clear(yz_bench_aead *c)
{
  sodium_memzero(c->key, sizeof c->key);
  free(c->pt);
  free(c->ct);
  free(c->out);
  c->pt = c->ct = c->out = NULL;
}

void yz_bench_aead_fn(void *ctx, unsigned long iters)
{
  yz_bench_aead *c = ctx;
  unsigned char nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {0};
  for (unsigned long i = 0; i < iters; i++) {
    /* The nonce layout of Noise's ChaChaPoly: 32 zero bits, then n. */
    unsigned long long n = c->n++;
    for (int k = 0; k < 8; k++)
      nonce[4 + k] = (unsigned char)(n >> (8 * k));
    unsigned long long clen, mlen;
    crypto_aead_chacha20poly1305_ietf_encrypt(c->ct, &clen, c->pt, c->len,
                                              NULL, 0, NULL, nonce, c->key);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(c->out, &mlen, NULL, c->ct,
                                                  clen, NULL, 0, nonce,
                                                  c->key) != 0)
      c->err = 1;
  }
  yz_bench_sink(c->out, c->len);
}
