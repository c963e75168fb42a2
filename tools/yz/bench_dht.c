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
#include "cli.h"
#include "yz/dht.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"

enum {
  NODES = 10,       /* yz-node processes */
  SAMPLES = 41,     /* operations timed per figure (odd: a true median) */
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

struct proc {
  uv_process_t p;
  uv_pipe_t out, err;
  char line[2][1024];
  size_t line_len[2];
  char addr[320];
  bool ready, joined, exited, out_closed, err_closed;
  struct pbench *b;
};

struct pbench {
  uv_loop_t loop;
  uv_timer_t guard;
  bool guard_fired;
  struct proc procs[NODES];
  unsigned n_ready, n_joined;
  yz_node *node;
  yz_dht *dht;
  bool op_done;
  int op_status;
  unsigned stored;
  uint64_t t0;
  double ms[SAMPLES];
};

static void on_guard(uv_timer_t *t)
{
  ((struct pbench *)t->data)->guard_fired = true;
}

static bool run_until(struct pbench *b, bool (*cond)(struct pbench *))
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

/* The yz-node to spawn: $YZ_NODE, the build tree's, or the installed one
 * next to yz. */
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

static int spawn(struct pbench *b, int i, const char *exe, const char *dir,
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

static bool boot_ready(struct pbench *b) { return b->procs[0].ready; }
static bool all_joined(struct pbench *b)
{
  return b->n_ready == NODES && b->n_joined == NODES - 1;
}
static bool op_done(struct pbench *b) { return b->op_done; }
static bool linked_all(struct pbench *b)
{
  return yz_node_peer_count(b->node) >= NODES;
}
static bool all_exited(struct pbench *b)
{
  for (int i = 0; i < NODES; i++)
    if (!b->procs[i].exited)
      return false;
  return true;
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

static void begin(struct pbench *b)
{
  b->op_done = false;
  b->op_status = 0;
  b->t0 = uv_hrtime();
}
static double elapsed_ms(const struct pbench *b)
{
  return (double)(uv_hrtime() - b->t0) / 1e6;
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  struct pbench *b = arg;
  yz_node_stop(b->node, NULL, NULL);
}

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  char exe[PATH_MAX];
  if (find_yz_node(exe, sizeof exe) != 0)
    return yz_cli_error("dht: yz-node not found (next to yz, in the build "
                        "tree, or $YZ_NODE)");
  char dir[] = "/tmp/yz-bench-dht.XXXXXX";
  if (mkdtemp(dir) == NULL)
    return yz_cli_error("dht: cannot create a temporary directory");
  static struct pbench b;
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
    rc = yz_cli_error("dht: the first yz-node did not start");
    goto stop_procs;
  }
  for (int i = 1; i < NODES; i++)
    if (spawn(&b, i, exe, dir, b.procs[0].addr) != 0) {
      rc = yz_cli_error("dht: cannot start yz-node %d", i);
      goto stop_procs;
    }
  if (!run_until(&b, all_joined)) {
    rc = yz_cli_error("dht: the yz-node processes did not all join");
    goto stop_procs;
  }

  /* The client: an ephemeral node of this process, as `yz dht` runs. */
  yz_identity id;
  if (yz_identity_generate(&id) != 0) {
    rc = yz_cli_error("dht: no identity");
    goto stop_procs;
  }
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &id;
  int err = yz_node_new(&b.node, &b.loop, &cfg);
  yz_identity_clear(&id);
  yz_dht_config dcfg;
  yz_dht_config_default(&dcfg);
  dcfg.client_only = true;
  if (err == 0)
    err = yz_dht_new(&b.dht, b.node, &dcfg);
  if (err == 0)
    err = yz_node_start(b.node);
  const char *boot[1] = {b.procs[0].addr};
  if (err == 0) {
    begin(&b);
    err = yz_dht_join(b.dht, boot, 1, on_op, &b, NULL);
  }
  if (err != 0 || !run_until(&b, op_done) || b.op_status != 0) {
    rc = yz_cli_error("dht: the client could not join: %s",
                      yz_strerror(err ? err : b.op_status));
    goto stop_client;
  }
  /* Warm up: one lookup links the client to its neighbourhood, as a
   * running client would be; every figure below runs over open links. */
  yz_node_id target;
  randombytes_buf(target.bytes, sizeof target.bytes);
  begin(&b);
  if (yz_dht_find_node(b.dht, &target, NULL, on_op, &b, NULL) != 0 ||
      !run_until(&b, op_done)) {
    rc = yz_cli_error("dht: warm-up lookup failed");
    goto stop_client;
  }

  /* Baseline: a node ping to each process in turn. */
  yz_node_id ids[NODES];
  for (int i = 0; i < NODES; i++) {
    const char *h = strchr(b.procs[i].addr, '#');
    if (h == NULL ||
        yz_node_id_parse(&ids[i], (const uint8_t *)h + 1, strlen(h + 1),
                         NULL) != 0) {
      rc = yz_cli_error("dht: bad address %s", b.procs[i].addr);
      goto stop_client;
    }
  }
  /* Link the client to every process (those the lookup did not reach
   * are dialled, pinned), so each ping runs over an open link. */
  for (int i = 0; i < NODES; i++) {
    /* An error here means linked or being dialled already: the wait below
     * sees the outcome either way. */
    int dial = yz_node_dial(b.node, b.procs[i].addr, NULL);
    (void)dial;
  }
  if (!run_until(&b, linked_all)) {
    rc = yz_cli_error("dht: the client could not link to every process");
    goto stop_client;
  }
  /* A ping can meet a link being replaced (a duplicate closed after a
   * dial-back): it is sent again, over the surviving link, a few times at
   * most. */
  int retries = 0;
  for (int s = 0; s < samples; s++) {
    uint8_t body[8] = {0};
    begin(&b);
    int err_req = yz_node_request(b.node, &ids[s % NODES], YZ_NODE_PROTO_PING,
                                  body, sizeof body, 10000, on_ping, &b, NULL);
    bool ok = err_req == 0 && run_until(&b, op_done) && b.op_status == 0;
    if (!ok && !b.guard_fired && retries < 2 * NODES) {
      retries++;
      int dial = yz_node_dial(b.node, b.procs[s % NODES].addr, NULL);
      (void)dial;
      run_until(&b, linked_all);
      s--;
      continue;
    }
    if (!ok) {
      rc = yz_cli_error("dht: ping failed: %s",
                        yz_strerror(err_req ? err_req : b.op_status));
      goto stop_client;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double ping = median(b.ms, samples);

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
      goto stop_client;
    }
    memcpy(keys[s], r.key, sizeof keys[s]);
    begin(&b);
    if (yz_dht_put(b.dht, rec, len, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0 || b.stored == 0) {
      rc = yz_cli_error("dht: put failed: %s", yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double put = median(b.ms, samples);
  for (int s = 0; s < samples; s++) {
    begin(&b);
    if (yz_dht_get(b.dht, keys[s], NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("dht: get failed: %s", yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[s] = elapsed_ms(&b);
  }
  double get = median(b.ms, samples);
  yz_bench_emit(e, "dht.ping_rtt_ms", ping, "ms", NULL, 0);
  yz_bench_emit(e, "dht.put_ms", put, "ms", "dht.ping_rtt_ms", ping);
  yz_bench_emit(e, "dht.get_ms", get, "ms", "dht.ping_rtt_ms", ping);

stop_client:
  if (b.dht != NULL) {
    yz_dht_stop(b.dht, on_dht_stopped, &b);
  } else if (b.node != NULL) {
    yz_node_stop(b.node, NULL, NULL);
  }
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
  yz_dht_free(b.dht);
  yz_node_free(b.node);
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
