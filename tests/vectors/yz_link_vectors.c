/*
 * The yz protocol vectors (tests/vectors/README.md): generate them from the
 * session layer with fixed keys, or check a vector file against it.
 *
 *   yz_link_vectors --generate > yz-link-v1.json
 *   yz_link_vectors yz-link-v1.json          (exit 0 if every vector holds)
 *
 * A vector is inputs (identity seeds, static and ephemeral private keys,
 * proof options, configuration, a script of steps) and outputs (public
 * keys, proofs, the exact handshake messages, the handshake hash, every
 * transport message with its plaintext, and the events). Checking runs the
 * inputs again and compares the whole result with the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "node/duplicate.h"
#include "node/frame.h"
#include "yz/session.h"
#include "session/testing.h"

#define FORMAT "yz-link-vectors-1"

typedef struct wq {
  uint8_t *p[256];
  size_t n[256];
  bool raw[256]; /* made by send_frames, not by the session */
  size_t head, tail;
} wq;

typedef struct vside {
  const char *name;
  yz_identity id;
  yz_session_local local;
  yz_session s;
  uint8_t eph[32];
  wq out;
  json_t *events; /* where events go now (borrowed) */
  bool refuse;    /* the transport refuses every message (step "refuse") */
  bool node_layer; /* the vector carries node messages ("node_layer") */
} vside;

static int fails;

_Noreturn static void die(const char *what)
{
  fprintf(stderr, "yz_link_vectors: %s\n", what);
  exit(2);
}

static json_t *hexj(const uint8_t *p, size_t n)
{
  char *h = malloc(2 * n + 1);
  if (!h)
    die("out of memory");
  yz__hex_encode(h, p, n);
  json_t *j = json_string(h);
  free(h);
  return j;
}

/* Strict hex of a JSON string into a fresh buffer. */
static uint8_t *unhex(const json_t *j, size_t *n)
{
  const char *h = json_string_value(j);
  if (!h)
    die("expected a hex string");
  size_t hl = strlen(h);
  uint8_t *p = malloc(hl / 2 + 1);
  if (!p || yz__hex_decode_var(p, hl / 2 + 1, n, h, hl) != 0)
    die("bad hex string");
  return p;
}

static void unhex_fixed(uint8_t *out, size_t n, const json_t *j)
{
  size_t m;
  uint8_t *p = unhex(j, &m);
  if (m != n)
    die("hex string of the wrong length");
  memcpy(out, p, n);
  free(p);
}

static int on_send(void *user, uint8_t *msg, size_t len)
{
  vside *v = user;
  if (v->refuse)
    return YZ_E_IO;
  if (v->out.tail == 256)
    return YZ_E_QUEUE_FULL;
  v->out.p[v->out.tail] = malloc(len);
  v->out.raw[v->out.tail] = false;
  memcpy(v->out.p[v->out.tail], msg, len);
  v->out.n[v->out.tail++] = len;
  return 0;
}

/* The node message in an application message (docs/protocol.md "Node
 * messages"), as the node layer's parser reads it: {kind, protocol, id,
 * code, body} or {"invalid": error name}. */
static json_t *node_json(const uint8_t *p, size_t n)
{
  yz__node_frame f;
  const char *reason = NULL;
  int rc = yz__node_frame_parse(&f, p, n, &reason);
  if (rc != 0)
    return json_pack("{s:s}", "invalid", yz_err_name(rc));
  static const char *const kinds[] = {"", "message", "request", "response",
                                      "error"};
  json_t *j =
      json_pack("{s:s,s:i}", "kind", kinds[f.kind], "protocol", (int)f.proto);
  if (f.kind != YZ__NODE_MESSAGE)
    json_object_set_new(j, "id", json_integer((json_int_t)f.id));
  if (f.kind == YZ__NODE_ERROR)
    json_object_set_new(j, "code", json_integer(f.code));
  json_object_set_new(j, "body", hexj(f.body, f.body_len));
  return j;
}

static json_t *payload_json(const uint8_t *p, size_t n)
{
  if (n <= 256)
    return json_pack("{s:o}", "payload", hexj(p, n));
  uint8_t h[32];
  crypto_hash_sha256(h, p, n);
  return json_pack("{s:I,s:o}", "payload_length", (json_int_t)n,
                   "payload_sha256", hexj(h, 32));
}

static void on_event(void *user, const yz_session_event *ev)
{
  vside *v = user;
  json_t *e = NULL;
  char idh[YZ_NODE_ID_HEX_LEN + 1];
  switch (ev->type) {
  case YZ_SESSION_EVENT_UP:
    yz_node_id_to_hex(ev->u.up.peer_id, idh);
    e = json_pack("{s:s,s:s,s:s,s:o}", "side", v->name, "event", "up",
                  "peer_node_id", idh, "channel_binding",
                  hexj(ev->u.up.channel_binding,
                       ev->u.up.channel_binding_len));
    break;
  case YZ_SESSION_EVENT_MESSAGE:
    e = json_pack("{s:s,s:s}", "side", v->name, "event", "message");
    json_object_update_new(e, payload_json(ev->u.message.data,
                                           ev->u.message.len));
    if (v->node_layer)
      json_object_set_new(e, "node",
                          node_json(ev->u.message.data, ev->u.message.len));
    break;
  case YZ_SESSION_EVENT_CLOSED:
    e = json_pack("{s:s,s:s,s:i,s:b,s:s,s:s%}", "side", v->name, "event",
                  "closed", "code", ev->u.closed.code, "remote",
                  ev->u.closed.remote, "error", yz_err_name(ev->u.closed.err),
                  "text", ev->u.closed.text, ev->u.closed.text_len);
    break;
  }
  if (e)
    json_array_append_new(v->events, e);
}

static void side_setup(vside *v, const char *name, const json_t *in)
{
  uint8_t seed[32], spriv[32];
  memset(v, 0, sizeof *v);
  v->name = name;
  unhex_fixed(seed, 32, json_object_get(in, "identity_seed"));
  unhex_fixed(spriv, 32, json_object_get(in, "static_private"));
  unhex_fixed(v->eph, 32, json_object_get(in, "ephemeral_private"));
  if (yz_identity_from_seed(&v->id, seed) != 0)
    die("identity_from_seed");
  yz_session_proof_options o = {0};
  const char *urls[YZ_WIRE_MAX_ADDRESSES];
  uint64_t types[YZ_WIRE_MAX_ADDRESSES];
  const json_t *po = json_object_get(in, "proof_options");
  if (po) {
    const json_t *addrs = json_object_get(po, "addresses");
    size_t i;
    const json_t *a;
    json_array_foreach(addrs, i, a)
    {
      if (i >= YZ_WIRE_MAX_ADDRESSES)
        die("too many addresses");
      urls[i] = json_string_value(json_object_get(a, "url"));
      types[i] = (uint64_t)json_integer_value(
          json_object_get(a, "client_types"));
      o.n_addresses = i + 1;
    }
    o.address_urls = urls;
    o.address_client_types = types;
    o.node_type = (uint64_t)json_integer_value(json_object_get(po, "node_type"));
    const json_t *caps = json_object_get(po, "capabilities");
    o.has_capabilities = caps != NULL;
    o.capabilities = (uint64_t)json_integer_value(caps);
    o.version = json_string_value(json_object_get(po, "software_version"));
    o.network = json_string_value(json_object_get(po, "network"));
  }
  if (yz_session_local_init(&v->local, &v->id, spriv, &o) != 0)
    die("local_init");
  /* corrupt_proof: the last byte of the signature flipped, so the proof
   * this side sends does not verify (an IDENTITY failure at the peer). */
  if (json_is_true(json_object_get(in, "corrupt_proof")))
    v->local.proof[v->local.proof_len - 1] ^= 0x01;
}

static json_t *side_public(const vside *v)
{
  char idh[YZ_NODE_ID_HEX_LEN + 1];
  uint8_t epub[32];
  if (yz_noise_dh_public(epub, v->eph) != 0)
    die("dh_public");
  yz_node_id_to_hex(yz_identity_node_id(&v->id), idh);
  return json_pack("{s:o,s:s,s:o,s:o,s:o}", "identity_public",
                   hexj(yz_identity_public_key(&v->id), 32), "node_id", idh,
                   "static_public", hexj(v->local.static_pub, 32),
                   "ephemeral_public", hexj(epub, 32), "proof",
                   hexj(v->local.proof, v->local.proof_len));
}

/* The session's test-only settings, in one place: the fixed ephemeral of
 * the handshake, and the nonce limit of config "nonce_limit" (0: none). */
static yz__session_test_hooks test_settings(const uint8_t *eph,
                                            uint64_t nonce_limit)
{
  yz__session_test_hooks h = {.ephemeral = eph, .nonce_limit = nonce_limit};
  return h;
}

static uint64_t nonce_limit_of(const json_t *cfg)
{
  return (uint64_t)json_integer_value(json_object_get(cfg, "nonce_limit"));
}

static void config_from(yz_session_config *c, const json_t *cfg)
{
  const json_t *x;
#define NUM(field, key)                                                     \
  if ((x = json_object_get(cfg, key)) != NULL)                              \
    c->field = (uint64_t)json_integer_value(x);
  NUM(max_message, "max_message")
  NUM(handshake_timeout_ms, "handshake_timeout_ms")
  NUM(ping_idle_ms, "ping_idle_ms")
  NUM(max_missed_pongs, "max_missed_pongs")
  NUM(rekey_after_messages, "rekey_after_messages")
  NUM(rekey_after_ms, "rekey_after_ms")
#undef NUM
}

/* How a step's messages travel (README "steps"). */
typedef struct route {
  const vside *lose; /* messages from this side are lost */
  bool tamper;       /* flip a bit of the step's first message */
  size_t lose_hs;    /* handshake: lose message number lose_hs (1-based) */
} route;

/* Deliver queued messages both ways, in order, recording each. */
static void pump(vside *a, vside *b, uint64_t now, json_t *msgs, bool hs,
                 const route *rt)
{
  size_t k = 0; /* messages of this call so far */
  for (;; k++) {
    vside *from = a->out.head < a->out.tail ? a
                  : b->out.head < b->out.tail ? b : NULL;
    if (!from)
      return;
    vside *to = from == a ? b : a;
    uint8_t *p = from->out.p[from->out.head];
    bool raw = from->out.raw[from->out.head];
    size_t n = from->out.n[from->out.head++];
    bool lost = rt && (rt->lose == from || (hs && rt->lose_hs == k + 1));
    bool tampered = rt && rt->tamper && k == 0;
    if (tampered)
      p[n - 1] ^= 0x01; /* the last byte of the tag */
    json_t *m = json_pack("{s:s,s:o}", "from", from->name, "ciphertext",
                          hexj(p, n));
    if (lost)
      json_object_set_new(m, "lost", json_true());
    if (tampered)
      json_object_set_new(m, "tampered", json_true());
    if (raw)
      json_object_set_new(m, "raw", json_true());
    if (!lost && yz_session_get_state(&to->s) == YZ_SESSION_UP &&
        n >= YZ_NOISE_TAG_LEN) {
      /* The plaintext, for readers: decrypt with a copy of the receiver's
       * CipherState; the session then does the same for real. */
      yz_noise_cipherstate shadow = to->s.rx;
      uint8_t *pt = malloc(n); /* n >= 16: never malloc(0) */
      size_t ptn;
      if (yz_noise_cs_decrypt_with_ad(&shadow, NULL, 0, p, n, pt, n, &ptn) ==
          0)
        json_object_set_new(m, "plaintext", hexj(pt, ptn));
      free(pt);
      yz_noise_cs_clear(&shadow);
    }
    json_array_append_new(msgs, m);
    if (!lost) {
      int rc = yz_session_recv(&to->s, p, n, now);
      (void)rc; /* events say what happened */
    }
    free(p);
  }
}

/*
 * send_frames: the side encrypts the given plaintext frames itself, as
 * another implementation could (control frames between fragments,
 * malformed frames), with its session's sending CipherState so that the
 * session's own later messages follow on. A REKEY frame (07) also rekeys
 * it.
 */
static void send_raw(vside *v, const json_t *frames)
{
  size_t i;
  const json_t *f;
  json_array_foreach(frames, i, f)
  {
    size_t n;
    uint8_t *pt = unhex(f, &n);
    uint8_t *ct = malloc(n + YZ_NOISE_TAG_LEN);
    size_t cn;
    if (!ct || yz_noise_cs_encrypt_with_ad(&v->s.tx, NULL, 0, pt, n, ct,
                                           n + YZ_NOISE_TAG_LEN, &cn) != 0)
      die("send_frames: encryption failed");
    if (n == 1 && pt[0] == 0x07 && yz_noise_cs_rekey(&v->s.tx) != 0)
      die("send_frames: rekey failed");
    if (on_send(v, ct, cn) != 0)
      die("send_frames: queue full");
    v->out.raw[v->out.tail - 1] = true;
    free(ct);
    free(pt);
  }
}

static void side_free(vside *v)
{
  yz_session_clear(&v->s);
  yz_session_local_clear(&v->local);
  yz_identity_clear(&v->id);
  for (size_t i = v->out.head; i < v->out.tail; i++)
    free(v->out.p[i]);
}

static const char *const input_keys[] = {"name",           "description",
                                         "initiator",      "responder",
                                         "config",         "initiator_expects",
                                         "handshake_lose", "node_layer",
                                         "second_link",    "steps"};

/*
 * second_link: a second link between the same two identities, dialled by
 * the side named (the other listens), each with its own ephemeral. Its
 * handshake is recorded, and the node layer's duplicate-link rule says
 * which of the two links both ends keep (docs/protocol.md "Duplicate
 * links").
 */
static json_t *run_second_link(const json_t *in, const uint8_t first_hash[64])
{
  static vside D, L;
  const json_t *sl = json_object_get(in, "second_link");
  const char *dialer = json_string_value(json_object_get(sl, "dialer"));
  if (!dialer)
    die("second_link without dialer");
  const char *listener =
      strcmp(dialer, "initiator") == 0 ? "responder" : "initiator";
  json_t *din = json_deep_copy(json_object_get(in, dialer));
  json_t *lin = json_deep_copy(json_object_get(in, listener));
  json_object_set(din, "ephemeral_private",
                  json_object_get(sl, "dialer_ephemeral_private"));
  json_object_set(lin, "ephemeral_private",
                  json_object_get(sl, "listener_ephemeral_private"));
  side_setup(&D, dialer, din);
  side_setup(&L, listener, lin);
  json_decref(din);
  json_decref(lin);
  yz_session_config cd, cl;
  yz_session_config_default(&cd);
  yz_session_config_default(&cl);
  cd.role = YZ_SESSION_INITIATOR;
  cl.role = YZ_SESSION_RESPONDER;
  cd.local = &D.local;
  cl.local = &L.local;
  cd.expected_peer = yz_identity_node_id(&L.id);
  cd.send = cl.send = on_send;
  cd.event = cl.event = on_event;
  cd.user = &D;
  cl.user = &L;
  yz__session_test_hooks hd = test_settings(D.eph, 0);
  yz__session_test_hooks hl = test_settings(L.eph, 0);
  if (yz__session_init_testing(&D.s, &cd, &hd) != 0 ||
      yz__session_init_testing(&L.s, &cl, &hl) != 0)
    die("session_init");
  json_t *hs = json_array(), *hev = json_array();
  D.events = L.events = hev;
  if (yz_session_start(&L.s, 0) != 0 || yz_session_start(&D.s, 0) != 0)
    die("session_start");
  pump(&D, &L, 0, hs, true, NULL);
  uint8_t h[YZ_SESSION_HASH_LEN];
  if (yz_session_channel_binding(&D.s, h) != YZ_SESSION_HASH_LEN)
    die("second_link: the handshake failed");
  /* The first link was dialled by the initiator. */
  bool first = yz__node_duplicate_keeps_a(
      yz_identity_node_id(strcmp(dialer, "initiator") == 0 ? &D.id : &L.id)
          ->bytes,
      first_hash, YZ_SESSION_HASH_LEN, yz_identity_node_id(&D.id)->bytes, h,
      sizeof h);
  json_t *out =
      json_pack("{s:o,s:o,s:o,s:s}", "handshake", hs, "handshake_hash",
                hexj(h, sizeof h), "handshake_events", hev, "survivor",
                first ? "first" : "second");
  side_free(&D);
  side_free(&L);
  return out;
}

/* Run the inputs of a vector; return the full vector (inputs + outputs). */
static json_t *run_vector(const json_t *in)
{
  static vside I, R;
  json_t *out = json_object();
  for (size_t k = 0; k < YZ__ARRAY_LEN(input_keys); k++) {
    json_t *x = json_object_get(in, input_keys[k]);
    if (x)
      json_object_set(out, input_keys[k], x);
  }
  side_setup(&I, "initiator", json_object_get(in, "initiator"));
  side_setup(&R, "responder", json_object_get(in, "responder"));
  I.node_layer = R.node_layer =
      json_is_true(json_object_get(in, "node_layer"));
  json_object_set_new(out, "initiator_public", side_public(&I));
  json_object_set_new(out, "responder_public", side_public(&R));

  yz_node_id pin;
  const json_t *ex = json_object_get(in, "initiator_expects");
  yz_session_config ci, cr;
  yz_session_config_default(&ci);
  yz_session_config_default(&cr);
  config_from(&ci, json_object_get(in, "config"));
  config_from(&cr, json_object_get(in, "config"));
  ci.role = YZ_SESSION_INITIATOR;
  cr.role = YZ_SESSION_RESPONDER;
  ci.local = &I.local;
  cr.local = &R.local;
  if (json_is_string(ex)) {
    unhex_fixed(pin.bytes, 32, ex);
    ci.expected_peer = &pin;
  } else {
    ci.unpinned = true;
  }
  ci.send = cr.send = on_send;
  ci.event = cr.event = on_event;
  ci.user = &I;
  cr.user = &R;
  /* config "nonce_limit": the test-only limit of docs/protocol.md 9 */
  uint64_t nl = nonce_limit_of(json_object_get(in, "config"));
  yz__session_test_hooks hi = test_settings(I.eph, nl);
  yz__session_test_hooks hr = test_settings(R.eph, nl);
  if (yz__session_init_testing(&I.s, &ci, &hi) != 0 ||
      yz__session_init_testing(&R.s, &cr, &hr) != 0)
    die("session_init");

  json_t *hs = json_array(), *hev = json_array();
  I.events = R.events = hev;
  if (yz_session_start(&R.s, 0) != 0 || yz_session_start(&I.s, 0) != 0)
    die("session_start");
  route hrt = {.lose_hs = (size_t)json_integer_value(
                   json_object_get(in, "handshake_lose"))};
  pump(&I, &R, 0, hs, true, &hrt);
  /* payloads of the handshake messages: empty, proofs */
  for (size_t i = 0; i < json_array_size(hs); i++) {
    json_t *m = json_array_get(hs, i);
    if (i == 0)
      json_object_set_new(m, "payload", json_string(""));
    else if (i == 1)
      json_object_set_new(m, "payload",
                          hexj(R.local.proof, R.local.proof_len));
    else
      json_object_set_new(m, "payload",
                          hexj(I.local.proof, I.local.proof_len));
  }
  json_object_set_new(out, "handshake", hs);
  uint8_t h[YZ_SESSION_HASH_LEN];
  if (yz_session_channel_binding(&I.s, h) == YZ_SESSION_HASH_LEN)
    json_object_set_new(out, "handshake_hash", hexj(h, sizeof h));
  else
    json_object_set_new(out, "handshake_hash", json_null());
  json_object_set_new(out, "handshake_events", hev);
  if (json_object_get(in, "second_link")) {
    if (yz_session_channel_binding(&I.s, h) != YZ_SESSION_HASH_LEN)
      die("second_link after a failed handshake");
    json_object_set_new(out, "second_link_result", run_second_link(in, h));
  }

  json_t *results = json_array();
  const json_t *steps = json_object_get(in, "steps");
  size_t i;
  const json_t *st;
  json_array_foreach(steps, i, st)
  {
    uint64_t at = (uint64_t)json_integer_value(json_object_get(st, "at"));
    const char *side = json_string_value(json_object_get(st, "side"));
    const char *action = json_string_value(json_object_get(st, "action"));
    if (!side || !action)
      die("step without side or action");
    vside *v = strcmp(side, "initiator") == 0 ? &I : &R;
    json_t *msgs = json_array(), *evs = json_array();
    I.events = R.events = evs;
    route rt = {0};
    const char *lose = json_string_value(json_object_get(st, "lose"));
    if (lose)
      rt.lose = strcmp(lose, "initiator") == 0 ? &I : &R;
    rt.tamper = json_is_true(json_object_get(st, "tamper"));
    v->refuse = json_is_true(json_object_get(st, "refuse"));
    int rc = 0;
    if (strcmp(action, "send") == 0) {
      uint8_t *p;
      size_t n;
      const json_t *pl = json_object_get(st, "payload");
      const json_t *nd = json_object_get(st, "node");
      if (nd) {
        /* A node message, made by the node layer's encoder. */
        yz__node_frame f = {0};
        const char *kind = json_string_value(json_object_get(nd, "kind"));
        f.kind = strcmp(kind, "message") == 0    ? YZ__NODE_MESSAGE
                 : strcmp(kind, "request") == 0  ? YZ__NODE_REQUEST
                 : strcmp(kind, "response") == 0 ? YZ__NODE_RESPONSE
                                                 : YZ__NODE_ERROR;
        f.proto =
            (uint16_t)json_integer_value(json_object_get(nd, "protocol"));
        f.id = (uint64_t)json_integer_value(json_object_get(nd, "id"));
        f.code = (uint16_t)json_integer_value(json_object_get(nd, "code"));
        size_t bl;
        uint8_t *body = unhex(json_object_get(nd, "body"), &bl);
        f.body = body;
        f.body_len = bl;
        uint8_t hdr[YZ__NODE_HDR_MAX];
        int hl = yz__node_frame_encode_header(&f, hdr);
        if (hl < 0)
          die("node: invalid node message");
        n = (size_t)hl + bl;
        p = malloc(n);
        memcpy(p, hdr, (size_t)hl);
        if (bl)
          memcpy(p + hl, body, bl);
        free(body);
      } else if (pl) {
        p = unhex(pl, &n);
      } else {
        n = (size_t)json_integer_value(
            json_object_get(st, "payload_pattern_length"));
        p = malloc(n ? n : 1);
        for (size_t k = 0; k < n; k++)
          p[k] = (uint8_t)(k % 251);
      }
      rc = yz_session_send(&v->s, p, n, at);
      free(p);
    } else if (strcmp(action, "send_frames") == 0) {
      send_raw(v, json_object_get(st, "frames"));
    } else if (strcmp(action, "tick") == 0) {
      rc = yz_session_tick(&v->s, at);
    } else if (strcmp(action, "close") == 0) {
      rc = yz_session_close(
          &v->s, (uint16_t)json_integer_value(json_object_get(st, "code")),
          json_string_value(json_object_get(st, "text")), at);
    } else {
      die("unknown action");
    }
    v->refuse = false;
    pump(&I, &R, at, msgs, false, &rt);
    json_array_append_new(results,
                          json_pack("{s:s,s:o,s:o}", "result", yz_err_name(rc),
                                    "messages", msgs, "events", evs));
  }
  json_object_set_new(out, "results", results);
  side_free(&I);
  side_free(&R);
  return out;
}

/* ---- the built-in vectors -------------------------------------------- */

static json_t *seed_hex(const char *label)
{
  uint8_t h[32];
  crypto_hash_sha256(h, (const uint8_t *)label, strlen(label));
  return hexj(h, 32);
}

static json_t *side_in(const char *who, json_t *proof_options)
{
  char l[128];
  json_t *s = json_object();
  snprintf(l, sizeof l, "yz vectors %s identity seed", who);
  json_object_set_new(s, "identity_seed", seed_hex(l));
  snprintf(l, sizeof l, "yz vectors %s static private", who);
  json_object_set_new(s, "static_private", seed_hex(l));
  snprintf(l, sizeof l, "yz vectors %s ephemeral private", who);
  json_object_set_new(s, "ephemeral_private", seed_hex(l));
  if (proof_options)
    json_object_set_new(s, "proof_options", proof_options);
  return s;
}

static json_t *node_id_of(const char *who)
{
  char l[128];
  uint8_t seed[32];
  yz_identity id;
  snprintf(l, sizeof l, "yz vectors %s identity seed", who);
  crypto_hash_sha256(seed, (const uint8_t *)l, strlen(l));
  if (yz_identity_from_seed(&id, seed) != 0)
    die("identity");
  json_t *j = hexj(yz_identity_node_id(&id)->bytes, 32);
  yz_identity_clear(&id);
  return j;
}

/* A step: {at, side, action}; the caller adds the action's fields. */
static json_t *st(json_int_t at, const char *side, const char *action)
{
  return json_pack("{s:I,s:s,s:s}", "at", at, "side", side, "action", action);
}

static json_t *st_send(json_int_t at, const char *side, const char *hex)
{
  json_t *x = st(at, side, "send");
  json_object_set_new(x, "payload", json_string(hex));
  return x;
}

static json_t *st_pattern(json_int_t at, const char *side, json_int_t n)
{
  json_t *x = st(at, side, "send");
  json_object_set_new(x, "payload_pattern_length", json_integer(n));
  return x;
}

static json_t *st_close(json_int_t at, const char *side, int code,
                        const char *text)
{
  json_t *x = st(at, side, "close");
  json_object_set_new(x, "code", json_integer(code));
  json_object_set_new(x, "text", json_string(text));
  return x;
}

/* send_frames with the plaintext frames given as hex strings. */
static json_t *st_frames(json_int_t at, const char *side, int n, ...)
{
  json_t *x = st(at, side, "send_frames"), *a = json_array();
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++)
    json_array_append_new(a, json_string(va_arg(ap, const char *)));
  va_end(ap);
  json_object_set_new(x, "frames", a);
  return x;
}

static json_t *st_node(json_int_t at, const char *side, const char *kind,
                       int proto, json_int_t id, int code, const char *body)
{
  json_t *x = st(at, side, "send");
  json_t *n = json_pack("{s:s,s:i}", "kind", kind, "protocol", proto);
  if (id)
    json_object_set_new(n, "id", json_integer(id));
  if (code)
    json_object_set_new(n, "code", json_integer(code));
  json_object_set_new(n, "body", json_string(body));
  json_object_set_new(x, "node", n);
  return x;
}

static json_t *with(json_t *step, const char *key, json_t *value)
{
  json_object_set_new(step, key, value);
  return step;
}

/* A vector between the default initiator and responder, pinned. cfg may be
 * NULL (the defaults). */
static json_t *vec(const char *name, const char *desc, json_t *cfg,
                   json_t *steps)
{
  return json_pack(
      "{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "name", name, "description", desc,
      "initiator", side_in("initiator", NULL), "responder",
      side_in("responder", NULL), "config", cfg ? cfg : json_object(),
      "initiator_expects", node_id_of("responder"), "steps", steps);
}

/* The vectors of docs/protocol.md sections 6 to 11 and of the node
 * messages, beyond the three first ones. */
static void more_vectors(json_t *v)
{
  json_t *x;

  x = vec("unpinned",
          "An unpinned dial: the initiator accepts any node "
          "ID and learns the responder's from message 2.",
          NULL,
          json_pack("[o,o,o]", st_send(1, "initiator", "01"),
                    st_send(2, "responder", "02"),
                    st_close(3, "initiator", 0, "")));
  json_object_set_new(x, "initiator_expects", json_null());
  json_array_append_new(v, x);

  json_array_append_new(
      v, vec("fragments",
             "A message of 131100 bytes: FRAG_FIRST (65514 "
             "bytes), FRAG_MIDDLE (65518), FRAG_LAST (68) "
             "(section 7).",
             NULL, json_pack("[o]", st_pattern(1, "initiator", 131100))));

  /* A ping each way first, so that the PONG(1) between the fragments
   * answers a ping that was sent, and the initiator's PONG(1) to the PING
   * between them answers one the responder's session sent. */
  json_array_append_new(
      v, vec("control_between_fragments",
             "Another implementation interleaves PING, PONG and REKEY "
             "between the fragments of a 10-byte message (FRAG_FIRST, "
             "PING, FRAG_MIDDLE, REKEY, FRAG_MIDDLE, PONG, FRAG_LAST): the "
             "receiver answers the PING at once, rekeys, and delivers the "
             "message when complete.",
             NULL,
             json_pack("[o,o,o]", st(15000, "responder", "tick"),
                       st(30000, "initiator", "tick"),
                       st_frames(30001, "responder", 7, "020000000a01020304",
                                 "050000000000000001", "030506", "07", "0307",
                                 "060000000000000001", "0408090a"))));

  json_array_append_new(
      v, vec("rekey_responder",
             "rekey_after_messages 2: the responder's third message is "
             "preceded by a REKEY (section 8); the initiator's direction "
             "is not rekeyed.",
             json_pack("{s:I}", "rekey_after_messages", (json_int_t)2),
             json_pack("[o,o,o,o]", st_send(1, "initiator", "00"),
                       st_send(2, "responder", "a1"),
                       st_send(3, "responder", "a2"),
                       st_send(4, "responder", "a3"))));

  json_array_append_new(
      v, vec("rekey_by_time",
             "rekey_after_ms 1000: a direction rekeys before its first "
             "frame 1000 ms or more after Split() or its last rekey "
             "(section 8).",
             json_pack("{s:I}", "rekey_after_ms", (json_int_t)1000),
             json_pack("[o,o,o,o,o]", st_send(10, "initiator", "01"),
                       st_send(999, "initiator", "02"),
                       st_send(1000, "initiator", "03"),
                       st_send(1999, "initiator", "04"),
                       st_send(2500, "responder", "05"))));

  json_array_append_new(
      v, vec("rekey_mid_fragment",
             "rekey_after_messages 2 and a 131100-byte message: the REKEY "
             "comes between FRAG_MIDDLE and FRAG_LAST.",
             json_pack("{s:I}", "rekey_after_messages", (json_int_t)2),
             json_pack("[o]", st_pattern(1, "responder", 131100))));

  json_array_append_new(
      v,
      vec("close_going_away", "A CLOSE with GOING_AWAY (1) and a text.", NULL,
          json_pack("[o]", st_close(1, "responder", 1, "shutting down"))));

  /* 130 bytes: 120 ASCII, then five 2-byte characters: cut at 123 bytes
   * falls inside the second one, so 122 bytes are sent. */
  char longtext[200];
  memset(longtext, 'x', 120);
  strcpy(longtext + 120, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  json_array_append_new(
      v,
      vec("close_text_long",
          "A local close text of 130 bytes is cut at a character "
          "boundary to at most 123 bytes (section 11).",
          NULL, json_pack("[o]", st_close(1, "initiator", 0x1001, longtext))));

  static const struct {
    const char *name, *desc, *frame;
  } bad[] = {
      {"error_unknown_frame", "An unknown frame type (09): PROTOCOL.", "09"},
      {"error_empty_frame", "An empty plaintext: PROTOCOL.", ""},
      {"error_fragment_without_first",
       "FRAG_MIDDLE without FRAG_FIRST: PROTOCOL.", "0301"},
      {"error_pong_never_sent", "A PONG for a ping never sent: PROTOCOL.",
       "060000000000000005"},
      {"error_ping_length", "A PING with a 7-byte body: PROTOCOL.",
       "0500000000000001"},
      {"error_close_text_utf8",
       "A CLOSE whose text is not valid UTF-8: PROTOCOL.", "081000ff"},
  };
  for (size_t i = 0; i < YZ__ARRAY_LEN(bad); i++)
    json_array_append_new(
        v, vec(bad[i].name, bad[i].desc, NULL,
               json_pack("[o]", st_frames(1, "responder", 1, bad[i].frame))));

  json_array_append_new(
      v, vec("error_data_in_fragment",
             "DATA between FRAG_FIRST and FRAG_LAST: PROTOCOL.", NULL,
             json_pack("[o]", st_frames(1, "responder", 2, "02000000100102",
                                        "0103"))));
  json_array_append_new(
      v, vec("error_short_last_fragment",
             "A FRAG_LAST that ends below the declared total: PROTOCOL.", NULL,
             json_pack("[o]", st_frames(1, "responder", 2, "02000000100102",
                                        "040304"))));

  /* max_message 1000: a 1001-byte DATA frame, a fragment total of 2000. */
  char big[2 * 1002 + 1];
  big[0] = '0';
  big[1] = '1';
  for (int i = 0; i < 1001; i++)
    snprintf(big + 2 + 2 * i, 3, "%02x", i % 251);
  json_array_append_new(
      v, vec("error_too_large",
             "max_message 1000: the initiator's send of 1001 bytes is "
             "refused locally; a 1001-byte DATA frame from the responder "
             "closes the link (TOO_LARGE).",
             json_pack("{s:I}", "max_message", (json_int_t)1000),
             json_pack("[o,o]", st_pattern(1, "initiator", 1001),
                       st_frames(2, "responder", 1, big))));
  json_array_append_new(
      v,
      vec("error_too_large_total",
          "max_message 1000: a FRAG_FIRST declaring 2000 bytes: "
          "TOO_LARGE.",
          json_pack("{s:I}", "max_message", (json_int_t)1000),
          json_pack("[o]", st_frames(1, "responder", 1, "02000007d00102"))));

  json_array_append_new(
      v, vec("error_decrypt",
             "A transport message altered on the way (one bit of its "
             "tag): DECRYPT (section 6).",
             NULL,
             json_pack("[o]", with(st_send(1, "initiator", "01"), "tamper",
                                   json_true()))));

  x = vec("error_handshake_timeout",
          "Message 2 is lost: both sides time out after handshake_timeout_"
          "ms and send nothing (section 10).",
          json_pack("{s:I}", "handshake_timeout_ms", (json_int_t)10000),
          json_pack("[o,o,o]", st(9999, "initiator", "tick"),
                    st(10000, "initiator", "tick"),
                    st(10000, "responder", "tick")));
  json_object_set_new(x, "handshake_lose", json_integer(2));
  json_array_append_new(v, x);

  json_array_append_new(
      v, vec("missed_pongs",
             "max_missed_pongs 2, ping_idle_ms 1000: the responder's PONGs "
             "are lost; the initiator pings at 1000 and 2000 and closes "
             "(TIMEOUT) at 3000 (section 10).",
             json_pack("{s:I,s:I}", "ping_idle_ms", (json_int_t)1000,
                       "max_missed_pongs", (json_int_t)2),
             json_pack("[o,o,o,o]", st(999, "initiator", "tick"),
                       with(st(1000, "initiator", "tick"), "lose",
                            json_string("responder")),
                       with(st(2000, "initiator", "tick"), "lose",
                            json_string("responder")),
                       st(3000, "initiator", "tick"))));

  json_array_append_new(
      v, vec("error_nonce_limit",
             "A test nonce limit of 6: four frames go out (nonces 0 to 3), "
             "the fifth send closes with NONCE_EXHAUSTED, its CLOSE on "
             "nonce 4 (section 9).",
             json_pack("{s:I}", "nonce_limit", (json_int_t)6),
             json_pack("[o,o,o,o,o]", st_send(1, "initiator", "01"),
                       st_send(2, "initiator", "02"),
                       st_send(3, "initiator", "03"),
                       st_send(4, "initiator", "04"),
                       st_send(5, "initiator", "05"))));

  x = vec("error_identity_message2",
          "The responder's proof does not verify: the initiator rejects "
          "message 2 (IDENTITY) and sends nothing.",
          NULL, json_array());
  json_object_set_new(json_object_get(x, "responder"), "corrupt_proof",
                      json_true());
  json_array_append_new(v, x);
  x = vec("error_identity_message3",
          "The initiator's proof does not verify: the responder rejects "
          "message 3 (IDENTITY).",
          NULL, json_pack("[o]", st(1, "responder", "tick")));
  json_object_set_new(json_object_get(x, "initiator"), "corrupt_proof",
                      json_true());
  json_array_append_new(v, x);

  json_array_append_new(
      v,
      vec("error_internal",
          "The initiator's transport refuses a message: it closes "
          "(INTERNAL) without a CLOSE frame.",
          NULL,
          json_pack("[o,o]",
                    with(st_send(1, "initiator", "01"), "refuse", json_true()),
                    st(2, "responder", "tick"))));

  /* Duplicate links: the two identities' node IDs decide a cross dial;
   * the channel bindings decide two dials by the same node. */
  static const struct {
    const char *name, *dialer, *desc;
  } dup[] = {
      {"duplicate_cross_dial", "responder",
       "Both nodes dialled each other: the link dialled by the smaller "
       "node ID survives, at both ends."},
      {"duplicate_same_dialer", "initiator",
       "The initiator dialled twice: the link with the smaller channel "
       "binding survives."},
  };
  for (size_t i = 0; i < YZ__ARRAY_LEN(dup); i++) {
    char l1[64], l2[64];
    snprintf(l1, sizeof l1, "yz vectors %s dialer ephemeral", dup[i].name);
    snprintf(l2, sizeof l2, "yz vectors %s listener ephemeral", dup[i].name);
    x = vec(dup[i].name, dup[i].desc, NULL, json_array());
    json_object_set_new(x, "second_link",
                        json_pack("{s:s,s:o,s:o}", "dialer", dup[i].dialer,
                                  "dialer_ephemeral_private", seed_hex(l1),
                                  "listener_ephemeral_private", seed_hex(l2)));
    json_array_append_new(v, x);
  }

  x = vec(
      "node_messages",
      "Node messages (docs/protocol.md \"Node messages\"): a message "
      "for protocol 256, a PING request and its response, a request "
      "and an error \"no handler\" (code 1), and an application "
      "message that is no valid node message.",
      NULL,
      json_pack(
          "[o,o,o,o,o,o]",
          st_node(1, "initiator", "message", 256, 0, 0, "68656c6c6f"),
          st_node(2, "initiator", "request", 1, 42, 0, "0000000000000001"),
          st_node(3, "responder", "response", 1, 42, 0, "0000000000000001"),
          st_node(4, "initiator", "request", 300, 7, 0, "0102"),
          st_node(5, "responder", "error", 300, 7, 1, "6e6f2068616e646c6572"),
          st_send(6, "initiator", "050001")));
  json_object_set_new(x, "node_layer", json_true());
  json_array_append_new(v, x);

  /* The network name (docs/protocol.md section 5, "Network name"). */
  x = vec("network_name",
          "Both nodes belong to the test network \"yz-test\": both proofs "
          "carry it (key 7) and the link comes up.",
          NULL,
          json_pack("[o,o]", st_send(1, "initiator", "6e6574"),
                    st_send(2, "responder", "6f6b")));
  json_object_set_new(json_object_get(x, "initiator"), "proof_options",
                      json_pack("{s:s}", "network", "yz-test"));
  json_object_set_new(json_object_get(x, "responder"), "proof_options",
                      json_pack("{s:s}", "network", "yz-test"));
  json_array_append_new(v, x);
  x = vec("error_network_mismatch",
          "The responder belongs to \"yz-test\", the initiator to the "
          "public network \"yz\" (no key 7): the initiator reads message "
          "2, still sends message 3 and fails (NETWORK) without Split(); "
          "the responder fails on message 3 (NETWORK). Nothing else is "
          "sent.",
          NULL, json_array());
  json_object_set_new(json_object_get(x, "responder"), "proof_options",
                      json_pack("{s:s}", "network", "yz-test"));
  json_array_append_new(v, x);
  x = vec("error_network_mismatch_initiator",
          "The initiator belongs to \"yz-test\", the responder to the "
          "public network \"yz\": the same failure on both sides, the "
          "names the other way round.",
          NULL, json_array());
  json_object_set_new(json_object_get(x, "initiator"), "proof_options",
                      json_pack("{s:s}", "network", "yz-test"));
  json_array_append_new(v, x);
}

static json_t *builtin(void)
{
  json_t *v = json_array();

  /* 1: the basic conversation: data both ways, fragments, rekey, ping,
   * pong, close. rekey_after_messages 3 makes a rekey appear early. */
  json_t *steps = json_pack(
      "[{s:I,s:s,s:s,s:s},{s:I,s:s,s:s,s:s},{s:I,s:s,s:s,s:I},"
      "{s:I,s:s,s:s,s:s},{s:I,s:s,s:s,s:s},{s:I,s:s,s:s},"
      "{s:I,s:s,s:s,s:I,s:s}]",
      "at", (json_int_t)1, "side", "initiator", "action", "send", "payload",
      "68656c6c6f207977", /* "hello yz" */
      "at", (json_int_t)2, "side", "responder", "action", "send", "payload",
      "", "at", (json_int_t)3, "side", "initiator", "action", "send",
      "payload_pattern_length", (json_int_t)65619, "at", (json_int_t)4,
      "side", "responder", "action", "send", "payload", "6f6b",
      "at", (json_int_t)5, "side", "initiator", "action", "send", "payload",
      "61667465722072656b6579", /* "after rekey" */
      "at", (json_int_t)15005, "side", "initiator", "action", "tick",
      "at", (json_int_t)15006, "side", "responder", "action", "close",
      "code", (json_int_t)0x1000, "text", "bye");
  json_array_append_new(
      v, json_pack("{s:s,s:s,s:o,s:o,s:{s:I},s:o,s:o}", "name", "basic",
                   "description",
                   "Pinned dial; DATA both ways (one empty), a 65619-byte "
                   "message in FRAG_FIRST + FRAG_LAST, a REKEY after 3 "
                   "messages, a PING/PONG after 15 s idle, a CLOSE with an "
                   "application code.",
                   "initiator", side_in("initiator", NULL), "responder",
                   side_in("responder", NULL), "config",
                   "rekey_after_messages", (json_int_t)3,
                   "initiator_expects", node_id_of("responder"), "steps",
                   steps));

  /* 2: every optional proof field; one message each way. */
  json_t *po_r = json_pack(
      "{s:[{s:s,s:i},{s:s,s:i}],s:i,s:i,s:s}", "addresses", "url",
      "ws://192.0.2.10:7700/", "client_types", YZ_WIRE_CLIENT_WS, "url",
      "wss://infra.example.org/yz", "client_types",
      YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS, "node_type",
      YZ_WIRE_NODE_INFRASTRUCTURE, "capabilities",
      YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_STORAGE | YZ_WIRE_CAP_RELAY,
      "software_version", "yz 0.1.0");
  json_t *po_i = json_pack("{s:i,s:i,s:s}", "node_type",
                           YZ_WIRE_NODE_COMMUNITY, "capabilities", 0,
                           "software_version", "yz 0.1.0");
  json_array_append_new(
      v, json_pack("{s:s,s:s,s:o,s:o,s:{},s:o,s:[{s:I,s:s,s:s,s:s},"
                   "{s:I,s:s,s:s,s:s},{s:I,s:s,s:s,s:I,s:s}]}",
                   "name", "proof_fields", "description",
                   "Identity proofs with every optional field: addresses "
                   "with client types, node type, capabilities, software "
                   "version.",
                   "initiator", side_in("initiator", po_i), "responder",
                   side_in("infra", po_r), "config", "initiator_expects",
                   node_id_of("infra"), "steps", "at", (json_int_t)1, "side",
                   "initiator", "action", "send", "payload", "01",
                   "at", (json_int_t)2, "side", "responder", "action", "send",
                   "payload", "02", "at", (json_int_t)3, "side", "initiator",
                   "action", "close", "code", (json_int_t)0, "text", ""));

  /* 3: the dialer expects another node: it stops after message 2. */
  json_array_append_new(
      v, json_pack("{s:s,s:s,s:o,s:o,s:{},s:o,s:[]}", "name",
                   "peer_id_mismatch", "description",
                   "The initiator expects the node ID of another identity: "
                   "it reads message 2, finds a different node ID and ends "
                   "the handshake with PEER_ID_MISMATCH; no message 3.",
                   "initiator", side_in("initiator", NULL), "responder",
                   side_in("responder", NULL), "config", "initiator_expects",
                   node_id_of("someone else"), "steps"));
  more_vectors(v);
  return v;
}

static json_t *header(void)
{
  return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "format", FORMAT, "protocol",
                   YZ_SESSION_WS_SUBPROTOCOL, "noise_protocol",
                   YZ_SESSION_NOISE_PROTOCOL, "prologue",
                   hexj((const uint8_t *)YZ_SESSION_PROLOGUE,
                        YZ_SESSION_PROLOGUE_LEN),
                   "signature_prefix",
                   hexj((const uint8_t *)YZ_SESSION_SIG_PREFIX,
                        YZ_SESSION_SIG_PREFIX_LEN),
                   "payload_pattern", "byte i = i mod 251");
}

/* Report the first difference between two JSON values. */
static void diff(const char *path, const json_t *want, const json_t *got)
{
  if (json_equal(want, got))
    return;
  if (json_is_object(want) && json_is_object(got)) {
    const char *k;
    json_t *w;
    json_object_foreach((json_t *)want, k, w)
    {
      char p[512];
      snprintf(p, sizeof p, "%s.%s", path, k);
      if (!json_equal(w, json_object_get(got, k))) {
        diff(p, w, json_object_get(got, k));
        return;
      }
    }
    fprintf(stderr, "  %s: extra keys\n", path);
    return;
  }
  if (json_is_array(want) && json_is_array(got)) {
    for (size_t i = 0; i < json_array_size(want); i++) {
      char p[512];
      snprintf(p, sizeof p, "%s[%zu]", path, i);
      if (!json_equal(json_array_get(want, i), json_array_get(got, i))) {
        diff(p, json_array_get(want, i), json_array_get(got, i));
        return;
      }
    }
    fprintf(stderr, "  %s: %zu items expected, %zu computed\n", path,
            json_array_size(want), json_array_size(got));
    return;
  }
  char *a = json_dumps(want, JSON_ENCODE_ANY), *b = json_dumps(got, JSON_ENCODE_ANY);
  fprintf(stderr, "  %s: expected %.80s, computed %.80s\n", path,
          a ? a : "?", b ? b : "(absent)");
  free(a);
  free(b);
}

static int check(const char *path)
{
  json_error_t err;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
    return 2;
  }
  json_t *hdr = header();
  json_t *got_hdr = json_deep_copy(root);
  json_object_del(got_hdr, "vectors");
  if (!json_equal(hdr, got_hdr)) {
    fprintf(stderr, "%s: header differs\n", path);
    diff("", got_hdr, hdr);
    fails++;
  }
  json_decref(hdr);
  json_decref(got_hdr);
  const json_t *vs = json_object_get(root, "vectors");
  size_t i;
  const json_t *v;
  size_t n = 0;
  json_array_foreach(vs, i, v)
  {
    json_t *r = run_vector(v);
    const char *name = json_string_value(json_object_get(v, "name"));
    if (json_equal(v, r)) {
      printf("ok   %s\n", name ? name : "?");
    } else {
      printf("FAIL %s\n", name ? name : "?");
      diff(name ? name : "?", v, r);
      fails++;
    }
    json_decref(r);
    n++;
  }
  printf("%zu vectors, %d failed\n", n, fails);
  json_decref(root);
  return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    die("yz_init");
  if (argc == 2 && strcmp(argv[1], "--generate") == 0) {
    json_t *root = header();
    json_t *vs = json_array(), *in = builtin();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v) json_array_append_new(vs, run_vector(v));
    json_decref(in);
    json_object_set_new(root, "vectors", vs);
    if (json_dumpf(root, stdout, JSON_INDENT(1)) != 0)
      die("write failed");
    putchar('\n');
    json_decref(root);
    return 0;
  }
  if (argc == 2 && argv[1][0] != '-')
    return check(argv[1]);
  fprintf(stderr, "usage: yz_link_vectors --generate | FILE\n");
  return 2;
}
