/*
 * yz/address.h: node addresses. The dialer always knows whom it dials: a
 * node address is a WebSocket URL that carries the expected node ID in
 * its fragment,
 *
 *   ws://HOST[:PORT][/PATH]#NODEID      plain WebSocket (node to node)
 *   wss://HOST[:PORT][/PATH]#NODEID     WebSocket over TLS
 *
 * for example
 *
 *   ws://192.0.2.7:7700/#21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9
 *
 * A URL fragment is never sent to the server (RFC 3986 3.5), so the node
 * ID stays a local expectation that the handshake checks: a different ID
 * aborts the link with YZ_E_PEER_ID_MISMATCH (docs/protocol.md).
 *
 * The grammar, strict and bounded (docs/operations.md, "Node addresses"):
 * - scheme: exactly "ws" or "wss", lowercase;
 * - HOST: an IPv4 dotted quad (four decimal numbers 0-255, no leading
 *   zeros), an IPv6 address in brackets (no zone ID), or a DNS name
 *   (labels of letters, digits and '-', 1-63 characters, not starting or
 *   ending with '-', at most 253 characters, no trailing dot, last label
 *   not all digits); no user info;
 * - PORT: 1-65535, decimal, no leading zero; default 80 (ws), 443 (wss);
 * - PATH: starts with '/', at most 255 characters of RFC 3986 path and
 *   query characters (percent escapes well formed); default "/";
 * - NODEID: exactly 64 lowercase hex digits (yz_node_id_parse()).
 * An address without '#NODEID' is *unpinned*: it parses, with has_id
 * false, and callers must refuse it (yz_address_require_id()) unless the
 * user explicitly asked for an unpinned dial.
 */
#ifndef YZ_ADDRESS_H
#define YZ_ADDRESS_H

#include "yz/common.h"
#include "yz/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  YZ_ADDRESS_HOST_MAX = 253, /* characters of a DNS name (RFC 1035 2.3.4) */
  YZ_ADDRESS_PATH_MAX = 255, /* characters of PATH */
  /* A buffer this size holds any formatted address and its NUL; longer
   * input is refused by the parser. */
  YZ_ADDRESS_TEXT_MAX = 600,
  YZ_ADDRESS_DEFAULT_WS_PORT = 80,
  YZ_ADDRESS_DEFAULT_WSS_PORT = 443,
};

typedef enum yz_address_host_type {
  YZ_ADDRESS_DNS = 0,
  YZ_ADDRESS_IPV4 = 1,
  YZ_ADDRESS_IPV6 = 2,
} yz_address_host_type;

/* A parsed node address. Plain data: fill it by hand or with
 * yz_address_parse(). */
typedef struct yz_address {
  bool tls; /* wss:// */
  yz_address_host_type host_type;
  /* NUL-terminated, canonical: a DNS name in lowercase, an IPv6 address
   * in RFC 5952 form WITHOUT brackets (as getaddrinfo() and socket APIs
   * want it; yz_address_format() adds them). */
  char host[YZ_ADDRESS_HOST_MAX + 3];
  uint16_t port; /* never 0 after yz_address_parse(); 0 from
                   * yz_address_parse_listen() lets the system pick */
  char path[YZ_ADDRESS_PATH_MAX + 1]; /* NUL-terminated, starts with '/' */
  bool has_id;                        /* false: an unpinned address */
  yz_node_id id;                      /* the expected node ID if has_id */
} yz_address;

/*
 * Parse a node address from text (len bytes, no NUL needed; an embedded
 * NUL is an error). 0, or YZ_E_ADDRESS with *reason (if not NULL) saying
 * what is wrong, e.g. "unknown scheme 'http' (want ws or wss)". The reason
 * is static or in a thread-local buffer valid until the next parse in the
 * same thread. On error *out is zeroed. An unpinned address is not an
 * error here: check out->has_id or call yz_address_require_id().
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_address_parse(yz_address *out,
                                              const uint8_t *text, size_t len,
                                              const char **reason);

/*
 * Parse a listen address, for yz_link_listen() and `yz-node --listen`:
 * "ws[s]://HOST[:PORT][/PATH]" with the grammar above, except that PORT
 * may be 0 (the system picks a free port) and '#NODEID' is refused (a
 * listener is the local node). HOST is the interface address to bind
 * ("0.0.0.0", "[::]" for all): an IPv4 or IPv6 address, not a name. 0, or YZ_E_ADDRESS with *reason as for
 * yz_address_parse(). has_id is always false.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_address_parse_listen(yz_address *out,
                                                     const uint8_t *text,
                                                     size_t len,
                                                     const char **reason);

/*
 * The canonical text of an address, NUL-terminated, into out (cap bytes;
 * YZ_ADDRESS_TEXT_MAX always suffices): lowercase scheme and host, IPv6
 * in brackets, the port always written, the path, then '#NODEID' if
 * has_id. Returns the length without the NUL, YZ_E_TOO_LARGE if cap is
 * too small, or YZ_E_INVAL for a struct that no parse could produce (port
 * 0, unterminated or empty host, path not starting with '/').
 * yz_address_parse() of the output gives back the same struct.
 */
YZ_EXPORT int yz_address_format(const yz_address *a, char *out, size_t cap);

/*
 * The check a dialer makes unless an unpinned dial was asked for: 0 if a
 * carries a node ID, else YZ_E_ADDRESS with a reason that says how to fix
 * it.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_address_require_id(const yz_address *a,
                                                   const char **reason);

#ifdef __cplusplus
}
#endif
#endif /* YZ_ADDRESS_H */
