/*  metrics.c: the interval bundle of histograms and counters (see metrics.h).

    Hot path: recording is inline in the header; nothing here runs per request except
    through those inlines. metrics_add runs once per snapshot per interval.
*/
#include "common/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(metrics_counters_t) % sizeof(int64_t) == 0, "counters are int64_t only");

static const char *const hist_names[METRIC_HIST_COUNT] = {
    "ttft", "ttft_sched", "itl", "tpot", "e2e", "response", "lag",
};

static const char *const error_names[ERR_CLASS_COUNT] = {
    "connect",      "tls",       "timeout",   "http_429", "http_4xx", "http_5xx",
    "stream_error", "truncated", "malformed", "other",    "aborted",
};

const char *metric_hist_name(metric_hist_t metric)
{
    return (unsigned)metric < METRIC_HIST_COUNT ? hist_names[metric] : "?";
}

int metric_hist_parse(const char *name)
{
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (strcmp(name, hist_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *error_class_name(error_class_t error_class)
{
    return (unsigned)error_class < ERR_CLASS_COUNT ? error_names[error_class] : "?";
}

int error_class_parse(const char *name)
{
    for (int i = 0; i < ERR_CLASS_COUNT; i++) {
        if (strcmp(name, error_names[i]) == 0)
            return i;
    }
    return -1;
}

metrics_t *metrics_new(int digits)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        self->hist[i] = hist_new(HIST_DEFAULT_LOWEST, HIST_DEFAULT_HIGHEST, digits, NULL, 0);
        if (!self->hist[i]) {
            metrics_destroy(&self);
            return NULL;
        }
    }
    return self;
}

metrics_t *metrics_new_compact(int digits)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        self->hist[i] =
            hist_new_compact(HIST_DEFAULT_LOWEST, HIST_DEFAULT_HIGHEST, digits, NULL, 0);
        if (!self->hist[i]) {
            metrics_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    for (int i = 0; i < METRIC_HIST_COUNT; i++)
        hist_destroy(&self->hist[i]);
    free(self);
    *self_p = NULL;
}

void metrics_reset(metrics_t *self)
{
    for (int i = 0; i < METRIC_HIST_COUNT; i++)
        hist_reset(self->hist[i]);
    memset(&self->c, 0, sizeof self->c);
}

int64_t metrics_add(metrics_t *self, const metrics_t *other)
{
    int64_t out_of_range = 0;
    for (int i = 0; i < METRIC_HIST_COUNT; i++)
        out_of_range += hist_add(self->hist[i], other->hist[i]);

    /* Every field of metrics_counters_t is an int64_t count: add them as an array so a
       counter added to the struct can never be forgotten here. Saturating, like hist_add:
       only forged counts get near INT64_MAX, and a wrapped total would turn them negative. */
    int64_t *dst = (int64_t *)&self->c;
    const int64_t *src = (const int64_t *)&other->c;
    for (size_t i = 0; i < sizeof self->c / sizeof(int64_t); i++) {
        if (__builtin_add_overflow(dst[i], src[i], &dst[i]))
            dst[i] = src[i] < 0 ? INT64_MIN : INT64_MAX;
    }
    return out_of_range;
}

int64_t metrics_add_requests(metrics_t *self, const metrics_t *other)
{
    int64_t received = self->c.output_tokens_received;
    int64_t out_of_range = metrics_add(self, other);
    self->c.output_tokens_received = received;
    return out_of_range;
}

bool metrics_is_empty(const metrics_t *self)
{
    const int64_t *c = (const int64_t *)&self->c;
    for (size_t i = 0; i < sizeof self->c / sizeof(int64_t); i++) {
        if (c[i])
            return false;
    }
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_total_count(self->hist[i]))
            return false;
    }
    return true;
}

static double us_to_ms(int64_t us)
{
    return (double)us / 1000.0;
}

static void write_hist_summary(jsonw_t *w, const char *key, const hist_t *hist)
{
    jsonw_key(w, key);
    jsonw_object_begin(w);
    jsonw_kv_int(w, "count", hist_total_count(hist));
    if (hist_total_count(hist) == 0) {
        static const char *const keys[] = {"p50", "p90", "p95",  "p99",   "p999",
                                           "min", "max", "mean", "stddev"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            jsonw_key(w, keys[i]);
            jsonw_null(w);
        }
    } else {
        jsonw_kv_double(w, "p50", us_to_ms(hist_value_at_percentile(hist, 50)));
        jsonw_kv_double(w, "p90", us_to_ms(hist_value_at_percentile(hist, 90)));
        jsonw_kv_double(w, "p95", us_to_ms(hist_value_at_percentile(hist, 95)));
        jsonw_kv_double(w, "p99", us_to_ms(hist_value_at_percentile(hist, 99)));
        jsonw_kv_double(w, "p999", us_to_ms(hist_value_at_percentile(hist, 99.9)));
        jsonw_kv_double(w, "min", us_to_ms(hist_min(hist)));
        jsonw_kv_double(w, "max", us_to_ms(hist_max(hist)));
        jsonw_kv_double(w, "mean", hist_mean(hist) / 1000.0);
        jsonw_kv_double(w, "stddev", hist_stddev(hist) / 1000.0);
    }
    if (hist_out_of_range(hist))
        jsonw_kv_int(w, "out_of_range", hist_out_of_range(hist));
    jsonw_object_end(w);
}

static double per_s(int64_t count, double duration_s)
{
    return duration_s > 0 ? (double)count / duration_s : 0.0;
}

void metrics_write_summary(const metrics_t *self, jsonw_t *w, double duration_s, double offered_rps)
{
    metrics_write_summary_window(self, w, duration_s, duration_s, self->c.ok, offered_rps);
}

void metrics_write_summary_window(const metrics_t *self, jsonw_t *w, double duration_s,
                                  double received_s, int64_t delivered_ok, double offered_rps)
{
    const metrics_counters_t *c = &self->c;
    int64_t finished = c->ok + c->failed;

    jsonw_object_begin(w);
    jsonw_key(w, "requests");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "total", finished);
    jsonw_kv_int(w, "ok", c->ok);
    jsonw_kv_int(w, "errors", c->failed);
    jsonw_kv_int(w, "dropped", c->dropped);
    jsonw_kv_int(w, "scheduled", c->scheduled);
    jsonw_kv_int(w, "sent", c->sent);
    jsonw_object_end(w);
    jsonw_kv_double(w, "error_rate", finished ? (double)c->failed / (double)finished : 0.0);
    jsonw_key(w, "errors_by_class");
    jsonw_object_begin(w);
    for (int i = 0; i < ERR_CLASS_COUNT; i++)
        jsonw_kv_int(w, error_names[i], c->errors[i]);
    jsonw_object_end(w);

    char key[32];
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        snprintf(key, sizeof key, "%s_ms", hist_names[i]);
        write_hist_summary(w, key, self->hist[i]);
    }

    jsonw_kv_double(w, "duration_s", duration_s);
    jsonw_kv_double(w, "offered_rps", offered_rps);
    jsonw_kv_double(w, "achieved_rps", per_s(c->sent, duration_s));
    jsonw_kv_double(w, "completed_rps", per_s(finished, duration_s));
    jsonw_kv_double(w, "delivered_rps", per_s(delivered_ok, duration_s));
    jsonw_kv_double(w, "goodput_rps", per_s(c->slo_ok, duration_s));
    /* Little's law (L = lambda W): the requests actually in flight on average, from the
       successful requests' rate and their mean E2E (failed ones have no E2E). Not the
       plan's users or concurrency: what the target really held. */
    const hist_t *e2e = self->hist[METRIC_E2E];
    double e2e_mean_s = hist_total_count(e2e) ? hist_mean(e2e) / 1e6 : 0.0;
    jsonw_kv_double(w, "concurrency_achieved", per_s(c->ok, duration_s) * e2e_mean_s);
    jsonw_kv_double(w, "output_tokens_per_s", per_s(c->output_tokens_received, received_s));
    jsonw_kv_double(w, "input_tokens_per_s", per_s(c->input_tokens, duration_s));
    jsonw_kv_int(w, "output_tokens", c->output_tokens);
    jsonw_kv_int(w, "output_tokens_received", c->output_tokens_received);
    jsonw_kv_int(w, "input_tokens", c->input_tokens);
    jsonw_kv_int(w, "tokens_estimated_requests", c->tokens_estimated);
    jsonw_kv_int(w, "bytes_in", c->bytes_in);
    jsonw_object_end(w);
}
