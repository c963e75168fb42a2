/* src/identity/keyfile.c: the key-file text format and its file handling
 * (mode 0600, no overwrite, refusal of files others can read). Files live
 * in a fresh mkdtemp() directory under /tmp. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "yz/identity.h"

#define SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define NODE_ID                                                               \
  "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
#define OTHER_ID                                                              \
  "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f"
#define HDR "yz-identity-v1\n"

/* The exact text yz writes for RFC 8032 test 1's seed: pinned, so a change
 * of format is a deliberate act (and docs/operations.md shows the same). */
static const char expected_text[] =
    "yz-identity-v1\n"
    "# yz node identity key. Keep it secret: whoever can read this file can\n"
    "# act as this node. Keep a backup: losing it means a new node ID.\n"
    "node-id " NODE_ID "\n"
    "seed " SEED "\n";

static void rfc_identity(yz_identity *id)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  assert_int_equal(yz__hex_decode(seed, sizeof seed, SEED, strlen(SEED)), 0);
  assert_int_equal(yz_identity_from_seed(id, seed), 0);
}

static void test_format_and_parse(void **state)
{
  (void)state;
  yz_identity id, back;
  char text[YZ_IDENTITY_KEYFILE_TEXT_MAX];
  rfc_identity(&id);
  int n = yz_identity_format_keyfile(&id, text, sizeof text);
  assert_int_equal(n, (int)strlen(expected_text));
  assert_string_equal(text, expected_text);

  const char *why = "unset";
  assert_int_equal(
      yz_identity_parse_keyfile(&back, (const uint8_t *)text, (size_t)n, &why),
      0);
  assert_null(why);
  assert_memory_equal(back.sk, id.sk, sizeof id.sk);
  assert_memory_equal(back.pk, id.pk, sizeof id.pk);
  assert_true(yz_node_id_equal(&back.id, &id.id));

  /* Too small a buffer: an error, never a cut key. */
  assert_int_equal(yz_identity_format_keyfile(&id, text, (size_t)n),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_identity_format_keyfile(&id, text, (size_t)n + 1), n);
}

struct parse_case {
  const char *name;
  const char *text;
  int rc;
  const char *reason_has;
};

static const struct parse_case parse_cases[] = {
    {"minimal", HDR "seed " SEED "\n", 0, NULL},
    {"with node-id after seed", HDR "seed " SEED "\nnode-id " NODE_ID "\n", 0,
     NULL},
    {"comments anywhere", HDR "#\n# x\nseed " SEED "\n# end\n", 0, NULL},
    {"empty", "", YZ_E_TRUNCATED, "empty"},
    {"header only", HDR, YZ_E_TRUNCATED, "no seed"},
    {"comment only", HDR "# nothing\n", YZ_E_TRUNCATED, "no seed"},
    {"bad header", "yz-key\nseed " SEED "\n", YZ_E_MALFORMED, "first line"},
    {"header with space", "yz-identity-v1 \nseed " SEED "\n", YZ_E_MALFORMED,
     "first line"},
    {"future version", "yz-identity-v2\nseed " SEED "\n", YZ_E_UNSUPPORTED,
     "version"},
    {"header not first", "# hi\n" HDR "seed " SEED "\n", YZ_E_MALFORMED,
     "first line"},
    {"no final newline", HDR "seed " SEED, YZ_E_TRUNCATED, "newline"},
    {"short seed", HDR "seed 9d61b19d\n", YZ_E_TRUNCATED, "too short"},
    {"seed 63 digits",
     HDR
     "seed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6\n",
     YZ_E_TRUNCATED, "too short"},
    {"seed 65 digits", HDR "seed " SEED "0\n", YZ_E_TRAILING, "after"},
    {"seed trailing space", HDR "seed " SEED " \n", YZ_E_TRAILING, "after"},
    {"uppercase seed",
     HDR
     "seed 9D61B19DEFFD5A60BA844AF492EC2CC44449C5697B326919703BAC031CAE7F60\n",
     YZ_E_MALFORMED, "lowercase"},
    {"two spaces", HDR "seed  " SEED "\n", YZ_E_MALFORMED, "seed"},
    {"trailing junk line", HDR "seed " SEED "\njunk\n", YZ_E_MALFORMED,
     "not 'seed'"},
    {"trailing junk bytes", HDR "seed " SEED "\njunk", YZ_E_TRUNCATED,
     "trailing"},
    {"empty line", HDR "seed " SEED "\n\n", YZ_E_MALFORMED, "empty line"},
    {"duplicate seed", HDR "seed " SEED "\nseed " SEED "\n", YZ_E_DUPLICATE,
     "more than one seed"},
    {"duplicate node-id",
     HDR "node-id " NODE_ID "\nnode-id " NODE_ID "\nseed " SEED "\n",
     YZ_E_DUPLICATE, "more than one node-id"},
    {"node-id mismatch", HDR "node-id " OTHER_ID "\nseed " SEED "\n",
     YZ_E_MALFORMED, "does not match"},
    {"node-id uppercase",
     HDR "node-id "
         "21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47F9721B9\n"
         "seed " SEED "\n",
     YZ_E_MALFORMED, "uppercase"},
    {"node-id short", HDR "node-id 21fe\nseed " SEED "\n", YZ_E_TRUNCATED,
     "too short"},
    {"CRLF", "yz-identity-v1\r\nseed " SEED "\r\n", YZ_E_MALFORMED, "CR"},
    {"tab", HDR "#\tx\nseed " SEED "\n", YZ_E_MALFORMED, "printable"},
    {"high byte", HDR "# caf\xc3\xa9\nseed " SEED "\n", YZ_E_MALFORMED,
     "printable"},
    {"unknown field", HDR "seed " SEED "\nname alice\n", YZ_E_MALFORMED,
     "not 'seed'"},
};

static void test_parse_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(parse_cases); i++) {
    const struct parse_case *c = &parse_cases[i];
    yz_identity id;
    const char *why = "unset";
    int rc = yz_identity_parse_keyfile(&id, (const uint8_t *)c->text,
                                       strlen(c->text), &why);
    if (rc != c->rc)
      fail_msg("case '%s': got %s (%s), want %s", c->name, yz_err_name(rc),
               why ? why : "-", yz_err_name(c->rc));
    if (rc == 0) {
      char hex[YZ_NODE_ID_HEX_LEN + 1];
      assert_null(why);
      yz_node_id_to_hex(&id.id, hex);
      assert_string_equal(hex, NODE_ID);
    } else {
      static const uint8_t zero[sizeof(yz_identity)];
      assert_non_null(why);
      if (strstr(why, c->reason_has) == NULL)
        fail_msg("case '%s': reason '%s' lacks '%s'", c->name, why,
                 c->reason_has);
      assert_memory_equal(&id, zero, sizeof id); /* wiped on error */
    }
  }
}

static void test_parse_nul_and_oversized(void **state)
{
  (void)state;
  yz_identity id;
  const char *why;
  static const char good[] = HDR "seed " SEED "\n";
  uint8_t buf[YZ_IDENTITY_KEYFILE_MAX + 2];

  /* An embedded NUL: lengths rule, not C strings. */
  memcpy(buf, good, sizeof good - 1);
  buf[3] = 0;
  assert_int_equal(yz_identity_parse_keyfile(&id, buf, sizeof good - 1, &why),
                   YZ_E_MALFORMED);

  /* Exactly the maximum, padded with comment lines, is fine; one byte
   * more is refused before anything else is looked at. */
  size_t n = sizeof good - 1;
  memcpy(buf, good, n);
  while (n < YZ_IDENTITY_KEYFILE_MAX) {
    /* Lines of 80 bytes, the last one taking what is left (at least 2). */
    size_t room = YZ_IDENTITY_KEYFILE_MAX - n;
    size_t line = room >= 82 ? 80 : room;
    buf[n] = '#';
    memset(buf + n + 1, 'x', line - 2);
    buf[n + line - 1] = '\n';
    n += line;
  }
  assert_int_equal(n, YZ_IDENTITY_KEYFILE_MAX);
  assert_int_equal(yz_identity_parse_keyfile(&id, buf, n, &why), 0);
  buf[n] = '\n';
  assert_int_equal(yz_identity_parse_keyfile(&id, buf, n + 1, &why),
                   YZ_E_TOO_LARGE);
  assert_non_null(strstr(why, "4096"));
}

/* ---- files ---- */

static char dir[64];

static int make_dir(void **state)
{
  (void)state;
  strcpy(dir, "/tmp/yz-test-keyfile-XXXXXX");
  return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
  snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, size_t n,
                       mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  assert_int_equal(close(fd), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_save_load_round_trip(void **state)
{
  (void)state;
  char path[128];
  yz_identity id, back;
  struct stat st;
  const char *why = "unset";
  path_of(path, sizeof path, "node.key");
  assert_int_equal(yz_identity_generate(&id), 0);

  /* 0600 whatever the umask says. */
  mode_t old = umask(0);
  assert_int_equal(yz_identity_save(&id, path), 0);
  umask(old);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);

  assert_int_equal(yz_identity_load(&back, path, &why), 0);
  assert_null(why);
  assert_memory_equal(back.sk, id.sk, sizeof id.sk);
  assert_true(yz_node_id_equal(&back.id, &id.id));

  /* 0400 is fine too: only group and other bits matter. */
  assert_int_equal(chmod(path, 0400), 0);
  assert_int_equal(yz_identity_load(&back, path, &why), 0);

  /* Through a symlink (as secret stores mount keys). */
  char link[128];
  path_of(link, sizeof link, "link.key");
  assert_int_equal(symlink(path, link), 0);
  assert_int_equal(yz_identity_load(&back, link, &why), 0);
  assert_true(yz_node_id_equal(&back.id, &id.id));
  yz_identity_clear(&id);
  yz_identity_clear(&back);
}

static void test_save_refuses_overwrite(void **state)
{
  (void)state;
  char path[128], link[128];
  yz_identity a, b, back;
  path_of(path, sizeof path, "once.key");
  assert_int_equal(yz_identity_generate(&a), 0);
  assert_int_equal(yz_identity_generate(&b), 0);
  assert_int_equal(yz_identity_save(&a, path), 0);
  errno = 0;
  assert_int_equal(yz_identity_save(&b, path), YZ_E_IO);
  assert_int_equal(errno, EEXIST);
  assert_int_equal(yz_identity_load(&back, path, NULL), 0);
  assert_true(yz_node_id_equal(&back.id, &a.id)); /* the first one stays */

  /* Nor through a dangling symlink planted at the path. */
  path_of(link, sizeof link, "planted.key");
  char target[128];
  path_of(target, sizeof target, "elsewhere.key");
  assert_int_equal(symlink(target, link), 0);
  assert_int_equal(yz_identity_save(&a, link), YZ_E_IO);
  assert_int_equal(errno, EEXIST);
  struct stat st;
  assert_int_equal(lstat(target, &st), -1);

  /* A missing directory: YZ_E_IO, errno says why. */
  path_of(path, sizeof path, "no/such/dir.key");
  assert_int_equal(yz_identity_save(&a, path), YZ_E_IO);
  assert_int_equal(errno, ENOENT);
  yz_identity_clear(&a);
  yz_identity_clear(&b);
}

static void test_load_refuses_loose_modes(void **state)
{
  (void)state;
  static const struct {
    mode_t mode;
    const char *what;
  } modes[] = {
      {0644, "readable by others (mode 0644)"},
      {0640, "readable by others (mode 0640)"},
      {0604, "readable by others (mode 0604)"},
      {0620, "writable by others (mode 0620)"},
      {0610, "accessible by others (mode 0610)"},
      {0666, "readable by others (mode 0666)"},
  };
  char path[128], text[YZ_IDENTITY_KEYFILE_TEXT_MAX], want[512];
  yz_identity id;
  rfc_identity(&id);
  int n = yz_identity_format_keyfile(&id, text, sizeof text);
  assert_true(n > 0);
  path_of(path, sizeof path, "loose.key");
  for (size_t i = 0; i < YZ__ARRAY_LEN(modes); i++) {
    const char *why = NULL;
    write_file(path, text, (size_t)n, modes[i].mode);
    assert_int_equal(yz_identity_load(&id, path, &why), YZ_E_PERM);
    assert_non_null(why);
    snprintf(want, sizeof want, "key file %s is %s; run: chmod 600 %s", path,
             modes[i].what, path);
    assert_string_equal(why, want);
    assert_non_null(strstr(why, "chmod 600"));
  }
  /* Fixed as the message says: loads. */
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(yz_identity_load(&id, path, NULL), 0);
  assert_int_equal(unlink(path), 0);
  yz_identity_clear(&id);
}

struct file_case {
  const char *name, *text;
  int rc;
  const char *reason_has;
};

static void test_load_bad_files(void **state)
{
  (void)state;
  static const struct file_case cases[] = {
      {"bad-header", "ssh-ed25519 AAAA\n", YZ_E_MALFORMED, "first line"},
      {"short-seed", HDR "seed 9d61\n", YZ_E_TRUNCATED, "too short"},
      {"junk", HDR "seed " SEED "\nrm -rf /\n", YZ_E_MALFORMED, "not 'seed'"},
      {"dup", HDR "seed " SEED "\nseed " SEED "\n", YZ_E_DUPLICATE, "more"},
      {"mismatch", HDR "node-id " OTHER_ID "\nseed " SEED "\n", YZ_E_MALFORMED,
       "corrupt"},
  };
  char path[128];
  yz_identity id;
  for (size_t i = 0; i < YZ__ARRAY_LEN(cases); i++) {
    const char *why = NULL;
    path_of(path, sizeof path, cases[i].name);
    write_file(path, cases[i].text, strlen(cases[i].text), 0600);
    int rc = yz_identity_load(&id, path, &why);
    if (rc != cases[i].rc)
      fail_msg("%s: got %s, want %s", cases[i].name, yz_err_name(rc),
               yz_err_name(cases[i].rc));
    assert_non_null(why);
    assert_non_null(strstr(why, path)); /* the reason names the file */
    if (strstr(why, cases[i].reason_has) == NULL)
      fail_msg("%s: reason '%s' lacks '%s'", cases[i].name, why,
               cases[i].reason_has);
  }

  /* Oversized: refused from its size, before reading. */
  static char big[YZ_IDENTITY_KEYFILE_MAX + 100];
  memset(big, '#', sizeof big);
  path_of(path, sizeof path, "big.key");
  write_file(path, big, sizeof big, 0600);
  const char *why = NULL;
  assert_int_equal(yz_identity_load(&id, path, &why), YZ_E_TOO_LARGE);
  assert_non_null(strstr(why, "larger than 4096"));

  /* Missing file: YZ_E_NOENT and a hint. */
  path_of(path, sizeof path, "missing.key");
  assert_int_equal(yz_identity_load(&id, path, &why), YZ_E_NOENT);
  assert_non_null(strstr(why, "yz keygen"));

  /* A directory is not a key file. */
  assert_int_equal(yz_identity_load(&id, dir, &why), YZ_E_IO);
  assert_non_null(strstr(why, "not a regular file"));
}

static void test_load_or_create(void **state)
{
  (void)state;
  char path[128];
  yz_identity a, b;
  bool created = false;
  const char *why = "unset";
  path_of(path, sizeof path, "auto.key");
  assert_int_equal(yz_identity_load_or_create(&a, path, &created, &why), 0);
  assert_true(created);
  assert_null(why);
  assert_int_equal(yz_identity_load_or_create(&b, path, &created, &why), 0);
  assert_false(created);
  assert_true(yz_node_id_equal(&a.id, &b.id));
  /* It does not paper over a loose mode. */
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(yz_identity_load_or_create(&b, path, &created, &why),
                   YZ_E_PERM);
  assert_false(created);
  yz_identity_clear(&a);
  yz_identity_clear(&b);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_and_parse),
      cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_parse_nul_and_oversized),
      cmocka_unit_test(test_save_load_round_trip),
      cmocka_unit_test(test_save_refuses_overwrite),
      cmocka_unit_test(test_load_refuses_loose_modes),
      cmocka_unit_test(test_load_bad_files),
      cmocka_unit_test(test_load_or_create),
  };
  return cmocka_run_group_tests_name("keyfile", tests, make_dir, remove_dir);
}
