/*
 * yz record make|show: create a signed node record from a key file, or
 * decode and check one (docs/protocol.md "Node records").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/util.h"
#include "yz/address.h"
#include "yz/record.h"

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: yz record make --key FILE --network NAME --addr URL[=TYPES]...\n"
          "                      [--seq N] [--ttl SECONDS | --expiry UNIX]\n"
          "                      [--type infrastructure|community] [--caps N]\n"
          "       yz record show --network NAME [--node NODEID] [--now UNIX] HEX\n"
          "\n"
          "make: prints the node record of the key file FILE, signed, as "
          "lowercase hex.\n"
          "  --addr URL[=TYPES]  an address (1 to 8): a node address without "
          "#NODEID\n"
          "                      (ws://192.0.2.7:7700), stored in canonical "
          "form; TYPES is ws,\n"
          "                      wss or ws+wss (default: ws for ws://, ws+wss "
          "for wss://)\n"
          "  --seq N             sequence number (default: the current Unix "
          "time)\n"
          "  --ttl SECONDS       valid for this long from now (default 86400)\n"
          "  --expiry UNIX       or until this Unix time\n"
          "  --type T            node type (default community)\n"
          "  --caps N            capability bits: 1 routing, 2 storage, 4 "
          "relay (default 0)\n"
          "show: decodes HEX, checks it for network NAME at time UNIX "
          "(default: now)\n"
          "  and, with --node, that it is NODEID's record; prints its "
          "fields.\n"
          "\n"
          "Exit status: 0 done; 1 the key file cannot be used, or the record "
          "is refused\n"
          "(the reason is printed); 2 usage error.\n");
}

/* The value of option a (argv[*i]) named name: "--name V" or "--name=V". */
static const char *opt(int argc, char **argv, int *i, const char *name)
{
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return NULL;
  if (a[n] == '=')
    return a + n + 1;
  if (a[n] != '\0')
    return NULL;
  if (*i + 1 >= argc) {
    static const char missing[] = "";
    return missing; /* reported by the caller as empty */
  }
  return argv[++*i];
}

static int make(int argc, char **argv)
{
  const char *key = NULL, *net = NULL, *v;
  unsigned long long seq = (unsigned long long)time(NULL), exp = 0;
  unsigned long long ttl = 86400, caps = 0;
  uint64_t type = YZ_WIRE_NODE_COMMUNITY;
  yz_record r;
  memset(&r, 0, sizeof r);
  for (int i = 1; i < argc; i++) {
    if (yz_cli_is_help(argv[i])) {
      usage(stdout);
      return YZ_EXIT_OK;
    }
    if ((v = opt(argc, argv, &i, "--key"))) {
      key = v;
    } else if ((v = opt(argc, argv, &i, "--network"))) {
      net = v;
    } else if ((v = opt(argc, argv, &i, "--seq"))) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &seq))
        return yz_cli_usage_error("invalid --seq '%s'", v);
    } else if ((v = opt(argc, argv, &i, "--ttl"))) {
      if (!yz_cli_parse_u64(v, 1, UINT32_MAX, &ttl))
        return yz_cli_usage_error("invalid --ttl '%s'", v);
    } else if ((v = opt(argc, argv, &i, "--expiry"))) {
      if (!yz_cli_parse_u64(v, 1, UINT64_MAX, &exp))
        return yz_cli_usage_error("invalid --expiry '%s'", v);
    } else if ((v = opt(argc, argv, &i, "--caps"))) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &caps))
        return yz_cli_usage_error("invalid --caps '%s'", v);
    } else if ((v = opt(argc, argv, &i, "--type"))) {
      if (strcmp(v, "infrastructure") == 0)
        type = YZ_WIRE_NODE_INFRASTRUCTURE;
      else if (strcmp(v, "community") == 0)
        type = YZ_WIRE_NODE_COMMUNITY;
      else
        return yz_cli_usage_error("invalid --type '%s'", v);
    } else if ((v = opt(argc, argv, &i, "--addr"))) {
      char url[YZ_RECORD_URL_MAX_LEN + 1];
      /* "=TYPES" only if it names client types: a path may hold '='. */
      const char *eq = strrchr(v, '=');
      if (eq && strcmp(eq + 1, "ws") != 0 && strcmp(eq + 1, "wss") != 0 &&
          strcmp(eq + 1, "ws+wss") != 0)
        eq = NULL;
      size_t n = eq ? (size_t)(eq - v) : strlen(v);
      if (n >= sizeof url)
        return yz_cli_usage_error("--addr URL too long");
      /* Written in canonical form for the user (ws://h:p -> ws://h:p/). */
      yz_address a;
      const char *bad = NULL;
      if (yz_address_parse(&a, (const uint8_t *)v, n, &bad) != 0)
        return yz_cli_usage_error("invalid --addr '%s': %s", v, bad);
      if (a.has_id)
        return yz_cli_usage_error("--addr '%s' names a node ID: leave out "
                                  "#NODEID (the record names the node)",
                                  v);
      if (yz_address_format(&a, url, sizeof url) < 0)
        return yz_cli_usage_error("--addr URL too long");
      uint64_t ct = strncmp(url, "wss://", 6) == 0
                        ? YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS
                        : YZ_WIRE_CLIENT_WS;
      if (eq) {
        if (strcmp(eq + 1, "ws") == 0)
          ct = YZ_WIRE_CLIENT_WS;
        else if (strcmp(eq + 1, "wss") == 0)
          ct = YZ_WIRE_CLIENT_WSS;
        else
          ct = YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS;
      }
      const char *why = NULL;
      if (yz_record_add_address(&r, url, ct, &why) != 0)
        return yz_cli_usage_error("invalid --addr '%s': %s", v, why);
    } else {
      return yz_cli_usage_error("unexpected argument '%s'", argv[i]);
    }
  }
  if (!key || !*key)
    return yz_cli_usage_error("missing --key FILE");
  if (!net || yz_record_set_network(&r, net) != 0)
    return yz_cli_usage_error("missing or invalid --network (1..32 bytes of "
                              "a-z 0-9 . - _)");
  if (r.n_addresses == 0)
    return yz_cli_usage_error("missing --addr: a record has 1..8");
  r.seq = seq;
  r.expiry = exp ? exp : (uint64_t)time(NULL) + ttl;
  r.node_type = type;
  r.capabilities = caps;

  yz_identity id;
  const char *why = NULL;
  if (yz_identity_load(&id, key, &why) != 0)
    return yz_cli_error("%s", why);
  int rc = yz_record_sign(&r, &id, &why);
  yz_identity_clear(&id);
  if (rc != 0)
    return yz_cli_error("cannot sign: %s", why);
  uint8_t enc[YZ_RECORD_MAX_LEN];
  size_t n;
  rc = yz_record_encode(&r, enc, sizeof enc, &n);
  if (rc != 0)
    return yz_cli_error("cannot encode: %s", yz_strerror(rc));
  char hex[2 * YZ_RECORD_MAX_LEN + 1];
  yz__hex_encode(hex, enc, n);
  printf("%s\n", hex);
  return YZ_EXIT_OK;
}

static int show(int argc, char **argv)
{
  const char *net = NULL, *node = NULL, *hex = NULL, *v;
  unsigned long long now = (unsigned long long)time(NULL);
  for (int i = 1; i < argc; i++) {
    if (yz_cli_is_help(argv[i])) {
      usage(stdout);
      return YZ_EXIT_OK;
    }
    if ((v = opt(argc, argv, &i, "--network"))) {
      net = v;
    } else if ((v = opt(argc, argv, &i, "--node"))) {
      node = v;
    } else if ((v = opt(argc, argv, &i, "--now"))) {
      if (!yz_cli_parse_u64(v, 0, UINT64_MAX, &now))
        return yz_cli_usage_error("invalid --now '%s'", v);
    } else if (argv[i][0] == '-' || hex) {
      return yz_cli_usage_error("unexpected argument '%s'", argv[i]);
    } else {
      hex = argv[i];
    }
  }
  if (!net || !*net)
    return yz_cli_usage_error("missing --network NAME");
  if (!hex)
    return yz_cli_usage_error("missing HEX: the record");
  yz_record_expect ex = {.network = net, .now = now};
  yz_node_id want;
  if (node) {
    if (yz_node_id_parse(&want, (const uint8_t *)node, strlen(node), NULL))
      return yz_cli_usage_error("invalid --node '%s'", node);
    ex.node_id = &want;
  }
  /* Twice the limit, so that an oversized record is refused as such. */
  uint8_t b[2 * YZ_RECORD_MAX_LEN];
  size_t n;
  if (yz__hex_decode_var(b, sizeof b, &n, hex, strlen(hex)) != 0)
    return yz_cli_usage_error("HEX is not an even number of hex digits, at "
                              "most %d bytes",
                              2 * YZ_RECORD_MAX_LEN);
  yz_record r;
  const char *why = NULL;
  int rc = yz_record_decode(&r, b, n, &ex, &why);
  if (rc != 0)
    return yz_cli_error("record refused: %s (%s)", why, yz_err_name(rc));
  char id[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&r.node_id, id);
  printf("node-id %s\nnetwork %s\nseq %llu\nexpiry %llu\ntype %s\n"
         "capabilities %llu\n",
         id, r.network, (unsigned long long)r.seq,
         (unsigned long long)r.expiry,
         r.node_type == YZ_WIRE_NODE_INFRASTRUCTURE ? "infrastructure"
                                                    : "community",
         (unsigned long long)r.capabilities);
  for (size_t i = 0; i < r.n_addresses; i++) {
    uint64_t c = r.addresses[i].client_types;
    printf("address %s#%s %s%s%s\n", r.addresses[i].url, id,
           (c & YZ_WIRE_CLIENT_WS) ? "ws" : "",
           (c & YZ_WIRE_CLIENT_WS) && (c & YZ_WIRE_CLIENT_WSS) ? "+" : "",
           (c & YZ_WIRE_CLIENT_WSS) ? "wss" : "");
  }
  return YZ_EXIT_OK;
}

int cmd_record_main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return YZ_EXIT_USAGE;
  }
  if (yz_cli_is_help(argv[1])) {
    usage(stdout);
    return YZ_EXIT_OK;
  }
  if (strcmp(argv[1], "make") == 0)
    return make(argc - 1, argv + 1);
  if (strcmp(argv[1], "show") == 0)
    return show(argc - 1, argv + 1);
  return yz_cli_usage_error("unknown subcommand '%s' (make or show)",
                            argv[1]);
}
