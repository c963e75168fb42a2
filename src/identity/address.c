/*
 * Node addresses: ws[s]://HOST[:PORT][/PATH]#NODEID (yz/address.h and
 * docs/operations.md, "Node addresses"). A pure, bounded parser: no
 * allocation, no name resolution; the only library call on the input is
 * inet_pton()/inet_ntop() for IPv6 literals.
 */
#include "yz/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* Reasons that quote the input live here (see yz_address_parse()). */
static _Thread_local char reason_buf[160];

static bool is_digit(uint8_t c)
{
  return c >= '0' && c <= '9';
}

static bool is_alpha(uint8_t c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(uint8_t c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t to_lower(uint8_t c)
{
  return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

/* RFC 3986 3.3 and 3.4: pchar / "/" / "?" (percent escapes checked
 * apart). Everything else must be percent-encoded. */
static bool is_path_char(uint8_t c)
{
  if (is_alpha(c) || is_digit(c))
    return true;
  return strchr("-._~!$&'()*+,;=:@/?%", c) != NULL && c != '\0';
}

/* Strict dotted quad: four decimal numbers 0-255, no leading zeros (a
 * leading zero means octal to inet_aton(); refuse the ambiguity). */
static bool parse_ipv4(const uint8_t *p, size_t n)
{
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || p[i] != '.')
        return false;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < n && is_digit(p[i]) && i - start < 3)
      v = v * 10 + (unsigned)(p[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && p[start] == '0'))
      return false;
  }
  return i == n;
}

/* RFC 1123 2.1 host names: labels of letters, digits and '-'. */
static const char *check_dns_name(const uint8_t *p, size_t n)
{
  if (n > YZ_ADDRESS_HOST_MAX)
    return "host name is longer than 253 characters";
  size_t label = 0;
  bool all_digits = true;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || p[i] == '.') {
      if (label == 0)
        return i == n && n > 0 ? "host name ends with a dot (write it "
                                 "without the final dot)"
                               : "host name has an empty label ('..' or a "
                                 "leading dot)";
      if (p[i - 1] == '-')
        return "a host name label ends with '-'";
      if (i == n && all_digits)
        return "host name ends in an all-digit label: neither an IPv4 "
               "address nor a DNS name";
      label = 0;
      all_digits = true;
      continue;
    }
    uint8_t c = p[i];
    if (!is_alpha(c) && !is_digit(c) && c != '-')
      return "host name contains a character other than letters, digits, "
             "'-' and '.'";
    if (label == 0 && c == '-')
      return "a host name label starts with '-'";
    if (++label > 63)
      return "a host name label is longer than 63 characters";
    if (!is_digit(c))
      all_digits = false;
  }
  return NULL;
}

/* listen: a listener's address (yz_address_parse_listen()): PORT 0 allowed,
 * no '#NODEID'. */
static int parse(yz_address *out, const uint8_t *p, size_t n,
                 const char **reason, bool listen)
{
  const char *why = NULL;
  size_t i = 0;

  memset(out, 0, sizeof *out);
  if (n == 0) {
    why = "address is empty";
    goto fail;
  }
  if (n >= YZ_ADDRESS_TEXT_MAX) {
    why = "address is longer than 599 characters";
    goto fail;
  }
  for (size_t k = 0; k < n; k++) {
    if (p[k] == ' ' || p[k] == '\t' || p[k] == '\n' || p[k] == '\r') {
      why = "address contains whitespace";
      goto fail;
    }
    if (p[k] < 0x21 || p[k] > 0x7e) {
      why = "address contains a byte that is not printable ASCII";
      goto fail;
    }
  }

  /* scheme "://" (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / ".")) */
  while (i < n &&
         (is_alpha(p[i]) || (i > 0 && (is_digit(p[i]) || p[i] == '+' ||
                                       p[i] == '-' || p[i] == '.'))))
    i++;
  if (i == 0 || n - i < 3 || memcmp(p + i, "://", 3) != 0) {
    why = "address has no scheme: want ws://HOST:PORT/PATH#NODEID or "
          "wss://HOST:PORT/PATH#NODEID";
    goto fail;
  }
  if (i == 2 && memcmp(p, "ws", 2) == 0) {
    out->tls = false;
  } else if (i == 3 && memcmp(p, "wss", 3) == 0) {
    out->tls = true;
  } else if ((i == 2 || i == 3) && to_lower(p[0]) == 'w' &&
             to_lower(p[1]) == 's' && (i == 2 || to_lower(p[2]) == 's')) {
    why = "scheme must be written in lowercase: ws or wss";
    goto fail;
  } else if (i <= 16) {
    snprintf(reason_buf, sizeof reason_buf,
             "unknown scheme '%.*s' (want ws or wss)", (int)i,
             (const char *)p);
    why = reason_buf;
    goto fail;
  } else {
    why = "unknown scheme (want ws or wss)";
    goto fail;
  }
  i += 3;
  out->port =
      out->tls ? YZ_ADDRESS_DEFAULT_WSS_PORT : YZ_ADDRESS_DEFAULT_WS_PORT;

  /* authority: up to '/', '#' or the end. No '?' here: a query needs a
   * path ("/?x"), and the host checks below refuse a bare one. */
  size_t a = i;
  while (i < n && p[i] != '/' && p[i] != '#')
    i++;
  const uint8_t *auth = p + a;
  size_t alen = i - a;
  if (memchr(auth, '@', alen) != NULL) {
    why = "user info (user@) is not allowed in a node address";
    goto fail;
  }
  if (alen == 0) {
    why = "address has no host";
    goto fail;
  }

  const uint8_t *host, *port = NULL;
  size_t hlen, plen = 0;
  if (auth[0] == '[') {
    const uint8_t *close = memchr(auth, ']', alen);
    if (close == NULL) {
      why = "IPv6 address has no closing ']'";
      goto fail;
    }
    host = auth + 1;
    hlen = (size_t)(close - host);
    size_t rest = alen - (size_t)(close + 1 - auth);
    if (rest > 0) {
      if (close[1] != ':') {
        why = "unexpected characters after ']' (want ':PORT', a path or "
              "'#NODEID')";
        goto fail;
      }
      port = close + 2;
      plen = rest - 1;
    }
    if (memchr(host, '%', hlen) != NULL) {
      why = "IPv6 zone IDs ('%') are not supported in node addresses";
      goto fail;
    }
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    if (hlen == 0 || hlen >= sizeof tmp) {
      why = "malformed IPv6 address";
      goto fail;
    }
    memcpy(tmp, host, hlen);
    tmp[hlen] = '\0';
    if (inet_pton(AF_INET6, tmp, &a6) != 1 ||
        inet_ntop(AF_INET6, &a6, out->host, sizeof out->host) == NULL) {
      why = "malformed IPv6 address";
      goto fail;
    }
    out->host_type = YZ_ADDRESS_IPV6;
  } else {
    const uint8_t *colon = memchr(auth, ':', alen);
    host = auth;
    hlen = alen;
    if (colon != NULL) {
      hlen = (size_t)(colon - auth);
      port = colon + 1;
      plen = alen - hlen - 1;
      if (memchr(port, ':', plen) != NULL) {
        why = "IPv6 addresses must be written in brackets, like "
              "ws://[2001:db8::1]:7700/";
        goto fail;
      }
    }
    if (hlen == 0) {
      why = "address has no host";
      goto fail;
    }
    bool numeric = true;
    for (size_t k = 0; k < hlen; k++)
      if (!is_digit(host[k]) && host[k] != '.')
        numeric = false;
    if (numeric) {
      if (!parse_ipv4(host, hlen)) {
        why = "malformed IPv4 address (want four decimal numbers 0-255 "
              "without leading zeros, like 192.0.2.1)";
        goto fail;
      }
      out->host_type = YZ_ADDRESS_IPV4;
    } else {
      why = check_dns_name(host, hlen);
      if (why != NULL)
        goto fail;
      out->host_type = YZ_ADDRESS_DNS;
    }
    for (size_t k = 0; k < hlen; k++)
      out->host[k] = (char)to_lower(host[k]);
    out->host[hlen] = '\0';
  }

  if (port != NULL) {
    unsigned long v = 0;
    if (plen == 0) {
      why = "port is empty after ':'";
      goto fail;
    }
    for (size_t k = 0; k < plen; k++) {
      if (!is_digit(port[k])) {
        why = "port must be a decimal number";
        goto fail;
      }
    }
    if (plen > 1 && port[0] == '0') {
      why = "port has a leading zero";
      goto fail;
    }
    for (size_t k = 0; k < plen && v <= 65535; k++)
      v = v * 10 + (unsigned long)(port[k] - '0');
    if ((v == 0 && !listen) || v > 65535) {
      why = listen ? "port must be 0 to 65535 (0: the system picks one)"
                   : "port must be 1 to 65535";
      goto fail;
    }
    out->port = (uint16_t)v;
  }

  /* path: from '/' up to '#' or the end. */
  if (i < n && p[i] == '/') {
    size_t s = i;
    while (i < n && p[i] != '#')
      i++;
    size_t len = i - s;
    if (len > YZ_ADDRESS_PATH_MAX) {
      why = "path is longer than 255 characters";
      goto fail;
    }
    for (size_t k = s; k < i; k++) {
      if (!is_path_char(p[k])) {
        why = "path contains a character that must be percent-encoded";
        goto fail;
      }
      if (p[k] == '%' &&
          (k + 2 >= i || !is_hex(p[k + 1]) || !is_hex(p[k + 2]))) {
        why = "path has a malformed percent escape (want %XX)";
        goto fail;
      }
    }
    memcpy(out->path, p + s, len);
    out->path[len] = '\0';
  } else {
    strcpy(out->path, "/");
  }

  /* fragment: the expected node ID. */
  if (listen && out->host_type == YZ_ADDRESS_DNS) {
    /* The host of a listener is an interface address to bind; names are
     * not resolved (libwebsockets would take one for an interface name). */
    why = "a listen HOST must be an IP address to bind, like 0.0.0.0, [::] "
          "or 127.0.0.1 (host names such as 'localhost' are not resolved)";
    goto fail;
  }
  if (i < n && listen) {
    why = "a listen address has no '#NODEID' (a listener is this node)";
    goto fail;
  }
  if (i < n) { /* p[i] == '#' by construction */
    const uint8_t *f = p + i + 1;
    size_t flen = n - i - 1;
    const char *idwhy = NULL;
    if (flen == 0) {
      why = "empty node ID after '#': want 64 lowercase hex digits, or no "
            "'#' for an unpinned address";
      goto fail;
    }
    if (yz_node_id_parse(&out->id, f, flen, &idwhy) != 0) {
      snprintf(reason_buf, sizeof reason_buf,
               "after '#': %s (want 64 lowercase hex digits)", idwhy);
      why = reason_buf;
      goto fail;
    }
    out->has_id = true;
  }
  if (reason != NULL)
    *reason = NULL;
  return 0;

fail:
  memset(out, 0, sizeof *out);
  if (reason != NULL)
    *reason = why;
  return YZ_E_ADDRESS;
}

int yz_address_parse(yz_address *out, const uint8_t *p, size_t n,
                     const char **reason)
{
  return parse(out, p, n, reason, false);
}

int yz_address_parse_listen(yz_address *out, const uint8_t *p, size_t n,
                            const char **reason)
{
  return parse(out, p, n, reason, true);
}

int yz_address_format(const yz_address *a, char *out, size_t cap)
{
  size_t hlen = strnlen(a->host, sizeof a->host);
  size_t plen = strnlen(a->path, sizeof a->path);
  if (a->port == 0 || hlen == 0 || hlen == sizeof a->host ||
      plen == sizeof a->path || a->path[0] != '/')
    return YZ_E_INVAL;

  char idhex[YZ_NODE_ID_HEX_LEN + 1] = "";
  if (a->has_id)
    yz_node_id_to_hex(&a->id, idhex);
  bool v6 = a->host_type == YZ_ADDRESS_IPV6;
  int n = snprintf(out, cap, "%s://%s%s%s:%u%s%s%s", a->tls ? "wss" : "ws",
                   v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)a->port,
                   a->path, a->has_id ? "#" : "", idhex);
  if (n < 0)
    return YZ_E_INVAL;
  if ((size_t)n >= cap) {
    if (cap > 0)
      out[0] = '\0';
    return YZ_E_TOO_LARGE;
  }
  return n;
}

int yz_address_require_id(const yz_address *a, const char **reason)
{
  if (a->has_id) {
    if (reason != NULL)
      *reason = NULL;
    return 0;
  }
  if (reason != NULL)
    *reason = "address has no node ID ('#NODEID' after the URL): the peer's "
              "identity could not be checked, so the dial is refused; add "
              "the node ID (yz id --address URL KEYFILE prints the full "
              "address) or ask explicitly for an unpinned dial";
  return YZ_E_ADDRESS;
}
