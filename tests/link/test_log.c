/*
 * test_log.c: the logger (src/common/log.c, yz/log.h): levels, sink,
 * sanitising, and the rate limiter for peer-triggered lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "yz/log.h"

#include <stdio.h>
#include <string.h>

static char last[1100];
static int lines;
static yz_log_level last_level;

static void sink(yz_log_level level, const char *line, void *ud) {
  (void)ud;
  snprintf(last, sizeof last, "%s", line);
  last_level = level;
  lines++;
}

static int setup(void **state) {
  (void)state;
  lines = 0;
  last[0] = '\0';
  yz_log_set_sink(sink, NULL);
  yz_log_set_level(YZ_LOG_WARN);
  return 0;
}

static void test_levels(void **state) {
  (void)state;
  yz_log(YZ_LOG_INFO, "hidden %d", 1);
  assert_int_equal(lines, 0);
  yz_log(YZ_LOG_WARN, "shown %d", 2);
  assert_int_equal(lines, 1);
  assert_string_equal(last, "shown 2");
  assert_int_equal(last_level, YZ_LOG_WARN);
  yz_log_set_level(YZ_LOG_DEBUG);
  assert_true(yz_log_enabled(YZ_LOG_DEBUG));
  yz_log(YZ_LOG_DEBUG, "debug");
  assert_int_equal(lines, 2);
}

static void test_parse(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int rc;
    yz_log_level level;
  } cases[] = {
      {"err", 0, YZ_LOG_ERR},       {"error", 0, YZ_LOG_ERR},
      {"warn", 0, YZ_LOG_WARN},     {"warning", 0, YZ_LOG_WARN},
      {"notice", 0, YZ_LOG_NOTICE}, {"info", 0, YZ_LOG_INFO},
      {"debug", 0, YZ_LOG_DEBUG},   {"DEBUG", YZ_E_INVAL, YZ_LOG_ERR},
      {"", YZ_E_INVAL, YZ_LOG_ERR}, {"verbose", YZ_E_INVAL, YZ_LOG_ERR},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    yz_log_level l = YZ_LOG_ERR;
    assert_int_equal(yz_log_level_parse(cases[i].name, &l), cases[i].rc);
    if (cases[i].rc == 0)
      assert_int_equal(l, cases[i].level);
  }
  /* names round-trip */
  for (int lv = YZ_LOG_ERR; lv <= YZ_LOG_DEBUG; lv++) {
    yz_log_level back;
    assert_int_equal(
        yz_log_level_parse(yz_log_level_name((yz_log_level)lv), &back), 0);
    assert_int_equal(back, lv);
  }
  yz_log_level l;
  assert_int_equal(yz_log_level_parse(NULL, &l), YZ_E_INVAL);
}

/* Text a peer controls cannot forge lines: control characters become '?',
 * and a long line is cut, not overflowed. */
static void test_sanitise(void **state) {
  (void)state;
  yz_log(YZ_LOG_ERR, "peer said %s", "a\nb\x1b[31mc");
  assert_string_equal(last, "peer said a?b?[31mc");
  char big[4000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  yz_log(YZ_LOG_ERR, "%s", big);
  assert_int_equal(strlen(last), 1023);
}

static void test_ratelimit(void **state) {
  (void)state;
  yz_log_ratelimit rl = YZ_LOG_RATELIMIT_INIT(3, 1000);
  int shown = 0;
  for (int i = 0; i < 10; i++)
    shown += yz_log_rl(&rl, 5000, YZ_LOG_WARN, "refused %d", i);
  assert_int_equal(shown, 3);
  assert_int_equal(lines, 3);
  /* the next window reports what was dropped */
  assert_true(yz_log_rl(&rl, 6000, YZ_LOG_WARN, "refused again"));
  assert_string_equal(last, "refused again (7 similar lines suppressed)");
  /* a line below the level costs nothing and counts nothing */
  assert_false(yz_log_rl(&rl, 6000, YZ_LOG_DEBUG, "quiet"));
  assert_int_equal(rl.suppressed, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_levels, setup),
      cmocka_unit_test_setup(test_parse, setup),
      cmocka_unit_test_setup(test_sanitise, setup),
      cmocka_unit_test_setup(test_ratelimit, setup),
  };
  return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
