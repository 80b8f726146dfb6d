/*  timeline.c: which phase a moment belongs to, and its planned rate (see timeline.h). */
#include "coordinator/timeline.h"

int timeline_phase_at(const run_timeline_t *self, int64_t offset_ns)
{
    for (int i = self->phase_count - 1; i >= 0; i--) {
        if (self->phase_start_ns[i] <= offset_ns)
            return offset_ns < self->phase_end_ns[i] ? i : -1;
    }
    return -1;
}

double timeline_planned_rate_at(const run_timeline_t *self, int64_t offset_ns)
{
    for (int i = 0; i < self->phase_count; i++) {
        const plan_phase_t *p = &self->phases[i].phase;
        if (offset_ns < self->phase_start_ns[i] || offset_ns >= self->phase_end_ns[i])
            continue;
        if (p->load != PHASE_LOAD_RATE)
            return 0;
        double x = (double)(offset_ns - self->phase_start_ns[i]) /
                   (double)(self->phase_end_ns[i] - self->phase_start_ns[i]);
        double planned = p->schedule.start_rate_per_s +
                         (p->schedule.end_rate_per_s - p->schedule.start_rate_per_s) * x;
        return self->rate_override
                   ? self->rate_override(self->rate_override_arg, offset_ns, i, planned)
                   : planned;
    }
    return 0;
}

bool timeline_after_last(const run_timeline_t *self, int64_t offset_ns)
{
    return self->phase_count > 0 && offset_ns >= self->phase_end_ns[self->phase_count - 1];
}
