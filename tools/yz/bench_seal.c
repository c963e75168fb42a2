/*
 * yz bench seal: sealed values and encrypted topics (docs/benchmarks.md,
 * area `seal`).
 *
 *   seal.xchacha_seal_1k_per_s   raw XChaCha20-Poly1305 IETF encryption of
 *                                1 KiB with a fresh random nonce (the
 *                                baseline of the two below);
 *   seal.private_seal_1k_per_s   yz_seal_private() of 1 KiB (header, nonce,
 *                                AD of key and seq);
 *   seal.topic_seal_1k_per_s     yz_seal_topic_seal() of 1 KiB;
 *   seal.xchacha_open_1k_per_s   raw decryption of the same, baseline of:
 *   seal.private_open_1k_per_s   yz_seal_open() of a private value;
 *   seal.topic_open_1k_per_s     yz_seal_topic_open();
 *   seal.plain_put_ms, seal.plain_get_ms    the median latency of a put
 *                                and a get of a signed mutable record with
 *                                a 1 KiB value from a client node of this
 *                                process across NODES yz-node processes on
 *                                loopback (spawned here);
 *   seal.sealed_put_ms, seal.sealed_get_ms  the same with yz_seal_put /
 *                                yz_seal_get of a private value of 1 KiB
 *                                (sealing, signing, opening included),
 *                                against the plain figures: the ratio is
 *                                the overhead (target <= 1.05). Plain and
 *                                sealed operations alternate, so drift of
 *                                the machine falls on both.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "bench.h"
#include "bench_procs.h"
#include "cli.h"
#include "yz/dht.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/seal.h"

enum {
  NODES = 10,   /* yz-node processes */
  SAMPLES = 41, /* operations timed per figure (odd: a true median) */
  QUICK_SAMPLES = 5,
  LEN = 1024, /* plaintext bytes */
  GUARD_MS = 120000,
};

/* ---- seal and open rates against raw XChaCha20-Poly1305 ----------------- */

struct rctx {
  yz_seal_user u;
  yz_seal_keyring kr;
  uint8_t key[32], pt[LEN], buf[LEN + 256], out[LEN + 256];
  size_t len;
  yz_dhtrec rec;
  uint8_t tv[LEN + 256];
  size_t tlen;
  int err;
};

static void raw_seal(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++) {
    uint8_t *nonce = c->buf;
    randombytes_buf(nonce, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->buf + 24, NULL, c->pt, LEN,
                                               c->key, 32, NULL, nonce,
                                               c->u.value_key);
  }
  yz_bench_sink(c->buf, 40);
}

static void raw_open(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            c->out, NULL, NULL, c->buf + 24, LEN + 16, c->key, 32, c->buf,
            c->u.value_key) != 0)
      c->err = 1;
  yz_bench_sink(c->out, 16);
}

static void private_seal(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  size_t n;
  for (unsigned long i = 0; i < iters; i++)
    if (yz_seal_private(&c->u, c->key, 7, c->pt, LEN, c->out, sizeof c->out,
                        &n) != 0)
      c->err = 1;
  yz_bench_sink(c->out, 40);
}

static void private_open(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  yz_seal_opened o;
  for (unsigned long i = 0; i < iters; i++)
    if (yz_seal_open(&c->u, &c->rec, c->out, sizeof c->out, &o) != 0)
      c->err = 1;
  yz_bench_sink(c->out, 16);
}

static void topic_seal(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  size_t n;
  uint64_t ep;
  for (unsigned long i = 0; i < iters; i++)
    if (yz_seal_topic_seal(&c->kr, c->u.ed_pk, c->pt, LEN, c->out,
                           sizeof c->out, &n, &ep) != 0)
      c->err = 1;
  yz_bench_sink(c->out, 40);
}

static void topic_open(void *ctx, unsigned long iters)
{
  struct rctx *c = ctx;
  size_t n;
  for (unsigned long i = 0; i < iters; i++)
    if (yz_seal_topic_open(&c->kr, c->u.ed_pk, 1, c->tv, c->tlen, 0, c->out,
                           sizeof c->out, &n) != 0)
      c->err = 1;
  yz_bench_sink(c->out, 16);
}

static int bench_rates(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  static struct rctx c;
  memset(&c, 0, sizeof c);
  yz_identity id;
  if (yz_identity_generate(&id) != 0 || yz_seal_user_init(&c.u, &id) != 0)
    return yz_cli_error("seal: no user key");
  yz_identity_clear(&id);
  randombytes_buf(c.key, sizeof c.key);
  randombytes_buf(c.pt, sizeof c.pt);
  /* the raw ciphertext to open, and a private value as a record */
  raw_seal(&c, 1);
  static uint8_t v[LEN + 256];
  size_t vlen;
  if (yz_seal_private(&c.u, c.key, 7, c.pt, LEN, v, sizeof v, &vlen) != 0)
    return yz_cli_error("seal: cannot seal");
  c.rec.kind = YZ_DHTREC_MUTABLE;
  memcpy(c.rec.key, c.key, 32);
  memcpy(c.rec.public_key, c.u.ed_pk, 32);
  c.rec.seq = 7;
  c.rec.value = v;
  c.rec.value_len = vlen;
  uint8_t topic[32];
  randombytes_buf(topic, sizeof topic);
  yz_seal_keyring_init(&c.kr, topic, c.u.ed_pk, 600000);
  c.kr.n = 1;
  c.kr.e[0].epoch = 1;
  randombytes_buf(c.kr.e[0].key, 32);
  uint64_t ep;
  if (yz_seal_topic_seal(&c.kr, c.u.ed_pk, c.pt, LEN, c.tv, sizeof c.tv,
                         &c.tlen, &ep) != 0)
    return yz_cli_error("seal: cannot seal a topic message");
  double t = opts->seconds / 8, base, cand, cand2;
  yz_bench_compare(raw_seal, &c, private_seal, &c, t, &base, &cand);
  yz_bench_compare(raw_seal, &c, topic_seal, &c, t, &base, &cand2);
  yz_bench_emit(e, "seal.xchacha_seal_1k_per_s", base, "/s", NULL, 0);
  yz_bench_emit(e, "seal.private_seal_1k_per_s", cand, "/s",
                "seal.xchacha_seal_1k_per_s", base);
  yz_bench_emit(e, "seal.topic_seal_1k_per_s", cand2, "/s",
                "seal.xchacha_seal_1k_per_s", base);
  yz_bench_compare(raw_open, &c, private_open, &c, t, &base, &cand);
  yz_bench_compare(raw_open, &c, topic_open, &c, t, &base, &cand2);
  yz_bench_emit(e, "seal.xchacha_open_1k_per_s", base, "/s", NULL, 0);
  yz_bench_emit(e, "seal.private_open_1k_per_s", cand, "/s",
                "seal.xchacha_open_1k_per_s", base);
  yz_bench_emit(e, "seal.topic_open_1k_per_s", cand2, "/s",
                "seal.xchacha_open_1k_per_s", base);
  int err = c.err;
  yz_seal_user_clear(&c.u);
  yz_seal_keyring_clear(&c.kr);
  return err ? yz_cli_error("seal: a seal or open failed") : 0;
}

/* ---- plain and sealed put/get across yz-node processes (the harness of
 * bench_dht.c) ------------------------------------------------------ */

struct pbench {
  yz_bench_procs set; /* the processes, the loop, the guard, the client */
  bool op_done;
  int op_status;
  unsigned stored;
  double ms[4][SAMPLES];
};

static bool run_until(struct pbench *b, bool (*cond)(void *))
{
  return yz_bench_procs_run_until(&b->set, cond, b);
}

static bool op_done(void *arg)
{
  return ((struct pbench *)arg)->op_done;
}
static void on_op(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct pbench *b = arg;
  b->op_done = true;
  b->op_status = r->status;
  b->stored = r->stored;
}

static void begin(struct pbench *b)
{
  b->op_done = false;
  b->op_status = 0;
  yz_bench_procs_begin(&b->set);
}
static double elapsed_ms(const struct pbench *b)
{
  return yz_bench_procs_elapsed_ms(&b->set);
}

static void on_sealed(const yz_seal_result *r, void *arg)
{
  struct pbench *b = arg;
  b->op_done = true;
  b->op_status = r->status;
  b->stored = r->dht ? r->dht->stored : 0;
}

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  static struct pbench b;
  memset(&b, 0, sizeof b);
  int samples = opts->quick ? QUICK_SAMPLES : SAMPLES;
  static yz_seal_user u;
  static yz_identity id;
  yz_bench_procs_init(&b.set, NODES, "dht: joined:", GUARD_MS);
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_ERR);
  int rc = yz_bench_procs_start(&b.set, "seal");
  if (rc != 0)
    goto stop;
  /* The client node, as `yz put` runs it; the user key, a key of its own
   * (a plain record is signed with it too: the same signature cost). */
  if (yz_identity_generate(&id) != 0 || yz_seal_user_init(&u, &id) != 0) {
    rc = yz_cli_error("seal: no identity");
    goto stop;
  }
  rc = yz_bench_procs_client(&b.set, "seal");
  if (rc != 0)
    goto stop;
  /* Warm up: a few lookups link the client to its neighbourhood. */
  for (int w = 0; w < 3; w++) {
    yz_node_id target;
    randombytes_buf(target.bytes, sizeof target.bytes);
    begin(&b);
    if (yz_dht_find_node(b.set.dht, &target, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done)) {
      rc = yz_cli_error("seal: warm-up lookup failed");
      goto stop;
    }
  }
  uint64_t expiry = (uint64_t)time(NULL) + 600;
  static uint8_t pkeys[SAMPLES][32], skeys[SAMPLES][32];
  static uint8_t rec[4096];
  uint8_t value[LEN];
  /* puts: plain, sealed, plain, sealed ... */
  for (int s = 0; s < samples; s++) {
    char name[32];
    snprintf(name, sizeof name, "bench-%d-%u", s,
             (unsigned)randombytes_random());
    randombytes_buf(value, sizeof value);
    yz_dhtrec r;
    memset(&r, 0, sizeof r);
    r.kind = YZ_DHTREC_MUTABLE;
    r.salt_len = (uint8_t)strlen(name);
    memcpy(r.salt, name, r.salt_len);
    r.seq = 1;
    r.expiry = expiry;
    r.value = value;
    r.value_len = sizeof value;
    size_t len = 0;
    begin(&b);
    if (yz_dhtrec_sign_raw(&r, u.ed_sk, NULL) != 0 ||
        yz_dhtrec_encode(&r, rec, sizeof rec, &len) != 0 ||
        yz_dht_put(b.set.dht, rec, len, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0 || b.stored == 0) {
      rc =
          yz_cli_error("seal: plain put failed: %s", yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[0][s] = elapsed_ms(&b);
    memcpy(pkeys[s], r.key, 32);
    begin(&b);
    if (yz_seal_put(b.set.dht, &u, (const uint8_t *)name, strlen(name), NULL,
                    0, value, sizeof value, 1, expiry, on_sealed, &b) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("seal: sealed put failed: %s",
                        yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[1][s] = elapsed_ms(&b);
    if (yz_seal_name_key(&u, (const uint8_t *)name, strlen(name), skeys[s]) !=
        0) {
      rc = yz_cli_error("seal: no key");
      goto stop;
    }
  }
  for (int s = 0; s < samples; s++) {
    begin(&b);
    if (yz_dht_get(b.set.dht, pkeys[s], NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc =
          yz_cli_error("seal: plain get failed: %s", yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[2][s] = elapsed_ms(&b);
    begin(&b);
    if (yz_seal_get(b.set.dht, &u, skeys[s], on_sealed, &b) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("seal: sealed get failed: %s",
                        yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[3][s] = elapsed_ms(&b);
  }
  double pput = yz_bench_median(b.ms[0], samples),
         sput = yz_bench_median(b.ms[1], samples);
  double pget = yz_bench_median(b.ms[2], samples),
         sget = yz_bench_median(b.ms[3], samples);
  yz_bench_emit(e, "seal.plain_put_ms", pput, "ms", NULL, 0);
  yz_bench_emit(e, "seal.sealed_put_ms", sput, "ms", "seal.plain_put_ms",
                pput);
  yz_bench_emit(e, "seal.plain_get_ms", pget, "ms", NULL, 0);
  yz_bench_emit(e, "seal.sealed_get_ms", sget, "ms", "seal.plain_get_ms",
                pget);

stop:
  yz_seal_user_clear(&u);
  yz_identity_clear(&id);
  yz_bench_procs_stop(&b.set);
  yz_log_set_level(saved);
  return rc;
}

int yz_bench_seal(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  int rc = bench_rates(opts, e);
  if (rc == 0)
    rc = bench_processes(opts, e);
  return rc;
}
