/*
 * The DHT's operations (include/yz/dht.h, docs/dht.md "Lookups"): one
 * iterative lookup engine, alpha requests in flight over a candidate set
 * sorted by XOR distance (at most 3k, the closest kept), done when the k
 * closest candidates that did not fail have answered; then per operation:
 * FIND_NODE and the join deliver the closest, GET the best record (and
 * corrects stale replicas), PUT and PROVIDE send to the k closest,
 * GET_PROVIDERS the providers. Also the keep-alive and provide lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/dht_priv.h"

enum { K_JOIN, K_FIND, K_GET, K_PUT, K_PROVIDE, K_GETPROV };
enum { PH_JOIN, PH_LOOKUP, PH_STORE, PH_DONE };
/* A candidate: new, being dialled, asked, answered, failed, or left out
 * (its request was dropped when the lookup ended). */
enum { C_NEW, C_DIAL, C_WAIT, C_DONE, C_FAIL, C_DROP };
/* PUT, PROVIDE: a candidate's store (docs/dht.md "PUT"): not sent, in
 * flight, acknowledged OK, refused or failed. */
enum { P_NONE, P_SENT, P_OK, P_FAIL };

struct cand {
  yz_node_id id;
  uint8_t *rec;
  size_t rec_len;
  uint8_t state;
  bool answered;
  unsigned round; /* the hop its answer is: 1 for table contacts */
  bool requeried; /* its link went down once: asked again */
  /* Asked (or dialled) at since; stalled: it took longer than
   * stall_ms() and no longer holds one of the alpha slots (its answer
   * still counts when it comes). */
  uint64_t since;
  bool stalled;
  bool had;       /* GET: it returned a valid record ... */
  uint64_t seq;   /* ... with this seq */
  /* PUT, PROVIDE: its store, whether it is among the final k closest
   * (set when the lookup ends), and a refusal's status and reason */
  uint8_t put;
  bool spread; /* PUT: its store carries spread (and so does a resend) */
  bool final_k;
  uint64_t refusal;
  char *why;
};

struct prov {
  yz_node_id id;
  uint8_t *rec;
  size_t len;
};

struct yz__dht_op {
  struct yz__dht_op *next;
  uint64_t id;
  int kind, phase, status;
  bool internal, cancelled, busy;
  uint8_t target[YZ_DHT_KEY_LEN];
  yz_dht_cb cb;
  void *arg;
  yz_dht_progress_cb progress;
  bool latest, has_seq, has_cas;
  unsigned quorum;
  uint64_t seq, cas;
  uint64_t started, deadline;
  struct cand *c;
  size_t n, cap;
  unsigned inflight;
  bool last_step; /* the alpha closest of the window answered */
  yz_dht_op_stats st;
  /* GET */
  uint8_t *best;
  size_t best_len;
  uint64_t best_seq;
  bool best_mut;
  unsigned holders, with_record, best_round, corrected;
  /* PUT, PROVIDE */
  uint8_t *rec;
  size_t rec_len;
  unsigned asked, stored;
  unsigned n_spread; /* PUT: stores given the spread flag so far */
  unsigned n_near;   /* PUT: ... of them, to answerers close by their table */
  uint64_t refusal;
  char reason[YZ_DHT_MSG_REASON_MAX_LEN + 1];
  /* GET_PROVIDERS */
  struct prov *prov;
  size_t n_prov;
  /* join */
  unsigned join_pending, join_ok;
};

struct yz__dht_kept {
  struct yz__dht_kept *next;
  bool provide;
  uint8_t key[YZ_DHT_KEY_LEN];
  uint8_t *rec;
  size_t len;
  uint64_t expiry, seq;
  uint64_t next_due;
};

static void step(yz_dht *d, struct yz__dht_op *op);

/*
 * A request in flight that takes longer than a live node would need is
 * "stalled" (docs/dht.md "Lookups"): it stops counting against alpha, so
 * the lookup asks the next candidate instead of waiting for a timeout.
 * After a mass failure most of a window is dead; with every dead contact
 * holding a slot until its timeout (up to rpc_timeout_max_ms, or a 3 s
 * connect timeout), a lookup waited for them alpha at a time and ran
 * into its deadline. A request is stalled after the timeout floor
 * (rpc_timeout_min_ms, 500 ms: several round trips); a dial after three
 * times that (a dial costs TCP, the upgrade and the Noise handshake
 * before the request: about 4.5 round trips).
 */
static uint64_t stall_ms(const yz_dht *d, const struct cand *c)
{
  uint64_t f = d->cfg.rpc_timeout_min_ms;
  return c->state == C_DIAL ? 3 * f : f;
}

/* c's request or dial ended: give back its alpha slot, unless it had
 * stalled (then it held none). */
static void release(struct yz__dht_op *op, struct cand *c)
{
  if (c->stalled)
    c->stalled = false;
  else
    op->inflight--;
}

static struct yz__dht_op *op_find(yz_dht *d, uint64_t id)
{
  for (struct yz__dht_op *o = d->ops; o; o = o->next)
    if (o->id == id)
      return o;
  return NULL;
}

/* The candidates are sorted by XOR distance to the target, and a distance
 * is of exactly one ID: a binary search. Every contact of every answer is
 * looked up here (up to 20 an answer against up to 3k candidates); a
 * linear scan with the constant-time yz_node_id_equal() was 5 to 6 % of a
 * simulation's profile. Node IDs are public: no constant time needed. */
static struct cand *cand_find(struct yz__dht_op *op, const yz_node_id *id)
{
  size_t lo = 0, hi = op->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = yz__dht_dist_cmp(op->target, id->bytes, op->c[mid].id.bytes);
    if (c == 0)
      return &op->c[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

static void op_free(struct yz__dht_op *op)
{
  for (size_t i = 0; i < op->n; i++) {
    free(op->c[i].rec);
    free(op->c[i].why);
  }
  for (size_t i = 0; i < op->n_prov; i++)
    free(op->prov[i].rec);
  free(op->c);
  free(op->prov);
  free(op->best);
  free(op->rec);
  free(op);
}

bool yz__dht_internal_room(const yz_dht *d)
{
  /* maintenance takes at most half of the lookup slots */
  size_t half = d->cfg.max_lookups / 2 ? d->cfg.max_lookups / 2 : 1;
  return !d->stopping && d->n_internal < half && d->n_ops < d->cfg.max_lookups;
}

static struct yz__dht_op *op_new(yz_dht *d, int kind, const uint8_t *target,
                                 const yz_dht_op_opts *o, bool internal)
{
  struct yz__dht_op *op = calloc(1, sizeof *op);
  if (!op)
    return NULL;
  op->cap = (size_t)d->cfg.k * YZ__DHT_CAND_FACTOR;
  op->c = calloc(op->cap, sizeof *op->c);
  if (kind == K_GETPROV)
    op->prov = calloc(d->cfg.providers_per_key_max, sizeof *op->prov);
  if (!op->c || (kind == K_GETPROV && !op->prov)) {
    op_free(op);
    return NULL;
  }
  op->id = ++d->next_op;
  op->kind = kind;
  op->phase = kind == K_JOIN ? PH_JOIN : PH_LOOKUP;
  op->internal = internal;
  memcpy(op->target, target, YZ_DHT_KEY_LEN);
  op->latest = true;
  if (o) {
    op->progress = o->progress;
    op->latest = o->latest;
    op->quorum = o->quorum;
    op->has_seq = o->has_seq;
    op->seq = o->seq;
    op->has_cas = o->has_cas;
    op->cas = o->cas;
  }
  if (!op->quorum)
    op->quorum = d->cfg.get_quorum;
  op->started = yz__dht_now(d);
  op->deadline =
      op->started +
      (o && o->deadline_ms ? o->deadline_ms : d->cfg.lookup_deadline_ms);
  op->next = d->ops;
  d->ops = op;
  d->n_ops++;
  if (internal)
    d->n_internal++;
  return op;
}

/* A candidate learned (the table, an answer's closer peers): kept sorted
 * by distance, at most cap, the farthest dropped. */
static void cand_add(yz_dht *d, struct yz__dht_op *op, const yz_node_id *id,
                     const uint8_t *rec, size_t len, unsigned round)
{
  if (yz_node_id_equal(id, yz_node_get_id(d->node)) || cand_find(op, id))
    return;
  size_t pos = op->n;
  while (pos > 0 &&
         yz__dht_dist_cmp(op->target, id->bytes, op->c[pos - 1].id.bytes) < 0)
    pos--;
  if (pos >= op->cap)
    return;
  uint8_t *copy = malloc(len);
  if (!copy)
    return;
  memcpy(copy, rec, len);
  if (op->n == op->cap) {
    struct cand *last = &op->c[op->cap - 1];
    if (last->state == C_DIAL || last->state == C_WAIT)
      release(op, last); /* its answer will find no candidate */
    free(last->rec);
    free(last->why);
    op->n--;
  }
  memmove(&op->c[pos + 1], &op->c[pos], (op->n - pos) * sizeof *op->c);
  memset(&op->c[pos], 0, sizeof op->c[pos]);
  op->c[pos].id = *id;
  op->c[pos].rec = copy;
  op->c[pos].rec_len = len;
  op->c[pos].round = round;
  op->n++;
}

static void seed(yz_dht *d, struct yz__dht_op *op)
{
  const yz__dht_contact *cl[YZ_DHT_MSG_CONTACTS_CAP];
  yz_node_id t;
  memcpy(t.bytes, op->target, YZ_NODE_ID_LEN);
  size_t n = yz__dht_rt_closest(&d->rt, &t, cl, d->cfg.k);
  for (size_t i = 0; i < n; i++)
    if (cl[i]->record)
      cand_add(d, op, &cl[i]->id, cl[i]->record, cl[i]->record_len, 1);
  yz__dht_rt_touched(&d->rt, &t, yz__dht_now(d));
}

/* ---- finishing -------------------------------------------------------- */

static void finish(yz_dht *d, struct yz__dht_op *op, int status)
{
  if (op->phase == PH_DONE)
    return;
  op->phase = PH_DONE;
  op->status = status;
  op->st.elapsed_ms = yz__dht_now(d) - op->started;
  yz__dht_cancel_rpcs(d, op->id);
  for (struct yz__dht_op **pp = &d->ops; *pp; pp = &(*pp)->next)
    if (*pp == op) {
      *pp = op->next;
      break;
    }
  d->n_ops--;
  if (op->internal)
    d->n_internal--;
  d->st.lookups++;
  if (status != 0 && status != YZ_E_NOT_FOUND)
    d->st.lookups_failed++;
  /* delivered from the loop (never from the call that started it) */
  op->next = NULL;
  struct yz__dht_op **tail = &d->done;
  while (*tail)
    tail = &(*tail)->next;
  *tail = op;
  yz__dht_kick(d);
}

static size_t closest_answered(const struct yz__dht_op *op,
                               yz_dht_contact *out, size_t k, unsigned *round)
{
  size_t n = 0;
  for (size_t i = 0; i < op->n && n < k; i++) {
    if (!op->c[i].answered)
      continue;
    if (out)
      out[n] = (yz_dht_contact){op->c[i].id, op->c[i].rec, op->c[i].rec_len};
    if (round && op->c[i].round > *round)
      *round = op->c[i].round;
    n++;
  }
  return n;
}

static void deliver_one(yz_dht *d, struct yz__dht_op *op)
{
  yz_dht_contact cl[YZ_DHT_MSG_CONTACTS_CAP];
  yz_dht_contact *pv = NULL;
  yz_dht_result r;
  memset(&r, 0, sizeof r);
  r.status = op->status;
  unsigned rounds = 0;
  r.n_closest = closest_answered(op, cl, d->cfg.k, &rounds);
  r.closest = cl;
  yz_dhtrec rec;
  if (op->kind == K_GET) {
    rounds = op->best_round;
    if (op->best && yz_dhtrec_decode(&rec, op->best, op->best_len,
                                     d->cfg.value_max, NULL) == 0) {
      r.record = op->best;
      r.record_len = op->best_len;
      r.rec = &rec;
    }
    r.holders = op->holders;
    r.corrected = op->corrected;
  }
  if (op->kind == K_PUT || op->kind == K_PROVIDE) {
    r.asked = op->asked;
    r.stored = op->stored;
    r.refusal = op->refusal;
    r.refusal_reason = op->refusal ? op->reason : NULL;
  }
  if (op->kind == K_GETPROV && op->n_prov) {
    pv = calloc(op->n_prov, sizeof *pv);
    for (size_t i = 0; pv && i < op->n_prov; i++)
      pv[i] =
          (yz_dht_contact){op->prov[i].id, op->prov[i].rec, op->prov[i].len};
    if (pv) {
      r.providers = pv;
      r.n_providers = op->n_prov;
    }
  }
  op->st.rounds = rounds;
  r.stats = op->st;
  op->cb(d, &r, op->arg);
  free(pv);
}

void yz__dht_deliver(yz_dht *d)
{
  while (d->done) {
    struct yz__dht_op *op = d->done;
    d->done = op->next;
    if (!op->internal && !op->cancelled && op->cb)
      deliver_one(d, op);
    op_free(op);
  }
}

/* ---- requests --------------------------------------------------------- */

static int send_msg(yz_dht *d, struct yz__dht_op *op, struct cand *c,
                    bool store)
{
  yz_dht_msg m;
  bool client = yz__dht_is_client(d);
  if (store && op->kind == K_PUT) {
    yz_dht_msg_init(&m, YZ_DHT_PUT);
    m.has_record = true;
    m.record = (yz_dht_bytes){op->rec, op->rec_len};
    m.has_cas = op->has_cas;
    m.cas = op->cas;
    m.spread = c->spread;
  } else if (store) {
    size_t n;
    const uint8_t *own = yz__dht_own(d, &n);
    if (!own)
      return YZ_E_STATE;
    yz_dht_msg_init(&m, YZ_DHT_PROVIDE);
    m.provider = (yz_dht_bytes){own, n};
  } else if (op->kind == K_GET) {
    yz_dht_msg_init(&m, YZ_DHT_GET);
    m.has_seq = op->has_seq;
    m.seq = op->seq;
  } else if (op->kind == K_GETPROV) {
    yz_dht_msg_init(&m, YZ_DHT_GET_PROVIDERS);
  } else {
    yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  }
  memcpy(m.target, op->target, YZ_DHT_KEY_LEN);
  m.client_only = client;
  int rc = yz__dht_send(d, &c->id, &m, op->id);
  if (rc == 0) {
    op->st.queried++;
    if (m.spread)
      d->st.spread_sent++;
  }
  return rc;
}

/* The lookup's request to c (FIND_NODE, GET, GET_PROVIDERS). */
static int send_for(yz_dht *d, struct yz__dht_op *op, struct cand *c)
{
  return send_msg(d, op, c, false);
}

/* PUT, PROVIDE: the store to c, which answered (docs/dht.md "PUT"). */
static void store_to(yz_dht *d, struct yz__dht_op *op, struct cand *c,
                     bool early)
{
  /* PUT: the first put_spread stores ask their receiver to spread the
   * record to its neighbourhood (docs/dht.md "Spread"). Stores go out
   * closest first as the last step begins (step()), when the alpha
   * closest of the window have answered: the first ones reach the nodes
   * nearest the key the lookup knows by then, most often already among
   * the k closest, one round trip after the put's last hop, while the
   * stores that need a dial are still in their handshakes. Waiting for
   * the window to settle to pick the very closest would cost that
   * round trip again. Flagging only the first put_spread bounds the
   * waves of one put to put_spread (a receiver outside the neighbourhood
   * does not spread at all), k - 1 copies each. A client-only writer
   * sets none: its spread would be ignored. A store sent again (its
   * link went down) keeps the flag it had. */
  if (op->kind == K_PUT && c->put == P_NONE && !c->spread &&
      op->n_spread < d->cfg.put_spread && !yz__dht_is_client(d)) {
    c->spread = true;
    op->n_spread++;
  }
  if (send_msg(d, op, c, true) == 0) {
    c->put = P_SENT;
    if (early)
      d->st.puts_early++;
  } else {
    c->put = P_FAIL;
    op->st.failed++;
  }
}

static bool is_store(const struct yz__dht_op *op)
{
  return op->kind == K_PUT || op->kind == K_PROVIDE;
}

/* PUT, PROVIDE in the last step: a member of the window asked now is sent
 * the store right behind the lookup's request, on the same link, so its
 * acknowledgement comes with its answer (docs/dht.md "PUT"). */
static void store_with_query(yz_dht *d, struct yz__dht_op *op, struct cand *c)
{
  if (is_store(op) && op->last_step && c->put == P_NONE)
    store_to(d, op, c, true);
}

/* The request of op to peer was lost (dht.c retry()): the same again. */
int yz__dht_op_resend(yz_dht *d, uint64_t op_id, const yz_node_id *peer,
                      uint8_t type)
{
  struct yz__dht_op *op = op_find(d, op_id);
  struct cand *c = op ? cand_find(op, peer) : NULL;
  if (!c || op->phase == PH_DONE)
    return YZ_E_NOT_FOUND;
  if (type == YZ_DHT_PUT || type == YZ_DHT_PROVIDE)
    return c->put == P_SENT && is_store(op) ? send_msg(d, op, c, true)
                                            : YZ_E_NOT_FOUND;
  if (c->state != C_WAIT)
    return YZ_E_NOT_FOUND;
  return send_for(d, op, c);
}

/* The link to peer went down with op's request on it: ask it again, once,
 * with a new dial (a lookup phase only). */
int yz__dht_op_requery(yz_dht *d, uint64_t op_id, const yz_node_id *peer,
                       uint8_t type)
{
  if (type == YZ_DHT_PUT || type == YZ_DHT_PROVIDE)
    return YZ_E_NOT_FOUND; /* a store whose link went down failed */
  struct yz__dht_op *op = op_find(d, op_id);
  struct cand *c = op ? cand_find(op, peer) : NULL;
  if (!c || c->state != C_WAIT || c->requeried || op->phase != PH_LOOKUP)
    return YZ_E_NOT_FOUND;
  c->requeried = true;
  c->state = C_NEW;
  release(op, c);
  step(d, op);
  return 0;
}

/* A dial this lookup waited for ended (dht.c on_dial()). */
void yz__dht_op_dialled(yz_dht *d, uint64_t op_id, const yz_node_id *id,
                        int status)
{
  struct yz__dht_op *op = op_find(d, op_id);
  struct cand *c = op ? cand_find(op, id) : NULL;
  if (!c || c->state != C_DIAL)
    return;
  if (status == 0 && send_for(d, op, c) == 0) {
    c->state = C_WAIT;
    /* the request's own stall clock starts now (a stalled dial stays
     * stalled: it holds no slot) */
    c->since = yz__dht_now(d);
    store_with_query(d, op, c);
  } else {
    c->state = C_FAIL;
    release(op, c);
    op->st.failed++;
  }
  step(d, op);
}

static void query(yz_dht *d, struct yz__dht_op *op, struct cand *c)
{
  c->since = yz__dht_now(d);
  c->stalled = false;
  if (yz_node_peer_is_up(d->node, &c->id)) {
    if (send_for(d, op, c) == 0) {
      c->state = C_WAIT;
      op->inflight++;
      store_with_query(d, op, c);
      return;
    }
  } else if (yz__dht_dial(d, &c->id, c->rec, c->rec_len, YZ__DHT_DIAL_LOOKUP,
                          op->id) == 0) {
    /* every new hop costs a handshake: counted (dht.h) */
    c->state = C_DIAL;
    op->inflight++;
    op->st.dialled++;
    return;
  }
  c->state = C_FAIL;
  op->st.failed++;
}

/* ---- the end of the lookup phase ------------------------------------- */

static void correct_stale(yz_dht *d, struct yz__dht_op *op)
{
  if (!op->best || !op->best_mut)
    return;
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, op->target, YZ_DHT_KEY_LEN);
  m.has_record = true;
  m.record = (yz_dht_bytes){op->best, op->best_len};
  m.client_only = yz__dht_is_client(d);
  for (size_t i = 0; i < op->n; i++) {
    struct cand *c = &op->c[i];
    if (!c->had || c->seq >= op->best_seq)
      continue;
    /* a replica that returned an older record gets the newer one
     * (docs/dht.md "GET") */
    if (yz__dht_send(d, &c->id, &m, 0) == 0) {
      op->corrected++;
      d->st.corrected++;
    }
  }
}

static void local_store(yz_dht *d, struct yz__dht_op *op)
{
  if (yz__dht_is_client(d))
    return;
  /* here too if this node is among the k closest answered */
  unsigned closer = 0;
  for (size_t i = 0; i < op->n; i++)
    if (op->c[i].answered && yz__dht_dist_cmp(op->target, op->c[i].id.bytes,
                                      yz_node_get_id(d->node)->bytes) < 0)
      closer++;
  if (closer >= d->cfg.k)
    return;
  uint64_t now_s = yz__dht_unix(d), st;
  const char *why = NULL;
  op->asked++;
  if (op->kind == K_PUT) {
    yz_dhtrec_action act = YZ_DHTREC_KEEP;
    st = yz__dht_store_put_ex(d->store, op->target, op->rec, op->rec_len, NULL,
                              op->has_cas, op->cas, now_s, NULL, &why, &act);
    if (st == YZ_DHT_OK) {
      yz__dht_stored *s =
          (yz__dht_stored *)yz__dht_store_get(d->store, op->target, now_s);
      if (s)
        s->republished_s = now_s;
      if (act == YZ_DHTREC_STORE || act == YZ_DHTREC_REPLACE)
        yz__dht_stored_new(d, op->target, op->rec, op->rec_len);
    }
  } else {
    size_t n;
    const uint8_t *own = yz__dht_own(d, &n);
    st = yz__dht_store_provide(d->store, op->target, yz_node_get_id(d->node),
                               own, n, now_s);
    why = "provider quota full";
  }
  if (st == YZ_DHT_OK) {
    op->stored++;
  } else if (!op->refusal) {
    op->refusal = st;
    snprintf(op->reason, sizeof op->reason, "%s", why ? why : "");
  }
}

/* PUT, PROVIDE: a store of the final k closest still in flight? */
static bool store_pending(const struct yz__dht_op *op)
{
  for (size_t i = 0; i < op->n; i++)
    if (op->c[i].final_k && op->c[i].put == P_SENT)
      return true;
  return false;
}

/* PUT, PROVIDE: every store of the final k closest answered or failed.
 * The refusal reported is the closest one's among them (a copy refused by
 * a node outside the final k is not the put's outcome). */
static void store_finish(yz_dht *d, struct yz__dht_op *op)
{
  for (size_t i = 0; i < op->n && !op->refusal; i++) {
    const struct cand *c = &op->c[i];
    if (c->final_k && c->put == P_FAIL && c->refusal) {
      op->refusal = c->refusal;
      snprintf(op->reason, sizeof op->reason, "%s", c->why ? c->why : "");
    }
  }
  finish(d, op, op->asked ? 0 : YZ_E_UNREACHABLE);
}

static void lookup_done(yz_dht *d, struct yz__dht_op *op)
{
  /* requests beyond the k closest are no longer needed (stores sent
   * early stay: their answers count if they are of the final k) */
  if (is_store(op))
    yz__dht_cancel_lookup_rpcs(d, op->id);
  else
    yz__dht_cancel_rpcs(d, op->id);
  for (size_t i = 0; i < op->n; i++) {
    if (op->c[i].state == C_WAIT || op->c[i].state == C_DIAL) {
      /* a stalled one did not answer in time: counted as a timeout */
      if (op->c[i].stalled)
        op->st.failed++;
      op->c[i].state = C_DROP;
    }
    op->c[i].stalled = false;
  }
  op->inflight = 0;
  size_t answered = closest_answered(op, NULL, SIZE_MAX, NULL);
  switch (op->kind) {
  case K_JOIN:
  case K_FIND:
    if (op->kind == K_JOIN) {
      /* refresh the buckets farther than the neighbourhood */
      uint64_t now = yz__dht_now(d);
      unsigned idx[YZ__DHT_BUCKETS];
      size_t n = yz__dht_rt_refresh_due(&d->rt, now + d->cfg.refresh_ms, idx,
                                        YZ__DHT_BUCKETS);
      for (size_t i = 0; i < n && yz__dht_internal_room(d); i++) {
        uint8_t rnd[32];
        yz__dht_random(d, rnd, sizeof rnd);
        yz_node_id t;
        yz__dht_rt_random_id(&d->rt, idx[i], rnd, &t);
        (void)yz__dht_find_internal(d, &t);
      }
    }
    finish(d, op, answered ? 0 : YZ_E_UNREACHABLE);
    return;
  case K_GET:
    if (op->latest)
      correct_stale(d, op);
    finish(d, op, op->best ? 0 : answered ? YZ_E_NOT_FOUND : YZ_E_UNREACHABLE);
    return;
  case K_GETPROV:
    finish(d, op, answered || op->n_prov ? 0 : YZ_E_UNREACHABLE);
    return;
  default:
    break;
  }
  /* PUT, PROVIDE: to the k closest that answered, unless step() sent
   * it already; a store sent early to a node that is not among them is
   * an extra copy (counted in yz_dht_stats.puts_extra) */
  op->phase = PH_STORE;
  size_t sent = 0;
  for (size_t i = 0; i < op->n; i++) {
    struct cand *c = &op->c[i];
    if (!c->answered || sent >= d->cfg.k) {
      if (c->put != P_NONE)
        d->st.puts_extra++;
      continue;
    }
    sent++;
    c->final_k = true;
    op->asked++;
    if (c->put == P_OK)
      op->stored++;
    else if (c->put == P_NONE || (c->put == P_FAIL && !c->refusal))
      /* not sent yet, or sent with a request whose link went down (the
       * node then answered over a new dial): once more */
      store_to(d, op, c, false);
  }
  local_store(d, op);
  if (!store_pending(op))
    store_finish(d, op);
}

static void step(yz_dht *d, struct yz__dht_op *op)
{
  if (op->phase == PH_JOIN) {
    if (op->join_pending)
      return;
    if (!op->join_ok) {
      finish(d, op, YZ_E_UNREACHABLE);
      return;
    }
    op->phase = PH_LOOKUP;
    seed(d, op);
  }
  if (op->phase == PH_STORE) {
    if (!store_pending(op))
      store_finish(d, op);
    return;
  }
  if (op->phase != PH_LOOKUP)
    return;
  if (op->kind == K_GET && op->best &&
      (!op->latest || op->with_record >= op->quorum)) {
    lookup_done(d, op);
    return;
  }
  if (op->kind == K_GETPROV && op->n_prov >= d->cfg.providers_per_key_max) {
    lookup_done(d, op);
    return;
  }
  /* The window: the k closest candidates that have not failed. Done when
   * all of them answered. New ones are asked closest first, those with a
   * link up before those that need a dial (no handshake to pay), alpha at
   * a time; once the alpha closest of the window have answered, the rest
   * of the window is asked at once (Kademlia's last step: "resends the
   * FIND_NODE to all of the k closest nodes it has not already queried";
   * docs/dht.md "Lookups"). Asked alpha at a time, the k members of a
   * window each needing a dial cost k / alpha dial times in a row (7 at
   * k = 20: most of a lookup's time in the simulator). The alpha closest
   * of the window are asked even when every slot is taken: the linked
   * candidates go first, and without this a closest one that needs a
   * dial waited for a farther linked one to answer before its dial began
   * (in the simulator at 300 nodes the last step then began at about
   * 1 s instead of one dial time, 450 ms at the median; the put p50 went
   * from 1.71 to 1.45 s). At most 2 x alpha are then in flight before the
   * last step. */
  unsigned par = d->cfg.alpha;
  {
    size_t seen = 0;
    bool head_done = true;
    for (size_t i = 0; i < op->n && seen < d->cfg.alpha; i++) {
      const struct cand *c = &op->c[i];
      if (c->state == C_FAIL || c->state == C_DROP || c->stalled)
        continue;
      seen++;
      if (c->state != C_DONE)
        head_done = false;
    }
    if (head_done && seen == d->cfg.alpha)
      par = d->cfg.k;
    op->last_step = par == d->cfg.k;
  }
  /* PUT, PROVIDE: in the last step, a member of the window that has
   * answered is sent the store at once, on the link its answer came by,
   * instead of after the whole window answered (docs/dht.md "PUT"): the
   * put then ends about when the lookup does, not one slowest round trip
   * of k later. A member that a closer newcomer pushes out of the window
   * afterwards keeps an extra copy; at most one per candidate. */
  if (is_store(op) && par == d->cfg.k) {
    size_t seen = 0;
    for (size_t i = 0; i < op->n && seen < d->cfg.k; i++) {
      struct cand *c = &op->c[i];
      if (c->state == C_FAIL || c->state == C_DROP || c->stalled)
        continue;
      seen++;
      if (c->state == C_DONE && c->answered && c->put == P_NONE)
        store_to(d, op, c, true);
    }
  }
  for (int pass = 0; pass < 2; pass++) {
    size_t seen = 0;
    bool all_done = true;
    for (size_t i = 0; i < op->n && seen < d->cfg.k; i++) {
      struct cand *c = &op->c[i];
      /* a stalled one is out of the window until it answers */
      if (c->state == C_FAIL || c->state == C_DROP || c->stalled)
        continue;
      seen++;
      if (c->state != C_DONE)
        all_done = false;
      /* the alpha closest of the window are always asked, a slot free
       * or not (see above) */
      if (c->state != C_NEW || (op->inflight >= par && seen > d->cfg.alpha))
        continue;
      if (pass == 0 && !yz_node_peer_is_up(d->node, &c->id))
        continue;
      query(d, op, c);
      if (c->state == C_FAIL)
        all_done = false; /* the window moved: look again */
    }
    if (pass == 1 && all_done && op->inflight == 0) {
      lookup_done(d, op);
      return;
    }
  }
  if (op->inflight == 0) {
    /* every new one failed at once: the window moved on (a stalled
     * request left in flight is out of the window: not waited for) */
    bool any_new = false;
    for (size_t i = 0; i < op->n; i++)
      if (op->c[i].state == C_NEW)
        any_new = true;
    if (any_new)
      step(d, op);
    else
      lookup_done(d, op);
  }
}

/* ---- answers ---------------------------------------------------------- */

static void on_record(yz_dht *d, struct yz__dht_op *op, struct cand *c,
                      const yz_dht_bytes *b)
{
  yz_dhtrec r;
  const yz_dhtrec_limits lim = {d->cfg.value_max, d->cfg.expiry_ahead_s};
  if (yz_dhtrec_decode(&r, b->ptr, b->len, d->cfg.value_max, NULL) != 0 ||
      yz_dhtrec_check(&r, op->target, yz__dht_unix(d), &lim, NULL) !=
          YZ_DHTREC_OK)
    return; /* garbage: not a record of this key */
  bool mut = r.kind == YZ_DHTREC_MUTABLE;
  uint64_t seq = mut ? r.seq : 0;
  if (op->has_seq && mut && seq <= op->seq)
    return;
  c->had = true;
  c->seq = seq;
  op->with_record++;
  if (op->best && (!mut || seq <= op->best_seq)) {
    if (seq == op->best_seq)
      op->holders++;
    return;
  }
  uint8_t *copy = malloc(b->len);
  if (!copy)
    return;
  memcpy(copy, b->ptr, b->len);
  free(op->best);
  op->best = copy;
  op->best_len = b->len;
  op->best_seq = seq;
  op->best_mut = mut;
  op->holders = 1;
  op->best_round = c->round;
  if (op->progress) {
    yz_dht_result pr;
    memset(&pr, 0, sizeof pr);
    pr.record = op->best;
    pr.record_len = op->best_len;
    pr.rec = &r;
    pr.holders = 1;
    pr.stats = op->st;
    op->busy = true;
    op->progress(d, &pr, op->arg);
    op->busy = false;
  }
}

static void on_provider(yz_dht *d, struct yz__dht_op *op,
                        const yz_dht_bytes *b, bool notify)
{
  yz_record r;
  if (op->n_prov >= d->cfg.providers_per_key_max ||
      yz__dht_verify_contact(d, b, NULL, &r, NULL) != 0)
    return;
  for (size_t i = 0; i < op->n_prov; i++)
    if (yz_node_id_equal(&op->prov[i].id, &r.node_id))
      return;
  uint8_t *copy = malloc(b->len);
  if (!copy)
    return;
  memcpy(copy, b->ptr, b->len);
  op->prov[op->n_prov++] = (struct prov){r.node_id, copy, b->len};
  if (notify && op->progress) {
    yz_dht_contact pc = {r.node_id, copy, b->len};
    yz_dht_result pr;
    memset(&pr, 0, sizeof pr);
    pr.providers = &pc;
    pr.n_providers = 1;
    pr.stats = op->st;
    op->busy = true;
    op->progress(d, &pr, op->arg);
    op->busy = false;
  }
}

void yz__dht_op_answer(yz_dht *d, const struct yz__dht_rpc *q,
                       const yz_dht_msg *m, uint32_t rtt)
{
  struct yz__dht_op *op = op_find(d, q->op);
  if (!op || d->stopping)
    return;
  if (m)
    op->st.answered++;
  if (op->phase == PH_JOIN) {
    if (q->type != YZ_DHT_HELLO)
      return;
    op->join_pending--;
    if (m && yz__dht_rt_find(&d->rt, &q->peer))
      op->join_ok++;
    if (!m)
      op->st.failed++;
    step(d, op);
    return;
  }
  struct cand *c = cand_find(op, &q->peer);
  if (q->type == YZ_DHT_PUT || q->type == YZ_DHT_PROVIDE) {
    if (!c || c->put != P_SENT || !is_store(op))
      return;
    if (m && m->status == YZ_DHT_ST_MALFORMED && c->spread) {
      /* a node that predates spread (key 12) refuses the key itself:
       * the same store again without it, once (docs/protocol.md "DHT
       * messages") */
      c->spread = false;
      if (send_msg(d, op, c, true) == 0)
        return;
    }
    if (m && m->status == YZ_DHT_OK) {
      c->put = P_OK;
      if (c->final_k)
        op->stored++;
    } else {
      c->put = P_FAIL;
      op->st.failed++;
      if (m && m->status) {
        c->refusal = m->status;
        free(c->why);
        c->why = strdup(m->reason);
      }
    }
    if (op->phase == PH_STORE)
      step(d, op);
    return;
  }
  if (!c || c->state != C_WAIT)
    return;
  release(op, c);
  if (!m || m->type == YZ_DHT_STATUS) {
    c->state = C_FAIL;
    op->st.failed++;
    step(d, op);
    return;
  }
  c->state = C_DONE;
  c->answered = true;
  yz__dht_consider(d, &c->id, c->rec, c->rec_len, rtt);
  /* PUT: contacts it returned that are closer to the target than itself
   * (below) */
  const bool near_due = op->kind == K_PUT && c->put == P_NONE &&
                        op->n_near < d->cfg.put_spread &&
                        !yz__dht_is_client(d);
  size_t nearer = 0;
  /* closer peers: verified (network, expiry, signature) before use */
  for (size_t i = 0; i < m->n_closer; i++) {
    yz_record r;
    if (yz__dht_verify_contact(d, &m->closer[i], NULL, &r, NULL) != 0)
      continue;
    if (near_due)
      nearer +=
          yz__dht_dist_cmp(op->target, r.node_id.bytes, q->peer.bytes) < 0;
    unsigned round = c->round + 1;
    cand_add(d, op, &r.node_id, m->closer[i].ptr, m->closer[i].len, round);
    /* cand_add may have moved c */
    c = cand_find(op, &q->peer);
    if (!c)
      break;
  }
  if (c && op->kind == K_GET && m->has_record)
    on_record(d, op, c, &m->record);
  /* PUT: an answerer among the k closest to the key by its own table
   * (fewer than k of the contacts it returned are closer than itself:
   * the test it applies before it spreads, dht.c spread_put()) is sent
   * the store with spread at once, while the lookup goes on (docs/dht.md
   * "Spread"). Its wave then starts one hop earlier than from the last
   * step. A node that only claims to be close wastes one of the
   * put_spread flags, no more (the final k get their stores anyway). */
  if (c && near_due && nearer < d->cfg.k) {
    c->spread = true;
    op->n_near++;
    d->st.spread_sent_near++;
    store_to(d, op, c, true);
  }
  if (op->kind == K_GETPROV)
    for (size_t i = 0;
         i < m->n_providers && !op->cancelled && op->phase != PH_DONE; i++)
      on_provider(d, op, &m->providers[i], true);
  if (op->cancelled) {
    for (struct yz__dht_op **pp = &d->ops; *pp; pp = &(*pp)->next)
      if (*pp == op) {
        *pp = op->next;
        break;
      }
    d->n_ops--;
    yz__dht_cancel_rpcs(d, op->id);
    op_free(op);
    return;
  }
  if (op->phase == PH_LOOKUP)
    step(d, op);
}

/* ---- deadlines and the end -------------------------------------------- */

uint64_t yz__dht_ops_deadline(const yz_dht *d)
{
  uint64_t dl = UINT64_MAX;
  for (const struct yz__dht_op *o = d->ops; o; o = o->next) {
    if (o->deadline < dl)
      dl = o->deadline;
    if (o->phase != PH_LOOKUP)
      continue;
    for (size_t i = 0; i < o->n; i++) {
      const struct cand *c = &o->c[i];
      if ((c->state == C_WAIT || c->state == C_DIAL) && !c->stalled &&
          c->since + stall_ms(d, c) < dl)
        dl = c->since + stall_ms(d, c);
    }
  }
  return dl;
}

void yz__dht_ops_expire(yz_dht *d, uint64_t now)
{
  struct yz__dht_op *o = d->ops, *nx;
  for (; o; o = nx) {
    nx = o->next;
    if (o->deadline <= now) {
      finish(d, o, YZ_E_TIMEOUT);
      continue;
    }
    if (o->phase != PH_LOOKUP)
      continue;
    bool moved = false;
    for (size_t i = 0; i < o->n; i++) {
      struct cand *c = &o->c[i];
      if ((c->state == C_WAIT || c->state == C_DIAL) && !c->stalled &&
          c->since + stall_ms(d, c) <= now) {
        c->stalled = true;
        o->inflight--;
        moved = true;
      }
    }
    if (moved)
      step(d, o);
  }
}

void yz__dht_ops_close(yz_dht *d)
{
  while (d->ops)
    finish(d, d->ops, YZ_E_CLOSED);
}

void yz__dht_ops_free(yz_dht *d)
{
  struct yz__dht_op *o, *nx;
  for (o = d->ops; o; o = nx) {
    nx = o->next;
    op_free(o);
  }
  for (o = d->done; o; o = nx) {
    nx = o->next;
    op_free(o);
  }
  d->ops = d->done = NULL;
  struct yz__dht_kept *k, *kn;
  for (k = d->kept; k; k = kn) {
    kn = k->next;
    free(k->rec);
    free(k);
  }
  d->kept = NULL;
}

/* ---- the public operations ------------------------------------------- */

static int start_check(yz_dht *d, yz_dht_cb cb)
{
  if (!d || !cb)
    return YZ_E_INVAL;
  if (d->stopping)
    return YZ_E_STATE;
  if (d->n_ops >= d->cfg.max_lookups)
    return YZ_E_LIMIT;
  return 0;
}

static int started(yz_dht *d, struct yz__dht_op *op, yz_dht_cb cb, void *arg,
                   uint64_t *op_out)
{
  op->cb = cb;
  op->arg = arg;
  if (op_out)
    *op_out = op->id;
  step(d, op);
  yz__dht_rearm(d);
  return 0;
}

static void on_join_dial(yz_node *n, int status, const yz_node_id *peer,
                         const char *reason, void *arg)
{
  (void)n;
  (void)reason;
  struct yz__dht_dial *dc = arg;
  yz_dht *d = dc->dht;
  d->n_dials--;
  struct yz__dht_op *op = d->stopping ? NULL : op_find(d, dc->op);
  if (op && op->phase == PH_JOIN) {
    if (status == 0 && peer && yz__dht_send_hello(d, peer, op->id) == 0) {
      op->st.queried++;
    } else {
      op->join_pending--;
      op->st.failed++;
      step(d, op);
    }
  }
  free(dc);
  yz__dht_maybe_stopped(d);
  yz__dht_rearm(d);
}

int yz_dht_join(yz_dht *d, const char *const *bootstrap, size_t n,
                yz_dht_cb cb, void *arg, uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  if (n && !bootstrap)
    return YZ_E_INVAL;
  struct yz__dht_op *op =
      op_new(d, K_JOIN, yz_node_get_id(d->node)->bytes, NULL, false);
  if (!op)
    return YZ_E_NOMEM;
  for (size_t i = 0; i < n; i++) {
    struct yz__dht_dial *dc = calloc(1, sizeof *dc);
    if (!dc || !bootstrap[i] || strlen(bootstrap[i]) >= sizeof dc->url) {
      free(dc);
      continue;
    }
    dc->dht = d;
    dc->op = op->id;
    dc->purpose = YZ__DHT_DIAL_JOIN;
    snprintf(dc->url, sizeof dc->url, "%s", bootstrap[i]);
    yz_node_dial_opts o = {0};
    o.unpinned = strchr(dc->url, '#') == NULL;
    if (yz_node_dial_with(d->node, dc->url, &o, on_join_dial, dc) != 0) {
      free(dc);
      continue;
    }
    d->n_dials++;
    op->join_pending++;
    op->st.dialled++;
  }
  /* Nothing to dial but a table (a second join): go on from it. */
  if (!op->join_pending && yz__dht_rt_size(&d->rt))
    op->join_ok = 1;
  return started(d, op, cb, arg, op_out);
}

int yz_dht_find_node(yz_dht *d, const yz_node_id *target,
                     const yz_dht_op_opts *opts, yz_dht_cb cb, void *arg,
                     uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  if (!target)
    return YZ_E_INVAL;
  struct yz__dht_op *op = op_new(d, K_FIND, target->bytes, opts, false);
  if (!op)
    return YZ_E_NOMEM;
  seed(d, op);
  return started(d, op, cb, arg, op_out);
}

int yz__dht_find_internal(yz_dht *d, const yz_node_id *target)
{
  struct yz__dht_op *op = op_new(d, K_FIND, target->bytes, NULL, true);
  if (!op)
    return YZ_E_NOMEM;
  seed(d, op);
  step(d, op);
  return 0;
}

int yz_dht_get(yz_dht *d, const uint8_t *key, const yz_dht_op_opts *opts,
               yz_dht_cb cb, void *arg, uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  if (!key)
    return YZ_E_INVAL;
  struct yz__dht_op *op = op_new(d, K_GET, key, opts, false);
  if (!op)
    return YZ_E_NOMEM;
  if (!opts)
    op->latest = true;
  /* a copy held here counts as one holder */
  const yz__dht_stored *st = yz__dht_store_get(d->store, key, yz__dht_unix(d));
  if (st && !(op->has_seq && st->mutable_ && st->seq <= op->seq)) {
    op->best = malloc(st->len);
    if (op->best) {
      memcpy(op->best, st->bytes, st->len);
      op->best_len = st->len;
      op->best_seq = st->seq;
      op->best_mut = st->mutable_;
      op->holders = 1;
      op->with_record = 1;
    }
  }
  seed(d, op);
  return started(d, op, cb, arg, op_out);
}

static struct yz__dht_op *put_op(yz_dht *d, const uint8_t *record, size_t len,
                                 const yz_dht_op_opts *opts, bool internal,
                                 int *err)
{
  yz_dhtrec r;
  const yz_dhtrec_limits lim = {d->cfg.value_max, d->cfg.expiry_ahead_s};
  *err = YZ_E_INVAL;
  if (!record ||
      yz_dhtrec_decode(&r, record, len, d->cfg.value_max, NULL) != 0 ||
      yz_dhtrec_check(&r, r.key, yz__dht_unix(d), &lim, NULL) != YZ_DHTREC_OK)
    return NULL;
  *err = YZ_E_NOMEM;
  struct yz__dht_op *op = op_new(d, K_PUT, r.key, opts, internal);
  if (!op)
    return NULL;
  op->rec = malloc(len);
  if (!op->rec) {
    op->phase = PH_LOOKUP;
    finish(d, op, YZ_E_NOMEM);
    op->internal = true;
    return NULL;
  }
  memcpy(op->rec, record, len);
  op->rec_len = len;
  seed(d, op);
  return op;
}

int yz_dht_put(yz_dht *d, const uint8_t *record, size_t record_len,
               const yz_dht_op_opts *opts, yz_dht_cb cb, void *arg,
               uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  struct yz__dht_op *op = put_op(d, record, record_len, opts, false, &rc);
  if (!op)
    return rc;
  return started(d, op, cb, arg, op_out);
}

int yz__dht_put_internal(yz_dht *d, const uint8_t *rec, size_t len,
                         bool republish)
{
  (void)republish;
  int rc;
  struct yz__dht_op *op = put_op(d, rec, len, NULL, true, &rc);
  if (!op)
    return rc;
  step(d, op);
  return 0;
}

static struct yz__dht_kept *kept_find(yz_dht *d, const uint8_t *key,
                                      bool provide)
{
  for (struct yz__dht_kept *k = d->kept; k; k = k->next)
    if (k->provide == provide && memcmp(k->key, key, YZ_DHT_KEY_LEN) == 0)
      return k;
  return NULL;
}

static int kept_remove(yz_dht *d, const uint8_t *key, bool provide)
{
  for (struct yz__dht_kept **pp = &d->kept; *pp; pp = &(*pp)->next) {
    struct yz__dht_kept *k = *pp;
    if (k->provide != provide || memcmp(k->key, key, YZ_DHT_KEY_LEN) != 0)
      continue;
    *pp = k->next;
    if (provide)
      d->n_provided--;
    else
      d->n_kept--;
    free(k->rec);
    free(k);
    return 0;
  }
  return YZ_E_NOT_FOUND;
}

int yz_dht_provide(yz_dht *d, const uint8_t *key, const yz_dht_op_opts *opts,
                   yz_dht_cb cb, void *arg, uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  if (!key)
    return YZ_E_INVAL;
  if (yz__dht_is_client(d))
    return YZ_E_STATE; /* no record to announce */
  if (!kept_find(d, key, true)) {
    if (d->n_provided >= d->cfg.keep_max)
      return YZ_E_LIMIT;
    struct yz__dht_kept *k = calloc(1, sizeof *k);
    if (!k)
      return YZ_E_NOMEM;
    k->provide = true;
    memcpy(k->key, key, YZ_DHT_KEY_LEN);
    k->expiry = UINT64_MAX;
    k->next_due = yz__dht_now(d) + d->cfg.republish_ms;
    k->next = d->kept;
    d->kept = k;
    d->n_provided++;
  }
  struct yz__dht_op *op = op_new(d, K_PROVIDE, key, opts, false);
  if (!op)
    return YZ_E_NOMEM;
  seed(d, op);
  return started(d, op, cb, arg, op_out);
}

int yz_dht_unprovide(yz_dht *d, const uint8_t *key)
{
  if (!d || !key)
    return YZ_E_INVAL;
  return kept_remove(d, key, true);
}

int yz_dht_get_providers(yz_dht *d, const uint8_t *key,
                         const yz_dht_op_opts *opts, yz_dht_cb cb, void *arg,
                         uint64_t *op_out)
{
  int rc = start_check(d, cb);
  if (rc)
    return rc;
  if (!key)
    return YZ_E_INVAL;
  struct yz__dht_op *op = op_new(d, K_GETPROV, key, opts, false);
  if (!op)
    return YZ_E_NOMEM;
  yz_dht_bytes local[YZ_DHT_MSG_PROVIDERS_CAP];
  size_t n = yz__dht_store_providers(
      d->store, key, yz__dht_unix(d), local,
      YZ__MIN(d->cfg.providers_per_key_max, (size_t)YZ_DHT_MSG_PROVIDERS_CAP));
  for (size_t i = 0; i < n; i++)
    on_provider(d, op, &local[i], false);
  seed(d, op);
  return started(d, op, cb, arg, op_out);
}

int yz_dht_cancel(yz_dht *d, uint64_t id)
{
  if (!d)
    return YZ_E_INVAL;
  for (struct yz__dht_op **pp = &d->ops; *pp; pp = &(*pp)->next) {
    struct yz__dht_op *op = *pp;
    if (op->id != id || op->internal)
      continue;
    if (op->busy) { /* from its own progress callback */
      op->cancelled = true;
      return 0;
    }
    *pp = op->next;
    d->n_ops--;
    yz__dht_cancel_rpcs(d, op->id);
    op_free(op);
    return 0;
  }
  for (struct yz__dht_op *op = d->done; op; op = op->next)
    if (op->id == id && !op->internal && !op->cancelled) {
      op->cancelled = true;
      return 0;
    }
  return YZ_E_NOT_FOUND;
}

/* ---- keep-alive ------------------------------------------------------- */

int yz_dht_keep(yz_dht *d, const uint8_t *record, size_t record_len)
{
  if (!d || !record)
    return YZ_E_INVAL;
  yz_dhtrec r;
  const yz_dhtrec_limits lim = {d->cfg.value_max, d->cfg.expiry_ahead_s};
  if (yz_dhtrec_decode(&r, record, record_len, d->cfg.value_max, NULL) != 0 ||
      yz_dhtrec_check(&r, r.key, yz__dht_unix(d), &lim, NULL) != YZ_DHTREC_OK)
    return YZ_E_INVAL;
  uint64_t seq = r.kind == YZ_DHTREC_MUTABLE ? r.seq : 0;
  struct yz__dht_kept *k = kept_find(d, r.key, false);
  if (k && seq < k->seq)
    return YZ_E_INVAL; /* an older record does not replace the kept one */
  if (!k && d->n_kept >= d->cfg.keep_max)
    return YZ_E_LIMIT;
  uint8_t *copy = malloc(record_len);
  if (!copy)
    return YZ_E_NOMEM;
  memcpy(copy, record, record_len);
  if (!k) {
    k = calloc(1, sizeof *k);
    if (!k) {
      free(copy);
      return YZ_E_NOMEM;
    }
    memcpy(k->key, r.key, YZ_DHT_KEY_LEN);
    k->next = d->kept;
    d->kept = k;
    d->n_kept++;
  }
  free(k->rec);
  k->rec = copy;
  k->len = record_len;
  k->expiry = r.expiry;
  k->seq = seq;
  k->next_due = yz__dht_now(d) + d->cfg.republish_ms;
  yz__dht_rearm(d);
  return 0;
}

int yz_dht_unkeep(yz_dht *d, const uint8_t *key)
{
  if (!d || !key)
    return YZ_E_INVAL;
  return kept_remove(d, key, false);
}

/* The kept records and provided keys due again; true if some had to wait
 * for a lookup slot. */
bool yz__dht_keep_tick(yz_dht *d, uint64_t now, uint64_t now_s)
{
  bool more = false;
  struct yz__dht_kept **pp = &d->kept;
  while (*pp) {
    struct yz__dht_kept *k = *pp;
    if (!k->provide && k->expiry <= now_s) {
      *pp = k->next;
      d->n_kept--;
      free(k->rec);
      free(k);
      continue;
    }
    pp = &k->next;
    if (k->next_due > now)
      continue;
    if (!yz__dht_internal_room(d)) {
      more = true;
      continue;
    }
    int rc = 0;
    if (k->provide) {
      struct yz__dht_op *op = op_new(d, K_PROVIDE, k->key, NULL, true);
      if (op) {
        seed(d, op);
        step(d, op);
      } else {
        rc = YZ_E_NOMEM;
      }
    } else {
      rc = yz__dht_put_internal(d, k->rec, k->len, false);
    }
    if (rc == 0) {
      k->next_due = now + d->cfg.republish_ms;
      d->st.republished++;
    }
  }
  return more;
}
