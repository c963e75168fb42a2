/*
 * yz pub TOPIC MESSAGE and yz sub TOPIC: PubSub from the command line
 * (docs/pubsub.md "Programs").
 *
 * An ephemeral node (ephemeral.h: a fresh identity, no listener, a
 * client-only DHT) joins through --bootstrap and runs PubSub
 * (yz/pubsub.h). `pub` publishes one message signed by that identity,
 * finding subscribers through the DHT when it knows none, and waits until
 * every peer it holds a link to has answered a ping sent after the
 * message (a link delivers in order, so the message has arrived there)
 * before it exits. `sub` subscribes, finds the topic's subscribers
 * through the DHT, and streams every message with its author and
 * latency. Exit codes: usage() and docs/operations.md.
 *
 * --encrypted (with --user FILE --owner PUBKEY): an encrypted topic
 * (yz/seal.h, docs/sealed.md). The topic key record of the owner is read
 * from the DHT first; pub seals the message under the newest epoch the
 * user is a member of, sub opens what arrives (and says what it cannot).
 * A message of an epoch newer than the keys sub holds means the owner
 * rotated (a member was removed, docs/sealed.md): sub reads the topic key
 * record again, holding up to MAX_HELD such messages meanwhile, and opens
 * them with the new keys (or says it cannot, when it is no longer a
 * member).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "cli.h"
#include "ephemeral.h"
#include "yz/common.h"
#include "yz/pubsub.h"
#include "yz/seal.h"
#include "yz/wire.h"

enum {
  EXIT_NO_SUBSCRIBER = 3, /* pub: nobody subscribes to the topic */
  EXIT_NETWORK = YZ_EPH_EXIT_NETWORK, /* joined nobody, unreachable, time ran out */
  MAX_HELD = 16, /* sub --encrypted: messages waiting for newer keys */
  MAX_PINGS = 1024,
  EXIT_NOT_MEMBER = 6, /* --encrypted: no key of the topic's current epoch */
};

static const char encrypted_opts[] =
    "  --encrypted       an encrypted topic (docs/sealed.md): with\n"
    "  --user FILE       your user key (yz keygen --user), a member, and\n"
    "  --owner PUBKEY    the topic owner's public key (yz topic create)\n";

static void usage_pub(FILE *f)
{
  fprintf(f,
"Usage: yz pub --bootstrap ADDR [options] TOPIC MESSAGE\n"
"\n"
"Publishes MESSAGE to TOPIC (docs/pubsub.md) from an ephemeral node: a\n"
"fresh identity in memory (it signs the message), no listener, client-only\n"
"in the DHT. It joins through the --bootstrap nodes and publishes; when it\n"
"knows no subscriber of the topic yet, it finds them through the DHT's\n"
"provider records, dials them and sends them the message. It exits once\n"
"every peer it has a link to has answered a ping sent after the message.\n"
"\n"
"Options:\n"
"  --bootstrap ADDR  a node to join through: ws[s]://HOST:PORT/#NODEID, or\n"
"                    ws[s]://HOST:PORT/ (repeatable; at least one)\n"
"  --network NAME    the network (default yz, the public one)\n"
"  --ttl S           seconds the message lives (default 120, at most 600)\n"
"  --timeout S       the whole command, default 30\n"
"  --json            one JSON object on stdout\n"
"  -v, --verbose     the node's log on stderr\n"
"%s"
"\n"
"Prints the message ID, its seq and how many peers it was sent to.\n"
"\n"
"Exit status:\n"
"  0  sent to at least one subscriber\n"
"  1  another failure\n"
"  2  bad command line\n"
"  3  no subscriber of the topic was found\n"
"  4  network: no bootstrap node answered, subscribers unreachable, or the\n"
"     time ran out\n"
"  6  --encrypted: not a member of the topic's current epoch\n",
          encrypted_opts);
}

static void usage_sub(FILE *f)
{
  fprintf(f,
"Usage: yz sub --bootstrap ADDR [options] TOPIC\n"
"\n"
"Subscribes to TOPIC (docs/pubsub.md) from an ephemeral node (a fresh\n"
"identity, no listener, client-only in the DHT) that joins through the\n"
"--bootstrap nodes and finds the topic's subscribers through the DHT. It\n"
"prints every message received, one per line, with its author (the node\n"
"ID of its signing key), seq, size and latency (from the seq, which yz\n"
"authors set to the Unix time in microseconds of publishing; '-' when\n"
"unknown), until --count messages, --timeout, or SIGINT. A line on stderr\n"
"says when it has joined a mesh.\n"
"\n"
"Options:\n"
"  --bootstrap ADDR  a node to join through (repeatable; at least one)\n"
"  --network NAME    the network (default yz, the public one)\n"
"  --count N         exit after N messages\n"
"  --timeout S       stop after S seconds (default: never)\n"
"  --json            one JSON object per message on stdout\n"
"  -v, --verbose     the node's log on stderr\n"
"%s"
"\n"
"Exit status:\n"
"  0  --count messages received, or stopped by SIGINT or --timeout without\n"
"     --count\n"
"  1  another failure\n"
"  2  bad command line\n"
"  4  network: no bootstrap node answered, or --timeout before --count\n"
"     messages\n"
"  6  --encrypted: no key of the topic at all\n",
          encrypted_opts);
}

struct pcmd {
  yz_eph_cmd k; /* first: the node, join, guard, exit (ephemeral.h) */
  uv_timer_t poll;
  uv_signal_t sigint;
  bool sub, json;
  yz_eph_opts eo; /* --bootstrap, --network, -v */
  const char *topic, *message;
  uint32_t ttl_ms;
  unsigned long long count, got;
  bool announced;
  /* pub */
  uint8_t id[YZ_PS_ID_LEN];
  uint64_t seq;
  size_t reached, providers;
  unsigned pings_out;
  /* --encrypted */
  bool encrypted;
  yz_seal_user user;
  uint8_t owner[32];
  yz_seal_keyring kr;
  /* sub --encrypted: a re-read of the keys in flight, the messages of a
   * newer epoch held until it ends (copies), and whether they are being
   * replayed now. */
  bool subscribed, refetching, replaying;
  size_t nheld;
  struct held {
    yz_pubsub_message m;
    uint8_t topic_hash[YZ_PS_TOPIC_LEN], id[YZ_PS_ID_LEN], author[32];
    yz_node_id from;
    uint8_t *data;
  } held[MAX_HELD];
};

static void json_str(const uint8_t *p, size_t n)
{
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\')
      printf("\\%c", p[i]);
    else if (p[i] < 0x20 || p[i] >= 0x7f)
      printf("\\u%04x", p[i]);
    else
      putchar(p[i]);
  }
  putchar('"');
}

static void finish(struct pcmd *c, int code)
{
  yz_eph_cmd_finish(&c->k, code);
}

/* yz_eph_cmd's closing hook: the held messages and the handles. */
static void closing(yz_eph_cmd *k)
{
  struct pcmd *c = (struct pcmd *)k;
  for (size_t i = 0; i < c->nheld; i++) {
    free(c->held[i].data);
    c->held[i].data = NULL; /* replay_held() may be the caller */
  }
  c->nheld = 0;
  uv_close((uv_handle_t *)&c->poll, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
}

/* ---- pub --------------------------------------------------------------- */

static void pub_report(struct pcmd *c, int status)
{
  char idh[2 * YZ_PS_ID_LEN + 1];
  yz_cli_hex(c->id, YZ_PS_ID_LEN, idh);
  if (c->json) {
    printf("{\"op\":\"pub\",\"status\":\"%s\",\"topic\":",
           status ? yz_err_name(status) : "OK");
    json_str((const uint8_t *)c->topic, strlen(c->topic));
    printf(",\"id\":\"%s\",\"seq\":%" PRIu64 ",\"reached\":%zu,"
           "\"providers\":%zu,\"ms\":%" PRIu64 "}\n",
           idh, c->seq, c->reached, c->providers, yz_eph_cmd_ms(&c->k));
  } else if (status == 0) {
    printf("published to %s: id %s seq %" PRIu64 ", sent to %zu peer%s (%" PRIu64
           " ms)\n",
           c->topic, idh, c->seq, c->reached, c->reached == 1 ? "" : "s",
           yz_eph_cmd_ms(&c->k));
  }
}

static void on_ping(yz_node *n, int status, const yz_node_response *r,
                    void *arg)
{
  (void)n;
  (void)status;
  (void)r;
  struct pcmd *c = arg;
  if (--c->pings_out == 0 && !c->k.stopping) {
    pub_report(c, 0);
    finish(c, YZ_EXIT_OK);
  }
}

/* Sent: make sure it has arrived before the links close (docs above). */
static void pub_sent(struct pcmd *c)
{
  static yz_node_id peers[MAX_PINGS];
  size_t n = yz_node_peers(c->k.e.node, peers, MAX_PINGS);
  if (n > MAX_PINGS)
    n = MAX_PINGS;
  c->pings_out = 1; /* held until every request is out */
  for (size_t i = 0; i < n; i++)
    if (yz_node_request(c->k.e.node, &peers[i], YZ_NODE_PROTO_PING,
                        (const uint8_t *)"p", 1, 5000, on_ping, c,
                        NULL) == 0)
      c->pings_out++;
  on_ping(c->k.e.node, 0, NULL, c);
}

static void on_published(yz_pubsub *ps, const yz_pubsub_publish_result *r,
                         void *arg)
{
  (void)ps;
  struct pcmd *c = arg;
  if (c->k.stopping)
    return;
  c->reached = r->reached;
  c->providers = r->providers;
  c->seq = r->seq;
  if (r->status == 0) {
    pub_sent(c);
    return;
  }
  pub_report(c, r->status);
  if (r->status == YZ_E_NOT_FOUND) {
    fprintf(stderr, "%s: no subscriber of %s found\n", yz_cli_prog,
            c->topic);
    finish(c, EXIT_NO_SUBSCRIBER);
  } else {
    fprintf(stderr, "%s: %zu subscriber%s found, none reached: %s\n",
            yz_cli_prog, r->providers, r->providers == 1 ? "" : "s",
            yz_strerror(r->status));
    finish(c, EXIT_NETWORK);
  }
}

static void pub_start(struct pcmd *c)
{
  size_t reached = 0;
  int err = c->encrypted
                ? yz_seal_topic_publish(c->k.e.ps, &c->kr, c->topic,
                                        (const uint8_t *)c->message,
                                        strlen(c->message), c->ttl_ms,
                                        &reached, c->id, on_published, c)
                : yz_pubsub_publish(c->k.e.ps, c->topic,
                                    (const uint8_t *)c->message,
                                    strlen(c->message), c->ttl_ms, &reached,
                                    c->id, on_published, c);
  if (err != 0) {
    fprintf(stderr, "%s: cannot publish: %s\n", yz_cli_prog,
            yz_strerror(err));
    finish(c, err == YZ_E_INVAL ? YZ_EXIT_USAGE : YZ_EXIT_FAIL);
    return;
  }
  c->reached = reached;
  c->seq = yz_pubsub_last_seq(c->k.e.ps);
  if (reached > 0)
    pub_sent(c);
  /* else on_published() follows */
}

/* ---- sub --------------------------------------------------------------- */

static void keys_start(struct pcmd *c);

/* Keep a copy of m (an epoch newer than our keys) and start re-reading
 * the topic's keys, if that is not under way. false: no room (m is then
 * reported as unopened at once). */
static bool hold(struct pcmd *c, const yz_pubsub_message *m)
{
  if (c->nheld == MAX_HELD)
    return false;
  struct held *h = &c->held[c->nheld];
  h->data = malloc(m->len ? m->len : 1);
  if (h->data == NULL)
    return false;
  memcpy(h->data, m->data, m->len);
  h->m = *m;
  memcpy(h->topic_hash, m->topic_hash, sizeof h->topic_hash);
  memcpy(h->id, m->id, sizeof h->id);
  memcpy(h->author, m->author, sizeof h->author);
  h->m.topic_hash = h->topic_hash;
  h->m.id = h->id;
  h->m.author = h->author;
  h->m.data = h->data;
  if (m->from) {
    h->from = *m->from;
    h->m.from = &h->from;
  }
  c->nheld++;
  if (!c->refetching) {
    c->refetching = true;
    keys_start(c);
  }
  return true;
}

static void on_message(yz_pubsub *ps, const yz_pubsub_message *m, void *ud);

/* The re-read of the keys ended (whatever its outcome): open the held
 * messages with what the keyring now holds, in their order. */
static void replay_held(struct pcmd *c)
{
  c->refetching = false;
  c->replaying = true;
  size_t n = c->nheld;
  for (size_t i = 0; i < n && !c->k.stopping; i++) {
    on_message(c->k.e.ps, &c->held[i].m, c);
    free(c->held[i].data);
    c->held[i].data = NULL;
  }
  for (size_t i = 0; i < n; i++)
    free(c->held[i].data);
  c->nheld = 0;
  c->replaying = false;
}

static void on_message(yz_pubsub *ps, const yz_pubsub_message *m, void *ud)
{
  (void)ps;
  struct pcmd *c = ud;
  if (c->k.stopping)
    return;
  char author[2 * YZ_NODE_ID_LEN + 1], idh[2 * YZ_PS_ID_LEN + 1];
  yz_cli_hex(m->author_id.bytes, YZ_NODE_ID_LEN, author);
  yz_cli_hex(m->id, YZ_PS_ID_LEN, idh);
  /* An encrypted topic: print what the keys open, and say what they do
   * not (a plain message, an epoch without a key, a tampered payload). */
  static uint8_t opened[YZ_PS_MAX_DATA];
  yz_pubsub_message pm;
  char why[160] = "";
  if (c->encrypted) {
    size_t ol = 0;
    int rc = yz_seal_topic_open_message(&c->kr, m, (uint64_t)time(NULL) * 1000,
                                        opened, sizeof opened, &ol);
    if (rc == YZ_E_SEAL_EPOCH && !c->replaying &&
        m->epoch > yz_seal_keyring_epoch(&c->kr) && hold(c, m))
      return;
    pm = *m;
    if (rc == 0) {
      pm.data = opened;
      pm.len = ol;
    } else {
      snprintf(why, sizeof why, "(cannot open, epoch %" PRIu64 ": %s)",
               m->epoch, yz_strerror(rc));
      pm.data = (const uint8_t *)why;
      pm.len = strlen(why);
    }
    m = &pm;
  }
  if (c->json) {
    printf("{\"topic\":");
    json_str((const uint8_t *)m->topic, strlen(m->topic));
    printf(",\"author\":\"%s\",\"id\":\"%s\",\"seq\":%" PRIu64
           ",\"size\":%zu,\"latency_ms\":",
           author, idh, m->seq, m->len);
    if (m->published_us)
      printf("%.3f", (double)m->latency_us / 1000.0);
    else
      printf("null");
    printf(",\"data\":");
    json_str(m->data, m->len);
    printf("}\n");
  } else {
    char lat[32] = "-";
    if (m->published_us)
      snprintf(lat, sizeof lat, "%.1f ms", (double)m->latency_us / 1000.0);
    printf("%s from %.16s seq %" PRIu64 " size %zu latency %s: ", m->topic,
           author, m->seq, m->len, lat);
    fwrite(m->data, 1, m->len, stdout);
    putchar('\n');
  }
  fflush(stdout);
  if (c->encrypted)
    sodium_memzero(opened, m->len <= sizeof opened ? m->len : 0);
  if (c->count && ++c->got >= c->count)
    finish(c, YZ_EXIT_OK);
}

static void on_poll(uv_timer_t *t)
{
  struct pcmd *c = t->data;
  size_t m = yz_pubsub_mesh_size(c->k.e.ps, c->topic);
  if (m > 0 && !c->announced) {
    c->announced = true;
    fprintf(stderr, "%s: subscribed to %s: mesh of %zu peer%s\n",
            yz_cli_prog, c->topic, m, m == 1 ? "" : "s");
    uv_timer_stop(t);
  }
}

static void sub_start(struct pcmd *c)
{
  int err = yz_pubsub_subscribe(c->k.e.ps, c->topic, NULL, on_message, c);
  c->subscribed = err == 0;
  if (err != 0) {
    fprintf(stderr, "%s: cannot subscribe: %s\n", yz_cli_prog,
            yz_strerror(err));
    finish(c, err == YZ_E_INVAL ? YZ_EXIT_USAGE : YZ_EXIT_FAIL);
    return;
  }
  uv_timer_start(&c->poll, on_poll, 100, 100);
}

/* ---- --encrypted: the topic's keys -------------------------------------- */

static void on_keys(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct pcmd *c = arg;
  if (c->k.stopping)
    return;
  int rc = r->status;
  if (rc == 0 && r->rec == NULL)
    rc = YZ_E_NOT_FOUND;
  if (rc == 0)
    rc = yz_seal_topic_keys_open(&c->kr, &c->user, r->rec,
                                 (uint64_t)time(NULL) * 1000);
  if (c->subscribed) {
    /* A re-read after a message of a newer epoch (hold()). */
    fprintf(stderr, "%s: %s: keys read again: epoch %" PRIu64 "%s\n",
            yz_cli_prog, c->topic, yz_seal_keyring_epoch(&c->kr),
            rc == 0 ? "" : " (no key of the newest: not a member of it)");
    replay_held(c);
    return;
  }
  bool usable = rc == 0 || (c->sub && c->kr.n > 0);
  if (!usable) {
    fprintf(stderr, "%s: %s: no key of the topic for this user: %s\n",
            yz_cli_prog, c->topic, yz_strerror(rc));
    finish(c, rc == YZ_E_NOT_FOUND || rc == YZ_E_TIMEOUT ? EXIT_NETWORK
                                                        : EXIT_NOT_MEMBER);
    return;
  }
  fprintf(stderr, "%s: %s: encrypted, epoch %" PRIu64 "%s\n", yz_cli_prog,
          c->topic, yz_seal_keyring_epoch(&c->kr),
          rc == 0 ? "" : " (no longer a member of the newest)");
  if (c->sub)
    sub_start(c);
  else
    pub_start(c);
}

static void keys_start(struct pcmd *c)
{
  uint8_t h[YZ_PS_TOPIC_LEN], key[YZ_DHTREC_KEY_LEN];
  int err = yz_ps_topic_hash(h, c->topic, strlen(c->topic));
  if (err == 0)
    err = yz_seal_topic_record_key(key, c->owner, h);
  if (err == 0) {
    if (!c->subscribed) /* a re-read keeps the epochs held */
      yz_seal_keyring_init(&c->kr, h, c->owner, YZ_SEAL_WINDOW_MS_DEFAULT);
    err = yz_dht_get(c->k.e.dht, key, NULL, on_keys, c, NULL);
  }
  if (err != 0) {
    fprintf(stderr, "%s: cannot read the topic's keys: %s\n", yz_cli_prog,
            yz_strerror(err));
    if (c->subscribed)
      replay_held(c); /* keep streaming with the keys held */
    else
      finish(c, YZ_EXIT_FAIL);
  }
}

/* ---- both -------------------------------------------------------------- */


/* yz_eph_cmd's hooks (ephemeral.h). */
static void joined(yz_eph_cmd *k)
{
  struct pcmd *c = (struct pcmd *)k;
  if (c->encrypted) {
    keys_start(c);
    return;
  }
  if (c->sub)
    sub_start(c);
  else
    pub_start(c);
}

static void timed_out(yz_eph_cmd *k)
{
  struct pcmd *c = (struct pcmd *)k;
  if (c->sub && c->count == 0) {
    finish(c, YZ_EXIT_OK);
    return;
  }
  fprintf(stderr, "%s: %s within %u s\n", yz_cli_prog,
          c->sub ? "not enough messages" : "no result", c->k.timeout_ms / 1000);
  finish(c, EXIT_NETWORK);
}

static void on_sigint(uv_signal_t *s, int signum)
{
  (void)signum;
  finish(s->data, YZ_EXIT_OK);
}

static void started(yz_eph_cmd *k)
{
  struct pcmd *c = (struct pcmd *)k;
  uv_timer_init(&c->k.e.loop, &c->poll);
  uv_signal_init(&c->k.e.loop, &c->sigint);
  c->poll.data = c->sigint.data = c;
  uv_signal_start(&c->sigint, on_sigint, SIGINT);
}

static int run(struct pcmd *c)
{
  c->k.joined = joined;
  c->k.timed_out = timed_out;
  c->k.started = started;
  c->k.closing = closing;
  return yz_eph_cmd_run(&c->k, &c->eo, true);
}

static int main_common(int argc, char **argv, bool sub)
{
  void (*usage)(FILE *) = sub ? usage_sub : usage_pub;
  static struct pcmd c;
  memset(&c, 0, sizeof c);
  c.sub = sub;
  const char *args[2] = {NULL, NULL};
  size_t nargs = 0;
  unsigned long long ttl = 120, timeout_s = sub ? 0 : 30;
  bool have_owner = false;
  const char *userfile = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    int used = yz_eph_option(&c.eo, a, v);
    if (used < 0)
      return -used;
    if (used > 0) {
      i += used - 1;
      continue;
    }
    if (yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      c.json = true;
      takes = false;
    } else if (strcmp(a, "--encrypted") == 0) {
      c.encrypted = true;
      takes = false;
    } else if (a[0] == '-' && a[1] == '-' && v == NULL) {
      return yz_cli_usage_error("%s needs a value (or is unknown)", a);
    } else if (strcmp(a, "--user") == 0) {
      userfile = v;
    } else if (strcmp(a, "--owner") == 0) {
      if (strlen(v) != 64 ||
          yz_node_id_parse((yz_node_id *)(void *)c.owner, (const uint8_t *)v,
                           64, NULL) != 0)
        return yz_cli_usage_error("--owner: want a public key of 64 hex "
                                  "digits");
      have_owner = true;
    } else if (strcmp(a, "--ttl") == 0 && !sub) {
      if (!yz_cli_parse_u64(v, 1, YZ_PS_MAX_LIFETIME, &ttl))
        return yz_cli_usage_error("--ttl: want seconds from 1 to %d",
                                  YZ_PS_MAX_LIFETIME);
    } else if (strcmp(a, "--count") == 0 && sub) {
      if (!yz_cli_parse_u64(v, 1, UINT32_MAX, &c.count))
        return yz_cli_usage_error("--count: want a number from 1");
    } else if (strcmp(a, "--timeout") == 0) {
      if (!yz_cli_parse_u64(v, 1, 86400, &timeout_s))
        return yz_cli_usage_error("--timeout: want seconds from 1 to 86400");
    } else if (a[0] == '-' && a[1] != '\0') {
      return yz_cli_usage_error("unknown option '%s'", a);
    } else if (nargs < (sub ? 1u : 2u)) {
      args[nargs++] = a;
      takes = false;
    } else {
      return yz_cli_usage_error("unexpected argument '%s'", a);
    }
    if (takes)
      i++;
  }
  int bad = yz_eph_options_check(&c.eo);
  if (bad != 0)
    return bad;
  if (nargs != (sub ? 1u : 2u))
    return yz_cli_usage_error(sub ? "want a TOPIC" : "want a TOPIC and a "
                                                     "MESSAGE");
  c.topic = args[0];
  c.message = args[1];
  uint8_t h[YZ_PS_TOPIC_LEN];
  if (yz_ps_topic_hash(h, c.topic, strlen(c.topic)) != 0)
    return yz_cli_usage_error("%s: a topic is 1 to 255 bytes of UTF-8",
                              c.topic);
  if (!sub && strlen(c.message) > YZ_PS_MAX_DATA)
    return yz_cli_usage_error("the message is over %d bytes", YZ_PS_MAX_DATA);
  c.ttl_ms = (uint32_t)(ttl * 1000);
  c.k.timeout_ms = (uint32_t)(timeout_s * 1000);
  if (c.encrypted != (userfile != NULL) || c.encrypted != have_owner)
    return yz_cli_usage_error("--encrypted, --user FILE and --owner PUBKEY "
                              "go together");
  if (c.encrypted) {
    yz_identity id;
    const char *why = NULL;
    int err = yz_identity_load(&id, userfile, &why);
    if (err != 0)
      return yz_cli_usage_error("--user %s: %s", userfile,
                                why ? why : yz_strerror(err));
    err = yz_seal_user_init(&c.user, &id);
    yz_identity_clear(&id);
    if (err != 0)
      return yz_cli_error("--user %s: not a usable key", userfile);
  }
  int rc = run(&c);
  yz_seal_user_clear(&c.user);
  yz_seal_keyring_clear(&c.kr);
  return rc;
}

int cmd_pub_main(int argc, char **argv)
{
  return main_common(argc, argv, false);
}

int cmd_sub_main(int argc, char **argv)
{
  return main_common(argc, argv, true);
}
