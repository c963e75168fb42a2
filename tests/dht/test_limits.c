/*
 * The DHT engine's fixed bounds (src/dht/dht_priv.h, docs/dht.md "Fixed
 * bounds"), each driven to its limit and one step beyond:
 *   YZ__DHT_DIALBACKS_MAX  dial-backs in flight: the next admission waits
 *                          (no dial) until one ends;
 *   YZ__DHT_RING           the "once" memories of dialled-back node IDs
 *                          and of queriers sent an unasked HELLO: a node
 *                          is not dialled back (sent one) twice until 64
 *                          others were, then it is forgotten, oldest
 *                          first;
 *   YZ__DHT_DIAL_WAITERS   lookups waiting for one dial: one more is
 *                          refused with YZ_E_LIMIT (the lookup counts that
 *                          candidate failed);
 *   YZ__DHT_HANDOFF_MAX    records handed to a node that enters the table
 *                          among the closest: the rest wait for republish.
 * One DHT node on the in-memory network under virtual time; the other
 * nodes are node records signed by identities made here, whose addresses
 * nobody listens at (a dial fails from the loop), or a bare node that
 * counts the DHT requests it gets. Deterministic: the loop runs until a
 * condition holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_priv.h"
#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/record.h"

enum { STRANGERS = YZ__DHT_DIALBACKS_MAX + YZ__DHT_RING + 4 };
static const char NET[] = "dht-limits";

static uv_loop_t loop;
static yz_link_memnet *net;
#include "../common/vnet.h"

/* Run the loop until cond holds; fail after a bound on iterations (each
 * one handles at least one event, so a condition that never comes ends
 * the test instead of hanging it). */
#define RUN_UNTIL(cond)                                                       \
  do {                                                                        \
    for (int i_ = 0; !(cond); i_++) {                                         \
      if (i_ > 100000)                                                        \
        fail_msg("never came: %s", #cond);                                    \
      uv_run(&loop, UV_RUN_NOWAIT);                                           \
    }                                                                         \
  } while (0)

/* A node ID and its signed node record at an address nobody serves. */
struct stranger {
  yz_identity id;
  uint8_t rec[YZ_RECORD_MAX_LEN];
  size_t rec_len;
};
static struct stranger s[STRANGERS];

static void make_identity(yz_identity *id, unsigned i)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0x5a, sizeof seed);
  seed[0] = (uint8_t)i;
  seed[1] = (uint8_t)(i >> 8);
  assert_int_equal(yz_identity_from_seed(id, seed), 0);
}

static void make_record(const yz_identity *id, const char *url, uint8_t *out,
                        size_t *len)
{
  yz_record r;
  memset(&r, 0, sizeof r);
  assert_int_equal(yz_record_set_network(&r, NET), 0);
  assert_int_equal(yz_record_add_address(&r, url, YZ_WIRE_CLIENT_WS, NULL),
                   0);
  r.seq = 1;
  r.expiry = UNIX0 + 86400;
  r.node_type = YZ_WIRE_NODE_COMMUNITY;
  assert_int_equal(yz_record_sign(&r, id, NULL), 0);
  assert_int_equal(yz_record_encode(&r, out, YZ_RECORD_MAX_LEN, len), 0);
}

static const yz_node_id *sid(unsigned i)
{
  return yz_identity_node_id(&s[i].id);
}

/* The node under test, with its DHT; a second node if a test has one
 * (stopped by the teardown, also after a failed check). */
static yz_identity me, peer_id;
static yz_node *node, *peer;
static yz_dht *dht;
/* Bare nodes (no DHT) linked to the node under test. */
enum { BARE = YZ__DHT_RING + 1 };
static yz_identity bare_id[BARE];
static yz_node *bare[BARE];

static void node_new(yz_identity *id, unsigned i, const char *listen,
                     yz_node **out)
{
  make_identity(id, 1000 + i);
  yz_node_config nc;
  vnet_node_config(&nc, id, net, NET);
  assert_int_equal(yz_node_new(out, &loop, &nc), 0);
  yz_link_listen_config lc = {.url = listen};
  assert_int_equal(yz_node_listen(*out, &lc), 0);
  assert_int_equal(yz_node_start(*out), 0);
}

static int setup(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  node_new(&me, 0, "ws://10.70.0.1:7700", &node);
  yz_dht_config dc;
  yz_dht_config_default(&dc);
  dc.unix_time = vunix;
  dc.store_records_max = 2 * YZ__DHT_HANDOFF_MAX;
  assert_int_equal(yz_dht_new(&dht, node, &dc), 0);
  for (unsigned i = 0; i < STRANGERS; i++) {
    char url[64];
    make_identity(&s[i].id, i);
    snprintf(url, sizeof url, "ws://10.71.%u.%u:7700/", i / 200, i % 200 + 1);
    make_record(&s[i].id, url, s[i].rec, &s[i].rec_len);
  }
  return 0;
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  *(bool *)arg = true;
}

static void on_node_stopped(yz_node *n, void *arg)
{
  (void)n;
  *(bool *)arg = true;
}

static void node_stop(yz_node *n)
{
  bool done = false;
  yz_node_stop(n, on_node_stopped, &done);
  RUN_UNTIL(done);
  yz_node_free(n);
}

static int teardown(void **state)
{
  (void)state;
  bool done = false;
  yz_dht_stop(dht, on_dht_stopped, &done);
  RUN_UNTIL(done);
  yz_dht_free(dht);
  node_stop(node);
  if (peer != NULL)
    node_stop(peer);
  peer = NULL;
  for (unsigned i = 0; i < BARE; i++) {
    if (bare[i] != NULL)
      node_stop(bare[i]);
    bare[i] = NULL;
    yz_identity_clear(&bare_id[i]);
  }
  yz_identity_clear(&me);
  yz_identity_clear(&peer_id);
  for (unsigned i = 0; i < STRANGERS; i++)
    yz_identity_clear(&s[i].id);
  yz_link_memnet_free(net);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

/* Stranger i says HELLO with its record, as if over a link it dialled. */
static void hello_from(unsigned i)
{
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.provider = (yz_dht_bytes){s[i].rec, s[i].rec_len};
  uint8_t req[YZ_RECORD_MAX_LEN + 64];
  size_t rl;
  assert_int_equal(
      yz_dht_msg_encode(&m, &dht->lim, req, sizeof req, &rl, NULL), 0);
  uint8_t *out = malloc(yz__dht_answer_max(dht));
  assert_non_null(out);
  size_t ol;
  int rc = yz__dht_handle_request(dht, sid(i), req, rl, out,
                                  yz__dht_answer_max(dht), &ol);
  yz_dht_msg a;
  int drc = rc == 0 ? yz_dht_msg_decode(&a, out, ol, &dht->lim, NULL) : -1;
  free(out);
  assert_int_equal(rc, 0);
  assert_int_equal(drc, 0);
  assert_int_equal(a.type, YZ_DHT_HELLO_RESP);
}

/* ---- dial-backs in flight, and the once-ring ---- */

static void test_dialbacks_and_ring(void **state)
{
  (void)state;
  const unsigned MAX = YZ__DHT_DIALBACKS_MAX;
  /* MAX + 2 strangers say HELLO: MAX are dialled back, the rest wait. */
  for (unsigned i = 0; i < MAX + 2; i++)
    hello_from(i);
  assert_int_equal(dht->n_dialbacks, MAX);
  assert_int_equal(dht->n_dials, MAX);
  for (unsigned i = 0; i < MAX; i++)
    assert_true(yz__dht_dialling(dht, sid(i)));
  assert_false(yz__dht_dialling(dht, sid(MAX)));
  assert_false(yz__dht_dialling(dht, sid(MAX + 1)));
  /* Refused without being remembered: they get their dial back when a
   * slot is free and they speak again. */
  assert_int_equal(dht->dialled_back.n, MAX);

  /* The dials fail (nobody listens): the slots are free again. */
  RUN_UNTIL(dht->n_dials == 0);
  assert_int_equal(dht->n_dialbacks, 0);
  assert_int_equal(yz__dht_rt_find(&dht->rt, sid(0)) != NULL, false);
  hello_from(MAX);
  hello_from(MAX + 1);
  assert_true(yz__dht_dialling(dht, sid(MAX)));
  assert_true(yz__dht_dialling(dht, sid(MAX + 1)));
  /* Once: stranger 0 failed its dial back; its next HELLO costs no dial. */
  hello_from(0);
  assert_false(yz__dht_dialling(dht, sid(0)));
  RUN_UNTIL(dht->n_dials == 0);

  /* The ring holds YZ__DHT_RING node IDs: once that many others were
   * dialled back after stranger 0, it is forgotten (the oldest first)
   * and dialled back again. MAX + 2 are remembered so far. */
  unsigned next = MAX + 2;
  while (next < YZ__DHT_RING + 1) {
    for (unsigned j = 0; j < MAX && next < YZ__DHT_RING + 1; j++)
      hello_from(next++);
    RUN_UNTIL(dht->n_dials == 0);
  }
  assert_int_equal(dht->dialled_back.n, YZ__DHT_RING);
  /* 65 remembered in a ring of 64: stranger 0 was the one dropped, 1 is
   * still there. */
  hello_from(1);
  assert_false(yz__dht_dialling(dht, sid(1)));
  hello_from(0);
  assert_true(yz__dht_dialling(dht, sid(0)));
  assert_int_equal(dht->dialled_back.n, YZ__DHT_RING);
  RUN_UNTIL(dht->n_dials == 0);
}

/* ---- dial-backs skipped for nodes we reached lately ---- */

/* A node we dialled within YZ__DHT_REACHED_MS (the handshake proved it
 * reachable at its record's address) enters the table when it says HELLO
 * over a link it dialled, without a dial back; a failed dial proves
 * nothing, so the next one is dialled back as before. */
static void test_reached_no_dialback(void **state)
{
  (void)state;
  yz_dht_stats st0, st1;
  yz_dht_get_stats(dht, &st0);
  /* a dial back that fails (nobody listens) does not count as reached */
  hello_from(0);
  assert_true(yz__dht_dialling(dht, sid(0)));
  RUN_UNTIL(dht->n_dials == 0);
  assert_int_equal(dht->reached.n, 0);
  assert_null(yz__dht_rt_find(&dht->rt, sid(0)));
  /* stranger 1 was dialled (and came up) just now */
  dht->reached.ids[0] = *sid(1);
  dht->reached.at[0] = yz__dht_now(dht);
  dht->reached.n = 1;
  dht->reached.next = 1;
  hello_from(1);
  assert_false(yz__dht_dialling(dht, sid(1)));
  assert_int_equal(dht->n_dials, 0);
  assert_non_null(yz__dht_rt_find(&dht->rt, sid(1)));
  yz_dht_get_stats(dht, &st1);
  assert_int_equal(st1.dial_backs - st0.dial_backs, 1); /* stranger 0 */
  assert_int_equal(st1.dial_backs_skipped - st0.dial_backs_skipped, 1);
  assert_int_equal(st1.dials - st0.dials, 1);
}

/* ---- the closest candidates are asked at once ---- */

static void dialled(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg);

static void hold(yz_node *n, const yz_node_incoming *req, const uint8_t *data,
                 size_t len, void *ud)
{
  (void)n;
  (void)req;
  (void)data;
  (void)len;
  (void)ud; /* never answered */
}

static void lookup_cb(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  (void)r;
  (void)arg;
}

/* The alpha closest candidates of a lookup's window are asked at once,
 * even when alpha requests to farther candidates whose links are up hold
 * every slot (docs/dht.md "Lookups"): a dial to the closest is not left
 * to wait for a slot. Here 3 linked table members never answer and the
 * target's own node, a table member without a link, is dialled at once. */
static void test_closest_asked_at_once(void **state)
{
  (void)state;
  /* (the in-memory links' addresses are all one subnet) */
  dht->rt.cfg.subnet_per_bucket = 0;
  dht->rt.cfg.subnet_per_table = 0;
  int up[3];
  for (unsigned i = 0; i < 3; i++) {
    char url[64];
    snprintf(url, sizeof url, "ws://10.74.0.%u:7700", i + 1);
    node_new(&bare_id[i], 200 + i, url, &bare[i]);
    const yz_node_protocol p = {NULL, hold};
    assert_int_equal(yz_node_register(bare[i], YZ_DHT_PROTO, &p, NULL), 0);
    up[i] = 0;
    assert_int_equal(yz_node_dial_with(node, yz_node_address(bare[i], 0),
                                       NULL, dialled, &up[i]),
                     0);
  }
  for (unsigned i = 0; i < 3; i++) {
    RUN_UNTIL(up[i] != 0);
    assert_int_equal(up[i], 1);
    uint8_t rec[YZ_RECORD_MAX_LEN];
    size_t rec_len;
    char url[64];
    snprintf(url, sizeof url, "ws://10.74.0.%u:7700/", i + 1);
    make_record(&bare_id[i], url, rec, &rec_len);
    yz__dht_consider(dht, yz_identity_node_id(&bare_id[i]), rec, rec_len, 1);
    assert_non_null(
        yz__dht_rt_find(&dht->rt, yz_identity_node_id(&bare_id[i])));
  }
  yz__dht_peer p;
  memset(&p, 0, sizeof p);
  p.id = *sid(0);
  p.record = s[0].rec;
  p.record_len = s[0].rec_len;
  assert_int_equal(yz__dht_rt_seen(&dht->rt, &p, yz__dht_now(dht), 0),
                   YZ__DHT_ADDED);
  assert_false(yz_node_peer_is_up(node, sid(0)));
  uint64_t op;
  assert_int_equal(yz_dht_find_node(dht, sid(0), NULL, lookup_cb, NULL, &op),
                   0);
  assert_true(yz__dht_dialling(dht, sid(0)));
  assert_int_equal(yz_dht_cancel(dht, op), 0);
  RUN_UNTIL(dht->n_dials == 0);
}

/* ---- unasked HELLOs to queriers: the other once-ring ---- */

static void dialled(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg);

/* Bare node i asks the node under test a FIND_NODE (it sent no HELLO,
 * so the node knows no record of it). */
static void find_node_from(unsigned i)
{
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  memset(m.target, 0x11, sizeof m.target);
  uint8_t req[128];
  size_t rl;
  assert_int_equal(
      yz_dht_msg_encode(&m, &dht->lim, req, sizeof req, &rl, NULL), 0);
  uint8_t *out = malloc(yz__dht_answer_max(dht));
  assert_non_null(out);
  size_t ol;
  int rc = yz__dht_handle_request(dht, yz_identity_node_id(&bare_id[i]), req,
                                  rl, out, yz__dht_answer_max(dht), &ol);
  free(out);
  assert_int_equal(rc, 0);
}

static uint64_t hellos_sent(void)
{
  yz_dht_stats st;
  yz_dht_get_stats(dht, &st);
  return st.requests_out;
}

static void test_hello_ring(void **state)
{
  (void)state;
  /* BARE nodes dial the node under test; their links are up. */
  int up[BARE];
  for (unsigned i = 0; i < BARE; i++) {
    char url[64];
    snprintf(url, sizeof url, "ws://10.73.%u.%u:7700", i / 200, i % 200 + 1);
    node_new(&bare_id[i], 100 + i, url, &bare[i]);
    up[i] = 0;
    assert_int_equal(yz_node_dial_with(bare[i], yz_node_address(node, 0),
                                       NULL, dialled, &up[i]),
                     0);
  }
  for (unsigned i = 0; i < BARE; i++) {
    RUN_UNTIL(up[i] != 0 &&
              yz_node_peer_is_up(node, yz_identity_node_id(&bare_id[i])));
    assert_int_equal(up[i], 1);
  }
  /* Each querier unknown to the table is sent one HELLO (a request). */
  for (unsigned i = 0; i < BARE; i++) {
    uint64_t before = hellos_sent();
    find_node_from(i);
    assert_int_equal(hellos_sent() - before, 1);
  }
  assert_int_equal(dht->hello_asked.n, YZ__DHT_RING);
  /* Once: the last 64 are remembered, and asked no more... */
  uint64_t before = hellos_sent();
  find_node_from(BARE - 1);
  find_node_from(1);
  assert_int_equal(hellos_sent(), before);
  /* ...but the first, the oldest, was forgotten: asked again. */
  find_node_from(0);
  assert_int_equal(hellos_sent(), before + 1);
  assert_int_equal(dht->hello_asked.n, YZ__DHT_RING);
}

/* ---- lookups waiting for one dial ---- */

static void test_dial_waiters(void **state)
{
  (void)state;
  /* Operation ids no lookup has: the dial's end tells nobody. */
  for (uint64_t op = 1; op <= YZ__DHT_DIAL_WAITERS; op++)
    assert_int_equal(yz__dht_dial(dht, sid(0), s[0].rec, s[0].rec_len,
                                  YZ__DHT_DIAL_LOOKUP, op),
                     0);
  assert_int_equal(dht->n_dials, 1); /* one dial, all of them waiting */
  assert_int_equal(dht->dials->n_waiters, YZ__DHT_DIAL_WAITERS);
  /* One waiter more is refused (query() in lookup.c then counts the
   * candidate failed); joining without waiting still works. */
  assert_int_equal(yz__dht_dial(dht, sid(0), s[0].rec, s[0].rec_len,
                                YZ__DHT_DIAL_LOOKUP,
                                YZ__DHT_DIAL_WAITERS + 1),
                   YZ_E_LIMIT);
  assert_int_equal(dht->dials->n_waiters, YZ__DHT_DIAL_WAITERS);
  assert_int_equal(yz__dht_dial(dht, sid(0), s[0].rec, s[0].rec_len,
                                YZ__DHT_DIAL_ADD, 0),
                   0);
  assert_int_equal(dht->n_dials, 1);
  RUN_UNTIL(dht->n_dials == 0);
}

/* ---- records handed to a new close node ---- */

static int puts_seen, other_seen;

static void count_put(yz_node *n, const yz_node_incoming *req,
                      const uint8_t *data, size_t len, void *ud)
{
  (void)ud;
  yz_dht_msg m;
  yz_dht_msg_limits lim = {0};
  if (yz_dht_msg_decode(&m, data, len, &lim, NULL) == 0 &&
      m.type == YZ_DHT_PUT)
    puts_seen++;
  else
    other_seen++;
  (void)yz_node_respond_error(n, req, YZ_NODE_ERR_BUSY, "test");
}

static void dialled(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg)
{
  (void)n;
  (void)peer;
  (void)reason;
  *(int *)arg = status == 0 ? 1 : -1;
}

static void test_handoff(void **state)
{
  (void)state;
  /* More records than one hand-off sends. */
  const unsigned N = YZ__DHT_HANDOFF_MAX + 6;
  for (unsigned i = 0; i < N; i++) {
    yz_dhtrec r;
    memset(&r, 0, sizeof r);
    char v[32];
    int vl = snprintf(v, sizeof v, "value %u", i);
    r.kind = YZ_DHTREC_IMMUTABLE;
    r.value = (const uint8_t *)v;
    r.value_len = (size_t)vl;
    r.expiry = vunix(NULL) + 3600;
    assert_int_equal(yz_dhtrec_derive_key(&r), 0);
    uint8_t enc[128];
    size_t n;
    assert_int_equal(yz_dhtrec_encode(&r, enc, sizeof enc, &n), 0);
    assert_int_equal(yz_dht_store_local(dht, r.key, enc, n), YZ_DHT_OK);
  }
  yz_dht_stats st;
  yz_dht_get_stats(dht, &st);
  assert_int_equal(st.records, N);

  /* A bare node (no DHT) that counts the PUTs it gets; we dial it, so it
   * is reachable and enters the empty table at once: the closest to
   * every key. */
  node_new(&peer_id, 1, "ws://10.72.0.1:7700", &peer);
  const yz_node_protocol p = {NULL, count_put};
  assert_int_equal(yz_node_register(peer, YZ_DHT_PROTO, &p, NULL), 0);
  int up = 0;
  assert_int_equal(
      yz_node_dial_with(node, yz_node_address(peer, 0), NULL, dialled, &up),
      0);
  RUN_UNTIL(up != 0);
  assert_int_equal(up, 1);
  uint8_t rec[YZ_RECORD_MAX_LEN];
  size_t rec_len;
  make_record(&peer_id, "ws://10.72.0.1:7700/", rec, &rec_len);

  yz_dht_get_stats(dht, &st);
  uint64_t out0 = st.requests_out;
  yz__dht_consider(dht, yz_identity_node_id(&peer_id), rec, rec_len, 1);
  assert_non_null(yz__dht_rt_find(&dht->rt, yz_identity_node_id(&peer_id)));
  yz_dht_get_stats(dht, &st);
  /* YZ__DHT_HANDOFF_MAX of the N records went out; the others reach it
   * with the next republish (docs/dht.md "Republish"). */
  assert_int_equal(st.requests_out - out0, YZ__DHT_HANDOFF_MAX);
  RUN_UNTIL(puts_seen == YZ__DHT_HANDOFF_MAX);
  int other0 = other_seen;
  /* Nothing more comes of it. */
  for (int i = 0; i < 100; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(puts_seen, YZ__DHT_HANDOFF_MAX);
  assert_int_equal(other_seen, other0);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_log_set_level(YZ_LOG_ERR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dialbacks_and_ring, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hello_ring, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reached_no_dialback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_closest_asked_at_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_dial_waiters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handoff, setup, teardown),
  };
  return cmocka_run_group_tests_name("dht limits", tests, NULL, NULL);
}
