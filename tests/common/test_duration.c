/*  test_duration.c: common/duration.h, the one duration grammar of plan files and flags:
    a number with its unit, compound parts from larger to smaller, nothing else. */
#include <stdint.h>

#include "check.h"
#include "common/duration.h"

static int64_t ms_of(const char *text)
{
    int64_t ms = -12345;
    return duration_parse_ms(text, &ms) == 0 ? ms : -1;
}

static void test_each_unit_reads_as_its_milliseconds(void)
{
    CHECK_INT_EQ(ms_of("500ms"), 500);
    CHECK_INT_EQ(ms_of("90s"), 90000);
    CHECK_INT_EQ(ms_of("30m"), 1800000);
    CHECK_INT_EQ(ms_of("30min"), 1800000);
    CHECK_INT_EQ(ms_of("1h"), 3600000);
    CHECK_INT_EQ(ms_of("0s"), 0);
}

static void test_fractions_round_to_the_nearest_millisecond(void)
{
    CHECK_INT_EQ(ms_of("2.5s"), 2500);
    CHECK_INT_EQ(ms_of(".5s"), 500);
    CHECK_INT_EQ(ms_of("0.0004s"), 0);
    CHECK_INT_EQ(ms_of("0.0006s"), 1);
}

static void test_compound_durations_add_from_larger_to_smaller_units(void)
{
    CHECK_INT_EQ(ms_of("1h30m"), 5400000);
    CHECK_INT_EQ(ms_of("1m30s"), 90000);
    CHECK_INT_EQ(ms_of("1h1m1s1ms"), 3661001);
    CHECK_INT_EQ(ms_of("30m1h"), -1);
    CHECK_INT_EQ(ms_of("1s1s"), -1);
    CHECK_INT_EQ(ms_of("1m1min"), -1);
}

static void test_a_bare_number_is_refused_because_the_unit_is_the_point(void)
{
    CHECK_INT_EQ(ms_of("90"), -1);
    CHECK_INT_EQ(ms_of("5"), -1);
    CHECK_INT_EQ(ms_of("1h30"), -1);
}

static void test_signs_spaces_and_unknown_units_are_refused(void)
{
    const char *bad[] = {"-5s", "+5s", "5 s", " 5s", "5s ", "",     "5sec", "5S",
                         "s",   "ms",  "5d",  "5us", "inf", "nans", "5ss",  "1h-30m"};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++)
        CHECK_MSG(ms_of(bad[i]) == -1, "'%s' accepted", bad[i]);
    CHECK_INT_EQ(ms_of(NULL), -1);
}

static void test_a_refused_text_leaves_the_output_untouched(void)
{
    int64_t ms = 42;
    CHECK(duration_parse_ms("90", &ms) != 0);
    CHECK_INT_EQ(ms, 42);
}

static void test_durations_above_the_cap_are_refused(void)
{
    CHECK_INT_EQ(ms_of("277777h"), 277777LL * 3600000);
    CHECK_INT_EQ(ms_of("277778h"), -1);
    CHECK_INT_EQ(ms_of("1e300h"), -1);
}

CHECK_MAIN(test_each_unit_reads_as_its_milliseconds,
           test_fractions_round_to_the_nearest_millisecond,
           test_compound_durations_add_from_larger_to_smaller_units,
           test_a_bare_number_is_refused_because_the_unit_is_the_point,
           test_signs_spaces_and_unknown_units_are_refused,
           test_a_refused_text_leaves_the_output_untouched,
           test_durations_above_the_cap_are_refused)
