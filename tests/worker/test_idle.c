/*  test_idle.c: when an engine thread polls instead of sleeping (worker/idle.h). The
    policy is pure: these tests feed it work and times. Whether polling pays is measured,
    not asserted: docs/performance.md, "Polling when busy". */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "worker/idle.h"

#define MS 1000000LL

/* One 10 ms window in which the thread worked `busy` of the time; returns the policy's
   answer for a wait with an answer in flight at the window's end. */
static bool window(idle_t *idle, int64_t *now, double busy)
{
    idle_add_work(idle, (int64_t)(busy * (double)IDLE_WINDOW_NS));
    *now += IDLE_WINDOW_NS;
    return idle_should_poll(idle, *now, INT64_MAX, true);
}

static void test_auto_sleeps_when_idle_and_polls_when_busy_with_hysteresis(void)
{
    idle_t idle;
    int64_t now = 1000 * MS;
    idle_init(&idle, ENGINE_IDLE_AUTO, now);
    CHECK(!idle_should_poll(&idle, now, INT64_MAX, true)); /* no window measured yet */
    CHECK(!window(&idle, &now, 0.10));
    CHECK(!window(&idle, &now, 0.29)); /* below the entry threshold */
    CHECK(window(&idle, &now, 0.31));  /* busy: polls */
    CHECK(window(&idle, &now, 0.20));  /* still above the exit threshold: keeps polling */
    CHECK(window(&idle, &now, 0.16));
    CHECK(!window(&idle, &now, 0.14)); /* below it: sleeps again */
    CHECK(!window(&idle, &now, 0.20)); /* and needs the entry threshold to poll again */
    CHECK_INT_EQ(idle.windows, 7);
    CHECK_INT_EQ(idle.busy_windows, 3);
}

static void test_a_busy_thread_polls_only_for_something_expected_soon(void)
{
    idle_t idle;
    int64_t now = 0;
    idle_init(&idle, ENGINE_IDLE_AUTO, now);
    CHECK(window(&idle, &now, 0.9));
    /* nothing in flight: polls for an arrival due within the horizon, sleeps otherwise */
    CHECK(idle_should_poll(&idle, now, now + IDLE_HORIZON_NS - 1, false));
    CHECK(!idle_should_poll(&idle, now, now + IDLE_HORIZON_NS + 1, false));
    CHECK(!idle_should_poll(&idle, now, INT64_MAX, false));
    /* an answer in flight: polls whatever the next arrival */
    CHECK(idle_should_poll(&idle, now, INT64_MAX, true));
}

static void test_sleep_never_polls_and_poll_always_does(void)
{
    idle_t sleep, poll;
    int64_t a = 0, b = 0;
    idle_init(&sleep, ENGINE_IDLE_SLEEP, a);
    idle_init(&poll, ENGINE_IDLE_POLL, b);
    CHECK(!window(&sleep, &a, 1.0));
    CHECK(window(&poll, &b, 0.0));
    CHECK(!idle_should_poll(&poll, b, INT64_MAX, false)); /* but not for nothing */
}

static void test_mode_names_round_trip(void)
{
    engine_idle_t mode;
    const char *names[] = {"auto", "sleep", "poll"};
    for (int i = 0; i < 3; i++) {
        CHECK(idle_mode_parse(names[i], &mode));
        CHECK_STR_EQ(idle_mode_name(mode), names[i]);
    }
    CHECK(!idle_mode_parse("spin", &mode));
    CHECK(!idle_mode_parse(NULL, &mode));
}

CHECK_MAIN(test_auto_sleeps_when_idle_and_polls_when_busy_with_hysteresis,
           test_a_busy_thread_polls_only_for_something_expected_soon,
           test_sleep_never_polls_and_poll_always_does, test_mode_names_round_trip)
