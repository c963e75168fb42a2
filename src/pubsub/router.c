/*
 * The PubSub router core (docs/pubsub.md): gossipsub v1.1's mesh, gossip
 * and scoring rules over the wire format of src/wire/pubsub.c, sans-I/O
 * (pubsub/router.h).
 *
 * Layout: peers live in a fixed array of max_peers slots (an index is a
 * peer for the length of one call); topics in an array of max_topics; the
 * seen-cache is a ring of IDs with a hash index; cached messages are
 * reference-counted objects held by the message cache and by the outboxes
 * of the peers they are queued for; each peer's outbox is flushed into
 * RPCs at the end of the call that filled it. Every table has its bound
 * from the config, and what does not fit is dropped and counted.
 *
 * The hash indexes use SipHash (crypto_shorthash) keyed with random bytes
 * from the caller: message IDs come from the network, and a fixed hash
 * would let a peer pick IDs that collide into one long probe chain.
 */
#include "pubsub/router.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"

enum { YZ__PS_MESH_MAX = 256 }; /* D_hi + D_out at most */

/* ---- a hash index of 32-byte keys -------------------------------------- */

/* Values are pointers to structs whose first member is the 32-byte key. */
struct idx {
  void **t;
  size_t mask, n;
  uint8_t key[crypto_shorthash_KEYBYTES];
};

static bool idx_init(struct idx *ix, size_t max, const uint8_t *key)
{
  size_t cap = 16;
  while (cap < 2 * max) /* at most half full: short probe chains */
    cap <<= 1;
  ix->t = calloc(cap, sizeof *ix->t);
  ix->mask = cap - 1;
  ix->n = 0;
  memcpy(ix->key, key, sizeof ix->key);
  return ix->t != NULL;
}

static size_t idx_hash(const struct idx *ix, const uint8_t *k)
{
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, k, 32, ix->key);
  uint64_t v;
  memcpy(&v, h, sizeof v);
  return (size_t)v & ix->mask;
}

static size_t idx_pos(const struct idx *ix, const uint8_t *k)
{
  for (size_t i = idx_hash(ix, k);; i = (i + 1) & ix->mask) {
    if (!ix->t[i] || memcmp(ix->t[i], k, 32) == 0)
      return i;
  }
}

static void *idx_get(const struct idx *ix, const uint8_t *k)
{
  return ix->t[idx_pos(ix, k)];
}

/* Callers keep n under max, so a free slot always exists. */
static void idx_put(struct idx *ix, void *v)
{
  size_t i = idx_pos(ix, v);
  if (!ix->t[i])
    ix->n++;
  ix->t[i] = v;
}

static void idx_del(struct idx *ix, const uint8_t *k)
{
  size_t i = idx_pos(ix, k);
  if (!ix->t[i])
    return;
  ix->t[i] = NULL;
  ix->n--;
  /* Backward-shift deletion: move up entries whose probe chain crossed
   * the hole, so lookups never stop early. */
  for (size_t j = (i + 1) & ix->mask; ix->t[j]; j = (j + 1) & ix->mask) {
    size_t h = idx_hash(ix, ix->t[j]);
    bool stay = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stay) {
      ix->t[i] = ix->t[j];
      ix->t[j] = NULL;
      i = j;
    }
  }
}

/* ---- state ----------------------------------------------------------------
 */

/* A message held by the cache and by outboxes. */
struct pmsg {
  uint8_t id[YZ_PS_ID_LEN]; /* first: the index key */
  unsigned refs;
  bool cached;
  uint64_t first_ms; /* when it was first accepted (P3's window) */
  yz_ps_msg m;
  struct {
    uint32_t slot;
    uint8_t count;
  } served[8]; /* IWANT answers per peer (gossip_retransmission) */
  uint8_t n_served;
  uint8_t data[];
};

struct seen {
  uint8_t id[YZ_PS_ID_LEN];
  uint64_t exp_ms;
};

struct promise {
  uint8_t id[YZ_PS_ID_LEN];
  yz_node_id peer;
  uint64_t deadline_ms;
};

struct ptopic {
  uint8_t topic[YZ_PS_TOPIC_LEN];
  bool subscribed, in_mesh;
  uint64_t graft_ms;
  double first, invalid;        /* P2, P4 counters */
  double mesh_deliv, mesh_fail; /* P3, P3b */
};

struct tlist {
  uint8_t (*v)[32];
  size_t n, cap;
};

struct qprune {
  uint8_t topic[32];
  uint64_t backoff;
  bool px;
};

struct qihave {
  uint8_t topic[32];
  uint8_t id[32];
};

struct outbox {
  struct tlist sub, unsub, graft, iwant, idontwant;
  struct qprune *prune;
  size_t n_prune, cap_prune;
  struct qihave *ihave;
  size_t n_ihave, cap_ihave;
  struct pmsg **msgs;
  size_t n_msgs, cap_msgs;
  bool dirty;
};

struct peer {
  bool used, outbound;
  yz_node_id id;
  yz__ps_ip ip;
  uint8_t *record;
  size_t record_len;
  struct ptopic *topics;
  size_t n_topics, cap_topics;
  double behaviour;
  double tokens;
  uint64_t tokens_ms;
  unsigned ihave_rpcs; /* this heartbeat */
  size_t iasked;       /* IDs asked this heartbeat */
  uint8_t (*dontwant)[32];
  size_t n_dontwant, dontwant_next;
  struct outbox ob;
};

struct backoff {
  yz_node_id peer;
  uint64_t until_ms;
};

struct topic {
  bool used, subscribed;
  uint8_t id[YZ_PS_TOPIC_LEN];
  yz__ps_validator validator;
  void *vud;
  uint32_t *mesh;
  size_t n_mesh;
  uint32_t *fanout;
  size_t n_fanout;
  uint64_t fanout_pub_ms;
  struct backoff *backoff;
  size_t n_backoff, cap_backoff;
  unsigned over_d; /* heartbeats in a row the mesh was over D */
};

struct window {
  struct pmsg **m;
  size_t n, cap;
};

/* The penalties of a peer that left (gossipsub's score retention): a
 * peer cannot shed a bad score by reconnecting. */
struct invalid_in {
  uint8_t topic[YZ_PS_TOPIC_LEN];
  double invalid;
};

struct retained {
  bool used;
  yz_node_id id;
  uint64_t until_ms;
  double behaviour;
  struct invalid_in *inv;
  size_t n_inv;
};

struct yz__ps_router {
  yz_node_id self;
  yz__ps_config cfg;
  yz__ps_callbacks cb;
  yz__ps_stats st;
  struct peer *peers;
  struct topic *topics;
  struct seen *seen;
  size_t seen_head, seen_n;
  struct idx seen_ix;
  struct window *win; /* win[0] newest */
  struct idx mc_ix;
  struct promise *prom;
  size_t n_prom;
  struct idx prom_ix;
  yz_ps_rpc *rpc;    /* the flush's scratch */
  uint32_t *scratch; /* max_peers slot indices */
  /* During a heartbeat, each peer's score computed once after the decay
   * (a score walks the peer's topics and the colocated peers: once per
   * peer, not once per candidate list). */
  double *scores;
  bool in_heartbeat;
  uint64_t ticks; /* heartbeats so far */
  uint64_t last_hb_ms; /* the last heartbeat (creation before the first) */
  struct retained *ret;
};

/* ---- config ------------------------------------------------------------- */

void yz__ps_config_default(yz__ps_config *c)
{
  memset(c, 0, sizeof *c);
  c->D = 6, c->D_lo = 5, c->D_hi = 12, c->D_lazy = 6, c->D_out = 2;
  c->D_score = 4;
  c->fanout_ttl_ms = 60000;
  c->prune_backoff_s = 60;
  c->unsub_backoff_s = 10;
  c->max_backoff_s = 3600;
  c->trim_after = 3;
  c->trim_backoff_s = 10;
  c->mcache_len = 5;
  c->mcache_gossip = 3;
  c->mcache_max = 4096;
  c->seen_max = 65536;
  c->max_lifetime_s = YZ_PS_MAX_LIFETIME;
  c->max_data = YZ_PS_MAX_DATA;
  c->max_topics = 256;
  c->max_peers = 1024;
  c->max_peer_topics = 128;
  c->max_ihave_msgs = 10;
  c->max_ihave_len = 5000;
  c->gossip_retransmission = 3;
  c->iwant_followup_ms = 3000;
  c->max_promises = 4096;
  c->idontwant_min_len = 1024;
  c->max_dontwant = 512;
  c->msg_rate_per_s = 100;
  c->msg_burst = 200;
  c->max_px = 16;
  c->max_outbox = 256;
  c->retain_score_ms = 3600 * 1000;
  c->max_retained = 1024;
  c->flood_publish = true;
  yz__ps_score_params *s = &c->score;
  s->topic_weight = 1;
  s->time_in_mesh_weight = 0.01;
  s->time_in_mesh_quantum_ms = 1000;
  s->time_in_mesh_cap = 3600;
  s->first_delivery_weight = 1;
  s->first_delivery_decay = 0.5;
  s->first_delivery_cap = 100;
  s->mesh_deliveries_weight = 0;
  s->mesh_deliveries_threshold = 1;
  s->mesh_deliveries_cap = 10;
  s->mesh_deliveries_decay = 0.5;
  s->mesh_deliveries_activation_ms = 5000;
  s->mesh_deliveries_window_ms = 10;
  s->mesh_failure_weight = 0;
  s->mesh_failure_decay = 0.5;
  s->invalid_weight = -1;
  s->invalid_decay = 0.9;
  s->ip_colocation_weight = -10;
  s->ip_colocation_threshold = 1;
  s->ip_loopback_exempt = true;
  s->behaviour_weight = -10;
  s->behaviour_threshold = 0;
  s->behaviour_decay = 0.9;
  s->decay_to_zero = 0.01;
  s->gossip_threshold = -10;
  s->publish_threshold = -50;
  s->graylist_threshold = -80;
  s->accept_px_threshold = 10;
  s->opportunistic_graft_threshold = 1;
  c->opportunistic_graft_ticks = 60;
  c->opportunistic_graft_peers = 2;
  c->limits = (yz_ps_limits){YZ_PS_MAX_TOPICS, YZ_PS_MAX_IDS,  YZ_PS_MAX_MSGS,
                             YZ_PS_MAX_PX,     YZ_PS_MAX_DATA, YZ_PS_MAX_RPC};
}

static bool config_ok(const yz__ps_config *c)
{
  const yz__ps_score_params *s = &c->score;
  const yz_ps_limits *l = &c->limits;
  return c->D_lo >= 1 && c->D_lo <= c->D && c->D <= c->D_hi &&
         c->D_out < c->D_lo && c->D_out <= c->D / 2 &&
         c->D_hi + c->D_out <= YZ__PS_MESH_MAX && c->D_score <= c->D &&
         c->mcache_gossip >= 1 && c->mcache_gossip <= c->mcache_len &&
         c->mcache_max >= 1 && c->seen_max >= 1 && c->max_lifetime_s >= 1 &&
         c->max_topics >= 1 && c->max_peers >= 1 &&
         c->max_peers < UINT32_MAX && c->max_peer_topics >= 1 &&
         c->max_promises >= 1 && c->max_dontwant >= 1 && c->msg_burst >= 1 &&
         c->max_outbox >= 1 && c->max_retained >= 1 &&
         s->time_in_mesh_quantum_ms >= 1 && s->mesh_deliveries_weight <= 0 &&
         s->mesh_failure_weight <= 0 && s->invalid_weight <= 0 &&
         s->gossip_threshold <= 0 &&
         s->publish_threshold <= s->gossip_threshold &&
         s->graylist_threshold <= s->publish_threshold && l->max_topics >= 1 &&
         l->max_topics <= YZ_PS_TOPICS_CAP && c->max_topics <= l->max_topics &&
         l->max_ids >= 1 && l->max_ids <= YZ_PS_IDS_CAP &&
         c->max_ihave_len <= l->max_ids && l->max_messages >= 1 &&
         l->max_messages <= YZ_PS_MSGS_CAP && c->max_px <= l->max_px &&
         l->max_px <= YZ_PS_PX_CAP && c->max_data <= l->max_data &&
         l->max_data <= YZ_PS_DATA_CAP && l->max_rpc_len <= YZ_PS_RPC_CAP &&
         c->max_data + 512 <= l->max_rpc_len;
}

/* ---- helpers --------------------------------------------------------------
 */

static uint32_t rand_below(yz__ps_router *r, uint32_t n)
{
  uint32_t v;
  r->cb.random(r->cb.ud, (uint8_t *)&v, sizeof v);
  return n ? v % n : 0;
}

static void shuffle(yz__ps_router *r, uint32_t *a, size_t n)
{
  for (size_t i = n; i > 1; i--) {
    size_t j = rand_below(r, (uint32_t)i);
    uint32_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

static struct peer *peer_find(const yz__ps_router *r, const yz_node_id *id,
                              uint32_t *slot)
{
  for (size_t i = 0; i < r->cfg.max_peers; i++) {
    struct peer *p = &r->peers[i];
    if (p->used && memcmp(p->id.bytes, id->bytes, YZ_NODE_ID_LEN) == 0) {
      if (slot)
        *slot = (uint32_t)i;
      return p;
    }
  }
  return NULL;
}

static struct topic *topic_find(const yz__ps_router *r, const uint8_t *id)
{
  for (size_t i = 0; i < r->cfg.max_topics; i++) {
    struct topic *t = &r->topics[i];
    if (t->used && memcmp(t->id, id, YZ_PS_TOPIC_LEN) == 0)
      return t;
  }
  return NULL;
}

static struct ptopic *ptopic_find(const struct peer *p, const uint8_t *topic)
{
  for (size_t i = 0; i < p->n_topics; i++)
    if (memcmp(p->topics[i].topic, topic, YZ_PS_TOPIC_LEN) == 0)
      return &p->topics[i];
  return NULL;
}

/* The peer's entry for topic, made if missing; NULL when its table is
 * full (max_peer_topics) or no memory. */
static struct ptopic *ptopic_get(yz__ps_router *r, struct peer *p,
                                 const uint8_t *topic)
{
  struct ptopic *pt = ptopic_find(p, topic);
  if (pt)
    return pt;
  if (p->n_topics >= r->cfg.max_peer_topics) {
    r->st.peer_topics_full++;
    return NULL;
  }
  if (p->n_topics == p->cap_topics) {
    size_t cap = p->cap_topics ? 2 * p->cap_topics : 4;
    if (cap > r->cfg.max_peer_topics)
      cap = r->cfg.max_peer_topics;
    struct ptopic *nt = realloc(p->topics, cap * sizeof *nt);
    if (!nt)
      return NULL;
    p->topics = nt, p->cap_topics = cap;
  }
  pt = &p->topics[p->n_topics++];
  memset(pt, 0, sizeof *pt);
  memcpy(pt->topic, topic, YZ_PS_TOPIC_LEN);
  return pt;
}

static bool peer_subscribed(const struct peer *p, const uint8_t *topic)
{
  const struct ptopic *pt = ptopic_find(p, topic);
  return pt && pt->subscribed;
}

static bool ip_counts(const yz__ps_router *r, const yz__ps_ip *ip)
{
  if (ip->family != 4 && ip->family != 6)
    return false;
  if (!r->cfg.score.ip_loopback_exempt)
    return true;
  if (ip->family == 4)
    return ip->addr[0] != 127;
  static const uint8_t lo6[16] = {[15] = 1};
  return memcmp(ip->addr, lo6, 16) != 0;
}

static bool same_ip(const yz__ps_ip *a, const yz__ps_ip *b)
{
  return a->family == b->family &&
         memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static double dmin(double a, double b)
{
  return a < b ? a : b;
}

/* P3's deficit of a mesh peer: 0 unless P3 is on and the peer has been
 * in the mesh for the activation time. */
static double mesh_deficit(const yz__ps_score_params *s,
                           const struct ptopic *pt, uint64_t now)
{
  if (!pt->in_mesh || s->mesh_deliveries_weight == 0 ||
      now < pt->graft_ms + s->mesh_deliveries_activation_ms ||
      pt->mesh_deliv >= s->mesh_deliveries_threshold)
    return 0;
  return s->mesh_deliveries_threshold - pt->mesh_deliv;
}

/* The score of docs/pubsub.md "Scoring". */
static double score_of(const yz__ps_router *r, const struct peer *p,
                       uint64_t now)
{
  const yz__ps_score_params *s = &r->cfg.score;
  double total = 0;
  for (size_t i = 0; i < p->n_topics; i++) {
    const struct ptopic *pt = &p->topics[i];
    const struct topic *t = topic_find(r, pt->topic);
    if (!t || !t->subscribed) /* only topics we score: ours */
      continue;
    double ts = 0;
    if (pt->in_mesh) {
      double q = (double)(now > pt->graft_ms ? now - pt->graft_ms : 0) /
                 s->time_in_mesh_quantum_ms;
      ts += s->time_in_mesh_weight * dmin(q, s->time_in_mesh_cap);
    }
    ts += s->first_delivery_weight * dmin(pt->first, s->first_delivery_cap);
    double deficit = mesh_deficit(s, pt, now);
    ts += s->mesh_deliveries_weight * deficit * deficit;
    ts += s->mesh_failure_weight * pt->mesh_fail;
    ts += s->invalid_weight * pt->invalid * pt->invalid;
    total += s->topic_weight * ts;
  }
  if (ip_counts(r, &p->ip)) {
    unsigned same = 0;
    for (size_t i = 0; i < r->cfg.max_peers; i++)
      if (r->peers[i].used && same_ip(&r->peers[i].ip, &p->ip))
        same++;
    if (same > s->ip_colocation_threshold) {
      double x = same - s->ip_colocation_threshold;
      total += s->ip_colocation_weight * x * x;
    }
  }
  double b = p->behaviour - s->behaviour_threshold;
  if (b > 0)
    total += s->behaviour_weight * b * b;
  return total;
}

static double score_at(const yz__ps_router *r, uint32_t slot, uint64_t now)
{
  return r->in_heartbeat ? r->scores[slot] : score_of(r, &r->peers[slot], now);
}

/* ---- messages -------------------------------------------------------------
 */

static struct pmsg *pmsg_new(const yz_ps_msg *m, const uint8_t *id)
{
  struct pmsg *pm = malloc(sizeof *pm + m->data_len);
  if (!pm)
    return NULL;
  memset(pm, 0, sizeof *pm);
  memcpy(pm->id, id, YZ_PS_ID_LEN);
  pm->refs = 1;
  pm->m = *m;
  if (m->data_len)
    memcpy(pm->data, m->data, m->data_len);
  pm->m.data = pm->data;
  return pm;
}

static void pmsg_unref(struct pmsg *pm)
{
  if (pm && --pm->refs == 0)
    free(pm);
}

static void seen_drop_oldest(yz__ps_router *r)
{
  idx_del(&r->seen_ix, r->seen[r->seen_head].id);
  r->seen_head = (r->seen_head + 1) % r->cfg.seen_max;
  r->seen_n--;
}

static void seen_add(yz__ps_router *r, const uint8_t *id, uint64_t now)
{
  if (idx_get(&r->seen_ix, id))
    return;
  if (r->seen_n == r->cfg.seen_max) {
    seen_drop_oldest(r);
    r->st.seen_evicted++;
  }
  struct seen *s = &r->seen[(r->seen_head + r->seen_n) % r->cfg.seen_max];
  memcpy(s->id, id, YZ_PS_ID_LEN);
  /* At least the longest lifetime (docs/protocol.md "Receiving a
   * message"): a message still valid is still remembered. */
  s->exp_ms = now + r->cfg.max_lifetime_s * 1000;
  r->seen_n++;
  idx_put(&r->seen_ix, s);
}

/* Into the newest window of the message cache (a reference). */
static void mcache_put(yz__ps_router *r, struct pmsg *pm)
{
  if (pm->cached || idx_get(&r->mc_ix, pm->id))
    return;
  if (r->mc_ix.n >= r->cfg.mcache_max) {
    r->st.mcache_full++;
    return;
  }
  struct window *w = &r->win[0];
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 16;
    struct pmsg **nm = realloc(w->m, cap * sizeof *nm);
    if (!nm)
      return;
    w->m = nm, w->cap = cap;
  }
  w->m[w->n++] = pm;
  pm->refs++;
  pm->cached = true;
  idx_put(&r->mc_ix, pm);
}

static void mcache_shift(yz__ps_router *r)
{
  unsigned L = r->cfg.mcache_len;
  struct window last = r->win[L - 1];
  for (size_t i = 0; i < last.n; i++) {
    idx_del(&r->mc_ix, last.m[i]->id);
    last.m[i]->cached = false;
    pmsg_unref(last.m[i]);
  }
  memmove(&r->win[1], &r->win[0], (L - 1) * sizeof r->win[0]);
  r->win[0] = last;
  r->win[0].n = 0;
}

/* ---- outboxes
 * --------------------------------------------------------------- */

static bool grow(void **v, size_t *cap, size_t elem, size_t max)
{
  size_t c = *cap ? 2 * *cap : 8;
  if (c > max)
    c = max;
  if (c <= *cap)
    return false;
  void *nv = realloc(*v, c * elem);
  if (!nv)
    return false;
  *v = nv, *cap = c;
  return true;
}

static bool tl_add(struct tlist *l, const uint8_t *item, size_t max)
{
  if (l->n >= max ||
      (l->n == l->cap && !grow((void **)&l->v, &l->cap, 32, max)))
    return false;
  memcpy(l->v[l->n++], item, 32);
  return true;
}

static struct outbox *ob_of(yz__ps_router *r, uint32_t slot)
{
  struct outbox *ob = &r->peers[slot].ob;
  ob->dirty = true;
  return ob;
}

static void q_sub(yz__ps_router *r, uint32_t slot, const uint8_t *t, bool on)
{
  struct outbox *ob = ob_of(r, slot);
  tl_add(on ? &ob->sub : &ob->unsub, t, r->cfg.limits.max_topics);
}

static void q_graft(yz__ps_router *r, uint32_t slot, const uint8_t *t)
{
  tl_add(&ob_of(r, slot)->graft, t, r->cfg.limits.max_topics);
}

static void q_prune(yz__ps_router *r, uint32_t slot, const uint8_t *t,
                    uint64_t backoff, bool px)
{
  struct outbox *ob = ob_of(r, slot);
  if (ob->n_prune >= r->cfg.limits.max_topics ||
      (ob->n_prune == ob->cap_prune &&
       !grow((void **)&ob->prune, &ob->cap_prune, sizeof *ob->prune,
             r->cfg.limits.max_topics)))
    return;
  struct qprune *q = &ob->prune[ob->n_prune++];
  memcpy(q->topic, t, 32);
  q->backoff = backoff;
  q->px = px;
}

static void q_ihave(yz__ps_router *r, uint32_t slot, const uint8_t *t,
                    const uint8_t *id)
{
  struct outbox *ob = ob_of(r, slot);
  if (ob->n_ihave >= r->cfg.max_ihave_len ||
      (ob->n_ihave == ob->cap_ihave &&
       !grow((void **)&ob->ihave, &ob->cap_ihave, sizeof *ob->ihave,
             r->cfg.max_ihave_len)))
    return;
  memcpy(ob->ihave[ob->n_ihave].topic, t, 32);
  memcpy(ob->ihave[ob->n_ihave++].id, id, 32);
}

static bool dontwant_has(const struct peer *p, const uint8_t *id)
{
  for (size_t i = 0; i < p->n_dontwant; i++)
    if (memcmp(p->dontwant[i], id, 32) == 0)
      return true;
  return false;
}

/* Queue a message for a peer; false if not queued. */
static bool q_msg(yz__ps_router *r, uint32_t slot, struct pmsg *pm)
{
  struct peer *p = &r->peers[slot];
  if (dontwant_has(p, pm->id)) {
    r->st.dontwant_skipped++;
    return false;
  }
  struct outbox *ob = ob_of(r, slot);
  for (size_t i = 0; i < ob->n_msgs; i++)
    if (ob->msgs[i] == pm)
      return true;
  if (ob->n_msgs >= r->cfg.max_outbox ||
      (ob->n_msgs == ob->cap_msgs &&
       !grow((void **)&ob->msgs, &ob->cap_msgs, sizeof *ob->msgs,
             r->cfg.max_outbox))) {
    r->st.outbox_full++;
    return false;
  }
  ob->msgs[ob->n_msgs++] = pm;
  pm->refs++;
  return true;
}

static int cmp32(const void *a, const void *b)
{
  return memcmp(a, b, 32);
}

static int cmp64(const void *a, const void *b)
{
  return memcmp(a, b, 64);
}

/* Sorted and without repeats: a set as the wire wants it. */
static yz_ps_list tl_set(struct tlist *l)
{
  if (l->n > 1) {
    qsort(l->v, l->n, 32, cmp32);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
      if (memcmp(l->v[i], l->v[k - 1], 32) != 0)
        memcpy(l->v[k++], l->v[i], 32);
    l->n = k;
  }
  return (yz_ps_list){l->n ? l->v[0] : NULL, l->n, 0};
}

static void send_rpc(yz__ps_router *r, struct peer *p)
{
  r->cb.send(r->cb.ud, &p->id, r->rpc);
  r->st.sent_rpcs++;
}

static void flush_peer(yz__ps_router *r, uint32_t slot, uint64_t now)
{
  struct peer *p = &r->peers[slot];
  struct outbox *ob = &p->ob;
  yz_ps_rpc *rpc = r->rpc;
  yz_ps_rpc_init(rpc);
  rpc->subscribe = tl_set(&ob->sub);
  rpc->unsubscribe = tl_set(&ob->unsub);
  rpc->graft = tl_set(&ob->graft);
  rpc->iwant = tl_set(&ob->iwant);
  rpc->idontwant = tl_set(&ob->idontwant);
  /* PRUNEs by topic, one per topic; peer exchange from the subscribers
   * of the topic we know, with a record and a score of at least 0. */
  if (ob->n_prune > 1)
    qsort(ob->prune, ob->n_prune, sizeof *ob->prune, cmp32);
  size_t px_used = 0;
  for (size_t i = 0; i < ob->n_prune; i++) {
    if (rpc->n_prune && memcmp(rpc->prune[rpc->n_prune - 1].topic,
                               ob->prune[i].topic, 32) == 0)
      continue;
    yz_ps_prune *pr = &rpc->prune[rpc->n_prune++];
    pr->topic = ob->prune[i].topic;
    pr->backoff = ob->prune[i].backoff;
    pr->peers = &rpc->px[px_used];
    for (size_t j = 0;
         ob->prune[i].px && j < r->cfg.max_peers &&
         pr->n_peers < r->cfg.max_px && px_used < YZ_PS_PX_TOTAL_CAP;
         j++) {
      struct peer *q = &r->peers[j];
      if (j == slot || !q->used || !q->record ||
          !peer_subscribed(q, pr->topic) || score_at(r, (uint32_t)j, now) < 0)
        continue;
      rpc->px[px_used++] = (yz_ps_bytes){q->record, q->record_len};
      pr->n_peers++;
    }
    if (!pr->n_peers)
      pr->peers = NULL;
  }
  /* IHAVE: (topic, ID) pairs sorted, one entry per topic; its IDs are the
   * pairs' second halves, 64 bytes apart. */
  if (ob->n_ihave > 1)
    qsort(ob->ihave, ob->n_ihave, sizeof *ob->ihave, cmp64);
  for (size_t i = 0; i < ob->n_ihave;) {
    size_t j = i + 1, k = 1;
    yz_ps_ihave *h = &rpc->ihave[rpc->n_ihave++];
    h->topic = ob->ihave[i].topic;
    /* Compact repeats so the IDs stay strictly increasing. */
    for (; j < ob->n_ihave && memcmp(ob->ihave[j].topic, h->topic, 32) == 0;
         j++) {
      if (memcmp(ob->ihave[j].id, ob->ihave[i + k - 1].id, 32) != 0)
        ob->ihave[i + k++] = ob->ihave[j];
    }
    h->ids = (yz_ps_list){ob->ihave[i].id, k, sizeof *ob->ihave};
    i = j;
  }
  bool control = rpc->subscribe.n || rpc->unsubscribe.n || rpc->graft.n ||
                 rpc->iwant.n || rpc->idontwant.n || rpc->n_prune ||
                 rpc->n_ihave;
  /* Messages ride along within the wire limits; the rest in more RPCs. */
  size_t budget = r->cfg.limits.max_rpc_len / 2, used = 0;
  for (size_t i = 0; i < ob->n_msgs; i++) {
    size_t est = ob->msgs[i]->m.data_len + 200;
    if (rpc->n_publish == r->cfg.limits.max_messages ||
        (rpc->n_publish && used + est > budget)) {
      send_rpc(r, p);
      yz_ps_rpc_init(rpc);
      control = false;
      used = 0;
    }
    rpc->publish[rpc->n_publish++] = ob->msgs[i]->m;
    used += est;
  }
  if (control || rpc->n_publish)
    send_rpc(r, p);
  for (size_t i = 0; i < ob->n_msgs; i++)
    pmsg_unref(ob->msgs[i]);
  ob->sub.n = ob->unsub.n = ob->graft.n = ob->iwant.n = ob->idontwant.n = 0;
  ob->n_prune = ob->n_ihave = ob->n_msgs = 0;
  ob->dirty = false;
}

static void flush(yz__ps_router *r, uint64_t now)
{
  for (uint32_t i = 0; i < r->cfg.max_peers; i++)
    if (r->peers[i].used && r->peers[i].ob.dirty)
      flush_peer(r, i, now);
}

/* ---- meshes and backoffs
 * ---------------------------------------------------- */

static bool in_list(const uint32_t *l, size_t n, uint32_t slot)
{
  for (size_t i = 0; i < n; i++)
    if (l[i] == slot)
      return true;
  return false;
}

static void list_del(uint32_t *l, size_t *n, uint32_t slot)
{
  for (size_t i = 0; i < *n; i++) {
    if (l[i] == slot) {
      l[i] = l[--*n];
      return;
    }
  }
}

static void mesh_add(yz__ps_router *r, struct topic *t, uint32_t slot,
                     uint64_t now)
{
  if (in_list(t->mesh, t->n_mesh, slot) ||
      t->n_mesh >= r->cfg.D_hi + r->cfg.D_out)
    return;
  struct ptopic *pt = ptopic_get(r, &r->peers[slot], t->id);
  if (!pt)
    return; /* a peer we cannot score does not enter a mesh */
  t->mesh[t->n_mesh++] = slot;
  pt->in_mesh = true;
  pt->subscribed = true;
  pt->graft_ms = now;
}

static void mesh_del(yz__ps_router *r, struct topic *t, uint32_t slot,
                     uint64_t now)
{
  list_del(t->mesh, &t->n_mesh, slot);
  struct ptopic *pt = ptopic_find(&r->peers[slot], t->id);
  if (pt) {
    /* P3b: leaving with a deficit is remembered. */
    double d = mesh_deficit(&r->cfg.score, pt, now);
    pt->mesh_fail += d * d;
    pt->in_mesh = false;
  }
}

static struct backoff *backoff_find(const struct topic *t,
                                    const yz_node_id *id)
{
  for (size_t i = 0; i < t->n_backoff; i++)
    if (memcmp(t->backoff[i].peer.bytes, id->bytes, YZ_NODE_ID_LEN) == 0)
      return &t->backoff[i];
  return NULL;
}

static void backoff_set(yz__ps_router *r, struct topic *t,
                        const yz_node_id *id, uint64_t secs, uint64_t now)
{
  if (secs > r->cfg.max_backoff_s)
    secs = r->cfg.max_backoff_s;
  uint64_t until = now + secs * 1000;
  struct backoff *b = backoff_find(t, id);
  if (!b) {
    /* Bounded by max_peers: when full, the entry ending first goes. */
    if (t->n_backoff == r->cfg.max_peers) {
      size_t k = 0;
      for (size_t i = 1; i < t->n_backoff; i++)
        if (t->backoff[i].until_ms < t->backoff[k].until_ms)
          k = i;
      b = &t->backoff[k];
    } else {
      if (t->n_backoff == t->cap_backoff &&
          !grow((void **)&t->backoff, &t->cap_backoff, sizeof *t->backoff,
                r->cfg.max_peers))
        return;
      b = &t->backoff[t->n_backoff++];
    }
    b->peer = *id;
    b->until_ms = 0;
  }
  if (until > b->until_ms)
    b->until_ms = until;
}

static bool backoff_on(const struct topic *t, const yz_node_id *id,
                       uint64_t now)
{
  const struct backoff *b = backoff_find(t, id);
  return b && b->until_ms > now;
}

static void prune_peer(yz__ps_router *r, struct topic *t, uint32_t slot,
                       uint64_t backoff_s, bool px, uint64_t now)
{
  mesh_del(r, t, slot, now);
  backoff_set(r, t, &r->peers[slot].id, backoff_s, now);
  q_prune(r, slot, t->id, backoff_s, px);
}

/* Peers subscribed to t, outside its mesh and fanout, scored at least
 * min, and for a GRAFT (graft) not in backoff: shuffled into r->scratch;
 * their number. */
static size_t candidates(yz__ps_router *r, const struct topic *t, double min,
                         bool outbound_only, bool graft, uint64_t now)
{
  size_t n = 0;
  for (uint32_t i = 0; i < r->cfg.max_peers; i++) {
    struct peer *p = &r->peers[i];
    if (!p->used || (outbound_only && !p->outbound) ||
        !peer_subscribed(p, t->id) || in_list(t->mesh, t->n_mesh, i) ||
        in_list(t->fanout, t->n_fanout, i) ||
        (graft && backoff_on(t, &p->id, now)) || score_at(r, i, now) < min)
      continue;
    r->scratch[n++] = i;
  }
  shuffle(r, r->scratch, n);
  return n;
}

static void graft_some(yz__ps_router *r, struct topic *t, size_t want,
                       bool outbound_only, uint64_t now)
{
  size_t n = candidates(r, t, 0, outbound_only, true, now);
  for (size_t i = 0; i < n && want > 0 && t->n_mesh < r->cfg.D_hi; i++) {
    mesh_add(r, t, r->scratch[i], now);
    if (in_list(t->mesh, t->n_mesh, r->scratch[i])) {
      q_graft(r, r->scratch[i], t->id);
      want--;
    }
  }
}

static struct topic *topic_new(yz__ps_router *r, const uint8_t *id)
{
  for (size_t i = 0; i < r->cfg.max_topics; i++) {
    struct topic *t = &r->topics[i];
    if (t->used)
      continue;
    memset(t, 0, sizeof *t);
    /* Room over D_hi for outbound peers' GRAFTs (docs/pubsub.md). */
    t->mesh = calloc(r->cfg.D_hi + r->cfg.D_out, sizeof *t->mesh);
    t->fanout = calloc(r->cfg.D, sizeof *t->fanout);
    if (!t->mesh || !t->fanout) {
      free(t->mesh);
      free(t->fanout);
      return NULL;
    }
    t->used = true;
    memcpy(t->id, id, YZ_PS_TOPIC_LEN);
    return t;
  }
  return NULL;
}

static void topic_free(struct topic *t)
{
  free(t->mesh);
  free(t->fanout);
  free(t->backoff);
  memset(t, 0, sizeof *t);
}

/* ---- the router ------------------------------------------------------------
 */

yz__ps_router *yz__ps_router_new(const yz_node_id *self,
                                 const yz__ps_config *cfg,
                                 const yz__ps_callbacks *cb, uint64_t now_ms)
{
  yz__ps_config c;
  if (cfg)
    c = *cfg;
  else
    yz__ps_config_default(&c);
  if (!self || !cb || !cb->send || !cb->random || !config_ok(&c) ||
      sodium_init() < 0)
    return NULL;
  yz__ps_router *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->self = *self;
  r->cfg = c;
  r->cb = *cb;
  uint8_t keys[3][crypto_shorthash_KEYBYTES];
  cb->random(cb->ud, (uint8_t *)keys, sizeof keys);
  r->peers = calloc(c.max_peers, sizeof *r->peers);
  r->topics = calloc(c.max_topics, sizeof *r->topics);
  r->seen = calloc(c.seen_max, sizeof *r->seen);
  r->win = calloc(c.mcache_len, sizeof *r->win);
  r->prom = calloc(c.max_promises, sizeof *r->prom);
  r->rpc = malloc(sizeof *r->rpc);
  r->scratch = calloc(c.max_peers, sizeof *r->scratch);
  r->scores = calloc(c.max_peers, sizeof *r->scores);
  r->ret = calloc(c.max_retained, sizeof *r->ret);
  bool ok = r->peers && r->topics && r->seen && r->win && r->prom && r->rpc &&
            r->scratch && r->scores && r->ret;
  ok = idx_init(&r->seen_ix, c.seen_max, keys[0]) && ok;
  ok = idx_init(&r->mc_ix, c.mcache_max, keys[1]) && ok;
  ok = idx_init(&r->prom_ix, c.max_promises, keys[2]) && ok;
  sodium_memzero(keys, sizeof keys);
  if (!ok) {
    yz__ps_router_free(r);
    return NULL;
  }
  r->last_hb_ms = now_ms;
  return r;
}

static void peer_clear(struct peer *p)
{
  struct outbox *ob = &p->ob;
  for (size_t i = 0; i < ob->n_msgs; i++)
    pmsg_unref(ob->msgs[i]);
  free(ob->sub.v), free(ob->unsub.v), free(ob->graft.v), free(ob->iwant.v);
  free(ob->idontwant.v), free(ob->prune), free(ob->ihave), free(ob->msgs);
  free(p->record);
  free(p->topics);
  free(p->dontwant);
  memset(p, 0, sizeof *p);
}

void yz__ps_router_free(yz__ps_router *r)
{
  if (!r)
    return;
  for (size_t i = 0; r->peers && i < r->cfg.max_peers; i++)
    peer_clear(&r->peers[i]);
  for (size_t i = 0; r->topics && i < r->cfg.max_topics; i++)
    topic_free(&r->topics[i]);
  for (size_t w = 0; r->win && w < r->cfg.mcache_len; w++) {
    for (size_t i = 0; i < r->win[w].n; i++)
      pmsg_unref(r->win[w].m[i]);
    free(r->win[w].m);
  }
  free(r->peers), free(r->topics), free(r->seen), free(r->win);
  for (size_t i = 0; r->ret && i < r->cfg.max_retained; i++)
    free(r->ret[i].inv);
  free(r->ret);
  free(r->prom), free(r->rpc), free(r->scratch), free(r->scores);
  free(r->seen_ix.t), free(r->mc_ix.t), free(r->prom_ix.t);
  free(r);
}

static struct retained *retained_find(const yz__ps_router *r,
                                      const yz_node_id *id)
{
  for (size_t i = 0; i < r->cfg.max_retained; i++)
    if (r->ret[i].used &&
        memcmp(r->ret[i].id.bytes, id->bytes, YZ_NODE_ID_LEN) == 0)
      return &r->ret[i];
  return NULL;
}

static void retained_clear(struct retained *e)
{
  free(e->inv);
  memset(e, 0, sizeof *e);
}

/* Remember p's penalties (behaviour, invalid messages per topic). */
static void retain(yz__ps_router *r, const struct peer *p, uint64_t now)
{
  size_t n_inv = 0;
  for (size_t i = 0; i < p->n_topics; i++)
    n_inv += p->topics[i].invalid > 0;
  if (p->behaviour <= 0 && n_inv == 0)
    return;
  struct retained *e = NULL;
  for (size_t i = 0; i < r->cfg.max_retained && !e; i++)
    if (!r->ret[i].used)
      e = &r->ret[i];
  if (!e) {
    /* Full: the entry that would be forgotten first goes. */
    e = &r->ret[0];
    for (size_t i = 1; i < r->cfg.max_retained; i++)
      if (r->ret[i].until_ms < e->until_ms)
        e = &r->ret[i];
    retained_clear(e);
    r->st.retained_full++;
  }
  e->inv = n_inv ? calloc(n_inv, sizeof *e->inv) : NULL;
  if (n_inv && !e->inv)
    return;
  e->used = true;
  e->id = p->id;
  e->until_ms = now + r->cfg.retain_score_ms;
  e->behaviour = p->behaviour;
  for (size_t i = 0; i < p->n_topics; i++) {
    if (p->topics[i].invalid > 0) {
      memcpy(e->inv[e->n_inv].topic, p->topics[i].topic, YZ_PS_TOPIC_LEN);
      e->inv[e->n_inv++].invalid = p->topics[i].invalid;
    }
  }
}

int yz__ps_peer_add(yz__ps_router *r, const yz_node_id *id,
                    const yz__ps_ip *ip, bool outbound, const uint8_t *record,
                    size_t record_len, uint64_t now_ms)
{
  if (!r || !id || peer_find(r, id, NULL) ||
      memcmp(id->bytes, r->self.bytes, YZ_NODE_ID_LEN) == 0 ||
      record_len > YZ_PS_PEER_RECORD_MAX_LEN || (record_len && !record))
    return YZ_E_INVAL;
  uint32_t slot = 0;
  while (slot < r->cfg.max_peers && r->peers[slot].used)
    slot++;
  if (slot == r->cfg.max_peers)
    return YZ_E_LIMIT;
  struct peer *p = &r->peers[slot];
  memset(p, 0, sizeof *p);
  if (record_len) {
    p->record = malloc(record_len);
    if (!p->record)
      return YZ_E_NOMEM;
    memcpy(p->record, record, record_len);
    p->record_len = record_len;
  }
  p->used = true;
  p->id = *id;
  p->outbound = outbound;
  if (ip)
    p->ip = *ip;
  p->tokens = r->cfg.msg_burst;
  p->tokens_ms = now_ms;
  struct retained *e = retained_find(r, id);
  if (e) {
    p->behaviour = e->behaviour;
    for (size_t i = 0; i < e->n_inv; i++) {
      struct ptopic *pt = ptopic_get(r, p, e->inv[i].topic);
      if (pt)
        pt->invalid = e->inv[i].invalid;
    }
    retained_clear(e);
  }
  /* Hello: our subscriptions. */
  for (size_t i = 0; i < r->cfg.max_topics; i++)
    if (r->topics[i].used && r->topics[i].subscribed)
      q_sub(r, slot, r->topics[i].id, true);
  flush(r, now_ms);
  return 0;
}

int yz__ps_peer_remove(yz__ps_router *r, const yz_node_id *id, uint64_t now_ms)
{
  uint32_t slot;
  struct peer *p = r ? peer_find(r, id, &slot) : NULL;
  if (!p)
    return YZ_E_NOT_FOUND;
  retain(r, p, now_ms);
  for (size_t i = 0; i < r->cfg.max_topics; i++) {
    struct topic *t = &r->topics[i];
    if (!t->used)
      continue;
    list_del(t->mesh, &t->n_mesh, slot);
    list_del(t->fanout, &t->n_fanout, slot);
  }
  peer_clear(p);
  flush(r, now_ms);
  return 0;
}

void yz__ps_rpc_malformed(yz__ps_router *r, const yz_node_id *id)
{
  struct peer *p = r ? peer_find(r, id, NULL) : NULL;
  if (p)
    p->behaviour += 1;
}

/* ---- receiving
 * ---------------------------------------------------------------- */

static void penalise_invalid(yz__ps_router *r, struct peer *p,
                             const uint8_t *topic)
{
  r->st.rejected++;
  struct ptopic *pt = ptopic_get(r, p, topic);
  if (pt)
    pt->invalid += 1;
  else
    p->behaviour += 1; /* no room to score the topic: score the peer */
}

static bool take_token(yz__ps_router *r, struct peer *p, uint64_t now)
{
  if (now > p->tokens_ms) {
    p->tokens += (double)(now - p->tokens_ms) * r->cfg.msg_rate_per_s / 1000;
    if (p->tokens > r->cfg.msg_burst)
      p->tokens = r->cfg.msg_burst;
    p->tokens_ms = now;
  }
  if (p->tokens < 1)
    return false;
  p->tokens -= 1;
  return true;
}

static void promise_del_at(yz__ps_router *r, size_t i)
{
  idx_del(&r->prom_ix, r->prom[i].id);
  if (i != r->n_prom - 1) {
    idx_del(&r->prom_ix, r->prom[r->n_prom - 1].id);
    r->prom[i] = r->prom[r->n_prom - 1];
    idx_put(&r->prom_ix, &r->prom[i]);
  }
  r->n_prom--;
}

static void promise_kept(yz__ps_router *r, const uint8_t *id)
{
  struct promise *pr = idx_get(&r->prom_ix, id);
  if (pr)
    promise_del_at(r, (size_t)(pr - r->prom));
}

static void forward(yz__ps_router *r, struct topic *t, struct pmsg *pm,
                    uint32_t from)
{
  for (size_t i = 0; i < t->n_mesh; i++)
    if (t->mesh[i] != from)
      q_msg(r, t->mesh[i], pm);
}

static void handle_msg(yz__ps_router *r, uint32_t slot, const yz_ps_msg *m,
                       uint64_t now)
{
  struct peer *p = &r->peers[slot];
  if (!take_token(r, p, now)) {
    r->st.rate_limited++;
    return;
  }
  uint8_t id[YZ_PS_ID_LEN];
  if (yz_ps_msg_id(m, id) != 0)
    return;
  if (idx_get(&r->seen_ix, id)) {
    r->st.duplicates++;
    /* P3: a mesh peer close behind the first delivery did its part. */
    struct pmsg *c = idx_get(&r->mc_ix, id);
    struct ptopic *dpt = ptopic_find(p, m->topic);
    if (c && dpt && dpt->in_mesh &&
        now <= c->first_ms + r->cfg.score.mesh_deliveries_window_ms &&
        dpt->mesh_deliv < r->cfg.score.mesh_deliveries_cap)
      dpt->mesh_deliv += 1;
    return;
  }
  struct topic *t = topic_find(r, m->topic);
  if (!t || !t->subscribed) {
    r->st.ignored++; /* not ours: neither delivered nor relayed */
    return;
  }
  switch (yz_ps_msg_check(m, now / 1000, r->cfg.max_lifetime_s,
                          r->cfg.max_data, NULL)) {
  case YZ_PS_OK:
    break;
  case YZ_PS_EXPIRED:
    r->st.expired++;
    return;
  default: /* too large, expiry too far, bad signature */
    penalise_invalid(r, p, m->topic);
    return;
  }
  /* Seen only once the signature verified: the ID does not cover it. */
  seen_add(r, id, now);
  promise_kept(r, id);
  /* An encrypted topic's message (epoch not 0) is checked, delivered and
   * forwarded like any other: its signature and ID cover the ciphertext,
   * and only members open it (docs/protocol.md "Sealed values and
   * encrypted topics"). */
  yz__ps_verdict v =
      t->validator ? t->validator(t->vud, m, id, &p->id) : YZ__PS_ACCEPT;
  if (v == YZ__PS_REJECT) {
    penalise_invalid(r, p, m->topic);
    return;
  }
  if (v != YZ__PS_ACCEPT) {
    r->st.ignored++;
    return;
  }
  struct ptopic *pt = ptopic_get(r, p, m->topic);
  if (pt && pt->first < r->cfg.score.first_delivery_cap)
    pt->first += 1;
  if (pt && pt->in_mesh && pt->mesh_deliv < r->cfg.score.mesh_deliveries_cap)
    pt->mesh_deliv += 1;
  struct pmsg *pm = pmsg_new(m, id);
  if (!pm)
    return;
  pm->first_ms = now;
  r->st.delivered++;
  if (r->cb.deliver)
    r->cb.deliver(r->cb.ud, &pm->m, id, &p->id);
  mcache_put(r, pm);
  /* Large messages: tell the mesh not to send it to us as well. */
  if (m->data_len >= r->cfg.idontwant_min_len)
    for (size_t i = 0; i < t->n_mesh; i++)
      if (t->mesh[i] != slot)
        tl_add(&ob_of(r, t->mesh[i])->idontwant, id, r->cfg.limits.max_ids);
  forward(r, t, pm, slot);
  pmsg_unref(pm);
}

static void handle_graft(yz__ps_router *r, uint32_t slot, const uint8_t *tid,
                         uint64_t now)
{
  struct peer *p = &r->peers[slot];
  struct topic *t = topic_find(r, tid);
  if (!t || !t->subscribed) {
    q_prune(r, slot, tid, r->cfg.prune_backoff_s, false);
    return;
  }
  struct ptopic *pt = ptopic_get(r, p, tid);
  if (pt)
    pt->subscribed = true; /* grafting means subscribing */
  if (in_list(t->mesh, t->n_mesh, slot))
    return;
  if (backoff_on(t, &p->id, now)) {
    /* A GRAFT during the backoff we asked for (docs/pubsub.md). */
    r->st.graft_backoff++;
    p->behaviour += 1;
    prune_peer(r, t, slot, r->cfg.prune_backoff_s, false, now);
    return;
  }
  if (score_of(r, p, now) < 0) {
    prune_peer(r, t, slot, r->cfg.prune_backoff_s, false, now);
    return;
  }
  /* Over D_hi only outbound peers get in (an attacker cannot fill the
   * mesh with links it dialled); the heartbeat trims it to D. */
  if (t->n_mesh >= r->cfg.D_hi && !p->outbound) {
    prune_peer(r, t, slot, r->cfg.prune_backoff_s, true, now);
    return;
  }
  mesh_add(r, t, slot, now);
  if (!in_list(t->mesh, t->n_mesh, slot))
    q_prune(r, slot, tid, r->cfg.prune_backoff_s, false);
}

static void handle_prune(yz__ps_router *r, uint32_t slot,
                         const yz_ps_prune *pr, uint64_t now)
{
  struct peer *p = &r->peers[slot];
  struct topic *t = topic_find(r, pr->topic);
  if (!t)
    return;
  bool was = in_list(t->mesh, t->n_mesh, slot);
  mesh_del(r, t, slot, now);
  backoff_set(r, t, &p->id, pr->backoff ? pr->backoff : r->cfg.prune_backoff_s,
              now);
  /* A PRUNE that leaves the mesh under D_lo (a peer trimming its mesh
   * over D, or refusing our GRAFT) is answered with GRAFTs to others at
   * once rather than at the next heartbeat, so trimming towards D does
   * not leave meshes short for up to a heartbeat (docs/pubsub.md "Mesh
   * size"). */
  if (was && t->subscribed && t->n_mesh < r->cfg.D_lo)
    graft_some(r, t, r->cfg.D - t->n_mesh, false, now);
  if (pr->n_peers && r->cb.px &&
      score_of(r, p, now) >= r->cfg.score.accept_px_threshold)
    r->cb.px(r->cb.ud, pr->topic, pr->peers,
             pr->n_peers < r->cfg.max_px ? pr->n_peers : r->cfg.max_px);
}

static void handle_ihave(yz__ps_router *r, uint32_t slot, const yz_ps_rpc *rpc,
                         uint64_t now)
{
  struct peer *p = &r->peers[slot];
  if (score_of(r, p, now) < r->cfg.score.gossip_threshold ||
      ++p->ihave_rpcs > r->cfg.max_ihave_msgs) {
    r->st.ihave_dropped++;
    return;
  }
  struct outbox *ob = NULL;
  for (size_t i = 0; i < rpc->n_ihave; i++) {
    const yz_ps_ihave *h = &rpc->ihave[i];
    struct topic *t = topic_find(r, h->topic);
    if (!t || !t->subscribed)
      continue;
    for (size_t k = 0; k < h->ids.n; k++) {
      const uint8_t *id = yz_ps_list_at(&h->ids, k);
      if (idx_get(&r->seen_ix, id) || idx_get(&r->prom_ix, id))
        continue;
      if (p->iasked >= r->cfg.max_ihave_len) {
        r->st.iwant_capped++;
        continue;
      }
      if (r->n_prom == r->cfg.max_promises) {
        r->st.promises_full++;
        continue;
      }
      if (!ob)
        ob = ob_of(r, slot);
      if (!tl_add(&ob->iwant, id, r->cfg.limits.max_ids))
        continue;
      p->iasked++;
      /* The peer promised the message: it must come by the deadline. */
      struct promise *pr = &r->prom[r->n_prom++];
      memcpy(pr->id, id, YZ_PS_ID_LEN);
      pr->peer = p->id;
      pr->deadline_ms = now + r->cfg.iwant_followup_ms;
      idx_put(&r->prom_ix, pr);
    }
  }
}

static void handle_iwant(yz__ps_router *r, uint32_t slot, const yz_ps_list *l,
                         uint64_t now)
{
  struct peer *p = &r->peers[slot];
  if (score_of(r, p, now) < r->cfg.score.gossip_threshold) {
    r->st.iwant_refused += l->n;
    return;
  }
  for (size_t i = 0; i < l->n; i++) {
    struct pmsg *pm = idx_get(&r->mc_ix, yz_ps_list_at(l, i));
    if (!pm)
      continue;
    /* At most gossip_retransmission answers per ID and peer. */
    size_t k = 0;
    while (k < pm->n_served && pm->served[k].slot != slot)
      k++;
    if (k == pm->n_served) {
      if (k == sizeof pm->served / sizeof pm->served[0]) {
        r->st.iwant_refused++;
        continue;
      }
      pm->served[k].slot = slot;
      pm->served[k].count = 0;
      pm->n_served++;
    }
    if (pm->served[k].count >= r->cfg.gossip_retransmission) {
      r->st.iwant_refused++;
      continue;
    }
    if (q_msg(r, slot, pm))
      pm->served[k].count++;
  }
}

static void handle_idontwant(yz__ps_router *r, struct peer *p,
                             const yz_ps_list *l)
{
  if (!p->dontwant) {
    p->dontwant = calloc(r->cfg.max_dontwant, 32);
    if (!p->dontwant)
      return;
  }
  for (size_t i = 0; i < l->n; i++) {
    /* A ring: the oldest IDs give way (bounded per peer). */
    memcpy(p->dontwant[p->dontwant_next], yz_ps_list_at(l, i), 32);
    p->dontwant_next = (p->dontwant_next + 1) % r->cfg.max_dontwant;
    if (p->n_dontwant < r->cfg.max_dontwant)
      p->n_dontwant++;
  }
}

int yz__ps_rpc_in(yz__ps_router *r, const yz_node_id *id, const yz_ps_rpc *rpc,
                  uint64_t now)
{
  uint32_t slot;
  struct peer *p = r && rpc ? peer_find(r, id, &slot) : NULL;
  if (!p)
    return YZ_E_NOT_FOUND;
  /* Graylisted: everything it says is ignored (docs/pubsub.md). */
  if (score_of(r, p, now) < r->cfg.score.graylist_threshold) {
    r->st.graylisted++;
    return 0;
  }
  for (size_t i = 0; i < rpc->subscribe.n; i++) {
    struct ptopic *pt = ptopic_get(r, p, yz_ps_list_at(&rpc->subscribe, i));
    if (pt)
      pt->subscribed = true;
  }
  for (size_t i = 0; i < rpc->unsubscribe.n; i++) {
    const uint8_t *tid = yz_ps_list_at(&rpc->unsubscribe, i);
    struct ptopic *pt = ptopic_find(p, tid);
    if (pt)
      pt->subscribed = false;
    struct topic *t = topic_find(r, tid);
    if (t) {
      mesh_del(r, t, slot, now);
      list_del(t->fanout, &t->n_fanout, slot);
    }
  }
  if (rpc->idontwant.n)
    handle_idontwant(r, p, &rpc->idontwant);
  for (size_t i = 0; i < rpc->n_publish; i++)
    handle_msg(r, slot, &rpc->publish[i], now);
  for (size_t i = 0; i < rpc->graft.n; i++)
    handle_graft(r, slot, yz_ps_list_at(&rpc->graft, i), now);
  for (size_t i = 0; i < rpc->n_prune; i++)
    handle_prune(r, slot, &rpc->prune[i], now);
  if (rpc->n_ihave)
    handle_ihave(r, slot, rpc, now);
  if (rpc->iwant.n)
    handle_iwant(r, slot, &rpc->iwant, now);
  flush(r, now);
  return 0;
}

/* ---- local actions
 * -------------------------------------------------------------- */

int yz__ps_subscribe(yz__ps_router *r, const uint8_t topic[YZ_PS_TOPIC_LEN],
                     yz__ps_validator validator, void *vud, uint64_t now)
{
  if (!r || !topic)
    return YZ_E_INVAL;
  struct topic *t = topic_find(r, topic);
  if (!t && !(t = topic_new(r, topic)))
    return r->topics ? YZ_E_LIMIT : YZ_E_NOMEM;
  t->validator = validator;
  t->vud = vud;
  if (t->subscribed)
    return 0;
  t->subscribed = true;
  for (uint32_t i = 0; i < r->cfg.max_peers; i++)
    if (r->peers[i].used)
      q_sub(r, i, topic, true);
  /* The fanout's peers first (they already get our messages), then
   * others, up to D. */
  for (size_t i = 0; i < t->n_fanout && t->n_mesh < r->cfg.D; i++) {
    uint32_t s = t->fanout[i];
    if (score_of(r, &r->peers[s], now) >= 0 &&
        !backoff_on(t, &r->peers[s].id, now)) {
      mesh_add(r, t, s, now);
      if (in_list(t->mesh, t->n_mesh, s))
        q_graft(r, s, topic);
    }
  }
  t->n_fanout = 0;
  if (t->n_mesh < r->cfg.D)
    graft_some(r, t, r->cfg.D - t->n_mesh, false, now);
  flush(r, now);
  return 0;
}

int yz__ps_unsubscribe(yz__ps_router *r, const uint8_t topic[YZ_PS_TOPIC_LEN],
                       uint64_t now)
{
  struct topic *t = r && topic ? topic_find(r, topic) : NULL;
  if (!t || !t->subscribed)
    return YZ_E_NOT_FOUND;
  for (uint32_t i = 0; i < r->cfg.max_peers; i++)
    if (r->peers[i].used)
      q_sub(r, i, topic, false);
  while (t->n_mesh)
    prune_peer(r, t, t->mesh[0], r->cfg.unsub_backoff_s, false, now);
  /* The topic stays until its backoffs end, so a quick re-subscribe does
   * not GRAFT peers that asked us to wait. */
  t->subscribed = false;
  t->validator = NULL;
  t->fanout_pub_ms = 0;
  t->n_fanout = 0;
  flush(r, now);
  return 0;
}

int yz__ps_publish(yz__ps_router *r, const yz_ps_msg *m, uint64_t now)
{
  if (!r || !m)
    return YZ_E_INVAL;
  if (yz_ps_msg_check(m, now / 1000, r->cfg.max_lifetime_s, r->cfg.max_data,
                      NULL) != YZ_PS_OK)
    return YZ_E_INVAL;
  uint8_t id[YZ_PS_ID_LEN];
  if (yz_ps_msg_id(m, id) != 0)
    return YZ_E_INVAL;
  if (idx_get(&r->seen_ix, id))
    return YZ_E_DUPLICATE;
  struct topic *t = topic_find(r, m->topic);
  if (!t) {
    if (!(t = topic_new(r, m->topic)))
      return YZ_E_LIMIT;
  }
  struct pmsg *pm = pmsg_new(m, id);
  if (!pm)
    return YZ_E_NOMEM;
  pm->first_ms = now;
  seen_add(r, id, now);
  mcache_put(r, pm);
  int reached = 0;
  double min = r->cfg.score.publish_threshold;
  if (r->cfg.flood_publish) {
    for (uint32_t i = 0; i < r->cfg.max_peers; i++) {
      struct peer *p = &r->peers[i];
      if (p->used && peer_subscribed(p, m->topic) &&
          score_of(r, p, now) >= min && q_msg(r, i, pm))
        reached++;
    }
  } else {
    if (!t->subscribed) {
      /* Fanout: D subscribers, kept for fanout_ttl after the last
       * publish. */
      size_t n = candidates(r, t, min, false, false, now);
      for (size_t i = 0; i < n && t->n_fanout < r->cfg.D; i++)
        t->fanout[t->n_fanout++] = r->scratch[i];
    }
    const uint32_t *l = t->subscribed ? t->mesh : t->fanout;
    size_t n = t->subscribed ? t->n_mesh : t->n_fanout;
    for (size_t i = 0; i < n; i++)
      reached += q_msg(r, l[i], pm);
  }
  if (!t->subscribed) {
    t->fanout_pub_ms = now;
    if (r->cfg.flood_publish && t->n_fanout < r->cfg.D) {
      size_t n = candidates(r, t, min, false, false, now);
      for (size_t i = 0; i < n && t->n_fanout < r->cfg.D; i++)
        t->fanout[t->n_fanout++] = r->scratch[i];
    }
  } else if (r->cb.deliver) {
    r->cb.deliver(r->cb.ud, &pm->m, id, NULL);
  }
  pmsg_unref(pm);
  flush(r, now);
  return reached;
}

/* ---- the heartbeat
 * ------------------------------------------------------------ */

static double decayed(double v, double d, double zero)
{
  v *= d;
  return v < zero ? 0 : v;
}

static void decay_scores(yz__ps_router *r)
{
  const yz__ps_score_params *s = &r->cfg.score;
  for (size_t i = 0; i < r->cfg.max_peers; i++) {
    struct peer *p = &r->peers[i];
    if (!p->used)
      continue;
    p->behaviour = decayed(p->behaviour, s->behaviour_decay, s->decay_to_zero);
    p->ihave_rpcs = 0;
    p->iasked = 0;
    for (size_t k = 0; k < p->n_topics;) {
      struct ptopic *pt = &p->topics[k];
      pt->first =
          decayed(pt->first, s->first_delivery_decay, s->decay_to_zero);
      pt->invalid = decayed(pt->invalid, s->invalid_decay, s->decay_to_zero);
      pt->mesh_deliv =
          decayed(pt->mesh_deliv, s->mesh_deliveries_decay, s->decay_to_zero);
      pt->mesh_fail =
          decayed(pt->mesh_fail, s->mesh_failure_decay, s->decay_to_zero);
      if (!pt->subscribed && !pt->in_mesh && pt->first == 0 &&
          pt->invalid == 0 && pt->mesh_fail == 0)
        *pt = p->topics[--p->n_topics]; /* nothing left to remember */
      else
        k++;
    }
  }
}

/* Retained penalties decay like live ones, and end at until_ms. */
static void decay_retained(yz__ps_router *r, uint64_t now)
{
  const yz__ps_score_params *s = &r->cfg.score;
  for (size_t i = 0; i < r->cfg.max_retained; i++) {
    struct retained *e = &r->ret[i];
    if (!e->used)
      continue;
    bool left = false;
    e->behaviour = decayed(e->behaviour, s->behaviour_decay, s->decay_to_zero);
    left |= e->behaviour > 0;
    for (size_t k = 0; k < e->n_inv; k++) {
      e->inv[k].invalid =
          decayed(e->inv[k].invalid, s->invalid_decay, s->decay_to_zero);
      left |= e->inv[k].invalid > 0;
    }
    if (!left || e->until_ms <= now)
      retained_clear(e);
  }
}

static void broken_promises(yz__ps_router *r, uint64_t now)
{
  for (size_t i = 0; i < r->n_prom;) {
    if (r->prom[i].deadline_ms > now) {
      i++;
      continue;
    }
    struct peer *p = peer_find(r, &r->prom[i].peer, NULL);
    if (p)
      p->behaviour += 1;
    r->st.broken_promises++;
    promise_del_at(r, i);
  }
}

static int by_score_desc(const void *a, const void *b, void *ctx)
{
  const double *sc = ctx;
  double x = sc[*(const uint32_t *)a], y = sc[*(const uint32_t *)b];
  return x < y ? 1 : x > y ? -1 : 0;
}

static void sort_by_score(yz__ps_router *r, uint32_t *l, size_t n)
{
  /* Insertion sort: n <= D_hi. */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && by_score_desc(&l[j - 1], &l[j], r->scores) > 0;
         j--) {
      uint32_t t = l[j];
      l[j] = l[j - 1];
      l[j - 1] = t;
    }
}

static void maintain_mesh(yz__ps_router *r, struct topic *t, uint64_t now)
{
  const yz__ps_config *c = &r->cfg;
  for (size_t i = 0; i < t->n_mesh;) {
    uint32_t s = t->mesh[i];
    if (r->scores[s] < 0)
      prune_peer(r, t, s, c->prune_backoff_s, false, now); /* no PX */
    else
      i++;
  }
  if (t->n_mesh < c->D_lo)
    graft_some(r, t, c->D - t->n_mesh, false, now);
  t->over_d = t->n_mesh > c->D ? t->over_d + 1 : 0;
  if (t->n_mesh > c->D_hi || (c->trim_after > 0 && t->n_mesh > c->D &&
                               t->over_d >= c->trim_after)) {
    /* Over D_hi: down to D at once (gossipsub v1.1). Over D for
     * trim_after heartbeats in a row: one peer fewer per heartbeat
     * (docs/pubsub.md "Mesh size"). Every mesh peer over D costs each
     * message about one more duplicate, and meshes left anywhere in
     * (D, D_hi] settle near 8 with the defaults. Slowly, so that a mesh
     * that grew while the network repaired itself (a kill) is trimmed
     * after the repair, and one peer at a time, so that the pruned peers
     * (one of them may have been at D_lo) regraft a few at a time. Kept
     * first: the D_score best, then the peers that joined since the last
     * heartbeat, then random ones, with at least D_out outbound among
     * those kept; the rest is PRUNEd with peer exchange. */
    uint32_t keep[YZ__PS_MESH_MAX];
    size_t n = t->n_mesh, target = n > c->D_hi ? c->D : n - 1;
    memcpy(keep, t->mesh, n * sizeof *keep);
    sort_by_score(r, keep, n);
    shuffle(r, keep + c->D_score, n - c->D_score);
    /* A peer GRAFTs only when its mesh is under D_lo (or short of
     * outbound peers): pruning the one that just joined would send it
     * looking again, so an older member goes instead. */
    for (size_t i = c->D_score, k = c->D_score; i < n; i++) {
      struct ptopic *jpt = ptopic_find(&r->peers[keep[i]], t->id);
      if (jpt && jpt->graft_ms > r->last_hb_ms) {
        uint32_t x = keep[i];
        memmove(&keep[k + 1], &keep[k], (i - k) * sizeof x);
        keep[k++] = x;
      }
    }
    size_t out = 0;
    for (size_t i = 0; i < target; i++)
      out += r->peers[keep[i]].outbound;
    for (size_t i = target, j = target; i < n && out < c->D_out; i++) {
      if (!r->peers[keep[i]].outbound)
        continue;
      while (j > c->D_score && r->peers[keep[j - 1]].outbound)
        j--;
      if (j == c->D_score)
        break;
      uint32_t x = keep[j - 1];
      keep[j - 1] = keep[i];
      keep[i] = x;
      j--;
      out++;
    }
    /* Over D_hi the full backoff, as gossipsub; a trim over D a shorter
     * one (trim_backoff_s, 10 s): the peer was let go while it had
     * enough, and may be needed again after a kill; with 60 s a small
     * network runs out of candidates to graft. */
    uint64_t bo = n > c->D_hi ? c->prune_backoff_s : c->trim_backoff_s;
    for (size_t i = target; i < n; i++)
      prune_peer(r, t, keep[i], bo, true, now);
  }
  size_t out = 0;
  for (size_t i = 0; i < t->n_mesh; i++)
    out += r->peers[t->mesh[i]].outbound;
  if (t->n_mesh >= c->D_lo && out < c->D_out)
    graft_some(r, t, c->D_out - out, true, now);
  /* Opportunistic grafting (gossipsub v1.1): a mesh of poorly scored
   * peers (an eclipse, or just bad luck) gets a few peers scoring above
   * its median. */
  if (c->opportunistic_graft_ticks && t->n_mesh > 1 &&
      r->ticks % c->opportunistic_graft_ticks == 0) {
    uint32_t sorted[YZ__PS_MESH_MAX];
    memcpy(sorted, t->mesh, t->n_mesh * sizeof *sorted);
    sort_by_score(r, sorted, t->n_mesh);
    double median = r->scores[sorted[t->n_mesh / 2]];
    if (median < c->score.opportunistic_graft_threshold) {
      size_t n = candidates(r, t, median, false, true, now);
      unsigned added = 0;
      for (size_t i = 0; i < n && added < c->opportunistic_graft_peers; i++) {
        uint32_t s = r->scratch[i];
        if (r->scores[s] <= median)
          continue;
        mesh_add(r, t, s, now);
        if (in_list(t->mesh, t->n_mesh, s)) {
          q_graft(r, s, t->id);
          added++;
          r->st.opportunistic_grafts++;
        }
      }
    }
  }
}

static void emit_gossip(yz__ps_router *r, struct topic *t, uint64_t now)
{
  size_t n =
      candidates(r, t, r->cfg.score.gossip_threshold, false, false, now);
  if (n > r->cfg.D_lazy)
    n = r->cfg.D_lazy;
  if (n == 0)
    return;
  for (unsigned w = 0; w < r->cfg.mcache_gossip; w++) {
    const struct window *win = &r->win[w];
    for (size_t k = 0; k < win->n; k++) {
      if (memcmp(win->m[k]->m.topic, t->id, YZ_PS_TOPIC_LEN) != 0)
        continue;
      for (size_t i = 0; i < n; i++)
        q_ihave(r, r->scratch[i], t->id, win->m[k]->id);
    }
  }
}

void yz__ps_heartbeat(yz__ps_router *r, uint64_t now)
{
  if (!r)
    return;
  r->ticks++;
  decay_scores(r);
  decay_retained(r, now);
  broken_promises(r, now);
  for (uint32_t i = 0; i < r->cfg.max_peers; i++)
    if (r->peers[i].used)
      r->scores[i] = score_of(r, &r->peers[i], now);
  r->in_heartbeat = true;
  for (size_t i = 0; i < r->cfg.max_topics; i++) {
    struct topic *t = &r->topics[i];
    if (!t->used)
      continue;
    for (size_t k = 0; k < t->n_backoff;) {
      if (t->backoff[k].until_ms <= now)
        t->backoff[k] = t->backoff[--t->n_backoff];
      else
        k++;
    }
    if (t->subscribed) {
      maintain_mesh(r, t, now);
    } else {
      if (now - t->fanout_pub_ms >= r->cfg.fanout_ttl_ms) {
        t->n_fanout = 0; /* the fanout expired */
        if (t->n_backoff == 0)
          topic_free(t);
        continue;
      }
      for (size_t k = 0; k < t->n_fanout;) {
        uint32_t s = t->fanout[k];
        if (!peer_subscribed(&r->peers[s], t->id) ||
            r->scores[s] < r->cfg.score.publish_threshold)
          t->fanout[k] = t->fanout[--t->n_fanout];
        else
          k++;
      }
      size_t n =
          candidates(r, t, r->cfg.score.publish_threshold, false, false, now);
      for (size_t k = 0; k < n && t->n_fanout < r->cfg.D; k++)
        t->fanout[t->n_fanout++] = r->scratch[k];
    }
    emit_gossip(r, t, now);
  }
  mcache_shift(r);
  while (r->seen_n && r->seen[r->seen_head].exp_ms <= now)
    seen_drop_oldest(r);
  flush(r, now);
  r->in_heartbeat = false;
  r->last_hb_ms = now;
}

/* ---- inspection
 * --------------------------------------------------------------- */

size_t yz__ps_retained(const yz__ps_router *r)
{
  size_t n = 0;
  for (size_t i = 0; i < r->cfg.max_retained; i++)
    n += r->ret[i].used;
  return n;
}

const yz__ps_stats *yz__ps_stats_get(const yz__ps_router *r)
{
  return &r->st;
}

double yz__ps_score(const yz__ps_router *r, const yz_node_id *id, uint64_t now)
{
  const struct peer *p = peer_find(r, id, NULL);
  return p ? score_of(r, p, now) : 0;
}

size_t yz__ps_mesh(const yz__ps_router *r, const uint8_t topic[32],
                   bool fanout, yz_node_id *ids, size_t cap)
{
  const struct topic *t = topic_find(r, topic);
  if (!t)
    return 0;
  const uint32_t *l = fanout ? t->fanout : t->mesh;
  size_t n = fanout ? t->n_fanout : t->n_mesh;
  for (size_t i = 0; ids && i < n && i < cap; i++)
    ids[i] = r->peers[l[i]].id;
  return n;
}

bool yz__ps_in_backoff(const yz__ps_router *r, const uint8_t topic[32],
                       const yz_node_id *peer, uint64_t now)
{
  const struct topic *t = topic_find(r, topic);
  return t && backoff_on(t, peer, now);
}

void yz__ps_sizes(const yz__ps_router *r, size_t *seen, size_t *mcache,
                  size_t *promises, size_t *topics, size_t *peers)
{
  size_t nt = 0, np = 0;
  for (size_t i = 0; i < r->cfg.max_topics; i++)
    nt += r->topics[i].used;
  for (size_t i = 0; i < r->cfg.max_peers; i++)
    np += r->peers[i].used;
  if (seen)
    *seen = r->seen_n;
  if (mcache)
    *mcache = r->mc_ix.n;
  if (promises)
    *promises = r->n_prom;
  if (topics)
    *topics = nt;
  if (peers)
    *peers = np;
}
