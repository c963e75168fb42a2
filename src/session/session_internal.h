/* Internal to the session layer. */
#ifndef YZ_SESSION_INTERNAL_H
#define YZ_SESSION_INTERNAL_H

#include "yz/session.h"

/* The signed message: prefix (with its NUL) || Noise static public key. */
#define YZ__SIG_MSG_LEN (YZ_SESSION_SIG_PREFIX_LEN + YZ_NOISE_DH_LEN)

/*
 * Decode a peer's proof, verify its signature over the peer's Noise static
 * key and derive the node ID. Pure over its inputs (fuzzable). 0,
 * a wire decoding error or YZ_E_BAD_SIGNATURE, with *reason.
 */
int yz__session_check_proof(yz_wire_identity_proof *proof, yz_node_id *id,
                            const uint8_t *payload, size_t len,
                            const uint8_t static_pub[YZ_NOISE_DH_LEN],
                            const char **reason);

#endif
