#!/usr/bin/env bash
# yz keygen and yz id, end to end: exit codes, messages, file modes.
# Usage: test_cli.sh PATH-TO-yz
set -u
YZ=$1
dir=$(mktemp -d /tmp/yz-test-cli-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0

# expect WANT-STATUS DESCRIPTION -- COMMAND...: runs it, keeps its stdout in
# $out and its stderr in $err.
expect() {
  local want=$1 what=$2
  shift 3
  out=$("$@" 2>"$dir/stderr")
  local rc=$?
  err=$(cat "$dir/stderr")
  if [ "$rc" != "$want" ]; then
    echo "FAIL: $what: exit $rc, want $want; stderr: $err"
    fails=$((fails + 1))
  fi
}
check() { # check DESCRIPTION TEST-ARGS...
  local what=$1
  shift
  if ! "$@"; then
    echo "FAIL: $what"
    fails=$((fails + 1))
  fi
}
has() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }

key=$dir/node.key
expect 0 "keygen" -- "$YZ" keygen "$key"
id=$out
is_node_id() { printf '%s\n' "$1" | grep -qxE '[0-9a-f]{64}'; }
check "keygen prints a node ID ($id)" is_node_id "$id"
check "key file mode is 0600" [ "$(stat -c %a "$key")" = 600 ]
before=$(cat "$key")

expect 1 "keygen refuses to overwrite" -- "$YZ" keygen "$key"
check "overwrite message" has "$err" "already exists"
check "file unchanged" [ "$(cat "$key")" = "$before" ]

expect 0 "id" -- "$YZ" id "$key"
check "id prints the keygen ID" [ "$out" = "$id" ]

expect 0 "id --address" -- "$YZ" id --address ws://127.0.0.1:7700 "$key"
check "address line" [ "$out" = "ws://127.0.0.1:7700/#$id" ]
expect 0 "id --address=" -- "$YZ" id --address=wss://[::1] "$key"
check "address line (IPv6, default port)" [ "$out" = "wss://[::1]:443/#$id" ]
expect 0 "id --address with the same ID" -- "$YZ" id --address "ws://h:1/#$id" "$key"
expect 1 "id --address with another ID" -- "$YZ" id --address \
  "ws://h:1/#21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9" "$key"
expect 2 "id --address with a bad URL" -- "$YZ" id --address http://h/ "$key"
check "bad URL reason" has "$err" "unknown scheme 'http'"

# RFC 8032 test 1's seed: a known node ID.
printf 'yz-identity-v1\nseed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n' >"$dir/rfc.key"
chmod 600 "$dir/rfc.key"
expect 0 "id of a hand-written key file" -- "$YZ" id "$dir/rfc.key"
check "RFC 8032 node ID" [ "$out" = 21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9 ]

chmod 644 "$key"
expect 1 "id refuses mode 0644" -- "$YZ" id "$key"
check "chmod hint" has "$err" "is readable by others (mode 0644); run: chmod 600 $key"
chmod 600 "$key"

echo junk >>"$key"
expect 1 "id refuses a corrupt file" -- "$YZ" id "$key"
check "corrupt reason names the file" has "$err" "key file $key:"

expect 1 "id of a missing file" -- "$YZ" id "$dir/missing.key"
check "missing hint" has "$err" "yz keygen"

expect 2 "keygen without FILE" -- "$YZ" keygen
expect 2 "keygen with two FILEs" -- "$YZ" keygen "$dir/a" "$dir/b"
expect 2 "keygen with an unknown option" -- "$YZ" keygen --force "$dir/a"
expect 2 "id without FILE" -- "$YZ" id
expect 2 "id --address without URL" -- "$YZ" id --address
expect 0 "keygen --help" -- "$YZ" keygen --help
check "keygen help" has "$out" "Usage: yz keygen FILE"
expect 0 "id --help" -- "$YZ" id --help
check "id help" has "$out" "Usage: yz id"
expect 1 "keygen into a missing directory" -- "$YZ" keygen "$dir/no/such/k"

echo "$fails failed"
[ "$fails" = 0 ]
