/*
 * url.c: a strict parser for ws:// and wss:// URLs (url.h).
 */
#include "link/url.h"

#include <string.h>

static int fail(const char **reason, const char *why) {
  if (reason != NULL)
    *reason = why;
  return YZ_E_ADDRESS;
}

static bool is_host_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool is_path_char(uint8_t c) {
  /* RFC 3986 pchar plus '/' and '?', without '#' and spaces/controls */
  return c > 0x20 && c < 0x7f && c != '#' && c != '"' && c != '<' &&
         c != '>' && c != '\\' && c != '^' && c != '`' && c != '{' &&
         c != '|' && c != '}';
}

int yz__url_parse(yz__url *u, const uint8_t *p, size_t n,
                  const char **reason) {
  memset(u, 0, sizeof *u);
  size_t i;
  if (n >= 6 && memcmp(p, "wss://", 6) == 0) {
    u->tls = true;
    i = 6;
  } else if (n >= 5 && memcmp(p, "ws://", 5) == 0) {
    i = 5;
  } else {
    return fail(reason, "the URL must start with ws:// or wss://");
  }
  /* host */
  size_t hs, he;
  if (i < n && p[i] == '[') {
    hs = ++i;
    while (i < n && p[i] != ']') {
      uint8_t c = p[i];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
            (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return fail(reason, "bad character in an IPv6 literal");
      i++;
    }
    if (i >= n)
      return fail(reason, "unterminated IPv6 literal");
    he = i++;
    u->ipv6 = true;
  } else {
    hs = i;
    while (i < n && is_host_char(p[i]))
      i++;
    he = i;
  }
  if (he == hs)
    return fail(reason, "the URL has no host");
  if (he - hs > YZ__URL_HOST_MAX)
    return fail(reason, "host name too long");
  memcpy(u->host, p + hs, he - hs);
  u->host[he - hs] = '\0';
  /* port */
  u->port = u->tls ? 443 : 80;
  if (i < n && p[i] == ':') {
    i++;
    uint32_t port = 0;
    size_t ds = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      port = port * 10 + (uint32_t)(p[i] - '0');
      if (port > 65535)
        return fail(reason, "port out of range");
      i++;
    }
    if (i == ds)
      return fail(reason, "empty port");
    if (i - ds > 1 && p[ds] == '0')
      return fail(reason, "port with a leading zero");
    u->port = (uint16_t)port;
    u->has_port = true;
  }
  /* path */
  if (i < n && p[i] == '/') {
    size_t ps = i;
    while (i < n && is_path_char(p[i]))
      i++;
    if (i - ps > YZ__URL_PATH_MAX)
      return fail(reason, "path too long");
    memcpy(u->path, p + ps, i - ps);
    u->path[i - ps] = '\0';
  } else {
    strcpy(u->path, "/");
  }
  /* fragment */
  if (i < n && p[i] == '#') {
    i++;
    size_t fs = i;
    while (i < n && is_path_char(p[i]))
      i++;
    if (i - fs > YZ__URL_FRAGMENT_MAX)
      return fail(reason, "fragment too long");
    memcpy(u->fragment, p + fs, i - fs);
    u->fragment[i - fs] = '\0';
    u->has_fragment = true;
  }
  if (i != n)
    return fail(reason, "unexpected character in the URL");
  return 0;
}
