/*
 * test_hardening.c: what one hostile source can do to a listener (ws.c,
 * manager.c), over loopback. HTTP/2 is never spoken (no h2c upgrade, no
 * prior-knowledge preface, no h2 by ALPN); a plain HTTP request is
 * answered and closed; the handshake deadline runs from the TCP accept;
 * one source (127.0.0.1) holds a bounded share of the handshake slots and
 * of the links while another (127.0.0.2) still gets in; a full link table
 * evicts its idle links, never protected ones. After each attack an
 * honest dial still comes up. Deterministic: every wait is on an event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include "yz/log.h"
#include "yz/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef YZ_TEST_HAVE_OPENSSL
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

static tnode A, B;
static tnode *both[] = {&A, &B, NULL};

static int setup(void **state) {
  (void)state;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  t_loop_init();
  return 0;
}

static bool raw_closed_cond(void *ud) { return ((raw_client *)ud)->closed; }
static bool raw_refused_cond(void *ud) {
  raw_client *c = ud;
  return c->refused || c->closed;
}
static bool raw_upgraded_cond(void *ud) {
  raw_client *c = ud;
  return c->upgraded || c->closed;
}

static void dial_ok(tnode *from, const char *scheme, uint16_t port,
                    const yz_node_id *id, yz_link **out) {
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%u/", scheme, (unsigned)port);
  yz_link_dial_opts o = {YZ_LINK_TLS_ALLOW_SELFSIGNED, false};
  assert_int_equal(yz_link_dial(from->m, url, id, &o, out), 0);
  assert_non_null(*out);
}

/* An honest peer still gets a link after the attack. */
static void honest_dial_comes_up(const char *scheme, uint16_t port) {
  int ups = B.ups;
  yz_link *l;
  dial_ok(&B, scheme, port, &A.id.id, &l);
  t_wait_ge(&B.ups, ups + 1);
  assert_true(yz_link_is_up(l));
}

static void start_pair(yz_link_config *ca, yz_link_config *cb) {
  t_node_start(&A, ca);
  t_node_start(&B, cb);
  t_node_listen_ws(&A);
}

/* ------------------------------------------------------------------------ */
/* HTTP/2 is never spoken                                                   */

/* The h2c upgrade (RFC 7540 3.2) of the crash: no 101, the connection
 * closes. */
static void test_no_h2c_upgrade(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  start_pair(&ca, &cb);
  static const char req[] =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
  raw_client c;
  raw_connect_bytes(&c, A.port, NULL, req, sizeof req - 1);
  t_run_until(raw_closed_cond, &c);
  assert_false(c.upgraded);
  assert_null(strstr(c.rbuf, " 101 "));
  honest_dial_comes_up("ws", A.port);
  t_loop_finish(both);
}

/* HTTP/2 with prior knowledge (RFC 7540 3.4): the preface and a SETTINGS
 * frame get no SETTINGS frame back (type 4 at byte 3 of a frame
 * header), and the connection closes. */
static void test_no_h2_prior_knowledge(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  start_pair(&ca, &cb);
  static const char req[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                            "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  raw_client c;
  raw_connect_bytes(&c, A.port, NULL, req, sizeof req - 1);
  t_run_until(raw_closed_cond, &c);
  assert_false(c.upgraded);
  assert_false(c.rlen >= 9 && c.rbuf[3] == 0x04 && c.rbuf[0] == 0);
  honest_dial_comes_up("ws", A.port);
  t_loop_finish(both);
}

#ifdef YZ_TEST_HAVE_OPENSSL
/* A TLS client offering "h2,http/1.1" by ALPN, in a thread (blocking
 * OpenSSL calls; the listener runs on this thread's loop). */
typedef struct alpn_probe {
  uint16_t port;
  bool handshake_ok;
  char selected[32];
  uv_async_t done;
  bool finished;
} alpn_probe;

static void *alpn_thread(void *ud) {
  alpn_probe *p = ud;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  static const unsigned char protos[] = "\x02h2\x08http/1.1";
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(p->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ctx != NULL && fd >= 0 &&
      SSL_CTX_set_alpn_protos(ctx, protos, sizeof protos - 1) == 0 &&
      connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    SSL *s = SSL_new(ctx);
    if (s != NULL) {
      SSL_set_fd(s, fd);
      if (SSL_connect(s) == 1) {
        const unsigned char *sel = NULL;
        unsigned len = 0;
        SSL_get0_alpn_selected(s, &sel, &len);
        if (len >= sizeof p->selected)
          len = sizeof p->selected - 1;
        if (sel != NULL)
          memcpy(p->selected, sel, len);
        p->selected[len] = '\0';
        p->handshake_ok = true;
      }
      SSL_free(s);
    }
  }
  if (fd >= 0)
    close(fd);
  SSL_CTX_free(ctx);
  uv_async_send(&p->done);
  return NULL;
}

static void alpn_done(uv_async_t *h) {
  ((alpn_probe *)h->data)->finished = true;
}

static bool alpn_finished(void *ud) { return ((alpn_probe *)ud)->finished; }

/* wss://: ALPN never selects h2 (http/1.1 or nothing). */
static void test_no_h2_alpn(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  t_node_listen_wss(&A);
  alpn_probe p;
  memset(&p, 0, sizeof p);
  p.port = A.tls_port;
  assert_int_equal(uv_async_init(t_loop, &p.done, alpn_done), 0);
  p.done.data = &p;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, alpn_thread, &p), 0);
  t_run_until(alpn_finished, &p);
  pthread_join(th, NULL);
  uv_close((uv_handle_t *)&p.done, NULL);
  assert_true(p.handshake_ok);
  assert_true(p.selected[0] == '\0' || strcmp(p.selected, "http/1.1") == 0);
  honest_dial_comes_up("wss", A.tls_port);
  t_loop_finish(both);
}
#endif

/* ------------------------------------------------------------------------ */
/* Plain HTTP and the deadline from the accept                              */

/* GET / is answered (404) and the connection closed at once: a keep-alive
 * connection would hold a handshake slot with a request every few
 * seconds. */
static void test_plain_http_closed(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  start_pair(&ca, &cb);
  static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Connection: keep-alive\r\n\r\n";
  raw_client c;
  raw_connect_bytes(&c, A.port, NULL, req, sizeof req - 1);
  t_run_until(raw_refused_cond, &c);
  /* a second request on the same connection gets no answer: it was
   * closed after the first (with keep-alive, a 404 would come at once) */
  raw_send(&c, req, sizeof req - 1);
  t_run_until(raw_closed_cond, &c);
  assert_true(c.refused);
  const char *first = strstr(c.rbuf, "HTTP/1.1 404");
  assert_non_null(first);
  assert_null(strstr(first + 1, "HTTP/1.1 404"));
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.upgrade_timeouts, 0); /* closed by the answer */
  assert_int_equal(st.upgrading, 0);
  honest_dial_comes_up("ws", A.port);
  t_loop_finish(both);
}

/* A connection that never upgrades is closed when handshake_timeout_ms
 * has passed since its TCP accept (here a short one; lws's own timeout
 * is 10 s). */
static void test_deadline_from_accept(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.handshake_timeout_ms = 200;
  start_pair(&ca, &cb);
  raw_client quiet, partial;
  raw_connect(&quiet, A.port, "-", NULL, 0);
  static const char half[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  raw_connect_bytes(&partial, A.port, NULL, half, sizeof half - 1);
  t_run_until(raw_closed_cond, &quiet);
  t_run_until(raw_closed_cond, &partial);
  assert_false(quiet.refused);
  assert_false(partial.refused);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.upgrade_timeouts, 2);
  assert_int_equal(st.upgrading, 0);
  honest_dial_comes_up("ws", A.port);
  t_loop_finish(both);
}

static bool upgrading_ge(void *ud) {
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  return st.upgrading >= *(uint32_t *)ud;
}

static bool in_handshake(void *ud) {
  (void)ud;
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  return st.handshakes >= 1;
}

/* The time a connection spends before its WebSocket upgrade counts: the
 * session gets what is left of handshake_timeout_ms (virtual time, so the
 * deadline is exact). */
static void test_deadline_remainder(void **state) {
  (void)state;
  t_clock_now = 1000000;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.handshake_timeout_ms = 10000;
  ca.virtual_time = true;
  ca.clock_ms = t_clock;
  start_pair(&ca, &cb);
  raw_client c;
  raw_connect(&c, A.port, "-", NULL, 0); /* accepted at 1000000 */
  uint32_t one = 1;
  t_run_until(upgrading_ge, &one);
  t_clock_now += 9500; /* then the upgrade, and no Noise message */
  static const char up[] =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: " YZ_SESSION_WS_SUBPROTOCOL "\r\n\r\n";
  raw_send(&c, up, sizeof up - 1);
  t_run_until(in_handshake, NULL);
  assert_int_equal(yz_link_manager_next_deadline(A.m), 1000000 + 10000);
  t_clock_now = 1000000 + 10000;
  yz_link_manager_run_timers(A.m);
  t_run_until(raw_closed_cond, &c);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.timeouts, 1);
  assert_int_equal(st.handshakes, 0);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* Per-source shares                                                        */

/* One source holds at most max_handshakes_per_source of the handshake
 * slots; another source still gets in. */
static void test_per_source_handshakes(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_handshakes_per_source = 2;
  start_pair(&ca, &cb);
  raw_client c1, c2, c3, other;
  raw_connect_from(&c1, A.port, "127.0.0.1", "-", NULL, 0);
  raw_connect_from(&c2, A.port, "127.0.0.1", "-", NULL, 0);
  uint32_t two = 2;
  t_run_until(upgrading_ge, &two);
  raw_connect_from(&c3, A.port, "127.0.0.1", YZ_SESSION_WS_SUBPROTOCOL, NULL,
                   0);
  t_run_until(raw_closed_cond, &c3);
  assert_false(c3.upgraded);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_PER_SOURCE], 1);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_HANDSHAKES], 0);
  /* another source is not held back by the first one's share */
  raw_connect_from(&other, A.port, "127.0.0.2", YZ_SESSION_WS_SUBPROTOCOL,
                   NULL, 0);
  t_run_until(raw_upgraded_cond, &other);
  assert_true(other.upgraded);
  raw_close(&other);
  raw_close(&c1);
  raw_close(&c2);
  t_run_until(raw_closed_cond, &other);
  t_run_until(raw_closed_cond, &c1);
  t_run_until(raw_closed_cond, &c2);
  /* the slots are free again once they are gone */
  honest_dial_comes_up("ws", A.port);
  t_loop_finish(both);
}

/* One source holds at most max_links_per_source links. */
static void test_per_source_links(void **state) {
  (void)state;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_links_per_source = 2;
  start_pair(&ca, &cb);
  yz_link *l;
  dial_ok(&B, "ws", A.port, &A.id.id, &l);
  dial_ok(&B, "ws", A.port, &A.id.id, &l);
  t_wait_ge(&A.ups, 2);
  dial_ok(&B, "ws", A.port, &A.id.id, &l);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  assert_int_equal(A.ups, 2);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_PER_SOURCE], 1);
  raw_client other;
  raw_connect_from(&other, A.port, "127.0.0.2", YZ_SESSION_WS_SUBPROTOCOL,
                   NULL, 0);
  t_run_until(raw_upgraded_cond, &other);
  assert_true(other.upgraded);
  raw_close(&other);
  t_run_until(raw_closed_cond, &other);
  t_loop_finish(both);
}

/* An IPv6 source is its /64: links from ::1 count against one share. */
static void test_per_source_ipv6(void **state) {
  (void)state;
  if (!t_have_ipv6_loopback()) { /* a machine without it skips this */
    t_loop_finish(both);
    skip();
  }
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_links_per_source = 1;
  t_node_start(&A, &ca);
  t_node_start(&B, &cb);
  yz_link_listen_config lc = {"ws://[::1]:0", NULL, NULL};
  assert_int_equal(yz_link_listen(A.m, &lc, &A.port), 0);
  char url[64];
  snprintf(url, sizeof url, "ws://[::1]:%u/", (unsigned)A.port);
  yz_link *l;
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&A.ups, 1);
  assert_int_equal(yz_link_dial(B.m, url, &A.id.id, NULL, &l), 0);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_PER_SOURCE], 1);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* Eviction of idle links                                                   */

static void protect_hook(tnode *n, yz_link *l) {
  (void)n;
  yz_link_set_protected(l, true);
}

static void test_evict_idle(void **state) {
  (void)state;
  t_clock_now = 1000000;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.max_links = 2;
  ca.evict_min_idle_ms = 1000;
  ca.clock_ms = t_clock;
  start_pair(&ca, &cb);
  yz_link *l1, *l2, *l3;
  dial_ok(&B, "ws", A.port, &A.id.id, &l1);
  t_wait_ge(&A.ups, 1);
  dial_ok(&B, "ws", A.port, &A.id.id, &l2);
  t_wait_ge(&A.ups, 2);
  t_wait_ge(&B.ups, 2);
  /* full, and nothing idle long enough: refused */
  dial_ok(&B, "ws", A.port, &A.id.id, &l3);
  t_wait_ge(&B.downs, 1);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  yz_link_stats st;
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_LINKS], 1);
  assert_int_equal(st.evictions, 0);

  /* both idle past the minimum; l1 then carries a message: l2 is the one
   * idle longest and goes */
  t_clock_now += 5000;
  assert_int_equal(yz_link_send(l1, (const uint8_t *)"busy", 4), 0);
  t_wait_ge(&A.msgs, 1);
  A.on_up_hook = protect_hook; /* links that come up from now on */
  dial_ok(&B, "ws", A.port, &A.id.id, &l3);
  t_wait_ge(&B.ups, 3);
  t_wait_ge(&A.downs, 1);
  assert_int_equal(A.last_err, YZ_E_LIMIT);
  assert_non_null(strstr(A.last_reason, "evicted"));
  t_wait_ge(&B.downs, 2);
  assert_int_equal(B.last_err, YZ_E_PEER_CLOSED);
  assert_non_null(strstr(B.last_reason, "evicted"));
  assert_true(yz_link_is_up(l1));
  assert_true(yz_link_is_up(l3));
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.evictions, 1);

  /* l1 idle again: evicted for the next one; then both are protected
   * and a newcomer is refused */
  t_clock_now += 5000;
  yz_link *l4, *l5;
  dial_ok(&B, "ws", A.port, &A.id.id, &l4);
  t_wait_ge(&B.ups, 4);
  t_wait_ge(&B.downs, 3);
  assert_int_equal(B.last_err, YZ_E_PEER_CLOSED); /* l1, now freed */
  assert_non_null(strstr(B.last_reason, "evicted"));
  t_clock_now += 5000;
  dial_ok(&B, "ws", A.port, &A.id.id, &l5);
  t_wait_ge(&B.downs, 4);
  assert_int_equal(B.last_err, YZ_E_UNREACHABLE);
  yz_link_manager_stats(A.m, &st);
  assert_int_equal(st.evictions, 2);
  assert_int_equal(st.refused[YZ_LINK_REFUSED_MAX_LINKS], 2);
  t_loop_finish(both);
}

/* ------------------------------------------------------------------------ */
/* Logs a peer cannot flood                                                 */

static int link_lines;

static void count_link_lines(yz_log_level level, const char *line,
                             void *ud) {
  (void)level;
  (void)ud;
  if (strncmp(line, "link ", 5) == 0)
    link_lines++;
}

static void close_hook(tnode *n, yz_link *l) {
  (void)n;
  yz_link_close(l);
}

/* 60 links come up and go down (each an up, a going-down and a down line
 * at debug on each side): each manager writes at most its budget of event
 * lines per window. The clock stands still, so the window never turns. */
static void test_log_bounded(void **state) {
  (void)state;
  enum { N = 60 };
  t_clock_now = 5000000;
  yz_log_level saved = yz_log_get_level();
  yz_log_set_level(YZ_LOG_DEBUG);
  yz_log_set_sink(count_link_lines, NULL);
  link_lines = 0;
  yz_link_config ca, cb;
  t_node_config(&A, &ca, 1);
  t_node_config(&B, &cb, 2);
  ca.clock_ms = cb.clock_ms = t_clock;
  ca.ip_rate_burst = N;
  ca.max_handshakes = cb.max_handshakes = N;
  /* N handshakes at once are load by the cookie triggers (docs/protocol.md
   * 4, "Cookie"); this test counts log lines, not cookie rounds */
  ca.cookie_load_pct = 101;
  ca.cookie_msg1_per_s = UINT32_MAX;
  start_pair(&ca, &cb);
  B.on_up_hook = close_hook; /* each link closes as soon as it is up */
  for (int i = 0; i < N; i++) {
    yz_link *l;
    dial_ok(&B, "ws", A.port, &A.id.id, &l);
  }
  t_wait_ge(&B.downs, N);
  t_wait_ge(&A.downs, N);
  int lines = link_lines;
  t_loop_finish(both);
  yz_log_set_sink(NULL, NULL);
  yz_log_set_level(saved);
  assert_int_equal(A.ups, N);
  assert_true(lines <= 2 * YZ_LINK_LOG_EVENTS_BURST);
  assert_true(lines >= YZ_LINK_LOG_EVENTS_BURST); /* it did log */
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_no_h2c_upgrade, setup),
      cmocka_unit_test_setup(test_no_h2_prior_knowledge, setup),
#ifdef YZ_TEST_HAVE_OPENSSL
      cmocka_unit_test_setup(test_no_h2_alpn, setup),
#endif
      cmocka_unit_test_setup(test_plain_http_closed, setup),
      cmocka_unit_test_setup(test_deadline_from_accept, setup),
      cmocka_unit_test_setup(test_deadline_remainder, setup),
      cmocka_unit_test_setup(test_per_source_handshakes, setup),
      cmocka_unit_test_setup(test_per_source_links, setup),
      cmocka_unit_test_setup(test_per_source_ipv6, setup),
      cmocka_unit_test_setup(test_evict_idle, setup),
      cmocka_unit_test_setup(test_log_bounded, setup),
  };
  /* YZ_TEST_FILTER=test_evict_idle runs one test (a failed test leaves
   * its loop behind, so the next ones cannot run after it) */
  if (getenv("YZ_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("YZ_TEST_FILTER"));
  return cmocka_run_group_tests_name("link_hardening", tests, NULL, NULL);
}
