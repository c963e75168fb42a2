/*
 * Signed node records (docs/protocol.md "Node records",
 * proto/node-record.cddl): the signed byte string, canonical CBOR encoding
 * with libcbor, strict decoding and verification, the replacement rule.
 */
#include <string.h>

#include <cbor.h>

#include "wire/cbor_util.h"

#include "common/util.h"
#include "yz/address.h"
#include "yz/record.h"

_Static_assert(sizeof YZ_RECORD_PREFIX == YZ_RECORD_PREFIX_LEN,
               "the prefix and its NUL are the signed domain prefix");
_Static_assert((int)YZ_RECORD_MAX_ADDRESSES <= (int)YZ_WIRE_MAX_ADDRESSES,
               "yz_wire_address arrays hold the record's addresses");
_Static_assert(YZ_RECORD_URL_MAX_LEN <= UINT8_MAX,
               "a URL length fits the one-byte length of the signed bytes");
_Static_assert(YZ_RECORD_NETWORK_MAX_LEN <= UINT8_MAX,
               "the network length fits one byte of the signed bytes");

/* ---- field rules (docs/protocol.md "Node records", "Fields") ----------- */

/*
 * A URL is a node address of docs/operations.md without '#NODEID' (the
 * record names the node), written in its canonical form, so one address
 * has one spelling and one signed byte string. Browsers dial only wss://.
 */
static const char *address_invalid(const char *u, size_t n, uint64_t clients)
{
  if (n < 6 || n > YZ_RECORD_URL_MAX_LEN)
    return "address URL is not 6..255 bytes";
  yz_address a;
  if (yz_address_parse(&a, (const uint8_t *)u, n, NULL) != 0)
    return "address URL is not a node address (docs/operations.md)";
  if (a.has_id)
    return "address URL carries a node ID (the record names the node)";
  char canon[YZ_ADDRESS_TEXT_MAX];
  int w = yz_address_format(&a, canon, sizeof canon);
  if (w < 0 || (size_t)w != n || memcmp(canon, u, n) != 0)
    return "address URL is not in canonical form";
  if ((clients & (YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS)) == 0)
    return "address serves neither ws nor wss clients";
  if ((clients & YZ_WIRE_CLIENT_WSS) && !a.tls)
    return "address serves browsers (wss) but is not a wss:// URL";
  return NULL;
}

/* Every field rule except the signature; NULL or why not. */
static const char *fields_invalid(const yz_record *r, int *err)
{
  *err = YZ_E_MALFORMED;
  if (r->network_len > YZ_RECORD_NETWORK_MAX_LEN ||
      !yz_wire_network_valid(r->network, r->network_len))
    return "network name is not 1..32 bytes of a-z 0-9 . - _";
  if (!yz__wire_node_type_valid(r->node_type))
    return "node type is not 1 (infrastructure) or 2 (community)";
  if (r->n_addresses == 0 || r->n_addresses > YZ_RECORD_MAX_ADDRESSES)
    return "addresses is not an array of 1..8 addresses";
  for (size_t i = 0; i < r->n_addresses; i++) {
    const yz_wire_address *a = &r->addresses[i];
    if (a->url_len > YZ_RECORD_URL_MAX_LEN)
      return "address URL is not 6..255 bytes";
    const char *why = address_invalid(a->url, a->url_len, a->client_types);
    if (why)
      return why;
    for (size_t j = 0; j < i; j++)
      if (r->addresses[j].url_len == a->url_len &&
          memcmp(r->addresses[j].url, a->url, a->url_len) == 0) {
        *err = YZ_E_DUPLICATE;
        return "the same address URL twice";
      }
  }
  return NULL;
}

int yz_record_set_network(yz_record *r, const char *name)
{
  if (!r || !name)
    return YZ_E_INVAL;
  size_t n = strnlen(name, YZ_RECORD_NETWORK_MAX_LEN + 1);
  if (!yz_wire_network_valid(name, n))
    return YZ_E_INVAL;
  memcpy(r->network, name, n);
  r->network[n] = '\0';
  r->network_len = (uint8_t)n;
  return 0;
}

int yz_record_add_address(yz_record *r, const char *url, uint64_t client_types,
                          const char **reason)
{
  if (!r || !url)
    return yz__wire_fail(reason, "no record or URL", YZ_E_INVAL);
  if (r->n_addresses >= YZ_RECORD_MAX_ADDRESSES)
    return yz__wire_fail(reason, "a record holds at most 8 addresses",
                         YZ_E_LIMIT);
  size_t n = strnlen(url, YZ_RECORD_URL_MAX_LEN + 1);
  const char *why = address_invalid(url, n, client_types);
  if (why)
    return yz__wire_fail(reason, why, YZ_E_INVAL);
  for (size_t j = 0; j < r->n_addresses; j++)
    if (r->addresses[j].url_len == n &&
        memcmp(r->addresses[j].url, url, n) == 0)
      return yz__wire_fail(reason, "the same address URL twice", YZ_E_INVAL);
  yz_wire_address *a = &r->addresses[r->n_addresses++];
  memcpy(a->url, url, n);
  a->url[n] = '\0';
  a->url_len = (uint16_t)n;
  a->client_types = client_types;
  return 0;
}

/* ---- signed bytes (docs/protocol.md "Node records", "Signed bytes") ---- */

static size_t put_u64(uint8_t *p, uint64_t v)
{
  yz__store64_be(p, v);
  return 8;
}

int yz_record_signed_bytes(const yz_record *r, uint8_t *out, size_t cap,
                           size_t *outlen)
{
  int err;
  if (!r || !out || !outlen || fields_invalid(r, &err))
    return YZ_E_INVAL;
  size_t need = YZ_RECORD_PREFIX_LEN + 1 + r->network_len +
                YZ_IDENTITY_PK_LEN + 4 * 8 + 1;
  for (size_t i = 0; i < r->n_addresses; i++)
    need += 1 + r->addresses[i].url_len + 8;
  if (need > cap)
    return YZ_E_TOO_LARGE;

  size_t o = 0;
  memcpy(out, YZ_RECORD_PREFIX, YZ_RECORD_PREFIX_LEN); /* with its 0x00 */
  o += YZ_RECORD_PREFIX_LEN;
  out[o++] = r->network_len;
  memcpy(out + o, r->network, r->network_len);
  o += r->network_len;
  memcpy(out + o, r->identity_pk, YZ_IDENTITY_PK_LEN);
  o += YZ_IDENTITY_PK_LEN;
  o += put_u64(out + o, r->seq);
  o += put_u64(out + o, r->expiry);
  o += put_u64(out + o, r->node_type);
  o += put_u64(out + o, r->capabilities);
  out[o++] = r->n_addresses;
  for (size_t i = 0; i < r->n_addresses; i++) {
    const yz_wire_address *a = &r->addresses[i];
    out[o++] = (uint8_t)a->url_len;
    memcpy(out + o, a->url, a->url_len);
    o += a->url_len;
    o += put_u64(out + o, a->client_types);
  }
  *outlen = o;
  return 0;
}

int yz_record_sign(yz_record *r, const yz_identity *id, const char **reason)
{
  if (!r || !id)
    return yz__wire_fail(reason, "no record or identity", YZ_E_INVAL);
  int err;
  const char *why = fields_invalid(r, &err);
  if (why)
    return yz__wire_fail(reason, why, YZ_E_INVAL);
  memcpy(r->identity_pk, yz_identity_public_key(id), YZ_IDENTITY_PK_LEN);
  r->node_id = *yz_identity_node_id(id);
  uint8_t sb[YZ_RECORD_SIGNED_MAX_LEN];
  size_t n;
  if (yz_record_signed_bytes(r, sb, sizeof sb, &n) != 0)
    return yz__wire_fail(reason, "signed bytes",
                         YZ_E_INVAL); /* cannot happen */
  yz_identity_sign(id, sb, n, r->signature);
  return 0;
}

/* ---- CBOR encoding ----------------------------------------------------- */

int yz_record_encode(const yz_record *r, uint8_t *out, size_t cap,
                     size_t *outlen)
{
  int err;
  if (!r || !out || !outlen || fields_invalid(r, &err))
    return YZ_E_INVAL;
  cbor_item_t *m = cbor_new_definite_map(8);
  if (!m)
    return YZ_E_NOMEM;
  /* Keys 1..8 in increasing order: the canonical order (RFC 8949 4.2.1). */
  bool ok =
      yz__wire_map_put(m, YZ_RECORD_KEY_NETWORK,
                       cbor_build_stringn(r->network, r->network_len)) &&
      yz__wire_map_put(
          m, YZ_RECORD_KEY_IDENTITY,
          cbor_build_bytestring(r->identity_pk, YZ_IDENTITY_PK_LEN)) &&
      yz__wire_map_put(m, YZ_RECORD_KEY_SEQ, yz__wire_uint_min(r->seq)) &&
      yz__wire_map_put(m, YZ_RECORD_KEY_EXPIRY,
                       yz__wire_uint_min(r->expiry)) &&
      yz__wire_map_put(m, YZ_RECORD_KEY_NODE_TYPE,
                       yz__wire_uint_min(r->node_type)) &&
      yz__wire_map_put(m, YZ_RECORD_KEY_CAPABILITIES,
                       yz__wire_uint_min(r->capabilities)) &&
      yz__wire_map_put(m, YZ_RECORD_KEY_ADDRESSES,
                       yz__wire_addresses(r->addresses, r->n_addresses)) &&
      yz__wire_map_put(
          m, YZ_RECORD_KEY_SIGNATURE,
          cbor_build_bytestring(r->signature, YZ_IDENTITY_SIG_LEN));
  int rc = 0;
  if (!ok) {
    rc = YZ_E_NOMEM;
  } else {
    size_t w = cbor_serialize(
        m, out, cap < YZ_RECORD_MAX_LEN ? cap : YZ_RECORD_MAX_LEN);
    if (w == 0)
      rc = YZ_E_TOO_LARGE;
    else
      *outlen = w;
  }
  cbor_decref(&m);
  return rc;
}

/* ---- decoding ---------------------------------------------------------- */

/* The value of key `key`, the i-th pair of a canonical map whose keys must
 * be exactly 1..size in order (unknown keys are refused: a v1 record has
 * exactly these fields, all signed). */
static const cbor_item_t *key_value(const struct cbor_pair *kv, size_t i,
                                    uint64_t key)
{
  if (!cbor_isa_uint(kv[i].key) || cbor_get_int(kv[i].key) != key)
    return NULL;
  return kv[i].value;
}

static bool get_uint(const cbor_item_t *it, uint64_t *v)
{
  if (!it || !cbor_isa_uint(it))
    return false;
  *v = cbor_get_int(it);
  return true;
}

static bool get_bytes(const cbor_item_t *it, size_t want, uint8_t *out)
{
  if (!it || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it) ||
      cbor_bytestring_length(it) != want)
    return false;
  memcpy(out, cbor_bytestring_handle(it), want);
  return true;
}

/* Text of at most max bytes into out (NUL-terminated); its length. */
static bool get_text(const cbor_item_t *it, size_t max, char *out, size_t *n)
{
  if (!it || !cbor_isa_string(it) || !cbor_string_is_definite(it) ||
      cbor_string_length(it) > max)
    return false;
  *n = cbor_string_length(it);
  memcpy(out, cbor_string_handle(it), *n);
  out[*n] = '\0';
  return true;
}

static int decode_address(yz_wire_address *a, const cbor_item_t *it,
                          const char **reason)
{
  if (!cbor_isa_map(it) || !cbor_map_is_definite(it) || cbor_map_size(it) != 2)
    return yz__wire_fail(reason,
                         "address is not a map of exactly keys 1 and 2",
                         YZ_E_MALFORMED);
  struct cbor_pair *kv = cbor_map_handle(it);
  size_t n;
  if (!get_text(key_value(kv, 0, YZ_WIRE_ADDR_KEY_URL), YZ_RECORD_URL_MAX_LEN,
                a->url, &n))
    return yz__wire_fail(reason,
                         "address URL (key 1) is not text of 6..255 bytes",
                         YZ_E_MALFORMED);
  a->url_len = (uint16_t)n;
  if (!get_uint(key_value(kv, 1, YZ_WIRE_ADDR_KEY_CLIENTS), &a->client_types))
    return yz__wire_fail(reason, "address client types (key 2) is not a uint",
                         YZ_E_MALFORMED);
  return 0;
}

static int decode_item(yz_record *r, const cbor_item_t *it,
                       const char **reason)
{
  if (!cbor_isa_map(it) || !cbor_map_is_definite(it) || cbor_map_size(it) != 8)
    return yz__wire_fail(reason, "record is not a map of exactly keys 1..8",
                         YZ_E_MALFORMED);
  struct cbor_pair *kv = cbor_map_handle(it);
  size_t n;
  if (!get_text(key_value(kv, 0, YZ_RECORD_KEY_NETWORK),
                YZ_RECORD_NETWORK_MAX_LEN, r->network, &n))
    return yz__wire_fail(reason, "network (key 1) is not text of 1..32 bytes",
                         YZ_E_MALFORMED);
  r->network_len = (uint8_t)n;
  if (!get_bytes(key_value(kv, 1, YZ_RECORD_KEY_IDENTITY), YZ_IDENTITY_PK_LEN,
                 r->identity_pk))
    return yz__wire_fail(reason,
                         "identity key (key 2) is not a 32-byte string",
                         YZ_E_MALFORMED);
  if (!get_uint(key_value(kv, 2, YZ_RECORD_KEY_SEQ), &r->seq))
    return yz__wire_fail(reason, "sequence number (key 3) is not a uint",
                         YZ_E_MALFORMED);
  if (!get_uint(key_value(kv, 3, YZ_RECORD_KEY_EXPIRY), &r->expiry))
    return yz__wire_fail(reason, "expiry (key 4) is not a uint",
                         YZ_E_MALFORMED);
  if (!get_uint(key_value(kv, 4, YZ_RECORD_KEY_NODE_TYPE), &r->node_type))
    return yz__wire_fail(reason, "node type (key 5) is not a uint",
                         YZ_E_MALFORMED);
  if (!get_uint(key_value(kv, 5, YZ_RECORD_KEY_CAPABILITIES),
                &r->capabilities))
    return yz__wire_fail(reason, "capabilities (key 6) is not a uint",
                         YZ_E_MALFORMED);
  const cbor_item_t *v = key_value(kv, 6, YZ_RECORD_KEY_ADDRESSES);
  if (!v || !cbor_isa_array(v) || !cbor_array_is_definite(v) ||
      cbor_array_size(v) == 0 || cbor_array_size(v) > YZ_RECORD_MAX_ADDRESSES)
    return yz__wire_fail(reason,
                         "addresses (key 7) is not an array of 1..8 addresses",
                         YZ_E_MALFORMED);
  cbor_item_t **a = cbor_array_handle(v);
  for (size_t j = 0; j < cbor_array_size(v); j++) {
    int rc = decode_address(&r->addresses[j], a[j], reason);
    if (rc)
      return rc;
  }
  r->n_addresses = (uint8_t)cbor_array_size(v);
  if (!get_bytes(key_value(kv, 7, YZ_RECORD_KEY_SIGNATURE),
                 YZ_IDENTITY_SIG_LEN, r->signature))
    return yz__wire_fail(reason, "signature (key 8) is not a 64-byte string",
                         YZ_E_MALFORMED);
  int err;
  const char *why = fields_invalid(r, &err);
  if (why)
    return yz__wire_fail(reason, why, err);
  return 0;
}

/* The checks against the caller's expectations, cheapest first, then the
 * signature (docs/protocol.md "Node records", "Checks"). */
static int verify(yz_record *r, const yz_record_expect *ex,
                  const char **reason)
{
  size_t nn = strnlen(ex->network, YZ_RECORD_NETWORK_MAX_LEN + 1);
  if (nn != r->network_len || memcmp(ex->network, r->network, nn) != 0)
    return yz__wire_fail(reason, "record of another network",
                         YZ_E_UNSUPPORTED);
  yz_node_id_from_public_key(&r->node_id, r->identity_pk);
  if (ex->node_id && !yz_node_id_equal(ex->node_id, &r->node_id))
    return yz__wire_fail(reason,
                         "record of another node than the expected one",
                         YZ_E_PEER_ID_MISMATCH);
  if (r->expiry <= ex->now)
    return yz__wire_fail(reason, "record expired", YZ_E_RANGE);
  uint8_t sb[YZ_RECORD_SIGNED_MAX_LEN];
  size_t n;
  if (yz_record_signed_bytes(r, sb, sizeof sb, &n) != 0)
    return yz__wire_fail(reason, "record fields invalid", YZ_E_MALFORMED);
  if (yz_identity_verify(r->identity_pk, sb, n, r->signature) != 0)
    return yz__wire_fail(reason, "record signature does not verify",
                         YZ_E_BAD_SIGNATURE);
  return 0;
}

int yz_record_decode(yz_record *r, const uint8_t *in, size_t len,
                     const yz_record_expect *ex, const char **reason)
{
  if (!r)
    return yz__wire_fail(reason, "no record", YZ_E_INVAL);
  memset(r, 0, sizeof *r);
  if (!ex || !ex->network)
    return yz__wire_fail(reason, "no network to check the record against",
                         YZ_E_INVAL);
  /* Bounded, canonical, one item, no duplicate keys: before cbor_load
   * allocates anything (TOOLCHAIN.md 3.1). */
  int rc = yz_wire_check(in, len, YZ_RECORD_MAX_LEN, reason);
  if (rc)
    return rc;
  struct cbor_load_result lr;
  cbor_item_t *it = cbor_load(in, len, &lr);
  if (!it)
    return yz__wire_fail(
        reason,
        lr.error.code == CBOR_ERR_MEMERROR ? "out of memory decoding CBOR"
                                           : "malformed CBOR",
        lr.error.code == CBOR_ERR_MEMERROR ? YZ_E_NOMEM : YZ_E_MALFORMED);
  if (lr.read != len)
    rc = yz__wire_fail(reason, "trailing bytes after the CBOR item",
                       YZ_E_TRAILING);
  else
    rc = decode_item(r, it, reason);
  cbor_decref(&it);
  if (rc == 0)
    rc = verify(r, ex, reason);
  if (rc)
    memset(r, 0, sizeof *r);
  return rc;
}

/* ---- replacement (docs/protocol.md "Node records", "Replacement") ----- */

int yz_record_newer(const yz_record *cand, const yz_record *cur,
                    const char **reason)
{
  if (!cand || !cur)
    return yz__wire_fail(reason, "no record", YZ_E_INVAL);
  if (memcmp(cand->identity_pk, cur->identity_pk, YZ_IDENTITY_PK_LEN) != 0)
    return yz__wire_fail(reason, "records of different nodes", YZ_E_INVAL);
  if (cand->seq > cur->seq)
    return 1;
  if (cand->seq < cur->seq)
    return yz__wire_fail(reason,
                         "older sequence number: the current record stays", 0);
  uint8_t a[YZ_RECORD_SIGNED_MAX_LEN], b[YZ_RECORD_SIGNED_MAX_LEN];
  size_t na, nb;
  if (yz_record_signed_bytes(cand, a, sizeof a, &na) != 0 ||
      yz_record_signed_bytes(cur, b, sizeof b, &nb) != 0)
    return yz__wire_fail(reason, "record fields invalid", YZ_E_INVAL);
  if (na == nb && memcmp(a, b, na) == 0)
    return yz__wire_fail(reason, "same record: the current one stays", 0);
  return yz__wire_fail(
      reason,
      "same sequence number, different record: the node signed "
      "two; the current one stays",
      YZ_E_DUPLICATE);
}
