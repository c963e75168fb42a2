/*
 * Wire layer: the strict CBOR pre-check and the identity proof codec.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "yz/wire.h"

struct check_case {
  const char *hex;
  int want;
};

/* Table of inputs to yz_wire_check (RFC 8949 appendix A style). */
static const struct check_case check_cases[] = {
    {"00", 0},
    {"17", 0},
    {"1818", 0},
    {"1817", YZ_E_MALFORMED},            /* non-minimal uint8 */
    {"190017", YZ_E_MALFORMED},          /* non-minimal uint16 */
    {"1900ff", YZ_E_MALFORMED},
    {"190100", 0},
    {"1a0000ffff", YZ_E_MALFORMED},
    {"1b00000000ffffffff", YZ_E_MALFORMED},
    {"1b0000000100000000", 0},
    {"20", 0},
    {"3818", 0},
    {"3817", YZ_E_MALFORMED},
    {"40", 0},
    {"4101", 0},
    {"4201", YZ_E_TRUNCATED},            /* string longer than input */
    {"5801ff", YZ_E_MALFORMED},          /* non-minimal length */
    {"6161", 0},
    {"61ff", YZ_E_MALFORMED},            /* not UTF-8 */
    {"62c0af", YZ_E_MALFORMED},          /* overlong */
    {"63eda080", YZ_E_MALFORMED},        /* surrogate */
    {"80", 0},
    {"820102", 0},
    {"8201", YZ_E_TRUNCATED},
    {"9a00100000", YZ_E_TRUNCATED},      /* 2^20 items declared */
    {"ba01000000", YZ_E_TRUNCATED},      /* 2^24 pairs declared */
    {"9f01ff", YZ_E_MALFORMED},          /* indefinite */
    {"5f4101ff", YZ_E_MALFORMED},
    {"a0", 0},
    {"a201020304", 0},
    {"a203040102", YZ_E_MALFORMED},      /* keys out of order */
    {"a201020103", YZ_E_DUPLICATE},      /* duplicate key */
    {"a2010220f6", 0},                   /* 0x01 < 0x20 bytewise */
    {"a20a011864f5", 0},                 /* 10 < 100 */
    {"a2616101616102", YZ_E_DUPLICATE},
    {"a26161016162f4", 0},
    {"f4", 0}, {"f5", 0}, {"f6", 0},
    {"f7", YZ_E_MALFORMED},              /* undefined */
    {"f0", YZ_E_MALFORMED},              /* simple(16) */
    {"f820", YZ_E_MALFORMED},            /* simple(32) */
    {"f93c00", YZ_E_MALFORMED},          /* half float */
    {"fa3f800000", YZ_E_MALFORMED},
    {"fb3ff0000000000000", YZ_E_MALFORMED},
    {"c11a514b67b0", YZ_E_MALFORMED},    /* tag */
    {"0000", YZ_E_TRAILING},
    {"a0ff", YZ_E_TRAILING},
    {"1c", YZ_E_MALFORMED},              /* reserved ai */
    {"ff", YZ_E_MALFORMED},              /* lone break */
    {"19", YZ_E_TRUNCATED},
    {"818181818181818100", 0},           /* depth 8 */
    {"81818181818181818100", YZ_E_TOO_DEEP}, /* depth 9 */
    {"a1a10102a0", 0},                   /* map key that is a map */
    {"a2a10102a0a10103a0", 0},
    {"a2a10103a0a10102a0", YZ_E_MALFORMED},
};

static void test_check_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(check_cases); i++) {
    uint8_t buf[64];
    size_t n;
    const char *h = check_cases[i].hex;
    assert_int_equal(yz__hex_decode_var(buf, sizeof buf, &n, h, strlen(h)), 0);
    const char *reason = NULL;
    int rc = yz_wire_check(buf, n, 1024, &reason);
    if (rc != check_cases[i].want)
      fprintf(stderr, "case %zu (%s): got %s (%s)\n", i, h, yz_err_name(rc),
              reason ? reason : "-");
    assert_int_equal(rc, check_cases[i].want);
    if (rc)
      assert_non_null(reason);
  }
  assert_int_equal(yz_wire_check(NULL, 0, 10, NULL), YZ_E_TRUNCATED);
  uint8_t big[11] = {0};
  assert_int_equal(yz_wire_check(big, 11, 10, NULL), YZ_E_TOO_LARGE);
}

static void test_utf8(void **state)
{
  (void)state;
  assert_true(yz_wire_utf8_valid((const uint8_t *)"", 0));
  assert_true(yz_wire_utf8_valid((const uint8_t *)"h\xc3\xa9 \xe2\x82\xac "
                                                  "\xf0\x9f\x98\x80", 12));
  assert_false(yz_wire_utf8_valid((const uint8_t *)"\xc3", 1));
  assert_false(yz_wire_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));
  assert_false(yz_wire_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
  assert_false(yz_wire_utf8_valid((const uint8_t *)"\x80", 1));
  assert_false(yz_wire_utf8_valid((const uint8_t *)"\xf8\x88\x80\x80\x80", 5));
  /* the valid prefix: where a sender cuts text before putting it on the
   * wire */
  static const struct {
    const char *in;
    size_t len, prefix;
  } cut[] = {
      {"", 0, 0},
      {"abc", 3, 3},
      {"h\xc3\xa9", 3, 3},
      {"ab\xc3", 3, 2},
      {"ab\xe2\x82", 4, 2},
      {"\xff", 1, 0},
      {"a\xed\xa0\x80", 4, 1},
      {"\xf0\x9f\x98\x80\x80", 5, 4},
  };
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
    size_t got =
        yz_wire_utf8_valid_prefix((const uint8_t *)cut[i].in, cut[i].len);
    if (got != cut[i].prefix)
      fail_msg("case %zu: prefix %zu, want %zu", i, got, cut[i].prefix);
    assert_true(yz_wire_utf8_valid((const uint8_t *)cut[i].in, got));
  }
}

static void full_proof(yz_wire_identity_proof *p)
{
  memset(p, 0, sizeof *p);
  for (int i = 0; i < 32; i++)
    p->identity_pk[i] = (uint8_t)i;
  for (int i = 0; i < 64; i++)
    p->signature[i] = (uint8_t)(0xa0 + i);
  p->n_addresses = 2;
  strcpy(p->addresses[0].url, "ws://198.51.100.7:4433/");
  p->addresses[0].url_len = (uint16_t)strlen(p->addresses[0].url);
  p->addresses[0].client_types = YZ_WIRE_CLIENT_WS;
  strcpy(p->addresses[1].url, "wss://node.example.org/yz");
  p->addresses[1].url_len = (uint16_t)strlen(p->addresses[1].url);
  p->addresses[1].client_types = YZ_WIRE_CLIENT_WS | YZ_WIRE_CLIENT_WSS;
  p->node_type = YZ_WIRE_NODE_INFRASTRUCTURE;
  p->has_capabilities = true;
  p->capabilities = YZ_WIRE_CAP_ROUTING | YZ_WIRE_CAP_RELAY;
  strcpy(p->version, "yz 0.1.0");
  p->version_len = 8;
  strcpy(p->network, "yz-test");
  p->network_len = 7;
}

static void test_proof_roundtrip(void **state)
{
  (void)state;
  yz_wire_identity_proof p, q;
  uint8_t buf[YZ_WIRE_PROOF_MAX_LEN], buf2[YZ_WIRE_PROOF_MAX_LEN];
  size_t n, n2;
  full_proof(&p);
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), 0);
  assert_int_equal(yz_wire_check(buf, n, sizeof buf, NULL), 0);
  assert_int_equal(yz_wire_proof_decode(&q, buf, n, NULL), 0);
  assert_false(q.had_unknown);
  assert_memory_equal(&p, &q, sizeof p);
  assert_int_equal(yz_wire_proof_encode(&q, buf2, sizeof buf2, &n2), 0);
  assert_int_equal(n, n2);
  assert_memory_equal(buf, buf2, n);

  /* Minimal proof: exactly the two required fields, known bytes. */
  yz_wire_identity_proof m;
  memset(&m, 0, sizeof m);
  assert_int_equal(yz_wire_proof_encode(&m, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 1 + 1 + 2 + 32 + 1 + 2 + 64);
  assert_int_equal(buf[0], 0xa2);
  assert_int_equal(buf[1], 0x01);
  assert_int_equal(buf[2], 0x58);
  assert_int_equal(buf[3], 0x20);
  assert_int_equal(buf[36], 0x02);
  assert_int_equal(buf[37], 0x58);
  assert_int_equal(buf[38], 0x40);

  /* Too small an output buffer. */
  assert_int_equal(yz_wire_proof_encode(&p, buf, 40, &n), YZ_E_TOO_LARGE);
}

static void test_proof_encode_refuses(void **state)
{
  (void)state;
  yz_wire_identity_proof p;
  uint8_t buf[YZ_WIRE_PROOF_MAX_LEN];
  size_t n;
  full_proof(&p);
  strcpy(p.addresses[0].url, "http://x/");
  p.addresses[0].url_len = 9;
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), YZ_E_INVAL);
  full_proof(&p);
  p.addresses[0].client_types = 4;
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), YZ_E_INVAL);
  full_proof(&p);
  p.node_type = 3;
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), YZ_E_INVAL);
  full_proof(&p);
  p.version[0] = (char)0xff;
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), YZ_E_INVAL);
  full_proof(&p);
  strcpy(p.network, "Yz");
  p.network_len = 2;
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), YZ_E_INVAL);
}

/* Hex fragments to build proofs by hand. */
#define PK "015820" "000102030405060708090a0b0c0d0e0f" \
                    "101112131415161718191a1b1c1d1e1f"
#define SIG "025840" "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" \
                     "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf" \
                     "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf" \
                     "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"

/* 16 bytes of "a" */
#define A16 "61616161616161616161616161616161"

struct proof_case {
  const char *hex;
  int want;
  bool unknown;
};

static const struct proof_case proof_cases[] = {
    {"a2" PK SIG, 0, false},
    {"a1" PK, YZ_E_MALFORMED, false},                     /* no signature */
    {"a1" SIG, YZ_E_MALFORMED, false},
    {"a2" SIG PK, YZ_E_MALFORMED, false},                 /* unsorted */
    {"a3" PK PK SIG, YZ_E_DUPLICATE, false},
    {"a2" PK SIG "00", YZ_E_TRAILING, false},
    {"a3" PK SIG "0800", 0, true},                        /* unknown key 8 */
    /* network name (key 7): 1..32 bytes of a-z 0-9 . - _ */
    {"a3" PK SIG "07627a74", 0, false},                   /* "zt" */
    {"a3" PK SIG "0767797a2d74657374", 0, false},         /* "yz-test" */
    {"a3" PK SIG "07627974", 0, false},
    {"a3" PK SIG "0760", YZ_E_MALFORMED, false},          /* empty */
    {"a3" PK SIG "0700", YZ_E_MALFORMED, false},          /* not text */
    {"a3" PK SIG "0742797a", YZ_E_MALFORMED, false},      /* bstr */
    {"a3" PK SIG "0762597a", YZ_E_MALFORMED, false},      /* upper case */
    {"a3" PK SIG "0762792f", YZ_E_MALFORMED, false},      /* '/' */
    {"a3" PK SIG "07627920", YZ_E_MALFORMED, false},
    {"a3" PK SIG "077820" A16 A16, 0, false},       /* 32 bytes */
    {"a3" PK SIG "077821" A16 A16 "61", YZ_E_MALFORMED,
     false}, /* 33 bytes */
    {"a4" PK SIG "0663797a31" "0762797a", 0, false},      /* with a version */
    {"a3" PK SIG "1864a1616180", 0, true},                /* unknown, nested */
    {"a3" PK SIG "6178f6", 0, true},                      /* text key */
    {"a3" PK SIG "2001", 0, true},                        /* negative key */
    {"a3" PK SIG "0401", 0, false},                       /* infrastructure */
    {"a3" PK SIG "0402", 0, false},
    {"a3" PK SIG "0403", YZ_E_MALFORMED, false},          /* node type 3 */
    {"a3" PK SIG "0400", YZ_E_MALFORMED, false},
    {"a3" PK SIG "046161", YZ_E_MALFORMED, false},
    {"a3" PK SIG "0507", 0, false},
    {"a3" PK SIG "05190100", 0, false},                   /* unknown bits */
    {"a3" PK SIG "0520", YZ_E_MALFORMED, false},
    {"a3" PK SIG "0663797a31", 0, false},
    {"a3" PK SIG "0660", YZ_E_MALFORMED, false},          /* empty version */
    {"a3" PK SIG "0643797a31", YZ_E_MALFORMED, false},    /* bstr version */
    {"a3" PK SIG "0381820102", YZ_E_MALFORMED, false},      /* address array */
    {"a3" PK SIG "0380", YZ_E_MALFORMED, false},          /* no addresses */
    {"a3" PK SIG "0381a2016877733a2f2f682f3a0201", 0, false},
    {"a3" PK SIG "0381a2016877733a2f2f682f3a0204", YZ_E_MALFORMED, false},
    {"a3" PK SIG "0381a2016877733a2f2f682f3a0203", 0, false},
    {"a3" PK SIG "0381a1016877733a2f2f682f3a", YZ_E_MALFORMED, false},
    {"a3" PK SIG "0381a20167687474703a2f2f0201", YZ_E_MALFORMED, false},
    {"a3" PK SIG "0381a3016877733a2f2f682f3a02010300", 0, true},
    {"a3" PK SIG "0381a2016877733a2f2f202f3a0201", YZ_E_MALFORMED, false},
    {"a2" "01581f000102030405060708090a0b0c0d0e0f"
          "101112131415161718191a1b1c1d1e" SIG, YZ_E_MALFORMED, false},
    {"a2" "015f4100ff" SIG, YZ_E_MALFORMED, false},       /* indefinite */
    {"82" PK, YZ_E_MALFORMED, false},                     /* not a map */
    {"a2" PK "0240", YZ_E_MALFORMED, false},
    {"", YZ_E_TRUNCATED, false},
};

static void test_proof_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < YZ__ARRAY_LEN(proof_cases); i++) {
    uint8_t buf[512];
    size_t n;
    const char *h = proof_cases[i].hex;
    assert_int_equal(yz__hex_decode_var(buf, sizeof buf, &n, h, strlen(h)), 0);
    yz_wire_identity_proof p;
    const char *reason = NULL;
    int rc = yz_wire_proof_decode(&p, buf, n, &reason);
    if (rc != proof_cases[i].want)
      fprintf(stderr, "case %zu: got %s (%s)\n", i, yz_err_name(rc),
              reason ? reason : "-");
    assert_int_equal(rc, proof_cases[i].want);
    if (rc == 0) {
      assert_int_equal(p.had_unknown, proof_cases[i].unknown);
      if (!p.had_unknown) {
        uint8_t out[512];
        size_t m;
        assert_int_equal(yz_wire_proof_encode(&p, out, sizeof out, &m), 0);
        assert_int_equal(m, n);
        assert_memory_equal(out, buf, n);
      }
    } else {
      assert_non_null(reason);
    }
  }
}

/* Nesting depth (docs/protocol.md "Identity proof", rule 4): the number
 * of arrays and maps around a data item, at most 8. An unknown key 8
 * whose value is 8 nested arrays: the innermost empty is at depth 8 (the
 * top-level map and 7 arrays around it), accepted; an element in it is
 * at depth 9, refused. */
static void test_proof_nesting_depth(void **state)
{
  (void)state;
  yz_wire_identity_proof p, q;
  uint8_t buf[YZ_WIRE_PROOF_MAX_LEN];
  size_t n;
  memset(&p, 0, sizeof p);
  memset(p.identity_pk, 0x11, sizeof p.identity_pk);
  memset(p.signature, 0x22, sizeof p.signature);
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), 0);
  assert_int_equal(buf[0], 0xa2);
  buf[0] = 0xa3;
  buf[n++] = 0x08;
  for (int i = 0; i < 7; i++)
    buf[n++] = 0x81;
  buf[n] = 0x80; /* the 8th array, empty */
  assert_int_equal(yz_wire_proof_decode(&q, buf, n + 1, NULL), 0);
  assert_true(q.had_unknown);
  buf[n] = 0x81; /* the 8th array holds one element... */
  buf[n + 1] = 0x00; /* ...at depth 9 */
  const char *reason = NULL;
  assert_int_equal(yz_wire_proof_decode(&q, buf, n + 2, &reason),
                   YZ_E_TOO_DEEP);
  assert_non_null(reason);
}

/* Every truncation of a valid proof fails; so does every extension. */
static void test_proof_truncations(void **state)
{
  (void)state;
  yz_wire_identity_proof p, q;
  uint8_t buf[YZ_WIRE_PROOF_MAX_LEN + 1];
  size_t n;
  full_proof(&p);
  assert_int_equal(yz_wire_proof_encode(&p, buf, sizeof buf, &n), 0);
  for (size_t i = 0; i < n; i++)
    assert_int_not_equal(yz_wire_proof_decode(&q, buf, i, NULL), 0);
  buf[n] = 0;
  assert_int_equal(yz_wire_proof_decode(&q, buf, n + 1, NULL), YZ_E_TRAILING);
  /* Any single byte flip either fails or yields a different proof. */
  for (size_t i = 0; i < n; i++) {
    buf[i] ^= 0x01;
    int rc = yz_wire_proof_decode(&q, buf, n, NULL);
    if (rc == 0)
      assert_memory_not_equal(&p, &q, sizeof p);
    buf[i] ^= 0x01;
  }
  /* Oversized input is refused before any parsing. */
  uint8_t *big = calloc(1, YZ_WIRE_PROOF_MAX_LEN + 1);
  assert_non_null(big);
  assert_int_equal(
      yz_wire_proof_decode(&q, big, YZ_WIRE_PROOF_MAX_LEN + 1, NULL),
      YZ_E_TOO_LARGE);
  free(big);
}

/*
 * Deterministic mutations of a valid proof (byte flips, insertions,
 * deletions, length changes): the decoder never crashes, and whatever it
 * accepts without unknown keys re-encodes to exactly the input bytes.
 */
static void test_proof_mutations(void **state)
{
  (void)state;
  yz_wire_identity_proof p, q;
  uint8_t base[YZ_WIRE_PROOF_MAX_LEN], buf[YZ_WIRE_PROOF_MAX_LEN + 8],
      out[YZ_WIRE_PROOF_MAX_LEN];
  size_t bn, on;
  full_proof(&p);
  assert_int_equal(yz_wire_proof_encode(&p, base, sizeof base, &bn), 0);
  uint32_t x = 2463534242u;
  unsigned accepted = 0;
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(buf, base, bn);
    size_t n = bn;
    int edits = 1 + iter % 3;
    for (int e = 0; e < edits; e++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      size_t at = x % n;
      switch ((x >> 16) % 4) {
      case 0: buf[at] ^= (uint8_t)(1u << ((x >> 8) % 8)); break;
      case 1: buf[at] = (uint8_t)(x >> 24); break;
      case 2: /* delete */
        memmove(buf + at, buf + at + 1, n - at - 1);
        n--;
        break;
      default: /* insert */
        memmove(buf + at + 1, buf + at, n - at);
        buf[at] = (uint8_t)(x >> 24);
        n++;
        break;
      }
    }
    if (yz_wire_proof_decode(&q, buf, n, NULL) != 0)
      continue;
    accepted++;
    assert_int_equal(yz_wire_check(buf, n, sizeof buf, NULL), 0);
    if (q.had_unknown)
      continue;
    assert_int_equal(yz_wire_proof_encode(&q, out, sizeof out, &on), 0);
    assert_int_equal(on, n);
    assert_memory_equal(out, buf, n);
  }
  assert_true(accepted > 0); /* flips inside the keys still decode */
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_table),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_proof_roundtrip),
      cmocka_unit_test(test_proof_encode_refuses),
      cmocka_unit_test(test_proof_table),
      cmocka_unit_test(test_proof_truncations),
      cmocka_unit_test(test_proof_nesting_depth),
      cmocka_unit_test(test_proof_mutations),
  };
  return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
