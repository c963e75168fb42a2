/*
 * Node record vectors (docs/protocol.md "Node records"): generates
 * tests/vectors/yz-node-record-v1.json (--generate, deterministic: every
 * key comes from a fixed seed) and checks a file against the record codec
 * (yz_record_vectors FILE): each vector's CBOR decodes with the vector's
 * expectations to the result it names, accepted ones to its fields and
 * signed bytes, and the file is exactly what --generate prints.
 *
 * tests/vectors/check_yz_record_vectors.py checks the same file with
 * implementations independent of yz.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "yz/record.h"

#define VEC_PROG "yz_record_vectors"
#include "vectors.h"

#define NET "yz-vectors"
#define NOW 1800000000u

/* Identity i: its seed is SHA-256("yz node record vector identity" || i). */
static void identity(yz_identity *id, uint8_t seed[32], uint8_t i)
{
  static const char label[] = "yz node record vector identity";
  uint8_t in[sizeof label];
  memcpy(in, label, sizeof label - 1);
  in[sizeof label - 1] = i;
  crypto_hash_sha256(seed, in, sizeof in);
  if (yz_identity_from_seed(id, seed) != 0)
    die("identity");
}

static json_t *fields_json(const yz_record *r)
{
  json_t *addrs = json_array();
  for (size_t i = 0; i < r->n_addresses; i++)
    json_array_append_new(
        addrs, json_pack("{s:s, s:I}", "url", r->addresses[i].url,
                         "client_types",
                         (json_int_t)r->addresses[i].client_types));
  return json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "network",
                   r->network, "identity_public",
                   hex(r->identity_pk, YZ_IDENTITY_PK_LEN), "seq",
                   (json_int_t)r->seq, "expiry", (json_int_t)r->expiry,
                   "node_type", (json_int_t)r->node_type, "capabilities",
                   (json_int_t)r->capabilities, "addresses", addrs);
}

struct vec {
  const char *name, *description;
  uint8_t signer;       /* identity that signs */
  uint8_t expect_node;  /* 0: no expected node ID, else that identity */
  const char *network;  /* the decoder's network */
  uint64_t now;
  int want;
  enum { M_NONE, M_WIDE_SEQ, M_TRAILING, M_DUP_KEY, M_PAD_1025,
         M_TAMPER_SEQ, M_FOREIGN_KEY, M_BAD_URL } mangle;
  int shape; /* 0 minimal, 1 full */
};

static const struct vec vecs[] = {
    {"minimal", "one ws:// address, community node, no capabilities", 1, 0,
     NET, NOW, 0, M_NONE, 0},
    {"full",
     "three addresses, infrastructure node, all capabilities and an "
     "unknown capability bit, a large sequence number; pinned to its node",
     2, 2, NET, NOW, 0, M_NONE, 1},
    {"other_network", "a valid record of network yz-vectors decoded by a "
     "node of network yz-other", 1, 0, "yz-other", NOW, YZ_E_UNSUPPORTED,
     M_NONE, 0},
    {"expired", "now equals the expiry", 1, 0, NET, NOW + 3600, YZ_E_RANGE,
     M_NONE, 0},
    {"other_node", "a valid record of identity 1 where identity 2's record "
     "was expected", 1, 2, NET, NOW, YZ_E_PEER_ID_MISMATCH, M_NONE, 0},
    {"tampered_seq", "the sequence number raised after signing", 1, 0, NET,
     NOW, YZ_E_BAD_SIGNATURE, M_TAMPER_SEQ, 0},
    {"wrong_key", "names identity 1's key but is signed by identity 2", 1, 0,
     NET, NOW, YZ_E_BAD_SIGNATURE, M_FOREIGN_KEY, 0},
    {"non_canonical", "the sequence number in a two-byte head (18 05 for 05)",
     1, 0, NET, NOW, YZ_E_MALFORMED, M_WIDE_SEQ, 0},
    {"trailing_byte", "a 00 byte after the record", 1, 0, NET, NOW,
     YZ_E_TRAILING, M_TRAILING, 0},
    {"duplicate_key", "key 3 twice (the expiry's key 4 written as 3)", 1, 0,
     NET, NOW, YZ_E_DUPLICATE, M_DUP_KEY, 0},
    {"too_large", "1025 bytes: the record and trailing zero bytes", 1, 0,
     NET, NOW, YZ_E_TOO_LARGE, M_PAD_1025, 0},
    {"bad_url", "a validly signed record whose URL is not canonical "
     "(WS:// in capitals)", 1, 0, NET, NOW, YZ_E_MALFORMED, M_BAD_URL, 0},
};

static void make(yz_record *r, const yz_identity *id, int shape)
{
  memset(r, 0, sizeof *r);
  if (yz_record_set_network(r, NET) != 0)
    die("network");
  r->expiry = NOW + 3600;
  if (shape == 0) {
    r->seq = 5;
    r->node_type = YZ_WIRE_NODE_COMMUNITY;
    if (yz_record_add_address(r, "ws://192.0.2.7:7700/", YZ_WIRE_CLIENT_WS,
                              NULL))
      die("address");
  } else {
    r->seq = (uint64_t)1 << 40;
    r->node_type = YZ_WIRE_NODE_INFRASTRUCTURE;
    r->capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE |
                      YZ_WIRE_CAP_RELAY | (1u << 8);
    if (yz_record_add_address(r, "ws://198.51.100.20:7700/",
                              YZ_WIRE_CLIENT_WS, NULL) ||
        yz_record_add_address(r, "wss://node.example.org:443/yz",
                              YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS, NULL) ||
        yz_record_add_address(r, "ws://[2001:db8::7]:7700/",
                              YZ_WIRE_CLIENT_WS, NULL))
      die("address");
  }
  if (yz_record_sign(r, id, NULL) != 0)
    die("sign");
}

/* Offset of the sequence number's value in the encoding of a record of
 * network NET: map head, key 1, text head, name, key 2, bstr head (2),
 * key, key 3. */
static size_t seq_offset(void)
{
  return 1 + 1 + 1 + (sizeof NET - 1) + 1 + 2 + YZ_IDENTITY_PK_LEN + 1;
}

static void replace(uint8_t *p, size_t n, const char *from, const char *to)
{
  size_t k = strlen(from);
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(p + i, from, k) == 0) {
      memcpy(p + i, to, k);
      return;
    }
  die("replace: not found");
}

static json_t *vector(const struct vec *v)
{
  yz_identity id, other;
  uint8_t seed[32], oseed[32];
  identity(&id, seed, v->signer);
  identity(&other, oseed, (uint8_t)(v->signer == 1 ? 2 : 1));
  yz_record r;
  make(&r, &id, v->shape);
  if (v->mangle == M_TAMPER_SEQ)
    r.seq++;
  if (v->mangle == M_FOREIGN_KEY) {
    uint8_t pk[YZ_IDENTITY_PK_LEN];
    memcpy(pk, r.identity_pk, sizeof pk);
    if (yz_record_sign(&r, &other, NULL))
      die("sign");
    memcpy(r.identity_pk, pk, sizeof pk);
    yz_node_id_from_public_key(&r.node_id, pk);
  }
  uint8_t sb[YZ_RECORD_SIGNED_MAX_LEN], cb[2 * YZ_RECORD_MAX_LEN];
  size_t sn, cn;
  if (yz_record_signed_bytes(&r, sb, sizeof sb, &sn) ||
      yz_record_encode(&r, cb, sizeof cb, &cn))
    die("encode");
  switch (v->mangle) {
  case M_WIDE_SEQ: {
    size_t o = seq_offset();
    if (cb[o] != 0x05)
      die("seq offset");
    memmove(cb + o + 1, cb + o, cn - o);
    cb[o] = 0x18;
    cn++;
    break;
  }
  case M_TRAILING:
    cb[cn++] = 0x00;
    break;
  case M_DUP_KEY:
    if (cb[seq_offset() + 1] != 0x04)
      die("expiry key offset");
    cb[seq_offset() + 1] = 0x03;
    break;
  case M_PAD_1025:
    memset(cb + cn, 0, YZ_RECORD_MAX_LEN + 1 - cn);
    cn = YZ_RECORD_MAX_LEN + 1;
    break;
  case M_BAD_URL:
    /* Fields changed in both byte strings, then signed for real. */
    replace(cb, cn, "ws://192.0.2.7", "WS://192.0.2.7");
    replace(sb, sn, "ws://192.0.2.7", "WS://192.0.2.7");
    replace((uint8_t *)r.addresses[0].url, r.addresses[0].url_len,
            "ws://192.0.2.7",
            "WS://192.0.2.7");
    yz_identity_sign(&id, sb, sn, r.signature);
    memcpy(cb + cn - YZ_IDENTITY_SIG_LEN, r.signature, YZ_IDENTITY_SIG_LEN);
    break;
  default:
    break;
  }

  yz_identity expect;
  uint8_t eseed[32];
  json_t *expected = json_null();
  if (v->expect_node) {
    identity(&expect, eseed, v->expect_node);
    expected = hex(yz_identity_node_id(&expect)->bytes, YZ_NODE_ID_LEN);
    yz_identity_clear(&expect);
  }
  yz_record_expect ex = {.network = v->network, .now = v->now};
  if (v->expect_node) {
    identity(&expect, eseed, v->expect_node);
    ex.node_id = yz_identity_node_id(&expect);
  }
  yz_record d;
  const char *reason = NULL;
  int rc = yz_record_decode(&d, cb, cn, &ex, &reason);
  if (rc != v->want) {
    fprintf(stderr, "%s: %s (%s)\n", v->name, yz_err_name(rc),
            reason ? reason : "");
    die("decoder disagrees with the vector's intended result");
  }
  if (rc == 0 && memcmp(&d, &r, sizeof d) != 0)
    die("decoded fields differ");

  json_t *j = json_pack(
      "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:I, s:o}, s:s, "
      "s:s?}",
      "name", v->name, "description", v->description, "identity_seed",
      hex(seed, 32), "node_id",
      hex(r.node_id.bytes, YZ_NODE_ID_LEN), "fields", fields_json(&r),
      "signed_bytes", hex(sb, sn), "signature",
      hex(r.signature, YZ_IDENTITY_SIG_LEN), "cbor", hex(cb, cn), "check",
      "network", v->network, "now", (json_int_t)v->now, "expected_node_id",
      expected, "result", yz_err_name(rc), "reason",
      rc ? reason : NULL);
  if (!j)
    die("json");
  if (v->expect_node)
    yz_identity_clear(&expect);
  yz_identity_clear(&id);
  yz_identity_clear(&other);
  return j;
}

static json_t *generate(void)
{
  uint8_t prefix[YZ_RECORD_PREFIX_LEN];
  memcpy(prefix, YZ_RECORD_PREFIX, YZ_RECORD_PREFIX_LEN);
  json_t *arr = json_array();
  for (size_t i = 0; i < YZ__ARRAY_LEN(vecs); i++)
    json_array_append_new(arr, vector(&vecs[i]));
  return json_pack("{s:s, s:s, s:o, s:i, s:s, s:o}", "format",
                   "yz-node-record-vectors-1", "spec",
                   "docs/protocol.md, section Node records", "prefix",
                   hex(prefix, sizeof prefix), "max_len", YZ_RECORD_MAX_LEN,
                   "identity_seed_rule",
                   "SHA-256 of the 30 ASCII bytes 'yz node record vector "
                   "identity' and one byte i (1, 2)",
                   "vectors", arr);
}

int main(int argc, char **argv)
{
  if (yz_init() != 0)
    die("init");
  json_t *gen = generate();
  json_t *file = vec_command_line(argc, argv, gen);
  /* And each vector's CBOR, decoded as the file says, gives its result. */
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(file, "vectors"), i, v)
  {
    const char *c = json_string_value(json_object_get(v, "cbor"));
    json_t *chk = json_object_get(v, "check");
    uint8_t cb[2 * YZ_RECORD_MAX_LEN];
    size_t cn = 0;
    if (!c || yz__hex_decode_var(cb, sizeof cb, &cn, c, strlen(c)) != 0)
      die("bad cbor hex");
    yz_record_expect ex = {
        .network = json_string_value(json_object_get(chk, "network")),
        .now = (uint64_t)json_integer_value(json_object_get(chk, "now"))};
    yz_node_id want_id;
    const char *e =
        json_string_value(json_object_get(chk, "expected_node_id"));
    if (e) {
      if (yz__hex_decode(want_id.bytes, sizeof want_id.bytes, e, strlen(e)))
        die("bad node id hex");
      ex.node_id = &want_id;
    }
    yz_record d;
    int rc = yz_record_decode(&d, cb, cn, &ex, NULL);
    if (strcmp(yz_err_name(rc),
               json_string_value(json_object_get(v, "result"))) != 0)
      die("a vector's result differs");
  }
  printf("%zu node record vectors ok\n",
         json_array_size(json_object_get(file, "vectors")));
  json_decref(gen);
  json_decref(file);
  return 0;
}
