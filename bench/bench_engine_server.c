/*  bench_engine_server.c: a static SSE source with fixed, precise timings, for
    bench_engine (never a test: benchmarks only).

    Every POST gets a vLLM-shaped chat stream: the first token --ttft-ms after the
    request was read, then one every --itl-ms, --tokens in all, a usage chunk and
    [DONE]. With --ttft-ms 0 --itl-ms 0 the whole stream is written at once (the
    "instant" source for throughput). libevent with EVENT_BASE_FLAG_PRECISE_TIMER
    (timerfd) keeps the server's own lateness in microseconds; it measures it and
    reports it at GET /stats, so a client figure can be read against it.

    GET /stats also gives the server's own view of what it served, exactly (every
    sample kept, sorted at the request): the actual time to first token (request
    handled -> first token handed to the socket) and the actual gaps between tokens,
    as P50/P99 deviations from the fixed timings. A client's TTFT or ITL percentile
    minus the target's actual one at the same percentile is the client's own error,
    with the target's lateness taken out. GET /reset forgets every sample (called
    when a client's warm-up ends, so both sides cover the same requests).

    --poll runs the event loop without ever sleeping (EVLOOP_NONBLOCK in a loop): the
    core it is pinned to is spent, and in exchange no timer or request waits for the
    kernel to wake the loop, so the target's own lateness is as small as it gets.

    usage: bench_engine_server [--ttft-ms T] [--itl-ms I] [--tokens N] [--poll 1]
    prints "listening on http://127.0.0.1:PORT"
*/
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/histogram.h"

static double ttft_ms = 50, itl_ms = 10;
static int tokens = 10;
static bool poll_loop;
static struct event_base *base;
static hist_t *late_us; /* server timer lateness, microseconds */
static long streams_open, streams_max, requests;

/* Deviations from the fixed timings, microseconds, every sample kept (bounded). */
#define MAX_SAMPLES (4 * 1024 * 1024)
typedef struct {
    int32_t *v;
    size_t n;
} samples_t;
static samples_t ttft_dev, itl_dev;

static void sample_add(samples_t *s, int64_t us)
{
    if (!s->v)
        s->v = malloc(MAX_SAMPLES * sizeof *s->v);
    if (s->v && s->n < MAX_SAMPLES)
        s->v[s->n++] = (int32_t)(us > INT32_MAX ? INT32_MAX : us < INT32_MIN ? INT32_MIN : us);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The value at percentile p (nearest rank) in microseconds; sorts in place. */
static long long sample_pct(samples_t *s, double p)
{
    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp_i32);
    size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    return s->v[rank > s->n ? s->n - 1 : rank - 1];
}

static const char chunk_fmt[] =
    "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok \"},"
    "\"logprobs\":null,\"finish_reason\":%s}]}\n\n";
static const char usage_fmt[] =
    "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
    "\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n";

typedef struct {
    struct evhttp_request *req;
    struct event *timer;
    int sent;
    int64_t t0_ns;
    int64_t prev_ns; /* when the previous token was handed to the socket */
} stream_t;

static void stream_end(stream_t *s)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, usage_fmt, tokens, tokens + 7);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
    evhttp_send_reply_end(s->req);
    if (s->timer)
        event_free(s->timer);
    free(s);
    streams_open--;
}

static void add_token(struct evbuffer *b, bool last)
{
    evbuffer_add_printf(b, chunk_fmt, last ? "\"length\"" : "null");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_t *s = arg;
    int64_t now = clock_now_ns();
    int64_t intended = s->t0_ns + (int64_t)((ttft_ms + itl_ms * s->sent) * 1e6);
    hist_record(late_us, (now - intended) / 1000 > 0 ? (now - intended) / 1000 : 0);
    if (s->sent == 0)
        sample_add(&ttft_dev, (now - s->t0_ns) / 1000 - (int64_t)(ttft_ms * 1000));
    else
        sample_add(&itl_dev, (now - s->prev_ns) / 1000 - (int64_t)(itl_ms * 1000));
    s->prev_ns = now;
    struct evbuffer *b = evbuffer_new();
    add_token(b, s->sent == tokens - 1);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
    s->sent++;
    if (s->sent >= tokens) {
        stream_end(s);
        return;
    }
    int64_t next = s->t0_ns + (int64_t)((ttft_ms + itl_ms * s->sent) * 1e6) - clock_now_ns();
    struct timeval tv = {0, next > 0 ? next / 1000 : 0};
    evtimer_add(s->timer, &tv);
}

static void on_stats(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(
        b,
        "{\"requests\": %ld, \"open\": %ld, \"max_open\": %ld, "
        "\"late_p50_us\": %lld, \"late_p99_us\": %lld, \"late_max_us\": %lld, "
        "\"ttft_samples\": %zu, \"ttft_dev_p50_us\": %lld, \"ttft_dev_p99_us\": %lld, "
        "\"itl_samples\": %zu, \"itl_dev_p50_us\": %lld, \"itl_dev_p99_us\": %lld}\n",
        requests, streams_open, streams_max, (long long)hist_value_at_percentile(late_us, 50),
        (long long)hist_value_at_percentile(late_us, 99), (long long)hist_max(late_us), ttft_dev.n,
        sample_pct(&ttft_dev, 50), sample_pct(&ttft_dev, 99), itl_dev.n, sample_pct(&itl_dev, 50),
        sample_pct(&itl_dev, 99));
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        const char *uri = evhttp_request_get_uri(req);
        if (strcmp(uri, "/reset") == 0) {
            hist_reset(late_us);
            ttft_dev.n = itl_dev.n = 0;
            evhttp_send_reply(req, 200, "OK", NULL);
        } else if (strcmp(uri, "/stats") == 0) {
            on_stats(req); /* sorts every sample: milliseconds, never during a run */
        } else {
            /* e.g. surge's scrape of /metrics once per interval: answered at once. (It
               was answered with /stats until 2026-11-24: a sort of every sample once a
               second stalled every stream for ~7 ms, in surge's rows only.) */
            evhttp_send_reply(req, 404, "Not Found", NULL);
        }
        return;
    }
    requests++;
    stream_t *s = calloc(1, sizeof *s);
    s->req = req;
    s->t0_ns = clock_now_ns();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_send_reply_start(req, 200, "OK");
    if (++streams_open > streams_max)
        streams_max = streams_open;
    if (ttft_ms <= 0 && itl_ms <= 0) {
        struct evbuffer *b = evbuffer_new();
        for (int i = 0; i < tokens; i++)
            add_token(b, i == tokens - 1);
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
        stream_end(s);
        return;
    }
    s->timer = evtimer_new(base, on_tick, s);
    struct timeval tv = {(time_t)(ttft_ms / 1000),
                         (long)((ttft_ms - 1000 * (long)(ttft_ms / 1000)) * 1000)};
    evtimer_add(s->timer, &tv);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ttft-ms") == 0)
            ttft_ms = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--itl-ms") == 0)
            itl_ms = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--tokens") == 0)
            tokens = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--poll") == 0)
            poll_loop = atoi(argv[i + 1]) != 0;
    }
    if (tokens < 1)
        tokens = 1;
    signal(SIGPIPE, SIG_IGN);
    late_us = hist_new_default();
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, on_request, NULL);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!sock) {
        fprintf(stderr, "bench_engine_server: cannot bind\n");
        return 3;
    }
    evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited on accept */
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    printf("listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    if (poll_loop) {
        while (event_base_loop(base, EVLOOP_NONBLOCK) >= 0 && !event_base_got_break(base))
            ;
    } else {
        event_base_dispatch(base);
    }
    evhttp_free(http);
    event_base_free(base);
    hist_destroy(&late_us);
    free(ttft_dev.v);
    free(itl_dev.v);
    return 0;
}
