/*
 * Fuzz target: the key-file parser (yz_identity_parse_keyfile), with a
 * round trip: an accepted file gives an identity whose formatted key file
 * parses back to the same identity, and the identity signs verifiably.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "yz/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz_identity id;
  const char *reason = NULL;
  memset(&id, 0, sizeof id);
  int rc = yz_identity_parse_keyfile(&id, data, size, &reason);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    return 0;
  }
  FUZZ_CHECK(size <= YZ_IDENTITY_KEYFILE_MAX);

  char text[YZ_IDENTITY_KEYFILE_TEXT_MAX];
  int n = yz_identity_format_keyfile(&id, text, sizeof text);
  FUZZ_CHECK(n > 0 && (size_t)n < sizeof text && text[n] == '\0');

  yz_identity again;
  FUZZ_CHECK(yz_identity_parse_keyfile(&again, (const uint8_t *)text,
                                       (size_t)n, NULL) == 0);
  FUZZ_CHECK(memcmp(yz_identity_public_key(&id),
                    yz_identity_public_key(&again), YZ_IDENTITY_PK_LEN) == 0);
  FUZZ_CHECK(yz_node_id_equal(yz_identity_node_id(&id),
                              yz_identity_node_id(&again)));

  /* The node ID is SHA-256 of the public key. */
  yz_node_id derived;
  yz_node_id_from_public_key(&derived, yz_identity_public_key(&id));
  FUZZ_CHECK(yz_node_id_equal(&derived, yz_identity_node_id(&id)));

  uint8_t sig[YZ_IDENTITY_SIG_LEN];
  yz_identity_sign(&id, data, size, sig);
  FUZZ_CHECK(yz_identity_verify(yz_identity_public_key(&id), data, size,
                                sig) == 0);

  sodium_memzero(text, sizeof text);
  yz_identity_clear(&id);
  yz_identity_clear(&again);
  return 0;
}
