/*
 * Sealed values on the DHT: yz_seal_put, yz_seal_get, yz_seal_share
 * (yz/seal.h). Each is one or two DHT operations (yz/dht.h) around the
 * sans-I/O sealing of seal.c; the user's keys are copied into the
 * operation and wiped when it ends.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "yz/seal.h"

typedef enum { SOP_PUT, SOP_GET, SOP_SHARE_GET, SOP_SHARE_PUT } sop_kind;

typedef struct sop {
  yz_dht *dht;
  sop_kind kind;
  yz_seal_user user;
  yz_seal_cb cb;
  void *arg;
  uint8_t key[YZ_DHTREC_KEY_LEN];
  uint64_t seq, expiry;
  uint8_t *record;
  size_t record_len;
  /* share: the name and the readers to add */
  uint8_t name[255];
  size_t name_len;
  uint8_t *add;
  size_t n_add;
} sop;

static void sop_free(sop *s)
{
  yz_seal_user_clear(&s->user);
  free(s->record);
  free(s->add);
  sodium_memzero(s, sizeof *s);
  free(s);
}

static sop *sop_new(yz_dht *dht, const yz_seal_user *u, yz_seal_cb cb,
                    void *arg, sop_kind kind)
{
  sop *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->dht = dht;
  s->user = *u;
  s->cb = cb;
  s->arg = arg;
  s->kind = kind;
  return s;
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_put(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  sop *s = arg;
  yz_seal_result res;
  memset(&res, 0, sizeof res);
  res.status = r->status;
  if (res.status == 0 && r->stored == 0)
    res.status = r->refusal != 0 ? YZ_E_REMOTE : YZ_E_UNREACHABLE;
  res.dht = r;
  memcpy(res.key, s->key, sizeof res.key);
  res.seq = s->seq;
  res.record = s->record;
  res.record_len = s->record_len;
  s->cb(&res, s->arg);
  sop_free(s);
}

/* Build s's record and put it. */
static int put_record(sop *s, const uint8_t *readers, size_t n,
                      const uint8_t *pt, size_t pt_len)
{
  size_t cap = yz_dhtrec_encoded_max(YZ_DHTREC_VALUE_MAX_LIMIT);
  s->record = malloc(cap);
  if (s->record == NULL)
    return YZ_E_NOMEM;
  int err = yz_seal_record(&s->user, s->name, s->name_len, s->seq, s->expiry,
                           readers, n, pt, pt_len, s->record, cap,
                           &s->record_len, s->key);
  if (err == 0)
    err = yz_dht_put(s->dht, s->record, s->record_len, NULL, on_put, s, NULL);
  return err;
}

int yz_seal_put(yz_dht *dht, const yz_seal_user *u, const uint8_t *name,
                size_t name_len, const uint8_t *recipients,
                size_t n_recipients, const uint8_t *pt, size_t pt_len,
                uint64_t seq, uint64_t expiry, yz_seal_cb cb, void *arg)
{
  if (dht == NULL || u == NULL || cb == NULL || name == NULL ||
      name_len == 0 || name_len > sizeof((sop *)0)->name)
    return YZ_E_INVAL;
  sop *s = sop_new(dht, u, cb, arg, SOP_PUT);
  if (s == NULL)
    return YZ_E_NOMEM;
  memcpy(s->name, name, name_len);
  s->name_len = name_len;
  s->seq = seq != 0 ? seq : now_ms();
  s->expiry = expiry;
  int err = put_record(s, recipients, n_recipients, pt, pt_len);
  if (err != 0)
    sop_free(s);
  return err;
}

static void on_get(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  sop *s = arg;
  yz_seal_result res;
  memset(&res, 0, sizeof res);
  res.status = r->status;
  res.dht = r;
  memcpy(res.key, s->key, sizeof res.key);
  uint8_t *out = NULL;
  size_t cap = 0;
  if (res.status == 0 && r->rec != NULL) {
    res.seq = r->rec->seq;
    res.record = r->record;
    res.record_len = r->record_len;
    cap = r->rec->value_len;
    out = malloc(cap);
    res.status = out == NULL
                     ? YZ_E_NOMEM
                     : yz_seal_open(&s->user, r->rec, out, cap, &res.opened);
  } else if (res.status == 0) {
    res.status = YZ_E_NOT_FOUND;
  }
  if (s->kind == SOP_SHARE_GET && res.status == 0) {
    /* Share: the readers it had, and the new ones; one seq up. */
    size_t had =
        res.opened.kind == YZ_SEAL_SHARED ? res.opened.n_recipients : 0;
    uint8_t *all = malloc((had + s->n_add) * 32 + 1);
    int err = all == NULL ? YZ_E_NOMEM : 0;
    if (err == 0) {
      if (had)
        memcpy(all, res.opened.recipients, had * 32);
      memcpy(all + had * 32, s->add, s->n_add * 32);
      s->kind = SOP_SHARE_PUT;
      s->seq = res.seq + 1;
      err = put_record(s, all, had + s->n_add, res.opened.plaintext,
                       res.opened.plaintext_len);
      free(all);
    }
    sodium_memzero(out, cap);
    free(out);
    if (err == 0)
      return; /* on_put finishes */
    memset(&res.opened, 0, sizeof res.opened);
    res.status = err;
    s->cb(&res, s->arg);
    sop_free(s);
    return;
  }
  s->cb(&res, s->arg);
  if (out != NULL) {
    sodium_memzero(out, cap);
    free(out);
  }
  sop_free(s);
}

int yz_seal_get(yz_dht *dht, const yz_seal_user *u,
                const uint8_t key[YZ_DHTREC_KEY_LEN], yz_seal_cb cb, void *arg)
{
  if (dht == NULL || u == NULL || key == NULL || cb == NULL)
    return YZ_E_INVAL;
  sop *s = sop_new(dht, u, cb, arg, SOP_GET);
  if (s == NULL)
    return YZ_E_NOMEM;
  memcpy(s->key, key, sizeof s->key);
  int err = yz_dht_get(dht, s->key, NULL, on_get, s, NULL);
  if (err != 0)
    sop_free(s);
  return err;
}

int yz_seal_share(yz_dht *dht, const yz_seal_user *u, const uint8_t *name,
                  size_t name_len, const uint8_t *recipients, size_t n,
                  uint64_t expiry, yz_seal_cb cb, void *arg)
{
  if (dht == NULL || u == NULL || cb == NULL || name == NULL ||
      name_len == 0 || name_len > sizeof((sop *)0)->name ||
      recipients == NULL || n == 0 || n > YZ_SEAL_RECIPIENTS_MAX)
    return YZ_E_INVAL;
  sop *s = sop_new(dht, u, cb, arg, SOP_SHARE_GET);
  if (s == NULL)
    return YZ_E_NOMEM;
  memcpy(s->name, name, name_len);
  s->name_len = name_len;
  s->expiry = expiry;
  s->add = malloc(n * 32);
  int err = s->add == NULL ? YZ_E_NOMEM : 0;
  if (err == 0) {
    memcpy(s->add, recipients, n * 32);
    s->n_add = n;
    err = yz_seal_name_key(u, name, name_len, s->key);
  }
  if (err == 0)
    err = yz_dht_get(dht, s->key, NULL, on_get, s, NULL);
  if (err != 0)
    sop_free(s);
  return err;
}
