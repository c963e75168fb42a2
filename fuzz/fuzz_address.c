/*
 * Fuzz target: the node address parser (yz_address_parse) and its canonical
 * formatter, as a round trip: whatever parses formats to a text that parses
 * to the same address and formats to the same text again (a fixed point).
 * Also the listen-address parser (yz_address_parse_listen), against the
 * node address parser: the same grammar, except that PORT may be 0, a
 * node ID is refused and HOST must be an IP address.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "yz/address.h"

static bool addr_equal(const yz_address *a, const yz_address *b)
{
  return a->tls == b->tls && a->host_type == b->host_type &&
         strcmp(a->host, b->host) == 0 && a->port == b->port &&
         strcmp(a->path, b->path) == 0 && a->has_id == b->has_id &&
         (!a->has_id || yz_node_id_equal(&a->id, &b->id));
}

static void listen_check(const uint8_t *data, size_t size, int rc,
                         const yz_address *a)
{
  yz_address l;
  const char *reason = NULL;
  int rl = yz_address_parse_listen(&l, data, size, &reason);
  if (rl != 0) {
    FUZZ_CHECK(rl == YZ_E_ADDRESS && reason != NULL);
    /* A node address without ID and with an IP host is a listen address. */
    FUZZ_CHECK(!(rc == 0 && !a->has_id && a->host_type != YZ_ADDRESS_DNS));
    return;
  }
  FUZZ_CHECK(!l.has_id && l.host_type != YZ_ADDRESS_DNS);
  FUZZ_CHECK(l.path[0] == '/' && l.host[0] != '\0');
  if (l.port == 0)
    return;
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(addr_equal(&l, a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz_address a, b;
  const char *reason = NULL;
  memset(&a, 0xA5, sizeof a);
  int rc = yz_address_parse(&a, data, size, &reason);
  listen_check(data, size, rc, &a);
  if (rc != 0) {
    static const yz_address zero;
    FUZZ_CHECK(rc == YZ_E_ADDRESS && reason != NULL);
    FUZZ_CHECK(memcmp(&a, &zero, sizeof a) == 0);
    return 0;
  }
  /* What the header promises about a parsed address. */
  FUZZ_CHECK(memchr(a.host, '\0', sizeof a.host) != NULL);
  FUZZ_CHECK(memchr(a.path, '\0', sizeof a.path) != NULL);
  FUZZ_CHECK(a.host[0] != '\0' && a.port != 0 && a.path[0] == '/');
  FUZZ_CHECK(strlen(a.host) <= YZ_ADDRESS_HOST_MAX);
  FUZZ_CHECK(strlen(a.path) <= YZ_ADDRESS_PATH_MAX);
  FUZZ_CHECK(a.host_type == YZ_ADDRESS_DNS || a.host_type == YZ_ADDRESS_IPV4 ||
             a.host_type == YZ_ADDRESS_IPV6);
  FUZZ_CHECK(yz_address_require_id(&a, NULL) == (a.has_id ? 0 : YZ_E_ADDRESS));

  char t1[YZ_ADDRESS_TEXT_MAX], t2[YZ_ADDRESS_TEXT_MAX];
  int n1 = yz_address_format(&a, t1, sizeof t1);
  FUZZ_CHECK(n1 > 0 && (size_t)n1 < sizeof t1 && t1[n1] == '\0');
  /* A buffer one byte short is refused, not overrun. */
  char small[YZ_ADDRESS_TEXT_MAX];
  FUZZ_CHECK(yz_address_format(&a, small, (size_t)n1) == YZ_E_TOO_LARGE);

  FUZZ_CHECK(yz_address_parse(&b, (const uint8_t *)t1, (size_t)n1, NULL) ==
             0);
  FUZZ_CHECK(addr_equal(&a, &b));
  int n2 = yz_address_format(&b, t2, sizeof t2);
  FUZZ_CHECK(n2 == n1 && memcmp(t1, t2, (size_t)n1) == 0);
  return 0;
}
