/*
 * The DHT routing table (docs/dht.md "Routing table"; Kademlia with the
 * bucket rules of BEP 5: good contacts stay, bad ones make room).
 */
#include "dht/routing.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "yz/common.h"
#include "yz/record.h"

int yz__dht_dist_cmp(const uint8_t *t, const uint8_t *a, const uint8_t *b)
{
  for (unsigned i = 0; i < YZ_NODE_ID_LEN; i++) {
    uint8_t da = (uint8_t)(a[i] ^ t[i]), db = (uint8_t)(b[i] ^ t[i]);
    if (da != db)
      return da < db ? -1 : 1;
  }
  return 0;
}

/* A contact stores at most one node record (docs/protocol.md "Node
 * records"). */
_Static_assert((int)YZ__DHT_RECORD_MAX_LEN == (int)YZ_RECORD_MAX_LEN,
               "a contact holds one node record");

void yz__dht_config_default(yz__dht_config *cfg)
{
  cfg->k = YZ__DHT_K_DEFAULT;
  cfg->cache_size = YZ__DHT_CACHE_DEFAULT;
  cfg->max_failures = YZ__DHT_MAX_FAILURES_DEFAULT;
  cfg->refresh_ms = YZ__DHT_REFRESH_MS_DEFAULT;
  cfg->subnet_per_bucket = YZ__DHT_SUBNET_PER_BUCKET_DEFAULT;
  cfg->subnet_per_table = YZ__DHT_SUBNET_PER_TABLE_DEFAULT;
  cfg->loopback_exempt = true;
}

const char *yz__dht_seen_result_name(int r)
{
  switch (r) {
  case YZ__DHT_ADDED:
    return "added";
  case YZ__DHT_UPDATED:
    return "updated";
  case YZ__DHT_CACHED:
    return "cached";
  case YZ__DHT_REPLACED:
    return "replaced";
  case YZ__DHT_REFUSED_SELF:
    return "refused: own ID";
  case YZ__DHT_REFUSED_CLIENT:
    return "refused: client-only";
  case YZ__DHT_REFUSED_SUBNET:
    return "refused: subnet limit";
  case YZ__DHT_REFUSED_FULL:
    return "refused: bucket full";
  default:
    return yz_err_name(r);
  }
}

/* ---- addresses ---- */

int yz__dht_ip_parse(yz__dht_ip *ip, const char *text)
{
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  memset(ip, 0, sizeof *ip);
  if (inet_pton(AF_INET, text, ip->addr) == 1) {
    ip->family = 4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, ip->addr) != 1) {
    memset(ip, 0, sizeof *ip);
    return YZ_E_INVAL;
  }
  ip->family = 6;
  /* ::ffff:a.b.c.d is the IPv4 host a.b.c.d: one subnet rule for both
   * spellings, or a Sybil would get twice the quota. */
  if (memcmp(ip->addr, mapped, sizeof mapped) == 0) {
    memmove(ip->addr, ip->addr + 12, 4);
    memset(ip->addr + 4, 0, 12);
    ip->family = 4;
  }
  return 0;
}

bool yz__dht_ip_is_loopback(const yz__dht_ip *ip)
{
  static const uint8_t one[16] = {[15] = 1};
  if (ip->family == 4)
    return ip->addr[0] == 127;
  if (ip->family == 6)
    return memcmp(ip->addr, one, 16) == 0;
  return false;
}

bool yz__dht_ip_same_subnet(const yz__dht_ip *a, const yz__dht_ip *b)
{
  if (a->family != b->family)
    return false;
  if (a->family == 4)
    return memcmp(a->addr, b->addr, 3) == 0; /* /24 */
  if (a->family == 6)
    return memcmp(a->addr, b->addr, 6) == 0; /* /48 */
  return true;                               /* no address known: one group */
}

static bool ip_equal(const yz__dht_ip *a, const yz__dht_ip *b)
{
  return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

/* ---- table ---- */

int yz__dht_rt_init(yz__dht_rt *rt, const yz_node_id *self,
                    const yz__dht_config *cfg, uint64_t now_ms)
{
  memset(rt, 0, sizeof *rt);
  if (cfg)
    rt->cfg = *cfg;
  else
    yz__dht_config_default(&rt->cfg);
  if (rt->cfg.k < 1 || rt->cfg.k > YZ__DHT_K_MAX ||
      rt->cfg.cache_size > YZ__DHT_CACHE_MAX || rt->cfg.max_failures < 1)
    return YZ_E_INVAL;
  rt->self = *self;
  for (unsigned i = 0; i < YZ__DHT_BUCKETS; i++)
    rt->buckets[i].last_lookup_ms = now_ms;
  return 0;
}

void yz__dht_rt_clear(yz__dht_rt *rt)
{
  for (unsigned i = 0; i < YZ__DHT_BUCKETS; i++) {
    yz__dht_bucket *b = &rt->buckets[i];
    for (unsigned j = 0; j < b->n_live; j++)
      free(b->live[j].record);
    for (unsigned j = 0; j < b->n_cache; j++)
      free(b->cache[j].record);
    free(b->live);
    free(b->cache);
  }
  memset(rt, 0, sizeof *rt);
}

unsigned yz__dht_rt_bucket_index(const yz__dht_rt *rt, const yz_node_id *id)
{
  for (unsigned i = 0; i < YZ_NODE_ID_LEN; i++) {
    uint8_t x = (uint8_t)(rt->self.bytes[i] ^ id->bytes[i]);
    if (x) {
      unsigned n = 0;
      while (!(x & 0x80)) {
        x = (uint8_t)(x << 1);
        n++;
      }
      return i * 8 + n;
    }
  }
  return YZ__DHT_BUCKETS;
}

static int find_in(const yz__dht_contact *arr, unsigned n,
                   const yz_node_id *id)
{
  for (unsigned i = 0; i < n; i++)
    if (memcmp(arr[i].id.bytes, id->bytes, YZ_NODE_ID_LEN) == 0)
      return (int)i;
  return -1;
}

static bool limited(const yz__dht_rt *rt, const yz__dht_ip *ip)
{
  return !(rt->cfg.loopback_exempt && yz__dht_ip_is_loopback(ip));
}

/*
 * Would one more live contact at ip keep bucket b and the table within
 * the subnet limits? skip: a live contact that is leaving (its place
 * taken) or changing address, not counted. (docs/dht.md "Diversity")
 */
static bool subnet_ok(const yz__dht_rt *rt, unsigned bi, const yz__dht_ip *ip,
                      const yz__dht_contact *skip)
{
  if (!limited(rt, ip))
    return true;
  unsigned in_bucket = 0, in_table = 0;
  for (unsigned i = 0; i < YZ__DHT_BUCKETS; i++) {
    const yz__dht_bucket *b = &rt->buckets[i];
    for (unsigned j = 0; j < b->n_live; j++) {
      const yz__dht_contact *c = &b->live[j];
      if (c == skip || !yz__dht_ip_same_subnet(&c->ip, ip))
        continue;
      in_table++;
      if (i == bi)
        in_bucket++;
    }
  }
  if (rt->cfg.subnet_per_bucket && in_bucket >= rt->cfg.subnet_per_bucket)
    return false;
  if (rt->cfg.subnet_per_table && in_table >= rt->cfg.subnet_per_table)
    return false;
  return true;
}

static int bucket_alloc(const yz__dht_rt *rt, yz__dht_bucket *b)
{
  if (!b->live) {
    b->live = calloc(rt->cfg.k, sizeof *b->live);
    if (!b->live)
      return YZ_E_NOMEM;
  }
  if (!b->cache && rt->cfg.cache_size) {
    b->cache = calloc(rt->cfg.cache_size, sizeof *b->cache);
    if (!b->cache)
      return YZ_E_NOMEM;
  }
  return 0;
}

/* Copy of the record bytes, or NULL with *err set on failure. */
static uint8_t *record_dup(const yz__dht_peer *p, int *err)
{
  *err = 0;
  if (!p->record || !p->record_len)
    return NULL;
  uint8_t *r = malloc(p->record_len);
  if (!r)
    *err = YZ_E_NOMEM;
  else
    memcpy(r, p->record, p->record_len);
  return r;
}

/* Refresh c from p (rec: a copy of p's record, or NULL to keep c's). */
static void contact_update(yz__dht_contact *c, const yz__dht_peer *p,
                           uint8_t *rec, uint64_t now_ms, uint32_t rtt_ms)
{
  c->ip = p->ip;
  if (rec) {
    free(c->record);
    c->record = rec;
    c->record_len = p->record_len;
  }
  c->last_seen_ms = now_ms;
  c->failures = 0;
  if (rtt_ms) /* smoothed as TCP's SRTT (RFC 6298): 7/8 old + 1/8 new */
    c->rtt_ms = c->rtt_ms ? (uint32_t)(((uint64_t)c->rtt_ms * 7 + rtt_ms) / 8)
                          : rtt_ms;
}

static void cache_drop(yz__dht_bucket *b, unsigned j)
{
  free(b->cache[j].record);
  b->cache[j] = b->cache[--b->n_cache];
  memset(&b->cache[b->n_cache], 0, sizeof b->cache[0]);
}

/* Fill free live places of bucket bi from its cache: the most recently
 * seen entry that passes the subnet limits first. */
static void promote(yz__dht_rt *rt, unsigned bi)
{
  yz__dht_bucket *b = &rt->buckets[bi];
  while (b->n_live < rt->cfg.k) {
    int best = -1;
    for (unsigned j = 0; j < b->n_cache; j++) {
      if (!subnet_ok(rt, bi, &b->cache[j].ip, NULL))
        continue;
      if (best < 0 || b->cache[j].last_seen_ms > b->cache[best].last_seen_ms)
        best = (int)j;
    }
    if (best < 0)
      return;
    b->live[b->n_live++] = b->cache[best];
    rt->n_live++;
    b->cache[best] = b->cache[--b->n_cache];
    memset(&b->cache[b->n_cache], 0, sizeof b->cache[0]);
  }
}

static void live_drop(yz__dht_rt *rt, unsigned bi, unsigned j)
{
  yz__dht_bucket *b = &rt->buckets[bi];
  free(b->live[j].record);
  b->live[j] = b->live[--b->n_live];
  memset(&b->live[b->n_live], 0, sizeof b->live[0]);
  rt->n_live--;
  promote(rt, bi);
}

/*
 * The neighbourhood exception (docs/dht.md "Eviction rules"): in a full
 * bucket bi, the member farthest from the own ID that id would displace
 * because id is among the k closest to the own ID the table would hold
 * (fewer than k live contacts closer) and closer than that member; -1 if
 * none. With N nodes the bucket at the edge of the neighbourhood (about
 * log2(N / k) leading bits in common) holds more than k nodes of the
 * network, and first come first served kept an arbitrary k of them: the
 * closer ones that came later were cached, and about 5 % of the nodes
 * (simulator, 400 and 1,000 nodes) missed some of their k closest.
 * Kademlia keeps these by splitting the buckets near the own ID (the
 * paper's section 4.2); with fixed buckets the same end is that a closer
 * contact takes the place of the farthest one of the boundary bucket.
 */
static int near_victim(const yz__dht_rt *rt, unsigned bi, const yz_node_id *id)
{
  const yz__dht_bucket *b = &rt->buckets[bi];
  size_t closer = 0;
  for (unsigned i = bi + 1; i < YZ__DHT_BUCKETS && closer < rt->cfg.k; i++)
    closer += rt->buckets[i].n_live;
  int far = -1;
  for (unsigned j = 0; j < b->n_live; j++) {
    if (yz__dht_dist_cmp(rt->self.bytes, b->live[j].id.bytes, id->bytes) < 0)
      closer++;
    else if (far < 0 ||
             yz__dht_dist_cmp(rt->self.bytes, b->live[j].id.bytes,
                             b->live[far].id.bytes) > 0)
      far = (int)j;
  }
  return closer < rt->cfg.k ? far : -1;
}

bool yz__dht_rt_would_enter(const yz__dht_rt *rt, const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi >= YZ__DHT_BUCKETS)
    return false;
  const yz__dht_bucket *b = &rt->buckets[bi];
  if (b->n_live < rt->cfg.k)
    return true;
  for (unsigned i = 0; i < b->n_live; i++)
    if (b->live[i].failures >= rt->cfg.max_failures)
      return true;
  return near_victim(rt, bi, id) >= 0;
}

int yz__dht_rt_seen(yz__dht_rt *rt, const yz__dht_peer *peer, uint64_t now_ms,
                    uint32_t rtt_ms)
{
  if (peer->record_len > YZ__DHT_RECORD_MAX_LEN ||
      (peer->record_len && !peer->record) ||
      (peer->ip.family != 0 && peer->ip.family != 4 && peer->ip.family != 6))
    return YZ_E_INVAL;
  unsigned bi = yz__dht_rt_bucket_index(rt, &peer->id);
  if (bi == YZ__DHT_BUCKETS)
    return YZ__DHT_REFUSED_SELF;
  yz__dht_bucket *b = &rt->buckets[bi];
  int li = b->live ? find_in(b->live, b->n_live, &peer->id) : -1;
  int ci = b->cache ? find_in(b->cache, b->n_cache, &peer->id) : -1;

  /* A client cannot be dialled: it never enters the table, and a contact
   * that says it became one leaves (DESIGN.md "The overlay"). */
  if (peer->client_only) {
    if (li >= 0)
      live_drop(rt, bi, (unsigned)li);
    else if (ci >= 0)
      cache_drop(b, (unsigned)ci);
    return YZ__DHT_REFUSED_CLIENT;
  }

  if (li >= 0) {
    yz__dht_contact *c = &b->live[li];
    /* A known contact moving into a full subnet keeps its old address:
     * otherwise the limits could be walked around one move at a time. */
    if (!ip_equal(&c->ip, &peer->ip) && !subnet_ok(rt, bi, &peer->ip, c))
      return YZ__DHT_REFUSED_SUBNET;
    int err;
    uint8_t *rec = record_dup(peer, &err);
    if (err)
      return err;
    contact_update(c, peer, rec, now_ms, rtt_ms);
    return YZ__DHT_UPDATED;
  }

  if (!subnet_ok(rt, bi, &peer->ip, NULL))
    return YZ__DHT_REFUSED_SUBNET;
  int err = bucket_alloc(rt, b);
  if (err)
    return err;
  uint8_t *rec = record_dup(peer, &err);
  if (err)
    return err;

  yz__dht_contact fresh;
  memset(&fresh, 0, sizeof fresh);
  if (ci >= 0) { /* keep what the cache knew (record, RTT) */
    fresh = b->cache[ci];
    b->cache[ci] = b->cache[--b->n_cache];
    memset(&b->cache[b->n_cache], 0, sizeof b->cache[0]);
  }
  fresh.id = peer->id;
  contact_update(&fresh, peer, rec, now_ms, rtt_ms);

  if (b->n_live < rt->cfg.k) {
    b->live[b->n_live++] = fresh;
    rt->n_live++;
    return YZ__DHT_ADDED;
  }

  /* Full: a bad contact (max_failures in a row) makes room; of several,
   * the one seen longest ago. Good contacts are never evicted. */
  int bad = -1;
  for (unsigned j = 0; j < b->n_live; j++) {
    if (b->live[j].failures < rt->cfg.max_failures)
      continue;
    if (bad < 0 || b->live[j].last_seen_ms < b->live[bad].last_seen_ms)
      bad = (int)j;
  }
  if (bad >= 0) {
    free(b->live[bad].record);
    b->live[bad] = fresh;
    return YZ__DHT_REPLACED;
  }

  /* The neighbourhood exception: a closer newcomer takes the place of the
   * farthest member, which goes to the cache (near_victim()). */
  int far = near_victim(rt, bi, &peer->id);
  if (far >= 0) {
    yz__dht_contact out = b->live[far];
    b->live[far] = fresh;
    rt->displaced = out.id;
    rt->has_displaced = true;
    fresh = out;
    if (rt->cfg.cache_size == 0) {
      free(fresh.record);
      return YZ__DHT_REPLACED;
    }
    if (b->n_cache == rt->cfg.cache_size) {
      unsigned old = 0;
      for (unsigned j = 1; j < b->n_cache; j++)
        if (b->cache[j].last_seen_ms < b->cache[old].last_seen_ms)
          old = j;
      cache_drop(b, old);
    }
    b->cache[b->n_cache++] = fresh;
    return YZ__DHT_REPLACED;
  }

  if (rt->cfg.cache_size == 0) {
    free(fresh.record);
    return YZ__DHT_REFUSED_FULL;
  }
  if (b->n_cache == rt->cfg.cache_size) {
    /* Cache full: the entry seen longest ago goes (the freshest are the
     * likeliest to still be up when a place opens). */
    unsigned old = 0;
    for (unsigned j = 1; j < b->n_cache; j++)
      if (b->cache[j].last_seen_ms < b->cache[old].last_seen_ms)
        old = j;
    cache_drop(b, old);
  }
  b->cache[b->n_cache++] = fresh;
  return YZ__DHT_CACHED;
}

int yz__dht_rt_failed(yz__dht_rt *rt, const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi == YZ__DHT_BUCKETS)
    return YZ_E_NOT_FOUND;
  yz__dht_bucket *b = &rt->buckets[bi];
  int li = b->live ? find_in(b->live, b->n_live, id) : -1;
  if (li >= 0) {
    yz__dht_contact *c = &b->live[li];
    if (c->failures < UINT32_MAX)
      c->failures++;
    if (c->failures < rt->cfg.max_failures)
      return 0;
    /* Replace it only if the cache has a usable successor: a bad contact
     * is still better than an empty place. */
    for (unsigned j = 0; j < b->n_cache; j++) {
      if (subnet_ok(rt, bi, &b->cache[j].ip, c)) {
        live_drop(rt, bi, (unsigned)li);
        return 1;
      }
    }
    return 0;
  }
  int ci = b->cache ? find_in(b->cache, b->n_cache, id) : -1;
  if (ci >= 0) {
    cache_drop(b, (unsigned)ci);
    return 1;
  }
  return YZ_E_NOT_FOUND;
}

int yz__dht_rt_remove(yz__dht_rt *rt, const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi == YZ__DHT_BUCKETS)
    return YZ_E_NOT_FOUND;
  yz__dht_bucket *b = &rt->buckets[bi];
  int li = b->live ? find_in(b->live, b->n_live, id) : -1;
  if (li >= 0) {
    live_drop(rt, bi, (unsigned)li);
    return 0;
  }
  int ci = b->cache ? find_in(b->cache, b->n_cache, id) : -1;
  if (ci >= 0) {
    cache_drop(b, (unsigned)ci);
    return 0;
  }
  return YZ_E_NOT_FOUND;
}

const yz__dht_contact *yz__dht_rt_find(const yz__dht_rt *rt,
                                       const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi == YZ__DHT_BUCKETS)
    return NULL;
  const yz__dht_bucket *b = &rt->buckets[bi];
  int li = b->live ? find_in(b->live, b->n_live, id) : -1;
  return li >= 0 ? &b->live[li] : NULL;
}

bool yz__dht_rt_in_cache(const yz__dht_rt *rt, const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi == YZ__DHT_BUCKETS)
    return false;
  const yz__dht_bucket *b = &rt->buckets[bi];
  return b->cache && find_in(b->cache, b->n_cache, id) >= 0;
}

size_t yz__dht_rt_size(const yz__dht_rt *rt)
{
  return rt->n_live;
}


/* Insert every live contact of bucket i into the sorted out[0..*got). */
static void collect(const yz__dht_rt *rt, unsigned i, const yz_node_id *t,
                    const yz__dht_contact **out, size_t n, size_t *got)
{
  const yz__dht_bucket *b = &rt->buckets[i];
  for (unsigned j = 0; j < b->n_live; j++) {
    const yz__dht_contact *c = &b->live[j];
    size_t pos = *got;
    while (pos > 0 && yz__dht_dist_cmp(t->bytes, c->id.bytes, out[pos - 1]->id.bytes) < 0)
      pos--;
    if (pos >= n)
      continue;
    size_t end = *got < n ? *got : n - 1;
    memmove(&out[pos + 1], &out[pos], (end - pos) * sizeof out[0]);
    out[pos] = c;
    if (*got < n)
      (*got)++;
  }
}

/*
 * With c = the target's bucket index, the XOR distance orders the buckets
 * in groups: bucket c (agrees with the target past bit c), then buckets
 * c+1..255 together (all differ from the target first at bit c), then
 * c-1, c-2, ..., 0 (bucket i differs first at bit i). Every contact of a
 * group is closer than every contact of a later one, so once n are found
 * the later groups can be skipped and the answer is still exact.
 */
size_t yz__dht_rt_closest(const yz__dht_rt *rt, const yz_node_id *target,
                          const yz__dht_contact **out, size_t n)
{
  size_t got = 0;
  if (n == 0)
    return 0;
  unsigned c = yz__dht_rt_bucket_index(rt, target);
  if (c < YZ__DHT_BUCKETS) {
    collect(rt, c, target, out, n, &got);
    if (got == n)
      return got;
    for (unsigned i = c + 1; i < YZ__DHT_BUCKETS; i++)
      collect(rt, i, target, out, n, &got);
  }
  for (unsigned i = c; i-- > 0 && got < n;)
    collect(rt, i, target, out, n, &got);
  return got;
}

const yz__dht_contact *yz__dht_rt_stalest(const yz__dht_rt *rt,
                                          const yz_node_id *id)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, id);
  if (bi == YZ__DHT_BUCKETS)
    return NULL;
  const yz__dht_bucket *b = &rt->buckets[bi];
  const yz__dht_contact *best = NULL;
  for (unsigned j = 0; j < b->n_live; j++)
    if (!best || b->live[j].last_seen_ms < best->last_seen_ms)
      best = &b->live[j];
  return best;
}

void yz__dht_rt_touched(yz__dht_rt *rt, const yz_node_id *target,
                        uint64_t now_ms)
{
  unsigned bi = yz__dht_rt_bucket_index(rt, target);
  if (bi < YZ__DHT_BUCKETS)
    rt->buckets[bi].last_lookup_ms = now_ms;
}

size_t yz__dht_rt_refresh_due(const yz__dht_rt *rt, uint64_t now_ms,
                              unsigned *out, size_t cap)
{
  int deepest = -1;
  for (unsigned i = 0; i < YZ__DHT_BUCKETS; i++)
    if (rt->buckets[i].n_live)
      deepest = (int)i;
  size_t n = 0;
  for (int i = 0; i <= deepest && n < cap; i++) {
    uint64_t last = rt->buckets[i].last_lookup_ms;
    if (now_ms >= last && now_ms - last >= rt->cfg.refresh_ms)
      out[n++] = (unsigned)i;
  }
  return n;
}

void yz__dht_rt_random_id(const yz__dht_rt *rt, unsigned index,
                          const uint8_t random[32], yz_node_id *out)
{
  if (index >= YZ__DHT_BUCKETS)
    index = YZ__DHT_BUCKETS - 1;
  unsigned byte = index / 8, bit = index % 8;
  memcpy(out->bytes, random, YZ_NODE_ID_LEN);
  memcpy(out->bytes, rt->self.bytes, byte);
  uint8_t keep = (uint8_t)(0xff00u >> bit); /* the first `bit` bits */
  uint8_t flip = (uint8_t)(0x80u >> bit);
  out->bytes[byte] = (uint8_t)((rt->self.bytes[byte] & keep) |
                               (~rt->self.bytes[byte] & flip) |
                               (random[byte] & (uint8_t) ~(keep | flip)));
}
