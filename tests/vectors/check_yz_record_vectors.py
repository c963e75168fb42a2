#!/usr/bin/python3
"""Check the node record vectors with implementations independent of yz.

Usage: check_yz_record_vectors.py FILE

FILE is tests/vectors/yz-node-record-v1.json (docs/protocol.md, "Node
records"). For every vector:
- the identity key from the seed (Ed25519: PyNaCl if installed, Debian's
  python3-nacl; else python3-cryptography) and node ID = SHA-256(key);
- the signed bytes rebuilt from the vector's fields equal the vector's;
- the record is judged from its CBOR bytes alone, by the rules of the spec
  (cbor2 for CBOR): size, one item, canonical encoding, exactly the keys,
  field values, network, expected node ID, expiry, then the Ed25519
  signature over the signed bytes rebuilt from the decoded fields; the
  verdict must be the vector's result (YZ_OK or the YZ_E_ code);
- an accepted record's fields equal the vector's fields.

Only /usr/bin/python3 can import cbor2 and nacl (TOOLCHAIN.md 7).
"""
import hashlib
import io
import json
import re
import struct
import sys

import cbor2

try:
    import nacl.exceptions
    import nacl.signing

    def public_key(seed):
        return bytes(nacl.signing.SigningKey(seed).verify_key)

    def verify(pk, msg, sig):
        try:
            nacl.signing.VerifyKey(pk).verify(msg, sig)
            return True
        except nacl.exceptions.BadSignatureError:
            return False

    ED25519 = "PyNaCl"
except ImportError:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey, Ed25519PublicKey)

    def public_key(seed):
        return Ed25519PrivateKey.from_private_bytes(seed).public_key() \
            .public_bytes(encoding=serialization.Encoding.Raw,
                          format=serialization.PublicFormat.Raw)

    def verify(pk, msg, sig):
        try:
            Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
            return True
        except InvalidSignature:
            return False

    ED25519 = "python3-cryptography"

PREFIX = b"yz node record v1\x00"
MAX_LEN = 1024
U64 = 2 ** 64


class Refused(Exception):
    def __init__(self, code, why):
        super().__init__(why)
        self.code = code


def signed_bytes(f):
    """docs/protocol.md "Node records", "Signed bytes"."""
    net = f["network"].encode("ascii")
    out = PREFIX + bytes([len(net)]) + net + f["identity_public"]
    out += struct.pack(">QQQQ", f["seq"], f["expiry"], f["node_type"],
                       f["capabilities"])
    out += bytes([len(f["addresses"])])
    for a in f["addresses"]:
        url = a["url"].encode("ascii")
        out += bytes([len(url)]) + url + struct.pack(">Q", a["client_types"])
    return out


# The canonical text of a node address without a node ID (the grammar of
# docs/operations.md, "Node addresses", as yz_address_format() writes it).
HOST = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*" \
       r"|\[[0-9a-f:.]+\])"
URL_RE = re.compile(r"^(ws|wss)://(" + HOST + r"):([1-9][0-9]{0,4})(/[!-~]*)$")


def check_url(url, clients):
    m = URL_RE.match(url)
    if (not m or "#" in url or int(m.group(3)) > 65535
            or not 6 <= len(url) <= 255):
        raise Refused("YZ_E_MALFORMED", "bad address URL %r" % url)
    if clients & 3 == 0:
        raise Refused("YZ_E_MALFORMED", "no known client type")
    if clients & 2 and m.group(1) != "wss":
        raise Refused("YZ_E_MALFORMED", "wss clients on a ws:// URL")


def uint(v):
    if type(v) is not int or not 0 <= v < U64:
        raise Refused("YZ_E_MALFORMED", "not a uint: %r" % (v,))
    return v


def judge(data, check):
    """The record's fields, or Refused with the spec's error code."""
    if len(data) > MAX_LEN:
        raise Refused("YZ_E_TOO_LARGE", "over 1024 bytes")
    fp = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(fp).decode()
    except Exception as e:
        raise Refused("YZ_E_MALFORMED", "not CBOR: %s" % e)
    if fp.tell() != len(data):
        raise Refused("YZ_E_TRAILING", "bytes after the item")
    if not isinstance(item, dict):
        raise Refused("YZ_E_MALFORMED", "not a map")
    if data[0] == 0xa8 and len(item) < 8:
        # cbor2 keeps the last of two equal keys: the head counted more.
        raise Refused("YZ_E_DUPLICATE", "a repeated key")
    if cbor2.dumps(item, canonical=True) != data:
        raise Refused("YZ_E_MALFORMED", "not the canonical encoding")
    if sorted(item) != list(range(1, 9)):
        raise Refused("YZ_E_MALFORMED", "keys are not exactly 1..8")
    net, pk, sig = item[1], item[2], item[8]
    if (not isinstance(net, str) or not 1 <= len(net) <= 32
            or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789.-_"
                   for c in net)):
        raise Refused("YZ_E_MALFORMED", "bad network name")
    if not isinstance(pk, bytes) or len(pk) != 32:
        raise Refused("YZ_E_MALFORMED", "bad identity key")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise Refused("YZ_E_MALFORMED", "bad signature field")
    f = dict(network=net, identity_public=pk, seq=uint(item[3]),
             expiry=uint(item[4]), node_type=uint(item[5]),
             capabilities=uint(item[6]), addresses=[])
    if f["node_type"] not in (1, 2):
        raise Refused("YZ_E_MALFORMED", "bad node type")
    addrs = item[7]
    if not isinstance(addrs, list) or not 1 <= len(addrs) <= 8:
        raise Refused("YZ_E_MALFORMED", "not 1..8 addresses")
    for a in addrs:
        if not isinstance(a, dict) or sorted(a) != [1, 2] \
                or not isinstance(a[1], str):
            raise Refused("YZ_E_MALFORMED", "bad address map")
        check_url(a[1], uint(a[2]))
        f["addresses"].append(dict(url=a[1], client_types=a[2]))
    urls = [a["url"] for a in f["addresses"]]
    if len(set(urls)) != len(urls):
        raise Refused("YZ_E_DUPLICATE", "the same URL twice")
    if net != check["network"]:
        raise Refused("YZ_E_UNSUPPORTED", "another network")
    node_id = hashlib.sha256(pk).digest()
    want = check["expected_node_id"]
    if want is not None and bytes.fromhex(want) != node_id:
        raise Refused("YZ_E_PEER_ID_MISMATCH", "another node")
    if f["expiry"] <= check["now"]:
        raise Refused("YZ_E_RANGE", "expired")
    if not verify(pk, signed_bytes(f), sig):
        raise Refused("YZ_E_BAD_SIGNATURE", "signature does not verify")
    return f, node_id, sig


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_yz_record_vectors.py FILE")
    with open(sys.argv[1]) as fh:
        doc = json.load(fh)
    if bytes.fromhex(doc["prefix"]) != PREFIX or doc["max_len"] != MAX_LEN:
        sys.exit("prefix or size limit differs from the spec")
    failures = 0
    for v in doc["vectors"]:
        try:
            seed = bytes.fromhex(v["identity_seed"])
            f = dict(v["fields"])
            f["identity_public"] = bytes.fromhex(f["identity_public"])
            if public_key(seed) != f["identity_public"]:
                raise AssertionError("public key differs from the seed's")
            if hashlib.sha256(f["identity_public"]).hexdigest() \
                    != v["node_id"]:
                raise AssertionError("node ID is not SHA-256 of the key")
            if signed_bytes(f).hex() != v["signed_bytes"]:
                raise AssertionError("signed bytes differ")
            try:
                got, node_id, sig = judge(bytes.fromhex(v["cbor"]),
                                          v["check"])
                verdict = "YZ_OK"
                if got != f or node_id.hex() != v["node_id"] \
                        or sig.hex() != v["signature"]:
                    raise AssertionError("decoded fields differ")
            except Refused as r:
                verdict = r.code
            if verdict != v["result"]:
                raise AssertionError("verdict %s, vector says %s"
                                     % (verdict, v["result"]))
            print("ok   %s (%s)" % (v["name"], verdict))
        except (AssertionError, KeyError, ValueError) as e:
            failures += 1
            print("FAIL %s: %s" % (v.get("name"), e))
    print("%d vectors, %d failed (Ed25519: %s)"
          % (len(doc["vectors"]), failures, ED25519))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
