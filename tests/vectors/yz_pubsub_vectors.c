/*
 * PubSub vectors (docs/protocol.md "PubSub"): generates
 * tests/vectors/yz-pubsub-v1.json (--generate, deterministic) and checks a
 * file against the codec (yz_pubsub_vectors FILE): the file is exactly
 * what --generate prints, and while generating every vector gives the
 * result it intends: topic hashes, signed bytes, IDs and signatures of
 * messages made from fixed seeds, the receiver's checks, and RPC encodings
 * (accepted ones re-encode to the same bytes; refused ones with their
 * code).
 *
 * RPC inputs are written by a CBOR writer of this file's own, so they can
 * break any rule. tests/vectors/check_yz_pubsub_vectors.py checks the same
 * file with cbor2, PyNaCl, hashlib and a model of the spec's rules,
 * independent of yz.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "yz/pubsub_wire.h"

#define VEC_PROG "yz_pubsub_vectors"
#include "vectors.h"

#define NOW 1800000000u

static json_t *num(uint64_t v)
{
  /* Decimal strings: JSON numbers lose 64-bit precision. */
  char b[24];
  snprintf(b, sizeof b, "%llu", (unsigned long long)v);
  return json_string(b);
}

/* ---- a CBOR writer ------------------------------------------------------ */

typedef struct w {
  uint8_t b[200000];
  size_t n;
} w;

static void w_byte(w *o, uint8_t v)
{
  if (o->n >= sizeof o->b)
    die("writer overflow");
  o->b[o->n++] = v;
}

static void w_head(w *o, uint8_t major, uint64_t v)
{
  uint8_t m = (uint8_t)(major << 5);
  int width = v < 24             ? 0
              : v <= 0xff        ? 1
              : v <= 0xffff      ? 2
              : v <= 0xffffffffu ? 4
                                 : 8;
  if (v < 24)
    w_byte(o, m | (uint8_t)v);
  else
    w_byte(o, m | (uint8_t)(width == 1   ? 24
                            : width == 2 ? 25
                            : width == 4 ? 26
                                         : 27));
  for (int i = width - 1; i >= 0; i--)
    w_byte(o, (uint8_t)(v >> (8 * i)));
}

static void w_str(w *o, uint8_t major, const void *p, size_t n)
{
  w_head(o, major, n);
  for (size_t i = 0; i < n; i++)
    w_byte(o, ((const uint8_t *)p)[i]);
}

/* Item i: 30 bytes of 0x5a then i in two bytes (sets are increasing in
 * i). */
static void w_item(w *o, unsigned i)
{
  uint8_t t[32];
  memset(t, 0x5a, sizeof t);
  t[30] = (uint8_t)(i >> 8);
  t[31] = (uint8_t)i;
  w_str(o, 2, t, 32);
}

static void w_set(w *o, unsigned key, unsigned first, unsigned n)
{
  w_head(o, 0, key);
  w_head(o, 4, n);
  for (unsigned i = 0; i < n; i++)
    w_item(o, first + i);
}

/* ---- topics and messages ------------------------------------------------ */

static json_t *topics_json(void)
{
  static const struct {
    const char *name;
    size_t len;
  } names[] = {{"news", 4}, {"a", 1},    {"caf\xc3\xa9", 5}, {NULL, 255},
               {"", 0},     {NULL, 256}, {"\xc3", 1}};
  json_t *a = json_array();
  static char z[256];
  memset(z, 'z', sizeof z);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *nm = names[i].name ? names[i].name : z;
    uint8_t h[32];
    int rc = yz_ps_topic_hash(h, nm, names[i].len);
    json_t *v = json_pack("{s:o, s:s}", "name_hex",
                          hex((const uint8_t *)nm, names[i].len), "result",
                          yz_err_name(rc));
    if (rc == 0)
      json_object_set_new(v, "hash", hex(h, 32));
    else if (rc != YZ_E_INVAL)
      die("topic hash");
    json_array_append_new(a, v);
  }
  return a;
}

typedef struct mdef {
  uint8_t seed;
  const char *topic;
  uint64_t seq, expiry, epoch;
  const char *data;
  size_t data_len;
} mdef;

static const mdef MSGS[] = {
    {7, "news", 1, NOW + 60, 0, "hello", 5},
    {7, "news", 1, NOW + 60, 0, "hellp", 5}, /* same author and seq */
    {8, "caf\xc3\xa9", 2, NOW + 600, 5, "", 0},
    {9, "a", UINT64_MAX, NOW + 1, 0, "x", 1},
};
#define N_MSGS (sizeof MSGS / sizeof MSGS[0])
static yz_ps_msg msgs[N_MSGS];

static void make_msgs(void)
{
  for (size_t i = 0; i < N_MSGS; i++) {
    uint8_t seed[32], pk[32], sk[64];
    memset(seed, MSGS[i].seed, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    yz_ps_msg *m = &msgs[i];
    memset(m, 0, sizeof *m);
    if (yz_ps_topic_hash(m->topic, MSGS[i].topic, strlen(MSGS[i].topic)))
      die("topic");
    m->seq = MSGS[i].seq;
    m->expiry = MSGS[i].expiry;
    m->epoch = MSGS[i].epoch;
    m->data = (const uint8_t *)MSGS[i].data;
    m->data_len = MSGS[i].data_len;
    if (yz_ps_msg_sign_raw(m, sk, NULL) != 0)
      die("sign");
    sodium_memzero(sk, sizeof sk);
  }
}

static json_t *messages_json(void)
{
  json_t *a = json_array();
  for (size_t i = 0; i < N_MSGS; i++) {
    const yz_ps_msg *m = &msgs[i];
    uint8_t sb[YZ_PS_SIGNED_LEN], id[32];
    if (yz_ps_msg_signed_bytes(m, sb) || yz_ps_msg_id(m, id))
      die("signed bytes");
    uint8_t seed[32];
    memset(seed, MSGS[i].seed, sizeof seed);
    json_array_append_new(
        a, json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:o}",
                     "seed", hex(seed, 32), "topic_name", MSGS[i].topic,
                     "topic", hex(m->topic, 32), "author", hex(m->author, 32),
                     "seq", num(m->seq), "expiry", num(m->expiry), "epoch",
                     num(m->epoch), "data", hex(m->data, m->data_len),
                     "signed_bytes", hex(sb, sizeof sb), "id", hex(id, 32),
                     "signature", hex(m->signature, 64), "index",
                     json_integer((json_int_t)i)));
  }
  return a;
}

/* The receiver's checks: message index, a change, now, limits -> status. */
static json_t *checks_json(void)
{
  static const struct {
    const char *name;
    size_t msg;
    int tamper; /* 0 none, 1 data, 2 signature, 3 epoch */
    uint64_t now, max_lifetime;
    size_t max_data;
    yz_ps_status want;
  } cs[] = {
      {"ok", 0, 0, NOW, 600, 262144, YZ_PS_OK},
      {"ok_last_second", 0, 0, NOW + 59, 600, 262144, YZ_PS_OK},
      {"expired", 0, 0, NOW + 60, 600, 262144, YZ_PS_EXPIRED},
      {"expiry_too_far", 0, 0, NOW, 59, 262144, YZ_PS_EXPIRY_TOO_FAR},
      {"too_large", 0, 0, NOW, 600, 4, YZ_PS_TOO_LARGE},
      {"data_changed", 0, 1, NOW, 600, 262144, YZ_PS_BAD_SIGNATURE},
      {"signature_changed", 0, 2, NOW, 600, 262144, YZ_PS_BAD_SIGNATURE},
      {"epoch_changed", 0, 3, NOW, 600, 262144, YZ_PS_BAD_SIGNATURE},
      {"epoch_5_ok", 2, 0, NOW, 600, 262144, YZ_PS_OK},
      {"lifetime_600", 2, 0, NOW, 599, 262144, YZ_PS_EXPIRY_TOO_FAR},
  };
  json_t *a = json_array();
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    yz_ps_msg m = msgs[cs[i].msg];
    static const uint8_t other[] = "hellp";
    if (cs[i].tamper == 1)
      m.data = other;
    if (cs[i].tamper == 2)
      m.signature[0] ^= 1;
    if (cs[i].tamper == 3)
      m.epoch = 1;
    yz_ps_status st = yz_ps_msg_check(&m, cs[i].now, cs[i].max_lifetime,
                                      cs[i].max_data, NULL);
    if (st != cs[i].want)
      die("a message check does not give its intended status");
    json_array_append_new(
        a, json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "name",
                     cs[i].name, "message", (int)cs[i].msg, "data",
                     hex(m.data, m.data_len), "epoch", num(m.epoch),
                     "signature", hex(m.signature, 64), "now", num(cs[i].now),
                     "max_lifetime", num(cs[i].max_lifetime), "max_data",
                     num(cs[i].max_data), "status", yz_ps_status_name(st)));
  }
  return a;
}

/* ---- RPCs ----------------------------------------------------------------
 */

static json_t *set_json(const yz_ps_list *l)
{
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++)
    json_array_append_new(a, hex(yz_ps_list_at(l, i), 32));
  return a;
}

/* The decoded RPC, named as in docs/protocol.md; only present keys. */
static json_t *rpc_json(const yz_ps_rpc *r)
{
  json_t *f = json_object();
  if (r->subscribe.n)
    json_object_set_new(f, "subscribe", set_json(&r->subscribe));
  if (r->unsubscribe.n)
    json_object_set_new(f, "unsubscribe", set_json(&r->unsubscribe));
  if (r->n_publish) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_publish; i++) {
      const yz_ps_msg *m = &r->publish[i];
      uint8_t id[32];
      if (yz_ps_msg_id(m, id))
        die("id");
      json_array_append_new(
          a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "topic",
                       hex(m->topic, 32), "author", hex(m->author, 32), "seq",
                       num(m->seq), "expiry", num(m->expiry), "epoch",
                       num(m->epoch), "data", hex(m->data, m->data_len),
                       "signature", hex(m->signature, 64), "id", hex(id, 32)));
    }
    json_object_set_new(f, "publish", a);
  }
  if (r->graft.n)
    json_object_set_new(f, "graft", set_json(&r->graft));
  if (r->n_prune) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_prune; i++) {
      json_t *peers = json_array();
      for (size_t j = 0; j < r->prune[i].n_peers; j++)
        json_array_append_new(
            peers, hex(r->prune[i].peers[j].ptr, r->prune[i].peers[j].len));
      json_array_append_new(
          a, json_pack("{s:o, s:o, s:o}", "topic", hex(r->prune[i].topic, 32),
                       "backoff", num(r->prune[i].backoff), "peers", peers));
    }
    json_object_set_new(f, "prune", a);
  }
  if (r->n_ihave) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_ihave; i++)
      json_array_append_new(a, json_pack("{s:o, s:o}", "topic",
                                         hex(r->ihave[i].topic, 32), "ids",
                                         set_json(&r->ihave[i].ids)));
    json_object_set_new(f, "ihave", a);
  }
  if (r->iwant.n)
    json_object_set_new(f, "iwant", set_json(&r->iwant));
  if (r->idontwant.n)
    json_object_set_new(f, "idontwant", set_json(&r->idontwant));
  return f;
}

static json_t *rpcs;
static w o;

static void add(const char *name, const char *desc, const yz_ps_limits *lim,
                int want)
{
  static yz_ps_rpc r, r2;
  const char *why = NULL;
  int rc = yz_ps_rpc_decode(&r, o.b, o.n, lim, &why);
  if (rc != want) {
    fprintf(stderr, "%s: %s (%s), wanted %s\n", name, yz_err_name(rc),
            why ? why : "", yz_err_name(want));
    die("a vector does not give its intended result");
  }
  json_t *v = json_pack("{s:s, s:s}", "name", name, "description", desc);
  if (lim)
    json_object_set_new(
        v, "limits",
        json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I}", "max_topics",
            (json_int_t)lim->max_topics, "max_ids", (json_int_t)lim->max_ids,
            "max_messages", (json_int_t)lim->max_messages, "max_px",
            (json_int_t)lim->max_px, "max_data", (json_int_t)lim->max_data,
            "max_rpc_len", (json_int_t)lim->max_rpc_len));
  json_object_set_new(v, "cbor", hex(o.b, o.n));
  json_object_set_new(v, "result", json_string(yz_err_name(rc)));
  if (rc == 0) {
    static uint8_t enc[200000];
    size_t n;
    if (yz_ps_rpc_encode(&r, lim, enc, sizeof enc, &n, NULL) != 0 ||
        n != o.n || memcmp(enc, o.b, n) != 0)
      die("an accepted vector does not re-encode to its bytes");
    if (yz_ps_rpc_decode(&r2, enc, n, lim, NULL) != 0)
      die("re-decode");
    json_object_set_new(v, "fields", rpc_json(&r));
  } else {
    json_object_set_new(v, "reason", json_string(why));
  }
  json_array_append_new(rpcs, v);
}

static void start(unsigned pairs)
{
  o.n = 0;
  w_head(&o, 5, pairs);
}

/* Message i as a map; extra: 0 none, 1 epoch 0 present, 2 unknown key 8,
 * 3 no signature, 4 a 63-byte signature. */
static void w_msg(size_t i, int extra)
{
  const yz_ps_msg *m = &msgs[i];
  unsigned n =
      6 + (m->epoch != 0) + (extra == 1) + (extra == 2) - (extra == 3);
  w_head(&o, 5, n);
  w_head(&o, 0, 1), w_str(&o, 2, m->topic, 32);
  w_head(&o, 0, 2), w_str(&o, 2, m->author, 32);
  w_head(&o, 0, 3), w_head(&o, 0, m->seq);
  w_head(&o, 0, 4), w_head(&o, 0, m->expiry);
  if (m->epoch || extra == 1)
    w_head(&o, 0, 5), w_head(&o, 0, m->epoch);
  w_head(&o, 0, 6), w_str(&o, 2, m->data, m->data_len);
  if (extra != 3)
    w_head(&o, 0, 7), w_str(&o, 2, m->signature, extra == 4 ? 63 : 64);
  if (extra == 2)
    w_head(&o, 0, 8), w_head(&o, 0, 0);
}

static void w_prune(unsigned t, uint64_t backoff, unsigned n_peers, bool dup)
{
  w_head(&o, 5, n_peers ? 3 : 2);
  w_head(&o, 0, 1), w_item(&o, t);
  w_head(&o, 0, 2), w_head(&o, 0, backoff);
  if (!n_peers)
    return;
  w_head(&o, 0, 3), w_head(&o, 4, n_peers);
  for (unsigned i = 0; i < n_peers; i++) {
    /* stand-in node records: canonical maps {1: i} */
    uint8_t rec[3] = {0xa1, 0x01, (uint8_t)(dup ? 1 : i)};
    w_str(&o, 2, rec, 3);
  }
}

static void w_ihave(unsigned t, unsigned first, unsigned n)
{
  w_head(&o, 5, 2);
  w_head(&o, 0, 1), w_item(&o, t);
  w_set(&o, 2, first, n);
}

static void valid(void)
{
  start(2), w_head(&o, 0, 1), w_head(&o, 4, 1),
      w_str(&o, 2, msgs[0].topic, 32);
  w_head(&o, 0, 4), w_head(&o, 4, 1), w_str(&o, 2, msgs[0].topic, 32);
  add("subscribe_graft", "subscribe to news and GRAFT it", NULL, 0);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 0);
  add("publish", "the message of the signed-bytes example", NULL, 0);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 3), w_msg(0, 0), w_msg(2, 0);
  w_msg(3, 0);
  add("publish_three", "three messages, one with epoch 5", NULL, 0);
  start(8), w_set(&o, 1, 1, 2), w_set(&o, 2, 3, 1);
  w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(3, 0);
  w_set(&o, 4, 1, 1);
  w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(2, 60, 2, false);
  w_prune(4, 0, 0, false);
  w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(1, 10, 3), w_ihave(2, 20, 1);
  w_set(&o, 7, 30, 2), w_set(&o, 8, 40, 4);
  add("all_keys", "every key of an RPC once", NULL, 0);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_prune(9, 0x10000, 0, false);
  add("prune_backoff", "a PRUNE with a backoff of 65536 s, no peers", NULL, 0);
}

static void invalid(void)
{
  static const yz_ps_limits small = {2, 4, 2, 2, 4, 4096};
  start(0);
  add("empty_rpc", "an RPC with no key", NULL, YZ_E_MALFORMED);
  start(1), w_set(&o, 1, 0, 0);
  add("empty_list", "an empty subscribe list", NULL, YZ_E_MALFORMED);
  start(1), w_set(&o, 9, 0, 1);
  add("unknown_key", "key 9", NULL, YZ_E_MALFORMED);
  start(1), w_set(&o, 7, 0, 5);
  add("iwant_over_limit", "an IWANT of 5 IDs over a limit of 4", &small,
      YZ_E_LIMIT);
  start(1), w_set(&o, 4, 0, 3);
  add("graft_over_limit", "3 GRAFTs over a limit of 2", &small, YZ_E_LIMIT);
  start(1), w_head(&o, 0, 2), w_head(&o, 4, 2), w_item(&o, 2), w_item(&o, 1);
  add("set_out_of_order", "an unsubscribe set in decreasing order", NULL,
      YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 8), w_head(&o, 4, 2), w_item(&o, 2), w_item(&o, 2);
  add("set_repeat", "the same ID twice in an IDONTWANT", NULL, YZ_E_DUPLICATE);
  start(2), w_set(&o, 1, 1, 2), w_set(&o, 2, 2, 1);
  add("sub_and_unsub", "a topic both subscribed and unsubscribed", NULL,
      YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 1), w_head(&o, 4, 1), w_str(&o, 2, "topic", 5);
  add("short_topic", "a 5-byte topic", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 1);
  add("epoch_zero", "a message with epoch 0 present", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 2);
  add("message_unknown_key", "a message with key 8", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 3);
  add("no_signature", "a message without a signature", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 4);
  add("short_signature", "a 63-byte signature", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 1), w_msg(0, 0);
  add("data_over_limit", "5 bytes of data over a limit of 4", &small,
      YZ_E_TOO_LARGE);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 2), w_msg(0, 0), w_msg(0, 0);
  add("message_twice", "the same message twice", NULL, YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 2), w_msg(0, 0), w_msg(1, 0);
  add("same_seq_other_data",
      "two payloads of one author, topic and seq (two IDs) in one RPC", NULL,
      YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 3), w_head(&o, 4, 3), w_msg(0, 0), w_msg(2, 0);
  w_msg(3, 0);
  add("too_many_messages", "3 messages over a limit of 2", &small, YZ_E_LIMIT);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_prune(1, 60, 3, false);
  add("too_many_peers", "3 peer records over a limit of 2", &small,
      YZ_E_LIMIT);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_prune(1, 60, 2, true);
  add("peer_twice", "the same peer record twice", NULL, YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 3);
  w_head(&o, 0, 1), w_item(&o, 1), w_head(&o, 0, 2), w_head(&o, 0, 1);
  w_head(&o, 0, 3), w_head(&o, 4, 1), w_str(&o, 2, "\x81\x01", 2);
  add("peer_not_map", "a peer record that is an array", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 2), w_prune(3, 1, 0, false);
  w_prune(3, 2, 0, false);
  add("prune_same_topic", "two PRUNEs of one topic", NULL, YZ_E_DUPLICATE);
  start(1), w_head(&o, 0, 5), w_head(&o, 4, 1), w_head(&o, 5, 1);
  w_head(&o, 0, 1), w_item(&o, 1);
  add("prune_no_backoff", "a PRUNE without backoff", NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(2, 1, 1);
  w_ihave(1, 2, 1);
  add("ihave_out_of_order", "IHAVEs in decreasing topic order", NULL,
      YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 6), w_head(&o, 4, 2), w_ihave(1, 1, 3);
  w_ihave(2, 5, 2);
  add("ihave_ids_over_limit", "5 IHAVE IDs in all over a limit of 4", &small,
      YZ_E_LIMIT);
  start(1), w_set(&o, 7, 0, 1), w_byte(&o, 0);
  add("trailing", "a byte after the map", NULL, YZ_E_TRAILING);
  start(1), w_set(&o, 7, 0, 1);
  o.n--;
  add("truncated", "the last byte missing", NULL, YZ_E_TRUNCATED);
  start(2), w_set(&o, 7, 0, 1), w_set(&o, 7, 1, 1);
  add("duplicate_key", "key 7 twice", NULL, YZ_E_DUPLICATE);
  start(2), w_set(&o, 7, 0, 1), w_set(&o, 1, 1, 1);
  add("unordered_keys", "key 7 before key 1", NULL, YZ_E_MALFORMED);
  start(1), w_byte(&o, 0x18), w_byte(&o, 0x07), w_head(&o, 4, 1);
  w_item(&o, 0);
  add("wide_head", "key 7 in a two-byte head", NULL, YZ_E_MALFORMED);
  o.n = 0, w_head(&o, 4, 1), w_item(&o, 0);
  add("not_a_map", "an array at the top level", NULL, YZ_E_MALFORMED);
  start(1), w_set(&o, 8, 0, 130);
  add("rpc_too_long",
      "an IDONTWANT of 130 IDs, longer than a limit of 4096 bytes", &small,
      YZ_E_TOO_LARGE);
}

static json_t *generate(void)
{
  make_msgs();
  rpcs = json_array();
  valid();
  invalid();
  return json_pack(
      "{s:s, s:s, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:o, "
      "s:o, s:o, s:o}",
      "format", "yz-pubsub-vectors-1", "spec",
      "docs/protocol.md, section PubSub", "protocol", YZ_PUBSUB_PROTOCOL,
      "limits", "max_topics", YZ_PS_MAX_TOPICS, "max_ids", YZ_PS_MAX_IDS,
      "max_messages", YZ_PS_MAX_MSGS, "max_px", YZ_PS_MAX_PX, "max_data",
      YZ_PS_MAX_DATA, "max_rpc_len", YZ_PS_MAX_RPC, "max_peer_record_len",
      YZ_PS_PEER_RECORD_MAX_LEN, "max_lifetime", YZ_PS_MAX_LIFETIME, "topics",
      topics_json(), "messages", messages_json(), "checks", checks_json(),
      "rpcs", rpcs);
}

int main(int argc, char **argv)
{
  if (sodium_init() < 0)
    die("sodium");
  json_t *gen = generate();
  json_t *file = vec_command_line(argc, argv, gen);
  printf("yz_pubsub_vectors: %zu topics, %zu messages, %zu checks, %zu RPCs "
         "ok\n",
         json_array_size(json_object_get(file, "topics")),
         json_array_size(json_object_get(file, "messages")),
         json_array_size(json_object_get(file, "checks")),
         json_array_size(json_object_get(file, "rpcs")));
  json_decref(file);
  json_decref(gen);
  return 0;
}
