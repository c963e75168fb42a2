/* Hex text: node IDs, key files and test vectors all use lowercase hex. */
#include "common/util.h"

void yz__hex_encode(char *out, const uint8_t *in, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int nibble(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int yz__hex_decode_var(uint8_t *out, size_t cap, size_t *outlen,
                       const char *hex, size_t hexlen)
{
  if (hexlen % 2 != 0)
    return YZ_E_MALFORMED;
  if (hexlen / 2 > cap)
    return YZ_E_TOO_LARGE;
  for (size_t i = 0; i < hexlen / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return YZ_E_MALFORMED;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *outlen = hexlen / 2;
  return 0;
}

int yz__hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen)
{
  if (hexlen < 2 * n)
    return YZ_E_TRUNCATED;
  if (hexlen > 2 * n)
    return YZ_E_TRAILING;
  size_t got;
  return yz__hex_decode_var(out, n, &got, hex, hexlen);
}
