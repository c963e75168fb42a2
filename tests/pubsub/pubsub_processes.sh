#!/usr/bin/env bash
# PubSub over real processes (issue acceptance): NODES yz-node processes
# on 127.0.0.1 (default 30) that all know one bootstrap address and all
# run --subscribe news. Messages published with `yz pub` through one node
# reach every subscriber exactly once; after `kill -9` of 30 % of the
# nodes (the bootstrap among them), further messages reach every
# surviving subscriber exactly once.
#
# No sleeps: every node's output goes, line by line and prefixed with its
# name, to one log file (appended, so no node ever blocks on its output);
# each step reads that log as a stream (tail -F; read -t bounds a silence,
# and a line budget bounds chatter) until the lines it waits for have
# arrived, or runs a yz command and waits for its exit. A message is
# matched by its seq, which `yz pub` prints and every node logs
# ("pubsub: message on news from AUTHOR seq N ...").
#
# usage: pubsub_processes.sh YZ_NODE YZ [NODES]
set -u
NODE=${1:?usage: pubsub_processes.sh YZ_NODE YZ [NODES]}
YZ=${2:?usage: pubsub_processes.sh YZ_NODE YZ [NODES]}
NODES=${3:-30}
KILL=$((NODES * 30 / 100))
READ_TIMEOUT=60    # seconds of silence on the log before a step fails
LINE_BUDGET=200000 # lines a step may read before it fails

declare -a PID ADDR MESH
# shellcheck source=tests/tools/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/procs.sh"
procs_init pubsub-processes

die() { die_numbered "$@"; }

# start I ARGS...: yz-node number I subscribed to news (procs.sh).
start() {
  local i=$1
  shift
  start_numbered "$i" --subscribe news "$@"
}

# Events seen, filled by pump: ready, joined and stopped lines; the
# latest mesh size of each node; messages received per node and seq.
declare -A SEEN GOT
# pump (procs.sh) counts the rest; pump_more the PubSub lines.
pump_more() {
  local who=$1 rest=$2 seq
  case $rest in
  *"pubsub: mesh of news: "*)
    rest=${rest##*mesh of news: }
    MESH[${who#n}]=${rest%% *} ;;
  *"pubsub: message on news from "*)
    seq=${rest##* seq }
    seq=${seq%% *}
    GOT[${who#n}.$seq]=$((${GOT[${who#n}.$seq]:-0} + 1)) ;;
  esac
}

# every live node in a mesh of at least 2
all_meshed() {
  local i
  for i in "${ALIVE[@]}"; do [ "${MESH[$i]:-0}" -ge 2 ] || return 1; done
}
# every live node has received message SEQ
SEQ=
all_got() {
  local i
  for i in "${ALIVE[@]}"; do [ "${GOT[$i.$SEQ]:-0}" -ge 1 ] || return 1; done
}

echo "# $NODES yz-node processes subscribed to one topic; kill -9 of $KILL"
ALIVE=()
for ((i = 0; i < NODES; i++)); do ALIVE+=("$i"); done
start 0
pump boot_ready
BOOT=${ADDR[0]}
echo "bootstrap node: $BOOT"
for ((i = 1; i < NODES; i++)); do
  start "$i" --bootstrap "$BOOT"
done
pump all_ready
pump all_joined
pump all_meshed
echo "all $NODES nodes joined and in a mesh of news"

# publish PHASE VIA TEXT: yz pub through node VIA; every live node must get
# it exactly once.
publish() {
  local phase=$1 via=$2 text=$3 i
  "$YZ" pub --bootstrap "${ADDR[$via]}" news "$text" >"$tmp/pub.$phase" 2>&1 ||
    { cat "$tmp/pub.$phase"; die "$phase: yz pub through node $via: exit $?"; }
  SEQ=$(sed -n 's/.* seq \([0-9]*\),.*/\1/p' "$tmp/pub.$phase")
  [ -n "$SEQ" ] || { cat "$tmp/pub.$phase"; die "$phase: yz pub printed no seq"; }
  pump all_got
  for i in "${ALIVE[@]}"; do
    [ "${GOT[$i.$SEQ]}" -eq 1 ] || die "$phase: node $i got the message ${GOT[$i.$SEQ]} times"
  done
  echo "$phase: $(cat "$tmp/pub.$phase")"
  echo "  received by all ${#ALIVE[@]} live nodes"
}

publish before-kill-1 5 "first message"
publish before-kill-2 $((NODES - 1)) "second message"

# kill -9: the bootstrap, then a stride
declare -A DEAD
DEAD[0]=1
for ((i = 2; ${#DEAD[@]} < KILL; i += 3)); do DEAD[$((i % NODES))]=1; done
for i in "${!DEAD[@]}"; do
  kill -9 "${PID[$i]}"
  wait "${PID[$i]}" 2>/dev/null
  unset "PID[$i]"
done
ALIVE=()
for ((i = 0; i < NODES; i++)); do [ -z "${DEAD[$i]:-}" ] && ALIVE+=("$i"); done
echo "killed with SIGKILL: ${#DEAD[@]} nodes (${!DEAD[*]}); ${#ALIVE[@]} left"

publish after-kill-1 "${ALIVE[1]}" "third message"
publish after-kill-2 "${ALIVE[$((${#ALIVE[@]} - 1))]}" "fourth message"

# The received messages are counted once more at the end: a late copy
# would show here (the stop lines come after every message line).
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
for key in "${!GOT[@]}"; do
  [ "${GOT[$key]}" -eq 1 ] || die "node.seq $key: received ${GOT[$key]} times"
done
echo "PASS: $NODES processes, kill -9 of $KILL, every message received once by every live subscriber"
