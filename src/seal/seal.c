/*
 * Sealed values and encrypted topics (docs/protocol.md "Sealed values and
 * encrypted topics"): user keys, the three sealed formats, the topic
 * owner's state and a member's keyring. Sans-I/O; all cryptography is
 * libsodium's (crypto_kdf, crypto_generichash, XChaCha20-Poly1305 IETF,
 * crypto_box_seal, Ed25519 -> X25519).
 *
 * Every decoder here takes the bytes of a record's value or a message's
 * payload (const uint8_t *, size_t): each field has a fixed length or a
 * count in front of it, the ciphertext runs to the end, and any other
 * total is refused (YZ_E_MALFORMED) before anything is decrypted.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "seal/seal_internal.h"
#include "yz/seal.h"

_Static_assert(sizeof YZ_SEAL_CTX_NAME - 1 == crypto_kdf_CONTEXTBYTES,
               "a KDF context is 8 bytes");
_Static_assert(sizeof YZ_SEAL_CTX_VALUE - 1 == crypto_kdf_CONTEXTBYTES,
               "a KDF context is 8 bytes");
_Static_assert(sizeof YZ_SEAL_CTX_TOPIC - 1 == crypto_kdf_CONTEXTBYTES,
               "a KDF context is 8 bytes");
_Static_assert(YZ_SEAL_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "key size");
_Static_assert(YZ_SEAL_NONCE_LEN ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(YZ_SEAL_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "tag size");
_Static_assert(YZ_SEAL_BOX_LEN == crypto_box_SEALBYTES + YZ_SEAL_KEY_LEN,
               "a sealed box of one key");
_Static_assert((int)YZ_SEAL_SALT_LEN <= (int)YZ_DHTREC_SALT_MAX,
               "salt fits a record");
/* The largest framing: a shared value to 64 recipients (header, count,
 * boxes, nonce, tag, and the inner count and keys) or a topic key record
 * of 8 epochs of 64 members (with the owner's member list). */
_Static_assert((size_t)YZ_SEAL_HEADER_LEN + 1 +
                       (size_t)YZ_SEAL_RECIPIENTS_MAX *
                           (YZ_SEAL_BOX_LEN + 32) +
                       1 + YZ_SEAL_NONCE_LEN + YZ_SEAL_TAG_LEN <=
                   (size_t)YZ_DHTREC_VALUE_MAX_LIMIT -
                       (size_t)YZ_SEAL_PLAINTEXT_MAX,
               "the plaintext limit leaves room for the framing");

/* AD prefix of a sealed value: DHT key (32) || seq (8). */
enum { AD_REC_LEN = YZ_DHTREC_KEY_LEN + 8 };

static void sys_random(uint8_t *out, size_t n, void *ud)
{
  (void)ud;
  randombytes_buf(out, n);
}

static const yz__seal_rng sys_rng = {sys_random, NULL};

static void rnd(const yz__seal_rng *rng, uint8_t *out, size_t n)
{
  rng->fn(out, n, rng->ud);
}

void yz__seal_header(uint8_t h[YZ_SEAL_HEADER_LEN], yz_seal_kind kind)
{
  h[0] = 'y';
  h[1] = 'z';
  h[2] = 's';
  h[3] = 0;
  h[4] = YZ_SEAL_VERSION;
  h[5] = (uint8_t)kind;
}

int yz_seal_kind_of(const uint8_t *v, size_t len)
{
  if (v == NULL || len < YZ_SEAL_HEADER_LEN || v[0] != 'y' || v[1] != 'z' ||
      v[2] != 's' || v[3] != 0)
    return YZ_SEAL_PLAIN;
  if (v[4] != YZ_SEAL_VERSION || v[5] < YZ_SEAL_PRIVATE ||
      v[5] > YZ_SEAL_TOPIC_KEYS)
    return YZ_E_SEAL_VERSION;
  return v[5];
}

/* ---- user keys ---------------------------------------------------------- */

int yz_seal_user_init(yz_seal_user *u, const yz_identity *key)
{
  if (u == NULL || key == NULL || yz_init() != 0)
    return YZ_E_INVAL;
  memset(u, 0, sizeof *u);
  memcpy(u->ed_sk, key->sk, sizeof u->ed_sk);
  memcpy(u->ed_pk, key->pk, sizeof u->ed_pk);
  if (crypto_sign_ed25519_pk_to_curve25519(u->x_pk, u->ed_pk) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519(u->x_sk, u->ed_sk) != 0) {
    yz_seal_user_clear(u);
    return YZ_E_INVAL;
  }
  /* The KDF's master key is the Ed25519 seed (the first half of sk): one
   * secret, from which every key of the user follows. */
  crypto_kdf_derive_from_key(u->name_key, sizeof u->name_key, 1,
                             YZ_SEAL_CTX_NAME, u->ed_sk);
  crypto_kdf_derive_from_key(u->value_key, sizeof u->value_key, 1,
                             YZ_SEAL_CTX_VALUE, u->ed_sk);
  return 0;
}

void yz_seal_user_clear(yz_seal_user *u)
{
  if (u != NULL)
    sodium_memzero(u, sizeof *u);
}

int yz_seal_box_key(uint8_t x_pk[32], const uint8_t ed_pk[32])
{
  if (x_pk == NULL || ed_pk == NULL)
    return YZ_E_INVAL;
  return crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) == 0 ? 0
                                                                : YZ_E_INVAL;
}

int yz_seal_name_salt(const yz_seal_user *u, const uint8_t *name, size_t len,
                      uint8_t salt[YZ_SEAL_SALT_LEN])
{
  if (u == NULL || name == NULL || len == 0 || len > 255 || salt == NULL)
    return YZ_E_INVAL;
  crypto_generichash(salt, YZ_SEAL_SALT_LEN, name, len, u->name_key,
                     sizeof u->name_key);
  return 0;
}

int yz_seal_name_key(const yz_seal_user *u, const uint8_t *name, size_t len,
                     uint8_t key[YZ_DHTREC_KEY_LEN])
{
  uint8_t salt[YZ_SEAL_SALT_LEN];
  int err = yz_seal_name_salt(u, name, len, salt);
  if (err == 0)
    err = yz_dhtrec_mutable_key(key, u->ed_pk, salt, sizeof salt);
  return err;
}

/* ---- the AEAD ----------------------------------------------------------- */

static void ad_rec(uint8_t ad[AD_REC_LEN], const uint8_t key[32], uint64_t seq)
{
  memcpy(ad, key, 32);
  yz__store64_be(ad + 32, seq);
}

/* XChaCha20-Poly1305 with AD = key (32) || seq (8) || frame: the record's
 * place and every byte of the value before the nonce. libsodium takes one
 * AD buffer, so it is built here (a frame is at most the boxes of a topic
 * key record, about 40 KiB). 0, YZ_E_NOMEM, or (open) YZ_E_SEAL_TAMPERED. */
static uint8_t *ad_build(const uint8_t key[32], uint64_t seq,
                         const uint8_t *frame, size_t flen, size_t *adlen)
{
  uint8_t *ad = malloc(AD_REC_LEN + flen);
  if (ad == NULL)
    return NULL;
  ad_rec(ad, key, seq);
  memcpy(ad + AD_REC_LEN, frame, flen);
  *adlen = AD_REC_LEN + flen;
  return ad;
}

static int aead_seal(uint8_t *c, const uint8_t *m, size_t mlen,
                     const uint8_t key[32], uint64_t seq, const uint8_t *frame,
                     size_t flen, const uint8_t nonce[24], const uint8_t k[32])
{
  size_t adlen;
  uint8_t *ad = ad_build(key, seq, frame, flen, &adlen);
  if (ad == NULL)
    return YZ_E_NOMEM;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL,
                                             nonce, k);
  free(ad);
  return 0;
}

static int aead_open(uint8_t *m, const uint8_t *c, size_t clen,
                     const uint8_t key[32], uint64_t seq, const uint8_t *frame,
                     size_t flen, const uint8_t nonce[24], const uint8_t k[32])
{
  size_t adlen;
  uint8_t *ad = ad_build(key, seq, frame, flen, &adlen);
  if (ad == NULL)
    return YZ_E_NOMEM;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen,
                                                      ad, adlen, nonce, k);
  free(ad);
  if (rc != 0) {
    sodium_memzero(m, clen > YZ_SEAL_TAG_LEN ? clen - YZ_SEAL_TAG_LEN : 0);
    return YZ_E_SEAL_TAMPERED;
  }
  return 0;
}

/* ---- sealed boxes ------------------------------------------------------- */

int yz__seal_box(uint8_t out[YZ_SEAL_BOX_LEN], const uint8_t m[32],
                 const uint8_t x_pk[32], const uint8_t eph_seed[32])
{
  uint8_t esk[crypto_box_SECRETKEYBYTES];
  uint8_t nonce[crypto_box_NONCEBYTES];
  crypto_generichash_state st;
  crypto_box_seed_keypair(out, esk, eph_seed);
  crypto_generichash_init(&st, NULL, 0, sizeof nonce);
  crypto_generichash_update(&st, out, crypto_box_PUBLICKEYBYTES);
  crypto_generichash_update(&st, x_pk, crypto_box_PUBLICKEYBYTES);
  crypto_generichash_final(&st, nonce, sizeof nonce);
  int rc = crypto_box_easy(out + crypto_box_PUBLICKEYBYTES, m, 32, nonce, x_pk,
                           esk);
  sodium_memzero(esk, sizeof esk);
  sodium_memzero(&st, sizeof st);
  return rc == 0 ? 0 : YZ_E_INVAL;
}

static int box_to(uint8_t out[YZ_SEAL_BOX_LEN], const uint8_t m[32],
                  const uint8_t ed_pk[32], const yz__seal_rng *rng)
{
  uint8_t x_pk[32], seed[32];
  if (crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) != 0)
    return YZ_E_INVAL;
  rnd(rng, seed, sizeof seed);
  int err = yz__seal_box(out, m, x_pk, seed);
  sodium_memzero(seed, sizeof seed);
  return err;
}

/* The first of n boxes that opens for u: its index, or -1. */
static int box_find(const uint8_t *boxes, size_t n, const yz_seal_user *u,
                    uint8_t m[32])
{
  for (size_t i = 0; i < n; i++)
    if (crypto_box_seal_open(m, boxes + i * YZ_SEAL_BOX_LEN, YZ_SEAL_BOX_LEN,
                             u->x_pk, u->x_sk) == 0)
      return (int)i;
  sodium_memzero(m, 32);
  return -1;
}

/* ---- private and shared values ------------------------------------------ */

size_t yz_seal_private_len(size_t n)
{
  return YZ_SEAL_HEADER_LEN + YZ_SEAL_NONCE_LEN + n + YZ_SEAL_TAG_LEN;
}

size_t yz_seal_shared_len(size_t n, size_t nr)
{
  return YZ_SEAL_HEADER_LEN + 1 + nr * YZ_SEAL_BOX_LEN + YZ_SEAL_NONCE_LEN +
         1 + nr * 32 + n + YZ_SEAL_TAG_LEN;
}

int yz__seal_private(const yz_seal_user *u, const uint8_t key[32],
                     uint64_t seq, const uint8_t *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *outlen,
                     const yz__seal_rng *rng)
{
  if (u == NULL || key == NULL || pt == NULL || pt_len == 0 || out == NULL ||
      outlen == NULL)
    return YZ_E_INVAL;
  if (pt_len > YZ_SEAL_PLAINTEXT_MAX)
    return YZ_E_TOO_LARGE;
  size_t need = yz_seal_private_len(pt_len);
  if (cap < need)
    return YZ_E_TOO_LARGE;
  yz__seal_header(out, YZ_SEAL_PRIVATE);
  uint8_t *nonce = out + YZ_SEAL_HEADER_LEN;
  rnd(rng, nonce, YZ_SEAL_NONCE_LEN);
  int err = aead_seal(nonce + YZ_SEAL_NONCE_LEN, pt, pt_len, key, seq, out,
                      YZ_SEAL_HEADER_LEN, nonce, u->value_key);
  if (err != 0)
    return err;
  *outlen = need;
  return 0;
}

int yz_seal_private(const yz_seal_user *u, const uint8_t key[32], uint64_t seq,
                    const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
                    size_t *outlen)
{
  return yz__seal_private(u, key, seq, pt, pt_len, out, cap, outlen, &sys_rng);
}

/* The reader list of a shared value: u first, then the recipients in
 * order, each once. Returns the count or YZ_E_LIMIT. */
static int readers(const yz_seal_user *u, const uint8_t *r, size_t n,
                   uint8_t list[YZ_SEAL_RECIPIENTS_MAX][32])
{
  size_t k = 0;
  memcpy(list[k++], u->ed_pk, 32);
  for (size_t i = 0; i < n; i++) {
    bool dup = false;
    for (size_t j = 0; j < k && !dup; j++)
      dup = memcmp(list[j], r + 32 * i, 32) == 0;
    if (dup)
      continue;
    if (k == YZ_SEAL_RECIPIENTS_MAX)
      return YZ_E_LIMIT;
    memcpy(list[k++], r + 32 * i, 32);
  }
  return (int)k;
}

int yz__seal_shared(const yz_seal_user *u, const uint8_t key[32], uint64_t seq,
                    const uint8_t *recipients, size_t n, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *outlen,
                    const yz__seal_rng *rng)
{
  if (u == NULL || key == NULL || pt == NULL || pt_len == 0 || out == NULL ||
      outlen == NULL || (recipients == NULL && n > 0))
    return YZ_E_INVAL;
  if (pt_len > YZ_SEAL_PLAINTEXT_MAX)
    return YZ_E_TOO_LARGE;
  uint8_t list[YZ_SEAL_RECIPIENTS_MAX][32];
  int k = readers(u, recipients, n, list);
  if (k < 0)
    return k;
  size_t nr = (size_t)k;
  size_t need = yz_seal_shared_len(pt_len, nr);
  if (cap < need)
    return YZ_E_TOO_LARGE;
  uint8_t ck[YZ_SEAL_KEY_LEN];
  rnd(rng, ck, sizeof ck);
  yz__seal_header(out, YZ_SEAL_SHARED);
  out[YZ_SEAL_HEADER_LEN] = (uint8_t)nr;
  uint8_t *boxes = out + YZ_SEAL_HEADER_LEN + 1;
  int err = 0;
  for (size_t i = 0; i < nr && err == 0; i++)
    err = box_to(boxes + i * YZ_SEAL_BOX_LEN, ck, list[i], rng);
  size_t flen = YZ_SEAL_HEADER_LEN + 1 + nr * YZ_SEAL_BOX_LEN;
  uint8_t *nonce = out + flen;
  uint8_t *inner = NULL;
  size_t ilen = 1 + 32 * nr + pt_len;
  if (err == 0) {
    rnd(rng, nonce, YZ_SEAL_NONCE_LEN);
    inner = malloc(ilen);
    if (inner == NULL)
      err = YZ_E_NOMEM;
  }
  if (err == 0) {
    /* The readers travel inside the ciphertext: readers learn who else
     * reads (and the owner can add one later), storage nodes do not. */
    inner[0] = (uint8_t)nr;
    memcpy(inner + 1, list, 32 * nr);
    memcpy(inner + 1 + 32 * nr, pt, pt_len);
    err = aead_seal(nonce + YZ_SEAL_NONCE_LEN, inner, ilen, key, seq, out,
                    flen, nonce, ck);
    sodium_memzero(inner, ilen);
    free(inner);
  }
  sodium_memzero(ck, sizeof ck);
  if (err != 0)
    return err;
  *outlen = need;
  return 0;
}

int yz_seal_shared(const yz_seal_user *u, const uint8_t key[32], uint64_t seq,
                   const uint8_t *recipients, size_t n, const uint8_t *pt,
                   size_t pt_len, uint8_t *out, size_t cap, size_t *outlen)
{
  return yz__seal_shared(u, key, seq, recipients, n, pt, pt_len, out, cap,
                         outlen, &sys_rng);
}

static int open_private(const yz_seal_user *u, const yz_dhtrec *rec,
                        uint8_t *out, size_t cap, yz_seal_opened *res)
{
  const uint8_t *v = rec->value;
  size_t n = rec->value_len;
  if (n < yz_seal_private_len(1))
    return YZ_E_MALFORMED;
  if (memcmp(rec->public_key, u->ed_pk, 32) != 0)
    return YZ_E_SEAL_WRONG_KEY;
  size_t clen = n - YZ_SEAL_HEADER_LEN - YZ_SEAL_NONCE_LEN;
  if (cap < clen - YZ_SEAL_TAG_LEN)
    return YZ_E_TOO_LARGE;
  const uint8_t *nonce = v + YZ_SEAL_HEADER_LEN;
  int err = aead_open(out, nonce + YZ_SEAL_NONCE_LEN, clen, rec->key, rec->seq,
                      v, YZ_SEAL_HEADER_LEN, nonce, u->value_key);
  if (err != 0)
    return err;
  res->kind = YZ_SEAL_PRIVATE;
  res->plaintext = out;
  res->plaintext_len = clen - YZ_SEAL_TAG_LEN;
  return 0;
}

static int open_shared(const yz_seal_user *u, const yz_dhtrec *rec,
                       uint8_t *out, size_t cap, yz_seal_opened *res)
{
  const uint8_t *v = rec->value;
  size_t n = rec->value_len;
  if (n < YZ_SEAL_HEADER_LEN + 1)
    return YZ_E_MALFORMED;
  size_t nr = v[YZ_SEAL_HEADER_LEN];
  if (nr == 0 || nr > YZ_SEAL_RECIPIENTS_MAX || n < yz_seal_shared_len(1, nr))
    return YZ_E_MALFORMED;
  size_t flen = YZ_SEAL_HEADER_LEN + 1 + nr * YZ_SEAL_BOX_LEN;
  const uint8_t *nonce = v + flen;
  size_t clen = n - flen - YZ_SEAL_NONCE_LEN;
  if (cap < clen - YZ_SEAL_TAG_LEN)
    return YZ_E_TOO_LARGE;
  uint8_t ck[YZ_SEAL_KEY_LEN];
  if (box_find(v + YZ_SEAL_HEADER_LEN + 1, nr, u, ck) < 0)
    return YZ_E_SEAL_NOT_RECIPIENT;
  int err = aead_open(out, nonce + YZ_SEAL_NONCE_LEN, clen, rec->key, rec->seq,
                      v, flen, nonce, ck);
  sodium_memzero(ck, sizeof ck);
  if (err != 0)
    return err;
  size_t plen = clen - YZ_SEAL_TAG_LEN;
  /* Authentic, so written by the owner; still checked, never trusted. */
  if (out[0] != nr || plen < 1 + 32 * nr + 1) {
    sodium_memzero(out, plen);
    return YZ_E_MALFORMED;
  }
  res->kind = YZ_SEAL_SHARED;
  res->recipients = out + 1;
  res->n_recipients = nr;
  res->plaintext = out + 1 + 32 * nr;
  res->plaintext_len = plen - 1 - 32 * nr;
  return 0;
}

int yz_seal_open(const yz_seal_user *u, const yz_dhtrec *rec, uint8_t *out,
                 size_t cap, yz_seal_opened *res)
{
  if (u == NULL || rec == NULL || res == NULL || (out == NULL && cap > 0))
    return YZ_E_INVAL;
  memset(res, 0, sizeof *res);
  int kind = yz_seal_kind_of(rec->value, rec->value_len);
  if (kind < 0)
    return kind;
  if (kind == YZ_SEAL_PLAIN || kind == YZ_SEAL_TOPIC_KEYS)
    return YZ_E_SEAL_NOT_SEALED;
  /* The associated data is the record's key and seq: only a mutable
   * record has a seq. */
  if (rec->kind != YZ_DHTREC_MUTABLE)
    return YZ_E_MALFORMED;
  return kind == YZ_SEAL_PRIVATE ? open_private(u, rec, out, cap, res)
                                 : open_shared(u, rec, out, cap, res);
}

/* Sign a record with value under u's key, salt, seq, expiry, and encode it. */
static int sign_encode(const yz_seal_user *u, const uint8_t *salt,
                       size_t salt_len, uint64_t seq, uint64_t expiry,
                       const uint8_t *value, size_t value_len, uint8_t *out,
                       size_t cap, size_t *outlen, uint8_t *rec_key)
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_MUTABLE;
  memcpy(r.salt, salt, salt_len);
  r.salt_len = (uint8_t)salt_len;
  r.seq = seq;
  r.expiry = expiry;
  r.value = value;
  r.value_len = value_len;
  int err = yz_dhtrec_sign_raw(&r, u->ed_sk, NULL);
  if (err == 0)
    err = yz_dhtrec_encode(&r, out, cap, outlen);
  if (err == 0 && rec_key != NULL)
    memcpy(rec_key, r.key, YZ_DHTREC_KEY_LEN);
  return err;
}

int yz_seal_record(const yz_seal_user *u, const uint8_t *name, size_t name_len,
                   uint64_t seq, uint64_t expiry, const uint8_t *recipients,
                   size_t n_recipients, const uint8_t *pt, size_t pt_len,
                   uint8_t *out, size_t cap, size_t *outlen,
                   uint8_t rec_key[YZ_DHTREC_KEY_LEN])
{
  uint8_t salt[YZ_SEAL_SALT_LEN], key[YZ_DHTREC_KEY_LEN];
  int err = yz_seal_name_salt(u, name, name_len, salt);
  if (err != 0)
    return err;
  if (yz_dhtrec_mutable_key(key, u->ed_pk, salt, sizeof salt) != 0 ||
      pt == NULL || pt_len == 0 || out == NULL || outlen == NULL)
    return YZ_E_INVAL;
  if (pt_len > YZ_SEAL_PLAINTEXT_MAX)
    return YZ_E_TOO_LARGE;
  size_t vcap = yz_seal_shared_len(pt_len, YZ_SEAL_RECIPIENTS_MAX);
  uint8_t *v = malloc(vcap);
  if (v == NULL)
    return YZ_E_NOMEM;
  size_t vlen = 0;
  if (n_recipients == 0)
    err = yz_seal_private(u, key, seq, pt, pt_len, v, vcap, &vlen);
  else
    err = yz_seal_shared(u, key, seq, recipients, n_recipients, pt, pt_len, v,
                         vcap, &vlen);
  if (err == 0)
    err = sign_encode(u, salt, sizeof salt, seq, expiry, v, vlen, out, cap,
                      outlen, rec_key);
  free(v);
  return err;
}

/* ---- topic key records -------------------------------------------------- */

void yz__seal_topic_msg_key(uint8_t mk[32], const uint8_t topic_key[32],
                            uint64_t epoch)
{
  crypto_kdf_derive_from_key(mk, 32, epoch, YZ_SEAL_CTX_TOPIC, topic_key);
}

/* A topic key record's value, parsed (pointers into it). */
typedef struct topic_view {
  size_t m;
  struct {
    uint64_t epoch;
    size_t nb;
    const uint8_t *boxes;
  } e[YZ_SEAL_EPOCHS_MAX];
  size_t flen; /* bytes before the nonce */
  const uint8_t *nonce, *ct;
  size_t clen;
} topic_view;

/* The framing of a topic key record value (docs/protocol.md). 0 or
 * YZ_E_MALFORMED. */
static int topic_parse(const uint8_t *v, size_t n, topic_view *tv)
{
  memset(tv, 0, sizeof *tv);
  size_t off = YZ_SEAL_HEADER_LEN;
  if (n < off + 1)
    return YZ_E_MALFORMED;
  tv->m = v[off++];
  if (tv->m == 0 || tv->m > YZ_SEAL_EPOCHS_MAX)
    return YZ_E_MALFORMED;
  for (size_t i = 0; i < tv->m; i++) {
    if (n - off < 9)
      return YZ_E_MALFORMED;
    uint64_t ep = yz__load64_be(v + off);
    size_t nb = v[off + 8];
    off += 9;
    /* Epochs are numbered from 1 and listed newest first, each once. */
    if (ep == 0 || (i > 0 && ep >= tv->e[i - 1].epoch) || nb == 0 ||
        nb > YZ_SEAL_MEMBERS_MAX || n - off < nb * YZ_SEAL_BOX_LEN)
      return YZ_E_MALFORMED;
    tv->e[i].epoch = ep;
    tv->e[i].nb = nb;
    tv->e[i].boxes = v + off;
    off += nb * YZ_SEAL_BOX_LEN;
  }
  tv->flen = off;
  /* The owner's member list: a count and 1..64 keys, then the tag. */
  if (n - off < YZ_SEAL_NONCE_LEN + 1 + 32 + YZ_SEAL_TAG_LEN)
    return YZ_E_MALFORMED;
  tv->nonce = v + off;
  tv->ct = v + off + YZ_SEAL_NONCE_LEN;
  tv->clen = n - off - YZ_SEAL_NONCE_LEN;
  size_t body = tv->clen - YZ_SEAL_TAG_LEN - 1;
  if (body % 32 != 0 || body / 32 > YZ_SEAL_MEMBERS_MAX)
    return YZ_E_MALFORMED;
  return 0;
}

/* Check that rec is owner's topic key record of topic and parse it. */
static int topic_record(const yz_dhtrec *rec, const uint8_t owner[32],
                        const uint8_t topic[32], topic_view *tv)
{
  int kind = yz_seal_kind_of(rec->value, rec->value_len);
  if (kind < 0)
    return kind;
  if (kind != YZ_SEAL_TOPIC_KEYS)
    return YZ_E_SEAL_NOT_SEALED;
  if (rec->kind != YZ_DHTREC_MUTABLE || memcmp(rec->public_key, owner, 32) ||
      rec->salt_len != 32 || memcmp(rec->salt, topic, 32))
    return YZ_E_SEAL_WRONG_KEY;
  return topic_parse(rec->value, rec->value_len, tv);
}

static int new_epoch(yz_seal_topic_epoch *e, uint64_t epoch,
                     const uint8_t (*members)[32], size_t n,
                     const yz__seal_rng *rng)
{
  memset(e, 0, sizeof *e);
  e->epoch = epoch;
  rnd(rng, e->key, sizeof e->key);
  for (size_t i = 0; i < n; i++) {
    int err = box_to(e->boxes[i], e->key, members[i], rng);
    if (err != 0)
      return err;
  }
  e->n_boxes = n;
  return 0;
}

int yz__seal_topic_create(yz_seal_topic_owner *t, const yz_seal_user *u,
                          const uint8_t topic[32], const uint8_t *members,
                          size_t n, const yz__seal_rng *rng)
{
  if (t == NULL || u == NULL || topic == NULL || (members == NULL && n > 0))
    return YZ_E_INVAL;
  memset(t, 0, sizeof *t);
  memcpy(t->topic, topic, 32);
  int k = readers(u, members, n, t->members);
  if (k < 0)
    return k;
  t->n_members = (size_t)k;
  t->n_epochs = 1;
  int err = new_epoch(&t->epochs[0], 1, (const uint8_t(*)[32])t->members,
                      t->n_members, rng);
  if (err != 0)
    yz_seal_topic_owner_clear(t);
  return err;
}

int yz_seal_topic_create(yz_seal_topic_owner *t, const yz_seal_user *u,
                         const uint8_t topic[32], const uint8_t *members,
                         size_t n)
{
  return yz__seal_topic_create(t, u, topic, members, n, &sys_rng);
}

static int member_index(const yz_seal_topic_owner *t, const uint8_t m[32])
{
  for (size_t i = 0; i < t->n_members; i++)
    if (memcmp(t->members[i], m, 32) == 0)
      return (int)i;
  return -1;
}

int yz__seal_topic_add(yz_seal_topic_owner *t, const uint8_t member[32],
                       const yz__seal_rng *rng)
{
  if (t == NULL || member == NULL || t->n_epochs == 0)
    return YZ_E_INVAL;
  if (member_index(t, member) >= 0)
    return YZ_E_DUPLICATE;
  if (t->n_members == YZ_SEAL_MEMBERS_MAX)
    return YZ_E_LIMIT;
  yz_seal_topic_epoch *e = &t->epochs[0];
  int err = box_to(e->boxes[e->n_boxes], e->key, member, rng);
  if (err != 0)
    return err;
  e->n_boxes++;
  memcpy(t->members[t->n_members++], member, 32);
  return 0;
}

int yz_seal_topic_add(yz_seal_topic_owner *t, const uint8_t member[32])
{
  return yz__seal_topic_add(t, member, &sys_rng);
}

static int rotate(yz_seal_topic_owner *t, const yz__seal_rng *rng)
{
  if (t == NULL || t->n_epochs == 0)
    return YZ_E_INVAL;
  yz_seal_topic_epoch fresh;
  int err = new_epoch(&fresh, t->epochs[0].epoch + 1,
                      (const uint8_t(*)[32])t->members, t->n_members, rng);
  if (err == 0) {
    /* Newest first; the oldest beyond the limit is forgotten. */
    if (t->n_epochs == YZ_SEAL_EPOCHS_MAX)
      sodium_memzero(&t->epochs[--t->n_epochs], sizeof t->epochs[0]);
    memmove(&t->epochs[1], &t->epochs[0], t->n_epochs * sizeof t->epochs[0]);
    t->epochs[0] = fresh;
    t->n_epochs++;
  }
  sodium_memzero(&fresh, sizeof fresh);
  return err;
}

int yz_seal_topic_rotate(yz_seal_topic_owner *t)
{
  return rotate(t, &sys_rng);
}

int yz__seal_topic_remove(yz_seal_topic_owner *t, const yz_seal_user *u,
                          const uint8_t member[32], const yz__seal_rng *rng)
{
  if (t == NULL || u == NULL || member == NULL || t->n_epochs == 0 ||
      memcmp(member, u->ed_pk, 32) == 0)
    return YZ_E_INVAL;
  int i = member_index(t, member);
  if (i < 0)
    return YZ_E_NOT_FOUND;
  memmove(t->members[i], t->members[i + 1],
          (t->n_members - (size_t)i - 1) * 32);
  t->n_members--;
  /* The removed member holds the current key: only a new one, sealed to
   * those who stay, keeps it out of what comes next. */
  return rotate(t, rng);
}

int yz_seal_topic_remove(yz_seal_topic_owner *t, const yz_seal_user *u,
                         const uint8_t member[32])
{
  return yz__seal_topic_remove(t, u, member, &sys_rng);
}

void yz_seal_topic_owner_clear(yz_seal_topic_owner *t)
{
  if (t != NULL)
    sodium_memzero(t, sizeof *t);
}

int yz_seal_topic_record_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                             const uint8_t owner_pk[32],
                             const uint8_t topic[32])
{
  if (key == NULL || owner_pk == NULL || topic == NULL)
    return YZ_E_INVAL;
  return yz_dhtrec_mutable_key(key, owner_pk, topic, 32);
}

int yz__seal_topic_value(const yz_seal_topic_owner *t, const yz_seal_user *u,
                         const uint8_t key[32], uint64_t seq, uint8_t *out,
                         size_t cap, size_t *outlen, const yz__seal_rng *rng)
{
  if (t == NULL || u == NULL || key == NULL || out == NULL || outlen == NULL ||
      t->n_epochs == 0 || t->n_members == 0)
    return YZ_E_INVAL;
  size_t need = YZ_SEAL_HEADER_LEN + 1 + YZ_SEAL_NONCE_LEN + 1 +
                32 * t->n_members + YZ_SEAL_TAG_LEN;
  for (size_t i = 0; i < t->n_epochs; i++)
    need += 9 + t->epochs[i].n_boxes * YZ_SEAL_BOX_LEN;
  if (cap < need)
    return YZ_E_TOO_LARGE;
  yz__seal_header(out, YZ_SEAL_TOPIC_KEYS);
  size_t off = YZ_SEAL_HEADER_LEN;
  out[off++] = (uint8_t)t->n_epochs;
  for (size_t i = 0; i < t->n_epochs; i++) {
    const yz_seal_topic_epoch *e = &t->epochs[i];
    yz__store64_be(out + off, e->epoch);
    out[off + 8] = (uint8_t)e->n_boxes;
    off += 9;
    memcpy(out + off, e->boxes, e->n_boxes * YZ_SEAL_BOX_LEN);
    off += e->n_boxes * YZ_SEAL_BOX_LEN;
  }
  uint8_t *nonce = out + off;
  rnd(rng, nonce, YZ_SEAL_NONCE_LEN);
  uint8_t list[1 + YZ_SEAL_MEMBERS_MAX * 32];
  list[0] = (uint8_t)t->n_members;
  memcpy(list + 1, t->members, 32 * t->n_members);
  /* The member list is the owner's alone (its value key): storage nodes
   * do not learn who belongs to the topic, and the owner can rebuild its
   * state from the record. */
  int err = aead_seal(nonce + YZ_SEAL_NONCE_LEN, list, 1 + 32 * t->n_members,
                      key, seq, out, off, nonce, u->value_key);
  if (err != 0)
    return err;
  *outlen = need;
  return 0;
}

int yz_seal_topic_record(const yz_seal_topic_owner *t, const yz_seal_user *u,
                         uint64_t seq, uint64_t expiry, uint8_t *out,
                         size_t cap, size_t *outlen)
{
  uint8_t key[YZ_DHTREC_KEY_LEN];
  if (t == NULL || u == NULL ||
      yz_seal_topic_record_key(key, u->ed_pk, t->topic) != 0)
    return YZ_E_INVAL;
  size_t vcap =
      YZ_SEAL_HEADER_LEN + 1 +
      YZ_SEAL_EPOCHS_MAX * (9 + YZ_SEAL_MEMBERS_MAX * YZ_SEAL_BOX_LEN) +
      YZ_SEAL_NONCE_LEN + 1 + 32 * YZ_SEAL_MEMBERS_MAX + YZ_SEAL_TAG_LEN;
  uint8_t *v = malloc(vcap);
  if (v == NULL)
    return YZ_E_NOMEM;
  size_t vlen = 0;
  int err = yz__seal_topic_value(t, u, key, seq, v, vcap, &vlen, &sys_rng);
  if (err == 0)
    err = sign_encode(u, t->topic, 32, seq, expiry, v, vlen, out, cap, outlen,
                      NULL);
  free(v);
  return err;
}

int yz_seal_topic_owner_load(yz_seal_topic_owner *t, const yz_seal_user *u,
                             const uint8_t topic[32], const yz_dhtrec *rec)
{
  if (t == NULL || u == NULL || topic == NULL || rec == NULL)
    return YZ_E_INVAL;
  memset(t, 0, sizeof *t);
  topic_view tv;
  int err = topic_record(rec, u->ed_pk, topic, &tv);
  if (err != 0)
    return err;
  uint8_t list[1 + YZ_SEAL_MEMBERS_MAX * 32];
  size_t llen = tv.clen - YZ_SEAL_TAG_LEN;
  err = aead_open(list, tv.ct, tv.clen, rec->key, rec->seq, rec->value,
                  tv.flen, tv.nonce, u->value_key);
  if (err != 0)
    return err;
  if (list[0] == 0 || (size_t)list[0] * 32 + 1 != llen) {
    sodium_memzero(list, sizeof list);
    return YZ_E_MALFORMED;
  }
  memcpy(t->topic, topic, 32);
  t->n_members = list[0];
  memcpy(t->members, list + 1, 32 * t->n_members);
  sodium_memzero(list, sizeof list);
  t->n_epochs = tv.m;
  t->seq = rec->seq;
  for (size_t i = 0; i < tv.m; i++) {
    yz_seal_topic_epoch *e = &t->epochs[i];
    e->epoch = tv.e[i].epoch;
    e->n_boxes = tv.e[i].nb;
    memcpy(e->boxes, tv.e[i].boxes, tv.e[i].nb * YZ_SEAL_BOX_LEN);
    /* The owner seals every epoch's key to itself. */
    if (box_find(tv.e[i].boxes, tv.e[i].nb, u, e->key) < 0) {
      yz_seal_topic_owner_clear(t);
      return YZ_E_MALFORMED;
    }
  }
  return 0;
}

/* ---- a member's keyring ------------------------------------------------- */

void yz_seal_keyring_init(yz_seal_keyring *kr, const uint8_t topic[32],
                          const uint8_t owner_pk[32], uint64_t window_ms)
{
  memset(kr, 0, sizeof *kr);
  memcpy(kr->topic, topic, 32);
  memcpy(kr->owner_pk, owner_pk, 32);
  kr->window_ms = window_ms;
}

void yz_seal_keyring_clear(yz_seal_keyring *kr)
{
  if (kr != NULL)
    sodium_memzero(kr, sizeof *kr);
}

uint64_t yz_seal_keyring_epoch(const yz_seal_keyring *kr)
{
  return kr != NULL && kr->n > 0 ? kr->e[0].epoch : 0;
}

/* A newer epoch is known from now on: those before it run out their
 * window. */
static void supersede(yz_seal_keyring *kr, uint64_t epoch, uint64_t now_ms)
{
  for (size_t i = 0; i < kr->n; i++)
    if (kr->e[i].epoch < epoch && kr->e[i].superseded_ms == 0)
      kr->e[i].superseded_ms = now_ms == 0 ? 1 : now_ms;
}

static void kr_add(yz_seal_keyring *kr, uint64_t epoch,
                   const uint8_t topic_key[32], uint64_t now_ms)
{
  size_t i = 0;
  while (i < kr->n && kr->e[i].epoch > epoch)
    i++;
  if (i < kr->n && kr->e[i].epoch == epoch)
    return; /* known */
  if (i == YZ_SEAL_EPOCHS_MAX)
    return; /* older than all we keep */
  if (kr->n == YZ_SEAL_EPOCHS_MAX)
    sodium_memzero(&kr->e[--kr->n], sizeof kr->e[0]);
  memmove(&kr->e[i + 1], &kr->e[i], (kr->n - i) * sizeof kr->e[0]);
  kr->n++;
  kr->e[i].epoch = epoch;
  yz__seal_topic_msg_key(kr->e[i].key, topic_key, epoch);
  /* An epoch learnt after a newer one is already superseded. */
  kr->e[i].superseded_ms = i == 0 ? 0 : (now_ms == 0 ? 1 : now_ms);
  supersede(kr, kr->e[0].epoch, now_ms);
}

int yz_seal_topic_keys_open(yz_seal_keyring *kr, const yz_seal_user *u,
                            const yz_dhtrec *rec, uint64_t now_ms)
{
  if (kr == NULL || u == NULL || rec == NULL)
    return YZ_E_INVAL;
  topic_view tv;
  int err = topic_record(rec, kr->owner_pk, kr->topic, &tv);
  if (err != 0)
    return err;
  bool newest = false;
  for (size_t i = tv.m; i-- > 0;) {
    uint8_t k[32];
    if (box_find(tv.e[i].boxes, tv.e[i].nb, u, k) < 0)
      continue;
    kr_add(kr, tv.e[i].epoch, k, now_ms);
    sodium_memzero(k, sizeof k);
    if (i == 0)
      newest = true;
  }
  if (!newest) {
    /* Removed (or never a member): what we hold runs out its window. */
    supersede(kr, tv.e[0].epoch, now_ms);
    return YZ_E_SEAL_NOT_RECIPIENT;
  }
  return 0;
}

/* ---- encrypted topic messages ------------------------------------------- */

enum { MSG_HEAD = 1 + 8, MSG_AD = 32 + 32 + MSG_HEAD };

static void msg_ad(uint8_t ad[MSG_AD], const uint8_t topic[32],
                   const uint8_t author[32], const uint8_t head[MSG_HEAD])
{
  memcpy(ad, topic, 32);
  memcpy(ad + 32, author, 32);
  memcpy(ad + 64, head, MSG_HEAD);
}

int yz__seal_topic_seal(const yz_seal_keyring *kr, const uint8_t author[32],
                        const uint8_t *pt, size_t pt_len, uint8_t *out,
                        size_t cap, size_t *outlen, uint64_t *epoch,
                        const yz__seal_rng *rng)
{
  if (kr == NULL || author == NULL || (pt == NULL && pt_len > 0) ||
      out == NULL || outlen == NULL)
    return YZ_E_INVAL;
  /* Only the current epoch: a member who was removed no longer writes. */
  if (kr->n == 0 || kr->e[0].superseded_ms != 0)
    return YZ_E_SEAL_EPOCH;
  if (cap < YZ_SEAL_MSG_OVERHEAD || cap - YZ_SEAL_MSG_OVERHEAD < pt_len)
    return YZ_E_TOO_LARGE;
  out[0] = YZ_SEAL_VERSION;
  yz__store64_be(out + 1, kr->e[0].epoch);
  uint8_t *nonce = out + MSG_HEAD;
  rnd(rng, nonce, YZ_SEAL_NONCE_LEN);
  uint8_t ad[MSG_AD];
  msg_ad(ad, kr->topic, author, out);
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + YZ_SEAL_NONCE_LEN, NULL,
                                             pt, pt_len, ad, sizeof ad, NULL,
                                             nonce, kr->e[0].key);
  *outlen = YZ_SEAL_MSG_OVERHEAD + pt_len;
  if (epoch != NULL)
    *epoch = kr->e[0].epoch;
  return 0;
}

int yz_seal_topic_seal(const yz_seal_keyring *kr, const uint8_t author[32],
                       const uint8_t *pt, size_t pt_len, uint8_t *out,
                       size_t cap, size_t *outlen, uint64_t *epoch)
{
  return yz__seal_topic_seal(kr, author, pt, pt_len, out, cap, outlen, epoch,
                             &sys_rng);
}

int yz_seal_topic_open(const yz_seal_keyring *kr, const uint8_t author[32],
                       uint64_t epoch, const uint8_t *p, size_t len,
                       uint64_t now_ms, uint8_t *out, size_t cap,
                       size_t *outlen)
{
  if (kr == NULL || author == NULL || (p == NULL && len > 0) ||
      outlen == NULL || (out == NULL && cap > 0))
    return YZ_E_INVAL;
  if (len < 1)
    return YZ_E_MALFORMED;
  if (p[0] != YZ_SEAL_VERSION)
    return YZ_E_SEAL_VERSION;
  if (len < YZ_SEAL_MSG_OVERHEAD)
    return YZ_E_MALFORMED;
  /* The message's signed epoch and the payload's must agree: the AD
   * covers the payload's, the relays' checks the message's. */
  if (yz__load64_be(p + 1) != epoch || epoch == 0)
    return YZ_E_SEAL_EPOCH;
  const uint8_t *key = NULL;
  for (size_t i = 0; i < kr->n && key == NULL; i++)
    if (kr->e[i].epoch == epoch &&
        (kr->e[i].superseded_ms == 0 ||
         now_ms < kr->e[i].superseded_ms + kr->window_ms))
      key = kr->e[i].key;
  if (key == NULL)
    return YZ_E_SEAL_EPOCH;
  size_t mlen = len - YZ_SEAL_MSG_OVERHEAD;
  if (cap < mlen)
    return YZ_E_TOO_LARGE;
  uint8_t ad[MSG_AD];
  msg_ad(ad, kr->topic, author, p);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out, NULL, NULL, p + MSG_HEAD + YZ_SEAL_NONCE_LEN,
          len - MSG_HEAD - YZ_SEAL_NONCE_LEN, ad, sizeof ad, p + MSG_HEAD,
          key) != 0) {
    if (mlen)
      sodium_memzero(out, mlen);
    return YZ_E_SEAL_TAMPERED;
  }
  *outlen = mlen;
  return 0;
}
