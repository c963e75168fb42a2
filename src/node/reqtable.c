/* Requests in flight: a hash by id and a list by deadline. */
#include "node/reqtable.h"

#include <stdlib.h>
#include <string.h>

void yz__reqtable_init(yz__reqtable *t, size_t max, uint64_t first_id)
{
  memset(t, 0, sizeof *t);
  t->max = max;
  t->next_id = first_id != 0 ? first_id : 1;
}

void yz__reqtable_clear(yz__reqtable *t)
{
  free(t->buckets);
  memset(t, 0, sizeof *t);
}

static size_t slot(const yz__reqtable *t, uint64_t id)
{
  /* Ids are sequential; a multiplicative mix spreads them anyway. */
  id *= 0x9e3779b97f4a7c15ULL;
  return (size_t)(id >> 32) & (t->nbuckets - 1);
}

static int grow(yz__reqtable *t)
{
  size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
  yz__req **b = calloc(n, sizeof *b);
  if (b == NULL)
    return YZ_E_NOMEM;
  yz__req **old = t->buckets;
  size_t oldn = t->nbuckets;
  t->buckets = b;
  t->nbuckets = n;
  for (size_t i = 0; i < oldn; i++) {
    yz__req *r = old[i];
    while (r != NULL) {
      yz__req *nx = r->hnext;
      size_t s = slot(t, r->id);
      r->hnext = b[s];
      b[s] = r;
      r = nx;
    }
  }
  free(old);
  return 0;
}

int yz__reqtable_insert(yz__reqtable *t, yz__req *r)
{
  if (t->count >= t->max)
    return YZ_E_LIMIT;
  if (t->count >= t->nbuckets) {
    int err = grow(t);
    if (err != 0)
      return err;
  }
  r->id = t->next_id++;
  if (t->next_id == 0)
    t->next_id = 1;
  size_t s = slot(t, r->id);
  r->hnext = t->buckets[s];
  t->buckets[s] = r;

  /* Deadlines mostly arrive in order (one default timeout), so walk from
   * the tail: O(1) in the common case. Equal deadlines keep FIFO order. */
  yz__req *after = t->tail;
  while (after != NULL && after->deadline_ms > r->deadline_ms)
    after = after->prev;
  r->prev = after;
  r->next = after ? after->next : t->head;
  if (r->next)
    r->next->prev = r;
  else
    t->tail = r;
  if (after)
    after->next = r;
  else
    t->head = r;
  t->count++;
  return 0;
}

static void unlink_req(yz__reqtable *t, yz__req *r)
{
  yz__req **pp = &t->buckets[slot(t, r->id)];
  while (*pp != r)
    pp = &(*pp)->hnext;
  *pp = r->hnext;
  if (r->prev)
    r->prev->next = r->next;
  else
    t->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    t->tail = r->prev;
  r->prev = r->next = r->hnext = NULL;
  t->count--;
}

yz__req *yz__reqtable_take(yz__reqtable *t, uint64_t id,
                           const yz_node_id *peer)
{
  if (t->count == 0)
    return NULL;
  for (yz__req *r = t->buckets[slot(t, id)]; r != NULL; r = r->hnext) {
    if (r->id == id) {
      if (peer != NULL &&
          memcmp(r->peer.bytes, peer->bytes, YZ_NODE_ID_LEN) != 0)
        return NULL;
      unlink_req(t, r);
      return r;
    }
  }
  return NULL;
}

yz__req *yz__reqtable_expire(yz__reqtable *t, uint64_t now_ms)
{
  yz__req *r = t->head;
  if (r == NULL || r->deadline_ms > now_ms)
    return NULL;
  unlink_req(t, r);
  return r;
}

yz__req *yz__reqtable_take_peer(yz__reqtable *t, const yz_node_id *peer)
{
  for (yz__req *r = t->head; r != NULL; r = r->next) {
    if (memcmp(r->peer.bytes, peer->bytes, YZ_NODE_ID_LEN) == 0) {
      unlink_req(t, r);
      return r;
    }
  }
  return NULL;
}

yz__req *yz__reqtable_take_tagged(yz__reqtable *t, const yz_node_id *peer,
                                  uint64_t tag)
{
  for (yz__req *r = t->head; r != NULL; r = r->next) {
    if (r->tag == tag &&
        memcmp(r->peer.bytes, peer->bytes, YZ_NODE_ID_LEN) == 0) {
      unlink_req(t, r);
      return r;
    }
  }
  return NULL;
}

yz__req *yz__reqtable_take_any(yz__reqtable *t)
{
  yz__req *r = t->head;
  if (r != NULL)
    unlink_req(t, r);
  return r;
}

bool yz__reqtable_next_deadline(const yz__reqtable *t, uint64_t *ms)
{
  if (t->head == NULL)
    return false;
  *ms = t->head->deadline_ms;
  return true;
}
