/*
 * yz/common.h: what every yz module shares: the export macro, error codes,
 * and a few attributes.
 *
 * Errors follow libuv's model: every fallible call returns int, 0 on success
 * or a negative YZ_E_* code. The codes come from one X-macro list, which
 * also generates yz_strerror() and yz_err_name(), so the three cannot drift.
 */
#ifndef YZ_COMMON_H
#define YZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols are hidden by default (-fvisibility=hidden); the public API opts
 * in. */
#if defined(__GNUC__) || defined(__clang__)
#define YZ_EXPORT __attribute__((visibility("default")))
#define YZ_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define YZ_EXPORT
#define YZ_WARN_UNUSED
#endif

/*
 * The error list: X(NAME, "message"). Append new codes at the end of their
 * group; codes are part of the ABI once released, so never renumber.
 */
#define YZ_ERRNO_MAP(X)                                                       \
  /* generic */                                                               \
  X(INVAL, "invalid argument")                                                \
  X(NOMEM, "out of memory")                                                   \
  X(STATE, "operation not valid in the current state")                       \
  X(UNSUPPORTED, "unsupported")                                               \
  X(IO, "input/output error")                                                 \
  X(NOENT, "no such file or entry")                                           \
  X(PERM, "file permissions are unsafe")                                      \
  X(RANGE, "value out of range")                                              \
  /* parsing: bytes from outside */                                           \
  X(MALFORMED, "malformed input")                                             \
  X(TRUNCATED, "input too short")                                             \
  X(TRAILING, "trailing data after input")                                    \
  X(DUPLICATE, "duplicate field")                                             \
  X(TOO_LARGE, "input too large")                                             \
  X(TOO_DEEP, "input nested too deeply")                                      \
  /* noise */                                                                 \
  X(PROTOCOL_NAME, "malformed Noise protocol name")                          \
  X(DECRYPT, "decryption failed: message not authentic")                     \
  X(NONCE_EXHAUSTED, "nonce space exhausted")                                 \
  X(MISSING_KEY, "a key the handshake pattern needs was not supplied")       \
  X(HANDSHAKE_FAILED, "handshake failed earlier; state is unusable")         \
  /* identity and session */                                                  \
  X(BAD_SIGNATURE, "identity signature does not verify")                     \
  X(PEER_ID_MISMATCH,                                                         \
    "peer node ID differs from the expected one: a man in the middle or a "  \
    "wrong address is possible")                                              \
  X(VERSION, "peer speaks another protocol version")                         \
  X(TIMEOUT, "timed out")                                                     \
  X(CLOSED, "closed")                                                         \
  X(PEER_CLOSED, "closed by the peer")                                        \
  /* link and node */                                                         \
  X(QUEUE_FULL, "send queue full")                                            \
  X(LIMIT, "limit reached")                                                   \
  X(RATE_LIMITED, "rate limit exceeded")                                      \
  X(UNREACHABLE, "peer unreachable")                                          \
  X(ADDRESS, "malformed node address")                                        \
  X(TLS, "TLS error")                                                         \
  X(NOT_FOUND, "not found")                                                   \
  X(REMOTE, "the peer answered the request with an error")                   \
  X(NETWORK, "network name mismatch: the peer belongs to another network")   \
  /* sealed values and encrypted topics (yz/seal.h) */                        \
  X(SEAL_WRONG_KEY, "sealed value belongs to another key")                   \
  X(SEAL_TAMPERED,                                                            \
    "sealed value does not authenticate: changed, moved or replayed")        \
  X(SEAL_EPOCH, "encrypted topic message of an unknown or expired epoch")    \
  X(SEAL_NOT_RECIPIENT, "sealed value is not sealed to this key")            \
  X(SEAL_VERSION, "sealed value of an unknown version or kind")              \
  X(SEAL_NOT_SEALED, "value is not sealed")

/* Internal: consecutive indices from 1, turned into negative codes below. */
enum yz__errno_index {
  YZ__EI_NONE = 0,
#define YZ__X(name, text) YZ__EI_##name,
  YZ_ERRNO_MAP(YZ__X)
#undef YZ__X
  YZ__EI_COUNT
};

/* Error codes: YZ_OK, then YZ_E_INVAL = -1, YZ_E_NOMEM = -2, ... */
typedef enum yz_errno {
  YZ_OK = 0,
#define YZ__X(name, text) YZ_E_##name = -YZ__EI_##name,
  YZ_ERRNO_MAP(YZ__X)
#undef YZ__X
} yz_errno;

/* A human-readable message for an error code; never NULL ("unknown error"
 * for a code not in the list; "success" for 0). */
YZ_EXPORT const char *yz_strerror(int err);

/* The code's name, e.g. "YZ_E_DECRYPT"; never NULL. */
YZ_EXPORT const char *yz_err_name(int err);

/* The library version, "MAJOR.MINOR.PATCH". */
YZ_EXPORT const char *yz_version(void);

/* Initialise libsodium. Idempotent and thread-safe; every yz entry point
 * that needs it calls it, but embedders may call it early. 0 or YZ_E_IO. */
YZ_EXPORT int yz_init(void);

#ifdef __cplusplus
}
#endif
#endif /* YZ_COMMON_H */
