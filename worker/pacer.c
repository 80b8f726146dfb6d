/*  pacer.c: when this thread sends.

    Open loop: the thread walks the one global arrival sequence (common/schedule.h) and
    keeps the indices of its sub-segment of the engine's segment: thread j of T gets
    [from + (to-from)*j/T, from + (to-from)*(j+1)/T), with the ends pinned to from and
    to exactly so that neighbouring threads and engines meet without a gap. Each
    arrival is sent at its absolute deadline (phase t0 + offset). After a stall the
    arrivals already due go out no faster than twice the rate: the next send waits at
    least half the scheduled gap after the previous one. Intended times never move,
    so the lag and response time say how late each one was.

    Closed loop: users (the thread's share of the phase's concurrency or user count)
    each send, wait for the answer, think (0 for a concurrency phase, an exponential
    draw for users) and send again. Users wait in a binary heap keyed by their next
    intended send time.

    The pacer decides and the loop acts: pacer_run fills a caller-provided pacer_due_t
    with the sends that are due (and the arrivals that will never go out, to count as
    dropped) and returns when it next wants to run; loop.c starts each request and tells
    the pacer what became of it (pacer_send_result: refused by the in-flight cap, a user
    waits or thinks again, an open-loop conversation ends). The pacer calls nothing of
    the loop, the requests or the intervals.

    Fairness: one call hands out at most PACER_SEND_BUDGET sends and then returns "now",
    so the loop reads the sockets that are ready before it sends more. Without it an
    engine asked for more than it can send never left the sending loop (every arrival
    was already due again): no answer was read, so every request needed a new
    connection, the connections piled up (16,000 in 4 s at 40,000/s asked of one
    thread) and each new one cost more than the last; the run recorded nothing after
    its first interval. With it, an overloaded engine sends as fast as it can while
    answers keep completing, and its lag says how far behind it is.

    Conversations (worker/conversation.c): in a rate phase each arrival starts a new
    conversation, and its later turns wait in a second heap, keyed by their next send time
    (the previous answer's end plus the think time), until the phase's end; in a closed
    loop each user holds one conversation after another, its next turn keyed in the users'
    heap like any send. A conversation ends completed after its last turn, or abandoned
    when a turn fails; the ones a phase's end or a halt cuts off are neither.

    Hot path: pacer_run allocates nothing (the due sends go into the caller's array of
    PACER_SEND_BUDGET); memory is sized when a phase starts (a conversation is allocated
    when it starts, and its history grows once per turn).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "worker/engine_private.h"

/* A user kept off by the in-flight cap in a concurrency phase tries again this much
   later (concurrency above the cap waits; it is not an arrival to drop). */
#define CAP_RETRY_NS (1 * NS_PER_MS)

void pacer_init(pacer_t *self, uint64_t seed, int thread_index, int thread_count,
                const conv_shared_t *conv, bool connection_per_user)
{
    memset(self, 0, sizeof *self);
    self->rng = seed ? seed : 0x2545F4914F6CDD1DULL;
    self->thread_index = thread_index;
    self->thread_count = thread_count > 0 ? thread_count : 1;
    self->conv = conv;
    self->connection_per_user = connection_per_user;
}

/* ---- what is due ------------------------------------------------------------------ */

static void due_reset(pacer_due_t *due)
{
    due->send_count = 0;
    due->dropped_count = 0;
}

/* n arrivals of phase_index that will never be sent. */
static void due_drop(pacer_due_t *due, int phase_index, int64_t n)
{
    for (int i = 0; i < due->dropped_count; i++) {
        if (due->dropped[i].phase_index == phase_index) {
            due->dropped[i].count += n;
            return;
        }
    }
    if (due->dropped_count == PACER_DROPPED_PHASES) {
        /* Never (a call drops arrivals of the replaced phase and of its replacement at
           most): counted with the last one rather than lost. */
        due->dropped[PACER_DROPPED_PHASES - 1].count += n;
        return;
    }
    due->dropped[due->dropped_count].phase_index = phase_index;
    due->dropped[due->dropped_count].count = n;
    due->dropped_count++;
}

/* Callers stay within PACER_SEND_BUDGET sends per call. */
static void due_send(pacer_due_t *due, int64_t t_sched_ns, int64_t index, int64_t user,
                     CURLSH *share, conversation_t *conv, bool waits_on_cap)
{
    due->sends[due->send_count++] = (pacer_send_t){.t_sched_ns = t_sched_ns,
                                                   .index = index,
                                                   .user = user,
                                                   .share = share,
                                                   .conv = conv,
                                                   .waits_on_cap = waits_on_cap};
}

/* ---- open-loop conversations waiting for their next turn ----------------------------- */

static bool conv_heap_less(const pacer_t *self, int a, int b)
{
    return conversation_next_ns(self->conv_heap[a]) < conversation_next_ns(self->conv_heap[b]);
}

static void conv_heap_swap(pacer_t *self, int a, int b)
{
    conversation_t *t = self->conv_heap[a];
    self->conv_heap[a] = self->conv_heap[b];
    self->conv_heap[b] = t;
}

/* false when out of memory (the conversation is then the caller's to end) */
static bool conv_heap_push(pacer_t *self, conversation_t *conv)
{
    if (self->conv_heap_len == self->conv_heap_cap) {
        int cap = self->conv_heap_cap ? 2 * self->conv_heap_cap : 64;
        conversation_t **heap = realloc(self->conv_heap, (size_t)cap * sizeof *heap);
        if (!heap)
            return false;
        self->conv_heap = heap;
        self->conv_heap_cap = cap;
    }
    int i = self->conv_heap_len++;
    self->conv_heap[i] = conv;
    while (i > 0 && conv_heap_less(self, i, (i - 1) / 2)) {
        conv_heap_swap(self, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return true;
}

static conversation_t *conv_heap_pop(pacer_t *self)
{
    conversation_t *top = self->conv_heap[0];
    conv_heap_swap(self, 0, --self->conv_heap_len);
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->conv_heap_len && conv_heap_less(self, l, m))
            m = l;
        if (r < self->conv_heap_len && conv_heap_less(self, r, m))
            m = r;
        if (m == i)
            break;
        conv_heap_swap(self, i, m);
        i = m;
    }
    return top;
}

/* Ends every waiting open-loop conversation (the phase is over, replaced or halted). */
static void conv_heap_clear(pacer_t *self)
{
    for (int i = 0; i < self->conv_heap_len; i++) {
        conversation_destroy(&self->conv_heap[i]);
        self->conv_open--;
    }
    self->conv_heap_len = 0;
}

static void users_release(pacer_t *self)
{
    for (int64_t i = 0; i < self->user_capacity; i++) {
        if (self->users[i].share)
            curl_share_cleanup(self->users[i].share);
        conversation_destroy(&self->users[i].conv);
    }
    free(self->users);
    free(self->heap);
    self->users = NULL;
    self->heap = NULL;
    self->user_capacity = self->user_count = 0;
    self->heap_len = 0;
}

void pacer_free(pacer_t *self)
{
    schedule_destroy(&self->schedule);
    users_release(self);
    conv_heap_clear(self);
    free(self->conv_heap);
    self->conv_heap = NULL;
    self->conv_heap_cap = 0;
}

/* ---- the users' heap ------------------------------------------------------------ */

static bool heap_less(const pacer_t *self, int a, int b)
{
    return self->users[self->heap[a]].next_ns < self->users[self->heap[b]].next_ns;
}

static void heap_swap(pacer_t *self, int a, int b)
{
    int ua = self->heap[a], ub = self->heap[b];
    self->heap[a] = ub;
    self->heap[b] = ua;
    self->users[ub].heap_pos = a;
    self->users[ua].heap_pos = b;
}

static void heap_push(pacer_t *self, int user, int64_t next_ns)
{
    self->users[user].next_ns = next_ns;
    int i = self->heap_len++;
    self->heap[i] = user;
    self->users[user].heap_pos = i;
    while (i > 0 && heap_less(self, i, (i - 1) / 2)) {
        heap_swap(self, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static int heap_pop(pacer_t *self)
{
    int top = self->heap[0];
    heap_swap(self, 0, --self->heap_len);
    self->users[top].heap_pos = -1;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->heap_len && heap_less(self, l, m))
            m = l;
        if (r < self->heap_len && heap_less(self, r, m))
            m = r;
        if (m == i)
            break;
        heap_swap(self, i, m);
        i = m;
    }
    return top;
}

static int64_t think_ns(pacer_t *self)
{
    double mean = self->phase.think_time_mean_s;
    if (self->phase.load != PHASE_LOAD_USERS || !(mean > 0))
        return 0;
    return (int64_t)(-log(rng_unit_positive(&self->rng)) * mean * 1e9);
}

/* ---- phases --------------------------------------------------------------------- */

static int64_t split(int64_t n, int j, int t)
{
    return (int64_t)llround((double)n * j / t);
}

/* When a phase (or a continuation of it with new segments) takes over. */
static int64_t takeover_ns(const engine_phase_t *phase)
{
    return phase->from_ns > phase->t0_ns ? phase->from_ns : phase->t0_ns;
}

static void phase_activate(pacer_t *self, const engine_phase_t *phase)
{
    int j = self->thread_index, t = self->thread_count;
    schedule_destroy(&self->schedule);
    conv_heap_clear(self);
    self->have_next = false;
    self->phase = *phase;
    self->active = true;
    self->end_ns = phase->t0_ns + phase->duration_ns;
    self->heap_len = 0;
    for (int64_t i = 0; i < self->user_capacity; i++)
        self->users[i].heap_pos = -1;

    if (phase->load == PHASE_LOAD_RATE) {
        double from = phase->segment_from, to = phase->segment_to;
        self->seg_from = j == 0 ? from : from + (to - from) * j / t;
        self->seg_to = j == t - 1 ? to : from + (to - from) * (j + 1) / t;
        schedule_spec_t spec = phase->schedule;
        if (spec.duration_ns <= 0 || spec.duration_ns > phase->duration_ns)
            spec.duration_ns = phase->duration_ns;
        self->schedule = schedule_new(&spec);
        self->user_count = 0;
        /* A continuation walks the one global sequence from the phase start and takes
           only the arrivals from the takeover on: the indices and intended times stay
           those of the single-worker schedule whatever the re-segmentations. */
        int64_t takeover = takeover_ns(phase);
        uint64_t index;
        int64_t offset;
        while (takeover > phase->t0_ns && schedule_next(self->schedule, &index, &offset)) {
            if (phase->t0_ns + offset >= takeover) {
                if (schedule_segment_contains(self->seg_from, self->seg_to, index)) {
                    self->next_index = index;
                    self->next_deadline_ns = phase->t0_ns + offset;
                    self->have_next = true;
                }
                break;
            }
        }
        self->prev_deadline_ns = self->last_fire_ns = takeover;
        return;
    }

    /* Closed loop: this engine's part of N, then this thread's part of that. Users keep
       their index across phases so a user in flight stays one user. */
    int64_t n = phase->load == PHASE_LOAD_USERS ? phase->users : phase->concurrency;
    int64_t mine = schedule_segment_share(n, phase->segment_from, phase->segment_to);
    int64_t count = split(mine, j + 1, t) - split(mine, j, t);
    self->first_user = schedule_segment_first(n, phase->segment_from) + split(mine, j, t);
    if (count > self->user_capacity) {
        user_t *users = realloc(self->users, (size_t)count * sizeof *users);
        int *heap = realloc(self->heap, (size_t)count * sizeof *heap);
        if (!users || !heap) {
            self->users = users ? users : self->users;
            self->heap = heap ? heap : self->heap;
            count = self->user_capacity;
        } else {
            self->users = users;
            self->heap = heap;
            for (int64_t i = self->user_capacity; i < count; i++) {
                memset(&users[i], 0, sizeof users[i]);
                users[i].heap_pos = -1;
                if (self->connection_per_user) {
                    users[i].share = curl_share_init();
                    curl_share_setopt(users[i].share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
                }
            }
            self->user_capacity = count;
        }
    }
    self->user_count = count;
    for (int64_t i = 0; i < count; i++) {
        /* Users start thinking (they arrive spread out, not as one herd); a
           concurrency phase starts all at t0. */
        if (!self->users[i].request)
            heap_push(self, (int)i, takeover_ns(phase) + think_ns(self));
    }
}

void pacer_set_phase(pacer_t *self, const engine_phase_t *phase)
{
    self->pending = *phase;
    self->has_pending = true;
}

/* ---- sending -------------------------------------------------------------------- */

/* The next arrival of this thread's sub-segment, if any. */
static bool next_arrival(pacer_t *self)
{
    uint64_t index;
    int64_t offset;
    while (self->schedule && schedule_next(self->schedule, &index, &offset)) {
        if (schedule_segment_contains(self->seg_from, self->seg_to, index)) {
            self->next_index = index;
            self->next_deadline_ns = self->phase.t0_ns + offset;
            self->have_next = true;
            return true;
        }
    }
    self->have_next = false;
    return false;
}

/* Puts in due->dropped every arrival of the active rate phase not sent yet whose
   intended time is before until_ns: the phase is being replaced or halted, so these will
   never go out (typically they were held back by the catch-up cap). */
static void open_loop_drop_due(pacer_t *self, int64_t until_ns, pacer_due_t *due)
{
    if (!self->active || self->phase.load != PHASE_LOAD_RATE)
        return;
    int64_t dropped = 0;
    while ((self->have_next || next_arrival(self)) && self->next_deadline_ns < until_ns) {
        self->have_next = false;
        dropped++;
    }
    if (dropped)
        due_drop(due, self->phase.phase_index, dropped);
}

void pacer_halt(pacer_t *self, int64_t now_ns, pacer_due_t *due)
{
    due_reset(due);
    /* A pending phase whose t0 has passed was running in all but name: its due
       arrivals are counted too. */
    if (self->has_pending && takeover_ns(&self->pending) <= now_ns) {
        open_loop_drop_due(self, takeover_ns(&self->pending), due);
        self->has_pending = false;
        phase_activate(self, &self->pending);
    }
    open_loop_drop_due(self, now_ns + 1, due); /* due = intended time <= now */
    self->has_pending = false;
    self->active = false;
    self->heap_len = 0;
    self->user_count = 0;
    for (int64_t i = 0; i < self->user_capacity; i++)
        self->users[i].heap_pos = -1;
    schedule_destroy(&self->schedule);
    conv_heap_clear(self);
    self->have_next = false;
}

/* An arrival of a rate phase: a single request, or the first turn of a new conversation
   (its index names it). */
static void open_loop_send(pacer_t *self, int64_t deadline, uint64_t index, pacer_due_t *due)
{
    conversation_t *conv = NULL;
    if (self->conv) {
        conv = conversation_new(self->conv, self->phase.phase_index, (int64_t)index, -1, index);
        if (!conv) { /* out of memory: not sent, so dropped */
            due_drop(due, self->phase.phase_index, 1);
            return;
        }
        self->conv_open++;
    }
    due_send(due, deadline, (int64_t)index, -1, NULL, conv, false);
}

static int64_t open_loop_run(pacer_t *self, int64_t now, pacer_due_t *due)
{
    for (int sent = 0;; sent++) {
        if (sent == PACER_SEND_BUDGET)
            return now; /* more may be due: read the ready sockets first */
        int64_t turn_due =
            self->conv_heap_len ? conversation_next_ns(self->conv_heap[0]) : INT64_MAX;
        if (turn_due <= now) { /* a conversation's next turn */
            conversation_t *conv = conv_heap_pop(self);
            due_send(due, turn_due, -1, -1, NULL, conv, false);
            continue;
        }
        if (!self->have_next && !next_arrival(self))
            return turn_due;
        int64_t deadline = self->next_deadline_ns;
        /* catch-up: no faster than twice the rate */
        int64_t allowed = self->last_fire_ns + (deadline - self->prev_deadline_ns) / 2;
        int64_t fire_at = deadline > allowed ? deadline : allowed;
        if (fire_at > now)
            return fire_at < turn_due ? fire_at : turn_due;
        if (deadline >= self->end_ns)
            return turn_due;
        self->have_next = false;
        self->prev_deadline_ns = deadline;
        self->last_fire_ns = now;
        open_loop_send(self, deadline, self->next_index, due);
    }
}

static int64_t closed_loop_run(pacer_t *self, int64_t now, pacer_due_t *due)
{
    for (int sent = 0; self->heap_len > 0; sent++) {
        if (sent == PACER_SEND_BUDGET)
            return now; /* more may be due: read the ready sockets first */
        int u = self->heap[0];
        user_t *user = &self->users[u];
        if (user->next_ns > now)
            return user->next_ns;
        heap_pop(self);
        if (user->next_ns >= self->end_ns)
            continue;                    /* the phase is over for this user */
        if (self->conv && !user->conv) { /* the user starts a conversation */
            int64_t id = self->first_user + u;
            user->conv = conversation_new(self->conv, self->phase.phase_index, id, user->conv_seq,
                                          (uint64_t)id * 1000003u + user->conv_seq);
            user->conv_seq++;
        }
        due_send(due, user->next_ns, -1, u, user->share, user->conv,
                 self->phase.load == PHASE_LOAD_CONCURRENCY);
    }
    return INT64_MAX;
}

int64_t pacer_run(pacer_t *self, int64_t now, pacer_due_t *due)
{
    due_reset(due);
    if (self->has_pending && takeover_ns(&self->pending) <= now) {
        /* The current phase's arrivals due before the takeover that are still held back
           (catch-up) will never be sent: counted as dropped. */
        open_loop_drop_due(self, takeover_ns(&self->pending), due);
        self->has_pending = false;
        phase_activate(self, &self->pending);
    }
    due->phase_index = self->phase.phase_index;
    due->phase_end_ns = self->end_ns;
    int64_t next = INT64_MAX;
    if (self->active) {
        /* A rate phase ends when its schedule is exhausted: arrivals due before the end
           but still held back by catch-up are sent late, never lost. A closed loop ends
           at the phase end. */
        /* With conversations, a rate phase also waits for its open conversations' later
           turns, up to its planned end. */
        bool over = self->phase.load == PHASE_LOAD_RATE
                        ? !self->have_next && (!self->schedule || !next_arrival(self)) &&
                              (self->conv_open == 0 || now >= self->end_ns)
                        : now >= self->end_ns;
        if (over) {
            self->active = false;
            schedule_destroy(&self->schedule);
            conv_heap_clear(self);
            self->heap_len = 0;
        } else {
            next = self->phase.load == PHASE_LOAD_RATE ? open_loop_run(self, now, due)
                                                       : closed_loop_run(self, now, due);
            if (next == INT64_MAX && self->phase.load == PHASE_LOAD_RATE)
                next = self->conv_open > 0 ? self->end_ns /* answers may still come */
                                           : now;         /* exhausted: mark the phase over */
            if (next > self->end_ns && self->phase.load != PHASE_LOAD_RATE)
                next = self->end_ns; /* wake to mark the phase over */
        }
    }
    if (self->has_pending && takeover_ns(&self->pending) < next)
        next = takeover_ns(&self->pending);
    return next;
}

void pacer_send_result(pacer_t *self, const pacer_send_t *send, request_t *sent, int64_t now_ns)
{
    if (send->user >= 0) {
        user_t *user = &self->users[send->user];
        if (sent) {
            user->request = sent;
            return;
        }
        /* Refused by the in-flight cap: a concurrency phase's user waits and tries again
           (not an arrival to drop); a virtual user thinks again. */
        if (send->waits_on_cap)
            heap_push(self, (int)send->user, now_ns + CAP_RETRY_NS);
        else
            heap_push(self, (int)send->user, send->t_sched_ns + think_ns(self) + 1);
        return;
    }
    if (!sent && send->conv) {
        /* An open-loop conversation whose turn the cap refused (counted as dropped by the
           loop) ends here. */
        conversation_t *conv = send->conv;
        conversation_destroy(&conv);
        self->conv_open--;
    }
}

void pacer_user_done(pacer_t *self, int64_t user, int64_t now_ns)
{
    if (user < 0 || user >= self->user_capacity)
        return;
    self->users[user].request = NULL;
    if (!self->active || self->phase.load == PHASE_LOAD_RATE || user >= self->user_count ||
        self->users[user].heap_pos >= 0)
        return;
    heap_push(self, (int)user, now_ns + think_ns(self));
}

pacer_conv_end_t pacer_conversation_turn_done(pacer_t *self, request_t *r, bool ok, int64_t now_ns)
{
    conversation_t *conv = r->conv;
    r->conv = NULL;
    if (!conv)
        return PACER_CONV_GOES_ON;
    bool more = ok && conversation_answered(conv, r->answer.data, r->answer.len);
    pacer_conv_end_t end = ok && !more          ? PACER_CONV_COMPLETED
                           : !ok && !r->aborted ? PACER_CONV_ABANDONED
                                                : PACER_CONV_GOES_ON;
    int64_t next_ns = more ? now_ns + conversation_think_ns(conv) : 0;
    if (r->user >= 0) { /* a closed-loop user's: the user's next send is the next turn */
        user_t *user = r->user < self->user_capacity ? &self->users[r->user] : NULL;
        if (!user || user->conv != conv) {
            conversation_destroy(&conv); /* not the user's any more (never, but safe) */
            return end;
        }
        if (!more) {
            conversation_destroy(&user->conv); /* pacer_user_done schedules the next one */
            return end;
        }
        user->request = NULL;
        if (self->active && self->phase.load != PHASE_LOAD_RATE && r->user < self->user_count &&
            user->heap_pos < 0)
            heap_push(self, (int)r->user, next_ns);
        return end;
    }
    bool keep = more && self->active && self->phase.load == PHASE_LOAD_RATE &&
                self->phase.phase_index == r->phase_index && next_ns < self->end_ns;
    if (keep) {
        conversation_set_next_ns(conv, next_ns);
        keep = conv_heap_push(self, conv);
    }
    if (!keep) {
        conversation_destroy(&conv);
        self->conv_open--;
    }
    return end;
}
