/*  cmd_worker.c: `surge worker --connect tcp://HOST:PORT`: join a coordinator (worker/agent.h). */
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/duration.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "worker/agent.h"
#include "worker/allow.h"

#define MAX_ALLOW 64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: surge worker --connect tcp://HOST:PORT [options]\n\n"
        "Joins a coordinator, generates the load it assigns and sends measurements back.\n"
        "Stops all traffic within 3 heartbeats when the coordinator is lost.\n\n"
        "options:\n"
        "  --connect ENDPOINT       the coordinator (tcp://host:5555)\n"
        "  --threads N              engine threads (default: one per core)\n"
        "  --capacity N             weight for this worker's share (default: threads)\n"
        "  --idle MODE              auto (poll while the engine is busy, else sleep),\n"
        "                           sleep (never poll: CPU-limited or shared cores),\n"
        "                           poll (dedicated cores); default auto (docs/worker.md)\n"
        "  --id NAME                worker id (default hostname:pid); unique in the fleet\n"
        "  --allow-target PATTERN   a target this worker may load: HOST[:PORT]\n"
        "                           (\"vllm-0.svc:8000\", \"*.inference.svc\", \"10.0.*:8000\",\n"
        "                           \"10.0.0.0/16:8000\", \"[::1]:8000\"); address patterns\n"
        "                           match addresses only, hostname patterns names only\n"
        "                           ('*' = whole labels; docs/fleet.md); a port must match\n"
        "                           exactly. Repeatable; default: any target.\n"
        "                           A plan naming any other target is refused whole: the\n"
        "                           worker tells the coordinator why and exits 3\n"
        "  --allow PATTERN          the same as --allow-target\n"
        "  --api-key-dir DIR        a plan's api_key_file is read only inside DIR (a\n"
        "                           mounted Secret); default: plans naming one are refused\n"
        "  --reconnect-timeout D    give up when no coordinator for D (default 60s)\n"
        "  --cert FILE              CURVE: this worker's secret certificate\n"
        "                           (NAME.key_secret from `surge keygen`)\n"
        "  --coordinator-key FILE   CURVE: the coordinator's public certificate; the\n"
        "                           worker talks to no other coordinator\n"
        "  --insecure               allow a non-loopback coordinator without CURVE\n"
        "  --log-level LEVEL        debug, info, warn, error (default info)\n"
        "  -h, --help               this help\n\n"
        "environment: SURGE_TEST_PROTOCOL_VERSION=N announces another protocol version\n"
        "(tests of the version check only).\n"
        "exit codes: 0 the run ended, 2 bad usage, 3 refused or coordinator lost\n"
        "docs: docs/fleet.md\n");
}

int cmd_worker(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"connect", required_argument, 0, 'c'},
        {"threads", required_argument, 0, 't'},
        {"capacity", required_argument, 0, 'k'},
        {"idle", required_argument, 0, 'I'},
        {"id", required_argument, 0, 'i'},
        {"allow-target", required_argument, 0, 'a'},
        {"allow", required_argument, 0, 'a'}, /* the first spelling, kept as an alias */
        {"reconnect-timeout", required_argument, 0, 'r'},
        {"api-key-dir", required_argument, 0, 'D'},
        {"insecure", no_argument, 0, 'x'},
        {"cert", required_argument, 0, 'C'},
        {"coordinator-key", required_argument, 0, 'K'},
        {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    agent_config_t config = {0};
    const char *allow[MAX_ALLOW];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config.endpoint = optarg;
            break;
        case 't':
            config.threads = atoi(optarg);
            break;
        case 'k':
            config.capacity = atoi(optarg);
            break;
        case 'I':
            if (!idle_mode_parse(optarg, &config.idle)) {
                fprintf(stderr, "surge worker: --idle: auto, sleep or poll\n");
                return SURGE_EXIT_USAGE;
            }
            break;
        case 'i':
            config.worker_id = optarg;
            break;
        case 'a': {
            char why[256];
            if (allow_pattern_check(optarg, why, sizeof why) != 0) {
                fprintf(stderr, "surge worker: --allow-target: %s\n", why);
                return SURGE_EXIT_USAGE;
            }
            if (config.allow_count == MAX_ALLOW) {
                fprintf(stderr, "surge worker: --allow-target: at most %d patterns\n", MAX_ALLOW);
                return SURGE_EXIT_USAGE;
            }
            allow[config.allow_count++] = optarg;
            break;
        }
        case 'r':
            if (duration_parse_ms(optarg, &config.reconnect_timeout_ms) != 0) {
                fprintf(stderr, "surge worker: --reconnect-timeout: '%s' is not a duration\n",
                        optarg);
                return SURGE_EXIT_USAGE;
            }
            break;
        case 'x':
            config.insecure = true;
            break;
        case 'D':
            config.api_key_dir = optarg;
            break;
        case 'C':
            config.cert_path = optarg;
            break;
        case 'K':
            config.coordinator_key_path = optarg;
            break;
        case 'l': {
            log_level_t level;
            if (log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "surge worker: --log-level: debug, info, warn or error\n");
                return SURGE_EXIT_USAGE;
            }
            log_set_level(level);
            break;
        }
        case 'h':
            usage(stdout);
            return SURGE_EXIT_OK;
        default:
            usage(stderr);
            return SURGE_EXIT_USAGE;
        }
    }
    if (!config.endpoint || optind < argc || config.threads < 0 || config.capacity < 0) {
        usage(stderr);
        return SURGE_EXIT_USAGE;
    }
    char why[1024];
    if (agent_config_check(&config, why, sizeof why) != 0) {
        fprintf(stderr, "surge worker: %s\n", why);
        return SURGE_EXIT_USAGE;
    }
    config.allow = allow;
    const char *version = getenv("SURGE_TEST_PROTOCOL_VERSION");
    if (version)
        config.protocol_version = atoi(version);

    static char role[64];
    snprintf(role, sizeof role, "worker %s", config.worker_id ? config.worker_id : "");
    log_set_role(config.worker_id ? role : "worker");
    zsys_handler_set(NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return agent_run(&config, &stop_requested);
}
