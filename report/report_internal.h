/*  report_internal.h: what the report's files share (not public; see report.h).

    report.c          loading a results directory; report.html, section by section
    report_chart.c    SVG line and scatter charts with marks and shaded windows
    report_csv.c      phases.csv and intervals.csv
    report_compare.c  `surge compare`: runs side by side
*/
#ifndef SURGE_REPORT_INTERNAL_H
#define SURGE_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/json_path.h" /* json_path_number: every figure read from results */

/* One results directory, read. */
typedef struct {
    char *dir;              /* owned copy of the path */
    char *name;             /* the plan's name, else the directory's last component; owned */
    json_t *results;        /* results.json; an empty object when the file is absent; owned */
    bool has_results;       /* results.json was there */
    json_t *intervals;      /* intervals.jsonl as an array of objects; owned */
    int bad_interval_lines; /* lines that did not parse (a killed run's torn last line) */
} report_run_t;

/* Reads results.json and intervals.jsonl of dir. NULL with the reason in err when neither
   is readable or results.json is not valid JSON (file:line:col). */
report_run_t *report_run_load(const char *dir, char *err, size_t err_size);
void report_run_destroy(report_run_t **self_p);

/* The string at key, or "" (never NULL). */
const char *report_text(const json_t *obj, const char *key);

/* Appends text with &, <, >, " and ' replaced by entities: safe in element content and in
   quoted attribute values. */
void report_escape(buf_t *out, const char *text);

/* Writes data to path through a temporary file and a rename, so a reader never sees a
   half-written report. 0, or -1 with err naming the path. */
int report_file_write(const char *path, const char *data, size_t len, char *err, size_t err_size);

/* ---- Charts (report_chart.c) ------------------------------------------------------ */

typedef struct {
    const char *label;
    const char *color; /* CSS colour, a constant of the renderer (never from the results) */
    const double *x, *y;
    int count;
    bool points; /* a marker (with a hover title) at each point */
    bool dashed;
} report_series_t;

/* A vertical line: a phase boundary, a chaos mark, the saturation point. */
typedef struct {
    double x;
    const char *label; /* may be NULL; shortened or left out when there is no room */
    const char *color;
    bool dashed;
} report_mark_t;

/* A shaded window: a fault from start to end. */
typedef struct {
    double x0, x1;
    const char *label;
} report_band_t;

typedef struct {
    const char *title;
    const char *x_label, *y_label;
    const report_series_t *series;
    int series_count;
    const report_mark_t *marks; /* in increasing x, for label placement */
    int mark_count;
    const report_band_t *bands;
    int band_count;
    bool x_fixed; /* x axis from x_min to x_max (time charts share the run's span) */
    double x_min, x_max;
} report_chart_t;

/* The renderer's colours (never from the results), in the order series take them. */
extern const char *const REPORT_PALETTE[];
#define REPORT_PALETTE_SIZE 8

/* report.html's section of Prometheus range queries (report_prom.c): one chart per query
   of results.json `prometheus` (nothing when there is none). base gives the run's time
   axis and its marks; its title and series are set here. */
void prom_query_report(buf_t *out, const json_t *results, const report_chart_t *base);

/* Appends a <figure> with a title, a legend and an inline <svg>; "no data" when no series
   has a finite point. NaN values break a line (an interval with no sample). */
void report_chart_svg(buf_t *out, const report_chart_t *chart);

/* Formats v with about three significant digits ("1.25k", "0.031", "-"): for axes and
   tables. Returns dst. */
char *report_format_number(char *dst, size_t size, double v);

/* ---- CSV (report_csv.c) ----------------------------------------------------------- */

int report_csv_write(const report_run_t *run, const char *csv_dir, char *err, size_t err_size);

#endif
