/*
 * yz bench dht: the DHT's figures (docs/benchmarks.md, area `dht`).
 *
 *   dht.record_sign_per_s      yz_dhtrec_sign() of a mutable record with a
 *                              100-byte value, against
 *                              dht.ed25519_sign_per_s: one
 *                              crypto_sign_detached() over the same
 *                              signed bytes (the Ed25519 bound: a record
 *                              signature costs a SHA-256 of the value and
 *                              the key derivation on top);
 *   dht.record_verify_per_s    yz_dhtrec_check() of that record under its
 *                              key (key derivation, expiry, signature),
 *                              against dht.ed25519_verify_per_s;
 *   dht.put_ms, dht.get_ms     the median latency of a PUT (lookup of the
 *                              k closest, then the stores) and of a GET
 *                              (latest of a quorum) from a client node of
 *                              this process across NODES real yz-node
 *                              processes on loopback (spawned here), against
 *                              dht.ping_rtt_ms, the median round trip of a
 *                              node ping (docs/protocol.md "Node messages",
 *                              what `yz ping` measures) from the same
 *                              client to the same processes: the ratio is
 *                              the cost of an operation in round trips;
 *   dht.sim_lookups_per_s      reserved: lookups per second in the
 *                              simulator (`yz sim dht`), emitted by the
 *                              simulator's area when it is built (see
 *                              docs/benchmarks.md).
 *
 * The processes: tools/yz-node/yz-node next to this build's yz, or
 * yz-node next to yz when installed, or $YZ_NODE.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

enum {
  NODES = 10,   /* yz-node processes */
  SAMPLES = 41, /* operations timed per figure (odd: a true median) */
  QUICK_SAMPLES = 5,
  VALUE_LEN = 100,
  GUARD_MS = 120000, /* the whole process part */
};

/* ---- record sign and verify against Ed25519 ---------------------------- */

struct signctx {
  yz_identity id;
  yz_dhtrec r;
  uint8_t value[VALUE_LEN];
  uint8_t sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
  uint8_t signed_bytes[YZ_DHTREC_SIGNED_MAX_LEN];
  size_t signed_len;
  uint8_t sig[crypto_sign_BYTES];
  uint64_t now;
  int err;
};

static void raw_sign(void *ctx, unsigned long iters)
{
  struct signctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++) {
    c->signed_bytes[c->signed_len - 1] ^= (uint8_t)i;
    crypto_sign_detached(c->sig, NULL, c->signed_bytes, c->signed_len, c->sk);
  }
  yz_bench_sink(c->sig, sizeof c->sig);
}

static void rec_sign(void *ctx, unsigned long iters)
{
  struct signctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++) {
    c->r.seq++;
    if (yz_dhtrec_sign(&c->r, &c->id, NULL) != 0)
      c->err = 1;
  }
  yz_bench_sink(c->r.signature, sizeof c->r.signature);
}

static void raw_verify(void *ctx, unsigned long iters)
{
  struct signctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    if (crypto_sign_verify_detached(c->sig, c->signed_bytes, c->signed_len,
                                    c->pk) != 0)
      c->err = 1;
}

static void rec_verify(void *ctx, unsigned long iters)
{
  struct signctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    if (yz_dhtrec_check(&c->r, c->r.key, c->now, NULL, NULL) != YZ_DHTREC_OK)
      c->err = 1;
}

static int bench_sign_verify(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  struct signctx c;
  memset(&c, 0, sizeof c);
  if (yz_identity_generate(&c.id) != 0)
    return yz_cli_error("cannot generate an identity");
  randombytes_buf(c.value, sizeof c.value);
  crypto_sign_keypair(c.pk, c.sk);
  c.now = (uint64_t)time(NULL);
  c.r.kind = YZ_DHTREC_MUTABLE;
  c.r.value = c.value;
  c.r.value_len = sizeof c.value;
  c.r.expiry = c.now + 3600;
  memcpy(c.r.salt, "bench", 5);
  c.r.salt_len = 5;
  c.r.seq = 1;
  if (yz_dhtrec_sign(&c.r, &c.id, NULL) != 0 ||
      yz_dhtrec_signed_bytes(&c.r, c.signed_bytes, sizeof c.signed_bytes,
                             &c.signed_len) != 0) {
    yz_identity_clear(&c.id);
    return yz_cli_error("cannot sign a record");
  }
  double budget = opts->seconds / 4;
  double base, cand;
  yz_bench_compare(raw_sign, &c, rec_sign, &c, budget, &base, &cand);
  yz_bench_emit(e, "dht.ed25519_sign_per_s", base, "/s", NULL, 0);
  yz_bench_emit(e, "dht.record_sign_per_s", cand, "/s",
                "dht.ed25519_sign_per_s", base);
  /* Verify the record as signed last, and raw over its own signature. */
  crypto_sign_detached(c.sig, NULL, c.signed_bytes, c.signed_len, c.sk);
  if (yz_dhtrec_check(&c.r, c.r.key, c.now, NULL, NULL) != YZ_DHTREC_OK)
    c.err = 1;
  yz_bench_compare(raw_verify, &c, rec_verify, &c, budget, &base, &cand);
  yz_bench_emit(e, "dht.ed25519_verify_per_s", base, "/s", NULL, 0);
  yz_bench_emit(e, "dht.record_verify_per_s", cand, "/s",
                "dht.ed25519_verify_per_s", base);
  yz_identity_clear(&c.id);
  sodium_memzero(c.sk, sizeof c.sk);
  if (c.err)
    return yz_cli_error("a record failed to sign or verify");
  return 0;
}

/* ---- put and get across yz-node processes ------------------------------ */

struct pbench {
  yz_bench_procs set; /* the processes, the loop, the guard, the client */
  bool op_done;
  int op_status;
  unsigned stored;
  double ms[SAMPLES];
};

static bool run_until(struct pbench *b, bool (*cond)(void *))
{
  return yz_bench_procs_run_until(&b->set, cond, b);
}

static bool op_done(void *arg)
{
  return ((struct pbench *)arg)->op_done;
}
static bool linked_all(void *arg)
{
  return yz_node_peer_count(((struct pbench *)arg)->set.node) >= NODES;
}
static void on_op(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct pbench *b = arg;
  b->op_done = true;
  b->op_status = r->status;
  b->stored = r->stored;
}

static void on_ping(yz_node *n, int status, const yz_node_response *r,
                    void *arg)
{
  (void)n;
  (void)r;
  struct pbench *b = arg;
  b->op_done = true;
  b->op_status = status;
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

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  static struct pbench b;
  memset(&b, 0, sizeof b);
  int samples = opts->quick ? QUICK_SAMPLES : SAMPLES;
  yz_bench_procs_init(&b.set, NODES, "dht: joined:", GUARD_MS);
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_ERR);
  int rc = yz_bench_procs_start(&b.set, "dht");
  if (rc != 0)
    goto stop;

  /* The client: an ephemeral node of this process, as `yz dht` runs. */
  rc = yz_bench_procs_client(&b.set, "dht");
  if (rc != 0)
    goto stop;
  /* Warm up: one lookup links the client to its neighbourhood, as a
   * running client would be; every figure below runs over open links. */
  yz_node_id target;
  randombytes_buf(target.bytes, sizeof target.bytes);
  begin(&b);
  if (yz_dht_find_node(b.set.dht, &target, NULL, on_op, &b, NULL) != 0 ||
      !run_until(&b, op_done)) {
    rc = yz_cli_error("dht: warm-up lookup failed");
    goto stop;
  }

  /* Baseline: a node ping to each process in turn. */
  yz_node_id ids[NODES];
  for (int i = 0; i < NODES; i++) {
    const char *h = strchr(b.set.procs[i].addr, '#');
    if (h == NULL || yz_node_id_parse(&ids[i], (const uint8_t *)h + 1,
                                      strlen(h + 1), NULL) != 0) {
      rc = yz_cli_error("dht: bad address %s", b.set.procs[i].addr);
      goto stop;
    }
  }
  /* Link the client to every process (those the lookup did not reach
   * are dialled, pinned), so each ping runs over an open link. */
  for (int i = 0; i < NODES; i++) {
    /* An error here means linked or being dialled already: the wait below
     * sees the outcome either way. */
    int dial = yz_node_dial(b.set.node, b.set.procs[i].addr, NULL);
    (void)dial;
  }
  if (!run_until(&b, linked_all)) {
    rc = yz_cli_error("dht: the client could not link to every process");
    goto stop;
  }
  /* A ping can meet a link being replaced (a duplicate closed after a
   * dial-back): it is sent again, over the surviving link, a few times at
   * most. */
  int retries = 0;
  for (int s = 0; s < samples; s++) {
    uint8_t body[8] = {0};
    begin(&b);
    int err_req =
        yz_node_request(b.set.node, &ids[s % NODES], YZ_NODE_PROTO_PING, body,
                        sizeof body, 10000, on_ping, &b, NULL);
    bool ok = err_req == 0 && run_until(&b, op_done) && b.op_status == 0;
    if (!ok && !b.set.guard_fired && retries < 2 * NODES) {
      retries++;
      int dial = yz_node_dial(b.set.node, b.set.procs[s % NODES].addr, NULL);
      (void)dial;
      run_until(&b, linked_all);
      s--;
      continue;
    }
    if (!ok) {
      rc = yz_cli_error("dht: ping failed: %s",
                        yz_strerror(err_req ? err_req : b.op_status));
      goto stop;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double ping = yz_bench_median(b.ms, samples);

  /* Puts of immutable records, then gets of them. */
  uint8_t keys[SAMPLES][YZ_DHTREC_KEY_LEN];
  for (int s = 0; s < samples; s++) {
    yz_dhtrec r;
    memset(&r, 0, sizeof r);
    uint8_t value[VALUE_LEN];
    randombytes_buf(value, sizeof value);
    r.kind = YZ_DHTREC_IMMUTABLE;
    r.value = value;
    r.value_len = sizeof value;
    r.expiry = (uint64_t)time(NULL) + 600;
    uint8_t rec[512];
    size_t len = 0;
    if (yz_dhtrec_derive_key(&r) != 0 ||
        yz_dhtrec_encode(&r, rec, sizeof rec, &len) != 0) {
      rc = yz_cli_error("dht: cannot build a record");
      goto stop;
    }
    memcpy(keys[s], r.key, sizeof keys[s]);
    begin(&b);
    if (yz_dht_put(b.set.dht, rec, len, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0 || b.stored == 0) {
      rc = yz_cli_error("dht: put failed: %s", yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double put = yz_bench_median(b.ms, samples);
  for (int s = 0; s < samples; s++) {
    begin(&b);
    if (yz_dht_get(b.set.dht, keys[s], NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("dht: get failed: %s", yz_strerror(b.op_status));
      goto stop;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double get = yz_bench_median(b.ms, samples);
  yz_bench_emit(e, "dht.ping_rtt_ms", ping, "ms", NULL, 0);
  yz_bench_emit(e, "dht.put_ms", put, "ms", "dht.ping_rtt_ms", ping);
  yz_bench_emit(e, "dht.get_ms", get, "ms", "dht.ping_rtt_ms", ping);

stop:
  yz_bench_procs_stop(&b.set);
  yz_log_set_level(saved);
  return rc;
}

int yz_bench_dht(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  int rc = bench_sign_verify(opts, e);
  if (rc != 0)
    return rc;
  rc = bench_processes(opts, e);
  if (rc != 0)
    return rc;
  /* dht.sim_lookups_per_s: the simulator's figure goes here, from
   * tools/sim, when the simulator is part of the build. */
  return 0;
}
