/*
 * yz put | get | share | topic: sealed values and encrypted topics from
 * the command line (yz/seal.h, docs/sealed.md).
 *
 * `yz put` and `yz get` are `yz dht put` and `yz dht get` (the same code,
 * cmd_dht.c) unless --sealed is given; then the value is sealed with the
 * user key of --user FILE before it leaves this process, and opened after
 * it comes back. Like `yz dht`, each command runs an ephemeral,
 * client-only node that joins through --bootstrap, runs its operations and
 * stops. Exit codes: usage_*() and docs/sealed.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "cli.h"
#include "ephemeral.h"
#include "yz/common.h"
#include "yz/dht.h"
#include "yz/dhtrec.h"
#include "yz/identity.h"
#include "yz/log.h"
#include "yz/node.h"
#include "yz/pubsub_wire.h"
#include "yz/seal.h"
#include "yz/wire.h"

enum {
  EXIT_NOT_FOUND = 3,  /* no record under the key */
  EXIT_NETWORK = YZ_EPH_EXIT_NETWORK, /* joined nobody, timed out, unreachable */
  EXIT_REFUSED = 5,    /* every node asked refused the record */
  EXIT_UNREADABLE = 6, /* sealed, but not for this key (or tampered) */
};

static const char exit_text[] =
    "Exit status:\n"
    "  0  done\n"
    "  1  another failure\n"
    "  2  bad command line\n"
    "  3  not found: no record under the key\n"
    "  4  network: no bootstrap node answered, or the time ran out\n"
    "  5  refused: every node asked refused the record\n"
    "  6  unreadable: the record is sealed for another key, to other\n"
    "     recipients, does not authenticate (tampered, moved, replayed),\n"
    "     or is not sealed; the reason is printed\n";

static const char common_opts[] =
    "  --user FILE       the user key (yz keygen --user FILE)\n"
    "  --bootstrap ADDR  a node to join through (repeatable; at least one)\n"
    "  --network NAME    the network (default yz)\n"
    "  --ttl S           put: seconds until the record expires (default\n"
    "                    86400, at most 172800)\n"
    "  --timeout S       the whole command, default 30\n"
    "  --json            one JSON object on stdout\n"
    "  -v, --verbose     the node's log on stderr\n";

typedef enum {
  OP_PUT,
  OP_GET,
  OP_SHARE,
  OP_TOPIC_CREATE,
  OP_TOPIC_ADD,
  OP_TOPIC_REMOVE,
  OP_TOPIC_SHOW,
} op_kind;

static const char *const op_names[] = {
    "put",       "get",          "share",     "topic create",
    "topic add", "topic remove", "topic show"};

struct scmd {
  yz_eph_cmd k; /* first: the node, join, guard, exit (ephemeral.h) */
  op_kind op;
  bool json;
  yz_eph_opts eo; /* --bootstrap, --network, -v */
  yz_seal_user user;
  /* the operation's input */
  const char *name; /* value name, or topic name */
  const char *value;
  uint8_t key[YZ_DHTREC_KEY_LEN];
  bool have_key;
  uint8_t who[YZ_SEAL_RECIPIENTS_MAX * 32]; /* --to / --member keys */
  size_t n_who;
  uint8_t owner[32]; /* topic show: the owner's key */
  uint8_t topic[32];
  uint64_t seq, ttl;
  bool has_seq;
  uint8_t *record;
  size_t record_len;
  yz_seal_topic_owner *tw;
};

static uint64_t unix_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void finish(struct scmd *c, int code)
{
  yz_eph_cmd_finish(&c->k, code);
}

static int status_exit(int status)
{
  switch (status) {
  case 0:
    return YZ_EXIT_OK;
  case YZ_E_NOT_FOUND:
    return EXIT_NOT_FOUND;
  case YZ_E_TIMEOUT:
  case YZ_E_UNREACHABLE:
    return EXIT_NETWORK;
  case YZ_E_REMOTE:
    return EXIT_REFUSED;
  case YZ_E_SEAL_WRONG_KEY:
  case YZ_E_SEAL_TAMPERED:
  case YZ_E_SEAL_NOT_RECIPIENT:
  case YZ_E_SEAL_VERSION:
  case YZ_E_SEAL_NOT_SEALED:
  case YZ_E_SEAL_EPOCH:
  case YZ_E_MALFORMED:
    return EXIT_UNREADABLE;
  default:
    return YZ_EXIT_FAIL;
  }
}

/* The failure of an operation: one line (or the JSON object). */
static void fail(struct scmd *c, int status)
{
  char kh[65];
  yz_cli_hex(c->key, 32, kh);
  if (c->json)
    printf("{\"op\":\"%s\",\"status\":\"%s\",\"key\":\"%s\",\"reason\":\"%s\","
           "\"total_ms\":%" PRIu64 "}\n",
           op_names[c->op], yz_err_name(status), kh, yz_strerror(status),
           yz_eph_cmd_ms(&c->k));
  else
    fprintf(stderr, "%s: %s: %s [%s]\n", yz_cli_prog, kh, yz_strerror(status),
            yz_err_name(status));
  finish(c, status_exit(status));
}

static const char *kind_name(yz_seal_kind k)
{
  switch (k) {
  case YZ_SEAL_PRIVATE:
    return "private";
  case YZ_SEAL_SHARED:
    return "shared";
  case YZ_SEAL_TOPIC_KEYS:
    return "topic keys";
  default:
    return "plain";
  }
}

/* ---- sealed put / get / share ----------------------------------------- */

static void on_sealed(const yz_seal_result *r, void *arg)
{
  struct scmd *c = arg;
  if (c->k.stopping)
    return;
  memcpy(c->key, r->key, 32);
  if (r->status != 0) {
    fail(c, r->status);
    return;
  }
  char kh[65];
  yz_cli_hex(r->key, 32, kh);
  unsigned stored = r->dht ? r->dht->stored : 0;
  unsigned asked = r->dht ? r->dht->asked : 0;
  if (c->op == OP_GET) {
    const yz_seal_opened *o = &r->opened;
    bool text = yz_cli_printable(o->plaintext, o->plaintext_len);
    if (c->json) {
      printf("{\"op\":\"get\",\"status\":\"ok\",\"key\":\"%s\",\"kind\":\"%s\""
             ",\"seq\":%" PRIu64 ",",
             kh, kind_name(o->kind), r->seq);
      if (text) {
        printf("\"value\":");
        yz_cli_json_text(o->plaintext, o->plaintext_len);
      } else {
        char *h = malloc(2 * o->plaintext_len + 1);
        if (h != NULL) {
          yz_cli_hex(o->plaintext, o->plaintext_len, h);
          printf("\"value_hex\":\"%s\"", h);
          free(h);
        }
      }
      printf(",\"readers\":[");
      for (size_t i = 0; i < o->n_recipients; i++) {
        char ph[65];
        yz_cli_hex(o->recipients + 32 * i, 32, ph);
        printf("%s\"%s\"", i ? "," : "", ph);
      }
      printf("],\"record_bytes\":%zu,\"total_ms\":%" PRIu64 "}\n",
             r->record_len, yz_eph_cmd_ms(&c->k));
    } else {
      printf("key %s (sealed, %s, seq %" PRIu64 ")\n", kh, kind_name(o->kind),
             r->seq);
      if (text) {
        printf("value %.*s\n", (int)o->plaintext_len,
               (const char *)o->plaintext);
      } else {
        char *h = malloc(2 * o->plaintext_len + 1);
        if (h != NULL) {
          yz_cli_hex(o->plaintext, o->plaintext_len, h);
          printf("value (hex) %s\n", h);
          free(h);
        }
      }
      for (size_t i = 0; i < o->n_recipients; i++) {
        char ph[65];
        yz_cli_hex(o->recipients + 32 * i, 32, ph);
        printf("reader %s%s\n", ph,
               memcmp(o->recipients + 32 * i, c->user.ed_pk, 32) == 0
                   ? " (you)"
                   : "");
      }
      printf("%zu bytes stored (ciphertext); %" PRIu64 " ms\n", r->record_len,
             yz_eph_cmd_ms(&c->k));
    }
    finish(c, YZ_EXIT_OK);
    return;
  }
  /* put, share */
  if (c->json)
    printf("{\"op\":\"%s\",\"status\":\"ok\",\"key\":\"%s\",\"seq\":%" PRIu64
           ",\"asked\":%u,\"stored\":%u,\"record_bytes\":%zu,\"total_ms\":"
           "%" PRIu64 "}\n",
           op_names[c->op], kh, r->seq, asked, stored, r->record_len,
           yz_eph_cmd_ms(&c->k));
  else {
    printf("key %s (sealed, seq %" PRIu64 ")\n", kh, r->seq);
    printf("stored on %u of %u nodes asked; %zu bytes of record\n", stored,
           asked, r->record_len);
    if (c->op == OP_SHARE || c->n_who > 0)
      printf("recipients read it with: yz get --sealed --user THEIR_KEY "
             "--key %s\n",
             kh);
  }
  finish(c, YZ_EXIT_OK);
}

/* ---- topics ------------------------------------------------------------ */

static void topic_put(struct scmd *c, uint64_t seq);

static void on_topic_put(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct scmd *c = arg;
  if (c->k.stopping)
    return;
  int st = r->status;
  if (st == 0 && r->stored == 0)
    st = r->refusal != 0 ? YZ_E_REMOTE : YZ_E_UNREACHABLE;
  if (st != 0) {
    fail(c, st);
    return;
  }
  const yz_seal_topic_owner *t = c->tw;
  char kh[65];
  yz_cli_hex(c->key, 32, kh);
  if (c->json) {
    printf("{\"op\":\"%s\",\"status\":\"ok\",\"topic\":\"%s\",\"key\":\"%s\","
           "\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64 ",\"members\":[",
           op_names[c->op], c->name, kh, t->seq, t->epochs[0].epoch);
    for (size_t i = 0; i < t->n_members; i++) {
      char ph[65];
      yz_cli_hex(t->members[i], 32, ph);
      printf("%s\"%s\"", i ? "," : "", ph);
    }
    printf("],\"stored\":%u,\"total_ms\":%" PRIu64 "}\n", r->stored,
           yz_eph_cmd_ms(&c->k));
  } else {
    printf("topic %s: epoch %" PRIu64 ", %zu member%s (you included); "
           "key record %s seq %" PRIu64 " stored on %u nodes\n",
           c->name, t->epochs[0].epoch, t->n_members,
           t->n_members == 1 ? "" : "s", kh, t->seq, r->stored);
    for (size_t i = 0; i < t->n_members; i++) {
      char ph[65];
      yz_cli_hex(t->members[i], 32, ph);
      printf("member %s\n", ph);
    }
  }
  finish(c, YZ_EXIT_OK);
}

static void topic_put(struct scmd *c, uint64_t seq)
{
  size_t cap = yz_dhtrec_encoded_max(0);
  free(c->record);
  c->record = malloc(cap);
  c->tw->seq = seq;
  int err = c->record == NULL
                ? YZ_E_NOMEM
                : yz_seal_topic_record(c->tw, &c->user, seq,
                                       unix_ms() / 1000 + c->ttl, c->record,
                                       cap, &c->record_len);
  if (err == 0)
    err = yz_dht_put(c->k.e.dht, c->record, c->record_len, NULL, on_topic_put, c,
                     NULL);
  if (err != 0)
    fail(c, err);
}

static void on_topic_got(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct scmd *c = arg;
  if (c->k.stopping)
    return;
  int st = r->status;
  if (st == 0 && r->rec == NULL)
    st = YZ_E_NOT_FOUND;
  if (st != 0) {
    fail(c, st);
    return;
  }
  if (c->op == OP_TOPIC_SHOW) {
    yz_seal_keyring kr;
    yz_seal_keyring_init(&kr, c->topic, c->owner, YZ_SEAL_WINDOW_MS_DEFAULT);
    st = yz_seal_topic_keys_open(&kr, &c->user, r->rec, unix_ms());
    if (c->json) {
      printf("{\"op\":\"topic show\",\"status\":\"%s\",\"topic\":\"%s\","
             "\"seq\":%" PRIu64 ",\"epochs\":[",
             st == 0 ? "ok" : yz_err_name(st), c->name, r->rec->seq);
      for (size_t i = 0; i < kr.n; i++)
        printf("%s%" PRIu64, i ? "," : "", kr.e[i].epoch);
      printf("]}\n");
    } else {
      printf("topic %s (key record seq %" PRIu64 "): ", c->name, r->rec->seq);
      if (st == 0)
        printf("member, reading epoch %" PRIu64, yz_seal_keyring_epoch(&kr));
      else
        printf("not a member of the current epoch (%s)", yz_strerror(st));
      if (kr.n > 0) {
        printf("; keys of epochs");
        for (size_t i = 0; i < kr.n; i++)
          printf(" %" PRIu64, kr.e[i].epoch);
      }
      printf("\n");
    }
    yz_seal_keyring_clear(&kr);
    finish(c, status_exit(st));
    return;
  }
  st = yz_seal_topic_owner_load(c->tw, &c->user, c->topic, r->rec);
  for (size_t i = 0; st == 0 && i < c->n_who; i++)
    st = c->op == OP_TOPIC_ADD
             ? yz_seal_topic_add(c->tw, c->who + 32 * i)
             : yz_seal_topic_remove(c->tw, &c->user, c->who + 32 * i);
  if (st != 0) {
    fail(c, st);
    return;
  }
  topic_put(c, r->rec->seq + 1);
}

/* ---- the run ---------------------------------------------------------- */

static void start_op(struct scmd *c)
{
  int err = 0;
  uint64_t expiry = unix_ms() / 1000 + c->ttl;
  switch (c->op) {
  case OP_PUT:
    err = yz_seal_put(c->k.e.dht, &c->user, (const uint8_t *)c->name,
                      strlen(c->name), c->who, c->n_who,
                      (const uint8_t *)c->value, strlen(c->value),
                      c->has_seq ? c->seq : unix_ms(), expiry, on_sealed, c);
    break;
  case OP_GET:
    err = yz_seal_get(c->k.e.dht, &c->user, c->key, on_sealed, c);
    break;
  case OP_SHARE:
    err =
        yz_seal_share(c->k.e.dht, &c->user, (const uint8_t *)c->name,
                      strlen(c->name), c->who, c->n_who, expiry, on_sealed, c);
    break;
  case OP_TOPIC_CREATE:
    err = yz_seal_topic_create(c->tw, &c->user, c->topic, c->who, c->n_who);
    if (err == 0) {
      topic_put(c, c->has_seq ? c->seq : unix_ms());
      return;
    }
    break;
  default:
    err = yz_dht_get(c->k.e.dht, c->key, NULL, on_topic_got, c, NULL);
    break;
  }
  if (err != 0)
    fail(c, err);
}

/* yz_eph_cmd's hooks (ephemeral.h). */
static void joined(yz_eph_cmd *k)
{
  start_op((struct scmd *)k);
}

static void join_failed(yz_eph_cmd *k, int status)
{
  struct scmd *c = (struct scmd *)k;
  if (c->json)
    printf("{\"op\":\"%s\",\"status\":\"%s\"}\n", op_names[c->op],
           yz_err_name(status));
}


static int run(struct scmd *c)
{
  c->k.joined = joined;
  c->k.join_failed = join_failed;
  return yz_eph_cmd_run(&c->k, &c->eo, false);
}

/* ---- command lines ----------------------------------------------------- */

static void usage_put_get(FILE *f)
{
  fprintf(f,
          "Usage: yz put --sealed --user FILE --bootstrap ADDR [options]\n"
          "              [--to PUBKEY]... NAME VALUE\n"
          "       yz get --sealed --user FILE --bootstrap ADDR [options]\n"
          "              (NAME | --key KEY)\n"
          "       yz put | get ...   without --sealed: yz dht put | get\n"
          "\n"
          "Sealed values (docs/sealed.md): VALUE is encrypted with keys "
          "derived from\n"
          "the user key before it leaves this process; the DHT stores a "
          "signed record\n"
          "whose key is derived from a keyed hash of NAME, so storage "
          "nodes learn\n"
          "neither NAME nor VALUE. With --to (repeatable, a user's public "
          "key as\n"
          "'yz keygen --user' prints it), the value is shared: each "
          "recipient reads\n"
          "it with 'yz get --sealed --user THEIR_FILE --key KEY', KEY being "
          "what put\n"
          "prints. Without --to only you read it: 'yz get --sealed --user "
          "FILE NAME'.\n"
          "\n"
          "Options:\n"
          "%s"
          "  --to PUBKEY       put: share with this user (repeatable, up to "
          "63)\n"
          "  --seq N           put: the sequence number (default: the time "
          "in ms)\n"
          "  --key KEY         get: the record's DHT key (64 hex digits)\n"
          "\n%s",
          common_opts, exit_text);
}

static void usage_share(FILE *f)
{
  fprintf(f,
          "Usage: yz share --user FILE --bootstrap ADDR [options] --to "
          "PUBKEY\n"
          "                [--to PUBKEY]... NAME\n"
          "\n"
          "Shares your sealed value NAME with more users: reads it, and "
          "puts it again\n"
          "at the next seq sealed to its readers and these (docs/sealed.md). "
          "Prints the\n"
          "key the recipients pass to 'yz get --sealed --key'.\n"
          "\nOptions:\n%s  --to PUBKEY       a user to share with "
          "(repeatable)\n\n%s",
          common_opts, exit_text);
}

static void usage_topic(FILE *f)
{
  fprintf(f,
          "Usage: yz topic create --user FILE --bootstrap ADDR [options]\n"
          "                       [--member PUBKEY]... TOPIC\n"
          "       yz topic add    --user FILE --bootstrap ADDR --member "
          "PUBKEY... TOPIC\n"
          "       yz topic remove --user FILE --bootstrap ADDR --member "
          "PUBKEY... TOPIC\n"
          "       yz topic show   --user FILE --bootstrap ADDR --owner "
          "PUBKEY TOPIC\n"
          "\n"
          "Encrypted topics (docs/sealed.md). create: a topic key for "
          "epoch 1 sealed\n"
          "to you and each member, published as a signed DHT record. add: "
          "the current\n"
          "key sealed to new members too. remove: a new epoch whose key is "
          "sealed to\n"
          "the members who stay, so the removed ones read nothing published "
          "after it.\n"
          "show: as a member, which epochs' keys the owner's record gives "
          "you.\n"
          "\nOptions:\n%s"
          "  --member PUBKEY   a member's public key (repeatable)\n"
          "  --owner PUBKEY    show: the topic owner's public key\n\n%s",
          common_opts, exit_text);
}

/* argv without --sealed, for yz dht: "dht" OP args... */
static int plain(const char *op, int argc, char **argv)
{
  char **v = calloc((size_t)argc + 2, sizeof *v);
  if (v == NULL)
    return yz_cli_error("out of memory");
  v[0] = "dht";
  v[1] = (char *)op;
  for (int i = 1; i < argc; i++)
    v[i + 1] = argv[i];
  yz_cli_prog = strcmp(op, "put") == 0 ? "yz put" : "yz get";
  int rc = cmd_dht_main(argc + 1, v);
  free(v);
  return rc;
}

static int parse_and_run(op_kind op, int argc, char **argv, int first)
{
  static struct scmd c;
  memset(&c, 0, sizeof c);
  c.op = op;
  c.ttl = 86400;
  const char *userfile = NULL, *args[2] = {NULL, NULL};
  size_t nargs = 0;
  unsigned long long timeout_s = 30;
  bool have_owner = false;
  for (int i = first; i < argc; i++) {
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
    if (strcmp(a, "--sealed") == 0) {
      takes = false;
    } else if (strcmp(a, "--json") == 0) {
      c.json = true;
      takes = false;
    } else if (a[0] == '-' && a[1] == '-' && v == NULL) {
      return yz_cli_usage_error("%s needs a value (or is unknown)", a);
    } else if (strcmp(a, "--user") == 0) {
      userfile = v;
    } else if (strcmp(a, "--to") == 0 || strcmp(a, "--member") == 0) {
      if (c.n_who == YZ_SEAL_RECIPIENTS_MAX - 1)
        return yz_cli_usage_error("%s: at most %d", a,
                                  YZ_SEAL_RECIPIENTS_MAX - 1);
      if (!yz_cli_parse_hex32(v, c.who + 32 * c.n_who))
        return yz_cli_usage_error("%s: want a public key of 64 hex digits "
                                  "(yz keygen --user prints one)",
                                  a);
      c.n_who++;
    } else if (strcmp(a, "--owner") == 0) {
      if (!yz_cli_parse_hex32(v, c.owner))
        return yz_cli_usage_error("--owner: want 64 hex digits");
      have_owner = true;
    } else if (strcmp(a, "--key") == 0) {
      if (!yz_cli_parse_hex32(v, c.key))
        return yz_cli_usage_error("--key: want a key of 64 hex digits");
      c.have_key = true;
    } else if (strcmp(a, "--seq") == 0) {
      unsigned long long s;
      if (!yz_cli_parse_u64(v, 1, UINT64_MAX - 1, &s))
        return yz_cli_usage_error("--seq: want a number");
      c.seq = s;
      c.has_seq = true;
    } else if (strcmp(a, "--ttl") == 0) {
      unsigned long long s;
      if (!yz_cli_parse_u64(v, 1, YZ_DHTREC_EXPIRY_AHEAD_DEFAULT, &s))
        return yz_cli_usage_error("--ttl: want seconds from 1 to %d",
                                  YZ_DHTREC_EXPIRY_AHEAD_DEFAULT);
      c.ttl = s;
    } else if (strcmp(a, "--timeout") == 0) {
      if (!yz_cli_parse_u64(v, 1, 3600, &timeout_s))
        return yz_cli_usage_error("--timeout: want seconds from 1 to 3600");
    } else if (a[0] == '-' && a[1] != '\0') {
      return yz_cli_usage_error("unknown option '%s'", a);
    } else if (nargs < 2) {
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
  if (userfile == NULL)
    return yz_cli_usage_error("--user FILE: the user key is needed (yz "
                              "keygen --user FILE makes one)");
  c.k.timeout_ms = (uint32_t)(timeout_s * 1000);
  /* Arguments per operation. */
  size_t want = op == OP_PUT ? 2 : (op == OP_GET && c.have_key) ? 0 : 1;
  if (nargs != want)
    return yz_cli_usage_error(op == OP_PUT ? "put --sealed: want NAME VALUE"
                              : op == OP_GET
                                  ? "get --sealed: want NAME, or --key KEY"
                                  : "want one NAME (or TOPIC)");
  if (c.n_who > 0 && op != OP_PUT && op != OP_SHARE && op != OP_TOPIC_CREATE &&
      op != OP_TOPIC_ADD && op != OP_TOPIC_REMOVE)
    return yz_cli_usage_error("--to / --member are not for %s", op_names[op]);
  if ((op == OP_SHARE || op == OP_TOPIC_ADD || op == OP_TOPIC_REMOVE) &&
      c.n_who == 0)
    return yz_cli_usage_error("%s: name at least one %s", op_names[op],
                              op == OP_SHARE ? "--to" : "--member");
  if (op == OP_TOPIC_SHOW && !have_owner)
    return yz_cli_usage_error("topic show: --owner PUBKEY, the topic's "
                              "owner");
  c.name = args[0];
  c.value = args[1];
  if (c.name != NULL && (strlen(c.name) == 0 || strlen(c.name) > 255))
    return yz_cli_usage_error("NAME: 1 to 255 bytes");
  if (c.value != NULL && strlen(c.value) == 0)
    return yz_cli_usage_error("VALUE is empty");

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
  int rc = 0;
  if (op == OP_GET && !c.have_key)
    err = yz_seal_name_key(&c.user, (const uint8_t *)c.name, strlen(c.name),
                           c.key);
  if (op >= OP_TOPIC_CREATE) {
    c.tw = calloc(1, sizeof *c.tw);
    err = c.tw == NULL ? YZ_E_NOMEM
                       : yz_ps_topic_hash(c.topic, c.name, strlen(c.name));
    if (err == 0)
      err = yz_seal_topic_record_key(
          c.key, op == OP_TOPIC_SHOW ? c.owner : c.user.ed_pk, c.topic);
  }
  if (err != 0)
    rc = yz_cli_usage_error("%s: %s", c.name, yz_strerror(err));
  else
    rc = run(&c);
  yz_seal_user_clear(&c.user);
  if (c.tw != NULL) {
    yz_seal_topic_owner_clear(c.tw);
    free(c.tw);
  }
  free(c.record);
  return rc;
}

static bool has_sealed(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--sealed") == 0)
      return true;
  return false;
}

int cmd_put_main(int argc, char **argv)
{
  if (argc > 1 && yz_cli_is_help(argv[1])) {
    usage_put_get(stdout);
    return YZ_EXIT_OK;
  }
  if (!has_sealed(argc, argv))
    return plain("put", argc, argv);
  return parse_and_run(OP_PUT, argc, argv, 1);
}

int cmd_get_main(int argc, char **argv)
{
  if (argc > 1 && yz_cli_is_help(argv[1])) {
    usage_put_get(stdout);
    return YZ_EXIT_OK;
  }
  if (!has_sealed(argc, argv))
    return plain("get", argc, argv);
  return parse_and_run(OP_GET, argc, argv, 1);
}

int cmd_share_main(int argc, char **argv)
{
  if (argc < 2 || yz_cli_is_help(argv[1])) {
    usage_share(argc < 2 ? stderr : stdout);
    return argc < 2 ? YZ_EXIT_USAGE : YZ_EXIT_OK;
  }
  return parse_and_run(OP_SHARE, argc, argv, 1);
}

int cmd_topic_main(int argc, char **argv)
{
  if (argc < 2 || yz_cli_is_help(argv[1])) {
    usage_topic(argc < 2 ? stderr : stdout);
    return argc < 2 ? YZ_EXIT_USAGE : YZ_EXIT_OK;
  }
  static const struct {
    const char *name;
    op_kind op;
  } subs[] = {{"create", OP_TOPIC_CREATE},
              {"add", OP_TOPIC_ADD},
              {"remove", OP_TOPIC_REMOVE},
              {"show", OP_TOPIC_SHOW}};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    if (strcmp(argv[1], subs[i].name) == 0) {
      for (int j = 2; j < argc; j++)
        if (yz_cli_is_help(argv[j])) {
          usage_topic(stdout);
          return YZ_EXIT_OK;
        }
      return parse_and_run(subs[i].op, argc, argv, 2);
    }
  return yz_cli_usage_error("unknown operation '%s' (create, add, remove, "
                            "show)",
                            argv[1]);
}
