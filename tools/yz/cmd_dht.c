/*
 * yz dht put|get|find|providers: one DHT operation from the command line.
 *
 * An ephemeral node (a fresh identity in memory, no listener, client-only
 * in the DHT: it never enters a routing table, docs/protocol.md "DHT
 * messages") joins through --bootstrap, runs the operation (yz/dht.h),
 * prints what it found and what it cost (rounds, nodes asked, answers,
 * time), and stops. Exit codes: usage() and docs/operations.md.
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
#include "yz/record.h"
#include "yz/wire.h"

enum {
  EXIT_NOT_FOUND = 3, /* get: no record; providers: none */
  EXIT_NETWORK = YZ_EPH_EXIT_NETWORK, /* joined nobody, timed out, unreachable */
  EXIT_REFUSED = 5,   /* put: every node asked refused the record */
};

static void usage(FILE *f)
{
  fprintf(f,
"Usage: yz dht put   --bootstrap ADDR [options] --immutable VALUE\n"
"       yz dht put   --bootstrap ADDR [options] --key FILE [--salt S]\n"
"                    [--seq N] [--ttl S] [--cas N] VALUE\n"
"       yz dht get   --bootstrap ADDR [options] KEY\n"
"       yz dht get   --bootstrap ADDR [options] (--key FILE | --pubkey HEX)\n"
"                    [--salt S]\n"
"       yz dht find  --bootstrap ADDR [options] NODEID\n"
"       yz dht providers --bootstrap ADDR [options] KEY\n"
"\n"
"Runs one DHT operation (docs/dht.md) from an ephemeral node: a fresh\n"
"identity in memory, no listener, client-only (it never enters a routing\n"
"table). It joins through the --bootstrap nodes, runs the operation, and\n"
"prints the result with the hops (rounds of the lookup), the nodes asked,\n"
"the answers and the time taken.\n"
"\n"
"  put --immutable VALUE   stores VALUE under SHA-256 of it; prints the key\n"
"  put --key FILE VALUE    a mutable record signed with the key file (as\n"
"                          'yz keygen' writes it): its key derives from the\n"
"                          public key and --salt; a higher --seq replaces it\n"
"  get KEY                 the record under KEY (64 hex digits), or under\n"
"                          the key of --key FILE / --pubkey HEX and --salt;\n"
"                          prints the value (text if printable, else hex),\n"
"                          seq, expiry and how many nodes returned it\n"
"  find NODEID             the k nodes closest to NODEID\n"
"  providers KEY           the nodes that announced they provide KEY\n"
"\n"
"Options:\n"
"  --bootstrap ADDR  a node to join through: ws[s]://HOST:PORT/#NODEID, or\n"
"                    ws[s]://HOST:PORT/ (any node there) (repeatable;\n"
"                    at least one)\n"
"  --network NAME    the network (default yz, the public one)\n"
"  --salt S          mutable records: the salt (0..64 bytes of text)\n"
"  --seq N           put: the sequence number (default: the time now in\n"
"                    milliseconds, so later puts replace earlier ones)\n"
"  --ttl S           put: seconds until the record expires (default 86400,\n"
"                    at most 172800)\n"
"  --cas N           put: only if the stored record's seq is N\n"
"  --first           get: the first valid record found, not the latest of\n"
"                    a quorum\n"
"  --timeout S       the whole command (join and operation), default 30\n"
"  --json            one JSON object on stdout\n"
"  -v, --verbose     the node's log on stderr\n"
"\n"
"Exit status:\n"
"  0  done (put: stored on at least one node; get: found)\n"
"  1  another failure\n"
"  2  bad command line\n"
"  3  not found (get: no record; providers: none)\n"
"  4  network: no bootstrap node answered, or the time ran out\n"
"  5  refused: every node asked refused the record (put); the reason is\n"
"     printed\n");
}

typedef enum { OP_PUT, OP_GET, OP_FIND, OP_PROVIDERS } op_kind;

struct dcmd {
  yz_eph_cmd k; /* first: the node, join, guard, exit (ephemeral.h) */
  op_kind op;
  bool json, latest;
  yz_eph_opts eo; /* --bootstrap, --network, -v */
  /* The operation's input. */
  uint8_t key[YZ_DHTREC_KEY_LEN];
  yz_node_id target;
  uint8_t *record;
  size_t record_len;
  yz_dht_op_opts opts;
};

static void finish(struct dcmd *c, int code)
{
  yz_eph_cmd_finish(&c->k, code);
}

static const char *op_name(op_kind op)
{
  static const char *const n[] = {"put", "get", "find", "providers"};
  return n[op];
}

static void print_stats(const struct dcmd *c, const yz_dht_op_stats *s)
{
  if (c->json) {
    printf("\"rounds\":%u,\"queried\":%u,\"answered\":%u,\"failed\":%u,"
           "\"dialled\":%u,\"op_ms\":%" PRIu64 ",\"join_ms\":%" PRIu64
           ",\"total_ms\":%" PRIu64,
           s->rounds, s->queried, s->answered, s->failed, s->dialled,
           s->elapsed_ms, c->k.join_ms, yz_eph_cmd_ms(&c->k));
    return;
  }
  printf("hops %u, nodes asked %u, answers %u, failures %u, new links %u; "
         "%" PRIu64 " ms (join %" PRIu64 " ms, total %" PRIu64 " ms)\n",
         s->rounds, s->queried, s->answered, s->failed, s->dialled,
         s->elapsed_ms, c->k.join_ms, yz_eph_cmd_ms(&c->k));
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
  default:
    return YZ_EXIT_FAIL;
  }
}

static void print_contacts(const struct dcmd *c, const char *name,
                           const yz_dht_contact *v, size_t n)
{
  if (c->json) {
    printf("\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
      char h[YZ_NODE_ID_HEX_LEN + 1];
      yz_node_id_to_hex(&v[i].id, h);
      printf("%s\"%s\"", i ? "," : "", h);
    }
    printf("],");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    char h[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(&v[i].id, h);
    printf("  %2zu %s\n", i + 1, h);
  }
}

static void on_result(yz_dht *dht, const yz_dht_result *r, void *arg)
{
  (void)dht;
  struct dcmd *c = arg;
  if (c->k.stopping)
    return;
  int code = status_exit(r->status);
  char kh[2 * YZ_DHTREC_KEY_LEN + 1];
  yz_cli_hex(c->key, sizeof c->key, kh);
  if (c->json)
    printf("{\"op\":\"%s\",\"status\":\"%s\",", op_name(c->op),
           r->status == 0 ? "ok" : yz_err_name(r->status));
  switch (c->op) {
  case OP_PUT:
    if (r->status == 0 && r->stored == 0)
      code = r->refusal != 0 ? EXIT_REFUSED : EXIT_NETWORK;
    if (c->json) {
      printf("\"key\":\"%s\",\"asked\":%u,\"stored\":%u,", kh, r->asked,
             r->stored);
      if (r->refusal != 0)
        printf("\"refusal\":\"%s\",", yz_dhtrec_status_name((int)r->refusal));
    } else {
      printf("key %s\n", kh);
      printf("stored on %u of %u nodes asked\n", r->stored, r->asked);
      if (r->refusal != 0)
        printf("refused by some: %s: %s\n",
               yz_dhtrec_status_name((int)r->refusal),
               r->refusal_reason ? r->refusal_reason : "");
    }
    break;
  case OP_GET:
    if (r->status == 0 && r->rec != NULL) {
      const yz_dhtrec *rec = r->rec;
      bool text = yz_cli_printable(rec->value, rec->value_len);
      if (c->json) {
        printf("\"key\":\"%s\",\"kind\":\"%s\",", kh,
               rec->kind == YZ_DHTREC_MUTABLE ? "mutable" : "immutable");
        if (text) {
          printf("\"value\":");
          yz_cli_json_text(rec->value, rec->value_len);
        } else {
          char *h = malloc(2 * rec->value_len + 1);
          if (h != NULL) {
            yz_cli_hex(rec->value, rec->value_len, h);
            printf("\"value_hex\":\"%s\"", h);
            free(h);
          }
        }
        printf(",\"seq\":%" PRIu64 ",\"expiry\":%" PRIu64
               ",\"holders\":%u,\"corrected\":%u,",
               rec->seq, rec->expiry, r->holders, r->corrected);
      } else {
        printf("key %s (%s)\n", kh,
               rec->kind == YZ_DHTREC_MUTABLE ? "mutable" : "immutable");
        if (text) {
          printf("value %.*s\n", (int)rec->value_len,
                 (const char *)rec->value);
        } else {
          char *h = malloc(2 * rec->value_len + 1);
          if (h != NULL) {
            yz_cli_hex(rec->value, rec->value_len, h);
            printf("value (hex) %s\n", h);
            free(h);
          }
        }
        time_t e = (time_t)rec->expiry;
        struct tm tm;
        char ts[32] = "?";
        if (gmtime_r(&e, &tm) != NULL)
          strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("seq %" PRIu64 ", expires %s, returned by %u node%s", rec->seq,
               ts, r->holders, r->holders == 1 ? "" : "s");
        if (r->corrected)
          printf(", %u stale replica%s corrected", r->corrected,
                 r->corrected == 1 ? "" : "s");
        printf("\n");
      }
    } else if (!c->json) {
      printf("key %s: %s\n", kh,
             r->status == YZ_E_NOT_FOUND ? "no record found"
                                         : yz_strerror(r->status));
    }
    break;
  case OP_FIND: {
    char th[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(&c->target, th);
    if (!c->json)
      printf("the %zu nodes closest to %s:\n", r->n_closest, th);
    else
      printf("\"target\":\"%s\",", th);
    print_contacts(c, "closest", r->closest, r->n_closest);
    if (r->status == 0 && r->n_closest == 0)
      code = EXIT_NOT_FOUND;
    break;
  }
  case OP_PROVIDERS:
    if (r->status == 0 && r->n_providers == 0)
      code = EXIT_NOT_FOUND;
    if (!c->json)
      printf("%zu provider%s of %s\n", r->n_providers,
             r->n_providers == 1 ? "" : "s", kh);
    else
      printf("\"key\":\"%s\",", kh);
    print_contacts(c, "providers", r->providers, r->n_providers);
    break;
  }
  print_stats(c, &r->stats);
  if (c->json)
    printf("}\n");
  else if (r->status != 0 && r->status != YZ_E_NOT_FOUND)
    fprintf(stderr, "%s: %s [%s]\n", yz_cli_prog, yz_strerror(r->status),
            yz_err_name(r->status));
  finish(c, code);
}

static void start_op(struct dcmd *c)
{
  int err;
  c->opts.deadline_ms = c->k.timeout_ms;
  switch (c->op) {
  case OP_PUT:
    err = yz_dht_put(c->k.e.dht, c->record, c->record_len, &c->opts, on_result, c,
                     NULL);
    break;
  case OP_GET:
    c->opts.latest = c->latest;
    err = yz_dht_get(c->k.e.dht, c->key, &c->opts, on_result, c, NULL);
    break;
  case OP_FIND:
    err = yz_dht_find_node(c->k.e.dht, &c->target, &c->opts, on_result, c, NULL);
    break;
  default:
    err = yz_dht_get_providers(c->k.e.dht, c->key, &c->opts, on_result, c, NULL);
    break;
  }
  if (err != 0) {
    fprintf(stderr, "%s: cannot start the %s: %s\n", yz_cli_prog,
            op_name(c->op), yz_strerror(err));
    finish(c, err == YZ_E_INVAL ? YZ_EXIT_USAGE : YZ_EXIT_FAIL);
  }
}

/* yz_eph_cmd's hooks (ephemeral.h). */
static void joined(yz_eph_cmd *k)
{
  start_op((struct dcmd *)k);
}

static void join_failed(yz_eph_cmd *k, int status)
{
  struct dcmd *c = (struct dcmd *)k;
  if (c->json)
    printf("{\"op\":\"%s\",\"status\":\"%s\",\"join_ms\":%" PRIu64 "}\n",
           op_name(c->op), yz_err_name(status), c->k.join_ms);
}


static uint64_t unix_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The record a put stores: immutable, or mutable and signed. */
static int build_record(struct dcmd *c, const char *immutable,
                        const char *value, const yz_identity *id,
                        const char *salt, bool has_seq, uint64_t seq,
                        uint64_t ttl)
{
  yz_dhtrec r;
  memset(&r, 0, sizeof r);
  r.expiry = unix_ms() / 1000u + ttl;
  const char *why = NULL;
  if (immutable != NULL) {
    r.kind = YZ_DHTREC_IMMUTABLE;
    r.value = (const uint8_t *)immutable;
    r.value_len = strlen(immutable);
    if (yz_dhtrec_derive_key(&r) != 0)
      return yz_cli_usage_error("cannot derive the key");
  } else {
    r.kind = YZ_DHTREC_MUTABLE;
    r.value = (const uint8_t *)value;
    r.value_len = strlen(value);
    r.salt_len = (uint8_t)strlen(salt);
    memcpy(r.salt, salt, r.salt_len);
    r.seq = has_seq ? seq : unix_ms();
    if (yz_dhtrec_sign(&r, id, &why) != 0)
      return yz_cli_usage_error("cannot sign the record: %s",
                                why ? why : "invalid");
  }
  if (r.value_len == 0)
    return yz_cli_usage_error("the value is empty");
  size_t cap = yz_dhtrec_encoded_max(YZ_DHTREC_VALUE_MAX_LIMIT);
  c->record = malloc(cap);
  if (c->record == NULL)
    return yz_cli_error("out of memory");
  if (yz_dhtrec_encode(&r, c->record, cap, &c->record_len) != 0)
    return yz_cli_usage_error("cannot encode the record (value too large?)");
  memcpy(c->key, r.key, sizeof c->key);
  return 0;
}

static int run(struct dcmd *c)
{
  c->k.joined = joined;
  c->k.join_failed = join_failed;
  int rc = yz_eph_cmd_run(&c->k, &c->eo, false);
  free(c->record);
  return rc;
}

int cmd_dht_main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return YZ_EXIT_USAGE;
  }
  if (yz_cli_is_help(argv[1])) {
    usage(stdout);
    return YZ_EXIT_OK;
  }
  static struct dcmd c;
  memset(&c, 0, sizeof c);
  c.latest = true;
  const char *sub = argv[1];
  if (strcmp(sub, "put") == 0)
    c.op = OP_PUT;
  else if (strcmp(sub, "get") == 0)
    c.op = OP_GET;
  else if (strcmp(sub, "find") == 0)
    c.op = OP_FIND;
  else if (strcmp(sub, "providers") == 0)
    c.op = OP_PROVIDERS;
  else
    return yz_cli_usage_error("unknown operation '%s' (put, get, find, "
                              "providers)", sub);
  const char *immutable = NULL, *keyfile = NULL;
  const char *pubkey = NULL, *salt = "", *arg = NULL;
  unsigned long long seq = 0, ttl = 86400, cas = 0, timeout_s = 30;
  bool has_seq = false, has_cas = false;
  for (int i = 2; i < argc; i++) {
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
    } else if (strcmp(a, "--first") == 0) {
      c.latest = false;
      takes = false;
    } else if (a[0] == '-' && a[1] == '-' && v == NULL) {
      return yz_cli_usage_error("%s needs a value (or is unknown)", a);
    } else if (strcmp(a, "--immutable") == 0) {
      immutable = v;
    } else if (strcmp(a, "--key") == 0) {
      keyfile = v;
    } else if (strcmp(a, "--pubkey") == 0) {
      pubkey = v;
    } else if (strcmp(a, "--salt") == 0) {
      if (strlen(v) > YZ_DHTREC_SALT_MAX)
        return yz_cli_usage_error("--salt: at most %d bytes",
                                  YZ_DHTREC_SALT_MAX);
      salt = v;
    } else if (strcmp(a, "--seq") == 0) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &seq))
        return yz_cli_usage_error("--seq: want a number");
      has_seq = true;
    } else if (strcmp(a, "--cas") == 0) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &cas))
        return yz_cli_usage_error("--cas: want a number");
      has_cas = true;
    } else if (strcmp(a, "--ttl") == 0) {
      if (!yz_cli_parse_u64(v, 1, YZ_DHTREC_EXPIRY_AHEAD_DEFAULT, &ttl))
        return yz_cli_usage_error("--ttl: want seconds from 1 to %d",
                                  YZ_DHTREC_EXPIRY_AHEAD_DEFAULT);
    } else if (strcmp(a, "--timeout") == 0) {
      if (!yz_cli_parse_u64(v, 1, 3600, &timeout_s))
        return yz_cli_usage_error("--timeout: want seconds from 1 to 3600");
    } else if (a[0] == '-' && a[1] != '\0') {
      return yz_cli_usage_error("unknown option '%s'", a);
    } else if (arg == NULL) {
      arg = a;
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
  c.k.timeout_ms = (uint32_t)(timeout_s * 1000);
  if ((has_seq || has_cas) && c.op != OP_PUT)
    return yz_cli_usage_error("--seq and --cas are for put");

  yz_identity id;
  bool have_id = false;
  if (keyfile != NULL) {
    const char *why = NULL;
    int err = yz_identity_load(&id, keyfile, &why);
    if (err != 0)
      return yz_cli_usage_error("--key %s: %s", keyfile,
                                why ? why : yz_strerror(err));
    have_id = true;
  }
  int rc = 0;
  switch (c.op) {
  case OP_PUT:
    if ((immutable != NULL) == (keyfile != NULL))
      rc = yz_cli_usage_error("put: either --immutable VALUE or --key FILE "
                              "VALUE");
    else if (immutable != NULL && arg != NULL)
      rc = yz_cli_usage_error("unexpected argument '%s'", arg);
    else if (keyfile != NULL && arg == NULL)
      rc = yz_cli_usage_error("put --key: the VALUE is missing");
    else {
      rc = build_record(&c, immutable, arg, have_id ? &id : NULL, salt,
                        has_seq, seq, ttl);
      c.opts.has_cas = has_cas;
      c.opts.cas = cas;
    }
    break;
  case OP_GET:
  case OP_PROVIDERS:
    if (arg != NULL && (keyfile != NULL || pubkey != NULL))
      rc = yz_cli_usage_error("a KEY, or --key / --pubkey with --salt, not "
                              "both");
    else if (arg != NULL) {
      if (!yz_cli_parse_hex32(arg, c.key))
        rc = yz_cli_usage_error("%s: want a key of 64 hex digits", arg);
    } else if (keyfile != NULL || pubkey != NULL) {
      uint8_t pk[YZ_IDENTITY_PK_LEN];
      if (keyfile != NULL)
        memcpy(pk, yz_identity_public_key(&id), sizeof pk);
      else if (!yz_cli_parse_hex32(pubkey, pk))
        rc = yz_cli_usage_error("--pubkey: want 64 hex digits");
      if (rc == 0 &&
          yz_dhtrec_mutable_key(c.key, pk, (const uint8_t *)salt,
                                strlen(salt)) != 0)
        rc = yz_cli_usage_error("cannot derive the key");
    } else {
      rc = yz_cli_usage_error("which key? a KEY of 64 hex digits, or --key "
                              "FILE / --pubkey HEX with --salt");
    }
    break;
  case OP_FIND:
    if (arg == NULL ||
        yz_node_id_parse(&c.target, (const uint8_t *)arg, strlen(arg),
                         NULL) != 0)
      rc = yz_cli_usage_error("find: want a NODEID of 64 hex digits");
    break;
  }
  if (have_id)
    yz_identity_clear(&id);
  if (rc != 0) {
    free(c.record);
    return rc;
  }
  return run(&c);
}
