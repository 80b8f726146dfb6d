/*  cmd_report.c: `surge report [--summary] [--out FILE] DIR`: render report.html and the CSV
    exports of a results directory, or print its summary (docs/report.md). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/exit_codes.h"
#include "report/report.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: surge report [options] RESULTS_DIR\n\n"
                 "Renders RESULTS_DIR/report.html (one self-contained page: opens offline,\n"
                 "fetches nothing) and the CSV exports phases.csv and intervals.csv.\n\n"
                 "  --out FILE     write the HTML report here instead (the CSVs stay in DIR)\n"
                 "  --no-csv       do not write the CSV exports\n"
                 "  --summary      print the run's summary to stdout instead; write nothing\n"
                 "  -h, --help     this help\n\n"
                 "exit codes: 0 success, 2 bad usage, 3 the directory cannot be read or "
                 "written\n"
                 "docs: docs/report.md\n");
}

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return SURGE_EXIT_OK;
    }
    const char *out = NULL, *dir = NULL;
    bool summary = false, csv = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--summary") == 0) {
            summary = true;
        } else if (strcmp(argv[i], "--no-csv") == 0) {
            csv = false;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "surge report: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return SURGE_EXIT_USAGE;
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "surge report: one results directory at a time ('%s')\n", argv[i]);
            return SURGE_EXIT_USAGE;
        }
    }
    if (!dir) {
        usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    char err[1024];
    if (summary) {
        if (report_print_summary(dir, stdout, err, sizeof err) != 0) {
            fprintf(stderr, "surge report: %s\n", err);
            return SURGE_EXIT_RUNTIME;
        }
        return SURGE_EXIT_OK;
    }
    if (report_write_html(dir, out, err, sizeof err) != 0 ||
        (csv && report_write_csv(dir, NULL, err, sizeof err) != 0)) {
        fprintf(stderr, "surge report: %s\n", err);
        return SURGE_EXIT_RUNTIME;
    }
    printf("report: %s%s\n", out ? out : dir, out ? "" : "/report.html");
    return SURGE_EXIT_OK;
}
