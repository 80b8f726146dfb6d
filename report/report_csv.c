/*  report_csv.c: phases.csv, stages.csv, intervals.csv and server.csv (docs/report.md,
    "CSV exports").

    RFC 4180: comma-separated, CRLF-free (\n), a header row, fields quoted when they hold a
    comma, a quote or a line break. A text field that starts with = + - @ (which a
    spreadsheet would run as a formula) is prefixed with a single quote: phase names and
    URLs come from plan files and servers. Missing numbers (a percentile with no sample)
    are empty fields. The summary columns are the same in both files and in the same
    order, so one script reads either.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* The summary object's fields (docs/results.md), flattened by dot path. */
static const char *const SUMMARY_COLUMNS[] = {"requests.total",
                                              "requests.ok",
                                              "requests.errors",
                                              "requests.dropped",
                                              "requests.scheduled",
                                              "requests.sent",
                                              "error_rate",
                                              "duration_s",
                                              "offered_rps",
                                              "achieved_rps",
                                              "completed_rps",
                                              "delivered_rps",
                                              "goodput_rps",
                                              "output_tokens_per_s",
                                              "input_tokens_per_s",
                                              "output_tokens",
                                              "input_tokens",
                                              "ttft_ms.p50",
                                              "ttft_ms.p90",
                                              "ttft_ms.p95",
                                              "ttft_ms.p99",
                                              "ttft_ms.p999",
                                              "ttft_ms.max",
                                              "ttft_ms.mean",
                                              "ttft_sched_ms.p99",
                                              "itl_ms.p50",
                                              "itl_ms.p90",
                                              "itl_ms.p99",
                                              "itl_ms.max",
                                              "itl_ms.mean",
                                              "tpot_ms.p50",
                                              "tpot_ms.p90",
                                              "tpot_ms.p99",
                                              "tpot_ms.mean",
                                              "e2e_ms.p50",
                                              "e2e_ms.p90",
                                              "e2e_ms.p99",
                                              "e2e_ms.max",
                                              "e2e_ms.mean",
                                              "response_ms.p99",
                                              "lag_ms.p50",
                                              "lag_ms.p99",
                                              "lag_ms.max",
                                              "errors_by_class.connect",
                                              "errors_by_class.tls",
                                              "errors_by_class.timeout",
                                              "errors_by_class.http_429",
                                              "errors_by_class.http_4xx",
                                              "errors_by_class.http_5xx",
                                              "errors_by_class.stream_error",
                                              "errors_by_class.truncated",
                                              "errors_by_class.malformed",
                                              "errors_by_class.other",
                                              "errors_by_class.aborted"};
#define SUMMARY_COLUMN_COUNT ((int)(sizeof SUMMARY_COLUMNS / sizeof SUMMARY_COLUMNS[0]))

static void csv_text(buf_t *o, const char *text)
{
    bool quote = strpbrk(text, ",\"\r\n") != NULL;
    bool formula = strchr("=+-@", text[0]) != NULL && text[0] != '\0';
    if (quote)
        buf_append_char(o, '"');
    if (formula)
        buf_append_char(o, '\'');
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            buf_append_char(o, '"');
        buf_append_char(o, *p);
    }
    if (quote)
        buf_append_char(o, '"');
}

static void csv_number(buf_t *o, double v)
{
    if (!isfinite(v))
        return;
    if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(o, "%.0f", v);
    else
        buf_printf(o, "%.10g", v);
}

/* A JSON value as a CSV field: numbers as numbers, strings quoted as needed, true/false,
   absent or null empty. */
static void csv_value(buf_t *o, const json_t *v)
{
    if (json_is_number(v))
        csv_number(o, json_number_value(v));
    else if (json_is_string(v))
        csv_text(o, json_string_value(v));
    else if (json_is_boolean(v))
        buf_append_str(o, json_is_true(v) ? "true" : "false");
}

static void summary_header(buf_t *o)
{
    for (int c = 0; c < SUMMARY_COLUMN_COUNT; c++) {
        buf_append_char(o, ',');
        /* Dots become underscores: column names that every CSV reader takes as-is. */
        for (const char *p = SUMMARY_COLUMNS[c]; *p; p++)
            buf_append_char(o, *p == '.' ? '_' : *p);
    }
    buf_append_char(o, '\n');
}

static void summary_row(buf_t *o, const json_t *summary)
{
    for (int c = 0; c < SUMMARY_COLUMN_COUNT; c++) {
        buf_append_char(o, ',');
        if (json_is_object(summary))
            csv_number(o, json_path_number(summary, SUMMARY_COLUMNS[c]));
    }
    buf_append_char(o, '\n');
}

static const char *const PHASE_COLUMNS[] = {"name",
                                            "kind",
                                            "stage",
                                            "level",
                                            "load",
                                            "measured",
                                            "settle",
                                            "ran",
                                            "start_s",
                                            "end_s",
                                            "target_rps",
                                            "start_rps",
                                            "end_rps",
                                            "arrival",
                                            "concurrency",
                                            "users",
                                            "think_time_s",
                                            "tail.requests",
                                            "tail.last_end_after_s"};
#define PHASE_COLUMN_COUNT ((int)(sizeof PHASE_COLUMNS / sizeof PHASE_COLUMNS[0]))

static const char *const INTERVAL_COLUMNS[] = {"interval",     "start_s",     "end_s",
                                               "phase",        "phase_index", "workers_reported",
                                               "workers_live", "inflight"};
#define INTERVAL_COLUMN_COUNT ((int)(sizeof INTERVAL_COLUMNS / sizeof INTERVAL_COLUMNS[0]))

static void rows(buf_t *o, const json_t *items, const char *const *columns, int column_count,
                 bool index_column)
{
    if (index_column)
        buf_append_str(o, "index,");
    for (int c = 0; c < column_count; c++) {
        if (c)
            buf_append_char(o, ',');
        for (const char *p = columns[c]; *p; p++) /* dots become underscores, as below */
            buf_append_char(o, *p == '.' ? '_' : *p);
    }
    summary_header(o);
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        if (index_column)
            buf_printf(o, "%zu,", i);
        for (int c = 0; c < column_count; c++) {
            if (c)
                buf_append_char(o, ',');
            if (strchr(columns[c], '.'))
                csv_number(o, json_path_number(item, columns[c])); /* nested: numbers only */
            else
                csv_value(o, json_object_get(item, columns[c]));
        }
        summary_row(o, json_object_get(item, "summary"));
    }
}

/* server.csv: the targets' own figures (intervals[].server), one row per interval, target
   and metric ("long" form: any number of targets, and any key a scraper adds, without a
   column per pair). False when no interval has any. */
static bool server_rows(buf_t *o, const json_t *intervals)
{
    bool any = false;
    buf_append_str(o, "interval,start_s,end_s,target,metric,value\n");
    size_t i;
    const json_t *item;
    json_array_foreach(intervals, i, item)
    {
        const json_t *server = json_object_get(item, "server");
        const char *url;
        const json_t *figures;
        json_object_foreach((json_t *)server, url, figures)
        {
            const char *metric;
            const json_t *value;
            json_object_foreach((json_t *)figures, metric, value)
            {
                if (!json_is_number(value) && !json_is_null(value))
                    continue;
                csv_value(o, json_object_get(item, "interval"));
                buf_append_char(o, ',');
                csv_value(o, json_object_get(item, "start_s"));
                buf_append_char(o, ',');
                csv_value(o, json_object_get(item, "end_s"));
                buf_append_char(o, ',');
                csv_text(o, url);
                buf_append_char(o, ',');
                csv_text(o, metric);
                buf_append_char(o, ',');
                csv_value(o, value);
                buf_append_char(o, '\n');
                any = true;
            }
        }
    }
    return any;
}

/* stages.csv: one row per level of every stage of a plan file (results.json stages[]), its
   summary the mean of the level's iterations. False when the results have no stages. */
static bool stage_rows(buf_t *o, const json_t *stages)
{
    if (json_array_size(stages) == 0)
        return false;
    buf_append_str(o, "stage,kind,level,iterations,phases");
    summary_header(o);
    size_t i, k;
    const json_t *stage, *level;
    json_array_foreach(stages, i, stage)
    {
        json_array_foreach(json_object_get(stage, "levels"), k, level)
        {
            csv_value(o, json_object_get(stage, "name"));
            buf_append_char(o, ',');
            csv_value(o, json_object_get(stage, "kind"));
            buf_append_char(o, ',');
            csv_value(o, json_object_get(level, "level"));
            buf_append_char(o, ',');
            csv_value(o, json_object_get(json_object_get(level, "summary"), "iterations"));
            buf_append_char(o, ',');
            /* The phases averaged, space-separated (names hold no spaces). */
            buf_t names;
            buf_init(&names);
            size_t n;
            const json_t *name;
            json_array_foreach(json_object_get(level, "phases"), n, name)
            {
                const char *text = json_string_value(name);
                buf_printf(&names, "%s%s", n ? " " : "", text ? text : "");
            }
            csv_text(o, names.len ? names.data : "");
            buf_free(&names);
            summary_row(o, json_object_get(level, "summary"));
        }
    }
    return true;
}

int report_csv_write(const report_run_t *run, const char *csv_dir, char *err, size_t err_size)
{
    buf_t o;
    buf_init(&o);
    char path[4096];
    rows(&o, json_object_get(run->results, "phases"), PHASE_COLUMNS, PHASE_COLUMN_COUNT, true);
    snprintf(path, sizeof path, "%s/phases.csv", csv_dir);
    int rc = report_file_write(path, o.data, o.len, err, err_size);
    if (rc == 0) {
        buf_clear(&o);
        rows(&o, run->intervals, INTERVAL_COLUMNS, INTERVAL_COLUMN_COUNT, false);
        snprintf(path, sizeof path, "%s/intervals.csv", csv_dir);
        rc = report_file_write(path, o.data, o.len, err, err_size);
    }
    if (rc == 0) {
        buf_clear(&o);
        if (stage_rows(&o, json_object_get(run->results, "stages"))) {
            snprintf(path, sizeof path, "%s/stages.csv", csv_dir);
            rc = report_file_write(path, o.data, o.len, err, err_size);
        }
    }
    if (rc == 0) {
        buf_clear(&o);
        if (server_rows(&o, run->intervals)) {
            snprintf(path, sizeof path, "%s/server.csv", csv_dir);
            rc = report_file_write(path, o.data, o.len, err, err_size);
        }
    }
    buf_free(&o);
    return rc;
}
