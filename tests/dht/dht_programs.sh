#!/usr/bin/env bash
# yz-node's DHT options and `yz dht`, over real processes on loopback:
#   - bad --bootstrap / --advertise / --data-dir usage: exit 2;
#   - a 0.0.0.0 listener without --advertise: client-only, said in the log;
#   - --data-dir: created 0700 with the key in it; a corrupt records file is
#     reported and ignored (the node starts); at SIGTERM both files are
#     saved 0600 with their header lines; a restart loads the record back;
#   - yz dht: usage errors exit 2; a bootstrap nobody answers at exits 4;
#     a missing key exits 3; put and get of immutable and mutable records,
#     --json; a lower --seq and a wrong --cas are refused by every node
#     (exit 5); find prints the closest nodes.
# No sleeps: nodes' output is read as a stream (read -t bounds a silence).
#
# usage: dht_programs.sh YZ_NODE YZ
set -u
NODE=${1:?usage: dht_programs.sh YZ_NODE YZ}
YZ=${2:?usage: dht_programs.sh YZ_NODE YZ}

declare -A PID ADDR
# shellcheck source=tests/tools/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/procs.sh"
procs_init dht-programs

start() { # start NAME ARGS...
  local name=$1
  shift
  "$NODE" --log-level info "$@" \
    > >(exec sed -u "s/^/$name /" >>"$tmp/all.log") 2>&1 &
  PID[$name]=$!
}


stop() { # stop NAME: SIGTERM, exit 0
  kill -TERM "${PID[$1]}"
  wait "${PID[$1]}"
  local rc=$?
  unset "PID[$1]"
  [ $rc -eq 0 ] || fail "$1 exited with $rc after SIGTERM"
}


# ---- usage errors ----
expect_rc 2 "--bootstrap garbage" "$NODE" --bootstrap nope
expect_rc 2 "--advertise with #ID" "$NODE" --advertise \
  "ws://127.0.0.1:1/#$(printf '%064d' 0)"
expect_rc 2 "--dht-k 0" "$NODE" --dht-k 0
expect_rc 2 "yz dht without --bootstrap" "$YZ" dht get "$(printf '%064d' 0)"
expect_rc 2 "yz dht get bad key" "$YZ" dht get --bootstrap ws://127.0.0.1:1/ abc
expect_rc 2 "yz dht put without a value" "$YZ" dht put --bootstrap ws://127.0.0.1:1/
expect_rc 2 "yz dht bogus" "$YZ" dht bogus
"$NODE" --help | grep -q -- "--data-dir" || fail "yz-node --help lacks --data-dir"
"$YZ" dht --help | grep -q "Exit status" || fail "yz dht --help lacks the exit codes"

# ---- a wildcard listener is not advertised ----
start wild --key "$tmp/wild.key" --listen ws://0.0.0.0:0
wait_line wild "client-only"
wait_line wild "ready"
stop wild

# ---- a first node with a data directory, whose records file is corrupt ----
mkdir "$tmp/d1"
printf 'yz-dht-records v1\n\0\0\0\7garbage' >"$tmp/d1/records"
chmod 700 "$tmp/d1"
start n1 --listen ws://127.0.0.1:0 --data-dir "$tmp/d1"
wait_line n1 "corrupt, ignored"
wait_line n1 "ready"
[ -f "$tmp/d1/yz-node.key" ] || fail "the key is not in the data directory"
start n2 --key "$tmp/n2.key" --listen ws://127.0.0.1:0 --bootstrap "${ADDR[n1]}"
wait_line n2 "dht: joined:"
start n3 --key "$tmp/n3.key" --listen ws://127.0.0.1:0 --bootstrap "${ADDR[n1]}" \
  --data-dir "$tmp/new/d3"
wait_line n3 "dht: joined:"
[ "$(stat -c %a "$tmp/new/d3")" = 700 ] || fail "--data-dir not created 0700"

# ---- yz dht ----
expect_rc 4 "bootstrap nobody answers at" "$YZ" dht get --timeout 10 \
  --bootstrap "ws://127.0.0.1:1/#$(printf '%064d' 0)" "$(printf '%064d' 0)"
expect_rc 3 "get of a missing key" "$YZ" dht get --bootstrap "${ADDR[n2]}" \
  "$(printf '%064d' 0)"
expect_rc 0 "put immutable" "$YZ" dht put --bootstrap "${ADDR[n2]}" --immutable "hello"
key=$(sed -n 's/^key \([0-9a-f]\{64\}\)$/\1/p' "$tmp/out")
[ ${#key} -eq 64 ] || fail "put printed no key"
grep -q "^stored on 3 of 3 nodes asked" "$tmp/out" || { fail "put: not stored on all 3"; cat "$tmp/out"; }
grep -q "^hops [0-9]*, nodes asked" "$tmp/out" || fail "put: no hops line"
expect_rc 0 "get immutable" "$YZ" dht get --bootstrap "${ADDR[n3]}" "$key"
grep -qx "value hello" "$tmp/out" || { fail "get: wrong value"; cat "$tmp/out"; }
expect_rc 0 "get --json" "$YZ" dht get --json --bootstrap "${ADDR[n1]}" "$key"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["value"]=="hello" and d["holders"]>=1 and "rounds" in d, d' "$tmp/out" ||
  fail "get --json: bad object"

"$YZ" keygen "$tmp/w.key" >/dev/null
expect_rc 0 "put mutable seq 5" "$YZ" dht put --bootstrap "${ADDR[n2]}" \
  --key "$tmp/w.key" --salt s --seq 5 "five"
expect_rc 5 "put mutable seq 4 (lower)" "$YZ" dht put --bootstrap "${ADDR[n2]}" \
  --key "$tmp/w.key" --salt s --seq 4 "four"
grep -q "SEQ_TOO_LOW" "$tmp/out" || fail "lower seq: no SEQ_TOO_LOW"
expect_rc 5 "put mutable wrong cas" "$YZ" dht put --bootstrap "${ADDR[n2]}" \
  --key "$tmp/w.key" --salt s --seq 7 --cas 6 "seven"
grep -q "CAS_MISMATCH" "$tmp/out" || fail "wrong cas: no CAS_MISMATCH"
expect_rc 0 "put mutable seq 6 cas 5" "$YZ" dht put --bootstrap "${ADDR[n2]}" \
  --key "$tmp/w.key" --salt s --seq 6 --cas 5 "six"
expect_rc 0 "get mutable" "$YZ" dht get --bootstrap "${ADDR[n3]}" --key "$tmp/w.key" --salt s
grep -qx "value six" "$tmp/out" || { fail "get mutable: not the latest"; cat "$tmp/out"; }
grep -q "^seq 6," "$tmp/out" || fail "get mutable: seq is not 6"
n1id=${ADDR[n1]##*#}
expect_rc 0 "find" "$YZ" dht find --bootstrap "${ADDR[n3]}" "$n1id"
grep -qE "^ +1 $n1id$" "$tmp/out" || { fail "find: n1 is not first"; cat "$tmp/out"; }

# ---- the data directory saved at stop, loaded at restart ----
stop n1
for f in contacts records; do
  [ "$(stat -c %a "$tmp/d1/$f")" = 600 ] || fail "$f is not 0600"
done
head -n 1 "$tmp/d1/records" | grep -qx "yz-dht-records v1" || fail "records: no header line"
head -n 1 "$tmp/d1/contacts" | grep -qx "yz-dht-contacts v1" || fail "contacts: no header line"
start n1b --listen ws://127.0.0.1:0 --data-dir "$tmp/d1"
wait_line n1b "dht: loaded"
case $LINE in
*"loaded 0 contacts and 0 records"*) fail "nothing loaded back: $LINE" ;;
esac
wait_line n1b "ready"
stop n1b
stop n2
stop n3
[ -f "$tmp/new/d3/records" ] || fail "n3 saved nothing at stop"

[ $fails -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "PASS"
