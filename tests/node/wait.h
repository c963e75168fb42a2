/*
 * tests/node/wait.h: run the test's uv loop until a condition holds, and
 * fail (never hang) if a guard timer fires first. Included once by each
 * node test program, which defines `static uv_loop_t loop;` and inits
 * the guard with uv_timer_init(&loop, &guard) (and closes it at the end).
 * No sleeps: the loop runs until the condition, the guard only ends a
 * test that would otherwise hang.
 */
#ifndef YZ_TESTS_NODE_WAIT_H
#define YZ_TESTS_NODE_WAIT_H

#include <stdbool.h>

#include <uv.h>

#ifndef WAIT_GUARD_MS
#define WAIT_GUARD_MS 20000
#endif

static uv_timer_t guard;
static bool guard_fired;

static void guard_cb(uv_timer_t *t)
{
  (void)t;
  guard_fired = true;
}

#define WAIT_FOR(cond)                                                        \
  do {                                                                        \
    guard_fired = false;                                                      \
    uv_timer_start(&guard, guard_cb, WAIT_GUARD_MS, 0);                       \
    while (!(cond) && !guard_fired)                                           \
      uv_run(&loop, UV_RUN_ONCE);                                             \
    uv_timer_stop(&guard);                                                    \
    if (guard_fired)                                                          \
      fail_msg("timed out waiting for: %s", #cond);                           \
  } while (0)

#endif
