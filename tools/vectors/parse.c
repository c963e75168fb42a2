/*
 * Reading and writing Noise test-vector files (JSON, via jansson).
 *
 * The parser is bounded: the input, the number of vectors and messages and
 * every byte string have fixed limits (vectors.h), hex must be valid and of
 * even length, duplicate keys and trailing data are refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "vectors.h"

int yz__vec_error(char *err, size_t errcap, int code, const char *fmt, ...)
{
  if (errcap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* The context of one vector, for messages ("vector 12: init_static: ..."). */
struct ctx {
  char *err;
  size_t errcap;
  size_t index;
};

static int vfail(const struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int vfail(const struct ctx *c, int code, const char *fmt, ...)
{
  if (c->errcap > 0) {
    char msg[YZ_VEC_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errcap, "vector %zu: %s", c->index, msg);
  }
  return code;
}

/* A JSON string of even-length hex of at most max bytes. */
static int get_hex(const struct ctx *c, const char *field, json_t *j,
                   size_t max, const char **hex, size_t *hexlen)
{
  if (!json_is_string(j))
    return vfail(c, YZ_E_MALFORMED, "%s: expected a hex string", field);
  *hex = json_string_value(j);
  *hexlen = json_string_length(j);
  if (*hexlen % 2 != 0)
    return vfail(c, YZ_E_MALFORMED, "%s: odd-length hex", field);
  if (*hexlen / 2 > max)
    return vfail(c, YZ_E_TOO_LARGE, "%s: %zu bytes, more than %zu", field,
                 *hexlen / 2, max);
  return 0;
}

/* Hex of any even length up to max into a fresh buffer. */
static int get_bytes(const struct ctx *c, const char *field, json_t *j,
                     size_t max, yz_vec_bytes *out)
{
  /* Initialised: gcc -O3 cannot see that vfail() never returns 0, and
   * -Werror=maybe-uninitialized stopped the release build. */
  const char *hex = NULL;
  size_t hexlen = 0;
  int rc = get_hex(c, field, j, max, &hex, &hexlen);
  if (rc != 0)
    return rc;
  out->data = NULL;
  out->len = 0;
  if (hexlen == 0)
    return 0;
  uint8_t *buf = malloc(hexlen / 2);
  if (buf == NULL)
    return vfail(c, YZ_E_NOMEM, "%s: out of memory", field);
  size_t n;
  if (yz__hex_decode_var(buf, hexlen / 2, &n, hex, hexlen) != 0) {
    free(buf);
    return vfail(c, YZ_E_MALFORMED, "%s: invalid hex digit", field);
  }
  out->data = buf;
  out->len = n;
  return 0;
}

/* Hex of 1..max bytes into a fixed buffer (exact when exact != 0). */
static int get_fixed(const struct ctx *c, const char *field, json_t *j,
                     size_t max, size_t exact, uint8_t *out, size_t *outlen)
{
  /* Initialised: gcc -O3 cannot see that vfail() never returns 0, and
   * -Werror=maybe-uninitialized stopped the release build. */
  const char *hex = NULL;
  size_t hexlen = 0;
  int rc = get_hex(c, field, j, max, &hex, &hexlen);
  if (rc != 0)
    return rc;
  if (hexlen == 0)
    return vfail(c, YZ_E_MALFORMED, "%s: empty", field);
  if (exact != 0 && hexlen / 2 != exact)
    return vfail(c, YZ_E_MALFORMED, "%s: %zu bytes, expected %zu", field,
                 hexlen / 2, exact);
  if (yz__hex_decode_var(out, max, outlen, hex, hexlen) != 0)
    return vfail(c, YZ_E_MALFORMED, "%s: invalid hex digit", field);
  return 0;
}

static int get_key_max(const struct ctx *c, json_t *obj, const char *field,
                       yz_vec_key *k, size_t max)
{
  json_t *j = json_object_get(obj, field);
  k->present = false;
  k->len = 0;
  if (j == NULL)
    return 0;
  size_t n;
  int rc = get_fixed(c, field, j, max, 0, k->data, &n);
  if (rc != 0)
    return rc;
  k->len = (uint8_t)n;
  k->present = true;
  return 0;
}

static int get_key(const struct ctx *c, json_t *obj, const char *field,
                   yz_vec_key *k)
{
  return get_key_max(c, obj, field, k, YZ_VEC_MAX_KEY);
}

static int get_psks(const struct ctx *c, json_t *obj, const char *field,
                    uint8_t psks[][YZ_NOISE_PSK_LEN], size_t *n)
{
  json_t *j = json_object_get(obj, field);
  *n = 0;
  if (j == NULL)
    return 0;
  if (!json_is_array(j))
    return vfail(c, YZ_E_MALFORMED, "%s: expected an array", field);
  if (json_array_size(j) > YZ_VEC_MAX_PSKS)
    return vfail(c, YZ_E_TOO_LARGE, "%s: more than %d psks", field,
                 YZ_VEC_MAX_PSKS);
  for (size_t i = 0; i < json_array_size(j); i++) {
    size_t got;
    char f[48];
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    int rc = get_fixed(c, f, json_array_get(j, i), YZ_NOISE_PSK_LEN,
                       YZ_NOISE_PSK_LEN, psks[i], &got);
    if (rc != 0)
      return rc;
  }
  *n = json_array_size(j);
  return 0;
}

static int get_string(const struct ctx *c, json_t *j, const char *field,
                      char *out, size_t max)
{
  if (!json_is_string(j))
    return vfail(c, YZ_E_MALFORMED, "%s: expected a string", field);
  size_t n = json_string_length(j);
  if (n == 0)
    return vfail(c, YZ_E_MALFORMED, "%s: empty", field);
  if (n > max)
    return vfail(c, YZ_E_TOO_LARGE, "%s: longer than %zu bytes", field, max);
  const char *s = json_string_value(j);
  if (memchr(s, '\0', n) != NULL)
    return vfail(c, YZ_E_MALFORMED, "%s: contains NUL", field);
  memcpy(out, s, n);
  out[n] = '\0';
  return 0;
}

static int get_message(const struct ctx *c, size_t i, json_t *j,
                       yz_vec_message *m)
{
  char f[64];
  if (!json_is_object(j))
    return vfail(c, YZ_E_MALFORMED, "messages[%zu]: expected an object", i);
  const char *key;
  json_t *val;
  json_object_foreach(j, key, val)
  {
    if (strcmp(key, "payload") != 0 && strcmp(key, "ciphertext") != 0)
      return vfail(c, YZ_E_MALFORMED, "messages[%zu]: unknown field '%.40s'",
                   i, key);
  }
  json_t *p = json_object_get(j, "payload");
  json_t *ct = json_object_get(j, "ciphertext");
  if (p == NULL)
    return vfail(c, YZ_E_MALFORMED, "messages[%zu]: missing payload", i);
  if (ct == NULL)
    return vfail(c, YZ_E_MALFORMED, "messages[%zu]: missing ciphertext", i);
  snprintf(f, sizeof f, "messages[%zu].payload", i);
  int rc = get_bytes(c, f, p, YZ_VEC_MAX_BYTES, &m->payload);
  if (rc != 0)
    return rc;
  snprintf(f, sizeof f, "messages[%zu].ciphertext", i);
  return get_bytes(c, f, ct, YZ_VEC_MAX_BYTES, &m->ciphertext);
}

static int get_vector(const struct ctx *c, json_t *j, yz_vec_vector *v)
{
  int rc;
  if (!json_is_object(j))
    return vfail(c, YZ_E_MALFORMED, "expected an object");

  json_t *pn = json_object_get(j, "protocol_name");
  json_t *nn = json_object_get(j, "name");
  if (pn != NULL && nn != NULL)
    return vfail(c, YZ_E_DUPLICATE, "both protocol_name and name");
  if (pn == NULL && nn == NULL)
    return vfail(c, YZ_E_MALFORMED, "missing protocol_name");
  v->noise_c_name = (pn == NULL);
  rc = get_string(c, pn != NULL ? pn : nn, pn != NULL ? "protocol_name"
                                                      : "name",
                  v->name, YZ_VEC_MAX_NAME);
  if (rc != 0)
    return rc;

  static const char *const prologues[] = {"init_prologue", "resp_prologue"};
  yz_vec_bytes *pro[] = {&v->init_prologue, &v->resp_prologue};
  for (size_t i = 0; i < 2; i++) {
    json_t *p = json_object_get(j, prologues[i]);
    if (p == NULL)
      return vfail(c, YZ_E_MALFORMED, "missing %s", prologues[i]);
    if ((rc = get_bytes(c, prologues[i], p, YZ_VEC_MAX_BYTES, pro[i])) != 0)
      return rc;
  }

  if ((rc = get_key(c, j, "init_static", &v->init_static)) != 0 ||
      (rc = get_key(c, j, "resp_static", &v->resp_static)) != 0 ||
      (rc = get_key(c, j, "init_ephemeral", &v->init_ephemeral)) != 0 ||
      (rc = get_key(c, j, "resp_ephemeral", &v->resp_ephemeral)) != 0 ||
      (rc = get_key(c, j, "init_remote_static", &v->init_remote_static)) !=
          0 ||
      (rc = get_key(c, j, "resp_remote_static", &v->resp_remote_static)) !=
          0 ||
      (rc = get_key_max(c, j, "handshake_hash", &v->handshake_hash,
                        YZ_NOISE_MAX_HASH_LEN)) != 0)
    return rc;
  if ((rc = get_psks(c, j, "init_psks", v->init_psks, &v->n_init_psks)) !=
          0 ||
      (rc = get_psks(c, j, "resp_psks", v->resp_psks, &v->n_resp_psks)) != 0)
    return rc;

  /* The obsolete NoisePSK_ scheme's single psk: only its presence counts,
   * but it must still be well-formed. */
  static const char *const old[] = {"init_psk", "resp_psk"};
  for (size_t i = 0; i < 2; i++) {
    json_t *p = json_object_get(j, old[i]);
    if (p == NULL)
      continue;
    uint8_t tmp[YZ_VEC_MAX_KEY];
    size_t n;
    if ((rc = get_fixed(c, old[i], p, YZ_VEC_MAX_KEY, 0, tmp, &n)) != 0)
      return rc;
    v->obsolete_psk = true;
  }

  json_t *f = json_object_get(j, "fail");
  if (f != NULL) {
    if (!json_is_boolean(f))
      return vfail(c, YZ_E_MALFORMED, "fail: expected a boolean");
    v->fail = json_is_true(f);
  }
  /* fail_at (a yz extension, tests/vectors/README.md): the message that
   * must be rejected; it only makes sense in a negative vector. */
  v->fail_at = -1;
  f = json_object_get(j, "fail_at");
  if (f != NULL) {
    if (!json_is_integer(f) || json_integer_value(f) < 0 ||
        json_integer_value(f) >= YZ_VEC_MAX_MESSAGES)
      return vfail(c, YZ_E_MALFORMED,
                   "fail_at: expected a message index from 0 to %d",
                   YZ_VEC_MAX_MESSAGES - 1);
    if (!v->fail)
      return vfail(c, YZ_E_MALFORMED, "fail_at without \"fail\": true");
    v->fail_at = (long)json_integer_value(f);
  }
  f = json_object_get(j, "fallback");
  if (f != NULL) {
    if (!json_is_boolean(f))
      return vfail(c, YZ_E_MALFORMED, "fallback: expected a boolean");
    v->fallback = json_is_true(f);
  }
  f = json_object_get(j, "pattern");
  if (f != NULL &&
      (rc = get_string(c, f, "pattern", v->pattern, YZ_VEC_MAX_PATTERN)) != 0)
    return rc;
  if (v->fallback && v->pattern[0] == '\0')
    return vfail(c, YZ_E_MALFORMED, "fallback without pattern");

  json_t *ms = json_object_get(j, "messages");
  if (ms == NULL)
    return vfail(c, YZ_E_MALFORMED, "missing messages");
  if (!json_is_array(ms))
    return vfail(c, YZ_E_MALFORMED, "messages: expected an array");
  size_t n = json_array_size(ms);
  if (n > YZ_VEC_MAX_MESSAGES)
    return vfail(c, YZ_E_TOO_LARGE, "more than %d messages",
                 YZ_VEC_MAX_MESSAGES);
  if (n > 0) {
    v->messages = calloc(n, sizeof *v->messages);
    if (v->messages == NULL)
      return vfail(c, YZ_E_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    v->n_messages = i + 1; /* so a partial vector is freed whole */
    if ((rc = get_message(c, i, json_array_get(ms, i), &v->messages[i])) !=
        0)
      return rc;
  }
  return 0;
}

/*
 * An upper bound on the number of JSON values in the input: separators and
 * openers outside strings. jansson builds a tree of all of them, at some
 * tens of bytes each, so this bounds its memory before it starts.
 */
static size_t count_values(const uint8_t *in, size_t len)
{
  size_t n = 1;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    uint8_t ch = in[i];
    if (in_string) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == ',' || ch == '[' || ch == '{') {
      n++;
    }
  }
  return n;
}

int yz_vec_parse(const uint8_t *in, size_t len, yz_vec_set **out, char *err,
                 size_t errcap)
{
  *out = NULL;
  if (errcap > 0)
    err[0] = '\0';
  if (len > YZ_VEC_MAX_INPUT)
    return yz__vec_error(err, errcap, YZ_E_TOO_LARGE,
                "input of %zu bytes exceeds the %d-byte limit", len,
                YZ_VEC_MAX_INPUT);
  if (len == 0)
    return yz__vec_error(err, errcap, YZ_E_TRUNCATED, "empty input");
  if (count_values(in, len) > YZ_VEC_MAX_VALUES)
    return yz__vec_error(err, errcap, YZ_E_TOO_LARGE, "more than %d JSON values",
                YZ_VEC_MAX_VALUES);

  /* Duplicate keys are refused; trailing data after the value is refused
   * by jansson's default end-of-input check. */
  json_error_t jerr;
  json_t *root = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES,
                            &jerr);
  if (root == NULL) {
    int code = YZ_E_MALFORMED;
    if (json_error_code(&jerr) == json_error_duplicate_key)
      code = YZ_E_DUPLICATE;
    else if (json_error_code(&jerr) == json_error_end_of_input_expected)
      code = YZ_E_TRAILING;
    else if (json_error_code(&jerr) == json_error_premature_end_of_input)
      code = YZ_E_TRUNCATED;
    else if (json_error_code(&jerr) == json_error_out_of_memory)
      code = YZ_E_NOMEM;
    return yz__vec_error(err, errcap, code, "JSON error at line %d, column %d: %s",
                jerr.line, jerr.column, jerr.text);
  }

  int rc = 0;
  yz_vec_set *set = NULL;
  if (!json_is_object(root)) {
    rc = yz__vec_error(err, errcap, YZ_E_MALFORMED, "top level: expected an object");
    goto out;
  }
  json_t *vs = json_object_get(root, "vectors");
  if (vs == NULL) {
    rc = yz__vec_error(err, errcap, YZ_E_MALFORMED, "top level: missing \"vectors\"");
    goto out;
  }
  if (!json_is_array(vs)) {
    rc = yz__vec_error(err, errcap, YZ_E_MALFORMED,
              "vectors: expected an array");
    goto out;
  }
  size_t n = json_array_size(vs);
  if (n > YZ_VEC_MAX_VECTORS) {
    rc = yz__vec_error(err, errcap, YZ_E_TOO_LARGE, "more than %d vectors",
              YZ_VEC_MAX_VECTORS);
    goto out;
  }
  set = calloc(1, sizeof *set);
  if (set == NULL || (n > 0 && (set->vectors = calloc(
                                    n, sizeof *set->vectors)) == NULL)) {
    rc = yz__vec_error(err, errcap, YZ_E_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct ctx c = {err, errcap, i};
    set->n_vectors = i + 1;
    if ((rc = get_vector(&c, json_array_get(vs, i), &set->vectors[i])) != 0)
      goto out;
  }

out:
  json_decref(root);
  if (rc != 0) {
    yz_vec_set_free(set);
    return rc;
  }
  *out = set;
  return 0;
}

static void bytes_free(yz_vec_bytes *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

void yz_vec_vector_clear(yz_vec_vector *v)
{
  bytes_free(&v->init_prologue);
  bytes_free(&v->resp_prologue);
  for (size_t i = 0; i < v->n_messages; i++) {
    bytes_free(&v->messages[i].payload);
    bytes_free(&v->messages[i].ciphertext);
  }
  free(v->messages);
  memset(v, 0, sizeof *v);
}

void yz_vec_set_free(yz_vec_set *set)
{
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->n_vectors; i++)
    yz_vec_vector_clear(&set->vectors[i]);
  free(set->vectors);
  free(set);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

static json_t *hex_json(const uint8_t *p, size_t n)
{
  char *s = malloc(2 * n + 1);
  if (s == NULL)
    return NULL;
  yz__hex_encode(s, p, n);
  json_t *j = json_stringn(s, 2 * n);
  free(s);
  return j;
}

/* Set obj[key] = value, consuming value; false on failure. */
static bool put(json_t *obj, const char *key, json_t *value)
{
  return value != NULL && json_object_set_new(obj, key, value) == 0;
}

static bool put_key(json_t *obj, const char *key, const yz_vec_key *k)
{
  return !k->present || put(obj, key, hex_json(k->data, k->len));
}

static json_t *psks_json(const uint8_t psks[][YZ_NOISE_PSK_LEN], size_t n)
{
  json_t *a = json_array();
  if (a == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (json_array_append_new(a, hex_json(psks[i], YZ_NOISE_PSK_LEN)) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *vector_json(const yz_vec_vector *v)
{
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  bool ok =
      put(o, "protocol_name", json_string(v->name)) &&
      put(o, "init_prologue",
          hex_json(v->init_prologue.data, v->init_prologue.len)) &&
      put(o, "init_psks", psks_json(v->init_psks, v->n_init_psks)) &&
      put_key(o, "init_static", &v->init_static) &&
      put_key(o, "init_ephemeral", &v->init_ephemeral) &&
      put_key(o, "init_remote_static", &v->init_remote_static) &&
      put(o, "resp_prologue",
          hex_json(v->resp_prologue.data, v->resp_prologue.len)) &&
      put(o, "resp_psks", psks_json(v->resp_psks, v->n_resp_psks)) &&
      put_key(o, "resp_static", &v->resp_static) &&
      put_key(o, "resp_ephemeral", &v->resp_ephemeral) &&
      put_key(o, "resp_remote_static", &v->resp_remote_static) &&
      put_key(o, "handshake_hash", &v->handshake_hash) &&
      (!v->fail || put(o, "fail", json_true())) &&
      (v->fail_at < 0 || put(o, "fail_at", json_integer(v->fail_at)));
  json_t *ms = ok ? json_array() : NULL;
  bool msgs_ok = ms != NULL;
  for (size_t i = 0; msgs_ok && i < v->n_messages; i++) {
    json_t *m = json_object();
    msgs_ok = m != NULL &&
              put(m, "payload", hex_json(v->messages[i].payload.data,
                                         v->messages[i].payload.len)) &&
              put(m, "ciphertext",
                  hex_json(v->messages[i].ciphertext.data,
                           v->messages[i].ciphertext.len)) &&
              json_array_append(ms, m) == 0;
    json_decref(m);
  }
  if (!msgs_ok) {
    json_decref(ms);
    ms = NULL;
  }
  /* put() consumes ms even when it fails. */
  ok = ok && ms != NULL && put(o, "messages", ms);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

char *yz_vec_dump(const yz_vec_set *set)
{
  json_t *root = json_object();
  json_t *vs = json_array();
  char *s = NULL;
  if (root == NULL || vs == NULL)
    goto out;
  for (size_t i = 0; i < set->n_vectors; i++) {
    json_t *v = vector_json(&set->vectors[i]);
    if (v == NULL || json_array_append_new(vs, v) != 0)
      goto out;
  }
  if (json_object_set(root, "vectors", vs) != 0)
    goto out;
  s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
  json_decref(vs);
  json_decref(root);
  return s;
}
