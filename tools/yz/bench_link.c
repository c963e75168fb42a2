/*
 * yz bench link: the link layer over loopback against plain WebSocket on
 * the same libwebsockets build (docs/benchmarks.md, "Area link").
 *
 * Throughput and new links per second run between two processes, as real
 * links do: a peer process, forked before any lws context exists here,
 * runs its own libuv loop and lws context with a yz link manager that
 * accepts and echoes, and a plain WebSocket echo vhost. This process dials
 * both. Rounds alternate plain and yz and each keeps its best round; a
 * round is timed on the monotonic clock on this (the client) side, since
 * the loop here waits for the peer's work.
 *
 * Throughput (echo): wall time for N echoes of S-byte messages (S = 1 KiB
 * or 64 KiB) with W messages in flight: send, echo by the peer, receive.
 * Stream: wall time for N S-byte messages one way, the peer acking every
 * W/4-th with a one-byte message, at most W not acknowledged.
 *
 * New links per second: batches of 250 dials (TCP, WebSocket upgrade,
 * for yz the handshake with identity proofs) until this side reports every
 * link up, then closed; against plain WebSocket connections.
 *
 * Holding: a forked process (its own loop and lws context, created after
 * the fork) dials 10,000 links to a node in this process, which reports
 * how many it holds up at once (one end per process: 10,000 descriptors
 * each, within a hard file limit of 20,000).
 *
 * Memory: resident set growth per idle link end (both ends live in this
 * process, so the delta is divided by 2N) at 1,000 and 5,000 links, against
 * plain idle WebSocket connections. Needs a file limit above 2N + slack:
 * the soft limit is raised to the hard one.
 *
 * --quick skips memory and holding (the 1,000/5,000/10,000-link runs): a
 * check of the output form in a few seconds.
 *
 * Children: each one asks for SIGKILL when this process dies
 * (PR_SET_PDEATHSIG) and leaves when its control pipe closes; this process
 * reaps them with a deadline (then SIGKILL), also on errors, and kills
 * them on SIGINT or SIGTERM before dying of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/resource.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <netinet/in.h>
#include <sodium.h>
#include <uv.h>

#include "bench.h"
#include "cli.h"
#include "link/http1.h"
#include "link/internal.h"
#include "link/wsframe.h"
#include "yz/link.h"
#include "yz/log.h"
#include "yz/noise.h"
#include "yz/session.h"

static uv_loop_t loop;

/* The backend of the yz links of this run (yz_bench_link runs each), and
 * an lws manager that keeps the process's libwebsockets context alive
 * for the plain WebSocket baseline when the links run on the native
 * backend (no context of their own). */
static yz_link_backend bench_backend = YZ_LINK_BACKEND_LWS;
static yz_link_manager *lws_keep;
static int lws_keep_start(uv_loop_t *l);

static long rss_kib(void);

/* ---- the yz side ---------------------------------------------------------- */

typedef struct yz_side {
  yz_link_manager *a, *b; /* a listens, b dials */
  yz_identity ida, idb;
  uint16_t port;
  int a_ups, b_ups, a_downs, b_downs, closed;
  yz_link *echo_link; /* b's link used for the echo */
  int errors;
} yz_side;

static yz_side Y;

/*
 * The transfer state, shared by both sides of the comparison. The first
 * byte of a message says what the peer does with it: MSG_ECHO, send it
 * back; MSG_STREAM, count it, and if its second byte is 1 answer with a
 * one-byte ack (MSG_ACK) for it and the ones before it. In a stream every
 * k-th message asks for an ack, and at most `window` messages are not
 * acknowledged yet.
 */
enum { MSG_ECHO = 'E', MSG_STREAM = 'S', MSG_ACK = 'A' };

typedef struct echo {
  size_t len;
  bool stream;
  unsigned window, inflight, k;
  uint64_t total, sent, got;
  uint8_t *msg;
} echo;

static echo E;

static void y_up(yz_link_manager *m, yz_link *l, const yz_link_peer *p,
                 void *ud) {
  (void)p;
  (void)ud;
  (void)l;
  if (m == Y.a)
    Y.a_ups++;
  else
    Y.b_ups++;
}

/* Mark the next message to send (its kind, and whether to ack it). */
static void e_mark(void) {
  E.msg[0] = E.stream ? MSG_STREAM : MSG_ECHO;
  E.msg[1] = E.stream && (E.sent + 1) % E.k == 0;
}

/* An answer from the peer: an echo, or an ack of the last k messages. */
static void e_answer(const uint8_t *msg, size_t len) {
  unsigned n = len == 1 && msg[0] == MSG_ACK ? E.k : 1;
  E.got += n;
  E.inflight -= n;
}

/* What the peer answers to msg: *ack (a one-byte ack), msg itself (an
 * echo), or nothing (false). */
static bool e_reply(const uint8_t *msg, size_t len, bool *ack) {
  *ack = len >= 2 && msg[0] == MSG_STREAM;
  return !*ack || msg[1] == 1;
}

static const uint8_t ack_msg[1] = {MSG_ACK};

static void y_pump(void) {
  /* A round's buffer exists only while the round runs: a link event on a
   * failure path (after it was freed, or before it was made) sends nothing. */
  if (E.msg == NULL)
    return;
  while (E.inflight < E.window && E.sent < E.total) {
    e_mark();
    int rc = yz_link_send(Y.echo_link, E.msg, E.len);
    if (rc != 0) {
      Y.errors++;
      return;
    }
    E.inflight++;
    E.sent++;
  }
}

static void y_msg(yz_link_manager *m, yz_link *l, const uint8_t *msg,
                  size_t len, void *ud) {
  (void)ud;
  if (m == Y.a) { /* the peer: echo or ack */
    bool ack;
    if (e_reply(msg, len, &ack) &&
        yz_link_send(l, ack ? ack_msg : msg, ack ? 1 : len) != 0)
      Y.errors++;
    return;
  }
  e_answer(msg, len);
  y_pump();
}

static void y_down(yz_link_manager *m, yz_link *l, int err,
                   const char *reason, void *ud) {
  (void)l;
  (void)err;
  (void)reason;
  (void)ud;
  if (m == Y.a)
    Y.a_downs++;
  else
    Y.b_downs++;
}

static void y_closed(void *ud) {
  (void)ud;
  Y.closed++;
}

/* ---- the plain WebSocket baseline ---------------------------------------- */

typedef struct pmsg {
  struct pmsg *next;
  size_t len;
  uint8_t buf[];
} pmsg;

typedef struct pss {
  uint8_t *rx;
  size_t rxlen, rxcap;
  pmsg *qh, *qt; /* server: echoes to write */
  bool close_me;
  bool client;
} pss;

static struct {
  struct lws_vhost *vh;
  uint16_t port;
  int srv_est, cli_est, closed;
  struct lws **clients;
  unsigned n_clients, cap_clients;
  struct lws *echo_wsi;
} P;

static void p_reassemble(struct lws *wsi, pss *s, const void *in, size_t len,
                         bool *done) {
  *done = false;
  if (lws_is_first_fragment(wsi))
    s->rxlen = 0;
  if (s->rxlen + len > s->rxcap) {
    size_t cap = s->rxcap ? s->rxcap : 4096;
    while (cap < s->rxlen + len)
      cap *= 2;
    s->rx = realloc(s->rx, cap);
    if (s->rx == NULL)
      abort();
    s->rxcap = cap;
  }
  memcpy(s->rx + s->rxlen, in, len);
  s->rxlen += len;
  *done = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
}

static int p_write_msg(struct lws *wsi) {
  if (E.msg == NULL)
    return -1;
  uint8_t *b = malloc(LWS_PRE + E.len);
  if (b == NULL)
    abort();
  e_mark();
  memcpy(b + LWS_PRE, E.msg, E.len);
  int n = lws_write(wsi, b + LWS_PRE, E.len, LWS_WRITE_BINARY);
  free(b);
  return n < (int)E.len ? -1 : 0;
}

static int p_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len) {
  pss *s = user;
  bool done;
  switch (reason) {
  case LWS_CALLBACK_ESTABLISHED:
    P.srv_est++;
    return 0;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    s->client = true;
    P.cli_est++;
    return 0;
  case LWS_CALLBACK_RECEIVE:
    p_reassemble(wsi, s, in, len, &done);
    bool ack;
    if (done && e_reply(s->rx, s->rxlen, &ack)) {
      size_t n = ack ? 1 : s->rxlen;
      pmsg *q = malloc(sizeof *q + LWS_PRE + n);
      if (q == NULL)
        abort();
      q->next = NULL;
      q->len = n;
      memcpy(q->buf + LWS_PRE, ack ? ack_msg : s->rx, n);
      if (s->qt != NULL)
        s->qt->next = q;
      else
        s->qh = q;
      s->qt = q;
      lws_callback_on_writable(wsi);
    }
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE: {
    if (s->close_me)
      return -1;
    pmsg *q = s->qh;
    if (q == NULL)
      return 0;
    s->qh = q->next;
    if (s->qh == NULL)
      s->qt = NULL;
    int n = lws_write(wsi, q->buf + LWS_PRE, q->len, LWS_WRITE_BINARY);
    bool ok = n >= (int)q->len;
    free(q);
    if (!ok)
      return -1;
    if (s->qh != NULL)
      lws_callback_on_writable(wsi);
    return 0;
  }
  case LWS_CALLBACK_CLIENT_RECEIVE:
    p_reassemble(wsi, s, in, len, &done);
    if (done) {
      e_answer(s->rx, s->rxlen);
      lws_callback_on_writable(wsi);
    }
    return 0;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (s->close_me)
      return -1;
    if (wsi == P.echo_wsi && E.inflight < E.window && E.sent < E.total) {
      if (p_write_msg(wsi) != 0)
        return -1;
      E.inflight++;
      E.sent++;
      if (E.inflight < E.window && E.sent < E.total)
        lws_callback_on_writable(wsi);
    }
    return 0;
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLIENT_CLOSED:
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    P.closed++;
    if (s != NULL) {
      free(s->rx);
      s->rx = NULL;
      s->rxcap = 0;
      while (s->qh != NULL) {
        pmsg *q = s->qh;
        s->qh = q->next;
        free(q);
      }
      s->qt = NULL;
    }
    return 0;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols p_protocols[] = {
    {"bench-echo", p_cb, sizeof(pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static int p_start(void) {
  struct lws_context *ctx = yz__link_ws_context();
  if (ctx == NULL)
    return -1;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = p_protocols;
  info.vhost_name = "bench-echo";
  P.vh = lws_create_vhost(ctx, &info);
  if (P.vh == NULL)
    return -1;
  P.port = (uint16_t)lws_get_vhost_listen_port(P.vh);
  return 0;
}

static struct lws *p_connect(uint16_t port) {
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = yz__link_ws_context();
  ci.vhost = P.vh;
  ci.address = "127.0.0.1";
  ci.port = port;
  ci.path = "/";
  ci.host = ci.origin = "127.0.0.1";
  ci.protocol = "bench-echo";
  struct lws *w = lws_client_connect_via_info(&ci);
  if (w != NULL) {
    if (P.n_clients == P.cap_clients) {
      P.cap_clients = P.cap_clients ? P.cap_clients * 2 : 1024;
      P.clients = realloc(P.clients, P.cap_clients * sizeof *P.clients);
      if (P.clients == NULL)
        abort();
    }
    P.clients[P.n_clients++] = w;
  }
  return w;
}

/* Close every plain client (each closes from its writable callback). */
static void p_close_all(void) {
  for (unsigned i = 0; i < P.n_clients; i++) {
    pss *s = lws_wsi_user(P.clients[i]);
    if (s != NULL)
      s->close_me = true;
    lws_callback_on_writable(P.clients[i]);
  }
  P.n_clients = 0;
}



/* ---- the plain WebSocket baseline on the native backend ------------------
 *
 * Plain WebSocket (no Noise) on what the native backend is made of: libuv
 * TCP, the upgrade through http1.c, RFC 6455 framing through wsframe.c
 * (word-at-a-time masking, mask keys from a seeded stream), one large
 * receive buffer per connection, the frames of one pump in one write. The
 * peer process echoes on it; this process dials it. It is the baseline of
 * the link.native_vs_plain_* figures ("encrypted link against plain
 * WebSocket on the same backend", docs/benchmarks.md). */

enum { NWS_MAX_MSG = 65536, NWS_RBUF = 256 * 1024 + YZ__WS_MAX_HEADER + NWS_MAX_MSG };

typedef struct nws {
  uv_tcp_t tcp;
  bool server, open, closing;
  uint8_t *rb; /* NWS_RBUF bytes */
  size_t rlen;
  yz__ws_maskgen mg;
  char accept[YZ__HTTP1_ACCEPT_LEN + 1];
  struct nws *next;
} nws;

static struct {
  uv_tcp_t lst;
  bool listening;
  uint16_t port;
  nws *conns;
  nws *echo; /* the client connection */
  int est;
} NW;

typedef struct nws_wr {
  uv_write_t req;
  uint8_t buf[];
} nws_wr;

static void nws_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

/* One write of n bytes that fill() builds in place. */
static int nws_write(nws *c, const uint8_t *p, size_t n) {
  nws_wr *w = malloc(sizeof *w + n);
  if (w == NULL)
    abort();
  memcpy(w->buf, p, n);
  uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, nws_written) != 0) {
    free(w);
    return -1;
  }
  return 0;
}

static void nws_closed(uv_handle_t *h) {
  nws *c = h->data;
  for (nws **pp = &NW.conns; *pp != NULL; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  if (NW.echo == c)
    NW.echo = NULL;
  free(c->rb);
  free(c);
}

static void nws_close(nws *c) {
  if (c->closing)
    return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, nws_closed);
}

static void nws_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
  (void)sug;
  nws *c = h->data;
  *b = uv_buf_init((char *)c->rb + c->rlen, (unsigned)(NWS_RBUF - c->rlen));
}

/* Frame and write the messages the client may send now (one write). */
static void nws_pump(void) {
  nws *c = NW.echo;
  if (c == NULL || E.msg == NULL || !c->open)
    return;
  unsigned k = 0;
  while (E.inflight + k < E.window && E.sent + k < E.total)
    k++;
  if (k == 0)
    return;
  size_t fl = YZ__WS_MAX_HEADER + E.len;
  nws_wr *w = malloc(sizeof *w + k * fl);
  if (w == NULL)
    abort();
  size_t off = 0;
  for (unsigned i = 0; i < k; i++) {
    e_mark();
    uint8_t mk[4];
    yz__ws_maskgen_next(&c->mg, mk);
    size_t h = yz__ws_write_header(w->buf + off, true, YZ__WS_OP_BINARY,
                                   E.len, mk);
    memcpy(w->buf + off + h, E.msg, E.len);
    yz__ws_mask(w->buf + off + h, E.len, mk, 0);
    off += h + E.len;
    E.sent++;
    E.inflight++;
  }
  uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)off);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, nws_written) != 0) {
    free(w);
    Y.errors++;
  }
}

/* A whole message: the peer echoes or acks, the client counts. */
static void nws_message(nws *c, const uint8_t *d, size_t n) {
  if (!c->server) {
    e_answer(d, n);
    nws_pump();
    return;
  }
  bool ack;
  if (!e_reply(d, n, &ack))
    return;
  if (ack) {
    d = ack_msg;
    n = 1;
  }
  nws_wr *w = malloc(sizeof *w + YZ__WS_MAX_HEADER + n);
  if (w == NULL)
    abort();
  size_t h = yz__ws_write_header(w->buf, true, YZ__WS_OP_BINARY, n, NULL);
  memcpy(w->buf + h, d, n);
  uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)(h + n));
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, nws_written) != 0) {
    free(w);
    nws_close(c);
  }
}

/* The upgrade: the server answers a WebSocket request with a 101, the
 * client checks the 101. Returns the head's length, 0 (incomplete), -1. */
static int nws_head(nws *c) {
  int hl = yz__http1_head_len(c->rb, c->rlen);
  if (hl <= 0)
    return hl == 0 ? 0 : -1;
  const char *why = NULL;
  if (c->server) {
    yz__http1_request rq;
    char acc[YZ__HTTP1_ACCEPT_LEN + 1];
    if (yz__http1_parse_request(&rq, c->rb, (size_t)hl, &why) != 0 ||
        rq.kind != YZ__HTTP1_WEBSOCKET || yz__http1_accept(rq.key, acc) != 0)
      return -1;
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    if (nws_write(c, (const uint8_t *)resp, (size_t)n) != 0)
      return -1;
    NW.est++;
  } else {
    unsigned st = 0;
    bool sub = false;
    if (yz__http1_parse_response(c->rb, (size_t)hl, c->accept, &st, &sub,
                                 &why) != 0)
      return -1;
    NW.est++;
  }
  c->open = true;
  return hl;
}

static void nws_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  (void)b;
  nws *c = s->data;
  if (nread < 0) {
    nws_close(c);
    return;
  }
  c->rlen += (size_t)nread;
  size_t off = 0;
  if (!c->open) {
    int hl = nws_head(c);
    if (hl < 0) {
      nws_close(c);
      return;
    }
    off = (size_t)hl;
  }
  /* Whole unfragmented data frames (the bench sends nothing else); up to
   * 64 KiB + a header, which the buffer always holds. */
  while (c->open && off < c->rlen) {
    yz__ws_hdr h;
    const char *why = NULL;
    uint16_t st = 0;
    int k = yz__ws_parse_header(&h, c->rb + off, c->rlen - off, c->server,
                                NWS_MAX_MSG, &why, &st);
    if (k < 0 || (k > 0 && (!h.fin || h.opcode != YZ__WS_OP_BINARY))) {
      nws_close(c);
      return;
    }
    if (k == 0 || c->rlen - off < h.hlen + h.plen)
      break;
    uint8_t *d = c->rb + off + h.hlen;
    if (h.masked)
      yz__ws_mask(d, (size_t)h.plen, h.mask, 0);
    off += h.hlen + (size_t)h.plen;
    nws_message(c, d, (size_t)h.plen);
  }
  /* keep an incomplete frame at the front (the buffer holds a whole one) */
  memmove(c->rb, c->rb + off, c->rlen - off);
  c->rlen -= off;
}

static nws *nws_new(bool server) {
  nws *c = calloc(1, sizeof *c);
  if (c == NULL || (c->rb = malloc(NWS_RBUF)) == NULL)
    abort();
  c->server = server;
  if (!server)
    yz__ws_maskgen_init(&c->mg);
  c->next = NW.conns;
  NW.conns = c;
  uv_tcp_init(&loop, &c->tcp);
  c->tcp.data = c;
  return c;
}

static void nws_accept(uv_stream_t *l, int status) {
  if (status != 0)
    return;
  nws *c = nws_new(true);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, nws_alloc, nws_read) != 0)
    nws_close(c);
  else
    (void)uv_tcp_nodelay(&c->tcp, 1);
}

/* The peer's listener on 127.0.0.1 (an ephemeral port). 0 or -1. */
static int nws_listen(void) {
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  if (uv_tcp_init(&loop, &NW.lst) != 0)
    return -1;
  NW.listening = true;
  struct sockaddr_storage got;
  int len = sizeof got;
  if (uv_tcp_bind(&NW.lst, (const struct sockaddr *)&sa, 0) != 0 ||
      uv_listen((uv_stream_t *)&NW.lst, 128, nws_accept) != 0 ||
      uv_tcp_getsockname(&NW.lst, (struct sockaddr *)&got, &len) != 0)
    return -1;
  NW.port = ntohs(((struct sockaddr_in *)&got)->sin_port);
  return 0;
}

static void nws_connected(uv_connect_t *req, int status) {
  nws *c = req->data;
  free(req);
  if (status != 0) {
    nws_close(c);
    return;
  }
  uint8_t raw[16];
  randombytes_buf(raw, sizeof raw);
  char key[YZ__HTTP1_KEY_LEN + 1];
  sodium_bin2base64(key, sizeof key, raw, sizeof raw,
                    sodium_base64_VARIANT_ORIGINAL);
  if (yz__http1_accept(key, c->accept) != 0) {
    nws_close(c);
    return;
  }
  char rq[256];
  int n = snprintf(rq, sizeof rq,
                   "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   (unsigned)NW.port, key);
  (void)uv_tcp_nodelay(&c->tcp, 1);
  if (uv_read_start((uv_stream_t *)&c->tcp, nws_alloc, nws_read) != 0 ||
      nws_write(c, (const uint8_t *)rq, (size_t)n) != 0)
    nws_close(c);
}

/* Dial the peer's plain listener: the echo connection. */
static int nws_dial(uint16_t port) {
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", port, &sa);
  nws *c = nws_new(false);
  uv_connect_t *req = malloc(sizeof *req);
  if (req == NULL)
    abort();
  req->data = c;
  NW.port = port;
  if (uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&sa,
                     nws_connected) != 0) {
    free(req);
    nws_close(c);
    return -1;
  }
  NW.echo = c;
  return 0;
}

static bool nws_est(void) {
  return NW.est >= 1 || NW.echo == NULL || NW.echo->closing;
}

/* Close the listener and every connection (the loop then ends). */
static void nws_end(void) {
  while (NW.conns != NULL) {
    nws *c = NW.conns;
    NW.conns = c->next;
    c->next = NULL;
    if (!c->closing) {
      c->closing = true;
      uv_close((uv_handle_t *)&c->tcp, nws_closed);
    }
  }
  if (NW.listening) {
    NW.listening = false;
    uv_close((uv_handle_t *)&NW.lst, NULL);
  }
}

/* ---- child processes ------------------------------------------------------ */

static volatile pid_t hold_pid = -1, peer_pid = -1;
static clockid_t peer_cpu; /* the peer's CPU clock, if peer_cpu_ok */
static bool peer_cpu_ok;
static int hold_wfd = -1, peer_wfd = -1;
static struct sigaction old_int, old_term; /* before catch_fatal() */

/* In a child: die with the parent (also if it died before the prctl). */
static void child_guard(pid_t parent) {
  /* the actions from before on_fatal_signal */
  (void)sigaction(SIGINT, &old_int, NULL);
  (void)sigaction(SIGTERM, &old_term, NULL);
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1);
  /* another child's control pipe: its end must close with the parent */
  if (hold_wfd >= 0)
    close(hold_wfd);
  if (peer_wfd >= 0)
    close(peer_wfd);
  hold_wfd = peer_wfd = -1;
  hold_pid = peer_pid = -1;
}

/* Close a child's control pipe (it leaves when it sees the end), wait up to
 * `deadline_s` for it, then kill it; always reaped. */
static void reap(volatile pid_t *pid, int *wfd, double deadline_s,
                 const char *what) {
  if (*wfd >= 0)
    close(*wfd);
  *wfd = -1;
  pid_t p = *pid;
  if (p <= 0)
    return;
  double t0 = yz_bench_now();
  int status = 0;
  bool killed = false;
  for (;;) {
    pid_t r = waitpid(p, &status, WNOHANG);
    if (r == p || (r < 0 && errno != EINTR))
      break;
    if (yz_bench_now() - t0 > deadline_s) {
      (void)kill(p, SIGKILL);
      (void)waitpid(p, &status, 0);
      killed = true;
      break;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    (void)nanosleep(&ts, NULL);
  }
  *pid = -1;
  if (killed)
    fprintf(stderr, "yz bench link: the %s process had to be killed\n",
            what);
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "yz bench link: the %s process did not end cleanly "
                    "(status %d)\n", what, status);
}

/* SIGINT/SIGTERM in this process: kill and reap the children, then die of
 * it (kill, waitpid, sigaction and raise are async-signal-safe). */
static void on_fatal_signal(int sig) {
  pid_t kids[2] = {hold_pid, peer_pid};
  for (int i = 0; i < 2; i++)
    if (kids[i] > 0)
      (void)kill(kids[i], SIGKILL);
  for (int i = 0; i < 2; i++)
    if (kids[i] > 0)
      (void)waitpid(kids[i], NULL, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(sig, &sa, NULL);
  raise(sig);
}

/* Install on_fatal_signal for sig, unless sig was ignored (as in a
 * background job), keeping the old action in *old. */
static void catch_fatal(int sig, struct sigaction *old) {
  struct sigaction sa;
  memset(old, 0, sizeof *old);
  old->sa_handler = SIG_DFL;
  sigemptyset(&old->sa_mask);
  if (sigaction(sig, NULL, old) != 0 || old->sa_handler == SIG_IGN)
    return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  (void)sigaction(sig, &sa, NULL);
}

/* ---- holding many links: a dialer in a child process --------------------- */

static int hold_ups;
static void h_up(yz_link_manager *m, yz_link *l, const yz_link_peer *p,
                 void *ud) {
  (void)m;
  (void)l;
  (void)p;
  (void)ud;
  hold_ups++;
}
static void h_down(yz_link_manager *m, yz_link *l, int err,
                   const char *reason, void *ud) {
  (void)m;
  (void)l;
  (void)err;
  (void)reason;
  (void)ud;
}
static void h_tick(uv_timer_t *t) { (void)t; }

static int hold_target;
static bool hold_done(void) { return hold_ups >= hold_target; }

static void hold_config(yz_link_config *c, yz_identity *id) {
  yz_link_config_default(c);
  c->identity = id;
  c->cb.on_up = h_up;
  c->cb.on_down = h_down;
  c->max_links = 20000;
  c->max_handshakes = 20000;
  c->ip_rate_per_s = 1000000;
  c->ip_rate_burst = 1000000;
  /* every benchmark link comes from 127.0.0.1 */
  c->max_handshakes_per_source = 20000;
  c->max_links_per_source = 20000;
  c->backend = bench_backend;
}

static void lws_keep_closed(void *ud) { (void)ud; }

/* See lws_keep above. 0 or -1. */
static int lws_keep_start(uv_loop_t *l) {
  if (bench_backend != YZ_LINK_BACKEND_NATIVE || lws_keep != NULL)
    return 0;
  yz_identity id;
  yz_link_config c;
  if (yz_identity_generate(&id) != 0)
    return -1;
  yz_link_config_default(&c);
  c.identity = &id;
  c.backend = YZ_LINK_BACKEND_LWS;
  int rc = yz_link_manager_new(&lws_keep, l, &c);
  yz_identity_clear(&id);
  return rc == 0 ? 0 : -1;
}

static void lws_keep_end(void) {
  if (lws_keep != NULL)
    yz_link_manager_close(lws_keep, lws_keep_closed, NULL);
  lws_keep = NULL;
}

/* The child: wait for the port and ID, dial n links in batches, keep its
 * loop running (writes and pongs) until the parent closes the pipe. Never
 * returns. */
static void hold_child(int n, int rfd) {
  uint16_t port;
  yz_node_id id;
  if (read(rfd, &port, sizeof port) != (ssize_t)sizeof port ||
      read(rfd, &id, sizeof id) != (ssize_t)sizeof id)
    _exit(1); /* the parent gave up: nothing to do */
  uv_loop_t cl;
  yz_identity me;
  yz_link_manager *m;
  yz_link_config c;
  if (uv_loop_init(&cl) != 0 || yz_identity_generate(&me) != 0)
    _exit(1);
  hold_config(&c, &me);
  int rc = yz_link_manager_new(&m, &cl, &c);
  if (rc != 0) {
    fprintf(stderr, "yz bench link: dialer: %s\n", yz_strerror(rc));
    _exit(1);
  }
  uv_timer_t tick;
  uv_timer_init(&cl, &tick);
  uv_timer_start(&tick, h_tick, 100, 100);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)port);
  double t0 = yz_bench_now();
  for (int i = 0; i < n; i += 250) {
    int k = n - i < 250 ? n - i : 250;
    for (int j = 0; j < k; j++) {
      yz_link *l;
      if (yz_link_dial(m, url, &id, NULL, &l) != 0)
        _exit(1);
    }
    hold_target = i + k;
    while (!hold_done() && yz_bench_now() - t0 < 120)
      uv_run(&cl, UV_RUN_ONCE);
  }
  int fl = fcntl(rfd, F_GETFL);
  (void)fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
  for (;;) { /* serve the links until the parent closes the pipe */
    uv_run(&cl, UV_RUN_ONCE);
    char b;
    if (read(rfd, &b, 1) == 0)
      break;
  }
  _exit(0); /* the kernel closes the sockets; no teardown needed here */
}


/* Fork the dialer before any lws context exists in this process (it makes
 * its own after the fork); it waits until hold_links() names the port. */
static void hold_fork(int n) {
  pid_t parent = getpid();
  int p[2];
  if (pipe(p) != 0)
    return;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return;
  }
  if (pid == 0) {
    close(p[1]);
    child_guard(parent);
    hold_child(n, p[0]);
  }
  close(p[0]);
  hold_pid = pid;
  hold_wfd = p[1];
}

static void hold_end(void) { reap(&hold_pid, &hold_wfd, 5, "dialer"); }

/* Hold n links from the forked dialer on a node of this process (on the
 * main loop): *held links up at once and the resident growth per link. */
static int hold_links(int n, double *held, double *kib_per_link) {
  *held = 0;
  *kib_per_link = 0;
  if (hold_wfd < 0)
    return -1;
  yz_identity me;
  yz_link_manager *m = NULL;
  yz_link_config c;
  if (yz_identity_generate(&me) != 0)
    return -1;
  hold_config(&c, &me);
  int rc = -1;
  if (yz_link_manager_new(&m, &loop, &c) != 0)
    goto out;
  uint16_t port;
  yz_link_listen_config lc = {"ws://127.0.0.1:0", NULL, NULL};
  if (yz_link_listen(m, &lc, &port) != 0)
    goto out;
  uv_timer_t tick;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, h_tick, 100, 100);
  long r0 = rss_kib();
  hold_ups = 0;
  hold_target = n;
  if (write(hold_wfd, &port, sizeof port) == (ssize_t)sizeof port &&
      write(hold_wfd, yz_link_manager_node_id(m), sizeof(yz_node_id)) ==
          (ssize_t)sizeof(yz_node_id)) {
    double t0 = yz_bench_now();
    while (!hold_done() && yz_bench_now() - t0 < 120)
      uv_run(&loop, UV_RUN_ONCE);
  }
  yz_link_stats st;
  yz_link_manager_stats(m, &st);
  *held = st.links;
  if (st.links > 0)
    *kib_per_link = (double)(rss_kib() - r0) / st.links;
  rc = st.links >= (uint32_t)n ? 0 : -1;
  uv_close((uv_handle_t *)&tick, NULL);
out:
  hold_end();
  if (m != NULL)
    yz_link_manager_close(m, NULL, NULL);
  yz_identity_clear(&me);
  return rc;
}

/* ---- the peer: a forked echo server (yz and plain) ------------------------ */

/* What the peer tells its parent once it listens. */
typedef struct peer_info {
  uint16_t yz_port, plain_port;
  uint16_t nws_port; /* plain WebSocket on the native framing */
  yz_node_id id;
} peer_info;

static peer_info R; /* the peer, in this process */
static uv_poll_t peer_ctl;
static uv_timer_t peer_watchdog;
static bool peer_closing;

static void peer_watchdog_cb(uv_timer_t *t) {
  (void)t;
  _exit(3); /* the loop did not wind down in time */
}

static void peer_closed(void *ud) {
  (void)ud;
  uv_close((uv_handle_t *)&peer_watchdog, NULL);
}

/* The control pipe: its end (or any byte) means leave. */
static void peer_ctl_cb(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  if (peer_closing)
    return;
  peer_closing = true;
  uv_poll_stop(h);
  uv_close((uv_handle_t *)h, NULL);
  uv_timer_start(&peer_watchdog, peer_watchdog_cb, 5000, 0);
  lws_keep_end();
  nws_end();
  yz_link_manager_close(Y.a, peer_closed, NULL);
}

/* The child: its own loop, identity and lws context (made here, after the
 * fork); echoes on a yz listener and on a plain WebSocket vhost until its
 * control pipe closes, then closes its manager and loop. Never returns. */
static void peer_child(int rfd, int wfd) {
  uv_loop_t *cl = &loop;
  memset(&Y, 0, sizeof Y);
  memset(&P, 0, sizeof P);
  memset(&NW, 0, sizeof NW);
  memset(&E, 0, sizeof E);
  peer_info info;
  memset(&info, 0, sizeof info);
  yz_link_config c;
  if (uv_loop_init(cl) != 0 || yz_identity_generate(&Y.ida) != 0)
    _exit(1);
  hold_config(&c, &Y.ida);
  c.cb.on_up = y_up;
  c.cb.on_message = y_msg;
  c.cb.on_down = y_down;
  yz_link_listen_config lc = {"ws://127.0.0.1:0", NULL, NULL};
  if (yz_link_manager_new(&Y.a, cl, &c) != 0 ||
      yz_link_listen(Y.a, &lc, &info.yz_port) != 0 ||
      lws_keep_start(cl) != 0 || p_start() != 0 || nws_listen() != 0)
    _exit(1);
  info.plain_port = P.port;
  info.nws_port = NW.port;
  memcpy(&info.id, yz_link_manager_node_id(Y.a), sizeof info.id);
  if (write(wfd, &info, sizeof info) != (ssize_t)sizeof info)
    _exit(1);
  close(wfd);
  if (uv_poll_init(cl, &peer_ctl, rfd) != 0 ||
      uv_poll_start(&peer_ctl, UV_READABLE | UV_DISCONNECT, peer_ctl_cb) != 0)
    _exit(1);
  uv_timer_init(cl, &peer_watchdog);
  uv_run(cl, UV_RUN_DEFAULT);
  int rc = uv_loop_close(cl) == 0 ? 0 : 2;
  yz_identity_clear(&Y.ida);
  _exit(rc);
}

/* Fork the peer before any lws context exists in this process and wait
 * for its ports and node ID. 0, or -1 (the child is reaped). */
static int peer_fork(void) {
  pid_t parent = getpid();
  int ctl[2], info[2];
  if (pipe(ctl) != 0)
    return -1;
  if (pipe(info) != 0) {
    close(ctl[0]);
    close(ctl[1]);
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(ctl[0]);
    close(ctl[1]);
    close(info[0]);
    close(info[1]);
    return -1;
  }
  if (pid == 0) {
    close(ctl[1]);
    close(info[0]);
    child_guard(parent);
    peer_child(ctl[0], info[1]);
  }
  close(ctl[0]);
  close(info[1]);
  peer_pid = pid;
  peer_cpu_ok = clock_getcpuclockid(pid, &peer_cpu) == 0;
  peer_wfd = ctl[1];
  ssize_t n;
  do
    n = read(info[0], &R, sizeof R);
  while (n < 0 && errno == EINTR);
  close(info[0]);
  if (n != (ssize_t)sizeof R) {
    reap(&peer_pid, &peer_wfd, 5, "peer");
    return -1;
  }
  return 0;
}

static void peer_end(void) { reap(&peer_pid, &peer_wfd, 10, "peer"); }

/* ---- loop helpers ---------------------------------------------------------- */

static bool run_until(bool (*cond)(void), double timeout_s) {
  double t0 = yz_bench_now();
  while (!cond()) {
    if (yz_bench_now() - t0 > timeout_s)
      return false;
    uv_run(&loop, UV_RUN_ONCE);
  }
  return true;
}

static bool echo_done(void) { return E.got >= E.total || Y.errors > 0; }

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &res) != 2)
    res = 0;
  fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- measurements ------------------------------------------------------------ */

/* One round: n echoes on the yz link to the peer, wall time on this side.
 * MB of payload echoed per second, 0 on failure. */
static double echo_round_yz(uint64_t n) {
  E.total = n;
  E.sent = E.got = 0;
  E.inflight = 0;
  double t0 = yz_bench_now();
  y_pump();
  if (!run_until(echo_done, 60) || Y.errors > 0)
    return 0;
  return (double)(n * E.len) / (yz_bench_now() - t0) / 1e6;
}

/* The same on the plain WebSocket connection to the peer. */
static double echo_round_plain(uint64_t n) {
  E.total = n;
  E.sent = E.got = 0;
  E.inflight = 0;
  double t0 = yz_bench_now();
  lws_callback_on_writable(P.echo_wsi);
  if (!run_until(echo_done, 60))
    return 0;
  return (double)(n * E.len) / (yz_bench_now() - t0) / 1e6;
}

static bool nws_done(void) { return echo_done() || NW.echo == NULL; }

/* The same on the plain WebSocket connection on the native framing. */
static double echo_round_nws(uint64_t n) {
  E.total = n;
  E.sent = E.got = 0;
  E.inflight = 0;
  double t0 = yz_bench_now();
  nws_pump();
  if (!run_until(nws_done, 60) || NW.echo == NULL || Y.errors > 0)
    return 0;
  return (double)(n * E.len) / (yz_bench_now() - t0) / 1e6;
}

/* CPU time, in seconds, of a clock (0 if it cannot be read). */
static double cpu_now(clockid_t c) {
  struct timespec t;
  return clock_gettime(c, &t) == 0 ? (double)t.tv_sec + t.tv_nsec * 1e-9 : 0;
}

/* The CPU time both processes spent in all the rounds of the last
 * throughput_with() ([0] plain, [1] yz), and the payload bytes of each:
 * what each side's work costs, whatever the machine's load does to the
 * wall time (the peer's through its CPU clock, peer_cpu_ok). */
typedef struct cpu_acct {
  double self[2], peer[2], bytes;
} cpu_acct;
static cpu_acct CPU;

/* Alternate plain and yz rounds of 2 MiB (at least 32 messages) within
 * `budget` seconds (at least 2 rounds each); best round of each. */
static void throughput_with(double (*plain)(uint64_t), size_t len,
                            bool stream, unsigned window, double budget,
                            double *base, double *cand) {
  E.len = len;
  E.stream = stream;
  E.window = window;
  E.k = stream ? (window >= 8 ? window / 4 : 1) : 1;
  free(E.msg);
  E.msg = malloc(len);
  if (E.msg == NULL)
    abort();
  memset(E.msg, 0x42, len);
  /* 2 MiB per round: short rounds give more chances of an undisturbed
   * one on a loaded machine */
  uint64_t n = (uint64_t)(2u * 1024u * 1024u / len);
  if (n < 32)
    n = 32;
  n -= n % E.k; /* whole acks */
  *base = *cand = 0;
  memset(&CPU, 0, sizeof CPU);
  double t_end = yz_bench_now() + budget;
  int rounds = 0;
  do {
    double s0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    double p0 = peer_cpu_ok ? cpu_now(peer_cpu) : 0;
    double b = plain(n);
    double s1 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    double p1 = peer_cpu_ok ? cpu_now(peer_cpu) : 0;
    double c = echo_round_yz(n);
    double s2 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    double p2 = peer_cpu_ok ? cpu_now(peer_cpu) : 0;
    CPU.self[0] += s1 - s0;
    CPU.self[1] += s2 - s1;
    CPU.peer[0] += p1 - p0;
    CPU.peer[1] += p2 - p1;
    CPU.bytes += (double)(n * len);
    if (b <= 0 || c <= 0) {
      *base = *cand = 0;
      return;
    }
    if (b > *base)
      *base = b;
    if (c > *cand)
      *cand = c;
    rounds++;
  } while ((yz_bench_now() < t_end || rounds < 2) && rounds < 200);
}

static void throughput(size_t len, bool stream, unsigned window,
                       double budget, double *base, double *cand) {
  throughput_with(echo_round_plain, len, stream, window, budget, base, cand);
}

/* ---- the AEAD alone, for the bounds of the vs_plain figures ------------------
 *
 * What the transport AEAD (yz_noise_cs, the library in use) costs for one
 * 64 KiB message, in this process, right after the vs_plain rounds: the
 * two Noise messages the session makes of it (a first fragment of a full
 * 65519-byte plaintext, then the 23 bytes left), encrypted, or decrypted,
 * out of place as the link does. From it and the plain rate of the same
 * run: the rate yz would reach if the AEAD were all it added to plain
 * WebSocket (docs/benchmarks.md "Encrypted link against plain WebSocket"). */

enum { AEAD_MSG = 65536,
       AEAD_FIRST = YZ_SESSION_MAX_FRAME_LEN,
       AEAD_LAST = 1 + AEAD_MSG - (YZ_SESSION_MAX_FRAME_LEN - 5) };

typedef struct aead_run {
  yz_noise_cipherstate cs;
  uint8_t *pt, *ct, *out; /* ct: both messages, the first at 0 */
  size_t ct1, ct2;
  bool decrypt;
  int err;
} aead_run;

static void aead_fn(void *vctx, unsigned long iters) {
  aead_run *a = vctx;
  size_t n;
  for (unsigned long i = 0; i < iters && a->err == 0; i++) {
    if (!a->decrypt) {
      a->err = yz_noise_cs_encrypt_with_ad(&a->cs, NULL, 0, a->pt, AEAD_FIRST,
                                           a->out, AEAD_MSG, &n);
      if (a->err == 0)
        a->err = yz_noise_cs_encrypt_with_ad(&a->cs, NULL, 0, a->pt,
                                             AEAD_LAST, a->out, AEAD_MSG, &n);
      continue;
    }
    a->err = yz_noise_cs_set_nonce(&a->cs, 0);
    if (a->err == 0)
      a->err = yz_noise_cs_decrypt_with_ad(&a->cs, NULL, 0, a->ct, a->ct1,
                                           a->out, AEAD_MSG, &n);
    if (a->err == 0)
      a->err = yz_noise_cs_decrypt_with_ad(&a->cs, NULL, 0, a->ct + a->ct1,
                                           a->ct2, a->out, AEAD_MSG, &n);
  }
}

/* The AEAD's MB/s of 64 KiB messages, encrypting (enc) and decrypting
 * (dec), best rounds; 0 and 0 on failure. */
static void aead_rates(double seconds, double *enc, double *dec) {
  aead_run a;
  memset(&a, 0, sizeof a);
  *enc = *dec = 0;
  uint8_t key[YZ_NOISE_KEY_LEN];
  randombytes_buf(key, sizeof key);
  a.pt = calloc(1, AEAD_MSG);
  a.ct = malloc(2 * AEAD_MSG);
  a.out = malloc(AEAD_MSG);
  if (a.pt != NULL && a.ct != NULL && a.out != NULL) {
    yz_noise_cs_init(&a.cs, YZ_NOISE_CIPHER_CHACHAPOLY);
    yz_noise_cs_initialize_key(&a.cs, key);
    if (yz_noise_cs_encrypt_with_ad(&a.cs, NULL, 0, a.pt, AEAD_FIRST, a.ct,
                                    AEAD_MSG, &a.ct1) == 0 &&
        yz_noise_cs_encrypt_with_ad(&a.cs, NULL, 0, a.pt, AEAD_LAST,
                                    a.ct + a.ct1, AEAD_MSG, &a.ct2) == 0) {
      double r = yz_bench_rate(aead_fn, &a, seconds);
      a.decrypt = true;
      double d = yz_bench_rate(aead_fn, &a, seconds);
      if (a.err == 0) {
        *enc = r * AEAD_MSG / 1e6;
        *dec = d * AEAD_MSG / 1e6;
      }
    }
    yz_noise_cs_clear(&a.cs);
  }
  sodium_memzero(key, sizeof key);
  free(a.pt);
  free(a.ct);
  free(a.out);
}

/* 1 / (1/plain + the AEAD's time per byte): the bound. */
static double aead_bound(double plain, double aead_s_per_mb) {
  return plain > 0 ? 1.0 / (1.0 / plain + aead_s_per_mb) : 0;
}

/* Wait conditions. `both` counts the ends in this process (both when the
 * two ends are here, the dialer's only when the peer process accepts). */
static int dial_target, accept_target; /* b's count, a's count */
static bool dial_both;
static bool all_up(void) {
  return (Y.b_ups >= dial_target &&
          (!dial_both || Y.a_ups >= accept_target)) ||
         Y.errors > 0;
}
static bool all_down(void) {
  return Y.b_downs >= dial_target &&
         (!dial_both || Y.a_downs >= accept_target);
}
static int p_target, p_srv_target;
static bool p_all_est(void) {
  return P.cli_est >= p_target && (!dial_both || P.srv_est >= p_srv_target);
}
static bool p_all_closed(void) { return P.closed >= p_target; }

/* Dial n yz links from b in batches of 250: to a (local, both ends here)
 * or to the peer process. Links per second (CPU time of this thread when
 * local, wall time when remote), 0 on failure; the links of b go in out
 * (the caller closes them). */
static double dial_links(int n, yz_link **out, bool local) {
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/",
           (unsigned)(local ? Y.port : R.yz_port));
  const yz_node_id *id = local ? yz_link_manager_node_id(Y.a) : &R.id;
  dial_both = local;
  double (*clock)(void) = local ? yz_bench_cpu_now : yz_bench_now;
  double t0 = clock();
  int base_a = Y.a_ups, base_b = Y.b_ups;
  for (int i = 0; i < n; i += 250) {
    int k = n - i < 250 ? n - i : 250;
    for (int j = 0; j < k; j++) {
      if (yz_link_dial(Y.b, url, id, NULL, &out[i + j]) != 0)
        return 0;
    }
    dial_target = base_b + i + k;
    accept_target = base_a + i + k;
    if (!run_until(all_up, 60) || Y.errors > 0)
      return 0;
  }
  return n / (clock() - t0);
}

static void close_links(yz_link **l, int n, bool local) {
  dial_target = Y.b_downs + n;
  accept_target = Y.a_downs + n;
  for (int i = 0; i < n; i++)
    yz_link_close(l[i]);
  dial_both = local;
  (void)run_until(all_down, 60);
}

/* n plain WebSocket connections in batches of 250, to the local vhost or
 * to the peer's; per second as dial_links(). */
static double plain_connects(int n, bool local) {
  double (*clock)(void) = local ? yz_bench_cpu_now : yz_bench_now;
  double t0 = clock();
  int base_s = P.srv_est, base_c = P.cli_est;
  dial_both = local;
  for (int i = 0; i < n; i += 250) {
    int k = n - i < 250 ? n - i : 250;
    for (int j = 0; j < k; j++)
      if (p_connect(local ? P.port : R.plain_port) == NULL)
        return 0;
    p_target = base_c + i + k;
    p_srv_target = base_s + i + k;
    if (!run_until(p_all_est, 60))
      return 0;
  }
  return n / (clock() - t0);
}

/* Close the plain clients: 2 closes per connection when both ends are
 * here, 1 when the peer process has the other. */
static void plain_close_all(int n, bool local) {
  p_target = P.closed + (local ? 2 * n : n);
  p_close_all();
  (void)run_until(p_all_closed, 60);
}

/* One run of everything with the yz links on bench_backend; figure names
 * start with prefix ("link." or "link.native_"). */
/* YZ_BENCH_LINK_BACKEND=native-vs-plain: the native run's
 * link.native_vs_plain_* figures only (for profiling the data path). */
static bool vs_plain_only;

static int bench_run(const yz_bench_opts *opts, yz_bench_emitter *e,
                     const char *prefix) {
  /* Two ends of every link live here: raise the file limit first (lws
   * sizes its tables by it when the context is created). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  bool quick = opts->quick;
  int max_links = 5000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur < (rlim_t)(2 * max_links + 200)) {
    max_links = (int)(rl.rlim_cur - 200) / 2;
  }
  int batch = quick ? 50 : 500;
  if (batch > max_links)
    batch = max_links;
  int hold_n = 10000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur < (rlim_t)(hold_n + 200))
    hold_n = (int)rl.rlim_cur - 200;
  memset(&Y, 0, sizeof Y);
  memset(&P, 0, sizeof P);
  memset(&NW, 0, sizeof NW);
  memset(&E, 0, sizeof E);
  memset(&R, 0, sizeof R);

  /* The children first, before any lws context exists in this process
   * (each makes its own after the fork). */
  catch_fatal(SIGINT, &old_int);
  catch_fatal(SIGTERM, &old_term);
  if (vs_plain_only)
    quick = true;
  if (!quick)
    hold_fork(hold_n);
  if (peer_fork() != 0) {
    hold_end();
    (void)sigaction(SIGINT, &old_int, NULL);
    (void)sigaction(SIGTERM, &old_term, NULL);
    return yz_cli_error("link: the peer process did not start");
  }

  int rc = 0;
  yz_link **links = calloc((size_t)max_links, sizeof *links);
  bool loop_ok = uv_loop_init(&loop) == 0;
  if (links == NULL || !loop_ok) {
    rc = yz_cli_error(loop_ok ? "link: out of memory"
                              : "link: cannot create a uv loop");
    goto out_early;
  }
  if (yz_identity_generate(&Y.ida) != 0 || yz_identity_generate(&Y.idb) != 0) {
    rc = yz_cli_error("link: cannot create identities");
    goto out_early;
  }
  yz_link_config c;
  yz_link_config_default(&c);
  c.cb.on_up = y_up;
  c.cb.on_message = y_msg;
  c.cb.on_down = y_down;
  c.max_links = 20000;
  c.max_handshakes = 20000;
  c.ip_rate_per_s = 1000000;
  c.ip_rate_burst = 1000000;
  c.max_handshakes_per_source = 20000;
  c.max_links_per_source = 20000;
  /* The streams below keep 16 messages of 64 KiB in flight, more than the
   * default 1 MiB send queue takes; docs/benchmarks.md was measured with
   * this bound. */
  c.send_queue_max_bytes = 4u * 1024u * 1024u;
  c.backend = bench_backend;
  c.identity = &Y.ida;
  if (yz_link_manager_new(&Y.a, &loop, &c) != 0) {
    rc = yz_cli_error("link: cannot create a link manager");
    goto out_early;
  }
  c.identity = &Y.idb;
  if (yz_link_manager_new(&Y.b, &loop, &c) != 0) {
    rc = yz_cli_error("link: cannot create a link manager");
    goto out;
  }
  yz_link_listen_config lc = {"ws://127.0.0.1:0", NULL, NULL};
  if (yz_link_listen(Y.a, &lc, &Y.port) != 0 || lws_keep_start(&loop) != 0 ||
      p_start() != 0) {
    rc = yz_cli_error("link: cannot listen on 127.0.0.1");
    goto out;
  }

  double budget = opts->seconds > 0 ? opts->seconds : 4;

  /* new links per second, to the peer process */
  double new_y = 0, new_p = 0;
  double t_end = yz_bench_now() + budget / 4;
  int rounds = 0;
  do {
    if (vs_plain_only)
      break;
    double p = plain_connects(batch, false);
    plain_close_all(batch, false);
    double y = dial_links(batch, links, false);
    close_links(links, batch, false);
    if (p <= 0 || y <= 0) {
      rc = yz_cli_error("link: %s connections to the peer process failed",
                        p <= 0 ? "plain WebSocket" : "yz");
      goto out;
    }
    if (p > new_p)
      new_p = p;
    if (y > new_y)
      new_y = y;
    rounds++;
  } while ((yz_bench_now() < t_end || rounds < 2) && rounds < 50);

  /* throughput: one link and one plain connection to the peer process */
  yz_link *l;
  if (dial_links(1, &l, false) <= 0) {
    rc = yz_cli_error("link: the yz link failed to come up");
    goto out;
  }
  Y.echo_link = l;
  P.echo_wsi = p_connect(R.plain_port);
  p_target = P.cli_est + 1;
  dial_both = false;
  if (P.echo_wsi == NULL || !run_until(p_all_est, 30)) {
    rc = yz_cli_error("link: the plain connection failed");
    goto out;
  }
  /* echoes, then one-way streams (an ack per quarter window) */
  double tp[4][2] = {{1, 1}, {1, 1}, {1, 1}, {1, 1}}; /* [echo 1k, echo 64k,
                                      stream 1k, stream 64k][base, yz] */
  if (!vs_plain_only) {
    throughput(1024, false, 64, budget / 4, &tp[0][0], &tp[0][1]);
    throughput(65536, false, 8, budget / 4, &tp[1][0], &tp[1][1]);
    throughput(1024, true, 64, budget / 8, &tp[2][0], &tp[2][1]);
    throughput(65536, true, 16, budget / 8, &tp[3][0], &tp[3][1]);
  }
  /* the native run: against plain WebSocket on the native framing too */
  double tn[4][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
  double aead_enc = 0, aead_dec = 0;
  cpu_acct cpu64[2]; /* echo, stream at 64 KiB */
  memset(cpu64, 0, sizeof cpu64);
  bool native = bench_backend == YZ_LINK_BACKEND_NATIVE;
  if (native) {
    NW.est = 0;
    if (nws_dial(R.nws_port) != 0 || !run_until(nws_est, 30) ||
        NW.echo == NULL) {
      rc = yz_cli_error("link: the plain native connection failed");
      goto out;
    }
    throughput_with(echo_round_nws, 1024, false, 64, budget / 4, &tn[0][0],
                    &tn[0][1]);
    throughput_with(echo_round_nws, 65536, false, 8, budget / 4, &tn[1][0],
                    &tn[1][1]);
    cpu64[0] = CPU;
    throughput_with(echo_round_nws, 1024, true, 64, budget / 8, &tn[2][0],
                    &tn[2][1]);
    throughput_with(echo_round_nws, 65536, true, 16, budget / 8, &tn[3][0],
                    &tn[3][1]);
    cpu64[1] = CPU;
    aead_rates(budget / 16, &aead_enc, &aead_dec);
    if (aead_enc <= 0 || aead_dec <= 0) {
      rc = yz_cli_error("link: the AEAD alone failed");
      goto out;
    }
  }
  bool tp_ok = true;
  for (int i = 0; i < 4; i++)
    tp_ok = tp_ok && tp[i][0] > 0 && tp[i][1] > 0 &&
            (!native || (tn[i][0] > 0 && tn[i][1] > 0));
  if (!tp_ok) {
    rc = yz_cli_error("link: an echo to the peer process failed");
    goto out;
  }

  /* Memory, both ends here. The runs above freed what their links used;
   * give those pages back to the system first, so that links reusing the
   * freed chunks fault their pages in again and count in the growth. */
#ifdef __GLIBC__
  (void)malloc_trim(0);
#endif
  int sizes[2] = {1000, 5000};
  double rss_y[2] = {0, 0}, rss_p[2] = {0, 0};
  for (int i = 0; i < 2 && !quick; i++) {
    int n = sizes[i] <= max_links ? sizes[i] : max_links;
    long r0 = rss_kib();
    if (plain_connects(n, true) <= 0) {
      rc = yz_cli_error("link: plain WebSocket connections failed");
      goto out;
    }
    rss_p[i] = (double)(rss_kib() - r0) / (2.0 * n);
    plain_close_all(n, true);
    r0 = rss_kib();
    if (dial_links(n, links, true) <= 0) {
      rc = yz_cli_error("link: yz links failed to come up");
      goto out;
    }
    rss_y[i] = (double)(rss_kib() - r0) / (2.0 * n);
    close_links(links, n, true);
  }

  /* last: it grows the heap for good */
  double held = 0, held_kib = 0;
  if (!quick && hold_links(hold_n, &held, &held_kib) != 0)
    fprintf(stderr, "yz bench link: held %.0f of %d links\n", held, hold_n);

#define FIG(name) (snprintf(fig, sizeof fig, "%s%s", prefix, name), fig)
  char fig[96];
  if (vs_plain_only)
    goto vs_plain;
  yz_bench_emit(e, FIG("throughput_1k_mb_per_s"), tp[0][1], "MB/s",
                "lws.ws_echo_1k_mb_per_s", tp[0][0]);
  yz_bench_emit(e, FIG("throughput_64k_mb_per_s"), tp[1][1], "MB/s",
                "lws.ws_echo_64k_mb_per_s", tp[1][0]);
  yz_bench_emit(e, FIG("stream_1k_mb_per_s"), tp[2][1], "MB/s",
                "lws.ws_stream_1k_mb_per_s", tp[2][0]);
  yz_bench_emit(e, FIG("stream_64k_mb_per_s"), tp[3][1], "MB/s",
                "lws.ws_stream_64k_mb_per_s", tp[3][0]);
vs_plain:
  if (native) {
    yz_bench_emit(e, FIG("vs_plain_echo_1k_mb_per_s"), tn[0][1], "MB/s",
                  "native.ws_echo_1k_mb_per_s", tn[0][0]);
    yz_bench_emit(e, FIG("vs_plain_echo_64k_mb_per_s"), tn[1][1], "MB/s",
                  "native.ws_echo_64k_mb_per_s", tn[1][0]);
    yz_bench_emit(e, FIG("vs_plain_stream_1k_mb_per_s"), tn[2][1], "MB/s",
                  "native.ws_stream_1k_mb_per_s", tn[2][0]);
    yz_bench_emit(e, FIG("vs_plain_stream_64k_mb_per_s"), tn[3][1], "MB/s",
                  "native.ws_stream_64k_mb_per_s", tn[3][0]);
    yz_bench_emit(e, FIG("aead_encrypt_64k_mb_per_s"), aead_enc, "MB/s",
                  NULL, aead_enc);
    yz_bench_emit(e, FIG("aead_decrypt_64k_mb_per_s"), aead_dec, "MB/s",
                  NULL, aead_dec);
    /* an echo: each process encrypts and decrypts every byte; a stream:
     * the sender encrypts, the receiver decrypts, at once */
    double slower = aead_enc < aead_dec ? aead_enc : aead_dec;
    yz_bench_emit(e, FIG("vs_plain_echo_64k_bound_mb_per_s"),
                  aead_bound(tn[1][0], 1.0 / aead_enc + 1.0 / aead_dec),
                  "MB/s", "native.ws_echo_64k_mb_per_s", tn[1][0]);
    yz_bench_emit(e, FIG("vs_plain_stream_64k_bound_mb_per_s"),
                  aead_bound(tn[3][0], 1.0 / slower), "MB/s",
                  "native.ws_stream_64k_mb_per_s", tn[3][0]);
    /* MB of payload per CPU second of each process, all rounds */
    static const char *const kind[2] = {"echo", "stream"};
    for (int k = 0; k < 2 && peer_cpu_ok; k++)
      for (int side = 0; side < 2; side++) {
        const double *c = side == 0 ? cpu64[k].self : cpu64[k].peer;
        const char *who = side == 0 ? "client" : "peer";
        char base[96];
        double mb = cpu64[k].bytes / 1e6;
        snprintf(base, sizeof base, "native.ws_%s_64k_%s_mb_per_cpu_s",
                 kind[k], who);
        snprintf(fig, sizeof fig, "%svs_plain_%s_64k_%s_mb_per_cpu_s", prefix,
                 kind[k], who);
        yz_bench_emit(e, fig, c[1] > 0 ? mb / c[1] : 0, "MB/s", base,
                      c[0] > 0 ? mb / c[0] : 0);
      }
  }
  if (!vs_plain_only)
    yz_bench_emit(e, FIG("new_links_per_s"), new_y, "/s",
                  "lws.ws_connects_per_s", new_p);
  if (!quick) {
    yz_bench_emit(e, FIG("rss_per_idle_link_kib_1000"), rss_y[0], "KiB",
                  "lws.rss_per_idle_ws_kib_1000", rss_p[0]);
    yz_bench_emit(e, FIG("rss_per_idle_link_kib_5000"), rss_y[1], "KiB",
                  "lws.rss_per_idle_ws_kib_5000", rss_p[1]);
    yz_bench_emit(e, FIG("links_held"), held, "links", NULL, held);
  }
#undef FIG
  (void)held_kib; /* the heap has grown and shrunk before: not a figure */
  if (!quick && max_links < 5000)
    fprintf(stderr, "yz bench link: file limit too low: measured %d links, "
                    "not 5000\n", max_links);

out:
  hold_end();
  peer_end();
  free(E.msg);
  E.msg = NULL;
  free(P.clients);
  P.clients = NULL;
  if (Y.a != NULL)
    yz_link_manager_close(Y.a, y_closed, NULL);
  if (Y.b != NULL)
    yz_link_manager_close(Y.b, y_closed, NULL);
  lws_keep_end();
  nws_end();
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "yz bench link: the loop did not close cleanly\n");
  loop_ok = false;
out_early:
  hold_end();
  peer_end();
  if (loop_ok)
    (void)uv_loop_close(&loop);
  free(links);
  yz_identity_clear(&Y.ida);
  yz_identity_clear(&Y.idb);
  (void)sigaction(SIGINT, &old_int, NULL);
  (void)sigaction(SIGTERM, &old_term, NULL);
  return rc;
}

/* The native run in a process of its own: the memory figures are the
 * growth of the resident set, and after the first run this process's heap
 * holds pages that the second run's links would reuse without counting
 * them. The same program with the same options, and the environment's
 * YZ_BENCH_LINK_BACKEND=native, writes its figures to the same output. */
static int native_in_child(const yz_bench_opts *opts, yz_bench_emitter *e) {
  char secs[32];
  snprintf(secs, sizeof secs, "%.6g", opts->seconds);
  char *argv[] = {"yz", "bench", "link", "--seconds", secs, NULL, NULL,
                  NULL};
  int n = 5;
  if (opts->json)
    argv[n++] = "--json";
  if (opts->quick)
    argv[n++] = "--quick";
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return yz_cli_error("link: cannot fork the native run");
  if (pid == 0) {
    if (e->out != stdout && dup2(fileno(e->out), STDOUT_FILENO) < 0)
      _exit(127);
    setenv("YZ_BENCH_LINK_BACKEND", "native", 1);
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return yz_cli_error("link: the native run failed");
  return 0;
}

/* Both WebSocket backends under the same yz links: libwebsockets
 * ("link.*", the names of earlier runs) and the native backend
 * ("link.native_*", in a process of its own); the plain WebSocket
 * baseline is libwebsockets in both runs (docs/benchmarks.md, "Area
 * link"). YZ_BENCH_LINK_BACKEND=native runs the native one only,
 * =native-vs-plain its link.native_vs_plain_* figures only. */
int yz_bench_link(const yz_bench_opts *opts, yz_bench_emitter *e) {
  const char *only = getenv("YZ_BENCH_LINK_BACKEND");
  vs_plain_only = only != NULL && strcmp(only, "native-vs-plain") == 0;
  if (only != NULL && (strcmp(only, "native") == 0 || vs_plain_only)) {
    bench_backend = YZ_LINK_BACKEND_NATIVE;
    return bench_run(opts, e, "link.native_");
  }
  bench_backend = YZ_LINK_BACKEND_LWS;
  int rc = bench_run(opts, e, "link.");
  if (rc != 0)
    return rc;
  return native_in_child(opts, e);
}
