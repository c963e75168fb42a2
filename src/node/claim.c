/*
 * One service of a kind per node: see node/node_internal.h.
 */
#include "node/node_internal.h"

#include <pthread.h>
#include <stddef.h>

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static yz__node_claim *claims;

bool yz__node_claim_take(yz__node_claim *c, const yz_node *node, int kind)
{
  bool ok = true;
  pthread_mutex_lock(&claims_lock);
  for (yz__node_claim *x = claims; x; x = x->next)
    if (x->node == node && x->kind == kind)
      ok = false;
  if (ok) {
    c->node = node;
    c->kind = kind;
    c->next = claims;
    claims = c;
    c->held = true;
  }
  pthread_mutex_unlock(&claims_lock);
  return ok;
}

void yz__node_claim_release(yz__node_claim *c)
{
  if (!c->held)
    return;
  pthread_mutex_lock(&claims_lock);
  for (yz__node_claim **pp = &claims; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  pthread_mutex_unlock(&claims_lock);
  c->held = false;
}
