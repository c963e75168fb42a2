/*
 * The strict pre-check every yz CBOR decoder runs before libcbor sees the
 * input (TOOLCHAIN.md 3.1-3.6): a streaming walk over the item heads that
 * allocates nothing and enforces, in one pass,
 *   - every declared length fits in what is left of the input (so cbor_load
 *     cannot pre-allocate from a lying header),
 *   - exactly one top-level item (no trailing bytes),
 *   - the deterministic encoding of RFC 8949 section 4.2.1: minimal-width
 *     heads, definite lengths only, map keys in strictly increasing bytewise
 *     order of their encodings (hence no duplicate keys),
 *   - no floats, tags or simple values other than false/true/null,
 *   - text strings are valid UTF-8,
 *   - nesting at most YZ_WIRE_MAX_DEPTH.
 */
#include <string.h>

#include "yz/wire.h"

size_t yz_wire_utf8_valid_prefix(const uint8_t *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (len - i - 1 < n)
      return i;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += n + 1;
  }
  return len;
}

bool yz_wire_utf8_valid(const uint8_t *s, size_t len)
{
  return yz_wire_utf8_valid_prefix(s, len) == len;
}

struct frame {
  bool map;
  size_t left;      /* items still expected (2 per map pair) */
  size_t idx;       /* items seen */
  size_t key_start; /* offset of the current key */
  size_t prev_start, prev_len;
  bool have_prev;
};

static int fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

/* Keys compare as their encoded bytes, lexicographically (RFC 8949 4.2.1). */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                   size_t blen)
{
  size_t m = alen < blen ? alen : blen;
  int c = memcmp(a, b, m);
  if (c)
    return c;
  return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

int yz_wire_check(const uint8_t *in, size_t len, size_t max_len,
                  const char **reason)
{
  struct frame st[YZ_WIRE_MAX_DEPTH];
  size_t depth = 0, off = 0;
  bool done = false;

  if (!in && len)
    return fail(reason, "no input", YZ_E_INVAL);
  if (len > max_len)
    return fail(reason, "CBOR input longer than allowed", YZ_E_TOO_LARGE);
  if (len == 0)
    return fail(reason, "empty CBOR input", YZ_E_TRUNCATED);

  while (off < len) {
    if (done)
      return fail(reason, "trailing bytes after the CBOR item", YZ_E_TRAILING);
    size_t head = off;
    uint8_t ib = in[off++];
    uint8_t major = ib >> 5, ai = ib & 0x1f;
    uint64_t arg = ai;
    if (ai >= 28) {
      /* 28-30 reserved; 31 indefinite length or break: not deterministic */
      return fail(reason, "indefinite length or reserved CBOR head",
                  YZ_E_MALFORMED);
    }
    if (ai >= 24) {
      size_t w = (size_t)1 << (ai - 24);
      if (len - off < w)
        return fail(reason, "CBOR head truncated", YZ_E_TRUNCATED);
      arg = 0;
      for (size_t k = 0; k < w; k++)
        arg = (arg << 8) | in[off + k];
      off += w;
      if (major == 7) {
        /* ai 24: one-byte simple value; 25-27: floats. */
        return fail(reason, ai == 24 ? "CBOR simple value not allowed"
                                     : "CBOR floats not allowed",
                    YZ_E_MALFORMED);
      }
      static const uint64_t minv[4] = {24, 0x100, 0x10000, 0x100000000ull};
      if (arg < minv[ai - 24])
        return fail(reason, "CBOR head not minimal width", YZ_E_MALFORMED);
    }
    if (depth && st[depth - 1].map && st[depth - 1].idx % 2 == 0)
      st[depth - 1].key_start = head;

    bool container = false;
    size_t items = 0;
    switch (major) {
    case 0: /* uint */
    case 1: /* nint */
      break;
    case 2: /* bstr */
    case 3: /* tstr */
      if (arg > len - off)
        return fail(reason, "CBOR string longer than the input",
                    YZ_E_TRUNCATED);
      if (major == 3 && !yz_wire_utf8_valid(in + off, (size_t)arg))
        return fail(reason, "CBOR text string is not UTF-8", YZ_E_MALFORMED);
      off += (size_t)arg;
      break;
    case 4: /* array */
      if (arg > len - off)
        return fail(reason, "CBOR array longer than the input",
                    YZ_E_TRUNCATED);
      items = (size_t)arg;
      container = true;
      break;
    case 5: /* map */
      if (arg > (len - off) / 2)
        return fail(reason, "CBOR map longer than the input", YZ_E_TRUNCATED);
      items = (size_t)arg * 2;
      container = true;
      break;
    case 6:
      return fail(reason, "CBOR tags not allowed", YZ_E_MALFORMED);
    default: /* 7: simple values 0..23 */
      if (arg < 20 || arg > 22)
        return fail(reason, "CBOR simple value not allowed", YZ_E_MALFORMED);
      break;
    }

    if (container && items > 0) {
      if (depth == YZ_WIRE_MAX_DEPTH)
        return fail(reason, "CBOR nested too deeply", YZ_E_TOO_DEEP);
      st[depth++] = (struct frame){.map = major == 5, .left = items};
      continue;
    }
    /* One item completed at off; completing may close containers. */
    for (;;) {
      if (depth == 0) {
        done = true;
        break;
      }
      struct frame *f = &st[depth - 1];
      if (f->map && f->idx % 2 == 0) {
        size_t klen = off - f->key_start;
        if (f->have_prev &&
            key_cmp(in + f->prev_start, f->prev_len, in + f->key_start,
                    klen) >= 0) {
          return key_cmp(in + f->prev_start, f->prev_len, in + f->key_start,
                         klen) == 0
                     ? fail(reason, "duplicate CBOR map key", YZ_E_DUPLICATE)
                     : fail(reason, "CBOR map keys not in canonical order",
                            YZ_E_MALFORMED);
        }
        f->prev_start = f->key_start;
        f->prev_len = klen;
        f->have_prev = true;
      }
      f->idx++;
      if (--f->left > 0)
        break;
      depth--; /* the container is complete: it is an item of its parent */
    }
  }
  if (!done)
    return fail(reason, "CBOR item truncated", YZ_E_TRUNCATED);
  return 0;
}
