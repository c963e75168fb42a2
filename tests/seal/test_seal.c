/* Sealed values and encrypted topics (src/seal/seal.c, docs/protocol.md
 * "Sealed values and encrypted topics"): round trips; tampered, moved and
 * replayed ciphertexts refused, each with its own error; a non-member and
 * a removed member read nothing after a rotation; earlier epochs readable
 * within the window and not after; every limit hit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "seal/seal_internal.h"
#include "yz/pubsub_wire.h"
#include "yz/seal.h"

static void user_of(yz_seal_user *u, uint8_t seed_byte)
{
  uint8_t seed[32];
  memset(seed, seed_byte, sizeof seed);
  yz_identity id;
  assert_int_equal(yz_identity_from_seed(&id, seed), 0);
  assert_int_equal(yz_seal_user_init(u, &id), 0);
  yz_identity_clear(&id);
}

enum { CAP = 200000 };

/* Whether needle occurs in hay (memmem is not in C11/POSIX). */
static const void *find_bytes(const void *hay, size_t n, const void *needle,
                              size_t m)
{
  const uint8_t *h = hay;
  for (size_t i = 0; m <= n && i <= n - m; i++)
    if (memcmp(h + i, needle, m) == 0)
      return h + i;
  return NULL;
}

/* A record built by yz_seal_record() and decoded as a reader gets it. */
struct rec {
  uint8_t buf[CAP];
  size_t len;
  yz_dhtrec r;
};

static void decode(struct rec *x)
{
  assert_int_equal(yz_dhtrec_decode(&x->r, x->buf, x->len, 0, NULL), 0);
  assert_int_equal(yz_dhtrec_check(&x->r, x->r.key, 1800000000u, NULL, NULL),
                   YZ_DHTREC_OK);
}

static void make(struct rec *x, const yz_seal_user *u, const char *name,
                 uint64_t seq, const uint8_t *rcp, size_t n, const char *pt)
{
  uint8_t key[32];
  assert_int_equal(yz_seal_record(u, (const uint8_t *)name, strlen(name), seq,
                                  1800003600u, rcp, n, (const uint8_t *)pt,
                                  strlen(pt), x->buf, sizeof x->buf, &x->len,
                                  key),
                   0);
  decode(x);
  assert_memory_equal(key, x->r.key, 32);
}

static uint8_t out[CAP];

static void test_private_round_trip(void **state)
{
  (void)state;
  yz_seal_user a, b;
  user_of(&a, 1);
  user_of(&b, 2);
  static struct rec x;
  make(&x, &a, "diary", 7, NULL, 0, "dear diary");
  assert_int_equal(yz_seal_kind_of(x.r.value, x.r.value_len), YZ_SEAL_PRIVATE);
  /* The DHT key is the name's keyed hash, not the name. */
  uint8_t k[32], salt[32];
  assert_int_equal(yz_seal_name_key(&a, (const uint8_t *)"diary", 5, k), 0);
  assert_memory_equal(k, x.r.key, 32);
  assert_int_equal(yz_seal_name_salt(&b, (const uint8_t *)"diary", 5, salt),
                   0);
  assert_memory_not_equal(salt, x.r.salt, 32);
  assert_null(find_bytes(x.buf, x.len, "diary", 5));
  assert_null(find_bytes(x.buf, x.len, "dear", 4));

  yz_seal_opened o;
  assert_int_equal(yz_seal_open(&a, &x.r, out, sizeof out, &o), 0);
  assert_int_equal(o.kind, YZ_SEAL_PRIVATE);
  assert_int_equal(o.plaintext_len, 10);
  assert_memory_equal(o.plaintext, "dear diary", 10);
  /* Another user: the wrong key, said as such. */
  assert_int_equal(yz_seal_open(&b, &x.r, out, sizeof out, &o),
                   YZ_E_SEAL_WRONG_KEY);
  /* Too small a buffer. */
  assert_int_equal(yz_seal_open(&a, &x.r, out, 9, &o), YZ_E_TOO_LARGE);
  yz_seal_user_clear(&a);
  yz_seal_user_clear(&b);
}

static void test_private_tampered_moved_replayed(void **state)
{
  (void)state;
  yz_seal_user a;
  user_of(&a, 1);
  static struct rec x;
  make(&x, &a, "diary", 7, NULL, 0, "dear diary");
  yz_seal_opened o;
  yz_dhtrec r = x.r;
  static uint8_t v[CAP];
  memcpy(v, x.r.value, x.r.value_len);
  r.value = v;

  /* Every byte after the header, flipped: tampered. */
  for (size_t i = YZ_SEAL_HEADER_LEN; i < r.value_len; i++) {
    v[i] ^= 0x40;
    assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                     YZ_E_SEAL_TAMPERED);
    v[i] ^= 0x40;
  }
  /* The same value under another key (moved) or seq (replayed). */
  r.key[0] ^= 1;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  r.key[0] ^= 1;
  r.seq = 8;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  r.seq = 6;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  r.seq = 7;
  /* The plaintext was wiped on each failure. */
  for (size_t i = 0; i < 10; i++)
    assert_int_equal(out[i], 0);
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o), 0);

  /* Another version; another kind; a plain value; too short. */
  v[4] = 2;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_VERSION);
  v[4] = 1;
  v[5] = 9;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_VERSION);
  v[5] = YZ_SEAL_TOPIC_KEYS;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_NOT_SEALED);
  v[5] = YZ_SEAL_PRIVATE;
  v[2] = 'S';
  assert_int_equal(yz_seal_kind_of(v, r.value_len), YZ_SEAL_PLAIN);
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_NOT_SEALED);
  v[2] = 's';
  r.value_len = yz_seal_private_len(1) - 1;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o), YZ_E_MALFORMED);
  /* An immutable record has no seq to bind: refused. */
  r.value_len = x.r.value_len;
  r.kind = YZ_DHTREC_IMMUTABLE;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o), YZ_E_MALFORMED);
  yz_seal_user_clear(&a);
}

static void test_shared(void **state)
{
  (void)state;
  yz_seal_user a, b, c, d;
  user_of(&a, 1);
  user_of(&b, 2);
  user_of(&c, 3);
  user_of(&d, 4);
  uint8_t rcp[3 * 32];
  memcpy(rcp, b.ed_pk, 32);
  memcpy(rcp + 32, c.ed_pk, 32);
  memcpy(rcp + 64, b.ed_pk, 32); /* twice: once in the list */
  static struct rec x;
  make(&x, &a, "plans", 100, rcp, 3, "meet at noon");
  assert_int_equal(yz_seal_kind_of(x.r.value, x.r.value_len), YZ_SEAL_SHARED);
  assert_int_equal(x.r.value_len, yz_seal_shared_len(12, 3));
  assert_null(find_bytes(x.buf, x.len, "noon", 4));
  const yz_seal_user *readers[] = {&a, &b, &c};
  for (size_t i = 0; i < 3; i++) {
    yz_seal_opened o;
    assert_int_equal(yz_seal_open(readers[i], &x.r, out, sizeof out, &o), 0);
    assert_int_equal(o.kind, YZ_SEAL_SHARED);
    assert_int_equal(o.plaintext_len, 12);
    assert_memory_equal(o.plaintext, "meet at noon", 12);
    assert_int_equal(o.n_recipients, 3);
    assert_memory_equal(o.recipients, a.ed_pk, 32); /* the owner first */
    assert_memory_equal(o.recipients + 32, b.ed_pk, 32);
    assert_memory_equal(o.recipients + 64, c.ed_pk, 32);
  }
  yz_seal_opened o;
  assert_int_equal(yz_seal_open(&d, &x.r, out, sizeof out, &o),
                   YZ_E_SEAL_NOT_RECIPIENT);

  /* Tampered ciphertext, a moved or replayed value: refused to readers. */
  yz_dhtrec r = x.r;
  static uint8_t v[CAP];
  memcpy(v, x.r.value, x.r.value_len);
  r.value = v;
  v[r.value_len - 1] ^= 1;
  assert_int_equal(yz_seal_open(&b, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  v[r.value_len - 1] ^= 1;
  r.seq = 99;
  assert_int_equal(yz_seal_open(&b, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  r.seq = 100;
  r.key[31] ^= 1;
  assert_int_equal(yz_seal_open(&c, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  r.key[31] ^= 1;
  /* A box swapped for one of another value: the AD covers the boxes. */
  static struct rec y;
  make(&y, &a, "plans", 100, rcp, 3, "meet at one!");
  memcpy(v + YZ_SEAL_HEADER_LEN + 1, y.r.value + YZ_SEAL_HEADER_LEN + 1,
         YZ_SEAL_BOX_LEN);
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o),
                   YZ_E_SEAL_TAMPERED);
  /* Framing: a count of 0, or more boxes than bytes. */
  memcpy(v, x.r.value, x.r.value_len);
  v[YZ_SEAL_HEADER_LEN] = 0;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o), YZ_E_MALFORMED);
  v[YZ_SEAL_HEADER_LEN] = 65;
  assert_int_equal(yz_seal_open(&a, &r, out, sizeof out, &o), YZ_E_MALFORMED);
  yz_seal_user_clear(&a);
  yz_seal_user_clear(&b);
  yz_seal_user_clear(&c);
  yz_seal_user_clear(&d);
}

static void test_limits(void **state)
{
  (void)state;
  yz_seal_user a;
  user_of(&a, 1);
  /* 64 readers with the owner fit; 65 do not. */
  static uint8_t rcp[64 * 32];
  for (size_t i = 0; i < 64; i++) {
    uint8_t seed[32], pk[32], sk[64];
    memset(seed, (int)(i + 10), sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(rcp + 32 * i, pk, 32);
  }
  static uint8_t v[CAP];
  size_t len;
  uint8_t key[32] = {0};
  assert_int_equal(yz_seal_shared(&a, key, 1, rcp, 63, (const uint8_t *)"x", 1,
                                  v, sizeof v, &len),
                   0);
  assert_int_equal(yz_seal_shared(&a, key, 1, rcp, 64, (const uint8_t *)"x", 1,
                                  v, sizeof v, &len),
                   YZ_E_LIMIT);
  /* Plaintext limit, and cap. */
  static uint8_t big[YZ_SEAL_PLAINTEXT_MAX + 1];
  assert_int_equal(
      yz_seal_private(&a, key, 1, big, sizeof big, v, sizeof v, &len),
      YZ_E_TOO_LARGE);
  assert_int_equal(yz_seal_private(&a, key, 1, big, 10, v,
                                   yz_seal_private_len(10) - 1, &len),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_seal_private(&a, key, 1, big, 0, v, sizeof v, &len),
                   YZ_E_INVAL);
  /* A topic of 64 members is full. */
  static yz_seal_topic_owner t;
  uint8_t topic[32] = {7};
  assert_int_equal(yz_seal_topic_create(&t, &a, topic, rcp, 62), 0);
  assert_int_equal(t.n_members, 63);
  assert_int_equal(yz_seal_topic_add(&t, rcp + 62 * 32), 0);
  assert_int_equal(yz_seal_topic_add(&t, rcp + 62 * 32), YZ_E_DUPLICATE);
  assert_int_equal(yz_seal_topic_add(&t, rcp + 63 * 32), YZ_E_LIMIT);
  /* A full record (8 epochs of 63..64 members) fits a default DHT value. */
  for (int i = 0; i < 10; i++)
    assert_int_equal(yz_seal_topic_rotate(&t), 0);
  assert_int_equal(t.n_epochs, YZ_SEAL_EPOCHS_MAX);
  assert_int_equal(t.epochs[0].epoch, 11);
  assert_int_equal(t.epochs[7].epoch, 4);
  static struct rec x;
  assert_int_equal(yz_seal_topic_record(&t, &a, 1, 1800003600u, x.buf,
                                        sizeof x.buf, &x.len),
                   0);
  decode(&x);
  assert_true(x.r.value_len <= YZ_DHTREC_VALUE_MAX_DEFAULT);
  yz_seal_topic_owner_clear(&t);
  yz_seal_user_clear(&a);
}

/* Topic: owner a, members b and c; d never a member. */
struct topic_fix {
  yz_seal_user a, b, c, d;
  uint8_t topic[32];
  yz_seal_topic_owner t;
  struct rec x;
};

static void publish_record(struct topic_fix *f, uint64_t seq)
{
  assert_int_equal(yz_seal_topic_record(&f->t, &f->a, seq, 1800003600u,
                                        f->x.buf, sizeof f->x.buf, &f->x.len),
                   0);
  decode(&f->x);
}

static void test_topic(void **state)
{
  (void)state;
  static struct topic_fix f;
  user_of(&f.a, 1);
  user_of(&f.b, 2);
  user_of(&f.c, 3);
  user_of(&f.d, 4);
  assert_int_equal(yz_ps_topic_hash(f.topic, "team", 4), 0);
  uint8_t m[64];
  memcpy(m, f.b.ed_pk, 32);
  memcpy(m + 32, f.c.ed_pk, 32);
  assert_int_equal(yz_seal_topic_create(&f.t, &f.a, f.topic, m, 2), 0);
  publish_record(&f, 1);
  uint8_t rkey[32];
  assert_int_equal(yz_seal_topic_record_key(rkey, f.a.ed_pk, f.topic), 0);
  assert_memory_equal(rkey, f.x.r.key, 32);
  assert_int_equal(yz_seal_kind_of(f.x.r.value, f.x.r.value_len),
                   YZ_SEAL_TOPIC_KEYS);

  yz_seal_keyring kb, kc, kd, ka;
  const uint64_t W = 5000;
  yz_seal_keyring_init(&ka, f.topic, f.a.ed_pk, W);
  yz_seal_keyring_init(&kb, f.topic, f.a.ed_pk, W);
  yz_seal_keyring_init(&kc, f.topic, f.a.ed_pk, W);
  yz_seal_keyring_init(&kd, f.topic, f.a.ed_pk, W);
  assert_int_equal(yz_seal_topic_keys_open(&ka, &f.a, &f.x.r, 100), 0);
  assert_int_equal(yz_seal_topic_keys_open(&kb, &f.b, &f.x.r, 100), 0);
  assert_int_equal(yz_seal_topic_keys_open(&kc, &f.c, &f.x.r, 100), 0);
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &f.x.r, 100),
                   YZ_E_SEAL_NOT_RECIPIENT);
  assert_int_equal(yz_seal_keyring_epoch(&kb), 1);
  assert_int_equal(yz_seal_keyring_epoch(&kd), 0);
  /* Another owner's key ring does not take this record. */
  yz_seal_keyring kx;
  yz_seal_keyring_init(&kx, f.topic, f.b.ed_pk, W);
  assert_int_equal(yz_seal_topic_keys_open(&kx, &f.b, &f.x.r, 100),
                   YZ_E_SEAL_WRONG_KEY);

  /* b publishes at epoch 1; a and c read it; d cannot, nor publish. */
  uint8_t p1[256], p2[256], pt[256];
  size_t l1, l2, ol;
  uint64_t ep;
  assert_int_equal(yz_seal_topic_seal(&kb, f.b.ed_pk,
                                      (const uint8_t *)"hello team", 10, p1,
                                      sizeof p1, &l1, &ep),
                   0);
  assert_int_equal(ep, 1);
  assert_null(find_bytes(p1, l1, "team", 4));
  assert_int_equal(
      yz_seal_topic_open(&kc, f.b.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
      0);
  assert_int_equal(ol, 10);
  assert_memory_equal(pt, "hello team", 10);
  assert_int_equal(
      yz_seal_topic_open(&ka, f.b.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
      0);
  assert_int_equal(
      yz_seal_topic_open(&kd, f.b.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
      YZ_E_SEAL_EPOCH);
  assert_int_equal(yz_seal_topic_seal(&kd, f.d.ed_pk, (const uint8_t *)"x", 1,
                                      p2, sizeof p2, &l2, &ep),
                   YZ_E_SEAL_EPOCH);
  /* Another author, another epoch, a changed byte, a version. */
  assert_int_equal(
      yz_seal_topic_open(&kc, f.c.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
      YZ_E_SEAL_TAMPERED);
  assert_int_equal(
      yz_seal_topic_open(&kc, f.b.ed_pk, 2, p1, l1, 200, pt, sizeof pt, &ol),
      YZ_E_SEAL_EPOCH);
  for (size_t i = 9; i < l1; i++) {
    p1[i] ^= 0x80;
    assert_int_equal(
        yz_seal_topic_open(&kc, f.b.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
        YZ_E_SEAL_TAMPERED);
    p1[i] ^= 0x80;
  }
  p1[0] = 2;
  assert_int_equal(
      yz_seal_topic_open(&kc, f.b.ed_pk, 1, p1, l1, 200, pt, sizeof pt, &ol),
      YZ_E_SEAL_VERSION);
  p1[0] = 1;
  assert_int_equal(yz_seal_topic_open(&kc, f.b.ed_pk, 1, p1,
                                      YZ_SEAL_MSG_OVERHEAD - 1, 200, pt,
                                      sizeof pt, &ol),
                   YZ_E_MALFORMED);

  /* A relay checks the PubSub message without any key. */
  yz_ps_msg msg;
  memset(&msg, 0, sizeof msg);
  memcpy(msg.topic, f.topic, 32);
  msg.seq = 1;
  msg.expiry = 1800000300u;
  msg.epoch = 1;
  msg.data = p1;
  msg.data_len = l1;
  assert_int_equal(yz_ps_msg_sign_raw(&msg, f.b.ed_sk, NULL), 0);
  assert_int_equal(yz_ps_msg_check(&msg, 1800000000u, 0, 0, NULL), YZ_PS_OK);

  /* c is removed at 1000: epoch 2, sealed to a and b only. */
  assert_int_equal(yz_seal_topic_remove(&f.t, &f.a, f.c.ed_pk), 0);
  assert_int_equal(yz_seal_topic_remove(&f.t, &f.a, f.c.ed_pk),
                   YZ_E_NOT_FOUND);
  assert_int_equal(yz_seal_topic_remove(&f.t, &f.a, f.a.ed_pk), YZ_E_INVAL);
  publish_record(&f, 2);
  assert_int_equal(yz_seal_topic_keys_open(&kb, &f.b, &f.x.r, 1000), 0);
  assert_int_equal(yz_seal_keyring_epoch(&kb), 2);
  assert_int_equal(yz_seal_topic_keys_open(&kc, &f.c, &f.x.r, 1000),
                   YZ_E_SEAL_NOT_RECIPIENT);
  assert_int_equal(yz_seal_keyring_epoch(&kc), 1);
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &f.x.r, 1000),
                   YZ_E_SEAL_NOT_RECIPIENT);

  /* b publishes at epoch 2: c (removed) and d read nothing. */
  assert_int_equal(yz_seal_topic_seal(&kb, f.b.ed_pk,
                                      (const uint8_t *)"after c left", 12, p2,
                                      sizeof p2, &l2, &ep),
                   0);
  assert_int_equal(ep, 2);
  assert_int_equal(
      yz_seal_topic_open(&kc, f.b.ed_pk, 2, p2, l2, 1001, pt, sizeof pt, &ol),
      YZ_E_SEAL_EPOCH);
  assert_int_equal(
      yz_seal_topic_open(&kd, f.b.ed_pk, 2, p2, l2, 1001, pt, sizeof pt, &ol),
      YZ_E_SEAL_EPOCH);
  /* Even with the epoch-1 key forced in, epoch 2 does not open. */
  yz_seal_keyring forged = kc;
  forged.e[0].epoch = 2;
  forged.e[0].superseded_ms = 0;
  assert_int_equal(yz_seal_topic_open(&forged, f.b.ed_pk, 2, p2, l2, 1001, pt,
                                      sizeof pt, &ol),
                   YZ_E_SEAL_TAMPERED);
  /* c can no longer publish to the topic's members. */
  assert_int_equal(yz_seal_topic_seal(&kc, f.c.ed_pk, (const uint8_t *)"x", 1,
                                      p2 + 100, 100, &ol, &ep),
                   YZ_E_SEAL_EPOCH);

  /* Epoch 1 stays readable for b within the window, and not after. */
  assert_int_equal(yz_seal_topic_open(&kb, f.b.ed_pk, 1, p1, l1, 1000 + W - 1,
                                      pt, sizeof pt, &ol),
                   0);
  assert_int_equal(yz_seal_topic_open(&kb, f.b.ed_pk, 1, p1, l1, 1000 + W, pt,
                                      sizeof pt, &ol),
                   YZ_E_SEAL_EPOCH);
  assert_int_equal(yz_seal_topic_open(&kb, f.b.ed_pk, 2, p2, l2, 1000 + W, pt,
                                      sizeof pt, &ol),
                   0);
  assert_memory_equal(pt, "after c left", 12);

  /* The owner rebuilds its state from the record alone. */
  static yz_seal_topic_owner back;
  assert_int_equal(yz_seal_topic_owner_load(&back, &f.a, f.topic, &f.x.r), 0);
  assert_int_equal(back.n_members, 2);
  assert_memory_equal(back.members, f.t.members, 64);
  assert_int_equal(back.n_epochs, 2);
  assert_memory_equal(back.epochs[0].key, f.t.epochs[0].key, 32);
  assert_memory_equal(back.epochs[1].key, f.t.epochs[1].key, 32);
  assert_int_equal(back.seq, 2);
  /* ... and nobody else can. */
  assert_int_equal(yz_seal_topic_owner_load(&back, &f.b, f.topic, &f.x.r),
                   YZ_E_SEAL_WRONG_KEY);
  yz_dhtrec r = f.x.r;
  r.seq = 3;
  assert_int_equal(yz_seal_topic_owner_load(&back, &f.a, f.topic, &r),
                   YZ_E_SEAL_TAMPERED);
  yz_seal_topic_owner_clear(&back);

  /* Adding d: d reads the current epoch, not the earlier ones. */
  assert_int_equal(yz_seal_topic_add(&f.t, f.d.ed_pk), 0);
  publish_record(&f, 3);
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &f.x.r, 2000), 0);
  assert_int_equal(
      yz_seal_topic_open(&kd, f.b.ed_pk, 2, p2, l2, 2000, pt, sizeof pt, &ol),
      0);
  assert_int_equal(
      yz_seal_topic_open(&kd, f.b.ed_pk, 1, p1, l1, 2000, pt, sizeof pt, &ol),
      YZ_E_SEAL_EPOCH);

  /* Framing errors of a topic key record. */
  static uint8_t v[CAP];
  memcpy(v, f.x.r.value, f.x.r.value_len);
  r = f.x.r;
  r.value = v;
  v[YZ_SEAL_HEADER_LEN] = 0;
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &r, 2000),
                   YZ_E_MALFORMED);
  v[YZ_SEAL_HEADER_LEN] = 9;
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &r, 2000),
                   YZ_E_MALFORMED);
  v[YZ_SEAL_HEADER_LEN] = 2;
  r.value_len--;
  assert_int_equal(yz_seal_topic_keys_open(&kd, &f.d, &r, 2000),
                   YZ_E_MALFORMED);

  yz_seal_keyring_clear(&ka);
  yz_seal_keyring_clear(&kb);
  yz_seal_keyring_clear(&kc);
  yz_seal_keyring_clear(&kd);
  yz_seal_topic_owner_clear(&f.t);
  yz_seal_user_clear(&f.a);
  yz_seal_user_clear(&f.b);
  yz_seal_user_clear(&f.c);
  yz_seal_user_clear(&f.d);
}

/* The keyring keeps at most YZ_SEAL_EPOCHS_MAX epochs. */
static void test_keyring_limit(void **state)
{
  (void)state;
  static struct topic_fix f;
  user_of(&f.a, 1);
  user_of(&f.b, 2);
  memset(f.topic, 9, 32);
  assert_int_equal(yz_seal_topic_create(&f.t, &f.a, f.topic, f.b.ed_pk, 1), 0);
  yz_seal_keyring kb;
  yz_seal_keyring_init(&kb, f.topic, f.a.ed_pk, 1000000);
  for (uint64_t i = 0; i < 12; i++) {
    publish_record(&f, i + 1);
    assert_int_equal(yz_seal_topic_keys_open(&kb, &f.b, &f.x.r, 10 + i), 0);
    assert_int_equal(yz_seal_keyring_epoch(&kb), i + 1);
    assert_int_equal(yz_seal_topic_rotate(&f.t), 0);
  }
  assert_int_equal(kb.n, YZ_SEAL_EPOCHS_MAX);
  assert_int_equal(kb.e[7].epoch, 5);
  assert_int_equal(kb.e[0].superseded_ms, 0);
  assert_int_not_equal(kb.e[1].superseded_ms, 0);
  yz_seal_keyring_clear(&kb);
  yz_seal_topic_owner_clear(&f.t);
  yz_seal_user_clear(&f.a);
  yz_seal_user_clear(&f.b);
}

/* The box is libsodium's sealed box: crypto_box_seal_open reads it. */
static void test_box_is_sealed_box(void **state)
{
  (void)state;
  yz_seal_user b;
  user_of(&b, 2);
  uint8_t m[32], seed[32], box[YZ_SEAL_BOX_LEN], back[32];
  memset(m, 0x5a, sizeof m);
  memset(seed, 3, sizeof seed);
  assert_int_equal(yz__seal_box(box, m, b.x_pk, seed), 0);
  assert_int_equal(crypto_box_seal_open(back, box, sizeof box, b.x_pk, b.x_sk),
                   0);
  assert_memory_equal(back, m, 32);
  uint8_t x[32];
  assert_int_equal(yz_seal_box_key(x, b.ed_pk), 0);
  assert_memory_equal(x, b.x_pk, 32);
  yz_seal_user_clear(&b);
  for (size_t i = 0; i < sizeof b; i++)
    assert_int_equal(((uint8_t *)&b)[i], 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_private_round_trip),
      cmocka_unit_test(test_private_tampered_moved_replayed),
      cmocka_unit_test(test_shared),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_topic),
      cmocka_unit_test(test_keyring_limit),
      cmocka_unit_test(test_box_is_sealed_box),
  };
  if (yz_init() != 0)
    return 1;
  return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
