/*
 * url.h: the ws:// and wss:// URLs of listeners and dials.
 */
#ifndef YZ_LINK_URL_H
#define YZ_LINK_URL_H

#include "yz/common.h"

enum {
  YZ__URL_HOST_MAX = 253,
  YZ__URL_PATH_MAX = 1024,
  YZ__URL_FRAGMENT_MAX = 128,
};

typedef struct yz__url {
  bool tls;                            /* wss:// */
  bool ipv6;                           /* host was a [bracketed] literal */
  char host[YZ__URL_HOST_MAX + 1];     /* without brackets */
  uint16_t port;                       /* default 80 / 443 */
  bool has_port;
  char path[YZ__URL_PATH_MAX + 1];     /* "/" if absent; query kept */
  char fragment[YZ__URL_FRAGMENT_MAX + 1]; /* after '#', "" if none */
  bool has_fragment;
} yz__url;

/*
 * Parse "ws://HOST[:PORT][/PATH][#FRAGMENT]" (or wss://). HOST is a name,
 * an IPv4 literal or a bracketed IPv6 literal; no user info. Bounded and
 * strict: 0, YZ_E_ADDRESS with *reason.
 */
int yz__url_parse(yz__url *u, const uint8_t *p, size_t n,
                  const char **reason);

#endif
