/*  report_prom.c: report.html's section of Prometheus range queries (results.json
    `prometheus`, written by the coordinator: coordinator/prom_query.h). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "report/report_internal.h"

#define PROM_QUERY_CHART_SERIES 8 /* series drawn per query; the rest are counted */

void prom_query_report(buf_t *o, const json_t *results, const report_chart_t *base)
{
    const json_t *prom = json_object_get(results, "prometheus");
    const json_t *queries = json_object_get(prom, "queries");
    if (!json_is_array(queries) || json_array_size(queries) == 0)
        return;
    buf_append_str(o, "<section id=\"prometheus\"><h2>Cluster metrics (Prometheus)</h2>\n"
                      "<p class=\"note\">Range queries to ");
    report_escape(o, report_text(prom, "url"));
    buf_append_str(o, " over the run's window, on the run's clock.</p>\n");
    size_t i;
    const json_t *q;
    json_array_foreach(queries, i, q)
    {
        buf_t title;
        buf_init(&title);
        buf_printf(&title, "%s: %s", report_text(q, "name"), report_text(q, "expr"));
        const char *error = json_string_value(json_object_get(q, "error"));
        if (error) {
            buf_append_str(o, "<p class=\"note\"><b>");
            report_escape(o, title.data);
            buf_append_str(o, "</b>: the query failed: ");
            report_escape(o, error);
            buf_append_str(o, "</p>\n");
            buf_free(&title);
            continue;
        }
        const json_t *series = json_object_get(q, "series");
        int n = (int)json_array_size(series);
        if (n > PROM_QUERY_CHART_SERIES)
            n = PROM_QUERY_CHART_SERIES;
        report_series_t lines[PROM_QUERY_CHART_SERIES];
        double *xy[PROM_QUERY_CHART_SERIES][2] = {{0}};
        for (int k = 0; k < n; k++) {
            const json_t *s = json_array_get(series, (size_t)k);
            const json_t *points = json_object_get(s, "points");
            size_t count = json_array_size(points);
            xy[k][0] = calloc(count ? count : 1, sizeof(double));
            xy[k][1] = calloc(count ? count : 1, sizeof(double));
            if (!xy[k][0] || !xy[k][1])
                count = 0;
            for (size_t j = 0; j < count; j++) {
                const json_t *pt = json_array_get(points, j);
                xy[k][0][j] = json_number_value(json_array_get(pt, 0));
                const json_t *v = json_array_get(pt, 1);
                xy[k][1][j] = json_is_number(v) ? json_number_value(v) : NAN;
            }
            lines[k] = (report_series_t){report_text(s, "labels"),
                                         REPORT_PALETTE[k % REPORT_PALETTE_SIZE],
                                         xy[k][0],
                                         xy[k][1],
                                         (int)count,
                                         false,
                                         false};
        }
        report_chart_t chart = *base;
        chart.title = title.data;
        chart.series = lines;
        chart.series_count = n;
        report_chart_svg(o, &chart);
        if ((int)json_array_size(series) > n)
            buf_printf(o, "<p class=\"note\">%zu series; the chart draws the first %d.</p>\n",
                       json_array_size(series), n);
        for (int k = 0; k < n; k++) {
            free(xy[k][0]);
            free(xy[k][1]);
        }
        buf_free(&title);
    }
    buf_append_str(o, "</section>\n");
}
