/*
 * test_srccount.c: the per-source link counts (src/link/srccount.c) that
 * the manager's per-source caps read in O(1): the table's bound, and
 * that every source stays found while others come and go (deletion by
 * backward shift).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "link/srccount.h"

#include <sodium.h>
#include <string.h>

static void ip4(uint8_t ip[4], uint32_t v) {
  ip[0] = 10;
  ip[1] = (uint8_t)(v >> 16);
  ip[2] = (uint8_t)(v >> 8);
  ip[3] = (uint8_t)v;
}

/* At most max sources: one more is refused until one leaves. */
static void test_bound(void **state) {
  (void)state;
  yz__srccount t;
  assert_int_equal(yz__srccount_init(&t, 3), 0);
  uint8_t ip[4];
  /* no slots until a source is counted: a lookup finds nothing */
  assert_null(t.e);
  ip4(ip, 0);
  assert_null(yz__srccount_find(&t, ip, 4));
  assert_null(yz__srccount_get(&t, ip, 0));
  assert_null(t.e);
  for (uint32_t i = 0; i < 3; i++) {
    ip4(ip, i);
    yz__src_ent *e = yz__srccount_get(&t, ip, 4);
    assert_non_null(e);
    e->links = 1;
  }
  ip4(ip, 1);
  assert_non_null(yz__srccount_get(&t, ip, 4)); /* known: found, not new */
  ip4(ip, 3);
  assert_null(yz__srccount_get(&t, ip, 4));
  assert_null(yz__srccount_find(&t, ip, 4));
  assert_int_equal(t.n, 3);
  /* A source with a count left stays; at zero it leaves and makes room. */
  ip4(ip, 0);
  yz__src_ent *e0 = yz__srccount_find(&t, ip, 4);
  yz__srccount_release(&t, e0);
  assert_non_null(yz__srccount_find(&t, ip, 4));
  e0->links = 0;
  yz__srccount_release(&t, e0);
  assert_null(yz__srccount_find(&t, ip, 4));
  ip4(ip, 3);
  assert_non_null(yz__srccount_get(&t, ip, 4));
  /* An IPv4 address and an IPv6 /64 with the same first bytes differ. */
  uint8_t v6[8] = {10, 0, 0, 1, 0, 0, 0, 0};
  assert_null(yz__srccount_find(&t, v6, 8));
  assert_null(yz__srccount_get(&t, v6, 0));
  yz__srccount_clear(&t);
}

/* Fill, then empty in a shuffled order: after every removal each source
 * still in is found with its counts, and none that left is. */
static void test_churn(void **state) {
  (void)state;
  enum { N = 200 };
  yz__srccount t;
  assert_int_equal(yz__srccount_init(&t, N), 0);
  uint8_t ip[4];
  for (uint32_t i = 0; i < N; i++) {
    ip4(ip, i);
    yz__src_ent *e = yz__srccount_get(&t, ip, 4);
    assert_non_null(e);
    e->links = i + 1;
    e->hs = 1;
  }
  static uint32_t order[N];
  static bool in[N];
  for (uint32_t i = 0; i < N; i++) {
    order[i] = i;
    in[i] = true;
  }
  for (uint32_t i = N - 1; i > 0; i--) {
    uint32_t j = randombytes_uniform(i + 1);
    uint32_t x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  for (uint32_t k = 0; k < N; k++) {
    ip4(ip, order[k]);
    yz__src_ent *e = yz__srccount_find(&t, ip, 4);
    assert_non_null(e);
    e->links = 0;
    e->hs = 0;
    yz__srccount_release(&t, e);
    in[order[k]] = false;
    assert_int_equal(t.n, N - 1 - k);
    for (uint32_t i = 0; i < N; i++) {
      ip4(ip, i);
      e = yz__srccount_find(&t, ip, 4);
      if (in[i]) {
        assert_non_null(e);
        assert_int_equal(e->links, i + 1);
      } else {
        assert_null(e);
      }
    }
  }
  yz__srccount_clear(&t);
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_churn),
  };
  return cmocka_run_group_tests_name("link srccount", tests, NULL, NULL);
}
