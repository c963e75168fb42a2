/*
 * test_wsproto.c: the native backend's parsers, without a socket: the
 * HTTP/1.1 heads of the upgrade (src/link/http1.c) and RFC 6455 framing
 * (src/link/wsframe.c). Table-driven: every refusal the brief of the
 * backend lists has a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link/http1.h"
#include "link/wsframe.h"
#include "yz/session.h"

#define UP_HEAD                                                               \
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"             \
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"   \
  "Sec-WebSocket-Version: 13\r\n"

static int req(const char *text, yz__http1_request *out) {
  const char *why = NULL;
  int rc = yz__http1_parse_request(out, (const uint8_t *)text, strlen(text),
                                   &why);
  if (rc != 0)
    assert_non_null(why);
  return rc;
}

/* RFC 6455 4.2.2's own example */
static void test_accept_rfc_example(void **state) {
  (void)state;
  char out[YZ__HTTP1_ACCEPT_LEN + 1];
  assert_int_equal(yz__http1_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_request_ok(void **state) {
  (void)state;
  yz__http1_request r;
  assert_int_equal(
      req(UP_HEAD "Sec-WebSocket-Protocol: chat, " YZ_SESSION_WS_SUBPROTOCOL
                  "\r\n\r\n",
          &r),
      0);
  assert_int_equal(r.kind, YZ__HTTP1_WEBSOCKET);
  assert_true(r.has_subprotocol);
  assert_string_equal(r.key, "dGhlIHNhbXBsZSBub25jZQ==");
  /* case-insensitive names and tokens, OWS around values */
  assert_int_equal(req("GET /x HTTP/1.1\r\nhost:a\r\nUPGRADE:  WebSocket \r\n"
                       "connection: keep-alive, upgrade\r\n"
                       "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "sec-websocket-version: 13\r\n"
                       "sec-websocket-protocol: " YZ_SESSION_WS_SUBPROTOCOL
                       "\r\n\r\n",
                       &r),
                   0);
  assert_int_equal(r.kind, YZ__HTTP1_WEBSOCKET);
  assert_true(r.has_subprotocol);
}

/* Missing or foreign subprotocol: parsed, but not ours (the listener
 * closes without an answer). */
static void test_request_subprotocol(void **state) {
  (void)state;
  yz__http1_request r;
  assert_int_equal(req(UP_HEAD "\r\n", &r), 0);
  assert_int_equal(r.kind, YZ__HTTP1_WEBSOCKET);
  assert_false(r.has_subprotocol);
  assert_int_equal(req(UP_HEAD "Sec-WebSocket-Protocol: yz.link.v2, "
                               "YZ.LINK.V1\r\n\r\n",
                       &r),
                   0);
  assert_false(r.has_subprotocol);
}

static void test_request_kinds(void **state) {
  (void)state;
  yz__http1_request r;
  /* a plain GET (keep-alive or not): answered 404 and closed */
  assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: "
                       "keep-alive\r\n\r\n",
                       &r),
                   0);
  assert_int_equal(r.kind, YZ__HTTP1_PLAIN);
  /* h2c (RFC 7540 3.2), alone or offered beside websocket */
  assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
                       "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: "
                       "AAMAAABkAAQAAP__\r\n\r\n",
                       &r),
                   0);
  assert_int_equal(r.kind, YZ__HTTP1_OTHER_UPGRADE);
  assert_int_equal(req(UP_HEAD "Upgrade-Insecure-Requests: 1\r\n\r\n", &r),
                   0);
  assert_int_equal(r.kind, YZ__HTTP1_WEBSOCKET);
  assert_int_equal(
      req("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket, h2c\r\n"
          "Connection: upgrade\r\n\r\n",
          &r),
      0);
  assert_int_equal(r.kind, YZ__HTTP1_OTHER_UPGRADE);
}

typedef struct bad_req {
  const char *text;
  int err;
} bad_req;

static void test_request_refused(void **state) {
  (void)state;
  static const bad_req rows[] = {
      /* the HTTP/2 preface (RFC 9113 3.4) */
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", YZ_E_MALFORMED},
      {"GET / HTTP/1.0\r\nHost: a\r\n\r\n", YZ_E_MALFORMED},
      {"GET / HTTP/2\r\nHost: a\r\n\r\n", YZ_E_MALFORMED},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", YZ_E_MALFORMED},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", YZ_E_MALFORMED}, /* bare LF */
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", YZ_E_MALFORMED},
      {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", YZ_E_MALFORMED}, /* fold */
      {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", YZ_E_MALFORMED},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\nX", YZ_E_TRAILING},
      {"GET / HTTP/1.1\r\nHost: a\r\n", YZ_E_MALFORMED}, /* incomplete */
      {"POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
       "upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       YZ_E_MALFORMED},
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       YZ_E_MALFORMED}, /* no Host */
      {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       YZ_E_MALFORMED}, /* no Connection: upgrade */
      {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
       "upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       YZ_E_MALFORMED}, /* key not of 16 bytes */
      {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
       "upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 8\r\n\r\n",
       YZ_E_MALFORMED},
      {UP_HEAD "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
       YZ_E_MALFORMED}, /* duplicated key */
      {UP_HEAD "Host: b\r\n\r\n", YZ_E_MALFORMED},
      {UP_HEAD "Content-Length: 5\r\n\r\n", YZ_E_MALFORMED},
      {UP_HEAD "Transfer-Encoding: chunked\r\n\r\n", YZ_E_MALFORMED},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    yz__http1_request r;
    int rc = req(rows[i].text, &r);
    if (rc != rows[i].err)
      fail_msg("row %zu: %d, want %d", i, rc, rows[i].err);
  }
}

/* The caps: a head of 8 KiB, a line of 4 KiB, 64 fields. */
static void test_request_caps(void **state) {
  (void)state;
  size_t cap = YZ__HTTP1_MAX_HEAD + 64;
  char *b = malloc(cap);
  assert_non_null(b);
  /* too many fields */
  size_t n = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < YZ__HTTP1_MAX_HEADERS + 1; i++)
    n += (size_t)snprintf(b + n, cap - n, "X-%d: 1\r\n", i);
  n += (size_t)snprintf(b + n, cap - n, "\r\n");
  yz__http1_request r;
  const char *why;
  assert_int_equal(yz__http1_parse_request(&r, (const uint8_t *)b, n, &why),
                   YZ_E_TOO_LARGE);
  /* exactly the cap of fields is fine */
  n = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < YZ__HTTP1_MAX_HEADERS; i++)
    n += (size_t)snprintf(b + n, cap - n, "X-%d: 1\r\n", i);
  n += (size_t)snprintf(b + n, cap - n, "\r\n");
  assert_int_equal(yz__http1_parse_request(&r, (const uint8_t *)b, n, &why),
                   0);
  /* a line above 4 KiB */
  n = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\nX: ");
  memset(b + n, 'a', YZ__HTTP1_MAX_LINE);
  n += YZ__HTTP1_MAX_LINE;
  n += (size_t)snprintf(b + n, cap - n, "\r\n\r\n");
  assert_int_equal(yz__http1_parse_request(&r, (const uint8_t *)b, n, &why),
                   YZ_E_TOO_LARGE);
  /* no end of head within 8 KiB */
  memset(b, 'a', YZ__HTTP1_MAX_HEAD);
  assert_int_equal(yz__http1_head_len((const uint8_t *)b, YZ__HTTP1_MAX_HEAD),
                   YZ_E_TOO_LARGE);
  assert_int_equal(
      yz__http1_head_len((const uint8_t *)b, YZ__HTTP1_MAX_HEAD - 1), 0);
  free(b);
  /* the preface is recognised from its first line */
  assert_int_equal(yz__http1_head_len((const uint8_t *)"PRI * HTTP/2.0\r\n",
                                      16),
                   YZ_E_MALFORMED);
  assert_int_equal(yz__http1_head_len((const uint8_t *)"PRI * HT", 8), 0);
  assert_int_equal(
      yz__http1_head_len((const uint8_t *)"GET / HTTP/1.1\r\n\r\nxx", 20), 18);
}

#define OK_101                                                                \
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"               \
  "Connection: Upgrade\r\nSec-WebSocket-Accept: "                             \
  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

static int resp(const char *text, unsigned *status, bool *proto) {
  const char *why = NULL;
  return yz__http1_parse_response((const uint8_t *)text, strlen(text),
                                  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", status,
                                  proto, &why);
}

static void test_response(void **state) {
  (void)state;
  unsigned st;
  bool proto;
  assert_int_equal(
      resp(OK_101 "Sec-WebSocket-Protocol: " YZ_SESSION_WS_SUBPROTOCOL
                  "\r\n\r\n",
           &st, &proto),
      0);
  assert_int_equal(st, 101);
  assert_true(proto);
  /* a 101 without the subprotocol, or with another: parsed, not ours
   * (the dial fails with YZ_E_VERSION) */
  assert_int_equal(resp(OK_101 "\r\n", &st, &proto), 0);
  assert_false(proto);
  assert_int_equal(resp(OK_101 "Sec-WebSocket-Protocol: chat\r\n\r\n", &st,
                        &proto),
                   0);
  assert_false(proto);
  /* refusals */
  assert_int_equal(resp("HTTP/1.1 404 Not Found\r\n\r\n", &st, &proto),
                   YZ_E_UNREACHABLE);
  assert_int_equal(st, 404);
  assert_int_equal(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
                        "websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: "
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                        &st, &proto),
                   YZ_E_MALFORMED);
  assert_int_equal(resp(OK_101 "Sec-WebSocket-Extensions: "
                               "permessage-deflate\r\n\r\n",
                        &st, &proto),
                   YZ_E_MALFORMED);
  assert_int_equal(resp("HTTP/1.1 101 Switching Protocols\r\n\r\n", &st,
                        &proto),
                   YZ_E_MALFORMED);
  assert_int_equal(resp("HTTP/2 101\r\n\r\n", &st, &proto), YZ_E_MALFORMED);
  assert_int_equal(resp(OK_101 "\r\nX", &st, &proto), YZ_E_TRAILING);
}

/* ------------------------------------------------------------------------ */
/* Framing                                                                  */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* One frame as a client sends it (masked) or a server (not). */
static size_t frame(uint8_t *out, bool fin, uint8_t op, const void *d,
                    size_t n, bool masked) {
  size_t h = yz__ws_write_header(out, fin, op, n, masked ? MASK : NULL);
  memcpy(out + h, d, n);
  if (masked)
    yz__ws_mask(out + h, n, MASK, 0);
  return h + n;
}

/* RFC 6455 5.7: a masked "Hello" */
static void test_frame_rfc_example(void **state) {
  (void)state;
  uint8_t b[16];
  size_t n = frame(b, true, YZ__WS_OP_TEXT, "Hello", 5, true);
  static const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                 0x9f, 0x4d, 0x51, 0x58};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(b, want, sizeof want);
  yz__ws_rx rx;
  yz__ws_rx_init(&rx, true);
  yz__ws_ev ev;
  bool got;
  size_t need;
  const char *why;
  uint16_t st;
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   (int)n);
  assert_true(got);
  assert_int_equal(ev.type, YZ__WS_EV_MESSAGE);
  assert_true(ev.text);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "Hello", 5);
  yz__ws_rx_clear(&rx);
}

/* Word-at-a-time masking equals byte-at-a-time at every offset and
 * length. */
static void test_mask_words(void **state) {
  (void)state;
  uint8_t a[300], b[300];
  for (size_t off = 0; off < 4; off++) {
    for (size_t len = 0; len < 200; len++) {
      for (size_t i = 0; i < len + 7; i++)
        a[i] = b[i] = (uint8_t)(i * 31 + len);
      yz__ws_mask(a + 3, len, MASK, off);
      for (size_t i = 0; i < len; i++)
        b[3 + i] ^= MASK[(off + i) & 3];
      assert_memory_equal(a, b, len + 7);
    }
  }
}

static void test_maskgen(void **state) {
  (void)state;
  yz__ws_maskgen g1, g2;
  yz__ws_maskgen_init(&g1);
  yz__ws_maskgen_init(&g2);
  uint8_t k1[4], k2[4], prev[4] = {0};
  int same = 0, repeat = 0;
  for (int i = 0; i < 200; i++) { /* crosses the 64-key refill */
    yz__ws_maskgen_next(&g1, k1);
    yz__ws_maskgen_next(&g2, k2);
    same += memcmp(k1, k2, 4) == 0;
    repeat += memcmp(k1, prev, 4) == 0;
    memcpy(prev, k1, 4);
  }
  assert_true(same < 3);   /* two links: two streams */
  assert_true(repeat < 3); /* keys change */
  yz__ws_maskgen_clear(&g1);
  yz__ws_maskgen_clear(&g2);
}

/* Fragmentation (5.4) with a ping between the fragments, and bytes fed one
 * at a time (the receiver asks for the whole frame). */
static void test_rx_fragments(void **state) {
  (void)state;
  uint8_t b[256];
  size_t n = 0;
  n += frame(b + n, false, YZ__WS_OP_BINARY, "abc", 3, false);
  n += frame(b + n, true, YZ__WS_OP_PING, "p", 1, false);
  n += frame(b + n, false, YZ__WS_OP_CONT, "de", 2, false);
  n += frame(b + n, true, YZ__WS_OP_CONT, "f", 1, false);
  yz__ws_rx rx;
  yz__ws_rx_init(&rx, false); /* we are the client */
  size_t off = 0, have = 1;
  int events = 0;
  while (off < n) {
    yz__ws_ev ev;
    bool got;
    size_t need;
    const char *why;
    uint16_t st;
    int k = yz__ws_rx_next(&rx, b + off, have, &ev, &got, &need, &why, &st);
    assert_true(k >= 0);
    if (k == 0) {
      assert_true(need > have);
      have = need;
      continue;
    }
    off += (size_t)k;
    have = 1;
    if (!got)
      continue;
    events++;
    if (events == 1) {
      assert_int_equal(ev.type, YZ__WS_EV_PING);
      assert_int_equal(ev.len, 1);
    } else {
      assert_int_equal(ev.type, YZ__WS_EV_MESSAGE);
      assert_false(ev.text);
      assert_int_equal(ev.len, 6);
      assert_memory_equal(ev.data, "abcdef", 6);
    }
  }
  assert_int_equal(events, 2);
  yz__ws_rx_clear(&rx);
}

typedef struct bad_frame {
  const char *name;
  uint8_t bytes[16];
  size_t len;
  bool from_client;
  int err;
  uint16_t status;
} bad_frame;

/* Every refusal of the receiver, with the Close status it answers. */
static void test_rx_refused(void **state) {
  (void)state;
  static const bad_frame rows[] = {
      {"unmasked client frame", {0x82, 0x01, 'x'}, 3, true, YZ_E_MALFORMED,
       1002},
      {"masked server frame", {0x82, 0x81, 0, 0, 0, 0, 'x'}, 7, false,
       YZ_E_MALFORMED, 1002},
      {"RSV1", {0xc2, 0x01, 'x'}, 3, false, YZ_E_MALFORMED, 1002},
      {"RSV3", {0x92, 0x01, 'x'}, 3, false, YZ_E_MALFORMED, 1002},
      {"reserved opcode", {0x83, 0x00}, 2, false, YZ_E_MALFORMED, 1002},
      {"reserved control opcode", {0x8b, 0x00}, 2, false, YZ_E_MALFORMED,
       1002},
      {"fragmented ping", {0x09, 0x00}, 2, false, YZ_E_MALFORMED, 1002},
      {"long ping", {0x89, 0x7e, 0x00, 0x7e}, 4, false, YZ_E_MALFORMED, 1002},
      {"over 65535", {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, 10, false,
       YZ_E_TOO_LARGE, 1009},
      {"top bit of 64-bit length", {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0},
       10, false, YZ_E_MALFORMED, 1002},
      {"16-bit length not minimal", {0x82, 0x7e, 0x00, 0x05}, 4, false,
       YZ_E_MALFORMED, 1002},
      {"64-bit length not minimal", {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x10, 0},
       10, false, YZ_E_MALFORMED, 1002},
      {"continuation without start", {0x80, 0x00}, 2, false, YZ_E_MALFORMED,
       1002},
      {"close of one byte", {0x88, 0x01, 0x03}, 3, false, YZ_E_MALFORMED,
       1002},
      {"close status 1005", {0x88, 0x02, 0x03, 0xed}, 4, false,
       YZ_E_MALFORMED, 1002},
      {"close status 999", {0x88, 0x02, 0x03, 0xe7}, 4, false,
       YZ_E_MALFORMED, 1002},
      {"close status 5000", {0x88, 0x02, 0x13, 0x88}, 4, false,
       YZ_E_MALFORMED, 1002},
      {"close reason not UTF-8", {0x88, 0x03, 0x03, 0xe8, 0xff}, 5, false,
       YZ_E_MALFORMED, 1007},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    yz__ws_rx rx;
    yz__ws_rx_init(&rx, rows[i].from_client);
    uint8_t b[16];
    memcpy(b, rows[i].bytes, rows[i].len);
    yz__ws_ev ev;
    bool got;
    size_t need;
    const char *why = NULL;
    uint16_t st = 0;
    int k = yz__ws_rx_next(&rx, b, rows[i].len, &ev, &got, &need, &why, &st);
    if (k != rows[i].err || st != rows[i].status || why == NULL)
      fail_msg("%s: %d status %u, want %d status %u", rows[i].name, k,
               (unsigned)st, rows[i].err, (unsigned)rows[i].status);
    yz__ws_rx_clear(&rx);
  }
}

/* A new message inside a fragmented one, and a fragmented message that
 * grows past 65535 bytes in all. */
static void test_rx_fragment_refusals(void **state) {
  (void)state;
  uint8_t b[64];
  yz__ws_rx rx;
  yz__ws_ev ev;
  bool got;
  size_t need;
  const char *why;
  uint16_t st;
  yz__ws_rx_init(&rx, false);
  size_t n = frame(b, false, YZ__WS_OP_BINARY, "ab", 2, false);
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   (int)n);
  assert_false(got);
  n = frame(b, true, YZ__WS_OP_BINARY, "cd", 2, false);
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   YZ_E_MALFORMED);
  assert_int_equal(st, 1002);
  yz__ws_rx_clear(&rx);

  size_t part = 40000;
  uint8_t *big = malloc(part + 16);
  assert_non_null(big);
  memset(big, 0, part + 16);
  yz__ws_rx_init(&rx, false);
  size_t h = yz__ws_write_header(big, false, YZ__WS_OP_BINARY, part, NULL);
  assert_int_equal(
      yz__ws_rx_next(&rx, big, h + part, &ev, &got, &need, &why, &st),
      (int)(h + part));
  h = yz__ws_write_header(big, true, YZ__WS_OP_CONT, part, NULL);
  assert_int_equal(
      yz__ws_rx_next(&rx, big, h + part, &ev, &got, &need, &why, &st),
      YZ_E_TOO_LARGE);
  assert_int_equal(st, 1009);
  yz__ws_rx_clear(&rx);
  free(big);
}

/* The peer's Close: its status and reason; nothing is taken after it. */
static void test_rx_close(void **state) {
  (void)state;
  uint8_t b[32];
  static const uint8_t pay[] = {0x03, 0xe9, 'b', 'y', 'e'};
  size_t n = frame(b, true, YZ__WS_OP_CLOSE, pay, sizeof pay, true);
  yz__ws_rx rx;
  yz__ws_rx_init(&rx, true);
  yz__ws_ev ev;
  bool got;
  size_t need;
  const char *why;
  uint16_t st;
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   (int)n);
  assert_int_equal(ev.type, YZ__WS_EV_CLOSE);
  assert_int_equal(ev.status, 1001);
  n = frame(b, true, YZ__WS_OP_PING, "", 0, true);
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   YZ_E_STATE);
  yz__ws_rx_clear(&rx);
  /* an empty Close has no status (1005 locally, never on the wire) */
  yz__ws_rx_init(&rx, false);
  n = frame(b, true, YZ__WS_OP_CLOSE, "", 0, false);
  assert_int_equal(yz__ws_rx_next(&rx, b, n, &ev, &got, &need, &why, &st),
                   (int)n);
  assert_int_equal(ev.status, YZ__WS_CLOSE_NO_STATUS);
  yz__ws_rx_clear(&rx);
}

static void test_header_lengths(void **state) {
  (void)state;
  uint8_t h[YZ__WS_MAX_HEADER];
  assert_int_equal(yz__ws_write_header(h, true, 2, 125, NULL), 2);
  assert_int_equal(yz__ws_write_header(h, true, 2, 126, NULL), 4);
  assert_int_equal(yz__ws_write_header(h, true, 2, 65535, MASK), 8);
  assert_int_equal(yz__ws_write_header(h, true, 2, 65536, MASK), 14);
  assert_int_equal(yz__ws_header_len(65535, true), 8);
  assert_int_equal(yz__ws_header_len(65536, false), 10);
  yz__ws_hdr hd;
  const char *why;
  uint16_t st;
  yz__ws_write_header(h, true, 2, 65535, NULL);
  assert_int_equal(yz__ws_parse_header(&hd, h, 4, false, 65535, &why, &st),
                   1);
  assert_int_equal(hd.plen, 65535);
  assert_int_equal(hd.hlen, 4);
  assert_int_equal(yz__ws_parse_header(&hd, h, 3, false, 65535, &why, &st),
                   0);
}

static void test_utf8(void **state) {
  (void)state;
  assert_true(yz__utf8_valid((const uint8_t *)"h\xc3\xa9llo", 6));
  assert_true(yz__utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));
  assert_false(yz__utf8_valid((const uint8_t *)"\xc0\xaf", 2)); /* overlong */
  assert_false(yz__utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* D800 */
  assert_false(yz__utf8_valid((const uint8_t *)"\xe2\x82", 2));
  assert_false(yz__utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_rfc_example),
      cmocka_unit_test(test_request_ok),
      cmocka_unit_test(test_request_subprotocol),
      cmocka_unit_test(test_request_kinds),
      cmocka_unit_test(test_request_refused),
      cmocka_unit_test(test_request_caps),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_frame_rfc_example),
      cmocka_unit_test(test_mask_words),
      cmocka_unit_test(test_maskgen),
      cmocka_unit_test(test_rx_fragments),
      cmocka_unit_test(test_rx_refused),
      cmocka_unit_test(test_rx_fragment_refusals),
      cmocka_unit_test(test_rx_close),
      cmocka_unit_test(test_header_lengths),
      cmocka_unit_test(test_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
