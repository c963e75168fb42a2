/*
 * Noise test vectors: the "Noise Test Vector Format"
 * (https://github.com/centromere/test-vector-spec) as used by cacophony,
 * snow and noise-c, read into memory, replayed against yz's noise layer,
 * and generated from it.
 *
 * This is tooling, not part of libyz: `yz vectors` and the tests use it.
 *
 * The parser is a pure function of its input bytes (no I/O, no global
 * state) with fixed bounds, so it can be fuzzed directly.
 */
#ifndef YZ_TOOLS_VECTORS_H
#define YZ_TOOLS_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/noise.h"

/* Bounds of the parser: anything beyond them is refused, not truncated. */
enum {
  YZ_VEC_MAX_INPUT = 64 * 1024 * 1024, /* bytes of JSON */
  YZ_VEC_MAX_VECTORS = 10000,          /* vectors in one file */
  YZ_VEC_MAX_VALUES = 1 << 20,         /* JSON values in one file */
  YZ_VEC_MAX_MESSAGES = 1024,          /* messages in one vector */
  YZ_VEC_MAX_BYTES = YZ_NOISE_MAX_MSG_LEN, /* payload, ciphertext, prologue */
  YZ_VEC_MAX_KEY = 128,                /* keys (25519: 32, 448: 56, P256: 65) */
  YZ_VEC_MAX_PSKS = YZ_NOISE_MAX_PSKS, /* entries of init_psks/resp_psks */
  YZ_VEC_MAX_NAME = YZ_NOISE_MAX_NAME_LEN, /* protocol name */
  YZ_VEC_MAX_PATTERN = 31,             /* noise-c "pattern" */
  YZ_VEC_ERR_LEN = 200,                /* error and detail strings */
};

/* A variable-length byte string from hex (data is NULL when len is 0). */
typedef struct yz_vec_bytes {
  uint8_t *data;
  size_t len;
} yz_vec_bytes;

/* A fixed-size key field; present tells whether the field was given. */
typedef struct yz_vec_key {
  uint8_t data[YZ_VEC_MAX_KEY];
  uint8_t len;
  bool present;
} yz_vec_key;

typedef struct yz_vec_message {
  yz_vec_bytes payload;
  yz_vec_bytes ciphertext;
} yz_vec_message;

typedef struct yz_vec_vector {
  char name[YZ_VEC_MAX_NAME + 1]; /* protocol_name, or noise-c's name */
  bool noise_c_name;              /* the name came from "name" */
  yz_vec_bytes init_prologue, resp_prologue;
  yz_vec_key init_static, resp_static;
  yz_vec_key init_ephemeral, resp_ephemeral;
  yz_vec_key init_remote_static, resp_remote_static;
  uint8_t init_psks[YZ_VEC_MAX_PSKS][YZ_NOISE_PSK_LEN];
  uint8_t resp_psks[YZ_VEC_MAX_PSKS][YZ_NOISE_PSK_LEN];
  size_t n_init_psks, n_resp_psks;
  bool obsolete_psk;     /* init_psk or resp_psk: the NoisePSK_ scheme */
  yz_vec_key handshake_hash; /* absent in snow and noise-c-cacophony */
  bool fail;             /* "fail": true: the conversation must fail */
  /* "fail_at": the index of the message whose receiver must reject the
   * vector's ciphertext; -1 when absent. Required with "fail": true. */
  long fail_at;
  /* noise-c fallback vectors: the pattern the initiator starts with
   * ("IK"); empty when there is none. */
  bool fallback;
  char pattern[YZ_VEC_MAX_PATTERN + 1];
  yz_vec_message *messages;
  size_t n_messages;
} yz_vec_vector;

typedef struct yz_vec_set {
  yz_vec_vector *vectors;
  size_t n_vectors;
} yz_vec_set;

/*
 * Parse a vector file: {"vectors": [ {...}, ... ]}. Returns 0 and a set
 * (free with yz_vec_set_free) or a negative YZ_E_* code with a message in
 * err (errcap bytes, may be 0): YZ_E_TOO_LARGE (input or a field over its
 * bound), YZ_E_MALFORMED (bad JSON, wrong type, bad hex, missing field),
 * YZ_E_DUPLICATE (a key twice in one object), YZ_E_TRAILING (data after
 * the JSON value), YZ_E_NOMEM. Unknown fields of a vector are ignored (the
 * format allows extensions); unknown fields of a message are refused.
 */
int yz_vec_parse(const uint8_t *in, size_t len, yz_vec_set **out, char *err,
                 size_t errcap);

/* Internal to this library: format a message into err (errcap bytes, may be
 * 0) and return code. Shared by the parser and the replay engine. */
int yz__vec_error(char *err, size_t errcap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void yz_vec_set_free(yz_vec_set *set);

/* Free what one vector owns (its messages and byte strings). */
void yz_vec_vector_clear(yz_vec_vector *v);

/*
 * Serialise a set in the protocol_name form, two-space indented, fields in
 * the order of the format's description. Returns a malloc'd NUL-terminated
 * string or NULL on allocation failure.
 */
char *yz_vec_dump(const yz_vec_set *set);

/* ------------------------------------------------------------------------ */
/* Replay                                                                    */

typedef enum yz_vec_outcome {
  YZ_VEC_PASSED = 0,
  YZ_VEC_FAILED = 1,
  YZ_VEC_SKIPPED = 2,
} yz_vec_outcome;

typedef struct yz_vec_result {
  yz_vec_outcome outcome;
  int message; /* index of the message at fault, or -1 */
  /* Skips: a short static reason (from yz_noise_protocol_parse), so that
   * equal reasons can be counted by pointer or by text. */
  const char *skip_reason;
  char detail[YZ_VEC_ERR_LEN]; /* failures: what went wrong */
} yz_vec_result;

/*
 * Replay one vector: both sides of the conversation run in memory, every
 * ciphertext, payload and the handshake hash (when given) are compared, and
 * the transport messages after Split are checked too.
 *
 * A negative vector ("fail": true with "fail_at": k) passes only if every
 * message before k is reproduced and accepted as usual and the receiver of
 * message k rejects the vector's own ciphertext of message k (the writer's
 * output is not compared there: that is where the vector was corrupted).
 * A failure anywhere else, an accepted message k, or a missing fail_at
 * fails the vector.
 */
void yz_vec_replay(const yz_vec_vector *v, yz_vec_result *r);

/* ------------------------------------------------------------------------ */
/* Generation                                                                */

/*
 * Generate a vector for protocol name (NUL-terminated) from a seed: every
 * key, ephemeral, psk, prologue and payload is derived from the seed with
 * BLAKE2b keyed by it, so the same seed gives the same vector. The
 * conversation is the handshake followed by `transport` transport
 * messages. Fallback patterns are not generated. Returns 0, or a negative
 * YZ_E_* with a message in err.
 */
int yz_vec_generate(yz_vec_vector *out, const char *name,
                    const uint8_t *seed, size_t seedlen, unsigned transport,
                    char *err, size_t errcap);

/* The shapes of generated vectors: the default has a 16-byte prologue and
 * payloads of 0 to 48 bytes; the others push one size to its bound. */
typedef enum yz_vec_shape {
  YZ_VEC_SHAPE_DEFAULT = 0,
  YZ_VEC_SHAPE_EMPTY_PROLOGUE, /* a 0-byte prologue */
  YZ_VEC_SHAPE_LONG_PROLOGUE,  /* a YZ_VEC_LONG_PROLOGUE-byte prologue */
  YZ_VEC_SHAPE_MAX_HANDSHAKE,  /* every handshake message 65535 bytes */
  YZ_VEC_SHAPE_MAX_TRANSPORT,  /* 65519-byte transport payloads */
  YZ_VEC_SHAPE_COUNT
} yz_vec_shape;

enum { YZ_VEC_LONG_PROLOGUE = 4096 };

/* The shape's name ("default", "empty-prologue", ...), or NULL. */
const char *yz_vec_shape_name(yz_vec_shape shape);

/*
 * yz_vec_generate with a shape, and optionally as a negative vector: when
 * fail_at >= 0, the ciphertext of message fail_at gets one bit flipped
 * (which bit derives from the seed) and the vector is marked "fail" with
 * that "fail_at"; fail_at must be below the number of messages.
 */
int yz_vec_generate_ex(yz_vec_vector *out, const char *name,
                       const uint8_t *seed, size_t seedlen, unsigned transport,
                       yz_vec_shape shape, long fail_at, char *err,
                       size_t errcap);

#endif
