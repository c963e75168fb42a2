/*
 * Persistence of a DHT's routing contacts and stored records in a data
 * directory (yz/dht.h yz_dht_save() / yz_dht_load(); the format is
 * persist_fmt.h, documented in docs/operations.md "Data directory").
 *
 * Only the public API is used: the contacts and records are walked with
 * yz_dht_foreach_contact() / yz_dht_foreach_record(), and loaded back
 * through yz_dht_add_contact() / yz_dht_store_local(), which verify them
 * as if a peer had sent them (signatures, key derivation, network,
 * expiry): an expired record is dropped there, and nothing in a file is
 * trusted more than a peer's message would be.
 *
 * Files are written atomically: a temporary file in the same directory
 * (mode 0600), fsync, rename over the old file, fsync of the directory,
 * so a crash leaves the old file or the new one, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist_fmt.h"
#include "yz/dht.h"

#define CONTACTS_FILE "contacts"
#define RECORDS_FILE "records"

/* The reason strings name the file: built here, valid until the next
 * yz_dht_save() / yz_dht_load() on the same thread. */
static _Thread_local char reason_buf[2048];

static int set_reason(const char **reason, int err, const char *fmt,
                      const char *path, const char *why)
{
  /* A long path is cut short: the reason stays readable. */
  int n = snprintf(reason_buf, sizeof reason_buf, fmt, path, why);
  (void)n;
  if (reason != NULL)
    *reason = reason_buf;
  return err;
}

static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return n < 0 || (size_t)n >= cap ? YZ_E_INVAL : 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Write bytes to dir/name atomically. */
static int write_atomic(const char *dir, const char *name, const uint8_t *p,
                        size_t n, const char **reason)
{
  char path[1024], tmp[1024];
  if (join_path(path, sizeof path, dir, name) != 0 ||
      snprintf(tmp, sizeof tmp, "%s/.%s.tmp.XXXXXX", dir, name) >=
          (int)sizeof tmp)
    return set_reason(reason, YZ_E_INVAL, "%s%s: path too long", dir, "");
  /* mkstemp creates the file with mode 0600. */
  int fd = mkstemp(tmp);
  if (fd < 0)
    return set_reason(reason, YZ_E_IO, "%s: cannot create a temporary file: %s",
                      path, strerror(errno));
  const char *what = NULL;
  if (fchmod(fd, 0600) != 0)
    what = "chmod";
  else if (write_all(fd, p, n) != 0)
    what = "write";
  else if (fsync(fd) != 0)
    what = "fsync";
  int saved = errno;
  if (close(fd) != 0 && what == NULL) {
    what = "close";
    saved = errno;
  }
  if (what == NULL && rename(tmp, path) != 0) {
    what = "rename";
    saved = errno;
  }
  if (what != NULL) {
    unlink(tmp);
    char why[128];
    snprintf(why, sizeof why, "%s: %s", what, strerror(saved));
    return set_reason(reason, YZ_E_IO, "%s: %s", path, why);
  }
  /* The rename is durable once the directory is. */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

static void add_contact_entry(const yz_dht_contact *c, void *ud)
{
  yz__persist_buf_add(ud, c->id.bytes, c->record, c->record_len);
}

static void add_record_entry(const uint8_t *key, const uint8_t *record,
                             size_t record_len, void *ud)
{
  yz__persist_buf_add(ud, key, record, record_len);
}

int yz_dht_save(const yz_dht *dht, const char *dir, const char **reason)
{
  if (reason != NULL)
    *reason = NULL;
  if (dht == NULL || dir == NULL)
    return YZ_E_INVAL;
  yz__persist_buf b;
  yz__persist_buf_init(&b, YZ__PERSIST_CONTACTS);
  yz_dht_foreach_contact(dht, add_contact_entry, &b);
  int err = yz__persist_buf_finish(&b);
  if (err == 0)
    err = write_atomic(dir, CONTACTS_FILE, b.p, b.len, reason);
  else
    set_reason(reason, err, "%s/" CONTACTS_FILE ": %s", dir, yz_strerror(err));
  yz__persist_buf_clear(&b);
  if (err != 0)
    return err;

  yz__persist_buf_init(&b, YZ__PERSIST_RECORDS);
  yz_dht_foreach_record(dht, add_record_entry, &b);
  err = yz__persist_buf_finish(&b);
  if (err == 0)
    err = write_atomic(dir, RECORDS_FILE, b.p, b.len, reason);
  else
    set_reason(reason, err, "%s/" RECORDS_FILE ": %s", dir, yz_strerror(err));
  yz__persist_buf_clear(&b);
  return err;
}

/* Read dir/name whole, up to max bytes. 0 (*p may be NULL for a missing
 * file), YZ_E_IO, YZ_E_TOO_LARGE, YZ_E_NOMEM. */
static int read_file(const char *path, uint64_t max, uint8_t **p, size_t *n,
                     const char **reason)
{
  *p = NULL;
  *n = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT)
      return 0;
    return set_reason(reason, YZ_E_IO, "%s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return set_reason(reason, YZ_E_IO, "%s: %s", path, "not a regular file");
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return set_reason(reason, YZ_E_MALFORMED, "%s: %s", path,
                      "larger than any valid file; ignored");
  }
  size_t len = (size_t)st.st_size;
  uint8_t *buf = malloc(len ? len : 1);
  if (buf == NULL) {
    close(fd);
    return set_reason(reason, YZ_E_NOMEM, "%s: %s", path, "out of memory");
  }
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  if (got != len) {
    free(buf);
    return set_reason(reason, YZ_E_IO, "%s: %s", path, "short read");
  }
  *p = buf;
  *n = len;
  return 0;
}

struct load_ctx {
  yz_dht *dht;
  size_t loaded;
};

static void load_contact(const uint8_t key[32], const uint8_t *bytes,
                         size_t len, void *ud)
{
  (void)key;
  struct load_ctx *c = ud;
  /* Refused contacts (expired node records, another network) are
   * dropped: the table refills from the network. */
  if (yz_dht_add_contact(c->dht, bytes, len) == 0)
    c->loaded++;
}

static void load_record(const uint8_t key[32], const uint8_t *bytes,
                        size_t len, void *ud)
{
  struct load_ctx *c = ud;
  /* Expired records are refused by the store's checks (EXPIRED): they
   * are dropped here. */
  if (yz_dht_store_local(c->dht, key, bytes, len) == YZ_DHT_OK)
    c->loaded++;
}

static int load_one(yz_dht *dht, const char *dir, const char *name,
                    yz__persist_kind kind, size_t *count, const char **reason)
{
  char path[1024];
  if (join_path(path, sizeof path, dir, name) != 0)
    return set_reason(reason, YZ_E_INVAL, "%s%s: path too long", dir, "");
  uint8_t *p;
  size_t n;
  int err = read_file(path, yz__persist_file_max(kind), &p, &n, reason);
  if (err != 0 || p == NULL)
    return err;
  struct load_ctx c = {.dht = dht};
  const char *why = NULL;
  err = yz__persist_parse(kind, p, n, NULL, NULL, &why);
  if (err == 0)
    (void)yz__persist_parse(kind, p, n,
                            kind == YZ__PERSIST_CONTACTS ? load_contact
                                                         : load_record,
                            &c, NULL);
  free(p);
  if (err != 0)
    return set_reason(reason, YZ_E_MALFORMED, "%s: corrupt, ignored: %s", path,
                      why);
  *count = c.loaded;
  return 0;
}

int yz_dht_load(yz_dht *dht, const char *dir, size_t *contacts,
                size_t *records, const char **reason)
{
  size_t nc = 0, nr = 0;
  if (reason != NULL)
    *reason = NULL;
  if (contacts != NULL)
    *contacts = 0;
  if (records != NULL)
    *records = 0;
  if (dht == NULL || dir == NULL)
    return YZ_E_INVAL;
  /* Each file on its own: a corrupt contacts file does not cost the
   * records, and the other way round. The first failure is reported. */
  const char *r1 = NULL, *r2 = NULL;
  int e1 = load_one(dht, dir, CONTACTS_FILE, YZ__PERSIST_CONTACTS, &nc, &r1);
  char first[sizeof reason_buf];
  if (e1 != 0)
    snprintf(first, sizeof first, "%s", r1 ? r1 : yz_strerror(e1));
  int e2 = load_one(dht, dir, RECORDS_FILE, YZ__PERSIST_RECORDS, &nr, &r2);
  if (contacts != NULL)
    *contacts = nc;
  if (records != NULL)
    *records = nr;
  if (e1 != 0) {
    snprintf(reason_buf, sizeof reason_buf, "%s", first);
    if (reason != NULL)
      *reason = reason_buf;
    return e1;
  }
  if (e2 != 0 && reason != NULL)
    *reason = r2;
  return e2;
}
