#!/usr/bin/env bash
# The public API offers no test hooks: no public header (the files that
# `meson install` puts under include/yz) declares a test_* field or
# function, and libyz exports no internal yz__ symbol. The hooks (a fixed
# ephemeral key, a short nonce limit) live in src/session/testing.h, for the
# tests and fuzz harnesses only: an embedder must not be one typo away
# from a fixed ephemeral key.
# Usage: test_no_test_hooks.sh INCLUDE-DIR/yz LIBYZ.so
set -u
headers=$1 lib=$2
fails=0
# An identifier test_... (a file path such as tests/x/test_y.c in a comment
# is not one).
if hits=$(grep -nE '(^|[^/._a-z0-9])test_[a-z0-9_]*|[Tt]esting only' \
    "$headers"/*.h); then
  echo "FAIL: test hooks in the public headers:"
  echo "$hits"
  fails=$((fails + 1))
fi
if ! syms=$(nm -D --defined-only "$lib") || [ -z "$syms" ]; then
  echo "FAIL: cannot read the symbols of $lib"
  fails=$((fails + 1))
elif exported=$(echo "$syms" | grep -E ' yz__'); then
  echo "FAIL: libyz exports internal symbols:"
  echo "$exported"
  fails=$((fails + 1))
fi
[ "$fails" = 0 ] && echo "ok: no test hooks in $headers/*.h or libyz's symbols"
exit "$fails"
