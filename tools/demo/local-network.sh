#!/usr/bin/env bash
# A local yz network on loopback, for a person to watch:
#   - three yz-node processes: node1 and node2 on ws://, node3 on ws:// and
#     on wss:// with a self-signed certificate made here with openssl;
#   - node2 keeps a link to node1, node3 to node1 and node2: the links come
#     up, each end logging the peer's node ID;
#   - yz ping over ws:// and over wss://;
#   - a dial that expects the WRONG node ID is refused, with its reason;
#   - the overlay: OVERLAY (20) more yz-node processes that know only node1's
#     address join the DHT through it, their routing tables filling; a
#     signed mutable record is put through one node and read through
#     another; a lookup of a node ID shows its hop count;
#   - PubSub: the overlay nodes subscribe to the topic "demo" (finding each
#     other through the DHT); a message published through one of them
#     arrives at the subscribers on every other node, each logging its
#     author and latency;
#   - SIGTERM stops every node; each must exit 0.
# Everything lives in a temporary directory that is removed at the end.
# Exits non-zero if any step fails.
#
# usage: tools/demo/local-network.sh [BUILD_DIR]   (default: build)
set -u
BUILD=${1:-build}
NODE=$BUILD/tools/yz-node/yz-node
YZ=$BUILD/tools/yz/yz
for b in "$NODE" "$YZ"; do
  [ -x "$b" ] || { echo "demo: $b not found; build first (ninja -C $BUILD)"; exit 1; }
done
command -v openssl >/dev/null || { echo "demo: openssl is needed for the wss:// certificate"; exit 1; }

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B= G= R= N=; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/yz-demo.XXXXXX")
declare -A PID FD ID ADDR
OVERLAY=${YZ_DEMO_OVERLAY:-20}
TAIL=
cleanup() {
  for n in "${!PID[@]}"; do kill -TERM "${PID[$n]}" 2>/dev/null; done
  [ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# Stopped by a signal (Ctrl-C, or .ci/run's timeout): exit through the
# cleanup above, so the nodes stop and the temporary directory goes.
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
die() { printf '%sdemo failed: %s%s\n' "$R" "$*" "$N"; exit 1; }
short() { printf '%s' "${1:0:16}..."; }

# start NAME ARGS...: a yz-node whose stdout and stderr come back to us on a
# FIFO, so we can wait for its lines without polling.
start() {
  local name=$1 fd
  shift
  mkfifo "$tmp/$name.fifo"
  "$NODE" --key "$tmp/$name.key" --log-level info "$@" >"$tmp/$name.fifo" 2>&1 &
  PID[$name]=$!
  exec {fd}<"$tmp/$name.fifo"
  FD[$name]=$fd
}

# wait_for NAME PATTERN [SHOW]: read NAME's lines until one contains PATTERN
# (at most 15 s), or find it among the lines already read; show it if SHOW
# is set. The line is left in LINE.
wait_for() {
  local name=$1 pat=$2 show=${3:-} line
  # Lines come in any order: one read past earlier may be the one wanted.
  if [ -n "$pat" ] && line=$(grep -F -m1 -- "$pat" "$tmp/$name.log" 2>/dev/null); then
    LINE=$line
    [ -n "$show" ] && printf '  %-6s| %s\n' "$name" "${line#* }"
    return 0
  fi
  while IFS= read -r -t 15 -u "${FD[$name]}" line; do
    printf '%s\n' "$line" >>"$tmp/$name.log"
    if [[ $line == *"$pat"* ]]; then
      LINE=$line
      [ -n "$show" ] && printf '  %-6s| %s\n' "$name" "${line#* }"
      return 0
    fi
  done
  echo "--- $name's output so far:"; cat "$tmp/$name.log" 2>/dev/null
  die "$name: no line containing '$pat'"
}

# ready NAME: read the node's address lines (stdout) up to "ready".
ready() {
  local name=$1
  while :; do
    wait_for "$name" "" || return 1
    case $LINE in
    "address ws://"*) ADDR[$name]=${LINE#address } ;;
    "address wss://"*) ADDR[$name.wss]=${LINE#address } ;;
    ready) break ;;
    esac
  done
  ID[$name]=${ADDR[$name]##*#}
  printf '  %-6s node ID %s\n' "$name" "${ID[$name]}"
  printf '  %-6s address %s\n' "" "${ADDR[$name]}"
  [ -n "${ADDR[$name.wss]:-}" ] && printf '  %-6s address %s\n' "" "${ADDR[$name.wss]}"
  return 0
}

# run DESCRIPTION WANT COMMAND...: show the command and its output, indented.
run() {
  local want=$1
  shift
  printf '%s$ %s%s\n' "$B" "yz ${*:2}" "$N"
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  sed 's/^/    /' "$tmp/out"
  [ $rc -eq "$want" ] || die "exit code $rc, expected $want"
  RC=$rc
}

step "three nodes on loopback (temporary directory $tmp)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 ||
  die "openssl could not create the self-signed certificate"
echo "  self-signed certificate for 127.0.0.1 created with openssl: $tmp/tls.crt"

start node1 --listen ws://127.0.0.1:0 --max-links-per-source 10000 \
  --max-handshakes-per-source 10000 --ip-rate 10000 --ip-burst 10000
ready node1
start node2 --listen ws://127.0.0.1:0 --peer "${ADDR[node1]}"
ready node2
start node3 --listen ws://127.0.0.1:0 --listen wss://127.0.0.1:0 \
  --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key" \
  --peer "${ADDR[node1]}" --peer "${ADDR[node2]}"
ready node3
grep -h "created key file" "$tmp"/node*.log | sed 's/^[^ ]* /  /'

step "links come up; each end logs the peer's verified node ID"
wait_for node2 "peer up: ${ID[node1]}" show
wait_for node1 "peer up: ${ID[node2]}" show
wait_for node3 "peer up: ${ID[node1]}" show
wait_for node3 "peer up: ${ID[node2]}" show
wait_for node1 "peer up: ${ID[node3]}" show
wait_for node2 "peer up: ${ID[node3]}" show
echo "  ${G}node1 ($(short "${ID[node1]}")), node2 ($(short "${ID[node2]}")) and node3 ($(short "${ID[node3]}")) are fully linked${N}"

step "yz ping over the encrypted links"
run 0 "$YZ" ping "${ADDR[node2]}" --count 3 --interval 50
run 0 "$YZ" ping "${ADDR[node3.wss]}" --count 2 --interval 50 --tls-ca "$tmp/tls.crt"

step "a dial that expects the WRONG node ID (node1's URL, node2's ID)"
WRONG="${ADDR[node1]%#*}#${ID[node2]}"
run 3 "$YZ" ping "$WRONG" --count 1
echo "  ${G}refused: exit code 3 (peer node ID mismatch); no data was exchanged${N}"

step "the overlay: $OVERLAY more nodes that know only node1's address join the DHT"
# Their output goes, prefixed with their name, to one log read as a stream
# (no node ever blocks on its output; every wait is bounded by read -t).
: >"$tmp/overlay.log"
exec {OV}< <(exec tail -n +1 -F "$tmp/overlay.log" 2>/dev/null)
TAIL=$!
declare -A OVADDR OVMESH OVGOT
joined=0 ready_n=0 meshed=0 got=0 SEQ=none
# pump_until COND: read overlay lines until the shell test COND holds.
pump_until() {
  local line who rest
  while ! eval "$1"; do
    IFS= read -r -t 30 -u "$OV" line || die "overlay: no output for 30 s waiting for: $1"
    who=${line%% *} rest=${line#* }
    case $rest in
    "address ws://"*) OVADDR[$who]=${rest#address } ;;
    ready) ready_n=$((ready_n + 1)) ;;
    *"dht: joined:"*)
      joined=$((joined + 1))
      [ $joined -le 3 ] && printf '  %-6s| %s\n' "$who" "${rest#* }" ;;
    *"dht: routing table"*"(join done)"*)
      [ $joined -le 3 ] && printf '  %-6s| %s\n' "$who" "${rest#* }" ;;
    *"pubsub: mesh of demo: "*)
      [ -z "${OVMESH[$who]:-}" ] && meshed=$((meshed + 1))
      OVMESH[$who]=${rest##*mesh of demo: } ;;
    *"pubsub: message on demo "*" seq $SEQ "*)
      got=$((got + 1))
      OVGOT[$who]=$((${OVGOT[$who]:-0} + 1))
      [ $got -le 4 ] && printf '  %-6s| %s\n' "$who" "${rest#* }" ;;
    esac
  done
}
for ((i = 1; i <= OVERLAY; i++)); do
  # All on one address (127.0.0.1): the per-source limits meant for the
  # internet are lifted (docs/operations.md "One source, one share").
  "$NODE" --key "$tmp/dht$i.key" --listen ws://127.0.0.1:0 --log-level info \
    --max-links-per-source 10000 --max-handshakes-per-source 10000 \
    --ip-rate 10000 --ip-burst 10000 --bootstrap "${ADDR[node1]}" \
    --subscribe demo \
    > >(exec sed -u "s/^/dht$i /" >>"$tmp/overlay.log") 2>&1 &
  PID[dht$i]=$!
done
pump_until '[ $ready_n -ge $OVERLAY ] && [ $joined -ge $OVERLAY ]'
echo "  ..."
echo "  ${G}$OVERLAY nodes joined through node1 alone${N}; their routing tables now:"
sizes=$(for ((i = 1; i <= OVERLAY; i++)); do
  grep "^dht$i .*dht: routing table" "$tmp/overlay.log" | tail -n 1 |
    sed 's/.*routing table \([0-9]*\) contacts.*/\1/'; done | sort -n | tr '\n' ' ')
echo "  contacts per node: $sizes"

step "a signed mutable record: put through dht3, read through dht$OVERLAY"
"$YZ" keygen "$tmp/writer.key" >/dev/null || die "yz keygen failed"
run 0 "$YZ" dht put --bootstrap "${OVADDR[dht3]}" --key "$tmp/writer.key" \
  --salt demo "hello from the overlay"
run 0 "$YZ" dht get --bootstrap "${OVADDR[dht$OVERLAY]}" \
  --key "$tmp/writer.key" --salt demo
grep -q "^value hello from the overlay$" "$tmp/out" || die "the record read back is not the one put"
echo "  ${G}the record signed by writer.key was read back through another node${N}"

step "a lookup: the nodes closest to dht7's ID, asked through dht12"
target=${OVADDR[dht7]##*#}
"$YZ" dht find --bootstrap "${OVADDR[dht12]}" "$target" >"$tmp/out" 2>&1 ||
  die "yz dht find failed: $(cat "$tmp/out")"
printf '%s$ yz dht find --bootstrap %s %s%s\n' "$B" "$(short "${OVADDR[dht12]}")" "$(short "$target")" "$N"
head -n 4 "$tmp/out" | sed 's/^/    /'
echo "    ..."
grep "^hops" "$tmp/out" | sed 's/^/    /'
hops=$(sed -n 's/^hops \([0-9]*\),.*/\1/p' "$tmp/out")
first=$(sed -n 's/^ *1 \([0-9a-f]\{64\}\)$/\1/p' "$tmp/out")
[ "$first" = "$target" ] || die "the closest node found is not dht7"
echo "  ${G}dht7 found first, in $hops hops${N}"

step "PubSub: a message published through dht5 reaches the subscribers on every other node"
# Each overlay node runs --subscribe demo: it provides the topic in the DHT
# and finds the others there; a mesh forms (docs/pubsub.md).
pump_until '[ $meshed -ge $OVERLAY ]'
echo "  all $OVERLAY overlay nodes are in a mesh of the topic \"demo\""
run 0 "$YZ" pub --bootstrap "${OVADDR[dht5]}" demo "hello, subscribers"
SEQ=$(sed -n 's/.* seq \([0-9]*\),.*/\1/p' "$tmp/out")
[ -n "$SEQ" ] || die "yz pub printed no seq"
# lines already read (none can be: the seq is new) and those to come
pump_until '[ $got -ge $OVERLAY ]'
echo "  ..."
for who in "${!OVGOT[@]}"; do
  [ "${OVGOT[$who]}" -eq 1 ] || die "$who received the message ${OVGOT[$who]} times"
done
echo "  ${G}the message reached all $OVERLAY subscribers, each exactly once${N}"

step "a sealed value: stored by its owner, read by its owner and a recipient"
# End to end (docs/sealed.md): the value is encrypted with alice's user key
# and sealed to bob before it leaves yz; storage nodes hold ciphertext.
"$YZ" keygen --user "$tmp/alice.key" >/dev/null || die "yz keygen --user failed"
BOBPK=$("$YZ" keygen --user "$tmp/bob.key") || die "yz keygen --user failed"
run 0 "$YZ" put --sealed --user "$tmp/alice.key" --bootstrap "${OVADDR[dht3]}" \
  --to "$BOBPK" plans "meet at noon by the old mill"
SKEY=$(sed -n 's/^key \([0-9a-f]\{64\}\) (sealed.*/\1/p' "$tmp/out")
[ -n "$SKEY" ] || die "yz put --sealed printed no key"
run 0 "$YZ" get --sealed --user "$tmp/alice.key" --bootstrap "${OVADDR[dht9]}" plans
grep -q "^value meet at noon by the old mill$" "$tmp/out" || die "the owner did not read the sealed value back"
run 0 "$YZ" get --sealed --user "$tmp/bob.key" --bootstrap "${OVADDR[dht14]}" --key "$SKEY"
grep -q "^value meet at noon by the old mill$" "$tmp/out" || die "the recipient did not read the sealed value"
printf '%s$ yz get %s   %s# what a storage node holds%s\n' "$B" "$(short "$SKEY")" "$N$B" "$N"
"$YZ" get --bootstrap "${OVADDR[dht$OVERLAY]}" "$SKEY" >"$tmp/out" 2>&1 || die "plain get of the sealed record failed"
sed -n 's/^\(value (hex) .\{72\}\).*/    \1.../p' "$tmp/out"
grep -q "^value (hex) 797a7300" "$tmp/out" || die "the stored value is not a sealed one"
grep -qi "noon\|$(printf 'noon' | od -An -tx1 | tr -d ' \n')" "$tmp/out" && die "a storage node holds plaintext"
echo "  ${G}alice and bob read it; the nodes that store it hold only ciphertext (header 797a7300 01 02, then boxes, nonce, ciphertext)${N}"

step "stop every node with SIGTERM"
for ((i = OVERLAY; i >= 1; i--)); do kill -TERM "${PID[dht$i]}"; done
for ((i = OVERLAY; i >= 1; i--)); do
  wait "${PID[dht$i]}"
  rc=$?
  unset "PID[dht$i]"
  [ $rc -eq 0 ] || die "dht$i exited with $rc"
done
printf '  %s overlay nodes stopped cleanly (exit 0)\n' "$OVERLAY"
for n in node3 node2 node1; do
  kill -TERM "${PID[$n]}"
  wait_for "$n" " stopped"
  wait "${PID[$n]}"
  rc=$?
  unset "PID[$n]"
  [ $rc -eq 0 ] || die "$n exited with $rc"
  printf '  %-6s stopped cleanly (exit 0)\n' "$n"
done

printf '\n%sdemo passed: 3 nodes linked, pings answered over ws:// and wss://, wrong ID refused, %s overlay nodes joined from one address, a signed record put and read across nodes, a lookup in %s hops, a message published on one node delivered to the %s subscribers on every other node, a sealed value read by its owner and a recipient while storage nodes hold ciphertext, clean shutdown%s\n' "$G" "$OVERLAY" "$hops" "$OVERLAY" "$N"
