/*
 * yz bench noise: the Noise layer against raw libsodium, in one process.
 *
 * Baselines: X25519 DH (crypto_scalarmult) and key generation
 * (crypto_scalarmult_base) rates, from which the bound of a full XX
 * handshake with both sides on one core is 1 / (2 t_keygen + 6 t_dh): two
 * ephemeral key pairs and the six DHs of XX (ee, es, se on each side), with
 * nothing else. ChaCha20-Poly1305 IETF encrypt+decrypt is the transport
 * baseline. Then yz: full Noise_XX_25519_ChaChaPoly_BLAKE2b handshakes
 * through the public API (both sides, Split included) and yz_noise_cs
 * encrypt+decrypt at 64 B, 1 KiB and 65519 B (the largest payload of a
 * 65535-byte Noise message). Method and targets: docs/benchmarks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "cli.h"
#include "yz/noise.h"

/* ------------------------------------------------------------------------ */
/* Baselines: raw libsodium                                                  */

/* The XX bound as one unit of work: 2 key generations and 6 DHs. */
static void bound_fn(void *vctx, unsigned long iters)
{
  yz_bench_dh *c = vctx;
  for (unsigned long i = 0; i < iters; i++)
    yz_bench_dh_work(c, 2, 6);
  yz_bench_sink(c->out, sizeof c->out);
}

/* The raw baseline (c.len, c.pt, c.ct, c.out, c.key) and the yz side. */
struct aead_ctx {
  yz_bench_aead c;
  yz_noise_cipherstate send, recv;
  int err;
};

static void cs_fn(void *vctx, unsigned long iters)
{
  struct aead_ctx *c = vctx;
  for (unsigned long i = 0; i < iters; i++) {
    size_t clen, mlen;
    if (yz_noise_cs_encrypt_with_ad(&c->send, NULL, 0, c->c.pt, c->c.len,
                                    c->c.ct, YZ_NOISE_MAX_MSG_LEN,
                                    &clen) != 0 ||
        yz_noise_cs_decrypt_with_ad(&c->recv, NULL, 0, c->c.ct, clen,
                                    c->c.out, YZ_NOISE_MAX_MSG_LEN,
                                    &mlen) != 0) {
      c->err = 1;
      return;
    }
  }
  yz_bench_sink(c->c.out, c->c.len);
}

/* ------------------------------------------------------------------------ */
/* yz: full XX handshakes                                                    */

struct xx_ctx {
  yz_noise_protocol p;
  uint8_t init_s[32], resp_s[32];
  uint8_t init_p[32], resp_p[32]; /* their public keys */
  uint8_t msg[512], pt[512];
  int err;
};

/* One side's setup through the public API. A node holds its static key
 * pair for its lifetime, so the public half is given, not recomputed. */
static int xx_side(yz_noise_handshakestate *hs, const struct xx_ctx *c,
                   yz_noise_role role, const uint8_t *s, const uint8_t *p)
{
  int rc = yz_noise_hs_init(hs, &c->p, role, NULL, 0);
  if (rc == 0)
    rc = yz_noise_hs_set_local_static_keypair(hs, s, p);
  if (rc == 0)
    rc = yz_noise_hs_start(hs);
  return rc;
}

static int xx_once(struct xx_ctx *c)
{
  yz_noise_handshakestate a, b;
  yz_noise_cipherstate as, ar, bs, br;
  size_t len, plen;
  int rc = xx_side(&a, c, YZ_NOISE_INITIATOR, c->init_s, c->init_p);
  if (rc == 0)
    rc = xx_side(&b, c, YZ_NOISE_RESPONDER, c->resp_s, c->resp_p);
  /* -> e; <- e, ee, s, es; -> s, se */
  for (int m = 0; rc == 0 && m < 3; m++) {
    yz_noise_handshakestate *w = m % 2 == 0 ? &a : &b;
    yz_noise_handshakestate *r = m % 2 == 0 ? &b : &a;
    rc = yz_noise_hs_write_message(w, NULL, 0, c->msg, sizeof c->msg, &len);
    if (rc == 0)
      rc = yz_noise_hs_read_message(r, c->msg, len, c->pt, sizeof c->pt,
                                    &plen);
  }
  if (rc == 0)
    rc = yz_noise_hs_split(&a, &as, &ar);
  if (rc == 0)
    rc = yz_noise_hs_split(&b, &bs, &br);
  if (rc == 0) {
    yz_noise_cs_clear(&as);
    yz_noise_cs_clear(&ar);
    yz_noise_cs_clear(&bs);
    yz_noise_cs_clear(&br);
  }
  yz_noise_hs_clear(&a);
  yz_noise_hs_clear(&b);
  return rc;
}

static void xx_fn(void *vctx, unsigned long iters)
{
  struct xx_ctx *c = vctx;
  for (unsigned long i = 0; i < iters && c->err == 0; i++)
    c->err = xx_once(c);
}

/* ------------------------------------------------------------------------ */

static const struct {
  size_t len;
  const char *figure, *baseline;
} sizes[] = {
    {64, "noise.transport_64b_mb_per_s",
     "libsodium.chacha20poly1305_64b_mb_per_s"},
    {1024, "noise.transport_1k_mb_per_s",
     "libsodium.chacha20poly1305_1k_mb_per_s"},
    {YZ_NOISE_MAX_PAYLOAD_LEN, "noise.transport_64k_mb_per_s",
     "libsodium.chacha20poly1305_64k_mb_per_s"},
};

int yz_bench_noise(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  /* Budget: a tenth each for the DH and key generation rates, 35% for the
   * handshakes, 15% for each transport size. */
  double s = opts->seconds;
  yz_bench_dh dh;
  yz_bench_dh_init(&dh);

  double dh_rate = yz_bench_rate(yz_bench_dh_fn, &dh, 0.10 * s);
  double kg_rate = yz_bench_rate(yz_bench_keygen_fn, &dh, 0.10 * s);
  yz_bench_emit(e, "noise.x25519_dh_per_s", dh_rate, "/s", NULL, 0);
  yz_bench_emit(e, "noise.x25519_keygen_per_s", kg_rate, "/s", NULL, 0);

  static const char xx_name[] = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
  struct xx_ctx *xx = calloc(1, sizeof *xx);
  if (xx == NULL)
    return yz_cli_error("out of memory");
  const char *reason = NULL;
  int rc = yz_noise_protocol_parse(&xx->p, (const uint8_t *)xx_name,
                                   sizeof xx_name - 1, &reason);
  if (rc != 0) {
    free(xx);
    return yz_cli_error("%s: %s", xx_name, reason ? reason : yz_strerror(rc));
  }
  yz_noise_dh_keypair(xx->init_s, xx->init_p);
  yz_noise_dh_keypair(xx->resp_s, xx->resp_p);
  double bound, xx_rate;
  yz_bench_compare(bound_fn, &dh, xx_fn, xx, 0.35 * s, &bound, &xx_rate);
  rc = xx->err;
  sodium_memzero(xx, sizeof *xx);
  free(xx);
  if (rc != 0)
    return yz_cli_error("XX handshake failed: %s", yz_strerror(rc));
  yz_bench_emit(e, "noise.xx_handshakes_per_s", xx_rate, "/s",
                "libsodium.xx_bound_per_s", bound);

  struct aead_ctx *c = calloc(1, sizeof *c);
  if (c == NULL)
    return yz_cli_error("out of memory");
  if (yz_bench_aead_init(&c->c, YZ_NOISE_MAX_MSG_LEN) != 0) {
    free(c);
    return yz_cli_error("out of memory");
  }
  int status = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    c->c.len = sizes[i].len;
    c->c.n = 0;
    yz_noise_cs_init(&c->send, YZ_NOISE_CIPHER_CHACHAPOLY);
    yz_noise_cs_init(&c->recv, YZ_NOISE_CIPHER_CHACHAPOLY);
    yz_noise_cs_initialize_key(&c->send, c->c.key);
    yz_noise_cs_initialize_key(&c->recv, c->c.key);
    double base, cand;
    yz_bench_compare(yz_bench_aead_fn, &c->c, cs_fn, c, 0.15 * s, &base,
                     &cand);
    yz_noise_cs_clear(&c->send);
    yz_noise_cs_clear(&c->recv);
    if (c->err != 0 || c->c.err != 0) {
      status = yz_cli_error("transport round trip failed at %zu bytes",
                            c->c.len);
      break;
    }
    /* Payload megabytes (10^6 bytes) through encrypt and decrypt. */
    double mb = (double)c->c.len / 1e6;
    yz_bench_emit(e, sizes[i].figure, cand * mb, "MB/s", sizes[i].baseline,
                  base * mb);
  }
  yz_bench_aead_clear(&c->c);
  free(c);
  return status;
}
