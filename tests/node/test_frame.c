/* Node message framing: table-driven parse cases and encode round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "node/frame.h"

struct parse_case {
  const char *name;
  const uint8_t *in;
  size_t len;
  int err;
  uint8_t kind;
  uint16_t proto;
  uint64_t id;
  uint16_t code;
  size_t body_off;
};

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const struct parse_case cases[] = {
  {"message", B(1, 0x12, 0x34, 'h', 'i'), 0, 1, 0x1234, 0, 0, 3},
  {"message, empty body", B(1, 0, 1), 0, 1, 1, 0, 0, 3},
  {"request", B(2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 'x'), 0, 2, 1, 7, 0, 11},
  {"request, big id", B(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xff, 0xff),
   0, 2, 0xffff, UINT64_MAX, 0, 11},
  {"response", B(3, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0), 0, 3, 1, 256, 0, 11},
  {"error", B(4, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 'n', 'o'), 0, 4, 9, 5,
   1, 13},
  {"empty", (const uint8_t[]){0}, 0, YZ_E_TRUNCATED, 0, 0, 0, 0, 0},
  {"kind 0", B(0, 0, 1), YZ_E_MALFORMED, 0, 0, 0, 0, 0},
  {"kind 5", B(5, 0, 1), YZ_E_MALFORMED, 0, 0, 0, 0, 0},
  {"kind 0xff", B(0xff), YZ_E_MALFORMED, 0, 0, 0, 0, 0},
  {"message, short", B(1, 0), YZ_E_TRUNCATED, 0, 0, 0, 0, 0},
  {"message, protocol 0", B(1, 0, 0, 'x'), YZ_E_MALFORMED, 0, 0, 0, 0, 0},
  {"request, short id", B(2, 0, 1, 0, 0, 0, 0, 0, 0, 0), YZ_E_TRUNCATED, 0,
   0, 0, 0, 0},
  {"request, id 0", B(2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), YZ_E_MALFORMED, 0,
   0, 0, 0, 0},
  {"response, id 0", B(3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), YZ_E_MALFORMED, 0,
   0, 0, 0, 0},
  {"error, no code", B(4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0), YZ_E_TRUNCATED,
   0, 0, 0, 0, 0},
  {"error, code 0", B(4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
   YZ_E_MALFORMED, 0, 0, 0, 0, 0},
};

static void test_parse_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct parse_case *c = &cases[i];
    yz__node_frame f;
    const char *why = NULL;
    size_t len = strcmp(c->name, "empty") == 0 ? 0 : c->len;
    int err = yz__node_frame_parse(&f, c->in, len, &why);
    printf("case %s: %s\n", c->name, err ? why : "ok");
    assert_int_equal(err, c->err);
    if (err != 0) {
      assert_non_null(why);
      continue;
    }
    assert_int_equal(f.kind, c->kind);
    assert_int_equal(f.proto, c->proto);
    assert_true(f.id == c->id);
    assert_int_equal(f.code, c->code);
    assert_ptr_equal(f.body, c->in + c->body_off);
    assert_int_equal(f.body_len, len - c->body_off);
  }
}

static void test_error_reason_bound(void **state)
{
  (void)state;
  uint8_t buf[YZ__NODE_HDR_ERROR + YZ__NODE_REASON_MAX + 1];
  memset(buf, 'r', sizeof buf);
  const uint8_t hdr[] = {4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
  memcpy(buf, hdr, sizeof hdr);
  yz__node_frame f;
  assert_int_equal(yz__node_frame_parse(&f, buf, sizeof buf - 1, NULL), 0);
  assert_int_equal(f.body_len, YZ__NODE_REASON_MAX);
  assert_int_equal(yz__node_frame_parse(&f, buf, sizeof buf, NULL),
                   YZ_E_TOO_LARGE);
}

static void test_encode_round_trip(void **state)
{
  (void)state;
  const yz__node_frame in[] = {
      {.kind = YZ__NODE_MESSAGE, .proto = 77},
      {.kind = YZ__NODE_REQUEST, .proto = 1, .id = 0x0102030405060708ULL},
      {.kind = YZ__NODE_RESPONSE, .proto = 65535, .id = 1},
      {.kind = YZ__NODE_ERROR, .proto = 2, .id = 9, .code = 3},
  };
  const uint8_t body[] = "payload";
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    uint8_t buf[YZ__NODE_HDR_MAX + sizeof body];
    yz__node_frame g = in[i];
    g.body_len = sizeof body;
    int hl = yz__node_frame_encode_header(&g, buf);
    assert_int_equal(hl, (int)yz__node_frame_header_len(g.kind));
    memcpy(buf + hl, body, sizeof body);
    yz__node_frame f;
    assert_int_equal(yz__node_frame_parse(&f, buf, (size_t)hl + sizeof body,
                                          NULL),
                     0);
    assert_int_equal(f.kind, g.kind);
    assert_int_equal(f.proto, g.proto);
    assert_true(f.id == g.id);
    assert_int_equal(f.code, g.code);
    assert_int_equal(f.body_len, sizeof body);
    assert_memory_equal(f.body, body, sizeof body);
  }
  /* The exact bytes of one request header (docs/protocol.md example). */
  uint8_t buf[YZ__NODE_HDR_MAX];
  yz__node_frame r = {.kind = YZ__NODE_REQUEST, .proto = 1, .id = 42};
  assert_int_equal(yz__node_frame_encode_header(&r, buf), 11);
  const uint8_t want[] = {0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x2a};
  assert_memory_equal(buf, want, sizeof want);
}

static void test_encode_rejects_invalid(void **state)
{
  (void)state;
  uint8_t buf[YZ__NODE_HDR_MAX];
  const yz__node_frame bad[] = {
      {.kind = 0, .proto = 1},
      {.kind = YZ__NODE_MESSAGE, .proto = 0},
      {.kind = YZ__NODE_MESSAGE, .proto = 1, .id = 3},
      {.kind = YZ__NODE_REQUEST, .proto = 1, .id = 0},
      {.kind = YZ__NODE_RESPONSE, .proto = 1, .id = 1, .code = 2},
      {.kind = YZ__NODE_ERROR, .proto = 1, .id = 1, .code = 0},
      {.kind = YZ__NODE_ERROR, .proto = 1, .id = 1, .code = 1,
       .body_len = YZ__NODE_REASON_MAX + 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(yz__node_frame_encode_header(&bad[i], buf), YZ_E_INVAL);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_error_reason_bound),
      cmocka_unit_test(test_encode_round_trip),
      cmocka_unit_test(test_encode_rejects_invalid),
  };
  return cmocka_run_group_tests_name("node frame", tests, NULL, NULL);
}
