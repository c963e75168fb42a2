/*
 * The replay and generation engine (tools/vectors/replay.c): generated
 * vectors replay; generation is deterministic for a seed; a change to any
 * ciphertext byte fails at that message and not earlier; "fail": true
 * inverts the outcome; skips carry the noise layer's reason; the noise-c
 * fallback vectors replay and fail where they are altered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vectors.h"

static const uint8_t seed[] = "test seed";

static void gen(yz_vec_vector *v, const char *name, unsigned transport)
{
  char err[YZ_VEC_ERR_LEN];
  int rc = yz_vec_generate(v, name, seed, sizeof seed - 1, transport, err,
                           sizeof err);
  if (rc != 0)
    fail_msg("%s: %s", name, err);
}

static yz_vec_outcome replay(const yz_vec_vector *v, int *message)
{
  yz_vec_result r;
  yz_vec_replay(v, &r);
  if (message != NULL)
    *message = r.message;
  return r.outcome;
}

static const char *const names[] = {
    "Noise_XX_25519_ChaChaPoly_BLAKE2b",   "Noise_NN_25519_ChaChaPoly_SHA256",
    "Noise_IK_25519_ChaChaPoly_SHA512",    "Noise_N_25519_ChaChaPoly_SHA256",
    "Noise_K_25519_ChaChaPoly_BLAKE2b",    "Noise_Xpsk1_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk3_25519_ChaChaPoly_SHA256", "Noise_KK_25519_ChaChaPoly_SHA256",
    "Noise_X1X1_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk0+psk1_25519_ChaChaPoly_BLAKE2b",
    "Noise_NXpsk0+psk1+psk2_25519_ChaChaPoly_SHA512",
};

/* Every generated vector replays, and its shape follows the pattern. */
static void test_generated_replay(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    yz_vec_vector v;
    gen(&v, names[i], 3);
    assert_true(v.handshake_hash.present);
    assert_true(v.n_messages >= 4);
    if (replay(&v, NULL) != YZ_VEC_PASSED)
      fail_msg("%s does not replay", names[i]);
    yz_vec_vector_clear(&v);
  }
  yz_vec_vector v;
  gen(&v, "Noise_XX_25519_ChaChaPoly_BLAKE2b", 2);
  assert_int_equal(v.n_messages, 5); /* 3 handshake + 2 transport */
  assert_true(v.init_static.present && v.resp_static.present);
  assert_false(v.init_remote_static.present);
  yz_vec_vector_clear(&v);
  gen(&v, "Noise_N_25519_ChaChaPoly_SHA256", 0);
  assert_int_equal(v.n_messages, 1);
  assert_false(v.init_static.present);
  assert_false(v.resp_ephemeral.present);
  assert_true(v.init_remote_static.present);
  yz_vec_vector_clear(&v);
  gen(&v, "Noise_XXpsk0+psk1_25519_ChaChaPoly_BLAKE2b", 0);
  assert_int_equal(v.n_init_psks, 2);
  assert_int_equal(v.n_resp_psks, 2);
  yz_vec_vector_clear(&v);
}

/* Same seed, same bytes; another seed, other bytes. */
static void test_deterministic(void **state)
{
  (void)state;
  yz_vec_set a = {calloc(1, sizeof(yz_vec_vector)), 1};
  yz_vec_set b = {calloc(1, sizeof(yz_vec_vector)), 1};
  assert_non_null(a.vectors);
  assert_non_null(b.vectors);
  gen(&a.vectors[0], "Noise_IK_25519_ChaChaPoly_SHA256", 4);
  gen(&b.vectors[0], "Noise_IK_25519_ChaChaPoly_SHA256", 4);
  char *ja = yz_vec_dump(&a), *jb = yz_vec_dump(&b);
  assert_string_equal(ja, jb);
  free(jb);
  yz_vec_vector_clear(&b.vectors[0]);
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(yz_vec_generate(&b.vectors[0],
                                   "Noise_IK_25519_ChaChaPoly_SHA256",
                                   (const uint8_t *)"other", 5, 4, err,
                                   sizeof err),
                   0);
  jb = yz_vec_dump(&b);
  assert_string_not_equal(ja, jb);
  free(ja);
  free(jb);
  yz_vec_vector_clear(&a.vectors[0]);
  yz_vec_vector_clear(&b.vectors[0]);
  free(a.vectors);
  free(b.vectors);
}

/* Flipping any ciphertext byte fails the vector at that message. */
static void test_flip_every_byte(void **state)
{
  (void)state;
  static const char *const flip_names[] = {
      "Noise_XX_25519_ChaChaPoly_SHA256",
      "Noise_Xpsk1_25519_ChaChaPoly_BLAKE2b",
  };
  for (size_t n = 0; n < 2; n++) {
    yz_vec_vector v;
    gen(&v, flip_names[n], 2);
    for (size_t m = 0; m < v.n_messages; m++) {
      yz_vec_bytes *ct = &v.messages[m].ciphertext;
      for (size_t k = 0; k < ct->len; k++) {
        ct->data[k] ^= 0x01;
        int at;
        assert_int_equal(replay(&v, &at), YZ_VEC_FAILED);
        if (at != (int)m)
          fail_msg("%s: byte %zu of message %zu: failed at %d", flip_names[n],
                   k, m, at);
        ct->data[k] ^= 0x01;
      }
      /* Truncated and extended ciphertexts fail there too. */
      ct->len--;
      int at;
      assert_int_equal(replay(&v, &at), YZ_VEC_FAILED);
      assert_int_equal(at, (int)m);
      ct->len++;
    }
    assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
    yz_vec_vector_clear(&v);
  }
}

/* "fail": true passes only if the conversation fails. */
static void test_fail_flag(void **state)
{
  (void)state;
  yz_vec_vector v;
  gen(&v, "Noise_NK_25519_ChaChaPoly_SHA256", 1);
  v.fail = true;
  yz_vec_result r;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "expected the conversation to fail"));
  v.init_prologue.data[0] ^= 1; /* the sides disagree on the prologue */
  assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
  v.fail = false;
  int at;
  assert_int_equal(replay(&v, &at), YZ_VEC_FAILED);
  assert_int_equal(at, 0);
  yz_vec_vector_clear(&v);
}

/* A wrong handshake hash, a wrong psk, a missing message. */
static void test_other_failures(void **state)
{
  (void)state;
  yz_vec_vector v;
  yz_vec_result r;
  gen(&v, "Noise_XXpsk3_25519_ChaChaPoly_SHA512", 1);
  v.handshake_hash.data[5] ^= 1;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "handshake hash"));
  v.handshake_hash.data[5] ^= 1;
  v.resp_psks[0][0] ^= 1;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_int_equal(r.message, 2); /* psk3 is mixed in the third message */
  v.resp_psks[0][0] ^= 1;
  v.n_messages = 2;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "ends before the handshake"));
  v.n_messages = 4;
  assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
  yz_vec_vector_clear(&v);
}

/* Unsupported primitives are skipped with the noise layer's reason;
 * malformed names fail; fallback is not generated. */
static void test_skips_and_names(void **state)
{
  (void)state;
  yz_vec_vector v;
  gen(&v, "Noise_NN_25519_ChaChaPoly_SHA256", 0);
  yz_vec_result r;
  strcpy(v.name, "Noise_NN_448_ChaChaPoly_SHA256");
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_SKIPPED);
  assert_non_null(r.skip_reason);
  assert_non_null(strstr(r.skip_reason, "448"));
  strcpy(v.name, "Noise_NN_25519_ChaChaPoly_BLAKE2s");
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_SKIPPED);
  strcpy(v.name, "Noise_QQ_25519_ChaChaPoly_SHA256");
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  strcpy(v.name, "Noise_NN_25519_ChaChaPoly_SHA256");
  v.fail = true; /* a skip stays a skip, "fail" or not */
  strcpy(v.name, "Noise_NN_448_ChaChaPoly_SHA256");
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_SKIPPED);
  yz_vec_vector_clear(&v);

  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(yz_vec_generate(&v, "Noise_XXfallback_25519_ChaChaPoly_"
                                       "SHA256",
                                   seed, 4, 1, err, sizeof err),
                   YZ_E_UNSUPPORTED);
  assert_int_equal(yz_vec_generate(&v, "Noise_XX_448_ChaChaPoly_SHA256",
                                   seed, 4, 1, err, sizeof err),
                   YZ_E_UNSUPPORTED);
  assert_int_equal(yz_vec_generate(&v, "Noise_XY_25519_ChaChaPoly_SHA256",
                                   seed, 4, 1, err, sizeof err),
                   YZ_E_PROTOCOL_NAME);
  assert_non_null(strstr(err, "Noise_XY_25519_ChaChaPoly_SHA256"));
}

/* One-way patterns ignore a responder ephemeral (snow gives one). */
static void test_oneway_ignores_resp_ephemeral(void **state)
{
  (void)state;
  yz_vec_vector v;
  gen(&v, "Noise_X_25519_ChaChaPoly_SHA256", 2);
  memset(v.resp_ephemeral.data, 7, 32);
  v.resp_ephemeral.len = 32;
  v.resp_ephemeral.present = true;
  assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
  yz_vec_vector_clear(&v);
}

/* The noise-c fallback vectors: 6 pass; an altered IK message fails at 0,
 * an altered fallback or transport message fails where it was altered. */
static void test_fallback_file(void **state)
{
  (void)state;
  /* The shared vectors sit beside the project (../shared): a clone of the
   * project alone skips this test and says why; a vectors folder without
   * the file fails. */
  const char *dir = getenv("YZ_SHARED_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/vectors", dir ? dir : "");
  struct stat st;
  if (dir == NULL || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    printf("SKIP: no shared test vectors at '%s' (YZ_SHARED_DIR)\n", path);
    skip();
  }
  snprintf(path, sizeof path, "%s/vectors/noise-c-fallback.json", dir);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("%s: cannot open", path);
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  yz_vec_set *set;
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(yz_vec_parse(buf, n, &set, err, sizeof err), 0);
  int passed = 0;
  yz_vec_vector *good = NULL;
  for (size_t i = 0; i < set->n_vectors; i++) {
    if (replay(&set->vectors[i], NULL) == YZ_VEC_PASSED) {
      passed++;
      good = &set->vectors[i];
    }
  }
  assert_int_equal(passed, 6);
  assert_true(good->fallback);
  for (size_t m = 0; m < good->n_messages; m++) {
    int at;
    good->messages[m].ciphertext.data[good->messages[m].ciphertext.len - 1] ^=
        0x80;
    assert_int_equal(replay(good, &at), YZ_VEC_FAILED);
    assert_int_equal(at, (int)m);
    good->messages[m].ciphertext.data[good->messages[m].ciphertext.len - 1] ^=
        0x80;
  }
  assert_int_equal(replay(good, NULL), YZ_VEC_PASSED);
  yz_vec_set_free(set);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generated_replay),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_flip_every_byte),
      cmocka_unit_test(test_fail_flag),
      cmocka_unit_test(test_other_failures),
      cmocka_unit_test(test_skips_and_names),
      cmocka_unit_test(test_oneway_ignores_resp_ephemeral),
      cmocka_unit_test(test_fallback_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
