/*
 * Test hooks of the session layer: for the tests, the fuzz harnesses and
 * the yz protocol vector generator, which link the layer's static library.
 * Not part of the public API (include/yz/session.h offers no way to fix an
 * ephemeral key or shorten the nonce limit) and not exported from libyz
 * (-fvisibility=hidden, no YZ_EXPORT): a fixed ephemeral key in production
 * would make every handshake with the same peer reuse it and lose forward
 * secrecy (docs/protocol.md, "Handshake").
 */
#ifndef YZ_SESSION_TESTING_H
#define YZ_SESSION_TESTING_H

#include "yz/session.h"

typedef struct yz__session_test_hooks {
  /* 0 = the protocol's limit (YZ_NOISE_NONCE_MAX). The link closes
   * (NONCE_EXHAUSTED) before a nonce reaches this value: tests reach the
   * limit in a few messages. */
  uint64_t nonce_limit;
  /* A fixed ephemeral private key (YZ_NOISE_DH_LEN bytes) for the
   * handshake, or NULL for a fresh one: deterministic vectors and fuzzing.
   * Read during the call only. */
  const uint8_t *ephemeral;
} yz__session_test_hooks;

/* yz_session_init() with test hooks (hooks may be NULL: the same as
 * yz_session_init). */
int yz__session_init_testing(yz_session *s, const yz_session_config *cfg,
                             const yz__session_test_hooks *hooks);

#endif
