/*
 * wsframe.c: RFC 6455 framing (see wsframe.h). Section numbers are RFC
 * 6455's.
 */
#include "link/wsframe.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

static int bad(const char **why, uint16_t *status, const char *text,
               uint16_t st, int err) {
  if (why != NULL)
    *why = text;
  if (status != NULL)
    *status = st;
  return err;
}

/* 5.2 Base Framing Protocol */
int yz__ws_parse_header(yz__ws_hdr *h, const uint8_t *p, size_t n,
                        bool from_client, size_t max, const char **why,
                        uint16_t *status) {
  if (n < 2)
    return 0;
  uint8_t b0 = p[0], b1 = p[1];
  h->fin = (b0 & 0x80) != 0;
  h->opcode = b0 & 0x0f;
  h->masked = (b1 & 0x80) != 0;
  if (b0 & 0x70) /* RSV1-3: no extension was negotiated */
    return bad(why, status, "a WebSocket frame with reserved bits set",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  bool control = (h->opcode & 0x08) != 0;
  switch (h->opcode) {
  case YZ__WS_OP_CONT:
  case YZ__WS_OP_TEXT:
  case YZ__WS_OP_BINARY:
  case YZ__WS_OP_CLOSE:
  case YZ__WS_OP_PING:
  case YZ__WS_OP_PONG:
    break;
  default:
    return bad(why, status, "a WebSocket frame with a reserved opcode",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  }
  /* 5.1: a server MUST close on an unmasked client frame; a client MUST
   * close on a masked server frame */
  if (h->masked != from_client)
    return bad(why, status,
               from_client ? "an unmasked WebSocket frame from a client"
                           : "a masked WebSocket frame from a server",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  uint8_t l7 = b1 & 0x7f;
  /* 5.5: control frames are not fragmented and carry at most 125 bytes */
  if (control && !h->fin)
    return bad(why, status, "a fragmented WebSocket control frame",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  if (control && l7 > YZ__WS_MAX_CONTROL)
    return bad(why, status, "a WebSocket control frame above 125 bytes",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  size_t hl = 2;
  uint64_t len = l7;
  if (l7 == 126) {
    if (n < 4)
      return 0;
    len = (uint64_t)p[2] << 8 | p[3];
    hl = 4;
    /* 5.2: "the minimal number of bytes MUST be used" */
    if (len < 126)
      return bad(why, status, "a WebSocket length not in its minimal form",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  } else if (l7 == 127) {
    if (n < 10)
      return 0;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | p[2 + i];
    hl = 10;
    if (len >> 63)
      return bad(why, status, "a WebSocket length with its top bit set",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
    if (len <= 0xffff)
      return bad(why, status, "a WebSocket length not in its minimal form",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
  }
  if (len > max)
    return bad(why, status, "a WebSocket frame above 65535 bytes",
               YZ__WS_CLOSE_TOO_BIG, YZ_E_TOO_LARGE);
  if (h->masked) {
    if (n < hl + 4)
      return 0;
    memcpy(h->mask, p + hl, 4);
    hl += 4;
  } else {
    memset(h->mask, 0, 4);
  }
  h->hlen = hl;
  h->plen = len;
  return 1;
}

size_t yz__ws_header_len(size_t len, bool masked) {
  size_t hl = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
  return hl + (masked ? 4 : 0);
}

size_t yz__ws_write_header(uint8_t *out, bool fin, uint8_t opcode, size_t len,
                           const uint8_t *mask) {
  size_t i = 0;
  out[i++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t mbit = mask != NULL ? 0x80 : 0;
  if (len < 126) {
    out[i++] = (uint8_t)(mbit | len);
  } else if (len <= 0xffff) {
    out[i++] = (uint8_t)(mbit | 126);
    out[i++] = (uint8_t)(len >> 8);
    out[i++] = (uint8_t)len;
  } else {
    out[i++] = (uint8_t)(mbit | 127);
    for (int s = 56; s >= 0; s -= 8)
      out[i++] = (uint8_t)((uint64_t)len >> s);
  }
  if (mask != NULL) {
    memcpy(out + i, mask, 4);
    i += 4;
  }
  return i;
}

/* 5.3: octet i of the payload is XORed with mask[i % 4]. The key is
 * rotated to the starting offset and repeated into a 64-bit word; the
 * loop over whole words is what the compiler vectorises. memcpy keeps the
 * loads and stores alignment-free. */
void yz__ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off) {
  uint8_t k[8];
  for (size_t i = 0; i < 8; i++)
    k[i] = mask[(off + i) & 3];
  uint64_t kw;
  memcpy(&kw, k, 8);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    memcpy(w, p + i, 32);
    w[0] ^= kw;
    w[1] ^= kw;
    w[2] ^= kw;
    w[3] ^= kw;
    memcpy(p + i, w, 32);
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    w ^= kw;
    memcpy(p + i, &w, 8);
  }
  for (; i < n; i++)
    p[i] ^= k[i & 7];
}

void yz__ws_maskgen_init(yz__ws_maskgen *g) {
  randombytes_buf(g->key, sizeof g->key);
  g->nonce = 0;
  g->used = sizeof g->buf;
}

void yz__ws_maskgen_next(yz__ws_maskgen *g, uint8_t out[4]) {
  if (g->used + 4 > sizeof g->buf) {
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    for (size_t i = 0; i < sizeof nonce; i++)
      nonce[i] = (uint8_t)(g->nonce >> (8 * i));
    g->nonce++;
    crypto_stream_chacha20(g->buf, sizeof g->buf, nonce, g->key);
    g->used = 0;
  }
  memcpy(out, g->buf + g->used, 4);
  g->used += 4;
}

void yz__ws_maskgen_clear(yz__ws_maskgen *g) { sodium_memzero(g, sizeof *g); }

bool yz__ws_close_status_valid(uint16_t st) {
  /* 7.4.1 defines 1000-1003, 1007-1011 for the wire (1004-1006 and 1015
   * are reserved or never sent); 7.4.2: 3000-4999 for libraries and
   * applications */
  if (st >= 1000 && st <= 1003)
    return true;
  if (st >= 1007 && st <= 1011)
    return true;
  return st >= 3000 && st <= 4999;
}

bool yz__utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      k = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (n - i <= k)
      return false;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (p[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k + 1;
  }
  return true;
}

void yz__ws_rx_init(yz__ws_rx *rx, bool from_client) {
  memset(rx, 0, sizeof *rx);
  rx->from_client = from_client;
}

void yz__ws_rx_clear(yz__ws_rx *rx) {
  free(rx->frag);
  rx->frag = NULL;
  rx->frag_len = rx->frag_cap = 0;
  rx->in_msg = false;
}

/* 5.4 Fragmentation: append a piece of the message being reassembled,
 * bounded by YZ__WS_MAX_MESSAGE in all. */
static int frag_append(yz__ws_rx *rx, const uint8_t *d, size_t n,
                       const char **why, uint16_t *status) {
  if (n > YZ__WS_MAX_MESSAGE - rx->frag_len)
    return bad(why, status, "a WebSocket message above 65535 bytes",
               YZ__WS_CLOSE_TOO_BIG, YZ_E_TOO_LARGE);
  if (rx->frag_len + n > rx->frag_cap) {
    size_t want = rx->frag_cap * 2;
    if (want < rx->frag_len + n)
      want = rx->frag_len + n;
    if (want < 1024)
      want = 1024;
    if (want > YZ__WS_MAX_MESSAGE)
      want = YZ__WS_MAX_MESSAGE;
    uint8_t *q = realloc(rx->frag, want);
    if (q == NULL)
      return bad(why, status, "out of memory", YZ__WS_CLOSE_UNEXPECTED,
                 YZ_E_NOMEM);
    rx->frag = q;
    rx->frag_cap = want;
  }
  if (n > 0)
    memcpy(rx->frag + rx->frag_len, d, n);
  rx->frag_len += n;
  return 0;
}

int yz__ws_rx_next(yz__ws_rx *rx, uint8_t *p, size_t n, yz__ws_ev *ev,
                   bool *got, size_t *need, const char **why,
                   uint16_t *status) {
  *got = false;
  *need = 0;
  if (rx->closed)
    return bad(why, status, "data after the WebSocket Close",
               YZ__WS_CLOSE_PROTOCOL, YZ_E_STATE);
  /* the message delivered by the last call is done with */
  if (!rx->in_msg && rx->frag != NULL)
    yz__ws_rx_clear(rx);
  yz__ws_hdr h;
  int rc = yz__ws_parse_header(&h, p, n, rx->from_client, YZ__WS_MAX_MESSAGE,
                               why, status);
  if (rc < 0)
    return rc;
  if (rc == 0) {
    *need = n + 1 > YZ__WS_MAX_HEADER ? YZ__WS_MAX_HEADER : n + 1;
    return 0;
  }
  size_t total = h.hlen + (size_t)h.plen;
  if (n < total) {
    *need = total;
    return 0;
  }
  uint8_t *d = p + h.hlen;
  size_t dl = (size_t)h.plen;
  if (h.masked)
    yz__ws_mask(d, dl, h.mask, 0);
  memset(ev, 0, sizeof *ev);
  switch (h.opcode) {
  case YZ__WS_OP_CONT:
    if (!rx->in_msg)
      return bad(why, status, "a WebSocket continuation with no message",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
    rc = frag_append(rx, d, dl, why, status);
    if (rc != 0)
      return rc;
    if (h.fin) {
      rx->in_msg = false;
      ev->type = YZ__WS_EV_MESSAGE;
      ev->text = rx->text;
      ev->data = rx->frag;
      ev->len = rx->frag_len;
      *got = true;
    }
    return (int)total;
  case YZ__WS_OP_TEXT:
  case YZ__WS_OP_BINARY:
    if (rx->in_msg)
      return bad(why, status,
                 "a new WebSocket message inside a fragmented one",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
    if (h.fin) { /* the common case: delivered from the caller's buffer */
      ev->type = YZ__WS_EV_MESSAGE;
      ev->text = h.opcode == YZ__WS_OP_TEXT;
      ev->data = d;
      ev->len = dl;
      *got = true;
      return (int)total;
    }
    rx->in_msg = true;
    rx->text = h.opcode == YZ__WS_OP_TEXT;
    rx->frag_len = 0;
    rc = frag_append(rx, d, dl, why, status);
    if (rc != 0)
      return rc;
    return (int)total;
  case YZ__WS_OP_PING:
  case YZ__WS_OP_PONG:
    ev->type = h.opcode == YZ__WS_OP_PING ? YZ__WS_EV_PING : YZ__WS_EV_PONG;
    ev->data = d;
    ev->len = dl;
    *got = true;
    return (int)total;
  default: /* YZ__WS_OP_CLOSE, 5.5.1 */
    if (dl == 1)
      return bad(why, status, "a WebSocket Close of one byte",
                 YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
    ev->status = YZ__WS_CLOSE_NO_STATUS;
    if (dl >= 2) {
      ev->status = (uint16_t)(d[0] << 8 | d[1]);
      if (!yz__ws_close_status_valid(ev->status))
        return bad(why, status, "a WebSocket Close with an invalid status",
                   YZ__WS_CLOSE_PROTOCOL, YZ_E_MALFORMED);
      if (!yz__utf8_valid(d + 2, dl - 2))
        return bad(why, status, "a WebSocket Close reason not in UTF-8",
                   YZ__WS_CLOSE_INVALID_DATA, YZ_E_MALFORMED);
    }
    ev->type = YZ__WS_EV_CLOSE;
    ev->data = d;
    ev->len = dl;
    rx->closed = true;
    *got = true;
    return (int)total;
  }
}
