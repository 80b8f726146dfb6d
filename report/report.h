/*  report.h: the results directory made readable (docs/report.md).

    Everything here reads a results directory (docs/results.md: results.json and
    intervals.jsonl) with jansson and writes files beside it or to a stream; nothing
    touches a socket or a running coordinator, so a report can be re-rendered at any time,
    from a copy, after the run.

      report.html     one self-contained page: inline CSS, inline SVG charts drawn here,
                      no script and no URL that a browser would fetch; every string from
                      the results is HTML-escaped (it can hold server text)
      phases.csv      one row per phase: the summary fields
      stages.csv      one row per stage level: the mean of its iterations
      intervals.csv   one row per interval
      summary         the terminal summary `surge run` prints, from results.json
      compare         several runs side by side, relative differences highlighted

    A run that did not finish (no results.json, a truncated last line in intervals.jsonl)
    is still rendered from what is on disk, with a banner saying what is missing.
*/
#ifndef SURGE_REPORT_REPORT_H
#define SURGE_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>

/* Schedule lag P99 above this means the client could not send on time: the numbers
   measure the load generator as much as the target. Well above timer and scheduling
   jitter (a few ms), well below what a queueing target adds to TTFT. The terminal
   summary and the report warn on the same rule. */
#define CLIENT_LAG_P99_LIMIT_MS 50.0

/* Writes report.html, phases.csv and intervals.csv into results_dir. 0 on success, else
   -1 with the reason (naming the file) in err. The coordinator calls it at the end of a
   run; `surge report DIR` calls it again. */
int report_write_dir(const char *results_dir, char *err, size_t err_size);

/* Writes the HTML report of results_dir to html_path (report_write_dir's report.html
   when html_path is NULL). 0 or -1 with err. */
int report_write_html(const char *results_dir, const char *html_path, char *err, size_t err_size);

/* Writes phases.csv and intervals.csv into csv_dir (results_dir when NULL). */
int report_write_csv(const char *results_dir, const char *csv_dir, char *err, size_t err_size);

/* Prints the end-of-run summary of results_dir (the one `surge run` prints) to out. */
int report_print_summary(const char *results_dir, FILE *out, char *err, size_t err_size);

/* The same from a results.json document already read (summary.c). */
void summary_print(const json_t *results, FILE *out);
/* Its lines for results.json `server`: per target the peaks and the scrape errors
   (nothing when server is NULL; summary_sections.c). */
void scrape_print_summary(const json_t *server, FILE *out);
/* Its chaos impact table, from results.json `chaos` (nothing without faults;
   summary_sections.c). */
void chaos_print_summary(const json_t *chaos, FILE *out);

typedef struct {
    double threshold_pct;  /* a difference beyond this is highlighted (0 = 5%) */
    bool color;            /* ANSI colours in the terminal table */
    const char *html_path; /* also write an HTML comparison here (NULL: none) */
} report_compare_options_t;

/* Compares dirs[0] (the reference) with dirs[1..count-1]: the overall summary, the
   verdicts and the phases they share by name, with relative differences; a difference
   beyond the threshold in the worse direction (higher latency or errors, lower
   throughput) is marked "worse", in the better one "better". Writes the table to out. */
int report_compare(const char *const *dirs, int count, const report_compare_options_t *options,
                   FILE *out, char *err, size_t err_size);

#endif
