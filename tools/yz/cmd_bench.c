/*
 * yz bench: measure yz against a baseline taken in the same run.
 * The areas are listed in bench_areas.h; the framework is bench.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

struct area {
  const char *name;
  yz_bench_area_fn fn;
  const char *summary;
};

static const struct area areas[] = {
#define YZ_BENCH_AREA(name, fn, summary) {name, fn, summary},
#include "bench_areas.h"
#undef YZ_BENCH_AREA
};

enum { N_AREAS = sizeof areas / sizeof areas[0] };

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: yz bench <area>... [--json] [--seconds S] [--quick]\n"
          "       yz bench all [--json] [--seconds S] [--quick]\n"
          "\n"
          "Measures yz against a baseline taken in the same run, and "
          "prints one\nline per figure: its value, and its ratio to the "
          "baseline.\n"
          "\n"
          "Options:\n"
          "  --json        one JSON object per line, with the keys figure, "
          "value,\n"
          "                unit, baseline, baseline_value, ratio\n"
          "  --seconds S   time budget of each area (default 4; decimals "
          "allowed)\n"
          "  --quick       a check of the output form, not a measurement: "
          "a budget\n"
          "                of 0.05 s (unless --seconds is given) and no "
          "long runs\n"
          "                (link: no 1,000/5,000/10,000-link figures)\n"
          "\n"
          "Areas:\n");
  for (size_t i = 0; i < N_AREAS; i++)
    fprintf(f, "  %-10s %s\n", areas[i].name, areas[i].summary);
  fprintf(f, "\nFigures and method: docs/benchmarks.md.\n");
}

static bool parse_seconds(const char *s, double *out)
{
  char *end;
  if (s == NULL || *s == '\0')
    return false;
  double v = strtod(s, &end);
  if (*end != '\0' || !(v > 0) || v > 3600)
    return false;
  *out = v;
  return true;
}

int cmd_bench_main(int argc, char **argv)
{
  yz_bench_opts opts = {.seconds = 4.0, .json = false, .quick = false};
  bool seconds_given = false;
  bool chosen[N_AREAS] = {false};
  size_t n_chosen = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      opts.json = true;
    } else if (strcmp(a, "--quick") == 0) {
      opts.quick = true;
    } else if (strcmp(a, "--seconds") == 0) {
      if (i + 1 >= argc)
        return yz_cli_usage_error("--seconds needs a value");
      if (!parse_seconds(argv[++i], &opts.seconds))
        return yz_cli_usage_error(
            "--seconds: '%s' is not a number of seconds in (0, 3600]",
            argv[i]);
      seconds_given = true;
    } else if (a[0] == '-') {
      return yz_cli_usage_error("unknown option '%s'", a);
    } else if (strcmp(a, "all") == 0) {
      for (size_t k = 0; k < N_AREAS; k++) {
        n_chosen += !chosen[k];
        chosen[k] = true;
      }
    } else {
      size_t k = 0;
      while (k < N_AREAS && strcmp(areas[k].name, a) != 0)
        k++;
      if (k == N_AREAS)
        return yz_cli_usage_error("unknown area '%s'", a);
      n_chosen += !chosen[k];
      chosen[k] = true;
    }
  }
  if (n_chosen == 0)
    return yz_cli_usage_error("which area? (e.g. 'yz bench noise')");
  if (opts.quick && !seconds_given)
    opts.seconds = 0.05;

  yz_bench_emitter e = {.out = stdout, .json = opts.json};
  for (size_t k = 0; k < N_AREAS; k++) {
    if (!chosen[k])
      continue;
    int rc = areas[k].fn(&opts, &e);
    if (rc != 0)
      return rc;
  }
  return YZ_EXIT_OK;
}
