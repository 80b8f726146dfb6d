/*  loop.c: one engine thread: epoll + timerfd + libcurl multi.

    One timerfd, armed with TFD_TIMER_ABSTIME at the earliest of: the next send the
    pacer wants, the end of the current interval, libcurl's own timeout. epoll waits on
    it, on an eventfd the engine uses to post commands, and on every socket libcurl
    asks for (curl_multi_socket_action). The thread's timer slack is set to 1 ns so
    wake-ups land within microseconds of their deadline.

    Each turn asks the pacer what is due (pacer_run fills a pacer_due_t on the stack: at
    most PACER_SEND_BUDGET sends, and arrivals to count as dropped), starts those
    requests and tells the pacer what became of each (pacer_send_result); the pacer never
    calls back here.

    Hot path: the loop allocates nothing once its request_t pool has grown to the peak
    number of requests in flight; recording goes into the thread's own interval and
    takes no lock. A lock is taken only to hand a closed interval to the engine (once
    per interval) and to read the mailbox (once per command).
*/
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "worker/engine_private.h"

#define EPOLL_BATCH 256

/* ---- sockets kept in epoll across transfers --------------------------------------

   libcurl says CURL_POLL_REMOVE when a transfer ends and asks for the socket again when
   the next transfer reuses the keep-alive connection: an EPOLL_CTL_DEL and an
   EPOLL_CTL_ADD per request. Sockets the engine opens itself (CURLOPT_OPENSOCKETFUNCTION)
   stay registered while idle instead ("parked"), and epoll_ctl is skipped when libcurl
   wants the mask already registered, so a reused connection costs no epoll_ctl at all.
   A parked socket that wakes the loop (the server closed the idle connection) is removed
   then, or level-triggered epoll would spin on it; libcurl finds the dead connection
   itself when it next looks at it. A socket is removed from epoll before it is closed
   (CURLOPT_CLOSESOCKETFUNCTION), so its number can be reused safely.

   The table is indexed by fd and process-wide, as fd numbers are; an entry is written
   only by the thread whose multi (or user's share) owns the socket. Chunks are made on
   first use and kept for the life of the process (16 bytes per fd number ever used).
   Sockets libcurl opens on its own (a resolver's socketpair) keep the plain path. */

#define FD_CHUNK_BITS 12
#define FD_CHUNKS     256 /* fds up to 1M; above that, the plain path */

typedef struct {
    int epoll_fd;    /* where it is registered */
    uint32_t events; /* registered mask */
    bool ours;       /* opened by engine_socket_open, closed by engine_socket_close */
    bool registered; /* in epoll_fd */
    bool wanted;     /* libcurl is watching it (not parked) */
} fd_state_t;

static _Atomic(fd_state_t *) fd_chunks[FD_CHUNKS];

static fd_state_t *fd_state(curl_socket_t fd, bool create)
{
    if (fd < 0 || fd >= (FD_CHUNKS << FD_CHUNK_BITS))
        return NULL;
    _Atomic(fd_state_t *) *slot = &fd_chunks[fd >> FD_CHUNK_BITS];
    fd_state_t *chunk = atomic_load_explicit(slot, memory_order_acquire);
    if (!chunk && create) {
        fd_state_t *fresh = calloc((size_t)1 << FD_CHUNK_BITS, sizeof *fresh);
        if (!fresh)
            return NULL;
        if (atomic_compare_exchange_strong(slot, &chunk, fresh))
            chunk = fresh;
        else
            free(fresh); /* another thread made it first: chunk holds theirs */
    }
    return chunk ? &chunk[fd & ((1 << FD_CHUNK_BITS) - 1)] : NULL;
}

static curl_socket_t on_socket_open(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)arg;
    (void)purpose;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    fd_state_t *s = fd_state(fd, true);
    if (s)
        *s = (fd_state_t){.epoll_fd = -1, .ours = true};
    return fd;
}

static int on_socket_close(void *arg, curl_socket_t fd)
{
    (void)arg;
    fd_state_t *s = fd_state(fd, false);
    if (s) {
        /* Called from engine_thread_join too (curl_multi_cleanup), with the epoll fd
           still open. */
        if (s->registered)
            epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        *s = (fd_state_t){.epoll_fd = -1};
    }
    return close(fd);
}

/* Every easy handle the loop adds opens and closes its sockets here. */
static void easy_socket_hooks(CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_socket_open);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_socket_close);
}

/* ---- libcurl callbacks ---------------------------------------------------------- */

/* A socket libcurl did not open through on_socket_open: registered and removed as
   libcurl says. */
static int socket_plain(engine_thread_t *self, curl_socket_t fd, int what, void *socketp,
                        uint32_t events)
{
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(self->multi, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.events = events};
    ev.data.fd = fd;
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(self->epoll_fd, op, fd, &ev) != 0) {
        /* The fd was closed and reused behind our back: retry the other way. */
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(self->epoll_fd, op, fd, &ev) != 0)
            log_warn("engine thread %d: epoll_ctl(%d): %s", self->id, fd, strerror(errno));
    }
    if (!socketp)
        curl_multi_assign(self->multi, fd, (void *)1);
    return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    engine_thread_t *self = userp;
    uint32_t events =
        ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    fd_state_t *s = fd_state(fd, false);
    if (!s || !s->ours)
        return socket_plain(self, fd, what, socketp, events);
    bool here = s->registered && s->epoll_fd == self->epoll_fd;
    if (what == CURL_POLL_REMOVE) {
        if (here) {
            s->wanted = false; /* parked: stays in epoll for the next transfer */
            return 0;
        }
        epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        s->registered = s->wanted = false;
        return 0;
    }
    s->wanted = true;
    if (here && s->events == events)
        return 0;
    struct epoll_event ev = {.events = events};
    ev.data.fd = fd;
    int op = here ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(self->epoll_fd, op, fd, &ev) != 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(self->epoll_fd, op, fd, &ev) != 0) {
            log_warn("engine thread %d: epoll_ctl(%d): %s", self->id, fd, strerror(errno));
            s->registered = false;
            return 0;
        }
    }
    s->epoll_fd = self->epoll_fd;
    s->events = events;
    s->registered = true;
    return 0;
}

/* A parked socket woke the loop: nobody is reading it, so it leaves epoll (true), and
   the event goes to no transfer. */
static bool socket_parked_woke(engine_thread_t *self, curl_socket_t fd)
{
    fd_state_t *s = fd_state(fd, false);
    if (!s || !s->ours || !s->registered || s->wanted || s->epoll_fd != self->epoll_fd)
        return false;
    epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    s->registered = false;
    return true;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    engine_thread_t *self = userp;
    self->curl_deadline_ns =
        timeout_ms < 0 ? INT64_MAX : clock_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
    return 0;
}

/* ---- intervals ------------------------------------------------------------------ */

static int64_t interval_index_at(const engine_shared_t *shared, int64_t now_ns)
{
    if (now_ns < shared->run_t0_ns)
        return 0;
    return (now_ns - shared->run_t0_ns) / shared->interval_ns;
}

/* Closes the current interval and opens `next_index`. */
static void interval_rotate(engine_thread_t *self, int64_t next_index)
{
    engine_t *engine = self->engine;
    const engine_shared_t *shared = self->shared;
    interval_t *closed = self->cur;
    int64_t closed_index = closed->index;
    interval_t *fresh = NULL;
    if (interval_is_empty(closed, shared->targets.count)) {
        fresh = closed; /* nothing to hand over: reuse it */
    } else {
        pthread_mutex_lock(&engine->lock);
        closed->next = NULL;
        if (self->closed_tail)
            self->closed_tail->next = closed;
        else
            self->closed_head = closed;
        self->closed_tail = closed;
        fresh = self->free_intervals;
        if (fresh)
            self->free_intervals = fresh->next;
        pthread_mutex_unlock(&engine->lock);
        if (!fresh)
            fresh = interval_new(shared->targets.count, shared->class_count, shared->turn_count);
    }
    fresh->index = next_index;
    fresh->next = NULL;
    self->cur = fresh;
    self->cur_end_ns = shared->run_t0_ns + (next_index + 1) * shared->interval_ns;
    atomic_store(&self->closed_through,
                 next_index - 1 > closed_index ? next_index - 1 : closed_index);
}

interval_t *engine_thread_interval(engine_thread_t *self, int64_t now_ns)
{
    if (now_ns >= self->cur_end_ns)
        interval_rotate(self, interval_index_at(self->shared, now_ns));
    return self->cur;
}

/* ---- requests ------------------------------------------------------------------- */

static request_t *request_take(engine_thread_t *self)
{
    request_t *r = self->free_requests;
    if (r) {
        self->free_requests = r->next_free;
        return r;
    }
    return request_new(self);
}

static void inflight_link(engine_thread_t *self, request_t *r)
{
    r->prev_inflight = NULL;
    r->next_inflight = self->inflight_head;
    if (self->inflight_head)
        self->inflight_head->prev_inflight = r;
    self->inflight_head = r;
}

static void inflight_unlink(engine_thread_t *self, request_t *r)
{
    if (r->prev_inflight)
        r->prev_inflight->next_inflight = r->next_inflight;
    else
        self->inflight_head = r->next_inflight;
    if (r->next_inflight)
        r->next_inflight->prev_inflight = r->prev_inflight;
    r->prev_inflight = r->next_inflight = NULL;
}

static void kick_curl(engine_thread_t *self)
{
    int running;
    self->curl_deadline_ns = INT64_MAX;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* Starts one send the pacer found due (an open-loop arrival or a user's turn). Returns its
   request, or NULL when the in-flight cap refused it (nothing was sent; counted as dropped
   unless the send waits on the cap). */
static request_t *thread_send(engine_thread_t *self, const pacer_due_t *due,
                              const pacer_send_t *send)
{
    engine_shared_t *shared = self->shared;
    int64_t now = clock_now_ns();
    interval_t *iv = engine_thread_interval(self, now);
    int64_t t_sched_ns = send->t_sched_ns, index = send->index, user = send->user;
    conversation_t *conv = send->conv;
    int phase = due->phase_index;
    if (shared->max_inflight > 0 && atomic_load(&shared->inflight) >= shared->max_inflight) {
        if (!send->waits_on_cap)
            interval_count_dropped(iv, phase, 1);
        return NULL;
    }
    request_t *r = request_take(self);
    if (!r) { /* out of memory: not sent, so dropped (scheduled = sent + dropped) */
        interval_count_dropped(iv, phase, 1);
        return NULL;
    }
    targets_t *targets = &shared->targets;
    /* affinity: a conversation's later turns go where its first went */
    int target = conv && conversation_affinity(shared->conv) && conversation_target(conv) >= 0
                     ? conversation_target(conv)
                     : targets_pick(targets, &self->rr_counter, &self->rng);
    int body = (int)((index >= 0 ? (uint64_t)index : self->body_counter++) %
                     (uint64_t)targets->body_count);
    r->user = user;
    r->index = index;
    r->class_index = shared->body_class ? shared->body_class[body] : -1;
    r->phase_index = phase;
    r->phase_end_ns = due->phase_end_ns;
    r->prewarm = false;
    r->t_sched_ns = t_sched_ns;
    r->conv = conv;
    r->turn = 0;
    r->turns_dropped = 0;
    request_prepare(r, target, body, send->share);
    if (conv) { /* the turn's own body: history as it happened (conversation.c) */
        if (conversation_target(conv) < 0)
            conversation_set_target(conv, target);
        r->turn = conversation_next_body(conv, &r->conv_body, &r->turns_dropped);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->conv_body.data);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)r->conv_body.len);
    }
    easy_socket_hooks(r->easy);

    r->t_send_ns = clock_now_ns();
    curl_multi_add_handle(self->multi, r->easy);
    self->sends++;
    inflight_link(self, r);
    self->inflight++;
    atomic_fetch_add(&shared->inflight, 1);
    atomic_fetch_add(&targets->inflight[target], 1);
    atomic_fetch_add(&shared->sent_total, 1);

    int64_t lag_us = (r->t_send_ns - t_sched_ns) / NS_PER_US;
    atomic_store(&shared->lag_us_last, lag_us);
    metrics_t *into[5] = {iv->total, iv->per_target[target], interval_phase_metrics(iv, phase),
                          interval_class_metrics(iv, r->class_index),
                          interval_turn_metrics(iv, r->turn)};
    for (int k = 0; k < 5; k++) {
        if (!into[k])
            continue;
        into[k]->c.scheduled++;
        into[k]->c.sent++;
        into[k]->c.context_truncated += r->turns_dropped > 0;
        metrics_record_us(into[k], METRIC_LAG, lag_us);
    }
    kick_curl(self); /* write the request now, not on the next turn of the loop */
    return r;
}

/* Acts on what the pacer found due: counts the arrivals it will never send, then starts
   each send and tells the pacer what became of it. */
static void due_apply(engine_thread_t *self, const pacer_due_t *due)
{
    if (due->dropped_count > 0) {
        interval_t *iv = engine_thread_interval(self, clock_now_ns());
        for (int i = 0; i < due->dropped_count; i++)
            interval_count_dropped(iv, due->dropped[i].phase_index, due->dropped[i].count);
    }
    for (int i = 0; i < due->send_count; i++) {
        request_t *r = thread_send(self, due, &due->sends[i]);
        pacer_send_result(&self->pacer, &due->sends[i], r, clock_now_ns());
    }
}

/* Counts a conversation's end into the interval it ends in (the total and its phase). */
static void count_conversation_end(engine_thread_t *self, int phase_index, pacer_conv_end_t end,
                                   int64_t now_ns)
{
    if (end == PACER_CONV_GOES_ON)
        return;
    interval_t *iv = engine_thread_interval(self, now_ns);
    metrics_t *into[2] = {iv->total, interval_phase_metrics(iv, phase_index)};
    for (int k = 0; k < 2 && into[k]; k++) {
        if (end == PACER_CONV_COMPLETED)
            into[k]->c.conversations_completed++;
        else
            into[k]->c.conversations_abandoned++;
    }
}

static void prewarm_send(engine_thread_t *self)
{
    const engine_shared_t *shared = self->shared;
    int per_target = 1;
    if (shared->max_connections_per_target > 0) {
        int t = shared->thread_count, j = self->id, cap = shared->max_connections_per_target;
        per_target = cap * (j + 1) / t - cap * j / t;
        if (per_target < 1)
            per_target = 1;
    }
    for (int target = 0; target < shared->targets.count; target++) {
        for (int k = 0; k < per_target; k++) {
            request_t *r = request_take(self);
            if (!r)
                return;
            r->user = r->index = -1;
            r->class_index = -1;
            r->conv = NULL;
            r->turn = r->turns_dropped = 0;
            r->prewarm = true;
            request_prepare(r, target, 0, NULL);
            easy_socket_hooks(r->easy);
            r->t_sched_ns = r->t_send_ns = clock_now_ns();
            curl_multi_add_handle(self->multi, r->easy);
            inflight_link(self, r);
        }
    }
    kick_curl(self);
}

static void request_done(engine_thread_t *self, request_t *r, CURLcode result, bool record)
{
    int64_t now = clock_now_ns();
    curl_multi_remove_handle(self->multi, r->easy);
    inflight_unlink(self, r);
    if (!r->prewarm) {
        bool ok = record && request_finish(r, result, now);
        self->inflight--;
        atomic_fetch_sub(&self->shared->inflight, 1);
        atomic_fetch_sub(&self->shared->targets.inflight[r->target], 1);
        if (r->conv)
            count_conversation_end(self, r->phase_index,
                                   pacer_conversation_turn_done(&self->pacer, r, ok, now), now);
        if (r->user >= 0)
            pacer_user_done(&self->pacer, r->user, now);
    }
    r->next_free = self->free_requests;
    self->free_requests = r;
}

static void drain_done(engine_thread_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        request_t *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode result = msg->data.result;
        if (r)
            request_done(self, r, result, true);
    }
}

static void abort_all(engine_thread_t *self, bool record)
{
    while (self->inflight_head) {
        request_t *r = self->inflight_head;
        r->aborted = true;
        request_done(self, r, CURLE_ABORTED_BY_CALLBACK, record);
    }
}

/* ---- commands ------------------------------------------------------------------- */

void engine_thread_wake(engine_thread_t *self)
{
    uint64_t one = 1;
    ssize_t n = write(self->wake_fd, &one, sizeof one);
    (void)n;
}

/* Returns false when the thread must stop. */
static bool mailbox_read(engine_thread_t *self)
{
    uint64_t count;
    ssize_t n = read(self->wake_fd, &count, sizeof count);
    (void)n;
    engine_t *engine = self->engine;
    pthread_mutex_lock(&engine->lock);
    mailbox_t box = self->mailbox;
    memset(&self->mailbox, 0, sizeof self->mailbox);
    uint64_t generation = engine->generation;
    pthread_mutex_unlock(&engine->lock);

    pacer_due_t due;
    if (box.halt) {
        pacer_halt(&self->pacer, clock_now_ns(), &due);
        due_apply(self, &due);
        if (box.abort_inflight)
            abort_all(self, true);
    }
    if (box.has_phase)
        pacer_set_phase(&self->pacer, &box.phase);
    if (box.flush)
        interval_rotate(self, self->cur->index + 1);
    if (box.stop) {
        pacer_halt(&self->pacer, clock_now_ns(), &due);
        due_apply(self, &due);
        abort_all(self, false);
    }
    atomic_store(&self->running, self->pacer.active || self->pacer.has_pending);

    pthread_mutex_lock(&engine->lock);
    self->acked_generation = generation;
    pthread_cond_broadcast(&engine->acked);
    pthread_mutex_unlock(&engine->lock);
    return !box.stop;
}

/* ---- the loop ------------------------------------------------------------------- */

/* timer_armed_ns of a timerfd that fired and was not re-armed: equal to no deadline,
   so the next timer_arm always sets it. */
#define TIMER_FIRED INT64_MIN

static void timer_arm(engine_thread_t *self, int64_t deadline_ns)
{
    if (deadline_ns == self->timer_armed_ns)
        return;
    struct itimerspec its = {0};
    if (deadline_ns != INT64_MAX) {
        its.it_value.tv_sec = deadline_ns / NS_PER_S;
        its.it_value.tv_nsec = deadline_ns % NS_PER_S;
    }
    timerfd_settime(self->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    self->timer_armed_ns = deadline_ns;
}

static void *thread_main(void *arg)
{
    engine_thread_t *self = arg;
    struct epoll_event events[EPOLL_BATCH];
    pacer_due_t due; /* what the pacer finds due on each turn */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (self->shared->prewarm)
        prewarm_send(self);

    /* A turn: from epoll_wait's return to the next call. It did work when it read a
       socket or sent a request; idle.c turns the share of time spent working into
       "poll" or "sleep" for the next wait. */
    int64_t turn_start = clock_now_ns();
    uint64_t sends_before = self->sends;
    bool worked = false;
    idle_init(&self->idle, self->shared->idle, turn_start);
    for (;;) {
        int64_t now = clock_now_ns();
        engine_thread_interval(self, now);
        int64_t next = pacer_run(&self->pacer, now, &due);
        due_apply(self, &due);
        atomic_store(&self->running, self->pacer.active || self->pacer.has_pending);
        now = clock_now_ns();
        if (self->curl_deadline_ns <= now) {
            kick_curl(self);
            drain_done(self);
            worked = true;
            continue;
        }
        int64_t wake = next;
        if (self->cur_end_ns < wake)
            wake = self->cur_end_ns;
        if (self->curl_deadline_ns < wake)
            wake = self->curl_deadline_ns;
        if (worked || self->sends != sends_before)
            idle_add_work(&self->idle, now - turn_start);
        int timeout_ms = -1;
        bool idle_poll = false;
        if (wake <= now) {
            timeout_ms = 0;
        } else if (idle_should_poll(&self->idle, now, wake, self->inflight > 0)) {
            timeout_ms = 0;
            idle_poll = true;
            if (self->timer_armed_ns == TIMER_FIRED)
                timer_arm(self, INT64_MAX); /* else it stays readable: every poll sees it */
        } else {
            timer_arm(self, wake);
        }

        int n = epoll_wait(self->epoll_fd, events, EPOLL_BATCH, timeout_ms);
        turn_start = clock_now_ns();
        sends_before = self->sends;
        worked = false;
        if (n < 0 && errno != EINTR) {
            log_error("engine thread %d: epoll_wait: %s", self->id, strerror(errno));
            break;
        }
        if (n <= 0 && idle_poll) {
            sched_yield(); /* an empty poll: let the other threads of this core run */
            continue;
        }
        bool stop = false;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            worked = worked || fd != self->timer_fd;
            if (fd == self->timer_fd) {
                /* Fired. Not read: it stays readable until timer_arm sets or clears it
                   on a later turn (timerfd_settime resets the count), which saves a
                   read per wake-up; until then epoll_wait just reports it again. */
                self->timer_armed_ns = TIMER_FIRED;
            } else if (fd == self->wake_fd) {
                stop = !mailbox_read(self) || stop;
            } else if (!socket_parked_woke(self, fd)) {
                int flags = 0, running;
                if (events[i].events & EPOLLIN)
                    flags |= CURL_CSELECT_IN;
                if (events[i].events & EPOLLOUT)
                    flags |= CURL_CSELECT_OUT;
                if (events[i].events & (EPOLLERR | EPOLLHUP))
                    flags |= CURL_CSELECT_ERR;
                curl_multi_socket_action(self->multi, fd, flags, &running);
            }
        }
        drain_done(self);
        if (stop)
            break;
    }
    abort_all(self, false);
    log_debug("engine thread %d: idle %s, polled in %lld of %lld windows of %lld ms", self->id,
              idle_mode_name(self->idle.mode), (long long)self->idle.busy_windows,
              (long long)self->idle.windows, (long long)(IDLE_WINDOW_NS / NS_PER_MS));
    return NULL;
}

int engine_thread_start(engine_thread_t *self, engine_t *engine, int id, char *err, size_t err_size)
{
    engine_shared_t *shared = &engine->shared;
    self->engine = engine;
    self->shared = shared;
    self->id = id;
    self->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->timer_armed_ns = INT64_MAX;
    self->curl_deadline_ns = INT64_MAX;
    self->rr_counter = (uint64_t)id;
    self->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(id + 1);
    pacer_init(&self->pacer, 0xD1B54A32D192ED03ULL * (uint64_t)(id + 1), id, shared->thread_count,
               shared->conv, shared->connection_per_user);
    self->oai = oai_parser_new(0);
    self->multi = curl_multi_init();
    self->cur = interval_new(shared->targets.count, shared->class_count, shared->turn_count);
    if (self->epoll_fd < 0 || self->timer_fd < 0 || self->wake_fd < 0 || !self->oai ||
        !self->multi || !self->cur) {
        snprintf(err, err_size, "engine thread %d: cannot create its loop: %s", id,
                 strerror(errno));
        return -1;
    }
    self->cur->index = engine->first_index;
    self->cur_end_ns = shared->run_t0_ns + (engine->first_index + 1) * shared->interval_ns;
    atomic_store(&self->closed_through, engine->first_index - 1);

    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = self->timer_fd;
    epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &ev);
    ev.data.fd = self->wake_fd;
    epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, self->wake_fd, &ev);

    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    /* Keep every idle keep-alive connection: the default cache (4 x handles added)
       would close connections whenever the load dips. */
    curl_multi_setopt(self->multi, CURLMOPT_MAXCONNECTS, 100000L);
    if (shared->max_connections_per_target > 0) {
        int t = shared->thread_count, cap = shared->max_connections_per_target;
        long mine = (long)(cap * (id + 1) / t - cap * id / t);
        curl_multi_setopt(self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, mine > 0 ? mine : 1L);
    }
    int rc = pthread_create(&self->pthread, NULL, thread_main, self);
    if (rc != 0) {
        snprintf(err, err_size, "engine thread %d: %s", id, strerror(rc));
        return -1;
    }
    return 0;
}

static void interval_list_destroy(interval_t *head, int target_count)
{
    while (head) {
        interval_t *next = head->next;
        interval_destroy(&head, target_count);
        head = next;
    }
}

/* Called after the thread was told to stop (or was never started). */
void engine_thread_join(engine_thread_t *self)
{
    if (self->pthread)
        pthread_join(self->pthread, NULL);
    while (self->free_requests) {
        request_t *r = self->free_requests;
        self->free_requests = r->next_free;
        request_destroy(&r);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    self->multi = NULL;
    pacer_free(&self->pacer);
    oai_parser_destroy(&self->oai);
    oai_parser_destroy(&self->body_oai);
    int n = self->shared ? self->shared->targets.count : 0;
    interval_destroy(&self->cur, n);
    interval_list_destroy(self->closed_head, n);
    interval_list_destroy(self->free_intervals, n);
    self->closed_head = self->closed_tail = self->free_intervals = NULL;
    if (self->epoll_fd > 0)
        close(self->epoll_fd);
    if (self->timer_fd > 0)
        close(self->timer_fd);
    if (self->wake_fd > 0)
        close(self->wake_fd);
}
