/*
 * Shared pieces of the yz and yz-node command lines.
 */
#ifndef YZ_TOOLS_CLI_H
#define YZ_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by all subcommands (each documents its own extras). */
enum {
  YZ_EXIT_OK = 0,
  YZ_EXIT_FAIL = 1,  /* the operation failed */
  YZ_EXIT_USAGE = 2, /* bad command line */
};

/* The program name for messages ("yz vectors"). */
extern const char *yz_cli_prog;

/* Print "yz <cmd>: <message>\n" to stderr; returns YZ_EXIT_FAIL. */
int yz_cli_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Print a usage error and a hint to run --help; returns YZ_EXIT_USAGE. */
int yz_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* True if arg is -h or --help. */
bool yz_cli_is_help(const char *arg);

/* Parse an unsigned decimal integer in [min, max]; false on anything else. */
bool yz_cli_parse_u64(const char *s, unsigned long long min,
                      unsigned long long max, unsigned long long *out);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void yz_cli_hex(const uint8_t *p, size_t n, char *out);

/* Exactly 64 hex digits (either case) into 32 bytes; false otherwise. */
bool yz_cli_parse_hex32(const char *s, uint8_t out[32]);

/* Whether p is printable ASCII text (tab and newline allowed), to be
 * shown as text rather than hex. */
bool yz_cli_printable(const uint8_t *p, size_t n);

/* A JSON string of printable text (yz_cli_printable(), checked by the
 * caller) on stdout: quote, backslash, newline and tab escaped. */
void yz_cli_json_text(const uint8_t *p, size_t n);

#define YZ_CMD(name, fn, summary) int fn(int argc, char **argv);
#include "commands.h"
#undef YZ_CMD

#endif
