/*
 * tools/sim/scenario_dht.c: the DHT scenarios (docs/simulator.md).
 */
#include "scenario_int.h"

#include <stdio.h>
#include <string.h>

#include "yz/common.h"

int sc_run_dht(const char *name, const yz_sim_opts *o, yz_sim_report *r) {
  (void)o;
  (void)r;
  fprintf(stderr, "sim: scenario '%s' needs the DHT engine\n", name);
  return YZ_E_INVAL;
}
