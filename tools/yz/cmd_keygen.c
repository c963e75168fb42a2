/*
 * yz keygen [--user] FILE: create a node identity key file (mode 0600,
 * never overwriting) and print its node ID; with --user, a user key (the
 * same file format, for sealed values and encrypted topics, yz/seal.h) and
 * its public key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "yz/identity.h"

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: yz keygen FILE\n"
          "       yz keygen --user FILE\n"
          "\n"
          "Creates a new node identity (an Ed25519 key) in FILE with mode "
          "0600 and\n"
          "prints its node ID (64 lowercase hex digits) on stdout.\n"
          "\n"
          "FILE must not exist: yz keygen never overwrites a key, since a "
          "lost key is\n"
          "a lost node ID. Remove the old file first if you really mean to "
          "replace it.\n"
          "Keep FILE secret and backed up. Its format is described in\n"
          "docs/operations.md (\"Keys and key files\"); 'yz id FILE' prints "
          "the node\n"
          "ID again later.\n"
          "\n"
          "--user makes a user key instead: the same format and mode, but "
          "for a person\n"
          "or an application, not a node (docs/sealed.md). It seals "
          "values and topics\n"
          "with 'yz put --sealed', 'yz share' and 'yz topic'. It prints "
          "the user's\n"
          "public key (64 hex digits), which others name in --to and "
          "--member.\n"
          "\n"
          "Exit status: 0 created; 1 not created (FILE exists, cannot be "
          "written);\n"
          "2 usage error.\n");
}

/* The directory holding path, into out. */
static void parent_dir(const char *path, char *out, size_t cap)
{
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(out, cap, ".");
  else if (slash == path)
    snprintf(out, cap, "/");
  else
    snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int cmd_keygen_main(int argc, char **argv)
{
  const char *path = NULL;
  bool options = true, user = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (options && yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    }
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (options && strcmp(a, "--user") == 0) {
      user = true;
      continue;
    }
    if (options && a[0] == '-' && a[1] != '\0')
      return yz_cli_usage_error("unknown option '%s'", a);
    if (path != NULL)
      return yz_cli_usage_error("unexpected argument '%s' (one FILE only)", a);
    path = a;
  }
  if (path == NULL)
    return yz_cli_usage_error("missing FILE: where to write the new key");
  if (path[0] == '\0')
    return yz_cli_usage_error("FILE is empty");

  /* Others who may write the directory may replace the key with theirs
   * (unless the sticky bit stops them, as in /tmp). Warn, as wg genkey
   * warns about a world-readable output. */
  char dir[4096];
  struct stat st;
  parent_dir(path, dir, sizeof dir);
  if (stat(dir, &st) == 0 && (st.st_mode & 022) != 0 &&
      (st.st_mode & 01000) == 0) /* 01000: S_ISVTX, the sticky bit (XSI) */
    fprintf(stderr,
            "%s: warning: directory %s is writable by %s (mode %04o): they "
            "could replace this key file\n",
            yz_cli_prog, dir, (st.st_mode & 002) ? "others" : "its group",
            (unsigned)(st.st_mode & 07777));

  yz_identity id;
  if (yz_identity_generate(&id) != 0)
    return yz_cli_error("cannot generate a key (no entropy source?)");
  if (yz_identity_save(&id, path) != 0) {
    int e = errno;
    yz_identity_clear(&id);
    if (e == EEXIST)
      return yz_cli_error("%s already exists; refusing to overwrite a key "
                          "(remove it first if you mean to replace it)",
                          path);
    return yz_cli_error("cannot create %s: %s", path, strerror(e));
  }
  char hex[YZ_NODE_ID_HEX_LEN + 1];
  if (user) {
    /* A user is named by its public key (the recipients' --to). */
    static const char d[] = "0123456789abcdef";
    const uint8_t *pk = yz_identity_public_key(&id);
    for (size_t i = 0; i < YZ_IDENTITY_PK_LEN; i++) {
      hex[2 * i] = d[pk[i] >> 4];
      hex[2 * i + 1] = d[pk[i] & 15];
    }
    hex[2 * YZ_IDENTITY_PK_LEN] = '\0';
  } else {
    yz_node_id_to_hex(yz_identity_node_id(&id), hex);
  }
  yz_identity_clear(&id);
  printf("%s\n", hex);
  return YZ_EXIT_OK;
}
