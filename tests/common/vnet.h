/*
 * tests/common/vnet.h: virtual time and seeded randomness for the tests
 * that run many nodes on the in-memory network (tests/dht/test_dht.c,
 * tests/dht/test_limits.c, tests/pubsub/test_pubsub_node.c,
 * tests/seal/test_seal_net.c). Included once by each such test program
 * (like tests/node/wait.h): the program defines `static uv_loop_t loop;`
 * and, where it uses VWAIT or vnet_advance, `static void
 * run_all_timers(void)` (the node's, the DHT's, PubSub's timers of every
 * live node) before the first use.
 *
 * No sleeps, no wall clock: the nodes run on cfg.link.clock_ms =
 * vclock_fn with virtual time (yz/node.h "Virtual time"), the DHT's and
 * PubSub's Unix clocks are vunix / vunix_ms, and only the test moves
 * vclock. vrandom is a xorshift generator: the same run every time (a
 * test may reseed rng).
 */
#ifndef YZ_TESTS_COMMON_VNET_H
#define YZ_TESTS_COMMON_VNET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "yz/identity.h"
#include "yz/link.h"
#include "yz/node.h"

/* The first value of rng (a program may start it at 0 and seed later). */
#ifndef VNET_RNG_SEED
#define VNET_RNG_SEED 0x9e3779b97f4a7c15ull
#endif
/* The virtual milliseconds VWAIT moves the clock when the loop is idle. */
#ifndef VWAIT_STEP_MS
#define VWAIT_STEP_MS 100
#endif

/* Unix seconds at vclock 0. */
static const uint64_t UNIX0 = 1800000000;

static uint64_t vclock = 1000000;
static uint64_t rng = VNET_RNG_SEED;

static inline uint64_t vclock_fn(void *ud)
{
  (void)ud;
  return vclock;
}

static inline uint64_t vunix(void *ud)
{
  (void)ud;
  return UNIX0 + vclock / 1000;
}

static inline uint64_t vunix_ms(void *ud)
{
  (void)ud;
  return UNIX0 * 1000 + vclock;
}

static inline void vrandom(uint8_t *out, size_t n, void *ud)
{
  (void)ud;
  for (size_t i = 0; i < n; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    out[i] = (uint8_t)rng;
  }
}

/* The config of a node with identity id on the in-memory network memnet
 * (network name network), on virtual time (vclock). */
static inline void vnet_node_config(yz_node_config *nc, const yz_identity *id,
                                    yz_link_memnet *memnet,
                                    const char *network)
{
  yz_node_config_default(nc);
  nc->identity = id;
  nc->link.memnet = memnet;
  nc->link.virtual_time = true;
  nc->link.clock_ms = vclock_fn;
  nc->link.network = network;
}

/* Move the virtual clock by ms in steps of step ms, running every timer
 * due and the loop spins times (until idle) at each step. */
#define vnet_advance(ms, step, spins)                                         \
  do {                                                                        \
    uint64_t end_ = vclock + (ms);                                            \
    while (vclock < end_) {                                                   \
      vclock = vclock + (step) < end_ ? vclock + (step) : end_;               \
      run_all_timers();                                                       \
      for (int i_ = 0; i_ < (spins); i_++)                                    \
        uv_run(&loop, UV_RUN_NOWAIT);                                         \
    }                                                                         \
  } while (0)

/* Run the loop until cond holds; whenever it is idle and cond does not
 * hold yet, virtual time moves VWAIT_STEP_MS (request timeouts, retries),
 * at most 10 virtual minutes. */
#define VWAIT(cond)                                                           \
  do {                                                                        \
    uint64_t lim_ = vclock + 600000;                                          \
    while (!(cond)) {                                                         \
      for (int i_ = 0; i_ < 50 && !(cond); i_++)                              \
        uv_run(&loop, UV_RUN_NOWAIT);                                         \
      if (cond)                                                               \
        break;                                                                \
      if (vclock >= lim_)                                                     \
        fail_msg("timed out (virtual) waiting for: %s", #cond);               \
      vclock += VWAIT_STEP_MS;                                                \
      run_all_timers();                                                       \
    }                                                                         \
  } while (0)

#endif /* YZ_TESTS_COMMON_VNET_H */
