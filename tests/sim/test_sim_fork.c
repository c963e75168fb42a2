/*
 * test_sim_fork.c: several DHT scenarios from one join (tools/sim,
 * yz_sim_dht_forked, docs/simulator.md "Running"): each forked scenario's
 * figures equal those of the scenario run alone with the same seed, the
 * reports come in the order asked, and a child that dies or exits
 * non-zero is reported as failed while the others still report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

enum { MAX_REPORTS = 8 };

static void small_opts(yz_sim_opts *o)
{
  yz_sim_opts_default(o);
  o->nodes = 40;
  o->seed = 7;
  o->lookups = 12;
  o->records = 4;
}

/* The report as JSON without the figures of wall time and memory (the
 * only ones a forked run may change), nor the count of signature
 * verifications: the DHT's per-thread cache of verified records
 * (src/dht/dht.c) outlives a run, so a run in a process that ran the same
 * network before verifies fewer signatures (the same figures otherwise).
 * `yz sim dht` starts each process afresh: there the counts are equal too
 * (docs/simulator.md "Running"). */
static char *figures(const yz_sim_report *r)
{
  yz_sim_report c = *r;
  c.verifications = c.verify_memo_hits = 0;
  c.wall_ms = c.peak_rss_kib = 0;
  c.join_wall_ms = c.phase_wall_ms = 0;
  c.join_peak_rss_kib = c.child_private_kib = 0;
  c.lookups_per_wall_s = 0;
  c.forked = false;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  yz_sim_report_json(f, &c);
  fclose(f);
  return buf;
}

typedef struct got {
  size_t n;
  char name[MAX_REPORTS][32];
  bool ok[MAX_REPORTS];
  yz_sim_report r[MAX_REPORTS];
  char failure[MAX_REPORTS][128];
} got;

static void on_report(void *ud, const char *name, const yz_sim_report *r,
                      const char *failure)
{
  got *g = ud;
  assert_true(g->n < MAX_REPORTS);
  snprintf(g->name[g->n], sizeof g->name[g->n], "%s", name);
  g->ok[g->n] = r != NULL;
  if (r != NULL) {
    assert_null(failure);
    g->r[g->n] = *r;
  } else {
    assert_non_null(failure);
    snprintf(g->failure[g->n], sizeof g->failure[g->n], "%s", failure);
  }
  g->n++;
}

static void check_equals_alone(const yz_sim_report *forked, const char *name,
                               const yz_sim_opts *o)
{
  yz_sim_report alone;
  assert_int_equal(yz_sim_scenario_run(name, o, &alone), 0);
  assert_false(alone.forked);
  assert_true(forked->forked);
  char *a = figures(&alone), *b = figures(forked);
  assert_string_equal(a, b);
  free(a);
  free(b);
}

/* All five from one join, two children at a time: the same figures as
 * each alone, in the order asked. */
static void test_all_equal_alone(void **state)
{
  (void)state;
  yz_sim_opts o;
  small_opts(&o);
  const char *names[] = {"steady", "kill30", "kill50", "churn",
                         "adversarial"};
  got g = {0};
  yz_sim_fork_opts fo = {.jobs = 2, .on_report = on_report, .ud = &g};
  assert_int_equal(yz_sim_dht_forked(names, 5, &o, &fo), 0);
  assert_int_equal(g.n, 5);
  for (size_t i = 0; i < 5; i++) {
    assert_string_equal(g.name[i], names[i]);
    assert_true(g.ok[i]);
    assert_string_equal(g.r[i].scenario, names[i]);
    /* one shared join; the wall time a run alone would count */
    assert_int_equal(g.r[i].join_wall_ms, g.r[0].join_wall_ms);
    assert_int_equal(g.r[i].wall_ms,
                     g.r[i].join_wall_ms + g.r[i].phase_wall_ms);
    assert_true(g.r[i].lookups > 0);
  }
  assert_int_equal(g.r[1].killed, 12); /* 30 % of 40 */
  assert_int_equal(g.r[2].killed, 20);
  for (size_t i = 0; i < 5; i++)
    check_equals_alone(&g.r[i], names[i], &o);
}

/* In the children: kill50 dies of SIGKILL, churn exits with status 7. */
static void misbehave(void *ud, const char *name)
{
  (void)ud;
  if (strcmp(name, "kill50") == 0)
    raise(SIGKILL);
  if (strcmp(name, "churn") == 0)
    _exit(7);
}

/* A child that dies or exits non-zero is a failed scenario; the others
 * still report, in order, one child at a time as well. */
static void test_child_failure(void **state)
{
  (void)state;
  yz_sim_opts o;
  small_opts(&o);
  const char *names[] = {"kill50", "steady", "churn"};
  got g = {0};
  yz_sim_fork_opts fo = {.jobs = 1, .on_report = on_report, .ud = &g,
                         .in_child = misbehave};
  assert_int_equal(yz_sim_dht_forked(names, 3, &o, &fo), 2);
  assert_int_equal(g.n, 3);
  assert_false(g.ok[0]);
  assert_string_equal(g.name[0], "kill50");
  assert_non_null(strstr(g.failure[0], "signal 9"));
  assert_true(g.ok[1]);
  assert_string_equal(g.name[1], "steady");
  assert_false(g.ok[2]);
  assert_string_equal(g.failure[2], "exited with status 7");
  assert_true(g.r[1].forked);
  assert_string_equal(g.r[1].scenario, "steady");
  assert_int_equal(g.r[1].lookups, o.lookups);
}

static void test_bad_names(void **state)
{
  (void)state;
  yz_sim_opts o;
  small_opts(&o);
  const char *names[] = {"steady", "ping"};
  yz_sim_fork_opts fo = {.jobs = 1};
  assert_true(yz_sim_dht_forked(names, 2, &o, &fo) < 0);
  assert_true(yz_sim_dht_forked(names, 0, &o, &fo) < 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_names),
      cmocka_unit_test(test_all_equal_alone),
      cmocka_unit_test(test_child_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
