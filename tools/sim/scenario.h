/*
 * tools/sim/scenario.h: the simulator's scenarios and their figures
 * (docs/simulator.md), run by `yz sim dht` and tests/dht/test_sim_short.c.
 */
#ifndef YZ_TOOLS_SIM_SCENARIO_H
#define YZ_TOOLS_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct yz_sim_opts {
  size_t nodes;        /* default 1000 */
  uint64_t seed;       /* default 1 */
  uint32_t latency_ms; /* median one-way, default 50 */
  double spread;       /* sigma of ln(latency), default 0.5 */
  double loss;         /* default 0 */
  unsigned lookups;    /* measured lookups, default 1000 */
  unsigned records;    /* records put, default 200 */
  bool progress;       /* a line on stderr per phase */
  bool no_verify_memo; /* verify every signature (yz_sim_verify_memo) */
} yz_sim_opts;

void yz_sim_opts_default(yz_sim_opts *o);

/* Percentiles of a sample (p50, p90, p99), its mean and size. */
typedef struct yz_sim_dist {
  size_t n;
  double mean;
  double p50, p90, p99, max;
} yz_sim_dist;

enum { YZ_SIM_AVAIL_MAX = 16 };

typedef struct yz_sim_report {
  char scenario[32];
  yz_sim_opts opts;
  /* what the scenario did */
  size_t nodes_alive;
  size_t killed;
  size_t joined;          /* nodes that joined (churn: newcomers too) */
  /* links (every scenario) */
  uint64_t handshakes;    /* links that came up */
  yz_sim_dist ping_rtt_ms; /* ping scenario: request round trips */
  size_t pings_ok, pings;
  /* lookups (FIND_NODE of random targets from random live nodes) */
  size_t lookups, lookups_ok;
  yz_sim_dist rounds;
  yz_sim_dist requests;   /* requests per lookup */
  yz_sim_dist latency_ms; /* virtual time per lookup */
  double recall;          /* mean share of the true k closest live found */
  /* routing-table health: share of live nodes whose table holds all k of
   * their true k closest live nodes */
  double table_health;
  double table_size_mean;
  /* records */
  size_t puts, puts_ok;
  yz_sim_dist put_ms;     /* PUT to the k closest, virtual ms */
  yz_sim_dist put_stored; /* nodes that stored each record */
  size_t n_avail;         /* GET availability samples */
  struct {
    double t_s;           /* virtual seconds after the event */
    size_t gets, found;
  } avail[YZ_SIM_AVAIL_MAX];
  /* cost */
  uint64_t virtual_ms;
  uint64_t wall_ms;
  uint64_t peak_rss_kib;
  double lookups_per_wall_s; /* sim_lookups_per_s (docs/benchmarks.md) */
  uint64_t messages, losses;
  uint64_t verify_memo_hits, verifications; /* Ed25519: memo, done */
  char note[256];         /* why a figure is missing, if one is */
} yz_sim_report;

/* The scenarios' names, NULL-terminated, in the order `all` runs them. */
extern const char *const yz_sim_scenarios[];

/* Run one scenario. 0, or YZ_E_INVAL (unknown name), or an error of the
 * simulator's set-up (its reason on stderr). */
int yz_sim_scenario_run(const char *name, const yz_sim_opts *o,
                        yz_sim_report *r);

void yz_sim_report_print(FILE *f, const yz_sim_report *r);
/* One JSON object (no trailing newline). */
void yz_sim_report_json(FILE *f, const yz_sim_report *r);

void yz_sim_dist_of(yz_sim_dist *d, double *v, size_t n);

#endif
