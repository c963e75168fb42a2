/*
 * Protocol names (spec section 8) and the compiled patterns: every pattern
 * family parses; malformed names are YZ_E_PROTOCOL_NAME; well-formed names
 * with primitives yz does not run are YZ_E_UNSUPPORTED, each with its own
 * reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "noise_test.h"

static int parse(const char *name, yz_noise_protocol *p, const char **why)
{
  return yz_noise_protocol_parse(p, (const uint8_t *)name, strlen(name), why);
}

static const char *const patterns[] = {
    "N",    "K",   "X",   "NN",   "NK",   "NX",  "XN",  "XK",   "XX",  "KN",
    "KK",   "KX",  "IN",  "IK",   "IX",   "NK1", "NX1", "X1N",  "X1K", "XK1",
    "X1K1", "X1X", "XX1", "X1X1", "K1N",  "K1K", "KK1", "K1K1", "K1X", "KX1",
    "K1X1", "I1N", "I1K", "IK1",  "I1K1", "I1X", "IX1", "I1X1",
};

static void test_every_pattern_parses(void **state)
{
  (void)state;
  const char *suffixes[] = {"", "psk0", "psk1", "psk0+psk1", "psk0+psk2"};
  char name[128];
  for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
    for (size_t j = 0; j < sizeof suffixes / sizeof suffixes[0]; j++) {
      yz_noise_protocol p;
      const char *why = NULL;
      bool oneway = strlen(patterns[i]) == 1;
      snprintf(name, sizeof name, "Noise_%s%s_25519_ChaChaPoly_BLAKE2b",
               patterns[i], suffixes[j]);
      int rc = parse(name, &p, &why);
      /* psk2 is beyond a one-way pattern's single message. */
      if (oneway && strstr(suffixes[j], "psk2")) {
        assert_int_equal(rc, YZ_E_PROTOCOL_NAME);
        continue;
      }
      assert_int_equal(rc, 0);
      assert_string_equal(p.name, name);
      assert_int_equal(yz_noise_protocol_is_oneway(&p), oneway);
      assert_int_equal(yz_noise_protocol_hashlen(&p), 64);
      assert_int_equal(p.n_psk, j == 0 ? 0 : (j >= 3 ? 2 : 1));
    }
  }
}

static void test_primitives(void **state)
{
  (void)state;
  yz_noise_protocol p;
  assert_int_equal(parse("Noise_XX_25519_ChaChaPoly_SHA256", &p, NULL), 0);
  assert_int_equal(p.dh, YZ_NOISE_DH_25519);
  assert_int_equal(p.cipher, YZ_NOISE_CIPHER_CHACHAPOLY);
  assert_int_equal(p.hash, YZ_NOISE_HASH_SHA256);
  assert_int_equal(yz_noise_protocol_hashlen(&p), 32);
  assert_int_equal(parse("Noise_XX_25519_ChaChaPoly_SHA512", &p, NULL), 0);
  assert_int_equal(p.hash, YZ_NOISE_HASH_SHA512);
  int rc = parse("Noise_XX_25519_AESGCM_SHA256", &p, NULL);
  if (crypto_aead_aes256gcm_is_available()) {
    assert_int_equal(rc, 0);
    assert_int_equal(p.cipher, YZ_NOISE_CIPHER_AESGCM);
  } else {
    assert_int_equal(rc, YZ_E_UNSUPPORTED);
  }
}

/* The compiled tokens of a few patterns, against the spec's text. */
static void test_compiled_tokens(void **state)
{
  (void)state;
  enum {
    E = YZ__TOK_E,
    S = YZ__TOK_S,
    EE = YZ__TOK_EE,
    ES = YZ__TOK_ES,
    SE = YZ__TOK_SE,
    SS = YZ__TOK_SS,
    PSK = YZ__TOK_PSK,
    M = YZ__TOK_MSG_END,
    END = YZ__TOK_END
  };
  static const struct {
    const char *pattern;
    uint8_t pre_i[3], pre_r[3];
    uint8_t tokens[24];
  } cases[] = {
      {"XX", {0}, {0}, {E, M, E, EE, S, ES, M, S, SE, M, END}},
      {"IKpsk2", {0}, {S}, {E, ES, S, SS, M, E, EE, SE, PSK, M, END}},
      {"XXpsk0+psk1",
       {0},
       {0},
       {PSK, E, PSK, M, E, EE, S, ES, M, S, SE, M, END}},
      {"XXpsk3", {0}, {0}, {E, M, E, EE, S, ES, M, S, SE, PSK, M, END}},
      /* NN's first message is just "e", so fallback applies to it too. */
      {"NNfallback", {0}, {E}, {E, EE, M, END}},
      {"Npsk0", {0}, {S}, {PSK, E, ES, M, END}},
      {"KK1", {S}, {S}, {E, M, E, EE, SE, ES, M, END}},
      /* Section 10.2: Bob initiates; Alice's e is her pre-message; es and
       * se trade places because tokens are named from the initiator. */
      {"XXfallback", {0}, {E}, {E, EE, S, SE, M, S, ES, M, END}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[128];
    yz_noise_protocol p;
    snprintf(name, sizeof name, "Noise_%s_25519_ChaChaPoly_SHA256",
             cases[i].pattern);
    assert_int_equal(parse(name, &p, NULL), 0);
    assert_memory_equal(p.pre[0], cases[i].pre_i, 3);
    assert_memory_equal(p.pre[1], cases[i].pre_r, 3);
    size_t n = 0;
    while (cases[i].tokens[n] != END)
      n++;
    assert_memory_equal(p.tokens, cases[i].tokens, n + 1);
  }
}

static const char *const malformed[] = {
    "Noise_XX_25519_ChaChaPoly",
    "Noise_XY_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk9x_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk9_25519_ChaChaPoly_SHA256", /* XX has three messages */
    "Noise_XXpsk01_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk0+_25519_ChaChaPoly_SHA256",
    "Noise_XX+psk0_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk1+psk0_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk0+psk0_25519_ChaChaPoly_SHA256",
    "Noise_XXfoo_25519_ChaChaPoly_SHA256",
    "Noise_XXfallback+fallback_25519_ChaChaPoly_SHA256",
    "Noise_IKfallback_25519_ChaChaPoly_SHA256", /* es in the first message */
    "Noise_Nfallback_25519_ChaChaPoly_SHA256",  /* one message only */
    /* Not in section 7.6: N and X carry no responder static to defer. */
    "Noise_XN1_25519_ChaChaPoly_SHA256",
    "Noise_X1N1_25519_ChaChaPoly_SHA256",
    "Noise_NN1_25519_ChaChaPoly_SHA256",
    "Noise_xx_25519_ChaChaPoly_SHA256",
    "Noise__25519_ChaChaPoly_SHA256",
    "Noise_XX_25519_ChaChaPoly_SHA256_",
    "Noise_XX_25519_ChaChaPoly_SHA256_extra",
    "Noise_XX_25519_ChaChaPoly_SHA256 ",
    "Noise_XX_25519_ChaChaPoly_SHA3",
    "Noise_XX_25519_AES_SHA256",
    "Noise_XX_25520_ChaChaPoly_SHA256",
    "Noise_XX_+_ChaChaPoly_SHA256",
    "Noise_XX_25519+_ChaChaPoly_SHA256",
    "noise_XX_25519_ChaChaPoly_SHA256",
    "NoiseX_XX_25519_ChaChaPoly_SHA256",
    "Noise",
    "_",
    "",
};

static void test_malformed(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    yz_noise_protocol p;
    const char *why = NULL;
    int rc = parse(malformed[i], &p, &why);
    if (rc != YZ_E_PROTOCOL_NAME)
      fail_msg("%s: %s", malformed[i], yz_err_name(rc));
    assert_non_null(why);
    assert_int_equal(p.name[0], '\0');
  }
  /* Overlong, and an embedded NUL. */
  char longname[200];
  memset(longname, 'X', sizeof longname);
  memcpy(longname, "Noise_", 6);
  yz_noise_protocol p;
  assert_int_equal(yz_noise_protocol_parse(&p, (const uint8_t *)longname,
                                           sizeof longname, NULL),
                   YZ_E_PROTOCOL_NAME);
  static const char nul[] = "Noise_XX_25519_ChaChaPoly_SHA256\0";
  assert_int_equal(
      yz_noise_protocol_parse(&p, (const uint8_t *)nul, sizeof nul - 1, NULL),
      YZ_E_PROTOCOL_NAME);
  assert_int_equal(yz_noise_protocol_parse(&p, NULL, 0, NULL),
                   YZ_E_PROTOCOL_NAME);
}

static void test_unsupported(void **state)
{
  (void)state;
  static const struct {
    const char *name, *reason;
  } cases[] = {
      {"Noise_XX_448_ChaChaPoly_SHA256", "DH 448 unsupported"},
      {"Noise_XX_P256_ChaChaPoly_SHA256", "DH P256 unsupported"},
      {"Noise_XX_25519+Kyber1024_ChaChaPoly_SHA256", "hybrid DH unsupported"},
      {"Noise_XXhfs_25519+NewHope_ChaChaPoly_BLAKE2b",
       "hybrid DH unsupported"},
      {"Noise_XX_25519_ChaChaPoly_BLAKE2s", "hash BLAKE2s unsupported"},
      {"Noise_XX_25519_XChaChaPoly_SHA256", "cipher XChaChaPoly unsupported"},
      {"Noise_XXhfs_25519_ChaChaPoly_SHA256",
       "hfs modifier (hybrid forward secrecy) unsupported"},
      {"Noise_XXfallback+hfs_25519_ChaChaPoly_SHA256",
       "hfs modifier (hybrid forward secrecy) unsupported"},
      {"NoisePSK_XX_25519_ChaChaPoly_SHA256",
       "obsolete NoisePSK_ scheme unsupported"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    yz_noise_protocol p;
    const char *why = NULL;
    int rc = parse(cases[i].name, &p, &why);
    if (rc != YZ_E_UNSUPPORTED)
      fail_msg("%s: %s", cases[i].name, yz_err_name(rc));
    assert_string_equal(why, cases[i].reason);
  }
  /* Malformed wins over unsupported: the name is wrong before the
   * primitive is. */
  yz_noise_protocol p;
  assert_int_equal(parse("Noise_XY_448_ChaChaPoly_SHA256", &p, NULL),
                   YZ_E_PROTOCOL_NAME);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_pattern_parses),
      cmocka_unit_test(test_primitives),
      cmocka_unit_test(test_compiled_tokens),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unsupported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
