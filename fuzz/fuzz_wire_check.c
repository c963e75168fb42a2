/*
 * Fuzz target: the strict CBOR pre-check every wire decoder runs
 * (yz_wire_check) and the UTF-8 validator (yz_wire_utf8_valid).
 *
 * Input: [mode][bytes...]. mode bit 0 = 0: yz_wire_check over the bytes
 * with a max_len chosen by the mode's other bits; 1: the UTF-8 validator
 * against an independent implementation (Unicode 15, table 3-7).
 *
 * Invariants checked: anything the pre-check accepts is exactly one item
 * that libcbor loads in full, and libcbor re-serialises it to the same
 * bytes (libcbor keeps head widths and map order, so this holds exactly
 * for canonical input); the two UTF-8 validators agree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "fuzz_util.h"
#include "yz/wire.h"

/* Well-formed byte sequences, table 3-7 of the Unicode standard. */
static bool utf8_ref(const uint8_t *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b <= 0x7f) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b == 0xe0) {
      need = 2, lo = 0xa0;
    } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
      need = 2;
    } else if (b == 0xed) {
      need = 2, hi = 0x9f;
    } else if (b == 0xf0) {
      need = 3, lo = 0x90;
    } else if (b >= 0xf1 && b <= 0xf3) {
      need = 3;
    } else if (b == 0xf4) {
      need = 3, hi = 0x8f;
    } else {
      return false;
    }
    if (n - i - 1 < need)
      return false;
    if (s[i + 1] < lo || s[i + 1] > hi)
      return false;
    for (size_t k = 2; k <= need; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xbf)
        return false;
    i += need + 1;
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in);
  if (mode & 1) {
    FUZZ_CHECK(yz_wire_utf8_valid(in.p, in.n) == utf8_ref(in.p, in.n));
    return 0;
  }
  size_t max_len = (mode & 2) ? YZ_WIRE_PROOF_MAX_LEN : (size_t)(mode >> 2);
  const char *reason = NULL;
  int rc = yz_wire_check(in.p, in.n, max_len, &reason);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    return 0;
  }
  FUZZ_CHECK(in.n > 0 && in.n <= max_len);

  struct cbor_load_result r;
  cbor_item_t *it = cbor_load(in.p, in.n, &r);
  FUZZ_CHECK(it != NULL);
  FUZZ_CHECK(r.read == in.n);
  uint8_t *out = malloc(in.n);
  FUZZ_CHECK(out != NULL);
  size_t w = cbor_serialize(it, out, in.n);
  FUZZ_CHECK(w == in.n && memcmp(out, in.p, in.n) == 0);
  free(out);
  cbor_decref(&it);
  return 0;
}
