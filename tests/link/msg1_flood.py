#!/usr/bin/python3
"""msg1_flood.py: many source addresses send yz handshake message 1 as fast
as they can (loopback only; bounded in addresses, connections and time).

Each connection comes from one of ADDRS loopback addresses (127.1.x.y),
does the WebSocket upgrade with the yz.link.v1 subprotocol, sends one
masked binary frame of 32 random bytes (message 1: docs/protocol.md 4) and
reads the first frame back: message 2 (the node did three X25519 for it)
or a COOKIE_REPLY (25 bytes, "yzcookie" 01 cookie: the node did no DH).
Then it closes and starts again. CONC connections run at once.

At the end it prints the counts, and, with --pid, the CPU seconds the node
used per answered message 1 (from /proc/PID/stat).

Usage: msg1_flood.py HOST PORT [--addrs 2000] [--conc 200] [--seconds 15]
                     [--pid PID]
"""
import base64
import os
import selectors
import socket
import sys
import time


def arg(name, default):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    addrs = max(1, min(int(arg("--addrs", "2000")), 60000))
    conc = max(1, min(int(arg("--conc", "200")), 1000))
    seconds = min(float(arg("--seconds", "15")), 120.0)
    pid = int(arg("--pid", "0"))
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: yz.link.v1\r\n\r\n" % (host, port, key)
           ).encode()
    sel = selectors.DefaultSelector()
    stats = {"msg2": 0, "cookie_reply": 0, "refused": 0, "other": 0}
    state = {"next": 0}

    def src():
        i = state["next"] % addrs
        state["next"] += 1
        return "127.1.%d.%d" % (i // 250, i % 250 + 1)

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src(), 0))
            s.connect_ex((host, port))
        except OSError:
            s.close()
            return
        sel.register(s, selectors.EVENT_WRITE, {"buf": b"", "phase": 0})

    def finish(s, what):
        stats[what] += 1
        sel.unregister(s)
        s.close()

    for _ in range(conc):
        open_one()
    cpu0 = cpu_seconds(pid) if pid else 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for k, ev in sel.select(timeout=0.5):
            s, d = k.fileobj, k.data
            if d["phase"] == 0:  # connected: the upgrade request
                try:
                    s.send(req)
                except OSError:
                    finish(s, "refused")
                    open_one()
                    continue
                d["phase"] = 1
                sel.modify(s, selectors.EVENT_READ, d)
                continue
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                finish(s, "refused")
                open_one()
                continue
            d["buf"] += chunk
            if d["phase"] == 1:
                if b"\r\n\r\n" not in d["buf"]:
                    continue
                head, d["buf"] = d["buf"].split(b"\r\n\r\n", 1)
                if not head.startswith(b"HTTP/1.1 101"):
                    finish(s, "refused")
                    open_one()
                    continue
                e = os.urandom(32)
                s.send(bytes([0x82, 0x80 | 32, 0, 0, 0, 0]) + e)
                d["phase"] = 2
            b = d["buf"]
            if len(b) >= 2:
                n = b[1] & 0x7F
                h = 2 + (2 if n == 126 else 8 if n == 127 else 0)
                if len(b) >= h:
                    if n == 126:
                        n = int.from_bytes(b[2:4], "big")
                    elif n == 127:
                        n = int.from_bytes(b[2:10], "big")
                    if len(b) >= h + n:
                        body = b[h:h + n]
                        if n == 25 and body.startswith(b"yzcookie"):
                            finish(s, "cookie_reply")
                        elif n >= 96 and b[0] & 0x0F == 2:
                            finish(s, "msg2")
                        else:
                            finish(s, "other")
                        open_one()
    wall = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0 if pid else 0.0
    for k in list(sel.get_map().values()):
        k.fileobj.close()
    answered = stats["msg2"] + stats["cookie_reply"]
    print("%.1f s, %d source addresses: %d message 2, %d COOKIE_REPLY, "
          "%d refused or closed, %d other; %.0f message 1 answered/s"
          % (wall, addrs, stats["msg2"], stats["cookie_reply"],
             stats["refused"], stats["other"], answered / wall))
    if pid:
        print("node CPU: %.2f s (%.0f %% of one core); %.1f us per answered "
              "message 1" % (cpu, 100 * cpu / wall,
                             1e6 * cpu / answered if answered else 0))


if __name__ == "__main__":
    main()
