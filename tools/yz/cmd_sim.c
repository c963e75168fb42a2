/*
 * yz sim dht: the deterministic DHT simulator (tools/sim,
 * docs/simulator.md). Exit codes: 0 the scenarios ran, 1 one could not
 * run, 2 bad command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scenario.h"
#include "yz/common.h"

static void usage(FILE *f)
{
  fprintf(f,
"Usage: yz sim dht [--nodes N] [--seed S] [--latency-ms MEDIAN] [--spread X]\n"
"                  [--loss P] [--scenario NAME|all] [--lookups N]\n"
"                  [--records N] [--json] [--progress] [--no-verify-memo]\n"
"\n"
"Runs N real yz nodes (sessions, crypto, node layer, DHT) in this process\n"
"on an in-memory network with a virtual clock, a latency per pair of nodes\n"
"(log-normal: MEDIAN and spread X, the sigma of its logarithm), loss P\n"
"(a lost TCP segment costs a retransmission timeout), and node kills, and\n"
"prints lookup rounds, success, recall of the true k closest, requests per\n"
"lookup, virtual latencies, record availability, routing-table health,\n"
"put latency, wall time and peak memory. The same seed gives the same\n"
"figures (wall time and memory aside). See docs/simulator.md.\n"
"\n"
"Scenarios: steady, kill30, kill50, churn, adversarial, ping (links only),\n"
"all (the five DHT ones; default).\n"
"\n"
"Options:\n"
"  --nodes N          nodes (default 1000; 2..100000)\n"
"  --seed S           the seed (default 1)\n"
"  --latency-ms M     median one-way latency (default 50)\n"
"  --spread X         sigma of ln(latency), 0..4 (default 0.5)\n"
"  --loss P           per message and attempt, 0..0.5 (default 0)\n"
"  --scenario NAME    one scenario, or all\n"
"  --lookups N        measured lookups (default 1000)\n"
"  --records N        records put (default 200)\n"
"  --json             one JSON object per scenario, one per line\n"
"  --progress         a line on stderr per phase\n"
"  --no-verify-memo   verify every Ed25519 signature again (by default a\n"
"                     signature that verified before is not: the same\n"
"                     results, much less CPU; docs/simulator.md)\n");
}

static bool parse_double(const char *s, double min, double max, double *out)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= min) || !(v <= max))
    return false;
  *out = v;
  return true;
}

int cmd_sim_main(int argc, char **argv)
{
  if (argc < 2 || yz_cli_is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? YZ_EXIT_USAGE : YZ_EXIT_OK;
  }
  if (strcmp(argv[1], "dht") != 0)
    return yz_cli_usage_error("unknown simulation '%s' (only 'dht')",
                              argv[1]);
  yz_sim_opts o;
  yz_sim_opts_default(&o);
  const char *scenario = "all";
  bool json = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long long u;
    if (yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      json = true;
      continue;
    } else if (strcmp(a, "--progress") == 0) {
      o.progress = true;
      continue;
    } else if (strcmp(a, "--no-verify-memo") == 0) {
      o.no_verify_memo = true;
      continue;
    }
    if (v == NULL)
      return yz_cli_usage_error("'%s' needs a value (or is unknown)", a);
    i++;
    if (strcmp(a, "--nodes") == 0) {
      if (!yz_cli_parse_u64(v, 2, 100000, &u))
        return yz_cli_usage_error("--nodes: 2..100000, not '%s'", v);
      o.nodes = (size_t)u;
    } else if (strcmp(a, "--seed") == 0) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &u))
        return yz_cli_usage_error("--seed: an unsigned integer, not '%s'",
                                  v);
      o.seed = u;
    } else if (strcmp(a, "--latency-ms") == 0) {
      if (!yz_cli_parse_u64(v, 0, 10000, &u))
        return yz_cli_usage_error("--latency-ms: 0..10000, not '%s'", v);
      o.latency_ms = (uint32_t)u;
    } else if (strcmp(a, "--spread") == 0) {
      if (!parse_double(v, 0.0, 4.0, &o.spread))
        return yz_cli_usage_error("--spread: 0..4, not '%s'", v);
    } else if (strcmp(a, "--loss") == 0) {
      if (!parse_double(v, 0.0, 0.5, &o.loss))
        return yz_cli_usage_error("--loss: 0..0.5, not '%s'", v);
    } else if (strcmp(a, "--scenario") == 0) {
      bool known = strcmp(v, "all") == 0;
      for (size_t k = 0; yz_sim_scenarios[k] != NULL; k++)
        known = known || strcmp(v, yz_sim_scenarios[k]) == 0;
      if (!known)
        return yz_cli_usage_error("--scenario: unknown '%s'", v);
      scenario = v;
    } else if (strcmp(a, "--lookups") == 0) {
      if (!yz_cli_parse_u64(v, 1, 1000000, &u))
        return yz_cli_usage_error("--lookups: 1..1000000, not '%s'", v);
      o.lookups = (unsigned)u;
    } else if (strcmp(a, "--records") == 0) {
      if (!yz_cli_parse_u64(v, 0, 100000, &u))
        return yz_cli_usage_error("--records: 0..100000, not '%s'", v);
      o.records = (unsigned)u;
    } else {
      return yz_cli_usage_error("unknown option '%s'", a);
    }
  }
  int rc = YZ_EXIT_OK;
  for (size_t k = 0; yz_sim_scenarios[k] != NULL; k++) {
    const char *name = yz_sim_scenarios[k];
    if (strcmp(scenario, "all") == 0 ? strcmp(name, "ping") == 0
                                     : strcmp(scenario, name) != 0)
      continue;
    yz_sim_report r;
    int err = yz_sim_scenario_run(name, &o, &r);
    if (err != 0) {
      yz_cli_error("scenario %s: %s", name, yz_strerror(err));
      rc = YZ_EXIT_FAIL;
      continue;
    }
    if (json) {
      yz_sim_report_json(stdout, &r);
      printf("\n");
    } else {
      yz_sim_report_print(stdout, &r);
    }
    fflush(stdout);
  }
  return rc;
}
