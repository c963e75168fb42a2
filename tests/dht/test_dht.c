/*
 * The DHT end to end on the in-memory network (tests/node/test_node_mem.c
 * shows the pattern): nodes join from one bootstrap address, lookups find
 * the true k closest, records are put and got with the seq rules, stale
 * replicas are corrected, providers are found, a client-only node stays
 * out of tables, a node answering garbage is survived, the limits are hit,
 * and records survive the loss of 30 % of the nodes after a republish.
 * Virtual time throughout: timers run only when the test moves the clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dht/dht_internal.h"
#include "dht/dht_priv.h"
#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"

#define WAIT_GUARD_MS 60000
#include "../node/wait.h"

enum { N = 24, K = 8, MAX_NODES = N + 2 };

static uv_loop_t loop;
static yz_link_memnet *net;
#include "../common/vnet.h"

struct tn {
  yz_identity id;
  yz_node *node;
  yz_dht *dht;
  bool up, node_stopped, dht_stopped, dead;
  /* the last operation's result */
  bool done;
  int status;
  yz_dht_op_stats stats;
  yz_node_id closest[YZ_DHT_MSG_CONTACTS_CAP];
  size_t n_closest;
  uint8_t record[2048];
  size_t record_len;
  unsigned holders, corrected, asked, stored;
  uint64_t refusal;
  size_t n_providers;
  yz_node_id provider;
  unsigned progress;
};

static struct tn t[MAX_NODES];
static size_t n_nodes;

static void on_result(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct tn *x = arg;
  x->done = true;
  x->status = r->status;
  x->stats = r->stats;
  x->n_closest = r->n_closest;
  for (size_t i = 0; i < r->n_closest; i++)
    x->closest[i] = r->closest[i].id;
  x->record_len = 0;
  if (r->record && r->record_len <= sizeof x->record) {
    memcpy(x->record, r->record, r->record_len);
    x->record_len = r->record_len;
  }
  x->holders = r->holders;
  x->corrected = r->corrected;
  x->asked = r->asked;
  x->stored = r->stored;
  x->refusal = r->refusal;
  x->n_providers = r->n_providers;
  if (r->n_providers)
    x->provider = r->providers[0].id;
}

static void on_progress(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  (void)r;
  ((struct tn *)arg)->progress++;
}

static void run_all_timers(void)
{
  for (size_t i = 0; i < n_nodes; i++) {
    if (t[i].dead)
      continue;
    yz_node_run_timers(t[i].node);
    yz_dht_run_timers(t[i].dht);
  }
}

/* Move the virtual clock by ms in steps, running every timer due and the
 * loop until it is idle at each step. */
static void advance(uint64_t ms, uint64_t step)
{
  vnet_advance(ms, step, 200);
}

static void cfg_node(struct tn *x, unsigned seed_byte, yz_dht_config *dc,
                     bool listen)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, (int)seed_byte, sizeof seed);
  seed[1] = (uint8_t)(seed_byte * 7);
  assert_int_equal(yz_identity_from_seed(&x->id, seed), 0);
  yz_node_config nc;
  vnet_node_config(&nc, &x->id, net, "dht-test");
  assert_int_equal(yz_node_new(&x->node, &loop, &nc), 0);
  if (listen) {
    char url[64];
    snprintf(url, sizeof url, "ws://10.%u.0.1:7700", seed_byte);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(x->node, &lc), 0);
  }
  if (dc)
    assert_int_equal(yz_dht_new(&x->dht, x->node, dc), 0);
  assert_int_equal(yz_node_start(x->node), 0);
}

static void base_cfg(yz_dht_config *dc)
{
  yz_dht_config_default(dc);
  dc->k = K;
  dc->unix_time = vunix;
  dc->random = vrandom;
  dc->republish_ms = 600000;
}

static struct tn *add_node(const yz_dht_config *dc_in, bool listen)
{
  yz_dht_config dc;
  if (dc_in)
    dc = *dc_in;
  else
    base_cfg(&dc);
  struct tn *x = &t[n_nodes];
  memset(x, 0, sizeof *x);
  cfg_node(x, (unsigned)(n_nodes + 1), &dc, listen);
  n_nodes++;
  return x;
}

static void join(struct tn *x)
{
  const char *boot = yz_node_address(t[0].node, 0);
  x->done = false;
  assert_int_equal(yz_dht_join(x->dht, &boot, 1, on_result, x, NULL), 0);
}

/* A network of n nodes that joined from node 0, one after another. */
static void network(size_t n)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  rng = 0x9e3779b97f4a7c15ull;
  add_node(NULL, true);
  for (size_t i = 1; i < n; i++) {
    struct tn *x = add_node(NULL, true);
    join(x);
    VWAIT(x->done);
    assert_int_equal(x->status, 0);
  }
  /* a second round of self-lookups fills every table's neighbourhood */
  for (size_t i = 0; i < n; i++) {
    t[i].done = false;
    assert_int_equal(yz_dht_find_node(t[i].dht, yz_node_get_id(t[i].node),
                                      NULL, on_result, &t[i], NULL),
                     0);
  }
  for (size_t i = 0; i < n; i++)
    VWAIT(t[i].done);
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  ((struct tn *)arg)->dht_stopped = true;
}
static void on_node_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct tn *)arg)->node_stopped = true;
}

static void kill_node(struct tn *x)
{
  yz_dht_stop(x->dht, on_dht_stopped, x);
  WAIT_FOR(x->dht_stopped);
  yz_node_stop(x->node, on_node_stopped, x);
  WAIT_FOR(x->node_stopped);
  x->dead = true;
}

static void teardown_net(void)
{
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead)
      kill_node(&t[i]);
  for (size_t i = 0; i < n_nodes; i++) {
    yz_dht_free(t[i].dht);
    yz_node_free(t[i].node);
    yz_identity_clear(&t[i].id);
  }
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* The k closest node IDs to target among the live nodes (brute force). */
static size_t true_closest(const uint8_t *target, yz_node_id *out, size_t k,
                           const yz_node_id *skip)
{
  size_t n = 0;
  yz_node_id all[MAX_NODES];
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead &&
        !(skip && yz_node_id_equal(skip, yz_node_get_id(t[i].node))))
      all[n++] = *yz_node_get_id(t[i].node);
  /* selection sort by XOR distance */
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      int c = 0;
      for (size_t b = 0; b < YZ_NODE_ID_LEN && !c; b++) {
        uint8_t di = all[i].bytes[b] ^ target[b],
                dj = all[j].bytes[b] ^ target[b];
        c = di < dj ? -1 : di > dj ? 1 : 0;
      }
      if (c > 0) {
        yz_node_id tmp = all[i];
        all[i] = all[j];
        all[j] = tmp;
      }
    }
  if (n > k)
    n = k;
  memcpy(out, all, n * sizeof *out);
  return n;
}

static size_t immutable(uint8_t *out, size_t cap, const char *value,
                        uint8_t key[32])
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_IMMUTABLE;
  r.value = (const uint8_t *)value;
  r.value_len = strlen(value);
  r.expiry = UNIX0 + vclock / 1000 + 24 * 3600;
  assert_int_equal(yz_dhtrec_derive_key(&r), 0);
  size_t n;
  assert_int_equal(yz_dhtrec_encode(&r, out, cap, &n), 0);
  memcpy(key, r.key, 32);
  return n;
}

static size_t mutable_rec(uint8_t *out, size_t cap, const yz_identity *id,
                          uint64_t seq, const char *value, uint8_t key[32])
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_MUTABLE;
  r.value = (const uint8_t *)value;
  r.value_len = strlen(value);
  r.expiry = UNIX0 + vclock / 1000 + 24 * 3600;
  r.seq = seq;
  memcpy(r.salt, "s", 1);
  r.salt_len = 1;
  assert_int_equal(yz_dhtrec_sign(&r, id, NULL), 0);
  size_t n;
  assert_int_equal(yz_dhtrec_encode(&r, out, cap, &n), 0);
  memcpy(key, r.key, 32);
  return n;
}

static void put(struct tn *x, const uint8_t *rec, size_t len,
                const yz_dht_op_opts *o)
{
  x->done = false;
  assert_int_equal(yz_dht_put(x->dht, rec, len, o, on_result, x, NULL), 0);
  VWAIT(x->done);
}

static void get(struct tn *x, const uint8_t *key, const yz_dht_op_opts *o)
{
  x->done = false;
  assert_int_equal(yz_dht_get(x->dht, key, o, on_result, x, NULL), 0);
  VWAIT(x->done);
}

/* ---- tests ------------------------------------------------------------ */

/* 24 nodes join from one bootstrap address; FIND_NODE from any node
 * returns exactly the true k closest; tables hold only servers. */
static void test_join_find(void **state)
{
  (void)state;
  network(N);
  for (size_t i = 0; i < N; i++) {
    assert_true(yz_dht_table_size(t[i].dht) >= K);
    size_t len;
    assert_non_null(yz_dht_own_record(t[i].dht, &len));
  }
  for (int q = 0; q < 12; q++) {
    uint8_t target[32];
    for (int b = 0; b < 32; b++)
      target[b] = (uint8_t)(q * 37 + b * 11 + 5);
    struct tn *x = &t[(q * 5) % N];
    yz_node_id tid;
    memcpy(tid.bytes, target, 32);
    x->done = false;
    assert_int_equal(yz_dht_find_node(x->dht, &tid, NULL, on_result, x, NULL),
                     0);
    VWAIT(x->done);
    assert_int_equal(x->status, 0);
    yz_node_id want[K];
    size_t nw = true_closest(target, want, K, yz_node_get_id(x->node));
    assert_int_equal(x->n_closest, nw);
    for (size_t i = 0; i < nw; i++)
      assert_memory_equal(x->closest[i].bytes, want[i].bytes, 32);
    assert_true(x->stats.rounds >= 1);
    assert_true(x->stats.queried >= K);
  }
  /* Every node's neighbourhood is complete (its table's k closest are the
   * true k closest) unless the bucket of a missing node is full: live
   * contacts are never evicted for newcomers (docs/dht.md), the one way
   * fixed buckets can hide a close node. */
  for (size_t i = 0; i < N; i++) {
    yz_node_id want[K];
    size_t nw = true_closest(yz_node_get_id(t[i].node)->bytes, want, K,
                             yz_node_get_id(t[i].node));
    for (size_t w = 0; w < nw; w++) {
      if (yz__dht_rt_find(&t[i].dht->rt, &want[w]))
        continue;
      unsigned bi = yz__dht_rt_bucket_index(&t[i].dht->rt, &want[w]);
      assert_int_equal(t[i].dht->rt.buckets[bi].n_live, K);
    }
  }
  yz_dht_stats st;
  yz_dht_get_stats(t[0].dht, &st);
  assert_true(st.requests_in > 0 && st.table_size >= K);

  /* k = 2: a candidate set of 3k = 6 overflows (answers bring up to 8
   * contacts each), the farthest are dropped, the result is still exact */
  yz_dht_config dc;
  base_cfg(&dc);
  dc.k = 2;
  dc.alpha = 0; /* min(3, k) */
  struct tn *x = add_node(&dc, true);
  join(x);
  VWAIT(x->done);
  assert_int_equal(x->status, 0);
  for (int q = 0; q < 6; q++) {
    yz_node_id tid;
    for (int b = 0; b < 32; b++)
      tid.bytes[b] = (uint8_t)(q * 91 + b * 3 + 1);
    x->done = false;
    assert_int_equal(yz_dht_find_node(x->dht, &tid, NULL, on_result, x, NULL),
                     0);
    VWAIT(x->done);
    yz_node_id want[2];
    assert_int_equal(true_closest(tid.bytes, want, 2, yz_node_get_id(x->node)),
                     2);
    assert_int_equal(x->n_closest, 2);
    assert_memory_equal(x->closest, want, sizeof want);
  }
  teardown_net();
}

/* Immutable and mutable records; the seq rules end to end. */
static void test_put_get(void **state)
{
  (void)state;
  network(N);
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "hello overlay", key);
  put(&t[3], rec, len, NULL);
  assert_int_equal(t[3].status, 0);
  assert_true(t[3].stored >= K - 1);
  get(&t[17], key, NULL);
  assert_int_equal(t[17].status, 0);
  assert_int_equal(t[17].record_len, len);
  assert_memory_equal(t[17].record, rec, len);
  assert_true(t[17].holders >= 1);

  /* a key nobody stored */
  uint8_t nokey[32];
  memset(nokey, 0x5a, sizeof nokey);
  get(&t[9], nokey, NULL);
  assert_int_equal(t[9].status, YZ_E_NOT_FOUND);

  /* mutable: seq 2, then a lower seq is refused, a CAS on the wrong seq
   * is refused, a CAS on the right one goes through */
  uint8_t m2[512], m1[512], m3[512], mkey[32];
  size_t l2 = mutable_rec(m2, sizeof m2, &t[5].id, 2, "v2", mkey);
  put(&t[5], m2, l2, NULL);
  assert_int_equal(t[5].status, 0);
  assert_true(t[5].stored >= K - 1);
  assert_int_equal(t[5].refusal, 0);
  size_t l1 = mutable_rec(m1, sizeof m1, &t[5].id, 1, "v1", mkey);
  put(&t[5], m1, l1, NULL);
  assert_int_equal(t[5].stored, 0);
  assert_int_equal(t[5].refusal, YZ_DHT_ST_SEQ_TOO_LOW);
  size_t l3 = mutable_rec(m3, sizeof m3, &t[5].id, 3, "v3", mkey);
  yz_dht_op_opts o = {0};
  o.has_cas = true;
  o.cas = 1;
  put(&t[5], m3, l3, &o);
  assert_int_equal(t[5].stored, 0);
  assert_int_equal(t[5].refusal, YZ_DHT_ST_CAS_MISMATCH);
  o.cas = 2;
  put(&t[5], m3, l3, &o);
  assert_true(t[5].stored >= K - 1);
  o = (yz_dht_op_opts){0};
  o.latest = true;
  o.progress = on_progress;
  get(&t[20], mkey, &o);
  assert_int_equal(t[20].status, 0);
  assert_int_equal(t[20].record_len, l3);
  assert_memory_equal(t[20].record, m3, l3);
  assert_true(t[20].progress >= 1);
  /* an invalid record is refused before anything is sent */
  m3[l3 - 1] ^= 1;
  assert_int_equal(yz_dht_put(t[5].dht, m3, l3, NULL, on_result, &t[5], NULL),
                   YZ_E_INVAL);
  teardown_net();
}

/* GET latest with a quorum finds the newest record and sends it to a
 * replica that returned an older one. */
static void test_stale_corrected(void **state)
{
  (void)state;
  network(N);
  uint8_t m1[512], m2[512], key[32];
  size_t l1 = mutable_rec(m1, sizeof m1, &t[2].id, 1, "old", key);
  put(&t[2], m1, l1, NULL);
  assert_true(t[2].stored >= K - 1);
  size_t l2 = mutable_rec(m2, sizeof m2, &t[2].id, 2, "new", key);
  /* every holder but one learns seq 2 directly */
  yz_node_id hold[K];
  size_t nh = true_closest(key, hold, K, NULL);
  struct tn *stale = NULL;
  for (size_t h = 0; h < nh; h++)
    for (size_t i = 0; i < n_nodes; i++)
      if (yz_node_id_equal(&hold[h], yz_node_get_id(t[i].node))) {
        if (h == 0)
          stale = &t[i];
        else
          assert_int_equal(yz_dht_store_local(t[i].dht, key, m2, l2),
                           YZ_DHT_OK);
      }
  assert_non_null(stale);
  struct tn *reader = stale == &t[0] ? &t[1] : &t[0];
  yz_dht_op_opts o = {0};
  o.latest = true;
  o.quorum = K;
  get(reader, key, &o);
  assert_int_equal(reader->status, 0);
  assert_int_equal(reader->record_len, l2);
  assert_memory_equal(reader->record, m2, l2);
  assert_true(reader->corrected >= 1);
  /* the stale replica now answers with seq 2 */
  yz_dht_stats st;
  yz_dht_get_stats(reader->dht, &st);
  assert_true(st.corrected >= 1);
  advance(10, 10);
  o.quorum = 1;
  o.latest = false;
  bool fixed = false;
  for (int i = 0; i < 50 && !fixed; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    static uint8_t out[200000];
    size_t ol;
    /* ask the stale node's store through its request handler */
    uint8_t req[64];
    yz_dht_msg m;
    yz_dht_msg_init(&m, YZ_DHT_GET);
    memcpy(m.target, key, 32);
    size_t rl;
    assert_int_equal(yz_dht_msg_encode(&m, NULL, req, sizeof req, &rl, NULL),
                     0);
    assert_int_equal(yz__dht_handle_request(stale->dht,
                                            yz_node_get_id(reader->node), req,
                                            rl, out, sizeof out, &ol),
                     0);
    yz_dht_msg a;
    assert_int_equal(yz_dht_msg_decode(&a, out, ol, NULL, NULL), 0);
    fixed = a.has_record && a.record.len == l2 &&
            memcmp(a.record.ptr, m2, l2) == 0;
  }
  assert_true(fixed);
  teardown_net();
}

/* PROVIDE and GET_PROVIDERS, with progress streaming. */
static void test_providers(void **state)
{
  (void)state;
  network(N);
  uint8_t key[32];
  memset(key, 0xc3, sizeof key);
  t[4].done = false;
  assert_int_equal(yz_dht_provide(t[4].dht, key, NULL, on_result, &t[4], NULL),
                   0);
  VWAIT(t[4].done);
  assert_int_equal(t[4].status, 0);
  assert_true(t[4].stored >= K - 1);
  yz_dht_op_opts o = {0};
  o.progress = on_progress;
  /* a reader that is not itself a holder: the provider comes from an
   * answer, streamed through progress */
  yz_node_id hold[K];
  size_t nh = true_closest(key, hold, K, NULL);
  struct tn *x = NULL;
  for (size_t i = 0; i < N && !x; i++) {
    bool holder = i == 4;
    for (size_t h = 0; h < nh; h++)
      holder = holder || yz_node_id_equal(&hold[h], yz_node_get_id(t[i].node));
    if (!holder)
      x = &t[i];
  }
  assert_non_null(x);
  x->done = false;
  assert_int_equal(yz_dht_get_providers(x->dht, key, &o, on_result, x, NULL),
                   0);
  VWAIT(x->done);
  assert_int_equal(x->status, 0);
  assert_int_equal(x->n_providers, 1);
  assert_memory_equal(x->provider.bytes, yz_node_get_id(t[4].node)->bytes, 32);
  assert_true(x->progress >= 1);
  assert_int_equal(yz_dht_unprovide(t[4].dht, key), 0);
  assert_int_equal(yz_dht_unprovide(t[4].dht, key), YZ_E_NOT_FOUND);
  teardown_net();
}

/* A client-only node (no listener) joins, queries, puts and gets, and
 * never enters a table; a server refuses to store for nobody. */
static void test_client_only(void **state)
{
  (void)state;
  network(12);
  yz_dht_config dc;
  base_cfg(&dc);
  dc.client_only = true;
  struct tn *c = add_node(&dc, false);
  size_t len;
  assert_null(yz_dht_own_record(c->dht, &len));
  join(c);
  VWAIT(c->done);
  assert_int_equal(c->status, 0);
  assert_true(yz_dht_table_size(c->dht) >= 1);
  uint8_t rec[512], key[32];
  size_t rl = immutable(rec, sizeof rec, "from a client", key);
  put(c, rec, rl, NULL);
  assert_int_equal(c->status, 0);
  assert_true(c->stored >= K - 1);
  /* its spread would be ignored: it flags none */
  yz_dht_stats cs;
  yz_dht_get_stats(c->dht, &cs);
  assert_int_equal(cs.spread_sent, 0);
  get(&t[7], key, NULL);
  assert_int_equal(t[7].status, 0);
  /* nobody's table has it */
  for (size_t i = 0; i + 1 < n_nodes; i++) {
    yz_node_id ids[64];
    size_t n =
        yz_dht_table_closest(t[i].dht, yz_node_get_id(c->node), ids, 64);
    for (size_t j = 0; j < n; j++)
      assert_false(yz_node_id_equal(&ids[j], yz_node_get_id(c->node)));
  }
  /* a client-only node stores nothing and says so */
  uint8_t req[600], out[2048];
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, key, 32);
  m.has_record = true;
  m.record = (yz_dht_bytes){rec, rl};
  size_t n, ol;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, req, sizeof req, &n, NULL), 0);
  assert_int_equal(yz__dht_handle_request(c->dht, yz_node_get_id(t[0].node),
                                          req, n, out, sizeof out, &ol),
                   0);
  yz_dht_msg a;
  assert_int_equal(yz_dht_msg_decode(&a, out, ol, NULL, NULL), 0);
  assert_int_equal(a.type, YZ_DHT_STATUS);
  assert_int_equal(a.status, YZ_DHT_ST_NOT_SERVER);
  teardown_net();
}

/* A node that answers every DHT request with garbage, and one that never
 * answers: lookups still find the true closest live nodes. */
static void garbage(yz_node *n, const yz_node_incoming *req,
                    const uint8_t *data, size_t len, void *ud)
{
  (void)data;
  (void)len;
  (void)ud;
  static const uint8_t junk[] = {0xa2, 0x01, 0x0b, 0x04, 0x81, 0x41, 0x00};
  (void)yz_node_respond(n, req, junk, sizeof junk);
}
static void silent(yz_node *n, const yz_node_incoming *req,
                   const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)req;
  (void)data;
  (void)len;
  (void)ud;
}

static void test_garbage_survived(void **state)
{
  (void)state;
  network(N);
  const yz_node_protocol g = {NULL, garbage}, s = {NULL, silent};
  assert_int_equal(yz_node_register(t[6].node, YZ_DHT_PROTO, &g, NULL), 0);
  assert_int_equal(yz_node_register(t[13].node, YZ_DHT_PROTO, &s, NULL), 0);
  for (int q = 0; q < 4; q++) {
    struct tn *x = &t[(q * 7 + 1) % N];
    if (x == &t[6] || x == &t[13])
      x = &t[0];
    /* target: the garbage node's own ID, so it is among the closest */
    const yz_node_id *tid = yz_node_get_id(t[q % 2 ? 6 : 13].node);
    x->done = false;
    assert_int_equal(yz_dht_find_node(x->dht, tid, NULL, on_result, x, NULL),
                     0);
    /* the silent node stalls (it no longer holds a slot) and is left
     * out: counted as failed */
    VWAIT(x->done);
    assert_int_equal(x->status, 0);
    assert_true(x->stats.failed >= 1);
    /* everyone that answered is a true close node; the bad ones are not
     * in the answer */
    for (size_t i = 0; i < x->n_closest; i++) {
      assert_false(
          yz_node_id_equal(&x->closest[i], yz_node_get_id(t[6].node)));
      assert_false(
          yz_node_id_equal(&x->closest[i], yz_node_get_id(t[13].node)));
    }
    assert_int_equal(x->n_closest, K);
  }
  /* let the silent node's handler answer nothing until the end */
  teardown_net();
}

/* Requests that take longer than the timeout floor stall (docs/dht.md
 * "Lookups"): they stop holding one of the alpha slots and leave the
 * window, so a lookup does not wait alpha at a time for nodes that never
 * answer. A new node that never heard from four silent nodes (no measured
 * round trip: their timeout is rpc_timeout_max_ms, 5 s) finds their
 * neighbourhood in less than one such timeout. */
static void test_stalled_requests(void **state)
{
  (void)state;
  network(N);
  const yz_node_protocol s = {NULL, silent};
  static const int quiet[] = {5, 9, 13, 17};
  for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
    assert_int_equal(yz_node_register(t[quiet[i]].node, YZ_DHT_PROTO, &s, NULL),
                     0);
  struct tn *y = add_node(NULL, true);
  join(y);
  VWAIT(y->done);
  assert_int_equal(y->status, 0);
  for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
    const yz_node_id *tid = yz_node_get_id(t[quiet[i]].node);
    y->done = false;
    assert_int_equal(yz_dht_find_node(y->dht, tid, NULL, on_result, y, NULL),
                     0);
    VWAIT(y->done);
    assert_int_equal(y->status, 0);
    /* (the answers of k = 8 contacts each hold the silent ones too, so
     * the 8th live node may be in none) */
    assert_true(y->n_closest >= K - 1);
    assert_true(y->stats.failed >= 1);
    assert_true(y->stats.elapsed_ms < 5000);
    for (size_t j = 0; j < y->n_closest; j++)
      for (size_t q = 0; q < sizeof quiet / sizeof quiet[0]; q++)
        assert_false(yz_node_id_equal(&y->closest[j],
                                      yz_node_get_id(t[quiet[q]].node)));
  }
  teardown_net();
}

/* A node that holds every FIND_NODE unanswered and serves everything else
 * (PUT, HELLO, ...) through its DHT. */
static void no_find(yz_node *n, const yz_node_incoming *req,
                    const uint8_t *data, size_t len, void *ud)
{
  yz_dht *d = ud;
  static yz_dht_msg m; /* large: not on the stack */
  if (yz_dht_msg_decode(&m, data, len, &d->lim, NULL) == 0 &&
      m.type == YZ_DHT_FIND_NODE)
    return;
  size_t cap = yz__dht_answer_max(d), outlen = 0;
  uint8_t *out = malloc(cap);
  assert_non_null(out);
  if (yz__dht_handle_request(d, &req->from, data, len, out, cap, &outlen) == 0)
    (void)yz_node_respond(n, req, out, outlen);
  free(out);
}

/* How many live nodes other than skip hold the record of key. */
static size_t holders_of(const uint8_t *key, const struct tn *skip)
{
  size_t n = 0;
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead && &t[i] != skip &&
        yz__dht_store_get(t[i].dht->store, key, UNIX0 + vclock / 1000))
      n++;
  return n;
}

/* PUT sends the record to the members of the window that answered as soon
 * as the lookup is in its last step (docs/dht.md "PUT"), not once the
 * whole window answered: with one of the k closest holding its FIND_NODE
 * answer, the others already store the record while the put waits for it;
 * the put then ends with the record on the k closest that answered, and
 * no store is sent twice. */
static void test_put_early(void **state)
{
  (void)state;
  network(N);
  struct tn *x = &t[2];
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "early stores", key);
  yz_node_id truth[K];
  assert_int_equal(true_closest(key, truth, K, yz_node_get_id(x->node)), K);
  struct tn *slow = NULL;
  for (size_t i = 0; i < n_nodes; i++)
    if (yz_node_id_equal(yz_node_get_id(t[i].node), &truth[K - 1]))
      slow = &t[i];
  assert_non_null(slow);
  const yz_node_protocol p = {NULL, no_find};
  assert_int_equal(yz_node_register(slow->node, YZ_DHT_PROTO, &p, slow->dht),
                   0);
  yz_dht_stats before;
  yz_dht_get_stats(x->dht, &before);
  x->done = false;
  assert_int_equal(yz_dht_put(x->dht, rec, len, NULL, on_result, x, NULL), 0);
  /* less than the stall time (500 ms) later: still waiting for the slow
   * member, and the others have the record */
  advance(200, 100);
  assert_false(x->done);
  assert_true(holders_of(key, slow) >= K - 2);
  VWAIT(x->done);
  assert_int_equal(x->status, 0);
  assert_true(x->stored >= K - 1);
  assert_true(x->stored <= x->asked);
  yz_dht_stats after;
  yz_dht_get_stats(x->dht, &after);
  assert_true(after.puts_early - before.puts_early >= K - 2);
  assert_true(after.puts_extra - before.puts_extra <=
              after.puts_early - before.puts_early);
  /* every store went out once: the lookup's requests plus one store per
   * node asked (the local one aside) */
  assert_true(x->stats.queried <= x->asked + 2 * K + 2);
  teardown_net();
}

/* The connection policy keeps the links of the neighbourhood (the k
 * closest to the own ID) and of the 2 oldest members of each bucket
 * (docs/dht.md "Links"), not of every table member: a table of about
 * k x log2(N / k) members would otherwise hold the node's link count above
 * its cap. */
static void test_protected_members(void **state)
{
  (void)state;
  network(N);
  size_t tot_prot = 0, tot_up = 0;
  for (size_t i = 0; i < N; i++) {
    yz_dht *dht = t[i].dht;
    yz_node *node = t[i].node;
    yz_node_id all[MAX_NODES], near[K];
    size_t n = yz_dht_table_closest(dht, NULL, all, MAX_NODES);
    size_t nn = yz_dht_table_closest(dht, NULL, near, K);
    assert_int_equal(nn, K);
    size_t prot = 0, up = 0;
    for (size_t j = 0; j < n; j++) {
      bool p = (yz_node_peer_protection(node, &all[j]) &
                YZ_NODE_PROTECT_ROUTING) != 0;
      bool is_up = yz_node_peer_is_up(node, &all[j]);
      up += is_up;
      prot += p;
      /* the neighbourhood keeps its links */
      if (j < K && is_up)
        assert_true(p);
    }
    tot_prot += prot;
    tot_up += up;
  }
  /* members beyond the neighbourhood and 2 per bucket have lost it */
  assert_true(tot_prot < tot_up);
  teardown_net();
}

/* max_lookups: the next operation is refused with YZ_E_LIMIT; the store's
 * record quota (through the DHT config) refuses with QUOTA. */
static void test_limits(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  add_node(NULL, true);
  yz_dht_config dc;
  base_cfg(&dc);
  dc.max_lookups = 2;
  dc.store_records_max = 2;
  struct tn *x = add_node(&dc, true);
  join(x);
  VWAIT(x->done);
  assert_int_equal(x->status, 0);
  /* the join's maintenance lookups end first */
  yz_dht_stats st;
  VWAIT((yz_dht_get_stats(x->dht, &st), st.lookups_active == 0));
  yz_node_id tgt;
  memset(&tgt, 1, sizeof tgt);
  uint64_t a, b;
  struct tn sink;
  memset(&sink, 0, sizeof sink);
  assert_int_equal(yz_dht_find_node(x->dht, &tgt, NULL, on_result, &sink, &a),
                   0);
  assert_int_equal(yz_dht_find_node(x->dht, &tgt, NULL, on_result, &sink, &b),
                   0);
  assert_int_equal(
      yz_dht_find_node(x->dht, &tgt, NULL, on_result, &sink, NULL),
      YZ_E_LIMIT);
  assert_int_equal(yz_dht_cancel(x->dht, a), 0);
  assert_int_equal(yz_dht_cancel(x->dht, a), YZ_E_NOT_FOUND);
  sink.done = false;
  assert_int_equal(
      yz_dht_find_node(x->dht, &tgt, NULL, on_result, &sink, NULL), 0);
  uint8_t rec[512], key[32];
  for (int i = 0; i < 3; i++) {
    char v[16];
    snprintf(v, sizeof v, "value %d", i);
    size_t l = immutable(rec, sizeof rec, v, key);
    assert_int_equal(yz_dht_store_local(x->dht, key, rec, l),
                     i < 2 ? YZ_DHT_OK : YZ_DHT_ST_QUOTA);
  }
  yz_dht_get_stats(x->dht, &st);
  assert_int_equal(st.records, 2);
  VWAIT(sink.done);
  teardown_net();
}

/* Records survive stopping 30 % of the nodes once the holders have
 * republished to the current k closest. */
static void test_survive_kill(void **state)
{
  (void)state;
  network(N);
  enum { R = 6 };
  uint8_t recs[R][256], keys[R][32];
  size_t lens[R];
  for (int i = 0; i < R; i++) {
    char v[32];
    snprintf(v, sizeof v, "survivor %d", i);
    lens[i] = immutable(recs[i], sizeof recs[i], v, keys[i]);
    put(&t[(i * 5 + 2) % N], recs[i], lens[i], NULL);
    assert_true(t[(i * 5 + 2) % N].stored >= K - 1);
  }
  /* stop 30 %: the closest holders of record 0 first, then others */
  size_t kill = N * 3 / 10, killed = 0;
  yz_node_id hold[K];
  size_t nh = true_closest(keys[0], hold, K, NULL);
  for (size_t h = 0; h < nh && killed < kill; h++)
    for (size_t i = 1; i < n_nodes; i++)
      if (!t[i].dead &&
          yz_node_id_equal(&hold[h], yz_node_get_id(t[i].node)) &&
          h % 2 == 0) {
        kill_node(&t[i]);
        killed++;
      }
  for (size_t i = n_nodes - 1; killed < kill; i--)
    if (!t[i].dead) {
      kill_node(&t[i]);
      killed++;
    }
  /* a republish period and a little more, in virtual time */
  advance(600000 + 120000, 30000);
  yz_dht_stats st;
  uint64_t repub = 0;
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead) {
      yz_dht_get_stats(t[i].dht, &st);
      repub += st.republished;
    }
  assert_true(repub >= 1);
  for (int i = 0; i < R; i++) {
    struct tn *x = NULL;
    for (size_t j = (size_t)i; !x; j = (j + 1) % n_nodes)
      if (!t[j].dead)
        x = &t[j];
    x->done = false;
    assert_int_equal(yz_dht_get(x->dht, keys[i], NULL, on_result, x, NULL), 0);
    VWAIT(x->done);
    assert_int_equal(x->status, 0);
    assert_int_equal(x->record_len, lens[i]);
    /* the k closest live nodes hold it again */
    yz_node_id want[K];
    size_t nw = true_closest(keys[i], want, K, NULL);
    size_t held = 0;
    for (size_t w = 0; w < nw; w++)
      for (size_t j = 0; j < n_nodes; j++)
        if (!t[j].dead &&
            yz_node_id_equal(&want[w], yz_node_get_id(t[j].node))) {
          uint8_t req[64];
          static uint8_t out[200000];
          yz_dht_msg m;
          yz_dht_msg_init(&m, YZ_DHT_GET);
          memcpy(m.target, keys[i], 32);
          size_t rl, ol;
          assert_int_equal(
              yz_dht_msg_encode(&m, NULL, req, sizeof req, &rl, NULL), 0);
          assert_int_equal(yz__dht_handle_request(t[j].dht, &want[w], req, rl,
                                                  out, sizeof out, &ol),
                           0);
          yz_dht_msg a;
          assert_int_equal(yz_dht_msg_decode(&a, out, ol, NULL, NULL), 0);
          held += a.has_record;
        }
    assert_true(held >= nw - 1);
  }
  teardown_net();
}

/* Ask x's request handler directly, as peer `from` would. */
static void ask(struct tn *x, const yz_node_id *from, const yz_dht_msg *m,
                yz_dht_msg *a)
{
  static uint8_t req[70000], out[200000];
  size_t rl, ol;
  assert_int_equal(yz_dht_msg_encode(m, NULL, req, sizeof req, &rl, NULL), 0);
  assert_int_equal(
      yz__dht_handle_request(x->dht, from, req, rl, out, sizeof out, &ol), 0);
  static uint8_t keep[200000];
  memcpy(keep, out, ol);
  assert_int_equal(yz_dht_msg_decode(a, keep, ol, NULL, NULL), 0);
}

/* What a responder does with each request (docs/protocol.md "DHT rules"):
 * malformed input, a response sent as a request, GET's seq, PROVIDE of
 * another node's record, the PUT rate limit. */
static void test_serving(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  rng = 1;
  yz_dht_config dc;
  base_cfg(&dc);
  dc.put_burst = 3;
  dc.put_rate_per_s = 1;
  struct tn *a = add_node(&dc, true);
  struct tn *b = add_node(&dc, true);
  join(b);
  VWAIT(b->done);
  assert_int_equal(b->status, 0);
  const yz_node_id *bid = yz_node_get_id(b->node);
  /* both tables hold the other: b dialled a; a dialled b back */
  VWAIT(yz_dht_table_size(a->dht) == 1);
  assert_int_equal(yz_dht_table_size(b->dht), 1);
  assert_true(yz_node_peer_protection(a->node, bid) & YZ_NODE_PROTECT_ROUTING);

  static const uint8_t bad[] = {0xa1, 0x01, 0x09};
  static uint8_t out[200000];
  size_t ol;
  yz_dht_msg ans;
  assert_int_equal(yz__dht_handle_request(a->dht, bid, bad, sizeof bad, out,
                                          sizeof out, &ol),
                   0);
  assert_int_equal(yz_dht_msg_decode(&ans, out, ol, NULL, NULL), 0);
  assert_int_equal(ans.type, YZ_DHT_STATUS);
  assert_int_equal(ans.status, YZ_DHT_ST_UNSUPPORTED);
  static const uint8_t trunc[] = {0xa2, 0x01};
  assert_int_equal(yz__dht_handle_request(a->dht, bid, trunc, sizeof trunc,
                                          out, sizeof out, &ol),
                   0);
  assert_int_equal(yz_dht_msg_decode(&ans, out, ol, NULL, NULL), 0);
  assert_int_equal(ans.status, YZ_DHT_ST_MALFORMED);
  assert_true(ans.reason_len > 0);

  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_ST_UNSUPPORTED);

  /* FIND_NODE: the requester is left out of its own answer */
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  memcpy(m.target, bid->bytes, 32);
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.type, YZ_DHT_FIND_NODE_RESP);
  assert_int_equal(ans.n_closer, 0);

  /* PUT, then GET with the seq the querier holds */
  uint8_t r5[512], key[32];
  size_t l5 = mutable_rec(r5, sizeof r5, &b->id, 5, "five", key);
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, key, 32);
  m.has_record = true;
  m.record = (yz_dht_bytes){r5, l5};
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_msg_init(&m, YZ_DHT_GET);
  memcpy(m.target, key, 32);
  m.has_seq = true;
  m.seq = 5;
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.type, YZ_DHT_GET_RESP);
  assert_false(ans.has_record);
  m.seq = 4;
  ask(a, bid, &m, &ans);
  assert_true(ans.has_record);
  /* a lower seq: refused, with the seq held */
  uint8_t r3[512];
  size_t l3 = mutable_rec(r3, sizeof r3, &b->id, 3, "three", key);
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, key, 32);
  m.has_record = true;
  m.record = (yz_dht_bytes){r3, l3};
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_ST_SEQ_TOO_LOW);
  assert_true(ans.has_seq);
  assert_int_equal(ans.seq, 5);

  /* PROVIDE: only the requester's own record */
  size_t own_len;
  const uint8_t *own_b = yz_dht_own_record(b->dht, &own_len);
  assert_non_null(own_b);
  yz_dht_msg_init(&m, YZ_DHT_PROVIDE);
  memset(m.target, 0x31, 32);
  m.provider = (yz_dht_bytes){own_b, own_len};
  yz_node_id stranger;
  memset(&stranger, 0xee, sizeof stranger);
  ask(a, &stranger, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_ST_BAD_SIGNATURE);
  /* the rate limit: burst 3; the 2 PUTs above took two tokens (the
   * refused PROVIDE came from another peer) */
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_ST_RATE_LIMITED);
  yz_dht_stats st;
  yz_dht_get_stats(a->dht, &st);
  assert_true(st.refused_in[YZ_DHT_ST_RATE_LIMITED] == 1);
  assert_true(st.refused_in[YZ_DHT_ST_MALFORMED] == 1);
  /* a second later, a token */
  vclock += 1000;
  ask(a, bid, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(a->dht, &st);
  assert_int_equal(st.providers, 1);

  /* A querier that never sent HELLO (its DHT came after its link): a asks
   * for its record, dials it back and admits it, once. */
  struct tn *c = &t[n_nodes];
  memset(c, 0, sizeof *c);
  cfg_node(c, 0x33, NULL, true);
  n_nodes++;
  assert_int_equal(yz_node_dial(c->node, yz_node_address(a->node, 0), NULL),
                   0);
  const yz_node_id *cid = yz_node_get_id(c->node);
  VWAIT(yz_node_peer_is_up(a->node, cid));
  assert_int_equal(yz_dht_new(&c->dht, c->node, &dc), 0);
  yz_dht_get_stats(a->dht, &st);
  uint64_t out0 = st.requests_out;
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  memset(m.target, 0x21, 32);
  ask(a, cid, &m, &ans);
  ask(a, cid, &m, &ans);
  yz_dht_get_stats(a->dht, &st);
  assert_int_equal(st.requests_out, out0 + 1); /* one HELLO */
  VWAIT(yz_dht_table_size(a->dht) == 2);
  assert_true(yz_node_peer_protection(a->node, cid) & YZ_NODE_PROTECT_ROUTING);
  teardown_net();
}

/* The own record is re-signed at half its lifetime with a higher seq;
 * keep_max bounds the records kept alive; a kept record is re-put every
 * republish_ms; a holder that received a record within the period skips
 * its own republish. */
static void test_maintenance(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  rng = 2;
  yz_dht_config dc;
  base_cfg(&dc);
  dc.record_lifetime_s = 3600;
  dc.keep_max = 1;
  dc.republish_ms = 60000;
  dc.refresh_ms = 30000;
  add_node(&dc, true);
  for (int i = 0; i < 3; i++) {
    struct tn *x = add_node(&dc, true);
    join(x);
    VWAIT(x->done);
  }
  struct tn *a = &t[1];
  size_t l0;
  const uint8_t *r0 = yz_dht_own_record(a->dht, &l0);
  yz_record_expect ex = {"dht-test", NULL, vunix(NULL)};
  yz_record rec0, rec1;
  assert_int_equal(yz_record_decode(&rec0, r0, l0, &ex, NULL), 0);
  uint64_t dl = yz_dht_next_deadline(a->dht);
  assert_true(dl <= vclock + 30000);

  uint8_t k1[512], k2[512], key1[32], key2[32];
  size_t kl1 = immutable(k1, sizeof k1, "kept one", key1);
  size_t kl2 = immutable(k2, sizeof k2, "kept two", key2);
  assert_int_equal(yz_dht_keep(a->dht, k1, kl1), 0);
  assert_int_equal(yz_dht_keep(a->dht, k2, kl2), YZ_E_LIMIT);
  assert_int_equal(yz_dht_keep(a->dht, k2, kl2 - 1), YZ_E_INVAL);

  yz_dht_stats before, after;
  yz_dht_get_stats(a->dht, &before);
  /* 31 min: the record (30 min half-life) is re-signed, the kept record
   * re-put many times */
  advance(31 * 60 * 1000, 10000);
  yz_dht_get_stats(a->dht, &after);
  assert_true(after.republished > before.republished);
  size_t l1;
  const uint8_t *r1 = yz_dht_own_record(a->dht, &l1);
  ex.now = vunix(NULL);
  assert_int_equal(yz_record_decode(&rec1, r1, l1, &ex, NULL), 0);
  assert_true(rec1.seq > rec0.seq);
  assert_true(rec1.expiry > rec0.expiry);
  /* every node now holds the kept record (k = 8 > 4 nodes) */
  for (size_t i = 0; i < n_nodes; i++) {
    yz_dht_stats s;
    yz_dht_get_stats(t[i].dht, &s);
    assert_true(s.records >= 1);
  }
  /* the holders received it within each period: they did not republish
   * the record themselves, only the keeper did */
  uint64_t others = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    if (&t[i] == a)
      continue;
    yz_dht_stats s;
    yz_dht_get_stats(t[i].dht, &s);
    others += s.republished;
  }
  assert_int_equal(others, 0);
  assert_int_equal(yz_dht_unkeep(a->dht, key1), 0);
  assert_int_equal(yz_dht_unkeep(a->dht, key1), YZ_E_NOT_FOUND);
  teardown_net();
}

/* Real time (no virtual clock): the DHT arms its own uv timer, joins, puts
 * and gets, and a contact offered with yz_dht_add_contact() is asked to
 * answer (HELLO) and enters the table. */
static void test_real_time(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  struct tn *x[3];
  for (int i = 0; i < 3; i++) {
    x[i] = &t[n_nodes];
    memset(x[i], 0, sizeof *x[i]);
    uint8_t seed[YZ_IDENTITY_SEED_LEN];
    memset(seed, 0x60 + i, sizeof seed);
    assert_int_equal(yz_identity_from_seed(&x[i]->id, seed), 0);
    yz_node_config nc;
    yz_node_config_default(&nc);
    nc.identity = &x[i]->id;
    nc.link.memnet = net;
    nc.link.network = "dht-test";
    assert_int_equal(yz_node_new(&x[i]->node, &loop, &nc), 0);
    char url[64];
    snprintf(url, sizeof url, "ws://10.%d.0.9:7700", 60 + i);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(x[i]->node, &lc), 0);
    yz_dht_config dc;
    yz_dht_config_default(&dc);
    assert_int_equal(yz_dht_new(&x[i]->dht, x[i]->node, &dc), 0);
    assert_int_equal(yz_node_start(x[i]->node), 0);
    n_nodes++;
  }
  /* a deadline is armed on the loop's clock: the next self-lookup */
  assert_true(yz_dht_next_deadline(x[0]->dht) != UINT64_MAX);
  const char *boot = yz_node_address(x[0]->node, 0);
  x[1]->done = false;
  assert_int_equal(yz_dht_join(x[1]->dht, &boot, 1, on_result, x[1], NULL), 0);
  WAIT_FOR(x[1]->done);
  assert_int_equal(x[1]->status, 0);
  assert_int_equal(x[1]->n_closest, 1);
  /* x[2] knows x[1] only from its record */
  size_t rl;
  const uint8_t *r1 = yz_dht_own_record(x[1]->dht, &rl);
  assert_int_equal(yz_dht_add_contact(x[2]->dht, r1, rl), 0);
  WAIT_FOR(yz_dht_table_size(x[2]->dht) == 1);
  uint8_t bad[1024];
  memcpy(bad, r1, rl);
  bad[rl - 1] ^= 1;
  assert_int_not_equal(yz_dht_add_contact(x[2]->dht, bad, rl), 0);

  uint8_t rec[512], key[32];
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_IMMUTABLE;
  r.value = (const uint8_t *)"real time";
  r.value_len = 9;
  r.expiry = (uint64_t)time(NULL) + 3600;
  assert_int_equal(yz_dhtrec_derive_key(&r), 0);
  size_t len;
  assert_int_equal(yz_dhtrec_encode(&r, rec, sizeof rec, &len), 0);
  memcpy(key, r.key, 32);
  x[2]->done = false;
  assert_int_equal(
      yz_dht_put(x[2]->dht, rec, len, NULL, on_result, x[2], NULL), 0);
  WAIT_FOR(x[2]->done);
  assert_int_equal(x[2]->status, 0);
  assert_true(x[2]->stored >= 2);
  x[0]->done = false;
  yz_dht_op_opts o = {0};
  assert_int_equal(yz_dht_get(x[0]->dht, key, &o, on_result, x[0], NULL), 0);
  WAIT_FOR(x[0]->done);
  assert_int_equal(x[0]->status, 0);
  /* a stop with an operation pending: it ends with YZ_E_CLOSED */
  x[1]->done = false;
  yz_node_id far;
  memset(&far, 0xff, sizeof far);
  assert_int_equal(
      yz_dht_find_node(x[1]->dht, &far, NULL, on_result, x[1], NULL), 0);
  kill_node(x[1]);
  assert_true(x[1]->done);
  assert_int_equal(x[1]->status, YZ_E_CLOSED);
  teardown_net();
}

/* Configuration: ranges refused with YZ_E_INVAL, alpha never above a
 * small k, a bad address refused, one DHT per node. */
static void test_config(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  struct tn *x = add_node(NULL, true);
  yz_dht *d = NULL;
  yz_dht_config dc;
  yz_dht_config_default(&dc);
  dc.k = YZ_DHT_MSG_CONTACTS_CAP + 1;
  assert_int_equal(yz_dht_new(&d, x->node, &dc), YZ_E_INVAL);
  yz_dht_config_default(&dc);
  dc.rpc_timeout_min_ms = 6000;
  assert_int_equal(yz_dht_new(&d, x->node, &dc), YZ_E_INVAL);
  /* one DHT per node */
  assert_int_equal(yz_dht_new(&d, x->node, NULL), YZ_E_STATE);
  /* a node without one yet */
  struct tn *y = &t[n_nodes];
  memset(y, 0, sizeof *y);
  cfg_node(y, 0x44, NULL, true);
  n_nodes++;
  yz_dht_config_default(&dc);
  const char *bad_addr[] = {"http://10.1.1.1:80/"};
  dc.addresses = bad_addr;
  dc.n_addresses = 1;
  assert_int_equal(yz_dht_new(&d, y->node, &dc), YZ_E_INVAL);
  assert_null(d);
  /* k 2 with alpha left at 0: alpha becomes 2, not the default 3 */
  yz_dht_config_default(&dc);
  dc.k = 2;
  dc.alpha = 0;
  dc.unix_time = vunix;
  assert_int_equal(yz_dht_new(&y->dht, y->node, &dc), 0);
  assert_non_null(y->dht);
  assert_int_equal(y->dht->cfg.alpha, 2);
  /* put_spread over k counts as k */
  assert_int_equal(y->dht->cfg.put_spread, 2);
  teardown_net();
}

/* The verified-records cache: a hit needs the exact bytes, the node
 * expected and an unexpired record; a tampered copy is verified (and
 * refused). */
static void test_contact_cache(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  yz_dht_config dc;
  base_cfg(&dc);
  dc.record_lifetime_s = 100;
  struct tn *a = add_node(&dc, true), *b = add_node(&dc, true);
  size_t len;
  const uint8_t *rb = yz_dht_own_record(b->dht, &len);
  uint8_t copy[1024];
  memcpy(copy, rb, len);
  yz_dht_bytes c = {copy, len};
  yz_record r;
  const char *why = NULL;
  for (int i = 0; i < 2; i++) { /* a miss, then a hit */
    assert_int_equal(yz__dht_verify_contact(a->dht, &c, NULL, &r, &why), 0);
    assert_true(yz_node_id_equal(&r.node_id, yz_node_get_id(b->node)));
    assert_int_equal(
        yz__dht_verify_contact(a->dht, &c, yz_node_get_id(a->node), &r, &why),
        YZ_E_PEER_ID_MISMATCH);
  }
  copy[len - 1] ^= 1; /* in the signature */
  assert_int_equal(yz__dht_verify_contact(a->dht, &c, NULL, &r, &why),
                   YZ_E_BAD_SIGNATURE);
  copy[len - 1] ^= 1;
  vclock += 101 * 1000; /* past the record's expiry */
  assert_int_equal(yz__dht_verify_contact(a->dht, &c, NULL, &r, &why),
                   YZ_E_RANGE);
  teardown_net();
}

/* A node that joins closest to a held key is handed the record by the
 * holders as it enters their tables, before any republish. */
static void test_handoff(void **state)
{
  (void)state;
  network(N);
  /* the newcomer's ID, before it exists */
  yz_identity nid;
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, (int)(n_nodes + 1), sizeof seed);
  seed[1] = (uint8_t)((n_nodes + 1) * 7);
  assert_int_equal(yz_identity_from_seed(&nid, seed), 0);
  /* a value whose key is closer to the newcomer than to any node */
  uint8_t rec[256], key[32];
  size_t len = 0;
  for (int i = 0; i < 10000 && !len; i++) {
    char v[32];
    snprintf(v, sizeof v, "handed %d", i);
    size_t l = immutable(rec, sizeof rec, v, key);
    yz_node_id best;
    assert_int_equal(true_closest(key, &best, 1, NULL), 1);
    int c = 0;
    for (size_t b = 0; b < 32 && !c; b++) {
      uint8_t dn = nid.id.bytes[b] ^ key[b], db = best.bytes[b] ^ key[b];
      c = dn < db ? -1 : dn > db ? 1 : 0;
    }
    if (c < 0)
      len = l;
  }
  const yz_node_id want_id = nid.id;
  yz_identity_clear(&nid);
  assert_true(len > 0);
  put(&t[3], rec, len, NULL);
  assert_true(t[3].stored >= K - 1);
  struct tn *x = add_node(NULL, true);
  assert_true(yz_node_id_equal(yz_node_get_id(x->node), &want_id));
  join(x);
  VWAIT(x->done);
  assert_int_equal(x->status, 0);
  yz_dht_stats st;
  VWAIT((yz_dht_get_stats(x->dht, &st), st.records == 1));
  for (size_t i = 0; i < n_nodes; i++) {
    yz_dht_get_stats(t[i].dht, &st);
    assert_int_equal(st.republished, 0);
  }
  teardown_net();
}

/* ---- spread (docs/dht.md "Spread") ------------------------------------ */

/* The node of t[] with this ID. */
static struct tn *node_of(const yz_node_id *id)
{
  for (size_t i = 0; i < n_nodes; i++)
    if (yz_node_id_equal(yz_node_get_id(t[i].node), id))
      return &t[i];
  return NULL;
}

/* Is a closer to target than b (XOR)? */
static bool id_closer(const uint8_t *target, const yz_node_id *a,
                      const yz_node_id *b)
{
  for (size_t i = 0; i < YZ_NODE_ID_LEN; i++) {
    uint8_t da = a->bytes[i] ^ target[i], db = b->bytes[i] ^ target[i];
    if (da != db)
      return da < db;
  }
  return false;
}

/* The stats of every live node, summed. */
static void stats_sum(yz_dht_stats *s)
{
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < n_nodes; i++) {
    if (t[i].dead)
      continue;
    yz_dht_stats x;
    yz_dht_get_stats(t[i].dht, &x);
    s->requests_in += x.requests_in;
    s->dials += x.dials;
    s->spread_sent += x.spread_sent;
    s->spread_in += x.spread_in;
    s->spread_waves += x.spread_waves;
    s->spread_forwards += x.spread_forwards;
    s->spread_no_link += x.spread_no_link;
  }
}

static void put_msg(yz_dht_msg *m, const uint8_t *key, const uint8_t *rec,
                    size_t len, bool spread)
{
  yz_dht_msg_init(m, YZ_DHT_PUT);
  memcpy(m->target, key, 32);
  m->has_record = true;
  m->record = (yz_dht_bytes){rec, len};
  m->spread = spread;
}

/* A member of h's table that is not among the k closest to key (the
 * sender of the PUTs the tests hand h: a known server, so no HELLO). */
static const yz_node_id *far_member(struct tn *h, const uint8_t *key)
{
  static yz_node_id all[MAX_NODES];
  yz_node_id kt;
  memcpy(kt.bytes, key, 32);
  size_t n = yz_dht_table_closest(h->dht, &kt, all, MAX_NODES);
  assert_true(n > K);
  return &all[n - 1];
}

/* A PUT with spread at the node closest to the key: it stores the record
 * and passes it, in one PUT each without spread, to the members of its
 * table among the k - 1 closest to the key that it has a link to, and to
 * no other; none of them is dialled, none of them passes it on (one wave,
 * counted in messages); the sender's answer is the store's own status. */
static void test_spread_wave(void **state)
{
  (void)state;
  network(N);
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "spread wave", key);
  yz_node_id truth[K];
  assert_int_equal(true_closest(key, truth, K, NULL), K);
  struct tn *h = node_of(&truth[0]);
  assert_non_null(h);
  const yz_node_id *from = far_member(h, key);
  yz_node_id kt, near[K];
  memcpy(kt.bytes, key, 32);
  size_t nn = yz_dht_table_closest(h->dht, &kt, near, K - 1);
  assert_int_equal(nn, K - 1);
  bool linked[K] = {false};
  size_t n_linked = 0;
  for (size_t i = 0; i < nn; i++) {
    linked[i] = yz_node_peer_is_up(h->node, &near[i]);
    n_linked += linked[i];
  }
  /* the neighbourhood keeps its links (docs/dht.md "Links") */
  assert_true(n_linked >= K / 2);
  yz_dht_stats all0, h0;
  stats_sum(&all0);
  yz_dht_get_stats(h->dht, &h0);

  yz_dht_msg m, ans;
  put_msg(&m, key, rec, len, true);
  ask(h, from, &m, &ans);
  assert_int_equal(ans.type, YZ_DHT_STATUS);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_stats h1;
  yz_dht_get_stats(h->dht, &h1);
  assert_int_equal(h1.spread_in - h0.spread_in, 1);
  assert_int_equal(h1.spread_waves - h0.spread_waves, 1);
  assert_int_equal(h1.spread_forwards - h0.spread_forwards, n_linked);
  assert_int_equal(h1.spread_no_link - h0.spread_no_link, nn - n_linked);
  /* every forward answered */
  VWAIT((yz_dht_get_stats(h->dht, &h1),
         h1.answers_in + h1.request_failures >=
             h0.answers_in + h0.request_failures + n_linked));
  for (size_t i = 0; i < nn; i++) {
    struct tn *x = node_of(&near[i]);
    assert_non_null(x);
    bool holds =
        yz__dht_store_get(x->dht->store, key, UNIX0 + vclock / 1000) != NULL;
    assert_int_equal(holds, linked[i]);
  }
  assert_true(holders_of(key, NULL) == n_linked + 1);
  yz_dht_stats all1;
  stats_sum(&all1);
  /* nobody dialled anybody for it; h's wave was the only one, and every
   * PUT with spread was the one h was handed */
  assert_int_equal(all1.dials, all0.dials);
  assert_int_equal(all1.spread_in - all0.spread_in, 1);
  assert_int_equal(all1.spread_waves - all0.spread_waves, 1);
  assert_int_equal(all1.spread_forwards - all0.spread_forwards, n_linked);
  /* the requests the network received: the PUT handed to h and the
   * forwards (the receivers know h: no HELLO) */
  assert_int_equal(all1.requests_in - all0.requests_in, 1 + n_linked);

  /* A node that holds the record from h's wave (without spread) and is
   * then handed it with spread has not passed it on yet: it does, once;
   * handed it again, it does not. */
  size_t xi = 0;
  while (xi < nn && !linked[xi])
    xi++;
  assert_true(xi < nn);
  struct tn *x = node_of(&near[xi]);
  yz_dht_stats x0, x1;
  yz_dht_get_stats(x->dht, &x0);
  ask(x, far_member(x, key), &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  ask(x, far_member(x, key), &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(x->dht, &x1);
  assert_int_equal(x1.spread_in - x0.spread_in, 2);
  assert_int_equal(x1.spread_waves - x0.spread_waves, 1);
  assert_int_equal(x1.spread_held - x0.spread_held, 1);
  assert_true(x1.spread_forwards - x0.spread_forwards >= 1);
  teardown_net();
}

/* No wave where none is due: at a node with k members of its table
 * closer to the key, for a record held already (the same record again,
 * immutable or mutable), from a client-only sender. A newer mutable record
 * is spread again. */
static void test_spread_not_due(void **state)
{
  (void)state;
  network(N);
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "spread not due", key);
  yz_node_id truth[N];
  assert_int_equal(true_closest(key, truth, N, NULL), N);
  yz_node_id kt;
  memcpy(kt.bytes, key, 32);
  yz_dht_msg m, ans;
  yz_dht_stats s0, s1, all0, all1;

  /* the farthest node: its table has k members closer to the key */
  struct tn *f = node_of(&truth[N - 1]);
  yz_node_id fnear[K];
  assert_int_equal(yz_dht_table_closest(f->dht, &kt, fnear, K), K);
  for (size_t i = 0; i < K; i++)
    assert_true(id_closer(key, &fnear[i], yz_node_get_id(f->node)));
  stats_sum(&all0);
  yz_dht_get_stats(f->dht, &s0);
  put_msg(&m, key, rec, len, true);
  ask(f, far_member(f, key), &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(f->dht, &s1);
  assert_int_equal(s1.spread_in - s0.spread_in, 1);
  assert_int_equal(s1.spread_not_close - s0.spread_not_close, 1);
  assert_int_equal(s1.spread_waves, s0.spread_waves);
  assert_int_equal(s1.requests_out, s0.requests_out);

  /* the closest node, handed the record twice: one wave */
  struct tn *h = node_of(&truth[0]);
  const yz_node_id *from = far_member(h, key);
  yz_dht_get_stats(h->dht, &s0);
  ask(h, from, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  ask(h, from, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(h->dht, &s1);
  assert_int_equal(s1.spread_in - s0.spread_in, 2);
  assert_int_equal(s1.spread_waves - s0.spread_waves, 1);
  assert_int_equal(s1.spread_held - s0.spread_held, 1);
  uint64_t wave = s1.spread_forwards - s0.spread_forwards;
  assert_true(wave >= K / 2);
  /* a later expiry (BEP 44's refresh) is the record held too */
  vclock += 2000;
  uint8_t rec2[512], key2[32];
  size_t len2 = immutable(rec2, sizeof rec2, "spread not due", key2);
  assert_memory_equal(key2, key, 32);
  assert_memory_not_equal(rec2, rec, YZ__MIN(len, len2));
  put_msg(&m, key, rec2, len2, true);
  ask(h, from, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(h->dht, &s1);
  assert_int_equal(s1.spread_held - s0.spread_held, 2);
  assert_int_equal(s1.spread_forwards - s0.spread_forwards, wave);

  /* a client-only sender: stored, not spread */
  uint8_t rc[512], kc[32];
  size_t lc = immutable(rc, sizeof rc, "spread by a client", kc);
  yz_node_id ct[1];
  assert_int_equal(true_closest(kc, ct, 1, NULL), 1);
  struct tn *hc = node_of(&ct[0]);
  yz_dht_get_stats(hc->dht, &s0);
  put_msg(&m, kc, rc, lc, true);
  m.client_only = true;
  yz_node_id stranger;
  memset(&stranger, 0xee, sizeof stranger);
  ask(hc, &stranger, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(hc->dht, &s1);
  assert_int_equal(s1.spread_client - s0.spread_client, 1);
  assert_int_equal(s1.spread_waves, s0.spread_waves);
  assert_int_equal(s1.requests_out, s0.requests_out);

  /* mutable: seq 1 spreads, seq 1 again does not, seq 2 does */
  uint8_t r1[512], r2[512], km[32];
  size_t l1 = mutable_rec(r1, sizeof r1, &t[5].id, 1, "one", km);
  size_t l2 = mutable_rec(r2, sizeof r2, &t[5].id, 2, "two", km);
  yz_node_id mt[1];
  assert_int_equal(true_closest(km, mt, 1, NULL), 1);
  struct tn *hm = node_of(&mt[0]);
  const yz_node_id *fm = far_member(hm, km);
  yz_dht_get_stats(hm->dht, &s0);
  put_msg(&m, km, r1, l1, true);
  ask(hm, fm, &m, &ans);
  ask(hm, fm, &m, &ans);
  put_msg(&m, km, r2, l2, true);
  ask(hm, fm, &m, &ans);
  assert_int_equal(ans.status, YZ_DHT_OK);
  yz_dht_get_stats(hm->dht, &s1);
  assert_int_equal(s1.spread_waves - s0.spread_waves, 2);
  assert_int_equal(s1.spread_held - s0.spread_held, 1);

  /* let every forward land: none of them made a wave of its own */
  VWAIT((stats_sum(&all1), all1.spread_in - all0.spread_in == 8 &&
                               holders_of(km, NULL) > K / 2));
  advance(1000, 100);
  stats_sum(&all1);
  assert_int_equal(all1.spread_in - all0.spread_in, 8);
  assert_int_equal(all1.spread_waves - all0.spread_waves, 3);
  teardown_net();
}

static unsigned on_store_calls[MAX_NODES];

static void count_store(yz_dht *d, const uint8_t *key, const uint8_t *rec,
                        size_t len, void *arg)
{
  (void)d;
  (void)key;
  assert_true(len > 0 && rec);
  on_store_calls[(struct tn *)arg - t]++;
}

/* The writer flags up to put_spread stores (default 3) to answerers close
 * to the key by their own table, and its first put_spread stores from
 * the last step on; the record reaches the k closest; put_spread 0 flags
 * none. on_store tells each holder once, not for the same record again,
 * and no node passes one version on twice, however often it is put. */
static void test_spread_writer(void **state)
{
  (void)state;
  network(N);
  memset(on_store_calls, 0, sizeof on_store_calls);
  for (size_t i = 0; i < n_nodes; i++) {
    t[i].dht->cfg.on_store = count_store;
    t[i].dht->cfg.on_store_arg = &t[i];
  }
  struct tn *x = &t[4];
  assert_int_equal(x->dht->cfg.put_spread, 3);
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "spread by the writer", key);
  yz_dht_stats w0, w1, all0, all1;
  static uint64_t waves0[MAX_NODES];
  for (size_t i = 0; i < n_nodes; i++) {
    yz_dht_stats st;
    yz_dht_get_stats(t[i].dht, &st);
    waves0[i] = st.spread_waves;
  }
  yz_dht_get_stats(x->dht, &w0);
  stats_sum(&all0);
  put(x, rec, len, NULL);
  assert_int_equal(x->status, 0);
  assert_true(x->stored >= K - 1);
  yz_dht_get_stats(x->dht, &w1);
  uint64_t near = w1.spread_sent_near - w0.spread_sent_near;
  assert_true(near <= 3);
  assert_int_equal(w1.spread_sent - w0.spread_sent - near, 3);
  advance(1000, 100);
  stats_sum(&all1);
  assert_int_equal(all1.spread_in - all0.spread_in, 3 + near);
  assert_true(all1.spread_waves - all0.spread_waves <= 3 + near);
  assert_true(all1.spread_waves - all0.spread_waves >= 1);
  yz_node_id truth[K];
  assert_int_equal(true_closest(key, truth, K, NULL), K);
  for (size_t i = 0; i < K; i++) {
    struct tn *h = node_of(&truth[i]);
    assert_non_null(yz__dht_store_get(h->dht->store, key,
                                      UNIX0 + vclock / 1000));
  }
  size_t holders = holders_of(key, NULL), calls = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    assert_true(on_store_calls[i] <= 1);
    calls += on_store_calls[i];
  }
  assert_int_equal(calls, holders);
  /* the same record again: held everywhere, no event; a wave only from
   * a node that had not passed it on, none from one that had */
  stats_sum(&all0);
  put(x, rec, len, NULL);
  advance(1000, 100);
  stats_sum(&all1);
  size_t calls2 = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    calls2 += on_store_calls[i];
    yz_dht_stats st;
    yz_dht_get_stats(t[i].dht, &st);
    assert_true(st.spread_waves - waves0[i] <= 1);
  }
  assert_int_equal(calls2, calls);

  /* put_spread 0: no store flagged, nothing spread */
  x->dht->cfg.put_spread = 0;
  len = immutable(rec, sizeof rec, "not spread", key);
  stats_sum(&all0);
  put(x, rec, len, NULL);
  assert_int_equal(x->status, 0);
  advance(1000, 100);
  stats_sum(&all1);
  assert_int_equal(all1.spread_sent, all0.spread_sent);
  assert_int_equal(all1.spread_in, all0.spread_in);
  assert_int_equal(all1.spread_forwards, all0.spread_forwards);
  teardown_net();
}

/* A node of a version before spread: a PUT with key 12 is MALFORMED. */
static void predates_spread(yz_node *n, const yz_node_incoming *req,
                            const uint8_t *data, size_t len, void *ud)
{
  yz_dht *d = ud;
  static yz_dht_msg m; /* large: not on the stack */
  if (yz_dht_msg_decode(&m, data, len, &d->lim, NULL) == 0 && m.spread) {
    yz_dht_msg a;
    yz_dht_msg_init(&a, YZ_DHT_STATUS);
    a.status = YZ_DHT_ST_MALFORMED;
    uint8_t out[64];
    size_t ol;
    assert_int_equal(yz_dht_msg_encode(&a, NULL, out, sizeof out, &ol, NULL),
                     0);
    (void)yz_node_respond(n, req, out, ol);
    return;
  }
  size_t cap = yz__dht_answer_max(d), outlen = 0;
  uint8_t *out = malloc(cap);
  assert_non_null(out);
  if (yz__dht_handle_request(d, &req->from, data, len, out, cap, &outlen) == 0)
    (void)yz_node_respond(n, req, out, outlen);
  free(out);
}

/* Every store flagged (put_spread = k), the closest node refusing the key:
 * the writer stores there all the same, with the PUT sent again without
 * spread, and reports no refusal. */
static void test_spread_predates(void **state)
{
  (void)state;
  network(N);
  struct tn *x = &t[6];
  x->dht->cfg.put_spread = K;
  uint8_t rec[512], key[32];
  size_t len = immutable(rec, sizeof rec, "to an older node", key);
  yz_node_id truth[1];
  assert_int_equal(true_closest(key, truth, 1, yz_node_get_id(x->node)), 1);
  struct tn *old = node_of(&truth[0]);
  const yz_node_protocol p = {NULL, predates_spread};
  assert_int_equal(yz_node_register(old->node, YZ_DHT_PROTO, &p, old->dht),
                   0);
  yz_dht_stats w0, w1, o0, o1;
  yz_dht_get_stats(x->dht, &w0);
  yz_dht_get_stats(old->dht, &o0);
  put(x, rec, len, NULL);
  assert_int_equal(x->status, 0);
  assert_int_equal(x->refusal, 0);
  assert_int_equal(x->stored, x->asked);
  yz_dht_get_stats(x->dht, &w1);
  yz_dht_get_stats(old->dht, &o1);
  /* every store of the final k flagged, the one to the old node resent */
  assert_true(w1.spread_sent - w0.spread_sent >= K - 1);
  assert_int_equal(o1.spread_in, o0.spread_in);
  assert_non_null(
      yz__dht_store_get(old->dht->store, key, UNIX0 + vclock / 1000));
  teardown_net();
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_log_set_level(YZ_LOG_ERR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_find),
      cmocka_unit_test(test_put_get),
      cmocka_unit_test(test_stale_corrected),
      cmocka_unit_test(test_providers),
      cmocka_unit_test(test_client_only),
      cmocka_unit_test(test_garbage_survived),
      cmocka_unit_test(test_stalled_requests),
      cmocka_unit_test(test_put_early),
      cmocka_unit_test(test_protected_members),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_survive_kill),
      cmocka_unit_test(test_serving),
      cmocka_unit_test(test_maintenance),
      cmocka_unit_test(test_real_time),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_contact_cache),
      cmocka_unit_test(test_handoff),
      cmocka_unit_test(test_spread_wave),
      cmocka_unit_test(test_spread_not_due),
      cmocka_unit_test(test_spread_writer),
      cmocka_unit_test(test_spread_predates),
  };
  return cmocka_run_group_tests_name("the DHT on the in-memory network", tests,
                                     NULL, NULL);
}
