/*
 * tools/sim/sim.h: the deterministic simulator's driver (docs/simulator.md).
 *
 * N real yz nodes (sessions, crypto, node layer, and the DHT the scenarios
 * put on them) on one uv loop, on an in-memory network with the
 * virtual-time model of yz/link.h (yz_link_memnet_set_model): per-pair
 * latency, loss, kills. One virtual clock drives everything: the driver
 * jumps it to the next event (the network's next delivery, or the earliest
 * deadline of any node) and runs what is due at that instant.
 *
 * Determinism: libsodium's randomness is replaced for the process by a
 * ChaCha20 stream keyed by the seed (yz_sim_new() reseeds it), identities
 * come from seeds, and everything runs in one order fixed by the event
 * queue, so one seed gives one run. The driver is a static library used by
 * `yz sim dht` (tools/yz/cmd_sim.c) and by tests/dht/test_sim_short.c.
 *
 * Not thread-safe; one simulation at a time per process (the randomness
 * is process-wide).
 */
#ifndef YZ_TOOLS_SIM_H
#define YZ_TOOLS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/link.h"
#include "yz/node.h"

typedef struct yz_sim yz_sim;

/* Per-node timers of a layer above the node (the DHT): the driver keeps
 * them in its deadline index with the node's own. */
typedef struct yz_sim_layer {
  uint64_t (*next_deadline)(yz_sim *s, size_t i, void *ud);
  void (*run_timers)(yz_sim *s, size_t i, void *ud);
  void *ud;
} yz_sim_layer;

typedef struct yz_sim_config {
  uint64_t seed;
  uint32_t latency_ms; /* median one-way latency */
  double spread;       /* sigma of ln(latency) */
  double loss;         /* per message and attempt */
  size_t max_nodes;    /* capacity, kills and churn included */
  /* Called for every node before yz_node_new() (may be NULL). */
  void (*tune)(yz_sim *s, size_t i, yz_node_config *cfg, void *ud);
  void *ud;
} yz_sim_config;

/* The clock starts here: some code treats 0 as "never". */
#define YZ_SIM_T0_MS 1000000u

int yz_sim_new(yz_sim **out, const yz_sim_config *cfg);
/* Stop every node (driving the clock until they are stopped), close the
 * network and the loop, free. */
void yz_sim_free(yz_sim *s);

/* Create, listen and start a node (its identity from the seed and its
 * index); returns its index, or -1 (capacity, error). */
long yz_sim_add_node(yz_sim *s);
size_t yz_sim_count(const yz_sim *s);
yz_node *yz_sim_node(const yz_sim *s, size_t i);
const yz_node_id *yz_sim_id(const yz_sim *s, size_t i);
/* The node's address, "ws://10.0.0.1:PORT/#ID". */
const char *yz_sim_address(const yz_sim *s, size_t i);
bool yz_sim_alive(const yz_sim *s, size_t i);
/* Kill node i: the network drops what it sends and what is sent to it,
 * its timers stop (it is frozen, as a host that lost power). */
void yz_sim_kill(yz_sim *s, size_t i);
/* Crash node i as a killed process whose host stays up: the node stops
 * at once and its links close (their CLOSE frames stand for the FIN or
 * RST the peer's kernel would see), so its peers notice within one
 * latency rather than after their missed pongs. Stop the layers above the
 * node first (yz_pubsub_stop, yz_dht_stop). yz_sim_alive() is false from
 * now on. */
void yz_sim_crash(yz_sim *s, size_t i);
/* Mark node i's deadlines stale (after calling its API from outside one of
 * its own callbacks). */
void yz_sim_touch(yz_sim *s, size_t i);
void yz_sim_set_layer(yz_sim *s, const yz_sim_layer *layer);

/* In a child process made by fork() from a process holding s: give the
 * uv loop its own kernel state (uv_loop_fork: its epoll instance and the
 * eventfd behind the uv_async handles of the links and the network would
 * otherwise be shared with the parent and the sibling children, which
 * could then consume each other's wake-ups). Everything else of a
 * simulation is plain memory (the virtual clock, the network, the seeded
 * stream), copied by fork(). 0, or YZ_E_IO. */
int yz_sim_after_fork(yz_sim *s);

uv_loop_t *yz_sim_loop(yz_sim *s);
yz_link_memnet *yz_sim_net(yz_sim *s);
/* Virtual time, ms (starts at YZ_SIM_T0_MS). */
uint64_t yz_sim_now(const yz_sim *s);
/* Run every event up to time t; the clock ends at t. */
void yz_sim_run_until(yz_sim *s, uint64_t t);
/* Run while busy(ud) is true, at most until limit; true if it ended
 * because busy() turned false. */
bool yz_sim_run_while(yz_sim *s, bool (*busy)(void *ud), void *ud,
                      uint64_t limit);

/* Counters of the driver. */
typedef struct yz_sim_stats {
  uint64_t instants;   /* distinct virtual times run */
  uint64_t timer_runs; /* node timer runs */
  uint64_t uv_runs;
} yz_sim_stats;
void yz_sim_get_stats(const yz_sim *s, yz_sim_stats *out);

/* Wall-clock ms (monotonic) and peak RSS in KiB (getrusage), for the
 * reports. */
uint64_t yz_sim_wall_ms(void);
uint64_t yz_sim_peak_rss_kib(void);

/* The memo of Ed25519 verifications (verify_memo.c, docs/simulator.md
 * "The cost of a run"): on, a (signature, key, message) triple that
 * verified before is not verified again. The scenarios turn it on unless
 * yz_sim_opts.no_verify_memo; off frees it. */
void yz_sim_verify_memo(bool on);
void yz_sim_verify_memo_stats(uint64_t *hits, uint64_t *misses);

/* The seeded stream behind libsodium (also for the scenarios' own draws):
 * a uniform integer in [0, n). */
uint32_t yz_sim_uniform(uint32_t n);

#endif
