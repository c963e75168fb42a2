#!/usr/bin/python3
"""Check the sealed value and encrypted topic vectors independently of yz.

Usage: check_yz_seal_vectors.py FILE

FILE is tests/vectors/yz-seal-v1.json (docs/protocol.md, "Sealed values and
encrypted topics"). Written from the spec, not from the C code, with PyNaCl
(Ed25519, X25519 conversion, crypto_box, sealed boxes, XChaCha20-Poly1305),
hashlib (BLAKE2b, SHA-256) and cbor2:
- each user's keys from its seed: Ed25519 and X25519 public keys, the name
  and value keys (libsodium's crypto_kdf: BLAKE2b with the subkey id as the
  salt's first 8 bytes, little-endian, and the context as personalisation);
- each sealed value is rebuilt byte for byte from its plaintext and its
  recorded random draws (nonce; content key, ephemeral seeds of the boxes),
  the record rebuilt (canonical CBOR, Ed25519 over the signed bytes), and
  every user's reading of it derived from the spec (wrong key, not a
  recipient, or the plaintext);
- each tampered copy fails to authenticate under the spec's AD;
- the topic key record is rebuilt from its draws (epoch 1 to alice, bob,
  carol; epoch 2 after carol's removal to alice and bob; the owner's member
  list), the message keys derived, and each member's epochs found by trying
  the boxes;
- each message payload is rebuilt, and each reader's result follows from
  the epochs it holds.

Only /usr/bin/python3 can import cbor2 and nacl (TOOLCHAIN.md 7).
"""
import hashlib
import json
import struct
import sys

import cbor2
import nacl.bindings as nb
import nacl.exceptions

MAGIC = b"yzs\x00"
MUTABLE_PREFIX = b"yz dht mutable v1\x00"
SIGN_PREFIX = b"yz dht mutable record v1\x00"
BOX_LEN = 80


def h(s):
    return bytes.fromhex(s)


def kdf(key, subkey_id, ctx, n=32):
    """libsodium's crypto_kdf_derive_from_key (BLAKE2b)."""
    return hashlib.blake2b(b"", digest_size=n, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx.encode() + bytes(8)).digest()


def aead(key, nonce, pt, ad):
    return nb.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, nonce, key)


def aead_open(key, nonce, ct, ad):
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce,
                                                             key)
    except nacl.exceptions.CryptoError:
        return None


def box(m, x_pk, eph_seed):
    """crypto_box_seal with the ephemeral key pair from a seed."""
    epk, esk = nb.crypto_box_seed_keypair(eph_seed)
    nonce = hashlib.blake2b(epk + x_pk, digest_size=24).digest()
    return epk + nb.crypto_box(m, nonce, x_pk, esk)


def box_open(b, u):
    try:
        return nb.crypto_box_seal_open(b, u["x_pk"], u["x_sk"])
    except nacl.exceptions.CryptoError:
        return None



def user(v):
    seed = h(v["seed"])
    pk, sk = nb.crypto_sign_seed_keypair(seed)
    u = {
        "name": v["name"], "seed": seed, "pk": pk, "sk": sk,
        "x_pk": nb.crypto_sign_ed25519_pk_to_curve25519(pk),
        "x_sk": nb.crypto_sign_ed25519_sk_to_curve25519(sk),
        "nk": kdf(seed, 1, "yzsealnm"), "vk": kdf(seed, 1, "yzsealpv"),
    }
    assert u["pk"] == h(v["ed25519_public"]), "ed25519 public key"
    assert u["x_pk"] == h(v["x25519_public"]), "x25519 public key"
    assert u["nk"] == h(v["name_key"]), "name key"
    assert u["vk"] == h(v["value_key"]), "value key"
    return u


def header(kind):
    return MAGIC + bytes([1, kind])


def rec_key(pk, salt):
    return hashlib.sha256(MUTABLE_PREFIX + pk + salt).digest()


def ad_rec(key, seq):
    return key + struct.pack(">Q", seq)


def record(u, salt, seq, expiry, value):
    sb = (SIGN_PREFIX + u["pk"] + bytes([len(salt)]) + salt +
          struct.pack(">QQ", seq, expiry) + hashlib.sha256(value).digest())
    sig = nb.crypto_sign(sb, u["sk"])[:64]
    m = {1: 2, 2: value, 3: expiry, 4: u["pk"], 5: salt, 6: seq, 7: sig}
    return cbor2.dumps(m, canonical=True)


def read_value(reader, owner_pk, key, seq, v):
    """docs/protocol.md: what reader gets from a sealed value: ("ok", pt)
    or the error's name."""
    if v[:4] != MAGIC:
        return "YZ_E_SEAL_NOT_SEALED", None
    if v[4] != 1 or v[5] not in (1, 2, 3):
        return "YZ_E_SEAL_VERSION", None
    if v[5] == 3:
        return "YZ_E_SEAL_NOT_SEALED", None
    if v[5] == 1:
        if len(v) < 6 + 24 + 1 + 16:
            return "YZ_E_MALFORMED", None
        if owner_pk != reader["pk"]:
            return "YZ_E_SEAL_WRONG_KEY", None
        pt = aead_open(reader["vk"], v[6:30], v[30:],
                       ad_rec(key, seq) + v[:6])
        return ("ok", pt) if pt is not None else ("YZ_E_SEAL_TAMPERED", None)
    r = v[6]
    if r == 0 or r > 64 or len(v) < 6 + 1 + 80 * r + 24 + 1 + 32 * r + 1 + 16:
        return "YZ_E_MALFORMED", None
    flen = 7 + 80 * r
    ck = None
    for i in range(r):
        ck = box_open(v[7 + 80 * i:7 + 80 * (i + 1)], reader)
        if ck is not None:
            break
    if ck is None:
        return "YZ_E_SEAL_NOT_RECIPIENT", None
    inner = aead_open(ck, v[flen:flen + 24], v[flen + 24:],
                      ad_rec(key, seq) + v[:flen])
    if inner is None:
        return "YZ_E_SEAL_TAMPERED", None
    if inner[0] != r or len(inner) < 1 + 32 * r + 1:
        return "YZ_E_MALFORMED", None
    return "ok", inner[1 + 32 * r:]


def check_value(vec, users, by_name):
    owner = by_name[vec["owner"]]
    name = vec["value_name"].encode()
    salt = hashlib.blake2b(name, digest_size=32, key=owner["nk"]).digest()
    assert salt == h(vec["salt"]), vec["name"] + ": salt"
    key = rec_key(owner["pk"], salt)
    assert key == h(vec["key"]), vec["name"] + ": DHT key"
    seq, pt = vec["seq"], h(vec["plaintext"])
    draws = [h(x) for x in vec["random"]]
    ad = ad_rec(key, seq)
    if vec["kind"] == "private":
        assert len(draws) == 1
        nonce = draws[0]
        v = header(1) + nonce + aead(owner["vk"], nonce, pt, ad + header(1))
    else:
        readers = [owner["pk"]]
        for n in vec["recipients"]:
            if by_name[n]["pk"] not in readers:
                readers.append(by_name[n]["pk"])
        r = len(readers)
        assert len(draws) == 1 + r + 1, "draws: content key, boxes, nonce"
        ck, seeds, nonce = draws[0], draws[1:1 + r], draws[1 + r]
        frame = header(2) + bytes([r])
        for pk, s in zip(readers, seeds):
            frame += box(ck, nb.crypto_sign_ed25519_pk_to_curve25519(pk), s)
        inner = bytes([r]) + b"".join(readers) + pt
        v = frame + nonce + aead(ck, nonce, inner, ad + frame)
    assert v == h(vec["value"]), vec["name"] + ": value"
    assert record(owner, salt, seq, vec["expiry"], v) == h(vec["record"]), \
        vec["name"] + ": record"
    for u in users:
        st, got = read_value(u, owner["pk"], key, seq, v)
        assert st == vec["readers"][u["name"]], \
            "%s: %s reads %s" % (vec["name"], u["name"], st)
        assert st != "ok" or got == pt
    return key


def check_tampered(t, values, by_name):
    src = values[t["of"]]
    owner = by_name[src["owner"]]
    st, _ = read_value(by_name[t["reader"]], owner["pk"], h(t["key"]),
                       t["seq"], h(t["value"]))
    assert st == t["error"] == "YZ_E_SEAL_TAMPERED", t["change"]


def check_topic(tv, users, by_name):
    owner = by_name[tv["owner"]]
    topic = hashlib.sha256(b"yz pubsub topic v1\x00" +
                           tv["topic_name"].encode()).digest()
    assert topic == h(tv["topic"]), "topic hash"
    key = rec_key(owner["pk"], topic)
    assert key == h(tv["key"]), "topic record key"
    d = [h(x) for x in tv["random"]]
    members1 = [owner] + [by_name[n] for n in tv["created_with"]]
    members2 = [m for m in members1 if m["name"] != tv["then_removed"]]
    # create: TK1, one box each; remove: TK2, one box each; the nonce.
    assert len(d) == 1 + len(members1) + 1 + len(members2) + 1
    tk1, d = d[0], d[1:]
    boxes1, d = [box(tk1, m["x_pk"], d[i]) for i, m in
                 enumerate(members1)], d[len(members1):]
    tk2, d = d[0], d[1:]
    boxes2, d = [box(tk2, m["x_pk"], d[i]) for i, m in
                 enumerate(members2)], d[len(members2):]
    nonce = d[0]
    frame = header(3) + bytes([2])
    frame += struct.pack(">Q", 2) + bytes([len(boxes2)]) + b"".join(boxes2)
    frame += struct.pack(">Q", 1) + bytes([len(boxes1)]) + b"".join(boxes1)
    mlist = bytes([len(members2)]) + b"".join(m["pk"] for m in members2)
    v = frame + nonce + aead(owner["vk"], nonce, mlist,
                             ad_rec(key, tv["seq"]) + frame)
    assert v == h(tv["value"]), "topic key record value"
    assert record(owner, topic, tv["seq"], tv["expiry"], v) == \
        h(tv["record"]), "topic key record"
    mks = {2: kdf(tk2, 2, "yzsealtp"), 1: kdf(tk1, 1, "yzsealtp")}
    for e in tv["epochs"]:
        tk = {1: tk1, 2: tk2}[e["epoch"]]
        assert tk == h(e["topic_key"]) and mks[e["epoch"]] == \
            h(e["message_key"]), "epoch %d keys" % e["epoch"]
    # Each member: the epochs whose boxes open; ok if the newest does.
    rings = {}
    for u in users:
        eps = [ep for ep, bs in ((2, boxes2), (1, boxes1))
               if any(box_open(b, u) is not None for b in bs)]
        st = "ok" if 2 in eps else "YZ_E_SEAL_NOT_RECIPIENT"
        want = tv["members"][u["name"]]
        assert want["status"] == st and want["epochs"] == eps, \
            "topic: member " + u["name"]
        rings[u["name"]] = eps
    return topic, mks, rings


def check_message(m, topic, mks, rings, by_name):
    author = by_name[m["author"]]
    e, pt = m["epoch"], h(m["plaintext"])
    assert h(m["topic"]) == topic
    draws = [h(x) for x in m["random"]]
    assert len(draws) == 1
    nonce = draws[0]
    head = bytes([1]) + struct.pack(">Q", e)
    p = head + nonce + aead(mks[e], nonce, pt, topic + author["pk"] + head)
    assert p == h(m["payload"]), "message payload"
    # All readers are within the window at the vectors' time: an epoch
    # held is readable.
    for name, eps in rings.items():
        st = "ok" if e in eps else "YZ_E_SEAL_EPOCH"
        assert m["readers"][name] == st, "message: reader " + name


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    assert doc["version"] == 1 and doc["magic"] == MAGIC.hex()
    assert doc["contexts"] == {"name_key": "yzsealnm",
                               "value_key": "yzsealpv",
                               "message_key": "yzsealtp"}
    users = [user(u) for u in doc["users"]]
    by_name = {u["name"]: u for u in users}
    values = {v["name"]: v for v in doc["values"]}
    for v in doc["values"]:
        check_value(v, users, by_name)
    for t in doc["tampered"]:
        check_tampered(t, values, by_name)
    topic, mks, rings = check_topic(doc["topic"], users, by_name)
    for m in doc["messages"]:
        check_message(m, topic, mks, rings, by_name)
    print("%d sealed values, %d tampered copies, the topic key record and "
          "%d messages: independently checked" %
          (len(doc["values"]), len(doc["tampered"]), len(doc["messages"])))


if __name__ == "__main__":
    main()
