/*
 * Many nodes on the link layer's in-memory network (no sockets): a full
 * mesh where every node is configured with every other, so every pair dials
 * both ways at once. The duplicate rule must leave exactly one link per
 * pair, on both ends the one dialled by the smaller node ID; then every node
 * sends a request to every other and gets every answer.
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

/* the node tests' loop, with a 30 s guard (many nodes) */
#define WAIT_GUARD_MS 30000
#include "wait.h"

enum { N = 24, PROTO_ECHO = 400 };

struct mn {
  yz_node *node;
  int rank; /* 0 = smallest node ID */
  int peer_up, peer_down;
  int down[3];
  int answered;
  bool stopped;
};

static uv_loop_t loop;
static struct mn nodes[N];

static void on_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  (void)p;
  ((struct mn *)ud)->peer_up++;
}

static void on_peer_down(yz_node *n, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  (void)err;
  (void)reason;
  ((struct mn *)ud)->peer_down++;
}

static void on_link(yz_node *n, const yz_node_id *peer, yz_link_direction d,
                    bool up, int err, const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  (void)err;
  (void)reason;
  if (!up)
    ((struct mn *)ud)->down[d]++;
}

static void on_request(yz_node *n, const yz_node_incoming *req,
                       const uint8_t *data, size_t len, void *ud)
{
  (void)ud;
  assert_int_equal(yz_node_respond(n, req, data, len), 0);
}

static void on_reply(yz_node *n, int status, const yz_node_response *r,
                     void *arg)
{
  (void)n;
  struct mn *m = arg;
  assert_int_equal(status, 0);
  assert_int_equal(r->len, YZ_NODE_ID_LEN);
  assert_memory_equal(r->data, r->peer->bytes, YZ_NODE_ID_LEN);
  m->answered++;
}

static void on_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct mn *)arg)->stopped = true;
}

static bool all(int (*pred)(const struct mn *))
{
  for (int i = 0; i < N; i++)
    if (!pred(&nodes[i]))
      return false;
  return true;
}

static int meshed(const struct mn *m)
{
  return m->peer_up == N - 1 && m->down[1] + m->down[2] == N - 1;
}
static int answered(const struct mn *m) { return m->answered == N - 1; }
static int stopped(const struct mn *m) { return m->stopped; }

static void test_full_mesh(void **state)
{
  (void)state;
  yz_link_memnet *net;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);

  yz_identity ids[N];
  for (int i = 0; i < N; i++) {
    uint8_t seed[YZ_IDENTITY_SEED_LEN];
    memset(seed, 0, sizeof seed);
    seed[0] = (uint8_t)(i + 1);
    assert_int_equal(yz_identity_from_seed(&ids[i], seed), 0);
  }
  for (int i = 0; i < N; i++) {
    nodes[i].rank = 0;
    for (int j = 0; j < N; j++)
      if (memcmp(ids[j].id.bytes, ids[i].id.bytes, YZ_NODE_ID_LEN) < 0)
        nodes[i].rank++;
  }

  for (int i = 0; i < N; i++) {
    yz_node_config cfg;
    yz_node_config_default(&cfg);
    cfg.identity = &ids[i];
    cfg.user_data = &nodes[i];
    cfg.cb.on_peer_up = on_peer_up;
    cfg.cb.on_peer_down = on_peer_down;
    cfg.cb.on_link = on_link;
    cfg.link.memnet = net;
    assert_int_equal(yz_node_new(&nodes[i].node, &loop, &cfg), 0);
    char url[64];
    snprintf(url, sizeof url, "ws://10.0.0.%d:7700", i + 1);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(nodes[i].node, &lc), 0);
    const yz_node_protocol p = {NULL, on_request};
    assert_int_equal(yz_node_register(nodes[i].node, PROTO_ECHO, &p, NULL),
                     0);
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (i != j)
        assert_int_equal(yz_node_add_peer(nodes[i].node,
                                          yz_node_address(nodes[j].node, 0),
                                          NULL),
                         0);
  for (int i = 0; i < N; i++)
    assert_int_equal(yz_node_start(nodes[i].node), 0);

  WAIT_FOR(all(meshed));
  for (int i = 0; i < N; i++) {
    /* The smaller end of each pair closed the inbound duplicate; the
     * larger end its own dial. */
    assert_int_equal(nodes[i].down[YZ_LINK_INBOUND], N - 1 - nodes[i].rank);
    assert_int_equal(nodes[i].down[YZ_LINK_OUTBOUND], nodes[i].rank);
    assert_int_equal(nodes[i].peer_down, 0);
    assert_int_equal(yz_node_peer_count(nodes[i].node), N - 1);
  }

  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (i != j) {
        const yz_node_id *to = yz_node_get_id(nodes[j].node);
        assert_int_equal(yz_node_request(nodes[i].node, to, PROTO_ECHO,
                                         to->bytes, YZ_NODE_ID_LEN, 0,
                                         on_reply, &nodes[i], NULL),
                         0);
      }
  WAIT_FOR(all(answered));
  for (int i = 0; i < N; i++)
    assert_int_equal(nodes[i].down[1] + nodes[i].down[2], N - 1);

  for (int i = 0; i < N; i++)
    yz_node_stop(nodes[i].node, on_stopped, &nodes[i]);
  WAIT_FOR(all(stopped));
  for (int i = 0; i < N; i++) {
    yz_node_free(nodes[i].node);
    yz_identity_clear(&ids[i]);
  }
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- virtual time ---- */

static uint64_t vclock;
static uint64_t vclock_fn(void *ud)
{
  (void)ud;
  return vclock;
}

struct vn {
  int peer_up, dial_failed, last_dial_err;
  bool done, stopped;
  int status;
};

static void v_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  (void)p;
  ((struct vn *)ud)->peer_up++;
}

static void v_dial_failed(yz_node *n, const char *url,
                          const yz_node_id *expected, int err,
                          const char *reason, void *ud)
{
  (void)n;
  (void)url;
  (void)expected;
  (void)reason;
  struct vn *v = ud;
  v->dial_failed++;
  v->last_dial_err = err;
}

static void v_silent(yz_node *n, const yz_node_incoming *req,
                     const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)req;
  (void)data;
  (void)len;
  (void)ud;
}

static void v_reply(yz_node *n, int status, const yz_node_response *r,
                    void *arg)
{
  (void)n;
  (void)r;
  struct vn *v = arg;
  v->done = true;
  v->status = status;
}

static void v_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct vn *)arg)->stopped = true;
}

/* With virtual time the node's redials and request timeouts are due on the
 * caller's clock and run only from yz_node_run_timers(): exact, with no
 * wall-clock time involved. */
static void test_virtual_time(void **state)
{
  (void)state;
  yz_link_memnet *net;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  vclock = 1000000;

  static struct vn va, vb;
  memset(&va, 0, sizeof va);
  memset(&vb, 0, sizeof vb);
  yz_identity ia, ib;
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0x71, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&ia, seed), 0);
  memset(seed, 0x72, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&ib, seed), 0);

  yz_node *a, *b;
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.link.memnet = net;
  cfg.link.virtual_time = true;
  cfg.link.clock_ms = vclock_fn;
  cfg.cb.on_peer_up = v_peer_up;
  cfg.cb.on_dial_failed = v_dial_failed;
  cfg.identity = &ib;
  cfg.user_data = &vb;
  assert_int_equal(yz_node_new(&b, &loop, &cfg), 0);
  cfg.identity = &ia;
  cfg.user_data = &va;
  assert_int_equal(yz_node_new(&a, &loop, &cfg), 0);
  const yz_node_protocol silent = {NULL, v_silent};
  assert_int_equal(yz_node_register(a, PROTO_ECHO, &silent, NULL), 0);

  /* b is configured with a's address before a listens. */
  char hex[YZ_NODE_ID_HEX_LEN + 1], addr[128];
  yz_node_id_to_hex(yz_identity_node_id(&ia), hex);
  snprintf(addr, sizeof addr, "ws://10.0.1.1:7700/#%s", hex);
  assert_int_equal(yz_node_add_peer(b, addr, NULL), 0);
  assert_int_equal(yz_node_start(b), 0);
  /* The first dial is due now. */
  assert_true(yz_node_next_deadline(b) == vclock);
  yz_node_run_timers(b);
  WAIT_FOR(vb.dial_failed == 1);
  /* The redial is due 250..500 ms later (first backoff step of 500 ms,
   * equal jitter), on the virtual clock. */
  uint64_t dl = yz_node_next_deadline(b);
  assert_true(dl >= vclock + 250 && dl <= vclock + 500);

  yz_link_listen_config lc = {.url = "ws://10.0.1.1:7700"};
  assert_int_equal(yz_node_listen(a, &lc), 0);
  assert_string_equal(yz_node_address(a, 0), addr);
  assert_int_equal(yz_node_start(a), 0);
  vclock = dl - 1;
  yz_node_run_timers(b); /* not yet */
  vclock = dl;
  yz_node_run_timers(b);
  WAIT_FOR(vb.peer_up == 1 && va.peer_up == 1);

  /* A request nobody answers times out exactly at its deadline. */
  assert_int_equal(yz_node_request(b, yz_node_get_id(a), PROTO_ECHO, NULL, 0,
                                   5000, v_reply, &vb, NULL), 0);
  uint64_t t0 = vclock;
  assert_true(yz_node_next_deadline(b) <= t0 + 5000);
  vclock = t0 + 4999;
  yz_node_run_timers(b);
  assert_false(vb.done);
  vclock = t0 + 5000;
  yz_node_run_timers(b);
  assert_true(vb.done);
  assert_int_equal(vb.status, YZ_E_TIMEOUT);

  yz_node_stop(a, v_stopped, &va);
  yz_node_stop(b, v_stopped, &vb);
  WAIT_FOR(va.stopped && vb.stopped);
  yz_node_free(a);
  yz_node_free(b);
  yz_identity_clear(&ia);
  yz_identity_clear(&ib);
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_log_set_level(YZ_LOG_ERR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_mesh),
      cmocka_unit_test(test_virtual_time),
  };
  return cmocka_run_group_tests_name("node on the in-memory network", tests,
                                     NULL, NULL);
}
