/*  Proves the HdrHistogram V2 encoding, the base64 and the interval-log lines: round
    trips keep every count, what hdr-histogram-js writes decodes to what it recorded,
    and the decoder (fed network input) refuses every malformed input with a reason. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "common/histogram.h"
#include "common/rng.h"

static uint64_t rng_state = 99;

static bool same_histogram(const hist_t *a, const hist_t *b)
{
    if (!hist_same_layout(a, b) || hist_total_count(a) != hist_total_count(b) ||
        hist_min(a) != hist_min(b) || hist_max(a) != hist_max(b))
        return false;
    size_t ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    for (;;) {
        bool more_a = hist_next_bucket(a, &ca, &va, &na);
        bool more_b = hist_next_bucket(b, &cb, &vb, &nb);
        if (more_a != more_b)
            return false;
        if (!more_a)
            return true;
        if (va != vb || na != nb)
            return false;
    }
}

static hist_t *round_trip(const hist_t *h, size_t *encoded_len)
{
    buf_t b;
    buf_init(&b);
    hist_encode_compressed(h, &b);
    if (encoded_len)
        *encoded_len = b.len;
    char err[200];
    hist_t *back = hist_decode_compressed(b.data, b.len, err, sizeof err);
    if (!back)
        fprintf(stderr, "    decode: %s\n", err);
    buf_free(&b);
    return back;
}

/* ---- Round trips --------------------------------------------------------------------- */

static void test_encode_decode_round_trip_keeps_every_count(void)
{
    struct {
        int64_t lowest, highest;
        int digits;
    } layouts[] = {
        {1, 3600000000LL, 1}, {1, 3600000000LL, 2},     {1, 3600000000LL, 3},
        {1, 3600000000LL, 4}, {1, 3600000000LL, 5},     {1000, 10000000000LL, 2},
        {3, 1000000, 3},      {1, HIST_MAX_HIGHEST, 3},
    };
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        hist_t *h = hist_new(layouts[l].lowest, layouts[l].highest, layouts[l].digits, NULL, 0);
        REQUIRE(h);
        for (int shape = 0; shape < 5; shape++) {
            hist_reset(h);
            int64_t top = hist_highest(h);
            switch (shape) {
            case 0: /* empty */
                break;
            case 1: /* only zeros */
                hist_record_n(h, 0, 12345);
                break;
            case 2: /* the range's edges, and single isolated zeros between counts */
                hist_record(h, 0);
                hist_record(h, 2 * layouts[l].lowest);
                hist_record(h, top);
                hist_record(h, top / 2);
                break;
            case 3: /* dense: many adjacent buckets */
                for (int i = 0; i < 20000; i++)
                    hist_record(h, (int64_t)(rng_unit(&rng_state) * 5000.0) + layouts[l].lowest);
                break;
            default: /* wide, with huge counts (9-byte words) */
                for (int i = 0; i < 2000; i++) {
                    int64_t v = (int64_t)(exp(rng_unit(&rng_state) * 21.0));
                    hist_record_n(
                        h, v > top ? top : v,
                        (int64_t)(rng_next(&rng_state) >> (rng_next(&rng_state) % 56 + 8)));
                }
                hist_record_n(h, 1000, INT64_MAX - hist_total_count(h) - 1); /* near the cap */
                break;
            }
            hist_t *back = round_trip(h, NULL);
            CHECK_MSG(back && same_histogram(h, back), "layout %zu shape %d: decode differs", l,
                      shape);
            if (back)
                CHECK_INT_EQ(hist_value_at_percentile(back, 99.9),
                             hist_value_at_percentile(h, 99.9));
            hist_destroy(&back);
        }
        hist_destroy(&h);
    }
}

static void test_encoding_has_hdrhistogram_v2_framing(void)
{
    hist_t *h = hist_new_default();
    REQUIRE(h);
    hist_record(h, 1000);
    buf_t b;
    buf_init(&b);
    hist_encode_compressed(h, &b);
    const uint8_t *p = (const uint8_t *)b.data;
    REQUIRE(b.len > 8);
    CHECK_INT_EQ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3], 0x1c849314);
    CHECK_INT_EQ((uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7], b.len - 8);
    uint8_t inner[256];
    uLongf inner_len = sizeof inner;
    REQUIRE(uncompress(inner, &inner_len, p + 8, (uLong)(b.len - 8)) == Z_OK);
    REQUIRE(inner_len >= 40);
    const uint8_t header[40] = {
        0x1c, 0x84, 0x93, 0x13, 0,    0,    0,    (uint8_t)(inner_len - 40),
        0,    0,    0,    0,    0,    0,    0,    3,    /* offset 0, 3 digits */
        0,    0,    0,    0,    0,    0,    0,    1,    /* lowest */
        0,    0,    0,    0,    0xd6, 0x93, 0xa4, 0x00, /* 3.6e9 */
        0x3f, 0xf0, 0,    0,    0,    0,    0,    0};   /* ratio 1.0 */
    CHECK(memcmp(inner, header, 40) == 0);
    /* Payload: counts[0..index(1000)] = 1000 zeros (a run: -1000), then a count of 1. */
    CHECK_INT_EQ(inner_len, 40 + 2 + 1);
    CHECK(inner[40] == 0xcf && inner[41] == 0x0f && inner[42] == 0x02); /* zigzag 1999, 2 */
    /* The base64 text of a V2 compressed histogram starts with "HISTF". */
    buf_t text;
    buf_init(&text);
    base64_encode_into(&text, b.data, b.len);
    CHECK(strncmp(text.data, "HISTF", 5) == 0);
    buf_free(&text);
    buf_free(&b);
    hist_destroy(&h);
}

/* Written by hdr-histogram-js 3.0.1 (node tests/js): 64-bit histogram 1..3.6e9 at 3 digits
   with 1, 2, 3, 1000, 2047, 2048, 123456 x2, 450000 and 3000000 x5; its header carries
   normalizing_index_offset 1 and ratio bits 1. */
static const char js_written[] =
    "HISTFAAAADd4nJNpmSzMwMAgwsDAwMjAwMDMAAEgNsO1yUsY4HwmJqbj/EyrBZiY+uNYlsoybdbmAgC2EQeo";
/* The JS default (32-bit, auto-resized from highest 2 to 1048575): 0, 5, 77 x2, 900000. */
static const char js_written_default[] =
    "HISTFAAAACx4nJNpmSzMwMDAxcDAwMjAwMDMAAGMYJL//38Yn4mdqZeRZe4qRiYAcUEFSw==";

static hist_t *decode_text(const char *text, char *err, size_t err_size)
{
    buf_t b;
    buf_init(&b);
    hist_t *h = NULL;
    if (base64_decode_into(&b, text, strlen(text)) == 0)
        h = hist_decode_compressed(b.data, b.len, err, err_size);
    buf_free(&b);
    return h;
}

static void test_decodes_what_hdr_histogram_js_wrote_despite_its_normalizing_offset(void)
{
    char err[200] = "";
    hist_t *got = decode_text(js_written, err, sizeof err);
    CHECK_MSG(got != NULL, "%s", err);
    hist_t *want = hist_new_default();
    REQUIRE(got && want);
    const int64_t values[] = {1, 2, 3, 1000, 2047, 2048, 123456, 123456, 450000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        hist_record(want, values[i]);
    hist_record_n(want, 3000000, 5);
    /* Applying the offset (as HdrHistogram_c does) would shift every count by one. */
    CHECK(same_histogram(got, want));
    /* 14 values: the 7th is 123456, reported as its bucket's highest value. */
    CHECK_INT_EQ(hist_value_at_percentile(got, 50), hist_highest_equivalent(got, 123456));
    CHECK_INT_EQ(hist_value_at_percentile(got, 100), hist_highest_equivalent(got, 3000000));
    hist_destroy(&got);
    hist_destroy(&want);

    got = decode_text(js_written_default, err, sizeof err);
    CHECK_MSG(got != NULL, "%s", err);
    REQUIRE(got);
    CHECK_INT_EQ(hist_lowest(got), 1);
    CHECK_INT_EQ(hist_highest(got), 1048575);
    CHECK_INT_EQ(hist_total_count(got), 5);
    CHECK_INT_EQ(hist_min(got), 0);
    CHECK_INT_EQ(hist_value_at_percentile(got, 60), 77);
    CHECK_INT_EQ(hist_max(got), hist_highest_equivalent(got, 900000));
    hist_destroy(&got);
}

static void test_decoder_accepts_uncompressed_v2(void)
{
    hist_t *h = hist_new(1, 1000000, 2, NULL, 0);
    REQUIRE(h);
    for (int i = 0; i < 300; i++)
        hist_record(h, (int64_t)(rng_unit(&rng_state) * 1000000));
    buf_t b;
    buf_init(&b);
    hist_encode_compressed(h, &b);
    uint8_t inner[8192];
    uLongf inner_len = sizeof inner;
    REQUIRE(uncompress(inner, &inner_len, (const uint8_t *)b.data + 8, (uLong)(b.len - 8)) == Z_OK);
    char err[200];
    hist_t *back = hist_decode_compressed(inner, inner_len, err, sizeof err);
    CHECK_MSG(back && same_histogram(h, back), "%s", back ? "differs" : err);
    hist_destroy(&back);
    buf_free(&b);
    hist_destroy(&h);
}

/* ---- Strict decoding ------------------------------------------------------------------------ */

/* Builds a compressed V2 blob from a hand-made header and payload. */
static void forge(buf_t *out, uint32_t cookie, int32_t payload_len, int32_t digits, int64_t lowest,
                  int64_t highest, const uint8_t *payload, size_t payload_bytes)
{
    uint8_t raw[4096];
    uint8_t *p = raw;
    uint32_t w[4] = {cookie, (uint32_t)payload_len, 0, (uint32_t)digits};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            *p++ = (uint8_t)(w[i] >> (24 - 8 * k));
    uint64_t q[3] = {(uint64_t)lowest, (uint64_t)highest, 0x3FF0000000000000ULL};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            *p++ = (uint8_t)(q[i] >> (56 - 8 * k));
    memcpy(p, payload, payload_bytes);
    size_t raw_len = 40 + payload_bytes;
    uLongf z_len = compressBound((uLong)raw_len);
    uint8_t *at = (uint8_t *)buf_reserve(out, 8 + z_len);
    compress(at + 8, &z_len, raw, (uLong)raw_len);
    uint32_t head[2] = {0x1c849314, (uint32_t)z_len};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            at[i * 4 + k] = (uint8_t)(head[i] >> (24 - 8 * k));
    out->len += 8 + z_len;
}

static void expect_refused(const void *data, size_t len, const char *what, const char *reason_has)
{
    char err[200] = "";
    hist_t *h = hist_decode_compressed(data, len, err, sizeof err);
    CHECK_MSG(h == NULL, "%s: accepted", what);
    CHECK_MSG(err[0] != '\0', "%s: refused without a reason", what);
    if (reason_has)
        CHECK_MSG(strstr(err, reason_has) != NULL, "%s: reason \"%s\" lacks \"%s\"", what, err,
                  reason_has);
    hist_destroy(&h);
}

static void test_strict_decoder_rejects_truncated_garbled_and_oversized_input_with_a_reason(void)
{
    hist_t *h = hist_new_default();
    REQUIRE(h);
    for (int i = 0; i < 1000; i++)
        hist_record(h, (int64_t)(exp(rng_unit(&rng_state) * 16)));
    buf_t good;
    buf_init(&good);
    hist_encode_compressed(h, &good);

    /* Every truncation, and trailing bytes. */
    for (size_t len = 0; len < good.len; len++)
        expect_refused(good.data, len, "truncated", NULL);
    buf_t longer;
    buf_init(&longer);
    buf_append(&longer, good.data, good.len);
    buf_append(&longer, "\0", 1);
    expect_refused(longer.data, longer.len, "trailing byte", "does not match");

    /* Every single-bit flip either is refused with a reason or decodes to a valid
       histogram (a flip in a count can be a valid count): never a crash. */
    for (size_t i = 0; i < good.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            good.data[i] ^= (char)(1 << bit);
            char err[200] = "";
            hist_t *x = hist_decode_compressed(good.data, good.len, err, sizeof err);
            CHECK(x != NULL || err[0] != '\0');
            hist_destroy(&x);
            good.data[i] ^= (char)(1 << bit);
        }
    }
    expect_refused("\x1c\x84\x93\x15\0\0\0\0", 8, "bad cookie", "cookie");
    expect_refused(NULL, 0, "null", NULL);

    buf_t b;
    buf_init(&b);
    const uint8_t one[] = {0x02}; /* a count of 1 */
    /* Layouts the decoder refuses. */
    forge(&b, 0x1c849313, 1, 3, 0, 1000, one, 1);
    expect_refused(b.data, b.len, "lowest 0", "layout");
    buf_clear(&b);
    forge(&b, 0x1c849313, 1, 0, 1, 1000, one, 1);
    expect_refused(b.data, b.len, "digits 0", "digits");
    buf_clear(&b);
    forge(&b, 0x1c849313, 1, 5, 1, INT64_MAX / 4, one, 1);
    expect_refused(b.data, b.len, "layout above the counter cap", "cap");
    buf_clear(&b);
    forge(&b, 0x1c849313, 1, 3, 1, -7, one, 1);
    expect_refused(b.data, b.len, "negative highest", "layout");
    buf_clear(&b);
    /* Lengths that disagree. */
    forge(&b, 0x1c849313, -1, 3, 1, 1000, one, 1);
    expect_refused(b.data, b.len, "negative payload_len", "payload length");
    buf_clear(&b);
    forge(&b, 0x1c849313, 2, 3, 1, 1000, one, 1);
    expect_refused(b.data, b.len, "payload shorter than stated", NULL);
    buf_clear(&b);
    const uint8_t two[] = {0x02, 0x02};
    forge(&b, 0x1c849313, 1, 3, 1, 1000, two, 2);
    expect_refused(b.data, b.len, "inflated longer than stated", "longer");
    buf_clear(&b);
    forge(&b, 0x1c849313, 100000000, 3, 1, 1000, one, 1);
    expect_refused(b.data, b.len, "payload_len above the cap", "payload length");
    buf_clear(&b);
    forge(&b, 0x1c849312, 1, 3, 1, 1000, one, 1);
    expect_refused(b.data, b.len, "inner V1 cookie", "cookie");
    buf_clear(&b);
    /* Counts past the layout: 1..1000 at 3 digits has 2048 counters. */
    const uint8_t run_past[] = {0xff, 0x1f, 0x02}; /* zeros x2048, then a count */
    forge(&b, 0x1c849313, 3, 3, 1, 1000, run_past, 3);
    expect_refused(b.data, b.len, "count past the layout", "past the layout");
    buf_clear(&b);
    const uint8_t run_too_long[] = {0x81, 0x20}; /* zeros x2049 */
    forge(&b, 0x1c849313, 2, 3, 1, 1000, run_too_long, 2);
    expect_refused(b.data, b.len, "zero run past the layout", "passes the layout");
    buf_clear(&b);
    const uint8_t most_negative[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    forge(&b, 0x1c849313, 9, 3, 1, 1000, most_negative, 9);
    expect_refused(b.data, b.len, "INT64_MIN zero run", "passes the layout");
    buf_clear(&b);
    /* Two counts of 2^62 overflow the total. */
    const uint8_t overflow[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    forge(&b, 0x1c849313, 18, 3, 1, 1000, overflow, 18);
    expect_refused(b.data, b.len, "total overflow", "overflow");
    buf_clear(&b);
    const uint8_t cut_word[] = {0x02, 0x80};
    forge(&b, 0x1c849313, 2, 3, 1, 1000, cut_word, 2);
    expect_refused(b.data, b.len, "truncated varint", "truncated");
    buf_clear(&b);
    /* A valid forged blob, to show the forger itself is right. */
    forge(&b, 0x1c849313, 1, 3, 1, 1000, one, 1);
    char err[200];
    hist_t *ok = hist_decode_compressed(b.data, b.len, err, sizeof err);
    CHECK_MSG(ok && hist_total_count(ok) == 1 && hist_min(ok) == 0, "forged valid: %s", err);
    hist_destroy(&ok);
    /* Over the byte cap, whatever it holds. */
    char *big = calloc(1, (size_t)HIST_DECODE_MAX_BYTES + 1);
    REQUIRE(big);
    memcpy(big, good.data, 8);
    expect_refused(big, (size_t)HIST_DECODE_MAX_BYTES + 1, "above the byte cap", "cap");
    free(big);

    buf_free(&b);
    buf_free(&good);
    buf_free(&longer);
    hist_destroy(&h);
}

/* ---- Base64 ------------------------------------------------------------------------------ */

static void test_base64_matches_rfc4648_and_refuses_invalid_text(void)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        buf_t e, d;
        buf_init(&e);
        buf_init(&d);
        base64_encode_into(&e, plain[i], strlen(plain[i]));
        CHECK_STR_EQ(e.data ? e.data : "", coded[i]);
        CHECK_INT_EQ(base64_decode_into(&d, coded[i], strlen(coded[i])), 0);
        CHECK_INT_EQ(d.len, strlen(plain[i]));
        CHECK(d.len == 0 || memcmp(d.data, plain[i], d.len) == 0);
        buf_free(&e);
        buf_free(&d);
    }
    /* Every byte value survives. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 250; n <= 256; n++) {
        buf_t e, d;
        buf_init(&e);
        buf_init(&d);
        base64_encode_into(&e, all, n);
        CHECK_INT_EQ(base64_decode_into(&d, e.data, e.len), 0);
        CHECK(d.len == n && memcmp(d.data, all, n) == 0);
        buf_free(&e);
        buf_free(&d);
    }
    const char *bad[] = {
        "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm9", "Zm=v", "Zm9v\n", "Zg-_"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_t d;
        buf_init(&d);
        buf_append_str(&d, "keep");
        CHECK_MSG(base64_decode_into(&d, bad[i], strlen(bad[i])) == -1, "accepted \"%s\"", bad[i]);
        CHECK_STR_EQ(d.data, "keep"); /* a refused text appends nothing */
        buf_free(&d);
    }
}

/* ---- Interval log ------------------------------------------------------------------------- */

static void test_interval_log_write_then_parse_round_trips_every_interval(void)
{
    buf_t log;
    buf_init(&log);
    hist_log_header(&log, 1700000000123000000LL, "surge test, with ] and\nnewline");
    hist_t *written[4];
    const char *tags[4] = {"ttft", "", "e2e", "has,comma and space"};
    for (int i = 0; i < 4; i++) {
        written[i] = hist_new(1, 3600000000LL, 2 + i % 3, NULL, 0);
        REQUIRE(written[i]);
        for (int k = 0; k < 200 * i; k++)
            hist_record(written[i], (int64_t)(exp(rng_unit(&rng_state) * 18)));
        hist_log_interval(&log, tags[i], 5.0 * i, 1.25 + i, written[i], 1000.0);
    }
    /* The header is what HdrHistogram readers look for. */
    CHECK(strstr(log.data, "#[Histogram log format version 1.3]\n") != NULL);
    CHECK(strstr(log.data, "#[StartTime: 1700000000.123 (seconds since epoch), "
                           "2023-11-14T22:13:20Z]\n") != NULL);
    CHECK(strstr(log.data, "#[BaseTime: 1700000000.123 (seconds since epoch)]\n") != NULL);
    CHECK(strstr(log.data, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                           "\"Interval_Compressed_Histogram\"\n") != NULL);
    CHECK(strstr(log.data, "Tag=has_comma_and_space,15.000,4.250,") != NULL);

    int intervals = 0, skipped = 0;
    char *save = NULL;
    for (char *line = strtok_r(log.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char tag[64], err[200];
        double start_s = -1, length_s = -1;
        hist_t *h =
            hist_log_parse_line(line, tag, sizeof tag, &start_s, &length_s, err, sizeof err);
        if (!h) {
            CHECK_MSG(err[0] == '\0', "header line refused: %s (%s)", err, line);
            CHECK(line[0] == '#' || line[0] == '"');
            skipped++;
            continue;
        }
        REQUIRE(intervals < 4);
        int i = intervals++;
        CHECK_STR_EQ(tag, i == 3 ? "has_comma_and_space" : tags[i]);
        CHECK(start_s == 5.0 * i);
        CHECK(length_s == 1.25 + i); /* column 2 is the interval's length */
        CHECK(same_histogram(h, written[i]));
        hist_destroy(&h);
    }
    CHECK_INT_EQ(intervals, 4);
    CHECK_INT_EQ(skipped, 5);
    for (int i = 0; i < 4; i++)
        hist_destroy(&written[i]);
    buf_free(&log);
}

static void test_log_parser_rejects_malformed_lines_with_a_reason(void)
{
    hist_t *h = hist_new_default();
    REQUIRE(h);
    hist_record(h, 4200);
    buf_t good;
    buf_init(&good);
    hist_log_interval(&good, NULL, 1.0, 1.0, h, 1000.0);
    good.data[--good.len] = '\0'; /* the newline */
    const char *b64 = strrchr(good.data, ',') + 1;
    char lines[16][512];
    int n = 0;
    snprintf(lines[n++], 512, "1.000,1.000,4.200");
    snprintf(lines[n++], 512, "1.000,1.000,%s", b64);
    snprintf(lines[n++], 512, "x,1.000,4.200,%s", b64);
    snprintf(lines[n++], 512, "1.000,-1.000,4.200,%s", b64);
    snprintf(lines[n++], 512, "1.000,nan,4.200,%s", b64);
    snprintf(lines[n++], 512, "1.000,1.000,4.200,%s,extra", b64);
    snprintf(lines[n++], 512, "1.000,1.000,4.200,HISTF!!!");
    snprintf(lines[n++], 512, "1.000,1.000,4.200,Zm9vYmFy");
    snprintf(lines[n++], 512, "Tag=a-very-long-tag-that-will-not-fit,1.0,1.0,4.2,%s", b64);
    snprintf(lines[n++], 512, "Tag=no-comma");
    snprintf(lines[n++], 512, ",1.0,1.0,%s", b64);
    for (int i = 0; i < n; i++) {
        char tag[16], err[200] = "";
        double s, l;
        hist_t *x = hist_log_parse_line(lines[i], tag, sizeof tag, &s, &l, err, sizeof err);
        CHECK_MSG(x == NULL, "accepted: %s", lines[i]);
        CHECK_MSG(err[0] != '\0', "refused without a reason: %s", lines[i]);
        hist_destroy(&x);
    }
    /* CRLF endings, as Windows tools write them, are fine. */
    char crlf[512];
    snprintf(crlf, sizeof crlf, "Tag=t,1.000,2.000,4.200,%s\r\n", b64);
    char tag[16], err[200];
    double s, l;
    hist_t *x = hist_log_parse_line(crlf, tag, sizeof tag, &s, &l, err, sizeof err);
    CHECK_MSG(x != NULL, "%s", err);
    CHECK(x && hist_total_count(x) == 1 && l == 2.0);
    hist_destroy(&x);
    buf_free(&good);
    hist_destroy(&h);
}

CHECK_MAIN(test_encode_decode_round_trip_keeps_every_count,
           test_encoding_has_hdrhistogram_v2_framing,
           test_decodes_what_hdr_histogram_js_wrote_despite_its_normalizing_offset,
           test_decoder_accepts_uncompressed_v2,
           test_strict_decoder_rejects_truncated_garbled_and_oversized_input_with_a_reason,
           test_base64_matches_rfc4648_and_refuses_invalid_text,
           test_interval_log_write_then_parse_round_trips_every_interval,
           test_log_parser_rejects_malformed_lines_with_a_reason)
