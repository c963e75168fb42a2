/*
 * Session: two sessions over an in-memory pipe (harness.h). Handshake,
 * identity binding, man in the middle, tampering, fragmentation, rekey,
 * keepalive, timeouts, close. Deterministic: time is a number we pass in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include <sodium.h>

#include "common/util.h"
#include "harness.h"
#include "session/testing.h"

static side A, B, M, M2; /* initiator, responder, attacker (two faces) */

/* A tweak changes a side's configuration; tweak_hooks then points at that
 * side's test hooks (session/testing.h), which it may change too. */
typedef void (*tweak_fn)(yz_session_config *cfg);
static yz__session_test_hooks *tweak_hooks;

/* A dials B (pinned to B's node ID); B answers. Not pumped yet. */
static void pair_init(tweak_fn ta, tweak_fn tb)
{
  side_identity(&A, "A", 0xa1);
  side_identity(&B, "B", 0xb2);
  yz_session_config ca, cb;
  side_config(&A, &ca, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
  side_config(&B, &cb, YZ_SESSION_RESPONDER, NULL);
  yz__session_test_hooks ha = {0}, hb = {0};
  tweak_hooks = &ha;
  if (ta)
    ta(&ca);
  tweak_hooks = &hb;
  if (tb)
    tb(&cb);
  tweak_hooks = NULL;
  assert_int_equal(yz__session_init_testing(&A.s, &ca, &ha), 0);
  assert_int_equal(yz__session_init_testing(&B.s, &cb, &hb), 0);
  assert_int_equal(yz_session_start(&B.s, 0), 0);
  assert_int_equal(yz_session_start(&A.s, 0), 0);
}

static void pair_up(tweak_fn ta, tweak_fn tb)
{
  pair_init(ta, tb);
  pump(&A, &B, 0);
  assert_int_equal(A.n_up, 1);
  assert_int_equal(B.n_up, 1);
  assert_int_equal(yz_session_get_state(&A.s), YZ_SESSION_UP);
  assert_int_equal(yz_session_get_state(&B.s), YZ_SESSION_UP);
}

static int teardown(void **state)
{
  (void)state;
  side_free(&A);
  side_free(&B);
  side_free(&M);
  side_free(&M2);
  return 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    p[i] = (uint8_t)x;
  }
}

/* ---- one copy per message ---------------------------------------------- */

/* A's transport hands out its own buffers (cfg.tx_alloc) and counts the
 * messages that come back to send() in them; B records where a delivered
 * message lies. */
static uint8_t oc_arena[16 + YZ_SESSION_MAX_WIRE_LEN];
static uint8_t *oc_given;
static size_t oc_allocs, oc_in_place;
static bool oc_refuse;
static const uint8_t *oc_data;

static uint8_t *oc_alloc(void *user, size_t len)
{
  (void)user;
  assert_true(len <= YZ_SESSION_MAX_WIRE_LEN);
  if (oc_refuse)
    return NULL;
  oc_allocs++;
  oc_given = oc_arena + 16;
  return oc_given;
}

static int oc_send(void *user, uint8_t *msg, size_t len)
{
  if (oc_given != NULL && msg == oc_given)
    oc_in_place++;
  oc_given = NULL;
  return h_send(user, msg, len);
}

static void oc_event(void *user, const yz_session_event *ev)
{
  if (ev->type == YZ_SESSION_EVENT_MESSAGE)
    oc_data = ev->u.message.data;
  h_event(user, ev);
}

static void tweak_one_copy_tx(yz_session_config *cfg)
{
  cfg->send_headroom = 16;
  cfg->tx_alloc = oc_alloc;
  cfg->send = oc_send;
}

static void tweak_one_copy_rx(yz_session_config *cfg) { cfg->event = oc_event; }

/* Deliver A's queue to B with yz_session_recv_inplace(). */
static void deliver_inplace(void)
{
  while (q_len(&A.out)) {
    wmsg w = q_pop(&A.out);
    oc_data = NULL;
    assert_int_equal(yz_session_recv_inplace(&B.s, w.p, w.n, 0), 0);
    if (oc_data != NULL && B.last_len + 1 + YZ_NOISE_TAG_LEN == w.n &&
        w.n < YZ_SESSION_MAX_WIRE_LEN)
      /* a single-frame message is delivered from the wire buffer (one
       * of full size from the reassembly buffer: see below) */
      assert_true(oc_data >= w.p && oc_data < w.p + w.n);
    free(w.p);
  }
}

static void test_one_copy(void **state)
{
  (void)state;
  oc_allocs = oc_in_place = 0;
  oc_refuse = false;
  pair_up(tweak_one_copy_tx, tweak_one_copy_rx);
  /* the handshake used the session's own buffer */
  assert_int_equal(oc_allocs, 0);
  /* a small message: sealed in the transport's buffer, sent from it */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"hello", 5, 1), 0);
  assert_int_equal(oc_allocs, 1);
  assert_int_equal(oc_in_place, 1);
  deliver_inplace();
  assert_int_equal(B.n_msg, 1);
  assert_memory_equal(B.last_msg, "hello", 5);
  /* a fragmented message (3 frames): each sealed in place; B reassembles
   * from in-place decrypted first fragment and the later ones */
  size_t big = 150000;
  uint8_t *p = malloc(big);
  assert_non_null(p);
  fill(p, big, 7);
  assert_int_equal(yz_session_send(&A.s, p, big, 2), 0);
  assert_int_equal(oc_allocs, 4);
  assert_int_equal(oc_in_place, 4);
  deliver_inplace();
  assert_int_equal(B.n_msg, 2);
  assert_int_equal(B.last_len, big);
  assert_memory_equal(B.last_msg, p, big);
  /* a transport without a buffer to give: the session's own is used */
  oc_refuse = true;
  assert_int_equal(yz_session_send(&A.s, p, 1000, 3), 0);
  assert_int_equal(oc_in_place, 4);
  deliver_inplace();
  assert_int_equal(B.n_msg, 3);
  assert_memory_equal(B.last_msg, p, 1000);
  /* the plain yz_session_recv() reads what was sealed in place */
  oc_refuse = false;
  assert_int_equal(yz_session_send(&A.s, p, 2000, 4), 0);
  pump(&A, &B, 4);
  assert_int_equal(B.n_msg, 4);
  assert_memory_equal(B.last_msg, p, 2000);
  /* a tampered message decrypted in place: refused, nothing delivered */
  assert_int_equal(yz_session_send(&A.s, p, 100, 5), 0);
  wmsg w = q_pop(&A.out);
  w.p[w.n - 1] ^= 1;
  assert_int_equal(yz_session_recv_inplace(&B.s, w.p, w.n, 5), YZ_E_DECRYPT);
  free(w.p);
  assert_int_equal(B.n_msg, 4);
  assert_int_equal(B.close_err, YZ_E_DECRYPT);
  free(p);
}

/*
 * A 64 KiB message is two transport messages. Received in place, the
 * first (full-size) one is decrypted straight into the reassembly buffer,
 * which already has room for the second: no growth (and so no copy of the
 * first chunk) between them, and the buffer is kept for the next message
 * while the session is busy, not wiped, freed and faulted in again for
 * each one (docs/protocol.md section 7).
 */
static void test_two_frames_no_copy(void **state)
{
  (void)state;
  pair_up(NULL, tweak_one_copy_rx);
  size_t big = 65536;
  uint8_t *p = malloc(big);
  assert_non_null(p);
  for (int round = 0; round < 3; round++) {
    fill(p, big, (uint8_t)(11 + round));
    assert_int_equal(yz_session_send(&A.s, p, big, 1), 0);
    assert_int_equal(q_len(&A.out), 2);
    wmsg w = q_pop(&A.out);
    assert_int_equal(w.n, YZ_SESSION_MAX_WIRE_LEN);
    assert_int_equal(yz_session_recv_inplace(&B.s, w.p, w.n, 1), 0);
    free(w.p);
    size_t cap = yz_session_rx_buffered(&B.s);
    assert_true(cap >= 5 + big);
    assert_true(cap <= 2 * YZ_SESSION_MAX_FRAME_LEN); /* twice the input */
    w = q_pop(&A.out);
    assert_int_equal(yz_session_rx_reserve(&B.s, w.n), cap);
    oc_data = NULL;
    assert_int_equal(yz_session_recv_inplace(&B.s, w.p, w.n, 1), 0);
    free(w.p);
    assert_int_equal(B.n_msg, round + 1);
    assert_int_equal(B.last_len, big);
    assert_memory_equal(B.last_msg, p, big);
    /* the same buffer, kept */
    assert_int_equal(yz_session_rx_buffered(&B.s), cap);
  }
  /* idle: released */
  uint64_t idle = 1 + YZ_SESSION_DEFAULT_PING_IDLE_MS;
  assert_int_equal(yz_session_tick(&B.s, idle), 0);
  assert_int_equal(yz_session_rx_buffered(&B.s), 0);
  free(p);
}

/* ---- handshake --------------------------------------------------------- */

static void test_handshake(void **state)
{
  (void)state;
  pair_init(NULL, NULL);
  /* message 1: e only, 32 bytes, empty payload */
  assert_int_equal(q_len(&A.out), 1);
  assert_int_equal(A.out.m[A.out.head].n, 32);
  pump(&A, &B, 5);
  assert_int_equal(A.n_up, 1);
  assert_int_equal(B.n_up, 1);
  assert_true(yz_node_id_equal(&A.up_peer, yz_identity_node_id(&B.id)));
  assert_true(yz_node_id_equal(&B.up_peer, yz_identity_node_id(&A.id)));
  assert_memory_equal(A.up_cb, B.up_cb, YZ_SESSION_HASH_LEN);
  uint8_t cb[YZ_SESSION_HASH_LEN];
  assert_int_equal(yz_session_channel_binding(&A.s, cb), YZ_SESSION_HASH_LEN);
  assert_memory_equal(cb, B.up_cb, sizeof cb);
  assert_true(yz_node_id_equal(yz_session_peer_id(&B.s),
                               yz_identity_node_id(&A.id)));
  assert_memory_equal(A.up_proof.identity_pk, yz_identity_public_key(&B.id),
                      32);
  /* a message each way */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"hello", 5, 6), 0);
  assert_int_equal(yz_session_send(&B.s, (const uint8_t *)"world!", 6, 6), 0);
  pump(&A, &B, 6);
  assert_int_equal(B.n_msg, 1);
  assert_int_equal(B.last_len, 5);
  assert_memory_equal(B.last_msg, "hello", 5);
  assert_int_equal(A.n_msg, 1);
  assert_memory_equal(A.last_msg, "world!", 6);
  /* no further events, nothing closed */
  assert_int_equal(A.n_closed + B.n_closed, 0);
}

static void tweak_pin_a(yz_session_config *cfg)
{
  cfg->expected_peer = yz_identity_node_id(&A.id);
  cfg->unpinned = false;
}

static void test_handshake_responder_pinned(void **state)
{
  (void)state;
  pair_up(NULL, tweak_pin_a);
  assert_true(yz_node_id_equal(&B.up_peer, yz_identity_node_id(&A.id)));
}

static void tweak_pin_wrong(yz_session_config *cfg)
{
  static yz_node_id other;
  memset(&other, 0x77, sizeof other);
  cfg->expected_peer = &other;
  cfg->unpinned = false;
}

static void test_responder_pin_mismatch(void **state)
{
  (void)state;
  pair_init(NULL, tweak_pin_wrong);
  pump(&A, &B, 0);
  assert_int_equal(B.n_up, 0);
  assert_int_equal(B.n_closed, 1);
  assert_int_equal(B.close_err, YZ_E_PEER_ID_MISMATCH);
  assert_int_equal(B.close_code, YZ_CLOSE_PEER_ID_MISMATCH);
}

/* Restart B as a responder with these proof options. */
static void restart_b_with(const yz_session_proof_options *o)
{
  yz_session_clear(&B.s);
  yz_session_local_clear(&B.local);
  assert_int_equal(yz_session_local_init(&B.local, &B.id, NULL, o), 0);
  yz_session_config c;
  side_config(&B, &c, YZ_SESSION_RESPONDER, NULL);
  assert_int_equal(yz_session_init(&B.s, &c), 0);
  assert_int_equal(yz_session_start(&B.s, 0), 0);
}

/* Restart B as a responder whose proof names network net (NULL: "yz"). */
static void restart_b_on(const char *net)
{
  yz_session_proof_options o = {.network = net};
  restart_b_with(&o);
}

static void test_proof_fields(void **state)
{
  (void)state;
  pair_init(NULL, NULL);
  /* B advertises addresses, type, capabilities and version. */
  const char *urls[] = {"ws://192.0.2.1:4433/", "wss://b.example/yz"};
  const uint64_t types[] = {YZ_WIRE_CLIENT_WS,
                            YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS};
  yz_session_proof_options o = {.n_addresses = 2,
                                .address_urls = urls,
                                .address_client_types = types,
                                .node_type = YZ_WIRE_NODE_INFRASTRUCTURE,
                                .has_capabilities = true,
                                .capabilities = YZ_WIRE_CAP_RELAY,
                                .version = "yz 0.1.0"};
  restart_b_with(&o);
  pump(&A, &B, 0);
  assert_int_equal(A.n_up, 1);
  assert_int_equal(A.up_proof.n_addresses, 2);
  assert_string_equal(A.up_proof.addresses[1].url, "wss://b.example/yz");
  assert_int_equal(A.up_proof.addresses[1].client_types, 3);
  assert_int_equal(A.up_proof.node_type, YZ_WIRE_NODE_INFRASTRUCTURE);
  assert_int_equal(A.up_proof.capabilities, YZ_WIRE_CAP_RELAY);
  assert_string_equal(A.up_proof.version, "yz 0.1.0");
  /* bad options are refused */
  const char *bad[] = {"http://x/"};
  o.n_addresses = 1;
  o.address_urls = bad;
  yz_session_local l;
  assert_int_equal(yz_session_local_init(&l, &B.id, NULL, &o), YZ_E_INVAL);
}


/* docs/protocol.md section 5, "Network name": A ("yz") reads message 2 of
 * B ("yz-test"), still sends message 3, and fails before Split(); B fails
 * on message 3. Both with YZ_E_NETWORK, local code NETWORK, no CLOSE
 * frame, a reason naming both networks. The same network links up; the
 * name "yz" is the absent field. */
static void test_network_name(void **state)
{
  (void)state;
  pair_init(NULL, NULL);
  restart_b_on("yz-test");
  pump(&A, &B, 0);
  assert_int_equal(A.n_up + B.n_up, 0);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(B.n_closed, 1);
  assert_int_equal(A.close_err, YZ_E_NETWORK);
  assert_int_equal(B.close_err, YZ_E_NETWORK);
  assert_int_equal(A.close_code, YZ_CLOSE_NETWORK);
  assert_int_equal(B.close_code, YZ_CLOSE_NETWORK);
  assert_false(A.close_remote);
  assert_false(B.close_remote);
  assert_string_equal(A.close_text,
                      "network name mismatch: this node belongs to network "
                      "\"yz\", the peer to \"yz-test\"");
  assert_string_equal(B.close_text,
                      "network name mismatch: this node belongs to network "
                      "\"yz-test\", the peer to \"yz\"");
  /* three handshake messages, nothing after them */
  assert_int_equal(A.sent_total, 2);
  assert_int_equal(B.sent_total, 1);
  assert_string_equal(yz_session_close_code_name(YZ_CLOSE_NETWORK),
                      "NETWORK");
  teardown(NULL);

  /* "yz" given explicitly is the default: not sent, and it matches. */
  pair_init(NULL, NULL);
  size_t plain = B.local.proof_len;
  restart_b_on("yz");
  assert_int_equal(B.local.proof_len, plain);
  pump(&A, &B, 0);
  assert_int_equal(A.n_up + B.n_up, 2);
  assert_int_equal(A.up_proof.network_len, 0);
  teardown(NULL);

  /* Both on "yz-test": up, and the name is in the proof. */
  pair_init(NULL, NULL);
  restart_b_on("yz-test");
  yz_session_proof_options o = {.network = "yz-test"};
  yz_session_clear(&A.s);
  q_clear(&A.out); /* the first session's message 1 */
  yz_session_local_clear(&A.local);
  assert_int_equal(yz_session_local_init(&A.local, &A.id, NULL, &o), 0);
  yz_session_config ca;
  side_config(&A, &ca, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
  assert_int_equal(yz_session_init(&A.s, &ca), 0);
  assert_int_equal(yz_session_start(&A.s, 0), 0);
  pump(&A, &B, 0);
  assert_int_equal(A.n_up + B.n_up, 2);
  assert_string_equal(A.up_proof.network, "yz-test");
  assert_string_equal(B.up_proof.network, "yz-test");

  /* Names outside the grammar are refused. */
  yz_session_local l;
  static const char *const bad[] = {"", "YZ", "a b", "x/y",
                                    "0123456789abcdef0123456789abcdef0"};
  for (size_t i = 0; i < YZ__ARRAY_LEN(bad); i++) {
    o.network = bad[i];
    assert_int_equal(yz_session_local_init(&l, &A.id, NULL, &o), YZ_E_INVAL);
  }
}

static void test_config_misuse(void **state)
{
  (void)state;
  side_identity(&A, "A", 1);
  yz_session_config c;
  side_config(&A, &c, YZ_SESSION_INITIATOR, NULL);
  c.unpinned = false; /* neither a pin nor an explicit unpinned */
  assert_int_equal(yz_session_init(&A.s, &c), YZ_E_INVAL);
  c.unpinned = true;
  c.send = NULL;
  assert_int_equal(yz_session_init(&A.s, &c), YZ_E_INVAL);
  side_config(&A, &c, YZ_SESSION_INITIATOR, NULL);
  c.send_headroom = YZ_SESSION_MAX_HEADROOM + 1;
  assert_int_equal(yz_session_init(&A.s, &c), YZ_E_INVAL);
  side_config(&A, &c, YZ_SESSION_INITIATOR, NULL);
  c.send_headroom = 16;
  assert_int_equal(yz_session_init(&A.s, &c), 0);
  /* not started: send refused; double start refused */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"x", 1, 0),
                   YZ_E_STATE);
  assert_int_equal(yz_session_start(&A.s, 0), 0);
  assert_int_equal(yz_session_start(&A.s, 0), YZ_E_STATE);
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"x", 1, 0),
                   YZ_E_STATE);
  assert_null(yz_session_peer_id(&A.s));
  uint8_t cb[64];
  assert_int_equal(yz_session_channel_binding(&A.s, cb), 0);
}

/* ---- man in the middle ------------------------------------------------- */

/*
 * M answers A's dial with its own identity (face M) and dials B itself
 * (face M2, with the same identity), forwarding application bytes. Both
 * handshakes complete as far as they can; A must refuse every time.
 */
static void test_mitm_detected(void **state)
{
  (void)state;
  for (int round = 0; round < 16; round++) {
    side_free(&A), side_free(&B), side_free(&M), side_free(&M2);
    side_identity(&A, "A", (uint8_t)(0x10 + round));
    side_identity(&B, "B", (uint8_t)(0x40 + round));
    side_identity(&M, "M", (uint8_t)(0x80 + round));
    side_identity(&M2, "M2", (uint8_t)(0x80 + round));
    yz_session_config c;
    side_config(&A, &c, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
    assert_int_equal(yz_session_init(&A.s, &c), 0);
    side_config(&M, &c, YZ_SESSION_RESPONDER, NULL);
    assert_int_equal(yz_session_init(&M.s, &c), 0);
    side_config(&M2, &c, YZ_SESSION_INITIATOR, NULL);
    assert_int_equal(yz_session_init(&M2.s, &c), 0);
    side_config(&B, &c, YZ_SESSION_RESPONDER, NULL);
    assert_int_equal(yz_session_init(&B.s, &c), 0);
    assert_int_equal(yz_session_start(&M.s, 0), 0);
    assert_int_equal(yz_session_start(&B.s, 0), 0);
    assert_int_equal(yz_session_start(&A.s, 0), 0);
    assert_int_equal(yz_session_start(&M2.s, 0), 0);
    pump(&A, &M, 0);
    pump(&M2, &B, 0);
    assert_int_equal(A.n_up, 0);
    assert_int_equal(A.n_msg, 0);
    assert_int_equal(A.n_closed, 1);
    assert_int_equal(A.close_err, YZ_E_PEER_ID_MISMATCH);
    assert_int_equal(A.close_code, YZ_CLOSE_PEER_ID_MISMATCH);
    assert_non_null(strstr(A.close_text, "man in the middle"));
    assert_int_equal(yz_session_get_state(&A.s), YZ_SESSION_CLOSED);
    /* A sent only messages 1 (nothing after the mismatch: no message 3,
     * so M never learns A's identity proof). */
    assert_int_equal(A.sent_total, 1);
    assert_int_equal(M.n_up, 0);
    /* B, unpinned, authenticated M, not A. */
    assert_int_equal(B.n_up, 1);
    assert_true(yz_node_id_equal(&B.up_peer, yz_identity_node_id(&M.id)));
  }
}

/* M presents B's identity proof with its own Noise static key. */
static void test_swapped_static_key(void **state)
{
  (void)state;
  side_identity(&A, "A", 0x21);
  side_identity(&B, "B", 0x22);
  side_identity(&M, "M", 0x23);
  /* M's local: its own static key, B's proof (signed for B's static). */
  memcpy(M.local.proof, B.local.proof, B.local.proof_len);
  M.local.proof_len = B.local.proof_len;
  yz_session_config c;
  side_config(&A, &c, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
  assert_int_equal(yz_session_init(&A.s, &c), 0);
  side_config(&M, &c, YZ_SESSION_RESPONDER, NULL);
  assert_int_equal(yz_session_init(&M.s, &c), 0);
  assert_int_equal(yz_session_start(&M.s, 0), 0);
  assert_int_equal(yz_session_start(&A.s, 0), 0);
  pump(&A, &M, 0);
  assert_int_equal(A.n_up, 0);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_err, YZ_E_BAD_SIGNATURE);
  assert_int_equal(A.close_code, YZ_CLOSE_IDENTITY);

  /* The same against a responder: B's static with A's proof at the
   * initiator (M dials B presenting A's proof). */
  side_free(&B);
  side_free(&M);
  side_identity(&B, "B", 0x22);
  side_identity(&M, "M", 0x23);
  memcpy(M.local.proof, A.local.proof, A.local.proof_len);
  M.local.proof_len = A.local.proof_len;
  side_config(&M, &c, YZ_SESSION_INITIATOR, yz_identity_node_id(&B.id));
  assert_int_equal(yz_session_init(&M.s, &c), 0);
  side_config(&B, &c, YZ_SESSION_RESPONDER, NULL);
  assert_int_equal(yz_session_init(&B.s, &c), 0);
  assert_int_equal(yz_session_start(&B.s, 0), 0);
  assert_int_equal(yz_session_start(&M.s, 0), 0);
  pump(&M, &B, 0);
  assert_int_equal(B.n_up, 0);
  assert_int_equal(B.close_err, YZ_E_BAD_SIGNATURE);
  /* An invalid proof in message 3 sends nothing (docs/protocol.md
   * "Handshake failures"): B sent only message 2, no CLOSE, although
   * the initiator already split; IDENTITY is B's local code only. */
  assert_int_equal(B.close_code, YZ_CLOSE_IDENTITY);
  assert_int_equal(B.sent_total, 1);
  assert_int_equal(M.n_up, 1);
  assert_int_equal(M.n_closed, 0);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle,
                     size_t k)
{
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(hay + i, needle, k) == 0)
      return true;
  return false;
}

/* A relay that forwards bytes unchanged sees no identity and no data. */
static void test_relay(void **state)
{
  (void)state;
  pair_init(NULL, NULL);
  uint8_t secret[64];
  fill(secret, sizeof secret, 99);
  size_t seen = 0;
  for (int step = 0; step < 50 && (q_len(&A.out) || q_len(&B.out)); step++) {
    side *from = q_len(&A.out) ? &A : &B, *to = from == &A ? &B : &A;
    wmsg w = q_pop(&from->out);
    /* what the relay sees */
    assert_false(contains(w.p, w.n, yz_identity_public_key(&A.id), 32));
    assert_false(contains(w.p, w.n, yz_identity_public_key(&B.id), 32));
    assert_false(contains(w.p, w.n, A.local.static_pub, 32));
    assert_false(contains(w.p, w.n, B.local.static_pub, 32));
    assert_false(contains(w.p, w.n, secret, 16));
    ignore(yz_session_recv(&to->s, w.p, w.n, 0));
    free(w.p);
    seen++;
    if (A.n_up && B.n_up && B.n_msg == 0 && !q_len(&A.out))
      assert_int_equal(yz_session_send(&A.s, secret, sizeof secret, 0), 0);
  }
  assert_int_equal(seen, 4);
  assert_int_equal(B.n_msg, 1);
  assert_memory_equal(B.last_msg, secret, sizeof secret);
}

/* ---- tampering in the handshake --------------------------------------- */

enum fault { F_FLIP, F_TRUNC, F_DROP, F_REPLAY, F_EXTEND };

/* Apply a fault to handshake message k (1..3), run to completion. */
static void hs_fault(int k, enum fault f)
{
  side_free(&A), side_free(&B);
  pair_init(NULL, NULL);
  int idx = 0;
  uint64_t now = 0;
  for (int guard = 0; guard < 10; guard++) {
    side *from = q_len(&A.out) ? &A : (q_len(&B.out) ? &B : NULL);
    if (!from)
      break;
    side *to = from == &A ? &B : &A;
    wmsg w = q_pop(&from->out);
    idx++;
    if (idx == k) {
      switch (f) {
      case F_FLIP: w.p[w.n / 2] ^= 0x40; break;
      case F_TRUNC: w.n -= 1; break;
      case F_EXTEND: {
        uint8_t *p = realloc(w.p, w.n + 1);
        p[w.n++] = 0;
        w.p = p;
        break;
      }
      case F_DROP: free(w.p); continue;
      case F_REPLAY:
        ignore(yz_session_recv(&to->s, w.p, w.n, now));
        break;
      }
    }
    ignore(yz_session_recv(&to->s, w.p, w.n, now));
    free(w.p);
  }
  /* Whatever happened, after the timeout both are closed or both up and
   * consistent; with a fault that matters, nobody delivers anything. */
  now = 10000;
  ignore(yz_session_tick(&A.s, now));
  ignore(yz_session_tick(&B.s, now));
  pump(&A, &B, now);
}

static void test_handshake_faults(void **state)
{
  (void)state;
  /* message 1 is in clear: a flipped e is just another e; A then fails
   * to decrypt message 2. */
  hs_fault(1, F_FLIP);
  assert_int_equal(A.n_up, 0);
  assert_int_equal(A.close_code, YZ_CLOSE_DECRYPT);
  assert_int_equal(A.close_err, YZ_E_DECRYPT);
  hs_fault(1, F_TRUNC);
  assert_int_equal(B.n_up + A.n_up, 0);
  assert_int_equal(B.close_code, YZ_CLOSE_PROTOCOL);
  assert_int_equal(B.close_err, YZ_E_TRUNCATED);
  hs_fault(1, F_EXTEND); /* a payload in message 1 is refused */
  assert_int_equal(B.n_up + A.n_up, 0);
  assert_int_equal(B.close_code, YZ_CLOSE_PROTOCOL);
  hs_fault(1, F_DROP);
  assert_int_equal(A.n_up + B.n_up, 0);
  assert_int_equal(A.close_code, YZ_CLOSE_TIMEOUT);
  assert_int_equal(A.close_err, YZ_E_TIMEOUT);
  assert_int_equal(B.close_code, YZ_CLOSE_TIMEOUT);
  hs_fault(1, F_REPLAY); /* the copy arrives where message 3 is due */
  assert_int_equal(B.n_up, 0);
  assert_int_equal(B.n_closed, 1);
  assert_int_not_equal(B.close_err, 0);

  for (int k = 2; k <= 3; k++) {
    side *rx = k == 2 ? &A : &B;
    hs_fault(k, F_FLIP);
    assert_int_equal(rx->n_up, 0);
    assert_int_equal(rx->close_code, YZ_CLOSE_DECRYPT);
    assert_int_equal(rx->close_err, YZ_E_DECRYPT);
    hs_fault(k, F_TRUNC);
    assert_int_equal(rx->n_up, 0);
    assert_int_equal(rx->close_code, YZ_CLOSE_DECRYPT);
    hs_fault(k, F_EXTEND);
    assert_int_equal(rx->n_up, 0);
    assert_int_equal(rx->close_code, YZ_CLOSE_DECRYPT);
    hs_fault(k, F_DROP);
    assert_int_equal(rx->n_up, 0);
    assert_int_equal(rx->close_code, YZ_CLOSE_TIMEOUT);
    assert_int_equal(A.n_msg + B.n_msg, 0);
  }
  /* A replayed message 2 reaches A after it is up: a transport message
   * that does not authenticate. A tells B. */
  hs_fault(2, F_REPLAY);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_code, YZ_CLOSE_DECRYPT);
  assert_int_equal(B.n_closed, 1);
  assert_true(B.close_remote);
  assert_int_equal(B.close_err, YZ_E_PEER_CLOSED);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  hs_fault(3, F_REPLAY);
  assert_int_equal(B.n_closed, 1);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
}

/* ---- tampering in transport -------------------------------------------- */

/* Up, then A sends three messages; the fault hits wire message k of them. */
static void tr_fault(int k, enum fault f, size_t arg)
{
  side_free(&A), side_free(&B);
  pair_up(NULL, NULL);
  for (int i = 0; i < 3; i++) {
    uint8_t m[40];
    fill(m, sizeof m, (uint32_t)i);
    assert_int_equal(yz_session_send(&A.s, m, sizeof m, 1), 0);
  }
  assert_int_equal(q_len(&A.out), 3);
  wmsg w[3];
  for (int i = 0; i < 3; i++)
    w[i] = q_pop(&A.out);
  int order[4] = {0, 1, 2, -1};
  switch (f) {
  case F_FLIP: w[k].p[arg] ^= 0x01; break;
  case F_TRUNC: w[k].n = arg; break;
  case F_EXTEND: break;
  case F_DROP: order[k] = -2; break;
  case F_REPLAY: order[3] = k; break;
  }
  if (f == F_EXTEND) { /* reorder: swap k and k+1 */
    int t = order[k];
    order[k] = order[k + 1];
    order[k + 1] = t;
  }
  for (int i = 0; i < 4; i++)
    if (order[i] >= 0)
      ignore(yz_session_recv(&B.s, w[order[i]].p, w[order[i]].n, 2));
  for (int i = 0; i < 3; i++)
    free(w[i].p);
  pump(&A, &B, 2);
}

static void test_transport_faults(void **state)
{
  (void)state;
  /* every byte of the first data message flipped in turn */
  for (size_t pos = 0; pos < 40 + 1 + 16; pos++) {
    tr_fault(0, F_FLIP, pos);
    assert_int_equal(B.n_msg, 0);
    assert_int_equal(B.n_closed, 1);
    assert_int_equal(B.close_err, YZ_E_DECRYPT);
    assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
    /* B told A why */
    assert_int_equal(A.n_closed, 1);
    assert_true(A.close_remote);
    assert_int_equal(A.close_code, YZ_CLOSE_DECRYPT);
    /* after close, input is refused and nothing more is emitted */
    uint8_t junk[32] = {0};
    assert_int_equal(yz_session_recv(&B.s, junk, sizeof junk, 3), YZ_E_CLOSED);
    assert_int_equal(yz_session_send(&B.s, junk, 1, 3), YZ_E_CLOSED);
    assert_int_equal(yz_session_tick(&B.s, 1000000), YZ_E_CLOSED);
    assert_int_equal(B.n_closed, 1);
  }
  /* a later one: earlier ones delivered, the bad one not */
  tr_fault(2, F_FLIP, 20);
  assert_int_equal(B.n_msg, 2);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  /* every truncation */
  for (size_t n = 0; n < 57; n++) {
    tr_fault(1, F_TRUNC, n);
    assert_int_equal(B.n_msg, 1);
    assert_int_equal(B.n_closed, 1);
    if (n <= 16) {
      assert_int_equal(B.close_code, YZ_CLOSE_PROTOCOL);
      assert_int_equal(B.close_err, YZ_E_TRUNCATED);
    } else {
      assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
    }
  }
  /* dropped: the next one does not authenticate under the next nonce */
  tr_fault(0, F_DROP, 0);
  assert_int_equal(B.n_msg, 0);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  tr_fault(1, F_DROP, 0);
  assert_int_equal(B.n_msg, 1);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  /* replayed */
  tr_fault(1, F_REPLAY, 0);
  assert_int_equal(B.n_msg, 3);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  /* reordered */
  tr_fault(0, F_EXTEND, 0);
  assert_int_equal(B.n_msg, 0);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
  tr_fault(1, F_EXTEND, 0);
  assert_int_equal(B.n_msg, 1);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
}

/*
 * Every transport frame type in turn (DATA, FRAG_FIRST, FRAG_LAST, PING,
 * REKEY, CLOSE): a conversation from A to B, with one fault on A's k-th
 * transport message. B must close (DECRYPT, or PROTOCOL for a message too
 * short to hold a tag) and deliver exactly what was complete before.
 */
static void tweak_rekey4(yz_session_config *cfg)
{
  cfg->rekey_after_messages = 4;
}

#define CONV_MAX 16

/* Runs the conversation; with k >= 0 applies fault f to message k.
 * Returns the number of A->B transport messages; cum[i] gets B's deliveries
 * after message i when there is no fault. */
static size_t conversation(int k, enum fault f, size_t cum[CONV_MAX])
{
  side_free(&A), side_free(&B);
  pair_up(tweak_rekey4, tweak_rekey4);
  static uint8_t big[70000];
  fill(big, sizeof big, 7);
  wmsg w[CONV_MAX];
  size_t n = 0;
  for (int step = 0; step < 6; step++) {
    switch (step) {
    case 0: assert_int_equal(yz_session_send(&A.s, big, 10, 1), 0); break;
    case 1: assert_int_equal(yz_session_send(&A.s, big, 70000, 1), 0); break;
    case 2: assert_int_equal(yz_session_send(&A.s, big, 0, 1), 0); break;
    case 3: assert_int_equal(yz_session_tick(&A.s, 15001), 0); break;
    case 4: assert_int_equal(yz_session_send(&A.s, big, 3, 15001), 0); break;
    default: assert_int_equal(yz_session_close(&A.s, 0x1001, "end", 15001), 0);
    }
    while (q_len(&A.out)) {
      assert_true(n < CONV_MAX);
      w[n++] = q_pop(&A.out);
    }
  }
  for (size_t i = 0; i < n; i++) {
    int swap = f == F_EXTEND && (int)i == k && i + 1 < n;
    size_t j = swap ? i + 1 : i;
    if ((int)i == k && f == F_DROP) {
      continue;
    }
    if ((int)i == k && f == F_FLIP)
      w[i].p[w[i].n - 1 - (size_t)(k % 7)] ^= 0x80;
    if ((int)i == k && f == F_TRUNC)
      w[i].n = w[i].n > 20 ? w[i].n - 5 : w[i].n - 1;
    ignore(yz_session_recv(&B.s, w[j].p, w[j].n, 15001));
    if (swap)
      ignore(yz_session_recv(&B.s, w[i].p, w[i].n, 15001));
    if ((int)i == k && f == F_REPLAY)
      ignore(yz_session_recv(&B.s, w[i].p, w[i].n, 15001));
    if (swap)
      i++;
    while (q_len(&B.out)) /* B's PONG or CLOSE */
      ignore(deliver1(&B, &A, 15001));
    if (cum)
      cum[i] = (size_t)B.n_msg;
  }
  for (size_t i = 0; i < n; i++)
    free(w[i].p);
  return n;
}

static void test_every_frame_faulted(void **state)
{
  (void)state;
  size_t cum[CONV_MAX];
  size_t n = conversation(-1, F_FLIP, cum);
  /* 10 B, FRAG_FIRST, FRAG_LAST, 0 B, REKEY, PING, 3 B, CLOSE */
  assert_int_equal(n, 8);
  assert_int_equal(B.n_msg, 4);
  assert_true(B.close_remote);
  assert_int_equal(B.close_code, 0x1001);
  static const enum fault faults[] = {F_FLIP, F_TRUNC, F_DROP, F_REPLAY,
                                      F_EXTEND};
  for (size_t fi = 0; fi < 5; fi++) {
    for (int k = 0; k < (int)n; k++) {
      enum fault f = faults[fi];
      if ((f == F_DROP || f == F_EXTEND) && k == (int)n - 1)
        continue; /* nothing after the last message could tell */
      if (f == F_REPLAY && k == (int)n - 1)
        continue; /* B is closed by then: the copy is ignored */
      conversation(k, f, NULL);
      size_t want = f == F_REPLAY ? cum[k] : (k ? cum[k - 1] : 0);
      if (B.n_closed != 1 || (size_t)B.n_msg != want || B.close_remote)
        fprintf(stderr, "fault %zu at %d: closed %d msgs %d/%zu code %u\n",
                fi, k, B.n_closed, B.n_msg, want, B.close_code);
      assert_int_equal(B.n_closed, 1);
      assert_false(B.close_remote);
      assert_int_equal(B.n_msg, want);
      assert_true(B.close_code == YZ_CLOSE_DECRYPT ||
                  (f == F_TRUNC && B.close_code == YZ_CLOSE_PROTOCOL));
    }
  }
}

/* ---- frames a peer should not send ----------------------------------- */

/* Encrypt an arbitrary plaintext as A's next transport message. */
static void inject(side *from, const char *hex)
{
  uint8_t pt[128], ct[256];
  size_t n = 0, cn;
  assert_int_equal(yz__hex_decode_var(pt, sizeof pt, &n, hex, strlen(hex)), 0);
  assert_int_equal(yz_noise_cs_encrypt_with_ad(&from->s.tx, NULL, 0, pt, n, ct,
                                               sizeof ct, &cn),
                   0);
  assert_int_equal(h_send(from, ct, cn), 0);
}

struct bad_case {
  const char *frames[3]; /* hex plaintexts, sent in order */
  uint16_t code;
  int err;
};

static void tweak_small(yz_session_config *cfg) { cfg->max_message = 100; }

static const struct bad_case bad_cases[] = {
    {{""}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},            /* empty frame */
    {{"00"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},          /* type 0 */
    {{"09"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},          /* unknown type */
    {{"ff00"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},
    {{"03aa"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},        /* middle first */
    {{"04aa"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},        /* last first */
    {{"0200000065aa"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE}, /* 101 > max */
    {{"02ffffffffaa"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE},
    /* a fragment that reaches the declared total before FRAG_LAST, the
     * first one included: TOO_LARGE (docs/protocol.md "Fragmentation") */
    {{"0200000001aa"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE}, /* whole in first */
    {{"0200000001aabb"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE},
    {{"0200000002"}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},  /* empty chunk */
    {{"0200000003aa", "04bbcc33"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE},
    {{"0200000003aa", "03bbcc"}, YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE},
    {{"0200000004aa", "04bb"}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},
    {{"0200000004aa", "01bb"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},
    {{"0200000004aa", "0200000004aa"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},
    {{"0200000004aa", "03"}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},
    {{"01" "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
           "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
           "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
           "0001020304"},
     YZ_CLOSE_TOO_LARGE, YZ_E_TOO_LARGE},                 /* 101 bytes */
    {{"050000000000000001ff"}, YZ_CLOSE_PROTOCOL, YZ_E_TRAILING},
    {{"0500000000000001"}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},
    {{"060000000000000001"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED}, /* pong */
    {{"0700"}, YZ_CLOSE_PROTOCOL, YZ_E_TRAILING},
    {{"08"}, YZ_CLOSE_PROTOCOL, YZ_E_TRUNCATED},
    {{"080001ff"}, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},    /* text not UTF-8 */
    /* close text of 124 bytes: a malformed frame, PROTOCOL */
    {{"080001"
      "61616161616161616161616161616161616161616161616161616161616161"
      "61616161616161616161616161616161616161616161616161616161616161"
      "61616161616161616161616161616161616161616161616161616161616161"
      "61616161616161616161616161616161616161616161616161616161616161"
     }, YZ_CLOSE_PROTOCOL, YZ_E_MALFORMED},
};

static void test_bad_frames(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    side_free(&A), side_free(&B);
    pair_up(NULL, tweak_small);
    for (int j = 0; j < 3 && bad_cases[i].frames[j]; j++)
      inject(&A, bad_cases[i].frames[j]);
    pump(&A, &B, 1);
    if (B.close_code != bad_cases[i].code || B.close_err != bad_cases[i].err)
      fprintf(stderr, "case %zu: code %u err %s (%s)\n", i, B.close_code,
              yz_err_name(B.close_err), B.close_text);
    assert_int_equal(B.n_closed, 1);
    assert_int_equal(B.n_msg, 0);
    assert_int_equal(B.close_code, bad_cases[i].code);
    assert_int_equal(B.close_err, bad_cases[i].err);
    assert_int_equal(A.close_code, bad_cases[i].code);
    assert_true(A.close_remote);
  }
}

/* Control frames between fragments are fine; the message is intact. */
static void test_interleaved_control(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  inject(&A, "0200000005aabb");
  inject(&A, "050000000000000007"); /* ping */
  inject(&A, "03cc");
  inject(&A, "07");                 /* rekey */
  A.s.tx_since_rekey = 0;
  assert_int_equal(yz_noise_cs_rekey(&A.s.tx), 0);
  inject(&A, "04ddee");
  while (q_len(&A.out))
    assert_int_equal(deliver1(&A, &B, 1), 0);
  assert_int_equal(B.n_closed, 0);
  assert_int_equal(B.n_msg, 1);
  assert_int_equal(B.last_len, 5);
  assert_memory_equal(B.last_msg, "\xaa\xbb\xcc\xdd\xee", 5);
  /* the ping was answered with its value; A's session never sent that
   * ping, so for it the pong is unsolicited */
  assert_int_equal(q_len(&B.out), 1);
  pump(&A, &B, 1);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_code, YZ_CLOSE_PROTOCOL);
  assert_non_null(strstr(A.close_text, "pong"));
}

/* ---- sizes and fragmentation ----------------------------------------- */

static void test_sizes(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  size_t max = YZ_SESSION_DEFAULT_MAX_MESSAGE;
  uint8_t *buf = malloc(max + 1);
  size_t sizes[200], ns = 0;
  size_t fixed[] = {0, 1, 2, 3, 17, 100, 1023, 1024, 4096, 65513, 65514,
                    65515, 65516, 65517, 65518, 65519, 65520, 65535, 65536,
                    65537, max - 1, max};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    sizes[ns++] = fixed[i];
  /* every fragment count boundary: 65514 + j*65518 - 1, +0, +1 */
  for (size_t j = 1; 65514 + j * 65518 + 1 <= max; j += 1)
    for (int d = -1; d <= 1; d++)
      sizes[ns++] = 65514 + j * 65518 + (size_t)(long)d;
  /* a deterministic sample in between */
  uint32_t x = 12345;
  for (int i = 0; i < 40; i++) {
    x = x * 1103515245u + 12345u;
    sizes[ns++] = x % (max + 1);
  }
  for (size_t i = 0; i < ns; i++) {
    size_t n = sizes[i];
    fill(buf, n, (uint32_t)i);
    size_t before = A.sent_total;
    assert_int_equal(yz_session_send(&A.s, buf, n, 1), 0);
    assert_true(A.sent_total - before <=
                yz_session_wire_messages_for(&A.s, n));
    for (size_t k = A.out.head; k < A.out.tail; k++)
      assert_true(A.out.m[k].n <= 65535);
    pump(&A, &B, 1);
    assert_int_equal(B.n_msg, (int)(i + 1));
    assert_int_equal(B.last_len, n);
    if (n)
      assert_memory_equal(B.last_msg, buf, n);
  }
  assert_int_equal(yz_session_send(&A.s, buf, max + 1, 1), YZ_E_TOO_LARGE);
  assert_int_equal(yz_session_get_state(&A.s), YZ_SESSION_UP);
  /* exact frame counts */
  size_t b0 = A.sent_total;
  assert_int_equal(yz_session_send(&A.s, buf, 65518, 1), 0);
  assert_int_equal(A.sent_total - b0, 1);
  assert_int_equal(A.out.m[A.out.tail - 1].n, 65535);
  assert_int_equal(yz_session_send(&A.s, buf, 65519, 1), 0);
  assert_int_equal(A.sent_total - b0, 3);
  assert_int_equal(yz_session_send(&A.s, buf, 65514 + 65518, 1), 0);
  assert_int_equal(A.sent_total - b0, 5);
  pump(&A, &B, 1);
  assert_int_equal(B.n_closed, 0);
  free(buf);
}

/* ---- memory ------------------------------------------------------------ */

/*
 * Buffers are sized to need and released (docs/protocol.md section 7): a
 * session that only did its handshake holds a small transmit buffer and no
 * receive buffer; a fragmented message grows the receive buffer up to its
 * declared total plus the fragment header, never the doubling past it, and
 * delivery frees it. yz_session_rx_reserve() predicts each growth.
 */
static void test_buffers_released(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  /* the handshake's transmit buffer went with the handshake */
  assert_int_equal(yz_session_rx_buffered(&A.s), 0);
  assert_int_equal(yz_session_rx_buffered(&B.s), 0);
  assert_int_equal(yz_session_tx_buffered(&A.s), 0);
  assert_int_equal(yz_session_tx_buffered(&B.s), 0);

  size_t big = 700000;
  uint8_t *buf = malloc(big);
  fill(buf, big, 3);
  assert_int_equal(yz_session_send(&A.s, buf, big, 1), 0);
  assert_true(yz_session_tx_buffered(&A.s) <= 65536);
  size_t peak = 0;
  while (q_len(&A.out) > 0) {
    wmsg w = A.out.m[A.out.head];
    size_t want = yz_session_rx_reserve(&B.s, w.n);
    assert_int_equal(deliver1(&A, &B, 1), 0);
    if (q_len(&A.out) > 0) { /* still reassembling: the prediction held */
      assert_int_equal(yz_session_rx_buffered(&B.s), want);
      peak = yz_session_rx_buffered(&B.s);
    }
  }
  assert_int_equal(B.n_msg, 1);
  assert_memory_equal(B.last_msg, buf, big);
  assert_true(peak >= big - 65535);
  assert_true(peak <= big + 5); /* FRAG_BASE */
  assert_int_equal(yz_session_rx_buffered(&B.s), 0);

  /* a single-frame message: a buffer of its size, kept while busy */
  assert_int_equal(yz_session_send(&A.s, buf, 1000, 1), 0);
  assert_int_equal(yz_session_rx_reserve(&B.s, A.out.m[A.out.head].n), 1001);
  pump(&A, &B, 1);
  assert_int_equal(B.n_msg, 2);
  assert_int_equal(yz_session_rx_buffered(&B.s), 1001);
  assert_true(yz_session_tx_buffered(&A.s) > 0);
  /* idle (the keepalive PING goes out): both sides hold no buffer */
  uint64_t idle = 1 + YZ_SESSION_DEFAULT_PING_IDLE_MS;
  assert_true(yz_session_next_deadline(&A.s) <= idle);
  assert_int_equal(yz_session_next_deadline(&B.s), idle);
  assert_int_equal(yz_session_tick(&A.s, idle), 0);
  assert_int_equal(yz_session_tick(&B.s, idle), 0);
  assert_int_equal(yz_session_rx_buffered(&B.s), 0);
  assert_int_equal(yz_session_tx_buffered(&A.s), 0);
  assert_int_equal(yz_session_tx_buffered(&B.s), 0);
  pump(&A, &B, idle); /* the pings and pongs */
  assert_int_equal(yz_session_get_state(&A.s), YZ_SESSION_UP);
  assert_int_equal(yz_session_get_state(&B.s), YZ_SESSION_UP);

  /* a message left unfinished keeps its buffer until the session closes */
  assert_int_equal(yz_session_send(&A.s, buf, 200000, 1), 0);
  assert_int_equal(deliver1(&A, &B, 1), 0);
  assert_true(yz_session_rx_buffered(&B.s) > 65000);
  q_clear(&A.out);
  free(buf);
}

/* An established session holds no handshake state, no decoded proof and,
 * idle, no buffer; its buffers come back with the traffic, sized to it
 * (docs/simulator.md "Memory per link"). */
static void test_idle_state_released(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  /* the UP event had the proof; the session no longer keeps it */
  assert_memory_equal(A.up_proof.identity_pk, B.id.pk, YZ_IDENTITY_PK_LEN);
  assert_memory_equal(B.up_proof.identity_pk, A.id.pk, YZ_IDENTITY_PK_LEN);
  for (side *sd = &A; sd != NULL; sd = sd == &A ? &B : NULL) {
    assert_null(sd->s.hs);
    assert_null(sd->s.peer_proof);
    assert_null(yz_session_peer_proof(&sd->s));
    assert_null(sd->s.txbuf);
    assert_null(sd->s.rxbuf);
    assert_int_equal(yz_session_tx_buffered(&sd->s), 0);
    assert_int_equal(yz_session_rx_buffered(&sd->s), 0);
  }

  /* traffic: buffers of its size */
  uint8_t msg[300];
  fill(msg, sizeof msg, 9);
  assert_int_equal(yz_session_send(&A.s, msg, sizeof msg, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(B.n_msg, 1);
  assert_non_null(A.s.txbuf);
  assert_true(yz_session_tx_buffered(&A.s) >= sizeof msg + 17);
  assert_true(yz_session_tx_buffered(&A.s) <= 512);
  assert_int_equal(yz_session_rx_buffered(&B.s), sizeof msg + 1);

  /* idle: the keepalive PING goes out, the buffers go */
  uint64_t idle = 1 + YZ_SESSION_DEFAULT_PING_IDLE_MS;
  assert_int_equal(yz_session_tick(&A.s, idle), 0);
  assert_int_equal(yz_session_tick(&B.s, idle), 0);
  pump(&A, &B, idle);
  assert_int_equal(yz_session_get_state(&A.s), YZ_SESSION_UP);
  assert_int_equal(yz_session_get_state(&B.s), YZ_SESSION_UP);
  /* the PONG each received was a transport message: tick again past the
   * next idle time with nothing in between */
  uint64_t idle2 = idle + 1 + YZ_SESSION_DEFAULT_PING_IDLE_MS;
  assert_int_equal(yz_session_tick(&A.s, idle2), 0);
  assert_int_equal(yz_session_tick(&B.s, idle2), 0);
  assert_null(A.s.txbuf);
  assert_null(B.s.rxbuf);
  assert_int_equal(yz_session_tx_buffered(&A.s), 0);
  assert_int_equal(yz_session_rx_buffered(&B.s), 0);
  pump(&A, &B, idle2);

  /* traffic resumes: the buffers come back and the message is intact */
  fill(msg, sizeof msg, 10);
  assert_int_equal(yz_session_send(&A.s, msg, sizeof msg, idle2), 0);
  pump(&A, &B, idle2);
  assert_int_equal(B.n_msg, 2);
  assert_int_equal(B.last_len, sizeof msg);
  assert_memory_equal(B.last_msg, msg, sizeof msg);
  assert_true(yz_session_tx_buffered(&A.s) > 0);
  assert_int_equal(yz_session_rx_buffered(&B.s), sizeof msg + 1);
  assert_null(A.s.hs);
  assert_null(B.s.peer_proof);
}

/* ---- rekey and nonces ------------------------------------------------ */

static void tweak_rekey(yz_session_config *cfg)
{
  cfg->rekey_after_messages = 7;
}

static void test_rekey_many(void **state)
{
  (void)state;
  pair_up(tweak_rekey, tweak_rekey);
  uint8_t k0[32], k1[32];
  memcpy(k0, A.s.tx.k, 32);
  uint8_t m[3000];
  for (int i = 0; i < 200; i++) {
    size_t n = (size_t)(i * 37) % sizeof m;
    fill(m, n, (uint32_t)i);
    side *from = i % 3 ? &A : &B, *to = from == &A ? &B : &A;
    int before = to->n_msg;
    assert_int_equal(yz_session_send(&from->s, m, n, 1), 0);
    pump(&A, &B, 1);
    assert_int_equal(to->n_msg, before + 1);
    assert_int_equal(to->last_len, n);
    assert_memory_equal(to->last_msg, m, n);
  }
  memcpy(k1, A.s.tx.k, 32);
  assert_memory_not_equal(k0, k1, 32);
  /* A sent 133 messages + a REKEY after every 7 frames */
  assert_int_equal(A.sent_total, 2 + 133 + 132 / 7);
  assert_int_equal(A.n_closed + B.n_closed, 0);
  /* fragmented messages across rekeys */
  uint8_t *big = malloc(700000);
  fill(big, 700000, 5);
  assert_int_equal(yz_session_send(&A.s, big, 700000, 2), 0);
  pump(&A, &B, 2);
  assert_int_equal(B.last_len, 700000);
  assert_memory_equal(B.last_msg, big, 700000);
  free(big);
}

static void tweak_rekey_time(yz_session_config *cfg)
{
  cfg->rekey_after_ms = 1000;
}

static void test_rekey_time(void **state)
{
  (void)state;
  pair_up(tweak_rekey_time, tweak_rekey_time);
  uint8_t k0[32];
  memcpy(k0, A.s.tx.k, 32);
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"a", 1, 999), 0);
  assert_memory_equal(k0, A.s.tx.k, 32);
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"b", 1, 1000), 0);
  assert_memory_not_equal(k0, A.s.tx.k, 32);
  pump(&A, &B, 1000);
  assert_int_equal(B.n_msg, 2);
  assert_memory_equal(B.last_msg, "b", 1);
}

/* CLOSE is exempt from the rekey rule (docs/protocol.md "Rekey"): with a
 * rekey due, a close sends exactly one message, the CLOSE, under the
 * current key, and no REKEY before it. */
static void test_rekey_not_before_close(void **state)
{
  (void)state;
  pair_up(tweak_rekey_time, tweak_rekey_time);
  uint8_t k0[32];
  memcpy(k0, A.s.tx.k, 32);
  size_t before = A.sent_total;
  assert_int_equal(yz_session_close(&A.s, YZ_CLOSE_NORMAL, "bye", 5000), 0);
  assert_int_equal(A.sent_total - before, 1);
  /* B, still on the old receive key, reads it as a CLOSE */
  pump(&A, &B, 5000);
  assert_int_equal(B.n_closed, 1);
  assert_true(B.close_remote);
  assert_int_equal(B.close_code, YZ_CLOSE_NORMAL);
  assert_string_equal(B.close_text, "bye");
}

/* A wrong rekey (a REKEY frame the receiver does not follow) breaks the
 * stream: what a desynchronised rekey would look like. */
static void test_rekey_desync(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  assert_int_equal(yz_noise_cs_rekey(&A.s.tx), 0); /* no announcement */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"x", 1, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(B.n_msg, 0);
  assert_int_equal(B.close_code, YZ_CLOSE_DECRYPT);
}

static void tweak_nonce(yz_session_config *cfg)
{
  (void)cfg;
  tweak_hooks->nonce_limit = 20;
}

static void test_nonce_limit(void **state)
{
  (void)state;
  pair_up(tweak_nonce, tweak_nonce);
  int sent = 0, rc;
  while ((rc = yz_session_send(&A.s, (const uint8_t *)"m", 1, 1)) == 0)
    sent++;
  assert_int_equal(rc, YZ_E_NONCE_EXHAUSTED);
  /* nonces 0..17; a frame needs room for itself, a possible REKEY and
   * the CLOSE */
  assert_int_equal(sent, 18);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_code, YZ_CLOSE_NONCE_EXHAUSTED);
  pump(&A, &B, 1);
  assert_int_equal(B.n_msg, 18);
  assert_int_equal(B.n_closed, 1);
  assert_true(B.close_remote);
  assert_int_equal(B.close_code, YZ_CLOSE_NONCE_EXHAUSTED);
  /* The nonce never reached the limit. */
  side_free(&A), side_free(&B);
  /* The receiver enforces its own limit on a peer that goes on. */
  pair_up(NULL, tweak_nonce);
  for (int i = 0; i < 25; i++)
    assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"m", 1, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(B.n_msg, 20);
  assert_int_equal(B.close_code, YZ_CLOSE_NONCE_EXHAUSTED);
}

/* ---- timers ------------------------------------------------------------ */

static void test_handshake_timeout(void **state)
{
  (void)state;
  pair_init(NULL, NULL);
  assert_int_equal(yz_session_next_deadline(&A.s), 10000);
  assert_int_equal(yz_session_next_deadline(&B.s), 10000);
  q_clear(&A.out); /* B never hears from A; A never hears back */
  assert_int_equal(yz_session_tick(&A.s, 9999), 0);
  assert_int_equal(A.n_closed, 0);
  assert_int_equal(yz_session_tick(&A.s, 10000), YZ_E_TIMEOUT);
  assert_int_equal(A.close_code, YZ_CLOSE_TIMEOUT);
  assert_false(A.close_remote);
  assert_int_equal(yz_session_next_deadline(&A.s), UINT64_MAX);
  assert_int_equal(yz_session_tick(&B.s, 20000), YZ_E_TIMEOUT);
  assert_int_equal(B.close_err, YZ_E_TIMEOUT);
  /* A responder whose initiator stalls after message 1. */
  side_free(&A), side_free(&B);
  pair_init(NULL, NULL);
  assert_int_equal(deliver1(&A, &B, 100), 0); /* msg 1 */
  q_clear(&B.out);                            /* msg 2 lost */
  assert_int_equal(yz_session_tick(&B.s, 9999), 0);
  assert_int_equal(yz_session_tick(&B.s, 10000), YZ_E_TIMEOUT);
  /* a late message does not rescue an expired handshake */
  side_free(&A), side_free(&B);
  pair_init(NULL, NULL);
  wmsg w = q_pop(&A.out);
  assert_int_equal(yz_session_recv(&B.s, w.p, w.n, 10001), YZ_E_TIMEOUT);
  free(w.p);
  assert_int_equal(B.close_code, YZ_CLOSE_TIMEOUT);
}

static void test_ping(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  uint64_t now = 0;
  /* an answering peer: the link stays up for a long time */
  for (int i = 0; i < 20; i++) {
    now = yz_session_next_deadline(&A.s);
    assert_int_equal(now, (uint64_t)(i + 1) * 15000);
    assert_int_equal(yz_session_tick(&A.s, now), 0);
    assert_int_equal(yz_session_tick(&B.s, now), 0);
    pump(&A, &B, now);
  }
  assert_int_equal(A.n_closed + B.n_closed, 0);
  assert_int_equal(A.n_msg + B.n_msg, 0); /* pings are not messages */
  /* B goes silent: three pings unanswered, then close */
  size_t sent0 = A.sent_total;
  for (int i = 0; i < 3; i++) {
    now = yz_session_next_deadline(&A.s);
    assert_int_equal(yz_session_tick(&A.s, now), 0);
  }
  assert_int_equal(A.sent_total - sent0, 3);
  now = yz_session_next_deadline(&A.s);
  assert_int_equal(yz_session_tick(&A.s, now - 1), 0);
  assert_int_equal(A.n_closed, 0);
  assert_int_equal(yz_session_tick(&A.s, now), YZ_E_TIMEOUT);
  assert_int_equal(A.close_code, YZ_CLOSE_TIMEOUT);
  assert_int_equal(A.sent_total - sent0, 4); /* + the CLOSE */
}

/* ---- close and callbacks ------------------------------------------------ */

static void test_close(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  assert_int_equal(yz_session_close(&A.s, 0x1234, "maintenance \xc3\xa9", 1), 0);
  assert_int_equal(A.n_closed, 1);
  assert_false(A.close_remote);
  assert_int_equal(A.close_err, YZ_E_CLOSED);
  pump(&A, &B, 1);
  assert_int_equal(B.n_closed, 1);
  assert_true(B.close_remote);
  assert_int_equal(B.close_err, YZ_E_PEER_CLOSED);
  assert_int_equal(B.close_code, 0x1234);
  assert_string_equal(B.close_text, "maintenance \xc3\xa9");
  assert_int_equal(yz_session_close(&A.s, 0, NULL, 1), YZ_E_CLOSED);
  assert_string_equal(yz_session_close_code_name(0x1234), "APPLICATION");
  assert_string_equal(yz_session_close_code_name(YZ_CLOSE_DECRYPT), "DECRYPT");
  /* a long text is cut at a UTF-8 boundary to 123 bytes */
  side_free(&A), side_free(&B);
  pair_up(NULL, NULL);
  char longtext[300];
  memset(longtext, 'a', 122);
  strcpy(longtext + 122, "\xc3\xa9\xc3\xa9");
  assert_int_equal(yz_session_close(&A.s, 1, longtext, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(strlen(B.close_text), 122);
  /* text that is not UTF-8 is cut before the first bad byte, so the peer
   * still gets the code (it would reject the frame as PROTOCOL) */
  static const struct {
    const char *in, *out;
  } bad[] = {
      {"\xff", ""},
      {"ok\xe2\x82", "ok"},          /* a sequence cut short */
      {"a\xc0\xaf" "b", "a"},       /* overlong '/' */
      {"x\xed\xa0\x80y", "x"},       /* a surrogate */
      {"fine \xc3\xa9\x80", "fine \xc3\xa9"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    side_free(&A), side_free(&B);
    pair_up(NULL, NULL);
    assert_int_equal(yz_session_close(&A.s, 0x1001, bad[i].in, 1), 0);
    assert_string_equal(A.close_text, bad[i].out);
    pump(&A, &B, 1);
    assert_int_equal(B.n_closed, 1);
    assert_int_equal(B.close_err, YZ_E_PEER_CLOSED);
    assert_int_equal(B.close_code, 0x1001);
    assert_string_equal(B.close_text, bad[i].out);
  }
}

static void test_callbacks(void **state)
{
  (void)state;
  pair_up(NULL, NULL);
  B.echo = true; /* the event callback sends */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"ping?", 5, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(A.n_msg, 1);
  assert_memory_equal(A.last_msg, "ping?", 5);
  B.echo = false;
  B.close_on_msg = true; /* and closes */
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"bye", 3, 1), 0);
  pump(&A, &B, 1);
  assert_int_equal(B.n_closed, 1);
  assert_int_equal(A.close_code, YZ_CLOSE_APP_MIN);
  assert_string_equal(A.close_text, "bye");
  /* a refusing transport closes the session */
  side_free(&A), side_free(&B);
  pair_up(NULL, NULL);
  A.refuse_send = YZ_E_QUEUE_FULL;
  assert_int_equal(yz_session_send(&A.s, (const uint8_t *)"x", 1, 1),
                   YZ_E_QUEUE_FULL);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_err, YZ_E_QUEUE_FULL);
  assert_int_equal(A.close_code, YZ_CLOSE_INTERNAL);
  /* a transport that fails while the CLOSE frame goes out: one event */
  side_free(&A), side_free(&B);
  pair_up(NULL, NULL);
  A.refuse_send = YZ_E_QUEUE_FULL;
  assert_int_equal(yz_session_close(&A.s, YZ_CLOSE_GOING_AWAY, "off", 1), 0);
  assert_int_equal(A.n_closed, 1);
  assert_int_equal(A.close_code, YZ_CLOSE_GOING_AWAY);
  /* and one that fails on the PONG a PING asks for */
  side_free(&A), side_free(&B);
  pair_up(NULL, NULL);
  B.refuse_send = YZ_E_QUEUE_FULL;
  assert_int_equal(yz_session_tick(&A.s, 15000), 0);
  assert_int_equal(deliver1(&A, &B, 15000), YZ_E_QUEUE_FULL);
  assert_int_equal(B.n_closed, 1);
  assert_int_equal(B.close_code, YZ_CLOSE_INTERNAL);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_two_frames_no_copy, teardown),
      cmocka_unit_test_teardown(test_handshake, teardown),
      cmocka_unit_test_teardown(test_handshake_responder_pinned, teardown),
      cmocka_unit_test_teardown(test_responder_pin_mismatch, teardown),
      cmocka_unit_test_teardown(test_proof_fields, teardown),
      cmocka_unit_test_teardown(test_network_name, teardown),
      cmocka_unit_test_teardown(test_config_misuse, teardown),
      cmocka_unit_test_teardown(test_mitm_detected, teardown),
      cmocka_unit_test_teardown(test_swapped_static_key, teardown),
      cmocka_unit_test_teardown(test_relay, teardown),
      cmocka_unit_test_teardown(test_handshake_faults, teardown),
      cmocka_unit_test_teardown(test_transport_faults, teardown),
      cmocka_unit_test_teardown(test_every_frame_faulted, teardown),
      cmocka_unit_test_teardown(test_bad_frames, teardown),
      cmocka_unit_test_teardown(test_interleaved_control, teardown),
      cmocka_unit_test_teardown(test_sizes, teardown),
      cmocka_unit_test_teardown(test_rekey_many, teardown),
      cmocka_unit_test_teardown(test_rekey_time, teardown),
      cmocka_unit_test_teardown(test_rekey_not_before_close, teardown),
      cmocka_unit_test_teardown(test_rekey_desync, teardown),
      cmocka_unit_test_teardown(test_nonce_limit, teardown),
      cmocka_unit_test_teardown(test_handshake_timeout, teardown),
      cmocka_unit_test_teardown(test_ping, teardown),
      cmocka_unit_test_teardown(test_close, teardown),
      cmocka_unit_test_teardown(test_callbacks, teardown),
      cmocka_unit_test_teardown(test_buffers_released, teardown),
      cmocka_unit_test_teardown(test_idle_state_released, teardown),
      cmocka_unit_test_teardown(test_one_copy, teardown),
  };
  return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
