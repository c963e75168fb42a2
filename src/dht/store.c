/*
 * The DHT's local store (docs/dht.md "Store"): records and provider
 * entries under 32-byte keys, with the bounds of yz__dht_store_config.
 *
 * Every table is a chained hash table indexed by a keyed hash
 * (libsodium's crypto_shorthash, SipHash-2-4, under a random key per
 * store): record keys are chosen by whoever puts a record (an immutable
 * key is the hash of a value the writer picks, so its low bits can be
 * ground), and an unkeyed index would let one writer pile every record
 * into one chain.
 */
#include "dht/store.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "yz/common.h"
#include "yz/record.h"

enum {
  BYTES_MAX_DEFAULT = 64u << 20,
  RECORDS_MAX_DEFAULT = 65536,
  PER_AUTHOR_DEFAULT = 256,
  PER_PEER_DEFAULT = 1024,
  RATE_DEFAULT = 20,
  BURST_DEFAULT = 100,
  RATE_PEERS_DEFAULT = 4096,
  PROVIDERS_PER_KEY_DEFAULT = 20,
  PROVIDER_KEYS_DEFAULT = 65536,
  PROVIDER_TTL_DEFAULT = 24 * 3600,
  MIN_BUCKETS = 64,
};

void yz__dht_store_config_default(yz__dht_store_config *cfg)
{
  if (!cfg->value_max)
    cfg->value_max = YZ_DHTREC_VALUE_MAX_DEFAULT;
  if (!cfg->expiry_ahead_s)
    cfg->expiry_ahead_s = YZ_DHTREC_EXPIRY_AHEAD_DEFAULT;
  if (!cfg->bytes_max)
    cfg->bytes_max = BYTES_MAX_DEFAULT;
  if (!cfg->records_max)
    cfg->records_max = RECORDS_MAX_DEFAULT;
  if (!cfg->per_author_records_max)
    cfg->per_author_records_max = PER_AUTHOR_DEFAULT;
  if (!cfg->per_peer_records_max)
    cfg->per_peer_records_max = PER_PEER_DEFAULT;
  if (!cfg->put_rate_per_s)
    cfg->put_rate_per_s = RATE_DEFAULT;
  if (!cfg->put_burst)
    cfg->put_burst = BURST_DEFAULT;
  if (!cfg->rate_peers_max)
    cfg->rate_peers_max = RATE_PEERS_DEFAULT;
  if (!cfg->providers_per_key_max)
    cfg->providers_per_key_max = PROVIDERS_PER_KEY_DEFAULT;
  if (!cfg->provider_keys_max)
    cfg->provider_keys_max = PROVIDER_KEYS_DEFAULT;
  if (!cfg->provider_ttl_s)
    cfg->provider_ttl_s = PROVIDER_TTL_DEFAULT;
}

/* ---- a keyed, chained hash table of 32-byte keys ----
 *
 * Entries embed a hnode as their first member; the table never allocates
 * entries, only its bucket array, which doubles when the load passes 1. */

typedef struct hnode {
  struct hnode *next;
  uint8_t key[32];
} hnode;

typedef struct htab {
  hnode **b;
  size_t nb; /* a power of two */
  size_t n;
  uint8_t hkey[crypto_shorthash_KEYBYTES];
} htab;

static int ht_init(htab *t)
{
  t->nb = MIN_BUCKETS;
  t->n = 0;
  t->b = calloc(t->nb, sizeof *t->b);
  randombytes_buf(t->hkey, sizeof t->hkey);
  return t->b ? 0 : YZ_E_NOMEM;
}

static size_t ht_slot(const htab *t, const uint8_t key[32])
{
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, key, 32, t->hkey);
  uint64_t v = 0;
  memcpy(&v, h, sizeof v);
  return (size_t)(v & (t->nb - 1));
}

static hnode *ht_find(const htab *t, const uint8_t key[32])
{
  for (hnode *e = t->b[ht_slot(t, key)]; e; e = e->next)
    if (memcmp(e->key, key, 32) == 0)
      return e;
  return NULL;
}

/* Grow when the load passes 1; a failed allocation keeps the old array
 * (longer chains, still correct). */
static void ht_grow(htab *t)
{
  if (t->n < t->nb)
    return;
  size_t nb = t->nb * 2;
  hnode **b = calloc(nb, sizeof *b);
  if (!b)
    return;
  hnode **old = t->b;
  size_t onb = t->nb;
  t->b = b;
  t->nb = nb;
  for (size_t i = 0; i < onb; i++) {
    for (hnode *e = old[i], *next; e; e = next) {
      next = e->next;
      size_t s = ht_slot(t, e->key);
      e->next = b[s];
      b[s] = e;
    }
  }
  free(old);
}

static void ht_insert(htab *t, hnode *e)
{
  ht_grow(t);
  size_t s = ht_slot(t, e->key);
  e->next = t->b[s];
  t->b[s] = e;
  t->n++;
}

static void ht_remove(htab *t, hnode *e)
{
  for (hnode **p = &t->b[ht_slot(t, e->key)]; *p; p = &(*p)->next) {
    if (*p == e) {
      *p = e->next;
      t->n--;
      return;
    }
  }
}

/* ---- entries ---- */

typedef struct rec_entry {
  hnode h; /* h.key: the record key */
  yz__dht_stored st;
  uint8_t author[YZ_IDENTITY_PK_LEN]; /* mutable: the public key */
} rec_entry;

/* A count per public key (authors) or per node ID (peers). */
typedef struct count_entry {
  hnode h;
  size_t n;
} count_entry;

typedef struct rate_entry {
  hnode h; /* h.key: the node ID */
  struct rate_entry *lru_prev, *lru_next; /* most recent at the head */
  double tokens;
  uint64_t last_ms;
} rate_entry;

typedef struct prov {
  yz_node_id id;
  uint8_t *record;
  size_t record_len;
  uint64_t expiry;
  uint64_t refreshed;
} prov;

typedef struct prov_entry {
  hnode h; /* h.key: the provided key */
  prov *p; /* n of cfg.providers_per_key_max */
  size_t n;
} prov_entry;

struct yz__dht_store {
  yz__dht_store_config cfg;
  htab recs, authors, peers, rates, provs;
  size_t bytes;
  size_t providers;
  rate_entry *lru_head, *lru_tail;
  uint64_t last_expire_s; /* the last sweep made for room (one a second) */
};

static void count_add(htab *t, const uint8_t key[32], long d)
{
  count_entry *c = (count_entry *)ht_find(t, key);
  if (!c) {
    if (d <= 0)
      return;
    c = calloc(1, sizeof *c);
    if (!c)
      return; /* the quota then under-counts: a refusal missed, no harm */
    memcpy(c->h.key, key, 32);
    ht_insert(t, &c->h);
  }
  if (d < 0 && c->n <= (size_t)-d)
    c->n = 0;
  else
    c->n = (size_t)((long)c->n + d);
  if (c->n == 0) {
    ht_remove(t, &c->h);
    free(c);
  }
}

static size_t count_of(const htab *t, const uint8_t key[32])
{
  const count_entry *c = (const count_entry *)ht_find(t, key);
  return c ? c->n : 0;
}

static bool is_local(const yz_node_id *peer)
{
  static const uint8_t zero[YZ_NODE_ID_LEN];
  return !peer || memcmp(peer->bytes, zero, sizeof zero) == 0;
}

int yz__dht_store_new(yz__dht_store **out, const yz__dht_store_config *cfg)
{
  *out = NULL;
  yz__dht_store *s = calloc(1, sizeof *s);
  if (!s)
    return YZ_E_NOMEM;
  if (cfg)
    s->cfg = *cfg;
  yz__dht_store_config_default(&s->cfg);
  if (s->cfg.value_max > YZ_DHTREC_VALUE_MAX_LIMIT ||
      s->cfg.providers_per_key_max > 1024) {
    free(s);
    return YZ_E_INVAL;
  }
  if (sodium_init() < 0 || ht_init(&s->recs) || ht_init(&s->authors) ||
      ht_init(&s->peers) || ht_init(&s->rates) || ht_init(&s->provs)) {
    yz__dht_store_free(s);
    return YZ_E_NOMEM;
  }
  *out = s;
  return 0;
}

static void prov_free(prov_entry *pe)
{
  for (size_t i = 0; i < pe->n; i++)
    free(pe->p[i].record);
  free(pe->p);
  free(pe);
}

static void ht_free_all(htab *t, void (*fn)(hnode *))
{
  if (!t->b)
    return;
  for (size_t i = 0; i < t->nb; i++) {
    for (hnode *e = t->b[i], *next; e; e = next) {
      next = e->next;
      fn(e);
    }
  }
  free(t->b);
  t->b = NULL;
}

static void free_rec(hnode *e)
{
  rec_entry *r = (rec_entry *)e;
  free(r->st.bytes);
  free(r);
}
static void free_plain(hnode *e) { free(e); }
static void free_prov(hnode *e) { prov_free((prov_entry *)e); }

void yz__dht_store_free(yz__dht_store *s)
{
  if (!s)
    return;
  ht_free_all(&s->recs, free_rec);
  ht_free_all(&s->authors, free_plain);
  ht_free_all(&s->peers, free_plain);
  ht_free_all(&s->rates, free_plain);
  ht_free_all(&s->provs, free_prov);
  free(s);
}

/* ---- rate limit ---- */

static void lru_unlink(yz__dht_store *s, rate_entry *r)
{
  if (r->lru_prev)
    r->lru_prev->lru_next = r->lru_next;
  else
    s->lru_head = r->lru_next;
  if (r->lru_next)
    r->lru_next->lru_prev = r->lru_prev;
  else
    s->lru_tail = r->lru_prev;
  r->lru_prev = r->lru_next = NULL;
}

static void lru_push(yz__dht_store *s, rate_entry *r)
{
  r->lru_prev = NULL;
  r->lru_next = s->lru_head;
  if (s->lru_head)
    s->lru_head->lru_prev = r;
  s->lru_head = r;
  if (!s->lru_tail)
    s->lru_tail = r;
}

bool yz__dht_store_rate_ok(yz__dht_store *s, const yz_node_id *peer,
                           uint64_t now_ms)
{
  rate_entry *r = (rate_entry *)ht_find(&s->rates, peer->bytes);
  if (r) {
    lru_unlink(s, r);
  } else {
    if (s->rates.n >= s->cfg.rate_peers_max && s->lru_tail) {
      /* Forget the peer heard from longest ago: it starts again with a
       * full bucket, which is what a new peer gets anyway. */
      rate_entry *old = s->lru_tail;
      lru_unlink(s, old);
      ht_remove(&s->rates, &old->h);
      free(old);
    }
    r = calloc(1, sizeof *r);
    if (!r)
      return false;
    memcpy(r->h.key, peer->bytes, 32);
    r->tokens = s->cfg.put_burst;
    r->last_ms = now_ms;
    ht_insert(&s->rates, &r->h);
  }
  lru_push(s, r);
  if (now_ms > r->last_ms) {
    r->tokens += (double)(now_ms - r->last_ms) * s->cfg.put_rate_per_s / 1000.0;
    if (r->tokens > s->cfg.put_burst)
      r->tokens = s->cfg.put_burst;
    r->last_ms = now_ms;
  }
  if (r->tokens < 1.0)
    return false;
  r->tokens -= 1.0;
  return true;
}

/* ---- records ---- */

static void rec_drop(yz__dht_store *s, rec_entry *r)
{
  ht_remove(&s->recs, &r->h);
  s->bytes -= r->st.len;
  if (r->st.mutable_)
    count_add(&s->authors, r->author, -1);
  if (!is_local(&r->st.from))
    count_add(&s->peers, r->st.from.bytes, -1);
  free_rec(&r->h);
}

static size_t expire_records(yz__dht_store *s, uint64_t now_s)
{
  size_t gone = 0;
  for (size_t i = 0; i < s->recs.nb; i++) {
    for (hnode *e = s->recs.b[i], *next; e; e = next) {
      next = e->next;
      rec_entry *r = (rec_entry *)e;
      if (r->st.expiry <= now_s) {
        rec_drop(s, r);
        gone++;
      }
    }
  }
  return gone;
}

static size_t expire_providers(yz__dht_store *s, uint64_t now_s)
{
  size_t gone = 0;
  for (size_t i = 0; i < s->provs.nb; i++) {
    for (hnode *e = s->provs.b[i], *next; e; e = next) {
      next = e->next;
      prov_entry *pe = (prov_entry *)e;
      size_t w = 0;
      for (size_t j = 0; j < pe->n; j++) {
        if (pe->p[j].expiry <= now_s) {
          free(pe->p[j].record);
          gone++;
          s->providers--;
        } else {
          pe->p[w++] = pe->p[j];
        }
      }
      pe->n = w;
      if (w == 0) {
        ht_remove(&s->provs, &pe->h);
        prov_free(pe);
      }
    }
  }
  return gone;
}

size_t yz__dht_store_expire(yz__dht_store *s, uint64_t now_s)
{
  return expire_records(s, now_s) + expire_providers(s, now_s);
}

/* Would one more record of len bytes, by author (mutable) and peer, fit?
 * replacing: the bytes of the record it replaces (0 for a new key). */
static const char *quota_check(const yz__dht_store *s, size_t len,
                               size_t replacing, bool is_new,
                               const uint8_t *author, const yz_node_id *peer)
{
  if (s->bytes - replacing + len > s->cfg.bytes_max)
    return "the store's bytes are full";
  if (!is_new)
    return NULL;
  if (s->recs.n >= s->cfg.records_max)
    return "the store's record count is full";
  if (author && count_of(&s->authors, author) >= s->cfg.per_author_records_max)
    return "this public key's share of the store is full";
  if (!is_local(peer) &&
      count_of(&s->peers, peer->bytes) >= s->cfg.per_peer_records_max)
    return "your share of the store is full";
  return NULL;
}

static void decode_stored(const rec_entry *r, yz_dhtrec *out)
{
  /* Stored bytes were accepted by the same decoder: cannot fail. */
  if (yz_dhtrec_decode(out, r->st.bytes, r->st.len, YZ_DHTREC_VALUE_MAX_LIMIT,
                       NULL) != 0)
    memset(out, 0, sizeof *out);
}

uint64_t yz__dht_store_put(yz__dht_store *s, const uint8_t *key,
                           const uint8_t *record, size_t len,
                           const yz_node_id *peer, bool has_cas, uint64_t cas,
                           uint64_t now_s, uint64_t *stored_seq,
                           const char **reason)
{
  return yz__dht_store_put_ex(s, key, record, len, peer, has_cas, cas, now_s,
                              stored_seq, reason, NULL);
}

uint64_t yz__dht_store_put_ex(yz__dht_store *s, const uint8_t *key,
                              const uint8_t *record, size_t len,
                              const yz_node_id *peer, bool has_cas,
                              uint64_t cas, uint64_t now_s,
                              uint64_t *stored_seq, const char **reason,
                              yz_dhtrec_action *action_out)
{
  const char *why = NULL;
  if (!reason)
    reason = &why;
  *reason = NULL;
  rec_entry *cur = (rec_entry *)ht_find(&s->recs, key);
  if (cur && cur->st.expiry <= now_s) {
    rec_drop(s, cur);
    cur = NULL;
  }
  if (stored_seq)
    *stored_seq = cur ? cur->st.seq : 0;

  yz_dhtrec cand;
  int rc = yz_dhtrec_decode(&cand, record, len, s->cfg.value_max, reason);
  if (rc != 0)
    return (uint64_t)yz_dhtrec_decode_status(rc);
  const yz_dhtrec_limits lim = {s->cfg.value_max, s->cfg.expiry_ahead_s};
  yz_dhtrec_status st = yz_dhtrec_check(&cand, key, now_s, &lim, reason);
  if (st != YZ_DHTREC_OK)
    return (uint64_t)st;

  yz_dhtrec old;
  yz_dhtrec_action action;
  if (cur)
    decode_stored(cur, &old);
  st = yz_dhtrec_replace(&cand, cur ? &old : NULL, has_cas ? &cas : NULL,
                         &action, reason);
  if (st != YZ_DHTREC_OK)
    return (uint64_t)st;
  if (action_out)
    *action_out = action;
  if (action == YZ_DHTREC_KEEP)
    return YZ_DHT_OK;

  const bool mut = cand.kind == YZ_DHTREC_MUTABLE;
  const char *q = quota_check(s, len, cur ? cur->st.len : 0, cur == NULL,
                              mut ? cand.public_key : NULL, peer);
  if (q && s->last_expire_s != now_s) {
    /* Make room from what has expired, at most once a second so that a
     * full store under a stream of PUTs does not sweep for each. */
    s->last_expire_s = now_s;
    if (expire_records(s, now_s) > 0) {
      cur = (rec_entry *)ht_find(&s->recs, key);
      q = quota_check(s, len, cur ? cur->st.len : 0, cur == NULL,
                      mut ? cand.public_key : NULL, peer);
    }
  }
  if (q) {
    *reason = q;
    return YZ_DHT_ST_QUOTA;
  }

  uint8_t *copy = malloc(len);
  if (!copy) {
    *reason = "out of memory";
    return YZ_DHT_ST_INTERNAL;
  }
  memcpy(copy, record, len);
  if (cur) {
    /* Replace or refresh in place: the key, author and first putter
     * stay (the author is part of a mutable key, so it cannot change). */
    s->bytes -= cur->st.len;
    free(cur->st.bytes);
  } else {
    cur = calloc(1, sizeof *cur);
    if (!cur) {
      free(copy);
      *reason = "out of memory";
      return YZ_DHT_ST_INTERNAL;
    }
    memcpy(cur->h.key, key, 32);
    memcpy(cur->st.key, key, 32);
    cur->st.mutable_ = mut;
    if (mut) {
      memcpy(cur->author, cand.public_key, sizeof cur->author);
      count_add(&s->authors, cur->author, 1);
    }
    if (!is_local(peer)) {
      cur->st.from = *peer;
      count_add(&s->peers, peer->bytes, 1);
    }
    ht_insert(&s->recs, &cur->h);
  }
  cur->st.bytes = copy;
  cur->st.len = len;
  cur->st.expiry = cand.expiry;
  cur->st.seq = mut ? cand.seq : 0;
  cur->st.stored_s = now_s;
  s->bytes += len;
  if (stored_seq)
    *stored_seq = cur->st.seq;
  return YZ_DHT_OK;
}

const yz__dht_stored *yz__dht_store_get(yz__dht_store *s, const uint8_t *key,
                                        uint64_t now_s)
{
  rec_entry *r = (rec_entry *)ht_find(&s->recs, key);
  if (!r)
    return NULL;
  if (r->st.expiry <= now_s) {
    rec_drop(s, r);
    return NULL;
  }
  return &r->st;
}

void yz__dht_store_foreach(yz__dht_store *s,
                           void (*fn)(yz__dht_stored *st, void *ud), void *ud)
{
  for (size_t i = 0; i < s->recs.nb; i++)
    for (hnode *e = s->recs.b[i]; e; e = e->next)
      fn(&((rec_entry *)e)->st, ud);
}

/* ---- providers ---- */

uint64_t yz__dht_store_provide(yz__dht_store *s, const uint8_t *key,
                               const yz_node_id *provider,
                               const uint8_t *record, size_t record_len,
                               uint64_t now_s)
{
  if (!record || record_len == 0 || record_len > YZ_RECORD_MAX_LEN)
    return YZ_DHT_ST_MALFORMED;
  const uint64_t expiry = now_s + s->cfg.provider_ttl_s;
  prov_entry *pe = (prov_entry *)ht_find(&s->provs, key);
  if (!pe) {
    if (s->provs.n >= s->cfg.provider_keys_max) {
      expire_providers(s, now_s);
      if (s->provs.n >= s->cfg.provider_keys_max)
        return YZ_DHT_ST_QUOTA;
    }
    pe = calloc(1, sizeof *pe);
    if (!pe || !(pe->p = calloc(s->cfg.providers_per_key_max, sizeof *pe->p))) {
      free(pe);
      return YZ_DHT_ST_INTERNAL;
    }
    memcpy(pe->h.key, key, 32);
    ht_insert(&s->provs, &pe->h);
  }
  prov *slot = NULL;
  for (size_t i = 0; i < pe->n; i++)
    if (memcmp(pe->p[i].id.bytes, provider->bytes, YZ_NODE_ID_LEN) == 0)
      slot = &pe->p[i];
  if (!slot) {
    if (pe->n < s->cfg.providers_per_key_max) {
      slot = &pe->p[pe->n++];
      memset(slot, 0, sizeof *slot);
      s->providers++;
    } else {
      /* Full: the entry expiring first makes room, if it expires before
       * the new one would (an expired one always does). */
      prov *first = &pe->p[0];
      for (size_t i = 1; i < pe->n; i++)
        if (pe->p[i].expiry < first->expiry)
          first = &pe->p[i];
      if (first->expiry >= expiry)
        return YZ_DHT_ST_QUOTA;
      slot = first;
    }
  }
  uint8_t *copy = malloc(record_len);
  if (!copy)
    return YZ_DHT_ST_INTERNAL;
  memcpy(copy, record, record_len);
  free(slot->record);
  slot->id = *provider;
  slot->record = copy;
  slot->record_len = record_len;
  slot->expiry = expiry;
  slot->refreshed = now_s;
  return YZ_DHT_OK;
}

size_t yz__dht_store_providers(yz__dht_store *s, const uint8_t *key,
                               uint64_t now_s, yz_dht_bytes *out, size_t max)
{
  prov_entry *pe = (prov_entry *)ht_find(&s->provs, key);
  if (!pe)
    return 0;
  /* Most recently refreshed first: a selection over at most
   * providers_per_key_max entries. */
  size_t n = 0;
  bool taken[1024] = {false};
  while (n < max) {
    const prov *best = NULL;
    size_t bi = 0;
    for (size_t i = 0; i < pe->n; i++) {
      if (taken[i] || pe->p[i].expiry <= now_s)
        continue;
      if (!best || pe->p[i].refreshed > best->refreshed) {
        best = &pe->p[i];
        bi = i;
      }
    }
    if (!best)
      break;
    taken[bi] = true;
    out[n].ptr = best->record;
    out[n].len = best->record_len;
    n++;
  }
  return n;
}

void yz__dht_store_stats_get(const yz__dht_store *s, yz__dht_store_stats *out)
{
  out->records = s->recs.n;
  out->bytes = s->bytes;
  out->provider_keys = s->provs.n;
  out->providers = s->providers;
  out->rate_peers = s->rates.n;
}
