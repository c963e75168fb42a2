/* The duplicate-link rule: see duplicate.h. */
#include "node/duplicate.h"

#include <string.h>

#include "common/util.h"

bool yz__node_duplicate_keeps_a(const uint8_t dialer_a[YZ_NODE_ID_LEN],
                                const uint8_t *binding_a, size_t binding_a_len,
                                const uint8_t dialer_b[YZ_NODE_ID_LEN],
                                const uint8_t *binding_b, size_t binding_b_len)
{
  int c = memcmp(dialer_a, dialer_b, YZ_NODE_ID_LEN);
  if (c != 0)
    return c < 0;
  size_t len = YZ__MIN(binding_a_len, binding_b_len);
  c = len ? memcmp(binding_a, binding_b, len) : 0;
  if (c == 0)
    c = binding_a_len < binding_b_len ? -1 : 1;
  return c < 0;
}
