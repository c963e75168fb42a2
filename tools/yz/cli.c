#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *yz_cli_prog = "yz";

int yz_cli_error(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "%s: ", yz_cli_prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return YZ_EXIT_FAIL;
}

int yz_cli_usage_error(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "%s: ", yz_cli_prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help'.\n", yz_cli_prog);
  return YZ_EXIT_USAGE;
}

bool yz_cli_is_help(const char *arg)
{
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool yz_cli_parse_u64(const char *s, unsigned long long min,
                      unsigned long long max, unsigned long long *out)
{
  if (s == NULL || *s < '0' || *s > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return false;
  *out = v;
  return true;
}
