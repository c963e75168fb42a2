/*
 * The yz-node processes of a bench: spawned on loopback, their addresses
 * read from their stdout ("address ws://...", "ready") and their joining
 * from their stderr (a line containing join_marker), one loop and one
 * guard timer for the whole part. Shared by the process parts of
 * `yz bench dht`, `yz bench seal` and `yz bench pubsub`; any area that times operations of a
 * client node across real processes can use it (the join marker is the
 * caller's: "dht: joined:" for the DHT).
 */
#ifndef YZ_TOOLS_BENCH_PROCS_H
#define YZ_TOOLS_BENCH_PROCS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "yz/dht.h"
#include "yz/node.h"

enum { YZ_BENCH_PROCS_MAX = 64, YZ_BENCH_PROCS_EXTRA = 4 };

typedef struct yz_bench_procs yz_bench_procs;

typedef struct yz_bench_proc {
  uv_process_t p;
  uv_pipe_t out, err;
  char line[2][1024];
  size_t line_len[2];
  char addr[320];
  bool ready, joined, exited;
  yz_bench_procs *set;
} yz_bench_proc;

struct yz_bench_procs {
  uv_loop_t loop;
  uv_timer_t guard;
  bool guard_fired;
  int n;                   /* processes spawned or to spawn */
  const char *join_marker; /* stderr line of a process that joined */
  /* Set by the caller after yz_bench_procs_init(), all optional: more
   * arguments for every yz-node ("--subscribe", "TOPIC"), and a function
   * yz_bench_procs_stop() calls once the loop has run empty, before it
   * closes the loop (to free the caller's own nodes made on s->loop). */
  const char *extra_args[YZ_BENCH_PROCS_EXTRA];
  int n_extra;
  void (*before_close)(void *arg);
  void *close_arg;
  yz_bench_proc procs[YZ_BENCH_PROCS_MAX];
  unsigned n_ready, n_joined;
  char dir[64];
  uint64_t t0; /* yz_bench_procs_begin() */
  /* the client (yz_bench_procs_client()) */
  yz_node *node;
  yz_dht *dht;
  bool joined;
  int join_status;
};

/* Init the loop and start the guard (guard_ms for everything until
 * yz_bench_procs_stop()). */
void yz_bench_procs_init(yz_bench_procs *s, int n, const char *join_marker,
                         uint64_t guard_ms);

/* Find yz-node ($YZ_NODE, the build tree's, or next to yz), spawn s->n of
 * them in a temporary directory (the first, then the others bootstrapped
 * from it) and wait until every one but the first has joined. tag
 * prefixes the error messages ("dht", "seal"). 0, or yz_cli_error()'s
 * value (the caller still calls yz_bench_procs_stop()). */
int yz_bench_procs_start(yz_bench_procs *s, const char *tag);

/* The client: a node of this process with a fresh identity and a
 * client-only DHT (as `yz dht` runs it), joined through the first process
 * (waits). 0, or yz_cli_error()'s value (tag as above). */
int yz_bench_procs_client(yz_bench_procs *s, const char *tag);

/* Run the loop until cond(arg) holds or the guard fires; false when the
 * guard fired. */
bool yz_bench_procs_run_until(yz_bench_procs *s, bool (*cond)(void *),
                              void *arg);

/* Clear a fired guard and give it ms more (to stop the caller's own nodes
 * after an operation timed out). */
void yz_bench_procs_rearm(yz_bench_procs *s, uint64_t ms);

/* Stop the client if any, terminate the processes (SIGTERM, SIGKILL after
 * 30 s), close the guard, run the loop empty, free the client, close the
 * loop and remove the temporary directory. */
void yz_bench_procs_stop(yz_bench_procs *s);

/* Start timing an operation; its milliseconds so far. */
void yz_bench_procs_begin(yz_bench_procs *s);
double yz_bench_procs_elapsed_ms(const yz_bench_procs *s);

/* The median of v[0..n) (sorts v; n odd for a true median). */
double yz_bench_median(double *v, int n);

#endif
