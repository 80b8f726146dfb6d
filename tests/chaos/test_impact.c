/*  test_impact.c: the impact table's definitions (plan/impact.h) on synthetic
    intervals, where the right answer is known by construction. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "plan/impact.h"

#define N 40

/* 1 s intervals, 10 requests each, no errors, TTFT P50 100 ms. */
static void steady(impact_interval_t *iv)
{
    for (int i = 0; i < N; i++)
        iv[i] = (impact_interval_t){i, i + 1, 10, 0, 100};
}

static void analyze(const impact_interval_t *iv, double start, double end, impact_t *r)
{
    impact_config_t c;
    impact_config_defaults(&c);
    impact_analyze(iv, N, start, end, 0, &c, r);
}

static void test_errors_during_a_fault_are_detected_and_recovery_follows_its_end(void)
{
    impact_interval_t iv[N];
    steady(iv);
    for (int i = 10; i < 15; i++) /* the fault: [10, 15), half the requests fail */
        iv[i].errors = 5;
    impact_t r;
    analyze(iv, 10, 15, &r);
    CHECK_INT_EQ(r.baseline_count, 5);
    CHECK(fabs(r.detection_s - 1.0) < 1e-9); /* interval [10, 11) shows it when it closes */
    CHECK(fabs(r.error_rate - 0.5) < 1e-9);
    CHECK(fabs(r.throughput_change_pct + 50) < 1e-9); /* successful requests halved */
    CHECK(fabs(r.ttft_change_pct) < 1e-9);
    CHECK(fabs(r.recovery_s - 0.0) < 1e-9); /* [15, 18) are clean */
}

static void test_latency_alone_is_detected(void)
{
    impact_interval_t iv[N];
    steady(iv);
    iv[12].ttft_p50_ms = iv[13].ttft_p50_ms = 400; /* shows from [12, 13) on */
    impact_t r;
    analyze(iv, 10.5, 14, &r);
    CHECK(fabs(r.detection_s - 2.5) < 1e-9); /* end of [12, 13) - 10.5 */
    CHECK(r.ttft_change_pct > 50);
    CHECK(fabs(r.error_rate) < 1e-9);
}

static void test_a_tolerated_wobble_is_not_detected(void)
{
    impact_interval_t iv[N];
    steady(iv);
    iv[11].ttft_p50_ms = 140; /* +40% < +50% tolerance */
    iv[12].errors = 0.1;      /* 1% < 2 points */
    impact_t r;
    analyze(iv, 10, 15, &r);
    CHECK(isnan(r.detection_s));
    CHECK(fabs(r.recovery_s) < 1e-9);
}

static void test_recovery_waits_for_k_clean_intervals(void)
{
    impact_interval_t iv[N];
    steady(iv);
    for (int i = 10; i < 15; i++)
        iv[i].errors = 10;
    iv[15].errors = iv[16].errors = 10; /* still failing after the end */
    iv[18].errors = 10;                 /* one clean interval [17, 18) is not enough */
    impact_t r;
    analyze(iv, 10, 15, &r);
    CHECK(fabs(r.recovery_s - 4.0) < 1e-9); /* [19, 22) is the first clean run of 3 */
}

static void test_never_recovering_is_null(void)
{
    impact_interval_t iv[N];
    steady(iv);
    for (int i = 10; i < N; i++)
        iv[i].errors = 10;
    impact_t r;
    analyze(iv, 10, 15, &r);
    CHECK(isfinite(r.detection_s));
    CHECK(isnan(r.recovery_s));
}

static void test_a_stall_that_answers_nothing_is_detected_by_throughput(void)
{
    impact_interval_t iv[N];
    steady(iv);
    for (int i = 10; i < 13; i++) {
        iv[i].requests = 0;
        iv[i].ttft_p50_ms = NAN;
    }
    impact_t r;
    analyze(iv, 10, 13, &r);
    CHECK(fabs(r.detection_s - 1.0) < 1e-9);
    CHECK(fabs(r.throughput_change_pct + 100) < 1e-9);
    CHECK(isnan(r.ttft_change_pct));
}

static void test_baseline_stops_at_the_previous_fault(void)
{
    impact_interval_t iv[N];
    steady(iv);
    for (int i = 5; i < 8; i++)
        iv[i].errors = 10; /* an earlier fault [5, 8) */
    impact_config_t c;
    impact_config_defaults(&c);
    impact_t r;
    impact_analyze(iv, N, 10, 12, 8, &c, &r);
    CHECK_INT_EQ(r.baseline_count, 2); /* [8, 10) only */
    CHECK(fabs(r.baseline_error_rate) < 1e-9);
}

static void test_no_baseline_gives_no_figures(void)
{
    impact_interval_t iv[N];
    steady(iv);
    impact_t r;
    analyze(iv, 0, 3, &r);
    CHECK_INT_EQ(r.baseline_count, 0);
    CHECK(isnan(r.detection_s) && isnan(r.recovery_s) && isnan(r.throughput_change_pct));
}

CHECK_MAIN(test_errors_during_a_fault_are_detected_and_recovery_follows_its_end,
           test_latency_alone_is_detected, test_a_tolerated_wobble_is_not_detected,
           test_recovery_waits_for_k_clean_intervals, test_never_recovering_is_null,
           test_a_stall_that_answers_nothing_is_detected_by_throughput,
           test_baseline_stops_at_the_previous_fault, test_no_baseline_gives_no_figures)
