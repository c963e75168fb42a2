/*
 * DHT message vectors (docs/protocol.md "DHT messages"): generates
 * tests/vectors/yz-dht-msg-v1.json (--generate, deterministic) and checks a
 * file against the message codec (yz_dht_msg_vectors FILE): the file is
 * exactly what --generate prints, and while generating every vector's CBOR
 * decodes (under the vector's limits) to the result the vector intends,
 * accepted ones re-encoding to the same bytes.
 *
 * The inputs are written by a CBOR writer of this file's own, so they can
 * break any rule. Contacts are stand-in canonical maps: the message layer
 * checks only that (docs/protocol.md "DHT messages", "Encoding").
 *
 * tests/vectors/check_yz_dht_msg_vectors.py checks the same file with
 * cbor2 and a model of the spec's rules, independent of yz.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "yz/dht_wire.h"

#define VEC_PROG "yz_dht_msg_vectors"
#include "vectors.h"

/* ---- a CBOR writer -------------------------------------------------------
 */

typedef struct w {
  uint8_t b[40000];
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

static void w_uint(w *o, uint64_t key, uint64_t v)
{
  w_head(o, 0, key);
  w_head(o, 0, v);
}

static void w_target(w *o, size_t len)
{
  uint8_t t[40];
  for (size_t i = 0; i < sizeof t; i++)
    t[i] = (uint8_t)(0xd0 + i);
  w_head(o, 0, 2);
  w_str(o, 2, t, len);
}

/* Contact i: the canonical map {1: i, 2: pad zero bytes}. */
static size_t contact(uint8_t *out, unsigned i, size_t pad)
{
  w c = {.n = 0};
  w_head(&c, 5, 2);
  w_uint(&c, 1, i);
  w_head(&c, 0, 2);
  uint8_t *z = calloc(1, pad + 1);
  if (!z)
    die("out of memory");
  w_str(&c, 2, z, pad);
  free(z);
  memcpy(out, c.b, c.n);
  return c.n;
}

static void w_contacts(w *o, uint64_t key, unsigned first, unsigned n)
{
  w_head(o, 0, key);
  w_head(o, 4, n);
  for (unsigned i = 0; i < n; i++) {
    uint8_t c[64];
    size_t cn = contact(c, first + i, 2);
    w_str(o, 2, c, cn);
  }
}

/* The stand-in DHT record: {1: "hello"} as bytes. */
static const uint8_t REC[] = {0xa1, 0x01, 0x45, 'h', 'e', 'l', 'l', 'o'};

static void w_record(w *o)
{
  w_head(o, 0, 5), w_str(o, 2, REC, sizeof REC);
}

/* ---- the vectors ---------------------------------------------------------
 */

static json_t *list_json(const yz_dht_bytes *l, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, hex(l[i].ptr, l[i].len));
  return a;
}

/* The decoded fields, named as in docs/protocol.md; only those present. */
static json_t *fields_json(const yz_dht_msg *m)
{
  json_t *f = json_object();
  json_object_set_new(f, "type", json_integer(m->type));
  switch (m->type) {
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET:
  case YZ_DHT_PUT:
  case YZ_DHT_PROVIDE:
  case YZ_DHT_GET_PROVIDERS:
    json_object_set_new(f, "target", hex(m->target, YZ_DHT_KEY_LEN));
    break;
  case YZ_DHT_STATUS:
    json_object_set_new(f, "status", json_integer((json_int_t)m->status));
    break;
  case YZ_DHT_HELLO:
  case YZ_DHT_HELLO_RESP:
    break;
  default:
    json_object_set_new(f, "closer", list_json(m->closer, m->n_closer));
    break;
  }
  if (m->type == YZ_DHT_GET_PROVIDERS_RESP)
    json_object_set_new(f, "providers",
                        list_json(m->providers, m->n_providers));
  if (m->provider.ptr)
    json_object_set_new(f, "provider", hex(m->provider.ptr, m->provider.len));
  if (m->client_only)
    json_object_set_new(f, "client", json_true());
  if (m->spread)
    json_object_set_new(f, "spread", json_true());
  if (m->has_record)
    json_object_set_new(f, "record", hex(m->record.ptr, m->record.len));
  /* Integers as decimal strings: JSON numbers lose 64-bit precision. */
  char num[24];
  if (m->has_seq) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)m->seq);
    json_object_set_new(f, "seq", json_string(num));
  }
  if (m->has_cas) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)m->cas);
    json_object_set_new(f, "cas", json_string(num));
  }
  if (m->reason_len)
    json_object_set_new(f, "reason", json_stringn(m->reason, m->reason_len));
  return f;
}

static json_t *vectors;

/* Decode o under lim (NULL: defaults); the result must be want. */
static void add(const char *name, const char *desc, const w *o,
                const yz_dht_msg_limits *lim, int want)
{
  static yz_dht_msg m;
  const char *why = NULL;
  int rc = yz_dht_msg_decode(&m, o->b, o->n, lim, &why);
  if (rc != want) {
    fprintf(stderr, "%s: %s (%s), wanted %s\n", name, yz_err_name(rc),
            why ? why : "", yz_err_name(want));
    die("a vector does not give its intended result");
  }
  json_t *v = json_pack("{s:s, s:s}", "name", name, "description", desc);
  if (lim)
    json_object_set_new(
        v, "limits",
        json_pack("{s:I, s:I, s:I}", "max_contacts",
                  (json_int_t)lim->max_contacts, "max_providers",
                  (json_int_t)lim->max_providers, "max_record_len",
                  (json_int_t)lim->max_record_len));
  json_object_set_new(v, "cbor", hex(o->b, o->n));
  json_object_set_new(v, "result", json_string(yz_err_name(rc)));
  if (rc == 0) {
    static uint8_t enc[40000];
    size_t n;
    if (yz_dht_msg_encode(&m, lim, enc, sizeof enc, &n, NULL) != 0 ||
        n != o->n || memcmp(enc, o->b, n) != 0)
      die("an accepted vector does not re-encode to its bytes");
    json_object_set_new(v, "fields", fields_json(&m));
  } else {
    json_object_set_new(v, "reason", json_string(why));
  }
  json_array_append_new(vectors, v);
}

static w o;

static w *start(uint64_t pairs)
{
  o.n = 0;
  w_head(&o, 5, pairs);
  return &o;
}

static void valid(void)
{
  start(2), w_uint(&o, 1, 1), w_target(&o, 32);
  add("find_node", "FIND_NODE", &o, NULL, 0);
  start(3), w_uint(&o, 1, 1), w_target(&o, 32);
  w_head(&o, 0, 3), w_byte(&o, 0xf5);
  add("find_node_client", "FIND_NODE from a client-only querier", &o, NULL, 0);
  start(3), w_uint(&o, 1, 2), w_target(&o, 32), w_uint(&o, 6, 4);
  add("get_newer_than", "GET of a record newer than seq 4", &o, NULL, 0);
  start(4), w_uint(&o, 1, 3), w_target(&o, 32), w_record(&o);
  w_uint(&o, 7, 0x100000000ull);
  add("put_cas", "PUT with compare-and-swap on seq 2^32", &o, NULL, 0);
  start(4), w_uint(&o, 1, 3), w_target(&o, 32), w_record(&o);
  w_head(&o, 0, 12), w_byte(&o, 0xf5);
  add("put_spread", "PUT asking the receiver to spread the record", &o, NULL,
      0);
  start(5), w_uint(&o, 1, 3), w_target(&o, 32);
  w_head(&o, 0, 3), w_byte(&o, 0xf5), w_record(&o);
  w_head(&o, 0, 12), w_byte(&o, 0xf5);
  add("put_spread_client", "PUT with spread from a client-only writer", &o,
      NULL, 0);
  start(3), w_uint(&o, 1, 4), w_target(&o, 32);
  {
    uint8_t c[64];
    size_t cn = contact(c, 7, 2);
    w_head(&o, 0, 9), w_str(&o, 2, c, cn);
  }
  add("provide", "PROVIDE with the provider's contact", &o, NULL, 0);
  start(3), w_uint(&o, 1, 5), w_target(&o, 32);
  w_head(&o, 0, 3), w_byte(&o, 0xf5);
  add("get_providers_client", "GET_PROVIDERS from a client-only querier", &o,
      NULL, 0);
  start(2), w_uint(&o, 1, 11), w_contacts(&o, 4, 1, 3);
  add("find_node_resp", "FIND_NODE response with 3 contacts", &o, NULL, 0);
  start(2), w_uint(&o, 1, 11), w_contacts(&o, 4, 1, 20);
  add("find_node_resp_k", "FIND_NODE response with k = 20 contacts", &o, NULL,
      0);
  start(3), w_uint(&o, 1, 12), w_contacts(&o, 4, 1, 1), w_record(&o);
  add("get_resp_record", "GET response with a record and a closer peer", &o,
      NULL, 0);
  start(2), w_uint(&o, 1, 12), w_contacts(&o, 4, 1, 0);
  add("get_resp_empty", "GET response: no record, no closer peers", &o, NULL,
      0);
  start(3), w_uint(&o, 1, 15), w_contacts(&o, 4, 1, 1);
  w_contacts(&o, 8, 2, 2);
  add("get_providers_resp", "GET_PROVIDERS response, 2 providers", &o, NULL,
      0);
  start(2), w_uint(&o, 1, 6);
  {
    uint8_t c[64];
    size_t cn = contact(c, 5, 0);
    w_head(&o, 0, 9), w_str(&o, 2, c, cn);
  }
  add("hello", "HELLO with the sender's node record", &o, NULL, 0);
  start(2), w_uint(&o, 1, 6), w_head(&o, 0, 3), w_byte(&o, 0xf5);
  add("hello_client", "HELLO from a client-only sender", &o, NULL, 0);
  start(2), w_uint(&o, 1, 16);
  {
    uint8_t c[64];
    size_t cn = contact(c, 6, 1);
    w_head(&o, 0, 9), w_str(&o, 2, c, cn);
  }
  add("hello_resp", "HELLO response with the responder's record", &o, NULL,
      0);
  start(1), w_uint(&o, 1, 16);
  add("hello_resp_client", "HELLO response of a client-only node", &o, NULL,
      0);
  start(2), w_uint(&o, 1, 20), w_uint(&o, 10, 0);
  add("status_ok", "STATUS OK (stored)", &o, NULL, 0);
  start(4), w_uint(&o, 1, 20), w_uint(&o, 6, 9), w_uint(&o, 10, 8);
  w_head(&o, 0, 11), w_str(&o, 3, "seq too low", 11);
  add("status_seq_too_low",
      "STATUS SEQ_TOO_LOW with the held seq and a "
      "reason",
      &o, NULL, 0);
}

static void invalid(void)
{
  static const yz_dht_msg_limits small = {2, 2, 16};
  start(2), w_uint(&o, 1, 11), w_contacts(&o, 4, 1, 21);
  add("too_many_contacts", "21 contacts, over k = 20", &o, NULL, YZ_E_LIMIT);
  start(3), w_uint(&o, 1, 15), w_contacts(&o, 4, 1, 0);
  w_contacts(&o, 8, 1, 3);
  add("too_many_providers", "3 providers over a limit of 2", &o, &small,
      YZ_E_LIMIT);
  start(1), w_uint(&o, 1, 7);
  add("unknown_type", "message type 7", &o, NULL, YZ_E_UNSUPPORTED);
  start(1), w_uint(&o, 1, 6);
  add("hello_empty", "HELLO with neither a record nor client", &o, NULL,
      YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 6), w_head(&o, 0, 3), w_byte(&o, 0xf5);
  {
    uint8_t c[64];
    size_t cn = contact(c, 5, 0);
    w_head(&o, 0, 9), w_str(&o, 2, c, cn);
  }
  add("hello_both", "HELLO with both a record and client", &o, NULL,
      YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 16), w_head(&o, 0, 3), w_byte(&o, 0xf5);
  add("hello_resp_with_client", "HELLO response with client (not allowed)", &o,
      NULL, YZ_E_MALFORMED);
  start(1), w_target(&o, 32);
  add("no_type", "no type key", &o, NULL, YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 20), w_uint(&o, 13, 0);
  add("unknown_key", "key 13", &o, NULL, YZ_E_MALFORMED);
  start(4), w_uint(&o, 1, 3), w_target(&o, 32), w_record(&o);
  w_head(&o, 0, 12), w_byte(&o, 0xf4);
  add("spread_false", "spread = false (absent instead)", &o, NULL,
      YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 2), w_target(&o, 32);
  w_head(&o, 0, 12), w_byte(&o, 0xf5);
  add("spread_in_get", "spread in a GET (PUT only)", &o, NULL,
      YZ_E_MALFORMED);
  start(4), w_uint(&o, 1, 3), w_target(&o, 32), w_record(&o);
  w_uint(&o, 12, 1);
  add("spread_integer", "spread = 1 (only true)", &o, NULL, YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 1), w_target(&o, 31);
  add("short_target", "a 31-byte target", &o, NULL, YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 1), w_target(&o, 32);
  w_head(&o, 0, 3), w_byte(&o, 0xf4);
  add("client_false", "client = false (absent instead)", &o, NULL,
      YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 11), w_head(&o, 0, 3), w_byte(&o, 0xf5);
  w_contacts(&o, 4, 1, 0);
  add("client_in_response", "client in a response", &o, NULL, YZ_E_MALFORMED);
  start(4), w_uint(&o, 1, 3), w_target(&o, 32), w_record(&o);
  w_uint(&o, 6, 1);
  add("seq_in_put", "seq in a PUT", &o, NULL, YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 3), w_target(&o, 32);
  add("put_without_record", "PUT without a record", &o, NULL, YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 3), w_target(&o, 32);
  w_head(&o, 0, 5), w_str(&o, 2, "\x01\x02", 2);
  add("record_not_one_item", "a record of two CBOR items", &o, NULL,
      YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 3), w_target(&o, 32);
  {
    uint8_t c[64];
    size_t cn = contact(c, 1, 14);
    w_head(&o, 0, 5), w_str(&o, 2, c, cn);
  }
  add("record_over_limit", "a 19-byte record over a limit of 16", &o, &small,
      YZ_E_TOO_LARGE);
  start(2), w_uint(&o, 1, 11), w_head(&o, 0, 4), w_head(&o, 4, 1);
  w_str(&o, 2, "\x80", 1);
  add("contact_not_map", "a contact that is an array", &o, NULL,
      YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 11), w_head(&o, 0, 4), w_head(&o, 4, 1);
  {
    static uint8_t c[1100];
    size_t cn = contact(c, 1, 1018);
    if (cn != YZ_RECORD_MAX_LEN + 1)
      die("contact size");
    w_str(&o, 2, c, cn);
  }
  add("contact_too_long", "a 1025-byte contact", &o, NULL, YZ_E_TOO_LARGE);
  start(2), w_uint(&o, 1, 11), w_head(&o, 0, 4), w_head(&o, 4, 2);
  {
    uint8_t c[64];
    size_t cn = contact(c, 1, 2);
    w_str(&o, 2, c, cn);
    w_str(&o, 2, c, cn);
  }
  add("duplicate_contact", "the same contact twice", &o, NULL, YZ_E_DUPLICATE);
  start(2), w_uint(&o, 1, 20), w_uint(&o, 10, 15);
  add("unknown_status", "status 15", &o, NULL, YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 20), w_uint(&o, 10, 1);
  w_head(&o, 0, 11), w_str(&o, 3, "", 0);
  add("empty_reason", "an empty reason", &o, NULL, YZ_E_MALFORMED);
  {
    char r[129];
    memset(r, 'r', sizeof r);
    start(3), w_uint(&o, 1, 20), w_uint(&o, 10, 1);
    w_head(&o, 0, 11), w_str(&o, 3, r, sizeof r);
  }
  add("long_reason", "a 129-byte reason", &o, NULL, YZ_E_MALFORMED);
  start(3), w_uint(&o, 1, 1), w_target(&o, 32), w_target(&o, 32);
  add("duplicate_key", "key 2 twice", &o, NULL, YZ_E_DUPLICATE);
  start(2), w_target(&o, 32), w_uint(&o, 1, 1);
  add("unordered_keys", "key 2 before key 1", &o, NULL, YZ_E_MALFORMED);
  start(2), w_head(&o, 0, 1), w_byte(&o, 0x18), w_byte(&o, 0x01);
  w_target(&o, 32);
  add("wide_head", "type 1 in a two-byte head", &o, NULL, YZ_E_MALFORMED);
  start(2), w_uint(&o, 1, 1), w_target(&o, 32), w_byte(&o, 0x00);
  add("trailing", "a byte after the map", &o, NULL, YZ_E_TRAILING);
  start(2), w_uint(&o, 1, 1), w_target(&o, 32);
  o.n -= 1;
  add("truncated", "the target's last byte missing", &o, NULL, YZ_E_TRUNCATED);
  o.n = 0, w_head(&o, 4, 2), w_uint(&o, 1, 1);
  add("not_a_map", "an array at the top level", &o, NULL, YZ_E_MALFORMED);
  start(1), w_str(&o, 3, "t", 1), w_head(&o, 0, 1);
  add("text_key", "a text key", &o, NULL, YZ_E_MALFORMED);
  start(1), w_head(&o, 0, 1), w_byte(&o, 0xf9), w_byte(&o, 0x3c),
      w_byte(&o, 0x00);
  add("float_value", "type 1.0 as a half float", &o, NULL, YZ_E_MALFORMED);
}

static json_t *generate(void)
{
  vectors = json_array();
  valid();
  invalid();
  return json_pack(
      "{s:s, s:s, s:i, s:{s:i, s:i, s:i, s:i, s:i}, s:o}", "format",
      "yz-dht-msg-vectors-1", "spec", "docs/protocol.md, section DHT messages",
      "protocol", YZ_DHT_PROTOCOL, "limits", "max_contacts",
      YZ_DHT_MSG_MAX_CONTACTS, "max_providers", YZ_DHT_MSG_MAX_PROVIDERS,
      "max_record_len", YZ_DHT_MSG_MAX_RECORD_LEN, "max_contact_len",
      YZ_RECORD_MAX_LEN, "max_reason_len", YZ_DHT_MSG_REASON_MAX_LEN,
      "vectors", vectors);
}

int main(int argc, char **argv)
{
  json_t *gen = generate();
  json_t *file = vec_command_line(argc, argv, gen);
  printf("yz_dht_msg_vectors: %zu vectors ok\n",
         json_array_size(json_object_get(file, "vectors")));
  json_decref(file);
  json_decref(gen);
  return 0;
}
