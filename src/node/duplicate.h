/*
 * The duplicate-link rule (docs/protocol.md "Duplicate links"), on its own
 * so that the node and the protocol vectors (tests/vectors) run the same
 * code.
 */
#ifndef YZ_NODE_DUPLICATE_H
#define YZ_NODE_DUPLICATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/identity.h"

/*
 * Of two up links a and b to one peer, whether a survives. dialer_x is the
 * node ID of the node that dialled link x, binding_x its channel binding
 * (the handshake hash). The link dialled by the smaller node ID survives
 * (bytewise); if the same node dialled both, the one with the smaller
 * binding (bytewise; a shorter prefix counts as smaller). Both ends compute
 * the same answer; equal links (never two real ones) keep b.
 */
bool yz__node_duplicate_keeps_a(const uint8_t dialer_a[YZ_NODE_ID_LEN],
                                const uint8_t *binding_a, size_t binding_a_len,
                                const uint8_t dialer_b[YZ_NODE_ID_LEN],
                                const uint8_t *binding_b,
                                size_t binding_b_len);

#endif
