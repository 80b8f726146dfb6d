/*  cmd_ctl.c: `surge ctl`: one request to a running coordinator's ctl socket, one
    answer printed (docs/chaos.md). Flags and printing only: the request and its wait
    are coordinator/ctl_client.h's. */
#include <czmq.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/ctl_watch.h"
#include "common/duration.h"
#include "common/exit_codes.h"
#include "coordinator/ctl_answer.h"
#include "coordinator/ctl_client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: surge ctl --coordinator ENDPOINT [options] COMMAND [ARGS]\n\n"
            "Steers a running `surge run` / `surge coordinator` through its ctl socket.\n\n"
            "commands:\n"
            "  status                phase, rate, workers, the last interval's figures\n"
            "  mark TEXT             a timestamped mark on the run (report, intervals)\n"
            "  mark --start NAME     opens the fault window NAME (a row of the impact table)\n"
            "  mark --end NAME       closes it\n"
            "  pause                 no new requests (in-flight ones finish) until resume\n"
            "  resume                the plan's load again\n"
            "  set-rate R            R req/s for the whole fleet, for the rest of this phase\n"
            "  stop                  end the run now: stop, drain, write the results\n"
            "  watch                 a dashboard of the run, redrawn every second (read-only)\n\n"
            "options:\n"
            "  --coordinator ENDPOINT  the ctl endpoint (`ctl on ...` in the coordinator's log,\n"
            "                        RESULTS_DIR/ctl.endpoint); --connect is the same; default:\n"
            "                        $SURGE_CTL_ENDPOINT\n"
            "  --results DIR         a `surge run`'s results directory: its ctl.endpoint and\n"
            "                        the run's operator key (ctl.key_secret, mode 0600, and\n"
            "                        ctl.coordinator.key); planned chaos commands default to\n"
            "                        $SURGE_RESULTS_DIR\n"
            "  --cert FILE           CURVE: your operator secret certificate (NAME.key_secret)\n"
            "  --coordinator-key FILE  CURVE: the coordinator's public certificate\n"
            "  --timeout D           how long to wait for the answer (default 5s)\n"
            "  --json                print the answer as JSON\n"
            "  -h, --help            this help\n\n"
            "exit codes: 0 done, 2 bad usage, 3 cannot reach the coordinator, refused, or no\n"
            "answer in time\n"
            "docs: docs/chaos.md\n");
}

enum {
    OPT_COORDINATOR = 256,
    OPT_RESULTS,
    OPT_CERT,
    OPT_COORDINATOR_KEY,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_START,
    OPT_END
};

/* The exit code of a call that did not succeed (its reason printed). */
static int call_failed(ctl_client_status_t status, const char *command, const char *err)
{
    if (status == CTL_CLIENT_REFUSED)
        fprintf(stderr, "surge ctl: %s refused: %s\n", command, err);
    else
        fprintf(stderr, "surge ctl: %s\n", err);
    return status == CTL_CLIENT_BAD_CONFIG ? SURGE_EXIT_USAGE : SURGE_EXIT_RUNTIME;
}

/* `watch`: one status call per frame (ctl_watch.c draws it). */
static int watch_fetch(void *arg, json_t **status)
{
    ctl_client_t *client = arg;
    char *body = NULL, err[1024];
    ctl_client_status_t s = ctl_client_call(client, "status", "", 0, &body, err, sizeof err);
    if (s != CTL_CLIENT_OK)
        return call_failed(s, "status", err);
    *status = json_loads(body, 0, NULL);
    free(body);
    return *status ? SURGE_EXIT_OK : SURGE_EXIT_RUNTIME;
}

int cmd_ctl(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"coordinator", required_argument, 0, OPT_COORDINATOR},
        {"connect", required_argument, 0, OPT_COORDINATOR},
        {"cert", required_argument, 0, OPT_CERT},
        {"results", required_argument, 0, OPT_RESULTS},
        {"coordinator-key", required_argument, 0, OPT_COORDINATOR_KEY},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"json", no_argument, 0, OPT_JSON},
        {"start", required_argument, 0, OPT_START},
        {"end", required_argument, 0, OPT_END},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *endpoint = getenv("SURGE_CTL_ENDPOINT");
    const char *cert = NULL, *coordinator_key = NULL, *start = NULL, *end = NULL;
    const char *results = NULL;
    int64_t timeout_ms = 5000;
    bool json = false;
    optind = 1;
    int c;
    /* Options may come before or after the command (mark's --start/--end included). */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return SURGE_EXIT_OK;
        case OPT_COORDINATOR:
            endpoint = optarg;
            break;
        case OPT_CERT:
            cert = optarg;
            break;
        case OPT_RESULTS:
            results = optarg;
            break;
        case OPT_COORDINATOR_KEY:
            coordinator_key = optarg;
            break;
        case OPT_TIMEOUT:
            if (duration_parse_ms(optarg, &timeout_ms) != 0 || timeout_ms <= 0) {
                fprintf(stderr,
                        "surge ctl: --timeout: '%s' is not a duration > 0 with a unit (5s, "
                        "500ms)\n",
                        optarg);
                return SURGE_EXIT_USAGE;
            }
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_START:
            start = optarg;
            break;
        case OPT_END:
            end = optarg;
            break;
        default:
            return SURGE_EXIT_USAGE;
        }
    }
    /* A `surge run` admits on ctl only the holder of its operator key, which it leaves in
       its results directory (mode 0600) while it runs; its planned commands get
       SURGE_RESULTS_DIR. */
    static ctl_run_dir_t run; /* static: two 4 KiB paths */
    bool from_env = !results && !cert;
    if (from_env)
        results = getenv("SURGE_RESULTS_DIR");
    if (results && *results) {
        ctl_run_dir_read(results, &run);
        if (!cert && run.cert_path[0]) {
            cert = run.cert_path;
            coordinator_key = run.coordinator_key_path;
        }
        if (!from_env && !run.has_endpoint_file) {
            fprintf(stderr, "surge ctl: --results %s: no ctl.endpoint there (is the run on?)\n",
                    results);
            return SURGE_EXIT_USAGE;
        }
        if (!from_env && run.endpoint[0])
            endpoint = run.endpoint;
    }
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "surge ctl: --coordinator ENDPOINT is required (the `ctl on ...` line "
                        "of the run's log, or RESULTS_DIR/ctl.endpoint)\n");
        return SURGE_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "surge ctl: which command? (status, mark, pause, resume, set-rate, "
                        "stop; surge ctl --help)\n");
        return SURGE_EXIT_USAGE;
    }
    const char *command = argv[optind++];
    const char *text = "";
    double value = 0;
    int args = argc - optind;
    if ((start || end) && strcmp(command, "mark") != 0) {
        fprintf(stderr, "surge ctl: --start and --end belong to mark\n");
        return SURGE_EXIT_USAGE;
    }
    if (strcmp(command, "mark") == 0) {
        if ((start != NULL) + (end != NULL) + (args > 0) != 1) {
            fprintf(stderr, "surge ctl: mark TEXT, mark --start NAME or mark --end NAME\n");
            return SURGE_EXIT_USAGE;
        }
        command = start ? "mark-start" : end ? "mark-end" : "mark";
        text = start ? start : end ? end : argv[optind];
        if (!*text || args > 1) {
            fprintf(stderr, "surge ctl: mark takes one non-empty text (quote it)\n");
            return SURGE_EXIT_USAGE;
        }
    } else if (strcmp(command, "set-rate") == 0) {
        char *stop = NULL;
        value = args == 1 ? strtod(argv[optind], &stop) : 0;
        if (args != 1 || stop == argv[optind] || (*stop && strcmp(stop, "/s") != 0) ||
            !(value > 0 && value <= 1e7)) {
            fprintf(stderr, "surge ctl: set-rate R: R in requests per second (> 0)\n");
            return SURGE_EXIT_USAGE;
        }
    } else if (strcmp(command, "status") == 0 || strcmp(command, "watch") == 0 ||
               strcmp(command, "pause") == 0 || strcmp(command, "resume") == 0 ||
               strcmp(command, "stop") == 0) {
        if (args) {
            fprintf(stderr, "surge ctl: %s takes no argument\n", command);
            return SURGE_EXIT_USAGE;
        }
    } else {
        fprintf(stderr,
                "surge ctl: unknown command '%s' (status, watch, mark, pause, resume, "
                "set-rate, stop)\n",
                command);
        return SURGE_EXIT_USAGE;
    }

    zsys_init();
    zsys_set_logstream(stderr);
    bool watch = strcmp(command, "watch") == 0;
    /* A gone coordinator is the usual end of a watch: do not wait 5 s to say so. */
    ctl_client_config_t config = {endpoint, cert, coordinator_key,
                                  watch && timeout_ms > 2000 ? 2000 : timeout_ms};
    char err[1024];
    ctl_client_t *client = ctl_client_new(&config, err, sizeof err);
    if (!client) {
        fprintf(stderr, "surge ctl: %s\n", err);
        return SURGE_EXIT_USAGE;
    }
    int rc;
    if (watch) {
        rc = ctl_watch(watch_fetch, client, 1000, stdout, isatty(STDOUT_FILENO));
        ctl_client_destroy(&client);
        return rc;
    }
    char *body_json = NULL;
    ctl_client_status_t s =
        ctl_client_call(client, command, text, value, &body_json, err, sizeof err);
    ctl_client_destroy(&client);
    if (s != CTL_CLIENT_OK)
        return call_failed(s, command, err);
    json_t *body = json_loads(body_json, 0, NULL);
    if (json)
        printf("%s\n", body_json);
    else if (body)
        ctl_answer_print(stdout, command, body);
    json_decref(body);
    free(body_json);
    return SURGE_EXIT_OK;
}
