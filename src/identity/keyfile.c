/*
 * Key files: the text format of docs/operations.md ("Keys and key files"),
 * its strict parser, and the careful file handling around it (mode 0600,
 * no overwrite, fsync; loading refuses a file others can reach, as ssh
 * does).
 *
 *   yz-identity-v1
 *   # comment lines
 *   node-id <64 lowercase hex: SHA-256 of the public key, checked on load>
 *   seed <64 lowercase hex: the Ed25519 seed of RFC 8032>
 */
#include "yz/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/util.h"

#define HEADER "yz-identity-v1"
#define HEADER_PREFIX "yz-identity-v"
#define SEED_KEY "seed "
#define NODE_ID_KEY "node-id "

static const char comment[] =
    "# yz node identity key. Keep it secret: whoever can read this file can\n"
    "# act as this node. Keep a backup: losing it means a new node ID.\n";

/* ---- the text format: pure functions, no I/O ---- */

int yz_identity_format_keyfile(const yz_identity *id, char *out, size_t cap)
{
  char idhex[YZ_NODE_ID_HEX_LEN + 1];
  char seedhex[2 * YZ_IDENTITY_SEED_LEN + 1];
  uint8_t seed[YZ_IDENTITY_SEED_LEN];

  size_t need = (sizeof HEADER - 1) + 1 + (sizeof comment - 1) +
                (sizeof NODE_ID_KEY - 1) + YZ_NODE_ID_HEX_LEN + 1 +
                (sizeof SEED_KEY - 1) + 2 * YZ_IDENTITY_SEED_LEN + 1;
  if (cap < need + 1)
    return YZ_E_TOO_LARGE;

  crypto_sign_ed25519_sk_to_seed(seed, id->sk);
  yz__hex_encode(seedhex, seed, sizeof seed);
  yz_node_id_to_hex(&id->id, idhex);
  int n = snprintf(out, cap, "%s\n%s%s%s\n%s%s\n", HEADER, comment,
                   NODE_ID_KEY, idhex, SEED_KEY, seedhex);
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(seedhex, sizeof seedhex);
  if (n < 0 || (size_t)n != need) { /* cannot happen: need counts it all */
    sodium_memzero(out, cap);
    return YZ_E_TOO_LARGE;
  }
  return n;
}

static bool is_lower_hex(uint8_t c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool starts_with(const uint8_t *p, size_t n, const char *s)
{
  size_t k = strlen(s);
  return n >= k && memcmp(p, s, k) == 0;
}

/* "yz-identity-v" and digits: a version this code does not read. */
static bool is_other_version(const uint8_t *p, size_t n)
{
  size_t k = sizeof HEADER_PREFIX - 1;
  if (!starts_with(p, n, HEADER_PREFIX) || n == k || n > k + 9)
    return false;
  for (size_t i = k; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return false;
  return true;
}

int yz_identity_parse_keyfile(yz_identity *id, const uint8_t *data, size_t len,
                              const char **reason)
{
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  yz_node_id want;
  bool have_seed = false, have_id = false;
  const char *why = NULL;
  int rc;

  if (len > YZ_IDENTITY_KEYFILE_MAX) {
    rc = YZ_E_TOO_LARGE;
    why = "key file is larger than 4096 bytes: not a yz key file";
    goto out;
  }
  if (len == 0) {
    rc = YZ_E_TRUNCATED;
    why = "key file is empty";
    goto out;
  }
  /* Every byte is printable ASCII or LF: no NUL, no CR, no UTF-8. */
  for (size_t i = 0; i < len; i++) {
    uint8_t c = data[i];
    if (c == '\n' || (c >= 0x20 && c <= 0x7e))
      continue;
    rc = YZ_E_MALFORMED;
    why = c == '\r' ? "key file has CR line endings (want LF only)"
                    : "key file contains a byte that is not printable ASCII";
    goto out;
  }
  if (data[len - 1] != '\n') {
    rc = YZ_E_TRUNCATED;
    why = "key file does not end with a newline: truncated or trailing "
          "junk";
    goto out;
  }

  size_t pos = 0, lineno = 0;
  while (pos < len) {
    const uint8_t *line = data + pos;
    const uint8_t *nl = memchr(line, '\n', len - pos);
    size_t n = (size_t)(nl - line); /* nl != NULL: the last byte is LF */
    pos += n + 1;
    lineno++;

    if (lineno == 1) {
      if (n == sizeof HEADER - 1 && memcmp(line, HEADER, n) == 0)
        continue;
      if (is_other_version(line, n)) {
        rc = YZ_E_UNSUPPORTED;
        why = "key file format version is not supported (this yz reads "
              "yz-identity-v1)";
      } else {
        rc = YZ_E_MALFORMED;
        why = "not a yz key file: the first line must be 'yz-identity-v1'";
      }
      goto out;
    }
    if (n == 0) {
      rc = YZ_E_MALFORMED;
      why = "key file contains an empty line";
      goto out;
    }
    if (line[0] == '#')
      continue;
    if (starts_with(line, n, SEED_KEY)) {
      const uint8_t *hex = line + (sizeof SEED_KEY - 1);
      size_t hn = n - (sizeof SEED_KEY - 1);
      if (have_seed) {
        rc = YZ_E_DUPLICATE;
        why = "key file has more than one seed line";
        goto out;
      }
      for (size_t i = 0; i < hn && i < 2 * YZ_IDENTITY_SEED_LEN; i++) {
        if (!is_lower_hex(hex[i])) {
          rc = YZ_E_MALFORMED;
          why = "seed is not 64 lowercase hex digits";
          goto out;
        }
      }
      if (hn < 2 * YZ_IDENTITY_SEED_LEN) {
        rc = YZ_E_TRUNCATED;
        why = "seed is too short: want 64 lowercase hex digits";
        goto out;
      }
      if (hn > 2 * YZ_IDENTITY_SEED_LEN) {
        rc = YZ_E_TRAILING;
        why = "seed line has characters after the 64 hex digits";
        goto out;
      }
      rc = yz__hex_decode(seed, sizeof seed, (const char *)hex, hn);
      if (rc != 0) {
        why = "seed is not 64 lowercase hex digits";
        goto out;
      }
      have_seed = true;
      continue;
    }
    if (starts_with(line, n, NODE_ID_KEY)) {
      if (have_id) {
        rc = YZ_E_DUPLICATE;
        why = "key file has more than one node-id line";
        goto out;
      }
      const char *idwhy = NULL;
      rc = yz_node_id_parse(&want, line + (sizeof NODE_ID_KEY - 1),
                            n - (sizeof NODE_ID_KEY - 1), &idwhy);
      if (rc != 0) {
        why = idwhy;
        goto out;
      }
      have_id = true;
      continue;
    }
    rc = YZ_E_MALFORMED;
    why = "key file has a line that is not 'seed', 'node-id' or a '#' "
          "comment";
    goto out;
  }
  if (lineno == 1 || !have_seed) {
    rc = YZ_E_TRUNCATED;
    why = "key file has no seed line";
    goto out;
  }
  rc = yz_identity_from_seed(id, seed);
  if (rc != 0) {
    why = "cannot derive the key pair";
    goto out;
  }
  /* The node-id line is redundant on purpose: a flipped bit in the seed
   * would otherwise load silently as another node. */
  if (have_id && !yz_node_id_equal(&want, &id->id)) {
    yz_identity_clear(id);
    rc = YZ_E_MALFORMED;
    why = "the node-id line does not match the seed: the key file is "
          "corrupt";
    goto out;
  }
  rc = 0;

out:
  sodium_memzero(seed, sizeof seed);
  if (rc != 0)
    yz_identity_clear(id);
  if (reason != NULL)
    *reason = why;
  return rc;
}

/* ---- files ---- */

/* The reason of the last load in this thread: it names the file, so it
 * cannot be a static string. Valid until the next load in this thread. */
static _Thread_local char load_reason[768];

__attribute__((format(printf, 2, 3))) static void
set_reason(const char **reason, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(load_reason, sizeof load_reason, fmt, ap);
  va_end(ap);
  if (reason != NULL)
    *reason = load_reason;
}

int yz_identity_load(yz_identity *id, const char *path, const char **reason)
{
  uint8_t buf[YZ_IDENTITY_KEYFILE_MAX + 1];
  size_t len = 0;
  struct stat st;
  int rc, fd;

  if (reason != NULL)
    *reason = NULL;
  /* Symlinks are followed (secret stores mount keys as symlinks); the
   * checks below are made with fstat() on the file actually opened, so a
   * link cannot hide a readable target. O_NONBLOCK: opening a FIFO must
   * not hang; it is refused as not a regular file below. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      set_reason(reason,
                 "key file %s does not exist (create one with: yz keygen %s)",
                 path, path);
      errno = e;
      return YZ_E_NOENT;
    }
    set_reason(reason, "cannot open key file %s: %s", path, strerror(e));
    errno = e;
    return YZ_E_IO;
  }
  if (fstat(fd, &st) != 0) {
    int e = errno;
    set_reason(reason, "cannot stat key file %s: %s", path, strerror(e));
    close(fd);
    errno = e;
    return YZ_E_IO;
  }
  if (!S_ISREG(st.st_mode)) {
    set_reason(reason, "key file %s is not a regular file", path);
    close(fd);
    return YZ_E_IO;
  }
  /* As ssh: a secret key that group or others may read, write or even
   * traverse is refused, whoever owns it; the fix is one command. */
  if ((st.st_mode & 077) != 0) {
    const char *what = (st.st_mode & 044)   ? "readable"
                       : (st.st_mode & 022) ? "writable"
                                            : "accessible";
    set_reason(reason,
               "key file %s is %s by others (mode %04o); run: chmod 600 %s",
               path, what, (unsigned)(st.st_mode & 07777), path);
    close(fd);
    return YZ_E_PERM;
  }
  if (st.st_size > YZ_IDENTITY_KEYFILE_MAX) {
    set_reason(reason,
               "key file %s is larger than %d bytes: not a yz key file", path,
               YZ_IDENTITY_KEYFILE_MAX);
    close(fd);
    return YZ_E_TOO_LARGE;
  }
  /* Read one byte more than allowed, so a file that grew after fstat()
   * is still caught. */
  for (;;) {
    ssize_t r = read(fd, buf + len, sizeof buf - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      set_reason(reason, "cannot read key file %s: %s", path, strerror(e));
      close(fd);
      sodium_memzero(buf, sizeof buf);
      errno = e;
      return YZ_E_IO;
    }
    if (r == 0)
      break;
    len += (size_t)r;
    if (len == sizeof buf)
      break;
  }
  close(fd);

  const char *why = NULL;
  rc = yz_identity_parse_keyfile(id, buf, len, &why);
  sodium_memzero(buf, sizeof buf);
  if (rc != 0)
    set_reason(reason, "key file %s: %s", path, why);
  return rc;
}

/* fsync the directory holding path, so the new name survives a crash.
 * Best effort: a failure here does not undo a written key. */
static void sync_parent_dir(const char *path)
{
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n;
  if (slash == NULL) {
    strcpy(dir, ".");
  } else {
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
      return;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

int yz_identity_save(const yz_identity *id, const char *path)
{
  char text[YZ_IDENTITY_KEYFILE_TEXT_MAX];
  int n = yz_identity_format_keyfile(id, text, sizeof text);
  if (n < 0)
    return n;

  /* O_EXCL: never overwrite a key (and never follow a symlink planted at
   * path). 0600 from the first byte; fchmod() in case the umask took
   * even the owner's bits. */
  int fd = open(
      path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
      S_IRUSR | S_IWUSR);
  if (fd < 0) {
    int e = errno;
    sodium_memzero(text, sizeof text);
    errno = e;
    return YZ_E_IO;
  }
  size_t off = 0;
  int e = 0;
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
    e = errno;
  while (e == 0 && off < (size_t)n) {
    ssize_t w = write(fd, text + off, (size_t)n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      e = errno;
    else if (w == 0)
      e = EIO;
    else
      off += (size_t)w;
  }
  if (e == 0 && fsync(fd) != 0)
    e = errno;
  if (close(fd) != 0 && e == 0)
    e = errno;
  sodium_memzero(text, sizeof text);
  if (e != 0) {
    /* Leave no half-written key behind. */
    (void)unlink(path);
    errno = e;
    return YZ_E_IO;
  }
  sync_parent_dir(path);
  return 0;
}

int yz_identity_load_or_create(yz_identity *id, const char *path,
                               bool *created, const char **reason)
{
  if (created != NULL)
    *created = false;
  int rc = yz_identity_load(id, path, reason);
  if (rc != YZ_E_NOENT)
    return rc;
  rc = yz_identity_generate(id);
  if (rc != 0) {
    set_reason(reason, "cannot generate a key for %s", path);
    return rc;
  }
  rc = yz_identity_save(id, path);
  if (rc == 0) {
    if (created != NULL)
      *created = true;
    if (reason != NULL)
      *reason = NULL;
    return 0;
  }
  int e = errno;
  yz_identity_clear(id);
  if (e == EEXIST) /* another process created it first: use that one */
    return yz_identity_load(id, path, reason);
  set_reason(reason, "cannot create key file %s: %s", path, strerror(e));
  errno = e;
  return YZ_E_IO;
}
