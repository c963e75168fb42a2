/*
 * tools/sim/sim.c: the simulator's driver (sim.h, docs/simulator.md).
 *
 * The cost per virtual instant must not grow with N: the earliest node
 * deadline comes from an indexed min-heap over the nodes, and only the
 * nodes an instant touched (a delivery from the network, a timer run, a
 * call from a scenario) have their deadline recomputed. libuv walks every
 * async handle of the loop on each async wake-up, so the loop runs once
 * per instant (UV_RUN_NOWAIT), after all of the instant's deliveries.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "yz/identity.h"

typedef struct snode {
  yz_node *node;
  yz_link_manager *mgr;
  char addr[128];
  uint64_t deadline; /* in the heap when not UINT64_MAX */
  uint32_t hpos;
  bool killed;
  bool touched;
  bool stopped;
  bool crashed; /* yz_sim_crash(): stopping or stopped */
} snode;

struct yz_sim {
  yz_sim_config cfg;
  uv_loop_t loop;
  yz_link_memnet *net;
  uint64_t now;
  snode *nodes;
  size_t n, cap;
  uint32_t *heap; /* node indexes, min-heap on deadline */
  size_t heap_len;
  size_t *touched;
  size_t n_touched;
  /* manager -> node index, open addressing (pointer keys) */
  yz_link_manager **mkeys;
  size_t *mvals;
  size_t mcap;
  yz_sim_layer layer;
  bool has_layer;
  uint64_t next_sweep;
  yz_sim_stats stats;
};

/* ---- deterministic randomness ------------------------------------------ */

static uint8_t rb_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t rb_block;
static uint8_t rb_pool[4096];
static size_t rb_pos = sizeof rb_pool;

static void rb_refill(void) {
  uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
  for (int i = 0; i < 8; i++)
    nonce[i] = (uint8_t)(rb_block >> (8 * i));
  rb_block++;
  crypto_stream_chacha20(rb_pool, sizeof rb_pool, nonce, rb_key);
  rb_pos = 0;
}

static void rb_buf(void *const p, const size_t n) {
  uint8_t *o = p;
  size_t left = n;
  while (left > 0) {
    if (rb_pos == sizeof rb_pool)
      rb_refill();
    size_t k = sizeof rb_pool - rb_pos;
    if (k > left)
      k = left;
    memcpy(o, rb_pool + rb_pos, k);
    rb_pos += k;
    o += k;
    left -= k;
  }
}

static uint32_t rb_random(void) {
  uint32_t v;
  rb_buf(&v, sizeof v);
  return v;
}

static const char *rb_name(void) { return "yz-sim-seeded"; }
static void rb_stir(void) {}
static int rb_close(void) { return 0; }

static struct randombytes_implementation rb_impl = {
    .implementation_name = rb_name,
    .random = rb_random,
    .stir = rb_stir,
    .uniform = NULL,
    .buf = rb_buf,
    .close = rb_close,
};

static void rb_seed(uint64_t seed) {
  uint8_t in[16] = "yz-sim-random";
  for (int i = 0; i < 8; i++)
    in[8 + i] ^= (uint8_t)(seed >> (8 * i));
  crypto_generichash(rb_key, sizeof rb_key, in, sizeof in, NULL, 0);
  rb_block = 0;
  rb_pos = sizeof rb_pool;
  randombytes_set_implementation(&rb_impl);
}

uint32_t yz_sim_uniform(uint32_t n) { return randombytes_uniform(n); }

/* ---- the clock ----------------------------------------------------------- */

static uint64_t sim_clock(void *ud) { return ((yz_sim *)ud)->now; }

uint64_t yz_sim_now(const yz_sim *s) { return s->now; }
uv_loop_t *yz_sim_loop(yz_sim *s) { return &s->loop; }

int yz_sim_after_fork(yz_sim *s) {
  return uv_loop_fork(&s->loop) == 0 ? 0 : YZ_E_IO;
}
yz_link_memnet *yz_sim_net(yz_sim *s) { return s->net; }
size_t yz_sim_count(const yz_sim *s) { return s->n; }
yz_node *yz_sim_node(const yz_sim *s, size_t i) { return s->nodes[i].node; }
const yz_node_id *yz_sim_id(const yz_sim *s, size_t i) {
  return yz_node_get_id(s->nodes[i].node);
}
const char *yz_sim_address(const yz_sim *s, size_t i) {
  return s->nodes[i].addr;
}
bool yz_sim_alive(const yz_sim *s, size_t i) {
  return !s->nodes[i].killed && !s->nodes[i].crashed;
}
void yz_sim_get_stats(const yz_sim *s, yz_sim_stats *out) { *out = s->stats; }

void yz_sim_set_layer(yz_sim *s, const yz_sim_layer *layer) {
  s->layer = *layer;
  s->has_layer = true;
}

/* ---- the deadline index ----------------------------------------------- */

static void hswap(yz_sim *s, size_t a, size_t b) {
  uint32_t x = s->heap[a];
  s->heap[a] = s->heap[b];
  s->heap[b] = x;
  s->nodes[s->heap[a]].hpos = (uint32_t)a;
  s->nodes[s->heap[b]].hpos = (uint32_t)b;
}

static uint64_t hkey(const yz_sim *s, size_t pos) {
  return s->nodes[s->heap[pos]].deadline;
}

static void hfix(yz_sim *s, size_t i) {
  while (i > 0 && hkey(s, (i - 1) / 2) > hkey(s, i)) {
    hswap(s, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t c = 2 * i + 1, m = i;
    if (c < s->heap_len && hkey(s, c) < hkey(s, m))
      m = c;
    if (c + 1 < s->heap_len && hkey(s, c + 1) < hkey(s, m))
      m = c + 1;
    if (m == i)
      break;
    hswap(s, i, m);
    i = m;
  }
}

static void set_deadline(yz_sim *s, size_t i, uint64_t d) {
  snode *x = &s->nodes[i];
  if (x->killed || x->stopped)
    d = UINT64_MAX;
  bool in = x->deadline != UINT64_MAX;
  x->deadline = d;
  if (in && d == UINT64_MAX) {
    size_t p = x->hpos, last = s->heap_len - 1;
    if (p != last)
      hswap(s, p, last);
    s->heap_len--;
    if (p != last)
      hfix(s, p);
  } else if (!in && d != UINT64_MAX) {
    x->hpos = (uint32_t)s->heap_len;
    s->heap[s->heap_len++] = (uint32_t)i;
    hfix(s, x->hpos);
  } else if (in) {
    hfix(s, x->hpos);
  }
}

static uint64_t node_deadline(yz_sim *s, size_t i) {
  snode *x = &s->nodes[i];
  uint64_t d = yz_node_next_deadline(x->node);
  if (s->has_layer) {
    uint64_t e = s->layer.next_deadline(s, i, s->layer.ud);
    if (e < d)
      d = e;
  }
  return d;
}

void yz_sim_touch(yz_sim *s, size_t i) {
  if (!s->nodes[i].touched) {
    s->nodes[i].touched = true;
    s->touched[s->n_touched++] = i;
  }
}

static void refresh_touched(yz_sim *s) {
  for (size_t k = 0; k < s->n_touched; k++) {
    size_t i = s->touched[k];
    s->nodes[i].touched = false;
    set_deadline(s, i, node_deadline(s, i));
  }
  s->n_touched = 0;
}

/* ---- manager -> node ---------------------------------------------------- */

static size_t mhash(const yz_link_manager *m, size_t cap) {
  uint64_t v = (uint64_t)(uintptr_t)m;
  v ^= v >> 33;
  v *= 0xff51afd7ed558ccdull;
  v ^= v >> 33;
  return (size_t)(v & (cap - 1));
}

static void on_touch(yz_link_manager *m, void *ud) {
  yz_sim *s = ud;
  for (size_t h = mhash(m, s->mcap);; h = (h + 1) & (s->mcap - 1)) {
    if (s->mkeys[h] == m) {
      yz_sim_touch(s, s->mvals[h]);
      return;
    }
    if (s->mkeys[h] == NULL)
      return; /* not a node of ours */
  }
}

/* ---- life --------------------------------------------------------------- */

int yz_sim_new(yz_sim **out, const yz_sim_config *cfg) {
  *out = NULL;
  if (sodium_init() < 0)
    return YZ_E_IO;
  rb_seed(cfg->seed);
  yz_sim *s = calloc(1, sizeof *s);
  if (s == NULL)
    return YZ_E_NOMEM;
  s->cfg = *cfg;
  s->cap = cfg->max_nodes;
  s->nodes = calloc(s->cap, sizeof *s->nodes);
  s->heap = calloc(s->cap, sizeof *s->heap);
  s->touched = calloc(s->cap, sizeof *s->touched);
  s->mcap = 16;
  while (s->mcap < 2 * s->cap)
    s->mcap *= 2;
  s->mkeys = calloc(s->mcap, sizeof *s->mkeys);
  s->mvals = calloc(s->mcap, sizeof *s->mvals);
  if (s->nodes == NULL || s->heap == NULL || s->touched == NULL ||
      s->mkeys == NULL || s->mvals == NULL || uv_loop_init(&s->loop) != 0)
    goto nomem;
  s->now = YZ_SIM_T0_MS;
  s->next_sweep = s->now + 1000;
  if (yz_link_memnet_new(&s->net, &s->loop) != 0)
    goto nomem_loop;
  yz_link_memnet_model md = {.clock_ms = sim_clock,
                             .clock_ud = s,
                             .seed = cfg->seed,
                             .latency_ms = cfg->latency_ms,
                             .spread = cfg->spread,
                             .loss = cfg->loss,
                             .on_touch = on_touch,
                             .touch_ud = s};
  int err = yz_link_memnet_set_model(s->net, &md);
  if (err != 0) {
    yz_link_memnet_free(s->net);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&s->loop);
    free(s->nodes);
    free(s->heap);
    free(s->touched);
    free(s->mkeys);
    free(s->mvals);
    free(s);
    return err;
  }
  *out = s;
  return 0;
nomem_loop:
  (void)uv_loop_close(&s->loop);
nomem:
  free(s->nodes);
  free(s->heap);
  free(s->touched);
  free(s->mkeys);
  free(s->mvals);
  free(s);
  return YZ_E_NOMEM;
}

long yz_sim_add_node(yz_sim *s) {
  if (s->n == s->cap)
    return -1;
  size_t i = s->n;
  snode *x = &s->nodes[i];
  memset(x, 0, sizeof *x);
  x->deadline = UINT64_MAX;
  /* the identity from the seed and the index */
  uint8_t in[24] = "yz-sim-identity";
  for (int b = 0; b < 8; b++) {
    in[16 + b] = (uint8_t)(s->cfg.seed >> (8 * b));
    in[8 + b] ^= (uint8_t)((uint64_t)i >> (8 * b));
  }
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  crypto_generichash(seed, sizeof seed, in, sizeof in, NULL, 0);
  yz_identity id;
  if (yz_identity_from_seed(&id, seed) != 0)
    return -1;
  sodium_memzero(seed, sizeof seed);
  yz_node_config nc;
  yz_node_config_default(&nc);
  nc.identity = &id;
  nc.link.memnet = s->net;
  nc.link.clock_ms = sim_clock;
  nc.link.clock_ud = s;
  nc.link.virtual_time = true;
  nc.link.network = "yz-sim";
  /* memnet has no source addresses; a bootstrap node meets thousands of
   * handshakes: keep the cookie round and the handshake cap out of it */
  nc.link.max_links = 4096;
  nc.link.max_handshakes = 4096;
  nc.link.cookie_load_pct = 101;
  nc.link.cookie_msg1_per_s = UINT32_MAX;
  if (s->cfg.tune != NULL)
    s->cfg.tune(s, i, &nc, s->cfg.ud);
  int err = yz_node_new(&x->node, &s->loop, &nc);
  yz_identity_clear(&id);
  if (err != 0)
    return -1;
  char url[64];
  snprintf(url, sizeof url, "ws://10.0.0.1:0");
  yz_link_listen_config lc = {.url = url};
  if (yz_node_listen(x->node, &lc) != 0 || yz_node_start(x->node) != 0)
    return -1; /* the node leaks until the process ends: not expected */
  snprintf(x->addr, sizeof x->addr, "%s", yz_node_address(x->node, 0));
  x->mgr = yz_node_get_link_manager(x->node);
  size_t h = mhash(x->mgr, s->mcap);
  while (s->mkeys[h] != NULL)
    h = (h + 1) & (s->mcap - 1);
  s->mkeys[h] = x->mgr;
  s->mvals[h] = i;
  s->n++;
  yz_sim_touch(s, i);
  return (long)i;
}

void yz_sim_kill(yz_sim *s, size_t i) {
  snode *x = &s->nodes[i];
  if (x->killed)
    return;
  x->killed = true;
  yz_link_memnet_kill(s->net, x->mgr);
  set_deadline(s, i, UINT64_MAX);
}

static void node_stopped(yz_node *n, void *arg);

void yz_sim_crash(yz_sim *s, size_t i) {
  snode *x = &s->nodes[i];
  if (x->killed || x->crashed)
    return;
  x->crashed = true;
  yz_node_stop(x->node, node_stopped, x);
  yz_sim_touch(s, i);
}

/* ---- running ------------------------------------------------------------ */

/* Run what is due at s->now until nothing more is. */
static void run_instant(yz_sim *s) {
  s->stats.instants++;
  for (int rounds = 0; rounds < 10000; rounds++) {
    bool any = yz_link_memnet_run(s->net) > 0;
    while (s->heap_len > 0 && hkey(s, 0) <= s->now) {
      size_t i = s->heap[0];
      set_deadline(s, i, UINT64_MAX);
      yz_node_run_timers(s->nodes[i].node);
      if (s->has_layer)
        s->layer.run_timers(s, i, s->layer.ud);
      s->stats.timer_runs++;
      yz_sim_touch(s, i);
      any = true;
    }
    uv_run(&s->loop, UV_RUN_NOWAIT);
    s->stats.uv_runs++;
    refresh_touched(s);
    if (!any && yz_link_memnet_next_event(s->net) > s->now &&
        (s->heap_len == 0 || hkey(s, 0) > s->now))
      return;
  }
  /* a deadline that stays due would spin: leave it to the next ms */
}

/* Every virtual second, every live node's deadline is recomputed: a
 * safety net for a change the touch tracking did not see. */
static void sweep(yz_sim *s) {
  for (size_t i = 0; i < s->n; i++)
    if (!s->nodes[i].killed && !s->nodes[i].stopped)
      yz_sim_touch(s, i);
  refresh_touched(s);
}

/* The next instant, at most limit: false if there is none before it. */
static bool step(yz_sim *s, uint64_t limit) {
  if (s->n_touched > 0)
    refresh_touched(s);
  if (s->now >= s->next_sweep) {
    sweep(s);
    s->next_sweep = s->now + 1000;
  }
  uint64_t t = yz_link_memnet_next_event(s->net);
  if (s->heap_len > 0 && hkey(s, 0) < t)
    t = hkey(s, 0);
  if (t > s->next_sweep)
    t = s->next_sweep;
  if (t > limit) {
    if (s->now < limit)
      s->now = limit;
    return false;
  }
  if (t > s->now)
    s->now = t;
  run_instant(s);
  return true;
}

void yz_sim_run_until(yz_sim *s, uint64_t t) {
  while (step(s, t))
    ;
}

bool yz_sim_run_while(yz_sim *s, bool (*busy)(void *ud), void *ud,
                      uint64_t limit) {
  for (;;) {
    if (!busy(ud))
      return true;
    if (!step(s, limit))
      return !busy(ud);
  }
}

/* ---- the end -------------------------------------------------------------- */

static void node_stopped(yz_node *n, void *arg) {
  (void)n;
  ((snode *)arg)->stopped = true;
}

static bool stopping(void *ud) {
  yz_sim *s = ud;
  for (size_t i = 0; i < s->n; i++)
    if (!s->nodes[i].stopped)
      return true;
  return false;
}

void yz_sim_free(yz_sim *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n; i++) {
    set_deadline(s, i, UINT64_MAX);
    if (!s->nodes[i].crashed)
      yz_node_stop(s->nodes[i].node, node_stopped, &s->nodes[i]);
  }
  /* closes are local events: they run at once; then the loop closes the
   * node handles */
  for (int k = 0; k < 1000000 && stopping(s); k++) {
    yz_link_memnet_run(s->net);
    uv_run(&s->loop, UV_RUN_NOWAIT);
    if (yz_link_memnet_next_event(s->net) != UINT64_MAX &&
        yz_link_memnet_next_event(s->net) > s->now)
      s->now = yz_link_memnet_next_event(s->net);
  }
  for (size_t i = 0; i < s->n; i++)
    yz_node_free(s->nodes[i].node);
  yz_link_memnet_free(s->net);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s->loop) != 0)
    fprintf(stderr, "sim: the loop did not close cleanly\n");
  free(s->nodes);
  free(s->heap);
  free(s->touched);
  free(s->mkeys);
  free(s->mvals);
  free(s);
}

uint64_t yz_sim_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t yz_sim_peak_rss_kib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (uint64_t)ru.ru_maxrss;
}
