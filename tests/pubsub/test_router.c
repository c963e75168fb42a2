/*
 * The PubSub router core (src/pubsub/router.h, docs/pubsub.md), on virtual
 * time with deterministic randomness:
 *   - a network of routers wired together by encoding each outgoing RPC
 *     (yz_ps_rpc_encode()) and delivering it, decoded, to its peer in FIFO
 *     order: meshes converge to [D_lo, D_hi], every subscriber gets every
 *     message exactly once (duplicates are counted), a spammer of invalid
 *     messages is graylisted;
 *   - one router against scripted peers, whose RPCs the test writes and
 *     whose received RPCs it reads: backoff, promises, scoring, and every
 *     bound of the config.
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

#include "pubsub/router.h"

#define T0 1800000000000ull /* Unix milliseconds */
#define MAXN 40

/* ---- deterministic randomness ------------------------------------------- */

static void rnd(void *ud, uint8_t *buf, size_t n)
{
  uint64_t *s = ud;
  for (size_t i = 0; i < n; i++) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    buf[i] = (uint8_t)*s;
  }
}

/* ---- a network of routers -------------------------------------------------
 */

struct node {
  yz__ps_router *r;
  yz_node_id id;
  uint64_t seed;
  unsigned got[64]; /* deliveries per message number */
};

static struct node nodes[MAXN];
static size_t n_nodes;
static uint64_t now;

struct qent {
  size_t from, to;
  uint8_t *b;
  size_t n;
  struct qent *next;
};
static struct qent *qhead, *qtail;

/* Scripted peers: the router under test is node 0; RPCs to other IDs are
 * captured here instead of queued. */
struct cap {
  yz_node_id to;
  uint8_t *b;
  size_t n;
};
static struct cap caps[4096];
static size_t n_caps;
static bool capture;

static size_t node_of(const yz_node_id *id)
{
  for (size_t i = 0; i < n_nodes; i++)
    if (memcmp(nodes[i].id.bytes, id->bytes, 32) == 0)
      return i;
  return SIZE_MAX;
}

static void cb_send(void *ud, const yz_node_id *peer, const yz_ps_rpc *rpc)
{
  size_t from = (size_t)(uintptr_t)ud;
  size_t len = 0;
  const char *why = NULL;
  /* Everything the router sends must be a valid RPC under its limits. */
  assert_int_equal(yz_ps_rpc_encode(rpc, NULL, NULL, 0, &len, &why),
                   YZ_E_TOO_LARGE);
  uint8_t *b = malloc(len);
  assert_non_null(b);
  assert_int_equal(yz_ps_rpc_encode(rpc, NULL, b, len, &len, &why), 0);
  if (capture) {
    assert_true(n_caps < sizeof caps / sizeof caps[0]);
    caps[n_caps++] = (struct cap){*peer, b, len};
    return;
  }
  size_t to = node_of(peer);
  assert_true(to != SIZE_MAX);
  struct qent *e = malloc(sizeof *e);
  assert_non_null(e);
  *e = (struct qent){from, to, b, len, NULL};
  if (qtail)
    qtail->next = e;
  else
    qhead = e;
  qtail = e;
}

static unsigned msg_no(const yz_ps_msg *m)
{
  unsigned k = 0;
  if (m->data_len >= 2 && m->data[0] == 'm')
    k = (unsigned)atoi((const char *)m->data + 1) % 64;
  return k;
}

static void cb_deliver(void *ud, const yz_ps_msg *m, const uint8_t id[32],
                       const yz_node_id *from)
{
  (void)id, (void)from;
  nodes[(size_t)(uintptr_t)ud].got[msg_no(m)]++;
}

static size_t n_px;

static void cb_px(void *ud, const uint8_t topic[32], const yz_ps_bytes *recs,
                  size_t n)
{
  (void)ud, (void)topic, (void)recs;
  n_px += n;
}

static yz_ps_rpc in_rpc;

/* Deliver queued RPCs until none is left. */
static void pump(void)
{
  while (qhead) {
    struct qent *e = qhead;
    qhead = e->next;
    if (!qhead)
      qtail = NULL;
    assert_int_equal(yz_ps_rpc_decode(&in_rpc, e->b, e->n, NULL, NULL), 0);
    if (nodes[e->to].r && nodes[e->from].r) /* both alive */
      assert_int_equal(
          yz__ps_rpc_in(nodes[e->to].r, &nodes[e->from].id, &in_rpc, now), 0);
    free(e->b);
    free(e);
  }
}

static yz__ps_config cfg;

static int cmp32(const void *a, const void *b)
{
  return memcmp(a, b, 32);
}

/* Node i: its ID and its own deterministic random stream. */
static void node_init(size_t i)
{
  struct node *n = &nodes[i];
  memset(n, 0, sizeof *n);
  n->id.bytes[0] = (uint8_t)(i + 1);
  n->id.bytes[31] = 0x77;
  n->seed = 0x9e3779b97f4a7c15ull * (i + 1);
}

/* The routers' random callback gets the node index as ud; route it to the
 * node's seed. */
static void rnd_node(void *ud, uint8_t *buf, size_t n)
{
  rnd(&nodes[(size_t)(uintptr_t)ud].seed, buf, n);
}

static void net(size_t n, const yz__ps_config *c)
{
  n_nodes = n;
  now = T0;
  for (size_t i = 0; i < n; i++) {
    node_init(i);
    yz__ps_callbacks cb = {cb_send, cb_deliver, rnd_node, cb_px,
                           (void *)(uintptr_t)i};
    nodes[i].r = yz__ps_router_new(&nodes[i].id, c, &cb, now);
    assert_non_null(nodes[i].r);
  }
}

static void net_free(void)
{
  pump();
  for (size_t i = 0; i < n_nodes; i++) {
    yz__ps_router_free(nodes[i].r);
    nodes[i].r = NULL;
  }
  for (size_t i = 0; i < n_caps; i++)
    free(caps[i].b);
  n_caps = 0;
  n_nodes = 0;
  capture = false;
}

static void link_nodes(size_t a, size_t b)
{
  yz__ps_ip ip = {4, {127, 0, 0, 1}};
  assert_int_equal(
      yz__ps_peer_add(nodes[a].r, &nodes[b].id, &ip, true, NULL, 0, now), 0);
  assert_int_equal(
      yz__ps_peer_add(nodes[b].r, &nodes[a].id, &ip, false, NULL, 0, now), 0);
  pump();
}

static void heartbeats(unsigned k)
{
  for (unsigned j = 0; j < k; j++) {
    now += 1000;
    for (size_t i = 0; i < n_nodes; i++)
      if (nodes[i].r)
        yz__ps_heartbeat(nodes[i].r, now);
    pump();
  }
}

static uint8_t topic[32], topic2[32];
static uint8_t author_sk[64];

static void keys(void)
{
  uint8_t seed[32], pk[32];
  memset(seed, 0x42, sizeof seed);
  crypto_sign_ed25519_seed_keypair(pk, author_sk, seed);
  assert_int_equal(yz_ps_topic_hash(topic, "news", 4), 0);
  assert_int_equal(yz_ps_topic_hash(topic2, "other", 5), 0);
}

static char msg_data[64][300];

static yz_ps_msg make(unsigned k, const uint8_t *t, size_t len)
{
  yz_ps_msg m;
  memset(&m, 0, sizeof m);
  memcpy(m.topic, t, 32);
  m.seq = k;
  m.expiry = now / 1000 + 300;
  memset(msg_data[k], 'x', sizeof msg_data[k]);
  int w = snprintf(msg_data[k], sizeof msg_data[k], "m%u", k);
  msg_data[k][w] = ' ';
  m.data = (const uint8_t *)msg_data[k];
  m.data_len = len ? len : (size_t)w;
  assert_true(m.data_len <= sizeof msg_data[k]);
  assert_int_equal(yz_ps_msg_sign_raw(&m, author_sk, NULL), 0);
  return m;
}

/* A connected graph: a ring plus random chords, each node degree >= 8. */
static void wire_graph(size_t n, unsigned extra)
{
  uint64_t s = 12345;
  static bool linked[MAXN][MAXN];
  memset(linked, 0, sizeof linked);
  for (size_t i = 0; i < n; i++) {
    size_t j = (i + 1) % n;
    link_nodes(i, j);
    linked[i][j] = linked[j][i] = true;
  }
  for (size_t i = 0; i < n; i++) {
    for (unsigned k = 0; k < extra; k++) {
      uint8_t b[2];
      rnd(&s, b, 2);
      size_t j = b[0] % n;
      if (j == i || linked[i][j])
        continue;
      link_nodes(i, j);
      linked[i][j] = linked[j][i] = true;
    }
  }
}

/* ---- the network tests
 * ------------------------------------------------------ */

static void test_mesh_converges(void **state)
{
  (void)state;
  net(30, NULL);
  wire_graph(30, 10);
  for (size_t i = 0; i < n_nodes; i++)
    assert_int_equal(yz__ps_subscribe(nodes[i].r, topic, NULL, NULL, now), 0);
  pump();
  heartbeats(5);
  for (size_t i = 0; i < n_nodes; i++) {
    yz_node_id m[32];
    size_t n = yz__ps_mesh(nodes[i].r, topic, false, m, 32);
    assert_in_range(n, cfg.D_lo, cfg.D_hi);
    /* Meshes are symmetric: each member has us in its mesh too. */
    for (size_t k = 0; k < n; k++) {
      size_t j = node_of(&m[k]);
      yz_node_id back[32];
      size_t nb = yz__ps_mesh(nodes[j].r, topic, false, back, 32);
      bool found = false;
      for (size_t q = 0; q < nb; q++)
        found |= memcmp(back[q].bytes, nodes[i].id.bytes, 32) == 0;
      assert_true(found);
    }
  }
  net_free();
}

static void test_delivery_exactly_once(void **state)
{
  (void)state;
  net(30, NULL);
  wire_graph(30, 10);
  /* Node 29 does not subscribe: it relays nothing and gets nothing. */
  for (size_t i = 0; i < 29; i++)
    assert_int_equal(yz__ps_subscribe(nodes[i].r, topic, NULL, NULL, now), 0);
  pump();
  heartbeats(3);
  for (unsigned k = 1; k <= 10; k++) {
    yz_ps_msg m = make(k, topic, 0);
    int reached = yz__ps_publish(nodes[(k * 7) % 29].r, &m, now);
    assert_true(reached >= 1);
    pump();
  }
  uint64_t dups = 0;
  for (size_t i = 0; i < n_nodes; i++) {
    for (unsigned k = 1; k <= 10; k++)
      assert_int_equal(nodes[i].got[k], i == 29 ? 0 : 1);
    dups += yz__ps_stats_get(nodes[i].r)->duplicates;
  }
  /* Flood publishing and the mesh overlap: duplicates exist, and are
   * bounded by the links each message crosses. */
  assert_true(dups > 0);
  assert_true(dups < 10 * 29 * cfg.D_hi);
  /* A second publish of the same message is refused. */
  yz_ps_msg m = make(1, topic, 0);
  assert_int_equal(yz__ps_publish(nodes[7].r, &m, now), YZ_E_DUPLICATE);
  /* Publishing to a topic nobody subscribes reaches nobody, and says so. */
  yz_ps_msg lone = make(11, topic2, 0);
  assert_int_equal(yz__ps_publish(nodes[0].r, &lone, now), 0);
  net_free();
}

/* Node i leaves: every router drops it, its own router goes. */
static void kill_node(size_t i)
{
  for (size_t j = 0; j < n_nodes; j++)
    if (j != i && nodes[j].r)
      (void)yz__ps_peer_remove(nodes[j].r, &nodes[i].id, now);
  yz__ps_router_free(nodes[i].r);
  nodes[i].r = NULL;
}

static void test_kill_and_repair(void **state)
{
  (void)state;
  net(30, NULL);
  wire_graph(30, 14);
  for (size_t i = 0; i < n_nodes; i++)
    assert_int_equal(yz__ps_subscribe(nodes[i].r, topic, NULL, NULL, now), 0);
  pump();
  heartbeats(3);
  /* An instant kill of 30 %: every third node. */
  for (size_t i = 0; i < n_nodes; i += 3)
    kill_node(i);
  pump();
  /* Two heartbeats later every mesh is back to at least D_lo (each
   * survivor still has more than D_lo subscribed peers). */
  heartbeats(2);
  for (size_t i = 0; i < n_nodes; i++) {
    if (!nodes[i].r)
      continue;
    size_t n = yz__ps_mesh(nodes[i].r, topic, false, NULL, 0);
    assert_in_range(n, cfg.D_lo, cfg.D_hi);
  }
  /* And a message reaches every survivor exactly once. */
  yz_ps_msg m = make(9, topic, 0);
  assert_true(yz__ps_publish(nodes[1].r, &m, now) >= 1);
  pump();
  for (size_t i = 0; i < n_nodes; i++)
    if (nodes[i].r)
      assert_int_equal(nodes[i].got[9], 1);
  net_free();
}

static void test_gossip_repairs_a_miss(void **state)
{
  (void)state;
  /* Three in a line, A - B - C, flood publishing off and B's mesh link to
   * C cut by a PRUNE: C gets A's message only through B's IHAVE and its
   * own IWANT. */
  yz__ps_config c = cfg;
  c.flood_publish = false;
  net(3, &c);
  link_nodes(0, 1);
  link_nodes(1, 2);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(yz__ps_subscribe(nodes[i].r, topic, NULL, NULL, now), 0);
    pump();
  }
  assert_int_equal(yz__ps_mesh(nodes[1].r, topic, false, NULL, 0), 2);
  /* C leaves and rejoins: B keeps C out of its mesh (backoff) but C is
   * still a subscriber, so B gossips to it. */
  assert_int_equal(yz__ps_unsubscribe(nodes[2].r, topic, now), 0);
  pump();
  assert_int_equal(yz__ps_subscribe(nodes[2].r, topic, NULL, NULL, now), 0);
  pump();
  assert_int_equal(yz__ps_mesh(nodes[1].r, topic, false, NULL, 0), 1);
  yz_ps_msg m = make(5, topic, 0);
  assert_int_equal(yz__ps_publish(nodes[0].r, &m, now), 1);
  pump();
  assert_int_equal(nodes[1].got[5], 1);
  assert_int_equal(nodes[2].got[5], 0);
  heartbeats(1); /* B's IHAVE, C's IWANT, B's answer */
  assert_int_equal(nodes[2].got[5], 1);
  assert_int_equal(yz__ps_stats_get(nodes[2].r)->broken_promises, 0);
  net_free();
}

/* ---- one router and scripted peers -----------------------------------------
 */

static yz__ps_router *R;
static yz_node_id P[8];

static yz__ps_router *solo(const yz__ps_config *c, size_t peers,
                           const yz__ps_ip *ips)
{
  net(1, c);
  capture = true;
  R = nodes[0].r;
  for (size_t i = 0; i < peers; i++) {
    memset(P[i].bytes, 0xa0 + (int)i, 32);
    yz__ps_ip lo = {4, {127, 0, 0, 1}};
    uint8_t rec[3] = {0xa1, 0x01, (uint8_t)i};
    assert_int_equal(yz__ps_peer_add(R, &P[i], ips ? &ips[i] : &lo, i % 2, rec,
                                     sizeof rec, now),
                     0);
  }
  return R;
}

/* Feed R an RPC from peer i, written as the wire would carry it. */
static void from_peer(size_t i, const yz_ps_rpc *rpc)
{
  static uint8_t buf[1 << 20];
  size_t n;
  assert_int_equal(yz_ps_rpc_encode(rpc, NULL, buf, sizeof buf, &n, NULL), 0);
  assert_int_equal(yz_ps_rpc_decode(&in_rpc, buf, n, NULL, NULL), 0);
  assert_int_equal(yz__ps_rpc_in(R, &P[i], &in_rpc, now), 0);
}

static yz_ps_rpc out;

static void sub_graft(size_t i, const uint8_t *t, bool graft)
{
  yz_ps_rpc_init(&out);
  out.subscribe = (yz_ps_list){t, 1, 0};
  if (graft)
    out.graft = (yz_ps_list){t, 1, 0};
  from_peer(i, &out);
}

/* Of the RPCs captured for peer i since index *from: the count with a
 * field set, via a predicate. */
static size_t seen_for(size_t i, size_t from, bool (*pred)(const yz_ps_rpc *))
{
  size_t k = 0;
  static yz_ps_rpc d;
  for (size_t c = from; c < n_caps; c++) {
    if (memcmp(caps[c].to.bytes, P[i].bytes, 32) != 0)
      continue;
    assert_int_equal(yz_ps_rpc_decode(&d, caps[c].b, caps[c].n, NULL, NULL),
                     0);
    k += pred(&d);
  }
  return k;
}

static bool has_prune(const yz_ps_rpc *r)
{
  return r->n_prune > 0;
}
static bool has_graft(const yz_ps_rpc *r)
{
  return r->graft.n > 0;
}
static bool has_iwant(const yz_ps_rpc *r)
{
  return r->iwant.n > 0;
}
static bool has_ihave(const yz_ps_rpc *r)
{
  return r->n_ihave > 0;
}
static bool has_idontwant(const yz_ps_rpc *r)
{
  return r->idontwant.n > 0;
}
static size_t count_msgs_n;
static bool count_msgs(const yz_ps_rpc *r)
{
  count_msgs_n += r->n_publish;
  return r->n_publish > 0;
}
static size_t px_n;
static bool prune_px(const yz_ps_rpc *r)
{
  for (size_t i = 0; i < r->n_prune; i++)
    px_n += r->prune[i].n_peers;
  return r->n_prune > 0;
}

static void test_backoff(void **state)
{
  (void)state;
  solo(NULL, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 1);
  /* The peer prunes us for 60 s: we do not GRAFT it back before. */
  yz_ps_rpc_init(&out);
  out.n_prune = 1;
  out.prune[0] = (yz_ps_prune){topic, 60, NULL, 0};
  from_peer(0, &out);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0);
  assert_true(yz__ps_in_backoff(R, topic, &P[0], now));
  size_t mark = n_caps;
  for (int s = 0; s < 59; s++) {
    now += 1000;
    yz__ps_heartbeat(R, now);
  }
  assert_int_equal(seen_for(0, mark, has_graft), 0);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0);
  now += 1000; /* 60 s: the backoff is over */
  yz__ps_heartbeat(R, now);
  assert_false(yz__ps_in_backoff(R, topic, &P[0], now));
  assert_int_equal(seen_for(0, mark, has_graft), 1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 1);

  /* Now we prune it (we leave and come back): its GRAFT during our
   * backoff is refused with a PRUNE and penalised. */
  assert_int_equal(yz__ps_unsubscribe(R, topic, now), 0);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0); /* backoff */
  mark = n_caps;
  double before = yz__ps_score(R, &P[0], now);
  sub_graft(0, topic, true);
  assert_int_equal(yz__ps_stats_get(R)->graft_backoff, 1);
  assert_int_equal(seen_for(0, mark, has_prune), 1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0);
  assert_true(yz__ps_score(R, &P[0], now) < before);
  /* The refusal renewed the backoff for 60 s; 10 s on (the unsubscribe
   * backoff) the peer is still out. */
  now += 10001;
  assert_true(yz__ps_in_backoff(R, topic, &P[0], now));
  sub_graft(0, topic, true);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0);
  assert_int_equal(yz__ps_stats_get(R)->graft_backoff, 2);
  /* Once the backoff is over and the penalty decayed, it is back. */
  heartbeats(61);
  assert_false(yz__ps_in_backoff(R, topic, &P[0], now));
  assert_true(yz__ps_score(R, &P[0], now) >= 0);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 1);
  net_free();
}

static void test_graylist_spammer(void **state)
{
  (void)state;
  net(2, NULL);
  link_nodes(0, 1);
  assert_int_equal(yz__ps_subscribe(nodes[0].r, topic, NULL, NULL, now), 0);
  assert_int_equal(yz__ps_subscribe(nodes[1].r, topic, NULL, NULL, now), 0);
  pump();
  /* Node 1 turns bad: messages whose signatures do not verify, written
   * to node 0 directly. */
  R = nodes[0].r;
  memcpy(&P[0], &nodes[1].id, sizeof P[0]);
  unsigned k = 20;
  while (yz__ps_score(R, &P[0], now) >= cfg.score.graylist_threshold) {
    assert_true(k < 60);
    yz_ps_msg m = make(k++, topic, 0);
    m.signature[0] ^= 1;
    yz_ps_rpc_init(&out);
    out.n_publish = 1;
    out.publish[0] = m;
    from_peer(0, &out);
  }
  const yz__ps_stats *st = yz__ps_stats_get(R);
  assert_int_equal(st->rejected, k - 20);
  assert_true(st->rejected >= 9); /* -1 x invalid^2 < -80 */
  /* Graylisted: even a valid message from it is ignored now. */
  yz_ps_msg good = make(63, topic, 0);
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = good;
  from_peer(0, &out);
  assert_int_equal(st->graylisted, 1);
  assert_int_equal(nodes[0].got[63], 0);
  /* Leaving and coming back does not shed the score (retention). */
  double s_bad = yz__ps_score(R, &P[0], now);
  assert_int_equal(yz__ps_peer_remove(R, &P[0], now), 0);
  assert_int_equal(yz__ps_retained(R), 1);
  yz__ps_ip lo = {4, {127, 0, 0, 1}};
  assert_int_equal(yz__ps_peer_add(R, &P[0], &lo, false, NULL, 0, now), 0);
  assert_true(yz__ps_score(R, &P[0], now) == s_bad);
  assert_int_equal(yz__ps_retained(R), 0);
  /* The heartbeat prunes it from the mesh (a negative score). */
  heartbeats(1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 0);
  /* Decay: the penalty fades and the peer is heard again. */
  heartbeats(60);
  assert_true(yz__ps_score(R, &P[0], now) > cfg.score.graylist_threshold);
  from_peer(0, &out);
  assert_int_equal(nodes[0].got[63], 1);
  net_free();
}

static void test_promises(void **state)
{
  (void)state;
  solo(NULL, 2, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, false);
  sub_graft(1, topic, false);
  /* Peer 0 announces two messages, gets an IWANT, never answers. */
  yz_ps_msg m1 = make(1, topic, 0), m2 = make(2, topic, 0);
  uint8_t ids[2][32];
  assert_int_equal(yz_ps_msg_id(&m1, ids[0]), 0);
  assert_int_equal(yz_ps_msg_id(&m2, ids[1]), 0);
  if (memcmp(ids[0], ids[1], 32) > 0) {
    uint8_t t[32];
    memcpy(t, ids[0], 32), memcpy(ids[0], ids[1], 32), memcpy(ids[1], t, 32);
  }
  size_t mark = n_caps;
  yz_ps_rpc_init(&out);
  out.n_ihave = 1;
  out.ihave[0] = (yz_ps_ihave){topic, {ids[0], 2, 0}};
  from_peer(0, &out);
  assert_int_equal(seen_for(0, mark, has_iwant), 1);
  size_t promises;
  yz__ps_sizes(R, NULL, NULL, &promises, NULL, NULL);
  assert_int_equal(promises, 2);
  /* Peer 1 announces the same: no second IWANT (one promise per ID). */
  from_peer(1, &out);
  assert_int_equal(seen_for(1, mark, has_iwant), 0);
  /* One of them arrives in time (from anyone): that promise is kept. */
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = m1;
  from_peer(1, &out);
  double s0 = yz__ps_score(R, &P[0], now);
  now += cfg.iwant_followup_ms;
  yz__ps_heartbeat(R, now);
  assert_int_equal(yz__ps_stats_get(R)->broken_promises, 1);
  assert_true(yz__ps_score(R, &P[0], now) < s0);
  assert_true(yz__ps_score(R, &P[0], now) < 0);
  yz__ps_sizes(R, NULL, NULL, &promises, NULL, NULL);
  assert_int_equal(promises, 0);
  net_free();
}

static void test_scoring(void **state)
{
  (void)state;
  /* IP colocation: three peers on one address, the fourth alone, two on
   * loopback (exempt). */
  yz__ps_ip ips[6] = {{4, {10, 0, 0, 1}},  {4, {10, 0, 0, 1}},
                      {4, {10, 0, 0, 1}},  {4, {10, 0, 0, 2}},
                      {4, {127, 0, 0, 1}}, {4, {127, 0, 0, 1}}};
  solo(NULL, 6, ips);
  double sc = yz__ps_score(R, &P[0], now);
  /* (3 - 1)^2 x -10 */
  assert_true(sc > -40.001 && sc < -39.999);
  assert_true(yz__ps_score(R, &P[3], now) == 0);
  assert_true(yz__ps_score(R, &P[4], now) == 0);
  net_free();
  yz__ps_config c = cfg;
  c.score.ip_loopback_exempt = false;
  solo(&c, 6, ips);
  assert_true(yz__ps_score(R, &P[4], now) < 0);
  net_free();

  /* Time in mesh and first deliveries raise a score; decay lowers it. */
  solo(NULL, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  now += 10000;
  double mesh10 = yz__ps_score(R, &P[0], now);
  assert_true(mesh10 > 0.099 && mesh10 < 0.101); /* 10 quanta x 0.01 */
  yz_ps_msg m = make(3, topic, 0);
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = m;
  from_peer(0, &out);
  assert_true(yz__ps_score(R, &P[0], now) > mesh10 + 0.99);
  yz__ps_heartbeat(R, now);
  double after = yz__ps_score(R, &P[0], now);
  assert_true(after > mesh10 + 0.49 && after < mesh10 + 0.51);
  /* Validator verdicts: REJECT penalises, IGNORE does not. */
  net_free();
}

static yz__ps_verdict verdict;
static yz__ps_verdict validate(void *vud, const yz_ps_msg *m,
                               const uint8_t id[32], const yz_node_id *from)
{
  (void)vud, (void)m, (void)id, (void)from;
  return verdict;
}

static void test_validator(void **state)
{
  (void)state;
  solo(NULL, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, validate, NULL, now), 0);
  sub_graft(0, topic, false);
  verdict = YZ__PS_IGNORE;
  yz_ps_msg m = make(1, topic, 0);
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = m;
  from_peer(0, &out);
  const yz__ps_stats *st = yz__ps_stats_get(R);
  assert_int_equal(st->ignored, 1);
  assert_true(yz__ps_score(R, &P[0], now) == 0);
  assert_int_equal(nodes[0].got[1], 0);
  verdict = YZ__PS_REJECT;
  out.publish[0] = make(2, topic, 0);
  from_peer(0, &out);
  assert_int_equal(st->rejected, 1);
  assert_true(yz__ps_score(R, &P[0], now) < 0);
  verdict = YZ__PS_ACCEPT;
  out.publish[0] = make(3, topic, 0);
  from_peer(0, &out);
  assert_int_equal(nodes[0].got[3], 1);
  /* Seen: the ignored message is not validated again. */
  out.publish[0] = m;
  from_peer(0, &out);
  assert_int_equal(st->duplicates, 1);
  /* Expired, and expiring too far ahead. */
  yz_ps_msg e = make(4, topic, 0);
  e.expiry = now / 1000;
  assert_int_equal(yz_ps_msg_sign_raw(&e, author_sk, NULL), 0);
  out.publish[0] = e;
  from_peer(0, &out);
  assert_int_equal(st->expired, 1);
  e.expiry = now / 1000 + cfg.max_lifetime_s + 1;
  assert_int_equal(yz_ps_msg_sign_raw(&e, author_sk, NULL), 0);
  out.publish[0] = e;
  from_peer(0, &out);
  assert_int_equal(st->rejected, 2);
  /* A topic we do not subscribe: neither delivered nor relayed. */
  out.publish[0] = make(5, topic2, 0);
  from_peer(0, &out);
  assert_int_equal(st->ignored, 2);
  net_free();
}

static void test_fanout_and_px(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.flood_publish = false;
  solo(&c, 8, NULL);
  for (size_t i = 0; i < 8; i++)
    sub_graft(i, topic2, false);
  yz_ps_msg m = make(1, topic2, 0);
  assert_int_equal(yz__ps_publish(R, &m, now), (int)cfg.D);
  assert_int_equal(yz__ps_mesh(R, topic2, true, NULL, 0), cfg.D);
  heartbeats(59);
  assert_int_equal(yz__ps_mesh(R, topic2, true, NULL, 0), cfg.D);
  heartbeats(1); /* fanout_ttl after the last publish */
  assert_int_equal(yz__ps_mesh(R, topic2, true, NULL, 0), 0);
  size_t topics;
  yz__ps_sizes(R, NULL, NULL, NULL, &topics, NULL);
  assert_int_equal(topics, 0);
  net_free();

  /* Oversubscription: D_hi = 3, D = 2, D_lo = 2; inbound GRAFTs over D_hi
   * are refused with PX, the outbound ones (odd peers) get in, and the
   * heartbeat trims the mesh to D with PX in its PRUNEs. */
  c = cfg;
  c.D = 2, c.D_lo = 2, c.D_hi = 3, c.D_out = 1, c.D_score = 1;
  solo(&c, 8, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  size_t mark = n_caps;
  for (size_t i = 0; i < 8; i++)
    sub_graft(i, topic, true);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 4); /* 3 + 1 */
  px_n = 0;
  size_t prunes = 0;
  for (size_t i = 0; i < 8; i++)
    prunes += seen_for(i, mark, prune_px);
  assert_int_equal(prunes, 4);
  assert_true(px_n > 0);
  heartbeats(1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  /* PX is taken only from well-scored peers: a fresh peer's is not. */
  yz_ps_rpc_init(&out);
  static const uint8_t rec[] = {0xa1, 0x01, 0x09};
  yz_ps_bytes px = {rec, sizeof rec};
  out.n_prune = 1;
  out.prune[0] = (yz_ps_prune){topic, 0, &px, 1};
  n_px = 0;
  from_peer(0, &out);
  assert_int_equal(n_px, 0);
  net_free();
}

/* A mesh over D (here by GRAFTs, up to D_hi) sheds one peer per
 * heartbeat once it has been over D for three heartbeats in a row, down
 * to D (docs/pubsub.md "Mesh size"): the peer that just joined stays, at
 * least D_out outbound peers stay, the pruned get a 10 s backoff, and a
 * mesh at D is left alone. */
static size_t trim_prunes;
static bool trim_prune(const yz_ps_rpc *r)
{
  for (size_t i = 0; i < r->n_prune; i++)
    trim_prunes += r->prune[i].backoff == 10;
  return r->n_prune > 0;
}

static bool in_mesh(const yz_node_id *id)
{
  yz_node_id m[8];
  size_t n = yz__ps_mesh(R, topic, false, m, 8);
  for (size_t k = 0; k < n; k++)
    if (memcmp(m[k].bytes, id->bytes, 32) == 0)
      return true;
  return false;
}

static void test_mesh_trimmed_to_d(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.D = 3, c.D_lo = 2, c.D_hi = 7, c.D_out = 1, c.D_score = 1;
  solo(&c, 8, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 5; i++) /* a storm of GRAFTs: all taken */
    sub_graft(i, topic, true);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 5);
  size_t mark = n_caps;
  heartbeats(2); /* over D for two heartbeats: kept */
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 5);
  sub_graft(5, topic, true); /* a newcomer, just before the third */
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 6);
  heartbeats(1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 5);
  assert_true(in_mesh(&P[5]));
  heartbeats(2);
  yz_node_id m[8];
  assert_int_equal(yz__ps_mesh(R, topic, false, m, 8), c.D);
  size_t out = 0, prunes = 0;
  for (size_t k = 0; k < c.D; k++)
    out += (m[k].bytes[0] - 0xa0) % 2; /* odd peers are outbound */
  assert_true(out >= c.D_out);
  trim_prunes = 0;
  for (size_t i = 0; i < 8; i++)
    prunes += seen_for(i, mark, trim_prune);
  assert_int_equal(prunes, 3);
  assert_int_equal(trim_prunes, 3);
  /* At D it stays: no PRUNE, no GRAFT. */
  mark = n_caps;
  heartbeats(5);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), c.D);
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(seen_for(i, mark, has_prune), 0);
    assert_int_equal(seen_for(i, mark, has_graft), 0);
  }
  net_free();
}

/* trim_after 0: a mesh anywhere up to D_hi stays as it is (gossipsub
 * v1.1's rule), only one over D_hi is cut. */
static void test_mesh_trim_off(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.D = 3, c.D_lo = 2, c.D_hi = 7, c.D_out = 1, c.D_score = 1;
  c.trim_after = 0;
  solo(&c, 8, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 5; i++)
    sub_graft(i, topic, true);
  size_t mark = n_caps;
  heartbeats(6);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 5);
  size_t prunes = 0;
  for (size_t i = 0; i < 8; i++)
    prunes += seen_for(i, mark, trim_prune);
  assert_int_equal(prunes, 0);
}

/* A PRUNE that leaves the mesh under D_lo is answered with GRAFTs to
 * other subscribed peers at once, not at the next heartbeat; the pruner
 * is not among them (its backoff). */
static void test_prune_regrafts_at_once(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.D = 3, c.D_lo = 2, c.D_hi = 7, c.D_out = 1, c.D_score = 1;
  solo(&c, 6, NULL);
  for (size_t i = 0; i < 6; i++)
    sub_graft(i, topic, false);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  yz_node_id m[8];
  assert_int_equal(yz__ps_mesh(R, topic, false, m, 8), c.D);
  size_t gone = (size_t)(m[0].bytes[0] - 0xa0), other =
      (size_t)(m[1].bytes[0] - 0xa0);
  yz_ps_rpc_init(&out);
  out.n_prune = 1;
  out.prune[0] = (yz_ps_prune){topic, 10, NULL, 0};
  size_t mark = n_caps;
  from_peer(gone, &out); /* 2 left: at D_lo, nothing to do */
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  size_t grafts = 0;
  for (size_t i = 0; i < 6; i++)
    grafts += seen_for(i, mark, has_graft);
  assert_int_equal(grafts, 0);
  from_peer(other, &out); /* 1 left: under D_lo */
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), c.D);
  for (size_t i = 0; i < 6; i++)
    grafts += seen_for(i, mark, has_graft);
  assert_int_equal(grafts, 2);
  assert_int_equal(seen_for(gone, mark, has_graft), 0);
  assert_int_equal(seen_for(other, mark, has_graft), 0);
  net_free();
}

static void test_idontwant(void **state)
{
  (void)state;
  solo(NULL, 3, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 3; i++)
    sub_graft(i, topic, true);
  /* A large message from peer 0: IDONTWANT to the others of the mesh. */
  size_t mark = n_caps;
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = make(1, topic, 290);
  assert_true(out.publish[0].data_len < cfg.idontwant_min_len);
  from_peer(0, &out);
  assert_int_equal(seen_for(1, mark, has_idontwant), 0);
  net_free();
  yz__ps_config c = cfg;
  c.idontwant_min_len = 200;
  c.max_dontwant = 2;
  solo(&c, 3, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 3; i++)
    sub_graft(i, topic, true);
  mark = n_caps;
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = make(1, topic, 290);
  from_peer(0, &out);
  assert_int_equal(seen_for(1, mark, has_idontwant), 1);
  assert_int_equal(seen_for(2, mark, has_idontwant), 1);
  assert_int_equal(seen_for(0, mark, has_idontwant), 0);
  net_free();
}

static void test_dontwant_bound(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.max_dontwant = 2;
  solo(&c, 2, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  sub_graft(1, topic, true);
  yz_ps_msg ms[3] = {make(2, topic, 0), make(3, topic, 0), make(4, topic, 0)};
  uint8_t ids[3][32];
  for (int i = 0; i < 3; i++)
    assert_int_equal(yz_ps_msg_id(&ms[i], ids[i]), 0);
  uint8_t sorted[3][32];
  memcpy(sorted, ids, sizeof ids);
  qsort(sorted, 3, 32, cmp32);
  yz_ps_rpc_init(&out);
  out.idontwant = (yz_ps_list){sorted[0], 3, 0};
  from_peer(1, &out);
  /* Ring of two: the first of the three (in wire order) is forgotten. */
  size_t mark = n_caps;
  for (int i = 0; i < 3; i++) {
    yz_ps_rpc_init(&out);
    out.n_publish = 1;
    out.publish[0] = ms[i];
    from_peer(0, &out);
  }
  count_msgs_n = 0;
  seen_for(1, mark, count_msgs);
  assert_int_equal(count_msgs_n, 1);
  assert_int_equal(yz__ps_stats_get(R)->dontwant_skipped, 2);
  net_free();
}

/* ---- bounds
 * ------------------------------------------------------------------ */

static void test_bounds_tables(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.max_peers = 3;
  c.max_topics = 2;
  c.max_peer_topics = 2;
  solo(&c, 3, NULL);
  yz_node_id extra;
  memset(extra.bytes, 0x55, 32);
  assert_int_equal(yz__ps_peer_add(R, &extra, NULL, false, NULL, 0, now),
                   YZ_E_LIMIT);
  assert_int_equal(yz__ps_peer_add(R, &P[0], NULL, false, NULL, 0, now),
                   YZ_E_INVAL);
  assert_int_equal(yz__ps_peer_remove(R, &extra, now), YZ_E_NOT_FOUND);
  uint8_t t3[32];
  memset(t3, 3, 32);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  assert_int_equal(yz__ps_subscribe(R, topic2, NULL, NULL, now), 0);
  assert_int_equal(yz__ps_subscribe(R, t3, NULL, NULL, now), YZ_E_LIMIT);
  yz_ps_msg m = make(1, t3, 0);
  assert_int_equal(yz__ps_publish(R, &m, now), YZ_E_LIMIT);
  /* Subscriptions per peer: the third is not tracked. */
  uint8_t ts[3][32];
  for (int i = 0; i < 3; i++)
    memset(ts[i], 0x10 + i, 32);
  yz_ps_rpc_init(&out);
  out.subscribe = (yz_ps_list){ts[0], 3, 0};
  from_peer(0, &out);
  assert_int_equal(yz__ps_stats_get(R)->peer_topics_full, 1);
  assert_int_equal(yz__ps_peer_remove(R, &P[0], now), 0);
  assert_int_equal(yz__ps_peer_add(R, &extra, NULL, false, NULL, 0, now), 0);
  net_free();
  /* Bad configs are refused. */
  c = cfg;
  c.D_lo = 7;
  yz__ps_callbacks cb = {cb_send, cb_deliver, rnd_node, NULL, NULL};
  assert_null(yz__ps_router_new(&nodes[0].id, &c, &cb, now));
  c = cfg;
  c.score.graylist_threshold = 0;
  assert_null(yz__ps_router_new(&nodes[0].id, &c, &cb, now));
  c = cfg;
  c.mcache_gossip = 6;
  assert_null(yz__ps_router_new(&nodes[0].id, &c, &cb, now));
}

static void test_bounds_caches(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.seen_max = 4;
  c.mcache_max = 2;
  solo(&c, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, false);
  for (unsigned k = 1; k <= 5; k++) {
    yz_ps_rpc_init(&out);
    out.n_publish = 1;
    out.publish[0] = make(k, topic, 0);
    from_peer(0, &out);
  }
  const yz__ps_stats *st = yz__ps_stats_get(R);
  size_t seen, mc;
  yz__ps_sizes(R, &seen, &mc, NULL, NULL, NULL);
  assert_int_equal(seen, 4);
  assert_int_equal(mc, 2);
  assert_int_equal(st->seen_evicted, 1);
  assert_int_equal(st->mcache_full, 3);
  /* Message 1 left the full seen-cache: it is new again. */
  yz_ps_rpc_init(&out);
  out.n_publish = 1;
  out.publish[0] = make(1, topic, 0);
  from_peer(0, &out);
  assert_int_equal(nodes[0].got[1], 2);
  /* The message cache ages out after mcache_len heartbeats, the
   * seen-cache after the longest lifetime. */
  heartbeats(cfg.mcache_len);
  yz__ps_sizes(R, &seen, &mc, NULL, NULL, NULL);
  assert_int_equal(mc, 0);
  assert_int_equal(seen, 4);
  now += cfg.max_lifetime_s * 1000;
  yz__ps_heartbeat(R, now);
  yz__ps_sizes(R, &seen, NULL, NULL, NULL, NULL);
  assert_int_equal(seen, 0);
  net_free();
}

static void test_bounds_gossip(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.max_ihave_msgs = 2;
  c.max_ihave_len = 3;
  c.max_promises = 4;
  c.gossip_retransmission = 2;
  c.max_outbox = 2;
  solo(&c, 2, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, false);
  sub_graft(1, topic, false);
  static uint8_t ids[8][32];
  for (int i = 0; i < 8; i++)
    memset(ids[i], 0x30 + i, 32);
  /* An IHAVE of 4 IDs: 3 asked (max_ihave_len), 1 capped. */
  yz_ps_rpc_init(&out);
  out.n_ihave = 1;
  out.ihave[0] = (yz_ps_ihave){topic, {ids[0], 4, 0}};
  from_peer(0, &out);
  const yz__ps_stats *st = yz__ps_stats_get(R);
  assert_int_equal(st->iwant_capped, 1);
  /* Peer 1: 2 more IDs, one over max_promises (4). */
  out.ihave[0] = (yz_ps_ihave){topic, {ids[4], 2, 0}};
  from_peer(1, &out);
  assert_int_equal(st->promises_full, 1);
  /* A third IHAVE RPC of peer 1 this heartbeat is over max_ihave_msgs. */
  from_peer(1, &out);
  from_peer(1, &out);
  assert_int_equal(st->ihave_dropped, 1);
  /* IWANT: answered gossip_retransmission times per ID and peer. */
  yz_ps_msg m = make(1, topic, 0);
  assert_true(yz__ps_publish(R, &m, now) >= 1);
  uint8_t id[32];
  assert_int_equal(yz_ps_msg_id(&m, id), 0);
  yz_ps_rpc_init(&out);
  out.iwant = (yz_ps_list){id, 1, 0};
  size_t mark = n_caps;
  for (int i = 0; i < 3; i++)
    from_peer(0, &out);
  count_msgs_n = 0;
  seen_for(0, mark, count_msgs);
  assert_int_equal(count_msgs_n, 2);
  assert_int_equal(st->iwant_refused, 1);
  /* The outbox: three cached messages wanted at once, two queued. */
  net_free();
  c = cfg;
  c.max_outbox = 2;
  c.flood_publish = false;
  solo(&c, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  uint8_t want[3][32];
  for (unsigned k = 1; k <= 3; k++) {
    yz_ps_msg mk = make(k, topic, 0);
    assert_int_equal(yz__ps_publish(R, &mk, now), 0); /* no mesh yet */
    assert_int_equal(yz_ps_msg_id(&mk, want[k - 1]), 0);
  }
  qsort(want, 3, 32, cmp32);
  sub_graft(0, topic, false);
  yz_ps_rpc_init(&out);
  out.iwant = (yz_ps_list){want[0], 3, 0};
  mark = n_caps;
  from_peer(0, &out);
  count_msgs_n = 0;
  seen_for(0, mark, count_msgs);
  assert_int_equal(count_msgs_n, 2);
  assert_int_equal(yz__ps_stats_get(R)->outbox_full, 1);
  net_free();
}

static void test_bounds_rate(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.msg_rate_per_s = 2;
  c.msg_burst = 3;
  solo(&c, 1, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, false);
  yz_ps_rpc_init(&out);
  out.n_publish = 5;
  for (unsigned k = 0; k < 5; k++)
    out.publish[k] = make(k + 1, topic, 0);
  from_peer(0, &out);
  const yz__ps_stats *st = yz__ps_stats_get(R);
  assert_int_equal(st->delivered, 3);
  assert_int_equal(st->rate_limited, 2);
  /* One second later: two more tokens. */
  now += 1000;
  for (unsigned k = 0; k < 5; k++)
    out.publish[k] = make(k + 10, topic, 0);
  from_peer(0, &out);
  assert_int_equal(st->delivered, 5);
  assert_int_equal(st->rate_limited, 5);
  net_free();
}

static void test_gossip_emission(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.D = 1, c.D_lo = 1, c.D_hi = 1, c.D_out = 0, c.D_score = 0;
  c.D_lazy = 2;
  c.flood_publish = false;
  solo(&c, 4, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 4; i++)
    sub_graft(i, topic, false);
  yz__ps_heartbeat(R, now);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 1);
  yz_ps_msg m = make(1, topic, 0);
  assert_int_equal(yz__ps_publish(R, &m, now), 1);
  /* mcache_gossip = 3 heartbeats of IHAVE, to D_lazy = 2 of the three
   * peers outside the mesh each time; then the message is too old. */
  for (unsigned h = 0; h < 5; h++) {
    size_t mark = n_caps, k = 0;
    now += 1000;
    yz__ps_heartbeat(R, now);
    for (size_t i = 0; i < 4; i++)
      k += seen_for(i, mark, has_ihave);
    assert_int_equal(k, h < 3 ? 2 : 0);
  }
  net_free();
}

static void test_bounds_backoff_px(void **state)
{
  (void)state;
  /* PX: at most max_px records per PRUNE. */
  yz__ps_config c = cfg;
  c.D = 2, c.D_lo = 2, c.D_hi = 3, c.D_out = 1, c.D_score = 1;
  c.max_px = 1;
  solo(&c, 8, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  size_t mark = n_caps;
  for (size_t i = 0; i < 8; i += 2) /* inbound peers: the 4th is refused */
    sub_graft(i, topic, true);
  px_n = 0;
  assert_int_equal(seen_for(6, mark, prune_px), 1);
  assert_int_equal(px_n, 1);
  /* A backoff received is cut to max_backoff_s. */
  yz_ps_rpc_init(&out);
  out.n_prune = 1;
  out.prune[0] = (yz_ps_prune){topic, 1000000, NULL, 0};
  from_peer(0, &out);
  assert_true(yz__ps_in_backoff(R, topic, &P[0], now));
  assert_false(
      yz__ps_in_backoff(R, topic, &P[0], now + cfg.max_backoff_s * 1000));
  net_free();
  /* The backoff table of a topic holds max_peers entries: a fourth peer's
   * backoff replaces the one ending first. */
  c = cfg;
  c.max_peers = 3;
  solo(&c, 3, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  for (size_t i = 0; i < 3; i++) {
    yz_ps_rpc_init(&out);
    out.n_prune = 1;
    out.prune[0] = (yz_ps_prune){topic, 100 + 10 * i, NULL, 0};
    from_peer(i, &out);
  }
  assert_int_equal(yz__ps_peer_remove(R, &P[2], now), 0);
  memset(P[3].bytes, 0xa3, 32);
  assert_int_equal(yz__ps_peer_add(R, &P[3], NULL, false, NULL, 0, now), 0);
  yz_ps_rpc_init(&out);
  out.n_prune = 1;
  out.prune[0] = (yz_ps_prune){topic, 500, NULL, 0};
  from_peer(3, &out);
  assert_false(yz__ps_in_backoff(R, topic, &P[0], now)); /* replaced */
  assert_true(yz__ps_in_backoff(R, topic, &P[1], now));
  assert_true(yz__ps_in_backoff(R, topic, &P[2], now)); /* gone, kept */
  assert_true(yz__ps_in_backoff(R, topic, &P[3], now));
  net_free();
}

static void test_bounds_retained(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.max_retained = 1;
  c.retain_score_ms = 5000;
  solo(&c, 3, NULL);
  for (size_t i = 0; i < 3; i++)
    yz__ps_rpc_malformed(R, &P[i]);
  assert_int_equal(yz__ps_peer_remove(R, &P[0], now), 0);
  assert_int_equal(yz__ps_peer_remove(R, &P[1], now), 0);
  assert_int_equal(yz__ps_retained(R), 1);
  assert_int_equal(yz__ps_stats_get(R)->retained_full, 1);
  /* A peer without penalties is not remembered. */
  memset(P[3].bytes, 0xa3, 32);
  assert_int_equal(yz__ps_peer_add(R, &P[3], NULL, false, NULL, 0, now), 0);
  assert_int_equal(yz__ps_peer_remove(R, &P[3], now), 0);
  assert_int_equal(yz__ps_retained(R), 1);
  /* Peer 1's penalty comes back with it; peer 0's was forgotten. */
  assert_int_equal(yz__ps_peer_add(R, &P[1], NULL, false, NULL, 0, now), 0);
  assert_true(yz__ps_score(R, &P[1], now) < 0);
  assert_int_equal(yz__ps_peer_add(R, &P[0], NULL, false, NULL, 0, now), 0);
  assert_true(yz__ps_score(R, &P[0], now) == 0);
  /* Retention ends after retain_score_ms. */
  assert_int_equal(yz__ps_peer_remove(R, &P[2], now), 0);
  assert_int_equal(yz__ps_retained(R), 1);
  now += 5000;
  yz__ps_heartbeat(R, now);
  assert_int_equal(yz__ps_retained(R), 0);
  net_free();
}

static void test_opportunistic_graft(void **state)
{
  (void)state;
  yz__ps_config c = cfg;
  c.D = 2, c.D_lo = 2, c.D_hi = 3, c.D_out = 0, c.D_score = 1;
  solo(&c, 3, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  sub_graft(1, topic, true);
  sub_graft(2, topic, false);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  heartbeats(59);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  /* Peer 2, outside the mesh, delivers first: its score (P2) passes the
   * mesh's median (P1: 0.59), which is under the threshold of 1. */
  yz_ps_rpc_init(&out);
  out.n_publish = 3;
  for (unsigned k = 0; k < 3; k++)
    out.publish[k] = make(k + 1, topic, 0);
  from_peer(2, &out);
  size_t mark = n_caps;
  heartbeats(1);
  assert_int_equal(yz__ps_stats_get(R)->opportunistic_grafts, 1);
  assert_int_equal(seen_for(2, mark, has_graft), 1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 3);
  net_free();
  /* Off: ticks 0. */
  c.opportunistic_graft_ticks = 0;
  solo(&c, 3, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  sub_graft(1, topic, true);
  sub_graft(2, topic, false);
  heartbeats(59);
  from_peer(2, &out);
  heartbeats(1);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  net_free();
}

static void test_mesh_deliveries(void **state)
{
  (void)state;
  /* P3 on: a mesh peer that never forwards scores below 0 once active and
   * is pruned; leaving with the deficit leaves a sticky P3b penalty. */
  yz__ps_config c = cfg;
  c.D = 2, c.D_lo = 2, c.D_hi = 3, c.D_out = 0, c.D_score = 1;
  c.score.mesh_deliveries_weight = -10;
  c.score.mesh_failure_weight = -5;
  c.score.time_in_mesh_weight = 0;
  c.score.first_delivery_weight = 0;
  solo(&c, 2, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  sub_graft(1, topic, true);
  unsigned k = 1;
  for (unsigned h = 0; h < 4; h++) {
    /* Peer 1 delivers first (two a second: over the threshold of 1 with
     * the decay of 0.5); peer 0 sends the same messages 20 ms late
     * (outside the 10 ms window): no credit. */
    yz_ps_rpc_init(&out);
    out.n_publish = 2;
    out.publish[0] = make(k++, topic, 0);
    out.publish[1] = make(k++, topic, 0);
    from_peer(1, &out);
    now += 20;
    from_peer(0, &out);
    now += 980;
    yz__ps_heartbeat(R, now);
  }
  /* Not active yet (5 s): no penalty. */
  assert_true(yz__ps_score(R, &P[0], now) == 0);
  now += 1000;
  yz_ps_rpc_init(&out);
  out.n_publish = 2;
  out.publish[0] = make(k++, topic, 0);
  out.publish[1] = make(k++, topic, 0);
  from_peer(1, &out);
  assert_true(yz__ps_score(R, &P[0], now) < 0); /* deficit 1: -10 */
  assert_true(yz__ps_score(R, &P[1], now) == 0);
  yz__ps_heartbeat(R, now);
  yz_node_id m[4];
  assert_int_equal(yz__ps_mesh(R, topic, false, m, 4), 1);
  assert_memory_equal(m[0].bytes, P[1].bytes, 32);
  double sticky = yz__ps_score(R, &P[0], now);
  assert_true(sticky > -5.001 && sticky < -4.999); /* P3b: 1 x -5 */
  now += 1000;
  yz__ps_heartbeat(R, now);
  assert_true(yz__ps_score(R, &P[0], now) > sticky); /* decays */
  net_free();

  /* A duplicate inside the window counts as a delivery. */
  solo(&c, 2, NULL);
  assert_int_equal(yz__ps_subscribe(R, topic, NULL, NULL, now), 0);
  sub_graft(0, topic, true);
  sub_graft(1, topic, true);
  for (unsigned h = 0; h < 6; h++) {
    yz_ps_rpc_init(&out);
    out.n_publish = 2;
    out.publish[0] = make(k++, topic, 0);
    out.publish[1] = make(k++, topic, 0);
    from_peer(1, &out);
    now += 5;
    from_peer(0, &out);
    now += 995;
    yz__ps_heartbeat(R, now);
  }
  assert_true(yz__ps_score(R, &P[0], now) == 0);
  assert_int_equal(yz__ps_mesh(R, topic, false, NULL, 0), 2);
  net_free();
}

static void test_malformed_and_unknown(void **state)
{
  (void)state;
  solo(NULL, 1, NULL);
  yz__ps_rpc_malformed(R, &P[0]);
  assert_true(yz__ps_score(R, &P[0], now) < 0);
  yz_node_id nobody;
  memset(nobody.bytes, 0x66, 32);
  yz_ps_rpc_init(&out);
  out.subscribe = (yz_ps_list){topic, 1, 0};
  assert_int_equal(yz__ps_rpc_in(R, &nobody, &out, now), YZ_E_NOT_FOUND);
  assert_int_equal(yz__ps_unsubscribe(R, topic, now), YZ_E_NOT_FOUND);
  yz_ps_msg bad = make(1, topic, 0);
  bad.seq++;
  assert_int_equal(yz__ps_publish(R, &bad, now), YZ_E_INVAL);
  net_free();
}

/* After each test, pass or fail: nothing left allocated. */
static int teardown(void **state)
{
  (void)state;
  while (qhead) {
    struct qent *e = qhead;
    qhead = e->next;
    free(e->b);
    free(e);
  }
  qtail = NULL;
  for (size_t i = 0; i < MAXN; i++) {
    yz__ps_router_free(nodes[i].r);
    nodes[i].r = NULL;
  }
  for (size_t i = 0; i < n_caps; i++)
    free(caps[i].b);
  n_caps = 0;
  n_nodes = 0;
  capture = false;
  return 0;
}

static int setup(void **state)
{
  (void)state;
  yz__ps_config_default(&cfg);
  keys();
  return 0;
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_mesh_converges, teardown),
      cmocka_unit_test_teardown(test_delivery_exactly_once, teardown),
      cmocka_unit_test_teardown(test_kill_and_repair, teardown),
      cmocka_unit_test_teardown(test_gossip_repairs_a_miss, teardown),
      cmocka_unit_test_teardown(test_backoff, teardown),
      cmocka_unit_test_teardown(test_graylist_spammer, teardown),
      cmocka_unit_test_teardown(test_promises, teardown),
      cmocka_unit_test_teardown(test_scoring, teardown),
      cmocka_unit_test_teardown(test_validator, teardown),
      cmocka_unit_test_teardown(test_fanout_and_px, teardown),
      cmocka_unit_test_teardown(test_mesh_trimmed_to_d, teardown),
      cmocka_unit_test_teardown(test_mesh_trim_off, teardown),
      cmocka_unit_test_teardown(test_prune_regrafts_at_once, teardown),
      cmocka_unit_test_teardown(test_idontwant, teardown),
      cmocka_unit_test_teardown(test_dontwant_bound, teardown),
      cmocka_unit_test_teardown(test_bounds_tables, teardown),
      cmocka_unit_test_teardown(test_bounds_caches, teardown),
      cmocka_unit_test_teardown(test_bounds_gossip, teardown),
      cmocka_unit_test_teardown(test_bounds_rate, teardown),
      cmocka_unit_test_teardown(test_gossip_emission, teardown),
      cmocka_unit_test_teardown(test_bounds_backoff_px, teardown),
      cmocka_unit_test_teardown(test_bounds_retained, teardown),
      cmocka_unit_test_teardown(test_opportunistic_graft, teardown),
      cmocka_unit_test_teardown(test_mesh_deliveries, teardown),
      cmocka_unit_test_teardown(test_malformed_and_unknown, teardown),
  };
  return cmocka_run_group_tests_name("pubsub_router", tests, setup, NULL);
}
