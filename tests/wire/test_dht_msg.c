/*
 * DHT messages (yz/dht_wire.h, docs/protocol.md "DHT messages"): every
 * message type round-trips through the encoder and the decoder; every
 * decoding rule broken once is refused with its code and reason; the
 * limits are hit; the encoder refuses what the decoder would.
 *
 * Inputs the encoder cannot produce are written by a small CBOR writer of
 * the test's own, which is also checked against the encoder's bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yz/dht_wire.h"

#define NET "yz-test"
#define NOW 1800000000u

/* ---- fixtures ------------------------------------------------------------
 */

/* Two signed node records (contacts) and their encodings. */
static uint8_t rec_enc[3][YZ_RECORD_MAX_LEN];
static size_t rec_len[3];
static yz_node_id rec_id[3];

static int setup(void **state)
{
  (void)state;
  for (int i = 0; i < 3; i++) {
    yz_identity id;
    uint8_t seed[YZ_IDENTITY_SEED_LEN];
    memset(seed, 0x30 + i, sizeof seed);
    assert_int_equal(yz_identity_from_seed(&id, seed), 0);
    yz_record r;
    memset(&r, 0, sizeof r);
    assert_int_equal(yz_record_set_network(&r, NET), 0);
    r.seq = 1;
    r.expiry = NOW + 3600;
    r.node_type = YZ_WIRE_NODE_COMMUNITY;
    assert_int_equal(
        yz_record_add_address(&r, "ws://192.0.2.7:7700/", 1, NULL), 0);
    assert_int_equal(yz_record_sign(&r, &id, NULL), 0);
    assert_int_equal(
        yz_record_encode(&r, rec_enc[i], sizeof rec_enc[i], &rec_len[i]), 0);
    rec_id[i] = r.node_id;
    yz_identity_clear(&id);
  }
  return 0;
}

static yz_dht_bytes contact(int i)
{
  return (yz_dht_bytes){rec_enc[i], rec_len[i]};
}

/* A stand-in DHT record: one canonical CBOR map {1: h'..'} (the record's
 * own format is the record layer's; this layer only bounds it). */
static uint8_t dhtrec[8 + 70000];

static yz_dht_bytes dht_record(size_t value_len)
{
  size_t o = 0;
  dhtrec[o++] = 0xa1;
  dhtrec[o++] = 0x01;
  if (value_len < 24) {
    dhtrec[o++] = (uint8_t)(0x40 | value_len);
  } else if (value_len <= 0xff) {
    dhtrec[o++] = 0x58;
    dhtrec[o++] = (uint8_t)value_len;
  } else if (value_len <= 0xffff) {
    dhtrec[o++] = 0x59;
    dhtrec[o++] = (uint8_t)(value_len >> 8);
    dhtrec[o++] = (uint8_t)value_len;
  } else {
    dhtrec[o++] = 0x5a;
    for (int i = 3; i >= 0; i--)
      dhtrec[o++] = (uint8_t)(value_len >> (8 * i));
  }
  memset(dhtrec + o, 0x76, value_len);
  return (yz_dht_bytes){dhtrec, o + value_len};
}

static uint8_t enc[YZ_DHT_MSG_RECORD_CAP + 64 * 1024];

static size_t encode(const yz_dht_msg *m)
{
  size_t n = 0;
  const char *why = NULL;
  int rc = yz_dht_msg_encode(m, NULL, enc, sizeof enc, &n, &why);
  if (rc)
    fail_msg("encode: %d %s", rc, why ? why : "(null)");
  assert_true(n <= yz_dht_msg_max_len(NULL));
  return n;
}

/* Decode; on error the message is zeroed and a reason given. */
static int decode(const uint8_t *b, size_t n, const yz_dht_msg_limits *lim,
                  yz_dht_msg *out, const char **why)
{
  yz_dht_msg m;
  memset(&m, 0xA5, sizeof m);
  const char *reason = NULL;
  int rc = yz_dht_msg_decode(&m, b, n, lim, &reason);
  if (rc != 0) {
    static const yz_dht_msg zero;
    assert_non_null(reason);
    assert_memory_equal(&m, &zero, sizeof m);
  }
  if (out)
    *out = m;
  if (why)
    *why = reason;
  return rc;
}

/* Refused with code and a reason containing text. */
static void refused(const uint8_t *b, size_t n, const yz_dht_msg_limits *lim,
                    int code, const char *text)
{
  const char *why = NULL;
  int rc = decode(b, n, lim, NULL, &why);
  if (rc != code || !strstr(why, text))
    fail_msg("want %s \"%s\", got %s \"%s\"", yz_err_name(code), text,
             yz_err_name(rc), why ? why : "(null)");
}

static void same_bytes(const yz_dht_bytes *a, const yz_dht_bytes *b)
{
  assert_int_equal(a->len, b->len);
  assert_memory_equal(a->ptr, b->ptr, a->len);
}

/* Encode, decode, compare every field, re-encode to the same bytes. */
static void roundtrip(const yz_dht_msg *m)
{
  size_t n = encode(m);
  static uint8_t copy[200000];
  assert_true(n <= sizeof copy);
  memcpy(copy, enc, n);
  yz_dht_msg d;
  const char *why = NULL;
  int rc = decode(copy, n, NULL, &d, &why);
  if (rc)
    fail_msg("decode: %s %s", yz_err_name(rc), why);
  assert_int_equal(d.type, m->type);
  struct {
    bool target, closer, providers, provider, status;
  } has = {false, false, false, false, false};
  switch (m->type) {
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET:
  case YZ_DHT_GET_PROVIDERS:
    has.target = true;
    break;
  case YZ_DHT_PUT:
    has.target = true;
    break;
  case YZ_DHT_PROVIDE:
    has.target = has.provider = true;
    break;
  case YZ_DHT_FIND_NODE_RESP:
  case YZ_DHT_GET_RESP:
    has.closer = true;
    break;
  case YZ_DHT_GET_PROVIDERS_RESP:
    has.closer = has.providers = true;
    break;
  default:
    has.status = true;
  }
  if (has.target)
    assert_memory_equal(d.target, m->target, YZ_DHT_KEY_LEN);
  assert_int_equal(d.client_only, m->client_only);
  assert_int_equal(d.spread, m->spread);
  if (has.closer) {
    assert_int_equal(d.n_closer, m->n_closer);
    for (size_t i = 0; i < d.n_closer; i++)
      same_bytes(&d.closer[i], &m->closer[i]);
  }
  if (has.providers) {
    assert_int_equal(d.n_providers, m->n_providers);
    for (size_t i = 0; i < d.n_providers; i++)
      same_bytes(&d.providers[i], &m->providers[i]);
  }
  if (has.provider)
    same_bytes(&d.provider, &m->provider);
  assert_int_equal(d.has_record, m->has_record);
  if (d.has_record)
    same_bytes(&d.record, &m->record);
  assert_int_equal(d.has_seq, m->has_seq);
  assert_int_equal(d.seq, m->has_seq ? m->seq : 0);
  assert_int_equal(d.has_cas, m->has_cas);
  assert_int_equal(d.cas, m->has_cas ? m->cas : 0);
  if (has.status)
    assert_int_equal(d.status, m->status);
  assert_int_equal(d.reason_len, m->reason_len);
  assert_memory_equal(d.reason, m->reason, m->reason_len);
  /* Pointers go into the input, nothing is copied. */
  if (d.has_record)
    assert_true(d.record.ptr > copy && d.record.ptr < copy + n);
  size_t n2 = encode(&d);
  assert_int_equal(n2, n);
  assert_memory_equal(enc, copy, n);
}

static void set_target(yz_dht_msg *m, uint8_t b)
{
  memset(m->target, b, YZ_DHT_KEY_LEN);
}

/* ---- round trips ---------------------------------------------------------
 */

static void test_roundtrip_requests(void **state)
{
  (void)state;
  yz_dht_msg m;

  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  set_target(&m, 0x11);
  roundtrip(&m);
  m.client_only = true;
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_GET);
  set_target(&m, 0x22);
  roundtrip(&m);
  m.has_seq = true;
  m.seq = UINT64_MAX;
  m.client_only = true;
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_PUT);
  set_target(&m, 0x33);
  m.has_record = true;
  m.record = dht_record(5);
  roundtrip(&m);
  m.has_cas = true;
  m.cas = 0; /* expect "nothing stored yet" is a valid CAS too */
  roundtrip(&m);
  m.cas = 70000;
  m.record = dht_record(65536); /* a 64 KiB value fits by default */
  roundtrip(&m);
  m.spread = true;
  roundtrip(&m);
  m.has_cas = false;
  m.client_only = true;
  m.record = dht_record(5);
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_PROVIDE);
  set_target(&m, 0x44);
  m.provider = contact(0);
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_GET_PROVIDERS);
  set_target(&m, 0x55);
  m.client_only = true;
  roundtrip(&m);
}

static void test_roundtrip_responses(void **state)
{
  (void)state;
  yz_dht_msg m;

  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE_RESP);
  roundtrip(&m); /* an empty list */
  for (int i = 0; i < 3; i++)
    m.closer[m.n_closer++] = contact(i);
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_GET_RESP);
  m.closer[m.n_closer++] = contact(1);
  roundtrip(&m); /* not found here: closer peers only */
  m.has_record = true;
  m.record = dht_record(300);
  roundtrip(&m);

  yz_dht_msg_init(&m, YZ_DHT_GET_PROVIDERS_RESP);
  roundtrip(&m);
  m.providers[m.n_providers++] = contact(0);
  m.providers[m.n_providers++] = contact(2);
  m.closer[m.n_closer++] = contact(1);
  roundtrip(&m);

  for (uint64_t st = 0; st <= YZ_DHT_ST_MAX; st++) {
    yz_dht_msg_init(&m, YZ_DHT_STATUS);
    m.status = st;
    roundtrip(&m);
    assert_string_not_equal(yz_dht_status_name(st), "?");
  }
  assert_string_equal(yz_dht_status_name(YZ_DHT_ST_SEQ_TOO_LOW),
                      "SEQ_TOO_LOW");
  assert_string_equal(yz_dht_status_name(YZ_DHT_ST_MAX + 1), "?");
  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  m.status = YZ_DHT_ST_SEQ_TOO_LOW;
  m.has_seq = true;
  m.seq = 9;
  strcpy(m.reason, "stored seq is 9");
  m.reason_len = strlen(m.reason);
  roundtrip(&m);
  memset(m.reason, 'r', YZ_DHT_MSG_REASON_MAX_LEN);
  m.reason_len = YZ_DHT_MSG_REASON_MAX_LEN;
  roundtrip(&m);
}

/* Bytes fixed by docs/protocol.md "DHT messages", "Examples". */
static void test_known_bytes(void **state)
{
  (void)state;
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  set_target(&m, 0xab);
  m.client_only = true;
  size_t n = encode(&m);
  uint8_t want[3 + 2 + 2 + 32 + 2];
  size_t o = 0;
  want[o++] = 0xa3;
  want[o++] = 0x01, want[o++] = 0x01;
  want[o++] = 0x02, want[o++] = 0x58, want[o++] = 0x20;
  memset(want + o, 0xab, 32);
  o += 32;
  want[o++] = 0x03, want[o++] = 0xf5;
  assert_int_equal(n, o);
  assert_memory_equal(enc, want, o);

  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  m.status = YZ_DHT_ST_CAS_MISMATCH;
  m.has_seq = true;
  m.seq = 7;
  n = encode(&m);
  static const uint8_t st[] = {0xa3, 0x01, 0x14, 0x06, 0x07, 0x0a, 0x0a};
  assert_int_equal(n, sizeof st);
  assert_memory_equal(enc, st, sizeof st);

  /* spread is key 12 (0x0c), true (0xf5), after the record */
  static const uint8_t rec[] = {0xa1, 0x01, 0x45, 'h', 'e', 'l', 'l', 'o'};
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  set_target(&m, 0xcd);
  m.has_record = true;
  m.record = (yz_dht_bytes){rec, sizeof rec};
  m.spread = true;
  n = encode(&m);
  assert_int_equal(n, 1 + 2 + 35 + 2 + sizeof rec + 2);
  assert_int_equal(enc[0], 0xa4);
  assert_memory_equal(enc + 38, "\x05\x48", 2);
  assert_memory_equal(enc + 40, rec, sizeof rec);
  assert_memory_equal(enc + 48, "\x0c\xf5", 2);
}

/* The other examples of docs/protocol.md "DHT messages", "Examples", and
 * the message size bound of its "Limits". */
static void test_doc_examples(void **state)
{
  (void)state;
  yz_dht_msg m;
  size_t n;
  static const uint8_t value[] = {0xa1, 0x01, 0x45, 'h', 'e', 'l', 'l', 'o'};

  yz_dht_msg_init(&m, YZ_DHT_GET);
  set_target(&m, 0x22);
  m.has_seq = true;
  m.seq = 4;
  n = encode(&m);
  assert_int_equal(n, 1 + 2 + 35 + 2);
  assert_memory_equal(enc, "\xa3\x01\x02\x02\x58\x20", 6);
  assert_memory_equal(enc + 38, "\x06\x04", 2);

  yz_dht_msg_init(&m, YZ_DHT_PUT);
  set_target(&m, 0x33);
  m.has_record = true;
  m.record = (yz_dht_bytes){value, sizeof value};
  m.has_cas = true;
  m.cas = 3;
  n = encode(&m);
  assert_int_equal(n, 6 + 32 + 2 + sizeof value + 2);
  assert_memory_equal(enc, "\xa4\x01\x03\x02\x58\x20", 6);
  assert_memory_equal(enc + 38, "\x05\x48\xa1\x01\x45hello\x07\x03", 12);

  yz_dht_msg_init(&m, YZ_DHT_GET_RESP);
  n = encode(&m);
  assert_int_equal(n, 5);
  assert_memory_equal(enc, "\xa2\x01\x0c\x04\x80", 5);

  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  n = encode(&m);
  assert_int_equal(n, 5);
  assert_memory_equal(enc, "\xa2\x01\x14\x0a\x00", 5);

  m.status = YZ_DHT_ST_SEQ_TOO_LOW;
  strcpy(m.reason, "seq too low");
  m.reason_len = 11;
  n = encode(&m);
  assert_int_equal(n, 7 + 11);
  assert_memory_equal(enc, "\xa3\x01\x14\x0a\x08\x0b\x6bseq too low", 18);

  assert_int_equal(yz_dht_msg_max_len(NULL), 108873);
}

static void test_answers(void **state)
{
  (void)state;
  assert_true(yz_dht_msg_answers(YZ_DHT_FIND_NODE, YZ_DHT_FIND_NODE_RESP));
  assert_true(yz_dht_msg_answers(YZ_DHT_FIND_NODE, YZ_DHT_STATUS));
  assert_false(yz_dht_msg_answers(YZ_DHT_FIND_NODE, YZ_DHT_GET_RESP));
  assert_true(yz_dht_msg_answers(YZ_DHT_GET, YZ_DHT_GET_RESP));
  assert_true(
      yz_dht_msg_answers(YZ_DHT_GET_PROVIDERS, YZ_DHT_GET_PROVIDERS_RESP));
  assert_true(yz_dht_msg_answers(YZ_DHT_PUT, YZ_DHT_STATUS));
  assert_false(yz_dht_msg_answers(YZ_DHT_PUT, (yz_dht_msg_type)13));
  assert_true(yz_dht_msg_answers(YZ_DHT_PROVIDE, YZ_DHT_STATUS));
  assert_false(yz_dht_msg_answers(YZ_DHT_PROVIDE, (yz_dht_msg_type)14));
  assert_false(yz_dht_msg_answers(YZ_DHT_STATUS, YZ_DHT_STATUS));
  assert_false(yz_dht_msg_answers(YZ_DHT_GET_RESP, YZ_DHT_STATUS));
  assert_true(yz_dht_msg_answers(YZ_DHT_HELLO, YZ_DHT_HELLO_RESP));
  assert_true(yz_dht_msg_answers(YZ_DHT_HELLO, YZ_DHT_STATUS));
  assert_false(yz_dht_msg_answers(YZ_DHT_HELLO, YZ_DHT_FIND_NODE_RESP));
}

/* HELLO carries the sender's record or says client-only: exactly one;
 * HELLO_RESP carries the responder's record or nothing. */
static void test_hello(void **state)
{
  (void)state;
  yz_dht_msg m, d;
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.provider = contact(0);
  size_t n = encode(&m);
  assert_int_equal(enc[0], 0xa2);
  assert_int_equal(decode(enc, n, NULL, &d, NULL), 0);
  assert_int_equal(d.type, YZ_DHT_HELLO);
  same_bytes(&d.provider, &m.provider);
  assert_false(d.client_only);

  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.client_only = true;
  n = encode(&m);
  static const uint8_t hc[] = {0xa2, 0x01, 0x06, 0x03, 0xf5};
  assert_int_equal(n, sizeof hc);
  assert_memory_equal(enc, hc, n);
  assert_int_equal(decode(enc, n, NULL, &d, NULL), 0);
  assert_true(d.client_only);
  assert_null(d.provider.ptr);

  /* Neither, or both: refused by both sides. */
  const char *why = NULL;
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "without provider"));
  static const uint8_t h0[] = {0xa1, 0x01, 0x06};
  assert_int_equal(decode(h0, sizeof h0, NULL, NULL, &why), YZ_E_MALFORMED);
  assert_non_null(strstr(why, "without provider"));
  m.client_only = true;
  m.provider = contact(1);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "both"));

  yz_dht_msg_init(&m, YZ_DHT_HELLO_RESP);
  n = encode(&m);
  static const uint8_t hr[] = {0xa1, 0x01, 0x10};
  assert_int_equal(n, sizeof hr);
  assert_memory_equal(enc, hr, n);
  m.provider = contact(1);
  n = encode(&m);
  assert_int_equal(decode(enc, n, NULL, &d, NULL), 0);
  assert_int_equal(d.type, YZ_DHT_HELLO_RESP);
  same_bytes(&d.provider, &m.provider);
  /* a HELLO_RESP has no client flag; a HELLO no target */
  static const uint8_t rc3[] = {0xa2, 0x01, 0x10, 0x03, 0xf5};
  assert_int_equal(decode(rc3, sizeof rc3, NULL, NULL, &why), YZ_E_MALFORMED);
  assert_non_null(strstr(why, "client (3) not allowed"));
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.client_only = true;
  m.type = YZ_DHT_HELLO;
  set_target(&m, 1);
  /* set_target marks nothing: a target is never present in a HELLO */
  n = encode(&m);
  assert_int_equal(n, sizeof hc);
}

/* A contact decodes to its node record; a tampered one does not. */
static void test_contact_decode(void **state)
{
  (void)state;
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE_RESP);
  m.closer[m.n_closer++] = contact(2);
  size_t n = encode(&m);
  yz_dht_msg d;
  assert_int_equal(decode(enc, n, NULL, &d, NULL), 0);
  yz_record r;
  yz_record_expect ex = {.network = NET, .now = NOW};
  assert_int_equal(yz_dht_msg_contact_decode(&r, &d.closer[0], &ex, NULL), 0);
  assert_true(yz_node_id_equal(&r.node_id, &rec_id[2]));
  ex.now = NOW + 3600;
  assert_int_equal(yz_dht_msg_contact_decode(&r, &d.closer[0], &ex, NULL),
                   YZ_E_RANGE);
  assert_int_equal(yz_dht_msg_contact_decode(&r, NULL, &ex, NULL), YZ_E_INVAL);
}

/* ---- the test's own CBOR writer ----------------------------------------- */

typedef struct w {
  uint8_t b[200000];
  size_t n;
} w;

static w wb;

static void w_byte(w *o, uint8_t v)
{
  o->b[o->n++] = v;
}

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

static w *start(uint64_t pairs)
{
  wb.n = 0;
  w_head(&wb, 5, pairs);
  return &wb;
}

static void k_uint(w *o, uint64_t key, uint64_t v)
{
  w_head(o, 0, key);
  w_head(o, 0, v);
}

static void k_target(w *o, size_t len)
{
  uint8_t t[64];
  memset(t, 0x5a, sizeof t);
  w_head(o, 0, YZ_DHT_MKEY_TARGET);
  w_str(o, 2, t, len);
}

static void test_writer_matches_encoder(void **state)
{
  (void)state;
  yz_dht_msg m;
  yz_dht_msg_init(&m, YZ_DHT_GET);
  memset(m.target, 0x5a, YZ_DHT_KEY_LEN);
  m.has_seq = true;
  m.seq = 300;
  size_t n = encode(&m);
  w *o = start(3);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 32);
  k_uint(o, 6, 300);
  assert_int_equal(o->n, n);
  assert_memory_equal(o->b, enc, n);
}

/* ---- every rule broken once ----------------------------------------------
 */

static void test_generic_rules(void **state)
{
  (void)state;
  w *o;
  /* Not a map. */
  o = &wb;
  o->n = 0;
  w_head(o, 4, 1);
  w_head(o, 0, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not a CBOR map");
  /* Empty input. */
  refused(o->b, 0, NULL, YZ_E_TRUNCATED, "empty");
  /* Trailing bytes. */
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  w_byte(o, 0x00);
  refused(o->b, o->n, NULL, YZ_E_TRAILING, "trailing");
  /* Truncated. */
  refused(o->b, o->n - 5, NULL, YZ_E_TRUNCATED, "");
  /* A repeated key. */
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_DUPLICATE, "duplicate");
  /* Keys out of order. */
  o = start(2);
  k_target(o, 32);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "canonical order");
  /* A head wider than needed. */
  o = start(2);
  w_byte(o, 0x01);
  w_byte(o, 0x18);
  w_byte(o, 0x01);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "minimal");
  /* A float and a tag. */
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET);
  w_head(o, 0, 2);
  w_byte(o, 0xf9);
  w_byte(o, 0);
  w_byte(o, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "float");
  o = start(1);
  w_head(o, 0, 1);
  w_byte(o, 0xc1);
  w_byte(o, 0x01);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "tag");
  /* Nesting deeper than YZ_WIRE_MAX_DEPTH (a closer list of arrays). */
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE_RESP);
  w_head(o, 0, 4);
  for (int i = 0; i < YZ_WIRE_MAX_DEPTH; i++)
    w_head(o, 4, 1);
  w_head(o, 0, 0);
  refused(o->b, o->n, NULL, YZ_E_TOO_DEEP, "nested too deeply");
  /* Longer than any message the limits allow, before it is parsed. */
  size_t max = yz_dht_msg_max_len(NULL);
  assert_true(max > YZ_DHT_MSG_MAX_RECORD_LEN);
  assert_true(max < sizeof wb.b);
  memset(wb.b, 0, max + 1);
  refused(wb.b, max + 1, NULL, YZ_E_TOO_LARGE, "longer than allowed");
  /* A text key, key 0, key 13. */
  o = start(1);
  w_str(o, 3, "a", 1);
  w_head(o, 0, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not an unsigned integer");
  o = start(1);
  k_uint(o, 0, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "unknown map key");
  o = start(2);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 13, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "unknown map key");
  /* No type; a type that is not a uint; an unknown type. */
  o = start(1);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "type (1) missing");
  o = start(0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "type (1) missing");
  o = start(1);
  w_head(o, 0, 1);
  w_head(o, 1, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "type (1) is not");
  uint64_t bad_types[] = {0, 7, 10, 13, 14, 17, 21, 255, 256, UINT64_MAX};
  for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
    o = start(1);
    k_uint(o, 1, bad_types[i]);
    refused(o->b, o->n, NULL, YZ_E_UNSUPPORTED, "unknown DHT message type");
  }
  /* Arguments. */
  yz_dht_msg m;
  const char *why = NULL;
  assert_int_equal(yz_dht_msg_decode(NULL, wb.b, 1, NULL, &why), YZ_E_INVAL);
  yz_dht_msg_limits big = {.max_contacts = YZ_DHT_MSG_CONTACTS_CAP + 1};
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  assert_int_equal(yz_dht_msg_decode(&m, o->b, o->n, &big, &why), YZ_E_INVAL);
  assert_int_equal(yz_dht_msg_max_len(&big), 0);
  big = (yz_dht_msg_limits){.max_providers = YZ_DHT_MSG_PROVIDERS_CAP + 1};
  assert_int_equal(yz_dht_msg_max_len(&big), 0);
  big = (yz_dht_msg_limits){.max_record_len = YZ_DHT_MSG_RECORD_CAP + 1};
  assert_int_equal(yz_dht_msg_max_len(&big), 0);
  assert_int_equal(yz_dht_msg_decode(&m, o->b, o->n, NULL, &why), 0);
}

static void test_request_rules(void **state)
{
  (void)state;
  w *o;
  /* target */
  o = start(1);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) missing");
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 31);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) is not a 32-byte");
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS);
  k_target(o, 33);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) is not a 32-byte");
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  w_head(o, 0, 2);
  w_str(o, 3, "0123456789abcdef0123456789abcdef", 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) is not a 32-byte");
  /* client: only true, only in requests */
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  w_head(o, 0, 3);
  w_byte(o, 0xf4);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "client (3) is not true");
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  k_uint(o, 3, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "client (3) is not true");
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE_RESP);
  w_head(o, 0, 3);
  w_byte(o, 0xf5);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "client (3) not allowed");
  /* seq and cas: uints, each only where allowed */
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 32);
  w_head(o, 0, 6);
  w_head(o, 1, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "seq (6) is not");
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  k_uint(o, 6, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "seq (6) not allowed");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 32);
  k_uint(o, 7, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "cas (7) not allowed");
  yz_dht_bytes rec = dht_record(4);
  o = start(4);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  w_head(o, 0, 7);
  w_str(o, 3, "1", 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "cas (7) is not");
  /* spread: only true, only in a PUT */
  o = start(4);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  w_head(o, 0, 12);
  w_byte(o, 0xf4);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "spread (12) is not true");
  o = start(4);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  k_uint(o, 12, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "spread (12) is not true");
  {
    static const yz_dht_msg_type others[] = {
        YZ_DHT_FIND_NODE, YZ_DHT_GET, YZ_DHT_GET_PROVIDERS};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
      o = start(3);
      k_uint(o, 1, others[i]);
      k_target(o, 32);
      w_head(o, 0, 12);
      w_byte(o, 0xf5);
      refused(o->b, o->n, NULL, YZ_E_MALFORMED, "spread (12) not allowed");
    }
  }
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 0);
  w_head(o, 0, 12);
  w_byte(o, 0xf5);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "spread (12) not allowed");
  /* PUT: the record */
  o = start(2);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "record (5) missing");
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 3, "x", 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "record (5) is not a byte");
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, "", 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "record (5) is an empty");
  static const uint8_t not_one_item[] = {0x01, 0x02};
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, not_one_item, sizeof not_one_item);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not one canonical CBOR item");
  static const uint8_t wide[] = {0x18, 0x01};
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, wide, sizeof wide);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not one canonical CBOR item");
  /* The record limit: the default takes a 64 KiB value, a configured one
   * is hit at one byte over. */
  rec = dht_record(YZ_DHT_MSG_MAX_RECORD_LEN + 1 - 7);
  assert_int_equal(rec.len, YZ_DHT_MSG_MAX_RECORD_LEN + 1);
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  refused(o->b, o->n, NULL, YZ_E_TOO_LARGE, "record (5) is longer");
  yz_dht_msg_limits lim = {.max_record_len = 100};
  rec = dht_record(100 - 4);
  assert_int_equal(rec.len, 100);
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  assert_int_equal(decode(o->b, o->n, &lim, NULL, NULL), 0);
  rec = dht_record(100 - 3);
  o = start(3);
  k_uint(o, 1, YZ_DHT_PUT);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  refused(o->b, o->n, &lim, YZ_E_TOO_LARGE, "record (5) is longer");
  /* the record where it does not belong */
  rec = dht_record(1);
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 32);
  w_head(o, 0, 5);
  w_str(o, 2, rec.ptr, rec.len);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "record (5) not allowed");
  /* PROVIDE: the provider's node record */
  o = start(2);
  k_uint(o, 1, YZ_DHT_PROVIDE);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "provider (9) missing");
  o = start(3);
  k_uint(o, 1, YZ_DHT_PROVIDE);
  k_target(o, 32);
  w_head(o, 0, 9);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "provider (9) is not a byte");
  o = start(3);
  k_uint(o, 1, YZ_DHT_PROVIDE);
  k_target(o, 32);
  w_head(o, 0, 9);
  w_str(o, 2, rec_enc[0], rec_len[0] - 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not one canonical CBOR map");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS);
  k_target(o, 32);
  w_head(o, 0, 9);
  w_str(o, 2, rec_enc[0], rec_len[0]);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "provider (9) not allowed");
}

/* A response with the closer list of n copies of contact i (or of the
 * given bytes) and nothing else. */
static w *closer_resp(uint64_t type, size_t n, const uint8_t *c, size_t clen)
{
  w *o = start(2);
  k_uint(o, 1, type);
  w_head(o, 0, 4);
  w_head(o, 4, n);
  for (size_t i = 0; i < n; i++)
    w_str(o, 2, c, clen);
  return o;
}

/* A canonical CBOR map that differs for each i: {1: i}. */
static size_t fake_contact(uint8_t *out, size_t i, size_t pad)
{
  size_t o = 0;
  out[o++] = 0xa2;
  out[o++] = 0x01;
  if (i < 24) { /* minimal heads */
    out[o++] = (uint8_t)i;
  } else {
    out[o++] = 0x18;
    out[o++] = (uint8_t)i;
  }
  out[o++] = 0x02;
  if (pad < 24) {
    out[o++] = (uint8_t)(0x40 | pad);
  } else if (pad <= 0xff) {
    out[o++] = 0x58;
    out[o++] = (uint8_t)pad;
  } else {
    out[o++] = 0x59;
    out[o++] = (uint8_t)(pad >> 8);
    out[o++] = (uint8_t)pad;
  }
  memset(out + o, 0, pad);
  return o + pad;
}

static w *list_resp(uint64_t type, uint64_t key, size_t n, size_t pad)
{
  w *o = start(type == YZ_DHT_GET_PROVIDERS_RESP ? 3 : 2);
  k_uint(o, 1, type);
  if (type == YZ_DHT_GET_PROVIDERS_RESP && key == 8) {
    w_head(o, 0, 4);
    w_head(o, 4, 0);
  }
  w_head(o, 0, key);
  w_head(o, 4, n);
  for (size_t i = 0; i < n; i++) {
    uint8_t c[YZ_RECORD_MAX_LEN + 16];
    size_t cl = fake_contact(c, i, pad);
    w_str(o, 2, c, cl);
  }
  if (type == YZ_DHT_GET_PROVIDERS_RESP && key == 4) {
    w_head(o, 0, 8);
    w_head(o, 4, 0);
  }
  return o;
}

static void test_response_rules(void **state)
{
  (void)state;
  w *o;
  /* closer: required, an array of byte strings */
  o = start(1);
  k_uint(o, 1, YZ_DHT_FIND_NODE_RESP);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "closer (4) missing");
  o = start(1);
  k_uint(o, 1, YZ_DHT_GET_RESP);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "closer (4) missing");
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE_RESP);
  w_head(o, 0, 4);
  w_str(o, 2, rec_enc[0], rec_len[0]);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "closer (4) is not an array");
  o = start(2);
  k_uint(o, 1, YZ_DHT_FIND_NODE_RESP);
  w_head(o, 0, 4);
  w_head(o, 4, 1);
  w_head(o, 0, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not a byte string");
  o = closer_resp(YZ_DHT_FIND_NODE_RESP, 1, rec_enc[0], 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "empty byte string");
  static const uint8_t arr[] = {0x80};
  o = closer_resp(YZ_DHT_FIND_NODE_RESP, 1, arr, 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not one canonical CBOR map");
  uint8_t trail[YZ_RECORD_MAX_LEN];
  memcpy(trail, rec_enc[1], rec_len[1]);
  trail[rec_len[1]] = 0;
  o = closer_resp(YZ_DHT_FIND_NODE_RESP, 1, trail, rec_len[1] + 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not one canonical CBOR map");
  o = closer_resp(YZ_DHT_FIND_NODE_RESP, 2, rec_enc[1], rec_len[1]);
  refused(o->b, o->n, NULL, YZ_E_DUPLICATE, "same contact twice");
  /* A contact over the node record's size. */
  o = list_resp(YZ_DHT_FIND_NODE_RESP, 4, 1, YZ_RECORD_MAX_LEN - 7);
  assert_int_equal(decode(o->b, o->n, NULL, NULL, NULL), 0);
  o = list_resp(YZ_DHT_FIND_NODE_RESP, 4, 1, YZ_RECORD_MAX_LEN - 6);
  refused(o->b, o->n, NULL, YZ_E_TOO_LARGE, "longer than a node record");
  /* k = 20 contacts, of the largest size, fit; 21 do not. */
  o = list_resp(YZ_DHT_GET_RESP, 4, YZ_DHT_MSG_MAX_CONTACTS,
                YZ_RECORD_MAX_LEN - 7);
  yz_dht_msg d;
  assert_int_equal(decode(o->b, o->n, NULL, &d, NULL), 0);
  assert_int_equal(d.n_closer, YZ_DHT_MSG_MAX_CONTACTS);
  o = list_resp(YZ_DHT_GET_RESP, 4, YZ_DHT_MSG_MAX_CONTACTS + 1, 10);
  refused(o->b, o->n, NULL, YZ_E_LIMIT, "more contacts or providers");
  /* A configured limit, up to the cap. */
  yz_dht_msg_limits lim = {.max_contacts = 3};
  o = list_resp(YZ_DHT_FIND_NODE_RESP, 4, 3, 0);
  assert_int_equal(decode(o->b, o->n, &lim, NULL, NULL), 0);
  o = list_resp(YZ_DHT_FIND_NODE_RESP, 4, 4, 0);
  refused(o->b, o->n, &lim, YZ_E_LIMIT, "more contacts or providers");
  lim.max_contacts = YZ_DHT_MSG_CONTACTS_CAP;
  o = list_resp(YZ_DHT_FIND_NODE_RESP, 4, YZ_DHT_MSG_CONTACTS_CAP, 0);
  assert_int_equal(decode(o->b, o->n, &lim, NULL, NULL), 0);
  /* providers: required in GET_PROVIDERS_RESP, bounded, a set */
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS_RESP);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "providers (8) missing");
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS_RESP);
  w_head(o, 0, 8);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "closer (4) missing");
  o = list_resp(YZ_DHT_GET_PROVIDERS_RESP, 8, YZ_DHT_MSG_MAX_PROVIDERS, 3);
  assert_int_equal(decode(o->b, o->n, NULL, &d, NULL), 0);
  assert_int_equal(d.n_providers, YZ_DHT_MSG_MAX_PROVIDERS);
  o = list_resp(YZ_DHT_GET_PROVIDERS_RESP, 8, YZ_DHT_MSG_MAX_PROVIDERS + 1, 3);
  refused(o->b, o->n, NULL, YZ_E_LIMIT, "more contacts or providers");
  lim = (yz_dht_msg_limits){.max_providers = 2};
  o = list_resp(YZ_DHT_GET_PROVIDERS_RESP, 8, 3, 3);
  refused(o->b, o->n, &lim, YZ_E_LIMIT, "more contacts or providers");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS_RESP);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  w_head(o, 0, 8);
  w_head(o, 4, 2);
  w_str(o, 2, rec_enc[2], rec_len[2]);
  w_str(o, 2, rec_enc[2], rec_len[2]);
  refused(o->b, o->n, NULL, YZ_E_DUPLICATE, "same contact twice");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET_PROVIDERS_RESP);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  w_head(o, 0, 8);
  w_head(o, 5, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "providers (8) is not an array");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET_RESP);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  w_head(o, 0, 8);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "providers (8) not allowed");
  /* closer where it does not belong */
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  w_head(o, 0, 4);
  w_head(o, 4, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "closer (4) not allowed");
  o = start(2);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_target(o, 32);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) not allowed");
}

static void test_status_rules(void **state)
{
  (void)state;
  w *o;
  o = start(1);
  k_uint(o, 1, YZ_DHT_STATUS);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "status (10) missing");
  o = start(2);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, YZ_DHT_ST_MAX + 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not a known status");
  o = start(2);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, UINT64_MAX);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "not a known status");
  o = start(2);
  k_uint(o, 1, YZ_DHT_STATUS);
  w_head(o, 0, 10);
  w_head(o, 1, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "status (10) is not");
  o = start(2);
  k_uint(o, 1, YZ_DHT_GET);
  k_uint(o, 10, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "target (2) missing");
  o = start(3);
  k_uint(o, 1, YZ_DHT_GET);
  k_target(o, 32);
  k_uint(o, 10, 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "status (10) not allowed");
  /* reason: 1..128 bytes of UTF-8 text */
  char r[YZ_DHT_MSG_REASON_MAX_LEN + 1];
  memset(r, 'r', sizeof r);
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 3);
  w_head(o, 0, 11);
  w_str(o, 3, r, sizeof r - 1);
  assert_int_equal(decode(o->b, o->n, NULL, NULL, NULL), 0);
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 3);
  w_head(o, 0, 11);
  w_str(o, 3, r, sizeof r);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "longer than 128 bytes");
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 3);
  w_head(o, 0, 11);
  w_str(o, 3, "", 0);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "reason (11) is empty");
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 3);
  w_head(o, 0, 11);
  w_str(o, 2, "x", 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "reason (11) is not a text");
  o = start(3);
  k_uint(o, 1, YZ_DHT_STATUS);
  k_uint(o, 10, 3);
  w_head(o, 0, 11);
  w_str(o, 3, "\xc0\xaf", 2);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "UTF-8");
  o = start(3);
  k_uint(o, 1, YZ_DHT_FIND_NODE);
  k_target(o, 32);
  w_head(o, 0, 11);
  w_str(o, 3, "x", 1);
  refused(o->b, o->n, NULL, YZ_E_MALFORMED, "reason (11) not allowed");
}

/* The encoder refuses what the decoder would, and a short buffer. */
static void test_encoder_rules(void **state)
{
  (void)state;
  yz_dht_msg m;
  size_t n;
  const char *why = NULL;
  uint8_t small[16];

  yz_dht_msg_init(&m, (yz_dht_msg_type)7);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "unknown DHT message type"));

  yz_dht_msg_init(&m, YZ_DHT_PUT);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "record (5) missing"));
  m.has_record = true;
  m.record = dht_record(10);
  m.has_seq = true;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "seq (6) not allowed"));
  m.has_seq = false;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, small, sizeof small, &n, &why),
                   YZ_E_TOO_LARGE);
  yz_dht_msg_init(&m, YZ_DHT_GET);
  m.spread = true;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "spread (12) not allowed"));
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  m.has_record = true;
  m.record = dht_record(10);
  yz_dht_msg_limits lim = {.max_record_len = 8};
  assert_int_equal(yz_dht_msg_encode(&m, &lim, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "record (5) is longer"));
  lim.max_record_len = YZ_DHT_MSG_RECORD_CAP + 1;
  assert_int_equal(yz_dht_msg_encode(&m, &lim, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_int_equal(yz_dht_msg_encode(NULL, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);

  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  m.n_closer = 1;
  m.closer[0] = contact(0);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "closer (4) not allowed"));

  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE_RESP);
  m.n_closer = YZ_DHT_MSG_MAX_CONTACTS + 1;
  for (size_t i = 0; i < m.n_closer; i++)
    m.closer[i] = contact(0);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "more contacts"));
  m.n_closer = 2;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "same contact twice"));

  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  m.status = YZ_DHT_ST_MAX + 1;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  m.status = 0;
  m.reason_len = YZ_DHT_MSG_REASON_MAX_LEN + 1;
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  m.reason_len = 2;
  memcpy(m.reason, "\xff\xfe", 2);
  assert_int_equal(yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, &why),
                   YZ_E_INVAL);
  assert_non_null(strstr(why, "UTF-8"));

  /* The largest message the defaults allow fits yz_dht_msg_max_len(). */
  static uint8_t big[YZ_DHT_MSG_MAX_CONTACTS][YZ_RECORD_MAX_LEN];
  yz_dht_msg_init(&m, YZ_DHT_GET_RESP);
  for (size_t i = 0; i < YZ_DHT_MSG_MAX_CONTACTS; i++) {
    size_t cl = fake_contact(big[i], i, YZ_RECORD_MAX_LEN - 7);
    assert_int_equal(cl, YZ_RECORD_MAX_LEN);
    m.closer[m.n_closer++] = (yz_dht_bytes){big[i], cl};
  }
  m.has_record = true;
  m.record = dht_record(YZ_DHT_MSG_MAX_RECORD_LEN - 7);
  assert_int_equal(m.record.len, YZ_DHT_MSG_MAX_RECORD_LEN);
  n = encode(&m);
  assert_true(n <= yz_dht_msg_max_len(NULL));
  assert_int_equal(decode(enc, n, NULL, NULL, NULL), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_requests),
      cmocka_unit_test(test_roundtrip_responses),
      cmocka_unit_test(test_known_bytes),
      cmocka_unit_test(test_doc_examples),
      cmocka_unit_test(test_answers),
      cmocka_unit_test(test_hello),
      cmocka_unit_test(test_contact_decode),
      cmocka_unit_test(test_writer_matches_encoder),
      cmocka_unit_test(test_generic_rules),
      cmocka_unit_test(test_request_rules),
      cmocka_unit_test(test_response_rules),
      cmocka_unit_test(test_status_rules),
      cmocka_unit_test(test_encoder_rules),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
