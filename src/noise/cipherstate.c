/*
 * CipherState (Noise spec section 5.1) with the ChaChaPoly and AESGCM
 * cipher functions (section 12.3 and 12.4).
 *
 * Two AEAD backends, which give the same bytes (tests/noise/test_aead.c
 * compares them on every length class, and every vector runs through the
 * one in use):
 *   - libsodium's _detached forms;
 *   - OpenSSL's libcrypto (EVP), in builds with -Daead=openssl or auto
 *     (DESIGN.md allows it for the bulk transport AEAD only). Its
 *     ChaCha20-Poly1305 and AES-256-GCM run in one pass with wide vector
 *     code: about twice libsodium 1.0.18's rate on a 65519-byte message
 *     (docs/benchmarks.md). Its cipher functions are called straight from
 *     the provider's dispatch table (evp_impl below), without EVP's
 *     wrappers. Its fixed cost per call is still higher (parameter
 *     look-ups for the tag), so short messages stay on libsodium:
 *     "where it is faster, libsodium otherwise".
 * Either way the ciphertext and tag go straight to the caller's buffer,
 * encryption and decryption may run in place, and no message allocates.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "noise/noise_internal.h"

#if YZ_NOISE_AEAD_OPENSSL
#include <pthread.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <strings.h>
#endif

/* How calls are routed (yz__noise_aead_route). Written only by tests and
 * benchmarks, before the messages they measure. */
static int aead_route = YZ__AEAD_AUTO;

/* The 96-bit AEAD nonce: 32 zero bits, then n as 64 bits, little-endian for
 * ChaChaPoly (section 12.3), big-endian for AESGCM (section 12.4). */
static void make_nonce(uint8_t nonce[12], int cipher, uint64_t n)
{
  memset(nonce, 0, 4);
  if (cipher == YZ_NOISE_CIPHER_AESGCM)
    yz__store64_be(nonce + 4, n);
  else
    yz__store64_le(nonce + 4, n);
}

/* ---- libcrypto -------------------------------------------------------- */

#if YZ_NOISE_AEAD_OPENSSL

/*
 * Shortest plaintext sent through libcrypto in the AUTO route, per cipher.
 * Below it libsodium is faster: OpenSSL 3.0 has a higher fixed cost per
 * message (parameter look-ups, in the EVP calls of this measurement),
 * which its faster
 * ChaCha20, Poly1305 and GHASH recover only over some bytes. Measured
 * through yz_noise_cs, encrypt + decrypt, both routes alternating in one
 * process on the project's machine (us, libsodium / libcrypto):
 *   ChaChaPoly  64: 0.83 / 1.06   128: 1.12 / 1.14   192: 1.40 / 1.08
 *              256: 1.22 / 1.20   512: 1.60 / 1.67  1024: 2.21 / 1.52
 *   AESGCM     256: 0.53 / 0.65   320: 0.80 / 0.72   384: 0.69 / 0.68
 *              512: 0.85 / 0.78  1024: 1.49 / 1.00
 * (libsodium is quickest at multiples of 256 bytes, where its AVX2
 * ChaCha20 covers the whole message.) libsodium's AES-GCM needs AES-NI;
 * without it every AESGCM message goes to libcrypto.
 */
enum { EVP_CHACHA_MIN = 128, EVP_AESGCM_MIN = 384 };

/* The two ciphers, fetched once per process: EVP_chacha20_poly1305() and
 * friends would make every init look the name up in the provider store.
 * If either fetch fails (a configuration without the default provider),
 * libsodium serves every call and yz_noise_aead_backend() says so. */
static EVP_CIPHER *evp_cipher[2]; /* [0] ChaChaPoly, [1] AESGCM */

/*
 * The fetched cipher's own functions, from its provider's dispatch table
 * (OSSL_PROVIDER_query_operation): the code EVP_EncryptUpdate and friends
 * end in, called directly. EVP's wrappers cost a fifth of a 1 KiB
 * ChaChaPoly encrypt + decrypt here, most of it in EVP_CipherInit_ex2
 * setting the nonce (it asks the provider for the key and nonce lengths,
 * parameter look-ups by name, on every call), which matters at 1 KiB
 * (docs/benchmarks.md "Encrypted link against plain WebSocket"). The
 * same implementation, so the same bytes; EVP_CIPHER_CTX does nothing
 * else for an AEAD of one-byte blocks. The fetched EVP_CIPHER keeps the
 * provider loaded for the process's life.
 */
typedef struct evp_impl {
  void *provctx;
  OSSL_FUNC_cipher_newctx_fn *newctx;
  OSSL_FUNC_cipher_freectx_fn *freectx;
  OSSL_FUNC_cipher_encrypt_init_fn *einit;
  OSSL_FUNC_cipher_decrypt_init_fn *dinit;
  OSSL_FUNC_cipher_update_fn *update;
  OSSL_FUNC_cipher_final_fn *final;
  OSSL_FUNC_cipher_get_ctx_params_fn *get_params;
  OSSL_FUNC_cipher_set_ctx_params_fn *set_params;
} evp_impl;
static evp_impl evp_fn[2];
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;
static pthread_key_t evp_key; /* its destructor frees a thread's contexts */
static bool evp_ok;

/*
 * Contexts live per thread, one per cipher and direction, and keep their
 * key: a message under the key its context already holds only sets the
 * nonce (a new key costs about a third of a 1 KiB AES-GCM message, its key
 * schedule and GHASH table; so one link sending and receiving on a thread
 * re-keys nothing, and many links re-key without allocating). The
 * CipherState stays a plain struct that callers copy and wipe: nothing in
 * it points here. The copy of the key says which key a context holds
 * (compared in constant time); yz_noise_cs_clear() and Rekey overwrite a
 * context of this thread that still holds the key they retire.
 */
struct evp_slot {
  void *ctx; /* the provider's cipher context (evp_impl.newctx) */
  uint8_t key[YZ_NOISE_KEY_LEN];
  uint8_t keyed; /* ctx holds key */
};
struct evp_thread {
  struct evp_slot slot[2][2]; /* [cipher][encrypt] */
  bool registered;            /* evp_key set, so that thread exit frees */
};
static _Thread_local struct evp_thread evp_tls;

static void evp_thread_exit(void *p)
{
  struct evp_thread *t = p;
  for (int c = 0; c < 2; c++)
    for (int e = 0; e < 2; e++) {
      struct evp_slot *s = &t->slot[c][e];
      if (s->ctx != NULL)
        evp_fn[c].freectx(s->ctx); /* wipes the key schedule */
      sodium_memzero(s, sizeof *s);
    }
  t->registered = false;
}

/* Whether name is one of an algorithm's names ("A:B:C"). */
static bool names_have(const char *names, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = names; p != NULL && *p != '\0';) {
    const char *end = strchr(p, ':');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (len == n && strncasecmp(p, name, n) == 0)
      return true;
    p = end != NULL ? end + 1 : NULL;
  }
  return false;
}

/* The functions of cipher c (named name) from its provider. */
static bool evp_impl_find(int c, const char *name)
{
  const OSSL_PROVIDER *prov = EVP_CIPHER_get0_provider(evp_cipher[c]);
  int no_cache = 0;
  const OSSL_ALGORITHM *algs =
      prov != NULL ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER,
                                                   &no_cache)
                   : NULL;
  if (algs == NULL)
    return false;
  evp_impl f = {.provctx = OSSL_PROVIDER_get0_provider_ctx(prov)};
  for (const OSSL_ALGORITHM *a = algs; a->algorithm_names != NULL; a++) {
    if (!names_have(a->algorithm_names, name))
      continue;
    for (const OSSL_DISPATCH *d = a->implementation; d->function_id != 0;
         d++) {
      switch (d->function_id) {
      case OSSL_FUNC_CIPHER_NEWCTX:
        f.newctx = OSSL_FUNC_cipher_newctx(d);
        break;
      case OSSL_FUNC_CIPHER_FREECTX:
        f.freectx = OSSL_FUNC_cipher_freectx(d);
        break;
      case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
        f.einit = OSSL_FUNC_cipher_encrypt_init(d);
        break;
      case OSSL_FUNC_CIPHER_DECRYPT_INIT:
        f.dinit = OSSL_FUNC_cipher_decrypt_init(d);
        break;
      case OSSL_FUNC_CIPHER_UPDATE:
        f.update = OSSL_FUNC_cipher_update(d);
        break;
      case OSSL_FUNC_CIPHER_FINAL:
        f.final = OSSL_FUNC_cipher_final(d);
        break;
      case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
        f.get_params = OSSL_FUNC_cipher_get_ctx_params(d);
        break;
      case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
        f.set_params = OSSL_FUNC_cipher_set_ctx_params(d);
        break;
      default:
        break;
      }
    }
    break;
  }
  OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
  if (f.newctx == NULL || f.freectx == NULL || f.einit == NULL ||
      f.dinit == NULL || f.update == NULL || f.final == NULL ||
      f.get_params == NULL || f.set_params == NULL)
    return false;
  evp_fn[c] = f;
  return true;
}

static void evp_fetch(void)
{
  /* YZ_NOISE_AEAD (include/yz/noise.h): run every call through one
   * library, e.g. to replay the vectors through each. */
  const char *env = getenv("YZ_NOISE_AEAD");
  if (env != NULL && strcmp(env, "libsodium") == 0)
    aead_route = YZ__AEAD_LIBSODIUM;
  else if (env != NULL && strcmp(env, "openssl") == 0)
    aead_route = YZ__AEAD_OPENSSL;
  static const char *const names[2] = {"ChaCha20-Poly1305", "AES-256-GCM"};
  evp_cipher[0] = EVP_CIPHER_fetch(NULL, names[0], NULL);
  evp_cipher[1] = EVP_CIPHER_fetch(NULL, names[1], NULL);
  if (evp_cipher[0] != NULL && evp_cipher[1] != NULL &&
      evp_impl_find(0, names[0]) && evp_impl_find(1, names[1]) &&
      pthread_key_create(&evp_key, evp_thread_exit) == 0) {
    evp_ok = true;
    return;
  }
  for (int c = 0; c < 2; c++) {
    EVP_CIPHER_free(evp_cipher[c]);
    evp_cipher[c] = NULL;
  }
  ERR_clear_error();
}

static bool evp_available(void)
{
  return pthread_once(&evp_once, evp_fetch) == 0 && evp_ok;
}

/* After a failed EVP call: the context's state is unknown, so it is
 * re-keyed next time, and OpenSSL's error queue of this thread is emptied
 * (libwebsockets reads that queue for its TLS errors). */
static int evp_fail(struct evp_slot *s, int rc)
{
  if (s != NULL)
    s->keyed = 0;
  ERR_clear_error();
  return rc;
}

/*
 * The code between the EVP calls, built for AVX2 where the CPU has it
 * (GCC/Clang function multi-versioning, chosen once at load). OpenSSL's
 * ChaCha20 and Poly1305 use AVX-512 here, and legacy-SSE instructions run
 * after them (a 16-byte tag or key copy, the parameter structs) made a
 * 1 KiB encrypt + decrypt about 0.4 us slower than the same calls from
 * VEX-encoded code: 2.36 against 1.68 us on the project's machine, where
 * raw EVP calls from SSE code took 2.0.
 */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define EVP_HOT __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef EVP_HOT
#define EVP_HOT
#endif

/* Whether a context holds key k: in constant time (no branch on the key
 * bytes), in 64-bit words; sodium_memcmp's byte loop cost a few percent
 * of a 1 KiB message here. */
static bool same_key(const uint8_t *a, const uint8_t *b)
{
  uint64_t d = 0;
  for (size_t i = 0; i < YZ_NOISE_KEY_LEN; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    d |= x ^ y;
  }
  return d == 0;
}

/* Start a message: the context of this thread for cipher ci (0, 1) and
 * direction enc, holding key k and set to nonce. A context is made once
 * for its cipher; a new key goes in with the nonce, in one call.
 * YZ_E_NOMEM or YZ_E_UNSUPPORTED if libcrypto fails. */
EVP_HOT static int evp_begin(struct evp_slot **out, int ci, int enc,
                             const uint8_t *k, const uint8_t nonce[12])
{
  struct evp_slot *s = &evp_tls.slot[ci][enc];
  const evp_impl *f = &evp_fn[ci];
  if (!evp_tls.registered) {
    if (pthread_setspecific(evp_key, &evp_tls) != 0)
      return YZ_E_NOMEM;
    evp_tls.registered = true;
  }
  if (s->ctx == NULL && (s->ctx = f->newctx(f->provctx)) == NULL)
    return evp_fail(NULL, YZ_E_NOMEM);
  bool rekey = !s->keyed || !same_key(s->key, k);
  s->keyed = 0;
  const uint8_t *key = rekey ? k : NULL;
  if (!(enc ? f->einit : f->dinit)(s->ctx, key, YZ_NOISE_KEY_LEN, nonce, 12,
                                   NULL))
    return evp_fail(s, YZ_E_UNSUPPORTED);
  if (rekey)
    memcpy(s->key, k, YZ_NOISE_KEY_LEN);
  s->keyed = 1;
  *out = s;
  return 0;
}

/* A key leaves use (clear, Rekey): overwrite this thread's contexts that
 * hold it with an all-zero key, so its schedule does not outlive it. */
static void evp_forget(const uint8_t *k)
{
  static const uint8_t zeros[YZ_NOISE_KEY_LEN];
  for (int c = 0; c < 2; c++)
    for (int e = 0; e < 2; e++) {
      struct evp_slot *s = &evp_tls.slot[c][e];
      if (!s->keyed || !same_key(s->key, k))
        continue;
      if (!(e ? evp_fn[c].einit : evp_fn[c].dinit)(s->ctx, zeros,
                                                  sizeof zeros, NULL, 0,
                                                  NULL))
        ERR_clear_error();
      sodium_memzero(s->key, sizeof s->key);
      s->keyed = 0;
    }
}

/* ENCRYPT through libcrypto, the calls EVP_EncryptUpdate (associated
 * data with no output, then the plaintext), EVP_EncryptFinal_ex and
 * EVP_CTRL_AEAD_GET_TAG make (the tag as the OSSL_CIPHER_PARAM_AEAD_TAG
 * parameter), with the output sizes EVP passes for one-byte blocks. */
/* The plaintext is pt || pt2 (pt2len bytes, may be 0): two updates, so
 * that a frame's body is encrypted from where it lies, behind a header
 * given apart (yz__noise_cs_encrypt_gather). */
EVP_HOT static int evp_encrypt(int ci, const uint8_t *k,
                               const uint8_t nonce[12], const uint8_t *ad,
                               size_t adlen, const uint8_t *pt, size_t ptlen,
                               const uint8_t *pt2, size_t pt2len,
                               uint8_t *out, uint8_t *tag)
{
  struct evp_slot *s;
  const evp_impl *f = &evp_fn[ci];
  size_t len;
  int rc = evp_begin(&s, ci, 1, k, nonce);
  if (rc != 0)
    return rc;
  OSSL_PARAM p[2] = {OSSL_PARAM_construct_octet_string(
                         OSSL_CIPHER_PARAM_AEAD_TAG, tag, YZ_NOISE_TAG_LEN),
                     OSSL_PARAM_construct_end()};
  if ((adlen > 0 && f->update(s->ctx, NULL, &len, adlen, ad, adlen) <= 0) ||
      (ptlen > 0 && (f->update(s->ctx, out, &len, ptlen, pt, ptlen) <= 0 ||
                     len != ptlen)) ||
      (pt2len > 0 &&
       (f->update(s->ctx, out + ptlen, &len, pt2len, pt2, pt2len) <= 0 ||
        len != pt2len)) ||
      f->final(s->ctx, out + ptlen + pt2len, &len, 0) <= 0 ||
      f->get_params(s->ctx, p) <= 0)
    return evp_fail(s, YZ_E_UNSUPPORTED);
  return 0;
}

/* DECRYPT through EVP. OpenSSL decrypts as it authenticates and checks the
 * tag (in constant time) at the end, so out holds unauthenticated bytes
 * until then: the caller wipes it on any failure. */
EVP_HOT static int evp_decrypt(int ci, const uint8_t *k,
                               const uint8_t nonce[12], const uint8_t *ad,
                               size_t adlen, const uint8_t *ct, size_t ptlen,
                               const uint8_t *tag_in, uint8_t *out)
{
  struct evp_slot *s;
  const evp_impl *f = &evp_fn[ci];
  uint8_t tag[YZ_NOISE_TAG_LEN];
  size_t len;
  int rc = evp_begin(&s, ci, 0, k, nonce);
  if (rc != 0)
    return rc;
  memcpy(tag, tag_in, sizeof tag); /* the parameter takes a non-const */
  OSSL_PARAM p[2] = {OSSL_PARAM_construct_octet_string(
                         OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof tag),
                     OSSL_PARAM_construct_end()};
  if (f->set_params(s->ctx, p) <= 0 ||
      (adlen > 0 && f->update(s->ctx, NULL, &len, adlen, ad, adlen) <= 0) ||
      (ptlen > 0 && (f->update(s->ctx, out, &len, ptlen, ct, ptlen) <= 0 ||
                     len != ptlen)))
    return evp_fail(s, YZ_E_UNSUPPORTED);
  if (f->final(s->ctx, out + ptlen, &len, 0) <= 0) {
    ERR_clear_error();
    return YZ_E_DECRYPT;
  }
  return 0;
}

#endif /* YZ_NOISE_AEAD_OPENSSL */

/* ---- Routing ------------------------------------------------------------ */

/* libsodium 1.0.18's AES-GCM has no code for CPUs without AES-NI (its
 * functions must not be called there); it knows only after sodium_init. */
static bool aesgcm_sodium_ok(void)
{
  return crypto_aead_aes256gcm_is_available() ||
         (yz_init() == 0 && crypto_aead_aes256gcm_is_available());
}

/* Whether this call goes through libcrypto. */
static bool use_evp(int cipher, size_t ptlen, size_t adlen)
{
#if YZ_NOISE_AEAD_OPENSSL
  if (aead_route == YZ__AEAD_LIBSODIUM || adlen > INT_MAX || !evp_available())
    return false;
  if (aead_route == YZ__AEAD_OPENSSL)
    return true;
  if (cipher == YZ_NOISE_CIPHER_AESGCM)
    return ptlen >= EVP_AESGCM_MIN || !aesgcm_sodium_ok();
  return ptlen >= EVP_CHACHA_MIN;
#else
  (void)cipher, (void)ptlen, (void)adlen;
  return false;
#endif
}

int yz__noise_aead_contexts_holding(const uint8_t k[YZ_NOISE_KEY_LEN])
{
  int n = 0;
#if YZ_NOISE_AEAD_OPENSSL
  for (int c = 0; c < 2; c++)
    for (int e = 0; e < 2; e++)
      n += evp_tls.slot[c][e].keyed && same_key(evp_tls.slot[c][e].key, k);
#else
  (void)k;
#endif
  return n;
}

int yz__noise_aead_route(int route)
{
  if (route != YZ__AEAD_AUTO && route != YZ__AEAD_LIBSODIUM &&
      route != YZ__AEAD_OPENSSL)
    return YZ_E_INVAL;
#if YZ_NOISE_AEAD_OPENSSL
  /* First, so that YZ_NOISE_AEAD, read once, does not undo this later. */
  if (!evp_available() && route == YZ__AEAD_OPENSSL)
    return YZ_E_UNSUPPORTED;
#else
  if (route == YZ__AEAD_OPENSSL)
    return YZ_E_UNSUPPORTED;
#endif
  aead_route = route;
  return 0;
}

const char *yz_noise_aead_backend(void)
{
  return use_evp(YZ_NOISE_CIPHER_CHACHAPOLY, YZ_NOISE_MAX_PAYLOAD_LEN, 0)
             ? "openssl"
             : "libsodium";
}

bool yz__noise_aead_aesgcm_ok(void)
{
  /* libsodium 1.0.18's AES-GCM needs AES-NI and PCLMUL; libcrypto has
   * code for every CPU. */
  return use_evp(YZ_NOISE_CIPHER_AESGCM, YZ_NOISE_MAX_PAYLOAD_LEN, 0) ||
         aesgcm_sodium_ok();
}

/* ENCRYPT(k, n, ad, plaintext) into out (ptlen bytes) and tag. */
static int aead_encrypt(int cipher, const uint8_t *k, uint64_t n,
                        const uint8_t *ad, size_t adlen, const uint8_t *pt,
                        size_t ptlen, uint8_t *out, uint8_t *tag)
{
  uint8_t nonce[12];
  make_nonce(nonce, cipher, n);
#if YZ_NOISE_AEAD_OPENSSL
  if (use_evp(cipher, ptlen, adlen))
    return evp_encrypt(cipher == YZ_NOISE_CIPHER_AESGCM, k, nonce, ad, adlen,
                       pt, ptlen, NULL, 0, out, tag);
#endif
  if (cipher == YZ_NOISE_CIPHER_AESGCM) {
    if (!aesgcm_sodium_ok())
      return YZ_E_UNSUPPORTED;
    crypto_aead_aes256gcm_encrypt_detached(out, tag, NULL, pt, ptlen, ad,
                                           adlen, NULL, nonce, k);
  } else
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        out, tag, NULL, pt, ptlen, ad, adlen, NULL, nonce, k);
  return 0;
}

/* DECRYPT(k, n, ad, ciphertext || tag) into out (ptlen bytes). 0 or
 * YZ_E_DECRYPT (or an error of libcrypto); out is then wiped by the
 * caller. */
static int aead_decrypt(int cipher, const uint8_t *k, uint64_t n,
                        const uint8_t *ad, size_t adlen, const uint8_t *ct,
                        size_t ptlen, uint8_t *out)
{
  uint8_t nonce[12];
  make_nonce(nonce, cipher, n);
#if YZ_NOISE_AEAD_OPENSSL
  if (use_evp(cipher, ptlen, adlen))
    return evp_decrypt(cipher == YZ_NOISE_CIPHER_AESGCM, k, nonce, ad, adlen,
                       ct, ptlen, ct + ptlen, out);
#endif
  if (cipher == YZ_NOISE_CIPHER_AESGCM) {
    if (!aesgcm_sodium_ok())
      return YZ_E_UNSUPPORTED;
    return crypto_aead_aes256gcm_decrypt_detached(
               out, NULL, ct, ptlen, ct + ptlen, ad, adlen, nonce, k) == 0
               ? 0
               : YZ_E_DECRYPT;
  }
  /* Checks the Poly1305 tag in constant time before decrypting. */
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
             out, NULL, ct, ptlen, ct + ptlen, ad, adlen, nonce, k) == 0
             ? 0
             : YZ_E_DECRYPT;
}

/* A key leaves use: see evp_forget(). */
static void aead_forget(const uint8_t *k)
{
#if YZ_NOISE_AEAD_OPENSSL
  evp_forget(k); /* this thread's slots only: nothing to do if unused */
#else
  (void)k;
#endif
}

/* ---- CipherState -------------------------------------------------------- */

void yz_noise_cs_init(yz_noise_cipherstate *cs, yz_noise_cipher cipher)
{
  sodium_memzero(cs, sizeof *cs);
  cs->cipher = (uint8_t)cipher;
}

void yz_noise_cs_initialize_key(yz_noise_cipherstate *cs,
                                const uint8_t k[YZ_NOISE_KEY_LEN])
{
  memcpy(cs->k, k, YZ_NOISE_KEY_LEN);
  cs->n = 0;
  cs->has_k = 1;
}

bool yz_noise_cs_has_key(const yz_noise_cipherstate *cs)
{
  return cs->has_k != 0;
}

int yz_noise_cs_set_nonce(yz_noise_cipherstate *cs, uint64_t n)
{
  /* 2^64-1 is reserved for Rekey (section 5.1): accepting it would let the
   * next EncryptWithAd reuse the rekey nonce. */
  if (n == UINT64_MAX)
    return YZ_E_RANGE;
  cs->n = n;
  return 0;
}

uint64_t yz_noise_cs_nonce(const yz_noise_cipherstate *cs)
{
  return cs->n;
}

int yz_noise_cs_encrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                                size_t adlen, const uint8_t *pt, size_t ptlen,
                                uint8_t *out, size_t outcap, size_t *outlen)
{
  if (!cs->has_k) {
    /* No key: the "ciphertext" is the plaintext (section 5.1). */
    if (ptlen > YZ_NOISE_MAX_MSG_LEN || ptlen > outcap)
      return YZ_E_TOO_LARGE;
    if (ptlen && out != pt)
      memmove(out, pt, ptlen);
    *outlen = ptlen;
    return 0;
  }
  if (ptlen > YZ_NOISE_MAX_PAYLOAD_LEN || outcap < ptlen + YZ_NOISE_TAG_LEN)
    return YZ_E_TOO_LARGE;
  if (cs->n == UINT64_MAX)
    return YZ_E_NONCE_EXHAUSTED;
  int rc = aead_encrypt(cs->cipher, cs->k, cs->n, ad, adlen, pt, ptlen, out,
                        out + ptlen);
  if (rc != 0)
    return rc; /* n unchanged: the message was not sent */
  cs->n++;
  *outlen = ptlen + YZ_NOISE_TAG_LEN;
  return 0;
}

int yz__noise_cs_encrypt_gather(yz_noise_cipherstate *cs, const uint8_t *head,
                                size_t headlen, const uint8_t *body,
                                size_t bodylen, uint8_t *out, size_t outcap,
                                size_t *outlen)
{
  size_t ptlen = headlen + bodylen;
#if YZ_NOISE_AEAD_OPENSSL
  uintptr_t o = (uintptr_t)out, b = (uintptr_t)body;
  bool apart = bodylen == 0 || b + bodylen <= o || o + outcap <= b;
  if (cs->has_k && apart && ptlen <= YZ_NOISE_MAX_PAYLOAD_LEN &&
      outcap >= ptlen + YZ_NOISE_TAG_LEN && cs->n != UINT64_MAX &&
      use_evp(cs->cipher, ptlen, 0)) {
    uint8_t nonce[12];
    make_nonce(nonce, cs->cipher, cs->n);
    int rc = evp_encrypt(cs->cipher == YZ_NOISE_CIPHER_AESGCM, cs->k, nonce,
                         NULL, 0, head, headlen, body, bodylen, out,
                         out + ptlen);
    if (rc != 0)
      return rc; /* n unchanged: the message was not sent */
    cs->n++;
    *outlen = ptlen + YZ_NOISE_TAG_LEN;
    return 0;
  }
#endif
  /* One contiguous plaintext in out, encrypted there. */
  if (ptlen > outcap || ptlen > YZ_NOISE_MAX_MSG_LEN)
    return YZ_E_TOO_LARGE;
  if (bodylen)
    memmove(out + headlen, body, bodylen);
  if (headlen)
    memmove(out, head, headlen);
  return yz_noise_cs_encrypt_with_ad(cs, NULL, 0, out, ptlen, out, outcap,
                                     outlen);
}

int yz_noise_cs_decrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                                size_t adlen, const uint8_t *ct, size_t ctlen,
                                uint8_t *out, size_t outcap, size_t *outlen)
{
  size_t ptlen;
  int rc;

  if (ctlen > YZ_NOISE_MAX_MSG_LEN)
    return YZ_E_TOO_LARGE;
  if (!cs->has_k) {
    if (ctlen > outcap)
      return YZ_E_TOO_LARGE;
    if (ctlen && out != ct)
      memmove(out, ct, ctlen);
    *outlen = ctlen;
    return 0;
  }
  if (ctlen < YZ_NOISE_TAG_LEN)
    return YZ_E_TRUNCATED;
  ptlen = ctlen - YZ_NOISE_TAG_LEN;
  if (ptlen > outcap)
    return YZ_E_TOO_LARGE;
  if (cs->n == UINT64_MAX)
    return YZ_E_NONCE_EXHAUSTED;

  rc = aead_decrypt(cs->cipher, cs->k, cs->n, ad, adlen, ct, ptlen, out);
  if (rc != 0) {
    /* "If an authentication failure occurs in DECRYPT() then n is not
     * incremented" (section 5.1); nothing unauthenticated is left. */
    sodium_memzero(out, ptlen);
    return rc;
  }
  cs->n++;
  *outlen = ptlen;
  return 0;
}

int yz_noise_cs_rekey(yz_noise_cipherstate *cs)
{
  static const uint8_t zeros[YZ_NOISE_KEY_LEN];
  uint8_t k[YZ_NOISE_KEY_LEN], tag[YZ_NOISE_TAG_LEN];

  if (!cs->has_k)
    return YZ_E_STATE;
  /* REKEY(k) = ENCRYPT(k, maxnonce, zerolen, zeros): the first 32 bytes
   * of the ciphertext, the tag dropped (section 4.2). */
  int rc = aead_encrypt(cs->cipher, cs->k, UINT64_MAX, NULL, 0, zeros,
                        sizeof zeros, k, tag);
  if (rc == 0) {
    aead_forget(cs->k);
    memcpy(cs->k, k, sizeof k);
  }
  sodium_memzero(k, sizeof k);
  sodium_memzero(tag, sizeof tag);
  return rc;
}

void yz_noise_cs_clear(yz_noise_cipherstate *cs)
{
  int cipher = cs->cipher;
  if (cs->has_k)
    aead_forget(cs->k);
  sodium_memzero(cs, sizeof *cs);
  cs->cipher = (uint8_t)cipher;
}
