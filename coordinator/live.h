/*  live.h: the coordinator's live view during a run (--metrics-listen HOST:PORT):
    /metrics for Prometheus (docs/metrics.md), the live page at / and its figures at
    /live.json (docs/live.md).

    A libevent evhttp server on an event base and thread of its own serves what the
    coordinator last published: the Prometheus page and the last intervals' lines
    (rendered when an interval closes) and the run's state (rendered a few times a second
    by live_tick), from a read-only view of the run (run_view.h). Publishing swaps buffers under a
   mutex, so a client never touches the coordinator's state nor waits for its loop, and the loop
   never waits for a client.

    Off loopback every path needs the run's bearer token (generated per run into
    RESULTS_DIR/live.token, 0600, or --live-token-file's, which applies on loopback too).
*/
#ifndef SURGE_LIVE_H
#define SURGE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonw.h"
#include "common/metrics.h"
#include "coordinator/run_view.h"
#include "coordinator/scrape.h"

typedef struct _live_t live_t;

typedef struct {
    const char *listen;     /* HOST:PORT, an IPv6 host in brackets; port 0 = the kernel's */
    const char *token_file; /* NULL: a token only off loopback, generated */
    const char *out_dir;    /* where a generated token goes (live.token); NULL: nowhere */
} live_config_t;

/* Binds, sets up the token and starts the server thread. NULL with a reason in err. */
live_t *live_new(const live_config_t *config, char *err, size_t err_size);
/* Stops the server thread, closes every connection and frees everything. */
void live_destroy(live_t **self_p);
/* "HOST:PORT" with the bound port. */
const char *live_address(const live_t *self);
/* The token clients must send, or NULL when none is needed. */
const char *live_token(const live_t *self);

/* After interval `index` (of phase `phase`) closed with the merged figures `interval`
   (borrowed), `inflight` requests in flight, and `line` (line_len bytes), its
   intervals.jsonl line: renders /metrics and keeps the line for /live.json. */
void live_interval_closed(live_t *self, const run_view_t *run, int64_t index, int phase,
                          const metrics_t *interval, int64_t inflight, const char *line,
                          size_t line_len);
/* Renders the run's state (`state`: waiting, running, draining, done) for /live.json when
   it is older than a fifth of a second, or at once with `force`. */
void live_tick(live_t *self, const run_view_t *run, const char *state, int64_t now_ns, bool force);
/* Publishes once more with the run over (surge_run_finished 1, state "finished"). */
void live_finished(live_t *self, const run_view_t *run);

/* "targets": [{url, running, waiting, kv_cache_usage, scrape_errors}], the targets' own
   figures as last scraped (empty when scrape is NULL); for /live.json and ctl status. */
void live_write_targets(scrape_t *scrape, jsonw_t *w);

/* The page at / (live_page.c): one self-contained HTML document. */
extern const char live_page_html[];

#endif
