/* The DHT's local store (docs/dht.md "Store"): the record checks and
 * BEP 44 rules as statuses, every quota, the expiry sweep, the per-peer
 * rate limit and its bounded table, and provider entries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/store.h"
#include "yz/common.h"

enum { NOW = 1800000000u };

/* An Ed25519 key pair from a one-byte seed. */
typedef struct author {
  uint8_t pk[32], sk[64];
} author;

static author mk_author(uint8_t n)
{
  author a;
  uint8_t seed[32];
  memset(seed, n, sizeof seed);
  crypto_sign_seed_keypair(a.pk, a.sk, seed);
  return a;
}

typedef struct enc {
  uint8_t key[32];
  uint8_t buf[2048];
  size_t len;
} enc;

static enc mk_immutable(const char *value, uint64_t expiry)
{
  enc e;
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_IMMUTABLE;
  r.value = (const uint8_t *)value;
  r.value_len = strlen(value);
  r.expiry = expiry;
  assert_int_equal(yz_dhtrec_derive_key(&r), 0);
  assert_int_equal(yz_dhtrec_encode(&r, e.buf, sizeof e.buf, &e.len), 0);
  memcpy(e.key, r.key, 32);
  return e;
}

static enc mk_mutable(const author *a, const char *salt, uint64_t seq,
                      const char *value, uint64_t expiry)
{
  enc e;
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_MUTABLE;
  r.value = (const uint8_t *)value;
  r.value_len = strlen(value);
  r.expiry = expiry;
  r.seq = seq;
  r.salt_len = (uint8_t)strlen(salt);
  memcpy(r.salt, salt, r.salt_len);
  assert_int_equal(yz_dhtrec_sign_raw(&r, a->sk, NULL), 0);
  assert_int_equal(yz_dhtrec_encode(&r, e.buf, sizeof e.buf, &e.len), 0);
  memcpy(e.key, r.key, 32);
  return e;
}

static yz_node_id peer_id(uint8_t n)
{
  yz_node_id id;
  memset(id.bytes, n, sizeof id.bytes);
  return id;
}

static yz__dht_store *mk_store(const yz__dht_store_config *cfg)
{
  yz__dht_store *s;
  assert_int_equal(yz__dht_store_new(&s, cfg), 0);
  return s;
}

static uint64_t put(yz__dht_store *s, const enc *e, const yz_node_id *peer,
                    uint64_t now)
{
  return yz__dht_store_put(s, e->key, e->buf, e->len, peer, false, 0, now,
                           NULL, NULL);
}

static void test_put_get_immutable(void **state)
{
  (void)state;
  yz__dht_store *s = mk_store(NULL);
  enc e = mk_immutable("hello, dht", NOW + 60);
  yz_node_id p = peer_id(1);
  assert_int_equal(put(s, &e, &p, NOW), YZ_DHT_OK);
  const yz__dht_stored *st = yz__dht_store_get(s, e.key, NOW);
  assert_non_null(st);
  assert_int_equal(st->len, e.len);
  assert_memory_equal(st->bytes, e.buf, e.len);
  assert_false(st->mutable_);
  assert_memory_equal(st->from.bytes, p.bytes, 32);
  /* a second put of the same record is a success that changes nothing */
  assert_int_equal(put(s, &e, &p, NOW), YZ_DHT_OK);
  yz__dht_store_stats stats;
  yz__dht_store_stats_get(s, &stats);
  assert_int_equal(stats.records, 1);
  assert_int_equal(stats.bytes, e.len);
  /* expired at its expiry: get drops it */
  assert_null(yz__dht_store_get(s, e.key, NOW + 60));
  yz__dht_store_stats_get(s, &stats);
  assert_int_equal(stats.records, 0);
  assert_int_equal(stats.bytes, 0);
  yz__dht_store_free(s);
}

static void test_checks(void **state)
{
  (void)state;
  yz__dht_store_config cfg = {.value_max = 16, .expiry_ahead_s = 3600};
  yz__dht_store *s = mk_store(&cfg);
  const char *why = NULL;
  enc e = mk_immutable("short", NOW + 60);
  /* wrong key */
  uint8_t other[32];
  memset(other, 7, sizeof other);
  assert_int_equal(yz__dht_store_put(s, other, e.buf, e.len, NULL, false, 0,
                                     NOW, NULL, &why),
                   YZ_DHT_ST_WRONG_KEY);
  assert_non_null(why);
  /* malformed: trailing byte; truncated */
  e.buf[e.len] = 0;
  assert_int_equal(yz__dht_store_put(s, e.key, e.buf, e.len + 1, NULL, false,
                                     0, NOW, NULL, NULL),
                   YZ_DHT_ST_MALFORMED);
  assert_int_equal(yz__dht_store_put(s, e.key, e.buf, e.len - 1, NULL, false,
                                     0, NOW, NULL, NULL),
                   YZ_DHT_ST_MALFORMED);
  /* too large for this store */
  enc big = mk_immutable("a value of more than 16 bytes", NOW + 60);
  assert_int_equal(put(s, &big, NULL, NOW), YZ_DHT_ST_TOO_LARGE);
  /* expired, too far ahead */
  enc old = mk_immutable("old", NOW);
  assert_int_equal(put(s, &old, NULL, NOW), YZ_DHT_ST_EXPIRED);
  enc far = mk_immutable("far", NOW + 3601);
  assert_int_equal(put(s, &far, NULL, NOW), YZ_DHT_ST_EXPIRY_TOO_FAR);
  enc edge = mk_immutable("edge", NOW + 3600);
  assert_int_equal(put(s, &edge, NULL, NOW), YZ_DHT_OK);
  /* bad signature: flip a byte of the signature (the record's last) */
  author a = mk_author(1);
  enc m = mk_mutable(&a, "", 1, "v1", NOW + 60);
  m.buf[m.len - 1] ^= 1;
  assert_int_equal(put(s, &m, NULL, NOW), YZ_DHT_ST_BAD_SIGNATURE);
  yz__dht_store_stats st;
  yz__dht_store_stats_get(s, &st);
  assert_int_equal(st.records, 1); /* only "edge" */
  yz__dht_store_free(s);
}

static void test_seq_rules(void **state)
{
  (void)state;
  yz__dht_store *s = mk_store(NULL);
  author a = mk_author(2);
  enc v5 = mk_mutable(&a, "salt", 5, "five", NOW + 60);
  enc v4 = mk_mutable(&a, "salt", 4, "four", NOW + 60);
  enc v5b = mk_mutable(&a, "salt", 5, "FIVE", NOW + 60);
  enc v6 = mk_mutable(&a, "salt", 6, "six", NOW + 60);
  enc v5late = mk_mutable(&a, "salt", 5, "five", NOW + 120);
  uint64_t seq = 99;
  assert_int_equal(yz__dht_store_put(s, v5.key, v5.buf, v5.len, NULL, false,
                                     0, NOW, &seq, NULL),
                   YZ_DHT_OK);
  assert_int_equal(seq, 5);
  assert_int_equal(yz__dht_store_put(s, v4.key, v4.buf, v4.len, NULL, false,
                                     0, NOW, &seq, NULL),
                   YZ_DHT_ST_SEQ_TOO_LOW);
  assert_int_equal(seq, 5);
  assert_int_equal(put(s, &v5b, NULL, NOW), YZ_DHT_ST_SEQ_CONFLICT);
  /* the same record with a later expiry refreshes it */
  assert_int_equal(put(s, &v5late, NULL, NOW), YZ_DHT_OK);
  assert_int_equal(yz__dht_store_get(s, v5.key, NOW)->expiry, NOW + 120);
  /* CAS: a wrong expected seq, then the right one */
  assert_int_equal(yz__dht_store_put(s, v6.key, v6.buf, v6.len, NULL, true, 4,
                                     NOW, &seq, NULL),
                   YZ_DHT_ST_CAS_MISMATCH);
  assert_int_equal(seq, 5);
  assert_int_equal(yz__dht_store_put(s, v6.key, v6.buf, v6.len, NULL, true, 5,
                                     NOW, &seq, NULL),
                   YZ_DHT_OK);
  assert_int_equal(seq, 6);
  const yz__dht_stored *st = yz__dht_store_get(s, v6.key, NOW);
  assert_int_equal(st->seq, 6);
  assert_memory_equal(st->bytes, v6.buf, v6.len);
  yz__dht_store_stats stats;
  yz__dht_store_stats_get(s, &stats);
  assert_int_equal(stats.records, 1);
  assert_int_equal(stats.bytes, v6.len);
  yz__dht_store_free(s);
}

static void test_quota_records_and_bytes(void **state)
{
  (void)state;
  yz__dht_store_config cfg = {.records_max = 3};
  yz__dht_store *s = mk_store(&cfg);
  char v[16];
  enc e[4];
  for (int i = 0; i < 4; i++) {
    snprintf(v, sizeof v, "value %d", i);
    e[i] = mk_immutable(v, NOW + 10 + (uint64_t)i);
  }
  for (int i = 0; i < 3; i++)
    assert_int_equal(put(s, &e[i], NULL, NOW), YZ_DHT_OK);
  const char *why = NULL;
  assert_int_equal(yz__dht_store_put(s, e[3].key, e[3].buf, e[3].len, NULL,
                                     false, 0, NOW, NULL, &why),
                   YZ_DHT_ST_QUOTA);
  assert_non_null(why);
  /* once the first has expired, the sweep makes room */
  assert_int_equal(put(s, &e[3], NULL, NOW + 10), YZ_DHT_OK);
  assert_null(yz__dht_store_get(s, e[0].key, NOW + 10));
  yz__dht_store_free(s);

  /* bytes: room for exactly two of these records */
  cfg = (yz__dht_store_config){.bytes_max = 2 * e[0].len};
  s = mk_store(&cfg);
  assert_int_equal(put(s, &e[0], NULL, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &e[1], NULL, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &e[2], NULL, NOW), YZ_DHT_ST_QUOTA);
  yz__dht_store_stats st;
  yz__dht_store_stats_get(s, &st);
  assert_int_equal(st.bytes, 2 * e[0].len);
  yz__dht_store_free(s);
}

static void test_quota_author_and_peer(void **state)
{
  (void)state;
  yz__dht_store_config cfg = {.per_author_records_max = 2,
                              .per_peer_records_max = 3};
  yz__dht_store *s = mk_store(&cfg);
  author a = mk_author(3), b = mk_author(4);
  yz_node_id p1 = peer_id(1), p2 = peer_id(2);
  /* the author's share: two records under two salts, the third refused
   * whoever puts it */
  enc a1 = mk_mutable(&a, "1", 1, "x", NOW + 60);
  enc a2 = mk_mutable(&a, "2", 1, "x", NOW + 60);
  enc a3 = mk_mutable(&a, "3", 1, "x", NOW + 60);
  assert_int_equal(put(s, &a1, &p1, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &a2, &p2, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &a3, NULL, NOW), YZ_DHT_ST_QUOTA);
  /* a newer version of a held record is not a new record */
  enc a1v2 = mk_mutable(&a, "1", 2, "y", NOW + 60);
  assert_int_equal(put(s, &a1v2, &p2, NOW), YZ_DHT_OK);
  /* the peer's share: p1 holds a1; two more, then refused; the node's own
   * puts are exempt */
  enc b1 = mk_mutable(&b, "1", 1, "x", NOW + 60);
  enc i1 = mk_immutable("i1", NOW + 60), i2 = mk_immutable("i2", NOW + 60);
  assert_int_equal(put(s, &b1, &p1, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &i1, &p1, NOW), YZ_DHT_OK);
  assert_int_equal(put(s, &i2, &p1, NOW), YZ_DHT_ST_QUOTA);
  assert_int_equal(put(s, &i2, &p2, NOW), YZ_DHT_OK);
  /* dropping a record gives the share back */
  assert_null(yz__dht_store_get(s, i1.key, NOW + 60));
  enc i3 = mk_immutable("i3", NOW + 120);
  assert_int_equal(put(s, &i3, &p1, NOW + 60), YZ_DHT_OK);
  yz__dht_store_free(s);
}

static void count_cb(yz__dht_stored *x, void *ud)
{
  (void)x;
  (*(size_t *)ud)++;
}

static void test_expire_and_foreach(void **state)
{
  (void)state;
  yz__dht_store *s = mk_store(NULL);
  char v[16];
  for (int i = 0; i < 200; i++) { /* several table growths */
    snprintf(v, sizeof v, "v%d", i);
    enc e = mk_immutable(v, NOW + 1 + (uint64_t)(i % 2));
    assert_int_equal(put(s, &e, NULL, NOW), YZ_DHT_OK);
  }
  yz_node_id p = peer_id(9);
  assert_int_equal(yz__dht_store_provide(s, (const uint8_t *)"0123456789abcdef"
                                            "0123456789abcdef",
                                         &p, (const uint8_t *)"\xa0", 1, NOW),
                   YZ_DHT_OK);
  assert_int_equal(yz__dht_store_expire(s, NOW + 1), 100);
  yz__dht_store_stats st;
  yz__dht_store_stats_get(s, &st);
  assert_int_equal(st.records, 100);
  assert_int_equal(st.providers, 1);
  size_t n = 0;
  yz__dht_store_foreach(s, count_cb, &n);
  assert_int_equal(n, 100);
  /* the provider goes after its TTL (24 h) */
  assert_int_equal(yz__dht_store_expire(s, NOW + 24 * 3600), 101);
  yz__dht_store_stats_get(s, &st);
  assert_int_equal(st.records, 0);
  assert_int_equal(st.providers, 0);
  assert_int_equal(st.provider_keys, 0);
  yz__dht_store_free(s);
}

static void test_rate_limit(void **state)
{
  (void)state;
  yz__dht_store_config cfg = {
      .put_rate_per_s = 10, .put_burst = 5, .rate_peers_max = 2};
  yz__dht_store *s = mk_store(&cfg);
  yz_node_id p1 = peer_id(1), p2 = peer_id(2), p3 = peer_id(3);
  for (int i = 0; i < 5; i++)
    assert_true(yz__dht_store_rate_ok(s, &p1, 1000));
  assert_false(yz__dht_store_rate_ok(s, &p1, 1000));
  /* 10 per second: one token back after 100 ms, not before */
  assert_false(yz__dht_store_rate_ok(s, &p1, 1099));
  assert_true(yz__dht_store_rate_ok(s, &p1, 1100));
  assert_false(yz__dht_store_rate_ok(s, &p1, 1100));
  /* the burst caps the refill */
  for (int i = 0; i < 5; i++)
    assert_true(yz__dht_store_rate_ok(s, &p1, 60000));
  assert_false(yz__dht_store_rate_ok(s, &p1, 60000));
  /* at most two peers tracked: a third forgets the least recent (p1),
   * which then starts again with a full bucket */
  assert_true(yz__dht_store_rate_ok(s, &p2, 60000));
  assert_true(yz__dht_store_rate_ok(s, &p3, 60000));
  yz__dht_store_stats st;
  yz__dht_store_stats_get(s, &st);
  assert_int_equal(st.rate_peers, 2);
  assert_true(yz__dht_store_rate_ok(s, &p1, 60000));
  yz__dht_store_free(s);
}

static void test_providers(void **state)
{
  (void)state;
  yz__dht_store_config cfg = {.providers_per_key_max = 2,
                              .provider_keys_max = 2,
                              .provider_ttl_s = 100};
  yz__dht_store *s = mk_store(&cfg);
  uint8_t k1[32], k2[32], k3[32];
  memset(k1, 1, 32);
  memset(k2, 2, 32);
  memset(k3, 3, 32);
  yz_node_id p1 = peer_id(1), p2 = peer_id(2), p3 = peer_id(3);
  const uint8_t r1[] = {0xa1, 0x01, 0x01}, r2[] = {0xa1, 0x01, 0x02},
                r3[] = {0xa1, 0x01, 0x03}, r1b[] = {0xa1, 0x01, 0x04};
  assert_int_equal(yz__dht_store_provide(s, k1, &p1, r1, 3, NOW), YZ_DHT_OK);
  assert_int_equal(yz__dht_store_provide(s, k1, &p2, r2, 3, NOW + 1),
                   YZ_DHT_OK);
  yz_dht_bytes out[4];
  assert_int_equal(yz__dht_store_providers(s, k1, NOW + 1, out, 4), 2);
  assert_memory_equal(out[0].ptr, r2, 3); /* most recent first */
  assert_memory_equal(out[1].ptr, r1, 3);
  assert_int_equal(yz__dht_store_providers(s, k1, NOW + 1, out, 1), 1);
  /* full key: p3 replaces the entry expiring first (p1's) */
  assert_int_equal(yz__dht_store_provide(s, k1, &p3, r3, 3, NOW + 2),
                   YZ_DHT_OK);
  assert_int_equal(yz__dht_store_providers(s, k1, NOW + 2, out, 4), 2);
  assert_memory_equal(out[0].ptr, r3, 3);
  assert_memory_equal(out[1].ptr, r2, 3);
  /* at the same time nothing expires first: refused */
  assert_int_equal(yz__dht_store_provide(s, k1, &p1, r1, 3, NOW + 1),
                   YZ_DHT_ST_QUOTA);
  /* the same provider refreshes its entry and record */
  assert_int_equal(yz__dht_store_provide(s, k1, &p2, r1b, 3, NOW + 3),
                   YZ_DHT_OK);
  assert_int_equal(yz__dht_store_providers(s, k1, NOW + 3, out, 4), 2);
  assert_memory_equal(out[0].ptr, r1b, 3);
  /* two keys at most */
  assert_int_equal(yz__dht_store_provide(s, k2, &p1, r1, 3, NOW), YZ_DHT_OK);
  assert_int_equal(yz__dht_store_provide(s, k3, &p1, r1, 3, NOW),
                   YZ_DHT_ST_QUOTA);
  /* expired entries are not handed out, and free their key */
  assert_int_equal(yz__dht_store_providers(s, k2, NOW + 100, out, 4), 0);
  assert_int_equal(yz__dht_store_provide(s, k3, &p1, r1, 3, NOW + 100),
                   YZ_DHT_OK);
  /* a record over a node record's bound is refused */
  static uint8_t huge[1025];
  assert_int_equal(yz__dht_store_provide(s, k1, &p1, huge, sizeof huge, NOW),
                   YZ_DHT_ST_MALFORMED);
  yz__dht_store_free(s);
}

static void test_config(void **state)
{
  (void)state;
  yz__dht_store *s;
  yz__dht_store_config cfg = {.value_max = YZ_DHTREC_VALUE_MAX_LIMIT + 1};
  assert_int_equal(yz__dht_store_new(&s, &cfg), YZ_E_INVAL);
  assert_null(s);
  cfg = (yz__dht_store_config){0};
  yz__dht_store_config_default(&cfg);
  assert_int_equal(cfg.bytes_max, 64u << 20);
  assert_int_equal(cfg.records_max, 65536);
  assert_int_equal(cfg.value_max, YZ_DHTREC_VALUE_MAX_DEFAULT);
  assert_int_equal(cfg.expiry_ahead_s, 48 * 3600);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_immutable),
      cmocka_unit_test(test_checks),
      cmocka_unit_test(test_seq_rules),
      cmocka_unit_test(test_quota_records_and_bytes),
      cmocka_unit_test(test_quota_author_and_peer),
      cmocka_unit_test(test_expire_and_foreach),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_providers),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
