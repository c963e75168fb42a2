/*
 * Fuzz target: node records (yz/record.h, docs/protocol.md "Node records").
 *
 * 1. The whole input goes to yz_record_decode() for network "yz-fuzz" at
 *    time 0, once without and once with an expected node ID (the fuzz
 *    identity's). A refused input leaves the output zeroed with a reason;
 *    the expected ID changes nothing but PEER_ID_MISMATCH for another
 *    node. An accepted input is at most 1024 bytes, passes the generic
 *    strict check, re-encodes to exactly the input bytes, its node ID is
 *    SHA-256 of its key, its signature verifies over its signed bytes, and
 *    it does not replace itself.
 * 2. The same input read as fields (network, seq, expiry, node type,
 *    capabilities, addresses): whatever the API accepts is signed with the
 *    fuzz identity and encoded; it encodes (or is over 1024 bytes:
 *    TOO_LARGE) and decodes back to the same record just before its expiry,
 *    and is refused as expired at it; a raised sequence number replaces it.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/record.h"

#define NET "yz-fuzz"

static yz_identity fuzz_id;
static bool have_id;

static void ensure_identity(void)
{
  if (have_id)
    return;
  uint8_t seed[32];
  fuzz_key(seed, 60);
  FUZZ_CHECK(yz_identity_from_seed(&fuzz_id, seed) == 0);
  have_id = true;
}

static void raw(const uint8_t *data, size_t size)
{
  static const yz_record zero;
  yz_record r, r2;
  const char *reason = NULL;
  yz_record_expect ex = {.network = NET, .now = 0};
  memset(&r, 0xA5, sizeof r);
  int rc = yz_record_decode(&r, data, size, &ex, &reason);

  ex.node_id = yz_identity_node_id(&fuzz_id);
  int rc2 = yz_record_decode(&r2, data, size, &ex, NULL);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0);
    FUZZ_CHECK(rc2 != 0);
    return;
  }
  if (yz_node_id_equal(&r.node_id, yz_identity_node_id(&fuzz_id)))
    FUZZ_CHECK(rc2 == 0 && memcmp(&r, &r2, sizeof r) == 0);
  else
    FUZZ_CHECK(rc2 == YZ_E_PEER_ID_MISMATCH);

  FUZZ_CHECK(size <= YZ_RECORD_MAX_LEN);
  FUZZ_CHECK(yz_wire_check(data, size, YZ_RECORD_MAX_LEN, NULL) == 0);
  uint8_t enc[YZ_RECORD_MAX_LEN];
  size_t n = 0;
  FUZZ_CHECK(yz_record_encode(&r, enc, sizeof enc, &n) == 0);
  FUZZ_CHECK(n == size && memcmp(enc, data, size) == 0);
  yz_node_id id;
  yz_node_id_from_public_key(&id, r.identity_pk);
  FUZZ_CHECK(yz_node_id_equal(&id, &r.node_id));
  uint8_t sb[YZ_RECORD_SIGNED_MAX_LEN];
  FUZZ_CHECK(yz_record_signed_bytes(&r, sb, sizeof sb, &n) == 0);
  FUZZ_CHECK(yz_identity_verify(r.identity_pk, sb, n, r.signature) == 0);
  FUZZ_CHECK(yz_record_newer(&r, &r, NULL) == 0);
}

static void structured(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  yz_record r;
  memset(&r, 0, sizeof r);
  char text[YZ_RECORD_URL_MAX_LEN + 2];
  const uint8_t *p;
  size_t n;

  /* The network: NET unless the input asks for its own. */
  if (fuzz_u8(&in) & 1) {
    if (!fuzz_chunk(&in, &p, &n) || n > YZ_RECORD_NETWORK_MAX_LEN)
      return;
    memcpy(text, p, n);
    text[n] = '\0';
    if (yz_record_set_network(&r, text) != 0)
      return;
  } else if (yz_record_set_network(&r, NET) != 0) {
    FUZZ_CHECK(false);
  }
  r.seq = fuzz_u64(&in);
  r.expiry = fuzz_u64(&in);
  r.node_type = fuzz_u8(&in) % 4;
  r.capabilities = fuzz_u64(&in);
  unsigned want = fuzz_u8(&in) % (YZ_RECORD_MAX_ADDRESSES + 2);
  for (unsigned i = 0; i < want; i++) {
    if (!fuzz_chunk(&in, &p, &n) || n > YZ_RECORD_URL_MAX_LEN + 1)
      return;
    memcpy(text, p, n);
    text[n] = '\0';
    uint64_t clients = fuzz_u64(&in);
    int rc = yz_record_add_address(&r, text, clients, NULL);
    FUZZ_CHECK(rc == 0 || rc == YZ_E_INVAL || rc == YZ_E_LIMIT);
    FUZZ_CHECK(rc != YZ_E_LIMIT || i >= YZ_RECORD_MAX_ADDRESSES);
  }
  const char *why = NULL;
  if (yz_record_sign(&r, &fuzz_id, &why) != 0) {
    FUZZ_CHECK(why != NULL);
    FUZZ_CHECK(r.node_type < 1 || r.node_type > 2 || r.n_addresses == 0);
    return;
  }
  uint8_t enc[YZ_RECORD_MAX_LEN];
  int rc = yz_record_encode(&r, enc, sizeof enc, &n);
  if (rc == YZ_E_TOO_LARGE)
    return;
  FUZZ_CHECK(rc == 0 && n <= YZ_RECORD_MAX_LEN);
  yz_record d;
  yz_record_expect ex = {.network = r.network, .now = 0};
  if (r.expiry == 0) {
    FUZZ_CHECK(yz_record_decode(&d, enc, n, &ex, NULL) == YZ_E_RANGE);
    return;
  }
  ex.now = r.expiry - 1;
  FUZZ_CHECK(yz_record_decode(&d, enc, n, &ex, NULL) == 0);
  FUZZ_CHECK(memcmp(&d, &r, sizeof d) == 0);
  ex.now = r.expiry;
  FUZZ_CHECK(yz_record_decode(&d, enc, n, &ex, NULL) == YZ_E_RANGE);
  if (r.seq < UINT64_MAX) {
    yz_record next = r;
    next.seq++;
    FUZZ_CHECK(yz_record_sign(&next, &fuzz_id, NULL) == 0);
    FUZZ_CHECK(yz_record_newer(&next, &r, NULL) == 1);
    FUZZ_CHECK(yz_record_newer(&r, &next, NULL) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ensure_identity();
  raw(data, size);
  structured(data, size);
  return 0;
}
