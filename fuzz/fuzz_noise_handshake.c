/*
 * Fuzz target: the noise layer reading handshake messages, as responder and
 * as initiator, over several patterns.
 *
 * The harness plays both sides with fixed keys: an honest party and the
 * victim. Whenever the victim has to read, the input decides what it gets:
 * the honest party's next message (with a payload the input chooses), raw
 * input bytes, the honest message with input bytes XORed in, or the honest
 * message cut or extended. So the fuzzer gets past message 1 and 2 and
 * reaches the later tokens (s, se, psk) and the payload decryption.
 *
 * Input:  [proto index][flags] then, per handshake message,
 * [op][len16][bytes] (for a message the victim writes, bytes is its
 * payload and op is unused), then, after the handshake, [len16][bytes] per
 * transport message (four each way).
 * flags bit 0: the victim is the initiator (else the responder).
 *
 * Invariants checked (a violation aborts):
 * - while nothing was tampered with, the victim accepts every honest
 *   message and recovers its payload exactly;
 * - a failed read latches the FAILED action and fails again afterwards;
 * - after an untampered handshake both sides agree on the handshake hash
 *   and their transport keys interoperate in both directions.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/noise.h"

static const char *const protos[] = {
  "Noise_XX_25519_ChaChaPoly_BLAKE2b", /* the yz link protocol */
  "Noise_XX_25519_ChaChaPoly_SHA256",
  "Noise_IK_25519_ChaChaPoly_BLAKE2b",
  "Noise_NK_25519_ChaChaPoly_SHA256",
  "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
  "Noise_NNpsk0_25519_ChaChaPoly_SHA512",
  "Noise_KK_25519_ChaChaPoly_BLAKE2b",
  "Noise_IX_25519_AESGCM_SHA256",
  "Noise_NX_25519_ChaChaPoly_SHA512",
  "Noise_KN_25519_ChaChaPoly_SHA256",
  "Noise_X_25519_ChaChaPoly_BLAKE2b",
  "Noise_N_25519_ChaChaPoly_SHA256",
  "Noise_K_25519_ChaChaPoly_BLAKE2b",
  "Noise_I1K1_25519_ChaChaPoly_BLAKE2b",
  "Noise_X1X1_25519_ChaChaPoly_SHA256",
  "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b",
  "Noise_XXpsk0+psk3_25519_ChaChaPoly_SHA512",
  "Noise_NN_25519_ChaChaPoly_BLAKE2b",
};
#define N_PROTOS (sizeof protos / sizeof protos[0])

enum { BUF = YZ_NOISE_MAX_MSG_LEN + 64 };
static uint8_t msg[BUF], pay[BUF], pay2[BUF];

/* Which keys a pattern needs, from its name (section 7.4 and 7.5). */
typedef struct keyneeds {
  bool i_s, r_s;   /* local static keys */
  bool i_rs, r_rs; /* pre-message static keys known to the peer */
  int n_psk;
} keyneeds;

static void key_needs(const char *name, keyneeds *k)
{
  memset(k, 0, sizeof *k);
  const char *pat = name + strlen("Noise_");
  char letters[2] = {0, 0};
  int nl = 0;
  const char *q = pat;
  while (*q >= 'A' && *q <= 'Z' ? true : *q == '1') {
    if (*q != '1' && nl < 2)
      letters[nl++] = *q;
    q++;
  }
  for (const char *s = q; *s && *s != '_'; s++)
    if (strncmp(s, "psk", 3) == 0)
      k->n_psk++;
  if (nl == 1) { /* one-way: the responder's static is always pre-known */
    k->r_s = true;
    k->i_rs = true;
    k->i_s = letters[0] == 'K' || letters[0] == 'X';
    k->r_rs = letters[0] == 'K';
    return;
  }
  k->i_s = letters[0] == 'K' || letters[0] == 'X' || letters[0] == 'I';
  k->r_rs = letters[0] == 'K';
  k->r_s = letters[1] == 'K' || letters[1] == 'X';
  k->i_rs = letters[1] == 'K';
}

static bool setup(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                  yz_noise_role role, const keyneeds *k)
{
  static const uint8_t prologue[] = "yz fuzz prologue";
  uint8_t key[32], pub[32];
  bool ini = role == YZ_NOISE_INITIATOR;
  if (yz_noise_hs_init(hs, p, role, prologue, sizeof prologue - 1) != 0)
    return false;
  if (ini ? k->i_s : k->r_s) {
    fuzz_key(key, ini ? 1 : 2);
    if (yz_noise_hs_set_local_static(hs, key) != 0)
      return false;
  }
  fuzz_key(key, ini ? 3 : 4);
  if (yz_noise_hs_set_local_ephemeral(hs, key) != 0)
    return false;
  if (ini ? k->i_rs : k->r_rs) {
    fuzz_key(key, ini ? 2 : 1);
    if (yz_noise_dh_public(pub, key) != 0 ||
        yz_noise_hs_set_remote_static(hs, pub) != 0)
      return false;
  }
  for (int i = 0; i < k->n_psk; i++) {
    fuzz_key(key, (uint8_t)(10 + i));
    if (yz_noise_hs_add_psk(hs, key) != 0)
      return false;
  }
  return yz_noise_hs_start(hs) == 0;
}

/* Transport messages after an untampered handshake: each direction must
 * decrypt what the other encrypted; a tampered copy must be refused without
 * moving the nonce. */
static void transport(yz_noise_cipherstate *a_send,
                      yz_noise_cipherstate *v_recv, fuzz_in *in)
{
  const uint8_t *d;
  size_t n, clen, plen;
  for (int i = 0; i < 4 && fuzz_chunk(in, &d, &n); i++) {
    if (!yz_noise_cs_has_key(a_send) || !yz_noise_cs_has_key(v_recv))
      return;
    if (yz_noise_cs_encrypt_with_ad(a_send, NULL, 0, d, n, msg, BUF, &clen) !=
        0)
      return;
    FUZZ_CHECK(clen == n + YZ_NOISE_TAG_LEN);
    if (clen > 0 && (n & 1)) {
      uint64_t before = yz_noise_cs_nonce(v_recv);
      msg[n % clen] ^= 0x80;
      FUZZ_CHECK(yz_noise_cs_decrypt_with_ad(v_recv, NULL, 0, msg, clen, pay,
                                             BUF, &plen) != 0);
      FUZZ_CHECK(yz_noise_cs_nonce(v_recv) == before);
      msg[n % clen] ^= 0x80;
    }
    FUZZ_CHECK(yz_noise_cs_decrypt_with_ad(v_recv, NULL, 0, msg, clen, pay,
                                           BUF, &plen) == 0);
    FUZZ_CHECK(plen == n && memcmp(pay, d, n) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_in in = {data, size};
  const char *name = protos[fuzz_u8(&in) % N_PROTOS];
  uint8_t flags = fuzz_u8(&in);
  yz_noise_role vrole = (flags & 1) ? YZ_NOISE_INITIATOR : YZ_NOISE_RESPONDER;
  yz_noise_role arole =
      vrole == YZ_NOISE_INITIATOR ? YZ_NOISE_RESPONDER : YZ_NOISE_INITIATOR;

  yz_noise_protocol p;
  const char *reason = NULL;
  if (yz_noise_protocol_parse(&p, (const uint8_t *)name, strlen(name),
                              &reason) != 0)
    return 0; /* e.g. AESGCM without hardware support */

  keyneeds k;
  key_needs(name, &k);
  yz_noise_handshakestate a, v;
  memset(&a, 0, sizeof a);
  memset(&v, 0, sizeof v);
  FUZZ_CHECK(setup(&a, &p, arole, &k));
  FUZZ_CHECK(setup(&v, &p, vrole, &k));

  bool tampered = false, a_dead = false;
  for (int step = 0; step < 8; step++) {
    yz_noise_action va = yz_noise_hs_action(&v);
    if (va == YZ_NOISE_ACTION_SPLIT || va == YZ_NOISE_ACTION_FAILED)
      break;
    const uint8_t *d = NULL;
    size_t n = 0, mlen = 0, plen = 0;
    if (va == YZ_NOISE_ACTION_WRITE) {
      (void)fuzz_u8(&in); /* op: unused here, keeps the layout uniform */
      (void)fuzz_chunk(&in, &d, &n);
      int rc = yz_noise_hs_write_message(&v, d, n, msg, BUF, &mlen);
      if (rc != 0)
        break; /* e.g. a payload too large for one message */
      if (!a_dead) {
        rc = yz_noise_hs_read_message(&a, msg, mlen, pay, BUF, &plen);
        if (!tampered) {
          FUZZ_CHECK(rc == 0);
          FUZZ_CHECK(plen == n && (n == 0 || memcmp(pay, d, n) == 0));
        }
        if (rc != 0)
          a_dead = true;
      }
      continue;
    }
    FUZZ_CHECK(va == YZ_NOISE_ACTION_READ);
    uint8_t op = fuzz_u8(&in);
    (void)fuzz_chunk(&in, &d, &n);
    if (a_dead)
      op = 1;
    if ((op & 3) != 1) {
      FUZZ_CHECK(yz_noise_hs_action(&a) == YZ_NOISE_ACTION_WRITE);
      const uint8_t *ap = (op & 3) == 0 ? d : NULL;
      size_t apn = (op & 3) == 0 ? n : 0;
      if (yz_noise_hs_write_message(&a, ap, apn, msg, BUF, &mlen) != 0)
        break;
      if ((op & 3) == 2 && mlen > 0) { /* XOR the input in */
        size_t off = (op >> 2) % mlen;
        for (size_t i = 0; i < n && off + i < mlen; i++) {
          tampered |= d[i] != 0;
          msg[off + i] ^= d[i];
        }
      } else if ((op & 3) == 3) { /* cut, or extend with input bytes */
        size_t nl = (op & 4) ? (mlen > n ? mlen - n : 0) : mlen + n;
        if (nl > BUF)
          nl = BUF;
        if (nl > mlen)
          memcpy(msg + mlen, d, nl - mlen);
        tampered |= nl != mlen;
        mlen = nl;
      }
    } else {
      if (n > 0)
        memcpy(msg, d, n);
      mlen = n;
      tampered = true;
      a_dead = true;
    }
    int rc = yz_noise_hs_read_message(&v, msg, mlen, pay2, BUF, &plen);
    if (!tampered) {
      FUZZ_CHECK(rc == 0);
      if ((op & 3) == 0)
        FUZZ_CHECK(plen == n && (n == 0 || memcmp(pay2, d, n) == 0));
      else
        FUZZ_CHECK(plen == 0);
    }
    if (rc != 0) {
      FUZZ_CHECK(yz_noise_hs_action(&v) == YZ_NOISE_ACTION_FAILED);
      FUZZ_CHECK(yz_noise_hs_read_message(&v, msg, mlen, pay2, BUF, &plen) !=
                 0);
      break;
    }
  }

  if (yz_noise_hs_action(&v) == YZ_NOISE_ACTION_SPLIT && !tampered &&
      yz_noise_hs_action(&a) == YZ_NOISE_ACTION_SPLIT) {
    uint8_t ha[YZ_NOISE_MAX_HASH_LEN], hv[YZ_NOISE_MAX_HASH_LEN];
    size_t la = yz_noise_hs_get_handshake_hash(&a, ha);
    size_t lv = yz_noise_hs_get_handshake_hash(&v, hv);
    FUZZ_CHECK(la == lv && memcmp(ha, hv, la) == 0);
    yz_noise_cipherstate as, ar, vs, vr;
    FUZZ_CHECK(yz_noise_hs_split(&a, &as, &ar) == 0);
    FUZZ_CHECK(yz_noise_hs_split(&v, &vs, &vr) == 0);
    transport(&as, &vr, &in);
    transport(&vs, &ar, &in);
    yz_noise_cs_clear(&as);
    yz_noise_cs_clear(&ar);
    yz_noise_cs_clear(&vs);
    yz_noise_cs_clear(&vr);
  }
  yz_noise_hs_clear(&a);
  yz_noise_hs_clear(&v);
  return 0;
}
