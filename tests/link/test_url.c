/*
 * test_url.c: the ws:// / wss:// URL parser of the link layer (url.c),
 * table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "link/url.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *in;
  int rc;
  bool tls;
  const char *host;
  unsigned port;
  const char *path;
  const char *fragment;
} url_case;

static const url_case cases[] = {
    {"ws://127.0.0.1:7700/", 0, false, "127.0.0.1", 7700, "/", ""},
    {"ws://127.0.0.1", 0, false, "127.0.0.1", 80, "/", ""},
    {"wss://example.org", 0, true, "example.org", 443, "/", ""},
    {"wss://[::1]:8443/yz?x=1", 0, true, "::1", 8443, "/yz?x=1", ""},
    {"ws://h:0", 0, false, "h", 0, "/", ""},
    {"ws://h:1/#abc", 0, false, "h", 1, "/", "abc"},
    {"ws://h#abc", 0, false, "h", 80, "/", "abc"},
    {"http://h/", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"WS://h/", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://:80", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://h:", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://h:65536", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://h:080", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://u@h/", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://[::1/", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://[zz]/", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://h/a b", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
    {"ws://h/#a#b", YZ_E_ADDRESS, false, NULL, 0, NULL, NULL},
};

static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const url_case *c = &cases[i];
    yz__url u;
    const char *why = NULL;
    int rc = yz__url_parse(&u, (const uint8_t *)c->in, strlen(c->in), &why);
    if (rc != c->rc)
      fail_msg("%s: rc %d, want %d", c->in, rc, c->rc);
    if (rc != 0) {
      assert_non_null(why);
      continue;
    }
    assert_int_equal(u.tls, c->tls);
    assert_string_equal(u.host, c->host);
    assert_int_equal(u.port, c->port);
    assert_string_equal(u.path, c->path);
    assert_string_equal(u.fragment, c->fragment);
  }
}

static void test_bounds(void **state) {
  (void)state;
  char buf[2048];
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "ws://", 5);
  yz__url u;
  /* a 300-character host */
  assert_int_equal(yz__url_parse(&u, (const uint8_t *)buf, 305, NULL),
                   YZ_E_ADDRESS);
  /* a path above the maximum */
  memcpy(buf, "ws://h/", 7);
  assert_int_equal(yz__url_parse(&u, (const uint8_t *)buf, sizeof buf, NULL),
                   YZ_E_ADDRESS);
  /* an embedded NUL */
  assert_int_equal(yz__url_parse(&u, (const uint8_t *)"ws://h\0/", 8, NULL),
                   YZ_E_ADDRESS);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_bounds),
  };
  return cmocka_run_group_tests_name("link_url", tests, NULL, NULL);
}
