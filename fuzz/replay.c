/*
 * Replay driver: runs files through a libFuzzer-style harness without
 * libFuzzer, so every corpus file can be checked with any compiler (gcc
 * included) under the sanitizers of the test build.
 *
 *   replay_<target> [-v] FILE|DIR...
 *
 * Each FILE is passed to LLVMFuzzerTestOneInput() once; each DIR is read
 * (one level, sorted by name, hidden files skipped). Arguments that start
 * with '-' other than -v are ignored, so libFuzzer command lines such as
 * "-runs=0 corpus/" also work. Exit status: 0 when every input ran (a
 * crash ends the process through the sanitizer), 1 on an unreadable path,
 * 2 when no input was found at all.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int verbose;
static size_t n_run;

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) {
    fclose(f);
    return -1;
  }
  for (;;) {
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(buf);
    return -1;
  }
  if (verbose)
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
  /* An exact-size copy, so ASan sees reads past the end of the input. */
  uint8_t *exact = malloc(len ? len : 1);
  if (exact == NULL) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  (void)LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  n_run++;
  return 0;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *path)
{
  DIR *d = opendir(path);
  if (d == NULL) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 64;
      char **nn = realloc(names, nc * sizeof *nn);
      if (nn == NULL) {
        rc = -1;
        break;
      }
      names = nn;
      cap = nc;
    }
    size_t l = strlen(path) + strlen(de->d_name) + 2;
    names[n] = malloc(l);
    if (names[n] == NULL) {
      rc = -1;
      break;
    }
    snprintf(names[n], l, "%s/%s", path, de->d_name);
    n++;
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
      if (run_file(names[i]) != 0)
        rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv)
{
  int rc = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-v") == 0) {
      verbose = 1;
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      printf("usage: %s [-v] FILE|DIR...\n"
             "Runs each file (and each file of each directory) once through "
             "the harness.\n",
             argv[0]);
      return 0;
    }
    if (a[0] == '-')
      continue;
    struct stat st;
    if (stat(a, &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", a, strerror(errno));
      rc = 1;
      continue;
    }
    if ((S_ISDIR(st.st_mode) ? run_dir(a) : run_file(a)) != 0)
      rc = 1;
  }
  printf("replay: %zu inputs ran\n", n_run);
  if (rc == 0 && n_run == 0)
    return 2;
  return rc;
}
