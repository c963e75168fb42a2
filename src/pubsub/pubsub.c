/*
 * PubSub on a node (include/yz/pubsub.h, docs/pubsub.md "On a node"): the
 * glue between the sans-I/O router (router.c) and a yz node. Protocol 3
 * on the node's links (docs/protocol.md "PubSub"), peer observers, the
 * heartbeat on the node's clock, the DHT's provider records to find a
 * topic's subscribers (cold start), pinned dials of providers and of peer
 * exchange records, mesh peers protected in the node's connection policy,
 * and a queue that hands messages to the application from the loop.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/util.h"
#include "link/internal.h"
#include "node/node_internal.h"
#include "pubsub/router.h"
#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub.h"
#include "yz/record.h"

/* A result deliberately not used (warn_unused_result). */
#define IGNORE_RC(x)                                                          \
  do {                                                                        \
    int ig_ = (x);                                                            \
    (void)ig_;                                                                \
  } while (0)

/* A subscribed topic. */
struct topic {
  size_t slot; /* in ps->topics */
  char name[YZ_PS_NAME_MAX_LEN + 1];
  uint8_t hash[YZ_PS_TOPIC_LEN];
  uint8_t pkey[YZ_PUBSUB_PROVIDER_KEY_LEN];
  yz_pubsub_validator validator;
  yz_pubsub_message_cb on_message;
  void *ud;
  bool provided;      /* a PROVIDE of it was stored somewhere */
  bool no_provide;    /* the DHT cannot provide (client-only): never */
  uint64_t provide_op; /* in flight (0: none) */
  uint64_t next_discover; /* node clock */
  yz_pubsub *ps;
};

/* A publish that reached nobody at once, waiting for the DHT. */
struct pending {
  struct pending *next;
  uint64_t id; /* ours, never 0 */
  uint8_t topic[YZ_PS_TOPIC_LEN];
  char name[YZ_PS_NAME_MAX_LEN + 1];
  yz_ps_msg msg; /* data points at data below */
  uint8_t *data;
  uint8_t mid[YZ_PS_ID_LEN];
  yz_pubsub_publish_cb cb;
  void *arg;
  uint64_t started, deadline; /* node clock */
  bool lookup_done;
  unsigned dialling;
  size_t reached, providers, dialled;
  /* peers the message went to (each once) */
  yz_node_id sent[YZ_DHT_MSG_PROVIDERS_CAP];
  size_t n_sent;
  int status; /* set when finished */
};

/* A provider lookup (a subscribed topic's, or a pending publish's). */
struct lookup {
  struct lookup *next;
  yz_pubsub *ps;
  uint64_t op; /* the DHT's */
  uint8_t topic[YZ_PS_TOPIC_LEN];
  uint64_t pending; /* 0: a topic's discovery */
  /* providers handled (streamed, then in the result again) */
  yz_node_id seen[YZ_DHT_MSG_PROVIDERS_CAP];
  size_t n_seen;
};

/* A pinned dial in flight. */
struct dial {
  struct dial *next;
  yz_pubsub *ps;
  yz_node_id id;
  uint64_t pending; /* 0: none */
};

/* A node record remembered (providers, peer exchange), for the router's
 * own peer exchange when the node becomes a peer. */
struct rec {
  yz_node_id id;
  size_t len;
  uint8_t *bytes;
};

/* A message waiting to be handed to the application. */
struct dq {
  struct dq *next;
  size_t topic; /* index */
  yz_ps_msg m;
  uint8_t id[YZ_PS_ID_LEN];
  bool has_from;
  yz_node_id from;
  uint64_t recv_us;
  uint8_t data[];
};

struct yz_pubsub {
  yz_node *node;
  yz__node_claim claim; /* one PubSub per node */
  yz_dht *dht;
  uv_loop_t *loop;
  yz_link_manager *mgr;
  yz_pubsub_config cfg;
  bool virt;
  uint8_t sk[YZ_IDENTITY_SK_LEN];
  yz__ps_router *r;

  /* cfg.router.max_topics slots; a topic is allocated when subscribed
   * (a simulation runs thousands of instances: no table up front) */
  struct topic **topics;
  size_t n_topics;
  struct pending *pending;
  size_t n_pending;
  struct pending *finished; /* results to deliver from the loop */
  uint64_t next_pending;
  struct lookup *lookups;
  struct dial *dials;
  size_t n_dials;
  /* up to cfg.max_records, grown on demand; when full, a ring */
  struct rec *recs;
  size_t n_recs, cap_recs, rec_next;
  struct dq *dq_head, *dq_tail;
  size_t dq_n;
  yz_node_id *prot; /* mesh peers protected */
  size_t n_prot, prot_cap;

  uint64_t last_seq;
  uint64_t hb_due;
  uint64_t observer;
  uv_timer_t timer;
  uv_idle_t idle;
  bool handles, handles_closing;
  int handles_open;
  bool stopping;
  void (*stop_cb)(yz_pubsub *, void *);
  void *stop_arg;
  yz_log_ratelimit rl_malformed, rl_dial;
  yz_pubsub_stats st;
};

/* ---- clocks, randomness, scratch ------------------------------------- */

static uint64_t node_now(const yz_pubsub *ps)
{
  return yz__link_now(ps->mgr);
}

static uint64_t unix_ms(const yz_pubsub *ps)
{
  if (ps->cfg.unix_ms)
    return ps->cfg.unix_ms(ps->cfg.user_data);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Unix time in microseconds (seq and latency; pubsub.h). */
static uint64_t unix_us(const yz_pubsub *ps)
{
  if (ps->cfg.unix_ms)
    return ps->cfg.unix_ms(ps->cfg.user_data) * 1000;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void r_random(void *ud, uint8_t *buf, size_t n)
{
  yz_pubsub *ps = ud;
  if (ps->cfg.random)
    ps->cfg.random(buf, n, ps->cfg.user_data);
  else
    randombytes_buf(buf, n);
}

/* Per-thread scratch: the encode buffer and two RPCs (large: not on the
 * stack, not per instance, since a simulation runs thousands of
 * instances on one thread). Never nested: the router's send callback
 * encodes into tx while rx is being handled; build is only used outside
 * the router. */
static _Thread_local uint8_t *tl_tx;
static _Thread_local size_t tl_tx_cap;
static _Thread_local yz_ps_rpc *tl_rx, *tl_build;

static uint8_t *tx_buf(size_t cap)
{
  if (tl_tx_cap < cap) {
    uint8_t *p = realloc(tl_tx, cap);
    if (!p)
      return NULL;
    tl_tx = p;
    tl_tx_cap = cap;
  }
  return tl_tx;
}

static yz_ps_rpc *rpc_scratch(yz_ps_rpc **slot)
{
  if (!*slot)
    *slot = malloc(sizeof **slot);
  return *slot;
}

static size_t max_rpc(const yz_pubsub *ps)
{
  return ps->cfg.router.limits.max_rpc_len ? ps->cfg.router.limits.max_rpc_len
                                           : YZ_PS_MAX_RPC;
}

/* ---- config ----------------------------------------------------------- */

void yz_pubsub_config_default(yz_pubsub_config *c)
{
  memset(c, 0, sizeof *c);
  yz__ps_config_default(&c->router);
  c->heartbeat_ms = 1000;
  c->default_ttl_ms = 120000;
  c->discover_interval_ms = 30000;
  c->max_dials = 16;
  c->max_pending = 64;
  c->publish_timeout_ms = 15000;
  c->max_records = 128;
  c->max_delivery_queue = 4096;
}

int yz_pubsub_provider_key(uint8_t key[YZ_PUBSUB_PROVIDER_KEY_LEN],
                           const uint8_t topic[YZ_PS_TOPIC_LEN])
{
  if (!key || !topic)
    return YZ_E_INVAL;
  /* docs/protocol.md "PubSub", "Finding subscribers" */
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)YZ_PUBSUB_PROVIDER_PREFIX,
                            YZ_PUBSUB_PROVIDER_PREFIX_LEN);
  crypto_hash_sha256_update(&st, topic, YZ_PS_TOPIC_LEN);
  crypto_hash_sha256_final(&st, key);
  return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static struct topic *topic_of(yz_pubsub *ps, const uint8_t *hash)
{
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++)
    if (ps->topics[i] &&
        memcmp(ps->topics[i]->hash, hash, YZ_PS_TOPIC_LEN) == 0)
      return ps->topics[i];
  return NULL;
}

static void ip_of(yz__ps_ip *ip, const char *s)
{
  memset(ip, 0, sizeof *ip);
  char host[64];
  size_t n;
  if (*s == '[') {
    s++;
    n = strcspn(s, "]");
  } else {
    n = strcspn(s, ":");
  }
  if (n == 0 || n >= sizeof host)
    return;
  memcpy(host, s, n);
  host[n] = '\0';
  if (inet_pton(AF_INET, host, ip->addr) == 1)
    ip->family = 4;
  else if (inet_pton(AF_INET6, host, ip->addr) == 1)
    ip->family = 6;
}

static const struct rec *rec_find(const yz_pubsub *ps, const yz_node_id *id)
{
  for (size_t i = 0; i < ps->n_recs; i++)
    if (yz_node_id_equal(&ps->recs[i].id, id))
      return &ps->recs[i];
  return NULL;
}

static void rec_put(yz_pubsub *ps, const yz_node_id *id, const uint8_t *b,
                    size_t len)
{
  struct rec *e = (struct rec *)rec_find(ps, id);
  uint8_t *p = malloc(len);
  if (!p)
    return;
  if (!e && ps->n_recs < ps->cfg.max_records) {
    if (ps->n_recs == ps->cap_recs) {
      size_t nc = ps->cap_recs ? ps->cap_recs * 2 : 8;
      if (nc > ps->cfg.max_records)
        nc = ps->cfg.max_records;
      struct rec *x = realloc(ps->recs, nc * sizeof *x);
      if (!x) {
        free(p);
        return;
      }
      ps->recs = x;
      ps->cap_recs = nc;
    }
    e = &ps->recs[ps->n_recs++];
    e->bytes = NULL;
  } else if (!e) {
    /* full: the oldest entry goes */
    e = &ps->recs[ps->rec_next];
    ps->rec_next = (ps->rec_next + 1) % ps->cfg.max_records;
  }
  memcpy(p, b, len);
  free(e->bytes);
  e->bytes = p;
  e->len = len;
  e->id = *id;
}

/* A pinned URL of a verified record (its first ws:// address, else its
 * first), and its node ID. */
static int record_url(yz_pubsub *ps, const uint8_t *b, size_t len,
                      yz_node_id *id, char *url, size_t cap)
{
  yz_record r;
  yz_record_expect ex = {ps->mgr->cfg.network, NULL, unix_ms(ps) / 1000};
  if (yz_record_decode(&r, b, len, &ex, NULL) != 0)
    return YZ_E_INVAL;
  int pick = -1;
  for (int i = 0; i < r.n_addresses && pick < 0; i++)
    if ((r.addresses[i].client_types & YZ_WIRE_CLIENT_WS) &&
        strncmp(r.addresses[i].url, "ws://", 5) == 0)
      pick = i;
  if (pick < 0)
    pick = 0;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&r.node_id, hex);
  int n = snprintf(url, cap, "%s#%s", r.addresses[pick].url, hex);
  *id = r.node_id;
  return n > 0 && (size_t)n < cap ? 0 : YZ_E_INVAL;
}

static struct pending *pending_find(yz_pubsub *ps, uint64_t id)
{
  for (struct pending *p = ps->pending; p; p = p->next)
    if (p->id == id)
      return p;
  return NULL;
}

/* ---- the loop's work: deliveries and results -------------------------- */

static void on_idle(uv_idle_t *h);

static void kick(yz_pubsub *ps)
{
  if (ps->handles && !ps->handles_closing)
    uv_idle_start(&ps->idle, on_idle);
}

static void rearm(yz_pubsub *ps);
static void maybe_stopped(yz_pubsub *ps);

/* Hand over at most one call's worth of queued messages, then the
 * results of finished publishes. */
static void drain(yz_pubsub *ps)
{
  /* a bounded batch per turn: the loop stays responsive */
  for (unsigned k = 0; k < 256 && ps->dq_head && !ps->stopping; k++) {
    struct dq *q = ps->dq_head;
    ps->dq_head = q->next;
    if (!ps->dq_head)
      ps->dq_tail = NULL;
    ps->dq_n--;
    struct topic *t = ps->topics[q->topic];
    if (t && t->on_message &&
        memcmp(t->hash, q->m.topic, YZ_PS_TOPIC_LEN) == 0) {
      yz_pubsub_message um;
      memset(&um, 0, sizeof um);
      um.topic = t->name;
      um.topic_hash = t->hash;
      um.id = q->id;
      um.author = q->m.author;
      crypto_hash_sha256(um.author_id.bytes, q->m.author,
                         YZ_IDENTITY_PK_LEN);
      um.seq = q->m.seq;
      um.expiry = q->m.expiry;
      um.data = q->data;
      um.len = q->m.data_len;
      um.from = q->has_from ? &q->from : NULL;
      um.epoch = q->m.epoch;
      /* yz authors' seq is the Unix time in microseconds (pubsub.h) */
      uint64_t life_us = ps->cfg.router.max_lifetime_s * 1000000;
      if (q->m.seq <= q->recv_us + 60000000 &&
          q->m.seq + life_us >= q->recv_us &&
          q->m.seq / 1000000 <= q->m.expiry) {
        um.published_us = q->m.seq;
        um.latency_us = q->recv_us > q->m.seq ? q->recv_us - q->m.seq : 0;
      }
      ps->st.delivered_app++;
      t->on_message(ps, &um, t->ud);
    }
    free(q);
  }
  while (ps->finished) {
    struct pending *p = ps->finished;
    ps->finished = p->next;
    yz_pubsub_publish_result res;
    memset(&res, 0, sizeof res);
    res.status = p->status;
    res.topic = p->name;
    res.id = p->mid;
    res.seq = p->msg.seq;
    res.reached = p->reached;
    res.providers = p->providers;
    res.dialled = p->dialled;
    res.elapsed_ms = node_now(ps) - p->started;
    if (p->cb)
      p->cb(ps, &res, p->arg);
    free(p->data);
    free(p);
  }
}

static void on_idle(uv_idle_t *h)
{
  yz_pubsub *ps = h->data;
  drain(ps);
  if (!ps->dq_head && !ps->finished)
    uv_idle_stop(&ps->idle);
  maybe_stopped(ps);
}

/* A pending publish is done: its result goes out from the loop. */
static void pending_finish(yz_pubsub *ps, struct pending *p, int status)
{
  for (struct pending **pp = &ps->pending; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  ps->n_pending--;
  for (struct lookup *l = ps->lookups; l; l = l->next)
    if (l->pending == p->id)
      l->pending = 0;
  for (struct dial *d = ps->dials; d; d = d->next)
    if (d->pending == p->id)
      d->pending = 0;
  if (status == 0)
    status = p->reached ? 0
             : p->providers ? YZ_E_UNREACHABLE
                            : YZ_E_NOT_FOUND;
  p->status = status;
  p->next = NULL;
  struct pending **tail = &ps->finished;
  while (*tail)
    tail = &(*tail)->next;
  *tail = p;
  kick(ps);
}

static void pending_check(yz_pubsub *ps, struct pending *p)
{
  if (p->lookup_done && p->dialling == 0)
    pending_finish(ps, p, 0);
}

/* ---- sending ---------------------------------------------------------- */

static bool send_rpc(yz_pubsub *ps, const yz_node_id *peer,
                     const yz_ps_rpc *rpc)
{
  size_t cap = max_rpc(ps), n = 0;
  uint8_t *buf = tx_buf(cap);
  const char *why = NULL;
  if (!buf ||
      yz_ps_rpc_encode(rpc, &ps->cfg.router.limits, buf, cap, &n, &why) != 0 ||
      yz_node_send(ps->node, peer, YZ_PUBSUB_PROTOCOL, buf, n) != 0) {
    ps->st.send_failed++;
    return false;
  }
  ps->st.rpcs_out++;
  return true;
}

static void r_send(void *ud, const yz_node_id *peer, const yz_ps_rpc *rpc)
{
  yz_pubsub *ps = ud;
  if (!ps->stopping)
    (void)send_rpc(ps, peer, rpc);
}

/* A pending publish's message straight to a subscriber found through the
 * DHT (the router had nobody to send it to). */
static void pending_send(yz_pubsub *ps, struct pending *p,
                         const yz_node_id *peer)
{
  for (size_t i = 0; i < p->n_sent; i++)
    if (yz_node_id_equal(&p->sent[i], peer))
      return;
  if (p->n_sent == YZ_DHT_MSG_PROVIDERS_CAP)
    return;
  yz_ps_rpc *rpc = rpc_scratch(&tl_build);
  if (!rpc)
    return;
  yz_ps_rpc_init(rpc);
  rpc->n_publish = 1;
  rpc->publish[0] = p->msg;
  if (send_rpc(ps, peer, rpc)) {
    p->sent[p->n_sent++] = *peer;
    p->reached++;
  }
}

/* ---- router callbacks ------------------------------------------------- */

static yz__ps_verdict r_validate(void *vud, const yz_ps_msg *m,
                                 const uint8_t id[YZ_PS_ID_LEN],
                                 const yz_node_id *from)
{
  struct topic *t = vud;
  if (!t->validator)
    return YZ__PS_ACCEPT;
  yz_pubsub_message um;
  memset(&um, 0, sizeof um);
  um.topic = t->name;
  um.topic_hash = t->hash;
  um.id = id;
  um.author = m->author;
  crypto_hash_sha256(um.author_id.bytes, m->author, YZ_IDENTITY_PK_LEN);
  um.seq = m->seq;
  um.expiry = m->expiry;
  um.data = m->data;
  um.len = m->data_len;
  um.from = from;
  um.epoch = m->epoch;
  switch (t->validator(t->ps, &um, t->ud)) {
  case YZ_PUBSUB_ACCEPT:
    return YZ__PS_ACCEPT;
  case YZ_PUBSUB_IGNORE:
    return YZ__PS_IGNORE;
  default:
    return YZ__PS_REJECT;
  }
}

static void r_deliver(void *ud, const yz_ps_msg *m,
                      const uint8_t id[YZ_PS_ID_LEN], const yz_node_id *from)
{
  yz_pubsub *ps = ud;
  struct topic *t = topic_of(ps, m->topic);
  if (!t || !t->on_message || ps->stopping)
    return;
  if (ps->dq_n >= ps->cfg.max_delivery_queue) {
    ps->st.delivery_dropped++;
    return;
  }
  struct dq *q = malloc(sizeof *q + m->data_len);
  if (!q) {
    ps->st.delivery_dropped++;
    return;
  }
  q->next = NULL;
  q->topic = t->slot;
  q->m = *m;
  if (m->data_len)
    memcpy(q->data, m->data, m->data_len);
  q->m.data = NULL;
  memcpy(q->id, id, YZ_PS_ID_LEN);
  q->has_from = from != NULL;
  if (from)
    q->from = *from;
  q->recv_us = unix_us(ps);
  if (ps->dq_tail)
    ps->dq_tail->next = q;
  else
    ps->dq_head = q;
  ps->dq_tail = q;
  ps->dq_n++;
  kick(ps);
}

static void on_dial(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg);

/* Dial a verified record's node pinned, for a pending publish (or 0). */
static bool dial_record(yz_pubsub *ps, const uint8_t *b, size_t len,
                        uint64_t pending)
{
  if (ps->n_dials >= ps->cfg.max_dials)
    return false;
  yz_node_id id;
  char url[YZ_WIRE_URL_MAX_LEN + 2 + YZ_NODE_ID_HEX_LEN + 1];
  if (record_url(ps, b, len, &id, url, sizeof url) != 0)
    return false;
  if (yz_node_id_equal(&id, yz_node_get_id(ps->node)) ||
      yz_node_peer_is_up(ps->node, &id))
    return false;
  for (struct dial *d = ps->dials; d; d = d->next)
    if (yz_node_id_equal(&d->id, &id))
      return false;
  struct dial *d = calloc(1, sizeof *d);
  if (!d)
    return false;
  d->ps = ps;
  d->id = id;
  d->pending = pending;
  rec_put(ps, &id, b, len);
  if (yz_node_dial_with(ps->node, url, NULL, on_dial, d) != 0) {
    free(d);
    ps->st.dials_failed++;
    return false;
  }
  d->next = ps->dials;
  ps->dials = d;
  ps->n_dials++;
  ps->st.dials++;
  return true;
}

static void on_dial(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg)
{
  (void)n;
  (void)peer;
  struct dial *d = arg;
  yz_pubsub *ps = d->ps;
  for (struct dial **pp = &ps->dials; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  ps->n_dials--;
  if (status != 0) {
    ps->st.dials_failed++;
    (void)yz_log_rl(&ps->rl_dial, node_now(ps), YZ_LOG_INFO,
                    "pubsub: dial of a subscriber failed: %s",
                    reason ? reason : yz_strerror(status));
  }
  struct pending *p = d->pending ? pending_find(ps, d->pending) : NULL;
  if (p && !ps->stopping) {
    p->dialling--;
    if (status == 0) {
      p->dialled++;
      pending_send(ps, p, &d->id);
    }
    pending_check(ps, p);
  }
  free(d);
  maybe_stopped(ps);
  rearm(ps);
}

static void r_px(void *ud, const uint8_t topic[YZ_PS_TOPIC_LEN],
                 const yz_ps_bytes *records, size_t n)
{
  (void)topic;
  yz_pubsub *ps = ud;
  ps->st.px_records += n;
  if (ps->stopping)
    return;
  /* Peer exchange: dial the offered subscribers pinned, a few at a time
   * (docs/protocol.md "Exchanges"); the router grafts them at its next
   * heartbeat once they announce the topic. */
  for (size_t i = 0; i < n; i++)
    (void)dial_record(ps, records[i].ptr, records[i].len, 0);
}

/* ---- the DHT: providing and finding a topic --------------------------- */

/* The DHT could not serve a topic yet (an empty routing table while the
 * node joins): try again in a few seconds, not a whole discovery
 * interval. */
enum { RETRY_MS = 2000 };
static void rearm(yz_pubsub *ps);
static void retry_soon(yz_pubsub *ps, struct topic *t)
{
  uint64_t at = node_now(ps) + RETRY_MS;
  if (at < t->next_discover) {
    t->next_discover = at;
    rearm(ps);
  }
}

static void on_provided(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct topic *t = arg;
  yz_pubsub *ps = t->ps;
  t->provide_op = 0;
  if (r->status == 0 && r->stored > 0) {
    t->provided = true;
    ps->st.provides++;
  } else {
    ps->st.provide_failed++;
    retry_soon(ps, t);
  }
}

static void provide(yz_pubsub *ps, struct topic *t)
{
  if (!ps->dht || t->provide_op || t->no_provide || ps->stopping)
    return;
  int rc = yz_dht_provide(ps->dht, t->pkey, NULL, on_provided, t,
                          &t->provide_op);
  if (rc != 0) {
    t->provide_op = 0;
    ps->st.provide_failed++;
    /* a client-only DHT has no record to announce: finding the others
     * is all it can do */
    t->no_provide = rc == YZ_E_STATE;
  }
}

static void found(yz_pubsub *ps, struct lookup *l, const yz_dht_contact *c,
                  size_t n)
{
  struct pending *p = l->pending ? pending_find(ps, l->pending) : NULL;
  for (size_t i = 0; i < n && !ps->stopping; i++) {
    if (yz_node_id_equal(&c[i].id, yz_node_get_id(ps->node)))
      continue;
    bool dup = false;
    for (size_t k = 0; k < l->n_seen && !dup; k++)
      dup = yz_node_id_equal(&l->seen[k], &c[i].id);
    if (dup || l->n_seen == YZ_DHT_MSG_PROVIDERS_CAP)
      continue;
    l->seen[l->n_seen++] = c[i].id;
    ps->st.providers_found++;
    if (p)
      p->providers++;
    if (yz_node_peer_is_up(ps->node, &c[i].id)) {
      rec_put(ps, &c[i].id, c[i].record, c[i].record_len);
      if (p)
        pending_send(ps, p, &c[i].id);
      continue;
    }
    if (dial_record(ps, c[i].record, c[i].record_len, l->pending) && p)
      p->dialling++;
  }
}

static void on_providers_progress(yz_dht *dht, const yz_dht_result *r,
                                  void *arg)
{
  (void)dht;
  struct lookup *l = arg;
  found(l->ps, l, r->providers, r->n_providers);
}

static void on_providers(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct lookup *l = arg;
  yz_pubsub *ps = l->ps;
  if (!ps->stopping)
    found(ps, l, r->providers, r->n_providers);
  if (!ps->stopping && l->pending == 0 && r->status != 0) {
    struct topic *t = topic_of(ps, l->topic);
    if (t)
      retry_soon(ps, t);
  }
  for (struct lookup **pp = &ps->lookups; *pp; pp = &(*pp)->next)
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  struct pending *p = l->pending ? pending_find(ps, l->pending) : NULL;
  if (p) {
    p->lookup_done = true;
    pending_check(ps, p);
  }
  free(l);
  rearm(ps);
}

static bool lookup_running(const yz_pubsub *ps, const uint8_t *topic,
                           uint64_t pending)
{
  for (const struct lookup *l = ps->lookups; l; l = l->next)
    if (memcmp(l->topic, topic, YZ_PS_TOPIC_LEN) == 0 &&
        l->pending == pending)
      return true;
  return false;
}

/* Look up the providers of topic and dial them. 0 or an error (nothing
 * started). */
static int discover(yz_pubsub *ps, const uint8_t *topic, uint64_t pending)
{
  if (!ps->dht || ps->stopping)
    return YZ_E_STATE;
  if (lookup_running(ps, topic, pending))
    return 0;
  struct lookup *l = calloc(1, sizeof *l);
  if (!l)
    return YZ_E_NOMEM;
  l->ps = ps;
  memcpy(l->topic, topic, YZ_PS_TOPIC_LEN);
  l->pending = pending;
  uint8_t key[YZ_PUBSUB_PROVIDER_KEY_LEN];
  IGNORE_RC(yz_pubsub_provider_key(key, topic));
  yz_dht_op_opts o;
  memset(&o, 0, sizeof o);
  o.progress = on_providers_progress;
  if (pending)
    o.deadline_ms = ps->cfg.publish_timeout_ms;
  int rc = yz_dht_get_providers(ps->dht, key, &o, on_providers, l, &l->op);
  if (rc != 0) {
    free(l);
    return rc;
  }
  l->next = ps->lookups;
  ps->lookups = l;
  ps->st.lookups++;
  return 0;
}

/* ---- the node: links and messages ------------------------------------- */

static void on_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  yz_pubsub *ps = ud;
  if (ps->stopping)
    return;
  yz__ps_ip ip;
  ip_of(&ip, p->remote_addr);
  const struct rec *rc = rec_find(ps, &p->id);
  IGNORE_RC(yz__ps_peer_add(ps->r, &p->id, &ip,
                            p->direction == YZ_LINK_OUTBOUND,
                            rc ? rc->bytes : NULL, rc ? rc->len : 0,
                            unix_ms(ps)));
}

static void prot_forget(yz_pubsub *ps, const yz_node_id *id)
{
  for (size_t i = 0; i < ps->n_prot; i++)
    if (yz_node_id_equal(&ps->prot[i], id)) {
      ps->prot[i] = ps->prot[--ps->n_prot];
      return;
    }
}

static void on_peer_down(yz_node *n, const yz_node_id *peer, int err,
                         const char *reason, void *ud)
{
  (void)n;
  (void)err;
  (void)reason;
  yz_pubsub *ps = ud;
  if (ps->stopping)
    return;
  IGNORE_RC(yz__ps_peer_remove(ps->r, peer, unix_ms(ps)));
  prot_forget(ps, peer);
}

static void protect_mesh(yz_pubsub *ps);

static void on_message(yz_node *n, const yz_node_id *from, uint16_t proto,
                       const uint8_t *data, size_t len, void *ud)
{
  (void)n;
  (void)proto;
  yz_pubsub *ps = ud;
  if (ps->stopping)
    return;
  yz_ps_rpc *rpc = rpc_scratch(&tl_rx);
  if (!rpc)
    return;
  ps->st.rpcs_in++;
  const char *why = NULL;
  int rc = yz_ps_rpc_decode(rpc, data, len, &ps->cfg.router.limits, &why);
  if (rc != 0) {
    /* a behaviour penalty (docs/pubsub.md "Scoring"), and a line */
    ps->st.malformed++;
    yz__ps_rpc_malformed(ps->r, from);
    char hex[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(from, hex);
    (void)yz_log_rl(&ps->rl_malformed, node_now(ps), YZ_LOG_WARN,
                    "pubsub: malformed RPC from %.16s: %s (%s)", hex,
                    why ? why : "?", yz_strerror(rc));
    return;
  }
  IGNORE_RC(yz__ps_rpc_in(ps->r, from, rpc, unix_ms(ps)));
  /* A GRAFT accepted makes a mesh peer now: protect it now, not at the
   * next heartbeat, or an idle link of a new mesh peer could be closed by
   * the connection policy in between (a PRUNE unprotects as soon). */
  if (rpc->graft.n || rpc->n_prune)
    protect_mesh(ps);
}

/* ---- the connection policy: mesh peers are protected ------------------ */

static bool prot_has(const yz_node_id *l, size_t n, const yz_node_id *id)
{
  for (size_t i = 0; i < n; i++)
    if (yz_node_id_equal(&l[i], id))
      return true;
  return false;
}

static void protect_mesh(yz_pubsub *ps)
{
  size_t cap = ps->cfg.router.D_hi + ps->cfg.router.D_out + 1;
  yz_node_id *now = NULL, *buf = malloc(cap * sizeof *buf);
  size_t n_now = 0, cap_now = 0;
  if (!buf)
    return;
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++) {
    if (!ps->topics[i])
      continue;
    size_t m = yz__ps_mesh(ps->r, ps->topics[i]->hash, false, buf, cap);
    if (m > cap)
      m = cap;
    for (size_t j = 0; j < m; j++) {
      if (prot_has(now, n_now, &buf[j]))
        continue;
      if (n_now == cap_now) {
        size_t nc = cap_now ? cap_now * 2 : 32;
        yz_node_id *x = realloc(now, nc * sizeof *x);
        if (!x)
          goto out;
        now = x;
        cap_now = nc;
      }
      now[n_now++] = buf[j];
    }
  }
  for (size_t i = 0; i < ps->n_prot; i++)
    if (!prot_has(now, n_now, &ps->prot[i]))
      IGNORE_RC(yz_node_peer_protect(ps->node, &ps->prot[i],
                                     YZ_NODE_PROTECT_MESH, false));
  for (size_t i = 0; i < n_now; i++)
    if (!prot_has(ps->prot, ps->n_prot, &now[i]))
      IGNORE_RC(
          yz_node_peer_protect(ps->node, &now[i], YZ_NODE_PROTECT_MESH, true));
  free(ps->prot);
  ps->prot = now;
  ps->n_prot = n_now;
  ps->prot_cap = cap_now;
  now = NULL;
out:
  free(now);
  free(buf);
}

/* ---- timers ----------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
  yz_pubsub_run_timers(t->data);
}

static void rearm(yz_pubsub *ps)
{
  if (ps->virt || ps->stopping || !ps->handles)
    return;
  uint64_t dl = yz_pubsub_next_deadline(ps);
  if (dl == UINT64_MAX) {
    uv_timer_stop(&ps->timer);
    return;
  }
  uint64_t now = node_now(ps);
  uv_timer_start(&ps->timer, on_timer, dl > now ? dl - now : 0, 0);
}

uint64_t yz_pubsub_next_deadline(const yz_pubsub *ps)
{
  if (!ps || ps->stopping)
    return UINT64_MAX;
  uint64_t dl = ps->hb_due;
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++)
    if (ps->topics[i] && ps->dht && ps->topics[i]->next_discover < dl)
      dl = ps->topics[i]->next_discover;
  for (const struct pending *p = ps->pending; p; p = p->next)
    if (p->deadline < dl)
      dl = p->deadline;
  return dl;
}

void yz_pubsub_run_timers(yz_pubsub *ps)
{
  if (!ps || ps->stopping)
    return;
  uint64_t now = node_now(ps);
  if (now >= ps->hb_due) {
    yz__ps_heartbeat(ps->r, unix_ms(ps));
    ps->hb_due += ps->cfg.heartbeat_ms;
    if (ps->hb_due <= now)
      ps->hb_due = now + ps->cfg.heartbeat_ms;
    protect_mesh(ps);
  }
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++) {
    struct topic *t = ps->topics[i];
    if (!t || !ps->dht || now < t->next_discover)
      continue;
    t->next_discover = now + ps->cfg.discover_interval_ms;
    /* a provide that failed (an empty table at subscribe time) is
     * retried; the DHT re-announces a stored one before it expires */
    if (!t->provided)
      provide(ps, t);
    /* (a provide in flight or stored is re-announced by the DHT) */
    if (yz__ps_mesh(ps->r, t->hash, false, NULL, 0) < ps->cfg.router.D_lo)
      (void)discover(ps, t->hash, 0);
  }
  struct pending *p = ps->pending, *nx;
  for (; p; p = nx) {
    nx = p->next;
    if (now < p->deadline)
      continue;
    /* its lookup is cancelled (its callback never runs: freed here) */
    for (struct lookup **lp = &ps->lookups; *lp;) {
      struct lookup *l = *lp;
      if (l->pending == p->id) {
        if (ps->dht)
          (void)yz_dht_cancel(ps->dht, l->op);
        *lp = l->next;
        free(l);
      } else {
        lp = &l->next;
      }
    }
    pending_finish(ps, p, p->reached ? 0 : YZ_E_TIMEOUT);
  }
  rearm(ps);
}

/* ---- lifetime --------------------------------------------------------- */

static int config_check(yz_pubsub_config *c)
{
  if (c->heartbeat_ms == 0)
    c->heartbeat_ms = 1000;
  if (c->default_ttl_ms == 0)
    c->default_ttl_ms = 120000;
  if (c->discover_interval_ms == 0)
    c->discover_interval_ms = 30000;
  if (c->max_dials == 0)
    c->max_dials = 16;
  if (c->max_pending == 0)
    c->max_pending = 64;
  if (c->publish_timeout_ms == 0)
    c->publish_timeout_ms = 15000;
  if (c->max_records == 0)
    c->max_records = 128;
  if (c->max_delivery_queue == 0)
    c->max_delivery_queue = 4096;
  if ((uint64_t)c->default_ttl_ms > c->router.max_lifetime_s * 1000)
    return YZ_E_INVAL;
  return 0;
}

int yz_pubsub_new(yz_pubsub **out, yz_node *node, yz_dht *dht,
                  const yz_pubsub_config *cfg)
{
  if (!out || !node)
    return YZ_E_INVAL;
  *out = NULL;
  yz_pubsub_config c;
  if (cfg)
    c = *cfg;
  else
    yz_pubsub_config_default(&c);
  int rc = config_check(&c);
  if (rc)
    return rc;
  yz_pubsub *ps = calloc(1, sizeof *ps);
  if (!ps)
    return YZ_E_NOMEM;
  ps->node = node;
  /* one per node (pubsub.h; node/node_internal.h) */
  if (!yz__node_claim_take(&ps->claim, ps->node, YZ__NODE_CLAIM_PUBSUB)) {
    free(ps);
    return YZ_E_STATE;
  }
  ps->dht = dht;
  ps->loop = yz_node_get_loop(node);
  ps->mgr = yz_node_get_link_manager(node);
  ps->cfg = c;
  ps->cfg.identity = NULL;
  ps->cfg.sign_sk = NULL;
  ps->virt = ps->mgr->cfg.virtual_time && ps->mgr->cfg.clock_ms != NULL;
  ps->rl_malformed = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(10, 10000);
  ps->rl_dial = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(10, 10000);
  /* the author key: the node's identity unless another is given */
  if (c.sign_sk)
    memcpy(ps->sk, c.sign_sk, sizeof ps->sk);
  else
    memcpy(ps->sk,
           c.identity ? c.identity->sk : ps->mgr->identity.sk,
           sizeof ps->sk);
  rc = YZ_E_NOMEM;
  ps->topics = calloc(c.router.max_topics ? c.router.max_topics : 1,
                      sizeof *ps->topics);
  if (!ps->topics)
    goto fail;
  yz__ps_callbacks cb = {r_send, r_deliver, r_random, r_px, ps};
  ps->r = yz__ps_router_new(yz_node_get_id(node), &ps->cfg.router, &cb,
                            unix_ms(ps));
  if (!ps->r) {
    rc = YZ_E_INVAL;
    goto fail;
  }
  const yz_node_protocol p = {on_message, NULL};
  rc = yz_node_register(node, YZ_PUBSUB_PROTOCOL, &p, ps);
  if (rc)
    goto fail;
  const yz_node_peer_observer o = {on_peer_up, on_peer_down};
  rc = yz_node_peer_observer_add(node, &o, ps, &ps->observer);
  if (rc) {
    IGNORE_RC(yz_node_register(node, YZ_PUBSUB_PROTOCOL, NULL, NULL));
    goto fail;
  }
  uv_timer_init(ps->loop, &ps->timer);
  ps->timer.data = ps;
  uv_idle_init(ps->loop, &ps->idle);
  ps->idle.data = ps;
  ps->handles = true;
  /* peers already up */
  size_t n = yz_node_peer_count(node);
  yz_node_id *ids = n ? calloc(n, sizeof *ids) : NULL;
  if (ids) {
    n = yz_node_peers(node, ids, n);
    for (size_t i = 0; i < n; i++) {
      yz_node_peer_info info;
      if (yz_node_peer_info_get(node, &ids[i], &info) != 0)
        continue;
      yz__ps_ip ip;
      ip_of(&ip, info.remote_addr);
      IGNORE_RC(yz__ps_peer_add(ps->r, &ids[i], &ip,
                                info.direction == YZ_LINK_OUTBOUND, NULL, 0,
                                unix_ms(ps)));
    }
    free(ids);
  }
  ps->hb_due = node_now(ps) + ps->cfg.heartbeat_ms;
  rearm(ps);
  *out = ps;
  return 0;
fail:
  yz__node_claim_release(&ps->claim);
  yz__ps_router_free(ps->r);
  free(ps->topics);
  sodium_memzero(ps->sk, sizeof ps->sk);
  free(ps);
  return rc;
}

static void on_handle_closed(uv_handle_t *h)
{
  yz_pubsub *ps = h->data;
  if (--ps->handles_open == 0 && ps->stop_cb) {
    void (*cb)(yz_pubsub *, void *) = ps->stop_cb;
    ps->stop_cb = NULL;
    cb(ps, ps->stop_arg);
  }
}

static void maybe_stopped(yz_pubsub *ps)
{
  if (!ps->stopping || ps->handles_closing || ps->n_dials || ps->finished)
    return;
  ps->handles_closing = true;
  ps->handles_open = 2;
  uv_idle_stop(&ps->idle);
  uv_timer_stop(&ps->timer);
  uv_close((uv_handle_t *)&ps->timer, on_handle_closed);
  uv_close((uv_handle_t *)&ps->idle, on_handle_closed);
}

static void noop_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  (void)arg;
}

static void dq_clear(yz_pubsub *ps)
{
  while (ps->dq_head) {
    struct dq *q = ps->dq_head;
    ps->dq_head = q->next;
    free(q);
  }
  ps->dq_tail = NULL;
  ps->dq_n = 0;
}

void yz_pubsub_stop(yz_pubsub *ps, void (*cb)(yz_pubsub *, void *), void *arg)
{
  if (!ps || ps->stopping)
    return;
  ps->stop_cb = cb ? cb : noop_stopped;
  ps->stop_arg = arg;
  IGNORE_RC(yz_node_register(ps->node, YZ_PUBSUB_PROTOCOL, NULL, NULL));
  (void)yz_node_peer_observer_remove(ps->node, ps->observer);
  yz__node_claim_release(&ps->claim);
  for (size_t i = 0; i < ps->n_prot; i++)
    IGNORE_RC(yz_node_peer_protect(ps->node, &ps->prot[i],
                                   YZ_NODE_PROTECT_MESH, false));
  ps->n_prot = 0;
  /* DHT operations: cancelled, their callbacks never run */
  while (ps->lookups) {
    struct lookup *l = ps->lookups;
    ps->lookups = l->next;
    if (ps->dht)
      (void)yz_dht_cancel(ps->dht, l->op);
    free(l);
  }
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++) {
    struct topic *t = ps->topics[i];
    if (t && t->provide_op && ps->dht)
      (void)yz_dht_cancel(ps->dht, t->provide_op);
    if (t)
      t->provide_op = 0;
  }
  while (ps->pending)
    pending_finish(ps, ps->pending, YZ_E_CLOSED);
  ps->stopping = true;
  dq_clear(ps);
  uv_timer_stop(&ps->timer);
  /* from the loop: never the stop callback from this call */
  uv_idle_start(&ps->idle, on_idle);
}

void yz_pubsub_free(yz_pubsub *ps)
{
  if (!ps)
    return;
  yz__node_claim_release(&ps->claim);
  yz__ps_router_free(ps->r);
  dq_clear(ps);
  while (ps->lookups) {
    struct lookup *l = ps->lookups;
    ps->lookups = l->next;
    free(l);
  }
  while (ps->pending) {
    struct pending *p = ps->pending;
    ps->pending = p->next;
    free(p->data);
    free(p);
  }
  while (ps->finished) {
    struct pending *p = ps->finished;
    ps->finished = p->next;
    free(p->data);
    free(p);
  }
  while (ps->dials) {
    struct dial *d = ps->dials;
    ps->dials = d->next;
    free(d);
  }
  for (size_t i = 0; i < ps->n_recs; i++)
    free(ps->recs[i].bytes);
  free(ps->recs);
  for (size_t i = 0; ps->topics && i < ps->cfg.router.max_topics; i++)
    free(ps->topics[i]);
  free(ps->topics);
  free(ps->prot);
  sodium_memzero(ps->sk, sizeof ps->sk);
  free(ps);
}

/* ---- subscribing and publishing --------------------------------------- */

static int hash_name(const char *name, uint8_t hash[YZ_PS_TOPIC_LEN])
{
  if (!name)
    return YZ_E_INVAL;
  return yz_ps_topic_hash(hash, name, strlen(name));
}

int yz_pubsub_subscribe(yz_pubsub *ps, const char *name,
                        yz_pubsub_validator validator,
                        yz_pubsub_message_cb on_msg, void *ud)
{
  if (!ps)
    return YZ_E_INVAL;
  if (ps->stopping)
    return YZ_E_STATE;
  uint8_t h[YZ_PS_TOPIC_LEN];
  int rc = hash_name(name, h);
  if (rc)
    return rc;
  struct topic *t = topic_of(ps, h);
  bool fresh = t == NULL;
  if (fresh) {
    size_t slot = 0;
    while (slot < ps->cfg.router.max_topics && ps->topics[slot])
      slot++;
    if (slot == ps->cfg.router.max_topics)
      return YZ_E_LIMIT;
    t = calloc(1, sizeof *t);
    if (!t)
      return YZ_E_NOMEM;
    t->slot = slot;
    t->ps = ps;
    snprintf(t->name, sizeof t->name, "%s", name);
    memcpy(t->hash, h, sizeof h);
    IGNORE_RC(yz_pubsub_provider_key(t->pkey, h));
  }
  rc = yz__ps_subscribe(ps->r, h, r_validate, t, unix_ms(ps));
  if (rc) {
    if (fresh)
      free(t);
    return rc;
  }
  if (fresh) {
    ps->topics[t->slot] = t;
    ps->n_topics++;
  }
  protect_mesh(ps); /* the peers it grafted */
  t->validator = validator;
  t->on_message = on_msg;
  t->ud = ud;
  if (fresh && ps->dht) {
    /* cold start: announce, and find the others at once if too few are
     * known (docs/pubsub.md "Cold start") */
    provide(ps, t);
    if (yz__ps_mesh(ps->r, h, false, NULL, 0) < ps->cfg.router.D_lo)
      (void)discover(ps, h, 0);
    t->next_discover = node_now(ps) + ps->cfg.discover_interval_ms;
    rearm(ps);
  }
  return 0;
}

int yz_pubsub_unsubscribe(yz_pubsub *ps, const char *name)
{
  if (!ps)
    return YZ_E_INVAL;
  uint8_t h[YZ_PS_TOPIC_LEN];
  if (hash_name(name, h) != 0)
    return YZ_E_NOT_FOUND;
  struct topic *t = topic_of(ps, h);
  if (!t)
    return YZ_E_NOT_FOUND;
  IGNORE_RC(yz__ps_unsubscribe(ps->r, h, unix_ms(ps)));
  if (ps->dht) {
    if (t->provide_op)
      (void)yz_dht_cancel(ps->dht, t->provide_op);
    (void)yz_dht_unprovide(ps->dht, t->pkey);
  }
  /* queued deliveries of it are dropped at drain (its slot is empty, or
   * holds another topic) */
  ps->topics[t->slot] = NULL;
  free(t);
  ps->n_topics--;
  protect_mesh(ps);
  rearm(ps);
  return 0;
}

static int publish(yz_pubsub *ps, const char *name, uint64_t epoch,
                   const uint8_t *data, size_t len, uint32_t ttl_ms,
                   size_t *reached, uint8_t id_out[YZ_PS_ID_LEN],
                   yz_pubsub_publish_cb cb, void *arg);

int yz_pubsub_publish(yz_pubsub *ps, const char *name, const uint8_t *data,
                      size_t len, uint32_t ttl_ms, size_t *reached,
                      uint8_t id_out[YZ_PS_ID_LEN], yz_pubsub_publish_cb cb,
                      void *arg)
{
  return publish(ps, name, 0, data, len, ttl_ms, reached, id_out, cb, arg);
}

int yz_pubsub_publish_epoch(yz_pubsub *ps, const char *name, uint64_t epoch,
                            const uint8_t *data, size_t len, uint32_t ttl_ms,
                            size_t *reached, uint8_t id_out[YZ_PS_ID_LEN],
                            yz_pubsub_publish_cb cb, void *arg)
{
  if (reached)
    *reached = 0;
  if (epoch == 0)
    return YZ_E_INVAL;
  return publish(ps, name, epoch, data, len, ttl_ms, reached, id_out, cb,
                 arg);
}

const uint8_t *yz_pubsub_author(const yz_pubsub *ps)
{
  return ps ? ps->sk + YZ_IDENTITY_SEED_LEN : NULL;
}

static int publish(yz_pubsub *ps, const char *name, uint64_t epoch,
                   const uint8_t *data, size_t len, uint32_t ttl_ms,
                   size_t *reached, uint8_t id_out[YZ_PS_ID_LEN],
                   yz_pubsub_publish_cb cb, void *arg)
{
  if (reached)
    *reached = 0;
  if (!ps || (!data && len))
    return YZ_E_INVAL;
  if (ps->stopping)
    return YZ_E_STATE;
  if (len > ps->cfg.router.max_data)
    return YZ_E_INVAL;
  if (ttl_ms == 0)
    ttl_ms = ps->cfg.default_ttl_ms;
  if ((uint64_t)ttl_ms > ps->cfg.router.max_lifetime_s * 1000)
    return YZ_E_INVAL;
  yz_ps_msg m;
  memset(&m, 0, sizeof m);
  int rc = hash_name(name, m.topic);
  if (rc)
    return rc;
  if (ps->n_pending >= ps->cfg.max_pending)
    return YZ_E_LIMIT;
  uint64_t now = unix_ms(ps);
  /* seq: the Unix time in microseconds, never going back (pubsub.h) */
  uint64_t seq = unix_us(ps);
  if (seq <= ps->last_seq)
    seq = ps->last_seq + 1;
  m.seq = seq;
  m.expiry = (now + ttl_ms + 999) / 1000;
  m.epoch = epoch;
  m.data = data;
  m.data_len = len;
  const char *why = NULL;
  rc = yz_ps_msg_sign_raw(&m, ps->sk, &why);
  if (rc)
    return rc;
  uint8_t id[YZ_PS_ID_LEN];
  IGNORE_RC(yz_ps_msg_id(&m, id));
  rc = yz__ps_publish(ps->r, &m, now);
  if (rc < 0)
    return rc;
  ps->last_seq = seq;
  ps->st.published++;
  if (id_out)
    memcpy(id_out, id, sizeof id);
  if (reached)
    *reached = (size_t)rc;
  if (rc > 0) {
    /* reached some, but fewer than a mesh: look for more */
    if ((unsigned)rc < ps->cfg.router.D_lo && ps->dht && !topic_of(ps, m.topic))
      (void)discover(ps, m.topic, 0);
    return 0;
  }
  /* Nobody reached: never silently (pubsub.h). Find subscribers through
   * the DHT, send it to them, report through cb. */
  ps->st.published_unreached++;
  struct pending *p = calloc(1, sizeof *p);
  if (!p)
    return YZ_E_NOMEM;
  p->data = len ? malloc(len) : NULL;
  if (len && !p->data) {
    free(p);
    return YZ_E_NOMEM;
  }
  if (len)
    memcpy(p->data, data, len);
  p->msg = m;
  p->msg.data = p->data;
  memcpy(p->topic, m.topic, sizeof p->topic);
  snprintf(p->name, sizeof p->name, "%s", name);
  memcpy(p->mid, id, sizeof id);
  p->cb = cb;
  p->arg = arg;
  p->id = ++ps->next_pending;
  p->started = node_now(ps);
  p->deadline = p->started + ps->cfg.publish_timeout_ms;
  p->next = ps->pending;
  ps->pending = p;
  ps->n_pending++;
  if (discover(ps, m.topic, p->id) != 0) {
    /* no DHT, or it cannot look now: the outcome is "not found" */
    p->lookup_done = true;
    pending_check(ps, p);
  }
  rearm(ps);
  return 0;
}

/* ---- inspection ------------------------------------------------------- */

void yz_pubsub_get_stats(const yz_pubsub *ps, yz_pubsub_stats *out)
{
  *out = ps->st;
  out->router = *yz__ps_stats_get(ps->r);
  size_t topics = 0, peers = 0;
  yz__ps_sizes(ps->r, &out->seen, &out->mcache, NULL, &topics, &peers);
  out->peers = peers;
  out->topics = ps->n_topics;
  out->pending_publishes = ps->n_pending;
  out->records = ps->n_recs;
  out->dials_in_flight = ps->n_dials;
  out->mesh_peers = 0;
  out->mesh_min = 0;
  out->mesh_max = 0;
  bool first = true;
  for (size_t i = 0; i < ps->cfg.router.max_topics; i++) {
    if (!ps->topics[i])
      continue;
    size_t m = yz__ps_mesh(ps->r, ps->topics[i]->hash, false, NULL, 0);
    out->mesh_peers += m;
    if (first || m < out->mesh_min)
      out->mesh_min = m;
    if (first || m > out->mesh_max)
      out->mesh_max = m;
    first = false;
  }
}

size_t yz_pubsub_mesh_size(const yz_pubsub *ps, const char *name)
{
  uint8_t h[YZ_PS_TOPIC_LEN];
  if (!ps || hash_name(name, h) != 0)
    return 0;
  return yz__ps_mesh(ps->r, h, false, NULL, 0);
}

double yz_pubsub_peer_score(const yz_pubsub *ps, const yz_node_id *peer)
{
  return ps && peer ? yz__ps_score(ps->r, peer, unix_ms(ps)) : 0;
}

uint64_t yz_pubsub_last_seq(const yz_pubsub *ps)
{
  return ps ? ps->last_seq : 0;
}
