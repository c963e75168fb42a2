/*
 * A yz node: peers by node ID over the link manager, node messages
 * (docs/protocol.md, "Node messages"), request/response, redial with
 * backoff, duplicate link resolution. See yz/node.h for the contract.
 */
#include "yz/node.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "node/backoff.h"
#include "node/duplicate.h"
#include "node/frame.h"
#include "node/node_internal.h"
#include "node/reqtable.h"
#include "yz/session.h"
#include "yz/address.h"
#include "yz/log.h"

enum node_state { ST_NEW, ST_STARTED, ST_STOPPING, ST_STOPPED };

struct peer;
struct cpeer;

/* One link, from dial (or inbound up) to on_down. */
struct nlink {
  yz_link *link;
  yz_node *node;
  struct peer *peer;   /* when up */
  struct cpeer *cpeer; /* the configured peer that dialled it, if any */
  char *dial_url;      /* one-shot dial: the address, for on_dial_failed */
  yz_node_dial_cb dial_cb; /* yz_node_dial_with(): runs once, then NULL */
  void *dial_arg;
  yz_node_id expected;
  bool pinned;
  bool up;
  bool dup; /* closed by the duplicate rule */
  uint64_t serial; /* the node's number for it (not 0): requests name it */
  const char *close_reason; /* why we closed it, if we did */
  yz_link_direction dir;
  uint8_t binding[YZ_LINK_CHANNEL_BINDING_MAX];
  size_t binding_len;
  struct nlink *next; /* in peer->links */
};

/*
 * What yz_node_peer_info_get() returns, kept as the proof's fields sized
 * to use (docs/simulator.md "Memory per link"): the decoded proof is 2.4
 * KiB whatever it holds (8 address slots of 256 bytes, the version and
 * network buffers), a typical peer's variable fields are under 100 bytes.
 * The fixed fields stay inline; the addresses, version and network go
 * into one allocation of their exact size (vbuf: per address its client
 * types (8 bytes) and URL length (2 bytes) then the URL; then the version
 * bytes, then the network bytes; NULL if all are absent).
 */
struct pinfo {
  uint8_t identity_pk[YZ_WIRE_PK_LEN];
  uint8_t signature[YZ_WIRE_SIG_LEN];
  uint64_t node_type;
  uint64_t capabilities;
  uint8_t *vbuf;
  uint8_t n_addresses;
  uint8_t version_len;
  uint8_t network_len;
  bool has_capabilities;
  bool had_unknown;
  bool tls;
  uint8_t direction; /* yz_link_direction */
  char remote_addr[YZ_LINK_ADDR_TEXT_MAX];
};

/* A node ID with at least one link up. */
struct peer {
  yz_node_id id;
  struct nlink *links;
  struct nlink *primary; /* the link sends go on */
  struct peer *hnext;
  struct pinfo info; /* of the most recent link to come up */
  uint32_t protect;  /* YZ_NODE_PROTECT_* bits */
  /* The connection policy's heap (yz_node.pheap): its place there + 1
   * (0: not in it), and its key, never later than the time its least
   * idle live link reaches link_idle_ms (activity only delays that). */
  size_t pol_at;
  uint64_t pol_key;
};

/* A configured peer, redialled with backoff. */
struct cpeer {
  yz_node *node;
  char *address; /* as given: dialled, and for logs and on_dial_failed */
  yz_node_id id;
  bool has_id; /* pinned, or learned once up (unpinned) */
  bool pinned;
  yz_node_dial_opts opts;
  yz__backoff bo;
  uv_timer_t timer;
  uint64_t due; /* virtual time: the next dial, UINT64_MAX for none */
  struct nlink *dialing;
  struct cpeer *next;
};

struct proto_entry {
  uint16_t proto;
  yz_node_protocol p;
  void *ud;
};

/* A peer observer; entries with token 0 are removed ones, compacted once
 * no event is being dispatched. */
struct observer {
  yz_node_peer_observer o;
  void *ud;
  uint64_t token;
};

struct pending {
  yz__req r; /* first: the table hands this pointer back */
  uint16_t proto;
  yz_node_response_cb cb;
  void *arg;
};

struct yz_node {
  uv_loop_t *loop;
  yz_identity identity;
  yz_node_config cfg;
  size_t max_msg;
  bool virt; /* virtual time (cfg.link.virtual_time): no timers armed */
  char network[YZ_WIRE_NETWORK_MAX_LEN + 1]; /* yz_node_network() */
  enum node_state state;
  yz_link_manager *mgr;

  struct peer **buckets;
  size_t nbuckets, npeers;

  struct cpeer *cpeers;
  struct proto_entry *protos;
  size_t nprotos;

  yz__reqtable reqs;
  uv_timer_t req_timer;
  uint64_t link_serial; /* the last nlink.serial given */

  char **addrs;
  size_t naddrs;

  uint8_t *scratch;
  size_t scratch_cap;

  int closing; /* handles and the manager still closing during stop */
  void (*stop_cb)(yz_node *, void *);
  void *stop_arg;

  yz_log_ratelimit rl_bad;

  struct observer *obs;
  size_t nobs, obs_cap;
  uint64_t obs_next_token;
  int obs_depth; /* events being dispatched (callbacks may nest) */

  /* The connection policy (cfg.link_cap): with virtual time policy_due is
   * when it runs next (UINT64_MAX: not needed), else the timer. */
  uv_timer_t policy_timer;
  uint64_t policy_due;
  /* Links up (closing or not), and those of them not being closed by
   * this node (close_reason NULL): the policy's count. */
  size_t n_up, n_live;
  /* The unprotected peers with links, a min-heap on pol_key (with
   * link_cap only); a run's candidates, reused (struct pol_cand). */
  struct peer **pheap;
  size_t n_pheap, pheap_cap;
  struct pol_cand *pol;
  size_t pol_cap;
};

/* ---- peers by node ID ---- */

static size_t peer_slot(const yz_node *n, const yz_node_id *id)
{
  /* Node IDs are SHA-256 outputs: their first bytes are uniform. */
  size_t h = (size_t)yz__load64_be(id->bytes);
  return h & (n->nbuckets - 1);
}

static struct peer *peer_find(const yz_node *n, const yz_node_id *id)
{
  if (n->nbuckets == 0)
    return NULL;
  for (struct peer *p = n->buckets[peer_slot(n, id)]; p; p = p->hnext)
    if (memcmp(p->id.bytes, id->bytes, YZ_NODE_ID_LEN) == 0)
      return p;
  return NULL;
}

static int peer_table_grow(yz_node *n)
{
  size_t nb = n->nbuckets ? n->nbuckets * 2 : 64;
  struct peer **b = calloc(nb, sizeof *b);
  if (b == NULL)
    return YZ_E_NOMEM;
  struct peer **old = n->buckets;
  size_t oldn = n->nbuckets;
  n->buckets = b;
  n->nbuckets = nb;
  for (size_t i = 0; i < oldn; i++) {
    for (struct peer *p = old[i], *nx; p; p = nx) {
      nx = p->hnext;
      size_t s = peer_slot(n, &p->id);
      p->hnext = b[s];
      b[s] = p;
    }
  }
  free(old);
  return 0;
}

static struct peer *peer_add(yz_node *n, const yz_node_id *id)
{
  if (n->npeers >= n->nbuckets && peer_table_grow(n) != 0)
    return NULL;
  struct peer *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->id = *id;
  size_t s = peer_slot(n, id);
  p->hnext = n->buckets[s];
  n->buckets[s] = p;
  n->npeers++;
  return p;
}

static void pheap_del(yz_node *n, struct peer *p);

static void peer_remove(yz_node *n, struct peer *p)
{
  struct peer **pp = &n->buckets[peer_slot(n, &p->id)];
  while (*pp != p)
    pp = &(*pp)->hnext;
  *pp = p->hnext;
  n->npeers--;
  pheap_del(n, p);
  free(p->info.vbuf);
  free(p);
}

/* ---- the duplicate rule (yz/node.h) ---- */

static const uint8_t *dialer_of(const yz_node *n, const struct nlink *l)
{
  return l->dir == YZ_LINK_OUTBOUND ? n->identity.id.bytes
                                    : l->peer->id.bytes;
}

/* The link that survives of two up links to one peer; both ends agree. */
static struct nlink *duplicate_winner(const yz_node *n, struct nlink *a,
                                      struct nlink *b)
{
  return yz__node_duplicate_keeps_a(dialer_of(n, a), a->binding,
                                    a->binding_len, dialer_of(n, b),
                                    b->binding, b->binding_len)
             ? a
             : b;
}

/* ---- time ---- */

/* The node's clock: the loop's, or with virtual time the caller's. */
static uint64_t now_ms(const yz_node *n)
{
  if (n->virt)
    return n->cfg.link.clock_ms(n->cfg.link.clock_ud);
  return uv_now(n->loop);
}

/* ---- requests ---- */

static void req_timer_cb(uv_timer_t *t);

static void req_rearm(yz_node *n)
{
  if (n->state == ST_STOPPING || n->state == ST_STOPPED || n->virt)
    return;
  uint64_t dl;
  if (!yz__reqtable_next_deadline(&n->reqs, &dl)) {
    uv_timer_stop(&n->req_timer);
    return;
  }
  uint64_t now = uv_now(n->loop);
  uv_timer_start(&n->req_timer, req_timer_cb, dl > now ? dl - now : 0, 0);
}

static void pending_finish(yz_node *n, struct pending *pr, int status,
                           const yz_node_response *resp)
{
  yz_node_response r;
  yz_node_id peer = pr->r.peer;
  if (resp == NULL) {
    memset(&r, 0, sizeof r);
    r.peer = &peer;
    r.proto = pr->proto;
    r.id = yz__req_id(&pr->r);
    resp = &r;
  }
  yz_node_response_cb cb = pr->cb;
  void *arg = pr->arg;
  free(pr);
  cb(n, status, resp, arg);
}

static void expire_requests(yz_node *n, uint64_t now)
{
  yz__req *r;
  while (n->state != ST_STOPPED &&
         (r = yz__reqtable_expire(&n->reqs, now)) != NULL)
    pending_finish(n, (struct pending *)r, YZ_E_TIMEOUT, NULL);
  req_rearm(n);
}

static void req_timer_cb(uv_timer_t *t)
{
  yz_node *n = t->data;
  expire_requests(n, uv_now(n->loop));
}

static void fail_requests_of(yz_node *n, const yz_node_id *peer)
{
  yz__req *r;
  while ((r = yz__reqtable_take_peer(&n->reqs, peer)) != NULL)
    pending_finish(n, (struct pending *)r, YZ_E_CLOSED, NULL);
  req_rearm(n);
}

/* A link of peer went down while another link to it stays up (most often
 * a duplicate closed by the rule, docs/protocol.md "Duplicate links"):
 * what went out on it may never have reached the peer, and the answer to
 * what did may have been lost with it, so the requests sent on it fail at
 * once with YZ_E_CLOSED, the peer still up, and their callers can send
 * again at once on the link that stays instead of waiting for the
 * timeout (yz/node.h, yz_node_response_cb). */
static void fail_requests_on(yz_node *n, const yz_node_id *peer,
                             uint64_t serial)
{
  yz__req *r;
  while ((n->state == ST_NEW || n->state == ST_STARTED) &&
         (r = yz__reqtable_take_tagged(&n->reqs, peer, serial)) != NULL)
    pending_finish(n, (struct pending *)r, YZ_E_CLOSED, NULL);
  req_rearm(n);
}

/* ---- sending ---- */

/* Send f to the peer's primary link; *via (if not NULL) gets that link's
 * serial. */
static int send_frame(yz_node *n, const yz_node_id *to,
                      const yz__node_frame *f, uint64_t *via)
{
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return YZ_E_STATE;
  struct peer *p = peer_find(n, to);
  if (p == NULL || p->primary == NULL)
    return YZ_E_NOT_FOUND;
  uint8_t hdr[YZ__NODE_HDR_MAX];
  int hl = yz__node_frame_encode_header(f, hdr);
  if (hl < 0)
    return hl;
  if (f->body_len > n->max_msg - (size_t)hl)
    return YZ_E_TOO_LARGE;
  size_t total = (size_t)hl + f->body_len;
  if (total > n->scratch_cap) {
    size_t cap = n->scratch_cap ? n->scratch_cap : 1024;
    while (cap < total)
      cap *= 2;
    if (cap > n->max_msg)
      cap = n->max_msg;
    uint8_t *s = realloc(n->scratch, cap);
    if (s == NULL)
      return YZ_E_NOMEM;
    n->scratch = s;
    n->scratch_cap = cap;
  }
  memcpy(n->scratch, hdr, (size_t)hl);
  if (f->body_len)
    memcpy(n->scratch + hl, f->body, f->body_len);
  if (via != NULL)
    *via = p->primary->serial;
  return yz_link_send(p->primary->link, n->scratch, total);
}

int yz_node_send(yz_node *n, const yz_node_id *peer, uint16_t proto,
                 const uint8_t *data, size_t len)
{
  if (n == NULL || peer == NULL || proto == 0 || (len && data == NULL))
    return YZ_E_INVAL;
  yz__node_frame f = {.kind = YZ__NODE_MESSAGE, .proto = proto,
                      .body = data, .body_len = len};
  return send_frame(n, peer, &f, NULL);
}

int yz_node_request(yz_node *n, const yz_node_id *peer, uint16_t proto,
                    const uint8_t *data, size_t len, uint32_t timeout_ms,
                    yz_node_response_cb cb, void *arg, uint64_t *id_out)
{
  if (n == NULL || peer == NULL || proto == 0 || cb == NULL ||
      (len && data == NULL))
    return YZ_E_INVAL;
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return YZ_E_STATE;
  if (peer_find(n, peer) == NULL)
    return YZ_E_NOT_FOUND;
  struct pending *pr = calloc(1, sizeof *pr);
  if (pr == NULL)
    return YZ_E_NOMEM;
  pr->r.peer = *peer;
  pr->r.deadline_ms = now_ms(n) +
                      (timeout_ms ? timeout_ms : n->cfg.request_timeout_ms);
  pr->proto = proto;
  pr->cb = cb;
  pr->arg = arg;
  int err = yz__reqtable_insert(&n->reqs, &pr->r);
  if (err != 0) {
    free(pr);
    return err;
  }
  uint64_t id = yz__req_id(&pr->r);
  yz__node_frame f = {.kind = YZ__NODE_REQUEST, .proto = proto, .id = id,
                      .body = data, .body_len = len};
  err = send_frame(n, peer, &f, &pr->r.tag);
  if (err != 0) {
    yz__req *r = yz__reqtable_take(&n->reqs, id, peer);
    assert(r == &pr->r);
    (void)r;
    free(pr);
    return err;
  }
  if (id_out)
    *id_out = id;
  req_rearm(n);
  return 0;
}

int yz_node_request_cancel(yz_node *n, uint64_t id)
{
  if (n == NULL)
    return YZ_E_NOT_FOUND;
  yz__req *r = yz__reqtable_take(&n->reqs, id, NULL);
  if (r == NULL)
    return YZ_E_NOT_FOUND;
  free((struct pending *)r);
  req_rearm(n);
  return 0;
}

int yz_node_respond(yz_node *n, const yz_node_incoming *req,
                    const uint8_t *data, size_t len)
{
  if (n == NULL || req == NULL || (len && data == NULL))
    return YZ_E_INVAL;
  yz__node_frame f = {.kind = YZ__NODE_RESPONSE, .proto = req->proto,
                      .id = req->id, .body = data, .body_len = len};
  return send_frame(n, &req->from, &f, NULL);
}

int yz_node_respond_error(yz_node *n, const yz_node_incoming *req,
                          uint16_t code, const char *reason)
{
  if (n == NULL || req == NULL || code == 0)
    return YZ_E_INVAL;
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > YZ__NODE_REASON_MAX)
    rl = YZ__NODE_REASON_MAX;
  yz__node_frame f = {.kind = YZ__NODE_ERROR, .proto = req->proto,
                      .id = req->id, .code = code,
                      .body = (const uint8_t *)reason, .body_len = rl};
  return send_frame(n, &req->from, &f, NULL);
}

/* ---- protocols ---- */

static struct proto_entry *proto_find(yz_node *n, uint16_t proto)
{
  for (size_t i = 0; i < n->nprotos; i++)
    if (n->protos[i].proto == proto)
      return &n->protos[i];
  return NULL;
}

int yz_node_register(yz_node *n, uint16_t proto, const yz_node_protocol *p,
                     void *ud)
{
  if (n == NULL || proto == 0 || proto == YZ_NODE_PROTO_PING)
    return YZ_E_INVAL;
  struct proto_entry *e = proto_find(n, proto);
  if (p == NULL) {
    if (e != NULL)
      *e = n->protos[--n->nprotos];
    return 0;
  }
  if (e == NULL) {
    struct proto_entry *a =
        realloc(n->protos, (n->nprotos + 1) * sizeof *a);
    if (a == NULL)
      return YZ_E_NOMEM;
    n->protos = a;
    e = &a[n->nprotos++];
  }
  e->proto = proto;
  e->p = *p;
  e->ud = ud;
  return 0;
}

/* ---- peer observers ---- */

int yz_node_peer_observer_add(yz_node *n, const yz_node_peer_observer *o,
                              void *ud, uint64_t *token_out)
{
  if (n == NULL || o == NULL || token_out == NULL)
    return YZ_E_INVAL;
  if (n->nobs == n->obs_cap) {
    size_t cap = n->obs_cap ? n->obs_cap * 2 : 4;
    struct observer *a = realloc(n->obs, cap * sizeof *a);
    if (a == NULL)
      return YZ_E_NOMEM;
    n->obs = a;
    n->obs_cap = cap;
  }
  struct observer *e = &n->obs[n->nobs++];
  e->o = *o;
  e->ud = ud;
  e->token = ++n->obs_next_token;
  *token_out = e->token;
  return 0;
}

static void observers_compact(yz_node *n)
{
  if (n->obs_depth > 0)
    return;
  size_t j = 0;
  for (size_t i = 0; i < n->nobs; i++)
    if (n->obs[i].token != 0)
      n->obs[j++] = n->obs[i];
  n->nobs = j;
}

int yz_node_peer_observer_remove(yz_node *n, uint64_t token)
{
  if (n == NULL || token == 0)
    return YZ_E_NOT_FOUND;
  for (size_t i = 0; i < n->nobs; i++) {
    if (n->obs[i].token == token) {
      n->obs[i].token = 0; /* not called again, even by this dispatch */
      observers_compact(n);
      return 0;
    }
  }
  return YZ_E_NOT_FOUND;
}

/* A peer event to every observer: cfg.cb first, then the observers
 * present when the event began; up when lp is not NULL, else down. Entries
 * are reached by index: a callback may add (realloc) or remove. */
static void notify_peer(yz_node *n, const yz_link_peer *lp,
                        const yz_node_id *id, int err, const char *reason)
{
  if (lp != NULL && n->cfg.cb.on_peer_up)
    n->cfg.cb.on_peer_up(n, lp, n->cfg.user_data);
  else if (lp == NULL && n->cfg.cb.on_peer_down)
    n->cfg.cb.on_peer_down(n, id, err, reason, n->cfg.user_data);
  size_t count = n->nobs;
  n->obs_depth++;
  for (size_t i = 0; i < count && n->state != ST_STOPPED; i++) {
    struct observer e = n->obs[i];
    if (e.token == 0)
      continue;
    if (lp != NULL && e.o.on_peer_up)
      e.o.on_peer_up(n, lp, e.ud);
    else if (lp == NULL && e.o.on_peer_down)
      e.o.on_peer_down(n, id, err, reason, e.ud);
  }
  n->obs_depth--;
  observers_compact(n);
}

/* ---- peer info ---- */

enum { PINFO_ADDR_HDR = 10 }; /* client types (8), URL length (2) */

/* The variable fields of a proof packed as struct pinfo's vbuf: 0 and
 * *out (NULL when all are absent), or YZ_E_NOMEM. */
static int pinfo_pack(const yz_wire_identity_proof *pr, uint8_t **out)
{
  *out = NULL;
  if (pr == NULL)
    return 0;
  size_t n = (size_t)pr->version_len + pr->network_len;
  for (size_t a = 0; a < pr->n_addresses; a++)
    n += PINFO_ADDR_HDR + pr->addresses[a].url_len;
  if (n == 0)
    return 0;
  uint8_t *b = malloc(n), *w = b;
  if (b == NULL)
    return YZ_E_NOMEM;
  for (size_t a = 0; a < pr->n_addresses; a++) {
    const yz_wire_address *ad = &pr->addresses[a];
    yz__store64_be(w, ad->client_types);
    yz__store16_be(w + 8, ad->url_len);
    memcpy(w + PINFO_ADDR_HDR, ad->url, ad->url_len);
    w += PINFO_ADDR_HDR + ad->url_len;
  }
  memcpy(w, pr->version, pr->version_len);
  memcpy(w + pr->version_len, pr->network, pr->network_len);
  *out = b;
  return 0;
}

/* Set p's info from the link that came up; vbuf from pinfo_pack() of its
 * proof (owned from here). */
static void peer_info_set(struct peer *p, const yz_link_peer *lp,
                          uint8_t *vbuf)
{
  struct pinfo *i = &p->info;
  free(i->vbuf);
  memset(i, 0, sizeof *i);
  const yz_wire_identity_proof *pr = lp->proof;
  if (pr != NULL) {
    memcpy(i->identity_pk, pr->identity_pk, sizeof i->identity_pk);
    memcpy(i->signature, pr->signature, sizeof i->signature);
    i->node_type = pr->node_type;
    i->capabilities = pr->capabilities;
    i->n_addresses = pr->n_addresses;
    i->version_len = pr->version_len;
    i->network_len = pr->network_len;
    i->has_capabilities = pr->has_capabilities;
    i->had_unknown = pr->had_unknown;
  } else {
    memcpy(i->identity_pk, lp->identity_pk, sizeof i->identity_pk);
  }
  i->vbuf = vbuf;
  i->direction = (uint8_t)lp->direction;
  i->tls = lp->tls;
  memcpy(i->remote_addr, lp->remote_addr, sizeof i->remote_addr);
  i->remote_addr[sizeof i->remote_addr - 1] = '\0';
}

int yz_node_peer_info_get(const yz_node *n, const yz_node_id *peer,
                          yz_node_peer_info *out)
{
  if (n == NULL || peer == NULL || out == NULL)
    return YZ_E_INVAL;
  const struct peer *p = peer_find(n, peer);
  if (p == NULL)
    return YZ_E_NOT_FOUND;
  const struct pinfo *i = &p->info;
  /* Zero first: the unused rest of each buffer reads as a decoded
   * proof's would. */
  memset(out, 0, sizeof *out);
  yz_wire_identity_proof *pr = &out->proof;
  out->id = p->id;
  memcpy(pr->identity_pk, i->identity_pk, sizeof pr->identity_pk);
  memcpy(pr->signature, i->signature, sizeof pr->signature);
  pr->n_addresses = i->n_addresses;
  const uint8_t *r = i->vbuf;
  for (size_t a = 0; a < i->n_addresses; a++) {
    yz_wire_address *ad = &pr->addresses[a];
    ad->client_types = yz__load64_be(r);
    ad->url_len = yz__load16_be(r + 8);
    memcpy(ad->url, r + PINFO_ADDR_HDR, ad->url_len);
    r += PINFO_ADDR_HDR + ad->url_len;
  }
  pr->node_type = i->node_type;
  pr->has_capabilities = i->has_capabilities;
  pr->capabilities = i->capabilities;
  pr->version_len = i->version_len;
  if (i->version_len)
    memcpy(pr->version, r, i->version_len);
  pr->had_unknown = i->had_unknown;
  pr->network_len = i->network_len;
  if (i->network_len)
    memcpy(pr->network, r + i->version_len, i->network_len);
  out->direction = (yz_link_direction)i->direction;
  out->tls = i->tls;
  memcpy(out->remote_addr, i->remote_addr, sizeof out->remote_addr);
  return 0;
}

size_t yz_node_peers(const yz_node *n, yz_node_id *out, size_t max)
{
  size_t k = 0;
  for (size_t b = 0; b < n->nbuckets && out != NULL && k < max; b++)
    for (const struct peer *p = n->buckets[b]; p && k < max; p = p->hnext)
      out[k++] = p->id;
  return n->npeers;
}

/* ---- the connection policy (yz/node.h, cfg.link_cap) ---- */

#define POLICY_REASON "idle beyond the node's link cap"

static void policy_timer_cb(uv_timer_t *t);

static void policy_arm(yz_node *n, uint64_t wait)
{
  if (n->virt)
    n->policy_due = now_ms(n) + wait;
  else
    uv_timer_start(&n->policy_timer, policy_timer_cb, wait, 0);
}

/* A link up is being closed by this node, for why: the policy no longer
 * counts it. */
static void nlink_closing(yz_node *n, struct nlink *l, const char *why)
{
  if (l->up && l->close_reason == NULL)
    n->n_live--;
  l->close_reason = why;
}

/* The policy's heap of unprotected peers (yz_node.pheap). */
static void pheap_put(yz_node *n, size_t i, struct peer *p)
{
  n->pheap[i] = p;
  p->pol_at = i + 1;
}

static void pheap_up(yz_node *n, size_t i)
{
  struct peer *p = n->pheap[i];
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (n->pheap[up]->pol_key <= p->pol_key)
      break;
    pheap_put(n, i, n->pheap[up]);
    i = up;
  }
  pheap_put(n, i, p);
}

static void pheap_down(yz_node *n, size_t i)
{
  struct peer *p = n->pheap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n->n_pheap)
      break;
    if (c + 1 < n->n_pheap && n->pheap[c + 1]->pol_key < n->pheap[c]->pol_key)
      c++;
    if (p->pol_key <= n->pheap[c]->pol_key)
      break;
    pheap_put(n, i, n->pheap[c]);
    i = c;
  }
  pheap_put(n, i, p);
}

static void pheap_del(yz_node *n, struct peer *p)
{
  if (p->pol_at == 0)
    return;
  size_t i = p->pol_at - 1;
  p->pol_at = 0;
  struct peer *last = n->pheap[--n->n_pheap];
  if (last == p)
    return;
  pheap_put(n, i, last);
  pheap_up(n, i);
  pheap_down(n, last->pol_at - 1);
}

/* p into the heap with key, or moved to it. Out of memory: p stays out,
 * and the policy does not close it (a link is not cut for that). */
static void pheap_set(yz_node *n, struct peer *p, uint64_t key)
{
  if (p->pol_at == 0) {
    if (n->n_pheap == n->pheap_cap) {
      size_t cap = n->pheap_cap ? n->pheap_cap * 2 : 64;
      struct peer **a = realloc(n->pheap, cap * sizeof *a);
      if (a == NULL)
        return;
      n->pheap = a;
      n->pheap_cap = cap;
    }
    p->pol_key = key;
    pheap_put(n, n->n_pheap++, p);
    pheap_up(n, p->pol_at - 1);
    return;
  }
  uint64_t old = p->pol_key;
  p->pol_key = key;
  if (key < old)
    pheap_up(n, p->pol_at - 1);
  else if (key > old)
    pheap_down(n, p->pol_at - 1);
}

/* p's least idle live link's idle time, and its count of live links. */
static uint64_t pol_idle(const struct peer *p, size_t *live)
{
  size_t pl = 0;
  uint64_t idle = UINT64_MAX;
  for (struct nlink *x = p->links; x; x = x->next) {
    if (x->close_reason != NULL)
      continue;
    pl++;
    idle = YZ__MIN(idle, yz_link_idle_ms(x->link));
  }
  *live = pl;
  return idle;
}

/* When a peer idle for idle ms at now becomes idle enough. */
static uint64_t pol_due(const yz_node *n, uint64_t now, uint64_t idle)
{
  return now - YZ__MIN(idle, now) + n->cfg.link_idle_ms;
}

/* When p's least idle live link reaches link_idle_ms if nothing happens
 * on it (and its idle time, if idle_out); UINT64_MAX with no live link. */
static uint64_t pol_key_now(const yz_node *n, const struct peer *p,
                            uint64_t now, uint64_t *idle_out)
{
  size_t live;
  uint64_t idle = pol_idle(p, &live);
  if (idle_out != NULL)
    *idle_out = idle;
  return live == 0 ? UINT64_MAX : pol_due(n, now, idle);
}

/* p's place in the policy after a change of its links or protection: in
 * the heap while it is unprotected and has links. */
static void pol_track(yz_node *n, struct peer *p)
{
  if (n->cfg.link_cap == 0)
    return;
  if (p->protect != 0 || p->links == NULL) {
    pheap_del(n, p);
    return;
  }
  pheap_set(n, p, pol_key_now(n, p, now_ms(n), NULL));
}

static void peer_apply_protection(yz_node *n, struct peer *p)
{
  for (struct nlink *x = p->links; x; x = x->next)
    yz_link_set_protected(x->link, p->protect != 0);
  pol_track(n, p);
}

/* An unprotected peer the policy may close: its least idle link's idle
 * time, and its place in a scan of the peer table (ties go to the
 * earlier: the order the policy has always closed them in). */
struct pol_cand {
  struct peer *p;
  uint64_t idle;
  size_t slot, pos;
};

static int pol_cand_cmp(const void *a, const void *b)
{
  const struct pol_cand *x = a, *y = b;
  if (x->idle != y->idle)
    return x->idle > y->idle ? -1 : 1;
  if (x->slot != y->slot)
    return x->slot < y->slot ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool policy_armed(const yz_node *n)
{
  return n->virt ? n->policy_due != UINT64_MAX
                 : uv_is_active((const uv_handle_t *)&n->policy_timer) != 0;
}

static void policy_close_peer(yz_node *n, struct peer *p, uint64_t idle)
{
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&p->id, hex);
  yz_log_rl(&n->rl_bad, now_ms(n), YZ_LOG_INFO,
            "node: closing the link to %s: " POLICY_REASON
            " (%u, idle %llu ms)",
            hex, n->cfg.link_cap, (unsigned long long)idle);
  for (struct nlink *x = p->links; x; x = x->next) {
    if (x->close_reason != NULL)
      continue;
    nlink_closing(n, x, POLICY_REASON);
    /* Callbacks follow from the loop, never from this call. */
    yz_link_close_with(x->link, YZ_CLOSE_GOING_AWAY, YZ_E_LIMIT,
                       POLICY_REASON);
  }
  pheap_del(n, p); /* no live link left */
}

/* While more than link_cap links are up (not counting those already
 * closing), close the unprotected peers idle longest (each one's least
 * idle link idle for link_idle_ms at least), longest first, until link_cap
 * are left; if none is idle enough, run again when the first becomes so.
 *
 * Cost (a node may hold thousands of links, most of them protected when
 * its table is larger than link_cap): O(1) while at most link_cap live
 * links are up. Else the unprotected peers are a heap on a key no later
 * than the time each becomes idle enough: a run takes out those whose
 * key has passed, checks each (activity may have moved its time on: it
 * goes back with its new key), closes the idle enough, and makes the
 * top's key exact to arm the timer. A run costs O((c + 1) log u) for c
 * peers looked at, u unprotected, where one scan of every link per run
 * cost 68 % of a 10,000-node churn simulation. A link coming up
 * (up_only) while the policy waits for its next time needs no run: it is
 * not idle, and no other link can reach link_idle_ms before that time
 * (activity only delays it), so the run would close nothing and arm the
 * same time. Losing protection (yz_node_peer_protect) or the timer always
 * runs. */
static void policy_run_why(yz_node *n, bool up_only)
{
  if (n->cfg.link_cap == 0 || n->state != ST_STARTED)
    return;
  if (up_only && policy_armed(n))
    return;
  /* Disarmed first: a due time left in the past would be a deadline that
   * never passes (virtual time). */
  n->policy_due = UINT64_MAX;
  if (!n->virt)
    uv_timer_stop(&n->policy_timer);
  if (n->n_live <= n->cfg.link_cap)
    return;
  const uint64_t now = now_ms(n);
  size_t nc = 0;
  bool full = false; /* the candidate array could not grow */
  while (n->n_pheap > 0 && n->pheap[0]->pol_key <= now) {
    struct peer *p = n->pheap[0];
    uint64_t idle;
    uint64_t key = pol_key_now(n, p, now, &idle);
    if (key > now) {
      pheap_set(n, p, key); /* active since: its new time */
      continue;
    }
    if (nc == n->pol_cap) {
      size_t cap = n->pol_cap ? n->pol_cap * 2 : 64;
      struct pol_cand *a = realloc(n->pol, cap * sizeof *a);
      if (a == NULL) {
        full = true; /* close those taken, then run again */
        break;
      }
      n->pol = a;
      n->pol_cap = cap;
    }
    pheap_del(n, p);
    /* its place in a scan of the table: only ties need it */
    size_t slot = peer_slot(n, &p->id), pos = 0;
    for (const struct peer *q = n->buckets[slot]; q != p; q = q->hnext)
      pos++;
    n->pol[nc++] = (struct pol_cand){p, idle, slot, pos};
  }
  if (nc > 1)
    qsort(n->pol, nc, sizeof *n->pol, pol_cand_cmp);
  size_t i = 0;
  for (; i < nc && n->n_live > n->cfg.link_cap; i++)
    policy_close_peer(n, n->pol[i].p, n->pol[i].idle);
  /* Idle enough but not needed now: back, first in line next time. */
  for (; i < nc; i++)
    pheap_set(n, n->pol[i].p, pol_due(n, now, n->pol[i].idle));
  if (n->n_live <= n->cfg.link_cap)
    return;
  if (full && nc > 0) {
    policy_run_why(n, false);
    return;
  }
  /* Still above the cap: the rest are not idle enough yet. The top's key
   * made exact is the first time one can be. */
  while (n->n_pheap > 0) {
    struct peer *p = n->pheap[0];
    uint64_t key = pol_key_now(n, p, now, NULL);
    if (key == p->pol_key)
      break;
    pheap_set(n, p, key);
  }
  if (n->n_pheap > 0 && n->pheap[0]->pol_key != UINT64_MAX &&
      n->pheap[0]->pol_key > now)
    policy_arm(n, n->pheap[0]->pol_key - now);
}

static void policy_run(yz_node *n) { policy_run_why(n, false); }

static void policy_timer_cb(uv_timer_t *t) { policy_run(t->data); }

int yz_node_peer_protect(yz_node *n, const yz_node_id *peer,
                         uint32_t reasons, bool on)
{
  if (n == NULL || peer == NULL || reasons == 0)
    return YZ_E_INVAL;
  struct peer *p = peer_find(n, peer);
  if (p == NULL)
    return YZ_E_NOT_FOUND;
  if (on)
    p->protect |= reasons;
  else
    p->protect &= ~reasons;
  peer_apply_protection(n, p);
  if (p->protect == 0)
    policy_run(n);
  return 0;
}

uint32_t yz_node_peer_protection(const yz_node *n, const yz_node_id *peer)
{
  const struct peer *p = peer_find(n, peer);
  return p ? p->protect : 0;
}

/* ---- link events ---- */

static void schedule_redial(struct cpeer *c);

static void bad_peer_message(yz_node *n, struct nlink *l, const char *why)
{
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&l->peer->id, hex);
  yz_log_rl(&n->rl_bad, now_ms(n), YZ_LOG_INFO,
            "node: closing the link to %s: %s", hex, why);
  nlink_closing(n, l, "malformed node message");
  pol_track(n, l->peer);
  /* The peer broke the node message format: PROTOCOL, with the parser's
   * reason (docs/protocol.md "Node messages"). */
  char text[YZ_SESSION_MAX_CLOSE_TEXT + 1];
  snprintf(text, sizeof text, "malformed node message: %s", why);
  yz_link_close_with(l->link, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED, text);
}

static void on_link_message(yz_link_manager *m, yz_link *link,
                            const uint8_t *msg, size_t len, void *ud)
{
  (void)m;
  yz_node *n = ud;
  struct nlink *l = yz_link_get_data(link);
  /* A duplicate is still authentic: what the peer sent on it before it
   * learned of the other link is delivered. */
  if (l == NULL || !l->up || (l->close_reason != NULL && !l->dup))
    return;
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return;
  yz__node_frame f;
  const char *why = NULL;
  if (yz__node_frame_parse(&f, msg, len, &why) != 0) {
    bad_peer_message(n, l, why);
    return;
  }
  /* Handlers may stop the node or drop the peer: keep copies, and touch
   * neither l nor its peer after calling out. */
  yz_node_id from = l->peer->id;
  switch (f.kind) {
  case YZ__NODE_MESSAGE: {
    struct proto_entry *e = proto_find(n, f.proto);
    if (e != NULL && e->p.on_message != NULL)
      e->p.on_message(n, &from, f.proto, f.body, f.body_len, e->ud);
    break;
  }
  case YZ__NODE_REQUEST: {
    yz_node_incoming req = {.from = from, .proto = f.proto, .id = f.id};
    if (f.proto == YZ_NODE_PROTO_PING) {
      (void)yz_node_respond(n, &req, f.body, f.body_len);
      break;
    }
    struct proto_entry *e = proto_find(n, f.proto);
    if (e != NULL && e->p.on_request != NULL)
      e->p.on_request(n, &req, f.body, f.body_len, e->ud);
    else
      (void)yz_node_respond_error(n, &req, YZ_NODE_ERR_NO_HANDLER,
                                  "no handler for this protocol number");
    break;
  }
  case YZ__NODE_RESPONSE:
  case YZ__NODE_ERROR: {
    yz__req *r = yz__reqtable_take(&n->reqs, f.id, &from);
    if (r == NULL)
      break; /* late (timed out) or unknown: nothing waits for it */
    struct pending *pr = (struct pending *)r;
    req_rearm(n);
    yz_node_response resp = {.peer = &from, .proto = f.proto, .id = f.id,
                             .data = f.body, .len = f.body_len,
                             .error_code = f.code};
    int status = f.kind == YZ__NODE_ERROR ? YZ_E_REMOTE : 0;
    if (f.proto != pr->proto) {
      status = YZ_E_MALFORMED;
      resp.data = NULL;
      resp.len = 0;
      resp.error_code = 0;
    }
    pending_finish(n, pr, status, &resp);
    break;
  }
  default:
    break;
  }
}

static void on_link_up(yz_link_manager *m, yz_link *link,
                       const yz_link_peer *lp, void *ud)
{
  (void)m;
  yz_node *n = ud;
  struct nlink *l = yz_link_get_data(link);
  if (l == NULL) {
    l = calloc(1, sizeof *l);
    if (l == NULL) {
      yz_link_close(link);
      return;
    }
    l->link = link;
    l->node = n;
    yz_link_set_data(link, l);
  }
  l->dir = lp->direction;
  l->binding_len = YZ__MIN(lp->channel_binding_len, sizeof l->binding);
  memcpy(l->binding, lp->channel_binding, l->binding_len);

  uint8_t *vbuf = NULL;
  struct peer *p = peer_find(n, &lp->id);
  bool first = p == NULL;
  if (pinfo_pack(lp->proof, &vbuf) != 0 ||
      (first && (p = peer_add(n, &lp->id)) == NULL)) {
    free(vbuf);
    nlink_closing(n, l, "out of memory");
    yz_link_close(link);
    return;
  }
  l->up = true;
  n->n_up++;
  n->n_live += l->close_reason == NULL;
  l->serial = ++n->link_serial;
  l->peer = p;
  peer_info_set(p, lp, vbuf);
  l->next = p->links;
  p->links = l;

  struct cpeer *c = l->cpeer;
  if (c != NULL) {
    c->dialing = NULL;
    yz__backoff_reset(&c->bo);
    if (!c->has_id) {
      c->id = lp->id;
      c->has_id = true;
    }
  }
  /* A configured peer is protected, whichever end dialled. */
  if (first)
    for (struct cpeer *x = n->cpeers; x; x = x->next)
      if (x->has_id && memcmp(x->id.bytes, lp->id.bytes, YZ_NODE_ID_LEN) == 0)
        p->protect |= YZ_NODE_PROTECT_CONFIGURED;
  yz_link_set_protected(link, p->protect != 0);

  struct nlink *loser = NULL;
  if (first || p->primary->close_reason != NULL) {
    /* The first link, or the others are all being closed: no contest. */
    p->primary = l;
  } else {
    struct nlink *w = duplicate_winner(n, p->primary, l);
    loser = w == l ? p->primary : l;
    p->primary = w;
    loser->dup = true;
    nlink_closing(n, loser, "duplicate link");
  }
  pol_track(n, p);

  if (n->cfg.cb.on_link)
    n->cfg.cb.on_link(n, &lp->id, l->dir, true, 0, NULL, n->cfg.user_data);
  if (loser != NULL)
    yz_link_close_with(loser->link, YZ_CLOSE_DUPLICATE, YZ_E_CLOSED,
                       "duplicate link");
  yz_node_dial_cb dcb = l->dial_cb;
  void *darg = l->dial_arg;
  l->dial_cb = NULL;
  yz_node_id pid = lp->id;
  if (first)
    notify_peer(n, lp, &lp->id, 0, NULL);
  /* After on_peer_up, so that the dialler finds the peer up. */
  if (dcb != NULL)
    dcb(n, 0, &pid, NULL, darg);
  /* Last, once the observers had their chance to protect the peer. */
  policy_run_why(n, true);
}

static struct nlink *pick_primary(struct peer *p)
{
  struct nlink *best = NULL;
  for (struct nlink *x = p->links; x; x = x->next)
    if (!x->dup && x->close_reason == NULL)
      best = x;
  return best ? best : p->links;
}

static void on_link_down(yz_link_manager *m, yz_link *link, int err,
                         const char *reason, void *ud)
{
  (void)m;
  yz_node *n = ud;
  struct nlink *l = yz_link_get_data(link);
  if (l == NULL)
    return;
  yz_link_set_data(link, NULL);
  if (l->close_reason != NULL && err == YZ_E_CLOSED)
    reason = l->close_reason;
  bool stopping = n->state == ST_STOPPING || n->state == ST_STOPPED;

  if (!l->up && l->dir == YZ_LINK_INBOUND) {
    free(l); /* an inbound link we could not take (out of memory) */
    return;
  }
  if (!l->up) {
    /* A dial that never came up. */
    struct cpeer *c = l->cpeer;
    const char *url = c ? c->address : l->dial_url;
    yz_node_id expected = l->expected;
    bool pinned = l->pinned;
    if (c != NULL)
      c->dialing = NULL;
    if (l->dial_cb != NULL) {
      /* Its own callback, exactly once, also while stopping. */
      yz_node_dial_cb dcb = l->dial_cb;
      void *darg = l->dial_arg;
      free(l->dial_url);
      free(l);
      dcb(n, err, pinned ? &expected : NULL, reason, darg);
      return;
    }
    if (!stopping && n->cfg.cb.on_dial_failed)
      n->cfg.cb.on_dial_failed(n, url ? url : "", pinned ? &expected : NULL,
                               err, reason, n->cfg.user_data);
    free(l->dial_url);
    free(l);
    if (c != NULL && n->state == ST_STARTED)
      schedule_redial(c);
    return;
  }

  n->n_up--;
  n->n_live -= l->close_reason == NULL;
  struct peer *p = l->peer;
  struct nlink **pp = &p->links;
  while (*pp != l)
    pp = &(*pp)->next;
  *pp = l->next;
  yz_node_id id = p->id;
  yz_link_direction dir = l->dir;
  uint64_t serial = l->serial;
  bool last = p->links == NULL;
  if (last)
    peer_remove(n, p);
  else if (p->primary == l)
    p->primary = pick_primary(p);
  if (!last)
    pol_track(n, p); /* its time may be earlier without l */
  free(l->dial_url);
  free(l);

  if (n->cfg.cb.on_link)
    n->cfg.cb.on_link(n, &id, dir, false, err, reason, n->cfg.user_data);
  if (!last) {
    fail_requests_on(n, &id, serial);
    return;
  }
  fail_requests_of(n, &id);
  notify_peer(n, NULL, &id, err, reason);
  if (n->state != ST_STARTED)
    return;
  for (struct cpeer *c = n->cpeers; c; c = c->next)
    if (c->has_id && c->dialing == NULL &&
        memcmp(c->id.bytes, id.bytes, YZ_NODE_ID_LEN) == 0)
      schedule_redial(c);
}

static void on_link_writable(yz_link_manager *m, yz_link *link, void *ud)
{
  (void)m;
  yz_node *n = ud;
  struct nlink *l = yz_link_get_data(link);
  if (l == NULL || !l->up || n->cfg.cb.on_writable == NULL)
    return;
  yz_node_id id = l->peer->id;
  n->cfg.cb.on_writable(n, &id, n->cfg.user_data);
}

/* ---- addresses and dials ---- */

/* A node address (yz/address.h, the one grammar): the expected ID if it
 * has one. The parser's reason is logged, since the callers return only a
 * code. */
static int parse_address(const char *what, const char *address,
                         yz_node_id *id, bool *pinned)
{
  yz_address a;
  const char *why = NULL;
  int err = yz_address_parse(&a, (const uint8_t *)address, strlen(address),
                             &why);
  if (err != 0) {
    yz_log(YZ_LOG_ERR, "node: %s %.*s: %s", what,
           (int)YZ__MIN(strlen(address), 200), address, why);
    return err;
  }
  *pinned = a.has_id;
  if (a.has_id)
    *id = a.id;
  return 0;
}

static int dial(yz_node *n, const char *url, const yz_node_id *id,
                bool pinned, const yz_node_dial_opts *opts,
                struct nlink **out)
{
  yz_node_dial_opts o = {0};
  if (opts != NULL)
    o = *opts;
  if (pinned == o.unpinned)
    return YZ_E_INVAL; /* exactly one of: a pinned ID, an explicit opt-out */
  struct nlink *l = calloc(1, sizeof *l);
  if (l == NULL)
    return YZ_E_NOMEM;
  yz_link *link;
  int err = yz_link_dial(n->mgr, url, pinned ? id : NULL, &o, &link);
  if (err != 0) {
    free(l);
    return err;
  }
  l->link = link;
  l->node = n;
  l->dir = YZ_LINK_OUTBOUND;
  l->pinned = pinned;
  if (pinned)
    l->expected = *id;
  yz_link_set_data(link, l);
  *out = l;
  return 0;
}

static int node_dial(yz_node *n, const char *address,
                     const yz_node_dial_opts *opts, yz_node_dial_cb cb,
                     void *arg)
{
  if (n == NULL || address == NULL)
    return YZ_E_INVAL;
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return YZ_E_STATE;
  yz_node_id id;
  bool pinned;
  int err = parse_address("cannot dial", address, &id, &pinned);
  if (err != 0)
    return err;
  struct nlink *l;
  err = dial(n, address, &id, pinned, opts, &l);
  if (err != 0)
    return err;
  l->dial_url = strdup(address); /* NULL on failure: reported as "" */
  l->dial_cb = cb;
  l->dial_arg = arg;
  return 0;
}

int yz_node_dial(yz_node *n, const char *address,
                 const yz_node_dial_opts *opts)
{
  return node_dial(n, address, opts, NULL, NULL);
}

int yz_node_dial_with(yz_node *n, const char *address,
                      const yz_node_dial_opts *opts, yz_node_dial_cb cb,
                      void *arg)
{
  if (cb == NULL)
    return YZ_E_INVAL;
  return node_dial(n, address, opts, cb, arg);
}

static void redial(struct cpeer *c)
{
  yz_node *n = c->node;
  if (n->state != ST_STARTED || c->dialing != NULL)
    return;
  if (c->has_id && peer_find(n, &c->id) != NULL)
    return; /* already linked (it dialled us): nothing to do */
  struct nlink *l;
  int err = dial(n, c->address, &c->id, c->pinned, &c->opts, &l);
  if (err != 0) {
    yz_log(YZ_LOG_INFO, "node: cannot dial %s now: %s", c->address,
           yz_strerror(err));
    schedule_redial(c);
    return;
  }
  l->cpeer = c;
  c->dialing = l;
}

static void redial_cb(uv_timer_t *t) { redial(t->data); }

/* Dial c after delay ms (0: from the loop, at once). */
static void arm_redial(struct cpeer *c, uint32_t delay)
{
  if (c->node->virt)
    c->due = now_ms(c->node) + delay;
  else
    uv_timer_start(&c->timer, redial_cb, delay, 0);
}

static void schedule_redial(struct cpeer *c)
{
  yz_node *n = c->node;
  uint32_t r = n->cfg.random ? n->cfg.random(n->cfg.user_data)
                             : randombytes_random();
  uint32_t delay = yz__backoff_next(&c->bo, r);
  arm_redial(c, delay);
}

int yz_node_add_peer(yz_node *n, const char *address,
                     const yz_node_dial_opts *opts)
{
  if (n == NULL || address == NULL)
    return YZ_E_INVAL;
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return YZ_E_STATE;
  struct cpeer *c = calloc(1, sizeof *c);
  if (c == NULL)
    return YZ_E_NOMEM;
  int err = parse_address("bad peer address", address, &c->id, &c->pinned);
  if (err != 0) {
    free(c);
    return err;
  }
  if (opts != NULL)
    c->opts = *opts;
  if (c->pinned == c->opts.unpinned) {
    free(c);
    return YZ_E_INVAL;
  }
  c->address = strdup(address);
  if (c->address == NULL) {
    free(c);
    return YZ_E_NOMEM;
  }
  c->has_id = c->pinned;
  c->node = n;
  c->due = UINT64_MAX;
  yz__backoff_init(&c->bo, n->cfg.redial_initial_ms, n->cfg.redial_max_ms);
  uv_timer_init(n->loop, &c->timer);
  c->timer.data = c;
  c->next = n->cpeers;
  n->cpeers = c;
  struct peer *up = c->has_id ? peer_find(n, &c->id) : NULL;
  if (up != NULL) {
    up->protect |= YZ_NODE_PROTECT_CONFIGURED;
    peer_apply_protection(n, up);
  }
  if (n->state == ST_STARTED)
    arm_redial(c, 0);
  return 0;
}

/* ---- listen ---- */

/* "ws://HOST:PORT/..." -> scheme and host parts, for the node address. */
/* The node address of a listener: its URL (already accepted by
 * yz_link_listen()) with the bound port, path "/" and this node's ID. */
static int listen_address(yz_node *n, const char *url, uint16_t port)
{
  yz_address addr;
  if (yz_address_parse_listen(&addr, (const uint8_t *)url, strlen(url),
                              NULL) != 0)
    return YZ_E_ADDRESS;
  addr.port = port;
  strcpy(addr.path, "/");
  addr.has_id = true;
  addr.id = n->identity.id;
  char *a = malloc(YZ_ADDRESS_TEXT_MAX);
  if (a == NULL)
    return YZ_E_NOMEM;
  if (yz_address_format(&addr, a, YZ_ADDRESS_TEXT_MAX) < 0) {
    free(a);
    return YZ_E_ADDRESS;
  }
  char **v = realloc(n->addrs, (n->naddrs + 1) * sizeof *v);
  if (v == NULL) {
    free(a);
    return YZ_E_NOMEM;
  }
  n->addrs = v;
  v[n->naddrs++] = a;
  return 0;
}

int yz_node_listen(yz_node *n, const yz_link_listen_config *lc)
{
  if (n == NULL || lc == NULL || lc->url == NULL)
    return YZ_E_INVAL;
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return YZ_E_STATE;
  uint16_t port = 0;
  int err = yz_link_listen(n->mgr, lc, &port);
  if (err != 0)
    return err;
  return listen_address(n, lc->url, port);
}

const char *yz_node_address(const yz_node *n, size_t i)
{
  return i < n->naddrs ? n->addrs[i] : NULL;
}

size_t yz_node_address_count(const yz_node *n) { return n->naddrs; }

/* ---- virtual time ---- */

uint64_t yz_node_next_deadline(const yz_node *n)
{
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return UINT64_MAX;
  uint64_t dl = UINT64_MAX, t;
  if (yz__reqtable_next_deadline(&n->reqs, &t))
    dl = t;
  for (const struct cpeer *c = n->cpeers; c; c = c->next)
    dl = YZ__MIN(dl, c->due);
  dl = YZ__MIN(dl, n->policy_due);
  return YZ__MIN(dl, yz_link_manager_next_deadline(n->mgr));
}

void yz_node_run_timers(yz_node *n)
{
  if (n->state == ST_STOPPING || n->state == ST_STOPPED)
    return;
  uint64_t now = now_ms(n);
  expire_requests(n, now);
  for (struct cpeer *c = n->cpeers; c && n->state == ST_STARTED;
       c = c->next) {
    if (c->due <= now) {
      c->due = UINT64_MAX;
      redial(c);
    }
  }
  if (n->state == ST_STARTED && n->policy_due <= now)
    policy_run(n);
  if (n->state == ST_STARTED || n->state == ST_NEW)
    yz_link_manager_run_timers(n->mgr);
}

/* ---- lifetime ---- */

void yz_node_config_default(yz_node_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  yz_link_config_default(&cfg->link);
  cfg->request_timeout_ms = 10000;
  cfg->max_pending_requests = 4096;
  cfg->redial_initial_ms = 500;
  cfg->redial_max_ms = 60000;
  cfg->link_idle_ms = 10000;
}

int yz_node_new(yz_node **out, uv_loop_t *loop, const yz_node_config *cfg)
{
  if (out == NULL || loop == NULL || cfg == NULL || cfg->identity == NULL)
    return YZ_E_INVAL;
  if (yz_init() != 0)
    return YZ_E_IO;
  yz_node *n = calloc(1, sizeof *n);
  if (n == NULL)
    return YZ_E_NOMEM;
  n->loop = loop;
  n->identity = *cfg->identity;
  n->cfg = *cfg;
  n->cfg.identity = &n->identity;
  if (n->cfg.request_timeout_ms == 0)
    n->cfg.request_timeout_ms = 10000;
  if (n->cfg.max_pending_requests == 0)
    n->cfg.max_pending_requests = 4096;
  if (n->cfg.redial_initial_ms == 0)
    n->cfg.redial_initial_ms = 500;
  if (n->cfg.redial_max_ms == 0)
    n->cfg.redial_max_ms = 60000;
  if (n->cfg.link_idle_ms == 0)
    n->cfg.link_idle_ms = 10000;
  n->policy_due = UINT64_MAX;
  n->virt = cfg->link.virtual_time && cfg->link.clock_ms != NULL;
  n->max_msg = cfg->link.max_message_size ? cfg->link.max_message_size
                                          : (size_t)1 << 20;
  yz_log_ratelimit rl = YZ_LOG_RATELIMIT_INIT(5, 10000);
  n->rl_bad = rl;
  uint64_t first_id = 1 + (uint64_t)randombytes_uniform(1u << 30);
  yz__reqtable_init(&n->reqs, n->cfg.max_pending_requests, first_id);

  yz_link_config lc = cfg->link;
  lc.identity = &n->identity;
  lc.cb.on_up = on_link_up;
  lc.cb.on_message = on_link_message;
  lc.cb.on_writable = on_link_writable;
  lc.cb.on_down = on_link_down;
  lc.user_data = n;
  int err = yz_link_manager_new(&n->mgr, loop, &lc);
  if (err != 0) {
    yz_identity_clear(&n->identity);
    free(n);
    return err;
  }
  /* The manager accepted the name: keep a copy (the caller's string is
   * not kept). */
  snprintf(n->network, sizeof n->network, "%s",
           cfg->link.network ? cfg->link.network
                             : YZ_SESSION_NETWORK_DEFAULT);
  uv_timer_init(loop, &n->req_timer);
  n->req_timer.data = n;
  uv_timer_init(loop, &n->policy_timer);
  n->policy_timer.data = n;
  *out = n;
  return 0;
}

int yz_node_start(yz_node *n)
{
  if (n == NULL)
    return YZ_E_INVAL;
  if (n->state != ST_NEW)
    return YZ_E_STATE;
  n->state = ST_STARTED;
  for (struct cpeer *c = n->cpeers; c; c = c->next)
    arm_redial(c, 0);
  return 0;
}

static void stop_step_done(yz_node *n)
{
  if (--n->closing > 0)
    return;
  n->state = ST_STOPPED;
  if (n->stop_cb)
    n->stop_cb(n, n->stop_arg);
}

static void on_cpeer_timer_closed(uv_handle_t *h)
{
  struct cpeer *c = h->data;
  stop_step_done(c->node);
}

static void on_policy_timer_closed(uv_handle_t *h)
{
  stop_step_done(h->data);
}

static void on_manager_closed(void *ud)
{
  yz_node *n = ud;
  n->mgr = NULL;
  stop_step_done(n);
}

/* The first step of a stop that runs from the loop. The pending requests
 * fail here, not in yz_node_stop(): no callback runs synchronously from
 * the call that causes it (yz/node.h, libuv's rule), and the caller may
 * stop the node from inside a request callback. Then the manager is
 * closed, also from the loop, never from inside one of its own callbacks
 * (the node may be stopped from on_peer_down, say): libwebsockets must not
 * start its teardown from a protocol callback (TOOLCHAIN.md 2). */
static void on_req_timer_closed(uv_handle_t *h)
{
  yz_node *n = h->data;
  yz__req *r;
  while ((r = yz__reqtable_take_any(&n->reqs)) != NULL)
    pending_finish(n, (struct pending *)r, YZ_E_CLOSED, NULL);
  yz_link_manager_close(n->mgr, on_manager_closed, n);
}

void yz_node_stop(yz_node *n, void (*cb)(yz_node *, void *), void *arg)
{
  assert(n->state == ST_NEW || n->state == ST_STARTED);
  n->state = ST_STOPPING;
  n->stop_cb = cb;
  n->stop_arg = arg;
  /* One count for the manager (closed after the request timer), one for
   * the policy timer, one per configured peer's timer. */
  n->closing = 2;
  uv_close((uv_handle_t *)&n->policy_timer, on_policy_timer_closed);
  for (struct cpeer *c = n->cpeers; c; c = c->next) {
    n->closing++;
    uv_close((uv_handle_t *)&c->timer, on_cpeer_timer_closed);
  }
  uv_close((uv_handle_t *)&n->req_timer, on_req_timer_closed);
}

void yz_node_free(yz_node *n)
{
  if (n == NULL)
    return;
  assert(n->state == ST_STOPPED);
  for (struct cpeer *c = n->cpeers, *nx; c; c = nx) {
    nx = c->next;
    free(c->address);
    free(c);
  }
  for (size_t i = 0; i < n->naddrs; i++)
    free(n->addrs[i]);
  free(n->addrs);
  /* The manager's on_down emptied every peer before the stop completed. */
  assert(n->npeers == 0);
  free(n->buckets);
  free(n->protos);
  free(n->obs);
  free(n->scratch);
  free(n->pol);
  free(n->pheap);
  yz__reqtable_clear(&n->reqs);
  yz_identity_clear(&n->identity);
  sodium_memzero(&n->cfg, sizeof n->cfg);
  free(n);
}

const yz_node_id *yz_node_get_id(const yz_node *n) { return &n->identity.id; }
uv_loop_t *yz_node_get_loop(const yz_node *n) { return n->loop; }
yz_link_manager *yz_node_get_link_manager(yz_node *n) { return n->mgr; }
const char *yz_node_network(const yz_node *n) { return n->network; }

/* node/node_internal.h */
uint64_t yz__node_now(const yz_node *n) { return now_ms(n); }
bool yz__node_virtual_time(const yz_node *n) { return n->virt; }
const yz_identity *yz__node_identity(const yz_node *n)
{
  return &n->identity;
}

bool yz_node_peer_is_up(const yz_node *n, const yz_node_id *peer)
{
  return peer_find(n, peer) != NULL;
}

size_t yz_node_peer_count(const yz_node *n) { return n->npeers; }
