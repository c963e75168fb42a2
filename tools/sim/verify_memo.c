/*
 * tools/sim/verify_memo.c: a memo of Ed25519 verifications for the
 * simulator (docs/simulator.md "The cost of a run").
 *
 * The DHT verifies a node record's signature every time it receives the
 * record, and a FIND_NODE answer carries up to 20 of them: in a
 * simulation of thousands of nodes those verifications are about 90 % of
 * the CPU time, and almost all of them verify a (signature, key, message)
 * triple that was verified before. This file defines
 * crypto_sign_verify_detached() for the programs that link the simulator
 * (the executable's definition takes precedence over libsodium's): while
 * yz_sim_verify_memo(true) is in force, a triple that verified before is
 * answered from a bounded, direct-mapped table of 128-bit BLAKE2b tags;
 * every other call goes to libsodium's function. A verification is a pure
 * function of its inputs, so the results, and the simulation's figures,
 * are the same; only the wall time is not that of real nodes.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim.h"

enum { MEMO_BITS = 20, MEMO_TAG = 16 }; /* 1 Mi entries, 16 MiB */

typedef int (*verify_fn)(const unsigned char *, const unsigned char *,
                         unsigned long long, const unsigned char *);

static bool memo_on;
static uint8_t (*memo)[MEMO_TAG];
static uint64_t memo_hits, memo_misses;

static verify_fn real_verify(void) {
  static verify_fn f;
  if (f == NULL) {
    void *p = dlsym(RTLD_NEXT, "crypto_sign_verify_detached");
    if (p == NULL)
      abort(); /* libsodium is linked: cannot happen */
    memcpy(&f, &p, sizeof f);
  }
  return f;
}

int crypto_sign_verify_detached(const unsigned char *sig,
                                const unsigned char *m,
                                unsigned long long mlen,
                                const unsigned char *pk) {
  if (!memo_on || memo == NULL)
    return real_verify()(sig, m, mlen, pk);
  uint8_t tag[MEMO_TAG];
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, sizeof tag);
  crypto_generichash_update(&st, sig, crypto_sign_BYTES);
  crypto_generichash_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
  crypto_generichash_update(&st, m, mlen);
  crypto_generichash_final(&st, tag, sizeof tag);
  size_t idx = ((size_t)tag[0] | (size_t)tag[1] << 8 | (size_t)tag[2] << 16) &
               (((size_t)1 << MEMO_BITS) - 1);
  if (memcmp(memo[idx], tag, sizeof tag) == 0) {
    memo_hits++;
    return 0;
  }
  memo_misses++;
  int rc = real_verify()(sig, m, mlen, pk);
  if (rc == 0) /* only successes: a forgery is checked every time */
    memcpy(memo[idx], tag, sizeof tag);
  return rc;
}

void yz_sim_verify_memo(bool on) {
  if (on && memo == NULL) {
    memo = calloc((size_t)1 << MEMO_BITS, sizeof *memo);
    if (memo == NULL)
      return; /* no memo: every verification is done */
  }
  if (!on && memo != NULL) {
    free(memo);
    memo = NULL;
  }
  memo_on = on;
  memo_hits = memo_misses = 0;
}

void yz_sim_verify_memo_stats(uint64_t *hits, uint64_t *misses) {
  *hits = memo_hits;
  *misses = memo_misses;
}
