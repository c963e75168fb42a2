/*
 * gen_corpus: writes the seed corpora of the fuzz targets from valid
 * messages made by the project's own encoders.
 *
 *   gen_corpus OUTDIR [TARGET...]
 *
 * creates OUTDIR/<target>/seed-<hash of the content> files (all targets when none is named).
 * The output is deterministic: fixed keys, fixed ephemerals. The checked-in
 * fuzz/corpus/ holds this output plus inputs the fuzzer found (minimised).
 * Sections are compiled in only for the layers this build has
 * (YZ_FUZZ_HAVE_<LAYER>, set by tests/fuzz/meson.build).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "fuzz_util.h"

static const char *outdir;
static int n_args;
static char **args;
static int failures;
static unsigned counter;

static bool wanted(const char *target)
{
  if (n_args == 0)
    return true;
  for (int i = 0; i < n_args; i++)
    if (strcmp(args[i], target) == 0)
      return true;
  return false;
}

static void put(const char *target, const void *data, size_t len)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", outdir, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
    failures++;
    return;
  }
  /* Named by content, so regenerating never duplicates a file. */
  uint8_t h[8];
  crypto_generichash(h, sizeof h, data, len, NULL, 0);
  snprintf(path, sizeof path,
           "%s/%s/seed-%02x%02x%02x%02x%02x%02x%02x%02x", outdir, target,
           h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
  counter++;
  FILE *f = fopen(path, "wb");
  if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) ||
      fclose(f) != 0) {
    fprintf(stderr, "gen_corpus: %s: write failed\n", path);
    failures++;
  }
}

/* A growable byte builder for composite inputs. */
typedef struct bb {
  uint8_t buf[1 << 17];
  size_t n;
} bb;

static void bb_u8(bb *b, uint8_t v)
{
  if (b->n < sizeof b->buf)
    b->buf[b->n++] = v;
}

static inline void bb_u16(bb *b, uint16_t v)
{
  bb_u8(b, (uint8_t)(v >> 8));
  bb_u8(b, (uint8_t)v);
}

static void bb_mem(bb *b, const void *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    bb_u8(b, ((const uint8_t *)p)[i]);
}

static inline void bb_chunk(bb *b, const void *p, size_t n)
{
  bb_u16(b, (uint16_t)n);
  bb_mem(b, p, n);
}

static void bb_str(bb *b, const char *s)
{
  bb_mem(b, s, strlen(s));
}

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_NOISE
#include <sodium.h>

#include "yz/noise.h"

static void gen_noise(void)
{
  if (wanted("noise_handshake")) {
    /* Every pattern of the harness's table, both roles, honest messages
     * with small payloads, then transport messages. */
    for (int proto = 0; proto < 18; proto++) {
      for (int role = 0; role < 2; role++) {
        bb b = {.n = 0};
        bb_u8(&b, (uint8_t)proto);
        bb_u8(&b, (uint8_t)role);
        for (int m = 0; m < 4; m++) {
          bb_u8(&b, 0x00);
          bb_chunk(&b, "hello", 5);
        }
        for (int m = 0; m < 8; m++)
          bb_chunk(&b, "data", 4);
        put("noise_handshake", b.buf, b.n);
      }
    }
    /* The yz protocol with a tampered message 2 (XOR at offset 40). */
    bb b = {.n = 0};
    bb_u8(&b, 0);
    bb_u8(&b, 1);
    bb_u8(&b, 0);
    bb_chunk(&b, "", 0);
    bb_u8(&b, 0x02 | (40 << 2));
    bb_chunk(&b, "\x01", 1);
    put("noise_handshake", b.buf, b.n);
  }
  if (wanted("noise_protocol")) {
    static const char *const names[] = {
      "Noise_XX_25519_ChaChaPoly_BLAKE2b", "Noise_IK_25519_AESGCM_SHA256",
      "Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA512",
      "Noise_XXfallback_25519_ChaChaPoly_SHA256",
      "Noise_I1K1_25519_ChaChaPoly_BLAKE2b", "Noise_N_25519_ChaChaPoly_SHA256",
      "Noise_XX_448_ChaChaPoly_BLAKE2b", "Noise_XX_25519_ChaChaPoly_BLAKE2s",
      "NoisePSK_XX_25519_ChaChaPoly_SHA256", "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      put("noise_protocol", names[i], strlen(names[i]));
  }
  if (wanted("noise_transport")) {
    static const struct {
      uint8_t cipher, flags;
      uint64_t nonce;
      const char *ad, *pt;
    } t[] = {
      {0, 0x00, 0, "", "hello"},
      {0, 0x01, 5, "ad", "in place"},
      {0, 0x02, 1, "", "rekeyed round trip"},
      {0, 0x08, 77, "x", "tamper check"},
      {1, 0x00, 0, "", "aes-gcm where available"},
      {0, 0x40, YZ_NOISE_NONCE_MAX, "", "the last nonce"},
      {0, 0x04, 9, "", "output buffer too small"},
      {0, 0x00, UINT64_MAX, "", "reserved nonce"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      yz_noise_cipher c = t[i].cipher && crypto_aead_aes256gcm_is_available()
                              ? YZ_NOISE_CIPHER_AESGCM
                              : YZ_NOISE_CIPHER_CHACHAPOLY;
      uint8_t key[32], ct[256];
      size_t clen = 0;
      fuzz_key(key, (uint8_t)(t[i].flags >> 6));
      yz_noise_cipherstate cs;
      yz_noise_cs_init(&cs, c);
      yz_noise_cs_initialize_key(&cs, key);
      uint64_t nonce = t[i].nonce == UINT64_MAX ? 0 : t[i].nonce;
      if (yz_noise_cs_set_nonce(&cs, nonce) != 0 ||
          yz_noise_cs_encrypt_with_ad(
              &cs, (const uint8_t *)t[i].ad, strlen(t[i].ad),
              (const uint8_t *)t[i].pt, strlen(t[i].pt), ct, sizeof ct,
              &clen) != 0) {
        failures++;
        continue;
      }
      bb b = {.n = 0};
      bb_u8(&b, t[i].cipher);
      bb_u8(&b, t[i].flags);
      for (int k = 7; k >= 0; k--)
        bb_u8(&b, (uint8_t)(t[i].nonce >> (8 * k)));
      bb_u8(&b, (uint8_t)strlen(t[i].ad));
      bb_str(&b, t[i].ad);
      bb_mem(&b, ct, clen);
      put("noise_transport", b.buf, b.n);
      yz_noise_cs_clear(&cs);
    }
  }
}
#endif

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_NODE
#include "node/frame.h"

static void gen_reqtable(void)
{
  if (!wanted("reqtable"))
    return;
  for (int v = 0; v < 3; v++) {
    bb b = {.n = 0};
    bb_u8(&b, (uint8_t)(v == 0 ? 3 : 40)); /* max */
    for (int k = 0; k < 8; k++) /* first id; v == 2: near the wrap */
      bb_u8(&b, (uint8_t)(v == 2 ? 0xff : (k == 7 ? 1 : 0)));
    for (int i = 0; i < 6; i++) {
      bb_u8(&b, 0); /* insert */
      bb_u8(&b, (uint8_t)i);
      bb_u16(&b, (uint16_t)(100 * (6 - i)));
    }
    bb_u8(&b, 2); /* take a live id from the right peer */
    bb_u8(&b, 1);
    bb_u8(&b, 1);
    bb_u8(&b, 1); /* take a made-up id */
    for (int k = 0; k < 8; k++)
      bb_u8(&b, (uint8_t)k);
    bb_u8(&b, 0);
    bb_u8(&b, 6); /* next deadline */
    bb_u8(&b, 3); /* expire at 350 */
    bb_u16(&b, 350);
    bb_u8(&b, 4); /* take peer 2 */
    bb_u8(&b, 2);
    bb_u8(&b, 5); /* take any */
    put("reqtable", b.buf, b.n);
  }
}

static void gen_node_frame(void)
{
  static const struct {
    uint8_t kind;
    uint16_t proto;
    uint64_t id;
    uint16_t code;
    const char *body;
  } t[] = {
    {YZ__NODE_MESSAGE, 1, 0, 0, "hello"},
    {YZ__NODE_MESSAGE, 0xffff, 0, 0, ""},
    {YZ__NODE_REQUEST, 2, 1, 0, "get key"},
    {YZ__NODE_REQUEST, 7, UINT64_MAX, 0, ""},
    {YZ__NODE_RESPONSE, 2, 1, 0, "value"},
    {YZ__NODE_ERROR, 2, 1, 404, "not found"},
    {YZ__NODE_ERROR, 3, 42, 1, ""},
  };
  const char *target = "node_frame";
  if (!wanted(target))
    return;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    yz__node_frame f = {.kind = t[i].kind, .proto = t[i].proto,
                        .id = t[i].id, .code = t[i].code,
                        .body = (const uint8_t *)t[i].body,
                        .body_len = strlen(t[i].body)};
    bb b = {.n = 0};
    int hl = yz__node_frame_encode_header(&f, b.buf);
    if (hl < 0) {
      failures++;
      continue;
    }
    b.n = (size_t)hl;
    bb_str(&b, t[i].body);
    put(target, b.buf, b.n);
  }
}
#endif

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_IDENTITY
#include "yz/address.h"
#include "yz/identity.h"

static void gen_identity(void)
{
  yz_identity id;
  uint8_t seed[32];
  if (wanted("node_id")) {
    for (uint8_t i = 0; i < 3; i++) {
      fuzz_key(seed, (uint8_t)(40 + i));
      if (yz_identity_from_seed(&id, seed) != 0) {
        failures++;
        continue;
      }
      char hex[YZ_NODE_ID_HEX_LEN + 1];
      yz_node_id_to_hex(yz_identity_node_id(&id), hex);
      put("node_id", hex, YZ_NODE_ID_HEX_LEN);
      if (i == 1) {
        hex[0] = 'A'; /* uppercase is refused */
        put("node_id", hex, YZ_NODE_ID_HEX_LEN);
        put("node_id", hex + 1, YZ_NODE_ID_HEX_LEN - 1);
      }
      yz_identity_clear(&id);
    }
  }
  if (wanted("address")) {
    static const char *const addrs[] = {
      "ws://192.0.2.7:7700/#",
      "wss://node.example.org/#",
      "ws://[2001:db8::7]:4100/yz?x=1#",
      "wss://Node-1.Example.ORG:443/a/b%20c#",
      "ws://localhost",
      "ws://10.0.0.1:65535/",
      "ws://0.0.0.0:0",
      "wss://[::]:0/yz",
    };
    fuzz_key(seed, 44);
    if (yz_identity_from_seed(&id, seed) != 0)
      failures++;
    char hex[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(yz_identity_node_id(&id), hex);
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
      bb b = {.n = 0};
      bb_str(&b, addrs[i]);
      if (addrs[i][strlen(addrs[i]) - 1] == '#')
        bb_str(&b, hex);
      put("address", b.buf, b.n);
    }
    yz_identity_clear(&id);
  }
  if (wanted("keyfile")) {
    for (uint8_t i = 0; i < 3; i++) {
      fuzz_key(seed, (uint8_t)(50 + i));
      if (yz_identity_from_seed(&id, seed) != 0) {
        failures++;
        continue;
      }
      char text[YZ_IDENTITY_KEYFILE_TEXT_MAX];
      int n = yz_identity_format_keyfile(&id, text, sizeof text);
      if (n < 0) {
        failures++;
        continue;
      }
      put("keyfile", text, (size_t)n);
      if (i == 0) {
        /* Without the node-id line, and with a comment. */
        char *seedline = strstr(text, "seed ");
        char *idline = strstr(text, "node-id ");
        if (seedline != NULL && idline != NULL) {
          bb b = {.n = 0};
          bb_str(&b, "yz-identity-v1\n# made by gen_corpus\n");
          bb_str(&b, seedline);
          put("keyfile", b.buf, b.n);
        }
      }
      yz_identity_clear(&id);
    }
  }
}
#endif

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_WIRE
#include "yz/wire.h"

/* Sample proofs: minimal, full, and in between. */
static int sample_proof(yz_wire_identity_proof *p, int which)
{
  memset(p, 0, sizeof *p);
  fuzz_key(p->identity_pk, 60);
  for (size_t i = 0; i < sizeof p->signature; i++)
    p->signature[i] = (uint8_t)(i * 3);
  switch (which) {
  case 0:
    return 0;
  case 1:
    p->n_addresses = 2;
    strcpy(p->addresses[0].url, "ws://192.0.2.1:4100/");
    p->addresses[0].url_len = (uint16_t)strlen(p->addresses[0].url);
    p->addresses[0].client_types = YZ_WIRE_CLIENT_WS;
    strcpy(p->addresses[1].url, "wss://node.example.org/yz");
    p->addresses[1].url_len = (uint16_t)strlen(p->addresses[1].url);
    p->addresses[1].client_types = YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS;
    p->node_type = YZ_WIRE_NODE_INFRASTRUCTURE;
    p->has_capabilities = true;
    p->capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_RELAY;
    strcpy(p->version, "yz 0.1.0");
    p->version_len = (uint8_t)strlen(p->version);
    return 0;
  case 2:
    p->node_type = YZ_WIRE_NODE_COMMUNITY;
    p->has_capabilities = true;
    p->capabilities = UINT64_C(1) << 40;
    strcpy(p->network, "yz-test"); /* docs/protocol.md 5, "Network name" */
    p->network_len = (uint8_t)strlen(p->network);
    return 0;
  case 3:
    p->n_addresses = 1;
    strcpy(p->addresses[0].url, "ws://[2001:db8::1]:80/");
    p->addresses[0].url_len = (uint16_t)strlen(p->addresses[0].url);
    p->addresses[0].client_types = 0x1ff;
    strcpy(p->version, "v\xc3\xa9rsion \xe2\x82\xac \xf0\x9f\x94\x91");
    p->version_len = (uint8_t)strlen(p->version);
    return 0;
  default:
    return -1;
  }
}

static void gen_wire(void)
{
  uint8_t enc[YZ_WIRE_PROOF_MAX_LEN];
  for (int w = 0; w < 4; w++) {
    yz_wire_identity_proof p;
    size_t n = 0;
    if (sample_proof(&p, w) != 0 ||
        yz_wire_proof_encode(&p, enc, sizeof enc, &n) != 0) {
      failures++;
      continue;
    }
    if (wanted("wire_proof"))
      put("wire_proof", enc, n);
    bb b = {.n = 0};
    bb_u8(&b, 0x02); /* yz_wire_check with the proof's bound */
    bb_mem(&b, enc, n);
    if (wanted("wire_check"))
      put("wire_check", b.buf, b.n);
    b.buf[0] = 0x00; /* decode, encode, decode */
    if (wanted("wire_roundtrip"))
      put("wire_roundtrip", b.buf, b.n);
    if (w == 1 && wanted("wire_proof")) {
      /* The same with an unknown key 8 (ignored) added at the end:
       * the map head a6 becomes a7. */
      bb u = {.n = 0};
      bb_mem(&u, enc, n);
      if (u.buf[0] == 0xa6) {
        u.buf[0] = 0xa7;
        bb_u8(&u, 0x08);
        bb_u8(&u, 0xf5); /* true */
        put("wire_proof", u.buf, u.n);
      }
    }
  }
  if (wanted("wire_check")) {
    static const char *const utf8[] = {
      "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac\xf0\x9f\x94\x91",
      "\xed\xa0\x80" /* a surrogate: invalid */,
      "\xc0\xaf" /* overlong: invalid */,
    };
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) {
      bb b = {.n = 0};
      bb_u8(&b, 0x01);
      bb_str(&b, utf8[i]);
      put("wire_check", b.buf, b.n);
    }
    /* Non-canonical or hostile heads. */
    static const uint8_t bad[][6] = {
      {0x00, 0xba, 0x01, 0x00, 0x00, 0x00}, /* map of 2^24 pairs */
      {0x02, 0x18, 0x05},                   /* 5 in a wide head */
      {0x02, 0xa2, 0x02, 0x00, 0x01, 0x00}, /* keys out of order */
      {0x02, 0x81, 0x81, 0x81, 0x81, 0x80}, /* nesting */
    };
    static const size_t bad_len[] = {6, 3, 6, 6};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      put("wire_check", bad[i], bad_len[i]);
  }
  if (wanted("wire_roundtrip")) {
    /* Structure-aware inputs (mode 1): pk, sig, flags, addresses... */
    for (int v = 0; v < 3; v++) {
      bb b = {.n = 0};
      bb_u8(&b, 0x01);
      for (int i = 0; i < 96; i++)
        bb_u8(&b, (uint8_t)(i + v));
      bb_u8(&b, (uint8_t)(v == 0 ? 0x00 : 0x72)); /* 2 addresses, caps, ver */
      if (v > 0) {
        bb_u8(&b, 14);
        bb_str(&b, "ws://a.b:1234/");
        bb_u8(&b, 1);
        bb_u8(&b, 15);
        bb_str(&b, "wss://c.d:443/x");
        bb_u8(&b, 3);
      }
      bb_u8(&b, (uint8_t)v); /* node type */
      if (v > 0) {
        for (int i = 0; i < 8; i++)
          bb_u8(&b, (uint8_t)(v == 2 ? 0xff : i));
        bb_u8(&b, 5);
        bb_str(&b, "1.2.3");
      }
      put("wire_roundtrip", b.buf, b.n);
    }
  }
}
#endif

/* Node records (fuzz/fuzz_node_record.c): signed by the harness's identity
 * for its network, so the seeds reach the signature check and acceptance. */
#ifdef YZ_FUZZ_HAVE_WIRE
#include "yz/record.h"

static void gen_node_record(void)
{
  if (!wanted("node_record"))
    return;
  yz_identity id;
  uint8_t seed[32];
  fuzz_key(seed, 60);
  if (yz_identity_from_seed(&id, seed) != 0) {
    failures++;
    return;
  }
  static const char *const urls[] = {
      "ws://192.0.2.7:7700/", "wss://node.example.org:443/yz",
      "ws://[2001:db8::7]:7700/"};
  for (int w = 0; w < 3; w++) {
    yz_record r;
    memset(&r, 0, sizeof r);
    r.seq = w == 2 ? UINT64_MAX : (uint64_t)w;
    r.expiry = w == 0 ? 1 : 1800000000u;
    r.node_type = w == 1 ? YZ_WIRE_NODE_INFRASTRUCTURE
                         : YZ_WIRE_NODE_COMMUNITY;
    r.capabilities = w == 1 ? 7 : 0;
    int rc = yz_record_set_network(&r, "yz-fuzz");
    for (int i = 0; rc == 0 && i <= w; i++)
      rc = yz_record_add_address(&r, urls[i], i == 1 ? 3 : 1, NULL);
    uint8_t enc[YZ_RECORD_MAX_LEN];
    size_t n;
    if (rc != 0 || yz_record_sign(&r, &id, NULL) != 0 ||
        yz_record_encode(&r, enc, sizeof enc, &n) != 0) {
      failures++;
      continue;
    }
    put("node_record", enc, n);
  }
  yz_identity_clear(&id);
}
#endif

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_VECTORS
#include "vectors/vectors.h"

/* One vector as a one-vector file of the vectors corpus; cleared. */
static void put_vector(yz_vec_vector *v)
{
  yz_vec_set set = {.vectors = v, .n_vectors = 1};
  char *json = yz_vec_dump(&set);
  if (json == NULL) {
    failures++;
  } else {
    put("vectors", json, strlen(json));
    free(json);
  }
  yz_vec_vector_clear(v);
}

static void gen_vectors(void)
{
  static const char *const names[] = {
    "Noise_XX_25519_ChaChaPoly_BLAKE2b", "Noise_IK_25519_AESGCM_SHA256",
    "Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA512", "Noise_X_25519_ChaChaPoly_SHA256",
    "Noise_I1K1_25519_ChaChaPoly_BLAKE2b", "Noise_KN_25519_ChaChaPoly_SHA256",
  };
  if (!wanted("vectors"))
    return;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    yz_vec_vector v;
    char err[YZ_VEC_ERR_LEN];
    uint8_t seed[1] = {(uint8_t)i};
    if (yz_vec_generate(&v, names[i], seed, sizeof seed, 2, err,
                        sizeof err) != 0) {
      fprintf(stderr, "gen_corpus: %s: %s\n", names[i], err);
      continue; /* e.g. AESGCM without hardware support */
    }
    put_vector(&v);
  }
  /* A negative vector (fail, fail_at) and a shaped one. */
  for (int k = 0; k < 2; k++) {
    yz_vec_vector v;
    char err[YZ_VEC_ERR_LEN];
    if (yz_vec_generate_ex(&v, names[0], (const uint8_t *)"n", 1, 1,
                           k ? YZ_VEC_SHAPE_EMPTY_PROLOGUE
                             : YZ_VEC_SHAPE_DEFAULT,
                           k ? -1 : 2, err, sizeof err) != 0) {
      fprintf(stderr, "gen_corpus: %s\n", err);
      failures++;
      continue;
    }
    put_vector(&v);
  }
  static const char *const small[] = {
    "{\"vectors\": []}",
    "{\"vectors\": [{\"name\": \"Noise_NN_25519_ChaChaPoly_SHA256\", "
    "\"init_prologue\": \"\", \"resp_prologue\": \"\", \"messages\": []}]}",
  };
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
    put("vectors", small[i], strlen(small[i]));
}
#endif

/* ------------------------------------------------------------------------ */
#ifdef YZ_FUZZ_HAVE_SESSION
#include "yz/session.h"

/* One operation of fuzz_session: [op][dt16][len16][bytes]. */
static void sop(bb *b, uint8_t op, uint16_t dt, const void *p, size_t n)
{
  bb_u8(b, op);
  bb_u16(b, dt);
  bb_chunk(b, p, n);
}

static void gen_session(void)
{
  static const uint8_t ping[9] = {YZ_FRAME_PING, 0, 0, 0, 0, 0, 0, 0, 7};
  static const uint8_t pong[9] = {YZ_FRAME_PONG, 0, 0, 0, 0, 0, 0, 0, 1};
  static const uint8_t rekey[1] = {YZ_FRAME_REKEY};
  static const uint8_t data[3] = {YZ_FRAME_DATA, 'h', 'i'};
  static const uint8_t close_[7] = {YZ_FRAME_CLOSE, 0x10, 0x00, 'b', 'y', 'e',
                                    '!'};
  uint8_t first[64], frag[64];
  memset(first, 'a', sizeof first);
  first[0] = YZ_FRAME_FRAG_FIRST; /* total 100: 59 bytes here */
  first[1] = 0, first[2] = 0, first[3] = 0, first[4] = 100;
  memset(frag, 'b', sizeof frag);

  if (wanted("session")) {
    for (uint8_t config = 0; config < 2; config++) {
      bb b = {.n = 0};
      bb_u8(&b, config);
      sop(&b, 3, 10, "hello victim", 12);
      sop(&b, 4, 10, "hello peer", 10);
      sop(&b, 2, 16000, "", 0); /* keepalive ping */
      sop(&b, 0, 1, data, sizeof data);
      sop(&b, 0, 1, ping, sizeof ping);
      sop(&b, 0 | 8, 1, rekey, sizeof rekey);
      sop(&b, 0, 1, data, sizeof data);
      sop(&b, 7, 1, "", 0); /* replay */
      put("session", b.buf, b.n);
    }
    /* Fragmentation both ways: 4096 bytes * 2^5 = 128 KiB. */
    for (uint8_t config = 0; config < 4; config++) {
      bb b = {.n = 0};
      bb_u8(&b, (uint8_t)(config | (config & 2 ? 8 : 0)));
      uint8_t chunk[4096];
      for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (uint8_t)(i * 7);
      sop(&b, 3 | (5 << 4), 5, chunk, sizeof chunk);
      sop(&b, 4 | (5 << 4), 5, chunk, sizeof chunk);
      sop(&b, 3 | (4 << 4), 5, chunk, 100);
      sop(&b, 5, 5, "\x10\x01done", 6);
      put("session", b.buf, b.n);
    }
    /* Forged fragments, a forged pong and close. */
    {
      bb b = {.n = 0};
      bb_u8(&b, 2); /* max_message 70000 */
      sop(&b, 0, 1, first, 60);
      sop(&b, 0, 1, (uint8_t[]){YZ_FRAME_FRAG_MIDDLE, 'b', 'b'}, 3);
      frag[0] = YZ_FRAME_FRAG_LAST;
      sop(&b, 0, 1, frag, 40);
      sop(&b, 0, 1, pong, sizeof pong);
      sop(&b, 0, 1, close_, sizeof close_);
      put("session", b.buf, b.n);
    }
    /* Rekey every 3 messages and a nonce limit of 40: many small sends. */
    {
      bb b = {.n = 0};
      bb_u8(&b, 8 | 16 | 32);
      for (int i = 0; i < 24; i++)
        sop(&b, (uint8_t)(i & 1 ? 3 : 4), 100, "x", 1);
      put("session", b.buf, b.n);
    }
    /* Timeouts: pings unanswered? (the peer answers), long idle. */
    {
      bb b = {.n = 0};
      bb_u8(&b, 64);
      for (int i = 0; i < 6; i++)
        sop(&b, 2, 60000, "", 0);
      sop(&b, 6, 1, "\x00\x01bye", 5);
      put("session", b.buf, b.n);
    }
  }
  if (wanted("session_handshake")) {
    for (uint8_t config = 0; config < 16; config++) {
      bb b = {.n = 0};
      bb_u8(&b, config);
      bb_u8(&b, 0);
      bb_chunk(&b, "", 0);
      bb_u8(&b, 0);
      bb_chunk(&b, "", 0);
      put("session_handshake", b.buf, b.n);
    }
    /* A forged proof in the victim's last read: an empty CBOR map. */
    for (uint8_t config = 0; config < 2; config++) {
      bb b = {.n = 0};
      bb_u8(&b, config);
      if (!config) {
        bb_u8(&b, 0);
        bb_chunk(&b, "", 0);
      }
      bb_u8(&b, 1);
      bb_chunk(&b, "\xa0", 1);
      put("session_handshake", b.buf, b.n);
    }
  }
  if (wanted("session_cookie")) {
    /* message 1 without and with a cookie, a COOKIE_REPLY, a MAC, a
     * round trip (fuzz/fuzz_session_cookie.c) */
    uint8_t m1[1 + YZ_SESSION_MSG1_COOKIE_LEN];
    m1[0] = 0;
    for (size_t i = 0; i < YZ_SESSION_MSG1_LEN; i++)
      m1[1 + i] = (uint8_t)(0x40 + i);
    m1[1 + YZ_SESSION_MSG1_LEN] = YZ_SESSION_COOKIE_TYPE;
    memset(m1 + 2 + YZ_SESSION_MSG1_LEN, 0xc5, YZ_SESSION_COOKIE_LEN);
    put("session_cookie", m1, 1 + YZ_SESSION_MSG1_LEN);
    put("session_cookie", m1, sizeof m1);
    uint8_t cookie[YZ_SESSION_COOKIE_LEN], r[1 + YZ_SESSION_COOKIE_REPLY_LEN];
    memset(cookie, 0x3c, sizeof cookie);
    r[0] = 1;
    (void)yz_session_cookie_reply_encode(r + 1, cookie);
    put("session_cookie", r, sizeof r);
    uint8_t mac[1 + 32 + 1 + 8 + 32 + 16];
    memset(mac, 0x11, sizeof mac);
    mac[0] = 2;
    mac[33] = 8;
    put("session_cookie", mac, sizeof mac);
    mac[33] = 4;
    put("session_cookie", mac, sizeof mac - 4);
    r[0] = 3;
    put("session_cookie", r, 1 + YZ_SESSION_COOKIE_LEN);
  }
  if (wanted("session_frame")) {
    const struct {
      const uint8_t *p;
      size_t n;
    } t[] = {{ping, sizeof ping}, {pong, sizeof pong}, {rekey, 1},
             {data, sizeof data}, {close_, sizeof close_}, {first, 60},
             {frag, 10}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      bb b = {.n = 0};
      bb_u8(&b, (uint8_t)i);
      bb_mem(&b, t[i].p, t[i].n);
      put("session_frame", b.buf, b.n);
    }
  }
}
#endif

/* DHT messages (fuzz/fuzz_dht_msg.c): one of each type, with real node
 * records as contacts and a small CBOR map standing in for a DHT record. */
#ifdef YZ_FUZZ_HAVE_WIRE
#include "yz/dht_wire.h"

static void gen_dht_msg(void)
{
  if (!wanted("dht_msg"))
    return;
  uint8_t recs[2][YZ_RECORD_MAX_LEN];
  size_t rlen[2];
  for (int i = 0; i < 2; i++) {
    yz_identity id;
    uint8_t seed[32];
    fuzz_key(seed, (uint8_t)(70 + i));
    yz_record r;
    memset(&r, 0, sizeof r);
    r.seq = 1;
    r.expiry = 1800000000u;
    r.node_type = YZ_WIRE_NODE_COMMUNITY;
    if (yz_identity_from_seed(&id, seed) != 0 ||
        yz_record_set_network(&r, "yz-fuzz") != 0 ||
        yz_record_add_address(&r, "ws://192.0.2.7:7700/", 1, NULL) != 0 ||
        yz_record_sign(&r, &id, NULL) != 0 ||
        yz_record_encode(&r, recs[i], sizeof recs[i], &rlen[i]) != 0) {
      failures++;
      return;
    }
    yz_identity_clear(&id);
  }
  static const uint8_t value[] = {0xa1, 0x01, 0x45, 'h', 'e', 'l', 'l', 'o'};
  const yz_dht_bytes c0 = {recs[0], rlen[0]}, c1 = {recs[1], rlen[1]};
  const yz_dht_bytes rec = {value, sizeof value};
  static const yz_dht_msg_type types[] = {
      YZ_DHT_FIND_NODE, YZ_DHT_GET, YZ_DHT_PUT, YZ_DHT_PROVIDE,
      YZ_DHT_GET_PROVIDERS, YZ_DHT_FIND_NODE_RESP, YZ_DHT_GET_RESP,
      YZ_DHT_GET_PROVIDERS_RESP, YZ_DHT_STATUS, YZ_DHT_STATUS,
      YZ_DHT_HELLO, YZ_DHT_HELLO, YZ_DHT_HELLO_RESP, YZ_DHT_PUT};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    static yz_dht_msg m;
    yz_dht_msg_init(&m, types[t]);
    memset(m.target, (int)(0x10 + t), sizeof m.target);
    m.client_only = t == 0;
    switch (types[t]) {
    case YZ_DHT_GET:
      m.has_seq = true;
      m.seq = 4;
      break;
    case YZ_DHT_PUT: /* with cas, or (the last one) with spread */
      m.has_record = true;
      m.record = rec;
      m.has_cas = t == 2;
      m.cas = 3;
      m.spread = t != 2;
      break;
    case YZ_DHT_PROVIDE:
      m.provider = c0;
      break;
    case YZ_DHT_HELLO: /* the sender's record, or client-only */
      if (t == 10)
        m.provider = c1;
      else
        m.client_only = true;
      break;
    case YZ_DHT_HELLO_RESP:
      m.provider = c0;
      break;
    case YZ_DHT_GET_RESP:
      m.has_record = true;
      m.record = rec;
      /* fall through */
    case YZ_DHT_FIND_NODE_RESP:
      m.closer[m.n_closer++] = c0;
      m.closer[m.n_closer++] = c1;
      break;
    case YZ_DHT_GET_PROVIDERS_RESP:
      m.providers[m.n_providers++] = c1;
      m.closer[m.n_closer++] = c0;
      break;
    case YZ_DHT_STATUS:
      m.status = t == 8 ? YZ_DHT_OK : YZ_DHT_ST_SEQ_TOO_LOW;
      if (t == 9) {
        m.has_seq = true;
        m.seq = 9;
        memcpy(m.reason, "seq too low", 11);
        m.reason_len = 11;
      }
      break;
    default:
      break;
    }
    static uint8_t enc[8192];
    size_t n;
    if (yz_dht_msg_encode(&m, NULL, enc, sizeof enc, &n, NULL) != 0) {
      failures++;
      continue;
    }
    put("dht_msg", enc, n);
  }
}
#endif

/* ------------------------------------------------------------------------ */
/* DHT records (fuzz/fuzz_dhtrec.c): immutable ones, and mutable ones signed
 * by the harness's key, so the seeds reach the signature check. */
#ifdef YZ_FUZZ_HAVE_WIRE
#include "yz/dhtrec.h"

static void gen_dhtrec(void)
{
  if (!wanted("dhtrec"))
    return;
  yz_identity id;
  uint8_t seed[32];
  fuzz_key(seed, 61);
  if (yz_identity_from_seed(&id, seed) != 0) {
    failures++;
    return;
  }
  static const uint8_t value[] = "a DHT value";
  static uint8_t enc[256];
  for (int w = 0; w < 4; w++) {
    yz_dhtrec r;
    memset(&r, 0, sizeof r);
    r.kind = w < 1 ? YZ_DHTREC_IMMUTABLE : YZ_DHTREC_MUTABLE;
    r.value = value;
    r.value_len = w == 3 ? 1 : sizeof value;
    r.expiry = w == 2 ? UINT64_MAX : 1800000000u;
    r.seq = w == 2 ? UINT64_MAX : (uint64_t)w;
    r.salt_len = (uint8_t)(w == 2 ? YZ_DHTREC_SALT_MAX : w == 3 ? 0 : 4);
    memset(r.salt, 's', r.salt_len);
    int rc = r.kind == YZ_DHTREC_MUTABLE ? yz_dhtrec_sign(&r, &id, NULL)
                                         : yz_dhtrec_derive_key(&r);
    size_t n;
    if (rc != 0 || yz_dhtrec_encode(&r, enc, sizeof enc, &n) != 0) {
      failures++;
      continue;
    }
    put("dhtrec", enc, n);
  }
  yz_identity_clear(&id);
}
#endif

/* ------------------------------------------------------------------------ */
/* A live DHT node fed requests (fuzz/fuzz_dht_node.c): sequences of (the
 * requester byte, a 16-bit length, a request body), with the harness's
 * fixed peers (fuzz_key labels 70..72, network "fuzz") and its clock
 * (Unix 1800000000 + about 1000 s). */
#ifdef YZ_FUZZ_HAVE_WIRE
static size_t dn_req(uint8_t *o, size_t at, uint8_t who, const yz_dht_msg *m)
{
  static uint8_t enc[4096];
  size_t n = 0;
  if (yz_dht_msg_encode(m, NULL, enc, sizeof enc, &n, NULL) != 0) {
    failures++;
    return at;
  }
  o[at++] = who;
  o[at++] = (uint8_t)(n >> 8);
  o[at++] = (uint8_t)n;
  memcpy(o + at, enc, n);
  return at + n;
}

static void gen_dht_node(void)
{
  if (!wanted("dht_node"))
    return;
  uint8_t rec[3][YZ_RECORD_MAX_LEN];
  size_t rlen[3];
  for (int i = 0; i < 3; i++) {
    uint8_t seed[32];
    fuzz_key(seed, (uint8_t)(70 + i));
    yz_identity id;
    yz_record r;
    memset(&r, 0, sizeof r);
    char url[64];
    snprintf(url, sizeof url, "ws://10.9.0.%d:7700/", i + 1);
    if (yz_identity_from_seed(&id, seed) != 0 ||
        yz_record_set_network(&r, "fuzz") != 0 ||
        yz_record_add_address(&r, url, YZ_WIRE_CLIENT_WS, NULL) != 0) {
      failures++;
      return;
    }
    r.seq = 1;
    r.expiry = 1800000000ull + 10ull * 365 * 86400;
    r.node_type = YZ_WIRE_NODE_COMMUNITY;
    if (yz_record_sign(&r, &id, NULL) != 0 ||
        yz_record_encode(&r, rec[i], sizeof rec[i], &rlen[i]) != 0) {
      failures++;
      return;
    }
    yz_identity_clear(&id);
  }
  yz_dhtrec v;
  memset(&v, 0, sizeof v);
  v.kind = YZ_DHTREC_IMMUTABLE;
  v.value = (const uint8_t *)"a value";
  v.value_len = 7;
  v.expiry = 1800000000ull + 24 * 3600;
  uint8_t venc[128], fkey[32];
  size_t vlen;
  if (yz_dhtrec_derive_key(&v) != 0 ||
      yz_dhtrec_encode(&v, venc, sizeof venc, &vlen) != 0) {
    failures++;
    return;
  }
  yz_dhtrec_immutable_key(fkey, (const uint8_t *)"fuzz", 4);
  static uint8_t o[16384];
  yz_dht_msg m;
  size_t n;
  /* each request type */
  yz_dht_msg_init(&m, YZ_DHT_FIND_NODE);
  memset(m.target, 0x42, 32);
  put("dht_node", o, dn_req(o, 0, 0, &m));
  yz_dht_msg_init(&m, YZ_DHT_GET);
  memcpy(m.target, fkey, 32);
  put("dht_node", o, dn_req(o, 0, 1, &m));
  /* a PUT, then a GET of it from a client-only stranger */
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, v.key, 32);
  m.has_record = true;
  m.record = (yz_dht_bytes){venc, vlen};
  n = dn_req(o, 0, 2, &m);
  yz_dht_msg_init(&m, YZ_DHT_GET);
  memcpy(m.target, v.key, 32);
  m.client_only = true;
  put("dht_node", o, dn_req(o, n, 3, &m));
  /* a PUT with spread, twice (the second one is the record held) */
  yz_dht_msg_init(&m, YZ_DHT_PUT);
  memcpy(m.target, v.key, 32);
  m.has_record = true;
  m.record = (yz_dht_bytes){venc, vlen};
  m.spread = true;
  n = dn_req(o, 0, 2, &m);
  put("dht_node", o, dn_req(o, n, 1, &m));
  /* a PROVIDE of the requester's own record, then GET_PROVIDERS */
  yz_dht_msg_init(&m, YZ_DHT_PROVIDE);
  memset(m.target, 0x77, 32);
  m.provider = (yz_dht_bytes){rec[0], rlen[0]};
  n = dn_req(o, 0, 0, &m);
  yz_dht_msg_init(&m, YZ_DHT_GET_PROVIDERS);
  memset(m.target, 0x77, 32);
  put("dht_node", o, dn_req(o, n, 1, &m));
  /* a PROVIDE of someone else's record: refused */
  yz_dht_msg_init(&m, YZ_DHT_PROVIDE);
  memset(m.target, 0x77, 32);
  m.provider = (yz_dht_bytes){rec[0], rlen[0]};
  put("dht_node", o, dn_req(o, 0, 2, &m));
  /* HELLO from a server (a dial back starts) and from a client */
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.provider = (yz_dht_bytes){rec[2], rlen[2]};
  put("dht_node", o, dn_req(o, 0, 2, &m));
  yz_dht_msg_init(&m, YZ_DHT_HELLO);
  m.client_only = true;
  put("dht_node", o, dn_req(o, 0, 3, &m));
  /* a response sent as a request, and garbage */
  yz_dht_msg_init(&m, YZ_DHT_STATUS);
  put("dht_node", o, dn_req(o, 0, 1, &m));
  static const uint8_t junk[] = {0, 0, 3, 0xa1, 0x01, 0x07};
  put("dht_node", junk, sizeof junk);
}
#endif

/* PubSub RPCs (fuzz/fuzz_pubsub_rpc.c): a signed message, subscriptions,
 * every control message, a PRUNE with peer exchange. */
#ifdef YZ_FUZZ_HAVE_WIRE
#include "yz/pubsub_wire.h"

static void gen_pubsub_rpc(void)
{
  if (!wanted("pubsub_rpc"))
    return;
  yz_identity id;
  uint8_t seed[32];
  fuzz_key(seed, 81);
  if (yz_identity_from_seed(&id, seed) != 0) {
    failures++;
    return;
  }
  static uint8_t t[4][32];
  for (int i = 0; i < 4; i++)
    memset(t[i], 0x30 + i, 32);
  static const uint8_t rec[] = {0xa1, 0x01, 0x02};
  const yz_ps_bytes px = {rec, sizeof rec};
  static yz_ps_rpc r;
  static uint8_t enc[4096];
  for (int w = 0; w < 5; w++) {
    yz_ps_rpc_init(&r);
    switch (w) {
    case 0:
      r.subscribe = (yz_ps_list){t[0], 2, 0};
      r.unsubscribe = (yz_ps_list){t[2], 1, 0};
      break;
    case 1:
      r.n_publish = 1;
      if (yz_ps_topic_hash(r.publish[0].topic, "news", 4) != 0) {
        failures++;
        continue;
      }
      r.publish[0].seq = 1;
      r.publish[0].expiry = 1800000060u;
      r.publish[0].data = (const uint8_t *)"hello";
      r.publish[0].data_len = 5;
      if (yz_ps_msg_sign(&r.publish[0], &id, NULL) != 0) {
        failures++;
        continue;
      }
      break;
    case 2:
      r.graft = (yz_ps_list){t[0], 3, 0};
      r.n_prune = 1;
      r.prune[0] = (yz_ps_prune){t[3], 60, &px, 1};
      break;
    case 3:
      r.n_ihave = 2;
      r.ihave[0] = (yz_ps_ihave){t[0], {t[1], 3, 0}};
      r.ihave[1] = (yz_ps_ihave){t[1], {t[2], 1, 0}};
      break;
    default:
      r.iwant = (yz_ps_list){t[0], 2, 0};
      r.idontwant = (yz_ps_list){t[2], 2, 0};
      break;
    }
    size_t n;
    if (yz_ps_rpc_encode(&r, NULL, enc, sizeof enc, &n, NULL) != 0) {
      failures++;
      continue;
    }
    put("pubsub_rpc", enc, n);
  }
  yz_identity_clear(&id);
}

/* The router target (fuzz/fuzz_pubsub_router.c): steps of an opcode, a
 * peer and operands; RPCs from the peers as chunks (16-bit length). */
static void router_rpc(bb *b, uint8_t peer, const yz_ps_rpc *r)
{
  static uint8_t enc[4096];
  size_t n;
  if (yz_ps_rpc_encode(r, NULL, enc, sizeof enc, &n, NULL) != 0) {
    failures++;
    return;
  }
  bb_u8(b, 0), bb_u8(b, peer), bb_chunk(b, enc, n);
}

static void gen_pubsub_router(void)
{
  if (!wanted("pubsub_router"))
    return;
  static uint8_t t[2][32], ids[3][32];
  memset(t[0], 0x11, 32); /* the harness's topics */
  memset(t[1], 0x22, 32);
  for (int i = 0; i < 3; i++)
    memset(ids[i], 0x40 + i, 32);
  static yz_ps_rpc r;
  static bb b;
  for (int w = 0; w < 3; w++) {
    b.n = 0;
    for (uint8_t p = 0; p < 4; p++) {
      yz_ps_rpc_init(&r);
      r.subscribe = (yz_ps_list){t[0], 2, 0};
      r.graft = (yz_ps_list){t[0], w == 2 ? 2 : 1, 0};
      router_rpc(&b, p, &r);
    }
    bb_u8(&b, 2), bb_u8(&b, 0), bb_u8(&b, 30); /* publish */
    bb_u8(&b, 1), bb_u8(&b, 0), bb_u8(&b, 10); /* heartbeat, 1 s */
    yz_ps_rpc_init(&r);
    if (w == 0) {
      r.n_ihave = 1;
      r.ihave[0] = (yz_ps_ihave){t[0], {ids[0], 3, 0}};
    } else if (w == 1) {
      r.iwant = (yz_ps_list){ids[0], 2, 0};
      r.idontwant = (yz_ps_list){ids[1], 2, 0};
    } else {
      r.n_prune = 1;
      r.prune[0] = (yz_ps_prune){t[1], 60, NULL, 0};
    }
    router_rpc(&b, 1, &r);
    bb_u8(&b, 1), bb_u8(&b, 0), bb_u8(&b, 40); /* heartbeat, 4 s */
    bb_u8(&b, 3), bb_u8(&b, (uint8_t)(2 + w % 2)); /* unsubscribe */
    bb_u8(&b, 4), bb_u8(&b, 2);                    /* peer 2 leaves */
    put("pubsub_router", b.buf, b.n);
  }
}

/* The node target (fuzz/fuzz_pubsub_node.c): steps of an opcode and its
 * operands; RPCs from the peers as chunks, a message signed for the
 * harness's topic "fuzz-a" (expiry a minute after its clock), heartbeats,
 * own publishes, and one RPC that does not decode. */
static void gen_pubsub_node(void)
{
  if (!wanted("pubsub_node"))
    return;
  yz_identity id;
  uint8_t seed[32];
  fuzz_key(seed, 82);
  if (yz_identity_from_seed(&id, seed) != 0) {
    failures++;
    return;
  }
  static uint8_t ta[32], tb[32];
  if (yz_ps_topic_hash(ta, "fuzz-a", 6) != 0 ||
      yz_ps_topic_hash(tb, "fuzz-b", 6) != 0) {
    failures++;
    return;
  }
  /* the two topics as one sorted set */
  static uint8_t both[64];
  const bool a_first = memcmp(ta, tb, 32) < 0;
  memcpy(both, a_first ? ta : tb, 32);
  memcpy(both + 32, a_first ? tb : ta, 32);
  static yz_ps_rpc r;
  static bb b;
  for (int w = 0; w < 3; w++) {
    b.n = 0;
    for (uint8_t p = 0; p < 3; p++) {
      yz_ps_rpc_init(&r);
      r.subscribe = (yz_ps_list){both, 2, 0};
      if (w > 0)
        r.graft = (yz_ps_list){both, 1, 0};
      router_rpc(&b, p, &r);
    }
    bb_u8(&b, 1), bb_u8(&b, 10); /* heartbeat, 1 s */
    yz_ps_rpc_init(&r);
    r.n_publish = 1;
    memcpy(r.publish[0].topic, ta, 32);
    r.publish[0].seq = (uint64_t)w + 1;
    /* the harness's clock: Unix 1800000000000 ms + 1000000 ms */
    r.publish[0].expiry = 1800001000u + 60u;
    r.publish[0].data = (const uint8_t *)"hello";
    r.publish[0].data_len = 5;
    if (yz_ps_msg_sign(&r.publish[0], &id, NULL) != 0) {
      failures++;
      break;
    }
    router_rpc(&b, (uint8_t)(w % 3), &r);
    router_rpc(&b, (uint8_t)((w + 1) % 3), &r); /* a duplicate */
    bb_u8(&b, 2), bb_u8(&b, (uint8_t)w), bb_chunk(&b, "own", 3);
    static const uint8_t junk[] = {0xa1, 0x01, 0x07};
    bb_u8(&b, 0), bb_u8(&b, 2), bb_chunk(&b, junk, sizeof junk);
    bb_u8(&b, 1), bb_u8(&b, 40); /* heartbeat, 4 s */
    put("pubsub_node", b.buf, b.n);
  }
  yz_identity_clear(&id);
}
#endif

#ifdef YZ_FUZZ_HAVE_LINK
/* The native WebSocket backend's parsers: upgrade heads (mode byte: 0
 * request, 1 response) and byte streams of frames (mode byte: bit 0 the
 * server receives, the rest the read size). */
#include "link/http1.h"
#include "link/wsframe.h"

static void put_mode(const char *target, uint8_t mode, const void *p,
                     size_t n)
{
  static bb b;
  b.n = 0;
  bb_u8(&b, mode);
  bb_mem(&b, p, n);
  put(target, b.buf, b.n);
}

static void gen_link(void)
{
  if (wanted("http1")) {
    static const char *const reqs[] = {
      "GET / HTTP/1.1\r\nHost: 127.0.0.1:7700\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: yz.link.v1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
      put_mode("http1", 0, reqs[i], strlen(reqs[i]));
    static const char *const resps[] = {
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: yz.link.v1"
      "\r\n\r\n",
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof resps / sizeof resps[0]; i++)
      put_mode("http1", 1, resps[i], strlen(resps[i]));
  }
  if (wanted("wsframe")) {
    static const uint8_t mask[4] = {1, 2, 3, 4};
    static bb s;
    uint8_t pay[300];
    for (size_t i = 0; i < sizeof pay; i++)
      pay[i] = (uint8_t)i;
    for (int side = 0; side < 2; side++) {
      const uint8_t *mk = side ? mask : NULL;
      s.n = 0;
      /* a binary message, a fragmented one with a ping inside, a close */
      s.n += yz__ws_write_header(s.buf + s.n, true, YZ__WS_OP_BINARY, 300, mk);
      bb_mem(&s, pay, 300);
      s.n += yz__ws_write_header(s.buf + s.n, false, YZ__WS_OP_BINARY, 5, mk);
      bb_mem(&s, pay, 5);
      s.n += yz__ws_write_header(s.buf + s.n, true, YZ__WS_OP_PING, 2, mk);
      bb_mem(&s, pay, 2);
      s.n += yz__ws_write_header(s.buf + s.n, true, YZ__WS_OP_CONT, 7, mk);
      bb_mem(&s, pay, 7);
      s.n += yz__ws_write_header(s.buf + s.n, true, YZ__WS_OP_CLOSE, 2, mk);
      bb_u8(&s, 0x03);
      bb_u8(&s, 0xe8);
      put_mode("wsframe", (uint8_t)(side | (7u << 1)), s.buf, s.n);
      put_mode("wsframe", (uint8_t)(side | (127u << 1)), s.buf, s.n);
    }
  }
}
#endif

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    printf("usage: gen_corpus OUTDIR [TARGET...]\n"
           "Writes seed inputs for the fuzz targets into OUTDIR/<target>/.\n");
    return argc < 2 ? 2 : 0;
  }
  if (sodium_init() < 0)
    return 1;
  outdir = argv[1];
  n_args = argc - 2;
  args = argv + 2;
  if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "gen_corpus: %s: %s\n", outdir, strerror(errno));
    return 1;
  }
#ifdef YZ_FUZZ_HAVE_NOISE
  gen_noise();
#endif
#ifdef YZ_FUZZ_HAVE_NODE
  gen_reqtable();
  gen_node_frame();
#endif
#ifdef YZ_FUZZ_HAVE_IDENTITY
  gen_identity();
#endif
#ifdef YZ_FUZZ_HAVE_WIRE
  gen_wire();
  gen_node_record();
  gen_dht_msg();
  gen_dhtrec();
  gen_dht_node();
#endif
#ifdef YZ_FUZZ_HAVE_WIRE
  gen_pubsub_rpc();
  gen_pubsub_router();
  gen_pubsub_node();
#endif
#ifdef YZ_FUZZ_HAVE_VECTORS
  gen_vectors();
#endif
#ifdef YZ_FUZZ_HAVE_SESSION
  gen_session();
#endif
#ifdef YZ_FUZZ_HAVE_LINK
  gen_link();
#endif
  printf("gen_corpus: %u files written to %s\n", counter, outdir);
  return failures ? 1 : 0;
}
