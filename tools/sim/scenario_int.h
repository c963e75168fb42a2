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
void sc_progress(const sc_ctx *c, const char *what);

/* scenario_dht.c: steady, kill30, kill50, churn, adversarial */
int sc_run_dht(const char *name, const yz_sim_opts *o, yz_sim_report *r);

#endif
