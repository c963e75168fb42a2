/* Value equality of decoded wire messages, for the wire fuzz targets. */
#ifndef YZ_FUZZ_WIRE_CMP_H
#define YZ_FUZZ_WIRE_CMP_H

#include <stdbool.h>
#include <string.h>

#include "yz/wire.h"

/* Equal as values: every field the encoder writes (had_unknown, set only
 * by the decoder, is not part of the value). */
static inline bool fuzz_proof_equal(const yz_wire_identity_proof *a,
                                    const yz_wire_identity_proof *b)
{
  if (memcmp(a->identity_pk, b->identity_pk, YZ_WIRE_PK_LEN) != 0 ||
      memcmp(a->signature, b->signature, YZ_WIRE_SIG_LEN) != 0 ||
      a->n_addresses != b->n_addresses || a->node_type != b->node_type ||
      a->has_capabilities != b->has_capabilities ||
      (a->has_capabilities && a->capabilities != b->capabilities) ||
      a->version_len != b->version_len ||
      memcmp(a->version, b->version, a->version_len) != 0 ||
      a->network_len != b->network_len ||
      memcmp(a->network, b->network, a->network_len) != 0)
    return false;
  for (size_t i = 0; i < a->n_addresses && i < YZ_WIRE_MAX_ADDRESSES; i++) {
    const yz_wire_address *x = &a->addresses[i], *y = &b->addresses[i];
    if (x->url_len != y->url_len || x->client_types != y->client_types ||
        memcmp(x->url, y->url, x->url_len) != 0)
      return false;
  }
  return true;
}

/* The decoder's promises about a value it accepted. */
static inline bool fuzz_proof_sane(const yz_wire_identity_proof *p)
{
  if (p->n_addresses > YZ_WIRE_MAX_ADDRESSES ||
      p->version_len > YZ_WIRE_VERSION_MAX_LEN ||
      p->version[p->version_len] != '\0' ||
      p->network_len > YZ_WIRE_NETWORK_MAX_LEN ||
      p->network[p->network_len] != '\0' ||
      (p->network_len &&
       !yz_wire_network_valid(p->network, p->network_len)))
    return false;
  for (size_t i = 0; i < p->n_addresses; i++) {
    const yz_wire_address *a = &p->addresses[i];
    if (a->url_len == 0 || a->url_len > YZ_WIRE_URL_MAX_LEN ||
        a->url[a->url_len] != '\0' || strlen(a->url) != a->url_len)
      return false;
    if (strncmp(a->url, "ws://", 5) != 0 && strncmp(a->url, "wss://", 6) != 0)
      return false;
  }
  return p->node_type == 0 || p->node_type == YZ_WIRE_NODE_INFRASTRUCTURE ||
         p->node_type == YZ_WIRE_NODE_COMMUNITY;
}

#endif
