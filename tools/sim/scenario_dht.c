/*
 * tools/sim/scenario_dht.c: the DHT scenarios (docs/simulator.md
 * "Scenarios"): steady state, instant kills of 30 % and 50 %, continuous
 * churn, and 10 % of nodes answering with made-up contacts.
 *
 * Every scenario starts the same way: N nodes, each with a real DHT
 * (yz/dht.h), join through a few bootstrap nodes, one node every
 * JOIN_STAGGER_MS of virtual time, then the network settles. The figures
 * are then taken against the truth, which the simulator knows: the live
 * node IDs, searched by brute force.
 */
#include "scenario_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "yz/common.h"
#include "yz/dht.h"
#include "yz/dht_wire.h"
#include "yz/dhtrec.h"
#include "yz/record.h"

enum {
  K = YZ_DHT_K_DEFAULT,
  JOIN_STAGGER_MS = 10, /* one join every 10 ms: 10,000 nodes in 100 s */
  SETTLE_MS = 30000,    /* after the last join */
  OP_GAP_MS = 20,       /* between the starts of measured operations */
  OP_LIMIT_MS = 600000, /* a phase that takes longer is cut */
  N_FAKE = 4096,        /* made-up contacts of the adversarial nodes */
  CHURN_MS = 300000,    /* the churn phase: 5 min */
  CHURN_PCT = 10,       /* ... replacing 10 % of the nodes */
};

/* Virtual Unix time: a fixed epoch plus the virtual clock. */
#define UNIX_T0 1800000000ull

typedef struct dctx dctx;

/* The DHT's store event of node i (yz_dht_config.on_store). */
typedef struct node_ref {
  dctx *d;
  size_t i;
} node_ref;

/* A put being followed to the k closest (put_arrived()): the true K
 * closest live nodes to its key when it was called, which of them hold
 * the record, and when the last one got it. */
typedef struct put_track {
  uint64_t start;
  size_t n_truth, n_have;
  yz_node_id truth[YZ_DHT_K_DEFAULT];
  bool have[YZ_DHT_K_DEFAULT];
  bool active;
} put_track;

struct dctx {
  sc_ctx c;
  yz_dht **dht;     /* per node (NULL: none) */
  bool *evil;       /* adversarial nodes */
  /* per node: the joins and lookups it runs for the scenario, so that
   * churn does not kill a node in the middle of one (its callback would
   * never come, and the phase would wait for it to its limit) */
  uint32_t *busy_ops;
  size_t cap;
  size_t n_boot;
  size_t pending;
  size_t joined_ok;
  /* samples */
  double *rounds, *reqs, *lat;
  size_t started, n_lk, ok_lk;
  double recall_sum;
  /* records */
  size_t n_rec;
  uint8_t (*keys)[YZ_DHTREC_KEY_LEN];
  double *put_ms, *put_stored;
  size_t n_put, ok_put;
  /* the arrival of each record at its true k closest (put_arrived()) */
  node_ref *refs;
  put_track *track;
  double *put_k_ms;
  size_t n_put_k;
  /* the cost of the joins (cost_note()) */
  uint64_t join_links;
  yz_dht_stats join_st;
  size_t gets, found;
  bool child;       /* a forked child: end without freeing (teardown) */
  /* adversary */
  uint8_t **fake;
  size_t *fake_len;
  yz_node_id *fake_id;
};

typedef struct op {
  dctx *d;
  size_t origin;
  yz_node_id target;
} op;

static uint64_t unix_now(void *ud) {
  dctx *d = ud;
  return UNIX_T0 + (yz_sim_now(d->c.s) - YZ_SIM_T0_MS) / 1000;
}

static uint64_t layer_deadline(yz_sim *s, size_t i, void *ud) {
  (void)s;
  dctx *d = ud;
  return d->dht[i] != NULL ? yz_dht_next_deadline(d->dht[i]) : UINT64_MAX;
}

static void layer_run(yz_sim *s, size_t i, void *ud) {
  (void)s;
  dctx *d = ud;
  if (d->dht[i] != NULL)
    yz_dht_run_timers(d->dht[i]);
}

static bool busy(void *ud) { return ((dctx *)ud)->pending > 0; }

static void wait_ops(dctx *d) {
  yz_sim_run_while(d->c.s, busy, d, yz_sim_now(d->c.s) + OP_LIMIT_MS);
}

static bool live_honest(const dctx *d, size_t i) {
  return yz_sim_alive(d->c.s, i) && !d->evil[i] && d->dht[i] != NULL;
}

/* A random live honest node (the scenario keeps most nodes so). */
static size_t pick_origin(dctx *d) {
  size_t n = yz_sim_count(d->c.s);
  for (;;) {
    size_t i = yz_sim_uniform((uint32_t)n);
    if (live_honest(d, i))
      return i;
  }
}

/* ---- the truth ---------------------------------------------------------- */

static int cmp_dist(const uint8_t *t, const yz_node_id *a,
                    const yz_node_id *b) {
  for (int i = 0; i < YZ_NODE_ID_LEN; i++) {
    uint8_t x = (uint8_t)(a->bytes[i] ^ t[i]), y = (uint8_t)(b->bytes[i] ^ t[i]);
    if (x != y)
      return x < y ? -1 : 1;
  }
  return 0;
}

/* The up to K live nodes closest to target (not skip; honest: not the
 * adversarial ones either), into out (closest first); returns how many.
 * Brute force: a sorted insertion into K. */
static size_t closest_of(const dctx *d, const uint8_t *target, long skip,
                         bool honest, yz_node_id *out) {
  size_t n = 0;
  for (size_t i = 0; i < yz_sim_count(d->c.s); i++) {
    if ((long)i == skip || !yz_sim_alive(d->c.s, i) || d->dht[i] == NULL ||
        (honest && d->evil[i]))
      continue;
    const yz_node_id *id = yz_sim_id(d->c.s, i);
    if (n == K && cmp_dist(target, id, &out[K - 1]) >= 0)
      continue;
    size_t p = n < K ? n++ : K - 1;
    while (p > 0 && cmp_dist(target, id, &out[p - 1]) < 0) {
      out[p] = out[p - 1];
      p--;
    }
    out[p] = *id;
  }
  return n;
}

static size_t true_closest(const dctx *d, const uint8_t *target, long skip,
                           yz_node_id *out) {
  return closest_of(d, target, skip, false, out);
}

static bool contains(const yz_node_id *set, size_t n, const yz_node_id *id) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(set[i].bytes, id->bytes, YZ_NODE_ID_LEN) == 0)
      return true;
  return false;
}

/* Routing-table health: the share of live honest nodes whose table holds
 * all K of their true K closest live nodes (yz_dht_table_closest). */
static void table_health(dctx *d) {
  size_t nodes = 0, good = 0;
  double size_sum = 0;
  yz_node_id truth[K], got[K];
  for (size_t i = 0; i < yz_sim_count(d->c.s); i++) {
    if (!live_honest(d, i))
      continue;
    nodes++;
    size_t t = true_closest(d, yz_sim_id(d->c.s, i)->bytes, (long)i, truth);
    size_t g = yz_dht_table_closest(d->dht[i], NULL, got, K);
    size_sum += (double)yz_dht_table_size(d->dht[i]);
    size_t hit = 0;
    for (size_t j = 0; j < t; j++)
      hit += contains(got, g, &truth[j]);
    good += hit == t;
  }
  d->c.r->table_health = nodes ? (double)good / (double)nodes : 0;
  d->c.r->table_size_mean = nodes ? size_sum / (double)nodes : 0;
}

/* ---- nodes and joins ------------------------------------------------------ */

static void tune_node(sc_ctx *c, yz_node_config *cfg) {
  (void)c;
  /* lookups dial freely; the connection policy keeps links bounded */
  cfg->link.max_links = 65536;
  cfg->link_cap = 64;
}

static void put_arrived(yz_dht *dht, const uint8_t *key, const uint8_t *rec,
                        size_t len, void *arg);

static int add_dht(dctx *d, size_t i) {
  yz_dht_config cfg;
  yz_dht_config_default(&cfg);
  if (d->refs != NULL) {
    d->refs[i] = (node_ref){d, i};
    cfg.on_store = put_arrived;
    cfg.on_store_arg = &d->refs[i];
  }
  /* memnet links have no IP: all contacts would count as one subnet */
  cfg.subnet_per_bucket = UINT32_MAX;
  cfg.subnet_per_table = UINT32_MAX;
  cfg.unix_time = unix_now;
  cfg.user_data = d;
  int err = yz_dht_new(&d->dht[i], yz_sim_node(d->c.s, i), &cfg);
  if (err != 0)
    fprintf(stderr, "sim: yz_dht_new: %s\n", yz_strerror(err));
  return err;
}

/* The DHT counters of every live node, summed (docs/simulator.md). */
static void dht_sums(const dctx *d, yz_dht_stats *sum) {
  memset(sum, 0, sizeof *sum);
  for (size_t i = 0; i < yz_sim_count(d->c.s); i++) {
    if (d->dht[i] == NULL)
      continue;
    yz_dht_stats st;
    yz_dht_get_stats(d->dht[i], &st);
    sum->dials += st.dials;
    sum->dial_backs += st.dial_backs;
    sum->dial_backs_skipped += st.dial_backs_skipped;
    sum->puts_early += st.puts_early;
    sum->puts_extra += st.puts_extra;
    sum->requests_out += st.requests_out;
    sum->spread_sent += st.spread_sent;
    sum->spread_waves += st.spread_waves;
    sum->spread_forwards += st.spread_forwards;
    sum->spread_no_link += st.spread_no_link;
  }
}

/* Per joined node: link ends up, DHT dials, dial-backs (and those
 * skipped) during the joins and the settling; then per put: the dials
 * and PUT copies beyond the final k. Written into the report's note. */
static void cost_note(dctx *d, const yz_dht_stats *before_put) {
  yz_sim_report *r = d->c.r;
  double n = d->joined_ok ? (double)d->joined_ok : 1.0;
  yz_dht_stats now;
  dht_sums(d, &now);
  double puts = d->n_put ? (double)d->n_put : 1.0;
  size_t used = strlen(r->note);
  snprintf(r->note + used, sizeof r->note - used,
           "%sjoin: %.1f link ends, %.1f dials, %.1f dial-backs "
           "(%.1f skipped) per node; put: %.1f dials, %.1f extra copies, "
           "%.1f spread waves, %.1f forwards (%.1f without a link)",
           used ? "; " : "", (double)d->join_links / n,
           (double)d->join_st.dials / n, (double)d->join_st.dial_backs / n,
           (double)d->join_st.dial_backs_skipped / n,
           (double)(now.dials - before_put->dials) / puts,
           (double)(now.puts_extra - before_put->puts_extra) / puts,
           (double)(now.spread_waves - before_put->spread_waves) / puts,
           (double)(now.spread_forwards - before_put->spread_forwards) / puts,
           (double)(now.spread_no_link - before_put->spread_no_link) / puts);
  r->put_requests =
      (double)(now.requests_out - before_put->requests_out) / puts;
}

/* The node whose DHT this is. */
static size_t node_of_dht(const dctx *d, const yz_dht *dht) {
  size_t i = 0;
  while (i < d->cap && d->dht[i] != dht)
    i++;
  return i;
}

static void join_done(yz_dht *dht, const yz_dht_result *r, void *arg) {
  dctx *d = arg;
  d->pending--;
  size_t i = node_of_dht(d, dht);
  if (i < d->cap)
    d->busy_ops[i]--;
  if (r->status == 0)
    d->joined_ok++;
}

/* Join node i through node b. */
static void join_via(dctx *d, size_t i, size_t b) {
  const char *boot[1] = {yz_sim_address(d->c.s, b)};
  if (yz_dht_join(d->dht[i], boot, 1, join_done, d, NULL) == 0) {
    d->pending++;
    d->busy_ops[i]++;
  }
  yz_sim_touch(d->c.s, i);
}

static long new_node(dctx *d) {
  long i = yz_sim_add_node(d->c.s);
  if (i < 0 || add_dht(d, (size_t)i) != 0)
    return -1;
  return i;
}

static int build_network(dctx *d) {
  size_t n = d->c.o.nodes;
  d->n_boot = n / 1000 + 1;
  if (d->n_boot > 8)
    d->n_boot = 8;
  for (size_t i = 0; i < n; i++)
    if (new_node(d) < 0)
      return YZ_E_NOMEM;
  sc_progress(&d->c, "nodes created");
  /* the bootstrap nodes join through node 0, the others through one of
   * them, one join every JOIN_STAGGER_MS */
  for (size_t i = 1; i < n; i++) {
    yz_sim_run_until(d->c.s, YZ_SIM_T0_MS + i * JOIN_STAGGER_MS);
    join_via(d, i, i < d->n_boot ? 0 : i % d->n_boot);
    if (n >= 20 && i % (n / 10) == 0) {
      char what[64];
      snprintf(what, sizeof what, "%zu of %zu joining", i, n);
      sc_progress(&d->c, what);
    }
  }
  wait_ops(d);
  d->c.r->joined = d->joined_ok;
  yz_sim_run_until(d->c.s, yz_sim_now(d->c.s) + SETTLE_MS);
  sc_progress(&d->c, "joined, settled");
  /* the cost of the joins: link ends up, the DHT's dials and dial-backs */
  d->join_links = d->c.r->handshakes;
  dht_sums(d, &d->join_st);
  return 0;
}

/* ---- lookups -------------------------------------------------------------- */

static void lookup_done(yz_dht *dht, const yz_dht_result *r, void *arg) {
  (void)dht;
  op *o = arg;
  dctx *d = o->d;
  d->pending--;
  d->busy_ops[o->origin]--;
  size_t j = d->n_lk++;
  d->rounds[j] = r->stats.rounds;
  d->reqs[j] = r->stats.queried;
  d->lat[j] = (double)r->stats.elapsed_ms;
  if (r->status == 0 && r->n_closest > 0)
    d->ok_lk++;
  yz_node_id truth[K];
  size_t t = true_closest(d, o->target.bytes, -1, truth);
  size_t hit = 0;
  for (size_t i = 0; i < r->n_closest; i++)
    hit += contains(truth, t, &r->closest[i].id);
  d->recall_sum += t ? (double)hit / (double)t : 1.0;
  free(o);
}

/* Start count lookups of random targets from random live honest nodes,
 * one every gap_ms; with wait, run until they are done. */
static void start_lookups(dctx *d, unsigned count, uint64_t gap_ms,
                          bool wait) {
  for (unsigned j = 0; j < count && d->started < d->c.o.lookups; j++) {
    if (j > 0)
      yz_sim_run_until(d->c.s, yz_sim_now(d->c.s) + gap_ms);
    op *o = calloc(1, sizeof *o);
    if (o == NULL)
      break;
    size_t origin = pick_origin(d);
    o->d = d;
    o->origin = origin;
    randombytes_buf(o->target.bytes, sizeof o->target.bytes);
    if (yz_dht_find_node(d->dht[origin], &o->target, NULL, lookup_done, o,
                         NULL) == 0) {
      d->pending++;
      d->busy_ops[origin]++;
      d->started++;
    } else {
      free(o);
    }
    yz_sim_touch(d->c.s, origin);
  }
  if (wait)
    wait_ops(d);
}

static void lookups_report(dctx *d) {
  yz_sim_report *r = d->c.r;
  r->lookups = d->n_lk;
  r->lookups_ok = d->ok_lk;
  r->recall = d->n_lk ? d->recall_sum / (double)d->n_lk : 0;
  yz_sim_dist_of(&r->rounds, d->rounds, d->n_lk);
  yz_sim_dist_of(&r->requests, d->reqs, d->n_lk);
  yz_sim_dist_of(&r->latency_ms, d->lat, d->n_lk);
}

/* ---- records -------------------------------------------------------------- */

static void put_done(yz_dht *dht, const yz_dht_result *r, void *arg) {
  (void)dht;
  dctx *d = arg;
  d->pending--;
  size_t j = d->n_put++;
  d->put_ms[j] = (double)r->stats.elapsed_ms;
  d->put_stored[j] = r->stored;
  if (r->status == 0 && r->stored > 0)
    d->ok_put++;
}

/* The DHT's store event: node ref->i stored a record new to it. If that
 * is the record of a put being followed and the node one of its true K
 * closest, it is there; when all of them are, the put's time to the k
 * closest is taken (any path: the writer's store, a spread, a hand-off). */
static void put_arrived(yz_dht *dht, const uint8_t *key, const uint8_t *rec,
                        size_t len, void *arg) {
  (void)dht;
  (void)rec;
  (void)len;
  node_ref *ref = arg;
  dctx *d = ref->d;
  const yz_node_id *id = yz_sim_id(d->c.s, ref->i);
  for (size_t j = 0; j < d->n_rec; j++) {
    put_track *t = &d->track[j];
    if (!t->active || memcmp(d->keys[j], key, YZ_DHTREC_KEY_LEN) != 0)
      continue;
    for (size_t m = 0; m < t->n_truth; m++) {
      if (t->have[m] || memcmp(t->truth[m].bytes, id->bytes,
                               YZ_NODE_ID_LEN) != 0)
        continue;
      t->have[m] = true;
      if (++t->n_have == t->n_truth) {
        t->active = false;
        d->put_k_ms[d->n_put_k++] = (double)(yz_sim_now(d->c.s) - t->start);
      }
    }
  }
}

/* Put n_rec immutable records (64 random bytes, a day to live) from
 * random live honest nodes. */
static void put_records(dctx *d) {
  yz_dht_stats before;
  dht_sums(d, &before);
  d->n_put_k = 0;
  for (size_t j = 0; j < d->n_rec; j++) {
    if (j > 0)
      yz_sim_run_until(d->c.s, yz_sim_now(d->c.s) + OP_GAP_MS);
    uint8_t value[64];
    randombytes_buf(value, sizeof value);
    yz_dhtrec rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = YZ_DHTREC_IMMUTABLE;
    rec.value = value;
    rec.value_len = sizeof value;
    rec.expiry = unix_now(d) + 24 * 3600;
    uint8_t buf[512];
    size_t len;
    if (yz_dhtrec_derive_key(&rec) != 0 ||
        yz_dhtrec_encode(&rec, buf, sizeof buf, &len) != 0)
      continue;
    memcpy(d->keys[j], rec.key, YZ_DHTREC_KEY_LEN);
    put_track *t = &d->track[j];
    memset(t, 0, sizeof *t);
    t->start = yz_sim_now(d->c.s);
    /* adversarial nodes answer OK and store nothing: the honest ones */
    t->n_truth = closest_of(d, rec.key, -1, true, t->truth);
    t->active = t->n_truth > 0;
    size_t origin = pick_origin(d);
    if (yz_dht_put(d->dht[origin], buf, len, NULL, put_done, d, NULL) == 0)
      d->pending++;
    yz_sim_touch(d->c.s, origin);
  }
  wait_ops(d);
  yz_sim_report *r = d->c.r;
  r->puts = d->n_put;
  r->puts_ok = d->ok_put;
  yz_sim_dist_of(&r->put_ms, d->put_ms, d->n_put);
  yz_sim_dist_of(&r->put_stored, d->put_stored, d->n_put);
  r->puts_on_k = d->n_put_k;
  yz_sim_dist_of(&r->put_k_ms, d->put_k_ms, d->n_put_k);
  for (size_t j = 0; j < d->n_rec; j++)
    d->track[j].active = false;
  cost_note(d, &before);
  sc_progress(&d->c, "records put");
}

static void get_done(yz_dht *dht, const yz_dht_result *r, void *arg) {
  (void)dht;
  dctx *d = arg;
  d->pending--;
  d->gets++;
  if (r->status == 0 && r->record != NULL)
    d->found++;
}

/* GET every record from a random live honest node; one availability
 * sample, at t_s virtual seconds after the scenario's event. */
static void sample_availability(dctx *d, double t_s) {
  d->gets = d->found = 0;
  for (size_t j = 0; j < d->n_rec; j++) {
    if (j > 0)
      yz_sim_run_until(d->c.s, yz_sim_now(d->c.s) + OP_GAP_MS);
    size_t origin = pick_origin(d);
    yz_dht_op_opts oo;
    memset(&oo, 0, sizeof oo);
    oo.latest = false;
    if (yz_dht_get(d->dht[origin], d->keys[j], &oo, get_done, d, NULL) == 0)
      d->pending++;
    yz_sim_touch(d->c.s, origin);
  }
  wait_ops(d);
  yz_sim_report *r = d->c.r;
  if (r->n_avail < YZ_SIM_AVAIL_MAX) {
    r->avail[r->n_avail].t_s = t_s;
    r->avail[r->n_avail].gets = d->gets;
    r->avail[r->n_avail].found = d->found;
    r->n_avail++;
  }
  sc_progress(&d->c, "availability sampled");
}

/* ---- kills and churn ----------------------------------------------------- */

static void kill_share(dctx *d, unsigned pct) {
  size_t n = yz_sim_count(d->c.s), want = n * pct / 100, done = 0;
  while (done < want) {
    size_t i = yz_sim_uniform((uint32_t)n);
    if (!yz_sim_alive(d->c.s, i))
      continue;
    yz_sim_kill(d->c.s, i);
    done++;
  }
  d->c.r->killed += done;
}

static void churn(dctx *d) {
  size_t n = d->c.o.nodes, swaps = n * CHURN_PCT / 100;
  if (swaps == 0)
    swaps = 1;
  uint64_t gap = CHURN_MS / swaps, t0 = yz_sim_now(d->c.s);
  /* lookups run through the churn: one every churn step */
  for (size_t j = 0; j < swaps; j++) {
    yz_sim_run_until(d->c.s, t0 + j * gap);
    size_t victim;
    do
      victim = yz_sim_uniform((uint32_t)yz_sim_count(d->c.s));
    while (!yz_sim_alive(d->c.s, victim) || d->busy_ops[victim] > 0);
    yz_sim_kill(d->c.s, victim);
    d->c.r->killed++;
    long i = new_node(d);
    if (i < 0)
      break;
    join_via(d, (size_t)i, pick_origin(d));
    if (j % 2 == 0)
      start_lookups(d, 1, 0, false);
  }
  wait_ops(d);
  d->c.r->joined = d->joined_ok;
  sc_progress(&d->c, "churn done");
}

/* ---- the adversary --------------------------------------------------------- */

/* Made-up contacts: validly signed records of N_FAKE nodes that do not
 * exist (no listener at their address). */
static int make_fakes(dctx *d) {
  d->fake = calloc(N_FAKE, sizeof *d->fake);
  d->fake_len = calloc(N_FAKE, sizeof *d->fake_len);
  d->fake_id = calloc(N_FAKE, sizeof *d->fake_id);
  if (d->fake == NULL || d->fake_len == NULL || d->fake_id == NULL)
    return YZ_E_NOMEM;
  for (size_t j = 0; j < N_FAKE; j++) {
    uint8_t seed[YZ_IDENTITY_SEED_LEN];
    randombytes_buf(seed, sizeof seed);
    yz_identity id;
    if (yz_identity_from_seed(&id, seed) != 0)
      return YZ_E_INVAL;
    yz_record r;
    memset(&r, 0, sizeof r);
    char url[64];
    snprintf(url, sizeof url, "ws://10.0.0.1:%u/", (unsigned)(50000 + j));
    r.seq = 1;
    r.expiry = unix_now(d) + 7 * 24 * 3600;
    r.node_type = YZ_WIRE_NODE_COMMUNITY;
    r.capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE;
    uint8_t buf[YZ_RECORD_MAX_LEN];
    size_t len;
    int err = yz_record_set_network(&r, "yz-sim");
    if (err == 0)
      err = yz_record_add_address(&r, url, YZ_WIRE_CLIENT_WS, NULL);
    if (err == 0)
      err = yz_record_sign(&r, &id, NULL);
    if (err == 0)
      err = yz_record_encode(&r, buf, sizeof buf, &len);
    yz_identity_clear(&id);
    if (err != 0)
      return err;
    d->fake[j] = malloc(len);
    if (d->fake[j] == NULL)
      return YZ_E_NOMEM;
    memcpy(d->fake[j], buf, len);
    d->fake_len[j] = len;
    d->fake_id[j] = r.node_id;
  }
  return 0;
}

/* The adversarial handler of protocol 2: every lookup request is answered
 * with the K made-up contacts closest to its target (so they look
 * promising), a GET never has the record, a PUT or PROVIDE is acknowledged
 * and dropped. */
static void evil_request(yz_node *node, const yz_node_incoming *req,
                         const uint8_t *data, size_t len, void *ud) {
  dctx *d = ud;
  yz_dht_msg m;
  if (yz_dht_msg_decode(&m, data, len, NULL, NULL) != 0) {
    (void)yz_node_respond_error(node, req, YZ_NODE_ERR_FAILED, "malformed");
    return;
  }
  yz_dht_msg out;
  switch (m.type) {
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET:
  case YZ_DHT_GET_PROVIDERS: {
    yz_dht_msg_init(&out, m.type == YZ_DHT_FIND_NODE ? YZ_DHT_FIND_NODE_RESP
                          : m.type == YZ_DHT_GET     ? YZ_DHT_GET_RESP
                                                     : YZ_DHT_GET_PROVIDERS_RESP);
    size_t best[K], nb = 0;
    for (size_t j = 0; j < N_FAKE; j++) {
      if (nb == K &&
          cmp_dist(m.target, &d->fake_id[j], &d->fake_id[best[K - 1]]) >= 0)
        continue;
      size_t p = nb < K ? nb++ : K - 1;
      while (p > 0 &&
             cmp_dist(m.target, &d->fake_id[j], &d->fake_id[best[p - 1]]) < 0) {
        best[p] = best[p - 1];
        p--;
      }
      best[p] = j;
    }
    out.n_closer = nb;
    for (size_t j = 0; j < nb; j++) {
      out.closer[j].ptr = d->fake[best[j]];
      out.closer[j].len = d->fake_len[best[j]];
    }
    break;
  }
  case YZ_DHT_PUT:
  case YZ_DHT_PROVIDE:
    yz_dht_msg_init(&out, YZ_DHT_STATUS);
    out.status = YZ_DHT_OK;
    break;
  default:
    (void)yz_node_respond_error(node, req, YZ_NODE_ERR_NO_HANDLER, NULL);
    return;
  }
  static uint8_t buf[64 * 1024];
  size_t n;
  if (yz_dht_msg_encode(&out, NULL, buf, sizeof buf, &n, NULL) != 0) {
    (void)yz_node_respond_error(node, req, YZ_NODE_ERR_FAILED, "encode");
    return;
  }
  (void)yz_node_respond(node, req, buf, n);
}

/* Turn pct % of the nodes (not the bootstrap nodes) adversarial: their
 * protocol 2 handler is replaced by evil_request. They stay in the tables
 * they joined honestly. */
static int turn_evil(dctx *d, unsigned pct) {
  int err = make_fakes(d);
  if (err != 0)
    return err;
  size_t n = yz_sim_count(d->c.s), want = n * pct / 100, done = 0;
  const yz_node_protocol p = {NULL, evil_request};
  while (done < want) {
    size_t i = yz_sim_uniform((uint32_t)n);
    if (i < d->n_boot || d->evil[i])
      continue;
    if (yz_node_register(yz_sim_node(d->c.s, i), YZ_DHT_PROTO, &p, d) != 0)
      return YZ_E_NOMEM;
    d->evil[i] = true;
    done++;
  }
  return 0;
}

/* ---- the scenarios ----------------------------------------------------------- */

static bool dht_stopping(void *ud) { return ((dctx *)ud)->pending > 0; }

static void dht_stopped(yz_dht *dht, void *arg) {
  (void)dht;
  ((dctx *)arg)->pending--;
}

static void teardown(dctx *d) {
  if (d->c.s != NULL) {
    for (size_t i = 0; i < yz_sim_count(d->c.s); i++)
      if (d->dht[i] != NULL) {
        d->pending++;
        yz_dht_stop(d->dht[i], dht_stopped, d);
        yz_sim_touch(d->c.s, i);
      }
    yz_sim_run_while(d->c.s, dht_stopping, d, yz_sim_now(d->c.s) + 60000);
    lookups_report(d);
    if (d->child) {
      sc_end_unfreed(&d->c);
      return;
    }
    sc_end(&d->c);
  }
  for (size_t i = 0; i < d->cap; i++)
    yz_dht_free(d->dht[i]);
  if (d->fake != NULL)
    for (size_t j = 0; j < N_FAKE; j++)
      free(d->fake[j]);
  free(d->fake);
  free(d->fake_len);
  free(d->fake_id);
  free(d->dht);
  free(d->evil);
  free(d->busy_ops);
  free(d->rounds);
  free(d->reqs);
  free(d->lat);
  free(d->keys);
  free(d->put_ms);
  free(d->put_stored);
  free(d->refs);
  free(d->track);
  free(d->put_k_ms);
}

static bool dht_name(const char *name) {
  return yz_sim_scenario_is_dht(name);
}

/* What every DHT scenario does first, the same whichever it is (so a
 * forked scenario starts from the state its standalone run reaches): the
 * capacity with room for churn's newcomers, the nodes, the joins, the
 * settling, the routing-table health. NULL on error (*err; the report
 * then has what was measured). */
static dctx *dht_prepare(const char *label, const yz_sim_opts *o,
                         yz_sim_report *r, int *err) {
  *err = YZ_E_NOMEM;
  dctx *d = calloc(1, sizeof *d);
  if (d == NULL)
    return NULL;
  d->cap = o->nodes + o->nodes * CHURN_PCT / 100 + 1;
  d->n_rec = o->records;
  size_t nl = o->lookups;
  d->dht = calloc(d->cap, sizeof *d->dht);
  d->evil = calloc(d->cap, sizeof *d->evil);
  d->busy_ops = calloc(d->cap, sizeof *d->busy_ops);
  d->rounds = calloc(nl + 1, sizeof *d->rounds);
  d->reqs = calloc(nl + 1, sizeof *d->reqs);
  d->lat = calloc(nl + 1, sizeof *d->lat);
  d->keys = calloc(d->n_rec + 1, sizeof *d->keys);
  d->put_ms = calloc(d->n_rec + 1, sizeof *d->put_ms);
  d->put_stored = calloc(d->n_rec + 1, sizeof *d->put_stored);
  d->refs = calloc(d->cap, sizeof *d->refs);
  d->track = calloc(d->n_rec + 1, sizeof *d->track);
  d->put_k_ms = calloc(d->n_rec + 1, sizeof *d->put_k_ms);
  if (d->dht == NULL || d->evil == NULL || d->busy_ops == NULL ||
      d->rounds == NULL || d->reqs == NULL || d->lat == NULL ||
      d->keys == NULL ||
      d->put_ms == NULL || d->put_stored == NULL || d->refs == NULL ||
      d->track == NULL || d->put_k_ms == NULL)
    goto fail;
  d->c.tune = tune_node;
  *err = sc_begin(&d->c, label, o, r, d->cap);
  if (*err != 0)
    goto fail;
  yz_sim_layer layer = {layer_deadline, layer_run, d};
  yz_sim_set_layer(d->c.s, &layer);
  *err = build_network(d);
  if (*err != 0)
    goto fail;
  table_health(d);
  sc_progress(&d->c, "table health measured");
  r->join_wall_ms = yz_sim_wall_ms() - d->c.wall0;
  r->join_peak_rss_kib = yz_sim_peak_rss_kib();
  return d;
fail:
  teardown(d);
  free(d);
  return NULL;
}

/* The scenario's own phase, from the prepared network. */
static int dht_phase(dctx *d, const char *name) {
  snprintf(d->c.r->scenario, sizeof d->c.r->scenario, "%s", name);
  const yz_sim_opts *o = &d->c.o;
  unsigned kill_pct = strcmp(name, "kill30") == 0   ? 30
                      : strcmp(name, "kill50") == 0 ? 50
                                                    : 0;
  if (strcmp(name, "adversarial") == 0) {
    int err = turn_evil(d, 10);
    if (err != 0)
      return err;
    /* over the honest nodes only, as the lookups are measured */
    table_health(d);
    sc_progress(&d->c, "turned 10 % adversarial");
  }
  if (kill_pct > 0) {
    put_records(d);
    kill_share(d, kill_pct);
    sc_progress(&d->c, "killed");
    sample_availability(d, 0);
    yz_sim_run_until(d->c.s, yz_sim_now(d->c.s) + 60000);
    sample_availability(d, 60);
    start_lookups(d, o->lookups, OP_GAP_MS, true);
  } else if (strcmp(name, "churn") == 0) {
    put_records(d);
    churn(d);
    start_lookups(d, o->lookups, OP_GAP_MS, true);
    sample_availability(d, CHURN_MS / 1000);
  } else {
    start_lookups(d, o->lookups, OP_GAP_MS, true);
    sc_progress(&d->c, "lookups done");
    put_records(d);
    sample_availability(d, 0);
  }
  return 0;
}

int sc_run_dht(const char *name, const yz_sim_opts *o, yz_sim_report *r) {
  if (!dht_name(name))
    return YZ_E_INVAL;
  int err;
  dctx *d = dht_prepare(name, o, r, &err);
  if (d == NULL)
    return err;
  err = dht_phase(d, name);
  teardown(d);
  free(d);
  return err;
}

/* ---- one join, a child per scenario (yz_sim_dht_forked) ------------------- */

/* What a child sends back: its phase's result and its report. */
typedef struct fork_msg {
  int32_t err;
  yz_sim_report r;
} fork_msg;

typedef struct fork_kid {
  pid_t pid;
  int fd;      /* the pipe's read end; -1 once closed */
  size_t got;  /* bytes of msg read */
  fork_msg msg;
  bool done;
  char failure[96];
} fork_kid;

/* The private memory of this process (Private_Clean + Private_Dirty of
 * /proc/self/smaps_rollup), KiB; 0 if unknown. Read with bounded lines. */
static uint64_t private_kib(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (f == NULL)
    return 0;
  char line[256];
  uint64_t sum = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long long v;
    if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
        sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
      sum += v;
  }
  fclose(f);
  return sum;
}

static bool write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    b += w;
    n -= (size_t)w;
  }
  return true;
}

/* The child's life: its own loop state, its phase, its report down the
 * pipe, then _exit (no atexit handlers, no stdio buffers of the parent
 * flushed twice). */
static _Noreturn void fork_child(dctx *d, const char *name, int fd,
                                 const yz_sim_fork_opts *fo) {
  int status = 0;
  if (yz_sim_after_fork(d->c.s) != 0)
    _exit(3);
  if (fo->in_child != NULL)
    fo->in_child(fo->ud, name);
  yz_sim_report *r = d->c.r;
  /* the wall time as a standalone run would count it: the shared join,
   * then this child's own time */
  d->c.wall0 = yz_sim_wall_ms() - r->join_wall_ms;
  r->forked = true;
  d->child = true;
  fork_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.err = dht_phase(d, name);
  r->child_private_kib = private_kib();
  teardown(d);
  msg.r = *r;
  if (!write_all(fd, &msg, sizeof msg))
    status = 4;
  _exit(status);
}

static void fork_describe(fork_kid *k, int ws) {
  if (WIFSIGNALED(ws))
    snprintf(k->failure, sizeof k->failure, "killed by signal %d (%s)",
             WTERMSIG(ws), strsignal(WTERMSIG(ws)));
  else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
    snprintf(k->failure, sizeof k->failure, "exited with status %d",
             WEXITSTATUS(ws));
  else if (k->got != sizeof k->msg)
    snprintf(k->failure, sizeof k->failure,
             "exited without a whole report (%zu of %zu bytes)", k->got,
             sizeof k->msg);
  else if (k->msg.err != 0)
    snprintf(k->failure, sizeof k->failure, "%s", yz_strerror(k->msg.err));
}

static void fork_start(dctx *d, const char *name, fork_kid *kids, size_t n,
                       fork_kid *k, const yz_sim_fork_opts *fo) {
  int p[2];
  fflush(NULL); /* nothing buffered is written twice */
  if (pipe(p) != 0) {
    snprintf(k->failure, sizeof k->failure, "pipe: %s", strerror(errno));
    k->done = true;
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(k->failure, sizeof k->failure, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    k->done = true;
    return;
  }
  if (pid == 0) {
    close(p[0]);
    for (size_t j = 0; j < n; j++)
      if (kids[j].fd >= 0)
        close(kids[j].fd);
    fork_child(d, name, p[1], fo);
  }
  close(p[1]);
  k->pid = pid;
  k->fd = p[0];
}

/* Read what the running children sent; reap those whose pipe ended.
 * Returns how many ended. */
static size_t fork_poll(fork_kid *kids, size_t n) {
  struct pollfd pf[64];
  size_t idx[64], m = 0;
  for (size_t j = 0; j < n && m < 64; j++)
    if (kids[j].fd >= 0) {
      pf[m].fd = kids[j].fd;
      pf[m].events = POLLIN;
      pf[m].revents = 0;
      idx[m++] = j;
    }
  if (m == 0)
    return 0;
  if (poll(pf, (nfds_t)m, -1) < 0)
    return 0; /* EINTR: the caller polls again */
  size_t ended = 0;
  for (size_t q = 0; q < m; q++) {
    if (pf[q].revents == 0)
      continue;
    fork_kid *k = &kids[idx[q]];
    uint8_t *dst = (uint8_t *)&k->msg;
    uint8_t spill[256];
    ssize_t got = k->got < sizeof k->msg
                      ? read(k->fd, dst + k->got, sizeof k->msg - k->got)
                      : read(k->fd, spill, sizeof spill); /* too much: drop */
    if (got < 0 && errno == EINTR)
      continue;
    if (got > 0) {
      if (k->got < sizeof k->msg)
        k->got += (size_t)got;
      continue;
    }
    /* end of the pipe (or an error): the child has exited or is exiting */
    close(k->fd);
    k->fd = -1;
    int ws = 0;
    while (waitpid(k->pid, &ws, 0) < 0 && errno == EINTR)
      ;
    fork_describe(k, ws);
    k->done = true;
    ended++;
  }
  return ended;
}

int yz_sim_dht_forked(const char *const *names, size_t n,
                      const yz_sim_opts *o, const yz_sim_fork_opts *fo) {
  if (n == 0 || n > 64)
    return YZ_E_INVAL;
  for (size_t j = 0; j < n; j++)
    if (!dht_name(names[j]))
      return YZ_E_INVAL;
  fork_kid *kids = calloc(n, sizeof *kids);
  yz_sim_report *shared = malloc(sizeof *shared);
  if (kids == NULL || shared == NULL) {
    free(kids);
    free(shared);
    return YZ_E_NOMEM;
  }
  for (size_t j = 0; j < n; j++)
    kids[j].fd = -1;
  int err;
  dctx *d = dht_prepare("shared", o, shared, &err);
  if (d == NULL) {
    free(kids);
    free(shared);
    return err;
  }
  unsigned jobs = fo->jobs > 0 ? fo->jobs : 1;
  size_t next = 0, running = 0, emitted = 0, failed = 0;
  while (emitted < n) {
    while (running < jobs && next < n) {
      fork_start(d, names[next], kids, n, &kids[next], fo);
      if (!kids[next].done)
        running++;
      next++;
    }
    for (; emitted < n && kids[emitted].done; emitted++) {
      fork_kid *k = &kids[emitted];
      bool ok = k->failure[0] == '\0';
      failed += !ok;
      if (fo->on_report != NULL)
        fo->on_report(fo->ud, names[emitted], ok ? &k->msg.r : NULL,
                      ok ? NULL : k->failure);
    }
    if (running > 0)
      running -= fork_poll(kids, n);
  }
  /* the parent's copy of the network: stopped and freed as a run's */
  teardown(d);
  free(d);
  free(kids);
  free(shared);
  return (int)failed;
}

/* ---- the DHT network under other scenarios (scenario_int.h) ------------- */

dctx *sc_dht_open(const char *name, const yz_sim_opts *o, yz_sim_report *r,
                  size_t cap, int *err) {
  *err = YZ_E_NOMEM;
  dctx *d = calloc(1, sizeof *d);
  if (d == NULL)
    return NULL;
  d->cap = cap;
  d->dht = calloc(cap, sizeof *d->dht);
  d->evil = calloc(cap, sizeof *d->evil);
  d->busy_ops = calloc(cap, sizeof *d->busy_ops);
  d->rounds = calloc(1, sizeof *d->rounds);
  d->reqs = calloc(1, sizeof *d->reqs);
  d->lat = calloc(1, sizeof *d->lat);
  if (d->dht == NULL || d->evil == NULL || d->busy_ops == NULL ||
      d->rounds == NULL ||
      d->reqs == NULL || d->lat == NULL) {
    teardown(d);
    free(d);
    return NULL;
  }
  d->c.tune = tune_node;
  *err = sc_begin(&d->c, name, o, r, cap);
  if (*err != 0) {
    teardown(d);
    free(d);
    return NULL;
  }
  yz_sim_layer layer = {layer_deadline, layer_run, d};
  yz_sim_set_layer(d->c.s, &layer);
  return d;
}

sc_ctx *sc_dht_ctx(dctx *d) { return &d->c; }
int sc_dht_build(dctx *d) { return build_network(d); }
yz_dht *sc_dht_of(dctx *d, size_t i) { return d->dht[i]; }
long sc_dht_add_node(dctx *d) { return new_node(d); }
void sc_dht_join(dctx *d, size_t i, size_t via) { join_via(d, i, via); }

void sc_dht_forget(dctx *d, size_t i) {
  yz_dht_free(d->dht[i]);
  d->dht[i] = NULL;
}

uint64_t sc_dht_layer_deadline(yz_sim *s, size_t i, void *ud) {
  return layer_deadline(s, i, ud);
}

void sc_dht_layer_run(yz_sim *s, size_t i, void *ud) { layer_run(s, i, ud); }

void sc_dht_close(dctx *d) {
  if (d == NULL)
    return;
  teardown(d);
  free(d);
}
