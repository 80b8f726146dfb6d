/*  engine.c: the engine object (see engine.h): configuration, threads, commands, and
    the hand-over of closed intervals.

    Commands (phase, halt, flush, stop) go through each thread's mailbox under
    engine->lock and an eventfd wake-up; the caller waits until every thread has read
    them, so when engine_start_phase or engine_halt returns, every thread knows.

    Intervals: each thread records into its own interval and, at the boundary, appends
    it to its closed list (one lock per interval) and publishes closed_through. The
    collector merges index k once every thread has closed k, hands it out, and gives
    the buffers back to their thread for reuse.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cpus.h"
#include "common/log.h"
#include "worker/engine_private.h"

/* ---- intervals ------------------------------------------------------------------ */

interval_t *interval_new(int target_count, int class_count, int turn_count)
{
    interval_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->total = metrics_new(3);
    self->per_target = calloc((size_t)target_count, sizeof(metrics_t *));
    bool ok = self->total && self->per_target;
    for (int i = 0; ok && i < target_count; i++)
        ok = (self->per_target[i] = metrics_new(2)) != NULL;
    if (ok && class_count > 0) {
        self->per_class = calloc((size_t)class_count, sizeof(metrics_t *));
        ok = self->per_class != NULL;
        if (ok)
            self->class_count = class_count;
        for (int i = 0; ok && i < class_count; i++)
            ok = (self->per_class[i] = metrics_new(2)) != NULL;
    }
    if (ok && turn_count > 0) {
        self->per_turn = calloc((size_t)turn_count, sizeof(metrics_t *));
        ok = self->per_turn != NULL;
        if (ok)
            self->turn_count = turn_count;
        for (int i = 0; ok && i < turn_count; i++)
            ok = (self->per_turn[i] = metrics_new_compact(3)) != NULL;
    }
    buf_init(&self->jsonl);
    if (!ok)
        interval_destroy(&self, target_count);
    return self;
}

void interval_destroy(interval_t **self_p, int target_count)
{
    if (!self_p || !*self_p)
        return;
    interval_t *self = *self_p;
    for (int i = 0; i < self->part_cap; i++)
        metrics_destroy(&self->parts[i].metrics);
    free(self->parts);
    metrics_destroy(&self->total);
    for (int i = 0; self->per_target && i < target_count; i++)
        metrics_destroy(&self->per_target[i]);
    free(self->per_target);
    for (int i = 0; i < self->class_count; i++)
        metrics_destroy(&self->per_class[i]);
    free(self->per_class);
    for (int i = 0; i < self->turn_count; i++)
        metrics_destroy(&self->per_turn[i]);
    free(self->per_turn);
    buf_free(&self->jsonl);
    free(self);
    *self_p = NULL;
}

void interval_reset(interval_t *self, int target_count)
{
    metrics_reset(self->total);
    for (int i = 0; i < target_count; i++)
        metrics_reset(self->per_target[i]);
    for (int i = 0; i < self->class_count; i++)
        metrics_reset(self->per_class[i]);
    for (int i = 0; i < self->turn_count; i++)
        metrics_reset(self->per_turn[i]);
    for (int i = 0; self->split && i < self->part_count; i++)
        metrics_reset(self->parts[i].metrics);
    self->part_count = 0;
    self->split = false;
    buf_clear(&self->jsonl);
}

/* A part's own metrics, empty: allocated the first time the slot is used, then kept. */
static bool part_own_metrics(phase_part_t *part)
{
    if (!part->metrics)
        part->metrics = metrics_new(3);
    return part->metrics != NULL;
}

phase_part_t *interval_part_slow(interval_t *self, int phase_index)
{
    for (int i = 0; i < self->part_count; i++) {
        if (self->parts[i].phase_index == phase_index)
            return &self->parts[i];
    }
    if (self->part_count == self->part_cap) {
        int cap = self->part_cap ? 2 * self->part_cap : 2;
        phase_part_t *parts = realloc(self->parts, (size_t)cap * sizeof *parts);
        if (!parts)
            return NULL;
        memset(parts + self->part_cap, 0, (size_t)(cap - self->part_cap) * sizeof *parts);
        self->parts = parts;
        self->part_cap = cap;
    }
    phase_part_t *part = &self->parts[self->part_count];
    if (self->part_count == 1 && !self->split) {
        /* The second phase: until now the total was the first phase's, so it becomes the
           first part's own metrics, once. */
        if (!part_own_metrics(&self->parts[0]) || !part_own_metrics(part))
            return NULL;
        metrics_add_requests(self->parts[0].metrics, self->total);
        self->split = true;
    } else if (self->split && !part_own_metrics(part)) {
        return NULL;
    }
    part->phase_index = phase_index;
    part->tail_requests = part->tail_max_ns = 0;
    self->part_count++;
    return part;
}

const metrics_t *interval_part_metrics(const interval_t *self, int i)
{
    return self->split ? self->parts[i].metrics : self->total;
}

void interval_add(interval_t *self, const interval_t *other, int target_count)
{
    /* First every phase of other gets its part here: that may split self, copying self's
       total as it is before other's records are added. Then the records. */
    for (int i = 0; i < other->part_count; i++) {
        const phase_part_t *from = &other->parts[i];
        phase_part_t *to = interval_part(self, from->phase_index);
        if (!to)
            continue;
        to->tail_requests += from->tail_requests;
        if (from->tail_max_ns > to->tail_max_ns)
            to->tail_max_ns = from->tail_max_ns;
    }
    for (int i = 0; self->split && i < other->part_count; i++) {
        phase_part_t *to = interval_part(self, other->parts[i].phase_index);
        if (to)
            metrics_add_requests(to->metrics, interval_part_metrics(other, i));
    }
    metrics_add(self->total, other->total);
    for (int t = 0; t < target_count; t++)
        metrics_add(self->per_target[t], other->per_target[t]);
    /* Every interval of one engine has the same classes; the smaller count is a guard. */
    int classes = self->class_count < other->class_count ? self->class_count : other->class_count;
    for (int k = 0; k < classes; k++)
        metrics_add(self->per_class[k], other->per_class[k]);
    int turns = self->turn_count < other->turn_count ? self->turn_count : other->turn_count;
    for (int k = 0; k < turns; k++)
        metrics_add(self->per_turn[k], other->per_turn[k]);
    if (other->jsonl.len)
        buf_append(&self->jsonl, other->jsonl.data, other->jsonl.len);
}

bool interval_is_empty(const interval_t *self, int target_count)
{
    (void)target_count; /* per-target and per-class metrics are never written without the
                           total */
    return self->jsonl.len == 0 && metrics_is_empty(self->total);
}

/* ---- engine --------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

/* Thousands of streams need thousands of descriptors: take all the hard limit allows. */
static void nofile_raise(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

static char *strdup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* The class of every body, checked and copied once: a request looks its class up by
   its body index, so the hot path reads one int. */
static int engine_classes_init(engine_shared_t *shared, const engine_config_t *config, char *err,
                               size_t err_size)
{
    if (config->class_count == 0 && !config->prompt_class)
        return 0;
    if (config->class_count < 1 || config->class_count > ENGINE_MAX_CLASSES ||
        !config->prompt_class) {
        snprintf(err, err_size, "engine: %d classes (1..%d, each prompt with its class)",
                 config->class_count, ENGINE_MAX_CLASSES);
        return -1;
    }
    for (int i = 0; i < config->prompt_count; i++) {
        if (config->prompt_class[i] < 0 || config->prompt_class[i] >= config->class_count) {
            snprintf(err, err_size, "engine: prompt %d has class %d, outside [0, %d)", i,
                     config->prompt_class[i], config->class_count);
            return -1;
        }
    }
    shared->body_class = malloc((size_t)config->prompt_count * sizeof(int));
    if (!shared->body_class) {
        snprintf(err, err_size, "engine: out of memory");
        return -1;
    }
    memcpy(shared->body_class, config->prompt_class, (size_t)config->prompt_count * sizeof(int));
    shared->class_count = config->class_count;
    return 0;
}

engine_t *engine_new(const engine_config_t *config, char *err, size_t err_size)
{
    pthread_once(&curl_once, curl_init_once);
    nofile_raise();
    if (config->interval_ns < 0 || config->timeout_ms < 0 || config->max_inflight < 0 ||
        config->max_connections_per_target < 0 || config->threads < 0 ||
        config->max_event_bytes < 0 || (int)config->idle < 0 || config->idle > ENGINE_IDLE_POLL) {
        snprintf(
            err, err_size,
            "engine: negative interval, timeout, cap or thread count, or an unknown idle mode");
        return NULL;
    }
    engine_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "engine: out of memory");
        return NULL;
    }
    engine_shared_t *shared = &self->shared;
    if (targets_init(&shared->targets, config, err, err_size) != 0) {
        free(self);
        return NULL;
    }
    if (engine_classes_init(shared, config, err, err_size) != 0) {
        targets_free(&shared->targets);
        free(self);
        return NULL;
    }
    shared->conv = conv_shared_new(config, err, err_size);
    if (!shared->conv && config->conversations.enabled) {
        free(shared->body_class);
        targets_free(&shared->targets);
        free(self);
        return NULL;
    }
    shared->turn_count = shared->conv ? ENGINE_MAX_TURN_BUCKETS : 0;
    shared->stream = config->stream;
    shared->timeout_ms = config->timeout_ms;
    shared->capture_header = strdup_or_null(config->capture_header);
    shared->capture_header_len = shared->capture_header ? strlen(shared->capture_header) : 0;
    shared->ca_file = strdup_or_null(config->ca_file);
    shared->insecure_tls = config->insecure_tls;
    shared->max_event_bytes = config->max_event_bytes > 0 ? (size_t)config->max_event_bytes
                                                          : ENGINE_DEFAULT_MAX_EVENT_BYTES;
    shared->run_t0_ns = config->run_t0_ns ? config->run_t0_ns : clock_now_ns();
    shared->interval_ns = config->interval_ns > 0 ? config->interval_ns : NS_PER_S;
    shared->record_requests = config->record_requests;
    shared->slo_ttft_ms = config->slo_ttft_ms;
    shared->slo_tpot_ms = config->slo_tpot_ms;
    shared->slo_e2e_ms = config->slo_e2e_ms;
    shared->max_inflight = config->max_inflight;
    shared->max_connections_per_target = config->max_connections_per_target;
    shared->idle = config->idle;
    shared->connection_per_user = config->connection_per_user;
    shared->prewarm = config->prewarm;
    shared->thread_count = config->threads > 0 ? config->threads : cpus_for_engine_threads();

    int64_t now = clock_now_ns();
    self->first_index =
        now > shared->run_t0_ns ? (now - shared->run_t0_ns) / shared->interval_ns : 0;
    self->next_collect_index = self->first_index;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->acked, NULL);

    self->threads = calloc((size_t)shared->thread_count, sizeof *self->threads);
    if (!self->threads) {
        snprintf(err, err_size, "engine: out of memory");
        engine_destroy(&self);
        return NULL;
    }
    for (int i = 0; i < shared->thread_count; i++) {
        if (engine_thread_start(&self->threads[i], self, i, err, err_size) != 0) {
            engine_destroy(&self);
            return NULL;
        }
        self->thread_count = i + 1;
    }
    return self;
}

/* Applies `post` to every thread's mailbox, wakes them, waits until all have read it. */
static void command_post(engine_t *self, void (*post)(mailbox_t *box, const void *arg),
                         const void *arg)
{
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->thread_count; i++)
        post(&self->threads[i].mailbox, arg);
    uint64_t generation = ++self->generation;
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < self->thread_count; i++)
        engine_thread_wake(&self->threads[i]);
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->thread_count; i++) {
        while (self->threads[i].acked_generation < generation)
            pthread_cond_wait(&self->acked, &self->lock);
    }
    pthread_mutex_unlock(&self->lock);
}

static void post_stop(mailbox_t *box, const void *arg)
{
    (void)arg;
    box->stop = true;
}

void engine_destroy(engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    engine_t *self = *self_p;
    if (self->thread_count > 0)
        command_post(self, post_stop, NULL);
    for (int i = 0; i < self->thread_count; i++)
        engine_thread_join(&self->threads[i]);
    /* A thread that failed to start still holds what it had created. */
    if (self->threads && self->thread_count < self->shared.thread_count)
        engine_thread_join(&self->threads[self->thread_count]);
    free(self->threads);
    if (self->merged)
        interval_destroy(&self->merged, self->shared.targets.count);
    free(self->part_views);
    targets_free(&self->shared.targets);
    free(self->shared.capture_header);
    free(self->shared.ca_file);
    free(self->shared.body_class);
    conv_shared_destroy(&self->shared.conv);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->acked);
    free(self);
    *self_p = NULL;
}

static void post_phase(mailbox_t *box, const void *arg)
{
    box->has_phase = true;
    box->phase = *(const engine_phase_t *)arg;
}

int engine_start_phase(engine_t *self, const engine_phase_t *phase, char *err, size_t err_size)
{
    if (!(phase->segment_from >= 0 && phase->segment_from <= phase->segment_to &&
          phase->segment_to <= 1)) {
        snprintf(err, err_size, "phase %llu: segment [%g, %g) is not inside [0, 1)",
                 (unsigned long long)phase->epoch, phase->segment_from, phase->segment_to);
        return -1;
    }
    if (phase->duration_ns <= 0) {
        snprintf(err, err_size, "phase %llu: duration must be positive",
                 (unsigned long long)phase->epoch);
        return -1;
    }
    bool bad = false;
    switch (phase->load) {
    case PHASE_LOAD_RATE:
        bad = !(phase->schedule.start_rate_per_s >= 0 && phase->schedule.end_rate_per_s >= 0) ||
              (phase->schedule.arrival == ARRIVAL_GAMMA && !(phase->schedule.gamma_shape > 0)) ||
              (unsigned)phase->schedule.arrival > ARRIVAL_GAMMA;
        break;
    case PHASE_LOAD_CONCURRENCY:
        bad = phase->concurrency < 0;
        break;
    case PHASE_LOAD_USERS:
        bad = phase->users < 0 || !(phase->think_time_mean_s >= 0);
        break;
    default:
        bad = true;
    }
    if (bad) {
        snprintf(err, err_size,
                 "phase %llu: invalid load (negative rate, count or think time, "
                 "or unknown arrival process)",
                 (unsigned long long)phase->epoch);
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    bool stale = self->has_epoch && phase->epoch <= self->epoch;
    if (!stale) {
        self->epoch = phase->epoch;
        self->has_epoch = true;
    }
    pthread_mutex_unlock(&self->lock);
    if (!stale)
        command_post(self, post_phase, phase);
    return 0;
}

static void post_halt(mailbox_t *box, const void *arg)
{
    box->halt = true;
    box->abort_inflight = *(const bool *)arg;
    box->has_phase = false;
}

void engine_halt(engine_t *self, bool abort_inflight)
{
    command_post(self, post_halt, &abort_inflight);
}

static void post_flush(mailbox_t *box, const void *arg)
{
    (void)arg;
    box->flush = true;
}

void engine_collect(engine_t *self, bool flush, engine_interval_fn *fn, void *arg)
{
    int targets = self->shared.targets.count;
    if (flush)
        command_post(self, post_flush, NULL);
    if (!self->merged &&
        !(self->merged = interval_new(targets, self->shared.class_count, self->shared.turn_count)))
        return;

    /* Take, under the lock, every closed interval up to the index all threads closed. */
    pthread_mutex_lock(&self->lock);
    int64_t limit = INT64_MAX;
    for (int i = 0; i < self->thread_count; i++) {
        int64_t closed = atomic_load(&self->threads[i].closed_through);
        if (closed < limit)
            limit = closed;
    }
    size_t threads = self->thread_count > 0 ? (size_t)self->thread_count : 1;
    interval_t **taken = calloc(threads, sizeof *taken);
    for (int i = 0; taken && i < self->thread_count; i++) {
        engine_thread_t *t = &self->threads[i];
        interval_t **tail = &taken[i];
        while (t->closed_head && t->closed_head->index <= limit) {
            *tail = t->closed_head;
            t->closed_head = t->closed_head->next;
            tail = &(*tail)->next;
            *tail = NULL;
        }
        if (!t->closed_head)
            t->closed_tail = NULL;
    }
    pthread_mutex_unlock(&self->lock);
    if (!taken)
        return;

    /* Merge and hand out index by index; empty intervals are handed out too, so the
       series has no holes. */
    interval_t **cursor = calloc(threads, sizeof *cursor);
    for (int i = 0; cursor && i < self->thread_count; i++)
        cursor[i] = taken[i];
    for (int64_t index = self->next_collect_index; cursor && index <= limit; index++) {
        interval_t *m = self->merged;
        interval_reset(m, targets);
        for (int i = 0; i < self->thread_count; i++) {
            while (cursor[i] && cursor[i]->index < index)
                cursor[i] = cursor[i]->next;
            for (interval_t *iv = cursor[i]; iv && iv->index == index; iv = iv->next)
                interval_add(m, iv, targets);
        }
        if (m->part_count > self->part_view_cap) {
            engine_phase_part_t *views =
                realloc(self->part_views, (size_t)m->part_count * sizeof *views);
            if (views) {
                self->part_views = views;
                self->part_view_cap = m->part_count;
            }
        }
        int parts = m->part_count <= self->part_view_cap ? m->part_count : 0;
        for (int p = 0; p < parts; p++)
            self->part_views[p] = (engine_phase_part_t){
                .phase_index = m->parts[p].phase_index,
                .metrics = interval_part_metrics(m, p),
                .tail_requests = m->parts[p].tail_requests,
                .tail_max_ns = m->parts[p].tail_max_ns,
            };
        engine_interval_t view = {
            .index = index,
            .total = m->total,
            .phases = self->part_views,
            .phase_count = parts,
            .per_target = (const metrics_t *const *)m->per_target,
            .target_count = targets,
            .per_class = (const metrics_t *const *)m->per_class,
            .class_count = m->class_count,
            .per_turn = (const metrics_t *const *)m->per_turn,
            .turn_count = m->turn_count,
            .requests_jsonl = m->jsonl.len ? m->jsonl.data : NULL,
            .requests_jsonl_len = m->jsonl.len,
        };
        fn(arg, &view);
    }
    if (limit != INT64_MAX && limit >= self->next_collect_index)
        self->next_collect_index = limit + 1;
    free(cursor);

    /* Give the buffers back to their threads, emptied. */
    for (int i = 0; i < self->thread_count; i++) {
        interval_t *head = taken[i];
        if (!head)
            continue;
        interval_t *last = head;
        for (interval_t *iv = head; iv; iv = iv->next) {
            interval_reset(iv, targets);
            last = iv;
        }
        pthread_mutex_lock(&self->lock);
        last->next = self->threads[i].free_intervals;
        self->threads[i].free_intervals = head;
        pthread_mutex_unlock(&self->lock);
    }
    free(taken);
}

void engine_status(engine_t *self, engine_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->inflight = atomic_load(&self->shared.inflight);
    out->sent_total = atomic_load(&self->shared.sent_total);
    out->lag_us_last = atomic_load(&self->shared.lag_us_last);
    for (int i = 0; i < self->thread_count; i++)
        out->running = out->running || atomic_load(&self->threads[i].running);
}
