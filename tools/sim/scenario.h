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
  /* PUT: from the call until every one of the true k closest live nodes
   * to the key holds the record (by any path), for the puts that got
   * there within the phase (puts_on_k of them) */
  yz_sim_dist put_k_ms;
  size_t puts_on_k;
  double put_requests; /* DHT requests sent in the whole network per put */
  size_t n_avail;         /* GET availability samples */
  struct {
    double t_s;           /* virtual seconds after the event */
    size_t gets, found;
  } avail[YZ_SIM_AVAIL_MAX];
  /* cost (docs/simulator.md "Wall time and memory") */
  uint64_t virtual_ms;
  uint64_t wall_ms;        /* join_wall_ms + phase_wall_ms */
  uint64_t peak_rss_kib;   /* of the process that ran the phase */
  bool forked;             /* the phase ran in a child of a shared join */
  uint64_t join_wall_ms;   /* set-up, joins, settling, table health (when
                              forked: the parent's, shared) */
  uint64_t phase_wall_ms;  /* the scenario's own phase and its end (when
                              forked: the child's own) */
  uint64_t join_peak_rss_kib; /* peak RSS at the end of the join */
  uint64_t child_private_kib; /* forked: the child's private memory at
                                 the end of its phase (pages it copied or
                                 added); 0 otherwise or unknown */
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

/* The DHT scenarios (all but ping). */
bool yz_sim_scenario_is_dht(const char *name);

/* How yz_sim_dht_forked() runs its children. */
typedef struct yz_sim_fork_opts {
  unsigned jobs; /* children running at once (0 counts as 1) */
  /* Called in the order of names, as soon as a scenario and all those
   * before it are done: r is its report, or NULL and failure says why
   * (e.g. "killed by signal 9 (Killed)"). */
  void (*on_report)(void *ud, const char *name, const yz_sim_report *r,
                    const char *failure);
  void *ud;
  /* Tests: called in each child before its phase (NULL: none). */
  void (*in_child)(void *ud, const char *name);
} yz_sim_fork_opts;

/* Run n DHT scenarios from one network: build and join it once (as every
 * DHT scenario starts), then fork() one child process per scenario, at
 * most fo->jobs at a time; each child runs its scenario's phase on its
 * copy-on-write copy of the network and sends its report back through a
 * pipe. A scenario's figures equal those of yz_sim_scenario_run() of it
 * alone with the same options, wall time and memory aside (the report's
 * forked, join_wall_ms, phase_wall_ms say which is which). Returns 0 when
 * every child reported; how many did not (> 0: a crash, a non-zero exit,
 * fork() failing; on_report got the failure); YZ_E_INVAL for a name that
 * is not a DHT scenario; or an error of the shared set-up (no reports).
 * Not from a process with other threads. */
int yz_sim_dht_forked(const char *const *names, size_t n,
                      const yz_sim_opts *o, const yz_sim_fork_opts *fo);

void yz_sim_report_print(FILE *f, const yz_sim_report *r);
/* One JSON object (no trailing newline). */
void yz_sim_report_json(FILE *f, const yz_sim_report *r);

void yz_sim_dist_of(yz_sim_dist *d, double *v, size_t n);

/* ---- PubSub (scenario_pubsub.c, `yz sim pubsub`, docs/simulator.md
 * "PubSub") -------------------------------------------------------------- */

typedef struct yz_sim_ps_opts {
  yz_sim_opts base;     /* nodes, seed, latency (default 25), spread, loss,
                           progress, no_verify_memo; lookups, records unused */
  unsigned publishers;  /* default 10 */
  unsigned subscribers; /* 0 (default): every node */
  unsigned messages;    /* measured messages, default 100 */
  size_t msg_size;      /* bytes of data, default 2048 */
} yz_sim_ps_opts;

void yz_sim_ps_opts_default(yz_sim_ps_opts *o);

enum { YZ_SIM_PS_MESH_HIST = 17 }; /* degrees 0..15, then 16 or more */

typedef struct yz_sim_ps_report {
  char scenario[32];
  yz_sim_ps_opts opts;
  size_t nodes_alive, killed, joined;
  size_t bad_nodes;        /* silent or spamming nodes */
  size_t subscribers;      /* live honest subscribers at the end */
  uint64_t handshakes;     /* links that came up */
  uint64_t published;      /* measured messages published */
  uint64_t expected;       /* (message, eligible subscriber) pairs */
  uint64_t delivered;      /* ... delivered */
  uint64_t delivered_3s;   /* ... within 3 s of the publish */
  yz_sim_dist latency_ms;  /* publish to delivery, virtual ms */
  double duplicates_per_msg; /* duplicates received per delivery */
  uint64_t duplicates;
  yz_sim_dist mesh;        /* mesh degree of the live honest subscribers */
  size_t mesh_hist[YZ_SIM_PS_MESH_HIST];
  size_t below_d_lo;       /* of them, meshes under D_lo at the end */
  long repair_heartbeats;  /* kill30: heartbeats until every mesh >= D_lo
                              again (-1: not within the phase, or n/a) */
  uint64_t rejected;       /* invalid messages rejected (honest nodes) */
  uint64_t graylisted, broken_promises;
  uint64_t withheld;       /* messages the silent nodes did not send */
  uint64_t virtual_ms, wall_ms, peak_rss_kib;
  uint64_t net_messages, losses;
  char note[256];
} yz_sim_ps_report;

extern const char *const yz_sim_ps_scenarios[];

/* Run one PubSub scenario: 0, YZ_E_INVAL (unknown name), or an error of
 * the set-up (its reason on stderr). */
int yz_sim_ps_run(const char *name, const yz_sim_ps_opts *o,
                  yz_sim_ps_report *r);
void yz_sim_ps_report_print(FILE *f, const yz_sim_ps_report *r);
void yz_sim_ps_report_json(FILE *f, const yz_sim_ps_report *r);

#endif
