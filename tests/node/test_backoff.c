/* Redial backoff: growth, cap, jitter bounds, reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "node/backoff.h"

static void test_growth_and_cap(void **state)
{
  (void)state;
  yz__backoff b;
  yz__backoff_init(&b, 500, 60000);
  /* random 0 gives the lower bound b/2, random UINT32_MAX-ish the spread. */
  const uint32_t lower[] = {250, 500, 1000, 2000, 4000, 8000, 16000,
                            30000, 30000, 30000};
  for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++)
    assert_int_equal(yz__backoff_next(&b, 0), lower[i]);
  /* Capped: stays within [max/2, max] however many failures follow. */
  for (int i = 0; i < 100; i++) {
    uint32_t d = yz__backoff_next(&b, (uint32_t)i * 2654435761u);
    assert_true(d >= 30000 && d <= 60000);
  }
  yz__backoff_reset(&b);
  assert_int_equal(yz__backoff_next(&b, 0), 250);
}

static void test_jitter_bounds(void **state)
{
  (void)state;
  struct {
    uint32_t random, want;
  } cases[] = {
      {0, 500}, {1, 501}, {500, 1000}, {501, 500}, {1003, 501},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    yz__backoff b;
    yz__backoff_init(&b, 1000, 8000);
    assert_int_equal(yz__backoff_next(&b, cases[i].random), cases[i].want);
  }
}

static void test_degenerate_config(void **state)
{
  (void)state;
  yz__backoff b;
  yz__backoff_init(&b, 0, 0);
  for (int i = 0; i < 40; i++)
    assert_true(yz__backoff_next(&b, UINT32_MAX) <= 1);
  yz__backoff_init(&b, 4000000000u, 1);
  for (int i = 0; i < 40; i++)
    assert_true(yz__backoff_next(&b, UINT32_MAX) <= 4000000000u);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_growth_and_cap),
      cmocka_unit_test(test_jitter_bounds),
      cmocka_unit_test(test_degenerate_config),
  };
  return cmocka_run_group_tests_name("node backoff", tests, NULL, NULL);
}
