/*  cmd_keygen.c: `surge keygen DIR [--name NAME]`: write a CURVE key pair (proto/curve.h). */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "common/exit_codes.h"
#include "proto/curve.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: surge keygen DIR [--name NAME]\n\n"
                 "Writes a CURVE key pair as czmq certificates: DIR/NAME.key (public, give it to\n"
                 "peers) and DIR/NAME.key_secret (mode 0600, keep it). DIR is created (0700) if\n"
                 "needed; an existing pair is never overwritten.\n\n"
                 "options:\n"
                 "  --name NAME   file name of the pair (default surge)\n"
                 "  -h, --help    this help\n\n"
                 "example: surge keygen keys --name coordinator; surge keygen keys --name worker\n"
                 "exit codes: 0 written, 2 bad usage, 3 could not write\n"
                 "docs: docs/security.md\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"name", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *name = "surge";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'h':
            usage(stdout);
            return SURGE_EXIT_OK;
        default:
            usage(stderr);
            return SURGE_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    char err[8192];
    if (curve_keygen(dir, name, err, sizeof err) != 0) {
        fprintf(stderr, "surge keygen: %s\n", err);
        return SURGE_EXIT_RUNTIME;
    }
    printf("%s/%s.key\n%s/%s.key_secret\n", dir, name, dir, name);
    return SURGE_EXIT_OK;
}
