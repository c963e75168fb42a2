/*
 * http1.c: the HTTP/1.1 heads of the WebSocket opening handshake (see
 * http1.h). Grammar from RFC 9112 (message format) and RFC 9110 (fields,
 * tokens); the WebSocket rules from RFC 6455 section 4.
 */
#include "link/http1.h"

#include "yz/session.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 1.3 */

static int fail(const char **why, const char *text, int err) {
  if (why != NULL)
    *why = text;
  return err;
}

/* RFC 9113 3.4: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n";

int yz__http1_head_len(const uint8_t *p, size_t n) {
  size_t cmp = n < sizeof h2_preface - 1 ? n : sizeof h2_preface - 1;
  if (cmp >= 3 && memcmp(p, h2_preface, cmp) == 0)
    return cmp == sizeof h2_preface - 1 ? YZ_E_MALFORMED : 0;
  size_t lim = n < YZ__HTTP1_MAX_HEAD ? n : YZ__HTTP1_MAX_HEAD;
  for (size_t i = 3; i < lim; i++)
    if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' &&
        p[i - 3] == '\r')
      return (int)(i + 1);
  return n >= YZ__HTTP1_MAX_HEAD ? YZ_E_TOO_LARGE : 0;
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB (RFC 9110 5.5; obs-text allowed) */
static bool is_fchar(uint8_t c) {
  return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

typedef struct span {
  const uint8_t *p;
  size_t n;
} span;

static bool span_ieq(span s, const char *lit) {
  size_t l = strlen(lit);
  if (s.n != l)
    return false;
  for (size_t i = 0; i < l; i++) {
    uint8_t a = s.p[i], b = (uint8_t)lit[i];
    if (a >= 'A' && a <= 'Z')
      a = (uint8_t)(a + 32);
    if (b >= 'A' && b <= 'Z')
      b = (uint8_t)(b + 32);
    if (a != b)
      return false;
  }
  return true;
}

static bool span_eq(span s, const char *lit) {
  return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Walk the comma-separated tokens of a field value (RFC 9110 5.6.1).
 * Returns false at the end; empty elements are skipped. */
static bool next_token(span *v, span *tok) {
  while (v->n > 0 && (v->p[0] == ',' || v->p[0] == ' ' || v->p[0] == '\t')) {
    v->p++;
    v->n--;
  }
  if (v->n == 0)
    return false;
  size_t i = 0;
  while (i < v->n && v->p[i] != ',')
    i++;
  tok->p = v->p;
  tok->n = i;
  while (tok->n > 0 &&
         (tok->p[tok->n - 1] == ' ' || tok->p[tok->n - 1] == '\t'))
    tok->n--;
  v->p += i;
  v->n -= i;
  return true;
}

static bool list_has_ci(span v, const char *want) {
  span t;
  while (next_token(&v, &t))
    if (span_ieq(t, want))
      return true;
  return false;
}

/* The head, line by line: the start line, then the fields. */
typedef struct head {
  const uint8_t *p;
  size_t n, off;
  unsigned fields;
} head;

/* The next line without its CRLF. 1, 0 (the empty line that ends the
 * head), or an error. */
static int next_line(head *h, span *line, const char **why) {
  size_t s = h->off;
  size_t i = s;
  while (i < h->n && h->p[i] != '\r' && h->p[i] != '\n')
    i++;
  if (i + 1 >= h->n || h->p[i] != '\r' || h->p[i + 1] != '\n')
    return fail(why, "a line not ended by CRLF", YZ_E_MALFORMED);
  if (i - s > YZ__HTTP1_MAX_LINE)
    return fail(why, "a line too long", YZ_E_TOO_LARGE);
  line->p = h->p + s;
  line->n = i - s;
  h->off = i + 2;
  return line->n > 0 ? 1 : 0;
}

/* name ":" OWS value OWS (RFC 9112 5); no whitespace before the colon,
 * no obs-fold (5.2). */
static int next_field(head *h, span *name, span *value, const char **why) {
  span line;
  int rc = next_line(h, &line, why);
  if (rc <= 0)
    return rc;
  if (++h->fields > YZ__HTTP1_MAX_HEADERS)
    return fail(why, "too many header fields", YZ_E_TOO_LARGE);
  size_t i = 0;
  while (i < line.n && is_tchar(line.p[i]))
    i++;
  if (i == 0 || i >= line.n || line.p[i] != ':')
    return fail(why, "a malformed header field", YZ_E_MALFORMED);
  name->p = line.p;
  name->n = i;
  i++;
  while (i < line.n && (line.p[i] == ' ' || line.p[i] == '\t'))
    i++;
  size_t e = line.n;
  while (e > i && (line.p[e - 1] == ' ' || line.p[e - 1] == '\t'))
    e--;
  for (size_t j = i; j < e; j++)
    if (!is_fchar(line.p[j]))
      return fail(why, "a control character in a header field",
                  YZ_E_MALFORMED);
  value->p = line.p + i;
  value->n = e - i;
  return 1;
}

static int head_start(head *h, const uint8_t *p, size_t n, const char **why) {
  if (n > YZ__HTTP1_MAX_HEAD)
    return fail(why, "a head above 8192 bytes", YZ_E_TOO_LARGE);
  int hl = yz__http1_head_len(p, n);
  if (hl < 0)
    return fail(why,
                hl == YZ_E_MALFORMED ? "the HTTP/2 connection preface"
                                     : "a head above 8192 bytes",
                hl);
  if (hl == 0)
    return fail(why, "an incomplete head", YZ_E_MALFORMED);
  if ((size_t)hl != n)
    return fail(why, "bytes after the head", YZ_E_TRAILING);
  h->p = p;
  h->n = n;
  h->off = 0;
  h->fields = 0;
  return 0;
}

/* yz.link.v1 among the tokens of a Sec-WebSocket-Protocol field
 * (case-sensitive: RFC 6455 4.1 compares subprotocols as strings). */
static bool list_has(span v, const char *want) {
  span t;
  while (next_token(&v, &t))
    if (span_eq(t, want))
      return true;
  return false;
}

int yz__http1_parse_request(yz__http1_request *out, const uint8_t *p,
                            size_t n, const char **why) {
  memset(out, 0, sizeof *out);
  head h;
  int rc = head_start(&h, p, n, why);
  if (rc != 0)
    return rc;
  span line;
  rc = next_line(&h, &line, why);
  if (rc <= 0)
    return rc < 0 ? rc : fail(why, "an empty request line", YZ_E_MALFORMED);
  /* request-line = method SP request-target SP HTTP-version */
  size_t i = 0;
  while (i < line.n && is_tchar(line.p[i]))
    i++;
  span method = {line.p, i};
  if (i == 0 || i >= line.n || line.p[i] != ' ')
    return fail(why, "a malformed request line", YZ_E_MALFORMED);
  size_t t0 = ++i;
  while (i < line.n && line.p[i] > 0x20 && line.p[i] != 0x7f)
    i++;
  if (i == t0 || i >= line.n || line.p[i] != ' ')
    return fail(why, "a malformed request line", YZ_E_MALFORMED);
  span version = {line.p + i + 1, line.n - i - 1};
  if (!span_eq(version, "HTTP/1.1"))
    return fail(why, "not an HTTP/1.1 request", YZ_E_MALFORMED);

  bool host = false, upgrade = false, upgrade_ws = false, conn_up = false;
  bool version13 = false, has_version = false, key = false, body = false;
  bool h2settings = false, proto_seen = false;
  span name, value;
  while ((rc = next_field(&h, &name, &value, why)) > 0) {
    if (span_ieq(name, "host")) {
      if (host)
        return fail(why, "two Host fields", YZ_E_MALFORMED);
      host = true;
    } else if (span_ieq(name, "upgrade")) {
      if (upgrade)
        return fail(why, "two Upgrade fields", YZ_E_MALFORMED);
      upgrade = true;
      /* websocket and nothing else: h2c (RFC 7540 3.2) or any other
       * protocol is refused */
      span v = value, t;
      unsigned count = 0;
      upgrade_ws = true;
      while (next_token(&v, &t)) {
        count++;
        if (!span_ieq(t, "websocket"))
          upgrade_ws = false;
      }
      if (count == 0)
        upgrade_ws = false;
    } else if (span_ieq(name, "connection")) {
      if (list_has_ci(value, "upgrade"))
        conn_up = true;
    } else if (span_ieq(name, "sec-websocket-version")) {
      if (has_version)
        return fail(why, "two Sec-WebSocket-Version fields", YZ_E_MALFORMED);
      has_version = true;
      version13 = span_eq(value, "13");
    } else if (span_ieq(name, "sec-websocket-key")) {
      if (key)
        return fail(why, "two Sec-WebSocket-Key fields", YZ_E_MALFORMED);
      /* 4.1: base64 of 16 bytes */
      uint8_t raw[16];
      size_t rl = 0;
      const char *end = NULL;
      if (value.n != YZ__HTTP1_KEY_LEN ||
          sodium_base642bin(raw, sizeof raw, (const char *)value.p, value.n,
                            NULL, &rl, &end,
                            sodium_base64_VARIANT_ORIGINAL) != 0 ||
          rl != 16 || end != (const char *)value.p + value.n)
        return fail(why, "a malformed Sec-WebSocket-Key", YZ_E_MALFORMED);
      memcpy(out->key, value.p, YZ__HTTP1_KEY_LEN);
      out->key[YZ__HTTP1_KEY_LEN] = '\0';
      key = true;
    } else if (span_ieq(name, "sec-websocket-protocol")) {
      /* every field must list it (several fields form one list; asking
       * for it in one is enough, RFC 9110 5.3) */
      if (list_has(value, YZ_SESSION_WS_SUBPROTOCOL))
        proto_seen = true;
    } else if (span_ieq(name, "content-length") ||
               span_ieq(name, "transfer-encoding")) {
      body = true;
    } else if (span_ieq(name, "http2-settings")) {
      h2settings = true;
    }
  }
  if (rc < 0)
    return rc;
  if (upgrade && (!upgrade_ws || h2settings)) {
    out->kind = YZ__HTTP1_OTHER_UPGRADE;
    return 0;
  }
  if (!upgrade) {
    out->kind = YZ__HTTP1_PLAIN;
    return 0;
  }
  /* 4.2.1: a WebSocket upgrade */
  if (!span_eq(method, "GET"))
    return fail(why, "a WebSocket upgrade not by GET", YZ_E_MALFORMED);
  if (body)
    return fail(why, "a WebSocket upgrade with a body", YZ_E_MALFORMED);
  if (!host)
    return fail(why, "a WebSocket upgrade without Host", YZ_E_MALFORMED);
  if (!conn_up)
    return fail(why, "a WebSocket upgrade without Connection: upgrade",
                YZ_E_MALFORMED);
  if (!key)
    return fail(why, "a WebSocket upgrade without Sec-WebSocket-Key",
                YZ_E_MALFORMED);
  if (!version13)
    return fail(why, "a WebSocket upgrade not of version 13",
                YZ_E_MALFORMED);
  out->kind = YZ__HTTP1_WEBSOCKET;
  out->has_subprotocol = proto_seen;
  return 0;
}

int yz__http1_parse_response(const uint8_t *p, size_t n,
                             const char *key_accept, unsigned *status,
                             bool *subprotocol_ok, const char **why) {
  *status = 0;
  *subprotocol_ok = false;
  head h;
  int rc = head_start(&h, p, n, why);
  if (rc != 0)
    return rc;
  span line;
  rc = next_line(&h, &line, why);
  if (rc <= 0)
    return rc < 0 ? rc : fail(why, "an empty status line", YZ_E_MALFORMED);
  /* status-line = HTTP-version SP 3DIGIT SP [reason-phrase] */
  if (line.n < 12 || memcmp(line.p, "HTTP/1.1 ", 9) != 0 ||
      line.p[9] < '1' || line.p[9] > '5' || line.p[10] < '0' ||
      line.p[10] > '9' || line.p[11] < '0' || line.p[11] > '9' ||
      (line.n > 12 && line.p[12] != ' '))
    return fail(why, "a malformed status line", YZ_E_MALFORMED);
  for (size_t i = 13; i < line.n; i++)
    if (!is_fchar(line.p[i]))
      return fail(why, "a malformed status line", YZ_E_MALFORMED);
  *status = (unsigned)(line.p[9] - '0') * 100u +
            (unsigned)(line.p[10] - '0') * 10u + (unsigned)(line.p[11] - '0');
  if (*status != 101)
    return fail(why, "the upgrade was refused", YZ_E_UNREACHABLE);
  bool upgrade = false, conn_up = false, accept = false, proto = false;
  bool proto_ok = false; /* told only when the whole head is good */
  span name, value;
  while ((rc = next_field(&h, &name, &value, why)) > 0) {
    if (span_ieq(name, "upgrade")) {
      if (upgrade || !span_ieq(value, "websocket"))
        return fail(why, "a 101 not to websocket", YZ_E_MALFORMED);
      upgrade = true;
    } else if (span_ieq(name, "connection")) {
      if (list_has_ci(value, "upgrade"))
        conn_up = true;
    } else if (span_ieq(name, "sec-websocket-accept")) {
      if (accept || value.n != YZ__HTTP1_ACCEPT_LEN ||
          sodium_memcmp(value.p, key_accept, YZ__HTTP1_ACCEPT_LEN) != 0)
        return fail(why, "a wrong Sec-WebSocket-Accept", YZ_E_MALFORMED);
      accept = true;
    } else if (span_ieq(name, "sec-websocket-protocol")) {
      /* 4.1: the server selects one of those offered (we offered one) */
      if (proto)
        return fail(why, "two Sec-WebSocket-Protocol fields",
                    YZ_E_MALFORMED);
      proto = true;
      proto_ok = span_eq(value, YZ_SESSION_WS_SUBPROTOCOL);
    } else if (span_ieq(name, "sec-websocket-extensions")) {
      return fail(why, "an extension that was not offered", YZ_E_MALFORMED);
    }
  }
  if (rc < 0)
    return rc;
  if (!upgrade || !conn_up || !accept)
    return fail(why, "an incomplete 101 (Upgrade, Connection or "
                     "Sec-WebSocket-Accept missing)",
                YZ_E_MALFORMED);
  *subprotocol_ok = proto_ok;
  return 0;
}

int yz__http1_accept(const char *key, char out[YZ__HTTP1_ACCEPT_LEN + 1]) {
  char in[YZ__HTTP1_KEY_LEN + sizeof WS_GUID];
  size_t kl = strlen(key);
  if (kl != YZ__HTTP1_KEY_LEN)
    return YZ_E_INVAL;
  memcpy(in, key, kl);
  memcpy(in + kl, WS_GUID, sizeof WS_GUID - 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  /* SHA-1 only because RFC 6455 4.2.2 names it; nothing secret here */
  if (EVP_Digest(in, kl + sizeof WS_GUID - 1, md, &ml, EVP_sha1(), NULL) !=
          1 ||
      ml != 20)
    return YZ_E_IO;
  sodium_bin2base64(out, YZ__HTTP1_ACCEPT_LEN + 1, md, 20,
                    sodium_base64_VARIANT_ORIGINAL);
  return 0;
}
