#!/usr/bin/python3
"""Check the DHT message vectors independently of yz.

Usage: check_yz_dht_msg_vectors.py FILE

FILE is tests/vectors/yz-dht-msg-v1.json (docs/protocol.md, "DHT
messages"). Every vector's CBOR is judged from its bytes alone by a model
of the rules of the spec written here: a strict deterministic-CBOR reader
(section "Encoding"), then the key table, the per-type table of section
"Messages", the contact and record rules and the limits (the file's, or the
vector's own). The verdict must be the vector's result (YZ_OK or the YZ_E_
code); an accepted vector's fields must be the vector's fields, and cbor2
must load it and re-encode it canonically to the same bytes.

Only /usr/bin/python3 can import cbor2 (TOOLCHAIN.md 7).
"""
import json
import sys

import cbor2


from strict_cbor import Pairs, Refused, read_strict  # noqa: E402


def is_uint(v):
    return type(v) is int and v >= 0


# The tables of docs/protocol.md "DHT messages": key names, and per type the
# required and the optional keys.
KEYS = {1: "type", 2: "target", 3: "client", 4: "closer", 5: "record",
        6: "seq", 7: "cas", 8: "providers", 9: "provider", 10: "status",
        11: "reason", 12: "spread"}
SHAPES = {
    1: ({2}, {3}),
    2: ({2}, {3, 6}),
    3: ({2, 5}, {3, 7, 12}),
    4: ({2, 9}, {3}),
    5: ({2}, {3}),
    6: (set(), {3, 9}),
    11: ({4}, set()),
    12: ({4}, {5}),
    15: ({4, 8}, set()),
    16: (set(), {9}),
    20: ({10}, {6, 11}),
}
N_STATUS = 15


def contact_ok(c):
    if len(c) == 0:
        raise Refused("MALFORMED", "empty contact")
    if len(c) > 1024:
        raise Refused("TOO_LARGE", "contact over 1024 bytes")
    if c[0] >> 5 != 5:
        raise Refused("MALFORMED", "contact not a map")
    try:
        read_strict(c)
    except Refused:
        raise Refused("MALFORMED", "contact not canonical CBOR")


def list_ok(lst):
    for i, c in enumerate(lst):
        contact_ok(c)
        if c in lst[:i]:
            raise Refused("DUPLICATE", "contact twice")


def judge(b, lim):
    """The spec's verdict on b: the fields dict, or Refused."""
    top = read_strict(b)
    if not isinstance(top, Pairs):
        raise Refused("MALFORMED", "not a map")
    m = {}
    for k, v in top:
        if not is_uint(k):
            raise Refused("MALFORMED", "key not a uint")
        if k not in KEYS:
            raise Refused("MALFORMED", "unknown key")
        name = KEYS[k]
        if name in ("type", "seq", "cas", "status"):
            if not is_uint(v):
                raise Refused("MALFORMED", name + " not a uint")
            if name == "type" and v not in SHAPES:
                raise Refused("UNSUPPORTED", "unknown type")
        elif name == "target":
            if not isinstance(v, bytes) or len(v) != 32:
                raise Refused("MALFORMED", "target not 32 bytes")
        elif name in ("client", "spread"):
            if v is not True:
                raise Refused("MALFORMED", name + " not true")
        elif name in ("closer", "providers"):
            limit = lim["max_contacts" if name == "closer"
                        else "max_providers"]
            if not isinstance(v, list) or isinstance(v, Pairs):
                raise Refused("MALFORMED", name + " not an array")
            if len(v) > limit:
                raise Refused("LIMIT", "too many " + name)
            if not all(isinstance(c, bytes) for c in v):
                raise Refused("MALFORMED", "contact not a bstr")
        elif name in ("record", "provider"):
            if not isinstance(v, bytes):
                raise Refused("MALFORMED", name + " not a bstr")
        elif name == "reason":
            if not isinstance(v, str):
                raise Refused("MALFORMED", "reason not text")
            n = len(v.encode("utf-8"))
            if n == 0 or n > 128:
                raise Refused("MALFORMED", "reason not 1..128 bytes")
        m[k] = v
    if 1 not in m:
        raise Refused("MALFORMED", "no type")
    req, opt = SHAPES[m[1]]
    for k in range(2, 13):
        if k in req and k not in m:
            raise Refused("MALFORMED", KEYS[k] + " missing")
        if k in m and k not in req and k not in opt:
            raise Refused("MALFORMED", KEYS[k] + " not allowed")
    # HELLO: exactly one of client (3) and the sender's record (9).
    if m[1] == 6 and (3 in m) == (9 in m):
        raise Refused("MALFORMED", "HELLO needs exactly one of client, "
                      "provider")
    if 4 in m:
        list_ok(m[4])
    if 8 in m:
        list_ok(m[8])
    if 9 in m:
        contact_ok(m[9])
    if 5 in m:
        r = m[5]
        if len(r) == 0:
            raise Refused("MALFORMED", "empty record")
        if len(r) > lim["max_record_len"]:
            raise Refused("TOO_LARGE", "record over the limit")
        try:
            read_strict(r)
        except Refused:
            raise Refused("MALFORMED", "record not one canonical item")
    if 10 in m and m[10] >= N_STATUS:
        raise Refused("MALFORMED", "unknown status")
    f = {}
    for k, v in m.items():
        name = KEYS[k]
        if isinstance(v, bytes):
            v = v.hex()
        elif isinstance(v, list):
            v = [c.hex() for c in v]
        elif name in ("seq", "cas"):
            v = str(v)
        f[name] = v
    return f


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_yz_dht_msg_vectors.py FILE")
    with open(sys.argv[1]) as fp:
        doc = json.load(fp)
    assert doc["format"] == "yz-dht-msg-vectors-1"
    assert doc["protocol"] == 2
    # The defaults of docs/protocol.md "DHT messages", "Limits".
    defaults = {"max_contacts": 20, "max_providers": 20,
                "max_record_len": 65536 + 1024, "max_contact_len": 1024,
                "max_reason_len": 128}
    assert doc["limits"] == defaults, doc["limits"]
    bad = 0
    seen_results = set()
    for v in doc["vectors"]:
        lim = dict(defaults)
        lim.update(v.get("limits", {}))
        b = bytes.fromhex(v["cbor"])
        try:
            fields, got = judge(b, lim), "YZ_OK"
        except Refused as e:
            fields, got = None, "YZ_E_" + e.code
            why = str(e)
        seen_results.add(got)
        if got != v["result"]:
            print("%s: the spec says %s (%s), the vector %s" % (
                v["name"], got, why if fields is None else "", v["result"]))
            bad += 1
            continue
        if fields is None:
            continue
        if fields != v["fields"]:
            print("%s: fields %r, the vector %r" % (
                v["name"], fields, v["fields"]))
            bad += 1
        obj = cbor2.loads(b)
        if cbor2.dumps(obj, canonical=True) != b:
            print("%s: cbor2 re-encodes it differently" % v["name"])
            bad += 1
        if sorted(KEYS[k] for k in obj) != sorted(fields):
            print("%s: cbor2 sees other keys" % v["name"])
            bad += 1
    # The file must exercise acceptance and every refusal code.
    for want in ("YZ_OK", "YZ_E_MALFORMED", "YZ_E_UNSUPPORTED",
                 "YZ_E_LIMIT", "YZ_E_TOO_LARGE", "YZ_E_DUPLICATE",
                 "YZ_E_TRAILING", "YZ_E_TRUNCATED"):
        if want not in seen_results:
            print("no vector with result %s" % want)
            bad += 1
    if bad:
        sys.exit("%d problem(s)" % bad)
    print("check_yz_dht_msg_vectors: %d vectors agree with the spec"
          % len(doc["vectors"]))


if __name__ == "__main__":
    main()
