#!/usr/bin/env bash
# The DHT over real processes (issue acceptance): NODES yz-node processes
# on 127.0.0.1 (default 50) that all know one bootstrap address;
# mutable and immutable records put with `yz dht put` through different
# nodes are read with `yz dht get` through others; then `kill -9` of 30 %
# of the nodes (the bootstrap node, the nodes the puts went through, and
# more at a fixed stride up to 30 %), and every record is still readable
# through the survivors. `yz dht find` finds the nodes closest to a live
# node's ID, that node first.
#
# What it relies on: a PUT stores a record on the k = 20 nodes closest to
# its key (docs/dht.md); the test requires each put to report at least
# KILL + 1 nodes that stored it, so killing any KILL nodes leaves a holder,
# and a GET's lookup reaches the surviving holders around the key.
#
# No sleeps: every node's output goes, line by line and prefixed with its
# name, to one log file (appended, so no node ever blocks on its output);
# each step reads that log as a stream (tail -F; read -t bounds a silence,
# and a line budget bounds chatter) until the lines it waits for have
# arrived, or runs a yz command and waits for its exit.
#
# usage: dht_processes.sh YZ_NODE YZ [NODES]
set -u
NODE=${1:?usage: dht_processes.sh YZ_NODE YZ [NODES]}
YZ=${2:?usage: dht_processes.sh YZ_NODE YZ [NODES]}
NODES=${3:-50}
KILL=$((NODES * 30 / 100))
K=20
READ_TIMEOUT=120   # seconds of silence on the FIFO before a step fails
LINE_BUDGET=200000 # lines a step may read before it fails

declare -a PID ADDR
# shellcheck source=tests/tools/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/procs.sh"
procs_init dht-processes

die() { die_numbered "$@"; }

# start I ARGS...: yz-node number I (procs.sh).
start() { start_numbered "$@"; }

# Count of lines seen per event, filled by pump.
declare -A SEEN
# pump COND: read lines until COND holds (procs.sh).

echo "# $NODES yz-node processes, one bootstrap address; kill -9 of $KILL"
start 0
pump boot_ready
BOOT=${ADDR[0]}
echo "bootstrap node: $BOOT"
for ((i = 1; i < NODES; i++)); do
  start "$i" --bootstrap "$BOOT"
done
pump all_ready
pump all_joined
echo "all $((NODES - 1)) nodes joined through the bootstrap node"
grep "^n0 .*routing table" "$tmp/all.log" | tail -n 1 | sed 's/^n0 /  bootstrap: /'

# yzdht OUT ARGS...: run yz dht, output in $tmp/OUT; the exit code in RC.
yzdht() {
  local out=$1
  shift
  "$YZ" dht "$@" >"$tmp/$out" 2>&1
  RC=$?
}

"$YZ" keygen "$tmp/writer.key" >/dev/null || die "yz keygen failed"

# Records: R immutable and R mutable, each put through another node.
R=3
declare -a KEYS GETARGS VALUES THROUGH
for ((r = 0; r < R; r++)); do
  via=$((1 + r * 7 % (NODES - 1)))
  v="immutable value $r"
  yzdht put$r.out put --bootstrap "${ADDR[$via]}" --immutable "$v"
  [ $RC -eq 0 ] || { cat "$tmp/put$r.out"; die "immutable put $r: exit $RC"; }
  key=$(sed -n 's/^key \([0-9a-f]\{64\}\).*/\1/p' "$tmp/put$r.out")
  [ ${#key} -eq 64 ] || die "put $r printed no key"
  KEYS+=("$key"); GETARGS+=("$key"); VALUES+=("$v"); THROUGH+=("$via")

  via=$((NODES - 1 - r * 5 % (NODES - 1)))
  v="mutable value $r"
  yzdht mput$r.out put --bootstrap "${ADDR[$via]}" --key "$tmp/writer.key" \
    --salt "s$r" "$v"
  [ $RC -eq 0 ] || { cat "$tmp/mput$r.out"; die "mutable put $r: exit $RC"; }
  key=$(sed -n 's/^key \([0-9a-f]\{64\}\).*/\1/p' "$tmp/mput$r.out")
  KEYS+=("$key"); GETARGS+=("--key $tmp/writer.key --salt s$r"); VALUES+=("$v")
  THROUGH+=("$via")
done
for f in "$tmp"/put*.out "$tmp"/mput*.out; do
  stored=$(sed -n 's/^stored on \([0-9]*\) of .*/\1/p' "$f")
  [ -n "$stored" ] || die "$f: no 'stored on' line"
  [ "$stored" -gt "$KILL" ] ||
    die "$(basename "$f"): stored on $stored nodes; needs more than $KILL (k = $K)"
done
echo "$((2 * R)) records put; each stored on more than $KILL nodes:"
grep -h "^stored on" "$tmp"/put*.out "$tmp"/mput*.out | sort | uniq -c | sed 's/^/  /'

# get_all PHASE: every record read through a node other than its writer's.
get_all() {
  local phase=$1 j via
  for ((j = 0; j < ${#KEYS[@]}; j++)); do
    via=${ALIVE[$(((j * 11 + 3) % ${#ALIVE[@]}))]}
    [ "$via" -eq "${THROUGH[$j]}" ] && via=${ALIVE[$(((j * 11 + 4) % ${#ALIVE[@]}))]}
    # shellcheck disable=SC2086
    yzdht get$j.$phase get --bootstrap "${ADDR[$via]}" ${GETARGS[$j]}
    [ $RC -eq 0 ] || { cat "$tmp/get$j.$phase"; die "$phase: get of record $j through node $via: exit $RC"; }
    grep -qxF "value ${VALUES[$j]}" "$tmp/get$j.$phase" ||
      { cat "$tmp/get$j.$phase"; die "$phase: record $j has the wrong value"; }
  done
  echo "$phase: all ${#KEYS[@]} records read through other nodes"
  grep -h "^hops" "$tmp"/get*."$phase" | head -n 2 | sed 's/^/  /'
}

ALIVE=()
for ((i = 0; i < NODES; i++)); do ALIVE+=("$i"); done
get_all before-kill

# kill -9: the bootstrap, the nodes the puts went through, then a stride.
declare -A DEAD
DEAD[0]=1
for v in "${THROUGH[@]}"; do
  [ ${#DEAD[@]} -lt "$KILL" ] && DEAD[$v]=1
done
for ((i = 2; ${#DEAD[@]} < KILL; i += 3)); do DEAD[$((i % NODES))]=1; done
for i in "${!DEAD[@]}"; do
  kill -9 "${PID[$i]}"
  wait "${PID[$i]}" 2>/dev/null
  unset "PID[$i]"
done
ALIVE=()
for ((i = 0; i < NODES; i++)); do [ -z "${DEAD[$i]:-}" ] && ALIVE+=("$i"); done
echo "killed with SIGKILL: ${#DEAD[@]} nodes (${!DEAD[*]}); ${#ALIVE[@]} left"
get_all after-kill

# find: the node closest to a live node's ID is that node.
target_i=${ALIVE[$((${#ALIVE[@]} / 2))]}
target=${ADDR[$target_i]##*#}
# A lookup can end without a node whose answer is slower than the
# timeout floor (500 ms: docs/dht.md "Stalled requests"), which a machine
# loaded by a parallel sanitizer run can cause: up to three finds,
# through different nodes, each a full lookup; one of them must put the
# target first.
for attempt in 0 1 2; do
  yzdht find.out find --bootstrap "${ADDR[${ALIVE[$attempt]}]}" "$target"
  [ $RC -eq 0 ] || { cat "$tmp/find.out"; die "find: exit $RC"; }
  first=$(sed -n 's/^ *1 \([0-9a-f]\{64\}\)$/\1/p' "$tmp/find.out")
  [ "$first" = "$target" ] && break
  echo "find through node ${ALIVE[$attempt]}: the target was not first:"
  cat "$tmp/find.out"
done
[ "$first" = "$target" ] || die "find: closest is not the target node"
echo "find: node $target_i is the closest to its own ID; $(grep '^hops' "$tmp/find.out")"

# The survivors stop cleanly on SIGTERM.
SEEN[stopped]=0
for i in "${ALIVE[@]}"; do kill -TERM "${PID[$i]}"; done
all_stopped() { [ "${SEEN[stopped]:-0}" -ge ${#ALIVE[@]} ]; }
pump all_stopped
for i in "${ALIVE[@]}"; do
  wait "${PID[$i]}"
  rc=$?
  unset "PID[$i]"
  [ $rc -eq 0 ] || die "node $i exited with $rc after SIGTERM"
done
echo "PASS: $NODES processes, $((2 * R)) records, kill -9 of $KILL, all records read"
