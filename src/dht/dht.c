/*
 * The DHT on a node (include/yz/dht.h, docs/dht.md): the own node record
 * and HELLO, admission to the routing table, serving protocol 2, the
 * maintenance timers and the public calls. The lookups (iterative, alpha
 * in flight) are in lookup.c; both share dht/dht_priv.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "dht/dht_priv.h"

/* ---- clocks --------------------------------------------------------- */

uint64_t yz__dht_now(const yz_dht *d)
{
  return yz__node_now(d->node);
}

uint64_t yz__dht_unix(const yz_dht *d)
{
  if (d->cfg.unix_time)
    return d->cfg.unix_time(d->cfg.user_data);
  return (uint64_t)time(NULL);
}

void yz__dht_random(const yz_dht *d, uint8_t *out, size_t n)
{
  if (d->cfg.random)
    d->cfg.random(out, n, d->cfg.user_data);
  else
    randombytes_buf(out, n);
}

/* ---- config --------------------------------------------------------- */

void yz_dht_config_default(yz_dht_config *c)
{
  memset(c, 0, sizeof *c);
  c->node_type = YZ_WIRE_NODE_COMMUNITY;
  c->record_lifetime_s = 24 * 3600;
  c->k = YZ_DHT_K_DEFAULT;
  c->alpha = YZ_DHT_ALPHA_DEFAULT;
  c->cache_size = YZ__DHT_CACHE_DEFAULT;
  c->max_failures = YZ__DHT_MAX_FAILURES_DEFAULT;
  c->subnet_per_bucket = YZ__DHT_SUBNET_PER_BUCKET_DEFAULT;
  c->subnet_per_table = YZ__DHT_SUBNET_PER_TABLE_DEFAULT;
  c->refresh_ms = YZ__DHT_REFRESH_MS_DEFAULT;
  c->self_lookup_ms = 10 * 60 * 1000;
  c->rpc_timeout_min_ms = 500;
  c->rpc_timeout_max_ms = 5000;
  c->lookup_deadline_ms = 30000;
  c->max_lookups = 64;
  c->get_quorum = 3;
  c->value_max = YZ_DHTREC_VALUE_MAX_DEFAULT;
  c->expiry_ahead_s = YZ_DHTREC_EXPIRY_AHEAD_DEFAULT;
  c->store_bytes_max = (size_t)64 << 20;
  c->store_records_max = 65536;
  c->per_author_records_max = 256;
  c->per_peer_records_max = 1024;
  c->put_rate_per_s = 20;
  c->put_burst = 100;
  c->providers_per_key_max = 20;
  c->provider_keys_max = 65536;
  c->provider_ttl_s = 24 * 3600;
  c->republish_ms = 3600 * 1000;
  c->keep_max = 1024;
  c->put_spread = 3;
}

/* Zeros become the defaults; then the ranges. */
static int config_fill(yz_dht_config *c)
{
  yz_dht_config def;
  yz_dht_config_default(&def);
#define DEF(f)                                                                \
  do {                                                                        \
    if (!c->f)                                                                \
      c->f = def.f;                                                           \
  } while (0)
  /* alpha defaults to 3, but never above a smaller k */
  if (!c->alpha && c->k)
    c->alpha = YZ__MIN(c->k, def.alpha);
  DEF(node_type);
  DEF(record_lifetime_s);
  DEF(k);
  DEF(alpha);
  DEF(cache_size);
  DEF(max_failures);
  DEF(subnet_per_bucket);
  DEF(subnet_per_table);
  DEF(refresh_ms);
  DEF(self_lookup_ms);
  DEF(rpc_timeout_min_ms);
  DEF(rpc_timeout_max_ms);
  DEF(lookup_deadline_ms);
  DEF(max_lookups);
  DEF(get_quorum);
  DEF(value_max);
  DEF(expiry_ahead_s);
  DEF(store_bytes_max);
  DEF(store_records_max);
  DEF(per_author_records_max);
  DEF(per_peer_records_max);
  DEF(put_rate_per_s);
  DEF(put_burst);
  DEF(providers_per_key_max);
  DEF(provider_keys_max);
  DEF(provider_ttl_s);
  DEF(republish_ms);
  DEF(keep_max);
#undef DEF
  /* a put has at most k stores to flag */
  if (c->put_spread > c->k)
    c->put_spread = c->k;
  /* k travels in FIND_NODE answers: at most the wire's cap on contacts. */
  if (c->k > YZ_DHT_MSG_CONTACTS_CAP || c->alpha > c->k ||
      c->cache_size > YZ__DHT_CACHE_MAX ||
      c->rpc_timeout_min_ms > c->rpc_timeout_max_ms ||
      c->value_max > YZ_DHTREC_VALUE_MAX_LIMIT || c->record_lifetime_s < 2 ||
      (c->n_addresses && !c->addresses) ||
      c->n_addresses > YZ_RECORD_MAX_ADDRESSES)
    return YZ_E_INVAL;
  return 0;
}

/* ---- the own node record (docs/protocol.md "Node records") ------------ */

/* Sign the own record anew from the configured addresses, or the node's
 * listener addresses (their "#<node ID>" cut off). No address: none, the
 * node is client-only. seq is Unix time at signing, kept monotonic. */
static int own_build(yz_dht *d)
{
  yz_record r;
  memset(&r, 0, sizeof r);
  d->own_len = 0;
  d->own_naddr = yz_node_address_count(d->node);
  if (d->cfg.client_only)
    return 0;
  if (yz_record_set_network(&r, d->network) != 0)
    return YZ_E_INVAL;
  const char *why = NULL;
  if (d->n_addr) {
    for (size_t i = 0; i < d->n_addr; i++)
      if (yz_record_add_address(&r, d->addr[i], d->addr_types[i], &why) != 0)
        return YZ_E_INVAL;
  } else {
    for (size_t i = 0;
         i < d->own_naddr && r.n_addresses < YZ_RECORD_MAX_ADDRESSES; i++) {
      char url[YZ_WIRE_URL_MAX_LEN + 1];
      const char *a = yz_node_address(d->node, i);
      size_t n = strcspn(a, "#");
      if (n > YZ_WIRE_URL_MAX_LEN)
        continue;
      memcpy(url, a, n);
      url[n] = '\0';
      uint64_t ct = strncmp(url, "wss://", 6) == 0 ? YZ_WIRE_CLIENT_WSS
                                                   : YZ_WIRE_CLIENT_WS;
      if (yz_record_add_address(&r, url, ct, &why) != 0)
        continue;
    }
  }
  if (r.n_addresses == 0)
    return 0;
  uint64_t now_s = yz__dht_unix(d);
  r.seq = d->own_seq + 1 > now_s ? d->own_seq + 1 : now_s;
  r.expiry = now_s + d->cfg.record_lifetime_s;
  r.node_type = d->cfg.node_type;
  r.capabilities = d->cfg.capabilities;
  if (yz_record_sign(&r, yz__node_identity(d->node), &why) != 0)
    return YZ_E_INVAL;
  size_t n;
  if (yz_record_encode(&r, d->own, sizeof d->own, &n) != 0)
    return YZ_E_INVAL;
  d->own_len = n;
  d->own_seq = r.seq;
  /* re-signed at half its lifetime (dht.h) */
  d->resign_due =
      yz__dht_now(d) + (uint64_t)d->cfg.record_lifetime_s * 1000 / 2;
  return 0;
}

const uint8_t *yz__dht_own(yz_dht *d, size_t *len)
{
  if (!d->cfg.client_only && d->n_addr == 0 &&
      yz_node_address_count(d->node) != d->own_naddr)
    (void)own_build(d);
  *len = d->own_len;
  return d->own_len ? d->own : NULL;
}

bool yz__dht_is_client(yz_dht *d)
{
  size_t n;
  return yz__dht_own(d, &n) == NULL;
}

const uint8_t *yz_dht_own_record(yz_dht *d, size_t *len)
{
  size_t n = 0;
  const uint8_t *r = yz__dht_own(d, &n);
  if (len)
    *len = n;
  return r;
}

/* ---- scratch buffers -------------------------------------------------- */

/* The encode buffers (up to yz_dht_msg_max_len(): about 130 KiB each) are
 * per thread, not per DHT: a simulation runs thousands of DHTs on one
 * loop, and a buffer is only used from an encode to the send that copies
 * it. Two: a request may be sent while an answer is being built. */
static _Thread_local uint8_t *tl_buf[2];
static _Thread_local size_t tl_cap[2];

uint8_t *yz__dht_scratch(const yz_dht *d, int which)
{
  if (tl_cap[which] < d->tx_cap) {
    uint8_t *b = realloc(tl_buf[which], d->tx_cap);
    if (!b)
      return NULL;
    tl_buf[which] = b;
    tl_cap[which] = d->tx_cap;
  }
  return tl_buf[which];
}

/* ---- requests out ----------------------------------------------------- */

static void on_response(yz_node *n, int status, const yz_node_response *r,
                        void *arg);

uint32_t yz__dht_rpc_timeout(const yz_dht *d, const yz_node_id *id)
{
  const yz__dht_contact *c = yz__dht_rt_find(&d->rt, id);
  if (!c || !c->rtt_ms)
    return d->cfg.rpc_timeout_max_ms;
  /* 4 x SRTT, as TCP's RTO without the variance term, within the floor and
   * cap (docs/dht.md "Lookups"). */
  uint64_t t = (uint64_t)c->rtt_ms * 4;
  if (t < d->cfg.rpc_timeout_min_ms)
    t = d->cfg.rpc_timeout_min_ms;
  if (t > d->cfg.rpc_timeout_max_ms)
    t = d->cfg.rpc_timeout_max_ms;
  return (uint32_t)t;
}

int yz__dht_send(yz_dht *d, const yz_node_id *peer, const yz_dht_msg *m,
                 uint64_t op)
{
  size_t n;
  const char *why = NULL;
  uint8_t *tx = yz__dht_scratch(d, 0);
  if (!tx)
    return YZ_E_NOMEM;
  int rc = yz_dht_msg_encode(m, &d->lim, tx, d->tx_cap, &n, &why);
  if (rc != 0)
    return rc;
  struct yz__dht_rpc *q = calloc(1, sizeof *q);
  if (!q)
    return YZ_E_NOMEM;
  q->dht = d;
  q->op = op;
  q->retried = d->retrying;
  q->peer = *peer;
  q->type = (uint8_t)m->type;
  q->sent = yz__dht_now(d);
  rc = yz_node_request(d->node, peer, YZ_DHT_PROTO, tx, n,
                       yz__dht_rpc_timeout(d, peer), on_response, q,
                       &q->req_id);
  if (rc != 0) {
    free(q);
    return rc;
  }
  q->next = d->rpcs;
  if (d->rpcs)
    d->rpcs->prev = q;
  d->rpcs = q;
  d->st.requests_out++;
  return 0;
}

static void rpc_unlink(yz_dht *d, struct yz__dht_rpc *q)
{
  if (q->prev)
    q->prev->next = q->next;
  else
    d->rpcs = q->next;
  if (q->next)
    q->next->prev = q->prev;
}

void yz__dht_cancel_rpcs(yz_dht *d, uint64_t op)
{
  struct yz__dht_rpc *q = d->rpcs, *nx;
  for (; q; q = nx) {
    nx = q->next;
    if (op != 0 && q->op != op)
      continue;
    (void)yz_node_request_cancel(d->node, q->req_id);
    rpc_unlink(d, q);
    free(q);
  }
}

void yz__dht_cancel_lookup_rpcs(yz_dht *d, uint64_t op)
{
  struct yz__dht_rpc *q = d->rpcs, *nx;
  for (; q; q = nx) {
    nx = q->next;
    if (q->op != op || q->type == YZ_DHT_PUT || q->type == YZ_DHT_PROVIDE)
      continue;
    (void)yz_node_request_cancel(d->node, q->req_id);
    rpc_unlink(d, q);
    free(q);
  }
}

/* ---- the routing table's members -------------------------------------- */

/* The IP of "1.2.3.4:5", "[::1]:5" or a URL's host (diversity limits). */
static void ip_of(yz__dht_ip *ip, const char *s)
{
  memset(ip, 0, sizeof *ip);
  if (!s)
    return;
  const char *p = strstr(s, "://");
  p = p ? p + 3 : s;
  char host[64];
  size_t n;
  if (*p == '[') {
    p++;
    n = strcspn(p, "]");
  } else {
    n = strcspn(p, ":/");
  }
  if (n == 0 || n >= sizeof host)
    return;
  memcpy(host, p, n);
  host[n] = '\0';
  if (yz__dht_ip_parse(ip, host) != 0)
    memset(ip, 0, sizeof *ip);
}

struct handoff {
  yz_dht *d;
  const yz_node_id *to;
  unsigned sent;
};

/* A node that joined closer to a key than others gets the record
 * (docs/dht.md "Republish"): when it enters the table among the k
 * closest to a held key, it is sent that record. */
static void handoff_one(yz__dht_stored *st, void *ud)
{
  struct handoff *h = ud;
  if (h->sent >= YZ__DHT_HANDOFF_MAX)
    return;
  const yz__dht_contact *cl[YZ_DHT_MSG_CONTACTS_CAP];
  yz_node_id key;
  memcpy(key.bytes, st->key, YZ_NODE_ID_LEN);
  size_t n = yz__dht_rt_closest(&h->d->rt, &key, cl, h->d->cfg.k);
  for (size_t i = 0; i < n; i++) {
    if (!yz_node_id_equal(&cl[i]->id, h->to))
      continue;
    yz_dht_msg m;
    yz_dht_msg_init(&m, YZ_DHT_PUT);
    memcpy(m.target, st->key, YZ_DHT_KEY_LEN);
    m.has_record = true;
    m.record = (yz_dht_bytes){st->bytes, st->len};
    if (yz__dht_send(h->d, h->to, &m, 0) == 0)
      h->sent++;
    return;
  }
}

/*
 * Which table members keep their link (docs/dht.md "Links"): the k
 * closest to the own ID (the neighbourhood, which every store and every
 * lookup near us goes through) and the YZ__DHT_PROTECT_PER_BUCKET oldest
 * of each bucket (a linked first hop into every part of the ID space).
 * Protecting every member would put the link count at the table's size
 * (about k x log2(N / k), 200 at 10,000 nodes) whatever the node's
 * link_cap; the others are dialled again when a lookup needs them.
 */
static bool protect_wanted(const yz_dht *d, const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(&d->rt, id);
  if (bi >= YZ__DHT_BUCKETS)
    return false;
  const yz__dht_bucket *b = &d->rt.buckets[bi];
  for (unsigned j = 0; j < b->n_live; j++)
    if (yz_node_id_equal(&b->live[j].id, id))
      goto member;
  return false;
member:
  for (unsigned j = 0; j < b->n_live && j < YZ__DHT_PROTECT_PER_BUCKET; j++)
    if (yz_node_id_equal(&b->live[j].id, id))
      return true;
  const yz__dht_contact *near[YZ_DHT_MSG_CONTACTS_CAP];
  size_t n = yz__dht_rt_closest(&d->rt, yz_node_get_id(d->node), near,
                                YZ__MIN(d->cfg.k, YZ_DHT_MSG_CONTACTS_CAP));
  for (size_t i = 0; i < n; i++)
    if (yz_node_id_equal(&near[i]->id, id))
      return true;
  return false;
}

/* Set every member's protection to protect_wanted(): after the table
 * changed (a member added or replaced moves others out of the
 * neighbourhood). O(table). */
static void protect_sync(yz_dht *d)
{
  const yz__dht_contact *near[YZ_DHT_MSG_CONTACTS_CAP];
  size_t n = yz__dht_rt_closest(&d->rt, yz_node_get_id(d->node), near,
                                YZ__MIN(d->cfg.k, YZ_DHT_MSG_CONTACTS_CAP));
  for (unsigned bi = 0; bi < YZ__DHT_BUCKETS; bi++) {
    const yz__dht_bucket *b = &d->rt.buckets[bi];
    for (unsigned j = 0; j < b->n_live; j++) {
      const yz__dht_contact *c = &b->live[j];
      bool want = j < YZ__DHT_PROTECT_PER_BUCKET;
      for (size_t i = 0; i < n && !want; i++)
        want = near[i] == c;
      bool have = (yz_node_peer_protection(d->node, &c->id) &
                   YZ_NODE_PROTECT_ROUTING) != 0;
      if (want != have && yz_node_peer_is_up(d->node, &c->id))
        YZ__IGNORE(yz_node_peer_protect(d->node, &c->id,
                                        YZ_NODE_PROTECT_ROUTING, want));
    }
  }
}

/* The node is known reachable as a server: into the table. */
static void admit(yz_dht *d, const yz_node_id *id, const uint8_t *rec,
                  size_t len, const char *where, uint32_t rtt)
{
  yz__dht_peer p;
  memset(&p, 0, sizeof p);
  p.id = *id;
  p.record = rec;
  p.record_len = len;
  ip_of(&p.ip, where);
  int r = yz__dht_rt_seen(&d->rt, &p, yz__dht_now(d), rtt);
  if (d->rt.has_displaced) {
    /* moved to the cache by a closer contact: no longer a member */
    d->rt.has_displaced = false;
    if (yz_node_peer_is_up(d->node, &d->rt.displaced))
      YZ__IGNORE(yz_node_peer_protect(d->node, &d->rt.displaced,
                                      YZ_NODE_PROTECT_ROUTING, false));
  }
  if (r == YZ__DHT_ADDED || r == YZ__DHT_REPLACED)
    protect_sync(d);
  else if (r == YZ__DHT_UPDATED && yz_node_peer_is_up(d->node, id) &&
           protect_wanted(d, id))
    YZ__IGNORE(
        yz_node_peer_protect(d->node, id, YZ_NODE_PROTECT_ROUTING, true));
  if (r == YZ__DHT_ADDED || r == YZ__DHT_REPLACED) {
    struct handoff h = {d, id, 0};
    yz__dht_store_foreach(d->store, handoff_one, &h);
  }
}

static bool ring_has(const struct yz__dht_ring *r, const yz_node_id *id)
{
  for (unsigned i = 0; i < r->n; i++)
    if (yz_node_id_equal(&r->ids[i], id))
      return true;
  return false;
}

static void ring_add(struct yz__dht_ring *r, const yz_node_id *id)
{
  r->ids[r->next] = *id;
  r->at[r->next] = 0;
  r->next = (r->next + 1) % YZ__DHT_RING;
  if (r->n < YZ__DHT_RING)
    r->n++;
}

/* id added at `now` (again: its time is renewed in place). */
static void ring_stamp(struct yz__dht_ring *r, const yz_node_id *id,
                       uint64_t now)
{
  for (unsigned i = 0; i < r->n; i++)
    if (yz_node_id_equal(&r->ids[i], id)) {
      r->at[i] = now;
      return;
    }
  r->at[r->next] = now;
  r->ids[r->next] = *id;
  r->next = (r->next + 1) % YZ__DHT_RING;
  if (r->n < YZ__DHT_RING)
    r->n++;
}

/* id added within the last `within` ms? */
static bool ring_recent(const struct yz__dht_ring *r, const yz_node_id *id,
                        uint64_t now, uint64_t within)
{
  for (unsigned i = 0; i < r->n; i++)
    if (yz_node_id_equal(&r->ids[i], id))
      return now - r->at[i] < within;
  return false;
}

/* Would id get a place in its bucket now (room, a bad contact to
 * replace, or the neighbourhood exception)? A full bucket of good
 * contacts costs no dial back. */
static bool bucket_has_room(const yz_dht *d, const yz_node_id *id)
{
  return yz__dht_rt_would_enter(&d->rt, id);
}

/* The first address of a verified record that a node dials (ws, then
 * any), with "#<node ID>": a pinned dial. */
int yz__dht_dial_url(yz_dht *d, const uint8_t *rec, size_t len, char *url,
                     size_t cap)
{
  yz_record r;
  yz_record_expect ex = {d->network, NULL, 0};
  if (yz_record_decode(&r, rec, len, &ex, NULL) != 0)
    return YZ_E_INVAL;
  int pick = -1;
  for (int i = 0; i < r.n_addresses && pick < 0; i++)
    if ((r.addresses[i].client_types & YZ_WIRE_CLIENT_WS) &&
        strncmp(r.addresses[i].url, "ws://", 5) == 0)
      pick = i;
  if (pick < 0)
    pick = 0;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&r.node_id, hex);
  int n = snprintf(url, cap, "%s#%s", r.addresses[pick].url, hex);
  return n > 0 && (size_t)n < cap ? 0 : YZ_E_INVAL;
}

bool yz__dht_dialling(const yz_dht *d, const yz_node_id *id)
{
  for (const struct yz__dht_dial *c = d->dials; c; c = c->next)
    if (yz_node_id_equal(&c->id, id))
      return true;
  return false;
}

static void on_dial(yz_node *n, int status, const yz_node_id *peer,
                    const char *reason, void *arg)
{
  (void)n;
  (void)peer;
  (void)reason;
  struct yz__dht_dial *c = arg;
  yz_dht *d = c->dht;
  for (struct yz__dht_dial **pp = &d->dials; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  d->n_dials--;
  if (c->purpose & YZ__DHT_DIAL_BACK)
    d->n_dialbacks--;
  if (!d->stopping) {
    if (status == 0)
      ring_stamp(&d->reached, &c->id, yz__dht_now(d));
    if (status == 0 && (c->purpose & YZ__DHT_DIAL_BACK))
      admit(d, &c->id, c->rec, c->rec_len, c->url, 0);
    if (status == 0 && (c->purpose & YZ__DHT_DIAL_ADD))
      (void)yz__dht_send_hello(d, &c->id, 0);
    if (status != 0 && c->n_waiters)
      (void)yz__dht_rt_failed(&d->rt, &c->id);
    for (unsigned i = 0; i < c->n_waiters && !d->stopping; i++)
      yz__dht_op_dialled(d, c->waiters[i], &c->id, status);
  }
  free(c);
  yz__dht_maybe_stopped(d);
  yz__dht_rearm(d);
}

int yz__dht_dial(yz_dht *d, const yz_node_id *id, const uint8_t *rec,
                 size_t len, int purpose, uint64_t op)
{
  for (struct yz__dht_dial *c = d->dials; c; c = c->next) {
    if (!yz_node_id_equal(&c->id, id))
      continue;
    if (op && c->n_waiters == YZ__DHT_DIAL_WAITERS)
      return YZ_E_LIMIT;
    if ((purpose & YZ__DHT_DIAL_BACK) && !(c->purpose & YZ__DHT_DIAL_BACK))
      d->n_dialbacks++;
    c->purpose |= purpose;
    if (op)
      c->waiters[c->n_waiters++] = op;
    return 0;
  }
  struct yz__dht_dial *c = calloc(1, sizeof *c);
  if (!c)
    return YZ_E_NOMEM;
  if (len > sizeof c->rec ||
      yz__dht_dial_url(d, rec, len, c->url, sizeof c->url) != 0) {
    free(c);
    return YZ_E_INVAL;
  }
  c->dht = d;
  c->id = *id;
  c->purpose = purpose;
  if (op)
    c->waiters[c->n_waiters++] = op;
  memcpy(c->rec, rec, len);
  c->rec_len = len;
  int rc = yz_node_dial_with(d->node, c->url, NULL, on_dial, c);
  if (rc != 0) {
    free(c);
    return rc;
  }
  c->next = d->dials;
  d->dials = c;
  d->n_dials++;
  d->st.dials++;
  if (purpose & YZ__DHT_DIAL_BACK) {
    d->n_dialbacks++;
    d->st.dial_backs++;
  }
  return 0;
}

/*
 * A node told us its record (HELLO, or an answer to a lookup): enter it
 * in the table if it is known reachable as a server (docs/protocol.md
 * "DHT rules", admission): it is already there; or we dialled its link; or
 * it dialled us, and then we dial it back once, pinned, if its bucket has
 * room for it.
 */
void yz__dht_consider(yz_dht *d, const yz_node_id *id, const uint8_t *rec,
                      size_t len, uint32_t rtt)
{
  if (d->stopping || yz_node_id_equal(id, yz_node_get_id(d->node)))
    return;
  yz_node_peer_info info;
  bool up = yz_node_peer_info_get(d->node, id, &info) == 0;
  if (yz__dht_rt_find(&d->rt, id) ||
      (up && info.direction == YZ_LINK_OUTBOUND)) {
    admit(d, id, rec, len, up ? info.remote_addr : NULL, rtt);
    return;
  }
  /* once: a node that failed the dial back is not dialled again for each
   * of its messages (only once it is forgotten, 64 dial backs later) */
  if (!bucket_has_room(d, id))
    return;
  /* a node we dialled lately (pinned, at this record's address: the
   * handshake proved it) needs no dial back to prove it reachable */
  char url[YZ_WIRE_URL_MAX_LEN + 2 + YZ_NODE_ID_HEX_LEN];
  if (ring_recent(&d->reached, id, yz__dht_now(d), YZ__DHT_REACHED_MS) &&
      yz__dht_dial_url(d, rec, len, url, sizeof url) == 0) {
    /* the address a dial back would use, as the IP for the diversity
     * limits (what on_dial() passes) */
    d->st.dial_backs_skipped++;
    admit(d, id, rec, len, url, rtt);
    return;
  }
  if (d->n_dialbacks >= YZ__DHT_DIALBACKS_MAX ||
      ring_has(&d->dialled_back, id))
    return;
  if (yz__dht_dial(d, id, rec, len, YZ__DHT_DIAL_BACK, 0) == 0)
    ring_add(&d->dialled_back, id);
}

/* ---- HELLO ------------------------------------------------------------ */

int yz__dht_send_hello(yz_dht *d, const yz_node_id *peer, uint64_t op)
{
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  size_t n;
  const uint8_t *own = yz__dht_own(d, &n);
  if (own)
    m.provider = (yz_dht_bytes){own, n};
  else
    m.client_only = true;
  return yz__dht_send(d, peer, &m, op);
}

static void on_peer_up(yz_node *n, const yz_link_peer *p, void *ud)
{
  (void)n;
  yz_dht *d = ud;
  if (d->stopping)
    return;
  if (protect_wanted(d, &p->id))
    YZ__IGNORE(
        yz_node_peer_protect(d->node, &p->id, YZ_NODE_PROTECT_ROUTING, true));
  /* The dialler introduces itself (docs/protocol.md "DHT rules"). */
  if (p->direction == YZ_LINK_OUTBOUND)
    (void)yz__dht_send_hello(d, &p->id, 0);
}

/*
 * Verify a node record that must be of node id (NULL: any node): network,
 * expiry, signature (yz_dht_msg_contact_decode()). A lookup sees the same
 * records again and again (every answer near a target repeats them), and
 * in a simulation thousands of nodes on one thread see the same ones: the
 * node IDs of records verified lately are cached per thread, keyed by
 * BLAKE2b-256 over the network name and the exact bytes, until the
 * record's expiry. On a hit only out->node_id and out->expiry are set
 * (what the callers use).
 */
enum { VCACHE_SLOTS = 4096 };
struct vcache {
  uint8_t h[32];
  yz_node_id id;
  uint64_t expiry;
};
static _Thread_local struct vcache *tl_vcache;

int yz__dht_verify_contact(yz_dht *d, const yz_dht_bytes *c,
                           const yz_node_id *id, yz_record *out,
                           const char **why)
{
  uint64_t now_s = yz__dht_unix(d);
  uint8_t h[32];
  struct vcache *e = NULL;
  if (c && c->ptr && c->len && c->len <= YZ_RECORD_MAX_LEN) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)d->network,
                              strlen(d->network) + 1);
    crypto_generichash_update(&st, c->ptr, c->len);
    crypto_generichash_final(&st, h, sizeof h);
    if (!tl_vcache)
      tl_vcache = calloc(VCACHE_SLOTS, sizeof *tl_vcache);
    if (tl_vcache)
      e = &tl_vcache[(h[0] | (unsigned)h[1] << 8) % VCACHE_SLOTS];
    if (e && e->expiry > now_s && sodium_memcmp(e->h, h, sizeof h) == 0) {
      if (id && !yz_node_id_equal(id, &e->id)) {
        if (why)
          *why = "the record is of another node";
        return YZ_E_PEER_ID_MISMATCH;
      }
      memset(out, 0, sizeof *out);
      out->node_id = e->id;
      out->expiry = e->expiry;
      return 0;
    }
  }
  yz_record_expect ex = {d->network, id, now_s};
  int rc = yz_dht_msg_contact_decode(out, c, &ex, why);
  if (rc == 0 && e) {
    memcpy(e->h, h, sizeof h);
    e->id = out->node_id;
    e->expiry = out->expiry;
  }
  return rc;
}

/* ---- answers ---------------------------------------------------------- */

/* Send q's request again (once). */
static bool retry(yz_dht *d, const struct yz__dht_rpc *q, bool up)
{
  if (!up)
    return q->op && q->type != YZ_DHT_HELLO &&
           yz__dht_op_requery(d, q->op, &q->peer, q->type) == 0;
  d->retrying = true;
  int rc = q->type == YZ_DHT_HELLO ? yz__dht_send_hello(d, &q->peer, q->op)
           : q->op ? yz__dht_op_resend(d, q->op, &q->peer, q->type)
                   : YZ_E_UNSUPPORTED;
  d->retrying = false;
  return rc == 0;
}

static void on_response(yz_node *n, int status, const yz_node_response *r,
                        void *arg)
{
  (void)n;
  struct yz__dht_rpc *q = arg;
  yz_dht *d = q->dht;
  rpc_unlink(d, q);
  uint64_t now = yz__dht_now(d);
  uint32_t rtt = (uint32_t)YZ__MIN(now - q->sent, (uint64_t)UINT32_MAX);
  yz_dht_msg *m = &d->rx;
  const char *why = NULL;
  bool ok = status == 0 &&
            yz_dht_msg_decode(m, r->data, r->len, &d->lim, &why) == 0 &&
            yz_dht_msg_answers((yz_dht_msg_type)q->type, m->type);
  /* A request lost with the peer still up: the link it went out on was
   * most likely closed as a duplicate (a dial back or a crossing dial made
   * a second link, and what was in flight on the loser is gone), so it is
   * sent once more on the link that stays. A lookup request whose link
   * went down altogether is asked again once, with a new dial
   * (docs/dht.md "Lookups"). */
  if ((status == YZ_E_TIMEOUT || status == YZ_E_CLOSED) && !q->retried &&
      !d->stopping && retry(d, q, yz_node_peer_is_up(d->node, &q->peer))) {
    free(q);
    yz__dht_rearm(d);
    return;
  }
  if (ok) {
    d->st.answers_in++;
  } else {
    d->st.request_failures++;
    if (status == 0)
      yz_log_rl(&d->log_rl, now, YZ_LOG_INFO,
                "dht: a malformed answer to a type %u request: %s",
                (unsigned)q->type, why ? why : "unexpected message type");
    if (status != YZ_E_CLOSED || !d->stopping) {
      if (yz__dht_rt_failed(&d->rt, &q->peer) == 1 &&
          yz_node_peer_is_up(d->node, &q->peer))
        YZ__IGNORE(yz_node_peer_protect(d->node, &q->peer,
                                        YZ_NODE_PROTECT_ROUTING, false));
    }
  }
  if (q->type == YZ_DHT_HELLO && ok && m->type == YZ_DHT_HELLO_RESP &&
      m->provider.ptr) {
    yz_record rec;
    if (yz__dht_verify_contact(d, &m->provider, &q->peer, &rec, &why) == 0)
      yz__dht_consider(d, &q->peer, m->provider.ptr, m->provider.len, rtt);
    else
      yz_log_rl(&d->log_rl, now, YZ_LOG_INFO,
                "dht: a HELLO answer with a bad node record: %s", why);
  }
  if (q->op != 0)
    yz__dht_op_answer(d, q, ok ? m : NULL, rtt);
  free(q);
  yz__dht_rearm(d);
}

/* ---- serving (docs/protocol.md "DHT rules") --------------------------- */

/* The k closest contacts with a record, but not `skip`. */
static void fill_closer(yz_dht *d, yz_dht_msg *m, const uint8_t *target,
                        const yz_node_id *skip)
{
  const yz__dht_contact *cl[YZ_DHT_MSG_CONTACTS_CAP + 1];
  yz_node_id t;
  memcpy(t.bytes, target, YZ_NODE_ID_LEN);
  size_t n = yz__dht_rt_closest(&d->rt, &t, cl, d->cfg.k + 1);
  m->n_closer = 0;
  for (size_t i = 0; i < n && m->n_closer < d->cfg.k; i++) {
    if (!cl[i]->record || (skip && yz_node_id_equal(&cl[i]->id, skip)))
      continue;
    m->closer[m->n_closer++] =
        (yz_dht_bytes){cl[i]->record, cl[i]->record_len};
  }
}

static void status_msg(yz_dht_msg *m, uint64_t status, const char *reason)
{
  yz_dht_msg_init(m, YZ_DHT_STATUS);
  m->status = status;
  if (reason) {
    size_t n = strlen(reason);
    if (n > YZ_DHT_MSG_REASON_MAX_LEN)
      n = YZ_DHT_MSG_REASON_MAX_LEN;
    memcpy(m->reason, reason, n);
    m->reason[n] = '\0';
    m->reason_len = n;
  }
}

static void bad_input(yz_dht *d, const yz_node_id *from, const char *what,
                      const char *why)
{
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(from, hex);
  yz_log_rl(&d->log_rl, yz__dht_now(d), YZ_LOG_INFO, "dht: %s from %.16s: %s",
            what, hex, why ? why : "");
}

void yz__dht_stored_new(yz_dht *d, const uint8_t *key, const uint8_t *rec,
                        size_t len)
{
  if (d->cfg.on_store)
    d->cfg.on_store(d, key, rec, len, d->cfg.on_store_arg);
}

/*
 * A PUT with spread that this node stored (docs/dht.md "Spread"). If it
 * has not passed this version of the record on before (it may hold it
 * already, from another node's wave: the writer's flag then still starts
 * this node's) and is among the k closest to the key by its own table,
 * it passes the record on, in a PUT without spread (so
 * there is no second wave) and without cas (the receivers judge it
 * against what they hold), to the members of its table among the k
 * closest to the key with a link up now: the k - 1 closest members (this
 * node is the k-th), never the sender, never over a new dial. A node of
 * the key's neighbourhood keeps links to most of it (protect_wanted()),
 * so this is one round trip where the writer would need a handshake
 * each. A client-only sender's spread is ignored: a client costs nothing
 * to make anew, each with a fresh rate limit here, and without this rule
 * each of its PUTs would cost the neighbourhood k - 1 more.
 */
static void spread_put(yz_dht *d, const yz_node_id *from, const yz_dht_msg *in,
                       yz__dht_stored *s)
{
  if (in->client_only) {
    d->st.spread_client++;
    return;
  }
  if (s->spread_done) {
    d->st.spread_held++;
    return;
  }
  const yz__dht_contact *cl[YZ_DHT_MSG_CONTACTS_CAP];
  yz_node_id key;
  memcpy(key.bytes, in->target, YZ_NODE_ID_LEN);
  const uint8_t *self = yz_node_get_id(d->node)->bytes;
  size_t n = yz__dht_rt_closest(&d->rt, &key, cl, d->cfg.k);
  /* among the k closest: fewer than k members closer than itself */
  size_t closer = 0;
  for (size_t i = 0; i < n; i++) {
    closer += yz__dht_dist_cmp(in->target, cl[i]->id.bytes, self) < 0;
  }
  if (closer >= d->cfg.k) {
    d->st.spread_not_close++;
    return;
  }
  s->spread_done = true;
  d->st.spread_waves++;
  /* the IDs first: the table's pointers are not kept across sends */
  yz_node_id to[YZ_DHT_MSG_CONTACTS_CAP];
  size_t n_to = 0;
  for (size_t i = 0; i + 1 < d->cfg.k && i < n; i++)
    if (!yz_node_id_equal(&cl[i]->id, from))
      to[n_to++] = cl[i]->id;
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, in->target, YZ_DHT_KEY_LEN);
  m.has_record = true;
  m.record = in->record;
  for (size_t i = 0; i < n_to; i++) {
    if (!yz_node_peer_is_up(d->node, &to[i])) {
      d->st.spread_no_link++;
      continue;
    }
    if (yz__dht_send(d, &to[i], &m, 0) == 0)
      d->st.spread_forwards++;
  }
}

size_t yz__dht_answer_max(const yz_dht *d)
{
  return d->tx_cap;
}

int yz__dht_handle_request(yz_dht *d, const yz_node_id *from,
                           const uint8_t *req, size_t len, uint8_t *out,
                           size_t cap, size_t *outlen)
{
  yz_dht_msg *in = &d->rq, *m = &d->ans;
  const char *why = NULL;
  uint64_t now_s = yz__dht_unix(d), now = yz__dht_now(d);
  d->st.requests_in++;
  int rc = yz_dht_msg_decode(in, req, len, &d->lim, &why);
  if (rc != 0) {
    bad_input(d, from, "a malformed request", why);
    status_msg(m,
               rc == YZ_E_UNSUPPORTED ? YZ_DHT_ST_UNSUPPORTED
                                      : YZ_DHT_ST_MALFORMED,
               why);
    goto answer;
  }
  const bool client = yz__dht_is_client(d);
  if (in->spread)
    d->st.spread_in++; /* a PUT (the only type that may carry it) */
  switch (in->type) {
  case YZ_DHT_HELLO: {
    yz_dht_msg_init(m, YZ_DHT_HELLO_RESP);
    size_t n;
    const uint8_t *own = yz__dht_own(d, &n);
    if (own)
      m->provider = (yz_dht_bytes){own, n};
    if (in->client_only)
      break; /* a client never enters a table (docs/dht.md) */
    yz_record rec;
    if (yz__dht_verify_contact(d, &in->provider, from, &rec, &why) != 0) {
      bad_input(d, from, "a HELLO with a bad node record", why);
      status_msg(m, YZ_DHT_ST_BAD_SIGNATURE, why);
      break;
    }
    yz__dht_consider(d, from, in->provider.ptr, in->provider.len, 0);
    break;
  }
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET:
  case YZ_DHT_PUT:
  case YZ_DHT_PROVIDE:
  case YZ_DHT_GET_PROVIDERS:
    /* A server querier we know nothing of (it sent no HELLO): ask for
     * its record, once in a while (docs/protocol.md "DHT rules"). */
    if (!in->client_only && !yz__dht_rt_find(&d->rt, from) &&
        !ring_has(&d->hello_asked, from) &&
        yz_node_peer_is_up(d->node, from)) {
      ring_add(&d->hello_asked, from);
      (void)yz__dht_send_hello(d, from, 0);
    }
    if (client) {
      status_msg(m, YZ_DHT_ST_NOT_SERVER, "this node is client-only");
      break;
    }
    if (in->type == YZ_DHT_FIND_NODE) {
      yz_dht_msg_init(m, YZ_DHT_FIND_NODE_RESP);
      fill_closer(d, m, in->target, from);
    } else if (in->type == YZ_DHT_GET) {
      yz_dht_msg_init(m, YZ_DHT_GET_RESP);
      fill_closer(d, m, in->target, from);
      const yz__dht_stored *st =
          yz__dht_store_get(d->store, in->target, now_s);
      if (st && !(in->has_seq && st->mutable_ && st->seq <= in->seq)) {
        m->has_record = true;
        m->record = (yz_dht_bytes){st->bytes, st->len};
      }
    } else if (in->type == YZ_DHT_GET_PROVIDERS) {
      yz_dht_msg_init(m, YZ_DHT_GET_PROVIDERS_RESP);
      fill_closer(d, m, in->target, from);
      m->n_providers =
          yz__dht_store_providers(d->store, in->target, now_s, m->providers,
                                  YZ__MIN(d->cfg.providers_per_key_max,
                                          (size_t)YZ_DHT_MSG_MAX_PROVIDERS));
    } else if (!yz__dht_store_rate_ok(d->store, from, now)) {
      bad_input(d, from, "a PUT or PROVIDE over the rate limit", NULL);
      status_msg(m, YZ_DHT_ST_RATE_LIMITED, "too many PUT and PROVIDE");
    } else if (in->type == YZ_DHT_PUT) {
      uint64_t seq = 0;
      yz_dhtrec_action act = YZ_DHTREC_KEEP;
      uint64_t st = yz__dht_store_put_ex(d->store, in->target, in->record.ptr,
                                         in->record.len, from, in->has_cas,
                                         in->cas, now_s, &seq, &why, &act);
      status_msg(m, st, st == YZ_DHT_OK ? NULL : why);
      if (st == YZ_DHT_ST_SEQ_TOO_LOW || st == YZ_DHT_ST_SEQ_CONFLICT ||
          st == YZ_DHT_ST_CAS_MISMATCH) {
        m->has_seq = true;
        m->seq = seq;
      }
      if (st == YZ_DHT_OK) {
        /* Received within the period: this node skips its own republish
         * of the record (docs/dht.md "Republish"). */
        yz__dht_stored *s =
            (yz__dht_stored *)yz__dht_store_get(d->store, in->target, now_s);
        const bool fresh =
            act == YZ_DHTREC_STORE || act == YZ_DHTREC_REPLACE;
        if (s) {
          s->republished_s = now_s;
          if (fresh)
            s->spread_done = false; /* a version new here */
        }
        if (fresh)
          yz__dht_stored_new(d, in->target, in->record.ptr, in->record.len);
        /* the answer is the store's status alone: the copies passed on
         * are judged by their receivers and answer to this node */
        if (in->spread && s)
          spread_put(d, from, in, s);
      } else {
        bad_input(d, from, "a PUT refused", yz_dht_status_name(st));
      }
    } else { /* PROVIDE */
      yz_record rec;
      /* Only the provider itself announces itself: the record must be
       * the requester's own (docs/protocol.md "DHT rules"). */
      int vr = yz__dht_verify_contact(d, &in->provider, from, &rec, &why);
      if (vr != 0) {
        bad_input(d, from, "a PROVIDE with a bad provider record", why);
        status_msg(m,
                   vr == YZ_E_BAD_SIGNATURE || vr == YZ_E_PEER_ID_MISMATCH
                       ? YZ_DHT_ST_BAD_SIGNATURE
                   : vr == YZ_E_RANGE ? YZ_DHT_ST_EXPIRED
                                      : YZ_DHT_ST_MALFORMED,
                   why);
        break;
      }
      uint64_t st =
          yz__dht_store_provide(d->store, in->target, from, in->provider.ptr,
                                in->provider.len, now_s);
      status_msg(m, st, st == YZ_DHT_OK ? NULL : "provider quota full");
    }
    break;
  default:
    status_msg(m, YZ_DHT_ST_UNSUPPORTED, "not a DHT request");
    break;
  }
answer:
  if (m->type == YZ_DHT_STATUS)
    d->st.refused_in[m->status <= YZ_DHT_ST_MAX ? m->status : 0]++;
  rc = yz_dht_msg_encode(m, &d->lim, out, cap, outlen, &why);
  if (rc == YZ_E_INVAL) {
    /* cannot happen: everything above is within the limits */
    status_msg(m, YZ_DHT_ST_INTERNAL, NULL);
    rc = yz_dht_msg_encode(m, &d->lim, out, cap, outlen, &why);
  }
  return rc;
}

static void on_request(yz_node *n, const yz_node_incoming *req,
                       const uint8_t *data, size_t len, void *ud)
{
  yz_dht *d = ud;
  if (d->stopping) {
    (void)yz_node_respond_error(n, req, YZ_NODE_ERR_BUSY, "stopping");
    return;
  }
  size_t outlen = 0;
  uint8_t *out = yz__dht_scratch(d, 1);
  if (!out || yz__dht_handle_request(d, &req->from, data, len, out, d->tx_cap,
                                     &outlen) != 0) {
    (void)yz_node_respond_error(n, req, YZ_NODE_ERR_FAILED, "dht");
    return;
  }
  (void)yz_node_respond(n, req, out, outlen);
  yz__dht_rearm(d);
}

/* ---- timers ----------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
  yz_dht_run_timers(t->data);
}

void yz__dht_rearm(yz_dht *d)
{
  if (d->virt || d->stopping)
    return;
  uint64_t dl = yz_dht_next_deadline(d), now = uv_now(d->loop);
  if (dl == UINT64_MAX) {
    uv_timer_stop(&d->timer);
    return;
  }
  /* the deadlines are on the node's clock; the timer on the loop's */
  uint64_t nn = yz__dht_now(d);
  uint64_t wait = dl > nn ? dl - nn : 0;
  (void)now;
  uv_timer_start(&d->timer, on_timer, wait, 0);
}

uint64_t yz_dht_next_deadline(const yz_dht *d)
{
  if (d->stopping)
    return UINT64_MAX;
  uint64_t dl = d->house_due;
  if (d->own_len && d->resign_due < dl)
    dl = d->resign_due;
  if (d->self_due < dl)
    dl = d->self_due;
  uint64_t o = yz__dht_ops_deadline(d);
  return o < dl ? o : dl;
}

struct repub {
  yz_dht *d;
  uint64_t now_s, period_s, slack_s;
  unsigned started, left;
};

static void repub_one(yz__dht_stored *st, void *ud)
{
  struct repub *r = ud;
  static const yz_node_id local;
  /* Republished, or received from a republish, within the period: skip
   * (docs/dht.md "Republish"). A record first put by a peer waits one
   * housekeeping period longer, so that its writer's or keeper's re-put,
   * due at the same tick, arrives first and resets the clock of every
   * holder instead of all k of them republishing at once. */
  uint64_t slack = yz_node_id_equal(&st->from, &local) ? 0 : r->slack_s;
  if (st->republished_s + r->period_s + slack > r->now_s)
    return;
  if (!yz__dht_internal_room(r->d)) {
    r->left++;
    return;
  }
  if (yz__dht_put_internal(r->d, st->bytes, st->len, true) == 0) {
    st->republished_s = r->now_s;
    r->started++;
    r->d->st.republished++;
  }
}

static uint64_t house_period(const yz_dht *d)
{
  uint64_t p =
      YZ__MIN((uint64_t)d->cfg.refresh_ms, (uint64_t)d->cfg.republish_ms);
  return YZ__MIN(p, (uint64_t)YZ__DHT_HOUSE_MS);
}

/* Housekeeping: expiry, bucket refresh, republish of held, kept and
 * provided keys (docs/dht.md "Maintenance"). */
static void housekeeping(yz_dht *d, uint64_t now)
{
  uint64_t now_s = yz__dht_unix(d);
  (void)yz__dht_store_expire(d->store, now_s);
  bool more = false;
  if (yz__dht_rt_size(&d->rt) > 0) {
    unsigned idx[YZ__DHT_BUCKETS];
    size_t n = yz__dht_rt_refresh_due(&d->rt, now, idx, YZ__DHT_BUCKETS);
    for (size_t i = 0; i < n; i++) {
      if (!yz__dht_internal_room(d)) {
        more = true;
        break;
      }
      uint8_t rnd[32];
      yz__dht_random(d, rnd, sizeof rnd);
      yz_node_id t;
      yz__dht_rt_random_id(&d->rt, idx[i], rnd, &t);
      yz__dht_rt_touched(&d->rt, &t, now);
      (void)yz__dht_find_internal(d, &t);
    }
  }
  if (!yz__dht_is_client(d)) {
    struct repub r = {d,
                      now_s,
                      YZ__MAX(d->cfg.republish_ms / 1000, 1u),
                      house_period(d) / 1000 + 1,
                      0,
                      0};
    yz__dht_store_foreach(d->store, repub_one, &r);
    more = more || r.left;
  }
  more = yz__dht_keep_tick(d, now, now_s) || more;
  uint64_t period = house_period(d);
  /* Work left for want of lookup slots: again soon. */
  d->house_due = now + (more ? YZ__MIN(period, 1000u) : period);
}

void yz_dht_run_timers(yz_dht *d)
{
  if (d->stopping)
    return;
  uint64_t now = yz__dht_now(d);
  yz__dht_ops_expire(d, now);
  if (d->own_len && now >= d->resign_due)
    (void)own_build(d);
  if (now >= d->self_due) {
    d->self_due = now + d->cfg.self_lookup_ms;
    if (yz__dht_rt_size(&d->rt) > 0 && yz__dht_internal_room(d))
      (void)yz__dht_find_internal(d, yz_node_get_id(d->node));
  }
  if (now >= d->house_due)
    housekeeping(d, now);
  yz__dht_rearm(d);
}

/* ---- lifetime --------------------------------------------------------- */

static void on_idle(uv_idle_t *h)
{
  yz_dht *d = h->data;
  yz__dht_deliver(d);
  if (!d->done)
    uv_idle_stop(&d->idle);
  yz__dht_maybe_stopped(d);
}

void yz__dht_kick(yz_dht *d)
{
  if (!d->handles_closing)
    uv_idle_start(&d->idle, on_idle);
}

int yz_dht_new(yz_dht **out, yz_node *node, const yz_dht_config *cfg_in)
{
  if (!out || !node)
    return YZ_E_INVAL;
  *out = NULL;
  yz_dht_config cfg;
  if (cfg_in)
    cfg = *cfg_in;
  else
    yz_dht_config_default(&cfg);
  int rc = config_fill(&cfg);
  if (rc)
    return rc;
  yz_dht *d = calloc(1, sizeof *d);
  if (!d)
    return YZ_E_NOMEM;
  d->node = node;
  /* one per node (dht.h; node/node_internal.h) */
  if (!yz__node_claim_take(&d->claim, d->node, YZ__NODE_CLAIM_DHT)) {
    free(d);
    return YZ_E_STATE;
  }
  d->loop = yz_node_get_loop(node);
  d->cfg = cfg;
  d->virt = yz__node_virtual_time(node);
  snprintf(d->network, sizeof d->network, "%s", yz_node_network(node));
  d->log_rl = (yz_log_ratelimit)YZ_LOG_RATELIMIT_INIT(10, 10000);
  d->lim.max_contacts = YZ_DHT_MSG_CONTACTS_CAP;
  d->lim.max_providers = YZ_DHT_MSG_PROVIDERS_CAP;
  d->lim.max_record_len = YZ__MIN(yz_dhtrec_encoded_max(cfg.value_max),
                                  (size_t)YZ_DHT_MSG_RECORD_CAP);
  d->tx_cap = yz_dht_msg_max_len(&d->lim);
  rc = YZ_E_NOMEM;
  /* copy the addresses: the caller's strings are not kept */
  d->n_addr = cfg.n_addresses;
  for (size_t i = 0; i < d->n_addr; i++) {
    size_t n = strlen(cfg.addresses[i]);
    d->addr[i] = malloc(n + 1);
    if (!d->addr[i])
      goto fail;
    memcpy(d->addr[i], cfg.addresses[i], n + 1);
    d->addr_types[i] = cfg.address_client_types ? cfg.address_client_types[i]
                                                : YZ_WIRE_CLIENT_WS;
  }
  d->cfg.addresses = NULL;
  d->cfg.address_client_types = NULL;

  yz__dht_config rc_cfg;
  yz__dht_config_default(&rc_cfg);
  rc_cfg.k = cfg.k;
  rc_cfg.cache_size = cfg.cache_size;
  rc_cfg.max_failures = cfg.max_failures;
  rc_cfg.refresh_ms = cfg.refresh_ms;
  rc_cfg.subnet_per_bucket =
      cfg.subnet_per_bucket == UINT32_MAX ? 0 : cfg.subnet_per_bucket;
  rc_cfg.subnet_per_table =
      cfg.subnet_per_table == UINT32_MAX ? 0 : cfg.subnet_per_table;
  rc_cfg.loopback_exempt = !cfg.subnet_limit_loopback;
  uint64_t now = yz__dht_now(d);
  rc = yz__dht_rt_init(&d->rt, yz_node_get_id(node), &rc_cfg, now);
  if (rc)
    goto fail;
  d->rt_init = true;
  yz__dht_store_config sc;
  memset(&sc, 0, sizeof sc);
  sc.value_max = cfg.value_max;
  sc.expiry_ahead_s = cfg.expiry_ahead_s;
  sc.bytes_max = cfg.store_bytes_max;
  sc.records_max = cfg.store_records_max;
  sc.per_author_records_max = cfg.per_author_records_max;
  sc.per_peer_records_max = cfg.per_peer_records_max;
  sc.put_rate_per_s = cfg.put_rate_per_s;
  sc.put_burst = cfg.put_burst;
  sc.providers_per_key_max = cfg.providers_per_key_max;
  sc.provider_keys_max = cfg.provider_keys_max;
  sc.provider_ttl_s = cfg.provider_ttl_s;
  yz__dht_store_config_default(&sc);
  rc = yz__dht_store_new(&d->store, &sc);
  if (rc)
    goto fail;
  rc = own_build(d);
  if (rc)
    goto fail;

  const yz_node_protocol p = {NULL, on_request};
  rc = yz_node_register(node, YZ_DHT_PROTO, &p, d);
  if (rc)
    goto fail;
  const yz_node_peer_observer o = {on_peer_up, NULL};
  rc = yz_node_peer_observer_add(node, &o, d, &d->observer);
  if (rc) {
    YZ__IGNORE(yz_node_register(node, YZ_DHT_PROTO, NULL, NULL));
    goto fail;
  }
  uv_timer_init(d->loop, &d->timer);
  d->timer.data = d;
  uv_idle_init(d->loop, &d->idle);
  d->idle.data = d;
  d->handles = true;
  d->self_due = now + d->cfg.self_lookup_ms;
  d->house_due = now + house_period(d);
  yz__dht_rearm(d);
  *out = d;
  return 0;
fail:
  d->handles = false;
  yz_dht_free(d);
  return rc;
}

static void on_handle_closed(uv_handle_t *h)
{
  yz_dht *d = h->data;
  if (--d->handles_open == 0 && d->stop_cb) {
    void (*cb)(yz_dht *, void *) = d->stop_cb;
    d->stop_cb = NULL;
    cb(d, d->stop_arg);
  }
}

void yz__dht_maybe_stopped(yz_dht *d)
{
  if (!d->stopping || d->handles_closing || d->n_dials || d->done)
    return;
  d->handles_closing = true;
  d->handles_open = 2;
  uv_idle_stop(&d->idle);
  uv_timer_stop(&d->timer);
  uv_close((uv_handle_t *)&d->timer, on_handle_closed);
  uv_close((uv_handle_t *)&d->idle, on_handle_closed);
}

static void noop_stopped(yz_dht *d, void *arg)
{
  (void)d;
  (void)arg;
}

void yz_dht_stop(yz_dht *d, void (*cb)(yz_dht *, void *), void *arg)
{
  if (!d || d->stopping)
    return;
  d->stopping = true;
  d->stop_cb = cb ? cb : noop_stopped;
  d->stop_arg = arg;
  YZ__IGNORE(yz_node_register(d->node, YZ_DHT_PROTO, NULL, NULL));
  (void)yz_node_peer_observer_remove(d->node, d->observer);
  yz__node_claim_release(&d->claim);
  yz__dht_cancel_rpcs(d, 0);
  yz__dht_ops_close(d);
  uv_timer_stop(&d->timer);
  /* from the loop: never the stop callback from this call */
  uv_idle_start(&d->idle, on_idle);
}

void yz_dht_free(yz_dht *d)
{
  if (!d)
    return;
  yz__node_claim_release(&d->claim);
  yz__dht_ops_free(d);
  struct yz__dht_rpc *q = d->rpcs, *nx;
  for (; q; q = nx) {
    nx = q->next;
    free(q);
  }
  if (d->rt_init)
    yz__dht_rt_clear(&d->rt);
  yz__dht_store_free(d->store);
  for (size_t i = 0; i < d->n_addr; i++)
    free(d->addr[i]);
  sodium_memzero(d->own, sizeof d->own);
  free(d);
}

/* ---- the table, the store, stats -------------------------------------- */

size_t yz_dht_table_closest(const yz_dht *d, const yz_node_id *target,
                            yz_node_id *out, size_t max)
{
  if (!d || !out)
    return 0;
  if (!target)
    target = yz_node_get_id(d->node);
  const yz__dht_contact *cl[64];
  size_t got = 0;
  if (max > 64)
    max = 64;
  size_t n = yz__dht_rt_closest(&d->rt, target, cl, max);
  for (size_t i = 0; i < n; i++)
    out[got++] = cl[i]->id;
  return got;
}

size_t yz_dht_table_size(const yz_dht *d)
{
  return d ? yz__dht_rt_size(&d->rt) : 0;
}

void yz_dht_foreach_contact(const yz_dht *d,
                            void (*fn)(const yz_dht_contact *c, void *ud),
                            void *ud)
{
  if (!d || !fn)
    return;
  for (unsigned b = 0; b < YZ__DHT_BUCKETS; b++)
    for (unsigned i = 0; i < d->rt.buckets[b].n_live; i++) {
      const yz__dht_contact *c = &d->rt.buckets[b].live[i];
      if (!c->record)
        continue;
      yz_dht_contact x = {c->id, c->record, c->record_len};
      fn(&x, ud);
    }
}

int yz_dht_add_contact(yz_dht *d, const uint8_t *record, size_t record_len)
{
  if (!d || !record)
    return YZ_E_INVAL;
  if (d->stopping)
    return YZ_E_STATE;
  yz_record r;
  const yz_dht_bytes c = {record, record_len};
  int rc = yz__dht_verify_contact(d, &c, NULL, &r, NULL);
  if (rc)
    return rc;
  if (yz_node_id_equal(&r.node_id, yz_node_get_id(d->node)))
    return YZ_E_INVAL;
  /* asked to answer first: a HELLO, over a link we dial if need be */
  if (yz_node_peer_is_up(d->node, &r.node_id))
    return yz__dht_send_hello(d, &r.node_id, 0);
  return yz__dht_dial(d, &r.node_id, record, record_len, YZ__DHT_DIAL_ADD, 0);
}

uint64_t yz_dht_store_local(yz_dht *d, const uint8_t *key,
                            const uint8_t *record, size_t record_len)
{
  if (!d || !key || !record)
    return YZ_DHT_ST_MALFORMED;
  uint64_t now_s = yz__dht_unix(d);
  uint64_t st = yz__dht_store_put(d->store, key, record, record_len, NULL,
                                  false, 0, now_s, NULL, NULL);
  if (st == YZ_DHT_OK) {
    yz__dht_stored *s =
        (yz__dht_stored *)yz__dht_store_get(d->store, key, now_s);
    if (s && !s->republished_s)
      s->republished_s = now_s;
  }
  return st;
}

struct rec_walk {
  void (*fn)(const uint8_t *, const uint8_t *, size_t, void *);
  void *ud;
};

static void rec_walk_one(yz__dht_stored *st, void *ud)
{
  struct rec_walk *w = ud;
  w->fn(st->key, st->bytes, st->len, w->ud);
}

void yz_dht_foreach_record(const yz_dht *d,
                           void (*fn)(const uint8_t *key,
                                      const uint8_t *record, size_t record_len,
                                      void *ud),
                           void *ud)
{
  if (!d || !fn)
    return;
  struct rec_walk w = {fn, ud};
  yz__dht_store_foreach(d->store, rec_walk_one, &w);
}

void yz_dht_get_stats(const yz_dht *d, yz_dht_stats *out)
{
  if (!d || !out)
    return;
  *out = d->st;
  out->table_size = yz__dht_rt_size(&d->rt);
  yz__dht_store_stats ss;
  yz__dht_store_stats_get(d->store, &ss);
  out->records = ss.records;
  out->record_bytes = ss.bytes;
  out->provider_keys = ss.provider_keys;
  out->providers = ss.providers;
  out->lookups_active = d->n_ops;
}
