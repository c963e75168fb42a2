/*
 * Fuzz target: an established yz session fed arbitrary frames.
 *
 * Two sessions (victim and peer) with fixed identities, static keys and
 * ephemerals complete the real handshake in memory. Then the input drives
 * a sequence of operations; for most of them the harness itself encrypts
 * the input's plaintext with the peer's sending CipherState, so the frame
 * parser, fragmentation and reassembly, rekey, ping/pong and close logic
 * behind the AEAD are reached, not just the MAC check. Wire messages of
 * both sessions are delivered to the other side at once (in order), with
 * the time the input chooses.
 *
 * Input: [config] then operations [op][dt16][len16][bytes]:
 *   op & 7 = 0  a frame: bytes are a plaintext the harness encrypts with the
 *               peer's CipherState and hands to the victim; op & 8: Rekey()
 *               that CipherState afterwards (as a REKEY frame announces)
 *            1  bytes as a raw wire message to the victim
 *            2  both sessions tick
 *            3  the peer sends an application message: bytes repeated
 *               2^(op>>4) times (so fragmentation is reached)
 *            4  the victim sends such a message
 *            5  the victim closes (code and text from bytes)
 *            6  the peer closes
 *            7  the last wire message the victim received is replayed
 * dt (ms) is added to the clock before the operation.
 * config: bit 0 victim is the initiator; bits 1-2 max_message; bit 3
 * rekey after 3 messages; bit 4 a nonce limit of 40; bit 5 keepalive off.
 *
 * Invariants checked: messages the honest side sends arrive whole, in
 * order, exactly once; forged frames are checked against a model of the
 * protocol (DATA delivers its body, FRAG_FIRST/MIDDLE/LAST reassemble to
 * exactly the declared length, anything out of order, oversized or
 * malformed closes the session); once the stream is broken (raw bytes, a
 * replay, a REKEY frame and the sender's Rekey() out of step) nothing more
 * is ever delivered; while nothing was forged, the honest peer never
 * closes because of what the victim sent (no PROTOCOL, DECRYPT,
 * TOO_LARGE); CLOSED comes once and nothing is delivered after it; no
 * message exceeds max_message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "yz/identity.h"
#include "yz/session.h"
#include "session/testing.h"

#define MAX_QUEUE 4096

typedef struct wire {
  uint8_t *p;
  size_t n;
} wire;

typedef struct side {
  yz_session s;
  wire *q; /* wire messages this side sent, not yet delivered */
  size_t nq, capq;
  int n_up, n_closed, n_msgs;
  uint16_t close_code;
  bool close_remote;
  char close_text[256];
  bool app_closed; /* closed by yz_session_close(), any code */
  /* Messages the other side sent, to compare with what arrives. */
  wire *expect;
  size_t n_expect, cap_expect, expect_head;
  bool check; /* deliveries must match expect */
  bool dead;  /* the stream to this side is broken: deliver nothing more */
  /* The model of a fragmented message being forged (victim only). */
  bool reasm;
  size_t total, fill;
} side;

static yz_session_local local_a, local_b;
static yz_node_id id_a, id_b;
static bool ready;

static void init_once(void)
{
  if (ready)
    return;
  FUZZ_CHECK(sodium_init() >= 0);
  uint8_t seed[32], spriv[32];
  yz_identity ia, ib;
  fuzz_key(seed, 70);
  FUZZ_CHECK(yz_identity_from_seed(&ia, seed) == 0);
  fuzz_key(seed, 71);
  FUZZ_CHECK(yz_identity_from_seed(&ib, seed) == 0);
  fuzz_key(spriv, 72);
  FUZZ_CHECK(yz_session_local_init(&local_a, &ia, spriv, NULL) == 0);
  fuzz_key(spriv, 73);
  static const char *const urls[] = {"ws://192.0.2.1:4100/"};
  static const uint64_t types[] = {1};
  yz_session_proof_options o = {.n_addresses = 1, .address_urls = urls,
                                .address_client_types = types,
                                .node_type = 2, .version = "fuzz"};
  FUZZ_CHECK(yz_session_local_init(&local_b, &ib, spriv, &o) == 0);
  id_a = *yz_identity_node_id(&ia);
  id_b = *yz_identity_node_id(&ib);
  yz_identity_clear(&ia);
  yz_identity_clear(&ib);
  ready = true;
}

static void push(wire **q, size_t *n, size_t *cap, const uint8_t *p,
                 size_t len)
{
  FUZZ_CHECK(*n < MAX_QUEUE);
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    wire *nq = realloc(*q, nc * sizeof *nq);
    FUZZ_CHECK(nq != NULL);
    *q = nq;
    *cap = nc;
  }
  (*q)[*n].p = malloc(len ? len : 1);
  FUZZ_CHECK((*q)[*n].p != NULL);
  if (len)
    memcpy((*q)[*n].p, p, len);
  (*q)[*n].n = len;
  (*n)++;
}

static int on_send(void *user, uint8_t *msg, size_t len)
{
  side *sd = user;
  FUZZ_CHECK(len > 0 && len <= YZ_SESSION_MAX_WIRE_LEN);
  push(&sd->q, &sd->nq, &sd->capq, msg, len);
  return 0;
}

static void on_event(void *user, const yz_session_event *ev)
{
  side *sd = user;
  FUZZ_CHECK(sd->n_closed == 0); /* nothing after CLOSED */
  switch (ev->type) {
  case YZ_SESSION_EVENT_UP:
    FUZZ_CHECK(sd->n_up == 0);
    FUZZ_CHECK(ev->u.up.channel_binding_len == YZ_SESSION_HASH_LEN);
    sd->n_up++;
    break;
  case YZ_SESSION_EVENT_MESSAGE:
    FUZZ_CHECK(sd->n_up == 1);
    /* Bytes that did not authenticate are never delivered. */
    FUZZ_CHECK(!sd->dead);
    FUZZ_CHECK(ev->u.message.len <= sd->s.cfg.max_message);
    if (sd->check) {
      FUZZ_CHECK(sd->expect_head < sd->n_expect);
      wire *w = &sd->expect[sd->expect_head++];
      FUZZ_CHECK(w->n == ev->u.message.len);
      FUZZ_CHECK(w->n == 0 || memcmp(w->p, ev->u.message.data, w->n) == 0);
    }
    sd->n_msgs++;
    break;
  case YZ_SESSION_EVENT_CLOSED:
    FUZZ_CHECK(ev->u.closed.text != NULL);
    /* A peer's text may hold U+0000, so strlen() can be shorter. */
    FUZZ_CHECK(ev->u.closed.text[ev->u.closed.text_len] == '\0');
    FUZZ_CHECK(strlen(ev->u.closed.text) <= ev->u.closed.text_len);
    sd->n_closed++;
    sd->close_code = ev->u.closed.code;
    sd->close_remote = ev->u.closed.remote;
    snprintf(sd->close_text, sizeof sd->close_text, "%s", ev->u.closed.text);
    break;
  default:
    FUZZ_CHECK(0);
  }
}

static void free_wires(wire *w, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(w[i].p);
  free(w);
}

/* yz_session_recv() and its promise: 0 leaves the session open, an error
 * closes it (or it was closed already). */
static void deliver(yz_session *s, const uint8_t *msg, size_t len,
                    uint64_t now)
{
  bool was_closed = yz_session_get_state(s) == YZ_SESSION_CLOSED;
  int rc = yz_session_recv(s, msg, len, now);
  if (was_closed)
    FUZZ_CHECK(rc == YZ_E_CLOSED);
  else if (rc == 0)
    FUZZ_CHECK(yz_session_get_state(s) != YZ_SESSION_CLOSED);
  else
    FUZZ_CHECK(rc < 0 && yz_session_get_state(s) == YZ_SESSION_CLOSED);
}

static uint8_t last_rx[YZ_SESSION_MAX_WIRE_LEN];
static size_t last_rx_len;

/* Deliver everything queued, both ways, in order. */
static void pump(side *v, side *p, uint64_t now)
{
  for (int round = 0; round < 64; round++) {
    bool any = false;
    for (size_t i = 0; i < p->nq; i++) {
      any = true;
      memcpy(last_rx, p->q[i].p, p->q[i].n);
      last_rx_len = p->q[i].n;
      deliver(&v->s, p->q[i].p, p->q[i].n, now);
      free(p->q[i].p);
    }
    p->nq = 0;
    for (size_t i = 0; i < v->nq; i++) {
      any = true;
      deliver(&p->s, v->q[i].p, v->q[i].n, now);
      free(v->q[i].p);
    }
    v->nq = 0;
    if (!any)
      return;
  }
}

static bool setup(side *sd, bool initiator, bool is_a, uint8_t config)
{
  static const size_t maxes[] = {YZ_SESSION_DEFAULT_MAX_MESSAGE, 70000,
                                 200000, 1};
  uint8_t eph[32];
  fuzz_key(eph, is_a ? 74 : 75);
  yz_session_config c;
  yz_session_config_default(&c);
  c.role = initiator ? YZ_SESSION_INITIATOR : YZ_SESSION_RESPONDER;
  c.local = is_a ? &local_a : &local_b;
  c.expected_peer = initiator ? (is_a ? &id_b : &id_a) : NULL;
  c.max_message = maxes[(config >> 1) & 3];
  if (config & 8)
    c.rekey_after_messages = 3;
  yz__session_test_hooks hooks = {.ephemeral = eph};
  if (config & 16)
    hooks.nonce_limit = 40;
  if (config & 32)
    c.ping_idle_ms = 0;
  c.send_headroom = (config & 64) ? 16 : 0;
  c.send = on_send;
  c.event = on_event;
  c.user = sd;
  return yz__session_init_testing(&sd->s, &c, &hooks) == 0;
}



/*
 * What the victim must make of a forged (but authentic) frame, from
 * docs/protocol.md: DATA delivers; FRAG_FIRST, MIDDLE, LAST reassemble
 * (a MIDDLE may not complete the message, a LAST must); anything out of
 * order, oversized or malformed closes. Returns false when the victim
 * must close on this frame; expected messages go to v->expect.
 */
static uint8_t *mbuf;

static bool model_frame(side *v, const uint8_t *pt, size_t n)
{
  yz_session_frame f;
  if (yz_session_frame_parse(&f, pt, n, v->s.cfg.max_message, NULL) != 0)
    return false;
  switch (f.type) {
  case YZ_FRAME_DATA:
    if (v->reasm)
      return false;
    push(&v->expect, &v->n_expect, &v->cap_expect, f.body, f.body_len);
    return true;
  case YZ_FRAME_FRAG_FIRST:
    if (v->reasm)
      return false;
    v->reasm = true;
    v->total = (size_t)f.value;
    memcpy(mbuf, f.body, f.body_len);
    v->fill = f.body_len;
    return true;
  case YZ_FRAME_FRAG_MIDDLE:
  case YZ_FRAME_FRAG_LAST:
    if (!v->reasm || f.body_len > v->total - v->fill ||
        (f.type == YZ_FRAME_FRAG_MIDDLE && f.body_len == v->total - v->fill))
      return false;
    memcpy(mbuf + v->fill, f.body, f.body_len);
    v->fill += f.body_len;
    if (f.type == YZ_FRAME_FRAG_MIDDLE)
      return true;
    if (v->fill != v->total)
      return false;
    push(&v->expect, &v->n_expect, &v->cap_expect, mbuf, v->total);
    v->reasm = false;
    return true;
  case YZ_FRAME_PONG:
    return f.value != 0 && f.value <= v->s.ping_value;
  case YZ_FRAME_CLOSE:
    return false;
  default: /* PING, REKEY */
    return true;
  }
}

/*
 * The two sessions after the real handshake. The handshake of a config is
 * deterministic (fixed keys and ephemerals), so it runs once per config and
 * later inputs start from a copy: a session is plain data plus its two
 * heap buffers (txbuf: scratch, rxbuf: empty after a handshake), which are
 * given fresh here. This makes the target about ten times faster.
 */
typedef struct snapshot {
  bool have;
  yz_session v, p;
  uint8_t last_rx[YZ_SESSION_MAX_WIRE_LEN];
  size_t last_rx_len;
} snapshot;

static void thaw(yz_session *dst, const yz_session *src)
{
  *dst = *src;
  if (dst->cfg.expected_peer != NULL)
    dst->cfg.expected_peer = &dst->expected;
  dst->txbuf = malloc(dst->cfg.send_headroom + YZ_SESSION_MAX_WIRE_LEN);
  FUZZ_CHECK(dst->txbuf != NULL);
  FUZZ_CHECK(src->rxbuf == NULL || src->rxcap > 0);
  if (src->rxbuf != NULL) {
    dst->rxbuf = malloc(src->rxcap);
    FUZZ_CHECK(dst->rxbuf != NULL);
    memcpy(dst->rxbuf, src->rxbuf, src->rxcap);
  }
}

static void established(side *v, side *p, uint8_t config, uint64_t now)
{
  static snapshot *snaps[256];
  bool v_init = config & 1;
  memset(v, 0, sizeof *v);
  memset(p, 0, sizeof *p);
  snapshot *sn = snaps[config];
  if (sn == NULL) {
    FUZZ_CHECK(setup(v, v_init, true, config));
    FUZZ_CHECK(setup(p, !v_init, false, config));
    last_rx_len = 0;
    FUZZ_CHECK(yz_session_start(&p->s, now) == 0);
    FUZZ_CHECK(yz_session_start(&v->s, now) == 0);
    pump(v, p, now);
    FUZZ_CHECK(yz_session_get_state(&v->s) == YZ_SESSION_UP);
    FUZZ_CHECK(yz_session_get_state(&p->s) == YZ_SESSION_UP);
    FUZZ_CHECK(yz_node_id_equal(yz_session_peer_id(&v->s), &id_b));
    FUZZ_CHECK(yz_node_id_equal(yz_session_peer_id(&p->s), &id_a));
    FUZZ_CHECK(v->n_up == 1 && p->n_up == 1);
    sn = calloc(1, sizeof *sn);
    FUZZ_CHECK(sn != NULL);
    sn->v = v->s;
    sn->p = p->s;
    sn->v.txbuf = sn->p.txbuf = NULL;
    FUZZ_CHECK(v->s.rxbuf == NULL && p->s.rxbuf == NULL);
    memcpy(sn->last_rx, last_rx, last_rx_len);
    sn->last_rx_len = last_rx_len;
    snaps[config] = sn;
    return; /* these sessions are used as they are this time */
  }
  thaw(&v->s, &sn->v);
  thaw(&p->s, &sn->p);
  v->n_up = p->n_up = 1;
  memcpy(last_rx, sn->last_rx, sn->last_rx_len);
  last_rx_len = sn->last_rx_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  init_once();
  fuzz_in in = {data, size};
  uint8_t config = fuzz_u8(&in);

  static side v, p;
  uint64_t now = 1000;
  established(&v, &p, config, now);
  v.check = true;
  p.check = true;
  bool forged = false;
  if (mbuf == NULL) {
    mbuf = malloc(YZ_SESSION_DEFAULT_MAX_MESSAGE + YZ_SESSION_MAX_WIRE_LEN);
    FUZZ_CHECK(mbuf != NULL);
  }

  static uint8_t buf[YZ_SESSION_MAX_WIRE_LEN + 64];
  static uint8_t *big;
  if (big == NULL) {
    big = malloc(2 * YZ_SESSION_DEFAULT_MAX_MESSAGE);
    FUZZ_CHECK(big != NULL);
  }
  for (int step = 0; step < 64 && in.n > 0; step++) {
    uint8_t op = fuzz_u8(&in);
    now += fuzz_u16(&in);
    const uint8_t *d = NULL;
    size_t n = 0;
    (void)fuzz_chunk(&in, &d, &n);
    bool v_up = yz_session_get_state(&v.s) == YZ_SESSION_UP;
    switch (op & 7) {
    case 0: { /* a forged frame behind the AEAD */
      if (!v_up || yz_session_get_state(&p.s) != YZ_SESSION_UP)
        break;
      size_t clen = 0;
      if (n > YZ_SESSION_MAX_FRAME_LEN)
        n = YZ_SESSION_MAX_FRAME_LEN;
      if (yz_noise_cs_encrypt_with_ad(&p.s.tx, NULL, 0, d, n, buf,
                                      sizeof buf, &clen) != 0)
        break;
      /* The victim rekeys after a REKEY frame; the harness after op & 8.
       * If they differ, nothing later authenticates. */
      bool is_rekey = n == 1 && d[0] == YZ_FRAME_REKEY;
      if (op & 8)
        FUZZ_CHECK(yz_noise_cs_rekey(&p.s.tx) == 0);
      forged = true;
      bool ok = true;
      if (v.check && !v.dead)
        ok = model_frame(&v, d, n);
      memcpy(last_rx, buf, clen);
      last_rx_len = clen;
      deliver(&v.s, buf, clen, now);
      if (!ok) {
        FUZZ_CHECK(yz_session_get_state(&v.s) == YZ_SESSION_CLOSED);
        v.check = false;
      }
      if (!ok || is_rekey != ((op & 8) != 0))
        v.dead = true;
      break;
    }
    case 1:
      forged = true;
      deliver(&v.s, d, n, now);
      if (v_up)
        v.dead = true; /* raw bytes never authenticate */
      break;
    case 2:
      (void)yz_session_tick(&v.s, now);
      (void)yz_session_tick(&p.s, now);
      break;
    case 3:
    case 4: {
      side *from = (op & 7) == 3 ? &p : &v, *to = (op & 7) == 3 ? &v : &p;
      size_t len = n << ((op >> 4) & 7);
      if (len > 2 * YZ_SESSION_DEFAULT_MAX_MESSAGE)
        len = 2 * YZ_SESSION_DEFAULT_MAX_MESSAGE;
      for (size_t i = 0; n > 0 && i < len; i++)
        big[i] = d[i % n];
      if (n == 0)
        len = 0;
      /* An honest message in the middle of a forged fragmented one is
       * out of order: the victim closes on it. */
      bool breaks = to == &v && v.reasm &&
                    yz_session_get_state(&from->s) == YZ_SESSION_UP &&
                    len <= from->s.cfg.max_message;
      int rc = yz_session_send(&from->s, big, len, now);
      if (rc == 0)
        push(&to->expect, &to->n_expect, &to->cap_expect, big, len);
      if (breaks && rc == 0) {
        v.check = false;
        v.dead = true;
      }
      else if (len > from->s.cfg.max_message &&
               yz_session_get_state(&from->s) == YZ_SESSION_UP)
        FUZZ_CHECK(rc == YZ_E_TOO_LARGE);
      break;
    }
    case 5:
    case 6: {
      side *who = (op & 7) == 5 ? &v : &p;
      char text[200];
      size_t tl = n > 2 ? n - 2 : 0;
      if (tl >= sizeof text)
        tl = sizeof text - 1;
      if (tl)
        memcpy(text, d + 2, tl);
      text[tl] = '\0';
      /* Any bytes: yz_session_close() cuts the text before its first
       * invalid UTF-8 byte, so the peer must still see our code, never
       * PROTOCOL (checked below). */
      uint16_t code = n >= 2 ? (uint16_t)(d[0] << 8 | d[1]) : 0;
      who->app_closed = true;
      (void)yz_session_close(&who->s, code, text, now);
      break;
    }
    default: /* replay */
      if (v_up && last_rx_len > 0) {
        forged = true;
        deliver(&v.s, last_rx, last_rx_len, now);
        FUZZ_CHECK(yz_session_get_state(&v.s) == YZ_SESSION_CLOSED);
        v.dead = true;
      }
      break;
    }
    pump(&v, &p, now);
    /* The honest peer never blames the victim for a protocol error (once
     * frames were forged, the victim may rightly answer a forged PING
     * with a PONG the peer never asked for). */
    if (!forged && p.n_closed && !p.close_remote && !p.app_closed &&
        (p.close_code == YZ_CLOSE_PROTOCOL ||
         p.close_code == YZ_CLOSE_DECRYPT || p.close_code == YZ_CLOSE_TOO_LARGE))
      fprintf(stderr, "peer closed: %s (%s)\n", p.close_text,
              yz_session_close_code_name(p.close_code));
    if (!forged && p.n_closed && !p.close_remote && !p.app_closed)
      FUZZ_CHECK(p.close_code != YZ_CLOSE_PROTOCOL &&
                 p.close_code != YZ_CLOSE_DECRYPT &&
                 p.close_code != YZ_CLOSE_TOO_LARGE);
    if (yz_session_get_state(&v.s) == YZ_SESSION_CLOSED)
      FUZZ_CHECK(v.n_closed == 1);
  }
  /* Everything the honest sides sent while both were up has arrived. */
  if (p.check && yz_session_get_state(&p.s) == YZ_SESSION_UP)
    FUZZ_CHECK(p.expect_head == p.n_expect);
  if (v.check && yz_session_get_state(&v.s) == YZ_SESSION_UP &&
      yz_session_get_state(&p.s) == YZ_SESSION_UP)
    FUZZ_CHECK(v.expect_head == v.n_expect);

  yz_session_clear(&v.s);
  yz_session_clear(&p.s);
  free_wires(v.q, v.nq);
  free_wires(p.q, p.nq);
  free_wires(v.expect, v.n_expect);
  free_wires(p.expect, p.n_expect);
  return 0;
}
