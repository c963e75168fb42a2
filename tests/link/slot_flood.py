#!/usr/bin/python3
"""slot_flood.py: one source address tries to hold a listener's handshake
slots (loopback only; bounded in connections and time).

CONNS connections from SRC, in three kinds: 'ka' sends "GET /" with
keep-alive every 4 s, 'idle' sends nothing, 'drip' sends one header line
every 2 s and never ends the request. Whatever the server closes is
reconnected at once. Every 5 s it prints how many are open, how many the
server closed, and how many 404s came back.

Usage: slot_flood.py HOST PORT [--src 127.0.0.2] [--conns 200] [--seconds 20]
"""
import selectors
import socket
import sys
import time


def arg(name, default):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    src = arg("--src", "127.0.0.2")
    conns = min(int(arg("--conns", "200")), 1000)
    seconds = min(float(arg("--seconds", "20")), 120.0)
    sel = selectors.DefaultSelector()
    stats = {"closed": 0, "404": 0, "refused_connect": 0, "opened": 0}
    kinds = ["ka", "idle", "drip"]

    def open_one(kind):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex((host, port))
        except OSError:
            stats["refused_connect"] += 1
            s.close()
            return
        st = {"kind": kind, "next": time.time(), "n": 0}
        sel.register(s, selectors.EVENT_READ, st)
        stats["opened"] += 1

    for i in range(conns):
        open_one(kinds[i % 3])
    start = time.time()
    last_report = start
    while time.time() - start < seconds:
        now = time.time()
        for key, _ in sel.select(timeout=0.1):
            s, st = key.fileobj, key.data
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                stats["404"] += data.count(b" 404 ")
                continue
            sel.unregister(s)
            s.close()
            stats["closed"] += 1
            open_one(st["kind"])  # reconnect at once
        for key in list(sel.get_map().values()):
            s, st = key.fileobj, key.data
            if st["kind"] == "idle" or now < st["next"]:
                continue
            try:
                if st["kind"] == "ka":
                    s.send(b"GET / HTTP/1.1\r\nHost: x\r\n"
                           b"Connection: keep-alive\r\n\r\n")
                    st["next"] = now + 4
                else:
                    if st["n"] == 0:
                        s.send(b"GET / HTTP/1.1\r\n")
                    else:
                        s.send(b"X-Drip-%d: 1\r\n" % st["n"])
                    st["n"] += 1
                    st["next"] = now + 2
            except OSError:
                st["next"] = now + 1
        if now - last_report >= 5:
            last_report = now
            print("t=%2.0fs open=%d closed_by_server=%d answers_404=%d "
                  "connects=%d" % (now - start, len(sel.get_map()),
                                   stats["closed"], stats["404"],
                                   stats["opened"]), flush=True)
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print("done: connects=%d closed_by_server=%d answers_404=%d" %
          (stats["opened"], stats["closed"], stats["404"]), flush=True)


if __name__ == "__main__":
    main()
