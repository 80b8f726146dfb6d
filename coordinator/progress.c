/*  progress.c: what the run is doing, for the person watching it.

    On a terminal: one line rewritten in place (phase, offered and achieved rate,
    in-flight, TTFT P50/P99 and error rate of the last closed interval, time left).
    Not a terminal: the same as a plain line every 5 s. --quiet: nothing. Goes to stderr
    so stdout stays clean for whatever a script expects there.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/coord_internal.h"

#define PROGRESS_TTY_NS   (250 * 1000000LL)
#define PROGRESS_PLAIN_NS (5 * 1000000000LL)

void progress_update(coordinator_t *self, int64_t now_ns, bool force)
{
    if (self->cfg.progress == PROGRESS_NONE)
        return;
    int64_t every = self->progress_tty ? PROGRESS_TTY_NS : PROGRESS_PLAIN_NS;
    if (!force && now_ns - self->last_progress_ns < every)
        return;
    self->last_progress_ns = now_ns;

    char line[320];
    int live = registry_live_count(self);
    if (self->run_t0_ns == 0) {
        snprintf(line, sizeof line, "waiting for workers: %d of %d", live, self->cfg.workers);
    } else {
        int64_t offset = now_ns - self->run_t0_ns;
        int phase = offset < 0 ? 0
                               : timeline_phase_at(&self->timeline,
                                                   offset / self->interval_ns * self->interval_ns);
        double left_s = (double)(self->timeline.run_end_ns - offset) / 1e9;
        int64_t inflight = 0;
        for (int i = 0; i < self->worker_count; i++) {
            if (self->workers[i]->state == WORKER_LIVE)
                inflight += self->workers[i]->inflight;
        }
        double achieved = 0, p50 = 0, p99 = 0, error_rate = 0;
        const metrics_t *m = self->merged->last_closed;
        if (m) {
            double interval_s = (double)self->interval_ns / 1e9;
            achieved = (double)m->c.sent / interval_s;
            p50 = (double)hist_value_at_percentile(m->hist[METRIC_TTFT], 50) / 1000.0;
            p99 = (double)hist_value_at_percentile(m->hist[METRIC_TTFT], 99) / 1000.0;
            int64_t finished = m->c.ok + m->c.failed;
            error_rate = finished ? 100.0 * (double)m->c.failed / (double)finished : 0;
        }
        snprintf(line, sizeof line,
                 "%-12s offered %7.1f/s  achieved %7.1f/s  in-flight %5lld  TTFT p50 %7.1f ms "
                 "p99 %7.1f ms  errors %5.1f%%  workers %d  left %5.0fs",
                 phase >= 0 ? self->timeline.phases[phase].phase.name
                 : self->timeline.phase_count > 0 &&
                         offset >= self->timeline.phase_end_ns[self->timeline.phase_count - 1]
                     ? "drain"
                     : "between",
                 timeline_planned_rate_at(&self->timeline, offset), achieved, (long long)inflight,
                 p50, p99, error_rate, live, left_s > 0 ? left_s : 0);
    }
    if (self->progress_tty)
        fprintf(stderr, "\r\033[K%s", line);
    else
        fprintf(stderr, "surge[coordinator] %s\n", line);
    fflush(stderr);
}

void progress_finish(coordinator_t *self)
{
    if (self->cfg.progress != PROGRESS_NONE && self->progress_tty) {
        fputc('\n', stderr);
        fflush(stderr);
    }
}
