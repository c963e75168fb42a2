#!/usr/bin/python3
"""Check the yz protocol vectors with implementations independent of yz.

Usage: check_yz_vectors.py FILE

For every vector of FILE (format: tests/vectors/README.md):
- identities (Ed25519, python3-cryptography): public keys and node IDs
  (SHA-256 of the identity key) from the seeds;
- static and ephemeral X25519 public keys from the private keys;
- identity proofs (python3-cbor2): decoded, canonical (cbor2's canonical
  encoding gives the same bytes), required fields present, the Ed25519
  signature over the signature prefix || static public key verifies (and
  does not, for a side with corrupt_proof);
- the handshake (python3-dissononce): written with the vector's keys,
  prologue and payloads, every message equal byte for byte, handshake hash
  equal;
- transport: every message decrypts to the plaintext given, and encrypting
  that plaintext gives the same ciphertext; REKEY frames switch keys;
- behaviour, from the rules of docs/protocol.md and not from yz: a model of
  both sides (sections 4 to 11 and "Node messages") runs the steps and
  predicts every frame each side sends (DATA or fragments, REKEY when due,
  PING when idle, PONG, CLOSE with its code and cut text) and every event
  (up with the peer's node ID and the channel binding, message with its
  payload and node message fields, closed with code, remote and error),
  and the result of each step; the vector must match the prediction.

The close codes and errors expected are those of the tables of
docs/protocol.md, not a copy of what yz did, so a vector regenerated after
a deliberate change still passes when the change follows the spec.

Only /usr/bin/python3 can import dissononce and cbor2 (TOOLCHAIN.md 7).
"""
import hashlib
import json
import re
import struct
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from dissononce.dh.x25519.private import PrivateKey
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.extras.meta.protocol.factory import NoiseProtocolFactory

RAW = dict(encoding=serialization.Encoding.Raw,
           format=serialization.PublicFormat.Raw)

# docs/protocol.md section 2: defaults.
DEFAULTS = {"max_message": 1 << 20, "handshake_timeout_ms": 10000,
            "ping_idle_ms": 15000, "max_missed_pongs": 3,
            "rekey_after_messages": 1 << 32, "rekey_after_ms": 120000,
            "nonce_limit": 2**64 - 2}
MAX_FRAME = 65519          # section 2: largest transport plaintext
DATA_MAX = MAX_FRAME - 1   # section 7
FIRST_CHUNK = MAX_FRAME - 5
MAX_CLOSE_TEXT = 123

# Section 11: close codes and the local errors that go with them.
NORMAL, GOING_AWAY, PROTOCOL, DECRYPT, TOO_LARGE, TIMEOUT = 0, 1, 2, 3, 4, 5
NONCE_EXHAUSTED, IDENTITY, PEER_ID_MISMATCH, INTERNAL = 6, 7, 8, 9
NETWORK = 0x0b
ERRORS = {
    NETWORK: {"YZ_E_NETWORK"},
    PROTOCOL: {"YZ_E_MALFORMED", "YZ_E_TRUNCATED", "YZ_E_TRAILING",
               "YZ_E_STATE"},
    DECRYPT: {"YZ_E_DECRYPT"},
    TOO_LARGE: {"YZ_E_TOO_LARGE"},
    TIMEOUT: {"YZ_E_TIMEOUT"},
    NONCE_EXHAUSTED: {"YZ_E_NONCE_EXHAUSTED"},
    PEER_ID_MISMATCH: {"YZ_E_PEER_ID_MISMATCH"},
}
# IDENTITY: "invalid identity proof or bad signature": a signature that
# does not verify is YZ_E_BAD_SIGNATURE.
IDENTITY_ERRORS = {"YZ_E_BAD_SIGNATURE", "YZ_E_MALFORMED",
                   "YZ_E_TRUNCATED", "YZ_E_TRAILING", "YZ_E_TOO_LARGE"}

SIDES = ("initiator", "responder")


class Mismatch(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Mismatch("%s: got %r, want %r" % (what, got, want))


def other(side):
    return "responder" if side == "initiator" else "initiator"


class FixedEphemeralDH(X25519DH):
    def __init__(self, ephemeral):
        super().__init__()
        self._ephemeral = ephemeral

    def generate_keypair(self, privatekey=None):
        if privatekey is None:
            privatekey = PrivateKey(self._ephemeral)
        return super().generate_keypair(privatekey)


# Section 5, "Network name": the public network, and the grammar of a name.
PUBLIC_NETWORK = "yz"
NETWORK_NAME = re.compile(r"[a-z0-9._-]{1,32}")


def network_of(side_input):
    """The network a side of a vector belongs to (its proof options)."""
    net = side_input.get("proof_options", {}).get("network")
    return PUBLIC_NETWORK if net is None else net


def network_mismatch_text(mine, theirs):
    """Section 5, "Network name": the reason of a mismatch."""
    return ('network name mismatch: this node belongs to network "%s", '
            'the peer to "%s"' % (mine, theirs))


def check_proof(name, proof, static_pub, identity_pub, prefix, corrupt,
                network):
    obj = cbor2.loads(proof)
    check(name + " proof canonical", cbor2.dumps(obj, canonical=True), proof)
    if not isinstance(obj, dict) or 1 not in obj or 2 not in obj:
        raise Mismatch(name + " proof lacks key 1 or 2")
    # Key 7: absent for the public network, else the name, in its grammar.
    if network == PUBLIC_NETWORK:
        check(name + " proof network name absent", 7 in obj, False)
    else:
        if not isinstance(obj.get(7), str) or \
                not NETWORK_NAME.fullmatch(obj[7]):
            raise Mismatch("%s proof network name %r breaks the grammar" %
                           (name, obj.get(7)))
        check(name + " proof network name", obj[7], network)
    check(name + " proof identity key", obj[1], identity_pub)
    try:
        Ed25519PublicKey.from_public_bytes(obj[1]).verify(
            obj[2], prefix + static_pub)
        valid = True
    except InvalidSignature:
        valid = False
    check(name + " proof signature verifies", valid, not corrupt)
    return obj


def rekey(cs):
    """Noise Rekey() (spec 4.2, 5.1): k = ENCRYPT(k, 2^64-1, empty, 32 zero
    bytes)[0..32], the nonce unchanged. dissononce's own rekey() keeps all
    48 bytes and resets the nonce, so it is done here by hand."""
    n = cs._nonce
    cs.initialize_key(cs.cipher.encrypt(cs._key, 2**64 - 1, b"",
                                        b"\0" * 32)[:32])
    cs.set_nonce(n)


def cut_text(text):
    """Section 11: a local reason is cut before its first byte that is not
    valid UTF-8 and then at a character boundary to at most 123 bytes."""
    b = text.encode("utf-8", "surrogateescape")
    for end in range(len(b), -1, -1):
        try:
            b[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        good = end
        break
    b = b[:good]
    # the longest valid prefix found above may still be cut mid-character
    while True:
        try:
            b.decode("utf-8")
            break
        except UnicodeDecodeError:
            b = b[:-1]
    if len(b) > MAX_CLOSE_TEXT:
        b = b[:MAX_CLOSE_TEXT]
        while True:
            try:
                b.decode("utf-8")
                break
            except UnicodeDecodeError:
                b = b[:-1]
    return b.decode("utf-8")


def pattern_payload(n):
    return bytes(i % 251 for i in range(n))


def node_encode(n):
    """docs/protocol.md "Node messages": the node message of a step."""
    kinds = {"message": 1, "request": 2, "response": 3, "error": 4}
    k = kinds[n["kind"]]
    out = struct.pack(">BH", k, n["protocol"])
    if k != 1:
        out += struct.pack(">Q", n["id"])
    if k == 4:
        out += struct.pack(">H", n["code"])
    return out + bytes.fromhex(n["body"])


def node_decode(p):
    """The same table, read: the fields, or None if the message breaks it."""
    if len(p) < 3 or p[0] not in (1, 2, 3, 4):
        return None
    k = p[0]
    hdr = {1: 3, 2: 11, 3: 11, 4: 13}[k]
    if len(p) < hdr:
        return None
    proto = struct.unpack(">H", p[1:3])[0]
    if proto == 0:
        return None
    out = {"kind": ["", "message", "request", "response", "error"][k],
           "protocol": proto}
    if k != 1:
        out["id"] = struct.unpack(">Q", p[3:11])[0]
        if out["id"] == 0:
            return None
    if k == 4:
        out["code"] = struct.unpack(">H", p[11:13])[0]
        if out["code"] == 0 or len(p) - hdr > 256:
            return None
    out["body"] = p[hdr:].hex()
    return out


def fragments(msg):
    """Section 7: the frames of an application message."""
    if len(msg) <= DATA_MAX:
        return [b"\x01" + msg]
    out = [b"\x02" + struct.pack(">I", len(msg)) + msg[:FIRST_CHUNK]]
    off = FIRST_CHUNK
    while len(msg) - off > DATA_MAX:
        out.append(b"\x03" + msg[off:off + DATA_MAX])
        off += DATA_MAX
    out.append(b"\x04" + msg[off:])
    return out


def describe(p):
    if len(p) <= 256:
        return {"payload": p.hex()}
    return {"payload_length": len(p),
            "payload_sha256": hashlib.sha256(p).hexdigest()}


class Side:
    """One side as docs/protocol.md describes it (sections 6 to 11)."""

    def __init__(self, name, cfg):
        self.name = name
        self.cfg = cfg
        self.state = "handshake"
        self.tx_n = 0               # nonce of the next message sent
        self.rx_n = 0
        self.since_rekey = 0
        self.rekey_ms = 0
        self.ping_value = 0
        self.missed = 0
        self.next_ping = cfg["ping_idle_ms"]
        self.frag = None            # (total, bytearray) while reassembling
        self.gap = False            # a message to this side was lost
        self.expect = []            # frames this side is to send, in order
        self.events = []            # events this side is to report
        self.local_error = None     # error of a local close in this step

    def up(self, now):
        self.state = "up"
        self.rekey_ms = now
        self.next_ping = now + self.cfg["ping_idle_ms"]

    # -- sending (section 8, 9) --
    def send_frame(self, frame, now):
        """Queue one frame with the rekey and nonce rules; False if the
        side closed instead."""
        if self.state != "up":
            return False
        if frame[0] == 8:
            self.expect.append(frame)
            self.tx_n += 1
            return True
        if self.cfg["nonce_limit"] - self.tx_n < 3:
            self.close_local(NONCE_EXHAUSTED, "YZ_E_NONCE_EXHAUSTED", now)
            return False
        c = self.cfg
        if self.since_rekey >= c["rekey_after_messages"] or (
                c["rekey_after_ms"] and
                now - self.rekey_ms >= c["rekey_after_ms"]):
            self.expect.append(b"\x07")
            self.tx_n += 1
            self.since_rekey = 0
            self.rekey_ms = now
        self.expect.append(frame)
        self.tx_n += 1
        self.since_rekey += 1
        return True

    def close_local(self, code, error, now, text=None, send=True,
                    keys=False):
        """Section 11: a local close sends CLOSE when the side has
        transport keys (text None: the reason is the implementation's)."""
        if self.state == "closed":
            return
        if send and (self.state == "up" or keys):
            self.expect.append(("close", code, text))
            self.tx_n += 1
        self.state = "closed"
        self.local_error = error
        self.events.append({"event": "closed", "code": code,
                            "remote": False, "error": error, "text": text})

    # -- receiving (sections 6, 7, 10, 11) --
    def receive(self, pt, now, node_layer):
        """pt: the decrypted frame, or None if it did not authenticate."""
        if self.state != "up":
            return
        if pt is None or self.gap:
            # a tampered message, or one after a lost one (wrong nonce)
            return self.close_local(DECRYPT, "YZ_E_DECRYPT", now)
        if self.rx_n >= self.cfg["nonce_limit"]:
            return self.close_local(NONCE_EXHAUSTED, "YZ_E_NONCE_EXHAUSTED",
                                    now)
        self.rx_n += 1
        self.missed = 0
        self.next_ping = now + self.cfg["ping_idle_ms"]
        bad = lambda code=PROTOCOL: self.close_local(  # noqa: E731
            code, None, now)
        if len(pt) == 0:
            return bad()
        t, body = pt[0], pt[1:]
        mx = self.cfg["max_message"]
        if t == 1:
            if self.frag is not None:
                return bad()
            if len(body) > mx:
                return bad(TOO_LARGE)
            return self.deliver(body, node_layer)
        if t == 2:
            if self.frag is not None or len(body) < 5:
                return bad()
            total = struct.unpack(">I", body[:4])[0]
            if total > mx:
                return bad(TOO_LARGE)
            if len(body) - 4 >= total:
                return bad()
            self.frag = (total, bytearray(body[4:]))
            return
        if t in (3, 4):
            if self.frag is None or len(body) == 0:
                return bad()
            total, buf = self.frag
            buf += body
            if len(buf) > total or (t == 3 and len(buf) == total):
                return bad(TOO_LARGE)
            if t == 4:
                self.frag = None
                if len(buf) != total:
                    return bad()
                return self.deliver(bytes(buf), node_layer)
            return
        if t in (5, 6):
            if len(body) != 8:
                return bad()
            value = struct.unpack(">Q", body)[0]
            if t == 5:
                self.send_frame(b"\x06" + body, now)
            elif value == 0 or value > self.ping_value:
                return bad()
            return
        if t == 7:
            if body:
                return bad()
            return
        if t == 8:
            if len(body) < 2 or len(body) - 2 > MAX_CLOSE_TEXT:
                return bad()
            try:
                text = body[2:].decode("utf-8")
            except UnicodeDecodeError:
                return bad()
            self.state = "closed"
            self.events.append({"event": "closed", "remote": True,
                                "code": struct.unpack(">H", body[:2])[0],
                                "error": "YZ_E_PEER_CLOSED", "text": text})
            return
        return bad()

    def deliver(self, msg, node_layer):
        ev = {"event": "message"}
        ev.update(describe(msg))
        if node_layer:
            n = node_decode(msg)
            ev["node"] = n if n is not None else "invalid"
        self.events.append(ev)

    def tick(self, now):
        if self.state == "handshake":
            if now >= self.cfg["handshake_timeout_ms"]:
                self.close_local(TIMEOUT, "YZ_E_TIMEOUT", now, send=False)
            return
        if self.state == "up" and now >= self.next_ping:
            if self.missed >= self.cfg["max_missed_pongs"]:
                return self.close_local(TIMEOUT, "YZ_E_TIMEOUT", now)
            self.ping_value += 1
            self.missed += 1
            self.next_ping = now + self.cfg["ping_idle_ms"]
            self.send_frame(b"\x05" + struct.pack(">Q", self.ping_value),
                            now)


def check_event(what, got, want):
    """A recorded event against the model's. The text of a local close is
    the implementation's (None in the model) unless the step gave it."""
    check(what + " event", got.get("event"), want["event"])
    if want["event"] == "message":
        for k in ("payload", "payload_length", "payload_sha256"):
            check(what + " " + k, got.get(k), want.get(k))
        if "node" not in want:
            check(what + " node", got.get("node"), None)
        elif want["node"] == "invalid":
            # the node layer's reason is its own; that it refused is not
            if not isinstance(got.get("node"), dict) or \
                    "invalid" not in got["node"]:
                raise Mismatch("%s node: %r, want a refusal" % (
                    what, got.get("node")))
        else:
            check(what + " node", got.get("node"), want["node"])
        return
    if want["event"] == "up":
        check(what + " peer node ID", got.get("peer_node_id"),
              want["peer_node_id"])
        check(what + " channel binding", got.get("channel_binding"),
              want["channel_binding"])
        return
    check(what + " code", got.get("code"), want["code"])
    check(what + " remote", got.get("remote"), want["remote"])
    err = want["error"]
    if err is None:
        allowed = (IDENTITY_ERRORS if want["code"] == IDENTITY
                   else ERRORS.get(want["code"]))
        if allowed is not None and got.get("error") not in allowed:
            raise Mismatch("%s error: %r is not one of %s" % (
                what, got.get("error"), sorted(allowed)))
    else:
        check(what + " error", got.get("error"), err)
    if want["text"] is not None:
        check(what + " text", got.get("text"), want["text"])
    if not isinstance(got.get("text"), str):
        raise Mismatch(what + ": closed without text")


class Link:
    """Both sides, their CipherStates (from dissononce) and the checks of
    the messages of one step."""

    def __init__(self, v, cfg, enc, dec, node_layer):
        self.v = v
        self.s = {n: Side(n, cfg) for n in SIDES}
        self.enc, self.dec = enc, dec
        self.node_layer = node_layer
        self.raw = []   # the frames of a send_frames step still to come

    def take(self, what, m, now):
        """Check one recorded transport message and deliver it."""
        f = m["from"]
        to = other(f)
        snd, rcv = self.s[f], self.s[to]
        ct = bytes.fromhex(m["ciphertext"])
        try:
            pt = bytes(self.dec[f].decrypt_with_ad(b"", ct))
        except Exception:  # dissononce raises on a bad tag
            pt = None
        if m.get("tampered"):
            check(what + " tampered message authenticates", pt, None)
        elif pt is None:
            raise Mismatch(what + ": does not decrypt")
        else:
            check(what + " ciphertext", bytes(
                self.enc[f].encrypt_with_ad(b"", pt)), ct)
            if "plaintext" in m:
                check(what + " plaintext", m["plaintext"], pt.hex())
            elif not m.get("lost") and rcv.state == "up":
                raise Mismatch(what + ": no plaintext")
            if pt == b"\x07":
                rekey(self.enc[f])
                rekey(self.dec[f])
        if m.get("raw"):
            if not self.raw:
                raise Mismatch(what + ": a raw message no step sent")
            check(what + " raw frame", pt.hex() if pt is not None else None,
                  self.raw.pop(0).hex())
            snd.tx_n += 1
        elif m.get("tampered") and pt is None:
            # the sender's frame is unknown here: the one it was to send
            if not snd.expect:
                raise Mismatch(what + ": %s sent a frame it had no "
                               "reason to send" % f)
            snd.expect.pop(0)
        else:
            if not snd.expect:
                raise Mismatch("%s: %s sent %s, which the protocol does not "
                               "call for" % (what, f, pt.hex()))
            want = snd.expect.pop(0)
            if isinstance(want, tuple):
                _, code, text = want
                check(what + " frame type", pt[:1], b"\x08")
                check(what + " CLOSE code", struct.unpack(">H", pt[1:3])[0],
                      code)
                if text is not None:
                    check(what + " CLOSE text", pt[3:].decode("utf-8"), text)
                # the CLOSE carries the closer's reason
                ev = [e for e in snd.events if e["event"] == "closed"]
                if ev and ev[-1]["text"] is None:
                    ev[-1]["text"] = pt[3:].decode("utf-8")
            else:
                check(what + " frame", pt.hex(), want.hex())
        if m.get("lost"):
            rcv.gap = True
            return
        if rcv.state != "up":
            if "plaintext" in m:
                raise Mismatch(what + ": decrypted for a side that is not "
                               "up")
            return
        rcv.receive(pt, now, self.node_layer)

    def events(self, what, got):
        for side in SIDES:
            mine = [e for e in got if e.get("side") == side]
            want = self.s[side].events
            check("%s: %s's number of events" % (what, side), len(mine),
                  len(want))
            for i, (g, w) in enumerate(zip(mine, want)):
                check_event("%s: %s event %d" % (what, side, i), g, w)
            self.s[side].events = []

    def leftover(self, what):
        for side in SIDES:
            if self.s[side].expect:
                raise Mismatch("%s: %s did not send %r" % (
                    what, side, self.s[side].expect[0]))


def config_of(v):
    cfg = dict(DEFAULTS)
    for k, x in (v.get("config") or {}).items():
        if k not in cfg:
            raise Mismatch("unknown config key %s" % k)
        cfg[k] = x
    return cfg


def run(doc, v, factory):
    prologue = bytes.fromhex(doc["prologue"])
    prefix = bytes.fromhex(doc["signature_prefix"])
    check("prologue", prologue, b"yz.link.v1")
    check("prefix", prefix, b"yz-link-v1 noise static key signature\0")
    cfg = config_of(v)
    pub, corrupt = {}, {}
    for side in SIDES:
        inp, out = v[side], v[side + "_public"]
        corrupt[side] = bool(inp.get("corrupt_proof"))
        ik = Ed25519PrivateKey.from_private_bytes(
            bytes.fromhex(inp["identity_seed"]))
        ipub = ik.public_key().public_bytes(**RAW)
        check(side + " identity", ipub.hex(), out["identity_public"])
        check(side + " node id", hashlib.sha256(ipub).hexdigest(),
              out["node_id"])
        for k in ("static", "ephemeral"):
            p = X25519PrivateKey.from_private_bytes(
                bytes.fromhex(inp[k + "_private"])).public_key()
            check(side + " " + k, p.public_bytes(**RAW).hex(),
                  out[k + "_public"])
        check_proof(side, bytes.fromhex(out["proof"]),
                    bytes.fromhex(out["static_public"]), ipub, prefix,
                    corrupt[side], network_of(inp))
        pub[side] = out

    # ---- the handshake (section 4) ----
    proto = factory.get_noise_protocol(doc["noise_protocol"])
    hs = {}
    for side, initiator in (("initiator", True), ("responder", False)):
        dh = FixedEphemeralDH(bytes.fromhex(v[side]["ephemeral_private"]))
        h = proto.create_handshakestate(dh=dh)
        s = dh.generate_keypair(
            PrivateKey(bytes.fromhex(v[side]["static_private"])))
        h.initialize(proto.pattern, initiator, prologue, s=s)
        hs[side] = h
    link = Link(v, cfg, None, None, bool(v.get("node_layer")))
    st = link.s
    pinned = v.get("initiator_expects")
    lose = v.get("handshake_lose")
    split = None
    net = {side: network_of(v[side]) for side in SIDES}
    mismatch = False    # section 5, "Network name"
    msgs = v["handshake"]
    written = 0
    # What each side does with the message it reads (sections 4, 5, 11).
    for i in range(3):
        w = "initiator" if i % 2 == 0 else "responder"
        r = other(w)
        if i >= len(msgs):
            raise Mismatch("handshake message %d is missing" % (i + 1))
        m = msgs[i]
        check("message %d sender" % (i + 1), m["from"], w)
        payload = bytes.fromhex(m["payload"])
        want_payload = b"" if i == 0 else bytes.fromhex(pub[w]["proof"])
        check("message %d payload" % (i + 1), payload, want_payload)
        buf = bytearray()
        ws = hs[w].write_message(payload, buf)
        written = i + 1
        check("message %d" % (i + 1), bytes(buf).hex(), m["ciphertext"])
        check("message %d lost" % (i + 1), bool(m.get("lost")), lose == i + 1)
        if ws is not None and mismatch:
            # Section 5, "Network name": message 3 is sent, then the
            # initiator fails without Split() and sends nothing more.
            st[w].close_local(NETWORK, "YZ_E_NETWORK", 0, send=False,
                              text=network_mismatch_text(net[w], net[r]))
        elif ws is not None:   # message 3 written: the initiator is up
            split = ws
            st[w].up(0)
        if lose == i + 1:
            break
        pt = bytearray()
        rs = hs[r].read_message(bytes(buf), pt)
        check("message %d read" % (i + 1), bytes(pt), payload)
        if i >= 1 and corrupt[w]:
            # Section 5: the proof does not verify. After message 3 the
            # responder has transport keys, so section 11 has it send
            # CLOSE; whether it does is taken from the vector (either way
            # the CLOSE, if any, must carry IDENTITY).
            st[r].close_local(IDENTITY, None, 0, send=len(msgs) > 3,
                              keys=i == 2)
            break
        if i == 1 and pinned is not None and pinned != pub[w]["node_id"]:
            # Section 3: the pinned node ID differs; before Split()
            st[r].close_local(PEER_ID_MISMATCH, "YZ_E_PEER_ID_MISMATCH", 0,
                              send=False)
            break
        if i == 1 and net[w] != net[r]:
            mismatch = True     # the initiator goes on to message 3
        if rs is not None and mismatch:
            # the responder fails on message 3 like any failure there
            st[r].close_local(NETWORK, "YZ_E_NETWORK", 0, send=False,
                              text=network_mismatch_text(net[r], net[w]))
            break
        if rs is not None:
            st[r].up(0)
    hh = bytes(hs["initiator"].symmetricstate.get_handshake_hash()).hex()
    # Sides that are up report it first (section 4, "After message 3"):
    # the peer's node ID and the channel binding, the handshake hash.
    for side in SIDES:
        if st[side].state == "up":
            st[side].events.insert(0, {
                "event": "up", "peer_node_id": pub[other(side)]["node_id"],
                "channel_binding": hh})
    check("handshake hash", v["handshake_hash"],
          hh if split is not None else None)
    link.enc, link.dec = split_states(split, v, prologue)
    # Messages after the handshake ones: a CLOSE from a side that failed
    # message 3 after Split().
    for j, m in enumerate(msgs[written:]):
        if link.enc is None:
            raise Mismatch("a message after a failed handshake")
        link.take("handshake message %d" % (written + j + 1), m, 0)
    link.events("handshake", v["handshake_events"])
    link.leftover("handshake")
    check("second link", "second_link_result" in v, "second_link" in v)
    if "second_link" in v:
        check_second_link(v, proto, prologue, pub, hh)

    # ---- the steps ----
    check("number of results", len(v["results"]), len(v["steps"]))
    for k, (step, res) in enumerate(zip(v["steps"], v["results"])):
        what = "step %d" % k
        now, side, act = step["at"], step["side"], step["action"]
        me = link.s[side]
        for s in SIDES:
            link.s[s].local_error = None
        closed_before = me.state == "closed"
        result = "YZ_OK"
        if step.get("refuse") and act != "send":
            raise Mismatch("refuse is for send")
        if act == "send":
            if "node" in step:
                msg = node_encode(step["node"])
            elif "payload" in step:
                msg = bytes.fromhex(step["payload"])
            else:
                msg = pattern_payload(step["payload_pattern_length"])
            if me.state == "up":
                if len(msg) > cfg["max_message"]:
                    result = "YZ_E_TOO_LARGE"   # refused, nothing sent
                elif step.get("refuse"):
                    # section 11: INTERNAL, no CLOSE after a failed send
                    me.close_local(INTERNAL, None, now, send=False)
                else:
                    for fr in fragments(msg):
                        if not me.send_frame(fr, now):
                            break
            elif me.state == "handshake":
                result = "YZ_E_STATE"
        elif act == "send_frames":
            link.raw = [bytes.fromhex(f) for f in step["frames"]]
        elif act == "tick":
            me.tick(now)
        elif act == "close":
            me.close_local(step["code"], "YZ_E_CLOSED", now,
                           text=cut_text(step["text"]),
                           send=me.state == "up")
        else:
            raise Mismatch("unknown action %s" % act)
        own_close = me.state == "closed" and not closed_before
        own_error = me.local_error
        for j, m in enumerate(res["messages"]):
            w = "%s message %d" % (what, j)
            check(w + " lost", bool(m.get("lost")),
                  step.get("lose") == m["from"])
            check(w + " tampered", bool(m.get("tampered")),
                  bool(step.get("tamper")) and j == 0)
            if m.get("raw") and (act != "send_frames" or m["from"] != side):
                raise Mismatch(w + ": raw, but not from send_frames")
            link.take(w, m, now)
        if link.raw:
            raise Mismatch(what + ": %d frames of send_frames not sent" %
                           len(link.raw))
        link.leftover(what)
        got_events = res["events"]
        link.events(what, got_events)
        # The API's answer (section 12): a call on a closed session fails
        # with YZ_E_CLOSED; one that closes the side returns the cause
        # (close itself returns YZ_OK).
        if closed_before:
            result = "YZ_E_CLOSED"
        elif own_close and act != "close":
            mine = [e for e in got_events
                    if e["side"] == side and e["event"] == "closed"]
            result = own_error if own_error is not None else mine[0]["error"]
        check(what + " result", res["result"], result)


def check_second_link(v, proto, prologue, pub, first_hash):
    """A second link between the same identities (docs/protocol.md
    "Duplicate links"): its handshake byte for byte, its up events, and
    which link both ends keep by the rule of that section."""
    sl, out = v["second_link"], v["second_link_result"]
    dialer = sl["dialer"]
    listener = other(dialer)
    keys = {dialer: sl["dialer_ephemeral_private"],
            listener: sl["listener_ephemeral_private"]}
    hs = {}
    for side, initiator in ((dialer, True), (listener, False)):
        dh = FixedEphemeralDH(bytes.fromhex(keys[side]))
        h = proto.create_handshakestate(dh=dh)
        s = dh.generate_keypair(
            PrivateKey(bytes.fromhex(v[side]["static_private"])))
        h.initialize(proto.pattern, initiator, prologue, s=s)
        hs[side] = h
    check("second link: messages", len(out["handshake"]), 3)
    for i, m in enumerate(out["handshake"]):
        w = dialer if i % 2 == 0 else listener
        check("second link: message %d sender" % (i + 1), m["from"], w)
        payload = b"" if i == 0 else bytes.fromhex(pub[w]["proof"])
        buf = bytearray()
        hs[w].write_message(payload, buf)
        check("second link: message %d" % (i + 1), bytes(buf).hex(),
              m["ciphertext"])
        pt = bytearray()
        hs[other(w)].read_message(bytes(buf), pt)
    h2 = bytes(hs[dialer].symmetricstate.get_handshake_hash()).hex()
    check("second link: handshake hash", out["handshake_hash"], h2)
    ups = sorted((e["side"], e["event"], e.get("peer_node_id"),
                  e.get("channel_binding")) for e in out["handshake_events"])
    check("second link: events", ups, sorted(
        (s, "up", pub[other(s)]["node_id"], h2) for s in SIDES))
    # The rule: the link dialled by the smaller node ID; the same dialer:
    # the smaller channel binding (both bytewise).
    d1 = bytes.fromhex(pub["initiator"]["node_id"])
    d2 = bytes.fromhex(pub[dialer]["node_id"])
    if d1 != d2:
        first = d1 < d2
    else:
        first = bytes.fromhex(first_hash) < bytes.fromhex(h2)
    check("second link: survivor", out["survivor"],
          "first" if first else "second")


def split_states(split, v, prologue):
    """The transport CipherStates of each direction: one copy to re-encrypt
    (the sender's) and one to decrypt (the receiver's), so that the two
    never share a nonce. The second copy comes from a second run of the
    handshake."""
    if split is None:
        return None, None
    p = NoiseProtocolFactory().get_noise_protocol(
        "Noise_XX_25519_ChaChaPoly_BLAKE2b")
    h2 = {}
    for side, initiator in (("initiator", True), ("responder", False)):
        dh = FixedEphemeralDH(bytes.fromhex(v[side]["ephemeral_private"]))
        h = p.create_handshakestate(dh=dh)
        s = dh.generate_keypair(
            PrivateKey(bytes.fromhex(v[side]["static_private"])))
        h.initialize(p.pattern, initiator, prologue, s=s)
        h2[side] = h
    again = None
    for i in range(3):
        w = "initiator" if i % 2 == 0 else "responder"
        r = other(w)
        buf = bytearray()
        again = h2[w].write_message(
            bytes.fromhex(v["handshake"][i]["payload"]), buf)
        if i < 2:
            h2[r].read_message(bytes(buf), bytearray())
    # dissononce gives (c1, c2) to both roles: c1 is the initiator's.
    enc = {"initiator": split[0], "responder": split[1]}
    dec = {"initiator": again[0], "responder": again[1]}
    return enc, dec


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as fh:
        doc = json.load(fh)
    check("format", doc["format"], "yz-link-vectors-1")
    check("noise protocol", doc["noise_protocol"],
          "Noise_XX_25519_ChaChaPoly_BLAKE2b")
    factory = NoiseProtocolFactory()
    fails = 0
    for v in doc["vectors"]:
        try:
            run(doc, v, factory)
            print("ok   %s" % v["name"])
        except Exception as e:  # report every vector, then fail
            print("FAIL %s: %s: %s" % (v["name"], type(e).__name__, e))
            fails += 1
    print("%d vectors, %d failed" % (len(doc["vectors"]), fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
