/*
 * Protocol names (Noise spec section 8) and the handshake pattern table
 * (section 7.4 one-way, 7.5 fundamental interactive, 7.6 deferred), with
 * the pskN (section 9) and fallback (section 10.2) modifiers.
 *
 * The table holds each pattern as the spec prints it, so it can be checked
 * against the spec by eye; yz_noise_protocol_parse() compiles the chosen
 * pattern and its modifiers into a flat token array (as noise-c does), which
 * the HandshakeState walks with a switch.
 *
 * The parser is a pure function of (bytes, length): no allocation, bounded,
 * and fuzzable.
 */
#include <string.h>

#include "noise/noise_internal.h"

/*
 * A pattern: pre-messages of the initiator ("->") and responder ("<-"),
 * then the messages, alternating from the initiator and separated by '|'.
 * Tokens in each are separated by ", ".
 */
typedef struct pattern {
  const char *name;
  const char *pre_i;
  const char *pre_r;
  const char *msgs;
} pattern;

static const pattern patterns[] = {
    /* 7.4 one-way */
    {"N", "", "s", "e, es"},
    {"K", "s", "s", "e, es, ss"},
    {"X", "", "s", "e, es, s, ss"},
    /* 7.5 fundamental interactive */
    {"NN", "", "", "e | e, ee"},
    {"NK", "", "s", "e, es | e, ee"},
    {"NX", "", "", "e | e, ee, s, es"},
    {"XN", "", "", "e | e, ee | s, se"},
    {"XK", "", "s", "e, es | e, ee | s, se"},
    {"XX", "", "", "e | e, ee, s, es | s, se"},
    {"KN", "s", "", "e | e, ee, se"},
    {"KK", "s", "s", "e, es, ss | e, ee, se"},
    {"KX", "s", "", "e | e, ee, se, s, es"},
    {"IN", "", "", "e, s | e, ee, se"},
    {"IK", "", "s", "e, es, s, ss | e, ee, se"},
    {"IX", "", "", "e, s | e, ee, se, s, es"},
    /* 7.6 deferred */
    {"NK1", "", "s", "e | e, ee, es"},
    {"NX1", "", "", "e | e, ee, s | es"},
    {"X1N", "", "", "e | e, ee | s | se"},
    {"X1K", "", "s", "e, es | e, ee | s | se"},
    {"XK1", "", "s", "e | e, ee, es | s, se"},
    {"X1K1", "", "s", "e | e, ee, es | s | se"},
    {"X1X", "", "", "e | e, ee, s, es | s | se"},
    {"XX1", "", "", "e | e, ee, s | es, s, se"},
    {"X1X1", "", "", "e | e, ee, s | es, s | se"},
    {"K1N", "s", "", "e | e, ee | se"},
    {"K1K", "s", "s", "e, es | e, ee | se"},
    {"KK1", "s", "s", "e | e, ee, se, es"},
    {"K1K1", "s", "s", "e | e, ee, es | se"},
    {"K1X", "s", "", "e | e, ee, s, es | se"},
    {"KX1", "s", "", "e | e, ee, se, s | es"},
    {"K1X1", "s", "", "e | e, ee, s | se, es"},
    {"I1N", "", "", "e, s | e, ee | se"},
    {"I1K", "", "s", "e, es, s | e, ee | se"},
    {"IK1", "", "s", "e, s | e, ee, se, es"},
    {"I1K1", "", "s", "e, s | e, ee, es | se"},
    {"I1X", "", "", "e, s | e, ee, s, es | se"},
    {"IX1", "", "", "e, s | e, ee, se, s | es"},
    {"I1X1", "", "", "e, s | e, ee, s | se, es"},
};

enum { MAX_MSGS = 8, MAX_MSG_TOKENS = 12 };

/* A pattern being compiled. */
typedef struct draft {
  uint8_t pre[2][3];
  uint8_t n_pre[2];
  uint8_t msg[MAX_MSGS][MAX_MSG_TOKENS];
  uint8_t n_tok[MAX_MSGS];
  uint8_t n_msgs;
} draft;

static int token_of(const char *s, size_t n)
{
  static const struct {
    const char *s;
    int t;
  } names[] = {{"e", YZ__TOK_E},   {"s", YZ__TOK_S},   {"ee", YZ__TOK_EE},
               {"es", YZ__TOK_ES}, {"se", YZ__TOK_SE}, {"ss", YZ__TOK_SS}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].s) == n && memcmp(names[i].s, s, n) == 0)
      return names[i].t;
  return -1;
}

/* Parse "t, t, t" (the table's text) into out; returns the count or -1. */
static int parse_tokens(const char *s, size_t n, uint8_t *out, size_t cap)
{
  size_t count = 0, i = 0;
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == ','))
      i++;
    size_t j = i;
    while (j < n && s[j] != ' ' && s[j] != ',')
      j++;
    if (j == i)
      break;
    int t = token_of(s + i, j - i);
    if (t < 0 || count == cap)
      return -1;
    out[count++] = (uint8_t)t;
    i = j;
  }
  return (int)count;
}

static int load_pattern(draft *d, const pattern *p)
{
  int n;
  memset(d, 0, sizeof *d);
  if ((n = parse_tokens(p->pre_i, strlen(p->pre_i), d->pre[0], 3)) < 0)
    return -1;
  d->n_pre[0] = (uint8_t)n;
  if ((n = parse_tokens(p->pre_r, strlen(p->pre_r), d->pre[1], 3)) < 0)
    return -1;
  d->n_pre[1] = (uint8_t)n;
  const char *s = p->msgs;
  while (*s) {
    const char *bar = strchr(s, '|');
    size_t len = bar ? (size_t)(bar - s) : strlen(s);
    if (d->n_msgs == MAX_MSGS)
      return -1;
    n = parse_tokens(s, len, d->msg[d->n_msgs], MAX_MSG_TOKENS);
    if (n <= 0)
      return -1;
    d->n_tok[d->n_msgs++] = (uint8_t)n;
    s += len;
    if (*s == '|')
      s++;
  }
  return 0;
}

/*
 * The fallback modifier (section 10.2): Alice's first message becomes a
 * pre-message that Bob received some other way, and Bob becomes the
 * initiator of what is left. Only an Alice-initiated pattern whose first
 * message holds nothing but public keys qualifies. Tokens are stored from
 * the initiator's side, so with the roles swapped the pre-messages swap and
 * "es" and "se" trade places.
 */
static int apply_fallback(draft *d)
{
  draft f;
  if (d->n_msgs < 2)
    return -1;
  memset(&f, 0, sizeof f);
  memcpy(f.pre[0], d->pre[1], d->n_pre[1]);
  f.n_pre[0] = d->n_pre[1];
  memcpy(f.pre[1], d->pre[0], d->n_pre[0]);
  f.n_pre[1] = d->n_pre[0];
  for (size_t i = 0; i < d->n_tok[0]; i++) {
    uint8_t t = d->msg[0][i];
    if ((t != YZ__TOK_E && t != YZ__TOK_S) || f.n_pre[1] == 3)
      return -1;
    f.pre[1][f.n_pre[1]++] = t;
  }
  for (size_t m = 1; m < d->n_msgs; m++) {
    for (size_t i = 0; i < d->n_tok[m]; i++) {
      uint8_t t = d->msg[m][i];
      if (t == YZ__TOK_ES)
        t = YZ__TOK_SE;
      else if (t == YZ__TOK_SE)
        t = YZ__TOK_ES;
      f.msg[m - 1][i] = t;
    }
    f.n_tok[m - 1] = d->n_tok[m];
  }
  f.n_msgs = (uint8_t)(d->n_msgs - 1);
  *d = f;
  return 0;
}

/* pskN (section 9.1): psk0 goes at the start of the first message, pskN at
 * the end of message N. */
static int apply_psk(draft *d, unsigned pos)
{
  if (pos > d->n_msgs)
    return -1;
  size_t m = pos == 0 ? 0 : pos - 1;
  if (d->n_tok[m] == MAX_MSG_TOKENS)
    return -1;
  if (pos == 0) {
    memmove(d->msg[0] + 1, d->msg[0], d->n_tok[0]);
    d->msg[0][0] = YZ__TOK_PSK;
  } else {
    d->msg[m][d->n_tok[m]] = YZ__TOK_PSK;
  }
  d->n_tok[m]++;
  return 0;
}

static int flatten(yz_noise_protocol *out, const draft *d)
{
  size_t k = 0;
  memcpy(out->pre, d->pre, sizeof out->pre);
  for (int side = 0; side < 2; side++)
    for (size_t i = d->n_pre[side]; i < 3; i++)
      out->pre[side][i] = YZ__TOK_END;
  for (size_t m = 0; m < d->n_msgs; m++) {
    if (k + d->n_tok[m] + 2 > YZ_NOISE_MAX_TOKENS)
      return -1;
    memcpy(out->tokens + k, d->msg[m], d->n_tok[m]);
    k += d->n_tok[m];
    out->tokens[k++] = YZ__TOK_MSG_END;
  }
  out->tokens[k] = YZ__TOK_END;
  out->n_msgs = d->n_msgs;
  return 0;
}

static bool eq(const uint8_t *p, size_t n, const char *s)
{
  return strlen(s) == n && memcmp(p, s, n) == 0;
}

#define MALFORMED(why)                                                        \
  do {                                                                        \
    *why_out = (why);                                                         \
    return YZ_E_PROTOCOL_NAME;                                                \
  } while (0)

/* The pattern field: a table name, then modifiers joined by '+'. */
static int parse_pattern(yz_noise_protocol *out, const uint8_t *p, size_t n,
                         const char **why_out, const char **unsup)
{
  size_t base = 0, i;
  const pattern *pat = NULL;
  draft d;
  int last_psk = -1;

  while (base < n && ((p[base] >= 'A' && p[base] <= 'Z') ||
                      (p[base] >= '0' && p[base] <= '9')))
    base++;
  for (i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
    if (eq(p, base, patterns[i].name))
      pat = &patterns[i];
  if (!pat)
    MALFORMED("unknown handshake pattern");
  out->pattern = (uint8_t)(pat - patterns);
  if (load_pattern(&d, pat) != 0)
    MALFORMED("internal pattern table error");

  /* Modifiers: "fallback", "hfs", "pskN", separated by '+'. */
  i = base;
  while (i < n) {
    size_t j = i;
    while (j < n && p[j] != '+')
      j++;
    const uint8_t *m = p + i;
    size_t mn = j - i;
    if (mn == 0)
      MALFORMED("empty pattern modifier");
    if (eq(m, mn, "fallback")) {
      if (out->fallback || out->n_psk)
        MALFORMED("fallback modifier repeated or after psk");
      if (apply_fallback(&d) != 0)
        MALFORMED("fallback modifier on a pattern that does not allow it");
      out->fallback = 1;
    } else if (eq(m, mn, "hfs")) {
      if (!*unsup)
        *unsup = "hfs modifier (hybrid forward secrecy) unsupported";
    } else if (mn > 3 && memcmp(m, "psk", 3) == 0) {
      unsigned v = 0;
      if (mn > 5 || (m[3] == '0' && mn > 4))
        MALFORMED("psk modifier number malformed");
      for (size_t q = 3; q < mn; q++) {
        if (m[q] < '0' || m[q] > '9')
          MALFORMED("psk modifier number malformed");
        v = v * 10 + (unsigned)(m[q] - '0');
      }
      if ((int)v <= last_psk)
        MALFORMED("psk modifiers repeated or out of order");
      if (out->n_psk == YZ_NOISE_MAX_PSKS || apply_psk(&d, v) != 0)
        MALFORMED("psk modifier beyond the pattern's messages");
      last_psk = (int)v;
      out->n_psk++;
    } else {
      MALFORMED("unknown pattern modifier");
    }
    i = j < n ? j + 1 : j;
    if (j < n && i == n)
      MALFORMED("empty pattern modifier");
  }
  if (flatten(out, &d) != 0)
    MALFORMED("pattern too long");
  if (d.n_msgs == 1)
    out->flags |= YZ__PROTO_ONEWAY;
  if (out->n_psk)
    out->flags |= YZ__PROTO_PSK;
  return 0;
}

static bool is_alnum(uint8_t c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

int yz_noise_protocol_parse(yz_noise_protocol *out, const uint8_t *name,
                            size_t len, const char **reason)
{
  const char *why = NULL, *unsup = NULL, **why_out = &why;
  const uint8_t *f[5];
  size_t fn[5], nf = 0, start = 0;
  int rc;

  if (!out)
    return YZ_E_INVAL;
  memset(out, 0, sizeof *out);
  if (reason)
    *reason = NULL;
  if (!name || len == 0) {
    why = "empty protocol name";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }
  if (len > YZ_NOISE_MAX_NAME_LEN) {
    why = "protocol name too long";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }
  /* The obsolete pre-revision-32 PSK scheme shares the framework but not
   * the key schedule: report it rather than mis-run it. */
  if (len >= 9 && memcmp(name, "NoisePSK_", 9) == 0) {
    why = "obsolete NoisePSK_ scheme unsupported";
    rc = YZ_E_UNSUPPORTED;
    goto out;
  }
  /* Five fields: Noise_PATTERN_DH_CIPHER_HASH (section 8). */
  for (size_t i = 0; i <= len; i++) {
    if (i < len && name[i] != '_') {
      if (!is_alnum(name[i]) && name[i] != '+') {
        why = "invalid character in protocol name";
        rc = YZ_E_PROTOCOL_NAME;
        goto out;
      }
      continue;
    }
    if (nf == 5) {
      why = "protocol name has more than five fields";
      rc = YZ_E_PROTOCOL_NAME;
      goto out;
    }
    f[nf] = name + start;
    fn[nf++] = i - start;
    start = i + 1;
  }
  if (nf != 5) {
    why = "protocol name has fewer than five fields";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }
  if (!eq(f[0], fn[0], "Noise")) {
    why = "protocol name does not start with Noise_";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }

  /* DH: 25519 only; 448 and P256 are named but not in libsodium, and a
   * '+' joins a hybrid (post-quantum) DH. */
  if (eq(f[2], fn[2], "25519"))
    out->dh = YZ_NOISE_DH_25519;
  else if (eq(f[2], fn[2], "448"))
    unsup = "DH 448 unsupported";
  else if (eq(f[2], fn[2], "P256"))
    unsup = "DH P256 unsupported";
  else if (fn[2] > 0 && memchr(f[2], '+', fn[2]) && f[2][0] != '+' &&
           f[2][fn[2] - 1] != '+')
    unsup = "hybrid DH unsupported";
  else {
    why = "unknown DH function";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }

  if (eq(f[3], fn[3], "ChaChaPoly"))
    out->cipher = YZ_NOISE_CIPHER_CHACHAPOLY;
  else if (eq(f[3], fn[3], "AESGCM")) {
    out->cipher = YZ_NOISE_CIPHER_AESGCM;
    if (!yz__noise_aead_aesgcm_ok())
      unsup = unsup ? unsup : "cipher AESGCM unsupported: no hardware AES";
  } else if (eq(f[3], fn[3], "XChaChaPoly"))
    unsup = unsup ? unsup : "cipher XChaChaPoly unsupported";
  else {
    why = "unknown cipher function";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }

  if (eq(f[4], fn[4], "SHA256"))
    out->hash = YZ_NOISE_HASH_SHA256;
  else if (eq(f[4], fn[4], "SHA512"))
    out->hash = YZ_NOISE_HASH_SHA512;
  else if (eq(f[4], fn[4], "BLAKE2b"))
    out->hash = YZ_NOISE_HASH_BLAKE2B;
  else if (eq(f[4], fn[4], "BLAKE2s"))
    unsup = unsup ? unsup : "hash BLAKE2s unsupported";
  else {
    why = "unknown hash function";
    rc = YZ_E_PROTOCOL_NAME;
    goto out;
  }

  if ((rc = parse_pattern(out, f[1], fn[1], why_out, &unsup)) != 0)
    goto out;
  if (unsup) {
    why = unsup;
    rc = YZ_E_UNSUPPORTED;
    goto out;
  }
  memcpy(out->name, name, len);
  out->name[len] = '\0';
  out->name_len = (uint8_t)len;
  return 0;

out:
  memset(out, 0, sizeof *out);
  if (reason)
    *reason = why;
  return rc;
}

size_t yz_noise_protocol_hashlen(const yz_noise_protocol *p)
{
  return yz__noise_hashlen(p->hash);
}

bool yz_noise_protocol_is_oneway(const yz_noise_protocol *p)
{
  return (p->flags & YZ__PROTO_ONEWAY) != 0;
}
