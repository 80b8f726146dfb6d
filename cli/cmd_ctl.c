/*  cmd_ctl.c: `surge ctl`: one request to a running coordinator's ctl socket, one
    answer printed (docs/chaos.md). */
#include <czmq.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/ctl_watch.h"
#include "common/buf.h"
#include "common/duration.h"
#include "common/exit_codes.h"
#include "coordinator/ctl_answer.h"
#include "proto/curve.h"
#include "proto/proto.h"

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

/* Sends the request and waits for its answer (or a refused handshake). */
static int exchange(const char *endpoint, const char *cert, const char *coordinator_key,
                    int64_t timeout_ms, const proto_msg_t *request, proto_msg_t *reply)
{
    char err[512];
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, PROTO_MAX_CTL_BODY_BYTES + 8192);
    if (cert && curve_client_apply(sock, cert, coordinator_key, err, sizeof err) != 0) {
        fprintf(stderr, "surge ctl: %s\n", err);
        zsock_destroy(&sock);
        return SURGE_EXIT_USAGE;
    }
    char monitor_endpoint[64];
    snprintf(monitor_endpoint, sizeof monitor_endpoint, "inproc://surge-ctl-monitor-%p",
             (void *)sock);
    zmq_socket_monitor(zsock_resolve(sock), monitor_endpoint,
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    zsock_t *monitor = zsock_new(ZMQ_PAIR);
    zsock_connect(monitor, "%s", monitor_endpoint);
    int rc = SURGE_EXIT_RUNTIME;
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "surge ctl: cannot connect to '%s' (an endpoint is tcp://HOST:PORT)\n",
                endpoint);
        rc = SURGE_EXIT_USAGE;
        goto done;
    }
    if (proto_send(sock, request) != 0) {
        fprintf(stderr, "surge ctl: cannot send to %s\n", endpoint);
        goto done;
    }
    zpoller_t *poller = zpoller_new(sock, monitor, NULL);
    void *which = zpoller_wait(poller, (int)timeout_ms);
    zpoller_destroy(&poller);
    if (which == monitor) {
        fprintf(stderr,
                "surge ctl: %s refused the connection (CURVE authentication): your key is not "
                "among the coordinator's operator keys (--ctl-allowed-keys), or "
                "--coordinator-key is not the coordinator's\n",
                endpoint);
        goto done;
    }
    if (which != sock) {
        fprintf(stderr,
                "surge ctl: no answer from %s within %.1f s: is the run still going, and is "
                "this its ctl endpoint (RESULTS_DIR/ctl.endpoint)? %s\n",
                endpoint, (double)timeout_ms / 1e3,
                cert ? "With CURVE a refused key also looks like this: check that your key is "
                       "in the coordinator's --ctl-allowed-keys."
                     : "A coordinator with CURVE on ctl needs --cert and --coordinator-key.");
        goto done;
    }
    zframe_t *frame = zframe_recv(sock);
    if (!frame ||
        proto_decode(reply, zframe_data(frame), zframe_size(frame), err, sizeof err) != PROTO_OK ||
        reply->type != PROTO_CTL_REPLY) {
        fprintf(stderr, "surge ctl: unreadable answer from %s: %s\n", endpoint,
                frame ? err : "no frame");
        proto_msg_clear(reply);
        zframe_destroy(&frame);
        goto done;
    }
    zframe_destroy(&frame);
    rc = SURGE_EXIT_OK;
done:
    zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&sock);
    return rc;
}

/* `watch`: one status exchange per frame (ctl_watch.c draws it). */
typedef struct {
    const char *endpoint, *cert, *coordinator_key;
    int64_t timeout_ms;
} watch_ctx_t;

static int watch_fetch(void *arg, json_t **status)
{
    const watch_ctx_t *w = arg;
    proto_msg_t request = {.type = PROTO_CTL_REQUEST}, reply;
    request.u.ctl_request = (proto_ctl_request_t){(uint64_t)getpid(), "status", "", 0};
    memset(&reply, 0, sizeof reply);
    int rc = exchange(w->endpoint, w->cert, w->coordinator_key, w->timeout_ms, &request, &reply);
    if (rc != SURGE_EXIT_OK)
        return rc;
    *status = reply.u.ctl_reply.ok ? json_loads(reply.u.ctl_reply.body_json, 0, NULL) : NULL;
    proto_msg_clear(&reply);
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
    char endpoint_text[512], cert_path[4200], key_path[4200];
    bool from_env = !results && !cert;
    if (from_env)
        results = getenv("SURGE_RESULTS_DIR");
    if (results && *results) {
        snprintf(cert_path, sizeof cert_path, "%s/ctl.key_secret", results);
        snprintf(key_path, sizeof key_path, "%s/ctl.coordinator.key", results);
        if (!cert && access(cert_path, R_OK) == 0) {
            cert = cert_path;
            coordinator_key = key_path;
        }
        char endpoint_path[4200];
        snprintf(endpoint_path, sizeof endpoint_path, "%s/ctl.endpoint", results);
        FILE *f = from_env ? NULL : fopen(endpoint_path, "r");
        if (f) {
            if (fgets(endpoint_text, sizeof endpoint_text, f)) {
                endpoint_text[strcspn(endpoint_text, "\r\n")] = '\0';
                endpoint = endpoint_text;
            }
            fclose(f);
        } else if (!from_env) {
            fprintf(stderr, "surge ctl: --results %s: no ctl.endpoint there (is the run on?)\n",
                    results);
            return SURGE_EXIT_USAGE;
        }
    }
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "surge ctl: --coordinator ENDPOINT is required (the `ctl on ...` line "
                        "of the run's log, or RESULTS_DIR/ctl.endpoint)\n");
        return SURGE_EXIT_USAGE;
    }
    if (!cert != !coordinator_key) {
        fprintf(stderr, "surge ctl: CURVE needs both --cert FILE and --coordinator-key FILE\n");
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
    if (strcmp(command, "watch") == 0) {
        /* A gone coordinator is the usual end of a watch: do not wait 5 s to say so. */
        watch_ctx_t w = {endpoint, cert, coordinator_key, timeout_ms < 2000 ? timeout_ms : 2000};
        return ctl_watch(watch_fetch, &w, 1000, stdout, isatty(STDOUT_FILENO));
    }
    proto_msg_t request = {.type = PROTO_CTL_REQUEST};
    request.u.ctl_request =
        (proto_ctl_request_t){(uint64_t)getpid(), (char *)command, (char *)text, value};
    proto_msg_t reply;
    memset(&reply, 0, sizeof reply);
    int rc = exchange(endpoint, cert, coordinator_key, timeout_ms, &request, &reply);
    if (rc != SURGE_EXIT_OK)
        return rc;
    const proto_ctl_reply_t *r = &reply.u.ctl_reply;
    if (!r->ok) {
        fprintf(stderr, "surge ctl: %s refused: %s\n", command, r->error);
        proto_msg_clear(&reply);
        return SURGE_EXIT_RUNTIME;
    }
    json_t *body = json_loads(r->body_json, 0, NULL);
    if (json)
        printf("%s\n", r->body_json);
    else if (body)
        ctl_answer_print(stdout, command, body);
    json_decref(body);
    proto_msg_clear(&reply);
    return SURGE_EXIT_OK;
}
