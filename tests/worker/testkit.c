/*  testkit.c: test servers as child processes, and engine runs collected for checks. */
#include "testkit.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

bool testkit_server_start(testkit_server_t *srv, const char *script, const char *const *args)
{
    memset(srv, 0, sizeof *srv);
    const char *src = getenv("SURGE_SRC");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/worker/%s", src ? src : ".", script);
    if (access("/usr/bin/python3", X_OK) != 0)
        return false;
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32] = {"python3", path};
        int n = 2;
        for (int i = 0; args && args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv("/usr/bin/python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128] = "";
    bool ok = f && fgets(line, sizeof line, f) && sscanf(line, "PORT %d", &srv->port) == 1;
    if (f)
        fclose(f);
    srv->pid = pid;
    if (!ok) {
        testkit_server_stop(srv);
        return false;
    }
    snprintf(srv->url, sizeof srv->url, "http://127.0.0.1:%d", srv->port);
    return true;
}

void testkit_server_stop(testkit_server_t *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
    }
    srv->pid = 0;
}

typedef struct {
    char *out;
    size_t size, len;
} sink_t;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    sink_t *s = arg;
    size_t n = size * nmemb;
    size_t room = s->size - 1 - s->len;
    size_t take = n < room ? n : room;
    memcpy(s->out + s->len, data, take);
    s->len += take;
    s->out[s->len] = '\0';
    return n;
}

bool testkit_http_get(const testkit_server_t *srv, const char *path, char *out, size_t size)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", srv->url, path);
    sink_t sink = {out, size, 0};
    out[0] = '\0';
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    return rc == CURLE_OK;
}

long testkit_server_stat(const testkit_server_t *srv, const char *field)
{
    char body[512], key[64];
    if (!testkit_http_get(srv, "/stats", body, sizeof body))
        return -1;
    snprintf(key, sizeof key, "\"%s\": ", field);
    const char *p = strstr(body, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

void testkit_run_init(testkit_run_t *run, int target_count)
{
    memset(run, 0, sizeof *run);
    run->total = metrics_new(3);
    run->target_count = target_count;
    for (int i = 0; i < target_count && i < 16; i++)
        run->per_target[i] = metrics_new(2);
    buf_init(&run->jsonl);
}

void testkit_run_free(testkit_run_t *run)
{
    metrics_destroy(&run->total);
    for (int i = 0; i < 16; i++)
        metrics_destroy(&run->per_target[i]);
    for (int i = 0; i < ENGINE_MAX_CLASSES; i++)
        metrics_destroy(&run->per_class[i]);
    buf_free(&run->jsonl);
}

void testkit_collect_fn(void *arg, const engine_interval_t *interval)
{
    testkit_run_t *run = arg;
    run->intervals++;
    metrics_add(run->total, interval->total);
    for (int i = 0; i < interval->target_count && i < run->target_count && i < 16; i++)
        metrics_add(run->per_target[i], interval->per_target[i]);
    for (int i = 0; i < interval->class_count && i < ENGINE_MAX_CLASSES; i++) {
        if (!run->per_class[i])
            run->per_class[i] = metrics_new(2);
        metrics_add(run->per_class[i], interval->per_class[i]);
        if (i >= run->class_count)
            run->class_count = i + 1;
    }
    if (interval->requests_jsonl)
        buf_append(&run->jsonl, interval->requests_jsonl, interval->requests_jsonl_len);
}

bool testkit_run_until_idle(engine_t *engine, testkit_run_t *run, int timeout_ms)
{
    int64_t deadline = clock_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
    bool idle = false;
    while (clock_now_ns() < deadline) {
        engine_status_t st;
        engine_status(engine, &st);
        if (!st.running && st.inflight == 0) {
            idle = true;
            break;
        }
        engine_collect(engine, false, testkit_collect_fn, run);
        usleep(20000);
    }
    engine_collect(engine, true, testkit_collect_fn, run);
    return idle;
}

engine_config_t testkit_config(const char *const *urls, int count)
{
    static const char *const prompts[] = {"Say hello.", "Count to ten.", "Tell a story."};
    engine_config_t c;
    memset(&c, 0, sizeof c);
    c.target_urls = urls;
    c.target_count = count;
    c.api = ENGINE_API_CHAT;
    c.model = "fixed";
    c.stream = true;
    c.include_usage = true;
    c.ignore_eos = true;
    c.prompts = prompts;
    c.prompt_count = 3;
    c.threads = 2;
    c.timeout_ms = 10000;
    c.record_requests = true;
    c.interval_ns = 200 * NS_PER_MS;
    return c;
}

engine_phase_t testkit_rate_phase(arrival_kind_t kind, double rate, double seconds, int64_t t0_ns)
{
    engine_phase_t p;
    memset(&p, 0, sizeof p);
    p.epoch = 1;
    p.load = PHASE_LOAD_RATE;
    p.schedule.arrival = kind;
    p.schedule.gamma_shape = 1;
    p.schedule.start_rate_per_s = p.schedule.end_rate_per_s = rate;
    p.schedule.duration_ns = (int64_t)(seconds * 1e9);
    p.schedule.seed = 1234;
    p.segment_from = 0;
    p.segment_to = 1;
    p.t0_ns = t0_ns;
    p.duration_ns = p.schedule.duration_ns;
    return p;
}
