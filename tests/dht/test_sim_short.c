/*
 * test_sim_short.c: a short run of the simulator (tools/sim,
 * docs/simulator.md): the same seed gives the same figures, another seed
 * other ones, and the figures are sane.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* The report as JSON, up to the wall-clock figures (the only ones that
 * may differ between two runs of one seed). */
static char *run_json(const char *scenario, size_t nodes, uint64_t seed,
                      yz_sim_report *r)
{
  yz_sim_opts o;
  yz_sim_opts_default(&o);
  o.nodes = nodes;
  o.seed = seed;
  o.lookups = 100;
  o.records = 20;
  assert_int_equal(yz_sim_scenario_run(scenario, &o, r), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  yz_sim_report_json(f, r);
  fclose(f);
  char *cut = strstr(buf, ",\"wall_ms\"");
  assert_non_null(cut);
  *cut = '\0';
  return buf;
}

static void test_ping_deterministic(void **state)
{
  (void)state;
  yz_sim_report r1, r2, r3;
  char *a = run_json("ping", 60, 1, &r1);
  char *b = run_json("ping", 60, 1, &r2);
  char *c = run_json("ping", 60, 2, &r3);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  /* every ping answered, round trips of at least two one-way latencies */
  assert_true(r1.pings > 60);
  assert_int_equal(r1.pings_ok, r1.pings);
  assert_true(r1.ping_rtt_ms.p50 >= 50 && r1.ping_rtt_ms.p50 <= 200);
  free(a);
  free(b);
  free(c);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ping_deterministic),
  };
  return cmocka_run_group_tests_name("dht_sim_short", tests, NULL, NULL);
}
