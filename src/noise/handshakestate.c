/*
 * HandshakeState (Noise spec section 5.3): Initialize, WriteMessage,
 * ReadMessage and Split over a pattern compiled by yz_noise_protocol_parse.
 *
 * Read it against the spec: every step carries its token as a comment. The
 * state says what may happen next and is checked before each operation;
 * any error latches FAILED and wipes the secrets. ReadMessage works on a
 * stack copy of the whole state and commits it only once the entire
 * message verified, so a forged message cannot leave a half-updated state.
 */
#include <string.h>

#include "noise/noise_internal.h"

enum {
  F_S = 1,      /* s: local static key pair */
  F_E = 2,      /* e: local ephemeral key pair */
  F_RS = 4,     /* rs: remote static public key */
  F_RE = 8,     /* re: remote ephemeral public key */
  F_SPLIT = 16, /* Split() done: ck and the keys are gone */
};

static bool is_psk(const yz_noise_handshakestate *hs)
{
  return (hs->proto.flags & YZ__PROTO_PSK) != 0;
}

/* 0 for the initiator's side, 1 for the responder's. */
static int my_side(const yz_noise_handshakestate *hs)
{
  return hs->role == YZ_NOISE_INITIATOR ? 0 : 1;
}

/* Wipe every secret and latch FAILED; returns rc for tail calls. */
static int fail(yz_noise_handshakestate *hs, int rc)
{
  sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
  yz_noise_cs_clear(&hs->ss.cs);
  sodium_memzero(hs->s_priv, sizeof hs->s_priv);
  sodium_memzero(hs->e_priv, sizeof hs->e_priv);
  sodium_memzero(hs->psks, sizeof hs->psks);
  hs->action = YZ_NOISE_ACTION_FAILED;
  return rc;
}

int yz_noise_hs_init(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                     yz_noise_role role, const uint8_t *prologue,
                     size_t prologue_len)
{
  if (!hs || !p || p->name_len == 0 || p->dh != YZ_NOISE_DH_25519 ||
      !p->cipher || !p->hash || (prologue_len && !prologue) ||
      (role != YZ_NOISE_INITIATOR && role != YZ_NOISE_RESPONDER))
    return YZ_E_INVAL;
  sodium_memzero(hs, sizeof *hs);
  hs->proto = *p;
  hs->role = (uint8_t)role;
  hs->action = YZ_NOISE_ACTION_NONE;
  /* InitializeSymmetric(protocol_name); MixHash(prologue) */
  yz_noise_ss_init(&hs->ss, p);
  yz_noise_ss_mix_hash(&hs->ss, prologue, prologue_len);
  return 0;
}

/* Whether side's pre-message holds token t. */
static bool pre_has(const yz_noise_handshakestate *hs, int side, int t)
{
  for (int i = 0; i < 3; i++)
    if (hs->proto.pre[side][i] == t)
      return true;
  return false;
}

int yz_noise_hs_set_local_static(yz_noise_handshakestate *hs,
                                 const uint8_t priv[YZ_NOISE_DH_LEN])
{
  if (!hs || !priv)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  memcpy(hs->s_priv, priv, YZ_NOISE_DH_LEN);
  if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0) {
    sodium_memzero(hs->s_priv, sizeof hs->s_priv);
    return YZ_E_INVAL;
  }
  hs->flags |= F_S;
  return 0;
}

int yz_noise_hs_set_local_static_keypair(yz_noise_handshakestate *hs,
                                         const uint8_t priv[YZ_NOISE_DH_LEN],
                                         const uint8_t pub[YZ_NOISE_DH_LEN])
{
  if (!hs || !priv || !pub)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  memcpy(hs->s_priv, priv, YZ_NOISE_DH_LEN);
  memcpy(hs->s_pub, pub, YZ_NOISE_DH_LEN);
  hs->flags |= F_S;
  return 0;
}

int yz_noise_hs_set_local_ephemeral(yz_noise_handshakestate *hs,
                                    const uint8_t priv[YZ_NOISE_DH_LEN])
{
  if (!hs || !priv)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  memcpy(hs->e_priv, priv, YZ_NOISE_DH_LEN);
  if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) {
    sodium_memzero(hs->e_priv, sizeof hs->e_priv);
    return YZ_E_INVAL;
  }
  hs->flags |= F_E;
  return 0;
}

int yz_noise_hs_set_remote_static(yz_noise_handshakestate *hs,
                                  const uint8_t pub[YZ_NOISE_DH_LEN])
{
  if (!hs || !pub)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  /* Only a pre-message may carry it: a key given for a pattern that
   * transmits rs would be silently replaced, and a caller could believe
   * the peer was pinned. */
  if (!pre_has(hs, 1 - my_side(hs), YZ__TOK_S))
    return YZ_E_INVAL;
  memcpy(hs->rs, pub, YZ_NOISE_DH_LEN);
  hs->flags |= F_RS;
  return 0;
}

int yz_noise_hs_set_remote_ephemeral(yz_noise_handshakestate *hs,
                                     const uint8_t pub[YZ_NOISE_DH_LEN])
{
  if (!hs || !pub)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  if (!pre_has(hs, 1 - my_side(hs), YZ__TOK_E))
    return YZ_E_INVAL;
  memcpy(hs->re, pub, YZ_NOISE_DH_LEN);
  hs->flags |= F_RE;
  return 0;
}

int yz_noise_hs_add_psk(yz_noise_handshakestate *hs,
                        const uint8_t psk[YZ_NOISE_PSK_LEN])
{
  if (!hs || !psk)
    return YZ_E_INVAL;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  if (hs->n_psks_given >= hs->proto.n_psk)
    return YZ_E_INVAL;
  memcpy(hs->psks[hs->n_psks_given++], psk, YZ_NOISE_PSK_LEN);
  return 0;
}

/* Whether the local static key is used: sent, or in a DH on our side. */
static bool needs_local_static(const yz_noise_handshakestate *hs)
{
  int side = my_side(hs), sender = 0;
  if (pre_has(hs, side, YZ__TOK_S))
    return true;
  for (const uint8_t *t = hs->proto.tokens; *t != YZ__TOK_END; t++) {
    switch (*t) {
    case YZ__TOK_S:
      if (sender == side)
        return true;
      break;
    case YZ__TOK_SS:
      return true;
    case YZ__TOK_ES: /* initiator's e, responder's s */
      if (side == 1)
        return true;
      break;
    case YZ__TOK_SE: /* initiator's s, responder's e */
      if (side == 0)
        return true;
      break;
    case YZ__TOK_MSG_END:
      sender = 1 - sender;
      break;
    default:
      break;
    }
  }
  return false;
}

/* The pre-message public keys, initiator's first (section 7.1). */
static void mix_pre_messages(yz_noise_handshakestate *hs)
{
  int me = my_side(hs);
  for (int side = 0; side < 2; side++) {
    for (int i = 0; i < 3; i++) {
      switch (hs->proto.pre[side][i]) {
      case YZ__TOK_E: {
        const uint8_t *pub = side == me ? hs->e_pub : hs->re;
        /* e: MixHash(e.public_key), and in a psk handshake also
         * MixKey(e.public_key) (section 9.2). */
        yz_noise_ss_mix_hash(&hs->ss, pub, YZ_NOISE_DH_LEN);
        if (is_psk(hs))
          yz_noise_ss_mix_key(&hs->ss, pub, YZ_NOISE_DH_LEN);
        break;
      }
      case YZ__TOK_S:
        /* s: MixHash(s.public_key) */
        yz_noise_ss_mix_hash(&hs->ss, side == me ? hs->s_pub : hs->rs,
                             YZ_NOISE_DH_LEN);
        break;
      default:
        break;
      }
    }
  }
}

int yz_noise_hs_start(yz_noise_handshakestate *hs)
{
  int me, peer;
  if (!hs)
    return YZ_E_INVAL;
  if (hs->action == YZ_NOISE_ACTION_FAILED)
    return YZ_E_HANDSHAKE_FAILED;
  if (hs->action != YZ_NOISE_ACTION_NONE)
    return YZ_E_STATE;
  me = my_side(hs);
  peer = 1 - me;
  if ((needs_local_static(hs) && !(hs->flags & F_S)) ||
      (pre_has(hs, me, YZ__TOK_E) && !(hs->flags & F_E)) ||
      (pre_has(hs, peer, YZ__TOK_S) && !(hs->flags & F_RS)) ||
      (pre_has(hs, peer, YZ__TOK_E) && !(hs->flags & F_RE)) ||
      hs->n_psks_given != hs->proto.n_psk)
    return fail(hs, YZ_E_MISSING_KEY);
  mix_pre_messages(hs);
  hs->action = me == 0 ? YZ_NOISE_ACTION_WRITE : YZ_NOISE_ACTION_READ;
  return 0;
}

yz_noise_action yz_noise_hs_action(const yz_noise_handshakestate *hs)
{
  return (yz_noise_action)hs->action;
}

/* The DH of a token: which of our private keys meets which of the peer's
 * public keys depends on our role; then MixKey(DH(...)). */
static int mix_dh(yz_noise_handshakestate *hs, int token)
{
  bool init = hs->role == YZ_NOISE_INITIATOR;
  const uint8_t *priv, *pub;
  uint8_t need, dh[YZ_NOISE_DH_LEN];
  int rc;

  switch (token) {
  case YZ__TOK_EE:
    priv = hs->e_priv, pub = hs->re, need = F_E | F_RE;
    break;
  case YZ__TOK_ES:
    if (init)
      priv = hs->e_priv, pub = hs->rs, need = F_E | F_RS;
    else
      priv = hs->s_priv, pub = hs->re, need = F_S | F_RE;
    break;
  case YZ__TOK_SE:
    if (init)
      priv = hs->s_priv, pub = hs->re, need = F_S | F_RE;
    else
      priv = hs->e_priv, pub = hs->rs, need = F_E | F_RS;
    break;
  default: /* YZ__TOK_SS */
    priv = hs->s_priv, pub = hs->rs, need = F_S | F_RS;
    break;
  }
  if ((hs->flags & need) != need)
    return YZ_E_MISSING_KEY;
  if ((rc = yz__noise_dh(dh, priv, pub)) == 0)
    yz_noise_ss_mix_key(&hs->ss, dh, sizeof dh);
  sodium_memzero(dh, sizeof dh);
  return rc;
}

/* After a message: the next one, or the end of the handshake. */
static void next_message(yz_noise_handshakestate *hs)
{
  hs->tok++; /* past MSG_END */
  hs->msg_index++;
  if (hs->proto.tokens[hs->tok] == YZ__TOK_END)
    hs->action = YZ_NOISE_ACTION_SPLIT;
  else
    hs->action = hs->action == YZ_NOISE_ACTION_WRITE ? YZ_NOISE_ACTION_READ
                                                     : YZ_NOISE_ACTION_WRITE;
}

/* The length of the message about to be written, simulating when the
 * cipher gets its key. */
static size_t write_length(const yz_noise_handshakestate *hs,
                           size_t payload_len)
{
  bool k = yz_noise_cs_has_key(&hs->ss.cs);
  size_t len = 0;
  for (const uint8_t *t = hs->proto.tokens + hs->tok; *t != YZ__TOK_MSG_END;
       t++) {
    switch (*t) {
    case YZ__TOK_E:
      len += YZ_NOISE_DH_LEN;
      k = k || is_psk(hs);
      break;
    case YZ__TOK_S:
      len += YZ_NOISE_DH_LEN + (k ? YZ_NOISE_TAG_LEN : 0);
      break;
    default: /* a DH or psk: MixKey */
      k = true;
      break;
    }
  }
  return len + payload_len + (k ? YZ_NOISE_TAG_LEN : 0);
}

int yz_noise_hs_write_message(yz_noise_handshakestate *hs,
                              const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t outcap, size_t *outlen)
{
  size_t off = 0, n;
  int rc = 0;

  if (!hs || !out || !outlen || (payload_len && !payload))
    return YZ_E_INVAL;
  if (hs->action == YZ_NOISE_ACTION_FAILED)
    return YZ_E_HANDSHAKE_FAILED;
  if (hs->action != YZ_NOISE_ACTION_WRITE)
    return YZ_E_STATE;
  if (outcap > YZ_NOISE_MAX_MSG_LEN)
    outcap = YZ_NOISE_MAX_MSG_LEN;
  if (payload_len > YZ_NOISE_MAX_MSG_LEN ||
      write_length(hs, payload_len) > outcap)
    return fail(hs, YZ_E_TOO_LARGE);

  for (;; hs->tok++) {
    uint8_t t = hs->proto.tokens[hs->tok];
    switch (t) {
    case YZ__TOK_E:
      /* e: GENERATE_KEYPAIR() unless fixed; append e.public_key;
       * MixHash(e.public_key); psk: MixKey(e.public_key) (9.2) */
      if (!(hs->flags & F_E)) {
        yz_noise_dh_keypair(hs->e_priv, hs->e_pub);
        hs->flags |= F_E;
      }
      memcpy(out + off, hs->e_pub, YZ_NOISE_DH_LEN);
      off += YZ_NOISE_DH_LEN;
      yz_noise_ss_mix_hash(&hs->ss, hs->e_pub, YZ_NOISE_DH_LEN);
      if (is_psk(hs))
        yz_noise_ss_mix_key(&hs->ss, hs->e_pub, YZ_NOISE_DH_LEN);
      break;
    case YZ__TOK_S:
      /* s: append EncryptAndHash(s.public_key) */
      if (!(hs->flags & F_S)) {
        rc = YZ_E_MISSING_KEY;
        goto out;
      }
      rc = yz_noise_ss_encrypt_and_hash(&hs->ss, hs->s_pub, YZ_NOISE_DH_LEN,
                                        out + off, outcap - off, &n);
      if (rc)
        goto out;
      off += n;
      break;
    case YZ__TOK_EE: /* ee: MixKey(DH(e, re)) */
    case YZ__TOK_ES: /* es: MixKey(DH(e, rs)) or MixKey(DH(s, re)) */
    case YZ__TOK_SE: /* se: MixKey(DH(s, re)) or MixKey(DH(e, rs)) */
    case YZ__TOK_SS: /* ss: MixKey(DH(s, rs)) */
      if ((rc = mix_dh(hs, t)) != 0)
        goto out;
      break;
    case YZ__TOK_PSK:
      /* psk: MixKeyAndHash(psk) */
      yz_noise_ss_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_used++],
                                   YZ_NOISE_PSK_LEN);
      break;
    default: /* MSG_END: append EncryptAndHash(payload) */
      rc = yz_noise_ss_encrypt_and_hash(&hs->ss, payload, payload_len,
                                        out + off, outcap - off, &n);
      if (rc)
        goto out;
      off += n;
      next_message(hs);
      *outlen = off;
      return 0;
    }
  }
out:
  sodium_memzero(out, outcap);
  return fail(hs, rc);
}

int yz_noise_hs_read_message(yz_noise_handshakestate *hs, const uint8_t *msg,
                             size_t msg_len, uint8_t *payload, size_t cap,
                             size_t *payload_len)
{
  yz_noise_handshakestate st; /* the copy this message works on */
  size_t off = 0, n;
  int rc = 0;

  if (!hs || (msg_len && !msg) || (cap && !payload) || !payload_len)
    return YZ_E_INVAL;
  if (hs->action == YZ_NOISE_ACTION_FAILED)
    return YZ_E_HANDSHAKE_FAILED;
  if (hs->action != YZ_NOISE_ACTION_READ)
    return YZ_E_STATE;
  if (msg_len > YZ_NOISE_MAX_MSG_LEN)
    return fail(hs, YZ_E_TOO_LARGE);

  st = *hs;
  for (;; st.tok++) {
    uint8_t t = st.proto.tokens[st.tok];
    switch (t) {
    case YZ__TOK_E:
      /* e: re = the next DHLEN bytes; MixHash(re.public_key);
       * psk: MixKey(re.public_key) (9.2) */
      if (msg_len - off < YZ_NOISE_DH_LEN) {
        rc = YZ_E_TRUNCATED;
        goto out;
      }
      memcpy(st.re, msg + off, YZ_NOISE_DH_LEN);
      off += YZ_NOISE_DH_LEN;
      st.flags |= F_RE;
      yz_noise_ss_mix_hash(&st.ss, st.re, YZ_NOISE_DH_LEN);
      if (is_psk(&st))
        yz_noise_ss_mix_key(&st.ss, st.re, YZ_NOISE_DH_LEN);
      break;
    case YZ__TOK_S: {
      /* s: rs = DecryptAndHash(the next DHLEN + 16 or DHLEN bytes) */
      size_t len = YZ_NOISE_DH_LEN +
                   (yz_noise_cs_has_key(&st.ss.cs) ? YZ_NOISE_TAG_LEN : 0);
      if (msg_len - off < len) {
        rc = YZ_E_TRUNCATED;
        goto out;
      }
      rc = yz_noise_ss_decrypt_and_hash(&st.ss, msg + off, len, st.rs,
                                        sizeof st.rs, &n);
      if (rc)
        goto out;
      off += len;
      st.flags |= F_RS;
      break;
    }
    case YZ__TOK_EE: /* ee: MixKey(DH(e, re)) */
    case YZ__TOK_ES: /* es: MixKey(DH(s, re)) or MixKey(DH(e, rs)) */
    case YZ__TOK_SE: /* se: MixKey(DH(e, rs)) or MixKey(DH(s, re)) */
    case YZ__TOK_SS: /* ss: MixKey(DH(s, rs)) */
      if ((rc = mix_dh(&st, t)) != 0)
        goto out;
      break;
    case YZ__TOK_PSK:
      /* psk: MixKeyAndHash(psk) */
      yz_noise_ss_mix_key_and_hash(&st.ss, st.psks[st.psk_used++],
                                   YZ_NOISE_PSK_LEN);
      break;
    default: /* MSG_END: payload = DecryptAndHash(the rest) */
      rc = yz_noise_ss_decrypt_and_hash(&st.ss, msg + off, msg_len - off,
                                        payload, cap, &n);
      if (rc)
        goto out;
      next_message(&st);
      *hs = st; /* everything verified: commit */
      *payload_len = n;
      goto out;
    }
  }
out:
  sodium_memzero(&st, sizeof st);
  return rc ? fail(hs, rc) : 0;
}

int yz_noise_hs_split(yz_noise_handshakestate *hs, yz_noise_cipherstate *send,
                      yz_noise_cipherstate *recv)
{
  yz_noise_cipherstate c1, c2;

  if (!hs || !send || !recv)
    return YZ_E_INVAL;
  if (hs->action == YZ_NOISE_ACTION_FAILED)
    return YZ_E_HANDSHAKE_FAILED;
  if (hs->action != YZ_NOISE_ACTION_SPLIT || (hs->flags & F_SPLIT))
    return YZ_E_STATE;
  yz_noise_ss_split(&hs->ss, &c1, &c2);
  if (hs->proto.flags & YZ__PROTO_ONEWAY) {
    /* One-way: only the initiator sends (section 7.4); c2 is discarded. */
    yz_noise_cs_clear(&c2);
    if (hs->role == YZ_NOISE_INITIATOR) {
      *send = c1;
      yz_noise_cs_init(recv, (yz_noise_cipher)hs->proto.cipher);
    } else {
      *recv = c1;
      yz_noise_cs_init(send, (yz_noise_cipher)hs->proto.cipher);
    }
  } else if (hs->role == YZ_NOISE_INITIATOR) {
    *send = c1;
    *recv = c2;
  } else {
    *send = c2;
    *recv = c1;
  }
  sodium_memzero(&c1, sizeof c1);
  sodium_memzero(&c2, sizeof c2);
  /* Only h (a channel binding) and the public keys outlive the split. */
  sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
  yz_noise_cs_clear(&hs->ss.cs);
  sodium_memzero(hs->s_priv, sizeof hs->s_priv);
  sodium_memzero(hs->e_priv, sizeof hs->e_priv);
  sodium_memzero(hs->psks, sizeof hs->psks);
  hs->flags |= F_SPLIT;
  return 0;
}

size_t yz_noise_hs_get_handshake_hash(const yz_noise_handshakestate *hs,
                                      uint8_t out[YZ_NOISE_MAX_HASH_LEN])
{
  return yz_noise_ss_get_handshake_hash(&hs->ss, out);
}

int yz_noise_hs_get_remote_static(const yz_noise_handshakestate *hs,
                                  uint8_t out[YZ_NOISE_DH_LEN])
{
  if (!(hs->flags & F_RS))
    return YZ_E_STATE;
  memcpy(out, hs->rs, YZ_NOISE_DH_LEN);
  return 0;
}

int yz_noise_hs_get_local_ephemeral(const yz_noise_handshakestate *hs,
                                    uint8_t out[YZ_NOISE_DH_LEN])
{
  if (!(hs->flags & F_E))
    return YZ_E_STATE;
  memcpy(out, hs->e_pub, YZ_NOISE_DH_LEN);
  return 0;
}

int yz_noise_hs_get_remote_ephemeral(const yz_noise_handshakestate *hs,
                                     uint8_t out[YZ_NOISE_DH_LEN])
{
  if (!(hs->flags & F_RE))
    return YZ_E_STATE;
  memcpy(out, hs->re, YZ_NOISE_DH_LEN);
  return 0;
}

void yz_noise_hs_clear(yz_noise_handshakestate *hs)
{
  sodium_memzero(hs, sizeof *hs);
}
