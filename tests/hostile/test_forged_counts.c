/*  test_forged_counts.c: forged counts cannot wrap the merged totals.

    A peer can send counters up to the decoder's cap (INT64_MAX / 4) in every snapshot;
    the coordinator refuses such snapshots (reject.c), and below that, merging saturates
    instead of overflowing (signed overflow is undefined, and a wrapped total would turn
    negative). Both histograms and counters.
*/
#include <stdint.h>

#include "check.h"
#include "common/histogram.h"
#include "common/metrics.h"

static void test_counters_saturate_instead_of_wrapping(void)
{
    metrics_t *sum = metrics_new(HIST_DEFAULT_DIGITS);
    metrics_t *forged = metrics_new(HIST_DEFAULT_DIGITS);
    REQUIRE(sum && forged);
    forged->c.ok = INT64_MAX / 4;
    forged->c.bytes_in = INT64_MAX / 4;
    for (int i = 0; i < 9; i++)
        metrics_add(sum, forged);
    CHECK(sum->c.ok == INT64_MAX);
    CHECK(sum->c.bytes_in == INT64_MAX);
    CHECK(sum->c.sent == 0);
    metrics_destroy(&forged);
    metrics_destroy(&sum);
}

static void test_honest_counts_add_exactly(void)
{
    metrics_t *sum = metrics_new(HIST_DEFAULT_DIGITS);
    metrics_t *one = metrics_new(HIST_DEFAULT_DIGITS);
    REQUIRE(sum && one);
    one->c.ok = 3;
    one->c.failed = 1;
    metrics_record_us(one, METRIC_E2E, 1500);
    for (int i = 0; i < 1000; i++)
        metrics_add(sum, one);
    CHECK_INT_EQ(sum->c.ok, 3000);
    CHECK_INT_EQ(sum->c.failed, 1000);
    CHECK_INT_EQ(hist_total_count(sum->hist[METRIC_E2E]), 1000);
    metrics_destroy(&one);
    metrics_destroy(&sum);
}

static void test_forged_histogram_counts_never_wrap(void)
{
    metrics_t *sum = metrics_new(HIST_DEFAULT_DIGITS);
    metrics_t *forged = metrics_new(HIST_DEFAULT_DIGITS);
    REQUIRE(sum && forged);
    hist_record_n(forged->hist[METRIC_E2E], 5000, INT64_MAX / 4);
    for (int i = 0; i < 9; i++)
        metrics_add(sum, forged);
    CHECK(hist_total_count(sum->hist[METRIC_E2E]) > 0);
    CHECK(hist_total_count(sum->hist[METRIC_E2E]) <= INT64_MAX);
    metrics_destroy(&forged);
    metrics_destroy(&sum);
}

CHECK_MAIN(test_counters_saturate_instead_of_wrapping, test_honest_counts_add_exactly,
           test_forged_histogram_counts_never_wrap)
