#!/usr/bin/env bash
# `yz record make` and `yz record show` (docs/protocol.md "Node records"):
# a record made from a key file shows its node ID and canonical addresses,
# is deterministic, and is refused (exit 1, with the reason) for another
# network, after its expiry, for another expected node, and when tampered;
# bad command lines exit 2.
# Usage: test_record_cli.sh YZ
set -u
yz=$1
tmp=$(mktemp -d /tmp/yz-test-record-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect STATUS CMD...: run CMD, check its exit status.
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || fail "exit $got, want $want: $* ($(cat "$tmp/err"))"
}

"$yz" keygen "$tmp/a.key" >/dev/null 2>&1 || { echo "FAIL: keygen"; exit 1; }
"$yz" keygen "$tmp/b.key" >/dev/null 2>&1 || { echo "FAIL: keygen"; exit 1; }
ida=$("$yz" id "$tmp/a.key") idb=$("$yz" id "$tmp/b.key")
make=("$yz" record make --key "$tmp/a.key" --network yz-test
      --addr ws://192.0.2.7:7700 --addr wss://node.example.org=wss
      --seq 7 --expiry 2000000000 --type infrastructure --caps 5)
hex=$("${make[@]}") || fail "make"
[ "$hex" = "$("${make[@]}")" ] || fail "make is not deterministic"

expect 0 "$yz" record show --network yz-test --now 1999999999 --node "$ida" "$hex"
grep -qx "node-id $ida" "$tmp/out" || fail "node-id line: $(cat "$tmp/out")"
grep -qx "address ws://192.0.2.7:7700/#$ida ws" "$tmp/out" ||
  fail "ws address line: $(cat "$tmp/out")"
grep -qx "address wss://node.example.org:443/#$ida wss" "$tmp/out" ||
  fail "wss address line: $(cat "$tmp/out")"
grep -qx "seq 7" "$tmp/out" || fail "seq line"
grep -qx "type infrastructure" "$tmp/out" || fail "type line"

expect 1 "$yz" record show --network yz-main --now 0 "$hex"
grep -q "record of another network" "$tmp/err" || fail "network reason"
expect 1 "$yz" record show --network yz-test --now 2000000000 "$hex"
grep -q "record expired" "$tmp/err" || fail "expiry reason"
expect 1 "$yz" record show --network yz-test --now 0 --node "$idb" "$hex"
grep -q "another node" "$tmp/err" || fail "node reason"
# One hex digit of the signature changed.
p=$(( ${#hex} - 10 ))
bad=${hex:0:p}$(printf '%x' $(( (0x${hex:p:1} + 1) % 16 )))${hex:p+1}
expect 1 "$yz" record show --network yz-test --now 0 "$bad"
grep -q "signature does not verify" "$tmp/err" || fail "signature reason"
expect 1 "$yz" record show --network yz-test --now 0 "${hex}00"

expect 2 "$yz" record make --key "$tmp/a.key" --network yz-test \
  --addr "ws://192.0.2.7:7700/#$ida"
expect 2 "$yz" record make --key "$tmp/a.key" --network "yz test" \
  --addr ws://192.0.2.7:7700
expect 2 "$yz" record make --key "$tmp/a.key" --network yz-test
nine=()
for i in 1 2 3 4 5 6 7 8 9; do nine+=(--addr "ws://192.0.2.$i:1"); done
expect 2 "$yz" record make --key "$tmp/a.key" --network yz-test "${nine[@]}"
expect 2 "$yz" record show --network yz-test "zz"
expect 2 "$yz" record frob

[ "$fails" = 0 ] && echo "yz record: all checks passed"
exit $(( fails > 0 ))
