/*
 * An ephemeral client node for the yz commands that use the overlay (yz
 * dht, yz pub, yz sub): a fresh identity in memory, no listener, a DHT in
 * client-only mode (it never enters a routing table, docs/protocol.md "DHT
 * messages"), joined through --bootstrap; optionally PubSub on it. One
 * place for the setup and the ordered teardown (PubSub, then the DHT, then
 * the node).
 */
#ifndef YZ_TOOLS_EPHEMERAL_H
#define YZ_TOOLS_EPHEMERAL_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "yz/dht.h"
#include "yz/node.h"
#include "yz/pubsub.h"

typedef struct yz_eph {
  uv_loop_t loop;
  yz_node *node;
  yz_dht *dht;
  yz_pubsub *ps; /* NULL unless yz_eph_open() was asked for it */
  bool loop_init, stopping;
} yz_eph;

/* The options every overlay command takes: --bootstrap ADDR (repeatable),
 * --network NAME, -v/--verbose. */
enum { YZ_EPH_MAX_BOOTSTRAP = 64 };
typedef struct yz_eph_opts {
  const char *bootstrap[YZ_EPH_MAX_BOOTSTRAP];
  size_t nbootstrap;
  const char *network; /* NULL: the public network */
  bool verbose;
} yz_eph_opts;

/* If the argument a (v: the one after it, or NULL) is one of those
 * options, take it: the number of arguments used (1 or 2); 0 when it is
 * none of them; or minus YZ_EXIT_USAGE after printing a usage error (no
 * value, too many --bootstrap, a bad network name). */
int yz_eph_option(yz_eph_opts *o, const char *a, const char *v);

/* After the command line: at least one --bootstrap. 0, or YZ_EXIT_USAGE
 * after printing a usage error. */
int yz_eph_options_check(const yz_eph_opts *o);

/* The loop, the node (network NULL: the public one) and its client-only
 * DHT, started; with pubsub, PubSub too. Unless verbose, the node's log
 * shows errors only. 0, or an exit code after printing the error (what
 * was made is stopping: the caller still calls yz_eph_run(), which drains
 * it). */
int yz_eph_open(yz_eph *e, const char *network, bool verbose, bool pubsub);

/* Join through the bootstrap addresses (yz_dht_join()). */
int yz_eph_join(yz_eph *e, const char *const *bootstrap, size_t n,
                yz_dht_cb cb, void *arg);

/* Stop everything, in order, from the loop; yz_eph_run() then returns. */
void yz_eph_stop(yz_eph *e);

/* Run the loop until everything has stopped, then free it all. 0, or 1 if
 * the loop was not empty at exit (printed). */
int yz_eph_run(yz_eph *e);

/* ---- one overlay command on an ephemeral node ------------------------- */

/* Exit code of every overlay command when it joined nobody, or its guard
 * ran out (docs/operations.md). */
enum { YZ_EPH_EXIT_NETWORK = 4 };

/* The run every overlay command (yz dht, put/get --sealed, share, topic,
 * pub, sub) shares: open the node, join through --bootstrap, start the
 * operation, a guard timer, one exit code. A command embeds it as its
 * first member and sets the hooks; its own callbacks end it with
 * yz_eph_cmd_finish(). */
typedef struct yz_eph_cmd yz_eph_cmd;
struct yz_eph_cmd {
  yz_eph e;
  uv_timer_t guard;
  uint64_t t0;          /* uv_hrtime() when the join started */
  uint64_t join_ms;     /* how long the join took */
  uint32_t timeout_ms;  /* the guard; 0: none */
  bool stopping;
  int exit_code;
  /* Joined (the table is not empty): start the operation. */
  void (*joined)(yz_eph_cmd *k);
  /* Optional: the join reached nobody (status), after the line on stderr
   * and before exit YZ_EPH_EXIT_NETWORK (e.g. a JSON line). */
  void (*join_failed)(yz_eph_cmd *k, int status);
  /* Optional: the guard ran out (default: "no result within N s", exit
   * YZ_EPH_EXIT_NETWORK). */
  void (*timed_out)(yz_eph_cmd *k);
  /* Optional: the command's own handles, made on e.loop before the join
   * (started) and closed when it finishes (closing). */
  void (*started)(yz_eph_cmd *k);
  void (*closing)(yz_eph_cmd *k);
};

/* Open (with PubSub if pubsub), join, run until finished: the exit code
 * (yz_eph_cmd_finish()'s, or an earlier failure's). */
int yz_eph_cmd_run(yz_eph_cmd *k, const yz_eph_opts *o, bool pubsub);

/* End the command with code (the first call counts). */
void yz_eph_cmd_finish(yz_eph_cmd *k, int code);

/* Milliseconds since the join started. */
uint64_t yz_eph_cmd_ms(const yz_eph_cmd *k);

#endif
