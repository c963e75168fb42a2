#!/usr/bin/env bash
# Embedding: install this build to a temporary folder (meson install
# --destdir: the build folder itself is left as it is), then compile and
# run a small embedder (embed.c) with nothing but the flags of
# `pkg-config --cflags --libs yz`. It calls libuv directly, as every user of
# the API must (yz_link_manager_new takes a uv_loop_t *), so the link fails
# unless yz.pc names libuv as a public requirement.
# Usage: test_embed.sh BUILD-DIR EMBED.c CC B_SANITIZE
set -u
build=$1 src=$2 cc=$3 sanitize=${4:-none}
tmp=$(mktemp -d /tmp/yz-test-embed-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! meson install -C "$build" --no-rebuild --destdir "$tmp" \
    >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: meson install --destdir"
  exit 1
fi
pc=$(find "$tmp" -name yz.pc | head -n 1)
if [ -z "$pc" ]; then
  echo "FAIL: no yz.pc installed"
  exit 1
fi
echo "yz.pc: ${pc#"$tmp"}"
grep -E '^Requires' "$pc"

# The .pc names the final prefix; the sysroot maps it into the temporary
# folder (pkgconf prefixes -I and -L paths with it).
export PKG_CONFIG_PATH=${pc%/yz.pc} PKG_CONFIG_SYSROOT_DIR=$tmp
if ! flags=$(pkg-config --cflags --libs yz); then
  echo "FAIL: pkg-config --cflags --libs yz"
  exit 1
fi
echo "pkg-config --cflags --libs yz: $flags"

# A sanitized libyz needs the embedder built with the same runtime (ASan
# must come first in the process's library list).
san=()
if [ "$sanitize" != none ] && [ -n "$sanitize" ]; then
  san=("-fsanitize=$sanitize" -fno-sanitize-recover=all)
fi
# shellcheck disable=SC2086
if ! $cc -Wall -Wextra -Werror "${san[@]}" -o "$tmp/embed" "$src" \
    $flags; then
  echo "FAIL: the embedder does not build with pkg-config's flags alone"
  exit 1
fi

libdir=$(pkg-config --libs-only-L yz | sed 's/^ *-L//; s/ .*//')
if ! LD_LIBRARY_PATH=$libdir "$tmp/embed"; then
  echo "FAIL: the embedder did not run to the end"
  exit 1
fi
