/*
 * The CipherState's two AEAD libraries (src/noise/cipherstate.c): OpenSSL's
 * libcrypto and libsodium give the same bytes for both ciphers (spec
 * sections 12.3, 12.4) on every length class, with pseudo-random keys,
 * nonces and associated data; each decrypts the other's output; a flipped
 * tag, ciphertext or associated-data byte fails on both (nothing released,
 * n unchanged); libcrypto allocates nothing per message, and its failures
 * are error codes. In a build without libcrypto the comparisons are
 * skipped and the failure checks run on libsodium alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "noise_test.h"

#if YZ_NOISE_AEAD_OPENSSL
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#endif

/* Every length class: empty, one byte, around a 16-byte block, around the
 * libcrypto thresholds of the default route (128 ChaChaPoly, 384 AESGCM),
 * 1 KiB, the largest payload. */
static const size_t lens[] = {0,   1,   15,  16,   17,
                              63,  64,  127, 128,  255,
                              256, 383, 384, 1024, YZ_NOISE_MAX_PAYLOAD_LEN};
static const yz_noise_cipher ciphers[] = {YZ_NOISE_CIPHER_CHACHAPOLY,
                                          YZ_NOISE_CIPHER_AESGCM};

#define CAP (YZ_NOISE_MAX_MSG_LEN + 16)
static uint8_t pt[CAP], ct_a[CAP], ct_b[CAP], out[CAP];

/* Deterministic "random" bytes: a fixed seed, a counter per draw. */
static uint64_t draws;
static void rnd(void *p, size_t n)
{
  uint8_t seed[randombytes_SEEDBYTES] = {0x5e, 0xed};
  memcpy(seed + 8, &draws, sizeof draws);
  draws++;
  randombytes_buf_deterministic(p, n, seed);
}

static bool have_openssl(void)
{
  return yz__noise_aead_route(YZ__AEAD_OPENSSL) == 0 &&
         yz__noise_aead_route(YZ__AEAD_AUTO) == 0;
}

static bool cipher_ok(yz_noise_cipher c)
{
  return c != YZ_NOISE_CIPHER_AESGCM || yz__noise_aead_aesgcm_ok();
}

/* One EncryptWithAd under the given route. */
static int encrypt_via(int route, yz_noise_cipher c, const uint8_t key[32],
                       uint64_t n, const uint8_t *ad, size_t adlen,
                       const uint8_t *p, size_t len, uint8_t *o, size_t *olen)
{
  yz_noise_cipherstate cs;
  assert_int_equal(yz__noise_aead_route(route), 0);
  yz_noise_cs_init(&cs, c);
  yz_noise_cs_initialize_key(&cs, key);
  assert_int_equal(yz_noise_cs_set_nonce(&cs, n), 0);
  int rc = yz_noise_cs_encrypt_with_ad(&cs, ad, adlen, p, len, o, CAP, olen);
  if (rc == 0)
    assert_int_equal(yz_noise_cs_nonce(&cs), n + 1);
  yz_noise_cs_clear(&cs);
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  return rc;
}

/* One DecryptWithAd under the given route; checks that a failure leaves n
 * and wipes the output. */
static int decrypt_via(int route, yz_noise_cipher c, const uint8_t key[32],
                       uint64_t n, const uint8_t *ad, size_t adlen,
                       const uint8_t *ct, size_t ctlen, uint8_t *o,
                       size_t *olen)
{
  yz_noise_cipherstate cs;
  assert_int_equal(yz__noise_aead_route(route), 0);
  yz_noise_cs_init(&cs, c);
  yz_noise_cs_initialize_key(&cs, key);
  assert_int_equal(yz_noise_cs_set_nonce(&cs, n), 0);
  if (o != ct)
    memset(o, 0xaa, ctlen);
  int rc =
      yz_noise_cs_decrypt_with_ad(&cs, ad, adlen, ct, ctlen, o, CAP, olen);
  if (rc == 0) {
    assert_int_equal(yz_noise_cs_nonce(&cs), n + 1);
  } else {
    assert_int_equal(yz_noise_cs_nonce(&cs), n);
    for (size_t i = 0; i + YZ_NOISE_TAG_LEN < ctlen; i++)
      assert_int_equal(o[i], 0);
  }
  yz_noise_cs_clear(&cs);
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  return rc;
}

/* The backend this run expects: the build's, or YZ_TEST_AEAD_EXPECT (the
 * run with an OpenSSL configuration that has no usable provider, where
 * libsodium must take over every call). */
static const char *expected_backend(void)
{
  const char *e = getenv("YZ_TEST_AEAD_EXPECT");
  return e != NULL ? e : YZ_TEST_AEAD_BACKEND;
}

static void test_backend_name(void **state)
{
  (void)state;
  assert_string_equal(yz_noise_aead_backend(), expected_backend());
  assert_int_equal(yz__noise_aead_route(7), YZ_E_INVAL);
  if (strcmp(expected_backend(), "openssl") != 0) {
    /* No usable libcrypto: libsodium only, OPENSSL refused. */
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_OPENSSL), YZ_E_UNSUPPORTED);
    assert_false(have_openssl());
    return;
  }
#if YZ_NOISE_AEAD_OPENSSL
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_LIBSODIUM), 0);
  assert_string_equal(yz_noise_aead_backend(), "libsodium");
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  /* AESGCM runs on any CPU through libcrypto (libsodium needs AES-NI). */
  assert_true(yz__noise_aead_aesgcm_ok());
  yz_noise_protocol p;
  static const char name[] = "Noise_NN_25519_AESGCM_SHA256";
  assert_int_equal(yz_noise_protocol_parse(&p, (const uint8_t *)name,
                                           sizeof name - 1, NULL),
                   0);
#endif
}

/* Both libraries, every length class, three random cases each: the same
 * ciphertext and tag, and each opens the other's (also in place). */
static void test_same_bytes(void **state)
{
  (void)state;
  if (!have_openssl())
    skip();
  for (size_t ci = 0; ci < 2; ci++)
    for (size_t li = 0; li < YZ__ARRAY_LEN(lens); li++)
      for (int round = 0; round < 3; round++) {
        yz_noise_cipher c = ciphers[ci];
        size_t len = lens[li], la, lb, lo;
        uint8_t key[32], ad[64], adlen8;
        uint64_t n;
        rnd(key, sizeof key);
        rnd(&n, sizeof n);
        n %= YZ_NOISE_NONCE_MAX;
        rnd(&adlen8, 1);
        size_t adlen = round == 0 ? 0 : adlen8 % (sizeof ad + 1);
        rnd(ad, sizeof ad);
        rnd(pt, len);
        assert_int_equal(encrypt_via(YZ__AEAD_LIBSODIUM, c, key, n, ad, adlen,
                                     pt, len, ct_a, &la),
                         0);
        assert_int_equal(encrypt_via(YZ__AEAD_OPENSSL, c, key, n, ad, adlen,
                                     pt, len, ct_b, &lb),
                         0);
        assert_int_equal(la, len + YZ_NOISE_TAG_LEN);
        assert_int_equal(lb, la);
        if (memcmp(ct_a, ct_b, la) != 0)
          fail_msg("cipher %d, %zu bytes, round %d: libraries differ", c, len,
                   round);
        assert_int_equal(encrypt_via(YZ__AEAD_AUTO, c, key, n, ad, adlen, pt,
                                     len, ct_b, &lb),
                         0);
        assert_memory_equal(ct_a, ct_b, la);
        /* Each opens the other's. */
        assert_int_equal(decrypt_via(YZ__AEAD_OPENSSL, c, key, n, ad, adlen,
                                     ct_a, la, out, &lo),
                         0);
        assert_int_equal(lo, len);
        assert_memory_equal(out, pt, len);
        assert_int_equal(decrypt_via(YZ__AEAD_LIBSODIUM, c, key, n, ad, adlen,
                                     ct_b, lb, out, &lo),
                         0);
        assert_memory_equal(out, pt, len);
        /* In place, through libcrypto. */
        assert_int_equal(decrypt_via(YZ__AEAD_OPENSSL, c, key, n, ad, adlen,
                                     ct_b, lb, ct_b, &lo),
                         0);
        assert_memory_equal(ct_b, pt, len);
      }
}

/* A frame given as a head and a body (yz__noise_cs_encrypt_gather, the
 * session's send path): the same bytes and nonce as EncryptWithAd of the
 * concatenation (libsodium's), for every length class, head lengths of the
 * session's frames (type, + 2, 4 or 8 header bytes), every route, both
 * ciphers; a body overlapping the output too. */
static void test_gather_same_bytes(void **state)
{
  (void)state;
  static const size_t heads[] = {1, 3, 5, 9};
  static const int routes[] = {YZ__AEAD_AUTO, YZ__AEAD_LIBSODIUM,
                               YZ__AEAD_OPENSSL};
  static uint8_t body[CAP], whole[CAP];
  for (size_t ci = 0; ci < 2; ci++) {
    if (!cipher_ok(ciphers[ci]))
      continue;
    for (size_t li = 0; li < YZ__ARRAY_LEN(lens); li++)
      for (size_t hi = 0; hi < YZ__ARRAY_LEN(heads); hi++)
        for (size_t ri = 0; ri < YZ__ARRAY_LEN(routes); ri++) {
          size_t hl = heads[hi];
          size_t bl = lens[li] > hl ? lens[li] - hl : 0, la, lb;
          uint8_t key[32], head[9];
          uint64_t n;
          if (routes[ri] == YZ__AEAD_OPENSSL && !have_openssl())
            continue;
          rnd(key, sizeof key);
          rnd(&n, sizeof n);
          n %= YZ_NOISE_NONCE_MAX;
          rnd(head, hl);
          rnd(body, bl);
          memcpy(whole, head, hl);
          memcpy(whole + hl, body, bl);
          assert_int_equal(encrypt_via(YZ__AEAD_LIBSODIUM, ciphers[ci], key,
                                       n, NULL, 0, whole, hl + bl, ct_a, &la),
                           0);
          yz_noise_cipherstate cs;
          assert_int_equal(yz__noise_aead_route(routes[ri]), 0);
          yz_noise_cs_init(&cs, ciphers[ci]);
          yz_noise_cs_initialize_key(&cs, key);
          assert_int_equal(yz_noise_cs_set_nonce(&cs, n), 0);
          assert_int_equal(yz__noise_cs_encrypt_gather(&cs, head, hl, body,
                                                       bl, ct_b, CAP, &lb),
                           0);
          assert_int_equal(yz_noise_cs_nonce(&cs), n + 1);
          assert_int_equal(lb, la);
          if (memcmp(ct_a, ct_b, la) != 0)
            fail_msg("cipher %d, head %zu, body %zu, route %d: differ",
                     ciphers[ci], hl, bl, routes[ri]);
          /* the body already where the frame goes (overlapping out) */
          assert_int_equal(yz_noise_cs_set_nonce(&cs, n), 0);
          memcpy(ct_b + hl, body, bl);
          assert_int_equal(yz__noise_cs_encrypt_gather(&cs, head, hl,
                                                       ct_b + hl, bl, ct_b,
                                                       CAP, &lb),
                           0);
          assert_memory_equal(ct_a, ct_b, la);
          yz_noise_cs_clear(&cs);
          assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
        }
  }
}

/* Rekey (section 4.2) gives the same key through either library. */
static void test_rekey_same(void **state)
{
  (void)state;
  if (!have_openssl())
    skip();
  for (size_t ci = 0; ci < 2; ci++) {
    yz_noise_cipherstate a, b;
    uint8_t key[32];
    size_t la, lb;
    rnd(key, sizeof key);
    rnd(pt, 1024);
    yz_noise_cs_init(&a, ciphers[ci]);
    yz_noise_cs_init(&b, ciphers[ci]);
    yz_noise_cs_initialize_key(&a, key);
    yz_noise_cs_initialize_key(&b, key);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_LIBSODIUM), 0);
    assert_int_equal(yz_noise_cs_rekey(&a), 0);
    assert_int_equal(
        yz_noise_cs_encrypt_with_ad(&a, NULL, 0, pt, 1024, ct_a, CAP, &la), 0);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_OPENSSL), 0);
    assert_int_equal(yz_noise_cs_rekey(&b), 0);
    assert_int_equal(
        yz_noise_cs_encrypt_with_ad(&b, NULL, 0, pt, 1024, ct_b, CAP, &lb), 0);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
    assert_memory_equal(ct_a, ct_b, la);
    yz_noise_cs_clear(&a);
    yz_noise_cs_clear(&b);
  }
}

/* A retired key does not stay in this thread's libcrypto contexts:
 * yz_noise_cs_clear() and Rekey overwrite the contexts that hold it. A
 * copy of a CipherState (a plain struct) stays usable after the original
 * is cleared: the contexts are re-keyed from the copy's key. */
static void test_clear_forgets_key(void **state)
{
  (void)state;
  if (!have_openssl())
    skip();
  for (size_t ci = 0; ci < 2; ci++) {
    yz_noise_cipherstate a, b, copy;
    uint8_t key[32], old[32];
    size_t len, plen;
    rnd(key, sizeof key);
    rnd(pt, 1024);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_OPENSSL), 0);
    yz_noise_cs_init(&a, ciphers[ci]);
    yz_noise_cs_init(&b, ciphers[ci]);
    yz_noise_cs_initialize_key(&a, key);
    yz_noise_cs_initialize_key(&b, key);
    assert_int_equal(
        yz_noise_cs_encrypt_with_ad(&a, NULL, 0, pt, 1024, ct_a, CAP, &len),
        0);
    assert_int_equal(yz__noise_aead_contexts_holding(key), 1);
    assert_int_equal(
        yz_noise_cs_decrypt_with_ad(&b, NULL, 0, ct_a, len, out, CAP, &plen),
        0);
    assert_int_equal(yz__noise_aead_contexts_holding(key), 2);
    copy = b;
    yz_noise_cs_clear(&b);
    assert_int_equal(yz__noise_aead_contexts_holding(key), 0);
    /* the copy still opens the next message */
    assert_int_equal(
        yz_noise_cs_encrypt_with_ad(&a, NULL, 0, pt, 1024, ct_a, CAP, &len),
        0);
    assert_int_equal(yz_noise_cs_decrypt_with_ad(&copy, NULL, 0, ct_a, len,
                                                 out, CAP, &plen),
                     0);
    assert_memory_equal(out, pt, 1024);
    /* Rekey retires the old key from the contexts, both directions */
    memcpy(old, key, sizeof old);
    assert_int_equal(yz_noise_cs_rekey(&a), 0);
    assert_int_equal(yz_noise_cs_rekey(&copy), 0);
    assert_int_equal(yz__noise_aead_contexts_holding(old), 0);
    assert_int_equal(
        yz_noise_cs_encrypt_with_ad(&a, NULL, 0, pt, 1024, ct_a, CAP, &len),
        0);
    assert_int_equal(yz_noise_cs_decrypt_with_ad(&copy, NULL, 0, ct_a, len,
                                                 out, CAP, &plen),
                     0);
    assert_int_equal(yz__noise_aead_contexts_holding(a.k), 2);
    memcpy(old, a.k, sizeof old);
    yz_noise_cs_clear(&a);
    yz_noise_cs_clear(&copy);
    assert_int_equal(yz__noise_aead_contexts_holding(old), 0);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  }
}

/* A flipped tag, ciphertext or associated-data byte fails on each library:
 * YZ_E_DECRYPT, output wiped, n unchanged (checked in decrypt_via). */
static void test_tamper(void **state)
{
  (void)state;
  int routes[2] = {YZ__AEAD_LIBSODIUM, YZ__AEAD_OPENSSL};
  int nroutes = have_openssl() ? 2 : 1;
  for (int r = 0; r < nroutes; r++)
    for (size_t ci = 0; ci < 2; ci++)
      for (size_t li = 0; li < YZ__ARRAY_LEN(lens); li++) {
        yz_noise_cipher c = ciphers[ci];
        size_t len = lens[li], la, lo;
        uint8_t key[32], ad[32];
        if (!cipher_ok(c))
          continue;
        rnd(key, sizeof key);
        rnd(ad, sizeof ad);
        rnd(pt, len);
        assert_int_equal(encrypt_via(routes[r], c, key, 5, ad, sizeof ad, pt,
                                     len, ct_a, &la),
                         0);
        ct_a[la - 1] ^= 0x80; /* tag */
        assert_int_equal(decrypt_via(routes[r], c, key, 5, ad, sizeof ad, ct_a,
                                     la, out, &lo),
                         YZ_E_DECRYPT);
        ct_a[la - 1] ^= 0x80;
        if (len > 0) {
          ct_a[len / 2] ^= 1; /* ciphertext */
          assert_int_equal(decrypt_via(routes[r], c, key, 5, ad, sizeof ad,
                                       ct_a, la, out, &lo),
                           YZ_E_DECRYPT);
          ct_a[len / 2] ^= 1;
        }
        ad[7] ^= 4; /* associated data */
        assert_int_equal(decrypt_via(routes[r], c, key, 5, ad, sizeof ad, ct_a,
                                     la, out, &lo),
                         YZ_E_DECRYPT);
        ad[7] ^= 4;
        /* The wrong nonce; then the untouched message still opens, in
         * place, so nothing above broke the state. */
        assert_int_equal(decrypt_via(routes[r], c, key, 6, ad, sizeof ad, ct_a,
                                     la, out, &lo),
                         YZ_E_DECRYPT);
        assert_int_equal(decrypt_via(routes[r], c, key, 5, ad, sizeof ad, ct_a,
                                     la, ct_a, &lo),
                         0);
        assert_memory_equal(ct_a, pt, len);
      }
}

#if YZ_NOISE_AEAD_OPENSSL
/* libcrypto's allocator, counted, and made to fail on demand. Installed in
 * main() before libcrypto allocates anything. */
static unsigned long ossl_allocs;
static bool ossl_fail;
static void *count_malloc(size_t n, const char *f, int l)
{
  (void)f, (void)l;
  if (ossl_fail)
    return NULL;
  ossl_allocs++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n, const char *f, int l)
{
  (void)f, (void)l;
  if (ossl_fail)
    return NULL;
  ossl_allocs++;
  return realloc(p, n);
}
static void count_free(void *p, const char *f, int l)
{
  (void)f, (void)l;
  free(p);
}

/* Messages under a key the thread's contexts hold allocate nothing in
 * libcrypto (the contexts are made once; the ciphers fetched once). */
static void test_no_alloc_per_message(void **state)
{
  (void)state;
  if (!have_openssl())
    skip();
  static const uint8_t key_tx[32] = {1}, key_rx[32] = {2};
  for (size_t ci = 0; ci < 2; ci++) {
    yz_noise_cipherstate tx, rx, peer_tx, peer_rx;
    size_t len, plen;
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_OPENSSL), 0);
    yz_noise_cs_init(&tx, ciphers[ci]);
    yz_noise_cs_init(&rx, ciphers[ci]);
    yz_noise_cs_init(&peer_tx, ciphers[ci]);
    yz_noise_cs_init(&peer_rx, ciphers[ci]);
    yz_noise_cs_initialize_key(&tx, key_tx);
    yz_noise_cs_initialize_key(&peer_rx, key_tx);
    yz_noise_cs_initialize_key(&rx, key_rx);
    yz_noise_cs_initialize_key(&peer_tx, key_rx);
    unsigned long before = 0;
    for (int i = 0; i < 201; i++) {
      if (i == 1)
        before = ossl_allocs; /* after the first: contexts exist */
      size_t n = i % 2 ? 1024 : YZ_NOISE_MAX_PAYLOAD_LEN;
      /* one link's echo: send, the peer reads and answers, read */
      assert_int_equal(
          yz_noise_cs_encrypt_with_ad(&tx, NULL, 0, pt, n, ct_a, CAP, &len),
          0);
      assert_int_equal(yz_noise_cs_decrypt_with_ad(&peer_rx, NULL, 0, ct_a,
                                                   len, out, CAP, &plen),
                       0);
      assert_int_equal(yz_noise_cs_encrypt_with_ad(&peer_tx, NULL, 0, out,
                                                   plen, ct_a, CAP, &len),
                       0);
      assert_int_equal(yz_noise_cs_decrypt_with_ad(&rx, NULL, 0, ct_a, len,
                                                   out, CAP, &plen),
                       0);
    }
    assert_int_equal(ossl_allocs, before);
    yz_noise_cs_clear(&tx);
    yz_noise_cs_clear(&rx);
    yz_noise_cs_clear(&peer_tx);
    yz_noise_cs_clear(&peer_rx);
    assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  }
}

/* On a fresh thread whose contexts cannot be allocated: error codes, no
 * abort, n unchanged, output wiped, OpenSSL's error queue left empty;
 * once memory is back, the same calls succeed (and the thread's exit
 * frees its contexts: LSan checks). */
struct fail_run {
  int enc_rc, dec_rc, enc_rc2, dec_rc2;
  uint64_t n_after;
  unsigned long err_left;
  bool wiped;
};

static void *fail_thread(void *p)
{
  struct fail_run *r = p;
  static const uint8_t key[32] = {7};
  static uint8_t buf[2048], ct[2048], o[2048];
  yz_noise_cipherstate a, b;
  size_t len, plen;
  yz_noise_cs_init(&a, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_init(&b, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_initialize_key(&a, key);
  yz_noise_cs_initialize_key(&b, key);
  memset(buf, 0x42, sizeof buf);

  ossl_fail = true;
  r->enc_rc =
      yz_noise_cs_encrypt_with_ad(&a, NULL, 0, buf, 1024, ct, sizeof ct, &len);
  r->n_after = yz_noise_cs_nonce(&a);
  memcpy(ct, buf, 1024 + 16); /* anything: it is never authenticated */
  memset(o, 0x55, sizeof o);
  r->dec_rc = yz_noise_cs_decrypt_with_ad(&b, NULL, 0, ct, 1024 + 16, o,
                                          sizeof o, &plen);
  r->wiped = true;
  for (size_t i = 0; i < 1024; i++)
    r->wiped &= o[i] == 0;
  r->n_after += yz_noise_cs_nonce(&b);
  ossl_fail = false;
  r->err_left = ERR_peek_error();

  r->enc_rc2 =
      yz_noise_cs_encrypt_with_ad(&a, NULL, 0, buf, 1024, ct, sizeof ct, &len);
  r->dec_rc2 =
      yz_noise_cs_decrypt_with_ad(&b, NULL, 0, ct, len, o, sizeof o, &plen);
  yz_noise_cs_clear(&a);
  yz_noise_cs_clear(&b);
  return NULL;
}

static void test_libcrypto_failure(void **state)
{
  (void)state;
  if (!have_openssl())
    skip();
  struct fail_run r;
  pthread_t t;
  memset(&r, 0, sizeof r);
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_OPENSSL), 0);
  assert_int_equal(pthread_create(&t, NULL, fail_thread, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(yz__noise_aead_route(YZ__AEAD_AUTO), 0);
  assert_int_equal(r.enc_rc, YZ_E_NOMEM);
  assert_int_equal(r.dec_rc, YZ_E_NOMEM);
  assert_int_equal(r.n_after, 0);
  assert_true(r.wiped);
  assert_int_equal(r.err_left, 0);
  assert_int_equal(r.enc_rc2, 0);
  assert_int_equal(r.dec_rc2, 0);
}
#endif

int main(void)
{
#if YZ_NOISE_AEAD_OPENSSL
  if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
    fprintf(stderr, "libcrypto allocated before main\n");
    return 1;
  }
#endif
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_backend_name),
    cmocka_unit_test(test_same_bytes),
    cmocka_unit_test(test_gather_same_bytes),
    cmocka_unit_test(test_rekey_same),
    cmocka_unit_test(test_clear_forgets_key),
    cmocka_unit_test(test_tamper),
#if YZ_NOISE_AEAD_OPENSSL
    cmocka_unit_test(test_no_alloc_per_message),
    cmocka_unit_test(test_libcrypto_failure),
#endif
  };
  return cmocka_run_group_tests_name("aead", tests, NULL, NULL);
}
