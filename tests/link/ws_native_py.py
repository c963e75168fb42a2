#!/usr/bin/python3
"""ws_native_py.py: Python's `websockets` (an independent RFC 6455 client)
against a yz-node whose links run on the native WebSocket backend
(YZ_LINK_BACKEND=native), and the HTTP/2 attacker of h2_attack.py against it.

It cannot speak Noise, so it checks the WebSocket level: the upgrade with
yz.link.v1 is accepted and that subprotocol selected; without it (or with
another one) there is no 101; a ping is answered; a binary message that is
no Noise message 1 ends the connection with Close status 1002 (PROTOCOL,
docs/protocol.md "WebSocket close"), as does a text message; a Close from
the client is echoed. Then h2c and the HTTP/2 preface get no 101 and the
node stays up for the next client.

Usage: ws_native_py.py YZ_NODE H2_ATTACK_PY
Exit 0 when every check passes; one line per check.
"""
import asyncio
import os
import subprocess
import sys
import tempfile

try:
    import websockets
    import hyperframe  # noqa: F401 (h2_attack.py needs python3-h2)
except ImportError:
    print("skipped: python3-websockets or python3-h2 missing")
    sys.exit(77)

SUB = "yz.link.v1"
fails = 0


def check(name, ok, detail=""):
    global fails
    print("%s: %s%s" % ("ok" if ok else "FAIL", name,
                        (" (%s)" % detail) if detail else ""))
    if not ok:
        fails += 1


def start_node(node, tmp):
    env = dict(os.environ, YZ_LINK_BACKEND="native")
    p = subprocess.Popen(
        [node, "--key", os.path.join(tmp, "k.key"), "--log-level", "info",
         "--listen", "ws://127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    # block on the node's output until it says where it listens
    for line in p.stdout:
        if "listening on ws://127.0.0.1:" in line:
            rest = line.split("listening on ws://127.0.0.1:")[1]
            port = int(rest.split("#")[0].split("/")[0].strip())
            return p, port
    raise SystemExit("yz-node ended without listening")


async def closed_with(ws):
    """Wait for the server to end the connection; its Close status."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 20)
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd is not None else None


async def checks(port):
    url = "ws://127.0.0.1:%d/" % port
    async with websockets.connect(url, subprotocols=[SUB],
                                  compression=None) as ws:
        check("upgrade with " + SUB, ws.subprotocol == SUB,
              "selected %r" % ws.subprotocol)
        pong = await ws.ping(b"yz")
        await asyncio.wait_for(pong, 20)
        check("ping answered", True)
        await ws.send(b"\x00 not a Noise message 1")
        code = await closed_with(ws)
        check("bad message 1 closes with 1002", code == 1002, code)

    async with websockets.connect(url, subprotocols=[SUB],
                                  compression=None) as ws:
        await ws.send("text")
        code = await closed_with(ws)
        check("text message closes with 1002", code == 1002, code)

    ws = await websockets.connect(url, subprotocols=[SUB], compression=None)
    await ws.close(1000)
    check("client Close echoed", ws.close_rcvd is not None and
          ws.close_rcvd.code == 1000,
          ws.close_rcvd.code if ws.close_rcvd else None)

    for offered in (None, ["chat"], ["yz.link.v2"]):
        try:
            async with websockets.connect(url, subprotocols=offered,
                                          open_timeout=20):
                ok = False
        except (websockets.InvalidHandshake, ConnectionError, EOFError,
                asyncio.TimeoutError) as e:
            ok = not isinstance(e, asyncio.TimeoutError)
        check("no 101 for subprotocols %r" % offered, ok)


def main():
    node, h2 = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        p, port = start_node(node, tmp)
        try:
            asyncio.run(checks(port))
            for extra in ([], ["--prior"]):
                r = subprocess.run(
                    ["/usr/bin/python3", h2, "127.0.0.1", str(port),
                     "--rounds", "1"] + extra,
                    capture_output=True, text=True, timeout=60)
                out = r.stdout.strip()
                check("HTTP/2 %s refused" % ("preface" if extra else "h2c"),
                      "101" not in out and "flooded" not in out and
                      "round 1:" in out, out)
            # still serving
            asyncio.run(alive(port))
        finally:
            p.terminate()
            p.wait(20)
    print("%d failed" % fails)
    return 1 if fails else 0


async def alive(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port,
                                  subprotocols=[SUB]) as ws:
        check("node alive after the attacks", ws.subprotocol == SUB)


if __name__ == "__main__":
    sys.exit(main())
