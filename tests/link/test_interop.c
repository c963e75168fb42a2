/*
 * test_interop.c: the native WebSocket backend (src/link/native.c) against
 * libwebsockets (src/link/ws.c) as the independent implementation, both
 * ways, over ws:// and wss:// on loopback: the native dialler to an lws
 * listener, the lws dialler to a native listener. Each link exchanges
 * small and fragmented (200 KB) messages both ways and ends with a close
 * that the other side reports as the peer's. Then what a native listener
 * answers a raw client: an upgrade without the subprotocol, a text frame,
 * an unmasked frame, a ping (the Close and Pong it sends back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "yz/session.h"

static tnode A, B;
static tnode *both[] = {&A, &B, NULL};

static int setup(void **state) {
  (void)state;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  t_loop_init();
  return 0;
}

static void pair(yz_link_backend listener, yz_link_backend dialler) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.backend = listener;
  cb.backend = dialler;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  assert_string_equal(yz_link_manager_backend(A.m),
                      listener == YZ_LINK_BACKEND_NATIVE ? "native"
                                                         : "websocket");
  assert_string_equal(yz_link_manager_backend(B.m),
                      dialler == YZ_LINK_BACKEND_NATIVE ? "native"
                                                        : "websocket");
}

static void exchange(yz_link_backend listener, yz_link_backend dialler,
                     bool tls) {
  pair(listener, dialler);
  uint16_t port;
  if (tls) {
    t_node_listen_wss(&A);
    port = A.tls_port;
  } else {
    t_node_listen_ws(&A);
    port = A.port;
  }
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%u", tls ? "wss" : "ws",
           (unsigned)port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  assert_int_equal(A.last_tls, tls);
  assert_int_equal(B.last_tls, tls);
  assert_true(yz_node_id_equal(&A.last_peer, &B.id.id));

  assert_int_equal(yz_link_send(l, (const uint8_t *)"hello A", 7), 0);
  t_wait_ge(&A.msgs, 1);
  assert_memory_equal(A.last_msg, "hello A", 7);
  /* 200 KB each way: several 64 KiB WebSocket messages */
  size_t big = 200000;
  uint8_t *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++)
    p[i] = (uint8_t)(i * 7);
  assert_int_equal(yz_link_send(A.last_up, p, big), 0);
  assert_int_equal(yz_link_send(l, p, big), 0);
  t_wait_ge(&B.msgs, 1);
  t_wait_ge(&A.msgs, 2);
  assert_int_equal(B.msg_bytes, big);
  assert_int_equal(A.msg_bytes, 7 + big);
  assert_memory_equal(B.last_msg, p, sizeof B.last_msg);
  free(p);

  /* the dialler closes: the listener hears the peer's close */
  yz_link_close(l);
  t_wait_ge(&B.downs, 1);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(B.last_err, YZ_E_CLOSED);
  assert_int_equal(A.last_err, YZ_E_PEER_CLOSED);
  t_loop_finish(both);
}

static void test_native_to_lws_ws(void **state) {
  (void)state;
  exchange(YZ_LINK_BACKEND_LWS, YZ_LINK_BACKEND_NATIVE, false);
}

static void test_lws_to_native_ws(void **state) {
  (void)state;
  exchange(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_LWS, false);
}

static void test_native_to_lws_wss(void **state) {
  (void)state;
  exchange(YZ_LINK_BACKEND_LWS, YZ_LINK_BACKEND_NATIVE, true);
}

static void test_lws_to_native_wss(void **state) {
  (void)state;
  exchange(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_LWS, true);
}

static void test_native_to_native_wss(void **state) {
  (void)state;
  exchange(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_NATIVE, true);
}

/* The listener closes this time, with a close code: the dialler on the
 * other implementation reports it as the peer's. */
static void listener_closes(yz_link_backend listener,
                            yz_link_backend dialler) {
  pair(listener, dialler);
  t_node_listen_ws(&A);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u", (unsigned)A.port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  yz_link_close_with(A.last_up, YZ_CLOSE_GOING_AWAY, 0, "maintenance");
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(B.last_reason, "maintenance"));
  t_loop_finish(both);
}

static void test_native_listener_closes(void **state) {
  (void)state;
  listener_closes(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_LWS);
}

static void test_lws_listener_closes(void **state) {
  (void)state;
  listener_closes(YZ_LINK_BACKEND_LWS, YZ_LINK_BACKEND_NATIVE);
}

/* A native listener and a raw client */
static void native_listener(void) {
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.backend = YZ_LINK_BACKEND_NATIVE;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
}

static tnode *only_a[] = {&A, NULL};

static bool raw_closed_cond(void *ud) { return ((raw_client *)ud)->closed; }

/* No yz.link.v1 among the offered subprotocols: no 101, no answer at all
 * (docs/protocol.md 1), counted as a refusal. */
static void test_native_subprotocol_refused(void **state) {
  (void)state;
  native_listener();
  raw_client c1, c2;
  raw_connect(&c1, A.port, NULL, NULL, 0);
  raw_connect(&c2, A.port, "chat, yz.link.v2", NULL, 0);
  t_run_until(raw_closed_cond, &c1);
  t_run_until(raw_closed_cond, &c2);
  assert_false(c1.upgraded);
  assert_false(c2.upgraded);
  assert_int_equal(c1.rlen, 0);
  assert_int_equal(c2.rlen, 0);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_SUBPROTOCOL], 2);
  assert_int_equal(st.upgrading, 0);
  t_loop_finish(only_a);
}

/* A frame the server must refuse closes with a WebSocket Close whose
 * status says why (RFC 6455 7.4.1), never silently. */
static void frame_refused(uint8_t opcode, const uint8_t *payload,
                          size_t len, int want_status) {
  native_listener();
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, payload, len);
  c.send_opcode = opcode;
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  assert_int_equal(c.ws_close_code, want_status);
  t_loop_finish(only_a);
}

static void test_native_text_frame(void **state) {
  (void)state;
  frame_refused(1, (const uint8_t *)"hi", 2, 1002);
}

static void test_native_reserved_opcode(void **state) {
  (void)state;
  frame_refused(3, (const uint8_t *)"hi", 2, 1002);
}

/* A binary message that is no Noise message 1: the session refuses it
 * before Split(), with no CLOSE frame; the WebSocket Close still carries
 * the status of its close code (PROTOCOL: 1002). */
static void test_native_bad_msg1(void **state) {
  (void)state;
  frame_refused(2, (const uint8_t *)"not a noise message", 19, 1002);
}

static bool raw_upgraded_cond(void *ud) {
  return ((raw_client *)ud)->upgraded;
}

/* Pings that arrive together get one Pong: at most one is in flight, so a
 * peer that pings and never reads cannot grow the write queue (RFC 6455
 * 5.5.3 allows answering only one). Two Pings and a text frame in one
 * write: one Pong, then the Close for the text frame. */
static void test_native_one_pong_in_flight(void **state) {
  (void)state;
  native_listener();
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, NULL, 0);
  t_run_until(raw_upgraded_cond, &c);
  /* masked with a zero key: the payload stays as written */
  static const uint8_t frames[] = {0x89, 0x82, 0, 0, 0, 0, 'p', '1',
                                   0x89, 0x82, 0, 0, 0, 0, 'p', '2',
                                   0x81, 0x81, 0, 0, 0, 0, 't'};
  raw_send(&c, frames, sizeof frames);
  t_run_until(raw_closed_cond, &c);
  int pongs = 0;
  bool closed = false;
  for (size_t i = 0; i + 2 <= c.ws_in_len;) {
    uint8_t op = c.ws_in[i] & 0x0f, len = c.ws_in[i + 1] & 0x7f;
    if (op == 0x0a) {
      pongs++;
      assert_int_equal(len, 2);
      assert_memory_equal(c.ws_in + i + 2, "p1", 2);
    }
    if (op == 0x08)
      closed = true;
    i += 2u + len;
  }
  assert_int_equal(pongs, 1);
  assert_true(closed);
  assert_int_equal(c.ws_close_code, 1002);
  t_loop_finish(only_a);
}

/* A native listener on [::] takes IPv4 dials too (dual stack), as the
 * libwebsockets listener on all interfaces does. */
static void test_native_any_v6_takes_v4(void **state) {
  (void)state;
  if (!t_have_ipv6_loopback())
    skip();
  pair(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_NATIVE);
  yz_link_listen_config lc = {"ws://[::]:0", NULL, NULL};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u", (unsigned)A.port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&B.ups, 1);
  assert_int_equal(B.downs, 0);
  t_loop_finish(both);
}

/* A native dial to a DNS name over wss:// with YZ_LINK_TLS_ALLOW_SELFSIGNED
 * still checks the name: the test certificate names 127.0.0.1 only, so
 * "localhost" fails with a TLS reason; with the name check skipped too, the
 * same dial comes up. (The listener on [::] takes whichever address
 * "localhost" resolves to first.) */
static void test_native_selfsigned_checks_name(void **state) {
  (void)state;
  if (!t_have_ipv6_loopback())
    skip();
  pair(YZ_LINK_BACKEND_NATIVE, YZ_LINK_BACKEND_NATIVE);
  yz_link_listen_config lc = {"wss://[::]:0", t_cert_path(), t_key_path()};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.tls_port), 0);
  char url[64];
  snprintf(url, sizeof url, "wss://localhost:%u", (unsigned)A.tls_port);
  yz_link_dial_opts o = {.tls_flags = YZ_LINK_TLS_ALLOW_SELFSIGNED};
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, &o, &l), 0);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_TLS);
  assert_int_equal(B.ups, 0);
  o.tls_flags |= YZ_LINK_TLS_SKIP_HOSTNAME_CHECK;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, &o, &l), 0);
  t_wait_ge(&B.ups, 1);
  t_loop_finish(both);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_native_to_lws_ws, setup),
      cmocka_unit_test_setup(test_lws_to_native_ws, setup),
      cmocka_unit_test_setup(test_native_to_lws_wss, setup),
      cmocka_unit_test_setup(test_lws_to_native_wss, setup),
      cmocka_unit_test_setup(test_native_to_native_wss, setup),
      cmocka_unit_test_setup(test_native_listener_closes, setup),
      cmocka_unit_test_setup(test_lws_listener_closes, setup),
      cmocka_unit_test_setup(test_native_subprotocol_refused, setup),
      cmocka_unit_test_setup(test_native_text_frame, setup),
      cmocka_unit_test_setup(test_native_reserved_opcode, setup),
      cmocka_unit_test_setup(test_native_bad_msg1, setup),
      cmocka_unit_test_setup(test_native_one_pong_in_flight, setup),
      cmocka_unit_test_setup(test_native_any_v6_takes_v4, setup),
      cmocka_unit_test_setup(test_native_selfsigned_checks_name, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
