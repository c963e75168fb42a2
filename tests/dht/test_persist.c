/*
 * The DHT's data directory (yz_dht_save() / yz_dht_load(),
 * src/dht/persist.c, docs/operations.md "Data directory"), with real DHTs
 * on nodes of the in-memory network:
 *   - records round-trip (immutable and mutable), files are 0600, no
 *     temporary file is left behind;
 *   - routing contacts round-trip (a node that joined saves its table; a
 *     fresh node loads it);
 *   - records expired by load time are dropped;
 *   - corrupt, truncated and trailing files are reported (the file named),
 *     ignored, and do not cost the other file; missing files are no error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "yz/dht.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/link.h"
#include "yz/node.h"

static uv_loop_t loop;
#define WAIT_GUARD_MS 30000
#include "../node/wait.h"

static uint64_t unix_now = 1900000000; /* the DHTs' clock, Unix seconds */
static uint64_t unix_clock(void *ud)
{
  (void)ud;
  return unix_now;
}

struct tnode {
  yz_node *node;
  yz_dht *dht;
  yz_identity id;
  bool dht_stopped, node_stopped, joined;
  int join_status;
};

static yz_link_memnet *net;

static void start_node(struct tnode *t, int n, bool listen)
{
  memset(t, 0, sizeof *t);
  uint8_t seed[YZ_IDENTITY_SEED_LEN];
  memset(seed, 0x40 + n, sizeof seed);
  assert_int_equal(yz_identity_from_seed(&t->id, seed), 0);
  yz_node_config cfg;
  yz_node_config_default(&cfg);
  cfg.identity = &t->id;
  cfg.link.memnet = net;
  assert_int_equal(yz_node_new(&t->node, &loop, &cfg), 0);
  if (listen) {
    char url[64];
    snprintf(url, sizeof url, "ws://10.0.0.%d:7700", n);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(t->node, &lc), 0);
  }
  yz_dht_config dc;
  yz_dht_config_default(&dc);
  dc.unix_time = unix_clock;
  assert_int_equal(yz_dht_new(&t->dht, t->node, &dc), 0);
  assert_int_equal(yz_node_start(t->node), 0);
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  ((struct tnode *)arg)->dht_stopped = true;
}
static void on_node_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct tnode *)arg)->node_stopped = true;
}

static void stop_node(struct tnode *t)
{
  yz_dht_stop(t->dht, on_dht_stopped, t);
  WAIT_FOR(t->dht_stopped);
  yz_node_stop(t->node, on_node_stopped, t);
  WAIT_FOR(t->node_stopped);
  yz_dht_free(t->dht);
  yz_node_free(t->node);
  yz_identity_clear(&t->id);
}

static void setup_loop(void)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
}

static void teardown_loop(void)
{
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static char *make_dir(void)
{
  char *d = strdup("/tmp/yz-test-persist.XXXXXX");
  assert_non_null(mkdtemp(d));
  return d;
}

static void remove_dir(char *d)
{
  DIR *dir = opendir(d);
  assert_non_null(dir);
  struct dirent *e;
  char p[512];
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
                                (e->d_name[1] == '.' && e->d_name[2] == '\0')))
      continue;
    snprintf(p, sizeof p, "%s/%s", d, e->d_name);
    unlink(p);
  }
  closedir(dir);
  rmdir(d);
  free(d);
}

static unsigned count_files(const char *d)
{
  DIR *dir = opendir(d);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (e->d_name[0] != '.' || (e->d_name[1] != '\0' && e->d_name[1] != '.'))
      n++;
  closedir(dir);
  return n;
}

/* A record: immutable with value text, or mutable signed by id. */
static size_t make_record(uint8_t *out, size_t cap, const char *text,
                          const yz_identity *id, uint64_t expiry,
                          uint8_t key[YZ_DHTREC_KEY_LEN])
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.value = (const uint8_t *)text;
  r.value_len = strlen(text);
  r.expiry = expiry;
  if (id == NULL) {
    r.kind = YZ_DHTREC_IMMUTABLE;
    assert_int_equal(yz_dhtrec_derive_key(&r), 0);
  } else {
    r.kind = YZ_DHTREC_MUTABLE;
    r.seq = 7;
    memcpy(r.salt, "s", 1);
    r.salt_len = 1;
    assert_int_equal(yz_dhtrec_sign(&r, id, NULL), 0);
  }
  size_t n = 0;
  assert_int_equal(yz_dhtrec_encode(&r, out, cap, &n), 0);
  memcpy(key, r.key, YZ_DHTREC_KEY_LEN);
  return n;
}

struct rec_seen {
  unsigned n;
  size_t bytes;
};
static void count_record(const uint8_t *key, const uint8_t *record,
                         size_t len, void *ud)
{
  (void)key;
  (void)record;
  struct rec_seen *s = ud;
  s->n++;
  s->bytes += len;
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t n)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(unlink(path), 0);
}

static size_t read_file(const char *dir, const char *name, uint8_t *p,
                        size_t cap)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(p, 1, cap, f);
  fclose(f);
  return n;
}

/* Three records stored on a, saved; b loads them. The last one expires
 * before b loads: dropped. */
static void test_records_round_trip_and_expiry(void **state)
{
  (void)state;
  setup_loop();
  struct tnode a, b;
  start_node(&a, 1, true);
  uint8_t rec[3][512], key[3][YZ_DHTREC_KEY_LEN];
  size_t len[3];
  len[0] = make_record(rec[0], sizeof rec[0], "immutable value", NULL,
                       unix_now + 3600, key[0]);
  len[1] = make_record(rec[1], sizeof rec[1], "mutable value", &a.id,
                       unix_now + 3600, key[1]);
  len[2] = make_record(rec[2], sizeof rec[2], "short-lived", NULL,
                       unix_now + 60, key[2]);
  for (int i = 0; i < 3; i++)
    assert_int_equal(yz_dht_store_local(a.dht, key[i], rec[i], len[i]),
                     YZ_DHT_OK);
  char *dir = make_dir();
  const char *reason = "x";
  assert_int_equal(yz_dht_save(a.dht, dir, &reason), 0);
  assert_null(reason);
  /* Two files, each 0600, nothing temporary left. */
  assert_int_equal(count_files(dir), 2);
  char path[512];
  struct stat st;
  snprintf(path, sizeof path, "%s/records", dir);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  snprintf(path, sizeof path, "%s/contacts", dir);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* Saving again replaces the files. */
  assert_int_equal(yz_dht_save(a.dht, dir, NULL), 0);
  assert_int_equal(count_files(dir), 2);

  unix_now += 120; /* the third record has expired */
  start_node(&b, 2, true);
  size_t nc = 99, nr = 99;
  assert_int_equal(yz_dht_load(b.dht, dir, &nc, &nr, &reason), 0);
  assert_int_equal(nc, 0);
  assert_int_equal(nr, 2);
  struct rec_seen s = {0};
  yz_dht_foreach_record(b.dht, count_record, &s);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.bytes, len[0] + len[1]);

  stop_node(&a);
  stop_node(&b);
  remove_dir(dir);
  teardown_loop();
}

static void on_joined(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct tnode *t = arg;
  t->joined = true;
  t->join_status = r->status;
}

/* b joins through a and saves its table; c loads it: the contact is
 * offered (and answers). */
static void test_contacts_round_trip(void **state)
{
  (void)state;
  setup_loop();
  struct tnode a, b, c;
  start_node(&a, 1, true);
  start_node(&b, 2, true);
  const char *boot[1] = {yz_node_address(a.node, 0)};
  assert_int_equal(yz_dht_join(b.dht, boot, 1, on_joined, &b, NULL), 0);
  WAIT_FOR(b.joined);
  assert_int_equal(b.join_status, 0);
  WAIT_FOR(yz_dht_table_size(b.dht) >= 1);
  char *dir = make_dir();
  assert_int_equal(yz_dht_save(b.dht, dir, NULL), 0);

  start_node(&c, 3, true);
  size_t nc = 0, nr = 99;
  const char *reason = NULL;
  assert_int_equal(yz_dht_load(c.dht, dir, &nc, &nr, &reason), 0);
  assert_int_equal(nc, yz_dht_table_size(b.dht));
  assert_int_equal(nr, 0);
  /* The loaded contact is asked to answer, then enters c's table. */
  WAIT_FOR(yz_dht_table_size(c.dht) >= 1);

  stop_node(&a);
  stop_node(&b);
  stop_node(&c);
  remove_dir(dir);
  teardown_loop();
}

/* Corrupt files: reported with the file's name, ignored, the other file
 * still loaded. */
static void test_corrupt_files(void **state)
{
  (void)state;
  setup_loop();
  struct tnode a, b;
  start_node(&a, 1, true);
  uint8_t rec[512], key[YZ_DHTREC_KEY_LEN];
  size_t len = make_record(rec, sizeof rec, "kept", NULL, unix_now + 3600,
                           key);
  assert_int_equal(yz_dht_store_local(a.dht, key, rec, len), YZ_DHT_OK);
  char *dir = make_dir();
  assert_int_equal(yz_dht_save(a.dht, dir, NULL), 0);
  static uint8_t good[1 << 16];
  size_t good_len = read_file(dir, "records", good, sizeof good);
  start_node(&b, 2, true);

  /* Missing files: no error, nothing loaded. */
  char *empty = make_dir();
  size_t nc = 9, nr = 9;
  const char *reason = "x";
  assert_int_equal(yz_dht_load(b.dht, empty, &nc, &nr, &reason), 0);
  assert_int_equal(nc + nr, 0);
  assert_null(reason);
  remove_dir(empty);

  /* A garbage contacts file: reported and ignored; the records load. */
  write_file(dir, "contacts", "garbage\n", 8);
  assert_int_equal(yz_dht_load(b.dht, dir, &nc, &nr, &reason),
                   YZ_E_MALFORMED);
  assert_non_null(reason);
  assert_non_null(strstr(reason, "contacts"));
  assert_int_equal(nc, 0);
  assert_int_equal(nr, 1);

  /* A truncated records file: nothing of it is loaded. */
  remove_file(dir, "contacts");
  write_file(dir, "records", good, good_len - 1);
  assert_int_equal(yz_dht_load(b.dht, dir, &nc, &nr, &reason),
                   YZ_E_MALFORMED);
  assert_non_null(strstr(reason, "records"));
  assert_non_null(strstr(reason, "truncated"));
  assert_int_equal(nr, 0);

  /* A trailing byte. */
  good[good_len] = 0;
  write_file(dir, "records", good, good_len + 1);
  assert_int_equal(yz_dht_load(b.dht, dir, &nc, &nr, &reason),
                   YZ_E_MALFORMED);
  assert_non_null(strstr(reason, "records"));
  assert_non_null(strstr(reason, "after the last entry"));
  assert_int_equal(nr, 0);

  /* A flipped bit in the record's value: the file parses, the record's
   * own check refuses it (WRONG_KEY): dropped, not loaded. */
  memcpy(rec, good, good_len);
  size_t at = 0;
  while (at + 4 <= good_len && memcmp(rec + at, "kept", 4) != 0)
    at++;
  assert_true(at + 4 <= good_len);
  rec[at] ^= 1;
  write_file(dir, "records", rec, good_len);
  assert_int_equal(yz_dht_load(b.dht, dir, &nc, &nr, &reason), 0);
  assert_int_equal(nr, 0);

  stop_node(&a);
  stop_node(&b);
  remove_dir(dir);
  teardown_loop();
}

int main(void)
{
  yz_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_records_round_trip_and_expiry),
      cmocka_unit_test(test_contacts_round_trip),
      cmocka_unit_test(test_corrupt_files),
  };
  return cmocka_run_group_tests_name("dht_persist", tests, NULL, NULL);
}
