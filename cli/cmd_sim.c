/*  cmd_sim.c: `surge sim`: parse flags, run the simulated vLLM node (simulator/sim.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "simulator/sim.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: surge sim [--listen HOST:PORT] [--profile NAME] [options]\n\n"
            "Serves a simulated vLLM node: OpenAI-compatible HTTP (/v1/completions,\n"
            "/v1/chat/completions, /v1/models, /tokenize, /health, /metrics) whose timing comes\n"
            "from a model of vLLM's engine (continuous batching, paged KV cache, chunked\n"
            "prefill, preemption). Prints `listening on http://HOST:PORT` once bound.\n\n"
            "options:\n"
            "  --listen HOST:PORT        address to serve (default 127.0.0.1:8000; port 0: the\n"
            "                            kernel picks); [::1]:PORT for IPv6\n"
            "  --profile NAME            engine preset (default tiny):");
    for (int i = 0; sim_profile_at(i); i++)
        fprintf(out, " %s", sim_profile_at(i)->name);
    fprintf(
        out,
        "\n"
        "  --model NAME              served model name (default: the profile's)\n"
        "  --seed N                  seed for output lengths, token text, ids and fault\n"
        "                            draws (default 1)\n"
        "  --replicas N              simulated GPU replicas behind the port (default 1)\n"
        "  --max-queue N             waiting requests per replica beyond which new ones\n"
        "                            are refused (default 0: unbounded)\n"
        "  --queue-full-status CODE  429 or 503 for a full queue (default 429)\n"
        "  --prefix-caching          enable prefix caching (default off)\n"
        "  --max-body-bytes N        larger request bodies get 413 (default 8388608)\n"
        "  --fault SPEC              inject a fault at startup; repeatable. SPEC is\n"
        "                            kind=K[,start_s=S][,duration_s=D][,factor=F][,fraction=P]\n"
        "                            K: down, 503, slow, error_rate, drop_mid_stream, stall\n"
        "                            (runtime: POST/DELETE /admin/fault, GET /admin/faults)\n"
        "  --log-level LEVEL         debug, info, warn, error (default info)\n"
        "  -h, --help                this help\n\n"
        "docs: docs/simulator.md\n");
}

static int parse_int(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "surge sim: %s must be an integer in [%ld, %ld], got '%s'\n", flag, min,
                max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT". host_buf receives the host. */
static int parse_listen(const char *text, char *host_buf, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon) {
        fprintf(stderr, "surge sim: --listen wants HOST:PORT, got '%s'\n", text);
        return -1;
    }
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len == 0) {
        host = "127.0.0.1";
        host_len = strlen(host);
    }
    if (host_len >= host_size) {
        fprintf(stderr, "surge sim: --listen host too long\n");
        return -1;
    }
    memcpy(host_buf, host, host_len);
    host_buf[host_len] = '\0';
    long p;
    if (parse_int("--listen port", colon + 1, 0, 65535, &p) != 0)
        return -1;
    *port = (int)p;
    return 0;
}

int cmd_sim(int argc, char **argv)
{
    enum {
        OPT_LISTEN = 256,
        OPT_PROFILE,
        OPT_MODEL,
        OPT_SEED,
        OPT_REPLICAS,
        OPT_MAX_QUEUE,
        OPT_QUEUE_STATUS,
        OPT_PREFIX,
        OPT_MAX_BODY,
        OPT_FAULT,
        OPT_LOG_LEVEL,
    };
    static const struct option options[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"model", required_argument, NULL, OPT_MODEL},
        {"seed", required_argument, NULL, OPT_SEED},
        {"replicas", required_argument, NULL, OPT_REPLICAS},
        {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
        {"queue-full-status", required_argument, NULL, OPT_QUEUE_STATUS},
        {"prefix-caching", no_argument, NULL, OPT_PREFIX},
        {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    log_set_role("sim");
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    char host[256] = "127.0.0.1";
    cfg.host = host;
    long v;
    char err[512];
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            print_help(stdout);
            return SURGE_EXIT_OK;
        case OPT_LISTEN:
            if (parse_listen(optarg, host, sizeof host, &cfg.port) != 0)
                return SURGE_EXIT_USAGE;
            break;
        case OPT_PROFILE:
            cfg.profile = sim_profile_find(optarg);
            if (!cfg.profile) {
                fprintf(stderr, "surge sim: unknown --profile '%s' (see surge sim --help)\n",
                        optarg);
                return SURGE_EXIT_USAGE;
            }
            break;
        case OPT_MODEL:
            cfg.model = optarg;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "surge sim: --seed must be a non-negative integer, got '%s'\n",
                        optarg);
                return SURGE_EXIT_USAGE;
            }
            cfg.seed = seed;
            break;
        }
        case OPT_REPLICAS:
            if (parse_int("--replicas", optarg, 1, 4096, &v) != 0)
                return SURGE_EXIT_USAGE;
            cfg.replicas = (int)v;
            break;
        case OPT_MAX_QUEUE:
            if (parse_int("--max-queue", optarg, 0, 1000000000, &v) != 0)
                return SURGE_EXIT_USAGE;
            cfg.max_queue = (int)v;
            break;
        case OPT_QUEUE_STATUS:
            if (parse_int("--queue-full-status", optarg, 429, 503, &v) != 0 ||
                (v != 429 && v != 503)) {
                fprintf(stderr, "surge sim: --queue-full-status must be 429 or 503\n");
                return SURGE_EXIT_USAGE;
            }
            cfg.queue_full_status = (int)v;
            break;
        case OPT_PREFIX:
            cfg.prefix_caching = true;
            break;
        case OPT_MAX_BODY:
            if (parse_int("--max-body-bytes", optarg, 1024, 1L << 30, &v) != 0)
                return SURGE_EXIT_USAGE;
            cfg.max_body_bytes = (size_t)v;
            break;
        case OPT_FAULT:
            if (cfg.fault_count >= SIM_MAX_STARTUP_FAULTS) {
                fprintf(stderr, "surge sim: at most %d --fault flags\n", SIM_MAX_STARTUP_FAULTS);
                return SURGE_EXIT_USAGE;
            }
            if (sim_fault_spec_parse(optarg, &cfg.faults[cfg.fault_count], err, sizeof err)) {
                fprintf(stderr, "surge sim: %s\n", err);
                return SURGE_EXIT_USAGE;
            }
            cfg.fault_count++;
            break;
        case OPT_LOG_LEVEL: {
            log_level_t level;
            if (log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "surge sim: --log-level must be debug, info, warn or error\n");
                return SURGE_EXIT_USAGE;
            }
            log_set_level(level);
            break;
        }
        default:
            print_help(stderr);
            return SURGE_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "surge sim: unexpected argument '%s'\n", argv[optind]);
        return SURGE_EXIT_USAGE;
    }
    cfg.handle_signals = true;
    sim_server_t *server = sim_server_new(&cfg, err, sizeof err);
    if (!server) {
        fprintf(stderr, "surge sim: %s\n", err);
        return strstr(err, "listen") ? SURGE_EXIT_RUNTIME : SURGE_EXIT_USAGE;
    }
    bool v6 = strchr(host, ':') != NULL;
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "",
           sim_server_port(server));
    fflush(stdout);
    log_info("profile %s, %d replica(s), seed %llu", cfg.profile->name, cfg.replicas,
             (unsigned long long)cfg.seed);
    int rc = sim_server_run(server);
    sim_server_destroy(&server);
    return rc == 0 ? SURGE_EXIT_OK : SURGE_EXIT_RUNTIME;
}
