/*
 * native.c: the native WebSocket backend: libuv TCP, the HTTP/1.1 upgrade
 * of RFC 6455 section 4 (http1.c), RFC 6455 framing (wsframe.c) and TLS for
 * wss:// with OpenSSL through memory BIOs. It implements the same ops as
 * ws.c (libwebsockets) and mirrors what ws.c does for the manager:
 *
 * - an accepted connection is admitted (limits, per-source caps, rate) at
 *   once, then kept as "pending" until its upgrade, with a deadline from
 *   the TCP accept (handshake_timeout_ms; counted in upgrade_timeouts);
 *   pending connections count against max_handshakes and the per-source
 *   handshake cap;
 * - a plain HTTP request is answered 404 and the connection closed; h2c,
 *   any other upgrade, the HTTP/2 preface and a malformed head are closed
 *   without a 101 (docs/protocol.md 1, "The WebSocket upgrade"); an
 *   upgrade without the yz.link.v1 subprotocol is closed with no answer
 *   and counted as refused (SUBPROTOCOL);
 * - a dial answered by a 101 without yz.link.v1 goes down with
 *   YZ_E_VERSION, a non-101 status or a close before the upgrade with
 *   YZ_E_UNREACHABLE "refused by the peer before the WebSocket upgrade";
 * - a link that ends sends a WebSocket Close with the status of
 *   docs/protocol.md "WebSocket close" after its queued messages (flushed
 *   for at most 2 s), half-closes and drains until the peer's FIN;
 * - one libuv loop for every manager of the process (as with lws), and a
 *   closed manager's listeners stay bound, refusing connections, until a
 *   new listen on the same address, port and certificate takes them over
 *   or the last manager goes.
 *
 * The data path: received bytes land in one process-wide 256 KiB buffer
 * (a connection keeps a buffer of its own only while a frame is
 * incomplete, sized to that frame), frames are unmasked a word at a time
 * in place and handed to the manager without a copy; queued messages get
 * their frame header in the headroom the manager leaves (masking in place
 * for a client) and go out many at a time in one writev.
 */
#include "link/internal.h"

#include "link/http1.h"
#include "link/wsframe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A data frame's header (at most 8 bytes for a masked frame of at most
 * 65535) fits in the headroom before each queued message. */
_Static_assert(YZ__LINK_HEADROOM >= 8, "headroom below a frame header");
_Static_assert((int)YZ_LINK_MAX_WIRE_MESSAGE == (int)YZ__WS_MAX_MESSAGE,
               "one wire message per WebSocket message");

enum {
  READ_SHARED = 256 * 1024, /* the process-wide receive buffer */
  WRITE_BATCH = 64,         /* messages per writev */
  WRITE_BATCH_BYTES = 512 * 1024,
  FLUSH_MS = 2000,          /* flushing before a close (lws: 2 s) */
  DRAIN_MS = 1000,          /* waiting for the peer's FIN after ours */
  DIAL_MS_DEFAULT = 10000,  /* connect + TLS + upgrade (lws: 10 s) */
};

#define NC_MAGIC 0x636e6e6eu
#define NL_MAGIC 0x6c6e6e6eu

typedef enum nc_state {
  NC_RESOLVING = 0, /* outbound: getaddrinfo */
  NC_CONNECTING,    /* outbound: TCP connect */
  NC_TLS,           /* TLS handshake */
  NC_HTTP,          /* waiting for the request (server) or the 101 */
  NC_OPEN,          /* WebSocket frames */
  NC_DRAIN,         /* our Close and FIN sent: reading until the peer's */
} nc_state;

typedef struct nlisten nlisten;

typedef struct nconn {
  uint32_t magic; /* NC_MAGIC */
  uv_tcp_t tcp;
  nc_state state;
  bool server;
  bool tcp_open;      /* tcp initialised (to be closed) */
  bool handle_closing;
  bool pending;       /* inbound, not upgraded: on g.pend */
  bool timed;         /* on g.timed (a deadline in real time) */
  bool closing;       /* the link asked to close: flushing */
  bool close_sent;    /* our WebSocket Close is written */
  bool data_inflight; /* a batch of data frames is being written */
  bool shut;          /* uv_shutdown issued */
  bool killed;        /* pending: its deadline passed */
  bool rx_dead;       /* input is ignored from now on */
  bool pong_inflight; /* a Pong is being written */
  uint16_t fail_status; /* a framing error's Close status (0: none) */
  nlisten *ls;        /* inbound: its listener */
  yz_link_manager *m; /* the manager while a link or a listener ties it */
  yz_link *l;         /* the link, once it has one */
  uint64_t accepted_ms; /* inbound: yz__link_now() of the manager */
  uint64_t deadline;    /* g.timed: uv_now() */
  uint8_t ip[16];
  size_t ip_len;
  char remote[YZ_LINK_ADDR_TEXT_MAX];
  /* received bytes of an incomplete frame or head (NULL: none) */
  uint8_t *stash;
  size_t slen, scap;
  yz__ws_rx rx;
  /* client */
  yz__ws_maskgen *mg;
  char accept[YZ__HTTP1_ACCEPT_LEN + 1];
  uv_getaddrinfo_t *gai;
  uv_connect_t creq;
  /* TLS */
  SSL *ssl;
  BIO *rbio, *wbio; /* network side of the memory BIOs */
  struct nconn *prev, *next;    /* g.conns */
  struct nconn *pprev, *pnext;  /* g.pend */
} nconn;

struct nlisten {
  uint32_t magic;
  uv_tcp_t tcp;
  yz_link_manager *m; /* NULL: unused, refusing */
  bool tls;
  SSL_CTX *ctx;
  uint16_t port;
  char iface[YZ_ADDRESS_HOST_MAX + 3];
  char *cert, *key;
  struct nlisten *next;
};

/* A manager's state: its client TLS contexts, made at the first wss://
 * dial that needs each: verifying the server's certificate, accepting a
 * self-signed one (YZ_LINK_TLS_ALLOW_SELFSIGNED), accepting any
 * (YZ_LINK_TLS_INSECURE). */
typedef struct nstate {
  SSL_CTX *verify_ctx;
  SSL_CTX *selfsigned_ctx;
  SSL_CTX *insecure_ctx;
} nstate;

static struct {
  uv_loop_t *loop;
  unsigned refs;
  bool tearing_down;
  int closing_handles;
  nconn *conns;
  nconn *pend_head, *pend_tail;
  nlisten *listeners;
  uv_timer_t sweep;
  bool sweep_open;
  uint8_t *rbuf; /* READ_SHARED bytes */
  bool rbuf_busy;
  struct ndetach {
    yz_link_manager *m;
    void (*done)(yz_link_manager *m);
    struct ndetach *next;
  } *detaching;
} g;

static void conn_kill(nconn *c);
static void conn_input(nconn *c, uint8_t *p, size_t n);
static void pump(nconn *c);
static void sweep_arm(void);
static void teardown_check(void);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */

static void addr_text(const struct sockaddr *sa, char *out, size_t cap,
                      uint8_t ip[16], size_t *ip_len) {
  char host[INET6_ADDRSTRLEN] = "?";
  *ip_len = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    memcpy(ip, &s4->sin_addr, 4);
    *ip_len = 4;
    snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    /* as ws.c: a v4-mapped address is its v4 address; v6 by /64 */
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      memcpy(ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
      *ip_len = 4;
    } else {
      memcpy(ip, &s6->sin6_addr, 8);
      *ip_len = 8;
    }
    snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
  } else {
    snprintf(out, cap, "?");
  }
}

static void conn_peer(nconn *c) {
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0) {
    snprintf(c->remote, sizeof c->remote, "?");
    c->ip_len = 0;
    return;
  }
  addr_text((const struct sockaddr *)&ss, c->remote, sizeof c->remote, c->ip,
            &c->ip_len);
}

/* ------------------------------------------------------------------------ */
/* Lists and deadlines                                                      */

static void pend_add(nconn *c) {
  c->pending = true;
  c->pprev = g.pend_tail;
  c->pnext = NULL;
  if (g.pend_tail != NULL)
    g.pend_tail->pnext = c;
  else
    g.pend_head = c;
  g.pend_tail = c;
}

static void unpend(nconn *c) {
  if (!c->pending)
    return;
  c->pending = false;
  if (c->pprev != NULL)
    c->pprev->pnext = c->pnext;
  else
    g.pend_head = c->pnext;
  if (c->pnext != NULL)
    c->pnext->pprev = c->pprev;
  else
    g.pend_tail = c->pprev;
  c->pprev = c->pnext = NULL;
}

static uint32_t native_pending(const yz_link_manager *m) {
  uint32_t n = 0;
  for (const nconn *c = g.pend_head; c != NULL; c = c->pnext)
    if (c->ls != NULL && c->ls->m == m)
      n++;
  return n;
}

/* O(connections not upgraded), which max_handshakes bounds. */
static uint32_t native_pending_from(const yz_link_manager *m,
                                    const uint8_t *ip, size_t ip_len) {
  uint32_t n = 0;
  for (const nconn *c = g.pend_head; c != NULL; c = c->pnext)
    if (c->ls != NULL && c->ls->m == m && c->ip_len == ip_len &&
        ip_len > 0 && memcmp(c->ip, ip, ip_len) == 0)
      n++;
  return n;
}

static void set_deadline(nconn *c, uint64_t ms) {
  c->timed = true;
  c->deadline = uv_now(g.loop) + ms;
  sweep_arm();
}

static void sweep_cb(uv_timer_t *t);

/* The earliest deadline: pending connections on their manager's clock
 * (as ws.c), the others (dials, flushes, drains) on the loop's. */
static void sweep_arm(void) {
  if (!g.sweep_open)
    return;
  uint64_t wait = UINT64_MAX;
  uint64_t now = uv_now(g.loop);
  for (const nconn *c = g.conns; c != NULL; c = c->next) {
    uint64_t w = UINT64_MAX;
    if (c->pending && !c->killed && c->ls != NULL && c->ls->m != NULL) {
      const yz_link_manager *m = c->ls->m;
      uint64_t lnow = yz__link_now(m);
      uint64_t end = c->accepted_ms + m->cfg.handshake_timeout_ms;
      w = end > lnow ? end - lnow : 0;
    } else if (c->timed && !c->handle_closing) {
      w = c->deadline > now ? c->deadline - now : 0;
    }
    if (w < wait)
      wait = w;
  }
  if (wait == UINT64_MAX) {
    uv_timer_stop(&g.sweep);
    return;
  }
  uv_timer_start(&g.sweep, sweep_cb, wait + 1, 0);
}

/* ------------------------------------------------------------------------ */
/* Connections: creation and teardown                                       */

static nconn *conn_new(void) {
  nconn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->magic = NC_MAGIC;
  c->tcp.data = c;
  c->next = g.conns;
  if (g.conns != NULL)
    g.conns->prev = c;
  g.conns = c;
  return c;
}

static void conn_free(nconn *c) {
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    g.conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  unpend(c);
  yz__ws_rx_clear(&c->rx);
  if (c->mg != NULL) {
    yz__ws_maskgen_clear(c->mg);
    free(c->mg);
  }
  if (c->ssl != NULL)
    SSL_free(c->ssl); /* frees the inner BIO of the pair */
  if (c->wbio != NULL)
    BIO_free(c->wbio);
  free(c->stash);
  c->magic = 0;
  free(c);
}

static void conn_closed(uv_handle_t *h) {
  nconn *c = h->data;
  conn_free(c);
  g.closing_handles--;
  teardown_check();
}

/* Detach the link: the manager hears that the connection is gone. */
static void conn_gone(nconn *c, int err, const char *reason) {
  yz_link *l = c->l;
  if (l == NULL)
    return;
  c->l = NULL;
  c->m = NULL;
  yz__link_conn_gone(l, err, reason);
}

/* Close the socket now (no more callbacks for the link). */
static void conn_kill(nconn *c) {
  if (c->handle_closing)
    return;
  c->handle_closing = true;
  unpend(c);
  c->timed = false;
  if (c->gai != NULL) {
    /* its callback frees it and sees the connection closing */
    uv_cancel((uv_req_t *)c->gai);
  }
  if (c->tcp_open) {
    g.closing_handles++;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
  } else if (c->gai == NULL) {
    conn_free(c);
    teardown_check();
  }
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

typedef struct wreq {
  uv_write_t req;
  nconn *c;
  bool data;
  unsigned nq;
  yz__qmsg *q[WRITE_BATCH];
} wreq;

typedef struct rawreq {
  uv_write_t req;
  nconn *c;
  size_t len;
  bool pong;
  uint8_t buf[];
} rawreq;

static void data_written(uv_write_t *req, int status);

/* Write requests of data batches: a connection has one in flight at most,
 * and they are kept for reuse (at most WREQ_KEEP, freed at the teardown)
 * so that no batch mallocs in the steady state. */
enum { WREQ_KEEP = 64 };
static struct {
  wreq *head[WREQ_KEEP];
  unsigned n;
} wreqs;

static wreq *wreq_get(void) {
  return wreqs.n > 0 ? wreqs.head[--wreqs.n] : malloc(sizeof(wreq));
}

static void wreq_put(wreq *w) {
  if (w == NULL)
    return;
  if (wreqs.n < WREQ_KEEP)
    wreqs.head[wreqs.n++] = w;
  else
    free(w);
}

static void wreqs_free(void) {
  while (wreqs.n > 0)
    free(wreqs.head[--wreqs.n]);
}

/* The raw write queued last (NULL: none since the last send_frame()), so
 * that a Pong's write can be marked (last_pong()). */
static rawreq *last_raw;

static void raw_written(uv_write_t *req, int status) {
  rawreq *r = (rawreq *)req;
  (void)status; /* a failed write shows up as a read error or EOF */
  if (r->pong)
    r->c->pong_inflight = false;
  if (last_raw == r)
    last_raw = NULL;
  free(r);
}

/* Bytes that go out as they are (a plain connection) or through TLS. */
static int write_raw(nconn *c, const uint8_t *p, size_t n) {
  if (c->handle_closing || !c->tcp_open)
    return YZ_E_STATE;
  rawreq *r = malloc(sizeof *r + n);
  if (r == NULL)
    return YZ_E_NOMEM;
  r->c = c;
  r->len = n;
  r->pong = false;
  memcpy(r->buf, p, n);
  uv_buf_t b = uv_buf_init((char *)r->buf, (unsigned)n);
  if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, raw_written) != 0) {
    free(r);
    return YZ_E_IO;
  }
  last_raw = r;
  return 0;
}

/* What TLS has produced for the network. */
static int tls_flush(nconn *c) {
  size_t n = BIO_ctrl_pending(c->wbio);
  if (n == 0)
    return 0;
  rawreq *r = malloc(sizeof *r + n);
  if (r == NULL)
    return YZ_E_NOMEM;
  int got = BIO_read(c->wbio, r->buf, (int)n);
  if (got <= 0) {
    free(r);
    return 0;
  }
  r->c = c;
  r->len = (size_t)got;
  r->pong = false;
  uv_buf_t b = uv_buf_init((char *)r->buf, (unsigned)got);
  if (c->handle_closing ||
      uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, raw_written) != 0) {
    free(r);
    return YZ_E_IO;
  }
  last_raw = r;
  return 0;
}

/* Encrypt p[0..n) into the BIO pair, sending what fills it. */
static int tls_write_all(nconn *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    int w = SSL_write(c->ssl, p, (int)(n > 1u << 20 ? 1u << 20 : n));
    if (w <= 0) {
      int e = SSL_get_error(c->ssl, w);
      if (e == SSL_ERROR_WANT_WRITE && BIO_ctrl_pending(c->wbio) > 0 &&
          tls_flush(c) == 0)
        continue;
      return YZ_E_TLS;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Application bytes (HTTP heads, WebSocket frames) to the peer. */
static int send_bytes(nconn *c, const uint8_t *p, size_t n) {
  if (c->ssl == NULL)
    return write_raw(c, p, n);
  int rc = tls_write_all(c, p, n);
  return rc != 0 ? rc : tls_flush(c);
}

/* Mark the write just queued as the connection's Pong; whether one is
 * now in flight. With TLS the Pong is in the last flush's buffer. */
static bool last_pong(nconn *c) {
  if (last_raw == NULL || last_raw->c != c)
    return false;
  last_raw->pong = true;
  last_raw = NULL;
  return true;
}

/* A control frame (5.5) or a small frame built here. */
static int send_frame(nconn *c, uint8_t opcode, const uint8_t *d, size_t n) {
  last_raw = NULL;
  uint8_t f[YZ__WS_MAX_HEADER + YZ__WS_MAX_CONTROL];
  if (n > YZ__WS_MAX_CONTROL)
    n = YZ__WS_MAX_CONTROL;
  uint8_t mk[4];
  const uint8_t *mask = NULL;
  if (!c->server) {
    yz__ws_maskgen_next(c->mg, mk);
    mask = mk;
  }
  size_t h = yz__ws_write_header(f, true, opcode, n, mask);
  if (n > 0)
    memcpy(f + h, d, n);
  if (mask != NULL)
    yz__ws_mask(f + h, n, mask, 0);
  return send_bytes(c, f, h + n);
}

/* Frame one queued message in its headroom: the header ends where the
 * payload starts; a client masks the payload in place. Returns the frame's
 * first byte. */
static uint8_t *frame_msg(nconn *c, yz__qmsg *q, size_t *len) {
  uint8_t *payload = q->buf + YZ__LINK_HEADROOM;
  uint8_t mk[4];
  const uint8_t *mask = NULL;
  if (!c->server) {
    yz__ws_maskgen_next(c->mg, mk);
    mask = mk;
  }
  size_t hl = yz__ws_header_len(q->len, mask != NULL);
  uint8_t *start = payload - hl;
  yz__ws_write_header(start, true, YZ__WS_OP_BINARY, q->len, mask);
  if (mask != NULL)
    yz__ws_mask(payload, q->len, mask, 0);
  *len = hl + q->len;
  return start;
}

/* The WebSocket Close status for a link's yz close code (docs/protocol.md
 * "WebSocket close"); as ws.c. */
static uint16_t close_status(const nconn *c, const yz_link *l) {
  if (c->fail_status != 0)
    return c->fail_status;
  if (l == NULL || !l->has_close_code)
    return YZ__WS_CLOSE_NORMAL;
  switch (l->close_code) {
  case YZ_CLOSE_GOING_AWAY:
    return YZ__WS_CLOSE_GOING_AWAY;
  case YZ_CLOSE_PROTOCOL:
  case YZ_CLOSE_DECRYPT:
  case YZ_CLOSE_IDENTITY:
  case YZ_CLOSE_PEER_ID_MISMATCH:
  case YZ_CLOSE_NETWORK:
    return YZ__WS_CLOSE_PROTOCOL;
  case YZ_CLOSE_TOO_LARGE:
    return YZ__WS_CLOSE_TOO_BIG;
  case YZ_CLOSE_INTERNAL:
    return YZ__WS_CLOSE_UNEXPECTED;
  default:
    return YZ__WS_CLOSE_NORMAL;
  }
}

static void shutdown_done(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

/* End the connection politely: our Close (unless the peer's came and was
 * answered), our FIN, then read until the peer's FIN (or DRAIN_MS) so
 * that closing with unread input does not reset what we sent. */
static void conn_finish(nconn *c, uint16_t status) {
  if (c->handle_closing || c->state == NC_DRAIN)
    return;
  /* the link hears of it now: nothing more goes to or comes from it */
  conn_gone(c, YZ_E_IO, "the connection closed");
  if (c->state == NC_OPEN && !c->close_sent) {
    uint8_t st[2] = {(uint8_t)(status >> 8), (uint8_t)status};
    (void)send_frame(c, YZ__WS_OP_CLOSE, st, 2);
    c->close_sent = true;
  }
  c->state = NC_DRAIN;
  c->rx_dead = true;
  unpend(c);
  if (c->ssl != NULL) {
    (void)SSL_shutdown(c->ssl);
    (void)tls_flush(c);
  }
  uv_shutdown_t *sr = malloc(sizeof *sr);
  if (sr == NULL ||
      uv_shutdown(sr, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
    free(sr);
    conn_kill(c);
    return;
  }
  c->shut = true;
  set_deadline(c, DRAIN_MS);
}

/* Write what the link has queued, many messages per writev. */
static void pump(nconn *c) {
  yz_link *l = c->l;
  if (c->data_inflight || c->handle_closing || c->state != NC_OPEN)
    return;
  if (l == NULL)
    return;
  wreq *w = NULL;
  uv_buf_t bufs[WRITE_BATCH];
  size_t bytes = 0;
  unsigned n = 0;
  while (n < WRITE_BATCH && bytes < WRITE_BATCH_BYTES) {
    yz__qmsg *q = yz__link_conn_pop(l);
    if (q == NULL)
      break;
    if (w == NULL && (w = wreq_get()) == NULL) {
      yz__link_qmsg_free(q);
      yz__link_fail(l, YZ_E_NOMEM, "out of memory");
      return;
    }
    size_t fl;
    uint8_t *f = frame_msg(c, q, &fl);
    bufs[n] = uv_buf_init((char *)f, (unsigned)fl);
    w->q[n++] = q;
    bytes += fl;
  }
  if (n == 0) {
    wreq_put(w);
    if (c->closing)
      conn_finish(c, close_status(c, l));
    return;
  }
  w->c = c;
  w->nq = n;
  w->data = true;
  c->data_inflight = true;
  int rc;
  if (c->ssl != NULL) {
    rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
      rc = tls_write_all(c, (const uint8_t *)bufs[i].base, bufs[i].len);
    if (rc == 0)
      rc = tls_flush(c);
    /* the ciphertext is in its own buffer: complete the batch once it is
     * written, through a zero-length write queued behind it */
    uv_buf_t none = uv_buf_init((char *)w->q[0]->buf, 0);
    if (rc == 0 &&
        uv_write(&w->req, (uv_stream_t *)&c->tcp, &none, 1, data_written) !=
            0)
      rc = YZ_E_IO;
  } else {
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, data_written);
  }
  if (rc != 0) {
    for (unsigned i = 0; i < n; i++)
      yz__link_qmsg_free(w->q[i]);
    wreq_put(w);
    c->data_inflight = false;
    conn_gone(c, YZ_E_IO, "write failed");
    conn_kill(c);
  }
}

static void data_written(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  nconn *c = w->c;
  for (unsigned i = 0; i < w->nq; i++)
    yz__link_qmsg_free(w->q[i]);
  wreq_put(w);
  c->data_inflight = false;
  if (c->handle_closing)
    return;
  if (status != 0) {
    conn_gone(c, YZ_E_IO, "write failed");
    conn_kill(c);
    return;
  }
  yz_link *l = c->l;
  if (l == NULL)
    return;
  bool more = yz__link_conn_after_write(l);
  if (c->l != l)
    return; /* abandoned from a callback */
  if (more || c->closing)
    pump(c);
}

/* ------------------------------------------------------------------------ */
/* Input                                                                    */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  nconn *c = h->data;
  if (c->slen > 0 && c->ssl == NULL) {
    /* an incomplete frame or head: read straight behind it */
    buf->base = (char *)c->stash + c->slen;
    buf->len = c->scap - c->slen;
    return;
  }
  if (g.rbuf == NULL)
    g.rbuf = malloc(READ_SHARED);
  if (g.rbuf == NULL || g.rbuf_busy) {
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  g.rbuf_busy = true;
  buf->base = (char *)g.rbuf;
  buf->len = READ_SHARED;
}

/* Keep p[0..n) (an incomplete frame or head) for the next read, in a
 * buffer that holds need bytes at least (the whole frame; bounded by
 * YZ__WS_MAX_HEADER + YZ__WS_MAX_MESSAGE, or a head's cap). p may point
 * into the stash itself. */
static bool stash_keep(nconn *c, const uint8_t *p, size_t n, size_t need) {
  size_t want = need > n ? need : n;
  if (c->ssl == NULL && want < n + 4096)
    want = n + 4096; /* room to read into */
  bool inside = c->stash != NULL && p >= c->stash && p <= c->stash + c->scap;
  if (inside) {
    if (p != c->stash && n > 0)
      memmove(c->stash, p, n);
    if (want > c->scap) {
      uint8_t *s = realloc(c->stash, want);
      if (s == NULL)
        return false;
      c->stash = s;
      c->scap = want;
    }
  } else {
    if (want > c->scap) {
      free(c->stash);
      c->stash = malloc(want);
      c->scap = c->stash != NULL ? want : 0;
      if (c->stash == NULL)
        return false;
    }
    if (n > 0)
      memcpy(c->stash, p, n);
  }
  c->slen = n;
  return true;
}

static void stash_drop(nconn *c) {
  free(c->stash);
  c->stash = NULL;
  c->slen = c->scap = 0;
}

static const char http_404[] = "HTTP/1.1 404 Not Found\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
static const char http_400[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n";

/* A refusal before the upgrade: an answer (or none), then the end. */
static void refuse(nconn *c, const char *answer) {
  if (answer != NULL)
    (void)send_bytes(c, (const uint8_t *)answer, strlen(answer));
  conn_finish(c, 0);
}

/* Server: the request head p[0..n). Returns true if the connection is a
 * link now. */
static bool server_head(nconn *c, const uint8_t *p, size_t n) {
  yz_link_manager *m = c->ls != NULL ? c->ls->m : NULL;
  if (m == NULL || c->killed) {
    refuse(c, NULL);
    return false;
  }
  yz__http1_request rq;
  const char *why = NULL;
  int rc = yz__http1_parse_request(&rq, p, n, &why);
  if (rc != 0) {
    refuse(c, rc == YZ_E_MALFORMED || rc == YZ_E_TOO_LARGE ? http_400 : NULL);
    return false;
  }
  if (rq.kind == YZ__HTTP1_PLAIN) {
    /* answered and closed: never kept alive (it would hold a handshake
     * slot) */
    refuse(c, http_404);
    return false;
  }
  if (rq.kind != YZ__HTTP1_WEBSOCKET) {
    /* h2c or another protocol: HTTP/2 is never spoken (DESIGN.md) */
    refuse(c, NULL);
    return false;
  }
  if (!rq.has_subprotocol) {
    yz__link_refused(m, YZ_LINK_REFUSED_SUBPROTOCOL);
    refuse(c, NULL);
    return false;
  }
  /* the limits again, before any DH work (as ws.c's protocol filter) */
  uint32_t pending = native_pending(m);
  if (pending > 0)
    pending--; /* not itself */
  if (!yz__link_admit(m, NULL, 0, c->remote, pending)) {
    refuse(c, NULL);
    return false;
  }
  char acc[YZ__HTTP1_ACCEPT_LEN + 1];
  if (yz__http1_accept(rq.key, acc) != 0) {
    refuse(c, NULL);
    return false;
  }
  char resp[256];
  int rl = snprintf(resp, sizeof resp,
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n"
                    "Sec-WebSocket-Protocol: " YZ_SESSION_WS_SUBPROTOCOL
                    "\r\n\r\n",
                    acc);
  if (send_bytes(c, (const uint8_t *)resp, (size_t)rl) != 0) {
    conn_kill(c);
    return false;
  }
  yz__link_src src;
  memcpy(src.ip, c->ip, sizeof src.ip);
  src.ip_len = (uint8_t)c->ip_len;
  unpend(c);
  c->state = NC_OPEN;
  yz__ws_rx_init(&c->rx, true);
  yz_link *l = yz__link_inbound_at(m, c, c->remote, c->ls->tls, &src,
                                   c->accepted_ms);
  if (l == NULL || l->conn_gone || l->conn != c) {
    conn_finish(c, YZ__WS_CLOSE_GOING_AWAY);
    return false;
  }
  c->l = l;
  c->m = m;
  sweep_arm();
  pump(c);
  return c->l == l && !c->handle_closing;
}

/* Client: the response head. */
static bool client_head(nconn *c, const uint8_t *p, size_t n) {
  unsigned status = 0;
  bool proto = false;
  const char *why = NULL;
  int rc = yz__http1_parse_response(p, n, c->accept, &status, &proto, &why);
  char text[200];
  if (rc == 0 && !proto) {
    conn_gone(c, YZ_E_VERSION,
              "the peer answered the WebSocket upgrade without the "
              "subprotocol " YZ_SESSION_WS_SUBPROTOCOL
              ": not a yz node, or another protocol version");
    conn_kill(c);
    return false;
  }
  if (rc != 0) {
    if (status != 0 && status != 101)
      snprintf(text, sizeof text,
               "refused by the peer before the WebSocket upgrade (its "
               "limits?): HTTP status %u",
               status);
    else
      snprintf(text, sizeof text,
               "refused by the peer before the WebSocket upgrade (its "
               "limits?): %s",
               why != NULL ? why : "a malformed answer");
    conn_gone(c, YZ_E_UNREACHABLE, text);
    conn_kill(c);
    return false;
  }
  c->state = NC_OPEN;
  c->timed = false;
  yz__ws_rx_init(&c->rx, false);
  yz_link *l = c->l;
  if (l == NULL) {
    conn_kill(c);
    return false;
  }
  l->conn = c;
  yz__link_conn_up(l, c->remote);
  return c->l == l && !c->handle_closing;
}

/* A framing error: the link closes with the error's status. */
static void frame_error(nconn *c, int err, const char *why, uint16_t st) {
  c->rx_dead = true;
  c->fail_status = st;
  if (c->l != NULL && !yz__link_is_closing(c->l)) {
    yz__link_fail(c->l, err, why);
  } else {
    conn_finish(c, st);
  }
}

/* The peer's Close: answer it (RFC 6455 5.5.1, echoing its status) and
 * end; the manager reports YZ_E_PEER_CLOSED unless a CLOSE came first. */
static void peer_close(nconn *c, uint16_t st) {
  c->rx_dead = true;
  if (c->l != NULL)
    c->l->peer_ws_close = true;
  if (!c->close_sent) {
    uint8_t b[2] = {(uint8_t)(st >> 8), (uint8_t)st};
    (void)send_frame(c, YZ__WS_OP_CLOSE, b,
                     st == YZ__WS_CLOSE_NO_STATUS ? 0 : 2);
    c->close_sent = true;
  }
  conn_gone(c, YZ_E_IO, "the connection closed");
  conn_finish(c, st);
}

/* WebSocket frames in p[0..n); what is left of an incomplete one is
 * stashed. */
static void frames(nconn *c, uint8_t *p, size_t n) {
  while (n > 0 && !c->rx_dead && !c->handle_closing) {
    yz__ws_ev ev;
    bool got;
    size_t need;
    const char *why = NULL;
    uint16_t st = 0;
    int k = yz__ws_rx_next(&c->rx, p, n, &ev, &got, &need, &why, &st);
    if (k < 0) {
      frame_error(c, k == YZ_E_TOO_LARGE ? YZ_E_TOO_LARGE : YZ_E_MALFORMED,
                  why, st);
      return;
    }
    if (k == 0) {
      if (!stash_keep(c, p, n, need))
        frame_error(c, YZ_E_NOMEM, "out of memory",
                    YZ__WS_CLOSE_UNEXPECTED);
      return;
    }
    p += k;
    n -= (size_t)k;
    if (!got)
      continue;
    yz_link *l = c->l;
    switch (ev.type) {
    case YZ__WS_EV_MESSAGE:
      if (l == NULL || yz__link_is_closing(l))
        break; /* draining: ignore input */
      if (ev.text) {
        c->fail_status = YZ__WS_CLOSE_PROTOCOL;
        yz__link_fail(l, YZ_E_MALFORMED, "a text WebSocket message");
        return;
      }
      /* decrypted where it lies: the shared receive buffer, the
       * connection's stash or the receiver's reassembly (all ours) */
      yz__link_conn_recv_inplace(l, ev.data, ev.len);
      break;
    case YZ__WS_EV_PING:
      /* One Pong in flight at most: a peer that pings and never reads
       * must not grow our write queue. RFC 6455 5.5.3 lets an endpoint
       * answer only the most recent of several Pings; we answer the
       * first, which is as good for a liveness check. */
      if (!c->close_sent && !c->pong_inflight &&
          send_frame(c, YZ__WS_OP_PONG, ev.data, ev.len) == 0)
        c->pong_inflight = last_pong(c);
      break;
    case YZ__WS_EV_PONG:
      break;
    case YZ__WS_EV_CLOSE:
      peer_close(c, ev.status);
      return;
    }
  }
}

/* Plaintext input p[0..n) (mutable: frames are unmasked in place). */
static void conn_input(nconn *c, uint8_t *p, size_t n) {
  c->slen = 0; /* what is left over is stashed again below */
  if (c->state == NC_HTTP) {
    int hl = yz__http1_head_len(p, n);
    if (hl == 0) {
      if (!stash_keep(c, p, n, n + 1))
        conn_kill(c);
      return;
    }
    if (hl < 0) {
      if (c->server)
        refuse(c, hl == YZ_E_TOO_LARGE ? http_400 : NULL);
      else {
        conn_gone(c, YZ_E_UNREACHABLE,
                  "refused by the peer before the WebSocket upgrade (its "
                  "limits?): a malformed answer");
        conn_kill(c);
      }
      return;
    }
    bool ok = c->server ? server_head(c, p, (size_t)hl)
                        : client_head(c, p, (size_t)hl);
    if (!ok)
      return;
    p += hl;
    n -= (size_t)hl;
  }
  if (c->state == NC_OPEN)
    frames(c, p, n);
}

static void tls_input(nconn *c, const uint8_t *p, size_t n);

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nconn *c = s->data;
  bool shared = buf->base == (char *)g.rbuf && g.rbuf != NULL;
  if (nread <= 0) {
    if (shared)
      g.rbuf_busy = false;
    if (nread == 0)
      return;
    /* EOF or an error */
    if (c->state == NC_DRAIN) {
      conn_kill(c);
      return;
    }
    if (nread == UV_ENOBUFS) {
      conn_gone(c, YZ_E_NOMEM, "out of memory");
      conn_kill(c);
      return;
    }
    conn_gone(c, YZ_E_IO, "the connection closed");
    conn_kill(c);
    return;
  }
  if (c->state == NC_DRAIN || c->handle_closing) {
    if (shared)
      g.rbuf_busy = false;
    return;
  }
  if (c->ssl != NULL) {
    tls_input(c, (const uint8_t *)buf->base, (size_t)nread);
  } else if (shared) {
    conn_input(c, (uint8_t *)buf->base, (size_t)nread);
  } else {
    c->slen += (size_t)nread;
    size_t n = c->slen;
    conn_input(c, c->stash, n);
  }
  if (shared)
    g.rbuf_busy = false;
  /* keep idle connections small: no buffer between frames */
  if (c->slen == 0 && c->stash != NULL && !c->handle_closing)
    stash_drop(c);
}

/* ------------------------------------------------------------------------ */
/* TLS (OpenSSL, memory BIOs)                                               */

static void tls_log_errors(const char *what) {
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    yz_log(YZ_LOG_DEBUG, "%s: %s", what, buf);
  }
}

static SSL_CTX *tls_ctx_new(bool server) {
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == NULL)
    return NULL;
  /* TLS 1.2 and later only */
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  return ctx;
}

/* ALPN: http/1.1 only (HTTP/2 is never spoken). A client offering only
 * h2 gets no ALPN answer, and then speaks HTTP/1.1 or nothing. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char want[] = "\x08http/1.1";
  unsigned char *o = NULL;
  if (SSL_select_next_proto(&o, outlen, want, sizeof want - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = o;
  return SSL_TLSEXT_ERR_OK;
}

static int tls_attach(nconn *c, SSL_CTX *ctx, const char *sni) {
  c->ssl = SSL_new(ctx);
  BIO *inner = NULL;
  if (c->ssl == NULL || BIO_new_bio_pair(&inner, 80 * 1024, &c->wbio, 0) != 1) {
    return YZ_E_NOMEM;
  }
  c->rbio = c->wbio; /* one pair: we write network input to it, read output */
  SSL_set_bio(c->ssl, inner, inner);
  if (c->server) {
    SSL_set_accept_state(c->ssl);
  } else {
    SSL_set_connect_state(c->ssl);
    if (sni != NULL)
      SSL_set_tlsext_host_name(c->ssl, sni);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
  }
  c->state = NC_TLS;
  return 0;
}

static void send_upgrade(nconn *c);

/* Network bytes in: feed TLS, run its handshake, read plaintext. */
static void tls_input(nconn *c, const uint8_t *p, size_t n) {
  while (n > 0 && !c->handle_closing) {
    int w = BIO_write(c->rbio, p, (int)n);
    if (w <= 0)
      break;
    p += w;
    n -= (size_t)w;
    if (c->state == NC_TLS) {
      int r = SSL_do_handshake(c->ssl);
      (void)tls_flush(c);
      if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
          continue;
        char text[200];
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK)
          snprintf(text, sizeof text, "cannot connect: TLS: %s",
                   X509_verify_cert_error_string(vr));
        else
          snprintf(text, sizeof text, "cannot connect: TLS handshake failed");
        tls_log_errors("tls");
        if (c->server)
          refuse(c, NULL);
        else {
          conn_gone(c, YZ_E_TLS, text);
          conn_kill(c);
        }
        return;
      }
      c->state = NC_HTTP;
      if (!c->server)
        send_upgrade(c);
    }
    /* plaintext: into the stash, behind what is kept there */
    for (;;) {
      if (c->handle_closing || c->state == NC_DRAIN || c->state == NC_TLS)
        break;
      if (c->scap - c->slen < 16384 &&
          !stash_keep(c, c->stash, c->slen, c->slen + 65536)) {
        conn_kill(c);
        return;
      }
      int r = SSL_read(c->ssl, c->stash + c->slen, (int)(c->scap - c->slen));
      if (r <= 0) {
        int e = SSL_get_error(c->ssl, r);
        (void)tls_flush(c);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
          break;
        if (e == SSL_ERROR_ZERO_RETURN && c->state != NC_DRAIN) {
          conn_gone(c, YZ_E_IO, "the connection closed");
        } else {
          conn_gone(c, YZ_E_TLS, "TLS error");
        }
        conn_kill(c);
        return;
      }
      c->slen += (size_t)r;
      /* conn_input stashes (moves to the front) what is incomplete */
      conn_input(c, c->stash, c->slen);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Inbound                                                                  */

static void on_connection(uv_stream_t *server, int status) {
  nlisten *ls = server->data;
  if (status != 0)
    return;
  nconn *c = conn_new();
  if (c == NULL)
    return;
  c->server = true;
  c->ls = ls;
  if (uv_tcp_init(g.loop, &c->tcp) != 0) {
    conn_free(c);
    return;
  }
  c->tcp_open = true;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_kill(c);
    return;
  }
  conn_peer(c);
  yz_link_manager *m = ls->m;
  /* before anything is read from the socket: the cheapest refusal */
  if (m == NULL || !yz__link_admit(m, c->ip_len > 0 ? c->ip : NULL,
                                   c->ip_len, c->remote, native_pending(m))) {
    conn_kill(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->accepted_ms = yz__link_now(m);
  c->state = NC_HTTP;
  pend_add(c);
  if (ls->tls && tls_attach(c, ls->ctx, NULL) != 0) {
    conn_kill(c);
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
    conn_kill(c);
    return;
  }
  sweep_arm();
}

/* ------------------------------------------------------------------------ */
/* Outbound                                                                 */

static void send_upgrade(nconn *c) {
  yz_link *l = c->l;
  if (l == NULL || l->dial_addr == NULL) {
    conn_kill(c);
    return;
  }
  const yz_address *u = l->dial_addr;
  uint8_t raw[16];
  char key[YZ__HTTP1_KEY_LEN + 1];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(key, sizeof key, raw, sizeof raw,
                    sodium_base64_VARIANT_ORIGINAL);
  if (yz__http1_accept(key, c->accept) != 0) {
    conn_gone(c, YZ_E_IO, "cannot make a WebSocket key");
    conn_kill(c);
    return;
  }
  bool v6 = u->host_type == YZ_ADDRESS_IPV6;
  char req[YZ_ADDRESS_PATH_MAX + YZ_ADDRESS_HOST_MAX + 320];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s%s%s:%u\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: " YZ_SESSION_WS_SUBPROTOCOL
                   "\r\n\r\n",
                   u->path[0] != '\0' ? u->path : "/", v6 ? "[" : "", u->host,
                   v6 ? "]" : "", (unsigned)u->port, key);
  if (n <= 0 || (size_t)n >= sizeof req ||
      send_bytes(c, (const uint8_t *)req, (size_t)n) != 0) {
    conn_gone(c, YZ_E_IO, "cannot send the upgrade request");
    conn_kill(c);
    return;
  }
  /* the connection (and TLS) is up: a failure from now on is the peer
   * refusing the upgrade */
  l->upgrade_sent = true;
}

/* YZ_LINK_TLS_ALLOW_SELFSIGNED: the chain is verified as usual, except
 * that a self-signed certificate (or a chain ending in one) is accepted;
 * expiry, purpose and the host name are still checked. */
static int allow_selfsigned(int ok, X509_STORE_CTX *x) {
  if (ok == 1)
    return 1;
  switch (X509_STORE_CTX_get_error(x)) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return 1;
  default:
    return 0;
  }
}

/* The manager's client TLS context for a dial's tls_flags, made once. */
static SSL_CTX *client_ctx(yz_link_manager *m, unsigned flags) {
  nstate *st = m->be_state;
  bool insecure = (flags & YZ_LINK_TLS_INSECURE) != 0;
  bool selfsigned = !insecure && (flags & YZ_LINK_TLS_ALLOW_SELFSIGNED) != 0;
  SSL_CTX **slot = insecure     ? &st->insecure_ctx
                   : selfsigned ? &st->selfsigned_ctx
                                : &st->verify_ctx;
  if (*slot != NULL)
    return *slot;
  SSL_CTX *ctx = tls_ctx_new(false);
  if (ctx == NULL)
    return NULL;
  if (insecure) {
    /* any certificate: the Noise handshake still authenticates the node
     * ID (yz/link.h) */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER,
                       selfsigned ? allow_selfsigned : NULL);
    int ok = m->cfg.tls_ca_file != NULL
                 ? SSL_CTX_load_verify_locations(ctx, m->cfg.tls_ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
      tls_log_errors("tls ca");
      SSL_CTX_free(ctx);
      return NULL;
    }
  }
  *slot = ctx;
  return ctx;
}

static void on_connect(uv_connect_t *req, int status) {
  nconn *c = req->data;
  if (c->handle_closing)
    return;
  if (status != 0) {
    char text[160];
    snprintf(text, sizeof text, "cannot connect: %s", uv_strerror(status));
    conn_gone(c, YZ_E_UNREACHABLE, text);
    conn_kill(c);
    return;
  }
  yz_link *l = c->l;
  if (l == NULL) {
    conn_kill(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_peer(c);
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
    conn_gone(c, YZ_E_IO, "cannot read");
    conn_kill(c);
    return;
  }
  if (l->tls) {
    const yz_address *u = l->dial_addr;
    unsigned flags = l->dial_opts.tls_flags;
    SSL_CTX *ctx = client_ctx(c->m, flags);
    if (ctx == NULL || tls_attach(c, ctx, u != NULL &&
                                              u->host_type ==
                                                  YZ_ADDRESS_DNS
                                          ? u->host
                                          : NULL) != 0) {
      conn_gone(c, YZ_E_TLS, "cannot connect: TLS setup failed");
      conn_kill(c);
      return;
    }
    if (!(flags & (YZ_LINK_TLS_INSECURE | YZ_LINK_TLS_SKIP_HOSTNAME_CHECK)) &&
        u != NULL) {
      /* RFC 6125 name or IP check of the server certificate */
      X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
      if (u->host_type == YZ_ADDRESS_DNS)
        X509_VERIFY_PARAM_set1_host(vp, u->host, 0);
      else
        X509_VERIFY_PARAM_set1_ip_asc(vp, u->host);
    }
    int r = SSL_do_handshake(c->ssl);
    (void)r;
    (void)tls_flush(c);
    return;
  }
  c->state = NC_HTTP;
  send_upgrade(c);
}

static void start_connect(nconn *c, const struct sockaddr *sa) {
  if (uv_tcp_init(g.loop, &c->tcp) != 0) {
    conn_gone(c, YZ_E_IO, "cannot make a socket");
    conn_kill(c);
    return;
  }
  c->tcp_open = true;
  c->state = NC_CONNECTING;
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
  if (rc != 0) {
    char text[160];
    snprintf(text, sizeof text, "cannot connect: %s", uv_strerror(rc));
    conn_gone(c, YZ_E_UNREACHABLE, text);
    conn_kill(c);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  nconn *c = req->data;
  free(req);
  c->gai = NULL;
  if (c->handle_closing) {
    uv_freeaddrinfo(res);
    if (!c->tcp_open) {
      conn_free(c);
      teardown_check();
    }
    return;
  }
  if (status != 0 || res == NULL) {
    char text[160];
    snprintf(text, sizeof text, "cannot connect: %s",
             status != 0 ? uv_strerror(status) : "no address");
    uv_freeaddrinfo(res);
    conn_gone(c, YZ_E_UNREACHABLE, text);
    conn_kill(c);
    return;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, res->ai_addr, res->ai_addrlen);
  uv_freeaddrinfo(res);
  start_connect(c, (const struct sockaddr *)&ss);
}

/* ------------------------------------------------------------------------ */
/* Sweep: deadlines                                                         */

static void sweep_cb(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_now(g.loop);
  nconn *next;
  for (nconn *c = g.conns; c != NULL; c = next) {
    next = c->next;
    if (c->handle_closing)
      continue;
    if (c->pending && !c->killed && c->ls != NULL && c->ls->m != NULL) {
      yz_link_manager *m = c->ls->m;
      if (yz__link_now(m) - c->accepted_ms < m->cfg.handshake_timeout_ms)
        continue;
      c->killed = true;
      m->stats.upgrade_timeouts++;
      conn_kill(c); /* no answer: it sent no (whole) request in time */
      continue;
    }
    if (!c->timed || c->deadline > now)
      continue;
    c->timed = false;
    if (c->state == NC_DRAIN) {
      conn_kill(c);
    } else if (c->closing) {
      /* the peer does not read: give up the flush */
      conn_gone(c, YZ_E_IO, "the connection closed");
      conn_finish(c, YZ__WS_CLOSE_GOING_AWAY);
    } else if (c->state != NC_OPEN) {
      conn_gone(c, YZ_E_UNREACHABLE, "cannot connect: timed out");
      conn_kill(c);
    }
  }
  sweep_arm();
}

/* ------------------------------------------------------------------------ */
/* Backend ops                                                              */

static void listener_closed(uv_handle_t *h) {
  nlisten *ls = h->data;
  free(ls->cert);
  free(ls->key);
  if (ls->ctx != NULL)
    SSL_CTX_free(ls->ctx);
  free(ls);
  g.closing_handles--;
  teardown_check();
}

static void sweep_closed(uv_handle_t *h) {
  (void)h;
  g.closing_handles--;
  teardown_check();
}

/* The last manager went: once every handle is closed, the loop is the
 * caller's again. */
static void teardown_check(void) {
  if (!g.tearing_down || g.closing_handles > 0 || g.conns != NULL)
    return;
  g.tearing_down = false;
  g.loop = NULL;
  free(g.rbuf);
  g.rbuf = NULL;
  wreqs_free();
  struct ndetach *d = g.detaching;
  g.detaching = NULL;
  while (d != NULL) {
    struct ndetach *n = d->next;
    if (d->done != NULL)
      d->done(d->m);
    free(d);
    d = n;
  }
}

static int native_attach(yz_link_manager *m) {
  if (g.tearing_down || (g.loop != NULL && g.loop != m->loop))
    return YZ_E_STATE;
  nstate *st = calloc(1, sizeof *st);
  if (st == NULL)
    return YZ_E_NOMEM;
  if (g.refs == 0) {
    /* libuv writes with writev(): a peer that reset the connection would
     * kill the process with SIGPIPE. Ignore it process-wide, as
     * libwebsockets does when it makes its context (TOOLCHAIN.md 2),
     * unless the program installed a handler of its own. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
      signal(SIGPIPE, SIG_IGN);
    g.loop = m->loop;
    uv_timer_init(g.loop, &g.sweep);
    g.sweep_open = true;
  }
  g.refs++;
  m->be_state = st;
  return 0;
}

static void native_detach(yz_link_manager *m,
                          void (*done)(yz_link_manager *m)) {
  nstate *st = m->be_state;
  m->be_state = NULL;
  if (st != NULL) {
    if (st->verify_ctx != NULL)
      SSL_CTX_free(st->verify_ctx);
    if (st->selfsigned_ctx != NULL)
      SSL_CTX_free(st->selfsigned_ctx);
    if (st->insecure_ctx != NULL)
      SSL_CTX_free(st->insecure_ctx);
    free(st);
  }
  /* its listeners stay bound, refusing, for a later listen to take over;
   * its connections not upgraded yet go now */
  for (nlisten *ls = g.listeners; ls != NULL; ls = ls->next)
    if (ls->m == m)
      ls->m = NULL;
  nconn *next;
  for (nconn *c = g.conns; c != NULL; c = next) {
    next = c->next;
    if ((c->ls != NULL && c->ls->m == NULL && c->pending) || c->m == m) {
      conn_gone(c, YZ_E_CLOSED, "closed");
      conn_kill(c);
    }
  }
  if (--g.refs > 0) {
    if (done != NULL)
      done(m);
    return;
  }
  struct ndetach *d = malloc(sizeof *d);
  if (d == NULL) {
    /* cannot wait: finish what can be */
    if (done != NULL)
      done(m);
  } else {
    d->m = m;
    d->done = done;
    d->next = g.detaching;
    g.detaching = d;
  }
  g.tearing_down = true;
  for (nconn *c = g.conns; c != NULL; c = next) {
    next = c->next;
    conn_kill(c);
  }
  for (nlisten *ls = g.listeners; ls != NULL; ls = ls->next) {
    g.closing_handles++;
    uv_close((uv_handle_t *)&ls->tcp, listener_closed);
  }
  g.listeners = NULL;
  if (g.sweep_open) {
    g.sweep_open = false;
    g.closing_handles++;
    uv_close((uv_handle_t *)&g.sweep, sweep_closed);
  }
  if (d == NULL)
    return;
  teardown_check();
}

static bool same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static int native_listen(yz_link_manager *m, const yz_address *u,
                         const yz_link_listen_config *lc,
                         uint16_t *port_out) {
  const char *cert = u->tls ? lc->tls_cert_file : NULL;
  const char *key = u->tls ? lc->tls_key_file : NULL;
  if (u->tls && (cert == NULL || key == NULL))
    return YZ_E_INVAL;
  /* a closed manager's listener with the same settings: take it over */
  for (nlisten *ls = g.listeners; ls != NULL; ls = ls->next) {
    if (ls->m != NULL || ls->tls != u->tls || u->port == 0 ||
        ls->port != u->port || strcmp(ls->iface, u->host) != 0 ||
        !same_str(ls->cert, cert) || !same_str(ls->key, key))
      continue;
    ls->m = m;
    if (port_out != NULL)
      *port_out = ls->port;
    yz_log(YZ_LOG_NOTICE, "listening on %s://%s:%u (again)",
           u->tls ? "wss" : "ws", u->host, (unsigned)ls->port);
    return 0;
  }
  nlisten *ls = calloc(1, sizeof *ls);
  if (ls == NULL)
    return YZ_E_NOMEM;
  ls->magic = NL_MAGIC;
  ls->tls = u->tls;
  snprintf(ls->iface, sizeof ls->iface, "%s", u->host);
  ls->cert = cert != NULL ? strdup(cert) : NULL;
  ls->key = key != NULL ? strdup(key) : NULL;
  if ((cert != NULL && ls->cert == NULL) || (key != NULL && ls->key == NULL)) {
    free(ls->cert);
    free(ls->key);
    free(ls);
    return YZ_E_NOMEM;
  }
  if (u->tls) {
    ls->ctx = tls_ctx_new(true);
    if (ls->ctx == NULL ||
        SSL_CTX_use_certificate_chain_file(ls->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ls->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ls->ctx) != 1) {
      tls_log_errors("tls cert");
      yz_log(YZ_LOG_ERR, "cannot listen on %s: cannot load %s or %s",
             lc->url, cert, key);
      if (ls->ctx != NULL)
        SSL_CTX_free(ls->ctx);
      free(ls->cert);
      free(ls->key);
      free(ls);
      return YZ_E_IO;
    }
    SSL_CTX_set_alpn_select_cb(ls->ctx, alpn_select, NULL);
  }
  struct sockaddr_storage ss;
  int rc;
  if (u->host_type == YZ_ADDRESS_IPV6)
    rc = uv_ip6_addr(u->host, u->port, (struct sockaddr_in6 *)&ss);
  else
    rc = uv_ip4_addr(u->host, u->port, (struct sockaddr_in *)&ss);
  if (rc == 0)
    rc = uv_tcp_init(g.loop, &ls->tcp);
  if (rc != 0) {
    yz_log(YZ_LOG_ERR, "cannot listen on %s: %s", lc->url, uv_strerror(rc));
    if (ls->ctx != NULL)
      SSL_CTX_free(ls->ctx);
    free(ls->cert);
    free(ls->key);
    free(ls);
    return YZ_E_IO;
  }
  ls->tcp.data = ls;
  ls->next = g.listeners;
  g.listeners = ls;
  /* "[::]" takes IPv4 too (dual stack), as libwebsockets' listener on all
   * interfaces does */
  rc = uv_tcp_bind(&ls->tcp, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&ls->tcp, 511, on_connection);
  if (rc != 0) {
    yz_log(YZ_LOG_ERR,
           "cannot listen on %s: cannot bind %s port %u (%s)", lc->url,
           u->host, (unsigned)u->port, uv_strerror(rc));
    g.listeners = ls->next;
    g.closing_handles++;
    uv_close((uv_handle_t *)&ls->tcp, listener_closed);
    return YZ_E_IO;
  }
  struct sockaddr_storage bound;
  int bl = sizeof bound;
  uv_tcp_getsockname(&ls->tcp, (struct sockaddr *)&bound, &bl);
  ls->port = ntohs(bound.ss_family == AF_INET6
                       ? ((struct sockaddr_in6 *)&bound)->sin6_port
                       : ((struct sockaddr_in *)&bound)->sin_port);
  ls->m = m;
  if (port_out != NULL)
    *port_out = ls->port;
  yz_log(YZ_LOG_NOTICE, "listening on %s://%s:%u", u->tls ? "wss" : "ws",
         u->host, (unsigned)ls->port);
  return 0;
}

static int native_dial(yz_link_manager *m, yz_link *l, const yz_address *u,
                       const yz_link_dial_opts *opts) {
  (void)opts;
  nconn *c = conn_new();
  if (c == NULL)
    return YZ_E_NOMEM;
  c->mg = malloc(sizeof *c->mg);
  if (c->mg == NULL) {
    conn_free(c);
    return YZ_E_NOMEM;
  }
  yz__ws_maskgen_init(c->mg);
  c->m = m;
  c->l = l;
  l->conn = c;
  snprintf(c->remote, sizeof c->remote, "%s", l->remote);
  set_deadline(c, m->cfg.handshake_timeout_ms > 0 ? m->cfg.handshake_timeout_ms
                                                  : DIAL_MS_DEFAULT);
  struct sockaddr_storage ss;
  if (u->host_type == YZ_ADDRESS_IPV6 &&
      uv_ip6_addr(u->host, u->port, (struct sockaddr_in6 *)&ss) == 0) {
    start_connect(c, (const struct sockaddr *)&ss);
    return 0;
  }
  if (u->host_type == YZ_ADDRESS_IPV4 &&
      uv_ip4_addr(u->host, u->port, (struct sockaddr_in *)&ss) == 0) {
    start_connect(c, (const struct sockaddr *)&ss);
    return 0;
  }
  /* a DNS name */
  c->gai = malloc(sizeof *c->gai);
  if (c->gai == NULL) {
    c->l = NULL;
    l->conn = NULL;
    conn_free(c);
    return YZ_E_NOMEM;
  }
  c->gai->data = c;
  c->state = NC_RESOLVING;
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)u->port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(g.loop, c->gai, on_resolved, u->host, port, &hints);
  if (rc != 0) {
    free(c->gai);
    c->gai = NULL;
    char text[160];
    snprintf(text, sizeof text, "cannot connect: %s", uv_strerror(rc));
    conn_gone(c, YZ_E_UNREACHABLE, text);
    conn_kill(c);
  }
  return 0;
}

static void native_want_write(yz_link *l) {
  nconn *c = l->conn;
  if (c != NULL && c->l == l)
    pump(c);
}

static void native_close(yz_link *l, bool flush) {
  nconn *c = l->conn;
  if (c == NULL || c->l != l || c->closing)
    return;
  c->closing = true;
  set_deadline(c, flush ? FLUSH_MS : DRAIN_MS);
  if (c->state != NC_OPEN) {
    /* not upgraded yet: nothing to flush */
    conn_gone(c, YZ_E_IO, "the connection closed");
    conn_kill(c);
    return;
  }
  pump(c);
}

static void native_abandon(yz_link *l) {
  nconn *c = l->conn;
  if (c == NULL || c->l != l)
    return;
  c->l = NULL;
  c->m = NULL;
  conn_kill(c);
}

const yz__link_backend_ops yz__link_native_backend = {
    .name = "native",
    .attach = native_attach,
    .detach = native_detach,
    .listen = native_listen,
    .dial = native_dial,
    .want_write = native_want_write,
    .close = native_close,
    .abandon = native_abandon,
    .pending = native_pending,
    .pending_from = native_pending_from,
};
