/*
 * Fuzz target: a subscribed PubSub router fed arbitrary traffic
 * (src/pubsub/router.h, docs/pubsub.md).
 *
 * A router with small bounds, subscribed to two topics, with four peers.
 * The input is a sequence of steps, each an opcode byte and its operands:
 *   0: an RPC from peer k (a chunk of bytes: yz_ps_rpc_decode(), then
 *      yz__ps_rpc_in(), or yz__ps_rpc_malformed() when it does not decode);
 *   1: a heartbeat, the clock moved on by the next byte x 100 ms;
 *   2: a publish of a message signed with a fixed key (seq and expiry
 *      from the input);
 *   3: subscribe or unsubscribe a topic;
 *   4: peer k leaves or comes back.
 * Whatever arrives: nothing crashes or leaks, every RPC the router sends
 * is valid under its limits (it must encode), and every table stays within
 * its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "pubsub/router.h"

static uint64_t rng;

static void rnd(void *ud, uint8_t *buf, size_t n)
{
  (void)ud;
  for (size_t i = 0; i < n; i++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    buf[i] = (uint8_t)rng;
  }
}

static yz__ps_config cfg;

static void on_send(void *ud, const yz_node_id *peer, const yz_ps_rpc *rpc)
{
  (void)ud, (void)peer;
  size_t n = 0;
  FUZZ_CHECK(yz_ps_rpc_encode(rpc, &cfg.limits, NULL, 0, &n, NULL) ==
             YZ_E_TOO_LARGE);
  FUZZ_CHECK(n <= cfg.limits.max_rpc_len);
}

static void on_deliver(void *ud, const yz_ps_msg *m, const uint8_t id[32],
                       const yz_node_id *from)
{
  (void)ud, (void)from;
  uint8_t again[32];
  FUZZ_CHECK(yz_ps_msg_id(m, again) == 0 && memcmp(again, id, 32) == 0);
}

static yz__ps_verdict validate(void *vud, const yz_ps_msg *m,
                               const uint8_t id[32], const yz_node_id *from)
{
  (void)vud, (void)from, (void)m;
  return (yz__ps_verdict)(id[0] % 3); /* accept, reject, ignore */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static bool init;
  static uint8_t sk[64], topics[2][32];
  static yz_ps_rpc rpc;
  if (!init) {
    if (sodium_init() < 0)
      abort();
    uint8_t seed[32], pk[32];
    fuzz_key(seed, 91);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    memset(topics[0], 0x11, 32);
    memset(topics[1], 0x22, 32);
    yz__ps_config_default(&cfg);
    cfg.D = 3, cfg.D_lo = 2, cfg.D_hi = 4, cfg.D_out = 1, cfg.D_score = 1;
    cfg.D_lazy = 2;
    cfg.max_topics = 4, cfg.max_peers = 4, cfg.max_peer_topics = 4;
    cfg.seen_max = 16, cfg.mcache_max = 8, cfg.max_promises = 8;
    cfg.max_ihave_len = 8, cfg.max_dontwant = 4, cfg.max_outbox = 4;
    cfg.msg_rate_per_s = 5, cfg.msg_burst = 5;
    cfg.score.mesh_deliveries_weight = -1; /* P3, P3b on */
    cfg.score.mesh_failure_weight = -1;
    cfg.opportunistic_graft_ticks = 3;
    init = true;
  }
  rng = 0x1234567;
  uint64_t now = 1800000000000ull;
  yz_node_id self, peers[4];
  memset(self.bytes, 0xee, 32);
  yz__ps_callbacks cb = {on_send, on_deliver, rnd, NULL, NULL};
  yz__ps_router *r = yz__ps_router_new(&self, &cfg, &cb, now);
  FUZZ_CHECK(r != NULL);
  for (int i = 0; i < 4; i++) {
    memset(peers[i].bytes, 0xa0 + i, 32);
    yz__ps_ip ip = {4, {10, 0, 0, (uint8_t)(i / 2)}};
    FUZZ_CHECK(yz__ps_peer_add(r, &peers[i], &ip, i % 2, NULL, 0, now) == 0);
  }
  FUZZ_CHECK(yz__ps_subscribe(r, topics[0], validate, NULL, now) == 0);
  FUZZ_CHECK(yz__ps_subscribe(r, topics[1], NULL, NULL, now) == 0);

  fuzz_in in = {data, size};
  uint64_t seq = 0;
  while (in.n > 0) {
    uint8_t op = fuzz_u8(&in), k = fuzz_u8(&in) % 4;
    switch (op % 5) {
    case 0: {
      const uint8_t *p;
      size_t n;
      if (!fuzz_chunk(&in, &p, &n))
        break;
      if (yz_ps_rpc_decode(&rpc, p, n, &cfg.limits, NULL) == 0)
        (void)yz__ps_rpc_in(r, &peers[k], &rpc, now);
      else
        yz__ps_rpc_malformed(r, &peers[k]);
      break;
    }
    case 1:
      now += (uint64_t)fuzz_u8(&in) * 100;
      yz__ps_heartbeat(r, now);
      break;
    case 2: {
      yz_ps_msg m;
      memset(&m, 0, sizeof m);
      memcpy(m.topic, topics[k % 2], 32);
      m.seq = ++seq;
      m.expiry = now / 1000 + fuzz_u8(&in) * 4;
      m.data = (const uint8_t *)"fuzz";
      m.data_len = 4;
      FUZZ_CHECK(yz_ps_msg_sign_raw(&m, sk, NULL) == 0);
      int rc = yz__ps_publish(r, &m, now);
      FUZZ_CHECK(rc >= 0 || rc == YZ_E_INVAL || rc == YZ_E_DUPLICATE ||
                 rc == YZ_E_LIMIT);
      break;
    }
    case 3:
      if (k < 2)
        (void)yz__ps_subscribe(r, topics[k], NULL, NULL, now);
      else
        (void)yz__ps_unsubscribe(r, topics[k - 2], now);
      break;
    default:
      if (yz__ps_peer_remove(r, &peers[k], now) != 0)
        FUZZ_CHECK(yz__ps_peer_add(r, &peers[k], NULL, false, NULL, 0, now) ==
                   0);
      break;
    }
    size_t seen, mc, prom, nt, np;
    yz__ps_sizes(r, &seen, &mc, &prom, &nt, &np);
    FUZZ_CHECK(seen <= cfg.seen_max && mc <= cfg.mcache_max &&
               prom <= cfg.max_promises && nt <= cfg.max_topics &&
               np <= cfg.max_peers);
    for (int t = 0; t < 2; t++)
      FUZZ_CHECK(yz__ps_mesh(r, topics[t], false, NULL, 0) <=
                 cfg.D_hi + cfg.D_out);
  }
  yz__ps_router_free(r);
  return 0;
}
