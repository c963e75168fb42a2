/*
 * Fuzz target: the link layer's URL parser (yz__url_parse, src/link/url.c),
 * which yz_link_listen() and yz_link_dial() run on the URLs they are given,
 * and a differential check against the node address parser: a dial URL is
 * a node address, so what yz_address_parse() accepts with a node ID must
 * be accepted by yz__url_parse() with the same scheme, port, path and a
 * fragment that parses to the same node ID.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "link/url.h"
#include "yz/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  yz__url u;
  const char *reason = NULL;
  int rc = yz__url_parse(&u, data, size, &reason);
  if (rc == 0) {
    FUZZ_CHECK(memchr(u.host, '\0', sizeof u.host) != NULL);
    FUZZ_CHECK(memchr(u.path, '\0', sizeof u.path) != NULL);
    FUZZ_CHECK(memchr(u.fragment, '\0', sizeof u.fragment) != NULL);
    FUZZ_CHECK(u.path[0] == '/');
    /* Port 0 is allowed here: yz_link_listen() on port 0 lets the kernel
     * pick one. */
    FUZZ_CHECK(u.has_port || u.port == (u.tls ? 443 : 80));
  } else {
    FUZZ_CHECK(rc < 0 && reason != NULL);
  }

  yz_address a;
  if (yz_address_parse(&a, data, size, NULL) != 0 || !a.has_id)
    return 0;
  FUZZ_CHECK(rc == 0); /* a valid node address is a valid dial URL */
  FUZZ_CHECK(u.tls == a.tls && u.port == a.port);
  FUZZ_CHECK(strcmp(u.path, a.path) == 0);
  FUZZ_CHECK(u.has_fragment);
  yz_node_id id;
  FUZZ_CHECK(yz_node_id_parse(&id, (const uint8_t *)u.fragment,
                              strlen(u.fragment), NULL) == 0);
  FUZZ_CHECK(yz_node_id_equal(&id, &a.id));
  /* The host, compared without case (the address is canonical). */
  FUZZ_CHECK(u.ipv6 == (a.host_type == YZ_ADDRESS_IPV6));
  if (a.host_type != YZ_ADDRESS_IPV6) {
    FUZZ_CHECK(strlen(u.host) == strlen(a.host));
    for (size_t i = 0; u.host[i]; i++)
      FUZZ_CHECK(tolower((unsigned char)u.host[i]) == a.host[i]);
  }
  return 0;
}
