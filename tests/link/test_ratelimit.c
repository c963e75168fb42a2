/*
 * test_ratelimit.c: the per-IP token buckets (ratelimit.c), on a clock the
 * test passes in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "link/ratelimit.h"

#include <stdio.h>
#include <string.h>

static void test_burst_and_refill(void **state) {
  (void)state;
  yz__ratelimit rl;
  assert_int_equal(yz__ratelimit_init(&rl, 64, 20, 40), 0);
  const uint8_t ip[4] = {192, 0, 2, 1};
  uint64_t t = 5000;
  for (int i = 0; i < 40; i++)
    assert_true(yz__ratelimit_take(&rl, ip, 4, t));
  assert_false(yz__ratelimit_take(&rl, ip, 4, t));
  /* 20 per second: one token per 50 ms */
  assert_false(yz__ratelimit_take(&rl, ip, 4, t + 49));
  assert_true(yz__ratelimit_take(&rl, ip, 4, t + 50));
  assert_false(yz__ratelimit_take(&rl, ip, 4, t + 50));
  /* a long pause refills to the burst, not beyond */
  t += 1000000;
  for (int i = 0; i < 40; i++)
    assert_true(yz__ratelimit_take(&rl, ip, 4, t));
  assert_false(yz__ratelimit_take(&rl, ip, 4, t));
  /* another address has its own bucket */
  const uint8_t ip2[4] = {192, 0, 2, 2};
  assert_true(yz__ratelimit_take(&rl, ip2, 4, t));
  /* a clock going backwards refills nothing and does not crash */
  assert_false(yz__ratelimit_take(&rl, ip, 4, t - 500));
  yz__ratelimit_clear(&rl);
}

/* Many addresses: the table stays fixed; each new address gets at most one
 * burst. */
static void test_many_addresses(void **state) {
  (void)state;
  yz__ratelimit rl;
  assert_int_equal(yz__ratelimit_init(&rl, 16, 1, 2), 0);
  assert_int_equal(rl.n_slots, 16);
  /* allocated lazily: a manager without inbound IP handshakes (the
   * in-memory backend) never pays for the table */
  assert_null(rl.slots);
  int allowed = 0;
  for (uint32_t i = 0; i < 1000; i++) {
    uint8_t ip[16];
    memset(ip, 0, sizeof ip);
    memcpy(ip, &i, sizeof i);
    for (int k = 0; k < 3; k++)
      allowed += yz__ratelimit_take(&rl, ip, 16, 100);
  }
  assert_int_equal(allowed, 2000); /* 2 of every 3 attempts */
  assert_non_null(rl.slots);
  yz__ratelimit_clear(&rl);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_and_refill),
      cmocka_unit_test(test_many_addresses),
  };
  return cmocka_run_group_tests_name("link_ratelimit", tests, NULL, NULL);
}
