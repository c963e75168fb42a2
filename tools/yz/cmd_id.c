/*
 * yz id [--address URL] FILE: the node ID of a key file, or the full node
 * address (URL#NODEID) others use to reach this node.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "yz/address.h"
#include "yz/identity.h"

static void usage(FILE *f)
{
  fprintf(f, "Usage: yz id [--address URL] FILE\n"
             "\n"
             "Prints the node ID of the key file FILE: 64 lowercase hex "
             "digits, the\n"
             "SHA-256 of the node's Ed25519 public key.\n"
             "\n"
             "  --address URL  print the node address instead: URL "
             "(ws://HOST[:PORT][/PATH]\n"
             "                 or wss://...) in canonical form with the node "
             "ID as its\n"
             "                 fragment. This is what 'yz ping' and "
             "'yz-node --peer' take.\n"
             "\n"
             "Example:\n"
             "  yz id --address ws://192.0.2.7:7700 node.key\n"
             "  ws://192.0.2.7:7700/#21fe31df...\n"
             "\n"
             "FILE must not be readable or writable by group or others "
             "(chmod 600 FILE).\n"
             "The address format is described in docs/operations.md (\"Node "
             "addresses\").\n"
             "\n"
             "Exit status: 0 printed; 1 the key file cannot be used (missing, "
             "unsafe\n"
             "mode, corrupt) or URL names another node ID; 2 usage error "
             "(including an\n"
             "invalid URL).\n");
}

int cmd_id_main(int argc, char **argv)
{
  const char *path = NULL, *url = NULL;
  bool options = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (options && yz_cli_is_help(a)) {
      usage(stdout);
      return YZ_EXIT_OK;
    }
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (options && strncmp(a, "--address=", 10) == 0) {
      if (url != NULL)
        return yz_cli_usage_error("--address given twice");
      url = a + 10;
      continue;
    }
    if (options && strcmp(a, "--address") == 0) {
      if (url != NULL)
        return yz_cli_usage_error("--address given twice");
      if (i + 1 >= argc)
        return yz_cli_usage_error("--address needs a URL");
      url = argv[++i];
      continue;
    }
    if (options && a[0] == '-' && a[1] != '\0')
      return yz_cli_usage_error("unknown option '%s'", a);
    if (path != NULL)
      return yz_cli_usage_error("unexpected argument '%s' (one FILE only)", a);
    path = a;
  }
  if (path == NULL)
    return yz_cli_usage_error("missing FILE: the key file to read");

  yz_address addr;
  if (url != NULL) {
    const char *why = NULL;
    if (yz_address_parse(&addr, (const uint8_t *)url, strlen(url), &why) != 0)
      return yz_cli_usage_error("invalid --address '%s': %s", url, why);
  }

  yz_identity id;
  const char *why = NULL;
  if (yz_identity_load(&id, path, &why) != 0)
    return yz_cli_error("%s", why);
  yz_node_id nid = *yz_identity_node_id(&id);
  yz_identity_clear(&id);

  char hex[YZ_NODE_ID_HEX_LEN + 1];
  yz_node_id_to_hex(&nid, hex);
  if (url == NULL) {
    printf("%s\n", hex);
    return YZ_EXIT_OK;
  }
  if (addr.has_id && !yz_node_id_equal(&addr.id, &nid))
    return yz_cli_error("--address already names another node ID than the "
                        "one in %s (%s)",
                        path, hex);
  addr.has_id = true;
  addr.id = nid;
  char text[YZ_ADDRESS_TEXT_MAX];
  if (yz_address_format(&addr, text, sizeof text) < 0)
    return yz_cli_error("cannot format the address");
  printf("%s\n", text);
  return YZ_EXIT_OK;
}
