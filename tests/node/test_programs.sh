#!/usr/bin/env bash
# Real processes on loopback: two yz-node daemons link up, `yz ping` succeeds
# with the right node ID (exit 0) and is refused with a wrong one (exit 3),
# an unreachable address gives 5, a bad command line 2; a node restarted on
# the same port with the same key is redialled by its peer; a wss://
# listener with a self-signed certificate answers pings; a server that
# upgrades without the yz.link.v1 subprotocol is refused by yz ping (exit 4)
# before any handshake message; a peer sending a text message gets a
# WebSocket Close frame with status 1002; nodes of different networks
# (--network) refuse each other, with the reason logged on both ends;
# SIGTERM stops every node with exit 0.
#
# No sleeps: each step blocks reading the nodes' output (a FIFO per node)
# until the line it waits for arrives; `read -t` only bounds a hang.
#
# usage: test_programs.sh YZ_NODE YZ
set -u
NODE=${1:?usage: test_programs.sh YZ_NODE YZ}
YZ=${2:?usage: test_programs.sh YZ_NODE YZ}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/yz-programs.XXXXXX")
declare -A PID FD
fails=0

cleanup() {
  for n in "${!PID[@]}"; do
    kill -TERM "${PID[$n]}" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# start NAME ARGS...: run yz-node with its stdout and stderr on a FIFO.
start() {
  local name=$1
  shift
  mkfifo "$tmp/$name.fifo"
  "$NODE" --key "$tmp/$name.key" --log-level info "$@" \
    >"$tmp/$name.fifo" 2>&1 &
  PID[$name]=$!
  local fd
  exec {fd}<"$tmp/$name.fifo"
  FD[$name]=$fd
  rm -f "$tmp/$name.fifo"
}

# wait_for NAME PATTERN: read NAME's lines until one contains PATTERN; the
# line is left in LINE. Every line read is kept in $tmp/NAME.log.
wait_for() {
  local name=$1 pat=$2 line
  while IFS= read -r -t 30 -u "${FD[$name]}" line; do
    printf '%s\n' "$line" >>"$tmp/$name.log"
    case $line in
    *"$pat"*)
      LINE=$line
      return 0
      ;;
    esac
  done
  echo "--- $name output:"
  cat "$tmp/$name.log"
  fail "$name: no line containing '$pat'"
  return 1
}

# stop NAME: SIGTERM, expect exit 0 and the "stopped" line.
stop() {
  local name=$1
  kill -TERM "${PID[$name]}"
  wait_for "$name" " stopped"
  wait "${PID[$name]}"
  local rc=$?
  [ $rc -eq 0 ] || fail "$name exited with $rc after SIGTERM"
  local fd=${FD[$name]}
  exec {fd}<&-
  unset "PID[$name]"
}

# expect_exit CODE DESCRIPTION COMMAND...
expect_exit() {
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ $rc -ne "$want" ]; then
    cat "$tmp/out"
    fail "$what: exit $rc, want $want"
  else
    echo "ok: $what (exit $rc)"
  fi
}

# --- two nodes link up -----------------------------------------------------
# a asks every dialler for a cookie (docs/protocol.md 4, "Cookie"): b's
# link and the pings below come up through the cookie round, transparently
start a --listen ws://127.0.0.1:0 --cookie-always
wait_for a "address ws://" || exit 1
A_ADDR=${LINE#address }
A_ID=${A_ADDR##*#}
A_PORT=${A_ADDR##*:}
A_PORT=${A_PORT%%/*}
wait_for a "ready" || exit 1
grep -q "created key file $tmp/a.key (mode 0600)" "$tmp/a.log" ||
  fail "no log line about the new key file"
[ "$(stat -c %a "$tmp/a.key")" = 600 ] || fail "key file mode is not 0600"

start b --listen ws://127.0.0.1:0 --peer "$A_ADDR"
wait_for b "address ws://" || exit 1
B_ID=${LINE##*#}
wait_for b "peer up: $A_ID" || exit 1
wait_for a "peer up: $B_ID" || exit 1
echo "ok: a and b linked (a=${A_ID:0:16}... b=${B_ID:0:16}...)"
grep -q "must prove its address" "$tmp/a.log" ||
  fail "a did not ask b for a cookie"
# yz-node logs each link event once (the link layer's own lines are debug)
n=$(grep -c "link up" "$tmp/b.log")
[ "$n" -eq 1 ] || { cat "$tmp/b.log"; fail "b logged its link up $n times"; }

# --- yz ping -------------------------------------------------------------
expect_exit 0 "ping with the right ID" \
  "$YZ" ping "$A_ADDR" --count 2 --interval 0
grep -q "peer node ID $A_ID" "$tmp/out" || fail "ping did not print the ID"
grep -q "seq=2" "$tmp/out" || fail "ping did not print round trips"

WRONG="${A_ADDR%#*}#$(printf 'e%.0s' {1..64})"
expect_exit 3 "ping with a wrong ID" "$YZ" ping "$WRONG" --count 1
grep -q "PEER_ID_MISMATCH" "$tmp/out" || fail "mismatch reason not shown"

expect_exit 2 "ping without a node ID" "$YZ" ping "${A_ADDR%#*}"
expect_exit 0 "explicitly unpinned ping" \
  "$YZ" ping "${A_ADDR%#*}" --unpinned --count 1
expect_exit 2 "ping with a bad option" "$YZ" ping "$A_ADDR" --bogus
expect_exit 2 "yz-node with a bad option" "$NODE" --bogus
expect_exit 2 "yz-node --cookie-load-pct above 101" \
  "$NODE" --cookie-load-pct 102
expect_exit 0 "yz-node --help" "$NODE" --help
grep -q "^Exit status" "$tmp/out" || fail "yz-node --help documents no exit status"
expect_exit 0 "yz-node --version" "$NODE" --version
expect_exit 0 "yz ping --help" "$YZ" ping --help
grep -q "peer node ID mismatch" "$tmp/out" || fail "ping --help lacks exit code 3"
expect_exit 2 "yz-node: wss:// without a certificate" \
  "$NODE" --listen wss://127.0.0.1:0
expect_exit 2 "yz-node --peer without a node ID" \
  "$NODE" --peer "${A_ADDR%#*}"
expect_exit 2 "yz-node --peer with a malformed address" \
  "$NODE" --peer "ws://127.0.0.01:7700/#$A_ID"
grep -q "malformed IPv4 address" "$tmp/out" ||
  fail "yz-node --peer did not give the address parser's reason"
expect_exit 2 "yz-node: --mem-budget below twice the maximum message" \
  "$NODE" --mem-budget 3000000 --max-message-size 2000000
grep -q "at least twice the maximum message size" "$tmp/out" ||
  fail "yz-node --mem-budget did not say why"

# A port where nothing listens: a's, once a is gone (below).

# --- restart a on the same port: b redials it ------------------------------
stop a
wait_for b "peer down: $A_ID" || exit 1
# (The DHT's dial-back can race the first link: the duplicate closed then
# is logged as "duplicate link" and is not a's departure.)
n=$(grep "link down" "$tmp/b.log" | grep -vc "duplicate link")
[ "$n" -eq 1 ] || { cat "$tmp/b.log"; fail "b logged its link down $n times"; }
# a's shutdown sent its close frame: b knows why the link went down
grep -q "link down: .*GOING_AWAY.*YZ_E_PEER_CLOSED" "$tmp/b.log" ||
  { cat "$tmp/b.log"; fail "b did not see a's GOING_AWAY close"; }
echo "ok: b logged a's shutdown once, as GOING_AWAY"
expect_exit 5 "ping an address where nothing listens" \
  "$YZ" ping "$A_ADDR" --count 1
start a --listen "ws://127.0.0.1:$A_PORT"
wait_for a "ready" || exit 1
grep -q "loaded key file" "$tmp/a.log" || fail "the key was not reused"
wait_for b "peer up: $A_ID" || exit 1
echo "ok: b redialled a after its restart"

# --- wss:// with a self-signed certificate ----------------------------------
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
  start c --listen ws://127.0.0.1:0 --listen wss://127.0.0.1:0 \
    --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key"
  wait_for c "address wss://" || exit 1
  C_WSS=${LINE#address }
  wait_for c "ready" || exit 1
  expect_exit 0 "ping over wss:// (certificate verified with --tls-ca)" \
    "$YZ" ping "$C_WSS" --count 1 --tls-ca "$tmp/tls.crt"
  expect_exit 4 "ping over wss:// with an untrusted certificate" \
    "$YZ" ping "$C_WSS" --count 1
  expect_exit 0 "ping over wss:// accepting a self-signed certificate" \
    "$YZ" ping "$C_WSS" --count 1 --tls-allow-selfsigned
  stop c
else
  echo "skip: wss:// (no openssl)"
fi

# --- logs a peer cannot flood ----------------------------------------------
# Each ping is a link: 4 lines (link and peer, up and down) without a
# budget. yz-node's peer event lines share one of 20 per window; the window
# is an hour here, so the check holds however slowly the pings run.
start d --listen ws://127.0.0.1:0 --peer-log-window 3600000
wait_for d "address ws://" || exit 1
D_ADDR=${LINE#address }
wait_for d "ready" || exit 1
for i in $(seq 1 30); do
  "$YZ" ping "$D_ADDR" --count 1 --interval 0 >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "ping $i to d"; break; }
done
stop d
n=$(grep -cE "(link|peer) (up|down):" "$tmp/d.log")
[ "$n" -le 20 ] || fail "d wrote $n peer event lines for 30 pings (budget 20)"
grep -q "peer event lines suppressed" "$tmp/d.log" ||
  { cat "$tmp/d.log"; fail "d did not report its suppressed lines"; }
echo "ok: 30 pings to d, $n peer event lines logged"

# --- a 101 without the yz.link.v1 subprotocol: not a yz node ---------------
# A tiny server answers the upgrade with a valid 101 that names no
# subprotocol (docs/protocol.md "The WebSocket upgrade"): yz ping must fail
# the dial at once, saying so, instead of starting a handshake.
cat >"$tmp/no_subproto.py" <<'PY'
import base64, hashlib, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
req = b""
while b"\r\n\r\n" not in req:
    d = c.recv(4096)
    if not d:
        sys.exit(0)
    req += d
key = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n")
       if l.lower().startswith(b"sec-websocket-key:")][0]
acc = base64.b64encode(hashlib.sha1(
    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
          b"\r\n\r\n")
got = c.recv(65536)  # what the client sends next: nothing but a Close
print("after-101 %d bytes, first %s" % (len(got), got[:1].hex()), flush=True)
PY
mkfifo "$tmp/nosp.fifo"
python3 "$tmp/no_subproto.py" >"$tmp/nosp.fifo" &
NOSP_PID=$!
exec {NOSP_FD}<"$tmp/nosp.fifo"
if IFS= read -r -t 30 -u "$NOSP_FD" NOSP_PORT; then
  expect_exit 4 "ping a server that upgrades without the subprotocol" \
    "$YZ" ping "ws://127.0.0.1:$NOSP_PORT/#$A_ID" --count 1
  grep -q "without the subprotocol yz.link.v1" "$tmp/out" ||
    fail "ping did not say the subprotocol was missing"
  grep -q "YZ_E_VERSION" "$tmp/out" || fail "ping did not report YZ_E_VERSION"
  # no handshake message 1 (a binary frame, first byte 82) after the 101
  if IFS= read -r -t 30 -u "$NOSP_FD" line; then
    case $line in
    *"first 82"*) fail "ping sent a handshake message after a 101 without the subprotocol" ;;
    esac
  fi
else
  fail "the no-subprotocol server did not start"
fi
wait "$NOSP_PID" 2>/dev/null
exec {NOSP_FD}<&-

# --- the WebSocket Close a peer receives ------------------------------------
# A raw client upgrades to a, then sends a text message: a closes with a
# WebSocket Close frame of status 1002 (docs/protocol.md "WebSocket close"),
# not by dropping the connection (which a peer sees as 1006).
cat >"$tmp/ws_close.py" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Protocol: yz.link.v1\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    d = c.recv(4096)
    if not d:
        print("no 101"); sys.exit(0)
    buf += d
if not buf.startswith(b"HTTP/1.1 101"):
    print("no 101"); sys.exit(0)
buf = buf.split(b"\r\n\r\n", 1)[1]
c.sendall(bytes([0x81, 0x82, 0, 0, 0, 0]) + b"hi")  # masked text "hi"
while True:
    while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7f):
        n = buf[1] & 0x7f
        if buf[0] & 0x0f == 8:
            code = buf[2] << 8 | buf[3] if n >= 2 else 0
            print("websocket close status %d" % code); sys.exit(0)
        buf = buf[2 + n:]
    try:
        d = c.recv(4096)
    except OSError:
        d = b""
    if not d:
        print("connection dropped without a Close frame (1006)"); sys.exit(0)
    buf += d
PY
out=$(python3 "$tmp/ws_close.py" "$A_PORT")
echo "raw client: $out"
[ "$out" = "websocket close status 1002" ] ||
  fail "a text message: want a WebSocket Close with status 1002, got: $out"

# --- another network --------------------------------------------------------
# e belongs to the test network "yz-test" and is configured with a (the
# public network "yz"): the handshake fails on both ends, saying why
# (docs/protocol.md section 5, "Network name"), and no link comes up.
expect_exit 2 "yz-node with a bad network name" "$NODE" --network "Yz Test"
start e --no-listen --network yz-test --peer "$A_ADDR"
wait_for e "network name mismatch: this node belongs to network \"yz-test\", the peer to \"yz\"" || exit 1
wait_for a "network name mismatch: this node belongs to network \"yz\", the peer to \"yz-test\"" || exit 1
grep -q "peer up" "$tmp/e.log" && fail "e linked up with a node of another network"
stop e
expect_exit 4 "ping from another network" \
  "$YZ" ping "$A_ADDR" --network yz-test --count 1
grep -q "network name mismatch" "$tmp/out" ||
  fail "ping from another network did not say why"
expect_exit 2 "ping with a bad network name" "$YZ" ping "$A_ADDR" --network A
echo "ok: nodes of different networks refused each other, both saying why"

# --- the identity proof advertises the node's addresses ----------------------
# g gives --advertise: its identity proof carries that address (docs/
# protocol.md section 5), and h, which dials it, logs what g advertises.
start g --listen ws://127.0.0.1:0 --advertise ws://192.0.2.7:7700/
wait_for g "address ws://" || exit 1
G_ADDR=${LINE#address }
G_ID=${G_ADDR##*#}
wait_for g "ready" || exit 1
start h --no-listen --peer "$G_ADDR"
wait_for h "peer up: $G_ID" || exit 1
case $LINE in
*", advertises ws://192.0.2.7:7700/"*)
  echo "ok: g's identity proof advertises its address" ;;
*) fail "h's peer up line does not show g's advertised address: $LINE" ;;
esac
stop h
stop g

stop b
stop a
if [ $fails -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all program checks passed"
