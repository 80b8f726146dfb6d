/*  main.c: `surge COMMAND [ARGS]`: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/exit_codes.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"run", cmd_run,
     "run a plan with a local coordinator, local workers and (for sim://) a simulated cluster"},
    {"coordinator", cmd_coordinator, "run a plan, driving a fleet of workers over ZeroMQ"},
    {"worker", cmd_worker, "join a coordinator and generate load"},
    {"sim", cmd_sim, "serve a simulated OpenAI-compatible vLLM node"},
    {"ctl", cmd_ctl, "steer a running coordinator: status, mark, pause, resume, set-rate, stop"},
    {"validate", cmd_validate, "check a plan file"},
    {"report", cmd_report, "render report.html (and CSVs) from a results directory"},
    {"compare", cmd_compare, "compare results directories side by side"},
    {"keygen", cmd_keygen, "write CURVE key pairs for a fleet"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "surge %s: distributed load tester for LLM inference clusters\n\n"
            "usage: surge COMMAND [ARGS]   (surge COMMAND --help for its options)\n\n"
            "commands:\n",
            SURGE_VERSION);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (commands[i].fn)
            fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\noptions:\n  -h, --help     this help\n  -V, --version  print the version\n"
                 "\nexit codes: 0 success, 1 a verdict failed, 2 bad usage or invalid plan,"
                 " 3 runtime failure\n"
                 "docs: docs/README.md in the source tree\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return SURGE_EXIT_OK;
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("surge %s\n", SURGE_VERSION);
        return SURGE_EXIT_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(name, commands[i].name) == 0 && commands[i].fn)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "surge: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return SURGE_EXIT_USAGE;
}
