/*
 * The local side of a link (docs/protocol.md "Identity proof"): the Noise
 * static key, signed once by the identity key, and the encoded proof every
 * handshake sends. Also the receiving side's proof check.
 */
#include <string.h>

#include <sodium.h>

#include "session_internal.h"

static void sig_message(uint8_t m[YZ__SIG_MSG_LEN],
                        const uint8_t static_pub[YZ_NOISE_DH_LEN])
{
  /* The prefix string literal ends in its NUL: 37 characters + 0x00. */
  memcpy(m, YZ_SESSION_SIG_PREFIX, YZ_SESSION_SIG_PREFIX_LEN);
  memcpy(m + YZ_SESSION_SIG_PREFIX_LEN, static_pub, YZ_NOISE_DH_LEN);
}

int yz_session_local_init(yz_session_local *local, const yz_identity *identity,
                          const uint8_t static_priv[YZ_NOISE_DH_LEN],
                          const yz_session_proof_options *opts)
{
  if (!local || !identity)
    return YZ_E_INVAL;
  if (yz_init() != 0)
    return YZ_E_IO;
  memset(local, 0, sizeof *local);
  if (static_priv) {
    memcpy(local->static_priv, static_priv, YZ_NOISE_DH_LEN);
    int rc = yz_noise_dh_public(local->static_pub, local->static_priv);
    if (rc) {
      yz_session_local_clear(local);
      return rc;
    }
  } else {
    yz_noise_dh_keypair(local->static_priv, local->static_pub);
  }

  yz_wire_identity_proof p;
  memset(&p, 0, sizeof p);
  memcpy(p.identity_pk, yz_identity_public_key(identity), YZ_IDENTITY_PK_LEN);
  uint8_t m[YZ__SIG_MSG_LEN];
  sig_message(m, local->static_pub);
  yz_identity_sign(identity, m, sizeof m, p.signature);

  int rc = 0;
  /* The network name: "yz", the public network, is the meaning of an
   * absent field, so it is never sent (docs/protocol.md section 5). */
  strcpy(local->network, YZ_SESSION_NETWORK_DEFAULT);
  if (opts && opts->network && strcmp(opts->network, "yz") != 0) {
    size_t n = strlen(opts->network);
    if (!yz_wire_network_valid(opts->network, n)) {
      rc = YZ_E_INVAL;
      goto out;
    }
    memcpy(p.network, opts->network, n + 1);
    p.network_len = (uint8_t)n;
    memcpy(local->network, opts->network, n + 1);
  }
  if (opts) {
    if (opts->n_addresses > YZ_WIRE_MAX_ADDRESSES ||
        (opts->n_addresses &&
         (!opts->address_urls || !opts->address_client_types))) {
      rc = YZ_E_INVAL;
      goto out;
    }
    for (size_t i = 0; i < opts->n_addresses; i++) {
      const char *u = opts->address_urls[i];
      size_t n = u ? strlen(u) : 0;
      if (n == 0 || n > YZ_WIRE_URL_MAX_LEN) {
        rc = YZ_E_INVAL;
        goto out;
      }
      memcpy(p.addresses[i].url, u, n + 1);
      p.addresses[i].url_len = (uint16_t)n;
      p.addresses[i].client_types = opts->address_client_types[i];
    }
    p.n_addresses = (uint8_t)opts->n_addresses;
    p.node_type = opts->node_type;
    p.has_capabilities = opts->has_capabilities;
    p.capabilities = opts->capabilities;
    if (opts->version) {
      size_t n = strlen(opts->version);
      if (n == 0 || n > YZ_WIRE_VERSION_MAX_LEN) {
        rc = YZ_E_INVAL;
        goto out;
      }
      memcpy(p.version, opts->version, n + 1);
      p.version_len = (uint8_t)n;
    }
  }
  rc = yz_wire_proof_encode(&p, local->proof, sizeof local->proof,
                            &local->proof_len);
  if (rc == 0) {
    memcpy(local->identity_pk, p.identity_pk, YZ_IDENTITY_PK_LEN);
    local->id = *yz_identity_node_id(identity);
  }
out:
  if (rc)
    yz_session_local_clear(local);
  return rc;
}

void yz_session_local_clear(yz_session_local *local)
{
  if (local)
    sodium_memzero(local, sizeof *local);
}

int yz__session_check_proof(yz_wire_identity_proof *proof, yz_node_id *id,
                            const uint8_t *payload, size_t len,
                            const uint8_t static_pub[YZ_NOISE_DH_LEN],
                            const char **reason)
{
  int rc = yz_wire_proof_decode(proof, payload, len, reason);
  if (rc)
    return rc;
  uint8_t m[YZ__SIG_MSG_LEN];
  sig_message(m, static_pub);
  if (yz_identity_verify(proof->identity_pk, m, sizeof m, proof->signature)) {
    if (reason)
      *reason = "identity signature over the Noise static key does not "
                "verify";
    return YZ_E_BAD_SIGNATURE;
  }
  yz_node_id_from_public_key(id, proof->identity_pk);
  return 0;
}
