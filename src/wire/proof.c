/*
 * The identity proof (proto/identity-proof.cddl, docs/protocol.md
 * "Identity proof"): canonical encoding with libcbor, strict decoding.
 */
#include <string.h>

#include <cbor.h>

#include "wire/cbor_util.h"

#include "yz/wire.h"

static bool url_valid(const char *u, size_t n)
{
  if (n == 0 || n > YZ_WIRE_URL_MAX_LEN)
    return false;
  if (!((n > 5 && memcmp(u, "ws://", 5) == 0) ||
        (n > 6 && memcmp(u, "wss://", 6) == 0)))
    return false;
  for (size_t i = 0; i < n; i++)
    if ((uint8_t)u[i] < 0x21 || (uint8_t)u[i] > 0x7e)
      return false;
  return true;
}

static bool clients_valid(uint64_t c)
{
  return (c & (YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS)) != 0;
}

static bool version_valid(const char *v, size_t n)
{
  return n >= 1 && n <= YZ_WIRE_VERSION_MAX_LEN &&
         yz_wire_utf8_valid((const uint8_t *)v, n);
}

bool yz_wire_network_valid(const char *s, size_t n)
{
  if (s == NULL || n == 0 || n > YZ_WIRE_NETWORK_MAX_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_'))
      return false;
  }
  return true;
}

int yz_wire_proof_encode(const yz_wire_identity_proof *p, uint8_t *out,
                         size_t cap, size_t *outlen)
{
  if (!p || !out || !outlen)
    return YZ_E_INVAL;
  if (p->n_addresses > YZ_WIRE_MAX_ADDRESSES)
    return YZ_E_INVAL;
  for (size_t i = 0; i < p->n_addresses; i++)
    if (!url_valid(p->addresses[i].url, p->addresses[i].url_len) ||
        !clients_valid(p->addresses[i].client_types))
      return YZ_E_INVAL;
  if (p->node_type && !yz__wire_node_type_valid(p->node_type))
    return YZ_E_INVAL;
  if (p->version_len && !version_valid(p->version, p->version_len))
    return YZ_E_INVAL;
  if (p->network_len && !yz_wire_network_valid(p->network, p->network_len))
    return YZ_E_INVAL;

  size_t n = 2 + (p->n_addresses > 0) + (p->node_type != 0) +
             (p->has_capabilities ? 1 : 0) + (p->version_len > 0) +
             (p->network_len > 0);
  cbor_item_t *m = cbor_new_definite_map(n);
  if (!m)
    return YZ_E_NOMEM;
  bool ok =
      yz__wire_map_put(
          m, YZ_WIRE_PROOF_KEY_IDENTITY,
          cbor_build_bytestring(p->identity_pk, YZ_WIRE_PK_LEN)) &&
      yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_SIGNATURE,
                       cbor_build_bytestring(p->signature, YZ_WIRE_SIG_LEN));
  if (ok && p->n_addresses)
    ok = yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_ADDRESSES,
                          yz__wire_addresses(p->addresses, p->n_addresses));
  if (ok && p->node_type)
    ok = yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_NODE_TYPE,
                          yz__wire_uint_min(p->node_type));
  if (ok && p->has_capabilities)
    ok = yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_CAPABILITIES,
                          yz__wire_uint_min(p->capabilities));
  if (ok && p->version_len)
    ok = yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_VERSION,
                          cbor_build_stringn(p->version, p->version_len));
  if (ok && p->network_len)
    ok = yz__wire_map_put(m, YZ_WIRE_PROOF_KEY_NETWORK,
                          cbor_build_stringn(p->network, p->network_len));
  int rc = 0;
  if (!ok) {
    rc = YZ_E_NOMEM;
  } else {
    size_t w = cbor_serialize(
        m, out, YZ_WIRE_PROOF_MAX_LEN < cap ? YZ_WIRE_PROOF_MAX_LEN : cap);
    if (w == 0)
      rc = YZ_E_TOO_LARGE;
    else
      *outlen = w;
  }
  cbor_decref(&m);
  if (rc == 0 && yz_wire_check(out, *outlen, YZ_WIRE_PROOF_MAX_LEN, NULL))
    rc = YZ_E_INVAL; /* cannot happen: the encoding above is canonical */
  return rc;
}

/* ---- decoding ---------------------------------------------------------- */

static bool get_uint(const cbor_item_t *it, uint64_t *v)
{
  if (!cbor_isa_uint(it))
    return false;
  *v = cbor_get_int(it);
  return true;
}

static bool get_bytes(const cbor_item_t *it, const uint8_t **p, size_t *n)
{
  if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
    return false;
  *p = cbor_bytestring_handle(it);
  *n = cbor_bytestring_length(it);
  return true;
}

static bool get_text(const cbor_item_t *it, const char **p, size_t *n)
{
  if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
    return false;
  *p = (const char *)cbor_string_handle(it);
  *n = cbor_string_length(it);
  return true;
}

static int decode_address(yz_wire_address *a, const cbor_item_t *it,
                          bool *unknown, const char **reason)
{
  if (!cbor_isa_map(it) || !cbor_map_is_definite(it))
    return yz__wire_fail(reason, "address is not a map", YZ_E_MALFORMED);
  struct cbor_pair *kv = cbor_map_handle(it);
  bool have_url = false, have_clients = false;
  for (size_t i = 0; i < cbor_map_size(it); i++) {
    uint64_t k;
    if (!get_uint(kv[i].key, &k) ||
        (k != YZ_WIRE_ADDR_KEY_URL && k != YZ_WIRE_ADDR_KEY_CLIENTS)) {
      *unknown = true;
      continue;
    }
    if (k == YZ_WIRE_ADDR_KEY_URL) {
      const char *u;
      size_t n;
      if (!get_text(kv[i].value, &u, &n) || !url_valid(u, n))
        return yz__wire_fail(reason,
                             "address URL invalid (ws:// or wss://, 1..255 "
                             "printable ASCII bytes)",
                             YZ_E_MALFORMED);
      memcpy(a->url, u, n);
      a->url[n] = '\0';
      a->url_len = (uint16_t)n;
      have_url = true;
    } else {
      if (!get_uint(kv[i].value, &a->client_types) ||
          !clients_valid(a->client_types))
        return yz__wire_fail(reason, "address client types invalid",
                             YZ_E_MALFORMED);
      have_clients = true;
    }
  }
  if (!have_url || !have_clients)
    return yz__wire_fail(reason, "address lacks its URL or client types",
                         YZ_E_MALFORMED);
  return 0;
}

static int decode_item(yz_wire_identity_proof *p, const cbor_item_t *it,
                       const char **reason)
{
  if (!cbor_isa_map(it) || !cbor_map_is_definite(it))
    return yz__wire_fail(reason, "identity proof is not a map",
                         YZ_E_MALFORMED);
  struct cbor_pair *kv = cbor_map_handle(it);
  bool have_pk = false, have_sig = false;
  for (size_t i = 0; i < cbor_map_size(it); i++) {
    uint64_t k;
    if (!get_uint(kv[i].key, &k) || k < YZ_WIRE_PROOF_KEY_IDENTITY ||
        k > YZ_WIRE_PROOF_KEY_NETWORK) {
      p->had_unknown = true; /* ignored, but it was well-formed */
      continue;
    }
    const cbor_item_t *v = kv[i].value;
    const uint8_t *b;
    const char *t;
    size_t n;
    switch (k) {
    case YZ_WIRE_PROOF_KEY_IDENTITY:
      if (!get_bytes(v, &b, &n) || n != YZ_WIRE_PK_LEN)
        return yz__wire_fail(reason, "identity key is not a 32-byte string",
                             YZ_E_MALFORMED);
      memcpy(p->identity_pk, b, n);
      have_pk = true;
      break;
    case YZ_WIRE_PROOF_KEY_SIGNATURE:
      if (!get_bytes(v, &b, &n) || n != YZ_WIRE_SIG_LEN)
        return yz__wire_fail(reason, "signature is not a 64-byte string",
                             YZ_E_MALFORMED);
      memcpy(p->signature, b, n);
      have_sig = true;
      break;
    case YZ_WIRE_PROOF_KEY_ADDRESSES: {
      if (!cbor_isa_array(v) || !cbor_array_is_definite(v) ||
          cbor_array_size(v) == 0 ||
          cbor_array_size(v) > YZ_WIRE_MAX_ADDRESSES)
        return yz__wire_fail(reason,
                             "addresses is not an array of 1..8 addresses",
                             YZ_E_MALFORMED);
      cbor_item_t **a = cbor_array_handle(v);
      for (size_t j = 0; j < cbor_array_size(v); j++) {
        int rc =
            decode_address(&p->addresses[j], a[j], &p->had_unknown, reason);
        if (rc)
          return rc;
      }
      p->n_addresses = (uint8_t)cbor_array_size(v);
      break;
    }
    case YZ_WIRE_PROOF_KEY_NODE_TYPE:
      if (!get_uint(v, &p->node_type) ||
          !yz__wire_node_type_valid(p->node_type))
        return yz__wire_fail(reason, "node type is not 1 or 2",
                             YZ_E_MALFORMED);
      break;
    case YZ_WIRE_PROOF_KEY_CAPABILITIES:
      if (!get_uint(v, &p->capabilities))
        return yz__wire_fail(reason, "capabilities is not an unsigned integer",
                             YZ_E_MALFORMED);
      p->has_capabilities = true;
      break;
    case YZ_WIRE_PROOF_KEY_NETWORK:
      if (!get_text(v, &t, &n) || !yz_wire_network_valid(t, n))
        return yz__wire_fail(
            reason, "network name is not 1..32 bytes of a-z 0-9 . - _",
            YZ_E_MALFORMED);
      memcpy(p->network, t, n);
      p->network[n] = '\0';
      p->network_len = (uint8_t)n;
      break;
    default: /* YZ_WIRE_PROOF_KEY_VERSION */
      if (!get_text(v, &t, &n) || !version_valid(t, n))
        return yz__wire_fail(reason,
                             "software version is not 1..64 bytes of UTF-8",
                             YZ_E_MALFORMED);
      memcpy(p->version, t, n);
      p->version[n] = '\0';
      p->version_len = (uint8_t)n;
      break;
    }
  }
  if (!have_pk || !have_sig)
    return yz__wire_fail(reason,
                         "identity proof lacks the key or the signature",
                         YZ_E_MALFORMED);
  return 0;
}

int yz_wire_proof_decode(yz_wire_identity_proof *p, const uint8_t *in,
                         size_t len, const char **reason)
{
  if (!p)
    return YZ_E_INVAL;
  memset(p, 0, sizeof *p);
  /* Bounded, canonical, single item: before cbor_load allocates. */
  int rc = yz_wire_check(in, len, YZ_WIRE_PROOF_MAX_LEN, reason);
  if (rc)
    return rc;
  struct cbor_load_result r;
  cbor_item_t *it = cbor_load(in, len, &r);
  if (!it)
    return yz__wire_fail(
        reason,
        r.error.code == CBOR_ERR_MEMERROR ? "out of memory decoding CBOR"
                                          : "malformed CBOR",
        r.error.code == CBOR_ERR_MEMERROR ? YZ_E_NOMEM : YZ_E_MALFORMED);
  if (r.read != len)
    rc = yz__wire_fail(reason, "trailing bytes after the CBOR item",
                       YZ_E_TRAILING);
  else
    rc = decode_item(p, it, reason);
  cbor_decref(&it);
  if (rc)
    memset(p, 0, sizeof *p);
  return rc;
}
