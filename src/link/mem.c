/*
 * mem.c: the in-memory backend (yz_link_memnet in yz/link.h).
 *
 * A connection is a pair of half-connections, one per link. Everything a
 * backend op asks for (the dialer's transport coming up, writing the queue,
 * closing) becomes an event on the network's list, run from an async handle
 * of the loop, so that no upper-layer callback runs inside the call that
 * caused it and delivery keeps the order of the queues. A half holds a
 * reference for each pending event; it is freed when its link has let go
 * and no event refers to it.
 */
#include "link/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct half half;

struct half {
  yz_link *l;     /* NULL once the link let go */
  half *peer;     /* NULL once the peer is gone */
  int refs;       /* the link's + pending events' */
  bool closing;
  bool flush_posted;
};

typedef enum ev_type { EV_UP, EV_FLUSH, EV_CLOSE, EV_GONE } ev_type;

typedef struct ev {
  struct ev *next;
  ev_type type;
  half *h;
  int err;
} ev;

typedef struct listener {
  struct listener *next;
  yz_link_manager *m;
  char host[YZ_ADDRESS_HOST_MAX + 3];
  uint16_t port;
  bool tls;
} listener;

struct yz_link_memnet {
  uv_loop_t *loop;
  /* Events run from an async handle, i.e. in the loop's poll phase: a
   * uv_run(UV_RUN_ONCE) that delivers them then returns, as it does for
   * socket I/O (a 0 ms timer would run first and then let the same
   * iteration block in poll until the next timer). */
  uv_async_t async;
  ev *head, *tail;
  listener *listeners;
  uint16_t next_port;
  unsigned managers;
};

static void run_events(uv_async_t *t);

int yz_link_memnet_new(yz_link_memnet **out, uv_loop_t *loop) {
  *out = NULL;
  yz_link_memnet *n = calloc(1, sizeof *n);
  if (n == NULL)
    return YZ_E_NOMEM;
  n->loop = loop;
  n->next_port = 20000;
  if (uv_async_init(loop, &n->async, run_events) != 0) {
    free(n);
    return YZ_E_IO;
  }
  n->async.data = n;
  *out = n;
  return 0;
}

static void net_closed(uv_handle_t *h) { free(h->data); }

void yz_link_memnet_free(yz_link_memnet *n) {
  if (n == NULL)
    return;
  /* every manager has closed: no half is left with a link */
  while (n->head != NULL) {
    ev *e = n->head;
    n->head = e->next;
    if (--e->h->refs == 0)
      free(e->h);
    free(e);
  }
  while (n->listeners != NULL) {
    listener *l = n->listeners;
    n->listeners = l->next;
    free(l);
  }
  uv_close((uv_handle_t *)&n->async, net_closed);
}

static yz_link_memnet *net_of(const yz_link_manager *m) {
  return m->cfg.memnet;
}

static void post(yz_link_memnet *n, ev_type type, half *h, int err) {
  ev *e = malloc(sizeof *e);
  if (e == NULL)
    return; /* the link will time out; nothing else to do without memory */
  e->next = NULL;
  e->type = type;
  e->h = h;
  e->err = err;
  h->refs++;
  if (n->tail != NULL)
    n->tail->next = e;
  else
    n->head = e;
  n->tail = e;
  uv_async_send(&n->async);
}

static void unref(half *h) {
  if (--h->refs == 0)
    free(h);
}

/* The link lets go of its half (after yz__link_conn_gone). */
static void release(half *h) {
  if (h->l != NULL) {
    h->l = NULL;
    unref(h);
  }
}

static void deliver_queue(half *h) {
  yz_link *l = h->l;
  while (h->l != NULL) {
    yz__qmsg *q = yz__link_conn_pop(l);
    if (q == NULL)
      break;
    if (h->peer != NULL && h->peer->l != NULL)
      yz__link_conn_recv(h->peer->l, q->buf + YZ__LINK_HEADROOM, q->len);
    free(q);
    if (h->l != NULL)
      (void)yz__link_conn_after_write(l);
  }
}

/* Tear a half down: the peer learns it (once), the link gets its
 * conn_gone. */
static void shut(yz_link_memnet *n, half *h, int err, const char *why) {
  half *p = h->peer;
  if (p != NULL) {
    p->peer = NULL;
    h->peer = NULL;
    post(n, EV_GONE, p, YZ_E_IO);
  }
  yz_link *l = h->l;
  if (l != NULL) {
    release(h);
    yz__link_conn_gone(l, err, why);
  }
}

static void run_events(uv_async_t *t) {
  yz_link_memnet *n = t->data;
  /* only what is queued now; new events get the next run */
  ev *list = n->head;
  n->head = n->tail = NULL;
  while (list != NULL) {
    ev *e = list;
    list = e->next;
    half *h = e->h;
    switch (e->type) {
    case EV_UP:
      if (h->l != NULL) {
        if (h->peer != NULL)
          yz__link_conn_up(h->l, "memnet");
        else
          shut(n, h, YZ_E_UNREACHABLE, "the listener went away");
      }
      break;
    case EV_FLUSH:
      h->flush_posted = false;
      if (h->l != NULL)
        deliver_queue(h);
      break;
    case EV_CLOSE:
      if (h->l != NULL)
        deliver_queue(h);
      shut(n, h, YZ_E_CLOSED, "closed");
      break;
    case EV_GONE:
      if (h->l != NULL)
        shut(n, h, e->err, e->err == YZ_E_UNREACHABLE
                               ? "nothing listens at that address"
                               : "the connection closed");
      break;
    }
    unref(h);
    free(e);
  }
}

/* ---- backend ops ------------------------------------------------------- */

static int mem_attach(yz_link_manager *m) {
  net_of(m)->managers++;
  return 0;
}

static void mem_detach(yz_link_manager *m, void (*done)(yz_link_manager *m)) {
  yz_link_memnet *n = net_of(m);
  listener **pp = &n->listeners;
  while (*pp != NULL) {
    if ((*pp)->m == m) {
      listener *l = *pp;
      *pp = l->next;
      free(l);
    } else {
      pp = &(*pp)->next;
    }
  }
  n->managers--;
  if (done != NULL)
    done(m);
}

static int mem_listen(yz_link_manager *m, const yz_address *u,
                      const yz_link_listen_config *lc, uint16_t *port_out) {
  (void)lc;
  yz_link_memnet *n = net_of(m);
  uint16_t port = u->port;
  if (port == 0)
    port = n->next_port++;
  for (listener *l = n->listeners; l != NULL; l = l->next)
    if (l->port == port && strcmp(l->host, u->host) == 0)
      return YZ_E_IO; /* address in use */
  listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return YZ_E_NOMEM;
  l->m = m;
  snprintf(l->host, sizeof l->host, "%s", u->host);
  l->port = port;
  l->tls = u->tls;
  l->next = n->listeners;
  n->listeners = l;
  if (port_out != NULL)
    *port_out = port;
  return 0;
}

static int mem_dial(yz_link_manager *m, yz_link *l, const yz_address *u,
                    const yz_link_dial_opts *opts) {
  (void)opts;
  yz_link_memnet *n = net_of(m);
  half *a = calloc(1, sizeof *a);
  if (a == NULL)
    return YZ_E_NOMEM;
  a->l = l;
  a->refs = 1;
  l->conn = a;
  listener *ls = NULL;
  for (listener *x = n->listeners; x != NULL; x = x->next)
    if (x->port == u->port && strcmp(x->host, u->host) == 0 &&
        x->tls == u->tls)
      ls = x;
  if (ls == NULL) {
    post(n, EV_GONE, a, YZ_E_UNREACHABLE);
    return 0;
  }
  /* the accepting side: limits first, as a listener would */
  if (!yz__link_admit(ls->m, NULL, 0, "memnet", 0)) {
    post(n, EV_GONE, a, YZ_E_IO);
    return 0;
  }
  half *b = calloc(1, sizeof *b);
  if (b == NULL) {
    post(n, EV_GONE, a, YZ_E_IO);
    return 0;
  }
  b->refs = 1; /* the inbound link's */
  a->peer = b;
  b->peer = a;
  yz_link *lb = yz__link_inbound(ls->m, b, "memnet", u->tls);
  if (lb == NULL) {
    a->peer = NULL;
    free(b);
    post(n, EV_GONE, a, YZ_E_IO);
    return 0;
  }
  b->l = lb;
  post(n, EV_UP, a, 0);
  return 0;
}

static void mem_want_write(yz_link *l) {
  half *h = l->conn;
  if (h != NULL && !h->closing && !h->flush_posted) {
    h->flush_posted = true;
    post(net_of(l->m), EV_FLUSH, h, 0);
  }
}

static void mem_close(yz_link *l, bool flush) {
  (void)flush; /* the queue is always delivered before the close */
  half *h = l->conn;
  if (h == NULL || h->closing)
    return;
  h->closing = true;
  post(net_of(l->m), EV_CLOSE, h, 0);
}

static void mem_abandon(yz_link *l) {
  half *h = l->conn;
  if (h == NULL)
    return;
  yz_link_memnet *n = net_of(l->m);
  half *p = h->peer;
  if (p != NULL) {
    p->peer = NULL;
    h->peer = NULL;
    post(n, EV_GONE, p, YZ_E_IO);
  }
  release(h);
}

const yz__link_backend_ops yz__link_mem_backend = {
    .name = "memory",
    .attach = mem_attach,
    .detach = mem_detach,
    .listen = mem_listen,
    .dial = mem_dial,
    .want_write = mem_want_write,
    .close = mem_close,
    .abandon = mem_abandon,
};
