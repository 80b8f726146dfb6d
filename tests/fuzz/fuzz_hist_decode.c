/*  fuzz_hist_decode: histogram bytes and interval-log lines come from the network and
    from files other tools wrote. Whatever they hold, hist_decode_compressed and
    hist_log_parse_line must refuse or decode without crashing or leaking, and what
    they decode must be a consistent histogram that re-encodes to the same counts.
    Decoded histograms are compact (only their recorded span of counters): a full copy
    must encode to the same bytes, and writes outside the span (record, add, which
    give it every counter) must leave it equal to the same writes on the full copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/histogram.h"

static bool same_encoding(const hist_t *a, const hist_t *b)
{
    buf_t ea, eb;
    buf_init(&ea);
    buf_init(&eb);
    hist_encode_compressed(a, &ea);
    hist_encode_compressed(b, &eb);
    bool same = ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0;
    buf_free(&ea);
    buf_free(&eb);
    return same;
}

/* A compact histogram against a full copy of it, before and after writes outside its
   span; consumes `compact`. */
static void check_compact_like_full(hist_t *compact)
{
    hist_t *full = hist_new_like(compact);
    if (!full)
        abort();
    hist_add(full, compact);
    if (!same_encoding(full, compact) || hist_max(full) != hist_max(compact) ||
        hist_value_at_percentile(full, 50) != hist_value_at_percentile(compact, 50))
        abort();
    int64_t ends[2] = {0, hist_highest(compact)};
    for (int i = 0; i < 2; i++) {
        if (hist_record(full, ends[i]) != hist_record(compact, ends[i]))
            abort();
    }
    hist_t *twice = hist_new_like(full);
    if (!twice)
        abort();
    hist_add(twice, full);
    if (hist_add(compact, twice) != hist_add(full, twice) || !same_encoding(full, compact) ||
        hist_total_count(full) != hist_total_count(compact))
        abort();
    hist_destroy(&twice);
    hist_destroy(&full);
    hist_destroy(&compact);
}

/* Checks a decoded histogram's invariants; aborts (a finding) when one breaks. */
static void check_consistent(const hist_t *h)
{
    int64_t total = 0, last = -1;
    size_t cursor = 0;
    int64_t value, count;
    while (hist_next_bucket(h, &cursor, &value, &count)) {
        if (count <= 0 || value <= last)
            abort();
        last = value;
        total += count;
    }
    if (total != hist_total_count(h))
        abort();
    if (total && (hist_value_at_percentile(h, 100) != hist_max(h) ||
                  hist_value_at_percentile(h, 0) != hist_min(h)))
        abort();
    (void)hist_mean(h);
    (void)hist_stddev(h);

    buf_t again;
    buf_init(&again);
    hist_encode_compressed(h, &again);
    hist_t *back = hist_decode_compressed(again.data, again.len, NULL, 0);
    if (!back || hist_total_count(back) != total || hist_max(back) != hist_max(h))
        abort();
    hist_t *sum = hist_new_like(h);
    if (!sum || hist_add(sum, back) != 0 || hist_total_count(sum) != total)
        abort();
    hist_destroy(&sum);
    check_compact_like_full(back);
    buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    hist_t *h = hist_decode_compressed(data, size, err, sizeof err);
    if (h)
        check_consistent(h);
    hist_destroy(&h);

    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    char tag[64];
    double start_s, length_s;
    h = hist_log_parse_line(line, tag, sizeof tag, &start_s, &length_s, err, sizeof err);
    if (h)
        check_consistent(h);
    hist_destroy(&h);

    buf_t b;
    buf_init(&b);
    (void)base64_decode_into(&b, line, size);
    buf_free(&b);
    free(line);
    return 0;
}
