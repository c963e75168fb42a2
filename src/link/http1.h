/*
 * http1.h: the HTTP/1.1 heads of the WebSocket opening handshake (RFC 6455
 * section 4, RFC 9112), for the native backend (native.c). Strict and
 * bounded: one head of at most YZ__HTTP1_MAX_HEAD bytes, lines of at most
 * YZ__HTTP1_MAX_LINE, at most YZ__HTTP1_MAX_HEADERS header fields; no
 * obsolete line folding, no bare LF, no body. HTTP/2 is never spoken
 * (DESIGN.md): its preface and the h2c upgrade are recognised only to be
 * refused.
 *
 * The parsers take (const uint8_t *, size_t) of exactly one head, through
 * its empty line; yz__http1_head_len() finds where it ends.
 */
#ifndef YZ_LINK_HTTP1_H
#define YZ_LINK_HTTP1_H

#include "yz/common.h"

enum {
  YZ__HTTP1_MAX_HEAD = 8192,
  YZ__HTTP1_MAX_LINE = 4096,
  YZ__HTTP1_MAX_HEADERS = 64,
  YZ__HTTP1_KEY_LEN = 24,    /* base64 of the 16-byte Sec-WebSocket-Key */
  YZ__HTTP1_ACCEPT_LEN = 28, /* base64 of a SHA-1 */
};

/*
 * The length of the head at the start of p[0..n) (through CRLF CRLF): > 0;
 * 0 if it is not complete yet; YZ_E_TOO_LARGE if no head ends within
 * YZ__HTTP1_MAX_HEAD bytes; YZ_E_MALFORMED for the HTTP/2 connection
 * preface (RFC 9113 3.4), recognised from its first line.
 */
int yz__http1_head_len(const uint8_t *p, size_t n);

/* What an upgrade request asks for. */
typedef enum yz__http1_kind {
  YZ__HTTP1_WEBSOCKET = 1, /* a WebSocket upgrade (RFC 6455 4.2.1) */
  YZ__HTTP1_PLAIN,         /* a request without Upgrade: answer, close */
  YZ__HTTP1_OTHER_UPGRADE, /* h2c or another protocol: refused */
} yz__http1_kind;

typedef struct yz__http1_request {
  yz__http1_kind kind;
  /* WEBSOCKET: its key, and whether yz.link.v1 is among the tokens of
   * every Sec-WebSocket-Protocol field (docs/protocol.md 1, "The
   * WebSocket upgrade") */
  char key[YZ__HTTP1_KEY_LEN + 1];
  bool has_subprotocol;
} yz__http1_request;

/*
 * Parse a request head (exactly one, p[0..n) through its empty line). 0;
 * YZ_E_TRAILING (bytes after the empty line); YZ_E_TOO_LARGE (above the
 * caps); YZ_E_MALFORMED with *why: a bad request line or field, a method
 * other than GET, a version other than HTTP/1.1, a body (Content-Length,
 * Transfer-Encoding), a WebSocket upgrade without a Host, a valid
 * Sec-WebSocket-Key, "Connection: upgrade" or version 13, or with
 * duplicated fields.
 */
int yz__http1_parse_request(yz__http1_request *out, const uint8_t *p,
                            size_t n, const char **why);

/*
 * Parse a response head to our upgrade request: 0 only for "HTTP/1.1 101"
 * with "Upgrade: websocket", "Connection: upgrade" and the
 * Sec-WebSocket-Accept that key_accept (YZ__HTTP1_ACCEPT_LEN characters)
 * gives. *status gets the status code whenever the status line parsed (0
 * else). *subprotocol_ok: the response selected exactly yz.link.v1 (a 101
 * without it is a dial failure with YZ_E_VERSION, docs/protocol.md 1).
 * Errors as for requests; YZ_E_UNREACHABLE for a status other than 101;
 * YZ_E_MALFORMED for an extension (none was offered).
 */
int yz__http1_parse_response(const uint8_t *p, size_t n,
                             const char *key_accept, unsigned *status,
                             bool *subprotocol_ok, const char **why);

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2: base64(SHA-1(key ||
 * GUID))); out gets YZ__HTTP1_ACCEPT_LEN characters and a NUL. 0 or
 * YZ_E_IO (libcrypto failed). */
int yz__http1_accept(const char *key, char out[YZ__HTTP1_ACCEPT_LEN + 1]);

#endif
