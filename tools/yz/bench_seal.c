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
  double ms[4][SAMPLES];
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

static bool boot_ready(struct pbench *b)
{
  return b->procs[0].ready;
}
static bool all_joined(struct pbench *b)
{
  return b->n_ready == NODES && b->n_joined == NODES - 1;
}
static bool op_done(struct pbench *b)
{
  return b->op_done;
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

static void on_sealed(const yz_seal_result *r, void *arg)
{
  struct pbench *b = arg;
  b->op_done = true;
  b->op_status = r->status;
  b->stored = r->dht ? r->dht->stored : 0;
}

static int bench_processes(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  char exe[PATH_MAX];
  if (find_yz_node(exe, sizeof exe) != 0)
    return yz_cli_error("seal: yz-node not found (next to yz, in the build "
                        "tree, or $YZ_NODE)");
  char dir[] = "/tmp/yz-bench-seal.XXXXXX";
  if (mkdtemp(dir) == NULL)
    return yz_cli_error("seal: cannot create a temporary directory");
  static struct pbench b;
  memset(&b, 0, sizeof b);
  int samples = opts->quick ? QUICK_SAMPLES : SAMPLES;
  int rc = 0;
  static yz_seal_user u;
  static yz_identity id;
  uv_loop_init(&b.loop);
  uv_timer_init(&b.loop, &b.guard);
  b.guard.data = &b;
  uv_timer_start(&b.guard, on_guard, GUARD_MS, 0);

  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_ERR);
  if (spawn(&b, 0, exe, dir, NULL) != 0 || !run_until(&b, boot_ready)) {
    rc = yz_cli_error("seal: the first yz-node did not start");
    goto stop_procs;
  }
  for (int i = 1; i < NODES; i++)
    if (spawn(&b, i, exe, dir, b.procs[0].addr) != 0) {
      rc = yz_cli_error("seal: cannot start yz-node %d", i);
      goto stop_procs;
    }
  if (!run_until(&b, all_joined)) {
    rc = yz_cli_error("seal: the yz-node processes did not all join");
    goto stop_procs;
  }
  /* The client node, as `yz put` runs it; the user key, a key of its own
   * (a plain record is signed with it too: the same signature cost). */
  if (yz_identity_generate(&id) != 0 || yz_seal_user_init(&u, &id) != 0) {
    rc = yz_cli_error("seal: no identity");
    goto stop_procs;
  }
  yz_identity nid;
  if (yz_identity_generate(&nid) != 0) {
    rc = yz_cli_error("seal: no identity");
    goto stop_procs;
  }
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &nid;
  int err = yz_node_new(&b.node, &b.loop, &cfg);
  yz_identity_clear(&nid);
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
    rc = yz_cli_error("seal: the client could not join: %s",
                      yz_strerror(err ? err : b.op_status));
    goto stop_client;
  }
  /* Warm up: a few lookups link the client to its neighbourhood. */
  for (int w = 0; w < 3; w++) {
    yz_node_id target;
    randombytes_buf(target.bytes, sizeof target.bytes);
    begin(&b);
    if (yz_dht_find_node(b.dht, &target, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done)) {
      rc = yz_cli_error("seal: warm-up lookup failed");
      goto stop_client;
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
        yz_dht_put(b.dht, rec, len, NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0 || b.stored == 0) {
      rc =
          yz_cli_error("seal: plain put failed: %s", yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[0][s] = elapsed_ms(&b);
    memcpy(pkeys[s], r.key, 32);
    begin(&b);
    if (yz_seal_put(b.dht, &u, (const uint8_t *)name, strlen(name), NULL, 0,
                    value, sizeof value, 1, expiry, on_sealed, &b) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("seal: sealed put failed: %s",
                        yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[1][s] = elapsed_ms(&b);
    if (yz_seal_name_key(&u, (const uint8_t *)name, strlen(name), skeys[s]) !=
        0) {
      rc = yz_cli_error("seal: no key");
      goto stop_client;
    }
  }
  for (int s = 0; s < samples; s++) {
    begin(&b);
    if (yz_dht_get(b.dht, pkeys[s], NULL, on_op, &b, NULL) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc =
          yz_cli_error("seal: plain get failed: %s", yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[2][s] = elapsed_ms(&b);
    begin(&b);
    if (yz_seal_get(b.dht, &u, skeys[s], on_sealed, &b) != 0 ||
        !run_until(&b, op_done) || b.op_status != 0) {
      rc = yz_cli_error("seal: sealed get failed: %s",
                        yz_strerror(b.op_status));
      goto stop_client;
    }
    b.ms[3][s] = elapsed_ms(&b);
  }
  double pput = median(b.ms[0], samples), sput = median(b.ms[1], samples);
  double pget = median(b.ms[2], samples), sget = median(b.ms[3], samples);
  yz_bench_emit(e, "seal.plain_put_ms", pput, "ms", NULL, 0);
  yz_bench_emit(e, "seal.sealed_put_ms", sput, "ms", "seal.plain_put_ms",
                pput);
  yz_bench_emit(e, "seal.plain_get_ms", pget, "ms", NULL, 0);
  yz_bench_emit(e, "seal.sealed_get_ms", sget, "ms", "seal.plain_get_ms",
                pget);

stop_client:
  if (b.dht != NULL) {
    yz_dht_stop(b.dht, on_dht_stopped, &b);
  } else if (b.node != NULL) {
    yz_node_stop(b.node, NULL, NULL);
  }
stop_procs:
  yz_seal_user_clear(&u);
  yz_identity_clear(&id);
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

int yz_bench_seal(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  int rc = bench_rates(opts, e);
  if (rc == 0)
    rc = bench_processes(opts, e);
  return rc;
}
