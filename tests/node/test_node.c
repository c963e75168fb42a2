/*
 * Nodes in one process on loopback (real WebSocket links through the link
 * layer): peers up with the right IDs, messages and requests both ways,
 * errors and timeouts, the duplicate-link rule, redial after a restart, and
 * stop with links open. No sleeps: each step runs the loop until the event
 * it waits for has happened; a guard timer only turns a hang into a failure.
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

#include "wait.h"

enum { PROTO_ECHO = 300, PROTO_SILENT = 301, PROTO_FAIL = 302,
       PROTO_MSG = 303 };

struct tn {
  yz_node *node;
  yz_identity id;
  bool stopping, stopped;
  int peer_up, peer_down, dial_failed;
  int up[3], down[3]; /* by yz_link_direction */
  int last_down_err, last_dial_err, last_link_err;
  char last_link_reason[128];
  yz_node_id last_peer;
  int msgs;
  uint8_t last_msg[64];
  size_t last_msg_len;
  yz_node_id last_from;
  yz_node_incoming held; /* a request left unanswered */
  int held_n;
  /* stop the node from inside this callback */
  bool stop_in_dial_failed, stop_in_peer_down, stop_in_message;
};

struct reply {
  bool done;
  int status;
  uint16_t code;
  uint8_t data[64];
  size_t len;
};

static uv_loop_t loop;
/* The CA file the next node_start() gives its link config (wss dials). */
static const char *next_ca;
static uint32_t next_max_pending; /* 0: the default */
/* Nodes not yet freed, so that teardown can stop them after a failure. */
static struct tn *live[8];

/* ---- node callbacks ---- */

static void on_stopped(yz_node *n, void *arg);

static void stop_from_callback(struct tn *t)
{
  if (!t->stopping) {
    t->stopping = true;
    yz_node_stop(t->node, on_stopped, t);
  }
}

static void on_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  struct tn *t = ud;
  t->peer_up++;
  t->last_peer = p->id;
}

static void on_peer_down(yz_node *n, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)n;
  (void)reason;
  struct tn *t = ud;
  t->peer_down++;
  t->last_down_err = err;
  t->last_peer = *peer;
  if (t->stop_in_peer_down)
    stop_from_callback(t);
}

static void on_dial_failed(yz_node *n, const char *url,
                           const yz_node_id *expected, int err,
                           const char *reason, void *ud)
{
  (void)n;
  (void)url;
  (void)expected;
  (void)reason;
  struct tn *t = ud;
  t->dial_failed++;
  t->last_dial_err = err;
  if (t->stop_in_dial_failed)
    stop_from_callback(t);
}

static void on_link(yz_node *n, const yz_node_id *peer, yz_link_direction d,
                    bool up, int err, const char *reason, void *ud)
{
  (void)n;
  (void)peer;
  (void)err;
  struct tn *t = ud;
  if (up) {
    t->up[d]++;
  } else {
    t->down[d]++;
    t->last_link_err = err;
    snprintf(t->last_link_reason, sizeof t->last_link_reason, "%s", reason);
  }
}

static void on_message(yz_node *n, const yz_node_id *from, uint16_t proto,
                       const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)proto;
  struct tn *t = ud;
  t->msgs++;
  t->last_from = *from;
  t->last_msg_len = len < sizeof t->last_msg ? len : sizeof t->last_msg;
  memcpy(t->last_msg, data, t->last_msg_len);
  if (t->stop_in_message)
    stop_from_callback(t);
}

static void on_request(yz_node *n, const yz_node_incoming *req,
                       const uint8_t *data, size_t len, void *ud)
{
  struct tn *t = ud;
  if (req->proto == PROTO_ECHO) {
    uint8_t out[80] = "re:";
    size_t k = len < 64 ? len : 64;
    memcpy(out + 3, data, k);
    assert_int_equal(yz_node_respond(n, req, out, k + 3), 0);
  } else if (req->proto == PROTO_FAIL) {
    assert_int_equal(yz_node_respond_error(n, req, 400, "no such key"), 0);
  } else {
    t->held = *req; /* PROTO_SILENT: never answered */
    t->held_n++;
  }
}

static void on_reply(yz_node *n, int status, const yz_node_response *r,
                     void *arg)
{
  (void)n;
  struct reply *rp = arg;
  assert_false(rp->done); /* exactly once */
  rp->done = true;
  rp->status = status;
  rp->code = r->error_code;
  rp->len = r->len < sizeof rp->data ? r->len : sizeof rp->data;
  if (rp->len)
    memcpy(rp->data, r->data, rp->len);
}

static void on_stopped(yz_node *n, void *arg)
{
  (void)n;
  struct tn *t = arg;
  t->stopped = true;
}

/* ---- helpers ---- */

static void node_start(struct tn *t, uint8_t seed_byte, bool listen,
                       uint16_t port)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, seed_byte, sizeof seed);
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < 8; i++)
    if (live[i] == NULL || live[i] == t) {
      live[i] = t;
      break;
    }
  assert_int_equal(yz_identity_from_seed(&t->id, seed), 0);
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &t->id;
  cfg.user_data = t;
  cfg.cb.on_peer_up = on_peer_up;
  cfg.cb.on_peer_down = on_peer_down;
  cfg.cb.on_dial_failed = on_dial_failed;
  cfg.cb.on_link = on_link;
  cfg.redial_initial_ms = 10;
  cfg.redial_max_ms = 40;
  cfg.link.tls_ca_file = next_ca;
  if (next_max_pending)
    cfg.max_pending_requests = next_max_pending;
  assert_int_equal(yz_node_new(&t->node, &loop, &cfg), 0);
  if (listen) {
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u", (unsigned)port);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(t->node, &lc), 0);
    assert_non_null(yz_node_address(t->node, 0));
    assert_null(yz_node_address(t->node, 1));
  }
  const yz_node_protocol p = {on_message, on_request};
  assert_int_equal(yz_node_register(t->node, PROTO_ECHO, &p, t), 0);
  assert_int_equal(yz_node_register(t->node, PROTO_SILENT, &p, t), 0);
  assert_int_equal(yz_node_register(t->node, PROTO_FAIL, &p, t), 0);
  assert_int_equal(yz_node_register(t->node, PROTO_MSG, &p, t), 0);
  /* The ping protocol is built in and cannot be taken over. */
  assert_int_equal(yz_node_register(t->node, YZ_NODE_PROTO_PING, &p, t),
                   YZ_E_INVAL);
}

static void node_free(struct tn *t)
{
  yz_node_free(t->node);
  t->node = NULL;
  yz_identity_clear(&t->id);
  for (size_t i = 0; i < 8; i++)
    if (live[i] == t)
      live[i] = NULL;
}

static void node_stop(struct tn *t)
{
  t->stopping = true;
  yz_node_stop(t->node, on_stopped, t);
  WAIT_FOR(t->stopped);
  node_free(t);
}

/* Stop two nodes at once: neither sees the other go while still running,
 * so neither starts a redial during the stop. */
static void stop_both(struct tn *a, struct tn *b)
{
  a->stopping = b->stopping = true;
  yz_node_stop(a->node, on_stopped, a);
  yz_node_stop(b->node, on_stopped, b);
  WAIT_FOR(a->stopped && b->stopped);
  node_free(a);
  node_free(b);
}

static uint16_t port_of(const char *address)
{
  const char *c = strrchr(address, ':');
  return (uint16_t)atoi(c + 1);
}

static int setup(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  /* After a failed assertion nodes may be left running: stop them. */
  for (size_t i = 0; i < 8; i++) {
    struct tn *t = live[i];
    if (t == NULL || t->node == NULL) {
      live[i] = NULL;
      continue;
    }
    if (!t->stopping) {
      t->stopping = true;
      yz_node_stop(t->node, on_stopped, t);
    }
    guard_fired = false;
    uv_timer_start(&guard, guard_cb, 20000, 0);
    while (!t->stopped && !guard_fired)
      uv_run(&loop, UV_RUN_ONCE);
    if (!t->stopped)
      return -1;
    node_free(t);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

static bool id_eq(const yz_node_id *a, const yz_node_id *b)
{
  return memcmp(a->bytes, b->bytes, YZ_NODE_ID_LEN) == 0;
}

/* ---- tests ---- */

static void test_two_nodes(void **state)
{
  (void)state;
  static struct tn a, b;
  node_start(&a, 0xa1, true, 0);
  node_start(&b, 0xb2, false, 0);
  const yz_node_id *ida = yz_node_get_id(a.node);
  const yz_node_id *idb = yz_node_get_id(b.node);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_start(b.node), YZ_E_STATE);

  /* An address without a node ID is refused unless unpinned is explicit. */
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/",
           port_of(yz_node_address(a.node, 0)));
  assert_int_equal(yz_node_dial(b.node, url, NULL), YZ_E_INVAL);
  assert_int_equal(yz_node_dial(b.node, "http://x/#00", NULL), YZ_E_ADDRESS);

  assert_int_equal(yz_node_dial(b.node, yz_node_address(a.node, 0), NULL), 0);
  WAIT_FOR(a.peer_up == 1 && b.peer_up == 1);
  assert_true(id_eq(&a.last_peer, idb));
  assert_true(id_eq(&b.last_peer, ida));
  assert_true(yz_node_peer_is_up(a.node, idb));
  assert_int_equal(yz_node_peer_count(b.node), 1);
  assert_int_equal(a.up[YZ_LINK_INBOUND], 1);
  assert_int_equal(b.up[YZ_LINK_OUTBOUND], 1);

  /* One-way messages, both ways, with the sender's verified ID. */
  assert_int_equal(yz_node_send(b.node, ida, PROTO_MSG,
                                (const uint8_t *)"hello a", 7), 0);
  assert_int_equal(yz_node_send(a.node, idb, PROTO_MSG,
                                (const uint8_t *)"hello b", 7), 0);
  WAIT_FOR(a.msgs == 1 && b.msgs == 1);
  assert_memory_equal(a.last_msg, "hello a", 7);
  assert_memory_equal(b.last_msg, "hello b", 7);
  assert_true(id_eq(&a.last_from, idb));
  assert_true(id_eq(&b.last_from, ida));

  /* Requests both ways. */
  struct reply r1 = {0}, r2 = {0};
  uint64_t id1 = 0;
  assert_int_equal(yz_node_request(b.node, ida, PROTO_ECHO,
                                   (const uint8_t *)"x", 1, 0, on_reply, &r1,
                                   &id1), 0);
  assert_true(id1 != 0);
  assert_int_equal(yz_node_request(a.node, idb, PROTO_ECHO,
                                   (const uint8_t *)"yy", 2, 0, on_reply, &r2,
                                   NULL), 0);
  WAIT_FOR(r1.done && r2.done);
  assert_int_equal(r1.status, 0);
  assert_int_equal(r1.len, 4);
  assert_memory_equal(r1.data, "re:x", 4);
  assert_int_equal(r2.status, 0);
  assert_memory_equal(r2.data, "re:yy", 5);

  /* The built-in ping echoes. */
  struct reply rp = {0};
  assert_int_equal(yz_node_request(b.node, ida, YZ_NODE_PROTO_PING,
                                   (const uint8_t *)"ping", 4, 0, on_reply,
                                   &rp, NULL), 0);
  WAIT_FOR(rp.done);
  assert_int_equal(rp.status, 0);
  assert_memory_equal(rp.data, "ping", 4);

  /* Errors: a handler's error, no handler at all. */
  struct reply re = {0}, rn = {0};
  assert_int_equal(yz_node_request(b.node, ida, PROTO_FAIL, NULL, 0, 0,
                                   on_reply, &re, NULL), 0);
  assert_int_equal(yz_node_request(b.node, ida, 999, NULL, 0, 0, on_reply,
                                   &rn, NULL), 0);
  WAIT_FOR(re.done && rn.done);
  assert_int_equal(re.status, YZ_E_REMOTE);
  assert_int_equal(re.code, 400);
  assert_int_equal(re.len, strlen("no such key"));
  assert_memory_equal(re.data, "no such key", re.len);
  assert_int_equal(rn.status, YZ_E_REMOTE);
  assert_int_equal(rn.code, YZ_NODE_ERR_NO_HANDLER);

  /* A request nobody answers times out (a short timeout; we wait for the
   * event, we do not measure it). A late answer is then ignored. */
  struct reply rt = {0};
  assert_int_equal(yz_node_request(b.node, ida, PROTO_SILENT, NULL, 0, 30,
                                   on_reply, &rt, NULL), 0);
  WAIT_FOR(rt.done);
  assert_int_equal(rt.status, YZ_E_TIMEOUT);
  assert_int_equal(a.held_n, 1);
  assert_int_equal(yz_node_respond(a.node, &a.held, (const uint8_t *)"l", 1),
                   0);
  /* A ping after the late answer proves the loop went past it. */
  struct reply rp2 = {0};
  assert_int_equal(yz_node_request(b.node, ida, YZ_NODE_PROTO_PING,
                                   (const uint8_t *)"p", 1, 0, on_reply, &rp2,
                                   NULL), 0);
  WAIT_FOR(rp2.done);
  assert_int_equal(rp2.status, 0);

  /* Unknown peer, bad arguments. */
  yz_node_id nobody;
  memset(nobody.bytes, 0x55, sizeof nobody.bytes);
  struct reply rx = {0};
  assert_int_equal(yz_node_request(b.node, &nobody, PROTO_ECHO, NULL, 0, 0,
                                   on_reply, &rx, NULL), YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_send(b.node, &nobody, PROTO_MSG,
                                (const uint8_t *)"x", 1), YZ_E_NOT_FOUND);
  assert_int_equal(yz_node_send(b.node, ida, 0, (const uint8_t *)"x", 1),
                   YZ_E_INVAL);
  assert_false(rx.done);

  /* Stop with the link open and a request pending: the request fails with
   * YZ_E_CLOSED from the loop (never from inside yz_node_stop()), before
   * the stop completes; the peer sees the link go. */
  struct reply rc = {0};
  assert_int_equal(yz_node_request(b.node, ida, PROTO_SILENT, NULL, 0, 60000,
                                   on_reply, &rc, NULL), 0);
  WAIT_FOR(a.held_n == 2);
  b.stopping = true;
  yz_node_stop(b.node, on_stopped, &b);
  assert_false(rc.done);
  assert_int_equal(yz_node_send(b.node, ida, PROTO_MSG,
                                (const uint8_t *)"x", 1), YZ_E_STATE);
  WAIT_FOR(b.stopped && a.peer_down == 1);
  assert_true(rc.done);
  assert_int_equal(rc.status, YZ_E_CLOSED);
  assert_int_equal(b.peer_down, 1);
  assert_true(id_eq(&a.last_peer, idb));
  node_free(&b);
  node_stop(&a);
}

/* Both nodes dial each other at once: two links, one survives on both
 * ends, and it is the one dialled by the node with the smaller ID. */
static void test_duplicate_cross_dial(void **state)
{
  (void)state;
  static struct tn a, b;
  node_start(&a, 0x11, true, 0);
  node_start(&b, 0x22, true, 0);
  assert_int_equal(yz_node_add_peer(a.node, yz_node_address(b.node, 0), NULL),
                   0);
  assert_int_equal(yz_node_add_peer(b.node, yz_node_address(a.node, 0), NULL),
                   0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  WAIT_FOR(a.up[1] + a.up[2] == 2 && b.up[1] + b.up[2] == 2 &&
           a.down[1] + a.down[2] == 1 && b.down[1] + b.down[2] == 1);

  struct tn *small = &a, *large = &b;
  if (memcmp(yz_node_get_id(a.node)->bytes, yz_node_get_id(b.node)->bytes,
             YZ_NODE_ID_LEN) > 0) {
    small = &b;
    large = &a;
  }
  /* The smaller node closed the link the larger one dialled (inbound to
   * it), and the larger node closed its own dial (outbound). */
  assert_int_equal(small->down[YZ_LINK_INBOUND], 1);
  assert_int_equal(small->down[YZ_LINK_OUTBOUND], 0);
  assert_int_equal(large->down[YZ_LINK_OUTBOUND], 1);
  assert_int_equal(large->down[YZ_LINK_INBOUND], 0);
  assert_int_equal(a.peer_up, 1);
  assert_int_equal(b.peer_up, 1);
  assert_int_equal(a.peer_down, 0);
  assert_int_equal(b.peer_down, 0);

  /* The survivor carries traffic; nothing else went down meanwhile. */
  struct reply r = {0};
  assert_int_equal(yz_node_request(large->node, yz_node_get_id(small->node),
                                   PROTO_ECHO, (const uint8_t *)"d", 1, 0,
                                   on_reply, &r, NULL), 0);
  WAIT_FOR(r.done);
  assert_int_equal(r.status, 0);
  assert_int_equal(a.down[1] + a.down[2], 1);
  assert_int_equal(b.down[1] + b.down[2], 1);
  assert_true(yz_node_peer_is_up(a.node, yz_node_get_id(b.node)));

  stop_both(&a, &b);
}

/* One node dials the same peer twice: both ends keep the link with the
 * smaller channel binding, so the peer stays up on both. */
static void test_duplicate_same_dialer(void **state)
{
  (void)state;
  static struct tn a, b;
  node_start(&a, 0x33, true, 0);
  node_start(&b, 0x44, false, 0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_dial(b.node, yz_node_address(a.node, 0), NULL), 0);
  assert_int_equal(yz_node_dial(b.node, yz_node_address(a.node, 0), NULL), 0);
  WAIT_FOR(a.up[YZ_LINK_INBOUND] == 2 && b.up[YZ_LINK_OUTBOUND] == 2 &&
           a.down[YZ_LINK_INBOUND] == 1 && b.down[YZ_LINK_OUTBOUND] == 1);
  struct reply r = {0};
  assert_int_equal(yz_node_request(b.node, yz_node_get_id(a.node), PROTO_ECHO,
                                   (const uint8_t *)"s", 1, 0, on_reply, &r,
                                   NULL), 0);
  WAIT_FOR(r.done);
  assert_int_equal(r.status, 0);
  /* Had the ends chosen differently, both links would be down by now. */
  assert_int_equal(a.down[YZ_LINK_INBOUND], 1);
  assert_int_equal(b.down[YZ_LINK_OUTBOUND], 1);
  assert_int_equal(a.peer_down + b.peer_down, 0);
  stop_both(&a, &b);
}

/* A free loopback port: bind port 0 with libuv, read it, close. */
static uint16_t free_port(void)
{
  uv_tcp_t tcp;
  struct sockaddr_in sa;
  assert_int_equal(uv_tcp_init(&loop, &tcp), 0);
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
  assert_int_equal(uv_tcp_bind(&tcp, (const struct sockaddr *)&sa, 0), 0);
  struct sockaddr_storage got;
  int len = sizeof got;
  assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&got, &len),
                   0);
  uint16_t port = ntohs(((struct sockaddr_in *)&got)->sin_port);
  uv_close((uv_handle_t *)&tcp, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return port;
}

/* A configured peer is redialled with backoff until it comes up, and
 * again after it goes away. (A restart on the same port within one
 * process is covered by test_programs.sh with real processes.) */
static void test_redial(void **state)
{
  (void)state;
  static struct tn a, b;
  uint16_t port = free_port();
  /* a's address is known before a runs: its ID comes from its seed. */
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0x55, sizeof seed);
  yz_identity ia;
  assert_int_equal(yz_identity_from_seed(&ia, seed), 0);
  char hex[YZ_NODE_ID_HEX_LEN + 1], addr[200];
  yz_node_id_to_hex(yz_identity_node_id(&ia), hex);
  yz_identity_clear(&ia);
  snprintf(addr, sizeof addr, "ws://127.0.0.1:%u/#%s", (unsigned)port, hex);

  node_start(&b, 0x66, false, 0);
  assert_int_equal(yz_node_add_peer(b.node, addr, NULL), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  /* Redials fail while nobody listens there... */
  WAIT_FOR(b.dial_failed >= 3);
  assert_int_not_equal(b.last_dial_err, YZ_E_PEER_ID_MISMATCH);
  assert_int_equal(b.peer_up, 0);
  /* ...and succeed once a is up. */
  node_start(&a, 0x55, true, port);
  assert_string_equal(yz_node_address(a.node, 0), addr);
  assert_int_equal(yz_node_start(a.node), 0);
  WAIT_FOR(b.peer_up == 1 && a.peer_up == 1);
  assert_true(id_eq(&b.last_peer, yz_node_get_id(a.node)));
  /* a goes away: b sees it down and dials again (and fails again). */
  int failed = b.dial_failed;
  node_stop(&a);
  WAIT_FOR(b.peer_down == 1 && b.dial_failed > failed);
  node_stop(&b);
}

/* A wrong expected ID: refused with the mismatch code, never up. */
static void test_wrong_id(void **state)
{
  (void)state;
  static struct tn a, b;
  node_start(&a, 0x77, true, 0);
  node_start(&b, 0x88, false, 0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  char addr[200];
  snprintf(addr, sizeof addr, "%s", yz_node_address(a.node, 0));
  char *hash = strchr(addr, '#');
  memset(hash + 1, 'e', YZ_NODE_ID_HEX_LEN);
  assert_int_equal(yz_node_dial(b.node, addr, NULL), 0);
  WAIT_FOR(b.dial_failed == 1);
  assert_int_equal(b.last_dial_err, YZ_E_PEER_ID_MISMATCH);
  assert_int_equal(b.peer_up, 0);
  assert_int_equal(a.peer_up, 0);
  node_stop(&b);
  node_stop(&a);
}

/* Over wss://: a listener with a certificate, a dialler that verifies it
 * against that certificate as its CA; IDs, messages and requests as over
 * ws://. */
static void test_wss(void **state)
{
  (void)state;
  const char *src = getenv("YZ_SOURCE_DIR");
  if (src == NULL)
    src = ".";
  char cert[512], key[512];
  snprintf(cert, sizeof cert, "%s/tests/node/data/test-cert.pem", src);
  snprintf(key, sizeof key, "%s/tests/node/data/test-key.pem", src);
  static struct tn a, b;
  node_start(&a, 0x99, false, 0);
  yz_link_listen_config lc = {.url = "wss://127.0.0.1:0",
                              .tls_cert_file = cert,
                              .tls_key_file = key};
  assert_int_equal(yz_node_listen(a.node, &lc), 0);
  const char *addr = yz_node_address(a.node, 0);
  assert_non_null(addr);
  assert_memory_equal(addr, "wss://127.0.0.1:", 16);
  next_ca = cert;
  node_start(&b, 0xaa, false, 0);
  next_ca = NULL;
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_dial(b.node, addr, NULL), 0);
  WAIT_FOR(a.peer_up == 1 && b.peer_up == 1);
  assert_true(id_eq(&b.last_peer, yz_node_get_id(a.node)));
  assert_true(id_eq(&a.last_peer, yz_node_get_id(b.node)));
  assert_int_equal(yz_node_send(a.node, yz_node_get_id(b.node), PROTO_MSG,
                                (const uint8_t *)"tls", 3), 0);
  struct reply r = {0};
  assert_int_equal(yz_node_request(b.node, yz_node_get_id(a.node),
                                   PROTO_ECHO, (const uint8_t *)"w", 1, 0,
                                   on_reply, &r, NULL), 0);
  WAIT_FOR(r.done && b.msgs == 1);
  assert_int_equal(r.status, 0);
  assert_memory_equal(r.data, "re:w", 4);
  assert_memory_equal(b.last_msg, "tls", 3);
  stop_both(&a, &b);
}

/* A raw link manager plays a peer that sends bytes no node would. */
struct raw {
  yz_link_manager *m;
  yz_link *link;
  bool up, down, closed;
  int down_err;
  int ups, downs, msgs;
  char down_reason[160];
  uint8_t last_msg[64];
  size_t last_len;
};

static void raw_message(yz_link_manager *m, yz_link *l, const uint8_t *msg,
                        size_t len, void *ud)
{
  (void)m;
  (void)l;
  struct raw *r = ud;
  r->msgs++;
  r->last_len = len < sizeof r->last_msg ? len : sizeof r->last_msg;
  memcpy(r->last_msg, msg, r->last_len);
}

static void raw_up(yz_link_manager *m, yz_link *l, const yz_link_peer *p,
                   void *ud)
{
  (void)m;
  (void)p;
  struct raw *r = ud;
  r->up = true;
  r->ups++;
  r->link = l;
}

static void raw_down(yz_link_manager *m, yz_link *l, int err,
                     const char *reason, void *ud)
{
  (void)m;
  (void)l;
  struct raw *r = ud;
  r->down = true;
  r->downs++;
  r->down_err = err;
  snprintf(r->down_reason, sizeof r->down_reason, "%s", reason);
}

static void raw_closed(void *ud)
{
  struct raw *r = ud;
  r->closed = true;
}

/* A peer that sends a malformed node message: what came before it is
 * delivered, then the node closes the link with a reason. */
static void test_malformed_closes_link(void **state)
{
  (void)state;
  static struct tn a;
  node_start(&a, 0xbb, true, 0);
  assert_int_equal(yz_node_start(a.node), 0);

  static struct raw r;
  memset(&r, 0, sizeof r);
  yz_identity rid;
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0xcc, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&rid, seed), 0);
  yz_link_config lc;
  yz_link_config_default(&lc);
  lc.identity = &rid;
  lc.cb.on_up = raw_up;
  lc.cb.on_down = raw_down;
  lc.user_data = &r;
  assert_int_equal(yz_link_manager_new(&r.m, &loop, &lc), 0);
  yz_identity_clear(&rid);
  yz_link *l;
  assert_int_equal(yz_link_dial(r.m, yz_node_address(a.node, 0), NULL, NULL,
                                &l), 0);
  WAIT_FOR(r.up && a.peer_up == 1);

  /* A valid one-way message for PROTO_MSG (01, protocol, body)... */
  const uint8_t good[] = {1, PROTO_MSG >> 8, PROTO_MSG & 0xff, 'o', 'k'};
  assert_int_equal(yz_link_send(r.link, good, sizeof good), 0);
  /* ...then a request with id 0. */
  const uint8_t bad[] = {2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(yz_link_send(r.link, bad, sizeof bad), 0);
  WAIT_FOR(r.down && a.peer_down == 1);
  assert_int_equal(a.msgs, 1);
  assert_memory_equal(a.last_msg, "ok", 2);
  assert_non_null(strstr(a.last_link_reason, "malformed node message"));
  assert_int_equal(a.last_link_err, YZ_E_MALFORMED);
  /* the peer learns why: a CLOSE with PROTOCOL and the reason
   * (docs/protocol.md "Node messages"), not NORMAL without text */
  assert_int_equal(r.down_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(r.down_reason, "PROTOCOL"));
  assert_non_null(strstr(r.down_reason, "malformed node message"));

  yz_link_manager_close(r.m, raw_closed, &r);
  WAIT_FOR(r.closed);
  node_stop(&a);
}

/* A raw link manager with seed byte 0xcc dialling node t. */
static void raw_start(struct raw *r, struct tn *t)
{
  memset(r, 0, sizeof *r);
  yz_identity rid;
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0xcc, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&rid, seed), 0);
  yz_link_config lc;
  yz_link_config_default(&lc);
  lc.identity = &rid;
  lc.cb.on_up = raw_up;
  lc.cb.on_down = raw_down;
  lc.cb.on_message = raw_message;
  lc.user_data = r;
  assert_int_equal(yz_link_manager_new(&r->m, &loop, &lc), 0);
  yz_identity_clear(&rid);
  yz_link *l;
  assert_int_equal(yz_link_dial(r->m, yz_node_address(t->node, 0), NULL,
                                NULL, &l), 0);
}

/* A peer dials a node twice: the node closes the loser with the close
 * code DUPLICATE and the text "duplicate link" (docs/protocol.md
 * "Duplicate links"), which the peer (here a bare link manager, which
 * applies no rule of its own) sees in its CLOSE. */
static void test_duplicate_close_code(void **state)
{
  (void)state;
  static struct tn a;
  node_start(&a, 0xbc, true, 0);
  assert_int_equal(yz_node_start(a.node), 0);
  static struct raw r;
  raw_start(&r, &a);
  WAIT_FOR(r.ups == 1 && a.peer_up == 1);
  yz_link *l;
  assert_int_equal(yz_link_dial(r.m, yz_node_address(a.node, 0), NULL, NULL,
                                &l), 0);
  WAIT_FOR(r.ups == 2 && r.downs == 1);
  assert_int_equal(r.down_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(r.down_reason, "DUPLICATE"));
  assert_non_null(strstr(r.down_reason, "duplicate link"));
  assert_int_equal(a.peer_down, 0);
  yz_link_manager_close(r.m, raw_closed, &r);
  WAIT_FOR(r.closed);
  node_stop(&a);
}

/* A one-way message to protocol 1 (PING) is dropped: no handler sees it,
 * nothing is answered, the link stays up and PING requests still work
 * (docs/protocol.md "Node messages"). */
static void test_ping_protocol_message_dropped(void **state)
{
  (void)state;
  static struct tn a;
  node_start(&a, 0xbd, true, 0);
  assert_int_equal(yz_node_start(a.node), 0);
  static struct raw r;
  raw_start(&r, &a);
  WAIT_FOR(r.ups == 1 && a.peer_up == 1);
  const uint8_t msg[] = {1, 0, 1, 'x'};
  assert_int_equal(yz_link_send(r.link, msg, sizeof msg), 0);
  const uint8_t req[] = {2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 'p'};
  assert_int_equal(yz_link_send(r.link, req, sizeof req), 0);
  WAIT_FOR(r.msgs == 1);
  /* the only answer is the response to the request */
  const uint8_t resp[] = {3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 'p'};
  assert_int_equal(r.last_len, sizeof resp);
  assert_memory_equal(r.last_msg, resp, sizeof resp);
  assert_int_equal(a.msgs, 0);
  assert_int_equal(r.downs, 0);
  yz_link_manager_close(r.m, raw_closed, &r);
  WAIT_FOR(r.closed);
  node_stop(&a);
}

/* The pending request limit is local (docs/protocol.md "Node messages"):
 * a request over it fails at once with YZ_E_LIMIT and nothing is sent,
 * so the peer sees only the requests within the limit. */
static void test_pending_limit_sends_nothing(void **state)
{
  (void)state;
  static struct tn a, b;
  node_start(&a, 0xbe, true, 0);
  next_max_pending = 2;
  node_start(&b, 0xbf, false, 0);
  next_max_pending = 0;
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_dial(b.node, yz_node_address(a.node, 0), NULL), 0);
  WAIT_FOR(a.peer_up == 1 && b.peer_up == 1);
  const yz_node_id *ida = yz_node_get_id(a.node);
  struct reply r[3];
  memset(r, 0, sizeof r);
  for (int i = 0; i < 2; i++)
    assert_int_equal(yz_node_request(b.node, ida, PROTO_SILENT, NULL, 0,
                                     60000, on_reply, &r[i], NULL), 0);
  assert_int_equal(yz_node_request(b.node, ida, PROTO_SILENT, NULL, 0, 60000,
                                   on_reply, &r[2], NULL), YZ_E_LIMIT);
  /* a one-way message after them arrives after whatever was sent */
  assert_int_equal(yz_node_send(b.node, ida, PROTO_MSG,
                                (const uint8_t *)"m", 1), 0);
  WAIT_FOR(a.msgs == 1);
  assert_int_equal(a.held_n, 2);
  assert_false(r[2].done);
  stop_both(&a, &b);
}

/* Addresses go through the one parser (yz_address_parse): what it refuses,
 * yz_node_dial() and yz_node_add_peer() refuse with YZ_E_ADDRESS, and the
 * log says the parser's reason. Listeners' addresses are canonical. */
static char addr_log[1024];

static void addr_sink(yz_log_level level, const char *line, void *ud)
{
  (void)level;
  (void)ud;
  snprintf(addr_log, sizeof addr_log, "%s", line);
}

#define NID "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"

static void test_addresses(void **state)
{
  (void)state;
  static struct tn b;
  node_start(&b, 0xb2, false, 0);
  static const struct {
    const char *addr;
    const char *reason_has;
  } bad[] = {
      {"ws://127.0.0.01:7700/#" NID, "malformed IPv4"},
      {"ws://h_x:7700/#" NID, "host name contains"},
      {"ws://h:0/#" NID, "1 to 65535"},
      {"ws://h:7700/#21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47"
       "F9721B9", "after '#'"},
      {"WS://h:7700/#" NID, "lowercase"},
      {"ws://h:7700/a b#" NID, "whitespace"},
      {"http://x/#00", "unknown scheme 'http'"},
      {"ws://user@h:7700/#" NID, "user info"},
  };
  yz_log_set_sink(addr_sink, NULL);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    addr_log[0] = '\0';
    int rc = yz_node_dial(b.node, bad[i].addr, NULL);
    if (rc != YZ_E_ADDRESS || strstr(addr_log, bad[i].reason_has) == NULL) {
      yz_log_set_sink(NULL, NULL);
      fail_msg("dial '%s': %s, log '%s' (want '%s')", bad[i].addr,
               yz_err_name(rc), addr_log, bad[i].reason_has);
    }
    addr_log[0] = '\0';
    rc = yz_node_add_peer(b.node, bad[i].addr, NULL);
    if (rc != YZ_E_ADDRESS || strstr(addr_log, bad[i].reason_has) == NULL) {
      yz_log_set_sink(NULL, NULL);
      fail_msg("add_peer '%s': %s, log '%s' (want '%s')", bad[i].addr,
               yz_err_name(rc), addr_log, bad[i].reason_has);
    }
  }
  /* a listen URL with '#NODEID' is refused with the reason */
  addr_log[0] = '\0';
  yz_link_listen_config lc = {.url = "ws://127.0.0.1:0/#" NID};
  assert_int_equal(yz_node_listen(b.node, &lc), YZ_E_ADDRESS);
  assert_non_null(strstr(addr_log, "no '#NODEID'"));
  yz_log_set_sink(NULL, NULL);
  /* a listener's address: canonical, bound port, path "/", the node ID */
  lc.url = "ws://127.0.0.1:0/some/path";
  assert_int_equal(yz_node_listen(b.node, &lc), 0);
  const char *a = yz_node_address(b.node, 0);
  assert_non_null(a);
  char want[128];
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(yz_node_get_id(b.node), hex);
  snprintf(want, sizeof want, "ws://127.0.0.1:%u/#%s", port_of(a), hex);
  assert_string_equal(a, want);
  node_stop(&b);
}

/* yz_node_stop() from inside the node's callbacks: a failed dial (with a
 * configured peer that would be redialled), a peer going down, a message.
 * The node stops cleanly (ASan checks that nothing touches freed memory). */
static void test_stop_in_callbacks(void **state)
{
  (void)state;
  static struct tn a, b;
  /* on_dial_failed: nothing listens at port 1 */
  node_start(&b, 0xb2, false, 0);
  b.stop_in_dial_failed = true;
  assert_int_equal(yz_node_add_peer(b.node, "ws://127.0.0.1:1/#" NID, NULL),
                   0);
  assert_int_equal(yz_node_dial(b.node, "ws://127.0.0.1:1/#" NID, NULL), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  WAIT_FOR(b.stopped);
  assert_true(b.dial_failed >= 1);
  node_free(&b);

  /* on_message, then the peer's on_peer_down, each stops its node */
  node_start(&a, 0xa1, true, 0);
  node_start(&b, 0xb2, false, 0);
  assert_int_equal(yz_node_start(a.node), 0);
  assert_int_equal(yz_node_start(b.node), 0);
  assert_int_equal(yz_node_add_peer(b.node, yz_node_address(a.node, 0), NULL),
                   0);
  WAIT_FOR(a.peer_up == 1 && b.peer_up == 1);
  a.stop_in_message = true;
  b.stop_in_peer_down = true;
  assert_int_equal(yz_node_send(b.node, yz_node_get_id(a.node), PROTO_MSG,
                                (const uint8_t *)"bye", 3), 0);
  WAIT_FOR(a.stopped && b.stopped);
  assert_int_equal(a.msgs, 1);
  assert_int_equal(b.peer_down, 1);
  node_free(&a);
  node_free(&b);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  yz_log_set_level(YZ_LOG_ERR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_two_nodes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_addresses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_in_callbacks, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_cross_dial, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_same_dialer, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_redial, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wss, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_closes_link, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_close_code, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ping_protocol_message_dropped,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_limit_sends_nothing,
                                      setup, teardown),
  };
  return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
