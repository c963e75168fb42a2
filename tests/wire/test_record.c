/*
 * Node records (yz/record.h, docs/protocol.md "Node records"): round trip,
 * the signed bytes, every decoding rule broken once, the replacement rule.
 *
 * Records are also written here by a small CBOR writer of the test's own
 * (not the library's encoder), so the encoder is checked against it and
 * the decoder gets inputs the encoder cannot produce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "yz/record.h"

#define NET "yz-test"
#define NOW 1800000000u /* Unix seconds, 2027-01-15 */

static void identity_of(yz_identity *id, uint8_t seed_byte)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, seed_byte, sizeof seed);
  assert_int_equal(yz_identity_from_seed(id, seed), 0);
}

/* A signed record with two addresses. */
static void sample(yz_record *r, const yz_identity *id)
{
  memset(r, 0, sizeof *r);
  assert_int_equal(yz_record_set_network(r, NET), 0);
  r->seq = 5;
  r->expiry = NOW + 3600;
  r->node_type = YZ_WIRE_NODE_INFRASTRUCTURE;
  r->capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_RELAY;
  assert_int_equal(yz_record_add_address(r, "ws://192.0.2.7:7700/",
                                         YZ_WIRE_CLIENT_WS, NULL),
                   0);
  assert_int_equal(
      yz_record_add_address(r, "wss://node.example.org:443/yz",
                            YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS, NULL),
      0);
  assert_int_equal(yz_record_sign(r, id, NULL), 0);
}

static const yz_record_expect expect_any = {.network = NET, .now = NOW};

static int decode(const uint8_t *b, size_t n, const yz_record_expect *ex,
                  const char **why)
{
  yz_record r;
  memset(&r, 0xA5, sizeof r);
  const char *reason = NULL;
  int rc = yz_record_decode(&r, b, n, ex, &reason);
  if (rc != 0) {
    static const yz_record zero;
    assert_non_null(reason);
    assert_memory_equal(&r, &zero, sizeof r); /* zeroed on error */
  }
  if (why)
    *why = reason;
  return rc;
}

static size_t encode(const yz_record *r, uint8_t *out, size_t cap)
{
  size_t n = 0;
  assert_int_equal(yz_record_encode(r, out, cap, &n), 0);
  return n;
}

/* ---- the test's own CBOR writer ----------------------------------------- */

typedef struct w {
  uint8_t b[4096];
  size_t n;
} w;

static void w_byte(w *o, uint8_t v) { o->b[o->n++] = v; }

static void w_head(w *o, uint8_t major, uint64_t v)
{
  uint8_t m = (uint8_t)(major << 5);
  if (v < 24) {
    w_byte(o, m | (uint8_t)v);
  } else if (v <= 0xff) {
    w_byte(o, m | 24);
    w_byte(o, (uint8_t)v);
  } else if (v <= 0xffff) {
    w_byte(o, m | 25);
    w_byte(o, (uint8_t)(v >> 8));
    w_byte(o, (uint8_t)v);
  } else if (v <= 0xffffffffu) {
    w_byte(o, m | 26);
    for (int i = 3; i >= 0; i--)
      w_byte(o, (uint8_t)(v >> (8 * i)));
  } else {
    w_byte(o, m | 27);
    for (int i = 7; i >= 0; i--)
      w_byte(o, (uint8_t)(v >> (8 * i)));
  }
}

static void w_str(w *o, uint8_t major, const void *p, size_t n)
{
  w_head(o, major, n);
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

enum variant {
  V_PLAIN,
  V_WIDE_SEQ,       /* seq in a two-byte head: not canonical */
  V_NINE_ADDRESSES, /* a ninth address */
  V_EXTRA_KEY,      /* key 9 at the end */
  V_NO_SIGNATURE,   /* key 8 missing */
  V_SWAP_KEYS,      /* keys 3 and 4 in the wrong order */
  V_DUP_KEY,        /* key 3 twice (instead of 4) */
  V_ADDR_EXTRA_KEY, /* an address with key 3 */
  V_SEQ_NEGATIVE,   /* seq as a negative integer */
};

static void w_address(w *o, const char *url, size_t n, uint64_t clients,
                      bool extra)
{
  w_head(o, 5, extra ? 3 : 2);
  w_head(o, 0, 1);
  w_str(o, 3, url, n);
  w_head(o, 0, 2);
  w_head(o, 0, clients);
  if (extra) {
    w_head(o, 0, 3);
    w_head(o, 0, 0);
  }
}

static void w_record(w *o, const yz_record *r, enum variant v)
{
  o->n = 0;
  w_head(o, 5, v == V_EXTRA_KEY ? 9 : v == V_NO_SIGNATURE ? 7 : 8);
  w_head(o, 0, 1);
  w_str(o, 3, r->network, r->network_len);
  w_head(o, 0, 2);
  w_str(o, 2, r->identity_pk, YZ_IDENTITY_PK_LEN);
  if (v == V_SWAP_KEYS) {
    w_head(o, 0, 4);
    w_head(o, 0, r->expiry);
    w_head(o, 0, 3);
    w_head(o, 0, r->seq);
  } else {
    w_head(o, 0, 3);
    if (v == V_WIDE_SEQ) {
      w_byte(o, 0x19);
      w_byte(o, (uint8_t)(r->seq >> 8));
      w_byte(o, (uint8_t)r->seq);
    } else if (v == V_SEQ_NEGATIVE) {
      w_head(o, 1, r->seq);
    } else {
      w_head(o, 0, r->seq);
    }
    w_head(o, 0, v == V_DUP_KEY ? 3 : 4);
    w_head(o, 0, r->expiry);
  }
  w_head(o, 0, 5);
  w_head(o, 0, r->node_type);
  w_head(o, 0, 6);
  w_head(o, 0, r->capabilities);
  w_head(o, 0, 7);
  w_head(o, 4, r->n_addresses + (v == V_NINE_ADDRESSES));
  for (size_t i = 0; i < r->n_addresses; i++)
    w_address(o, r->addresses[i].url, r->addresses[i].url_len,
              r->addresses[i].client_types, v == V_ADDR_EXTRA_KEY);
  if (v == V_NINE_ADDRESSES)
    w_address(o, "ws://192.0.2.99:1/", 18, YZ_WIRE_CLIENT_WS, false);
  if (v != V_NO_SIGNATURE) {
    w_head(o, 0, 8);
    w_str(o, 2, r->signature, YZ_IDENTITY_SIG_LEN);
  }
  if (v == V_EXTRA_KEY) {
    w_head(o, 0, 9);
    w_head(o, 0, 0);
  }
}

/* ---- tests -------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  yz_record r, d;
  sample(&r, &id);
  assert_memory_equal(r.identity_pk, yz_identity_public_key(&id),
                      YZ_IDENTITY_PK_LEN);
  assert_true(yz_node_id_equal(&r.node_id, yz_identity_node_id(&id)));

  uint8_t b[YZ_RECORD_MAX_LEN], b2[YZ_RECORD_MAX_LEN];
  size_t n = encode(&r, b, sizeof b);
  assert_true(n <= YZ_RECORD_MAX_LEN);

  /* The encoder agrees with the test's writer byte for byte. */
  w o;
  w_record(&o, &r, V_PLAIN);
  assert_int_equal(o.n, n);
  assert_memory_equal(o.b, b, n);

  /* Decoded with and without an expected node ID. */
  yz_record_expect ex = {.network = NET,
                         .node_id = yz_identity_node_id(&id),
                         .now = NOW};
  assert_int_equal(yz_record_decode(&d, b, n, &ex, NULL), 0);
  assert_memory_equal(&d, &r, sizeof r);
  assert_int_equal(yz_record_decode(&d, b, n, &expect_any, NULL), 0);
  assert_memory_equal(&d, &r, sizeof r);
  /* Re-encoding gives the same bytes. */
  assert_int_equal(encode(&d, b2, sizeof b2), n);
  assert_memory_equal(b2, b, n);

  /* The encoder refuses a buffer one byte short. */
  size_t m;
  assert_int_equal(yz_record_encode(&r, b2, n - 1, &m), YZ_E_TOO_LARGE);
  yz_identity_clear(&id);
}

/* The signed bytes, laid out as docs/protocol.md "Signed bytes" says. */
static void test_signed_bytes(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  yz_record r;
  sample(&r, &id);
  uint8_t sb[YZ_RECORD_SIGNED_MAX_LEN], want[YZ_RECORD_SIGNED_MAX_LEN];
  size_t n, k = 0;
  assert_int_equal(yz_record_signed_bytes(&r, sb, sizeof sb, &n), 0);

  memcpy(want, "yz node record v1", 17);
  want[17] = 0;
  k = 18;
  want[k++] = 7;
  memcpy(want + k, "yz-test", 7);
  k += 7;
  memcpy(want + k, r.identity_pk, 32);
  k += 32;
  uint64_t nums[4] = {5, NOW + 3600, 1, 5};
  for (int i = 0; i < 4; i++, k += 8)
    yz__store64_be(want + k, nums[i]);
  want[k++] = 2;
  want[k++] = 20;
  memcpy(want + k, "ws://192.0.2.7:7700/", 20);
  k += 20;
  yz__store64_be(want + k, 1);
  k += 8;
  want[k++] = 29;
  memcpy(want + k, "wss://node.example.org:443/yz", 29);
  k += 29;
  yz__store64_be(want + k, 3);
  k += 8;
  assert_int_equal(n, k);
  assert_memory_equal(sb, want, k);
  assert_int_equal(yz_identity_verify(r.identity_pk, sb, n, r.signature), 0);

  /* A buffer one byte short; a field the decoder would refuse. */
  assert_int_equal(yz_record_signed_bytes(&r, sb, k - 1, &n),
                   YZ_E_TOO_LARGE);
  r.node_type = 3;
  assert_int_equal(yz_record_signed_bytes(&r, sb, sizeof sb, &n),
                   YZ_E_INVAL);
  yz_identity_clear(&id);
}

/* Each field changed after signing (the old signature kept), decoded with
 * expectations the change satisfies: only the signature can catch it. */
static void test_tampered_fields(void **state)
{
  (void)state;
  yz_identity id, other;
  identity_of(&id, 1);
  identity_of(&other, 2);
  yz_record good;
  sample(&good, &id);
  for (int f = 0; f < 10; f++) {
    yz_record r = good;
    yz_record_expect ex = expect_any;
    switch (f) {
    case 0: /* network: decoded as a member of the changed network */
      r.network[0] = 'x';
      ex.network = "xz-test";
      break;
    case 1: /* identity key: another node's key with this signature */
      memcpy(r.identity_pk, yz_identity_public_key(&other), 32);
      break;
    case 2:
      r.seq++;
      break;
    case 3:
      r.expiry++;
      break;
    case 4:
      r.node_type = YZ_WIRE_NODE_COMMUNITY;
      break;
    case 5:
      r.capabilities |= YZ_WIRE_CAP_STORAGE;
      break;
    case 6:
      r.addresses[0].url[13] = '8'; /* port 7700 -> 7800 */
      break;
    case 7:
      r.addresses[1].client_types = YZ_WIRE_CLIENT_WSS;
      break;
    case 8: /* an address dropped */
      r.n_addresses = 1;
      break;
    default: /* the signature itself */
      r.signature[f] ^= 1;
      break;
    }
    uint8_t b[YZ_RECORD_MAX_LEN];
    size_t n = encode(&r, b, sizeof b);
    const char *why;
    assert_int_equal(decode(b, n, &ex, &why), YZ_E_BAD_SIGNATURE);
    assert_string_equal(why, "record signature does not verify");
  }
  yz_identity_clear(&id);
  yz_identity_clear(&other);
}

/* Any single bit flipped anywhere in the encoding is refused. */
static void test_every_bit(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  yz_record r;
  sample(&r, &id);
  uint8_t b[YZ_RECORD_MAX_LEN];
  size_t n = encode(&r, b, sizeof b);
  for (size_t i = 0; i < n; i++)
    for (int bit = 0; bit < 8; bit++) {
      b[i] ^= (uint8_t)(1u << bit);
      assert_int_not_equal(decode(b, n, &expect_any, NULL), 0);
      b[i] ^= (uint8_t)(1u << bit);
    }
  assert_int_equal(decode(b, n, &expect_any, NULL), 0);
  yz_identity_clear(&id);
}

static void test_expectations(void **state)
{
  (void)state;
  yz_identity id, other;
  identity_of(&id, 1);
  identity_of(&other, 2);
  yz_record r;
  sample(&r, &id);
  uint8_t b[YZ_RECORD_MAX_LEN];
  size_t n = encode(&r, b, sizeof b);
  const char *why;

  /* Wrong network: also a prefix and an extension of the name. */
  const char *nets[] = {"yz-main", "yz-tes", "yz-test2", "YZ-TEST"};
  for (size_t i = 0; i < YZ__ARRAY_LEN(nets); i++) {
    yz_record_expect ex = {.network = nets[i], .now = NOW};
    assert_int_equal(decode(b, n, &ex, &why), YZ_E_UNSUPPORTED);
    assert_string_equal(why, "record of another network");
  }
  /* Expected another node. */
  yz_record_expect ex = {.network = NET,
                         .node_id = yz_identity_node_id(&other),
                         .now = NOW};
  assert_int_equal(decode(b, n, &ex, &why), YZ_E_PEER_ID_MISMATCH);
  /* Expiry: valid up to the second before, refused at and after it. */
  ex = (yz_record_expect){.network = NET, .now = r.expiry - 1};
  assert_int_equal(decode(b, n, &ex, NULL), 0);
  ex.now = r.expiry;
  assert_int_equal(decode(b, n, &ex, &why), YZ_E_RANGE);
  assert_string_equal(why, "record expired");
  ex.now = UINT64_MAX;
  assert_int_equal(decode(b, n, &ex, NULL), YZ_E_RANGE);
  /* Signed by another key than the one it names (wrong key). */
  yz_record forged = r;
  assert_int_equal(yz_record_sign(&forged, &other, NULL), 0);
  memcpy(forged.identity_pk, r.identity_pk, 32);
  n = encode(&forged, b, sizeof b);
  assert_int_equal(decode(b, n, &expect_any, NULL), YZ_E_BAD_SIGNATURE);
  /* Bad arguments. */
  yz_record d;
  assert_int_equal(yz_record_decode(&d, b, n, NULL, NULL), YZ_E_INVAL);
  yz_record_expect nonet = {.now = NOW};
  assert_int_equal(yz_record_decode(&d, b, n, &nonet, NULL), YZ_E_INVAL);
  assert_int_equal(yz_record_decode(NULL, b, n, &expect_any, NULL),
                   YZ_E_INVAL);
  yz_identity_clear(&id);
  yz_identity_clear(&other);
}

/* The 1 KiB limit, hit exactly: 1024 bytes decode, 1025 do not. */
static void test_size_limit(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 3);
  yz_record r;
  memset(&r, 0, sizeof r);
  assert_int_equal(yz_record_set_network(&r, NET), 0);
  r.expiry = NOW + 1;
  r.node_type = YZ_WIRE_NODE_COMMUNITY;
  char url[YZ_RECORD_URL_MAX_LEN + 1];
  size_t plen = 80;
  for (int i = 0; i < 8; i++) {
    int k = snprintf(url, sizeof url, "ws://192.0.2.%d:7700/", i + 1);
    memset(url + k, 'p', plen);
    url[k + (int)plen] = '\0';
    assert_int_equal(yz_record_add_address(&r, url, 1, NULL), 0);
  }
  assert_int_equal(yz_record_sign(&r, &id, NULL), 0);
  uint8_t b[2 * YZ_RECORD_MAX_LEN];
  size_t n;
  int rc = yz_record_encode(&r, b, sizeof b, &n);
  assert_int_equal(rc, 0);
  assert_true(n < YZ_RECORD_MAX_LEN);
  /* Grow the last URL (same string head width) to exactly 1024 bytes. */
  yz_wire_address *a = &r.addresses[7];
  size_t grow = YZ_RECORD_MAX_LEN - n;
  assert_true(a->url_len + grow <= YZ_RECORD_URL_MAX_LEN);
  memset(a->url + a->url_len, 'q', grow);
  a->url_len = (uint16_t)(a->url_len + grow);
  a->url[a->url_len] = '\0';
  assert_int_equal(yz_record_sign(&r, &id, NULL), 0);
  assert_int_equal(yz_record_encode(&r, b, sizeof b, &n), 0);
  assert_int_equal(n, YZ_RECORD_MAX_LEN);
  assert_int_equal(decode(b, n, &expect_any, NULL), 0);

  /* One more byte: the encoder refuses, and so does the decoder. */
  a->url[a->url_len++] = 'q';
  a->url[a->url_len] = '\0';
  assert_int_equal(yz_record_sign(&r, &id, NULL), 0);
  assert_int_equal(yz_record_encode(&r, b, sizeof b, &n), YZ_E_TOO_LARGE);
  w o;
  w_record(&o, &r, V_PLAIN);
  assert_int_equal(o.n, YZ_RECORD_MAX_LEN + 1);
  const char *why;
  assert_int_equal(decode(o.b, o.n, &expect_any, &why), YZ_E_TOO_LARGE);
  yz_identity_clear(&id);
}

struct raw_case {
  enum variant v;
  int want;
};

static void test_structure(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  yz_record r;
  sample(&r, &id);
  static const struct raw_case cases[] = {
      {V_PLAIN, 0},
      {V_WIDE_SEQ, YZ_E_MALFORMED},
      {V_EXTRA_KEY, YZ_E_MALFORMED},
      {V_NO_SIGNATURE, YZ_E_MALFORMED},
      {V_SWAP_KEYS, YZ_E_MALFORMED},
      {V_DUP_KEY, YZ_E_DUPLICATE},
      {V_ADDR_EXTRA_KEY, YZ_E_MALFORMED},
      {V_SEQ_NEGATIVE, YZ_E_MALFORMED},
  };
  for (size_t i = 0; i < YZ__ARRAY_LEN(cases); i++) {
    w o;
    w_record(&o, &r, cases[i].v);
    const char *why = NULL;
    int rc = decode(o.b, o.n, &expect_any, &why);
    if (rc != cases[i].want)
      fail_msg("variant %d: got %s (%s), want %s", (int)cases[i].v,
               yz_err_name(rc), why ? why : "-",
               yz_err_name(cases[i].want));
  }
  /* Eight addresses decode; a ninth is refused (the decoder's limit). */
  yz_record r8 = r;
  for (int i = 2; i < YZ_RECORD_MAX_ADDRESSES; i++) {
    char url[64];
    snprintf(url, sizeof url, "ws://192.0.2.%d:1/", i);
    assert_int_equal(yz_record_add_address(&r8, url, 1, NULL), 0);
  }
  assert_int_equal(yz_record_sign(&r8, &id, NULL), 0);
  w o;
  w_record(&o, &r8, V_PLAIN);
  assert_int_equal(decode(o.b, o.n, &expect_any, NULL), 0);
  w_record(&o, &r8, V_NINE_ADDRESSES);
  const char *why;
  assert_int_equal(decode(o.b, o.n, &expect_any, &why), YZ_E_MALFORMED);
  assert_string_equal(why,
                      "addresses (key 7) is not an array of 1..8 addresses");

  /* A trailing byte; a truncated record; empty input. */
  w_record(&o, &r, V_PLAIN);
  o.b[o.n] = 0x00;
  assert_int_equal(decode(o.b, o.n + 1, &expect_any, NULL), YZ_E_TRAILING);
  for (size_t k = 0; k < o.n; k++)
    assert_int_not_equal(decode(o.b, k, &expect_any, NULL), 0);
  assert_int_equal(decode(o.b, 0, &expect_any, NULL), YZ_E_TRUNCATED);
  /* Not a map at all. */
  static const uint8_t arr[] = {0x80};
  assert_int_equal(decode(arr, sizeof arr, &expect_any, NULL),
                   YZ_E_MALFORMED);
  yz_identity_clear(&id);
}

struct url_case {
  const char *url;
  uint64_t clients;
};

static void test_bad_addresses(void **state)
{
  (void)state;
  yz_identity id;
  identity_of(&id, 1);
  static const struct url_case bad[] = {
      {"http://192.0.2.7:80/", 1},
      {"ws://192.0.2.7:7700/#"
       "0000000000000000000000000000000000000000000000000000000000000000",
       1},                                /* pinned: the record names it */
      {"WS://192.0.2.7:7700/", 1},        /* not canonical: scheme */
      {"ws://Node.Example.org:7700/", 1}, /* not canonical: host */
      {"ws://192.0.2.7/", 1},             /* not canonical: no port */
      {"ws://192.0.2.7:7700", 1},         /* not canonical: no path? */
      {"ws://192.0.2.7:0/", 1},           /* port 0 */
      {"ws://192.0.2.7:7700/ a", 1},      /* space */
      {"ws://", 1},
      {"", 1},
      {"ws://192.0.2.7:7700/", 0},        /* no client type */
      {"ws://192.0.2.7:7700/", 4},        /* only an unknown client type */
      {"ws://192.0.2.7:7700/", 2},        /* browsers on plain ws:// */
  };
  for (size_t i = 0; i < YZ__ARRAY_LEN(bad); i++) {
    yz_record r;
    sample(&r, &id);
    const char *why = NULL;
    /* The API refuses it... */
    yz_record s = r;
    s.n_addresses = 1;
    int rc = yz_record_add_address(&s, bad[i].url, bad[i].clients, &why);
    if (rc != YZ_E_INVAL)
      fail_msg("add_address accepted \"%s\"", bad[i].url);
    assert_non_null(why);
    /* ...and the decoder too, even when signed (written raw). */
    yz_wire_address *a = &r.addresses[0];
    size_t n = strlen(bad[i].url);
    memcpy(a->url, bad[i].url, n + 1);
    a->url_len = (uint16_t)n;
    a->client_types = bad[i].clients;
    w o;
    w_record(&o, &r, V_PLAIN);
    rc = decode(o.b, o.n, &expect_any, &why);
    if (rc != YZ_E_MALFORMED)
      fail_msg("decoder: \"%s\": %s", bad[i].url, yz_err_name(rc));
  }
  /* The same URL twice. */
  yz_record r;
  sample(&r, &id);
  const char *why;
  assert_int_equal(yz_record_add_address(&r, "ws://192.0.2.7:7700/", 1, &why),
                   YZ_E_INVAL);
  r.addresses[1] = r.addresses[0];
  w o;
  w_record(&o, &r, V_PLAIN);
  assert_int_equal(decode(o.b, o.n, &expect_any, &why), YZ_E_DUPLICATE);
  assert_int_equal(yz_record_sign(&r, &id, &why), YZ_E_INVAL);
  /* The ninth address (the limit). */
  sample(&r, &id);
  for (int i = 2; i < YZ_RECORD_MAX_ADDRESSES; i++) {
    char url[64];
    snprintf(url, sizeof url, "ws://192.0.2.%d:1/", i);
    assert_int_equal(yz_record_add_address(&r, url, 1, NULL), 0);
  }
  assert_int_equal(yz_record_add_address(&r, "ws://192.0.2.99:1/", 1, &why),
                   YZ_E_LIMIT);
  /* Other fields the API refuses. */
  assert_int_equal(yz_record_set_network(&r, ""), YZ_E_INVAL);
  assert_int_equal(yz_record_set_network(&r, "a b"), YZ_E_INVAL);
  assert_int_equal(yz_record_set_network(&r, "Yz"), YZ_E_INVAL);
  assert_int_equal(yz_record_set_network(&r, "yz/test"), YZ_E_INVAL);
  assert_int_equal(
      yz_record_set_network(&r, "01234567890123456789012345678901"),
      0); /* 32 bytes: the handshake's longest network name */
  assert_int_equal(
      yz_record_set_network(&r, "012345678901234567890123456789012"),
      YZ_E_INVAL); /* 33 */
  r.node_type = 0;
  assert_int_equal(yz_record_sign(&r, &id, &why), YZ_E_INVAL);
  assert_string_equal(why,
                      "node type is not 1 (infrastructure) or 2 (community)");
  r.node_type = 1;
  r.n_addresses = 0;
  assert_int_equal(yz_record_sign(&r, &id, NULL), YZ_E_INVAL);
  yz_identity_clear(&id);
}

static void test_newer(void **state)
{
  (void)state;
  yz_identity id, other;
  identity_of(&id, 1);
  identity_of(&other, 2);
  yz_record cur, cand;
  sample(&cur, &id);
  const char *why;

  cand = cur;
  cand.seq = cur.seq + 1;
  assert_int_equal(yz_record_sign(&cand, &id, NULL), 0);
  assert_int_equal(yz_record_newer(&cand, &cur, NULL), 1);
  assert_int_equal(yz_record_newer(&cur, &cand, &why), 0);
  assert_string_equal(why, "older sequence number: the current record stays");
  /* A copy (even with another valid signature) changes nothing. */
  cand = cur;
  assert_int_equal(yz_record_newer(&cand, &cur, &why), 0);
  cand.signature[0] ^= 1;
  assert_int_equal(yz_record_newer(&cand, &cur, &why), 0);
  assert_string_equal(why, "same record: the current one stays");
  /* Same number, other content: refused, the current one stays. */
  cand = cur;
  cand.expiry++;
  assert_int_equal(yz_record_sign(&cand, &id, NULL), 0);
  assert_int_equal(yz_record_newer(&cand, &cur, &why), YZ_E_DUPLICATE);
  assert_int_equal(yz_record_newer(&cur, &cand, NULL), YZ_E_DUPLICATE);
  /* The highest number wins: UINT64_MAX, then nothing replaces it. */
  cand = cur;
  cand.seq = UINT64_MAX;
  assert_int_equal(yz_record_sign(&cand, &id, NULL), 0);
  assert_int_equal(yz_record_newer(&cand, &cur, NULL), 1);
  assert_int_equal(yz_record_newer(&cur, &cand, NULL), 0);
  /* Records of two nodes are not comparable. */
  sample(&cand, &other);
  cand.seq = 99;
  assert_int_equal(yz_record_newer(&cand, &cur, &why), YZ_E_INVAL);
  assert_int_equal(yz_record_newer(NULL, &cur, NULL), YZ_E_INVAL);
  yz_identity_clear(&id);
  yz_identity_clear(&other);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_signed_bytes),
      cmocka_unit_test(test_tampered_fields),
      cmocka_unit_test(test_every_bit),
      cmocka_unit_test(test_expectations),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_structure),
      cmocka_unit_test(test_bad_addresses),
      cmocka_unit_test(test_newer),
  };
  return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
