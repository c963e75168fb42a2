/*
 * The yz session state machine (docs/protocol.md): the handshake of
 * "Handshake", then "Transport frames", "Fragmentation", "Rekey",
 * "Keepalive" and "Close". Sans-I/O: bytes and time in, callbacks out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "noise/noise_internal.h"
#include "session_internal.h"
#include "testing.h"

/* Fragment layout in the receive buffer: the first fragment is decrypted
 * at offset 0, so its chunk lands at FRAG_BASE; each later fragment is
 * decrypted one byte before the end of the assembled data, so its chunk
 * lands right after it (the byte under its type byte is saved and put
 * back). No copy of fragment data ever happens. */
enum { FRAG_BASE = 5, FIRST_CHUNK = YZ_SESSION_MAX_FRAME_LEN - 5,
       MORE_CHUNK = YZ_SESSION_MAX_FRAME_LEN - 1 };

void yz_session_config_default(yz_session_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->max_message = YZ_SESSION_DEFAULT_MAX_MESSAGE;
  cfg->handshake_timeout_ms = YZ_SESSION_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  cfg->ping_idle_ms = YZ_SESSION_DEFAULT_PING_IDLE_MS;
  cfg->max_missed_pongs = YZ_SESSION_DEFAULT_MAX_MISSED_PONGS;
  cfg->rekey_after_messages = YZ_SESSION_DEFAULT_REKEY_MESSAGES;
  cfg->rekey_after_ms = YZ_SESSION_DEFAULT_REKEY_MS;
}

/* ---- buffers ------------------------------------------------------------
 *
 * Both buffers are allocated on demand and sized to need: the transmit
 * buffer grows to the largest frame sent (a few hundred bytes for a
 * session that only did its handshake), the receive buffer to the message
 * being received. A reassembly buffer is released as soon as its message
 * is delivered (docs/protocol.md section 7); buffers of at most one
 * transport message are kept while the session is busy, and released when
 * it goes idle (the keepalive PING, section 10), so that an idle session
 * holds neither. Each is wiped when it is freed, and only its own bytes,
 * which the session wrote: the wipe never touches memory never used. */

enum { BUF_MIN = 256,
       /* A full-size transport message may be a first fragment: it is
        * decrypted into a buffer with room for the next one too, so that
        * a message of two frames (a 64 KiB application message is two)
        * is assembled with no copy and no growth: the first chunk at
        * FRAG_BASE, the second decrypted one byte before its end. */
       RX_TWO = FRAG_BASE + FIRST_CHUNK - 1 + YZ_SESSION_MAX_FRAME_LEN,
       /* A receive buffer up to two transport messages is kept between
        * messages while the session is busy (no allocation, no wipe and
        * no page faults per message); a larger reassembly buffer is freed
        * as soon as its message is delivered. */
       RX_KEEP = RX_TWO };

/* The smallest power of two >= n, at least BUF_MIN, at most max (n <=
 * max). Geometric growth bounds the copies of a growing buffer. */
static size_t round_cap(size_t n, size_t max)
{
  size_t cap = BUF_MIN;
  while (cap < n)
    cap *= 2;
  return cap <= max ? cap : n > max ? n : max;
}

static void release_tx(yz_session *s)
{
  if (s->txbuf) {
    sodium_memzero(s->txbuf, s->txcap);
    free(s->txbuf);
  }
  s->txbuf = NULL;
  s->txcap = 0;
}

/* The handshake state and the peer's decoded proof live on the heap
 * only while they are needed (docs/simulator.md "Memory per link"): the
 * handshake state (about 0.8 KiB, secrets: wiped) until Split() or the
 * close, the proof (about 2.4 KiB as decoded, public) until the UP event
 * has been delivered. An established session keeps neither, so a node
 * holding thousands of links pays for them only while they handshake. */
static void release_hs(yz_session *s)
{
  if (s->hs) {
    yz_noise_hs_clear(s->hs);
    free(s->hs);
  }
  s->hs = NULL;
}

static void release_proof(yz_session *s)
{
  free(s->peer_proof);
  s->peer_proof = NULL;
}

static void release_rx(yz_session *s)
{
  if (s->rxbuf) {
    sodium_memzero(s->rxbuf, s->rxcap);
    free(s->rxbuf);
  }
  s->rxbuf = NULL;
  s->rxcap = 0;
}

/* Room for headroom + n bytes in the transmit buffer. Its content is not
 * kept across a growth: every user fills it anew. */
static int tx_reserve(yz_session *s, size_t n)
{
  size_t need = s->cfg.send_headroom + n;
  /* Also when nothing is needed: txp() of a buffer never allocated would
   * be an offset from a null pointer (an empty handshake message). */
  if (s->txbuf != NULL && need <= s->txcap)
    return 0;
  size_t cap = round_cap(need, s->cfg.send_headroom + YZ_SESSION_MAX_WIRE_LEN);
  uint8_t *b = malloc(cap);
  if (!b)
    return YZ_E_NOMEM;
  release_tx(s);
  s->txbuf = b;
  s->txcap = cap;
  return 0;
}

/* The receive buffer's size once it holds need bytes: exactly need for a
 * single message shorter than a full one, RX_TWO for a full-size one (see
 * RX_TWO); while reassembling, doubling (few copies) but never past the
 * declared total, so a 1 MiB message takes 1 MiB + 5 bytes, not 2 MiB. */
static size_t rx_target(const yz_session *s, size_t need)
{
  if (need <= s->rxcap)
    return s->rxcap;
  if (!s->frag_total)
    return need < YZ_SESSION_MAX_FRAME_LEN ? need : RX_TWO;
  size_t cap = s->rxcap * 2;
  size_t whole = FRAG_BASE + s->frag_total;
  if (cap > whole)
    cap = whole;
  return cap < need ? need : cap;
}

/* Where a transport message's plaintext goes in the receive buffer, and
 * how many bytes it needs there. */
static size_t rx_need(const yz_session *s, size_t wire_len)
{
  size_t at = s->frag_total ? FRAG_BASE + s->frag_fill - 1 : 0;
  return at + wire_len - YZ_NOISE_TAG_LEN;
}

size_t yz_session_rx_reserve(const yz_session *s, size_t wire_len)
{
  if (s->state != YZ_SESSION_UP || wire_len > YZ_SESSION_MAX_WIRE_LEN ||
      wire_len <= YZ_NOISE_TAG_LEN)
    return s->rxcap; /* rejected before the buffer grows, or not used */
  return rx_target(s, rx_need(s, wire_len));
}

size_t yz_session_rx_buffered(const yz_session *s) { return s->rxcap; }

size_t yz_session_tx_buffered(const yz_session *s) { return s->txcap; }

int yz_session_init(yz_session *s, const yz_session_config *cfg)
{
  return yz__session_init_testing(s, cfg, NULL);
}

/* The test hooks are internal (testing.h): the public configuration has no
 * way to fix the ephemeral key. */
int yz__session_init_testing(yz_session *s, const yz_session_config *cfg,
                             const yz__session_test_hooks *hooks)
{
  if (!s || !cfg)
    return YZ_E_INVAL;
  memset(s, 0, sizeof *s);
  if ((cfg->role != YZ_SESSION_INITIATOR && cfg->role != YZ_SESSION_RESPONDER) ||
      !cfg->local || !cfg->send || !cfg->event || cfg->max_message == 0 ||
      cfg->max_message > UINT32_MAX ||
      cfg->send_headroom > YZ_SESSION_MAX_HEADROOM ||
      cfg->rekey_after_messages == 0 ||
      (cfg->ping_idle_ms && cfg->max_missed_pongs == 0))
    return YZ_E_INVAL;
  /* Pinned is the default: an initiator must say whom it dials, or say
   * explicitly that it does not care (DESIGN.md). */
  if (cfg->role == YZ_SESSION_INITIATOR && !cfg->expected_peer &&
      !cfg->unpinned)
    return YZ_E_INVAL;
  if (yz_init() != 0)
    return YZ_E_IO;
  /* Parsed per session (a few hundred nanoseconds): no shared state. */
  yz_noise_protocol proto;
  if (yz_noise_protocol_parse(&proto,
                              (const uint8_t *)YZ_SESSION_NOISE_PROTOCOL,
                              sizeof YZ_SESSION_NOISE_PROTOCOL - 1, NULL) != 0)
    return YZ_E_UNSUPPORTED;
  s->cfg = *cfg;
  if (cfg->expected_peer) {
    s->expected = *cfg->expected_peer;
    s->cfg.expected_peer = &s->expected;
  }
  s->nonce_limit = hooks && hooks->nonce_limit &&
                           hooks->nonce_limit < YZ_NOISE_NONCE_MAX
                       ? hooks->nonce_limit
                       : YZ_NOISE_NONCE_MAX;
  s->hs = malloc(sizeof *s->hs);
  if (!s->hs)
    return YZ_E_NOMEM;
  int rc = yz_noise_hs_init(s->hs, &proto,
                            cfg->role == YZ_SESSION_INITIATOR
                                ? YZ_NOISE_INITIATOR
                                : YZ_NOISE_RESPONDER,
                            (const uint8_t *)YZ_SESSION_PROLOGUE,
                            YZ_SESSION_PROLOGUE_LEN);
  if (rc == 0)
    rc = yz_noise_hs_set_local_static_keypair(s->hs, cfg->local->static_priv,
                                              cfg->local->static_pub);
  if (rc == 0 && hooks && hooks->ephemeral)
    rc = yz_noise_hs_set_local_ephemeral(s->hs, hooks->ephemeral);
  if (rc == 0)
    rc = yz_noise_hs_start(s->hs);
  /* A cookie is only ever sent by an initiator (docs/protocol.md 4,
   * "Cookie"); a copy, so the caller's buffer need not outlive init. */
  if (cfg->cookie && cfg->role == YZ_SESSION_INITIATOR) {
    memcpy(s->cookie, cfg->cookie, YZ_SESSION_COOKIE_LEN);
    s->has_cookie = true;
  }
  s->cfg.cookie = NULL;
  yz_noise_cs_init(&s->tx, YZ_NOISE_CIPHER_CHACHAPOLY);
  yz_noise_cs_init(&s->rx, YZ_NOISE_CIPHER_CHACHAPOLY);
  if (rc) {
    yz_session_clear(s);
    return rc;
  }
  s->state = YZ_SESSION_NEW;
  return 0;
}

void yz_session_clear(yz_session *s)
{
  if (!s)
    return;
  release_hs(s);
  release_proof(s);
  yz_noise_cs_clear(&s->tx);
  yz_noise_cs_clear(&s->rx);
  release_tx(s);
  release_rx(s);
  sodium_memzero(s, sizeof *s);
  s->state = YZ_SESSION_CLOSED;
}

/* ---- events and closing --------------------------------------------- */

static void emit(yz_session *s, const yz_session_event *ev)
{
  s->in_event++;
  s->cfg.event(s->cfg.user, ev);
  s->in_event--;
}

static int send_frame(yz_session *s, uint8_t type, const uint8_t *hdr,
                      size_t hdrlen, const uint8_t *body, size_t bodylen,
                      uint64_t now);

/* Text up to max bytes, cut at a UTF-8 character boundary. */
static size_t utf8_cut(const char *t, size_t n, size_t max)
{
  if (n <= max)
    return n;
  n = max;
  while (n > 0 && ((uint8_t)t[n] & 0xc0) == 0x80)
    n--;
  return n;
}

/*
 * Close for a local reason: tell the peer (a CLOSE frame) when transport
 * keys exist and the transport still works, wipe the keys, emit CLOSED.
 * Returns err, so callers can `return close_local(...)`.
 */
static int close_localv(yz_session *s, int err, uint16_t code, bool tell,
                        uint64_t now, const char *fmt, va_list ap)
{
  /* A failure while sending our own CLOSE frame must not close twice. */
  if (s->state == YZ_SESSION_CLOSED || s->closing)
    return err;
  char text[256];
  vsnprintf(text, sizeof text, fmt, ap);
  /* The CLOSE frame's text must be UTF-8 (docs/protocol.md, Close), or the
   * peer rejects the frame and reports PROTOCOL instead of our code. The
   * application's text, or vsnprintf's truncation, may break that: keep
   * the valid prefix. */
  size_t tlen = yz_wire_utf8_valid_prefix((const uint8_t *)text, strlen(text));
  text[tlen] = '\0';
  if (tell && s->state == YZ_SESSION_UP) {
    uint8_t hdr[2];
    yz__store16_be(hdr, code);
    s->closing = 1;
    (void)send_frame(s, YZ_FRAME_CLOSE, hdr, 2, (const uint8_t *)text,
                     utf8_cut(text, tlen, YZ_SESSION_MAX_CLOSE_TEXT), now);
  }
  s->closing = 0;
  s->state = YZ_SESSION_CLOSED;
  release_hs(s);
  release_proof(s);
  yz_noise_cs_clear(&s->tx);
  yz_noise_cs_clear(&s->rx);
  s->frag_total = s->frag_fill = 0;
  yz_session_event ev = {.type = YZ_SESSION_EVENT_CLOSED};
  ev.u.closed.err = err;
  ev.u.closed.remote = false;
  ev.u.closed.code = code;
  ev.u.closed.text = text;
  ev.u.closed.text_len = tlen;
  emit(s, &ev);
  return err;
}

static int close_local(yz_session *s, int err, uint16_t code, uint64_t now,
                       const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int close_local(yz_session *s, int err, uint16_t code, uint64_t now,
                       const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  close_localv(s, err, code, true, now, fmt, ap);
  va_end(ap);
  return err;
}

/* Close without sending anything (the transport failed). */
static int close_silent(yz_session *s, int err, uint16_t code,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int close_silent(yz_session *s, int err, uint16_t code,
                        const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  close_localv(s, err, code, false, 0, fmt, ap);
  va_end(ap);
  return err;
}

/* ---- handshake -------------------------------------------------------- */

static uint8_t *txp(yz_session *s) { return s->txbuf + s->cfg.send_headroom; }

/* What fits after the headroom of the transmit buffer. */
static size_t txroom(const yz_session *s)
{
  return s->txcap - s->cfg.send_headroom;
}

static int transmit_at(yz_session *s, uint8_t *p, size_t len)
{
  int rc = s->cfg.send(s->cfg.user, p, len);
  if (rc)
    return close_silent(s, rc < 0 ? rc : YZ_E_IO, YZ_CLOSE_INTERNAL,
                        "the transport refused a message: %s",
                        yz_strerror(rc));
  return 0;
}

static int transmit(yz_session *s, size_t len)
{
  return transmit_at(s, txp(s), len);
}

static int hs_fail(yz_session *s, int rc, const char *what)
{
  uint16_t code = rc == YZ_E_DECRYPT ? YZ_CLOSE_DECRYPT : YZ_CLOSE_PROTOCOL;
  return close_silent(s, rc, code, "handshake %s failed: %s", what,
                      yz_strerror(rc));
}

static int hs_write(yz_session *s, const uint8_t *payload, size_t len)
{
  size_t n;
  /* e, s with its tag and the payload's tag: 96 bytes around the payload */
  int rc = tx_reserve(s, YZ__MIN(len + 128, (size_t)YZ_SESSION_MAX_WIRE_LEN));
  if (rc == 0)
    rc = yz_noise_hs_write_message(s->hs, payload, len, txp(s), txroom(s),
                                   &n);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_INTERNAL,
                        "cannot write handshake message: %s",
                        yz_strerror(rc));
  return transmit(s, n);
}

int yz_session_start(yz_session *s, uint64_t now)
{
  if (s->state == YZ_SESSION_CLOSED)
    return YZ_E_CLOSED;
  if (s->state != YZ_SESSION_NEW)
    return YZ_E_STATE;
  s->state = YZ_SESSION_HANDSHAKE;
  s->hs_deadline = s->cfg.handshake_timeout_ms
                       ? now + s->cfg.handshake_timeout_ms
                       : UINT64_MAX;
  if (s->cfg.role == YZ_SESSION_INITIATOR) {
    /* -> e. The payload travels in clear: it stays empty, or carries the
     * responder's cookie, which is no secret from an observer of the
     * connection (docs/protocol.md 4, "Cookie"). Noise mixes it into h. */
    uint8_t pl[1 + YZ_SESSION_COOKIE_LEN];
    pl[0] = YZ_SESSION_COOKIE_TYPE;
    memcpy(pl + 1, s->cookie, YZ_SESSION_COOKIE_LEN);
    int rc = hs_write(s, s->has_cookie ? pl : NULL,
                      s->has_cookie ? sizeof pl : 0);
    if (rc)
      return rc;
    s->hs_step = 1;
  }
  return 0;
}

/* Check the peer's proof (payload of message 2 or 3) against its static
 * key, derive and (if pinned) compare its node ID. */
static int hs_check_peer(yz_session *s, const uint8_t *payload, size_t len)
{
  uint8_t rs[YZ_NOISE_DH_LEN];
  const char *reason = "?";
  int rc = yz_noise_hs_get_remote_static(s->hs, rs);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_INTERNAL, "no remote static key");
  if (!s->peer_proof && !(s->peer_proof = malloc(sizeof *s->peer_proof)))
    return close_silent(s, YZ_E_NOMEM, YZ_CLOSE_INTERNAL, "out of memory");
  rc = yz__session_check_proof(s->peer_proof, &s->peer_id, payload, len, rs,
                               &reason);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_IDENTITY,
                        "peer identity proof rejected: %s", reason);
  if (s->cfg.expected_peer &&
      !yz_node_id_equal(s->cfg.expected_peer, &s->peer_id)) {
    char got[YZ_NODE_ID_HEX_LEN + 1], want[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(&s->peer_id, got);
    yz_node_id_to_hex(s->cfg.expected_peer, want);
    return close_silent(s, YZ_E_PEER_ID_MISMATCH, YZ_CLOSE_PEER_ID_MISMATCH,
                        "peer node ID %s differs from the expected %s: a man "
                        "in the middle or a wrong address is possible",
                        got, want);
  }
  return 0;
}

/* Both nodes must belong to the same network (docs/protocol.md section 5,
 * "Network name"): an absent field is the public network "yz". Checked
 * after the proof verified, so the name is the authenticated peer's. */
static int hs_check_network(yz_session *s)
{
  const char *theirs = s->peer_proof->network_len
                           ? s->peer_proof->network
                           : YZ_SESSION_NETWORK_DEFAULT;
  if (strcmp(theirs, s->cfg.local->network) == 0)
    return 0;
  return close_silent(s, YZ_E_NETWORK, YZ_CLOSE_NETWORK,
                      "network name mismatch: this node belongs to network "
                      "\"%s\", the peer to \"%s\"",
                      s->cfg.local->network, theirs);
}

static int hs_up(yz_session *s, uint64_t now)
{
  int rc = yz_noise_hs_split(s->hs, &s->tx, &s->rx);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_INTERNAL, "split failed");
  uint8_t h[YZ_NOISE_MAX_HASH_LEN];
  size_t hl = yz_noise_hs_get_handshake_hash(s->hs, h);
  memcpy(s->hash, h, YZ__MIN(hl, sizeof s->hash));
  sodium_memzero(h, sizeof h);
  release_hs(s);
  /* The transmit buffer held the handshake messages and the decrypted
   * proofs: a transport that seals into its own buffers (cfg.tx_alloc)
   * never needs it again, and any other gets one sized to its first
   * frame. */
  release_tx(s);
  s->state = YZ_SESSION_UP;
  s->last_rx_ms = now;
  s->next_ping_ms = s->cfg.ping_idle_ms ? now + s->cfg.ping_idle_ms
                                        : UINT64_MAX;
  s->tx_rekey_ms = now;
  yz_session_event ev = {.type = YZ_SESSION_EVENT_UP};
  ev.u.up.peer_id = &s->peer_id;
  ev.u.up.proof = s->peer_proof;
  ev.u.up.channel_binding = s->hash;
  ev.u.up.channel_binding_len = YZ_SESSION_HASH_LEN;
  emit(s, &ev);
  /* The proof is the UP event's: whoever keeps its fields copied them. */
  release_proof(s);
  return 0;
}

static int hs_recv(yz_session *s, const uint8_t *msg, size_t len,
                   uint64_t now)
{
  /* Payloads are decrypted into the transmit buffer: it is idle between
   * handshake messages, and a proof is checked before the next write. A
   * payload is shorter than its message. */
  size_t pl_len = 0;
  int rc = tx_reserve(s, len);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_INTERNAL, "out of memory");
  uint8_t *pl = txp(s);
  if (yz_noise_hs_action(s->hs) != YZ_NOISE_ACTION_READ)
    return close_silent(s, YZ_E_STATE, YZ_CLOSE_PROTOCOL,
                        "handshake message out of order");
  if (s->cfg.role == YZ_SESSION_RESPONDER && s->hs_step == 0) {
    /* <- e: exactly 32 bytes, or 49 with a cookie (its payload travels in
     * clear). The cookie was the caller's to check, before this DH work
     * (docs/protocol.md 4, "Cookie"); Noise mixes it into h here. */
    yz_session_msg1 m1;
    const char *why = "?";
    rc = yz_session_msg1_parse(&m1, msg, len, &why);
    if (rc)
      return close_silent(s, rc, YZ_CLOSE_PROTOCOL, "%s, got %zu bytes", why,
                          len);
    rc = yz_noise_hs_read_message(s->hs, msg, len, pl,
                                  len - YZ_SESSION_MSG1_LEN, &pl_len);
    if (rc)
      return hs_fail(s, rc, "message 1");
    /* -> e, ee, s, es + proof */
    rc = hs_write(s, s->cfg.local->proof, s->cfg.local->proof_len);
    if (rc)
      return rc;
    s->hs_step = 2;
    return 0;
  }
  if (s->cfg.role == YZ_SESSION_INITIATOR && s->hs_step == 1) {
    /* <- e, ee, s, es + proof */
    rc = yz_noise_hs_read_message(s->hs, msg, len, pl, txroom(s), &pl_len);
    if (rc)
      return hs_fail(s, rc, "message 2");
    rc = hs_check_peer(s, pl, pl_len);
    if (rc)
      return rc;
    /* -> s, se + proof. Sent also to a node of another network, so that
     * the responder learns why from message 3 (docs/protocol.md section 5,
     * "Network name"); this side then stops before Split(). */
    rc = hs_write(s, s->cfg.local->proof, s->cfg.local->proof_len);
    if (rc)
      return rc;
    s->hs_step = 3;
    rc = hs_check_network(s);
    if (rc)
      return rc;
    return hs_up(s, now);
  }
  if (s->cfg.role == YZ_SESSION_RESPONDER && s->hs_step == 2) {
    /* <- s, se + proof */
    rc = yz_noise_hs_read_message(s->hs, msg, len, pl, txroom(s), &pl_len);
    if (rc)
      return hs_fail(s, rc, "message 3");
    rc = hs_check_peer(s, pl, pl_len);
    if (rc == 0)
      rc = hs_check_network(s);
    if (rc)
      return rc;
    s->hs_step = 3;
    return hs_up(s, now);
  }
  return close_silent(s, YZ_E_STATE, YZ_CLOSE_PROTOCOL,
                      "handshake message out of order");
}

/* ---- transport: sending ------------------------------------------------ */

static bool rekey_due(const yz_session *s, uint64_t now)
{
  return s->tx_since_rekey >= s->cfg.rekey_after_messages ||
         (s->cfg.rekey_after_ms && now - s->tx_rekey_ms >= s->cfg.rekey_after_ms);
}

/* Encrypt and transmit one frame: type || hdr || body. It is written
 * where it goes out from: the transport's buffer (cfg.tx_alloc), which
 * send() then queues as it is, or else the session's own. Through
 * libcrypto the body is encrypted from the caller's bytes straight into
 * it (yz__noise_cs_encrypt_gather), so the encryption is the only pass
 * that writes it; otherwise the body is copied there once and encrypted
 * in place. */
static int seal(yz_session *s, uint8_t type, const uint8_t *hdr,
                size_t hdrlen, const uint8_t *body, size_t bodylen)
{
  uint8_t head[1 + 8]; /* the type and a frame header of at most 8 */
  if (hdrlen > sizeof head - 1)
    return close_silent(s, YZ_E_INVAL, YZ_CLOSE_INTERNAL, "frame header");
  size_t need = 1 + hdrlen + bodylen + YZ_NOISE_TAG_LEN;
  uint8_t *p = s->cfg.tx_alloc ? s->cfg.tx_alloc(s->cfg.user, need) : NULL;
  size_t room = need;
  int rc;
  if (!p) {
    rc = tx_reserve(s, need);
    if (rc)
      return close_silent(s, rc, YZ_CLOSE_INTERNAL, "out of memory");
    p = txp(s);
    room = txroom(s);
  }
  head[0] = type;
  if (hdrlen)
    memcpy(head + 1, hdr, hdrlen);
  size_t n;
  rc = yz__noise_cs_encrypt_gather(&s->tx, head, 1 + hdrlen, body, bodylen, p,
                                   room, &n);
  if (rc)
    return close_silent(s, rc, YZ_CLOSE_INTERNAL, "encryption failed: %s",
                        yz_strerror(rc));
  s->tx_since_rekey++;
  return transmit_at(s, p, n);
}

static int send_frame(yz_session *s, uint8_t type, const uint8_t *hdr,
                      size_t hdrlen, const uint8_t *body, size_t bodylen,
                      uint64_t now)
{
  if (s->state != YZ_SESSION_UP)
    return YZ_E_CLOSED;
  if (type == YZ_FRAME_CLOSE) {
    /* The last nonce below the limit is kept for this frame. */
    if (yz_noise_cs_nonce(&s->tx) >= s->nonce_limit)
      return YZ_E_NONCE_EXHAUSTED;
    return seal(s, type, hdr, hdrlen, body, bodylen);
  }
  /* Room for this frame, a rekey before it, and a CLOSE after it. */
  if (s->nonce_limit - yz_noise_cs_nonce(&s->tx) < 3)
    return close_local(s, YZ_E_NONCE_EXHAUSTED, YZ_CLOSE_NONCE_EXHAUSTED, now,
                       "nonce limit reached");
  if (rekey_due(s, now)) {
    /* REKEY is sent under the old key; every later message uses the new
     * one (docs/protocol.md "Rekey"). */
    int rc = seal(s, YZ_FRAME_REKEY, NULL, 0, NULL, 0);
    if (rc)
      return rc;
    rc = yz_noise_cs_rekey(&s->tx);
    if (rc)
      return close_silent(s, rc, YZ_CLOSE_INTERNAL, "rekey failed");
    s->tx_since_rekey = 0;
    s->tx_rekey_ms = now;
  }
  return seal(s, type, hdr, hdrlen, body, bodylen);
}

int yz_session_send(yz_session *s, const uint8_t *msg, size_t len,
                    uint64_t now)
{
  if (s->state == YZ_SESSION_CLOSED)
    return YZ_E_CLOSED;
  if (s->state != YZ_SESSION_UP)
    return YZ_E_STATE;
  if (len > s->cfg.max_message)
    return YZ_E_TOO_LARGE;
  if (len && !msg)
    return YZ_E_INVAL;
  if (len <= MORE_CHUNK)
    return send_frame(s, YZ_FRAME_DATA, NULL, 0, msg, len, now);
  uint8_t hdr[4];
  yz__store32_be(hdr, (uint32_t)len);
  int rc = send_frame(s, YZ_FRAME_FRAG_FIRST, hdr, 4, msg, FIRST_CHUNK, now);
  size_t off = FIRST_CHUNK;
  while (rc == 0 && len - off > MORE_CHUNK) {
    rc = send_frame(s, YZ_FRAME_FRAG_MIDDLE, NULL, 0, msg + off, MORE_CHUNK,
                    now);
    off += MORE_CHUNK;
  }
  if (rc == 0)
    rc = send_frame(s, YZ_FRAME_FRAG_LAST, NULL, 0, msg + off, len - off, now);
  return rc;
}

size_t yz_session_wire_messages_for(const yz_session *s, size_t len)
{
  size_t frames = 1;
  if (len > MORE_CHUNK)
    frames = 2 + (len - FIRST_CHUNK - 1) / MORE_CHUNK;
  uint64_t every = s->cfg.rekey_after_messages;
  size_t rekeys = every >= frames ? 1 : (size_t)(frames / every) + 1;
  if (rekeys > frames)
    rekeys = frames;
  return frames + rekeys + 1; /* + a CLOSE at the nonce limit */
}

int yz_session_close(yz_session *s, uint16_t code, const char *text,
                     uint64_t now)
{
  if (s->state == YZ_SESSION_CLOSED)
    return YZ_E_CLOSED;
  if (!text)
    text = "";
  size_t n = utf8_cut(text, strlen(text), YZ_SESSION_MAX_CLOSE_TEXT);
  close_local(s, YZ_E_CLOSED, code, now, "%.*s", (int)n, text);
  return 0;
}

/* ---- transport: receiving ---------------------------------------------- */

static int grow_rx(yz_session *s, size_t need)
{
  size_t cap = rx_target(s, need);
  if (cap == s->rxcap)
    return 0;
  uint8_t *b = malloc(cap);
  if (!b)
    return YZ_E_NOMEM;
  if (s->rxbuf) {
    memcpy(b, s->rxbuf, s->rxcap);
    sodium_memzero(s->rxbuf, s->rxcap);
    free(s->rxbuf);
  }
  s->rxbuf = b;
  s->rxcap = cap;
  return 0;
}

static int frame_error(yz_session *s, int rc, const char *reason, uint64_t now)
{
  return close_local(s, rc, rc == YZ_E_TOO_LARGE ? YZ_CLOSE_TOO_LARGE
                                                 : YZ_CLOSE_PROTOCOL,
                     now, "%s", reason);
}

static int deliver(yz_session *s, const uint8_t *p, size_t n)
{
  yz_session_event ev = {.type = YZ_SESSION_EVENT_MESSAGE};
  ev.u.message.data = p;
  ev.u.message.len = n;
  emit(s, &ev);
  return 0;
}

/* msg is the message; mut, when not NULL, the same bytes, writable: a
 * message that does not continue a reassembly is decrypted in place there
 * (yz_session_recv_inplace()). */
static int transport_recv_one(yz_session *s, const uint8_t *msg,
                              uint8_t *mut, size_t len, uint64_t now)
{
  if (len > YZ_SESSION_MAX_WIRE_LEN)
    return close_local(s, YZ_E_TOO_LARGE, YZ_CLOSE_TOO_LARGE, now,
                       "transport message longer than 65535 bytes");
  if (len <= YZ_NOISE_TAG_LEN)
    return close_local(s, YZ_E_TRUNCATED, YZ_CLOSE_PROTOCOL, now,
                       "transport message too short");
  if (yz_noise_cs_nonce(&s->rx) >= s->nonce_limit)
    return close_local(s, YZ_E_NONCE_EXHAUSTED, YZ_CLOSE_NONCE_EXHAUSTED, now,
                       "peer went past the nonce limit");
  size_t ptlen = len - YZ_NOISE_TAG_LEN;
  /* A full-size message goes straight to the reassembly buffer: it is
   * most likely a first fragment (yz fills them), whose chunk would
   * otherwise be copied there after an in-place decryption. */
  bool inplace = mut && !s->frag_total && ptlen < YZ_SESSION_MAX_FRAME_LEN;
  size_t at = s->frag_total ? FRAG_BASE + s->frag_fill - 1 : 0;
  if (!inplace && grow_rx(s, rx_need(s, len)))
    return close_local(s, YZ_E_NOMEM, YZ_CLOSE_INTERNAL, now,
                       "out of memory");
  uint8_t *p = inplace ? mut : s->rxbuf + at;
  uint8_t saved = s->frag_total ? p[0] : 0;
  size_t n;
  int rc = yz_noise_cs_decrypt_with_ad(&s->rx, NULL, 0, msg, len, p, ptlen,
                                       &n);
  if (rc) {
    if (inplace) /* what a failed check left there is not the message */
      sodium_memzero(mut, len);
    return close_local(s, rc, rc == YZ_E_DECRYPT ? YZ_CLOSE_DECRYPT
                                                 : YZ_CLOSE_PROTOCOL,
                       now, "transport message rejected: %s",
                       yz_strerror(rc));
  }
  yz_session_frame f;
  const char *reason = "?";
  rc = yz_session_frame_parse(&f, p, n, s->cfg.max_message, &reason);
  if (s->frag_total)
    p[0] = saved; /* the last assembled byte, under the type byte */
  if (rc)
    return frame_error(s, rc, reason, now);

  /* Authenticated: the peer is alive. */
  s->last_rx_ms = now;
  s->missed_pongs = 0;
  if (s->cfg.ping_idle_ms)
    s->next_ping_ms = now + s->cfg.ping_idle_ms;

  bool reassembling = s->frag_total != 0;
  switch (f.type) {
  case YZ_FRAME_DATA:
    if (reassembling)
      return frame_error(s, YZ_E_MALFORMED, "data frame inside a fragmented "
                                            "message", now);
    return deliver(s, f.body, f.body_len);
  case YZ_FRAME_FRAG_FIRST:
    if (reassembling)
      return frame_error(s, YZ_E_MALFORMED, "first fragment inside a "
                                            "fragmented message", now);
    if (inplace) {
      /* decrypted in place: its chunk starts the reassembly buffer, at
       * FRAG_BASE as if it had been decrypted there (the one copy) */
      s->frag_total = (size_t)f.value;
      s->frag_fill = 0;
      if (grow_rx(s, FRAG_BASE + f.body_len)) {
        s->frag_total = 0;
        return close_local(s, YZ_E_NOMEM, YZ_CLOSE_INTERNAL, now,
                           "out of memory");
      }
      memcpy(s->rxbuf + FRAG_BASE, f.body, f.body_len);
    }
    s->frag_total = (size_t)f.value;
    s->frag_fill = f.body_len;
    return 0;
  case YZ_FRAME_FRAG_MIDDLE:
  case YZ_FRAME_FRAG_LAST:
    if (!reassembling)
      return frame_error(s, YZ_E_MALFORMED, "fragment without a first "
                                            "fragment", now);
    if (f.body_len > s->frag_total - s->frag_fill ||
        (f.type == YZ_FRAME_FRAG_MIDDLE &&
         f.body_len == s->frag_total - s->frag_fill))
      return frame_error(s, YZ_E_TOO_LARGE, "fragments exceed the declared "
                                            "length", now);
    s->frag_fill += f.body_len;
    if (f.type == YZ_FRAME_FRAG_MIDDLE)
      return 0;
    if (s->frag_fill != s->frag_total)
      return frame_error(s, YZ_E_TRUNCATED, "last fragment before the "
                                            "declared length", now);
    n = s->frag_total;
    s->frag_total = s->frag_fill = 0;
    return deliver(s, s->rxbuf + FRAG_BASE, n);
  case YZ_FRAME_PING: {
    uint8_t v[8];
    yz__store64_be(v, f.value);
    return send_frame(s, YZ_FRAME_PONG, v, 8, NULL, 0, now);
  }
  case YZ_FRAME_PONG:
    if (f.value == 0 || f.value > s->ping_value)
      return frame_error(s, YZ_E_MALFORMED, "pong for a ping never sent",
                         now);
    return 0;
  case YZ_FRAME_REKEY:
    /* The peer's next message uses the rekeyed key. */
    rc = yz_noise_cs_rekey(&s->rx);
    if (rc)
      return close_local(s, rc, YZ_CLOSE_INTERNAL, now, "rekey failed");
    return 0;
  default: { /* YZ_FRAME_CLOSE */
    char text[YZ_SESSION_MAX_CLOSE_TEXT + 1];
    memcpy(text, f.body, f.body_len);
    text[f.body_len] = '\0';
    s->state = YZ_SESSION_CLOSED;
    yz_noise_cs_clear(&s->tx);
    yz_noise_cs_clear(&s->rx);
    s->frag_total = s->frag_fill = 0;
    yz_session_event ev = {.type = YZ_SESSION_EVENT_CLOSED};
    ev.u.closed.err = YZ_E_PEER_CLOSED;
    ev.u.closed.remote = true;
    ev.u.closed.code = (uint16_t)f.value;
    ev.u.closed.text = text;
    ev.u.closed.text_len = f.body_len;
    emit(s, &ev);
    return YZ_E_PEER_CLOSED;
  }
  }
}

/* A reassembly buffer is wiped and freed once its message is delivered
 * (or abandoned), after the event callback that read it has returned;
 * only a message still being reassembled keeps one (docs/protocol.md
 * section 7). */
static int transport_recv(yz_session *s, const uint8_t *msg, uint8_t *mut,
                          size_t len, uint64_t now)
{
  int rc = transport_recv_one(s, msg, mut, len, now);
  if (!s->frag_total && (s->rxcap > RX_KEEP || s->state == YZ_SESSION_CLOSED))
    release_rx(s);
  return rc;
}

static int check_timers(yz_session *s, uint64_t now);

static int session_recv(yz_session *s, const uint8_t *msg, uint8_t *mut,
                        size_t len, uint64_t now)
{
  if (s->state == YZ_SESSION_CLOSED)
    return YZ_E_CLOSED;
  if (s->in_event)
    return YZ_E_STATE; /* misuse: recv from an event callback */
  if (!msg && len)
    return YZ_E_INVAL;
  if (s->state == YZ_SESSION_NEW)
    return close_silent(s, YZ_E_STATE, YZ_CLOSE_PROTOCOL,
                        "message before the session started");
  /* A late message does not rescue an expired handshake. */
  if (s->state == YZ_SESSION_HANDSHAKE) {
    int rc = check_timers(s, now);
    if (rc)
      return rc;
    if (len > YZ_SESSION_MAX_WIRE_LEN)
      return close_silent(s, YZ_E_TOO_LARGE, YZ_CLOSE_TOO_LARGE,
                          "handshake message longer than 65535 bytes");
    return hs_recv(s, msg, len, now);
  }
  return transport_recv(s, msg, mut, len, now);
}

int yz_session_recv(yz_session *s, const uint8_t *msg, size_t len,
                    uint64_t now)
{
  return session_recv(s, msg, NULL, len, now);
}

int yz_session_recv_inplace(yz_session *s, uint8_t *msg, size_t len,
                            uint64_t now)
{
  return session_recv(s, msg, msg, len, now);
}

/* ---- timers ------------------------------------------------------------ */

static int check_timers(yz_session *s, uint64_t now)
{
  if (s->state == YZ_SESSION_HANDSHAKE) {
    if (now >= s->hs_deadline)
      return close_silent(s, YZ_E_TIMEOUT, YZ_CLOSE_TIMEOUT,
                          "handshake not completed within %llu ms",
                          (unsigned long long)s->cfg.handshake_timeout_ms);
    return 0;
  }
  if (s->state == YZ_SESSION_UP && now >= s->next_ping_ms) {
    if (s->missed_pongs >= s->cfg.max_missed_pongs)
      return close_local(s, YZ_E_TIMEOUT, YZ_CLOSE_TIMEOUT, now,
                         "no answer to %u pings", (unsigned)s->missed_pongs);
    uint8_t v[8];
    yz__store64_be(v, ++s->ping_value);
    s->missed_pongs++;
    s->next_ping_ms = now + s->cfg.ping_idle_ms;
    int rc = send_frame(s, YZ_FRAME_PING, v, 8, NULL, 0, now);
    /* Idle: nothing authentic arrived for ping_idle_ms. Its buffers go
     * (a reassembly in progress keeps its own). */
    if (!s->frag_total)
      release_rx(s);
    release_tx(s);
    return rc;
  }
  return 0;
}

int yz_session_tick(yz_session *s, uint64_t now)
{
  if (s->state == YZ_SESSION_CLOSED)
    return YZ_E_CLOSED;
  return check_timers(s, now);
}

uint64_t yz_session_next_deadline(const yz_session *s)
{
  switch (s->state) {
  case YZ_SESSION_HANDSHAKE: return s->hs_deadline;
  case YZ_SESSION_UP: return s->next_ping_ms;
  default: return UINT64_MAX;
  }
}

/* ---- getters ----------------------------------------------------------- */

yz_session_state yz_session_get_state(const yz_session *s)
{
  return (yz_session_state)s->state;
}

const yz_node_id *yz_session_peer_id(const yz_session *s)
{
  return s->state == YZ_SESSION_UP ? &s->peer_id : NULL;
}

const yz_wire_identity_proof *yz_session_peer_proof(const yz_session *s)
{
  return s->state == YZ_SESSION_UP ? s->peer_proof : NULL;
}

size_t yz_session_channel_binding(const yz_session *s,
                                  uint8_t out[YZ_SESSION_HASH_LEN])
{
  if (s->state != YZ_SESSION_UP)
    return 0;
  memcpy(out, s->hash, YZ_SESSION_HASH_LEN);
  return YZ_SESSION_HASH_LEN;
}
