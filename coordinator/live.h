/*  live.h: the coordinator's own /metrics, for Prometheus and Grafana during a run
    (--metrics-listen HOST:PORT; docs/metrics.md lists every metric).

    A small HTTP server (poll(2), GET only) in a thread of its own serves the last rendered
    page; the coordinator renders a new page each time an interval closes and swaps it in
    under a mutex. A scrape therefore never touches the coordinator's state and never
    waits for its loop, and the loop never waits for a slow scraper.

    The page: the run (info, phase, finished), rates and in-flight of the last interval,
    cumulative counters (requests by outcome, errors by class, tokens, dropped arrivals),
    workers by state, TTFT/ITL/TPOT/E2E/schedule lag as summaries over the run so far plus
    gauges of the last interval's quantiles, and the targets' scraped figures
    (surge_server_*{target=...}) when the scraper runs.
*/
#ifndef SURGE_LIVE_H
#define SURGE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "coordinator/coordinator.h"

typedef struct _live_t live_t;

/* Binds HOST:PORT (an IPv6 host in brackets; port 0 = the kernel's choice) and starts
   the server thread. NULL with a reason in err. */
live_t *live_new(const char *listen, char *err, size_t err_size);
/* Stops the server thread and frees everything. */
void live_destroy(live_t **self_p);
/* "HOST:PORT" with the bound port. */
const char *live_address(const live_t *self);

/* Renders and publishes the page after interval `index` (of phase `phase`) closed with
   the merged figures `interval` (borrowed) and `inflight` requests in flight. */
void live_interval_closed(live_t *self, const coordinator_t *coordinator, int64_t index, int phase,
                          const metrics_t *interval, int64_t inflight);
/* Publishes the page once more with surge_run_finished 1 (the run is over). */
void live_finished(live_t *self, const coordinator_t *coordinator);

#endif
