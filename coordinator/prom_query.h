/*  prom_query.h: range queries to a Prometheus server over the run's window, and their
    charts in report.html (docs/metrics.md "Prometheus range queries").

    What the targets' own /metrics cannot say (GPU utilisation from DCGM, power, node
    memory) usually lives in a cluster's Prometheus. At the end of a run the coordinator
    asks it /api/v1/query_range for each of the plan's PromQL expressions over the run's
    wall-clock window, at a step of the run's interval (or the plan's), and stores the
    answer in results.json `prometheus` with the times on the run's clock, so the report
    draws it beside the client's view.

    Bounded: 10 s per query, 16 MiB per answer, 64 series per query, 10000 points per
    series. A query that fails (unreachable server, a PromQL error, a non-matrix answer)
    is stored with its error; it never fails the run.
*/
#ifndef SURGE_PROM_QUERY_H
#define SURGE_PROM_QUERY_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jsonw.h"

#define PROM_QUERY_MAX 32 /* queries per plan */

typedef struct {
    const char *url;          /* http://prometheus:9090 (borrowed) */
    const char *const *names; /* query names, count entries (borrowed) */
    const char *const *exprs; /* PromQL, count entries (borrowed) */
    int count;
    int64_t start_wall_ns, end_wall_ns; /* the run's window (CLOCK_REALTIME) */
    int64_t run_t0_wall_ns;             /* t = 0 of the run's clock */
    int64_t step_ms;
} prom_query_config_t;

/* Queries used when only --prometheus URL is given: DCGM's GPU figures. */
extern const char *const prom_query_default_names[];
extern const char *const prom_query_default_exprs[];
extern const int prom_query_default_count;

/* One query's answer (the body of /api/v1/query_range, outside input): writes its
   `"series": [...]` (at most 64 series of 10000 points, times on the run's clock) into the
   object w is writing and returns NULL, or writes nothing and returns why (static text or
   why). Any bytes are safe. */
const char *prom_query_answer_write(const prom_query_config_t *config, const char *body, size_t len,
                                    jsonw_t *w, char *why, size_t why_size);

/* Runs every query and writes `"prometheus": {...}` into the object w is writing. */
void prom_query_write(const prom_query_config_t *config, jsonw_t *w);

#endif
