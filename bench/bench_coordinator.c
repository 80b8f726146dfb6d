/*  bench_coordinator.c: the coordinator's cost per snapshot, and how many workers one
    core serves at 1 Hz snapshots within 10% of a core (docs/performance.md).

    Synthetic but realistic snapshots: a worker's 1 s interval at RATE requests/s, each
    request with a lognormal TTFT around 200 ms, TOKENS output tokens with ITLs around
    20 ms, and E2E/TPOT/lag from those; histograms filled from those samples, encoded as
    the wire carries them (proto_encode, V2 histograms). The timed loop is what the
    coordinator does per snapshot: decode (strict) + merge into the open interval
    (metrics_add) + per-target totals + encode the ack. A snapshot names its one phase (no
    metrics of its own): the coordinator adds it to the phase once per interval, not per
    snapshot (coordinator/merge.c), so the loop has no per-snapshot add for it.

    usage: bench_coordinator [snapshots=4000] [rate=50] [tokens=200] [targets=1]
*/
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "proto/proto.h"

#define VARIANTS 16

static double uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(uint64_t *state, double median, double sigma)
{
    double u1 = uniform(state), u2 = uniform(state);
    double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    return median * exp(sigma * z);
}

static void fill(metrics_t *m, metrics_t *const *per_target, int targets, int rate, int tokens,
                 uint64_t *rng)
{
    for (int r = 0; r < rate; r++) {
        metrics_t *t = per_target[r % targets];
        double ttft_us = lognormal(rng, 200000, 0.5);
        double e2e_us = ttft_us;
        for (int k = 1; k < tokens; k++) {
            double itl_us = lognormal(rng, 20000, 0.3);
            e2e_us += itl_us;
            metrics_record_us(m, METRIC_ITL, (int64_t)itl_us);
            metrics_record_us(t, METRIC_ITL, (int64_t)itl_us);
        }
        double lag_us = lognormal(rng, 80, 0.8);
        int64_t values[METRIC_HIST_COUNT] = {
            [METRIC_TTFT] = (int64_t)ttft_us,
            [METRIC_TTFT_SCHED] = (int64_t)(ttft_us + lag_us),
            [METRIC_TPOT] = (int64_t)((e2e_us - ttft_us) / (tokens - 1)),
            [METRIC_E2E] = (int64_t)e2e_us,
            [METRIC_RESPONSE] = (int64_t)(e2e_us + lag_us),
            [METRIC_LAG] = (int64_t)lag_us,
        };
        for (int h = 0; h < METRIC_HIST_COUNT; h++) {
            if (h == METRIC_ITL)
                continue;
            metrics_record_us(m, (metric_hist_t)h, values[h]);
            metrics_record_us(t, (metric_hist_t)h, values[h]);
        }
        m->c.sent++;
        m->c.ok++;
        m->c.output_tokens += tokens;
        t->c.sent++;
        t->c.ok++;
    }
}

int main(int argc, char **argv)
{
    int snapshots = argc > 1 ? atoi(argv[1]) : 4000;
    int rate = argc > 2 ? atoi(argv[2]) : 50;
    int tokens = argc > 3 ? atoi(argv[3]) : 200;
    int targets = argc > 4 ? atoi(argv[4]) : 1;
    if (snapshots < 1 || rate < 1 || tokens < 2 || targets < 1 || targets > PROTO_MAX_TARGETS) {
        fprintf(stderr, "usage: bench_coordinator [snapshots] [rate] [tokens>=2] [targets]\n");
        return 2;
    }

    coordinator_tune_malloc(); /* what coordinator_new does */

    /* Encode VARIANTS different snapshots, as VARIANTS workers would send them. */
    buf_t wire[VARIANTS];
    uint64_t rng = 42;
    size_t bytes = 0;
    for (int v = 0; v < VARIANTS; v++) {
        metrics_t *total = metrics_new(3);
        metrics_t **per = calloc((size_t)targets, sizeof *per);
        for (int t = 0; t < targets; t++)
            per[t] = metrics_new(2);
        fill(total, per, targets, rate, tokens, &rng);
        /* one phase part without metrics, as a worker sends for an interval of one phase */
        proto_phase_part_t part = {.phase_index = 0};
        proto_msg_t msg = {.type = PROTO_SNAPSHOT};
        msg.u.snapshot = (proto_snapshot_t){.phases = &part,
                                            .phase_count = 1,
                                            .seq = (uint64_t)v + 1,
                                            .interval = 7,
                                            .worker_id = "bench-worker:1234",
                                            .epoch = 1,
                                            .inflight = rate,
                                            .total = total,
                                            .per_target = per,
                                            .target_count = targets};
        buf_init(&wire[v]);
        proto_encode(&msg, &wire[v]);
        bytes += wire[v].len;
        for (int t = 0; t < targets; t++)
            metrics_destroy(&per[t]);
        free(per);
        metrics_destroy(&total);
    }

    metrics_t *interval = metrics_new(3);
    metrics_t **target_totals = calloc((size_t)targets, sizeof *target_totals);
    for (int t = 0; t < targets; t++)
        target_totals[t] = metrics_new(2);
    buf_t ack;
    buf_init(&ack);
    char err[256];
    int64_t start = clock_now_ns();
    for (int i = 0; i < snapshots; i++) {
        const buf_t *w = &wire[i % VARIANTS];
        proto_msg_t msg;
        if (proto_decode(&msg, w->data, w->len, err, sizeof err) != PROTO_OK) {
            fprintf(stderr, "decode: %s\n", err);
            return 1;
        }
        metrics_add(interval, msg.u.snapshot.total);
        for (int t = 0; t < msg.u.snapshot.target_count; t++)
            metrics_add(target_totals[t], msg.u.snapshot.per_target[t]);
        proto_msg_t reply = {.type = PROTO_ACK};
        reply.u.ack.seq = msg.u.snapshot.seq;
        buf_clear(&ack);
        proto_encode(&reply, &ack);
        proto_msg_clear(&msg);
    }
    double elapsed_s = (double)(clock_now_ns() - start) / 1e9;
    double per_snapshot_us = elapsed_s * 1e6 / snapshots;
    printf("snapshot: %d req/s, %d tokens/req, %d target(s), %zu bytes on the wire (mean)\n", rate,
           tokens, targets, bytes / VARIANTS);
    printf("decode + merge + ack: %.1f us per snapshot (%d snapshots, %.2f s)\n", per_snapshot_us,
           snapshots, elapsed_s);
    printf("workers at 1 snapshot/s within 10%% of one core: %.0f\n", 0.1 * 1e6 / per_snapshot_us);
    printf("check: merged ttft count %lld (want %lld)\n",
           (long long)hist_total_count(interval->hist[METRIC_TTFT]), (long long)snapshots * rate);

    buf_free(&ack);
    for (int t = 0; t < targets; t++)
        metrics_destroy(&target_totals[t]);
    free(target_totals);
    metrics_destroy(&interval);
    for (int v = 0; v < VARIANTS; v++)
        buf_free(&wire[v]);
    return 0;
}
