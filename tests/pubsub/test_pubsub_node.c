/*
 * PubSub on nodes (include/yz/pubsub.h, docs/pubsub.md "On a node"), end
 * to end on the in-memory network with virtual time, as tests/dht/
 * test_dht.c sets nodes up: nodes join a DHT from one bootstrap address,
 * subscribe, and find each other through the DHT's provider records; a
 * message reaches every subscriber exactly once; a late subscriber finds
 * the others; a publish that reaches nobody says so through its callback;
 * the survivors of a kill of 30 % keep receiving; a validator's reject
 * stops delivery and penalises the sender. Timers run only when the test
 * moves the clock; randomness is seeded: every run is the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub.h"

#define WAIT_GUARD_MS 60000
#include "../node/wait.h"

enum { N = 22, MAX_NODES = N + 4 };

static uv_loop_t loop;
static yz_link_memnet *net;
/* rng starts at 0: each test seeds it (setup) */
#define VNET_RNG_SEED 0
#define VWAIT_STEP_MS 50
#include "../common/vnet.h"

struct tn {
  yz_identity id;
  yz_node *node;
  yz_dht *dht;
  yz_pubsub *ps;
  bool dead, ps_stopped, dht_stopped, node_stopped, joined;
  int join_status;
  /* messages received, by the first byte of their data */
  unsigned got[256];
  unsigned got_total;
  uint64_t last_latency_us;
  const yz_node_id *last_from;
  bool reject_bad;
};

static struct tn t[MAX_NODES];
static size_t n_nodes;
/* tweaks of the PubSub config of the nodes made next (test_limits) */
static unsigned cfg_max_pending, cfg_max_queue, cfg_max_dials, cfg_max_records;
/* the connection policy's link cap of the nodes made next (0: off) */
static unsigned cfg_link_cap = 4;
/* PubSub heartbeat (0: default) and a client-only DHT for the next node */
static unsigned cfg_heartbeat;
static bool cfg_client_only;

/* the outcome of a publish that reached nobody */
static bool pub_done;
static yz_pubsub_publish_result pub_res;
static char pub_topic[64];

static void run_all_timers(void)
{
  for (size_t i = 0; i < n_nodes; i++) {
    if (t[i].dead)
      continue;
    yz_node_run_timers(t[i].node);
    yz_dht_run_timers(t[i].dht);
    if (t[i].ps)
      yz_pubsub_run_timers(t[i].ps);
  }
}

/* Move the virtual clock by ms in steps of 50 ms, running every timer due
 * and the loop until it is idle at each step. */
static void advance(uint64_t ms)
{
  vnet_advance(ms, 50, 100);
}

static void on_joined(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct tn *x = arg;
  x->joined = true;
  x->join_status = r->status;
}

static yz_pubsub_verdict validate(yz_pubsub *ps, const yz_pubsub_message *m,
                                  void *ud)
{
  (void)ps;
  struct tn *x = ud;
  if (x->reject_bad && m->len >= 3 && memcmp(m->data, "bad", 3) == 0)
    return YZ_PUBSUB_REJECT;
  return YZ_PUBSUB_ACCEPT;
}

static void on_msg(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps;
  struct tn *x = ud;
  assert_true(m->len > 0);
  x->got[m->data[0]]++;
  x->got_total++;
  x->last_latency_us = m->latency_us;
  assert_string_equal(m->topic, "news");
  /* signed by the publisher's node identity: author_id is its node ID */
  bool known = false;
  for (size_t i = 0; i < n_nodes; i++)
    known = known || yz_node_id_equal(&m->author_id,
                                      yz_node_get_id(t[i].node));
  assert_true(known);
}

static void on_msg_solo(yz_pubsub *ps, const yz_pubsub_message *m,
                        void *ud)
{
  (void)ps;
  struct tn *x = ud;
  x->got[m->data[0]]++;
}

static void on_pub(yz_pubsub *ps, const yz_pubsub_publish_result *r,
                   void *arg)
{
  (void)ps;
  (void)arg;
  pub_done = true;
  pub_res = *r;
  snprintf(pub_topic, sizeof pub_topic, "%s", r->topic);
  pub_res.topic = pub_topic;
  pub_res.id = NULL;
}

static struct tn *add_node(void)
{
  struct tn *x = &t[n_nodes];
  memset(x, 0, sizeof *x);
  unsigned seed_byte = (unsigned)(n_nodes + 1);
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, (int)seed_byte, sizeof seed);
  seed[1] = (uint8_t)(seed_byte * 13);
  assert_int_equal(yz_identity_from_seed(&x->id, seed), 0);
  yz_node_config nc;
  vnet_node_config(&nc, &x->id, net, "ps-test");
  /* the connection policy closes idle links beyond 4 (mesh and routing
   * peers are protected), so not every node keeps a link to every other
   * and subscribers must be found through the DHT */
  nc.link_cap = cfg_link_cap;
  nc.link_idle_ms = 1000;
  assert_int_equal(yz_node_new(&x->node, &loop, &nc), 0);
  char url[64];
  snprintf(url, sizeof url, "ws://10.%u.0.1:7700", seed_byte);
  yz_link_listen_config lc = {.url = url};
  assert_int_equal(yz_node_listen(x->node, &lc), 0);
  yz_dht_config dc;
  yz_dht_config_default(&dc);
  dc.k = 3;
  dc.client_only = cfg_client_only;
  dc.unix_time = vunix;
  dc.random = vrandom;
  assert_int_equal(yz_dht_new(&x->dht, x->node, &dc), 0);
  yz_pubsub_config pc;
  yz_pubsub_config_default(&pc);
  pc.unix_ms = vunix_ms;
  pc.random = vrandom;
  if (cfg_max_pending)
    pc.max_pending = cfg_max_pending;
  if (cfg_max_queue)
    pc.max_delivery_queue = cfg_max_queue;
  if (cfg_heartbeat)
    pc.heartbeat_ms = cfg_heartbeat;
  if (cfg_max_dials)
    pc.max_dials = cfg_max_dials;
  if (cfg_max_records)
    pc.max_records = cfg_max_records;
  assert_int_equal(yz_pubsub_new(&x->ps, x->node, x->dht, &pc), 0);
  assert_int_equal(yz_node_start(x->node), 0);
  n_nodes++;
  if (n_nodes > 1) {
    const char *boot = yz_node_address(t[0].node, 0);
    assert_int_equal(yz_dht_join(x->dht, &boot, 1, on_joined, x, NULL), 0);
    VWAIT(x->joined);
    assert_int_equal(x->join_status, 0);
  }
  return x;
}

static void network(size_t n)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  n_nodes = 0;
  rng = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i++)
    add_node();
}

static void on_ps_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  ((struct tn *)arg)->ps_stopped = true;
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
  if (!x->ps_stopped) {
    yz_pubsub_stop(x->ps, on_ps_stopped, x);
    WAIT_FOR(x->ps_stopped);
  }
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
    yz_pubsub_free(t[i].ps);
    yz_dht_free(t[i].dht);
    yz_node_free(t[i].node);
    yz_identity_clear(&t[i].id);
  }
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void subscribe(struct tn *x)
{
  assert_int_equal(yz_pubsub_subscribe(x->ps, "news", validate, on_msg, x),
                   0);
}

static void publish(struct tn *x, const char *text, size_t *reached)
{
  assert_int_equal(yz_pubsub_publish(x->ps, "news", (const uint8_t *)text,
                                     strlen(text), 0, reached, NULL, NULL,
                                     NULL),
                   0);
}

static bool all_got(char tag, unsigned want)
{
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead && t[i].ps && t[i].got[(uint8_t)tag] < want)
      return false;
  return true;
}

static void assert_exactly(char tag, unsigned want)
{
  for (size_t i = 0; i < n_nodes; i++)
    if (!t[i].dead && t[i].ps)
      assert_int_equal(t[i].got[(uint8_t)tag], want);
}

/* ---- tests ------------------------------------------------------------ */

/* 22 nodes join a DHT from one bootstrap and subscribe; one publishes;
 * every subscriber receives exactly once; a late subscriber that knows
 * only the bootstrap finds the others through the DHT; after 30 % are
 * killed the survivors keep receiving; a validator's reject stops the
 * message and penalises the peer that sent it. */
static void test_network(void **state)
{
  (void)state;
  /* no link cap here: every link stays, the meshes are what is tested */
  cfg_link_cap = 0;
  network(N);
  cfg_link_cap = 4;
  size_t reached = 0;

  for (size_t i = 0; i < N; i++)
    subscribe(&t[i]);
  /* the meshes form within a few heartbeats */
  advance(5000);
  for (size_t i = 0; i < N; i++) {
    size_t m = yz_pubsub_mesh_size(t[i].ps, "news");
    assert_true(m >= 1);
  }
  /* mesh peers are protected in the connection policy (yz/node.h) */
  size_t protected_up = 0;
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < N; j++)
      if (i != j && (yz_node_peer_protection(t[i].node,
                                             yz_node_get_id(t[j].node)) &
                     YZ_NODE_PROTECT_MESH))
        protected_up++;
  assert_true(protected_up >= N);
  publish(&t[3], "a first", &reached);
  assert_true(reached >= 1);
  VWAIT(all_got('a', 1));
  advance(3000); /* gossip and late copies would show up by now */
  assert_exactly('a', 1);
  yz_pubsub_stats st;
  yz_pubsub_get_stats(t[3].ps, &st);
  assert_int_equal(st.published, 1);
  assert_true(st.provides >= 1);
  /* latency from the seq's microsecond timestamp: virtual, so small */
  assert_true(t[10].last_latency_us < 5000000);

  /* a late subscriber: it knows only the bootstrap, and it is found
   * through the DHT (and finds the others) */
  struct tn *late = add_node();
  subscribe(late);
  VWAIT(yz_pubsub_mesh_size(late->ps, "news") >= 2);
  VWAIT((yz_pubsub_get_stats(late->ps, &st), st.provides >= 1));
  publish(&t[5], "g second", &reached);
  VWAIT(all_got('g', 1));
  advance(3000);
  assert_exactly('g', 1);

  /* a late subscriber of a topic with two subscribers: its mesh is under
   * D_lo, so it looks the topic's providers up in the DHT (and dials those
   * it has no link to), and what it publishes reaches both */
  assert_int_equal(
      yz_pubsub_subscribe(t[9].ps, "late", NULL, on_msg_solo, &t[9]), 0);
  assert_int_equal(
      yz_pubsub_subscribe(t[15].ps, "late", NULL, on_msg_solo, &t[15]), 0);
  advance(3000);
  struct tn *l2 = add_node();
  assert_int_equal(yz_pubsub_subscribe(l2->ps, "late", NULL, on_msg_solo, l2),
                   0);
  VWAIT((yz_pubsub_get_stats(l2->ps, &st), st.providers_found >= 2));
  VWAIT(yz_pubsub_mesh_size(l2->ps, "late") >= 2);
  assert_true(st.lookups >= 1);
  assert_int_equal(yz_pubsub_publish(l2->ps, "late", (const uint8_t *)"l1",
                                     2, 0, &reached, NULL, NULL, NULL),
                   0);
  assert_int_equal(reached, 2);
  VWAIT(t[9].got['l'] == 1 && t[15].got['l'] == 1);
  subscribe(l2); /* and "news", for what follows */
  advance(3000);

  /* kill 30 % (not the publisher, not the bootstrap) */
  size_t killed = 0;
  for (size_t i = 1; i < n_nodes && killed < (n_nodes * 3) / 10; i += 3)
    if (i != 3) {
      kill_node(&t[i]);
      killed++;
    }
  assert_true(killed >= 6);
  advance(5000); /* the meshes repair at the heartbeats */
  for (char c = 'c'; c <= 'e'; c++) {
    char text[16];
    snprintf(text, sizeof text, "%c after", c);
    publish(&t[3], text, &reached);
    assert_true(reached >= 1);
    VWAIT(all_got(c, 1));
  }
  advance(3000);
  for (char c = 'c'; c <= 'e'; c++)
    assert_exactly(c, 1);

  /* a validator's reject: nobody delivers it, and whoever sent it to a
   * node is penalised there */
  for (size_t i = 0; i < n_nodes; i++)
    t[i].reject_bad = true;
  publish(&t[3], "bad message", &reached);
  assert_true(reached >= 1);
  advance(2000);
  size_t penalised = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    if (t[i].dead || i == 3)
      continue;
    assert_int_equal(t[i].got['b'], 0);
    yz_pubsub_get_stats(t[i].ps, &st);
    if (st.router.rejected)
      penalised += yz_pubsub_peer_score(t[i].ps, yz_node_get_id(t[3].node)) < 0;
  }
  assert_true(penalised >= 1);
  teardown_net();
}

/* Cold start with a link cap (idle links beyond it close, so nodes are not
 * all linked): the only subscriber of "solo" is found through the DHT by a
 * publisher that has no link to it; the message is sent to it and the
 * callback says so. */
static void test_cold_solo(void **state)
{
  (void)state;
  network(N);
  /* Cold start: the only subscriber of "solo" is found through the DHT by
   * a publisher that has no link to it; the message is sent to it and
   * the callback says so. */
  assert_int_equal(
      yz_pubsub_subscribe(t[7].ps, "solo", NULL, on_msg_solo, &t[7]), 0);
  advance(5000);
  struct tn *p = NULL;
  for (size_t i = 1; i < N && !p; i++)
    if (i != 7 && !yz_node_peer_is_up(t[i].node, yz_node_get_id(t[7].node)))
      p = &t[i];
  assert_non_null(p);
  size_t reached = 99;
  pub_done = false;
  assert_int_equal(yz_pubsub_publish(p->ps, "solo", (const uint8_t *)"s1", 2,
                                     0, &reached, NULL, on_pub, NULL),
                   0);
  assert_int_equal(reached, 0);
  VWAIT(pub_done);
  assert_int_equal(pub_res.status, 0);
  assert_int_equal(pub_res.reached, 1);
  assert_int_equal(pub_res.providers, 1);
  assert_int_equal(pub_res.dialled, 1);
  VWAIT(t[7].got['s'] == 1);
  /* and the next one goes straight to it (flood publishing) */
  assert_int_equal(yz_pubsub_publish(p->ps, "solo", (const uint8_t *)"s2", 2,
                                     0, &reached, NULL, on_pub, NULL),
                   0);
  assert_int_equal(reached, 1);
  VWAIT(t[7].got['s'] == 2);
  advance(2000);
  assert_int_equal(t[7].got['s'], 2);

  teardown_net();
}

/* A publish that reaches no peer reports 0 and its outcome through the
 * callback (not found), never silence; with a subscriber known only to
 * the DHT, the message is sent to it and the callback says so. */
static void test_cold_publish(void **state)
{
  (void)state;
  network(4);
  size_t reached = 99;
  pub_done = false;
  assert_int_equal(yz_pubsub_publish(t[3].ps, "nobody", (const uint8_t *)"x",
                                     1, 0, &reached, NULL, on_pub, NULL),
                   0);
  assert_int_equal(reached, 0);
  assert_false(pub_done); /* never from the call */
  VWAIT(pub_done);
  assert_int_equal(pub_res.status, YZ_E_NOT_FOUND);
  assert_int_equal(pub_res.reached, 0);
  assert_string_equal(pub_res.topic, "nobody");
  yz_pubsub_stats st;
  yz_pubsub_get_stats(t[3].ps, &st);
  assert_int_equal(st.published_unreached, 1);

  teardown_net();
}

static unsigned closed_calls;
static int closed_status;
static void on_pub_closed(yz_pubsub *ps, const yz_pubsub_publish_result *r,
                          void *arg)
{
  (void)ps;
  (void)arg;
  closed_calls++;
  closed_status = r->status;
}

/* The bounds of the glue, each hit: publishes waiting for the DHT
 * (max_pending), messages waiting for the application
 * (max_delivery_queue); an RPC that does not decode is counted and
 * penalised; a stop ends a waiting publish with YZ_E_CLOSED from the
 * loop, never from the call. */
static void test_limits(void **state)
{
  (void)state;
  cfg_max_pending = 1;
  cfg_max_queue = 2;
  network(4);
  cfg_max_pending = 0;
  cfg_max_queue = 0;
  size_t reached;
  pub_done = false;
  assert_int_equal(yz_pubsub_publish(t[1].ps, "nobody", (const uint8_t *)"1",
                                     1, 0, &reached, NULL, on_pub, NULL),
                   0);
  assert_int_equal(yz_pubsub_publish(t[1].ps, "nobody", (const uint8_t *)"2",
                                     1, 0, &reached, NULL, on_pub, NULL),
                   YZ_E_LIMIT);
  VWAIT(pub_done);
  assert_int_equal(yz_pubsub_publish(t[1].ps, "nobody", (const uint8_t *)"3",
                                     1, 0, &reached, NULL, on_pub, NULL),
                   0);

  /* four own messages before the loop runs: two fit the queue (t[3]
   * subscribes too, so that they reach a peer and none waits) */
  subscribe(&t[2]);
  subscribe(&t[3]);
  advance(2000);
  for (int i = 0; i < 4; i++) {
    char text[8];
    snprintf(text, sizeof text, "q%d", i);
    publish(&t[2], text, &reached);
  }
  advance(100);
  yz_pubsub_stats st;
  yz_pubsub_get_stats(t[2].ps, &st);
  assert_int_equal(t[2].got['q'], 2);
  assert_int_equal(st.delivered_app, 2);
  assert_int_equal(st.delivery_dropped, 2);

  /* garbage on protocol 3: counted, and a behaviour penalty */
  static const uint8_t junk[] = {0xa1, 0x63, 'b', 'a', 'd', 0x01};
  assert_int_equal(yz_node_send(t[3].node, yz_node_get_id(t[0].node),
                                YZ_PUBSUB_PROTOCOL, junk, sizeof junk),
                   0);
  VWAIT((yz_pubsub_get_stats(t[0].ps, &st), st.malformed == 1));
  assert_true(yz_pubsub_peer_score(t[0].ps, yz_node_get_id(t[3].node)) < 0);

  /* one PubSub per node; a bad router config is refused */
  yz_pubsub *second = NULL;
  assert_int_equal(yz_pubsub_new(&second, t[2].node, NULL, NULL),
                   YZ_E_STATE);
  assert_null(second);

  /* a stop ends the publish still waiting for the DHT ("3") */
  closed_calls = 0;
  assert_int_equal(yz_pubsub_publish(t[0].ps, "nobody2", (const uint8_t *)"4",
                                     1, 0, &reached, NULL, on_pub_closed,
                                     NULL),
                   0);
  assert_int_equal(reached, 0);
  yz_pubsub_stop(t[0].ps, on_ps_stopped, &t[0]);
  assert_int_equal(closed_calls, 0);
  WAIT_FOR(t[0].ps_stopped);
  assert_int_equal(closed_calls, 1);
  assert_int_equal(closed_status, YZ_E_CLOSED);
  assert_int_equal(yz_pubsub_publish(t[0].ps, "x", (const uint8_t *)"5", 1, 0,
                                     &reached, NULL, NULL, NULL),
                   YZ_E_STATE);
  /* the stopped one no longer counts; a bad router config is refused */
  yz_pubsub_config bad;
  yz_pubsub_config_default(&bad);
  bad.router.D_lo = bad.router.D + 1;
  assert_int_equal(yz_pubsub_new(&second, t[0].node, NULL, &bad),
                   YZ_E_INVAL);
  assert_null(second);
  teardown_net();
}

static bool linked(size_t a, size_t b)
{
  return yz_node_peer_is_up(t[a].node, yz_node_get_id(t[b].node));
}

/* The pinned dials in flight (max_dials) and the node records remembered
 * (max_records), each hit: a publisher that reaches nobody finds three
 * subscribers through the DHT but dials only one at a time, and keeps one
 * record. */
static void test_dial_bounds(void **state)
{
  (void)state;
  cfg_max_dials = 1;
  cfg_max_records = 1;
  network(14);
  cfg_max_dials = 0;
  cfg_max_records = 0;
  size_t subs[3] = {4, 8, 12};
  for (int i = 0; i < 3; i++)
    assert_int_equal(yz_pubsub_subscribe(t[subs[i]].ps, "trio", NULL,
                                         on_msg_solo, &t[subs[i]]),
                     0);
  advance(5000);
  struct tn *p = NULL;
  for (size_t i = 1; i < n_nodes && !p; i++)
    if (i != 4 && i != 8 && i != 12 && !linked(i, 4) && !linked(i, 8) &&
        !linked(i, 12))
      p = &t[i];
  assert_non_null(p);
  size_t reached = 99;
  pub_done = false;
  assert_int_equal(yz_pubsub_publish(p->ps, "trio", (const uint8_t *)"t1", 2,
                                     0, &reached, NULL, on_pub, NULL),
                   0);
  assert_int_equal(reached, 0);
  VWAIT(pub_done);
  yz_pubsub_stats st;
  yz_pubsub_get_stats(p->ps, &st);
  assert_int_equal(pub_res.status, 0);
  assert_int_equal(pub_res.providers, 3);
  assert_int_equal(pub_res.dialled, 1);
  /* the one dialled, and any the DHT lookup itself linked to */
  assert_true(pub_res.reached >= 1);
  assert_int_equal(st.dials, 1);
  assert_int_equal(st.records, 1);
  teardown_net();
}

/* A peer whose GRAFT is accepted is protected in the connection policy at
 * once, not at the next heartbeat: otherwise its idle link could be closed
 * in between. Heartbeats of a minute, links idle after 1 s, a cap of one
 * link; the grafting node is client-only in the DHT, so no routing-table
 * protection hides the case. */
static void test_protect_on_graft(void **state)
{
  (void)state;
  cfg_link_cap = 1;
  cfg_heartbeat = 60000;
  network(4);
  cfg_client_only = true;
  struct tn *c = add_node();
  cfg_client_only = false;
  cfg_link_cap = 4;
  cfg_heartbeat = 0;
  /* a fresh link from the client-only node to t[2] */
  if (!linked(4, 2)) {
    assert_int_equal(yz_node_dial(c->node, yz_node_address(t[2].node, 0),
                                  NULL),
                     0);
    VWAIT(linked(4, 2));
  }
  assert_int_equal(
      yz_pubsub_subscribe(t[2].ps, "pair", NULL, on_msg_solo, &t[2]), 0);
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(yz_pubsub_subscribe(c->ps, "pair", NULL, on_msg_solo, c),
                   0);
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(yz_pubsub_mesh_size(c->ps, "pair"), 1);
  assert_int_equal(yz_pubsub_mesh_size(t[2].ps, "pair"), 1);
  assert_true(yz_node_peer_protection(t[2].node, yz_node_get_id(c->node)) &
              YZ_NODE_PROTECT_MESH);
  assert_true(yz_node_peer_protection(c->node, yz_node_get_id(t[2].node)) &
              YZ_NODE_PROTECT_MESH);
  advance(3000); /* idle for 3 s, no heartbeat */
  assert_true(linked(4, 2));
  teardown_net();
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cold_publish),
      cmocka_unit_test(test_cold_solo),
      cmocka_unit_test(test_network),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_dial_bounds),
      cmocka_unit_test(test_protect_on_graft),
  };
  return cmocka_run_group_tests_name("pubsub_node", tests, NULL, NULL);
}
