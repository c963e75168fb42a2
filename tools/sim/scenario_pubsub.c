/*
 * tools/sim/scenario_pubsub.c: the PubSub scenarios of `yz sim pubsub`
 * (docs/simulator.md "PubSub"): steady state, an instant kill of 30 % of
 * the nodes, continuous churn, 10 % of nodes that never forward and 10 %
 * that spam invalid messages.
 *
 * Every scenario builds the joined DHT network of the DHT scenarios
 * (scenario_dht.c), puts the node's PubSub (yz/pubsub.h: the glue and the
 * router) on every node, subscribes the subscribers to one topic (each
 * provides it in the DHT and looks up the others, docs/pubsub.md "Cold
 * start"), lets the meshes form, then publishes the measured messages
 * from the publishers. The truth is known to the simulator: which nodes
 * are live, honest and subscribed, and when each message was published.
 *
 * The misbehaviours stay in the simulator, out of the public API: a
 * spamming node sends RPCs of well-formed messages with bad signatures to
 * its peers with yz_node_send(); a silent node runs the real PubSub but
 * the messages it would send are taken out of its RPCs by a wrapper of
 * yz_node_send() that the programs linking the simulator get from the
 * linker (-Wl,--wrap=yz_node_send, tools/sim/meson.build). Its control
 * messages (subscriptions, GRAFT, PRUNE, IHAVE) still go out: it joins
 * meshes and promises messages it never sends, as a free rider would.
 */
#include "scenario_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "yz/common.h"
#include "yz/dht.h"
#include "yz/pubsub.h"
#include "yz/pubsub_wire.h"

enum {
  SUB_STAGGER_MS = 5,   /* one subscription every 5 ms */
  WARM_MS = 20000,      /* after the last subscription */
  ELIGIBLE_MS = 5000,   /* a subscriber counts once subscribed this long */
  GAP_MS = 100,         /* between measured publishes */
  CHURN_GAP_MS = 500,   /* ... in the churn scenario (one swap each) */
  DRAIN_MS = 10000,     /* after the last publish */
  SPAM_GAP_MS = 500,    /* a spammer's RPC to each of its peers */
  STOP_LIMIT_MS = 60000,
  PEERS_MAX = 4096,
};

#define TOPIC "yz-sim"
#define MAGIC 0x59535053u /* "YSPS": a measured message's first word */
/* Virtual Unix time: the DHT scenarios' epoch plus the virtual clock. */
#define UNIX_T0_MS 1800000000000ull

enum role { HONEST = 0, SILENT = 1, SPAM = 2 };

typedef struct pctx pctx;

typedef struct pnode {
  pctx *p;
  size_t i;
} pnode;

struct pctx {
  dctx *d;
  sc_ctx *c;
  yz_sim *s;
  yz_sim_ps_opts o;
  yz_sim_ps_report *r;
  size_t cap;
  yz_pubsub **ps;
  pnode *pn;
  uint8_t *role;
  bool *gone;      /* crashed (or crashing) */
  bool *down;      /* its crash finished: the DHT can be freed */
  uint64_t *sub_t; /* subscribed at (0: not subscribed) */
  size_t *pubs;
  size_t n_pubs;
  /* measured messages */
  size_t n_msg;
  uint64_t *t_pub;
  size_t *msg_from;
  uint32_t *lat; /* [msg * cap + node]: ms, UINT32_MAX: not received */
  size_t pending;
  unsigned D_lo;
  uint8_t *data; /* a message's data */
  yz_node_id *peers;
  yz_sim_report dr; /* the DHT network's own figures (links, cost) */
  /* the router counts of honest nodes at their crash, so that the
   * duplicates they received before it still count (router_totals) */
  uint64_t gone_delivered, gone_dups;
};

/* ---- the silent nodes' hook ------------------------------------------- */

int __real_yz_node_send(yz_node *node, const yz_node_id *peer, uint16_t proto,
                        const uint8_t *data, size_t len);
int __wrap_yz_node_send(yz_node *node, const yz_node_id *peer, uint16_t proto,
                        const uint8_t *data, size_t len);

/* The silent nodes of the scenario running (NULL: none). */
static yz_node **silent;
static size_t n_silent;
static uint64_t withheld; /* messages taken out of their RPCs */

static bool is_silent(const yz_node *node) {
  for (size_t k = 0; k < n_silent; k++)
    if (silent[k] == node)
      return true;
  return false;
}

/* A silent node's RPCs lose their messages (docs/simulator.md "PubSub"):
 * what is left is sent, an RPC of messages only is dropped as if sent. */
int __wrap_yz_node_send(yz_node *node, const yz_node_id *peer, uint16_t proto,
                        const uint8_t *data, size_t len) {
  if (n_silent == 0 || proto != YZ_PUBSUB_PROTOCOL || !is_silent(node))
    return __real_yz_node_send(node, peer, proto, data, len);
  static yz_ps_rpc rpc;
  static uint8_t buf[1u << 20];
  const yz_ps_limits lim = {0};
  if (yz_ps_rpc_decode(&rpc, data, len, &lim, NULL) != 0 ||
      rpc.n_publish == 0)
    return __real_yz_node_send(node, peer, proto, data, len);
  withheld += rpc.n_publish;
  rpc.n_publish = 0;
  if (rpc.subscribe.n + rpc.unsubscribe.n + rpc.graft.n + rpc.n_prune +
          rpc.n_ihave + rpc.iwant.n + rpc.idontwant.n ==
      0)
    return 0;
  size_t n;
  if (yz_ps_rpc_encode(&rpc, &lim, buf, sizeof buf, &n, NULL) != 0)
    return 0;
  return __real_yz_node_send(node, peer, proto, buf, n);
}

/* ---- clocks and timers -------------------------------------------------- */

static uint64_t unix_ms(void *ud) {
  pctx *p = ud;
  return UNIX_T0_MS + (yz_sim_now(p->s) - YZ_SIM_T0_MS);
}

static uint64_t layer_deadline(yz_sim *s, size_t i, void *ud) {
  pctx *p = ud;
  uint64_t t = sc_dht_layer_deadline(s, i, p->d);
  if (p->ps[i] != NULL && !p->gone[i]) {
    uint64_t u = yz_pubsub_next_deadline(p->ps[i]);
    if (u < t)
      t = u;
  }
  return t;
}

static void layer_run(yz_sim *s, size_t i, void *ud) {
  pctx *p = ud;
  sc_dht_layer_run(s, i, p->d);
  if (p->ps[i] != NULL && !p->gone[i])
    yz_pubsub_run_timers(p->ps[i]);
}

/* ---- PubSub on the nodes ------------------------------------------------ */

static bool honest_live(const pctx *p, size_t i) {
  return p->role[i] == HONEST && !p->gone[i] && yz_sim_alive(p->s, i);
}

static void on_msg(yz_pubsub *ps, const yz_pubsub_message *m, void *ud) {
  (void)ps;
  pnode *x = ud;
  pctx *p = x->p;
  if (m->len < 8)
    return;
  uint32_t magic, idx;
  memcpy(&magic, m->data, 4);
  memcpy(&idx, m->data + 4, 4);
  if (magic != MAGIC || idx >= p->n_msg)
    return;
  uint32_t *l = &p->lat[(size_t)idx * p->cap + x->i];
  if (*l == UINT32_MAX)
    *l = (uint32_t)(yz_sim_now(p->s) - p->t_pub[idx]);
}

static int add_pubsub(pctx *p, size_t i) {
  yz_pubsub_config cfg;
  yz_pubsub_config_default(&cfg);
  cfg.unix_ms = unix_ms;
  cfg.user_data = p;
  p->pn[i].p = p;
  p->pn[i].i = i;
  int err = yz_pubsub_new(&p->ps[i], yz_sim_node(p->s, i),
                          sc_dht_of(p->d, i), &cfg);
  if (err != 0)
    fprintf(stderr, "sim: yz_pubsub_new: %s\n", yz_strerror(err));
  p->D_lo = cfg.router.D_lo;
  return err;
}

static int subscribe(pctx *p, size_t i) {
  int err = yz_pubsub_subscribe(p->ps[i], TOPIC, NULL, on_msg, &p->pn[i]);
  if (err == 0)
    p->sub_t[i] = yz_sim_now(p->s);
  yz_sim_touch(p->s, i);
  return err;
}

/* ---- crashes --------------------------------------------------------------- */

static void dht_down(yz_dht *dht, void *arg) {
  (void)dht;
  pnode *x = arg;
  yz_sim_crash(x->p->s, x->i);
  x->p->down[x->i] = true;
}

static void ps_down(yz_pubsub *ps, void *arg) {
  (void)ps;
  pnode *x = arg;
  yz_dht_stop(sc_dht_of(x->p->d, x->i), dht_down, x);
}

/* Crash node i: PubSub and the DHT stop, then the node (yz_sim_crash). */
static void crash(pctx *p, size_t i) {
  if (honest_live(p, i) && p->ps[i] != NULL) {
    yz_pubsub_stats st;
    yz_pubsub_get_stats(p->ps[i], &st);
    p->gone_delivered += st.router.delivered;
    p->gone_dups += st.router.duplicates;
  }
  p->gone[i] = true;
  yz_pubsub_stop(p->ps[i], ps_down, &p->pn[i]);
  yz_sim_touch(p->s, i);
}

static size_t pick(pctx *p, bool (*ok)(const pctx *, size_t)) {
  size_t n = yz_sim_count(p->s);
  for (;;) {
    size_t i = yz_sim_uniform((uint32_t)n);
    if (ok(p, i))
      return i;
  }
}

static bool is_publisher(const pctx *p, size_t i) {
  for (size_t k = 0; k < p->n_pubs; k++)
    if (p->pubs[k] == i)
      return true;
  return false;
}

/* A live honest subscriber that does not publish (victims, bad nodes). */
static bool victim_ok(const pctx *p, size_t i) {
  return honest_live(p, i) && p->sub_t[i] != 0 && !is_publisher(p, i);
}

static bool publisher_ok(const pctx *p, size_t i) {
  return honest_live(p, i) && p->sub_t[i] != 0 && !is_publisher(p, i);
}

/* ---- publishing and spam -------------------------------------------------- */

static void publish(pctx *p, size_t idx) {
  size_t from = p->pubs[idx % p->n_pubs];
  uint32_t magic = MAGIC, i32 = (uint32_t)idx;
  memcpy(p->data, &magic, 4);
  memcpy(p->data + 4, &i32, 4);
  p->t_pub[idx] = yz_sim_now(p->s);
  p->msg_from[idx] = from;
  size_t reached = 0;
  if (yz_pubsub_publish(p->ps[from], TOPIC, p->data, p->o.msg_size, 0,
                        &reached, NULL, NULL, NULL) == 0)
    p->r->published++;
  yz_sim_touch(p->s, from);
}

/* Spammer i sends each of its peers an RPC of one well-formed message of
 * the topic with a bad signature (signed, then a byte of data changed). */
static void spam(pctx *p, size_t i) {
  yz_ps_msg m;
  memset(&m, 0, sizeof m);
  if (yz_ps_topic_hash(m.topic, TOPIC, strlen(TOPIC)) != 0)
    return;
  static uint64_t seq;
  m.seq = ++seq;
  m.expiry = unix_ms(p) / 1000 + 60;
  randombytes_buf(p->data, p->o.msg_size);
  m.data = p->data;
  m.data_len = p->o.msg_size;
  uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  if (yz_ps_msg_sign_raw(&m, sk, NULL) != 0)
    return;
  sodium_memzero(sk, sizeof sk);
  p->data[0] ^= 1;
  static yz_ps_rpc rpc;
  yz_ps_rpc_init(&rpc);
  rpc.n_publish = 1;
  rpc.publish[0] = m;
  static uint8_t buf[1u << 18];
  size_t n;
  const yz_ps_limits lim = {0};
  if (yz_ps_rpc_encode(&rpc, &lim, buf, sizeof buf, &n, NULL) != 0)
    return;
  yz_node *node = yz_sim_node(p->s, i);
  size_t k = yz_node_peers(node, p->peers, PEERS_MAX);
  if (k > PEERS_MAX)
    k = PEERS_MAX;
  for (size_t j = 0; j < k; j++)
    (void)__real_yz_node_send(node, &p->peers[j], YZ_PUBSUB_PROTOCOL, buf, n);
  yz_sim_touch(p->s, i);
}

/* ---- figures ------------------------------------------------------------- */

static void mesh_figures(pctx *p) {
  yz_sim_ps_report *r = p->r;
  size_t n = yz_sim_count(p->s), k = 0;
  double *v = calloc(n + 1, sizeof *v);
  if (v == NULL)
    return;
  memset(r->mesh_hist, 0, sizeof r->mesh_hist);
  r->below_d_lo = 0;
  for (size_t i = 0; i < n; i++) {
    if (!honest_live(p, i) || p->sub_t[i] == 0)
      continue;
    size_t m = yz_pubsub_mesh_size(p->ps[i], TOPIC);
    v[k++] = (double)m;
    r->mesh_hist[m < YZ_SIM_PS_MESH_HIST - 1 ? m : YZ_SIM_PS_MESH_HIST - 1]++;
    r->below_d_lo += m < p->D_lo;
  }
  r->subscribers = k;
  yz_sim_dist_of(&r->mesh, v, k);
  free(v);
}

/* Every live honest subscriber's mesh at D_lo or more. */
static bool meshes_whole(pctx *p) {
  for (size_t i = 0; i < yz_sim_count(p->s); i++)
    if (honest_live(p, i) && p->sub_t[i] != 0 &&
        yz_pubsub_mesh_size(p->ps[i], TOPIC) < p->D_lo)
      return false;
  return true;
}

/* Copies of messages received and first copies accepted, over the honest
 * nodes: the live ones now plus what the crashed ones had at their crash
 * (a node killed in the measured phase received its share of it). */
static void router_totals(pctx *p, uint64_t *delivered, uint64_t *dups) {
  *delivered = p->gone_delivered;
  *dups = p->gone_dups;
  uint64_t rej = 0, gray = 0, broken = 0;
  for (size_t i = 0; i < yz_sim_count(p->s); i++) {
    if (!honest_live(p, i) || p->ps[i] == NULL)
      continue;
    yz_pubsub_stats st;
    yz_pubsub_get_stats(p->ps[i], &st);
    *delivered += st.router.delivered;
    *dups += st.router.duplicates;
    rej += st.router.rejected;
    gray += st.router.graylisted;
    broken += st.router.broken_promises;
  }
  p->r->rejected = rej;
  p->r->graylisted = gray;
  p->r->broken_promises = broken;
}

/* Delivery to every eligible subscriber: live and honest at the end,
 * subscribed ELIGIBLE_MS before the publish, not the publisher. */
static void delivery_figures(pctx *p) {
  yz_sim_ps_report *r = p->r;
  size_t n = yz_sim_count(p->s);
  double *v = calloc(p->n_msg * n + 1, sizeof *v);
  size_t k = 0;
  for (size_t m = 0; m < p->n_msg; m++) {
    if (p->t_pub[m] == 0)
      continue;
    for (size_t i = 0; i < n; i++) {
      if (!honest_live(p, i) || p->sub_t[i] == 0 || i == p->msg_from[m] ||
          p->sub_t[i] + ELIGIBLE_MS > p->t_pub[m])
        continue;
      r->expected++;
      uint32_t l = p->lat[m * p->cap + i];
      if (l == UINT32_MAX)
        continue;
      r->delivered++;
      r->delivered_3s += l <= 3000;
      if (v != NULL)
        v[k++] = (double)l;
    }
  }
  yz_sim_dist_of(&r->latency_ms, v, k);
  free(v);
}

/* ---- the run ---------------------------------------------------------------- */

static bool stopping(void *ud) { return ((pctx *)ud)->pending > 0; }

static void ps_stopped(yz_pubsub *ps, void *arg) {
  (void)ps;
  ((pctx *)arg)->pending--;
}

static void teardown(pctx *p) {
  if (p->s != NULL) {
    for (size_t i = 0; i < yz_sim_count(p->s); i++)
      if (p->ps[i] != NULL && !p->gone[i]) {
        p->pending++;
        yz_pubsub_stop(p->ps[i], ps_stopped, p);
        yz_sim_touch(p->s, i);
      }
    yz_sim_run_while(p->s, stopping, p, yz_sim_now(p->s) + STOP_LIMIT_MS);
    /* crashes still under way finish first */
    for (size_t i = 0; i < yz_sim_count(p->s); i++)
      if (p->gone[i] && !p->down[i])
        yz_sim_run_until(p->s, yz_sim_now(p->s) + 1000);
    for (size_t i = 0; i < yz_sim_count(p->s); i++) {
      if (p->down[i])
        sc_dht_forget(p->d, i);
    }
  }
  /* freed and forgotten before the DHTs stop: the driver asks the layer
   * for deadlines until the end */
  if (p->ps != NULL)
    for (size_t i = 0; i < p->cap; i++) {
      yz_pubsub_free(p->ps[i]);
      p->ps[i] = NULL;
    }
  sc_dht_close(p->d);
  free(silent);
  silent = NULL;
  n_silent = 0;
  withheld = 0;
  free(p->ps);
  free(p->pn);
  free(p->role);
  free(p->gone);
  free(p->down);
  free(p->sub_t);
  free(p->pubs);
  free(p->t_pub);
  free(p->msg_from);
  free(p->lat);
  free(p->data);
  free(p->peers);
}

/* Make pct % of the live honest subscribers (not publishers) bad. */
static int make_bad(pctx *p, enum role role, unsigned pct) {
  size_t want = yz_sim_count(p->s) * pct / 100;
  if (role == SILENT) {
    silent = calloc(want + 1, sizeof *silent);
    if (silent == NULL)
      return YZ_E_NOMEM;
  }
  for (size_t k = 0; k < want; k++) {
    size_t i = pick(p, victim_ok);
    p->role[i] = (uint8_t)role;
    if (role == SILENT)
      silent[n_silent++] = yz_sim_node(p->s, i);
  }
  p->r->bad_nodes = want;
  return 0;
}

static int setup(pctx *p, const char *name, bool churn) {
  const yz_sim_ps_opts *o = &p->o;
  size_t n = o->base.nodes;
  p->cap = n + (churn ? o->messages + 1 : 0);
  p->n_msg = o->messages;
  p->ps = calloc(p->cap, sizeof *p->ps);
  p->pn = calloc(p->cap, sizeof *p->pn);
  p->role = calloc(p->cap, sizeof *p->role);
  p->gone = calloc(p->cap, sizeof *p->gone);
  p->down = calloc(p->cap, sizeof *p->down);
  p->sub_t = calloc(p->cap, sizeof *p->sub_t);
  p->pubs = calloc(o->publishers + 1, sizeof *p->pubs);
  p->t_pub = calloc(p->n_msg + 1, sizeof *p->t_pub);
  p->msg_from = calloc(p->n_msg + 1, sizeof *p->msg_from);
  p->lat = malloc((p->n_msg * p->cap + 1) * sizeof *p->lat);
  p->data = calloc(o->msg_size + 8, 1);
  p->peers = calloc(PEERS_MAX, sizeof *p->peers);
  if (p->ps == NULL || p->pn == NULL || p->role == NULL || p->gone == NULL ||
      p->down == NULL || p->sub_t == NULL || p->pubs == NULL ||
      p->t_pub == NULL || p->msg_from == NULL || p->lat == NULL ||
      p->data == NULL || p->peers == NULL)
    return YZ_E_NOMEM;
  memset(p->lat, 0xff, (p->n_msg * p->cap + 1) * sizeof *p->lat);
  int err;
  p->d = sc_dht_open(name, &o->base, &p->dr, p->cap, &err);
  if (p->d == NULL)
    return err;
  p->c = sc_dht_ctx(p->d);
  p->s = p->c->s;
  yz_sim_layer layer = {layer_deadline, layer_run, p};
  yz_sim_set_layer(p->s, &layer);
  err = sc_dht_build(p->d);
  if (err != 0)
    return err;
  for (size_t i = 0; i < n; i++) {
    err = add_pubsub(p, i);
    if (err != 0)
      return err;
  }
  /* the subscribers, in a random order, one every SUB_STAGGER_MS */
  size_t subs = o->subscribers == 0 || o->subscribers > n ? n : o->subscribers;
  size_t *order = calloc(n, sizeof *order);
  if (order == NULL)
    return YZ_E_NOMEM;
  for (size_t i = 0; i < n; i++)
    order[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = yz_sim_uniform((uint32_t)i), t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
  uint64_t t0 = yz_sim_now(p->s);
  for (size_t k = 0; k < subs && err == 0; k++) {
    yz_sim_run_until(p->s, t0 + k * SUB_STAGGER_MS);
    err = subscribe(p, order[k]);
  }
  free(order);
  if (err != 0)
    return err;
  sc_progress(p->c, "subscribed");
  yz_sim_run_until(p->s, yz_sim_now(p->s) + WARM_MS);
  sc_progress(p->c, "meshes formed");
  size_t np = o->publishers < subs ? o->publishers : subs;
  for (size_t k = 0; k < np; k++)
    p->pubs[p->n_pubs++] = pick(p, publisher_ok);
  return 0;
}

/* One newcomer (churn): a node, its DHT joined through a live honest
 * node, its PubSub subscribed. The bootstrap is not one whose crash has
 * begun: a crash stops PubSub and the DHT before the node goes, so such a
 * node is still alive to the DHT scenarios' own choice, and a join
 * through it could fail and leave the newcomer with no contact at all (an
 * operator's yz-node would join again: tools/yz-node/node_dht.c). */
static bool bootstrap_ok(const pctx *p, size_t i) {
  return honest_live(p, i) && p->ps[i] != NULL;
}

static void newcomer(pctx *p) {
  size_t via = pick(p, bootstrap_ok);
  long i = sc_dht_add_node(p->d);
  if (i < 0 || add_pubsub(p, (size_t)i) != 0)
    return;
  sc_dht_join(p->d, (size_t)i, via);
  (void)subscribe(p, (size_t)i);
  p->r->joined++;
}

int yz_sim_ps_run(const char *name, const yz_sim_ps_opts *o,
                  yz_sim_ps_report *r) {
  bool is_kill = strcmp(name, "kill30") == 0;
  bool is_churn = strcmp(name, "churn") == 0;
  bool is_silent = strcmp(name, "silent") == 0;
  bool is_spam = strcmp(name, "spam") == 0;
  if (strcmp(name, "steady") != 0 && !is_kill && !is_churn && !is_silent &&
      !is_spam)
    return YZ_E_INVAL;
  memset(r, 0, sizeof *r);
  snprintf(r->scenario, sizeof r->scenario, "%s", name);
  r->opts = *o;
  r->repair_heartbeats = -1;
  pctx *p = calloc(1, sizeof *p);
  if (p == NULL)
    return YZ_E_NOMEM;
  p->o = *o;
  p->r = r;
  int err = setup(p, name, is_churn);
  if (err != 0)
    goto out;
  if (is_silent || is_spam) {
    err = make_bad(p, is_silent ? SILENT : SPAM, 10);
    if (err != 0)
      goto out;
  }
  uint64_t dlv0, dup0, dlv1, dup1;
  router_totals(p, &dlv0, &dup0);
  /* the measured phase: a publish every gap; kill30 kills 30 % after a
   * fifth of the messages; churn swaps a node at each publish */
  uint64_t gap = is_churn ? CHURN_GAP_MS : GAP_MS;
  uint64_t t0 = yz_sim_now(p->s), t_kill = 0, next_spam = t0;
  size_t kill_at = is_kill ? p->n_msg / 5 : SIZE_MAX;
  uint64_t end = t0 + p->n_msg * gap + DRAIN_MS;
  for (uint64_t t = t0, step = 0; t <= end; t += GAP_MS, step++) {
    yz_sim_run_until(p->s, t);
    size_t idx = (size_t)((t - t0) / gap);
    if ((t - t0) % gap == 0 && idx < p->n_msg) {
      if (idx == kill_at) {
        size_t want = yz_sim_count(p->s) * 30 / 100;
        for (size_t k = 0; k < want; k++)
          crash(p, pick(p, victim_ok));
        r->killed = want;
        t_kill = t;
        sc_progress(p->c, "killed");
      }
      if (is_churn && idx > 0) {
        crash(p, pick(p, victim_ok));
        r->killed++;
        newcomer(p);
      }
      publish(p, idx);
    }
    if (t_kill != 0 && r->repair_heartbeats < 0 && t > t_kill &&
        (t - t_kill) % 1000 == 0 && meshes_whole(p))
      r->repair_heartbeats = (long)((t - t_kill) / 1000);
    if (is_spam && t >= next_spam) {
      for (size_t i = 0; i < yz_sim_count(p->s); i++)
        if (p->role[i] == SPAM && !p->gone[i])
          spam(p, i);
      next_spam = t + SPAM_GAP_MS;
    }
    (void)step;
  }
  sc_progress(p->c, "published");
  router_totals(p, &dlv1, &dup1);
  r->duplicates = dup1 - dup0;
  r->duplicates_per_msg =
      dlv1 > dlv0 ? (double)(dup1 - dup0) / (double)(dlv1 - dlv0) : 0;
  delivery_figures(p);
  mesh_figures(p);
  r->withheld = withheld;
  if (is_kill && r->repair_heartbeats < 0)
    snprintf(r->note, sizeof r->note,
             "meshes not all back to D_lo within the phase");
  err = 0;
out:
  teardown(p);
  r->handshakes = p->dr.handshakes;
  r->nodes_alive = p->dr.nodes_alive;
  r->virtual_ms = p->dr.virtual_ms;
  r->wall_ms = p->dr.wall_ms;
  r->peak_rss_kib = p->dr.peak_rss_kib;
  r->net_messages = p->dr.messages;
  r->losses = p->dr.losses;
  free(p);
  return err;
}

const char *const yz_sim_ps_scenarios[] = {"steady", "kill30", "churn",
                                           "silent", "spam", NULL};

void yz_sim_ps_opts_default(yz_sim_ps_opts *o) {
  memset(o, 0, sizeof *o);
  yz_sim_opts_default(&o->base);
  o->base.latency_ms = 25;
  o->publishers = 10;
  o->messages = 100;
  o->msg_size = 2048;
}

/* ---- output -------------------------------------------------------------- */

static double ratio(uint64_t a, uint64_t b) {
  return b ? (double)a / (double)b : 0.0;
}

void yz_sim_ps_report_print(FILE *f, const yz_sim_ps_report *r) {
  const yz_sim_ps_opts *o = &r->opts;
  fprintf(f,
          "pubsub scenario %s: %zu nodes, seed %llu, latency %u ms median "
          "(spread %.2f), loss %.3f\n",
          r->scenario, o->base.nodes, (unsigned long long)o->base.seed,
          o->base.latency_ms, o->base.spread, o->base.loss);
  fprintf(f,
          "  %u publishers, %u messages of %zu bytes; nodes alive %zu, "
          "killed %zu, joined %zu, bad %zu, links up %llu\n",
          o->publishers, o->messages, o->msg_size, r->nodes_alive, r->killed,
          r->joined, r->bad_nodes, (unsigned long long)r->handshakes);
  fprintf(f, "  delivery               %.4f %% (%llu of %llu), within 3 s %.4f %%\n",
          100.0 * ratio(r->delivered, r->expected),
          (unsigned long long)r->delivered, (unsigned long long)r->expected,
          100.0 * ratio(r->delivered_3s, r->expected));
  if (r->latency_ms.n > 0)
    fprintf(f, "  latency                p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  (max %.0f)\n",
            r->latency_ms.p50, r->latency_ms.p90, r->latency_ms.p99,
            r->latency_ms.max);
  fprintf(f, "  duplicates per message %.2f\n", r->duplicates_per_msg);
  fprintf(f,
          "  mesh degree            p50 %.0f  p90 %.0f  p99 %.0f  min-side: "
          "%zu of %zu below D_lo\n",
          r->mesh.p50, r->mesh.p90, r->mesh.p99, r->below_d_lo,
          r->subscribers);
  fprintf(f, "  mesh histogram        ");
  for (size_t k = 0; k < YZ_SIM_PS_MESH_HIST; k++)
    if (r->mesh_hist[k] > 0)
      fprintf(f, " %zu%s:%zu", k, k == YZ_SIM_PS_MESH_HIST - 1 ? "+" : "",
              r->mesh_hist[k]);
  fprintf(f, "\n");
  if (r->killed > 0 && strcmp(r->scenario, "kill30") == 0)
    fprintf(f, "  time to repair         %ld heartbeats\n",
            r->repair_heartbeats);
  fprintf(f,
          "  rejected %llu, graylisted RPCs %llu, broken promises %llu, "
          "withheld by silent nodes %llu\n",
          (unsigned long long)r->rejected, (unsigned long long)r->graylisted,
          (unsigned long long)r->broken_promises,
          (unsigned long long)r->withheld);
  if (r->note[0] != '\0')
    fprintf(f, "  note: %s\n", r->note);
  fprintf(f,
          "  virtual %.1f s, wall %.1f s, peak RSS %llu MiB, %llu messages "
          "(%llu losses)\n",
          (double)r->virtual_ms / 1000.0, (double)r->wall_ms / 1000.0,
          (unsigned long long)(r->peak_rss_kib / 1024),
          (unsigned long long)r->net_messages, (unsigned long long)r->losses);
}

void yz_sim_ps_report_json(FILE *f, const yz_sim_ps_report *r) {
  const yz_sim_ps_opts *o = &r->opts;
  fprintf(f,
          "{\"sim\":\"pubsub\",\"scenario\":\"%s\",\"nodes\":%zu,\"seed\":%llu,"
          "\"latency_ms\":%u,\"spread\":%.3f,\"loss\":%.4f,\"publishers\":%u,"
          "\"messages\":%u,\"msg_size\":%zu,\"nodes_alive\":%zu,"
          "\"killed\":%zu,\"joined\":%zu,\"bad_nodes\":%zu,"
          "\"subscribers\":%zu,\"links_up\":%llu",
          r->scenario, o->base.nodes, (unsigned long long)o->base.seed,
          o->base.latency_ms, o->base.spread, o->base.loss, o->publishers,
          o->messages, o->msg_size, r->nodes_alive, r->killed, r->joined,
          r->bad_nodes, r->subscribers, (unsigned long long)r->handshakes);
  fprintf(f,
          ",\"published\":%llu,\"expected\":%llu,\"delivered\":%llu,"
          "\"delivered_3s\":%llu,\"delivery_ratio\":%.6f,"
          "\"delivery_ratio_3s\":%.6f",
          (unsigned long long)r->published, (unsigned long long)r->expected,
          (unsigned long long)r->delivered,
          (unsigned long long)r->delivered_3s,
          ratio(r->delivered, r->expected),
          ratio(r->delivered_3s, r->expected));
  fprintf(f,
          ",\"latency_ms\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.2f,"
          "\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f}",
          r->latency_ms.n, r->latency_ms.mean, r->latency_ms.p50,
          r->latency_ms.p90, r->latency_ms.p99, r->latency_ms.max);
  fprintf(f, ",\"duplicates\":%llu,\"duplicates_per_msg\":%.4f",
          (unsigned long long)r->duplicates, r->duplicates_per_msg);
  fprintf(f,
          ",\"mesh\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.0f,\"p90\":%.0f,"
          "\"p99\":%.0f,\"max\":%.0f,\"below_d_lo\":%zu,\"hist\":[",
          r->mesh.n, r->mesh.mean, r->mesh.p50, r->mesh.p90, r->mesh.p99,
          r->mesh.max, r->below_d_lo);
  for (size_t k = 0; k < YZ_SIM_PS_MESH_HIST; k++)
    fprintf(f, "%s%zu", k ? "," : "", r->mesh_hist[k]);
  fprintf(f, "]}");
  fprintf(f,
          ",\"repair_heartbeats\":%ld,\"rejected\":%llu,\"graylisted\":%llu,"
          "\"broken_promises\":%llu,\"withheld\":%llu",
          r->repair_heartbeats, (unsigned long long)r->rejected,
          (unsigned long long)r->graylisted,
          (unsigned long long)r->broken_promises,
          (unsigned long long)r->withheld);
  fprintf(f,
          ",\"net_messages\":%llu,\"losses\":%llu,\"virtual_ms\":%llu,"
          "\"wall_ms\":%llu,\"peak_rss_kib\":%llu",
          (unsigned long long)r->net_messages, (unsigned long long)r->losses,
          (unsigned long long)r->virtual_ms, (unsigned long long)r->wall_ms,
          (unsigned long long)r->peak_rss_kib);
  fprintf(f, ",\"note\":\"");
  for (const char *c = r->note; *c; c++)
    fputc(*c == '"' || *c == '\\' ? '\'' : *c, f);
  fprintf(f, "\"}");
}
