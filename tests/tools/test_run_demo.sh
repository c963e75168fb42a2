#!/usr/bin/env bash
# tools/run-demo when the build fails: it must say so, show the compiler's
# errors (the end of the build output), start no node and exit non-zero.
# The failing `ninja` and `meson` are stand-ins first on PATH, so no real
# build is touched. (The demo itself runs in .ci/run.)
# Usage: test_run_demo.sh SOURCE-DIR
set -u
src=$1
tmp=$(mktemp -d /tmp/yz-test-run-demo-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

mkdir -p "$tmp/bin" "$tmp/build"
cat >"$tmp/bin/ninja" <<'STUB'
#!/bin/sh
echo "ninja: Entering directory 'build'"
echo "[1/2] Compiling C object tools/vectors/libyz_vectors.a.p/parse.c.o"
echo "FAILED: tools/vectors/libyz_vectors.a.p/parse.c.o"
echo "../tools/vectors/parse.c:42:7: error: 'hex' may be used uninitialized [-Werror=maybe-uninitialized]"
echo "ninja: build stopped: subcommand failed."
exit 1
STUB
cat >"$tmp/bin/meson" <<'STUB'
#!/bin/sh
echo "meson.build:1:0: ERROR: Dependency \"libsodium\" not found"
exit 1
STUB
chmod +x "$tmp/bin/ninja" "$tmp/bin/meson"

# run_demo BUILD-DIR: run it with the stand-ins; output in $out, status $rc
run_demo() {
  out=$(YZ_BUILD=$1 PATH="$tmp/bin:$PATH" TMPDIR=$tmp bash "$src/tools/run-demo" \
    </dev/null 2>&1)
  rc=$?
  echo "--- tools/run-demo (YZ_BUILD=$1) exited $rc:"
  echo "$out"
}
expect() { # expect WHAT TEXT: $out must contain TEXT
  [[ $out == *"$2"* ]] || fail "$1: no '$2' in the output"
}

# A configured build folder: ninja fails.
touch "$tmp/build/build.ninja"
run_demo "$tmp/build"
[ "$rc" != 0 ] || fail "ninja failed, yet run-demo exited 0"
expect "ninja" "== building yz in $tmp/build/"
expect "ninja" "parse.c:42:7: error: 'hex' may be used uninitialized"
expect "ninja" "run-demo: the build of yz in $tmp/build/ failed"
[[ $out != *"three nodes"* ]] || fail "ninja: the demo started"

# No build folder yet: meson setup fails.
run_demo "$tmp/new"
[ "$rc" != 0 ] || fail "meson setup failed, yet run-demo exited 0"
expect "meson" "ERROR: Dependency \"libsodium\" not found"
expect "meson" "run-demo: 'meson setup $tmp/new' failed"
[[ $out != *"three nodes"* ]] || fail "meson: the demo started"

[ "$fails" = 0 ] && echo "ok"
exit "$fails"
