/*  Proves the histogram's contract: HdrHistogram's layout, percentiles within the
    stated relative precision of the exact sorted-sample answer for digits 1..5 and
    several distributions, exact merges, out-of-range values counted, and the summary
    statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/histogram.h"
#include "common/rng.h"

/* ---- Helpers -------------------------------------------------------------------- */

static uint64_t rng_state = 1;

static double rng_normal(void)
{
    return sqrt(-2.0 * log(1.0 - rng_unit(&rng_state))) * cos(2.0 * M_PI * rng_unit(&rng_state));
}

enum { DIST_UNIFORM, DIST_LOGNORMAL, DIST_BIMODAL, DIST_HEAVY_TAIL, DIST_TINY, DIST_COUNT };
static const char *const dist_names[DIST_COUNT] = {"uniform", "lognormal", "bimodal", "heavy-tail",
                                                   "tiny"};

static int64_t sample(int dist, int64_t highest)
{
    double v;
    switch (dist) {
    case DIST_UNIFORM:
        v = rng_unit(&rng_state) * 10e6; /* 0 .. 10 s */
        break;
    case DIST_LOGNORMAL:
        v = 450000.0 * exp(0.8 * rng_normal());
        break;
    case DIST_BIMODAL:
        v = rng_unit(&rng_state) < 0.7 ? 20000.0 * exp(0.2 * rng_normal())
                                       : 2e6 * exp(0.1 * rng_normal());
        break;
    case DIST_HEAVY_TAIL: /* Pareto alpha 1.1 from 100 us: values up to the hour */
        v = 100.0 / pow(1.0 - rng_unit(&rng_state), 1.0 / 1.1);
        break;
    default: /* tiny values, where a bucket is one unit wide */
        v = (double)(rng_next(&rng_state) % 3000);
        break;
    }
    if (v > (double)highest)
        v = (double)highest;
    return (int64_t)v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every non-empty bucket of a and b is the same (value and count). */
static bool same_buckets(const hist_t *a, const hist_t *b)
{
    size_t ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    for (;;) {
        bool more_a = hist_next_bucket(a, &ca, &va, &na);
        bool more_b = hist_next_bucket(b, &cb, &vb, &nb);
        if (more_a != more_b)
            return false;
        if (!more_a)
            return true;
        if (va != vb || na != nb)
            return false;
    }
}

/* ---- Layout ----------------------------------------------------------------------- */

static void test_layout_sizes_match_hdrhistogram(void)
{
    /* Counter counts HdrHistogram allocates for these (lowest, highest, digits). */
    struct {
        int64_t lowest, highest;
        int digits;
        size_t counts;
    } cases[] = {
        {1, 60000000LL, 3, 17408},     {1, 3600000000LL, 3, 23552},    {1, 86400000000LL, 3, 28672},
        {1, 3600000000LL, 2, 3328},    {1, 3600000000LL, 4, 311296},   {1, 3600000000LL, 1, 464},
        {1, 3600000000LL, 5, 2097152}, {1000, 10000000000LL, 2, 2432}, {1, 2, 3, 2048},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[128];
        hist_t *h = hist_new(cases[i].lowest, cases[i].highest, cases[i].digits, err, sizeof err);
        REQUIRE(h);
        CHECK_MSG(hist_counts_len(h) == cases[i].counts, "%lld..%lld@%d: %zu counters, want %zu",
                  (long long)cases[i].lowest, (long long)cases[i].highest, cases[i].digits,
                  hist_counts_len(h), cases[i].counts);
        hist_destroy(&h);
        CHECK(h == NULL);
    }
    hist_t *d = hist_new_default();
    REQUIRE(d);
    CHECK_INT_EQ(hist_lowest(d), 1);
    CHECK_INT_EQ(hist_highest(d), 3600000000LL);
    CHECK_INT_EQ(hist_digits(d), 3);
    CHECK(hist_memory_bytes(d) >= 23552 * 8);
    hist_destroy(&d);
}

static void test_bad_layouts_are_refused_with_a_reason(void)
{
    struct {
        int64_t lowest, highest;
        int digits;
    } bad[] = {
        {0, 1000, 3},
        {-5, 1000, 3},
        {1, 1000, 0},
        {1, 1000, 6},
        {1, 1000, -1},
        {10, 19, 3},
        {1, 1, 3},
        {1, -1, 3},
        {1, HIST_MAX_HIGHEST + 1, 3},
        {INT64_MAX / 2, INT64_MAX, 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        hist_t *h = hist_new(bad[i].lowest, bad[i].highest, bad[i].digits, err, sizeof err);
        CHECK_MSG(h == NULL, "case %zu accepted", i);
        CHECK_MSG(err[0] != '\0', "case %zu refused without a reason", i);
        hist_destroy(&h);
    }
    hist_t *edge = hist_new(1, HIST_MAX_HIGHEST, 3, NULL, 0);
    CHECK(edge != NULL);
    if (edge) {
        CHECK(hist_record(edge, HIST_MAX_HIGHEST));
        CHECK(hist_max(edge) >= HIST_MAX_HIGHEST);
        CHECK_INT_EQ(hist_value_at_percentile(edge, 100), hist_max(edge));
    }
    hist_destroy(&edge);
}

static void test_equivalent_values_bracket_the_value_within_precision(void)
{
    for (int digits = 1; digits <= 5; digits++) {
        hist_t *h = hist_new(1, 3600000000LL, digits, NULL, 0);
        REQUIRE(h);
        double precision = pow(10.0, -digits);
        for (int i = 0; i < 20000; i++) {
            int64_t v =
                (int64_t)((rng_next(&rng_state) >> (rng_next(&rng_state) % 64)) % 3600000001ULL);
            int64_t lo = hist_lowest_equivalent(h, v), hi = hist_highest_equivalent(h, v);
            int64_t mid = hist_median_equivalent(h, v);
            CHECK_MSG(lo <= v && v <= hi && lo <= mid && mid <= hi, "v=%lld [%lld %lld]",
                      (long long)v, (long long)lo, (long long)hi);
            CHECK_MSG((double)(hi - lo) <= (double)v * precision || hi == lo,
                      "digits %d v=%lld bucket [%lld, %lld] wider than 10^-%d", digits,
                      (long long)v, (long long)lo, (long long)hi, digits);
            CHECK(hist_lowest_equivalent(h, hi) == lo);
            if (i % 97 == 0 && hi < 3600000000LL)
                CHECK(hist_lowest_equivalent(h, hi + 1) == hi + 1);
        }
        hist_destroy(&h);
    }
}

/* ---- Percentiles -------------------------------------------------------------------- */

static void check_percentiles(const hist_t *h, const int64_t *sorted, size_t n, int digits,
                              const char *what)
{
    /* Below 2 * 10^digits units a bucket is one unit (2^floor(log2(lowest))) wide. */
    double unit = (double)(hist_highest_equivalent(h, 0) + 1);
    static const double fixed[] = {0, 0.001, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
    double precision = pow(10.0, -digits);
    for (int k = 0; k < 13 + 20; k++) {
        double p = k < 13 ? fixed[k] : rng_unit(&rng_state) * 100.0;
        /* The exact answer: the ceil(p/100 * n)-th smallest sample (at least the first). */
        long double want_rank = ceill((long double)p * (long double)n / 100.0L - 1e-9L);
        size_t rank = want_rank < 1 ? 1 : (size_t)want_rank;
        int64_t exact = sorted[rank - 1];
        int64_t got = hist_value_at_percentile(h, p);
        /* p = 0 reports the bucket's lowest value, any other p its highest. */
        int64_t error = p == 0 ? exact - got : got - exact;
        CHECK_MSG(error >= 0 && (double)error <= (double)exact * precision + unit,
                  "%s digits %d: p%.4f = %lld, exact %lld (n=%zu)", what, digits, p, (long long)got,
                  (long long)exact, n);
    }
}

static void test_every_percentile_within_relative_precision_of_sorted_samples(void)
{
    const size_t sizes[] = {1, 2, 7, 1000, 20001};
    int64_t *samples = malloc(sizeof(int64_t) * 20001);
    REQUIRE(samples);
    for (int digits = 1; digits <= 5; digits++) {
        hist_t *h = hist_new(1, 3600000000LL, digits, NULL, 0);
        REQUIRE(h);
        for (int dist = 0; dist < DIST_COUNT; dist++) {
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t n = sizes[s];
                hist_reset(h);
                for (size_t i = 0; i < n; i++) {
                    samples[i] = sample(dist, hist_highest(h));
                    CHECK(hist_record(h, samples[i]));
                }
                qsort(samples, n, sizeof samples[0], cmp_i64);
                CHECK_INT_EQ(hist_total_count(h), n);
                check_percentiles(h, samples, n, digits, dist_names[dist]);
            }
        }
        hist_destroy(&h);
    }
    /* A coarse unit (lowest 1000): the error bound still holds above the unit. */
    hist_t *coarse = hist_new(1000, 10000000000LL, 2, NULL, 0);
    REQUIRE(coarse);
    for (size_t i = 0; i < 5000; i++) {
        samples[i] = 1000 + sample(DIST_LOGNORMAL, 9000000000LL);
        hist_record(coarse, samples[i]);
    }
    qsort(samples, 5000, sizeof samples[0], cmp_i64);
    check_percentiles(coarse, samples, 5000, 2, "lowest=1000");
    hist_destroy(&coarse);
    free(samples);
}

static void test_percentile_rank_is_ceiling_of_p_times_total(void)
{
    hist_t *h = hist_new_default();
    REQUIRE(h);
    for (int v = 1; v <= 10; v++)
        hist_record(h, v * 100);
    /* 10 values: p50 is the 5th (500), p51 the 6th (600), p10 the 1st, p0 the lowest. */
    CHECK_INT_EQ(hist_value_at_percentile(h, 50), 500);
    CHECK_INT_EQ(hist_value_at_percentile(h, 51), 600);
    CHECK_INT_EQ(hist_value_at_percentile(h, 10), 100);
    CHECK_INT_EQ(hist_value_at_percentile(h, 0), 100);
    CHECK_INT_EQ(hist_value_at_percentile(h, 100), 1000);
    CHECK_INT_EQ(hist_value_at_percentile(h, 250), 1000); /* clamped */
    CHECK_INT_EQ(hist_value_at_percentile(h, -3), 100);
    CHECK_INT_EQ(hist_value_at_percentile(h, NAN), 100);
    hist_destroy(&h);
}

static void test_p100_is_the_max_even_when_the_total_is_not_exact_in_a_double(void)
{
    /* Found by fuzz_hist_decode: p/100 * total loses the last units above 2^53. */
    hist_t *h = hist_new_default();
    REQUIRE(h);
    CHECK(hist_record_n(h, 1000, ((int64_t)1 << 57) + 12345));
    CHECK(hist_record(h, 55000));
    CHECK_INT_EQ(hist_value_at_percentile(h, 100), hist_max(h));
    CHECK_INT_EQ(hist_value_at_percentile(h, 100), hist_highest_equivalent(h, 55000));
    CHECK_INT_EQ(hist_value_at_percentile(h, 99.999), hist_highest_equivalent(h, 1000));
    hist_destroy(&h);
}

/* ---- Merge ----------------------------------------------------------------------------- */

static void test_merge_of_k_histograms_equals_histogram_of_union(void)
{
    const int ks[] = {1, 2, 3, 8, 32};
    for (int digits = 1; digits <= 4; digits++) {
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            int k = ks[ki];
            hist_t *parts[32], *all = hist_new(1, 3600000000LL, digits, NULL, 0);
            REQUIRE(all);
            for (int i = 0; i < k; i++)
                parts[i] = hist_new_like(all);
            int dist = (int)(rng_next(&rng_state) % DIST_COUNT);
            for (int i = 0; i < 30000; i++) {
                int64_t v = sample(i % 5 == 0 ? DIST_HEAVY_TAIL : dist, 3600000000LL);
                hist_record(all, v);
                hist_record(parts[rng_next(&rng_state) % (uint64_t)k], v); /* uneven split */
            }
            /* Two merge orders (forward into empty, backward into the last part). */
            hist_t *forward = hist_new_like(all);
            for (int i = 0; i < k; i++)
                CHECK_INT_EQ(hist_add(forward, parts[i]), 0);
            hist_t *backward = parts[k - 1];
            for (int i = k - 2; i >= 0; i--)
                hist_add(backward, parts[i]);
            const hist_t *merged[2] = {forward, backward};
            for (int m = 0; m < 2; m++) {
                CHECK_MSG(same_buckets(merged[m], all), "digits %d k=%d order %d: buckets differ",
                          digits, k, m);
                CHECK_INT_EQ(hist_total_count(merged[m]), hist_total_count(all));
                CHECK_INT_EQ(hist_min(merged[m]), hist_min(all));
                CHECK_INT_EQ(hist_max(merged[m]), hist_max(all));
                CHECK(hist_mean(merged[m]) == hist_mean(all));
                CHECK(hist_stddev(merged[m]) == hist_stddev(all));
                for (double p = 0; p <= 100.0; p += 0.5)
                    CHECK_INT_EQ(hist_value_at_percentile(merged[m], p),
                                 hist_value_at_percentile(all, p));
                CHECK_INT_EQ(hist_value_at_percentile(merged[m], 99.9),
                             hist_value_at_percentile(all, 99.9));
                CHECK_INT_EQ(hist_value_at_percentile(merged[m], 99.99),
                             hist_value_at_percentile(all, 99.99));
            }
            for (int i = 0; i < k; i++)
                hist_destroy(&parts[i]);
            hist_destroy(&forward);
            hist_destroy(&all);
        }
    }
}

static void test_merge_of_empty_histogram_changes_nothing(void)
{
    hist_t *a = hist_new_default(), *empty = hist_new_default(), *copy = hist_new_default();
    REQUIRE(a && empty && copy);
    for (int i = 0; i < 100; i++) {
        hist_record(a, 1000 + i * 37);
        hist_record(copy, 1000 + i * 37);
    }
    CHECK_INT_EQ(hist_add(a, empty), 0);
    CHECK(same_buckets(a, copy));
    CHECK_INT_EQ(hist_min(a), hist_min(copy));
    CHECK_INT_EQ(hist_add(copy, copy), 0); /* a histogram added to itself doubles */
    CHECK_INT_EQ(hist_total_count(copy), 200);
    CHECK_INT_EQ(hist_value_at_percentile(copy, 50), hist_value_at_percentile(a, 50));
    hist_reset(copy);
    for (int i = 0; i < 100; i++)
        hist_record(copy, 1000 + i * 37);
    CHECK_INT_EQ(hist_add(empty, a), 0);
    CHECK(same_buckets(empty, copy));
    CHECK_INT_EQ(hist_min(empty), hist_min(copy));
    CHECK_INT_EQ(hist_max(empty), hist_max(copy));
    hist_destroy(&a);
    hist_destroy(&empty);
    hist_destroy(&copy);
}

static void test_merge_across_layouts_keeps_every_count_within_coarser_precision(void)
{
    hist_t *fine = hist_new(1, 3600000000LL, 4, NULL, 0);
    hist_t *coarse = hist_new(1, 3600000000LL, 2, NULL, 0);
    hist_t *coarse_direct = hist_new(1, 3600000000LL, 2, NULL, 0);
    REQUIRE(fine && coarse && coarse_direct);
    int64_t samples[5000];
    for (int i = 0; i < 5000; i++) {
        samples[i] = sample(DIST_LOGNORMAL, 3600000000LL);
        hist_record(fine, samples[i]);
        hist_record(coarse_direct, samples[i]);
    }
    CHECK_INT_EQ(hist_add(coarse, fine), 0);
    CHECK_INT_EQ(hist_total_count(coarse), 5000);
    qsort(samples, 5000, sizeof samples[0], cmp_i64);
    for (double p = 1; p <= 100; p += 1) {
        int64_t got = hist_value_at_percentile(coarse, p);
        int64_t direct = hist_value_at_percentile(coarse_direct, p);
        /* Within one coarse bucket of recording the samples directly. */
        CHECK_MSG(llabs(got - direct) <= (direct / 100) * 2 + 1, "p%.0f: %lld vs %lld", p,
                  (long long)got, (long long)direct);
    }
    /* A narrower destination counts what it cannot hold, and says how many. */
    hist_t *narrow = hist_new(1, 1000000, 3, NULL, 0);
    REQUIRE(narrow);
    int64_t above = 0;
    for (int i = 0; i < 5000; i++)
        above += hist_highest_equivalent(fine, samples[i]) > 1000000 ? 1 : 0;
    int64_t dropped = hist_add(narrow, fine);
    CHECK(dropped > 0);
    CHECK_INT_EQ(hist_total_count(narrow) + dropped, 5000);
    CHECK_INT_EQ(hist_out_of_range(narrow), dropped);
    CHECK(llabs(dropped - above) <= 5000 / 100); /* only buckets straddling the edge move */
    hist_destroy(&fine);
    hist_destroy(&coarse);
    hist_destroy(&coarse_direct);
    hist_destroy(&narrow);
}

/* ---- Range, reset, statistics ----------------------------------------------------------- */

static void test_out_of_range_values_are_counted_never_dropped_silently(void)
{
    hist_t *h = hist_new(1, 1000000, 3, NULL, 0);
    REQUIRE(h);
    CHECK(!hist_record(h, -1));
    CHECK(!hist_record(h, 1000001 + 5000)); /* above highest */
    CHECK(!hist_record(h, INT64_MAX));
    CHECK(!hist_record(h, INT64_MIN));
    CHECK(!hist_record_n(h, 5000000, 7));
    CHECK(hist_record(h, 0));
    CHECK(hist_record(h, 1000000));
    CHECK_INT_EQ(hist_out_of_range(h), 4 + 7);
    CHECK_INT_EQ(hist_total_count(h), 2);
    CHECK_INT_EQ(hist_value_at_percentile(h, 100), hist_highest_equivalent(h, 1000000));

    /* Out-of-range counts travel with merges. */
    hist_t *sum = hist_new_like(h);
    REQUIRE(sum);
    hist_add(sum, h);
    hist_add(sum, h);
    CHECK_INT_EQ(hist_out_of_range(sum), 22);
    CHECK_INT_EQ(hist_total_count(sum), 4);

    /* Counts that would overflow the total are refused and counted, not wrapped. */
    CHECK(hist_record_n(h, 10, INT64_MAX - 2));
    CHECK(!hist_record_n(h, 10, 100));
    CHECK(hist_out_of_range(h) >= 11 + 100);
    CHECK(!hist_record_n(h, 10, -3));
    CHECK(hist_record_n(h, 10, 0));
    hist_set_out_of_range(h, 5);
    CHECK_INT_EQ(hist_out_of_range(h), 5);
    hist_destroy(&h);
    hist_destroy(&sum);
}

static void test_reset_empties_counts_and_keeps_layout(void)
{
    hist_t *h = hist_new(10, 10000000, 2, NULL, 0);
    REQUIRE(h);
    for (int i = 0; i < 1000; i++)
        hist_record(h, 10 + i * 997);
    hist_record(h, -1);
    hist_reset(h);
    CHECK_INT_EQ(hist_total_count(h), 0);
    CHECK_INT_EQ(hist_out_of_range(h), 0);
    CHECK_INT_EQ(hist_min(h), 0);
    CHECK_INT_EQ(hist_max(h), 0);
    CHECK_INT_EQ(hist_value_at_percentile(h, 50), 0);
    CHECK(hist_mean(h) == 0.0 && hist_stddev(h) == 0.0);
    size_t cursor = 0;
    int64_t v, c;
    CHECK(!hist_next_bucket(h, &cursor, &v, &c));
    CHECK_INT_EQ(hist_lowest(h), 10);
    CHECK_INT_EQ(hist_highest(h), 10000000);
    CHECK_INT_EQ(hist_digits(h), 2);
    hist_record(h, 5000);
    CHECK_INT_EQ(hist_total_count(h), 1);
    CHECK_INT_EQ(hist_min(h), hist_lowest_equivalent(h, 5000));
    hist_destroy(&h);
}

static void test_min_max_mean_stddev_match_exact_within_precision(void)
{
    for (int digits = 1; digits <= 5; digits++) {
        hist_t *h = hist_new(1, 3600000000LL, digits, NULL, 0);
        REQUIRE(h);
        double precision = pow(10.0, -digits);
        for (int dist = 0; dist < DIST_COUNT; dist++) {
            hist_reset(h);
            int64_t min = INT64_MAX, max = 0;
            double sum = 0, sum_sq = 0;
            const int n = 10000;
            for (int i = 0; i < n; i++) {
                int64_t v = sample(dist, 3600000000LL);
                hist_record(h, v);
                min = v < min ? v : min;
                max = v > max ? v : max;
                sum += (double)v;
                sum_sq += (double)v * (double)v;
            }
            double mean = sum / n, stddev = sqrt(sum_sq / n - mean * mean);
            CHECK(hist_min(h) <= min && (double)(min - hist_min(h)) <= min * precision);
            CHECK(hist_max(h) >= max && (double)(hist_max(h) - max) <= max * precision);
            /* Each value is replaced by its bucket's median: off by half a bucket at most. */
            CHECK_MSG(fabs(hist_mean(h) - mean) <= mean * precision + 1.0,
                      "%s digits %d: mean %.3f exact %.3f", dist_names[dist], digits, hist_mean(h),
                      mean);
            CHECK_MSG(fabs(hist_stddev(h) - stddev) <= stddev * precision * 2 + 1.0,
                      "%s digits %d: stddev %.3f exact %.3f", dist_names[dist], digits,
                      hist_stddev(h), stddev);
        }
        hist_destroy(&h);
    }
}

static void test_record_n_equals_n_single_records(void)
{
    hist_t *a = hist_new_default(), *b = hist_new_default();
    REQUIRE(a && b);
    for (int i = 0; i < 500; i++) {
        int64_t v = sample(DIST_LOGNORMAL, 3600000000LL);
        int64_t n = (int64_t)(rng_next(&rng_state) % 5);
        CHECK(hist_record_n(a, v, n));
        for (int64_t k = 0; k < n; k++)
            hist_record(b, v);
    }
    CHECK(same_buckets(a, b));
    CHECK_INT_EQ(hist_total_count(a), hist_total_count(b));
    CHECK_INT_EQ(hist_min(a), hist_min(b));
    CHECK_INT_EQ(hist_max(a), hist_max(b));
    hist_destroy(&a);
    hist_destroy(&b);
}

static void test_bucket_iteration_visits_every_count_in_value_order(void)
{
    hist_t *h = hist_new_default();
    REQUIRE(h);
    for (int i = 0; i < 5000; i++)
        hist_record(h, sample(i % DIST_COUNT, 3600000000LL));
    size_t cursor = 0;
    int64_t value, count, last = -1, total = 0;
    while (hist_next_bucket(h, &cursor, &value, &count)) {
        CHECK(value > last);
        CHECK(count > 0);
        CHECK(hist_lowest_equivalent(h, value) == value);
        last = value;
        total += count;
    }
    CHECK_INT_EQ(total, 5000);
    CHECK_INT_EQ(last, hist_lowest_equivalent(h, hist_max(h)));
    hist_destroy(&h);
}

CHECK_MAIN(test_layout_sizes_match_hdrhistogram, test_bad_layouts_are_refused_with_a_reason,
           test_equivalent_values_bracket_the_value_within_precision,
           test_every_percentile_within_relative_precision_of_sorted_samples,
           test_percentile_rank_is_ceiling_of_p_times_total,
           test_p100_is_the_max_even_when_the_total_is_not_exact_in_a_double,
           test_merge_of_k_histograms_equals_histogram_of_union,
           test_merge_of_empty_histogram_changes_nothing,
           test_merge_across_layouts_keeps_every_count_within_coarser_precision,
           test_out_of_range_values_are_counted_never_dropped_silently,
           test_reset_empties_counts_and_keeps_layout,
           test_min_max_mean_stddev_match_exact_within_precision,
           test_record_n_equals_n_single_records,
           test_bucket_iteration_visits_every_count_in_value_order)
