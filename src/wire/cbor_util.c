/*
 * Helpers of the wire layer's libcbor encoders (cbor_util.h).
 */
#include "wire/cbor_util.h"

cbor_item_t *yz__wire_uint_min(uint64_t v)
{
  if (v <= UINT8_MAX)
    return cbor_build_uint8((uint8_t)v);
  if (v <= UINT16_MAX)
    return cbor_build_uint16((uint16_t)v);
  if (v <= UINT32_MAX)
    return cbor_build_uint32((uint32_t)v);
  return cbor_build_uint64(v);
}

bool yz__wire_map_put(cbor_item_t *map, uint64_t key, cbor_item_t *value)
{
  cbor_item_t *k = yz__wire_uint_min(key);
  if (!k || !value) {
    if (k)
      cbor_decref(&k);
    if (value)
      cbor_decref(&value);
    return false;
  }
  bool ok = cbor_map_add(map, (struct cbor_pair){.key = k, .value = value});
  cbor_decref(&k);
  cbor_decref(&value);
  return ok;
}

cbor_item_t *yz__wire_addresses(const yz_wire_address *a, size_t n)
{
  cbor_item_t *arr = cbor_new_definite_array(n);
  bool ok = arr != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    cbor_item_t *m = cbor_new_definite_map(2);
    ok = m &&
         yz__wire_map_put(m, YZ_WIRE_ADDR_KEY_URL,
                          cbor_build_stringn(a[i].url, a[i].url_len)) &&
         yz__wire_map_put(m, YZ_WIRE_ADDR_KEY_CLIENTS,
                          yz__wire_uint_min(a[i].client_types)) &&
         cbor_array_push(arr, m);
    if (m)
      cbor_decref(&m);
  }
  if (!ok && arr)
    cbor_decref(&arr);
  return ok ? arr : NULL;
}
