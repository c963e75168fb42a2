/*
 * yz bench pubsub: PubSub's figures (docs/benchmarks.md, area `pubsub`).
 *
 *   pubsub.validate_per_s       a received RPC of one signed 2 KiB
 *                               message decoded (yz_ps_rpc_decode), checked
 *                               (yz_ps_msg_check: size, expiry, signature)
 *                               and given its ID (yz_ps_msg_id): what a
 *                               node does to every message before its
 *                               router sees it, against
 *                               pubsub.ed25519_verify_per_s: one
 *                               crypto_sign_verify_detached() over 2 KiB
 *                               plus the signed header (the same size: the
 *                               Ed25519 verify bound);
 *   pubsub.publish_delivery_us  the median time (µs) from yz_pubsub_publish()
 *                               of a 2 KiB message on a publisher node of
 *                               this process to its delivery on a
 *                               subscriber node of this process, the two
 *                               linked only to NODES real yz-node
 *                               processes subscribed to the topic on
 *                               loopback (spawned here): the message
 *                               crosses one of them, against
 *                               pubsub.ping_rtt_us, the median round trip
 *                               of a node ping from the publisher to the
 *                               same processes (the same two hops).
 *
 * The processes: tools/yz-node/yz-node next to this build's yz, or
 * yz-node next to yz when installed, or $YZ_NODE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "bench.h"
#include "bench_procs.h"
#include "cli.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub.h"
#include "yz/pubsub_wire.h"

enum {
  NODES = 5,        /* yz-node processes */
  SAMPLES = 41,     /* timed per figure (odd: a true median) */
  QUICK_SAMPLES = 5,
  MSG_LEN = 2048,
  GUARD_MS = 120000, /* the whole process part */
};

#define TOPIC "yz-bench"

/* ---- validation against the Ed25519 bound ---------------------------- */

struct vctx {
  uint8_t data[MSG_LEN];
  uint8_t rpc[MSG_LEN + 1024];
  size_t rpc_len;
  uint8_t raw[MSG_LEN + YZ_PS_SIGNED_LEN];
  uint8_t sig[crypto_sign_BYTES];
  uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  uint64_t now;
  int err;
};

static void raw_verify(void *ctx, unsigned long iters)
{
  struct vctx *c = ctx;
  for (unsigned long i = 0; i < iters; i++)
    if (crypto_sign_verify_detached(c->sig, c->raw, sizeof c->raw, c->pk) !=
        0)
      c->err = 1;
}

static void validate(void *ctx, unsigned long iters)
{
  struct vctx *c = ctx;
  static yz_ps_rpc r;
  const yz_ps_limits lim = {0};
  uint8_t id[YZ_PS_ID_LEN];
  for (unsigned long i = 0; i < iters; i++) {
    if (yz_ps_rpc_decode(&r, c->rpc, c->rpc_len, &lim, NULL) != 0 ||
        r.n_publish != 1 ||
        yz_ps_msg_check(&r.publish[0], c->now, 600, 256 * 1024, NULL) !=
            YZ_PS_OK ||
        yz_ps_msg_id(&r.publish[0], id) != 0)
      c->err = 1;
  }
  yz_bench_sink(id, sizeof id);
}

static int bench_validate(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  static struct vctx c;
  memset(&c, 0, sizeof c);
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(c.pk, sk);
  randombytes_buf(c.data, sizeof c.data);
  c.now = (uint64_t)time(NULL);
  yz_ps_msg m;
  memset(&m, 0, sizeof m);
  if (yz_ps_topic_hash(m.topic, TOPIC, strlen(TOPIC)) != 0)
    c.err = 1;
  m.seq = 1;
  m.expiry = c.now + 300;
  m.data = c.data;
  m.data_len = sizeof c.data;
  if (yz_ps_msg_sign_raw(&m, sk, NULL) != 0)
    c.err = 1;
  yz_ps_rpc rpc;
  yz_ps_rpc_init(&rpc);
  rpc.n_publish = 1;
  rpc.publish[0] = m;
  const yz_ps_limits lim = {0};
  if (yz_ps_rpc_encode(&rpc, &lim, c.rpc, sizeof c.rpc, &c.rpc_len, NULL) !=
      0)
    c.err = 1;
  randombytes_buf(c.raw, sizeof c.raw);
  crypto_sign_detached(c.sig, NULL, c.raw, sizeof c.raw, sk);
  sodium_memzero(sk, sizeof sk);
  if (c.err)
    return yz_cli_error("pubsub: cannot build the message");
  double base, cand;
  yz_bench_compare(raw_verify, &c, validate, &c, opts->seconds / 3, &base,
                   &cand);
  if (c.err)
    return yz_cli_error("pubsub: a message failed to validate");
  yz_bench_emit(e, "pubsub.ed25519_verify_per_s", base, "/s", NULL, 0);
  yz_bench_emit(e, "pubsub.validate_per_s", cand, "/s",
                "pubsub.ed25519_verify_per_s", base);
  return 0;
}

/* ---- publish to delivery across yz-node processes ---------------------- */

struct pb {
  yz_bench_procs procs; /* the yz-node processes (bench_procs.h) */
  yz_node *node[2];     /* 0 publishes, 1 subscribes */
  yz_pubsub *ps[2];
  unsigned stopping;
  bool done;
  int status;
  uint32_t want; /* the sample the subscriber waits for */
  uint64_t t0;
  double ms[SAMPLES];
};

static bool run_until(struct pb *b, bool (*cond)(struct pb *))
{
  return yz_bench_procs_run_until(&b->procs, (bool (*)(void *))cond, b);
}

static bool done(struct pb *b) { return b->done; }
static bool stopped(struct pb *b) { return b->stopping == 0; }

/* Both nodes linked to every process, the subscriber's mesh formed, and
 * the publisher knows the processes subscribe (a publish reaches them). */
static bool meshed(struct pb *b)
{
  if (yz_node_peer_count(b->node[0]) < NODES ||
      yz_node_peer_count(b->node[1]) < NODES)
    return false;
  yz_pubsub_stats st;
  yz_pubsub_get_stats(b->ps[0], &st);
  return st.peers >= NODES && yz_pubsub_mesh_size(b->ps[1], TOPIC) >= 2;
}

static void on_ping(yz_node *n, int status, const yz_node_response *r,
                    void *arg)
{
  (void)n;
  (void)r;
  struct pb *b = arg;
  b->done = true;
  b->status = status;
}

static void on_msg(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps;
  struct pb *b = ud;
  uint32_t k;
  if (m->len != MSG_LEN)
    return;
  memcpy(&k, m->data, sizeof k);
  if (k == b->want && !b->done) {
    b->done = true;
    b->ms[k] = (double)(uv_hrtime() - b->t0) / 1e3;
  }
}

static void on_ps_stopped(yz_pubsub *ps, void *arg)
{
  struct pb *b = arg;
  for (int i = 0; i < 2; i++)
    if (b->ps[i] == ps)
      yz_node_stop(b->node[i], NULL, NULL);
  b->stopping--;
}

static int client(struct pb *b, int i)
{
  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return YZ_E_IO;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  int err = yz_node_new(&b->node[i], &b->procs.loop, &cfg);
  yz_identity_clear(&id);
  if (err != 0)
    return err;
  yz_pubsub_config pc;
  yz_pubsub_config_default(&pc);
  /* no DHT: the two find the subscribers among their peers only, and
   * never link to each other */
  err = yz_pubsub_new(&b->ps[i], b->node[i], NULL, &pc);
  if (err == 0)
    err = yz_node_start(b->node[i]);
  if (err == 0 && i == 1)
    err = yz_pubsub_subscribe(b->ps[i], TOPIC, NULL, on_msg, b);
  for (int k = 0; k < NODES && err == 0; k++) {
    int dial = yz_node_dial(b->node[i], b->procs.procs[k].addr, NULL);
    (void)dial; /* the wait for the links sees the outcome */
  }
  return err;
}

/* After the loop ran empty (yz_bench_procs_stop()): the two nodes. */
static void free_clients(void *arg)
{
  struct pb *b = arg;
  for (int i = 0; i < 2; i++) {
    yz_pubsub_free(b->ps[i]);
    yz_node_free(b->node[i]);
    b->ps[i] = NULL;
    b->node[i] = NULL;
  }
}

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  static struct pb b;
  memset(&b, 0, sizeof b);
  int samples = opts->quick ? QUICK_SAMPLES : SAMPLES;
  int rc = 0;
  yz_bench_procs_init(&b.procs, NODES, "dht: joined:", GUARD_MS);
  b.procs.extra_args[0] = "--subscribe";
  b.procs.extra_args[1] = TOPIC;
  b.procs.n_extra = 2;
  b.procs.before_close = free_clients;
  b.procs.close_arg = &b;
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_ERR);
  rc = yz_bench_procs_start(&b.procs, "pubsub");
  if (rc != 0)
    goto stop_procs;
  int err = client(&b, 0);
  if (err == 0)
    err = client(&b, 1);
  if (err != 0 || !run_until(&b, meshed)) {
    rc = yz_cli_error("pubsub: the clients did not link and mesh: %s",
                      yz_strerror(err));
    goto stop_clients;
  }
  yz_node_id ids[NODES];
  for (int i = 0; i < NODES; i++) {
    const char *h = strchr(b.procs.procs[i].addr, '#');
    if (h == NULL || yz_node_id_parse(&ids[i], (const uint8_t *)h + 1,
                                      strlen(h + 1), NULL) != 0) {
      rc = yz_cli_error("pubsub: bad address %s", b.procs.procs[i].addr);
      goto stop_clients;
    }
  }
  /* Baseline: a node ping from the publisher to each process in turn. */
  for (int s = 0; s < samples; s++) {
    uint8_t body[8] = {0};
    b.done = false;
    b.t0 = uv_hrtime();
    int r = yz_node_request(b.node[0], &ids[s % NODES], YZ_NODE_PROTO_PING,
                            body, sizeof body, 10000, on_ping, &b, NULL);
    if (r != 0 || !run_until(&b, done) || b.status != 0) {
      rc = yz_cli_error("pubsub: ping failed: %s",
                        yz_strerror(r ? r : b.status));
      goto stop_clients;
    }
    b.ms[s] = (double)(uv_hrtime() - b.t0) / 1e3;
  }
  double ping = yz_bench_median(b.ms, samples);
  /* Publishes, one at a time, each waited for at the subscriber. */
  static uint8_t data[MSG_LEN];
  for (int s = 0; s < samples; s++) {
    randombytes_buf(data, sizeof data);
    uint32_t k = (uint32_t)s;
    memcpy(data, &k, sizeof k);
    b.want = k;
    b.done = false;
    b.t0 = uv_hrtime();
    size_t reached = 0;
    int r = yz_pubsub_publish(b.ps[0], TOPIC, data, sizeof data, 0, &reached,
                              NULL, NULL, NULL);
    if (r != 0 || reached == 0 || !run_until(&b, done)) {
      rc = yz_cli_error("pubsub: message %d not delivered: %s", s,
                        yz_strerror(r));
      goto stop_clients;
    }
  }
  double lat = yz_bench_median(b.ms, samples);
  yz_bench_emit(e, "pubsub.ping_rtt_us", ping, "us", NULL, 0);
  yz_bench_emit(e, "pubsub.publish_delivery_us", lat, "us",
                "pubsub.ping_rtt_us", ping);

stop_clients:
  yz_bench_procs_rearm(&b.procs, 30000);
  for (int i = 0; i < 2; i++) {
    if (b.ps[i] != NULL) {
      b.stopping++;
      yz_pubsub_stop(b.ps[i], on_ps_stopped, &b);
    } else if (b.node[i] != NULL) {
      yz_node_stop(b.node[i], NULL, NULL);
    }
  }
  run_until(&b, stopped);
stop_procs:
  yz_bench_procs_stop(&b.procs);
  yz_log_set_level(saved);
  return rc;
}

int yz_bench_pubsub(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  int rc = bench_validate(opts, e);
  if (rc != 0)
    return rc;
  return bench_processes(opts, e);
}
