/*  report.c: report.html from a results directory (docs/report.md).

    The page is built in one buf_t, section by section, and written with a rename so a
    reader never sees half of it. It must open offline and must never reach the network:
    CSS is inline, charts are SVG drawn here (report_chart.c), there is no script, and a
    Content-Security-Policy of default-src 'none' makes any stray URL inert anyway. Every
    string that comes from the results (phase names, target URLs, error reasons, server
    metric names) goes through report_escape(): a results directory can hold server text.

    Sections: banners (run status, client limits), summary and verdicts (saturation, SLA,
    chaos, cost, users), the hockey stick, latency over time, throughput over time,
    errors over time, phases / targets / workers tables, client health, server-side
    metrics (when the intervals carry them) with a bottleneck reading.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "report/report_internal.h"
#include "plan/verdict.h"

/* Above this overall error rate the page says so at the top: a run that mostly failed
   has latency figures for a small, possibly unrepresentative, set of requests. */
#define REPORT_ERROR_BANNER_RATE 0.05
/* Server-side reading at the first bad level: KV cache usage at or above this is "full". */
#define REPORT_KV_FULL_FRACTION 0.9
/* Series drawn per server-metric chart; more targets are listed in the table only. */
#define REPORT_MAX_TARGET_SERIES 8

#define COLOR_P50   "#2563eb"
#define COLOR_P90   "#f59e0b"
#define COLOR_P99   "#dc2626"
#define COLOR_PHASE "#94a3b8"
#define COLOR_CHAOS "#b91c1c"

/* ---- Loading ---------------------------------------------------------------------- */

const char *report_text(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

void report_escape(buf_t *out, const char *text)
{
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *entity = NULL;
        switch (*p) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            break;
        }
        if (entity) {
            buf_append(out, run, (size_t)(p - run));
            buf_append_str(out, entity);
            run = p + 1;
        }
    }
    buf_append_str(out, run);
}

int report_file_write(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, err_size, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t done = len ? fwrite(data, 1, len, f) : 0;
    int close_rc = fclose(f);
    if (done != len || close_rc != 0 || rename(tmp, path) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static json_t *intervals_load(const char *path, int *bad_lines, bool *present)
{
    json_t *all = json_array();
    FILE *f = fopen(path, "r");
    *present = f != NULL;
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n == 1 && line[0] == '\n')
            continue;
        json_t *obj = json_loadb(line, (size_t)n, 0, NULL);
        if (json_is_object(obj))
            json_array_append_new(all, obj);
        else {
            json_decref(obj);
            (*bad_lines)++;
        }
    }
    free(line);
    fclose(f);
    return all;
}

report_run_t *report_run_load(const char *dir, char *err, size_t err_size)
{
    report_run_t *self = calloc(1, sizeof *self);
    char *results_path = path_join(dir, "results.json");
    char *intervals_path = path_join(dir, "intervals.jsonl");
    if (!self || !results_path || !intervals_path) {
        snprintf(err, err_size, "%s: out of memory", dir);
        goto fail;
    }
    self->dir = strdup(dir);
    json_error_t jerr;
    self->results = json_load_file(results_path, 0, &jerr);
    if (self->results && !json_is_object(self->results)) {
        snprintf(err, err_size, "%s: not a JSON object", results_path);
        goto fail;
    }
    if (!self->results && access(results_path, F_OK) == 0) {
        snprintf(err, err_size, "%s:%d:%d: %s", results_path, jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    self->has_results = self->results != NULL;
    if (!self->results)
        self->results = json_object();
    bool intervals_present;
    self->intervals = intervals_load(intervals_path, &self->bad_interval_lines, &intervals_present);
    if (!self->has_results && !intervals_present) {
        snprintf(err, err_size, "%s: no results.json or intervals.jsonl (not a results directory)",
                 dir);
        goto fail;
    }
    const char *plan_name = report_text(json_object_get(self->results, "plan"), "name");
    if (*plan_name) {
        self->name = strdup(plan_name);
    } else {
        /* The directory's last component, trailing slashes ignored. */
        size_t end = strlen(dir);
        while (end > 1 && dir[end - 1] == '/')
            end--;
        size_t start = end;
        while (start > 0 && dir[start - 1] != '/')
            start--;
        self->name = strndup(dir + start, end - start);
    }
    free(results_path);
    free(intervals_path);
    return self;
fail:
    free(results_path);
    free(intervals_path);
    report_run_destroy(&self);
    return NULL;
}

void report_run_destroy(report_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    report_run_t *self = *self_p;
    free(self->dir);
    free(self->name);
    json_decref(self->results);
    json_decref(self->intervals);
    free(self);
    *self_p = NULL;
}

/* ---- Small HTML helpers ----------------------------------------------------------- */

/* A table cell with a number in printf format fmt, or "-" when v is not a number. */
static void td_num(buf_t *o, const char *fmt, double v)
{
    buf_append_str(o, "<td>");
    if (isfinite(v))
        buf_printf(o, fmt, v);
    else
        buf_append_str(o, "-");
    buf_append_str(o, "</td>");
}

static void td_text(buf_t *o, const char *text)
{
    buf_append_str(o, "<td class=\"t\">");
    report_escape(o, text);
    buf_append_str(o, "</td>");
}

static void card(buf_t *o, const char *label, const char *fmt, double v, const char *unit)
{
    buf_printf(o, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">", label);
    if (isfinite(v))
        buf_printf(o, fmt, v);
    else
        buf_append_str(o, "-");
    buf_printf(o, "<small>%s</small></div></div>\n", unit);
}

static bool phase_measured(const json_t *p)
{
    return json_is_object(json_object_get(p, "summary")) &&
           !json_is_false(json_object_get(p, "measured"));
}

static void phase_load(const json_t *p, char *dst, size_t size)
{
    if (json_is_number(json_object_get(p, "target_rps")))
        snprintf(dst, size, "%.2f req/s", json_path_number(p, "target_rps"));
    else if (json_is_number(json_object_get(p, "concurrency")))
        snprintf(dst, size, "%.0f in flight", json_path_number(p, "concurrency"));
    else if (json_is_number(json_object_get(p, "users")))
        snprintf(dst, size, "%.0f users", json_path_number(p, "users"));
    else
        snprintf(dst, size, "-");
}

/* ---- The client's own limits ------------------------------------------------------ */

typedef struct {
    double worst_lag_ms;
    const char *lag_phase;
    long long dropped;
    const char *drop_phase;
} client_health_t;

static client_health_t client_health_of(const json_t *results)
{
    client_health_t h = {0, "", 0, ""};
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(results, "phases"), i, p)
    {
        if (!phase_measured(p))
            continue;
        const json_t *s = json_object_get(p, "summary");
        double lag = json_path_number(s, "lag_ms.p99");
        if (isfinite(lag) && lag > h.worst_lag_ms) {
            h.worst_lag_ms = lag;
            h.lag_phase = report_text(p, "name");
        }
        long long d = summary_count(s, "requests.dropped");
        if (d > 0) {
            if (!h.dropped)
                h.drop_phase = report_text(p, "name");
            if (__builtin_add_overflow(h.dropped, d, &h.dropped))
                h.dropped = LLONG_MAX;
        }
    }
    return h;
}

/* ---- Header and banners ----------------------------------------------------------- */

static const char *STYLE =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "color:#0f172a;background:#f8fafc}"
    "main{max-width:1320px;margin:0 auto;padding:20px 28px 60px}"
    "h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:34px 0 10px;"
    "padding-bottom:4px;border-bottom:2px solid #e2e8f0}h3{font-size:15px;margin:18px 0 6px}"
    ".meta{color:#475569;font-size:13px}.meta b{color:#0f172a;font-weight:600}"
    "nav{margin:10px 0 0;font-size:13px}nav a{margin-right:12px;color:#2563eb;"
    "text-decoration:none}"
    ".banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:500}"
    ".warn{background:#fef3c7;border:1px solid #f59e0b}"
    ".bad{background:#fee2e2;border:1px solid #ef4444}"
    ".good{background:#dcfce7;border:1px solid #22c55e}"
    ".info{background:#e0f2fe;border:1px solid #38bdf8}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}"
    ".card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 14px;"
    "min-width:120px}.card .k{font-size:12px;color:#64748b}.card .v{font-size:20px;"
    "font-weight:600}.card small{font-size:12px;color:#64748b;margin-left:3px;"
    "font-weight:400}"
    "table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}"
    "th,td{border:1px solid #e2e8f0;padding:4px 9px;text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}th{background:#f1f5f9;font-weight:600}"
    "td.t,th.t{text-align:left}td.pass{color:#15803d;font-weight:600}"
    "td.fail{color:#b91c1c;font-weight:600}tr.unmeasured td{color:#94a3b8}"
    ".scroll{overflow-x:auto}"
    "figure.chart{background:#fff;border:1px solid #e2e8f0;border-radius:8px;"
    "margin:10px 0 16px;padding:10px 12px 4px}figcaption{font-weight:600}"
    ".legend{font-size:12px;color:#334155;margin:2px 0}.legend span{margin-right:14px;"
    "white-space:nowrap}.legend i{display:inline-block;width:14px;height:3px;"
    "vertical-align:middle;margin-right:5px}"
    "svg text{font-size:11px;fill:#475569}svg text.label{font-size:12px;fill:#334155}"
    "svg text.mark{font-size:10.5px}svg .grid{stroke:#eef2f7}svg .axis{stroke:#94a3b8}"
    "svg .band{fill:#fecaca;fill-opacity:.45}"
    ".note{color:#475569;font-size:13px}p.reading{background:#fff;border-left:4px solid "
    "#2563eb;padding:8px 12px}footer{margin-top:40px;color:#94a3b8;font-size:12px}";

static void html_head(buf_t *o, const report_run_t *run)
{
    buf_append_str(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                      "'none'; style-src 'unsafe-inline'\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>surge report: ");
    report_escape(o, run->name);
    buf_printf(o, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", STYLE);
}

static void html_header(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    const json_t *plan = json_object_get(r, "plan");
    buf_append_str(o, "<header>\n<h1>");
    report_escape(o, run->name);
    buf_append_str(o, "</h1>\n<div class=\"meta\">run <b>");
    report_escape(o, report_text(r, "run_id"));
    buf_append_str(o, "</b> &middot; started <b>");
    report_escape(o, report_text(r, "started_at"));
    buf_append_str(o, "</b> &middot; status <b>");
    report_escape(o, run->has_results ? report_text(r, "status") : "unfinished");
    buf_append_str(o, "</b> &middot; model <b>");
    report_escape(o, report_text(plan, "model"));
    buf_append_str(o, "</b> &middot; targets <b>");
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(plan, "targets"), i, t)
    {
        if (i)
            buf_append_str(o, ", ");
        report_escape(o, json_string_value(t) ? json_string_value(t) : "");
    }
    buf_printf(o, "</b> &middot; %zu workers &middot; %zu intervals</div>\n",
               json_array_size(json_object_get(r, "workers")), json_array_size(run->intervals));
    buf_append_str(o, "<nav><a href=\"#summary\">summary</a><a href=\"#hockey\">latency vs "
                      "throughput</a><a href=\"#latency\">latency over time</a>"
                      "<a href=\"#throughput\">throughput</a><a href=\"#errors\">errors</a>"
                      "<a href=\"#breakdown\">phases, targets, workers</a>"
                      "<a href=\"#client\">client health</a><a href=\"#server\">server "
                      "metrics</a></nav>\n</header>\n");
}

static void html_banners(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    if (!run->has_results)
        buf_append_str(o, "<div class=\"banner bad\">results.json is missing: the run did not "
                          "finish (the coordinator was stopped or killed). This report is drawn "
                          "from intervals.jsonl only; totals and verdicts are absent.</div>\n");
    const char *status = report_text(r, "status");
    if (run->has_results && strcmp(status, "completed") != 0) {
        buf_append_str(o, "<div class=\"banner bad\">This run did not complete: status <b>");
        report_escape(o, status);
        buf_append_str(o, "</b>");
        const char *failure = report_text(r, "failure");
        if (*failure) {
            buf_append_str(o, ": ");
            report_escape(o, failure);
        }
        buf_append_str(o, "</div>\n");
    }
    if (run->bad_interval_lines)
        buf_printf(o,
                   "<div class=\"banner warn\">%d line(s) of intervals.jsonl could not be read "
                   "(a run stopped while writing one); the charts leave them out.</div>\n",
                   run->bad_interval_lines);
    const json_t *summary = json_object_get(r, "summary");
    double error_rate = json_path_number(summary, "error_rate");
    if (isfinite(error_rate) && error_rate > REPORT_ERROR_BANNER_RATE) {
        const char *worst = "";
        double worst_count = 0;
        const char *cls;
        const json_t *v;
        json_object_foreach((json_t *)json_object_get(summary, "errors_by_class"), cls, v)
        {
            if (json_is_number(v) && json_number_value(v) > worst_count) {
                worst_count = json_number_value(v);
                worst = cls;
            }
        }
        buf_printf(o,
                   "<div class=\"banner bad\"><b>%.1f%% of requests failed</b>, most of them "
                   "<b>",
                   100 * error_rate);
        report_escape(o, worst);
        buf_append_str(o, "</b> (see Errors by class): latency figures describe only the "
                          "requests that succeeded.</div>\n");
    }
    client_health_t h = client_health_of(r);
    if (h.worst_lag_ms > CLIENT_LAG_P99_LIMIT_MS) {
        buf_printf(o,
                   "<div class=\"banner bad\"><b>The client limited this test.</b> Schedule lag "
                   "P99 reached %.1f ms in phase <b>",
                   h.worst_lag_ms);
        report_escape(o, h.lag_phase);
        buf_printf(o,
                   "</b> (over %.0f ms): requests left later than planned, so the offered "
                   "load was lower than the plan's and latencies describe the load generator "
                   "as much as the target. Add workers or threads.</div>\n",
                   CLIENT_LAG_P99_LIMIT_MS);
    }
    if (h.dropped > 0) {
        buf_printf(o,
                   "<div class=\"banner bad\"><b>The client limited this test.</b> %lld arrivals "
                   "were dropped (first in phase <b>",
                   h.dropped);
        report_escape(o, h.drop_phase);
        buf_append_str(o, "</b>) because a cap was reached (max_inflight or connections): the "
                          "target received less than the plan offered.</div>\n");
    }
}

/* ---- Summary and verdicts --------------------------------------------------------- */

static void section_saturation(buf_t *o, const json_t *sat)
{
    if (!json_is_object(sat))
        return;
    buf_append_str(o, "<h3>Saturation</h3>\n");
    if (json_is_true(json_object_get(sat, "reached"))) {
        buf_printf(o,
                   "<div class=\"banner info\">The cluster saturates at <b>%.2f req/s</b>: the "
                   "first bad level was %.2f req/s",
                   json_path_number(sat, "rps"), json_path_number(sat, "first_bad_rps"));
        size_t i;
        const json_t *l;
        json_array_foreach(json_object_get(sat, "levels"), i, l)
        {
            if (json_is_false(json_object_get(l, "good")) &&
                fabs(json_path_number(l, "rate_rps") - json_path_number(sat, "first_bad_rps")) <
                    1e-9 &&
                *report_text(l, "reason")) {
                buf_append_str(o, " (");
                report_escape(o, report_text(l, "reason"));
                buf_append_str(o, ")");
                break;
            }
        }
        buf_append_str(o, ".</div>\n");
    } else {
        double max_tested = json_path_number(sat, "max_tested_rps");
        buf_printf(o,
                   "<div class=\"banner info\">Saturation was <b>not reached</b> up to %.2f "
                   "req/s: every level tested was good.</div>\n",
                   isfinite(max_tested) ? max_tested : json_path_number(sat, "rps"));
    }
    buf_append_str(o, "<div class=\"cards\">");
    card(o, "operating point", "%.2f", json_path_number(sat, "operating_point_rps"), "req/s");
    card(o, "max throughput", "%.2f", json_path_number(sat, "max_throughput_rps"), "req/s");
    card(o, "max output tokens", "%.0f", json_path_number(sat, "max_output_tokens_per_s"), "tok/s");
    card(o, "baseline TTFT p99", "%.1f", json_path_number(sat, "baseline_ttft_p99_ms"), "ms");
    buf_append_str(o, "</div>\n");
    const json_t *levels = json_object_get(sat, "levels");
    if (json_array_size(levels) == 0)
        return;
    buf_append_str(o, "<div class=\"scroll\"><table><tr><th>offered req/s</th><th>verdict</th>"
                      "<th>achieved req/s</th><th>completed req/s</th><th>TTFT p99 ms</th>"
                      "<th>errors</th><th>output tok/s</th><th class=\"t\">reason</th></tr>\n");
    size_t i;
    const json_t *l;
    json_array_foreach(levels, i, l)
    {
        bool good = json_is_true(json_object_get(l, "good"));
        buf_append_str(o, "<tr>");
        td_num(o, "%.2f", json_path_number(l, "rate_rps"));
        buf_printf(o, "<td class=\"%s\">%s%s</td>", good ? "pass" : "fail", good ? "good" : "bad",
                   json_is_true(json_object_get(l, "refinement")) ? " (refined)" : "");
        td_num(o, "%.2f", json_path_number(l, "achieved_rps"));
        td_num(o, "%.2f", json_path_number(l, "completed_rps"));
        td_num(o, "%.1f", json_path_number(l, "ttft_p99_ms"));
        td_num(o, "%.2f%%", 100 * json_path_number(l, "error_rate"));
        td_num(o, "%.0f", json_path_number(l, "output_tokens_per_s"));
        td_text(o, report_text(l, "reason"));
        buf_append_str(o, "</tr>\n");
    }
    buf_append_str(o, "</table></div>\n");
}

static void section_sla(buf_t *o, const json_t *sla)
{
    if (!json_is_object(sla))
        return;
    bool passed = json_is_true(json_object_get(sla, "passed"));
    buf_printf(o, "<h3>SLA</h3>\n<div class=\"banner %s\">SLA <b>%s</b></div>\n",
               passed ? "good" : "bad", passed ? "PASS" : "FAIL");
    buf_append_str(o, "<table><tr><th class=\"t\">check</th><th>limit</th><th>actual</th>"
                      "<th>result</th></tr>\n");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(sla, "checks"), i, c)
    {
        bool ok = json_is_true(json_object_get(c, "passed"));
        buf_append_str(o, "<tr><td class=\"t\">");
        if (*report_text(c, "phase")) { /* the phase judged, when not the whole run */
            report_escape(o, report_text(c, "phase"));
            buf_append_str(o, ": ");
        }
        report_escape(o, report_text(c, "metric"));
        buf_append_str(o, " ");
        report_escape(o, report_text(c, "op"));
        buf_append_str(o, "</td>");
        td_num(o, "%g", json_path_number(c, "limit"));
        double actual = json_path_number(c, "actual");
        if (isfinite(actual))
            td_num(o, "%g", actual);
        else
            buf_append_str(o, "<td>no data</td>");
        buf_printf(o, "<td class=\"%s\">%s</td></tr>\n", ok ? "pass" : "fail",
                   ok ? "PASS" : "FAIL");
    }
    buf_append_str(o, "</table>\n");
}

static void section_chaos(buf_t *o, const json_t *chaos)
{
    const json_t *faults = json_object_get(chaos, "faults");
    if (json_array_size(faults) == 0)
        return;
    buf_append_str(o, "<h3>Chaos impact</h3>\n<div class=\"scroll\"><table><tr><th "
                      "class=\"t\">fault</th><th>start s</th><th>end s</th><th>detection s</th>"
                      "<th>recovery s</th><th>error rate</th><th>throughput change</th>"
                      "<th>TTFT change</th></tr>\n");
    size_t i;
    const json_t *f;
    json_array_foreach(faults, i, f)
    {
        buf_append_str(o, "<tr>");
        td_text(o, report_text(f, "name"));
        td_num(o, "%.1f", json_path_number(f, "start_s"));
        td_num(o, "%.1f", json_path_number(f, "end_s"));
        if (json_is_null(json_object_get(f, "detection_s")))
            td_text(o, "not detected");
        else
            td_num(o, "%.1f", json_path_number(f, "detection_s"));
        if (json_is_null(json_object_get(f, "recovery_s")))
            td_text(o, "not recovered");
        else
            td_num(o, "%.1f", json_path_number(f, "recovery_s"));
        td_num(o, "%.2f%%", 100 * json_path_number(f, "error_rate"));
        td_num(o, "%+.1f%%", json_path_number(f, "throughput_change_pct"));
        td_num(o, "%+.1f%%", json_path_number(f, "ttft_change_pct"));
        buf_append_str(o, "</tr>\n");
    }
    buf_append_str(o, "</table></div>\n");
}

static void section_cost_users(buf_t *o, const json_t *r)
{
    const json_t *cost = json_object_get(r, "cost");
    if (json_is_object(cost)) {
        buf_append_str(o, "<h3>Cost</h3>\n<p>");
        buf_printf(o, "%.0f GPUs at %g ", json_path_number(cost, "gpu_count"),
                   json_path_number(cost, "price_per_gpu_hour"));
        report_escape(o, report_text(cost, "currency"));
        buf_printf(o, " per GPU-hour, %.0f%% utilised. Per million output tokens: ",
                   100 * json_path_number(cost, "utilisation"));
        double max = json_path_number(cost, "at_max_throughput.per_million_output_tokens");
        double op = json_path_number(cost, "at_operating_point.per_million_output_tokens");
        buf_append_str(o, "<b>");
        if (isfinite(max))
            buf_printf(o, "%.2f", max);
        else
            buf_append_str(o, "-");
        buf_append_str(o, "</b> at max throughput, <b>");
        if (isfinite(op))
            buf_printf(o, "%.2f", op);
        else
            buf_append_str(o, "-");
        buf_append_str(o, "</b> at the operating point (");
        report_escape(o, report_text(cost, "currency"));
        buf_append_str(o, ").</p>\n");
    }
    const json_t *users = json_object_get(r, "users");
    if (json_is_object(users) && isfinite(json_path_number(users, "users")))
        buf_printf(o,
                   "<h3>Users</h3>\n<p>About <b>%.0f concurrent users</b> at %.2f req/s (%.2f s "
                   "per request + %g s think time, Little's law).</p>\n",
                   json_path_number(users, "users"), json_path_number(users, "rate_rps"),
                   json_path_number(users, "request_duration_s"),
                   json_path_number(users, "think_time_s"));
}

static void section_summary(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    const json_t *s = json_object_get(r, "summary");
    buf_append_str(o, "<section id=\"summary\"><h2>Run summary and verdicts</h2>\n");
    if (json_is_object(s)) {
        buf_append_str(o, "<div class=\"cards\">");
        card(o, "requests", "%.0f", json_path_number(s, "requests.total"), "");
        card(o, "errors", "%.2f", 100 * json_path_number(s, "error_rate"), "%");
        card(o, "sent", "%.2f", json_path_number(s, "achieved_rps"), "req/s");
        card(o, "completed", "%.2f", json_path_number(s, "completed_rps"), "req/s");
        card(o, "output", "%.0f", json_path_number(s, "output_tokens_per_s"), "tok/s");
        card(o, "TTFT p50", "%.1f", json_path_number(s, "ttft_ms.p50"), "ms");
        card(o, "TTFT p99", "%.1f", json_path_number(s, "ttft_ms.p99"), "ms");
        card(o, "ITL p50", "%.1f", json_path_number(s, "itl_ms.p50"), "ms");
        card(o, "E2E p99", "%.1f", json_path_number(s, "e2e_ms.p99"), "ms");
        buf_append_str(o, "</div>\n<p class=\"note\">Measured phases merged (warm-up and "
                          "settling excluded); percentiles are exact across workers.</p>\n");
    } else {
        buf_append_str(o, "<p class=\"note\">No overall summary in this results directory.</p>\n");
    }
    section_saturation(o, json_object_get(r, "saturation"));
    section_sla(o, json_object_get(r, "sla"));
    section_chaos(o, json_object_get(r, "chaos"));
    section_cost_users(o, r);
    buf_append_str(o, "</section>\n");
}

/* ---- The hockey stick ------------------------------------------------------------- */

typedef struct {
    double rps, tokens, p50, p99;
} level_point_t;

static int level_point_cmp(const void *a, const void *b)
{
    double x = ((const level_point_t *)a)->rps, y = ((const level_point_t *)b)->rps;
    return (x > y) - (x < y);
}

static int mark_cmp(const void *a, const void *b)
{
    double x = ((const report_mark_t *)a)->x, y = ((const report_mark_t *)b)->x;
    return (x > y) - (x < y);
}

static void section_hockey(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    const json_t *phases = json_object_get(r, "phases");
    size_t n = json_array_size(phases);
    level_point_t *pts = calloc(n ? n : 1, sizeof *pts);
    int count = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(phases, i, p)
    {
        if (!pts || !phase_measured(p))
            continue;
        const json_t *s = json_object_get(p, "summary");
        pts[count++] = (level_point_t){
            json_path_number(s, "achieved_rps"), json_path_number(s, "output_tokens_per_s"),
            json_path_number(s, "ttft_ms.p50"), json_path_number(s, "ttft_ms.p99")};
    }
    if (count > 1)
        qsort(pts, (size_t)count, sizeof *pts, level_point_cmp);
    buf_append_str(o, "<section id=\"hockey\"><h2>Latency vs throughput</h2>\n"
                      "<p class=\"note\">One point per measured phase (each level of a "
                      "saturation search): while the target keeps up, latency stays flat as "
                      "the rate grows; past saturation it turns up sharply (the hockey "
                      "stick).</p>\n");
    if (count < 3)
        buf_append_str(o, "<p class=\"note\">This run has fewer than three measured load "
                          "levels; a saturation search (docs/plans.md) draws the whole "
                          "curve.</p>\n");
    double *xs = calloc((size_t)(count ? count : 1) * 4, sizeof *xs);
    if (pts && xs) {
        double *xt = xs + count, *y50 = xs + 2 * count, *y99 = xs + 3 * count;
        for (int k = 0; k < count; k++) {
            xs[k] = pts[k].rps;
            xt[k] = pts[k].tokens;
            y50[k] = pts[k].p50;
            y99[k] = pts[k].p99;
        }
        const json_t *sat = json_object_get(r, "saturation");
        report_mark_t marks[2];
        int mark_count = 0;
        if (json_is_object(sat)) {
            if (json_is_true(json_object_get(sat, "reached")))
                marks[mark_count++] =
                    (report_mark_t){json_path_number(sat, "rps"), "saturation", "#b91c1c", true};
            marks[mark_count++] = (report_mark_t){json_path_number(sat, "operating_point_rps"),
                                                  "operating point", "#15803d", true};
            qsort(marks, (size_t)mark_count, sizeof marks[0], mark_cmp);
        }
        report_series_t by_rps[2] = {
            {"TTFT p50", COLOR_P50, xs, y50, count, true, false},
            {"TTFT p99", COLOR_P99, xs, y99, count, true, false},
        };
        report_chart_svg(o, &(report_chart_t){.title = "TTFT vs achieved request rate",
                                              .x_label = "achieved req/s",
                                              .y_label = "ms",
                                              .series = by_rps,
                                              .series_count = 2,
                                              .marks = marks,
                                              .mark_count = mark_count});
        /* Sorted by request rate, which output tokens/s follows closely; a line that
           doubles back here means token throughput fell as the rate rose. */
        report_series_t by_tokens[2] = {
            {"TTFT p50", COLOR_P50, xt, y50, count, true, false},
            {"TTFT p99", COLOR_P99, xt, y99, count, true, false},
        };
        report_mark_t tok_mark = {json_path_number(sat, "max_output_tokens_per_s"),
                                  "max output tokens/s", "#b91c1c", true};
        report_chart_svg(o, &(report_chart_t){.title = "TTFT vs output token throughput",
                                              .x_label = "output tokens/s",
                                              .y_label = "ms",
                                              .series = by_tokens,
                                              .series_count = 2,
                                              .marks = &tok_mark,
                                              .mark_count = json_is_object(sat) ? 1 : 0});
    }
    free(xs);
    free(pts);
    buf_append_str(o, "</section>\n");
}

/* ---- Time series from intervals.jsonl --------------------------------------------- */

/* Marks and bands shared by every time chart: phase boundaries, chaos marks, faults. */
typedef struct {
    report_mark_t *marks;
    int mark_count;
    report_band_t *bands;
    int band_count;
    double t_min, t_max; /* the intervals' span: every time chart shares it */
} time_overlay_t;

static void overlay_build(time_overlay_t *ov, const report_run_t *run)
{
    const json_t *r = run->results;
    const json_t *phases = json_object_get(r, "phases");
    const json_t *chaos = json_object_get(r, "chaos");
    const json_t *chaos_marks = json_object_get(chaos, "marks");
    const json_t *faults = json_object_get(chaos, "faults");
    size_t cap = json_array_size(phases) + json_array_size(chaos_marks) +
                 json_array_size(run->intervals) + 1;
    ov->marks = calloc(cap, sizeof *ov->marks);
    ov->bands = calloc(json_array_size(faults) + 1, sizeof *ov->bands);
    ov->mark_count = ov->band_count = 0;
    size_t n = json_array_size(run->intervals);
    ov->t_min = n ? json_path_number(json_array_get(run->intervals, 0), "start_s") : 0;
    ov->t_max = n ? json_path_number(json_array_get(run->intervals, n - 1), "end_s") : 0;
    if (!isfinite(ov->t_min) || !isfinite(ov->t_max))
        ov->t_min = ov->t_max = 0; /* 0..0: the chart falls back to its data's extent */
    if (!ov->marks || !ov->bands)
        return;
    size_t i;
    const json_t *p;
    if (json_array_size(phases)) {
        json_array_foreach(phases, i, p)
        {
            if (json_is_object(json_object_get(p, "summary")) ||
                json_is_true(json_object_get(p, "ran")))
                ov->marks[ov->mark_count++] = (report_mark_t){
                    json_path_number(p, "start_s"), report_text(p, "name"), COLOR_PHASE, true};
        }
    } else {
        /* No results.json: phase boundaries are where the intervals' phase changes. */
        const char *last = NULL;
        json_array_foreach(run->intervals, i, p)
        {
            const char *name = report_text(p, "phase");
            if (!last || strcmp(last, name) != 0)
                ov->marks[ov->mark_count++] =
                    (report_mark_t){json_path_number(p, "start_s"), name, COLOR_PHASE, true};
            last = name;
        }
    }
    json_array_foreach(chaos_marks, i, p)
    {
        ov->marks[ov->mark_count++] =
            (report_mark_t){json_path_number(p, "t_s"), report_text(p, "text"), COLOR_CHAOS, false};
    }
    qsort(ov->marks, (size_t)ov->mark_count, sizeof *ov->marks, mark_cmp);
    json_array_foreach(faults, i, p)
    {
        ov->bands[ov->band_count++] = (report_band_t){
            json_path_number(p, "start_s"), json_path_number(p, "end_s"), report_text(p, "name")};
    }
}

static void overlay_free(time_overlay_t *ov)
{
    free(ov->marks);
    free(ov->bands);
}

/* The interval's midpoint on the run's clock. */
static double *interval_times(const json_t *intervals)
{
    size_t n = json_array_size(intervals);
    double *t = calloc(n ? n : 1, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *iv = json_array_get(intervals, i);
        t[i] = (json_path_number(iv, "start_s") + json_path_number(iv, "end_s")) / 2;
    }
    return t;
}

/* Values at a dot path of each interval (prefix "summary." for summary fields), divided
   by the interval's length when per_second. Caller frees. */
static double *interval_values(const json_t *intervals, const char *path, bool per_second)
{
    size_t n = json_array_size(intervals);
    double *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *iv = json_array_get(intervals, i);
        v[i] = json_path_number(iv, path);
        if (per_second) {
            double len = json_path_number(iv, "end_s") - json_path_number(iv, "start_s");
            v[i] = len > 0 ? v[i] / len : NAN;
        }
    }
    return v;
}

/* A chart on the run's time axis, with the phase boundaries, marks and fault windows of
   the overlay drawn on it (every time chart of the page shares this axis). */
static void overlay_chart(buf_t *o, const time_overlay_t *ov, const char *title,
                          const char *y_label, const report_series_t *series, int count)
{
    report_chart_svg(o, &(report_chart_t){.title = title,
                                          .x_label = "seconds from the run's start",
                                          .y_label = y_label,
                                          .series = series,
                                          .series_count = count,
                                          .marks = ov->marks,
                                          .mark_count = ov->mark_count,
                                          .bands = ov->bands,
                                          .band_count = ov->band_count,
                                          .x_fixed = true,
                                          .x_min = ov->t_min,
                                          .x_max = ov->t_max});
}

/* A chart over time of up to 8 interval fields. */
typedef struct {
    const char *label, *path, *color;
    bool per_second, dashed;
} field_t;

static void time_chart(buf_t *o, const report_run_t *run, const time_overlay_t *ov,
                       const char *title, const char *y_label, const field_t *fields, int count)
{
    report_series_t series[8];
    double *values[8] = {0};
    double *t = interval_times(run->intervals);
    int n = (int)json_array_size(run->intervals);
    if (count > 8)
        count = 8;
    for (int i = 0; i < count; i++) {
        values[i] = interval_values(run->intervals, fields[i].path, fields[i].per_second);
        series[i] = (report_series_t){fields[i].label, fields[i].color,          t,
                                      values[i],       (t && values[i]) ? n : 0, false,
                                      fields[i].dashed};
    }
    overlay_chart(o, ov, title, y_label, series, count);
    for (int i = 0; i < count; i++)
        free(values[i]);
    free(t);
}

static void section_latency(buf_t *o, const report_run_t *run, const time_overlay_t *ov)
{
    buf_append_str(o, "<section id=\"latency\"><h2>Latency over time</h2>\n<p class=\"note\">"
                      "Percentiles of the requests that ended in each interval; dashed grey "
                      "lines are phase boundaries, red lines chaos marks, shaded windows "
                      "faults. A gap is an interval in which no request ended.</p>\n");
    static const char *const names[][3] = {
        {"TTFT (time to first token)", "summary.ttft_ms", "ttft"},
        {"ITL (inter-token latency)", "summary.itl_ms", "itl"},
        {"E2E (end-to-end latency)", "summary.e2e_ms", "e2e"},
    };
    for (int m = 0; m < 3; m++) {
        char p50[64], p90[64], p99[64];
        snprintf(p50, sizeof p50, "%s.p50", names[m][1]);
        snprintf(p90, sizeof p90, "%s.p90", names[m][1]);
        snprintf(p99, sizeof p99, "%s.p99", names[m][1]);
        field_t f[3] = {{"p50", p50, COLOR_P50, false, false},
                        {"p90", p90, COLOR_P90, false, false},
                        {"p99", p99, COLOR_P99, false, false}};
        time_chart(o, run, ov, names[m][0], "ms", f, 3);
    }
    buf_append_str(o, "</section>\n");
}

static void section_throughput(buf_t *o, const report_run_t *run, const time_overlay_t *ov)
{
    buf_append_str(o, "<section id=\"throughput\"><h2>Offered vs achieved rate</h2>\n"
                      "<p class=\"note\">Offered is the plan's rate; sent is what the client "
                      "sent (below offered: the client fell behind or dropped arrivals); "
                      "completed is what the target finished (below sent: a queue is "
                      "growing).</p>\n");
    field_t rates[4] = {{"offered", "summary.offered_rps", "#64748b", false, true},
                        {"sent", "summary.achieved_rps", "#2563eb", false, false},
                        {"completed", "summary.completed_rps", "#16a34a", false, false},
                        {"goodput (met every SLO)", "summary.goodput_rps", "#9333ea", false, true}};
    time_chart(o, run, ov, "Request rate", "req/s", rates, 4);
    field_t tokens[2] = {
        {"output tokens/s", "summary.output_tokens_per_s", "#ea580c", false, false},
        {"input tokens/s", "summary.input_tokens_per_s", "#0891b2", false, false}};
    time_chart(o, run, ov, "Token throughput", "tokens/s", tokens, 2);
    field_t inflight[1] = {
        {"requests in flight (end of interval)", "inflight", "#334155", false, false}};
    time_chart(o, run, ov, "In flight", "requests", inflight, 1);
    buf_append_str(o, "</section>\n");
}

static const char *const ERROR_CLASSES[] = {"connect",   "tls",      "timeout",      "http_429",
                                            "http_4xx",  "http_5xx", "stream_error", "truncated",
                                            "malformed", "other",    "aborted"};
#define ERROR_CLASS_COUNT ((int)(sizeof ERROR_CLASSES / sizeof ERROR_CLASSES[0]))

static void section_errors(buf_t *o, const report_run_t *run, const time_overlay_t *ov)
{
    buf_append_str(o, "<section id=\"errors\"><h2>Errors by class</h2>\n");
    field_t f[8];
    char paths[ERROR_CLASS_COUNT][64];
    int count = 0;
    for (int c = 0; c < ERROR_CLASS_COUNT && count < 8; c++) {
        snprintf(paths[c], sizeof paths[c], "summary.errors_by_class.%s", ERROR_CLASSES[c]);
        bool any = false;
        size_t i;
        const json_t *iv;
        json_array_foreach(run->intervals, i, iv)
        {
            double v = json_path_number(iv, paths[c]);
            any = any || (isfinite(v) && v > 0);
        }
        if (any) {
            f[count] = (field_t){ERROR_CLASSES[c], paths[c],
                                 REPORT_PALETTE[count % REPORT_PALETTE_SIZE], true, false};
            count++;
        }
    }
    const json_t *s = json_object_get(run->results, "summary");
    if (json_is_object(s)) {
        buf_append_str(o, "<table><tr>");
        for (int c = 0; c < ERROR_CLASS_COUNT; c++)
            buf_printf(o, "<th>%s</th>", ERROR_CLASSES[c]);
        buf_append_str(o, "</tr><tr>");
        for (int c = 0; c < ERROR_CLASS_COUNT; c++) {
            char path[64];
            snprintf(path, sizeof path, "errors_by_class.%s", ERROR_CLASSES[c]);
            td_num(o, "%.0f", json_path_number(s, path));
        }
        buf_append_str(o, "</tr></table>\n");
    }
    if (count == 0)
        buf_append_str(o, "<p class=\"note\">No errors in any interval.</p>\n");
    else
        time_chart(o, run, ov, "Errors per second, by class", "errors/s", f, count);
    buf_append_str(o, "</section>\n");
}

/* ---- Tables: phases, targets, classes, workers ------------------------------------ */

/* Stages run more than once (`iterations:`): the mean of their iterations, with the
   spread of TTFT p99 (results.json stages[]). Nothing when no stage repeats. */
static void section_iterations(buf_t *o, const json_t *r)
{
    bool header = false;
    size_t i, k;
    const json_t *stage, *level;
    json_array_foreach(json_object_get(r, "stages"), i, stage)
    {
        if (json_path_number(stage, "iterations") < 2)
            continue;
        json_array_foreach(json_object_get(stage, "levels"), k, level)
        {
            const json_t *s = json_object_get(level, "summary");
            if (!json_is_object(s))
                continue;
            if (!header) {
                buf_append_str(o, "<h3>Iterations averaged</h3>\n<div class=\"scroll\"><table>"
                                  "<tr><th class=\"t\">stage</th><th>level</th><th>runs</th>"
                                  "<th>sent/s</th><th>done/s</th><th>TTFT p50</th>"
                                  "<th>TTFT p99</th><th>&plusmn; sd</th><th>E2E p99</th>"
                                  "<th>out tok/s</th><th>errors</th></tr>\n");
                header = true;
            }
            const json_t *sd = json_object_get(json_object_get(s, "spread"), "ttft_ms.p99");
            buf_append_str(o, "<tr>");
            td_text(o, report_text(stage, "name"));
            td_num(o, "%.0f", json_path_number(level, "level") + 1);
            td_num(o, "%.0f", json_path_number(s, "iterations"));
            td_num(o, "%.2f", json_path_number(s, "achieved_rps"));
            td_num(o, "%.2f", json_path_number(s, "completed_rps"));
            td_num(o, "%.1f", json_path_number(s, "ttft_ms.p50"));
            td_num(o, "%.1f", json_path_number(s, "ttft_ms.p99"));
            td_num(o, "%.1f", json_path_number(sd, "stddev"));
            td_num(o, "%.1f", json_path_number(s, "e2e_ms.p99"));
            td_num(o, "%.0f", json_path_number(s, "output_tokens_per_s"));
            td_num(o, "%.2f%%", 100 * json_path_number(s, "error_rate"));
            buf_append_str(o, "</tr>\n");
        }
    }
    if (header)
        buf_append_str(o, "</table></div>\n<p class=\"note\">Each row is the mean of the "
                          "stage's iterations at that level (the figures the verdicts use); "
                          "&plusmn; sd is the standard deviation of TTFT p99 across them.</p>\n");
}

/* A workload mix of 2+ classes (results.json classes[]): the same columns as Targets,
   by the class of each request's prompt, plus its output tokens. Nothing otherwise. */
static void section_classes(buf_t *o, const json_t *r)
{
    const json_t *classes = json_object_get(r, "classes");
    if (json_array_size(classes) < 2)
        return;
    buf_append_str(o, "<h2 id=\"classes\">Classes</h2>\n<div class=\"scroll\"><table><tr>"
                      "<th class=\"t\">class</th><th>requests</th><th>errors</th><th>done/s</th>"
                      "<th>TTFT p50</th><th>TTFT p99</th><th>E2E p99</th><th>out tokens</th>"
                      "<th>out tok/s</th></tr>\n");
    size_t i;
    const json_t *c;
    json_array_foreach(classes, i, c)
    {
        const json_t *s = json_object_get(c, "summary");
        buf_append_str(o, "<tr>");
        td_text(o, report_text(c, "name"));
        td_num(o, "%.0f", json_path_number(s, "requests.total"));
        td_num(o, "%.2f%%", 100 * json_path_number(s, "error_rate"));
        td_num(o, "%.2f", json_path_number(s, "completed_rps"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p99"));
        td_num(o, "%.1f", json_path_number(s, "e2e_ms.p99"));
        td_num(o, "%.0f", json_path_number(s, "output_tokens"));
        td_num(o, "%.0f", json_path_number(s, "output_tokens_per_s"));
        buf_append_str(o, "</tr>\n");
    }
    buf_append_str(o, "</table></div>\n<p class=\"note\">The workload mix's classes over the "
                      "whole run (warm-up included, like Targets); latencies in ms.</p>\n");
}

/* Conversations (results.json turns[]): TTFT by turn index, the question of a KV cache
   (later turns resend a longer history: with the prefix cached, their TTFT stays near
   turn 1's), and each turn's figures. Nothing without conversations. */
static void section_turns(buf_t *o, const json_t *r)
{
    const json_t *turns = json_object_get(r, "turns");
    size_t n = json_array_size(turns);
    if (n == 0)
        return;
    double *v = calloc(n * 4, sizeof *v);
    if (!v)
        return;
    double *x = v, *p50 = v + n, *p99 = v + 2 * n, *input = v + 3 * n;
    size_t i;
    const json_t *t;
    json_array_foreach(turns, i, t)
    {
        const json_t *s = json_object_get(t, "summary");
        x[i] = json_path_number(t, "turn");
        bool any = json_path_number(s, "requests.ok") > 0;
        p50[i] = any ? json_path_number(s, "ttft_ms.p50") : NAN;
        p99[i] = any ? json_path_number(s, "ttft_ms.p99") : NAN;
        input[i] = json_path_number(t, "input_tokens_mean");
    }
    buf_append_str(o, "<section id=\"turns\"><h2>Turns</h2>\n<p class=\"note\">Each turn of a "
                      "conversation resends the history before it, so input grows turn by "
                      "turn; with the prefix in the target's KV cache, TTFT of later turns "
                      "stays near turn 1's, without it TTFT grows with the turn.</p>\n");
    report_series_t series[2] = {
        {"TTFT p50", COLOR_P50, x, p50, (int)n, true, false},
        {"TTFT p99", COLOR_P99, x, p99, (int)n, true, false},
    };
    report_chart_svg(o, &(report_chart_t){.title = "TTFT by turn",
                                          .x_label = "turn",
                                          .y_label = "ms",
                                          .series = series,
                                          .series_count = 2});
    buf_append_str(o, "<div class=\"scroll\"><table><tr><th class=\"t\">turn</th>"
                      "<th>requests</th><th>errors</th><th>TTFT p50</th><th>TTFT p99</th>"
                      "<th>ITL p50</th><th>E2E p99</th><th>input tokens</th></tr>\n");
    json_array_foreach(turns, i, t)
    {
        const json_t *s = json_object_get(t, "summary");
        char name[32];
        snprintf(name, sizeof name, "%.0f%s", x[i],
                 json_is_true(json_object_get(t, "and_later")) ? "+" : "");
        buf_append_str(o, "<tr>");
        td_text(o, name);
        td_num(o, "%.0f", json_path_number(s, "requests.total"));
        td_num(o, "%.2f%%", 100 * json_path_number(s, "error_rate"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p99"));
        td_num(o, "%.1f", json_path_number(s, "itl_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "e2e_ms.p99"));
        td_num(o, "%.0f", input[i]);
        buf_append_str(o, "</tr>\n");
    }
    const json_t *c = json_object_get(r, "conversations");
    buf_printf(o,
               "</table></div>\n<p class=\"note\">Over the whole run (warm-up included); "
               "latencies in ms, input tokens the mean of the server's counts. Conversations: "
               "%.0f completed, %.0f abandoned on error; %.0f turns sent with their oldest "
               "history left out to fit the context.</p></section>\n",
               json_path_number(c, "completed"), json_path_number(c, "abandoned"),
               json_path_number(c, "context_truncated"));
    free(v);
}

static void section_breakdown(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    buf_append_str(o, "<section id=\"breakdown\"><h2>Phases</h2>\n<div class=\"scroll\"><table>"
                      "<tr><th class=\"t\">phase</th><th class=\"t\">kind</th><th>load</th>"
                      "<th>start s</th><th>end s</th><th>requests</th><th>sent/s</th>"
                      "<th>done/s</th><th>TTFT p50</th><th>TTFT p99</th><th>ITL p50</th>"
                      "<th>E2E p99</th><th>out tok/s</th><th>errors</th><th>lag p99</th>"
                      "<th>dropped</th><th>tail</th><th>tail ends +s</th></tr>\n");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(r, "phases"), i, p)
    {
        const json_t *s = json_object_get(p, "summary");
        char load[48];
        phase_load(p, load, sizeof load);
        buf_printf(o, "<tr%s>", phase_measured(p) ? "" : " class=\"unmeasured\"");
        td_text(o, report_text(p, "name"));
        td_text(o, report_text(p, "kind"));
        td_text(o, load);
        td_num(o, "%.1f", json_path_number(p, "start_s"));
        td_num(o, "%.1f", json_path_number(p, "end_s"));
        if (!json_is_object(s)) {
            buf_append_str(o, "<td class=\"t\" colspan=\"13\">did not run</td></tr>\n");
            continue;
        }
        td_num(o, "%.0f", json_path_number(s, "requests.total"));
        td_num(o, "%.2f", json_path_number(s, "achieved_rps"));
        td_num(o, "%.2f", json_path_number(s, "delivered_rps"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p99"));
        td_num(o, "%.1f", json_path_number(s, "itl_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "e2e_ms.p99"));
        td_num(o, "%.0f", json_path_number(s, "output_tokens_per_s"));
        td_num(o, "%.2f%%", 100 * json_path_number(s, "error_rate"));
        td_num(o, "%.2f", json_path_number(s, "lag_ms.p99"));
        td_num(o, "%.0f", json_path_number(s, "requests.dropped"));
        td_num(o, "%.0f", json_path_number(p, "tail.requests"));
        td_num(o, "%.1f", json_path_number(p, "tail.last_end_after_s"));
        buf_append_str(o, "</tr>\n");
    }
    buf_append_str(o, "</table></div>\n<p class=\"note\">Grey rows (warm-up, settling) are not "
                      "counted in the summary. Latencies in ms. Requests, latencies and errors "
                      "are the phase's own requests, whenever they ended; done/s and out tok/s "
                      "are what the cluster completed and delivered inside the phase's window; "
                      "tail: the phase's requests that ended after it, the last this many "
                      "seconds after.</p>\n");
    section_iterations(o, r);

    buf_append_str(o, "<h2>Targets</h2>\n<div class=\"scroll\"><table><tr><th class=\"t\">"
                      "target</th><th>requests</th><th>errors</th><th>done/s</th><th>TTFT "
                      "p50</th><th>TTFT p99</th><th>E2E p99</th><th>out tok/s</th></tr>\n");
    json_array_foreach(json_object_get(r, "targets"), i, p)
    {
        const json_t *s = json_object_get(p, "summary");
        buf_append_str(o, "<tr>");
        td_text(o, report_text(p, "url"));
        td_num(o, "%.0f", json_path_number(s, "requests.total"));
        td_num(o, "%.2f%%", 100 * json_path_number(s, "error_rate"));
        td_num(o, "%.2f", json_path_number(s, "completed_rps"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p50"));
        td_num(o, "%.1f", json_path_number(s, "ttft_ms.p99"));
        td_num(o, "%.1f", json_path_number(s, "e2e_ms.p99"));
        td_num(o, "%.0f", json_path_number(s, "output_tokens_per_s"));
        buf_append_str(o, "</tr>\n");
    }
    buf_append_str(o, "</table></div>\n");
    section_classes(o, r);
    section_turns(o, r);

    buf_append_str(o, "<h2>Workers</h2>\n<div class=\"scroll\"><table><tr><th class=\"t\">"
                      "worker</th><th class=\"t\">state</th><th>share</th><th>requests</th>"
                      "<th>of all</th><th>threads</th><th>capacity</th><th>snapshots</th>"
                      "<th>duplicates</th><th>returns</th><th>lost at s</th></tr>\n");
    json_array_foreach(json_object_get(r, "workers"), i, p)
    {
        buf_append_str(o, "<tr>");
        td_text(o, report_text(p, "id"));
        td_text(o, report_text(p, "state"));
        td_num(o, "%.3f", json_path_number(p, "share"));
        td_num(o, "%.0f", json_path_number(p, "requests"));
        td_num(o, "%.1f%%", 100 * json_path_number(p, "requests_share"));
        td_num(o, "%.0f", json_path_number(p, "threads"));
        td_num(o, "%.0f", json_path_number(p, "capacity"));
        td_num(o, "%.0f", json_path_number(p, "snapshots"));
        td_num(o, "%.0f", json_path_number(p, "duplicate_snapshots"));
        td_num(o, "%.0f", json_path_number(p, "returns"));
        td_num(o, "%.1f", json_path_number(p, "lost_at_s"));
        buf_append_str(o, "</tr>\n");
    }
    buf_printf(o,
               "</table></div>\n<p class=\"note\">%.0f snapshots arrived after their interval "
               "closed (counted in the totals, not in the charts); %.0f messages were "
               "rejected.</p>\n</section>\n",
               json_path_number(r, "late_snapshots"), json_path_number(r, "rejected_messages"));
}

/* ---- Client health ---------------------------------------------------------------- */

static void section_client(buf_t *o, const report_run_t *run, const time_overlay_t *ov)
{
    client_health_t h = client_health_of(run->results);
    buf_append_str(o, "<section id=\"client\"><h2>Client health</h2>\n");
    if (h.worst_lag_ms > CLIENT_LAG_P99_LIMIT_MS || h.dropped > 0)
        buf_append_str(o, "<div class=\"banner bad\">The client limited this test (see the "
                          "warning at the top): the figures describe the load generator as much "
                          "as the target.</div>\n");
    else if (run->has_results)
        buf_printf(o,
                   "<div class=\"banner good\">The client kept up: schedule lag P99 at most "
                   "%.2f ms in every measured phase (limit %.0f ms) and no arrival was "
                   "dropped.</div>\n",
                   h.worst_lag_ms, CLIENT_LAG_P99_LIMIT_MS);
    buf_append_str(o, "<p class=\"note\">Schedule lag is how late each request left compared "
                      "with its planned send time. It should stay near zero; when it grows the "
                      "client, not the target, sets the pace.</p>\n");
    field_t lag[2] = {{"lag p50", "summary.lag_ms.p50", COLOR_P50, false, false},
                      {"lag p99", "summary.lag_ms.p99", COLOR_P99, false, false}};
    time_chart(o, run, ov, "Schedule lag", "ms", lag, 2);
    field_t drops[3] = {{"dropped arrivals", "summary.requests.dropped", "#b91c1c", false, false},
                        {"workers reporting", "workers_reported", "#2563eb", false, false},
                        {"workers live", "workers_live", "#16a34a", false, true}};
    time_chart(o, run, ov, "Dropped arrivals and workers, per interval", "count", drops, 3);
    buf_append_str(o, "</section>\n");
}

/* ---- Server-side metrics ---------------------------------------------------------- */

/* Server metrics ride on each interval as "server": {TARGET_URL: {NAME: number, ...}}
   (docs/report.md). The names below get a title; any other numeric one is drawn with its
   own name. */
static const char *server_metric_title(const char *name)
{
    static const char *const titles[][2] = {
        {"running", "requests running"},
        {"waiting", "requests waiting"},
        {"kv_cache_usage", "KV cache usage (fraction of blocks)"},
        {"preemptions", "preemptions in the interval"},
        {"queue_time_ms", "queue time (mean, ms)"},
        {"prompt_tokens_per_s", "prompt tokens/s (server)"},
        {"generation_tokens_per_s", "generation tokens/s (server)"},
        {"prefix_cache_hit_rate", "prefix cache hit rate (prompt tokens found cached)"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i][0], name) == 0)
            return titles[i][1];
    return NULL;
}

/* The mean of metric `name` over every target and every interval of phase `phase`. */
static double server_phase_mean(const report_run_t *run, const char *phase, const char *name)
{
    double sum = 0;
    int n = 0;
    size_t i;
    const json_t *iv;
    json_array_foreach(run->intervals, i, iv)
    {
        if (strcmp(report_text(iv, "phase"), phase) != 0)
            continue;
        const char *url;
        const json_t *m;
        json_object_foreach((json_t *)json_object_get(iv, "server"), url, m)
        {
            double v = json_path_number(m, name);
            if (isfinite(v)) {
                sum += v;
                n++;
            }
        }
    }
    return n ? sum / n : NAN;
}

/* The bottleneck, in words, at the first bad level of the saturation search (or the
   busiest measured phase without one). */
static void server_reading(buf_t *o, const report_run_t *run)
{
    const json_t *r = run->results;
    const json_t *sat = json_object_get(r, "saturation");
    double want = json_path_number(sat, "first_bad_rps");
    const char *phase = NULL;
    double best = -1;
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(r, "phases"), i, p)
    {
        if (!phase_measured(p))
            continue;
        double score = isfinite(want) ? -fabs(json_path_number(p, "target_rps") - want)
                                      : json_path_number(p, "summary.achieved_rps");
        if (isfinite(score) && (phase == NULL || score > best)) {
            best = score;
            phase = report_text(p, "name");
        }
    }
    if (!phase)
        return;
    double kv = server_phase_mean(run, phase, "kv_cache_usage");
    double waiting = server_phase_mean(run, phase, "waiting");
    double running = server_phase_mean(run, phase, "running");
    double preempt = server_phase_mean(run, phase, "preemptions");
    buf_append_str(o, "<p class=\"reading\"><b>Reading at ");
    buf_append_str(o, isfinite(want) ? "the first bad level" : "the busiest phase");
    buf_append_str(o, " (");
    report_escape(o, phase);
    buf_append_str(o, "):</b> ");
    if (isfinite(kv) && kv >= REPORT_KV_FULL_FRACTION && isfinite(waiting) && waiting > 0)
        buf_printf(o,
                   "the KV cache is full (%.0f%% on average) and %.1f requests are waiting: the "
                   "servers are memory-bound; more KV cache (GPUs, a smaller model or context) "
                   "or fewer concurrent sequences moves the knee.",
                   100 * kv, waiting);
    else if (isfinite(waiting) && waiting > 0 && isfinite(kv))
        buf_printf(o,
                   "%.1f requests are waiting while the KV cache is at %.0f%%: the servers are "
                   "compute- or batch-bound (max_num_seqs, GPU time), not memory-bound.",
                   waiting, 100 * kv);
    else if (isfinite(waiting) && waiting > 0)
        buf_printf(o,
                   "%.1f requests are waiting on the servers (their KV cache usage is not "
                   "reported): the servers are the bottleneck.",
                   waiting);
    else if (isfinite(waiting))
        buf_append_str(o, "no request is waiting on the servers: the limit is elsewhere (the "
                          "client, the network, a proxy in front of the servers).");
    else
        buf_append_str(o, "the servers' metrics do not say how many requests wait, so no "
                          "reading can be given.");
    if (isfinite(running))
        buf_printf(o, " %.1f requests running on average.", running);
    if (isfinite(preempt) && preempt > 0)
        buf_printf(o,
                   " %.1f preemptions per interval: the servers evicted running requests to "
                   "make room.",
                   preempt);
    buf_append_str(o, "</p>\n");
}

static void section_server(buf_t *o, const report_run_t *run, const time_overlay_t *ov)
{
    buf_append_str(o, "<section id=\"server\"><h2>Server-side metrics</h2>\n");
    /* The metric names and targets present, in order of first appearance. */
    json_t *names = json_array(), *targets = json_array();
    size_t i;
    const json_t *iv;
    json_array_foreach(run->intervals, i, iv)
    {
        const char *url;
        const json_t *m;
        json_object_foreach((json_t *)json_object_get(iv, "server"), url, m)
        {
            bool known = false;
            size_t k;
            const json_t *t;
            json_array_foreach(targets, k, t) known =
                known || strcmp(json_string_value(t), url) == 0;
            if (!known)
                json_array_append_new(targets, json_string(url));
            const char *name;
            const json_t *v;
            json_object_foreach((json_t *)m, name, v)
            {
                if (!json_is_number(v))
                    continue;
                known = false;
                json_array_foreach(names, k, t) known =
                    known || strcmp(json_string_value(t), name) == 0;
                if (!known)
                    json_array_append_new(names, json_string(name));
            }
        }
    }
    if (json_array_size(names) == 0) {
        buf_append_str(o, "<p class=\"note\">This run has no server-side metrics (the "
                          "intervals carry no <code>server</code> field: the targets' "
                          "Prometheus endpoints were not scraped).</p>\n</section>\n");
        json_decref(names);
        json_decref(targets);
        return;
    }
    server_reading(o, run);
    int n = (int)json_array_size(run->intervals);
    int target_count = (int)json_array_size(targets);
    if (target_count > REPORT_MAX_TARGET_SERIES) {
        buf_printf(o, "<p class=\"note\">%d targets; the charts draw the first %d.</p>\n",
                   target_count, REPORT_MAX_TARGET_SERIES);
        target_count = REPORT_MAX_TARGET_SERIES;
    }
    double *t = interval_times(run->intervals);
    double *values = calloc((size_t)(n ? n : 1) * (size_t)target_count, sizeof *values);
    const json_t *name_j;
    json_array_foreach(names, i, name_j)
    {
        if (!t || !values)
            break;
        const char *name = json_string_value(name_j);
        report_series_t series[REPORT_MAX_TARGET_SERIES];
        for (int k = 0; k < target_count; k++) {
            const char *url = json_string_value(json_array_get(targets, (size_t)k));
            double *v = values + (size_t)k * (size_t)n;
            for (int j = 0; j < n; j++) {
                const json_t *per = json_object_get(
                    json_object_get(json_array_get(run->intervals, (size_t)j), "server"), url);
                v[j] = json_path_number(per, name);
            }
            series[k] = (report_series_t){
                url, REPORT_PALETTE[k % REPORT_PALETTE_SIZE], t, v, n, false, false};
        }
        const char *title = server_metric_title(name);
        overlay_chart(o, ov, title ? title : name, NULL, series, target_count);
    }
    free(values);
    free(t);
    json_decref(names);
    json_decref(targets);
    buf_append_str(o, "</section>\n");
}

/* ---- The page --------------------------------------------------------------------- */

static void html_render(buf_t *o, const report_run_t *run)
{
    html_head(o, run);
    html_header(o, run);
    html_banners(o, run);
    section_summary(o, run);
    section_hockey(o, run);
    time_overlay_t ov;
    overlay_build(&ov, run);
    section_latency(o, run, &ov);
    section_throughput(o, run, &ov);
    section_errors(o, run, &ov);
    section_breakdown(o, run);
    section_client(o, run, &ov);
    section_server(o, run, &ov);
    prom_query_report(o, run->results,
                      &(report_chart_t){.x_label = "seconds from the run's start",
                                        .marks = ov.marks,
                                        .mark_count = ov.mark_count,
                                        .bands = ov.bands,
                                        .band_count = ov.band_count,
                                        .x_fixed = true,
                                        .x_min = ov.t_min,
                                        .x_max = ov.t_max});
    overlay_free(&ov);
    buf_printf(o,
               "<footer>surge %s &middot; rendered from results.json and intervals.jsonl; "
               "phases.csv and intervals.csv beside this file hold the same tables. Hover a "
               "point for its value.</footer>\n</main>\n</body>\n</html>\n",
               SURGE_VERSION);
}

int report_write_html(const char *results_dir, const char *html_path, char *err, size_t err_size)
{
    report_run_t *run = report_run_load(results_dir, err, err_size);
    if (!run)
        return -1;
    buf_t page;
    buf_init(&page);
    html_render(&page, run);
    char *default_path = html_path ? NULL : path_join(results_dir, "report.html");
    int rc =
        report_file_write(html_path ? html_path : default_path, page.data, page.len, err, err_size);
    free(default_path);
    buf_free(&page);
    report_run_destroy(&run);
    return rc;
}

int report_write_csv(const char *results_dir, const char *csv_dir, char *err, size_t err_size)
{
    report_run_t *run = report_run_load(results_dir, err, err_size);
    if (!run)
        return -1;
    int rc = report_csv_write(run, csv_dir ? csv_dir : results_dir, err, err_size);
    report_run_destroy(&run);
    return rc;
}

int report_write_dir(const char *results_dir, char *err, size_t err_size)
{
    if (report_write_html(results_dir, NULL, err, err_size) != 0)
        return -1;
    return report_write_csv(results_dir, NULL, err, err_size);
}

int report_print_summary(const char *results_dir, FILE *out, char *err, size_t err_size)
{
    report_run_t *run = report_run_load(results_dir, err, err_size);
    if (!run)
        return -1;
    if (!run->has_results) {
        snprintf(err, err_size, "%s/results.json: missing (the run did not finish)", results_dir);
        report_run_destroy(&run);
        return -1;
    }
    fprintf(out, "%s: %s, run %s\n", run->name, report_text(run->results, "status"),
            report_text(run->results, "run_id"));
    summary_print(run->results, out);
    report_run_destroy(&run);
    return 0;
}
