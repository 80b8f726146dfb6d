/*  hist_tool: surge's side of the HdrHistogram interop test (tests/js/hdr_interop.mjs).

      hist_tool write-log LOG.hlog EXPECTED.json [SEED]
          writes an interval log of known random histograms (several layouts, digits 1..5,
          an empty one, zeros, huge counts) and, beside it, what surge knows about each:
          layout, total, min, max, mean, every non-empty bucket and percentiles.
      hist_tool decode < BASE64_LINES
          decodes each line (a V2 compressed histogram in base64) and prints a JSON array
          with the same description per histogram, or {"error": reason} for a refused one.
      hist_tool parse-log LOG.hlog
          parses every line of a log written by another tool with hist_log_parse_line and
          prints the intervals as a JSON array ({"tag", "start_s", "length_s", ...}).
      hist_tool seeds DIR
          writes binary seeds for tests/fuzz/fuzz_hist_decode.

    Exit 0 on success, 1 when an input was refused, 2 on bad usage.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/histogram.h"
#include "common/rng.h"
#include "common/jsonw.h"

static const double percentiles[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};

/* ---- Deterministic samples --------------------------------------------------- */

static uint64_t rng_state;

static double rng_normal(void)
{
    double u = rng_unit(&rng_state), v = rng_unit(&rng_state);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

static int64_t sample_lognormal_us(double median_us, double sigma)
{
    return (int64_t)(median_us * exp(sigma * rng_normal()));
}

/* ---- JSON description of a histogram ---------------------------------------- */

static void describe(jsonw_t *w, const hist_t *h)
{
    jsonw_kv_int(w, "lowest", hist_lowest(h));
    jsonw_kv_int(w, "highest", hist_highest(h));
    jsonw_kv_int(w, "digits", hist_digits(h));
    jsonw_kv_int(w, "total", hist_total_count(h));
    jsonw_kv_int(w, "min", hist_min(h));
    jsonw_kv_int(w, "max", hist_max(h));
    jsonw_kv_double(w, "mean", hist_mean(h));
    jsonw_kv_double(w, "stddev", hist_stddev(h));
    jsonw_key(w, "buckets");
    jsonw_array_begin(w);
    size_t cursor = 0;
    int64_t value, count;
    while (hist_next_bucket(h, &cursor, &value, &count)) {
        jsonw_array_begin(w);
        jsonw_int(w, value);
        jsonw_int(w, count);
        jsonw_array_end(w);
    }
    jsonw_array_end(w);
    jsonw_key(w, "percentiles");
    jsonw_array_begin(w);
    for (size_t i = 0; i < sizeof percentiles / sizeof percentiles[0]; i++) {
        jsonw_array_begin(w);
        jsonw_double(w, percentiles[i]);
        jsonw_int(w, hist_value_at_percentile(h, percentiles[i]));
        jsonw_array_end(w);
    }
    jsonw_array_end(w);
}

static int write_file(const char *path, const buf_t *b)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "hist_tool: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static char *read_all(FILE *f, size_t *len_out)
{
    buf_t b;
    buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    *len_out = b.len;
    if (!b.data)
        buf_append(&b, "", 0);
    return buf_take(&b);
}

/* ---- write-log ----------------------------------------------------------------- */

typedef struct {
    const char *tag;
    int64_t lowest, highest;
    int digits;
    int kind; /* 0 lognormal TTFT-like, 1 bimodal, 2 heavy tail, 3 empty, 4 zeros, 5 huge */
    int samples;
} fixture_t;

static const fixture_t fixtures[] = {
    {"ttft", 1, 3600000000LL, 3, 0, 1000}, {"itl", 1, 3600000000LL, 3, 1, 20000},
    {"d1", 1, 3600000000LL, 1, 2, 5000},   {"d2", 1, 3600000000LL, 2, 2, 5000},
    {"d3", 1, 3600000000LL, 3, 2, 5000},   {"d4", 1, 3600000000LL, 4, 2, 5000},
    {"d5", 1, 3600000000LL, 5, 2, 5000},   {"coarse", 1000, 10000000000LL, 2, 0, 3000},
    {"empty", 1, 3600000000LL, 3, 3, 0},   {"zeros", 1, 3600000000LL, 3, 4, 500},
    {"huge", 1, 3600000000LL, 3, 5, 50},
};

static void fill(hist_t *h, const fixture_t *fx)
{
    for (int i = 0; i < fx->samples; i++) {
        int64_t v;
        switch (fx->kind) {
        case 0:
            v = sample_lognormal_us(450000, 0.6);
            break;
        case 1:
            v = rng_unit(&rng_state) < 0.8 ? sample_lognormal_us(20000, 0.3)
                                           : sample_lognormal_us(900000, 0.2);
            break;
        case 2: /* Pareto, alpha 1.2, from 1 ms: a long tail up to the hour */
            v = (int64_t)(1000.0 / pow(1.0 - rng_unit(&rng_state), 1.0 / 1.2));
            break;
        case 4:
            v = rng_unit(&rng_state) < 0.5 ? 0 : (int64_t)(rng_unit(&rng_state) * 5000);
            break;
        case 5:
            hist_record_n(h, sample_lognormal_us(1000, 1.0), (int64_t)1 << 40);
            continue;
        default:
            continue;
        }
        if (v > fx->highest)
            v = fx->highest;
        hist_record(h, v);
    }
}

static int cmd_write_log(const char *log_path, const char *json_path, uint64_t seed)
{
    rng_state = seed;
    const int64_t start_wall_ns = 1700000000123000000LL;
    buf_t log, json;
    buf_init(&log);
    buf_init(&json);
    hist_log_header(&log, start_wall_ns, "surge hist_tool interop fixture");
    jsonw_t w;
    jsonw_init(&w, &json);
    jsonw_object_begin(&w);
    jsonw_kv_double(&w, "start_time_s", (double)start_wall_ns / 1e9);
    jsonw_key(&w, "histograms");
    jsonw_array_begin(&w);
    double start_s = 0.0;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const fixture_t *fx = &fixtures[i];
        hist_t *h = hist_new(fx->lowest, fx->highest, fx->digits, NULL, 0);
        fill(h, fx);
        /* Lengths differ from the gaps between starts, so a reader that takes column 2
           for an end timestamp gets every interval wrong. */
        double length_s = 0.5 + 0.25 * (double)i;
        hist_log_interval(&log, fx->tag, start_s, length_s, h, 1000.0);
        jsonw_object_begin(&w);
        jsonw_kv_string(&w, "tag", fx->tag);
        jsonw_kv_double(&w, "start_s", start_s);
        jsonw_kv_double(&w, "length_s", length_s);
        describe(&w, h);
        jsonw_object_end(&w);
        start_s += 10.0;
        hist_destroy(&h);
    }
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    buf_append_char(&json, '\n');
    int rc = write_file(log_path, &log) || write_file(json_path, &json);
    buf_free(&log);
    buf_free(&json);
    return rc;
}

/* ---- decode / parse-log ---------------------------------------------------------- */

static int cmd_decode(void)
{
    size_t len;
    char *text = read_all(stdin, &len);
    buf_t out, bin;
    buf_init(&out);
    buf_init(&bin);
    jsonw_t w;
    jsonw_init(&w, &out);
    jsonw_array_begin(&w);
    int rc = 0;
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        jsonw_object_begin(&w);
        buf_clear(&bin);
        char err[256] = "not valid base64";
        hist_t *h = NULL;
        if (base64_decode_into(&bin, line, strlen(line)) == 0)
            h = hist_decode_compressed(bin.data, bin.len, err, sizeof err);
        if (h) {
            describe(&w, h);
            hist_destroy(&h);
        } else {
            jsonw_kv_string(&w, "error", err);
            rc = 1;
        }
        jsonw_object_end(&w);
    }
    jsonw_array_end(&w);
    puts(out.data ? out.data : "[]");
    buf_free(&out);
    buf_free(&bin);
    free(text);
    return rc;
}

static int cmd_parse_log(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hist_tool: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t len;
    char *text = read_all(f, &len);
    fclose(f);
    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    jsonw_array_begin(&w);
    int rc = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char tag[64], err[256];
        double start_s = 0, length_s = 0;
        hist_t *h =
            hist_log_parse_line(line, tag, sizeof tag, &start_s, &length_s, err, sizeof err);
        if (!h) {
            if (err[0]) {
                fprintf(stderr, "hist_tool: %s:%d: %s\n", path, line_no, err);
                rc = 1;
            }
            continue;
        }
        jsonw_object_begin(&w);
        jsonw_kv_string(&w, "tag", tag);
        jsonw_kv_double(&w, "start_s", start_s);
        jsonw_kv_double(&w, "length_s", length_s);
        describe(&w, h);
        jsonw_object_end(&w);
        hist_destroy(&h);
    }
    jsonw_array_end(&w);
    puts(out.data ? out.data : "[]");
    buf_free(&out);
    free(text);
    return rc;
}

/* ---- seeds ------------------------------------------------------------------------- */

static int cmd_seeds(const char *dir)
{
    rng_state = 7;
    int rc = 0;
    const size_t picks[] = {0, 2, 8, 9, 7};
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
        const fixture_t *fx = &fixtures[picks[i]];
        hist_t *h = hist_new(fx->lowest, fx->highest, fx->digits, NULL, 0);
        fixture_t small = *fx;
        if (small.samples > 200)
            small.samples = 200; /* small seeds mutate faster */
        fill(h, &small);
        buf_t b;
        buf_init(&b);
        hist_encode_compressed(h, &b);
        char path[4096];
        snprintf(path, sizeof path, "%s/v2_%s.bin", dir, fx->tag);
        rc |= write_file(path, &b);
        buf_clear(&b);
        hist_log_interval(&b, fx->tag, 1.0, 1.0, h, 1000.0);
        snprintf(path, sizeof path, "%s/line_%s.txt", dir, fx->tag);
        rc |= write_file(path, &b);
        buf_free(&b);
        hist_destroy(&h);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "write-log") == 0)
        return cmd_write_log(argv[2], argv[3], argc > 4 ? strtoull(argv[4], NULL, 10) : 42);
    if (argc == 2 && strcmp(argv[1], "decode") == 0)
        return cmd_decode();
    if (argc == 3 && strcmp(argv[1], "parse-log") == 0)
        return cmd_parse_log(argv[2]);
    if (argc == 3 && strcmp(argv[1], "seeds") == 0)
        return cmd_seeds(argv[2]);
    fputs("usage: hist_tool write-log LOG JSON [SEED] | decode < BASE64_LINES | parse-log LOG | "
          "seeds DIR\n",
          stderr);
    return 2;
}
