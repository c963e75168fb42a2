/*
 * harness.c: see harness.h.
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

uv_loop_t *t_loop;
void (*t_before_drain)(void);
static uv_loop_t loop_storage;
static uv_timer_t guard;
static bool guard_fired;

static void guard_cb(uv_timer_t *t) {
  (void)t;
  guard_fired = true;
}

void t_loop_init(void) {
  t_loop = &loop_storage;
  assert_int_equal(uv_loop_init(t_loop), 0);
  guard_fired = false;
  uv_timer_init(t_loop, &guard);
  uv_timer_start(&guard, guard_cb, 20000, 0);
  uv_unref((uv_handle_t *)&guard);
}

void t_run_until(bool (*cond)(void *ud), void *ud) {
  while (!cond(ud)) {
    if (guard_fired)
      fail_msg("hang guard: condition not reached in 20 s");
    uv_run(t_loop, UV_RUN_ONCE);
  }
}

bool t_int_ge(void *ud) {
  t_ge *g = ud;
  return *g->p >= g->v;
}

void t_wait_ge(const int *p, int v) {
  while (*p < v) {
    if (guard_fired)
      fail_msg("hang guard: a counter stayed at %d, waiting for %d", *p, v);
    uv_run(t_loop, UV_RUN_ONCE);
  }
}

uint64_t t_clock_now, t_clock_step;

uint64_t t_clock(void *ud) {
  (void)ud;
  uint64_t t = t_clock_now;
  t_clock_now += t_clock_step;
  return t;
}

bool t_have_ipv6_loopback(void) {
  uv_tcp_t probe;
  struct sockaddr_in6 a6;
  uv_ip6_addr("::1", 0, &a6);
  uv_tcp_init(t_loop, &probe);
  int rc = uv_tcp_bind(&probe, (const struct sockaddr *)&a6, 0);
  uv_close((uv_handle_t *)&probe, NULL);
  uv_run(t_loop, UV_RUN_NOWAIT);
  return rc == 0;
}

static void on_closed(void *ud) { ((tnode *)ud)->closed++; }

void *yz__link_ws_context(void); /* src/link/internal.h */

void t_loop_finish(tnode **nodes) {
  int want = 0;
  static int closed_total;
  for (tnode **n = nodes; *n != NULL; n++) {
    if ((*n)->m != NULL) {
      yz_link_manager_close((*n)->m, on_closed, *n);
      want++;
    }
  }
  for (tnode **n = nodes; *n != NULL; n++) {
    if ((*n)->m != NULL) {
      t_wait_ge(&(*n)->closed, 1);
      (*n)->m = NULL;
    }
  }
  (void)closed_total;
  (void)want;
  if (t_before_drain != NULL) {
    t_before_drain();
    t_before_drain = NULL;
  }
  uv_timer_stop(&guard);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(t_loop, UV_RUN_DEFAULT);
  /* the two-phase destroy freed the lws context (TOOLCHAIN.md 2) */
  assert_null(yz__link_ws_context());
  assert_int_equal(uv_loop_close(t_loop), 0);
}

static void rec_up(yz_link_manager *m, yz_link *l, const yz_link_peer *p,
                   void *ud) {
  (void)m;
  tnode *n = ud;
  n->ups++;
  n->last_up = l;
  n->last_peer = p->id;
  n->last_dir = p->direction;
  n->last_tls = p->tls;
  n->last_had_proof = p->proof != NULL;
  n->cb_len = p->channel_binding_len;
  if (n->on_up_hook != NULL)
    n->on_up_hook(n, l);
}

static void rec_msg(yz_link_manager *m, yz_link *l, const uint8_t *msg,
                    size_t len, void *ud) {
  (void)m;
  tnode *n = ud;
  n->msgs++;
  n->msg_bytes += len;
  n->last_msg_len = len < sizeof n->last_msg ? len : sizeof n->last_msg;
  memcpy(n->last_msg, msg, n->last_msg_len);
  if (n->on_msg_hook != NULL)
    n->on_msg_hook(n, l, msg, len);
}

static void rec_writable(yz_link_manager *m, yz_link *l, void *ud) {
  (void)m;
  tnode *n = ud;
  n->writables++;
  if (n->on_writable_hook != NULL)
    n->on_writable_hook(n, l);
}

static void rec_down(yz_link_manager *m, yz_link *l, int err,
                     const char *reason, void *ud) {
  (void)m;
  tnode *n = ud;
  if (n->downs < 8)
    n->down_errs[n->downs] = err;
  n->downs++;
  n->last_err = err;
  snprintf(n->last_reason, sizeof n->last_reason, "%s", reason);
  if (n->last_up == l)
    n->last_up = NULL;
  if (n->on_down_hook != NULL)
    n->on_down_hook(n, l, err);
}

void t_node_config(tnode *n, yz_link_config *cfg, uint8_t seed_byte) {
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, seed_byte, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&n->id, seed), 0);
  yz_link_config_default(cfg);
  cfg->identity = &n->id;
  cfg->cb.on_up = rec_up;
  cfg->cb.on_message = rec_msg;
  cfg->cb.on_writable = rec_writable;
  cfg->cb.on_down = rec_down;
  cfg->user_data = n;
  cfg->tls_ca_file = t_cert_path();
  /* every test peer dials from 127.0.0.1: the tests of the per-source
   * limits lower these again */
  cfg->max_handshakes_per_source = 100000;
  cfg->max_links_per_source = 100000;
}

void t_node_start(tnode *n, const yz_link_config *cfg) {
  assert_int_equal(yz_link_manager_new(&n->m, t_loop, cfg), 0);
}

void t_node_listen_ws(tnode *n) {
  yz_link_listen_config lc = {"ws://127.0.0.1:0", NULL, NULL};
  assert_int_equal(yz_link_listen(n->m, &lc, &n->port), 0);
  assert_true(n->port > 0);
}

static char cert_path[1024], key_path[1024];

const char *t_cert_path(void) {
  if (cert_path[0] == '\0') {
    const char *src = getenv("YZ_SOURCE_DIR");
    snprintf(cert_path, sizeof cert_path, "%s/tests/link/cert.pem",
             src != NULL ? src : ".");
  }
  return cert_path;
}

const char *t_key_path(void) {
  if (key_path[0] == '\0') {
    const char *src = getenv("YZ_SOURCE_DIR");
    snprintf(key_path, sizeof key_path, "%s/tests/link/key.pem",
             src != NULL ? src : ".");
  }
  return key_path;
}

void t_node_listen_wss(tnode *n) {
  yz_link_listen_config lc = {"wss://127.0.0.1:0", t_cert_path(),
                              t_key_path()};
  assert_int_equal(yz_link_listen(n->m, &lc, &n->tls_port), 0);
  assert_true(n->tls_port > 0);
}

/* ------------------------------------------------------------------------ */
/* Raw client                                                               */

static void alloc_cb(uv_handle_t *h, size_t sug, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(sug);
  buf->len = buf->base != NULL ? sug : 0;
}

typedef struct wreq {
  uv_write_t req;
  uint8_t *data;
} wreq;

static void write_done(uv_write_t *req, int status) {
  (void)status;
  wreq *w = (wreq *)req;
  free(w->data);
  free(w);
}

static void tcp_write(uv_stream_t *s, const void *data, size_t len) {
  wreq *w = malloc(sizeof *w);
  assert_non_null(w);
  w->data = malloc(len > 0 ? len : 1);
  assert_non_null(w->data);
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
  if (uv_write(&w->req, s, &b, 1, write_done) != 0) {
    free(w->data);
    free(w);
  }
}

static void raw_closed(uv_handle_t *h) {
  raw_client *c = h->data;
  c->closed = true;
  c->close_count++;
}

/* Server frames after the upgrade: find a Close frame and its status
 * code. Server frames are unmasked; only short frames matter here (a
 * yz node sends binary messages of its own only after a handshake the
 * raw client never makes), so longer ones are skipped unparsed. */
static void raw_frames(raw_client *c, const uint8_t *p, size_t n) {
  if (n > sizeof c->fbuf - c->flen)
    n = sizeof c->fbuf - c->flen;
  memcpy(c->fbuf + c->flen, p, n);
  c->flen += n;
  while (c->flen >= 2) {
    size_t len = c->fbuf[1] & 0x7f, h = 2;
    if (len >= 126)
      return;
    if (c->flen < h + len)
      return;
    if ((c->fbuf[0] & 0x0f) == 0x8)
      c->ws_close_code = len >= 2 ? (c->fbuf[h] << 8) | c->fbuf[h + 1] : 0;
    memmove(c->fbuf, c->fbuf + h + len, c->flen - h - len);
    c->flen -= h + len;
  }
}

static void raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  raw_client *c = s->data;
  if (nread < 0) {
    free(buf->base);
    if (!uv_is_closing((uv_handle_t *)s))
      uv_close((uv_handle_t *)s, raw_closed);
    return;
  }
  /* keep what fits of everything the server sends */
  size_t n = (size_t)nread;
  if (n > sizeof c->rbuf - 1 - c->rlen)
    n = sizeof c->rbuf - 1 - c->rlen;
  memcpy(c->rbuf + c->rlen, buf->base, n);
  c->rlen += n;
  c->rbuf[c->rlen] = '\0';
  if (c->upgraded) {
    raw_frames(c, (const uint8_t *)buf->base, (size_t)nread);
    size_t w = (size_t)nread;
    if (w > sizeof c->ws_in - c->ws_in_len)
      w = sizeof c->ws_in - c->ws_in_len;
    memcpy(c->ws_in + c->ws_in_len, buf->base, w);
    c->ws_in_len += w;
  } else if (!c->refused) {
    char *end = strstr(c->rbuf, "\r\n\r\n");
    if (end != NULL) {
      if (strncmp(c->rbuf, "HTTP/1.1 101", 12) == 0) {
        c->upgraded = true;
        /* frames that came in the same read as the response */
        size_t off = (size_t)(end + 4 - c->rbuf);
        size_t more = c->rlen - off;
        if (more > sizeof c->ws_in)
          more = sizeof c->ws_in;
        memcpy(c->ws_in, c->rbuf + off, more);
        c->ws_in_len = more;
        if (c->send_after != NULL) {
          /* one masked binary frame (mask 0: payload unchanged) */
          size_t len = c->send_after_len, h = 0;
          uint8_t *f = malloc(14 + len);
          assert_non_null(f);
          f[h++] = (uint8_t)(0x80 | (c->send_opcode ? c->send_opcode : 2));
          if (len < 126) {
            f[h++] = (uint8_t)(0x80 | len);
          } else if (len < 65536) {
            f[h++] = 0x80 | 126;
            f[h++] = (uint8_t)(len >> 8);
            f[h++] = (uint8_t)len;
          } else {
            f[h++] = 0x80 | 127;
            for (int i = 7; i >= 0; i--)
              f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
          }
          memset(f + h, 0, 4);
          h += 4;
          memcpy(f + h, c->send_after, len);
          tcp_write(s, f, h + len);
          free(f);
        }
        /* what followed the response in the same read */
        if (off < c->rlen)
          raw_frames(c, (const uint8_t *)c->rbuf + off, c->rlen - off);
      } else {
        c->refused = true;
      }
    }
  }
  free(buf->base);
}

typedef struct raw_hello {
  size_t len;
  char data[];
} raw_hello;

static void raw_connected(uv_connect_t *req, int status) {
  raw_client *c = req->handle->data;
  raw_hello *hello = req->data;
  if (status != 0) {
    free(hello);
    uv_close((uv_handle_t *)&c->tcp, raw_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, raw_read);
  if (hello->len > 0)
    tcp_write((uv_stream_t *)&c->tcp, hello->data, hello->len);
  free(hello);
}

void raw_connect_bytes(raw_client *c, uint16_t port, const char *bind_ip,
                       const void *req, size_t len) {
  memset(c, 0, sizeof *c);
  c->ws_close_code = -1;
  uv_tcp_init(t_loop, &c->tcp);
  c->tcp.data = c;
  raw_hello *hello = malloc(sizeof *hello + len + 1);
  assert_non_null(hello);
  hello->len = len;
  if (len > 0)
    memcpy(hello->data, req, len);
  c->creq.data = hello;
  if (bind_ip != NULL) {
    struct sockaddr_in b;
    uv_ip4_addr(bind_ip, 0, &b);
    assert_int_equal(uv_tcp_bind(&c->tcp, (const struct sockaddr *)&b, 0),
                     0);
  }
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp,
                                  (const struct sockaddr *)&a,
                                  raw_connected),
                   0);
}

void raw_connect_from(raw_client *c, uint16_t port, const char *bind_ip,
                      const char *subprotocol, const uint8_t *frame_payload,
                      size_t frame_len) {
  char hello[512];
  if (subprotocol != NULL && strcmp(subprotocol, "-") == 0)
    hello[0] = '\0'; /* connect and send nothing at all */
  else
    snprintf(hello, sizeof hello,
             "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
             subprotocol != NULL ? "Sec-WebSocket-Protocol: " : "",
             subprotocol != NULL ? subprotocol : "",
             subprotocol != NULL ? "\r\n" : "");
  raw_connect_bytes(c, port, bind_ip, hello, strlen(hello));
  c->send_after = frame_payload;
  c->send_after_len = frame_len;
}

void raw_connect(raw_client *c, uint16_t port, const char *subprotocol,
                 const uint8_t *frame_payload, size_t frame_len) {
  raw_connect_from(c, port, NULL, subprotocol, frame_payload, frame_len);
}

void raw_send(raw_client *c, const void *data, size_t len) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    tcp_write((uv_stream_t *)&c->tcp, data, len);
}

void raw_close(raw_client *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, raw_closed);
}

/* ------------------------------------------------------------------------ */
/* Relay                                                                    */

typedef struct pair pair;

struct relay {
  uv_tcp_t server;
  uint16_t port;
  uint16_t target;
  int tamper_index;
  int text_index;
  int inflate_index;
  bool paused;
  bool freeing, server_closed;
  int frames_c2s;
  pair *pairs;
};

struct pair {
  relay *r;
  uv_tcp_t c, s; /* client side, server side */
  uv_connect_t creq;
  bool s_connected;
  int open;
  bool in_frames; /* past the HTTP upgrade request */
  uint8_t *acc;   /* client-to-server bytes not yet forwarded */
  size_t acc_len, acc_cap;
  pair *next;
};

static void pair_handle_closed(uv_handle_t *h) {
  pair *p = h->data;
  if (--p->open == 0) {
    relay *r = p->r;
    pair **pp = &r->pairs;
    while (*pp != p)
      pp = &(*pp)->next;
    *pp = p->next;
    free(p->acc);
    free(p);
    if (r->freeing && r->server_closed && r->pairs == NULL)
      free(r);
  }
}

static void pair_close(pair *p) {
  if (!uv_is_closing((uv_handle_t *)&p->c))
    uv_close((uv_handle_t *)&p->c, pair_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&p->s))
    uv_close((uv_handle_t *)&p->s, pair_handle_closed);
}

/* Forward complete pieces of the client-to-server stream, tampering with
 * the chosen frame. */
static void c2s_flush(pair *p) {
  relay *r = p->r;
  for (;;) {
    if (!p->in_frames) {
      uint8_t *e = NULL;
      for (size_t i = 0; i + 4 <= p->acc_len; i++)
        if (memcmp(p->acc + i, "\r\n\r\n", 4) == 0) {
          e = p->acc + i + 4;
          break;
        }
      if (e == NULL)
        return;
      size_t n = (size_t)(e - p->acc);
      tcp_write((uv_stream_t *)&p->s, p->acc, n);
      memmove(p->acc, e, p->acc_len - n);
      p->acc_len -= n;
      p->in_frames = true;
      continue;
    }
    if (p->acc_len < 2)
      return;
    size_t h = 2;
    uint64_t plen = p->acc[1] & 0x7f;
    bool masked = (p->acc[1] & 0x80) != 0;
    if (plen == 126) {
      if (p->acc_len < 4)
        return;
      plen = ((uint64_t)p->acc[2] << 8) | p->acc[3];
      h = 4;
    } else if (plen == 127) {
      if (p->acc_len < 10)
        return;
      plen = 0;
      for (int i = 0; i < 8; i++)
        plen = (plen << 8) | p->acc[2 + i];
      h = 10;
    }
    if (masked)
      h += 4;
    if (p->acc_len < h + plen)
      return;
    size_t flen = h + (size_t)plen;
    if (r->frames_c2s == r->tamper_index && plen > 0)
      p->acc[h + plen / 2] ^= 0x01; /* the same bit of the plaintext frame */
    if (r->frames_c2s == r->text_index)
      p->acc[0] = (uint8_t)((p->acc[0] & 0xf0) | 0x1);
    if (r->frames_c2s == r->inflate_index) {
      enum { BIG = 70000 };
      uint8_t *f = calloc(1, 14 + BIG); /* masked with key 0 */
      assert_non_null(f);
      f[0] = 0x82;
      f[1] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        f[2 + i] = (uint8_t)((uint64_t)BIG >> (8 * (7 - i)));
      tcp_write((uv_stream_t *)&p->s, f, 14 + BIG);
      free(f);
    } else {
      tcp_write((uv_stream_t *)&p->s, p->acc, flen);
    }
    r->frames_c2s++;
    memmove(p->acc, p->acc + flen, p->acc_len - flen);
    p->acc_len -= flen;
  }
}

static void c_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  pair *p = st->data;
  if (nread < 0) {
    free(buf->base);
    pair_close(p);
    return;
  }
  size_t n = (size_t)nread;
  if (p->acc_len + n > p->acc_cap) {
    size_t cap = p->acc_cap ? p->acc_cap : 65536;
    while (cap < p->acc_len + n)
      cap *= 2;
    p->acc = realloc(p->acc, cap);
    assert_non_null(p->acc);
    p->acc_cap = cap;
  }
  memcpy(p->acc + p->acc_len, buf->base, n);
  p->acc_len += n;
  free(buf->base);
  c2s_flush(p);
}

static void s_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  pair *p = st->data;
  if (nread < 0) {
    free(buf->base);
    pair_close(p);
    return;
  }
  if (nread > 0)
    tcp_write((uv_stream_t *)&p->c, buf->base, (size_t)nread);
  free(buf->base);
}

static void s_connected(uv_connect_t *req, int status) {
  pair *p = req->data;
  if (status != 0) {
    pair_close(p);
    return;
  }
  p->s_connected = true;
  uv_read_start((uv_stream_t *)&p->c, alloc_cb, c_read);
  if (!p->r->paused)
    uv_read_start((uv_stream_t *)&p->s, alloc_cb, s_read);
}

static void on_conn(uv_stream_t *server, int status) {
  relay *r = server->data;
  if (status != 0)
    return;
  pair *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->r = r;
  uv_tcp_init(t_loop, &p->c);
  uv_tcp_init(t_loop, &p->s);
  p->c.data = p->s.data = p;
  p->open = 2;
  p->next = r->pairs;
  r->pairs = p;
  if (uv_accept(server, (uv_stream_t *)&p->c) != 0) {
    pair_close(p);
    return;
  }
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", r->target, &a);
  p->creq.data = p;
  if (uv_tcp_connect(&p->creq, &p->s, (const struct sockaddr *)&a,
                     s_connected) != 0)
    pair_close(p);
}

relay *relay_new(uint16_t target_port) {
  relay *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->target = target_port;
  r->tamper_index = -1;
  r->text_index = -1;
  r->inflate_index = -1;
  uv_tcp_init(t_loop, &r->server);
  r->server.data = r;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&r->server, (const struct sockaddr *)&a, 0),
                   0);
  assert_int_equal(uv_listen((uv_stream_t *)&r->server, 128, on_conn), 0);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  uv_tcp_getsockname(&r->server, (struct sockaddr *)&ss, &sl);
  r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return r;
}

uint16_t relay_port(const relay *r) { return r->port; }

void relay_tamper_c2s_frame(relay *r, int frame_index) {
  r->tamper_index = frame_index;
}

void relay_text_c2s_frame(relay *r, int frame_index) {
  r->text_index = frame_index;
}

void relay_inflate_c2s_frame(relay *r, int frame_index) {
  r->inflate_index = frame_index;
}

void relay_pause_s2c(relay *r, bool paused) {
  r->paused = paused;
  for (pair *p = r->pairs; p != NULL; p = p->next) {
    if (!p->s_connected || uv_is_closing((uv_handle_t *)&p->s))
      continue;
    if (paused)
      uv_read_stop((uv_stream_t *)&p->s);
    else
      uv_read_start((uv_stream_t *)&p->s, alloc_cb, s_read);
  }
}

static void reset_closed(uv_handle_t *h) { pair_handle_closed(h); }

void relay_reset_all(relay *r) {
  for (pair *p = r->pairs; p != NULL; p = p->next) {
    if (!uv_is_closing((uv_handle_t *)&p->c))
      uv_tcp_close_reset(&p->c, reset_closed);
    if (!uv_is_closing((uv_handle_t *)&p->s))
      uv_tcp_close_reset(&p->s, reset_closed);
  }
}

int relay_frames_c2s(const relay *r) { return r->frames_c2s; }

static void relay_server_closed(uv_handle_t *h) {
  relay *r = h->data;
  r->server_closed = true;
  if (r->pairs == NULL)
    free(r);
}

void relay_free(relay *r) {
  r->freeing = true;
  for (pair *p = r->pairs; p != NULL; p = p->next)
    pair_close(p);
  uv_close((uv_handle_t *)&r->server, relay_server_closed);
}
