/* The DHT routing table (docs/dht.md "Routing table"): buckets, the
 * replacement cache, failures, diversity limits, client-only contacts,
 * refresh, and the k-closest query against a brute-force sort. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/routing.h"
#include "yz/common.h"

/* A fixed-seed generator (splitmix64): the same IDs on every run. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static void rng_bytes(uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(rng_next() >> 56);
}
static yz_node_id rand_id(void)
{
  yz_node_id id;
  rng_bytes(id.bytes, sizeof id.bytes);
  return id;
}

static const yz_node_id self_id = {{0x5a, 0x01, 0x02, 0x03}};

/* A peer in bucket `bucket` with an IP from text (NULL: none). */
static yz__dht_peer peer_in(const yz__dht_rt *rt, unsigned bucket,
                            const char *ip)
{
  yz__dht_peer p;
  memset(&p, 0, sizeof p);
  uint8_t r[32];
  rng_bytes(r, sizeof r);
  yz__dht_rt_random_id(rt, bucket, r, &p.id);
  if (ip)
    assert_int_equal(yz__dht_ip_parse(&p.ip, ip), 0);
  return p;
}

/* Distinct /24s: 10.(i/256).(i%256).1 */
static const char *ip_n(unsigned i)
{
  static char buf[32];
  snprintf(buf, sizeof buf, "10.%u.%u.1", (i / 256) % 256, i % 256);
  return buf;
}

static void init_cfg(yz__dht_rt *rt, const yz__dht_config *cfg)
{
  assert_int_equal(yz__dht_rt_init(rt, &self_id, cfg, 0), 0);
}

/* a closer to t than b? (-1, 0, 1) */
static int xor_cmp(const yz_node_id *a, const yz_node_id *b,
                   const yz_node_id *t)
{
  for (unsigned i = 0; i < YZ_NODE_ID_LEN; i++) {
    uint8_t da = (uint8_t)(a->bytes[i] ^ t->bytes[i]);
    uint8_t db = (uint8_t)(b->bytes[i] ^ t->bytes[i]);
    if (da != db)
      return da < db ? -1 : 1;
  }
  return 0;
}

/* the brute-force sort by distance to bf_target (qsort) */
static yz_node_id bf_target;
static int bf_cmp(const void *a, const void *b);

/* k contacts in a deep bucket (200, distinct /24s from 10.1.x.1): the
 * buckets the test then fills are not the neighbourhood, whose boundary
 * bucket takes closer newcomers (test_neighbourhood). */
static void fill_near(yz__dht_rt *rt)
{
  for (unsigned i = 0; i < rt->cfg.k; i++) {
    yz__dht_peer p = peer_in(rt, 200, ip_n(256 + i));
    assert_int_equal(yz__dht_rt_seen(rt, &p, 1, 0), YZ__DHT_ADDED);
  }
}

static void test_config(void **state)
{
  (void)state;
  yz__dht_rt rt;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  assert_int_equal(cfg.k, 20);
  assert_int_equal(cfg.subnet_per_bucket, 2);
  assert_int_equal(cfg.subnet_per_table, 3);
  assert_true(cfg.loopback_exempt);
  struct {
    unsigned k, cache, fail;
  } bad[] = {{0, 8, 3},
             {YZ__DHT_K_MAX + 1, 8, 3},
             {20, YZ__DHT_CACHE_MAX + 1, 3},
             {20, 8, 0}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    yz__dht_config c = cfg;
    c.k = bad[i].k;
    c.cache_size = bad[i].cache;
    c.max_failures = bad[i].fail;
    assert_int_equal(yz__dht_rt_init(&rt, &self_id, &c, 0), YZ_E_INVAL);
    yz__dht_rt_clear(&rt);
  }
  init_cfg(&rt, NULL);
  assert_int_equal(rt.cfg.k, 20);
  yz__dht_rt_clear(&rt);
}

static void test_bucket_index_and_random_id(void **state)
{
  (void)state;
  rng_state = 1;
  yz__dht_rt rt;
  init_cfg(&rt, NULL);
  assert_int_equal(yz__dht_rt_bucket_index(&rt, &self_id), 256);
  for (unsigned i = 0; i < 256; i++) {
    for (int rep = 0; rep < 4; rep++) {
      uint8_t r[32];
      rng_bytes(r, sizeof r);
      if (rep == 0)
        memset(r, 0, sizeof r);
      if (rep == 1)
        memset(r, 0xff, sizeof r);
      yz_node_id id;
      yz__dht_rt_random_id(&rt, i, r, &id);
      assert_int_equal(yz__dht_rt_bucket_index(&rt, &id), i);
    }
  }
  yz_node_id last = self_id;
  last.bytes[31] ^= 1;
  assert_int_equal(yz__dht_rt_bucket_index(&rt, &last), 255);
  yz__dht_rt_clear(&rt);
}

static void test_self_client_and_record(void **state)
{
  (void)state;
  rng_state = 2;
  yz__dht_rt rt;
  init_cfg(&rt, NULL);
  yz__dht_peer p;
  memset(&p, 0, sizeof p);
  p.id = self_id;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 1, 0), YZ__DHT_REFUSED_SELF);

  /* A client-only node never enters; one that becomes client-only leaves. */
  p = peer_in(&rt, 3, "192.0.2.1");
  p.client_only = true;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 1, 0), YZ__DHT_REFUSED_CLIENT);
  assert_null(yz__dht_rt_find(&rt, &p.id));
  assert_int_equal(yz__dht_rt_size(&rt), 0);
  p.client_only = false;
  uint8_t rec[YZ__DHT_RECORD_MAX_LEN + 1];
  memset(rec, 0xa5, sizeof rec);
  p.record = rec;
  p.record_len = 10;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 5, 100), YZ__DHT_ADDED);
  const yz__dht_contact *c = yz__dht_rt_find(&rt, &p.id);
  assert_non_null(c);
  assert_int_equal(c->record_len, 10);
  assert_memory_equal(c->record, rec, 10);
  assert_int_equal(c->last_seen_ms, 5);
  assert_int_equal(c->rtt_ms, 100);
  /* No record given: the stored one stays; RTT smoothed 7/8 + 1/8. */
  p.record = NULL;
  p.record_len = 0;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 9, 180), YZ__DHT_UPDATED);
  c = yz__dht_rt_find(&rt, &p.id);
  assert_int_equal(c->record_len, 10);
  assert_int_equal(c->rtt_ms, 110);
  assert_int_equal(c->last_seen_ms, 9);
  /* A new record replaces it; the maximum length is accepted, one more
   * byte is not. */
  p.record = rec;
  p.record_len = YZ__DHT_RECORD_MAX_LEN;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 10, 0), YZ__DHT_UPDATED);
  assert_int_equal(yz__dht_rt_find(&rt, &p.id)->record_len,
                   YZ__DHT_RECORD_MAX_LEN);
  p.record_len = YZ__DHT_RECORD_MAX_LEN + 1;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 11, 0), YZ_E_INVAL);
  p.record_len = 0;
  p.ip.family = 5;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 11, 0), YZ_E_INVAL);
  p.ip.family = 4;

  p.client_only = true;
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 12, 0), YZ__DHT_REFUSED_CLIENT);
  assert_null(yz__dht_rt_find(&rt, &p.id));
  assert_int_equal(yz__dht_rt_size(&rt), 0);
  assert_int_equal(yz__dht_rt_remove(&rt, &p.id), YZ_E_NOT_FOUND);
  assert_int_equal(yz__dht_rt_failed(&rt, &p.id), YZ_E_NOT_FOUND);
  yz__dht_rt_clear(&rt);
}

/* k = 4, cache = 2: the bucket and its cache both fill; live contacts are
 * never evicted; the cache drops its stalest entry. */
static void test_full_bucket_and_cache_limit(void **state)
{
  (void)state;
  rng_state = 3;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.k = 4;
  cfg.cache_size = 2;
  cfg.subnet_per_table = 0;
  yz__dht_rt rt;
  init_cfg(&rt, &cfg);
  fill_near(&rt);
  yz__dht_peer live[4], extra[3];
  for (unsigned i = 0; i < 4; i++) {
    live[i] = peer_in(&rt, 0, ip_n(i));
    assert_int_equal(yz__dht_rt_seen(&rt, &live[i], 10 + i, 0), YZ__DHT_ADDED);
  }
  for (unsigned i = 0; i < 3; i++) {
    extra[i] = peer_in(&rt, 0, ip_n(10 + i));
    assert_int_equal(yz__dht_rt_seen(&rt, &extra[i], 100 + i, 0),
                     YZ__DHT_CACHED);
  }
  for (unsigned i = 0; i < 4; i++)
    assert_non_null(yz__dht_rt_find(&rt, &live[i].id));
  assert_int_equal(yz__dht_rt_size(&rt), 8);
  assert_int_equal(rt.buckets[0].n_cache, 2);
  assert_false(yz__dht_rt_in_cache(&rt, &extra[0].id)); /* stalest went */
  assert_true(yz__dht_rt_in_cache(&rt, &extra[1].id));
  assert_true(yz__dht_rt_in_cache(&rt, &extra[2].id));
  /* Seen again while cached: refreshed in place, still cached. */
  assert_int_equal(yz__dht_rt_seen(&rt, &extra[1], 200, 0), YZ__DHT_CACHED);
  assert_int_equal(rt.buckets[0].n_cache, 2);
  /* The stalest live contact is the one to ping. */
  assert_memory_equal(yz__dht_rt_stalest(&rt, &extra[0].id)->id.bytes,
                      live[0].id.bytes, 32);
  assert_null(yz__dht_rt_stalest(&rt, &self_id));
  /* Removing a live contact promotes the freshest cache entry. */
  assert_int_equal(yz__dht_rt_remove(&rt, &live[2].id), 0);
  assert_non_null(yz__dht_rt_find(&rt, &extra[1].id));
  assert_false(yz__dht_rt_in_cache(&rt, &extra[1].id));
  assert_int_equal(yz__dht_rt_size(&rt), 8);
  assert_int_equal(yz__dht_rt_remove(&rt, &extra[2].id), 0); /* cached */
  assert_int_equal(rt.buckets[0].n_cache, 0);
  yz__dht_rt_clear(&rt);

  /* No cache: a newcomer to a full bucket is refused. */
  cfg.cache_size = 0;
  init_cfg(&rt, &cfg);
  fill_near(&rt);
  for (unsigned i = 0; i < 4; i++) {
    yz__dht_peer p = peer_in(&rt, 0, ip_n(i));
    assert_int_equal(yz__dht_rt_seen(&rt, &p, 1, 0), YZ__DHT_ADDED);
  }
  yz__dht_peer p = peer_in(&rt, 0, ip_n(9));
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 1, 0), YZ__DHT_REFUSED_FULL);
  assert_int_equal(yz__dht_rt_size(&rt), 8);
  yz__dht_rt_clear(&rt);
}

/* max_failures = 3: two failures keep a contact, an answer resets the
 * count, the third in a row replaces it from the cache. */
static void test_failures(void **state)
{
  (void)state;
  rng_state = 4;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.k = 2;
  cfg.cache_size = 2;
  cfg.subnet_per_table = 0;
  yz__dht_rt rt;
  init_cfg(&rt, &cfg);
  fill_near(&rt);
  yz__dht_peer a = peer_in(&rt, 1, ip_n(1)), b = peer_in(&rt, 1, ip_n(2));
  yz__dht_peer c1 = peer_in(&rt, 1, ip_n(3)), c2 = peer_in(&rt, 1, ip_n(4));
  assert_int_equal(yz__dht_rt_seen(&rt, &a, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &b, 2, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &c1, 3, 0), YZ__DHT_CACHED);
  assert_int_equal(yz__dht_rt_seen(&rt, &c2, 4, 0), YZ__DHT_CACHED);

  assert_int_equal(yz__dht_rt_failed(&rt, &a.id), 0);
  assert_int_equal(yz__dht_rt_failed(&rt, &a.id), 0);
  assert_int_equal(yz__dht_rt_find(&rt, &a.id)->failures, 2);
  assert_int_equal(yz__dht_rt_seen(&rt, &a, 5, 0), YZ__DHT_UPDATED);
  assert_int_equal(yz__dht_rt_find(&rt, &a.id)->failures, 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(yz__dht_rt_failed(&rt, &a.id), 0);
  assert_int_equal(yz__dht_rt_failed(&rt, &a.id), 1);
  assert_null(yz__dht_rt_find(&rt, &a.id));
  assert_non_null(yz__dht_rt_find(&rt, &c2.id)); /* the freshest */
  assert_true(yz__dht_rt_in_cache(&rt, &c1.id));
  /* A cached contact that fails is dropped. */
  assert_int_equal(yz__dht_rt_failed(&rt, &c1.id), 1);
  assert_false(yz__dht_rt_in_cache(&rt, &c1.id));

  /* Empty cache: a bad contact stays (better than a hole) until a
   * newcomer takes its place. */
  for (int i = 0; i < 5; i++)
    assert_int_equal(yz__dht_rt_failed(&rt, &b.id), 0);
  assert_non_null(yz__dht_rt_find(&rt, &b.id));
  yz__dht_peer d = peer_in(&rt, 1, ip_n(5));
  assert_int_equal(yz__dht_rt_seen(&rt, &d, 9, 0), YZ__DHT_REPLACED);
  assert_null(yz__dht_rt_find(&rt, &b.id));
  assert_non_null(yz__dht_rt_find(&rt, &d.id));
  assert_int_equal(yz__dht_rt_size(&rt), 4);
  /* Both good now: the next one is cached, nobody is evicted. */
  yz__dht_peer e = peer_in(&rt, 1, ip_n(6));
  assert_int_equal(yz__dht_rt_seen(&rt, &e, 10, 0), YZ__DHT_CACHED);
  yz__dht_rt_clear(&rt);
}

static void test_ip_helpers(void **state)
{
  (void)state;
  yz__dht_ip a, b;
  assert_int_equal(yz__dht_ip_parse(&a, "::ffff:192.0.2.7"), 0);
  assert_int_equal(a.family, 4);
  assert_int_equal(yz__dht_ip_parse(&b, "192.0.2.200"), 0);
  assert_true(yz__dht_ip_same_subnet(&a, &b));
  assert_int_equal(yz__dht_ip_parse(&b, "192.0.3.7"), 0);
  assert_false(yz__dht_ip_same_subnet(&a, &b));
  assert_int_equal(yz__dht_ip_parse(&a, "2001:db8:1::1"), 0);
  assert_int_equal(yz__dht_ip_parse(&b, "2001:db8:1:ffff::2"), 0);
  assert_true(yz__dht_ip_same_subnet(&a, &b));
  assert_int_equal(yz__dht_ip_parse(&b, "2001:db8:2::1"), 0);
  assert_false(yz__dht_ip_same_subnet(&a, &b));
  assert_int_equal(yz__dht_ip_parse(&a, "127.3.4.5"), 0);
  assert_true(yz__dht_ip_is_loopback(&a));
  assert_int_equal(yz__dht_ip_parse(&a, "::1"), 0);
  assert_true(yz__dht_ip_is_loopback(&a));
  assert_int_equal(yz__dht_ip_parse(&a, "10.0.0.1"), 0);
  assert_false(yz__dht_ip_is_loopback(&a));
  assert_int_equal(yz__dht_ip_parse(&a, "not an ip"), YZ_E_INVAL);
  assert_int_equal(a.family, 0);
  assert_int_equal(yz__dht_ip_parse(&a, "1.2.3.4.5"), YZ_E_INVAL);
}

/* At most 2 per bucket and 3 per table from one /24 or /48. */
static void test_diversity(void **state)
{
  (void)state;
  rng_state = 5;
  yz__dht_rt rt;
  init_cfg(&rt, NULL);
  yz__dht_peer p[6];
  const char *v4[] = {"198.51.100.1", "198.51.100.2", "198.51.100.3",
                      "198.51.100.4", "198.51.100.5"};
  p[0] = peer_in(&rt, 0, v4[0]);
  p[1] = peer_in(&rt, 0, v4[1]);
  p[2] = peer_in(&rt, 0, v4[2]);
  assert_int_equal(yz__dht_rt_seen(&rt, &p[0], 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &p[1], 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &p[2], 1, 0), YZ__DHT_REFUSED_SUBNET);
  assert_false(yz__dht_rt_in_cache(&rt, &p[2].id));
  p[3] = peer_in(&rt, 1, v4[3]);
  assert_int_equal(yz__dht_rt_seen(&rt, &p[3], 1, 0), YZ__DHT_ADDED);
  p[4] = peer_in(&rt, 2, v4[4]); /* 4th in the table */
  assert_int_equal(yz__dht_rt_seen(&rt, &p[4], 1, 0), YZ__DHT_REFUSED_SUBNET);
  p[5] = peer_in(&rt, 2, "198.51.101.1"); /* another /24 */
  assert_int_equal(yz__dht_rt_seen(&rt, &p[5], 1, 0), YZ__DHT_ADDED);
  /* A contact cannot move into the full /24, and keeps its address. */
  yz__dht_peer moved = p[5];
  moved.ip = p[0].ip;
  moved.ip.addr[3] = 77;
  assert_int_equal(yz__dht_rt_seen(&rt, &moved, 2, 0), YZ__DHT_REFUSED_SUBNET);
  assert_int_equal(yz__dht_rt_find(&rt, &p[5].id)->ip.addr[2], 101);
  /* ...but within its own /24 it may. */
  moved.ip = p[0].ip;
  moved.ip.addr[3] = 77;
  assert_int_equal(
      yz__dht_rt_seen(&rt, &(yz__dht_peer){.id = p[0].id, .ip = moved.ip}, 3,
                      0),
      YZ__DHT_UPDATED);
  /* IPv6: the /48. */
  yz__dht_peer q[4];
  q[0] = peer_in(&rt, 3, "2001:db8:aa::1");
  q[1] = peer_in(&rt, 3, "2001:db8:aa:1::1");
  q[2] = peer_in(&rt, 3, "2001:db8:aa:2::1");
  q[3] = peer_in(&rt, 3, "2001:db8:ab::1");
  assert_int_equal(yz__dht_rt_seen(&rt, &q[0], 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &q[1], 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &q[2], 1, 0), YZ__DHT_REFUSED_SUBNET);
  assert_int_equal(yz__dht_rt_seen(&rt, &q[3], 1, 0), YZ__DHT_ADDED);
  /* Loopback is exempt: a whole bucket of 127.0.0.1. */
  for (unsigned i = 0; i < 20; i++) {
    yz__dht_peer l = peer_in(&rt, 4, i % 2 ? "127.0.0.1" : "::1");
    assert_int_equal(yz__dht_rt_seen(&rt, &l, 1, 0), YZ__DHT_ADDED);
  }
  /* No address known: one group, limited like a subnet. */
  yz__dht_peer n0 = peer_in(&rt, 5, NULL), n1 = peer_in(&rt, 5, NULL),
               n2 = peer_in(&rt, 5, NULL);
  assert_int_equal(yz__dht_rt_seen(&rt, &n0, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &n1, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &n2, 1, 0), YZ__DHT_REFUSED_SUBNET);
  yz__dht_rt_clear(&rt);

  /* Configurable: loopback not exempt; limits off. */
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.loopback_exempt = false;
  init_cfg(&rt, &cfg);
  for (unsigned i = 0; i < 3; i++) {
    yz__dht_peer l = peer_in(&rt, 4, "127.0.0.1");
    assert_int_equal(yz__dht_rt_seen(&rt, &l, 1, 0),
                     i < 2 ? YZ__DHT_ADDED : YZ__DHT_REFUSED_SUBNET);
  }
  yz__dht_rt_clear(&rt);
  cfg.subnet_per_bucket = 0;
  cfg.subnet_per_table = 5;
  init_cfg(&rt, &cfg);
  for (unsigned i = 0; i < 6; i++) {
    yz__dht_peer l = peer_in(&rt, 4, "203.0.113.9");
    assert_int_equal(yz__dht_rt_seen(&rt, &l, 1, 0),
                     i < 5 ? YZ__DHT_ADDED : YZ__DHT_REFUSED_SUBNET);
  }
  yz__dht_rt_clear(&rt);
  cfg.subnet_per_table = 0;
  init_cfg(&rt, &cfg);
  for (unsigned i = 0; i < 20; i++) {
    yz__dht_peer l = peer_in(&rt, 4, "203.0.113.9");
    assert_int_equal(yz__dht_rt_seen(&rt, &l, 1, 0), YZ__DHT_ADDED);
  }
  yz__dht_rt_clear(&rt);
}

/* A cache entry whose /24 is full in the table is passed over when a
 * place opens; a usable one is taken instead. */
static void test_promotion_respects_diversity(void **state)
{
  (void)state;
  rng_state = 6;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.k = 2;
  yz__dht_rt rt;
  init_cfg(&rt, &cfg);
  /* (the near contacts: no IP, so outside the /24 counted here; the
   * table limit counts them as one subnet of 2) */
  for (unsigned i = 0; i < 2; i++) {
    yz__dht_peer p = peer_in(&rt, 200, NULL);
    assert_int_equal(yz__dht_rt_seen(&rt, &p, 1, 0), YZ__DHT_ADDED);
  }
  yz__dht_peer a = peer_in(&rt, 0, "192.0.2.1");
  yz__dht_peer b = peer_in(&rt, 0, "10.0.0.1");
  yz__dht_peer x1 = peer_in(&rt, 1, "192.0.2.2");
  yz__dht_peer x2 = peer_in(&rt, 2, "192.0.2.3");
  assert_int_equal(yz__dht_rt_seen(&rt, &a, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &b, 1, 0), YZ__DHT_ADDED);
  /* cached while the table has 1 of 192.0.2/24 */
  yz__dht_peer c_bad = peer_in(&rt, 0, "192.0.2.9");
  yz__dht_peer c_ok = peer_in(&rt, 0, "10.9.9.9");
  assert_int_equal(yz__dht_rt_seen(&rt, &c_bad, 5, 0), YZ__DHT_CACHED);
  assert_int_equal(yz__dht_rt_seen(&rt, &c_ok, 4, 0), YZ__DHT_CACHED);
  assert_int_equal(yz__dht_rt_seen(&rt, &x1, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_seen(&rt, &x2, 1, 0), YZ__DHT_ADDED);
  /* b leaves: c_bad is fresher but would be the 4th of 192.0.2/24. */
  assert_int_equal(yz__dht_rt_remove(&rt, &b.id), 0);
  assert_non_null(yz__dht_rt_find(&rt, &c_ok.id));
  assert_true(yz__dht_rt_in_cache(&rt, &c_bad.id));
  /* A failing contact with only unusable successors stays. */
  for (int i = 0; i < 5; i++)
    assert_int_equal(yz__dht_rt_failed(&rt, &c_ok.id), 0);
  assert_non_null(yz__dht_rt_find(&rt, &c_ok.id));
  yz__dht_rt_clear(&rt);
}

/* The neighbourhood exception (docs/dht.md "Eviction rules"): a full
 * bucket at the edge of the k closest to the own ID takes a closer
 * newcomer in place of its farthest member, which goes to the cache;
 * a farther newcomer, or any once k contacts are closer, is cached. */
static void test_neighbourhood(void **state)
{
  (void)state;
  rng_state = 9;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.k = 4;
  cfg.subnet_per_bucket = 0;
  cfg.subnet_per_table = 0;
  yz__dht_rt rt;
  init_cfg(&rt, &cfg);
  yz__dht_peer p[12];
  for (unsigned i = 0; i < 12; i++)
    p[i] = peer_in(&rt, 3, NULL);
  for (unsigned i = 0; i < 4; i++)
    assert_int_equal(yz__dht_rt_seen(&rt, &p[i], 1, 0), YZ__DHT_ADDED);
  for (unsigned i = 4; i < 12; i++) {
    /* the farthest member of bucket 3, before */
    const yz__dht_bucket *b = &rt.buckets[3];
    unsigned far = 0;
    for (unsigned j = 1; j < b->n_live; j++)
      if (xor_cmp(&b->live[j].id, &b->live[far].id, &self_id) > 0)
        far = j;
    yz_node_id far_id = b->live[far].id;
    bool closer = xor_cmp(&p[i].id, &far_id, &self_id) < 0;
    assert_int_equal(yz__dht_rt_would_enter(&rt, &p[i].id), closer);
    rt.has_displaced = false;
    int rc = yz__dht_rt_seen(&rt, &p[i], 2, 0);
    if (closer) {
      assert_int_equal(rc, YZ__DHT_REPLACED);
      assert_true(rt.has_displaced);
      assert_memory_equal(rt.displaced.bytes, far_id.bytes, 32);
      assert_null(yz__dht_rt_find(&rt, &far_id));
      assert_true(yz__dht_rt_in_cache(&rt, &far_id));
    } else {
      assert_int_equal(rc, YZ__DHT_CACHED);
      assert_false(rt.has_displaced);
    }
    assert_int_equal(yz__dht_rt_size(&rt), 4);
  }
  /* bucket 3 holds the 4 closest of the 12 */
  yz_node_id all[12];
  for (unsigned i = 0; i < 12; i++)
    all[i] = p[i].id;
  bf_target = self_id;
  qsort(all, 12, sizeof *all, bf_cmp);
  for (unsigned i = 0; i < 4; i++)
    assert_non_null(yz__dht_rt_find(&rt, &all[i]));
  /* 4 contacts deeper: bucket 3 is no longer the neighbourhood */
  fill_near(&rt);
  yz__dht_peer q = peer_in(&rt, 3, NULL);
  while (xor_cmp(&q.id, &all[0], &self_id) > 0)
    q = peer_in(&rt, 3, NULL);
  assert_false(yz__dht_rt_would_enter(&rt, &q.id));
  assert_int_equal(yz__dht_rt_seen(&rt, &q, 3, 0), YZ__DHT_CACHED);
  yz__dht_rt_clear(&rt);
}

static void test_refresh(void **state)
{
  (void)state;
  rng_state = 7;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.refresh_ms = 1000;
  yz__dht_rt rt;
  assert_int_equal(yz__dht_rt_init(&rt, &self_id, &cfg, 500), 0);
  unsigned out[256];
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 100000, out, 256),
                   0); /* empty */
  yz__dht_peer p = peer_in(&rt, 3, ip_n(1));
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 600, 0), YZ__DHT_ADDED);
  p = peer_in(&rt, 1, ip_n(2));
  assert_int_equal(yz__dht_rt_seen(&rt, &p, 600, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 1499, out, 256), 0);
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 1500, out, 256), 4);
  for (unsigned i = 0; i < 4; i++)
    assert_int_equal(out[i], i); /* 0..3, none deeper than bucket 3 */
  /* A lookup through bucket 2 restarts its clock. */
  uint8_t r[32] = {0};
  yz_node_id t;
  yz__dht_rt_random_id(&rt, 2, r, &t);
  yz__dht_rt_touched(&rt, &t, 1400);
  yz__dht_rt_touched(&rt, &self_id, 1400); /* touches nothing */
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 1500, out, 256), 3);
  assert_int_equal(out[0], 0);
  assert_int_equal(out[1], 1);
  assert_int_equal(out[2], 3);
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 1500, out, 2), 2); /* cap */
  assert_int_equal(yz__dht_rt_refresh_due(&rt, 2400, out, 256), 4);
  yz__dht_rt_clear(&rt);
}

/* ---- k closest against a brute-force sort ---- */

static int bf_cmp(const void *a, const void *b)
{
  const yz_node_id *x = a, *y = b;
  for (unsigned i = 0; i < 32; i++) {
    uint8_t dx = (uint8_t)(x->bytes[i] ^ bf_target.bytes[i]);
    uint8_t dy = (uint8_t)(y->bytes[i] ^ bf_target.bytes[i]);
    if (dx != dy)
      return dx < dy ? -1 : 1;
  }
  return 0;
}

static void check_closest(yz__dht_rt *rt, const yz_node_id *live,
                          size_t n_live, yz_node_id *sorted,
                          const yz_node_id *target, size_t n)
{
  const yz__dht_contact *out[300];
  assert_true(n <= 300);
  size_t got = yz__dht_rt_closest(rt, target, out, n);
  size_t want = n < n_live ? n : n_live;
  assert_int_equal(got, want);
  memcpy(sorted, live, n_live * sizeof *live);
  bf_target = *target;
  qsort(sorted, n_live, sizeof *sorted, bf_cmp);
  for (size_t i = 0; i < got; i++)
    assert_memory_equal(out[i]->id.bytes, sorted[i].bytes, 32);
}

static void property_run(unsigned k, uint64_t seed, bool clustered)
{
  rng_state = seed;
  yz__dht_config cfg;
  yz__dht_config_default(&cfg);
  cfg.k = k;
  cfg.subnet_per_bucket = 0;
  cfg.subnet_per_table = 0;
  yz__dht_rt rt;
  init_cfg(&rt, &cfg);
  enum { N = 10000 };
  yz_node_id *ids = malloc(N * sizeof *ids);
  yz_node_id *live = malloc(N * sizeof *ids);
  yz_node_id *sorted = malloc(N * sizeof *ids);
  assert_non_null(ids);
  assert_non_null(live);
  assert_non_null(sorted);
  for (unsigned i = 0; i < N; i++) {
    yz__dht_peer p;
    memset(&p, 0, sizeof p);
    if (clustered) { /* many deep buckets: IDs near the own ID */
      uint8_t r[32];
      rng_bytes(r, sizeof r);
      yz__dht_rt_random_id(&rt, (unsigned)(rng_next() % 40), r, &p.id);
    } else {
      p.id = rand_id();
    }
    ids[i] = p.id;
    int rc = yz__dht_rt_seen(&rt, &p, i, 0);
    assert_true(rc == YZ__DHT_ADDED || rc == YZ__DHT_CACHED ||
                rc == YZ__DHT_REPLACED);
  }
  /* the neighbourhood exception: the k closest to the own ID of all the
   * IDs seen are live, whatever order they came in */
  memcpy(sorted, ids, N * sizeof *ids);
  bf_target = self_id;
  qsort(sorted, N, sizeof *sorted, bf_cmp);
  for (unsigned i = 0; i < k; i++)
    assert_non_null(yz__dht_rt_find(&rt, &sorted[i]));
  size_t n_live = 0;
  for (unsigned i = 0; i < N; i++)
    if (yz__dht_rt_find(&rt, &ids[i]))
      live[n_live++] = ids[i];
  assert_int_equal(n_live, yz__dht_rt_size(&rt));
  assert_true(n_live > k);
  const size_t ns[] = {1, 3, k, 2 * k + 1, 300};
  for (unsigned q = 0; q < 200; q++) {
    yz_node_id t;
    if (q % 4 == 0)
      t = rand_id();
    else if (q % 4 == 1)
      t = live[rng_next() % n_live]; /* a contact itself: distance 0 */
    else if (q % 4 == 2)
      t = ids[rng_next() % N]; /* often a cached or refused one */
    else {
      uint8_t r[32];
      rng_bytes(r, sizeof r);
      yz__dht_rt_random_id(&rt, (unsigned)(rng_next() % 256), r, &t);
    }
    check_closest(&rt, live, n_live, sorted, &t, ns[q % 5]);
  }
  check_closest(&rt, live, n_live, sorted, &self_id, k);
  check_closest(&rt, live, n_live, sorted, &self_id, 300);
  assert_int_equal(yz__dht_rt_closest(&rt, &self_id, NULL, 0), 0);
  free(ids);
  free(live);
  free(sorted);
  yz__dht_rt_clear(&rt);
}

static void test_closest_property(void **state)
{
  (void)state;
  property_run(20, 1001, false);
  property_run(20, 1002, true);
  property_run(YZ__DHT_K_MAX, 1003, true);
  property_run(1, 1004, true);
}

static void test_closest_small(void **state)
{
  (void)state;
  rng_state = 8;
  yz__dht_rt rt;
  init_cfg(&rt, NULL);
  const yz__dht_contact *out[4];
  assert_int_equal(yz__dht_rt_closest(&rt, &self_id, out, 4), 0);
  yz__dht_peer a = peer_in(&rt, 7, ip_n(1));
  assert_int_equal(yz__dht_rt_seen(&rt, &a, 1, 0), YZ__DHT_ADDED);
  assert_int_equal(yz__dht_rt_closest(&rt, &self_id, out, 4), 1);
  assert_ptr_equal(out[0], yz__dht_rt_find(&rt, &a.id));
  yz__dht_rt_clear(&rt);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_bucket_index_and_random_id),
      cmocka_unit_test(test_self_client_and_record),
      cmocka_unit_test(test_full_bucket_and_cache_limit),
      cmocka_unit_test(test_failures),
      cmocka_unit_test(test_ip_helpers),
      cmocka_unit_test(test_diversity),
      cmocka_unit_test(test_promotion_respects_diversity),
      cmocka_unit_test(test_neighbourhood),
      cmocka_unit_test(test_refresh),
      cmocka_unit_test(test_closest_small),
      cmocka_unit_test(test_closest_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
