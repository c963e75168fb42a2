#!/usr/bin/python3
"""Check the PubSub vectors independently of yz.

Usage: check_yz_pubsub_vectors.py FILE

FILE is tests/vectors/yz-pubsub-v1.json (docs/protocol.md, "PubSub").
From the spec alone, with hashlib, PyNaCl and cbor2:
  - topics: SHA-256("yz pubsub topic v1" 00 || name) for names of 1..255
    bytes of UTF-8; other names are refused (YZ_E_INVAL);
  - messages: the 141 signed bytes built field by field, the ID (their
    SHA-256), the author key from the seed and the Ed25519 signature
    (deterministic, so equal bytes), which verifies;
  - checks: the receiver's order (too large, expired, expiry too far, bad
    signature) on each vector's message;
  - RPCs: a strict deterministic-CBOR reader and a model of the RPC rules
    (section "Rules") give the vector's result; an accepted RPC's fields
    are the vector's fields, and cbor2 re-encodes it canonically to the
    same bytes.

Only /usr/bin/python3 can import cbor2 and nacl (TOOLCHAIN.md 7).
"""
import hashlib
import json
import struct
import sys

import cbor2
import nacl.exceptions
import nacl.signing


from strict_cbor import Pairs, Refused, read_strict  # noqa: E402


def is_uint(v):
    return type(v) is int and v >= 0


def is_array(v):
    return isinstance(v, list) and not isinstance(v, Pairs)


def b32(v):
    return isinstance(v, bytes) and len(v) == 32


# ---- topics and messages (sections "Topics", "Signed bytes") -------------

def topic_hash(name):
    if len(name) == 0 or len(name) > 255:
        raise Refused("INVAL", "name not 1..255 bytes")
    try:
        name.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Refused("INVAL", "name not UTF-8")
    return hashlib.sha256(b"yz pubsub topic v1\x00" + name).digest()


def signed_bytes(topic, author, seq, expiry, epoch, data):
    return (b"yz pubsub message v1\x00" + topic + author +
            struct.pack(">QQQ", seq, expiry, epoch) +
            hashlib.sha256(data).digest())


def check_message(m, now, max_lifetime, max_data):
    """The receiver's order of docs/protocol.md "Receiving a message"."""
    if len(m["data"]) > max_data:
        return "TOO_LARGE"
    if m["expiry"] <= now:
        return "EXPIRED"
    if m["expiry"] - now > max_lifetime:
        return "EXPIRY_TOO_FAR"
    sb = signed_bytes(m["topic"], m["author"], m["seq"], m["expiry"],
                      m["epoch"], m["data"])
    try:
        nacl.signing.VerifyKey(m["author"]).verify(sb, m["signature"])
    except (nacl.exceptions.BadSignatureError, ValueError):
        return "BAD_SIGNATURE"
    return "OK"


# ---- the RPC model (sections "RPC", "Limits", "Rules") --------------------

RKEYS = {1: "subscribe", 2: "unsubscribe", 3: "publish", 4: "graft",
         5: "prune", 6: "ihave", 7: "iwant", 8: "idontwant"}
SETS = {"subscribe": "max_topics", "unsubscribe": "max_topics",
        "graft": "max_topics", "iwant": "max_ids", "idontwant": "max_ids"}


def array(v, limit, what):
    if not is_array(v):
        raise Refused("MALFORMED", what + " not an array")
    if len(v) == 0:
        raise Refused("MALFORMED", "empty " + what)
    if len(v) > limit:
        raise Refused("LIMIT", "too many " + what)
    return v


def a_set(v, limit, what):
    array(v, limit, what)
    if not all(b32(x) for x in v):
        raise Refused("MALFORMED", what + ": an item not 32 bytes")
    return v


def set_order(v):
    for a, b in zip(v, v[1:]):
        if a == b:
            raise Refused("DUPLICATE", "an item twice")
        if a > b:
            raise Refused("MALFORMED", "set out of order")


def message(v):
    if not isinstance(v, Pairs):
        raise Refused("MALFORMED", "message not a map")
    m = dict(v)
    if any(not is_uint(k) or k < 1 or k > 7 for k in m):
        raise Refused("MALFORMED", "unknown message key")
    for k in (1, 2, 3, 4, 6, 7):
        if k not in m:
            raise Refused("MALFORMED", "message key %d missing" % k)
    if not (b32(m[1]) and b32(m[2]) and is_uint(m[3]) and is_uint(m[4]) and
            isinstance(m[6], bytes) and isinstance(m[7], bytes) and
            len(m[7]) == 64):
        raise Refused("MALFORMED", "message field of the wrong type")
    if 5 in m and (not is_uint(m[5]) or m[5] == 0):
        raise Refused("MALFORMED", "epoch 0 present")
    return {"topic": m[1], "author": m[2], "seq": m[3], "expiry": m[4],
            "epoch": m.get(5, 0), "data": m[6], "signature": m[7]}


def peer_ok(p):
    if not isinstance(p, bytes):
        raise Refused("MALFORMED", "peer record not a bstr")
    if len(p) == 0:
        raise Refused("MALFORMED", "empty peer record")
    if len(p) > 1024:
        raise Refused("TOO_LARGE", "peer record over 1024 bytes")
    try:
        if p[0] >> 5 != 5:
            raise Refused("MALFORMED", "")
        read_strict(p, 1024)
    except Refused:
        raise Refused("MALFORMED", "peer record not one canonical map")


def judge(b, lim):
    """The spec's verdict on b: the fields dict, or Refused."""
    top = read_strict(b, lim["max_rpc_len"])
    if not isinstance(top, Pairs):
        raise Refused("MALFORMED", "not a map")
    r = {}
    # First each key's shape and count limits, in key order ...
    for k, v in top:
        if not is_uint(k) or k not in RKEYS:
            raise Refused("MALFORMED", "unknown key")
        name = RKEYS[k]
        if name in SETS:
            r[name] = a_set(v, lim[SETS[name]], name)
        elif name == "publish":
            r[name] = [message(x) for x in
                       array(v, lim["max_messages"], name)]
        elif name == "prune":
            out = []
            for p in array(v, lim["max_topics"], name):
                if not isinstance(p, Pairs):
                    raise Refused("MALFORMED", "PRUNE not a map")
                d = dict(p)
                if any(k2 not in (1, 2, 3) for k2 in d) or 1 not in d or \
                        2 not in d:
                    raise Refused("MALFORMED", "PRUNE keys")
                if not b32(d[1]) or not is_uint(d[2]):
                    raise Refused("MALFORMED", "PRUNE field type")
                peers = array(d[3], lim["max_px"], "peers") if 3 in d else []
                out.append({"topic": d[1], "backoff": d[2], "peers": peers})
            if sum(len(p["peers"]) for p in out) > 256:
                raise Refused("LIMIT", "over 256 peer records")
            r[name] = out
        elif name == "ihave":
            out, ids = [], 0
            for h in array(v, lim["max_topics"], name):
                if not isinstance(h, Pairs) or [k2 for k2, _ in h] != [1, 2]:
                    raise Refused("MALFORMED", "IHAVE keys")
                d = dict(h)
                if not b32(d[1]):
                    raise Refused("MALFORMED", "IHAVE topic")
                a_set(d[2], lim["max_ids"] - ids, "IHAVE ids")
                ids += len(d[2])
                out.append({"topic": d[1], "ids": d[2]})
            r[name] = out
    # ... then the rules across items.
    if not r:
        raise Refused("MALFORMED", "empty RPC")
    for name in SETS:
        if name in r:
            set_order(r[name])
    if set(r.get("subscribe", [])) & set(r.get("unsubscribe", [])):
        raise Refused("DUPLICATE", "subscribed and unsubscribed")
    seen = set()
    for m in r.get("publish", []):
        if len(m["data"]) > lim["max_data"]:
            raise Refused("TOO_LARGE", "data over the limit")
        key = (m["topic"], m["author"], m["seq"])
        if key in seen:
            raise Refused("DUPLICATE", "a message twice")
        seen.add(key)
    for name in ("prune", "ihave"):
        set_order([e["topic"] for e in r.get(name, [])])
        for e in r.get(name, []):
            if name == "prune":
                for i, p in enumerate(e["peers"]):
                    peer_ok(p)
                    if p in e["peers"][:i]:
                        raise Refused("DUPLICATE", "a peer record twice")
            else:
                set_order(e["ids"])
    # The fields as the vector file writes them.
    f = {}
    for name, v in r.items():
        if name in SETS:
            f[name] = [x.hex() for x in v]
        elif name == "publish":
            f[name] = [{
                "topic": m["topic"].hex(), "author": m["author"].hex(),
                "seq": str(m["seq"]), "expiry": str(m["expiry"]),
                "epoch": str(m["epoch"]), "data": m["data"].hex(),
                "signature": m["signature"].hex(),
                "id": hashlib.sha256(signed_bytes(
                    m["topic"], m["author"], m["seq"], m["expiry"],
                    m["epoch"], m["data"])).hexdigest()} for m in v]
        elif name == "prune":
            f[name] = [{"topic": p["topic"].hex(),
                        "backoff": str(p["backoff"]),
                        "peers": [x.hex() for x in p["peers"]]} for p in v]
        else:
            f[name] = [{"topic": h["topic"].hex(),
                        "ids": [x.hex() for x in h["ids"]]} for h in v]
    return f


DEFAULTS = {"max_topics": 256, "max_ids": 5000, "max_messages": 64,
            "max_px": 16, "max_data": 262144, "max_rpc_len": 1048576,
            "max_peer_record_len": 1024, "max_lifetime": 600}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_yz_pubsub_vectors.py FILE")
    with open(sys.argv[1]) as fp:
        doc = json.load(fp)
    assert doc["format"] == "yz-pubsub-vectors-1"
    assert doc["protocol"] == 3
    assert doc["limits"] == DEFAULTS, doc["limits"]
    bad = 0

    def problem(text):
        nonlocal bad
        print(text)
        bad += 1

    for t in doc["topics"]:
        name = bytes.fromhex(t["name_hex"])
        try:
            h, got = topic_hash(name).hex(), "YZ_OK"
        except Refused as e:
            h, got = None, "YZ_E_" + e.code
        if got != t["result"] or h != t.get("hash"):
            problem("topic %r: %s %s, the vector %s %s" % (
                name, got, h, t["result"], t.get("hash")))

    msgs = []
    for m in doc["messages"]:
        sk = nacl.signing.SigningKey(bytes.fromhex(m["seed"]))
        topic = topic_hash(m["topic_name"].encode("utf-8"))
        author = bytes(sk.verify_key)
        seq, expiry, epoch = int(m["seq"]), int(m["expiry"]), int(m["epoch"])
        data = bytes.fromhex(m["data"])
        sb = signed_bytes(topic, author, seq, expiry, epoch, data)
        sig = sk.sign(sb).signature
        if (topic.hex(), author.hex(), sb.hex(),
                hashlib.sha256(sb).hexdigest(), sig.hex()) != (
                m["topic"], m["author"], m["signed_bytes"], m["id"],
                m["signature"]):
            problem("message %d differs from the spec" % m["index"])
        if len(sb) != 141:
            problem("signed bytes are not 141 bytes")
        msgs.append({"topic": topic, "author": author, "seq": seq,
                     "expiry": expiry, "epoch": epoch, "data": data,
                     "signature": sig})
    ids = [m["id"] for m in doc["messages"]]
    if len(set(ids)) != len(ids):
        problem("two messages share an ID")

    for c in doc["checks"]:
        m = dict(msgs[c["message"]])
        m["data"] = bytes.fromhex(c["data"])
        m["epoch"] = int(c["epoch"])
        m["signature"] = bytes.fromhex(c["signature"])
        got = check_message(m, int(c["now"]), int(c["max_lifetime"]),
                            int(c["max_data"]))
        if got != c["status"]:
            problem("check %s: %s, the vector %s" % (c["name"], got,
                                                     c["status"]))

    seen_results = set()
    for v in doc["rpcs"]:
        lim = dict(DEFAULTS)
        lim.update(v.get("limits", {}))
        b = bytes.fromhex(v["cbor"])
        why = ""
        try:
            fields, got = judge(b, lim), "YZ_OK"
        except Refused as e:
            fields, got, why = None, "YZ_E_" + e.code, str(e)
        seen_results.add(got)
        if got != v["result"]:
            problem("%s: the spec says %s (%s), the vector %s" % (
                v["name"], got, why, v["result"]))
            continue
        if fields is None:
            continue
        if fields != v["fields"]:
            problem("%s: fields %r, the vector %r" % (v["name"], fields,
                                                      v["fields"]))
        if cbor2.dumps(cbor2.loads(b), canonical=True) != b:
            problem("%s: cbor2 re-encodes it differently" % v["name"])
    for want in ("YZ_OK", "YZ_E_MALFORMED", "YZ_E_LIMIT", "YZ_E_TOO_LARGE",
                 "YZ_E_DUPLICATE", "YZ_E_TRAILING", "YZ_E_TRUNCATED"):
        if want not in seen_results:
            problem("no RPC vector with result %s" % want)
    if bad:
        sys.exit("%d problem(s)" % bad)
    print("check_yz_pubsub_vectors: %d topics, %d messages, %d checks and "
          "%d RPCs agree with the spec" % (
              len(doc["topics"]), len(doc["messages"]), len(doc["checks"]),
              len(doc["rpcs"])))


if __name__ == "__main__":
    main()
