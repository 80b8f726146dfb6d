/*  test_merge.c: the merge (coordinator/merge.h) on synthetic snapshots: no sockets, no
    processes, no coordinator. A timeline of two measured phases of 5 intervals each
    (interval 1 s), workers that send one snapshot per interval, random latencies from a
    fixed seed.
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/rng.h"
#include "coordinator/merge.h"

#define INTERVAL_NS  1000000000LL
#define PHASES       2
#define PHASE_LEN    5 /* intervals */
#define RUN_T0_NS    (1000 * INTERVAL_NS)
#define GRACE_NS     (INTERVAL_NS / 2)
#define MAX_INTERVAL 16

/* ---- a timeline and a fake fleet --------------------------------------------------- */

typedef struct {
    run_phase_t phases[PHASES];
    int64_t start_ns[PHASES], end_ns[PHASES];
    run_timeline_t tl;
} timeline_fixture_t;

static void timeline_init(timeline_fixture_t *f)
{
    memset(f, 0, sizeof *f);
    static char *names[PHASES] = {"warmup", "steady"};
    for (int i = 0; i < PHASES; i++) {
        f->phases[i].phase.name = names[i];
        f->phases[i].phase.kind = "steady";
        f->phases[i].phase.load = PHASE_LOAD_RATE;
        f->phases[i].phase.schedule.start_rate_per_s = f->phases[i].phase.schedule.end_rate_per_s =
            10.0 * (i + 1);
        f->phases[i].phase.measure = true;
        f->start_ns[i] = (int64_t)i * PHASE_LEN * INTERVAL_NS;
        f->end_ns[i] = f->start_ns[i] + PHASE_LEN * INTERVAL_NS;
    }
    f->tl = (run_timeline_t){.phases = f->phases,
                             .phase_count = PHASES,
                             .phase_cap = PHASES,
                             .phase_start_ns = f->start_ns,
                             .phase_end_ns = f->end_ns,
                             .run_end_ns = f->end_ns[PHASES - 1]};
}

/* The reporters expected per interval, and what they sent: merge_config_t.complete. */
typedef struct {
    int expected;
    int sent[MAX_INTERVAL];
} fleet_t;

static bool fleet_complete(void *arg, int64_t index)
{
    const fleet_t *fleet = arg;
    return index < MAX_INTERVAL && fleet->sent[index] >= fleet->expected;
}

/* Every closed interval a listener saw, in order. */
typedef struct {
    int64_t index[64];
    int reporters[64];
    int64_t ok[64];
    int count;
} closed_log_t;

static void log_closed(void *arg, const merge_interval_t *iv)
{
    closed_log_t *log = arg;
    if (log->count < 64) {
        log->index[log->count] = iv->index;
        log->reporters[log->count] = iv->reporters;
        log->ok[log->count] = iv->metrics->c.ok;
    }
    log->count++;
}

static merge_t *new_merge(timeline_fixture_t *f, fleet_t *fleet)
{
    merge_config_t mc = {.timeline = &f->tl,
                         .interval_ns = INTERVAL_NS,
                         .grace_ns = GRACE_NS,
                         .complete = fleet_complete,
                         .complete_arg = fleet};
    return merge_new(&mc);
}

/* ---- synthetic snapshots ------------------------------------------------------------ */

/* One request, ok, with random TTFT and e2e (microseconds), into every metrics given. */
static void record_request(uint64_t *rng, metrics_t **into, int n)
{
    int64_t ttft = 20000 + (int64_t)(rng_next(rng) % 480000);
    int64_t e2e = ttft + (int64_t)(rng_next(rng) % 4000000);
    int64_t tokens = 8 + (int64_t)(rng_next(rng) % 120);
    for (int i = 0; i < n; i++) {
        if (!into[i])
            continue;
        metrics_record_us(into[i], METRIC_TTFT, ttft);
        metrics_record_us(into[i], METRIC_E2E, e2e);
        into[i]->c.scheduled++;
        into[i]->c.sent++;
        into[i]->c.ok++;
        into[i]->c.output_tokens += tokens;
    }
}

typedef struct {
    proto_snapshot_t snap;
    proto_phase_part_t parts[2];
} snapshot_fixture_t;

/* A snapshot of `interval` naming one phase (its whole total: the wire's usual case). */
static void snapshot_one_phase(snapshot_fixture_t *s, const char *worker, int64_t interval,
                               int phase)
{
    memset(s, 0, sizeof *s);
    s->snap.interval = interval;
    s->snap.worker_id = (char *)worker;
    s->snap.total = metrics_new(HIST_DEFAULT_DIGITS);
    s->parts[0].phase_index = phase;
    s->snap.phases = s->parts;
    s->snap.phase_count = 1;
}

/* A snapshot whose requests were scheduled by two phases: each part has its own metrics. */
static void snapshot_two_phases(snapshot_fixture_t *s, const char *worker, int64_t interval,
                                int first, int second)
{
    snapshot_one_phase(s, worker, interval, first);
    s->parts[0].metrics = metrics_new(HIST_DEFAULT_DIGITS);
    s->parts[1].phase_index = second;
    s->parts[1].metrics = metrics_new(HIST_DEFAULT_DIGITS);
    s->snap.phase_count = 2;
}

static void snapshot_free(snapshot_fixture_t *s)
{
    metrics_destroy(&s->snap.total);
    metrics_destroy(&s->parts[0].metrics);
    metrics_destroy(&s->parts[1].metrics);
}

static bool same_latencies(const metrics_t *a, const metrics_t *b, metric_hist_t h)
{
    if (hist_total_count(a->hist[h]) != hist_total_count(b->hist[h]))
        return false;
    static const double pcts[] = {50, 95, 99, 100};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        if (hist_value_at_percentile(a->hist[h], pcts[i]) !=
            hist_value_at_percentile(b->hist[h], pcts[i]))
            return false;
    }
    return true;
}

/* ---- claims -------------------------------------------------------------------------- */

/* Four workers, ten intervals over two phases; at the hand-over interval some snapshots
   carry requests of both phases (the by-phase add then stops being deferred). The merged
   run and phase totals equal one metrics_t fed every sample. */
static void test_merge_equals_union_of_samples(void)
{
    timeline_fixture_t f;
    timeline_init(&f);
    fleet_t fleet = {.expected = 4};
    merge_t *m = new_merge(&f, &fleet);
    REQUIRE(m);
    metrics_t *want_phase[PHASES], *want_run = metrics_new(HIST_DEFAULT_DIGITS);
    int64_t want_received[PHASES] = {0};
    for (int p = 0; p < PHASES; p++)
        want_phase[p] = metrics_new(HIST_DEFAULT_DIGITS);
    uint64_t rng = 42;
    static const char *workers[] = {"w0", "w1", "w2", "w3"};
    for (int64_t k = 0; k < PHASES * PHASE_LEN; k++) {
        int phase = (int)(k / PHASE_LEN);
        for (int w = 0; w < 4; w++) {
            snapshot_fixture_t s;
            bool handover = phase == 1 && k == PHASE_LEN && w % 2 == 0;
            if (handover)
                snapshot_two_phases(&s, workers[w], k, 0, 1);
            else
                snapshot_one_phase(&s, workers[w], k, phase);
            int requests = 20 + (int)(rng_next(&rng) % 31);
            for (int r = 0; r < requests; r++) {
                /* at the hand-over, a third of the requests are the last phase's tail */
                int owner = handover && r % 3 == 0 ? 0 : phase;
                metrics_t *into[] = {s.snap.total,
                                     handover ? s.parts[owner == 0 ? 0 : 1].metrics : NULL,
                                     want_phase[owner], want_run};
                record_request(&rng, into, 4);
            }
            int64_t received = 100 + (int64_t)(rng_next(&rng) % 900);
            s.snap.total->c.output_tokens_received = received;
            want_received[phase] += received;
            CHECK(merge_snapshot(m, &s.snap));
            snapshot_free(&s);
        }
    }
    merge_start(m, RUN_T0_NS);
    merge_close_ready(m, RUN_T0_NS + 100 * INTERVAL_NS, true);
    const merge_totals_t *t = merge_totals(m);
    CHECK_INT_EQ(t->next_close, PHASES * PHASE_LEN);
    CHECK_INT_EQ(t->late_snapshots, 0);
    for (int p = 0; p < PHASES; p++) {
        REQUIRE(t->phase_metrics[p]);
        CHECK_INT_EQ(t->phase_metrics[p]->c.ok, want_phase[p]->c.ok);
        CHECK_INT_EQ(t->phase_metrics[p]->c.sent, want_phase[p]->c.sent);
        CHECK_INT_EQ(t->phase_metrics[p]->c.output_tokens, want_phase[p]->c.output_tokens);
        CHECK_INT_EQ(t->phase_metrics[p]->c.output_tokens_received, want_received[p]);
        CHECK(same_latencies(t->phase_metrics[p], want_phase[p], METRIC_TTFT));
        CHECK(same_latencies(t->phase_metrics[p], want_phase[p], METRIC_E2E));
    }
    CHECK_INT_EQ(t->run_metrics->c.ok, want_run->c.ok);
    CHECK_INT_EQ(t->run_metrics->c.output_tokens_received, want_received[0] + want_received[1]);
    CHECK(same_latencies(t->run_metrics, want_run, METRIC_TTFT));
    CHECK(same_latencies(t->run_metrics, want_run, METRIC_E2E));
    CHECK_INT_EQ(t->run_window_ok, want_run->c.ok);
    for (int p = 0; p < PHASES; p++)
        metrics_destroy(&want_phase[p]);
    metrics_destroy(&want_run);
    merge_destroy(&m);
    CHECK(m == NULL);
}

/* A request of phase 0 that ends in phase 1's window counts in phase 0 (and in its tail),
   while the tokens received in that interval count in phase 1's window. */
static void test_a_request_that_ends_after_its_phase_counts_in_that_phase_and_its_tail(void)
{
    timeline_fixture_t f;
    timeline_init(&f);
    fleet_t fleet = {.expected = 1};
    merge_t *m = new_merge(&f, &fleet);
    REQUIRE(m);
    uint64_t rng = 7;
    snapshot_fixture_t s;
    snapshot_two_phases(&s, "w0", PHASE_LEN, 0, 1); /* the first interval of phase 1 */
    for (int r = 0; r < 10; r++) {
        metrics_t *into[] = {s.snap.total, s.parts[r < 3 ? 0 : 1].metrics};
        record_request(&rng, into, 2);
    }
    s.parts[0].tail_requests = 3;
    s.parts[0].tail_max_ns = 750000000;
    s.snap.total->c.output_tokens_received = 500;
    CHECK(merge_snapshot(m, &s.snap));
    snapshot_free(&s);
    merge_start(m, RUN_T0_NS);
    merge_close_ready(m, 0, true);
    const merge_totals_t *t = merge_totals(m);
    REQUIRE(t->phase_metrics[0] && t->phase_metrics[1]);
    CHECK_INT_EQ(t->phase_metrics[0]->c.ok, 3);
    CHECK_INT_EQ(t->phase_metrics[1]->c.ok, 7);
    CHECK_INT_EQ(t->phase_tail_requests[0], 3);
    CHECK_INT_EQ(t->phase_tail_max_ns[0], 750000000);
    CHECK_INT_EQ(t->phase_tail_requests[1], 0);
    CHECK_INT_EQ(t->phase_metrics[0]->c.output_tokens_received, 0);
    CHECK_INT_EQ(t->phase_metrics[1]->c.output_tokens_received, 500);
    CHECK_INT_EQ(t->phase_window_ok[1], 10); /* by time: all ten ended in its window */
    merge_destroy(&m);
}

/* Interval 0 closes as soon as both reporters sent it; interval 1, which one never sent,
   only once grace has passed after its end; listeners hear of each once, in order. */
static void test_an_interval_closes_when_every_reporter_sent_it_or_after_grace(void)
{
    timeline_fixture_t f;
    timeline_init(&f);
    fleet_t fleet = {.expected = 2};
    merge_t *m = new_merge(&f, &fleet);
    REQUIRE(m);
    closed_log_t first = {.count = 0}, second = {.count = 0};
    CHECK_INT_EQ(merge_on_close(m, log_closed, &first), 0);
    CHECK_INT_EQ(merge_on_close(m, log_closed, &second), 0);
    uint64_t rng = 3;
    merge_close_ready(m, RUN_T0_NS + 10 * INTERVAL_NS, false);
    CHECK_INT_EQ(first.count, 0); /* nothing closes before the run's clock started */
    merge_start(m, RUN_T0_NS);
    int64_t end0 = RUN_T0_NS + INTERVAL_NS, end1 = end0 + INTERVAL_NS;

    const char *who[] = {"w0", "w1"};
    for (int w = 0; w < 2; w++) {
        snapshot_fixture_t s;
        snapshot_one_phase(&s, who[w], 0, 0);
        metrics_t *into[] = {s.snap.total};
        record_request(&rng, into, 1);
        merge_snapshot(m, &s.snap);
        fleet.sent[0]++;
        snapshot_free(&s);
        merge_close_ready(m, end0, false);
        CHECK_INT_EQ(first.count, w == 0 ? 0 : 1); /* the first alone does not complete it */
    }
    snapshot_fixture_t s;
    snapshot_one_phase(&s, "w0", 1, 0);
    merge_snapshot(m, &s.snap);
    fleet.sent[1]++;
    snapshot_free(&s);
    merge_close_ready(m, end1 + GRACE_NS - 1, false);
    CHECK_INT_EQ(first.count, 1); /* w1 may still send it */
    merge_close_ready(m, end1 + GRACE_NS, false);
    CHECK_INT_EQ(first.count, 2);
    merge_close_ready(m, end1 + GRACE_NS, false);
    CHECK_INT_EQ(first.count, 2); /* once */
    CHECK_INT_EQ(first.index[0], 0);
    CHECK_INT_EQ(first.reporters[0], 2);
    CHECK_INT_EQ(first.ok[0], 2);
    CHECK_INT_EQ(first.index[1], 1);
    CHECK_INT_EQ(first.reporters[1], 1);
    CHECK_INT_EQ(second.count, first.count);
    CHECK_INT_EQ(second.index[1], 1);
    const merge_totals_t *t = merge_totals(m);
    CHECK_INT_EQ(t->last_closed_index, 1);
    CHECK(t->last_closed != NULL);
    /* An interval nobody reported closes empty at grace, in its turn. */
    merge_close_ready(m, end1 + INTERVAL_NS + GRACE_NS, false);
    CHECK_INT_EQ(first.count, 3);
    CHECK_INT_EQ(first.index[2], 2);
    CHECK_INT_EQ(first.reporters[2], 0);
    merge_destroy(&m);
}

/* A snapshot of an interval that closed already is not lost: its requests count in their
   phase and the run, its tokens in its interval's window; the series does not change. */
static void test_a_late_snapshot_counts_in_the_totals_but_not_in_the_series(void)
{
    timeline_fixture_t f;
    timeline_init(&f);
    fleet_t fleet = {.expected = 1};
    merge_t *m = new_merge(&f, &fleet);
    REQUIRE(m);
    closed_log_t log = {.count = 0};
    merge_on_close(m, log_closed, &log);
    merge_start(m, RUN_T0_NS);
    merge_close_ready(m, RUN_T0_NS + INTERVAL_NS + GRACE_NS, false); /* closes 0, empty */
    CHECK_INT_EQ(log.count, 1);
    uint64_t rng = 11;
    snapshot_fixture_t s;
    snapshot_one_phase(&s, "w0", 0, 0);
    for (int r = 0; r < 5; r++) {
        metrics_t *into[] = {s.snap.total};
        record_request(&rng, into, 1);
    }
    s.snap.total->c.output_tokens_received = 40;
    CHECK(!merge_snapshot(m, &s.snap));
    snapshot_free(&s);
    const merge_totals_t *t = merge_totals(m);
    CHECK_INT_EQ(t->late_snapshots, 1);
    REQUIRE(t->phase_metrics[0]);
    CHECK_INT_EQ(t->phase_metrics[0]->c.ok, 5);
    CHECK_INT_EQ(t->phase_metrics[0]->c.output_tokens_received, 40);
    CHECK_INT_EQ(t->run_metrics->c.ok, 5);
    CHECK_INT_EQ(log.count, 1);
    CHECK_INT_EQ(log.ok[0], 0);
    merge_destroy(&m);
}

/* Intervals after the last phase's window are the drain, by time; a phase decided after
   them makes them a gap between phases: the drain is reset. */
static void test_intervals_after_the_last_phase_are_the_drain_until_a_phase_follows(void)
{
    timeline_fixture_t f;
    timeline_init(&f);
    fleet_t fleet = {.expected = 1};
    merge_t *m = new_merge(&f, &fleet);
    REQUIRE(m);
    snapshot_fixture_t s;
    snapshot_one_phase(&s, "w0", PHASES * PHASE_LEN + 1, 1);
    uint64_t rng = 5;
    metrics_t *into[] = {s.snap.total};
    record_request(&rng, into, 1);
    s.snap.total->c.output_tokens_received = 9;
    merge_snapshot(m, &s.snap);
    snapshot_free(&s);
    merge_start(m, RUN_T0_NS);
    merge_close_ready(m, 0, true);
    const merge_totals_t *t = merge_totals(m);
    CHECK_INT_EQ(t->drain_first_index, PHASES * PHASE_LEN);
    CHECK_INT_EQ(t->drain_last_index, PHASES * PHASE_LEN + 1);
    CHECK_INT_EQ(t->drain_metrics->c.output_tokens_received, 9);
    CHECK_INT_EQ(t->phase_metrics[1]->c.ok, 1); /* its request is phase 1's */
    CHECK_INT_EQ(t->phase_metrics[1]->c.output_tokens_received, 0);
    merge_phase_decided(m);
    CHECK_INT_EQ(t->drain_first_index, -1);
    CHECK(metrics_is_empty(t->drain_metrics));
    merge_destroy(&m);
}

CHECK_MAIN(test_merge_equals_union_of_samples,
           test_a_request_that_ends_after_its_phase_counts_in_that_phase_and_its_tail,
           test_an_interval_closes_when_every_reporter_sent_it_or_after_grace,
           test_a_late_snapshot_counts_in_the_totals_but_not_in_the_series,
           test_intervals_after_the_last_phase_are_the_drain_until_a_phase_follows)
