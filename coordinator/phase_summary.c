/*  phase_summary.c: a run phase's summary as results.json has it, from the merged figures
    (merge.h) and the phase's window (timeline.h). Shared by outputs.c (results.json) and
    sequence.c (a saturation search judges each level by it). */
#include <jansson.h>

#include "common/buf.h"
#include "coordinator/coord_internal.h"

double phase_offered_rps(const plan_phase_t *p, double duration_s)
{
    if (p->load != PHASE_LOAD_RATE || duration_s <= 0)
        return 0;
    return (p->schedule.start_rate_per_s + p->schedule.end_rate_per_s) / 2.0;
}

double phase_duration_s(const coordinator_t *self, int i)
{
    return (double)(self->timeline.phase_end_ns[i] - self->timeline.phase_start_ns[i]) / 1e9;
}

/* The intervals whose start lies in phase i's window: where its received tokens were
   counted (merge.c). Equal to its duration when that is a whole number of intervals. */
double phase_received_s(const coordinator_t *self, int i)
{
    int64_t I = self->interval_ns;
    int64_t first = self->timeline.phase_start_ns[i] / I,
            end = (self->timeline.phase_end_ns[i] + I - 1) / I;
    return (double)((end - first) * I) / 1e9;
}

void phase_summary_write(const coordinator_t *self, int i, jsonw_t *w)
{
    double d = phase_duration_s(self, i);
    metrics_write_summary_window(self->merged->phase_metrics[i], w, d, phase_received_s(self, i),
                                 self->merged->phase_window_ok[i],
                                 phase_offered_rps(&self->timeline.phases[i].phase, d));
}

json_t *phase_summary_json(const coordinator_t *self, int i)
{
    if (i < 0 || i >= self->timeline.phase_count || !self->merged->phase_metrics[i])
        return NULL;
    buf_t text;
    buf_init(&text);
    jsonw_t w;
    jsonw_init(&w, &text);
    phase_summary_write(self, i, &w);
    json_t *summary = json_loadb(text.data, text.len, 0, NULL);
    buf_free(&text);
    return summary;
}
