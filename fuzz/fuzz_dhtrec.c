/*
 * Fuzz target: DHT records (yz/dhtrec.h, docs/protocol.md "DHT records").
 *
 * 1. The whole input goes to yz_dhtrec_decode() with a small value limit
 *    (64 bytes) and the default one. A refused input leaves the output
 *    zeroed with a reason, and the small limit refuses whatever the default
 *    one refuses. An accepted input passes the generic strict check,
 *    re-encodes to exactly the input bytes, its value lies inside the
 *    input, its key is the one derived from its fields, and the store's
 *    check under that key at a time before its expiry gives OK or (only
 *    for a mutable record) BAD_SIGNATURE, and EXPIRED at its expiry. A
 *    record never conflicts with itself (yz_dhtrec_replace: KEEP).
 * 2. The same input read as fields (kind, salt, seq, expiry, value):
 *    records signed with the fuzz key round-trip, pass the store's checks,
 *    and follow the replacement rules against a higher and a lower seq.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/dhtrec.h"
#include "yz/wire.h"

static yz_identity fuzz_id;
static bool have_id;

static void ensure_identity(void)
{
  if (have_id)
    return;
  uint8_t seed[32];
  fuzz_key(seed, 61);
  FUZZ_CHECK(yz_identity_from_seed(&fuzz_id, seed) == 0);
  have_id = true;
}

static void raw(const uint8_t *data, size_t size)
{
  static const yz_dhtrec zero;
  yz_dhtrec r, small;
  const char *reason = NULL;
  memset(&r, 0xA5, sizeof r);
  int rc = yz_dhtrec_decode(&r, data, size, 0, &reason);
  int rc_small = yz_dhtrec_decode(&small, data, size, 64, NULL);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0);
    FUZZ_CHECK(rc_small != 0);
    FUZZ_CHECK(yz_dhtrec_decode_status(rc) != YZ_DHTREC_OK);
    return;
  }
  if (rc_small != 0)
    FUZZ_CHECK(rc_small == YZ_E_TOO_LARGE && r.value_len > 64);

  FUZZ_CHECK(size <= yz_dhtrec_encoded_max(0));
  FUZZ_CHECK(yz_wire_check(data, size, size, NULL) == 0);
  FUZZ_CHECK(r.value >= data && r.value_len >= 1 &&
             r.value_len <= size - (size_t)(r.value - data));
  static uint8_t enc[YZ_DHTREC_VALUE_MAX_DEFAULT + YZ_DHTREC_OVERHEAD_MAX];
  size_t n = 0;
  FUZZ_CHECK(yz_dhtrec_encode(&r, enc, sizeof enc, &n) == 0);
  FUZZ_CHECK(n == size && memcmp(enc, data, size) == 0);
  yz_dhtrec k = r;
  FUZZ_CHECK(yz_dhtrec_derive_key(&k) == 0);
  FUZZ_CHECK(memcmp(k.key, r.key, YZ_DHTREC_KEY_LEN) == 0);

  yz_dhtrec_limits lim = {.expiry_ahead = UINT64_MAX};
  if (r.expiry > 0) {
    yz_dhtrec_status st =
        yz_dhtrec_check(&r, r.key, r.expiry - 1, &lim, &reason);
    if (r.kind == YZ_DHTREC_IMMUTABLE)
      FUZZ_CHECK(st == YZ_DHTREC_OK);
    else
      FUZZ_CHECK(st == YZ_DHTREC_OK || st == YZ_DHTREC_BAD_SIGNATURE);
  }
  FUZZ_CHECK(yz_dhtrec_check(&r, r.key, r.expiry, &lim, NULL) ==
             YZ_DHTREC_EXPIRED);
  yz_dhtrec_action act = 0;
  FUZZ_CHECK(yz_dhtrec_replace(&r, &r, NULL, &act, NULL) == YZ_DHTREC_OK &&
             act == YZ_DHTREC_KEEP);
}

static void structured(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  const uint8_t *p;
  size_t n;
  r.kind = (fuzz_u8(&in) & 1) ? YZ_DHTREC_MUTABLE : YZ_DHTREC_IMMUTABLE;
  if (!fuzz_chunk(&in, &p, &n))
    return;
  if (n > YZ_DHTREC_SALT_MAX)
    n = YZ_DHTREC_SALT_MAX;
  memcpy(r.salt, p, n);
  r.salt_len = (uint8_t)n;
  r.seq = fuzz_u64(&in);
  r.expiry = fuzz_u64(&in);
  if (!fuzz_chunk(&in, &r.value, &r.value_len) || r.value_len == 0)
    return;
  if (r.kind == YZ_DHTREC_MUTABLE) {
    FUZZ_CHECK(yz_dhtrec_sign(&r, &fuzz_id, NULL) == 0);
  } else {
    /* an immutable record has no salt or seq (its map has keys 1..3) */
    r.salt_len = 0;
    r.seq = 0;
    memset(r.salt, 0, sizeof r.salt);
    FUZZ_CHECK(yz_dhtrec_derive_key(&r) == 0);
  }
  static uint8_t enc[YZ_DHTREC_VALUE_MAX_DEFAULT + YZ_DHTREC_OVERHEAD_MAX];
  FUZZ_CHECK(yz_dhtrec_encode(&r, enc, sizeof enc, &n) == 0);
  yz_dhtrec d;
  FUZZ_CHECK(yz_dhtrec_decode(&d, enc, n, 0, NULL) == 0);
  FUZZ_CHECK(d.kind == r.kind && d.value_len == r.value_len &&
             memcmp(d.value, r.value, r.value_len) == 0 &&
             d.expiry == r.expiry && d.seq == r.seq &&
             d.salt_len == r.salt_len &&
             memcmp(d.key, r.key, YZ_DHTREC_KEY_LEN) == 0);
  yz_dhtrec_limits lim = {.expiry_ahead = UINT64_MAX};
  if (r.expiry > 0)
    FUZZ_CHECK(yz_dhtrec_check(&d, r.key, r.expiry - 1, &lim, NULL) ==
               YZ_DHTREC_OK);
  if (r.kind == YZ_DHTREC_MUTABLE && r.seq < UINT64_MAX) {
    yz_dhtrec next = r;
    next.seq++;
    FUZZ_CHECK(yz_dhtrec_sign(&next, &fuzz_id, NULL) == 0);
    yz_dhtrec_action act = 0;
    FUZZ_CHECK(yz_dhtrec_replace(&next, &d, NULL, &act, NULL) ==
                   YZ_DHTREC_OK &&
               act == YZ_DHTREC_REPLACE);
    FUZZ_CHECK(yz_dhtrec_replace(&d, &next, NULL, &act, NULL) ==
               YZ_DHTREC_SEQ_TOO_LOW);
    uint64_t cas = r.seq;
    FUZZ_CHECK(yz_dhtrec_replace(&next, &d, &cas, &act, NULL) == YZ_DHTREC_OK);
    cas = r.seq + 1;
    FUZZ_CHECK(yz_dhtrec_replace(&next, &d, &cas, &act, NULL) ==
               YZ_DHTREC_CAS_MISMATCH);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ensure_identity();
  raw(data, size);
  structured(data, size);
  return 0;
}
