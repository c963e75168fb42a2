/*
 * yz vectors: replay Noise test-vector files against yz's noise layer, or
 * generate vectors from yz for other implementations to check.
 * The parser and the engine are in tools/vectors/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vectors.h"

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: yz vectors [--verbose] [--expect-pass N] FILE...\n"
          "       yz vectors --generate NAME... [--seed S] [--payloads K] "
          "[--shape SHAPE]\n"
          "                  [--fail-at M] [-o FILE]\n"
          "\n"
          "Replays files in the Noise test-vector format (the protocol_name "
          "form and\n"
          "noise-c's name form): both sides of every conversation run in "
          "memory and\n"
          "every handshake and transport ciphertext, payload and handshake "
          "hash is\n"
          "checked. A negative vector (\"fail\": true, \"fail_at\": M) "
          "passes only if\n"
          "messages 0 to M-1 hold and the receiver of message M rejects the "
          "vector's\nciphertext of it.\n"
          "Vectors with primitives yz does not run (448, BLAKE2s, hfs, ...) "
          "or the\n"
          "obsolete NoisePSK_ scheme are skipped. Prints a line per file and "
          "a total.\n"
          "\n"
          "  --verbose        name each failing vector, its message and the "
          "reason,\n"
          "                   and count the skips by reason\n"
          "  --expect-pass N  also fail unless exactly N vectors passed in "
          "all\n"
          "\n"
          "With --generate, writes one vector per protocol NAME (e.g.\n"
          "Noise_XXpsk3_25519_ChaChaPoly_SHA256) in the protocol_name form, "
          "with\n"
          "handshake_hash. Keys, ephemerals, psks, prologue and payloads all "
          "derive\n"
          "from the seed, so the output is the same for the same seed.\n"
          "\n"
          "  --seed S         any string (default \"yz\")\n"
          "  --payloads K     transport messages after the handshake "
          "(default 2)\n"
          "  --shape SHAPE    default (16-byte prologue, payloads of 0 to 48 "
          "bytes),\n"
          "                   empty-prologue, long-prologue (4096 bytes),\n"
          "                   max-handshake (every handshake message 65535 "
          "bytes),\n"
          "                   max-transport (65519-byte transport payloads), "
          "or all:\n"
          "                   one vector per NAME and shape\n"
          "  --fail-at M      negative vectors: flip one bit of message M's "
          "ciphertext\n"
          "                   and mark the vector \"fail\", \"fail_at\": M\n"
          "  -o FILE          write to FILE instead of standard output\n"
          "\n"
          "Exit status: 0 if everything passed, 1 on a failure or an "
          "unreadable\nfile, 2 on a usage error.\n");
}

/* Read a whole file, refusing more than the parser's bound. */
static int read_file(const char *path, uint8_t **data, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return yz_cli_error("%s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  int rc = 0;
  while (buf != NULL) {
    if (n == cap) {
      if (cap > YZ_VEC_MAX_INPUT) {
        rc = yz_cli_error("%s: larger than %d bytes", path,
                          YZ_VEC_MAX_INPUT);
        break;
      }
      uint8_t *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f))
        rc = yz_cli_error("%s: read error", path);
      break;
    }
  }
  fclose(f);
  if (buf == NULL)
    return yz_cli_error("%s: out of memory", path);
  if (rc != 0) {
    free(buf);
    return rc;
  }
  *data = buf;
  *len = n;
  return 0;
}

/* Skip counts by reason. Reasons are few; a small table will do. */
enum { MAX_REASONS = 32 };
struct skips {
  const char *reason[MAX_REASONS];
  unsigned long count[MAX_REASONS];
  size_t n;
};

static void skip_add(struct skips *s, const char *reason, unsigned long k)
{
  for (size_t i = 0; i < s->n; i++) {
    if (strcmp(s->reason[i], reason) == 0) {
      s->count[i] += k;
      return;
    }
  }
  /* The last slot collects whatever does not fit. */
  if (s->n == MAX_REASONS - 1)
    reason = "other reasons";
  if (s->n < MAX_REASONS) {
    s->reason[s->n] = reason;
    s->count[s->n++] = k;
  } else {
    s->count[MAX_REASONS - 1] += k;
  }
}

struct totals {
  unsigned long passed, failed, skipped;
};

static int replay_file(const char *path, bool verbose, struct totals *t,
                       struct skips *all)
{
  uint8_t *data = NULL;
  size_t len = 0;
  if (read_file(path, &data, &len) != 0)
    return YZ_EXIT_FAIL;
  yz_vec_set *set;
  char err[YZ_VEC_ERR_LEN];
  int rc = yz_vec_parse(data, len, &set, err, sizeof err);
  free(data);
  if (rc != 0)
    return yz_cli_error("%s: %s", path, err);

  struct totals ft = {0, 0, 0};
  struct skips fs = {.n = 0};
  for (size_t i = 0; i < set->n_vectors; i++) {
    const yz_vec_vector *v = &set->vectors[i];
    yz_vec_result r;
    yz_vec_replay(v, &r);
    switch (r.outcome) {
    case YZ_VEC_PASSED:
      ft.passed++;
      break;
    case YZ_VEC_SKIPPED:
      ft.skipped++;
      skip_add(&fs, r.skip_reason, 1);
      break;
    case YZ_VEC_FAILED:
      ft.failed++;
      if (verbose && r.message >= 0)
        printf("  FAIL vector %zu %s: message %d: %s\n", i, v->name,
               r.message, r.detail);
      else if (verbose)
        printf("  FAIL vector %zu %s: %s\n", i, v->name, r.detail);
      break;
    }
  }
  yz_vec_set_free(set);
  printf("%s: %lu passed, %lu failed, %lu skipped\n", path, ft.passed,
         ft.failed, ft.skipped);
  for (size_t i = 0; verbose && i < fs.n; i++)
    printf("  skipped %lu: %s\n", fs.count[i], fs.reason[i]);
  for (size_t i = 0; i < fs.n; i++)
    skip_add(all, fs.reason[i], fs.count[i]);
  t->passed += ft.passed;
  t->failed += ft.failed;
  t->skipped += ft.skipped;
  return ft.failed == 0 ? YZ_EXIT_OK : YZ_EXIT_FAIL;
}

/* shape_all: every shape for every name, names first. */
static int generate(char **names, size_t n, const char *seed,
                    unsigned payloads, int shape, bool shape_all, long fail_at,
                    const char *out_path)
{
  size_t per = shape_all ? YZ_VEC_SHAPE_COUNT : 1;
  yz_vec_set set = {calloc(n * per, sizeof(yz_vec_vector)), 0};
  if (set.vectors == NULL)
    return yz_cli_error("out of memory");
  int status = YZ_EXIT_OK;
  for (size_t i = 0; i < n * per; i++) {
    char err[YZ_VEC_ERR_LEN];
    yz_vec_shape sh =
        shape_all ? (yz_vec_shape)(i % per) : (yz_vec_shape)shape;
    if (yz_vec_generate_ex(&set.vectors[i], names[i / per],
                           (const uint8_t *)seed, strlen(seed), payloads, sh,
                           fail_at, err, sizeof err) != 0) {
      status = yz_cli_error("%s", err);
      goto out;
    }
    set.n_vectors = i + 1;
  }
  char *json = yz_vec_dump(&set);
  if (json == NULL) {
    status = yz_cli_error("out of memory");
    goto out;
  }
  FILE *f = out_path != NULL ? fopen(out_path, "w") : stdout;
  if (f == NULL) {
    status = yz_cli_error("%s: %s", out_path, strerror(errno));
  } else {
    fputs(json, f);
    fputc('\n', f);
    if (fflush(f) != 0 || ferror(f))
      status = yz_cli_error("%s: write error",
                            out_path != NULL ? out_path : "stdout");
    if (out_path != NULL && fclose(f) != 0 && status == 0)
      status = yz_cli_error("%s: write error", out_path);
  }
  free(json);
out:
  for (size_t i = 0; i < set.n_vectors; i++)
    yz_vec_vector_clear(&set.vectors[i]);
  free(set.vectors);
  return status;
}

int cmd_vectors_main(int argc, char **argv)
{
  bool verbose = false, gen = false;
  const char *seed = NULL, *out_path = NULL;
  unsigned long long payloads = 2, expect = 0, fail_at = 0;
  bool have_payloads = false, have_expect = false, have_fail_at = false;
  bool shape_all = false;
  int shape = YZ_VEC_SHAPE_DEFAULT;
  const char *shape_arg = NULL;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  size_t n = 0;
  if (args == NULL)
    return yz_cli_error("out of memory");
  int rc = YZ_EXIT_OK;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (yz_cli_is_help(a)) {
      usage(stdout);
      goto out;
    } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
      verbose = true;
    } else if (strcmp(a, "--generate") == 0) {
      gen = true;
    } else if (strcmp(a, "--seed") == 0 || strcmp(a, "--payloads") == 0 ||
               strcmp(a, "-o") == 0 || strcmp(a, "--expect-pass") == 0 ||
               strcmp(a, "--shape") == 0 || strcmp(a, "--fail-at") == 0) {
      if (i + 1 >= argc) {
        rc = yz_cli_usage_error("%s needs a value", a);
        goto out;
      }
      const char *val = argv[++i];
      if (strcmp(a, "--seed") == 0) {
        seed = val;
      } else if (strcmp(a, "-o") == 0) {
        out_path = val;
      } else if (strcmp(a, "--shape") == 0) {
        shape_arg = val;
        shape = -1;
        shape_all = strcmp(val, "all") == 0;
        for (int k = 0; k < YZ_VEC_SHAPE_COUNT && !shape_all; k++)
          if (strcmp(val, yz_vec_shape_name((yz_vec_shape)k)) == 0)
            shape = k;
        if (shape < 0 && !shape_all) {
          rc = yz_cli_usage_error("--shape: unknown shape '%s'", val);
          goto out;
        }
      } else if (strcmp(a, "--fail-at") == 0) {
        have_fail_at = true;
        if (!yz_cli_parse_u64(val, 0, YZ_VEC_MAX_MESSAGES - 1, &fail_at)) {
          rc = yz_cli_usage_error("--fail-at: '%s' is not a message index "
                                  "from 0 to %d",
                                  val, YZ_VEC_MAX_MESSAGES - 1);
          goto out;
        }
      } else if (strcmp(a, "--payloads") == 0) {
        have_payloads = true;
        if (!yz_cli_parse_u64(val, 0, YZ_VEC_MAX_MESSAGES - 16, &payloads)) {
          rc = yz_cli_usage_error("--payloads: '%s' is not a number from 0 "
                                  "to %d",
                                  val, YZ_VEC_MAX_MESSAGES - 16);
          goto out;
        }
      } else {
        have_expect = true;
        if (!yz_cli_parse_u64(val, 0, 1ull << 32, &expect)) {
          rc = yz_cli_usage_error("--expect-pass: '%s' is not a count", val);
          goto out;
        }
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      rc = yz_cli_usage_error("unknown option '%s'", a);
      goto out;
    } else {
      args[n++] = argv[i];
    }
  }

  if (gen) {
    if (verbose || have_expect) {
      rc = yz_cli_usage_error("--verbose and --expect-pass are for replay");
      goto out;
    }
    if (n == 0) {
      rc = yz_cli_usage_error("--generate needs protocol names");
      goto out;
    }
    rc = generate(args, n, seed != NULL ? seed : "yz", (unsigned)payloads,
                  shape, shape_all, have_fail_at ? (long)fail_at : -1,
                  out_path);
    goto out;
  }
  if (seed != NULL || out_path != NULL || have_payloads || shape_arg != NULL ||
      have_fail_at) {
    rc = yz_cli_usage_error("--seed, --payloads, --shape, --fail-at and -o "
                            "need --generate");
    goto out;
  }
  if (n == 0) {
    rc = yz_cli_usage_error("no vector files given");
    goto out;
  }

  struct totals t = {0, 0, 0};
  struct skips all = {.n = 0};
  for (size_t i = 0; i < n; i++) {
    if (replay_file(args[i], verbose, &t, &all) != YZ_EXIT_OK)
      rc = YZ_EXIT_FAIL;
  }
  if (n > 1 && verbose) {
    for (size_t i = 0; i < all.n; i++)
      printf("  all files: skipped %lu: %s\n", all.count[i], all.reason[i]);
  }
  printf("%lu passed, %lu failed, %lu skipped\n", t.passed, t.failed,
         t.skipped);
  if (have_expect && t.passed != expect) {
    yz_cli_error("expected %llu vectors to pass, %lu did", expect, t.passed);
    rc = YZ_EXIT_FAIL;
  }
out:
  free(args);
  return rc;
}
