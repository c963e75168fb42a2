/*
 * Fuzz target: the Noise test-vector file parser (tools/vectors,
 * yz_vec_parse) with a round trip through its writer, then a replay of the
 * parsed vectors against the noise layer (arbitrary keys, prologues,
 * patterns and messages from the file: a second way into the handshake
 * code).
 *
 * Invariants checked: a refused input yields no set and a message; an
 * accepted one dumps to JSON that parses back and dumps to the same text
 * (a fixed point); replay never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vectors/vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > (1u << 20))
    return 0;
  yz_vec_set *set = NULL;
  char err[YZ_VEC_ERR_LEN];
  err[0] = '\0';
  int rc = yz_vec_parse(data, size, &set, err, sizeof err);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && set == NULL);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
    return 0;
  }
  FUZZ_CHECK(set != NULL);

  char *d1 = yz_vec_dump(set);
  FUZZ_CHECK(d1 != NULL);
  yz_vec_set *again = NULL;
  rc = yz_vec_parse((const uint8_t *)d1, strlen(d1), &again, err, sizeof err);
  if (rc != 0)
    fprintf(stderr, "re-parse of the dump failed: %s\n", err);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(again->n_vectors == set->n_vectors);
  char *d2 = yz_vec_dump(again);
  FUZZ_CHECK(d2 != NULL && strcmp(d1, d2) == 0);
  free(d1);
  free(d2);
  yz_vec_set_free(again);

  /* Replay a bounded amount, so one input stays fast. */
  size_t budget = 64;
  for (size_t i = 0; i < set->n_vectors && budget > 0; i++) {
    const yz_vec_vector *v = &set->vectors[i];
    if (v->n_messages > budget)
      break;
    budget -= v->n_messages + 1;
    yz_vec_result r;
    memset(&r, 0, sizeof r);
    yz_vec_replay(v, &r);
    FUZZ_CHECK(r.outcome == YZ_VEC_PASSED || r.outcome == YZ_VEC_FAILED ||
               r.outcome == YZ_VEC_SKIPPED);
    FUZZ_CHECK(memchr(r.detail, '\0', sizeof r.detail) != NULL);
  }
  yz_vec_set_free(set);
  return 0;
}
