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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "bench.h"
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

struct proc {
  uv_process_t p;
  uv_pipe_t out, err;
  char line[2][1024];
  size_t line_len[2];
  char addr[320];
  bool ready, joined, exited;
  struct pb *b;
};

struct pb {
  uv_loop_t loop;
  uv_timer_t guard;
  bool guard_fired;
  struct proc procs[NODES];
  unsigned n_ready, n_joined;
  yz_node *node[2]; /* 0 publishes, 1 subscribes */
  yz_pubsub *ps[2];
  unsigned stopping;
  bool done;
  int status;
  uint32_t want; /* the sample the subscriber waits for */
  uint64_t t0;
  double ms[SAMPLES];
};

static void on_guard(uv_timer_t *t)
{
  ((struct pb *)t->data)->guard_fired = true;
}

static bool run_until(struct pb *b, bool (*cond)(struct pb *))
{
  while (!cond(b) && !b->guard_fired)
    uv_run(&b->loop, UV_RUN_ONCE);
  return !b->guard_fired;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)h;
  (void)hint;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_line(struct proc *pr, int which, const char *line)
{
  if (which == 0 && strncmp(line, "address ws://", 13) == 0 &&
      pr->addr[0] == '\0')
    snprintf(pr->addr, sizeof pr->addr, "%s", line + 8);
  else if (which == 0 && strcmp(line, "ready") == 0 && !pr->ready) {
    pr->ready = true;
    pr->b->n_ready++;
  } else if (which == 1 && strstr(line, "dht: joined:") != NULL &&
             !pr->joined) {
    pr->joined = true;
    pr->b->n_joined++;
  }
}

static void read_common(uv_stream_t *s, ssize_t n, const uv_buf_t *buf,
                        int which)
{
  struct proc *pr = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, NULL);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf->base[i];
    if (ch == '\n') {
      pr->line[which][pr->line_len[which]] = '\0';
      on_line(pr, which, pr->line[which]);
      pr->line_len[which] = 0;
    } else if (pr->line_len[which] < sizeof pr->line[0] - 1) {
      pr->line[which][pr->line_len[which]++] = ch;
    }
  }
}

static void read_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  read_common(s, n, buf, 0);
}
static void read_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  read_common(s, n, buf, 1);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
  (void)status;
  (void)sig;
  struct proc *pr = p->data;
  pr->exited = true;
  uv_close((uv_handle_t *)p, NULL);
}

static int find_yz_node(char *out, size_t cap)
{
  const char *env = getenv("YZ_NODE");
  if (env != NULL && access(env, X_OK) == 0) {
    snprintf(out, cap, "%s", env);
    return 0;
  }
  char self[PATH_MAX - 32];
  size_t n = sizeof self;
  if (uv_exepath(self, &n) != 0)
    return -1;
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return -1;
  *slash = '\0';
  snprintf(out, cap, "%s/../yz-node/yz-node", self);
  if (access(out, X_OK) == 0)
    return 0;
  snprintf(out, cap, "%s/yz-node", self);
  return access(out, X_OK) == 0 ? 0 : -1;
}

static int spawn(struct pb *b, int i, const char *exe, const char *dir,
                 const char *boot)
{
  struct proc *pr = &b->procs[i];
  pr->b = b;
  char key[PATH_MAX];
  snprintf(key, sizeof key, "%s/n%d.key", dir, i);
  const char *args[12];
  int k = 0;
  args[k++] = exe;
  args[k++] = "--listen";
  args[k++] = "ws://127.0.0.1:0";
  args[k++] = "--key";
  args[k++] = key;
  args[k++] = "--subscribe";
  args[k++] = TOPIC;
  args[k++] = "--log-level";
  args[k++] = "info";
  if (boot != NULL) {
    args[k++] = "--bootstrap";
    args[k++] = boot;
  }
  args[k] = NULL;
  uv_pipe_init(&b->loop, &pr->out, 0);
  uv_pipe_init(&b->loop, &pr->err, 0);
  pr->out.data = pr->err.data = pr;
  uv_stdio_container_t io[3];
  io[0].flags = UV_IGNORE;
  io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[1].data.stream = (uv_stream_t *)&pr->out;
  io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[2].data.stream = (uv_stream_t *)&pr->err;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = exe;
  po.args = (char **)args;
  po.exit_cb = on_exit_cb;
  po.stdio = io;
  po.stdio_count = 3;
  pr->p.data = pr;
  int rc = uv_spawn(&b->loop, &pr->p, &po);
  if (rc != 0) {
    uv_close((uv_handle_t *)&pr->out, NULL);
    uv_close((uv_handle_t *)&pr->err, NULL);
    pr->exited = true;
    return rc;
  }
  uv_read_start((uv_stream_t *)&pr->out, alloc_cb, read_out);
  uv_read_start((uv_stream_t *)&pr->err, alloc_cb, read_err);
  return 0;
}

static bool boot_ready(struct pb *b) { return b->procs[0].ready; }
static bool all_joined(struct pb *b)
{
  return b->n_ready == NODES && b->n_joined == NODES - 1;
}
static bool done(struct pb *b) { return b->done; }
static bool all_exited(struct pb *b)
{
  for (int i = 0; i < NODES; i++)
    if (!b->procs[i].exited)
      return false;
  return true;
}
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

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static int client(struct pb *b, int i)
{
  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return YZ_E_IO;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  int err = yz_node_new(&b->node[i], &b->loop, &cfg);
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
    int dial = yz_node_dial(b->node[i], b->procs[k].addr, NULL);
    (void)dial; /* the wait for the links sees the outcome */
  }
  return err;
}

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  char exe[PATH_MAX];
  if (find_yz_node(exe, sizeof exe) != 0)
    return yz_cli_error("pubsub: yz-node not found (next to yz, in the "
                        "build tree, or $YZ_NODE)");
  char dir[] = "/tmp/yz-bench-pubsub.XXXXXX";
  if (mkdtemp(dir) == NULL)
    return yz_cli_error("pubsub: cannot create a temporary directory");
  static struct pb b;
  memset(&b, 0, sizeof b);
  int samples = opts->quick ? QUICK_SAMPLES : SAMPLES;
  int rc = 0;
  uv_loop_init(&b.loop);
  uv_timer_init(&b.loop, &b.guard);
  b.guard.data = &b;
  uv_timer_start(&b.guard, on_guard, GUARD_MS, 0);
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_ERR);
  if (spawn(&b, 0, exe, dir, NULL) != 0 || !run_until(&b, boot_ready)) {
    rc = yz_cli_error("pubsub: the first yz-node did not start");
    goto stop_procs;
  }
  for (int i = 1; i < NODES; i++)
    if (spawn(&b, i, exe, dir, b.procs[0].addr) != 0) {
      rc = yz_cli_error("pubsub: cannot start yz-node %d", i);
      goto stop_procs;
    }
  if (!run_until(&b, all_joined)) {
    rc = yz_cli_error("pubsub: the yz-node processes did not all join");
    goto stop_procs;
  }
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
    const char *h = strchr(b.procs[i].addr, '#');
    if (h == NULL || yz_node_id_parse(&ids[i], (const uint8_t *)h + 1,
                                      strlen(h + 1), NULL) != 0) {
      rc = yz_cli_error("pubsub: bad address %s", b.procs[i].addr);
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
  double ping = median(b.ms, samples);
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
  double lat = median(b.ms, samples);
  yz_bench_emit(e, "pubsub.ping_rtt_us", ping, "us", NULL, 0);
  yz_bench_emit(e, "pubsub.publish_delivery_us", lat, "us",
                "pubsub.ping_rtt_us", ping);

stop_clients:
  b.guard_fired = false;
  uv_timer_start(&b.guard, on_guard, 30000, 0);
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
  for (int i = 0; i < NODES; i++)
    if (!b.procs[i].exited)
      uv_process_kill(&b.procs[i].p, SIGTERM);
  b.guard_fired = false;
  uv_timer_start(&b.guard, on_guard, 30000, 0);
  if (!run_until(&b, all_exited))
    for (int i = 0; i < NODES; i++)
      if (!b.procs[i].exited)
        uv_process_kill(&b.procs[i].p, SIGKILL);
  uv_close((uv_handle_t *)&b.guard, NULL);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 2; i++) {
    yz_pubsub_free(b.ps[i]);
    yz_node_free(b.node[i]);
  }
  uv_loop_close(&b.loop);
  yz_log_set_level(saved);
  for (int i = 0; i < NODES; i++) {
    char key[PATH_MAX];
    snprintf(key, sizeof key, "%s/n%d.key", dir, i);
    unlink(key);
  }
  rmdir(dir);
  return rc;
}

int yz_bench_pubsub(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  int rc = bench_validate(opts, e);
  if (rc != 0)
    return rc;
  return bench_processes(opts, e);
}
