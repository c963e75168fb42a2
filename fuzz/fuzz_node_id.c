/*
 * Fuzz target: the node ID text parser (yz_node_id_parse), with a round
 * trip: whatever parses is exactly the text form of the ID it gives.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz_node_id id;
  const char *reason = NULL;
  int rc = yz_node_id_parse(&id, data, size, &reason);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    return 0;
  }
  FUZZ_CHECK(size == YZ_NODE_ID_HEX_LEN);
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&id, hex);
  FUZZ_CHECK(hex[YZ_NODE_ID_HEX_LEN] == '\0');
  FUZZ_CHECK(memcmp(hex, data, YZ_NODE_ID_HEX_LEN) == 0);
  yz_node_id again;
  FUZZ_CHECK(yz_node_id_parse(&again, (const uint8_t *)hex,
                              YZ_NODE_ID_HEX_LEN, NULL) == 0);
  FUZZ_CHECK(yz_node_id_equal(&id, &again));
  return 0;
}
