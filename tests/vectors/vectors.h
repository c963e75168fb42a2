/*
 * tests/vectors/vectors.h: what the protocol vector programs share
 * (yz_record_vectors.c, yz_dht_msg_vectors.c, yz_dhtrec_vectors.c,
 * yz_pubsub_vectors.c, yz_seal_vectors.c; README.md): the way they fail,
 * hex strings in JSON, and the two modes of their command line. Included
 * once by each, after defining VEC_PROG, the program's name.
 */
#ifndef YZ_TESTS_VECTORS_H
#define YZ_TESTS_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"

#ifndef VEC_PROG
#error "define VEC_PROG (the program's name) before including vectors.h"
#endif

_Noreturn static void die(const char *what)
{
  fprintf(stderr, VEC_PROG ": %s\n", what);
  exit(1);
}

/* A JSON string of the lowercase hex of p[0..n). */
static json_t *hex(const uint8_t *p, size_t n)
{
  char *s = malloc(2 * n + 1);
  if (!s)
    die("out of memory");
  yz__hex_encode(s, p, n);
  json_t *j = json_string(s);
  free(s);
  return j;
}

/* The command line: `--generate` prints gen (what the code produces
 * today) and exits 0; `FILE` loads the file (duplicate keys rejected) and
 * returns it, after checking that it is exactly gen (every vector's result
 * was checked against its intended result while generating). Anything
 * else, or a file that differs: exit 1. */
static json_t *vec_command_line(int argc, char **argv, json_t *gen)
{
  if (argc == 2 && strcmp(argv[1], "--generate") == 0) {
    char *text = json_dumps(gen, JSON_INDENT(1));
    if (!text)
      die("json");
    printf("%s\n", text);
    free(text);
    json_decref(gen);
    exit(0);
  }
  if (argc != 2)
    die("usage: " VEC_PROG " --generate | FILE");
  json_error_t err;
  json_t *file = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &err);
  if (!file) {
    fprintf(stderr, "%s:%d: %s\n", argv[1], err.line, err.text);
    die("cannot load the vector file");
  }
  if (!json_equal(file, gen))
    die("the vector file differs from what --generate prints");
  return file;
}

#endif /* YZ_TESTS_VECTORS_H */
