/*  metrics.h: what one interval of load produces, the unit every layer passes around.

    A metrics_t is a bundle of histograms (microseconds) and counters. The engine
    records into one per thread per target, swaps it at each interval boundary, the
    wire protocol carries it (histograms in HdrHistogram V2), and the coordinator merges
    them: metrics_add is exact (histogram counts and counters add), so the merge of
    every worker's interval k equals one metrics_t of all the requests of interval k,
    and a phase total is the merge of its intervals.

    Definitions (docs/metrics.md says how each maps to vLLM, GuideLLM, AIPerf, LLMPerf):
      ttft           first non-empty content (or reasoning) event - actual send
      ttft_sched     first non-empty content event - intended send (coordinated-omission free)
      itl            every gap between consecutive content events of a request (vLLM's ITL)
      tpot           per request: (e2e - ttft) / (output_tokens - 1), when output_tokens > 1
      e2e            end of response - actual send (service time)
      response       end of response - intended send (response time, includes client queueing)
      lag            actual send - intended send (schedule lag; grows when the client limits)
    Two views of the same requests (docs/results.md, "Two views"):
      by time     a request is recorded in the interval in which it ends (or fails); the
                  interval series (intervals.jsonl, the over-time charts) is this view;
      by phase    the same records also count in the phase (level, iteration) that
                  scheduled the request, whenever it ends: a phase's latencies, outcomes
                  and tokens are those of its own requests, not of a backlog it inherited.
    Throughput is neither: output_tokens_received counts output tokens in the span in
    which they arrived (every streamed chunk as it comes; the server's final usage
    corrects the count when the request ends), so tokens/s of a span is what the cluster
    delivered during it. It is recorded only in the by-time view; a phase gets the tokens
    received inside its window (coordinator/merge.c), never those of its own requests.
    Errors are classified once per request (error_class_t); a dropped arrival (a cap was
    reached, nothing was sent) is counted in `dropped`, never silently skipped.

    Hot path: metrics_record_* allocate nothing and take no lock; a metrics_t belongs
    to one thread at a time.
*/
#ifndef SURGE_METRICS_H
#define SURGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/histogram.h"
#include "common/jsonw.h"

typedef enum {
    METRIC_TTFT = 0,
    METRIC_TTFT_SCHED,
    METRIC_ITL,
    METRIC_TPOT,
    METRIC_E2E,
    METRIC_RESPONSE,
    METRIC_LAG,
    METRIC_HIST_COUNT
} metric_hist_t;

typedef enum {
    ERR_CONNECT = 0,  /* could not connect (refused, unreachable, DNS) */
    ERR_TLS,          /* TLS handshake or certificate failure */
    ERR_TIMEOUT,      /* per-request timeout, or no byte for too long */
    ERR_HTTP_429,     /* 429 Too Many Requests */
    ERR_HTTP_4XX,     /* any other 4xx */
    ERR_HTTP_5XX,     /* any 5xx */
    ERR_STREAM_ERROR, /* the server sent an error object inside a 200 stream */
    ERR_TRUNCATED,    /* the stream ended (or the connection reset) before [DONE]/finish */
    ERR_MALFORMED,    /* an event or body that is not the JSON we expect */
    ERR_OTHER,        /* anything else (local failure, refused by the allow-list, ...) */
    ERR_ABORTED,      /* still in flight when the run's time was over (plan + drain), or
                         when the worker fenced: aborted by surge, not failed by the server */
    ERR_CLASS_COUNT
} error_class_t;

typedef struct {
    int64_t scheduled; /* arrivals whose intended send time fell in the interval */
    int64_t sent;      /* requests actually sent */
    int64_t ok;        /* requests that completed successfully */
    int64_t failed;    /* requests that ended in an error (sum of errors[]) */
    int64_t dropped;   /* arrivals not sent because a cap was reached */
    int64_t errors[ERR_CLASS_COUNT];
    int64_t output_tokens;    /* completion tokens of finished requests (server usage first) */
    int64_t input_tokens;     /* prompt tokens (server usage) */
    int64_t tokens_estimated; /* requests whose output tokens were counted from events */
    int64_t slo_ok;           /* requests meeting every SLO of the phase (goodput numerator) */
    int64_t bytes_in;         /* response bytes received */
    /* output tokens that arrived during the span these metrics cover (see above) */
    int64_t output_tokens_received;
    /* conversations (docs/workloads.md#conversations), counted where they end: completed
       after their last turn, abandoned when a turn failed; and the turns sent with the
       oldest history left out to fit the model's context */
    int64_t conversations_completed;
    int64_t conversations_abandoned;
    int64_t context_truncated;
} metrics_counters_t;

typedef struct {
    hist_t *hist[METRIC_HIST_COUNT]; /* owned; same layout in every metrics_t */
    metrics_counters_t c;
} metrics_t;

/* digits: significant digits of every histogram (1 us .. 1 h). 3 for run totals; the
   per-target breakdown uses 2 to keep a 64-target run's memory small. NULL on bad digits. */
metrics_t *metrics_new(int digits);
/* The same, holding no histogram counters until a histogram's first value (hist_new_compact):
   for metrics that most intervals leave empty (a conversation's later turns). */
metrics_t *metrics_new_compact(int digits);
void metrics_destroy(metrics_t **self_p);
void metrics_reset(metrics_t *self);
/* Exact merge: histograms add, counters add. Returns the number of histogram values that
   fell out of self's range (0 when layouts are equal). */
int64_t metrics_add(metrics_t *self, const metrics_t *other);
/* metrics_add of what belongs to requests only: every histogram and counter except
   output_tokens_received, which belongs to the time span the tokens arrived in. Used
   where by-time metrics stand for the requests of one phase. */
int64_t metrics_add_requests(metrics_t *self, const metrics_t *other);
bool metrics_is_empty(const metrics_t *self);

const char *metric_hist_name(metric_hist_t metric);      /* "ttft", "itl", ... */
int metric_hist_parse(const char *name);                 /* -1 when unknown */
const char *error_class_name(error_class_t error_class); /* "connect", "http_5xx", ... */
int error_class_parse(const char *name);                 /* -1 when unknown */

/* Records a value in microseconds (negative values are clamped to 0). */
static inline void metrics_record_us(metrics_t *self, metric_hist_t metric, int64_t value_us)
{
    hist_record(self->hist[metric], value_us < 0 ? 0 : value_us);
}
static inline void metrics_count_error(metrics_t *self, error_class_t error_class)
{
    self->c.errors[error_class]++;
    self->c.failed++;
}

/* Writes the summary object of the results format (docs/results.md):
     {"requests": {"total", "ok", "errors", "dropped"}, "error_rate", "errors_by_class": {...},
      "ttft_ms": {"p50","p90","p95","p99","max","mean"}, ... for every histogram,
      "offered_rps", "achieved_rps", "output_tokens_per_s", "input_tokens_per_s",
      "goodput_rps", ...}
   duration_s is the wall time the metrics cover (rates are per second of it; the output
   token rate is output_tokens_received over it); offered_rps is given by the caller (the
   plan's rate, or scheduled / duration). */
void metrics_write_summary(const metrics_t *self, jsonw_t *w, double duration_s,
                           double offered_rps);
/* A phase's summary, where the by-phase metrics meet the time window (merge.c):
   received_s is the span of the whole intervals where output_tokens_received was counted
   (the window, when it ends on the interval grid), delivered_ok the requests (of any
   phase) that ended successfully inside the window: "delivered_rps", what the cluster
   completed while the phase offered its load. metrics_write_summary is this with the
   metrics' own span: received_s = duration_s, delivered_ok = c.ok. */
void metrics_write_summary_window(const metrics_t *self, jsonw_t *w, double duration_s,
                                  double received_s, int64_t delivered_ok, double offered_rps);

#endif
