/*
 * Fuzz target: round trips through the wire codecs, both ways.
 *
 * Input: [mode][...]. mode bit 0 = 0: the rest is an encoded message:
 * whatever the decoder accepts must re-encode to a value that decodes
 * equal, and encoding is then a fixed point (encode(decode(encode(v))) ==
 * encode(v)). mode bit 0 = 1: the rest describes a value field by field
 * (structure-aware, so valid values are common); whatever the encoder
 * accepts must decode to an equal value and re-encode to the same bytes,
 * and whatever it refuses must be a value the decoder would refuse too
 * (the encoder validates "as the decoder would").
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire_cmp.h"
#include "yz/wire.h"

static uint8_t enc1[YZ_WIRE_PROOF_MAX_LEN], enc2[YZ_WIRE_PROOF_MAX_LEN];

static void take(fuzz_in *in, void *out, size_t n)
{
  uint8_t *o = out;
  for (size_t i = 0; i < n; i++)
    o[i] = fuzz_u8(in);
}

/* A proof from the input: lengths and flags from single bytes, so the
 * fuzzer can hit the bounds (URL 255, version 64, 8 addresses). */
static void build(yz_wire_identity_proof *p, fuzz_in *in)
{
  memset(p, 0, sizeof *p);
  take(in, p->identity_pk, sizeof p->identity_pk);
  take(in, p->signature, sizeof p->signature);
  uint8_t f = fuzz_u8(in);
  p->n_addresses = (uint8_t)((f & 0x0f) % (YZ_WIRE_MAX_ADDRESSES + 2));
  if (p->n_addresses > YZ_WIRE_MAX_ADDRESSES)
    p->n_addresses = YZ_WIRE_MAX_ADDRESSES; /* the struct holds no more */
  for (size_t i = 0; i < p->n_addresses; i++) {
    yz_wire_address *a = &p->addresses[i];
    uint8_t len = fuzz_u8(in);
    a->url_len = len;
    take(in, a->url, len);
    a->url[len] = '\0';
    a->client_types = fuzz_u8(in);
    if (a->client_types & 0x80)
      a->client_types = fuzz_u64(in);
  }
  uint8_t t = fuzz_u8(in);
  p->node_type = (t & 0x80) ? fuzz_u64(in) : (uint64_t)(t % 4);
  p->has_capabilities = (f & 0x10) != 0;
  if (p->has_capabilities)
    p->capabilities = (f & 0x20) ? fuzz_u64(in) : fuzz_u8(in);
  if (f & 0x40) {
    uint8_t vl = fuzz_u8(in) % (YZ_WIRE_VERSION_MAX_LEN + 1);
    p->version_len = vl;
    take(in, p->version, vl);
    p->version[vl] = '\0';
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in);
  yz_wire_identity_proof p, q;
  size_t n1 = 0, n2 = 0;

  if ((mode & 1) == 0) {
    if (yz_wire_proof_decode(&p, in.p, in.n, NULL) != 0)
      return 0;
    FUZZ_CHECK(yz_wire_proof_encode(&p, enc1, sizeof enc1, &n1) == 0);
    FUZZ_CHECK(yz_wire_proof_decode(&q, enc1, n1, NULL) == 0);
    FUZZ_CHECK(fuzz_proof_equal(&p, &q));
    FUZZ_CHECK(yz_wire_proof_encode(&q, enc2, sizeof enc2, &n2) == 0);
    FUZZ_CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
  }

  build(&p, &in);
  /* A small output capacity on request: TOO_LARGE, never an overflow. */
  size_t cap = (mode & 2) ? (size_t)(mode >> 2) : sizeof enc1;
  int rc = yz_wire_proof_encode(&p, enc1, cap, &n1);
  if (rc == YZ_E_TOO_LARGE) {
    FUZZ_CHECK(cap < sizeof enc1);
    return 0;
  }
  if (rc != 0) {
    FUZZ_CHECK(rc == YZ_E_INVAL);
    return 0;
  }
  FUZZ_CHECK(n1 <= cap);
  FUZZ_CHECK(yz_wire_proof_decode(&q, enc1, n1, NULL) == 0);
  FUZZ_CHECK(!q.had_unknown);
  FUZZ_CHECK(fuzz_proof_equal(&p, &q));
  FUZZ_CHECK(fuzz_proof_sane(&q));
  FUZZ_CHECK(yz_wire_proof_encode(&q, enc2, sizeof enc2, &n2) == 0);
  FUZZ_CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
  return 0;
}
