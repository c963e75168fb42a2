/*
 * test_link.c: link managers over loopback (manager.c, ws.c): ws:// and
 * wss://, identity pinning, tampering, many links, hostile peers,
 * back-pressure, limits and shutdown. Deterministic: every wait is on an
 * event; the only timer is the 20 s hang guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "harness.h"
#include "link/internal.h"

#include "yz/log.h"
#include "yz/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>

static tnode A, B;
static tnode *both[] = {&A, &B, NULL};

static int setup(void **state) {
  (void)state;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  t_loop_init();
  return 0;
}

static void dial_ok(tnode *from, const char *scheme, uint16_t port,
                    const yz_node_id *id, unsigned tls_flags,
                    yz_link **out) {
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%u/", scheme, (unsigned)port);
  yz_link_dial_opts o = {tls_flags, false};
  assert_int_equal(yz_link_dial(from->m, url, id, &o, out), 0);
  assert_non_null(*out);
}

/* ------------------------------------------------------------------------ */

static void exchange(const char *scheme, bool tls) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  uint16_t port;
  if (tls) {
    t_node_listen_wss(&A);
    port = A.tls_port;
  } else {
    t_node_listen_ws(&A);
    port = A.port;
  }
  yz_link *l;
  dial_ok(&B, scheme, port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  /* IDs, directions, TLS flag, proof and channel binding */
  assert_true(yz_node_id_equal(&A.last_peer, &B.id.id));
  assert_true(yz_node_id_equal(&B.last_peer, &A.id.id));
  assert_int_equal(A.last_dir, YZ_LINK_INBOUND);
  assert_int_equal(B.last_dir, YZ_LINK_OUTBOUND);
  assert_int_equal(A.last_tls, tls);
  assert_int_equal(B.last_tls, tls);
  assert_true(A.last_had_proof);
  assert_int_equal(A.cb_len, 64);
  assert_ptr_equal(B.last_up, l);
  assert_true(yz_link_is_up(l));
  assert_true(yz_node_id_equal(yz_link_peer_id(l), &A.id.id));

  /* messages both ways, small and fragmented (200 KB) */
  assert_int_equal(yz_link_send(l, (const uint8_t *)"hello A", 7), 0);
  t_wait_ge(&A.msgs, 1);
  assert_int_equal(A.last_msg_len, 7);
  assert_memory_equal(A.last_msg, "hello A", 7);
  assert_int_equal(yz_link_send(A.last_up, (const uint8_t *)"hello B", 7),
                   0);
  t_wait_ge(&B.msgs, 1);
  assert_memory_equal(B.last_msg, "hello B", 7);
  size_t big = 200000;
  uint8_t *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++)
    p[i] = (uint8_t)(i * 7);
  assert_int_equal(yz_link_send(A.last_up, p, big), 0);
  t_wait_ge(&B.msgs, 2);
  assert_int_equal(B.msg_bytes, 7 + big);
  assert_memory_equal(B.last_msg, p, sizeof B.last_msg);
  free(p);

  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.links, 1);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(st.msgs_in, 1);
  assert_true(st.bytes_in > 7);

  /* a local close: both sides see it go down */
  yz_link_close(l);
  t_wait_ge(&B.downs, 1);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(B.last_err, YZ_E_CLOSED);
  assert_int_equal(A.last_err, YZ_E_PEER_CLOSED);
  t_loop_finish(both);
}

/* Queue entries come from a bounded per-thread pool (manager.c "Message
 * buffers"): messages both ways reuse them, the pool keeps at most
 * YZ__QPOOL_MAX_TINY, _SMALL and _LARGE entries of each size however many
 * are freed, and it is empty once the last manager has gone. */
static void test_message_buffer_pool(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  /* 1 KiB and 64 KiB messages: sealed in place into pooled entries */
  static uint8_t big[65536];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (uint8_t)(i * 13 + 1);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(yz_link_send(l, big, 1024), 0);
    assert_int_equal(yz_link_send(l, big, sizeof big), 0);
  }
  t_wait_ge(&A.msgs, 16);
  assert_int_equal(A.last_msg_len, sizeof A.last_msg); /* its first bytes */
  assert_memory_equal(A.last_msg, big, sizeof A.last_msg);
  assert_int_equal(A.msg_bytes, 8 * (1024 + sizeof big));
  size_t held = yz__link_qpool_held();
  assert_true(held > 0); /* the written entries came back */
  enum { ALL = YZ__QPOOL_MAX_TINY + YZ__QPOOL_MAX_SMALL + YZ__QPOOL_MAX_LARGE };
  assert_true(held <= ALL);
  /* the bounds: more entries freed than the pool keeps */
  enum { NT = YZ__QPOOL_MAX_TINY + 5, NS = YZ__QPOOL_MAX_SMALL + 9,
         NL = YZ__QPOOL_MAX_LARGE + 3 };
  yz__qmsg *qt[NT], *qs[NS], *ql[NL];
  for (int i = 0; i < NT; i++) {
    assert_non_null(qt[i] = yz__link_qmsg_new(1 + i % 200));
    assert_int_equal(qt[i]->cap, YZ__QPOOL_TINY);
  }
  for (int i = 0; i < NS; i++)
    assert_non_null(qs[i] = yz__link_qmsg_new(1500));
  for (int i = 0; i < NL; i++) {
    assert_non_null(ql[i] = yz__link_qmsg_new(40000));
    assert_true(ql[i]->cap >= 40000);
  }
  assert_int_equal(yz__link_qpool_held(), 0);
  for (int i = 0; i < NT; i++)
    yz__link_qmsg_free(qt[i]);
  for (int i = 0; i < NS; i++)
    yz__link_qmsg_free(qs[i]);
  for (int i = 0; i < NL; i++)
    yz__link_qmsg_free(ql[i]);
  assert_int_equal(yz__link_qpool_held(), ALL);
  /* an entry above a wire message, or of a message that fills less than
   * half of a pooled size, is never pooled: no entry is more than twice
   * its message */
  yz__qmsg *huge = yz__link_qmsg_new(70000);
  assert_non_null(huge);
  yz__link_qmsg_free(huge);
  const size_t odd[] = {257, 1024, 2049, 30000, 32767};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    yz__qmsg *q = yz__link_qmsg_new(odd[i]);
    assert_non_null(q);
    assert_int_equal(q->cap, odd[i]);
    yz__link_qmsg_free(q);
  }
  assert_int_equal(yz__link_qpool_held(), ALL);
  t_loop_finish(both);
  assert_int_equal(yz__link_qpool_held(), 0);
}

static void test_ws_exchange(void **state) {
  (void)state;
  exchange("ws", false);
}

static void test_wss_exchange(void **state) {
  (void)state;
  exchange("wss", true); /* verified against the test CA (the cert) */
}

/* wss:// to a self-signed server with no CA configured: verification is on
 * by default, so the dial fails with a TLS reason. */
static void test_wss_unverified_refused(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  cb.tls_ca_file = NULL; /* the system bundle does not know our cert */
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_wss(&A);
  yz_link *l;
  dial_ok(&B, "wss", A.tls_port, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.ups, 0);
  assert_int_equal(B.last_err, YZ_E_TLS);
  /* allowed explicitly, the same dial works (Noise still pins the ID) */
  dial_ok(&B, "wss", A.tls_port, &A.id.id, YZ_LINK_TLS_ALLOW_SELFSIGNED, &l);
  t_wait_ge(&B.ups, 1);
  t_loop_finish(both);
}

static void test_wrong_id(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_node_id wrong;
  memset(&wrong, 0x5a, sizeof wrong);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &wrong, 0, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.ups, 0);
  assert_int_equal(B.last_err, YZ_E_PEER_ID_MISMATCH);
  assert_non_null(strstr(B.last_reason, "man in the middle"));
  t_wait_ge(&A.downs, 0);
  assert_int_equal(A.ups, 0); /* A never saw the link up (message 3) */
  t_loop_finish(both);
}

/* A "#NODEID" fragment in the URL pins like expected_id does. */
static void test_dial_address_form(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  char hex[YZ_NODE_ID_HEX_LEN + 1], url[160];
  yz_node_id_to_hex(&A.id.id, hex);
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/#%s", (unsigned)A.port, hex);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, NULL, NULL, &l), 0);
  t_wait_ge(&B.ups, 1);
  /* unpinned without the explicit option: refused up front */
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)A.port);
  assert_int_equal(yz_link_dial(B.m, url, NULL, NULL, &l), YZ_E_INVAL);
  assert_int_equal(yz_link_dial(B.m, "http://x/", &A.id.id, NULL, &l),
                   YZ_E_ADDRESS);
  yz_link_dial_opts o = {0, true};
  assert_int_equal(yz_link_dial(B.m, url, NULL, &o, &l), 0);
  t_wait_ge(&B.ups, 2);
  t_loop_finish(both);
}

/* A relay flips one bit of the first transport frame from B: A's session
 * fails to decrypt it, closes with a decryption reason, delivers nothing. */
static void test_tamper(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  relay *r = relay_new(A.port);
  relay_tamper_c2s_frame(r, 2); /* 0: message 1, 1: message 3, 2: data */
  yz_link *l;
  dial_ok(&B, "ws", relay_port(r), &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 1);
  t_wait_ge(&A.ups, 1);
  assert_int_equal(yz_link_send(l, (const uint8_t *)"secret", 6), 0);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(A.last_err, YZ_E_DECRYPT);
  assert_int_equal(A.msgs, 0);
  t_wait_ge(&B.downs, 1);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.decrypt_failures, 1);
  relay_free(r);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* 500 concurrent links, all exchanging messages                            */

enum { MANY = 500 };

static void many_up_hook(tnode *n, yz_link *l) {
  uint8_t msg[32];
  memset(msg, n == &A ? 'a' : 'b', sizeof msg);
  assert_int_equal(yz_link_send(l, msg, sizeof msg), 0);
}

static void test_many_links(void **state) {
  (void)state;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_handshakes = cb.max_handshakes = MANY;
  ca.ip_rate_burst = MANY;
  /* MANY handshakes at once are load: cookies would make many of them dial
   * twice, against a rate burst and a handshake limit sized for one round
   * each (test_cookie_load shows that trigger) */
  ca.cookie_load_pct = 101;
  ca.cookie_msg1_per_s = UINT32_MAX;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  A.on_up_hook = many_up_hook;
  B.on_up_hook = many_up_hook;
  for (int i = 0; i < MANY; i++) {
    yz_link *l;
    dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  }
  t_wait_ge(&A.msgs, MANY);
  t_wait_ge(&B.msgs, MANY);
  assert_int_equal(A.ups, MANY);
  assert_int_equal(B.ups, MANY);
  assert_int_equal(A.downs, 0);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.links, MANY);
  /* shutdown with every link open: each goes down once, cleanly */
  t_loop_finish(both);
  assert_int_equal(A.downs, MANY);
  assert_int_equal(B.downs, MANY);
}

/* ------------------------------------------------------------------------ */
/* Hostile peers                                                            */

static bool raw_closed_cond(void *ud) { return ((raw_client *)ud)->closed; }

/* Upgrades, then sends nothing: the handshake timeout closes it. */
static void test_silent_peer(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.handshake_timeout_ms = 200;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, NULL, 0);
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.timeouts, 1);
  assert_int_equal(st.handshakes_failed, 1);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(A.ups + A.downs, 0); /* never announced */
  t_loop_finish(both);
}

/* Garbage instead of message 1. */
static void test_garbage_msg1(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  static const uint8_t junk[40] = "this is not a Noise message at all....";
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, junk, 7);
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.handshakes_failed, 1);
  assert_int_equal(st.handshakes, 0);
  assert_int_equal(A.ups, 0);
  t_loop_finish(both);
}

/* A WebSocket message above 65535 bytes (more than one Noise message can
 * be): the connection closes, nothing is handed to the session. */
static void test_oversized_ws_message(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  size_t big = 70000;
  uint8_t *junk = calloc(1, big);
  assert_non_null(junk);
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, junk, big);
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.handshakes_failed, 1);
  assert_int_equal(st.bytes_in, 0); /* nothing reached the session */
  free(junk);
  t_loop_finish(both);
}

/* Another subprotocol, or none: refused at the upgrade. */
static void test_wrong_subprotocol(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  raw_client c1, c2;
  raw_connect(&c1, A.port, "chat", NULL, 0);
  raw_connect(&c2, A.port, NULL, NULL, 0);
  t_run_until(raw_closed_cond, &c1);
  t_run_until(raw_closed_cond, &c2);
  assert_false(c1.upgraded);
  assert_false(c2.upgraded);
  /* refused by closing the connection, without any HTTP response
   * (docs/protocol.md "WebSocket") */
  assert_int_equal(c1.rlen, 0);
  assert_int_equal(c2.rlen, 0);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_true(st.refused[YZ_LINK_REFUSED_SUBPROTOCOL] >= 1);
  assert_int_equal(st.handshakes_failed, 0);
  t_loop_finish(both);
}

/* The TCP connection is reset under an up link. */
static void test_abrupt_close(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  relay *r = relay_new(A.port);
  yz_link *l;
  dial_ok(&B, "ws", relay_port(r), &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  relay_reset_all(r);
  t_wait_ge(&A.downs, 1);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(A.last_err, YZ_E_IO);
  assert_int_equal(B.last_err, YZ_E_IO);
  relay_free(r);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* A reader too slow for the writer                                         */

enum { SLOW_MSG = 16384, SLOW_TOTAL = 400 };
static int slow_sent;
static size_t slow_max_q;
static bool slow_full_seen;

static void slow_pump(tnode *n, yz_link *l) {
  (void)n;
  static uint8_t msg[SLOW_MSG];
  while (slow_sent < SLOW_TOTAL) {
    memset(msg, (int)(slow_sent & 0xff), sizeof msg);
    int rc = yz_link_send(l, msg, sizeof msg);
    size_t qb;
    yz_link_queue_level(l, &qb, NULL);
    if (qb > slow_max_q)
      slow_max_q = qb;
    if (rc == YZ_E_QUEUE_FULL) {
      slow_full_seen = true;
      return; /* wait for on_writable */
    }
    assert_int_equal(rc, 0);
    slow_sent++;
  }
}

static void test_slow_reader(void **state) {
  (void)state;
  slow_sent = 0;
  slow_max_q = 0;
  slow_full_seen = false;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.send_queue_max_bytes = 64 * 1024;
  ca.send_queue_max_msgs = 64;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  relay *r = relay_new(A.port);
  yz_link *l;
  dial_ok(&B, "ws", relay_port(r), &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  /* A writes to B through a relay that stops reading A's side */
  relay_pause_s2c(r, true);
  A.on_writable_hook = slow_pump;
  slow_pump(&A, A.last_up);
  assert_true(slow_full_seen);
  /* the queue never exceeds its bound (one message of slack) */
  assert_true(slow_max_q <= 64 * 1024 + SLOW_MSG + 64);
  relay_pause_s2c(r, false);
  t_wait_ge(&B.msgs, SLOW_TOTAL);
  assert_int_equal(B.msg_bytes, (size_t)SLOW_TOTAL * SLOW_MSG);
  assert_true(A.writables >= 1);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_true(st.queue_full >= 1);
  relay_free(r);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */

static void test_max_links(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_links = 2;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 2);
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(A.ups, 2);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_LINKS], 1);
  /* a dialer at its own limit refuses up front */
  t_loop_finish(both);
}

static void never_accept(uv_stream_t *s, int status) {
  (void)s;
  (void)status; /* leave the connection in the backlog: no answer ever */
}

static void test_max_handshakes_dial(void **state) {
  (void)state;
  yz_link_config cb;
  t_node_config(&B, &cb, 2);
  cb.max_handshakes = 2;
  t_node_start(&B, &cb);
  uv_tcp_t mute;
  uv_tcp_init(t_loop, &mute);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&mute, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&mute, 16, never_accept), 0);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  uv_tcp_getsockname(&mute, (struct sockaddr *)&ss, &sl);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/",
           (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
  yz_node_id id;
  memset(&id, 1, sizeof id);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &id, NULL, &l), 0);
  assert_int_equal(yz_link_dial(B.m, url, &id, NULL, &l), 0);
  assert_int_equal(yz_link_dial(B.m, url, &id, NULL, &l), YZ_E_LIMIT);
  uv_close((uv_handle_t *)&mute, NULL);
  /* shutdown with the two dials still in progress */
  t_loop_finish(both);
  assert_int_equal(B.downs, 2);
  assert_int_equal(B.last_err, YZ_E_CLOSED);
}

static bool upgrading_ge(void *ud) {
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  return st.upgrading >= *(uint32_t *)ud;
}

/* TCP connections that never upgrade count against max_handshakes: past
 * it, the next connection is refused before anything is read. */
static void test_max_handshakes_upgrading(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_handshakes = 2;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  raw_client c1, c2, c3;
  raw_connect(&c1, A.port, "-", NULL, 0);
  raw_connect(&c2, A.port, "-", NULL, 0);
  uint32_t two = 2;
  t_run_until(upgrading_ge, &two);
  raw_connect(&c3, A.port, "-", NULL, 0);
  t_run_until(raw_closed_cond, &c3);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_HANDSHAKES], 1);
  assert_int_equal(st.upgrading, 2);
  /* a dial is refused too, and works once they are gone */
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 1);
  raw_close(&c1);
  raw_close(&c2);
  t_run_until(raw_closed_cond, &c1);
  t_run_until(raw_closed_cond, &c2);
  uint32_t zero = 0;
  (void)zero;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 1);
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.upgrading, 0);
  t_loop_finish(both);
}

/* The per-IP token bucket, on a clock the test controls: a burst of 3,
 * then refusals, then one more token after a second. */
static void test_rate_limit(void **state) {
  (void)state;
  t_clock_now = 1000000;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.ip_rate_per_s = 1;
  ca.ip_rate_burst = 3;
  ca.clock_ms = t_clock;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  for (int i = 0; i < 5; i++)
    dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 3);
  t_wait_ge(&B.downs, 2);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_RATE], 2);
  assert_int_equal(B.ups, 3);
  t_clock_now += 1000;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 4);
  t_wait_ge(&B.downs, 3);
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_RATE], 3);
  t_loop_finish(both);
}

/* Two managers listening in one process share the context (vhosts), and
 * one can close while the other keeps working. */
static void test_shared_context(void **state) {
  (void)state;
  tnode C;
  memset(&C, 0, sizeof C);
  tnode *all[] = {&A, &B, &C, NULL};
  yz_link_config ca, cb, cc;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_config(&C, &cc, 3);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_start(&C, &cc);
  t_node_listen_ws(&A);
  t_node_listen_ws(&C);
  t_node_listen_wss(&C);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  dial_ok(&B, "wss", C.tls_port, &C.id.id, 0, &l);
  t_wait_ge(&B.ups, 2);
  yz_link_manager_close(C.m, NULL, NULL);
  C.m = NULL;
  t_wait_ge(&B.downs, 1);
  dial_ok(&A, "ws", A.port, &A.id.id, 0, &l); /* A to itself still works */
  t_wait_ge(&A.ups, 3);
  t_loop_finish(all);
}

/* IPv6 loopback: listen on [::1], dial it. */
static void test_ipv6(void **state) {
  (void)state;
  if (!t_have_ipv6_loopback()) { /* a machine without it skips this */
    t_loop_finish(both);
    skip();
  }
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  yz_link_listen_config lc = {"ws://[::1]:0", NULL, NULL};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
  char url[64];
  snprintf(url, sizeof url, "ws://[::1]:%u/", (unsigned)A.port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  t_loop_finish(both);
}

static void count_closed(void *ud) { ((tnode *)ud)->closed++; }

/* A node that stops and starts again on the same port in the same process
 * (the context lives on through another manager): the new listener takes
 * the port, and dials reach it. */
static void test_restart_same_port(void **state) {
  (void)state;
  tnode C;
  memset(&C, 0, sizeof C);
  tnode *all[] = {&A, &B, &C, NULL};
  yz_link_config ca, cb, cc;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 1);
  uint16_t port = A.port;
  yz_link_manager_close(A.m, count_closed, &A);
  A.m = NULL;
  t_wait_ge(&A.closed, 1);
  t_wait_ge(&B.downs, 1);
  t_node_config(&C, &cc, 1); /* the same identity again */
  t_node_start(&C, &cc);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u", (unsigned)port);
  yz_link_listen_config lc = {url, NULL, NULL};
  assert_int_equal(yz_link_listen(C.m, &lc, &C.port), 0);
  assert_int_equal(C.port, port);
  dial_ok(&B, "ws", port, &C.id.id, 0, &l);
  t_wait_ge(&C.ups, 1);
  t_wait_ge(&B.ups, 2);
  t_loop_finish(all);
}

/* ------------------------------------------------------------------------ */
/* Closing the manager from inside its own callbacks (link.h: "Safe to call
 * from a link callback"): no callback may touch freed memory.              */

static void close_self(tnode *n) {
  if (n->m != NULL && n->closed == 0 && n->hook_ud == NULL) {
    n->hook_ud = n; /* once */
    yz_link_manager_close(n->m, count_closed, n);
  }
}

static void close_on_down(tnode *n, yz_link *l, int err) {
  (void)l;
  (void)err;
  close_self(n);
}

static void close_on_up(tnode *n, yz_link *l) {
  (void)l;
  close_self(n);
}

static void close_on_msg(tnode *n, yz_link *l, const uint8_t *msg,
                         size_t len) {
  (void)l;
  (void)msg;
  (void)len;
  close_self(n);
}

/* A dial to a closed port goes down; its on_down closes the manager. */
static void test_close_in_on_down(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  A.on_down_hook = close_on_down;
  yz_link *l1, *l2;
  dial_ok(&A, "ws", 1, &A.id.id, 0, &l1);
  dial_ok(&A, "ws", 1, &A.id.id, 0, &l2);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_int_equal(A.downs, 2);
  assert_int_equal(A.down_errs[0], YZ_E_UNREACHABLE);
  t_loop_finish(both);
}

/* An up link's on_down (the peer closed it) closes the manager while
 * other links are still up. */
static void test_close_in_on_down_up_links(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l[3];
  for (int i = 0; i < 3; i++)
    dial_ok(&B, "ws", A.port, &A.id.id, 0, &l[i]);
  t_wait_ge(&A.ups, 3);
  t_wait_ge(&B.ups, 3);
  A.on_down_hook = close_on_down;
  yz_link_close(l[1]);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_int_equal(A.downs, 3);
  t_wait_ge(&B.downs, 3);
  t_loop_finish(both);
}

/* on_up closes the manager (on the dialling and on the accepting side). */
static void close_in_on_up(bool dialler) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  tnode *closer = dialler ? &B : &A;
  tnode *other = dialler ? &A : &B;
  closer->on_up_hook = close_on_up;
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&closer->closed, 1);
  closer->m = NULL;
  assert_int_equal(closer->ups, 1);
  assert_int_equal(closer->downs, 1);
  assert_int_equal(closer->last_err, YZ_E_CLOSED);
  /* the close frame was flushed: the other side saw the link up, then
   * the peer's GOING_AWAY */
  t_wait_ge(&other->downs, 1);
  assert_int_equal(other->ups, 1);
  assert_int_equal(other->last_err, YZ_E_PEER_CLOSED);
  t_loop_finish(both);
}

static void test_close_in_on_up_dialler(void **state) {
  (void)state;
  close_in_on_up(true);
}

static void test_close_in_on_up_listener(void **state) {
  (void)state;
  close_in_on_up(false);
}

/* on_message closes the manager; more messages are on their way. */
static void test_close_in_on_message(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  A.on_msg_hook = close_on_msg;
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(yz_link_send(l, (const uint8_t *)"hello", 5), 0);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_true(A.msgs >= 1);
  assert_int_equal(A.downs, 1);
  t_wait_ge(&B.downs, 1);
  t_loop_finish(both);
}

/* A manager that shuts down with links up sends each peer its close frame
 * (GOING_AWAY) before the WebSocket closes: the peers see PEER_CLOSED with
 * the code and text, not a broken connection. Both directions, ws and
 * wss. */
static void test_graceful_shutdown(void **state) {
  (void)state;
  tnode C;
  memset(&C, 0, sizeof C);
  tnode *all[] = {&A, &B, &C, NULL};
  yz_link_config ca, cb, cc;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_config(&C, &cc, 3);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_start(&C, &cc);
  t_node_listen_ws(&A);
  t_node_listen_wss(&A);
  t_node_listen_ws(&C);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);   /* A accepted */
  dial_ok(&B, "wss", A.tls_port, &A.id.id, 0, &l);
  dial_ok(&A, "ws", C.port, &C.id.id, 0, &l);   /* A dialled */
  t_wait_ge(&A.ups, 3);
  t_wait_ge(&B.ups, 2);
  t_wait_ge(&C.ups, 1);
  /* a message still queued when the shutdown starts is delivered first */
  assert_int_equal(yz_link_send(l, (const uint8_t *)"last words", 10), 0);
  yz_link_manager_close(A.m, count_closed, &A);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_int_equal(A.downs, 3);
  assert_int_equal(A.last_err, YZ_E_CLOSED);
  t_wait_ge(&B.downs, 2);
  t_wait_ge(&C.downs, 1);
  for (int i = 0; i < 2; i++)
    assert_int_equal(B.down_errs[i], YZ_E_PEER_CLOSED);
  assert_int_equal(C.last_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(C.last_reason, "GOING_AWAY"));
  assert_non_null(strstr(C.last_reason, "shutting down"));
  assert_non_null(strstr(B.last_reason, "GOING_AWAY"));
  assert_int_equal(C.msgs, 1);
  assert_memory_equal(C.last_msg, "last words", 10);
  t_loop_finish(all);
}

/* A peer that reads nothing while the manager shuts down with megabytes
 * queued for it: the flush is bounded, the shutdown completes. */
static void test_shutdown_unread_peer(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.send_queue_max_bytes = 24u * 1024u * 1024u;
  ca.send_queue_max_msgs = 4096;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  relay *r = relay_new(A.port);
  yz_link *l;
  dial_ok(&B, "ws", relay_port(r), &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  relay_pause_s2c(r, true);
  static uint8_t msg[16384];
  int sent = 0;
  while (yz_link_send(A.last_up, msg, sizeof msg) == 0)
    sent++;
  assert_true(sent > 1000);
  yz_link_manager_close(A.m, count_closed, &A);
  t_wait_ge(&A.closed, 1);
  A.m = NULL;
  assert_int_equal(A.downs, 1);
  assert_int_equal(A.last_err, YZ_E_CLOSED);
  relay_free(r);
  t_loop_finish(both);
}

/* The link layer's own link up and down lines are debug: the layer above
 * (yz-node) logs the events it is told about, once. */
static int info_link_lines;

static void count_sink(yz_log_level level, const char *line, void *ud) {
  (void)ud;
  if (level <= YZ_LOG_INFO &&
      (strstr(line, "link up") != NULL || strstr(line, "link down") != NULL))
    info_link_lines++;
}

static void test_link_events_not_logged_at_info(void **state) {
  (void)state;
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_INFO);
  yz_log_set_sink(count_sink, NULL);
  info_link_lines = 0;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  t_wait_ge(&B.ups, 1);
  yz_link_close(l);
  t_wait_ge(&A.downs, 1);
  t_wait_ge(&B.downs, 1);
  t_loop_finish(both);
  yz_log_set_sink(NULL, NULL);
  yz_log_set_level(saved);
  assert_int_equal(info_link_lines, 0);
}

/* Dial and listen parse with yz_address_parse()/_listen(): the node
 * address grammar, its reasons in the log. */
static char last_log[1024];

static void last_sink(yz_log_level level, const char *line, void *ud) {
  (void)level;
  (void)ud;
  snprintf(last_log, sizeof last_log, "%s", line);
}

static void test_addresses(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  static const struct {
    const char *url;
    const char *reason_has;
  } bad_dials[] = {
      {"ws://127.0.0.01:1/", "malformed IPv4"},
      {"ws://h_x:1/", "host name contains"},
      {"ws://h:0/", "1 to 65535"},
      {"ws://h:1/#00", "after '#'"},
      {"WSS://h:1/", "lowercase"},
      {"ws://::1:7700/", "brackets"},
      {"ws://h:1/a\"b", "percent-encoded"},
  };
  yz_log_set_sink(last_sink, NULL);
  for (size_t i = 0; i < sizeof bad_dials / sizeof bad_dials[0]; i++) {
    yz_link *l = NULL;
    last_log[0] = '\0';
    int rc = yz_link_dial(A.m, bad_dials[i].url, &A.id.id, NULL, &l);
    if (rc != YZ_E_ADDRESS || l != NULL ||
        strstr(last_log, bad_dials[i].reason_has) == NULL) {
      yz_log_set_sink(NULL, NULL);
      fail_msg("dial '%s': %s, log '%s' (want '%s')", bad_dials[i].url,
               yz_err_name(rc), last_log, bad_dials[i].reason_has);
    }
  }
  static const struct {
    const char *url;
    const char *reason_has;
  } bad_listens[] = {
      {"ws://127.0.0.1:0/#21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58"
       "877ef47f9721b9", "no '#NODEID'"},
      {"ws://127.0.0.1:65536", "0 to 65535"},
      {"tcp://127.0.0.1:0", "unknown scheme 'tcp'"},
      {"ws://localhost:0", "must be an IP address"},
  };
  for (size_t i = 0; i < sizeof bad_listens / sizeof bad_listens[0]; i++) {
    yz_link_listen_config lc = {bad_listens[i].url, NULL, NULL};
    last_log[0] = '\0';
    int rc = yz_link_listen(A.m, &lc, NULL);
    if (rc != YZ_E_ADDRESS ||
        strstr(last_log, bad_listens[i].reason_has) == NULL) {
      yz_log_set_sink(NULL, NULL);
      fail_msg("listen '%s': %s, log '%s' (want '%s')", bad_listens[i].url,
               yz_err_name(rc), last_log, bad_listens[i].reason_has);
    }
  }
  /* Well-formed, but nothing can be bound there: an address that is not
   * on this host (TEST-NET-1, RFC 5737: bind() alone, no packet is sent),
   * and the port A already listens on. A clear I/O error, never a
   * "listening" vhost without a port. */
  yz_link_listen_config first = {"ws://127.0.0.1:0/", NULL, NULL};
  uint16_t taken = 0;
  assert_int_equal(yz_link_listen(A.m, &first, &taken), 0);
  assert_true(taken != 0);
  char busy[64];
  snprintf(busy, sizeof busy, "ws://127.0.0.1:%u/", (unsigned)taken);
  const char *unbindable[] = {"ws://192.0.2.1:0/", busy};
  for (size_t i = 0; i < sizeof unbindable / sizeof unbindable[0]; i++) {
    yz_link_listen_config lc = {unbindable[i], NULL, NULL};
    uint16_t port = 12345;
    last_log[0] = '\0';
    int rc = yz_link_listen(A.m, &lc, &port);
    if (rc != YZ_E_IO || strstr(last_log, "cannot listen") == NULL) {
      yz_log_set_sink(NULL, NULL);
      fail_msg("listen '%s': %s, log '%s' (want YZ_E_IO, 'cannot listen')",
               unbindable[i], yz_err_name(rc), last_log);
    }
  }
  yz_log_set_sink(NULL, NULL);
  assert_int_equal(A.downs, 0);
  t_loop_finish(both);
}

/* A dial that the peer refuses before the WebSocket upgrade (its limits:
 * it closes the connection, or answers with an HTTP status) says so in
 * its reason. A canned server: reads the upgrade request, then answers
 * with resp (NULL: closes without a word). */
typedef struct canned {
  uv_tcp_t srv;
  uv_tcp_t conn;
  uv_write_t wr;
  const char *resp;
  bool accepted;
  /* Answer a valid 101 (Sec-WebSocket-Accept computed) without any
   * Sec-WebSocket-Protocol, and keep the connection open. */
  bool ws101;
  char out[512];
} canned;

static void canned_alloc(uv_handle_t *h, size_t sug, uv_buf_t *buf) {
  (void)h;
  static char b[4096];
  (void)sug;
  buf->base = b;
  buf->len = sizeof b;
}

static void canned_written(uv_write_t *w, int status) {
  (void)status;
  canned *c = w->data;
  if (!c->ws101)
    uv_close((uv_handle_t *)&c->conn, NULL);
}

/* The 101 for the request in req (RFC 6455 section 4.2.2), no
 * subprotocol. */
static void canned_101(canned *c, const char *req, size_t n) {
  char r[4096];
  snprintf(r, sizeof r, "%.*s", (int)n, req);
  const char *k = strstr(r, "Sec-WebSocket-Key: ");
  assert_non_null(k);
  k += strlen("Sec-WebSocket-Key: ");
  char key[128];
  size_t kl = strcspn(k, "\r");
  assert_true(kl < 64);
  snprintf(key, sizeof key, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
           (int)kl, k);
  unsigned char md[20];
  lws_SHA1((const unsigned char *)key, strlen(key), md);
  char acc[64];
  assert_true(lws_b64_encode_string((const char *)md, 20, acc,
                                    sizeof acc) > 0);
  snprintf(c->out, sizeof c->out,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
           acc);
  c->resp = c->out;
}

static void canned_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  canned *c = s->data;
  if (n == 0)
    return;
  uv_read_stop(s);
  if (n > 0 && c->ws101)
    canned_101(c, buf->base, (size_t)n);
  if (n > 0 && c->resp != NULL) {
    uv_buf_t b = uv_buf_init((char *)c->resp, (unsigned)strlen(c->resp));
    c->wr.data = c;
    uv_write(&c->wr, s, &b, 1, canned_written);
    return;
  }
  uv_close((uv_handle_t *)s, NULL);
}

static void canned_accept(uv_stream_t *srv, int status) {
  canned *c = srv->data;
  if (status != 0 || c->accepted)
    return;
  c->accepted = true;
  uv_tcp_init(t_loop, &c->conn);
  c->conn.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->conn) == 0)
    uv_read_start((uv_stream_t *)&c->conn, canned_alloc, canned_read);
}

static uint16_t canned_start(canned *c, const char *resp) {
  memset(c, 0, sizeof *c);
  c->resp = resp;
  uv_tcp_init(t_loop, &c->srv);
  c->srv.data = c;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&c->srv, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&c->srv, 4, canned_accept), 0);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  uv_tcp_getsockname(&c->srv, (struct sockaddr *)&ss, &sl);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void test_dial_refused_reasons(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_links = 1;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  yz_link *l;
  /* a real peer at its max_links */
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&A.ups, 1);
  dial_ok(&B, "ws", A.port, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_non_null(strstr(B.last_reason, "refused by the peer before the "
                                        "WebSocket upgrade"));
  /* an HTTP status instead of the upgrade */
  canned c1, c2;
  uint16_t p1 = canned_start(&c1, "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Length: 0\r\n\r\n");
  dial_ok(&B, "ws", p1, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 2);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_non_null(strstr(B.last_reason, "refused by the peer before the "
                                        "WebSocket upgrade"));
  assert_non_null(strstr(B.last_reason, "503"));
  /* the connection closed after the upgrade request, without an answer */
  uint16_t p2 = canned_start(&c2, NULL);
  dial_ok(&B, "ws", p2, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 3);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_non_null(strstr(B.last_reason, "refused by the peer before the "
                                        "WebSocket upgrade"));
  /* nothing listens: that is no refusal by a peer */
  dial_ok(&B, "ws", 1, &A.id.id, 0, &l);
  t_wait_ge(&B.downs, 4);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_null(strstr(B.last_reason, "refused by the peer"));
  uv_close((uv_handle_t *)&c1.srv, NULL);
  uv_close((uv_handle_t *)&c2.srv, NULL);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* What the peer sees when a link closes (docs/protocol.md "Close")         */

/* A text message during the handshake: the node closes the connection
 * with a WebSocket Close frame carrying status 1002 (protocol error), so
 * the peer does not see 1006 (no Close frame). */
static void test_ws_close_frame_sent(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  static const uint8_t hi[2] = {'h', 'i'};
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, hi, sizeof hi);
  c.send_opcode = 0x1; /* a text frame */
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  assert_int_equal(c.ws_close_code, 1002);
  t_loop_finish(both);
}

/* The handshake timeout: WebSocket status 1000 (not a protocol error). */
static void test_ws_close_frame_timeout(void **state) {
  (void)state;
  yz_link_config ca;
  t_node_config(&A, &ca, 1);
  ca.handshake_timeout_ms = 100;
  t_node_start(&A, &ca);
  t_node_listen_ws(&A);
  raw_client c;
  raw_connect(&c, A.port, YZ_SESSION_WS_SUBPROTOCOL, NULL, 0);
  t_run_until(raw_closed_cond, &c);
  assert_true(c.upgraded);
  assert_int_equal(c.ws_close_code, 1000);
  t_loop_finish(both);
}

/* A relay mangles the first data frame of a link that is up (frames: 0
 * message 1, 1 message 3, 2 data): A's link goes down with want_err, the
 * reason's own error (not YZ_E_CLOSED), nothing is delivered, and B learns
 * want_code from A's CLOSE frame. */
static void bad_data_frame_closes(void (*mangle)(relay *, int), int want_err,
                                  const char *want_code) {
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_ws(&A);
  relay *r = relay_new(A.port);
  mangle(r, 2);
  yz_link *l;
  dial_ok(&B, "ws", relay_port(r), &A.id.id, 0, &l);
  t_wait_ge(&B.ups, 1);
  t_wait_ge(&A.ups, 1);
  assert_int_equal(yz_link_send(l, (const uint8_t *)"data", 4), 0);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(A.last_err, want_err);
  assert_int_equal(A.msgs, 0);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(B.last_reason, want_code));
  relay_free(r);
  t_loop_finish(both);
}

/* A text message on an up link: YZ_E_MALFORMED, the peer learns PROTOCOL. */
static void test_text_message_error(void **state) {
  (void)state;
  bad_data_frame_closes(relay_text_c2s_frame, YZ_E_MALFORMED, "PROTOCOL");
}

/* A WebSocket message above 65535 bytes on an up link: YZ_E_TOO_LARGE,
 * the peer learns TOO_LARGE. */
static void test_oversized_message_error(void **state) {
  (void)state;
  bad_data_frame_closes(relay_inflate_c2s_frame, YZ_E_TOO_LARGE,
                        "TOO_LARGE");
}

/* A server that answers 101 without the yz.link.v1 subprotocol is not a
 * yz node (docs/protocol.md "WebSocket"): the dial fails at once with a
 * reason that names the subprotocol, and no handshake message is sent. */
static void test_dial_no_subprotocol_in_101(void **state) {
  (void)state;
  yz_link_config cb;
  t_node_config(&B, &cb, 2);
  cb.handshake_timeout_ms = 500; /* without the check: a timeout */
  t_node_start(&B, &cb);
  canned c;
  uint16_t port = canned_start(&c, NULL);
  c.ws101 = true;
  yz_node_id id;
  memset(&id, 0x5a, sizeof id);
  yz_link *l;
  dial_ok(&B, "ws", port, &id, 0, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_VERSION);
  assert_non_null(strstr(B.last_reason, YZ_SESSION_WS_SUBPROTOCOL));
  yz_link_stats st;
  yz_link_manager_stats(B.m, &st);
  assert_int_equal(st.bytes_out, 0);
  if (c.accepted && !uv_is_closing((uv_handle_t *)&c.conn))
    uv_close((uv_handle_t *)&c.conn, NULL);
  uv_close((uv_handle_t *)&c.srv, NULL);
  t_loop_finish(both);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  if (getenv("YZ_TEST_LOG") != NULL)
    yz_log_set_level(YZ_LOG_DEBUG);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_ws_exchange, setup),
      cmocka_unit_test_setup(test_message_buffer_pool, setup),
      cmocka_unit_test_setup(test_wss_exchange, setup),
      cmocka_unit_test_setup(test_wss_unverified_refused, setup),
      cmocka_unit_test_setup(test_wrong_id, setup),
      cmocka_unit_test_setup(test_dial_address_form, setup),
      cmocka_unit_test_setup(test_tamper, setup),
      cmocka_unit_test_setup(test_many_links, setup),
      cmocka_unit_test_setup(test_silent_peer, setup),
      cmocka_unit_test_setup(test_garbage_msg1, setup),
      cmocka_unit_test_setup(test_oversized_ws_message, setup),
      cmocka_unit_test_setup(test_wrong_subprotocol, setup),
      cmocka_unit_test_setup(test_abrupt_close, setup),
      cmocka_unit_test_setup(test_slow_reader, setup),
      cmocka_unit_test_setup(test_max_links, setup),
      cmocka_unit_test_setup(test_max_handshakes_dial, setup),
      cmocka_unit_test_setup(test_max_handshakes_upgrading, setup),
      cmocka_unit_test_setup(test_rate_limit, setup),
      cmocka_unit_test_setup(test_shared_context, setup),
      cmocka_unit_test_setup(test_restart_same_port, setup),
      cmocka_unit_test_setup(test_ipv6, setup),
      cmocka_unit_test_setup(test_close_in_on_down, setup),
      cmocka_unit_test_setup(test_close_in_on_down_up_links, setup),
      cmocka_unit_test_setup(test_close_in_on_up_dialler, setup),
      cmocka_unit_test_setup(test_close_in_on_up_listener, setup),
      cmocka_unit_test_setup(test_close_in_on_message, setup),
      cmocka_unit_test_setup(test_graceful_shutdown, setup),
      cmocka_unit_test_setup(test_shutdown_unread_peer, setup),
      cmocka_unit_test_setup(test_link_events_not_logged_at_info, setup),
      cmocka_unit_test_setup(test_addresses, setup),
      cmocka_unit_test_setup(test_dial_refused_reasons, setup),
      cmocka_unit_test_setup(test_ws_close_frame_sent, setup),
      cmocka_unit_test_setup(test_ws_close_frame_timeout, setup),
      cmocka_unit_test_setup(test_text_message_error, setup),
      cmocka_unit_test_setup(test_oversized_message_error, setup),
      cmocka_unit_test_setup(test_dial_no_subprotocol_in_101, setup),
  };
  return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
