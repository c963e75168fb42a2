/*
 * yz/log.h: a small logger shared by the layers and the programs.
 *
 * Lines go to a sink (default: stderr, "yz: W: text"). A level filters
 * them (default YZ_LOG_WARN). Anything a remote peer can trigger must be
 * logged through a rate limiter (yz_log_ratelimit), so that a peer cannot
 * flood the log (STYLE.md: "never an abort or a log flood").
 *
 * Not thread-safe: configure it at start, log from the loop thread.
 */
#ifndef YZ_LOG_H
#define YZ_LOG_H

#include "yz/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum yz_log_level {
  YZ_LOG_ERR = 0,
  YZ_LOG_WARN = 1,
  YZ_LOG_NOTICE = 2,
  YZ_LOG_INFO = 3,
  YZ_LOG_DEBUG = 4,
} yz_log_level;

/* Lines at a level above this one are dropped. */
YZ_EXPORT void yz_log_set_level(yz_log_level level);
YZ_EXPORT yz_log_level yz_log_get_level(void);

/* "err", "warn", "notice", "info", "debug" -> level; 0 or YZ_E_INVAL. */
YZ_EXPORT YZ_WARN_UNUSED int yz_log_level_parse(const char *name,
                                                yz_log_level *out);
YZ_EXPORT const char *yz_log_level_name(yz_log_level level);

/* Replace the sink (NULL restores stderr). line has no trailing newline. */
typedef void (*yz_log_sink)(yz_log_level level, const char *line, void *ud);
YZ_EXPORT void yz_log_set_sink(yz_log_sink sink, void *ud);

/* Would a line at this level be emitted? (Skip costly formatting.) */
YZ_EXPORT bool yz_log_enabled(yz_log_level level);

/* Log a line (printf format; truncated at 1 KiB). */
YZ_EXPORT void yz_log(yz_log_level level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * A rate limiter for one kind of peer-triggered line: at most `burst` lines
 * per `window_ms`; the lines dropped are counted and reported with the next
 * line that passes ("... (N similar lines suppressed)"). Zero-initialise it
 * with YZ_LOG_RATELIMIT_INIT(burst, window_ms). Time comes from the caller
 * (the link layer passes uv_now()).
 */
typedef struct yz_log_ratelimit {
  uint64_t window_start_ms;
  uint32_t window_ms;
  uint32_t burst;
  uint32_t count;
  uint32_t suppressed;
} yz_log_ratelimit;

#define YZ_LOG_RATELIMIT_INIT(burst_, window_ms_)                              \
  { 0, (window_ms_), (burst_), 0, 0 }

/* Log through rl at now_ms; returns whether the line was emitted. */
YZ_EXPORT bool yz_log_rl(yz_log_ratelimit *rl, uint64_t now_ms,
                         yz_log_level level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* YZ_LOG_H */
