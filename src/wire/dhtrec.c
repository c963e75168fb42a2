/*
 * DHT records (docs/protocol.md "DHT records"): key derivations, the signed
 * byte string of a mutable record, canonical CBOR encoding, strict
 * decoding, and the store's checks and replacement rules (BEP 44's, with
 * yz's domain prefixes and statuses).
 *
 * The codec is written directly over the bytes rather than with libcbor:
 * yz_wire_check() has already proved the input one canonical item with
 * every length inside the input, so the decoder only walks seven heads and
 * can leave the value where it is (r->value points into the input; a
 * 64 KiB value is never copied).
 */
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "wire/cbor_write.h"
#include "yz/dht_wire.h"
#include "yz/dhtrec.h"
#include "yz/wire.h"

_Static_assert(sizeof YZ_DHTREC_IMMUTABLE_PREFIX ==
                   YZ_DHTREC_IMMUTABLE_PREFIX_LEN,
               "the prefix and its NUL are the domain prefix");
_Static_assert(sizeof YZ_DHTREC_MUTABLE_PREFIX == YZ_DHTREC_MUTABLE_PREFIX_LEN,
               "the prefix and its NUL are the domain prefix");
_Static_assert(sizeof YZ_DHTREC_SIGN_PREFIX == YZ_DHTREC_SIGN_PREFIX_LEN,
               "the prefix and its NUL are the domain prefix");
_Static_assert(YZ_DHTREC_KEY_LEN == crypto_hash_sha256_BYTES, "key size");
_Static_assert(YZ_DHTREC_SALT_MAX <= UINT8_MAX,
               "the salt length fits one byte of the signed bytes");
_Static_assert(YZ_DHTREC_VALUE_MAX_LIMIT <= UINT32_MAX,
               "a value head is at most 5 bytes");

static yz_dhtrec_status status_fail(const char **reason, const char *why,
                                    yz_dhtrec_status st)
{
  if (reason)
    *reason = why;
  return st;
}

static int fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

/* A store's refusal travels in a DHT STATUS message as it is. */
_Static_assert((int)YZ_DHTREC_MALFORMED == (int)YZ_DHT_ST_MALFORMED &&
                   (int)YZ_DHTREC_TOO_LARGE == (int)YZ_DHT_ST_TOO_LARGE &&
                   (int)YZ_DHTREC_BAD_SIGNATURE == (int)YZ_DHT_ST_BAD_SIGNATURE &&
                   (int)YZ_DHTREC_WRONG_KEY == (int)YZ_DHT_ST_WRONG_KEY &&
                   (int)YZ_DHTREC_EXPIRED == (int)YZ_DHT_ST_EXPIRED &&
                   (int)YZ_DHTREC_EXPIRY_TOO_FAR == (int)YZ_DHT_ST_EXPIRY_TOO_FAR &&
                   (int)YZ_DHTREC_SEQ_TOO_LOW == (int)YZ_DHT_ST_SEQ_TOO_LOW &&
                   (int)YZ_DHTREC_SEQ_CONFLICT == (int)YZ_DHT_ST_SEQ_CONFLICT &&
                   (int)YZ_DHTREC_CAS_MISMATCH == (int)YZ_DHT_ST_CAS_MISMATCH,
               "record statuses are the DHT message statuses");

const char *yz_dhtrec_status_name(int status)
{
  switch (status) {
  case YZ_DHTREC_OK:
    return "OK";
  case YZ_DHTREC_MALFORMED:
    return "MALFORMED";
  case YZ_DHTREC_TOO_LARGE:
    return "TOO_LARGE";
  case YZ_DHTREC_WRONG_KEY:
    return "WRONG_KEY";
  case YZ_DHTREC_BAD_SIGNATURE:
    return "BAD_SIGNATURE";
  case YZ_DHTREC_EXPIRED:
    return "EXPIRED";
  case YZ_DHTREC_EXPIRY_TOO_FAR:
    return "EXPIRY_TOO_FAR";
  case YZ_DHTREC_SEQ_TOO_LOW:
    return "SEQ_TOO_LOW";
  case YZ_DHTREC_SEQ_CONFLICT:
    return "SEQ_CONFLICT";
  case YZ_DHTREC_CAS_MISMATCH:
    return "CAS_MISMATCH";
  default:
    return "UNKNOWN";
  }
}

static size_t value_limit(size_t value_max)
{
  if (value_max == 0)
    return YZ_DHTREC_VALUE_MAX_DEFAULT;
  return value_max > YZ_DHTREC_VALUE_MAX_LIMIT ? YZ_DHTREC_VALUE_MAX_LIMIT
                                               : value_max;
}

/* ---- keys (docs/protocol.md "DHT records", "Keys") -------------------- */

void yz_dhtrec_immutable_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                             const uint8_t *value, size_t value_len)
{
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)YZ_DHTREC_IMMUTABLE_PREFIX,
                            YZ_DHTREC_IMMUTABLE_PREFIX_LEN); /* with 0x00 */
  if (value_len)
    crypto_hash_sha256_update(&st, value, value_len);
  crypto_hash_sha256_final(&st, key);
}

int yz_dhtrec_mutable_key(uint8_t key[YZ_DHTREC_KEY_LEN],
                          const uint8_t public_key[YZ_IDENTITY_PK_LEN],
                          const uint8_t *salt, size_t salt_len)
{
  if (!key || !public_key || salt_len > YZ_DHTREC_SALT_MAX ||
      (salt_len && !salt))
    return YZ_E_INVAL;
  /* The public key has a fixed length, so prefix || pk || salt is
   * unambiguous without a salt length. */
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)YZ_DHTREC_MUTABLE_PREFIX,
                            YZ_DHTREC_MUTABLE_PREFIX_LEN);
  crypto_hash_sha256_update(&st, public_key, YZ_IDENTITY_PK_LEN);
  if (salt_len)
    crypto_hash_sha256_update(&st, salt, salt_len);
  crypto_hash_sha256_final(&st, key);
  return 0;
}

static int derive(const yz_dhtrec *r, uint8_t key[YZ_DHTREC_KEY_LEN])
{
  if (r->kind == YZ_DHTREC_IMMUTABLE) {
    if (!r->value && r->value_len)
      return YZ_E_INVAL;
    yz_dhtrec_immutable_key(key, r->value, r->value_len);
    return 0;
  }
  if (r->kind == YZ_DHTREC_MUTABLE)
    return yz_dhtrec_mutable_key(key, r->public_key, r->salt, r->salt_len);
  return YZ_E_INVAL;
}

int yz_dhtrec_derive_key(yz_dhtrec *r)
{
  if (!r)
    return YZ_E_INVAL;
  return derive(r, r->key);
}

/* ---- signed bytes (docs/protocol.md "DHT records", "Signed bytes") ---- */

int yz_dhtrec_signed_bytes(const yz_dhtrec *r, uint8_t *out, size_t cap,
                           size_t *outlen)
{
  if (!r || !out || !outlen || r->kind != YZ_DHTREC_MUTABLE ||
      r->salt_len > YZ_DHTREC_SALT_MAX || !r->value || r->value_len == 0)
    return YZ_E_INVAL;
  size_t need = YZ_DHTREC_SIGN_PREFIX_LEN + YZ_IDENTITY_PK_LEN + 1 +
                r->salt_len + 8 + 8 + crypto_hash_sha256_BYTES;
  if (need > cap)
    return YZ_E_TOO_LARGE;
  size_t o = 0;
  memcpy(out, YZ_DHTREC_SIGN_PREFIX, YZ_DHTREC_SIGN_PREFIX_LEN);
  o += YZ_DHTREC_SIGN_PREFIX_LEN;
  memcpy(out + o, r->public_key, YZ_IDENTITY_PK_LEN);
  o += YZ_IDENTITY_PK_LEN;
  out[o++] = r->salt_len;
  memcpy(out + o, r->salt, r->salt_len);
  o += r->salt_len;
  yz__store64_be(out + o, r->seq);
  o += 8;
  yz__store64_be(out + o, r->expiry);
  o += 8;
  /* The value enters as its hash: the signed string stays short whatever
   * the value's size, and one hash function serves keys, node IDs and
   * this. */
  crypto_hash_sha256(out + o, r->value, r->value_len);
  o += crypto_hash_sha256_BYTES;
  *outlen = o;
  return 0;
}

/* Fields a writer must get right before signing; NULL or why not. */
static const char *mutable_invalid(const yz_dhtrec *r)
{
  if (r->kind != YZ_DHTREC_MUTABLE)
    return "not a mutable record";
  if (r->salt_len > YZ_DHTREC_SALT_MAX)
    return "salt over 64 bytes";
  if (!r->value || r->value_len == 0)
    return "no value (a value is 1 byte or more)";
  if (r->value_len > YZ_DHTREC_VALUE_MAX_LIMIT)
    return "value over 1 MiB";
  return NULL;
}

int yz_dhtrec_sign(yz_dhtrec *r, const yz_identity *id, const char **reason)
{
  if (!r || !id)
    return fail(reason, "no record or identity", YZ_E_INVAL);
  const char *why = mutable_invalid(r);
  if (why)
    return fail(reason, why, YZ_E_INVAL);
  memcpy(r->public_key, yz_identity_public_key(id), YZ_IDENTITY_PK_LEN);
  uint8_t sb[YZ_DHTREC_SIGNED_MAX_LEN];
  size_t n;
  if (yz_dhtrec_signed_bytes(r, sb, sizeof sb, &n) != 0 ||
      derive(r, r->key) != 0)
    return fail(reason, "record fields invalid", YZ_E_INVAL);
  yz_identity_sign(id, sb, n, r->signature);
  return 0;
}

int yz_dhtrec_sign_raw(yz_dhtrec *r, const uint8_t sk[YZ_IDENTITY_SK_LEN],
                       const char **reason)
{
  if (!r || !sk)
    return fail(reason, "no record or key", YZ_E_INVAL);
  const char *why = mutable_invalid(r);
  if (why)
    return fail(reason, why, YZ_E_INVAL);
  /* libsodium's secret key is seed || public key. */
  memcpy(r->public_key, sk + 32, YZ_IDENTITY_PK_LEN);
  uint8_t sb[YZ_DHTREC_SIGNED_MAX_LEN];
  size_t n;
  if (yz_dhtrec_signed_bytes(r, sb, sizeof sb, &n) != 0 ||
      derive(r, r->key) != 0)
    return fail(reason, "record fields invalid", YZ_E_INVAL);
  crypto_sign_ed25519_detached(r->signature, NULL, sb, n, sk);
  return 0;
}

/* ---- encoding (docs/protocol.md "DHT records", "Encoding") ------------ */

size_t yz_dhtrec_encoded_max(size_t value_max)
{
  return value_limit(value_max) + YZ_DHTREC_OVERHEAD_MAX;
}

/* Heads and byte strings are written with wire/cbor_write.h. */

int yz_dhtrec_encode(const yz_dhtrec *r, uint8_t *out, size_t cap,
                     size_t *outlen)
{
  if (!r || !out || !outlen || !r->value || r->value_len == 0 ||
      r->value_len > YZ_DHTREC_VALUE_MAX_LIMIT ||
      (r->kind != YZ_DHTREC_IMMUTABLE && r->kind != YZ_DHTREC_MUTABLE) ||
      r->salt_len > YZ_DHTREC_SALT_MAX)
    return YZ_E_INVAL;
  bool mut = r->kind == YZ_DHTREC_MUTABLE;
  struct wbuf b = {out, cap, 0, false};
  put_head(&b, 5, mut ? 7 : 3);
  put_head(&b, 0, YZ_DHTREC_MAP_KIND);
  put_head(&b, 0, r->kind);
  put_head(&b, 0, YZ_DHTREC_MAP_VALUE);
  put_bstr(&b, r->value, r->value_len);
  put_head(&b, 0, YZ_DHTREC_MAP_EXPIRY);
  put_head(&b, 0, r->expiry);
  if (mut) {
    put_head(&b, 0, YZ_DHTREC_MAP_PUBLIC_KEY);
    put_bstr(&b, r->public_key, YZ_IDENTITY_PK_LEN);
    put_head(&b, 0, YZ_DHTREC_MAP_SALT);
    put_bstr(&b, r->salt, r->salt_len);
    put_head(&b, 0, YZ_DHTREC_MAP_SEQ);
    put_head(&b, 0, r->seq);
    put_head(&b, 0, YZ_DHTREC_MAP_SIGNATURE);
    put_bstr(&b, r->signature, YZ_IDENTITY_SIG_LEN);
  }
  if (b.over)
    return YZ_E_TOO_LARGE;
  *outlen = b.n;
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t n, o;
} rbuf;

/*
 * One head. yz_wire_check() has passed, so the head and, for strings, the
 * content are inside the input and of the shortest form; the bounds are
 * checked again anyway, so this never reads out of the buffer whatever it
 * is given.
 */
static bool get_head(rbuf *b, uint8_t *major, uint64_t *v)
{
  if (b->o >= b->n)
    return false;
  uint8_t c = b->p[b->o++];
  *major = c >> 5;
  uint8_t ai = c & 0x1f;
  size_t w;
  if (ai < 24) {
    *v = ai;
    return true;
  }
  if (ai == 24)
    w = 1;
  else if (ai == 25)
    w = 2;
  else if (ai == 26)
    w = 4;
  else if (ai == 27)
    w = 8;
  else
    return false;
  if (b->n - b->o < w)
    return false;
  uint64_t x = 0;
  for (size_t i = 0; i < w; i++)
    x = (x << 8) | b->p[b->o + i];
  b->o += w;
  *v = x;
  return true;
}

static bool get_key(rbuf *b, uint64_t want)
{
  uint8_t m;
  uint64_t v;
  return get_head(b, &m, &v) && m == 0 && v == want;
}

static bool get_uint(rbuf *b, uint64_t *v)
{
  uint8_t m;
  return get_head(b, &m, v) && m == 0;
}

/* A byte string of min..max bytes, left in place. */
static bool get_bstr(rbuf *b, size_t min, size_t max, const uint8_t **p,
                     size_t *n)
{
  uint8_t m;
  uint64_t v;
  if (!get_head(b, &m, &v) || m != 2 || v > b->n - b->o || v < min || v > max)
    return false;
  *p = b->p + b->o;
  *n = (size_t)v;
  b->o += (size_t)v;
  return true;
}

static int decode_fields(yz_dhtrec *r, rbuf *b, size_t vmax,
                         const char **reason)
{
  uint8_t m;
  uint64_t pairs, kind;
  if (!get_head(b, &m, &pairs) || m != 5 || (pairs != 3 && pairs != 7))
    return fail(reason, "record is not a map of keys 1..3 or 1..7",
                YZ_E_MALFORMED);
  if (!get_key(b, YZ_DHTREC_MAP_KIND) || !get_uint(b, &kind) ||
      (kind != YZ_DHTREC_IMMUTABLE && kind != YZ_DHTREC_MUTABLE))
    return fail(reason, "kind (key 1) is not 1 (immutable) or 2 (mutable)",
                YZ_E_MALFORMED);
  if ((kind == YZ_DHTREC_IMMUTABLE) != (pairs == 3))
    return fail(reason,
                "an immutable record has keys 1..3, a mutable one 1..7",
                YZ_E_MALFORMED);
  r->kind = (uint8_t)kind;
  if (!get_key(b, YZ_DHTREC_MAP_VALUE))
    return fail(reason, "value (key 2) missing", YZ_E_MALFORMED);
  size_t at = b->o;
  if (!get_bstr(b, 1, SIZE_MAX, &r->value, &r->value_len)) {
    b->o = at;
    if (get_head(b, &m, &kind) && m == 2 && kind == 0)
      return fail(reason, "value (key 2) is empty", YZ_E_MALFORMED);
    return fail(reason, "value (key 2) is not a byte string", YZ_E_MALFORMED);
  }
  if (r->value_len > vmax)
    return fail(reason, "value over the store's limit", YZ_E_TOO_LARGE);
  if (!get_key(b, YZ_DHTREC_MAP_EXPIRY) || !get_uint(b, &r->expiry))
    return fail(reason, "expiry (key 3) is not a uint", YZ_E_MALFORMED);
  if (kind == YZ_DHTREC_MUTABLE) {
    const uint8_t *p;
    size_t n;
    if (!get_key(b, YZ_DHTREC_MAP_PUBLIC_KEY) ||
        !get_bstr(b, YZ_IDENTITY_PK_LEN, YZ_IDENTITY_PK_LEN, &p, &n))
      return fail(reason, "public key (key 4) is not a 32-byte string",
                  YZ_E_MALFORMED);
    memcpy(r->public_key, p, n);
    if (!get_key(b, YZ_DHTREC_MAP_SALT) ||
        !get_bstr(b, 0, YZ_DHTREC_SALT_MAX, &p, &n))
      return fail(reason, "salt (key 5) is not a string of 0..64 bytes",
                  YZ_E_MALFORMED);
    memcpy(r->salt, p, n);
    r->salt_len = (uint8_t)n;
    if (!get_key(b, YZ_DHTREC_MAP_SEQ) || !get_uint(b, &r->seq))
      return fail(reason, "sequence number (key 6) is not a uint",
                  YZ_E_MALFORMED);
    if (!get_key(b, YZ_DHTREC_MAP_SIGNATURE) ||
        !get_bstr(b, YZ_IDENTITY_SIG_LEN, YZ_IDENTITY_SIG_LEN, &p, &n))
      return fail(reason, "signature (key 7) is not a 64-byte string",
                  YZ_E_MALFORMED);
    memcpy(r->signature, p, n);
  }
  if (b->o != b->n) /* yz_wire_check() refused trailing bytes already */
    return fail(reason, "trailing bytes after the record", YZ_E_TRAILING);
  if (derive(r, r->key) != 0)
    return fail(reason, "record fields invalid", YZ_E_MALFORMED);
  return 0;
}

int yz_dhtrec_decode(yz_dhtrec *r, const uint8_t *in, size_t len,
                     size_t value_max, const char **reason)
{
  if (!r)
    return fail(reason, "no record", YZ_E_INVAL);
  memset(r, 0, sizeof *r);
  if (!in && len)
    return fail(reason, "no input", YZ_E_INVAL);
  size_t vmax = value_limit(value_max);
  /* Bounded, canonical, one item, no duplicate keys (so the keys come in
   * increasing order and each at most once). */
  int rc = yz_wire_check(in, len, yz_dhtrec_encoded_max(vmax), reason);
  if (rc == 0) {
    rbuf b = {in, len, 0};
    rc = decode_fields(r, &b, vmax, reason);
  }
  if (rc)
    memset(r, 0, sizeof *r);
  return rc;
}

yz_dhtrec_status yz_dhtrec_decode_status(int decode_result)
{
  if (decode_result == 0)
    return YZ_DHTREC_OK;
  return decode_result == YZ_E_TOO_LARGE ? YZ_DHTREC_TOO_LARGE
                                         : YZ_DHTREC_MALFORMED;
}

/* ---- the store's checks (docs/protocol.md "DHT records", "Checks") ---- */

yz_dhtrec_status yz_dhtrec_check(const yz_dhtrec *r,
                                 const uint8_t key[YZ_DHTREC_KEY_LEN],
                                 uint64_t now, const yz_dhtrec_limits *lim,
                                 const char **reason)
{
  if (!r || !key || !r->value || r->value_len == 0 ||
      r->salt_len > YZ_DHTREC_SALT_MAX ||
      (r->kind != YZ_DHTREC_IMMUTABLE && r->kind != YZ_DHTREC_MUTABLE))
    return status_fail(reason, "not a record", YZ_DHTREC_MALFORMED);
  size_t vmax = value_limit(lim ? lim->value_max : 0);
  uint64_t ahead = lim && lim->expiry_ahead ? lim->expiry_ahead
                                            : YZ_DHTREC_EXPIRY_AHEAD_DEFAULT;
  if (r->value_len > vmax)
    return status_fail(reason, "value over the store's limit",
                       YZ_DHTREC_TOO_LARGE);
  uint8_t k[YZ_DHTREC_KEY_LEN];
  if (derive(r, k) != 0)
    return status_fail(reason, "not a record", YZ_DHTREC_MALFORMED);
  if (memcmp(k, key, sizeof k) != 0)
    return status_fail(reason,
                       r->kind == YZ_DHTREC_IMMUTABLE
                           ? "key is not SHA-256(prefix || value)"
                           : "key is not SHA-256(prefix || public key || "
                             "salt)",
                       YZ_DHTREC_WRONG_KEY);
  if (r->expiry <= now)
    return status_fail(reason, "record expired", YZ_DHTREC_EXPIRED);
  /* now + ahead without overflow */
  if (r->expiry - now > ahead)
    return status_fail(reason, "expiry further ahead than the store allows",
                       YZ_DHTREC_EXPIRY_TOO_FAR);
  if (r->kind == YZ_DHTREC_MUTABLE) {
    uint8_t sb[YZ_DHTREC_SIGNED_MAX_LEN];
    size_t n;
    if (yz_dhtrec_signed_bytes(r, sb, sizeof sb, &n) != 0)
      return status_fail(reason, "not a record", YZ_DHTREC_MALFORMED);
    if (yz_identity_verify(r->public_key, sb, n, r->signature) != 0)
      return status_fail(reason, "signature does not verify",
                         YZ_DHTREC_BAD_SIGNATURE);
  }
  return YZ_DHTREC_OK;
}

/* ---- replacement (docs/protocol.md "DHT records", "Replacement") ------ */

static bool same_value(const yz_dhtrec *a, const yz_dhtrec *b)
{
  return a->value_len == b->value_len &&
         memcmp(a->value, b->value, a->value_len) == 0;
}

yz_dhtrec_status yz_dhtrec_replace(const yz_dhtrec *cand, const yz_dhtrec *cur,
                                   const uint64_t *cas,
                                   yz_dhtrec_action *action,
                                   const char **reason)
{
  if (!cand || !action || !cand->value || (cur && !cur->value))
    return status_fail(reason, "no record", YZ_DHTREC_MALFORMED);
  if (!cur) {
    /* BEP 44: compare and swap applies to a stored record only, so a
     * record that expired from this store can be written again. */
    *action = YZ_DHTREC_STORE;
    return YZ_DHTREC_OK;
  }
  if (cand->kind != cur->kind ||
      memcmp(cand->key, cur->key, YZ_DHTREC_KEY_LEN) != 0)
    return status_fail(reason, "records under different keys",
                       YZ_DHTREC_WRONG_KEY);
  if (cand->kind == YZ_DHTREC_MUTABLE) {
    if (cas && cur->seq != *cas)
      return status_fail(reason,
                         "the stored sequence number is not the expected "
                         "one (compare and swap)",
                         YZ_DHTREC_CAS_MISMATCH);
    if (cand->seq < cur->seq)
      return status_fail(reason,
                         "lower sequence number than the stored "
                         "record",
                         YZ_DHTREC_SEQ_TOO_LOW);
    if (cand->seq > cur->seq) {
      *action = YZ_DHTREC_REPLACE;
      return YZ_DHTREC_OK;
    }
    if (!same_value(cand, cur))
      return status_fail(reason,
                         "same sequence number, another value: the stored "
                         "record stays",
                         YZ_DHTREC_SEQ_CONFLICT);
  } else if (!same_value(cand, cur)) {
    /* Same key, another value: only a SHA-256 collision gets here. */
    return status_fail(reason, "records under different keys",
                       YZ_DHTREC_WRONG_KEY);
  }
  /* The same record again: a refresh; the later expiry wins (a mutable
   * record's signature covers its expiry, so the whole record is kept). */
  *action = cand->expiry > cur->expiry ? YZ_DHTREC_REFRESH : YZ_DHTREC_KEEP;
  return YZ_DHTREC_OK;
}
