/*  reject.c: what the coordinator refuses from its peers, and why (docs/security.md).

    Anything a peer sends can be hostile: a message that does not decode, one from a
    connection that never said hello, or a snapshot that decodes but cannot be true. Each
    refusal is logged with the peer and counted by class; results.json carries the total
    (rejected_messages) and the classes (rejected_by), so a run that was attacked says so.

    A refused snapshot is refused whole: none of its counts reaches any total. The checks
    below are the ones a well-behaved worker can never fail, so a refusal is never a loss
    of real measurements.
*/
#include <string.h>

#include "common/histogram.h"
#include "common/log.h"
#include "coordinator/coord_internal.h"

static const char *const reject_names[REJECT_CLASS_COUNT] = {
    [REJECT_FRAMES] = "frames",
    [REJECT_MALFORMED] = "malformed",
    [REJECT_VERSION] = "version",
    [REJECT_UNKNOWN_TYPE] = "unknown_type",
    [REJECT_MISSING] = "missing_field",
    [REJECT_WRONG_TYPE] = "wrong_type",
    [REJECT_OVERSIZE] = "oversize",
    [REJECT_BAD_VALUE] = "bad_value",
    [REJECT_HANDSHAKE] = "handshake",
    [REJECT_UNKNOWN_PEER] = "unknown_peer",
    [REJECT_UNEXPECTED] = "unexpected_type",
    [REJECT_INTERVAL] = "interval",
    [REJECT_FOREIGN_ID] = "foreign_id",
    [REJECT_UNPLANNED] = "unplanned",
    [REJECT_IMPLAUSIBLE] = "implausible",
    [REJECT_DUPLICATE_INTERVAL] = "duplicate_interval",
};

const char *reject_class_name(reject_class_t why)
{
    return (unsigned)why < REJECT_CLASS_COUNT ? reject_names[why] : "?";
}

void coord_reject(coordinator_t *self, reject_class_t why)
{
    self->rejected_messages++;
    if ((unsigned)why < REJECT_CLASS_COUNT)
        self->rejected_by[why]++;
}

reject_class_t reject_class_of_decode(int proto_error)
{
    switch (proto_error) {
    case PROTO_ERR_VERSION:
        return REJECT_VERSION;
    case PROTO_ERR_UNKNOWN_TYPE:
        return REJECT_UNKNOWN_TYPE;
    case PROTO_ERR_MISSING:
        return REJECT_MISSING;
    case PROTO_ERR_WRONG_TYPE:
        return REJECT_WRONG_TYPE;
    case PROTO_ERR_OVERSIZE:
        return REJECT_OVERSIZE;
    case PROTO_ERR_BAD_VALUE:
        return REJECT_BAD_VALUE;
    default: /* PROTO_ERR_MALFORMED, PROTO_ERR_NOT_MAP */
        return REJECT_MALFORMED;
    }
}

static bool metrics_plausible(const metrics_t *m)
{
    const int64_t *c = (const int64_t *)&m->c;
    for (size_t i = 0; i < sizeof m->c / sizeof(int64_t); i++) {
        if (c[i] > COORD_MAX_COUNT_PER_SNAPSHOT)
            return false;
    }
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_total_count(m->hist[i]) > COORD_MAX_COUNT_PER_SNAPSHOT ||
            hist_out_of_range(m->hist[i]) > COORD_MAX_COUNT_PER_SNAPSHOT)
            return false;
    }
    return true;
}

/* The checks a snapshot passes before any of it is merged. Each is something a real
   worker cannot fail: it stamps its own id, it measures only after it was sent a plan and
   from the interval it got it in, and one interval of one worker is far below the caps. */
int snapshot_refusal(const coordinator_t *self, const worker_t *w, const proto_snapshot_t *snap,
                     char *why, size_t why_size)
{
    if (strcmp(snap->worker_id, w->id) != 0) {
        snprintf(why, why_size, "it names worker '%.80s', not the sender", snap->worker_id);
        return REJECT_FOREIGN_ID;
    }
    if (w->planned_from_interval < 0) {
        snprintf(why, why_size, "this worker was never sent a plan, so it measured nothing");
        return REJECT_UNPLANNED;
    }
    int64_t now_index = (clock_now_ns() - self->run_t0_ns) / self->interval_ns;
    /* One interval of slack below: the worker's engine may open the interval in which the
       plan arrived, the coordinator counts from the next one. */
    if (snap->interval > now_index + 2 || snap->interval < w->planned_from_interval - 1) {
        snprintf(why, why_size,
                 "interval %lld is outside [%lld, %lld] (it was sent a plan at %lld, the run is "
                 "at %lld)",
                 (long long)snap->interval, (long long)(w->planned_from_interval - 1),
                 (long long)(now_index + 2), (long long)w->planned_from_interval,
                 (long long)now_index);
        return REJECT_INTERVAL;
    }
    bool plausible =
        snap->inflight <= COORD_MAX_COUNT_PER_SNAPSHOT && metrics_plausible(snap->total);
    for (int i = 0; plausible && i < snap->target_count; i++)
        plausible = metrics_plausible(snap->per_target[i]);
    for (int i = 0; plausible && i < snap->class_count; i++)
        plausible = metrics_plausible(snap->per_class[i]);
    for (int i = 0; plausible && i < snap->turn_count; i++)
        plausible = metrics_plausible(snap->per_turn[i]);
    for (int i = 0; plausible && i < snap->phase_count; i++)
        plausible = (!snap->phases[i].metrics || metrics_plausible(snap->phases[i].metrics)) &&
                    snap->phases[i].tail_requests <= COORD_MAX_COUNT_PER_SNAPSHOT;
    if (!plausible) {
        snprintf(why, why_size,
                 "a count above %lld, more than one worker can measure in one "
                 "interval",
                 (long long)COORD_MAX_COUNT_PER_SNAPSHOT);
        return REJECT_IMPLAUSIBLE;
    }
    /* A part names a phase this run has decided (a worker runs only phases it was sent). */
    for (int i = 0; i < snap->phase_count; i++) {
        if (snap->phases[i].phase_index >= self->timeline.phase_count) {
            snprintf(why, why_size, "its requests name phase %d, and the run has %d",
                     snap->phases[i].phase_index, self->timeline.phase_count);
            return REJECT_BAD_VALUE;
        }
    }
    return -1;
}
