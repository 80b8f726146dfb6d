/*  bench_engine_cost.c: a fixed number of streamed requests through one engine thread,
    for counting what each costs (instructions under callgrind, syscalls under strace).
    Never pass/fail: bench/bench_engine_cost.sh drives it and does the division.

      bench_engine_cost URL RATE SECONDS

    Constant arrivals at RATE/s for SECONDS: exactly RATE * SECONDS requests, all
    against one target (bench_engine_server), streaming chat with usage. The engine
    thread's work is all inside its thread_main, so `--toggle-collect=thread_main`
    leaves setup and teardown out of the count.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "bench/bench_engine_config.h"
#include "worker/engine.h"

static void on_interval(void *arg, const engine_interval_t *iv)
{
    metrics_add(arg, iv->total);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_engine_cost URL RATE SECONDS\n");
        return 2;
    }
    const char *urls[1] = {argv[1]};
    double rate_per_s = atof(argv[2]), seconds = atof(argv[3]);
    engine_config_t c = bench_engine_config(urls, 1);
    /* Counted, not timed: a polling thread (idle auto) spins more the slower it runs, as it
       does under callgrind, so the count would follow timing. */
    c.idle = ENGINE_IDLE_SLEEP;
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
    p.load = PHASE_LOAD_RATE;
    p.schedule.arrival = ARRIVAL_CONSTANT;
    p.schedule.start_rate_per_s = p.schedule.end_rate_per_s = rate_per_s;
    p.schedule.duration_ns = (int64_t)(seconds * 1e9);
    p.segment_to = 1;
    p.t0_ns = clock_now_ns() + 200 * NS_PER_MS;
    p.duration_ns = p.schedule.duration_ns;
    if (engine_start_phase(e, &p, err, sizeof err) != 0) {
        fprintf(stderr, "phase: %s\n", err);
        return 3;
    }
    metrics_t *m = metrics_new(3);
    usleep(300000);
    for (;;) {
        engine_status_t st;
        engine_status(e, &st);
        engine_collect(e, false, on_interval, m);
        if (!st.running && st.inflight == 0)
            break;
        usleep(50000);
    }
    engine_collect(e, true, on_interval, m);
    /* every token is one SSE event, plus the usage and [DONE] events */
    printf("requests %lld ok %lld failed %lld events %lld\n", (long long)m->c.sent,
           (long long)m->c.ok, (long long)m->c.failed,
           (long long)(m->c.output_tokens + 2 * m->c.ok));
    metrics_destroy(&m);
    engine_destroy(&e);
    return 0;
}
