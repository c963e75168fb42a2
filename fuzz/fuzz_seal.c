/*
 * Fuzz target: the decoders of sealed values and encrypted topics
 * (yz/seal.h, docs/protocol.md "Sealed values and encrypted topics").
 *
 * The first byte picks the decoder; the rest is the bytes it reads:
 *   0  a sealed record's value opened by its owner (yz_seal_open);
 *   1  the same value opened by another user (shared: a recipient's path);
 *   2  a topic key record's value read by a member
 *      (yz_seal_topic_keys_open), then by its owner
 *      (yz_seal_topic_owner_load);
 *   3  an encrypted topic message's payload (yz_seal_topic_open);
 *   4  a round trip: the bytes sealed privately, shared and as a topic
 *      message, then opened: they come back, and one flipped bit is
 *      refused as tampered.
 * Invariants: an error is a negative code and hands out nothing; a success
 * never reads or writes outside the buffers (ASan) and never hands out
 * more plaintext than the input holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/seal.h"

static yz_seal_user owner, other;
static bool ready;
static uint8_t topic[32];

static void setup(void)
{
  if (ready)
    return;
  FUZZ_CHECK(yz_init() == 0);
  uint8_t seed[32];
  yz_identity id;
  fuzz_key(seed, 71);
  FUZZ_CHECK(yz_identity_from_seed(&id, seed) == 0);
  FUZZ_CHECK(yz_seal_user_init(&owner, &id) == 0);
  fuzz_key(seed, 72);
  FUZZ_CHECK(yz_identity_from_seed(&id, seed) == 0);
  FUZZ_CHECK(yz_seal_user_init(&other, &id) == 0);
  yz_identity_clear(&id);
  fuzz_key(topic, 73);
  ready = true;
}

static void as_record(yz_dhtrec *r, const uint8_t *v, size_t n,
                      const uint8_t *salt, uint64_t seq)
{
  memset(r, 0, sizeof *r);
  r->kind = YZ_DHTREC_MUTABLE;
  r->value = v;
  r->value_len = n;
  r->seq = seq;
  r->expiry = 1800003600u;
  memcpy(r->public_key, owner.ed_pk, 32);
  memcpy(r->salt, salt, 32);
  r->salt_len = 32;
  FUZZ_CHECK(yz_dhtrec_derive_key(r) == 0);
}

static void open_value(const yz_seal_user *u, const uint8_t *v, size_t n)
{
  yz_dhtrec r;
  as_record(&r, v, n, topic, 1);
  uint8_t *out = malloc(n + 1);
  FUZZ_CHECK(out != NULL);
  yz_seal_opened o;
  int rc = yz_seal_open(u, &r, out, n, &o);
  if (rc == 0)
    FUZZ_CHECK(o.plaintext_len <= n && o.plaintext >= out &&
               o.plaintext + o.plaintext_len <= out + n);
  else
    FUZZ_CHECK(rc < 0 && o.plaintext == NULL);
  free(out);
}

static void open_topic_keys(const uint8_t *v, size_t n)
{
  yz_dhtrec r;
  as_record(&r, v, n, topic, 1);
  yz_seal_keyring kr;
  yz_seal_keyring_init(&kr, topic, owner.ed_pk, 1000);
  int rc = yz_seal_topic_keys_open(&kr, &other, &r, 5);
  FUZZ_CHECK(rc <= 0 && kr.n <= YZ_SEAL_EPOCHS_MAX);
  static yz_seal_topic_owner t;
  rc = yz_seal_topic_owner_load(&t, &owner, topic, &r);
  FUZZ_CHECK(rc <= 0 && t.n_epochs <= YZ_SEAL_EPOCHS_MAX &&
             t.n_members <= YZ_SEAL_MEMBERS_MAX);
  yz_seal_topic_owner_clear(&t);
  yz_seal_keyring_clear(&kr);
}

static void open_message(const uint8_t *p, size_t n)
{
  yz_seal_keyring kr;
  yz_seal_keyring_init(&kr, topic, owner.ed_pk, 1000);
  kr.n = 1;
  kr.e[0].epoch = n >= 9 ? ((uint64_t)p[8] | 1) : 1;
  fuzz_key(kr.e[0].key, 74);
  uint8_t out[512];
  size_t ol = 0;
  int rc = yz_seal_topic_open(&kr, owner.ed_pk, kr.e[0].epoch, p, n, 5, out,
                              sizeof out, &ol);
  FUZZ_CHECK(rc <= 0);
  if (rc == 0)
    FUZZ_CHECK(ol + YZ_SEAL_MSG_OVERHEAD == n);
}

static void round_trip(const uint8_t *p, size_t n)
{
  if (n == 0 || n > 4096)
    return;
  uint8_t key[32];
  fuzz_key(key, 75);
  size_t cap = yz_seal_shared_len(n, 2);
  uint8_t *v = malloc(cap), *out = malloc(cap);
  FUZZ_CHECK(v != NULL && out != NULL);
  size_t vlen;
  yz_dhtrec r;
  yz_seal_opened o;
  for (int shared = 0; shared < 2; shared++) {
    int rc = shared ? yz_seal_shared(&owner, key, 9, other.ed_pk, 1, p, n, v,
                                     cap, &vlen)
                    : yz_seal_private(&owner, key, 9, p, n, v, cap, &vlen);
    FUZZ_CHECK(rc == 0);
    as_record(&r, v, vlen, topic, 9);
    memcpy(r.key, key, 32);
    FUZZ_CHECK(yz_seal_open(shared ? &other : &owner, &r, out, cap, &o) == 0);
    FUZZ_CHECK(o.plaintext_len == n && memcmp(o.plaintext, p, n) == 0);
    v[vlen - 1 - (p[0] % 16)] ^= 1;
    FUZZ_CHECK(yz_seal_open(&owner, &r, out, cap, &o) == YZ_E_SEAL_TAMPERED);
  }
  yz_seal_keyring kr;
  yz_seal_keyring_init(&kr, topic, owner.ed_pk, 1000);
  kr.n = 1;
  kr.e[0].epoch = 3;
  fuzz_key(kr.e[0].key, 76);
  uint64_t ep;
  FUZZ_CHECK(yz_seal_topic_seal(&kr, other.ed_pk, p, n, v, cap, &vlen, &ep) ==
             0);
  size_t ol;
  FUZZ_CHECK(yz_seal_topic_open(&kr, other.ed_pk, ep, v, vlen, 0, out, cap,
                                &ol) == 0);
  FUZZ_CHECK(ol == n && memcmp(out, p, n) == 0);
  free(v);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  setup();
  if (size == 0 || size > YZ_DHTREC_VALUE_MAX_DEFAULT)
    return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  switch (data[0] % 5) {
  case 0:
    open_value(&owner, p, n);
    break;
  case 1:
    open_value(&other, p, n);
    break;
  case 2:
    open_topic_keys(p, n);
    break;
  case 3:
    open_message(p, n);
    break;
  default:
    round_trip(p, n);
    break;
  }
  return 0;
}
