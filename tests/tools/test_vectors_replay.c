/*
 * The replay and generation engine (tools/vectors/replay.c): generated
 * vectors replay; generation is deterministic for a seed; a change to any
 * ciphertext byte fails at that message and not earlier; a negative
 * vector passes only if the receiver rejects it at fail_at; the generator
 * makes negative vectors and vectors with sizes at their bounds; skips
 * carry the noise layer's reason; the noise-c fallback vectors replay and
 * fail where they are altered.
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

/*
 * A negative vector ("fail": true, "fail_at": k) passes only if the
 * receiver of message k rejects the vector's bytes there, and everything
 * before k holds. "Some failure somewhere" does not count: a vector whose
 * corruption was undone, whose corruption is at another message, or whose
 * other inputs are wrong must fail.
 */
static void test_fail_flag(void **state)
{
  (void)state;
  yz_vec_vector v;
  yz_vec_result r;
  gen(&v, "Noise_NK_25519_ChaChaPoly_SHA256", 2);
  /* No corruption at all. */
  v.fail = true;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "without fail_at"));
  v.fail_at = 1;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "accepted message 1"));

  /* Corrupted at message 1: passes with fail_at 1 only. */
  v.messages[1].ciphertext.data[3] ^= 0x10;
  assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
  for (long k = 0; k < (long)v.n_messages; k++) {
    if (k == 1)
      continue;
    v.fail_at = k;
    yz_vec_replay(&v, &r);
    if (r.outcome != YZ_VEC_FAILED)
      fail_msg("fail_at %ld passes with the corruption at 1", k);
  }
  v.fail_at = 1;
  /* The sides disagree on the prologue: the responder rejects message 0,
   * before fail_at. */
  v.resp_prologue.data[0] ^= 1;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_int_equal(r.message, 0);
  assert_non_null(strstr(r.detail, "failed before message 1"));
  v.resp_prologue.data[0] ^= 1;
  /* The corruption undone, but a wrong key elsewhere makes the writer's
   * output differ from the vector: still not a rejection at fail_at. */
  v.messages[1].ciphertext.data[3] ^= 0x10;
  v.resp_ephemeral.data[0] ^= 1;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  v.resp_ephemeral.data[0] ^= 1;
  yz_vec_vector_clear(&v);

  /* The first message of XX has no tag: a flipped bit there is accepted,
   * although the writer's output differs from the vector. */
  gen(&v, "Noise_XX_25519_ChaChaPoly_BLAKE2b", 1);
  v.messages[0].ciphertext.data[0] ^= 1;
  v.fail = true;
  v.fail_at = 0;
  yz_vec_replay(&v, &r);
  assert_int_equal(r.outcome, YZ_VEC_FAILED);
  assert_non_null(strstr(r.detail, "accepted message 0"));
  /* The non-negative form fails where the bytes differ. */
  v.fail = false;
  v.fail_at = -1;
  int at;
  assert_int_equal(replay(&v, &at), YZ_VEC_FAILED);
  assert_int_equal(at, 0);
  yz_vec_vector_clear(&v);
}

/* Negative vectors from the generator: every authenticated message of a
 * pattern can be the one rejected; the generator refuses the others. */
static void test_generate_negative(void **state)
{
  (void)state;
  char err[YZ_VEC_ERR_LEN];
  yz_vec_vector v;
  size_t made = 0, refused = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    for (long k = 0; k < 6; k++) {
      int rc = yz_vec_generate_ex(&v, names[i], seed, sizeof seed - 1, 2,
                                  YZ_VEC_SHAPE_DEFAULT, k, err, sizeof err);
      if (rc != 0) {
        refused++;
        continue;
      }
      made++;
      assert_true(v.fail);
      assert_int_equal(v.fail_at, k);
      assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
      /* Undo the corruption: compare with the positive vector. */
      yz_vec_vector p;
      gen(&p, names[i], 2);
      assert_int_equal(p.n_messages, v.n_messages);
      yz_vec_bytes *ct = &v.messages[k].ciphertext;
      assert_int_equal(ct->len, p.messages[k].ciphertext.len);
      assert_memory_not_equal(ct->data, p.messages[k].ciphertext.data,
                              ct->len);
      memcpy(ct->data, p.messages[k].ciphertext.data, ct->len);
      if (replay(&v, NULL) != YZ_VEC_FAILED)
        fail_msg("%s fail_at %ld passes with the corruption undone", names[i],
                 k);
      yz_vec_vector_clear(&p);
      yz_vec_vector_clear(&v);
    }
  }
  assert_true(made > 40);
  assert_true(refused > 0); /* XX message 0, N's and K's last ones, ... */
}

/* The shapes: prologue and payload sizes at their bounds. */
static void test_generate_shapes(void **state)
{
  (void)state;
  char err[YZ_VEC_ERR_LEN];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    for (int sh = 0; sh < YZ_VEC_SHAPE_COUNT; sh++) {
      yz_vec_vector v;
      int rc = yz_vec_generate_ex(&v, names[i], seed, sizeof seed - 1, 2,
                                  (yz_vec_shape)sh, -1, err, sizeof err);
      if (rc != 0)
        fail_msg("%s %s: %s", names[i], yz_vec_shape_name(sh), err);
      size_t pro = sh == YZ_VEC_SHAPE_EMPTY_PROLOGUE  ? 0
                   : sh == YZ_VEC_SHAPE_LONG_PROLOGUE ? YZ_VEC_LONG_PROLOGUE
                                                      : 16;
      assert_int_equal(v.init_prologue.len, pro);
      assert_int_equal(v.resp_prologue.len, pro);
      size_t hs = v.n_messages - 2;
      for (size_t m = 0; m < v.n_messages; m++) {
        size_t ct = v.messages[m].ciphertext.len;
        size_t pl = v.messages[m].payload.len;
        if (sh == YZ_VEC_SHAPE_MAX_HANDSHAKE && m < hs)
          assert_int_equal(ct, 65535);
        else if (sh == YZ_VEC_SHAPE_MAX_TRANSPORT && m >= hs)
          assert_int_equal(pl, 65519);
        else
          assert_true(pl <= 48);
      }
      assert_int_equal(replay(&v, NULL), YZ_VEC_PASSED);
      yz_vec_vector_clear(&v);
    }
  }
  yz_vec_vector v;
  assert_int_not_equal(yz_vec_generate_ex(&v, names[0], seed, 4, 2,
                                          YZ_VEC_SHAPE_COUNT, -1, err,
                                          sizeof err),
                       0);
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
      cmocka_unit_test(test_generate_negative),
      cmocka_unit_test(test_generate_shapes),
      cmocka_unit_test(test_other_failures),
      cmocka_unit_test(test_skips_and_names),
      cmocka_unit_test(test_oneway_ignores_resp_ephemeral),
      cmocka_unit_test(test_fallback_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
