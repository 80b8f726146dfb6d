/*  test_engine_pacing.c: the engine sends what the schedule says, when it says, and the
    caps and closed loops hold. Against fixed_server.py on loopback; every run is
    bounded (at most ~2 s of load, a few hundred requests).

    Times come from the request records (t_sched_s, t_send_s, microsecond resolution).
    Lag bounds here are functional ("sent at about the right time", 25 ms), never
    performance claims: bench/bench_engine measures precision.
*/
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "testkit.h"

typedef struct {
    int64_t index;
    double t_sched_s, t_send_s, t_end_s;
} sent_t;

static int cmp_sent(const void *a, const void *b)
{
    const sent_t *x = a, *y = b;
    return (x->t_send_s > y->t_send_s) - (x->t_send_s < y->t_send_s);
}

static int cmp_index(const void *a, const void *b)
{
    const sent_t *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* Parses the records into out (sorted by send time); returns the count. */
static size_t records_parse(const buf_t *jsonl, sent_t *out, size_t cap)
{
    size_t n = 0;
    const char *line = jsonl->data;
    while (line && *line && n < cap) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_t *r = json_loadb(line, len, 0, NULL);
        if (r) {
            out[n].index = json_integer_value(json_object_get(r, "index"));
            out[n].t_sched_s = json_number_value(json_object_get(r, "t_sched_s"));
            out[n].t_send_s = json_number_value(json_object_get(r, "t_send_s"));
            out[n].t_end_s =
                out[n].t_send_s + json_number_value(json_object_get(r, "e2e_ms")) / 1e3;
            n++;
            json_decref(r);
        }
        line = nl ? nl + 1 : NULL;
    }
    qsort(out, n, sizeof out[0], cmp_sent);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Coefficient of variation of the gaps between consecutive records, of the send times or
   of the intended times (the caller sorts the records accordingly). */
static double gap_cv(const sent_t *s, size_t n, bool send_times)
{
    double sum = 0, sum2 = 0;
    for (size_t i = 1; i < n; i++) {
        double g =
            send_times ? s[i].t_send_s - s[i - 1].t_send_s : s[i].t_sched_s - s[i - 1].t_sched_s;
        sum += g;
        sum2 += g * g;
    }
    double m = sum / (double)(n - 1);
    return sqrt(sum2 / (double)(n - 1) - m * m) / m;
}

static bool server_start(testkit_server_t *srv, const char *ttft_ms, const char *tokens)
{
    const char *args[] = {"--ttft-ms", ttft_ms, "--itl-ms", "1", "--tokens", tokens, NULL};
    if (!testkit_server_start(srv, "fixed_server.py", args)) {
        check_skip("python3 or fixed_server.py unavailable");
        return false;
    }
    return true;
}

/* Runs one phase on a new engine against url and collects everything. */
static bool run_phase(engine_config_t *config, const engine_phase_t *phase, testkit_run_t *run)
{
    char err[256];
    engine_t *engine = engine_new(config, err, sizeof err);
    CHECK_MSG(engine, "engine_new: %s", err);
    if (!engine)
        return false;
    testkit_run_init(run, config->target_count);
    CHECK(engine_start_phase(engine, phase, err, sizeof err) == 0);
    bool idle = testkit_run_until_idle(engine, run, 20000);
    CHECK(idle);
    engine_destroy(&engine);
    return idle;
}

static void test_constant_rate_sends_exact_count_with_even_gaps(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "2"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    int64_t t0 = clock_now_ns() + 50 * NS_PER_MS;
    config.run_t0_ns = t0;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 200, 1.5, t0);
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        CHECK_INT_EQ(run.total->c.scheduled, 300);
        CHECK_INT_EQ(run.total->c.sent, 300);
        CHECK_INT_EQ(run.total->c.dropped, 0);
        static sent_t s[400];
        size_t n = records_parse(&run.jsonl, s, 400);
        CHECK_INT_EQ(n, 300);
        qsort(s, n, sizeof s[0], cmp_index);
        for (size_t i = 0; i < n; i++) {
            CHECK_INT_EQ(s[i].index, (int64_t)i); /* every index once: threads split exactly */
            CHECK_MSG(fabs(s[i].t_sched_s - 0.005 * (double)i) < 2e-6, "t_sched[%zu] = %.6f", i,
                      s[i].t_sched_s);
            CHECK_MSG(s[i].t_send_s - s[i].t_sched_s < 0.025, "lag %.3f ms",
                      (s[i].t_send_s - s[i].t_sched_s) * 1e3);
        }
        /* the mean send gap is the rate's */
        double mean_gap = (s[n - 1].t_send_s - s[0].t_send_s) / (double)(n - 1);
        CHECK_MSG(fabs(mean_gap - 0.005) < 0.0002, "mean send gap %.4f ms", mean_gap * 1e3);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_poisson_send_gaps_pass_the_dispersion_check(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "2"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    int64_t t0 = clock_now_ns() + 50 * NS_PER_MS;
    config.run_t0_ns = t0;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_POISSON, 300, 2, t0);
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        static sent_t s[1000];
        size_t n = records_parse(&run.jsonl, s, 1000);
        CHECK_MSG(fabs((double)n - 600) < 4 * sqrt(600.0), "%zu arrivals for 600 expected", n);
        CHECK_INT_EQ(run.total->c.sent, n);
        /* The schedule the engine fired is Poisson: judged on the intended times, which no
           machine load can move. */
        double send_cv = gap_cv(s, n, true); /* records come sorted by send time */
        qsort(s, n, sizeof s[0], cmp_index); /* the global index orders intended times */
        double sched_cv = gap_cv(s, n, false);
        CHECK_MSG(sched_cv > 0.85 && sched_cv < 1.15, "intended gap CV %.3f, Poisson is 1",
                  sched_cv);
        /* The sends track it: the median lag is far below a gap (3.3 ms at 300/s)... */
        static double lag[1000];
        double max_lag = 0;
        for (size_t i = 0; i < n; i++) {
            lag[i] = s[i].t_send_s - s[i].t_sched_s;
            max_lag = fmax(max_lag, lag[i]);
        }
        qsort(lag, n, sizeof lag[0], cmp_double);
        CHECK_MSG(lag[n / 2] < 0.001, "median send lag %.3f ms", lag[n / 2] * 1e3);
        /* ...and so do the send gaps, unless the machine stalled the engine thread (a busy
           2-core CI host can deschedule it for 100s of ms; the 2x catch-up after such a
           stall bunches sends, which is the documented behaviour, not a pacing error). */
        if (max_lag < 0.050)
            CHECK_MSG(send_cv > 0.85 && send_cv < 1.15, "send gap CV %.3f, Poisson is 1", send_cv);
        else
            printf("    note: the engine thread was held off for %.0f ms (max send lag); "
                   "send-gap CV %.3f not judged\n",
                   max_lag * 1e3, send_cv);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_complementary_engines_reproduce_the_single_engine_schedule(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "2"))
        return;
    const char *urls[1] = {srv.url};
    const double segs[3][2] = {{0, 1}, {0, 0.37}, {0.37, 1}};
    engine_t *engines[3];
    testkit_run_t runs[3];
    int64_t t0 = clock_now_ns() + 100 * NS_PER_MS;
    char err[256];
    for (int e = 0; e < 3; e++) {
        engine_config_t config = testkit_config(urls, 1);
        config.run_t0_ns = t0;
        config.threads = e == 0 ? 1 : 2;
        engines[e] = engine_new(&config, err, sizeof err);
        REQUIRE(engines[e]);
        testkit_run_init(&runs[e], 1);
    }
    for (int e = 0; e < 3; e++) {
        engine_phase_t phase = testkit_rate_phase(ARRIVAL_POISSON, 150, 1, t0);
        phase.segment_from = segs[e][0];
        phase.segment_to = segs[e][1];
        CHECK(engine_start_phase(engines[e], &phase, err, sizeof err) == 0);
    }
    for (int e = 0; e < 3; e++) {
        CHECK(testkit_run_until_idle(engines[e], &runs[e], 20000));
        engine_destroy(&engines[e]);
    }
    static sent_t single[400], a[400], union_[800];
    size_t ns = records_parse(&runs[0].jsonl, single, 400);
    size_t na = records_parse(&runs[1].jsonl, a, 400);
    size_t nb = records_parse(&runs[2].jsonl, union_, 400);
    CHECK(na > 0 && nb > 0);
    CHECK_INT_EQ(na + nb, ns);
    memcpy(union_ + nb, a, na * sizeof a[0]);
    qsort(single, ns, sizeof single[0], cmp_index);
    qsort(union_, na + nb, sizeof union_[0], cmp_index);
    for (size_t i = 0; i < ns && i < na + nb; i++) {
        CHECK_INT_EQ(union_[i].index, single[i].index);
        CHECK_MSG(fabs(union_[i].t_sched_s - single[i].t_sched_s) < 2e-6,
                  "index %lld: %.6f vs %.6f", (long long)single[i].index, union_[i].t_sched_s,
                  single[i].t_sched_s);
    }
    /* The shares follow the segment lengths. */
    CHECK_MSG(fabs((double)na - 0.37 * (double)ns) < 8, "%zu of %zu for 37%%", na, ns);
    for (int e = 0; e < 3; e++)
        testkit_run_free(&runs[e]);
    testkit_server_stop(&srv);
}

/* A fleet of two re-segmented mid-phase (one worker takes the other's share from a
   future time, as the coordinator does when a worker is lost): the union of what both
   sent is still exactly the single-worker schedule, same indices, same intended times,
   no index sent twice, none restarted. */
static void test_new_segments_continue_the_one_global_sequence(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "2"))
        return;
    const char *urls[1] = {srv.url};
    int64_t t0 = clock_now_ns() + 100 * NS_PER_MS, from = t0 + 500 * NS_PER_MS;
    char err[256];
    engine_t *engines[3];
    testkit_run_t runs[3];
    for (int e = 0; e < 3; e++) {
        engine_config_t config = testkit_config(urls, 1);
        config.run_t0_ns = t0;
        config.threads = 1;
        engines[e] = engine_new(&config, err, sizeof err);
        REQUIRE(engines[e]);
        testkit_run_init(&runs[e], 1);
    }
    /* engine 0: the reference, alone on [0, 1); engines 1 and 2 split it, then engine 1
       takes everything from `from` on and engine 2 gets an empty segment. */
    const double first[3][2] = {{0, 1}, {0, 0.5}, {0.5, 1}};
    const double second[3][2] = {{0, 1}, {0, 1}, {1, 1}};
    for (int e = 0; e < 3; e++) {
        engine_phase_t phase = testkit_rate_phase(ARRIVAL_POISSON, 120, 1.2, t0);
        phase.segment_from = first[e][0];
        phase.segment_to = first[e][1];
        CHECK(engine_start_phase(engines[e], &phase, err, sizeof err) == 0);
    }
    /* as the coordinator does: new segments for a phase that is already running */
    clock_sleep_until_ns(t0 + 100 * NS_PER_MS);
    for (int e = 1; e < 3; e++) {
        engine_phase_t phase = testkit_rate_phase(ARRIVAL_POISSON, 120, 1.2, t0);
        phase.epoch = 2;
        phase.from_ns = from;
        phase.segment_from = second[e][0];
        phase.segment_to = second[e][1];
        CHECK(engine_start_phase(engines[e], &phase, err, sizeof err) == 0);
    }
    for (int e = 0; e < 3; e++) {
        CHECK(testkit_run_until_idle(engines[e], &runs[e], 20000));
        engine_destroy(&engines[e]);
    }
    static sent_t single[400], fleet[800];
    size_t ns = records_parse(&runs[0].jsonl, single, 400);
    size_t n1 = records_parse(&runs[1].jsonl, fleet, 400);
    size_t n2 = records_parse(&runs[2].jsonl, fleet + n1, 400);
    CHECK(ns > 100 && n1 > 0 && n2 > 0);
    /* engine 2 stopped at the takeover: nothing it sent was intended after it */
    double from_s = (double)(from - t0) / 1e9;
    for (size_t i = n1; i < n1 + n2; i++)
        CHECK_MSG(fleet[i].t_sched_s < from_s, "engine 2 sent index %lld intended at %.3f s",
                  (long long)fleet[i].index, fleet[i].t_sched_s);
    CHECK_INT_EQ(n1 + n2, ns);
    qsort(single, ns, sizeof single[0], cmp_index);
    qsort(fleet, n1 + n2, sizeof fleet[0], cmp_index);
    for (size_t i = 0; i < ns && i < n1 + n2; i++) {
        CHECK_INT_EQ(fleet[i].index, single[i].index);
        CHECK_MSG(fabs(fleet[i].t_sched_s - single[i].t_sched_s) < 2e-6, "index %lld: %.6f vs %.6f",
                  (long long)single[i].index, fleet[i].t_sched_s, single[i].t_sched_s);
    }
    for (int e = 0; e < 3; e++)
        testkit_run_free(&runs[e]);
    testkit_server_stop(&srv);
}

static void test_inflight_cap_counts_dropped_arrivals(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "300", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.max_inflight = 5;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 1, clock_now_ns());
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        const metrics_counters_t *c = &run.total->c;
        CHECK_INT_EQ(c->scheduled, 100);
        CHECK_INT_EQ(c->sent + c->dropped, 100);
        CHECK(c->dropped > 50); /* 5 in flight x 300 ms each: ~17 sendable per second */
        CHECK_INT_EQ(c->ok, c->sent);
        long max_conc = testkit_server_stat(&srv, "max_concurrent");
        CHECK_MSG(max_conc >= 1 && max_conc <= 5, "server saw %ld concurrent", max_conc);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_closed_loop_concurrency_reaches_but_never_exceeds_n(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "20", "5"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 0, 1, clock_now_ns());
    phase.load = PHASE_LOAD_CONCURRENCY;
    phase.concurrency = 6;
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        long max_conc = testkit_server_stat(&srv, "max_concurrent");
        CHECK_MSG(max_conc == 6, "server saw at most %ld concurrent, expected 6", max_conc);
        /* ~24 ms per request, 6 at a time, for 1 s: about 250 */
        CHECK_MSG(run.total->c.sent > 100 && run.total->c.sent < 400, "%lld sent",
                  (long long)run.total->c.sent);
        CHECK_INT_EQ(run.total->c.ok, run.total->c.sent);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_users_think_between_answer_and_next_send(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "10", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 0, 1.5, clock_now_ns());
    phase.load = PHASE_LOAD_USERS;
    phase.users = 4;
    phase.think_time_mean_s = 0.2;
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        long max_conc = testkit_server_stat(&srv, "max_concurrent");
        CHECK_MSG(max_conc >= 1 && max_conc <= 4, "server saw %ld concurrent", max_conc);
        /* 4 users x 1.5 s / (~0.21 s per cycle) ~ 29; without think time it would be ~500 */
        CHECK_MSG(run.total->c.sent >= 10 && run.total->c.sent <= 60, "%lld sent",
                  (long long)run.total->c.sent);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_catch_up_after_a_stall_is_at_most_twice_the_rate(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.threads = 1;
    /* A phase that started 400 ms ago: 40 arrivals are already overdue. */
    int64_t t0 = clock_now_ns() - 400 * NS_PER_MS;
    config.run_t0_ns = t0;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 1.5, t0);
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        static sent_t s[200];
        size_t n = records_parse(&run.jsonl, s, 200);
        CHECK_INT_EQ(n, 150); /* nothing skipped */
        double min_gap = 1;
        for (size_t i = 1; i < n; i++)
            min_gap = fmin(min_gap, s[i].t_send_s - s[i - 1].t_send_s);
        /* twice the rate is a 5 ms gap; allow 0.5 ms of timer jitter */
        CHECK_MSG(min_gap > 0.0045, "smallest send gap %.3f ms", min_gap * 1e3);
        CHECK_MSG(s[0].t_send_s - s[0].t_sched_s > 0.35, "first lag %.3f s",
                  s[0].t_send_s - s[0].t_sched_s);
        /* caught up: 400 ms behind, gaining 5 ms per send, so on time after ~80 sends */
        double late_lag = s[n - 1].t_send_s - s[n - 1].t_sched_s;
        CHECK_MSG(late_lag < 0.025, "last lag %.3f ms", late_lag * 1e3);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

/* An engine asked for far more than it can send (100,000/s: a send costs more than the
   5 us catch-up gap, so every arrival is due the moment the last one went out) still
   reads its sockets between sends: answers complete while it is sending, and their
   connections are reused. Before the pacer had a send budget per turn it sent the whole
   overdue schedule before reading anything: no request could end before the last send,
   and every request opened a connection of its own. */
static void test_an_overloaded_engine_still_reads_answers_while_sending(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "0", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.threads = 1;
    int64_t t0 = clock_now_ns();
    config.run_t0_ns = t0;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 100000, 0.01, t0); /* 1,000 */
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        const metrics_counters_t *c = &run.total->c;
        CHECK_INT_EQ(c->scheduled, 1000);
        CHECK_INT_EQ(c->sent + c->dropped, 1000);
        CHECK_INT_EQ(c->ok, c->sent);
        /* records, sorted by send time: the last one holds the last send */
        static sent_t rec[1000];
        size_t n = records_parse(&run.jsonl, rec, 1000), ended_before_last_send = 0;
        CHECK_INT_EQ(n, c->sent);
        for (size_t i = 0; n > 0 && i < n; i++)
            ended_before_last_send += rec[i].t_end_s < rec[n - 1].t_send_s;
        long conns = testkit_server_stat(&srv, "connections") - 1; /* minus /stats */
        printf("  %zu of %zu requests ended before the last send; %ld connections\n",
               ended_before_last_send, n, conns);
        CHECK_MSG(ended_before_last_send > 0, "no answer was read while sending (%zu requests)", n);
        CHECK_MSG(conns < (long)n, "%ld connections for %zu requests: none reused", conns, n);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);
}

static void test_phase_with_an_old_epoch_is_ignored(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 40, 0.5, clock_now_ns());
    phase.epoch = 5;
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    engine_phase_t replay = phase;
    replay.schedule.start_rate_per_s = replay.schedule.end_rate_per_s = 400;
    CHECK(engine_start_phase(engine, &replay, err, sizeof err) == 0); /* same epoch: ignored */
    replay.epoch = 4;
    CHECK(engine_start_phase(engine, &replay, err, sizeof err) == 0); /* older: ignored */
    testkit_run_t run;
    testkit_run_init(&run, 1);
    CHECK(testkit_run_until_idle(engine, &run, 10000));
    CHECK_INT_EQ(run.total->c.sent, 20);
    /* a bad phase is refused with a reason */
    phase.epoch = 6;
    phase.segment_to = 1.5;
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) != 0);
    CHECK(strstr(err, "segment") != NULL);
    testkit_run_free(&run);
    engine_destroy(&engine);
    testkit_server_stop(&srv);
}

static void test_least_inflight_sends_more_to_the_faster_target(void)
{
    testkit_server_t fast, slow;
    if (!server_start(&fast, "2", "1"))
        return;
    if (!server_start(&slow, "200", "1")) {
        testkit_server_stop(&fast);
        return;
    }
    const char *urls[2] = {fast.url, slow.url};
    engine_config_t config = testkit_config(urls, 2);
    config.balance = ENGINE_BALANCE_LEAST_INFLIGHT;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 1, clock_now_ns());
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        int64_t to_fast = run.per_target[0]->c.sent, to_slow = run.per_target[1]->c.sent;
        CHECK_INT_EQ(to_fast + to_slow, 100);
        CHECK_MSG(to_fast > 3 * to_slow, "fast %lld, slow %lld", (long long)to_fast,
                  (long long)to_slow);
        testkit_run_free(&run);
    }
    config.balance = ENGINE_BALANCE_ROUND_ROBIN;
    config.threads = 1;
    phase.t0_ns = clock_now_ns();
    if (run_phase(&config, &phase, &run)) {
        CHECK_INT_EQ(run.per_target[0]->c.sent, 50);
        CHECK_INT_EQ(run.per_target[1]->c.sent, 50);
        testkit_run_free(&run);
    }
    testkit_server_stop(&fast);
    testkit_server_stop(&slow);
}

static void test_connection_cap_per_user_and_prewarm_shape_the_pool(void)
{
    testkit_server_t srv;
    /* cap: 6 users behind 2 connections -> the server never sees more than 2 */
    if (!server_start(&srv, "5", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.max_connections_per_target = 2;
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 0, 0.5, clock_now_ns());
    phase.load = PHASE_LOAD_CONCURRENCY;
    phase.concurrency = 6;
    testkit_run_t run;
    if (run_phase(&config, &phase, &run)) {
        CHECK(run.total->c.ok > 20);
        long conns = testkit_server_stat(&srv, "connections") - 1; /* minus /stats */
        long conc = testkit_server_stat(&srv, "max_concurrent");
        CHECK_MSG(conns >= 1 && conns <= 2, "%ld connections under a cap of 2", conns);
        CHECK_MSG(conc <= 2, "%ld concurrent under a cap of 2", conc);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);

    /* one dedicated keep-alive connection per user: 4 thinking users rarely overlap, so a
       shared pool would need 1 or 2 connections; dedicated ones are exactly 4 */
    if (!server_start(&srv, "5", "1"))
        return;
    urls[0] = srv.url;
    config = testkit_config(urls, 1);
    config.connection_per_user = true;
    config.threads = 1; /* one pool: with two, a shared pool would need 2 at least */
    phase.load = PHASE_LOAD_USERS;
    phase.users = 4;
    phase.think_time_mean_s = 0.05;
    phase.t0_ns = clock_now_ns();
    if (run_phase(&config, &phase, &run)) {
        CHECK(run.total->c.ok > 10);
        long conns = testkit_server_stat(&srv, "connections") - 1; /* minus /stats */
        CHECK_MSG(conns == 4, "%ld connections for 4 users", conns);
        testkit_run_free(&run);
    }
    testkit_server_stop(&srv);

    /* prewarm: connections open before any request is sent */
    if (!server_start(&srv, "5", "1"))
        return;
    urls[0] = srv.url;
    config = testkit_config(urls, 1);
    config.prewarm = true;
    config.threads = 2;
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    long conns = 0;
    for (int i = 0; i < 50 && conns < 2; i++) {
        usleep(20000);
        conns = testkit_server_stat(&srv, "connections") - 1; /* minus the /stats one */
    }
    CHECK_MSG(conns == 2, "%ld warm connections for 2 threads", conns);
    CHECK_INT_EQ(testkit_server_stat(&srv, "requests"), 0);
    engine_destroy(&engine);
    testkit_server_stop(&srv);
}

/* The product rule: an arrival that cannot be sent is counted, never silently skipped.
   Over a run, scheduled = sent + dropped exactly. */

static void test_arrivals_held_back_when_a_phase_replaces_them_are_counted_dropped(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.threads = 1;
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    /* Phase 1 started 400 ms ago at 100/s: 40 arrivals are overdue, and catch-up at twice
       the rate gains only 5 ms per send. Phase 2 replaces it 100 ms from now, so phase 1
       owns exactly the 50 arrivals due before then (0, 10, ..., 490 ms after its t0), and
       at most 21 of them can have gone out by then. */
    int64_t now = clock_now_ns();
    engine_phase_t first = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 1.5, now - 400 * NS_PER_MS);
    first.epoch = 1;
    engine_phase_t second = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 0.2, now + 100 * NS_PER_MS);
    second.epoch = 2;
    CHECK(engine_start_phase(engine, &first, err, sizeof err) == 0);
    CHECK(engine_start_phase(engine, &second, err, sizeof err) == 0);
    testkit_run_t run;
    testkit_run_init(&run, 1);
    CHECK(testkit_run_until_idle(engine, &run, 10000));
    const metrics_counters_t *c = &run.total->c;
    CHECK_INT_EQ(c->scheduled, 50 + 20);
    CHECK_INT_EQ(c->sent + c->dropped, c->scheduled);
    CHECK_MSG(c->dropped >= 29, "%lld dropped: the held-back arrivals were lost silently",
              (long long)c->dropped);
    CHECK_INT_EQ(c->ok, c->sent);
    testkit_run_free(&run);
    engine_destroy(&engine);
    testkit_server_stop(&srv);
}

/* Arrivals of the global sequence that are due (intended time <= t_ns), for a constant
   rate phase that started at t0_ns. */
static int64_t constant_due(int64_t t0_ns, double rate, int64_t t_ns)
{
    return t_ns < t0_ns ? 0 : (int64_t)floor((double)(t_ns - t0_ns) * rate / 1e9) + 1;
}

static void test_arrivals_held_back_at_halt_are_counted_dropped(void)
{
    testkit_server_t srv;
    if (!server_start(&srv, "1", "1"))
        return;
    const char *urls[1] = {srv.url};
    engine_config_t config = testkit_config(urls, 1);
    config.threads = 1;
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    int64_t t0 = clock_now_ns() - 400 * NS_PER_MS; /* 40 arrivals overdue at once */
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 100, 1.5, t0);
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    usleep(100000);
    int64_t before = clock_now_ns();
    engine_halt(engine, false);
    int64_t after = clock_now_ns();
    testkit_run_t run;
    testkit_run_init(&run, 1);
    CHECK(testkit_run_until_idle(engine, &run, 10000));
    const metrics_counters_t *c = &run.total->c;
    /* Everything due when the halt landed was scheduled: sent, or counted as dropped. */
    CHECK_MSG(c->scheduled >= constant_due(t0, 100, before) - 1 &&
                  c->scheduled <= constant_due(t0, 100, after),
              "%lld scheduled, %lld..%lld were due at the halt", (long long)c->scheduled,
              (long long)constant_due(t0, 100, before), (long long)constant_due(t0, 100, after));
    CHECK_INT_EQ(c->sent + c->dropped, c->scheduled);
    CHECK_MSG(c->dropped > 0, "nothing dropped: the held-back arrivals were lost silently");
    testkit_run_free(&run);
    engine_destroy(&engine);
    testkit_server_stop(&srv);
}

CHECK_MAIN(test_constant_rate_sends_exact_count_with_even_gaps,
           test_poisson_send_gaps_pass_the_dispersion_check,
           test_complementary_engines_reproduce_the_single_engine_schedule,
           test_new_segments_continue_the_one_global_sequence,
           test_inflight_cap_counts_dropped_arrivals,
           test_closed_loop_concurrency_reaches_but_never_exceeds_n,
           test_users_think_between_answer_and_next_send,
           test_catch_up_after_a_stall_is_at_most_twice_the_rate,
           test_an_overloaded_engine_still_reads_answers_while_sending,
           test_phase_with_an_old_epoch_is_ignored,
           test_least_inflight_sends_more_to_the_faster_target,
           test_connection_cap_per_user_and_prewarm_shape_the_pool,
           test_arrivals_held_back_when_a_phase_replaces_them_are_counted_dropped,
           test_arrivals_held_back_at_halt_are_counted_dropped)
