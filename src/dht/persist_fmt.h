/*
 * The DHT's data-directory files (docs/operations.md "Data directory"):
 * a pure encoder and a strict, bounded parser, no I/O, so the parser can
 * be fuzzed on its own (fuzz/fuzz_dht_persist.c). persist.c does the
 * files.
 *
 * A file is
 *   the header line  "yz-dht-contacts v1\n" or "yz-dht-records v1\n"
 *   count            4 bytes, big-endian
 *   count entries    key (32 bytes), length (4 bytes, big-endian),
 *                    length bytes
 * and nothing after the last entry. For contacts the key is the node ID
 * and the bytes its signed node record; for records the key is the
 * record's key and the bytes its canonical encoding. Keys are unique
 * within a file. The bytes are checked by the DHT when they are loaded
 * (signatures, key derivation, expiry), so the format itself carries no
 * checksum: a flipped bit anywhere in an entry makes it fail those checks.
 */
#ifndef YZ_DHT_PERSIST_FMT_H
#define YZ_DHT_PERSIST_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yz/dhtrec.h"
#include "yz/record.h"

typedef enum yz__persist_kind {
  YZ__PERSIST_CONTACTS = 0,
  YZ__PERSIST_RECORDS = 1,
} yz__persist_kind;

#define YZ__PERSIST_CONTACTS_MAGIC "yz-dht-contacts v1\n"
#define YZ__PERSIST_RECORDS_MAGIC "yz-dht-records v1\n"

enum {
  YZ__PERSIST_KEY_LEN = 32,
  YZ__PERSIST_ENTRY_HEAD = YZ__PERSIST_KEY_LEN + 4,
  /* Bounds of one entry's bytes: a node record, a record with the
   * largest value any store may be configured for. */
  YZ__PERSIST_CONTACT_MAX = YZ_RECORD_MAX_LEN,
  YZ__PERSIST_RECORD_MAX = YZ_DHTREC_VALUE_MAX_LIMIT + YZ_DHTREC_OVERHEAD_MAX,
  /* Bounds of a file's entries: far above a routing table (256 buckets of
   * k plus their caches) and a store's record limit. */
  YZ__PERSIST_CONTACTS_COUNT_MAX = 65536,
  YZ__PERSIST_RECORDS_COUNT_MAX = 1 << 20,
};

/* The largest file of a kind, bytes (what a reader may read at most). */
uint64_t yz__persist_file_max(yz__persist_kind kind);

/* A file being built in memory (a growing buffer). */
typedef struct yz__persist_buf {
  uint8_t *p;
  size_t len, cap;
  uint32_t count;
  size_t count_off;
  yz__persist_kind kind;
  int err; /* latched: the first failure of _add */
} yz__persist_buf;

void yz__persist_buf_init(yz__persist_buf *b, yz__persist_kind kind);
/* Append an entry (len 1..the kind's entry maximum; YZ_E_INVAL if not,
 * YZ_E_LIMIT past the count maximum, YZ_E_NOMEM). Errors latch in b->err.
 * Duplicate keys are the caller's business (the DHT has none). */
int yz__persist_buf_add(yz__persist_buf *b, const uint8_t key[32],
                        const uint8_t *bytes, size_t len);
/* Finish: the count is written; b->p / b->len are the file's bytes. */
int yz__persist_buf_finish(yz__persist_buf *b);
void yz__persist_buf_clear(yz__persist_buf *b);

typedef void (*yz__persist_entry_fn)(const uint8_t key[32],
                                     const uint8_t *bytes, size_t len,
                                     void *ud);

/*
 * Parse a whole file of kind from (p, n). The file is checked entirely
 * first (header, count, every entry's length and bound, duplicate keys,
 * no trailing byte); only then is fn called for each entry in order, so a
 * refused file hands out nothing. 0; YZ_E_MALFORMED (wrong header, a
 * length of 0 or over the bound, a count over the bound), YZ_E_TRUNCATED,
 * YZ_E_TRAILING, YZ_E_DUPLICATE, YZ_E_TOO_LARGE (n over the file bound),
 * YZ_E_NOMEM; *reason (if not NULL) gets a static explanation. fn may be
 * NULL (check only).
 */
int yz__persist_parse(yz__persist_kind kind, const uint8_t *p, size_t n,
                      yz__persist_entry_fn fn, void *ud, const char **reason);

#endif
