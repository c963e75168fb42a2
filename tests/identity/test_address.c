/* src/identity/address.c: node addresses, ws[s]://HOST[:PORT][/PATH]#ID. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "yz/address.h"

#define ID "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"

struct good {
  const char *in;
  const char *canonical; /* format(parse(in)) */
  bool tls;
  yz_address_host_type type;
  const char *host;
  unsigned port;
  const char *path;
  bool has_id;
};

static const struct good goods[] = {
    {"ws://192.0.2.7:7700/#" ID, "ws://192.0.2.7:7700/#" ID, false,
     YZ_ADDRESS_IPV4, "192.0.2.7", 7700, "/", true},
    {"ws://192.0.2.7:7700#" ID, "ws://192.0.2.7:7700/#" ID, false,
     YZ_ADDRESS_IPV4, "192.0.2.7", 7700, "/", true},
    {"wss://node.example.org/yz#" ID, "wss://node.example.org:443/yz#" ID,
     true, YZ_ADDRESS_DNS, "node.example.org", 443, "/yz", true},
    {"ws://node.example.org#" ID, "ws://node.example.org:80/#" ID, false,
     YZ_ADDRESS_DNS, "node.example.org", 80, "/", true},
    {"wss://Node.Example.ORG:8443/a/b?c=d#" ID,
     "wss://node.example.org:8443/a/b?c=d#" ID, true, YZ_ADDRESS_DNS,
     "node.example.org", 8443, "/a/b?c=d", true},
    {"ws://localhost:1", "ws://localhost:1/", false, YZ_ADDRESS_DNS,
     "localhost", 1, "/", false},
    {"ws://[::1]:7700/#" ID, "ws://[::1]:7700/#" ID, false, YZ_ADDRESS_IPV6,
     "::1", 7700, "/", true},
    {"wss://[2001:DB8:0:0:0:0:0:1]/#" ID, "wss://[2001:db8::1]:443/#" ID, true,
     YZ_ADDRESS_IPV6, "2001:db8::1", 443, "/", true},
    {"ws://[::ffff:192.0.2.1]:65535", "ws://[::ffff:192.0.2.1]:65535/", false,
     YZ_ADDRESS_IPV6, "::ffff:192.0.2.1", 65535, "/", false},
    {"ws://0.0.0.0:7700/", "ws://0.0.0.0:7700/", false, YZ_ADDRESS_IPV4,
     "0.0.0.0", 7700, "/", false},
    {"ws://255.255.255.255:80/", "ws://255.255.255.255:80/", false,
     YZ_ADDRESS_IPV4, "255.255.255.255", 80, "/", false},
    {"ws://a-b.c0.d/p%2Fq#" ID, "ws://a-b.c0.d:80/p%2Fq#" ID, false,
     YZ_ADDRESS_DNS, "a-b.c0.d", 80, "/p%2Fq", true},
    {"ws://1a.example:80/", "ws://1a.example:80/", false, YZ_ADDRESS_DNS,
     "1a.example", 80, "/", false},
    {"ws://h/~user/x-y_z.html;p=1:@!$&'()*+,",
     "ws://h:80/~user/x-y_z.html;p=1:@!$&'()*+,", false, YZ_ADDRESS_DNS, "h",
     80, "/~user/x-y_z.html;p=1:@!$&'()*+,", false},
};

struct bad {
  const char *in;
  const char *reason_has;
};

static const struct bad bads[] = {
    {"", "empty"},
    {"http://192.0.2.7:80/#" ID, "unknown scheme 'http' (want ws or wss)"},
    {"https://h/", "unknown scheme 'https'"},
    {"tcp://h/", "unknown scheme 'tcp'"},
    {"WS://h/", "lowercase"},
    {"Wss://h/", "lowercase"},
    {"192.0.2.7:7700#" ID, "no scheme"},
    {"ws:/h/", "no scheme"},
    {"ws//h/", "no scheme"},
    {"://h/", "no scheme"},
    {"ws://", "no host"},
    {"ws:///path", "no host"},
    {"ws://:80/", "no host"},
    {"ws://#" ID, "no host"},
    {"ws://user@h/", "user info"},
    {"ws://user:pw@h/", "user info"},
    {"ws://h:/", "port is empty"},
    {"ws://h:0/", "1 to 65535"},
    {"ws://h:65536/", "1 to 65535"},
    {"ws://h:99999999999999999999999/", "1 to 65535"},
    {"ws://h:080/", "leading zero"},
    {"ws://h:8a/", "decimal"},
    {"ws://h:-1/", "decimal"},
    {"ws://::1/", "brackets"},
    {"ws://2001:db8::1:80/", "brackets"},
    {"ws://[::1/", "no closing ']'"},
    {"ws://[::1]x/", "after ']'"},
    {"ws://[::1]:/", "port is empty"},
    {"ws://[fe80::1%eth0]:80/", "zone"},
    {"ws://[]:80/", "IPv6"},
    {"ws://[1.2.3.4]:80/", "IPv6"},
    {"ws://[::g]:80/", "IPv6"},
    {"ws://256.0.0.1/", "IPv4"},
    {"ws://1.2.3/", "IPv4"},
    {"ws://1.2.3.4.5/", "IPv4"},
    {"ws://01.2.3.4/", "IPv4"},
    {"ws://1.2.3.4./", "IPv4"},
    {"ws://1..3.4/", "IPv4"},
    {"ws://example.123/", "all-digit"},
    {"ws://h_x/", "letters, digits"},
    {"ws://h.example./", "ends with a dot"},
    {"ws://.h/", "empty label"},
    {"ws://a..b/", "empty label"},
    {"ws://-a.b/", "starts with '-'"},
    {"ws://a-.b/", "ends with '-'"},
    {"ws://h?x/", "letters, digits"},
    {"ws://h/a b", "whitespace"},
    {" ws://h/", "whitespace"},
    {"ws://h/\x01", "printable"},
    {"ws://h/caf\xc3\xa9", "printable"},
    {"ws://h/a\"b", "percent-encoded"},
    {"ws://h/a<b>", "percent-encoded"},
    {"ws://h/a\\b", "percent-encoded"},
    {"ws://h/%2", "percent escape"},
    {"ws://h/%zz", "percent escape"},
    {"ws://h/#", "empty node ID"},
    {"ws://h/#21fe", "too short"},
    {"ws://h/#" ID "0", "too long"},
    {"ws://h/#" ID "#", "not a hex digit"},
    {"ws://h/"
     "#21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47F9721B9",
     "uppercase"},
    {"ws://h/#0x21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f97",
     "prefix"},
};

static void check_fields(const struct good *g, const yz_address *a)
{
  assert_int_equal(a->tls, g->tls);
  assert_int_equal(a->host_type, g->type);
  assert_string_equal(a->host, g->host);
  assert_int_equal(a->port, g->port);
  assert_string_equal(a->path, g->path);
  assert_int_equal(a->has_id, g->has_id);
  if (g->has_id) {
    char hex[YZ_NODE_ID_HEX_LEN + 1];
    yz_node_id_to_hex(&a->id, hex);
    assert_string_equal(hex, ID);
  }
}

static void test_good_addresses(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(goods); i++) {
    const struct good *g = &goods[i];
    yz_address a, b;
    const char *why = "unset";
    char text[YZ_ADDRESS_TEXT_MAX];
    int rc = yz_address_parse(&a, (const uint8_t *)g->in, strlen(g->in), &why);
    if (rc != 0)
      fail_msg("'%s': %s", g->in, why);
    assert_null(why);
    check_fields(g, &a);

    /* Canonical text, and it parses back to the same struct. */
    int n = yz_address_format(&a, text, sizeof text);
    assert_int_equal(n, (int)strlen(g->canonical));
    assert_string_equal(text, g->canonical);
    assert_int_equal(
        yz_address_parse(&b, (const uint8_t *)text, (size_t)n, NULL), 0);
    assert_memory_equal(&a, &b, sizeof a);
    check_fields(g, &b);

    /* Exactly n + 1 bytes of room is enough; n is not. */
    assert_int_equal(yz_address_format(&a, text, (size_t)n + 1), n);
    assert_int_equal(yz_address_format(&a, text, (size_t)n), YZ_E_TOO_LARGE);

    assert_int_equal(yz_address_require_id(&a, &why),
                     g->has_id ? 0 : YZ_E_ADDRESS);
    if (!g->has_id)
      assert_non_null(strstr(why, "unpinned"));
  }
}

static void test_bad_addresses(void **state)
{
  (void)state;
  static const uint8_t zero[sizeof(yz_address)];
  for (size_t i = 0; i < YZ__ARRAY_LEN(bads); i++) {
    yz_address a;
    const char *why = NULL;
    int rc = yz_address_parse(&a, (const uint8_t *)bads[i].in,
                              strlen(bads[i].in), &why);
    if (rc != YZ_E_ADDRESS)
      fail_msg("'%s': got %s, want YZ_E_ADDRESS", bads[i].in, yz_err_name(rc));
    assert_non_null(why);
    if (strstr(why, bads[i].reason_has) == NULL)
      fail_msg("'%s': reason '%s' lacks '%s'", bads[i].in, why,
               bads[i].reason_has);
    assert_memory_equal(&a, zero, sizeof a);
  }
}

static void test_limits(void **state)
{
  (void)state;
  char buf[1024], text[YZ_ADDRESS_TEXT_MAX];
  yz_address a;
  const char *why;

  /* A 63-character label is fine; 64 is not. */
  memset(text, 0, sizeof text);
  snprintf(
      buf, sizeof buf, "ws://%.63s.example/",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, strlen(buf), &why), 0);
  snprintf(
      buf, sizeof buf, "ws://%.64s.example/",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, strlen(buf), &why),
                   YZ_E_ADDRESS);
  assert_non_null(strstr(why, "63"));

  /* A 253-character host name with 255 of path and the ID: the longest
   * address there is, and it round-trips. */
  char host[254], path[256];
  for (size_t k = 0; k < 253; k++)
    host[k] = (k % 64 == 63) ? '.' : 'h';
  host[253] = '\0';
  path[0] = '/';
  memset(path + 1, 'p', 254);
  path[255] = '\0';
  snprintf(buf, sizeof buf, "wss://%s:65535%s#%s", host, path, ID);
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, strlen(buf), &why), 0);
  assert_true(strlen(buf) < YZ_ADDRESS_TEXT_MAX);
  assert_int_equal(yz_address_format(&a, text, sizeof text), (int)strlen(buf));
  assert_string_equal(text, buf);

  /* One more character of host or of path is refused. */
  snprintf(buf, sizeof buf, "wss://h%s:65535%s#%s", host, path, ID);
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, strlen(buf), &why),
                   YZ_E_ADDRESS);
  assert_non_null(strstr(why, "253"));
  snprintf(buf, sizeof buf, "wss://%s:65535%sp#%s", host, path, ID);
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, strlen(buf), &why),
                   YZ_E_ADDRESS);
  assert_non_null(strstr(why, "255"));

  /* Overlong input is refused before it is looked at. */
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "ws://", 5);
  assert_int_equal(yz_address_parse(&a, (uint8_t *)buf, sizeof buf, &why),
                   YZ_E_ADDRESS);
  assert_non_null(strstr(why, "longer"));

  /* An embedded NUL is an error, not an end of string. */
  static const uint8_t nul[] = {'w', 's', ':', '/', '/', 'h', 0, '/'};
  assert_int_equal(yz_address_parse(&a, nul, sizeof nul, &why), YZ_E_ADDRESS);
  assert_non_null(strstr(why, "printable"));
}

static void test_format_checks(void **state)
{
  (void)state;
  yz_address a;
  char text[YZ_ADDRESS_TEXT_MAX];
  memset(&a, 0, sizeof a);
  strcpy(a.host, "h");
  strcpy(a.path, "/");
  a.port = 0;
  assert_int_equal(yz_address_format(&a, text, sizeof text), YZ_E_INVAL);
  a.port = 7700;
  assert_int_equal(yz_address_format(&a, text, sizeof text), 12);
  assert_string_equal(text, "ws://h:7700/");
  a.path[0] = 'x';
  assert_int_equal(yz_address_format(&a, text, sizeof text), YZ_E_INVAL);
  strcpy(a.path, "/");
  a.host[0] = '\0';
  assert_int_equal(yz_address_format(&a, text, sizeof text), YZ_E_INVAL);

  /* Pinning an unpinned address: set the ID, format. */
  strcpy(a.host, "::1");
  a.host_type = YZ_ADDRESS_IPV6;
  a.tls = true;
  a.has_id = true;
  assert_int_equal(yz_node_id_parse(&a.id, (const uint8_t *)ID, 64, NULL), 0);
  assert_int_equal(yz_address_format(&a, text, sizeof text),
                   (int)strlen("wss://[::1]:7700/#" ID));
  assert_string_equal(text, "wss://[::1]:7700/#" ID);
}

/* Listen addresses (yz_address_parse_listen): the same grammar, PORT 0
 * allowed, '#NODEID' refused; node addresses keep refusing port 0. */
static void test_listen_addresses(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    bool tls;
    yz_address_host_type type;
    const char *host;
    unsigned port;
  } ok[] = {
      {"ws://127.0.0.1:0", false, YZ_ADDRESS_IPV4, "127.0.0.1", 0},
      {"wss://0.0.0.0:7700", true, YZ_ADDRESS_IPV4, "0.0.0.0", 7700},
      {"ws://[::]:0/", false, YZ_ADDRESS_IPV6, "::", 0},
      {"ws://[::1]:9/any/path", false, YZ_ADDRESS_IPV6, "::1", 9},
      {"ws://127.0.0.1", false, YZ_ADDRESS_IPV4, "127.0.0.1", 80},
      {"wss://[::]", true, YZ_ADDRESS_IPV6, "::", 443},
  };
  for (size_t i = 0; i < YZ__ARRAY_LEN(ok); i++) {
    yz_address a;
    const char *why = "x";
    int rc = yz_address_parse_listen(&a, (const uint8_t *)ok[i].in,
                                     strlen(ok[i].in), &why);
    if (rc != 0)
      fail_msg("'%s': %s (%s)", ok[i].in, yz_err_name(rc), why);
    assert_null(why);
    assert_int_equal(a.tls, ok[i].tls);
    assert_int_equal(a.host_type, ok[i].type);
    assert_string_equal(a.host, ok[i].host);
    assert_int_equal(a.port, ok[i].port);
    assert_false(a.has_id);
  }
  static const struct {
    const char *in;
    const char *reason_has;
  } bad[] = {
      {"ws://127.0.0.1:0/#" ID, "no '#NODEID'"},
      {"ws://127.0.0.1:7700#" ID, "no '#NODEID'"},
      {"ws://127.0.0.1:65536", "0 to 65535"},
      {"ws://127.0.0.1:00", "leading zero"},
      {"http://127.0.0.1:0", "unknown scheme 'http'"},
      {"ws://127.0.0.01:0", "malformed IPv4"},
      {"ws://::1:0", "brackets"},
      {"ws://h_x:0", "host name contains"},
      {"ws://localhost:0", "must be an IP address"},
      {"wss://node.example.org", "must be an IP address"},
      {"", "empty"},
  };
  static const uint8_t zero[sizeof(yz_address)];
  for (size_t i = 0; i < YZ__ARRAY_LEN(bad); i++) {
    yz_address a;
    const char *why = NULL;
    int rc = yz_address_parse_listen(&a, (const uint8_t *)bad[i].in,
                                     strlen(bad[i].in), &why);
    if (rc != YZ_E_ADDRESS)
      fail_msg("'%s': got %s, want YZ_E_ADDRESS", bad[i].in, yz_err_name(rc));
    assert_non_null(why);
    if (strstr(why, bad[i].reason_has) == NULL)
      fail_msg("'%s': reason '%s' lacks '%s'", bad[i].in, why,
               bad[i].reason_has);
    assert_memory_equal(&a, zero, sizeof a);
  }
  /* a node address still needs a port from 1 */
  yz_address a;
  const char *why = NULL;
  assert_int_equal(yz_address_parse(&a, (const uint8_t *)"ws://h:0", 8, &why),
                   YZ_E_ADDRESS);
  assert_non_null(strstr(why, "1 to 65535"));
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_addresses),
      cmocka_unit_test(test_bad_addresses),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_format_checks),
      cmocka_unit_test(test_listen_addresses),
  };
  return cmocka_run_group_tests_name("address", tests, NULL, NULL);
}
