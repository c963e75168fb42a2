/*
 * ws.c: the WebSocket backend on libwebsockets 4.1.6 with the caller's
 * libuv loop (a foreign loop). See ../shared/TOOLCHAIN.md section 2.
 *
 * One lws context per process (two TLS contexts leak in OpenSSL, pitfall
 * 2.2), shared and refcounted by every manager: each listener is a vhost,
 * and each manager has one non-listening client vhost for its dials (a
 * separate vhost is the only way to give dials their own CA, pitfall 2.3).
 *
 * A vhost outlives the manager that created it: lws destroys vhosts lazily
 * (a listener's part 2 waits for lws's deferred-free sweep), and a listener
 * being destroyed may still hold or share its port. So a closed manager's
 * vhosts stay, refusing every connection, and a later listen or manager
 * with the same settings takes them over: a node restarted in the same
 * process gets its port back at once. They all go with the context.
 *
 * Teardown of the context is two-phase with a drain in between: the first
 * lws_context_destroy() starts closing lws's uv handles; once none of the
 * loop's handles is still closing, the second lws_context_destroy() frees
 * the context (context pointer NULL through pcontext).
 */
#include "link/internal.h"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(LWS_PRE == YZ__LINK_HEADROOM, "LWS_PRE changed");

/* Per vhost: which manager it serves. Outlives the manager (lws may call
 * back for a destroyed vhost's wsi until the context goes); freed with the
 * context. */
#define VH_MAGIC 0x74736f68u

typedef struct vh_ref {
  uint32_t magic;     /* VH_MAGIC */
  uint32_t pending;   /* connections accepted, not yet upgraded */
  yz_link_manager *m; /* NULL: unused, refuses every connection */
  struct lws_vhost *vh;
  bool tls;
  bool listening;
  uint16_t port;      /* the bound port of a listener */
  char iface[YZ_ADDRESS_HOST_MAX + 3];
  char *cert, *key, *ca; /* what it was created with (NULL: none) */
  struct vh_ref *next;
} vh_ref;

/* An inbound connection accepted and not upgraded yet (the connection's
 * user pointer until then). Its deadline runs from the TCP accept,
 * whatever the peer sends (an HTTP request every few seconds on a
 * keep-alive connection would otherwise hold its handshake slot for
 * ever); the session's handshake timeout then gets what is left of it. */
#define PEND_MAGIC 0x646e6570u

typedef struct pend {
  uint32_t magic; /* PEND_MAGIC */
  bool killed;    /* its deadline passed: being closed */
  vh_ref *v;
  struct lws *wsi;
  uint64_t accepted_ms; /* yz__link_now() of its manager at accept */
  uint8_t ip[16];       /* the source (IPv4 address or IPv6 /64) */
  size_t ip_len;
  char remote[YZ_LINK_ADDR_TEXT_MAX]; /* its text, read once at accept */
  struct pend *prev, *next;           /* g.pend */
} pend;

/* A manager's backend state. */
typedef struct ws_state {
  vh_ref *client; /* the dial vhost */
} ws_state;

/* The process's context. */
static struct {
  struct lws_context *ctx;
  uv_loop_t *loop;
  unsigned refs;
  unsigned vh_serial;
  vh_ref *vhosts;
  /* connections not upgraded yet, oldest first, and the timer of their
   * deadlines */
  pend *pend_head, *pend_tail;
  uv_timer_t sweep;
  bool sweep_open;
  /* teardown */
  bool tearing_down;
  uv_timer_t td_timer;
  int td_phase;
  struct pending_detach {
    yz_link_manager *m;
    void (*done)(yz_link_manager *m);
    struct pending_detach *next;
  } *pending;
} g;

static yz_log_ratelimit lws_log_rl = YZ_LOG_RATELIMIT_INIT(20, 10000);

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
    {YZ_SESSION_WS_SUBPROTOCOL, ws_callback, 0,
     4096 /* rx_buffer_size: small per-link buffer; messages are
             reassembled in pieces */,
     0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ------------------------------------------------------------------------ */
/* lws logs into yz_log, rate-limited (peers can trigger some lines)        */

static void lws_emit(int level, const char *line) {
  yz_log_level l = YZ_LOG_DEBUG;
  if (level & LLL_ERR)
    l = YZ_LOG_ERR;
  else if (level & LLL_WARN)
    l = YZ_LOG_WARN;
  else if (level & LLL_NOTICE)
    l = YZ_LOG_NOTICE;
  else if (level & LLL_INFO)
    l = YZ_LOG_INFO;
  char buf[512];
  snprintf(buf, sizeof buf, "lws: %s", line);
  size_t n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  uint64_t now = g.loop != NULL ? uv_now(g.loop) : 0;
  yz_log_rl(&lws_log_rl, now, l, "%s", buf);
}

static int lws_levels(void) {
  int lv = LLL_ERR | LLL_WARN;
  yz_log_level y = yz_log_get_level();
  if (y >= YZ_LOG_NOTICE)
    lv |= LLL_NOTICE;
  if (y >= YZ_LOG_DEBUG)
    lv |= LLL_INFO;
  return lv;
}

/* ------------------------------------------------------------------------ */
/* Context                                                                  */

static int ctx_acquire(uv_loop_t *loop) {
  /* follow the yz log level as it is when a manager is made */
  lws_set_log_level(lws_levels(), lws_emit);
  if (g.ctx != NULL || g.tearing_down) {
    if (g.loop != loop || g.tearing_down)
      return YZ_E_STATE;
    g.refs++;
    return 0;
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  void *fl[1] = {loop};
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = fl;
  info.pcontext = &g.ctx;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  /* An accepted connection must upgrade promptly. */
  info.timeout_secs = 10;
  /* HTTP/2 is never spoken (DESIGN.md, link layer): ALPN offers only
   * http/1.1 (the listeners say so again per vhost), and ws_callback
   * refuses the h2c upgrade and any WebSocket over an HTTP/2 stream. */
  info.alpn = "http/1.1";
  g.loop = loop;
  g.ctx = lws_create_context(&info);
  if (g.ctx == NULL) {
    yz_log(YZ_LOG_ERR, "cannot create the libwebsockets context (is "
                       "libwebsockets-evlib-uv installed?)");
    g.loop = NULL;
    return YZ_E_IO;
  }
  uv_timer_init(loop, &g.sweep);
  g.sweep_open = true;
  g.refs = 1;
  return 0;
}

static void td_closed(uv_handle_t *h) {
  (void)h;
  g.tearing_down = false;
  g.loop = NULL;
  struct pending_detach *p = g.pending;
  g.pending = NULL;
  while (p != NULL) {
    struct pending_detach *n = p->next;
    if (p->done != NULL)
      p->done(p->m);
    free(p);
    p = n;
  }
}

static void count_closing(uv_handle_t *h, void *arg) {
  if (h != (uv_handle_t *)&g.td_timer && uv_is_closing(h))
    (*(int *)arg)++;
}

static void td_cb(uv_timer_t *t) {
  if (g.td_phase == 0) {
    /* phase 1, from a uv callback (not from an lws protocol callback) */
    g.td_phase = 1;
    if (g.sweep_open) {
      g.sweep_open = false;
      uv_close((uv_handle_t *)&g.sweep, NULL);
    }
    lws_context_destroy(g.ctx);
    uv_timer_start(t, td_cb, 1, 0);
    return;
  }
  /* the drain: wait until no handle of the loop is still closing */
  int closing = 0;
  uv_walk(g.loop, count_closing, &closing);
  if (closing > 0 || g.td_phase < 3) {
    g.td_phase++;
    uv_timer_start(t, td_cb, 1, 0);
    return;
  }
  /* phase 2 */
  if (g.ctx != NULL)
    lws_context_destroy(g.ctx);
  if (g.ctx != NULL)
    yz_log(YZ_LOG_ERR, "libwebsockets context not freed at teardown");
  vh_ref *v = g.vhosts;
  while (v != NULL) {
    vh_ref *n = v->next;
    free(v->cert);
    free(v->key);
    free(v->ca);
    free(v);
    v = n;
  }
  g.vhosts = NULL;
  uv_close((uv_handle_t *)t, td_closed);
}

static void ctx_release(yz_link_manager *m, void (*done)(yz_link_manager *)) {
  struct pending_detach *p = malloc(sizeof *p);
  if (--g.refs > 0 || p == NULL) {
    free(p);
    if (done != NULL)
      done(m);
    return;
  }
  p->m = m;
  p->done = done;
  p->next = g.pending;
  g.pending = p;
  g.tearing_down = true;
  g.td_phase = 0;
  uv_timer_init(g.loop, &g.td_timer);
  uv_timer_start(&g.td_timer, td_cb, 0, 0);
}

static vh_ref *vh_new(yz_link_manager *m, bool tls) {
  vh_ref *v = calloc(1, sizeof *v);
  if (v == NULL)
    return NULL;
  v->magic = VH_MAGIC;
  v->m = m;
  v->tls = tls;
  v->next = g.vhosts;
  g.vhosts = v;
  return v;
}

/* The process's lws context (NULL without a manager): benchmarks put a
 * plain WebSocket baseline on it as a vhost of its own. */
void *yz__link_ws_context(void) { return g.ctx; }

static bool same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static char *dup_or_null(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

/* An unused vhost created with the same settings, or NULL. */
static vh_ref *vh_reuse(bool listening, bool tls, const char *iface,
                        uint16_t port, const char *cert, const char *key,
                        const char *ca) {
  for (vh_ref *v = g.vhosts; v != NULL; v = v->next) {
    if (v->m != NULL || v->vh == NULL || v->listening != listening ||
        v->tls != tls)
      continue;
    if (listening && (port == 0 || v->port != port ||
                      strcmp(v->iface, iface) != 0 ||
                      !same_str(v->cert, cert) || !same_str(v->key, key)))
      continue;
    if (!listening && !same_str(v->ca, ca))
      continue;
    return v;
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Backend ops                                                              */

static int ws_attach(yz_link_manager *m) {
  ws_state *st = calloc(1, sizeof *st);
  if (st == NULL)
    return YZ_E_NOMEM;
  int rc = ctx_acquire(m->loop);
  if (rc != 0) {
    free(st);
    return rc;
  }
  vh_ref *v = vh_reuse(false, false, NULL, 0, NULL, NULL, m->cfg.tls_ca_file);
  if (v != NULL) {
    v->m = m;
    st->client = v;
    m->be_state = st;
    return 0;
  }
  v = vh_new(m, false);
  if (v == NULL) {
    rc = YZ_E_NOMEM;
    goto fail;
  }
  if (m->cfg.tls_ca_file != NULL &&
      (v->ca = strdup(m->cfg.tls_ca_file)) == NULL) {
    v->m = NULL;
    rc = YZ_E_NOMEM;
    goto fail;
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  char name[32];
  snprintf(name, sizeof name, "yz-dial-%u", ++g.vh_serial);
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.vhost_name = name;
  info.user = v;
  info.client_ssl_ca_filepath = m->cfg.tls_ca_file;
  info.timeout_secs = 10;
  v->vh = lws_create_vhost(g.ctx, &info);
  if (v->vh == NULL) {
    v->m = NULL;
    rc = YZ_E_IO;
    goto fail;
  }
  st->client = v;
  m->be_state = st;
  return 0;
fail:
  free(st);
  ctx_release(m, NULL);
  return rc;
}

static void ws_detach(yz_link_manager *m, void (*done)(yz_link_manager *m)) {
  /* Its vhosts stay (see the top of this file), refusing connections
   * until another manager takes them over or the context goes. */
  for (vh_ref *v = g.vhosts; v != NULL; v = v->next)
    if (v->m == m)
      v->m = NULL;
  free(m->be_state);
  m->be_state = NULL;
  ctx_release(m, done);
}

static int ws_listen(yz_link_manager *m, const yz_address *u,
                     const yz_link_listen_config *lc, uint16_t *port_out) {
  const char *cert = u->tls ? lc->tls_cert_file : NULL;
  const char *key = u->tls ? lc->tls_key_file : NULL;
  vh_ref *v = vh_reuse(true, u->tls, u->host, u->port, cert, key, NULL);
  if (v != NULL) {
    v->m = m;
    if (port_out != NULL)
      *port_out = v->port;
    yz_log(YZ_LOG_NOTICE, "listening on %s://%s:%u (again)",
           u->tls ? "wss" : "ws", u->host, (unsigned)v->port);
    return 0;
  }
  /* lws lets vhosts share a listening port (name-based virtual hosting by
   * the Host header), so a second listener on a port this process already
   * serves would "succeed" and then receive none of its connections.
   * Refuse it as bind() would across processes. */
  if (u->port != 0) {
    for (vh_ref *o = g.vhosts; o != NULL; o = o->next) {
      if (o->listening && o->vh != NULL && o->port == u->port) {
        yz_log(YZ_LOG_ERR,
               "cannot listen on %s: port %u is already served by a "
               "listener in this process",
               lc->url, (unsigned)u->port);
        return YZ_E_IO;
      }
    }
  }
  v = vh_new(m, u->tls);
  if (v == NULL)
    return YZ_E_NOMEM;
  v->listening = true;
  snprintf(v->iface, sizeof v->iface, "%s", u->host);
  v->cert = dup_or_null(cert);
  v->key = dup_or_null(key);
  if ((cert != NULL && v->cert == NULL) || (key != NULL && v->key == NULL)) {
    v->m = NULL;
    return YZ_E_NOMEM;
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  char name[32];
  snprintf(name, sizeof name, "yz-listen-%u", ++g.vh_serial);
  info.options = LWS_SERVER_OPTION_LIBUV;
  if (u->tls)
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.port = u->port;
  info.iface = u->host;
  if (strcmp(u->host, "0.0.0.0") == 0 || strcmp(u->host, "::") == 0)
    info.iface = NULL; /* all interfaces */
  if (u->host_type != YZ_ADDRESS_IPV6 && info.iface != NULL)
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.protocols = protocols;
  info.vhost_name = name;
  info.user = v;
  info.timeout_secs = 10;
  info.alpn = "http/1.1"; /* never h2 (see ctx_acquire) */
  if (u->tls) {
    info.ssl_cert_filepath = lc->tls_cert_file;
    info.ssl_private_key_filepath = lc->tls_key_file;
  }
  v->vh = lws_create_vhost(g.ctx, &info);
  if (v->vh == NULL) {
    v->m = NULL;
    yz_log(YZ_LOG_ERR, "cannot listen on %s", lc->url);
    return YZ_E_IO;
  }
  int port = lws_get_vhost_listen_port(v->vh);
  if (port <= 0) {
    /* lws 4.1 still returns a vhost when bind() fails (address not on this
     * host, port in use): it only logs. Such a vhost has no listen port; it
     * stays in the list with port 0, which vh_reuse() never matches, and
     * goes with the context. */
    v->m = NULL;
    yz_log(YZ_LOG_ERR,
           "cannot listen on %s: cannot bind %s port %u (address not on "
           "this host, or port in use)",
           lc->url, u->host, (unsigned)u->port);
    return YZ_E_IO;
  }
  v->port = (uint16_t)port;
  if (port_out != NULL)
    *port_out = (uint16_t)port;
  yz_log(YZ_LOG_NOTICE, "listening on %s://%s:%d", u->tls ? "wss" : "ws",
         u->host, port);
  return 0;
}

static int ws_dial(yz_link_manager *m, yz_link *l, const yz_address *u,
                   const yz_link_dial_opts *opts) {
  ws_state *st = m->be_state;
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = g.ctx;
  ci.vhost = st->client->vh;
  ci.address = u->host;
  ci.port = u->port;
  ci.path = u->path;
  ci.host = u->host;
  ci.origin = u->host;
  ci.protocol = YZ_SESSION_WS_SUBPROTOCOL;
  ci.opaque_user_data = l;
  if (u->tls) {
    ci.ssl_connection = LCCSCF_USE_SSL;
    if (opts->tls_flags & YZ_LINK_TLS_ALLOW_SELFSIGNED)
      ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED;
    if (opts->tls_flags & YZ_LINK_TLS_SKIP_HOSTNAME_CHECK)
      ci.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    if (opts->tls_flags & YZ_LINK_TLS_INSECURE)
      ci.ssl_connection |= LCCSCF_ALLOW_INSECURE | LCCSCF_ALLOW_SELFSIGNED |
                           LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                           LCCSCF_ALLOW_EXPIRED;
  }
  struct lws *wsi = lws_client_connect_via_info(&ci);
  if (wsi == NULL) {
    /* the error callback may already have run */
    if (!l->conn_gone)
      yz__link_conn_gone(l, YZ_E_UNREACHABLE, "cannot connect");
    return 0;
  }
  if (!l->conn_gone)
    l->conn = wsi;
  return 0;
}

static void ws_want_write(yz_link *l) {
  if (l->conn != NULL)
    lws_callback_on_writable((struct lws *)l->conn);
}

/* lws closes a connection when a callback returns -1; the writable
 * callback does that once the queue is empty (on_writeable). A timeout
 * bounds the flush when the peer does not read. */
static void ws_close(yz_link *l, bool flush) {
  struct lws *wsi = l->conn;
  if (wsi == NULL)
    return;
  lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, flush ? 2 : 1);
  lws_callback_on_writable(wsi);
}

static void ws_abandon(yz_link *l) {
  struct lws *wsi = l->conn;
  if (wsi == NULL)
    return;
  lws_set_opaque_user_data(wsi, NULL); /* its writable callback closes it */
  lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 1);
  lws_callback_on_writable(wsi);
}

const yz__link_backend_ops yz__link_ws_backend = {
    .name = "websocket",
    .attach = ws_attach,
    .detach = ws_detach,
    .listen = ws_listen,
    .dial = ws_dial,
    .want_write = ws_want_write,
    .close = ws_close,
    .abandon = ws_abandon,
    .pending = yz__link_ws_pending,
    .pending_from = yz__link_ws_pending_from,
};

/* ------------------------------------------------------------------------ */
/* The protocol callback                                                    */

uint32_t yz__link_ws_pending(const yz_link_manager *m) {
  uint32_t n = 0;
  for (const vh_ref *v = g.vhosts; v != NULL; v = v->next)
    if (v->m == m)
      n += v->pending;
  return n;
}

/* O(connections not upgraded), which max_handshakes bounds. */
uint32_t yz__link_ws_pending_from(const yz_link_manager *m,
                                  const uint8_t *ip, size_t ip_len) {
  uint32_t n = 0;
  for (const pend *p = g.pend_head; p != NULL; p = p->next)
    if (p->v->m == m && p->ip_len == ip_len && ip_len > 0 &&
        memcmp(p->ip, ip, ip_len) == 0)
      n++;
  return n;
}

/* A connection's user pointer is its link once upgraded, before that its
 * pend record (counted in its listener's pending). */
static yz_link *wsi_link(struct lws *wsi) {
  uint32_t *o = lws_get_opaque_user_data(wsi);
  return o != NULL && *o == YZ__LINK_MAGIC ? (yz_link *)o : NULL;
}

static pend *wsi_pending(struct lws *wsi) {
  uint32_t *o = lws_get_opaque_user_data(wsi);
  return o != NULL && *o == PEND_MAGIC ? (pend *)o : NULL;
}

static void unpend(struct lws *wsi) {
  pend *p = wsi_pending(wsi);
  if (p == NULL)
    return;
  p->v->pending--;
  if (p->prev != NULL)
    p->prev->next = p->next;
  else
    g.pend_head = p->next;
  if (p->next != NULL)
    p->next->prev = p->prev;
  else
    g.pend_tail = p->prev;
  p->magic = 0;
  free(p);
  lws_set_opaque_user_data(wsi, NULL);
}

static void sweep_cb(uv_timer_t *t);

/* Arm the sweep for the earliest deadline of the pending connections. */
static void sweep_arm(void) {
  if (!g.sweep_open)
    return;
  uint64_t wait = UINT64_MAX;
  for (const pend *p = g.pend_head; p != NULL; p = p->next) {
    const yz_link_manager *m = p->v->m;
    if (m == NULL || p->killed)
      continue;
    uint64_t now = yz__link_now(m);
    uint64_t end = p->accepted_ms + m->cfg.handshake_timeout_ms;
    uint64_t w = end > now ? end - now : 0;
    if (w < wait)
      wait = w;
  }
  if (wait == UINT64_MAX) {
    uv_timer_stop(&g.sweep);
    return;
  }
  /* the deadline is enforced to the timer's granularity */
  uv_timer_start(&g.sweep, sweep_cb, wait + 1, 0);
}

/* Close every connection whose deadline from accept has passed. This is a
 * uv timer callback, not an lws one, so lws may close the connection
 * synchronously (LWS_TO_KILL_SYNC; its asynchronous kill waits for lws's
 * next wake-up on a foreign loop); its close callback unpends it. */
static void sweep_cb(uv_timer_t *t) {
  (void)t;
  pend *next;
  for (pend *p = g.pend_head; p != NULL; p = next) {
    next = p->next;
    yz_link_manager *m = p->v->m;
    if (m == NULL || p->killed)
      continue;
    if (yz__link_now(m) - p->accepted_ms < m->cfg.handshake_timeout_ms)
      continue;
    p->killed = true;
    m->stats.upgrade_timeouts++;
    lws_set_timeout(p->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
                    LWS_TO_KILL_SYNC);
    /* the close freed p and may have changed the list: start again (the
     * killed ones are skipped; the list is bounded by max_handshakes) */
    next = g.pend_head;
  }
  sweep_arm();
}

static yz_link_manager *wsi_manager(struct lws *wsi) {
  struct lws_vhost *vh = lws_get_vhost(wsi);
  if (vh == NULL)
    return NULL;
  vh_ref *v = lws_vhost_user(vh);
  return v != NULL ? v->m : NULL;
}

static bool wsi_vhost_tls(struct lws *wsi) {
  struct lws_vhost *vh = lws_get_vhost(wsi);
  vh_ref *v = vh != NULL ? lws_vhost_user(vh) : NULL;
  return v != NULL && v->tls;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap,
                      uint8_t ip[16], size_t *ip_len) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  *ip_len = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    port = ntohs(s4->sin_port);
    memcpy(ip, &s4->sin_addr, 4);
    *ip_len = 4;
    snprintf(out, cap, "%s:%u", host, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    port = ntohs(s6->sin6_port);
    /* a v4-mapped address counts as its v4 address */
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      memcpy(ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
      *ip_len = 4;
    } else {
      /* rate-limit per /64: one host usually has a whole /64 to pick
       * source addresses from */
      memcpy(ip, &s6->sin6_addr, 8);
      *ip_len = 8;
    }
    snprintf(out, cap, "[%s]:%u", host, port);
  } else {
    snprintf(out, cap, "?");
  }
}

/* The remote end's text and, if ip is given, its source key (addr_text). */
static void wsi_remote_ip(struct lws *wsi, char *out, size_t cap,
                          uint8_t ip[16], size_t *ip_len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  uint8_t tmp[16];
  size_t tmp_len;
  if (ip == NULL) {
    ip = tmp;
    ip_len = &tmp_len;
  }
  *ip_len = 0;
  int fd = (int)lws_get_socket_fd(wsi);
  if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
    snprintf(out, cap, "?");
    return;
  }
  addr_text((const struct sockaddr *)&ss, out, cap, ip, ip_len);
}

static void wsi_remote(struct lws *wsi, char *out, size_t cap) {
  wsi_remote_ip(wsi, out, cap, NULL, NULL);
}

/* A WebSocket inside an HTTP/2 stream (RFC 8441) has a network
 * connection of its own below it. yz refuses HTTP/2 altogether; this is
 * the last guard, should lws ever get there. */
static bool wsi_is_h2_stream(struct lws *wsi) {
  return lws_get_network_wsi(wsi) != wsi;
}

static bool has_subprotocol(struct lws *wsi) {
  char buf[256];
  int n = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
  if (n <= 0 || n >= (int)sizeof buf)
    return false;
  if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_PROTOCOL) < 0)
    return false;
  /* a comma-separated list; ours must be one of its entries */
  const char *want = YZ_SESSION_WS_SUBPROTOCOL;
  size_t wl = strlen(want);
  for (char *p = buf; *p != '\0';) {
    while (*p == ' ' || *p == ',')
      p++;
    char *e = p;
    while (*e != '\0' && *e != ',' && *e != ' ')
      e++;
    if ((size_t)(e - p) == wl && memcmp(p, want, wl) == 0)
      return true;
    p = e;
  }
  return false;
}

static void on_receive(struct lws *wsi, yz_link *l, const uint8_t *in,
                       size_t len) {
  bool first = lws_is_first_fragment(wsi);
  bool last = lws_is_final_fragment(wsi) &&
              lws_remaining_packet_payload(wsi) == 0;
  if (!lws_frame_is_binary(wsi)) {
    yz__link_fail(l, YZ_E_MALFORMED, "a text WebSocket message");
    return;
  }
  if (first) {
    l->rxlen = 0;
    l->rx_overflow = false;
  }
  if (first && last) { /* the common case: no copy */
    yz__link_conn_recv(l, in, len);
    return;
  }
  if (l->rxlen + len > YZ_LINK_MAX_WIRE_MESSAGE) {
    yz__link_fail(l, YZ_E_TOO_LARGE,
                  "a WebSocket message above 65535 bytes");
    return;
  }
  if (l->rxlen + len > l->rxcap) {
    /* Size the buffer once from what the frame header announced (a
     * message in one frame, as peers send them), bounded; grow only for
     * a message in several frames. */
    size_t want = l->rxlen + len + lws_remaining_packet_payload(wsi);
    if (want < l->rxlen + len)
      want = l->rxlen + len;
    if (want > YZ_LINK_MAX_WIRE_MESSAGE)
      want = YZ_LINK_MAX_WIRE_MESSAGE;
    if (want < l->rxcap * 2 && l->rxcap * 2 <= YZ_LINK_MAX_WIRE_MESSAGE)
      want = l->rxcap * 2;
    uint8_t *p = realloc(l->rx, want);
    if (p == NULL) {
      yz__link_fail(l, YZ_E_NOMEM, "out of memory");
      return;
    }
    l->rx = p;
    l->rxcap = want;
  }
  memcpy(l->rx + l->rxlen, in, len);
  l->rxlen += len;
  if (last) {
    size_t n = l->rxlen;
    l->rxlen = 0;
    yz__link_conn_recv(l, l->rx, n);
    /* keep idle links small: no reassembly buffer between messages */
    free(l->rx);
    l->rx = NULL;
    l->rxcap = 0;
  }
}

/* The WebSocket Close status for a link's yz close code (docs/protocol.md
 * "WebSocket close"). */
static uint16_t ws_close_status(const yz_link *l) {
  if (!l->has_close_code)
    return LWS_CLOSE_STATUS_NORMAL;
  switch (l->close_code) {
  case YZ_CLOSE_GOING_AWAY:
    return LWS_CLOSE_STATUS_GOINGAWAY;
  case YZ_CLOSE_PROTOCOL:
  case YZ_CLOSE_DECRYPT:
  case YZ_CLOSE_IDENTITY:
  case YZ_CLOSE_PEER_ID_MISMATCH:
  case YZ_CLOSE_NETWORK:
    return LWS_CLOSE_STATUS_PROTOCOL_ERR;
  case YZ_CLOSE_TOO_LARGE:
    return LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
  case YZ_CLOSE_INTERNAL:
    return LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
  default:
    return LWS_CLOSE_STATUS_NORMAL;
  }
}

static int on_writeable(struct lws *wsi, yz_link *l) {
  yz__qmsg *q = yz__link_conn_pop(l);
  if (q != NULL) {
    int n = lws_write(wsi, q->buf + LWS_PRE, q->len, LWS_WRITE_BINARY);
    bool ok = n >= (int)q->len;
    yz__link_qmsg_free(q);
    if (!ok) {
      yz__link_conn_gone(l, YZ_E_IO, "write failed");
      lws_set_opaque_user_data(wsi, NULL);
      return -1;
    }
  }
  bool more = yz__link_conn_after_write(l);
  if (lws_get_opaque_user_data(wsi) != l)
    return 0; /* abandoned from a callback */
  if (more) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  if (yz__link_is_closing(l)) {
    /* A WebSocket Close frame with a status, so that the peer does not
     * see 1006 (docs/protocol.md "WebSocket close"). lws_close_reason()
     * alone sends nothing when a writable callback returns -1 (lws
     * 4.1.6 then marks the socket unusable and skips the Close), so the
     * frame is written here: opcode CLOSE is lws_write() protocol 4, the
     * value lws itself uses, which its public header leaves unnamed. If
     * the peer closed first, lws has answered its Close already. */
    if (!l->peer_ws_close) {
      uint8_t cf[LWS_PRE + 2];
      uint16_t st = ws_close_status(l);
      cf[LWS_PRE] = (uint8_t)(st >> 8);
      cf[LWS_PRE + 1] = (uint8_t)st;
      (void)lws_write(wsi, cf + LWS_PRE, 2, (enum lws_write_protocol)4);
    }
    return -1;
  }
  return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len) {
  yz_link *l = wsi != NULL ? wsi_link(wsi) : NULL;
  switch (reason) {
  case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
    struct lws_vhost *vh = lws_get_vhost(wsi);
    vh_ref *v = vh != NULL ? lws_vhost_user(vh) : NULL;
    /* lws also says this of its own client connections: those carry
     * their link already */
    if (v != NULL && v->listening && lws_get_opaque_user_data(wsi) == NULL) {
      pend *p = calloc(1, sizeof *p);
      if (p == NULL)
        return -1;
      p->magic = PEND_MAGIC;
      p->v = v;
      p->wsi = wsi;
      p->accepted_ms = v->m != NULL ? yz__link_now(v->m) : 0;
      wsi_remote_ip(wsi, p->remote, sizeof p->remote, p->ip, &p->ip_len);
      p->prev = g.pend_tail;
      if (g.pend_tail != NULL)
        g.pend_tail->next = p;
      else
        g.pend_head = p;
      g.pend_tail = p;
      v->pending++;
      lws_set_opaque_user_data(wsi, p);
      sweep_arm();
    }
    return 0;
  }
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* Only the WebSocket upgrade, over HTTP/1.1. "h2c" (or anything else)
     * hangs up: HTTP/2 is never spoken (DESIGN.md), and through it a
     * client could open WebSocket streams past the per-IP limits and
     * reach libwebsockets' HTTP/2 flow-control code. */
    if (in == NULL || strcmp((const char *)in, "websocket") != 0 ||
        wsi_is_h2_stream(wsi))
      return -1;
    return 0;
  case LWS_CALLBACK_HTTP:
    /* A plain HTTP request (no upgrade): answer and close, never keep
     * the connection alive (it would hold a handshake slot). */
    (void)lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
    /* before anything is read from the socket: the cheapest refusal */
    yz_link_manager *m = wsi_manager(wsi);
    if (m == NULL)
      return 1;
    const struct lws_filter_network_conn_args *a = user;
    char text[YZ_LINK_ADDR_TEXT_MAX];
    uint8_t ip[16];
    size_t ip_len = 0;
    if (a != NULL) {
      addr_text((const struct sockaddr *)&a->cli_addr, text, sizeof text, ip,
                &ip_len);
    } else {
      snprintf(text, sizeof text, "?");
    }
    return yz__link_admit(m, ip_len > 0 ? ip : NULL, ip_len, text,
                          yz__link_ws_pending(m))
               ? 0
               : 1;
  }
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    /* the upgrade request, before any DH work */
    yz_link_manager *m = wsi_manager(wsi);
    if (m == NULL || wsi_is_h2_stream(wsi))
      return 1;
    if (!has_subprotocol(wsi)) {
      yz__link_refused(m, YZ_LINK_REFUSED_SUBPROTOCOL);
      return 1;
    }
    pend *p = wsi_pending(wsi);
    char text[YZ_LINK_ADDR_TEXT_MAX];
    if (p == NULL)
      wsi_remote(wsi, text, sizeof text);
    uint32_t pending = yz__link_ws_pending(m);
    if (p != NULL && pending > 0)
      pending--; /* not itself */
    return yz__link_admit(m, NULL, 0, p != NULL ? p->remote : text, pending)
               ? 0
               : 1;
  }
  case LWS_CALLBACK_ESTABLISHED: {
    yz_link_manager *m = wsi_manager(wsi);
    pend *p = wsi_pending(wsi);
    if (m == NULL || p == NULL || p->killed || wsi_is_h2_stream(wsi))
      return -1;
    char text[YZ_LINK_ADDR_TEXT_MAX];
    memcpy(text, p->remote, sizeof text);
    yz__link_src src;
    memcpy(src.ip, p->ip, sizeof src.ip);
    src.ip_len = (uint8_t)p->ip_len;
    uint64_t accepted = p->accepted_ms;
    unpend(wsi);
    yz_link *nl = yz__link_inbound_at(m, wsi, text, wsi_vhost_tls(wsi), &src,
                                      accepted);
    if (nl == NULL)
      return -1;
    if (nl->conn_gone || nl->conn != wsi)
      return -1;
    lws_set_opaque_user_data(wsi, nl);
    return 0;
  }
  case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
    /* lws accepts a 101 without Sec-WebSocket-Protocol; a yz initiator
     * must not (docs/protocol.md "WebSocket"): whatever answered is not
     * a yz node of this protocol version. Nothing has been sent yet. */
    if (l != NULL && !has_subprotocol(wsi)) {
      lws_set_opaque_user_data(wsi, NULL);
      yz__link_conn_gone(l, YZ_E_VERSION,
                         "the peer answered the WebSocket upgrade without "
                         "the subprotocol " YZ_SESSION_WS_SUBPROTOCOL
                         ": not a yz node, or another protocol version");
      return 1;
    }
    return 0;
  case LWS_CALLBACK_CLIENT_ESTABLISHED: {
    if (l == NULL)
      return -1;
    char text[YZ_LINK_ADDR_TEXT_MAX];
    wsi_remote(wsi, text, sizeof text);
    l->conn = wsi;
    yz__link_conn_up(l, text);
    return 0;
  }
  case LWS_CALLBACK_RECEIVE:
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (l == NULL)
      return -1;
    if (yz__link_is_closing(l))
      return 0; /* draining: ignore input */
    on_receive(wsi, l, in, len);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (l == NULL)
      return -1;
    return on_writeable(wsi, l);
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (l != NULL)
      l->peer_ws_close = true;
    return 0;
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    /* the connection (and TLS) is up and the upgrade request is being
     * written: a failure from now on is the peer refusing the upgrade */
    if (l != NULL)
      l->upgrade_sent = true;
    return 0;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    if (l == NULL)
      return 0;
    lws_set_opaque_user_data(wsi, NULL);
    const char *why = in != NULL ? (const char *)in : "connection failed";
    int err = YZ_E_UNREACHABLE;
    char text[200];
    unsigned status = lws_http_client_http_response(wsi);
    if (l->upgrade_sent || (status != 0 && status != 101)) {
      /* A yz node refuses by its limits (DESIGN.md) by closing the
       * connection or with an HTTP status, and gives no reason by design;
       * something else than a yz node may answer too. */
      if (status != 0 && status != 101)
        snprintf(text, sizeof text,
                 "refused by the peer before the WebSocket upgrade (its "
                 "limits?): HTTP status %u",
                 status);
      else
        snprintf(text, sizeof text,
                 "refused by the peer before the WebSocket upgrade (its "
                 "limits?): %s",
                 why);
    } else {
      if (strstr(why, "SSL") != NULL || strstr(why, "ssl") != NULL ||
          strstr(why, "tls") != NULL || strstr(why, "TLS") != NULL)
        err = YZ_E_TLS;
      snprintf(text, sizeof text, "cannot connect: %s", why);
    }
    yz__link_conn_gone(l, err, text);
    return 0;
  }
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLIENT_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    unpend(wsi);
    if (l != NULL) {
      lws_set_opaque_user_data(wsi, NULL);
      yz__link_conn_gone(l, YZ_E_IO, "the connection closed");
    }
    return 0;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}
