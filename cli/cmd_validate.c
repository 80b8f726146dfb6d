/*  cmd_validate.c: `surge validate PLAN...`: load each plan as `run` would and say what it
    will do, or where it is wrong (FILE:LINE:COL: message). docs/plans.md. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/exit_codes.h"
#include "plan/plan_yaml.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: surge validate [-q] PLAN.yaml...\n\n"
                 "Checks plan files: every error names FILE:LINE:COL and what was expected;\n"
                 "unknown keys are errors. A valid plan is summarised in one paragraph.\n\n"
                 "  -q, --quiet   print nothing for valid plans\n\n"
                 "exit codes: 0 every plan is valid, 2 a plan is invalid or unreadable\n");
}

int cmd_validate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return SURGE_EXIT_OK;
    }
    bool quiet = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "-q") == 0 || strcmp(argv[first], "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else {
            fprintf(stderr, "surge validate: unknown option '%s'\n", argv[first]);
            usage(stderr);
            return SURGE_EXIT_USAGE;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    int rc = SURGE_EXIT_OK;
    for (int i = first; i < argc; i++) {
        char err[1024];
        plan_extra_t *extra = NULL;
        plan_t *plan = plan_yaml_load(argv[i], &extra, err, sizeof err);
        if (!plan) {
            fprintf(stderr, "%s\n", err);
            rc = SURGE_EXIT_USAGE;
            continue;
        }
        if (!quiet)
            plan_yaml_describe(plan, extra, stdout);
        plan_extra_destroy(&extra);
        plan_destroy(&plan);
    }
    return rc;
}
