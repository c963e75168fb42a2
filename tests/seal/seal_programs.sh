#!/usr/bin/env bash
# Sealed values and encrypted topics from the command line, over real
# yz-node processes on loopback (docs/sealed.md):
#   - yz keygen --user: a 0600 key file, its public key printed;
#   - usage errors exit 2 (no --user, a bad --to);
#   - yz put --sealed / yz get --sealed: the owner reads its private value
#     back by name, another user gets exit 6 (wrong key); a plain yz get of
#     the same key shows only ciphertext (no byte of the plaintext);
#   - a shared value: the recipient reads it, a non-recipient gets exit 6,
#     yz share adds one (the seq rises) who then reads it; --json;
#   - yz topic create / show / remove: a member reads epoch 1, the removed
#     member is no member of epoch 2 (exit 6), the one who stays is;
#   - yz pub|sub --encrypted: a member's message reaches a member's yz sub
#     through yz-node relays subscribed without any key; a user who is no
#     member cannot publish (exit 6).
# No sleeps: nodes' output is read as a stream (read -t bounds a silence).
#
# usage: seal_programs.sh YZ_NODE YZ
set -u
NODE=${1:?usage: seal_programs.sh YZ_NODE YZ}
YZ=${2:?usage: seal_programs.sh YZ_NODE YZ}

declare -A PID ADDR
# shellcheck source=tests/tools/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/procs.sh"
procs_init seal-programs

start() { # start NAME ARGS...
  local name=$1
  shift
  "$NODE" --log-level info "$@" \
    > >(exec sed -u "s/^/$name /" >>"$tmp/all.log") 2>&1 &
  PID[$name]=$!
}



# ---- user keys ----
for u in alice bob carol; do
  "$YZ" keygen --user "$tmp/$u.key" >"$tmp/$u.pub" || fail "keygen --user $u"
  grep -qxE '[0-9a-f]{64}' "$tmp/$u.pub" || fail "keygen --user: no public key"
  [ "$(stat -c %a "$tmp/$u.key")" = 600 ] || fail "user key is not 0600"
done
A=$(cat "$tmp/alice.pub") B=$(cat "$tmp/bob.pub") C=$(cat "$tmp/carol.pub")
"$YZ" put --help | grep -q -- "--sealed" || fail "yz put --help lacks --sealed"
"$YZ" topic --help | grep -q "Exit status" || fail "yz topic --help: no exit codes"

# ---- usage errors ----
expect_rc 2 "put --sealed without --user" "$YZ" put --sealed \
  --bootstrap ws://127.0.0.1:1/ n v
expect_rc 2 "put --sealed bad --to" "$YZ" put --sealed --user "$tmp/alice.key" \
  --bootstrap ws://127.0.0.1:1/ --to abc n v
expect_rc 2 "share without --to" "$YZ" share --user "$tmp/alice.key" \
  --bootstrap ws://127.0.0.1:1/ n
expect_rc 2 "topic bogus" "$YZ" topic bogus

# ---- three nodes ----
# (relays of the encrypted topic "team": subscribed, with no key)
start n1 --key "$tmp/n1.key" --listen ws://127.0.0.1:0 --subscribe team
wait_line n1 "ready"
start n2 --key "$tmp/n2.key" --listen ws://127.0.0.1:0 --bootstrap "${ADDR[n1]}" \
  --subscribe team
wait_line n2 "dht: joined:"
start n3 --key "$tmp/n3.key" --listen ws://127.0.0.1:0 --bootstrap "${ADDR[n1]}" \
  --subscribe team
wait_line n3 "dht: joined:"

SECRET="the vault code is 4711"
# ---- a private value ----
expect_rc 0 "put --sealed" "$YZ" put --sealed --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n1]}" diary "$SECRET"
key=$(sed -n 's/^key \([0-9a-f]\{64\}\) (sealed.*$/\1/p' "$tmp/out")
[ ${#key} -eq 64 ] || { fail "put --sealed printed no key"; cat "$tmp/out"; }
grep -q "^stored on 3 of 3 nodes asked" "$tmp/out" || { fail "put --sealed: not on 3"; cat "$tmp/out"; }
expect_rc 0 "get --sealed by name" "$YZ" get --sealed --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n2]}" diary
grep -qx "value $SECRET" "$tmp/out" || { fail "get --sealed: wrong value"; cat "$tmp/out"; }
expect_rc 6 "get --sealed, another user" "$YZ" get --sealed --user "$tmp/bob.key" \
  --bootstrap "${ADDR[n3]}" --key "$key"
grep -q "YZ_E_SEAL_WRONG_KEY" "$tmp/out" || fail "another user: not WRONG_KEY"
expect_rc 0 "plain get of a sealed record" "$YZ" get --bootstrap "${ADDR[n3]}" "$key"
grep -q "^value (hex) 797a730001" "$tmp/out" || { fail "plain get: not the sealed header"; cat "$tmp/out"; }
grep -q "vault" "$tmp/out" && fail "plain get shows plaintext"
hexsecret=$(printf %s "$SECRET" | od -An -tx1 | tr -d ' \n')
grep -q "${hexsecret:0:16}" "$tmp/out" && fail "plain get shows plaintext bytes"

# ---- a shared value ----
expect_rc 0 "put --sealed --to bob" "$YZ" put --sealed --json \
  --user "$tmp/alice.key" --bootstrap "${ADDR[n1]}" --to "$B" --seq 10 plans "noon at the mill"
skey=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="ok" and d["seq"]==10, d; print(d["key"])' "$tmp/out") ||
  fail "put --sealed --json: bad object"
expect_rc 0 "bob reads" "$YZ" get --sealed --user "$tmp/bob.key" \
  --bootstrap "${ADDR[n2]}" --key "$skey"
grep -qx "value noon at the mill" "$tmp/out" || { fail "bob: wrong value"; cat "$tmp/out"; }
grep -q "^reader $B (you)" "$tmp/out" || fail "bob: not listed as a reader"
expect_rc 6 "carol cannot" "$YZ" get --sealed --user "$tmp/carol.key" \
  --bootstrap "${ADDR[n2]}" --key "$skey"
grep -q "YZ_E_SEAL_NOT_RECIPIENT" "$tmp/out" || fail "carol: not NOT_RECIPIENT"
expect_rc 0 "share with carol" "$YZ" share --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n3]}" --to "$C" plans
grep -q "seq 11" "$tmp/out" || { fail "share: seq is not 11"; cat "$tmp/out"; }
expect_rc 0 "carol reads (json)" "$YZ" get --sealed --json --user "$tmp/carol.key" \
  --bootstrap "${ADDR[n1]}" --key "$skey"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["value"]=="noon at the mill" and d["seq"]==11 and len(d["readers"])==3 and d["kind"]=="shared", d' "$tmp/out" ||
  fail "carol get --json: bad object"

# ---- an encrypted topic ----
expect_rc 0 "topic create" "$YZ" topic create --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n1]}" --member "$B" --member "$C" team
grep -q "epoch 1, 3 members" "$tmp/out" || { fail "topic create: output"; cat "$tmp/out"; }
expect_rc 0 "carol shows epoch 1" "$YZ" topic show --user "$tmp/carol.key" \
  --bootstrap "${ADDR[n2]}" --owner "$A" team
grep -q "member, reading epoch 1" "$tmp/out" || { fail "carol: not epoch 1"; cat "$tmp/out"; }
expect_rc 0 "topic remove carol" "$YZ" topic remove --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n3]}" --member "$C" team
grep -q "epoch 2, 2 members" "$tmp/out" || { fail "topic remove: output"; cat "$tmp/out"; }
expect_rc 6 "carol removed" "$YZ" topic show --user "$tmp/carol.key" \
  --bootstrap "${ADDR[n2]}" --owner "$A" team
grep -q "not a member of the current epoch" "$tmp/out" || { fail "carol: still a member?"; cat "$tmp/out"; }
expect_rc 0 "bob stays (json)" "$YZ" topic show --json --user "$tmp/bob.key" \
  --bootstrap "${ADDR[n1]}" --owner "$A" team
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="ok" and d["epochs"]==[2,1], d' "$tmp/out" ||
  fail "bob topic show --json: bad object"
expect_rc 0 "topic add carol back" "$YZ" topic add --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n1]}" --member "$C" team
grep -q "epoch 2, 3 members" "$tmp/out" || { fail "topic add: output"; cat "$tmp/out"; }

# ---- yz pub | sub --encrypted ----
expect_rc 2 "sub --encrypted without --owner" "$YZ" sub --encrypted \
  --user "$tmp/bob.key" --bootstrap "${ADDR[n1]}" team
"$YZ" keygen --user "$tmp/eve.key" >/dev/null
expect_rc 6 "pub --encrypted by a non-member" "$YZ" pub --encrypted \
  --user "$tmp/eve.key" --owner "$A" --bootstrap "${ADDR[n1]}" team "hi"
# bob subscribes (its output streams into the log as "bsub ...")
"$YZ" sub --encrypted --user "$tmp/bob.key" --owner "$A" \
  --bootstrap "${ADDR[n1]}" --count 2 --timeout 120 team \
  > >(exec sed -u "s/^/bsub /" >>"$tmp/all.log") 2>&1 &
PID[bsub]=$!
wait_line bsub "team: encrypted, epoch 2"
wait_line bsub "subscribed to team"
expect_rc 0 "carol publishes (encrypted)" "$YZ" pub --encrypted \
  --user "$tmp/carol.key" --owner "$A" --bootstrap "${ADDR[n2]}" team \
  "$SECRET"
wait_line bsub "team from"
case $LINE in
*": $SECRET") ;;
*) fail "bob's yz sub did not print the plaintext: $LINE" ;;
esac
# The owner removes carol (epoch 3) and publishes: bob's running yz sub
# holds keys up to epoch 2 only, so it must read the topic's keys again and
# open the message with the new ones.
expect_rc 0 "topic remove carol again" "$YZ" topic remove --user "$tmp/alice.key" \
  --bootstrap "${ADDR[n3]}" --member "$C" team
grep -q "epoch 3, 2 members" "$tmp/out" || { fail "topic remove: epoch 3"; cat "$tmp/out"; }
expect_rc 0 "alice publishes at epoch 3" "$YZ" pub --encrypted \
  --user "$tmp/alice.key" --owner "$A" --bootstrap "${ADDR[n3]}" team \
  "$SECRET after the rotation"
wait_line bsub "keys read again: epoch 3"
wait_line bsub "team from"
case $LINE in
*": $SECRET after the rotation") ;;
*) fail "bob's yz sub did not open the epoch-3 message: $LINE" ;;
esac
wait "${PID[bsub]}" || fail "yz sub --encrypted --count 2 did not exit 0"
unset "PID[bsub]"
# the relays logged the message, and never a byte of its plaintext
grep -q "^n[123] .*pubsub: message on team" "$tmp/all.log" ||
  fail "no relay logged the encrypted message"
grep "^n[123] " "$tmp/all.log" | grep -q "vault" && fail "a relay logged plaintext"

for n in n1 n2 n3; do kill -TERM "${PID[$n]}"; wait "${PID[$n]}"; unset "PID[$n]"; done
[ $fails -eq 0 ] || { echo "$fails failures"; exit 1; }
echo "PASS"
