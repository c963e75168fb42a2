"""A strict deterministic-CBOR reader for the independent vector checkers.

Written from docs/protocol.md ("Encoding": definite lengths, shortest
heads, no tags, no floats, map keys in canonical order without
duplicates, bounded depth), independently of yz's C decoders; shared by
check_yz_dht_msg_vectors.py and check_yz_pubsub_vectors.py.
"""


class Refused(Exception):
    def __init__(self, code, why):
        super().__init__(why)
        self.code = code


MAX_DEPTH = 8
MIN_FOR_AI = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}


class Neg(int):
    """A negative integer (CBOR major type 1)."""


class Pairs(list):
    """A map, as its (key, value) pairs in encoded order."""


def read_item(b, off, depth):
    """One strictly canonical item at b[off:]: (value, next offset)."""
    if off >= len(b):
        raise Refused("TRUNCATED", "item truncated")
    ib = b[off]
    off += 1
    major, ai = ib >> 5, ib & 0x1F
    if ai >= 28:
        raise Refused("MALFORMED", "indefinite length or reserved head")
    arg = ai
    if ai >= 24:
        w = 1 << (ai - 24)
        if len(b) - off < w:
            raise Refused("TRUNCATED", "head truncated")
        arg = int.from_bytes(b[off:off + w], "big")
        off += w
        if major == 7:
            raise Refused("MALFORMED", "float or simple value")
        if arg < MIN_FOR_AI[ai]:
            raise Refused("MALFORMED", "head not minimal")
    if major == 0:
        return arg, off
    if major == 1:
        return Neg(-1 - arg), off
    if major in (2, 3):
        if arg > len(b) - off:
            raise Refused("TRUNCATED", "string longer than the input")
        s = bytes(b[off:off + arg])
        off += arg
        if major == 3:
            try:
                s = s.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise Refused("MALFORMED", "text not UTF-8")
        return s, off
    if major == 4:
        if arg > len(b) - off:
            raise Refused("TRUNCATED", "array longer than the input")
        if arg and depth == MAX_DEPTH:
            raise Refused("TOO_DEEP", "nested too deeply")
        out = []
        for _ in range(arg):
            v, off = read_item(b, off, depth + 1)
            out.append(v)
        return out, off
    if major == 5:
        if arg > (len(b) - off) // 2:
            raise Refused("TRUNCATED", "map longer than the input")
        if arg and depth == MAX_DEPTH:
            raise Refused("TOO_DEEP", "nested too deeply")
        pairs, prev = [], None
        for _ in range(arg):
            kstart = off
            k, off = read_item(b, off, depth + 1)
            kb = bytes(b[kstart:off])
            if prev is not None and kb == prev:
                raise Refused("DUPLICATE", "duplicate key")
            if prev is not None and kb < prev:
                raise Refused("MALFORMED", "keys not in canonical order")
            prev = kb
            v, off = read_item(b, off, depth + 1)
            pairs.append((k, v))
        return Pairs(pairs), off
    if major == 6:
        raise Refused("MALFORMED", "tag")
    if arg == 20:
        return False, off
    if arg == 21:
        return True, off
    if arg == 22:
        return None, off
    raise Refused("MALFORMED", "simple value")


def read_strict(b, max_len=None):
    if max_len is not None and len(b) > max_len:
        raise Refused("TOO_LARGE", "longer than the limit")
    if len(b) == 0:
        raise Refused("TRUNCATED", "empty")
    v, off = read_item(b, 0, 0)
    if off != len(b):
        raise Refused("TRAILING", "trailing bytes")
    return v
