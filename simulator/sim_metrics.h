/*  sim_metrics.h: the simulator's /metrics, in Prometheus text format with vLLM's names.

    Latency histograms use vLLM's bucket bounds (seconds) so dashboards built for vLLM
    read them unchanged; the gauges and per-engine counters come from each replica's
    engine at scrape time (label engine="i"). Recording is a bucket search and two adds:
    no allocation, no lock (one event-loop thread owns it).
*/
#ifndef SURGE_SIM_METRICS_H
#define SURGE_SIM_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "simulator/sim_engine.h"
#include "simulator/sim_faults.h"

typedef enum {
    SIM_HIST_TTFT,  /* vllm:time_to_first_token_seconds */
    SIM_HIST_ITL,   /* vllm:inter_token_latency_seconds */
    SIM_HIST_TPOT,  /* vllm:time_per_output_token_seconds (per request mean) */
    SIM_HIST_E2E,   /* vllm:e2e_request_latency_seconds */
    SIM_HIST_QUEUE, /* vllm:request_queue_time_seconds */
    SIM_HIST_COUNT
} sim_hist_id_t;

typedef enum { SIM_END_LENGTH, SIM_END_STOP, SIM_END_ABORT, SIM_END_COUNT } sim_end_t;

typedef struct _sim_metrics_t sim_metrics_t;

sim_metrics_t *sim_metrics_new(void);
void sim_metrics_destroy(sim_metrics_t **self_p);
void sim_metrics_observe(sim_metrics_t *self, sim_hist_id_t hist, double seconds);
/* A request that ended, by how (vllm:request_success_total{finished_reason}). */
void sim_metrics_count_end(sim_metrics_t *self, sim_end_t end);
/* HTTP answers by status class, for surge_sim_http_responses_total{code}. */
void sim_metrics_count_status(sim_metrics_t *self, int status);

/* Appends the whole exposition. replicas: one stats record per engine. */
void sim_metrics_render(const sim_metrics_t *self, buf_t *out, const char *model,
                        const sim_engine_stats_t *replicas, int replica_count,
                        const sim_faults_t *faults, int64_t now_ns);

#endif
