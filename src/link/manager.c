/*
 * manager.c: the link manager (yz/link.h), transport-neutral.
 *
 * Each link holds one yz_session (sans-I/O): received wire messages and the
 * loop's time go in; wire messages come out through sess_send() into the
 * link's bounded queue, which the backend drains on writable callbacks; the
 * session's events become link events.
 *
 * Memory safety across callbacks: a link is never freed inside a call that
 * may be on its stack. Going down only marks it and puts it on the defer
 * list; an async handle then delivers on_down and frees the link once its
 * connection is gone and it is not on the defer list again (a callback,
 * e.g. one that closes the manager, may have re-queued it). The same
 * handle runs the last steps of a manager shutdown.
 *
 * Timers: one uv timer per manager, armed for the earliest session deadline
 * of a binary min-heap of links.
 */
#include "link/internal.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void qpool_manager(bool added); /* "Message buffers" */

/* Upper bound of the encryption overhead per wire message: AEAD tag 16,
 * frame type 1, fragment header 4, and slack. */
#define WIRE_OVERHEAD 32u

/* How long a manager shutdown waits for the links' close frames to be
 * written before it drops the connections. */
#define SHUTDOWN_FLUSH_MS 1000u

/* The close text of an eviction (docs/operations.md "Limits"). */
#define EVICT_REASON "evicted: idle while the link table is full"
/* The memory budget's default: with the default 1024 links it leaves each
 * 256 KiB on average, while a few links can still move messages of the
 * maximum size at once. */
#define DEFAULT_MEM_BUDGET ((size_t)256u * 1024u * 1024u)

static void link_down(yz_link *l, int err, const char *reason);
static void link_close_local(yz_link *l, uint16_t code, const char *text,
                             int err, const char *reason);
static void defer_link(yz_link *l);
static void heap_update(yz_link *l);
static void heap_remove(yz_link *l);
static void arm_timer(yz_link_manager *m);

void yz_link_config_default(yz_link_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_links = 1024;
  cfg->max_handshakes = 128;
  cfg->ip_rate_per_s = 20;
  cfg->ip_rate_burst = 40;
  cfg->max_message_size = YZ_SESSION_DEFAULT_MAX_MESSAGE;
  cfg->handshake_timeout_ms = YZ_SESSION_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  cfg->ping_interval_ms = YZ_SESSION_DEFAULT_PING_IDLE_MS;
  cfg->missed_pongs = YZ_SESSION_DEFAULT_MAX_MISSED_PONGS;
  cfg->send_queue_max_bytes = 1024u * 1024u;
  cfg->send_queue_max_msgs = 1024;
  cfg->max_handshakes_per_source = 8;
  cfg->max_links_per_source = 32;
  cfg->evict_min_idle_ms = 60000;
  cfg->mem_budget_bytes = DEFAULT_MEM_BUDGET;
  cfg->cookie_load_pct = 50;
  cfg->cookie_msg1_per_s = 256;
}

static void fill_defaults(yz_link_config *c) {
  yz_link_config d;
  yz_link_config_default(&d);
  if (c->max_links == 0)
    c->max_links = d.max_links;
  if (c->max_handshakes == 0)
    c->max_handshakes = d.max_handshakes;
  if (c->ip_rate_per_s == 0)
    c->ip_rate_per_s = d.ip_rate_per_s;
  if (c->ip_rate_burst == 0)
    c->ip_rate_burst = d.ip_rate_burst;
  if (c->max_message_size == 0)
    c->max_message_size = d.max_message_size;
  if (c->handshake_timeout_ms == 0)
    c->handshake_timeout_ms = d.handshake_timeout_ms;
  if (c->ping_interval_ms == 0)
    c->ping_interval_ms = d.ping_interval_ms;
  if (c->missed_pongs == 0)
    c->missed_pongs = d.missed_pongs;
  if (c->send_queue_max_bytes == 0)
    c->send_queue_max_bytes = d.send_queue_max_bytes;
  if (c->send_queue_max_msgs == 0)
    c->send_queue_max_msgs = d.send_queue_max_msgs;
  if (c->max_handshakes_per_source == 0)
    c->max_handshakes_per_source = d.max_handshakes_per_source;
  if (c->max_links_per_source == 0)
    c->max_links_per_source = d.max_links_per_source;
  if (c->evict_min_idle_ms == 0)
    c->evict_min_idle_ms = d.evict_min_idle_ms;
  if (c->mem_budget_bytes == 0)
    c->mem_budget_bytes = d.mem_budget_bytes;
  if (c->cookie_load_pct == 0)
    c->cookie_load_pct = d.cookie_load_pct;
  if (c->cookie_msg1_per_s == 0)
    c->cookie_msg1_per_s = d.cookie_msg1_per_s;
}

const char *yz_link_refusal_name(yz_link_refusal r) {
  switch (r) {
  case YZ_LINK_REFUSED_MAX_LINKS:
    return "max_links";
  case YZ_LINK_REFUSED_MAX_HANDSHAKES:
    return "max_handshakes";
  case YZ_LINK_REFUSED_RATE:
    return "rate";
  case YZ_LINK_REFUSED_SUBPROTOCOL:
    return "subprotocol";
  case YZ_LINK_REFUSED_CLOSING:
    return "closing";
  case YZ_LINK_REFUSED_PER_SOURCE:
    return "per_source";
  default:
    return "unknown";
  }
}

uint64_t yz__link_now(const yz_link_manager *m) {
  if (m->cfg.virtual_time)
    return m->cfg.clock_ms(m->cfg.clock_ud);
  return uv_now(m->loop);
}

uint64_t yz__link_clock(const yz_link_manager *m) {
  if (m->cfg.clock_ms != NULL)
    return m->cfg.clock_ms(m->cfg.clock_ud);
  return uv_now(m->loop);
}

/* ------------------------------------------------------------------------ */
/* Backend selection (yz_link_config.backend, docs/operations.md)            */

/* The WebSocket backend: the config's choice; for AUTO, the environment's
 * YZ_LINK_BACKEND ("native" or "lws"), else the default: native, ahead of
 * libwebsockets and of the Go program on every link figure
 * (docs/benchmarks.md, "One copy per message"). */
static const yz__link_backend_ops *ws_backend(const yz_link_config *cfg) {
  yz_link_backend b = cfg->backend;
  if (b == YZ_LINK_BACKEND_AUTO) {
    const char *e = getenv("YZ_LINK_BACKEND");
    b = e != NULL && strcmp(e, "lws") == 0 ? YZ_LINK_BACKEND_LWS
                                           : YZ_LINK_BACKEND_NATIVE;
  }
  return b == YZ_LINK_BACKEND_LWS ? &yz__link_ws_backend
                                  : &yz__link_native_backend;
}

const char *yz_link_manager_backend(const yz_link_manager *m) {
  return m->be->name;
}

static uint32_t be_pending(const yz_link_manager *m) {
  return m->be->pending != NULL ? m->be->pending(m) : 0;
}

static uint32_t be_pending_from(const yz_link_manager *m, const uint8_t *ip,
                                size_t ip_len) {
  return m->be->pending_from != NULL ? m->be->pending_from(m, ip, ip_len)
                                     : 0;
}

/* ------------------------------------------------------------------------ */
/* Manager                                                                  */

static void defer_cb(uv_async_t *t);
static void timer_cb(uv_timer_t *t);

int yz_link_manager_new(yz_link_manager **out, uv_loop_t *loop,
                        const yz_link_config *cfg) {
  *out = NULL;
  if (loop == NULL || cfg == NULL || cfg->identity == NULL)
    return YZ_E_INVAL;
  if (cfg->virtual_time && cfg->clock_ms == NULL)
    return YZ_E_INVAL;
  int rc = yz_init();
  if (rc != 0)
    return rc;
  yz_link_manager *m = calloc(1, sizeof *m);
  if (m == NULL)
    return YZ_E_NOMEM;
  m->loop = loop;
  m->be = cfg->memnet != NULL ? &yz__link_mem_backend : ws_backend(cfg);
  m->cfg = *cfg;
  fill_defaults(&m->cfg);
  /* The budget must let one message of the maximum size through while
   * another is held (see "Memory budget"). */
  if (m->cfg.mem_budget_bytes / 2 < m->cfg.max_message_size) {
    free(m);
    return YZ_E_INVAL;
  }
  m->identity = *cfg->identity;
  m->cfg.identity = &m->identity;
  m->log_rl = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(10, 10000);
  m->log_ev_rl = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(
      YZ_LINK_LOG_EVENTS_BURST, YZ_LINK_LOG_EVENTS_WINDOW_MS);
  /* Both cookie secrets fresh: nothing issued before this manager
   * existed is valid (docs/protocol.md 4, "Cookie"). */
  randombytes_buf(m->cookie_secret, sizeof m->cookie_secret);
  m->cookie_t0 = yz__link_clock(m);
  /* The network name travels in the proof (docs/protocol.md section 5);
   * the local keeps its own copy, so the caller's string is not kept. */
  yz_session_proof_options po = {0};
  if (cfg->proof != NULL)
    po = *cfg->proof;
  po.network = cfg->network;
  rc = yz_session_local_init(&m->local, &m->identity, NULL, &po);
  m->cfg.network = m->local.network;
  m->cfg.proof = NULL; /* read once: the caller's strings are not kept */
  if (rc != 0)
    goto fail;
  rc = yz__ratelimit_init(&m->rl, 4096, m->cfg.ip_rate_per_s,
                          m->cfg.ip_rate_burst);
  if (rc != 0)
    goto fail;
  /* Every source counted has an inbound link or handshake, which
   * max_links and max_handshakes bound. */
  rc = yz__srccount_init(&m->srcs, m->cfg.max_links + m->cfg.max_handshakes);
  if (rc != 0)
    goto fail;
  rc = m->be->attach(m);
  if (rc != 0)
    goto fail;
  if (uv_async_init(loop, &m->defer_async, defer_cb) != 0) {
    m->be->detach(m, NULL);
    rc = YZ_E_IO;
    goto fail;
  }
  uv_timer_init(loop, &m->timer);
  m->timer.data = m;
  m->defer_async.data = m;
  m->handles_open = 2;
  qpool_manager(true);
  *out = m;
  return 0;
fail:
  sodium_memzero(m->cookie_secret, sizeof m->cookie_secret);
  yz__ratelimit_clear(&m->rl);
  yz__srccount_clear(&m->srcs);
  yz_session_local_clear(&m->local);
  yz_identity_clear(&m->identity);
  free(m);
  return rc;
}

uv_loop_t *yz_link_manager_loop(const yz_link_manager *m) { return m->loop; }

const yz_node_id *yz_link_manager_node_id(const yz_link_manager *m) {
  return &m->identity.id;
}

void yz_link_manager_stats(const yz_link_manager *m, yz_link_stats *out) {
  *out = m->stats;
  out->links = 0;
  out->handshakes = m->n_handshakes;
  out->upgrading = be_pending(m);
  out->budget_bytes = m->mem_used;
  for (const yz_link *l = m->links; l != NULL; l = l->next)
    if (l->state == YZ__LS_UP)
      out->links++;
}

static void free_manager(yz_link_manager *m) {
  void (*cb)(void *) = m->on_closed;
  void *ud = m->on_closed_ud;
  sodium_memzero(m->cookie_secret, sizeof m->cookie_secret);
  yz__ratelimit_clear(&m->rl);
  yz__srccount_clear(&m->srcs);
  yz_session_local_clear(&m->local);
  yz_identity_clear(&m->identity);
  free(m->heap);
  free(m);
  qpool_manager(false);
  if (cb != NULL)
    cb(ud);
}

static void backend_detached(yz_link_manager *m) { free_manager(m); }

static void handle_closed(uv_handle_t *h) {
  yz_link_manager *m = h->data;
  if (--m->handles_open == 0)
    m->be->detach(m, backend_detached);
}

/* The last step of a shutdown, from the defer timer, once no link is
 * left. */
static void finish_close(yz_link_manager *m) {
  uv_close((uv_handle_t *)&m->timer, handle_closed);
  uv_close((uv_handle_t *)&m->defer_async, handle_closed);
}

/* Drop the connection of a link without further backend callbacks. */
static void abandon_link(yz_link *l) {
  if (!l->conn_gone) {
    l->m->be->abandon(l);
    l->conn = NULL;
    l->conn_gone = true;
  }
  defer_link(l);
}

/* The shutdown's flush bound ran out: drop what is still connected. */
static void shutdown_timer_cb(uv_timer_t *t) {
  yz_link_manager *m = t->data;
  for (yz_link *l = m->links; l != NULL; l = l->next)
    if (!l->conn_gone)
      abandon_link(l);
}

void yz_link_manager_close(yz_link_manager *m, void (*on_closed)(void *ud),
                           void *ud) {
  if (m == NULL)
    return;
  if (m->closing) /* misuse; ignore rather than double-free */
    return;
  m->closing = true;
  m->on_closed = on_closed;
  m->on_closed_ud = ud;
  uint64_t now = yz__link_now(m);
  bool flushing = false;
  for (yz_link *l = m->links; l != NULL; l = l->next) {
    bool connecting = l->state == YZ__LS_CONNECTING;
    /* The session queues its CLOSE frame (GOING_AWAY, docs/protocol.md
     * "Close codes") while the link can still send, so that the peer
     * learns why; link_down() then asks the backend to flush and close. */
    if (l->sess_inited && yz_session_get_state(&l->s) != YZ_SESSION_CLOSED)
      (void)yz_session_close(&l->s, YZ_CLOSE_GOING_AWAY, "shutting down",
                             now);
    link_down(l, YZ_E_CLOSED, "the node is shutting down");
    if (connecting || l->conn_gone) /* nothing to tell the peer */
      abandon_link(l);
    else
      flushing = true;
    defer_link(l);
  }
  /* The flush is bounded: a peer that does not read loses its close frame
   * after SHUTDOWN_FLUSH_MS rather than hold the shutdown. The session
   * deadlines no longer matter, so the timer is free for this. */
  if (flushing)
    uv_timer_start(&m->timer, shutdown_timer_cb, SHUTDOWN_FLUSH_MS, 0);
  else
    uv_timer_stop(&m->timer);
  uv_async_send(&m->defer_async);
}

/* ------------------------------------------------------------------------ */
/* Links: creation, queue, session glue                                     */

/* ------------------------------------------------------------------------ */
/* Message buffers                                                          */
/*
 * Every outgoing wire message is sealed by the session straight into a
 * queue entry (sess_tx_alloc), which the backend frames in its headroom
 * and writes: no copy after the encryption's. The entries come from a
 * pool of two sizes (a message of up to YZ__QPOOL_SMALL bytes, and one of
 * up to a full 65535-byte wire message), so that no message mallocs in the
 * steady state. The pool is per thread (the loop's), bounded
 * (YZ__QPOOL_MAX_TINY, _SMALL and _LARGE entries: an entry freed beyond
 * that is free()d) and emptied when the thread's last manager goes. Entries hold
 * ciphertext only, so they are not wiped on the way back.
 */

static _Thread_local struct {
  yz__qmsg *head[3];
  uint32_t n[3];
  uint32_t managers;
} qpool;

static const uint32_t qpool_max[3] = {YZ__QPOOL_MAX_TINY, YZ__QPOOL_MAX_SMALL,
                                      YZ__QPOOL_MAX_LARGE};

static int qclass(size_t cap) {
  return cap == YZ__QPOOL_TINY              ? 0
         : cap == YZ__QPOOL_SMALL           ? 1
         : cap == YZ_LINK_MAX_WIRE_MESSAGE ? 2
                                            : -1;
}

/* The room of the entry for a message of len bytes: a pooled size when the
 * message is tiny (acks, pongs, the tail of a fragmented message: at most
 * YZ__QPOOL_TINY bytes per entry) or fills more than half of it, else len
 * itself, so that no larger entry is more than twice its message (the
 * queue limits and the memory budget count messages, not entries). */
static size_t qcap(size_t len) {
  if (len <= YZ__QPOOL_TINY)
    return YZ__QPOOL_TINY;
  if (len > YZ__QPOOL_SMALL / 2 && len <= YZ__QPOOL_SMALL)
    return YZ__QPOOL_SMALL;
  if (len > YZ_LINK_MAX_WIRE_MESSAGE / 2 && len <= YZ_LINK_MAX_WIRE_MESSAGE)
    return YZ_LINK_MAX_WIRE_MESSAGE;
  return len;
}

yz__qmsg *yz__link_qmsg_new(size_t len) {
  size_t cap = qcap(len);
  int c = qclass(cap);
  yz__qmsg *q;
  if (c >= 0 && qpool.head[c] != NULL) {
    q = qpool.head[c];
    qpool.head[c] = q->next;
    qpool.n[c]--;
  } else {
    if (cap > UINT32_MAX)
      return NULL;
    q = malloc(sizeof *q + YZ__LINK_HEADROOM + cap);
    if (q == NULL)
      return NULL;
    q->cap = (uint32_t)cap;
  }
  q->next = NULL;
  q->len = 0;
  return q;
}

void yz__link_qmsg_free(yz__qmsg *q) {
  if (q == NULL)
    return;
  int c = qclass(q->cap);
  if (c < 0 || qpool.managers == 0 || qpool.n[c] >= qpool_max[c]) {
    free(q);
    return;
  }
  q->next = qpool.head[c];
  qpool.head[c] = q;
  qpool.n[c]++;
}

size_t yz__link_qpool_held(void) {
  return (size_t)qpool.n[0] + qpool.n[1] + qpool.n[2];
}

/* The thread's managers: the pool empties when the last one goes. */
static void qpool_manager(bool added) {
  if (added) {
    qpool.managers++;
    return;
  }
  if (--qpool.managers > 0)
    return;
  for (int c = 0; c < 3; c++) {
    while (qpool.head[c] != NULL) {
      yz__qmsg *q = qpool.head[c];
      qpool.head[c] = q->next;
      free(q);
    }
    qpool.n[c] = 0;
  }
}

/* The session's tx_alloc: the entry its next message is sealed into. A
 * spare left by a failed encryption may hold plaintext: wiped. */
static uint8_t *sess_tx_alloc(void *user, size_t len) {
  yz_link *l = user;
  if (l->tx_spare != NULL && l->tx_spare->cap != qcap(len)) {
    sodium_memzero(l->tx_spare->buf, YZ__LINK_HEADROOM + l->tx_spare->cap);
    yz__link_qmsg_free(l->tx_spare);
    l->tx_spare = NULL;
  }
  if (l->tx_spare == NULL && (l->tx_spare = yz__link_qmsg_new(len)) == NULL)
    return NULL; /* the session uses its own buffer */
  return l->tx_spare->buf + YZ__LINK_HEADROOM;
}

static void free_queue(yz_link *l) {
  yz__qmsg *q = l->qhead;
  while (q != NULL) {
    yz__qmsg *n = q->next;
    yz__link_qmsg_free(q);
    q = n;
  }
  l->qhead = l->qtail = NULL;
  l->qbytes = 0;
  l->qmsgs = 0;
}

static void drop_reason(yz_link *l);

static void free_link(yz_link *l) {
  yz_link_manager *m = l->m;
  heap_remove(l);
  if (l->prev != NULL)
    l->prev->next = l->next;
  else
    m->links = l->next;
  if (l->next != NULL)
    l->next->prev = l->prev;
  if (l->sess_inited)
    yz_session_clear(&l->s);
  free_queue(l);
  if (l->tx_spare != NULL) {
    sodium_memzero(l->tx_spare->buf, YZ__LINK_HEADROOM + l->tx_spare->cap);
    yz__link_qmsg_free(l->tx_spare);
    l->tx_spare = NULL;
  }
  free(l->rx);
  free(l->dial_addr);
  drop_reason(l);
  sodium_memzero(l->cookie, sizeof l->cookie);
  l->magic = 0;
  free(l);
}

/* ------------------------------------------------------------------------ */
/* Memory budget (yz_link_config.mem_budget_bytes)                          */
/*
 * What peers can make a node hold: send queues (a peer that does not read)
 * and reassembly buffers (a peer that sends large or unfinished messages).
 * Each link counts its current bytes in l->mem and the manager their sum
 * in m->mem_used; a link stops counting when it goes down (a budget close
 * drops a large queue at once; other queues are flushed within the close's
 * short bound, then freed with the link).
 *
 * The application's own sends stop at 7/8 of the budget with
 * YZ_E_QUEUE_FULL, so that healthy links keep room for control frames and
 * incoming messages; anything else that would exceed the budget closes the
 * links holding the most, heaviest first (budget_make_room). A closed link
 * is not a punishment of the peer alone: it is the one whose loss frees
 * the most with the fewest links closed.
 */

static size_t app_share(const yz_link_manager *m) {
  return m->cfg.mem_budget_bytes - m->cfg.mem_budget_bytes / 8;
}

/* Follow l's bytes after a change of its queue or session. */
static void mem_sync(yz_link *l) {
  yz_link_manager *m = l->m;
  if (l->state == YZ__LS_DOWN)
    return;
  size_t held = l->qbytes;
  if (l->sess_inited)
    held += yz_session_rx_buffered(&l->s);
  m->mem_used = m->mem_used - l->mem + held;
  bool less = held < l->mem;
  l->mem = held;
  /* on_writable for the sends the budget refused: from the defer handle,
   * never from inside the call that freed the memory */
  if (less && m->budget_waiters > 0 && m->mem_used <= app_share(m) / 2)
    uv_async_send(&m->defer_async);
}

/* The link going down stops counting. */
static void mem_forget(yz_link *l) {
  yz_link_manager *m = l->m;
  m->mem_used -= l->mem;
  l->mem = 0;
  if (l->budget_wait) {
    l->budget_wait = false;
    m->budget_waiters--;
  }
  if (m->budget_waiters > 0 && m->mem_used <= app_share(m) / 2)
    uv_async_send(&m->defer_async);
}

/* From the defer handle: the budget has room again. */
static void budget_wake(yz_link_manager *m) {
  if (m->budget_waiters == 0 || m->mem_used > app_share(m) / 2 || m->closing)
    return;
  for (yz_link *l = m->links; l != NULL && m->budget_waiters > 0;
       l = l->next) {
    if (!l->budget_wait)
      continue;
    l->budget_wait = false;
    m->budget_waiters--;
    if (l->state == YZ__LS_UP && m->cfg.cb.on_writable != NULL)
      m->cfg.cb.on_writable(m, l, m->cfg.user_data);
    if (m->closing) /* the callback closed the manager */
      return;
  }
}

static void budget_reason(const yz_link *l, char *out, size_t cap) {
  snprintf(out, cap,
           "memory budget: the node's %zu bytes ran out and this link held "
           "the most (%zu bytes)",
           l->m->cfg.mem_budget_bytes, l->budget_held);
}

/*
 * Close l for the budget; it stops counting at once (link_down), so its
 * memory must go at once too. A queue above BUDGET_KEEP_QUEUE (a peer that
 * does not keep up) is dropped, and with it the CLOSE frame: the messages
 * in the queue carry the nonces before the CLOSE frame's (docs/protocol.md
 * section 9), so the peer could not decrypt a CLOSE sent after a gap; it
 * sees the connection close. A smaller queue is kept and the CLOSE goes
 * behind it (a peer that sent too much but reads learns why).
 * in_send: l's session is inside its send callback and must not be called:
 * the caller refuses the frame instead, the session closes itself without
 * a CLOSE frame, and its CLOSED event reports the budget (sess_event).
 */
#define BUDGET_KEEP_QUEUE 65536u

static void budget_close(yz_link *l, size_t held, bool in_send) {
  yz_link_manager *m = l->m;
  m->stats.budget_closes++;
  l->budget_closed = true;
  l->budget_held = held;
  if (l->qbytes > BUDGET_KEEP_QUEUE) {
    l->budget_dropped = true; /* sess_send discards from now on */
    free_queue(l);
    mem_sync(l);
  }
  char why[200];
  budget_reason(l, why, sizeof why);
  yz_log_rl(&m->log_rl, yz__link_now(m), YZ_LOG_WARN, "closing link %s: %s",
            l->remote, why);
  if (in_send)
    return;
  /* INTERNAL: "local failure: memory" (docs/protocol.md section 11) */
  link_close_local(l, YZ_CLOSE_INTERNAL, why, YZ_E_LIMIT, why);
}

/*
 * Room for `more` new bytes of self: close the heaviest links (self
 * counted with its `more`) until the total fits. false if self was the
 * heaviest and was closed.
 */
static bool budget_make_room(yz_link *self, size_t more, bool in_send) {
  yz_link_manager *m = self->m;
  while (m->mem_used + more > m->cfg.mem_budget_bytes) {
    yz_link *h = self;
    size_t hw = self->mem + more;
    for (yz_link *l = m->links; l != NULL; l = l->next)
      if (l != self && l->state != YZ__LS_DOWN && l->mem > hw) {
        h = l;
        hw = l->mem;
      }
    budget_close(h, hw, in_send && h == self);
    if (h == self)
      return false;
  }
  return true;
}

static int sess_send(void *user, uint8_t *msg, size_t len) {
  yz_link *l = user;
  yz_link_manager *m = l->m;
  if (l->conn_gone || l->state == YZ__LS_DOWN || l->budget_dropped)
    return 0; /* nowhere to go; the link is going away anyway */
  /* yz_link_send() checks the bounds before it sends; what the session
   * sends by itself (handshake, pongs, rekeys, close) is small but a peer
   * can provoke it, e.g. pings while it never reads: past a hard bound
   * above the soft one the link closes rather than grow. */
  size_t frames = m->cfg.max_message_size / YZ_SESSION_MAX_FRAME_LEN + 2;
  if (l->qbytes + len > m->cfg.send_queue_max_bytes +
                            m->cfg.max_message_size + 65536 ||
      l->qmsgs + 1 > m->cfg.send_queue_max_msgs + frames + 64)
    return YZ_E_QUEUE_FULL;
  /* The node's budget: yz_link_send() checked it for the application's
   * messages; a frame the session sends by itself, or a budget close's
   * own CLOSE frame, is small and goes through. */
  if (!l->budget_closed && !m->closing &&
      m->mem_used + len > m->cfg.mem_budget_bytes &&
      !budget_make_room(l, len, true))
    return YZ_E_QUEUE_FULL;
  yz__qmsg *q;
  if (l->tx_spare != NULL && msg == l->tx_spare->buf + YZ__LINK_HEADROOM) {
    q = l->tx_spare; /* sealed in place: queued as it is */
    l->tx_spare = NULL;
  } else {
    if ((q = yz__link_qmsg_new(len)) == NULL)
      return YZ_E_NOMEM;
    memcpy(q->buf + YZ__LINK_HEADROOM, msg, len);
  }
  q->next = NULL;
  q->len = (uint32_t)len;
  if (l->qtail != NULL)
    l->qtail->next = q;
  else
    l->qhead = q;
  l->qtail = q;
  l->qbytes += len;
  l->qmsgs++;
  mem_sync(l);
  m->stats.bytes_out += len;
  m->be->want_write(l);
  return 0;
}

/* The reason of a link that went down, kept until on_down: allocated then,
 * at its length (up to YZ__LINK_REASON_MAX bytes), rather than 320 bytes
 * in every live link (docs/simulator.md "Memory per link"). */
static const char reason_nomem[] = "closed (no memory for the reason)";

static void drop_reason(yz_link *l) {
  if (l->down_reason != NULL && l->down_reason != reason_nomem)
    free(l->down_reason);
  l->down_reason = NULL;
}

static void copy_reason(yz_link *l, const char *text) {
  if (text == NULL || text[0] == '\0')
    text = "closed";
  size_t n = strnlen(text, YZ__LINK_REASON_MAX - 1);
  char *r = malloc(n + 1);
  drop_reason(l);
  if (r == NULL) {
    l->down_reason = (char *)reason_nomem;
    return;
  }
  memcpy(r, text, n);
  r[n] = '\0';
  l->down_reason = r;
}

static void sess_event(void *user, const yz_session_event *ev) {
  yz_link *l = user;
  yz_link_manager *m = l->m;
  switch (ev->type) {
  case YZ_SESSION_EVENT_UP: {
    if (l->counted_hs) {
      l->counted_hs = false;
      m->n_handshakes--;
    }
    if (l->src_counted) {
      yz__src_ent *se = yz__srccount_find(&m->srcs, l->src_ip, l->src_len);
      if (se != NULL && se->hs > 0)
        se->hs--;
    }
    l->state = YZ__LS_UP;
    l->last_app_ms = yz__link_clock(m);
    m->stats.links_up_total++;
    yz_link_peer peer;
    memset(&peer, 0, sizeof peer);
    peer.id = *ev->u.up.peer_id;
    peer.proof = ev->u.up.proof;
    if (peer.proof != NULL)
      memcpy(peer.identity_pk, peer.proof->identity_pk,
             sizeof peer.identity_pk);
    size_t cb = ev->u.up.channel_binding_len;
    if (cb > sizeof peer.channel_binding)
      cb = sizeof peer.channel_binding;
    memcpy(peer.channel_binding, ev->u.up.channel_binding, cb);
    peer.channel_binding_len = cb;
    peer.direction = (yz_link_direction)l->dir;
    peer.tls = l->tls;
    memcpy(peer.remote_addr, l->remote, sizeof peer.remote_addr);
    l->announced = true;
    /* debug: the upper layer logs the events it is told about (yz-node at
     * info); refusals and errors stay at warn/err, rate-limited */
    if (yz_log_enabled(YZ_LOG_DEBUG)) {
      char hex[YZ_NODE_ID_HEX_LEN + 1];
      yz_node_id_to_hex(&peer.id, hex);
      yz_log_rl(&m->log_ev_rl, yz__link_clock(m), YZ_LOG_DEBUG,
                "link up %s %s %s", hex,
                l->dir == YZ_LINK_INBOUND ? "from" : "to", l->remote);
    }
    if (m->cfg.cb.on_up != NULL && !m->closing)
      m->cfg.cb.on_up(m, l, &peer, m->cfg.user_data);
    break;
  }
  case YZ_SESSION_EVENT_MESSAGE:
    m->stats.msgs_in++;
    l->last_app_ms = yz__link_clock(m);
    if (l->state == YZ__LS_UP && m->cfg.cb.on_message != NULL)
      m->cfg.cb.on_message(m, l, ev->u.message.data, ev->u.message.len,
                           m->cfg.user_data);
    break;
  case YZ_SESSION_EVENT_CLOSED: {
    int err = ev->u.closed.err;
    char text[320];
    l->has_close_code = true;
    l->close_code = ev->u.closed.code;
    if (ev->u.closed.remote) {
      snprintf(text, sizeof text, "closed by the peer (%s%s%s)",
               yz_session_close_code_name(ev->u.closed.code),
               ev->u.closed.text_len > 0 ? ": " : "",
               ev->u.closed.text_len > 0 ? ev->u.closed.text : "");
      err = YZ_E_PEER_CLOSED;
    } else if (l->budget_closed) {
      err = YZ_E_LIMIT;
      budget_reason(l, text, sizeof text);
    } else if (ev->u.closed.text != NULL && ev->u.closed.text_len > 0) {
      snprintf(text, sizeof text, "%s", ev->u.closed.text);
    } else {
      snprintf(text, sizeof text, "%s", yz_strerror(err));
    }
    /* A node of another network is a configuration error worth seeing
     * on both ends; an inbound one reaches no upper layer (docs/protocol.md
     * section 5, "Network name"). Rate-limited like the refusals. */
    if (err == YZ_E_NETWORK && l->dir == YZ_LINK_INBOUND)
      yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN, "link %s: %s",
                l->remote, text);
    if (err == YZ_E_DECRYPT)
      m->stats.decrypt_failures++;
    if (err == YZ_E_TIMEOUT)
      m->stats.timeouts++;
    link_down(l, err, text);
    break;
  }
  }
}

static yz_link *link_new(yz_link_manager *m, yz_link_direction dir) {
  yz_link *l = calloc(1, sizeof *l);
  if (l == NULL)
    return NULL;
  l->magic = YZ__LINK_MAGIC;
  l->m = m;
  l->dir = (uint8_t)dir;
  l->heap_idx = UINT32_MAX;
  l->deadline = UINT64_MAX;
  l->next = m->links;
  if (m->links != NULL)
    m->links->prev = l;
  m->links = l;
  m->n_links++;
  return l;
}

static int link_session_init(yz_link *l) {
  yz_link_manager *m = l->m;
  yz_session_config sc;
  yz_session_config_default(&sc);
  sc.role = l->dir == YZ_LINK_OUTBOUND ? YZ_SESSION_INITIATOR
                                       : YZ_SESSION_RESPONDER;
  sc.local = &m->local;
  sc.expected_peer = l->has_expected ? &l->expected : NULL;
  sc.unpinned = l->unpinned;
  sc.max_message = m->cfg.max_message_size;
  sc.handshake_timeout_ms = m->cfg.handshake_timeout_ms;
  if (l->has_accepted) {
    /* the deadline runs from the TCP accept (docs/operations.md
     * "Limits"): the session gets what is left of it */
    uint64_t now = yz__link_now(m);
    uint64_t spent = now > l->accepted_ms ? now - l->accepted_ms : 0;
    sc.handshake_timeout_ms =
        spent >= sc.handshake_timeout_ms
            ? 1
            : sc.handshake_timeout_ms - (uint32_t)spent;
  }
  sc.ping_idle_ms = m->cfg.ping_interval_ms;
  sc.max_missed_pongs = m->cfg.missed_pongs;
  sc.send_headroom = 0;
  /* the one redial after a COOKIE_REPLY carries the cookie */
  sc.cookie = l->cookie_redialled ? l->cookie : NULL;
  sc.send = sess_send;
  sc.tx_alloc = sess_tx_alloc;
  sc.event = sess_event;
  sc.user = l;
  int rc = yz_session_init(&l->s, &sc);
  if (rc == 0)
    l->sess_inited = true;
  return rc;
}

/* After every session call: follow its deadline. */
static void link_after_session(yz_link *l) {
  if (l->state == YZ__LS_DOWN || !l->sess_inited)
    return;
  l->deadline = yz_session_next_deadline(&l->s);
  heap_update(l);
  arm_timer(l->m);
}

static void link_start_session(yz_link *l) {
  yz_link_manager *m = l->m;
  l->state = YZ__LS_HANDSHAKE;
  int rc = link_session_init(l);
  if (rc != 0) {
    link_down(l, rc, "cannot create the session");
    return;
  }
  rc = yz_session_start(&l->s, yz__link_now(m));
  if (rc != 0 && l->state != YZ__LS_DOWN)
    link_down(l, rc, yz_strerror(rc));
  link_after_session(l);
}

/* ------------------------------------------------------------------------ */
/* Going down                                                               */

static void defer_link(yz_link *l) {
  if (!l->in_defer) {
    l->in_defer = true;
    l->defer_next = l->m->defer;
    l->m->defer = l;
  }
  uv_async_send(&l->m->defer_async);
}

static void link_down(yz_link *l, int err, const char *reason) {
  if (l->state == YZ__LS_DOWN)
    return;
  yz_link_manager *m = l->m;
  bool was_up = l->state == YZ__LS_UP;
  if (l->counted_hs) {
    l->counted_hs = false;
    m->n_handshakes--;
  }
  if (l->src_counted) {
    l->src_counted = false;
    yz__src_ent *se = yz__srccount_find(&m->srcs, l->src_ip, l->src_len);
    if (se != NULL) {
      se->links -= se->links > 0;
      if (!was_up && se->hs > 0)
        se->hs--;
      yz__srccount_release(&m->srcs, se);
    }
  }
  if (!was_up)
    m->stats.handshakes_failed++;
  mem_forget(l);
  l->state = YZ__LS_DOWN;
  l->down_err = err;
  copy_reason(l, reason);
  yz_log_rl(&m->log_ev_rl, yz__link_clock(m), YZ_LOG_DEBUG,
            "link %s %s going down: %s", l->remote,
            was_up ? "(up)" : "(handshake)", l->down_reason);
  m->n_links--;
  heap_remove(l);
  if (!l->announced)
    l->down_reported = true;
  if (!l->conn_gone)
    m->be->close(l, true);
  defer_link(l);
}

/* Close l locally: the session, if it still runs, sends a CLOSE with code
 * and text (NULL: none), and on_down reports err with reason. The
 * session's CLOSED event runs inside yz_session_close() and takes the link
 * down as a plain local close (YZ_E_CLOSED); a cause of the caller's own
 * (eviction, a text message, ...) replaces it. */
static void link_close_local(yz_link *l, uint16_t code, const char *text,
                             int err, const char *reason) {
  if (l->state == YZ__LS_DOWN)
    return;
  if (l->sess_inited && yz_session_get_state(&l->s) != YZ_SESSION_CLOSED) {
    (void)yz_session_close(&l->s, code, text, yz__link_now(l->m));
    if (err != YZ_E_CLOSED && l->state == YZ__LS_DOWN &&
        l->down_err == YZ_E_CLOSED) {
      l->down_err = err;
      copy_reason(l, reason);
    }
  }
  link_down(l, err, reason);
}

void yz__link_fail(yz_link *l, int err, const char *reason) {
  link_close_local(l,
                   err == YZ_E_TOO_LARGE ? YZ_CLOSE_TOO_LARGE
                                         : YZ_CLOSE_PROTOCOL,
                   reason, err, reason);
}

bool yz__link_is_closing(const yz_link *l) { return l->state == YZ__LS_DOWN; }

static void defer_cb(uv_async_t *t) {
  yz_link_manager *m = t->data;
  /* Take the list: callbacks below may add to it again. */
  while (m->defer != NULL) {
    yz_link *list = m->defer;
    m->defer = NULL;
    while (list != NULL) {
      yz_link *l = list;
      list = l->defer_next;
      l->in_defer = false;
      if (!l->down_reported) {
        l->down_reported = true;
        m->stats.links_down_total++;
        if (yz_log_enabled(YZ_LOG_DEBUG)) {
          char hex[YZ_NODE_ID_HEX_LEN + 1] = "?";
          const yz_node_id *id = yz_link_peer_id(l);
          if (id != NULL)
            yz_node_id_to_hex(id, hex);
          yz_log_rl(&m->log_ev_rl, yz__link_clock(m), YZ_LOG_DEBUG,
                    "link down %s %s: %s", hex, l->remote, l->down_reason);
        }
        if (m->cfg.cb.on_down != NULL)
          m->cfg.cb.on_down(m, l, l->down_err, l->down_reason,
                            m->cfg.user_data);
      }
      /* A callback above may have put l on m->defer again (e.g. on_down
       * closed the manager, which defers every link): then that later
       * pass frees it, not this one. */
      if (l->conn_gone && !l->in_defer)
        free_link(l);
    }
  }
  budget_wake(m);
  if (m->closing && m->links == NULL && !uv_is_closing((uv_handle_t *)t))
    finish_close(m);
}

/* ------------------------------------------------------------------------ */
/* Backend entry points                                                     */

void yz__link_refused(yz_link_manager *m, yz_link_refusal why) {
  m->stats.refused[why]++;
}

/* ------------------------------------------------------------------------ */
/* Per-source limits and eviction (docs/operations.md "Limits")             */

/* Would one more connection from this source exceed its share? O(1):
 * the inbound links and handshakes of each source are counted in
 * m->srcs (link/srccount.h) as links come and go, plus the backend's
 * connections of that source still upgrading. A new source when the
 * table is full (never, as sized) counts as over. */
static bool source_over(yz_link_manager *m, const uint8_t *ip,
                        size_t ip_len) {
  uint32_t pending = be_pending_from(m, ip, ip_len);
  uint32_t hs = pending, links = pending;
  const yz__src_ent *se = yz__srccount_find(&m->srcs, ip, ip_len);
  if (se != NULL) {
    links += se->links;
    hs += se->hs;
  } else if (ip_len > 0 && m->srcs.n >= m->srcs.max) {
    return true;
  }
  return hs >= m->cfg.max_handshakes_per_source ||
         links >= m->cfg.max_links_per_source;
}

/* max_links is reached and a new inbound connection wants in: close the
 * link idle longest (no application message either way for at least
 * evict_min_idle_ms), inbound before outbound, never a protected one.
 * Without such a link the newcomer is refused. */
static bool evict_idle(yz_link_manager *m) {
  uint64_t now = yz__link_clock(m);
  yz_link *best = NULL;
  uint64_t best_idle = 0;
  for (yz_link *l = m->links; l != NULL; l = l->next) {
    if (l->state != YZ__LS_UP || l->is_protected)
      continue;
    uint64_t idle = now > l->last_app_ms ? now - l->last_app_ms : 0;
    if (idle < m->cfg.evict_min_idle_ms)
      continue;
    bool better = best == NULL ||
                  (l->dir == YZ_LINK_INBOUND && best->dir != YZ_LINK_INBOUND) ||
                  (l->dir == best->dir && idle > best_idle);
    if (better) {
      best = l;
      best_idle = idle;
    }
  }
  if (best == NULL)
    return false;
  m->stats.evictions++;
  yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
            "link %s: " EVICT_REASON " (max_links %u, idle %llu ms)",
            best->remote, m->cfg.max_links, (unsigned long long)best_idle);
  link_close_local(best, YZ_CLOSE_GOING_AWAY, EVICT_REASON, YZ_E_LIMIT,
                   EVICT_REASON " (max_links)");
  return true;
}

bool yz__link_admit(yz_link_manager *m, const uint8_t *ip, size_t ip_len,
                    const char *remote, uint32_t pending) {
  if (m->closing) {
    yz__link_refused(m, YZ_LINK_REFUSED_CLOSING);
    return false;
  }
  if (m->n_handshakes + pending >= m->cfg.max_handshakes) {
    yz__link_refused(m, YZ_LINK_REFUSED_MAX_HANDSHAKES);
    yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
              "refused %s: %u handshakes in progress (max_handshakes)",
              remote, m->n_handshakes + pending);
    return false;
  }
  if (ip != NULL && source_over(m, ip, ip_len)) {
    yz__link_refused(m, YZ_LINK_REFUSED_PER_SOURCE);
    yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
              "refused %s: its source holds its share of handshakes or "
              "links (max_handshakes_per_source %u, max_links_per_source "
              "%u)",
              remote, m->cfg.max_handshakes_per_source,
              m->cfg.max_links_per_source);
    return false;
  }
  if (ip != NULL &&
      !yz__ratelimit_take(&m->rl, ip, ip_len, yz__link_clock(m))) {
    yz__link_refused(m, YZ_LINK_REFUSED_RATE);
    yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
              "refused %s: handshake rate limit", remote);
    return false;
  }
  /* last, so that nothing is evicted for a newcomer refused anyway */
  if (m->n_links >= m->cfg.max_links && !evict_idle(m)) {
    yz__link_refused(m, YZ_LINK_REFUSED_MAX_LINKS);
    yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
              "refused %s: %u links (max_links)", remote, m->n_links);
    return false;
  }
  return true;
}

yz_link *yz__link_inbound_at(yz_link_manager *m, void *conn,
                             const char *remote, bool tls,
                             const yz__link_src *src, uint64_t accepted_ms) {
  if (!yz__link_admit(m, NULL, 0, remote, be_pending(m)))
    return NULL;
  yz_link *l = link_new(m, YZ_LINK_INBOUND);
  if (l == NULL)
    return NULL;
  l->conn = conn;
  l->tls = tls;
  snprintf(l->remote, sizeof l->remote, "%s", remote);
  if (src != NULL && src->ip_len <= sizeof l->src_ip) {
    memcpy(l->src_ip, src->ip, src->ip_len);
    l->src_len = src->ip_len;
    /* counted until link_down(); its handshake until it is up */
    yz__src_ent *se = yz__srccount_get(&m->srcs, l->src_ip, l->src_len);
    if (se != NULL) {
      se->links++;
      se->hs++;
      l->src_counted = true;
    }
  }
  if (accepted_ms != UINT64_MAX) {
    l->has_accepted = true;
    l->accepted_ms = accepted_ms;
  }
  l->counted_hs = true;
  m->n_handshakes++;
  link_start_session(l);
  return l;
}

yz_link *yz__link_inbound(yz_link_manager *m, void *conn, const char *remote,
                          bool tls) {
  return yz__link_inbound_at(m, conn, remote, tls, NULL, UINT64_MAX);
}

void yz__link_conn_up(yz_link *l, const char *remote) {
  if (l->state != YZ__LS_CONNECTING)
    return;
  if (remote != NULL && remote[0] != '\0')
    snprintf(l->remote, sizeof l->remote, "%s", remote);
  link_start_session(l);
}

/* ------------------------------------------------------------------------ */
/* Cookies (docs/protocol.md 4, "Cookie")                                   */

/* Rotate the secrets by whole periods since the manager began: a cookie
 * made in period k is valid through period k + 1 (120 to 240 s). A clock
 * that went back changes nothing. */
static void cookie_rotate(yz_link_manager *m, uint64_t now) {
  uint64_t epoch =
      now > m->cookie_t0 ? (now - m->cookie_t0) / YZ__COOKIE_ROTATE_MS : 0;
  if (epoch <= m->cookie_epoch)
    return;
  if (epoch == m->cookie_epoch + 1)
    memcpy(m->cookie_secret[1], m->cookie_secret[0],
           sizeof m->cookie_secret[1]);
  else /* two or more periods passed: nothing issued so far stays valid */
    randombytes_buf(m->cookie_secret[1], sizeof m->cookie_secret[1]);
  randombytes_buf(m->cookie_secret[0], sizeof m->cookie_secret[0]);
  m->cookie_epoch = epoch;
}

/* Count one message 1; is the node under load (yz_link_config)? */
static bool cookie_load(yz_link_manager *m, uint64_t now) {
  uint64_t sec = now / 1000u;
  if (sec != m->msg1_second) {
    m->msg1_last = sec == m->msg1_second + 1 ? m->msg1_now : 0;
    m->msg1_now = 0;
    m->msg1_second = sec;
  }
  if (m->msg1_now < UINT32_MAX)
    m->msg1_now++;
  if (m->cfg.cookie_always)
    return true;
  if (m->cfg.cookie_load_pct <= 100) {
    /* the others: this link is one of n_handshakes */
    uint64_t others = m->n_handshakes > 0 ? m->n_handshakes - 1u : 0;
    uint64_t busy = (others + be_pending(m)) * 100u;
    if (busy >= (uint64_t)m->cfg.cookie_load_pct * m->cfg.max_handshakes)
      return true;
  }
  return m->msg1_now > m->cfg.cookie_msg1_per_s ||
         m->msg1_last > m->cfg.cookie_msg1_per_s;
}

/* Inbound message 1: serve it, or (under load, without a valid cookie)
 * answer with a COOKIE_REPLY and close, before the session spends any DH
 * on it. True if it was answered here. */
static bool cookie_gate_inbound(yz_link *l, const uint8_t *msg, size_t len) {
  yz_link_manager *m = l->m;
  l->msg1_seen = true;
  yz_session_msg1 m1;
  if (yz_session_msg1_parse(&m1, msg, len, NULL) != 0)
    return false; /* the session refuses it (PROTOCOL) without DH */
  uint64_t now = yz__link_clock(m);
  cookie_rotate(m, now);
  bool load = cookie_load(m, now);
  bool valid = false;
  if (m1.cookie != NULL) {
    /* both secrets, always: the time taken does not say which matched */
    bool cur = yz_session_cookie_check(m1.cookie, m->cookie_secret[0],
                                       l->src_ip, l->src_len,
                                       &m->identity.id);
    bool prev = yz_session_cookie_check(m1.cookie, m->cookie_secret[1],
                                        l->src_ip, l->src_len,
                                        &m->identity.id);
    valid = cur || prev;
    if (valid)
      m->stats.cookies_accepted++;
    else
      m->stats.cookies_rejected++;
  }
  if (!load || valid) {
    m->stats.handshakes_answered++;
    return false;
  }
  uint8_t cookie[YZ_SESSION_COOKIE_LEN];
  uint8_t reply[YZ_SESSION_COOKIE_REPLY_LEN];
  if (yz_session_cookie_make(cookie, m->cookie_secret[0], l->src_ip,
                             l->src_len, &m->identity.id) != 0) {
    link_down(l, YZ_E_INVAL, "cannot make a cookie");
    return true;
  }
  size_t n = yz_session_cookie_reply_encode(reply, cookie);
  sodium_memzero(cookie, sizeof cookie);
  if (sess_send(l, reply, n) == 0)
    m->stats.cookie_replies++;
  yz_log_rl(&m->log_rl, yz__link_now(m), YZ_LOG_INFO,
            "under load: %s must prove its address (cookie reply sent)",
            l->remote);
  /* the reply is flushed, then the connection closes: no session state
   * is kept for this dialler */
  link_down(l, YZ_E_LIMIT,
            m1.cookie != NULL ? "under load: the cookie in message 1 is "
                                "not valid (forged, stale or for another "
                                "address); a COOKIE_REPLY was sent"
                              : "under load: message 1 without a cookie; "
                                "a COOKIE_REPLY was sent");
  return true;
}

/* Outbound, waiting for message 2: a COOKIE_REPLY makes the link dial
 * again, once, on a new connection with a new session (a new ephemeral),
 * with the cookie in message 1. The upper layer keeps its link handle and
 * sees nothing of it. */
static bool cookie_gate_outbound(yz_link *l, const uint8_t *msg,
                                 size_t len) {
  yz_link_manager *m = l->m;
  uint8_t cookie[YZ_SESSION_COOKIE_LEN];
  if (len != YZ_SESSION_COOKIE_REPLY_LEN ||
      yz_session_cookie_reply_parse(cookie, msg, len, NULL) != 0)
    return false; /* message 2, or the session's to refuse */
  if (l->cookie_redialled || m->closing || l->dial_addr == NULL) {
    sodium_memzero(cookie, sizeof cookie);
    link_down(l, YZ_E_LIMIT,
              l->cookie_redialled
                  ? "the peer is under load and refused the handshake "
                    "again, with its cookie"
                  : "the peer is under load and asked for a cookie");
    return true;
  }
  memcpy(l->cookie, cookie, sizeof l->cookie);
  sodium_memzero(cookie, sizeof cookie);
  l->cookie_redialled = true;
  m->stats.cookie_redials++;
  /* Let go of the old connection (no more callbacks for l from it) and
   * of its session; start over as a dial that is connecting. */
  if (!l->conn_gone)
    m->be->abandon(l);
  l->conn = NULL;
  yz_session_clear(&l->s);
  l->sess_inited = false;
  free_queue(l);
  heap_remove(l);
  l->deadline = UINT64_MAX;
  l->state = YZ__LS_CONNECTING;
  l->upgrade_sent = false;
  l->peer_ws_close = false;
  int rc = m->be->dial(m, l, l->dial_addr, &l->dial_opts);
  if (rc != 0 && l->state != YZ__LS_DOWN) {
    l->conn_gone = true;
    l->conn = NULL;
    link_down(l, YZ_E_UNREACHABLE, "cannot start the connection");
  }
  return true;
}

static bool cookie_gate(yz_link *l, const uint8_t *msg, size_t len) {
  if (l->dir == YZ_LINK_INBOUND)
    return !l->msg1_seen && cookie_gate_inbound(l, msg, len);
  return yz_session_get_state(&l->s) == YZ_SESSION_HANDSHAKE &&
         cookie_gate_outbound(l, msg, len);
}

static void conn_recv(yz_link *l, const uint8_t *msg, uint8_t *mut,
                      size_t len) {
  if (l->state == YZ__LS_DOWN || !l->sess_inited)
    return;
  l->m->stats.bytes_in += len;
  if (l->state == YZ__LS_HANDSHAKE && cookie_gate(l, msg, len))
    return;
  /* A reassembly that would grow past the node's budget closes the
   * heaviest links first, maybe this one, before it grows. */
  size_t cur = yz_session_rx_buffered(&l->s);
  size_t want = yz_session_rx_reserve(&l->s, len);
  if (want > cur && !budget_make_room(l, want - cur, false))
    return;
  int rc = mut != NULL
               ? yz_session_recv_inplace(&l->s, mut, len, yz__link_now(l->m))
               : yz_session_recv(&l->s, msg, len, yz__link_now(l->m));
  (void)rc; /* a failure closed the session: its CLOSED event said why */
  mem_sync(l);
  link_after_session(l);
}

void yz__link_conn_recv(yz_link *l, const uint8_t *msg, size_t len) {
  conn_recv(l, msg, NULL, len);
}

void yz__link_conn_recv_inplace(yz_link *l, uint8_t *msg, size_t len) {
  conn_recv(l, msg, msg, len);
}

yz__qmsg *yz__link_conn_pop(yz_link *l) {
  yz__qmsg *q = l->qhead;
  if (q == NULL)
    return NULL;
  l->qhead = q->next;
  if (l->qhead == NULL)
    l->qtail = NULL;
  l->qbytes -= q->len;
  l->qmsgs--;
  mem_sync(l);
  return q;
}

bool yz__link_conn_after_write(yz_link *l) {
  yz_link_manager *m = l->m;
  if (l->want_writable && l->state == YZ__LS_UP &&
      l->qbytes <= m->cfg.send_queue_max_bytes / 2 &&
      l->qmsgs <= m->cfg.send_queue_max_msgs / 2) {
    l->want_writable = false;
    if (m->cfg.cb.on_writable != NULL && !m->closing)
      m->cfg.cb.on_writable(m, l, m->cfg.user_data);
  }
  return l->qhead != NULL;
}

void yz__link_conn_gone(yz_link *l, int err, const char *reason) {
  if (l->conn_gone)
    return;
  l->conn_gone = true;
  l->conn = NULL;
  if (l->peer_ws_close && err == YZ_E_IO) {
    err = YZ_E_PEER_CLOSED;
    reason = "the peer closed the WebSocket";
  }
  if (l->state == YZ__LS_CONNECTING && err == YZ_E_IO) {
    err = YZ_E_UNREACHABLE;
    reason = "refused by the peer before the WebSocket upgrade (its "
             "limits?): the connection closed";
  }
  link_down(l, err, reason);
  defer_link(l);
}

/* ------------------------------------------------------------------------ */
/* Public link calls                                                        */

int yz_link_listen(yz_link_manager *m, const yz_link_listen_config *lc,
                   uint16_t *port_out) {
  if (m == NULL || lc == NULL || lc->url == NULL)
    return YZ_E_INVAL;
  if (m->closing)
    return YZ_E_STATE;
  yz_address a;
  const char *why = NULL;
  int rc = yz_address_parse_listen(&a, (const uint8_t *)lc->url,
                                   strlen(lc->url), &why);
  if (rc != 0) {
    yz_log(YZ_LOG_ERR, "cannot listen on %s: %s", lc->url, why);
    return rc;
  }
  if (a.tls && (lc->tls_cert_file == NULL || lc->tls_key_file == NULL)) {
    yz_log(YZ_LOG_ERR, "cannot listen on %s: wss:// needs a certificate "
                       "and a key", lc->url);
    return YZ_E_INVAL;
  }
  return m->be->listen(m, &a, lc, port_out);
}

int yz_link_dial(yz_link_manager *m, const char *url,
                 const yz_node_id *expected_id, const yz_link_dial_opts *opts,
                 yz_link **out) {
  static const yz_link_dial_opts zero_opts;
  if (out != NULL)
    *out = NULL;
  if (m == NULL || url == NULL || out == NULL)
    return YZ_E_INVAL;
  if (opts == NULL)
    opts = &zero_opts;
  if (m->closing)
    return YZ_E_STATE;
  /* One grammar for every node address (yz/address.h). The text may come
   * from a peer (advertised addresses): its reason is logged rate-limited,
   * the URL only as far as the parser bounds it. */
  yz_address u;
  const char *why = NULL;
  int rc = yz_address_parse(&u, (const uint8_t *)url, strlen(url), &why);
  if (rc != 0) {
    yz_log_rl(&m->log_rl, yz__link_clock(m), YZ_LOG_WARN,
              "cannot dial %.*s: %s", (int)YZ__MIN(strlen(url), 200), url,
              why);
    return rc;
  }
  yz_node_id want;
  bool has = false;
  if (expected_id != NULL) {
    want = *expected_id;
    has = true;
  } else if (u.has_id && !opts->unpinned) {
    want = u.id;
    has = true;
  }
  if (opts->unpinned ? has && expected_id != NULL : !has)
    return YZ_E_INVAL;
  if (m->n_links >= m->cfg.max_links)
    return YZ_E_LIMIT;
  if (m->n_handshakes >= m->cfg.max_handshakes)
    return YZ_E_LIMIT;
  yz_link *l = link_new(m, YZ_LINK_OUTBOUND);
  if (l == NULL)
    return YZ_E_NOMEM;
  l->announced = true;
  l->has_expected = has;
  if (has)
    l->expected = want;
  l->unpinned = opts->unpinned;
  l->tls = u.tls;
  /* kept for the one redial a COOKIE_REPLY may ask for */
  l->dial_addr = malloc(sizeof *l->dial_addr);
  if (l->dial_addr != NULL)
    *l->dial_addr = u;
  l->dial_opts = *opts;
  l->counted_hs = true;
  m->n_handshakes++;
  bool v6 = u.host_type == YZ_ADDRESS_IPV6;
  snprintf(l->remote, sizeof l->remote, "%s%.48s%s:%u", v6 ? "[" : "",
           u.host, v6 ? "]" : "", (unsigned)u.port);
  *out = l;
  rc = m->be->dial(m, l, &u, opts);
  if (rc != 0 && l->state != YZ__LS_DOWN) {
    l->conn_gone = true;
    l->conn = NULL;
    link_down(l, YZ_E_UNREACHABLE, "cannot start the connection");
  }
  return 0;
}

int yz_link_send(yz_link *l, const uint8_t *msg, size_t len) {
  if (l == NULL || (msg == NULL && len > 0) || len == 0)
    return YZ_E_INVAL;
  yz_link_manager *m = l->m;
  if (l->state != YZ__LS_UP)
    return YZ_E_STATE;
  if (len > m->cfg.max_message_size)
    return YZ_E_TOO_LARGE;
  size_t n = yz_session_wire_messages_for(&l->s, len);
  size_t bytes = len + n * WIRE_OVERHEAD;
  if (l->qmsgs > 0 && (l->qmsgs + n > m->cfg.send_queue_max_msgs ||
                       l->qbytes + bytes > m->cfg.send_queue_max_bytes)) {
    l->want_writable = true;
    m->stats.queue_full++;
    return YZ_E_QUEUE_FULL;
  }
  /* The node's budget: the application's share of it ("Memory budget"). */
  if (m->mem_used + bytes > app_share(m)) {
    if (!l->budget_wait) {
      l->budget_wait = true;
      m->budget_waiters++;
    }
    m->stats.queue_full++;
    return YZ_E_QUEUE_FULL;
  }
  int rc = yz_session_send(&l->s, msg, len, yz__link_now(m));
  if (rc == 0) {
    m->stats.msgs_out++;
    l->last_app_ms = yz__link_clock(m);
  }
  link_after_session(l);
  if (rc == YZ_E_CLOSED)
    rc = YZ_E_STATE;
  return rc;
}

void yz_link_close(yz_link *l) {
  if (l != NULL)
    link_close_local(l, YZ_CLOSE_NORMAL, NULL, YZ_E_CLOSED, "closed locally");
}

void yz_link_close_with(yz_link *l, uint16_t code, int err, const char *text) {
  if (l == NULL)
    return;
  if (text == NULL || text[0] == '\0')
    text = "closed locally";
  link_close_local(l, code, text, err != 0 ? err : YZ_E_CLOSED, text);
}

void yz_link_queue_level(const yz_link *l, size_t *bytes, size_t *msgs) {
  if (bytes != NULL)
    *bytes = l->qbytes;
  if (msgs != NULL)
    *msgs = l->qmsgs;
}

const yz_node_id *yz_link_peer_id(const yz_link *l) {
  if (l->sess_inited) {
    const yz_node_id *id = yz_session_peer_id(&l->s);
    if (id != NULL)
      return id;
  }
  return l->has_expected ? &l->expected : NULL;
}

yz_link_direction yz_link_get_direction(const yz_link *l) {
  return (yz_link_direction)l->dir;
}

bool yz_link_is_up(const yz_link *l) { return l->state == YZ__LS_UP; }

yz_link_manager *yz_link_get_manager(const yz_link *l) { return l->m; }

void yz_link_set_data(yz_link *l, void *data) { l->user_data = data; }

void *yz_link_get_data(const yz_link *l) { return l->user_data; }

void yz_link_set_protected(yz_link *l, bool protect) {
  if (l != NULL)
    l->is_protected = protect;
}

uint64_t yz_link_idle_ms(const yz_link *l) {
  if (l == NULL || l->state != YZ__LS_UP)
    return 0;
  uint64_t now = yz__link_clock(l->m);
  return now > l->last_app_ms ? now - l->last_app_ms : 0;
}

/* ------------------------------------------------------------------------ */
/* Deadlines: a binary min-heap of links and one uv timer                   */

static void heap_swap(yz_link **h, uint32_t a, uint32_t b) {
  yz_link *t = h[a];
  h[a] = h[b];
  h[b] = t;
  h[a]->heap_idx = a;
  h[b]->heap_idx = b;
}

static void heap_sift(yz_link_manager *m, uint32_t i) {
  yz_link **h = m->heap;
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (h[p]->deadline <= h[i]->deadline)
      break;
    heap_swap(h, p, i);
    i = p;
  }
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, s = i;
    if (l < m->heap_len && h[l]->deadline < h[s]->deadline)
      s = l;
    if (r < m->heap_len && h[r]->deadline < h[s]->deadline)
      s = r;
    if (s == i)
      break;
    heap_swap(h, s, i);
    i = s;
  }
}

static void heap_remove(yz_link *l) {
  yz_link_manager *m = l->m;
  uint32_t i = l->heap_idx;
  if (i == UINT32_MAX)
    return;
  l->heap_idx = UINT32_MAX;
  m->heap_len--;
  if (i != m->heap_len) {
    m->heap[i] = m->heap[m->heap_len];
    m->heap[i]->heap_idx = i;
    heap_sift(m, i);
  }
}

static void heap_update(yz_link *l) {
  yz_link_manager *m = l->m;
  if (l->deadline == UINT64_MAX) {
    heap_remove(l);
    return;
  }
  if (l->heap_idx != UINT32_MAX) {
    heap_sift(m, l->heap_idx);
    return;
  }
  if (m->heap_len == m->heap_cap) {
    uint32_t cap = m->heap_cap ? m->heap_cap * 2 : 64;
    yz_link **h = realloc(m->heap, cap * sizeof *h);
    if (h == NULL) {
      /* cannot track its timers: fail the link rather than hang it */
      link_down(l, YZ_E_NOMEM, "out of memory");
      return;
    }
    m->heap = h;
    m->heap_cap = cap;
  }
  l->heap_idx = m->heap_len;
  m->heap[m->heap_len++] = l;
  heap_sift(m, l->heap_idx);
}

static void arm_timer(yz_link_manager *m) {
  if (m->closing || m->cfg.virtual_time)
    return;
  if (m->heap_len == 0) {
    uv_timer_stop(&m->timer);
    m->timer_armed = false;
    return;
  }
  uint64_t now = yz__link_now(m);
  uint64_t d = m->heap[0]->deadline;
  uint64_t due = d > now ? d : now;
  /* A timer armed for no later than the earliest deadline stays as it
   * is: every authenticated message moves its link's keepalive deadline
   * later, and re-arming for that would update libuv's timer heap per
   * message. A timer that fires before anything is due runs no session
   * and is armed again for the earliest deadline. */
  if (m->timer_armed && m->timer_due <= due)
    return;
  uv_timer_start(&m->timer, timer_cb, due - now, 0);
  m->timer_armed = true;
  m->timer_due = due;
}

uint64_t yz_link_manager_next_deadline(const yz_link_manager *m) {
  return m->heap_len > 0 ? m->heap[0]->deadline : UINT64_MAX;
}

void yz_link_manager_run_timers(yz_link_manager *m) {
  if (m->closing)
    return;
  uint64_t now = yz__link_now(m);
  /* Bounded: each link is ticked at most once per run. */
  uint32_t budget = m->heap_len;
  while (m->heap_len > 0 && m->heap[0]->deadline <= now && budget-- > 0) {
    yz_link *l = m->heap[0];
    heap_remove(l);
    l->deadline = UINT64_MAX;
    (void)yz_session_tick(&l->s, now);
    mem_sync(l); /* an idle session frees its buffers */
    link_after_session(l);
  }
  arm_timer(m);
}

static void timer_cb(uv_timer_t *t) {
  yz_link_manager *m = t->data;
  m->timer_armed = false;
  yz_link_manager_run_timers(m);
}
