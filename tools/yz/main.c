/*
 * yz: the yz command line. A table of subcommands (commands.h), one file
 * each, in the manner of wg(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yz/common.h"

struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
#define YZ_CMD(name, fn, summary) {name, fn, summary},
#include "commands.h"
#undef YZ_CMD
};

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: yz <command> [options]\n"
          "\n"
          "yz: secure links for the YZ overlay network (Noise over "
          "WebSocket).\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'yz <command> --help' describes each one.\n");
}

int cmd_version_main(int argc, char **argv)
{
  if (argc > 1 && yz_cli_is_help(argv[1])) {
    printf("Usage: yz version\n\nPrints the yz version.\n");
    return YZ_EXIT_OK;
  }
  if (argc > 1)
    return yz_cli_usage_error("unexpected argument '%s'", argv[1]);
  printf("yz %s\n", yz_version());
  return YZ_EXIT_OK;
}

int main(int argc, char **argv)
{
  /* Line-buffered output: progress is visible when piped, and nothing is
   * lost if a sanitizer ends the process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    usage(stderr);
    return YZ_EXIT_USAGE;
  }
  if (yz_cli_is_help(argv[1])) {
    usage(stdout);
    return YZ_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0)
    return cmd_version_main(1, argv + 1);
  if (yz_init() != 0) {
    fprintf(stderr, "yz: cannot initialise libsodium\n");
    return YZ_EXIT_FAIL;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      static char prog[64];
      snprintf(prog, sizeof prog, "yz %s", commands[i].name);
      yz_cli_prog = prog;
      return commands[i].fn(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "yz: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return YZ_EXIT_USAGE;
}
