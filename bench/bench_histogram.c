/*  bench_histogram: what the histogram costs on surge's paths.

      record      ns per hist_record of random latencies (the per-request hot path)
      merge       ns per hist_add of a typical worker snapshot (~1,000 values spread
                  over 1 ms .. 10 s) into a cluster-wide accumulator (the coordinator)
      encode      V2 compressed encoding of that snapshot (each worker, each interval),
                  and its size in bytes and as a base64 log line
      decode      strict decoding of it (the coordinator, per snapshot)
      percentile  one hist_value_at_percentile on the snapshot and on a full histogram

    Usage: bench_histogram [SECONDS_PER_ROW]   (default 0.5). Prints a table; never fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/histogram.h"
#include "common/rng.h"

static volatile int64_t sink;

static uint64_t rng_state = 12345;

/* Log-uniform between lo and hi microseconds. */
static int64_t log_uniform_us(double lo, double hi)
{
    return (int64_t)(lo * exp(rng_unit(&rng_state) * log(hi / lo)));
}

static hist_t *typical_snapshot(void)
{
    hist_t *h = hist_new_default();
    for (int i = 0; i < 1000; i++)
        hist_record(h, log_uniform_us(1e3, 1e7)); /* 1 ms .. 10 s */
    return h;
}

typedef struct {
    double ns_per_op;
    long long ops;
} result_t;

/* Runs `batch` repeatedly until `seconds` have passed; returns the cost per op. */
#define MEASURE(result, seconds, ops_per_batch, batch)                                             \
    do {                                                                                           \
        int64_t t0_ = clock_now_ns(), t_ = t0_;                                                    \
        long long ops_ = 0;                                                                        \
        while (t_ - t0_ < (int64_t)((seconds)*1e9)) {                                              \
            batch;                                                                                 \
            ops_ += (ops_per_batch);                                                               \
            t_ = clock_now_ns();                                                                   \
        }                                                                                          \
        (result).ns_per_op = (double)(t_ - t0_) / (double)ops_;                                    \
        (result).ops = ops_;                                                                       \
    } while (0)

static void row(const char *what, result_t r, const char *note)
{
    printf("%-44s %12.1f %14lld  %s\n", what, r.ns_per_op, r.ops, note);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (!(seconds > 0))
        seconds = 0.5;

    printf("surge histogram benchmark (1 us .. 1 h, 3 digits unless noted; %.2f s per row)\n\n",
           seconds);
    printf("%-44s %12s %14s  %s\n", "operation", "ns/op", "ops", "notes");
    printf("%-44s %12s %14s  %s\n", "---------", "-----", "---", "-----");

    /* record: values precomputed so the RNG is not measured; 64 Ki values fit in L2
       like a worker's recent latencies, 4 Mi values do not. */
    const size_t value_counts[2] = {1 << 16, 1 << 22};
    for (int k = 0; k < 2; k++) {
        size_t n = value_counts[k];
        int64_t *values = malloc(n * sizeof *values);
        for (size_t i = 0; i < n; i++)
            values[i] = log_uniform_us(1e2, 3e7); /* 100 us .. 30 s */
        hist_t *h = hist_new_default();
        result_t r;
        MEASURE(r, seconds, (long long)n, for (size_t i = 0; i < n; i++) hist_record(h, values[i]));
        char what[64];
        snprintf(what, sizeof what, "record (random, %zu Ki distinct values)", n >> 10);
        row(what, r, "hist_record: per request, per token gap");
        sink += hist_total_count(h);
        hist_destroy(&h);
        free(values);
    }
    {
        hist_t *h = hist_new(1, 3600000000LL, 5, NULL, 0);
        size_t n = 1 << 16;
        int64_t *values = malloc(n * sizeof *values);
        for (size_t i = 0; i < n; i++)
            values[i] = log_uniform_us(1e2, 3e7);
        result_t r;
        MEASURE(r, seconds, (long long)n, for (size_t i = 0; i < n; i++) hist_record(h, values[i]));
        row("record (random, 5 digits: 16 MiB of counts)", r, "");
        hist_destroy(&h);
        free(values);
    }

    /* merge: a fresh set of typical snapshots merged into one accumulator. */
    enum { SNAPSHOTS = 64 };
    hist_t *snaps[SNAPSHOTS];
    for (int i = 0; i < SNAPSHOTS; i++)
        snaps[i] = typical_snapshot();
    {
        hist_t *acc = hist_new_default();
        result_t r;
        MEASURE(r, seconds, SNAPSHOTS, for (int i = 0; i < SNAPSHOTS; i++) hist_add(acc, snaps[i]));
        row("merge typical snapshot (1,000 values)", r, "hist_add, exact; 64 snapshots, cold");
        MEASURE(r, seconds, 1, hist_add(acc, snaps[0]));
        row("merge typical snapshot, in cache", r, "the same snapshot again and again");
        hist_t *full = hist_new_default();
        hist_record(full, 0);
        hist_record(full, 3600000000LL);
        MEASURE(r, seconds, 1, hist_add(acc, full));
        row("merge histogram spanning 0 .. 1 h", r, "worst case: walks all 23,552 counters");
        hist_t *coarse = hist_new(1, 3600000000LL, 2, NULL, 0);
        MEASURE(r, seconds, SNAPSHOTS,
                for (int i = 0; i < SNAPSHOTS; i++) hist_add(coarse, snaps[i]));
        row("merge into another layout (3 -> 2 digits)", r, "re-records each bucket");
        hist_destroy(&coarse);
        hist_destroy(&full);
        hist_destroy(&acc);
    }

    /* encode / decode of the typical snapshot. */
    buf_t enc;
    buf_init(&enc);
    size_t bytes_total = 0;
    for (int i = 0; i < SNAPSHOTS; i++) {
        buf_clear(&enc);
        hist_encode_compressed(snaps[i], &enc);
        bytes_total += enc.len;
    }
    {
        result_t r;
        MEASURE(
            r, seconds, SNAPSHOTS, for (int i = 0; i < SNAPSHOTS; i++) {
                buf_clear(&enc);
                hist_encode_compressed(snaps[i], &enc);
            });
        char note[96];
        snprintf(note, sizeof note, "V2 compressed: %.0f bytes on average (raw counts: %zu)",
                 (double)bytes_total / SNAPSHOTS, hist_memory_bytes(snaps[0]));
        row("encode typical snapshot", r, note);
        buf_t encs[SNAPSHOTS];
        for (int i = 0; i < SNAPSHOTS; i++) {
            buf_init(&encs[i]);
            hist_encode_compressed(snaps[i], &encs[i]);
        }
        MEASURE(
            r, seconds, SNAPSHOTS, for (int i = 0; i < SNAPSHOTS; i++) {
                hist_t *d = hist_decode_compressed(encs[i].data, encs[i].len, NULL, 0);
                sink += hist_total_count(d);
                hist_destroy(&d);
            });
        row("decode typical snapshot", r,
            "strict; compact when its span fits 4,096 counters, else full");
        buf_t line;
        buf_init(&line);
        hist_log_interval(&line, "ttft", 1.0, 1.0, snaps[0], 1000.0);
        MEASURE(r, seconds, 1, {
            buf_clear(&line);
            hist_log_interval(&line, "ttft", 1.0, 1.0, snaps[0], 1000.0);
        });
        snprintf(note, sizeof note, "one .hlog line: %zu bytes", line.len);
        row("interval-log line of typical snapshot", r, note);
        buf_free(&line);
        for (int i = 0; i < SNAPSHOTS; i++)
            buf_free(&encs[i]);
    }

    /* percentiles. */
    {
        result_t r;
        const double ps[] = {50, 90, 99, 99.9};
        MEASURE(r, seconds, 4,
                for (int k = 0; k < 4; k++) sink +=
                hist_value_at_percentile(snaps[k % SNAPSHOTS], ps[k]));
        row("percentile of typical snapshot", r, "p50/p90/p99/p99.9");
        hist_t *big = hist_new_default();
        for (int i = 0; i < 1000000; i++)
            hist_record(big, log_uniform_us(1, 3.6e9));
        MEASURE(r, seconds, 4,
                for (int k = 0; k < 4; k++) sink += hist_value_at_percentile(big, ps[k]));
        row("percentile of 1 M values over 1 us .. 1 h", r, "linear walk of the counters");
        MEASURE(r, seconds, 1, sink += (int64_t)hist_mean(big));
        row("mean of the same", r, "");
        hist_destroy(&big);
    }

    printf("\nmemory per histogram (counters x 8 bytes):\n");
    struct {
        const char *range;
        int64_t highest;
        int digits;
    } mem[] = {{"1 us .. 60 s", 60000000LL, 3},  {"1 us .. 1 h", 3600000000LL, 2},
               {"1 us .. 1 h", 3600000000LL, 3}, {"1 us .. 1 h", 3600000000LL, 4},
               {"1 us .. 1 h", 3600000000LL, 5}, {"1 us .. 24 h", 86400000000LL, 3}};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++) {
        hist_t *h = hist_new(1, mem[i].highest, mem[i].digits, NULL, 0);
        printf("  %-14s %d digits  %9zu counters  %10.1f KiB\n", mem[i].range, mem[i].digits,
               hist_counts_len(h), (double)hist_memory_bytes(h) / 1024.0);
        hist_destroy(&h);
    }
    for (int i = 0; i < SNAPSHOTS; i++)
        hist_destroy(&snaps[i]);
    buf_free(&enc);
    return 0;
}
