/*  merge.c: snapshots -> intervals -> phases -> run, all by exact addition.

    Snapshots arrive here checked (reject.c: the sender's own id, an interval it can
    have measured, plausible counts), and the seq bitmap has kept replays out.

    Two views (common/metrics.h). By time: a snapshot's total of interval k is added to
    the open interval k; interval k closes when every live worker expected to report it
    has, or when grace_ns has passed after its end, and closing appends it to
    intervals.jsonl and the *.hlog files. By phase: the snapshot's parts (its requests
    split by the phase that scheduled them) are added to those phases (and, for measured
    phases, to the run) as they arrive, whatever the interval: a saturated level's
    backlog counts in the level that sent it, never in the next. Throughput joins the
    two: the output tokens received in an interval count in the phase whose window holds
    the interval (or in the drain after the last phase), added when the interval closes.

    A snapshot that arrives after its interval closed (a worker's re-sent backlog after
    a reconnect, a departed worker's last words) is late for the time series only: its
    parts go to their phases as always, and its received tokens to the window of its
    interval. Per-target and per-class totals are added as snapshots arrive.

    Cost: one metrics_add per snapshot into its interval; the by-phase add of an interval
    whose snapshots all name one phase (all but the intervals where phases hand over) is
    one more per closed interval (merge_parts); elsewhere one per part. Nothing here
    blocks on the network.
*/
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/coord_internal.h"

void merge_init(coordinator_t *self)
{
    for (int i = 0; i < COORD_MAX_OPEN; i++)
        self->open[i].index = -1;
    self->phase_metrics = calloc((size_t)self->phase_cap, sizeof *self->phase_metrics);
    self->phase_tail_requests = calloc((size_t)self->phase_cap, sizeof(int64_t));
    self->phase_tail_max_ns = calloc((size_t)self->phase_cap, sizeof(int64_t));
    self->phase_window_ok = calloc((size_t)self->phase_cap, sizeof(int64_t));
    self->run_metrics = metrics_new(HIST_DEFAULT_DIGITS);
    self->drain_metrics = metrics_new(HIST_DEFAULT_DIGITS);
    self->drain_first_index = self->drain_last_index = -1;
    self->target_metrics = calloc((size_t)self->plan->target_count, sizeof *self->target_metrics);
    for (int i = 0; i < self->plan->target_count; i++)
        self->target_metrics[i] = metrics_new(2);
    if (self->plan->class_count >= 2) { /* one class would be the run itself */
        self->class_metrics = calloc((size_t)self->plan->class_count, sizeof *self->class_metrics);
        for (int i = 0; self->class_metrics && i < self->plan->class_count; i++)
            self->class_metrics[i] = metrics_new(2);
    }
    self->last_closed_index = -1;
}

void merge_free(coordinator_t *self)
{
    for (int i = 0; i < COORD_MAX_OPEN; i++)
        metrics_destroy(&self->open[i].metrics);
    for (int i = 0; self->phase_metrics && i < self->phase_cap; i++)
        metrics_destroy(&self->phase_metrics[i]);
    free(self->phase_metrics);
    self->phase_metrics = NULL;
    free(self->phase_tail_requests);
    free(self->phase_tail_max_ns);
    free(self->phase_window_ok);
    self->phase_tail_requests = self->phase_tail_max_ns = self->phase_window_ok = NULL;
    metrics_destroy(&self->drain_metrics);
    for (int i = 0; self->target_metrics && i < self->plan->target_count; i++)
        metrics_destroy(&self->target_metrics[i]);
    free(self->target_metrics);
    self->target_metrics = NULL;
    for (int i = 0; self->class_metrics && i < self->plan->class_count; i++)
        metrics_destroy(&self->class_metrics[i]);
    free(self->class_metrics);
    self->class_metrics = NULL;
    for (int i = 0; self->turn_metrics && i < PROTO_MAX_TURN_BUCKETS; i++)
        metrics_destroy(&self->turn_metrics[i]);
    free(self->turn_metrics);
    self->turn_metrics = NULL;
    metrics_destroy(&self->run_metrics);
    metrics_destroy(&self->last_closed);
}

int phase_of_interval(const coordinator_t *self, int64_t index)
{
    int64_t start = index * self->interval_ns;
    for (int i = self->phase_count - 1; i >= 0; i--) {
        if (self->phase_start_ns[i] <= start)
            return start < self->phase_end_ns[i] ? i : -1;
    }
    return -1;
}

void merge_phase_decided(coordinator_t *self)
{
    metrics_reset(self->drain_metrics);
    self->drain_first_index = self->drain_last_index = -1;
}

double planned_rate_at(const coordinator_t *self, int64_t offset_ns)
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
        return self->ctl ? ctl_rate_at(self->ctl, offset_ns, i, planned) : planned;
    }
    return 0;
}

static metrics_t *phase_totals(coordinator_t *self, int phase)
{
    if (phase < 0 || phase >= self->phase_count)
        return NULL;
    if (!self->phase_metrics[phase])
        self->phase_metrics[phase] = metrics_new(HIST_DEFAULT_DIGITS);
    return self->phase_metrics[phase];
}

/* By phase: the requests of `phase` (a snapshot part) count there and in the run. */
static void add_phase_requests(coordinator_t *self, int phase, const metrics_t *m)
{
    metrics_t *totals = phase_totals(self, phase);
    if (!totals)
        return; /* a phase this run never decided: reject.c lets none through */
    metrics_add_requests(totals, m);
    if (self->phases[phase].phase.measure)
        metrics_add_requests(self->run_metrics, m);
}

/* By time: tokens received and requests completed in interval `index` count in the
   window that holds it. */
static void add_received(coordinator_t *self, int64_t index, const metrics_t *interval)
{
    int64_t tokens = interval->c.output_tokens_received;
    int phase = phase_of_interval(self, index);
    metrics_t *totals = phase_totals(self, phase);
    if (totals) {
        totals->c.output_tokens_received += tokens;
        self->phase_window_ok[phase] += interval->c.ok;
        if (self->phases[phase].phase.measure) {
            self->run_metrics->c.output_tokens_received += tokens;
            self->run_window_ok += interval->c.ok;
        }
        return;
    }
    int last = self->phase_count - 1;
    if (last < 0 || index * self->interval_ns < self->phase_end_ns[last])
        return; /* before the first phase, or between two */
    /* The drain: by time, kept apart (results.json "drain"); tokens only here once. */
    if (self->drain_first_index < 0 || index < self->drain_first_index)
        self->drain_first_index = index;
    if (index > self->drain_last_index)
        self->drain_last_index = index;
    metrics_add(self->drain_metrics, interval);
}

/* The interval's by-phase add, deferred until now, is made: from here on its snapshots
   are added to their phases as they arrive. */
static void stop_deferring(coordinator_t *self, open_interval_t *slot)
{
    if (slot->deferred_phase >= 0)
        add_phase_requests(self, slot->deferred_phase, slot->metrics);
    slot->deferred_phase = MERGE_DEFER_DIRECT;
}

/* By phase. Nearly every snapshot names one phase, its whole total (docs/protocol.md), and
   nearly every interval holds the snapshots of that one phase: then the interval's merged
   total is that phase's, and it is added to the phase once, when the interval closes,
   instead of once per snapshot (a merge per snapshot is the coordinator's largest cost
   after decoding). slot is NULL for a late snapshot: added at once. */
static void merge_parts(coordinator_t *self, open_interval_t *slot, const proto_snapshot_t *snap)
{
    for (int i = 0; i < snap->phase_count; i++) {
        const proto_phase_part_t *part = &snap->phases[i];
        int p = part->phase_index;
        if (p < 0 || p >= self->phase_count)
            continue;
        self->phase_tail_requests[p] += part->tail_requests;
        if (part->tail_max_ns > self->phase_tail_max_ns[p])
            self->phase_tail_max_ns[p] = part->tail_max_ns;
    }
    if (slot && snap->phase_count == 1 && !snap->phases[0].metrics) {
        int p = snap->phases[0].phase_index;
        if (slot->deferred_phase == MERGE_DEFER_EMPTY)
            slot->deferred_phase = p;
        if (slot->deferred_phase == p)
            return;
    }
    if (slot)
        stop_deferring(self, slot);
    if (snap->phase_count == 0) {
        /* A worker that does not split by phase: its total counts in the window. */
        add_phase_requests(self, phase_of_interval(self, snap->interval), snap->total);
        return;
    }
    for (int i = 0; i < snap->phase_count; i++) {
        const proto_phase_part_t *part = &snap->phases[i];
        add_phase_requests(self, part->phase_index, part->metrics ? part->metrics : snap->total);
    }
}

static open_interval_t *open_slot(coordinator_t *self, int64_t index)
{
    open_interval_t *free_slot = NULL;
    for (int i = 0; i < COORD_MAX_OPEN; i++) {
        if (self->open[i].index == index)
            return &self->open[i];
        if (self->open[i].index < 0 && !free_slot)
            free_slot = &self->open[i];
    }
    if (!free_slot)
        return NULL;
    if (!free_slot->metrics)
        free_slot->metrics = metrics_new(HIST_DEFAULT_DIGITS);
    if (!free_slot->metrics)
        return NULL;
    metrics_reset(free_slot->metrics);
    free_slot->index = index;
    free_slot->reporters = 0;
    free_slot->inflight = 0;
    free_slot->deferred_phase = MERGE_DEFER_EMPTY;
    return free_slot;
}

void merge_snapshot(coordinator_t *self, worker_t *worker, const proto_snapshot_t *snap)
{
    /* snapshot_refusal (reject.c) has checked its interval, sender and counts. */
    worker->snapshots++;
    worker->requests += snap->total->c.ok + snap->total->c.failed;
    worker->inflight = snap->inflight;
    if (snap->interval > worker->max_interval_seen)
        worker->max_interval_seen = snap->interval;

    int targets = snap->target_count < self->plan->target_count ? snap->target_count
                                                                : self->plan->target_count;
    for (int i = 0; i < targets; i++)
        metrics_add(self->target_metrics[i], snap->per_target[i]);
    int classes = self->class_metrics ? self->plan->class_count : 0;
    if (snap->class_count < classes)
        classes = snap->class_count;
    for (int i = 0; i < classes; i++) {
        if (self->class_metrics[i])
            metrics_add(self->class_metrics[i], snap->per_class[i]);
    }
    if (snap->turn_count > 0 && !self->turn_metrics) { /* a run with conversations */
        self->turn_metrics = calloc(PROTO_MAX_TURN_BUCKETS, sizeof *self->turn_metrics);
        for (int i = 0; self->turn_metrics && i < PROTO_MAX_TURN_BUCKETS; i++)
            self->turn_metrics[i] = metrics_new_compact(3); /* grows with its first turn */
    }
    for (int i = 0; self->turn_metrics && i < snap->turn_count; i++) {
        if (self->turn_metrics[i])
            metrics_add(self->turn_metrics[i], snap->per_turn[i]);
    }
    if (snap->requests_jsonl_len)
        outputs_write_requests(self, snap->requests_jsonl, snap->requests_jsonl_len);
    open_interval_t *slot =
        snap->interval >= self->next_close ? open_slot(self, snap->interval) : NULL;
    merge_parts(self, slot, snap); /* before the total joins the slot (stop_deferring) */
    if (!slot) {
        /* Late (its interval has closed) or no room: never lost, only not in the series. */
        self->late_snapshots++;
        log_info("worker %s: late snapshot for interval %lld merged into the totals", worker->id,
                 (long long)snap->interval);
        add_received(self, snap->interval, snap->total);
        return;
    }
    metrics_add(slot->metrics, snap->total);
    slot->reporters++;
    slot->inflight += snap->inflight;
}

static bool interval_complete(const coordinator_t *self, int64_t index)
{
    int expected = 0;
    for (int i = 0; i < self->worker_count; i++) {
        const worker_t *w = self->workers[i];
        if (w->state != WORKER_LIVE || !w->has_plan || w->first_interval > index)
            continue;
        expected++;
        if (w->max_interval_seen < index)
            return false;
    }
    return expected > 0;
}

static int64_t max_open_index(const coordinator_t *self)
{
    int64_t max = -1;
    for (int i = 0; i < COORD_MAX_OPEN; i++) {
        if (self->open[i].index > max)
            max = self->open[i].index;
    }
    return max;
}

void merge_close_ready(coordinator_t *self, int64_t now_ns, bool all)
{
    if (self->run_t0_ns == 0)
        return;
    int64_t last = all ? max_open_index(self) : INT64_MAX;
    while (self->next_close <= last) {
        int64_t k = self->next_close;
        int64_t end_ns = self->run_t0_ns + (k + 1) * self->interval_ns;
        if (!all) {
            if (now_ns < end_ns)
                break;
            if (now_ns < end_ns + self->grace_ns && !interval_complete(self, k))
                break;
        }
        open_interval_t *slot = NULL;
        for (int i = 0; i < COORD_MAX_OPEN; i++) {
            if (self->open[i].index == k)
                slot = &self->open[i];
        }
        if (!slot) {
            slot = open_slot(self, k); /* an interval nobody reported: written as empty */
            if (!slot)
                break;
        }
        int phase = phase_of_interval(self, k);
        if (slot->deferred_phase >= 0)
            add_phase_requests(self, slot->deferred_phase, slot->metrics);
        add_received(self, k, slot->metrics);
        outputs_write_interval(self, k, slot, phase);

        /* Keep the closed interval for the progress line: swap, do not copy. */
        metrics_t *keep = slot->metrics;
        slot->metrics = self->last_closed;
        self->last_closed = keep;
        self->last_closed_index = k;
        slot->index = -1;
        self->next_close++;
    }
}
