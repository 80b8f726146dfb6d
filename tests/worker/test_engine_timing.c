/*  test_engine_timing.c: against a server with fixed, known timings, the engine reports
    the truth.

    The server (fixed_server.py) sends the first token T ms after reading the request,
    then one every I ms, N in all, and reports L, the worst lateness of its own writes
    (a Python server on a loaded machine can wake late; the client must not be blamed
    for it, nor excused beyond it). Tolerance, stated once: every request's TTFT and
    E2E lie in [truth - 0.5 ms, truth + L + 15 ms] (the client can never see a token
    before the server sends it; the upper side is loopback transit and client wake-up),
    their medians within truth + L + 4 ms; median ITL within I +- 2 ms and every TPOT
    within I +- (2 ms + 2L/(N-1)) (a late first token shortens the rest).
*/
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "testkit.h"

#define T_MS   40.0
#define I_MS   8.0
#define N_TOK  12
#define TOL_LO 0.5
#define TOL_HI 15.0

static testkit_server_t server;
static bool have_server;

static bool server_up(void)
{
    if (have_server)
        return true;
    static const char *const args[] = {"--ttft-ms", "40",        "--itl-ms", "8", "--tokens",
                                       "12",        "--backend", "node-a",   NULL};
    have_server = testkit_server_start(&server, "fixed_server.py", args);
    if (!have_server)
        check_skip("python3 or fixed_server.py unavailable");
    return have_server;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs `count` requests at 25/s with the given config tweaks; returns the records. */
static json_t *run_requests(engine_config_t *config, int count, testkit_run_t *run)
{
    const char *urls[1] = {server.url};
    config->target_urls = urls;
    config->target_count = 1;
    char err[256];
    engine_t *engine = engine_new(config, err, sizeof err);
    CHECK_MSG(engine, "engine_new: %s", err);
    if (!engine)
        return NULL;
    testkit_run_init(run, 1);
    engine_phase_t phase =
        testkit_rate_phase(ARRIVAL_CONSTANT, 25, count / 25.0, clock_now_ns() + 20 * NS_PER_MS);
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    CHECK(testkit_run_until_idle(engine, run, 15000));
    engine_destroy(&engine);
    CHECK(engine == NULL);

    json_t *records = json_array();
    char *line = run->jsonl.data;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_error_t jerr;
        json_t *rec = json_loads(line, 0, &jerr);
        CHECK_MSG(rec, "request record is not JSON: %s", jerr.text);
        if (rec)
            json_array_append_new(records, rec);
        line = nl ? nl + 1 : NULL;
    }
    return records;
}

static double num(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n ? v[n / 2] : NAN;
}

/* The server's worst lateness so far, in ms. */
static double server_late_ms(void)
{
    long us = testkit_server_stat(&server, "late_max_us");
    return us > 0 ? (double)us / 1000.0 : 0.0;
}

static void check_stream_timings(json_t *records, int count, bool estimated)
{
    const double late = server_late_ms();
    double ttft[64], e2e[64];
    size_t n = json_array_size(records);
    CHECK_INT_EQ(n, count);
    const double e2e_truth = T_MS + (N_TOK - 1) * I_MS;
    for (size_t i = 0; i < n && i < 64; i++) {
        json_t *r = json_array_get(records, i);
        CHECK(json_is_null(json_object_get(r, "error")));
        CHECK_INT_EQ(num(r, "status"), 200);
        ttft[i] = num(r, "ttft_ms");
        e2e[i] = num(r, "e2e_ms");
        CHECK_MSG(ttft[i] >= T_MS - TOL_LO && ttft[i] <= T_MS + late + TOL_HI,
                  "TTFT %.3f ms, truth %.0f (server late by up to %.3f)", ttft[i], T_MS, late);
        CHECK_MSG(e2e[i] >= e2e_truth - TOL_LO && e2e[i] <= e2e_truth + late + TOL_HI,
                  "E2E %.3f ms, truth %.0f (server late by up to %.3f)", e2e[i], e2e_truth, late);
        double tpot = (e2e[i] - ttft[i]) / (N_TOK - 1);
        CHECK_MSG(fabs(tpot - I_MS) <= 2.0 + 2 * late / (N_TOK - 1), "TPOT %.3f ms, truth %.0f",
                  tpot, I_MS);
        CHECK_INT_EQ(num(r, "output_tokens"), N_TOK);
        CHECK(json_is_true(json_object_get(r, "tokens_estimated")) == estimated);
        CHECK(num(r, "ttft_sched_ms") >= ttft[i]);
        CHECK(num(r, "response_ms") >= e2e[i]);
    }
    CHECK_MSG(median(ttft, n) <= T_MS + late + 4, "median TTFT %.3f", median(ttft, n));
    CHECK_MSG(median(e2e, n) <= e2e_truth + late + 4, "median E2E %.3f", median(e2e, n));
}

static void test_chat_stream_timings_match_the_server_truth(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    json_t *records = run_requests(&config, 20, &run);
    REQUIRE(records);
    check_stream_timings(records, 20, false);
    const metrics_t *m = run.total;
    CHECK_INT_EQ(m->c.sent, 20);
    CHECK_INT_EQ(m->c.ok, 20);
    CHECK_INT_EQ(m->c.failed, 0);
    CHECK_INT_EQ(m->c.output_tokens, 20 * N_TOK); /* from usage */
    CHECK_INT_EQ(m->c.input_tokens, 20 * 7);
    CHECK_INT_EQ(m->c.tokens_estimated, 0);
    /* ITL: one sample per gap between content events, N-1 per request */
    const hist_t *itl = m->hist[METRIC_ITL];
    CHECK_INT_EQ(hist_total_count(itl), 20 * (N_TOK - 1));
    double itl_p50_ms = (double)hist_value_at_percentile(itl, 50) / 1000.0;
    CHECK_MSG(fabs(itl_p50_ms - I_MS) <= 2.0, "ITL p50 %.3f ms", itl_p50_ms);
    CHECK_INT_EQ(hist_total_count(m->hist[METRIC_TTFT]), 20);
    CHECK_INT_EQ(hist_total_count(m->hist[METRIC_TPOT]), 20);
    CHECK_INT_EQ(hist_total_count(m->hist[METRIC_LAG]), 20);
    CHECK(m->c.bytes_in > 0);
    /* The per-target breakdown of a single target is the total. */
    CHECK_INT_EQ(run.per_target[0]->c.ok, 20);
    json_decref(records);
    testkit_run_free(&run);
}

static void test_completions_api_and_continuous_usage_count_server_tokens(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    config.api = ENGINE_API_COMPLETIONS;
    config.continuous_usage_stats = true;
    json_t *records = run_requests(&config, 10, &run);
    REQUIRE(records);
    check_stream_timings(records, 10, false);
    CHECK_INT_EQ(run.total->c.output_tokens, 10 * N_TOK);
    json_decref(records);
    testkit_run_free(&run);
}

static void test_without_usage_tokens_are_counted_from_events_and_flagged(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    config.include_usage = false;
    json_t *records = run_requests(&config, 10, &run);
    REQUIRE(records);
    check_stream_timings(records, 10, true);
    CHECK_INT_EQ(run.total->c.output_tokens, 10 * N_TOK);
    CHECK_INT_EQ(run.total->c.tokens_estimated, 10);
    json_decref(records);
    testkit_run_free(&run);
}

static void test_non_streaming_e2e_and_usage_match_the_truth(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    config.stream = false;
    json_t *records = run_requests(&config, 10, &run);
    REQUIRE(records);
    const double e2e_truth = T_MS + (N_TOK - 1) * I_MS, late = server_late_ms();
    CHECK_INT_EQ(json_array_size(records), 10);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *r = json_array_get(records, i);
        CHECK(json_is_null(json_object_get(r, "error")));
        CHECK(json_is_null(json_object_get(r, "ttft_ms"))); /* no stream, no first token */
        double e2e = num(r, "e2e_ms");
        CHECK_MSG(e2e >= e2e_truth - TOL_LO && e2e <= e2e_truth + late + TOL_HI, "E2E %.3f", e2e);
    }
    CHECK_INT_EQ(run.total->c.ok, 10);
    CHECK_INT_EQ(run.total->c.output_tokens, 10 * N_TOK);
    json_decref(records);
    testkit_run_free(&run);
}

static void test_non_streaming_body_of_20000_json_tokens_is_parsed_not_malformed(void)
{
    /* 600 output tokens with logprobs and 2 alternatives each: ~21,000 JSON tokens in one
       body, ten times what the per-event parser holds. */
    testkit_server_t big;
    static const char *const args[] = {"--ttft-ms", "1", "--itl-ms", "0", "--tokens", "600", NULL};
    if (!testkit_server_start(&big, "fixed_server.py", args)) {
        check_skip("python3 or fixed_server.py unavailable");
        return;
    }
    const char *urls[1] = {big.url};
    engine_config_t config = testkit_config(urls, 1);
    config.stream = false;
    config.extra_body_json = "{\"logprobs\": true, \"top_logprobs\": 2}";
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    testkit_run_t run;
    testkit_run_init(&run, 1);
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 20, 0.25, clock_now_ns());
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    CHECK(testkit_run_until_idle(engine, &run, 15000));
    engine_destroy(&engine);
    const metrics_counters_t *c = &run.total->c;
    CHECK_INT_EQ(c->sent, 5);
    CHECK_MSG(c->errors[ERR_MALFORMED] == 0, "%lld of 5 bodies classed malformed",
              (long long)c->errors[ERR_MALFORMED]);
    CHECK_INT_EQ(c->ok, 5);
    CHECK_INT_EQ(c->output_tokens, 5 * 600); /* the usage after the logprobs was read */
    CHECK_INT_EQ(c->tokens_estimated, 0);
    testkit_run_free(&run);
    testkit_server_stop(&big);
}

static void test_each_prompt_carries_its_own_max_tokens(void)
{
    if (!server_up())
        return;
    /* The server sends min(12, max_tokens) tokens and reports them in usage, so each
       request's output_tokens is the max_tokens its body carried. Arrival i uses prompt
       i mod 3: 2, 5, then 0 = the run's max_tokens (7). */
    static const int per_prompt[3] = {2, 5, 0};
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    config.max_tokens = 7;
    config.prompt_max_tokens = per_prompt;
    json_t *records = run_requests(&config, 9, &run);
    REQUIRE(records);
    CHECK_INT_EQ(json_array_size(records), 9);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *r = json_array_get(records, i);
        int64_t index = (int64_t)num(r, "index");
        const int want[3] = {2, 5, 7};
        CHECK(json_is_null(json_object_get(r, "error")));
        CHECK_MSG(num(r, "output_tokens") == want[index % 3], "arrival %lld: %g tokens, want %d",
                  (long long)index, num(r, "output_tokens"), want[index % 3]);
    }
    json_decref(records);
    testkit_run_free(&run);

    static const int negative[3] = {1, -1, 1};
    config = testkit_config((const char *const[]){"http://127.0.0.1:1"}, 1);
    config.prompt_max_tokens = negative;
    char err[256];
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "prompt 1") != NULL);
}

static void test_captured_header_groups_request_records(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    config.capture_header = "X-Backend";
    json_t *records = run_requests(&config, 5, &run);
    REQUIRE(records);
    CHECK_INT_EQ(json_array_size(records), 5);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *g = json_object_get(json_array_get(records, i), "group");
        CHECK(json_is_string(g) && strcmp(json_string_value(g), "node-a") == 0);
    }
    json_decref(records);
    testkit_run_free(&run);
}

static void test_api_key_from_env_or_file_is_sent_and_never_recorded(void)
{
    static const char *const args[] = {"--ttft-ms", "1", "--itl-ms",      "1",
                                       "--tokens",  "2", "--require-key", "sk-secret-value-123",
                                       NULL};
    testkit_server_t keyed;
    if (!testkit_server_start(&keyed, "fixed_server.py", args)) {
        check_skip("python3 or fixed_server.py unavailable");
        return;
    }
    const char *urls[1] = {keyed.url};
    char err[256];
    char path[] = "/tmp/surge-test-key-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "sk-secret-value-123\n", 20) == 20);
    close(fd);
    setenv("SURGE_TEST_KEY", "sk-secret-value-123", 1);
    for (int source = 0; source < 3; source++) {
        engine_config_t config = testkit_config(urls, 1);
        if (source == 0)
            config.api_key_env = "SURGE_TEST_KEY";
        else if (source == 1)
            config.api_key_file = path;
        engine_t *engine = engine_new(&config, err, sizeof err);
        REQUIRE(engine);
        testkit_run_t run;
        testkit_run_init(&run, 1);
        engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 20, 0.2, clock_now_ns());
        CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
        CHECK(testkit_run_until_idle(engine, &run, 10000));
        engine_destroy(&engine);
        if (source < 2) { /* the server accepted the key */
            CHECK_INT_EQ(run.total->c.ok, 4);
        } else { /* no key: 401 */
            CHECK_INT_EQ(run.total->c.errors[ERR_HTTP_4XX], 4);
        }
        CHECK(run.jsonl.data && !strstr(run.jsonl.data, "sk-secret"));
        testkit_run_free(&run);
    }
    unlink(path);
    testkit_server_stop(&keyed);

    /* A missing variable or file is an error that names it, never a value. */
    engine_config_t config = testkit_config(urls, 1);
    config.api_key_env = "SURGE_TEST_KEY_MISSING";
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "SURGE_TEST_KEY_MISSING") != NULL);
    config.api_key_env = NULL;
    config.api_key_file = "/nonexistent/key";
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/key") != NULL);
    CHECK(!strstr(err, "sk-secret"));
    unsetenv("SURGE_TEST_KEY");
}

/* Each request counts in its prompt's class (by body index: arrival index % prompts), and
   its record names the class; the classes add up to the total. */
static void test_each_request_counts_in_its_prompts_class(void)
{
    if (!server_up())
        return;
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    int classes[3] = {1, 0, 1}; /* "Say hello." and "Tell a story." are class 1 */
    config.prompt_class = classes;
    config.class_count = 2;
    json_t *records = run_requests(&config, 12, &run);
    REQUIRE(records);
    REQUIRE(run.class_count == 2);
    CHECK_INT_EQ(run.total->c.ok, 12);
    const metrics_t *c0 = run.per_class[0], *c1 = run.per_class[1];
    CHECK_INT_EQ(c0->c.ok, 4);
    CHECK_INT_EQ(c1->c.ok, 8);
    CHECK_INT_EQ(c0->c.sent + c1->c.sent, run.total->c.sent);
    CHECK_INT_EQ(c0->c.output_tokens + c1->c.output_tokens, run.total->c.output_tokens);
    CHECK_INT_EQ(c0->c.output_tokens_received + c1->c.output_tokens_received,
                 run.total->c.output_tokens_received);
    CHECK_INT_EQ(hist_total_count(c0->hist[METRIC_TTFT]), 4);
    CHECK_INT_EQ(hist_total_count(c0->hist[METRIC_ITL]) + hist_total_count(c1->hist[METRIC_ITL]),
                 hist_total_count(run.total->hist[METRIC_ITL]));
    CHECK_INT_EQ(hist_total_count(c1->hist[METRIC_LAG]), 8);
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        int64_t index = (int64_t)num(rec, "index");
        CHECK_INT_EQ((int64_t)num(rec, "class"), classes[index % 3]);
    }
    json_decref(records);
    testkit_run_free(&run);
}

static void test_bad_config_is_refused_with_a_reason(void)
{
    char err[256];
    const char *bad[1] = {"ftp://127.0.0.1:1"};
    engine_config_t config = testkit_config(bad, 1);
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "ftp://") != NULL);
    const char *good[1] = {"http://127.0.0.1:1"};
    config = testkit_config(good, 1);
    config.extra_body_json = "[1,2]";
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "extra body") != NULL);
    config.extra_body_json = NULL;
    /* Classes: each prompt's class inside [0, class_count), at most ENGINE_MAX_CLASSES. */
    int classes[3] = {0, 2, 1};
    config.prompt_class = classes;
    config.class_count = 2;
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    CHECK(strstr(err, "prompt 1 has class 2") != NULL);
    config.class_count = ENGINE_MAX_CLASSES + 1;
    CHECK(engine_new(&config, err, sizeof err) == NULL);
    config.prompt_class = NULL;
    config.class_count = 0;
    config.prompt_count = 0;
    CHECK(engine_new(&config, err, sizeof err) == NULL);
}

static void stop_server(void)
{
    if (have_server)
        testkit_server_stop(&server);
}

/* A proxy in the environment must not sit between surge and its targets: with one that
   refuses everything (port 9, discard, nothing listens), every request still succeeds. */
static void test_proxy_environment_is_ignored(void)
{
    if (!server_up())
        return;
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        setenv(names[i], "http://127.0.0.1:9", 1);
    testkit_run_t run;
    engine_config_t config = testkit_config(NULL, 1);
    json_t *records = run_requests(&config, 5, &run);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
    REQUIRE(records);
    CHECK_INT_EQ(run.total->c.ok, 5);
    CHECK_INT_EQ(run.total->c.errors[ERR_CONNECT], 0);
    json_decref(records);
    testkit_run_free(&run);
}

static void test_zz_stop_server(void)
{
    stop_server();
}

CHECK_MAIN(test_chat_stream_timings_match_the_server_truth,
           test_completions_api_and_continuous_usage_count_server_tokens,
           test_without_usage_tokens_are_counted_from_events_and_flagged,
           test_non_streaming_e2e_and_usage_match_the_truth,
           test_non_streaming_body_of_20000_json_tokens_is_parsed_not_malformed,
           test_each_prompt_carries_its_own_max_tokens,
           test_each_request_counts_in_its_prompts_class,
           test_captured_header_groups_request_records,
           test_api_key_from_env_or_file_is_sent_and_never_recorded,
           test_bad_config_is_refused_with_a_reason, test_proxy_environment_is_ignored,
           test_zz_stop_server)
