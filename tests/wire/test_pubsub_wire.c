/*
 * PubSub wire format (yz/pubsub_wire.h, docs/protocol.md "PubSub"): topic
 * hashes, signed bytes, IDs, signing and the receiver's checks; every RPC
 * field round-trips; every decoding rule broken once is refused with its
 * code; every limit is hit; the encoder refuses what the decoder would.
 *
 * Inputs the encoder cannot produce are written by a small CBOR writer of
 * the test's own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "yz/pubsub_wire.h"

#define NOW 1800000000u

static yz_ps_rpc rpc, rpc2;

/* ---- a CBOR writer -------------------------------------------------------
 */

typedef struct w {
  uint8_t b[1 << 20];
  size_t n;
} w;
static w o;

static void w_byte(w *x, uint8_t v)
{
  assert_true(x->n < sizeof x->b);
  x->b[x->n++] = v;
}

static void w_head(w *x, uint8_t major, uint64_t v)
{
  uint8_t m = (uint8_t)(major << 5);
  int width = v < 24             ? 0
              : v <= 0xff        ? 1
              : v <= 0xffff      ? 2
              : v <= 0xffffffffu ? 4
                                 : 8;
  if (v < 24)
    w_byte(x, m | (uint8_t)v);
  else
    w_byte(x, m | (uint8_t)(width == 1   ? 24
                            : width == 2 ? 25
                            : width == 4 ? 26
                                         : 27));
  for (int i = width - 1; i >= 0; i--)
    w_byte(x, (uint8_t)(v >> (8 * i)));
}

static void w_str(w *x, uint8_t major, const void *p, size_t n)
{
  w_head(x, major, n);
  for (size_t i = 0; i < n; i++)
    w_byte(x, ((const uint8_t *)p)[i]);
}

/* Item i of a sorted set: 32 bytes, i in the last two. */
static void w_item(w *x, unsigned i)
{
  uint8_t t[32];
  memset(t, 0x11, sizeof t);
  t[30] = (uint8_t)(i >> 8), t[31] = (uint8_t)i;
  w_str(x, 2, t, 32);
}

/* key: [items first..first+n-1] */
static void w_set(w *x, unsigned key, unsigned first, unsigned n)
{
  w_head(x, 0, key);
  w_head(x, 4, n);
  for (unsigned i = 0; i < n; i++)
    w_item(x, first + i);
}

static const uint8_t SIG[64] = {1};

/* A message map with the given keys (bits 1..8; 8 = an unknown key). */
static void w_msg(w *x, unsigned keys, uint64_t seq, size_t data_len,
                  size_t sig_len)
{
  unsigned n = 0;
  for (unsigned k = 1; k <= 8; k++)
    n += (keys >> k) & 1;
  w_head(x, 5, n);
  static uint8_t data[YZ_PS_MAX_DATA + 2];
  for (unsigned k = 1; k <= 8; k++) {
    if (!((keys >> k) & 1))
      continue;
    w_head(x, 0, k);
    switch (k) {
    case 1:
    case 2:
      w_item(x, k);
      break;
    case 3:
      w_head(x, 0, seq);
      break;
    case 4:
      w_head(x, 0, NOW + 60);
      break;
    case 5:
      w_head(x, 0, seq == 99 ? 0 : 7); /* seq 99: epoch 0 */
      break;
    case 6:
      w_str(x, 2, data, data_len);
      break;
    case 7:
      w_str(x, 2, SIG, sig_len);
      break;
    default:
      w_head(x, 0, 1);
      break;
    }
  }
}

#define MSG_KEYS 0xdeu /* 1 2 3 4 6 7 */

static void start(unsigned pairs)
{
  o.n = 0;
  w_head(&o, 5, pairs);
}

static int dec(const yz_ps_limits *lim)
{
  const char *why = NULL;
  int rc = yz_ps_rpc_decode(&rpc, o.b, o.n, lim, &why);
  if (rc)
    assert_non_null(why);
  return rc;
}

/* ---- topics, signatures, checks ----------------------------------------- */

static void test_topic_hash(void **state)
{
  (void)state;
  uint8_t h[32], want[32];
  assert_int_equal(yz_ps_topic_hash(h, "news", 4), 0);
  uint8_t in[19 + 4];
  memcpy(in, "yz pubsub topic v1\0news", sizeof in);
  crypto_hash_sha256(want, in, sizeof in);
  assert_memory_equal(h, want, 32);
  char long_name[256];
  memset(long_name, 'a', sizeof long_name);
  assert_int_equal(yz_ps_topic_hash(h, long_name, 255), 0);
  assert_int_equal(yz_ps_topic_hash(h, long_name, 256), YZ_E_INVAL);
  assert_int_equal(yz_ps_topic_hash(h, "", 0), YZ_E_INVAL);
  assert_int_equal(yz_ps_topic_hash(h, "\xff", 1), YZ_E_INVAL);
  assert_int_equal(yz_ps_topic_hash(h, NULL, 1), YZ_E_INVAL);
}

static void seeded_sk(uint8_t sk[64], uint8_t b)
{
  uint8_t seed[32], pk[32];
  memset(seed, b, sizeof seed);
  crypto_sign_ed25519_seed_keypair(pk, sk, seed);
}

static yz_ps_msg make_msg(const uint8_t *data, size_t n)
{
  yz_ps_msg m;
  memset(&m, 0, sizeof m);
  assert_int_equal(yz_ps_topic_hash(m.topic, "news", 4), 0);
  m.seq = 1;
  m.expiry = NOW + 60;
  m.data = data;
  m.data_len = n;
  return m;
}

static void test_signed_bytes_and_id(void **state)
{
  (void)state;
  uint8_t sk[64];
  seeded_sk(sk, 7);
  yz_ps_msg m = make_msg((const uint8_t *)"hi", 2);
  m.epoch = 0x0102;
  assert_int_equal(yz_ps_msg_sign_raw(&m, sk, NULL), 0);
  assert_memory_equal(m.author, sk + 32, 32);
  uint8_t sb[YZ_PS_SIGNED_LEN];
  assert_int_equal(yz_ps_msg_signed_bytes(&m, sb), 0);
  /* The layout of docs/protocol.md "Signed bytes", field by field. */
  assert_memory_equal(sb, "yz pubsub message v1\0", 21);
  assert_memory_equal(sb + 21, m.topic, 32);
  assert_memory_equal(sb + 53, m.author, 32);
  static const uint8_t nums[24] = {0, 0, 0, 0, 0,    0,    0,    1,
                                   0, 0, 0, 0, 0x6b, 0x49, 0xd2, 0x3c,
                                   0, 0, 0, 0, 0,    0,    1,    2};
  assert_memory_equal(sb + 85, nums, 24);
  uint8_t hd[32];
  crypto_hash_sha256(hd, (const uint8_t *)"hi", 2);
  assert_memory_equal(sb + 109, hd, 32);
  uint8_t id[32], want[32];
  assert_int_equal(yz_ps_msg_id(&m, id), 0);
  crypto_hash_sha256(want, sb, sizeof sb);
  assert_memory_equal(id, want, 32);
  assert_int_equal(crypto_sign_ed25519_verify_detached(m.signature, sb,
                                                       sizeof sb, m.author),
                   0);
  /* Another payload from the same author and seq: another ID. */
  yz_ps_msg m2 = m;
  m2.data = (const uint8_t *)"ho";
  uint8_t id2[32];
  assert_int_equal(yz_ps_msg_id(&m2, id2), 0);
  assert_memory_not_equal(id, id2, 32);
  /* Empty data is a message too. */
  yz_ps_msg e = make_msg(NULL, 0);
  assert_int_equal(yz_ps_msg_id(&e, id2), 0);
  e.data_len = 1;
  assert_int_equal(yz_ps_msg_id(&e, id2), YZ_E_INVAL);
  assert_int_equal(yz_ps_msg_sign_raw(&e, sk, NULL), YZ_E_INVAL);
}

static void test_sign_identity(void **state)
{
  (void)state;
  yz_identity id;
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 9, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&id, seed), 0);
  yz_ps_msg m = make_msg((const uint8_t *)"x", 1);
  assert_int_equal(yz_ps_msg_sign(&m, &id, NULL), 0);
  assert_memory_equal(m.author, yz_identity_public_key(&id), 32);
  assert_int_equal(yz_ps_msg_check(&m, NOW, 0, 0, NULL), YZ_PS_OK);
  assert_int_equal(yz_ps_msg_sign(&m, NULL, NULL), YZ_E_INVAL);
  yz_identity_clear(&id);
}

static void test_check(void **state)
{
  (void)state;
  uint8_t sk[64];
  seeded_sk(sk, 3);
  static uint8_t big[YZ_PS_MAX_DATA + 1];
  yz_ps_msg m = make_msg(big, sizeof big);
  assert_int_equal(yz_ps_msg_sign_raw(&m, sk, NULL), 0);
  const char *why = NULL;
  assert_int_equal(yz_ps_msg_check(&m, NOW, 0, 0, &why), YZ_PS_TOO_LARGE);
  assert_int_equal(yz_ps_msg_check(&m, NOW, 0, sizeof big, NULL), YZ_PS_OK);
  m = make_msg((const uint8_t *)"abc", 3);
  assert_int_equal(yz_ps_msg_sign_raw(&m, sk, NULL), 0);
  assert_int_equal(yz_ps_msg_check(&m, NOW, 0, 0, NULL), YZ_PS_OK);
  /* Expiry: valid while now < expiry; at most max_lifetime ahead. */
  assert_int_equal(yz_ps_msg_check(&m, NOW + 60, 0, 0, &why), YZ_PS_EXPIRED);
  assert_int_equal(yz_ps_msg_check(&m, NOW + 59, 0, 0, NULL), YZ_PS_OK);
  assert_int_equal(yz_ps_msg_check(&m, NOW, 59, 0, &why),
                   YZ_PS_EXPIRY_TOO_FAR);
  assert_int_equal(yz_ps_msg_check(&m, NOW, 60, 0, NULL), YZ_PS_OK);
  /* Any field changed breaks the signature. */
  yz_ps_msg b = m;
  b.data = (const uint8_t *)"abd";
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, &why), YZ_PS_BAD_SIGNATURE);
  b = m, b.seq++;
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, NULL), YZ_PS_BAD_SIGNATURE);
  b = m, b.epoch = 1;
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, NULL), YZ_PS_BAD_SIGNATURE);
  b = m, b.topic[0] ^= 1;
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, NULL), YZ_PS_BAD_SIGNATURE);
  b = m, b.signature[5] ^= 1;
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, NULL), YZ_PS_BAD_SIGNATURE);
  b = m, b.expiry++;
  assert_int_equal(yz_ps_msg_check(&b, NOW, 0, 0, NULL), YZ_PS_BAD_SIGNATURE);
  assert_string_equal(yz_ps_status_name(YZ_PS_BAD_SIGNATURE), "BAD_SIGNATURE");
  assert_string_equal(yz_ps_status_name(42), "UNKNOWN");
}

/* ---- RPC round trip -------------------------------------------------------
 */

static uint8_t ids[40][32];
static uint8_t peer_rec[3][8] = {
    {0xa1, 0x01, 0x01}, {0xa1, 0x01, 0x02}, {0xa1, 0x01, 0x03}};

static void fill_full(yz_ps_rpc *r, yz_ps_msg *msgs, yz_ps_bytes *peers)
{
  for (int i = 0; i < 40; i++)
    memset(ids[i], 0x20 + i, 32); /* increasing */
  yz_ps_rpc_init(r);
  r->subscribe = (yz_ps_list){ids[0], 2, 0};
  r->unsubscribe = (yz_ps_list){ids[2], 1, 0};
  r->n_publish = 2;
  r->publish[0] = msgs[0];
  r->publish[1] = msgs[1];
  r->graft = (yz_ps_list){ids[3], 3, 0};
  r->n_prune = 2;
  r->prune[0] = (yz_ps_prune){ids[6], 60, peers, 2};
  r->prune[1] = (yz_ps_prune){ids[7], 0, NULL, 0};
  r->n_ihave = 2;
  r->ihave[0] = (yz_ps_ihave){ids[8], {ids[10], 5, 0}};
  r->ihave[1] = (yz_ps_ihave){ids[9], {ids[15], 1, 0}};
  r->iwant = (yz_ps_list){ids[20], 4, 0};
  r->idontwant = (yz_ps_list){ids[30], 10, 0};
}

static void same_list(const yz_ps_list *a, const yz_ps_list *b)
{
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    assert_memory_equal(yz_ps_list_at(a, i), yz_ps_list_at(b, i), 32);
}

static void test_rpc_roundtrip(void **state)
{
  (void)state;
  uint8_t sk[64];
  seeded_sk(sk, 5);
  yz_ps_msg msgs[2] = {make_msg((const uint8_t *)"one", 3),
                       make_msg((const uint8_t *)"", 0)};
  msgs[1].seq = 2;
  msgs[1].epoch = 3;
  assert_int_equal(yz_ps_msg_sign_raw(&msgs[0], sk, NULL), 0);
  assert_int_equal(yz_ps_msg_sign_raw(&msgs[1], sk, NULL), 0);
  yz_ps_bytes peers[2] = {{peer_rec[0], 3}, {peer_rec[1], 3}};
  fill_full(&rpc2, msgs, peers);
  static uint8_t buf[8192];
  size_t n = 0, n0 = 0;
  /* The length alone. */
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, NULL, 0, &n0, NULL),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, NULL),
                   0);
  assert_int_equal(n, n0);
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, n - 1, &n0, NULL),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_ps_rpc_decode(&rpc, buf, n, NULL, NULL), 0);
  same_list(&rpc.subscribe, &rpc2.subscribe);
  same_list(&rpc.unsubscribe, &rpc2.unsubscribe);
  same_list(&rpc.graft, &rpc2.graft);
  same_list(&rpc.iwant, &rpc2.iwant);
  same_list(&rpc.idontwant, &rpc2.idontwant);
  assert_int_equal(rpc.n_publish, 2);
  for (int i = 0; i < 2; i++) {
    assert_memory_equal(rpc.publish[i].topic, msgs[i].topic, 32);
    assert_memory_equal(rpc.publish[i].author, msgs[i].author, 32);
    assert_memory_equal(rpc.publish[i].signature, msgs[i].signature, 64);
    assert_int_equal(rpc.publish[i].seq, msgs[i].seq);
    assert_int_equal(rpc.publish[i].epoch, msgs[i].epoch);
    assert_int_equal(rpc.publish[i].data_len, msgs[i].data_len);
    assert_int_equal(yz_ps_msg_check(&rpc.publish[i], NOW, 0, 0, NULL),
                     YZ_PS_OK);
  }
  assert_int_equal(rpc.n_prune, 2);
  assert_int_equal(rpc.prune[0].backoff, 60);
  assert_int_equal(rpc.prune[0].n_peers, 2);
  assert_memory_equal(rpc.prune[0].peers[1].ptr, peer_rec[1], 3);
  assert_int_equal(rpc.prune[1].n_peers, 0);
  assert_int_equal(rpc.n_ihave, 2);
  same_list(&rpc.ihave[0].ids, &rpc2.ihave[0].ids);
  assert_memory_equal(rpc.ihave[1].topic, ids[9], 32);
  /* Re-encoding the decoded RPC gives the same bytes. */
  static uint8_t buf2[8192];
  size_t n2;
  assert_int_equal(yz_ps_rpc_encode(&rpc, NULL, buf2, sizeof buf2, &n2, NULL),
                   0);
  assert_int_equal(n2, n);
  assert_memory_equal(buf, buf2, n);

  /* The smallest RPC: one IWANT, by hand. */
  start(1), w_set(&o, 7, 1, 1);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.iwant.n, 1);
  assert_int_equal(yz_ps_rpc_encode(&rpc, NULL, buf2, sizeof buf2, &n2, NULL),
                   0);
  assert_int_equal(n2, o.n);
  assert_memory_equal(buf2, o.b, o.n);
}

/* ---- decoding rules -------------------------------------------------------
 */

static void test_generic_rules(void **state)
{
  (void)state;
  start(1), w_set(&o, 1, 1, 1), w_byte(&o, 0);
  assert_int_equal(dec(NULL), YZ_E_TRAILING);
  start(1), w_set(&o, 1, 1, 1), o.n--;
  assert_int_equal(dec(NULL), YZ_E_TRUNCATED);
  start(2), w_set(&o, 1, 1, 1), w_set(&o, 1, 2, 1);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE); /* key 1 twice */
  start(2), w_set(&o, 4, 1, 1), w_set(&o, 1, 2, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* keys out of order */
  o.n = 0, w_head(&o, 4, 1), w_head(&o, 0, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* not a map */
  start(0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* empty RPC */
  start(1), w_set(&o, 9, 1, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* unknown key */
  start(1), w_set(&o, 0, 1, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* key 0 */
  start(1), w_str(&o, 3, "s", 1), w_head(&o, 4, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* text key */
  start(1), w_head(&o, 0, 7), w_byte(&o, 0xf9), w_byte(&o, 0), w_byte(&o, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* float */
  start(1), w_byte(&o, 0x18), w_byte(&o, 1), w_head(&o, 4, 1), w_item(&o, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* wide key head */
  start(1), w_set(&o, 7, 1, 100);
  yz_ps_limits small = {.max_rpc_len = 100};
  assert_int_equal(dec(&small), YZ_E_TOO_LARGE);
  yz_ps_limits over = {.max_ids = YZ_PS_IDS_CAP + 1};
  assert_int_equal(dec(&over), YZ_E_INVAL);
  assert_int_equal(yz_ps_rpc_decode(NULL, o.b, o.n, NULL, NULL), YZ_E_INVAL);
  /* Nesting: a message inside an array inside an array. */
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_head(&o, 4, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
}

static void test_list_rules(void **state)
{
  (void)state;
  /* Each topic or ID list: empty, over the limit, out of order, repeated,
   * an item of the wrong size. */
  static const unsigned keys[] = {1, 2, 4, 7, 8};
  yz_ps_limits lim = {.max_topics = 3, .max_ids = 3};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    unsigned key = keys[k];
    start(1), w_set(&o, key, 1, 3);
    assert_int_equal(dec(&lim), 0);
    start(1), w_set(&o, key, 1, 4);
    assert_int_equal(dec(&lim), YZ_E_LIMIT);
    start(1), w_set(&o, key, 1, 0);
    assert_int_equal(dec(&lim), YZ_E_MALFORMED);
    start(1), w_head(&o, 0, key), w_head(&o, 4, 2), w_item(&o, 2);
    w_item(&o, 1);
    assert_int_equal(dec(&lim), YZ_E_MALFORMED);
    start(1), w_head(&o, 0, key), w_head(&o, 4, 2), w_item(&o, 2);
    w_item(&o, 2);
    assert_int_equal(dec(&lim), YZ_E_DUPLICATE);
    start(1), w_head(&o, 0, key), w_head(&o, 4, 1), w_str(&o, 2, "abc", 3);
    assert_int_equal(dec(&lim), YZ_E_MALFORMED);
    start(1), w_head(&o, 0, key), w_head(&o, 1, 0);
    assert_int_equal(dec(&lim), YZ_E_MALFORMED); /* not an array */
  }
  /* Default limits: 256 topics, 5000 IDs. */
  start(1), w_set(&o, 1, 0, 256);
  assert_int_equal(dec(NULL), 0);
  start(1), w_set(&o, 1, 0, 257);
  assert_int_equal(dec(NULL), YZ_E_LIMIT);
  start(1), w_set(&o, 8, 0, 5000);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.idontwant.n, 5000);
  start(1), w_set(&o, 8, 0, 5001);
  assert_int_equal(dec(NULL), YZ_E_LIMIT);
  /* A topic both subscribed and unsubscribed. */
  start(2), w_set(&o, 1, 1, 3), w_set(&o, 2, 3, 2);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE);
  start(2), w_set(&o, 1, 1, 3), w_set(&o, 2, 4, 2);
  assert_int_equal(dec(NULL), 0);
}

static void test_message_rules(void **state)
{
  (void)state;
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(&o, MSG_KEYS, 1, 5, 64);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.publish[0].data_len, 5);
  assert_int_equal(rpc.publish[0].epoch, 0);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
  w_msg(&o, MSG_KEYS | 0x20, 1, 5, 64);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.publish[0].epoch, 7);
  /* Each required field missing. */
  for (unsigned k = 1; k <= 7; k++) {
    if (k == 5)
      continue;
    start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
    w_msg(&o, MSG_KEYS & ~(1u << k), 1, 5, 64);
    assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  }
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
  w_msg(&o, MSG_KEYS | 0x100, 1, 5, 64); /* key 8 */
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
  w_msg(&o, MSG_KEYS | 0x20, 99, 5, 64); /* epoch 0 present */
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(&o, MSG_KEYS, 1, 5, 63);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* short signature */
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
  w_msg(&o, MSG_KEYS, 1, YZ_PS_MAX_DATA + 1, 64);
  assert_int_equal(dec(NULL), YZ_E_TOO_LARGE);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1);
  w_msg(&o, MSG_KEYS, 1, YZ_PS_MAX_DATA, 64);
  assert_int_equal(dec(NULL), 0);
  /* A field of the wrong type: seq as a byte string. */
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_head(&o, 5, 6);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_item(&o, 2);
  w_head(&o, 0, 3), w_str(&o, 2, "a", 1), w_head(&o, 0, 4), w_head(&o, 0, 9);
  w_head(&o, 0, 6), w_str(&o, 2, "", 0), w_head(&o, 0, 7),
      w_str(&o, 2, SIG, 64);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  /* Not a map. */
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_head(&o, 0, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  /* The same message twice; two seqs are two messages. */
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 2), w_msg(&o, MSG_KEYS, 1, 5, 64);
  w_msg(&o, MSG_KEYS, 1, 6, 64);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 2), w_msg(&o, MSG_KEYS, 1, 5, 64);
  w_msg(&o, MSG_KEYS, 2, 5, 64);
  assert_int_equal(dec(NULL), 0);
  /* The message limit. */
  yz_ps_limits lim = {.max_messages = 2};
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 3);
  for (unsigned i = 0; i < 3; i++)
    w_msg(&o, MSG_KEYS, i, 1, 64);
  assert_int_equal(dec(&lim), YZ_E_LIMIT);
  assert_int_equal(dec(NULL), 0);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
}

/* A PRUNE map: topic item t, backoff, n peers (peer i = {1: i}). */
static void w_prune(w *x, unsigned t, unsigned n_peers, unsigned dup)
{
  w_head(x, 5, n_peers ? 3 : 2);
  w_head(x, 0, 1), w_item(x, t);
  w_head(x, 0, 2), w_head(x, 0, 60);
  if (!n_peers)
    return;
  w_head(x, 0, 3), w_head(x, 4, n_peers);
  for (unsigned i = 0; i < n_peers; i++) {
    uint8_t rec[3] = {0xa1, 0x01, (uint8_t)(dup ? 1 : i)};
    w_str(x, 2, rec, 3);
  }
}

static void test_prune_rules(void **state)
{
  (void)state;
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(&o, 1, 2, 0);
  w_prune(&o, 2, 0, 0);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.prune[0].n_peers, 2);
  assert_int_equal(rpc.prune[0].backoff, 60);
  /* Out of order, the same topic twice. */
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(&o, 2, 0, 0);
  w_prune(&o, 1, 0, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(&o, 2, 0, 0);
  w_prune(&o, 2, 0, 0);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE);
  /* Peers: over the limit, repeated, empty list, not a map, too long. */
  yz_ps_limits lim = {.max_px = 2, .max_topics = 1};
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_prune(&o, 1, 3, 0);
  assert_int_equal(dec(&lim), YZ_E_LIMIT);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(&o, 1, 0, 0);
  w_prune(&o, 2, 0, 0);
  assert_int_equal(dec(&lim), YZ_E_LIMIT); /* 2 PRUNEs over 1 */
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_prune(&o, 1, 2, 1);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 3);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_head(&o, 0, 1);
  w_head(&o, 0, 3), w_head(&o, 4, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 3);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_head(&o, 0, 1);
  w_head(&o, 0, 3), w_head(&o, 4, 1), w_str(&o, 2, "\x80", 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  static uint8_t longrec[1030];
  longrec[0] = 0xa1, longrec[1] = 0x01, longrec[2] = 0x59;
  longrec[3] = 0x04, longrec[4] = 0x00; /* a 1024-byte bstr: 1029 bytes */
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 3);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_head(&o, 0, 1);
  w_head(&o, 0, 3), w_head(&o, 4, 1), w_str(&o, 2, longrec, 1029);
  assert_int_equal(dec(NULL), YZ_E_TOO_LARGE);
  /* Backoff missing, an unknown key, a topic of 31 bytes. */
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 1);
  w_head(&o, 0, 1), w_item(&o, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 3);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_head(&o, 0, 1);
  w_head(&o, 0, 4), w_head(&o, 0, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 2);
  w_head(&o, 0, 1), w_str(&o, 2, SIG, 31), w_head(&o, 0, 2), w_head(&o, 0, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED);
  /* At most 256 peer records in one RPC. */
  yz_ps_limits many = {.max_px = 64};
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 5);
  for (unsigned t = 0; t < 5; t++) {
    w_head(&o, 5, 3), w_head(&o, 0, 1), w_item(&o, t);
    w_head(&o, 0, 2), w_head(&o, 0, 1), w_head(&o, 0, 3), w_head(&o, 4, 64);
    for (unsigned i = 0; i < 64; i++) {
      uint8_t rec[4] = {0xa1, 0x01, 0x18, (uint8_t)(i + 24)};
      w_str(&o, 2, rec, 4);
    }
  }
  assert_int_equal(dec(&many), YZ_E_LIMIT);
}

static void w_ihave(w *x, unsigned t, unsigned first, unsigned n)
{
  w_head(x, 5, 2);
  w_head(x, 0, 1), w_item(x, t);
  w_set(x, 2, first, n);
}

static void test_ihave_rules(void **state)
{
  (void)state;
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(&o, 1, 10, 3);
  w_ihave(&o, 2, 5, 2);
  assert_int_equal(dec(NULL), 0);
  assert_int_equal(rpc.ihave[0].ids.n, 3);
  /* IDs of all IHAVEs together under max_ids. */
  yz_ps_limits lim = {.max_ids = 4};
  assert_int_equal(dec(&lim), YZ_E_LIMIT);
  lim.max_ids = 5;
  assert_int_equal(dec(&lim), 0);
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(&o, 2, 10, 3);
  w_ihave(&o, 1, 5, 2);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* topics out of order */
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(&o, 2, 10, 3);
  w_ihave(&o, 2, 5, 2);
  assert_int_equal(dec(NULL), YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 1), w_ihave(&o, 2, 10, 0);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* no IDs */
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 1), w_head(&o, 5, 1);
  w_head(&o, 0, 1), w_item(&o, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* IDs missing */
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 1), w_head(&o, 5, 2);
  w_head(&o, 0, 1), w_item(&o, 1), w_set(&o, 3, 1, 1);
  assert_int_equal(dec(NULL), YZ_E_MALFORMED); /* key 3 */
  yz_ps_limits one = {.max_topics = 1};
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(&o, 1, 10, 3);
  w_ihave(&o, 2, 5, 2);
  assert_int_equal(dec(&one), YZ_E_LIMIT);
}

static void test_encoder_rules(void **state)
{
  (void)state;
  static uint8_t buf[4096];
  size_t n;
  const char *why = NULL;
  yz_ps_rpc_init(&rpc2);
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, &why),
                   YZ_E_INVAL); /* empty */
  for (int i = 0; i < 40; i++)
    memset(ids[i], 0x20 + i, 32);
  rpc2.graft = (yz_ps_list){ids[0], 3, 0};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, NULL),
                   0);
  /* Descending: refused like on the wire. */
  const uint8_t *rev[3] = {ids[2], ids[1], ids[0]};
  uint8_t flat[3][32];
  for (int i = 0; i < 3; i++)
    memcpy(flat[i], rev[i], 32);
  rpc2.graft = (yz_ps_list){flat[0], 3, 0};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, &why),
                   YZ_E_INVAL);
  rpc2.graft = (yz_ps_list){ids[0], 3, 0};
  yz_ps_limits lim = {.max_topics = 2};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, &lim, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  yz_ps_limits over = {.max_px = YZ_PS_PX_CAP + 1};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, &over, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  yz_ps_limits tiny = {.max_rpc_len = 20};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, &tiny, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  /* Too much data; the same message twice. */
  static uint8_t big[YZ_PS_MAX_DATA + 1];
  rpc2.n_publish = 1;
  rpc2.publish[0] = make_msg(big, sizeof big);
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  rpc2.publish[0] = make_msg(big, 10);
  rpc2.publish[1] = rpc2.publish[0];
  rpc2.n_publish = 2;
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  rpc2.n_publish = 0;
  /* A PRUNE peer that is not a node record. */
  yz_ps_bytes bad = {(const uint8_t *)"\x01", 1};
  rpc2.n_prune = 1;
  rpc2.prune[0] = (yz_ps_prune){ids[0], 1, &bad, 1};
  assert_int_equal(yz_ps_rpc_encode(&rpc2, NULL, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
  assert_int_equal(yz_ps_rpc_encode(NULL, NULL, buf, sizeof buf, &n, NULL),
                   YZ_E_INVAL);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topic_hash),
      cmocka_unit_test(test_signed_bytes_and_id),
      cmocka_unit_test(test_sign_identity),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_rpc_roundtrip),
      cmocka_unit_test(test_generic_rules),
      cmocka_unit_test(test_list_rules),
      cmocka_unit_test(test_message_rules),
      cmocka_unit_test(test_prune_rules),
      cmocka_unit_test(test_ihave_rules),
      cmocka_unit_test(test_encoder_rules),
  };
  return cmocka_run_group_tests_name("pubsub_wire", tests, NULL, NULL);
}
