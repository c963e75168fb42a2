#!/usr/bin/python3
"""Check the yz protocol vectors with implementations independent of yz.

Usage: check_yz_vectors.py FILE

For every vector of FILE (tests/vectors/README.md):
- identities (Ed25519, python3-cryptography): public keys and node IDs
  (SHA-256 of the identity key) from the seeds;
- static and ephemeral X25519 public keys from the private keys;
- identity proofs (python3-cbor2): decoded, canonical (cbor2's canonical
  encoding gives the same bytes), required fields present, the Ed25519
  signature over the signature prefix || static public key verifies;
- the handshake (python3-dissononce): written with the vector's keys,
  prologue and payloads, every message equal byte for byte, handshake hash
  equal;
- transport: every message decrypts to the plaintext given, and encrypting
  that plaintext gives the same ciphertext; REKEY frames switch keys; frames
  are parsed and reassembled, and the delivered payloads match the events.

Only /usr/bin/python3 can import dissononce and cbor2 (TOOLCHAIN.md 7).
"""
import hashlib
import json
import struct
import sys

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from dissononce.dh.x25519.private import PrivateKey
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.extras.meta.protocol.factory import NoiseProtocolFactory

RAW = dict(encoding=serialization.Encoding.Raw,
           format=serialization.PublicFormat.Raw)


class Mismatch(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Mismatch("%s: got %r, want %r" % (what, got, want))


class FixedEphemeralDH(X25519DH):
    def __init__(self, ephemeral):
        super().__init__()
        self._ephemeral = ephemeral

    def generate_keypair(self, privatekey=None):
        if privatekey is None:
            privatekey = PrivateKey(self._ephemeral)
        return super().generate_keypair(privatekey)


def check_proof(name, proof, static_pub, identity_pub, prefix):
    obj = cbor2.loads(proof)
    check(name + " proof canonical", cbor2.dumps(obj, canonical=True), proof)
    if not isinstance(obj, dict) or 1 not in obj or 2 not in obj:
        raise Mismatch(name + " proof lacks key 1 or 2")
    check(name + " proof identity key", obj[1], identity_pub)
    Ed25519PublicKey.from_public_bytes(obj[1]).verify(obj[2],
                                                      prefix + static_pub)
    return obj


def rekey(cs):
    """Noise Rekey() (spec 4.2, 5.1): k = ENCRYPT(k, 2^64-1, empty, 32 zero
    bytes)[0..32], the nonce unchanged. dissononce's own rekey() keeps all
    48 bytes and resets the nonce, so it is done here by hand."""
    n = cs._nonce
    cs.initialize_key(cs.cipher.encrypt(cs._key, 2**64 - 1, b"",
                                        b"\0" * 32)[:32])
    cs.set_nonce(n)


def parse_frames(frames):
    """Reassemble application messages from a direction's plaintexts."""
    out, partial, total = [], None, 0
    for f in frames:
        t = f[0]
        if t == 1:
            out.append(f[1:])
        elif t == 2:
            total = struct.unpack(">I", f[1:5])[0]
            partial = bytearray(f[5:])
        elif t in (3, 4):
            partial += f[1:]
            if t == 4:
                check("reassembled length", len(partial), total)
                out.append(bytes(partial))
                partial = None
        elif t in (5, 6):
            check("ping/pong length", len(f), 9)
        elif t == 7:
            check("rekey length", len(f), 1)
        elif t == 8:
            f[3:].decode("utf-8")
        else:
            raise Mismatch("unknown frame type %d" % t)
    return out


def payload_of(ev):
    if "payload" in ev:
        return ("hex", ev["payload"])
    return ("sha", ev["payload_length"], ev["payload_sha256"])


def describe(p):
    if len(p) <= 256:
        return ("hex", p.hex())
    return ("sha", len(p), hashlib.sha256(p).hexdigest())


def run(doc, v, factory):
    prologue = bytes.fromhex(doc["prologue"])
    prefix = bytes.fromhex(doc["signature_prefix"])
    check("prologue", prologue, b"yz.link.v1")
    check("prefix", prefix, b"yz-link-v1 noise static key signature\0")
    pub = {}
    for side in ("initiator", "responder"):
        inp, out = v[side], v[side + "_public"]
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
                    bytes.fromhex(out["static_public"]), ipub, prefix)
        pub[side] = out

    proto = factory.get_noise_protocol(doc["noise_protocol"])
    hs = {}
    for side, initiator in (("initiator", True), ("responder", False)):
        dh = FixedEphemeralDH(bytes.fromhex(v[side]["ephemeral_private"]))
        h = proto.create_handshakestate(dh=dh)
        s = dh.generate_keypair(
            PrivateKey(bytes.fromhex(v[side]["static_private"])))
        h.initialize(proto.pattern, initiator, prologue, s=s)
        hs[side] = h
    split = None
    for i, m in enumerate(v["handshake"]):
        w = "initiator" if i % 2 == 0 else "responder"
        r = "responder" if w == "initiator" else "initiator"
        check("message %d sender" % (i + 1), m["from"], w)
        payload = bytes.fromhex(m["payload"])
        want_payload = b"" if i == 0 else bytes.fromhex(pub[w]["proof"])
        check("message %d payload" % (i + 1), payload, want_payload)
        buf = bytearray()
        ws = hs[w].write_message(payload, buf)
        check("message %d" % (i + 1), bytes(buf).hex(), m["ciphertext"])
        pt = bytearray()
        rs = hs[r].read_message(bytes(buf), pt)
        check("message %d read" % (i + 1), bytes(pt), payload)
        if ws is not None:
            split = {w: ws, r: rs}
    if split is None:
        check("handshake hash", v["handshake_hash"], None)
        if v["results"]:
            raise Mismatch("transport results after a failed handshake")
        return
    check("handshake length", len(v["handshake"]), 3)
    hh = hs["initiator"].symmetricstate.get_handshake_hash()
    check("handshake hash", bytes(hh).hex(), v["handshake_hash"])
    # dissononce gives (c1, c2) to both roles: the initiator sends with c1.
    enc = {"initiator": split["initiator"][0], "responder": split["responder"][1]}
    dec = {"initiator": split["responder"][0], "responder": split["initiator"][1]}
    frames = {"initiator": [], "responder": []}
    delivered = {"initiator": [], "responder": []}
    closed = set()
    for step, res in zip(v["steps"], v["results"]):
        for m in res["messages"]:
            f = m["from"]
            to = "responder" if f == "initiator" else "initiator"
            ct = bytes.fromhex(m["ciphertext"])
            if to in closed:
                continue
            pt = bytes(dec[f].decrypt_with_ad(b"", ct))
            check("plaintext", pt.hex(), m.get("plaintext"))
            check("ciphertext", bytes(enc[f].encrypt_with_ad(b"", pt)), ct)
            if pt == b"\x07":
                rekey(enc[f])
                rekey(dec[f])
            if pt[0] == 8:
                closed.add(to)
                closed.add(f)
            frames[f].append(pt)
        for ev in res["events"]:
            if ev["event"] == "message":
                delivered[ev["side"]].append(payload_of(ev))
    for f in ("initiator", "responder"):
        to = "responder" if f == "initiator" else "initiator"
        got = [describe(p) for p in parse_frames(frames[f])]
        check("messages %s -> %s" % (f, to), got, delivered[to])


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
            print("FAIL %s: %s" % (v["name"], e))
            fails += 1
    print("%d vectors, %d failed" % (len(doc["vectors"]), fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
