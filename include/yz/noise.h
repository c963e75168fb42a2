/*
 * yz/noise.h: the Noise Protocol Framework, revision 34
 * (https://noiseprotocol.org/noise.html), on libsodium (and OpenSSL's
 * libcrypto for the transport AEAD: yz_noise_aead_backend()).
 *
 * Objects and operations carry the spec's names (section 5):
 *   CipherState     yz_noise_cs_*   InitializeKey, HasKey, SetNonce,
 *                                   EncryptWithAd, DecryptWithAd, Rekey
 *   SymmetricState  yz_noise_ss_*   InitializeSymmetric, MixKey, MixHash,
 *                                   MixKeyAndHash, GetHandshakeHash,
 *                                   EncryptAndHash, DecryptAndHash, Split
 *   HandshakeState  yz_noise_hs_*   Initialize, WriteMessage, ReadMessage
 *
 * All state is caller-allocated (no heap use at all in this layer); every
 * object has an _init and a _clear, and _clear wipes every secret. Struct
 * fields are private: use the functions.
 *
 * Supported: DH 25519; ciphers ChaChaPoly and AESGCM (AESGCM everywhere
 * with the OpenSSL AEAD; with libsodium's only where it reports hardware
 * support, otherwise YZ_E_UNSUPPORTED); hashes
 * SHA256, SHA512, BLAKE2b; every pattern of the spec's sections 7.4, 7.5 and
 * 7.6 (one-way, fundamental, deferred), the pskN modifiers (several may be
 * joined with '+', e.g. XXpsk0+psk1) and the fallback modifier.
 * Reported as unsupported, never mis-run: 448, BLAKE2s, hfs, the obsolete
 * NoisePSK_ prefix.
 */
#ifndef YZ_NOISE_H
#define YZ_NOISE_H

#include "yz/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes (spec section 3, 4 and 5). */
enum {
  YZ_NOISE_KEY_LEN = 32,        /* cipher key */
  YZ_NOISE_TAG_LEN = 16,        /* AEAD tag */
  YZ_NOISE_DH_LEN = 32,         /* X25519 public and private keys */
  YZ_NOISE_PSK_LEN = 32,        /* pre-shared symmetric key */
  YZ_NOISE_MAX_HASH_LEN = 64,   /* SHA512, BLAKE2b */
  YZ_NOISE_MAX_MSG_LEN = 65535, /* any Noise message, section 3 */
  /* Largest transport plaintext: 65535 - 16. */
  YZ_NOISE_MAX_PAYLOAD_LEN = YZ_NOISE_MAX_MSG_LEN - YZ_NOISE_TAG_LEN,
  YZ_NOISE_MAX_PSKS = 8,         /* psk tokens one pattern may carry */
  YZ_NOISE_MAX_NAME_LEN = 127,   /* longest protocol name accepted */
  YZ_NOISE_MAX_TOKENS = 40,      /* compiled pattern tokens (private) */
};

/* The largest nonce ever used: 2^64-1 is reserved (section 5.1). */
#define YZ_NOISE_NONCE_MAX (UINT64_MAX - 1)

typedef enum yz_noise_dh { YZ_NOISE_DH_25519 = 1 } yz_noise_dh;

typedef enum yz_noise_cipher {
  YZ_NOISE_CIPHER_CHACHAPOLY = 1,
  YZ_NOISE_CIPHER_AESGCM = 2,
} yz_noise_cipher;

typedef enum yz_noise_hash {
  YZ_NOISE_HASH_SHA256 = 1,
  YZ_NOISE_HASH_SHA512 = 2,
  YZ_NOISE_HASH_BLAKE2B = 3,
} yz_noise_hash;

typedef enum yz_noise_role {
  YZ_NOISE_INITIATOR = 1,
  YZ_NOISE_RESPONDER = 2,
} yz_noise_role;

/* What a HandshakeState wants next. */
typedef enum yz_noise_action {
  YZ_NOISE_ACTION_NONE = 0,  /* initialised, yz_noise_hs_start() not called */
  YZ_NOISE_ACTION_WRITE = 1, /* call yz_noise_hs_write_message() */
  YZ_NOISE_ACTION_READ = 2,  /* call yz_noise_hs_read_message() */
  YZ_NOISE_ACTION_SPLIT = 3, /* handshake done: call yz_noise_hs_split() */
  YZ_NOISE_ACTION_FAILED = 4 /* an error latched; only _clear is valid */
} yz_noise_action;

/* ------------------------------------------------------------------------ */
/* Protocol names (section 8)                                                */

/*
 * A parsed protocol name, e.g. "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b".
 * Fields are private except where noted.
 */
typedef struct yz_noise_protocol {
  char name[YZ_NOISE_MAX_NAME_LEN + 1]; /* public: the name, NUL-terminated */
  yz_noise_dh dh;                       /* public */
  yz_noise_cipher cipher;               /* public */
  yz_noise_hash hash;                   /* public */
  /* private below: the pattern compiled from the table and modifiers */
  uint8_t name_len;    /* strlen(name) */
  uint8_t pattern;     /* index into the pattern table */
  uint8_t fallback;    /* the fallback modifier is present */
  uint8_t n_psk;       /* number of psk modifiers (psk tokens) */
  uint8_t n_msgs;      /* handshake messages */
  uint8_t flags;       /* one-way, psk */
  uint8_t pre[2][3];   /* pre-message tokens: [0] initiator's, [1] responder's */
  uint8_t tokens[YZ_NOISE_MAX_TOKENS]; /* message tokens */
} yz_noise_protocol;

/*
 * Parse and validate a protocol name of len bytes (not NUL-terminated).
 * Returns 0; YZ_E_PROTOCOL_NAME for a malformed name or an unknown pattern
 * or modifier; YZ_E_UNSUPPORTED for a well-formed name whose primitive or
 * scheme yz does not run (448, BLAKE2s, hfs, NoisePSK_, AESGCM without
 * hardware support). If reason is not NULL it receives a short static
 * explanation on failure (e.g. "DH 448 unsupported").
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_noise_protocol_parse(yz_noise_protocol *out,
                                                     const uint8_t *name,
                                                     size_t len,
                                                     const char **reason);

/* Hash output length of a parsed protocol: 32 or 64. */
YZ_EXPORT size_t yz_noise_protocol_hashlen(const yz_noise_protocol *p);

/* Whether the pattern is one-way (N, K, X and their modifiers). */
YZ_EXPORT bool yz_noise_protocol_is_oneway(const yz_noise_protocol *p);

/* ------------------------------------------------------------------------ */
/* The AEAD backend                                                          */

/*
 * Which library runs ENCRYPT and DECRYPT (sections 5.1, 12.3, 12.4):
 * "openssl" or "libsodium", a static string. Both give the same bytes.
 *
 * Built with -Daead=openssl, or with the default -Daead=auto when
 * libcrypto is found, it is "openssl": OpenSSL's EVP ChaCha20-Poly1305 and
 * AES-256-GCM, which run about twice as fast as libsodium 1.0.18 on bulk
 * messages, serve ChaChaPoly messages of 128 bytes of plaintext or more
 * and AESGCM messages of 384 or more (every AESGCM message on a CPU
 * without AES-NI); shorter ones (handshake payloads, Rekey), where
 * libsodium's lower fixed cost wins, stay on libsodium. It is "libsodium" with -Daead=libsodium, or when libcrypto
 * cannot fetch both ciphers (a configuration without the default
 * provider); then libsodium serves every call. X25519, the hashes and
 * randomness are always libsodium's. The environment variable
 * YZ_NOISE_AEAD, read once at the first AEAD call, overrides the split in
 * an OpenSSL build: "libsodium" routes every call to libsodium (and this
 * function then says so), "openssl" every call to libcrypto (how the tests
 * replay every vector through each).
 *
 * With OpenSSL, each thread that encrypts keeps four EVP contexts (cipher
 * by direction), keyed with the last key it used, freed at thread exit; a
 * key's schedule there is overwritten when yz_noise_cs_clear() or Rekey
 * retires it on the same thread. A failure inside libcrypto is an error
 * code (YZ_E_NOMEM, YZ_E_UNSUPPORTED) from the call, never an abort.
 */
YZ_EXPORT const char *yz_noise_aead_backend(void);

/* ------------------------------------------------------------------------ */
/* CipherState (section 5.1)                                                 */

typedef struct yz_noise_cipherstate {
  /* private */
  uint8_t k[YZ_NOISE_KEY_LEN];
  uint64_t n;
  uint8_t has_k;
  uint8_t cipher; /* yz_noise_cipher */
} yz_noise_cipherstate;

/* InitializeKey(empty) for the given cipher. */
YZ_EXPORT void yz_noise_cs_init(yz_noise_cipherstate *cs,
                                yz_noise_cipher cipher);

/* InitializeKey(k): sets k and n = 0. */
YZ_EXPORT void yz_noise_cs_initialize_key(yz_noise_cipherstate *cs,
                                          const uint8_t k[YZ_NOISE_KEY_LEN]);

/* HasKey(). */
YZ_EXPORT bool yz_noise_cs_has_key(const yz_noise_cipherstate *cs);

/* SetNonce(n). Refuses 2^64-1 (reserved) with YZ_E_RANGE. */
YZ_EXPORT YZ_WARN_UNUSED int yz_noise_cs_set_nonce(yz_noise_cipherstate *cs,
                                                   uint64_t n);

/* The next nonce to be used (for rekey and wrap policy above this layer). */
YZ_EXPORT uint64_t yz_noise_cs_nonce(const yz_noise_cipherstate *cs);

/*
 * EncryptWithAd(ad, plaintext). With a key, writes ptlen + 16 bytes to out;
 * without one, copies the plaintext (as the spec says). out may equal pt
 * (in place); otherwise the buffers must not overlap. *outlen gets the
 * length written.
 * Errors: YZ_E_TOO_LARGE if the result would exceed 65535 bytes or outcap;
 * YZ_E_NONCE_EXHAUSTED if n has reached 2^64-1; YZ_E_NOMEM or
 * YZ_E_UNSUPPORTED if libcrypto fails (n is then unchanged).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_cs_encrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                            size_t adlen, const uint8_t *pt, size_t ptlen,
                            uint8_t *out, size_t outcap, size_t *outlen);

/*
 * DecryptWithAd(ad, ciphertext). The tag is checked in constant time (by
 * libsodium's ChaChaPoly before anything is decrypted; libsodium's AES-GCM
 * and OpenSSL decrypt and authenticate in one pass); on failure
 * YZ_E_DECRYPT is returned, out is wiped, so nothing unauthenticated is
 * ever left in it, and n is NOT incremented (section 5.1). out may equal
 * ct. Errors also: YZ_E_TRUNCATED (shorter than a tag), YZ_E_TOO_LARGE,
 * YZ_E_NONCE_EXHAUSTED, YZ_E_NOMEM or YZ_E_UNSUPPORTED (libcrypto failed;
 * out wiped, n unchanged).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_cs_decrypt_with_ad(yz_noise_cipherstate *cs, const uint8_t *ad,
                            size_t adlen, const uint8_t *ct, size_t ctlen,
                            uint8_t *out, size_t outcap, size_t *outlen);

/* Rekey() (section 4.2): k = ENCRYPT(k, 2^64-1, empty, zeros)[0..32]. The
 * nonce is left as it is. YZ_E_STATE without a key; an error of libcrypto
 * (as for EncryptWithAd) leaves the key as it was. */
YZ_EXPORT YZ_WARN_UNUSED int yz_noise_cs_rekey(yz_noise_cipherstate *cs);

/* Wipe. The state is then as after yz_noise_cs_init() with no key. */
YZ_EXPORT void yz_noise_cs_clear(yz_noise_cipherstate *cs);

/* ------------------------------------------------------------------------ */
/* SymmetricState (section 5.2)                                              */

typedef struct yz_noise_symmetricstate {
  /* private */
  yz_noise_cipherstate cs;
  uint8_t ck[YZ_NOISE_MAX_HASH_LEN];
  uint8_t h[YZ_NOISE_MAX_HASH_LEN];
  uint8_t hash;    /* yz_noise_hash */
  uint8_t hashlen; /* 32 or 64 */
} yz_noise_symmetricstate;

/* InitializeSymmetric(protocol_name). */
YZ_EXPORT void yz_noise_ss_init(yz_noise_symmetricstate *ss,
                                const yz_noise_protocol *p);
YZ_EXPORT void yz_noise_ss_mix_key(yz_noise_symmetricstate *ss,
                                   const uint8_t *ikm, size_t len);
YZ_EXPORT void yz_noise_ss_mix_hash(yz_noise_symmetricstate *ss,
                                    const uint8_t *data, size_t len);
YZ_EXPORT void yz_noise_ss_mix_key_and_hash(yz_noise_symmetricstate *ss,
                                            const uint8_t *ikm, size_t len);
/* GetHandshakeHash(): copies h (hashlen bytes) and returns hashlen. */
YZ_EXPORT size_t yz_noise_ss_get_handshake_hash(
    const yz_noise_symmetricstate *ss, uint8_t out[YZ_NOISE_MAX_HASH_LEN]);
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_ss_encrypt_and_hash(yz_noise_symmetricstate *ss, const uint8_t *pt,
                             size_t ptlen, uint8_t *out, size_t outcap,
                             size_t *outlen);
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_ss_decrypt_and_hash(yz_noise_symmetricstate *ss, const uint8_t *ct,
                             size_t ctlen, uint8_t *out, size_t outcap,
                             size_t *outlen);
/* Split(): c1 and c2 as the spec defines them. */
YZ_EXPORT void yz_noise_ss_split(const yz_noise_symmetricstate *ss,
                                 yz_noise_cipherstate *c1,
                                 yz_noise_cipherstate *c2);
YZ_EXPORT void yz_noise_ss_clear(yz_noise_symmetricstate *ss);

/* ------------------------------------------------------------------------ */
/* HandshakeState (section 5.3)                                              */

typedef struct yz_noise_handshakestate {
  /* private */
  yz_noise_symmetricstate ss;
  yz_noise_protocol proto;
  uint8_t role;   /* yz_noise_role */
  uint8_t action; /* yz_noise_action */
  uint8_t msg_index;
  uint8_t flags; /* which of s, e, rs, re are set; split done */
  uint8_t n_psks_given;
  uint8_t psk_used; /* psk tokens processed so far */
  uint8_t tok;      /* index of the next token in proto.tokens */
  uint8_t s_priv[YZ_NOISE_DH_LEN], s_pub[YZ_NOISE_DH_LEN];
  uint8_t e_priv[YZ_NOISE_DH_LEN], e_pub[YZ_NOISE_DH_LEN];
  uint8_t rs[YZ_NOISE_DH_LEN], re[YZ_NOISE_DH_LEN];
  uint8_t psks[YZ_NOISE_MAX_PSKS][YZ_NOISE_PSK_LEN];
} yz_noise_handshakestate;

/*
 * Initialize() part 1: InitializeSymmetric(protocol_name) and
 * MixHash(prologue). Keys are then given with the setters below, and
 * yz_noise_hs_start() processes the pre-messages.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_init(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                 yz_noise_role role, const uint8_t *prologue,
                 size_t prologue_len);

/* The local static key pair, from its private key (public is derived). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_set_local_static(yz_noise_handshakestate *hs,
                             const uint8_t priv[YZ_NOISE_DH_LEN]);

/* The same from a key pair whose public half the caller already holds
 * (saves one scalar multiplication per handshake; pub must be the X25519
 * public key of priv, which is not checked). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_set_local_static_keypair(yz_noise_handshakestate *hs,
                                     const uint8_t priv[YZ_NOISE_DH_LEN],
                                     const uint8_t pub[YZ_NOISE_DH_LEN]);

/* A fixed local ephemeral private key (test vectors, deterministic
 * generation). Without it, WriteMessage generates one from the CSPRNG. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_set_local_ephemeral(yz_noise_handshakestate *hs,
                                const uint8_t priv[YZ_NOISE_DH_LEN]);

/* The peer's static public key, for patterns with a pre-message 's'.
 * YZ_E_INVAL for a pattern without one: the key would otherwise be
 * silently replaced by the one the peer sends, and a caller could believe
 * the peer was pinned (check yz_noise_hs_get_remote_static() instead). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_set_remote_static(yz_noise_handshakestate *hs,
                              const uint8_t pub[YZ_NOISE_DH_LEN]);

/*
 * The peer's ephemeral public key, for a pre-message 'e' (fallback). With
 * XXfallback (section 10.2), Bob, who could not read Alice's IK message,
 * becomes the initiator and passes the first 32 bytes of that message here;
 * a failed read commits nothing, so the key is not in his old state. Alice
 * becomes the responder and passes her IK ephemeral private key to
 * yz_noise_hs_set_local_ephemeral() (she generates it herself, with
 * yz_noise_dh_keypair(), for a handshake that may fall back). YZ_E_INVAL
 * for a pattern without this pre-message.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_set_remote_ephemeral(yz_noise_handshakestate *hs,
                                 const uint8_t pub[YZ_NOISE_DH_LEN]);

/* Append a PSK; they are used in the order given, one per psk token.
 * YZ_E_INVAL beyond the pattern's number of psk tokens. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_add_psk(yz_noise_handshakestate *hs,
                    const uint8_t psk[YZ_NOISE_PSK_LEN]);

/*
 * Initialize() part 2: checks that every key the pattern needs is present
 * (YZ_E_MISSING_KEY otherwise, and the psk count matches), then MixHash()es
 * the pre-message public keys. The action becomes WRITE or READ.
 */
YZ_EXPORT YZ_WARN_UNUSED int yz_noise_hs_start(yz_noise_handshakestate *hs);

/* What the state wants next. */
YZ_EXPORT yz_noise_action
yz_noise_hs_action(const yz_noise_handshakestate *hs);

/*
 * WriteMessage(payload, message_buffer): writes the next handshake message
 * into out (at most outcap bytes; never more than 65535). payload must not
 * overlap out. YZ_E_STATE if a read is due; YZ_E_TOO_LARGE if it would not
 * fit; YZ_E_HANDSHAKE_FAILED once FAILED. Any error other than YZ_E_STATE,
 * YZ_E_INVAL and YZ_E_HANDSHAKE_FAILED latches the FAILED action (and wipes
 * the secrets and out).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_write_message(yz_noise_handshakestate *hs, const uint8_t *payload,
                          size_t payload_len, uint8_t *out, size_t outcap,
                          size_t *outlen);

/*
 * ReadMessage(message, payload_buffer): consumes one handshake message and
 * writes its decrypted payload to payload (at most cap bytes; payload must
 * not overlap msg). The message is
 * processed on a copy of the state and committed only when everything
 * verified; any failure (YZ_E_DECRYPT, YZ_E_TRUNCATED, YZ_E_TOO_LARGE,
 * YZ_E_MALFORMED for an invalid public key) latches the FAILED action.
 * YZ_E_STATE if a write is due; YZ_E_HANDSHAKE_FAILED once FAILED.
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_read_message(yz_noise_handshakestate *hs, const uint8_t *msg,
                         size_t msg_len, uint8_t *payload, size_t cap,
                         size_t *payload_len);

/*
 * Split(), oriented by role: the initiator sends with c1 and receives with
 * c2, the responder the reverse. In a one-way pattern the responder's send
 * and the initiator's recv get no key. Wipes the handshake's secrets
 * except what yz_noise_hs_get_handshake_hash() and the remote static need.
 * Valid once: the action stays SPLIT, and a second call is YZ_E_STATE.
 * In a fallback handshake the initiator is Bob (section 10.2).
 */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_split(yz_noise_handshakestate *hs, yz_noise_cipherstate *send,
                  yz_noise_cipherstate *recv);

/* The handshake hash h (a channel binding, section 11.2); returns its
 * length. Valid at any point; final once the action is SPLIT. */
YZ_EXPORT size_t
yz_noise_hs_get_handshake_hash(const yz_noise_handshakestate *hs,
                               uint8_t out[YZ_NOISE_MAX_HASH_LEN]);

/* The peer's static public key, once known. YZ_E_STATE before. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_get_remote_static(const yz_noise_handshakestate *hs,
                              uint8_t out[YZ_NOISE_DH_LEN]);

/* The local ephemeral public key, once generated (for fallback). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_get_local_ephemeral(const yz_noise_handshakestate *hs,
                                uint8_t out[YZ_NOISE_DH_LEN]);

/* The peer's ephemeral public key, once received (for fallback). */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_hs_get_remote_ephemeral(const yz_noise_handshakestate *hs,
                                 uint8_t out[YZ_NOISE_DH_LEN]);

/* Wipe everything. */
YZ_EXPORT void yz_noise_hs_clear(yz_noise_handshakestate *hs);

/* ------------------------------------------------------------------------ */
/* DH helpers (section 4.1)                                                  */

/* GENERATE_KEYPAIR(): a fresh X25519 key pair from the CSPRNG. */
YZ_EXPORT void yz_noise_dh_keypair(uint8_t priv[YZ_NOISE_DH_LEN],
                                   uint8_t pub[YZ_NOISE_DH_LEN]);

/* The public key of a private key. */
YZ_EXPORT YZ_WARN_UNUSED int
yz_noise_dh_public(uint8_t pub[YZ_NOISE_DH_LEN],
                   const uint8_t priv[YZ_NOISE_DH_LEN]);

#ifdef __cplusplus
}
#endif
#endif /* YZ_NOISE_H */
