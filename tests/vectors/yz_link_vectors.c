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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/util.h"
#include "yz/session.h"
#include "session/testing.h"

#define FORMAT "yz-link-vectors-1"

typedef struct wq {
  uint8_t *p[256];
  size_t n[256];
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
} vside;

static int fails;

static void die(const char *what)
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
  if (v->out.tail == 256)
    return YZ_E_QUEUE_FULL;
  v->out.p[v->out.tail] = malloc(len);
  memcpy(v->out.p[v->out.tail], msg, len);
  v->out.n[v->out.tail++] = len;
  return 0;
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
  }
  if (yz_session_local_init(&v->local, &v->id, spriv, &o) != 0)
    die("local_init");
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

/* Deliver queued messages both ways, in order, recording each. */
static void pump(vside *a, vside *b, uint64_t now, json_t *msgs, bool hs)
{
  for (;;) {
    vside *from = a->out.head < a->out.tail ? a
                  : b->out.head < b->out.tail ? b : NULL;
    if (!from)
      return;
    vside *to = from == a ? b : a;
    uint8_t *p = from->out.p[from->out.head];
    size_t n = from->out.n[from->out.head++];
    json_t *m = json_pack("{s:s,s:o}", "from", from->name, "ciphertext",
                          hexj(p, n));
    if (!hs && yz_session_get_state(&to->s) == YZ_SESSION_UP &&
        n > YZ_NOISE_TAG_LEN) {
      /* The plaintext, for readers: decrypt with a copy of the receiver's
       * CipherState; the session then does the same for real. */
      yz_noise_cipherstate shadow = to->s.rx;
      uint8_t *pt = malloc(n);
      size_t ptn;
      if (yz_noise_cs_decrypt_with_ad(&shadow, NULL, 0, p, n, pt, n, &ptn) ==
          0)
        json_object_set_new(m, "plaintext", hexj(pt, ptn));
      free(pt);
      yz_noise_cs_clear(&shadow);
    }
    json_array_append_new(msgs, m);
    int rc = yz_session_recv(&to->s, p, n, now);
    (void)rc; /* events say what happened */
    free(p);
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

static const char *const input_keys[] = {
    "name", "description", "initiator", "responder", "config",
    "initiator_expects", "steps"};

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
  yz__session_test_hooks hi = {.ephemeral = I.eph}, hr = {.ephemeral = R.eph};
  if (yz__session_init_testing(&I.s, &ci, &hi) != 0 ||
      yz__session_init_testing(&R.s, &cr, &hr) != 0)
    die("session_init");

  json_t *hs = json_array(), *hev = json_array();
  I.events = R.events = hev;
  if (yz_session_start(&R.s, 0) != 0 || yz_session_start(&I.s, 0) != 0)
    die("session_start");
  pump(&I, &R, 0, hs, true);
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
    int rc = 0;
    if (strcmp(action, "send") == 0) {
      uint8_t *p;
      size_t n;
      const json_t *pl = json_object_get(st, "payload");
      if (pl) {
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
    } else if (strcmp(action, "tick") == 0) {
      rc = yz_session_tick(&v->s, at);
    } else if (strcmp(action, "close") == 0) {
      rc = yz_session_close(
          &v->s, (uint16_t)json_integer_value(json_object_get(st, "code")),
          json_string_value(json_object_get(st, "text")), at);
    } else {
      die("unknown action");
    }
    pump(&I, &R, at, msgs, false);
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
