/*
 * yz bench session: the yz session layer against raw libsodium, in one
 * process.
 *
 * Handshakes: the bound of a full yz handshake with both sides on one core
 * is 1 / (2 t_keygen + 6 t_dh + 2 t_verify): per side one ephemeral key
 * pair, three DHs (XX: ee, es/se, se/es) and one Ed25519 verification of
 * the peer's identity proof, measured from libsodium in the same run.
 * Against it: complete yz handshakes through the public session API (init,
 * start, the three messages, proof decoding and verification, node-ID
 * check, Split, UP events, clear).
 *
 * Throughput: application messages of 1 KiB and 64 KiB sent by one session
 * and received (decrypted, reassembled, delivered) by its peer, against
 * raw ChaCha20-Poly1305 IETF encrypt + decrypt of the same length.
 * Method and targets: docs/benchmarks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "cli.h"
#include "yz/session.h"

/* ---- baselines ---------------------------------------------------------- */

struct bound_ctx {
  yz_bench_dh dh;
  uint8_t id_pk[32], sig[64], msg[70];
  int err;
};

static void bound_fn(void *vctx, unsigned long iters)
{
  struct bound_ctx *c = vctx;
  for (unsigned long i = 0; i < iters; i++) {
    for (int side = 0; side < 2; side++) {
      /* an ephemeral key pair and the three DHs of one side */
      yz_bench_dh_work(&c->dh, 1, 3);
      if (crypto_sign_verify_detached(c->sig, c->msg, sizeof c->msg,
                                      c->id_pk) != 0)
        c->err = 1;
    }
  }
  yz_bench_sink(c->dh.out, sizeof c->dh.out);
}

/* ---- yz ------------------------------------------------------------------ */

/* One direction of an in-memory pipe with a small queue (handshakes). */
struct pipe_end {
  uint8_t buf[4][1024];
  size_t len[4];
  unsigned n;
};

/*
 * Two sessions, a and b. During a handshake each send() queues (b's reply
 * must not re-enter a). Once up, in direct mode, a's send() hands each wire
 * message straight to b's recv() (another session, so the callback rules
 * allow it): no copy, no queue; data flows only from a to b.
 */
struct pair {
  yz_identity ia, ib;
  yz_session_local la, lb;
  yz_session a, b;
  struct pipe_end to_a, to_b;
  bool direct;
  int ups, err;
  const uint8_t *msg; /* throughput: the message, its length */
  size_t len;
  unsigned long delivered;
};

static int queue(struct pipe_end *p, const uint8_t *msg, size_t len)
{
  if (p->n == 4 || len > sizeof p->buf[0])
    return YZ_E_QUEUE_FULL;
  memcpy(p->buf[p->n], msg, len);
  p->len[p->n++] = len;
  return 0;
}

static int send_a(void *user, uint8_t *msg, size_t len)
{
  struct pair *c = user;
  if (c->direct)
    return yz_session_recv(&c->b, msg, len, 0);
  return queue(&c->to_b, msg, len);
}

static int send_b(void *user, uint8_t *msg, size_t len)
{
  struct pair *c = user;
  if (c->direct)
    return YZ_E_STATE; /* b never sends in direct mode */
  return queue(&c->to_a, msg, len);
}

static void on_event(void *user, const yz_session_event *ev)
{
  struct pair *c = user;
  if (ev->type == YZ_SESSION_EVENT_UP) {
    c->ups++;
  } else if (ev->type == YZ_SESSION_EVENT_MESSAGE) {
    c->delivered++;
    yz_bench_sink(ev->u.message.data, ev->u.message.len);
  } else {
    c->err = 1;
  }
}

static int drain(yz_session *s, struct pipe_end *p)
{
  int rc = 0;
  for (unsigned i = 0; i < p->n && rc == 0; i++)
    rc = yz_session_recv(s, p->buf[i], p->len[i], 0);
  p->n = 0;
  return rc;
}

/* A complete handshake: init, start, three messages, UP on both sides. */
static int handshake(struct pair *c)
{
  yz_session_config ca, cb;
  yz_session_config_default(&ca);
  yz_session_config_default(&cb);
  ca.role = YZ_SESSION_INITIATOR;
  ca.local = &c->la;
  ca.expected_peer = yz_identity_node_id(&c->ib); /* pinned, as in use */
  ca.send = send_a;
  cb.role = YZ_SESSION_RESPONDER;
  cb.local = &c->lb;
  cb.unpinned = true;
  cb.send = send_b;
  ca.event = cb.event = on_event;
  ca.user = cb.user = c;
  c->ups = 0;
  c->direct = false;
  int rc = yz_session_init(&c->a, &ca);
  if (rc == 0)
    rc = yz_session_init(&c->b, &cb);
  if (rc == 0)
    rc = yz_session_start(&c->b, 0);
  if (rc == 0)
    rc = yz_session_start(&c->a, 0);
  for (int round = 0; rc == 0 && round < 2; round++) {
    rc = drain(&c->b, &c->to_b);
    if (rc == 0)
      rc = drain(&c->a, &c->to_a);
  }
  if (rc == 0)
    rc = drain(&c->b, &c->to_b);
  if (rc == 0 && (c->ups != 2 || c->err))
    rc = YZ_E_HANDSHAKE_FAILED;
  return rc;
}

static void hs_fn(void *vctx, unsigned long iters)
{
  struct pair *c = vctx;
  for (unsigned long i = 0; i < iters && c->err == 0; i++) {
    if (handshake(c) != 0)
      c->err = 1;
    yz_session_clear(&c->a);
    yz_session_clear(&c->b);
  }
}

static void tp_fn(void *vctx, unsigned long iters)
{
  struct pair *c = vctx;
  for (unsigned long i = 0; i < iters && c->err == 0; i++)
    if (yz_session_send(&c->a, c->msg, c->len, 0) != 0)
      c->err = 1;
}

static int pair_keys(struct pair *c)
{
  if (yz_identity_generate(&c->ia) != 0 || yz_identity_generate(&c->ib) != 0)
    return YZ_E_IO;
  int rc = yz_session_local_init(&c->la, &c->ia, NULL, NULL);
  if (rc == 0)
    rc = yz_session_local_init(&c->lb, &c->ib, NULL, NULL);
  return rc;
}

static void pair_free(struct pair *c)
{
  if (!c)
    return;
  yz_session_clear(&c->a);
  yz_session_clear(&c->b);
  yz_session_local_clear(&c->la);
  yz_session_local_clear(&c->lb);
  yz_identity_clear(&c->ia);
  yz_identity_clear(&c->ib);
  free(c);
}

static const struct {
  size_t len;
  const char *figure, *baseline;
} sizes[] = {
    {1024, "session.throughput_1k_mb_per_s",
     "libsodium.chacha20poly1305_1k_mb_per_s"},
    {65536, "session.throughput_64k_mb_per_s",
     "libsodium.chacha20poly1305_64k_mb_per_s"},
};

int yz_bench_session(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  double s = opts->seconds;
  if (yz_init() != 0)
    return yz_cli_error("libsodium initialisation failed");
  int status = 0;

  /* Handshakes vs the bound: half of the budget. */
  struct bound_ctx *bc = calloc(1, sizeof *bc);
  struct pair *hc = calloc(1, sizeof *hc);
  if (!bc || !hc) {
    status = yz_cli_error("out of memory");
    goto out_hs;
  }
  yz_bench_dh_init(&bc->dh);
  {
    uint8_t ssk[64];
    crypto_sign_keypair(bc->id_pk, ssk);
    randombytes_buf(bc->msg, sizeof bc->msg);
    crypto_sign_detached(bc->sig, NULL, bc->msg, sizeof bc->msg, ssk);
    sodium_memzero(ssk, sizeof ssk);
  }
  if (pair_keys(hc) != 0) {
    status = yz_cli_error("cannot create identities");
    goto out_hs;
  }
  double bound, rate;
  yz_bench_compare(bound_fn, bc, hs_fn, hc, 0.5 * s, &bound, &rate);
  if (hc->err || bc->err) {
    status = yz_cli_error("a yz handshake failed");
    goto out_hs;
  }
  yz_bench_emit(e, "session.handshakes_per_s", rate, "/s",
                "libsodium.yz_handshake_bound_per_s", bound);
out_hs:
  free(bc);
  pair_free(hc);
  if (status)
    return status;

  /* Throughput: a quarter of the budget per size. */
  yz_bench_aead ac;
  struct pair *tc = calloc(1, sizeof *tc);
  if (yz_bench_aead_init(&ac, 65536 + 64) != 0) {
    free(tc);
    return yz_cli_error("out of memory");
  }
  if (!tc) {
    status = yz_cli_error("out of memory");
    goto out_tp;
  }
  if (pair_keys(tc) != 0 || handshake(tc) != 0) {
    status = yz_cli_error("cannot set up a session");
    goto out_tp;
  }
  tc->direct = true;
  tc->msg = ac.pt;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    ac.len = tc->len = sizes[i].len;
    unsigned long before = tc->delivered;
    double base, cand;
    yz_bench_compare(yz_bench_aead_fn, &ac, tp_fn, tc, 0.25 * s, &base,
                     &cand);
    if (tc->err || ac.err || tc->delivered == before) {
      status = yz_cli_error("session transfer failed at %zu bytes",
                            sizes[i].len);
      goto out_tp;
    }
    double mb = (double)sizes[i].len / 1e6;
    yz_bench_emit(e, sizes[i].figure, cand * mb, "MB/s", sizes[i].baseline,
                  base * mb);
  }
out_tp:
  pair_free(tc);
  yz_bench_aead_clear(&ac);
  return status;
}
