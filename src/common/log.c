/*
 * log.c: the yz logger (yz/log.h).
 */
#include "yz/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static yz_log_level g_level = YZ_LOG_WARN;
static yz_log_sink g_sink;
static void *g_sink_ud;

static const char *const level_names[] = {"err", "warn", "notice", "info",
                                          "debug"};
static const char level_letters[] = "EWNID";

void yz_log_set_level(yz_log_level level) {
  if (level < YZ_LOG_ERR)
    level = YZ_LOG_ERR;
  if (level > YZ_LOG_DEBUG)
    level = YZ_LOG_DEBUG;
  g_level = level;
}

yz_log_level yz_log_get_level(void) { return g_level; }

int yz_log_level_parse(const char *name, yz_log_level *out) {
  if (name == NULL)
    return YZ_E_INVAL;
  for (int i = 0; i <= (int)YZ_LOG_DEBUG; i++)
    if (strcmp(name, level_names[i]) == 0) {
      *out = (yz_log_level)i;
      return 0;
    }
  if (strcmp(name, "error") == 0) {
    *out = YZ_LOG_ERR;
    return 0;
  }
  if (strcmp(name, "warning") == 0) {
    *out = YZ_LOG_WARN;
    return 0;
  }
  return YZ_E_INVAL;
}

const char *yz_log_level_name(yz_log_level level) {
  if (level < YZ_LOG_ERR || level > YZ_LOG_DEBUG)
    return "unknown";
  return level_names[level];
}

void yz_log_set_sink(yz_log_sink sink, void *ud) {
  g_sink = sink;
  g_sink_ud = ud;
}

bool yz_log_enabled(yz_log_level level) { return level <= g_level; }

static void emit(yz_log_level level, const char *line) {
  if (g_sink != NULL) {
    g_sink(level, line, g_sink_ud);
    return;
  }
  fprintf(stderr, "yz: %c: %s\n", level_letters[level], line);
}

static void vlog(yz_log_level level, const char *suffix, const char *fmt,
                 va_list ap) {
  char line[1024];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  if (n < 0)
    return;
  /* Peer-supplied text may end up in a line: keep it printable. */
  for (char *p = line; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
      *p = '?';
  if (suffix != NULL) {
    size_t len = strlen(line);
    snprintf(line + len, sizeof line - len, "%s", suffix);
  }
  emit(level, line);
}

void yz_log(yz_log_level level, const char *fmt, ...) {
  if (!yz_log_enabled(level))
    return;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, NULL, fmt, ap);
  va_end(ap);
}

bool yz_log_rl(yz_log_ratelimit *rl, uint64_t now_ms, yz_log_level level,
               const char *fmt, ...) {
  if (!yz_log_enabled(level))
    return false;
  if (now_ms - rl->window_start_ms >= rl->window_ms ||
      now_ms < rl->window_start_ms) {
    rl->window_start_ms = now_ms;
    rl->count = 0;
  }
  if (rl->count >= rl->burst) {
    rl->suppressed++;
    return false;
  }
  rl->count++;
  char suffix[64];
  const char *sp = NULL;
  if (rl->suppressed > 0) {
    snprintf(suffix, sizeof suffix, " (%u similar lines suppressed)",
             rl->suppressed);
    rl->suppressed = 0;
    sp = suffix;
  }
  va_list ap;
  va_start(ap, fmt);
  vlog(level, sp, fmt, ap);
  va_end(ap);
  return true;
}
