/*  bench_engine.c: how much load one engine thread sustains, memory per stream, how
    many streams one worker holds, and the client overhead added to TTFT. Prints
    tables; never pass/fail. bench/bench_engine.sh starts the servers and runs all.

      bench_engine rate URL [seconds]      streaming rate sweep, 1 engine thread, until
                                           schedule lag P99 >= 1 ms or errors appear
      bench_engine streams URL N [secs]    N concurrent long streams: RSS per stream
      bench_engine overhead URL N T_MS I_MS [secs]
                                           N concurrent streams against a server with
                                           first token after T, one every I: TTFT - T
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "bench/bench_engine_config.h"
#include "worker/engine.h"

typedef struct {
    metrics_t *m;
} acc_t;

static void on_interval(void *arg, const engine_interval_t *iv)
{
    acc_t *acc = arg;
    metrics_add(acc->m, iv->total);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kib;
}

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

/* Runs a phase to completion; collects into acc. */
static void run_phase(engine_t *e, engine_phase_t *phase, acc_t *acc)
{
    char err[256];
    if (engine_start_phase(e, phase, err, sizeof err) != 0) {
        fprintf(stderr, "phase: %s\n", err);
        exit(3);
    }
    usleep(100000);
    for (;;) {
        engine_status_t st;
        engine_status(e, &st);
        engine_collect(e, false, on_interval, acc);
        if (!st.running && st.inflight == 0)
            break;
        usleep(50000);
    }
    engine_collect(e, true, on_interval, acc);
}

static int bench_rate(const char *url, double seconds, engine_idle_t idle)
{
    const char *urls[1] = {url};
    engine_config_t c = bench_engine_config(urls, 1);
    c.idle = idle;
    char err[256];
    engine_t *e = engine_new(&c, err, sizeof err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err);
        return 3;
    }
    printf("# one engine thread (idle %s), streaming chat, constant arrivals, %.0f s per step\n",
           idle_mode_name(idle), seconds);
    printf("%10s %9s %9s %9s %10s %10s %10s %12s\n", "rate/s", "sent", "ok", "errors", "lag_p50ms",
           "lag_p99ms", "lag_maxms", "events/s");
    static const double rates[] = {500,   1000,  1500,  2000,  2500,  3000,  4000,
                                   5000,  6000,  8000,  10000, 12000, 15000, 20000,
                                   25000, 30000, 35000, 40000, 50000};
    uint64_t epoch = 1;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        acc_t acc = {metrics_new(3)};
        engine_phase_t p;
        memset(&p, 0, sizeof p);
        p.epoch = epoch++;
        p.load = PHASE_LOAD_RATE;
        p.schedule.arrival = ARRIVAL_CONSTANT;
        p.schedule.start_rate_per_s = p.schedule.end_rate_per_s = rates[i];
        p.schedule.duration_ns = (int64_t)(seconds * 1e9);
        p.segment_to = 1;
        p.t0_ns = clock_now_ns() + 50 * NS_PER_MS;
        p.duration_ns = p.schedule.duration_ns;
        int64_t start = clock_now_ns();
        run_phase(e, &p, &acc);
        double wall = (double)(clock_now_ns() - start) / 1e9;
        const metrics_t *m = acc.m;
        /* every token is one SSE event; plus the usage and [DONE] events */
        double events =
            (double)(m->c.output_tokens + 2 * m->c.ok) / (wall > seconds ? seconds : wall);
        int64_t p99 = hist_value_at_percentile(m->hist[METRIC_LAG], 99);
        printf("%10.0f %9lld %9lld %9lld %10.3f %10.3f %10.3f %12.0f\n", rates[i],
               (long long)m->c.sent, (long long)m->c.ok, (long long)m->c.failed,
               ms(hist_value_at_percentile(m->hist[METRIC_LAG], 50)), ms(p99),
               ms(hist_max(m->hist[METRIC_LAG])), events);
        fflush(stdout);
        bool stop = p99 >= 1000 || m->c.failed > 0 || m->c.ok < m->c.sent;
        metrics_destroy(&acc.m);
        if (stop)
            break;
    }
    engine_destroy(&e);
    return 0;
}

static int bench_streams(const char *url, int n, double seconds)
{
    const char *urls[1] = {url};
    engine_config_t c = bench_engine_config(urls, 0);
    char err[256];
    engine_t *e = engine_new(&c, err, sizeof err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err);
        return 3;
    }
    usleep(200000);
    long idle = rss_kib();
    engine_phase_t p;
    memset(&p, 0, sizeof p);
    p.epoch = 1;
    p.load = PHASE_LOAD_CONCURRENCY;
    p.concurrency = n;
    p.segment_to = 1;
    p.t0_ns = clock_now_ns();
    p.duration_ns = (int64_t)(seconds * 1e9);
    acc_t acc = {metrics_new(3)};
    char err2[256];
    engine_start_phase(e, &p, err2, sizeof err2);
    int64_t peak_inflight = 0;
    long peak_rss = idle;
    int64_t end = clock_now_ns() + p.duration_ns;
    while (clock_now_ns() < end) {
        engine_status_t st;
        engine_status(e, &st);
        engine_collect(e, false, on_interval, &acc);
        if (st.inflight > peak_inflight)
            peak_inflight = st.inflight;
        long r = rss_kib();
        if (r > peak_rss)
            peak_rss = r;
        usleep(100000);
    }
    engine_halt(e, true);
    engine_collect(e, true, on_interval, &acc);
    printf("# %d concurrent streams, %.0f s (engine threads: one per core)\n", n, seconds);
    printf("peak_inflight %lld  ok %lld  errors %lld  rss_idle_kib %ld  rss_peak_kib %ld  "
           "kib_per_stream %.1f\n",
           (long long)peak_inflight, (long long)acc.m->c.ok,
           (long long)(acc.m->c.failed - acc.m->c.errors[ERR_ABORTED]), idle, peak_rss,
           peak_inflight ? (double)(peak_rss - idle) / (double)peak_inflight : 0.0);
    metrics_destroy(&acc.m);
    engine_destroy(&e);
    return 0;
}

static int bench_overhead(const char *url, int n, double t_ms, double i_ms, double seconds)
{
    const char *urls[1] = {url};
    engine_config_t c = bench_engine_config(urls, 0);
    c.prewarm = true;
    char err[256];
    engine_t *e = engine_new(&c, err, sizeof err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err);
        return 3;
    }
    engine_phase_t p;
    memset(&p, 0, sizeof p);
    p.epoch = 1;
    p.load = PHASE_LOAD_CONCURRENCY;
    p.concurrency = n;
    p.segment_to = 1;
    p.t0_ns = clock_now_ns() + 300 * NS_PER_MS;
    p.duration_ns = (int64_t)(seconds * 1e9);
    acc_t acc = {metrics_new(3)};
    run_phase(e, &p, &acc);
    const metrics_t *m = acc.m;
    const hist_t *ttft = m->hist[METRIC_TTFT], *itl = m->hist[METRIC_ITL];
    printf("# %d concurrent streams, server TTFT %.1f ms, ITL %.1f ms, %.0f s\n", n, t_ms, i_ms,
           seconds);
    printf("requests %lld  errors %lld\n", (long long)m->c.ok, (long long)m->c.failed);
    printf("ttft - truth (ms): p50 %.3f  p99 %.3f  max %.3f\n",
           ms(hist_value_at_percentile(ttft, 50)) - t_ms,
           ms(hist_value_at_percentile(ttft, 99)) - t_ms, ms(hist_max(ttft)) - t_ms);
    printf("itl (ms): p50 %.3f  p99 %.3f  (truth %.1f)\n", ms(hist_value_at_percentile(itl, 50)),
           ms(hist_value_at_percentile(itl, 99)), i_ms);
    metrics_destroy(&acc.m);
    engine_destroy(&e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "rate") == 0) {
        engine_idle_t idle = ENGINE_IDLE_AUTO;
        if (argc > 4 && !idle_mode_parse(argv[4], &idle)) {
            fprintf(stderr, "bench_engine rate: idle is auto, sleep or poll\n");
            return 2;
        }
        return bench_rate(argv[2], argc > 3 ? atof(argv[3]) : 3, idle);
    }
    if (argc >= 4 && strcmp(argv[1], "streams") == 0)
        return bench_streams(argv[2], atoi(argv[3]), argc > 4 ? atof(argv[4]) : 10);
    if (argc >= 6 && strcmp(argv[1], "overhead") == 0)
        return bench_overhead(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]),
                              argc > 6 ? atof(argv[6]) : 5);
    fprintf(stderr, "usage: bench_engine rate URL [s [auto|sleep|poll]] | streams URL N [s] | "
                    "overhead URL N T_MS I_MS [s]\n");
    return 2;
}
