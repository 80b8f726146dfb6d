/*  test_interval.c: an engine interval keeps every record in the phase that sent it.

    The engine records each request once into its interval's total; the interval splits
    by phase only when a second phase appears in it. These tests drive that split the way
    the request path does (interval_phase_metrics beside the total) and the engine's merge
    of its threads' intervals (interval_add), and hold the parts against what each phase
    recorded.
*/
#include <stdint.h>

#include "check.h"
#include "worker/engine_private.h"

/* One request of `phase` ending in iv with an E2E of e2e_us and `tokens` output tokens
   received: what request_finish does. */
static void record(interval_t *iv, int phase, int64_t e2e_us, int64_t tokens)
{
    metrics_t *into[3] = {iv->total, iv->per_target[0], interval_phase_metrics(iv, phase)};
    iv->total->c.output_tokens_received += tokens;
    for (int k = 0; k < 3 && into[k]; k++) {
        into[k]->c.ok++;
        into[k]->c.output_tokens += tokens;
        metrics_record_us(into[k], METRIC_E2E, e2e_us);
    }
}

static const metrics_t *part_of(const interval_t *iv, int phase)
{
    for (int i = 0; i < iv->part_count; i++) {
        if (iv->parts[i].phase_index == phase)
            return interval_part_metrics(iv, i);
    }
    return NULL;
}

static void test_one_phase_interval_records_once_and_its_total_is_the_phase(void)
{
    interval_t *iv = interval_new(1, 0, 0);
    REQUIRE(iv);
    for (int i = 0; i < 50; i++)
        record(iv, 3, 1000 + i, 10);
    CHECK(!iv->split);
    CHECK_INT_EQ(iv->part_count, 1);
    CHECK(part_of(iv, 3) == iv->total);
    interval_destroy(&iv, 1);
}

static void test_a_second_phase_splits_the_interval_and_each_keeps_its_own(void)
{
    interval_t *iv = interval_new(1, 0, 0);
    REQUIRE(iv);
    for (int i = 0; i < 30; i++)
        record(iv, 0, 1000, 5); /* the backlog of phase 0 ... */
    for (int i = 0; i < 20; i++) {
        record(iv, 1, 9000, 7); /* ... ending beside phase 1's requests */
        record(iv, 0, 2000, 5);
    }
    REQUIRE(iv->split);
    const metrics_t *p0 = part_of(iv, 0), *p1 = part_of(iv, 1);
    REQUIRE(p0 && p1);
    CHECK_INT_EQ(p0->c.ok, 50);
    CHECK_INT_EQ(p1->c.ok, 20);
    CHECK_INT_EQ(p0->c.output_tokens, 250);
    CHECK_INT_EQ(hist_total_count(p0->hist[METRIC_E2E]), 50);
    CHECK_INT_EQ(hist_max(p0->hist[METRIC_E2E]) < 3000, 1);
    CHECK_INT_EQ(hist_min(p1->hist[METRIC_E2E]) > 8000, 1);
    /* Tokens received belong to the interval, never to a phase's requests. */
    CHECK_INT_EQ(p0->c.output_tokens_received, 0);
    CHECK_INT_EQ(p1->c.output_tokens_received, 0);
    CHECK_INT_EQ(iv->total->c.output_tokens_received, 390);
    CHECK_INT_EQ(p0->c.ok + p1->c.ok, iv->total->c.ok);

    /* Reset and reuse: one phase again, no leftover parts. */
    interval_reset(iv, 1);
    record(iv, 2, 1000, 1);
    CHECK(!iv->split);
    CHECK_INT_EQ(iv->part_count, 1);
    CHECK(part_of(iv, 2) == iv->total);
    interval_destroy(&iv, 1);
}

static void test_merging_threads_intervals_keeps_each_phase_exact(void)
{
    interval_t *a = interval_new(1, 0, 0), *b = interval_new(1, 0, 0), *c = interval_new(1, 0, 0);
    interval_t *merged = interval_new(1, 0, 0);
    REQUIRE(a && b && c && merged);
    for (int i = 0; i < 10; i++)
        record(a, 0, 1000, 1); /* thread a: phase 0 only */
    for (int i = 0; i < 4; i++) {
        record(b, 0, 1500, 1); /* thread b: both */
        record(b, 1, 7000, 2);
    }
    for (int i = 0; i < 6; i++)
        record(c, 1, 8000, 2); /* thread c: phase 1 only */
    a->parts[0].tail_requests = 3;
    a->parts[0].tail_max_ns = 100;
    b->parts[0].tail_requests = 1;
    b->parts[0].tail_max_ns = 900;
    interval_add(merged, a, 1);
    CHECK(!merged->split); /* still one phase: nothing copied */
    interval_add(merged, b, 1);
    interval_add(merged, c, 1);
    REQUIRE(merged->split);
    const metrics_t *p0 = part_of(merged, 0), *p1 = part_of(merged, 1);
    REQUIRE(p0 && p1);
    CHECK_INT_EQ(p0->c.ok, 14);
    CHECK_INT_EQ(p1->c.ok, 10);
    CHECK_INT_EQ(hist_total_count(p1->hist[METRIC_E2E]), 10);
    CHECK_INT_EQ(hist_max(p0->hist[METRIC_E2E]) < 2000, 1);
    CHECK_INT_EQ(merged->total->c.ok, 24);
    CHECK_INT_EQ(merged->total->c.output_tokens_received, 10 + 4 * 3 + 12);
    CHECK_INT_EQ(p0->c.output_tokens_received + p1->c.output_tokens_received, 0);
    CHECK_INT_EQ(merged->parts[0].tail_requests, 4);
    CHECK_INT_EQ(merged->parts[0].tail_max_ns, 900);
    interval_destroy(&a, 1);
    interval_destroy(&b, 1);
    interval_destroy(&c, 1);
    interval_destroy(&merged, 1);
}

/* One request of class `cls` ending in iv: what request_finish does beside the total. */
static void record_class(interval_t *iv, int cls, int64_t ttft_us, int64_t tokens)
{
    metrics_t *into[2] = {iv->total, interval_class_metrics(iv, cls)};
    iv->total->c.output_tokens_received += tokens;
    into[1]->c.output_tokens_received += tokens;
    for (int k = 0; k < 2; k++) {
        into[k]->c.sent++;
        into[k]->c.ok++;
        into[k]->c.output_tokens += tokens;
        metrics_record_us(into[k], METRIC_TTFT, ttft_us);
    }
}

static void test_merging_threads_intervals_keeps_each_class_exact(void)
{
    interval_t *a = interval_new(1, 2, 0), *b = interval_new(1, 2, 0),
               *merged = interval_new(1, 2, 0);
    REQUIRE(a && b && merged);
    REQUIRE(merged->class_count == 2);
    for (int i = 0; i < 7; i++)
        record_class(a, 0, 1000, 3); /* thread a: short answers only */
    for (int i = 0; i < 5; i++) {
        record_class(b, 0, 1100, 3); /* thread b: both classes */
        record_class(b, 1, 50000, 17);
    }
    interval_add(merged, a, 1);
    interval_add(merged, b, 1);
    const metrics_t *c0 = merged->per_class[0], *c1 = merged->per_class[1];
    CHECK_INT_EQ(c0->c.ok, 12);
    CHECK_INT_EQ(c1->c.ok, 5);
    CHECK_INT_EQ(c0->c.sent + c1->c.sent, merged->total->c.sent);
    CHECK_INT_EQ(c0->c.output_tokens, 12 * 3);
    CHECK_INT_EQ(c1->c.output_tokens, 5 * 17);
    CHECK_INT_EQ(c0->c.output_tokens_received + c1->c.output_tokens_received,
                 merged->total->c.output_tokens_received);
    CHECK_INT_EQ(hist_total_count(c0->hist[METRIC_TTFT]), 12);
    CHECK_INT_EQ(hist_max(c0->hist[METRIC_TTFT]) < 2000, 1);
    CHECK_INT_EQ(hist_min(c1->hist[METRIC_TTFT]) > 40000, 1);
    /* Reset empties every class for the interval's reuse. */
    interval_reset(merged, 1);
    CHECK(metrics_is_empty(merged->per_class[0]) && metrics_is_empty(merged->per_class[1]));
    CHECK(!interval_class_metrics(merged, -1) && !interval_class_metrics(merged, 2));
    interval_destroy(&a, 1);
    interval_destroy(&b, 1);
    interval_destroy(&merged, 1);
}

/* Conversations: each thread records a turn's requests into its turn bucket (turns past
   the last bucket share it); merging the threads' intervals adds bucket to bucket, so
   every turn's histogram is the one of the union of its samples, and the buckets add up
   to the total. */
static void test_merging_threads_intervals_keeps_each_turn_exact(void)
{
    int n = ENGINE_MAX_TURN_BUCKETS;
    interval_t *a = interval_new(1, 0, n), *b = interval_new(1, 0, n),
               *merged = interval_new(1, 0, n);
    interval_t *one = interval_new(1, 0, n); /* every sample in one interval */
    REQUIRE(a && b && merged && one);
    REQUIRE(merged->turn_count == n);
    int64_t samples = 0;
    for (int turn = 1; turn <= n + 3; turn++) {
        for (int i = 0; i < 40; i++) {
            int64_t ttft_us = 1000 * turn + 37 * i; /* later turns: longer prompts, slower */
            interval_t *thread = (i + turn) % 3 ? a : b;
            interval_t *into[2] = {thread, one};
            for (int k = 0; k < 2; k++) {
                metrics_t *m[2] = {into[k]->total, interval_turn_metrics(into[k], turn)};
                for (int j = 0; j < 2; j++) {
                    m[j]->c.sent++;
                    m[j]->c.ok++;
                    m[j]->c.input_tokens += 100 * turn;
                    metrics_record_us(m[j], METRIC_TTFT, ttft_us);
                }
            }
            samples++;
        }
    }
    interval_add(merged, a, 1);
    interval_add(merged, b, 1);
    int64_t ok = 0;
    for (int k = 0; k < n; k++) {
        const metrics_t *got = merged->per_turn[k], *want = one->per_turn[k];
        CHECK_INT_EQ(got->c.ok, k < n - 1 ? 40 : 4 * 40); /* turns n..n+3 in the last */
        CHECK_INT_EQ(got->c.input_tokens, want->c.input_tokens);
        for (double p = 1; p <= 100; p += 11)
            CHECK_INT_EQ(hist_value_at_percentile(got->hist[METRIC_TTFT], p),
                         hist_value_at_percentile(want->hist[METRIC_TTFT], p));
        ok += got->c.ok;
    }
    CHECK_INT_EQ(ok, samples);
    CHECK_INT_EQ(merged->total->c.ok, samples);
    /* Single-turn requests (turn 0) and engines without conversations record no turn. */
    CHECK(!interval_turn_metrics(merged, 0));
    interval_t *plain = interval_new(1, 0, 0);
    REQUIRE(plain);
    CHECK(!interval_turn_metrics(plain, 1) && plain->per_turn == NULL);
    interval_reset(merged, 1);
    CHECK(metrics_is_empty(merged->per_turn[0]) && metrics_is_empty(merged->per_turn[n - 1]));
    interval_destroy(&plain, 1);
    interval_destroy(&a, 1);
    interval_destroy(&b, 1);
    interval_destroy(&merged, 1);
    interval_destroy(&one, 1);
}

static void test_an_engine_without_classes_records_nothing_per_class(void)
{
    interval_t *iv = interval_new(1, 0, 0);
    REQUIRE(iv);
    CHECK_INT_EQ(iv->class_count, 0);
    CHECK(iv->per_class == NULL);
    CHECK(!interval_class_metrics(iv, 0));
    interval_destroy(&iv, 1);
}

CHECK_MAIN(test_one_phase_interval_records_once_and_its_total_is_the_phase,
           test_merging_threads_intervals_keeps_each_class_exact,
           test_merging_threads_intervals_keeps_each_turn_exact,
           test_an_engine_without_classes_records_nothing_per_class,
           test_a_second_phase_splits_the_interval_and_each_keeps_its_own,
           test_merging_threads_intervals_keeps_each_phase_exact)
