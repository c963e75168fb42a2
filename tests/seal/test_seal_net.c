/* Sealed values on a DHT of 16 nodes (in-memory links, virtual time):
 * yz_seal_put / yz_seal_get / yz_seal_share through the network, a topic
 * key record fetched by members, and a capture of every record every node
 * stores and every record a GET carried, in which no byte string of any
 * plaintext or value name occurs (while a plain record's value does: the
 * capture sees what it should). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yz/dht.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub_wire.h"
#include "yz/seal.h"

#define WAIT_GUARD_MS 60000
#include "../node/wait.h"

enum { N = 16, K = 6 };

static uv_loop_t loop;
static yz_link_memnet *net;
#include "../common/vnet.h"

struct tn {
  yz_identity id;
  yz_node *node;
  yz_dht *dht;
  yz_pubsub *ps;
  bool done, node_stopped, dht_stopped, ps_stopped;
  int status;
  /* encrypted topic: messages received, opened (and the last plaintext),
   * refused (and the last error), with this node's keyring if any */
  const yz_seal_keyring *kr;
  unsigned got, opened, refused;
  int last_err;
  char last_pt[128];
};
static struct tn t[N];

static void run_all_timers(void)
{
  for (size_t i = 0; i < N; i++) {
    yz_node_run_timers(t[i].node);
    yz_dht_run_timers(t[i].dht);
    yz_pubsub_run_timers(t[i].ps);
  }
}

static void on_dht(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct tn *x = arg;
  x->done = true;
  x->status = r->status;
}

/* ---- the capture: every byte a storage node holds or a GET carried ---- */

static uint8_t *cap_buf;
static size_t cap_len, cap_max;

static void capture(const uint8_t *p, size_t n)
{
  if (cap_len + n > cap_max) {
    cap_max = (cap_len + n) * 2;
    cap_buf = realloc(cap_buf, cap_max);
    assert_non_null(cap_buf);
  }
  memcpy(cap_buf + cap_len, p, n);
  cap_len += n;
}

static void on_record(const uint8_t *key, const uint8_t *rec, size_t len,
                      void *ud)
{
  (void)ud;
  capture(key, 32);
  capture(rec, len);
}

static void capture_stores(void)
{
  for (size_t i = 0; i < N; i++)
    yz_dht_foreach_record(t[i].dht, on_record, NULL);
}

static bool captured(const void *needle, size_t m)
{
  for (size_t i = 0; m <= cap_len && i <= cap_len - m; i++)
    if (memcmp(cap_buf + i, needle, m) == 0)
      return true;
  return false;
}

/* A plain DHT GET's record, copied. */
static struct getres {
  bool done;
  int status;
  uint8_t rec[70000];
  size_t len;
} gr;

static void on_get(yz_dht *d, const yz_dht_result *r, void *arg)
{
  (void)d;
  struct getres *g = arg;
  g->done = true;
  g->status = r->status;
  g->len = 0;
  if (r->record != NULL && r->record_len <= sizeof g->rec) {
    memcpy(g->rec, r->record, r->record_len);
    g->len = r->record_len;
  }
}

/* ---- sealed operations ---- */

struct sres {
  bool done;
  int status;
  uint8_t key[32];
  uint64_t seq;
  uint8_t pt[256];
  size_t pt_len;
  size_t n_recipients;
};

static void on_seal(const yz_seal_result *r, void *arg)
{
  struct sres *s = arg;
  s->done = true;
  s->status = r->status;
  memcpy(s->key, r->key, 32);
  s->seq = r->seq;
  s->pt_len = 0;
  if (r->status == 0 && r->opened.plaintext != NULL &&
      r->opened.plaintext_len <= sizeof s->pt) {
    memcpy(s->pt, r->opened.plaintext, r->opened.plaintext_len);
    s->pt_len = r->opened.plaintext_len;
    s->n_recipients = r->opened.n_recipients;
  }
  /* What the GET carried through the network, as a reader got it. */
  if (r->record != NULL)
    capture(r->record, r->record_len);
}

static void user_of(yz_seal_user *u, uint8_t b)
{
  uint8_t seed[32];
  memset(seed, b, sizeof seed);
  seed[0] = 0xee; /* not any node's seed: a user key is not a node key */
  yz_identity id;
  assert_int_equal(yz_identity_from_seed(&id, seed), 0);
  assert_int_equal(yz_seal_user_init(u, &id), 0);
  yz_identity_clear(&id);
}

static void setup_net(void)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  assert_int_equal(yz_link_memnet_new(&net, &loop), 0);
  for (unsigned i = 0; i < N; i++) {
    struct tn *x = &t[i];
    memset(x, 0, sizeof *x);
    uint8_t seed[32];
    memset(seed, (int)(i + 1), sizeof seed);
    assert_int_equal(yz_identity_from_seed(&x->id, seed), 0);
    yz_node_config nc;
    vnet_node_config(&nc, &x->id, net, "seal-test");
    assert_int_equal(yz_node_new(&x->node, &loop, &nc), 0);
    char url[64];
    snprintf(url, sizeof url, "ws://10.%u.0.1:7700", i + 1);
    yz_link_listen_config lc = {.url = url};
    assert_int_equal(yz_node_listen(x->node, &lc), 0);
    yz_dht_config dc;
    yz_dht_config_default(&dc);
    dc.k = K;
    dc.unix_time = vunix;
    dc.random = vrandom;
    dc.republish_ms = 600000;
    assert_int_equal(yz_dht_new(&x->dht, x->node, &dc), 0);
    yz_pubsub_config pc;
    yz_pubsub_config_default(&pc);
    pc.unix_ms = vunix_ms;
    pc.random = vrandom;
    assert_int_equal(yz_pubsub_new(&x->ps, x->node, x->dht, &pc), 0);
    assert_int_equal(yz_node_start(x->node), 0);
  }
  for (size_t i = 1; i < N; i++) {
    const char *boot = yz_node_address(t[0].node, 0);
    t[i].done = false;
    assert_int_equal(yz_dht_join(t[i].dht, &boot, 1, on_dht, &t[i], NULL), 0);
    VWAIT(t[i].done);
    assert_int_equal(t[i].status, 0);
  }
}

static void on_dht_stopped(yz_dht *d, void *arg)
{
  (void)d;
  ((struct tn *)arg)->dht_stopped = true;
}
static void on_node_stopped(yz_node *n, void *arg)
{
  (void)n;
  ((struct tn *)arg)->node_stopped = true;
}

static void on_ps_stopped(yz_pubsub *ps, void *arg)
{
  (void)ps;
  ((struct tn *)arg)->ps_stopped = true;
}

static void teardown_net(void)
{
  for (size_t i = 0; i < N; i++) {
    yz_pubsub_stop(t[i].ps, on_ps_stopped, &t[i]);
    WAIT_FOR(t[i].ps_stopped);
    yz_dht_stop(t[i].dht, on_dht_stopped, &t[i]);
    WAIT_FOR(t[i].dht_stopped);
    yz_node_stop(t[i].node, on_node_stopped, &t[i]);
    WAIT_FOR(t[i].node_stopped);
  }
  for (size_t i = 0; i < N; i++) {
    yz_pubsub_free(t[i].ps);
    yz_dht_free(t[i].dht);
    yz_node_free(t[i].node);
    yz_identity_clear(&t[i].id);
  }
  yz_link_memnet_free(net);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static const char *const secrets[] = {
    "dear diary: the code is 4711",
    "meet at noon by the old mill",
    "diary-2026", /* a value's name */
    "plans-for-june",
    "hello team, epoch two",
};

static void test_sealed_on_the_dht(void **state)
{
  (void)state;
  setup_net();
  yz_seal_user alice, bob, carol, dave;
  user_of(&alice, 1);
  user_of(&bob, 2);
  user_of(&carol, 3);
  user_of(&dave, 4);
  const uint64_t exp = UNIX0 + 7200;

  /* A private value: put from node 3, read back by its owner on node 11
   * (a user moves between nodes) and by nobody else. */
  struct sres s = {0};
  const char *name = secrets[2], *pt = secrets[0];
  assert_int_equal(yz_seal_put(t[3].dht, &alice, (const uint8_t *)name,
                               strlen(name), NULL, 0, (const uint8_t *)pt,
                               strlen(pt), 5, exp, on_seal, &s),
                   0);
  VWAIT(s.done);
  assert_int_equal(s.status, 0);
  uint8_t diary_key[32];
  assert_int_equal(
      yz_seal_name_key(&alice, (const uint8_t *)name, strlen(name), diary_key),
      0);
  assert_memory_equal(s.key, diary_key, 32);
  s = (struct sres){0};
  assert_int_equal(yz_seal_get(t[11].dht, &alice, diary_key, on_seal, &s), 0);
  VWAIT(s.done);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.pt_len, strlen(pt));
  assert_memory_equal(s.pt, pt, s.pt_len);
  s = (struct sres){0};
  assert_int_equal(yz_seal_get(t[12].dht, &bob, diary_key, on_seal, &s), 0);
  VWAIT(s.done);
  assert_int_equal(s.status, YZ_E_SEAL_WRONG_KEY);

  /* A shared value for bob, then shared with carol too (a new seq). */
  const char *pname = secrets[3], *ppt = secrets[1];
  s = (struct sres){0};
  assert_int_equal(yz_seal_put(t[4].dht, &alice, (const uint8_t *)pname,
                               strlen(pname), bob.ed_pk, 1,
                               (const uint8_t *)ppt, strlen(ppt), 10, exp,
                               on_seal, &s),
                   0);
  VWAIT(s.done);
  assert_int_equal(s.status, 0);
  uint8_t plans_key[32];
  memcpy(plans_key, s.key, 32);
  s = (struct sres){0};
  assert_int_equal(yz_seal_get(t[9].dht, &carol, plans_key, on_seal, &s), 0);
  VWAIT(s.done);
  assert_int_equal(s.status, YZ_E_SEAL_NOT_RECIPIENT);
  s = (struct sres){0};
  assert_int_equal(yz_seal_share(t[5].dht, &alice, (const uint8_t *)pname,
                                 strlen(pname), carol.ed_pk, 1, exp, on_seal,
                                 &s),
                   0);
  VWAIT(s.done);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.seq, 11);
  assert_memory_equal(s.key, plans_key, 32);
  const yz_seal_user *readers[] = {&alice, &bob, &carol};
  for (size_t i = 0; i < 3; i++) {
    s = (struct sres){0};
    assert_int_equal(
        yz_seal_get(t[13 + i].dht, readers[i], plans_key, on_seal, &s), 0);
    VWAIT(s.done);
    assert_int_equal(s.status, 0);
    assert_int_equal(s.seq, 11);
    assert_int_equal(s.n_recipients, 3);
    assert_int_equal(s.pt_len, strlen(ppt));
    assert_memory_equal(s.pt, ppt, s.pt_len);
  }
  s = (struct sres){0};
  assert_int_equal(yz_seal_get(t[8].dht, &dave, plans_key, on_seal, &s), 0);
  VWAIT(s.done);
  assert_int_equal(s.status, YZ_E_SEAL_NOT_RECIPIENT);

  /* A topic key record: alice's topic "team" for bob; bob fetches it on
   * node 2 and seals a message that only members open. */
  uint8_t topic[32];
  assert_int_equal(yz_ps_topic_hash(topic, "team", 4), 0);
  static yz_seal_topic_owner tw;
  assert_int_equal(yz_seal_topic_create(&tw, &alice, topic, bob.ed_pk, 1), 0);
  assert_int_equal(yz_seal_topic_rotate(&tw), 0);
  static uint8_t rec[70000];
  size_t rlen;
  assert_int_equal(
      yz_seal_topic_record(&tw, &alice, 1, exp, rec, sizeof rec, &rlen), 0);
  t[6].done = false;
  assert_int_equal(yz_dht_put(t[6].dht, rec, rlen, NULL, on_dht, &t[6], NULL),
                   0);
  VWAIT(t[6].done);
  assert_int_equal(t[6].status, 0);
  uint8_t tkey[32];
  assert_int_equal(yz_seal_topic_record_key(tkey, alice.ed_pk, topic), 0);
  /* bob fetches it on node 2 and reads the key of the newest epoch. */
  gr.done = false;
  assert_int_equal(yz_dht_get(t[2].dht, tkey, NULL, on_get, &gr, NULL), 0);
  VWAIT(gr.done);
  assert_int_equal(gr.status, 0);
  yz_dhtrec d;
  assert_int_equal(yz_dhtrec_decode(&d, gr.rec, gr.len, 0, NULL), 0);
  yz_seal_keyring kb, kd;
  yz_seal_keyring_init(&kb, topic, alice.ed_pk, YZ_SEAL_WINDOW_MS_DEFAULT);
  yz_seal_keyring_init(&kd, topic, alice.ed_pk, YZ_SEAL_WINDOW_MS_DEFAULT);
  assert_int_equal(yz_seal_topic_keys_open(&kb, &bob, &d, vclock), 0);
  assert_int_equal(yz_seal_keyring_epoch(&kb), 2);
  assert_int_equal(yz_seal_topic_keys_open(&kd, &dave, &d, vclock),
                   YZ_E_SEAL_NOT_RECIPIENT);
  /* bob publishes: the RPC a relay handles is captured. */
  const char *mpt = secrets[4];
  uint8_t payload[256], out[256], rpcb[1024];
  size_t pl, ol, rl;
  uint64_t ep;
  assert_int_equal(yz_seal_topic_seal(&kb, bob.ed_pk, (const uint8_t *)mpt,
                                      strlen(mpt), payload, sizeof payload,
                                      &pl, &ep),
                   0);
  static yz_ps_rpc rpc;
  yz_ps_rpc_init(&rpc);
  rpc.n_publish = 1;
  yz_ps_msg *m = &rpc.publish[0];
  memcpy(m->topic, topic, 32);
  m->seq = 1;
  m->expiry = vunix(NULL) + 60;
  m->epoch = ep;
  m->data = payload;
  m->data_len = pl;
  assert_int_equal(yz_ps_msg_sign_raw(m, bob.ed_sk, NULL), 0);
  assert_int_equal(yz_ps_rpc_encode(&rpc, NULL, rpcb, sizeof rpcb, &rl, NULL),
                   0);
  capture(rpcb, rl);
  /* A relay decodes and checks it without any key. */
  static yz_ps_rpc back;
  assert_int_equal(yz_ps_rpc_decode(&back, rpcb, rl, NULL, NULL), 0);
  assert_int_equal(yz_ps_msg_check(&back.publish[0], vunix(NULL), 0, 0, NULL),
                   YZ_PS_OK);
  /* Members open it; dave cannot. */
  assert_int_equal(yz_seal_topic_open(&kb, bob.ed_pk, back.publish[0].epoch,
                                      back.publish[0].data,
                                      back.publish[0].data_len, vclock, out,
                                      sizeof out, &ol),
                   0);
  assert_int_equal(ol, strlen(mpt));
  assert_memory_equal(out, mpt, ol);
  assert_int_equal(yz_seal_topic_open(&kd, bob.ed_pk, ep, payload, pl, vclock,
                                      out, sizeof out, &ol),
                   YZ_E_SEAL_EPOCH);

  /* A plain record, as a control: its value must show in the capture. */
  static const char plain[] = "plain and visible to storage nodes";
  yz_dhtrec pr;
  memset(&pr, 0, sizeof pr);
  pr.kind = YZ_DHTREC_MUTABLE;
  pr.seq = 1;
  pr.expiry = exp;
  pr.value = (const uint8_t *)plain;
  pr.value_len = strlen(plain);
  assert_int_equal(yz_dhtrec_sign(&pr, &t[7].id, NULL), 0);
  size_t plen;
  assert_int_equal(yz_dhtrec_encode(&pr, rec, sizeof rec, &plen), 0);
  t[7].done = false;
  assert_int_equal(yz_dht_put(t[7].dht, rec, plen, NULL, on_dht, &t[7], NULL),
                   0);
  VWAIT(t[7].done);
  assert_int_equal(t[7].status, 0);

  /* Everything stored anywhere, and everything GETs carried. */
  capture_stores();
  capture(gr.rec, gr.len);
  assert_true(cap_len > 10000);
  assert_true(captured(plain, strlen(plain)));
  assert_true(captured(diary_key, 32));
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
    /* Any 8 consecutive bytes of a secret would be a leak. */
    size_t n = strlen(secrets[i]);
    for (size_t j = 0; j + 8 <= n; j++)
      if (captured(secrets[i] + j, 8))
        fail_msg("the capture holds bytes of \"%s\"", secrets[i]);
  }
  free(cap_buf);
  cap_buf = NULL;
  cap_len = cap_max = 0;

  teardown_net();
  yz_seal_keyring_clear(&kb);
  yz_seal_keyring_clear(&kd);
  yz_seal_topic_owner_clear(&tw);
  yz_seal_user_clear(&alice);
  yz_seal_user_clear(&bob);
  yz_seal_user_clear(&carol);
  yz_seal_user_clear(&dave);
}

/* Every node subscribes to the encrypted topic "team" (so every node is a
 * relay); a member's node opens what it gets, a non-member's cannot; what
 * every node handled holds no plaintext. */
static void on_team(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps;
  struct tn *x = ud;
  x->got++;
  capture(m->data, m->len);
  if (x->kr == NULL)
    return;
  uint8_t out[128];
  size_t ol;
  int rc =
      yz_seal_topic_open_message(x->kr, m, vclock, out, sizeof out - 1, &ol);
  if (rc == 0) {
    x->opened++;
    memcpy(x->last_pt, out, ol);
    x->last_pt[ol] = 0;
  } else {
    x->refused++;
    x->last_err = rc;
  }
}

static bool all_got(unsigned n)
{
  for (size_t i = 0; i < N; i++)
    if (t[i].got < n)
      return false;
  return true;
}

static void test_encrypted_topic_on_pubsub(void **state)
{
  (void)state;
  setup_net();
  yz_seal_user alice, bob, dave;
  user_of(&alice, 1);
  user_of(&bob, 2);
  user_of(&dave, 4);
  const uint64_t exp = UNIX0 + 7200;
  uint8_t topic[32];
  assert_int_equal(yz_ps_topic_hash(topic, "team", 4), 0);
  static yz_seal_topic_owner tw;
  assert_int_equal(yz_seal_topic_create(&tw, &alice, topic, bob.ed_pk, 1), 0);
  static uint8_t rec[70000];
  size_t rlen;
  assert_int_equal(
      yz_seal_topic_record(&tw, &alice, 1, exp, rec, sizeof rec, &rlen), 0);
  t[6].done = false;
  assert_int_equal(yz_dht_put(t[6].dht, rec, rlen, NULL, on_dht, &t[6], NULL),
                   0);
  VWAIT(t[6].done);
  assert_int_equal(t[6].status, 0);
  uint8_t tkey[32];
  assert_int_equal(yz_seal_topic_record_key(tkey, alice.ed_pk, topic), 0);
  gr.done = false;
  assert_int_equal(yz_dht_get(t[2].dht, tkey, NULL, on_get, &gr, NULL), 0);
  VWAIT(gr.done);
  assert_int_equal(gr.status, 0);
  yz_dhtrec d;
  assert_int_equal(yz_dhtrec_decode(&d, gr.rec, gr.len, 0, NULL), 0);
  static yz_seal_keyring kb, kd;
  yz_seal_keyring_init(&kb, topic, alice.ed_pk, YZ_SEAL_WINDOW_MS_DEFAULT);
  yz_seal_keyring_init(&kd, topic, alice.ed_pk, YZ_SEAL_WINDOW_MS_DEFAULT);
  assert_int_equal(yz_seal_topic_keys_open(&kb, &bob, &d, vclock), 0);
  assert_int_equal(yz_seal_topic_keys_open(&kd, &dave, &d, vclock),
                   YZ_E_SEAL_NOT_RECIPIENT);
  t[2].kr = &kb; /* bob's node */
  t[9].kr = &kb; /* bob's second device */
  t[3].kr = &kd; /* dave's node */
  for (size_t i = 0; i < N; i++)
    assert_int_equal(
        yz_pubsub_subscribe(t[i].ps, "team", NULL, on_team, &t[i]), 0);
  for (size_t i = 0; i < N; i++)
    VWAIT(yz_pubsub_mesh_size(t[i].ps, "team") >= 1);
  const char *pt = secrets[4];
  size_t reached = 0;
  assert_int_equal(yz_seal_topic_publish(t[2].ps, &kb, "team",
                                         (const uint8_t *)pt, strlen(pt), 0,
                                         &reached, NULL, NULL, NULL),
                   0);
  VWAIT(all_got(1));
  assert_int_equal(t[2].opened, 1);
  assert_int_equal(t[9].opened, 1);
  assert_string_equal(t[9].last_pt, pt);
  assert_int_equal(t[3].opened, 0);
  assert_int_equal(t[3].refused, 1);
  assert_int_equal(t[3].last_err, YZ_E_SEAL_EPOCH);
  /* dave cannot publish to it; a publish to another topic is refused. */
  assert_int_equal(yz_seal_topic_publish(t[3].ps, &kd, "team",
                                         (const uint8_t *)"x", 1, 0, &reached,
                                         NULL, NULL, NULL),
                   YZ_E_SEAL_EPOCH);
  assert_int_equal(yz_seal_topic_publish(t[2].ps, &kb, "other",
                                         (const uint8_t *)"x", 1, 0, &reached,
                                         NULL, NULL, NULL),
                   YZ_E_INVAL);
  /* Every node relayed ciphertext only. */
  size_t n = strlen(pt);
  assert_true(cap_len >= N * n);
  for (size_t j = 0; j + 8 <= n; j++)
    if (captured(pt + j, 8))
      fail_msg("a relay handled bytes of the plaintext");
  free(cap_buf);
  cap_buf = NULL;
  cap_len = cap_max = 0;
  for (size_t i = 0; i < N; i++)
    t[i].kr = NULL;
  teardown_net();
  yz_seal_keyring_clear(&kb);
  yz_seal_keyring_clear(&kd);
  yz_seal_topic_owner_clear(&tw);
  yz_seal_user_clear(&alice);
  yz_seal_user_clear(&bob);
  yz_seal_user_clear(&dave);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sealed_on_the_dht),
      cmocka_unit_test(test_encrypted_topic_on_pubsub),
  };
  yz_log_set_level(YZ_LOG_ERR);
  return cmocka_run_group_tests_name("seal_net", tests, NULL, NULL);
}
