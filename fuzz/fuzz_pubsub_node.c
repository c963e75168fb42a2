/*
 * Fuzz target: a subscribed PubSub node fed arbitrary traffic over its
 * links (src/pubsub/pubsub.c, the glue, and the router under it;
 * docs/pubsub.md "On a node").
 *
 * One node under test and three peer nodes on the in-memory network
 * (virtual time, network "fuzz"), linked once for the whole run; each
 * input gets a fresh PubSub on the node under test (so the same input
 * always takes the same path), subscribed to two topics with a validator
 * that accepts, rejects or ignores by the message ID's first byte, a
 * delivery queue of 4 and no DHT. The input is a sequence of steps, an
 * opcode byte and its operands:
 *   0: peer k sends a chunk (16-bit length, bytes) as a protocol-3 node
 *      message: the glue decodes it (or counts it malformed and penalises
 *      the peer) and hands it to the router, exactly as from the network;
 *   1: the clock moves on by the next byte x 100 ms and the timers run
 *      (heartbeat, discovery, publish deadlines);
 *   2: the node publishes a chunk to one of the topics, or to a third it
 *      does not subscribe to.
 * Invariants: RPCs that did not decode are all counted (malformed <=
 * rpcs_in); the router's tables stay within their bounds; the delivery
 * queue never holds more than its bound (delivered + dropped never exceed
 * what the router delivered, received or own); the node stops and frees with nothing
 * leaked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/node.h"
#include "yz/pubsub.h"

enum { PEERS = 3 };
static const uint64_t UNIX0_MS = 1800000000000ull;

static uv_loop_t loop;
static yz_link_memnet *net;
static yz_node *node, *peer[PEERS];
static uint64_t vclock = 1000000;

static uint64_t clock_fn(void *ud)
{
  (void)ud;
  return vclock;
}

static uint64_t unix_ms(void *ud)
{
  (void)ud;
  return UNIX0_MS + vclock;
}

static uint64_t rng;
static void det_random(uint8_t *o, size_t n, void *ud)
{
  (void)ud;
  for (size_t i = 0; i < n; i++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    o[i] = (uint8_t)rng;
  }
}

static void drain(void)
{
  for (int i = 0; i < 64; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
}

static yz_node *make_node(uint8_t label, const char *listen)
{
  static yz_identity id;
  uint8_t seed[32];
  fuzz_key(seed, label);
  FUZZ_CHECK(yz_identity_from_seed(&id, seed) == 0);
  yz_node_config nc;
  yz_node_config_default(&nc);
  nc.identity = &id;
  nc.link.memnet = net;
  nc.link.virtual_time = true;
  nc.link.clock_ms = clock_fn;
  nc.link.network = "fuzz";
  yz_node *n;
  FUZZ_CHECK(yz_node_new(&n, &loop, &nc) == 0);
  if (listen) {
    yz_link_listen_config lc = {.url = listen};
    FUZZ_CHECK(yz_node_listen(n, &lc) == 0);
  }
  FUZZ_CHECK(yz_node_start(n) == 0);
  return n;
}

static void setup(void)
{
  if (node)
    return;
  FUZZ_CHECK(uv_loop_init(&loop) == 0);
  FUZZ_CHECK(yz_link_memnet_new(&net, &loop) == 0);
  node = make_node(80, "ws://10.8.8.8:7700");
  for (int i = 0; i < PEERS; i++) {
    peer[i] = make_node((uint8_t)(81 + i), NULL);
    FUZZ_CHECK(yz_node_dial(peer[i], yz_node_address(node, 0), NULL) == 0);
  }
  for (int k = 0; k < 1000 && yz_node_peer_count(node) < PEERS; k++)
    drain();
  FUZZ_CHECK(yz_node_peer_count(node) == PEERS);
}

static yz_pubsub_verdict validate(yz_pubsub *ps, const yz_pubsub_message *m,
                                  void *ud)
{
  (void)ps, (void)ud;
  return (yz_pubsub_verdict)(m->id[0] % 3);
}

static void on_message(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps, (void)ud;
  uint8_t h[YZ_PS_TOPIC_LEN];
  FUZZ_CHECK(yz_ps_topic_hash(h, m->topic, strlen(m->topic)) == 0);
  FUZZ_CHECK(memcmp(h, m->topic_hash, sizeof h) == 0);
}

static void on_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  *(bool *)arg = true;
}

static const char *const topic_name[3] = {"fuzz-a", "fuzz-b", "fuzz-c"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  setup();
  rng = 0x9e3779b97f4a7c15ull;
  yz_pubsub_config pc;
  yz_pubsub_config_default(&pc);
  pc.router.max_peers = 4;
  pc.router.max_topics = 4;
  pc.router.max_peer_topics = 4;
  pc.router.seen_max = 64;
  pc.router.mcache_max = 16;
  pc.router.max_promises = 16;
  pc.router.max_data = 4096;
  pc.max_delivery_queue = 4;
  pc.max_pending = 2;
  pc.unix_ms = unix_ms;
  pc.random = det_random;
  yz_pubsub *ps;
  FUZZ_CHECK(yz_pubsub_new(&ps, node, NULL, &pc) == 0);
  FUZZ_CHECK(yz_pubsub_subscribe(ps, topic_name[0], validate, on_message,
                                 NULL) == 0);
  FUZZ_CHECK(yz_pubsub_subscribe(ps, topic_name[1], validate, on_message,
                                 NULL) == 0);
  drain();

  fuzz_in in = {data, size};
  while (in.n) {
    uint8_t op = fuzz_u8(&in) % 3;
    const uint8_t *p;
    size_t n;
    if (op == 0) {
      uint8_t k = fuzz_u8(&in) % PEERS;
      if (!fuzz_chunk(&in, &p, &n))
        break;
      /* an empty body is no node message: nothing to feed */
      if (n) {
        int rc = yz_node_send(peer[k], yz_node_get_id(node),
                              YZ_PUBSUB_PROTOCOL, p, n);
        (void)rc; /* a full queue drops it: the next step goes on */
      }
    } else if (op == 1) {
      vclock += 100u * fuzz_u8(&in);
      yz_node_run_timers(node);
      for (int i = 0; i < PEERS; i++)
        yz_node_run_timers(peer[i]);
      yz_pubsub_run_timers(ps);
    } else {
      uint8_t t = fuzz_u8(&in) % 3;
      if (!fuzz_chunk(&in, &p, &n))
        break;
      size_t reached;
      int rc = yz_pubsub_publish(ps, topic_name[t], p, n, 0, &reached, NULL,
                                 NULL, NULL);
      FUZZ_CHECK(rc == 0 || rc == YZ_E_LIMIT || rc == YZ_E_INVAL);
    }
    drain();
    yz_pubsub_stats st;
    yz_pubsub_get_stats(ps, &st);
    FUZZ_CHECK(st.malformed <= st.rpcs_in);
    FUZZ_CHECK(st.seen <= pc.router.seen_max);
    FUZZ_CHECK(st.mcache <= pc.router.mcache_max);
    FUZZ_CHECK(st.peers <= pc.router.max_peers);
    FUZZ_CHECK(st.topics <= 2);
    FUZZ_CHECK(st.pending_publishes <= pc.max_pending);
    /* the router counts what it received; own messages come on top */
    FUZZ_CHECK(st.delivered_app + st.delivery_dropped <=
               st.router.delivered + st.published);
    FUZZ_CHECK(st.mesh_max <= pc.router.D_hi + pc.router.D_out);
  }

  bool stopped = false;
  yz_pubsub_stop(ps, on_stopped, &stopped);
  while (!stopped)
    uv_run(&loop, UV_RUN_ONCE);
  yz_pubsub_free(ps);
  return 0;
}
