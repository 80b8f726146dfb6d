/*  prom.h: a strict, bounded parser of the Prometheus text exposition format 0.0.4.

    What a scraped /metrics page says, as a flat list of samples:

        # HELP vllm:num_requests_running Number of requests in model execution batches.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{engine="0",model_name="m"} 7
        vllm:request_queue_time_seconds_bucket{le="+Inf"} 42 1712000000000

    Histograms and summaries are their plain samples (`x_bucket{le=...}`, `x_sum`,
    `x_count`, `x{quantile=...}`); `# TYPE` lines are kept per family name. Values are
    doubles (`+Inf`, `-Inf`, `NaN` included), timestamps integer milliseconds.

    Strict: a line that is not a comment, a blank line or a well-formed sample is an
    error "line L:C: what was expected" (label values know only the escapes \\ \" \n; a
    metric or label name has the format's characters; a value must be a whole number
    token). Bounded: a line longer than max_line_bytes, more than max_samples samples or
    more than max_labels labels on one sample is an error, so a hostile page costs at most
    a bounded amount of memory. Not checked: that a series is unique, that a family's
    samples are contiguous (Prometheus itself is lenient there).

    Ownership: prom_parse returns a document that owns every string; samples and labels
    are borrowed from it until prom_doc_destroy.
*/
#ifndef SURGE_PROM_H
#define SURGE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_DEFAULT_MAX_LINE_BYTES (64 * 1024) /* vLLM's longest lines are ~300 bytes */
#define PROM_DEFAULT_MAX_SAMPLES    100000      /* a 64-engine vLLM node serves ~5000 */
#define PROM_DEFAULT_MAX_LABELS     32          /* per sample; vLLM uses at most 4 */

typedef enum {
    PROM_UNTYPED = 0,
    PROM_COUNTER,
    PROM_GAUGE,
    PROM_HISTOGRAM,
    PROM_SUMMARY
} prom_type_t;

typedef struct {
    const char *name;
    const char *value; /* unescaped */
} prom_label_t;

typedef struct {
    const char *name;
    const prom_label_t *labels; /* label_count entries, in the page's order */
    int label_count;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms;
    int line; /* 1-based line in the page */
} prom_sample_t;

typedef struct {
    size_t max_line_bytes; /* 0 = PROM_DEFAULT_MAX_LINE_BYTES */
    int max_samples;       /* 0 = PROM_DEFAULT_MAX_SAMPLES */
    int max_labels;        /* 0 = PROM_DEFAULT_MAX_LABELS */
} prom_limits_t;

typedef struct _prom_doc_t prom_doc_t;

/* Parses `len` bytes (no terminator needed). NULL with "line L:C: message" in err when the
   page is not valid or exceeds a limit. limits may be NULL (the defaults). */
prom_doc_t *prom_parse(const char *text, size_t len, const prom_limits_t *limits, char *err,
                       size_t err_size);
void prom_doc_destroy(prom_doc_t **self_p);

int prom_doc_sample_count(const prom_doc_t *self);
const prom_sample_t *prom_doc_sample(const prom_doc_t *self, int index);
/* The `# TYPE` of a family (PROM_UNTYPED when the page did not say). */
prom_type_t prom_doc_type(const prom_doc_t *self, const char *family);
/* The sum of the values of every sample named `name`, over all its label sets (a vLLM
   node with several engines has one series per engine). *count (may be NULL) is how many
   samples there were; 0 means the page does not have the metric, and the sum is 0. */
double prom_doc_sum(const prom_doc_t *self, const char *name, int *count);
/* The value of a sample's label, or NULL. */
const char *prom_sample_label(const prom_sample_t *sample, const char *label_name);

const char *prom_type_name(prom_type_t type); /* "counter", ... */

#endif
