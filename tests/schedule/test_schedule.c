/*  test_schedule.c: the global arrival sequence and its segments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/schedule.h"

static schedule_spec_t flat(arrival_kind_t kind, double rate, double seconds, uint64_t seed)
{
    schedule_spec_t spec = {.arrival = kind,
                            .gamma_shape = 1.0,
                            .start_rate_per_s = rate,
                            .end_rate_per_s = rate,
                            .duration_ns = (int64_t)(seconds * 1e9),
                            .seed = seed};
    return spec;
}

/* Offsets of the whole sequence; returns the count (at most cap). */
static size_t draw_all(const schedule_spec_t *spec, int64_t *offsets, size_t cap)
{
    schedule_t *s = schedule_new(spec);
    uint64_t index;
    int64_t offset;
    size_t n = 0;
    while (n < cap && schedule_next(s, &index, &offset)) {
        CHECK_INT_EQ(index, n);
        offsets[n++] = offset;
    }
    schedule_destroy(&s);
    return n;
}

/* Coefficient of variation of the gaps between consecutive offsets. */
static double gaps_cv(const int64_t *offsets, size_t n)
{
    double sum = 0, sum2 = 0;
    for (size_t i = 1; i < n; i++) {
        double g = (double)(offsets[i] - offsets[i - 1]);
        sum += g;
        sum2 += g * g;
    }
    double m = sum / (double)(n - 1);
    double var = sum2 / (double)(n - 1) - m * m;
    return sqrt(var) / m;
}

static void test_complementary_segments_partition_indices_exactly(void)
{
    const double cuts[] = {0.0, 0.1, 0.3333333333333333, 0.5, 0.77, 0.9999, 1.0};
    const int segments = (int)(sizeof cuts / sizeof cuts[0]) - 1;
    for (uint64_t i = 0; i < 200000; i++) {
        int owners = 0;
        for (int s = 0; s < segments; s++)
            owners += schedule_segment_contains(cuts[s], cuts[s + 1], i);
        CHECK_MSG(owners == 1, "index %llu has %d owners", (unsigned long long)i, owners);
        if (owners != 1)
            return;
    }
    /* Degenerate segments own nothing; the whole interval owns everything. */
    CHECK(!schedule_segment_contains(0.5, 0.5, 7));
    CHECK(schedule_segment_contains(0.0, 1.0, 12345));
}

/* Empty segments hold nothing, at either end of the unit interval too: a worker with no
   share is given [1, 1) or [x, x), and must fire no index (nor overflow computing it). */
static void test_empty_segments_hold_no_index(void)
{
    const double empty[][2] = {{0, 0}, {1, 1}, {0.5, 0.5}, {0.7, 0.3}};
    for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++) {
        for (uint64_t i = 0; i < 10000; i++)
            CHECK(!schedule_segment_contains(empty[k][0], empty[k][1], i));
    }
    for (uint64_t i = 0; i < 10000; i++)
        CHECK(schedule_segment_contains(0, 1, i)); /* the whole interval holds every index */
}

static void test_segment_share_stays_within_log_n_of_its_length(void)
{
    const double segs[][2] = {{0.0, 0.5}, {0.1, 0.35}, {0.77, 1.0}, {0.0, 0.01}, {0.3, 0.9}};
    for (size_t s = 0; s < sizeof segs / sizeof segs[0]; s++) {
        double from = segs[s][0], to = segs[s][1];
        int64_t count = 0;
        double worst = 0;
        for (uint64_t n = 1; n <= 100000; n++) {
            count += schedule_segment_contains(from, to, n - 1);
            double dev = fabs((double)count - (to - from) * (double)n);
            double bound = 3.0 + 2.0 * log((double)n);
            if (dev / bound > worst)
                worst = dev / bound;
        }
        CHECK_MSG(worst <= 1.0, "segment [%g,%g): deviation %.2f x the O(log n) bound", from, to,
                  worst);
    }
}

static void test_neighbouring_arrivals_go_to_different_segments(void)
{
    /* With four equal segments, no segment gets two consecutive indices often. */
    int same = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        for (int s = 0; s < 4; s++) {
            double from = s / 4.0, to = (s + 1) / 4.0;
            if (schedule_segment_contains(from, to, i) &&
                schedule_segment_contains(from, to, i + 1))
                same++;
        }
    }
    CHECK_MSG(same == 0, "%d consecutive pairs in one quarter segment", same);
}

static void test_integer_split_sums_to_n_over_a_partition(void)
{
    const double cuts[] = {0.0, 0.13, 0.29, 0.5, 0.61, 0.87, 1.0};
    for (int64_t n = 0; n < 500; n++) {
        int64_t sum = 0;
        for (int s = 0; s < 6; s++) {
            CHECK(schedule_segment_first(n, cuts[s]) == sum);
            sum += schedule_segment_share(n, cuts[s], cuts[s + 1]);
        }
        CHECK_INT_EQ(sum, n);
    }
}

static void test_same_spec_gives_same_sequence_and_seed_changes_it(void)
{
    enum { N = 5000 };
    static int64_t a[N], b[N], c[N];
    schedule_spec_t spec = flat(ARRIVAL_POISSON, 100, 1000, 42);
    size_t na = draw_all(&spec, a, N), nb = draw_all(&spec, b, N);
    CHECK_INT_EQ(na, N);
    CHECK_INT_EQ(nb, N);
    CHECK(memcmp(a, b, sizeof a) == 0);
    spec.seed = 43;
    draw_all(&spec, c, N);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

static void test_constant_gaps_are_even(void)
{
    enum { N = 2000 };
    static int64_t t[N];
    schedule_spec_t spec = flat(ARRIVAL_CONSTANT, 300, 5, 1);
    size_t n = draw_all(&spec, t, N);
    CHECK_INT_EQ(n, 1500); /* exactly rate * duration */
    CHECK_INT_EQ(t[0], 0);
    for (size_t i = 1; i < n; i++) {
        int64_t gap = t[i] - t[i - 1];
        CHECK_MSG(llabs(gap - 3333333) <= 1, "gap %zu is %lld ns", i, (long long)gap);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_poisson_gaps_are_exponential(void)
{
    enum { N = 20000 };
    static int64_t t[N];
    static double gaps[N];
    const double rate = 250;
    schedule_spec_t spec = flat(ARRIVAL_POISSON, rate, 1000, 7);
    size_t n = draw_all(&spec, t, N);
    REQUIRE(n == N);
    double cv = gaps_cv(t, n);
    CHECK_MSG(fabs(cv - 1.0) < 0.04, "Poisson gap CV %.3f, expected 1", cv);

    /* Kolmogorov-Smirnov against Exp(rate): D must stay under the 1% critical value. */
    size_t m = n - 1;
    for (size_t i = 0; i < m; i++)
        gaps[i] = (double)(t[i + 1] - t[i]) / 1e9;
    qsort(gaps, m, sizeof gaps[0], cmp_double);
    double d = 0;
    for (size_t i = 0; i < m; i++) {
        double cdf = 1.0 - exp(-rate * gaps[i]);
        double lo = fabs(cdf - (double)i / (double)m), hi = fabs((double)(i + 1) / (double)m - cdf);
        d = fmax(d, fmax(lo, hi));
    }
    double critical = 1.63 / sqrt((double)m);
    CHECK_MSG(d < critical, "KS D = %.4f >= %.4f", d, critical);

    /* Dispersion of counts in 1 s windows: variance / mean ~ 1 for Poisson. */
    int64_t windows = t[n - 1] / 1000000000LL;
    double sum = 0, sum2 = 0;
    size_t k = 0;
    for (int64_t w = 0; w < windows; w++) {
        double c = 0;
        while (k < n && t[k] < (w + 1) * 1000000000LL) {
            c++;
            k++;
        }
        sum += c;
        sum2 += c * c;
    }
    double mean = sum / (double)windows, var = sum2 / (double)windows - mean * mean;
    CHECK_MSG(fabs(var / mean - 1.0) < 0.35, "index of dispersion %.3f", var / mean);
}

static void test_gamma_shape_below_one_is_burstier_than_poisson(void)
{
    enum { N = 20000 };
    static int64_t t[N];
    schedule_spec_t spec = flat(ARRIVAL_GAMMA, 100, 1000, 9);
    spec.gamma_shape = 0.25;
    size_t n = draw_all(&spec, t, N);
    REQUIRE(n == N);
    double cv = gaps_cv(t, n);
    /* gamma(k, 1/k) has CV 1/sqrt(k) = 2 */
    CHECK_MSG(cv > 1.8 && cv < 2.2, "gamma(0.25) CV %.3f, expected 2", cv);
    /* The mean rate is still the requested one. */
    double achieved = (double)(n - 1) / ((double)(t[n - 1] - t[0]) / 1e9);
    CHECK_MSG(fabs(achieved - 100) < 5, "gamma mean rate %.1f", achieved);

    spec.gamma_shape = 4;
    n = draw_all(&spec, t, N);
    cv = gaps_cv(t, n);
    CHECK_MSG(cv > 0.45 && cv < 0.55, "gamma(4) CV %.3f, expected 0.5", cv);
}

static void test_ramp_arrival_counts_match_integral_of_rate(void)
{
    enum { N = 4000 };
    static int64_t t[N];
    schedule_spec_t spec = flat(ARRIVAL_CONSTANT, 10, 10, 3);
    spec.end_rate_per_s = 110; /* integral = 600 */
    CHECK(fabs(schedule_expected_count(&spec) - 600) < 1e-9);
    size_t n = draw_all(&spec, t, N);
    CHECK_INT_EQ(n, 600);
    /* In each 1 s window [w, w+1) the count is the integral of the rate there, +-1. */
    size_t k = 0;
    for (int w = 0; w < 10; w++) {
        int c = 0;
        while (k < n && t[k] < (w + 1) * 1000000000LL) {
            c++;
            k++;
        }
        double expected = 10.0 + 10.0 * w + 5.0; /* r(t) = 10 + 10 t */
        CHECK_MSG(fabs(c - expected) <= 1.0, "window %d: %d arrivals, expected %.0f", w, c,
                  expected);
    }
    /* A Poisson ramp follows the same integral on average. */
    spec.arrival = ARRIVAL_POISSON;
    spec.start_rate_per_s = 100;
    spec.end_rate_per_s = 300;
    spec.duration_ns = 10 * 1000000000LL; /* expected 2000 */
    n = draw_all(&spec, t, N);
    CHECK_MSG(fabs((double)n - 2000) < 4 * sqrt(2000.0), "Poisson ramp count %zu", n);
    size_t first_half = 0;
    while (first_half < n && t[first_half] < 5 * 1000000000LL)
        first_half++;
    /* integral over [0,5) = 5*100 + 10*25/2... r(t) = 100 + 20 t: 500 + 250 = 750 */
    CHECK_MSG(fabs((double)first_half - 750) < 4 * sqrt(750.0), "first half %zu", first_half);
}

static void test_no_arrival_at_or_after_duration(void)
{
    enum { N = 1000 };
    static int64_t t[N];
    schedule_spec_t spec = flat(ARRIVAL_POISSON, 50, 2, 11);
    size_t n = draw_all(&spec, t, N);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
        CHECK(t[i] >= 0 && t[i] < spec.duration_ns);
    spec.start_rate_per_s = spec.end_rate_per_s = 0;
    CHECK_INT_EQ(draw_all(&spec, t, N), 0);
}

static void test_arrival_names_round_trip(void)
{
    for (int k = 0; k < 3; k++)
        CHECK_INT_EQ(arrival_kind_parse(arrival_kind_name((arrival_kind_t)k)), k);
    CHECK_INT_EQ(arrival_kind_parse("bursty"), -1);
}

CHECK_MAIN(test_complementary_segments_partition_indices_exactly, test_empty_segments_hold_no_index,
           test_segment_share_stays_within_log_n_of_its_length,
           test_neighbouring_arrivals_go_to_different_segments,
           test_integer_split_sums_to_n_over_a_partition,
           test_same_spec_gives_same_sequence_and_seed_changes_it, test_constant_gaps_are_even,
           test_poisson_gaps_are_exponential, test_gamma_shape_below_one_is_burstier_than_poisson,
           test_ramp_arrival_counts_match_integral_of_rate, test_no_arrival_at_or_after_duration,
           test_arrival_names_round_trip)
