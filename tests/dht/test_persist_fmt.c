/* The DHT data directory's file format (src/dht/persist_fmt.h,
 * docs/operations.md "Data directory"): round trip, and every refusal of
 * the parser (header, count, lengths, truncation, trailing bytes,
 * duplicate keys), each handing out nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dht/persist_fmt.h"
#include "yz/common.h"

struct seen {
  unsigned n;
  uint8_t first_key[32];
  size_t lens[8];
};

static void on_entry(const uint8_t key[32], const uint8_t *bytes, size_t len,
                     void *ud)
{
  struct seen *s = ud;
  if (s->n == 0)
    memcpy(s->first_key, key, 32);
  if (s->n < 8)
    s->lens[s->n] = len;
  assert_true(bytes[0] == (uint8_t)len);
  s->n++;
}

/* A file of kind with n entries, entry i: key all i+1, i+1 bytes of value
 * i+1. */
static void build(yz__persist_buf *b, yz__persist_kind kind, unsigned n)
{
  yz__persist_buf_init(b, kind);
  for (unsigned i = 0; i < n; i++) {
    uint8_t key[32], val[16];
    memset(key, (int)i + 1, sizeof key);
    memset(val, (int)i + 1, sizeof val);
    assert_int_equal(yz__persist_buf_add(b, key, val, i + 1), 0);
  }
  assert_int_equal(yz__persist_buf_finish(b), 0);
}

static int parse(yz__persist_kind kind, const uint8_t *p, size_t n,
                 struct seen *s)
{
  memset(s, 0, sizeof *s);
  const char *why = NULL;
  int rc = yz__persist_parse(kind, p, n, on_entry, s, &why);
  if (rc != 0) {
    assert_non_null(why);
    assert_int_equal(s->n, 0); /* a refused file hands out nothing */
  }
  return rc;
}

static void test_round_trip(void **state)
{
  (void)state;
  for (int kind = 0; kind < 2; kind++) {
    yz__persist_buf b;
    build(&b, (yz__persist_kind)kind, 5);
    const char *m = kind == 0 ? YZ__PERSIST_CONTACTS_MAGIC
                              : YZ__PERSIST_RECORDS_MAGIC;
    assert_memory_equal(b.p, m, strlen(m));
    struct seen s;
    assert_int_equal(parse((yz__persist_kind)kind, b.p, b.len, &s), 0);
    assert_int_equal(s.n, 5);
    for (unsigned i = 0; i < 5; i++)
      assert_int_equal(s.lens[i], i + 1);
    assert_int_equal(s.first_key[0], 1);
    /* The other kind's header is refused. */
    assert_int_equal(parse((yz__persist_kind)!kind, b.p, b.len, &s),
                     YZ_E_MALFORMED);
    yz__persist_buf_clear(&b);
  }
  /* An empty file (header and count 0) is valid. */
  yz__persist_buf b;
  build(&b, YZ__PERSIST_RECORDS, 0);
  struct seen s;
  assert_int_equal(parse(YZ__PERSIST_RECORDS, b.p, b.len, &s), 0);
  assert_int_equal(s.n, 0);
  yz__persist_buf_clear(&b);
}

static void test_truncated_everywhere(void **state)
{
  (void)state;
  yz__persist_buf b;
  build(&b, YZ__PERSIST_CONTACTS, 4);
  struct seen s;
  for (size_t cut = 0; cut < b.len; cut++) {
    int rc = parse(YZ__PERSIST_CONTACTS, b.p, cut, &s);
    assert_true(rc == YZ_E_TRUNCATED || rc == YZ_E_MALFORMED);
  }
  yz__persist_buf_clear(&b);
}

static void test_trailing(void **state)
{
  (void)state;
  yz__persist_buf b;
  build(&b, YZ__PERSIST_RECORDS, 3);
  uint8_t *p = malloc(b.len + 1);
  memcpy(p, b.p, b.len);
  p[b.len] = 0;
  struct seen s;
  assert_int_equal(parse(YZ__PERSIST_RECORDS, p, b.len + 1, &s),
                   YZ_E_TRAILING);
  free(p);
  yz__persist_buf_clear(&b);
}

static void test_duplicate_key(void **state)
{
  (void)state;
  yz__persist_buf b;
  yz__persist_buf_init(&b, YZ__PERSIST_RECORDS);
  uint8_t k1[32], k2[32], v[4] = {4, 4, 4, 4};
  memset(k1, 1, 32);
  memset(k2, 2, 32);
  assert_int_equal(yz__persist_buf_add(&b, k1, v, 4), 0);
  assert_int_equal(yz__persist_buf_add(&b, k2, v, 4), 0);
  assert_int_equal(yz__persist_buf_add(&b, k1, v, 4), 0);
  assert_int_equal(yz__persist_buf_finish(&b), 0);
  struct seen s;
  assert_int_equal(parse(YZ__PERSIST_RECORDS, b.p, b.len, &s),
                   YZ_E_DUPLICATE);
  yz__persist_buf_clear(&b);
}

static void test_bad_lengths_and_counts(void **state)
{
  (void)state;
  yz__persist_buf b;
  build(&b, YZ__PERSIST_CONTACTS, 2);
  size_t ml = strlen(YZ__PERSIST_CONTACTS_MAGIC);
  struct seen s;
  /* Count larger than the entries: truncated. */
  b.p[ml + 3] = 3;
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_TRUNCATED);
  /* Count smaller: trailing bytes. */
  b.p[ml + 3] = 1;
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_TRAILING);
  /* Count over the limit: refused before anything is allocated. */
  b.p[ml] = 0xff;
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_MALFORMED);
  b.p[ml] = 0;
  b.p[ml + 3] = 2;
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s), 0);
  /* A length of 0, and one over a node record's bound. */
  size_t len_off = ml + 4 + 32;
  uint8_t save[4];
  memcpy(save, b.p + len_off, 4);
  memset(b.p + len_off, 0, 4);
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_MALFORMED);
  b.p[len_off + 2] = (YZ__PERSIST_CONTACT_MAX + 1) >> 8;
  b.p[len_off + 3] = (YZ__PERSIST_CONTACT_MAX + 1) & 0xff;
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_MALFORMED);
  memcpy(b.p + len_off, save, 4);
  /* A wrong version in the header line. */
  b.p[ml - 2] = '2';
  assert_int_equal(parse(YZ__PERSIST_CONTACTS, b.p, b.len, &s),
                   YZ_E_MALFORMED);
  yz__persist_buf_clear(&b);
}

static void test_encoder_limits(void **state)
{
  (void)state;
  yz__persist_buf b;
  yz__persist_buf_init(&b, YZ__PERSIST_CONTACTS);
  uint8_t key[32] = {0};
  static uint8_t big[YZ__PERSIST_CONTACT_MAX + 1];
  assert_int_equal(yz__persist_buf_add(&b, key, big, sizeof big),
                   YZ_E_INVAL);
  /* The error latches. */
  assert_int_equal(yz__persist_buf_add(&b, key, big, 1), YZ_E_INVAL);
  assert_int_equal(yz__persist_buf_finish(&b), YZ_E_INVAL);
  yz__persist_buf_clear(&b);

  /* The count bound: the entry past it is refused with YZ_E_LIMIT. */
  yz__persist_buf_init(&b, YZ__PERSIST_CONTACTS);
  for (uint32_t i = 0; i < YZ__PERSIST_CONTACTS_COUNT_MAX; i++) {
    memcpy(key, &i, sizeof i);
    assert_int_equal(yz__persist_buf_add(&b, key, big, 1), 0);
  }
  assert_int_equal(yz__persist_buf_add(&b, key, big, 1), YZ_E_LIMIT);
  yz__persist_buf_clear(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_trailing),
      cmocka_unit_test(test_duplicate_key),
      cmocka_unit_test(test_bad_lengths_and_counts),
      cmocka_unit_test(test_encoder_limits),
  };
  return cmocka_run_group_tests_name("dht_persist_fmt", tests, NULL, NULL);
}
