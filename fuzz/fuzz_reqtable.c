/*
 * Fuzz target: the node layer's table of requests in flight
 * (src/node/reqtable.c), driven against a simple model. Peers choose the
 * ids in their responses, so take() sees arbitrary ids; deadlines and the
 * clock come from the input too.
 *
 * Input: [max][first id: 8 bytes] then operations [op][args...]:
 *   0 insert(peer byte, deadline u16)   1 take(id u64, peer byte)
 *   2 take(id of a live entry, peer byte)  3 expire(now u16)
 *   4 take_peer(peer byte)               5 take_any
 *   6 next_deadline                      7 take_tagged(peer, tag byte)
 * An insert's tag (the link it went out on) is its deadline's low 2 bits.
 *
 * Invariants checked: every answer equals the model's (a response is
 * matched by id AND peer; expiry is earliest first; LIMIT exactly when
 * full); ids are unique and never 0.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "node/reqtable.h"

enum { MAXN = 64 };

typedef struct entry {
  yz__req r;
  bool live;
} entry;

static void peer_of(yz_node_id *id, uint8_t b)
{
  memset(id, 0, sizeof *id);
  id->bytes[0] = b & 7; /* few peers, so ids collide across peers */
}

/* The live entry the model says expire() may return: a smallest deadline
 * <= now (NULL if none). */
static entry *model_earliest(entry *e, size_t n, uint64_t now)
{
  entry *best = NULL;
  for (size_t i = 0; i < n; i++)
    if (e[i].live && e[i].r.deadline_ms <= now &&
        (best == NULL || e[i].r.deadline_ms < best->r.deadline_ms))
      best = &e[i];
  return best;
}

static entry *as_entry(yz__req *r) { return (entry *)(void *)r; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  size_t max = 1 + fuzz_u8(&in) % MAXN;
  uint64_t first = fuzz_u64(&in);
  if (first == 0)
    first = 1;
  yz__reqtable t;
  yz__reqtable_init(&t, max, first);
  static entry e[256];
  memset(e, 0, sizeof e);
  size_t used = 0, live = 0;

  for (int step = 0; step < 512 && in.n > 0; step++) {
    uint8_t op = fuzz_u8(&in) % 8;
    yz_node_id peer;
    yz__req *got;
    switch (op) {
    case 0: {
      peer_of(&peer, fuzz_u8(&in));
      uint64_t dl = fuzz_u16(&in);
      if (used == sizeof e / sizeof e[0])
        break;
      entry *x = &e[used];
      x->r.peer = peer;
      x->r.deadline_ms = dl;
      x->r.tag = dl & 3;
      int rc = yz__reqtable_insert(&t, &x->r);
      if (live == max) {
        FUZZ_CHECK(rc == YZ_E_LIMIT);
        break;
      }
      FUZZ_CHECK(rc == 0);
      uint64_t id = yz__req_id(&x->r);
      FUZZ_CHECK(id != 0);
      for (size_t i = 0; i < used; i++)
        if (e[i].live)
          FUZZ_CHECK(yz__req_id(&e[i].r) != id);
      x->live = true;
      used++;
      live++;
      break;
    }
    case 1:
    case 2: {
      uint64_t id;
      if (op == 1) {
        id = fuzz_u64(&in);
      } else {
        if (used == 0)
          break;
        id = yz__req_id(&e[fuzz_u8(&in) % used].r);
      }
      peer_of(&peer, fuzz_u8(&in));
      entry *want = NULL;
      for (size_t i = 0; i < used; i++)
        if (e[i].live && yz__req_id(&e[i].r) == id &&
            yz_node_id_equal(&e[i].r.peer, &peer))
          want = &e[i];
      got = yz__reqtable_take(&t, id, &peer);
      FUZZ_CHECK(got == (want ? &want->r : NULL));
      if (want) {
        want->live = false;
        live--;
      }
      break;
    }
    case 3: {
      uint64_t now = fuzz_u16(&in);
      entry *want = model_earliest(e, used, now);
      got = yz__reqtable_expire(&t, now);
      if (want == NULL) {
        FUZZ_CHECK(got == NULL);
      } else {
        FUZZ_CHECK(got != NULL && as_entry(got)->live);
        FUZZ_CHECK(got->deadline_ms == want->r.deadline_ms);
        as_entry(got)->live = false;
        live--;
      }
      break;
    }
    case 4: {
      peer_of(&peer, fuzz_u8(&in));
      bool any = false;
      for (size_t i = 0; i < used; i++)
        any |= e[i].live && yz_node_id_equal(&e[i].r.peer, &peer);
      got = yz__reqtable_take_peer(&t, &peer);
      FUZZ_CHECK((got != NULL) == any);
      if (got) {
        FUZZ_CHECK(as_entry(got)->live &&
                   yz_node_id_equal(&got->peer, &peer));
        as_entry(got)->live = false;
        live--;
      }
      break;
    }
    case 7: {
      peer_of(&peer, fuzz_u8(&in));
      uint64_t tag = fuzz_u8(&in) & 3;
      bool any = false;
      for (size_t i = 0; i < used; i++)
        any |= e[i].live && e[i].r.tag == tag &&
               yz_node_id_equal(&e[i].r.peer, &peer);
      got = yz__reqtable_take_tagged(&t, &peer, tag);
      FUZZ_CHECK((got != NULL) == any);
      if (got) {
        FUZZ_CHECK(as_entry(got)->live && got->tag == tag &&
                   yz_node_id_equal(&got->peer, &peer));
        as_entry(got)->live = false;
        live--;
      }
      break;
    }
    case 5:
      got = yz__reqtable_take_any(&t);
      FUZZ_CHECK((got != NULL) == (live > 0));
      if (got) {
        FUZZ_CHECK(as_entry(got)->live);
        as_entry(got)->live = false;
        live--;
      }
      break;
    default: {
      uint64_t ms = 0;
      bool have = yz__reqtable_next_deadline(&t, &ms);
      FUZZ_CHECK(have == (live > 0));
      if (have) {
        entry *want = model_earliest(e, used, UINT64_MAX);
        FUZZ_CHECK(want != NULL && ms == want->r.deadline_ms);
      }
      break;
    }
    }
    FUZZ_CHECK(yz__reqtable_count(&t) == live);
  }
  while (yz__reqtable_take_any(&t) != NULL)
    ;
  yz__reqtable_clear(&t);
  return 0;
}
