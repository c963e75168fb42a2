/*
 * The test-vector parser (tools/vectors/parse.c): well-formed files in
 * both name forms, and every kind of bad input refused with its code and a
 * message that names the place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"

static int parse(const char *json, yz_vec_set **set, char *err, size_t cap)
{
  return yz_vec_parse((const uint8_t *)json, strlen(json), set, err, cap);
}

#define K32 "0101010101010101010101010101010101010101010101010101010101010101"

static void test_protocol_name_form(void **state)
{
  (void)state;
  static const char *json =
      "{\"vectors\": [{\"protocol_name\": \"Noise_NNpsk0_25519_ChaChaPoly_"
      "SHA256\", \"init_prologue\": \"4a6f\", \"resp_prologue\": \"\","
      "\"init_psks\": [\"" K32 "\"], \"resp_psks\": [\"" K32 "\"],"
      "\"init_ephemeral\": \"" K32 "\", \"handshake_hash\": \"" K32 "\","
      "\"messages\": [{\"payload\": \"\", \"ciphertext\": \"00ff\"},"
      "{\"payload\": \"ABcd\", \"ciphertext\": \"01\"}]}]}";
  yz_vec_set *set;
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(parse(json, &set, err, sizeof err), 0);
  assert_int_equal(set->n_vectors, 1);
  const yz_vec_vector *v = &set->vectors[0];
  assert_string_equal(v->name, "Noise_NNpsk0_25519_ChaChaPoly_SHA256");
  assert_false(v->noise_c_name);
  assert_int_equal(v->init_prologue.len, 2);
  assert_int_equal(v->init_prologue.data[0], 0x4a);
  assert_int_equal(v->resp_prologue.len, 0);
  assert_int_equal(v->n_init_psks, 1);
  assert_int_equal(v->init_psks[0][31], 1);
  assert_true(v->init_ephemeral.present);
  assert_int_equal(v->init_ephemeral.len, 32);
  assert_false(v->init_static.present);
  assert_true(v->handshake_hash.present);
  assert_false(v->fail);
  assert_int_equal(v->n_messages, 2);
  assert_int_equal(v->messages[0].payload.len, 0);
  assert_int_equal(v->messages[0].ciphertext.len, 2);
  assert_int_equal(v->messages[0].ciphertext.data[1], 0xff);
  assert_int_equal(v->messages[1].payload.data[0], 0xab);
  yz_vec_set_free(set);
}

static void test_noise_c_form(void **state)
{
  (void)state;
  static const char *json =
      "{\"vectors\": [{\"name\": \"NoisePSK_NN_25519_ChaChaPoly_SHA256\","
      "\"pattern\": \"NN\", \"dh\": \"25519\", \"fallback\": true,"
      "\"init_prologue\": \"\", \"resp_prologue\": \"\","
      "\"init_psk\": \"" K32 "\", \"resp_psk\": \"" K32 "\","
      "\"fail\": true, \"messages\": []}]}";
  yz_vec_set *set;
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(parse(json, &set, err, sizeof err), 0);
  const yz_vec_vector *v = &set->vectors[0];
  assert_true(v->noise_c_name);
  assert_true(v->obsolete_psk);
  assert_true(v->fallback);
  assert_true(v->fail);
  assert_int_equal(v->fail_at, -1);
  assert_string_equal(v->pattern, "NN");
  assert_int_equal(v->n_messages, 0);
  yz_vec_set_free(set);
}

/* Table of bad inputs: the code, and a piece of the message. */
struct bad {
  const char *json;
  int code;
  const char *msg;
};

#define V(body)                                                               \
  "{\"vectors\": [{\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_SHA256\","  \
  "\"init_prologue\": \"\", \"resp_prologue\": \"\"" body "}]}"
#define MSGS ", \"messages\": []"

static const struct bad bad[] = {
    {"", YZ_E_TRUNCATED, "empty"},
    {"{\"vectors\": [", YZ_E_TRUNCATED, "JSON error"},
    {"{\"vectors\": [}", YZ_E_MALFORMED, "JSON error"},
    {"{\"vectors\": []} x", YZ_E_TRAILING, "JSON error"},
    {"{\"vectors\": []}{}", YZ_E_TRAILING, "JSON error"},
    {"{\"vectors\": [], \"vectors\": []}", YZ_E_DUPLICATE, "duplicate"},
    {"[]", YZ_E_MALFORMED, "expected an object"},
    {"{}", YZ_E_MALFORMED, "missing \"vectors\""},
    {"{\"vectors\": {}}", YZ_E_MALFORMED, "expected an array"},
    {"{\"vectors\": [1]}", YZ_E_MALFORMED, "vector 0: expected an object"},
    {"{\"vectors\": [{\"messages\": []}]}", YZ_E_MALFORMED,
     "missing protocol_name"},
    {"{\"vectors\": [{\"protocol_name\": 5, \"messages\": []}]}",
     YZ_E_MALFORMED, "protocol_name: expected a string"},
    {"{\"vectors\": [{\"protocol_name\": \"\", \"messages\": []}]}",
     YZ_E_MALFORMED, "protocol_name: empty"},
    {"{\"vectors\": [{\"protocol_name\": \"a\", \"name\": \"b\"}]}",
     YZ_E_DUPLICATE, "both protocol_name and name"},
    {"{\"vectors\": [{\"protocol_name\": \"N\", \"resp_prologue\": \"\","
     "\"messages\": []}]}",
     YZ_E_MALFORMED, "missing init_prologue"},
    {V(""), YZ_E_MALFORMED, "missing messages"},
    {V(", \"messages\": {}"), YZ_E_MALFORMED, "messages: expected an array"},
    {V(", \"messages\": [5]"), YZ_E_MALFORMED,
     "messages[0]: expected an object"},
    {V(", \"messages\": [{\"payload\": \"\"}]"), YZ_E_MALFORMED,
     "messages[0]: missing ciphertext"},
    {V(", \"messages\": [{\"ciphertext\": \"\"}]"), YZ_E_MALFORMED,
     "messages[0]: missing payload"},
    {V(", \"messages\": [{\"payload\": \"\", \"ciphertext\": \"\", "
       "\"x\": 1}]"),
     YZ_E_MALFORMED, "unknown field 'x'"},
    {V(", \"messages\": [{\"payload\": \"abc\", \"ciphertext\": \"\"}]"),
     YZ_E_MALFORMED, "messages[0].payload: odd-length hex"},
    {V(", \"messages\": [{\"payload\": \"\", \"ciphertext\": \"zz\"}]"),
     YZ_E_MALFORMED, "messages[0].ciphertext: invalid hex digit"},
    {V(", \"messages\": [{\"payload\": 12, \"ciphertext\": \"\"}]"),
     YZ_E_MALFORMED, "messages[0].payload: expected a hex string"},
    {V(", \"init_static\": \"0\"" MSGS), YZ_E_MALFORMED,
     "init_static: odd-length hex"},
    {V(", \"init_static\": \"\"" MSGS), YZ_E_MALFORMED, "init_static: empty"},
    {V(", \"resp_static\": \"0g\"" MSGS), YZ_E_MALFORMED,
     "resp_static: invalid hex digit"},
    {V(", \"resp_static\": \" 00\"" MSGS), YZ_E_MALFORMED,
     "resp_static: odd-length hex"},
    {V(", \"init_ephemeral\": [\"00\"]" MSGS), YZ_E_MALFORMED,
     "init_ephemeral: expected a hex string"},
    {V(", \"handshake_hash\": \"" K32 K32 "00\"" MSGS), YZ_E_TOO_LARGE,
     "handshake_hash: 65 bytes"},
    {V(", \"init_psks\": \"" K32 "\"" MSGS), YZ_E_MALFORMED,
     "init_psks: expected an array"},
    {V(", \"init_psks\": [\"0101\"]" MSGS), YZ_E_MALFORMED,
     "init_psks[0]: 2 bytes, expected 32"},
    {V(", \"resp_psks\": [\"" K32 "\", 7]" MSGS), YZ_E_MALFORMED,
     "resp_psks[1]: expected a hex string"},
    {V(", \"init_psks\": [\"" K32 "\",\"" K32 "\",\"" K32 "\",\"" K32
       "\",\"" K32 "\",\"" K32 "\",\"" K32 "\",\"" K32 "\",\"" K32 "\"]" MSGS),
     YZ_E_TOO_LARGE, "more than 8 psks"},
    {V(", \"init_psk\": \"xy\"" MSGS), YZ_E_MALFORMED,
     "init_psk: invalid hex digit"},
    {V(", \"fail\": \"yes\"" MSGS), YZ_E_MALFORMED,
     "fail: expected a boolean"},
    {V(", \"fail_at\": 1" MSGS), YZ_E_MALFORMED,
     "fail_at without \"fail\": true"},
    {V(", \"fail\": true, \"fail_at\": -1" MSGS), YZ_E_MALFORMED,
     "fail_at: expected a message index"},
    {V(", \"fail\": true, \"fail_at\": \"1\"" MSGS), YZ_E_MALFORMED,
     "fail_at: expected a message index"},
    {V(", \"fail\": true, \"fail_at\": 1024" MSGS), YZ_E_MALFORMED,
     "fail_at: expected a message index"},
    {V(", \"fallback\": 1" MSGS), YZ_E_MALFORMED,
     "fallback: expected a boolean"},
    {V(", \"fallback\": true" MSGS), YZ_E_MALFORMED,
     "fallback without pattern"},
    {V(", \"pattern\": 3" MSGS), YZ_E_MALFORMED, "pattern: expected a string"},
    {V(", \"init_static\": \"00\", \"init_static\": \"00\"" MSGS),
     YZ_E_DUPLICATE, "duplicate"},
    {"{\"vectors\": [{\"protocol_name\": \"a\\u0000b\"}]}", YZ_E_MALFORMED,
     "JSON error"},
};

static void test_bad_inputs(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    yz_vec_set *set = (yz_vec_set *)&set; /* must be reset to NULL */
    char err[YZ_VEC_ERR_LEN];
    int rc = parse(bad[i].json, &set, err, sizeof err);
    if (rc != bad[i].code || strstr(err, bad[i].msg) == NULL)
      fail_msg("case %zu (%s): got %s \"%s\", want %s \"%s\"", i,
               bad[i].json, yz_err_name(rc), err, yz_err_name(bad[i].code),
               bad[i].msg);
    assert_null(set);
  }
}

/* The error buffer may be absent. */
static void test_no_error_buffer(void **state)
{
  (void)state;
  yz_vec_set *set;
  assert_int_equal(yz_vec_parse((const uint8_t *)"{", 1, &set, NULL, 0),
                   YZ_E_TRUNCATED);
  assert_null(set);
}

/* Long names and oversized byte strings are refused, not cut. */
static void test_bounds(void **state)
{
  (void)state;
  char *json = malloc(300000);
  assert_non_null(json);
  char name[200];
  memset(name, 'A', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  snprintf(json, 300000,
           "{\"vectors\": [{\"protocol_name\": \"%s\", \"messages\": []}]}",
           name);
  yz_vec_set *set;
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(parse(json, &set, err, sizeof err), YZ_E_TOO_LARGE);
  assert_non_null(strstr(err, "protocol_name: longer than 127"));

  /* A 65536-byte payload: one byte over the bound. */
  int n = snprintf(json, 300000,
                   "{\"vectors\": [{\"protocol_name\": \"Noise_NN_25519_"
                   "ChaChaPoly_SHA256\", \"init_prologue\": \"\", "
                   "\"resp_prologue\": \"\", \"messages\": [{\"ciphertext\": "
                   "\"\", \"payload\": \"");
  memset(json + n, 'a', 2 * 65536);
  strcpy(json + n + 2 * 65536, "\"}]}]}");
  assert_int_equal(parse(json, &set, err, sizeof err), YZ_E_TOO_LARGE);
  assert_non_null(strstr(err, "messages[0].payload: 65536 bytes"));
  /* ... and 65535 is accepted. */
  memmove(json + n + 2 * 65535, json + n + 2 * 65536,
          strlen(json + n + 2 * 65536) + 1);
  assert_int_equal(parse(json, &set, err, sizeof err), 0);
  assert_int_equal(set->vectors[0].messages[0].payload.len, 65535);
  yz_vec_set_free(set);
  free(json);

  /* Too many vectors, too many JSON values: refused before any work. */
  size_t cap = 4u << 20;
  json = malloc(cap);
  assert_non_null(json);
  size_t k = (size_t)snprintf(json, cap, "{\"vectors\": [");
  for (int i = 0; i <= YZ_VEC_MAX_VECTORS; i++)
    k += (size_t)snprintf(json + k, cap - k, "%s{}", i ? "," : "");
  snprintf(json + k, cap - k, "]}");
  assert_int_equal(parse(json, &set, err, sizeof err), YZ_E_TOO_LARGE);
  assert_non_null(strstr(err, "more than 10000 vectors"));
  k = (size_t)snprintf(json, cap, "{\"vectors\": [], \"x\": [");
  for (int i = 0; i <= YZ_VEC_MAX_VALUES; i++)
    k += (size_t)snprintf(json + k, cap - k, "%s0", i ? "," : "");
  snprintf(json + k, cap - k, "]}");
  assert_int_equal(parse(json, &set, err, sizeof err), YZ_E_TOO_LARGE);
  assert_non_null(strstr(err, "JSON values"));
  /* Commas inside strings are not values. */
  k = (size_t)snprintf(json, cap, "{\"vectors\": [], \"x\": \"\\\"");
  memset(json + k, ',', YZ_VEC_MAX_VALUES + 10);
  k += YZ_VEC_MAX_VALUES + 10;
  snprintf(json + k, cap - k, "\"}");
  assert_int_equal(parse(json, &set, err, sizeof err), 0);
  yz_vec_set_free(set);
  free(json);

  /* The input bound is checked before anything is read. */
  assert_int_equal(yz_vec_parse((const uint8_t *)"", YZ_VEC_MAX_INPUT + 1u,
                                &set, err, sizeof err),
                   YZ_E_TOO_LARGE);
}

/* What yz_vec_dump writes, yz_vec_parse reads back the same. */
static void test_dump_round_trip(void **state)
{
  (void)state;
  static const char *json =
      "{\"vectors\": [{\"protocol_name\": "
      "\"Noise_NK_25519_AESGCM_BLAKE2b\","
      "\"init_prologue\": \"00\", \"resp_prologue\": "
      "\"01\", \"init_remote_static\": \"" K32 "\","
      "\"resp_static\": \"" K32 "\", \"fail\": true,"
      "\"fail_at\": 0, \"messages\": [{\"payload\": \"aa\", "
      "\"ciphertext\": \"bbcc\"}]}]}";
  yz_vec_set *a, *b;
  char err[YZ_VEC_ERR_LEN];
  assert_int_equal(parse(json, &a, err, sizeof err), 0);
  char *out = yz_vec_dump(a);
  assert_non_null(out);
  assert_non_null(strstr(out, "\"protocol_name\": "));
  assert_null(strstr(out, "init_static"));
  assert_int_equal(parse(out, &b, err, sizeof err), 0);
  const yz_vec_vector *x = &a->vectors[0], *y = &b->vectors[0];
  assert_string_equal(x->name, y->name);
  assert_int_equal(y->resp_prologue.data[0], 1);
  assert_memory_equal(x->resp_static.data, y->resp_static.data, 32);
  assert_true(y->init_remote_static.present);
  assert_false(y->resp_remote_static.present);
  assert_true(y->fail);
  assert_int_equal(y->fail_at, 0);
  assert_int_equal(y->n_messages, 1);
  assert_int_equal(y->messages[0].ciphertext.len, 2);
  assert_int_equal(y->messages[0].ciphertext.data[1], 0xcc);
  free(out);
  yz_vec_set_free(a);
  yz_vec_set_free(b);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_protocol_name_form),
      cmocka_unit_test(test_noise_c_form),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_no_error_buffer),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_dump_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
