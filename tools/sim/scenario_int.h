/*
 * tools/sim/scenario_int.h: what the scenario files share.
 */
#ifndef YZ_TOOLS_SIM_SCENARIO_INT_H
#define YZ_TOOLS_SIM_SCENARIO_INT_H

#include "scenario.h"
#include "sim.h"

typedef struct sc_ctx sc_ctx;

struct sc_ctx {
  yz_sim *s;
  yz_sim_opts o;
  yz_sim_report *r;
  uint64_t wall0;
  size_t pending;
  size_t failed;
  double *samples;
  size_t n_samples;
  /* a scenario's own node settings */
  void (*tune)(sc_ctx *c, yz_node_config *cfg);
  void *ext; /* the scenario's state */
};

int sc_begin(sc_ctx *c, const char *name, const yz_sim_opts *o,
             yz_sim_report *r, size_t capacity);
void sc_end(sc_ctx *c);
/* sc_end's figures without freeing anything (a child process that exits
 * next: freeing would copy the shared pages for nothing). */
void sc_end_unfreed(sc_ctx *c);
void sc_progress(const sc_ctx *c, const char *what);

/* scenario_dht.c: steady, kill30, kill50, churn, adversarial */
int sc_run_dht(const char *name, const yz_sim_opts *o, yz_sim_report *r);

/* scenario_dht.c: the joined DHT network other scenarios build on
 * (scenario_pubsub.c). sc_dht_open() sets up the simulation with room for
 * cap nodes and installs the DHT's timers as the driver's layer (a
 * scenario with its own timers wraps sc_dht_layer_*); sc_dht_build() adds
 * o->nodes nodes and joins them (as every DHT scenario starts);
 * sc_dht_add_node() and sc_dht_join() add a newcomer (churn), joining
 * through node via, which the caller knows to be live;
 * sc_dht_forget() frees node i's DHT once stopped; sc_dht_close() stops
 * the DHTs, ends the simulation (sc_end) and frees. */
typedef struct dctx dctx;
struct yz_dht;
dctx *sc_dht_open(const char *name, const yz_sim_opts *o, yz_sim_report *r,
                  size_t cap, int *err);
sc_ctx *sc_dht_ctx(dctx *d);
int sc_dht_build(dctx *d);
struct yz_dht *sc_dht_of(dctx *d, size_t i);
long sc_dht_add_node(dctx *d);
void sc_dht_join(dctx *d, size_t i, size_t via);
void sc_dht_forget(dctx *d, size_t i);
uint64_t sc_dht_layer_deadline(yz_sim *s, size_t i, void *ud);
void sc_dht_layer_run(yz_sim *s, size_t i, void *ud);
void sc_dht_close(dctx *d);

#endif
