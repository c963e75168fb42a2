#!/usr/bin/python3
"""Check the DHT record vectors with implementations independent of yz.

Usage: check_yz_dhtrec_vectors.py FILE

FILE is tests/vectors/yz-dht-record-v1.json (docs/protocol.md, "DHT
records"). Written from the spec, not from the C code:
- each identity's public key from its seed (PyNaCl);
- each record is judged from its CBOR bytes alone (cbor2): size bound,
  canonical encoding (re-encoded canonically it gives the same bytes),
  exactly the keys of its kind, field types and sizes, the value limit;
  then the store's checks in the spec's order: value limit, key
  derivation (hashlib SHA-256), expiry, expiry ahead, the Ed25519
  signature over the signed bytes rebuilt from the decoded fields; the
  verdict must be the vector's status;
- the decoded fields equal the vector's; the signed bytes rebuilt equal the
  vector's; a valid signature is also what the signer's seed produces
  (Ed25519 is deterministic);
- each replacement vector's status and action follow BEP 44's rules as the
  spec states them.

Only /usr/bin/python3 can import cbor2 and nacl (TOOLCHAIN.md 7).
"""
import hashlib
import json
import struct
import sys

import cbor2
import nacl.exceptions
import nacl.signing

IMMUTABLE_PREFIX = b"yz dht immutable v1\x00"
MUTABLE_PREFIX = b"yz dht mutable v1\x00"
SIGN_PREFIX = b"yz dht mutable record v1\x00"
OVERHEAD_MAX = 198  # CBOR bytes around the value at most
SALT_MAX = 64


class Refused(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


def immutable_key(value):
    return hashlib.sha256(IMMUTABLE_PREFIX + value).digest()


def mutable_key(pk, salt):
    return hashlib.sha256(MUTABLE_PREFIX + pk + salt).digest()


def signed_bytes(pk, salt, seq, expiry, value):
    """docs/protocol.md "DHT records", "Signed bytes"."""
    return (SIGN_PREFIX + pk + bytes([len(salt)]) + salt +
            struct.pack(">QQ", seq, expiry) + hashlib.sha256(value).digest())


def decode(b, value_max):
    """Strict decoding: a dict with the fields, or Refused."""
    if len(b) > value_max + OVERHEAD_MAX:
        raise Refused("TOO_LARGE", "over the size bound")
    try:
        m = cbor2.loads(b)
    except Exception as e:  # any decoding failure
        raise Refused("MALFORMED", "not CBOR: %s" % e)
    try:
        again = cbor2.dumps(m, canonical=True)
    except Exception:
        raise Refused("MALFORMED", "not re-encodable")
    if again != b:
        raise Refused("MALFORMED", "not canonical, or trailing bytes")
    if not isinstance(m, dict):
        raise Refused("MALFORMED", "not a map")
    kind = m.get(1)
    want_keys = {1: {1, 2, 3}, 2: set(range(1, 8))}.get(kind)
    if want_keys is None or set(m.keys()) != want_keys:
        raise Refused("MALFORMED", "wrong keys or kind")

    def uint(x):
        if type(x) is not int or x < 0 or x >= 2 ** 64:
            raise Refused("MALFORMED", "not a uint")
        return x

    def bstr(x, lo, hi):
        if type(x) is not bytes or not lo <= len(x) <= hi:
            raise Refused("MALFORMED", "not a byte string of its size")
        return x

    f = {"kind": kind}
    f["value"] = bstr(m[2], 1, 2 ** 32)
    if len(f["value"]) > value_max:
        raise Refused("TOO_LARGE", "value over the limit")
    f["expiry"] = uint(m[3])
    if kind == 2:
        f["public_key"] = bstr(m[4], 32, 32)
        f["salt"] = bstr(m[5], 0, SALT_MAX)
        f["seq"] = uint(m[6])
        f["signature"] = bstr(m[7], 64, 64)
        f["key"] = mutable_key(f["public_key"], f["salt"])
    else:
        f["key"] = immutable_key(f["value"])
    return f


def check(f, key, now, value_max, expiry_ahead):
    """The store's checks, in the spec's order."""
    if len(f["value"]) > value_max:
        return "TOO_LARGE"
    if f["key"] != key:
        return "WRONG_KEY"
    if f["expiry"] <= now:
        return "EXPIRED"
    if f["expiry"] - now > expiry_ahead:
        return "EXPIRY_TOO_FAR"
    if f["kind"] == 2:
        sb = signed_bytes(f["public_key"], f["salt"], f["seq"], f["expiry"],
                          f["value"])
        try:
            nacl.signing.VerifyKey(f["public_key"]).verify(sb, f["signature"])
        except nacl.exceptions.BadSignatureError:
            return "BAD_SIGNATURE"
    return "OK"


def replace(cand, cur, cas):
    """BEP 44's rules as docs/protocol.md "Replacement" states them."""
    if cur is None:
        return "OK", "STORE"
    if cand["kind"] != cur["kind"] or cand["key"] != cur["key"]:
        return "WRONG_KEY", None
    if cand["kind"] == 2:
        if cas is not None and cur["seq"] != cas:
            return "CAS_MISMATCH", None
        if cand["seq"] < cur["seq"]:
            return "SEQ_TOO_LOW", None
        if cand["seq"] > cur["seq"]:
            return "OK", "REPLACE"
        if cand["value"] != cur["value"]:
            return "SEQ_CONFLICT", None
    elif cand["value"] != cur["value"]:
        return "WRONG_KEY", None
    return "OK", "REFRESH" if cand["expiry"] > cur["expiry"] else "KEEP"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as fh:
        doc = json.load(fh)
    fails = []
    assert doc["prefixes"]["immutable_key"].encode() + b"\0" == \
        IMMUTABLE_PREFIX
    assert doc["prefixes"]["mutable_key"].encode() + b"\0" == MUTABLE_PREFIX
    assert doc["prefixes"]["signature"].encode() + b"\0" == SIGN_PREFIX
    seeds = {}
    for i in doc["identities"]:
        seed = bytes.fromhex(i["seed"])
        pk = bytes(nacl.signing.SigningKey(seed).verify_key)
        if pk.hex() != i["public_key"]:
            fails.append("identity %d: public key" % i["index"])
        seeds[i["index"]] = seed
    decoded = {}
    for v in doc["records"]:
        name = v["name"]
        b = bytes.fromhex(v["cbor"])
        try:
            f = decode(b, v["value_max"])
            status = check(f, bytes.fromhex(v["key"]), v["now"],
                           v["value_max"], v["expiry_ahead"])
        except Refused as e:
            status = e.status
        if status != v["status"]:
            fails.append("%s: status %s, want %s" % (name, status,
                                                     v["status"]))
        # The fields, decoded without the store's limit.
        f = decode(b, 2 ** 32)
        decoded[name] = f
        if f["value"].hex() != v["value"] or f["expiry"] != v["expiry"] or \
                f["key"].hex() != v["derived_key"] or \
                f["kind"] != {"immutable": 1, "mutable": 2}[v["kind"]]:
            fails.append("%s: fields" % name)
        if f["kind"] == 2:
            if f["public_key"].hex() != v["public_key"] or \
                    f["salt"].hex() != v["salt"] or f["seq"] != v["seq"] or \
                    f["signature"].hex() != v["signature"]:
                fails.append("%s: mutable fields" % name)
            sb = signed_bytes(f["public_key"], f["salt"], f["seq"],
                              f["expiry"], f["value"])
            if sb.hex() != v["signed_bytes"]:
                fails.append("%s: signed bytes" % name)
            sk = nacl.signing.SigningKey(seeds[v["signer"]])
            mine = sk.sign(sb).signature
            if (mine == f["signature"]) != v["signature_valid"]:
                fails.append("%s: signature from the seed" % name)
    for r in doc["replacements"]:
        cur = decoded[r["current"]] if r["current"] is not None else None
        status, action = replace(decoded[r["candidate"]], cur, r["cas"])
        if status != r["status"] or action != r["action"]:
            fails.append("replacement %s: %s %s, want %s %s" % (
                r["name"], status, action, r["status"], r["action"]))
    for f in fails:
        print("FAIL", f)
    if fails:
        sys.exit(1)
    print("%d DHT record vectors and %d replacement vectors agree "
          "(cbor2, PyNaCl, hashlib)" % (len(doc["records"]),
                                       len(doc["replacements"])))


if __name__ == "__main__":
    main()
