/*
 * DHT record vectors (docs/protocol.md "DHT records"): generates
 * tests/vectors/yz-dht-record-v1.json (--generate, deterministic: every key
 * comes from a fixed seed) and checks a file against the record codec
 * (yz_dhtrec_vectors FILE): the file is exactly what --generate prints, and
 * each record vector's CBOR, decoded and checked under its key at its time
 * with its limits, gives its status; each replacement vector its status and
 * action.
 *
 * tests/vectors/check_yz_dhtrec_vectors.py checks the same file with
 * implementations independent of yz (cbor2, PyNaCl, hashlib).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "yz/dhtrec.h"

#define VEC_PROG "yz_dhtrec_vectors"
#include "vectors.h"

#define NOW 1800000000u

/* Identity i: its seed is SHA-256("yz dht record vector identity" || i). */
static void identity(yz_identity *id, uint8_t seed[32], uint8_t i)
{
  static const char label[] = "yz dht record vector identity";
  uint8_t in[sizeof label];
  memcpy(in, label, sizeof label - 1);
  in[sizeof label - 1] = i;
  crypto_hash_sha256(seed, in, sizeof in);
  if (yz_identity_from_seed(id, seed) != 0)
    die("identity");
}

enum mangle { M_NONE, M_OTHER_KEY, M_FLIP_SIG, M_RAISE_SEQ };

struct vec {
  const char *name, *description;
  int kind;
  uint8_t signer; /* identity index, mutable only */
  const char *value;
  const char *salt;
  uint64_t seq, expiry;
  uint64_t now;
  size_t value_max;      /* 0: the default */
  uint64_t expiry_ahead; /* 0: the default */
  enum mangle mangle;
  const char *want;
};

#define IM YZ_DHTREC_IMMUTABLE
#define MU YZ_DHTREC_MUTABLE
#define H48 (48u * 3600u)

static const struct vec vecs[] = {
    {"immutable", "an immutable record", IM, 0, "hello, dht", "", 0,
     NOW + 3600, NOW, 0, 0, M_NONE, "OK"},
    {"mutable_no_salt", "a mutable record without salt", MU, 1, "v1", "", 1,
     NOW + 3600, NOW, 0, 0, M_NONE, "OK"},
    {"mutable_salt", "a mutable record with a salt, a large seq", MU, 1,
     "{\"name\":\"profile\"}", "profile", 0x0102030405060708u, NOW + 7200, NOW,
     0, 0, M_NONE, "OK"},
    {"mutable_salt_64", "64 bytes of salt, expiry exactly 48 h ahead", MU, 2,
     "x", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     7, NOW + H48, NOW, 0, 0, M_NONE, "OK"},
    {"immutable_wrong_key", "put under the key of another value", IM, 0,
     "hello, dht", "", 0, NOW + 3600, NOW, 0, 0, M_OTHER_KEY, "WRONG_KEY"},
    {"mutable_wrong_key", "put under the key of another salt", MU, 1, "v1", "",
     1, NOW + 3600, NOW, 0, 0, M_OTHER_KEY, "WRONG_KEY"},
    {"mutable_bad_signature", "the signature's first byte flipped", MU, 1,
     "v1", "", 1, NOW + 3600, NOW, 0, 0, M_FLIP_SIG, "BAD_SIGNATURE"},
    {"mutable_tampered_seq", "the seq raised after signing", MU, 1, "v1", "",
     1, NOW + 3600, NOW, 0, 0, M_RAISE_SEQ, "BAD_SIGNATURE"},
    {"mutable_expired", "now equals the expiry", MU, 1, "v1", "", 1, NOW, NOW,
     0, 0, M_NONE, "EXPIRED"},
    {"immutable_too_far", "expiry 48 h and 1 s ahead", IM, 0, "hello, dht", "",
     0, NOW + H48 + 1, NOW, 0, 0, M_NONE, "EXPIRY_TOO_FAR"},
    {"mutable_too_far_configured", "expiry 61 s ahead, the store allows 60",
     MU, 1, "v1", "", 1, NOW + 61, NOW, 0, 60, M_NONE, "EXPIRY_TOO_FAR"},
    {"mutable_too_large", "a 17-byte value, the store allows 16", MU, 1,
     "seventeen bytes!!", "", 1, NOW + 3600, NOW, 16, 0, M_NONE, "TOO_LARGE"},
    /* for the replacement vectors */
    {"seq1_a", "seq 1, value a", MU, 3, "a", "r", 1, NOW + 3600, NOW, 0, 0,
     M_NONE, "OK"},
    {"seq1_b", "seq 1, value b", MU, 3, "b", "r", 1, NOW + 3600, NOW, 0, 0,
     M_NONE, "OK"},
    {"seq1_a_later", "seq 1, value a, a later expiry", MU, 3, "a", "r", 1,
     NOW + 7200, NOW, 0, 0, M_NONE, "OK"},
    {"seq2_c", "seq 2, value c", MU, 3, "c", "r", 2, NOW + 3600, NOW, 0, 0,
     M_NONE, "OK"},
    {"immutable_later", "the immutable record with a later expiry", IM, 0,
     "hello, dht", "", 0, NOW + 7200, NOW, 0, 0, M_NONE, "OK"},
};

#define NVEC (sizeof vecs / sizeof vecs[0])

struct rvec {
  const char *name, *cand, *cur; /* cur NULL: nothing stored */
  int64_t cas;                   /* -1: none */
  const char *want, *action;     /* action NULL on refusal */
};

static const struct rvec rvecs[] = {
    {"store_new", "seq1_a", NULL, -1, "OK", "STORE"},
    {"higher_seq", "seq2_c", "seq1_a", -1, "OK", "REPLACE"},
    {"lower_seq", "seq1_a", "seq2_c", -1, "SEQ_TOO_LOW", NULL},
    {"same_seq_other_value", "seq1_b", "seq1_a", -1, "SEQ_CONFLICT", NULL},
    {"same_seq_same_value_later", "seq1_a_later", "seq1_a", -1, "OK",
     "REFRESH"},
    {"same_seq_same_value_earlier", "seq1_a", "seq1_a_later", -1, "OK",
     "KEEP"},
    {"cas_match", "seq2_c", "seq1_a", 1, "OK", "REPLACE"},
    {"cas_mismatch", "seq2_c", "seq1_a", 0, "CAS_MISMATCH", NULL},
    {"cas_nothing_stored", "seq2_c", NULL, 5, "OK", "STORE"},
    {"other_key", "seq1_a", "mutable_no_salt", -1, "WRONG_KEY", NULL},
    {"immutable_refresh", "immutable_later", "immutable", -1, "OK", "REFRESH"},
};

static const char *action_name(yz_dhtrec_action a)
{
  switch (a) {
  case YZ_DHTREC_STORE:
    return "STORE";
  case YZ_DHTREC_REPLACE:
    return "REPLACE";
  case YZ_DHTREC_REFRESH:
    return "REFRESH";
  case YZ_DHTREC_KEEP:
    return "KEEP";
  }
  return "?";
}

/* Build vector v: the record, its encoding, the key it is put under. */
static void build(const struct vec *v, yz_dhtrec *r, uint8_t *enc, size_t *n,
                  uint8_t key[32], yz_identity *id, uint8_t seed[32])
{
  memset(r, 0, sizeof *r);
  r->kind = (uint8_t)v->kind;
  r->value = (const uint8_t *)v->value;
  r->value_len = strlen(v->value);
  r->expiry = v->expiry;
  if (v->kind == MU) {
    identity(id, seed, v->signer);
    r->seq = v->seq;
    r->salt_len = (uint8_t)strlen(v->salt);
    memcpy(r->salt, v->salt, r->salt_len);
    if (yz_dhtrec_sign(r, id, NULL) != 0)
      die("sign");
  } else if (yz_dhtrec_derive_key(r) != 0) {
    die("key");
  }
  memcpy(key, r->key, 32);
  if (v->mangle == M_OTHER_KEY) {
    if (v->kind == IM)
      yz_dhtrec_immutable_key(key, (const uint8_t *)"another value", 13);
    else if (yz_dhtrec_mutable_key(key, r->public_key,
                                   (const uint8_t *)"other", 5) != 0)
      die("key");
  }
  if (v->mangle == M_FLIP_SIG)
    r->signature[0] ^= 1;
  if (v->mangle == M_RAISE_SEQ)
    r->seq++;
  if (yz_dhtrec_encode(r, enc, 512, n) != 0)
    die("encode");
}

static yz_dhtrec_status run(const struct vec *v, const uint8_t *enc, size_t n,
                            const uint8_t key[32], yz_dhtrec *d)
{
  int rc = yz_dhtrec_decode(d, enc, n, v->value_max, NULL);
  if (rc)
    return yz_dhtrec_decode_status(rc);
  yz_dhtrec_limits lim = {.value_max = v->value_max,
                          .expiry_ahead = v->expiry_ahead};
  return yz_dhtrec_check(d, key, v->now, &lim, NULL);
}

static size_t find(const char *name)
{
  for (size_t i = 0; i < NVEC; i++)
    if (strcmp(vecs[i].name, name) == 0)
      return i;
  die("no such record vector");
}

static json_t *generate(void)
{
  static uint8_t encs[NVEC][512];
  static size_t lens[NVEC];
  static yz_dhtrec recs[NVEC];
  json_t *records = json_array(), *ids = json_array();
  for (uint8_t i = 1; i <= 3; i++) {
    yz_identity id;
    uint8_t seed[32];
    identity(&id, seed, i);
    json_array_append_new(
        ids, json_pack("{s:i, s:o, s:o}", "index", i, "seed", hex(seed, 32),
                       "public_key", hex(yz_identity_public_key(&id), 32)));
    yz_identity_clear(&id);
  }
  for (size_t i = 0; i < NVEC; i++) {
    const struct vec *v = &vecs[i];
    yz_identity id;
    uint8_t seed[32], key[32];
    yz_dhtrec r;
    build(v, &r, encs[i], &lens[i], key, &id, seed);
    yz_dhtrec_status st = run(v, encs[i], lens[i], key, &recs[i]);
    if (strcmp(yz_dhtrec_status_name(st), v->want) != 0) {
      fprintf(stderr, "%s: %s\n", v->name, yz_dhtrec_status_name(st));
      die("a vector's status is not the intended one");
    }
    if (st != YZ_DHTREC_OK &&
        yz_dhtrec_decode(&recs[i], encs[i], lens[i],
                         YZ_DHTREC_VALUE_MAX_DEFAULT, NULL) != 0)
      die("decode");
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:I, s:I}", "name", v->name,
        "description", v->description, "kind",
        v->kind == IM ? "immutable" : "mutable", "value",
        hex(r.value, r.value_len), "expiry", (json_int_t)r.expiry, "key",
        hex(key, 32), "derived_key", hex(r.key, 32), "cbor",
        hex(encs[i], lens[i]), "now", (json_int_t)v->now, "value_max",
        (json_int_t)(v->value_max ? v->value_max
                                  : YZ_DHTREC_VALUE_MAX_DEFAULT));
    json_object_set_new(
        o, "expiry_ahead",
        json_integer((json_int_t)(v->expiry_ahead
                                      ? v->expiry_ahead
                                      : YZ_DHTREC_EXPIRY_AHEAD_DEFAULT)));
    if (v->kind == MU) {
      uint8_t sb[YZ_DHTREC_SIGNED_MAX_LEN];
      size_t sn;
      if (yz_dhtrec_signed_bytes(&r, sb, sizeof sb, &sn) != 0)
        die("signed bytes");
      json_object_set_new(o, "signer", json_integer(v->signer));
      json_object_set_new(o, "public_key", hex(r.public_key, 32));
      json_object_set_new(o, "salt", hex(r.salt, r.salt_len));
      json_object_set_new(o, "seq", json_integer((json_int_t)r.seq));
      json_object_set_new(o, "signed_bytes", hex(sb, sn));
      json_object_set_new(o, "signature", hex(r.signature, 64));
      json_object_set_new(
          o, "signature_valid",
          json_boolean(v->mangle != M_FLIP_SIG && v->mangle != M_RAISE_SEQ));
    }
    json_object_set_new(o, "status", json_string(v->want));
    json_array_append_new(records, o);
    if (v->kind == MU)
      yz_identity_clear(&id);
  }
  json_t *repl = json_array();
  for (size_t i = 0; i < sizeof rvecs / sizeof rvecs[0]; i++) {
    const struct rvec *x = &rvecs[i];
    yz_dhtrec *cand = &recs[find(x->cand)];
    yz_dhtrec *cur = x->cur ? &recs[find(x->cur)] : NULL;
    uint64_t cas = (uint64_t)x->cas;
    yz_dhtrec_action act = 0;
    yz_dhtrec_status st =
        yz_dhtrec_replace(cand, cur, x->cas >= 0 ? &cas : NULL, &act, NULL);
    if (strcmp(yz_dhtrec_status_name(st), x->want) != 0 ||
        (st == YZ_DHTREC_OK && strcmp(action_name(act), x->action) != 0))
      die("a replacement vector's result is not the intended one");
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:o, s:s, s:o}", "name", x->name, "candidate",
        x->cand, "current", x->cur ? json_string(x->cur) : json_null(), "cas",
        x->cas >= 0 ? json_integer(x->cas) : json_null(), "status", x->want,
        "action", x->action ? json_string(x->action) : json_null());
    json_array_append_new(repl, o);
  }
  return json_pack(
      "{s:s, s:i, s:{s:s, s:s, s:s}, s:i, s:i, s:o, s:o, s:o}", "description",
      "yz DHT record vectors, docs/protocol.md \"DHT records\"; generated "
      "by tests/vectors/yz_dhtrec_vectors --generate",
      "version", 1, "prefixes", "immutable_key", YZ_DHTREC_IMMUTABLE_PREFIX,
      "mutable_key", YZ_DHTREC_MUTABLE_PREFIX, "signature",
      YZ_DHTREC_SIGN_PREFIX, "value_max_default", YZ_DHTREC_VALUE_MAX_DEFAULT,
      "expiry_ahead_default", YZ_DHTREC_EXPIRY_AHEAD_DEFAULT, "identities",
      ids, "records", records, "replacements", repl);
}

int main(int argc, char **argv)
{
  if (yz_init() != 0)
    die("init");
  json_t *gen = generate();
  json_t *file = vec_command_line(argc, argv, gen);
  /* Each record's CBOR from the file, decoded and checked as the file
   * says, gives its status. */
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(file, "records"), i, v)
  {
    const char *c = json_string_value(json_object_get(v, "cbor"));
    const char *k = json_string_value(json_object_get(v, "key"));
    uint8_t cb[512], key[32];
    size_t cn = 0;
    if (!c || yz__hex_decode_var(cb, sizeof cb, &cn, c, strlen(c)) != 0 ||
        !k || yz__hex_decode(key, sizeof key, k, strlen(k)) != 0)
      die("bad hex");
    struct vec fv = {
        .now = (uint64_t)json_integer_value(json_object_get(v, "now")),
        .value_max =
            (size_t)json_integer_value(json_object_get(v, "value_max")),
        .expiry_ahead =
            (uint64_t)json_integer_value(json_object_get(v, "expiry_ahead"))};
    yz_dhtrec d;
    if (strcmp(yz_dhtrec_status_name(run(&fv, cb, cn, key, &d)),
               json_string_value(json_object_get(v, "status"))) != 0)
      die("a vector's status differs");
  }
  printf("%zu DHT record vectors, %zu replacement vectors ok\n",
         json_array_size(json_object_get(file, "records")),
         json_array_size(json_object_get(file, "replacements")));
  json_decref(gen);
  json_decref(file);
  return 0;
}
