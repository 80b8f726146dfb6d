/*  launch.c: `surge run` / `surge coordinator` (see launch.h, docs/fleet.md).

    Local processes are started with fork + exec of /proc/self/exe (the same binary),
    with PR_SET_PDEATHSIG so they never outlive a killed parent, and are stopped at the
    end: workers leave by themselves after the coordinator's stop; whatever is still
    running after a grace time gets SIGTERM, then SIGKILL.
*/
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cpus.h"
#include "common/duration.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "common/url.h"
#include "coordinator/coordinator.h"
#include "coordinator/launch.h"
#include "plan/plan_yaml.h"
#include "coordinator/run_keys.h"

#define MAX_CHILDREN 1024

typedef struct {
    const char *plan_path;
    plan_flags_t flags;
    coordinator_config_t coord;
    int local_workers;
    int worker_threads;
    const char *worker_idle; /* --idle for the local workers, or NULL (their default) */
    bool sim;
    const char *sim_profile;
    int sim_replicas; /* 0 = the plan's (simulator.replicas), else --sim-replicas */
    bool quiet;
    const char *log_level; /* --log-level (also given to local workers and sims), or NULL */
    bool no_preflight;
    const char *cert_path;            /* --cert: the coordinator's secret certificate */
    const char *allowed_keys_dir;     /* --allowed-keys: public certificates of admitted workers */
    const char *ctl_allowed_keys_dir; /* --ctl-allowed-keys: operator certificates (ctl) */
    /* The flags of a plan from flags (--target ... --seed) given, by getopt code, so that
       with a plan file each one is applied and stated, or refused: never ignored. */
    bool plan_flag_given[16]; /* >= OPT_PLAN_FLAG_LAST - OPT_PLAN_FLAG_FIRST + 1 */
} options_t;

typedef struct {
    pid_t pids[MAX_CHILDREN];
    int count;
} children_t;

static coordinator_t *running_coordinator; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (running_coordinator)
        coordinator_request_stop(running_coordinator);
}

static void usage(FILE *out, launch_mode_t mode)
{
    if (mode == LAUNCH_RUN)
        fprintf(out,
                "usage: surge run [PLAN.yaml] [options]\n"
                "       surge run --target URL --model NAME --rate R --duration D [options]\n\n"
                "Runs a plan with a coordinator, N local worker processes and, for sim://\n"
                "targets or --sim, a local simulated vLLM node, all started and stopped here.\n\n");
    else
        fprintf(out,
                "usage: surge coordinator [PLAN.yaml] --bind tcp://HOST:PORT --workers N "
                "[options]\n"
                "       surge coordinator --target URL --model NAME --rate R --duration D "
                "[options]\n\n"
                "Drives a fleet of `surge worker --connect ...` processes through a plan.\n\n");
    fprintf(out,
            "fleet:\n"
            "  --workers N           %s\n"
            "  --out DIR             results directory (default results/<UTC timestamp>)\n"
            "  --record-requests     also write requests.jsonl (one line per request)\n"
            "  --quiet               no progress output, and only warnings and errors logged\n"
            "  --log-level LEVEL     debug, info (default), warn, error; local workers and\n"
            "                        simulators too\n"
            "  --no-preflight        skip the workers' check that each target answers and\n"
            "                        serves the model before any load (docs/worker.md)\n"
            "  --progress MODE       auto (live line on a terminal, else plain lines), line, "
            "plain\n"
            "  --metrics-listen H:P  serve the live page on http://H:P/ (docs/live.md), its\n"
            "                        figures at /live.json, Prometheus metrics at /metrics\n"
            "  --metrics-linger D    keep serving them this long after the run (default 0s)\n"
            "  --live-token-file F   the live page's bearer token (first line of F), required\n"
            "                        even on loopback (default: generated off loopback)\n"
            "  --prometheus URL      at the end, range queries to this Prometheus over the\n"
            "                        run's window (the plan's prometheus.queries, else DCGM)\n"
            "  --heartbeat D         heartbeat interval (default 500ms; dead after 3 missed)\n"
            "  --drain D             wait for in-flight requests after the plan (default 15s)\n"
            "  --ctl-bind ENDPOINT   the operator's ctl socket for `surge ctl` (%s)\n",
            mode == LAUNCH_RUN ? "local worker processes (default: one per core)"
                               : "workers to wait for (default 1)",
            mode == LAUNCH_RUN ? "default tcp://127.0.0.1:*; the endpoint is logged and written "
                                 "to RESULTS_DIR/ctl.endpoint"
                               : "default: none; docs/chaos.md");
    if (mode == LAUNCH_COORDINATOR)
        fprintf(out,
                "  --bind ENDPOINT       where workers connect (default tcp://127.0.0.1:5555)\n"
                "  --min-workers M       start with M workers once --ready-timeout passed\n"
                "  --ready-timeout D     how long to wait for workers (default 30s)\n"
                "  --cert FILE           CURVE: this coordinator's secret certificate\n"
                "                        (NAME.key_secret from `surge keygen`)\n"
                "  --allowed-keys DIR    CURVE: admit only workers whose public certificate\n"
                "                        is in DIR (docs/security.md)\n"
                "  --ctl-allowed-keys DIR  CURVE on the ctl socket: admit only operators whose\n"
                "                        public certificate is in DIR (worker keys are not)\n"
                "  --insecure            allow binding off loopback without CURVE "
                "(docs/security.md)\n");
    else
        fprintf(out, "  --threads N           engine threads per local worker (default 1)\n"
                     "  --idle MODE           the local workers' engines: auto (poll while busy),\n"
                     "                        sleep, poll (docs/worker.md; default auto)\n"
                     "  --sim                 start a local `surge sim` and use it as the target\n"
                     "  --sim-profile NAME    its profile (default tiny); sim://NAME targets "
                     "also start one\n"
                     "  --sim-replicas N      simulated GPU replicas behind it (default: the "
                     "plan's simulator.replicas, else 1)\n");
    fprintf(out,
            "\nplan from flags (without PLAN.yaml; with it, --target and --model override the\n"
            "plan's, stated on stderr and in results.json, and the others are refused):\n"
            "  --target URL          base URL (http://host:8000) or sim://PROFILE\n"
            "  --model NAME          model name sent in requests\n"
            "  --rate R              open loop: requests per second (whole fleet)\n"
            "  --concurrency N       closed loop: requests in flight (instead of --rate)\n"
            "  --duration D          e.g. 60s, 5m (default 60s)\n"
            "  --warmup D            a warm-up phase first, left out of the summary\n"
            "  --arrival KIND        poisson (default), constant, gamma\n"
            "  --burstiness K        gamma shape > 0 (< 1 burstier than Poisson); --arrival "
            "gamma only\n"
            "  --max-tokens N        max_tokens of every request\n"
            "  --ignore-eos          ask the server to ignore EOS (vLLM)\n"
            "  --api KIND            chat (default) or completions\n"
            "  --seed N              arrival and prompt seed (default 1)\n"
            "  -h, --help            this help\n\n"
            "exit codes: 0 success, 1 a verdict failed, 2 bad usage or plan, 3 runtime failure\n"
            "docs: docs/fleet.md, docs/results.md\n");
}

enum {
    OPT_WORKERS = 256,
    OPT_OUT,
    OPT_RECORD,
    OPT_QUIET,
    OPT_PROGRESS,
    OPT_HEARTBEAT,
    OPT_DRAIN,
    OPT_BIND,
    OPT_MIN_WORKERS,
    OPT_READY_TIMEOUT,
    OPT_INSECURE,
    OPT_CERT,
    OPT_ALLOWED_KEYS,
    OPT_CTL_BIND,
    OPT_CTL_ALLOWED_KEYS,
    OPT_THREADS,
    OPT_IDLE,
    OPT_SIM,
    OPT_SIM_PROFILE,
    OPT_SIM_REPLICAS,
    OPT_TARGET,
    OPT_MODEL,
    OPT_RATE,
    OPT_CONCURRENCY,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_ARRIVAL,
    OPT_BURSTINESS,
    OPT_MAX_TOKENS,
    OPT_IGNORE_EOS,
    OPT_API,
    OPT_SEED,
    OPT_METRICS_LISTEN,
    OPT_METRICS_LINGER,
    OPT_LIVE_TOKEN_FILE,
    OPT_PROMETHEUS,
    OPT_LOG_LEVEL,
    OPT_NO_PREFLIGHT
};
/* The flags of a plan from flags: OPT_TARGET..OPT_SEED (options_t.plan_flag_given). */
enum { OPT_PLAN_FLAG_FIRST = OPT_TARGET, OPT_PLAN_FLAG_LAST = OPT_SEED };
_Static_assert(OPT_PLAN_FLAG_LAST - OPT_PLAN_FLAG_FIRST < 16, "options_t.plan_flag_given");

static int parse_int(const char *flag, const char *text, int min, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > 1000000000) {
        fprintf(stderr, "surge: %s: '%s' is not an integer >= %d\n", flag, text, min);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_duration(const char *flag, const char *text, int64_t *out_ms)
{
    if (duration_parse_ms(text, out_ms) != 0) {
        fprintf(stderr, "surge: %s: '%s' is not a duration with a unit (500ms, 30s, 5m, 1h30m)\n",
                flag, text);
        return -1;
    }
    return 0;
}

static bool given(const options_t *o, int code)
{
    return o->plan_flag_given[code - OPT_PLAN_FLAG_FIRST];
}

/* Flags that would otherwise be ignored are refused. With a plan file, --target and
   --model are overrides (plan_flags_override) and every other flag of a plan from flags
   is an error: the plan's phases say the load. 0 or -1 (message printed). */
static int check_plan_flags(const options_t *o, const struct option *longopts)
{
    if (o->plan_path) {
        for (const struct option *opt = longopts; opt->name; opt++) {
            if (opt->val >= OPT_PLAN_FLAG_FIRST && opt->val <= OPT_PLAN_FLAG_LAST &&
                opt->val != OPT_TARGET && opt->val != OPT_MODEL && given(o, opt->val)) {
                fprintf(stderr,
                        "surge: --%s with a plan file: the phases of %s set the load "
                        "(docs/plans.md); only --target and --model override a plan file\n",
                        opt->name, o->plan_path);
                return -1;
            }
        }
        return 0;
    }
    if (given(o, OPT_RATE) && given(o, OPT_CONCURRENCY)) {
        fprintf(stderr, "surge: give --rate R (open loop) or --concurrency N (closed loop), not "
                        "both\n");
        return -1;
    }
    if (given(o, OPT_BURSTINESS) && (!o->flags.arrival || strcmp(o->flags.arrival, "gamma") != 0)) {
        fprintf(stderr, "surge: --burstiness is the shape of --arrival gamma\n");
        return -1;
    }
    return 0;
}

/* --target and --model given with a plan file replace the plan's, and the run says so:
   on stderr now and in results.json plan.overrides. 0, or -1 with a reason in err. */
static int plan_flags_override(const options_t *o, plan_t *plan, char *err, size_t err_size)
{
    if (given(o, OPT_TARGET)) {
        if (plan->target_count != 1) {
            snprintf(err, err_size,
                     "--target: %s has %d targets; one --target cannot say which to replace "
                     "(edit the plan)",
                     o->plan_path, plan->target_count);
            return -1;
        }
        plan_add_override(plan, "target", o->flags.target, plan->target_urls[0]);
        plan_set_string(&plan->target_urls[0], o->flags.target);
    }
    if (given(o, OPT_MODEL)) {
        plan_add_override(plan, "model", o->flags.model, plan->model);
        plan_set_string(&plan->model, o->flags.model);
    }
    for (int i = 0; i < plan->override_count; i++)
        fprintf(stderr, "surge: override: %s\n", plan->overrides[i]);
    return 0;
}

/* 0 ok, 1 help printed, -1 bad usage (message printed). */
static int parse_options(options_t *o, launch_mode_t mode, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"workers", required_argument, 0, OPT_WORKERS},
        {"out", required_argument, 0, OPT_OUT},
        {"record-requests", no_argument, 0, OPT_RECORD},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"progress", required_argument, 0, OPT_PROGRESS},
        {"heartbeat", required_argument, 0, OPT_HEARTBEAT},
        {"drain", required_argument, 0, OPT_DRAIN},
        {"bind", required_argument, 0, OPT_BIND},
        {"min-workers", required_argument, 0, OPT_MIN_WORKERS},
        {"ready-timeout", required_argument, 0, OPT_READY_TIMEOUT},
        {"insecure", no_argument, 0, OPT_INSECURE},
        {"cert", required_argument, 0, OPT_CERT},
        {"allowed-keys", required_argument, 0, OPT_ALLOWED_KEYS},
        {"ctl-bind", required_argument, 0, OPT_CTL_BIND},
        {"ctl-allowed-keys", required_argument, 0, OPT_CTL_ALLOWED_KEYS},
        {"threads", required_argument, 0, OPT_THREADS},
        {"idle", required_argument, 0, OPT_IDLE},
        {"sim", no_argument, 0, OPT_SIM},
        {"sim-profile", required_argument, 0, OPT_SIM_PROFILE},
        {"sim-replicas", required_argument, 0, OPT_SIM_REPLICAS},
        {"target", required_argument, 0, OPT_TARGET},
        {"model", required_argument, 0, OPT_MODEL},
        {"rate", required_argument, 0, OPT_RATE},
        {"concurrency", required_argument, 0, OPT_CONCURRENCY},
        {"duration", required_argument, 0, OPT_DURATION},
        {"warmup", required_argument, 0, OPT_WARMUP},
        {"arrival", required_argument, 0, OPT_ARRIVAL},
        {"burstiness", required_argument, 0, OPT_BURSTINESS},
        {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"ignore-eos", no_argument, 0, OPT_IGNORE_EOS},
        {"api", required_argument, 0, OPT_API},
        {"seed", required_argument, 0, OPT_SEED},
        {"metrics-listen", required_argument, 0, OPT_METRICS_LISTEN},
        {"metrics-linger", required_argument, 0, OPT_METRICS_LINGER},
        {"live-token-file", required_argument, 0, OPT_LIVE_TOKEN_FILE},
        {"prometheus", required_argument, 0, OPT_PROMETHEUS},
        {"log-level", required_argument, 0, OPT_LOG_LEVEL},
        {"no-preflight", no_argument, 0, OPT_NO_PREFLIGHT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->flags.duration_ms = 60000;
    o->coord.bind = "tcp://127.0.0.1:5555";
    o->coord.workers = 1;
    o->worker_threads = 1;
    o->sim_profile = "tiny";
    o->coord.summary = true;
    if (mode == LAUNCH_RUN) {
        o->local_workers = cpus_usable(); /* affinity and CPU quota included */
    }
    optind = 1;
    opterr = 1;
    int c, n;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'h':
            usage(stdout, mode);
            return 1;
        case OPT_WORKERS:
            rc = parse_int("--workers", optarg, 1, &n);
            o->coord.workers = o->local_workers = n;
            break;
        case OPT_OUT:
            o->coord.out_dir = optarg;
            break;
        case OPT_RECORD:
            o->coord.record_requests = true;
            break;
        case OPT_QUIET:
            o->coord.progress = PROGRESS_NONE;
            o->quiet = true;
            break;
        case OPT_LOG_LEVEL: {
            log_level_t level;
            if (log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "surge: --log-level must be debug, info, warn or error\n");
                rc = -1;
            }
            o->log_level = optarg;
            break;
        }
        case OPT_NO_PREFLIGHT:
            o->no_preflight = true;
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0)
                o->coord.progress = PROGRESS_AUTO;
            else if (strcmp(optarg, "line") == 0)
                o->coord.progress = PROGRESS_LINE;
            else if (strcmp(optarg, "plain") == 0)
                o->coord.progress = PROGRESS_PLAIN;
            else {
                fprintf(stderr, "surge: --progress: auto, line or plain\n");
                rc = -1;
            }
            break;
        case OPT_HEARTBEAT:
            rc = parse_duration("--heartbeat", optarg, &o->coord.heartbeat_ms);
            break;
        case OPT_DRAIN:
            rc = parse_duration("--drain", optarg, &o->coord.drain_ms);
            break;
        case OPT_BIND:
            o->coord.bind = optarg;
            break;
        case OPT_MIN_WORKERS:
            rc = parse_int("--min-workers", optarg, 1, &o->coord.min_workers);
            break;
        case OPT_READY_TIMEOUT:
            rc = parse_duration("--ready-timeout", optarg, &o->coord.ready_timeout_ms);
            break;
        case OPT_INSECURE:
            o->coord.insecure = true;
            break;
        case OPT_CERT:
            o->cert_path = optarg;
            break;
        case OPT_ALLOWED_KEYS:
            o->allowed_keys_dir = optarg;
            break;
        case OPT_CTL_BIND:
            o->coord.ctl_bind = optarg;
            break;
        case OPT_CTL_ALLOWED_KEYS:
            o->ctl_allowed_keys_dir = optarg;
            break;
        case OPT_THREADS:
            rc = parse_int("--threads", optarg, 1, &o->worker_threads);
            break;
        case OPT_IDLE: /* checked here, applied by the workers (worker/idle.h) */
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "sleep") != 0 &&
                strcmp(optarg, "poll") != 0) {
                fprintf(stderr, "surge run: --idle: auto, sleep or poll\n");
                rc = -1;
            }
            o->worker_idle = optarg;
            break;
        case OPT_SIM:
            o->sim = true;
            break;
        case OPT_SIM_PROFILE:
            o->sim_profile = optarg;
            break;
        case OPT_SIM_REPLICAS:
            rc = parse_int("--sim-replicas", optarg, 1, &o->sim_replicas);
            break;
        case OPT_TARGET:
            o->flags.target = optarg;
            break;
        case OPT_MODEL:
            o->flags.model = optarg;
            break;
        case OPT_RATE:
            o->flags.rate_per_s = strtod(optarg, NULL);
            if (!(o->flags.rate_per_s > 0)) {
                fprintf(stderr, "surge: --rate: '%s' is not a positive rate\n", optarg);
                rc = -1;
            }
            break;
        case OPT_CONCURRENCY:
            rc = parse_int("--concurrency", optarg, 1, &o->flags.concurrency);
            break;
        case OPT_DURATION:
            rc = parse_duration("--duration", optarg, &o->flags.duration_ms);
            break;
        case OPT_WARMUP:
            rc = parse_duration("--warmup", optarg, &o->flags.warmup_ms);
            break;
        case OPT_ARRIVAL:
            o->flags.arrival = optarg;
            break;
        case OPT_BURSTINESS: {
            char *end = NULL;
            o->flags.burstiness = strtod(optarg, &end);
            if (end == optarg || *end || !(o->flags.burstiness > 0) ||
                !isfinite(o->flags.burstiness)) {
                fprintf(stderr, "surge: --burstiness: '%s' is not a gamma shape > 0\n", optarg);
                rc = -1;
            }
            break;
        }
        case OPT_MAX_TOKENS:
            rc = parse_int("--max-tokens", optarg, 1, &o->flags.max_tokens);
            break;
        case OPT_IGNORE_EOS:
            o->flags.ignore_eos = true;
            break;
        case OPT_API:
            o->flags.api = optarg;
            break;
        case OPT_METRICS_LISTEN:
            o->coord.metrics_listen = optarg;
            break;
        case OPT_METRICS_LINGER:
            rc = parse_duration("--metrics-linger", optarg, &o->coord.metrics_linger_ms);
            break;
        case OPT_LIVE_TOKEN_FILE:
            o->coord.live_token_file = optarg;
            break;
        case OPT_PROMETHEUS:
            o->coord.prometheus_url = optarg;
            break;
        case OPT_SEED:
            rc = parse_int("--seed", optarg, 0, &n);
            o->flags.seed = (uint64_t)n;
            break;
        default:
            rc = -1;
        }
        if (rc != 0)
            return -1;
        if (c >= OPT_PLAN_FLAG_FIRST && c <= OPT_PLAN_FLAG_LAST)
            o->plan_flag_given[c - OPT_PLAN_FLAG_FIRST] = true;
    }
    if (mode == LAUNCH_COORDINATOR && (o->local_workers || o->sim)) {
        /* --workers is the expected count here; --sim only makes sense with `run`. */
        if (o->sim) {
            fprintf(stderr, "surge: --sim is a `surge run` option\n");
            return -1;
        }
    }
    if (mode == LAUNCH_RUN && (o->cert_path || o->allowed_keys_dir)) {
        fprintf(stderr, "surge: --cert and --allowed-keys are `surge coordinator` options\n");
        return -1;
    }
    if (mode == LAUNCH_RUN && !o->coord.ctl_bind)
        o->coord.ctl_bind = "tcp://127.0.0.1:*";
    if (o->ctl_allowed_keys_dir && !o->cert_path) {
        fprintf(stderr, "surge: --ctl-allowed-keys needs --cert (CURVE) and --allowed-keys\n");
        return -1;
    }
    if (!o->cert_path != !o->allowed_keys_dir) {
        fprintf(stderr, "surge: CURVE needs both --cert FILE and --allowed-keys DIR\n");
        return -1;
    }
    if (o->quiet && !o->log_level)
        o->log_level = "warn"; /* --quiet: what goes wrong, nothing else */
    if (o->log_level) {
        log_level_t level;
        log_level_parse(o->log_level, &level);
        log_set_level(level);
    }
    if (optind < argc)
        o->plan_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "surge: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return check_plan_flags(o, longopts);
}

/* ---- child processes --------------------------------------------------------------- */

static pid_t spawn(char *const argv[], int stdout_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (stdout_fd >= 0) {
        dup2(stdout_fd, STDOUT_FILENO);
        close(stdout_fd);
    }
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void children_add(children_t *c, pid_t pid)
{
    if (pid > 0 && c->count < MAX_CHILDREN)
        c->pids[c->count++] = pid;
}

/* Waits up to wait_ms for every child, then SIGTERM, then SIGKILL. */
static void children_stop(children_t *c, int64_t wait_ms)
{
    int64_t deadline = clock_now_ns() + wait_ms * NS_PER_MS;
    for (int phase = 0; phase < 3; phase++) {
        for (;;) {
            int left = 0;
            for (int i = 0; i < c->count; i++) {
                if (c->pids[i] > 0 && waitpid(c->pids[i], NULL, WNOHANG) == c->pids[i])
                    c->pids[i] = 0;
                left += c->pids[i] > 0;
            }
            if (left == 0)
                return;
            if (clock_now_ns() >= deadline)
                break;
            usleep(20000);
        }
        for (int i = 0; i < c->count; i++) {
            if (c->pids[i] > 0)
                kill(c->pids[i], phase == 0 ? SIGTERM : SIGKILL);
        }
        deadline = clock_now_ns() + 2 * NS_PER_S;
    }
}

/* Starts `surge sim` on a kernel-chosen port and reads its URL from its first line. */
static int start_sim(children_t *children, const char *profile, int replicas, const char *log_level,
                     char *url, size_t url_size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char replicas_text[16];
    snprintf(replicas_text, sizeof replicas_text, "%d", replicas);
    char *argv[] = {
        "surge",      "sim",         "--listen", "127.0.0.1:0", "--profile", (char *)profile,
        "--replicas", replicas_text, NULL,       NULL,          NULL};
    if (log_level) {
        argv[8] = "--log-level";
        argv[9] = (char *)log_level;
    }
    pid_t pid = spawn(argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    children_add(children, pid);
    char line[512];
    size_t len = 0;
    int64_t deadline = clock_now_ns() + 15 * NS_PER_S;
    while (len < sizeof line - 1 && clock_now_ns() < deadline) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fds[0], line + len, 1);
        if (n <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    const char *at = strstr(line, "http://");
    if (!at)
        return -1;
    snprintf(url, url_size, "%s", at);
    return 0;
}

/* The hosts of the plan's targets, each once, for the local workers' --allow: the host
   as libcurl reads it (after any userinfo; an IPv6 host in brackets), so it is an exact
   hostname or address pattern (worker/allow.h). A host libcurl cannot read gets no
   pattern: the workers refuse that target. */
static int allow_list_of(const plan_t *plan, char allow[][300])
{
    int count = 0;
    for (int i = 0; i < plan->target_count && count < PLAN_MAX_TARGETS; i++) {
        CURLU *u = curl_url();
        char *host = NULL;
        if (u && curl_url_set(u, CURLUPART_URL, plan->target_urls[i], 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && strlen(host) < 300) {
            bool seen = false;
            for (int k = 0; k < count && !seen; k++)
                seen = strcmp(allow[k], host) == 0;
            if (!seen)
                snprintf(allow[count++], 300, "%s", host);
        }
        curl_free(host);
        curl_url_cleanup(u);
    }
    return count;
}

/* With `tokenize: true`, measures the first target's characters per token and rebuilds
   the request pool with it, so input lengths are in the server's own tokens. A server
   without /tokenize keeps the estimate (a warning says so). */
static void calibrate_workload(plan_t *plan)
{
    plan_extra_t *x = plan->extra;
    if (!x || !x->workload_spec || !x->workload_spec->tokenize || !x->workload)
        return;
    char err[512];
    double cpt = workload_calibrate_chars_per_token(plan->target_urls[0], plan->model,
                                                    plan->timeout_ms > 0 ? plan->timeout_ms : 10000,
                                                    err, sizeof err);
    if (!(cpt > 0)) {
        log_warn("tokenize: %s; input lengths keep the estimate of %.2f characters per token", err,
                 x->workload->chars_per_token);
        return;
    }
    workload_options_t options = {.chars_per_token = cpt, .seed = plan->seed};
    workload_t *pool = workload_build(x->workload_spec, &options, err, sizeof err);
    if (!pool) {
        log_warn("tokenize: rebuilding the request pool failed (%s): keeping the estimate", err);
        return;
    }
    plan_set_pool(plan, pool);
    workload_destroy(&x->workload);
    x->workload = pool;
    char *shown = url_redact(plan->target_urls[0]);
    log_info("tokenize: %s has %.2f characters per token; request pool rebuilt", shown, cpt);
    free(shown);
}

/* ---- the command ------------------------------------------------------------------ */

int launch_main(launch_mode_t mode, int argc, char **argv, launch_sim_model_fn *sim_model)
{
    options_t o;
    int rc = parse_options(&o, mode, argc, argv);
    if (rc != 0)
        return rc > 0 ? SURGE_EXIT_OK : SURGE_EXIT_USAGE;
    log_set_role(mode == LAUNCH_RUN ? "run" : "coordinator");

    char err[1024] = "";
    plan_t *plan = NULL;
    if (o.plan_path) {
        plan = plan_load_file(o.plan_path, err, sizeof err);
        if (plan && plan_flags_override(&o, plan, err, sizeof err) != 0)
            plan_destroy(&plan);
    } else {
        if (mode == LAUNCH_RUN && o.sim && !o.flags.target)
            o.flags.target = "sim://";
        /* No --model for a simulated node: the model its profile serves (the real name,
           meta-llama/..., for the hardware profiles), so the quick starts get answers,
           not 404s. */
        if (mode == LAUNCH_RUN && !o.flags.model && o.flags.target && sim_model &&
            strncmp(o.flags.target, "sim://", 6) == 0) {
            const char *name = o.flags.target[6] ? o.flags.target + 6 : o.sim_profile;
            o.flags.model = sim_model(name);
            if (!o.flags.model) {
                fprintf(stderr, "surge: sim://%s: no such simulator profile (surge sim --help)\n",
                        name);
                return SURGE_EXIT_USAGE;
            }
        }
        plan = plan_new_from_flags(&o.flags, err, sizeof err);
    }
    if (!plan) {
        fprintf(stderr, "surge: %s\n", err);
        return SURGE_EXIT_USAGE;
    }
    if (o.no_preflight)
        plan->preflight = false;
    if (o.coord.record_requests)
        plan->record_requests = true;
    o.coord.record_requests = plan->record_requests;
    if (!o.coord.out_dir)
        o.coord.out_dir = plan->out_dir;

    children_t children = {0}; /* the simulators first, then the workers */
    int sim_children = 0;
    int exit_code = SURGE_EXIT_OK;
    if (mode == LAUNCH_RUN) {
        /* Each sim:// target is a simulated node of its own (one `surge sim` process with
           simulator.replicas engines), so a fault injected into one node leaves the others
           serving, as in a real cluster; with --sim every other target shares the first. */
        char first_url[256] = "";
        for (int i = 0; i < plan->target_count; i++) {
            bool is_sim = strncmp(plan->target_urls[i], "sim://", 6) == 0;
            if (!is_sim && !o.sim)
                continue;
            char sim_url[256];
            if (is_sim || !first_url[0]) {
                const char *profile =
                    is_sim && plan->target_urls[i][6] ? plan->target_urls[i] + 6 : o.sim_profile;
                int replicas = o.sim_replicas > 0 ? o.sim_replicas : plan->sim_replicas;
                if (start_sim(&children, profile, replicas > 0 ? replicas : 1, o.log_level, sim_url,
                              sizeof sim_url) != 0) {
                    fprintf(stderr, "surge: could not start `surge sim --profile %s`\n", profile);
                    children_stop(&children, 0);
                    plan_destroy(&plan);
                    return SURGE_EXIT_RUNTIME;
                }
                log_info("simulated node %d (%s, %d replicas) at %s", i, profile,
                         replicas > 0 ? replicas : 1, sim_url);
                if (!first_url[0])
                    snprintf(first_url, sizeof first_url, "%s", sim_url);
            } else {
                snprintf(sim_url, sizeof sim_url, "%s", first_url);
            }
            plan_set_string(&plan->target_urls[i], sim_url);
        }
        o.coord.bind = "tcp://127.0.0.1:*";
        o.coord.workers = o.local_workers;
        o.coord.min_workers = 0;
    }
    sim_children = children.count;
    calibrate_workload(plan);

    zsys_handler_set(NULL); /* our handler, not czmq's */
    /* A loopback socket admits any local process: `surge run` admits only the workers it
       starts and only its owner on ctl, with keys made for the run (run_keys.h). */
    run_keys_t run_keys = {0};
    if (mode == LAUNCH_RUN && !o.cert_path) {
        if (run_keys_create(&run_keys, err, sizeof err) != 0) {
            fprintf(stderr, "surge: %s\n", err);
            children_stop(&children, 0);
            plan_destroy(&plan);
            return SURGE_EXIT_RUNTIME;
        }
        o.cert_path = run_keys.coordinator_cert;
        o.allowed_keys_dir = run_keys.workers_dir;
        o.ctl_allowed_keys_dir = run_keys.operators_dir;
    }
    /* The ZAP handler must run before the socket binds, or the first peers go unchecked. */
    curve_server_t *curve = NULL;
    if (o.cert_path) {
        curve = curve_server_new(o.cert_path, o.allowed_keys_dir, err, sizeof err);
        if (!curve) {
            fprintf(stderr, "surge: %s\n", err);
            run_keys_remove(&run_keys);
            children_stop(&children, 0);
            plan_destroy(&plan);
            return SURGE_EXIT_USAGE;
        }
        o.coord.curve = curve;
        log_info("CURVE on: admitting the worker keys in %s", o.allowed_keys_dir);
        if (o.ctl_allowed_keys_dir) {
            if (curve_server_allow_ctl(curve, o.ctl_allowed_keys_dir, err, sizeof err) != 0) {
                fprintf(stderr, "surge: %s\n", err);
                curve_server_destroy(&curve);
                run_keys_remove(&run_keys);
                children_stop(&children, 0);
                plan_destroy(&plan);
                return SURGE_EXIT_USAGE;
            }
            o.coord.ctl_curve = true;
            log_info("CURVE on ctl: admitting the operator keys in %s", o.ctl_allowed_keys_dir);
        } else if (o.coord.ctl_bind && !endpoint_is_loopback(o.coord.ctl_bind)) {
            /* A worker key must not command the fleet, so worker keys are never reused
               for ctl; without operator keys the door stays shut rather than open. */
            log_warn("--ctl-bind %s is off loopback and no --ctl-allowed-keys DIR was given: "
                     "the ctl socket stays closed (docs/chaos.md)",
                     o.coord.ctl_bind);
            o.coord.ctl_bind = NULL;
        }
    }
    int code = 0;
    coordinator_t *coordinator = coordinator_new(plan, &o.coord, &code, err, sizeof err);
    if (!coordinator) {
        fprintf(stderr, "surge: %s\n", err);
        curve_server_destroy(&curve);
        run_keys_remove(&run_keys);
        children_stop(&children, 0);
        plan_destroy(&plan);
        return code;
    }
    if (run_keys.dir[0] &&
        run_keys_publish_ctl(&run_keys, coordinator_out_dir(coordinator), err, sizeof err) != 0)
        log_warn("ctl credential: %s (surge ctl cannot reach this run)", err);
    else if (run_keys.dir[0])
        log_info("ctl admits only this run's operator key: surge ctl --results %s status",
                 coordinator_out_dir(coordinator));
    running_coordinator = coordinator;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (mode == LAUNCH_RUN) {
        char threads[16];
        snprintf(threads, sizeof threads, "%d", o.worker_threads);
        /* Local workers may load the plan's own targets and nothing else. */
        char allow[PLAN_MAX_TARGETS][300];
        int allow_count = allow_list_of(plan, allow);
        /* A key file of the plan: the local workers may read it (and nothing beside it). */
        char key_dir[4096] = "";
        const char *key_file = plan->extra ? plan->extra->api_key_file : NULL;
        if (key_file) {
            snprintf(key_dir, sizeof key_dir, "%s", key_file);
            char *slash = strrchr(key_dir, '/');
            if (slash)
                *(slash == key_dir ? slash + 1 : slash) = '\0';
            else
                snprintf(key_dir, sizeof key_dir, ".");
        }
        char *wargv[20 + 2 * PLAN_MAX_TARGETS];
        for (int i = 0; i < o.local_workers; i++) {
            char id[32];
            snprintf(id, sizeof id, "local-%d", i + 1);
            int n = 0;
            wargv[n++] = "surge";
            wargv[n++] = "worker";
            wargv[n++] = "--connect";
            wargv[n++] = (char *)coordinator_endpoint(coordinator);
            wargv[n++] = "--threads";
            wargv[n++] = threads;
            if (o.worker_idle) {
                wargv[n++] = "--idle";
                wargv[n++] = (char *)o.worker_idle;
            }
            wargv[n++] = "--id";
            wargv[n++] = id;
            wargv[n++] = "--reconnect-timeout";
            wargv[n++] = "10s";
            if (run_keys.dir[0]) {
                wargv[n++] = "--cert";
                wargv[n++] = run_keys.worker_cert;
                wargv[n++] = "--coordinator-key";
                wargv[n++] = run_keys.coordinator_public;
            }
            for (int a = 0; a < allow_count; a++) {
                wargv[n++] = "--allow";
                wargv[n++] = allow[a];
            }
            if (key_dir[0]) {
                wargv[n++] = "--api-key-dir";
                wargv[n++] = key_dir;
            }
            if (o.log_level) {
                wargv[n++] = "--log-level";
                wargv[n++] = (char *)o.log_level;
            }
            wargv[n] = NULL;
            children_add(&children, spawn(wargv, -1));
        }
    }
    exit_code = coordinator_run(coordinator);
    running_coordinator = NULL;
    printf("results: %s\n", coordinator_out_dir(coordinator));
    fflush(stdout);
    coordinator_destroy(&coordinator);
    curve_server_destroy(&curve);
    /* Workers leave by themselves; simulators serve until told: stop them now rather
       than after the workers' grace time. */
    for (int i = 0; i < sim_children; i++)
        kill(children.pids[i], SIGTERM);
    children_stop(&children, 5000);
    run_keys_remove(&run_keys);
    plan_destroy(&plan);
    return exit_code;
}
