/*  registry.c: the workers the coordinator knows, their leases and their segments.

    A worker is one process, named by (id, incarnation); a reconnection of the same
    process keeps its entry (and its seq bitmap, so re-sent snapshots are recognised).
    Entries of workers that took part are never removed during a run: results.json lists
    every one, and a departed worker's late snapshots still find their entry. A worker
    whose lease expires before it was ever sent a plan took no part, and is forgotten:
    otherwise a flood of hellos with made-up ids would fill the registry
    (COORD_MAX_WORKERS) and lock the real workers out.
*/
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/coord_internal.h"

worker_t *registry_find_identity(coordinator_t *self, zframe_t *identity)
{
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        if (w->identity && zframe_eq(w->identity, identity))
            return w;
    }
    return NULL;
}

worker_t *registry_find(coordinator_t *self, const char *id, uint64_t incarnation)
{
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        if (w->incarnation == incarnation && strcmp(w->id, id) == 0)
            return w;
    }
    return NULL;
}

worker_t *registry_add(coordinator_t *self, const proto_hello_t *hello, zframe_t *identity)
{
    if (self->worker_count >= COORD_MAX_WORKERS)
        return NULL;
    worker_t **bigger = realloc(self->workers, (size_t)(self->worker_count + 1) * sizeof *bigger);
    worker_t *w = calloc(1, sizeof *w);
    if (!bigger || !w) {
        free(w);
        if (bigger)
            self->workers = bigger;
        return NULL;
    }
    self->workers = bigger;
    w->id = strdup(hello->worker_id);
    w->incarnation = hello->incarnation;
    w->identity = zframe_dup(identity);
    w->threads = hello->threads;
    w->capacity = hello->capacity;
    w->state = WORKER_LIVE;
    w->max_interval_seen = -1;
    w->planned_from_interval = -1;
    self->workers[self->worker_count++] = w;
    return w;
}

static void worker_free(worker_t *w)
{
    free(w->id);
    zframe_destroy(&w->identity);
    free(w->seen);
    free(w->intervals_merged);
    free(w);
}

void registry_destroy_all(coordinator_t *self)
{
    for (int i = 0; i < self->worker_count; i++)
        worker_free(self->workers[i]);
    free(self->workers);
    self->workers = NULL;
    self->worker_count = 0;
}

int registry_live_count(const coordinator_t *self)
{
    int n = 0;
    for (int i = 0; i < self->worker_count; i++)
        n += self->workers[i]->state == WORKER_LIVE;
    return n;
}

/* Sets bit `index` of a growing bitmap; false when it was set already or out of memory. */
static bool bitmap_set(uint8_t **bits, size_t *bytes_p, uint64_t index)
{
    size_t byte = (size_t)(index / 8);
    if (byte >= *bytes_p) {
        size_t bytes = *bytes_p ? *bytes_p : 64;
        while (bytes <= byte)
            bytes *= 2;
        uint8_t *bigger = realloc(*bits, bytes);
        if (!bigger)
            return false;
        memset(bigger + *bytes_p, 0, bytes - *bytes_p);
        *bits = bigger;
        *bytes_p = bytes;
    }
    uint8_t bit = (uint8_t)(1u << (index % 8));
    if ((*bits)[byte] & bit)
        return false;
    (*bits)[byte] |= bit;
    return true;
}

bool registry_mark_seq(worker_t *worker, uint64_t seq)
{
    if (seq == 0 || seq > COORD_MAX_SEQ)
        return false;
    return bitmap_set(&worker->seen, &worker->seen_bytes, seq);
}

bool registry_interval_merged(const worker_t *worker, int64_t interval)
{
    size_t byte = (size_t)(interval / 8);
    return interval >= 0 && byte < worker->intervals_merged_bytes &&
           (worker->intervals_merged[byte] & (1u << (interval % 8)));
}

void registry_mark_interval(worker_t *worker, int64_t interval)
{
    /* snapshot_refusal bounds interval to the run's length (+2): the bitmap is one bit
       per interval of the run. */
    if (interval >= 0)
        bitmap_set(&worker->intervals_merged, &worker->intervals_merged_bytes, (uint64_t)interval);
}

static int by_id(const void *a, const void *b)
{
    const worker_t *wa = *(const worker_t *const *)a, *wb = *(const worker_t *const *)b;
    int c = strcmp(wa->id, wb->id);
    if (c)
        return c;
    return wa->incarnation < wb->incarnation ? -1 : wa->incarnation > wb->incarnation;
}

void registry_assign_segments(coordinator_t *self)
{
    /* Ordered by id so that the same fleet gets the same segments run after run. */
    worker_t **live = calloc((size_t)self->worker_count + 1, sizeof *live);
    int n = 0;
    int64_t capacity = 0;
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        w->from = w->to = 0;
        if (w->state == WORKER_LIVE && w->has_plan) {
            live[n++] = w;
            capacity += w->capacity;
        }
    }
    qsort(live, (size_t)n, sizeof *live, by_id);
    int64_t cumulative = 0;
    for (int i = 0; i < n; i++) {
        live[i]->from = (double)cumulative / (double)capacity;
        cumulative += live[i]->capacity;
        /* The last segment ends at exactly 1 so the partition covers [0, 1). */
        live[i]->to = i == n - 1 ? 1.0 : (double)cumulative / (double)capacity;
    }
    free(live);
}

int registry_expire(coordinator_t *self, int64_t now_ns)
{
    int died = 0;
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        if (w->state != WORKER_LIVE || now_ns - w->last_heard_ns <= COORD_LEASE_BEATS * self->hb_ns)
            continue;
        if (w->planned_from_interval < 0 && w->snapshots == 0) {
            log_info("worker %s silent for %lld ms before it had a plan: forgotten", w->id,
                     (long long)((now_ns - w->last_heard_ns) / 1000000));
            worker_free(w);
            memmove(&self->workers[i], &self->workers[i + 1],
                    (size_t)(self->worker_count - i - 1) * sizeof *self->workers);
            self->worker_count--;
            i--;
            continue;
        }
        w->state = WORKER_DEAD;
        w->lost_at_ns = now_ns;
        died++;
        log_warn("worker %s silent for %lld ms: lease expired, its segment [%.4f, %.4f) will be "
                 "handed on",
                 w->id, (long long)((now_ns - w->last_heard_ns) / 1000000), w->from, w->to);
    }
    return died;
}

void registry_count_snapshot(worker_t *worker, const proto_snapshot_t *snap)
{
    worker->snapshots++;
    worker->requests += snap->total->c.ok + snap->total->c.failed;
    worker->inflight = snap->inflight;
    if (snap->interval > worker->max_interval_seen)
        worker->max_interval_seen = snap->interval;
}

bool registry_interval_complete(const coordinator_t *self, int64_t index)
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
