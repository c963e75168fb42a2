#!/usr/bin/python3
"""Check that check_yz_vectors.py notices changes to the recorded behaviour.

Usage: mutate_yz_vectors.py CHECKER FILE

Each mutation below changes one thing in one vector of FILE (an event, a
close code, a channel binding, a result, a configuration value, ...); the
changed vector is run through CHECKER's run() and must fail. The
unchanged vector must pass first. Exit 0 only if every mutation is
caught.

Only /usr/bin/python3 can import dissononce and cbor2 (TOOLCHAIN.md 7).
"""
import copy
import importlib.util
import json
import sys


def ev(v, step, side, event, n=0):
    """The n-th event of a side and kind in a step (-1: the handshake)."""
    lst = v["handshake_events"] if step < 0 else v["results"][step]["events"]
    hits = [e for e in lst if e["side"] == side and e["event"] == event]
    return hits[n]


def last_step(v):
    return len(v["steps"]) - 1


def flip_hex(h):
    return ("1" if h[0] == "0" else "0") + h[1:]


def setk(d, k, x):
    d[k] = x


# (vector, what, function of the vector)
MUTATIONS = [
    ("basic", "channel binding of the initiator's up event",
     lambda v: setk(ev(v, -1, "initiator", "up"), "channel_binding",
                    flip_hex(ev(v, -1, "initiator", "up")["channel_binding"]))),
    ("basic", "peer node ID of the responder's up event",
     lambda v: setk(ev(v, -1, "responder", "up"), "peer_node_id",
                    flip_hex(ev(v, -1, "responder", "up")["peer_node_id"]))),
    ("basic", "handshake hash",
     lambda v: setk(v, "handshake_hash", flip_hex(v["handshake_hash"]))),
    ("basic", "close code of the closing side",
     lambda v: setk(ev(v, last_step(v), "responder", "closed"), "code", 4097)),
    ("basic", "close code at the receiving side",
     lambda v: setk(ev(v, last_step(v), "initiator", "closed"), "code", 0)),
    ("basic", "remote flag of a close",
     lambda v: setk(ev(v, last_step(v), "initiator", "closed"), "remote",
                    False)),
    ("basic", "error of a received close",
     lambda v: setk(ev(v, last_step(v), "initiator", "closed"), "error",
                    "YZ_E_CLOSED")),
    ("basic", "close text",
     lambda v: setk(ev(v, last_step(v), "initiator", "closed"), "text",
                    "bye!")),
    ("basic", "payload of a message event",
     lambda v: setk(ev(v, 0, "responder", "message"), "payload", "00")),
    ("basic", "a message event removed",
     lambda v: v["results"][1]["events"].clear()),
    ("basic", "an event added",
     lambda v: v["results"][0]["events"].append(
         copy.deepcopy(v["results"][0]["events"][0]))),
    ("basic", "the side of an event",
     lambda v: setk(v["results"][0]["events"][0], "side", "initiator")),
    ("basic", "a step's result",
     lambda v: setk(v["results"][0], "result", "YZ_E_CLOSED")),
    ("basic", "rekey_after_messages (no REKEY due then)",
     lambda v: setk(v["config"], "rekey_after_messages", 4)),
    ("basic", "ping_idle_ms (no PING due then)",
     lambda v: setk(v["config"], "ping_idle_ms", 20000)),
    ("peer_id_mismatch", "close code of PEER_ID_MISMATCH",
     lambda v: setk(ev(v, -1, "initiator", "closed"), "code", 7)),
    ("peer_id_mismatch", "error of PEER_ID_MISMATCH",
     lambda v: setk(ev(v, -1, "initiator", "closed"), "error",
                    "YZ_E_BAD_SIGNATURE")),
    ("peer_id_mismatch", "the dial pinned to the right node",
     lambda v: setk(v, "initiator_expects", v["responder_public"]["node_id"])),
    ("unpinned", "the unpinned dial pinned elsewhere",
     lambda v: setk(v, "initiator_expects", "00" * 32)),
    ("error_unknown_frame", "PROTOCOL close code",
     lambda v: setk(ev(v, 0, "initiator", "closed"), "code", 4)),
    ("error_unknown_frame", "PROTOCOL close error",
     lambda v: setk(ev(v, 0, "initiator", "closed"), "error",
                    "YZ_E_DECRYPT")),
    ("error_too_large", "TOO_LARGE close code",
     lambda v: setk(ev(v, 1, "initiator", "closed"), "code", 2)),
    ("error_too_large", "result of a send over the maximum",
     lambda v: setk(v["results"][0], "result", "YZ_OK")),
    ("error_decrypt", "DECRYPT close code",
     lambda v: setk(ev(v, 0, "responder", "closed"), "code", 2)),
    ("error_handshake_timeout", "handshake timeout event removed",
     lambda v: v["results"][1]["events"].clear()),
    ("error_handshake_timeout", "handshake timeout code",
     lambda v: setk(ev(v, 2, "responder", "closed"), "code", 0)),
    ("missed_pongs", "missed-pong TIMEOUT code",
     lambda v: setk(ev(v, 3, "initiator", "closed"), "code", 0)),
    ("missed_pongs", "max_missed_pongs",
     lambda v: setk(v["config"], "max_missed_pongs", 3)),
    ("error_nonce_limit", "NONCE_EXHAUSTED code",
     lambda v: setk(ev(v, 4, "initiator", "closed"), "code", 9)),
    ("error_nonce_limit", "the nonce limit",
     lambda v: setk(v["config"], "nonce_limit", 7)),
    ("error_identity_message2", "IDENTITY code",
     lambda v: setk(ev(v, -1, "initiator", "closed"), "code", 8)),
    ("error_identity_message3", "IDENTITY error",
     lambda v: setk(ev(v, -1, "responder", "closed"), "error",
                    "YZ_E_TIMEOUT")),
    ("error_identity_message3", "the proof made valid again",
     lambda v: setk(v["initiator"], "corrupt_proof", False)),
    ("error_internal", "INTERNAL close removed",
     lambda v: v["results"][0]["events"].clear()),
    ("close_text_long", "close text not cut",
     lambda v: setk(ev(v, 0, "initiator", "closed"), "text",
                    v["steps"][0]["text"])),
    ("node_messages", "node message id",
     lambda v: setk(ev(v, 1, "responder", "message")["node"], "id", 43)),
    ("node_messages", "node error code",
     lambda v: setk(ev(v, 4, "initiator", "message")["node"], "code", 2)),
    ("node_messages", "an invalid node message read as valid",
     lambda v: setk(ev(v, 5, "responder", "message"), "node",
                    {"kind": "error", "protocol": 1, "body": ""})),
    ("control_between_fragments", "the reassembled message",
     lambda v: setk(ev(v, 2, "initiator", "message"), "payload",
                    "0102030405060708090b")),
    ("duplicate_cross_dial", "the survivor of a cross dial",
     lambda v: setk(v["second_link_result"], "survivor", "second")),
    ("duplicate_same_dialer", "the survivor of two dials by one node",
     lambda v: setk(v["second_link_result"], "survivor", "first")),
    ("duplicate_same_dialer", "the second link's channel binding",
     lambda v: setk(v["second_link_result"]["handshake_events"][0],
                    "channel_binding", flip_hex(
                        v["second_link_result"]["handshake_hash"]))),
    ("duplicate_same_dialer", "the second link's dialer",
     lambda v: setk(v["second_link"], "dialer", "responder")),
    ("rekey_by_time", "rekey_after_ms",
     lambda v: setk(v["config"], "rekey_after_ms", 1001)),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("checker", sys.argv[1])
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    with open(sys.argv[2]) as fh:
        doc = json.load(fh)
    factory = checker.NoiseProtocolFactory()
    by_name = {v["name"]: v for v in doc["vectors"]}
    missed = 0
    for name, what, mutate in MUTATIONS:
        if name not in by_name:
            print("MISSING vector %s (%s)" % (name, what))
            missed += 1
            continue
        v = copy.deepcopy(by_name[name])
        try:
            checker.run(doc, v, factory)
        except Exception as e:
            print("BROKEN %s: the unchanged vector fails: %s" % (name, e))
            missed += 1
            continue
        mutate(v)
        try:
            checker.run(doc, v, factory)
        except Exception as e:
            print("caught  %s: %s (%s)" % (name, what, str(e)[:70]))
            continue
        print("MISSED  %s: %s" % (name, what))
        missed += 1
    print("%d mutations, %d missed" % (len(MUTATIONS), missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
