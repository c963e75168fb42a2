/*
 * Sealed value and encrypted topic vectors (docs/protocol.md "Sealed
 * values and encrypted topics"): generates tests/vectors/yz-seal-v1.json
 * (--generate; deterministic: user seeds are fixed, and every random draw
 * of the sealing functions comes from a fixed stream and is recorded in
 * the vector, in the order drawn) and checks a file against the seal layer
 * (yz_seal_vectors FILE): the file is exactly what --generate prints, and
 * every reader of every vector gets what the vector says (the plaintext,
 * the epochs, or the error).
 *
 * tests/vectors/check_yz_seal_vectors.py rebuilds the same file's bytes
 * with implementations independent of yz (PyNaCl, hashlib, cbor2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "seal/seal_internal.h"
#include "yz/pubsub_wire.h"
#include "yz/seal.h"

#define VEC_PROG "yz_seal_vectors"
#include "vectors.h"

#define EXPIRY 1800003600u
#define NOW_MS 1800000000000u

/* The random stream: draw i is the first n bytes of SHA-256("yz seal
 * vector random" || i as one byte); each draw is recorded. */
struct tape {
  unsigned i;
  json_t *draws;
};

static void tape_fn(uint8_t *out, size_t n, void *ud)
{
  struct tape *t = ud;
  static const char label[] = "yz seal vector random";
  uint8_t in[sizeof label], h[32];
  memcpy(in, label, sizeof label - 1);
  in[sizeof label - 1] = (uint8_t)t->i++;
  crypto_hash_sha256(h, in, sizeof in);
  if (n > 32)
    die("a draw over 32 bytes");
  memcpy(out, h, n);
  json_array_append_new(t->draws, hex(out, n));
}

static yz__seal_rng tape_rng(struct tape *t)
{
  t->i = 0;
  t->draws = json_array();
  yz__seal_rng r = {tape_fn, t};
  return r;
}

/* Users: seed = 32 bytes of the user's number. */
static const char *const user_names[] = {"alice", "bob", "carol", "dave"};
enum { ALICE, BOB, CAROL, DAVE, NUSERS };
static yz_seal_user users[NUSERS];

static json_t *gen_users(void)
{
  json_t *a = json_array();
  for (int i = 0; i < NUSERS; i++) {
    uint8_t seed[32];
    memset(seed, i + 1, sizeof seed);
    yz_identity id;
    if (yz_identity_from_seed(&id, seed) != 0 ||
        yz_seal_user_init(&users[i], &id) != 0)
      die("user");
    yz_identity_clear(&id);
    yz_seal_user *u = &users[i];
    json_array_append_new(
        a,
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "name", user_names[i],
                  "seed", hex(seed, 32), "ed25519_public", hex(u->ed_pk, 32),
                  "x25519_public", hex(u->x_pk, 32), "name_key",
                  hex(u->name_key, 32), "value_key", hex(u->value_key, 32)));
  }
  return a;
}

/* Sign and encode a mutable record of u with salt (32) and value. */
static json_t *record(const yz_seal_user *u, const uint8_t *salt, uint64_t seq,
                      const uint8_t *v, size_t vlen, uint8_t *buf, size_t cap,
                      yz_dhtrec *dec)
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.kind = YZ_DHTREC_MUTABLE;
  memcpy(r.salt, salt, 32);
  r.salt_len = 32;
  r.seq = seq;
  r.expiry = EXPIRY;
  r.value = v;
  r.value_len = vlen;
  size_t n;
  if (yz_dhtrec_sign_raw(&r, u->ed_sk, NULL) != 0 ||
      yz_dhtrec_encode(&r, buf, cap, &n) != 0 ||
      yz_dhtrec_decode(dec, buf, n, 0, NULL) != 0)
    die("record");
  return hex(buf, n);
}

/* What each user reads from a sealed value record: "ok" or the error. */
static json_t *readers_of(const yz_dhtrec *r, const char *pt)
{
  json_t *o = json_object();
  static uint8_t out[4096];
  for (int i = 0; i < NUSERS; i++) {
    yz_seal_opened op;
    int rc = yz_seal_open(&users[i], r, out, sizeof out, &op);
    if (rc == 0 && (op.plaintext_len != strlen(pt) ||
                    memcmp(op.plaintext, pt, op.plaintext_len) != 0))
      die("a reader read another plaintext");
    json_object_set_new(o, user_names[i],
                        json_string(rc == 0 ? "ok" : yz_err_name(rc)));
  }
  return o;
}

static uint8_t recbuf[8][70000];

static json_t *gen_value(const char *vname, int owner, const int *rcp,
                         size_t nr, const char *name, uint64_t seq,
                         const char *pt, json_t *tampered, int slot)
{
  struct tape t;
  yz__seal_rng rng = tape_rng(&t);
  const yz_seal_user *u = &users[owner];
  uint8_t salt[32], key[32], rk[64 * 32], v[4096];
  size_t vlen;
  if (yz_seal_name_salt(u, (const uint8_t *)name, strlen(name), salt) != 0 ||
      yz_dhtrec_mutable_key(key, u->ed_pk, salt, 32) != 0)
    die("salt");
  json_t *rnames = json_array();
  for (size_t i = 0; i < nr; i++) {
    memcpy(rk + 32 * i, users[rcp[i]].ed_pk, 32);
    json_array_append_new(rnames, json_string(user_names[rcp[i]]));
  }
  int rc = nr == 0 ? yz__seal_private(u, key, seq, (const uint8_t *)pt,
                                      strlen(pt), v, sizeof v, &vlen, &rng)
                   : yz__seal_shared(u, key, seq, rk, nr, (const uint8_t *)pt,
                                     strlen(pt), v, sizeof v, &vlen, &rng);
  if (rc != 0)
    die("seal");
  yz_dhtrec d;
  json_t *rec =
      record(u, salt, seq, v, vlen, recbuf[slot], sizeof recbuf[slot], &d);
  /* Tampered, moved and replayed copies: what the owner reads. */
  static uint8_t w[4096], out[4096];
  struct {
    const char *what;
    int flip;      /* byte from the end flipped, -1 none */
    int key_delta; /* key[0] ^= */
    int64_t seq_delta;
  } muts[] = {
      {"the last byte of the ciphertext flipped", 1, 0, 0},
      {"the nonce's first byte flipped", -2, 0, 0},
      {"moved: the value under another DHT key", -1, 1, 0},
      {"replayed: the value at seq + 1", -1, 0, 1},
  };
  for (size_t m = 0; m < sizeof muts / sizeof muts[0]; m++) {
    yz_dhtrec x = d;
    memcpy(w, v, vlen);
    x.value = w;
    size_t at = 0;
    if (muts[m].flip == 1)
      at = vlen - 1;
    else if (muts[m].flip == -2)
      at = (size_t)(nr == 0 ? YZ_SEAL_HEADER_LEN
                            : YZ_SEAL_HEADER_LEN + 1 + 80 * (nr + 1));
    if (muts[m].flip != -1)
      w[at] ^= 1;
    x.key[0] ^= (uint8_t)muts[m].key_delta;
    x.seq += (uint64_t)muts[m].seq_delta;
    yz_seal_opened op;
    rc = yz_seal_open(&users[nr == 0 ? owner : BOB], &x, out, sizeof out, &op);
    if (rc != YZ_E_SEAL_TAMPERED)
      die("a tampered copy was not refused as tampered");
    json_array_append_new(
        tampered,
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s}", "of", vname, "change",
                  muts[m].what, "reader", user_names[nr == 0 ? owner : BOB],
                  "key", hex(x.key, 32), "value", hex(w, vlen), "seq",
                  (json_int_t)x.seq, "error", yz_err_name(rc)));
  }
  json_t *o = json_pack(
      "{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, "
      "s:o}",
      "name", vname, "kind", nr == 0 ? "private" : "shared", "owner",
      user_names[owner], "recipients", rnames, "value_name", name, "salt",
      hex(salt, 32), "key", hex(key, 32), "seq", (json_int_t)seq, "expiry",
      (json_int_t)EXPIRY, "plaintext", hex((const uint8_t *)pt, strlen(pt)),
      "random", t.draws, "value", hex(v, vlen), "record", rec, "readers",
      readers_of(&d, pt));
  return o;
}

/* The topic "team" of alice: bob and carol, then carol removed. */
static json_t *gen_topic(json_t *messages)
{
  struct tape t;
  yz__seal_rng rng = tape_rng(&t);
  uint8_t topic[32];
  if (yz_ps_topic_hash(topic, "team", 4) != 0)
    die("topic");
  static yz_seal_topic_owner tw;
  uint8_t m[64];
  memcpy(m, users[BOB].ed_pk, 32);
  memcpy(m + 32, users[CAROL].ed_pk, 32);
  if (yz__seal_topic_create(&tw, &users[ALICE], topic, m, 2, &rng) != 0 ||
      yz__seal_topic_remove(&tw, &users[ALICE], users[CAROL].ed_pk, &rng) != 0)
    die("topic owner");
  uint8_t key[32], v[8192];
  size_t vlen;
  const uint64_t seq = 2;
  if (yz_seal_topic_record_key(key, users[ALICE].ed_pk, topic) != 0 ||
      yz__seal_topic_value(&tw, &users[ALICE], key, seq, v, sizeof v, &vlen,
                           &rng) != 0)
    die("topic value");
  yz_dhtrec d;
  json_t *rec = record(&users[ALICE], topic, seq, v, vlen, recbuf[7],
                       sizeof recbuf[7], &d);
  json_t *epochs = json_array();
  for (size_t i = 0; i < tw.n_epochs; i++) {
    uint8_t mk[32];
    yz__seal_topic_msg_key(mk, tw.epochs[i].key, tw.epochs[i].epoch);
    json_array_append_new(epochs,
                          json_pack("{s:I, s:o, s:o}", "epoch",
                                    (json_int_t)tw.epochs[i].epoch,
                                    "topic_key", hex(tw.epochs[i].key, 32),
                                    "message_key", hex(mk, 32)));
  }
  /* Members' key rings: the epochs each reads, or the error. */
  json_t *rd = json_object();
  static yz_seal_keyring kr[NUSERS];
  for (int i = 0; i < NUSERS; i++) {
    yz_seal_keyring_init(&kr[i], topic, users[ALICE].ed_pk, 600000);
    int rc = yz_seal_topic_keys_open(&kr[i], &users[i], &d, NOW_MS);
    json_t *eps = json_array();
    for (size_t j = 0; j < kr[i].n; j++)
      json_array_append_new(eps, json_integer((json_int_t)kr[i].e[j].epoch));
    json_object_set_new(rd, user_names[i],
                        json_pack("{s:s, s:o}", "status",
                                  rc == 0 ? "ok" : yz_err_name(rc), "epochs",
                                  eps));
  }
  /* Messages: bob at epoch 2; carol at epoch 1, sealed before she was
   * removed (a key ring that knew epoch 1 only), in flight across the
   * rotation. */
  static yz_seal_keyring k1;
  yz_seal_keyring_init(&k1, topic, users[ALICE].ed_pk, 600000);
  k1.n = 1;
  k1.e[0].epoch = tw.epochs[1].epoch;
  yz__seal_topic_msg_key(k1.e[0].key, tw.epochs[1].key, k1.e[0].epoch);
  struct {
    int author;
    const yz_seal_keyring *ring;
    const char *pt;
  } msgs[] = {{BOB, &kr[BOB], "hello team"}, {CAROL, &k1, "still here"}};
  for (size_t i = 0; i < 2; i++) {
    struct tape mt;
    yz__seal_rng mr = tape_rng(&mt);
    mt.i = 100 + (unsigned)i;
    uint8_t p[256];
    size_t pl;
    uint64_t ep;
    if (yz__seal_topic_seal(msgs[i].ring, users[msgs[i].author].ed_pk,
                            (const uint8_t *)msgs[i].pt, strlen(msgs[i].pt), p,
                            sizeof p, &pl, &ep, &mr) != 0)
      die("topic message");
    json_t *who = json_object();
    for (int r = 0; r < NUSERS; r++) {
      uint8_t out[256];
      size_t ol;
      int rc = yz_seal_topic_open(&kr[r], users[msgs[i].author].ed_pk, ep, p,
                                  pl, NOW_MS, out, sizeof out, &ol);
      json_object_set_new(who, user_names[r],
                          json_string(rc == 0 ? "ok" : yz_err_name(rc)));
    }
    json_array_append_new(
        messages,
        json_pack("{s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:o}", "topic_name",
                  "team", "topic", hex(topic, 32), "author",
                  user_names[msgs[i].author], "epoch", (json_int_t)ep,
                  "plaintext",
                  hex((const uint8_t *)msgs[i].pt, strlen(msgs[i].pt)),
                  "random", mt.draws, "payload", hex(p, pl), "readers", who));
  }
  for (int i = 0; i < NUSERS; i++)
    yz_seal_keyring_clear(&kr[i]);
  yz_seal_keyring_clear(&k1);
  json_t *o = json_pack(
      "{s:s, s:o, s:s, s:[s,s], s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o, "
      "s:o}",
      "topic_name", "team", "topic", hex(topic, 32), "owner", "alice",
      "created_with", "bob", "carol", "then_removed", "carol", "key",
      hex(key, 32), "seq", (json_int_t)seq, "expiry", (json_int_t)EXPIRY,
      "random", t.draws, "epochs", epochs, "value", hex(v, vlen), "record",
      rec, "members", rd);
  yz_seal_topic_owner_clear(&tw);
  return o;
}

static json_t *generate(void)
{
  json_t *tampered = json_array(), *messages = json_array();
  json_t *us = gen_users();
  int both[] = {BOB, CAROL};
  json_t *values = json_array();
  json_array_append_new(values,
                        gen_value("private_diary", ALICE, NULL, 0, "diary", 1,
                                  "dear diary", tampered, 0));
  json_array_append_new(values,
                        gen_value("shared_plans", ALICE, both, 2, "plans", 2,
                                  "meet at noon", tampered, 1));
  json_t *topic = gen_topic(messages);
  return json_pack(
      "{s:s, s:i, s:{s:s, s:s, s:s}, s:s, s:I, s:o, s:o, s:o, s:o, s:o}",
      "description",
      "yz sealed value and encrypted topic vectors, docs/protocol.md "
      "\"Sealed values and encrypted topics\"; generated by "
      "tests/vectors/yz_seal_vectors --generate. 'random' lists the random "
      "draws of each sealing in the order they are made.",
      "version", 1, "contexts", "name_key", YZ_SEAL_CTX_NAME, "value_key",
      YZ_SEAL_CTX_VALUE, "message_key", YZ_SEAL_CTX_TOPIC, "magic", "797a7300",
      "now_ms", (json_int_t)NOW_MS, "users", us, "values", values, "tampered",
      tampered, "topic", topic, "messages", messages);
}

int main(int argc, char **argv)
{
  if (yz_init() != 0)
    die("init");
  json_t *gen = generate();
  json_t *file = vec_command_line(argc, argv, gen);
  /* Replay the file's records (not the regenerated ones): each reader
   * gets what the file says. */
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(file, "values"), i, v)
  {
    const char *h = json_string_value(json_object_get(v, "record"));
    static uint8_t buf[70000];
    size_t n;
    yz_dhtrec d;
    if (!h || yz__hex_decode_var(buf, sizeof buf, &n, h, strlen(h)) != 0 ||
        yz_dhtrec_decode(&d, buf, n, 0, NULL) != 0)
      die("a vector's record does not decode");
    const char *pt = json_string_value(json_object_get(v, "plaintext"));
    uint8_t ptb[256];
    size_t pn;
    char pts[257];
    if (!pt || yz__hex_decode_var(ptb, sizeof ptb, &pn, pt, strlen(pt)) != 0)
      die("bad hex");
    memcpy(pts, ptb, pn);
    pts[pn] = 0;
    json_t *got = readers_of(&d, pts);
    if (!json_equal(got, json_object_get(v, "readers")))
      die("a reader's result differs from the file");
    json_decref(got);
  }
  printf("%zu sealed values, %zu tampered copies, 1 topic, %zu messages "
         "ok\n",
         json_array_size(json_object_get(file, "values")),
         json_array_size(json_object_get(file, "tampered")),
         json_array_size(json_object_get(file, "messages")));
  json_decref(gen);
  json_decref(file);
  return 0;
}
