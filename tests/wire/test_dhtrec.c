/*
 * DHT records (yz/dhtrec.h, docs/protocol.md "DHT records"): key
 * derivations, round trips of both kinds, every field tampered, every
 * decoding rule broken once, every store check and replacement rule.
 *
 * Malformed records are written by a small CBOR writer of the test's own,
 * so the decoder gets inputs the encoder cannot produce, and the encoder is
 * checked against it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "yz/dhtrec.h"

#define NOW 1800000000u /* Unix seconds */

static uint8_t value_a[] = "the first value";
static uint8_t value_b[] = "another value!!";

static void identity_of(yz_identity *id, uint8_t seed_byte)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, seed_byte, sizeof seed);
  assert_int_equal(yz_identity_from_seed(id, seed), 0);
}

static void immutable(yz_dhtrec *r, const uint8_t *v, size_t n)
{
  memset(r, 0, sizeof *r);
  r->kind = YZ_DHTREC_IMMUTABLE;
  r->value = v;
  r->value_len = n;
  r->expiry = NOW + 3600;
  assert_int_equal(yz_dhtrec_derive_key(r), 0);
}

static void mutable_rec(yz_dhtrec *r, const yz_identity *id, uint64_t seq,
                        const uint8_t *v, size_t n)
{
  memset(r, 0, sizeof *r);
  r->kind = YZ_DHTREC_MUTABLE;
  r->value = v;
  r->value_len = n;
  r->expiry = NOW + 3600;
  r->seq = seq;
  memcpy(r->salt, "salt", 4);
  r->salt_len = 4;
  assert_int_equal(yz_dhtrec_sign(r, id, NULL), 0);
}

static size_t encode(const yz_dhtrec *r, uint8_t *out, size_t cap)
{
  size_t n = 0;
  assert_int_equal(yz_dhtrec_encode(r, out, cap, &n), 0);
  return n;
}

/* Decode; on error, the record is zeroed and there is a reason. */
static int decode(yz_dhtrec *r, const uint8_t *b, size_t n, size_t vmax)
{
  memset(r, 0xA5, sizeof *r);
  const char *why = NULL;
  int rc = yz_dhtrec_decode(r, b, n, vmax, &why);
  if (rc != 0) {
    static const yz_dhtrec zero;
    assert_non_null(why);
    assert_memory_equal(r, &zero, sizeof *r);
  }
  return rc;
}

static yz_dhtrec_status check(const yz_dhtrec *r, const uint8_t *key,
                              uint64_t now, const yz_dhtrec_limits *lim)
{
  const char *why = NULL;
  yz_dhtrec_status st = yz_dhtrec_check(r, key, now, lim, &why);
  if (st != YZ_DHTREC_OK)
    assert_non_null(why);
  return st;
}

/* ---- the test's own CBOR writer ---------------------------------------- */

typedef struct w {
  uint8_t b[1200];
  size_t n;
} w;

static void w_head(w *x, uint8_t major, uint64_t v)
{
  major = (uint8_t)(major << 5);
  if (v < 24) {
    x->b[x->n++] = (uint8_t)(major | v);
  } else if (v < 0x100) {
    x->b[x->n++] = major | 24;
    x->b[x->n++] = (uint8_t)v;
  } else if (v < 0x10000) {
    x->b[x->n++] = major | 25;
    x->b[x->n++] = (uint8_t)(v >> 8);
    x->b[x->n++] = (uint8_t)v;
  } else if (v <= UINT32_MAX) {
    x->b[x->n++] = major | 26;
    for (int i = 3; i >= 0; i--)
      x->b[x->n++] = (uint8_t)(v >> (8 * i));
  } else {
    x->b[x->n++] = major | 27;
    for (int i = 7; i >= 0; i--)
      x->b[x->n++] = (uint8_t)(v >> (8 * i));
  }
}

static void w_bstr(w *x, const void *p, size_t n)
{
  w_head(x, 2, n);
  memcpy(x->b + x->n, p, n);
  x->n += n;
}

/* A mutable record's map by hand; each field can be left out (skip = its
 * key) or given another size. */
static void w_mutable(w *x, const yz_dhtrec *r, int skip, size_t pk_len,
                      size_t salt_len, size_t sig_len)
{
  static const uint8_t zeros[128];
  x->n = 0;
  w_head(x, 5, skip ? 6 : 7);
  if (skip != 1) {
    w_head(x, 0, 1);
    w_head(x, 0, r->kind);
  }
  if (skip != 2) {
    w_head(x, 0, 2);
    w_bstr(x, r->value, r->value_len);
  }
  if (skip != 3) {
    w_head(x, 0, 3);
    w_head(x, 0, r->expiry);
  }
  if (skip != 4) {
    w_head(x, 0, 4);
    w_bstr(x, pk_len == 32 ? r->public_key : zeros, pk_len);
  }
  if (skip != 5) {
    w_head(x, 0, 5);
    w_bstr(x, salt_len <= r->salt_len ? r->salt : zeros, salt_len);
  }
  if (skip != 6) {
    w_head(x, 0, 6);
    w_head(x, 0, r->seq);
  }
  if (skip != 7) {
    w_head(x, 0, 7);
    w_bstr(x, sig_len == 64 ? r->signature : zeros, sig_len);
  }
}

/* ---- keys and signed bytes --------------------------------------------- */

static void test_keys(void **state)
{
  (void)state;
  /* immutable: SHA-256("yz dht immutable v1" 0x00 || value) */
  uint8_t buf[64], want[32], key[32];
  memcpy(buf, "yz dht immutable v1", 20); /* with its NUL */
  memcpy(buf + 20, "abc", 3);
  crypto_hash_sha256(want, buf, 23);
  yz_dhtrec_immutable_key(key, (const uint8_t *)"abc", 3);
  assert_memory_equal(key, want, 32);

  /* mutable: SHA-256("yz dht mutable v1" 0x00 || pk || salt) */
  uint8_t pk[32], salt[65];
  memset(pk, 7, sizeof pk);
  memset(salt, 9, sizeof salt);
  memcpy(buf, "yz dht mutable v1", 18);
  memcpy(buf + 18, pk, 32);
  memcpy(buf + 50, salt, 3);
  crypto_hash_sha256(want, buf, 53);
  assert_int_equal(yz_dhtrec_mutable_key(key, pk, salt, 3), 0);
  assert_memory_equal(key, want, 32);
  crypto_hash_sha256(want, buf, 50); /* no salt */
  assert_int_equal(yz_dhtrec_mutable_key(key, pk, NULL, 0), 0);
  assert_memory_equal(key, want, 32);
  assert_int_equal(yz_dhtrec_mutable_key(key, pk, salt, 64), 0);
  assert_int_equal(yz_dhtrec_mutable_key(key, pk, salt, 65), YZ_E_INVAL);

  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  assert_int_equal(yz_dhtrec_derive_key(&r), YZ_E_INVAL); /* no kind */
  assert_int_equal(yz_dhtrec_derive_key(NULL), YZ_E_INVAL);
}

static void test_signed_bytes(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  yz_dhtrec r;
  mutable_rec(&r, &id, 0x0102030405060708u, value_a, sizeof value_a);
  uint8_t sb[YZ_DHTREC_SIGNED_MAX_LEN], want[YZ_DHTREC_SIGNED_MAX_LEN];
  size_t n, o = 0;
  assert_int_equal(yz_dhtrec_signed_bytes(&r, sb, sizeof sb, &n), 0);
  memcpy(want, "yz dht mutable record v1", 25);
  o = 25;
  memcpy(want + o, yz_identity_public_key(&id), 32);
  o += 32;
  want[o++] = 4;
  memcpy(want + o, "salt", 4);
  o += 4;
  for (int i = 1; i <= 8; i++)
    want[o++] = (uint8_t)i;
  uint64_t e = NOW + 3600;
  for (int i = 7; i >= 0; i--)
    want[o++] = (uint8_t)(e >> (8 * i));
  crypto_hash_sha256(want + o, value_a, sizeof value_a);
  o += 32;
  assert_int_equal(n, o);
  assert_memory_equal(sb, want, n);
  assert_int_equal(
      crypto_sign_ed25519_verify_detached(r.signature, sb, n, r.public_key),
      0);
  assert_int_equal(yz_dhtrec_signed_bytes(&r, sb, n - 1, &n), YZ_E_TOO_LARGE);
  r.kind = YZ_DHTREC_IMMUTABLE;
  assert_int_equal(yz_dhtrec_signed_bytes(&r, sb, sizeof sb, &n), YZ_E_INVAL);
  yz_identity_clear(&id);
}

/* ---- round trips
 * ----------------------------------------------------------*/

static void test_roundtrip_immutable(void **state)
{
  (void)state;
  yz_dhtrec r, d;
  immutable(&r, value_a, sizeof value_a);
  uint8_t enc[256];
  size_t n = encode(&r, enc, sizeof enc);
  /* the encoder agrees with the test's writer */
  w x = {.n = 0};
  w_head(&x, 5, 3);
  w_head(&x, 0, 1);
  w_head(&x, 0, 1);
  w_head(&x, 0, 2);
  w_bstr(&x, value_a, sizeof value_a);
  w_head(&x, 0, 3);
  w_head(&x, 0, NOW + 3600);
  assert_int_equal(n, x.n);
  assert_memory_equal(enc, x.b, n);

  assert_int_equal(decode(&d, enc, n, 0), 0);
  assert_int_equal(d.kind, YZ_DHTREC_IMMUTABLE);
  assert_ptr_equal(d.value, enc + 5); /* left in place */
  assert_int_equal(d.value_len, sizeof value_a);
  assert_int_equal(d.expiry, NOW + 3600);
  assert_memory_equal(d.key, r.key, 32);
  assert_int_equal(check(&d, r.key, NOW, NULL), YZ_DHTREC_OK);
  uint8_t enc2[256];
  assert_int_equal(encode(&d, enc2, sizeof enc2), n);
  assert_memory_equal(enc, enc2, n);
  assert_int_equal(yz_dhtrec_encode(&r, enc2, n - 1, &n), YZ_E_TOO_LARGE);
}

static void test_roundtrip_mutable(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 2);
  for (size_t salt_len = 0; salt_len <= YZ_DHTREC_SALT_MAX; salt_len += 16) {
    yz_dhtrec r, d;
    mutable_rec(&r, &id, 42, value_b, sizeof value_b);
    memset(r.salt, 0x5a, salt_len);
    r.salt_len = (uint8_t)salt_len;
    assert_int_equal(yz_dhtrec_sign(&r, &id, NULL), 0);
    uint8_t enc[512];
    size_t n = encode(&r, enc, sizeof enc);
    w x;
    w_mutable(&x, &r, 0, 32, salt_len, 64);
    assert_int_equal(n, x.n);
    assert_memory_equal(enc, x.b, n);
    assert_int_equal(decode(&d, enc, n, 0), 0);
    assert_int_equal(d.kind, YZ_DHTREC_MUTABLE);
    assert_int_equal(d.seq, 42);
    assert_int_equal(d.salt_len, salt_len);
    assert_memory_equal(d.salt, r.salt, salt_len);
    assert_memory_equal(d.public_key, yz_identity_public_key(&id), 32);
    assert_memory_equal(d.signature, r.signature, 64);
    assert_memory_equal(d.key, r.key, 32);
    assert_int_equal(check(&d, r.key, NOW, NULL), YZ_DHTREC_OK);
    uint8_t enc2[512];
    assert_int_equal(encode(&d, enc2, sizeof enc2), n);
    assert_memory_equal(enc, enc2, n);
  }
  yz_identity_clear(&id);
}

/* A raw key pair signs exactly as the identity with the same key does. */
static void test_sign_raw(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 3);
  yz_dhtrec a, b;
  mutable_rec(&a, &id, 1, value_a, sizeof value_a);
  b = a;
  memset(b.signature, 0, 64);
  memset(b.public_key, 0, 32);
  uint8_t same_pk[32], same_sk[64], same_seed[32];
  memset(same_seed, 3, sizeof same_seed); /* identity_of(&id, 3) */
  crypto_sign_ed25519_seed_keypair(same_pk, same_sk, same_seed);
  assert_int_equal(yz_dhtrec_sign_raw(&b, same_sk, NULL), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_int_equal(check(&b, a.key, NOW, NULL), YZ_DHTREC_OK);

  uint8_t pk[32], sk[64];
  uint8_t seed[32] = {9};
  crypto_sign_ed25519_seed_keypair(pk, sk, seed);
  assert_int_equal(yz_dhtrec_sign_raw(&b, sk, NULL), 0);
  assert_memory_equal(b.public_key, pk, 32);
  assert_int_equal(check(&b, b.key, NOW, NULL), YZ_DHTREC_OK);

  const char *why = NULL;
  b.salt_len = 65;
  assert_int_equal(yz_dhtrec_sign_raw(&b, sk, &why), YZ_E_INVAL);
  assert_non_null(why);
  b.salt_len = 0;
  b.value_len = 0;
  assert_int_equal(yz_dhtrec_sign(&b, &id, &why), YZ_E_INVAL);
  b.value_len = 1;
  b.kind = YZ_DHTREC_IMMUTABLE;
  assert_int_equal(yz_dhtrec_sign(&b, &id, &why), YZ_E_INVAL);
  assert_int_equal(yz_dhtrec_sign(NULL, &id, &why), YZ_E_INVAL);
  yz_identity_clear(&id);
}

/* ---- every field tampered ----------------------------------------------- */

static void test_tamper_fields(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 4);
  yz_dhtrec r, t;
  mutable_rec(&r, &id, 7, value_a, sizeof value_a);
  assert_int_equal(check(&r, r.key, NOW, NULL), YZ_DHTREC_OK);

  /* Fields the key covers: WRONG_KEY under the original key, and
   * BAD_SIGNATURE under the key derived from the tampered record. */
  t = r;
  t.public_key[0] ^= 1;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(yz_dhtrec_derive_key(&t), 0);
  assert_int_equal(check(&t, t.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  t = r;
  t.salt[0] ^= 1;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(yz_dhtrec_derive_key(&t), 0);
  assert_int_equal(check(&t, t.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  t = r;
  t.salt_len = 3;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(yz_dhtrec_derive_key(&t), 0);
  assert_int_equal(check(&t, t.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);

  /* Signed fields: BAD_SIGNATURE. */
  t = r;
  t.seq++;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  t = r;
  t.expiry++;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  t = r;
  t.value = value_b;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  t = r;
  t.value_len--;
  assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  for (size_t i = 0; i < 64; i++) {
    t = r;
    t.signature[i] ^= 0x80;
    assert_int_equal(check(&t, r.key, NOW, NULL), YZ_DHTREC_BAD_SIGNATURE);
  }

  /* Immutable: the value is the key; the expiry is the writer's, unsigned
   * (any holder of the value may store it again for longer). */
  yz_dhtrec im;
  immutable(&im, value_a, sizeof value_a);
  t = im;
  t.value = value_b;
  assert_int_equal(check(&t, im.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  t = im;
  t.value_len--;
  assert_int_equal(check(&t, im.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  t = im;
  t.expiry += 10;
  assert_int_equal(check(&t, im.key, NOW, NULL), YZ_DHTREC_OK);
  /* A record of one kind under the other kind's key. */
  assert_int_equal(check(&im, r.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(check(&r, im.key, NOW, NULL), YZ_DHTREC_WRONG_KEY);
  yz_identity_clear(&id);
}

/* Every bit of every byte of both encodings flipped: never accepted as the
 * original record's key with the original signature. */
static void test_tamper_bytes(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 5);
  yz_dhtrec recs[2];
  mutable_rec(&recs[0], &id, 9, value_a, sizeof value_a);
  immutable(&recs[1], value_a, sizeof value_a);
  for (int k = 0; k < 2; k++) {
    uint8_t enc[512], t[512];
    size_t n = encode(&recs[k], enc, sizeof enc);
    for (size_t i = 0; i < n; i++) {
      for (int bit = 0; bit < 8; bit++) {
        memcpy(t, enc, n);
        t[i] ^= (uint8_t)(1u << bit);
        yz_dhtrec d;
        if (decode(&d, t, n, 0) != 0)
          continue;
        yz_dhtrec_status st = check(&d, recs[k].key, NOW, NULL);
        if (k == 1 && d.expiry != recs[k].expiry &&
            memcmp(d.value, value_a, sizeof value_a) == 0) {
          /* an immutable record's expiry is not signed */
          assert_true(st == YZ_DHTREC_OK || st == YZ_DHTREC_EXPIRED ||
                      st == YZ_DHTREC_EXPIRY_TOO_FAR);
          continue;
        }
        assert_int_not_equal(st, YZ_DHTREC_OK);
      }
    }
  }
  yz_identity_clear(&id);
}

/* ---- the decoder's rules ---------------------------------------------- */

static void test_decode_rules(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 6);
  yz_dhtrec r, d;
  mutable_rec(&r, &id, 3, value_a, sizeof value_a);
  w x;

  /* a key missing, one at a time */
  for (int skip = 1; skip <= 7; skip++) {
    w_mutable(&x, &r, skip, 32, 4, 64);
    assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  }
  /* wrong sizes */
  w_mutable(&x, &r, 0, 31, 4, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  w_mutable(&x, &r, 0, 33, 4, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  w_mutable(&x, &r, 0, 32, 4, 63);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  w_mutable(&x, &r, 0, 32, 64, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), 0);
  w_mutable(&x, &r, 0, 32, 65, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  w_mutable(&x, &r, 0, 32, 0, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), 0);
  assert_int_equal(d.salt_len, 0);

  /* empty value */
  yz_dhtrec e = r;
  e.value_len = 0;
  w_mutable(&x, &e, 0, 32, 4, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  /* a mutable record's map as immutable, and the other way round */
  e = r;
  e.kind = YZ_DHTREC_IMMUTABLE;
  w_mutable(&x, &e, 0, 32, 4, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  e.kind = 3;
  w_mutable(&x, &e, 0, 32, 4, 64);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  x.n = 0;
  w_head(&x, 5, 3);
  w_head(&x, 0, 1);
  w_head(&x, 0, 2);
  w_head(&x, 0, 2);
  w_bstr(&x, value_a, 3);
  w_head(&x, 0, 3);
  w_head(&x, 0, NOW);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  /* an unknown key 8 */
  w_mutable(&x, &r, 0, 32, 4, 64);
  x.b[0] = 0xa8;
  w_head(&x, 0, 8);
  w_head(&x, 0, 0);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  /* a value of the wrong type: text instead of bytes */
  x.n = 0;
  w_head(&x, 5, 3);
  w_head(&x, 0, 1);
  w_head(&x, 0, 1);
  w_head(&x, 0, 2);
  w_head(&x, 3, 1);
  x.b[x.n++] = 'a';
  w_head(&x, 0, 3);
  w_head(&x, 0, NOW);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  /* not a map; trailing bytes; truncated; not canonical */
  uint8_t enc[512];
  size_t n = encode(&r, enc, sizeof enc);
  assert_int_equal(decode(&d, (const uint8_t *)"\x80", 1, 0), YZ_E_MALFORMED);
  assert_int_equal(decode(&d, NULL, 0, 0), YZ_E_TRUNCATED);
  enc[n] = 0;
  assert_int_equal(decode(&d, enc, n + 1, 0), YZ_E_TRAILING);
  assert_int_equal(decode(&d, enc, n - 1, 0), YZ_E_TRUNCATED);
  x.n = 0;
  w_head(&x, 5, 3);
  w_head(&x, 0, 1);
  x.b[x.n++] = 0x18; /* 1 in two bytes */
  x.b[x.n++] = 0x01;
  w_head(&x, 0, 2);
  w_bstr(&x, value_a, 3);
  w_head(&x, 0, 3);
  w_head(&x, 0, NOW);
  assert_int_equal(decode(&d, x.b, x.n, 0), YZ_E_MALFORMED);
  assert_int_equal(yz_dhtrec_decode(NULL, enc, n, 0, NULL), YZ_E_INVAL);
  yz_identity_clear(&id);
}

/* The value limit, default and configured: decoder and check agree. */
static void test_value_limit(void **state)
{
  (void)state;
  size_t big = YZ_DHTREC_VALUE_MAX_DEFAULT + 1;
  uint8_t *v = malloc(big);
  uint8_t *enc = malloc(big + YZ_DHTREC_OVERHEAD_MAX);
  assert_non_null(v);
  assert_non_null(enc);
  memset(v, 0x33, big);
  yz_identity id;
  identity_of(&id, 7);
  yz_dhtrec r, d;
  size_t cap = big + YZ_DHTREC_OVERHEAD_MAX, n;

  /* exactly 64 KiB: accepted, the largest encoding within the bound */
  mutable_rec(&r, &id, 1, v, big - 1);
  memset(r.salt, 1, 64);
  r.salt_len = 64;
  r.seq = UINT64_MAX;
  r.expiry = UINT64_MAX;
  assert_int_equal(yz_dhtrec_sign(&r, &id, NULL), 0);
  assert_int_equal(yz_dhtrec_encode(&r, enc, cap, &n), 0);
  assert_int_equal(n, yz_dhtrec_encoded_max(0));
  assert_int_equal(decode(&d, enc, n, 0), 0);
  assert_int_equal(d.value_len, YZ_DHTREC_VALUE_MAX_DEFAULT);
  /* one more byte: TOO_LARGE (the input is over the bound) */
  r.value_len = big;
  assert_int_equal(yz_dhtrec_sign(&r, &id, NULL), 0);
  assert_int_equal(yz_dhtrec_encode(&r, enc, cap, &n), 0);
  assert_int_equal(decode(&d, enc, n, 0), YZ_E_TOO_LARGE);
  assert_int_equal(yz_dhtrec_decode_status(YZ_E_TOO_LARGE),
                   YZ_DHTREC_TOO_LARGE);
  /* under a larger configured limit it decodes; check() with the default
   * limit refuses it */
  assert_int_equal(decode(&d, enc, n, big), 0);
  r.expiry = NOW + 60;
  assert_int_equal(yz_dhtrec_sign(&r, &id, NULL), 0);
  yz_dhtrec_limits lim = {.value_max = big};
  assert_int_equal(check(&r, r.key, NOW, NULL), YZ_DHTREC_TOO_LARGE);
  assert_int_equal(check(&r, r.key, NOW, &lim), YZ_DHTREC_OK);

  /* a small configured limit: the value in a short record is refused */
  immutable(&r, v, 11);
  n = encode(&r, enc, cap);
  assert_int_equal(decode(&d, enc, n, 10), YZ_E_TOO_LARGE);
  assert_int_equal(decode(&d, enc, n, 11), 0);
  lim.value_max = 10;
  assert_int_equal(check(&r, r.key, NOW, &lim), YZ_DHTREC_TOO_LARGE);
  /* the configured limit never goes past YZ_DHTREC_VALUE_MAX_LIMIT */
  assert_int_equal(yz_dhtrec_encoded_max(SIZE_MAX),
                   YZ_DHTREC_VALUE_MAX_LIMIT + YZ_DHTREC_OVERHEAD_MAX);
  free(v);
  free(enc);
  yz_identity_clear(&id);
}

/* ---- the store's checks ------------------------------------------------- */

static void test_checks(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 8);
  yz_dhtrec r;
  mutable_rec(&r, &id, 1, value_a, sizeof value_a);
  /* expiry == now: expired; now - 1: fine */
  assert_int_equal(check(&r, r.key, r.expiry, NULL), YZ_DHTREC_EXPIRED);
  assert_int_equal(check(&r, r.key, r.expiry - 1, NULL), YZ_DHTREC_OK);
  /* the default maximum ahead: 48 h */
  uint64_t now = r.expiry - 48 * 3600;
  assert_int_equal(check(&r, r.key, now, NULL), YZ_DHTREC_OK);
  assert_int_equal(check(&r, r.key, now - 1, NULL), YZ_DHTREC_EXPIRY_TOO_FAR);
  /* a configured maximum */
  yz_dhtrec_limits lim = {.expiry_ahead = 60};
  assert_int_equal(check(&r, r.key, r.expiry - 60, &lim), YZ_DHTREC_OK);
  assert_int_equal(check(&r, r.key, r.expiry - 61, &lim),
                   YZ_DHTREC_EXPIRY_TOO_FAR);
  /* no overflow with the largest expiry */
  r.expiry = UINT64_MAX;
  assert_int_equal(yz_dhtrec_sign(&r, &id, NULL), 0);
  assert_int_equal(check(&r, r.key, 0, NULL), YZ_DHTREC_EXPIRY_TOO_FAR);
  assert_int_equal(check(&r, r.key, UINT64_MAX - 1, NULL), YZ_DHTREC_OK);
  /* the order: the cheap checks before the signature */
  r.signature[0] ^= 1;
  assert_int_equal(check(&r, r.key, UINT64_MAX, NULL), YZ_DHTREC_EXPIRED);
  assert_int_equal(check(&r, r.key, UINT64_MAX - 1, NULL),
                   YZ_DHTREC_BAD_SIGNATURE);
  /* misuse */
  assert_int_equal(check(NULL, r.key, 0, NULL), YZ_DHTREC_MALFORMED);
  assert_int_equal(yz_dhtrec_check(&r, NULL, 0, NULL, NULL),
                   YZ_DHTREC_MALFORMED);
  yz_identity_clear(&id);
}

/* ---- replacement ------------------------------------------------------- */

static yz_dhtrec_status replace(const yz_dhtrec *cand, const yz_dhtrec *cur,
                                const uint64_t *cas, yz_dhtrec_action *act)
{
  const char *why = NULL;
  *act = 0;
  yz_dhtrec_status st = yz_dhtrec_replace(cand, cur, cas, act, &why);
  if (st != YZ_DHTREC_OK) {
    assert_non_null(why);
    assert_int_equal(*act, 0);
  }
  return st;
}

static void test_replace(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 9);
  yz_dhtrec_action act;
  yz_dhtrec s5, s6, s5b, s5later, s5earlier;
  mutable_rec(&s5, &id, 5, value_a, sizeof value_a);
  mutable_rec(&s6, &id, 6, value_b, sizeof value_b);
  mutable_rec(&s5b, &id, 5, value_b, sizeof value_b);
  s5later = s5;
  s5later.expiry += 100;
  assert_int_equal(yz_dhtrec_sign(&s5later, &id, NULL), 0);
  s5earlier = s5;
  s5earlier.expiry -= 100;
  assert_int_equal(yz_dhtrec_sign(&s5earlier, &id, NULL), 0);

  assert_int_equal(replace(&s5, NULL, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_STORE);
  assert_int_equal(replace(&s6, &s5, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_REPLACE);
  assert_int_equal(replace(&s5, &s6, NULL, &act), YZ_DHTREC_SEQ_TOO_LOW);
  assert_int_equal(replace(&s5b, &s5, NULL, &act), YZ_DHTREC_SEQ_CONFLICT);
  assert_int_equal(replace(&s5later, &s5, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_REFRESH);
  assert_int_equal(replace(&s5earlier, &s5, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_KEEP);
  assert_int_equal(replace(&s5, &s5, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_KEEP);

  /* compare and swap */
  uint64_t cas = 5;
  assert_int_equal(replace(&s6, &s5, &cas, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_REPLACE);
  cas = 4;
  assert_int_equal(replace(&s6, &s5, &cas, &act), YZ_DHTREC_CAS_MISMATCH);
  cas = 6;
  assert_int_equal(replace(&s6, &s5, &cas, &act), YZ_DHTREC_CAS_MISMATCH);
  /* CAS is checked before seq (BEP 44) */
  cas = 4;
  assert_int_equal(replace(&s5, &s6, &cas, &act), YZ_DHTREC_CAS_MISMATCH);
  /* nothing stored: CAS does not apply */
  assert_int_equal(replace(&s6, NULL, &cas, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_STORE);

  /* another key (another salt, another signer) */
  yz_dhtrec other = s6;
  other.salt_len = 0;
  assert_int_equal(yz_dhtrec_sign(&other, &id, NULL), 0);
  assert_int_equal(replace(&other, &s5, NULL, &act), YZ_DHTREC_WRONG_KEY);

  /* immutable: the same value again refreshes, never conflicts */
  yz_dhtrec im, im2, im3;
  immutable(&im, value_a, sizeof value_a);
  im2 = im;
  im2.expiry += 1;
  assert_int_equal(replace(&im2, &im, NULL, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_REFRESH);
  assert_int_equal(replace(&im, &im2, &cas, &act), YZ_DHTREC_OK);
  assert_int_equal(act, YZ_DHTREC_KEEP);
  immutable(&im3, value_b, sizeof value_b);
  assert_int_equal(replace(&im3, &im, NULL, &act), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(replace(&im, &s5, NULL, &act), YZ_DHTREC_WRONG_KEY);
  assert_int_equal(replace(NULL, &s5, NULL, &act), YZ_DHTREC_MALFORMED);
  yz_identity_clear(&id);
}

static void test_status_names(void **state)
{
  (void)state;
  /* The numbers are the DHT message statuses (docs/protocol.md). */
  static const struct {
    int code;
    const char *name;
  } names[] = {{0, "OK"},
               {1, "MALFORMED"},
               {3, "TOO_LARGE"},
               {4, "BAD_SIGNATURE"},
               {5, "WRONG_KEY"},
               {6, "EXPIRED"},
               {7, "EXPIRY_TOO_FAR"},
               {8, "SEQ_TOO_LOW"},
               {9, "SEQ_CONFLICT"},
               {10, "CAS_MISMATCH"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    assert_string_equal(yz_dhtrec_status_name(names[i].code), names[i].name);
  assert_string_equal(yz_dhtrec_status_name(2), "UNKNOWN");
  assert_string_equal(yz_dhtrec_status_name(11), "UNKNOWN");
  assert_string_equal(yz_dhtrec_status_name(-1), "UNKNOWN");
  assert_int_equal(yz_dhtrec_decode_status(0), YZ_DHTREC_OK);
  assert_int_equal(yz_dhtrec_decode_status(YZ_E_TRAILING),
                   YZ_DHTREC_MALFORMED);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_signed_bytes),
      cmocka_unit_test(test_roundtrip_immutable),
      cmocka_unit_test(test_roundtrip_mutable),
      cmocka_unit_test(test_sign_raw),
      cmocka_unit_test(test_tamper_fields),
      cmocka_unit_test(test_tamper_bytes),
      cmocka_unit_test(test_decode_rules),
      cmocka_unit_test(test_value_limit),
      cmocka_unit_test(test_checks),
      cmocka_unit_test(test_replace),
      cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
