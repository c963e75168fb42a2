/*
 * Fuzz target: the node layer's message framing (src/node/frame.c,
 * docs/protocol.md "Node messages"), with a round trip: whatever parses
 * must re-encode to the same header bytes, and the body must be the rest
 * of the input.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "node/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz__node_frame f;
  const char *reason = NULL;
  int rc = yz__node_frame_parse(&f, data, size, &reason);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && reason != NULL);
    return 0;
  }
  size_t hl = yz__node_frame_header_len(f.kind);
  FUZZ_CHECK(hl > 0 && hl <= YZ__NODE_HDR_MAX && hl <= size);
  FUZZ_CHECK(f.body == data + hl && f.body_len == size - hl);
  FUZZ_CHECK(f.proto != 0);

  uint8_t hdr[YZ__NODE_HDR_MAX];
  int n = yz__node_frame_encode_header(&f, hdr);
  FUZZ_CHECK(n == (int)hl);
  FUZZ_CHECK(memcmp(hdr, data, hl) == 0);

  /* The parsed view of the re-encoded message is the same value. */
  yz__node_frame g;
  FUZZ_CHECK(yz__node_frame_parse(&g, data, size, NULL) == 0);
  FUZZ_CHECK(g.kind == f.kind && g.proto == f.proto && g.id == f.id &&
             g.code == f.code && g.body_len == f.body_len);
  return 0;
}
