/*  chaos.h: a chaos campaign: the plan's `chaos:` actions, the run's marks, fault windows
    and load overrides, and the fault impact table written to results.json `chaos`
    (docs/chaos.md).

    Planned actions fire on the coordinator's control loop and never block it: a command
    is forked with its output on a pipe that the loop reads without waiting, and it is
    killed (its whole process group) at its timeout. Commands get the run's targets,
    ctl endpoint and results directory in their environment (SURGE_TARGETS,
    SURGE_TARGET_0..N, SURGE_CTL_ENDPOINT, SURGE_RESULTS_DIR, SURGE_FAULT).

    Ownership: chaos_plan_t (from the plan file) belongs to the plan's extra; chaos_t (the
    run's record) to the coordinator, which creates it with chaos_new and frees it with
    chaos_destroy.
*/
#ifndef SURGE_COORDINATOR_CHAOS_H
#define SURGE_COORDINATOR_CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>

#include "common/jsonw.h"
#include "common/metrics.h"
#include "plan/chaos_plan.h"

#define CHAOS_MAX_RECORDS      4096 /* marks, faults, overrides: a long campaign's worth */
#define CHAOS_OUTPUT_MAX_BYTES 4096 /* of each command's output kept in results.json */

typedef struct _chaos_t chaos_t;
typedef struct _run_view_t run_view_t;

/* The run's record; plan may be NULL (marks and faults from `surge ctl` only). */
chaos_t *chaos_new(const chaos_plan_t *plan);
/* Kills commands still running (and reaps them) and frees everything. */
void chaos_destroy(chaos_t **self_p);

/* Records, at t_s seconds from the run's start; source is "plan" or "ctl". */
void chaos_mark(chaos_t *self, double t_s, const char *text, const char *source);
/* Opens / closes the fault window `name`. -1 with a reason (already open, not open). */
int chaos_fault_start(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                      size_t err_size);
int chaos_fault_end(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                    size_t err_size);
/* A load override (pause, resume, set-rate; rate_rps < 0 when none) on phase `phase`. */
void chaos_override(chaos_t *self, double t_s, const char *command, const char *phase,
                    double rate_rps, const char *source);
/* Names of the fault windows open now, comma-separated, into out. */
void chaos_open_faults(const chaos_t *self, char *out, size_t size);
int chaos_mark_count(const chaos_t *self);
/* The live page (live.c): every mark as "marks": [{t_s, text, source}] and every fault
   window as "faults": [{name, start_s, end_s (null while open), source}], as two keys of
   the object being written. */
void chaos_write_events(const chaos_t *self, jsonw_t *w);

/* A closed interval's figures, for the impact table. */
void chaos_add_interval(chaos_t *self, double start_s, double end_s, const metrics_t *m);
/* intervals.jsonl: the marks and open fault windows of [start_s, end_s) as
   "chaos": {...} (nothing when there are none). */
void chaos_write_interval(const chaos_t *self, double start_s, double end_s, jsonw_t *w);

/* On each tick of the control loop: fires due actions, reads their output, reaps them,
   kills those past their timeout. may_fire: the run is on (no new action otherwise). The
   run (read-only, run_view.h) says when an action is due and what its command's
   environment holds. */
void chaos_tick(chaos_t *self, const run_view_t *run, int64_t now_ns, bool may_fire);

/* results.json "chaos" (key and value), when the plan has actions or anything was
   recorded. run_end_s closes fault windows still open. */
void chaos_write_results(chaos_t *self, jsonw_t *w, double run_end_s);

#endif
