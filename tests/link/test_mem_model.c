/*
 * test_mem_model.c: the in-memory network's virtual-time model (mem.c,
 * yz_link_memnet_set_model in yz/link.h, docs/simulator.md): delivery at
 * the pair's latency, two round trips before a dial comes up, order kept
 * under loss, kills that drop silently, the latency draw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tnode A, B;
static yz_link_memnet *net;
static uint64_t up_at[2];
static int closed;

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* The simulator's loop in small: run what is due now, else move the clock
 * to the next event or deadline. */
static void drive_until(bool (*cond)(void), uint64_t limit_ms) {
  for (;;) {
    uv_run(t_loop, UV_RUN_NOWAIT);
    if (cond())
      return;
    if (yz_link_memnet_run(net) > 0)
      continue;
    uint64_t t = min3(yz_link_memnet_next_event(net),
                      A.m ? yz_link_manager_next_deadline(A.m) : UINT64_MAX,
                      B.m ? yz_link_manager_next_deadline(B.m) : UINT64_MAX);
    assert_true(t != UINT64_MAX); /* else the condition can never hold */
    assert_true(t <= limit_ms);
    if (t > t_clock_now)
      t_clock_now = t;
    if (A.m)
      yz_link_manager_run_timers(A.m);
    if (B.m)
      yz_link_manager_run_timers(B.m);
  }
}

static void up_hook(tnode *n, yz_link *l) {
  (void)l;
  up_at[n == &A ? 0 : 1] = t_clock_now;
}

static void start(double loss, uint32_t dead_ms) {
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  memset(up_at, 0, sizeof up_at);
  closed = 0;
  t_loop_init();
  t_clock_now = 0;
  t_clock_step = 0;
  assert_int_equal(yz_link_memnet_new(&net, t_loop), 0);
  yz_link_memnet_model md = {.clock_ms = t_clock,
                             .seed = 7,
                             .latency_ms = 50,
                             .spread = 0.0,
                             .loss = loss,
                             .dead_connect_ms = dead_ms};
  assert_int_equal(yz_link_memnet_set_model(net, &md), 0);
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.memnet = cb.memnet = net;
  ca.clock_ms = cb.clock_ms = t_clock;
  ca.virtual_time = cb.virtual_time = true;
  A.on_up_hook = B.on_up_hook = up_hook;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  yz_link_listen_config lc = {"ws://10.0.0.1:0", NULL, NULL};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
}

static yz_link *dial_a(void) {
  char url[64];
  snprintf(url, sizeof url, "ws://10.0.0.1:%u/", A.port);
  yz_link *l = NULL;
  yz_node_id aid = *yz_link_manager_node_id(A.m);
  assert_int_equal(yz_link_dial(B.m, url, &aid, NULL, &l), 0);
  return l;
}

static void on_closed(void *ud) {
  (void)ud;
  closed++;
}
static bool both_closed(void) { return closed == 2; }

static void finish(void) {
  yz_link_manager_close(A.m, on_closed, NULL);
  yz_link_manager_close(B.m, on_closed, NULL);
  drive_until(both_closed, UINT64_MAX - 1);
  A.m = B.m = NULL;
  yz_link_memnet_free(net);
  net = NULL;
  tnode *none[] = {NULL};
  t_loop_finish(none);
}

static bool both_up(void) { return A.ups == 1 && B.ups == 1; }

/* 50 ms one way, no spread: TCP and the upgrade take two round trips
 * (200 ms), then message 1 arrives at 250, message 2 at 300 (the
 * initiator is up), message 3 at 350 (the responder is up). */
static void test_handshake_times(void **state) {
  (void)state;
  start(0.0, 0);
  (void)dial_a();
  drive_until(both_up, 10000);
  assert_int_equal(up_at[1], 300);
  assert_int_equal(up_at[0], 350);
  /* an application message takes one way's latency */
  uint8_t m[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t sent = t_clock_now;
  assert_int_equal(yz_link_send(A.last_up, m, sizeof m), 0);
  while (B.msgs < 1) {
    uv_run(t_loop, UV_RUN_NOWAIT);
    if (yz_link_memnet_run(net) == 0)
      t_clock_now = yz_link_memnet_next_event(net);
  }
  assert_int_equal(t_clock_now - sent, 50);
  assert_memory_equal(B.last_msg, m, sizeof m);
  finish();
}

static int received_in_order;
static int expect_next;
static void order_hook(tnode *n, yz_link *l, const uint8_t *msg, size_t len) {
  (void)n;
  (void)l;
  assert_int_equal(len, 4);
  int v = msg[0] | msg[1] << 8;
  if (v == expect_next) {
    received_in_order++;
    expect_next++;
  }
}
static bool all_received(void) { return B.msgs == 200; }

/* Half the attempts lost: every message still arrives, in order, late. */
static void test_loss_keeps_order(void **state) {
  (void)state;
  start(0.5, 0);
  (void)dial_a();
  drive_until(both_up, 600000);
  received_in_order = 0;
  expect_next = 0;
  B.on_msg_hook = order_hook;
  uint64_t sent = t_clock_now;
  for (int i = 0; i < 200; i++) {
    uint8_t m[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0, 0};
    assert_int_equal(yz_link_send(A.last_up, m, sizeof m), 0);
  }
  drive_until(all_received, 600000);
  assert_int_equal(received_in_order, 200);
  yz_link_memnet_stats st;
  yz_link_memnet_get_stats(net, &st);
  assert_true(st.losses > 0);
  /* some message was lost at least once: 50 ms + a 200 ms timeout */
  assert_true(t_clock_now - sent >= 250);
  finish();
}

static int want_downs;
static bool b_down(void) { return B.downs >= want_downs; }

/* A killed node hears nothing and answers nothing: a message to it is
 * dropped, the peer's session times out (missed pongs); a dial to it
 * fails after dead_connect_ms. */
static void test_kill(void **state) {
  (void)state;
  start(0.0, 3000);
  (void)dial_a();
  drive_until(both_up, 10000);
  int a_msgs = A.msgs;
  yz_link_memnet_kill(net, A.m);
  uint8_t m[3] = {9, 9, 9};
  assert_int_equal(yz_link_send(B.last_up, m, sizeof m), 0);
  want_downs = 1;
  drive_until(b_down, 600000);
  assert_int_equal(A.msgs, a_msgs);
  assert_int_equal(B.last_err, YZ_E_TIMEOUT);
  yz_link_memnet_stats st;
  yz_link_memnet_get_stats(net, &st);
  assert_true(st.dropped >= 1);
  /* a new dial: unreachable after 3 s */
  uint64_t t0 = t_clock_now;
  (void)dial_a();
  want_downs = 2;
  drive_until(b_down, 600000);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_int_equal(t_clock_now - t0, 3000);
  finish();
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The latency draw: symmetric, fixed by the seed and the pair, with the
 * median asked for. */
static void test_pair_latency(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  yz_link_memnet *n1, *n2;
  assert_int_equal(yz_link_memnet_new(&n1, &loop), 0);
  assert_int_equal(yz_link_memnet_new(&n2, &loop), 0);
  yz_link_memnet_model md = {.clock_ms = t_clock, .seed = 1,
                             .latency_ms = 50, .spread = 0.5};
  assert_int_equal(yz_link_memnet_set_model(n1, &md), 0);
  md.seed = 2;
  assert_int_equal(yz_link_memnet_set_model(n2, &md), 0);
  md.loss = 1.0;
  assert_int_equal(yz_link_memnet_set_model(n2, &md), YZ_E_INVAL);
  enum { P = 2001 };
  static uint32_t lat[P];
  int differ = 0;
  for (int i = 0; i < P; i++) {
    yz_node_id a, b;
    randombytes_buf(a.bytes, sizeof a.bytes);
    randombytes_buf(b.bytes, sizeof b.bytes);
    lat[i] = yz_link_memnet_pair_latency(n1, &a, &b);
    assert_int_equal(lat[i], yz_link_memnet_pair_latency(n1, &b, &a));
    assert_true(lat[i] >= 1);
    differ += lat[i] != yz_link_memnet_pair_latency(n2, &a, &b);
  }
  assert_true(differ > P / 2);
  qsort(lat, P, sizeof lat[0], cmp_u32);
  assert_true(lat[P / 2] >= 46 && lat[P / 2] <= 54);
  assert_true(lat[P / 10] < 40 && lat[P - P / 10] > 60); /* spread */
  yz_link_memnet_free(n1);
  yz_link_memnet_free(n2);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_times),
      cmocka_unit_test(test_loss_keeps_order),
      cmocka_unit_test(test_kill),
      cmocka_unit_test(test_pair_latency),
  };
  return cmocka_run_group_tests_name("link_mem_model", tests, NULL, NULL);
}
