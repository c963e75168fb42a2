/*
 * test_mem.c: link managers on the in-memory network (mem.c): the same
 * sessions and events as over WebSocket, without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include "yz/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tnode A, B;
static tnode *both[] = {&A, &B, NULL};
static yz_link_memnet *net;

static void free_net(void) {
  yz_link_memnet_free(net);
  net = NULL;
}

static int setup(void **state) {
  (void)state;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  t_loop_init();
  assert_int_equal(yz_link_memnet_new(&net, t_loop), 0);
  t_before_drain = free_net;
  return 0;
}

/* A and B on the in-memory network with these configurations; A
 * listens. */
static void start_configured(yz_link_config *ca, yz_link_config *cb) {
  ca->memnet = cb->memnet = net;
  t_node_start(&A, ca);
  t_node_start(&B, cb);
  yz_link_listen_config lc = {"ws://10.0.0.1:0", NULL, NULL};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
}

static void start_pair(uint32_t a_max_links) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  if (a_max_links > 0)
    ca.max_links = a_max_links;
  ca.max_handshakes = cb.max_handshakes = 4000;
  cb.max_links = 4000;
  start_configured(&ca, &cb);
}
static yz_link *dial(tnode *from, uint16_t port, const yz_node_id *id) {
  char url[64];
  snprintf(url, sizeof url, "ws://10.0.0.1:%u/", (unsigned)port);
  yz_link *l;
  assert_int_equal(yz_link_dial(from->m, url, id, NULL, &l), 0);
  return l;
}

static void test_exchange(void **state) {
  (void)state;
  start_pair(0);
  yz_link *l = dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  assert_true(yz_node_id_equal(&A.last_peer, &B.id.id));
  assert_true(yz_node_id_equal(&B.last_peer, &A.id.id));
  assert_int_equal(A.last_dir, YZ_LINK_INBOUND);
  assert_int_equal(yz_link_send(l, (const uint8_t *)"ping", 4), 0);
  t_wait_ge(&A.msgs, 1);
  assert_memory_equal(A.last_msg, "ping", 4);
  size_t big = 300000;
  uint8_t *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++)
    p[i] = (uint8_t)(i * 13);
  assert_int_equal(yz_link_send(A.last_up, p, big), 0);
  t_wait_ge(&B.msgs, 1);
  assert_int_equal(B.msg_bytes, big);
  free(p);
  yz_link_close(l);
  t_wait_ge(&A.downs, 1);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_CLOSED);
  assert_int_equal(A.last_err, YZ_E_PEER_CLOSED);
  t_loop_finish(both);
}

static void test_wrong_id_and_unreachable(void **state) {
  (void)state;
  start_pair(0);
  yz_node_id wrong;
  memset(&wrong, 9, sizeof wrong);
  (void)dial(&B, A.port, &wrong);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_PEER_ID_MISMATCH);
  (void)dial(&B, (uint16_t)(A.port + 1), &A.id.id);
  t_wait_ge(&B.downs, 2);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_int_equal(A.ups + B.ups, 0);
  t_loop_finish(both);
}

static void test_max_links(void **state) {
  (void)state;
  start_pair(1);
  (void)dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 1);
  (void)dial(&B, A.port, &A.id.id);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_LINKS], 1);
  t_loop_finish(both);
}

enum { MANY = 2000 };

static void many_up(tnode *n, yz_link *l) {
  (void)n;
  assert_int_equal(yz_link_send(l, (const uint8_t *)"x", 1), 0);
}

/* Many links without a single file descriptor; shutdown with all open. */
static void test_many(void **state) {
  (void)state;
  start_pair(MANY);
  A.on_up_hook = B.on_up_hook = many_up;
  for (int i = 0; i < MANY; i++)
    (void)dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.msgs, MANY);
  t_wait_ge(&B.msgs, MANY);
  t_loop_finish(both);
  assert_int_equal(A.downs, MANY);
  assert_int_equal(B.downs, MANY);
}

static uint64_t b_bytes_in_min;
static bool b_got_bytes(void *ud) {
  (void)ud;
  yz_link_stats st;
  yz_link_manager_stats(B.m, &st);
  return st.bytes_in >= b_bytes_in_min;
}

/* Virtual time: deadlines follow the caller's clock and run only when the
 * caller says; the keepalive ping goes out when the clock reaches it. */
static void test_virtual_time(void **state) {
  (void)state;
  t_clock_now = 1000000;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.clock_ms = cb.clock_ms = t_clock;
  ca.virtual_time = cb.virtual_time = true;
  ca.ping_interval_ms = cb.ping_interval_ms = 5000;
  start_configured(&ca, &cb);
  (void)dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  uint64_t d = yz_link_manager_next_deadline(A.m);
  assert_true(d > t_clock_now && d != UINT64_MAX);
  assert_true(d <= t_clock_now + 5000);
  yz_link_stats st;
  yz_link_manager_stats(B.m, &st);
  /* nothing runs before the deadline, however long the loop runs */
  t_clock_now = d - 1;
  yz_link_manager_run_timers(A.m);
  yz_link_stats sa0;
  yz_link_manager_stats(A.m, &sa0);
  t_clock_now = d;
  yz_link_manager_run_timers(A.m);
  yz_link_stats sa1;
  yz_link_manager_stats(A.m, &sa1);
  assert_true(sa1.bytes_out > sa0.bytes_out); /* the ping */
  b_bytes_in_min = st.bytes_in + 1;
  t_run_until(b_got_bytes, NULL);
  assert_true(yz_link_manager_next_deadline(A.m) > d);
  t_loop_finish(both);
}

/* Closing the manager from its own callbacks (link.h: safe): from the
 * on_down of an unreachable dial, then from on_message with up links. */
static void closed_cb(void *ud) { ((tnode *)ud)->closed++; }

static void close_self(tnode *n) {
  if (n->hook_ud == NULL) {
    n->hook_ud = n;
    yz_link_manager_close(n->m, closed_cb, n);
  }
}

static void close_on_down(tnode *n, yz_link *l, int err) {
  (void)l;
  (void)err;
  close_self(n);
}

static void close_on_msg(tnode *n, yz_link *l, const uint8_t *m, size_t len) {
  (void)l;
  (void)m;
  (void)len;
  close_self(n);
}

static void test_close_in_callbacks(void **state) {
  (void)state;
  start_pair(0);
  B.on_down_hook = close_on_down;
  (void)dial(&B, A.port, &A.id.id);
  (void)dial(&B, (uint16_t)(A.port + 1), &A.id.id);
  (void)dial(&B, (uint16_t)(A.port + 1), &A.id.id);
  t_wait_ge(&B.closed, 1);
  B.m = NULL;
  assert_int_equal(B.downs, 3);

  tnode C;
  memset(&C, 0, sizeof C);
  tnode *all[] = {&A, &C, NULL};
  yz_link_config cc;
  t_node_config(&C, &cc, 3);
  cc.memnet = net;
  t_node_start(&C, &cc);
  A.on_msg_hook = close_on_msg;
  yz_link *l1 = dial(&C, A.port, &A.id.id);
  yz_link *l2 = dial(&C, A.port, &A.id.id);
  t_wait_ge(&C.ups, 2);
  t_wait_ge(&A.ups, 2);
  assert_int_equal(yz_link_send(l1, (const uint8_t *)"one", 3), 0);
  assert_int_equal(yz_link_send(l2, (const uint8_t *)"two", 3), 0);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_int_equal(A.downs, A.ups);
  t_wait_ge(&C.downs, 2);
  /* the shutdown sent its close frames (GOING_AWAY) */
  assert_int_equal(C.down_errs[0], YZ_E_PEER_CLOSED);
  assert_int_equal(C.down_errs[1], YZ_E_PEER_CLOSED);
  t_loop_finish(all);
}

/* ---- memory budget (yz_link_config.mem_budget_bytes) ------------------ */

enum { MIB = 1024 * 1024 };

static uint8_t *pattern(size_t n, uint8_t seed) {
  uint8_t *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 31 + seed);
  return p;
}

static yz_link_stats stats_of(const tnode *n) {
  yz_link_stats st;
  yz_link_manager_stats(n->m, &st);
  return st;
}

static bool a_budget_empty(void *ud) {
  (void)ud;
  return stats_of(&A).budget_bytes == 0;
}

static bool b_budget_empty(void *ud) {
  (void)ud;
  return stats_of(&B).budget_bytes == 0;
}

/* The application's sends over the budget get YZ_E_QUEUE_FULL (the node
 * closes none of its links for them), then on_writable once the other
 * queues drained; the receiver holds no reassembly memory afterwards. */
static void test_budget_send_refused(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  cb.mem_budget_bytes = 3 * MIB; /* application's share: 2.625 MiB */
  start_configured(&ca, &cb);
  yz_link *l[3];
  for (int i = 0; i < 3; i++)
    l[i] = dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 3);
  t_wait_ge(&B.ups, 3);
  uint8_t *p = pattern(MIB, 1);
  /* queued without running the loop: each link's queue is empty, so only
   * the budget can refuse */
  assert_int_equal(yz_link_send(l[0], p, MIB), 0);
  assert_int_equal(yz_link_send(l[1], p, MIB), 0);
  yz_link_stats st = stats_of(&B);
  assert_true(st.budget_bytes >= 2u * MIB);
  assert_int_equal(yz_link_send(l[2], p, MIB), YZ_E_QUEUE_FULL);
  st = stats_of(&B);
  assert_int_equal(st.queue_full, 1);
  assert_int_equal(st.budget_closes, 0);
  t_wait_ge(&B.writables, 1);
  assert_int_equal(yz_link_send(l[2], p, MIB), 0);
  t_wait_ge(&A.msgs, 3);
  assert_int_equal(A.msg_bytes, 3u * MIB);
  assert_int_equal(B.downs + A.downs, 0);
  /* delivered: the receiver's reassembly buffers are gone, the sender's
   * queues drained */
  t_run_until(a_budget_empty, NULL);
  t_run_until(b_budget_empty, NULL);
  assert_int_equal(stats_of(&A).budget_closes, 0);
  free(p);
  t_loop_finish(both);
}

/* A: budget 2 MiB; it dials B twice (x, y) and queues on them without
 * running the loop; B dials A once (z) and sends A a 1 MiB message, whose
 * reassembly on A meets the budget. */
static yz_link *ax, *ay;
static yz_link *a_down_link, *b_down_link; /* compared, never used */

static void record_down(tnode *n, yz_link *l, int err) {
  (void)err;
  if (n == &A && a_down_link == NULL)
    a_down_link = l;
  if (n == &B && b_down_link == NULL)
    b_down_link = l;
}

static void budget_three_links(yz_link **bz) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.mem_budget_bytes = 2 * MIB;
  start_configured(&ca, &cb);
  yz_link_listen_config lc = {"ws://10.0.0.1:0", NULL, NULL};
  assert_int_equal(yz_link_listen(B.m, &lc, &B.port), 0);
  a_down_link = b_down_link = NULL;
  A.on_down_hook = B.on_down_hook = record_down;
  ax = dial(&A, B.port, &B.id.id);
  ay = dial(&A, B.port, &B.id.id);
  *bz = dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 3);
  t_wait_ge(&B.ups, 3);
}

static int down_count(const tnode *n, int err) {
  int c = 0;
  for (int i = 0; i < n->downs && i < 8; i++)
    c += n->down_errs[i] == err;
  return c;
}

/* The heaviest link is closed, not the one that asked for memory. */
static void test_budget_closes_heaviest(void **state) {
  (void)state;
  yz_link *bz;
  budget_three_links(&bz);
  uint8_t *p = pattern(MIB, 2);
  assert_int_equal(yz_link_send(bz, p, MIB), 0);  /* delivered first */
  assert_int_equal(yz_link_send(ax, p, MIB), 0);  /* the heaviest */
  assert_int_equal(yz_link_send(ay, p, 100000), 0);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(A.down_errs[0], YZ_E_LIMIT);
  assert_non_null(strstr(A.last_reason, "memory budget"));
  assert_ptr_equal(a_down_link, ax);
  assert_true(yz_link_is_up(ay));
  assert_true(yz_link_is_up(bz));
  /* z's message got through; so did y's; x's queue (1 MiB, more than a
   * peer that keeps up leaves) was dropped at once, and with it the CLOSE
   * that would follow its frames: B sees the connection close */
  t_wait_ge(&A.msgs, 1);
  assert_int_equal(A.msg_bytes, MIB);
  t_wait_ge(&B.msgs, 1);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.down_errs[0], YZ_E_IO);
  assert_int_equal(B.msgs, 1);
  assert_int_equal(B.msg_bytes, 100000);
  yz_link_stats st = stats_of(&A);
  assert_int_equal(st.budget_closes, 1);
  t_run_until(a_budget_empty, NULL);
  assert_int_equal(A.downs, 1);
  free(p);
  t_loop_finish(both);
}

/* When the link asking for memory is itself the heaviest, it is the one
 * closed; the others keep their queues and deliver them. Its own queue is
 * empty, so the peer gets the CLOSE frame, code INTERNAL, and the reason. */
static void test_budget_closes_self(void **state) {
  (void)state;
  yz_link *bz;
  budget_three_links(&bz);
  uint8_t *p = pattern(MIB, 3);
  assert_int_equal(yz_link_send(bz, p, MIB), 0);
  assert_int_equal(yz_link_send(ax, p, 600000), 0);
  assert_int_equal(yz_link_send(ay, p, 600000), 0);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(A.down_errs[0], YZ_E_LIMIT);
  t_wait_ge(&B.msgs, 2);
  assert_int_equal(B.msg_bytes, 1200000);
  assert_int_equal(A.msgs, 0);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(down_count(&B, YZ_E_PEER_CLOSED), 1);
  assert_ptr_equal(b_down_link, bz);
  assert_non_null(strstr(B.last_reason, "INTERNAL"));
  assert_non_null(strstr(B.last_reason, "memory budget"));
  assert_true(yz_link_is_up(ax));
  assert_true(yz_link_is_up(ay));
  assert_int_equal(stats_of(&A).budget_closes, 1);
  t_run_until(a_budget_empty, NULL);
  free(p);
  t_loop_finish(both);
}

/* The in-memory network hands the session its own copy of each message,
 * decrypted in place: no receive buffer stays after a message of one
 * frame (the budget counts none); the keepalive's PING is all a link
 * holds once idle. (A session's own buffers, kept while busy and freed
 * when idle: tests/session test_idle_state_released.) */
static void test_budget_idle_release(void **state) {
  (void)state;
  t_clock_now = 1000000;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.clock_ms = cb.clock_ms = t_clock;
  ca.virtual_time = cb.virtual_time = true;
  start_configured(&ca, &cb);
  yz_link *l = dial(&B, A.port, &A.id.id);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  uint8_t *p = pattern(1000, 4);
  assert_int_equal(yz_link_send(l, p, 1000), 0);
  t_wait_ge(&A.msgs, 1);
  assert_int_equal(A.msg_bytes, 1000);
  assert_memory_equal(A.last_msg, p, A.last_msg_len);
  assert_int_equal(stats_of(&A).budget_bytes, 0);
  t_clock_now = yz_link_manager_next_deadline(A.m);
  yz_link_manager_run_timers(A.m);
  /* what is left is the PING it just queued */
  size_t queued = 0;
  yz_link_queue_level(A.last_up, &queued, NULL);
  assert_true(queued > 0);
  assert_int_equal(stats_of(&A).budget_bytes, queued);
  free(p);
  t_loop_finish(both);
}

/* Below twice the maximum message, no message could pass. */
static void test_budget_config(void **state) {
  (void)state;
  yz_link_config c;
  t_node_config(&A, &c, 1);
  c.memnet = net;
  c.mem_budget_bytes = 2 * MIB - 1;
  yz_link_manager *m = NULL;
  assert_int_equal(yz_link_manager_new(&m, t_loop, &c), YZ_E_INVAL);
  assert_null(m);
  yz_link_config_default(&c);
  assert_int_equal(c.mem_budget_bytes, 256u * MIB);
  assert_int_equal(c.send_queue_max_bytes, MIB);
  t_loop_finish(both);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (getenv("YZ_TEST_LOG") != NULL)
    yz_log_set_level(YZ_LOG_DEBUG);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_exchange, setup),
      cmocka_unit_test_setup(test_wrong_id_and_unreachable, setup),
      cmocka_unit_test_setup(test_max_links, setup),
      cmocka_unit_test_setup(test_many, setup),
      cmocka_unit_test_setup(test_virtual_time, setup),
      cmocka_unit_test_setup(test_close_in_callbacks, setup),
      cmocka_unit_test_setup(test_budget_send_refused, setup),
      cmocka_unit_test_setup(test_budget_closes_heaviest, setup),
      cmocka_unit_test_setup(test_budget_closes_self, setup),
      cmocka_unit_test_setup(test_budget_idle_release, setup),
      cmocka_unit_test_setup(test_budget_config, setup),
  };
  return cmocka_run_group_tests_name("link_mem", tests, NULL, NULL);
}
