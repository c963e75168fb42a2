# shellcheck shell=bash
# tests/tools/procs.sh: what the tests of real yz-node processes share
# (tests/dht/dht_programs.sh, tests/dht/dht_processes.sh,
# tests/pubsub/pubsub_programs.sh, tests/pubsub/pubsub_processes.sh,
# tests/seal/seal_programs.sh). Sourced, after `set -u` and after the
# caller has declared its PID and ADDR arrays (indexed by number or by
# name: both work here).
#
# No sleeps: every process's output goes, line by line and prefixed with
# its name, to one log file ($tmp/all.log, appended, so no process ever
# blocks on its output); a step reads that log as a stream on fd $OUT
# (tail -F; read -t bounds a silence) until the line it waits for has
# arrived.
#
# A script may define its own die, wait_line or LOOPBACK_LIMITS after
# sourcing this file.

# procs_init NAME: a temporary directory $tmp (yz-NAME.XXXXXX), the log
# and its stream, and the cleanup at exit (kill -9 of every process in
# PID, the stream's tail, the directory).
procs_init() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/yz-$1.XXXXXX")
  TAIL=
  trap procs_cleanup EXIT
  : >"$tmp/all.log"
  exec {OUT}< <(exec tail -n +1 -F "$tmp/all.log" 2>/dev/null)
  TAIL=$!
}

procs_cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}

fails=0
# fail WHAT: count a failed check and go on.
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
# die WHAT: a step that cannot go on: the end of the log, exit 1.
die() {
  echo "FAIL: $*"
  echo "--- log"; tail -n 40 "$tmp/all.log"
  exit 1
}

# Every node sees every other from one source address (127.0.0.1): the
# per-source limits made for the internet (32 inbound links, 8 handshakes
# in progress and 20 handshakes a second from one address) are lifted, or
# a bootstrap node could hold only 32 of the others.
# shellcheck disable=SC2034 # used by the sourcing script
LOOPBACK_LIMITS="--max-links-per-source 100000 --max-handshakes-per-source 100000
  --ip-rate 100000 --ip-burst 100000"

# wait_line NAME PATTERN: read the stream until NAME prints PATTERN (the
# line in LINE); the node addresses read on the way go to ADDR[NAME].
# shellcheck disable=SC2034 # LINE is the sourcing script's
wait_line() {
  local name=$1 pat=$2 line
  while IFS= read -r -t 60 -u "$OUT" line; do
    case $line in
    "$name address ws://"*) ADDR[$name]=${line#* address } ;;
    esac
    case $line in
    "$name "*"$pat"*) LINE=$line; return 0 ;;
    esac
  done
  die "$name: no line containing '$pat'"
}

# expect_rc WANT WHAT COMMAND...: run it (output in $tmp/out), check its
# exit status.
expect_rc() {
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ $rc -ne "$want" ]; then
    fail "$what: exit $rc, expected $want"
    sed 's/^/    /' "$tmp/out"
  fi
}

# For the scripts that count events with a pump over numbered nodes n0,
# n1, ... (SEEN[ready], SEEN[joined], ADDR[i]): the bootstrap node is up,
# all NODES are, all but the bootstrap have joined.
boot_ready() { [ -n "${ADDR[0]:-}" ] && [ "${SEEN[ready]:-0}" -ge 1 ]; }
all_ready() { [ "${SEEN[ready]:-0}" -ge "$NODES" ]; }
all_joined() { [ "${SEEN[joined]:-0}" -ge $((NODES - 1)) ]; }

# ---- many numbered nodes n0, n1, ... (the *_processes.sh scripts) ----

# start_numbered I ARGS...: yz-node number I with its key in $tmp, on an
# ephemeral loopback port, the loopback limits lifted; its stdout and
# stderr prefixed "nI " in the log.
start_numbered() {
  local i=$1
  shift
  # shellcheck disable=SC2086
  "$NODE" --key "$tmp/n$i.key" --listen ws://127.0.0.1:0 --log-level info \
    $LOOPBACK_LIMITS \
    "$@" > >(exec sed -u "s/^/n$i /" >>"$tmp/all.log") 2>&1 &
  PID[$i]=$!
}

# die_numbered WHAT: as die, showing the last lines of n0 and n1.
die_numbered() {
  echo "FAIL: $*"
  for n in n0 n1; do
    echo "--- $n (last lines)"
    grep "^$n " "$tmp/all.log" | tail -n 20
  done
  exit 1
}

# pump COND: read the stream until the shell condition COND (a function
# name) holds; READ_TIMEOUT seconds of silence or more than LINE_BUDGET
# lines end the test. Counted on the way: SEEN[ready], SEEN[joined] and
# SEEN[stopped] (the caller declares SEEN), and ADDR[I] of node nI; any
# other line goes to pump_more WHO REST, which a script may define to
# count more.
pump_more() { :; }
# shellcheck disable=SC2154 # SEEN is the caller's associative array
pump() {
  local cond=$1 line n=0 who rest
  while ! $cond; do
    IFS= read -r -t "$READ_TIMEOUT" -u "$OUT" line ||
      die "no output for ${READ_TIMEOUT}s while waiting for: $cond"
    n=$((n + 1))
    [ $n -le "$LINE_BUDGET" ] || die "more than $LINE_BUDGET lines while waiting for: $cond"
    who=${line%% *}
    rest=${line#* }
    case $rest in
    "address ws://"*) ADDR[${who#n}]=${rest#address } ;;
    ready) SEEN[ready]=$((${SEEN[ready]:-0} + 1)) ;;
    *"dht: joined:"*) SEEN[joined]=$((${SEEN[joined]:-0} + 1)) ;;
    *" stopped") SEEN[stopped]=$((${SEEN[stopped]:-0} + 1)) ;;
    *) pump_more "$who" "$rest" ;;
    esac
  done
}
