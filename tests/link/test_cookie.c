/*
 * test_cookie.c: the cookie round of docs/protocol.md 4, "Cookie", over
 * loopback (manager.c, ws.c) and the in-memory network (mem.c): under load
 * a responder answers message 1 with a COOKIE_REPLY and no DH; the dialler
 * redials once with the cookie and comes up; forged and stale cookies are
 * refused; without load nothing changes. Deterministic: every wait is on
 * an event, time is the config's clock_ms hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include "yz/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tnode A, B;
static tnode *both[] = {&A, &B, NULL};
static yz_link_memnet *net;

static int setup(void **state) {
  (void)state;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  t_clock_now = 1000000;
  t_clock_step = 0;
  t_loop_init();
  return 0;
}

static void free_net(void) {
  yz_link_memnet_free(net);
  net = NULL;
}

static void start_pair(yz_link_config *ca, yz_link_config *cb, bool mem) {
  if (mem) {
    assert_int_equal(yz_link_memnet_new(&net, t_loop), 0);
    t_before_drain = free_net;
    ca->memnet = cb->memnet = net;
  }
  t_node_start(&A, ca);
  t_node_start(&B, cb);
  if (mem) {
    yz_link_listen_config lc = {"ws://10.0.0.1:0", NULL, NULL};
    assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
  } else {
    t_node_listen_ws(&A);
  }
}

static yz_link *dial(bool mem) {
  char url[64];
  snprintf(url, sizeof url, "ws://%s:%u/", mem ? "10.0.0.1" : "127.0.0.1",
           (unsigned)A.port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  return l;
}

static yz_link_stats stats(const tnode *n) {
  yz_link_stats st;
  yz_link_manager_stats(n->m, &st);
  return st;
}

/* ---- the dial under load ------------------------------------------------ */

/* cookie_always: the first message 1 gets a COOKIE_REPLY and no DH; the
 * dial comes up on the one redial; each side sees one on_up and no
 * on_down. */
static void dial_under_load(bool mem) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.cookie_always = true;
  start_pair(&ca, &cb, mem);
  yz_link *l = dial(mem);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  assert_ptr_equal(B.last_up, l);
  assert_int_equal(A.downs + B.downs, 0);
  yz_link_stats a = stats(&A), b = stats(&B);
  assert_int_equal(a.cookie_replies, 1);
  assert_int_equal(a.cookies_accepted, 1);
  assert_int_equal(a.cookies_rejected, 0);
  /* one message 2, for the second attempt: the first cost no DH */
  assert_int_equal(a.handshakes_answered, 1);
  assert_int_equal(a.links_up_total, 1);
  assert_int_equal(b.cookie_redials, 1);
  assert_int_equal(b.links_up_total, 1);
  assert_int_equal(b.handshakes_failed, 0);
  assert_int_equal(b.handshakes, 0);
  /* and it works */
  assert_int_equal(yz_link_send(l, (const uint8_t *)"after", 5), 0);
  t_wait_ge(&A.msgs, 1);
  assert_memory_equal(A.last_msg, "after", 5);
  assert_int_equal(A.ups, 1);
  assert_int_equal(B.ups, 1);
  t_loop_finish(both);
}

static void test_dial_under_load_ws(void **state) {
  (void)state;
  dial_under_load(false);
}

static void test_dial_under_load_mem(void **state) {
  (void)state;
  dial_under_load(true);
}

/* Without load nothing changes: no reply, no redial, one message 2. */
static void test_no_load(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  start_pair(&ca, &cb, false);
  (void)dial(false);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  yz_link_stats a = stats(&A), b = stats(&B);
  assert_int_equal(a.cookie_replies, 0);
  assert_int_equal(a.cookies_accepted + a.cookies_rejected, 0);
  assert_int_equal(a.handshakes_answered, 1);
  assert_int_equal(a.handshakes_failed, 0);
  assert_int_equal(b.cookie_redials, 0);
  t_loop_finish(both);
}

/* The redial happens once: a responder that refuses the cookie too (here
 * its clock runs 250 s per reading, so the cookie is stale when it comes
 * back) makes the dial go down with YZ_E_LIMIT, no second redial. */
static void test_one_redial_only(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.cookie_always = true;
  ca.clock_ms = t_clock;
  t_clock_step = 250000;
  start_pair(&ca, &cb, false);
  (void)dial(false);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_LIMIT);
  assert_non_null(strstr(B.last_reason, "under load"));
  yz_link_stats a = stats(&A), b = stats(&B);
  assert_int_equal(b.cookie_redials, 1);
  assert_int_equal(a.cookie_replies, 2);
  assert_int_equal(a.cookies_rejected, 1);
  assert_int_equal(a.cookies_accepted, 0);
  assert_int_equal(a.handshakes_answered, 0);
  assert_int_equal(A.ups + B.ups, 0);
  assert_int_equal(B.downs, 1);
  t_loop_finish(both);
}

/* ---- the triggers ------------------------------------------------------- */

static bool hs_ge(void *ud) {
  const int *want = ud;
  return stats(&A).handshakes >= (uint32_t)*want;
}

/* Half of max_handshakes in progress (two silent raw clients of four)
 * puts the node under load; the dial still comes up, with one redial. */
static void test_trigger_handshakes(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_handshakes = 4;
  ca.cookie_load_pct = 50;
  start_pair(&ca, &cb, false);
  /* one handshake in progress: not yet */
  raw_client r1, r2;
  raw_connect(&r1, A.port, YZ_SESSION_WS_SUBPROTOCOL, NULL, 0);
  int one = 1, two = 2;
  t_run_until(hs_ge, &one);
  (void)dial(false);
  t_wait_ge(&B.ups, 1);
  assert_int_equal(stats(&A).cookie_replies, 0);
  assert_int_equal(stats(&B).cookie_redials, 0);
  /* two: under load */
  raw_connect(&r2, A.port, YZ_SESSION_WS_SUBPROTOCOL, NULL, 0);
  t_run_until(hs_ge, &two);
  (void)dial(false);
  t_wait_ge(&B.ups, 2);
  assert_int_equal(stats(&A).cookie_replies, 1);
  assert_int_equal(stats(&A).cookies_accepted, 1);
  assert_int_equal(stats(&B).cookie_redials, 1);
  assert_int_equal(B.downs, 0);
  raw_close(&r1);
  raw_close(&r2);
  t_loop_finish(both);
}

/* More than cookie_msg1_per_s message 1s in a second of clock_ms: the
 * next dialler pays a round trip; two seconds later the count is gone. */
static void test_trigger_rate(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.cookie_msg1_per_s = 1;
  ca.clock_ms = t_clock;
  start_pair(&ca, &cb, false);
  (void)dial(false);
  t_wait_ge(&B.ups, 1);
  assert_int_equal(stats(&A).cookie_replies, 0);
  (void)dial(false); /* the second in this second */
  t_wait_ge(&B.ups, 2);
  assert_int_equal(stats(&A).cookie_replies, 1);
  assert_int_equal(stats(&B).cookie_redials, 1);
  t_clock_now += 2000;
  (void)dial(false);
  t_wait_ge(&B.ups, 3);
  assert_int_equal(stats(&A).cookie_replies, 1);
  assert_int_equal(stats(&A).handshakes_answered, 3);
  assert_int_equal(B.downs, 0);
  t_loop_finish(both);
}

/* ---- forged and stale cookies, from a raw client ------------------------ */

static bool raw_got(void *ud) {
  raw_client *c = ud;
  return c->closed || c->ws_in_len >= 2 + YZ_SESSION_COOKIE_REPLY_LEN;
}

static bool raw_closed_cond(void *ud) { return ((raw_client *)ud)->closed; }

/* The server's first frame to c is a COOKIE_REPLY: its cookie. */
static void expect_reply(raw_client *c, uint8_t cookie[16]) {
  t_run_until(raw_got, c);
  t_run_until(raw_closed_cond, c); /* and the server closes */
  assert_true(c->upgraded);
  assert_true(c->ws_in_len >= 2 + YZ_SESSION_COOKIE_REPLY_LEN);
  assert_int_equal(c->ws_in[0], 0x82); /* one binary frame, unmasked */
  assert_int_equal(c->ws_in[1], YZ_SESSION_COOKIE_REPLY_LEN);
  assert_int_equal(yz_session_cookie_reply_parse(cookie, c->ws_in + 2,
                                                 YZ_SESSION_COOKIE_REPLY_LEN,
                                                 NULL),
                   0);
}

static void msg1_with(uint8_t m1[49], const uint8_t cookie[16]) {
  for (int i = 0; i < 32; i++)
    m1[i] = (uint8_t)(0x40 + i);
  m1[32] = YZ_SESSION_COOKIE_TYPE;
  memcpy(m1 + 33, cookie, 16);
}

static void test_forged_cookie(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.cookie_always = true;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  uint8_t forged[16], m1[49], got[16];
  memset(forged, 0xa5, sizeof forged);
  msg1_with(m1, forged);
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, m1, sizeof m1);
  expect_reply(&c, got);
  assert_memory_not_equal(got, forged, 16);
  yz_link_stats a = stats(&A);
  assert_int_equal(a.cookies_rejected, 1);
  assert_int_equal(a.cookies_accepted, 0);
  assert_int_equal(a.cookie_replies, 1);
  assert_int_equal(a.handshakes_answered, 0); /* no DH */
  assert_int_equal(a.handshakes, 0);          /* no state kept */
  assert_int_equal(A.ups + A.downs, 0);
  t_loop_finish(both);
}

static bool answered_ge1(void *ud) {
  (void)ud;
  return stats(&A).handshakes_answered >= 1;
}

/* A cookie stays valid through the next rotation period (120 s) and no
 * longer: at +130 s it is served (message 2 comes back), at +250 s it is
 * refused with a fresh COOKIE_REPLY. */
static void test_stale_cookie(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.cookie_always = true;
  ca.clock_ms = t_clock;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  uint8_t plain[32], cookie[16], m1[49], again[16];
  memset(plain, 0x40, sizeof plain);
  raw_client c1, c2, c3;
  raw_connect(&c1, A.port, YZ_SESSION_WS_SUBPROTOCOL, plain, sizeof plain);
  expect_reply(&c1, cookie);
  msg1_with(m1, cookie);

  t_clock_now += 130000; /* the previous secret: still valid */
  raw_connect(&c2, A.port, YZ_SESSION_WS_SUBPROTOCOL, m1, sizeof m1);
  t_run_until(answered_ge1, NULL);
  assert_int_equal(stats(&A).cookies_accepted, 1);
  assert_int_equal(stats(&A).cookie_replies, 1);
  raw_close(&c2);
  t_run_until(raw_closed_cond, &c2);

  t_clock_now += 120000; /* two periods after it was made: stale */
  raw_connect(&c3, A.port, YZ_SESSION_WS_SUBPROTOCOL, m1, sizeof m1);
  expect_reply(&c3, again);
  assert_memory_not_equal(again, cookie, 16);
  yz_link_stats a = stats(&A);
  assert_int_equal(a.cookies_rejected, 1);
  assert_int_equal(a.cookies_accepted, 1);
  assert_int_equal(a.cookie_replies, 2);
  assert_int_equal(a.handshakes_answered, 1);
  t_loop_finish(both);
}

/* A message 1 whose cookie has an unknown type is a protocol error: the
 * connection closes with no reply and no DH. */
static void test_unknown_cookie_type(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.cookie_always = true;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  uint8_t zero[16] = {0}, m1[49];
  msg1_with(m1, zero);
  m1[32] = 0x02;
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, m1, sizeof m1);
  t_run_until(raw_closed_cond, &c);
  yz_link_stats a = stats(&A);
  assert_int_equal(a.cookie_replies, 0);
  assert_int_equal(a.handshakes_answered, 0);
  assert_int_equal(a.handshakes_failed, 1);
  t_loop_finish(both);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_dial_under_load_ws, setup),
      cmocka_unit_test_setup(test_dial_under_load_mem, setup),
      cmocka_unit_test_setup(test_no_load, setup),
      cmocka_unit_test_setup(test_one_redial_only, setup),
      cmocka_unit_test_setup(test_trigger_handshakes, setup),
      cmocka_unit_test_setup(test_trigger_rate, setup),
      cmocka_unit_test_setup(test_forged_cookie, setup),
      cmocka_unit_test_setup(test_stale_cookie, setup),
      cmocka_unit_test_setup(test_unknown_cookie_type, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
