/*  histogram.c: the HdrHistogram layout, its V2 encoding and interval-log lines.

    Hot path: hist_record, hist_record_n and hist_add allocate nothing and take no
    lock. Recording is a range check, a count-leading-zeros, two shifts and three
    stores. Everything else (percentiles, encoding, decoding, log lines) runs once
    per interval, never per request. The one allocation on a write is a compact histogram
    (decoded, or hist_new_compact) receiving a value outside its span: once, and never in
    the engine or the coordinator's accumulators, which hist_new makes full.

    Decoding is the coordinator's cost per snapshot (bench/bench_coordinator.c): the
    payload is walked once, its span kept on the stack, and only the span is allocated
    (a span too wide for the stack is decoded into a full histogram).

    The maths of the layout lives in histogram.h (and docs/histogram.md); this file
    follows HdrHistogram's index arithmetic exactly so that counts index by index are
    the same as Java's, C's and JS's, which is what makes the V2 encoding portable.
*/
#include "common/histogram.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

struct _hist_t {
    int64_t lowest;
    int64_t highest;
    int digits;
    int unit_magnitude;                  /* floor(log2(lowest)) */
    int sub_bucket_half_count_magnitude; /* log2(half) */
    int64_t sub_bucket_count;            /* 2^ceil(log2(2 * 10^digits)) */
    int64_t sub_bucket_half_count;
    int64_t sub_bucket_mask; /* (sub_bucket_count - 1) << unit_magnitude */
    int bucket_count;
    int32_t counts_len;
    int64_t total_count;
    int64_t out_of_range;
    int64_t min_value; /* smallest value recorded (raw); INT64_MAX when empty */
    int64_t max_value; /* largest value recorded (raw); 0 when empty */
    /* Storage. Counter i (0 <= i < counts_len) is span[i - span_first] when i is in
       [span_first, span_first + span_len), and 0 otherwise. hist_new holds every counter
       (span_first 0, span_len counts_len). A decoded histogram holds only the span it
       recorded, [index(min), index(max)]: a 1 s snapshot spans a few thousand of 23,552
       counters, and zeroing the rest was most of the coordinator's cost per snapshot.
       A record into it, or an add reaching outside the span, first makes it full
       (span_make_full), so every function works on either kind. */
    int32_t span_first;
    int32_t span_len;
    int64_t *span;        /* inline_counts, or full_counts once made full */
    int64_t *full_counts; /* owned; NULL until a compact histogram is made full */
    int32_t inline_len;   /* counters allocated in inline_counts */
    /* highest + 1 when the histogram holds every counter, 0 when compact: hist_record's
       one compare then refuses out-of-range values and sends compact histograms to
       record_slow, so that the hot path is what it was before compact ones existed. */
    uint64_t record_below;
    int64_t inline_counts[]; /* allocated with the struct */
};

static void set_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || !err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---- Layout ------------------------------------------------------------------ */

typedef struct {
    int unit_magnitude;
    int half_magnitude;
    int bucket_count;
    int32_t counts_len;
} layout_t;

/* The one place a (lowest, highest, digits) triple is judged; hist_new and the
   decoder (which reads the triple from the network) both come through here. */
static bool layout_compute(int64_t lowest, int64_t highest, int digits, layout_t *layout, char *err,
                           size_t err_size)
{
    if (lowest < 1) {
        set_err(err, err_size, "lowest trackable value %lld must be >= 1", (long long)lowest);
        return false;
    }
    if (digits < 1 || digits > 5) {
        set_err(err, err_size, "significant digits %d must be between 1 and 5", digits);
        return false;
    }
    if (highest > HIST_MAX_HIGHEST) {
        set_err(err, err_size, "highest trackable value %lld is above the maximum %lld",
                (long long)highest, (long long)HIST_MAX_HIGHEST);
        return false;
    }
    if (lowest > highest / 2) {
        set_err(err, err_size, "highest trackable value %lld must be >= 2 * lowest (%lld)",
                (long long)highest, (long long)lowest);
        return false;
    }
    int64_t single_unit_limit = 2;
    for (int i = 0; i < digits; i++)
        single_unit_limit *= 10;
    int count_magnitude = 0;
    while ((1LL << count_magnitude) < single_unit_limit)
        count_magnitude++;
    layout->half_magnitude = (count_magnitude > 1 ? count_magnitude : 1) - 1;
    layout->unit_magnitude = 63 - __builtin_clzll((unsigned long long)lowest);
    if (layout->unit_magnitude + layout->half_magnitude > 61) {
        set_err(err, err_size, "lowest trackable value %lld is too large for %d digits",
                (long long)lowest, digits);
        return false;
    }
    /* Smallest bucket count whose top edge is above highest; highest <= 2^62 keeps
       every edge representable. */
    int64_t smallest_untrackable = (2LL << layout->half_magnitude) << layout->unit_magnitude;
    int buckets = 1;
    while (smallest_untrackable <= highest) {
        smallest_untrackable <<= 1;
        buckets++;
    }
    layout->bucket_count = buckets;
    layout->counts_len = (int32_t)((int64_t)(buckets + 1) << layout->half_magnitude);
    return true;
}

/* A histogram holding counters [span_first, span_first + span_len): zeroed, or left for
   the caller to write every one of them (the decoder, which has them at hand). */
static hist_t *hist_alloc(int64_t lowest, int64_t highest, int digits, const layout_t *layout,
                          int32_t span_first, int32_t span_len, bool zeroed)
{
    size_t bytes = sizeof(hist_t) + (size_t)span_len * sizeof(int64_t);
    hist_t *self = zeroed ? calloc(1, bytes) : malloc(bytes);
    if (!self)
        return NULL;
    if (!zeroed)
        memset(self, 0, sizeof *self);
    self->span_first = span_first;
    self->span_len = span_len;
    self->span = self->inline_counts;
    self->inline_len = span_len;
    self->record_below = span_first == 0 && span_len == layout->counts_len
                             ? (uint64_t)highest + 1 /* highest <= HIST_MAX_HIGHEST */
                             : 0;
    self->lowest = lowest;
    self->highest = highest;
    self->digits = digits;
    self->unit_magnitude = layout->unit_magnitude;
    self->sub_bucket_half_count_magnitude = layout->half_magnitude;
    self->sub_bucket_count = 2LL << layout->half_magnitude;
    self->sub_bucket_half_count = 1LL << layout->half_magnitude;
    self->sub_bucket_mask = (self->sub_bucket_count - 1) << layout->unit_magnitude;
    self->bucket_count = layout->bucket_count;
    self->counts_len = layout->counts_len;
    self->min_value = INT64_MAX;
    return self;
}

hist_t *hist_new(int64_t lowest, int64_t highest, int digits, char *err, size_t err_size)
{
    layout_t layout;
    if (!layout_compute(lowest, highest, digits, &layout, err, err_size))
        return NULL;
    hist_t *self = hist_alloc(lowest, highest, digits, &layout, 0, layout.counts_len, true);
    if (!self)
        set_err(err, err_size, "out of memory for %d counters", (int)layout.counts_len);
    return self;
}

hist_t *hist_new_compact(int64_t lowest, int64_t highest, int digits, char *err, size_t err_size)
{
    layout_t layout;
    if (!layout_compute(lowest, highest, digits, &layout, err, err_size))
        return NULL;
    hist_t *self = hist_alloc(lowest, highest, digits, &layout, 0, 0, true);
    if (!self)
        set_err(err, err_size, "out of memory");
    return self;
}

hist_t *hist_new_default(void)
{
    return hist_new(HIST_DEFAULT_LOWEST, HIST_DEFAULT_HIGHEST, HIST_DEFAULT_DIGITS, NULL, 0);
}

hist_t *hist_new_like(const hist_t *other)
{
    return hist_new(other->lowest, other->highest, other->digits, NULL, 0);
}

void hist_destroy(hist_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->full_counts);
    free(*self_p);
    *self_p = NULL;
}

/* ---- Storage ------------------------------------------------------------------- */

static inline bool span_holds(const hist_t *self, int64_t index)
{
    return (uint64_t)(index - self->span_first) < (uint64_t)self->span_len;
}

/* Counter `index`, for loops that may leave the span (encoding). */
static inline int64_t count_at(const hist_t *self, int64_t index)
{
    return span_holds(self, index) ? self->span[index - self->span_first] : 0;
}

/* Gives a compact (decoded) histogram every counter, before a write outside its span.
   Cold: recording and merging never meet a compact histogram on their hot paths (the
   engine and the coordinator add into histograms made by hist_new). False when out of
   memory; the histogram is then unchanged. */
static bool span_make_full(hist_t *self)
{
    if (self->span_first == 0 && self->span_len == self->counts_len)
        return true;
    int64_t *full = calloc((size_t)self->counts_len, sizeof *full);
    if (!full)
        return false;
    if (self->span_len)
        memcpy(full + self->span_first, self->span, (size_t)self->span_len * sizeof *full);
    self->full_counts = full; /* was NULL: a histogram made full returned above */
    self->span = full;
    self->span_first = 0;
    self->span_len = self->counts_len;
    self->record_below = (uint64_t)self->highest + 1;
    return true;
}

/* ---- Index arithmetic (HdrHistogram's, exactly) -------------------------------- */

static inline int bucket_index_of(const hist_t *self, int64_t value)
{
    int pow2_ceiling = 64 - __builtin_clzll((unsigned long long)(value | self->sub_bucket_mask));
    return pow2_ceiling - self->unit_magnitude - (self->sub_bucket_half_count_magnitude + 1);
}

static inline int64_t counts_index_of(const hist_t *self, int64_t value)
{
    int bucket = bucket_index_of(self, value);
    int64_t sub_bucket = value >> (bucket + self->unit_magnitude);
    return ((int64_t)(bucket + 1) << self->sub_bucket_half_count_magnitude) + sub_bucket -
           self->sub_bucket_half_count;
}

/* Lowest value of the bucket at `index`. */
static int64_t value_at_index(const hist_t *self, int64_t index)
{
    int bucket = (int)(index >> self->sub_bucket_half_count_magnitude) - 1;
    int64_t sub_bucket = (index & (self->sub_bucket_half_count - 1)) + self->sub_bucket_half_count;
    if (bucket < 0) {
        sub_bucket -= self->sub_bucket_half_count;
        bucket = 0;
    }
    return sub_bucket << (bucket + self->unit_magnitude);
}

/* Width of v's bucket, as an unsigned so that edges near INT64_MAX stay defined. */
static uint64_t equivalent_range(const hist_t *self, int64_t value)
{
    int bucket = bucket_index_of(self, value);
    int64_t sub_bucket = value >> (bucket + self->unit_magnitude);
    int adjusted = sub_bucket >= self->sub_bucket_count ? bucket + 1 : bucket;
    return 1ULL << (self->unit_magnitude + adjusted);
}

int64_t hist_lowest_equivalent(const hist_t *self, int64_t value)
{
    if (value <= 0)
        return 0;
    int bucket = bucket_index_of(self, value);
    int64_t sub_bucket = value >> (bucket + self->unit_magnitude);
    return sub_bucket << (bucket + self->unit_magnitude);
}

int64_t hist_highest_equivalent(const hist_t *self, int64_t value)
{
    if (value < 0)
        value = 0;
    uint64_t next = (uint64_t)hist_lowest_equivalent(self, value) + equivalent_range(self, value);
    return next - 1 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(next - 1);
}

int64_t hist_median_equivalent(const hist_t *self, int64_t value)
{
    if (value < 0)
        value = 0;
    return hist_lowest_equivalent(self, value) + (int64_t)(equivalent_range(self, value) >> 1);
}

/* ---- Recording (hot path) ------------------------------------------------------ */

/* Out of range, or a compact histogram, which is made full first (out of memory: the
   value is counted as out of range, never silently lost). */
__attribute__((noinline, cold)) static bool record_slow(hist_t *self, int64_t value)
{
    if ((uint64_t)value > (uint64_t)self->highest || !span_make_full(self)) {
        self->out_of_range++;
        return false;
    }
    return hist_record(self, value);
}

bool hist_record(hist_t *self, int64_t value)
{
    /* One unsigned compare refuses negatives and values above highest alike (and
       compact histograms, see record_below). */
    if ((uint64_t)value >= self->record_below)
        return record_slow(self, value);
    self->span[counts_index_of(self, value)]++; /* full: span_first is 0 */
    self->total_count++;
    if (value < self->min_value)
        self->min_value = value;
    if (value > self->max_value)
        self->max_value = value;
    return true;
}

static int64_t add_saturating(int64_t a, int64_t b)
{
    int64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

bool hist_record_n(hist_t *self, int64_t value, int64_t count)
{
    if (count <= 0)
        return count == 0;
    int64_t total;
    if ((uint64_t)value > (uint64_t)self->highest ||
        __builtin_add_overflow(self->total_count, count, &total)) {
        self->out_of_range = add_saturating(self->out_of_range, count);
        return false;
    }
    if ((uint64_t)value >= self->record_below && !span_make_full(self)) {
        self->out_of_range = add_saturating(self->out_of_range, count);
        return false;
    }
    /* No counter exceeds the total, so it cannot overflow either. */
    self->span[counts_index_of(self, value)] += count; /* full: span_first is 0 */
    self->total_count = total;
    if (value < self->min_value)
        self->min_value = value;
    if (value > self->max_value)
        self->max_value = value;
    return true;
}

bool hist_same_layout(const hist_t *a, const hist_t *b)
{
    return a->lowest == b->lowest && a->highest == b->highest && a->digits == b->digits;
}

int64_t hist_add(hist_t *self, const hist_t *other)
{
    self->out_of_range = add_saturating(self->out_of_range, other->out_of_range);
    if (other->total_count == 0)
        return 0;
    int64_t total;
    if (__builtin_add_overflow(self->total_count, other->total_count, &total)) {
        /* Only reachable with forged counts: refuse all of them, visibly. */
        self->out_of_range = add_saturating(self->out_of_range, other->total_count);
        return other->total_count;
    }
    if (self == other) { /* doubling: the restrict loop below needs two arrays */
        for (int32_t i = 0; i < self->span_len; i++)
            self->span[i] *= 2;
        self->total_count = total;
        return 0;
    }
    if (hist_same_layout(self, other)) {
        /* Exact: counter i means the same bucket on both sides. Only the recorded span
           is walked, so a typical snapshot costs its span, not the whole array. */
        int64_t first = counts_index_of(other, other->min_value);
        int64_t last = counts_index_of(other, other->max_value);
        if ((!span_holds(self, first) || !span_holds(self, last)) && !span_make_full(self)) {
            self->out_of_range = add_saturating(self->out_of_range, other->total_count);
            return other->total_count; /* out of memory: refused visibly */
        }
        /* distinct histograms: restrict lets it vectorise */
        int64_t *restrict dst = self->span + (first - self->span_first);
        const int64_t *restrict src = other->span + (first - other->span_first);
        for (int64_t i = 0, n = last - first + 1; i < n; i++)
            dst[i] += src[i];
        self->total_count = total;
        if (other->min_value < self->min_value)
            self->min_value = other->min_value;
        if (other->max_value > self->max_value)
            self->max_value = other->max_value;
        return 0;
    }
    /* Different layouts: each bucket of other lands where its median does in self. */
    int64_t dropped = 0;
    size_t cursor = 0;
    int64_t value, count;
    while (hist_next_bucket(other, &cursor, &value, &count)) {
        if (!hist_record_n(self, hist_median_equivalent(other, value), count))
            dropped += count;
    }
    return dropped;
}

void hist_reset(hist_t *self)
{
    memset(self->span, 0, (size_t)self->span_len * sizeof(int64_t));
    self->total_count = 0;
    self->out_of_range = 0;
    self->min_value = INT64_MAX;
    self->max_value = 0;
}

/* ---- Queries ------------------------------------------------------------------- */

int64_t hist_total_count(const hist_t *self)
{
    return self->total_count;
}

int64_t hist_out_of_range(const hist_t *self)
{
    return self->out_of_range;
}

void hist_set_out_of_range(hist_t *self, int64_t count)
{
    self->out_of_range = count < 0 ? 0 : count;
}

int64_t hist_min(const hist_t *self)
{
    return self->total_count ? hist_lowest_equivalent(self, self->min_value) : 0;
}

int64_t hist_max(const hist_t *self)
{
    return self->total_count ? hist_highest_equivalent(self, self->max_value) : 0;
}

double hist_mean(const hist_t *self)
{
    if (!self->total_count)
        return 0.0;
    double sum = 0.0;
    size_t cursor = 0;
    int64_t value, count;
    while (hist_next_bucket(self, &cursor, &value, &count))
        sum += (double)hist_median_equivalent(self, value) * (double)count;
    return sum / (double)self->total_count;
}

double hist_stddev(const hist_t *self)
{
    if (!self->total_count)
        return 0.0;
    double mean = hist_mean(self), sum = 0.0;
    size_t cursor = 0;
    int64_t value, count;
    while (hist_next_bucket(self, &cursor, &value, &count)) {
        double deviation = (double)hist_median_equivalent(self, value) - mean;
        sum += deviation * deviation * (double)count;
    }
    return sqrt(sum / (double)self->total_count);
}

int64_t hist_value_at_percentile(const hist_t *self, double percentile)
{
    if (!self->total_count)
        return 0;
    if (!(percentile > 0.0)) /* also NaN */
        percentile = 0.0;
    if (percentile > 100.0)
        percentile = 100.0;
    /* ceil, minus one ulp: p/100 * total can land one ulp above an exact integer, and
       rounding that up would skip a count (Java and JS do the same). */
    double wanted = percentile / 100.0 * (double)self->total_count;
    double ulp = wanted > 0.0 ? ldexp(1.0, ilogb(wanted) - 52) : 0.0;
    int64_t rank = (int64_t)ceil(wanted - ulp);
    if (rank < 1)
        rank = 1;
    /* Totals above 2^53 are not exact in a double: p100 must still be the top value. */
    if (percentile == 100.0 || rank > self->total_count)
        rank = self->total_count;
    int64_t seen = 0;
    int64_t first = counts_index_of(self, self->min_value);
    int64_t last = counts_index_of(self, self->max_value);
    /* [first, last] is inside the span, which holds every non-zero counter. */
    for (int64_t i = first; i <= last; i++) {
        seen += self->span[i - self->span_first];
        if (seen >= rank) {
            int64_t value = value_at_index(self, i);
            return percentile == 0.0 ? value : hist_highest_equivalent(self, value);
        }
    }
    return hist_max(self);
}

int64_t hist_lowest(const hist_t *self)
{
    return self->lowest;
}

int64_t hist_highest(const hist_t *self)
{
    return self->highest;
}

int hist_digits(const hist_t *self)
{
    return self->digits;
}

size_t hist_counts_len(const hist_t *self)
{
    return (size_t)self->counts_len;
}

size_t hist_memory_bytes(const hist_t *self)
{
    size_t counters = (size_t)self->inline_len + (self->full_counts ? (size_t)self->counts_len : 0);
    return sizeof *self + counters * sizeof(int64_t);
}

bool hist_next_bucket(const hist_t *self, size_t *cursor, int64_t *value_out, int64_t *count_out)
{
    if (!self->total_count)
        return false;
    size_t i = *cursor;
    size_t first = (size_t)counts_index_of(self, self->min_value);
    size_t last = (size_t)counts_index_of(self, self->max_value);
    if (i < first)
        i = first;
    for (; i <= last; i++) {
        int64_t count = self->span[i - (size_t)self->span_first];
        if (count) {
            *value_out = value_at_index(self, (int64_t)i);
            *count_out = count;
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = last + 1;
    return false;
}

/* ---- HdrHistogram V2 encoding ---------------------------------------------------- */
/* Outer: int32 0x1c849314, int32 deflated length, zlib stream. Inner (40 bytes, big
   endian): int32 0x1c849313, int32 payload_len, int32 normalizing_index_offset,
   int32 digits, int64 lowest, int64 highest, uint64 bits of the double conversion
   ratio; then counts[0 .. index(max)] as ZigZag LEB128-64b9B, a negative -n standing
   for n zero counters. */

#define V2_ENCODING_COOKIE_BASE   0x1c849303u
#define V2_COMPRESSED_COOKIE_BASE 0x1c849304u
#define V2_WORD_SIZE_NIBBLE       0x10u /* "LSBit of the word size byte": ZigZag LEB128 */
#define V2_HEADER_BYTES           40
#define V2_MAX_VARINT_BYTES       9
#define RATIO_ONE_BITS            0x3FF0000000000000ULL /* 1.0 as an IEEE 754 double */

static void put_be32(uint8_t *at, uint32_t v)
{
    at[0] = (uint8_t)(v >> 24);
    at[1] = (uint8_t)(v >> 16);
    at[2] = (uint8_t)(v >> 8);
    at[3] = (uint8_t)v;
}

static void put_be64(uint8_t *at, uint64_t v)
{
    put_be32(at, (uint32_t)(v >> 32));
    put_be32(at + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

static uint64_t get_be64(const uint8_t *at)
{
    return (uint64_t)get_be32(at) << 32 | get_be32(at + 4);
}

/* LEB128-64b9B: 7 bits per byte for 8 bytes, then a 9th byte carrying all 8 of the
   remaining bits, so a 64-bit word never takes more than 9 bytes. */
static size_t zigzag_put(uint8_t *at, int64_t value)
{
    uint64_t u = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    size_t n = 0;
    while (n < 8 && u >= 0x80) {
        at[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    at[n++] = (uint8_t)u;
    return n;
}

/* Returns bytes consumed, 0 when the word runs past `end`. */
static size_t zigzag_get(const uint8_t *at, const uint8_t *end, uint64_t *zigzag_out)
{
    uint64_t u = 0;
    for (size_t n = 0; n < V2_MAX_VARINT_BYTES; n++) {
        if (at + n >= end)
            return 0;
        uint8_t b = at[n];
        if (n == 8) {
            u |= (uint64_t)b << 56;
            *zigzag_out = u;
            return 9;
        }
        u |= (uint64_t)(b & 0x7f) << (7 * n);
        if (!(b & 0x80)) {
            *zigzag_out = u;
            return n + 1;
        }
    }
    return 0; /* not reached */
}

static void encode_uncompressed(const hist_t *self, buf_t *out)
{
    size_t start = out->len;
    int64_t limit = self->total_count ? counts_index_of(self, self->max_value) + 1 : 0;
    buf_reserve(out, V2_HEADER_BYTES);
    out->len += V2_HEADER_BYTES;
    for (int64_t i = 0; i < limit;) {
        int64_t count = count_at(self, i++);
        int64_t word = count;
        if (count == 0) {
            int64_t zeros = 1;
            while (i < limit && count_at(self, i) == 0) {
                zeros++;
                i++;
            }
            /* A lone zero is written as 0, as Java and JS do (C writes -1). */
            word = zeros > 1 ? -zeros : 0;
        }
        if (out->cap - out->len <= V2_MAX_VARINT_BYTES)
            buf_reserve(out, 4096); /* in steps: not one call per counter */
        out->len += zigzag_put((uint8_t *)out->data + out->len, word);
    }
    uint8_t *header = (uint8_t *)out->data + start; /* after the reserves that move data */
    put_be32(header, V2_ENCODING_COOKIE_BASE | V2_WORD_SIZE_NIBBLE);
    put_be32(header + 4, (uint32_t)(out->len - start - V2_HEADER_BYTES));
    put_be32(header + 8, 0); /* normalizing_index_offset */
    put_be32(header + 12, (uint32_t)self->digits);
    put_be64(header + 16, (uint64_t)self->lowest);
    put_be64(header + 24, (uint64_t)self->highest);
    put_be64(header + 32, RATIO_ONE_BITS);
    out->data[out->len] = '\0';
}

/* A snapshot's payload is a few KiB at most, so a 4 KiB window loses nothing, and the
   small window and hash table (about 40 KiB of zlib state instead of 256 KiB) make
   deflateInit cheap enough to run per snapshot. Every inflater reads it: the window size
   is declared in the zlib header. Level 1 costs about 1% in size against level 6 on
   typical snapshots and a third less time (bench/bench_histogram.c). */
#define DEFLATE_LEVEL       1
#define DEFLATE_WINDOW_BITS 12
#define DEFLATE_MEM_LEVEL   5

void hist_encode_compressed(const hist_t *self, buf_t *out)
{
    buf_t raw;
    buf_init(&raw);
    encode_uncompressed(self, &raw);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, DEFLATE_LEVEL, Z_DEFLATED, DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        fputs("surge: out of memory in zlib\n", stderr);
        abort();
    }
    size_t bound = deflateBound(&zs, (uLong)raw.len);
    size_t start = out->len;
    uint8_t *at = (uint8_t *)buf_reserve(out, 8 + bound);
    zs.next_in = (Bytef *)raw.data;
    zs.avail_in = (uInt)raw.len;
    zs.next_out = at + 8;
    zs.avail_out = (uInt)bound;
    /* With deflateBound's room, one Z_FINISH call always completes the stream. */
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        fputs("surge: zlib deflate failed\n", stderr);
        abort();
    }
    put_be32(at, V2_COMPRESSED_COOKIE_BASE | V2_WORD_SIZE_NIBBLE);
    put_be32(at + 4, (uint32_t)zs.total_out);
    out->len = start + 8 + (size_t)zs.total_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    buf_free(&raw);
}

/* The inner header, judged: a layout hist_new accepts and a payload length it allows. */
typedef struct {
    int64_t lowest, highest;
    int digits;
    layout_t layout;
    int64_t payload_len;
} v2_header_t;

/* The one layout a caller accepts, or NULL for any layout hist_new accepts. */
typedef struct {
    int64_t lowest, highest;
    int digits;
} v2_expect_t;

/* Reads the 40-byte inner header; false with a reason when it is not acceptable. */
static bool header_decode(const uint8_t *header, const v2_expect_t *expect, v2_header_t *out,
                          char *err, size_t err_size)
{
    uint32_t cookie = get_be32(header);
    if ((cookie & ~0xf0u) != V2_ENCODING_COOKIE_BASE) {
        set_err(err, err_size, "inner cookie 0x%08x is not HdrHistogram V2 (0x%08x)", cookie,
                V2_ENCODING_COOKIE_BASE | V2_WORD_SIZE_NIBBLE);
        return false;
    }
    int32_t payload_len = (int32_t)get_be32(header + 4);
    out->digits = (int32_t)get_be32(header + 12);
    out->lowest = (int64_t)get_be64(header + 16);
    out->highest = (int64_t)get_be64(header + 24);
    /* header + 8 (normalizing_index_offset) and header + 32 (conversion ratio) are
       ignored on purpose: see histogram.h. */
    if (expect && (out->lowest != expect->lowest || out->highest != expect->highest ||
                   out->digits != expect->digits)) {
        set_err(err, err_size, "layout %lld..%lld at %d digits, expected %lld..%lld at %d",
                (long long)out->lowest, (long long)out->highest, (int)out->digits,
                (long long)expect->lowest, (long long)expect->highest, expect->digits);
        return false;
    }
    char why[160];
    if (!layout_compute(out->lowest, out->highest, out->digits, &out->layout, why, sizeof why)) {
        set_err(err, err_size, "bad layout: %s", why);
        return false;
    }
    if (out->layout.counts_len > HIST_DECODE_MAX_COUNTS) {
        set_err(err, err_size, "layout of %d counters is above the decoding cap of %d",
                (int)out->layout.counts_len, HIST_DECODE_MAX_COUNTS);
        return false;
    }
    int64_t payload_cap = (int64_t)out->layout.counts_len * V2_MAX_VARINT_BYTES;
    if (payload_cap > HIST_DECODE_MAX_BYTES - V2_HEADER_BYTES)
        payload_cap = HIST_DECODE_MAX_BYTES - V2_HEADER_BYTES;
    if (payload_len < 0 || payload_len > payload_cap) {
        set_err(err, err_size, "payload length %d is outside 0..%lld for this layout",
                (int)payload_len, (long long)payload_cap);
        return false;
    }
    out->payload_len = payload_len;
    return true;
}

/* What a payload holds. */
typedef struct {
    int64_t total, first, last; /* first and last non-zero counters; -1 when empty */
} payload_span_t;

/* Where a walk stores counts: counter i goes to at[i - first non-zero counter], zeros
   included, `filled` entries so far. It starts on the decoder's stack (cap entries);
   a span that outgrows it spills into a full histogram (`full`, zeroed, owned by the
   caller) and the walk goes on there, so a payload is walked once whatever its span. */
typedef struct {
    const v2_header_t *header;
    int64_t *at;
    int64_t cap;
    int64_t filled;
    hist_t *full;
} payload_sink_t;

/* Moves the sink from the stack into a new full histogram; false when out of memory. */
static bool sink_spill(payload_sink_t *sink, int64_t first)
{
    const v2_header_t *h = sink->header;
    sink->full =
        hist_alloc(h->lowest, h->highest, h->digits, &h->layout, 0, h->layout.counts_len, true);
    if (!sink->full)
        return false;
    int64_t *counts = sink->full->span + first;
    memcpy(counts, sink->at, (size_t)sink->filled * sizeof(int64_t));
    sink->at = counts;
    sink->cap = h->layout.counts_len - first;
    return true;
}

/* Walks a ZigZag payload of counts_len counters: checks all of it (false with a reason
   on any inconsistency), finds its span and stores the span's counts in the sink. */
static bool payload_walk(const uint8_t *payload, size_t len, int32_t counts_len,
                         payload_span_t *found, payload_sink_t *sink, char *err, size_t err_size)
{
    const uint8_t *at = payload, *end = payload + len;
    int64_t index = 0, total = 0, first = -1, last = -1;
    while (at < end) {
        uint64_t zigzag = *at;
        if (zigzag < 0x80) { /* one byte: counts below 64 and short zero runs, most words */
            at++;
        } else {
            size_t n = zigzag_get(at, end, &zigzag);
            if (!n) {
                set_err(err, err_size, "truncated count at payload byte %zu",
                        (size_t)(at - payload));
                return false;
            }
            at += n;
        }
        if (zigzag & 1) {
            /* A run of zeros: -(zigzag >> 1) - 1 as a signed value, counted here
               unsigned so that the most negative word cannot overflow. */
            uint64_t zeros = (zigzag >> 1) + 1;
            if (zeros > (uint64_t)(counts_len - index)) {
                set_err(err, err_size, "run of %llu zeros at counter %lld passes the layout's %d",
                        (unsigned long long)zeros, (long long)index, (int)counts_len);
                return false;
            }
            index += (int64_t)zeros;
            continue;
        }
        int64_t count = (int64_t)(zigzag >> 1);
        if (index >= counts_len) {
            set_err(err, err_size, "count at counter %lld is past the layout's %d",
                    (long long)index, (int)counts_len);
            return false;
        }
        if (__builtin_add_overflow(total, count, &total)) {
            set_err(err, err_size, "total count overflows at counter %lld", (long long)index);
            return false;
        }
        if (count) {
            if (first < 0)
                first = index;
            last = index;
            int64_t offset = index - first;
            if (offset >= sink->cap && !sink_spill(sink, first)) {
                set_err(err, err_size, "out of memory for %d counters", (int)counts_len);
                return false;
            }
            if (offset > sink->filled && !sink->full) /* the zeros since the last count */
                memset(sink->at + sink->filled, 0,
                       (size_t)(offset - sink->filled) * sizeof(int64_t));
            sink->at[offset] = count;
            sink->filled = offset + 1;
        }
        index++;
    }
    found->total = total;
    found->first = first;
    found->last = last;
    return true;
}

/* Counters a decode holds on its stack (32 KiB): a 1 s snapshot's histograms span at
   most a few thousand counters. A wider span is decoded into a full histogram, as
   hist_new would make it. */
#define DECODE_STACK_COUNTERS 4096

/* A new histogram of the header's layout from its payload. Compact when its span fits
   on the stack: only the counters from the first non-zero one to the last are then
   allocated, never zeroed beyond them (see span in struct _hist_t). */
static hist_t *payload_decode(const v2_header_t *header, const uint8_t *payload, size_t len,
                              char *err, size_t err_size)
{
    int64_t stack[DECODE_STACK_COUNTERS];
    payload_sink_t sink = {.header = header, .at = stack, .cap = DECODE_STACK_COUNTERS};
    payload_span_t found;
    if (!payload_walk(payload, len, header->layout.counts_len, &found, &sink, err, err_size)) {
        hist_destroy(&sink.full);
        return NULL;
    }
    hist_t *self = sink.full;
    if (!self) {
        int32_t span_first = found.total ? (int32_t)found.first : 0;
        int32_t span_len = found.total ? (int32_t)(found.last - found.first + 1) : 0;
        self = hist_alloc(header->lowest, header->highest, header->digits, &header->layout,
                          span_first, span_len, false);
        if (!self) {
            set_err(err, err_size, "out of memory for %d counters", (int)span_len);
            return NULL;
        }
        memcpy(self->span, stack, (size_t)span_len * sizeof(int64_t));
    }
    self->total_count = found.total;
    if (found.total) {
        self->min_value = value_at_index(self, found.first);
        self->max_value = value_at_index(self, found.last);
    }
    return self;
}

static hist_t *decode_uncompressed(const uint8_t *data, size_t len, const v2_expect_t *expect,
                                   char *err, size_t err_size)
{
    if (len < V2_HEADER_BYTES) {
        set_err(err, err_size, "truncated: %zu bytes, a V2 header needs %d", len, V2_HEADER_BYTES);
        return NULL;
    }
    v2_header_t header;
    if (!header_decode(data, expect, &header, err, err_size))
        return NULL;
    if ((size_t)header.payload_len != len - V2_HEADER_BYTES) {
        set_err(err, err_size, "payload length %lld does not match the %zu bytes given",
                (long long)header.payload_len, len - V2_HEADER_BYTES);
        return NULL;
    }
    return payload_decode(&header, data + V2_HEADER_BYTES, (size_t)header.payload_len, err,
                          err_size);
}

static hist_t *decode_compressed(const uint8_t *data, size_t len, const v2_expect_t *expect,
                                 char *err, size_t err_size)
{
    int32_t deflated_len = (int32_t)get_be32(data + 4);
    if (deflated_len <= 0 || (size_t)deflated_len != len - 8) {
        set_err(err, err_size, "compressed length %d does not match the %zu bytes given",
                (int)deflated_len, len - 8);
        return NULL;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        set_err(err, err_size, "zlib: cannot initialise");
        return NULL;
    }
    hist_t *self = NULL;
    uint8_t *payload = NULL;
    uint8_t header[V2_HEADER_BYTES];
    zs.next_in = (Bytef *)(data + 8);
    zs.avail_in = (uInt)deflated_len;
    zs.next_out = header;
    zs.avail_out = V2_HEADER_BYTES;
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    if ((rc != Z_OK && rc != Z_STREAM_END) || zs.avail_out != 0) {
        if (rc == Z_STREAM_END)
            set_err(err, err_size, "inflated data is shorter than the 40-byte V2 header");
        else if (rc == Z_OK || rc == Z_BUF_ERROR)
            set_err(err, err_size, "zlib stream is truncated inside the V2 header");
        else
            set_err(err, err_size, "zlib: %s", zs.msg ? zs.msg : "bad data");
        goto fail;
    }
    v2_header_t v2;
    if (!header_decode(header, expect, &v2, err, err_size))
        goto fail;
    int64_t payload_len = v2.payload_len;
    /* One spare byte: an inflated stream longer than payload_len fills it and is
       refused, so the inflated size is capped by the header we already checked. */
    payload = malloc((size_t)payload_len + 1);
    if (!payload) {
        set_err(err, err_size, "out of memory for a %lld-byte payload", (long long)payload_len);
        goto fail;
    }
    size_t inflated = 0;
    if (rc != Z_STREAM_END) {
        zs.next_out = payload;
        zs.avail_out = (uInt)payload_len + 1;
        rc = inflate(&zs, Z_FINISH);
        inflated = (size_t)payload_len + 1 - zs.avail_out;
        if (rc != Z_STREAM_END) {
            if (inflated > (size_t)payload_len)
                set_err(err, err_size, "inflated payload is longer than its stated %lld bytes",
                        (long long)payload_len);
            else if (rc == Z_OK || rc == Z_BUF_ERROR)
                set_err(err, err_size, "zlib stream is truncated");
            else
                set_err(err, err_size, "zlib: %s", zs.msg ? zs.msg : "bad data");
            goto fail;
        }
    }
    if (inflated > (size_t)payload_len) {
        set_err(err, err_size, "inflated payload is longer than its stated %lld bytes",
                (long long)payload_len);
        goto fail;
    }
    if (inflated < (size_t)payload_len) {
        set_err(err, err_size, "inflated payload is %zu bytes, header says %lld", inflated,
                (long long)payload_len);
        goto fail;
    }
    if (zs.avail_in != 0) {
        set_err(err, err_size, "%u bytes after the end of the zlib stream", zs.avail_in);
        goto fail;
    }
    self = payload_decode(&v2, payload, (size_t)payload_len, err, err_size);
    if (!self)
        goto fail;
    free(payload);
    inflateEnd(&zs);
    return self;
fail:
    free(payload);
    hist_destroy(&self);
    inflateEnd(&zs);
    return NULL;
}

static hist_t *decode_v2(const void *data, size_t len, const v2_expect_t *expect, char *err,
                         size_t err_size)
{
    if (err && err_size)
        err[0] = '\0'; /* not set_err: a printf per decode showed in the coordinator's profile */
    if (!data || len < 8) {
        set_err(err, err_size, "truncated: %zu bytes, need at least 8", data ? len : 0);
        return NULL;
    }
    if (len > HIST_DECODE_MAX_BYTES) {
        set_err(err, err_size, "%zu bytes is above the decoding cap of %d", len,
                HIST_DECODE_MAX_BYTES);
        return NULL;
    }
    const uint8_t *bytes = data;
    uint32_t cookie = get_be32(bytes);
    if ((cookie & ~0xf0u) == V2_COMPRESSED_COOKIE_BASE)
        return decode_compressed(bytes, len, expect, err, err_size);
    if ((cookie & ~0xf0u) == V2_ENCODING_COOKIE_BASE)
        return decode_uncompressed(bytes, len, expect, err, err_size);
    set_err(err, err_size, "cookie 0x%08x is not HdrHistogram V2 (0x%08x compressed)", cookie,
            V2_COMPRESSED_COOKIE_BASE | V2_WORD_SIZE_NIBBLE);
    return NULL;
}

hist_t *hist_decode_compressed(const void *data, size_t len, char *err, size_t err_size)
{
    return decode_v2(data, len, NULL, err, err_size);
}

hist_t *hist_decode_compressed_layout(const void *data, size_t len, int64_t lowest, int64_t highest,
                                      int digits, char *err, size_t err_size)
{
    v2_expect_t expect = {lowest, highest, digits};
    return decode_v2(data, len, &expect, err, err_size);
}

/* ---- Base64 (RFC 4648, standard alphabet, padded) --------------------------------- */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode_into(buf_t *out, const void *data, size_t len)
{
    const uint8_t *in = data;
    char *at = buf_reserve(out, (len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *at++ = base64_alphabet[v >> 18];
        *at++ = base64_alphabet[(v >> 12) & 63];
        *at++ = base64_alphabet[(v >> 6) & 63];
        *at++ = base64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *at++ = base64_alphabet[v >> 18];
        *at++ = base64_alphabet[(v >> 12) & 63];
        *at++ = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
        *at++ = '=';
    }
    out->len = (size_t)(at - out->data);
    out->data[out->len] = '\0';
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode_into(buf_t *out, const char *text, size_t len)
{
    if (len % 4 != 0)
        return -1;
    size_t start = out->len;
    uint8_t *at = (uint8_t *)buf_reserve(out, len / 4 * 3);
    for (size_t i = 0; i < len; i += 4) {
        /* '=' is only valid as the last one or two characters of the text. */
        int pad = 0;
        if (i + 4 == len && text[i + 3] == '=')
            pad = text[i + 2] == '=' ? 2 : 1;
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = k >= 4 - pad ? 0 : base64_value(text[i + k]);
            if (v[k] < 0) {
                out->len = start;
                out->data[start] = '\0';
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        *at++ = (uint8_t)(w >> 16);
        if (pad < 2)
            *at++ = (uint8_t)(w >> 8);
        if (pad < 1)
            *at++ = (uint8_t)w;
    }
    out->len = (size_t)((char *)at - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* ---- Interval log --------------------------------------------------------------- */

/* HdrHistogram_c reads header lines with a 128-byte buffer: keep ours shorter. */
#define LOG_COMMENT_MAX_CHARS 100

void hist_log_header(buf_t *out, int64_t start_wall_ns, const char *comment)
{
    if (comment && *comment) {
        buf_append_str(out, "#[");
        for (size_t i = 0; comment[i] && i < LOG_COMMENT_MAX_CHARS; i++) {
            char c = comment[i];
            buf_append_char(out, c == '\n' || c == '\r' || c == ']' ? ' ' : c);
        }
        buf_append_str(out, "]\n");
    }
    buf_append_str(out, "#[Histogram log format version 1.3]\n");
    double start_s = (double)start_wall_ns / 1e9;
    time_t secs = (time_t)(start_wall_ns / 1000000000LL);
    struct tm tm;
    char date[64] = "";
    if (gmtime_r(&secs, &tm))
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(out, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_s, date);
    /* Interval timestamps are seconds from the start: BaseTime says so explicitly to
       Java and JS readers (which would otherwise guess it). */
    buf_printf(out, "#[BaseTime: %.3f (seconds since epoch)]\n", start_s);
    buf_append_str(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                        "\"Interval_Compressed_Histogram\"\n");
}

void hist_log_interval(buf_t *out, const char *tag, double start_s, double length_s,
                       const hist_t *self, double max_value_divisor)
{
    if (tag && *tag) {
        buf_append_str(out, "Tag=");
        /* A tag cannot hold the field separator or blanks (HdrHistogram's rule). */
        for (size_t i = 0; tag[i]; i++) {
            char c = tag[i];
            buf_append_char(out,
                            c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ? '_' : c);
        }
        buf_append_char(out, ',');
    }
    if (!(max_value_divisor > 0.0))
        max_value_divisor = 1.0;
    buf_printf(out, "%.3f,%.3f,%.3f,", start_s, length_s,
               (double)hist_max(self) / max_value_divisor);
    buf_t bin;
    buf_init(&bin);
    hist_encode_compressed(self, &bin);
    base64_encode_into(out, bin.data, bin.len);
    buf_free(&bin);
    buf_append_char(out, '\n');
}

/* Parses a non-negative finite decimal field. */
static bool parse_seconds(const char *text, size_t len, double *out)
{
    char copy[64];
    if (len == 0 || len >= sizeof copy)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    char *end;
    double v = strtod(copy, &end);
    if (*end || !isfinite(v) || v < 0.0)
        return false;
    *out = v;
    return true;
}

hist_t *hist_log_parse_line(const char *line, char *tag_out, size_t tag_size, double *start_s,
                            double *length_s, char *err, size_t err_size)
{
    set_err(err, err_size, "%s", "");
    if (tag_out && tag_size)
        tag_out[0] = '\0';
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0 || line[0] == '#' || line[0] == '"')
        return NULL; /* blank, comment, legend: err stays "" */

    const char *at = line, *end = line + len;
    if (len >= 4 && memcmp(at, "Tag=", 4) == 0) {
        at += 4;
        const char *comma = memchr(at, ',', (size_t)(end - at));
        if (!comma) {
            set_err(err, err_size, "tag is not followed by a comma");
            return NULL;
        }
        size_t tag_len = (size_t)(comma - at);
        if (tag_out && tag_size) {
            if (tag_len >= tag_size) {
                set_err(err, err_size, "tag of %zu bytes is longer than %zu", tag_len,
                        tag_size - 1);
                return NULL;
            }
            memcpy(tag_out, at, tag_len);
            tag_out[tag_len] = '\0';
        }
        at = comma + 1;
    }
    static const char *const names[3] = {"start timestamp", "interval length", "interval max"};
    double numbers[3];
    for (int f = 0; f < 3; f++) {
        const char *comma = memchr(at, ',', (size_t)(end - at));
        if (!comma) {
            set_err(err, err_size,
                    "line has %d fields, an interval needs 4 (start, length, max, "
                    "histogram)",
                    f + 1);
            return NULL;
        }
        if (!parse_seconds(at, (size_t)(comma - at), &numbers[f])) {
            set_err(err, err_size, "%s '%.*s' is not a non-negative number", names[f],
                    (int)((comma - at) > 32 ? 32 : (comma - at)), at);
            return NULL;
        }
        at = comma + 1;
    }
    size_t text_len = (size_t)(end - at);
    if (memchr(at, ',', text_len)) {
        set_err(err, err_size, "line has more than 4 fields");
        return NULL;
    }
    if (text_len > (size_t)HIST_DECODE_MAX_BYTES / 3 * 4 + 4) {
        set_err(err, err_size, "histogram text of %zu bytes is above the cap", text_len);
        return NULL;
    }
    buf_t bin;
    buf_init(&bin);
    if (base64_decode_into(&bin, at, text_len) != 0) {
        set_err(err, err_size, "histogram is not valid base64");
        buf_free(&bin);
        return NULL;
    }
    char why[200];
    hist_t *self = hist_decode_compressed(bin.data, bin.len, why, sizeof why);
    buf_free(&bin);
    if (!self) {
        set_err(err, err_size, "histogram: %s", why);
        return NULL;
    }
    if (start_s)
        *start_s = numbers[0];
    if (length_s)
        *length_s = numbers[1];
    return self;
}
