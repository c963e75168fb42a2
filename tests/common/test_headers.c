/*
 * Every public header compiles on its own (tests/common/headers/<h>.c
 * includes just that one, twice) and the umbrella header yz/yz.h gives the
 * whole API: this program links against the library through it.
 */
#include "yz/yz.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
  if (yz_init() != 0)
    return 1;
  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return 1;
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(yz_identity_node_id(&id), hex);
  yz_identity_clear(&id);
  if (strlen(hex) != YZ_NODE_ID_HEX_LEN)
    return 1;
  printf("umbrella header ok: yz %s\n", yz_version());
  return 0;
}
