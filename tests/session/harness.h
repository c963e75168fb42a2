/*
 * Two sessions joined by an in-memory pipe, for the session tests: each
 * side's send() queues a copy of the wire message; pump() delivers them in
 * order. Tests may reach into queues to drop, tamper, replay or reorder.
 */
#ifndef YZ_TEST_SESSION_HARNESS_H
#define YZ_TEST_SESSION_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yz/session.h"

/* Results a test deliberately does not check (events tell). */
static inline void ignore(int rc) { (void)rc; }

typedef struct wmsg {
  uint8_t *p;
  size_t n;
} wmsg;

typedef struct queue {
  wmsg m[4096];
  size_t head, tail;
} queue;

typedef struct side {
  const char *name;
  yz_identity id;
  yz_session_local local;
  yz_session s;
  queue out;
  size_t sent_total;
  int refuse_send; /* error returned by send() */
  /* events */
  int n_up, n_msg, n_closed;
  yz_node_id up_peer;
  uint8_t up_cb[YZ_SESSION_HASH_LEN];
  yz_wire_identity_proof up_proof;
  uint8_t *last_msg;
  size_t last_len;
  int close_err;
  bool close_remote;
  uint16_t close_code;
  char close_text[256];
  /* behaviour on message */
  bool echo;
  bool close_on_msg;
} side;

static inline int h_send(void *user, uint8_t *msg, size_t len)
{
  side *sd = user;
  if (sd->refuse_send)
    return sd->refuse_send;
  queue *q = &sd->out;
  if (q->tail == sizeof q->m / sizeof q->m[0])
    return YZ_E_QUEUE_FULL;
  wmsg *w = &q->m[q->tail++];
  w->p = malloc(len ? len : 1);
  memcpy(w->p, msg, len);
  w->n = len;
  sd->sent_total++;
  return 0;
}

static inline void h_event(void *user, const yz_session_event *ev)
{
  side *sd = user;
  switch (ev->type) {
  case YZ_SESSION_EVENT_UP:
    sd->n_up++;
    sd->up_peer = *ev->u.up.peer_id;
    memcpy(sd->up_cb, ev->u.up.channel_binding, ev->u.up.channel_binding_len);
    sd->up_proof = *ev->u.up.proof;
    break;
  case YZ_SESSION_EVENT_MESSAGE:
    sd->n_msg++;
    free(sd->last_msg);
    sd->last_msg = malloc(ev->u.message.len ? ev->u.message.len : 1);
    memcpy(sd->last_msg, ev->u.message.data, ev->u.message.len);
    sd->last_len = ev->u.message.len;
    if (sd->echo)
      ignore(yz_session_send(&sd->s, ev->u.message.data, ev->u.message.len, 0));
    if (sd->close_on_msg)
      ignore(yz_session_close(&sd->s, YZ_CLOSE_APP_MIN, "bye", 0));
    break;
  case YZ_SESSION_EVENT_CLOSED:
    sd->n_closed++;
    sd->close_err = ev->u.closed.err;
    sd->close_remote = ev->u.closed.remote;
    sd->close_code = ev->u.closed.code;
    snprintf(sd->close_text, sizeof sd->close_text, "%.*s",
             (int)ev->u.closed.text_len, ev->u.closed.text);
    break;
  }
}

static inline void q_clear(queue *q)
{
  for (size_t i = q->head; i < q->tail; i++)
    free(q->m[i].p);
  q->head = q->tail = 0;
}

static inline size_t q_len(const queue *q) { return q->tail - q->head; }

/* Pop the oldest message (caller frees). */
static inline wmsg q_pop(queue *q)
{
  wmsg w = q->m[q->head++];
  if (q->head == q->tail)
    q->head = q->tail = 0;
  return w;
}

static inline void side_identity(side *sd, const char *name, uint8_t seed_byte)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, seed_byte, sizeof seed);
  memset(sd, 0, sizeof *sd);
  sd->name = name;
  if (yz_identity_from_seed(&sd->id, seed) != 0)
    abort();
  if (yz_session_local_init(&sd->local, &sd->id, NULL, NULL) != 0)
    abort();
}

static inline void side_config(side *sd, yz_session_config *cfg,
                               yz_session_role role, const yz_node_id *pin)
{
  yz_session_config_default(cfg);
  cfg->role = role;
  cfg->local = &sd->local;
  cfg->expected_peer = pin;
  cfg->unpinned = pin == NULL;
  cfg->send = h_send;
  cfg->event = h_event;
  cfg->user = sd;
}

static inline void side_free(side *sd)
{
  yz_session_clear(&sd->s);
  yz_session_local_clear(&sd->local);
  yz_identity_clear(&sd->id);
  q_clear(&sd->out);
  free(sd->last_msg);
  sd->last_msg = NULL;
}

/* Deliver one message from a's queue to b. Returns recv's result, or 1 if
 * the queue was empty. */
static inline int deliver1(side *a, side *b, uint64_t now)
{
  if (!q_len(&a->out))
    return 1;
  wmsg w = q_pop(&a->out);
  int rc = yz_session_recv(&b->s, w.p, w.n, now);
  free(w.p);
  return rc;
}

/* Deliver everything both ways until quiet. */
static inline void pump(side *a, side *b, uint64_t now)
{
  while (q_len(&a->out) || q_len(&b->out)) {
    (void)deliver1(a, b, now);
    (void)deliver1(b, a, now);
  }
}

#endif
