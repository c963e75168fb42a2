/*
 * Fuzz target: DHT messages (yz/dht_wire.h, docs/protocol.md "DHT
 * messages").
 *
 * 1. The whole input goes to yz_dht_msg_decode() under the default limits
 *    and under small ones (2 contacts, 2 providers, 64-byte records). A
 *    refused input leaves the output zeroed with a reason; whatever the
 *    small limits accept the defaults accept, and what only the defaults
 *    accept is refused by the small ones with LIMIT or TOO_LARGE. An
 *    accepted input is at most yz_dht_msg_max_len(), passes the generic
 *    strict check, every byte string points into it, every contact is one
 *    canonical CBOR map of at most 1024 bytes, and it re-encodes to exactly
 *    the input bytes.
 * 2. The same input read as a message's fields (type, target, flags,
 *    lists of byte strings, record, seq, cas, status, reason): whatever the
 *    encoder accepts decodes to a message that encodes to the same bytes;
 *    a one-byte-short buffer gives TOO_LARGE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/dht_wire.h"

static bool inside(const yz_dht_bytes *b, const uint8_t *data, size_t size)
{
  return b->ptr >= data && b->len <= size &&
         (size_t)(b->ptr - data) <= size - b->len;
}

static void check_contact(const yz_dht_bytes *c, const uint8_t *data,
                          size_t size)
{
  FUZZ_CHECK(inside(c, data, size));
  FUZZ_CHECK(c->len >= 1 && c->len <= YZ_RECORD_MAX_LEN);
  FUZZ_CHECK((c->ptr[0] >> 5) == 5);
  FUZZ_CHECK(yz_wire_check(c->ptr, c->len, YZ_RECORD_MAX_LEN, NULL) == 0);
}

static void raw(const uint8_t *data, size_t size)
{
  static const yz_dht_msg zero;
  static yz_dht_msg m, s;
  static const yz_dht_msg_limits small = {2, 2, 64};
  const char *reason = NULL, *sreason = NULL;
  memset(&m, 0xA5, sizeof m);
  memset(&s, 0xA5, sizeof s);
  int rc = yz_dht_msg_decode(&m, data, size, NULL, &reason);
  int src = yz_dht_msg_decode(&s, data, size, &small, &sreason);
  if (src != 0) {
    FUZZ_CHECK(src < 0 && sreason != NULL);
    FUZZ_CHECK(memcmp(&s, &zero, sizeof s) == 0);
  }
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    FUZZ_CHECK(memcmp(&m, &zero, sizeof m) == 0);
    FUZZ_CHECK(src != 0);
    return;
  }
  if (src != 0)
    FUZZ_CHECK(src == YZ_E_LIMIT || src == YZ_E_TOO_LARGE);
  else
    FUZZ_CHECK(memcmp(&m, &s, sizeof m) == 0);

  FUZZ_CHECK(size <= yz_dht_msg_max_len(NULL));
  FUZZ_CHECK(yz_wire_check(data, size, size, NULL) == 0);
  FUZZ_CHECK(m.n_closer <= YZ_DHT_MSG_MAX_CONTACTS);
  FUZZ_CHECK(m.n_providers <= YZ_DHT_MSG_MAX_PROVIDERS);
  for (size_t i = 0; i < m.n_closer; i++)
    check_contact(&m.closer[i], data, size);
  for (size_t i = 0; i < m.n_providers; i++)
    check_contact(&m.providers[i], data, size);
  if (m.type == YZ_DHT_PROVIDE || m.provider.ptr)
    check_contact(&m.provider, data, size);
  /* HELLO: exactly one of the sender's record and client */
  if (m.type == YZ_DHT_HELLO)
    FUZZ_CHECK(!m.provider.ptr != !m.client_only);
  if (m.has_record) {
    FUZZ_CHECK(inside(&m.record, data, size));
    FUZZ_CHECK(m.record.len >= 1 && m.record.len <= YZ_DHT_MSG_MAX_RECORD_LEN);
  }
  FUZZ_CHECK(m.status <= YZ_DHT_ST_MAX);
  FUZZ_CHECK(strcmp(yz_dht_status_name(m.status), "?") != 0);
  FUZZ_CHECK(m.reason_len <= YZ_DHT_MSG_REASON_MAX_LEN &&
             m.reason[m.reason_len] == '\0');
  /* Requests are answered by STATUS, responses answer nothing. */
  FUZZ_CHECK(yz_dht_msg_answers(m.type, YZ_DHT_STATUS) == (m.type <= 6));

  uint8_t *out = malloc(size);
  FUZZ_CHECK(out != NULL);
  size_t n = 0;
  FUZZ_CHECK(yz_dht_msg_encode(&m, NULL, out, size, &n, NULL) == 0);
  FUZZ_CHECK(n == size && memcmp(out, data, size) == 0);
  if (size > 0)
    FUZZ_CHECK(yz_dht_msg_encode(&m, NULL, out, size - 1, &n, NULL) ==
               YZ_E_TOO_LARGE);
  free(out);
}

static void bytes_of(fuzz_in *in, yz_dht_bytes *b)
{
  const uint8_t *p = NULL;
  size_t n = 0;
  if (fuzz_chunk(in, &p, &n)) {
    b->ptr = p;
    b->len = n;
  } else {
    b->ptr = NULL;
    b->len = 0;
  }
}

static void structured(const uint8_t *data, size_t size)
{
  static const yz_dht_msg_type types[] = {
      YZ_DHT_FIND_NODE,     YZ_DHT_GET,
      YZ_DHT_PUT,           YZ_DHT_PROVIDE,
      YZ_DHT_GET_PROVIDERS, YZ_DHT_FIND_NODE_RESP,
      YZ_DHT_GET_RESP,      YZ_DHT_GET_PROVIDERS_RESP,
      YZ_DHT_STATUS,        (yz_dht_msg_type)7,
      YZ_DHT_HELLO,         YZ_DHT_HELLO_RESP};
  fuzz_in in = {data, size};
  static yz_dht_msg m, d;
  yz_dht_msg_init(&m, types[fuzz_u8(&in) % (sizeof types / sizeof types[0])]);
  uint8_t flags = fuzz_u8(&in);
  for (size_t i = 0; i < YZ_DHT_KEY_LEN; i++)
    m.target[i] = fuzz_u8(&in);
  m.client_only = flags & 1;
  m.has_seq = (flags >> 1) & 1;
  m.has_cas = (flags >> 2) & 1;
  m.has_record = (flags >> 3) & 1;
  m.seq = fuzz_u64(&in);
  m.cas = fuzz_u64(&in);
  m.status = fuzz_u8(&in) % (YZ_DHT_ST_MAX + 3);
  if (m.has_record)
    bytes_of(&in, &m.record);
  if (m.type == YZ_DHT_PROVIDE ||
      ((m.type == YZ_DHT_HELLO || m.type == YZ_DHT_HELLO_RESP) &&
       ((flags >> 4) & 1)))
    bytes_of(&in, &m.provider);
  m.n_closer = fuzz_u8(&in) % 4;
  for (size_t i = 0; i < m.n_closer; i++)
    bytes_of(&in, &m.closer[i]);
  m.n_providers = fuzz_u8(&in) % 4;
  for (size_t i = 0; i < m.n_providers; i++)
    bytes_of(&in, &m.providers[i]);
  m.reason_len = fuzz_u8(&in) % (YZ_DHT_MSG_REASON_MAX_LEN + 2);
  for (size_t i = 0; i < m.reason_len && i < YZ_DHT_MSG_REASON_MAX_LEN; i++)
    m.reason[i] = (char)fuzz_u8(&in);

  static uint8_t out[8192];
  size_t n = 0;
  const char *why = NULL;
  int rc = yz_dht_msg_encode(&m, NULL, out, sizeof out, &n, &why);
  if (rc != 0) {
    /* The buffer is the problem only for inputs near its size. */
    FUZZ_CHECK((rc == YZ_E_INVAL && why != NULL) ||
               (rc == YZ_E_TOO_LARGE && size > sizeof out - 1024));
    return;
  }
  FUZZ_CHECK(yz_dht_msg_decode(&d, out, n, NULL, &why) == 0);
  FUZZ_CHECK(d.type == m.type);
  static uint8_t again[8192];
  size_t n2 = 0;
  FUZZ_CHECK(yz_dht_msg_encode(&d, NULL, again, sizeof again, &n2, NULL) == 0);
  FUZZ_CHECK(n2 == n && memcmp(again, out, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  raw(data, size);
  structured(data, size);
  return 0;
}
