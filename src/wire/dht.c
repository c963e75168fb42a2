/*
 * DHT messages (docs/protocol.md "DHT messages", proto/dht.cddl): one rule
 * set, fields_invalid(), shared by the encoder and the decoder; a
 * canonical writer of our own (the heads are the only thing to get right:
 * RFC 8949 4.2.1 shortest form, keys in increasing order) and a decoder
 * that walks the input after yz_wire_check() has bounded it, pointing into
 * it instead of allocating.
 */
#include <string.h>

#include "wire/cbor_read.h"
#include "wire/cbor_write.h"
#include "yz/dht_wire.h"

_Static_assert(YZ_DHT_MSG_MAX_CONTACTS <= YZ_DHT_MSG_CONTACTS_CAP,
               "the default fits the array");
_Static_assert(YZ_DHT_MSG_MAX_PROVIDERS <= YZ_DHT_MSG_PROVIDERS_CAP,
               "the default fits the array");
_Static_assert(YZ_DHT_MSG_MAX_RECORD_LEN <= YZ_DHT_MSG_RECORD_CAP,
               "the default is under the cap");
_Static_assert(YZ_DHT_MKEY_MAX < 24, "every key is a one-byte CBOR head");

static int fail(const char **reason, const char *why, int err)
{
  if (reason)
    *reason = why;
  return err;
}

static const char *const status_names[] = {
    "OK",           "MALFORMED",      "UNSUPPORTED",
    "TOO_LARGE",    "BAD_SIGNATURE",  "WRONG_KEY",
    "EXPIRED",      "EXPIRY_TOO_FAR", "SEQ_TOO_LOW",
    "SEQ_CONFLICT", "CAS_MISMATCH",   "QUOTA",
    "RATE_LIMITED", "NOT_SERVER",     "INTERNAL",
};
_Static_assert(sizeof status_names / sizeof status_names[0] ==
                   YZ_DHT_ST_MAX + 1,
               "one name per status");

const char *yz_dht_status_name(uint64_t status)
{
  return status <= YZ_DHT_ST_MAX ? status_names[status] : "?";
}

void yz_dht_msg_init(yz_dht_msg *m, yz_dht_msg_type t)
{
  memset(m, 0, sizeof *m);
  m->type = t;
}

bool yz_dht_msg_answers(yz_dht_msg_type req, yz_dht_msg_type resp)
{
  switch (req) {
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET:
  case YZ_DHT_GET_PROVIDERS:
  case YZ_DHT_HELLO:
    return resp == YZ_DHT_STATUS || (int)resp == (int)req + 10;
  case YZ_DHT_PUT:
  case YZ_DHT_PROVIDE:
    return resp == YZ_DHT_STATUS;
  default:
    return false;
  }
}

/* ---- the per-type field table (dht_wire.h, proto/dht.cddl) ------------- */

#define K(k) (1u << YZ_DHT_MKEY_##k)

struct shape {
  unsigned required, allowed; /* bits of map keys, TYPE included */
};

static bool shape_of(uint64_t type, struct shape *s)
{
  unsigned req = K(TYPE);
  switch (type) {
  case YZ_DHT_FIND_NODE:
  case YZ_DHT_GET_PROVIDERS:
    *s = (struct shape){req | K(TARGET), req | K(TARGET) | K(CLIENT)};
    return true;
  case YZ_DHT_GET:
    *s = (struct shape){req | K(TARGET), req | K(TARGET) | K(CLIENT) | K(SEQ)};
    return true;
  case YZ_DHT_PUT:
    *s = (struct shape){req | K(TARGET) | K(RECORD),
                        req | K(TARGET) | K(CLIENT) | K(RECORD) | K(CAS) |
                            K(SPREAD)};
    return true;
  case YZ_DHT_PROVIDE:
    *s = (struct shape){req | K(TARGET) | K(PROVIDER),
                        req | K(TARGET) | K(CLIENT) | K(PROVIDER)};
    return true;
  case YZ_DHT_HELLO:
    /* exactly one of the two: fields_invalid() */
    *s = (struct shape){req, req | K(CLIENT) | K(PROVIDER)};
    return true;
  case YZ_DHT_HELLO_RESP:
    *s = (struct shape){req, req | K(PROVIDER)};
    return true;
  case YZ_DHT_FIND_NODE_RESP:
    *s = (struct shape){req | K(CLOSER), req | K(CLOSER)};
    return true;
  case YZ_DHT_GET_RESP:
    *s = (struct shape){req | K(CLOSER), req | K(CLOSER) | K(RECORD)};
    return true;
  case YZ_DHT_GET_PROVIDERS_RESP:
    *s = (struct shape){req | K(CLOSER) | K(PROVIDERS),
                        req | K(CLOSER) | K(PROVIDERS)};
    return true;
  case YZ_DHT_STATUS:
    *s = (struct shape){req | K(STATUS), req | K(STATUS) | K(REASON) | K(SEQ)};
    return true;
  default:
    return false;
  }
}

/* Which keys an in-memory message has: the present-fields bits. */
static unsigned present_of(const yz_dht_msg *m)
{
  struct shape s;
  unsigned p = K(TYPE);
  if (!shape_of(m->type, &s))
    return p;
  /* Fields without a presence flag are present when the type has them. */
  p |= s.required &
       (K(TARGET) | K(CLOSER) | K(PROVIDERS) | K(PROVIDER) | K(STATUS));
  if (m->client_only)
    p |= K(CLIENT);
  if (m->has_record)
    p |= K(RECORD);
  if (m->has_seq)
    p |= K(SEQ);
  if (m->has_cas)
    p |= K(CAS);
  if (m->reason_len)
    p |= K(REASON);
  if (m->spread)
    p |= K(SPREAD);
  if (m->n_closer && !(s.allowed & K(CLOSER)))
    p |= K(CLOSER);
  if (m->n_providers && !(s.allowed & K(PROVIDERS)))
    p |= K(PROVIDERS);
  /* HELLO and HELLO_RESP: an optional provider, present when set. */
  if (m->provider.ptr)
    p |= K(PROVIDER);
  return p;
}

/* ---- limits ------------------------------------------------------------ */

static bool limits_of(const yz_dht_msg_limits *lim, yz_dht_msg_limits *out)
{
  *out = (yz_dht_msg_limits){YZ_DHT_MSG_MAX_CONTACTS, YZ_DHT_MSG_MAX_PROVIDERS,
                             YZ_DHT_MSG_MAX_RECORD_LEN};
  if (!lim)
    return true;
  if (lim->max_contacts > YZ_DHT_MSG_CONTACTS_CAP ||
      lim->max_providers > YZ_DHT_MSG_PROVIDERS_CAP ||
      lim->max_record_len > YZ_DHT_MSG_RECORD_CAP)
    return false;
  if (lim->max_contacts)
    out->max_contacts = lim->max_contacts;
  if (lim->max_providers)
    out->max_providers = lim->max_providers;
  if (lim->max_record_len)
    out->max_record_len = lim->max_record_len;
  return true;
}

/* A bstr of at most n bytes. */
static size_t bstr_max(size_t n)
{
  return cbor_head_len(n) + n;
}

static size_t max_len_of(const yz_dht_msg_limits *l)
{
  /* Every field any type may have (an over-estimate: no type has all),
   * each with its one-byte key. */
  size_t contact = bstr_max(YZ_RECORD_MAX_LEN);
  return 1 +                            /* map head */
         1 + 1 +                        /* type */
         1 + bstr_max(YZ_DHT_KEY_LEN) + /* target */
         1 + 1 +                        /* client */
         1 + cbor_head_len(l->max_contacts) +
         l->max_contacts * contact +    /* closer */
         1 + bstr_max(l->max_record_len) + /* record */
         2 * (1 + 9) +                 /* seq, cas */
         1 + cbor_head_len(l->max_providers) +
         l->max_providers * contact +   /* providers */
         1 + contact +                            /* provider */
         1 + 1 +                                  /* status */
         1 + bstr_max(YZ_DHT_MSG_REASON_MAX_LEN) + /* reason */
         1 + 1;                                   /* spread */
}

size_t yz_dht_msg_max_len(const yz_dht_msg_limits *lim)
{
  yz_dht_msg_limits l;
  return limits_of(lim, &l) ? max_len_of(&l) : 0;
}

/* ---- the rules (docs/protocol.md "DHT messages", "Rules") -------------- */

/* A contact: a node record, 1..YZ_RECORD_MAX_LEN bytes of one canonical
 * CBOR map (its signature, network and expiry are the caller's to check:
 * yz_record_decode()). */
static const char *contact_invalid(const yz_dht_bytes *c, int *err)
{
  *err = YZ_E_MALFORMED;
  if (!c->ptr || c->len == 0)
    return "contact is an empty byte string";
  if (c->len > YZ_RECORD_MAX_LEN) {
    *err = YZ_E_TOO_LARGE;
    return "contact is longer than a node record may be (1024 bytes)";
  }
  if ((c->ptr[0] >> 5) != 5 ||
      yz_wire_check(c->ptr, c->len, YZ_RECORD_MAX_LEN, NULL) != 0)
    return "contact is not one canonical CBOR map (a node record)";
  return NULL;
}

static const char *list_invalid(const yz_dht_bytes *l, size_t n, size_t max,
                                int *err)
{
  if (n > max) {
    *err = YZ_E_LIMIT;
    return "more contacts or providers than the limit";
  }
  for (size_t i = 0; i < n; i++) {
    const char *why = contact_invalid(&l[i], err);
    if (why)
      return why;
    /* n <= 32: quadratic is cheap, and a list is a set. */
    for (size_t j = 0; j < i; j++) {
      if (l[j].len == l[i].len && memcmp(l[j].ptr, l[i].ptr, l[i].len) == 0) {
        *err = YZ_E_DUPLICATE;
        return "the same contact twice in one list";
      }
    }
  }
  return NULL;
}

/* Every rule on a message in memory: NULL, or why not and *err. */
static const char *fields_invalid(const yz_dht_msg *m, unsigned present,
                                  const yz_dht_msg_limits *l, int *err)
{
  struct shape s;
  *err = YZ_E_MALFORMED;
  if (!shape_of(m->type, &s)) {
    *err = YZ_E_UNSUPPORTED;
    return "unknown DHT message type";
  }
  unsigned missing = s.required & ~present, extra = present & ~s.allowed;
  if (missing || extra) {
    static const char *const miss[YZ_DHT_MKEY_MAX + 1] = {
        NULL,
        "type (1) missing",
        "target (2) missing",
        NULL,
        "closer (4) missing",
        "record (5) missing",
        NULL,
        NULL,
        "providers (8) missing",
        "provider (9) missing",
        "status (10) missing",
        NULL,
        NULL,
    };
    static const char *const notallowed[YZ_DHT_MKEY_MAX + 1] = {
        NULL,
        NULL,
        "target (2) not allowed in this message type",
        "client (3) not allowed in this message type",
        "closer (4) not allowed in this message type",
        "record (5) not allowed in this message type",
        "seq (6) not allowed in this message type",
        "cas (7) not allowed in this message type",
        "providers (8) not allowed in this message type",
        "provider (9) not allowed in this message type",
        "status (10) not allowed in this message type",
        "reason (11) not allowed in this message type",
        "spread (12) not allowed in this message type",
    };
    for (unsigned k = 1; k <= YZ_DHT_MKEY_MAX; k++) {
      if ((missing >> k) & 1)
        return miss[k] ? miss[k] : "a required field is missing";
      if ((extra >> k) & 1)
        return notallowed[k];
    }
  }
  /* HELLO (docs/protocol.md "DHT messages"): the sender is either a server
   * with its record or client-only, never both, never neither. */
  if (m->type == YZ_DHT_HELLO &&
      !(present & K(CLIENT)) == !(present & K(PROVIDER)))
    return (present & K(CLIENT))
               ? "HELLO with both client (3) and provider (9)"
               : "HELLO without provider (9) or client (3)";
  const char *why;
  if ((present & K(CLOSER)) &&
      (why = list_invalid(m->closer, m->n_closer, l->max_contacts, err)))
    return why;
  if ((present & K(PROVIDERS)) &&
      (why =
           list_invalid(m->providers, m->n_providers, l->max_providers, err)))
    return why;
  if ((present & K(PROVIDER)) && (why = contact_invalid(&m->provider, err)))
    return why;
  *err = YZ_E_MALFORMED;
  if (present & K(RECORD)) {
    if (!m->record.ptr || m->record.len == 0)
      return "record (5) is an empty byte string";
    if (m->record.len > l->max_record_len) {
      *err = YZ_E_TOO_LARGE;
      return "record (5) is longer than the limit";
    }
    if (yz_wire_check(m->record.ptr, m->record.len, m->record.len, NULL))
      return "record (5) is not one canonical CBOR item";
  }
  if ((present & K(STATUS)) && m->status > YZ_DHT_ST_MAX)
    return "status (10) is not a known status code";
  if (present & K(REASON)) {
    if (m->reason_len > YZ_DHT_MSG_REASON_MAX_LEN)
      return "reason (11) is longer than 128 bytes";
    if (!yz_wire_utf8_valid((const uint8_t *)m->reason, m->reason_len))
      return "reason (11) is not UTF-8";
  }
  return NULL;
}

/* ---- encoding ---------------------------------------------------------- */

/* Heads and strings are written with wire/cbor_write.h. */

static void put_list(struct wbuf *w, const yz_dht_bytes *l, size_t n)
{
  put_head(w, 4, n);
  for (size_t i = 0; i < n; i++)
    put_bstr(w, l[i].ptr, l[i].len);
}

int yz_dht_msg_encode(const yz_dht_msg *m, const yz_dht_msg_limits *lim,
                      uint8_t *out, size_t cap, size_t *outlen,
                      const char **reason)
{
  yz_dht_msg_limits l;
  if (!m || !out || !outlen)
    return fail(reason, "no message or buffer", YZ_E_INVAL);
  if (!limits_of(lim, &l))
    return fail(reason, "a limit is over its cap", YZ_E_INVAL);
  unsigned present = present_of(m);
  int err;
  const char *why = fields_invalid(m, present, &l, &err);
  if (why)
    return fail(reason, why, YZ_E_INVAL);

  struct wbuf w = {out, cap, 0, false};
  unsigned pairs = 0;
  for (unsigned k = 1; k <= YZ_DHT_MKEY_MAX; k++)
    pairs += (present >> k) & 1;
  put_head(&w, 5, pairs);
  /* Keys in increasing order: the canonical order for keys 0..23. */
  for (unsigned k = 1; k <= YZ_DHT_MKEY_MAX; k++) {
    if (!((present >> k) & 1))
      continue;
    put_head(&w, 0, k);
    switch (k) {
    case YZ_DHT_MKEY_TYPE:
      put_head(&w, 0, (uint64_t)m->type);
      break;
    case YZ_DHT_MKEY_TARGET:
      put_bstr(&w, m->target, YZ_DHT_KEY_LEN);
      break;
    case YZ_DHT_MKEY_CLIENT:
    case YZ_DHT_MKEY_SPREAD:
      put_head(&w, 7, 21); /* true */
      break;
    case YZ_DHT_MKEY_CLOSER:
      put_list(&w, m->closer, m->n_closer);
      break;
    case YZ_DHT_MKEY_RECORD:
      put_bstr(&w, m->record.ptr, m->record.len);
      break;
    case YZ_DHT_MKEY_SEQ:
      put_head(&w, 0, m->seq);
      break;
    case YZ_DHT_MKEY_CAS:
      put_head(&w, 0, m->cas);
      break;
    case YZ_DHT_MKEY_PROVIDERS:
      put_list(&w, m->providers, m->n_providers);
      break;
    case YZ_DHT_MKEY_PROVIDER:
      put_bstr(&w, m->provider.ptr, m->provider.len);
      break;
    case YZ_DHT_MKEY_STATUS:
      put_head(&w, 0, m->status);
      break;
    default: /* YZ_DHT_MKEY_REASON */
      put_string(&w, YZ__CBOR_TSTR, m->reason, m->reason_len);
      break;
    }
  }
  if (w.over)
    return fail(reason, "output buffer too small", YZ_E_TOO_LARGE);
  *outlen = w.n;
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

/* Heads are read with get_head() (wire/cbor_read.h). */

static bool get_str(struct rbuf *r, unsigned want_major, yz_dht_bytes *b)
{
  unsigned mj;
  uint64_t n;
  if (!get_head(r, &mj, &n) || mj != want_major || n > r->len - r->off)
    return false;
  b->ptr = r->p + r->off;
  b->len = (size_t)n;
  r->off += (size_t)n;
  return true;
}

static int get_list(struct rbuf *r, yz_dht_bytes *l, size_t *n, size_t max,
                    const char *what_type, const char **reason)
{
  unsigned mj;
  uint64_t cnt;
  if (!get_head(r, &mj, &cnt) || mj != 4)
    return fail(reason, what_type, YZ_E_MALFORMED);
  /* Bounded before anything is stored: the arrays hold at most max. */
  if (cnt > max)
    return fail(reason, "more contacts or providers than the limit",
                YZ_E_LIMIT);
  for (size_t i = 0; i < cnt; i++) {
    if (!get_str(r, 2, &l[i]))
      return fail(reason, "a contact is not a byte string", YZ_E_MALFORMED);
  }
  *n = (size_t)cnt;
  return 0;
}

static int decode_body(yz_dht_msg *m, struct rbuf *r,
                       const yz_dht_msg_limits *l, unsigned *present,
                       const char **reason)
{
  unsigned mj;
  uint64_t pairs, v;
  if (!get_head(r, &mj, &pairs) || mj != 5)
    return fail(reason, "DHT message is not a CBOR map", YZ_E_MALFORMED);
  for (uint64_t i = 0; i < pairs; i++) {
    uint64_t key;
    if (!get_head(r, &mj, &key) || mj != 0)
      return fail(reason, "map key is not an unsigned integer",
                  YZ_E_MALFORMED);
    if (key == 0 || key > YZ_DHT_MKEY_MAX)
      return fail(reason, "unknown map key", YZ_E_MALFORMED);
    /* yz_wire_check() saw the keys strictly increasing: no repeats. */
    *present |= 1u << key;
    yz_dht_bytes b;
    switch (key) {
    case YZ_DHT_MKEY_TYPE:
      if (!get_head(r, &mj, &v) || mj != 0)
        return fail(reason, "type (1) is not an unsigned integer",
                    YZ_E_MALFORMED);
      if (v > 0xff || !shape_of(v, &(struct shape){0, 0}))
        return fail(reason, "unknown DHT message type", YZ_E_UNSUPPORTED);
      m->type = (yz_dht_msg_type)v;
      break;
    case YZ_DHT_MKEY_TARGET:
      if (!get_str(r, 2, &b) || b.len != YZ_DHT_KEY_LEN)
        return fail(reason, "target (2) is not a 32-byte string",
                    YZ_E_MALFORMED);
      memcpy(m->target, b.ptr, YZ_DHT_KEY_LEN);
      break;
    case YZ_DHT_MKEY_CLIENT:
    case YZ_DHT_MKEY_SPREAD:
      /* Only true: absent means false, so one value has one encoding. */
      if (!get_head(r, &mj, &v) || mj != 7 || v != 21)
        return fail(reason,
                    key == YZ_DHT_MKEY_CLIENT
                        ? "client (3) is not true (absent means false)"
                        : "spread (12) is not true (absent means false)",
                    YZ_E_MALFORMED);
      *(key == YZ_DHT_MKEY_CLIENT ? &m->client_only : &m->spread) = true;
      break;
    case YZ_DHT_MKEY_CLOSER: {
      int rc = get_list(r, m->closer, &m->n_closer, l->max_contacts,
                        "closer (4) is not an array", reason);
      if (rc)
        return rc;
      break;
    }
    case YZ_DHT_MKEY_RECORD:
      if (!get_str(r, 2, &m->record))
        return fail(reason, "record (5) is not a byte string", YZ_E_MALFORMED);
      m->has_record = true;
      break;
    case YZ_DHT_MKEY_SEQ:
    case YZ_DHT_MKEY_CAS:
      if (!get_head(r, &mj, &v) || mj != 0)
        return fail(reason,
                    key == YZ_DHT_MKEY_SEQ
                        ? "seq (6) is not an unsigned integer"
                        : "cas (7) is not an unsigned integer",
                    YZ_E_MALFORMED);
      if (key == YZ_DHT_MKEY_SEQ)
        m->has_seq = true, m->seq = v;
      else
        m->has_cas = true, m->cas = v;
      break;
    case YZ_DHT_MKEY_PROVIDERS: {
      int rc = get_list(r, m->providers, &m->n_providers, l->max_providers,
                        "providers (8) is not an array", reason);
      if (rc)
        return rc;
      break;
    }
    case YZ_DHT_MKEY_PROVIDER:
      if (!get_str(r, 2, &m->provider))
        return fail(reason, "provider (9) is not a byte string",
                    YZ_E_MALFORMED);
      break;
    case YZ_DHT_MKEY_STATUS:
      if (!get_head(r, &mj, &v) || mj != 0)
        return fail(reason, "status (10) is not an unsigned integer",
                    YZ_E_MALFORMED);
      m->status = v;
      break;
    default: /* YZ_DHT_MKEY_REASON */
      if (!get_str(r, 3, &b))
        return fail(reason, "reason (11) is not a text string",
                    YZ_E_MALFORMED);
      if (b.len == 0)
        return fail(reason, "reason (11) is empty (absent instead)",
                    YZ_E_MALFORMED);
      if (b.len > YZ_DHT_MSG_REASON_MAX_LEN)
        return fail(reason, "reason (11) is longer than 128 bytes",
                    YZ_E_MALFORMED);
      memcpy(m->reason, b.ptr, b.len);
      m->reason[b.len] = '\0';
      m->reason_len = b.len;
      break;
    }
  }
  if (r->off != r->len) /* cannot happen after yz_wire_check() */
    return fail(reason, "trailing bytes after the CBOR item", YZ_E_TRAILING);
  if (!(*present & K(TYPE)))
    return fail(reason, "type (1) missing", YZ_E_MALFORMED);
  return 0;
}

int yz_dht_msg_decode(yz_dht_msg *m, const uint8_t *in, size_t len,
                      const yz_dht_msg_limits *lim, const char **reason)
{
  if (!m)
    return fail(reason, "no message", YZ_E_INVAL);
  memset(m, 0, sizeof *m);
  yz_dht_msg_limits l;
  if (!limits_of(lim, &l))
    return fail(reason, "a limit is over its cap", YZ_E_INVAL);
  /* Bounded, canonical, one item, no duplicate keys, before anything is
   * read (docs/protocol.md "DHT messages", "Rules"). */
  int rc = yz_wire_check(in, len, max_len_of(&l), reason);
  if (rc)
    goto out;
  struct rbuf r = {in, len, 0};
  unsigned present = 0;
  rc = decode_body(m, &r, &l, &present, reason);
  if (rc)
    goto out;
  /* Absent fields are zero, so the table check sees what was on the wire
   * (the empty list and the absent list differ only in present). */
  int err;
  const char *why = fields_invalid(m, present, &l, &err);
  if (why)
    rc = fail(reason, why, err);
out:
  if (rc)
    memset(m, 0, sizeof *m);
  return rc;
}

int yz_dht_msg_contact_decode(yz_record *r, const yz_dht_bytes *contact,
                              const yz_record_expect *ex, const char **reason)
{
  if (!contact)
    return fail(reason, "no contact", YZ_E_INVAL);
  return yz_record_decode(r, contact->ptr, contact->len, ex, reason);
}
