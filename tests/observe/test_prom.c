/*  test_prom: the Prometheus text parser (common/prom.h) reads real pages completely and
    refuses malformed or oversized ones with the line and column of the fault. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "common/prom.h"

static prom_doc_t *parse(const char *text, char *err, size_t err_size)
{
    return prom_parse(text, strlen(text), NULL, err, err_size);
}

static void test_vllm_page_gives_every_sample_labels_and_types(void)
{
    const char *page =
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 12.0\n"
        "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 5\n"
        "# TYPE vllm:request_queue_time_seconds histogram\n"
        "vllm:request_queue_time_seconds_bucket{le=\"0.3\",model_name=\"m\"} 3\n"
        "vllm:request_queue_time_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 4\n"
        "vllm:request_queue_time_seconds_sum{model_name=\"m\"} 1.25\n"
        "vllm:request_queue_time_seconds_count{model_name=\"m\"} 4\n"
        "\n"
        "process_start_time_seconds 1.71234567891e+09\n";
    char err[256];
    prom_doc_t *doc = parse(page, err, sizeof err);
    CHECK_MSG(doc != NULL, "%s", err);
    if (!doc)
        return;
    CHECK_INT_EQ(prom_doc_sample_count(doc), 7);
    const prom_sample_t *s = prom_doc_sample(doc, 1);
    CHECK_STR_EQ(s->name, "vllm:num_requests_running");
    CHECK_INT_EQ(s->label_count, 2);
    CHECK_STR_EQ(prom_sample_label(s, "engine"), "1");
    CHECK_STR_EQ(prom_sample_label(s, "model_name"), "m");
    CHECK(prom_sample_label(s, "le") == NULL);
    CHECK(s->value == 5.0);
    CHECK_INT_EQ(s->line, 4);
    int n = 0;
    CHECK(prom_doc_sum(doc, "vllm:num_requests_running", &n) == 17.0);
    CHECK_INT_EQ(n, 2);
    CHECK(prom_doc_sum(doc, "vllm:num_requests_waiting", &n) == 0.0);
    CHECK_INT_EQ(n, 0);
    CHECK(prom_doc_sum(doc, "vllm:request_queue_time_seconds_sum", NULL) == 1.25);
    CHECK(prom_doc_type(doc, "vllm:num_requests_running") == PROM_GAUGE);
    CHECK(prom_doc_type(doc, "vllm:request_queue_time_seconds") == PROM_HISTOGRAM);
    CHECK(prom_doc_type(doc, "process_start_time_seconds") == PROM_UNTYPED);
    CHECK(prom_doc_sample(doc, 6)->value == 1.71234567891e+09);
    CHECK(prom_doc_sample(doc, 7) == NULL);
    prom_doc_destroy(&doc);
    CHECK(doc == NULL);
}

static void test_label_values_are_unescaped(void)
{
    char err[256];
    prom_doc_t *doc = parse("m{path=\"C:\\\\dir\\\"q\\\"\\nx\",empty=\"\",} 1\n", err, sizeof err);
    CHECK_MSG(doc != NULL, "%s", err);
    if (!doc)
        return;
    const prom_sample_t *s = prom_doc_sample(doc, 0);
    CHECK_STR_EQ(prom_sample_label(s, "path"), "C:\\dir\"q\"\nx");
    CHECK_STR_EQ(prom_sample_label(s, "empty"), "");
    prom_doc_destroy(&doc);
}

static void test_special_values_timestamps_and_blanks(void)
{
    char err[256];
    prom_doc_t *doc = parse("a +Inf\nb -Inf\nc NaN\n  d\t{x=\"y\"}  2.5e-3   1712000000000  \n"
                            "e 7 -5\r\nf inf\n",
                            err, sizeof err);
    CHECK_MSG(doc != NULL, "%s", err);
    if (!doc)
        return;
    CHECK(isinf(prom_doc_sample(doc, 0)->value) && prom_doc_sample(doc, 0)->value > 0);
    CHECK(isinf(prom_doc_sample(doc, 1)->value) && prom_doc_sample(doc, 1)->value < 0);
    CHECK(isnan(prom_doc_sample(doc, 2)->value));
    const prom_sample_t *d = prom_doc_sample(doc, 3);
    CHECK(d->value == 2.5e-3);
    CHECK(d->has_timestamp && d->timestamp_ms == 1712000000000LL);
    CHECK(prom_doc_sample(doc, 4)->timestamp_ms == -5);
    CHECK(!prom_doc_sample(doc, 0)->has_timestamp);
    CHECK(isinf(prom_doc_sample(doc, 5)->value));
    prom_doc_destroy(&doc);
}

static void test_malformed_pages_are_refused_with_line_and_column(void)
{
    static const struct {
        const char *page, *where;
    } cases[] = {
        {"ok 1\nbad-name 1\n", "line 2:4:"},
        {"ok 1\nm{a=\"b\" 1\n", "line 2:9:"},    /* missing '}' */
        {"m{a=\"b\\t\"} 1\n", "line 1:7:"},      /* unknown escape */
        {"m{a=\"b} 1\n", "line 1:5:"},           /* unterminated value */
        {"m{1a=\"b\"} 1\n", "line 1:3:"},        /* bad label name */
        {"m{a=\"b\",a=\"c\"} 1\n", "line 1:9:"}, /* label twice */
        {"m 0x10\n", "line 1:3:"},               /* hex is not a number here */
        {"m 1 2 3\n", "line 1:7:"},              /* text after the timestamp */
        {"m 1 1.5\n", "line 1:5:"},              /* timestamps are integers */
        {"m\n", "line 1:2:"},                    /* no value */
        {"# TYPE m gauge\n# TYPE m counter\n", "line 2:8:"},
        {"# TYPE m bogus\n", "line 1:10:"},
        {"# HELP 9m x\n", "line 1:8:"},
        {"m{a=\"b\"}x 1\n", "line 1:9:"},
        {"ok 1\n\nm 1\0\n", "line 3:4:"}, /* NUL (the length below includes it) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        size_t len = strlen(cases[i].page);
        if (i == sizeof cases / sizeof cases[0] - 1)
            len += 2;
        prom_doc_t *doc = prom_parse(cases[i].page, len, NULL, err, sizeof err);
        CHECK_MSG(doc == NULL, "case %zu accepted", i);
        CHECK_MSG(strncmp(err, cases[i].where, strlen(cases[i].where)) == 0,
                  "case %zu: want '%s', got '%s'", i, cases[i].where, err);
        prom_doc_destroy(&doc);
    }
}

static void test_limits_bound_line_length_samples_and_labels(void)
{
    prom_limits_t limits = {.max_line_bytes = 20, .max_samples = 2, .max_labels = 2};
    char err[256];
    const char *long_line = "m{aaaaaaaaaaaaaaaaaaaa=\"b\"} 1\n";
    prom_doc_t *doc = prom_parse(long_line, strlen(long_line), &limits, err, sizeof err);
    CHECK(doc == NULL && strstr(err, "longer than 20 bytes"));
    doc = prom_parse("a 1\nb 2\nc 3\n", 12, &limits, err, sizeof err);
    CHECK(doc == NULL && strstr(err, "line 3:1: more than 2 samples"));
    doc = prom_parse("m{a=\"\",b=\"\",c=\"\"} 1", 19, &limits, err, sizeof err);
    CHECK(doc == NULL && strstr(err, "more than 2 labels"));
    doc = prom_parse("a 1\nb 2\n", 8, &limits, err, sizeof err);
    CHECK(doc != NULL && prom_doc_sample_count(doc) == 2);
    prom_doc_destroy(&doc);
}

static void test_empty_page_and_comments_only_parse_to_nothing(void)
{
    char err[256];
    prom_doc_t *doc = prom_parse("", 0, NULL, err, sizeof err);
    CHECK(doc != NULL && prom_doc_sample_count(doc) == 0);
    prom_doc_destroy(&doc);
    doc = parse("# just a comment\n#\n# HELPER not help\n\n", err, sizeof err);
    CHECK(doc != NULL && prom_doc_sample_count(doc) == 0);
    prom_doc_destroy(&doc);
}

CHECK_MAIN(test_vllm_page_gives_every_sample_labels_and_types, test_label_values_are_unescaped,
           test_special_values_timestamps_and_blanks,
           test_malformed_pages_are_refused_with_line_and_column,
           test_limits_bound_line_length_samples_and_labels,
           test_empty_page_and_comments_only_parse_to_nothing)
