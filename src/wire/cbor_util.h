/*
 * Internal helpers of the wire layer's libcbor encoders and decoders
 * (proof.c, record.c): one copy of the rules TOOLCHAIN.md section 3 found
 * for libcbor 0.8 (integers are not minimal-width by themselves; adding
 * to a full definite map leaks its items).
 */
#ifndef YZ_WIRE_CBOR_UTIL_H
#define YZ_WIRE_CBOR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "yz/wire.h"

/* Store why in *reason (if reason is not NULL) and return err: the
 * parsers' "an error code and a reason" in one statement. */
static inline int yz__wire_fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

/* Node types of the identity proof and the node record (docs/protocol.md
 * section 5): 1 infrastructure, 2 community; any other is an error. */
static inline bool yz__wire_node_type_valid(uint64_t t)
{
  return t == YZ_WIRE_NODE_INFRASTRUCTURE || t == YZ_WIRE_NODE_COMMUNITY;
}

/* A minimal-width unsigned integer (deterministic encoding, RFC 8949
 * 4.2.1). NULL when out of memory. */
cbor_item_t *yz__wire_uint_min(uint64_t v);

/* Add key -> value to map, taking value's reference; on any failure (value
 * NULL, no memory, the map full) both items are released and false is
 * returned. */
bool yz__wire_map_put(cbor_item_t *map, uint64_t key, cbor_item_t *value);

/* The array of n address maps {1: url, 2: client types} that the identity
 * proof and the node record share (docs/protocol.md section 5). NULL when
 * out of memory. */
cbor_item_t *yz__wire_addresses(const yz_wire_address *a, size_t n);

#endif
