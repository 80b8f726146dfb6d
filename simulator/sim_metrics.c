/*  sim_metrics.c: Prometheus text exposition (format 0.0.4) of the simulator's state. */
#include "simulator/sim_metrics.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 24

typedef struct {
    const char *name;
    const char *help;
    int bucket_count;
    double bounds[MAX_BUCKETS]; /* upper bounds, seconds; +Inf implied */
} hist_def_t;

/* vLLM's bucket bounds for these metrics. */
static const hist_def_t hist_defs[SIM_HIST_COUNT] = {
    [SIM_HIST_TTFT] = {"vllm:time_to_first_token_seconds",
                       "Histogram of time to first token in seconds.",
                       22,
                       {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
                        1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}},
    [SIM_HIST_ITL] = {"vllm:inter_token_latency_seconds",
                      "Histogram of inter-token latency in seconds.",
                      19,
                      {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                       7.5, 10.0, 20.0, 40.0, 80.0}},
    [SIM_HIST_TPOT] = {"vllm:time_per_output_token_seconds",
                       "Histogram of time per output token in seconds.",
                       19,
                       {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
                        5.0, 7.5, 10.0, 20.0, 40.0, 80.0}},
    [SIM_HIST_E2E] = {"vllm:e2e_request_latency_seconds",
                      "Histogram of end to end request latency in seconds.",
                      21,
                      {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                       30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}},
    [SIM_HIST_QUEUE] = {"vllm:request_queue_time_seconds",
                        "Histogram of time spent in WAITING phase for request.",
                        21,
                        {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                         30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}},
};

typedef struct {
    int64_t counts[MAX_BUCKETS + 1]; /* per bucket (not cumulative); last is +Inf */
    int64_t count;
    double sum;
} hist_data_t;

static const char *const end_names[SIM_END_COUNT] = {"length", "stop", "abort"};

struct _sim_metrics_t {
    hist_data_t hists[SIM_HIST_COUNT];
    int64_t ends[SIM_END_COUNT];
    int64_t status_counts[6]; /* index = status / 100 */
};

sim_metrics_t *sim_metrics_new(void)
{
    return calloc(1, sizeof(sim_metrics_t));
}

void sim_metrics_destroy(sim_metrics_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

void sim_metrics_observe(sim_metrics_t *self, sim_hist_id_t hist, double seconds)
{
    const hist_def_t *def = &hist_defs[hist];
    hist_data_t *data = &self->hists[hist];
    int i = 0;
    while (i < def->bucket_count && seconds > def->bounds[i])
        i++;
    data->counts[i]++;
    data->count++;
    data->sum += seconds;
}

void sim_metrics_count_end(sim_metrics_t *self, sim_end_t end)
{
    self->ends[end]++;
}

void sim_metrics_count_status(sim_metrics_t *self, int status)
{
    int klass = status / 100;
    if (klass >= 1 && klass <= 5)
        self->status_counts[klass]++;
}

static void write_header(buf_t *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_gauges(buf_t *out, const char *model, const sim_engine_stats_t *r, int n)
{
    write_header(out, "vllm:num_requests_running", "gauge",
                 "Number of requests in model execution batches.");
    for (int i = 0; i < n; i++)
        buf_printf(out, "vllm:num_requests_running{engine=\"%d\",model_name=\"%s\"} %d\n", i, model,
                   r[i].running);
    write_header(out, "vllm:num_requests_waiting", "gauge",
                 "Number of requests waiting to be processed.");
    for (int i = 0; i < n; i++)
        buf_printf(out, "vllm:num_requests_waiting{engine=\"%d\",model_name=\"%s\"} %d\n", i, model,
                   r[i].waiting);
    const char *usage_names[] = {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"};
    for (int k = 0; k < 2; k++) {
        write_header(out, usage_names[k], "gauge", "KV-cache usage. 1 means 100 percent usage.");
        for (int i = 0; i < n; i++)
            buf_printf(out, "%s{engine=\"%d\",model_name=\"%s\"} %.6f\n", usage_names[k], i, model,
                       r[i].total_blocks ? (double)r[i].used_blocks / r[i].total_blocks : 0.0);
    }
}

static void write_counter(buf_t *out, const char *name, const char *help, const char *model,
                          const sim_engine_stats_t *r, int n, size_t field_offset)
{
    write_header(out, name, "counter", help);
    for (int i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, (const char *)&r[i] + field_offset, sizeof v);
        buf_printf(out, "%s{engine=\"%d\",model_name=\"%s\"} %lld\n", name, i, model, (long long)v);
    }
}

static void write_hist(buf_t *out, const hist_def_t *def, const hist_data_t *data,
                       const char *model)
{
    write_header(out, def->name, "histogram", def->help);
    int64_t cumulative = 0;
    for (int i = 0; i < def->bucket_count; i++) {
        cumulative += data->counts[i];
        buf_printf(out, "%s_bucket{le=\"%g\",model_name=\"%s\"} %lld\n", def->name, def->bounds[i],
                   model, (long long)cumulative);
    }
    buf_printf(out, "%s_bucket{le=\"+Inf\",model_name=\"%s\"} %lld\n", def->name, model,
               (long long)data->count);
    buf_printf(out, "%s_sum{model_name=\"%s\"} %.9g\n", def->name, model, data->sum);
    buf_printf(out, "%s_count{model_name=\"%s\"} %lld\n", def->name, model, (long long)data->count);
}

void sim_metrics_render(const sim_metrics_t *self, buf_t *out, const char *model,
                        const sim_engine_stats_t *replicas, int replica_count,
                        const sim_faults_t *faults, int64_t now_ns)
{
    write_gauges(out, model, replicas, replica_count);
    write_counter(out, "vllm:num_preemptions_total", "Cumulative number of preemptions.", model,
                  replicas, replica_count, offsetof(sim_engine_stats_t, preemptions_total));
    write_counter(out, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", model,
                  replicas, replica_count, offsetof(sim_engine_stats_t, prompt_tokens_total));
    write_counter(out, "vllm:generation_tokens_total", "Number of generation tokens processed.",
                  model, replicas, replica_count,
                  offsetof(sim_engine_stats_t, generation_tokens_total));
    /* vLLM V1's names: tokens looked up (the prompts) and, of those, found cached. */
    write_counter(out, "vllm:prefix_cache_queries_total",
                  "Prefix cache queries, in terms of number of queried tokens.", model, replicas,
                  replica_count, offsetof(sim_engine_stats_t, prefix_query_tokens_total));
    write_counter(out, "vllm:prefix_cache_hits_total",
                  "Prefix cache hits, in terms of number of cached tokens.", model, replicas,
                  replica_count, offsetof(sim_engine_stats_t, prefix_hit_tokens_total));
    write_counter(out, "surge_sim_prefix_cache_evicted_blocks_total",
                  "Cached KV blocks reclaimed for new ones (least recently used first).", model,
                  replicas, replica_count,
                  offsetof(sim_engine_stats_t, prefix_evicted_blocks_total));
    write_counter(out, "surge_sim_steps_total", "Engine steps (iterations) run.", model, replicas,
                  replica_count, offsetof(sim_engine_stats_t, steps_total));
    write_header(out, "vllm:request_success_total", "counter",
                 "Count of finished requests, by finish reason (abort: the client left or a "
                 "fault cut it).");
    for (int i = 0; i < SIM_END_COUNT; i++)
        buf_printf(out,
                   "vllm:request_success_total{finished_reason=\"%s\",model_name=\"%s\"} %lld\n",
                   end_names[i], model, (long long)self->ends[i]);
    for (int h = 0; h < SIM_HIST_COUNT; h++)
        write_hist(out, &hist_defs[h], &self->hists[h], model);
    write_header(out, "surge_sim_http_responses_total", "counter",
                 "HTTP responses by status class.");
    for (int k = 1; k <= 5; k++)
        buf_printf(out, "surge_sim_http_responses_total{code=\"%dxx\"} %lld\n", k,
                   (long long)self->status_counts[k]);
    sim_faults_write_metrics(faults, out, now_ns);
}
