/*
 * test_sim_pubsub_short.c: a short run of `yz sim pubsub` (tools/sim,
 * docs/simulator.md "PubSub"): the same seed gives the same figures,
 * another seed other ones; in steady state every message reaches every
 * honest subscriber; the misbehaviour hooks act (the spammers' messages
 * are rejected, the silent nodes withhold theirs) without costing the
 * honest subscribers a message.
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

enum { NODES = 24, MESSAGES = 10 };

/* The report as JSON, up to the wall-clock figures (the only ones that
 * may differ between two runs of one seed). */
static char *run_json(const char *scenario, uint64_t seed,
                      yz_sim_ps_report *r)
{
  yz_sim_ps_opts o;
  yz_sim_ps_opts_default(&o);
  o.base.nodes = NODES;
  o.base.seed = seed;
  o.messages = MESSAGES;
  o.publishers = 3;
  assert_int_equal(yz_sim_ps_run(scenario, &o, r), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  yz_sim_ps_report_json(f, r);
  fclose(f);
  char *cut = strstr(buf, ",\"wall_ms\"");
  assert_non_null(cut);
  *cut = '\0';
  return buf;
}

static void test_steady(void **state)
{
  (void)state;
  yz_sim_ps_report r1, r2, r3;
  char *a = run_json("steady", 1, &r1);
  char *b = run_json("steady", 1, &r2);
  char *c = run_json("steady", 2, &r3);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  const yz_sim_ps_report *rs[] = {&r1, &r3};
  for (size_t k = 0; k < 2; k++) {
    const yz_sim_ps_report *r = rs[k];
    assert_int_equal(r->published, MESSAGES);
    /* every subscriber but the publisher, for every message */
    assert_int_equal(r->expected, (uint64_t)MESSAGES * (NODES - 1));
    assert_int_equal(r->delivered, r->expected);
    assert_int_equal(r->delivered_3s, r->expected);
    /* at least one hop of the 25 ms median latency */
    assert_true(r->latency_ms.p50 >= 5);
    assert_int_equal(r->subscribers, NODES);
    assert_int_equal(r->below_d_lo, 0);
    assert_int_equal(r->rejected, 0);
  }
  free(a);
  free(b);
  free(c);
}

static void test_bad_nodes(void **state)
{
  (void)state;
  yz_sim_ps_report r;
  char *a = run_json("spam", 1, &r);
  assert_int_equal(r.bad_nodes, NODES / 10);
  assert_true(r.rejected > 0);
  assert_int_equal(r.delivered, r.expected);
  free(a);
  a = run_json("silent", 1, &r);
  assert_int_equal(r.bad_nodes, NODES / 10);
  assert_true(r.withheld > 0);
  assert_int_equal(r.delivered, r.expected);
  free(a);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_steady),
      cmocka_unit_test(test_bad_nodes),
  };
  return cmocka_run_group_tests_name("pubsub_sim_short", tests, NULL, NULL);
}
