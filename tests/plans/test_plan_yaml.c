/*  test_plan_yaml.c: the plan file: what a valid plan becomes (phases written out, stages,
    search settings, SLA checks, workload) and every error message, each naming
    FILE:LINE:COL and what was expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "plan/plan_yaml.h"

#define HEAD                                                                                       \
    "targets: [http://127.0.0.1:8000]\n"                                                           \
    "model: m\n"

static plan_t *load_ok(const char *text, plan_extra_t **extra)
{
    char err[1024] = "";
    plan_t *plan = plan_yaml_load_text(text, strlen(text), "t.yaml", extra, err, sizeof err);
    CHECK_MSG(plan != NULL, "expected a valid plan, got: %s", err);
    return plan;
}

/* The load fails and the message starts with `where` and contains `what`. */
static void expect_error(const char *text, const char *where, const char *what)
{
    char err[1024] = "";
    plan_extra_t *extra = NULL;
    plan_t *plan = plan_yaml_load_text(text, strlen(text), "t.yaml", &extra, err, sizeof err);
    CHECK_MSG(plan == NULL, "expected an error at %s (%s), but the plan loaded", where, what);
    CHECK_MSG(extra == NULL, "extra left behind on error");
    CHECK_MSG(strncmp(err, where, strlen(where)) == 0, "expected '%s' at the start of: %s", where,
              err);
    CHECK_MSG(strstr(err, what) != NULL, "expected '%s' in: %s", what, err);
    plan_destroy(&plan);
    plan_extra_destroy(&extra);
}

static void test_minimal_plan_has_defaults_and_default_prompts(void)
{
    plan_extra_t *x = NULL;
    plan_t *p =
        load_ok(HEAD "phases:\n  - kind: constant\n    rate: 1200/min\n    duration: 1m30s\n", &x);
    REQUIRE(p && x);
    CHECK_INT_EQ(p->target_count, 1);
    CHECK_STR_EQ(p->model, "m");
    CHECK_STR_EQ(p->api, "chat");
    CHECK(p->stream);
    CHECK_INT_EQ(p->phase_count, 1);
    CHECK_STR_EQ(p->phases[0].name, "constant");
    CHECK(p->phases[0].schedule.start_rate_per_s == 20 &&
          p->phases[0].schedule.end_rate_per_s == 20);
    CHECK(p->phases[0].schedule.arrival == ARRIVAL_POISSON);
    CHECK_INT_EQ(p->phases[0].duration_ms, 90000);
    CHECK(p->phases[0].measure);
    CHECK(p->prompt_count >= 60); /* the default prompts */
    /* No mix: one class, "default", which every prompt belongs to. */
    REQUIRE(p->class_count == 1);
    CHECK_STR_EQ(p->class_names[0], "default");
    for (int i = 0; i < p->prompt_count; i++)
        CHECK_INT_EQ(p->prompt_class[i], 0);
    CHECK_INT_EQ(x->stage_count, 1);
    CHECK(x->workload == NULL);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_every_top_level_setting_lands_in_the_plan(void)
{
    const char *text = "name: full\n"
                       "description: all the knobs\n"
                       "targets:\n  - http://a:8000\n  - https://b:8443\n"
                       "model: llama\n"
                       "api: completions\n"
                       "stream: false\n"
                       "max_tokens: 64\n"
                       "ignore_eos: true\n"
                       "timeout: 2m\n"
                       "headers:\n  X-Team: perf\n"
                       "api_key_env: MY_KEY\n"
                       "extra_body:\n  temperature: 0.5\n  stop: [\"\\n\", end]\n  n: 1\n"
                       "  flag: true\n  nothing: null\n  quoted: \"12\"\n"
                       "max_inflight: 100\n"
                       "balance: least_inflight\n"
                       "seed: 42\n"
                       "interval: 500ms\n"
                       "slo: {ttft_ms: 800, tpot_ms: 50, e2e_ms: 9000}\n"
                       "cost: {gpu_count: 8, price_per_gpu_hour: 3.5, currency: EUR, "
                       "utilisation: 80%}\n"
                       "users: {think_time: 12s}\n"
                       "outputs: {dir: out, record_requests: true, junit: j.xml}\n"
                       "phases:\n  - kind: concurrency\n    concurrency: 4\n    duration: 10s\n"
                       "sla:\n  - error_rate <= 1%\n";
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(text, &x);
    REQUIRE(p && x);
    CHECK_STR_EQ(p->name, "full");
    CHECK_STR_EQ(x->description, "all the knobs");
    CHECK_INT_EQ(p->target_count, 2);
    CHECK_STR_EQ(p->target_urls[1], "https://b:8443");
    CHECK_STR_EQ(p->api, "completions");
    CHECK(!p->stream && p->ignore_eos);
    CHECK_INT_EQ(p->max_tokens, 64);
    CHECK_INT_EQ(p->timeout_ms, 120000);
    CHECK_INT_EQ(x->header_count, 1);
    CHECK_STR_EQ(x->headers[0], "X-Team: perf");
    CHECK_STR_EQ(p->api_key_env, "MY_KEY");
    CHECK_STR_EQ(p->extra_body_json, "{\"temperature\":0.5,\"stop\":[\"\\n\",\"end\"],\"n\":1,"
                                     "\"flag\":true,\"nothing\":null,\"quoted\":\"12\"}");
    CHECK_INT_EQ(p->max_inflight, 100);
    CHECK_STR_EQ(x->balance, "least_inflight");
    CHECK_INT_EQ(p->seed, 42);
    CHECK_INT_EQ(p->interval_ms, 500);
    CHECK(p->slo_ttft_ms == 800 && p->slo_tpot_ms == 50 && p->slo_e2e_ms == 9000);
    CHECK(x->has_cost && x->cost.gpu_count == 8 && x->cost.price_per_gpu_hour == 3.5);
    CHECK_STR_EQ(x->cost.currency, "EUR");
    CHECK(x->cost.utilisation == 0.8);
    CHECK(x->has_users && x->users_think_time_s == 12);
    CHECK_STR_EQ(p->out_dir, "out");
    CHECK(p->record_requests);
    CHECK_STR_EQ(x->junit_path, "j.xml");
    CHECK(p->phases[0].load == PHASE_LOAD_CONCURRENCY && p->phases[0].concurrency == 4);
    CHECK_INT_EQ(x->sla_check_count, 1);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_connection_and_tls_settings_land_in_the_plan(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "max_connections_per_target: 4\nconnection_per_user: true\n"
                             "prewarm: true\ncapture_header: X-Pool\nca_file: /etc/ca.pem\n"
                             "phases:\n  - {kind: constant, rate: 1, duration: 1s}\n",
                        &x);
    REQUIRE(p);
    CHECK_INT_EQ(p->max_connections_per_target, 4);
    CHECK(p->connection_per_user && p->prewarm && !p->insecure_tls);
    CHECK_STR_EQ(p->capture_header, "X-Pool");
    CHECK_STR_EQ(p->ca_file, "/etc/ca.pem");
    plan_extra_destroy(&x);
    plan_destroy(&p);
    p = load_ok(HEAD "insecure_tls: true\nphases:\n  - {kind: constant, rate: 1, duration: 1s}\n",
                &x);
    REQUIRE(p);
    CHECK(p->insecure_tls && p->ca_file == NULL);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_stepped_ramp_is_written_out_with_settle_and_iterations(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "phases:\n"
                             "  - name: warm\n    kind: warmup\n    rate: 1\n    duration: 5s\n"
                             "  - name: r\n    kind: ramp\n    start_rate: 10\n    step_rate: 10\n"
                             "    end_rate: 30\n    step_duration: 20s\n    settle: 5s\n"
                             "    iterations: 2\n    arrival: constant\n    pause: 3s\n",
                        &x);
    REQUIRE(p && x);
    CHECK_INT_EQ(p->phase_count, 1 + 3 * (1 + 2));
    CHECK(!p->phases[0].measure); /* warm-up */
    static const char *const names[] = {"r.1.settle", "r.1.i1", "r.1.i2",
                                        "r.2.settle", "r.2.i1", "r.2.i2",
                                        "r.3.settle", "r.3.i1", "r.3.i2"};
    for (int i = 0; i < 9; i++) {
        const plan_phase_t *ph = &p->phases[1 + i];
        const plan_phase_extra_t *e = &x->phases[1 + i];
        CHECK_STR_EQ(ph->name, names[i]);
        CHECK_STR_EQ(ph->kind, "ramp");
        CHECK(ph->schedule.start_rate_per_s == 10 * (1 + i / 3));
        CHECK(ph->schedule.arrival == ARRIVAL_CONSTANT);
        bool settle = i % 3 == 0;
        CHECK(ph->measure == !settle);
        CHECK(e->settle == settle);
        CHECK_INT_EQ(ph->duration_ms, settle ? 5000 : 20000);
        CHECK_INT_EQ(e->stage, 1);
        CHECK_INT_EQ(e->level, i / 3);
        CHECK_INT_EQ(e->iteration, settle ? -1 : i % 3 - 1);
    }
    CHECK_INT_EQ(p->phases[9].settle_ms, 3000); /* the pause after the stage */
    CHECK_INT_EQ(x->stages[1].first_phase, 1);
    CHECK_INT_EQ(x->stages[1].phase_count, 9);
    CHECK_INT_EQ(x->stages[1].levels, 3);
    CHECK_INT_EQ(x->stages[1].iterations, 2);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_linear_and_concurrency_ramps(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "phases:\n"
                             "  - {name: lin, kind: ramp, start_rate: 1, end_rate: 10/s, "
                             "duration: 1m}\n"
                             "  - {name: cc, kind: ramp, concurrencies: [1, 2, 8], "
                             "step_duration: 10s}\n",
                        &x);
    REQUIRE(p && x);
    CHECK_INT_EQ(p->phase_count, 4);
    CHECK(p->phases[0].schedule.start_rate_per_s == 1 &&
          p->phases[0].schedule.end_rate_per_s == 10);
    CHECK_STR_EQ(p->phases[0].name, "lin");
    CHECK(p->phases[3].load == PHASE_LOAD_CONCURRENCY && p->phases[3].concurrency == 8);
    CHECK_STR_EQ(p->phases[3].name, "cc.3");
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_saturation_search_settings_and_operating_point_phase(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "phases:\n"
                             "  - {kind: baseline, duration: 10s}\n"
                             "  - name: s\n    kind: saturation\n    start_rate: 2\n"
                             "    step_rate: 2\n    max_rate: 10\n    step_duration: 5s\n"
                             "    settle: 1s\n    resolution: 0.5/s\n    refinements: 3\n"
                             "    operating_point: 60%\n"
                             "    stop_when: {ttft_p99_factor: 4, error_rate: 2%}\n"
                             "  - {name: hold, kind: sla, rate: operating_point, duration: 20s}\n"
                             "  - {name: edge, kind: constant, rate: saturation, duration: 5s}\n"
                             "sla: [\"ttft_ms.p99 <= 900\"]\n",
                        &x);
    REQUIRE(p && x);
    CHECK_INT_EQ(x->stage_count, 4);
    const plan_stage_t *base = &x->stages[0], *s = &x->stages[1], *hold = &x->stages[2];
    CHECK(base->baseline);
    CHECK(p->phases[0].load == PHASE_LOAD_CONCURRENCY && p->phases[0].concurrency == 1);
    CHECK(s->type == PLAN_STAGE_SATURATION);
    CHECK_INT_EQ(s->levels, 5); /* 2, 4, 6, 8, 10: the coarse ramp, written out */
    CHECK_INT_EQ(s->phase_count, 10);
    CHECK(s->search.start_rps == 2 && s->search.step_rps == 2 && s->search.max_rps == 10);
    CHECK(s->search.resolution_rps == 0.5 && s->search.max_refinements == 3);
    CHECK(s->search.operating_fraction == 0.6);
    CHECK(s->search.ttft_p99_factor == 4 && s->search.max_error_rate == 0.02);
    CHECK(s->search.max_rate_shortfall < 0); /* not listed: off */
    CHECK_INT_EQ(s->hold_ms, 5000);
    CHECK_INT_EQ(s->settle_ms, 1000);
    CHECK(s->level_template.load == PHASE_LOAD_RATE && s->level_template.duration_ms == 5000);
    CHECK(s->level_template.name == NULL);
    CHECK(hold->sla && !s->sla);
    int hold_phase = hold->first_phase;
    CHECK(x->phases[hold_phase].rate_ref == PLAN_RATE_OPERATING_POINT);
    CHECK(x->phases[hold_phase].rate_fraction == 1.0);
    CHECK(p->phases[hold_phase].schedule.start_rate_per_s >
          0); /* a placeholder plan_validate accepts */
    int edge_phase = x->stages[3].first_phase;
    CHECK(x->phases[edge_phase].rate_fraction > 1.66 && x->phases[edge_phase].rate_fraction < 1.67);
    sat_search_t *search = sat_search_new(&s->search, 100);
    CHECK(search != NULL);
    sat_search_destroy(&search);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_sla_checks_in_every_form(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "phases:\n  - {name: a, kind: constant, rate: 1, duration: 1s}\n"
                             "  - {name: b, kind: constant, rate: 2, duration: 1s}\n"
                             "sla:\n  phase: b\n  junit: out.xml\n  checks:\n"
                             "    - ttft_ms.p99 <= 800\n"
                             "    - {metric: itl, percentile: 99.9, limit_ms: 40}\n"
                             "    - {metric: error_rate, limit: 0.5%}\n"
                             "    - {metric: goodput_rps, min: 1.5}\n",
                        &x);
    REQUIRE(p && x);
    CHECK_INT_EQ(x->sla_check_count, 4);
    CHECK_STR_EQ(x->sla_checks[1].metric, "itl_ms.p999");
    CHECK(x->sla_checks[1].limit == 40 && x->sla_checks[1].op == SLA_AT_MOST);
    CHECK(x->sla_checks[2].limit == 0.005);
    CHECK(x->sla_checks[3].op == SLA_AT_LEAST && x->sla_checks[3].limit == 1.5);
    CHECK(!x->stages[0].sla && x->stages[1].sla);
    CHECK_STR_EQ(x->junit_path, "out.xml");
    /* the mapping forms that plan_t can express are mirrored in plan->slos */
    CHECK_INT_EQ(p->slo_count, 2);
    CHECK_STR_EQ(p->slos[0].metric, "itl");
    CHECK(p->slos[0].percentile == 99.9 && p->slos[0].limit == 40);
    CHECK_STR_EQ(p->slos[1].metric, "error_rate");
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_workload_mix_builds_the_pool_into_the_plan(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "workload:\n  pool_size: 100\n  unique_prefix: true\n  mix:\n"
                             "    - {name: chat, weight: 70}\n"
                             "    - name: code\n      weight: 20\n"
                             "      output_tokens: {dist: uniform, min: 10, max: 20}\n"
                             "    - name: tpl\n      weight: 10\n      templates:\n"
                             "        - text: \"Summarize {topic} in {n} words\"\n"
                             "          values: {topic: [tides, bees], n: [50, 100]}\n"
                             "phases:\n  - {kind: constant, rate: 1, duration: 1s}\n",
                        &x);
    REQUIRE(p && x && x->workload);
    CHECK_INT_EQ(x->workload->count, 100);
    CHECK_INT_EQ(p->prompt_count, 100);
    int per_class[3] = {0};
    for (int i = 0; i < x->workload->count; i++) {
        const workload_item_t *it = &x->workload->items[i];
        per_class[it->class_index]++;
        CHECK_STR_EQ(p->prompts[i], it->prompt);
        CHECK_INT_EQ(p->prompt_class[i], it->class_index); /* for per-class results */
        if (it->class_index == 1)
            CHECK(it->max_tokens >= 10 && it->max_tokens <= 20);
        if (it->class_index == 2)
            CHECK(strstr(it->prompt, "Summarize ") && !strchr(it->prompt, '{'));
    }
    CHECK(per_class[0] == 70 && per_class[1] == 20 && per_class[2] == 10);
    REQUIRE(p->class_count == 3);
    CHECK_STR_EQ(p->class_names[0], "chat");
    CHECK_STR_EQ(p->class_names[1], "code");
    CHECK_STR_EQ(p->class_names[2], "tpl");
    /* no max_tokens given: the mean of the sized items (code's 10..20) */
    CHECK(p->max_tokens >= 10 && p->max_tokens <= 20);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_dataset_paths_are_relative_to_the_plan_file(void)
{
    char dir[] = "/tmp/surge-plan-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[256], data[256];
    snprintf(data, sizeof data, "%s/prompts.txt", dir);
    FILE *f = fopen(data, "w");
    REQUIRE(f);
    fputs("first prompt\n\nsecond prompt\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    f = fopen(path, "w");
    REQUIRE(f);
    fputs(HEAD "workload: {dataset: prompts.txt, pool_size: 4}\n"
               "phases: [{kind: constant, rate: 1, duration: 1s}]\n",
          f);
    fclose(f);
    char err[512] = "";
    plan_t *p = plan_yaml_load(path, NULL, err, sizeof err);
    CHECK_MSG(p != NULL, "%s", err);
    if (p) {
        CHECK_INT_EQ(p->prompt_count, 4);
        for (int i = 0; i < p->prompt_count; i++)
            CHECK(strcmp(p->prompts[i], "first prompt") == 0 ||
                  strcmp(p->prompts[i], "second prompt") == 0);
        CHECK_STR_EQ(p->source, path);
    }
    plan_destroy(&p);
    /* plan_load_file (plan.h) is the same loader */
    p = plan_load_file(path, err, sizeof err);
    CHECK(p != NULL);
    plan_destroy(&p);
    unlink(data);
    unlink(path);
    rmdir(dir);
}

static void test_value_parsers_are_strict(void)
{
    double v;
    CHECK(plan_yaml_parse_rate("20", &v) == 0 && v == 20);
    CHECK(plan_yaml_parse_rate("20/s", &v) == 0 && v == 20);
    CHECK(plan_yaml_parse_rate("1200/min", &v) == 0 && v == 20);
    CHECK(plan_yaml_parse_rate("72000/h", &v) == 0 && v == 20);
    CHECK(plan_yaml_parse_rate("20/day", &v) != 0);
    CHECK(plan_yaml_parse_rate("-1", &v) != 0);
    CHECK(plan_yaml_parse_rate("nan", &v) != 0);
    CHECK(plan_yaml_parse_fraction("70%", &v) == 0 && v == 0.7);
    CHECK(plan_yaml_parse_fraction("0.7", &v) == 0 && v == 0.7);
    CHECK(plan_yaml_parse_fraction("170%", &v) != 0);
    CHECK(plan_yaml_parse_fraction("1.5", &v) != 0);
}

#define PH "phases:\n  - kind: constant\n    rate: 1\n    duration: 1s\n"

static void test_every_error_names_the_place_and_what_was_expected(void)
{
    /* syntax and document shape */
    expect_error("targets: [a, b\n", "t.yaml:2:1:", "YAML syntax error");
    expect_error("", "t.yaml:1:1:", "empty plan");
    expect_error(HEAD PH "---\n" HEAD PH, "t.yaml:8:1:", "one YAML document per plan");
    expect_error("- a\n- b\n", "t.yaml:1:1:", "expected a mapping (key: value lines) for the plan");
    /* keys */
    expect_error(HEAD "modle: x\n" PH, "t.yaml:3:1:", "unknown key 'modle' in the plan");
    expect_error(HEAD "modle: x\n" PH, "t.yaml:3:1:", "did you mean 'model'?");
    expect_error(HEAD "model: n\n" PH, "t.yaml:3:1:",
                 "duplicate key 'model' in the plan (first "
                 "at line 2)");
    expect_error("model: m\n" PH, "t.yaml:1:1:", "the plan: expected 'targets'");
    expect_error(HEAD, "t.yaml:1:1:", "expected 'phases'");
    /* types and values */
    expect_error("targets: http://a\nmodel: m\n" PH,
                 "t.yaml:1:10:", "'targets': expected a list, got a scalar");
    expect_error("targets: [ftp://a]\nmodel: m\n" PH,
                 "t.yaml:1:11:", "expected an http://, https:// or sim:// URL");
    expect_error("targets: []\nmodel: m\n" PH, "t.yaml:1:10:", "expected at least one URL");
    expect_error(HEAD "api: grpc\n" PH, "t.yaml:3:6:", "'api': expected chat or completions");
    expect_error(HEAD "stream: yes\n" PH, "t.yaml:3:9:", "'stream': expected true or false");
    expect_error(HEAD "max_tokens: many\n" PH, "t.yaml:3:13:", "'max_tokens': expected an integer");
    expect_error(HEAD "max_tokens: 0\n" PH, "t.yaml:3:13:", "expected an integer from 1");
    expect_error(HEAD "timeout: 30\n" PH, "t.yaml:3:10:",
                 "'timeout': expected a duration with a unit (500ms, 90s, 30m, 1h, 1h30m)");
    expect_error(HEAD "interval: 10ms\n" PH, "t.yaml:3:11:", "'interval': expected 100ms to 60s");
    expect_error(HEAD "headers: {Authorization: Bearer x}\n" PH,
                 "t.yaml:3:11:", "secrets do not belong in a plan");
    expect_error(HEAD "max_connections_per_target: 0\n" PH,
                 "t.yaml:3:29:", "'max_connections_per_target': expected an integer from 1");
    expect_error(HEAD "prewarm: please\n" PH, "t.yaml:3:10:", "'prewarm': expected true or false");
    expect_error(HEAD "capture_header: 'X Pool'\n" PH,
                 "t.yaml:3:17:", "'capture_header': 'X Pool' is not a header name");
    expect_error(HEAD "ca_file: ca.pem\ninsecure_tls: true\n" PH, "t.yaml:4:15:",
                 "give ca_file (verify with this CA) or insecure_tls (do not verify), not both");
    expect_error(HEAD "headers: {X-Trace: 1, Cookie: session=x}\n" PH,
                 "t.yaml:3:23:", "use api_key_env or api_key_file");
    expect_error(HEAD "api_key_env: sk-123abc\n" PH,
                 "t.yaml:3:14:", "expected the NAME of an environment variable");
    expect_error(HEAD "extra_body: [1]\n" PH, "t.yaml:3:13:", "'extra_body': expected a mapping");
    expect_error(HEAD "simulator: {replicas: 2}\n" PH,
                 "t.yaml:3:12:", "'simulator' applies to sim:// targets only");
    expect_error(HEAD "cost: {gpu_count: 8}\n" PH,
                 "t.yaml:3:7:", "'cost': expected gpu_count and price_per_gpu_hour");
    expect_error(HEAD "cost: {gpu_count: 8, price_per_gpu_hour: 2, utilisation: 120%}\n" PH,
                 "t.yaml:3:58:", "'utilisation': expected a fraction from 0 to 1");
    /* phases */
    expect_error(HEAD "phases: []\n", "t.yaml:3:9:", "'phases': expected at least one phase");
    expect_error(HEAD "phases:\n  - rate: 1\n", "t.yaml:4:5:", "phase 1: expected 'kind'");
    expect_error(HEAD "phases:\n  - kind: burst\n",
                 "t.yaml:4:11:", "'kind': expected warmup, baseline, constant");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n    duration: 1s\n"
                      "    step_rate: 2\n",
                 "t.yaml:7:5:", "unknown key 'step_rate' in a constant phase");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: fast\n    duration: 1s\n",
                 "t.yaml:5:11:", "'rate': expected a rate (20, 20/s, 1200/min, 72000/h)");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 0\n    duration: 1s\n",
                 "t.yaml:5:11:", "'rate': expected a rate > 0");
    expect_error(HEAD "phases:\n  - kind: constant\n    duration: 1s\n",
                 "t.yaml:4:5:", "expected exactly one of rate, concurrency or users");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n    concurrency: 2\n"
                      "    duration: 1s\n",
                 "t.yaml:4:5:", "expected exactly one of rate, concurrency or users");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n",
                 "t.yaml:4:5:", "phase 'constant': expected 'duration' (90s, 30m)");
    expect_error(HEAD "phases:\n  - kind: concurrency\n    concurrency: 0\n    duration: 1s\n",
                 "t.yaml:5:18:", "expected an integer from 1");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n    think_time: 1s\n"
                      "    duration: 1s\n",
                 "t.yaml:6:17:", "'think_time' applies to users only");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n    burstiness: 0.5\n"
                      "    duration: 1s\n",
                 "t.yaml:6:17:", "'burstiness' applies to arrival: gamma only");
    expect_error(HEAD "phases:\n  - kind: constant\n    rate: 1\n    arrival: bursty\n"
                      "    duration: 1s\n",
                 "t.yaml:6:14:", "'arrival': expected constant, poisson or gamma");
    expect_error(HEAD "phases:\n  - kind: users\n    users: 5\n    arrival: poisson\n"
                      "    duration: 1s\n",
                 "t.yaml:6:14:", "'arrival' applies to rate phases only");
    expect_error(HEAD "phases:\n  - {kind: constant, rate: 1, duration: 1s}\n"
                      "  - {kind: constant, rate: 2, duration: 1s}\n",
                 "t.yaml:5:12:", "duplicate phase name 'constant' (first at line 4)");
    expect_error(HEAD "phases:\n  - {name: a b, kind: constant, rate: 1, duration: 1s}\n",
                 "t.yaml:4:12:", "'name': expected letters, digits, - or _");
    expect_error(HEAD "phases:\n  - {kind: sla, rate: operating_point, duration: 1s}\n",
                 "t.yaml:4:23:", "'rate: operating_point' needs a saturation phase before");
    expect_error(HEAD "phases:\n  - {kind: ramp, start_rate: 1, step_rate: 1, end_rate: 3}\n",
                 "t.yaml:4:5:", "expected 'step_duration'");
    expect_error(HEAD "phases:\n  - {kind: ramp, step_duration: 1s}\n", "t.yaml:4:5:",
                 "expected rates (rates, or start_rate/step_rate/end_rate) or concurrencies");
    expect_error(HEAD "phases:\n  - {kind: ramp, rates: [1, 2], start_rate: 1, "
                      "step_duration: 1s}\n",
                 "t.yaml:4:25:", "'rates' and start_rate/step_rate/end_rate: give one of them");
    expect_error(HEAD "phases:\n  - {kind: ramp, start_rate: 5, step_rate: 1, end_rate: 3, "
                      "step_duration: 1s}\n",
                 "t.yaml:4:57:", "'end_rate' must be >= 'start_rate'");
    expect_error(HEAD "phases:\n  - {kind: saturation, start_rate: 1, step_rate: 1}\n",
                 "t.yaml:4:5:", "expected start_rate, step_rate, max_rate and step_duration");
    expect_error(HEAD "phases:\n  - {kind: saturation, start_rate: 1, step_rate: 1, "
                      "max_rate: 5, step_duration: 1s, stop_when: {p99: 3}}\n",
                 "t.yaml:4:97:", "unknown key 'p99' in 'stop_when'");
    expect_error(HEAD "phases:\n  - {kind: saturation, start_rate: 1, step_rate: 0.01, "
                      "max_rate: 500, step_duration: 1s}\n",
                 "t.yaml:4:5:", "at most 128 coarse levels");
    expect_error(HEAD "phases:\n  - {kind: saturation, start_rate: 1, step_rate: 1, "
                      "max_rate: 5, step_duration: 1s, operating_point: 0}\n",
                 "t.yaml:4:102:", "'operating_point': expected a fraction > 0");
    expect_error(HEAD "phases:\n  - {kind: constant, rate: 1, duration: 1s, iterations: 0}\n",
                 "t.yaml:4:57:", "'iterations': expected an integer from 1 to 100");
    /* SLA */
    expect_error(HEAD PH "sla: [\"ttft_ms.p98 <= 1\"]\n",
                 "t.yaml:7:7:", "SLA check: unknown metric 'ttft_ms.p98'");
    expect_error(HEAD PH "sla:\n  - {metric: ttft, percentile: 98, limit_ms: 1}\n",
                 "t.yaml:8:32:", "'percentile': expected 50, 90, 95, 99, 99.9 or 100");
    expect_error(HEAD PH "sla:\n  - {metric: ttft, percentile: 99}\n", "t.yaml:8:5:",
                 "expected exactly one of limit, limit_ms (at most) or min (at least)");
    expect_error(HEAD PH "sla:\n  - {metric: goodput_rps, limit_ms: 5}\n",
                 "t.yaml:8:37:", "'limit_ms': goodput_rps is not a latency");
    expect_error(HEAD PH "sla:\n  phase: nope\n  checks: [\"error_rate <= 0.1\"]\n",
                 "t.yaml:8:3:", "'sla': no phase named 'nope'");
    expect_error(HEAD "phases: [{kind: sla, rate: 1, duration: 1s}]\n",
                 "t.yaml:1:1:", "a phase of kind sla needs checks");
    expect_error(HEAD PH "outputs: {junit: x.xml}\n", "t.yaml:1:1:", "'junit' needs SLA checks");
    /* workload */
    expect_error(HEAD "workload: {prompt: [a]}\n" PH,
                 "t.yaml:3:12:", "unknown key 'prompt' in workload (did you mean 'prompts'?");
    expect_error(HEAD "workload:\n  templates:\n    - text: \"Hi {name}\"\n" PH,
                 "t.yaml:5:13:", "placeholder {name} has no values");
    expect_error(
        HEAD "workload:\n  templates:\n    - text: \"Hi {name\"\n      values: {name: [a]}\n" PH,
        "t.yaml:5:13:", "expected {name} with letters, digits or _");
    expect_error(HEAD "workload:\n  output_tokens: {dist: uniform, min: 20, max: 10}\n" PH,
                 "t.yaml:4:18:", "uniform: needs 1 <= min <= max");
    expect_error(HEAD "workload:\n  output_tokens: {dist: gauss, mean: 2}\n" PH,
                 "t.yaml:4:25:", "'dist': expected fixed, uniform or normal");
    expect_error(HEAD "workload:\n  output_tokens: {dist: normal, mean: 20}\n" PH,
                 "t.yaml:4:18:", "normal needs 'stddev'");
    expect_error(HEAD "workload:\n  mix:\n    - {name: a, weight: 0}\n" PH,
                 "t.yaml:5:5:", "'mix': the weights add up to 0");
    expect_error(HEAD "workload:\n  mix:\n    - {name: a}\n" PH,
                 "t.yaml:5:7:", "workload class: expected 'name' and 'weight'");
    expect_error(HEAD "workload:\n  builtin: poetry\n" PH,
                 "t.yaml:4:12:", "'builtin': expected chat, code, summarization or all");
    expect_error(HEAD "workload:\n  dataset: {path: /nonexistent/surge.jsonl}\n" PH,
                 "t.yaml:4:19:", "cannot read dataset '/nonexistent/surge.jsonl'");
    expect_error(HEAD "workload:\n  dataset: {path: /dev/null, format: csv}\n" PH,
                 "t.yaml:4:38:", "'format': expected alpaca, sharegpt, jsonl, text or auto");
}

static void test_dataset_content_errors_name_the_plan_place_and_the_dataset_line(void)
{
    char path[] = "/tmp/surge-bad-XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    REQUIRE(fd >= 0);
    const char *rows = "{\"prompt\": \"ok\"}\n{\"prompt\": \"broken\"\n";
    REQUIRE(write(fd, rows, strlen(rows)) == (ssize_t)strlen(rows));
    close(fd);
    char text[512];
    snprintf(text, sizeof text, HEAD "workload:\n  dataset: %s\n" PH, path);
    char where[128];
    snprintf(where, sizeof where, "workload: %s:2:", path);
    expect_error(text, "t.yaml:4:3:", where);
    unlink(path);
}

/* workload.conversations (issue 20): every key lands in the workload spec, and every
   mistake is reported with FILE:LINE:COL. */
static void test_conversation_keys_land_in_the_spec_and_are_checked(void)
{
#define CONV "workload:\n  conversations:\n"
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD CONV "    turns: {dist: uniform, min: 2, max: 8}\n"
                                  "    think_time: {dist: uniform, min: 1s, max: 3s}\n"
                                  "    system_prompt_tokens: 512\n    shared_prefix_tokens: 2000\n"
                                  "    shared_prefix_fraction: 50%\n    affinity: none\n"
                                  "    context_tokens: 4096\n" PH,
                        &x);
    REQUIRE(p && x && x->workload_spec && x->workload);
    const conversation_spec_t *cs = &x->workload_spec->conversations;
    CHECK(cs->enabled);
    CHECK(cs->turns.kind == LENGTH_UNIFORM && cs->turns.min == 2 && cs->turns.max == 8);
    CHECK(cs->think_time_ms.kind == LENGTH_UNIFORM && cs->think_time_ms.min == 1000 &&
          cs->think_time_ms.max == 3000);
    CHECK_INT_EQ(cs->system_prompt_tokens, 512);
    CHECK_INT_EQ(cs->shared_prefix_tokens, 2000);
    CHECK(cs->shared_prefix_fraction == 0.5);
    CHECK(cs->affinity == AFFINITY_NONE);
    CHECK_INT_EQ(cs->context_tokens, 4096);
    CHECK(strlen(x->workload->system_prompt) > 1500 && strlen(x->workload->shared_prefix) > 6000);
    plan_extra_destroy(&x);
    plan_destroy(&p);
    p = load_ok(HEAD CONV "    think_time: 5s\n" PH, &x);
    REQUIRE(p && x);
    CHECK(x->workload_spec->conversations.think_time_ms.kind == LENGTH_FIXED &&
          x->workload_spec->conversations.think_time_ms.mean == 5000);
    CHECK(x->workload_spec->conversations.affinity == AFFINITY_CONVERSATION);
    plan_extra_destroy(&x);
    plan_destroy(&p);

    expect_error(HEAD "api: completions\n" CONV "    turns: 2\n" PH,
                 "t.yaml:6:5:", "need `api: chat`");
    expect_error(HEAD CONV "    turn: 3\n" PH, "t.yaml:5:5:", "did you mean 'turns'?");
    expect_error(HEAD CONV "    turns: 65\n" PH, "t.yaml:5:12:", "at most 64 turns");
    expect_error(HEAD CONV "    turns: {dist: uniform, min: 2, max: 100}\n" PH,
                 "t.yaml:5:12:", "at most 64 turns a conversation, got 100");
    expect_error(HEAD CONV "    think_time: 5\n" PH,
                 "t.yaml:5:17:", "'think_time': expected a duration with a unit");
    expect_error(HEAD CONV "    think_time: 11m\n" PH, "t.yaml:5:17:", "at most 600s");
    expect_error(HEAD CONV "    think_time: {dist: uniform, min: 1s}\n" PH,
                 "t.yaml:5:17:", "uniform needs 'min' and 'max'");
    expect_error(HEAD CONV "    think_time: {dist: uniform, min: 9s, max: 1s}\n" PH,
                 "t.yaml:5:17:", "min is above max");
    expect_error(HEAD CONV "    shared_prefix_fraction: 0.5\n" PH,
                 "t.yaml:5:29:", "needs 'shared_prefix_tokens'");
    expect_error(HEAD CONV "    shared_prefix_tokens: 100\n    shared_prefix_fraction: 150%\n" PH,
                 "t.yaml:6:29:", "expected a fraction");
    expect_error(HEAD CONV "    system_prompt_tokens: -1\n" PH,
                 "t.yaml:5:27:", "expected an integer from 0 to 100000");
    expect_error(HEAD CONV "    affinity: sticky\n" PH,
                 "t.yaml:5:15:", "expected conversation or none, got 'sticky'");
    expect_error(HEAD CONV "    turns: 2\n  mix:\n    - {name: a, weight: 1}\n" PH,
                 "t.yaml:5:5:", "'conversations' and 'mix': give one of them");
    char path[] = "/tmp/surge-conv-XXXXXX.txt";
    int fd = mkstemps(path, 4);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "one prompt\n", 11) == 11);
    close(fd);
    char text[512];
    snprintf(text, sizeof text, HEAD CONV "    turns: 2\n  dataset: %s\n" PH, path);
    expect_error(text, "t.yaml:4:3:", "conversations come from a sharegpt or jsonl");
    unlink(path);
#undef CONV
}

static void test_alias_bombs_are_refused_not_expanded(void)
{
    /* Each level doubles the work of walking the tree: 2^30 visits if walked naively. */
    buf_t text;
    buf_init(&text);
    buf_append_str(&text, HEAD PH "extra_body:\n  a0: &a0 [x, x]\n");
    for (int i = 1; i < 30; i++)
        buf_printf(&text, "  a%d: &a%d [*a%d, *a%d]\n", i, i, i - 1, i - 1);
    char err[512];
    plan_t *p = plan_yaml_load_text(text.data, text.len, "bomb.yaml", NULL, err, sizeof err);
    CHECK(p == NULL);
    CHECK_MSG(strstr(err, "too many aliases") || strstr(err, "nested deeper"), "%s", err);
    plan_destroy(&p);
    buf_free(&text);
}

static json_t *level_summary(double p99, double rate, double e2e_mean_ms)
{
    return json_pack("{s:{s:f}, s:{s:f}, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "ttft_ms", "p99", p99,
                     "e2e_ms", "mean", e2e_mean_ms, "error_rate", 0.0, "offered_rps", rate,
                     "achieved_rps", rate, "completed_rps", rate, "output_tokens_per_s", rate * 100,
                     "duration_s", 10.0, "goodput_rps", rate);
}

static void test_verdicts_of_a_run_come_from_its_phase_summaries(void)
{
    plan_extra_t *x = NULL;
    plan_t *p = load_ok(HEAD "phases:\n"
                             "  - {name: base, kind: baseline, duration: 10s}\n"
                             "  - {name: s, kind: saturation, start_rate: 2, step_rate: 2, "
                             "max_rate: 10, step_duration: 10s, settle: 1s}\n"
                             "  - {name: hold, kind: sla, rate: operating_point, duration: 10s}\n"
                             "sla: [\"ttft_ms.p99 <= 100\", \"goodput_rps >= 1\"]\n"
                             "cost: {gpu_count: 2, price_per_gpu_hour: 3.6}\n"
                             "users: {think_time: 8s}\n",
                        &x);
    REQUIRE(p && x);
    json_t *summaries[PLAN_MAX_PHASES] = {0};
    summaries[0] = level_summary(50, 1, 2000); /* baseline: p99 50 ms */
    /* the search ran its coarse ramp up to 8 req/s, where P99 TTFT passed 3 x 50 ms */
    for (int i = x->stages[1].first_phase; i < x->stages[1].first_phase + x->stages[1].phase_count;
         i++) {
        double rate = p->phases[i].schedule.start_rate_per_s;
        if (rate <= 8)
            summaries[i] = level_summary(rate <= 6 ? 60 : 400, rate, 2000);
    }
    int hold = x->stages[2].first_phase;
    summaries[hold] = level_summary(70, 4.2, 2000); /* ran at the operating point, 0.7 x 6 */
    json_t *overall = level_summary(300, 5, 2000);

    buf_t out, junit;
    buf_init(&out);
    buf_init(&junit);
    jsonw_t w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    bool passed = plan_verdicts_write(p, x, summaries, overall, NULL, &w, NULL, &junit);
    jsonw_object_end(&w);
    json_t *doc = json_loads(out.data, 0, NULL);
    REQUIRE(doc);
    CHECK(json_path_number(doc, "saturation.rps") == 6);
    CHECK(json_path_number(doc, "saturation.first_bad_rps") == 8);
    CHECK(fabs(json_path_number(doc, "saturation.operating_point_rps") - 4.2) < 1e-9);
    CHECK(json_path_number(doc, "saturation.baseline_ttft_p99_ms") == 50);
    /* the SLA judged the hold phase (p99 70 <= 100), not the overall summary (300) */
    CHECK(passed);
    CHECK(json_is_true(json_object_get(json_object_get(doc, "sla"), "passed")));
    /* the most tokens were seen at 8 req/s, past saturation: still the maximum measured */
    CHECK(json_path_number(doc, "cost.at_max_throughput.output_tokens_per_s") == 800);
    CHECK(fabs(json_path_number(doc, "cost.at_operating_point.output_tokens_per_s") - 420) < 1e-9);
    CHECK(fabs(json_path_number(doc, "users.users") - 4.2 * (2 + 8)) < 1e-9);
    CHECK(strstr(junit.data, "tests=\"2\" failures=\"0\"") != NULL);
    json_decref(doc);

    /* the same run with a hold phase over the limit fails the SLA */
    json_decref(summaries[hold]);
    summaries[hold] = level_summary(170, 4.2, 2000);
    buf_clear(&out);
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    CHECK(!plan_verdicts_write(p, x, summaries, overall, NULL, &w, NULL, NULL));
    jsonw_object_end(&w);

    for (int i = 0; i < PLAN_MAX_PHASES; i++)
        json_decref(summaries[i]);
    json_decref(overall);
    buf_free(&out);
    buf_free(&junit);
    plan_extra_destroy(&x);
    plan_destroy(&p);
}

static void test_headers_that_carry_credentials_are_refused(void)
{
    const char *secret[] = {"Authorization",
                            "proxy-authorization",
                            "Cookie",
                            "X-Api-Key",
                            "api-key",
                            "X-Goog-Api-Key",
                            "Ocp-Apim-Subscription-Key",
                            "X-Auth-Token",
                            "X-Amz-Security-Token",
                            "apikey",
                            "Key",
                            "X-Session-Id",
                            "X-Client-Secret",
                            "Private-Token"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        CHECK_MSG(plan_header_is_secret(secret[i]), "%s accepted", secret[i]);
    const char *plain[] = {"X-Request-Id",    "User-Agent", "X-Trace",
                           "Accept-Language", "X-Priority", "OpenAI-Organization"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        CHECK_MSG(!plan_header_is_secret(plain[i]), "%s refused", plain[i]);
}

CHECK_MAIN(test_headers_that_carry_credentials_are_refused,
           test_conversation_keys_land_in_the_spec_and_are_checked,
           test_minimal_plan_has_defaults_and_default_prompts,
           test_connection_and_tls_settings_land_in_the_plan,
           test_every_top_level_setting_lands_in_the_plan,
           test_stepped_ramp_is_written_out_with_settle_and_iterations,
           test_linear_and_concurrency_ramps,
           test_saturation_search_settings_and_operating_point_phase, test_sla_checks_in_every_form,
           test_workload_mix_builds_the_pool_into_the_plan,
           test_dataset_paths_are_relative_to_the_plan_file, test_value_parsers_are_strict,
           test_every_error_names_the_place_and_what_was_expected,
           test_dataset_content_errors_name_the_plan_place_and_the_dataset_line,
           test_alias_bombs_are_refused_not_expanded,
           test_verdicts_of_a_run_come_from_its_phase_summaries)
