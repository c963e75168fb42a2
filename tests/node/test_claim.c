/* One service of a kind per node (node/node_internal.h): a second claim of the
 * same kind on the same node is refused, other kinds and other nodes are
 * not, and a release frees the slot (twice is harmless). The nodes are
 * only addresses here: a claim never dereferences its node. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "node/node_internal.h"

static void test_one_per_node_and_kind(void **state)
{
  (void)state;
  static char node_a, node_b;
  const yz_node *a = (const yz_node *)(void *)&node_a;
  const yz_node *b = (const yz_node *)(void *)&node_b;
  yz__node_claim c1, c2, c3, c4;
  memset(&c1, 0, sizeof c1);
  memset(&c2, 0, sizeof c2);
  memset(&c3, 0, sizeof c3);
  memset(&c4, 0, sizeof c4);
  assert_true(yz__node_claim_take(&c1, a, YZ__NODE_CLAIM_DHT));
  assert_false(yz__node_claim_take(&c2, a, YZ__NODE_CLAIM_DHT));
  assert_false(c2.held);
  assert_true(yz__node_claim_take(&c3, a, YZ__NODE_CLAIM_PUBSUB));
  assert_true(yz__node_claim_take(&c4, b, YZ__NODE_CLAIM_DHT));
  yz__node_claim_release(&c1);
  yz__node_claim_release(&c1);
  yz__node_claim_release(&c2); /* never held: nothing */
  assert_true(yz__node_claim_take(&c2, a, YZ__NODE_CLAIM_DHT));
  assert_false(yz__node_claim_take(&c1, a, YZ__NODE_CLAIM_DHT));
  yz__node_claim_release(&c2);
  yz__node_claim_release(&c3);
  yz__node_claim_release(&c4);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_per_node_and_kind),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
