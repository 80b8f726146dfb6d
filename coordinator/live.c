/*  live.c: the coordinator's /metrics (see live.h, docs/metrics.md).

    Two halves: the server (its own thread; it only copies the published page under the
    mutex) and the renderer (the coordinator's thread, once per closed interval: a few
    kilobytes of text, a handful of percentile lookups).

    The server is a plain poll(2) loop, not a library: it answers GET /metrics and closes
    the connection, which is all a Prometheus scrape needs. Bounded: at most
    LIVE_MAX_CLIENTS connections at once (more wait in the backlog), a request head of at
    most LIVE_MAX_REQUEST_BYTES, LIVE_CLIENT_TIMEOUT_MS to send it, and the same to take
    the answer; a slow or hostile client costs one slot for that long and nothing else.
*/
#include "coordinator/live.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord_internal.h"
#include "coordinator/plan_yaml.h"
#include "coordinator/prom_query.h"
#include "coordinator/scrape.h"

#define LIVE_MAX_CLIENTS       16
#define LIVE_MAX_REQUEST_BYTES 8192
#define LIVE_CLIENT_TIMEOUT_MS 5000

typedef struct {
    int fd; /* -1 = free */
    char head[LIVE_MAX_REQUEST_BYTES];
    size_t len;
    int64_t deadline_ns;
} client_t;

struct _live_t {
    char address[300];
    int listen_fd;
    int wake[2]; /* a byte here stops the server thread */
    pthread_t thread;
    bool started;
    client_t clients[LIVE_MAX_CLIENTS];
    pthread_mutex_t lock;
    buf_t page; /* guarded by lock */
    /* renderer (coordinator thread) */
    metrics_t *total; /* every closed interval so far */
    metrics_t *last;  /* the last closed interval */
    int64_t last_index, last_inflight;
    int last_phase;
    int64_t intervals;
    buf_t scratch;
};

/* ---- the server ------------------------------------------------------------------- */

/* Writes all of it or gives up at the deadline (the socket is non-blocking). */
static void write_all(int fd, const char *data, size_t len, int64_t deadline_ns)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return;
        int64_t left_ms = (deadline_ns - clock_now_ns()) / NS_PER_MS;
        if (left_ms <= 0)
            return;
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, (int)left_ms);
    }
}

static void respond(live_t *self, client_t *c)
{
    buf_t out;
    buf_init(&out);
    bool get = strncmp(c->head, "GET ", 4) == 0, head = strncmp(c->head, "HEAD ", 5) == 0;
    const char *path = c->head + (get ? 4 : head ? 5 : 0);
    size_t path_len = strcspn(path, " ?\r\n");
    if (!get && !head) {
        buf_append_str(&out, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (path_len == 8 && memcmp(path, "/metrics", 8) == 0) {
        pthread_mutex_lock(&self->lock);
        buf_printf(&out,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   self->page.len);
        if (get)
            buf_append(&out, self->page.data, self->page.len);
        pthread_mutex_unlock(&self->lock);
    } else {
        const char *body = "surge coordinator: the metrics are at /metrics\n";
        buf_printf(&out,
                   "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   strlen(body), get ? body : "");
    }
    write_all(c->fd, out.data, out.len, clock_now_ns() + LIVE_CLIENT_TIMEOUT_MS * NS_PER_MS);
    buf_free(&out);
}

static void client_close(client_t *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Reads what is there; answers once the head is complete (or too big: 431-free, closed). */
static void client_read(live_t *self, client_t *c)
{
    ssize_t n = recv(c->fd, c->head + c->len, sizeof c->head - 1 - c->len, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->head[c->len] = '\0';
    if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n")) {
        respond(self, c);
        client_close(c);
    } else if (c->len >= sizeof c->head - 1) {
        client_close(c); /* a head this long is no scrape */
    }
}

static void *live_thread(void *arg)
{
    live_t *self = arg;
    for (;;) {
        struct pollfd fds[2 + LIVE_MAX_CLIENTS];
        client_t *owner[2 + LIVE_MAX_CLIENTS];
        int n = 0, free_slots = 0;
        int64_t now = clock_now_ns();
        fds[n] = (struct pollfd){self->wake[0], POLLIN, 0};
        owner[n++] = NULL;
        for (int i = 0; i < LIVE_MAX_CLIENTS; i++) {
            client_t *c = &self->clients[i];
            if (c->fd >= 0 && now >= c->deadline_ns)
                client_close(c);
            if (c->fd < 0) {
                free_slots++;
                continue;
            }
            fds[n] = (struct pollfd){c->fd, POLLIN, 0};
            owner[n++] = c;
        }
        if (free_slots > 0) { /* else new connections wait in the backlog */
            fds[n] = (struct pollfd){self->listen_fd, POLLIN, 0};
            owner[n++] = NULL;
        }
        if (poll(fds, (nfds_t)n, 200) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break; /* live_destroy */
        for (int i = 1; i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (owner[i]) {
                client_read(self, owner[i]);
                continue;
            }
            int fd = accept4(self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            for (int k = 0; fd >= 0 && k < LIVE_MAX_CLIENTS; k++) {
                if (self->clients[k].fd < 0) {
                    self->clients[k].fd = fd;
                    self->clients[k].len = 0;
                    self->clients[k].deadline_ns =
                        clock_now_ns() + LIVE_CLIENT_TIMEOUT_MS * NS_PER_MS;
                    fd = -1;
                }
            }
            if (fd >= 0)
                close(fd);
        }
    }
    return NULL;
}

/* "HOST:PORT", "[V6]:PORT"; false when it is not one. */
static bool split_listen(const char *listen, char *host, size_t host_size, char *port,
                         size_t port_size)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return false;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return false;
        h++;
        n -= 2;
    }
    if (n >= host_size)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
        return false;
    snprintf(port, port_size, "%ld", p);
    return true;
}

static int bind_listen(const char *host, const char *port, char *bound, size_t bound_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        getnameinfo((struct sockaddr *)&addr, len, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(bound, bound_size, "%s%s%s:%s", strchr(h, ':') ? "[" : "", h,
             strchr(h, ':') ? "]" : "", p);
    return fd;
}

live_t *live_new(const char *listen, char *err, size_t err_size)
{
    char host[256], port[16];
    if (!split_listen(listen, host, sizeof host, port, sizeof port)) {
        snprintf(err, err_size, "--metrics-listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:9090)",
                 listen);
        return NULL;
    }
    live_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->listen_fd = self->wake[0] = self->wake[1] = -1;
    for (int i = 0; i < LIVE_MAX_CLIENTS; i++)
        self->clients[i].fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    buf_init(&self->page);
    buf_init(&self->scratch);
    self->last_index = -1;
    self->total = metrics_new(HIST_DEFAULT_DIGITS);
    self->last = metrics_new(HIST_DEFAULT_DIGITS);
    if (!self->total || !self->last || pipe2(self->wake, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "--metrics-listen: out of memory");
        live_destroy(&self);
        return NULL;
    }
    self->listen_fd = bind_listen(host, port, self->address, sizeof self->address);
    if (self->listen_fd < 0) {
        snprintf(err, err_size, "--metrics-listen: cannot listen on %s: %s", listen,
                 errno ? strerror(errno) : "no such address");
        live_destroy(&self);
        return NULL;
    }
    buf_append_str(&self->page, "# surge: no interval has closed yet\n");
    if (pthread_create(&self->thread, NULL, live_thread, self) != 0) {
        snprintf(err, err_size, "--metrics-listen: cannot start the server thread");
        live_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void live_destroy(live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    live_t *self = *self_p;
    if (self->started) {
        ssize_t rc = write(self->wake[1], "x", 1);
        (void)rc;
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < LIVE_MAX_CLIENTS; i++) {
        if (self->clients[i].fd >= 0)
            close(self->clients[i].fd);
    }
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    if (self->wake[0] >= 0)
        close(self->wake[0]);
    if (self->wake[1] >= 0)
        close(self->wake[1]);
    metrics_destroy(&self->total);
    metrics_destroy(&self->last);
    buf_free(&self->page);
    buf_free(&self->scratch);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

const char *live_address(const live_t *self)
{
    return self->address;
}

/* ---- the page --------------------------------------------------------------------- */

static void label_value(buf_t *o, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            buf_append_char(o, '\\');
        if (*c == '\n')
            buf_append_str(o, "\\n");
        else
            buf_append_char(o, *c);
    }
}

static void header(buf_t *o, const char *name, const char *type, const char *help)
{
    buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(buf_t *o, double v)
{
    if (isnan(v))
        buf_append_str(o, "NaN");
    else if (isinf(v))
        buf_append_str(o, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(o, "%.9g", v);
}

static void sample(buf_t *o, const char *name, double v)
{
    buf_printf(o, "%s ", name);
    number(o, v);
    buf_append_char(o, '\n');
}

static void sample_label(buf_t *o, const char *name, const char *label, const char *value, double v)
{
    buf_printf(o, "%s{%s=\"", name, label);
    label_value(o, value);
    buf_append_str(o, "\"} ");
    number(o, v);
    buf_append_char(o, '\n');
}

static const double quantiles[] = {0.5, 0.9, 0.95, 0.99};

static double quantile_s(const hist_t *h, double q)
{
    if (hist_total_count(h) == 0)
        return NAN;
    return (double)hist_value_at_percentile(h, q * 100.0) / 1e6;
}

/* A run-so-far summary and a gauge of the last interval's quantiles, for one histogram. */
static void latency(buf_t *o, const char *name, const char *what, const hist_t *run,
                    const hist_t *interval)
{
    char full[96], help[256];
    snprintf(full, sizeof full, "surge_%s_seconds", name);
    snprintf(help, sizeof help, "%s, every request of the run so far.", what);
    header(o, full, "summary", help);
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++) {
        buf_printf(o, "%s{quantile=\"%g\"} ", full, quantiles[i]);
        number(o, quantile_s(run, quantiles[i]));
        buf_append_char(o, '\n');
    }
    buf_printf(o, "%s_sum ", full);
    number(o, hist_mean(run) * (double)hist_total_count(run) / 1e6);
    buf_printf(o, "\n%s_count %lld\n", full, (long long)hist_total_count(run));
    snprintf(full, sizeof full, "surge_%s_interval_seconds", name);
    snprintf(help, sizeof help, "%s, quantiles of the last closed interval (NaN: no sample).",
             what);
    header(o, full, "gauge", help);
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++) {
        buf_printf(o, "%s{quantile=\"%g\"} ", full, quantiles[i]);
        number(o, quantile_s(interval, quantiles[i]));
        buf_append_char(o, '\n');
    }
}

static void render_server(buf_t *o, scrape_t *scrape)
{
    static const struct {
        server_key_t key;
        const char *name, *help;
        double scale;
    } gauges[] = {
        {SERVER_RUNNING, "surge_server_running_requests", "Requests running on the target.", 1},
        {SERVER_WAITING, "surge_server_waiting_requests", "Requests queued on the target.", 1},
        {SERVER_KV_CACHE_USAGE, "surge_server_kv_cache_usage_ratio",
         "Fraction of the target's KV cache in use (0..1).", 1},
        {SERVER_PREEMPTIONS, "surge_server_preemptions",
         "Preemptions on the target during the last interval.", 1},
        {SERVER_QUEUE_TIME_MS, "surge_server_queue_time_seconds",
         "Mean queue time of the target's requests scheduled in the last interval.", 1e-3},
        {SERVER_PROMPT_TOKENS_PER_S, "surge_server_prompt_tokens_per_second",
         "Prompt tokens the target processed per second (its own counter).", 1},
        {SERVER_GENERATION_TOKENS_PER_S, "surge_server_generation_tokens_per_second",
         "Tokens the target generated per second (its own counter).", 1},
    };
    int n = scrape_target_count(scrape);
    if (n == 0)
        return;
    server_figures_t *f = calloc((size_t)n, sizeof *f);
    int64_t *errors = calloc((size_t)n, sizeof *errors);
    bool *has = calloc((size_t)n, sizeof *has);
    if (!f || !errors || !has) {
        free(f);
        free(errors);
        free(has);
        return;
    }
    for (int t = 0; t < n; t++)
        has[t] = scrape_latest(scrape, t, &f[t], &errors[t]);
    for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++) {
        header(o, gauges[g].name, "gauge", gauges[g].help);
        for (int t = 0; t < n; t++) {
            if (has[t] && f[t].has[gauges[g].key])
                sample_label(o, gauges[g].name, "target", scrape_target_url(scrape, t),
                             f[t].value[gauges[g].key] * gauges[g].scale);
        }
    }
    header(o, "surge_server_scrape_errors_total", "counter",
           "Failed scrapes of the target's /metrics (down, slow, not Prometheus text).");
    for (int t = 0; t < n; t++)
        sample_label(o, "surge_server_scrape_errors_total", "target", scrape_target_url(scrape, t),
                     (double)errors[t]);
    free(f);
    free(errors);
    free(has);
}

static void render(live_t *self, const coordinator_t *c, bool finished)
{
    buf_t *o = &self->scratch;
    buf_clear(o);
    const metrics_t *m = self->last;
    const metrics_counters_t *t = &self->total->c;
    double interval_s = (double)c->interval_ns / 1e9;

    header(o, "surge_info", "gauge", "The run this coordinator drives (value 1).");
    buf_printf(o, "surge_info{run_id=\"");
    label_value(o, c->run_id);
    buf_printf(o, "\",version=\"%s\",plan=\"", SURGE_VERSION);
    label_value(o, c->plan->name ? c->plan->name : c->plan->source);
    buf_append_str(o, "\"} 1\n");
    header(o, "surge_run_finished", "gauge", "1 once the run is over and the results are written.");
    sample(o, "surge_run_finished", finished ? 1 : 0);
    header(o, "surge_run_elapsed_seconds", "gauge",
           "End of the last closed interval, in seconds from the run's start.");
    sample(o, "surge_run_elapsed_seconds", (double)(self->last_index + 1) * interval_s);
    header(o, "surge_intervals_total", "counter", "Intervals closed so far.");
    sample(o, "surge_intervals_total", (double)self->intervals);
    int p = self->last_phase;
    header(o, "surge_phase_info", "gauge",
           "The phase of the last closed interval (value 1; labels name it).");
    if (p >= 0 && p < c->phase_count) {
        const plan_phase_t *ph = &c->phases[p].phase;
        buf_append_str(o, "surge_phase_info{phase=\"");
        label_value(o, ph->name);
        buf_append_str(o, "\",kind=\"");
        label_value(o, ph->kind);
        buf_printf(o, "\",index=\"%d\",measured=\"%s\"} 1\n", p, ph->measure ? "true" : "false");
    }

    int64_t mid_ns = self->last_index * c->interval_ns + c->interval_ns / 2;
    header(o, "surge_offered_requests_per_second", "gauge",
           "The plan's arrival rate in the last interval (0 in closed-loop phases).");
    sample(o, "surge_offered_requests_per_second",
           self->last_index >= 0 && !finished ? planned_rate_at(c, mid_ns) : 0);
    header(o, "surge_sent_requests_per_second", "gauge",
           "Requests sent per second, last interval.");
    sample(o, "surge_sent_requests_per_second", (double)m->c.sent / interval_s);
    header(o, "surge_completed_requests_per_second", "gauge",
           "Requests that ended (ok or error) per second, last interval.");
    sample(o, "surge_completed_requests_per_second", (double)(m->c.ok + m->c.failed) / interval_s);
    header(o, "surge_goodput_requests_per_second", "gauge",
           "Requests meeting every SLO per second, last interval.");
    sample(o, "surge_goodput_requests_per_second", (double)m->c.slo_ok / interval_s);
    header(o, "surge_output_tokens_per_second", "gauge",
           "Output tokens per second, last interval.");
    sample(o, "surge_output_tokens_per_second", (double)m->c.output_tokens / interval_s);
    header(o, "surge_input_tokens_per_second", "gauge", "Input tokens per second, last interval.");
    sample(o, "surge_input_tokens_per_second", (double)m->c.input_tokens / interval_s);
    header(o, "surge_inflight_requests", "gauge",
           "Requests in flight on the workers at the end of the last interval.");
    sample(o, "surge_inflight_requests", (double)self->last_inflight);

    header(o, "surge_requests_total", "counter", "Requests that ended, by outcome.");
    sample_label(o, "surge_requests_total", "outcome", "ok", (double)t->ok);
    sample_label(o, "surge_requests_total", "outcome", "error", (double)t->failed);
    header(o, "surge_errors_total", "counter", "Failed requests by error class (docs/worker.md).");
    for (int k = 0; k < ERR_CLASS_COUNT; k++)
        sample_label(o, "surge_errors_total", "class", error_class_name((error_class_t)k),
                     (double)t->errors[k]);
    header(o, "surge_scheduled_arrivals_total", "counter", "Arrivals the schedule planned.");
    sample(o, "surge_scheduled_arrivals_total", (double)t->scheduled);
    header(o, "surge_sent_requests_total", "counter", "Requests sent.");
    sample(o, "surge_sent_requests_total", (double)t->sent);
    header(o, "surge_dropped_arrivals_total", "counter",
           "Arrivals not sent because a cap was reached (the client limited the test).");
    sample(o, "surge_dropped_arrivals_total", (double)t->dropped);
    header(o, "surge_output_tokens_total", "counter", "Output tokens of successful requests.");
    sample(o, "surge_output_tokens_total", (double)t->output_tokens);
    header(o, "surge_input_tokens_total", "counter", "Input tokens of successful requests.");
    sample(o, "surge_input_tokens_total", (double)t->input_tokens);
    header(o, "surge_slo_ok_requests_total", "counter", "Requests that met every SLO.");
    sample(o, "surge_slo_ok_requests_total", (double)t->slo_ok);

    int live = 0, lost = 0, left = 0;
    for (int i = 0; i < c->worker_count; i++) {
        live += c->workers[i]->state == WORKER_LIVE;
        lost += c->workers[i]->state == WORKER_DEAD;
        left += c->workers[i]->state == WORKER_LEFT;
    }
    header(o, "surge_workers", "gauge", "Workers by state (lost: lease expired; left: said bye).");
    sample_label(o, "surge_workers", "state", "live", live);
    sample_label(o, "surge_workers", "state", "lost", lost);
    sample_label(o, "surge_workers", "state", "left", left);
    header(o, "surge_late_snapshots_total", "counter",
           "Snapshots merged after their interval closed (in the totals, not the series).");
    sample(o, "surge_late_snapshots_total", (double)c->late_snapshots);
    header(o, "surge_rejected_messages_total", "counter", "Messages the coordinator refused.");
    sample(o, "surge_rejected_messages_total", (double)c->rejected_messages);

    latency(o, "ttft", "Time to first token", self->total->hist[METRIC_TTFT], m->hist[METRIC_TTFT]);
    latency(o, "itl", "Inter-token latency (gaps between content events)",
            self->total->hist[METRIC_ITL], m->hist[METRIC_ITL]);
    latency(o, "tpot", "Time per output token", self->total->hist[METRIC_TPOT],
            m->hist[METRIC_TPOT]);
    latency(o, "e2e", "End-to-end request latency", self->total->hist[METRIC_E2E],
            m->hist[METRIC_E2E]);
    latency(o, "schedule_lag", "Schedule lag (actual minus intended send)",
            self->total->hist[METRIC_LAG], m->hist[METRIC_LAG]);
    render_server(o, c->scrape);

    pthread_mutex_lock(&self->lock);
    buf_clear(&self->page);
    buf_append(&self->page, o->data, o->len);
    pthread_mutex_unlock(&self->lock);
}

void live_interval_closed(live_t *self, const coordinator_t *coordinator, int64_t index, int phase,
                          const metrics_t *interval, int64_t inflight)
{
    if (!self)
        return;
    metrics_add(self->total, interval);
    metrics_reset(self->last);
    metrics_add(self->last, interval);
    self->last_index = index;
    self->last_phase = phase;
    self->last_inflight = inflight;
    self->intervals++;
    render(self, coordinator, false);
}

void live_finished(live_t *self, const coordinator_t *coordinator)
{
    if (self)
        render(self, coordinator, true);
}

/* ---- the coordinator's hooks (coord_internal.h) ------------------------------------ */

int observe_open(coordinator_t *self, char *err, size_t err_size)
{
    const plan_t *plan = self->plan;
    const char *path = plan->extra ? plan->extra->server_metrics_path : NULL;
    if (!path || *path) {
        char why[256];
        self->scrape = scrape_new((const char *const *)plan->target_urls, plan->target_count, path,
                                  why, sizeof why);
        if (!self->scrape) /* a target that cannot be scraped does not stop the run */
            log_warn("server metrics off: %s", why);
    }
    if (self->cfg.metrics_listen) {
        self->live = live_new(self->cfg.metrics_listen, err, err_size);
        if (!self->live)
            return -1;
        log_info("live metrics on http://%s/metrics", live_address(self->live));
    }
    return 0;
}

void observe_close(coordinator_t *self)
{
    scrape_destroy(&self->scrape);
    live_destroy(&self->live);
}

void observe_run_started(coordinator_t *self)
{
    if (self->scrape && scrape_start(self->scrape, self->run_t0_ns, self->interval_ns) != 0) {
        log_warn("server metrics off: cannot start the scraper thread");
        scrape_destroy(&self->scrape);
    }
}

void observe_run_finished(coordinator_t *self)
{
    if (!self->live)
        return;
    live_finished(self->live, self);
    /* A Prometheus scrape after the end sees the final totals; Ctrl-C cuts it short. */
    int64_t until = clock_now_ns() + self->cfg.metrics_linger_ms * NS_PER_MS;
    while (clock_now_ns() < until && !self->stop_requested)
        clock_sleep_until_ns(
            clock_now_ns() + 50 * NS_PER_MS < until ? clock_now_ns() + 50 * NS_PER_MS : until);
}

void observe_write_results(coordinator_t *self, jsonw_t *w)
{
    if (self->scrape) /* the targets' own figures over the run, scrape errors included */
        scrape_write_summary(self->scrape, w);
    const plan_extra_t *x = self->plan->extra;
    const char *url = self->cfg.prometheus_url ? self->cfg.prometheus_url
                      : x                      ? x->prometheus_url
                                               : NULL;
    if (!url || !self->start_wall_ns)
        return; /* no server, or the run never started */
    bool planned = x && x->prometheus_query_count > 0;
    prom_query_config_t q = {
        .url = url,
        .names = planned ? (const char *const *)x->prometheus_names : prom_query_default_names,
        .exprs = planned ? (const char *const *)x->prometheus_exprs : prom_query_default_exprs,
        .count = planned ? x->prometheus_query_count : prom_query_default_count,
        .start_wall_ns = self->start_wall_ns,
        .end_wall_ns = self->start_wall_ns + self->next_close * self->interval_ns,
        .run_t0_wall_ns = self->start_wall_ns,
        .step_ms =
            x && x->prometheus_step_ms > 0 ? x->prometheus_step_ms : self->interval_ns / NS_PER_MS,
    };
    log_info("prometheus: %d range queries to %s", q.count, url);
    prom_query_write(&q, w);
}
