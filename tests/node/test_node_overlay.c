/*
 * What the overlay needs of the node (yz/node.h), on the link layer's
 * in-memory network: several peer observers, peer enumeration and retained
 * peer info, dials with their own completion callback, request
 * cancellation, a stop that runs no callback synchronously, the connection
 * policy (cap, protected peers, least recently used idle links closed) and
 * the network name. Deterministic: the loop runs until a condition holds;
 * the connection policy runs on a virtual clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/session.h"

#include "wait.h"

static uv_loop_t loop;
static yz_link_memnet *net;
static uint64_t vclock;

static uint64_t vclock_fn(void *ud)
{
  (void)ud;
  return vclock;
}

/* One node of a test and what happened to it. */
struct on {
  yz_node *node;
  yz_identity id;
  char addr[160];
  int peer_up, peer_down;
  int last_down_err;
  char last_down_reason[160];
  bool stopped;
  char log[256]; /* the order observers ran in */
  int links_down; /* cfg.cb.on_link, where a test sets it */
};

static void logf_(struct on *o, const char *what)
{
  size_t l = strlen(o->log);
  snprintf(o->log + l, sizeof o->log - l, "%s%s", l ? "," : "", what);
}

static void cb_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  (void)p;
  struct on *o = ud;
  o->peer_up++;
  logf_(o, "cfg+");
}

static void cb_peer_down(yz_node *n, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  struct on *o = ud;
  o->peer_down++;
  o->last_down_err = err;
  snprintf(o->last_down_reason, sizeof o->last_down_reason, "%s", reason);
  logf_(o, "cfg-");
}

static void cb_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct on *)arg)->stopped = true;
}

/* Flags for on_new(). */
enum { VIRTUAL = 1, LISTEN = 2 };

static void on_new(struct on *o, int idx, unsigned flags,
                   const yz_node_config *base)
{
  memset(o, 0, sizeof *o);
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0x30 + idx, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&o->id, seed), 0);
  yz_node_config cfg;
  if (base != NULL)
    cfg = *base;
  else
    yz_node_config_default(&cfg);
  cfg.identity = &o->id;
  cfg.user_data = o;
  cfg.cb.on_peer_up = cb_peer_up;
  cfg.cb.on_peer_down = cb_peer_down;
  cfg.link.memnet = net;
  if (flags & VIRTUAL) {
    cfg.link.virtual_time = true;
    cfg.link.clock_ms = vclock_fn;
  }
  assert_int_equal(yz_node_new(&o->node, &loop, &cfg), 0);
  if (flags & LISTEN) {
    char url[64];
    snprintf(url, sizeof url, "ws://10.9.0.%d:7700", idx);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(o->node, &lc), 0);
    snprintf(o->addr, sizeof o->addr, "%s", yz_node_address(o->node, 0));
  }
}

static void on_stop(struct on *o)
{
  if (o->node == NULL)
    return;
  if (!o->stopped)
    yz_node_stop(o->node, cb_stopped, o);
  WAIT_FOR(o->stopped);
  yz_node_free(o->node);
  o->node = NULL;
  yz_identity_clear(&o->id);
}

static int setup(void **state)
{
  (void)state;
  vclock = 1000000;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

/* ---- observers, enumeration, info ---- */

struct obs {
  struct on *o;
  const char *name;
  uint64_t token;
  struct obs *add_on_up;    /* add this observer during the up event */
  bool remove_self_on_up;
};

static void obs_up(yz_node *n, const yz_link_peer *p, void *ud);
static void obs_down(yz_node *n, const yz_node_id *peer, int err,
                     const char *reason, void *ud);
static const yz_node_peer_observer obs_fns = {obs_up, obs_down};

static void obs_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)p;
  struct obs *b = ud;
  char t[32];
  snprintf(t, sizeof t, "%s+", b->name);
  logf_(b->o, t);
  if (b->add_on_up != NULL) {
    assert_int_equal(yz_node_peer_observer_add(n, &obs_fns, b->add_on_up,
                                               &b->add_on_up->token),
                     0);
    b->add_on_up = NULL;
  }
  if (b->remove_self_on_up) {
    assert_int_equal(yz_node_peer_observer_remove(n, b->token), 0);
    b->remove_self_on_up = false;
  }
}

static void obs_down(yz_node *n, const yz_node_id *peer, int err,
                     const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  (void)err;
  (void)reason;
  struct obs *b = ud;
  char t[32];
  snprintf(t, sizeof t, "%s-", b->name);
  logf_(b->o, t);
}

static void test_observers_and_info(void **state)
{
  (void)state;
  static struct on a, b;
  on_new(&a, 1, LISTEN, NULL);
  /* b advertises the optional proof fields, which a retains. */
  const char *urls[] = {"ws://10.9.0.2:7700/", "wss://b.example/yz"};
  const uint64_t types[] = {YZ_WIRE_CLIENT_WS,
                            YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS};
  const yz_session_proof_options po = {
      .n_addresses = 2, .address_urls = urls, .address_client_types = types,
      .node_type = YZ_WIRE_NODE_INFRASTRUCTURE, .has_capabilities = true,
      .capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE,
      .version = "yz test"};
  yz_node_config bcfg;
  yz_node_config_default(&bcfg);
  bcfg.link.proof = &po;
  on_new(&b, 2, 0, &bcfg);
  struct obs o1 = {.o = &a, .name = "o1"}, o2 = {.o = &a, .name = "o2"},
             o3 = {.o = &a, .name = "o3"};
  o1.add_on_up = &o3;        /* sees the next event only */
  o2.remove_self_on_up = true;
  assert_int_equal(yz_node_peer_observer_add(a.node, &obs_fns, &o1,
                                             &o1.token), 0);
  assert_int_equal(yz_node_peer_observer_add(a.node, &obs_fns, &o2,
                                             &o2.token), 0);
  assert_int_not_equal(o1.token, o2.token);
  assert_int_equal(yz_node_peer_observer_remove(a.node, 12345),
                   YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);

  yz_node_id ids[4];
  assert_int_equal(yz_node_peers(a.node, ids, 4), 0);
  yz_node_peer_info info;
  assert_int_equal(yz_node_peer_info_get(a.node, &b.id.id, &info),
                   YZ_E_NOT_FOUND);

  assert_int_equal(yz_node_dial(b.node, a.addr, NULL), 0);
  WAIT_FOR(a.peer_up == 1 && b.peer_up == 1);
  assert_string_equal(a.log, "cfg+,o1+,o2+");

  /* Enumeration and the retained proof fields, while the peer is up. */
  assert_int_equal(yz_node_peers(a.node, ids, 4), 1);
  assert_memory_equal(ids[0].bytes, b.id.id.bytes, YZ_NODE_ID_LEN);
  assert_int_equal(yz_node_peers(a.node, NULL, 0), 1);
  assert_int_equal(yz_node_peer_info_get(a.node, &b.id.id, &info), 0);
  assert_memory_equal(info.id.bytes, b.id.id.bytes, YZ_NODE_ID_LEN);
  assert_memory_equal(info.proof.identity_pk, b.id.pk, YZ_IDENTITY_PK_LEN);
  assert_int_equal(info.direction, YZ_LINK_INBOUND);
  assert_int_equal(info.proof.n_addresses, 2);
  assert_string_equal(info.proof.addresses[0].url, "ws://10.9.0.2:7700/");
  assert_int_equal(info.proof.addresses[0].client_types, YZ_WIRE_CLIENT_WS);
  assert_string_equal(info.proof.addresses[1].url, "wss://b.example/yz");
  assert_int_equal(info.proof.addresses[1].client_types,
                   YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS);
  assert_int_equal(info.proof.node_type, YZ_WIRE_NODE_INFRASTRUCTURE);
  assert_true(info.proof.has_capabilities);
  assert_int_equal(info.proof.capabilities,
                   YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE);
  assert_string_equal(info.proof.version, "yz test");
  assert_string_equal(info.remote_addr, "memnet");
  assert_int_equal(yz_node_peer_info_get(b.node, &a.id.id, &info), 0);
  assert_int_equal(info.direction, YZ_LINK_OUTBOUND);
  assert_memory_equal(info.proof.identity_pk, a.id.pk, YZ_IDENTITY_PK_LEN);

  /* o2 removed itself, o3 was added: the down event goes to o1 and o3. */
  a.log[0] = '\0';
  on_stop(&b);
  WAIT_FOR(a.peer_down == 1);
  assert_string_equal(a.log, "cfg-,o1-,o3-");
  assert_int_equal(yz_node_peers(a.node, ids, 4), 0);
  assert_int_equal(yz_node_peer_info_get(a.node, &b.id.id, &info),
                   YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_peer_observer_remove(a.node, o2.token),
                   YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_peer_observer_remove(a.node, o1.token), 0);
  on_stop(&a);
}

/* ---- dial with a callback, request cancel ---- */

struct dres {
  int n;
  int status;
  bool has_peer;
  yz_node_id peer;
  char reason[200];
};

static void dial_done(yz_node *n, int status, const yz_node_id *peer,
                      const char *reason, void *arg)
{
  (void)n;
  struct dres *d = arg;
  d->n++;
  d->status = status;
  d->has_peer = peer != NULL;
  if (peer)
    d->peer = *peer;
  snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "");
}

static int dial_failed_calls;
static void cb_dial_failed(yz_node *n, const char *url,
                           const yz_node_id *expected, int err,
                           const char *reason, void *ud)
{
  (void)n;
  (void)url;
  (void)expected;
  (void)err;
  (void)reason;
  (void)ud;
  dial_failed_calls++;
}

struct rres {
  int n;
  int status;
};

static void req_done(yz_node *n, int status, const yz_node_response *r,
                     void *arg)
{
  (void)n;
  (void)r;
  struct rres *x = arg;
  x->n++;
  x->status = status;
}

static void test_dial_callback_and_cancel(void **state)
{
  (void)state;
  static struct on a, b;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.cb.on_dial_failed = cb_dial_failed;
  dial_failed_calls = 0;
  on_new(&a, 1, LISTEN, &cfg);
  on_new(&b, 2, 0, &cfg);
  /* on_new() set its own peer callbacks over cfg's: the dial_failed one
   * stays. */
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  struct dres d1 = {0}, d2 = {0}, d3 = {0};
  assert_int_equal(yz_node_dial_with(b.node, a.addr, NULL, NULL, NULL),
                   YZ_E_INVAL);

  /* Nobody listens there: the dial fails, reported to its callback only,
   * with the expected node ID. */
  char nowhere[200];
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&a.id.id, hex);
  snprintf(nowhere, sizeof nowhere, "ws://10.9.9.9:7700/#%s", hex);
  assert_int_equal(yz_node_dial_with(b.node, nowhere, NULL, dial_done, &d1),
                   0);
  assert_int_equal(d1.n, 0); /* never from the call */
  WAIT_FOR(d1.n == 1);
  assert_int_equal(d1.status, YZ_E_UNREACHABLE);
  assert_true(d1.has_peer);
  assert_memory_equal(d1.peer.bytes, a.id.id.bytes, YZ_NODE_ID_LEN);
  assert_true(d1.reason[0] != '\0');
  assert_int_equal(dial_failed_calls, 0);

  /* The old interface still reports a failed yz_node_dial(). */
  assert_int_equal(yz_node_dial(b.node, nowhere, NULL), 0);
  WAIT_FOR(dial_failed_calls == 1);

  /* A dial that comes up: status 0 with the peer, which is up by then. */
  assert_int_equal(yz_node_dial_with(b.node, a.addr, NULL, dial_done, &d2),
                   0);
  assert_int_equal(d2.n, 0);
  WAIT_FOR(d2.n == 1);
  assert_int_equal(d2.status, 0);
  assert_memory_equal(d2.peer.bytes, a.id.id.bytes, YZ_NODE_ID_LEN);
  assert_true(yz_node_peer_is_up(b.node, &a.id.id));

  /* Again while up: it succeeds too (a duplicate, closed by the rule). */
  assert_int_equal(yz_node_dial_with(b.node, a.addr, NULL, dial_done, &d3),
                   0);
  WAIT_FOR(d3.n == 1 && a.peer_up == 1);
  assert_int_equal(d3.status, 0);
  assert_int_equal(b.peer_up, 1);

  /* Cancel: the callback never runs; the answer that comes is dropped
   * (the next request's answer comes after it, in order). */
  struct rres r1 = {0}, r2 = {0};
  uint64_t id1 = 0;
  assert_int_equal(yz_node_request(b.node, &a.id.id, YZ_NODE_PROTO_PING,
                                   (const uint8_t *)"x", 1, 0, req_done, &r1,
                                   &id1),
                   0);
  assert_int_equal(yz_node_request_cancel(b.node, id1), 0);
  assert_int_equal(yz_node_request_cancel(b.node, id1), YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_request_cancel(b.node, id1 + 1000),
                   YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_request(b.node, &a.id.id, YZ_NODE_PROTO_PING,
                                   (const uint8_t *)"y", 1, 0, req_done, &r2,
                                   NULL),
                   0);
  WAIT_FOR(r2.n == 1);
  assert_int_equal(r2.status, 0);
  assert_int_equal(r1.n, 0);

  /* A dial in flight when the node stops still gets its one call. */
  struct dres d4 = {0};
  assert_int_equal(yz_node_dial_with(b.node, nowhere, NULL, dial_done, &d4),
                   0);
  yz_node_stop(b.node, cb_stopped, &b);
  WAIT_FOR(b.stopped);
  assert_int_equal(d4.n, 1);
  assert_int_not_equal(d4.status, 0);
  on_stop(&b);
  on_stop(&a);
}

/* ---- stop runs no callback synchronously ---- */

struct stop_probe {
  struct on *o;
  int n;
  int status;
  bool stop_done_first; /* the stop callback ran before this one */
};

static void probe_done(yz_node *n, int status, const yz_node_response *r,
                       void *arg)
{
  (void)n;
  (void)r;
  struct stop_probe *p = arg;
  p->n++;
  p->status = status;
  p->stop_done_first = p->o->stopped;
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

static void test_stop_is_asynchronous(void **state)
{
  (void)state;
  static struct on a, b;
  on_new(&a, 1, LISTEN, NULL);
  on_new(&b, 2, 0, NULL);
  const yz_node_protocol p = {NULL, silent};
  assert_int_equal(yz_node_register(a.node, 500, &p, NULL), 0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_dial(b.node, a.addr, NULL), 0);
  WAIT_FOR(b.peer_up == 1);
  struct stop_probe pr = {.o = &b};
  assert_int_equal(yz_node_request(b.node, &a.id.id, 500, NULL, 0, 60000,
                                   probe_done, &pr, NULL),
                   0);
  yz_node_stop(b.node, cb_stopped, &b);
  /* Nothing ran from inside the call (libuv's rule, yz/node.h). */
  assert_int_equal(pr.n, 0);
  assert_int_equal(b.peer_down, 0);
  assert_false(b.stopped);
  WAIT_FOR(b.stopped);
  assert_int_equal(pr.n, 1);
  assert_int_equal(pr.status, YZ_E_CLOSED);
  assert_false(pr.stop_done_first);
  assert_int_equal(b.peer_down, 1);
  on_stop(&b);
  on_stop(&a);
}

/* ---- the connection policy ---- */

static int policy_msgs;
static void count_msg(yz_node *n, const yz_node_id *from, uint16_t proto,
                      const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)from;
  (void)proto;
  (void)data;
  (void)len;
  (void)ud;
  policy_msgs++;
}

/* Dial a from o and wait until both ends see the peer. */
static void link_to(struct on *o, struct on *a)
{
  int before = a->peer_up;
  assert_int_equal(yz_node_dial(o->node, a->addr, NULL), 0);
  WAIT_FOR(o->peer_up == 1 && a->peer_up == before + 1);
}

/* The node under a policy test: link_cap cap, idle 1000 ms, virtual time,
 * listening, counting messages of protocol 600 (policy_msgs). */
static void policy_hub(struct on *a, uint32_t cap)
{
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.link_cap = cap;
  cfg.link_idle_ms = 1000;
  on_new(a, 1, VIRTUAL | LISTEN, &cfg);
  const yz_node_protocol cm = {count_msg, NULL};
  assert_int_equal(yz_node_register(a->node, 600, &cm, NULL), 0);
  assert_int_equal(yz_node_start(a->node), 0);
}

/* Cap 2, idle 1000 ms, on a virtual clock: beyond the cap the node closes
 * the unprotected link idle longest, only once it has been idle for 1000
 * ms, never a protected peer nor a configured one. */
static void test_connection_policy(void **state)
{
  (void)state;
  static struct on a, p[5];
  policy_hub(&a, 2);
  for (int i = 1; i <= 4; i++) {
    on_new(&p[i], 10 + i, VIRTUAL | (i == 4 ? LISTEN : 0), NULL);
    assert_int_equal(yz_node_start(p[i].node), 0);
  }
  uint64_t t0 = vclock;
  link_to(&p[1], &a);
  vclock = t0 + 10;
  link_to(&p[2], &a);
  assert_int_equal(yz_node_peer_protect(a.node, &p[1].id.id,
                                        YZ_NODE_PROTECT_ROUTING, true), 0);
  assert_int_equal(yz_node_peer_protection(a.node, &p[1].id.id),
                   YZ_NODE_PROTECT_ROUTING);
  assert_int_equal(yz_node_peer_protect(a.node, &p[3].id.id,
                                        YZ_NODE_PROTECT_ROUTING, true),
                   YZ_E_NOT_FOUND);
  vclock = t0 + 20;
  link_to(&p[3], &a);
  /* Three links, cap 2, none idle long enough: nothing closes yet; the
   * next check is due when p2's link (the least recently used) reaches
   * 1000 ms. */
  assert_int_equal(yz_node_peer_count(a.node), 3);
  assert_true(yz_node_next_deadline(a.node) == t0 + 10 + 1000);

  /* p2 uses its link: p3's becomes the least recently used. */
  vclock = t0 + 500;
  assert_int_equal(yz_node_send(p[2].node, &a.id.id, 600,
                                (const uint8_t *)"hi", 2), 0);
  WAIT_FOR(policy_msgs == 1);
  vclock = t0 + 1010;
  yz_node_run_timers(a.node); /* p2's due time passed: re-checked */
  assert_true(yz_node_next_deadline(a.node) == t0 + 20 + 1000);
  vclock = t0 + 1019;
  yz_node_run_timers(a.node);
  assert_int_equal(a.peer_down, 0);
  vclock = t0 + 1020;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 1 && p[3].peer_down == 1);
  assert_int_equal(a.last_down_err, YZ_E_LIMIT);
  assert_string_equal(a.last_down_reason, "idle beyond the node's link cap");
  /* The peer is told why. */
  assert_int_equal(p[3].last_down_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(p[3].last_down_reason,
                         "idle beyond the node's link cap"));
  assert_false(yz_node_peer_is_up(a.node, &p[3].id.id));
  assert_true(yz_node_peer_is_up(a.node, &p[1].id.id));
  assert_true(yz_node_peer_is_up(a.node, &p[2].id.id));
  assert_int_equal(yz_node_next_deadline(a.node) >= t0 + 10000, true);

  /* A configured peer is protected: a dials p4 (its configured peer);
   * p2 is the only unprotected link left and goes once idle. */
  assert_int_equal(yz_node_add_peer(a.node, p[4].addr, NULL), 0);
  yz_node_run_timers(a.node); /* the first dial is due now */
  WAIT_FOR(p[4].peer_up == 1 && yz_node_peer_count(a.node) == 3);
  assert_int_equal(yz_node_peer_protection(a.node, &p[4].id.id),
                   YZ_NODE_PROTECT_CONFIGURED);
  vclock = t0 + 500 + 1000;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 2 && p[2].peer_down == 1);
  assert_true(yz_node_peer_is_up(a.node, &p[1].id.id));
  assert_true(yz_node_peer_is_up(a.node, &p[4].id.id));
  assert_int_equal(yz_node_peer_count(a.node), 2);

  /* Back at the cap: a newcomer makes three; clearing p1's protection
   * lets the policy close p1, idle longest. */
  vclock = t0 + 3000;
  int ups = a.peer_up;
  p[2].peer_up = 0;
  link_to(&p[2], &a);
  assert_int_equal(a.peer_up, ups + 1);
  assert_int_equal(yz_node_peer_count(a.node), 3);
  assert_int_equal(yz_node_peer_protect(a.node, &p[1].id.id,
                                        YZ_NODE_PROTECT_ROUTING, false), 0);
  WAIT_FOR(a.peer_down == 3 && p[1].peer_down == 1);
  assert_true(yz_node_peer_is_up(a.node, &p[2].id.id));
  assert_true(yz_node_peer_is_up(a.node, &p[4].id.id));

  on_stop(&a);
  for (int i = 1; i <= 4; i++)
    on_stop(&p[i]);
}

/* One run of the policy closes every peer it must, idle longest first, and
 * a due time the policy no longer needs (the links went down meanwhile)
 * does not stay behind as a deadline in the past (docs/simulator.md
 * "Memory per link": the policy no longer rescans per link). */
static void test_connection_policy_batch(void **state)
{
  (void)state;
  static struct on a, p[5];
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.link_cap = 1;
  cfg.link_idle_ms = 1000;
  on_new(&a, 1, VIRTUAL | LISTEN, &cfg);
  assert_int_equal(yz_node_start(a.node), 0);
  for (int i = 1; i <= 4; i++) {
    on_new(&p[i], 20 + i, VIRTUAL, NULL);
    assert_int_equal(yz_node_start(p[i].node), 0);
  }
  uint64_t t0 = vclock;
  for (int i = 1; i <= 3; i++) {
    vclock = t0 + 10 * (uint64_t)(i - 1);
    link_to(&p[i], &a);
  }
  assert_int_equal(yz_node_peer_count(a.node), 3);
  assert_true(yz_node_next_deadline(a.node) == t0 + 1000);
  /* all three idle enough: p1 and p2 (idle longest) go in one run */
  vclock = t0 + 1020;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 2 && p[1].peer_down == 1 && p[2].peer_down == 1);
  assert_true(yz_node_peer_is_up(a.node, &p[3].id.id));
  assert_int_equal(yz_node_peer_count(a.node), 1);
  assert_true(yz_node_next_deadline(a.node) > vclock);

  /* Over the cap again (p3 protected now), the policy waits for p4's
   * link to be idle; p4 leaves first: its due time must not linger in the
   * past. */
  assert_int_equal(yz_node_peer_protect(a.node, &p[3].id.id,
                                        YZ_NODE_PROTECT_ROUTING, true), 0);
  vclock = t0 + 2000;
  link_to(&p[4], &a);
  assert_int_equal(yz_node_peer_count(a.node), 2);
  assert_true(yz_node_next_deadline(a.node) == t0 + 2000 + 1000);
  on_stop(&p[4]);
  WAIT_FOR(a.peer_down == 3);
  vclock = t0 + 3000;
  yz_node_run_timers(a.node);
  assert_true(yz_node_next_deadline(a.node) > vclock);
  assert_true(yz_node_peer_is_up(a.node, &p[3].id.id));

  on_stop(&a);
  for (int i = 1; i <= 3; i++)
    on_stop(&p[i]);
}

/* Eight unprotected peers over a cap of 1: the policy wakes at the exact
 * time the first becomes idle enough even when the peers that were first
 * in line have been active since (their times move on), closes the idle
 * ones longest idle first in one run, and of peers equally idle keeps
 * exactly as many as the cap allows. */
static void test_connection_policy_many(void **state)
{
  (void)state;
  enum { P = 8 };
  static struct on a, p[P + 1];
  policy_hub(&a, 1);
  for (int i = 1; i <= P; i++) {
    on_new(&p[i], 40 + i, VIRTUAL, NULL);
    assert_int_equal(yz_node_start(p[i].node), 0);
  }
  uint64_t t0 = vclock;
  for (int i = 1; i <= P; i++) {
    vclock = t0 + 10 * (uint64_t)i;
    link_to(&p[i], &a);
  }
  assert_int_equal(yz_node_peer_count(a.node), P);
  assert_true(yz_node_next_deadline(a.node) == t0 + 10 + 1000);
  /* p2, p4, p6 are active at t0 + 500: p1 stays first, then p3 */
  vclock = t0 + 500;
  int msgs = policy_msgs;
  for (int i = 2; i <= 6; i += 2)
    assert_int_equal(yz_node_send(p[i].node, &a.id.id, 600,
                                  (const uint8_t *)"hi", 2), 0);
  WAIT_FOR(policy_msgs == msgs + 3);
  vclock = t0 + 1010;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 1 && p[1].peer_down == 1);
  /* p2's old time (t0 + 1020) is behind p3's (t0 + 1030), but p2 was
   * active since: the next time is p3's */
  assert_true(yz_node_next_deadline(a.node) == t0 + 30 + 1000);
  /* p3, p5, p7 and p8 idle enough by t0 + 1100: all four in one run */
  vclock = t0 + 1100;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 5);
  for (int i = 3; i <= P; i++)
    assert_int_equal(yz_node_peer_is_up(a.node, &p[i].id.id),
                     i == 4 || i == 6);
  assert_true(yz_node_peer_is_up(a.node, &p[2].id.id));
  assert_true(yz_node_next_deadline(a.node) == t0 + 500 + 1000);
  /* p2, p4, p6 equally idle: two go, one stays (the cap) */
  vclock = t0 + 1500;
  yz_node_run_timers(a.node);
  WAIT_FOR(a.peer_down == 7);
  int left = 0;
  for (int i = 2; i <= 6; i += 2)
    left += yz_node_peer_is_up(a.node, &p[i].id.id);
  assert_int_equal(left, 1);
  assert_int_equal(yz_node_peer_count(a.node), 1);
  assert_true(yz_node_next_deadline(a.node) > vclock);

  on_stop(&a);
  for (int i = 1; i <= P; i++)
    on_stop(&p[i]);
}

/* The link layer's eviction (link.max_links reached, a newcomer) spares a
 * configured peer's link, even one the peer dialled and idle longest: the
 * node marks it with yz_link_set_protected(). */
static void test_configured_peer_not_evicted(void **state)
{
  (void)state;
  static struct on a, p, q, r;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.link.max_links = 2;
  cfg.link.evict_min_idle_ms = 1000;
  on_new(&a, 1, VIRTUAL | LISTEN, &cfg);
  on_new(&p, 2, VIRTUAL | LISTEN, NULL);
  on_new(&q, 3, VIRTUAL, NULL);
  on_new(&r, 4, VIRTUAL, NULL);
  /* a's own dial to p is due, but a's timers never run here: p dials. */
  assert_int_equal(yz_node_add_peer(a.node, p.addr, NULL), 0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(p.node), 0);
  assert_int_equal(yz_node_start(q.node), 0);
  assert_int_equal(yz_node_start(r.node), 0);
  uint64_t t0 = vclock;
  link_to(&p, &a);
  assert_int_equal(yz_node_peer_protection(a.node, &p.id.id),
                   YZ_NODE_PROTECT_CONFIGURED);
  vclock = t0 + 10;
  link_to(&q, &a);
  vclock = t0 + 5000;
  link_to(&r, &a);
  WAIT_FOR(a.peer_down == 1 && q.peer_down == 1);
  assert_int_equal(a.last_down_err, YZ_E_LIMIT);
  assert_true(yz_node_peer_is_up(a.node, &p.id.id));
  assert_true(yz_node_peer_is_up(a.node, &r.id.id));
  assert_false(yz_node_peer_is_up(a.node, &q.id.id));
  on_stop(&a);
  on_stop(&p);
  on_stop(&q);
  on_stop(&r);
}

/* ---- the network name ---- */

static char net_log[1024];
static void net_sink(yz_log_level level, const char *line, void *ud)
{
  (void)ud;
  if (level <= YZ_LOG_WARN && strstr(line, "network") != NULL) {
    size_t l = strlen(net_log);
    snprintf(net_log + l, sizeof net_log - l, "%s\n", line);
  }
}

/* Nodes of different networks refuse each other during the handshake,
 * with the reason on both ends, whichever dials; nodes of one test
 * network link up. */
static void test_network_name(void **state)
{
  (void)state;
  static struct on a, b, c;
  yz_node_config tcfg;
  yz_node_config_default(&tcfg);
  char name[] = "yz-test";
  tcfg.link.network = name;
  on_new(&a, 1, LISTEN, &tcfg);
  on_new(&b, 2, LISTEN, NULL); /* the public network, "yz" */
  on_new(&c, 3, 0, &tcfg);
  /* The node keeps its own copy of the name. */
  name[0] = 'X';
  assert_string_equal(yz_node_network(a.node), "yz-test");
  assert_string_equal(yz_node_network(b.node), "yz");
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_start(c.node), 0);
  net_log[0] = '\0';
  yz_log_set_level(YZ_LOG_WARN);
  yz_log_set_sink(net_sink, NULL);

  /* b ("yz") dials a ("yz-test"): b's dial fails, a logs why. */
  struct dres d1 = {0};
  assert_int_equal(yz_node_dial_with(b.node, a.addr, NULL, dial_done, &d1),
                   0);
  WAIT_FOR(d1.n == 1 && strstr(net_log, "network name mismatch") != NULL);
  assert_int_equal(d1.status, YZ_E_NETWORK);
  assert_non_null(strstr(d1.reason, "network name mismatch"));
  assert_non_null(strstr(d1.reason, "\"yz\""));
  assert_non_null(strstr(d1.reason, "\"yz-test\""));
  /* a, the responder, learned it from message 3: */
  assert_non_null(strstr(net_log, "this node belongs to network \"yz-test\", "
                                  "the peer to \"yz\""));
  yz_link_stats st;
  yz_link_manager_stats(yz_node_get_link_manager(a.node), &st);
  assert_int_equal(st.handshakes_failed, 1);
  assert_int_equal(a.peer_up, 0);
  assert_int_equal(b.peer_up, 0);

  /* The other way round: a dials b. */
  net_log[0] = '\0';
  struct dres d2 = {0};
  assert_int_equal(yz_node_dial_with(a.node, b.addr, NULL, dial_done, &d2),
                   0);
  WAIT_FOR(d2.n == 1 && strstr(net_log, "network name mismatch") != NULL);
  assert_int_equal(d2.status, YZ_E_NETWORK);
  assert_non_null(strstr(d2.reason, "this node belongs to network "
                                    "\"yz-test\", the peer to \"yz\""));
  assert_non_null(strstr(net_log, "this node belongs to network \"yz\", "
                                  "the peer to \"yz-test\""));
  assert_int_equal(a.peer_up + b.peer_up, 0);
  yz_log_set_sink(NULL, NULL);
  yz_log_set_level(YZ_LOG_ERR);

  /* c is on a's network: they link up. */
  struct dres d3 = {0};
  assert_int_equal(yz_node_dial_with(c.node, a.addr, NULL, dial_done, &d3),
                   0);
  WAIT_FOR(d3.n == 1 && a.peer_up == 1);
  assert_int_equal(d3.status, 0);
  assert_int_equal(a.peer_up, 1);

  /* A name outside the grammar is refused at creation. */
  yz_node_config bad;
  yz_node_config_default(&bad);
  bad.identity = &a.id;
  bad.link.memnet = net;
  yz_node *n = NULL;
  static const char *const bad_names[] = {"Yz", "", "yz test", "a/b",
      "0123456789abcdef0123456789abcdef0"};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
    bad.link.network = bad_names[i];
    assert_int_equal(yz_node_new(&n, &loop, &bad), YZ_E_INVAL);
  }
  on_stop(&c);
  on_stop(&b);
  on_stop(&a);
}

/* ---- requests on a link closed as a duplicate ---- */

/* Holds on to the requests it gets (the test answers them). */
struct dupl {
  int requests;
  yz_node_incoming last;
};

static void dupl_on_link(yz_node *n, const yz_node_id *peer,
                         yz_link_direction dir, bool up, int err,
                         const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  (void)dir;
  (void)err;
  (void)reason;
  if (!up)
    ((struct on *)ud)->links_down++;
}

static void dupl_hold(yz_node *n, const yz_node_incoming *req,
                      const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)data;
  (void)len;
  struct dupl *d = ud;
  d->requests++;
  d->last = *req;
}

/* A request in flight on a link that the duplicate rule closes fails at
 * once with YZ_E_CLOSED, the peer still up (yz/node.h): the caller sends
 * it again on the link that stays instead of waiting for its timeout
 * (which never comes here: the clock is virtual and stands still). */
static void test_duplicate_fails_requests(void **state)
{
  (void)state;
  static struct on a, b;
  static struct dupl ds;
  memset(&ds, 0, sizeof ds);
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.cb.on_link = dupl_on_link;
  on_new(&a, 1, VIRTUAL | LISTEN, &cfg);
  on_new(&b, 2, VIRTUAL | LISTEN, &cfg);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  /* g has the greater node ID, s the smaller: the link g dials first loses
   * to the one s dials next (docs/protocol.md "Duplicate links"). */
  bool a_greater = memcmp(a.id.id.bytes, b.id.id.bytes, YZ_NODE_ID_LEN) > 0;
  struct on *g = a_greater ? &a : &b, *s = a_greater ? &b : &a;
  const yz_node_protocol hold = {NULL, dupl_hold};
  assert_int_equal(yz_node_register(s->node, 700, &hold, &ds), 0);

  struct dres d1 = {0}, d2 = {0};
  assert_int_equal(yz_node_dial_with(g->node, s->addr, NULL, dial_done, &d1),
                   0);
  WAIT_FOR(d1.n == 1 && s->peer_up == 1);
  assert_int_equal(d1.status, 0);

  /* A request on the first link, held unanswered by s. */
  struct rres r1 = {0}, r2 = {0};
  assert_int_equal(yz_node_request(g->node, &s->id.id, 700,
                                   (const uint8_t *)"q1", 2, 0, req_done, &r1,
                                   NULL),
                   0);
  WAIT_FOR(ds.requests == 1);

  /* s dials g: its link wins, g's first link is closed on both ends. */
  assert_int_equal(yz_node_dial_with(s->node, g->addr, NULL, dial_done, &d2),
                   0);
  WAIT_FOR(d2.n == 1 && g->links_down == 1 && s->links_down == 1);
  assert_int_equal(d2.status, 0);
  assert_true(yz_node_peer_is_up(g->node, &s->id.id));
  /* Failed at once, with the peer still up: no timeout came into it.
   * (Checked once the nodes are stopped: a failed check must not leave
   * them running for the teardown.) */
  struct rres r1_at_close = r1;

  /* Sent again, it goes on the link that stays and is answered. */
  assert_int_equal(yz_node_request(g->node, &s->id.id, 700,
                                   (const uint8_t *)"q2", 2, 0, req_done, &r2,
                                   NULL),
                   0);
  WAIT_FOR(ds.requests == 2);
  assert_int_equal(yz_node_respond(s->node, &ds.last,
                                   (const uint8_t *)"ok", 2), 0);
  WAIT_FOR(r2.n == 1);
  assert_int_equal(r2.status, 0);
  int peers_down = g->peer_down + s->peer_down;
  on_stop(&b);
  on_stop(&a);
  assert_int_equal(r1_at_close.n, 1);
  assert_int_equal(r1_at_close.status, YZ_E_CLOSED);
  assert_int_equal(r1.n, 1);
  assert_int_equal(peers_down, 0);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_log_set_level(YZ_LOG_ERR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_observers_and_info, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_dial_callback_and_cancel, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_stop_is_asynchronous, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connection_policy, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connection_policy_batch, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connection_policy_many, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_configured_peer_not_evicted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_network_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_fails_requests, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("node for the overlay", tests, NULL,
                                     NULL);
}
