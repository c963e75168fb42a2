/*
 * Fuzz target: PubSub RPCs (yz/pubsub_wire.h, docs/protocol.md "PubSub").
 *
 * 1. The whole input goes to yz_ps_rpc_decode() under the default limits
 *    and under small ones. A refused input leaves the RPC zeroed with a
 *    reason; what the small limits accept the defaults accept, and what
 *    only the defaults accept the small ones refuse with LIMIT or
 *    TOO_LARGE. An accepted input passes the generic strict check, every
 *    pointer is inside it, every set is strictly increasing, and it
 *    re-encodes to exactly the input bytes (one byte less of buffer:
 *    TOO_LARGE). Each message goes through yz_ps_msg_check() and
 *    yz_ps_msg_id(), which must not fail on decoded messages.
 * 2. The same input read as an RPC's fields: whatever the encoder accepts
 *    decodes and re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/pubsub_wire.h"
#include "yz/wire.h"

static const uint8_t *base;
static size_t base_n;

static bool inside(const uint8_t *p, size_t n)
{
  return p >= base && n <= base_n && (size_t)(p - base) <= base_n - n;
}

static void check_set(const yz_ps_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    FUZZ_CHECK(inside(yz_ps_list_at(l, i), 32));
    if (i)
      FUZZ_CHECK(memcmp(yz_ps_list_at(l, i - 1), yz_ps_list_at(l, i), 32) < 0);
  }
}

static void raw(const uint8_t *data, size_t size)
{
  static yz_ps_rpc r, s, zero;
  static const yz_ps_limits small = {.max_topics = 2,
                                     .max_ids = 4,
                                     .max_messages = 2,
                                     .max_px = 2,
                                     .max_data = 64,
                                     .max_rpc_len = 4096};
  const char *why = NULL, *swhy = NULL;
  memset(&r, 0xA5, sizeof r);
  int rc = yz_ps_rpc_decode(&r, data, size, NULL, &why);
  memset(&s, 0xA5, sizeof s);
  int src = yz_ps_rpc_decode(&s, data, size, &small, &swhy);
  if (src != 0) {
    FUZZ_CHECK(src < 0 && swhy != NULL);
    FUZZ_CHECK(memcmp(&s, &zero, sizeof s) == 0);
  }
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && why != NULL);
    FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0);
    FUZZ_CHECK(src != 0);
    return;
  }
  if (src != 0)
    FUZZ_CHECK(src == YZ_E_LIMIT || src == YZ_E_TOO_LARGE);
  base = data, base_n = size;
  FUZZ_CHECK(yz_wire_check(data, size, size, NULL) == 0);
  check_set(&r.subscribe);
  check_set(&r.unsubscribe);
  check_set(&r.graft);
  check_set(&r.iwant);
  check_set(&r.idontwant);
  FUZZ_CHECK(r.n_publish <= YZ_PS_MAX_MSGS);
  for (size_t i = 0; i < r.n_publish; i++) {
    const yz_ps_msg *m = &r.publish[i];
    FUZZ_CHECK(inside(m->data, m->data_len));
    FUZZ_CHECK(m->data_len <= YZ_PS_MAX_DATA);
    uint8_t id[YZ_PS_ID_LEN];
    FUZZ_CHECK(yz_ps_msg_id(m, id) == 0);
    yz_ps_status st = yz_ps_msg_check(m, 1800000000u, 0, 0, NULL);
    FUZZ_CHECK(st != YZ_PS_TOO_LARGE &&
               strcmp(yz_ps_status_name(st), "UNKNOWN") != 0);
  }
  for (size_t i = 0; i < r.n_prune; i++) {
    FUZZ_CHECK(inside(r.prune[i].topic, 32));
    FUZZ_CHECK(r.prune[i].n_peers <= YZ_PS_MAX_PX);
    for (size_t j = 0; j < r.prune[i].n_peers; j++) {
      const yz_ps_bytes *p = &r.prune[i].peers[j];
      FUZZ_CHECK(inside(p->ptr, p->len) && p->len >= 1 &&
                 p->len <= YZ_PS_PEER_RECORD_MAX_LEN);
    }
  }
  for (size_t i = 0; i < r.n_ihave; i++) {
    FUZZ_CHECK(inside(r.ihave[i].topic, 32));
    FUZZ_CHECK(r.ihave[i].ids.n >= 1);
    check_set(&r.ihave[i].ids);
  }
  uint8_t *out = malloc(size);
  FUZZ_CHECK(out != NULL);
  size_t n = 0;
  FUZZ_CHECK(yz_ps_rpc_encode(&r, NULL, out, size, &n, NULL) == 0);
  FUZZ_CHECK(n == size && memcmp(out, data, size) == 0);
  FUZZ_CHECK(yz_ps_rpc_encode(&r, NULL, out, size - 1, &n, NULL) ==
             YZ_E_TOO_LARGE);
  free(out);
}

/* A list of up to 3 items of 32 bytes from the input, in input order. */
static void list_of(fuzz_in *in, uint8_t (*store)[32], yz_ps_list *l)
{
  l->n = fuzz_u8(in) % 4;
  l->ptr = store[0];
  l->stride = 0;
  for (size_t i = 0; i < l->n; i++)
    for (size_t j = 0; j < 32; j++)
      store[i][j] = fuzz_u8(in) & 0x0f; /* small alphabet: repeats */
}

static void structured(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  static yz_ps_rpc r, d;
  static uint8_t items[8][3][32];
  static yz_ps_bytes peers[3];
  yz_ps_rpc_init(&r);
  list_of(&in, items[0], &r.subscribe);
  list_of(&in, items[1], &r.unsubscribe);
  list_of(&in, items[2], &r.graft);
  list_of(&in, items[3], &r.iwant);
  list_of(&in, items[4], &r.idontwant);
  r.n_ihave = fuzz_u8(&in) % 3;
  for (size_t i = 0; i < r.n_ihave; i++) {
    r.ihave[i].topic = items[5][i];
    memset(items[5][i], fuzz_u8(&in) & 3, 32);
    list_of(&in, items[6 + i], &r.ihave[i].ids);
  }
  r.n_prune = fuzz_u8(&in) % 2;
  if (r.n_prune) {
    r.prune[0].topic = items[5][2];
    r.prune[0].backoff = fuzz_u64(&in);
    r.prune[0].n_peers = fuzz_u8(&in) % 4;
    r.prune[0].peers = peers;
    for (size_t j = 0; j < r.prune[0].n_peers; j++) {
      if (!fuzz_chunk(&in, &peers[j].ptr, &peers[j].len))
        peers[j] = (yz_ps_bytes){NULL, 0};
    }
  }
  r.n_publish = fuzz_u8(&in) % 3;
  for (size_t i = 0; i < r.n_publish; i++) {
    yz_ps_msg *m = &r.publish[i];
    memset(m->topic, fuzz_u8(&in), 32);
    memset(m->author, fuzz_u8(&in), 32);
    m->seq = fuzz_u8(&in);
    m->expiry = fuzz_u64(&in);
    m->epoch = fuzz_u8(&in) % 3;
    if (!fuzz_chunk(&in, &m->data, &m->data_len))
      m->data = NULL, m->data_len = 0;
  }
  static uint8_t out[1 << 18];
  size_t n = 0;
  const char *why = NULL;
  int rc = yz_ps_rpc_encode(&r, NULL, out, sizeof out, &n, &why);
  if (rc != 0) {
    FUZZ_CHECK(rc == YZ_E_INVAL && why != NULL);
    return;
  }
  FUZZ_CHECK(yz_ps_rpc_decode(&d, out, n, NULL, &why) == 0);
  static uint8_t again[1 << 18];
  size_t n2 = 0;
  FUZZ_CHECK(yz_ps_rpc_encode(&d, NULL, again, sizeof again, &n2, NULL) == 0);
  FUZZ_CHECK(n2 == n && memcmp(again, out, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  raw(data, size);
  structured(data, size);
  return 0;
}
