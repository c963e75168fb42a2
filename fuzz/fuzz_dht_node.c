/*
 * Fuzz target: a live DHT node fed arbitrary requests (src/dht,
 * docs/protocol.md "DHT rules").
 *
 * One node on the in-memory network (virtual time, network "fuzz") lives
 * for the whole run; each input gets a fresh DHT on it (so the same input
 * always takes the same path) with a small store (8 records, 64 KiB), a
 * routing table holding three fixed peers and one stored record. The input
 * is a sequence of requests: a byte choosing the requester (one of the
 * three peers or a stranger) and a chunk (16-bit length, bytes) that goes
 * to the DHT's request handler (yz__dht_handle_request()) exactly as a
 * protocol-2 request body from that peer; the clock moves 1 s each.
 *
 * Invariants: the handler never fails; every answer decodes under the
 * node's own limits; an answer to a request that decodes is its response
 * type or a STATUS (yz_dht_msg_answers()); an undecodable request is
 * answered with STATUS MALFORMED or UNSUPPORTED; the store never holds
 * more than its bounds. Then the DHT stops (waiting for any dial back a
 * HELLO started) and is freed: a leak is a finding under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_priv.h"
#include "fuzz_util.h"
#include "yz/dht.h"
#include "yz/node.h"

enum { PEERS = 3, RECORDS_MAX = 8, BYTES_MAX = 64 * 1024 };
static const uint64_t UNIX0 = 1800000000;

static uv_loop_t loop;
static yz_link_memnet *net;
static yz_node *node;
static yz_identity peer_id[PEERS + 1];
static uint8_t peer_rec[PEERS][YZ_RECORD_MAX_LEN];
static size_t peer_rec_len[PEERS];
static uint64_t vclock = 1000000;
static uint8_t *out;

static uint64_t clock_fn(void *ud)
{
  (void)ud;
  return vclock;
}

static uint64_t unix_fn(void *ud)
{
  (void)ud;
  return UNIX0 + vclock / 1000;
}

static void det_random(uint8_t *o, size_t n, void *ud)
{
  (void)ud;
  for (size_t i = 0; i < n; i++)
    o[i] = (uint8_t)(i * 13 + 7);
}

static void setup(void)
{
  if (node)
    return;
  FUZZ_CHECK(uv_loop_init(&loop) == 0);
  FUZZ_CHECK(yz_link_memnet_new(&net, &loop) == 0);
  uint8_t seed[32];
  for (int i = 0; i <= PEERS; i++) {
    fuzz_key(seed, (uint8_t)(70 + i));
    FUZZ_CHECK(yz_identity_from_seed(&peer_id[i], seed) == 0);
  }
  /* the node under test */
  static yz_identity me;
  fuzz_key(seed, 69);
  FUZZ_CHECK(yz_identity_from_seed(&me, seed) == 0);
  yz_node_config nc;
  yz_node_config_default(&nc);
  nc.identity = &me;
  nc.link.memnet = net;
  nc.link.virtual_time = true;
  nc.link.clock_ms = clock_fn;
  nc.link.network = "fuzz";
  FUZZ_CHECK(yz_node_new(&node, &loop, &nc) == 0);
  yz_link_listen_config lc = {.url = "ws://10.9.9.9:7700"};
  FUZZ_CHECK(yz_node_listen(node, &lc) == 0);
  FUZZ_CHECK(yz_node_start(node) == 0);
  /* the peers' node records (nobody listens at their addresses: a dial
   * back fails, from the loop) */
  for (int i = 0; i < PEERS; i++) {
    yz_record r;
    memset(&r, 0, sizeof r);
    FUZZ_CHECK(yz_record_set_network(&r, "fuzz") == 0);
    char url[64];
    snprintf(url, sizeof url, "ws://10.9.0.%d:7700/", i + 1);
    FUZZ_CHECK(yz_record_add_address(&r, url, YZ_WIRE_CLIENT_WS, NULL) == 0);
    r.seq = 1;
    r.expiry = UNIX0 + 10ull * 365 * 86400;
    r.node_type = YZ_WIRE_NODE_COMMUNITY;
    FUZZ_CHECK(yz_record_sign(&r, &peer_id[i], NULL) == 0);
    FUZZ_CHECK(yz_record_encode(&r, peer_rec[i], sizeof peer_rec[i],
                                &peer_rec_len[i]) == 0);
  }
}

static void on_stopped(yz_dht *d, void *arg)
{
  (void)d;
  *(bool *)arg = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  setup();
  yz_dht_config dc;
  yz_dht_config_default(&dc);
  dc.k = 4;
  dc.store_records_max = RECORDS_MAX;
  dc.store_bytes_max = BYTES_MAX;
  dc.per_peer_records_max = 4;
  dc.providers_per_key_max = 3;
  dc.provider_keys_max = 4;
  dc.put_burst = 5;
  dc.unix_time = unix_fn;
  dc.random = det_random;
  yz_dht *d;
  FUZZ_CHECK(yz_dht_new(&d, node, &dc) == 0);
  if (!out)
    out = malloc(yz__dht_answer_max(d));
  FUZZ_CHECK(out != NULL);
  for (int i = 0; i < PEERS; i++) {
    yz__dht_peer p;
    memset(&p, 0, sizeof p);
    p.id = *yz_identity_node_id(&peer_id[i]);
    p.record = peer_rec[i];
    p.record_len = peer_rec_len[i];
    FUZZ_CHECK(yz__dht_rt_seen(&d->rt, &p, vclock, 10) >= 0);
  }
  {
    /* one stored record, so GET has something to answer */
    yz_dhtrec r;
    memset(&r, 0, sizeof r);
    r.kind = YZ_DHTREC_IMMUTABLE;
    r.value = (const uint8_t *)"fuzz";
    r.value_len = 4;
    r.expiry = unix_fn(NULL) + 3600;
    FUZZ_CHECK(yz_dhtrec_derive_key(&r) == 0);
    uint8_t enc[128];
    size_t n;
    FUZZ_CHECK(yz_dhtrec_encode(&r, enc, sizeof enc, &n) == 0);
    FUZZ_CHECK(yz_dht_store_local(d, r.key, enc, n) == YZ_DHT_OK);
  }

  fuzz_in in = {data, size};
  while (in.n) {
    uint8_t who = fuzz_u8(&in) % (PEERS + 1);
    const uint8_t *req;
    size_t len;
    if (!fuzz_chunk(&in, &req, &len))
      break;
    vclock += 1000;
    const yz_node_id *from = yz_identity_node_id(&peer_id[who]);
    size_t ol = 0;
    FUZZ_CHECK(yz__dht_handle_request(d, from, req, len, out,
                                      yz__dht_answer_max(d), &ol) == 0);
    yz_dht_msg a, q;
    FUZZ_CHECK(yz_dht_msg_decode(&a, out, ol, &d->lim, NULL) == 0);
    if (yz_dht_msg_decode(&q, req, len, &d->lim, NULL) == 0)
      FUZZ_CHECK(a.type == YZ_DHT_STATUS ||
                 yz_dht_msg_answers(q.type, a.type));
    else
      FUZZ_CHECK(a.type == YZ_DHT_STATUS &&
                 (a.status == YZ_DHT_ST_MALFORMED ||
                  a.status == YZ_DHT_ST_UNSUPPORTED));
    yz_dht_stats st;
    yz_dht_get_stats(d, &st);
    FUZZ_CHECK(st.records <= RECORDS_MAX && st.record_bytes <= BYTES_MAX);
    FUZZ_CHECK(st.provider_keys <= 4 && st.providers <= 4 * 3);
  }

  bool stopped = false;
  yz_dht_stop(d, on_stopped, &stopped);
  while (!stopped)
    uv_run(&loop, UV_RUN_ONCE);
  yz_dht_free(d);
  return 0;
}
