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
 *
 * With a model (yz_link_memnet_set_model(), docs/simulator.md) nothing runs
 * from the async handle: every event gets a time on the model's virtual
 * clock and waits in a priority queue (time, then posting order) until the
 * driver calls yz_link_memnet_run() with its clock at that time. A wire
 * message then travels as an event of its own, delivered after the pair's
 * one-way latency (plus retransmission delays for simulated losses), never
 * before an earlier message of the same direction: a connection keeps its
 * order as TCP does.
 */
#include "link/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

typedef struct half half;

/* A manager's state on the network (m->be_state). */
typedef struct mstate {
  struct mstate *next; /* the network's list: halves may outlive managers */
  struct listener *listeners; /* the manager's own */
  bool killed;         /* the model's yz_link_memnet_kill() */
} mstate;

struct half {
  yz_link *l;     /* NULL once the link let go */
  half *peer;     /* NULL once the peer is gone */
  int refs;       /* the link's + pending events' */
  bool closing;
  bool flush_posted;
  /* model only: the manager this half belongs to (its state outlives the
   * half: managers detach after their links are gone), the pair's one-way
   * latency, and the arrival time of the last thing sent towards the peer
   * (what comes after it on this direction may not arrive earlier) */
  mstate *ms;
  yz_link_manager *m;
  uint32_t lat_ms;
  uint64_t last_t;
};

typedef enum ev_type { EV_UP, EV_FLUSH, EV_CLOSE, EV_GONE, EV_MSG } ev_type;

typedef struct ev {
  struct ev *next;
  ev_type type;
  half *h;
  int err;
  /* model only: when, in which order among equal times, and for EV_MSG
   * the wire message for h's link */
  uint64_t t, seq;
  yz__qmsg *msg;
} ev;

/* A heap entry carries its key, so that sifting compares without
 * touching the events (a simulation holds hundreds of thousands; the
 * pointer chase was most of yz_link_memnet_run()'s own time). */
struct hent {
  uint64_t t, seq;
  ev *e;
};

typedef struct listener {
  struct listener *next;  /* the manager's list (mstate) */
  struct listener *hnext; /* the port's chain in the lookup table */
  yz_link_manager *m;
  char host[YZ_ADDRESS_HOST_MAX + 3];
  uint16_t port;
  bool tls;
} listener;

/* Listeners by port: a simulation dials among thousands of them. */
#define LTAB_SIZE 4096u

struct yz_link_memnet {
  uv_loop_t *loop;
  /* Events run from an async handle, i.e. in the loop's poll phase: a
   * uv_run(UV_RUN_ONCE) that delivers them then returns, as it does for
   * socket I/O (a 0 ms timer would run first and then let the same
   * iteration block in poll until the next timer). */
  uv_async_t async;
  ev *head, *tail;
  listener *ltab[LTAB_SIZE];
  uint16_t next_port;
  unsigned managers;
  mstate *states; /* every manager's, freed with the network */

  /* The virtual-time model (NULL: events run from the async handle). */
  yz_link_memnet_model *model;
  struct hent *heap; /* pending events, a binary min-heap on (t, seq) */
  size_t heap_len, heap_cap;
  uint64_t seq;
  uint64_t rng; /* splitmix64 state for losses */
  yz_link_memnet_stats stats;
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

static void free_ev(ev *e) {
  if (--e->h->refs == 0)
    free(e->h);
  free(e->msg);
  free(e);
}

void yz_link_memnet_free(yz_link_memnet *n) {
  if (n == NULL)
    return;
  /* every manager has closed: no half is left with a link */
  while (n->head != NULL) {
    ev *e = n->head;
    n->head = e->next;
    free_ev(e);
  }
  for (size_t i = 0; i < n->heap_len; i++)
    free_ev(n->heap[i].e);
  free(n->heap);
  free(n->model);
  while (n->states != NULL) {
    mstate *ms = n->states;
    n->states = ms->next;
    while (ms->listeners != NULL) {
      listener *l = ms->listeners;
      ms->listeners = l->next;
      free(l);
    }
    free(ms);
  }
  uv_close((uv_handle_t *)&n->async, net_closed);
}

static yz_link_memnet *net_of(const yz_link_manager *m) {
  return m->cfg.memnet;
}

/* ---- the model's clock, randomness and queue ---------------------------- */

static uint64_t model_now(const yz_link_memnet *n) {
  return n->model->clock_ms(n->model->clock_ud);
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A uniform double in (0, 1) from 53 random bits. */
static double unit(uint64_t r) {
  return ((double)(r >> 11) + 0.5) / 9007199254740992.0;
}

static bool ev_before(const struct hent *a, const struct hent *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_up(yz_link_memnet *n, size_t i) {
  struct hent e = n->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!ev_before(&e, &n->heap[p]))
      break;
    n->heap[i] = n->heap[p];
    i = p;
  }
  n->heap[i] = e;
}

static ev *heap_pop(yz_link_memnet *n) {
  ev *top = n->heap[0].e;
  struct hent e = n->heap[--n->heap_len];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n->heap_len)
      break;
    if (c + 1 < n->heap_len && ev_before(&n->heap[c + 1], &n->heap[c]))
      c++;
    if (!ev_before(&n->heap[c], &e))
      break;
    n->heap[i] = n->heap[c];
    i = c;
  }
  if (n->heap_len > 0)
    n->heap[i] = e;
  return top;
}

static bool killed(const half *h) { return h->ms != NULL && h->ms->killed; }

/* ---- events ----------------------------------------------------------- */

/* Queue an event for h: from the async handle, or (model) at time t. */
static void post_at(yz_link_memnet *n, ev_type type, half *h, int err,
                    uint64_t t, yz__qmsg *msg) {
  ev *e = calloc(1, sizeof *e);
  if (e == NULL) {
    free(msg);
    return; /* the link will time out; nothing else to do without memory */
  }
  e->type = type;
  e->h = h;
  e->err = err;
  e->msg = msg;
  h->refs++;
  if (n->model != NULL) {
    if (n->heap_len == n->heap_cap) {
      size_t cap = n->heap_cap ? n->heap_cap * 2 : 1024;
      struct hent *hp = realloc(n->heap, cap * sizeof *hp);
      if (hp == NULL) {
        h->refs--;
        free(msg);
        free(e);
        return;
      }
      n->heap = hp;
      n->heap_cap = cap;
    }
    e->t = t;
    e->seq = n->seq++;
    n->heap[n->heap_len++] = (struct hent){e->t, e->seq, e};
    heap_up(n, n->heap_len - 1);
    return;
  }
  if (n->tail != NULL)
    n->tail->next = e;
  else
    n->head = e;
  n->tail = e;
  uv_async_send(&n->async);
}

/* Something for h's own link, now. */
static void post(yz_link_memnet *n, ev_type type, half *h, int err) {
  post_at(n, type, h, err, n->model != NULL ? model_now(n) : 0, NULL);
}

/* When something from half `from` to its peer arrives: the pair's
 * latency, plus for every simulated loss a retransmission timeout that
 * doubles each time (TCP's backoff; docs/simulator.md), and never before
 * what `from` sent earlier. A killed sender sends nothing (UINT64_MAX). */
static uint64_t arrival(yz_link_memnet *n, half *from) {
  if (killed(from))
    return UINT64_MAX;
  const yz_link_memnet_model *md = n->model;
  uint64_t t = model_now(n) + from->lat_ms;
  uint64_t rto = md->rto_ms;
  for (int i = 0; i < 16 && md->loss > 0 &&
                  unit(splitmix64(&n->rng)) < md->loss;
       i++) {
    t += rto;
    rto *= 2;
    n->stats.losses++;
  }
  if (t < from->last_t)
    t = from->last_t;
  from->last_t = t;
  return t;
}

/* Tell p (the peer of `from`) that something happened to the connection. */
static void post_peer(yz_link_memnet *n, half *from, ev_type type, half *p,
                      int err) {
  if (n->model == NULL) {
    post(n, type, p, err);
    return;
  }
  uint64_t t = arrival(n, from);
  if (t != UINT64_MAX)
    post_at(n, type, p, err, t, NULL);
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

static void deliver_queue(yz_link_memnet *n, half *h) {
  yz_link *l = h->l;
  while (h->l != NULL) {
    yz__qmsg *q = yz__link_conn_pop(l);
    if (q == NULL)
      break;
    if (n->model != NULL) {
      /* in flight until its arrival; a killed sender's bytes vanish */
      uint64_t t = h->peer != NULL ? arrival(n, h) : UINT64_MAX;
      if (t != UINT64_MAX) {
        n->stats.messages++;
        post_at(n, EV_MSG, h->peer, 0, t, q);
      } else {
        n->stats.dropped++;
        free(q);
      }
    } else {
      /* The message is ours and freed next: the session decrypts it in
       * place and keeps no receive buffer for it (docs/simulator.md
       * "Memory per link"). */
      if (h->peer != NULL && h->peer->l != NULL)
        yz__link_conn_recv_inplace(h->peer->l, q->buf + YZ__LINK_HEADROOM,
                                   q->len);
      free(q);
    }
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
    post_peer(n, h, EV_GONE, p, YZ_E_IO);
  }
  yz_link *l = h->l;
  if (l != NULL) {
    release(h);
    yz__link_conn_gone(l, err, why);
  }
}

static void run_one(yz_link_memnet *n, ev *e) {
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
      deliver_queue(n, h);
    break;
  case EV_CLOSE:
    if (h->l != NULL)
      deliver_queue(n, h);
    shut(n, h, YZ_E_CLOSED, "closed");
    break;
  case EV_GONE:
    if (h->l != NULL)
      shut(n, h, e->err, e->err == YZ_E_UNREACHABLE
                             ? "nothing listens at that address"
                             : "the connection closed");
    break;
  case EV_MSG:
    /* in place, as above: the event's message is freed after this */
    if (h->l != NULL)
      yz__link_conn_recv_inplace(h->l, e->msg->buf + YZ__LINK_HEADROOM,
                                 e->msg->len);
    break;
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
    run_one(n, e);
    free_ev(e);
  }
}

/* ---- the model's entry points (yz/link.h) ------------------------------ */

int yz_link_memnet_set_model(yz_link_memnet *n,
                             const yz_link_memnet_model *model) {
  if (n == NULL || model == NULL || model->clock_ms == NULL ||
      n->managers > 0 || n->head != NULL || !(model->loss >= 0.0) ||
      !(model->loss < 1.0) || !(model->spread >= 0.0) ||
      model->spread > 4.0)
    return YZ_E_INVAL;
  yz_link_memnet_model *md = malloc(sizeof *md);
  if (md == NULL)
    return YZ_E_NOMEM;
  *md = *model;
  if (md->rto_ms == 0)
    md->rto_ms = 200;
  if (md->dead_connect_ms == 0)
    md->dead_connect_ms = 3000;
  free(n->model);
  n->model = md;
  n->rng = md->seed ^ 0x6d656d6e65746c6full;
  return 0;
}

uint64_t yz_link_memnet_next_event(const yz_link_memnet *n) {
  if (n == NULL || n->model == NULL || n->heap_len == 0)
    return UINT64_MAX;
  return n->heap[0].t;
}

size_t yz_link_memnet_run(yz_link_memnet *n) {
  if (n == NULL || n->model == NULL)
    return 0;
  uint64_t now = model_now(n);
  size_t ran = 0;
  while (n->heap_len > 0 && n->heap[0].t <= now) {
    ev *e = heap_pop(n);
    half *h = e->h;
    /* A killed node hears nothing: what arrives for it is dropped. Its
     * own local events (a close at shutdown) still run, so that its
     * manager can finish closing; what they send goes nowhere. */
    bool remote = e->type == EV_MSG || e->type == EV_GONE || e->type == EV_UP;
    if (remote && killed(h)) {
      if (e->type == EV_MSG)
        n->stats.dropped++;
    } else {
      yz_link_manager *m = h->l != NULL ? h->l->m : NULL;
      run_one(n, e);
      if (m != NULL && n->model->on_touch != NULL)
        n->model->on_touch(m, n->model->touch_ud);
    }
    free_ev(e);
    ran++;
  }
  return ran;
}

void yz_link_memnet_kill(yz_link_memnet *n, yz_link_manager *m) {
  (void)n;
  mstate *ms = m->be_state;
  if (ms != NULL)
    ms->killed = true;
}

/* The one-way latency of the pair: a log-normal draw (median, spread =
 * the sigma of its logarithm) from a hash of the seed and the two node
 * IDs, so that it does not depend on the order of dials or on memory
 * addresses. */
static uint32_t pair_latency(const yz_link_memnet_model *md,
                             const yz_node_id *a, const yz_node_id *b) {
  if (md->latency_ms == 0)
    return 0;
  if (memcmp(a->bytes, b->bytes, YZ_NODE_ID_LEN) > 0) {
    const yz_node_id *t = a;
    a = b;
    b = t;
  }
  uint8_t in[8 + 2 * YZ_NODE_ID_LEN], out[16];
  for (int i = 0; i < 8; i++)
    in[i] = (uint8_t)(md->seed >> (8 * i));
  memcpy(in + 8, a->bytes, YZ_NODE_ID_LEN);
  memcpy(in + 8 + YZ_NODE_ID_LEN, b->bytes, YZ_NODE_ID_LEN);
  crypto_generichash(out, sizeof out, in, sizeof in, NULL, 0);
  uint64_t r1 = 0, r2 = 0;
  for (int i = 0; i < 8; i++) {
    r1 = r1 << 8 | out[i];
    r2 = r2 << 8 | out[8 + i];
  }
  /* Box-Muller: a standard normal z */
  double z = sqrt(-2.0 * log(unit(r1))) * cos(6.283185307179586 * unit(r2));
  double ms = (double)md->latency_ms * exp(md->spread * z);
  if (ms < 1.0)
    ms = 1.0;
  if (ms > 60000.0)
    ms = 60000.0;
  return (uint32_t)(ms + 0.5);
}

uint32_t yz_link_memnet_pair_latency(const yz_link_memnet *n,
                                     const yz_node_id *a,
                                     const yz_node_id *b) {
  if (n == NULL || n->model == NULL)
    return 0;
  return pair_latency(n->model, a, b);
}

void yz_link_memnet_get_stats(const yz_link_memnet *n,
                              yz_link_memnet_stats *out) {
  *out = n->stats;
  out->pending = n->heap_len;
}

/* ---- backend ops ------------------------------------------------------- */

static int mem_attach(yz_link_manager *m) {
  mstate *ms = calloc(1, sizeof *ms);
  if (ms == NULL)
    return YZ_E_NOMEM;
  m->be_state = ms;
  ms->next = net_of(m)->states;
  net_of(m)->states = ms;
  net_of(m)->managers++;
  return 0;
}

static void mem_detach(yz_link_manager *m, void (*done)(yz_link_manager *m)) {
  yz_link_memnet *n = net_of(m);
  mstate *ms = m->be_state;
  while (ms->listeners != NULL) {
    listener *l = ms->listeners;
    ms->listeners = l->next;
    listener **hp = &n->ltab[l->port % LTAB_SIZE];
    while (*hp != l)
      hp = &(*hp)->hnext;
    *hp = l->hnext;
    free(l);
  }
  n->managers--;
  /* halves still queued may point to m->be_state: the network frees it */
  m->be_state = NULL;
  if (done != NULL)
    done(m);
}

static listener *find_listener(yz_link_memnet *n, const char *host,
                               uint16_t port) {
  for (listener *x = n->ltab[port % LTAB_SIZE]; x != NULL; x = x->hnext)
    if (x->port == port && strcmp(x->host, host) == 0)
      return x;
  return NULL;
}

static int mem_listen(yz_link_manager *m, const yz_address *u,
                      const yz_link_listen_config *lc, uint16_t *port_out) {
  (void)lc;
  yz_link_memnet *n = net_of(m);
  uint16_t port = u->port;
  if (port == 0)
    port = n->next_port++;
  if (find_listener(n, u->host, port) != NULL)
    return YZ_E_IO; /* address in use */
  listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return YZ_E_NOMEM;
  l->m = m;
  snprintf(l->host, sizeof l->host, "%s", u->host);
  l->port = port;
  l->tls = u->tls;
  mstate *ms = m->be_state;
  l->next = ms->listeners;
  ms->listeners = l;
  l->hnext = n->ltab[port % LTAB_SIZE];
  n->ltab[port % LTAB_SIZE] = l;
  if (port_out != NULL)
    *port_out = port;
  return 0;
}

/* The dialer's transport failed: at once, or (model) after delay_ms. */
static void dial_failed(yz_link_memnet *n, half *a, int err,
                        uint64_t delay_ms) {
  post_at(n, EV_GONE, a, err, n->model != NULL ? model_now(n) + delay_ms : 0,
          NULL);
}

static int mem_dial(yz_link_manager *m, yz_link *l, const yz_address *u,
                    const yz_link_dial_opts *opts) {
  (void)opts;
  yz_link_memnet *n = net_of(m);
  const yz_link_memnet_model *md = n->model;
  half *a = calloc(1, sizeof *a);
  if (a == NULL)
    return YZ_E_NOMEM;
  a->l = l;
  a->refs = 1;
  a->m = m;
  a->ms = m->be_state;
  l->conn = a;
  listener *ls = find_listener(n, u->host, u->port);
  if (ls != NULL && ls->tls != u->tls)
    ls = NULL;
  /* model: a refusal (RST) comes back after one round trip */
  uint64_t rtt = md != NULL ? 2u * (uint64_t)md->latency_ms : 0;
  if (ls == NULL) {
    dial_failed(n, a, YZ_E_UNREACHABLE, rtt);
    return 0;
  }
  mstate *bs = ls->m->be_state;
  if (bs != NULL && bs->killed) {
    /* a dead host answers nothing: the connect times out */
    dial_failed(n, a, YZ_E_UNREACHABLE, md != NULL ? md->dead_connect_ms : 0);
    return 0;
  }
  uint32_t lat = 0;
  if (md != NULL) {
    lat = pair_latency(md, yz_link_manager_node_id(m),
                       yz_link_manager_node_id(ls->m));
    rtt = 2u * (uint64_t)lat;
  }
  /* the accepting side: limits first, as a listener would */
  if (!yz__link_admit(ls->m, NULL, 0, "memnet", 0)) {
    dial_failed(n, a, YZ_E_IO, rtt);
    return 0;
  }
  half *b = calloc(1, sizeof *b);
  if (b == NULL) {
    dial_failed(n, a, YZ_E_IO, rtt);
    return 0;
  }
  b->refs = 1; /* the inbound link's */
  b->m = ls->m;
  b->ms = bs;
  a->lat_ms = b->lat_ms = lat;
  a->peer = b;
  b->peer = a;
  yz_link *lb = yz__link_inbound(ls->m, b, "memnet", u->tls);
  if (lb == NULL) {
    a->peer = NULL;
    free(b);
    dial_failed(n, a, YZ_E_IO, rtt);
    return 0;
  }
  b->l = lb;
  /* model: the TCP handshake and the WebSocket upgrade, two round trips,
   * before the dialer sends Noise message 1 */
  if (md != NULL) {
    uint64_t t = model_now(n) + 2 * rtt;
    a->last_t = b->last_t = t;
    post_at(n, EV_UP, a, 0, t, NULL);
  } else {
    post(n, EV_UP, a, 0);
  }
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
    post_peer(n, h, EV_GONE, p, YZ_E_IO);
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
