/*  cmd_compare.c: `surge compare DIR_A DIR_B [...]`: results directories side by side, the
    first as the reference, relative differences marked worse/better (docs/report.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/exit_codes.h"
#include "report/report.h"

#define MAX_DIRS 16

static void usage(FILE *out)
{
    fprintf(out, "usage: surge compare [options] DIR_A DIR_B [DIR...]\n\n"
                 "Puts runs side by side: the overall summary, the verdicts and every measured\n"
                 "phase they share by name, each with its difference from DIR_A. A difference\n"
                 "beyond the threshold is marked worse or better (lower is better for\n"
                 "latencies, errors and cost, higher for throughput).\n\n"
                 "  --threshold PCT  mark differences beyond PCT percent (default 5)\n"
                 "  --html FILE      also write the comparison as a self-contained HTML page\n"
                 "  --color MODE     auto (default: on a terminal), always, never\n"
                 "  -h, --help       this help\n\n"
                 "exit codes: 0 success, 2 bad usage, 3 a directory cannot be read\n"
                 "docs: docs/report.md\n");
}

int cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return SURGE_EXIT_OK;
    }
    const char *dirs[MAX_DIRS];
    int count = 0;
    report_compare_options_t options = {0};
    options.color = isatty(STDOUT_FILENO);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--html") == 0 && i + 1 < argc) {
            options.html_path = argv[++i];
        } else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
            char *end;
            options.threshold_pct = strtod(argv[++i], &end);
            if (end == argv[i] || (*end != '\0' && strcmp(end, "%") != 0) ||
                !(options.threshold_pct > 0)) {
                fprintf(stderr,
                        "surge compare: --threshold wants a positive percentage, not '%s'\n",
                        argv[i]);
                return SURGE_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--color") == 0 && i + 1 < argc) {
            const char *mode = argv[++i];
            if (strcmp(mode, "always") == 0)
                options.color = true;
            else if (strcmp(mode, "never") == 0)
                options.color = false;
            else if (strcmp(mode, "auto") != 0) {
                fprintf(stderr, "surge compare: --color is auto, always or never, not '%s'\n",
                        mode);
                return SURGE_EXIT_USAGE;
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "surge compare: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return SURGE_EXIT_USAGE;
        } else if (count < MAX_DIRS) {
            dirs[count++] = argv[i];
        } else {
            fprintf(stderr, "surge compare: at most %d directories\n", MAX_DIRS);
            return SURGE_EXIT_USAGE;
        }
    }
    if (count < 2) {
        usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    char err[1024];
    if (report_compare(dirs, count, &options, stdout, err, sizeof err) != 0) {
        fprintf(stderr, "surge compare: %s\n", err);
        return SURGE_EXIT_RUNTIME;
    }
    return SURGE_EXIT_OK;
}
