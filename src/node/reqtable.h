/*
 * The table of requests in flight: ids, the peer each went to, deadlines.
 *
 * Sans-I/O: time is passed in (milliseconds on any monotonic clock), no
 * timers here. Entries are intrusive, in the manner of libuv handles: the
 * caller embeds a yz__req in its own record, owns its memory, and gets the
 * same pointer back from take/expire. A response is matched by id AND peer,
 * so one peer cannot answer a request sent to another.
 */
#ifndef YZ_NODE_REQTABLE_H
#define YZ_NODE_REQTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/identity.h"

typedef struct yz__req {
  /* Set by the caller before insert (id by yz__reqtable_insert). */
  yz_node_id peer;
  uint64_t deadline_ms;
  /* The caller's: which link of the peer the request went out on, for
   * yz__reqtable_take_tagged() (0: none). */
  uint64_t tag;
  /* Private. */
  uint64_t id;
  struct yz__req *hnext;         /* hash chain */
  struct yz__req *prev, *next;   /* deadline order, earliest first */
} yz__req;

typedef struct yz__reqtable {
  yz__req **buckets;
  size_t nbuckets; /* a power of two, or 0 before the first insert */
  size_t count;
  size_t max;
  uint64_t next_id;
  yz__req *head, *tail;
} yz__reqtable;

/* An empty table that holds at most max requests; first_id (not 0) is the
 * first id handed out; ids then increase by one and skip 0. */
void yz__reqtable_init(yz__reqtable *t, size_t max, uint64_t first_id);

/* Free the table's own memory. The entries still in it are abandoned (the
 * caller owns them: drain with yz__reqtable_take_any first). */
void yz__reqtable_clear(yz__reqtable *t);

/* Add r (peer and deadline_ms set); assigns r->id. 0, YZ_E_LIMIT when the
 * table is full, or YZ_E_NOMEM. */
int yz__reqtable_insert(yz__reqtable *t, yz__req *r);

/* The id insert gave r. */
static inline uint64_t yz__req_id(const yz__req *r) { return r->id; }

/* Remove and return the request with this id sent to this peer, or NULL
 * (unknown id, already answered or timed out, or another peer). peer NULL
 * matches any peer: for the local side only (cancellation), never for a
 * response from the network. */
yz__req *yz__reqtable_take(yz__reqtable *t, uint64_t id,
                           const yz_node_id *peer);

/* Remove and return one request whose deadline is <= now_ms, earliest
 * first, or NULL. */
yz__req *yz__reqtable_expire(yz__reqtable *t, uint64_t now_ms);

/* Remove and return one request sent to peer, or NULL. */
yz__req *yz__reqtable_take_peer(yz__reqtable *t, const yz_node_id *peer);

/* Remove and return one request sent to peer with this tag, or NULL. */
yz__req *yz__reqtable_take_tagged(yz__reqtable *t, const yz_node_id *peer,
                                  uint64_t tag);

/* Remove and return any request, or NULL when the table is empty. */
yz__req *yz__reqtable_take_any(yz__reqtable *t);

/* The earliest deadline; false when the table is empty. */
bool yz__reqtable_next_deadline(const yz__reqtable *t, uint64_t *ms);

static inline size_t yz__reqtable_count(const yz__reqtable *t)
{
  return t->count;
}

#endif
