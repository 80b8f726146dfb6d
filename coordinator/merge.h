/*  merge.h: the run's merged figures, built from the workers' snapshots by exact addition
    (common/metrics.h, "two views"; the story is at the top of merge.c).

    By time: a snapshot of interval k joins the open interval k; the interval closes when
    every reporter expected to send it has (the coordinator's answer to `complete`), or
    when grace_ns has passed after its end, and closing tells every listener
    (merge_on_close), in interval order, once per interval. By phase: a snapshot's parts
    count in the phases that scheduled their requests, whenever they ended, and in the
    run for measured phases. Per target, per class, per turn: the whole run.

    A merge_t knows nothing of sockets, workers or files: it reads the run's phases from a
    run_timeline_t (borrowed, read-only) and asks the coordinator whether an interval is
    complete through a callback. Tests drive it with synthetic snapshots
    (tests/coordinator/test_merge.c).

    Ownership: merge_new / merge_destroy; snapshots and listeners' arguments are borrowed;
    what merge_totals returns is the merge's, valid until merge_destroy.
*/
#ifndef SURGE_COORDINATOR_MERGE_H
#define SURGE_COORDINATOR_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/metrics.h"
#include "coordinator/timeline.h"
#include "proto/proto.h"

#define MERGE_MAX_OPEN      64 /* intervals open at once (grace / interval + slack) */
#define MERGE_MAX_LISTENERS 8  /* of closed intervals: outputs, chaos, live, with room */

typedef struct _merge_t merge_t;

/* The figures so far, read-only outside merge.c. Arrays by phase have the timeline's
   phase_cap entries. */
typedef struct {
    /* By phase: each phase's own requests, whenever they ended, plus the output tokens
       received inside its window; NULL for a phase nothing was merged into (it did not
       run). */
    metrics_t **phase_metrics;
    int64_t *phase_tail_requests, *phase_tail_max_ns; /* ended after the phase's end */
    int64_t *phase_window_ok; /* by time: requests that ended ok inside the window */
    int64_t run_window_ok;    /* the same, over the measured phases' windows */
    metrics_t *run_metrics;   /* measured phases */
    /* Intervals after the last phase's window (by time): the drain, its own span. Reset
       when a phase is decided after them (they were then a recovery gap). */
    metrics_t *drain_metrics;
    int64_t drain_first_index, drain_last_index; /* -1 = none */
    metrics_t **target_metrics;                  /* per target, whole run (2 digits) */
    int target_count;
    metrics_t **class_metrics; /* per class of a mix (class_count >= 2), whole run; or NULL */
    int class_count;
    /* per turn index of conversations (PROTO_MAX_TURN_BUCKETS, the last also every later
       turn), whole run; NULL until a snapshot carries turns */
    metrics_t **turn_metrics;
    int64_t late_snapshots; /* merged after their interval had closed (totals only) */
    int64_t next_close;     /* every interval below has closed */
    /* The last closed interval (the progress line, ctl status); NULL before the first. */
    const metrics_t *last_closed;
    int64_t last_closed_index; /* -1 before the first */
} merge_totals_t;

/* A closed interval, as listeners see it (borrowed for the call). */
typedef struct {
    int64_t index;            /* since run_t0: [index, index + 1) * interval_ns */
    int phase;                /* the timeline phase holding its start; -1 outside every window */
    const metrics_t *metrics; /* every snapshot merged into it; empty when none came */
    int reporters;            /* snapshots merged into it */
    int64_t inflight;         /* their in-flight gauges, summed */
} merge_interval_t;

typedef void(merge_close_fn)(void *arg, const merge_interval_t *interval);
/* Whether every reporter expected to send interval `index` has sent it. */
typedef bool(merge_complete_fn)(void *arg, int64_t index);

typedef struct {
    const run_timeline_t *timeline; /* borrowed; its phase_cap is final */
    int64_t interval_ns, grace_ns;
    int target_count; /* the plan's */
    int class_count;  /* the plan's; per-class figures only from 2 */
    merge_complete_fn *complete;
    void *complete_arg;
} merge_config_t;

/* NULL when out of memory. */
merge_t *merge_new(const merge_config_t *config);
void merge_destroy(merge_t **self_p);

/* Adds a listener of closed intervals; they are called in the order added. -1 when
   MERGE_MAX_LISTENERS are there. */
int merge_on_close(merge_t *self, merge_close_fn *fn, void *arg);

/* The run's clock started: interval k ends at run_t0_ns + (k + 1) * interval_ns. Nothing
   closes before. */
void merge_start(merge_t *self, int64_t run_t0_ns);

/* Merges one checked snapshot (reject.c; ownership stays with the caller). False when it
   was late (its interval had closed, or no slot was free): then it is in the totals only,
   not in the time series. */
bool merge_snapshot(merge_t *self, const proto_snapshot_t *snap);

/* Closes the intervals that are complete or past grace, in order; all of them when `all`
   (the run's end). */
void merge_close_ready(merge_t *self, int64_t now_ns, bool all);

/* A phase was decided after the last: intervals counted as drain were a gap. */
void merge_phase_decided(merge_t *self);

const merge_totals_t *merge_totals(const merge_t *self);

#endif
