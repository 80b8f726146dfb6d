/*  Proves that a compact histogram (what decoding returns: only the span of counters
    from its smallest value to its largest, bench/bench_coordinator's saving) is
    indistinguishable from a full one: it answers every query the same, adding it equals
    adding the histogram that was encoded, and writing outside its span (record, add,
    reset, doubling) gives the same counts as the same writes on a full histogram. And
    that the one-walk decoder (one-byte fast path, span on the stack, spilled into a full
    histogram when wider) accepts and refuses exactly what a plain reference decoder written here
    does, on thousands of mutated payloads. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "common/histogram.h"
#include "common/rng.h"

static uint64_t rng_state = 2024;

/* ---- Helpers ------------------------------------------------------------------------ */

static const struct {
    int64_t lowest, highest;
    int digits;
} layouts[] = {
    {1, 3600000000LL, 3}, {1, 3600000000LL, 2},     {1, 3600000000LL, 1},
    {1, 100000000LL, 4},  {1000, 10000000000LL, 2}, {3, 1000000, 3},
};
#define LAYOUT_COUNT ((int)(sizeof layouts / sizeof layouts[0]))

static int64_t random_below(int64_t n)
{
    return (int64_t)(rng_unit(&rng_state) * (double)n) % n;
}

/* Values of one of several shapes: a narrow cluster (a 1 s snapshot's ITLs), a sparse
   spread, the layout's two ends (a span wider than the decoder's stack), or nothing. */
static hist_t *random_histogram(int layout, int shape)
{
    hist_t *h =
        hist_new(layouts[layout].lowest, layouts[layout].highest, layouts[layout].digits, NULL, 0);
    if (!h)
        return NULL;
    int64_t highest = layouts[layout].highest;
    int n = 1 + (int)random_below(1000);
    for (int i = 0; i < n && shape != 3; i++) {
        int64_t v;
        if (shape == 0)
            v = 20000 + random_below(20000);
        else if (shape == 1)
            v = (int64_t)((double)highest * rng_unit(&rng_state) * rng_unit(&rng_state));
        else
            v = i % 2 ? random_below(50) : highest - random_below(50);
        hist_record_n(h, v % (highest + 1), 1 + random_below(3) * random_below(1000));
    }
    return h;
}

static hist_t *round_trip(const hist_t *h)
{
    buf_t b;
    buf_init(&b);
    hist_encode_compressed(h, &b);
    char err[200];
    hist_t *back = hist_decode_compressed(b.data, b.len, err, sizeof err);
    if (!back)
        fprintf(stderr, "    decode: %s\n", err);
    buf_free(&b);
    return back;
}

/* Same layout, same counts bucket by bucket, same summary; and the same bytes encoded. */
static bool identical(const hist_t *a, const hist_t *b)
{
    if (!hist_same_layout(a, b) || hist_total_count(a) != hist_total_count(b) ||
        hist_out_of_range(a) != hist_out_of_range(b) || hist_min(a) != hist_min(b) ||
        hist_max(a) != hist_max(b) || hist_mean(a) != hist_mean(b) ||
        hist_stddev(a) != hist_stddev(b))
        return false;
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        if (hist_value_at_percentile(a, ps[i]) != hist_value_at_percentile(b, ps[i]))
            return false;
    }
    size_t ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    for (;;) {
        bool more_a = hist_next_bucket(a, &ca, &va, &na);
        bool more_b = hist_next_bucket(b, &cb, &vb, &nb);
        if (more_a != more_b)
            return false;
        if (!more_a)
            break;
        if (va != vb || na != nb)
            return false;
    }
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

/* ---- Compact histograms behave like full ones --------------------------------------- */

static void test_decoded_histogram_answers_every_query_like_the_one_encoded(void)
{
    for (int round = 0; round < 60; round++) {
        int layout = round % LAYOUT_COUNT, shape = (round / LAYOUT_COUNT) % 4;
        hist_t *h = random_histogram(layout, shape);
        REQUIRE(h);
        hist_t *back = round_trip(h);
        REQUIRE(back);
        CHECK_MSG(identical(h, back), "layout %d shape %d: decoded differs", layout, shape);
        /* Compact: a narrow snapshot does not carry the layout's whole array. */
        if (shape == 0 && layout == 0)
            CHECK_MSG(hist_memory_bytes(back) < hist_memory_bytes(h) / 4,
                      "decoded holds %zu bytes, full %zu", hist_memory_bytes(back),
                      hist_memory_bytes(h));
        hist_destroy(&back);
        hist_destroy(&h);
    }
}

static void test_adding_decoded_histograms_equals_adding_the_ones_encoded(void)
{
    for (int round = 0; round < 60; round++) {
        int layout = round % LAYOUT_COUNT;
        hist_t *base = random_histogram(layout, (round + 1) % 4);
        hist_t *a = random_histogram(layout, round % 4);
        hist_t *b = random_histogram(layout, (round / 2) % 4);
        REQUIRE(base && a && b);
        hist_t *da = round_trip(a), *db = round_trip(b);
        REQUIRE(da && db);

        /* Into a full accumulator, as the coordinator merges snapshots. */
        hist_t *want = hist_new_like(base), *got = hist_new_like(base);
        REQUIRE(want && got);
        hist_add(want, base);
        hist_add(want, a);
        hist_add(want, b);
        hist_add(got, base);
        CHECK_INT_EQ(hist_add(got, da), 0);
        CHECK_INT_EQ(hist_add(got, db), 0);
        CHECK_MSG(identical(want, got), "round %d: full + decoded differs", round);

        /* Into a decoded one: its span grows to every counter when b lies outside it. */
        hist_t *want2 = hist_new_like(a);
        REQUIRE(want2);
        hist_add(want2, a);
        hist_add(want2, b);
        CHECK_INT_EQ(hist_add(da, db), 0);
        CHECK_MSG(identical(want2, da), "round %d: decoded + decoded differs", round);

        /* Doubling itself. */
        hist_add(want2, want2);
        hist_add(da, da);
        CHECK_MSG(identical(want2, da), "round %d: doubling differs", round);
        hist_add(db, db);
        hist_add(b, b);
        CHECK_MSG(identical(b, db), "round %d: doubling a compact one differs", round);

        hist_destroy(&want);
        hist_destroy(&got);
        hist_destroy(&want2);
        hist_destroy(&da);
        hist_destroy(&db);
        hist_destroy(&a);
        hist_destroy(&b);
        hist_destroy(&base);
    }
}

static void test_adding_past_either_end_of_a_decoded_span_keeps_every_count(void)
{
    /* other's first counter inside the span and its last beyond it, then the reverse. */
    int64_t span[2] = {20000, 30000};
    int64_t others[2][2] = {{25000, 900000}, {5, 29000}};
    for (int k = 0; k < 2; k++) {
        hist_t *a = hist_new_default(), *b = hist_new_default();
        REQUIRE(a && b);
        hist_record(a, span[0]);
        hist_record(a, span[1]);
        hist_record(b, others[k][0]);
        hist_record(b, others[k][1]);
        hist_t *da = round_trip(a);
        REQUIRE(da);
        hist_add(a, b);
        CHECK_INT_EQ(hist_add(da, b), 0);
        CHECK_MSG(identical(a, da), "case %d: adding past the span differs", k);
        hist_destroy(&da);
        hist_destroy(&a);
        hist_destroy(&b);
    }
}

static void test_writing_outside_a_decoded_span_keeps_every_count(void)
{
    for (int round = 0; round < 40; round++) {
        int layout = round % LAYOUT_COUNT;
        hist_t *full = random_histogram(layout, (round / 2) % 2); /* narrow or spread */
        REQUIRE(full);
        hist_t *compact = round_trip(full);
        REQUIRE(compact);
        int64_t highest = hist_highest(full);
        /* Inside, above, below the span, then out of range: same answers, same counts.
           hist_record on odd rounds, hist_record_n on even ones, so that each meets the
           span's edge first. */
        int64_t values[] = {hist_min(full), highest, 0, highest / 3, -1, highest + 1};
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            if (round % 2)
                CHECK(hist_record(full, values[i]) == hist_record(compact, values[i]));
            else
                CHECK(hist_record_n(full, values[i], 7) == hist_record_n(compact, values[i], 7));
        }
        CHECK_MSG(identical(full, compact), "round %d: records outside the span differ", round);
        hist_reset(full);
        hist_reset(compact);
        hist_t *fresh = hist_new_like(full);
        REQUIRE(fresh);
        CHECK(identical(full, compact));
        hist_record(full, highest);
        hist_record(compact, highest);
        hist_record(fresh, highest);
        CHECK_MSG(identical(fresh, compact) && identical(fresh, full),
                  "round %d: record after reset differs", round);
        hist_destroy(&fresh);
        hist_destroy(&compact);
        hist_destroy(&full);
    }
}

static void test_a_compact_empty_histogram_fills_like_a_new_one(void)
{
    for (int layout = 0; layout < LAYOUT_COUNT; layout++) {
        hist_t *full = hist_new(layouts[layout].lowest, layouts[layout].highest,
                                layouts[layout].digits, NULL, 0);
        hist_t *compact = hist_new_compact(layouts[layout].lowest, layouts[layout].highest,
                                           layouts[layout].digits, NULL, 0);
        REQUIRE(full && compact);
        CHECK(hist_memory_bytes(compact) < 1024);
        CHECK_INT_EQ(hist_counts_len(compact), hist_counts_len(full));
        CHECK(identical(full, compact));
        hist_t *other = random_histogram(layout, 1);
        REQUIRE(other);
        CHECK_INT_EQ(hist_add(compact, other), 0);
        hist_add(full, other);
        CHECK(identical(full, compact));
        hist_destroy(&other);
        hist_destroy(&compact);
        hist_destroy(&full);
    }
    char err[200] = "";
    hist_t *bad = hist_new_compact(0, 100, 3, err, sizeof err);
    CHECK(bad == NULL);
    CHECK(strstr(err, "lowest") != NULL);
}

/* ---- The decoder against a plain reference ------------------------------------------- */

typedef struct {
    bool ok;
    int64_t total;
    int nonzero;
    int64_t index[1 << 15]; /* enough: mutated payloads are at most a few thousand words */
    int64_t count[1 << 15];
} reference_t;

static uint64_t be(const uint8_t *at, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | at[i];
    return v;
}

/* Uncompressed V2 decoded the obvious way, with the rules histogram.h states. */
static void reference_decode(const uint8_t *data, size_t len, reference_t *out)
{
    out->ok = false;
    out->total = 0;
    out->nonzero = 0;
    if (len < 40 || (be(data, 4) & ~0xf0u) != 0x1c849303u)
        return;
    int32_t payload_len = (int32_t)be(data + 4, 4);
    int32_t digits = (int32_t)be(data + 12, 4);
    int64_t lowest = (int64_t)be(data + 16, 8), highest = (int64_t)be(data + 24, 8);
    hist_t *layout = hist_new(lowest, highest, digits, NULL, 0);
    if (!layout)
        return;
    int64_t counts_len = (int64_t)hist_counts_len(layout);
    hist_destroy(&layout);
    if (counts_len > HIST_DECODE_MAX_COUNTS || payload_len < 0 || (size_t)payload_len != len - 40 ||
        payload_len > counts_len * 9)
        return;
    const uint8_t *at = data + 40, *end = data + len;
    int64_t index = 0;
    while (at < end) {
        uint64_t u = 0;
        int n = 0;
        for (;; n++) {
            if (at + n >= end)
                return; /* truncated word */
            if (n == 8) {
                u |= (uint64_t)at[n] << 56;
                break;
            }
            u |= (uint64_t)(at[n] & 0x7f) << (7 * n);
            if (!(at[n] & 0x80))
                break;
        }
        at += n + 1;
        if (u & 1) {
            uint64_t zeros = (u >> 1) + 1;
            if (zeros > (uint64_t)(counts_len - index))
                return;
            index += (int64_t)zeros;
            continue;
        }
        int64_t count = (int64_t)(u >> 1);
        if (index >= counts_len || __builtin_add_overflow(out->total, count, &out->total))
            return;
        if (count) {
            if (out->nonzero == (int)(sizeof out->index / sizeof out->index[0]))
                return; /* not reached with the inputs below */
            out->index[out->nonzero] = index;
            out->count[out->nonzero++] = count;
        }
        index++;
    }
    out->ok = true;
}

/* Uncompressed V2 of 1 us .. 1 h at 3 digits (23,552 counters) with the given payload. */
static void forge_uncompressed(buf_t *out, const uint8_t *payload, size_t len)
{
    uint8_t header[40] = {0x1c, 0x84, 0x93, 0x13};
    uint64_t fields[] = {len, 0, 3};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            header[4 + 4 * i + k] = (uint8_t)(fields[i] >> (24 - 8 * k));
    uint64_t words[] = {1, 3600000000ULL, 0x3FF0000000000000ULL};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 8; k++)
            header[16 + 8 * i + k] = (uint8_t)(words[i] >> (56 - 8 * k));
    buf_clear(out);
    buf_append(out, header, sizeof header);
    buf_append(out, payload, len);
}

/* ZigZag LEB128 of a run of n zeros (written -n), as the encoder writes it. */
static size_t zero_run(uint8_t *at, int64_t n)
{
    uint64_t u = ((uint64_t)(-n) << 1) ^ (uint64_t)(-n >> 63);
    size_t i = 0;
    while (u >= 0x80) {
        at[i++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    at[i++] = (uint8_t)u;
    return i;
}

static void test_decoder_judges_the_last_counter_of_the_layout_exactly(void)
{
    hist_t *layout = hist_new(1, 3600000000LL, 3, NULL, 0);
    REQUIRE(layout);
    int64_t len = (int64_t)hist_counts_len(layout);
    hist_destroy(&layout);
    struct {
        bool count_before; /* a count of 3 in the first counter */
        int64_t zeros;
        bool count_after; /* a count of 5 after the run */
        bool ok;
    } cases[] = {
        {false, len, false, true},      /* zeros up to the end */
        {false, len + 1, false, false}, /* one past it */
        {false, len - 1, true, true},   /* a count in the last counter */
        {false, len, true, false},      /* a count past the last counter */
        {true, len - 2, true, true},    /* the first and the last: the widest span */
        {true, len - 1, true, false},   /* the first and one past the last */
    };
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t payload[16];
        size_t n = 0;
        if (cases[i].count_before)
            payload[n++] = 6; /* ZigZag of 3 */
        n += zero_run(payload + n, cases[i].zeros);
        if (cases[i].count_after)
            payload[n++] = 10; /* ZigZag of 5 */
        forge_uncompressed(&b, payload, n);
        char err[200] = "";
        hist_t *h = hist_decode_compressed(b.data, b.len, err, sizeof err);
        CHECK_MSG((h != NULL) == cases[i].ok, "case %zu (%lld zeros%s): %s", i,
                  (long long)cases[i].zeros, cases[i].count_after ? ", then 5" : "",
                  h ? "accepted" : err);
        if (h && cases[i].count_after) {
            CHECK_INT_EQ(hist_total_count(h), cases[i].count_before ? 8 : 5);
            CHECK_INT_EQ(hist_min(h), cases[i].count_before ? 0 : hist_min(h));
            CHECK(hist_max(h) >= 3600000000LL); /* the last counter is the top bucket */
            CHECK(hist_value_at_percentile(h, 50) == hist_max(h));
        }
        hist_destroy(&h);
    }
    buf_free(&b);
}

/* The decoded histogram holds exactly the reference's counts: the same number of
   non-empty buckets with the same counts in the same order, and the same total. */
static bool matches_reference(const hist_t *h, const reference_t *ref)
{
    if (hist_total_count(h) != ref->total)
        return false;
    size_t cursor = 0;
    int64_t value, count;
    int i = 0;
    while (hist_next_bucket(h, &cursor, &value, &count)) {
        if (i >= ref->nonzero || count != ref->count[i])
            return false;
        i++;
    }
    return i == ref->nonzero;
}

static void uncompressed_form(const hist_t *h, buf_t *out)
{
    buf_t z;
    buf_init(&z);
    hist_encode_compressed(h, &z);
    uLongf len = 1 << 20;
    uint8_t *at = (uint8_t *)buf_reserve(out, len);
    if (uncompress(at, &len, (const uint8_t *)z.data + 8, (uLong)(z.len - 8)) == Z_OK)
        out->len = len;
    buf_free(&z);
}

static void test_decoder_accepts_and_refuses_exactly_like_a_reference_on_mutated_payloads(void)
{
    static reference_t ref; /* 512 KiB: not on the stack */
    int accepted = 0, refused = 0;
    for (int round = 0; round < 1500; round++) {
        hist_t *h = random_histogram(round % 3, round % 4); /* 1 us .. 1 h, 1-3 digits */
        REQUIRE(h);
        buf_t raw;
        buf_init(&raw);
        uncompressed_form(h, &raw);
        hist_destroy(&h);
        REQUIRE(raw.len >= 40);
        uint8_t *bytes = (uint8_t *)raw.data;
        int mutations = 1 + (int)random_below(4);
        for (int m = 0; m < mutations; m++) {
            int kind = (int)random_below(5);
            size_t at = raw.len > 40 ? 40 + (size_t)random_below((int64_t)(raw.len - 40)) : 40;
            if (kind == 0 && at < raw.len) /* any byte of the payload */
                bytes[at] = (uint8_t)random_below(256);
            else if (kind == 1 && at < raw.len) /* continuation bits on or off */
                bytes[at] ^= 0x80;
            else if (kind == 2) /* truncate */
                raw.len = at;
            else if (kind == 3) /* append a word, sometimes a huge one */
                buf_append(&raw, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
                           1 + (size_t)random_below(9));
            else /* a header byte */
                ((uint8_t *)raw.data)[random_below(40)] ^= (uint8_t)(1u << random_below(8));
            bytes = (uint8_t *)raw.data;
        }
        /* Mostly keep payload_len consistent, so that the walk itself is what is judged. */
        if (random_below(8) != 0 && raw.len >= 40) {
            uint32_t payload_len = (uint32_t)(raw.len - 40);
            for (int k = 0; k < 4; k++)
                bytes[4 + k] = (uint8_t)(payload_len >> (24 - 8 * k));
        }
        reference_decode(bytes, raw.len, &ref);
        char err[200] = "";
        hist_t *got = hist_decode_compressed(bytes, raw.len, err, sizeof err);
        CHECK_MSG((got != NULL) == ref.ok, "round %d: decoder %s, reference %s (%s)", round,
                  got ? "accepts" : "refuses", ref.ok ? "accepts" : "refuses", err);
        if (got && ref.ok)
            CHECK_MSG(matches_reference(got, &ref), "round %d: counts differ", round);
        if (!got)
            CHECK_MSG(err[0] != '\0', "round %d: refused without a reason", round);
        accepted += got != NULL;
        refused += got == NULL;
        hist_destroy(&got);
        buf_free(&raw);
    }
    /* Both outcomes were exercised, many times. */
    CHECK_MSG(accepted > 150 && refused > 150, "accepted %d, refused %d", accepted, refused);
}

CHECK_MAIN(test_decoded_histogram_answers_every_query_like_the_one_encoded,
           test_adding_decoded_histograms_equals_adding_the_ones_encoded,
           test_adding_past_either_end_of_a_decoded_span_keeps_every_count,
           test_writing_outside_a_decoded_span_keeps_every_count,
           test_decoder_judges_the_last_counter_of_the_layout_exactly,
           test_a_compact_empty_histogram_fills_like_a_new_one,
           test_decoder_accepts_and_refuses_exactly_like_a_reference_on_mutated_payloads)
