/*  test_verdict.c: the verdict logic on synthetic summaries: spread, the saturation search
    (knee found within one step, bisection, early stop), SLA checks and their renderings,
    cost and users formulas. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plan/verdict.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

/* A summary shaped like metrics_write_summary's, for one level. */
static json_t *summary_make(double ttft_p99_ms, double error_rate, double offered, double completed,
                            double tokens_per_s)
{
    return json_pack("{s:{s:f, s:f}, s:f, s:f, s:f, s:f, s:f, s:{s:i, s:i}, s:f}", "ttft_ms", "p50",
                     ttft_p99_ms / 2, "p99", ttft_p99_ms, "error_rate", error_rate, "offered_rps",
                     offered, "achieved_rps", offered, "completed_rps", completed,
                     "output_tokens_per_s", tokens_per_s, "requests", "total", 100, "errors",
                     (json_int_t)(error_rate * 100), "goodput_rps", completed * 0.9);
}

/* A cluster whose P99 TTFT sits at its floor below the knee and grows as a queue past it
   steeply past it (a hockey stick: 3x the floor 1% past the knee), delivering at most
   `capacity`. */
typedef struct {
    double floor_ms, knee_rps, capacity_rps;
} cluster_t;

static json_t *cluster_level(const cluster_t *c, double rate)
{
    double p99 = rate <= c->knee_rps ? c->floor_ms
                                     : c->floor_ms * (1 + 200 * (rate - c->knee_rps) / c->knee_rps);
    double completed = fmin(rate, c->capacity_rps);
    return summary_make(p99, 0, rate, completed, completed * 100);
}

static sat_result_t run_search(const sat_config_t *config, const cluster_t *c, double baseline,
                               double *max_offered, int *levels)
{
    sat_search_t *s = sat_search_new(config, baseline);
    sat_result_t r = {0};
    *max_offered = 0;
    *levels = 0;
    if (!s)
        return r;
    double rate;
    while (sat_search_next(s, &rate) && *levels < 1000) {
        json_t *summary = cluster_level(c, rate);
        sat_search_observe(s, summary);
        json_decref(summary);
        *max_offered = fmax(*max_offered, rate);
        (*levels)++;
    }
    sat_search_result(s, &r);
    sat_search_destroy(&s);
    return r;
}

static void test_search_finds_the_knee_within_one_step(void)
{
    const double knees[] = {7.3, 12.0, 25.5, 48.9, 3.1};
    for (size_t k = 0; k < sizeof knees / sizeof knees[0]; k++) {
        cluster_t c = {.floor_ms = 80, .knee_rps = knees[k], .capacity_rps = 1e9};
        sat_config_t config;
        sat_config_defaults(&config);
        config.start_rps = 2;
        config.step_rps = 4;
        config.max_rps = 100;
        double max_offered;
        int levels;
        sat_result_t r = run_search(&config, &c, 80, &max_offered, &levels);
        CHECK_MSG(r.reached, "knee %.1f: not reached", knees[k]);
        CHECK_MSG(fabs(r.saturation_rps - knees[k]) <= config.step_rps,
                  "knee %.1f: found %.2f, more than one step (%g) away", knees[k], r.saturation_rps,
                  config.step_rps);
        CHECK_MSG(r.saturation_rps <= knees[k] * 1.01 && r.first_bad_rps > knees[k],
                  "knee %.1f: good %.2f / bad %.2f do not straddle the 3x crossing", knees[k],
                  r.saturation_rps, r.first_bad_rps);
        CHECK(NEAR(r.operating_point_rps, 0.7 * r.saturation_rps, 1e-9));
    }
}

static void test_search_never_offers_more_than_one_step_past_the_first_bad_level(void)
{
    cluster_t c = {.floor_ms = 50, .knee_rps = 10, .capacity_rps = 1e9};
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 2;
    config.step_rps = 2;
    config.max_rps = 200;
    double max_offered;
    int levels;
    sat_result_t r = run_search(&config, &c, 50, &max_offered, &levels);
    CHECK(r.reached);
    /* the first coarse level past the knee (10) is 12: nothing above it is ever offered */
    CHECK_MSG(max_offered <= 12 + 1e-9, "offered up to %.1f req/s: the search kept hammering",
              max_offered);
    CHECK_MSG(levels <= 7 + 4, "%d levels: no early stop", levels);
}

static void test_bisection_narrows_to_the_resolution(void)
{
    cluster_t c = {.floor_ms = 50, .knee_rps = 13.3, .capacity_rps = 1e9};
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 4;
    config.step_rps = 4;
    config.max_rps = 40;
    config.resolution_rps = 0.5;
    config.max_refinements = 10;
    double max_offered;
    int levels;
    sat_result_t r = run_search(&config, &c, 50, &max_offered, &levels);
    CHECK(r.reached);
    CHECK_MSG(r.first_bad_rps - r.saturation_rps <= 0.5 + 1e-9, "good %.3f bad %.3f",
              r.saturation_rps, r.first_bad_rps);
    /* the threshold (3x the floor) is crossed at knee x 1.01 */
    CHECK_MSG(r.saturation_rps <= 13.3 * 1.01 && r.first_bad_rps > 13.3,
              "good %.3f bad %.3f around the knee 13.3", r.saturation_rps, r.first_bad_rps);
}

static void test_search_without_a_knee_reports_not_reached_at_max(void)
{
    cluster_t c = {.floor_ms = 50, .knee_rps = 1000, .capacity_rps = 1e9};
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 10;
    config.step_rps = 10;
    config.max_rps = 50;
    double max_offered;
    int levels;
    sat_result_t r = run_search(&config, &c, 50, &max_offered, &levels);
    CHECK(!r.reached);
    CHECK_INT_EQ(levels, 5);
    CHECK(NEAR(r.saturation_rps, 50, 1e-9));
    CHECK(NEAR(max_offered, 50, 1e-9));
}

static void test_queue_growth_is_a_bad_level_even_with_flat_ttft(void)
{
    /* TTFT never rises (the server rejects nothing and queues at the gateway, say) but the
       delivered rate stops at 9 req/s: offered > delivered means the queue grows. */
    cluster_t c = {.floor_ms = 50, .knee_rps = 1e9, .capacity_rps = 9};
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 2;
    config.step_rps = 2;
    config.max_rps = 40;
    double max_offered;
    int levels;
    sat_result_t r = run_search(&config, &c, 50, &max_offered, &levels);
    CHECK(r.reached);
    CHECK_MSG(r.saturation_rps >= 8 && r.saturation_rps <= 10, "saturation %.2f, capacity 9",
              r.saturation_rps);
    CHECK(NEAR(r.max_throughput_rps, 9, 1e-9));
}

static void test_error_rate_and_absolute_ttft_stop_the_ramp(void)
{
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 1;
    config.step_rps = 1;
    config.max_rps = 10;
    config.max_refinements = 1;
    config.ttft_p99_max_ms = 500;
    sat_search_t *s = sat_search_new(&config, 0); /* no baseline: factor condition off */
    REQUIRE(s);
    double rate;
    REQUIRE(sat_search_next(s, &rate));
    json_t *ok = summary_make(9999, 0, 1, 1, 10);
    CHECK(!sat_search_observe(s, ok)); /* 9999 ms > 500 ms */
    json_decref(ok);
    int count;
    const sat_level_t *levels = sat_search_levels(s, &count);
    CHECK_INT_EQ(count, 1);
    CHECK_MSG(strstr(levels[0].reason, "500") != NULL, "reason: %s", levels[0].reason);
    sat_search_destroy(&s);

    s = sat_search_new(&config, 0);
    REQUIRE(sat_search_next(s, &rate));
    json_t *errors = summary_make(100, 0.2, 1, 1, 10);
    CHECK(!sat_search_observe(s, errors));
    json_decref(errors);
    levels = sat_search_levels(s, &count);
    CHECK_MSG(strstr(levels[0].reason, "error rate") != NULL, "reason: %s", levels[0].reason);
    /* first level bad: bisect below it, never above */
    while (sat_search_next(s, &rate)) {
        CHECK(rate < 1);
        json_t *good = summary_make(100, 0, rate, rate, 10);
        sat_search_observe(s, good);
        json_decref(good);
    }
    sat_result_t r;
    sat_search_result(s, &r);
    CHECK(r.reached);
    CHECK(r.saturation_rps < 1);
    sat_search_destroy(&s);
}

static void test_answers_report_max_tokens_and_the_rate_it_came_at(void)
{
    sat_config_t config;
    sat_config_defaults(&config);
    config.start_rps = 10;
    config.step_rps = 10;
    config.max_rps = 40;
    config.operating_fraction = 0.5;
    sat_search_t *s = sat_search_new(&config, 100);
    REQUIRE(s);
    const double tokens[] = {1000, 1900, 2500, 2400};
    const double ttft[] = {100, 110, 150, 900};
    double rate;
    for (int i = 0; sat_search_next(s, &rate) && i < 4; i++) {
        json_t *summary = summary_make(ttft[i], 0, rate, rate, tokens[i]);
        sat_search_observe(s, summary);
        json_decref(summary);
        if (i == 3)
            break;
    }
    sat_result_t r;
    sat_search_result(s, &r);
    CHECK(NEAR(r.max_output_tokens_per_s, 2500, 1e-9));
    CHECK(NEAR(r.max_output_tokens_rate_rps, 30, 1e-9));
    CHECK(NEAR(r.saturation_rps, 30, 1e-9));
    CHECK(NEAR(r.operating_point_rps, 15, 1e-9));

    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    sat_search_write_json(s, &w);
    json_t *doc = json_loads(out.data, 0, NULL);
    REQUIRE(doc);
    CHECK(NEAR(json_path_number(doc, "rps"), 30, 1e-9));
    CHECK(NEAR(json_path_number(doc, "max_output_tokens_per_s"), 2500, 1e-9));
    CHECK(NEAR(json_path_number(doc, "operating_point_rps"), 15, 1e-9));
    CHECK(json_is_number(json_object_get(doc, "max_throughput_rps")));
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "levels")), 4);
    json_decref(doc);
    buf_free(&out);
    sat_search_destroy(&s);
}

static void test_bad_search_configs_are_refused_with_a_reason(void)
{
    sat_config_t config;
    sat_config_defaults(&config);
    char err[200];
    CHECK(sat_config_check(&config, err, sizeof err) != 0); /* no rates */
    config.start_rps = 10;
    config.step_rps = 1;
    config.max_rps = 5;
    CHECK(sat_config_check(&config, err, sizeof err) != 0);
    config.max_rps = 10000;
    CHECK(sat_config_check(&config, err, sizeof err) != 0); /* too many levels */
    CHECK(strstr(err, "levels") != NULL);
    config.max_rps = 50;
    CHECK(sat_config_check(&config, err, sizeof err) == 0);
    config.ttft_p99_factor = 0;
    config.max_error_rate = -1;
    config.max_rate_shortfall = -1;
    CHECK(sat_config_check(&config, err, sizeof err) != 0);
    CHECK(strstr(err, "stop condition") != NULL);
    CHECK(sat_search_new(&config, 10) == NULL);
}

static void test_iterations_average_with_their_spread(void)
{
    json_t *runs[3] = {summary_make(100, 0.0, 10, 10, 1000), summary_make(200, 0.01, 10, 9, 900),
                       summary_make(300, 0.02, 10, 8, 800)};
    json_t *avg = summary_average(runs, 3);
    REQUIRE(avg);
    CHECK(NEAR(json_path_number(avg, "ttft_ms.p99"), 200, 1e-9));
    CHECK(NEAR(json_path_number(avg, "error_rate"), 0.01, 1e-12));
    json_t *spread = json_object_get(json_object_get(avg, "spread"), "ttft_ms.p99");
    REQUIRE(spread);
    CHECK(NEAR(json_path_number(spread, "min"), 100, 1e-9));
    CHECK(NEAR(json_path_number(spread, "max"), 300, 1e-9));
    CHECK(NEAR(json_path_number(spread, "stddev"), sqrt(20000.0 / 3), 1e-9));
    CHECK_INT_EQ((int)json_path_number(spread, "n"), 3);
    CHECK_INT_EQ((int)json_path_number(avg, "iterations"), 3);
    json_decref(avg);
    for (int i = 0; i < 3; i++)
        json_decref(runs[i]);

    double values[] = {2, 4, 4, 4, 5, 5, 7, 9};
    spread_t s = spread_of(values, 8);
    CHECK(NEAR(s.mean, 5, 1e-12) && NEAR(s.stddev, 2, 1e-12) && s.min == 2 && s.max == 9);
    CHECK(isnan(spread_of(values, 0).mean));
    CHECK(summary_average(runs, 0) == NULL);
}

static void test_sla_check_expressions_parse_or_say_what_was_expected(void)
{
    sla_check_t c;
    char err[256];
    CHECK(sla_check_parse("ttft_ms.p99 <= 800", &c, err, sizeof err) == 0);
    CHECK_STR_EQ(c.metric, "ttft_ms.p99");
    CHECK(c.op == SLA_AT_MOST && c.limit == 800);
    CHECK(sla_check_parse("error_rate <= 1%", &c, err, sizeof err) == 0);
    CHECK(NEAR(c.limit, 0.01, 1e-12));
    CHECK(sla_check_parse("goodput_rps >= 5", &c, err, sizeof err) == 0);
    CHECK(c.op == SLA_AT_LEAST && c.limit == 5);
    CHECK(sla_check_parse("e2e_ms.p99<=2s", &c, err, sizeof err) == 0);
    CHECK(c.limit == 2000);
    CHECK(sla_check_parse("errors_by_class.http_5xx <= 0", &c, err, sizeof err) == 0);

    CHECK(sla_check_parse("ttft_ms.p98 <= 800", &c, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "unknown metric 'ttft_ms.p98'"), "%s", err);
    CHECK(sla_check_parse("ttft_ms.p99 < 800", &c, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "expected '<=' or '>='"), "%s", err);
    CHECK(sla_check_parse("ttft_ms.p99 <= fast", &c, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "expected a number"), "%s", err);
    CHECK(sla_check_parse("error_rate <= 1 banana", &c, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "unexpected"), "%s", err);
    CHECK(sla_check_parse("", &c, err, sizeof err) != 0);
    CHECK(!sla_metric_known("ttft.p99"));
    CHECK(!sla_metric_known("bogus_ms.p99"));
    CHECK(sla_metric_known("itl_ms.p50") && sla_metric_known("requests.errors"));
}

static void test_sla_table_passes_fails_and_treats_no_data_as_failure(void)
{
    sla_check_t checks[4];
    char err[128];
    REQUIRE(sla_check_parse("ttft_ms.p99 <= 800", &checks[0], err, sizeof err) == 0);
    REQUIRE(sla_check_parse("error_rate <= 0.01", &checks[1], err, sizeof err) == 0);
    REQUIRE(sla_check_parse("goodput_rps >= 5", &checks[2], err, sizeof err) == 0);
    REQUIRE(sla_check_parse("itl_ms.p99 <= 50", &checks[3], err, sizeof err) == 0);
    json_t *summary = summary_make(799, 0.02, 10, 10, 100); /* goodput 9; no itl_ms */
    sla_result_t results[4];
    CHECK(!sla_evaluate(checks, 4, summary, results));
    CHECK(results[0].passed && !results[1].passed && results[2].passed && !results[3].passed);
    CHECK(isnan(results[3].actual));
    CHECK(sla_evaluate(checks, 1, summary, results)); /* the first alone passes */
    sla_evaluate(checks, 4, summary, results);

    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    sla_write_json(results, 4, &w);
    json_t *doc = json_loads(out.data, 0, NULL);
    REQUIRE(doc);
    CHECK(json_is_false(json_object_get(doc, "passed")));
    json_t *first = json_array_get(json_object_get(doc, "checks"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(first, "metric")), "ttft_ms.p99");
    CHECK(NEAR(json_path_number(first, "limit"), 800, 1e-9));
    CHECK(NEAR(json_path_number(first, "actual"), 799, 1e-9));
    CHECK(json_is_true(json_object_get(first, "passed")));
    CHECK(
        json_is_null(json_object_get(json_array_get(json_object_get(doc, "checks"), 3), "actual")));
    json_decref(doc);

    buf_clear(&out);
    sla_write_junit(results, 4, "demo <plan> & \"sla\"", 12.5, &out);
    CHECK(strstr(out.data,
                 "<testsuite name=\"demo &lt;plan&gt; &amp; &quot;sla&quot;\" tests=\"4\" "
                 "failures=\"2\""));
    CHECK(strstr(out.data, "name=\"ttft_ms.p99 &lt;= 800\"/>"));
    CHECK(
        strstr(out.data, "<failure type=\"sla\" message=\"error_rate = 0.02, limit &lt;= 0.01\""));
    CHECK(strstr(out.data, "itl_ms.p99: no data"));
    buf_free(&out);

    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    sla_write_text(results, 4, mem);
    fclose(mem);
    CHECK(strstr(text, "PASS") && strstr(text, "FAIL"));
    CHECK(strstr(text, "no data"));
    CHECK(strstr(text, "SLA: FAIL (4 checks)"));
    free(text);
    json_decref(summary);
}

static void test_cost_per_million_tokens_follows_the_formula(void)
{
    cost_config_t cost = {.gpu_count = 64, .price_per_gpu_hour = 2.5, .utilisation = 0.5};
    /* 64 x 2.5 / 3600 = 0.0444 per second; at 10000 tok/s x 0.5 -> 8.888... per million */
    CHECK(NEAR(cost_per_million_output_tokens(&cost, 10000), 64 * 2.5 / 3600 / 5000 * 1e6, 1e-9));
    cost.utilisation = 0; /* unset = 1 */
    CHECK(NEAR(cost_per_million_output_tokens(&cost, 10000), 64 * 2.5 / 3600 / 10000 * 1e6, 1e-9));
    CHECK(isnan(cost_per_million_output_tokens(&cost, 0)));

    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    cost_write_json(&cost, 10000, 7000, &w);
    json_t *doc = json_loads(out.data, 0, NULL);
    REQUIRE(doc);
    CHECK(NEAR(json_path_number(doc, "at_max_throughput.per_million_output_tokens"),
               64 * 2.5 / 3600 / 10000 * 1e6, 1e-6));
    CHECK(NEAR(json_path_number(doc, "at_operating_point.per_million_output_tokens"),
               64 * 2.5 / 3600 / 7000 * 1e6, 1e-6));
    CHECK_STR_EQ(json_string_value(json_object_get(doc, "currency")), "USD");
    json_decref(doc);
    buf_free(&out);
}

static void test_users_follow_littles_law(void)
{
    CHECK(NEAR(users_supported(10, 2.5, 7.5), 100, 1e-12));
    CHECK(NEAR(users_supported(0, 2.5, 7.5), 0, 1e-12));
    CHECK(isnan(users_supported(-1, 1, 1)));
    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    users_write_json(20, 3, 27, &w);
    json_t *doc = json_loads(out.data, 0, NULL);
    CHECK(NEAR(json_path_number(doc, "users"), 600, 1e-9));
    json_decref(doc);
    buf_free(&out);
}

CHECK_MAIN(test_search_finds_the_knee_within_one_step,
           test_search_never_offers_more_than_one_step_past_the_first_bad_level,
           test_bisection_narrows_to_the_resolution,
           test_search_without_a_knee_reports_not_reached_at_max,
           test_queue_growth_is_a_bad_level_even_with_flat_ttft,
           test_error_rate_and_absolute_ttft_stop_the_ramp,
           test_answers_report_max_tokens_and_the_rate_it_came_at,
           test_bad_search_configs_are_refused_with_a_reason,
           test_iterations_average_with_their_spread,
           test_sla_check_expressions_parse_or_say_what_was_expected,
           test_sla_table_passes_fails_and_treats_no_data_as_failure,
           test_cost_per_million_tokens_follows_the_formula, test_users_follow_littles_law)
