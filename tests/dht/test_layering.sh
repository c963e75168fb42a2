#!/usr/bin/env bash
# The DHT reaches the layers below it only through their public headers
# (include/yz) and the node's internal one (src/node/node_internal.h: the
# clock, the identity), never through a lower layer's internals such as
# src/link/internal.h (docs/architecture.md, "Layers"). One include path
# serves every layer, so a forbidden include would compile: this checks it.
# Usage: test_layering.sh SRC-DIR
set -u
src=$1
# The quoted includes of src/dht, less the allowed ones: the DHT's own
# headers, the public ones, common/ (below every layer) and the node's
# internal header.
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' \
        "$src"/dht/*.c "$src"/dht/*.h |
      grep -vE '"(yz/[a-z_]+\.h|common/[a-z_]+\.h|dht/[a-z_]+\.h|[a-z_]+\.h|node/node_internal\.h)"')
if [ -n "$bad" ]; then
  echo "FAIL: src/dht includes internals of a lower layer:"
  echo "$bad"
  exit 1
fi
echo "ok: src/dht uses the public headers and node/node_internal.h only"
