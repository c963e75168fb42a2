/*
 * dht/dht_internal.h: the DHT instance (src/dht/dht.c) seen from inside
 * libyz: the request handler as an entry point of its own, for the fuzz
 * target that feeds a live DHT node arbitrary requests
 * (fuzz/fuzz_dht_node.c) and for tests.
 */
#ifndef YZ_DHT_INTERNAL_H
#define YZ_DHT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "yz/dht.h"

/*
 * Handle one DHT request body from peer `from` exactly as the protocol-2
 * handler of the node does (docs/protocol.md "DHT rules"), but write the
 * answer into out (cap bytes, at least yz__dht_answer_max()) instead of
 * sending it. Returns 0 and *outlen, or YZ_E_TOO_LARGE (cap too small).
 * Side effects are those of a real request: the store, the table's
 * admission (a HELLO may start a dial back), the stats.
 */
int yz__dht_handle_request(yz_dht *dht, const yz_node_id *from,
                           const uint8_t *req, size_t len, uint8_t *out,
                           size_t cap, size_t *outlen);

/* The longest answer the DHT sends. */
size_t yz__dht_answer_max(const yz_dht *dht);

#endif /* YZ_DHT_INTERNAL_H */
