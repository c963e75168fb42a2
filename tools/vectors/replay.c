/*
 * Replaying and generating Noise test vectors with yz's noise layer.
 *
 * Both parties run in this process. A conversation is the handshake (the
 * HandshakeStates say who writes next) and then transport messages: the
 * spec's Split() gives c1 for initiator-to-responder and c2 for the other
 * way (section 5.2); yz_noise_hs_split() hands each side its send and
 * receive CipherState. In the vector format message i is the initiator's
 * when i is even, and every message is the initiator's in one-way
 * patterns (section 7.4). The same loop records ciphertexts when
 * generating, so generation and replay cannot disagree about the order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "vectors.h"

static void failf(yz_vec_result *r, int message, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failf(yz_vec_result *r, int message, const char *fmt, ...)
{
  va_list ap;
  r->outcome = YZ_VEC_FAILED;
  r->message = message;
  va_start(ap, fmt);
  vsnprintf(r->detail, sizeof r->detail, fmt, ap);
  va_end(ap);
}

/* Keys in these vectors must be X25519 keys. */
static bool key_ok(yz_vec_result *r, const char *field, const yz_vec_key *k)
{
  if (k->present && k->len != YZ_NOISE_DH_LEN) {
    failf(r, -1, "%s: %u bytes, expected %d", field, k->len,
          YZ_NOISE_DH_LEN);
    return false;
  }
  return true;
}

/* The keys and psks of one party. */
struct party {
  yz_noise_role role;
  const yz_vec_bytes *prologue;
  const yz_vec_key *s, *e, *rs;
  const uint8_t *re; /* fallback: the peer's ephemeral public key */
  const uint8_t (*psks)[YZ_NOISE_PSK_LEN];
  size_t n_psks;
};

static bool setup(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                  const struct party *pa, yz_vec_result *r)
{
  const char *who = pa->role == YZ_NOISE_INITIATOR ? "initiator"
                                                   : "responder";
  int rc = yz_noise_hs_init(hs, p, pa->role, pa->prologue->data,
                            pa->prologue->len);
  if (rc != 0) {
    failf(r, -1, "%s: Initialize: %s", who, yz_strerror(rc));
    return false;
  }
  if (pa->s != NULL && pa->s->present &&
      (rc = yz_noise_hs_set_local_static(hs, pa->s->data)) != 0) {
    failf(r, -1, "%s: static key: %s", who, yz_strerror(rc));
    return false;
  }
  if (pa->e != NULL && pa->e->present &&
      (rc = yz_noise_hs_set_local_ephemeral(hs, pa->e->data)) != 0) {
    failf(r, -1, "%s: ephemeral key: %s", who, yz_strerror(rc));
    return false;
  }
  if (pa->rs != NULL && pa->rs->present &&
      (rc = yz_noise_hs_set_remote_static(hs, pa->rs->data)) != 0) {
    failf(r, -1, "%s: remote static key: %s", who, yz_strerror(rc));
    return false;
  }
  if (pa->re != NULL &&
      (rc = yz_noise_hs_set_remote_ephemeral(hs, pa->re)) != 0) {
    failf(r, -1, "%s: remote ephemeral key: %s", who, yz_strerror(rc));
    return false;
  }
  for (size_t i = 0; i < pa->n_psks; i++) {
    if ((rc = yz_noise_hs_add_psk(hs, pa->psks[i])) != 0) {
      failf(r, -1, "%s: psk %zu: %s", who, i, yz_strerror(rc));
      return false;
    }
  }
  if ((rc = yz_noise_hs_start(hs)) != 0) {
    failf(r, -1, "%s: Initialize (pre-messages): %s", who, yz_strerror(rc));
    return false;
  }
  return true;
}

/* Compare produced bytes with the vector's. */
static bool same(yz_vec_result *r, size_t i, const char *what,
                 const uint8_t *got, size_t gotlen, const yz_vec_bytes *want)
{
  if (gotlen != want->len) {
    failf(r, (int)i, "%s is %zu bytes, expected %zu", what, gotlen,
          want->len);
    return false;
  }
  for (size_t k = 0; k < gotlen; k++) {
    if (got[k] != want->data[k]) {
      failf(r, (int)i, "%s differs from byte %zu on", what, k);
      return false;
    }
  }
  return true;
}

/* dst becomes n fresh bytes (content unset; none when n is 0). */
static bool alloc_bytes(yz_vec_result *r, size_t i, yz_vec_bytes *dst,
                        size_t n)
{
  free(dst->data);
  dst->data = NULL;
  dst->len = 0;
  if (n == 0)
    return true;
  if ((dst->data = malloc(n)) == NULL) {
    failf(r, (int)i, "out of memory");
    return false;
  }
  dst->len = n;
  return true;
}

static bool record(yz_vec_result *r, size_t i, yz_vec_bytes *dst,
                   const uint8_t *p, size_t n)
{
  if (!alloc_bytes(r, i, dst, n))
    return false;
  if (n > 0)
    memcpy(dst->data, p, n);
  return true;
}

/*
 * One conversation from message `first` on. msgs holds the payloads (and,
 * when replaying, the expected ciphertexts); when rec is true the
 * ciphertexts and the handshake hash are written into v instead of being
 * compared, and exactly `transport` transport messages are made.
 */
struct conv {
  yz_vec_vector *v; /* written to only when rec */
  const yz_vec_vector *cv;
  bool rec;
  unsigned transport;
  bool oneway;
  size_t first;
  uint8_t *buf, *pt; /* YZ_NOISE_MAX_MSG_LEN each */
  /* Negative vectors: the message whose receiver must reject the vector's
   * ciphertext (-1: none), and whether it did. */
  long fail_at;
  bool rejected;
  /* Generation of YZ_VEC_SHAPE_MAX_HANDSHAKE: handshake payloads are sized
   * so that every handshake message is YZ_NOISE_MAX_MSG_LEN bytes, their
   * bytes derived from fill_key. */
  bool max_handshake;
  uint8_t fill_key[32];
};

/*
 * The message at fail_at of a negative vector: the receiver gets the
 * vector's ciphertext (not the writer's output, which is what the vector
 * would hold without its corruption) and must reject it. Returns false in
 * both cases: the conversation stops there; c->rejected tells which.
 */
static bool must_reject(struct conv *c, yz_vec_result *r, size_t i,
                        const char *rn, int rc)
{
  if (rc != 0) {
    c->rejected = true;
    failf(r, (int)i, "%s rejected message %zu: %s", rn, i, yz_strerror(rc));
  } else {
    failf(r, (int)i,
          "%s accepted message %zu, which the vector says must "
          "be rejected",
          rn, i);
  }
  return false;
}

/* A payload of n bytes for message i, from the fill key. */
static bool fill_payload(struct conv *c, yz_vec_result *r, size_t i, size_t n)
{
  yz_vec_bytes *dst = &c->v->messages[i].payload;
  if (!alloc_bytes(r, i, dst, n))
    return false;
  if (n == 0)
    return true;
  uint8_t k[randombytes_SEEDBYTES];
  uint8_t idx[8];
  for (size_t b = 0; b < 8; b++)
    idx[b] = (uint8_t)(i >> (8 * b));
  crypto_generichash(k, sizeof k, idx, sizeof idx, c->fill_key,
                     sizeof c->fill_key);
  randombytes_buf_deterministic(dst->data, n, k);
  return true;
}

static bool converse(struct conv *c, yz_noise_handshakestate *ini,
                     yz_noise_handshakestate *res, yz_vec_result *r)
{
  const yz_vec_vector *v = c->cv;
  size_t i = c->first;
  size_t len, ptlen;
  int rc;

  /* The handshake: whoever's action is WRITE writes. */
  while (yz_noise_hs_action(ini) != YZ_NOISE_ACTION_SPLIT ||
         yz_noise_hs_action(res) != YZ_NOISE_ACTION_SPLIT) {
    if (i >= v->n_messages) {
      failf(r, (int)i, "the vector ends before the handshake does");
      return false;
    }
    yz_noise_handshakestate *w, *rd;
    if (yz_noise_hs_action(ini) == YZ_NOISE_ACTION_WRITE) {
      w = ini;
      rd = res;
    } else if (yz_noise_hs_action(res) == YZ_NOISE_ACTION_WRITE) {
      w = res;
      rd = ini;
    } else {
      failf(r, (int)i, "neither side is to write (actions %d and %d)",
            (int)yz_noise_hs_action(ini), (int)yz_noise_hs_action(res));
      return false;
    }
    const char *wn = w == ini ? "initiator" : "responder";
    const char *rn = w == ini ? "responder" : "initiator";
    if (yz_noise_hs_action(rd) != YZ_NOISE_ACTION_READ) {
      failf(r, (int)i, "%s writes but %s is not reading", wn, rn);
      return false;
    }
    const yz_vec_message *m = &v->messages[i];
    if (c->fail_at >= 0 && (size_t)c->fail_at == i) {
      rc = yz_noise_hs_read_message(rd, m->ciphertext.data, m->ciphertext.len,
                                    c->pt, YZ_NOISE_MAX_MSG_LEN, &ptlen);
      return must_reject(c, r, i, rn, rc);
    }
    if (c->rec && c->max_handshake) {
      /* The overhead of this message (keys, tags) is what an empty payload
       * costs: measure it on a copy of the writer. */
      yz_noise_handshakestate probe = *w;
      rc = yz_noise_hs_write_message(&probe, NULL, 0, c->buf,
                                     YZ_NOISE_MAX_MSG_LEN, &len);
      yz_noise_hs_clear(&probe);
      if (rc != 0) {
        failf(r, (int)i, "%s WriteMessage: %s", wn, yz_strerror(rc));
        return false;
      }
      if (!fill_payload(c, r, i, YZ_NOISE_MAX_MSG_LEN - len))
        return false;
    }
    rc = yz_noise_hs_write_message(w, m->payload.data, m->payload.len,
                                   c->buf, YZ_NOISE_MAX_MSG_LEN, &len);
    if (rc != 0) {
      failf(r, (int)i, "%s WriteMessage: %s", wn, yz_strerror(rc));
      return false;
    }
    if (c->rec) {
      if (!record(r, i, &c->v->messages[i].ciphertext, c->buf, len))
        return false;
    } else if (!same(r, i, "handshake ciphertext", c->buf, len,
                     &m->ciphertext)) {
      return false;
    }
    rc = yz_noise_hs_read_message(rd, c->buf, len, c->pt,
                                  YZ_NOISE_MAX_MSG_LEN, &ptlen);
    if (rc != 0) {
      failf(r, (int)i, "%s ReadMessage: %s", rn, yz_strerror(rc));
      return false;
    }
    if (!same(r, i, "decrypted handshake payload", c->pt, ptlen, &m->payload))
      return false;
    i++;
  }

  /* The handshake hash: both sides agree, and match the vector. */
  uint8_t h1[YZ_NOISE_MAX_HASH_LEN], h2[YZ_NOISE_MAX_HASH_LEN];
  size_t hl1 = yz_noise_hs_get_handshake_hash(ini, h1);
  size_t hl2 = yz_noise_hs_get_handshake_hash(res, h2);
  if (hl1 != hl2 || memcmp(h1, h2, hl1) != 0) {
    failf(r, -1, "the two sides' handshake hashes differ");
    return false;
  }
  if (c->rec) {
    memcpy(c->v->handshake_hash.data, h1, hl1);
    c->v->handshake_hash.len = (uint8_t)hl1;
    c->v->handshake_hash.present = true;
  } else if (v->handshake_hash.present) {
    yz_vec_bytes want = {(uint8_t *)v->handshake_hash.data,
                         v->handshake_hash.len};
    if (!same(r, i > 0 ? i - 1 : 0, "handshake hash", h1, hl1, &want))
      return false;
  }

  yz_noise_cipherstate is, ir, rs, rr;
  bool ok = false;
  if ((rc = yz_noise_hs_split(ini, &is, &ir)) != 0) {
    failf(r, -1, "initiator Split: %s", yz_strerror(rc));
    return false;
  }
  if ((rc = yz_noise_hs_split(res, &rs, &rr)) != 0) {
    failf(r, -1, "responder Split: %s", yz_strerror(rc));
    yz_noise_cs_clear(&is);
    yz_noise_cs_clear(&ir);
    return false;
  }

  /* Transport messages; associated data is empty. */
  for (unsigned t = 0; c->rec ? t < c->transport : i < v->n_messages;
       t++, i++) {
    if (i >= v->n_messages) {
      failf(r, (int)i, "too few payloads to record");
      goto out;
    }
    bool by_ini = c->oneway || (i - c->first) % 2 == 0;
    /* In the vector format message i is the initiator's when i is even;
     * after a fallback the roles are the fallback's, and message `first`
     * is its initiator's. */
    yz_noise_cipherstate *send = by_ini ? &is : &rs;
    yz_noise_cipherstate *recv = by_ini ? &rr : &ir;
    const char *wn = by_ini ? "initiator" : "responder";
    const char *rn = by_ini ? "responder" : "initiator";
    const yz_vec_message *m = &v->messages[i];
    if (c->fail_at >= 0 && (size_t)c->fail_at == i) {
      rc = yz_noise_cs_decrypt_with_ad(recv, NULL, 0, m->ciphertext.data,
                                       m->ciphertext.len, c->pt,
                                       YZ_NOISE_MAX_MSG_LEN, &ptlen);
      (void)must_reject(c, r, i, rn, rc);
      goto out;
    }
    rc = yz_noise_cs_encrypt_with_ad(send, NULL, 0, m->payload.data,
                                     m->payload.len, c->buf,
                                     YZ_NOISE_MAX_MSG_LEN, &len);
    if (rc != 0) {
      failf(r, (int)i, "%s transport encrypt: %s", wn, yz_strerror(rc));
      goto out;
    }
    if (c->rec) {
      if (!record(r, i, &c->v->messages[i].ciphertext, c->buf, len))
        goto out;
    } else if (!same(r, i, "transport ciphertext", c->buf, len,
                     &m->ciphertext)) {
      goto out;
    }
    rc = yz_noise_cs_decrypt_with_ad(recv, NULL, 0, c->buf, len, c->pt,
                                     YZ_NOISE_MAX_MSG_LEN, &ptlen);
    if (rc != 0) {
      failf(r, (int)i, "%s transport decrypt: %s", rn, yz_strerror(rc));
      goto out;
    }
    if (!same(r, i, "decrypted transport payload", c->pt, ptlen,
              &m->payload))
      goto out;
  }
  if (c->rec) {
    /* Drop the payloads that were not used. */
    for (size_t k = i; k < c->v->n_messages; k++) {
      free(c->v->messages[k].payload.data);
      free(c->v->messages[k].ciphertext.data);
      memset(&c->v->messages[k], 0, sizeof c->v->messages[k]);
    }
    c->v->n_messages = i;
  }
  ok = true;
out:
  yz_noise_cs_clear(&is);
  yz_noise_cs_clear(&ir);
  yz_noise_cs_clear(&rs);
  yz_noise_cs_clear(&rr);
  return ok;
}

/*
 * The noise-c fallback vectors (Noise Pipes, spec section 10.2): Alice
 * (init_*) sends an IK message made with a wrong remote static; Bob
 * (resp_*) fails to read it and starts XXfallback as its initiator with
 * Alice's ephemeral from that message as the pre-message; Alice keeps her
 * ephemeral and becomes the responder.
 */
static bool run_fallback(struct conv *c, const yz_noise_protocol *fb,
                         const yz_noise_protocol *ik, yz_vec_result *r)
{
  const yz_vec_vector *v = c->cv;
  yz_noise_handshakestate alice, bob;
  bool ok = false;
  size_t len, ptlen;
  int rc;

  memset(&alice, 0, sizeof alice);
  memset(&bob, 0, sizeof bob);
  if (v->n_messages == 0) {
    failf(r, 0, "a fallback vector needs the initiator's first message");
    return false;
  }
  struct party a = {YZ_NOISE_INITIATOR, &v->init_prologue, &v->init_static,
                    &v->init_ephemeral, &v->init_remote_static, NULL,
                    v->init_psks, v->n_init_psks};
  struct party b = {YZ_NOISE_RESPONDER, &v->resp_prologue, &v->resp_static,
                    &v->resp_ephemeral, &v->resp_remote_static, NULL,
                    v->resp_psks, v->n_resp_psks};
  if (!setup(&alice, ik, &a, r) || !setup(&bob, ik, &b, r))
    goto out;
  const yz_vec_message *m = &v->messages[0];
  rc = yz_noise_hs_write_message(&alice, m->payload.data, m->payload.len,
                                 c->buf, YZ_NOISE_MAX_MSG_LEN, &len);
  if (rc != 0) {
    failf(r, 0, "initiator %s WriteMessage: %s", v->pattern,
          yz_strerror(rc));
    goto out;
  }
  if (!same(r, 0, "handshake ciphertext", c->buf, len, &m->ciphertext))
    goto out;
  if (len < YZ_NOISE_DH_LEN) {
    failf(r, 0, "the first message is shorter than an ephemeral key");
    goto out;
  }
  rc = yz_noise_hs_read_message(&bob, c->buf, len, c->pt,
                                YZ_NOISE_MAX_MSG_LEN, &ptlen);
  if (rc == 0) {
    failf(r, 0, "responder read the %s message: the fallback cannot start",
          v->pattern);
    goto out;
  }
  uint8_t re[YZ_NOISE_DH_LEN];
  memcpy(re, c->buf, sizeof re); /* the "e" token of the first message */
  yz_noise_hs_clear(&alice);
  yz_noise_hs_clear(&bob);

  struct party nb = {YZ_NOISE_INITIATOR, &v->resp_prologue, &v->resp_static,
                     &v->resp_ephemeral, NULL, re, v->resp_psks,
                     v->n_resp_psks};
  struct party na = {YZ_NOISE_RESPONDER, &v->init_prologue, &v->init_static,
                     &v->init_ephemeral, NULL, NULL, v->init_psks,
                     v->n_init_psks};
  if (!setup(&bob, fb, &nb, r) || !setup(&alice, fb, &na, r))
    goto out;
  c->first = 1;
  ok = converse(c, &bob, &alice, r);
out:
  yz_noise_hs_clear(&alice);
  yz_noise_hs_clear(&bob);
  return ok;
}

/* Replace the pattern field (between the first two '_') of name. */
static bool with_pattern(char *out, size_t cap, const char *name,
                         const char *pattern)
{
  const char *a = strchr(name, '_');
  const char *b = a != NULL ? strchr(a + 1, '_') : NULL;
  if (b == NULL)
    return false;
  int n = snprintf(out, cap, "%.*s%s%s", (int)(a + 1 - name), name, pattern,
                   b);
  return n > 0 && (size_t)n < cap;
}

static bool run(struct conv *c, yz_vec_result *r)
{
  const yz_vec_vector *v = c->cv;
  yz_noise_protocol p, ik;
  const char *reason = NULL;
  int rc = yz_noise_protocol_parse(&p, (const uint8_t *)v->name,
                                   strlen(v->name), &reason);
  if (rc == YZ_E_UNSUPPORTED) {
    r->outcome = YZ_VEC_SKIPPED;
    r->skip_reason = reason != NULL ? reason : "unsupported";
    return false;
  }
  if (rc != 0) {
    failf(r, -1, "protocol name: %s", reason != NULL ? reason
                                                      : yz_strerror(rc));
    return false;
  }
  if (v->obsolete_psk) {
    r->outcome = YZ_VEC_SKIPPED;
    r->skip_reason = "obsolete init_psk/resp_psk fields";
    return false;
  }
  if (!key_ok(r, "init_static", &v->init_static) ||
      !key_ok(r, "resp_static", &v->resp_static) ||
      !key_ok(r, "init_ephemeral", &v->init_ephemeral) ||
      !key_ok(r, "init_remote_static", &v->init_remote_static) ||
      !key_ok(r, "resp_remote_static", &v->resp_remote_static))
    return false;
  c->oneway = yz_noise_protocol_is_oneway(&p);
  /* snow gives resp_ephemeral even in one-way patterns: ignore it there. */
  if (!c->oneway && !key_ok(r, "resp_ephemeral", &v->resp_ephemeral))
    return false;

  if (v->fallback) {
    char name[YZ_VEC_MAX_NAME + 1];
    if (!with_pattern(name, sizeof name, v->name, v->pattern)) {
      failf(r, -1, "cannot form the %s protocol name", v->pattern);
      return false;
    }
    rc = yz_noise_protocol_parse(&ik, (const uint8_t *)name, strlen(name),
                                 &reason);
    if (rc == YZ_E_UNSUPPORTED) {
      r->outcome = YZ_VEC_SKIPPED;
      r->skip_reason = reason != NULL ? reason : "unsupported";
      return false;
    }
    if (rc != 0) {
      failf(r, -1, "protocol name %s: %s", name,
            reason != NULL ? reason : yz_strerror(rc));
      return false;
    }
    return run_fallback(c, &p, &ik, r);
  }

  yz_noise_handshakestate ini, res;
  memset(&ini, 0, sizeof ini);
  memset(&res, 0, sizeof res);
  struct party a = {YZ_NOISE_INITIATOR, &v->init_prologue, &v->init_static,
                    &v->init_ephemeral, &v->init_remote_static, NULL,
                    v->init_psks, v->n_init_psks};
  struct party b = {YZ_NOISE_RESPONDER, &v->resp_prologue, &v->resp_static,
                    c->oneway ? NULL : &v->resp_ephemeral,
                    &v->resp_remote_static, NULL, v->resp_psks,
                    v->n_resp_psks};
  bool ok = setup(&ini, &p, &a, r) && setup(&res, &p, &b, r) &&
            converse(c, &ini, &res, r);
  yz_noise_hs_clear(&ini);
  yz_noise_hs_clear(&res);
  return ok;
}

void yz_vec_replay(const yz_vec_vector *v, yz_vec_result *r)
{
  memset(r, 0, sizeof *r);
  r->outcome = YZ_VEC_PASSED;
  r->message = -1;
  struct conv c = {.cv = v, .fail_at = v->fail ? v->fail_at : -1};
  c.buf = malloc(YZ_NOISE_MAX_MSG_LEN);
  c.pt = malloc(YZ_NOISE_MAX_MSG_LEN);
  if (c.buf == NULL || c.pt == NULL) {
    failf(r, -1, "out of memory");
  } else {
    (void)run(&c, r); /* r says what happened */
  }
  free(c.buf);
  free(c.pt);
  if (r->outcome == YZ_VEC_SKIPPED)
    return;
  if (v->fail) {
    /* A negative vector passes only if the receiver rejected message
     * fail_at, and everything before it held: "some failure somewhere" is
     * not enough, or a vector whose corruption was undone, or that fails
     * for another reason (a wrong key, a wrong earlier message), would
     * still pass. */
    if (v->fail_at < 0) {
      failf(r, -1,
            "\"fail\": true without fail_at: which message must be "
            "rejected is not said");
    } else if (c.rejected) {
      r->outcome = YZ_VEC_PASSED;
      r->message = -1;
      r->detail[0] = '\0';
    } else if (r->outcome == YZ_VEC_PASSED) {
      failf(r, -1,
            "expected message %ld to be rejected, but the "
            "conversation ended first",
            v->fail_at);
    } else if (r->message != (int)v->fail_at) {
      char d[sizeof r->detail];
      memcpy(d, r->detail, sizeof d);
      failf(r, r->message,
            "failed before message %ld, which is to be "
            "rejected: %s",
            v->fail_at, d);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Generation                                                                */

/* BLAKE2b(label), keyed by the seed's own hash. */
static void derive(uint8_t *out, size_t n, const uint8_t key[32],
                   const char *name, const char *label, unsigned index)
{
  char l[YZ_VEC_MAX_NAME + 64];
  int len = snprintf(l, sizeof l, "yz vectors/%s/%s/%u", name, label, index);
  crypto_generichash(out, n, (const uint8_t *)l, (size_t)len, key, 32);
}

static void gen_key(yz_vec_key *k, const uint8_t key[32], const char *name,
                    const char *label)
{
  derive(k->data, YZ_NOISE_DH_LEN, key, name, label, 0);
  k->len = YZ_NOISE_DH_LEN;
  k->present = true;
}

static void gen_public(yz_vec_key *pub, const yz_vec_key *priv)
{
  crypto_scalarmult_base(pub->data, priv->data);
  pub->len = YZ_NOISE_DH_LEN;
  pub->present = true;
}

const char *yz_vec_shape_name(yz_vec_shape shape)
{
  static const char *const names[YZ_VEC_SHAPE_COUNT] = {
      "default", "empty-prologue", "long-prologue", "max-handshake",
      "max-transport"};
  return (unsigned)shape < YZ_VEC_SHAPE_COUNT ? names[shape] : NULL;
}

int yz_vec_generate(yz_vec_vector *v, const char *name, const uint8_t *seed,
                    size_t seedlen, unsigned transport, char *err,
                    size_t errcap)
{
  return yz_vec_generate_ex(v, name, seed, seedlen, transport,
                            YZ_VEC_SHAPE_DEFAULT, -1, err, errcap);
}

int yz_vec_generate_ex(yz_vec_vector *v, const char *name, const uint8_t *seed,
                       size_t seedlen, unsigned transport, yz_vec_shape shape,
                       long fail_at, char *err, size_t errcap)
{
  memset(v, 0, sizeof *v);
  v->fail_at = -1;
  if (yz_vec_shape_name(shape) == NULL)
    return yz__vec_error(err, errcap, YZ_E_INVAL, "unknown shape %d",
                         (int)shape);
  if (errcap > 0)
    err[0] = '\0';
  size_t nlen = strlen(name);
  yz_noise_protocol p;
  const char *reason = NULL;
  int rc = yz_noise_protocol_parse(&p, (const uint8_t *)name, nlen, &reason);
  if (rc != 0)
    return yz__vec_error(err, errcap, rc, "%s: %s", name,
                reason != NULL ? reason : yz_strerror(rc));
  if (transport > YZ_VEC_MAX_MESSAGES - 16)
    return yz__vec_error(err, errcap, YZ_E_RANGE, "at most %d transport messages",
                YZ_VEC_MAX_MESSAGES - 16);

  /* The pattern's letters say who has a static key and which statics are
   * pre-messages (section 7.4-7.6): the first letter is the initiator's
   * (N none, K known to the responder, X/I transmitted), the second the
   * responder's (N none, K known, X transmitted); one-way patterns have
   * one letter, the initiator's, and a responder static always known.
   * Deferred patterns add '1's; modifiers follow in lowercase. */
  const char *pat = strchr(name, '_') + 1;
  const char *pend = strchr(pat, '_');
  char letters[3] = {0};
  size_t nl = 0;
  unsigned n_psk = 0;
  for (const char *q = pat; q < pend; q++) {
    if (*q >= 'a' && *q <= 'z') {
      if (strncmp(q, "fallback", 8) == 0)
        return yz__vec_error(err, errcap, YZ_E_UNSUPPORTED,
                    "%s: fallback vectors are not generated", name);
      if (strncmp(q, "psk", 3) == 0 && (q == pat || q[-1] != 's'))
        n_psk++;
      continue;
    }
    if (*q >= 'A' && *q <= 'Z' && nl < 2 &&
        (q == pat || !(q[-1] >= 'a' && q[-1] <= 'z')))
      letters[nl++] = *q;
  }
  bool oneway = yz_noise_protocol_is_oneway(&p);
  if (nl != (oneway ? 1u : 2u))
    return yz__vec_error(err, errcap, YZ_E_PROTOCOL_NAME, "%s: unexpected pattern",
                name);
  char il = letters[0], rl = oneway ? 'K' : letters[1];

  uint8_t key[32];
  crypto_generichash(key, sizeof key, seed, seedlen, NULL, 0);

  int n_msgs = 16 + (int)transport;
  v->messages = calloc((size_t)n_msgs, sizeof *v->messages);
  /* The prologue: 16 bytes, or none, or a long one (its bytes derived like
   * the long payloads). */
  size_t plen_pro = shape == YZ_VEC_SHAPE_EMPTY_PROLOGUE ? 0
                    : shape == YZ_VEC_SHAPE_LONG_PROLOGUE
                        ? YZ_VEC_LONG_PROLOGUE
                        : 16;
  uint8_t fill[32];
  derive(fill, sizeof fill, key, name, "fill", (unsigned)shape);
  if (plen_pro > 0) {
    v->init_prologue.data = malloc(plen_pro);
    v->resp_prologue.data = malloc(plen_pro);
  }
  if (v->messages == NULL ||
      (plen_pro > 0 &&
       (v->init_prologue.data == NULL || v->resp_prologue.data == NULL))) {
    yz_vec_vector_clear(v);
    return yz__vec_error(err, errcap, YZ_E_NOMEM, "out of memory");
  }
  v->n_messages = (size_t)n_msgs;
  if (plen_pro == 16) {
    derive(v->init_prologue.data, 16, key, name, "prologue", 0);
  } else if (plen_pro > 0) {
    uint8_t k[randombytes_SEEDBYTES];
    derive(k, sizeof k, key, name, "prologue", (unsigned)shape);
    randombytes_buf_deterministic(v->init_prologue.data, plen_pro, k);
  }
  if (plen_pro > 0)
    memcpy(v->resp_prologue.data, v->init_prologue.data, plen_pro);
  v->init_prologue.len = v->resp_prologue.len = plen_pro;
  memcpy(v->name, name, nlen + 1);

  if (il != 'N')
    gen_key(&v->init_static, key, name, "init_static");
  if (rl != 'N')
    gen_key(&v->resp_static, key, name, "resp_static");
  gen_key(&v->init_ephemeral, key, name, "init_ephemeral");
  if (!oneway)
    gen_key(&v->resp_ephemeral, key, name, "resp_ephemeral");
  if (rl == 'K')
    gen_public(&v->init_remote_static, &v->resp_static);
  if (il == 'K')
    gen_public(&v->resp_remote_static, &v->init_static);
  for (unsigned i = 0; i < n_psk && i < YZ_VEC_MAX_PSKS; i++) {
    derive(v->init_psks[i], YZ_NOISE_PSK_LEN, key, name, "psk", i);
    memcpy(v->resp_psks[i], v->init_psks[i], YZ_NOISE_PSK_LEN);
  }
  v->n_init_psks = v->n_resp_psks = n_psk;

  /* Payloads of 0 to 48 bytes, so empty ones are covered too. */
  for (int i = 0; i < n_msgs; i++) {
    uint8_t lb[1], data[48];
    derive(lb, 1, key, name, "payload_len", (unsigned)i);
    size_t plen = lb[0] % 49;
    derive(data, sizeof data, key, name, "payload", (unsigned)i);
    if (plen > 0) {
      if ((v->messages[i].payload.data = malloc(plen)) == NULL) {
        yz_vec_vector_clear(v);
        return yz__vec_error(err, errcap, YZ_E_NOMEM, "out of memory");
      }
      memcpy(v->messages[i].payload.data, data, plen);
      v->messages[i].payload.len = plen;
    }
  }
  sodium_memzero(key, sizeof key);

  yz_vec_result r;
  memset(&r, 0, sizeof r);
  r.message = -1;
  struct conv c = {.v = v,
                   .cv = v,
                   .rec = true,
                   .transport = transport,
                   .fail_at = -1,
                   .max_handshake = shape == YZ_VEC_SHAPE_MAX_HANDSHAKE};
  memcpy(c.fill_key, fill, sizeof fill);
  c.buf = malloc(YZ_NOISE_MAX_MSG_LEN);
  c.pt = malloc(YZ_NOISE_MAX_MSG_LEN);
  bool ok = c.buf != NULL && c.pt != NULL && run(&c, &r);
  /* 65519-byte transport payloads: the largest a transport message holds
   * (65535 with the tag). They are set before the run, all of them; the
   * handshake messages keep the default payloads. Done as a second run so
   * the handshake's length is known. */
  if (ok && shape == YZ_VEC_SHAPE_MAX_TRANSPORT) {
    size_t hs_msgs = v->n_messages - transport;
    for (size_t i = hs_msgs; ok && i < v->n_messages; i++)
      ok = fill_payload(&c, &r, i, YZ_NOISE_MAX_MSG_LEN - YZ_NOISE_TAG_LEN);
    /* run again over the same, now final, payloads */
    size_t keep = v->n_messages;
    ok = ok && run(&c, &r);
    ok = ok && v->n_messages == keep;
  }
  sodium_memzero(c.fill_key, sizeof c.fill_key);
  sodium_memzero(fill, sizeof fill);
  free(c.buf);
  free(c.pt);
  if (ok && fail_at >= 0) {
    if ((size_t)fail_at >= v->n_messages) {
      size_t n = v->n_messages;
      yz_vec_vector_clear(v);
      return yz__vec_error(err, errcap, YZ_E_RANGE,
                           "%s: fail_at %ld: the vector has %zu messages",
                           name, fail_at, n);
    }
    /* One bit of message fail_at, chosen by the seed's hash. */
    yz_vec_bytes *ct = &v->messages[fail_at].ciphertext;
    uint8_t pick[8];
    crypto_generichash(pick, sizeof pick, seed, seedlen, NULL, 0);
    uint64_t bit = 0;
    for (size_t b = 0; b < sizeof pick; b++)
      bit = bit << 8 | pick[b];
    bit %= (uint64_t)ct->len * 8;
    ct->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    v->fail = true;
    v->fail_at = fail_at;
    /* Only authenticated messages can be rejected: a flipped bit in a
     * message without a tag (the first of XX: an ephemeral key and a
     * plaintext payload) is accepted there, so such a vector would not
     * hold. Replay it before handing it out. */
    yz_vec_replay(v, &r);
    if (r.outcome != YZ_VEC_PASSED) {
      int rc = yz__vec_error(err, errcap, YZ_E_STATE, "%s: fail_at %ld: %s",
                             name, fail_at, r.detail);
      yz_vec_vector_clear(v);
      return rc;
    }
  }
  if (!ok) {
    yz_vec_vector_clear(v);
    if (r.outcome == YZ_VEC_SKIPPED)
      return yz__vec_error(err, errcap, YZ_E_UNSUPPORTED, "%s: %s", name,
                  r.skip_reason);
    return yz__vec_error(err, errcap, YZ_E_STATE, "%s: %s (message %d)", name,
                r.detail[0] ? r.detail : "out of memory", r.message);
  }
  return 0;
}
