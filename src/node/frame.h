/*
 * Node messages: the framing the node layer puts inside one application
 * message of a session (docs/protocol.md, "Node messages").
 *
 *   offset  size  field
 *   0       1     kind: 1 message, 2 request, 3 response, 4 error
 *   1       2     protocol number, big-endian, never 0
 *   3       8     request id, big-endian, never 0   (request/response/error)
 *   11      2     error code, big-endian, never 0   (error only)
 *   ...           body: the rest of the message (for an error: a reason
 *                 text of at most YZ__NODE_REASON_MAX bytes)
 *
 * The codec is pure: bytes in, a view out; no allocation. The parsed view
 * points into the input.
 */
#ifndef YZ_NODE_FRAME_H
#define YZ_NODE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "yz/common.h"

enum yz__node_kind {
  YZ__NODE_MESSAGE = 1,
  YZ__NODE_REQUEST = 2,
  YZ__NODE_RESPONSE = 3,
  YZ__NODE_ERROR = 4,
};

enum {
  YZ__NODE_HDR_MESSAGE = 3,  /* kind, protocol */
  YZ__NODE_HDR_REQUEST = 11, /* kind, protocol, id */
  YZ__NODE_HDR_ERROR = 13,   /* kind, protocol, id, code */
  YZ__NODE_HDR_MAX = 13,
  YZ__NODE_REASON_MAX = 256,
};

typedef struct yz__node_frame {
  uint8_t kind;      /* enum yz__node_kind */
  uint16_t proto;    /* != 0 */
  uint64_t id;       /* != 0 for request/response/error; 0 for message */
  uint16_t code;     /* != 0 for error; 0 otherwise */
  const uint8_t *body;
  size_t body_len;
} yz__node_frame;

/* The header length of a kind; 0 for an unknown kind. */
size_t yz__node_frame_header_len(uint8_t kind);

/*
 * Parse one node message. 0 and *f filled (body points into p), or
 * YZ_E_TRUNCATED (shorter than its header), YZ_E_MALFORMED (unknown kind,
 * protocol 0, id 0, code 0, or a field that its kind does not carry) or
 * YZ_E_TOO_LARGE (an error reason over YZ__NODE_REASON_MAX); *reason (if
 * not NULL) gets a static explanation.
 */
int yz__node_frame_parse(yz__node_frame *f, const uint8_t *p, size_t n,
                         const char **reason);

/*
 * Write the header of f (everything but the body) into out, which has room
 * for YZ__NODE_HDR_MAX bytes; returns the header length, or YZ_E_INVAL if
 * f is not valid for its kind (the same rules the parser applies,
 * including the reason bound on f->body_len for an error).
 */
int yz__node_frame_encode_header(const yz__node_frame *f,
                                 uint8_t out[YZ__NODE_HDR_MAX]);

#endif
