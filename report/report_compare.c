/*  report_compare.c: `surge compare A B [...]`: runs side by side (docs/report.md).

    The first directory is the reference. Each row is one figure (the overall summary, the
    verdicts, then every measured phase the runs share by name); each other run's cell shows
    its value and the relative difference (b - a) / |a|. Beyond the threshold, a difference
    is "worse" or "better" by the figure's direction: lower is better for latencies, errors,
    lag and cost; higher for throughput and saturation; counts are shown but not judged.
    The terminal table and the HTML table come from the same rows.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_internal.h"

#define COMPARE_DEFAULT_THRESHOLD_PCT 5.0
#define COMPARE_MAX_RUNS              16 /* columns that still fit a wide terminal */
#define LABEL_W                       30
#define CELL_W                        26

typedef enum { NEUTRAL = 0, LOWER_BETTER, HIGHER_BETTER } direction_t;

typedef struct {
    const char *label;
    const char *path; /* dot path from the object given (results, or a phase) */
    const char *fmt;
    double scale;
    direction_t direction;
} metric_t;

static const metric_t OVERALL[] = {
    {"requests", "summary.requests.total", "%.0f", 1, NEUTRAL},
    {"error rate %", "summary.error_rate", "%.2f", 100, LOWER_BETTER},
    {"sent req/s", "summary.achieved_rps", "%.2f", 1, HIGHER_BETTER},
    {"completed req/s", "summary.completed_rps", "%.2f", 1, HIGHER_BETTER},
    {"goodput req/s", "summary.goodput_rps", "%.2f", 1, HIGHER_BETTER},
    {"output tokens/s", "summary.output_tokens_per_s", "%.1f", 1, HIGHER_BETTER},
    {"TTFT p50 ms", "summary.ttft_ms.p50", "%.1f", 1, LOWER_BETTER},
    {"TTFT p99 ms", "summary.ttft_ms.p99", "%.1f", 1, LOWER_BETTER},
    {"ITL p50 ms", "summary.itl_ms.p50", "%.2f", 1, LOWER_BETTER},
    {"ITL p99 ms", "summary.itl_ms.p99", "%.2f", 1, LOWER_BETTER},
    {"TPOT p50 ms", "summary.tpot_ms.p50", "%.2f", 1, LOWER_BETTER},
    {"E2E p50 ms", "summary.e2e_ms.p50", "%.1f", 1, LOWER_BETTER},
    {"E2E p99 ms", "summary.e2e_ms.p99", "%.1f", 1, LOWER_BETTER},
    {"schedule lag p99 ms", "summary.lag_ms.p99", "%.2f", 1, LOWER_BETTER},
    {"dropped arrivals", "summary.requests.dropped", "%.0f", 1, LOWER_BETTER},
    {"saturation req/s", "saturation.rps", "%.2f", 1, HIGHER_BETTER},
    {"operating point req/s", "saturation.operating_point_rps", "%.2f", 1, HIGHER_BETTER},
    {"max output tokens/s", "saturation.max_output_tokens_per_s", "%.0f", 1, HIGHER_BETTER},
    {"cost per M tokens (op. point)", "cost.at_operating_point.per_million_output_tokens", "%.3f",
     1, LOWER_BETTER},
};

static const metric_t PER_PHASE[] = {
    {"sent req/s", "summary.achieved_rps", "%.2f", 1, HIGHER_BETTER},
    {"output tokens/s", "summary.output_tokens_per_s", "%.1f", 1, HIGHER_BETTER},
    {"TTFT p99 ms", "summary.ttft_ms.p99", "%.1f", 1, LOWER_BETTER},
    {"ITL p50 ms", "summary.itl_ms.p50", "%.2f", 1, LOWER_BETTER},
    {"E2E p99 ms", "summary.e2e_ms.p99", "%.1f", 1, LOWER_BETTER},
    {"error rate %", "summary.error_rate", "%.2f", 100, LOWER_BETTER},
};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct {
    report_run_t **runs;
    int count;
    double threshold; /* a fraction: 0.05 */
    bool color;
    buf_t text, html;
    int worse, better;
} compare_t;

typedef enum { JUDGED_NONE = 0, JUDGED_WORSE, JUDGED_BETTER } judged_t;

static judged_t judge(direction_t direction, double rel, double threshold)
{
    if (direction == NEUTRAL || !(fabs(rel) > threshold))
        return JUDGED_NONE; /* NaN falls here too */
    bool up = rel > 0;
    return (up == (direction == HIGHER_BETTER)) ? JUDGED_BETTER : JUDGED_WORSE;
}

/* Pads the text table's cell to width (counting bytes; cells are ASCII). */
static void text_cell(buf_t *o, const char *cell, int width, judged_t j, bool color)
{
    int len = (int)strlen(cell);
    if (color && j != JUDGED_NONE)
        buf_append_str(o, j == JUDGED_WORSE ? "\033[31m" : "\033[32m");
    buf_append_str(o, cell);
    if (color && j != JUDGED_NONE)
        buf_append_str(o, "\033[0m");
    for (int i = len; i < width; i++)
        buf_append_char(o, ' ');
    buf_append_char(o, ' '); /* a long cell still leaves a gap before the next */
}

/* One row: the metric of objs[k] (a run's results or one of its phases; NULL = absent). */
static void compare_row(compare_t *c, const metric_t *m, const json_t *const *objs)
{
    double ref = objs[0] ? json_path_number(objs[0], m->path) * m->scale : NAN;
    bool any = isfinite(ref);
    for (int k = 1; k < c->count; k++)
        any = any || (objs[k] && isfinite(json_path_number(objs[k], m->path)));
    if (!any)
        return; /* a figure none of the runs has (no saturation search, no cost) */
    buf_append_str(&c->text, "  ");
    text_cell(&c->text, m->label, LABEL_W, JUDGED_NONE, false);
    buf_append_str(&c->html, "<tr><td class=\"t\">");
    report_escape(&c->html, m->label);
    buf_append_str(&c->html, "</td>");
    for (int k = 0; k < c->count; k++) {
        double v = objs[k] ? json_path_number(objs[k], m->path) * m->scale : NAN;
        char cell[96], value[48];
        if (isfinite(v))
            snprintf(value, sizeof value, m->fmt, v);
        else
            snprintf(value, sizeof value, "-");
        judged_t j = JUDGED_NONE;
        if (k == 0 || !isfinite(v) || !isfinite(ref)) {
            snprintf(cell, sizeof cell, "%s", value);
        } else if (v == ref) {
            snprintf(cell, sizeof cell, "%s (=)", value);
        } else if (ref == 0) {
            j = judge(m->direction, v > 0 ? 1 : -1, c->threshold);
            snprintf(cell, sizeof cell, "%s (was 0)%s", value,
                     j == JUDGED_WORSE    ? " worse"
                     : j == JUDGED_BETTER ? " better"
                                          : "");
        } else {
            double rel = (v - ref) / fabs(ref);
            j = judge(m->direction, rel, c->threshold);
            snprintf(cell, sizeof cell, "%s (%+.1f%%)%s", value, 100 * rel,
                     j == JUDGED_WORSE    ? " worse"
                     : j == JUDGED_BETTER ? " better"
                                          : "");
        }
        c->worse += j == JUDGED_WORSE;
        c->better += j == JUDGED_BETTER;
        text_cell(&c->text, cell, CELL_W, j, c->color);
        buf_printf(&c->html, "<td%s>",
                   j == JUDGED_WORSE    ? " class=\"worse\""
                   : j == JUDGED_BETTER ? " class=\"better\""
                                        : "");
        report_escape(&c->html, cell);
        buf_append_str(&c->html, "</td>");
    }
    buf_append_char(&c->text, '\n');
    buf_append_str(&c->html, "</tr>\n");
}

static void compare_heading(compare_t *c, const char *title, const char *name)
{
    buf_printf(&c->text, "\n%s", title);
    buf_printf(&c->html, "<tr class=\"h\"><th class=\"t\" colspan=\"%d\">%s", c->count + 1, title);
    if (name) {
        buf_printf(&c->text, " %s", name);
        buf_append_char(&c->html, ' ');
        report_escape(&c->html, name);
    }
    buf_append_char(&c->text, '\n');
    buf_append_str(&c->html, "</th></tr>\n");
}

static void compare_sla_row(compare_t *c)
{
    bool any = false;
    for (int k = 0; k < c->count; k++)
        any = any || json_is_object(json_object_get(c->runs[k]->results, "sla"));
    if (!any)
        return;
    buf_append_str(&c->text, "  ");
    text_cell(&c->text, "SLA", LABEL_W, JUDGED_NONE, false);
    buf_append_str(&c->html, "<tr><td class=\"t\">SLA</td>");
    const json_t *ref = json_object_get(json_object_get(c->runs[0]->results, "sla"), "passed");
    for (int k = 0; k < c->count; k++) {
        const json_t *p = json_object_get(json_object_get(c->runs[k]->results, "sla"), "passed");
        const char *cell = json_is_true(p) ? "PASS" : json_is_false(p) ? "FAIL" : "-";
        judged_t j = JUDGED_NONE;
        if (k > 0 && json_is_boolean(ref) && json_is_boolean(p) &&
            json_is_true(ref) != json_is_true(p))
            j = json_is_true(p) ? JUDGED_BETTER : JUDGED_WORSE;
        c->worse += j == JUDGED_WORSE;
        c->better += j == JUDGED_BETTER;
        text_cell(&c->text, cell, CELL_W, j, c->color);
        buf_printf(&c->html, "<td%s>%s</td>",
                   j == JUDGED_WORSE    ? " class=\"worse\""
                   : j == JUDGED_BETTER ? " class=\"better\""
                                        : "",
                   cell);
    }
    buf_append_char(&c->text, '\n');
    buf_append_str(&c->html, "</tr>\n");
}

static const json_t *phase_named(const report_run_t *run, const char *name)
{
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(run->results, "phases"), i, p)
    {
        if (strcmp(report_text(p, "name"), name) == 0 &&
            json_is_object(json_object_get(p, "summary")))
            return p;
    }
    return NULL;
}

static void compare_render(compare_t *c)
{
    /* Column heads: A, B, C... with the run's name and directory listed above. */
    buf_append_str(&c->text, "runs (the first is the reference):\n");
    buf_append_str(&c->html, "<ul class=\"runs\">");
    for (int k = 0; k < c->count; k++) {
        buf_printf(&c->text, "  %c  %s  (%s)\n", 'A' + k, c->runs[k]->name, c->runs[k]->dir);
        buf_printf(&c->html, "<li><b>%c</b> ", 'A' + k);
        report_escape(&c->html, c->runs[k]->name);
        buf_append_str(&c->html, " <span class=\"dir\">");
        report_escape(&c->html, c->runs[k]->dir);
        buf_append_str(&c->html, "</span></li>");
    }
    buf_printf(&c->text, "differences beyond %.1f%% are marked worse or better\n",
               100 * c->threshold);
    buf_append_str(&c->html, "</ul>\n<table><tr><th class=\"t\">figure</th>");
    buf_append_str(&c->text, "\n  ");
    text_cell(&c->text, "", LABEL_W, JUDGED_NONE, false);
    for (int k = 0; k < c->count; k++) {
        char head[CELL_W + 1];
        snprintf(head, sizeof head, "%c %s", 'A' + k, c->runs[k]->name);
        text_cell(&c->text, head, CELL_W, JUDGED_NONE, false);
        buf_printf(&c->html, "<th>%c ", 'A' + k);
        report_escape(&c->html, c->runs[k]->name);
        buf_append_str(&c->html, "</th>");
    }
    buf_append_str(&c->text, "\n");
    buf_append_str(&c->html, "</tr>\n");

    const json_t *objs[COMPARE_MAX_RUNS];
    compare_heading(c, "overall (measured phases) and verdicts", NULL);
    for (int k = 0; k < c->count; k++)
        objs[k] = c->runs[k]->results;
    for (int m = 0; m < COUNT_OF(OVERALL); m++)
        compare_row(c, &OVERALL[m], objs);
    compare_sla_row(c);

    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(c->runs[0]->results, "phases"), i, p)
    {
        if (!json_is_object(json_object_get(p, "summary")) ||
            json_is_false(json_object_get(p, "measured")))
            continue;
        const char *name = report_text(p, "name");
        bool shared = false;
        for (int k = 0; k < c->count; k++) {
            objs[k] = phase_named(c->runs[k], name);
            shared = shared || (k > 0 && objs[k]);
        }
        if (!shared)
            continue;
        compare_heading(c, "phase", name);
        for (int m = 0; m < COUNT_OF(PER_PHASE); m++)
            compare_row(c, &PER_PHASE[m], objs);
    }
    buf_printf(&c->text, "\n%d figure(s) worse, %d better than %s (A)\n", c->worse, c->better,
               c->runs[0]->name);
    buf_printf(&c->html, "</table>\n<p>%d figure(s) worse, %d better than A.</p>\n", c->worse,
               c->better);
}

static const char *COMPARE_STYLE =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#0f172a}"
    "table{border-collapse:collapse}th,td{border:1px solid #e2e8f0;padding:4px 10px;"
    "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "th{background:#f1f5f9}.t{text-align:left}tr.h th{background:#e2e8f0}"
    "td.worse{background:#fee2e2;color:#991b1b;font-weight:600}"
    "td.better{background:#dcfce7;color:#166534;font-weight:600}.dir{color:#64748b}";

int report_compare(const char *const *dirs, int count, const report_compare_options_t *options,
                   FILE *out, char *err, size_t err_size)
{
    if (count < 2 || count > COMPARE_MAX_RUNS) {
        snprintf(err, err_size, "compare needs 2 to %d results directories, not %d",
                 COMPARE_MAX_RUNS, count);
        return -1;
    }
    compare_t c = {0};
    c.count = count;
    c.threshold = (options && options->threshold_pct > 0 ? options->threshold_pct
                                                         : COMPARE_DEFAULT_THRESHOLD_PCT) /
                  100.0;
    c.color = options && options->color;
    c.runs = calloc((size_t)count, sizeof *c.runs);
    int rc = c.runs ? 0 : -1;
    for (int k = 0; k < count && rc == 0; k++) {
        c.runs[k] = report_run_load(dirs[k], err, err_size);
        if (!c.runs[k])
            rc = -1;
        else if (!c.runs[k]->has_results) {
            snprintf(err, err_size, "%s/results.json: missing (the run did not finish)", dirs[k]);
            rc = -1;
        }
    }
    if (rc == 0) {
        buf_init(&c.text);
        buf_init(&c.html);
        buf_printf(&c.html,
                   "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'\">\n<title>surge compare</title>\n<style>%s</style>"
                   "\n</head>\n<body>\n<h1>surge compare</h1>\n",
                   COMPARE_STYLE);
        compare_render(&c);
        buf_append_str(&c.html, "</body>\n</html>\n");
        fputs(c.text.data, out);
        fflush(out);
        if (options && options->html_path)
            rc = report_file_write(options->html_path, c.html.data, c.html.len, err, err_size);
        buf_free(&c.text);
        buf_free(&c.html);
    }
    for (int k = 0; k < count && c.runs; k++)
        report_run_destroy(&c.runs[k]);
    free(c.runs);
    return rc;
}
