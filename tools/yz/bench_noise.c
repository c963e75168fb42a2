/*
 * yz bench noise: the Noise layer against raw libsodium, in one process.
 *
 * Baselines: X25519 DH (crypto_scalarmult) and key generation
 * (crypto_scalarmult_base) rates, from which the bound of a full XX
 * handshake with both sides on one core is 1 / (2 t_keygen + 6 t_dh): two
 * ephemeral key pairs and the six DHs of XX (ee, es, se on each side), with
 * nothing else. libsodium's ChaCha20-Poly1305 IETF encrypt+decrypt is
 * the transport baseline. Then yz: full Noise_XX_25519_ChaChaPoly_BLAKE2b
 * handshakes through the public API (both sides, Split included) and
 * yz_noise_cs encrypt+decrypt at 64 B, 1 KiB and 65519 B (the largest
 * payload of a 65535-byte Noise message) through the AEAD in use
 * (yz_noise_aead_backend()); at 1 KiB and 65519 B also yz through
 * libsodium alone and, in OpenSSL builds, raw libcrypto EVP, each against
 * the same libsodium baseline, so the ratios of the two libraries show
 * side by side. Method and targets: docs/benchmarks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#if YZ_NOISE_AEAD_OPENSSL
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#endif

#include "bench.h"
#include "cli.h"
#include "noise/noise_internal.h"
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

#if YZ_NOISE_AEAD_OPENSSL
/* Raw libcrypto: EVP ChaCha20-Poly1305 encrypt then decrypt of c.len bytes
 * with the Noise nonce layout, as the libsodium baseline does; one keyed
 * context per direction for the whole run (each message sets only its
 * nonce), the tag read and set as parameters: the best libcrypto offers,
 * for comparison with yz on it. */
struct evp_ctx {
  yz_bench_aead *c; /* the buffers and key of the libsodium baseline */
  EVP_CIPHER *cipher;
  EVP_CIPHER_CTX *enc, *dec;
  unsigned long long n;
  int err;
};

static void evp_fn(void *vctx, unsigned long iters)
{
  struct evp_ctx *e = vctx;
  yz_bench_aead *c = e->c;
  unsigned char nonce[12] = {0}, tag[16];
  for (unsigned long i = 0; i < iters; i++) {
    unsigned long long n = e->n++;
    for (int k = 0; k < 8; k++)
      nonce[4 + k] = (unsigned char)(n >> (8 * k));
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_octet_string(
                           OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof tag),
                       OSSL_PARAM_construct_end()};
    int len;
    if (!EVP_CipherInit_ex2(e->enc, NULL, NULL, nonce, 1, NULL) ||
        !EVP_EncryptUpdate(e->enc, c->ct, &len, c->pt, (int)c->len) ||
        !EVP_EncryptFinal_ex(e->enc, c->ct + c->len, &len) ||
        !EVP_CIPHER_CTX_get_params(e->enc, p) ||
        !EVP_CipherInit_ex2(e->dec, NULL, NULL, nonce, 0, NULL) ||
        !EVP_CIPHER_CTX_set_params(e->dec, p) ||
        !EVP_DecryptUpdate(e->dec, c->out, &len, c->ct, (int)c->len) ||
        EVP_DecryptFinal_ex(e->dec, c->out + c->len, &len) <= 0) {
      e->err = 1;
      return;
    }
  }
  yz_bench_sink(c->out, c->len);
}

static void evp_clear(struct evp_ctx *e)
{
  EVP_CIPHER_CTX_free(e->enc);
  EVP_CIPHER_CTX_free(e->dec);
  EVP_CIPHER_free(e->cipher);
  ERR_clear_error();
  memset(e, 0, sizeof *e);
}

static int evp_init(struct evp_ctx *e, yz_bench_aead *c)
{
  memset(e, 0, sizeof *e);
  e->c = c;
  e->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  e->enc = EVP_CIPHER_CTX_new();
  e->dec = EVP_CIPHER_CTX_new();
  if (e->cipher == NULL || e->enc == NULL || e->dec == NULL ||
      !EVP_CipherInit_ex2(e->enc, e->cipher, c->key, NULL, 1, NULL) ||
      !EVP_CipherInit_ex2(e->dec, e->cipher, c->key, NULL, 0, NULL)) {
    evp_clear(e);
    return -1;
  }
  return 0;
}
#endif

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

/* What the transport figures measure against raw libsodium: yz through
 * the AEAD in use, yz through libsodium alone, raw libcrypto EVP. */
enum { VIA_YZ, VIA_YZ_LIBSODIUM, VIA_EVP };

static const struct {
  size_t len;
  int via;
  const char *figure, *baseline;
} transports[] = {
    {64, VIA_YZ, "noise.transport_64b_mb_per_s",
     "libsodium.chacha20poly1305_64b_mb_per_s"},
    {1024, VIA_YZ, "noise.transport_1k_mb_per_s",
     "libsodium.chacha20poly1305_1k_mb_per_s"},
    {1024, VIA_YZ_LIBSODIUM, "noise.transport_libsodium_1k_mb_per_s",
     "libsodium.chacha20poly1305_1k_mb_per_s"},
    {1024, VIA_EVP, "noise.openssl_chacha20poly1305_1k_mb_per_s",
     "libsodium.chacha20poly1305_1k_mb_per_s"},
    {YZ_NOISE_MAX_PAYLOAD_LEN, VIA_YZ, "noise.transport_64k_mb_per_s",
     "libsodium.chacha20poly1305_64k_mb_per_s"},
    {YZ_NOISE_MAX_PAYLOAD_LEN, VIA_YZ_LIBSODIUM,
     "noise.transport_libsodium_64k_mb_per_s",
     "libsodium.chacha20poly1305_64k_mb_per_s"},
    {YZ_NOISE_MAX_PAYLOAD_LEN, VIA_EVP,
     "noise.openssl_chacha20poly1305_64k_mb_per_s",
     "libsodium.chacha20poly1305_64k_mb_per_s"},
};

/* One transport figure: its candidate against raw libsodium at c->c.len.
 * 0, or 1 if a round trip failed. */
static int transport_once(struct aead_ctx *c, int via, double seconds,
                          double *base, double *cand)
{
  int bad;
  if (via == VIA_EVP) {
#if YZ_NOISE_AEAD_OPENSSL
    struct evp_ctx e;
    if (evp_init(&e, &c->c) != 0)
      return 1;
    yz_bench_compare(yz_bench_aead_fn, &c->c, evp_fn, &e, seconds, base,
                     cand);
    bad = e.err;
    evp_clear(&e);
    return bad;
#else
    return 1;
#endif
  }
  if (via == VIA_YZ_LIBSODIUM &&
      yz__noise_aead_route(YZ__AEAD_LIBSODIUM) != 0)
    return 1;
  c->err = 0;
  yz_noise_cs_init(&c->send, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_init(&c->recv, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_initialize_key(&c->send, c->c.key);
  yz_noise_cs_initialize_key(&c->recv, c->c.key);
  yz_bench_compare(yz_bench_aead_fn, &c->c, cs_fn, c, seconds, base, cand);
  yz_noise_cs_clear(&c->send);
  yz_noise_cs_clear(&c->recv);
  bad = c->err;
  if (yz__noise_aead_route(YZ__AEAD_AUTO) != 0)
    bad = 1;
  return bad;
}

int yz_bench_noise(const yz_bench_opts *opts, yz_bench_emitter *e)
{
  /* Budget: 7% each for the DH and key generation rates, 30% for the
   * handshakes, 8% for each transport figure (seven with libcrypto). */
  double s = opts->seconds;
  yz_bench_dh dh;
  yz_bench_dh_init(&dh);

  double dh_rate = yz_bench_rate(yz_bench_dh_fn, &dh, 0.07 * s);
  double kg_rate = yz_bench_rate(yz_bench_keygen_fn, &dh, 0.07 * s);
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
  yz_bench_compare(bound_fn, &dh, xx_fn, xx, 0.30 * s, &bound, &xx_rate);
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
  /* Which library the yz figures use (the figures are numbers only). */
  fprintf(stderr, "noise: transport AEAD %s\n", yz_noise_aead_backend());
  int status = 0;
  for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++) {
#if !YZ_NOISE_AEAD_OPENSSL
    if (transports[i].via == VIA_EVP)
      continue;
#endif
    c->c.len = transports[i].len;
    c->c.n = 0;
    double base, cand;
    if (transport_once(c, transports[i].via, 0.08 * s, &base, &cand) != 0 ||
        c->c.err != 0) {
      status = yz_cli_error("%s: round trip failed at %zu bytes",
                            transports[i].figure, c->c.len);
      break;
    }
    /* Payload megabytes (10^6 bytes) through encrypt and decrypt. */
    double mb = (double)c->c.len / 1e6;
    yz_bench_emit(e, transports[i].figure, cand * mb, "MB/s",
                  transports[i].baseline, base * mb);
  }
  yz_bench_aead_clear(&c->c);
  free(c);
  return status;
}
