/*
 * wsframe.h: RFC 6455 framing for the native WebSocket backend (native.c):
 * a strict, bounded frame-header parser, an incremental receiver that
 * reassembles fragmented messages and answers control frames, the header
 * encoder, word-at-a-time masking and a per-link mask-key stream.
 *
 * Sans-I/O: bytes in, events and bytes out. The header parser takes
 * (const uint8_t *, size_t) only; the receiver unmasks payloads in place in
 * the caller's buffer (so it takes a writable one) and holds at most one
 * message being reassembled, of at most YZ__WS_MAX_MESSAGE bytes.
 */
#ifndef YZ_LINK_WSFRAME_H
#define YZ_LINK_WSFRAME_H

#include "yz/common.h"

enum {
  /* RFC 6455 5.2 opcodes */
  YZ__WS_OP_CONT = 0x0,
  YZ__WS_OP_TEXT = 0x1,
  YZ__WS_OP_BINARY = 0x2,
  YZ__WS_OP_CLOSE = 0x8,
  YZ__WS_OP_PING = 0x9,
  YZ__WS_OP_PONG = 0xa,
  /* RFC 6455 7.4.1 status codes used here */
  YZ__WS_CLOSE_NORMAL = 1000,
  YZ__WS_CLOSE_GOING_AWAY = 1001,
  YZ__WS_CLOSE_PROTOCOL = 1002,
  YZ__WS_CLOSE_NO_STATUS = 1005, /* never on the wire */
  YZ__WS_CLOSE_INVALID_DATA = 1007,
  YZ__WS_CLOSE_TOO_BIG = 1009,
  YZ__WS_CLOSE_UNEXPECTED = 1011,
  /* A yz WebSocket message carries one Noise message of at most 65535
   * bytes (docs/protocol.md 1): no frame or message may be larger. */
  YZ__WS_MAX_MESSAGE = 65535,
  YZ__WS_MAX_CONTROL = 125, /* RFC 6455 5.5 */
  YZ__WS_MAX_HEADER = 14,   /* 2 + 8 (64-bit length) + 4 (mask) */
};

/* One parsed frame header. */
typedef struct yz__ws_hdr {
  bool fin;
  uint8_t opcode;
  bool masked;
  uint8_t mask[4];
  size_t hlen;   /* header bytes (2..14) */
  uint64_t plen; /* payload bytes */
} yz__ws_hdr;

/*
 * Parse the frame header at p[0..n). from_client: frames travel from a
 * client, so they MUST be masked (RFC 6455 5.1); else they MUST NOT be.
 * Returns 1 (header complete in *h; the payload may still be incomplete),
 * 0 (more bytes needed), or a negative code with *why and *status (the
 * Close status to answer with): YZ_E_MALFORMED (reserved bits, unknown
 * opcode, fragmented or long control frame, wrong masking, a length not in
 * its minimal encoding), YZ_E_TOO_LARGE (a payload above max).
 */
int yz__ws_parse_header(yz__ws_hdr *h, const uint8_t *p, size_t n,
                        bool from_client, size_t max, const char **why,
                        uint16_t *status);

/*
 * Write a frame header for a payload of len bytes into out (at least
 * YZ__WS_MAX_HEADER bytes); mask (4 bytes) or NULL for an unmasked frame.
 * Returns its length.
 */
size_t yz__ws_header_len(size_t len, bool masked);
size_t yz__ws_write_header(uint8_t *out, bool fin, uint8_t opcode, size_t len,
                           const uint8_t *mask);

/* XOR p[0..n) with the key, starting at key byte (off % 4); works a
 * machine word (and, vectorised, more) at a time. */
void yz__ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);

/* Mask keys for a client link: a ChaCha20 stream seeded once from the
 * system's randomness (RFC 6455 10.3 wants them unpredictable; this makes
 * no system call per frame). */
typedef struct yz__ws_maskgen {
  uint8_t key[32];
  uint64_t nonce;
  uint8_t buf[256];
  size_t used;
} yz__ws_maskgen;
void yz__ws_maskgen_init(yz__ws_maskgen *g);
void yz__ws_maskgen_next(yz__ws_maskgen *g, uint8_t out[4]);
void yz__ws_maskgen_clear(yz__ws_maskgen *g);

/* What the receiver found. */
typedef enum yz__ws_ev_type {
  YZ__WS_EV_MESSAGE = 1, /* a whole data message (binary or text) */
  YZ__WS_EV_PING,        /* answer with a PONG of the same payload */
  YZ__WS_EV_PONG,
  YZ__WS_EV_CLOSE,       /* the peer's Close; status NO_STATUS if empty */
} yz__ws_ev_type;

typedef struct yz__ws_ev {
  yz__ws_ev_type type;
  bool text;             /* a MESSAGE that was a text message */
  uint8_t *data;         /* unmasked payload, valid until the next call;
                          * writable: in the caller's buffer, or in the
                          * receiver's own (a reassembled message) */
  size_t len;
  uint16_t status;       /* CLOSE */
} yz__ws_ev;

/* The incremental receiver of one connection. */
typedef struct yz__ws_rx {
  bool from_client; /* we are the server */
  bool in_msg;      /* a fragmented message has started */
  bool text;        /* ... and is a text message */
  bool closed;      /* a Close was received: nothing more is taken */
  uint8_t *frag;    /* its data so far (malloc, freed once delivered) */
  size_t frag_len, frag_cap;
} yz__ws_rx;

void yz__ws_rx_init(yz__ws_rx *rx, bool from_client);
void yz__ws_rx_clear(yz__ws_rx *rx);

/*
 * Take the next whole frame from p[0..n) (unmasking it in place).
 * Returns the bytes consumed (> 0), with *got set when the frame completed
 * an event (a middle fragment completes none); 0 when the frame is not
 * complete yet (*need: the bytes the frame needs in all, so that the caller
 * can size its buffer; never above YZ__WS_MAX_HEADER + YZ__WS_MAX_MESSAGE);
 * or a negative code with *why and *status (the Close status to send):
 * YZ_E_MALFORMED (as for the header; a continuation with no message
 * started, a new message inside a fragmented one, a bad Close payload),
 * YZ_E_TOO_LARGE (a message above YZ__WS_MAX_MESSAGE in all),
 * YZ_E_NOMEM, YZ_E_STATE (after a Close).
 */
int yz__ws_rx_next(yz__ws_rx *rx, uint8_t *p, size_t n, yz__ws_ev *ev,
                   bool *got, size_t *need, const char **why,
                   uint16_t *status);

/* Is this a Close status a peer may send (RFC 6455 7.4)? */
bool yz__ws_close_status_valid(uint16_t st);

/* Is p[0..n) well-formed UTF-8 (RFC 3629)? */
bool yz__utf8_valid(const uint8_t *p, size_t n);

#endif
