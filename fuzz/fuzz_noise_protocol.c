/*
 * Fuzz target: Noise protocol names (yz_noise_protocol_parse, spec section
 * 8). An accepted name must be kept verbatim, give a hash length of 32 or
 * 64, and be usable: a HandshakeState initialises with it, and with every
 * key it might need given, starts and reports a first action.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz_noise_protocol p;
  const char *reason = NULL;
  int rc = yz_noise_protocol_parse(&p, data, size, &reason);
  if (rc != 0) {
    FUZZ_CHECK((rc == YZ_E_PROTOCOL_NAME || rc == YZ_E_UNSUPPORTED) &&
               reason != NULL);
    return 0;
  }
  FUZZ_CHECK(size <= YZ_NOISE_MAX_NAME_LEN);
  FUZZ_CHECK(strlen(p.name) == size && memcmp(p.name, data, size) == 0);
  size_t hl = yz_noise_protocol_hashlen(&p);
  FUZZ_CHECK(hl == 32 || hl == 64);
  FUZZ_CHECK(p.dh == YZ_NOISE_DH_25519);

  /* Parsing is deterministic. */
  yz_noise_protocol q;
  FUZZ_CHECK(yz_noise_protocol_parse(&q, data, size, NULL) == 0);
  FUZZ_CHECK(memcmp(&p, &q, sizeof p) == 0);

  for (int role = YZ_NOISE_INITIATOR; role <= YZ_NOISE_RESPONDER; role++) {
    yz_noise_handshakestate hs;
    uint8_t k[32], pub[32];
    FUZZ_CHECK(yz_noise_hs_init(&hs, &p, (yz_noise_role)role, NULL, 0) == 0);
    /* Offer every key; the state may refuse ones the pattern does not
     * use, which is fine, but it must not crash. */
    fuzz_key(k, 1);
    (void)!yz_noise_hs_set_local_static(&hs, k);
    fuzz_key(k, 2);
    (void)!yz_noise_dh_public(pub, k);
    (void)!yz_noise_hs_set_remote_static(&hs, pub);
    fuzz_key(k, 3);
    (void)!yz_noise_dh_public(pub, k);
    (void)!yz_noise_hs_set_remote_ephemeral(&hs, pub);
    for (int i = 0; i < YZ_NOISE_MAX_PSKS; i++) {
      fuzz_key(k, (uint8_t)(10 + i));
      if (yz_noise_hs_add_psk(&hs, k) != 0)
        break;
    }
    rc = yz_noise_hs_start(&hs);
    yz_noise_action a = yz_noise_hs_action(&hs);
    if (rc == 0)
      FUZZ_CHECK(a == YZ_NOISE_ACTION_WRITE || a == YZ_NOISE_ACTION_READ);
    yz_noise_hs_clear(&hs);
  }
  return 0;
}
