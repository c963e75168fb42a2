/*
 * Fuzz target: the yz handshake as a session runs it (docs/protocol.md,
 * "Handshake"), with the fuzzer inside the encrypted payloads.
 *
 * The victim is a yz_session (initiator or responder); the harness plays
 * the other side with the noise layer directly (Noise_XX, the yz prologue,
 * a fixed static key and ephemeral), so it can put any identity proof into
 * messages 2 and 3 and still get them past the AEAD: the proof decoder,
 * the signature check and the node-ID pinning are reached.
 *
 * Input: [config] then, for each message the victim reads,
 * [op][len16][bytes]:
 *   op & 3 = 0  the honest message (the harness's real, signed proof)
 *            1  the honest message with bytes as the payload (a forged
 *               proof)
 *            2  bytes as a raw wire message
 *            3  the honest message with bytes XORed in at offset op >> 2
 * config: bit 0 victim is the initiator; bit 1 the victim pins a wrong
 * node ID; bit 2 the responder pins too; bit 3 the clock jumps past the
 * handshake timeout before the victim's last read.
 *
 * Invariants checked: the victim comes UP only with the harness's real
 * identity (node ID of the key that signed the harness's static key) and
 * never when it pinned another one; a victim that is UP and the harness
 * agree on the channel binding and exchange a message both ways; every
 * failure closes the session once, with a reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "yz/identity.h"
#include "yz/noise.h"
#include "yz/session.h"
#include "session/testing.h"

static yz_session_local local_v, local_h;
static yz_node_id id_v, id_h, id_other;
static uint8_t h_static[YZ_NOISE_DH_LEN];
static yz_noise_protocol proto;
static bool ready;

static void init_once(void)
{
  if (ready)
    return;
  FUZZ_CHECK(sodium_init() >= 0);
  uint8_t seed[32], spriv[32];
  yz_identity iv, ih;
  fuzz_key(seed, 80);
  FUZZ_CHECK(yz_identity_from_seed(&iv, seed) == 0);
  fuzz_key(seed, 81);
  FUZZ_CHECK(yz_identity_from_seed(&ih, seed) == 0);
  fuzz_key(spriv, 82);
  FUZZ_CHECK(yz_session_local_init(&local_v, &iv, spriv, NULL) == 0);
  fuzz_key(h_static, 83);
  static const char *const urls[] = {"wss://node.example.org/yz"};
  static const uint64_t types[] = {3};
  yz_session_proof_options o = {.n_addresses = 1, .address_urls = urls,
                                .address_client_types = types,
                                .node_type = 1, .has_capabilities = true,
                                .capabilities = 7, .version = "yz fuzz"};
  FUZZ_CHECK(yz_session_local_init(&local_h, &ih, h_static, &o) == 0);
  id_v = *yz_identity_node_id(&iv);
  id_h = *yz_identity_node_id(&ih);
  memset(&id_other, 0x42, sizeof id_other);
  yz_identity_clear(&iv);
  yz_identity_clear(&ih);
  FUZZ_CHECK(yz_noise_protocol_parse(
                 &proto, (const uint8_t *)YZ_SESSION_NOISE_PROTOCOL,
                 strlen(YZ_SESSION_NOISE_PROTOCOL), NULL) == 0);
  ready = true;
}

typedef struct victim {
  yz_session s;
  uint8_t out[4][YZ_SESSION_MAX_WIRE_LEN];
  size_t out_len[4];
  size_t n_out;
  int n_up, n_closed, n_msgs;
  yz_node_id up_id;
  uint8_t binding[YZ_SESSION_HASH_LEN];
} victim;

static int on_send(void *user, uint8_t *msg, size_t len)
{
  victim *v = user;
  FUZZ_CHECK(len > 0 && len <= YZ_SESSION_MAX_WIRE_LEN);
  if (v->n_out < 4) {
    memcpy(v->out[v->n_out], msg, len);
    v->out_len[v->n_out++] = len;
  }
  return 0;
}

static void on_event(void *user, const yz_session_event *ev)
{
  victim *v = user;
  FUZZ_CHECK(v->n_closed == 0);
  if (ev->type == YZ_SESSION_EVENT_UP) {
    FUZZ_CHECK(v->n_up == 0);
    v->n_up++;
    v->up_id = *ev->u.up.peer_id;
    FUZZ_CHECK(ev->u.up.proof != NULL);
    FUZZ_CHECK(ev->u.up.channel_binding_len == YZ_SESSION_HASH_LEN);
    memcpy(v->binding, ev->u.up.channel_binding, YZ_SESSION_HASH_LEN);
  } else if (ev->type == YZ_SESSION_EVENT_MESSAGE) {
    FUZZ_CHECK(v->n_up == 1);
    v->n_msgs++;
  } else {
    FUZZ_CHECK(ev->type == YZ_SESSION_EVENT_CLOSED);
    FUZZ_CHECK(ev->u.closed.text != NULL && ev->u.closed.text[0] != '\0');
    v->n_closed++;
  }
}

/* Take the victim's queued wire messages, oldest first. */
static bool pop(victim *v, uint8_t *out, size_t *len)
{
  if (v->n_out == 0)
    return false;
  *len = v->out_len[0];
  memcpy(out, v->out[0], *len);
  for (size_t i = 1; i < v->n_out; i++) {
    memcpy(v->out[i - 1], v->out[i], v->out_len[i]);
    v->out_len[i - 1] = v->out_len[i];
  }
  v->n_out--;
  return true;
}

static void deliver(victim *v, const uint8_t *msg, size_t len, uint64_t now)
{
  int rc = yz_session_recv(&v->s, msg, len, now);
  if (rc == 0)
    FUZZ_CHECK(yz_session_get_state(&v->s) != YZ_SESSION_CLOSED);
  else
    FUZZ_CHECK(yz_session_get_state(&v->s) == YZ_SESSION_CLOSED &&
               v->n_closed == 1);
}

static uint8_t msg[YZ_SESSION_MAX_WIRE_LEN + 64], pay[YZ_SESSION_MAX_WIRE_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  init_once();
  fuzz_in in = {data, size};
  uint8_t config = fuzz_u8(&in);
  bool v_init = config & 1;

  static victim v;
  memset(&v, 0, sizeof v);
  uint8_t eph[32];
  fuzz_key(eph, 84);
  yz_session_config c;
  yz_session_config_default(&c);
  c.role = v_init ? YZ_SESSION_INITIATOR : YZ_SESSION_RESPONDER;
  c.local = &local_v;
  if (v_init || (config & 4))
    c.expected_peer = (config & 2) ? &id_other : &id_h;
  c.send = on_send;
  c.event = on_event;
  c.user = &v;
  yz__session_test_hooks hooks = {.ephemeral = eph};
  FUZZ_CHECK(yz__session_init_testing(&v.s, &c, &hooks) == 0);

  yz_noise_handshakestate h;
  FUZZ_CHECK(yz_noise_hs_init(&h, &proto,
                              v_init ? YZ_NOISE_RESPONDER : YZ_NOISE_INITIATOR,
                              (const uint8_t *)YZ_SESSION_PROLOGUE,
                              YZ_SESSION_PROLOGUE_LEN) == 0);
  FUZZ_CHECK(yz_noise_hs_set_local_static(&h, h_static) == 0);
  fuzz_key(eph, 85);
  FUZZ_CHECK(yz_noise_hs_set_local_ephemeral(&h, eph) == 0);
  FUZZ_CHECK(yz_noise_hs_start(&h) == 0);

  uint64_t now = 5000;
  FUZZ_CHECK(yz_session_start(&v.s, now) == 0);
  bool tampered = false, h_dead = false;
  int reads = 0;
  for (int step = 0; step < 6; step++) {
    if (yz_session_get_state(&v.s) != YZ_SESSION_HANDSHAKE)
      break;
    size_t mlen = 0, plen = 0;
    if (pop(&v, msg, &mlen)) { /* the victim wrote: the harness reads */
      if (!h_dead) {
        int rc = yz_noise_hs_read_message(&h, msg, mlen, pay, sizeof pay,
                                          &plen);
        if (!tampered)
          FUZZ_CHECK(rc == 0);
        h_dead = rc != 0;
      }
      continue;
    }
    /* The victim waits for a message. */
    uint8_t op = fuzz_u8(&in);
    const uint8_t *d = NULL;
    size_t n = 0;
    (void)fuzz_chunk(&in, &d, &n);
    if (h_dead || yz_noise_hs_action(&h) != YZ_NOISE_ACTION_WRITE)
      op = 2;
    if ((op & 3) == 2) {
      if (n > 0)
        memcpy(msg, d, n);
      mlen = n;
      tampered = h_dead = true;
    } else {
      const uint8_t *pl = local_h.proof;
      size_t pll = local_h.proof_len;
      if (yz_noise_hs_action(&h) == YZ_NOISE_ACTION_WRITE &&
          (op & 3) == 1) {
        pl = d;
        pll = n;
        tampered = true;
      }
      bool first = v_init ? false : yz_noise_hs_action(&h) ==
                                        YZ_NOISE_ACTION_WRITE && reads == 0;
      if (first) { /* message 1 carries no payload */
        pl = NULL;
        pll = 0;
      }
      if (yz_noise_hs_write_message(&h, pl, pll, msg, sizeof msg, &mlen) !=
          0)
        break;
      if ((op & 3) == 3 && mlen > 0) {
        size_t off = (op >> 2) % mlen;
        for (size_t i = 0; i < n && off + i < mlen; i++) {
          tampered |= d[i] != 0;
          msg[off + i] ^= d[i];
        }
      }
    }
    if (reads == (v_init ? 0 : 1) && (config & 8))
      now += YZ_SESSION_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    reads++;
    deliver(&v, msg, mlen, now);
  }

  /* The victim's last handshake message (initiator: message 3). */
  if (v.n_up && !h_dead &&
      yz_noise_hs_action(&h) == YZ_NOISE_ACTION_READ) {
    size_t mlen = 0, plen = 0;
    FUZZ_CHECK(pop(&v, msg, &mlen));
    int rc = yz_noise_hs_read_message(&h, msg, mlen, pay, sizeof pay, &plen);
    if (!tampered)
      FUZZ_CHECK(rc == 0);
    h_dead = rc != 0;
  }

  if (v.n_up) {
    /* Only the real identity gets in, and never past a wrong pin. */
    FUZZ_CHECK(yz_node_id_equal(&v.up_id, &id_h));
    FUZZ_CHECK(!(config & 2) || !c.expected_peer);
    FUZZ_CHECK(!(config & 8));
    uint8_t hh[YZ_NOISE_MAX_HASH_LEN];
    if (!h_dead && yz_noise_hs_action(&h) == YZ_NOISE_ACTION_SPLIT) {
      size_t hl = yz_noise_hs_get_handshake_hash(&h, hh);
      FUZZ_CHECK(hl == YZ_SESSION_HASH_LEN &&
                 memcmp(hh, v.binding, hl) == 0);
      yz_noise_cipherstate hs_send, hs_recv;
      FUZZ_CHECK(yz_noise_hs_split(&h, &hs_send, &hs_recv) == 0);
      /* One message each way. */
      FUZZ_CHECK(yz_session_send(&v.s, (const uint8_t *)"ping", 4, now) ==
                 0);
      size_t mlen = 0, plen = 0;
      while (pop(&v, msg, &mlen)) {
        FUZZ_CHECK(yz_noise_cs_decrypt_with_ad(&hs_recv, NULL, 0, msg, mlen,
                                               pay, sizeof pay, &plen) == 0);
      }
      FUZZ_CHECK(plen == 5 && pay[0] == YZ_FRAME_DATA &&
                 memcmp(pay + 1, "ping", 4) == 0);
      static const uint8_t frame[] = {YZ_FRAME_DATA, 'p', 'o', 'n', 'g'};
      FUZZ_CHECK(yz_noise_cs_encrypt_with_ad(&hs_send, NULL, 0, frame,
                                             sizeof frame, msg, sizeof msg,
                                             &mlen) == 0);
      deliver(&v, msg, mlen, now);
      FUZZ_CHECK(v.n_msgs == 1);
      yz_noise_cs_clear(&hs_send);
      yz_noise_cs_clear(&hs_recv);
    }
  }
  if (yz_session_get_state(&v.s) == YZ_SESSION_CLOSED)
    FUZZ_CHECK(v.n_closed == 1);
  yz_noise_hs_clear(&h);
  yz_session_clear(&v.s);
  return 0;
}
