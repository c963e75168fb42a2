/* The request table: ids, matching by id and peer, deadlines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "node/reqtable.h"

static yz_node_id peer(uint8_t b)
{
  yz_node_id id;
  memset(id.bytes, b, sizeof id.bytes);
  return id;
}

static void test_ids_and_match(void **state)
{
  (void)state;
  yz__reqtable t;
  yz__reqtable_init(&t, 8, 100);
  yz__req a = {.peer = peer(1), .deadline_ms = 10};
  yz__req b = {.peer = peer(2), .deadline_ms = 10};
  assert_int_equal(yz__reqtable_insert(&t, &a), 0);
  assert_int_equal(yz__reqtable_insert(&t, &b), 0);
  assert_true(yz__req_id(&a) == 100);
  assert_true(yz__req_id(&b) == 101);
  assert_int_equal(yz__reqtable_count(&t), 2);

  /* The right id from the wrong peer is not a match, and leaves it. */
  yz_node_id p1 = peer(1), p2 = peer(2);
  assert_null(yz__reqtable_take(&t, 100, &p2));
  assert_null(yz__reqtable_take(&t, 999, &p1));
  assert_ptr_equal(yz__reqtable_take(&t, 100, &p1), &a);
  /* Exactly once: a second response to the same id finds nothing. */
  assert_null(yz__reqtable_take(&t, 100, &p1));
  assert_ptr_equal(yz__reqtable_take(&t, 101, &p2), &b);
  assert_int_equal(yz__reqtable_count(&t), 0);
  assert_null(yz__reqtable_take_any(&t));
  yz__reqtable_clear(&t);
}

static void test_id_skips_zero(void **state)
{
  (void)state;
  yz__reqtable t;
  yz__reqtable_init(&t, 4, UINT64_MAX);
  yz__req a = {.peer = peer(1)}, b = {.peer = peer(1)};
  assert_int_equal(yz__reqtable_insert(&t, &a), 0);
  assert_int_equal(yz__reqtable_insert(&t, &b), 0);
  assert_true(yz__req_id(&a) == UINT64_MAX);
  assert_true(yz__req_id(&b) == 1);
  yz__reqtable_clear(&t);
}

static void test_limit(void **state)
{
  (void)state;
  yz__reqtable t;
  yz__reqtable_init(&t, 3, 1);
  yz__req r[4];
  memset(r, 0, sizeof r);
  for (int i = 0; i < 3; i++)
    assert_int_equal(yz__reqtable_insert(&t, &r[i]), 0);
  assert_int_equal(yz__reqtable_insert(&t, &r[3]), YZ_E_LIMIT);
  assert_int_equal(yz__reqtable_count(&t), 3);
  while (yz__reqtable_take_any(&t) != NULL)
    ;
  yz__reqtable_clear(&t);
}

static void test_deadlines(void **state)
{
  (void)state;
  yz__reqtable t;
  yz__reqtable_init(&t, 16, 1);
  /* Out-of-order deadlines; equal ones keep insertion order. */
  const uint64_t dl[] = {50, 20, 30, 20, 10};
  yz__req r[5];
  memset(r, 0, sizeof r);
  for (int i = 0; i < 5; i++) {
    r[i].deadline_ms = dl[i];
    assert_int_equal(yz__reqtable_insert(&t, &r[i]), 0);
  }
  uint64_t next;
  assert_true(yz__reqtable_next_deadline(&t, &next));
  assert_true(next == 10);
  assert_null(yz__reqtable_expire(&t, 9));
  assert_ptr_equal(yz__reqtable_expire(&t, 25), &r[4]);
  assert_ptr_equal(yz__reqtable_expire(&t, 25), &r[1]);
  assert_ptr_equal(yz__reqtable_expire(&t, 25), &r[3]);
  assert_null(yz__reqtable_expire(&t, 25));
  assert_true(yz__reqtable_next_deadline(&t, &next));
  assert_true(next == 30);
  /* A request that expired cannot be answered any more. */
  yz_node_id p0 = peer(0);
  assert_null(yz__reqtable_take(&t, yz__req_id(&r[4]), &p0));
  assert_ptr_equal(yz__reqtable_expire(&t, 1000), &r[2]);
  assert_ptr_equal(yz__reqtable_expire(&t, 1000), &r[0]);
  assert_false(yz__reqtable_next_deadline(&t, &next));
  yz__reqtable_clear(&t);
}

static void test_take_peer_and_growth(void **state)
{
  (void)state;
  enum { N = 200 };
  static yz__req r[N];
  memset(r, 0, sizeof r);
  yz__reqtable t;
  yz__reqtable_init(&t, N, 1);
  for (int i = 0; i < N; i++) {
    r[i].peer = peer((uint8_t)(i % 3));
    r[i].deadline_ms = (uint64_t)(N - i);
    assert_int_equal(yz__reqtable_insert(&t, &r[i]), 0);
  }
  /* Every entry is still found after the hash grew several times. */
  for (int i = 0; i < N; i += 7) {
    yz_node_id p = peer((uint8_t)(i % 3));
    assert_ptr_equal(yz__reqtable_take(&t, yz__req_id(&r[i]), &p), &r[i]);
  }
  size_t left = yz__reqtable_count(&t);
  yz_node_id p1 = peer(1);
  size_t n1 = 0;
  yz__req *x;
  while ((x = yz__reqtable_take_peer(&t, &p1)) != NULL) {
    assert_memory_equal(x->peer.bytes, p1.bytes, YZ_NODE_ID_LEN);
    n1++;
  }
  assert_int_equal(yz__reqtable_count(&t), left - n1);
  size_t rest = 0;
  while ((x = yz__reqtable_take_any(&t)) != NULL) {
    assert_memory_not_equal(x->peer.bytes, p1.bytes, YZ_NODE_ID_LEN);
    rest++;
  }
  assert_int_equal(rest, left - n1);
  yz__reqtable_clear(&t);
}

/* The requests of one peer sent on one of its links (tag), for a link
 * that goes down while the peer stays up (src/node/node.c). */
static void test_take_tagged(void **state)
{
  (void)state;
  static yz__req r[6];
  memset(r, 0, sizeof r);
  yz__reqtable t;
  yz__reqtable_init(&t, 16, 1);
  for (int i = 0; i < 6; i++) {
    r[i].peer = peer((uint8_t)(i % 2)); /* peers 0 and 1 */
    r[i].tag = (uint64_t)(i < 3 ? 7 : 8); /* links 7 and 8 */
    r[i].deadline_ms = 100;
    assert_int_equal(yz__reqtable_insert(&t, &r[i]), 0);
  }
  yz_node_id p0 = peer(0);
  /* Peer 0 on link 7: r[0] and r[2], in deadline (insertion) order. */
  assert_ptr_equal(yz__reqtable_take_tagged(&t, &p0, 7), &r[0]);
  assert_ptr_equal(yz__reqtable_take_tagged(&t, &p0, 7), &r[2]);
  assert_null(yz__reqtable_take_tagged(&t, &p0, 7));
  assert_int_equal(yz__reqtable_count(&t), 4);
  assert_ptr_equal(yz__reqtable_take_tagged(&t, &p0, 8), &r[4]);
  assert_null(yz__reqtable_take_tagged(&t, &p0, 9));
  assert_int_equal(yz__reqtable_count(&t), 3);
  yz__reqtable_clear(&t);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_and_match),
      cmocka_unit_test(test_id_skips_zero),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_take_peer_and_growth),
      cmocka_unit_test(test_take_tagged),
  };
  return cmocka_run_group_tests_name("node reqtable", tests, NULL, NULL);
}
