/*  run_view.h: the running coordinator seen read-only, for the parts that watch it or
    answer about it: ctl.c (status), chaos.c (when a planned action is due, what its
    command's environment says), live.c (/metrics, /live.json).

    Every answer is read when asked, so it is never stale; nothing here changes the run.
    What changes the run goes back through the narrow interfaces its owner gives: ctl's
    commands (ctl.h, ctl_commands_t), the chaos record's own functions (chaos.h).

    Where each figure comes from:
      run id, results directory, plan, clock     coordinator.c (coordinator_new, the barrier)
      phases decided and their windows, rate     the timeline (timeline.h; sequence.c decides)
      workers and their states                   registry.c
      merged figures, last closed interval       merge.c (merge.h, merge_totals_t)
      the targets' own figures                   scrape.c (scrape.h), NULL when off
      marks, fault windows                       chaos.c (chaos.h)

    Lifetime: a view is the coordinator's (run_view_of); the pointers it hands out are
    borrowed and valid as long as the coordinator is.
*/
#ifndef SURGE_COORDINATOR_RUN_VIEW_H
#define SURGE_COORDINATOR_RUN_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/merge.h"
#include "coordinator/timeline.h"
#include "plan/plan.h"

struct _coordinator_t;
struct _chaos_t;
struct _scrape_t;
typedef struct _run_view_t run_view_t;

/* The view of a coordinator (no allocation: the coordinator itself, read-only). */
const run_view_t *run_view_of(const struct _coordinator_t *coordinator);

const char *run_view_id(const run_view_t *self);
const char *run_view_out_dir(const run_view_t *self);
const plan_t *run_view_plan(const run_view_t *self);
/* The operator's ctl endpoint, "" without --ctl-bind. */
const char *run_view_ctl_endpoint(const run_view_t *self);

/* Coordinator monotonic time of the run's start; 0 until the ready barrier passed. */
int64_t run_view_t0_ns(const run_view_t *self);
int64_t run_view_interval_ns(const run_view_t *self);
int64_t run_view_heartbeat_ns(const run_view_t *self);

const run_timeline_t *run_view_timeline(const run_view_t *self);
/* The last phase announced to the fleet; -1 before the first. */
int run_view_announced_phase(const run_view_t *self);
/* No phase follows the last decided one: run_end_ns is the plan's end. */
bool run_view_end_known(const run_view_t *self);

const merge_totals_t *run_view_merged(const run_view_t *self);
int64_t run_view_rejected_messages(const run_view_t *self);

typedef struct {
    int expected; /* --workers */
    int live, lost, left;
    int64_t inflight; /* the live workers' last in-flight gauges, summed */
} run_view_fleet_t;
run_view_fleet_t run_view_fleet(const run_view_t *self);

typedef struct {
    const char *id;
    const char *state; /* "live", "lost" (lease expired), "left" (said bye) */
    double share;      /* its segment of the load; 0 unless live */
    int64_t inflight;  /* 0 unless live */
    int64_t requests;  /* finished requests merged from it */
} run_view_worker_t;
int run_view_worker_count(const run_view_t *self);
run_view_worker_t run_view_worker(const run_view_t *self, int index);

/* The targets' scraper, NULL when off: for its thread-safe reads (scrape_latest,
   scrape_target_*) only. */
struct _scrape_t *run_view_scrape(const run_view_t *self);
/* The chaos record (marks, fault windows), for reading; NULL before it exists. */
const struct _chaos_t *run_view_chaos(const run_view_t *self);

#endif
