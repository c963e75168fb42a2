/*
 * Fuzz target: the DHT data directory's files (src/dht/persist_fmt.h,
 * docs/operations.md "Data directory").
 *
 * The first byte picks the kind (contacts or records); the rest is the
 * file. A refused file has a reason and hands out no entry; an accepted one
 * hands out entries that lie inside the input, each within the kind's
 * bound, with unique keys, and re-encodes to exactly the input bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/dht/persist_fmt.h"
#include "fuzz_util.h"

struct acc {
  const uint8_t *lo, *hi;
  yz__persist_buf out;
  unsigned n;
  size_t max;
};

static void on_entry(const uint8_t key[32], const uint8_t *bytes, size_t len,
                     void *ud)
{
  struct acc *a = ud;
  FUZZ_CHECK(key >= a->lo && key + 32 <= a->hi);
  FUZZ_CHECK(bytes >= a->lo && len >= 1 && len <= a->max &&
             len <= (size_t)(a->hi - bytes));
  FUZZ_CHECK(yz__persist_buf_add(&a->out, key, bytes, len) == 0);
  a->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  yz__persist_kind kind = (data[0] & 1) ? YZ__PERSIST_RECORDS
                                        : YZ__PERSIST_CONTACTS;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  struct acc a = {.lo = p, .hi = p + n};
  a.max = kind == YZ__PERSIST_CONTACTS ? YZ__PERSIST_CONTACT_MAX
                                       : YZ__PERSIST_RECORD_MAX;
  yz__persist_buf_init(&a.out, kind);
  const char *why = NULL;
  int rc = yz__persist_parse(kind, p, n, on_entry, &a, &why);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && why != NULL && a.n == 0);
  } else {
    FUZZ_CHECK(yz__persist_buf_finish(&a.out) == 0);
    FUZZ_CHECK(a.out.len == n && memcmp(a.out.p, p, n) == 0);
    /* Check-only parsing agrees. */
    FUZZ_CHECK(yz__persist_parse(kind, p, n, NULL, NULL, NULL) == 0);
  }
  yz__persist_buf_clear(&a.out);
  return 0;
}
