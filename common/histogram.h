/*  histogram.h: HDR-style log-linear histogram, the one histogram of surge.

    The layout is HdrHistogram's, so that its V2 encoding and interval logs can be
    read by standard HdrHistogram tooling (hdr-histogram-js, HdrHistogram_c, Java):

      sub_bucket_count = 2^ceil(log2(2 * 10^digits)), half = sub_bucket_count / 2
      unit_magnitude   = floor(log2(lowest))
      bucket_count     = smallest b with sub_bucket_count << (unit_magnitude + b - 1) > highest
      counts_len       = (bucket_count + 1) * half

    A value v lands in a bucket whose width is at most v / half, i.e. the relative
    error of any reported value is at most 10^-digits (0.1% at 3 digits). Two
    histograms with the same (lowest, highest, digits) merge exactly: hist_add is
    plain addition of counts, so the merged histogram equals one histogram of the
    union of the samples. Percentiles of merged histograms are therefore the
    percentiles of all samples, never averages of percentiles.

    Values outside [0, highest] are never dropped silently: they are counted in
    out_of_range and reported beside the percentiles. Units are the caller's; surge
    records microseconds (default range 1 us .. 1 h, 3 digits: 184 KiB of counts).

    Hot path: hist_record allocates nothing and takes no lock; a histogram belongs
    to one thread at a time.
*/
#ifndef SURGE_HISTOGRAM_H
#define SURGE_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define HIST_DEFAULT_LOWEST  1LL
#define HIST_DEFAULT_HIGHEST 3600000000LL /* 1 h in microseconds */
#define HIST_DEFAULT_DIGITS  3
/* Largest `highest` accepted: every bucket edge then fits in an int64_t. */
#define HIST_MAX_HIGHEST (INT64_MAX / 2)
/* Decoding caps (input comes from the network): a decoded layout may hold at most
   HIST_DECODE_MAX_COUNTS counters (32 MiB; 1 us .. 1 h at 5 digits needs 2,097,152),
   and the compressed input, its inflated form and a log line's base64 text are each
   at most HIST_DECODE_MAX_BYTES. */
#define HIST_DECODE_MAX_COUNTS (1 << 22)
#define HIST_DECODE_MAX_BYTES  (16 * 1024 * 1024)

typedef struct _hist_t hist_t;

/* lowest >= 1, highest >= 2 * lowest, 1 <= digits <= 5; NULL (with a reason in err) otherwise. */
hist_t *hist_new(int64_t lowest, int64_t highest, int digits, char *err, size_t err_size);
/* The same, empty and holding no counters yet: the first value recorded or added gives
   it all of them (as hist_new would have). For histograms that are likely to stay empty,
   such as the ones a snapshot does not carry. */
hist_t *hist_new_compact(int64_t lowest, int64_t highest, int digits, char *err, size_t err_size);
/* 1 us .. 1 h at 3 significant digits. */
hist_t *hist_new_default(void);
/* A new empty histogram with the same layout as `other`. */
hist_t *hist_new_like(const hist_t *other);
void hist_destroy(hist_t **self_p);

/* Records one value; returns false (and counts it in out_of_range) when out of range. */
bool hist_record(hist_t *self, int64_t value);
/* Records `count` occurrences of `value`. */
bool hist_record_n(hist_t *self, int64_t value, int64_t count);
/* Adds every count of `other` into self. Exact when the layouts are equal; otherwise
   each bucket of `other` is re-recorded at its median-equivalent value (and precision
   is that of the coarser layout). Out-of-range counts add up too. Returns the number of
   values of `other` that fell out of self's range. */
int64_t hist_add(hist_t *self, const hist_t *other);
/* Empties the histogram (layout kept). */
void hist_reset(hist_t *self);
bool hist_same_layout(const hist_t *a, const hist_t *b);

int64_t hist_total_count(const hist_t *self);            /* in-range values recorded */
int64_t hist_out_of_range(const hist_t *self);           /* values refused as out of range */
void hist_set_out_of_range(hist_t *self, int64_t count); /* used when decoding snapshots */
int64_t hist_min(const hist_t *self);                    /* 0 when empty */
int64_t hist_max(const hist_t *self);   /* highest-equivalent of the top value; 0 when empty */
double hist_mean(const hist_t *self);   /* 0 when empty */
double hist_stddev(const hist_t *self); /* 0 when empty */
/* HdrHistogram's definition: the highest-equivalent value of the bucket holding the
   ceil(p/100 * total)-th value (p in [0, 100], at least the 1st value); for p = 0,
   as Java and JS do, the lowest-equivalent value of the smallest one. 0 when empty. */
int64_t hist_value_at_percentile(const hist_t *self, double percentile);

int64_t hist_lowest(const hist_t *self);
int64_t hist_highest(const hist_t *self);
int hist_digits(const hist_t *self);
/* Number of counters of the layout, and bytes the histogram occupies (docs/histogram.md
   has a table for hist_new; a compact histogram occupies less until it is made full). */
size_t hist_counts_len(const hist_t *self);
size_t hist_memory_bytes(const hist_t *self);
/* Smallest and largest values that share v's bucket; and the bucket's median. */
int64_t hist_lowest_equivalent(const hist_t *self, int64_t value);
int64_t hist_highest_equivalent(const hist_t *self, int64_t value);
int64_t hist_median_equivalent(const hist_t *self, int64_t value);

/* Iterates over non-empty buckets in increasing value order. Start with *cursor = 0;
   returns false when done. */
bool hist_next_bucket(const hist_t *self, size_t *cursor, int64_t *value_out, int64_t *count_out);

/* ---- HdrHistogram V2 encoding ------------------------------------------------ */

/* Appends the "V2 compressed" form (cookie 0x1c849304, zlib-deflated V2 payload with
   ZigZag-LEB128 run-length counts) to out. start/end stamps are not part of it. */
void hist_encode_compressed(const hist_t *self, buf_t *out);
/* Decodes V2 compressed (or uncompressed V2, cookie 0x1c849303). Strict: bad cookie,
   bad or inconsistent lengths, trailing bytes, a layout hist_new refuses or larger than
   HIST_DECODE_MAX_COUNTS, counts past the layout, a total count that overflows, or an
   inflated size above HIST_DECODE_MAX_BYTES are refused with a reason. NULL on failure.
   The header's normalizing_index_offset and conversion ratio are ignored: V2 payloads
   list counts in value order whatever they say (Java writes logical counts; JS writes
   offset 1 and ratio bits 1 for every histogram; see docs/histogram.md).
   When its values span at most 4,096 counters (a 1 s snapshot's, typically) the result
   is compact: it holds only the counters from its smallest value's to its largest's (a
   few KiB instead of 184), and behaves in every call like a histogram from hist_new; a
   value recorded into it, or an add reaching outside that span, first gives it every
   counter. A wider one is full. */
hist_t *hist_decode_compressed(const void *data, size_t len, char *err, size_t err_size);
/* The same, accepting only the layout (lowest, highest, digits): any other is refused from
   the 40-byte header, before a counter or the payload is allocated. For input from the
   network, where a 60-byte histogram claiming 5 digits would otherwise cost 16 MiB. */
hist_t *hist_decode_compressed_layout(const void *data, size_t len, int64_t lowest, int64_t highest,
                                      int digits, char *err, size_t err_size);

/* ---- HdrHistogram interval log ----------------------------------------------- */
/* Lines as HdrHistogram's HistogramLogWriter writes them:
     #[StartTime: 1700000000.000 (seconds since epoch), 2023-11-14T...]
     "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
     Tag=ttft,0.000,1.000,451.200,HISTFAAAA...
   Interval_Max is in the log's max-value unit (surge writes ms, i.e. divisor 1000). */
void hist_log_header(buf_t *out, int64_t start_wall_ns, const char *comment);
void hist_log_interval(buf_t *out, const char *tag, double start_s, double length_s,
                       const hist_t *self, double max_value_divisor);
/* Parses one interval line (tag optional). On success fills start/length and returns a
   new histogram; comment/header lines return NULL with err = "" (skip them). */
hist_t *hist_log_parse_line(const char *line, char *tag_out, size_t tag_size, double *start_s,
                            double *length_s, char *err, size_t err_size);

/* Base64 (RFC 4648, with padding), used by the interval log. */
void base64_encode_into(buf_t *out, const void *data, size_t len);
/* Returns 0 on success, -1 on invalid input. */
int base64_decode_into(buf_t *out, const char *text, size_t len);

#endif
