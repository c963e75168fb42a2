/*
 * Fuzz target: the identity-proof decoder (yz_wire_proof_decode), the CBOR
 * message carried in handshake messages 2 and 3.
 *
 * Invariants checked: a refused input leaves the output zeroed; an
 * accepted one passes the generic strict check, holds only valid values,
 * re-encodes without error to a proof that decodes to an equal value, and,
 * when it had no unknown fields, re-encodes to exactly the input bytes
 * (deterministic encoding, RFC 8949 section 4.2.1).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire_cmp.h"
#include "yz/wire.h"

static uint8_t enc[YZ_WIRE_PROOF_MAX_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz_wire_identity_proof p, q;
  const char *reason = NULL;
  memset(&p, 0xA5, sizeof p);
  int rc = yz_wire_proof_decode(&p, data, size, &reason);
  if (rc != 0) {
    static const yz_wire_identity_proof zero;
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(memcmp(&p, &zero, sizeof p) == 0);
    return 0;
  }
  FUZZ_CHECK(size <= YZ_WIRE_PROOF_MAX_LEN);
  FUZZ_CHECK(yz_wire_check(data, size, YZ_WIRE_PROOF_MAX_LEN, NULL) == 0);
  FUZZ_CHECK(fuzz_proof_sane(&p));

  size_t n = 0;
  FUZZ_CHECK(yz_wire_proof_encode(&p, enc, sizeof enc, &n) == 0);
  if (!p.had_unknown)
    FUZZ_CHECK(n == size && memcmp(enc, data, size) == 0);
  else
    FUZZ_CHECK(n < size);
  FUZZ_CHECK(yz_wire_proof_decode(&q, enc, n, NULL) == 0);
  FUZZ_CHECK(!q.had_unknown);
  FUZZ_CHECK(fuzz_proof_equal(&p, &q));
  return 0;
}
