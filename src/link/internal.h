/*
 * internal.h: the link layer's private structures and the backend
 * interface.
 *
 * The manager (manager.c) is transport-neutral: it owns the links, their
 * sessions, send queues, limits, timers and events. A backend moves whole
 * WebSocket-sized binary messages for it: the WebSocket one on
 * libwebsockets (ws.c), and an in-memory one can implement the same ops for
 * simulation with a virtual clock.
 */
#ifndef YZ_LINK_INTERNAL_H
#define YZ_LINK_INTERNAL_H

#include "yz/address.h"
#include "yz/link.h"
#include "yz/log.h"
#include "yz/session.h"

#include "link/ratelimit.h"
#include "link/srccount.h"

/* The longest reason text a link keeps for on_down, NUL included. */
#define YZ__LINK_REASON_MAX 320

/* Headroom before each queued message (libwebsockets' LWS_PRE is 16 in
 * 4.1.6; checked at compile time in ws.c). */
#define YZ__LINK_HEADROOM 16

/* One queued wire message: headroom, then len bytes. */
typedef struct yz__qmsg {
  struct yz__qmsg *next;
  uint32_t len;
  uint32_t cap;  /* room after the headroom (>= len) */
  uint8_t buf[]; /* YZ__LINK_HEADROOM + cap */
} yz__qmsg;

/* Queue entries come from a pool (manager.c "Message buffers"): one for a
 * message of len bytes (NULL: out of memory), and back to the pool (or
 * free()d; free() alone is also fine for any entry). */
yz__qmsg *yz__link_qmsg_new(size_t len);
void yz__link_qmsg_free(yz__qmsg *q);
/* Entries held by this thread's pool (tests). */
size_t yz__link_qpool_held(void);
enum { YZ__QPOOL_TINY = 256,   /* the room of a tiny entry */
       YZ__QPOOL_SMALL = 2048, /* the room of a small entry */
       YZ__QPOOL_MAX_TINY = 256, YZ__QPOOL_MAX_SMALL = 128,
       YZ__QPOOL_MAX_LARGE = 32 };

typedef enum yz__link_state {
  YZ__LS_CONNECTING = 0, /* outbound: transport not up yet */
  YZ__LS_HANDSHAKE = 1,  /* session handshake in progress */
  YZ__LS_UP = 2,
  YZ__LS_DOWN = 3,       /* going away; on_down pending or delivered */
} yz__link_state;

/* First field of a link: tells it apart from the backend's other uses of
 * a connection's user pointer. */
#define YZ__LINK_MAGIC 0x6b6e696cu

struct yz_link {
  uint32_t magic; /* YZ__LINK_MAGIC while allocated */
  yz_link_manager *m;
  void *conn; /* the backend's connection (struct lws *), NULL once gone */
  void *user_data;
  struct yz_link *prev, *next;      /* m->links */
  struct yz_link *defer_next;       /* m->defer list */

  uint8_t state;          /* yz__link_state */
  uint8_t dir;            /* yz_link_direction */
  bool tls;
  bool announced;         /* the upper layer knows it (dialled or on_up) */
  bool in_defer;          /* on m->defer */
  bool down_reported;     /* on_down delivered (or not owed) */
  bool conn_gone;         /* the backend released the connection */
  bool want_writable;     /* a send met QUEUE_FULL */
  bool peer_ws_close;     /* the peer sent a WebSocket close */
  bool sess_inited;
  bool unpinned;
  bool has_expected;
  bool counted_hs;        /* counted in m->n_handshakes */
  bool upgrade_sent;      /* outbound: the upgrade request went out */

  int down_err;
  char *down_reason; /* from link_down() (manager.c copy_reason) */
  /* The yz close code of the session's CLOSED event (sent, received, or
   * local only before Split()); the WebSocket Close status follows from
   * it (docs/protocol.md "WebSocket close"). */
  bool has_close_code;
  uint16_t close_code;

  yz_node_id expected;
  uint64_t deadline;      /* session deadline (UINT64_MAX: none) */
  uint32_t heap_idx;      /* index in m->heap, UINT32_MAX if absent */

  /* send queue */
  yz__qmsg *qhead, *qtail;
  size_t qbytes;
  uint32_t qmsgs;

  /* reassembly of one WebSocket message arriving in several pieces */
  uint8_t *rx;
  size_t rxlen, rxcap;
  bool rx_overflow;

  char remote[YZ_LINK_ADDR_TEXT_MAX];

  /* Per-source limits and eviction (docs/operations.md "Limits") */
  uint8_t src_ip[16];     /* inbound: the source key (IPv4, IPv6 /64) */
  uint8_t src_len;        /* 0: unknown (outbound, memnet) */
  bool src_counted;       /* counted in m->srcs (link/srccount.h) */
  bool is_protected;      /* never evicted (yz_link_set_protected) */
  bool has_accepted;      /* inbound: accepted_ms is the TCP accept */
  uint64_t accepted_ms;   /* the handshake timeout runs from here */
  uint64_t last_app_ms;   /* last application message either way */
  /* memory budget (manager.c "Memory budget"): the bytes of this link
   * counted in m->mem_used (send queue and session reassembly; 0 once the
   * link is down) */
  size_t mem;
  size_t budget_held;     /* what it held when the budget closed it */
  bool budget_closed;     /* closed by the budget: its CLOSED event says so */
  bool budget_dropped;    /* ... and its queue was dropped */
  bool budget_wait;       /* a send met the budget: on_writable owed */

  yz_session s;

  /* Cookies (docs/protocol.md 4, "Cookie"). Inbound: the dialler's
   * address as the cookie MAC takes it (src_ip/src_len above; none on
   * the in-memory network) and whether message 1 went through the gate.
   * Outbound: the address and options to dial again with the cookie,
   * once. */
  bool msg1_seen;
  bool cookie_redialled;
  uint8_t cookie[YZ_SESSION_COOKIE_LEN];
  yz_address *dial_addr; /* outbound only, owned */
  yz_link_dial_opts dial_opts;

  /* The queue entry the session is sealing a message into (its
   * tx_alloc), until its send() queues it: one copy per message. */
  yz__qmsg *tx_spare;
};

/* A connection's source for the per-source limits: an IPv4 address (4
 * bytes) or an IPv6 /64 prefix (8 bytes). */
typedef struct yz__link_src {
  uint8_t ip[16];
  uint8_t ip_len;
} yz__link_src;

typedef struct yz__link_backend_ops {
  const char *name;
  /* Start/stop the backend for a manager (vhosts, context reference). */
  int (*attach)(yz_link_manager *m);
  /* Release everything of the manager; call done(m) when released. */
  void (*detach)(yz_link_manager *m, void (*done)(yz_link_manager *m));
  int (*listen)(yz_link_manager *m, const yz_address *a,
                const yz_link_listen_config *lc, uint16_t *port_out);
  /* Start connecting l (l->conn set by the backend); failures may be
   * reported through yz__link_conn_gone(), even before this returns. */
  int (*dial)(yz_link_manager *m, yz_link *l, const yz_address *a,
              const yz_link_dial_opts *opts);
  /* Ask for a yz__link_conn_writable() call when the connection can take
   * a message. */
  void (*want_write)(yz_link *l);
  /* Close the connection: flush queued messages for a short while if
   * flush, else at once. The backend then calls yz__link_conn_gone(). */
  void (*close)(yz_link *l, bool flush);
  /* Drop the connection now without further callbacks for l
   * (manager shutdown). */
  void (*abandon)(yz_link *l);
  /* Inbound connections accepted and not upgraded yet: all of the
   * manager's, or those from one source (ip as in yz__link_src); they
   * count against max_handshakes and the per-source caps. NULL: none. */
  uint32_t (*pending)(const yz_link_manager *m);
  uint32_t (*pending_from)(const yz_link_manager *m, const uint8_t *ip,
                           size_t ip_len);
} yz__link_backend_ops;

extern const yz__link_backend_ops yz__link_ws_backend;
extern const yz__link_backend_ops yz__link_mem_backend;
/* The native WebSocket backend (native.c: libuv TCP, http1.c, wsframe.c,
 * OpenSSL TLS). */
extern const yz__link_backend_ops yz__link_native_backend;

/* The process's struct lws_context, for a benchmark baseline that shares
 * it (one context per process); NULL when no manager exists. */
void *yz__link_ws_context(void);

struct yz_link_manager {
  uv_loop_t *loop;
  const yz__link_backend_ops *be;
  void *be_state;
  yz_link_config cfg;
  yz_identity identity;
  yz_session_local local;

  yz_link *links; /* all live links */
  uint32_t n_links;      /* not yet freed and not down */
  uint32_t n_handshakes;

  yz_link **heap;
  uint32_t heap_len, heap_cap;
  uv_timer_t timer;       /* the session deadlines */
  /* deferred on_down and frees; an async handle, so that the work runs in
   * the poll phase and a uv_run(UV_RUN_ONCE) returns after it */
  uv_async_t defer_async;
  yz_link *defer;

  yz__ratelimit rl;
  /* inbound links and handshakes per source (the per-source caps) */
  yz__srccount srcs;
  yz_log_ratelimit log_rl;
  /* link up/down lines (debug): a peer makes as many as it opens links */
  yz_log_ratelimit log_ev_rl;

  yz_link_stats stats;

  /* memory budget: bytes held by the links that are not down, and the
   * links owed an on_writable once it drains */
  size_t mem_used;
  uint32_t budget_waiters;
  /* Cookies (docs/protocol.md 4, "Cookie"): the current and the previous
   * secret, rotated every YZ__COOKIE_ROTATE_MS of yz__link_clock() since
   * cookie_t0; the count of message 1s in this and the last second. */
  uint8_t cookie_secret[2][YZ_SESSION_COOKIE_SECRET_LEN];
  uint64_t cookie_t0, cookie_epoch;
  uint64_t msg1_second;
  uint32_t msg1_now, msg1_last;

  bool closing;
  int handles_open;
  void (*on_closed)(void *ud);
  void *on_closed_ud;

  /* The session timer's due time (yz__link_now()) while it is armed: it
   * is only moved earlier, never later, per message (arm_timer). */
  bool timer_armed;
  uint64_t timer_due;
};

/* How often the cookie secret rotates (docs/protocol.md 4, "Cookie"). */
#define YZ__COOKIE_ROTATE_MS 120000u

/* Called by backends. */
uint64_t yz__link_now(const yz_link_manager *m);
uint64_t yz__link_clock(const yz_link_manager *m);
/* An inbound connection finished its WebSocket upgrade: a link in
 * handshake, or NULL (refused: limits or memory; counted). */
yz_link *yz__link_inbound(yz_link_manager *m, void *conn, const char *remote,
                          bool tls);
/* Would an inbound connection from this peer be accepted now? Counts the
 * refusal and takes a rate token when ip is given. */
bool yz__link_admit(yz_link_manager *m, const uint8_t *ip, size_t ip_len,
                    const char *remote, uint32_t pending);
/* The backend's count of inbound connections accepted but not upgraded
 * yet (they count against max_handshakes). */
uint32_t yz__link_ws_pending(const yz_link_manager *m);
/* The same, from one source (ip as in yz__link_src). */
uint32_t yz__link_ws_pending_from(const yz_link_manager *m,
                                  const uint8_t *ip, size_t ip_len);
/* yz__link_inbound() with the connection's source (NULL: unknown) and the
 * time of its TCP accept on yz__link_now()'s clock: the session's
 * handshake timeout is what is left of handshake_timeout_ms. */
yz_link *yz__link_inbound_at(yz_link_manager *m, void *conn,
                             const char *remote, bool tls,
                             const yz__link_src *src, uint64_t accepted_ms);
void yz__link_refused(yz_link_manager *m, yz_link_refusal why);
/* Outbound transport is up: start the session. */
void yz__link_conn_up(yz_link *l, const char *remote);
/* One whole received WebSocket binary message. */
void yz__link_conn_recv(yz_link *l, const uint8_t *msg, size_t len);
/* The same for a message the backend lets the session decrypt in place
 * (its own receive buffer, overwritten). */
void yz__link_conn_recv_inplace(yz_link *l, uint8_t *msg, size_t len);
/* The connection can take one message: the head of the queue, or NULL.
 * Ownership passes to the caller (free() it after writing). */
yz__qmsg *yz__link_conn_pop(yz_link *l);
/* After a write: more queued? (then ask again); and pace the upper layer. */
bool yz__link_conn_after_write(yz_link *l);
/* The connection failed or closed. */
void yz__link_conn_gone(yz_link *l, int err, const char *reason);
/* Close the link for a transport-level protocol violation. */
void yz__link_fail(yz_link *l, int err, const char *reason);
bool yz__link_is_closing(const yz_link *l);

#endif
