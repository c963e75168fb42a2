/*
 * tools/sim/scenario.c: the scenarios of `yz sim dht` and their figures
 * (docs/simulator.md "Scenarios", "Figures"). The DHT scenarios live in
 * scenario_dht.c; this file has the common pieces, the link-level `ping`
 * scenario and the report.
 */
#include "scenario.h"
#include "scenario_int.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "yz/common.h"

void yz_sim_opts_default(yz_sim_opts *o) {
  memset(o, 0, sizeof *o);
  o->nodes = 1000;
  o->seed = 1;
  o->latency_ms = 50;
  o->spread = 0.5;
  o->loss = 0.0;
  o->lookups = 1000;
  o->records = 200;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles. */
void yz_sim_dist_of(yz_sim_dist *d, double *v, size_t n) {
  memset(d, 0, sizeof *d);
  d->n = n;
  if (n == 0)
    return;
  qsort(v, n, sizeof *v, cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += v[i];
  d->mean = sum / (double)n;
#define RANK(p) v[(size_t)((p) * (double)(n - 1) + 0.5)]
  d->p50 = RANK(0.50);
  d->p90 = RANK(0.90);
  d->p99 = RANK(0.99);
#undef RANK
  d->max = v[n - 1];
}

/* The progress line also says where memory is (docs/simulator.md "Memory
 * per link"): links up and in handshake over the live nodes (the links'
 * gauges), and the heap in use now (mallinfo2: the peak RSS alone does not
 * show what is live). */
void sc_progress(const sc_ctx *c, const char *what) {
  if (!c->o.progress)
    return;
  uint64_t up = 0, hs = 0;
  size_t alive = 0;
  for (size_t i = 0; i < yz_sim_count(c->s); i++) {
    if (!yz_sim_alive(c->s, i))
      continue;
    yz_link_stats st;
    yz_link_manager_stats(yz_node_get_link_manager(yz_sim_node(c->s, i)),
                          &st);
    up += st.links;
    hs += st.handshakes;
    alive++;
  }
  struct mallinfo2 mi = mallinfo2(); /* arenas only: large tables are
                                        mmapped up front, mostly untouched */
  fprintf(stderr,
          "sim: %-10s t=%.1fs wall=%.1fs rss=%lluMiB heap=%zuMiB "
          "links=%.1f/node hs=%llu %s\n",
          c->r->scenario,
          (double)(yz_sim_now(c->s) - YZ_SIM_T0_MS) / 1000.0,
          (double)(yz_sim_wall_ms() - c->wall0) / 1000.0,
          (unsigned long long)(yz_sim_peak_rss_kib() / 1024),
          mi.uordblks >> 20,
          alive ? (double)up / (double)alive : 0.0, (unsigned long long)hs,
          what);
}

/* ---- common set-up ------------------------------------------------------ */

static void on_peer_up(yz_node *n, const yz_link_peer *p, void *ud) {
  (void)n;
  (void)p;
  ((sc_ctx *)ud)->r->handshakes++;
}

static void tune(yz_sim *s, size_t i, yz_node_config *cfg, void *ud) {
  (void)s;
  (void)i;
  sc_ctx *c = ud;
  cfg->cb.on_peer_up = on_peer_up;
  cfg->user_data = c;
  if (c->tune != NULL)
    c->tune(c, cfg);
}

int sc_begin(sc_ctx *c, const char *name, const yz_sim_opts *o,
             yz_sim_report *r, size_t capacity) {
  memset(r, 0, sizeof *r);
  snprintf(r->scenario, sizeof r->scenario, "%s", name);
  r->opts = *o;
  c->o = *o;
  c->r = r;
  c->wall0 = yz_sim_wall_ms();
  yz_sim_config sc = {.seed = o->seed,
                      .latency_ms = o->latency_ms,
                      .spread = o->spread,
                      .loss = o->loss,
                      .max_nodes = capacity,
                      .tune = tune,
                      .ud = c};
  yz_sim_verify_memo(!o->no_verify_memo);
  int err = yz_sim_new(&c->s, &sc);
  if (err != 0) {
    fprintf(stderr, "sim: cannot set up the simulation: %s\n",
            yz_strerror(err));
    return err;
  }
  return 0;
}

/* The figures of the network at the end of a run. */
static void end_figures(sc_ctx *c) {
  yz_link_memnet_stats ns;
  yz_link_memnet_get_stats(yz_sim_net(c->s), &ns);
  c->r->messages = ns.messages;
  c->r->losses = ns.losses;
  c->r->virtual_ms = yz_sim_now(c->s) - YZ_SIM_T0_MS;
  size_t alive = 0;
  for (size_t i = 0; i < yz_sim_count(c->s); i++)
    alive += yz_sim_alive(c->s, i);
  c->r->nodes_alive = alive;
  sc_progress(c, "stopping");
  yz_sim_verify_memo_stats(&c->r->verify_memo_hits, &c->r->verifications);
}

static void end_costs(sc_ctx *c) {
  c->r->wall_ms = yz_sim_wall_ms() - c->wall0;
  c->r->phase_wall_ms = c->r->wall_ms >= c->r->join_wall_ms
                            ? c->r->wall_ms - c->r->join_wall_ms
                            : 0;
  c->r->peak_rss_kib = yz_sim_peak_rss_kib();
  if (c->r->lookups > 0 && c->r->wall_ms > 0)
    c->r->lookups_per_wall_s =
        (double)c->r->lookups * 1000.0 / (double)c->r->wall_ms;
}

void sc_end(sc_ctx *c) {
  end_figures(c);
  yz_sim_free(c->s);
  yz_sim_verify_memo(false);
  c->s = NULL;
  end_costs(c);
}

void sc_end_unfreed(sc_ctx *c) {
  end_figures(c);
  end_costs(c);
}

/* ---- ping: links only --------------------------------------------------- */

enum { PING_DEGREE = 8, PING_STAGGER_MS = 2 };

static void dial_done(yz_node *n, int status, const yz_node_id *peer,
                      const char *reason, void *arg) {
  (void)n;
  (void)peer;
  (void)reason;
  sc_ctx *c = arg;
  c->pending--;
  if (status != 0)
    c->failed++;
}

static void ping_done(yz_node *n, int status, const yz_node_response *r,
                      void *arg) {
  (void)n;
  sc_ctx *c = arg;
  c->pending--;
  if (status == 0 && r->len == sizeof(uint64_t)) {
    uint64_t sent;
    memcpy(&sent, r->data, sizeof sent);
    c->samples[c->n_samples++] = (double)(yz_sim_now(c->s) - sent);
    c->r->pings_ok++;
  }
}

static bool busy(void *ud) { return ((sc_ctx *)ud)->pending > 0; }

static int run_ping(const yz_sim_opts *o, yz_sim_report *r) {
  sc_ctx c = {0};
  int err = sc_begin(&c, "ping", o, r, o->nodes);
  if (err != 0)
    return err;
  for (size_t i = 0; i < o->nodes; i++)
    if (yz_sim_add_node(c.s) < 0) {
      fprintf(stderr, "sim: cannot create node %zu\n", i);
      sc_end(&c);
      return YZ_E_NOMEM;
    }
  sc_progress(&c, "nodes created");
  /* every node dials PING_DEGREE others, one node every PING_STAGGER_MS */
  for (size_t i = 0; i < o->nodes && o->nodes > 1; i++) {
    yz_sim_run_until(c.s, YZ_SIM_T0_MS + i * PING_STAGGER_MS);
    for (int d = 0; d < PING_DEGREE; d++) {
      size_t j = yz_sim_uniform((uint32_t)o->nodes);
      if (j == i)
        continue;
      if (yz_node_dial_with(yz_sim_node(c.s, i), yz_sim_address(c.s, j),
                            NULL, dial_done, &c) == 0)
        c.pending++;
    }
    yz_sim_touch(c.s, i);
  }
  yz_sim_run_while(c.s, busy, &c, yz_sim_now(c.s) + 600000);
  sc_progress(&c, "dials done");
  size_t cap = o->nodes * 4 * PING_DEGREE + 16;
  c.samples = calloc(cap, sizeof *c.samples);
  yz_node_id *peers = calloc(4 * PING_DEGREE + 64, sizeof *peers);
  if (c.samples == NULL || peers == NULL) {
    free(c.samples);
    free(peers);
    sc_end(&c);
    return YZ_E_NOMEM;
  }
  for (size_t i = 0; i < o->nodes; i++) {
    yz_node *n = yz_sim_node(c.s, i);
    size_t k = yz_node_peers(n, peers, 4 * PING_DEGREE + 64);
    if (k > 4 * PING_DEGREE + 64)
      k = 4 * PING_DEGREE + 64;
    for (size_t p = 0; p < k && c.pending + 1 < cap; p++) {
      uint64_t now = yz_sim_now(c.s);
      if (yz_node_request(n, &peers[p], YZ_NODE_PROTO_PING,
                          (const uint8_t *)&now, sizeof now, 0, ping_done, &c,
                          NULL) == 0) {
        c.pending++;
        r->pings++;
      }
    }
    yz_sim_touch(c.s, i);
  }
  yz_sim_run_while(c.s, busy, &c, yz_sim_now(c.s) + 600000);
  sc_progress(&c, "pings done");
  yz_sim_dist_of(&r->ping_rtt_ms, c.samples, c.n_samples);
  free(c.samples);
  free(peers);
  sc_end(&c);
  return 0;
}

/* ---- the table --------------------------------------------------------- */

const char *const yz_sim_scenarios[] = {
    "steady", "kill30", "kill50", "churn", "adversarial", "ping", NULL};

bool yz_sim_scenario_is_dht(const char *name) {
  for (size_t k = 0; yz_sim_scenarios[k] != NULL; k++)
    if (strcmp(name, yz_sim_scenarios[k]) == 0)
      return strcmp(name, "ping") != 0;
  return false;
}

int yz_sim_scenario_run(const char *name, const yz_sim_opts *o,
                        yz_sim_report *r) {
  if (strcmp(name, "ping") == 0)
    return run_ping(o, r);
  return sc_run_dht(name, o, r);
}

/* ---- output -------------------------------------------------------------- */

static void pdist(FILE *f, const char *label, const yz_sim_dist *d,
                  const char *unit) {
  if (d->n == 0)
    return;
  fprintf(f, "  %-22s p50 %.0f%s  p90 %.0f%s  p99 %.0f%s  (mean %.2f, n %zu)\n",
          label, d->p50, unit, d->p90, unit, d->p99, unit, d->mean, d->n);
}

void yz_sim_report_print(FILE *f, const yz_sim_report *r) {
  const yz_sim_opts *o = &r->opts;
  fprintf(f,
          "scenario %s: %zu nodes, seed %llu, latency %u ms median (spread "
          "%.2f), loss %.3f\n",
          r->scenario, o->nodes, (unsigned long long)o->seed, o->latency_ms,
          o->spread, o->loss);
  fprintf(f, "  nodes alive %zu, killed %zu, links up %llu\n", r->nodes_alive,
          r->killed, (unsigned long long)r->handshakes);
  if (r->pings > 0) {
    fprintf(f, "  pings answered         %zu of %zu\n", r->pings_ok, r->pings);
    pdist(f, "ping round trip", &r->ping_rtt_ms, " ms");
  }
  if (r->lookups > 0) {
    fprintf(f, "  lookups                %zu, success %.2f %%\n", r->lookups,
            100.0 * (double)r->lookups_ok / (double)r->lookups);
    pdist(f, "lookup rounds", &r->rounds, "");
    pdist(f, "requests per lookup", &r->requests, "");
    pdist(f, "lookup latency", &r->latency_ms, " ms");
    fprintf(f, "  recall of k closest    %.4f\n", r->recall);
  }
  if (r->table_size_mean > 0)
    fprintf(f,
            "  routing tables         %.2f %% of nodes hold all k of their "
            "closest (mean size %.1f)\n",
            100.0 * r->table_health, r->table_size_mean);
  if (r->puts > 0) {
    fprintf(f, "  puts                   %zu, stored on >= 1: %zu\n", r->puts,
            r->puts_ok);
    pdist(f, "put latency", &r->put_ms, " ms");
    pdist(f, "put stored on", &r->put_stored, " nodes");
    fprintf(f, "  puts on all k closest  %zu of %zu\n", r->puts_on_k, r->puts);
    pdist(f, "put on the k closest", &r->put_k_ms, " ms");
    fprintf(f, "  DHT requests per put   %.1f\n", r->put_requests);
  }
  for (size_t i = 0; i < r->n_avail; i++)
    fprintf(f, "  record availability    t+%.0fs: %zu of %zu (%.2f %%)\n",
            r->avail[i].t_s, r->avail[i].found, r->avail[i].gets,
            r->avail[i].gets
                ? 100.0 * (double)r->avail[i].found / (double)r->avail[i].gets
                : 0.0);
  if (r->note[0] != '\0')
    fprintf(f, "  note: %s\n", r->note);
  fprintf(f,
          "  virtual %.1f s, wall %.1f s, peak RSS %llu MiB, %llu messages "
          "(%llu losses)",
          (double)r->virtual_ms / 1000.0, (double)r->wall_ms / 1000.0,
          (unsigned long long)(r->peak_rss_kib / 1024),
          (unsigned long long)r->messages, (unsigned long long)r->losses);
  if (r->lookups > 0)
    fprintf(f, ", %.1f lookups per wall second", r->lookups_per_wall_s);
  fprintf(f, "\n");
  if (r->join_wall_ms > 0 || r->forked) {
    fprintf(f, "  wall: join %.1f s%s, phase %.1f s%s; peak RSS at the join "
               "%llu MiB",
            (double)r->join_wall_ms / 1000.0, r->forked ? " (shared)" : "",
            (double)r->phase_wall_ms / 1000.0,
            r->forked ? " (forked child)" : "",
            (unsigned long long)(r->join_peak_rss_kib / 1024));
    if (r->forked)
      fprintf(f, ", child private %llu MiB",
              (unsigned long long)(r->child_private_kib / 1024));
    fprintf(f, "\n");
  }
  if (r->verify_memo_hits + r->verifications > 0)
    fprintf(f, "  Ed25519 verifications  %llu done, %llu answered by the memo\n",
            (unsigned long long)r->verifications,
            (unsigned long long)r->verify_memo_hits);
}

static void jdist(FILE *f, const char *name, const yz_sim_dist *d) {
  fprintf(f,
          ",\"%s\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.2f,\"p90\":%.2f,"
          "\"p99\":%.2f,\"max\":%.2f}",
          name, d->n, d->mean, d->p50, d->p90, d->p99, d->max);
}

void yz_sim_report_json(FILE *f, const yz_sim_report *r) {
  const yz_sim_opts *o = &r->opts;
  fprintf(f,
          "{\"scenario\":\"%s\",\"nodes\":%zu,\"seed\":%llu,"
          "\"latency_ms\":%u,\"spread\":%.3f,\"loss\":%.4f,"
          "\"nodes_alive\":%zu,\"killed\":%zu,\"links_up\":%llu",
          r->scenario, o->nodes, (unsigned long long)o->seed, o->latency_ms,
          o->spread, o->loss, r->nodes_alive, r->killed,
          (unsigned long long)r->handshakes);
  fprintf(f, ",\"pings\":%zu,\"pings_ok\":%zu", r->pings, r->pings_ok);
  jdist(f, "ping_rtt_ms", &r->ping_rtt_ms);
  fprintf(f, ",\"lookups\":%zu,\"lookups_ok\":%zu,\"success_rate\":%.6f",
          r->lookups, r->lookups_ok,
          r->lookups ? (double)r->lookups_ok / (double)r->lookups : 0.0);
  jdist(f, "rounds", &r->rounds);
  jdist(f, "requests_per_lookup", &r->requests);
  jdist(f, "lookup_latency_ms", &r->latency_ms);
  fprintf(f, ",\"recall\":%.6f,\"table_health\":%.6f,\"table_size_mean\":%.2f",
          r->recall, r->table_health, r->table_size_mean);
  fprintf(f, ",\"puts\":%zu,\"puts_ok\":%zu", r->puts, r->puts_ok);
  jdist(f, "put_latency_ms", &r->put_ms);
  jdist(f, "put_stored", &r->put_stored);
  fprintf(f, ",\"puts_on_k_closest\":%zu", r->puts_on_k);
  jdist(f, "put_on_k_closest_ms", &r->put_k_ms);
  fprintf(f, ",\"put_requests_per_put\":%.2f", r->put_requests);
  fprintf(f, ",\"availability\":[");
  for (size_t i = 0; i < r->n_avail; i++)
    fprintf(f, "%s{\"t_s\":%.1f,\"gets\":%zu,\"found\":%zu}", i ? "," : "",
            r->avail[i].t_s, r->avail[i].gets, r->avail[i].found);
  fprintf(f, "]");
  fprintf(f,
          ",\"messages\":%llu,\"losses\":%llu,\"virtual_ms\":%llu,"
          "\"wall_ms\":%llu,\"peak_rss_kib\":%llu,\"sim_lookups_per_s\":%.2f,"
          "\"verifications\":%llu,\"verify_memo_hits\":%llu",
          (unsigned long long)r->messages, (unsigned long long)r->losses,
          (unsigned long long)r->virtual_ms, (unsigned long long)r->wall_ms,
          (unsigned long long)r->peak_rss_kib, r->lookups_per_wall_s,
          (unsigned long long)r->verifications,
          (unsigned long long)r->verify_memo_hits);
  fprintf(f,
          ",\"forked\":%s,\"join_wall_ms\":%llu,\"phase_wall_ms\":%llu,"
          "\"join_peak_rss_kib\":%llu,\"child_private_kib\":%llu",
          r->forked ? "true" : "false", (unsigned long long)r->join_wall_ms,
          (unsigned long long)r->phase_wall_ms,
          (unsigned long long)r->join_peak_rss_kib,
          (unsigned long long)r->child_private_kib);
  fprintf(f, ",\"note\":\"");
  for (const char *p = r->note; *p; p++)
    fputc(*p == '"' || *p == '\\' ? '\'' : *p, f);
  fprintf(f, "\"}");
}
