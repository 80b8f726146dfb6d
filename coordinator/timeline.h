/*  timeline.h: the phases a run decided, with their windows: the one read-only answer to
    "which phase does this moment belong to, and what rate was offered then".

    sequence.c decides phases one at a time and appends them here; coordinator.c gives
    each its window [start, end) as offsets from run_t0 on the interval grid. Everyone
    else only reads: merge.c (which phase an interval's tokens count in), outputs.c,
    progress.c, live.c, ctl.c, chaos.c. Nothing here knows the coordinator.
*/
#ifndef SURGE_COORDINATOR_TIMELINE_H
#define SURGE_COORDINATOR_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"

/* A phase the run decided to run (sequence.c): a copy of a plan phase, or one part of a
   saturation level. Phases are decided one at a time, so the run's list grows as it goes
   and differs from plan->phases when the plan searches. */
typedef struct {
    plan_phase_t phase; /* name and kind owned by the run */
    int plan_index;     /* plan->phases index; -1 for a saturation level's part */
    int stage;          /* plan->extra->stages index; -1 without an extra */
    int level;          /* ramp step / search level within the stage (0-based) */
    bool settle;        /* the unmeasured start of a level */
    bool continues;     /* starts right after the previous phase (same stage): no recovery */
} run_phase_t;

/* The offered rate once the operator's overrides (ctl.h: pause, set-rate) are applied to
   the plan's `planned` rate of phase `phase` at offset_ns from run_t0. */
typedef double(timeline_rate_fn)(const void *arg, int64_t offset_ns, int phase, double planned);

typedef struct {
    /* Parallel arrays of phase_cap entries (sequence.c sizes them once: the plan's phases
       plus every search at its longest), phase_count used; times are offsets from run_t0.
       Owned by the coordinator (sequence_init / sequence_free). */
    run_phase_t *phases;
    int phase_count, phase_cap;
    int64_t *phase_start_ns, *phase_end_ns;
    int64_t run_end_ns; /* offset of the last decided phase's end */
    /* Overrides of the planned rate (NULL = none): ctl_rate_at through coordinator.c. */
    timeline_rate_fn *rate_override;
    const void *rate_override_arg;
} run_timeline_t;

/* The phase whose window [start, end) holds offset_ns; -1 outside every window (before
   the first phase, a recovery gap, the drain). An interval belongs to the phase that
   holds its start. */
int timeline_phase_at(const run_timeline_t *self, int64_t offset_ns);
/* The planned global rate at offset_ns, overrides applied; 0 outside rate phases. */
double timeline_planned_rate_at(const run_timeline_t *self, int64_t offset_ns);
/* Whether offset_ns lies after the last decided phase's window (the drain). */
bool timeline_after_last(const run_timeline_t *self, int64_t offset_ns);

#endif
