/*
 * yz sim dht and yz sim pubsub: the deterministic simulators (tools/sim,
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
"                  [--loss P] [--scenario NAME[,NAME...]|all] [--jobs N]\n"
"                  [--lookups N] [--records N] [--json] [--progress]\n"
"                  [--no-verify-memo]\n"
"\n"
"Runs N real yz nodes (sessions, crypto, node layer, DHT) in this process\n"
"on an in-memory network with a virtual clock, a latency per pair of nodes\n"
"(log-normal: MEDIAN and spread X, the sigma of its logarithm), loss P\n"
"(a lost TCP segment costs a retransmission timeout), and node kills, and\n"
"prints lookup rounds, success, recall of the true k closest, requests per\n"
"lookup, virtual latencies, record availability, routing-table health,\n"
"put latency, wall time (the join's and the scenario's own) and peak\n"
"memory. The same seed gives the same figures (wall time and memory\n"
"aside). See docs/simulator.md.\n"
"\n"
"Scenarios: steady, kill30, kill50, churn, adversarial, ping (links only),\n"
"all (the five DHT ones; default). Several DHT scenarios share one build\n"
"and join of the network: the process joins it once, then forks a child\n"
"per scenario that runs only that scenario's phase and reports back; the\n"
"figures equal those of the scenario run alone with the same seed. The\n"
"reports are printed in the order above.\n"
"\n"
"Options:\n"
"  --nodes N          nodes (default 1000; 2..100000)\n"
"  --seed S           the seed (default 1)\n"
"  --latency-ms M     median one-way latency (default 50)\n"
"  --spread X         sigma of ln(latency), 0..4 (default 0.5)\n"
"  --loss P           per message and attempt, 0..0.5 (default 0)\n"
"  --scenario LIST    a scenario, a comma list of them, or all\n"
"  --jobs N           forked scenarios running at once (default 2; 1..64)\n"
"  --lookups N        measured lookups (default 1000)\n"
"  --records N        records put (default 200)\n"
"  --json             one JSON object per scenario, one per line\n"
"  --progress         a line on stderr per phase\n"
"  --no-verify-memo   verify every Ed25519 signature again (by default a\n"
"                     signature that verified before is not: the same\n"
"                     results, much less CPU; docs/simulator.md)\n"
"\n"
"yz sim pubsub --help: the PubSub simulator.\n");
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

/* The options both simulations take (a with its value v): 1 taken, 0
 * not one of them, else the usage error's exit code (negated). */
static int parse_common(const char *a, const char *v, yz_sim_opts *o)
{
  unsigned long long u;
  if (strcmp(a, "--nodes") == 0) {
    if (!yz_cli_parse_u64(v, 2, 100000, &u))
      return -yz_cli_usage_error("--nodes: 2..100000, not '%s'", v);
    o->nodes = (size_t)u;
  } else if (strcmp(a, "--seed") == 0) {
    if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &u))
      return -yz_cli_usage_error("--seed: an unsigned integer, not '%s'",
                                v);
    o->seed = u;
  } else if (strcmp(a, "--latency-ms") == 0) {
    if (!yz_cli_parse_u64(v, 0, 10000, &u))
      return -yz_cli_usage_error("--latency-ms: 0..10000, not '%s'", v);
    o->latency_ms = (uint32_t)u;
  } else if (strcmp(a, "--spread") == 0) {
    if (!parse_double(v, 0.0, 4.0, &o->spread))
      return -yz_cli_usage_error("--spread: 0..4, not '%s'", v);
  } else if (strcmp(a, "--loss") == 0) {
    if (!parse_double(v, 0.0, 0.5, &o->loss))
      return -yz_cli_usage_error("--loss: 0..0.5, not '%s'", v);
  } else {
    return 0;
  }
  return 1;
}

static int sim_pubsub(int argc, char **argv);

/* --scenario: "all" (the DHT scenarios) or a comma list of names, into
 * want (by index in yz_sim_scenarios). 0, or the usage error's exit code. */
static int parse_scenarios(const char *v, bool want[16])
{
  for (size_t k = 0; k < 16; k++)
    want[k] = false;
  if (strcmp(v, "all") == 0) {
    for (size_t k = 0; yz_sim_scenarios[k] != NULL && k < 16; k++)
      want[k] = yz_sim_scenario_is_dht(yz_sim_scenarios[k]);
    return 0;
  }
  const char *p = v;
  for (;;) {
    size_t len = strcspn(p, ",");
    bool known = false;
    for (size_t k = 0; yz_sim_scenarios[k] != NULL && k < 16; k++)
      if (strlen(yz_sim_scenarios[k]) == len &&
          strncmp(p, yz_sim_scenarios[k], len) == 0) {
        want[k] = true;
        known = true;
      }
    if (!known)
      return yz_cli_usage_error("--scenario: unknown '%.*s' (in '%s')",
                                (int)len, p, v);
    if (p[len] == '\0')
      return 0;
    p += len + 1;
  }
}

typedef struct out_ctx {
  bool json;
  size_t failed;
} out_ctx;

/* A scenario's report on stdout, or its failure on stderr. */
static void on_report(void *ud, const char *name, const yz_sim_report *r,
                      const char *failure)
{
  out_ctx *oc = ud;
  if (r == NULL) {
    yz_cli_error("scenario %s: %s", name, failure);
    oc->failed++;
    return;
  }
  if (oc->json) {
    yz_sim_report_json(stdout, r);
    printf("\n");
  } else {
    yz_sim_report_print(stdout, r);
  }
  fflush(stdout);
}

int cmd_sim_main(int argc, char **argv)
{
  if (argc < 2 || yz_cli_is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? YZ_EXIT_USAGE : YZ_EXIT_OK;
  }
  if (strcmp(argv[1], "pubsub") == 0)
    return sim_pubsub(argc, argv);
  if (strcmp(argv[1], "dht") != 0)
    return yz_cli_usage_error("unknown simulation '%s' (dht or pubsub)",
                              argv[1]);
  yz_sim_opts o;
  yz_sim_opts_default(&o);
  bool want[16] = {false}; /* by index in yz_sim_scenarios */
  bool any = false;
  unsigned jobs = 2;
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
    int c = parse_common(a, v, &o);
    if (c < 0)
      return -c;
    if (c > 0) {
      continue;
    } else if (strcmp(a, "--scenario") == 0) {
      int e = parse_scenarios(v, want);
      if (e != 0)
        return e;
      any = true;
    } else if (strcmp(a, "--jobs") == 0) {
      if (!yz_cli_parse_u64(v, 1, 64, &u))
        return yz_cli_usage_error("--jobs: 1..64, not '%s'", v);
      jobs = (unsigned)u;
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
  if (!any)
    (void)parse_scenarios("all", want);
  /* the DHT scenarios asked for, in table order */
  const char *dht[16];
  size_t n_dht = 0;
  for (size_t k = 0; yz_sim_scenarios[k] != NULL; k++)
    if (want[k] && yz_sim_scenario_is_dht(yz_sim_scenarios[k]))
      dht[n_dht++] = yz_sim_scenarios[k];
  out_ctx oc = {json, 0};
  if (n_dht > 1) {
    yz_sim_fork_opts fo = {.jobs = jobs, .on_report = on_report, .ud = &oc};
    int err = yz_sim_dht_forked(dht, n_dht, &o, &fo);
    if (err < 0) {
      yz_cli_error("scenarios: %s", yz_strerror(err));
      oc.failed++;
    }
  }
  for (size_t k = 0; yz_sim_scenarios[k] != NULL; k++) {
    const char *name = yz_sim_scenarios[k];
    if (!want[k] || (n_dht > 1 && yz_sim_scenario_is_dht(name)))
      continue;
    yz_sim_report r;
    int err = yz_sim_scenario_run(name, &o, &r);
    on_report(&oc, name, err == 0 ? &r : NULL,
              err == 0 ? NULL : yz_strerror(err));
  }
  return oc.failed > 0 ? YZ_EXIT_FAIL : YZ_EXIT_OK;
}

/* ---- yz sim pubsub ------------------------------------------------------ */

static void usage_pubsub(FILE *f)
{
  fprintf(f,
"Usage: yz sim pubsub [--nodes N] [--seed S] [--latency-ms MEDIAN]\n"
"                     [--spread X] [--loss P] [--scenario NAME|all]\n"
"                     [--publishers N] [--subscribers N] [--messages N]\n"
"                     [--msg-size BYTES] [--json] [--progress]\n"
"                     [--no-verify-memo]\n"
"\n"
"Runs N real yz nodes (sessions, crypto, node layer, DHT, PubSub) in this\n"
"process on the simulator's in-memory network and virtual clock (see\n"
"yz sim dht --help), subscribes them to one topic, publishes messages\n"
"and prints the delivery ratio to every connected honest subscriber,\n"
"publish-to-delivery latency, duplicates per message, the mesh degree\n"
"distribution, the time to repair the meshes after a kill, wall time and\n"
"peak memory. The same seed gives the same figures. See\n"
"docs/simulator.md \"PubSub\".\n"
"\n"
"Scenarios: steady, kill30 (30 %% of the nodes crash at once), churn (a\n"
"node replaced at every publish), silent (10 %% never forward), spam (10 %%\n"
"send invalid messages), all (default).\n"
"\n"
"Options (and those of yz sim dht: --nodes, --seed, --spread, --loss):\n"
"  --latency-ms M     median one-way latency (default 25)\n"
"  --publishers N     publishing nodes (default 10)\n"
"  --subscribers N    subscribed nodes (default 0: every node)\n"
"  --messages N       measured messages (default 100)\n"
"  --msg-size B       bytes of data per message (default 2048)\n"
"  --json             one JSON object per scenario, one per line\n");
}

static int sim_pubsub(int argc, char **argv)
{
  yz_sim_ps_opts o;
  yz_sim_ps_opts_default(&o);
  const char *scenario = "all";
  bool json = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long long u;
    if (yz_cli_is_help(a)) {
      usage_pubsub(stdout);
      return YZ_EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      json = true;
      continue;
    } else if (strcmp(a, "--progress") == 0) {
      o.base.progress = true;
      continue;
    } else if (strcmp(a, "--no-verify-memo") == 0) {
      o.base.no_verify_memo = true;
      continue;
    }
    if (v == NULL)
      return yz_cli_usage_error("'%s' needs a value (or is unknown)", a);
    i++;
    int c = parse_common(a, v, &o.base);
    if (c < 0)
      return -c;
    if (c > 0) {
      continue;
    } else if (strcmp(a, "--scenario") == 0) {
      bool known = strcmp(v, "all") == 0;
      for (size_t k = 0; yz_sim_ps_scenarios[k] != NULL; k++)
        known = known || strcmp(v, yz_sim_ps_scenarios[k]) == 0;
      if (!known)
        return yz_cli_usage_error("--scenario: unknown '%s'", v);
      scenario = v;
    } else if (strcmp(a, "--publishers") == 0) {
      if (!yz_cli_parse_u64(v, 1, 1000, &u))
        return yz_cli_usage_error("--publishers: 1..1000, not '%s'", v);
      o.publishers = (unsigned)u;
    } else if (strcmp(a, "--subscribers") == 0) {
      if (!yz_cli_parse_u64(v, 0, 100000, &u))
        return yz_cli_usage_error("--subscribers: 0..100000, not '%s'", v);
      o.subscribers = (unsigned)u;
    } else if (strcmp(a, "--messages") == 0) {
      if (!yz_cli_parse_u64(v, 1, 10000, &u))
        return yz_cli_usage_error("--messages: 1..10000, not '%s'", v);
      o.messages = (unsigned)u;
    } else if (strcmp(a, "--msg-size") == 0) {
      if (!yz_cli_parse_u64(v, 8, 65536, &u))
        return yz_cli_usage_error("--msg-size: 8..65536, not '%s'", v);
      o.msg_size = (size_t)u;
    } else {
      return yz_cli_usage_error("unknown option '%s'", a);
    }
  }
  int rc = YZ_EXIT_OK;
  for (size_t k = 0; yz_sim_ps_scenarios[k] != NULL; k++) {
    const char *name = yz_sim_ps_scenarios[k];
    if (strcmp(scenario, "all") != 0 && strcmp(scenario, name) != 0)
      continue;
    yz_sim_ps_report r;
    int err = yz_sim_ps_run(name, &o, &r);
    if (err != 0) {
      yz_cli_error("scenario %s: %s", name, yz_strerror(err));
      rc = YZ_EXIT_FAIL;
      continue;
    }
    if (json) {
      yz_sim_ps_report_json(stdout, &r);
      printf("\n");
    } else {
      yz_sim_ps_report_print(stdout, &r);
    }
    fflush(stdout);
  }
  return rc;
}
