/*
 * DH functions for Curve25519 (Noise spec section 4.1, 12.1) on libsodium's
 * X25519.
 */
#include "noise/noise_internal.h"

int yz__noise_dh(uint8_t out[YZ_NOISE_DH_LEN],
                 const uint8_t priv[YZ_NOISE_DH_LEN],
                 const uint8_t pub[YZ_NOISE_DH_LEN])
{
  /* libsodium refuses low-order points (an all-zero result): a peer that
   * sends one tries to force a known shared secret. */
  if (crypto_scalarmult(out, priv, pub) != 0) {
    sodium_memzero(out, YZ_NOISE_DH_LEN);
    return YZ_E_MALFORMED;
  }
  return 0;
}

void yz_noise_dh_keypair(uint8_t priv[YZ_NOISE_DH_LEN],
                         uint8_t pub[YZ_NOISE_DH_LEN])
{
  /* GENERATE_KEYPAIR(): 32 random bytes; X25519 clamps when it uses them.
   * The base-point multiplication cannot fail for a random scalar in
   * practice; retry on the astronomically unlikely zero result. */
  do {
    randombytes_buf(priv, YZ_NOISE_DH_LEN);
  } while (crypto_scalarmult_base(pub, priv) != 0);
}

int yz_noise_dh_public(uint8_t pub[YZ_NOISE_DH_LEN],
                       const uint8_t priv[YZ_NOISE_DH_LEN])
{
  if (!pub || !priv)
    return YZ_E_INVAL;
  if (crypto_scalarmult_base(pub, priv) != 0)
    return YZ_E_MALFORMED;
  return 0;
}
