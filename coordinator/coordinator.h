/*  coordinator.h: drives a fleet of workers through a plan and writes the results
    directory (docs/fleet.md, docs/results.md).

    One ROUTER socket; one control loop (coordinator_run) that never blocks on merging
    or I/O for long, so heartbeats are answered within milliseconds:

      1. registration: hello -> welcome (refused with both versions named when the
         protocol versions differ) -> plan (the engine configuration);
      2. ready barrier: `workers` workers, or at least `min_workers` once
         ready_timeout_ms has passed;
      3. a common start time run_t0 in the future, aligned so that intervals of every
         worker carry the same index; phases are decided one at a time (sequence.c: a
         saturation search picks its next level from the last one's summary) and each is
         announced before its t0 with each worker's segment [from, to) of the unit
         interval, sized by announced capacity; between stages of a plan file the fleet
         first drains (nothing in flight, bounded by the plan's timeout);
      4. leases: a worker silent for 3 heartbeats is dead (its lease has expired: it has
         fenced itself by then), and new segments take effect one heartbeat later; a
         joining or returning worker is given a segment the same way;
      5. snapshots are acked by sequence number, merged by interval index (duplicates
         ignored; late ones still merged into the phase and run totals); an interval
         closes when every live worker has sent it or a grace time has passed, and is
         appended to intervals.jsonl (flushed and fsynced) at once;
      6. at the end: stop, drain, bye; results.json written atomically with the plan's
         verdicts, and the summary printed from it (summary.c).

    Inside (coord_internal.h has the map): the merged figures are a merge_t's
    (merge.h), which tells its listeners (intervals.jsonl, the chaos impact table, the
    live page) when an interval closes; the phases decided are a run_timeline_t
    (timeline.h); ctl, chaos and live read the run through a read-only run_view_t
    (run_view.h) and change it only through what coordinator.c hands them.
*/
#ifndef SURGE_COORDINATOR_H
#define SURGE_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "plan/plan.h"
#include "proto/curve.h"
#include "proto/endpoint.h" /* endpoint_is_loopback: the fleet and ctl binds ask it */

typedef enum {
    PROGRESS_AUTO = 0, /* a live line on a terminal, plain periodic lines otherwise */
    PROGRESS_LINE,     /* force the live line */
    PROGRESS_PLAIN,    /* force plain lines */
    PROGRESS_NONE      /* --quiet */
} progress_mode_t;

typedef struct {
    const char *bind; /* "tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "ipc://..." */
    bool insecure;    /* allow binding off loopback without CURVE */
    /* CURVE: the coordinator's certificate and the ZAP handler admitting the allowed worker
       keys, started by the caller before coordinator_new binds; NULL = plain text. Borrowed. */
    const curve_server_t *curve;
    /* The operator's ctl socket (docs/chaos.md): NULL = none. ctl_curve: it admits the
       operator keys of `curve` (curve_server_allow_ctl); off loopback it needs that or
       `insecure`. */
    const char *ctl_bind;
    bool ctl_curve;
    int workers;              /* workers to wait for */
    int min_workers;          /* 0 = `workers`; else start with this many after the timeout */
    int64_t ready_timeout_ms; /* 0 = 30 s */
    int64_t heartbeat_ms;     /* 0 = 500 ms */
    int64_t drain_ms;         /* wait for in-flight requests after the last phase; 0 = 15 s */
    const char *out_dir;      /* NULL: results/<timestamp> */
    bool record_requests;     /* write requests.jsonl */
    progress_mode_t progress;
    bool summary; /* print the end-of-run summary (phases, answers, SLA table) to stdout */
    /* Live metrics (docs/metrics.md): GET /metrics on HOST:PORT, NULL = off; the page stays
       up metrics_linger_ms after the run so that a last scrape sees the final figures. */
    const char *metrics_listen;
    int64_t metrics_linger_ms;
    /* The live page's bearer token (docs/live.md): its first line; NULL = a token only off
       loopback, generated per run into RESULTS_DIR/live.token. */
    const char *live_token_file;
    /* Prometheus range queries at the end (prom_query.h): the server, overriding the
       plan's prometheus.url; NULL = the plan's, if any. */
    const char *prometheus_url;
} coordinator_config_t;

typedef struct _coordinator_t coordinator_t;

/* Validates the plan, creates the results directory and binds. NULL with a reason in err
   (and *exit_code set to SURGE_EXIT_USAGE or SURGE_EXIT_RUNTIME). The plan is borrowed and
   must outlive the coordinator. */
coordinator_t *coordinator_new(const plan_t *plan, const coordinator_config_t *config,
                               int *exit_code, char *err, size_t err_size);
void coordinator_destroy(coordinator_t **self_p);

/* The endpoint workers connect to (the bound port resolved: "tcp://127.0.0.1:40123"). */
const char *coordinator_endpoint(const coordinator_t *self);
/* The results directory. */
const char *coordinator_out_dir(const coordinator_t *self);

/* Runs the plan to the end; returns an exit code (common/exit_codes.h): 1 when an SLA
   check of the plan failed. */
int coordinator_run(coordinator_t *self);
/* Asks coordinator_run to stop the fleet and finish early (safe from a signal handler). */
void coordinator_request_stop(coordinator_t *self);

/* After coordinator_run: the merged metrics of the i-th phase the run ran (results.json
   phases[i]; a plan's saturation search runs phases of its own, so i is not an index into
   plan->phases) or NULL, and the run's measured total. Borrowed. */
const metrics_t *coordinator_phase_metrics(const coordinator_t *self, int phase_index);
const metrics_t *coordinator_total_metrics(const coordinator_t *self);

/* Keeps freed histogram-sized blocks in the heap instead of returning them to the kernel:
   every decoded snapshot allocates and frees ~1.5 MB of histograms, and without this each
   one costs fresh zeroed pages (page faults dominated the cost per snapshot 10 to 1).
   Process-wide; coordinator_new calls it. */
void coordinator_tune_malloc(void);

#endif
