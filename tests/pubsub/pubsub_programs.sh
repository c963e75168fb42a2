#!/usr/bin/env bash
# yz-node --subscribe, yz pub and yz sub over real processes on loopback:
#   - usage errors exit 2 (yz pub, yz sub, yz-node --subscribe);
#   - a bootstrap nobody answers at: yz pub exits 4;
#   - three yz-node processes subscribed to "news": `yz sub --count 2
#     --json` (an ephemeral node that finds them through the DHT) receives
#     the two messages `yz pub` publishes, with their author, seq, size and
#     latency, and exits 0; every node logs each message once;
#   - yz pub to a topic nobody subscribes to exits 3.
# No sleeps: output is read as a stream (read -t bounds a silence).
#
# usage: pubsub_programs.sh YZ_NODE YZ
set -u
NODE=${1:?usage: pubsub_programs.sh YZ_NODE YZ}
YZ=${2:?usage: pubsub_programs.sh YZ_NODE YZ}

declare -A PID
# shellcheck source=tests/tools/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/procs.sh"
procs_init pubsub-programs

LOOPBACK_LIMITS="--max-links-per-source 1000 --max-handshakes-per-source 1000
  --ip-rate 1000 --ip-burst 1000"
start() { # start NAME ARGS...
  local name=$1
  shift
  # shellcheck disable=SC2086
  "$NODE" --key "$tmp/$name.key" --listen ws://127.0.0.1:0 --log-level info \
    $LOOPBACK_LIMITS "$@" \
    > >(exec sed -u "s/^/$name /" >>"$tmp/all.log") 2>&1 &
  PID[$name]=$!
}

# wait_line NAME PATTERN: read the stream until NAME prints PATTERN (or
# find it among the lines already there: lines of several processes come
# in any order).
wait_line() {
  local name=$1 pat=$2 line
  if line=$(grep -F -- "$pat" "$tmp/all.log" | grep -m1 "^$name "); then
    LINE=$line
    return 0
  fi
  while IFS= read -r -t 60 -u "$OUT" line; do
    case $line in
    "$name "*"$pat"*) LINE=$line; return 0 ;;
    esac
  done
  die "no line from $name containing '$pat'"
}

# addr NAME: the node address NAME printed (its stdout, before "ready").
addr() { sed -n "s/^$1 address //p" "$tmp/all.log" | head -n 1; }

# expect_exit WANT WHAT COMMAND...: run it, check its exit status.
expect_exit() {
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  [ $rc -eq "$want" ] || { cat "$tmp/out"; fail "$what: exit $rc, want $want"; }
}

expect_exit 2 "yz pub without --bootstrap" "$YZ" pub news hello
expect_exit 2 "yz pub without a message" "$YZ" pub --bootstrap ws://127.0.0.1:1/ news
expect_exit 2 "yz sub with a bad --count" "$YZ" sub --bootstrap ws://127.0.0.1:1/ --count 0 news
expect_exit 2 "yz sub with two topics" "$YZ" sub --bootstrap ws://127.0.0.1:1/ a b
expect_exit 2 "yz-node --subscribe ''" "$NODE" --subscribe ""
expect_exit 0 "yz pub --help" "$YZ" pub --help
expect_exit 0 "yz sub --help" "$YZ" sub --help
expect_exit 4 "yz pub, nobody at the bootstrap" "$YZ" pub --timeout 20 \
  --bootstrap ws://127.0.0.1:1/ news hello

start a --subscribe news
wait_line a "ready"
BOOT=$(addr a)
start b --subscribe news --bootstrap "$BOOT"
start c --subscribe news --bootstrap "$BOOT"
wait_line b "dht: joined:"
wait_line c "dht: joined:"

# yz sub in the stream too: its stderr line says when it is in a mesh
"$YZ" sub --bootstrap "$BOOT" --count 2 --json --timeout 60 news \
  >"$tmp/sub.out" 2> >(exec sed -u "s/^/sub /" >>"$tmp/all.log") &
SUB=$!
wait_line sub "subscribed to news: mesh of"

expect_exit 0 "yz pub one" "$YZ" pub --bootstrap "$(addr b)" news "one"
grep -q "^published to news: id [0-9a-f]\{64\} seq [0-9]*, sent to [1-9]" "$tmp/out" ||
  fail "yz pub: $(cat "$tmp/out")"
expect_exit 0 "yz pub two" "$YZ" pub --json --bootstrap "$(addr c)" news "two"
grep -q '^{"op":"pub","status":"OK","topic":"news","id":"[0-9a-f]\{64\}","seq":[0-9]*,"reached":[1-9]' "$tmp/out" ||
  fail "yz pub --json: $(cat "$tmp/out")"
wait "$SUB"
rc=$?
[ $rc -eq 0 ] || fail "yz sub --count 2: exit $rc"
[ "$(wc -l <"$tmp/sub.out")" -eq 2 ] || fail "yz sub printed $(wc -l <"$tmp/sub.out") lines"
for d in one two; do
  grep -q "^{\"topic\":\"news\",\"author\":\"[0-9a-f]\{64\}\",\"id\":\"[0-9a-f]\{64\}\",\"seq\":[0-9]*,\"size\":3,\"latency_ms\":[0-9.]*,\"data\":\"$d\"}$" "$tmp/sub.out" ||
    fail "yz sub: no JSON line for '$d': $(cat "$tmp/sub.out")"
done
# wait_count NAME PATTERN N: read the stream until the log holds N lines of
# NAME with PATTERN.
wait_count() {
  local line
  while [ "$(grep -c "^$1 .*$2" "$tmp/all.log")" -lt "$3" ]; do
    IFS= read -r -t 60 -u "$OUT" line || die "$1: fewer than $3 lines '$2'"
  done
}
for n in a b c; do
  wait_count "$n" "pubsub: message on news from" 2
done

expect_exit 3 "yz pub to a topic nobody subscribes to" "$YZ" pub \
  --bootstrap "$BOOT" nobody hello
grep -q "no subscriber of nobody found" "$tmp/out" || fail "yz pub nobody: $(cat "$tmp/out")"

for n in a b c; do kill -TERM "${PID[$n]}"; done
for n in a b c; do
  wait "${PID[$n]}"
  rc=$?
  unset "PID[$n]"
  [ $rc -eq 0 ] || fail "$n exited with $rc after SIGTERM"
done
# each node logged each message once
for n in a b c; do
  c=$(grep -c "^$n .*pubsub: message on news from" "$tmp/all.log")
  [ "$c" -eq 2 ] || fail "$n logged $c messages, want 2"
done
[ $fails -eq 0 ] && echo "PASS: yz-node --subscribe, yz pub, yz sub"
exit $fails
