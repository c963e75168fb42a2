/* The DHT's data-directory file format (persist_fmt.h). */
#include "persist_fmt.h"

#include <stdlib.h>
#include <string.h>

#include "yz/common.h"

static const char *magic(yz__persist_kind kind)
{
  return kind == YZ__PERSIST_CONTACTS ? YZ__PERSIST_CONTACTS_MAGIC
                                      : YZ__PERSIST_RECORDS_MAGIC;
}

static size_t entry_max(yz__persist_kind kind)
{
  return kind == YZ__PERSIST_CONTACTS ? YZ__PERSIST_CONTACT_MAX
                                      : YZ__PERSIST_RECORD_MAX;
}

static uint32_t count_max(yz__persist_kind kind)
{
  return kind == YZ__PERSIST_CONTACTS ? YZ__PERSIST_CONTACTS_COUNT_MAX
                                      : YZ__PERSIST_RECORDS_COUNT_MAX;
}

uint64_t yz__persist_file_max(yz__persist_kind kind)
{
  return strlen(magic(kind)) + 4 +
         (uint64_t)count_max(kind) *
             (YZ__PERSIST_ENTRY_HEAD + (uint64_t)entry_max(kind));
}

static void put_u32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static int reserve(yz__persist_buf *b, size_t more)
{
  if (b->len + more <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (p == NULL)
    return YZ_E_NOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

void yz__persist_buf_init(yz__persist_buf *b, yz__persist_kind kind)
{
  memset(b, 0, sizeof *b);
  b->kind = kind;
  size_t m = strlen(magic(kind));
  b->err = reserve(b, m + 4);
  if (b->err == 0) {
    memcpy(b->p, magic(kind), m);
    put_u32(b->p + m, 0);
    b->count_off = m;
    b->len = m + 4;
  }
}

int yz__persist_buf_add(yz__persist_buf *b, const uint8_t key[32],
                        const uint8_t *bytes, size_t len)
{
  if (b->err != 0)
    return b->err;
  int err = 0;
  if (len == 0 || len > entry_max(b->kind))
    err = YZ_E_INVAL;
  else if (b->count >= count_max(b->kind))
    err = YZ_E_LIMIT;
  else
    err = reserve(b, YZ__PERSIST_ENTRY_HEAD + len);
  if (err != 0) {
    b->err = err;
    return err;
  }
  memcpy(b->p + b->len, key, YZ__PERSIST_KEY_LEN);
  put_u32(b->p + b->len + YZ__PERSIST_KEY_LEN, (uint32_t)len);
  memcpy(b->p + b->len + YZ__PERSIST_ENTRY_HEAD, bytes, len);
  b->len += YZ__PERSIST_ENTRY_HEAD + len;
  b->count++;
  return 0;
}

int yz__persist_buf_finish(yz__persist_buf *b)
{
  if (b->err != 0)
    return b->err;
  put_u32(b->p + b->count_off, b->count);
  return 0;
}

void yz__persist_buf_clear(yz__persist_buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}

static int cmp_key(const void *a, const void *b)
{
  const uint8_t *const *x = a, *const *y = b;
  return memcmp(*x, *y, YZ__PERSIST_KEY_LEN);
}

static int fail(const char **reason, const char *why, int err)
{
  if (reason != NULL)
    *reason = why;
  return err;
}

int yz__persist_parse(yz__persist_kind kind, const uint8_t *p, size_t n,
                      yz__persist_entry_fn fn, void *ud, const char **reason)
{
  if (reason != NULL)
    *reason = NULL;
  if (p == NULL && n != 0)
    return fail(reason, "no input", YZ_E_INVAL);
  if ((uint64_t)n > yz__persist_file_max(kind))
    return fail(reason, "file larger than any valid file", YZ_E_TOO_LARGE);
  const char *m = magic(kind);
  size_t ml = strlen(m);
  if (n < ml || memcmp(p, m, ml) != 0)
    return fail(reason, "wrong header line (not a yz DHT file of this kind, "
                        "or another version)",
                YZ_E_MALFORMED);
  if (n < ml + 4)
    return fail(reason, "truncated: no entry count", YZ_E_TRUNCATED);
  uint32_t count = get_u32(p + ml);
  if (count > count_max(kind))
    return fail(reason, "entry count over the limit", YZ_E_MALFORMED);
  /* Every entry takes at least its head and one byte: a count the file
   * cannot hold is refused before anything is allocated for it. */
  size_t off = ml + 4;
  if ((uint64_t)count * (YZ__PERSIST_ENTRY_HEAD + 1) > n - off)
    return fail(reason, "truncated: fewer bytes than the count announces",
                YZ_E_TRUNCATED);

  /* Pass 1: structure. */
  const uint8_t **keys = NULL;
  if (count > 0) {
    keys = malloc((size_t)count * sizeof *keys);
    if (keys == NULL)
      return fail(reason, "out of memory", YZ_E_NOMEM);
  }
  int err = 0;
  const char *why = NULL;
  for (uint32_t i = 0; i < count; i++) {
    if (n - off < YZ__PERSIST_ENTRY_HEAD) {
      err = YZ_E_TRUNCATED;
      why = "truncated entry head";
      break;
    }
    uint32_t len = get_u32(p + off + YZ__PERSIST_KEY_LEN);
    if (len == 0 || len > entry_max(kind)) {
      err = YZ_E_MALFORMED;
      why = "entry length 0 or over the limit";
      break;
    }
    if (n - off - YZ__PERSIST_ENTRY_HEAD < len) {
      err = YZ_E_TRUNCATED;
      why = "truncated entry";
      break;
    }
    keys[i] = p + off;
    off += YZ__PERSIST_ENTRY_HEAD + len;
  }
  if (err == 0 && off != n) {
    err = YZ_E_TRAILING;
    why = "bytes after the last entry";
  }
  if (err == 0 && count > 1) {
    qsort(keys, count, sizeof *keys, cmp_key);
    for (uint32_t i = 1; i < count && err == 0; i++)
      if (memcmp(keys[i - 1], keys[i], YZ__PERSIST_KEY_LEN) == 0) {
        err = YZ_E_DUPLICATE;
        why = "the same key twice";
      }
  }
  free(keys);
  if (err != 0)
    return fail(reason, why, err);

  /* Pass 2: hand the entries out, in file order. */
  off = ml + 4;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = get_u32(p + off + YZ__PERSIST_KEY_LEN);
    if (fn != NULL)
      fn(p + off, p + off + YZ__PERSIST_ENTRY_HEAD, len, ud);
    off += YZ__PERSIST_ENTRY_HEAD + len;
  }
  return 0;
}
