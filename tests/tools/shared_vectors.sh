#!/usr/bin/env bash
# `yz vectors` on one file of the shared Noise test vectors, with the exact
# number that must pass. The vectors live beside the project, in
# $YZ_SHARED_DIR/vectors (../shared/vectors of the source tree): a clone
# without them skips (exit 77, meson's skip code) and says why; a vectors
# folder that is there but lacks the file, or a wrong count, fails.
# Usage: shared_vectors.sh PATH-TO-yz FILE EXPECTED-PASS
set -u
YZ=$1 file=$2 want=$3
dir=${YZ_SHARED_DIR:-}/vectors
if [ -z "${YZ_SHARED_DIR:-}" ] || [ ! -d "$dir" ]; then
  echo "SKIP: no shared test vectors at '$dir' (YZ_SHARED_DIR; clone the" \
    "shared folder beside the project as ../shared to run this test)"
  exit 77
fi
exec "$YZ" vectors --verbose --expect-pass "$want" "$dir/$file"
