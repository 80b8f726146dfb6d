/*  merge.c: snapshots -> intervals -> phases -> run, all by exact addition.

    Snapshots arrive here checked (reject.c: the sender's own id, an interval it can
    have measured, plausible counts), and the seq bitmap has kept replays out.

    Two views (common/metrics.h). By time: a snapshot's total of interval k is added to
    the open interval k; interval k closes when every live worker expected to report it
    has, or when grace_ns has passed after its end, and closing tells the listeners
    (merge_on_close: intervals.jsonl and the *.hlog files, the chaos impact table, the
    live page). By phase: the snapshot's parts (its requests
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
    blocks on the network, and nothing here allocates per snapshot once the interval
    slots exist.

    The phases come from the run's timeline (timeline.h), read-only; whether an interval
    is complete, from the coordinator (merge_config_t.complete). merge.c calls nothing
    else of the coordinator.
*/
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/merge.h"

/* By phase, deferred (merge_parts): while every snapshot merged into an open interval
   named the one phase deferred_phase (>= 0), its metrics hold exactly that phase's
   requests and are added to it once, at close. MERGE_DEFER_EMPTY before the first,
   MERGE_DEFER_DIRECT once snapshots of several phases met there (then each is added to
   its phases as it arrives). */
#define MERGE_DEFER_EMPTY  (-1)
#define MERGE_DEFER_DIRECT (-2)

typedef struct {
    int64_t index;      /* -1 = free */
    metrics_t *metrics; /* owned */
    int reporters;
    int64_t inflight;
    int deferred_phase;
} open_interval_t;

typedef struct {
    merge_close_fn *fn;
    void *arg;
} listener_t;

struct _merge_t {
    merge_config_t cfg;
    const run_timeline_t *tl; /* borrowed */
    int64_t run_t0_ns;        /* 0 until merge_start */
    open_interval_t open[MERGE_MAX_OPEN];
    merge_totals_t t;
    metrics_t *last_closed; /* owned; swapped with the slot that closed */
    listener_t listeners[MERGE_MAX_LISTENERS];
    int listener_count;
};

merge_t *merge_new(const merge_config_t *config)
{
    merge_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *config;
    self->tl = config->timeline;
    for (int i = 0; i < MERGE_MAX_OPEN; i++)
        self->open[i].index = -1;
    size_t cap = (size_t)(self->tl->phase_cap > 0 ? self->tl->phase_cap : 1);
    merge_totals_t *t = &self->t;
    t->phase_metrics = calloc(cap, sizeof *t->phase_metrics);
    t->phase_tail_requests = calloc(cap, sizeof(int64_t));
    t->phase_tail_max_ns = calloc(cap, sizeof(int64_t));
    t->phase_window_ok = calloc(cap, sizeof(int64_t));
    t->run_metrics = metrics_new(HIST_DEFAULT_DIGITS);
    t->drain_metrics = metrics_new(HIST_DEFAULT_DIGITS);
    t->drain_first_index = t->drain_last_index = -1;
    t->target_count = config->target_count > 0 ? config->target_count : 0;
    t->target_metrics = calloc((size_t)t->target_count + 1, sizeof *t->target_metrics);
    bool ok = t->phase_metrics && t->phase_tail_requests && t->phase_tail_max_ns &&
              t->phase_window_ok && t->run_metrics && t->drain_metrics && t->target_metrics;
    for (int i = 0; ok && i < t->target_count; i++)
        ok = (t->target_metrics[i] = metrics_new(2)) != NULL;
    if (ok && config->class_count >= 2) { /* one class would be the run itself */
        t->class_count = config->class_count;
        t->class_metrics = calloc((size_t)t->class_count, sizeof *t->class_metrics);
        ok = t->class_metrics != NULL;
        for (int i = 0; ok && i < t->class_count; i++)
            ok = (t->class_metrics[i] = metrics_new(2)) != NULL;
    }
    t->last_closed_index = -1;
    if (!ok)
        merge_destroy(&self);
    return self;
}

void merge_destroy(merge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    merge_t *self = *self_p;
    merge_totals_t *t = &self->t;
    for (int i = 0; i < MERGE_MAX_OPEN; i++)
        metrics_destroy(&self->open[i].metrics);
    for (int i = 0; t->phase_metrics && i < self->tl->phase_cap; i++)
        metrics_destroy(&t->phase_metrics[i]);
    free(t->phase_metrics);
    free(t->phase_tail_requests);
    free(t->phase_tail_max_ns);
    free(t->phase_window_ok);
    metrics_destroy(&t->drain_metrics);
    for (int i = 0; t->target_metrics && i < t->target_count; i++)
        metrics_destroy(&t->target_metrics[i]);
    free(t->target_metrics);
    for (int i = 0; t->class_metrics && i < t->class_count; i++)
        metrics_destroy(&t->class_metrics[i]);
    free(t->class_metrics);
    for (int i = 0; t->turn_metrics && i < PROTO_MAX_TURN_BUCKETS; i++)
        metrics_destroy(&t->turn_metrics[i]);
    free(t->turn_metrics);
    metrics_destroy(&t->run_metrics);
    metrics_destroy(&self->last_closed);
    free(self);
    *self_p = NULL;
}

int merge_on_close(merge_t *self, merge_close_fn *fn, void *arg)
{
    if (self->listener_count >= MERGE_MAX_LISTENERS)
        return -1;
    self->listeners[self->listener_count++] = (listener_t){fn, arg};
    return 0;
}

void merge_start(merge_t *self, int64_t run_t0_ns)
{
    self->run_t0_ns = run_t0_ns;
}

const merge_totals_t *merge_totals(const merge_t *self)
{
    return &self->t;
}

void merge_phase_decided(merge_t *self)
{
    metrics_reset(self->t.drain_metrics);
    self->t.drain_first_index = self->t.drain_last_index = -1;
}

static int phase_of_interval(const merge_t *self, int64_t index)
{
    return timeline_phase_at(self->tl, index * self->cfg.interval_ns);
}

static metrics_t *phase_totals(merge_t *self, int phase)
{
    if (phase < 0 || phase >= self->tl->phase_count)
        return NULL;
    if (!self->t.phase_metrics[phase])
        self->t.phase_metrics[phase] = metrics_new(HIST_DEFAULT_DIGITS);
    return self->t.phase_metrics[phase];
}

/* By phase: the requests of `phase` (a snapshot part) count there and in the run. */
static void add_phase_requests(merge_t *self, int phase, const metrics_t *m)
{
    metrics_t *totals = phase_totals(self, phase);
    if (!totals)
        return; /* a phase this run never decided: reject.c lets none through */
    metrics_add_requests(totals, m);
    if (self->tl->phases[phase].phase.measure)
        metrics_add_requests(self->t.run_metrics, m);
}

/* By time: tokens received and requests completed in interval `index` count in the
   window that holds it. */
static void add_received(merge_t *self, int64_t index, const metrics_t *interval)
{
    merge_totals_t *t = &self->t;
    int64_t tokens = interval->c.output_tokens_received;
    int phase = phase_of_interval(self, index);
    metrics_t *totals = phase_totals(self, phase);
    if (totals) {
        totals->c.output_tokens_received += tokens;
        t->phase_window_ok[phase] += interval->c.ok;
        if (self->tl->phases[phase].phase.measure) {
            t->run_metrics->c.output_tokens_received += tokens;
            t->run_window_ok += interval->c.ok;
        }
        return;
    }
    if (!timeline_after_last(self->tl, index * self->cfg.interval_ns))
        return; /* before the first phase, or between two */
    /* The drain: by time, kept apart (results.json "drain"); tokens only here once. */
    if (t->drain_first_index < 0 || index < t->drain_first_index)
        t->drain_first_index = index;
    if (index > t->drain_last_index)
        t->drain_last_index = index;
    metrics_add(t->drain_metrics, interval);
}

/* The interval's by-phase add, deferred until now, is made: from here on its snapshots
   are added to their phases as they arrive. */
static void stop_deferring(merge_t *self, open_interval_t *slot)
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
static void merge_parts(merge_t *self, open_interval_t *slot, const proto_snapshot_t *snap)
{
    for (int i = 0; i < snap->phase_count; i++) {
        const proto_phase_part_t *part = &snap->phases[i];
        int p = part->phase_index;
        if (p < 0 || p >= self->tl->phase_count)
            continue;
        self->t.phase_tail_requests[p] += part->tail_requests;
        if (part->tail_max_ns > self->t.phase_tail_max_ns[p])
            self->t.phase_tail_max_ns[p] = part->tail_max_ns;
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

static open_interval_t *open_slot(merge_t *self, int64_t index)
{
    open_interval_t *free_slot = NULL;
    for (int i = 0; i < MERGE_MAX_OPEN; i++) {
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

/* Per target, per class, per turn: the whole run, whatever the interval. */
static void merge_breakdowns(merge_t *self, const proto_snapshot_t *snap)
{
    merge_totals_t *t = &self->t;
    int targets = snap->target_count < t->target_count ? snap->target_count : t->target_count;
    for (int i = 0; i < targets; i++)
        metrics_add(t->target_metrics[i], snap->per_target[i]);
    int classes = t->class_metrics ? t->class_count : 0;
    if (snap->class_count < classes)
        classes = snap->class_count;
    for (int i = 0; i < classes; i++) {
        if (t->class_metrics[i])
            metrics_add(t->class_metrics[i], snap->per_class[i]);
    }
    if (snap->turn_count > 0 && !t->turn_metrics) { /* a run with conversations */
        t->turn_metrics = calloc(PROTO_MAX_TURN_BUCKETS, sizeof *t->turn_metrics);
        for (int i = 0; t->turn_metrics && i < PROTO_MAX_TURN_BUCKETS; i++)
            t->turn_metrics[i] = metrics_new_compact(3); /* grows with its first turn */
    }
    for (int i = 0; t->turn_metrics && i < snap->turn_count; i++) {
        if (t->turn_metrics[i])
            metrics_add(t->turn_metrics[i], snap->per_turn[i]);
    }
}

bool merge_snapshot(merge_t *self, const proto_snapshot_t *snap)
{
    /* snapshot_refusal (reject.c) has checked its interval, sender and counts. */
    merge_breakdowns(self, snap);
    open_interval_t *slot =
        snap->interval >= self->t.next_close ? open_slot(self, snap->interval) : NULL;
    merge_parts(self, slot, snap); /* before the total joins the slot (stop_deferring) */
    if (!slot) {
        /* Late (its interval has closed) or no room: never lost, only not in the series. */
        self->t.late_snapshots++;
        log_info("worker %s: late snapshot for interval %lld merged into the totals",
                 snap->worker_id ? snap->worker_id : "?", (long long)snap->interval);
        add_received(self, snap->interval, snap->total);
        return false;
    }
    metrics_add(slot->metrics, snap->total);
    slot->reporters++;
    slot->inflight += snap->inflight;
    return true;
}

static int64_t max_open_index(const merge_t *self)
{
    int64_t max = -1;
    for (int i = 0; i < MERGE_MAX_OPEN; i++) {
        if (self->open[i].index > max)
            max = self->open[i].index;
    }
    return max;
}

void merge_close_ready(merge_t *self, int64_t now_ns, bool all)
{
    if (self->run_t0_ns == 0)
        return;
    merge_totals_t *t = &self->t;
    int64_t last = all ? max_open_index(self) : INT64_MAX;
    while (t->next_close <= last) {
        int64_t k = t->next_close;
        int64_t end_ns = self->run_t0_ns + (k + 1) * self->cfg.interval_ns;
        if (!all) {
            if (now_ns < end_ns)
                break;
            if (now_ns < end_ns + self->cfg.grace_ns &&
                !(self->cfg.complete && self->cfg.complete(self->cfg.complete_arg, k)))
                break;
        }
        open_interval_t *slot = NULL;
        for (int i = 0; i < MERGE_MAX_OPEN; i++) {
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
        merge_interval_t closed = {k, phase, slot->metrics, slot->reporters, slot->inflight};
        for (int i = 0; i < self->listener_count; i++)
            self->listeners[i].fn(self->listeners[i].arg, &closed);

        /* Keep the closed interval for the progress line: swap, do not copy. */
        metrics_t *keep = slot->metrics;
        slot->metrics = self->last_closed;
        self->last_closed = keep;
        t->last_closed = keep;
        t->last_closed_index = k;
        slot->index = -1;
        t->next_close++;
    }
}
