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

void yz_cli_hex(const uint8_t *p, size_t n, char *out)
{
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  out[2 * n] = '\0';
}

bool yz_cli_parse_hex32(const char *s, uint8_t out[32])
{
  if (s == NULL || strlen(s) != 64)
    return false;
  for (size_t i = 0; i < 32; i++) {
    unsigned v = 0;
    for (int j = 0; j < 2; j++) {
      char ch = s[2 * i + (size_t)j];
      unsigned x;
      if (ch >= '0' && ch <= '9')
        x = (unsigned)(ch - '0');
      else if (ch >= 'a' && ch <= 'f')
        x = (unsigned)(ch - 'a' + 10);
      else if (ch >= 'A' && ch <= 'F')
        x = (unsigned)(ch - 'A' + 10);
      else
        return false;
      v = v * 16 + x;
    }
    out[i] = (uint8_t)v;
  }
  return true;
}

bool yz_cli_printable(const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\n' && p[i] != '\t')
      return false;
  return true;
}

void yz_cli_json_text(const uint8_t *p, size_t n)
{
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\')
      printf("\\%c", p[i]);
    else if (p[i] == '\n')
      printf("\\n");
    else if (p[i] == '\t')
      printf("\\t");
    else
      putchar(p[i]);
  }
  putchar('"');
}
