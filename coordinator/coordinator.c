/*  coordinator.c: the control loop (see coordinator.h, docs/fleet.md).

    One thread, one poller, 20 ms ticks. Every message is handled as it arrives and
    every timed duty (barrier, phase announcements, leases, re-segmenting, closing
    intervals, progress) is checked on each tick; none of them waits on the network, so
    a heartbeat is answered within a tick even while snapshots pour in.
*/
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/exit_codes.h"
#include "common/log.h"
#include "coordinator/coord_internal.h"
#include "plan/plan_yaml.h"
#include "report/report.h"

#define TICK_MS               20
#define MAX_MESSAGES_PER_TICK 1024 /* then look at the clock again */

typedef enum { STATE_WAITING, STATE_RUNNING, STATE_DRAINING, STATE_DONE } run_state_t;

/* ---- sending --------------------------------------------------------------------- */

static void send_to(coordinator_t *self, worker_t *w, const proto_msg_t *msg)
{
    if (w->identity)
        proto_send_to(self->router, w->identity, msg);
}

/* The plan's conversations as the wire carries them (docs/protocol.md, "conv"): false
   when it has none. The dataset's conversations go whole, the first ones that fit
   PROTO_MAX_CONVERSATIONS, PROTO_MAX_TURN_TEXTS and PROTO_MAX_TURN_TEXT_BYTES; *counts_out and
   *texts_out (borrowed strings) are the caller's to free after the send. */
static bool conversations_of_plan(const plan_t *plan, proto_conversations_t *out, int **counts_out,
                                  char ***texts_out)
{
    *counts_out = NULL;
    *texts_out = NULL;
    const workload_spec_t *spec = plan->extra ? plan->extra->workload_spec : NULL;
    const workload_t *pool = plan->extra ? plan->extra->workload : NULL;
    if (!spec || !pool || !spec->conversations.enabled)
        return false;
    const conversation_spec_t *c = &spec->conversations;
    memset(out, 0, sizeof *out);
    out->turns = (dist_t){.kind = (dist_kind_t)c->turns.kind,
                          .mean = c->turns.mean,
                          .stddev = c->turns.stddev,
                          .min = c->turns.min,
                          .max = c->turns.max};
    const length_dist_t *t = &c->think_time_ms;
    out->think_time_ms = (dist_t){.kind = (dist_kind_t)t->kind,
                                  .mean = t->mean,
                                  .stddev = t->stddev,
                                  .min = t->min,
                                  .max = t->max};
    out->system_prompt = pool->system_prompt;
    out->shared_prefix = pool->shared_prefix;
    out->shared_prefix_fraction =
        pool->shared_prefix && *pool->shared_prefix ? c->shared_prefix_fraction : 0;
    out->affinity =
        c->affinity == AFFINITY_NONE ? PROTO_AFFINITY_NONE : PROTO_AFFINITY_CONVERSATION;
    out->context_tokens = c->context_tokens;
    out->chars_per_token = pool->chars_per_token;
    const conversation_list_t *list = &pool->conversations;
    int convs = 0, texts = 0;
    size_t bytes = 0;
    while (convs < list->count && convs < PROTO_MAX_CONVERSATIONS &&
           texts + list->items[convs].user_turns.count <= PROTO_MAX_TURN_TEXTS) {
        const prompt_list_t *turns = &list->items[convs].user_turns;
        size_t more = 0;
        for (int j = 0; j < turns->count; j++)
            more += strlen(turns->items[j]);
        if (bytes + more > PROTO_MAX_TURN_TEXT_BYTES)
            break;
        bytes += more;
        texts += turns->count;
        convs++;
    }
    int *counts = calloc((size_t)convs + 1, sizeof *counts);
    char **strings = calloc((size_t)texts + 1, sizeof *strings);
    if (!counts || !strings)
        abort(); /* out of memory while sending a plan */
    int k = 0;
    for (int i = 0; i < convs; i++) {
        const prompt_list_t *turns = &list->items[i].user_turns;
        counts[i] = turns->count;
        for (int j = 0; j < turns->count; j++)
            strings[k++] = turns->items[j];
    }
    out->turn_counts = counts;
    out->conversation_count = convs;
    out->turn_texts = strings;
    out->turn_text_count = texts;
    *counts_out = counts;
    *texts_out = strings;
    return true;
}

static void send_plan(coordinator_t *self, worker_t *w)
{
    const plan_t *plan = self->plan;
    proto_msg_t msg = {.type = PROTO_PLAN};
    proto_plan_t *p = &msg.u.plan;
    p->targets = plan->target_urls;
    p->target_count = plan->target_count;
    p->model = plan->model;
    p->api = plan->api;
    p->stream = plan->stream;
    p->max_tokens = plan->max_tokens;
    p->ignore_eos = plan->ignore_eos;
    p->prompts = plan->prompts;
    p->prompt_count = plan->prompt_count;
    p->prompt_max_tokens = plan->prompt_max_tokens;
    /* Classes only for a mix: with one class, the run's totals are the class's, and the
       workers record nothing twice. */
    if (plan->class_count >= 2) {
        p->prompt_class = plan->prompt_class;
        p->classes = plan->class_names;
        p->class_count = plan->class_count;
    }
    p->interval_ms = self->interval_ns / 1000000;
    p->run_t0_ns = self->run_t0_ns;
    p->record_requests = self->cfg.record_requests;
    p->timeout_ms = plan->timeout_ms;
    p->max_inflight = plan->max_inflight;
    p->slo_ttft_ms = plan->slo_ttft_ms;
    p->slo_tpot_ms = plan->slo_tpot_ms;
    p->slo_e2e_ms = plan->slo_e2e_ms;
    p->extra_body_json = plan->extra_body_json;
    p->api_key_env = plan->api_key_env;
    /* A path the worker reads on its own host (under its --api-key-dir): the key itself
       never crosses the wire. */
    p->api_key_file = plan->extra ? plan->extra->api_key_file : NULL;
    p->headers = plan->extra ? plan->extra->headers : NULL;
    p->header_count = plan->extra ? plan->extra->header_count : 0;
    p->balance = plan->extra ? plan->extra->balance : NULL;
    p->capture_header = plan->capture_header;
    p->ca_file = plan->ca_file;
    p->insecure_tls = plan->insecure_tls;
    p->max_connections_per_target = plan->max_connections_per_target;
    p->connection_per_user = plan->connection_per_user;
    p->prewarm = plan->prewarm;
    p->preflight = plan->preflight;
    proto_conversations_t conversations;
    int *turn_counts;
    char **turn_texts;
    if (conversations_of_plan(plan, &conversations, &turn_counts, &turn_texts))
        p->conversations = &conversations;
    send_to(self, w, &msg);
    free(turn_counts);
    free(turn_texts);
    w->has_plan = true;
    int64_t offset = clock_now_ns() - self->run_t0_ns;
    w->first_interval = offset > 0 ? offset / self->interval_ns + 1 : 0;
    if (w->planned_from_interval < 0)
        w->planned_from_interval = w->first_interval;
}

/* Sends phase `index` to every live worker, its segments taking effect at coordinator
   time `from_ns`: the phase's own start, or later for new segments of a running phase.
   Either way the message describes the whole phase (t0, rates, seed, duration), so every
   worker walks the one global arrival sequence and takes its segment's arrivals from the
   takeover on: no gap, no overlap, and indices that stay unique across re-segmentations. */
static void send_phase(coordinator_t *self, int index, int64_t from_ns)
{
    const plan_phase_t *p = &self->timeline.phases[index].phase;
    int64_t t0 = self->run_t0_ns + self->timeline.phase_start_ns[index];
    int64_t end = self->run_t0_ns + self->timeline.phase_end_ns[index];

    self->epoch++;
    registry_assign_segments(self);
    proto_msg_t msg = {.type = PROTO_PHASE};
    proto_phase_t *ph = &msg.u.phase;
    ph->epoch = self->epoch;
    ph->phase_index = index;
    ph->name = p->name;
    ph->load = p->load;
    ph->schedule = p->schedule;
    ph->schedule.seed =
        p->schedule.seed ? p->schedule.seed : self->plan->seed * 1000003u + (uint64_t)index;
    ph->concurrency = p->concurrency;
    ph->users = p->users;
    ph->think_time_mean_s = p->think_time_mean_s;
    ph->t0_ns = t0;
    ph->takeover_ns = from_ns > t0 ? from_ns : t0;
    ph->schedule.duration_ns = end - t0;
    if (self->ctl)
        ctl_adjust_phase(self->ctl, index, ph); /* pause / set-rate in force */
    int n = 0;
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        if (w->state != WORKER_LIVE || !w->has_plan)
            continue;
        ph->segment_from = w->from;
        ph->segment_to = w->to;
        send_to(self, w, &msg);
        n++;
    }
    log_info("phase %s (epoch %llu) from %+.3f s: %d workers%s", p->name,
             (unsigned long long)self->epoch, (double)(from_ns - self->run_t0_ns) / 1e9, n,
             from_ns == t0 ? "" : " (new segments)");
    self->segments_dirty = false;
}

static void send_stop_all(coordinator_t *self, bool abort_inflight, const char *reason)
{
    proto_msg_t msg = {.type = PROTO_STOP};
    msg.u.stop = (proto_stop_t){++self->epoch, abort_inflight, (char *)reason};
    for (int i = 0; i < self->worker_count; i++) {
        if (self->workers[i]->state == WORKER_LIVE)
            send_to(self, self->workers[i], &msg);
    }
}

/* ---- receiving ------------------------------------------------------------------- */

static void describe_peer(zframe_t *identity, char *out, size_t size)
{
    size_t n = zframe_size(identity);
    const unsigned char *d = zframe_data(identity);
    bool printable = n > 0;
    for (size_t i = 0; i < n; i++)
        printable = printable && d[i] >= 0x20 && d[i] < 0x7f;
    if (printable)
        snprintf(out, size, "%.*s", (int)(n < 80 ? n : 80), (const char *)d);
    else
        snprintf(out, size, "peer#%02x%02x%02x%02x", n > 1 ? d[1] : 0, n > 2 ? d[2] : 0,
                 n > 3 ? d[3] : 0, n > 4 ? d[4] : 0);
}

static void refuse(coordinator_t *self, zframe_t *identity, const char *reason)
{
    proto_msg_t msg = {.type = PROTO_WELCOME};
    msg.u.welcome = (proto_welcome_t){false, (char *)reason, self->run_id, self->hb_ns / 1000000};
    proto_send_to(self->router, identity, &msg);
}

static void on_hello(coordinator_t *self, zframe_t *identity, const proto_hello_t *hello,
                     run_state_t state, int64_t now)
{
    worker_t *w = registry_find(self, hello->worker_id, hello->incarnation);
    if (!w) {
        for (int i = 0; i < self->worker_count; i++) {
            worker_t *other = self->workers[i];
            if (other->state == WORKER_LIVE && strcmp(other->id, hello->worker_id) == 0) {
                /* The same id from another process. While the holder is within its lease
                   it keeps the id: the hello goes unanswered and the newcomer, which says
                   hello again every heartbeat, gets in once that lease has expired. So a
                   restarted pod waits at most one lease, and a stray process that shares
                   an id (a second pod with the same --id, a worker of another run that
                   reconnects to a reused port) can never push a live worker out. */
                if (now - other->last_heard_ns <= COORD_LEASE_BEATS * self->hb_ns) {
                    log_warn("worker %s: hello from another process while this id is live "
                             "(heard %lld ms ago): ignored until its lease expires",
                             other->id, (long long)((now - other->last_heard_ns) / 1000000));
                    return;
                }
                log_warn("worker %s: a new process replaced the previous one", other->id);
                other->state = WORKER_DEAD;
                other->lost_at_ns = now;
                zframe_destroy(&other->identity);
            }
        }
        w = registry_add(self, hello, identity);
        if (!w) {
            refuse(self, identity, "the coordinator has no room for more workers");
            return;
        }
        log_info("worker %s joined (%d threads, capacity %d)%s", w->id, w->threads, w->capacity,
                 state == STATE_WAITING ? "" : " mid-run");
    } else {
        if (w->state != WORKER_LIVE) {
            w->returns++;
            log_info("worker %s is back after its lease expired", w->id);
        } else {
            log_info("worker %s reconnected", w->id);
        }
        zframe_destroy(&w->identity);
        w->identity = zframe_dup(identity);
        w->state = WORKER_LIVE;
    }
    w->last_heard_ns = now;
    w->joined_ns = now;
    w->heartbeats = 0;
    w->has_plan = false;
    w->ready = PROTO_READY_UNSAID;

    proto_msg_t msg = {.type = PROTO_WELCOME};
    msg.u.welcome = (proto_welcome_t){true, "", self->run_id, self->hb_ns / 1000000};
    send_to(self, w, &msg);
    if (state == STATE_RUNNING) {
        send_plan(self, w);
        self->segments_dirty = true;
    } else if (state == STATE_DRAINING) {
        proto_msg_t stop = {.type = PROTO_STOP};
        stop.u.stop = (proto_stop_t){self->epoch, false, "the run is ending"};
        send_to(self, w, &stop);
    }
}

/* A worker that cannot run the plan (allow-list, API key, preflight): an error, and its
   reason kept for the run's failure when no worker can run it. */
static void note_refusal(coordinator_t *self, const worker_t *w, const char *reason)
{
    log_error("worker %s cannot run the plan: %s", w->id, reason);
    self->refusals++;
    if (strstr(self->refusal_reasons, reason))
        return;
    size_t used = strlen(self->refusal_reasons);
    snprintf(self->refusal_reasons + used, sizeof self->refusal_reasons - used, "%s%s",
             used ? "; " : "", reason);
}

static void on_message(coordinator_t *self, zmsg_t *zmsg, run_state_t state)
{
    int64_t now = clock_now_ns();
    char peer[128] = "?";
    if (zmsg_size(zmsg) != 2) {
        coord_reject(self, REJECT_FRAMES);
        log_warn("message of %zu frames (want 1 after the routing id): ignored",
                 zmsg_size(zmsg) ? zmsg_size(zmsg) - 1 : 0);
        return;
    }
    zframe_t *identity = zmsg_first(zmsg);
    zframe_t *payload = zmsg_next(zmsg);
    describe_peer(identity, peer, sizeof peer);

    /* Who may send what is settled before a body is decoded: a snapshot's histograms are
       the one part of a message whose decoding costs more than its bytes, so only a worker
       that was sent a plan gets them decoded (docs/security.md, "Hostile peers"). */
    proto_type_t peeked;
    if (proto_peek_type(zframe_data(payload), zframe_size(payload), &peeked) == PROTO_OK &&
        peeked == PROTO_SNAPSHOT) {
        worker_t *sender = registry_find_identity(self, identity);
        if (!sender || sender->planned_from_interval < 0) {
            coord_reject(self, sender ? REJECT_UNPLANNED : REJECT_UNKNOWN_PEER);
            log_warn("%s: snapshot from a %s: refused unread", peer,
                     sender ? "worker never sent a plan" : "connection that never said hello");
            return;
        }
    }

    proto_msg_t msg;
    char err[256];
    int rc = proto_decode(&msg, zframe_data(payload), zframe_size(payload), err, sizeof err);
    if (rc != PROTO_OK) {
        coord_reject(self, reject_class_of_decode(rc));
        if (rc == PROTO_ERR_VERSION && msg.type == PROTO_HELLO) {
            char reason[256];
            snprintf(reason, sizeof reason,
                     "protocol version mismatch: worker speaks %d, coordinator speaks %d",
                     msg.version, PROTO_VERSION);
            log_warn("refused %s: %s", peer, reason);
            refuse(self, identity, reason);
        } else {
            log_warn("%s: %s message refused: %s", peer,
                     msg.type < PROTO_TYPE_COUNT ? proto_type_name(msg.type) : "unreadable", err);
        }
        proto_msg_clear(&msg);
        return;
    }

    worker_t *w = msg.type == PROTO_HELLO ? NULL : registry_find_identity(self, identity);
    if (!w &&
        (msg.type == PROTO_HEARTBEAT || msg.type == PROTO_SNAPSHOT || msg.type == PROTO_BYE)) {
        /* No hello on this connection (or its id went to a newer process): nothing it
           says is about a worker of this run. */
        coord_reject(self, REJECT_UNKNOWN_PEER);
        log_warn("%s: %s from a connection that never said hello: ignored", peer,
                 proto_type_name(msg.type));
        proto_msg_clear(&msg);
        return;
    }
    switch (msg.type) {
    case PROTO_HELLO:
        on_hello(self, identity, &msg.u.hello, state, now);
        break;
    case PROTO_HEARTBEAT:
        /* A worker whose lease expired gets no answer: it fences, then says hello again. */
        if (w && w->state == WORKER_LIVE) {
            w->last_heard_ns = now;
            w->heartbeats++;
            if (msg.u.heartbeat.ready != PROTO_READY_UNSAID)
                w->ready = msg.u.heartbeat.ready;
            proto_msg_t reply = {.type = PROTO_HEARTBEAT};
            int64_t sent = clock_now_ns();
            reply.u.heartbeat =
                (proto_heartbeat_t){sent, msg.u.heartbeat.time_ns, sent - now, PROTO_READY_UNSAID};
            send_to(self, w, &reply);
        }
        break;
    case PROTO_SNAPSHOT: {
        if (w->state == WORKER_LIVE)
            w->last_heard_ns = now;
        char why[256];
        int refusal = snapshot_refusal(self, w, &msg.u.snapshot, why, sizeof why);
        if (refusal >= 0) {
            /* Refused whole, and acked: re-sending it would not make it true. */
            coord_reject(self, (reject_class_t)refusal);
            log_warn("worker %s: snapshot seq %llu refused: %s", w->id,
                     (unsigned long long)msg.u.snapshot.seq, why);
        } else if (!registry_mark_seq(w, msg.u.snapshot.seq)) {
            w->duplicates++; /* a re-sent one: acked, ignored */
        } else if (registry_interval_merged(w, msg.u.snapshot.interval)) {
            /* Another seq for an interval merged already: a worker sends one snapshot per
               interval, so this one would count its requests twice. */
            coord_reject(self, REJECT_DUPLICATE_INTERVAL);
            log_warn("worker %s: snapshot seq %llu refused: interval %lld was merged from it "
                     "already",
                     w->id, (unsigned long long)msg.u.snapshot.seq,
                     (long long)msg.u.snapshot.interval);
        } else {
            registry_mark_interval(w, msg.u.snapshot.interval);
            registry_count_snapshot(w, &msg.u.snapshot);
            if (msg.u.snapshot.requests_jsonl_len)
                outputs_write_requests(self, msg.u.snapshot.requests_jsonl,
                                       msg.u.snapshot.requests_jsonl_len);
            merge_snapshot(self->merge, &msg.u.snapshot);
        }
        proto_msg_t ack = {.type = PROTO_ACK};
        ack.u.ack.seq = msg.u.snapshot.seq;
        send_to(self, w, &ack);
        break;
    }
    case PROTO_BYE:
        if (w && w->state == WORKER_LIVE) {
            w->state = WORKER_LEFT;
            if (msg.u.bye.failed)
                note_refusal(self, w, msg.u.bye.reason);
            else
                log_info("worker %s left: %s", w->id, msg.u.bye.reason);
            if (state == STATE_RUNNING)
                self->segments_dirty = true;
        }
        break;
    default:
        coord_reject(self, REJECT_UNEXPECTED);
        log_warn("%s: unexpected %s message from a worker: ignored", peer,
                 proto_type_name(msg.type));
        break;
    }
    proto_msg_clear(&msg);
}

#define HANDSHAKE_FAILURES "connections failed the ZeroMQ handshake"

static void on_monitor_event(coordinator_t *self)
{
    zmsg_t *zmsg = zmsg_recv(self->monitor);
    if (!zmsg)
        return;
    zframe_t *event = zmsg_first(zmsg);
    zframe_t *where = zmsg_next(zmsg);
    if (event && zframe_size(event) >= 2) {
        uint16_t id;
        memcpy(&id, zframe_data(event), sizeof id);
        char *endpoint = where ? zframe_strdup(where) : NULL;
        coord_reject(self, REJECT_HANDSHAKE);
        /* A peer can fail handshakes as fast as it can connect: the log gets a few a
           second and a count of the rest (results.json counts every one). */
        if (log_throttle_allow(&self->handshake_log, clock_now_ns(), COORD_HANDSHAKE_LOGS_PER_S,
                               HANDSHAKE_FAILURES))
            log_warn("a connection on %s failed the ZeroMQ handshake (%s): dropped",
                     endpoint ? endpoint : "?",
                     id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "not a ZeroMQ peer or bad protocol"
                     : id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH   ? "authentication"
                                                               : "no detail");
        free(endpoint);
    }
    zmsg_destroy(&zmsg);
}

/* ---- lifecycle ------------------------------------------------------------------- */

void coordinator_tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

static int64_t align_up(int64_t value, int64_t step)
{
    return (value + step - 1) / step * step;
}

/* ---- the merge and its listeners ------------------------------------------------ */

/* The planned rate as the operator's overrides left it (timeline.h). */
static double ctl_rate_override(const void *ctl, int64_t offset_ns, int phase, double planned)
{
    return ctl_rate_at(ctl, offset_ns, phase, planned);
}

static bool interval_complete(void *self, int64_t index)
{
    return registry_interval_complete(self, index);
}

/* Listeners of closed intervals, in this order: the chaos impact table takes the figures,
   outputs.c writes the line (with the chaos marks of the interval) and the *.hlog
   entries, and the live page keeps the line and renders /metrics. */
static void closed_to_chaos(void *arg, const merge_interval_t *iv)
{
    coordinator_t *self = arg;
    if (!self->chaos || !self->intervals_file)
        return;
    double interval_s = (double)self->interval_ns / 1e9, start_s = (double)iv->index * interval_s;
    chaos_add_interval(self->chaos, start_s, start_s + interval_s, iv->metrics);
}

static void closed_to_outputs(void *arg, const merge_interval_t *iv)
{
    outputs_write_interval(arg, iv);
}

static void closed_to_live(void *arg, const merge_interval_t *iv)
{
    coordinator_t *self = arg;
    if (self->interval_line.len) /* the line outputs.c wrote just now */
        live_interval_closed(self->live, run_view_of(self), iv->index, iv->phase, iv->metrics,
                             iv->inflight, self->interval_line.data, self->interval_line.len);
}

/* ctl's one change to the run besides its own overrides (ctl.h, ctl_commands_t). */
static void announce_again(void *self)
{
    ((coordinator_t *)self)->segments_dirty = true;
}

static int open_merge(coordinator_t *self)
{
    merge_config_t mc = {
        .timeline = &self->timeline,
        .interval_ns = self->interval_ns,
        .grace_ns = self->grace_ns,
        .target_count = self->plan->target_count,
        .class_count = self->plan->class_count,
        .complete = interval_complete,
        .complete_arg = self,
    };
    self->merge = merge_new(&mc);
    if (!self->merge)
        return -1;
    self->merged = merge_totals(self->merge);
    merge_on_close(self->merge, closed_to_chaos, self);
    merge_on_close(self->merge, closed_to_outputs, self);
    merge_on_close(self->merge, closed_to_live, self);
    return 0;
}

coordinator_t *coordinator_new(const plan_t *plan, const coordinator_config_t *config,
                               int *exit_code, char *err, size_t err_size)
{
    *exit_code = SURGE_EXIT_USAGE;
    if (plan_validate(plan, err, err_size) != 0)
        return NULL;
    if (config->workers < 1) {
        snprintf(err, err_size, "--workers must be at least 1");
        return NULL;
    }
    if (!endpoint_is_loopback(config->bind) && !config->insecure && !config->curve) {
        snprintf(err, err_size,
                 "%s is not a loopback endpoint: without CURVE keys the fleet would be open to "
                 "anyone who can reach it. Create keys with `surge keygen keys --name "
                 "coordinator` and `surge keygen keys --name worker`, put worker.key in a "
                 "directory of allowed workers (mkdir allowed; cp keys/worker.key allowed/), then "
                 "run `surge coordinator --cert keys/coordinator.key_secret --allowed-keys "
                 "allowed ...` and `surge worker --cert keys/worker.key_secret "
                 "--coordinator-key keys/coordinator.key ...` (docs/security.md); or pass "
                 "--insecure to accept an open fleet",
                 config->bind);
        return NULL;
    }
    coordinator_tune_malloc();
    coordinator_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->out_lock_fd = -1;
    self->plan = plan;
    self->cfg = *config;
    self->bind = strdup(config->bind);
    self->cfg.bind = self->bind;
    if (self->cfg.min_workers <= 0 || self->cfg.min_workers > self->cfg.workers)
        self->cfg.min_workers = self->cfg.workers;
    if (self->cfg.ready_timeout_ms <= 0)
        self->cfg.ready_timeout_ms = 30000;
    self->hb_ns = (config->heartbeat_ms > 0 ? config->heartbeat_ms : 500) * 1000000LL;
    self->drain_ns = (config->drain_ms > 0 ? config->drain_ms : 15000) * 1000000LL;
    self->interval_ns = plan->interval_ms * 1000000LL;
    self->lead_ns = self->hb_ns;
    self->grace_ns = 2 * self->hb_ns + self->interval_ns / 2;
    self->announced_phase = -1;
    self->created_ns = clock_now_ns();

    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(self->run_id, sizeof self->run_id, "%s-%04x", stamp, (unsigned)(getpid() & 0xffff));
    if (config->out_dir) {
        self->out_dir = strdup(config->out_dir);
    } else {
        char dir[64];
        snprintf(dir, sizeof dir, "results/%s", stamp);
        self->out_dir = strdup(dir);
    }

    /* Phases are decided one at a time as the run goes (sequence.c); their start times are
       set then, on the interval grid so that an interval belongs to one phase. */
    self->recovery_ns = (plan->timeout_ms > 0 ? plan->timeout_ms : 30000) * 1000000LL;
    *exit_code = SURGE_EXIT_RUNTIME;
    if (sequence_init(self, err, err_size) != 0) {
        coordinator_destroy(&self);
        return NULL;
    }
    if (open_merge(self) != 0) {
        snprintf(err, err_size, "out of memory for the merge of %d phases",
                 self->timeline.phase_cap);
        coordinator_destroy(&self);
        return NULL;
    }

    int opened = outputs_open(self, err, err_size);
    if (opened != 0) {
        if (opened == OUTPUTS_IN_USE)
            *exit_code = SURGE_EXIT_USAGE; /* nothing ran: the command line needs another --out */
        coordinator_destroy(&self);
        return NULL;
    }
    self->router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_handover(self->router, 1); /* a reconnecting worker takes its id back */
    zsock_set_maxmsgsize(self->router, PROTO_MAX_MESSAGE_BYTES + 4096);
    zsock_set_linger(self->router, 200);
    zsock_set_sndhwm(self->router, 10000);
    if (config->curve)
        curve_server_apply(config->curve, self->router); /* before bind: applies to it */
    char monitor_endpoint[64];
    snprintf(monitor_endpoint, sizeof monitor_endpoint, "inproc://surge-monitor-%p", (void *)self);
    zmq_socket_monitor(zsock_resolve(self->router), monitor_endpoint,
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    self->monitor = zsock_new(ZMQ_PAIR);
    zsock_connect(self->monitor, "%s", monitor_endpoint);
    /* zmq_bind, not zsock_bind: czmq resolves a "*" port by scanning upward from 49152,
       so a coordinator started right after another one's death gets its port, and that
       run's orphaned workers, still reconnecting, reach the wrong coordinator. libzmq
       leaves "*" to the kernel's ephemeral port choice. */
    if (zmq_bind(zsock_resolve(self->router), self->bind) != 0) {
        snprintf(err, err_size, "cannot bind %s: %s", self->bind, zmq_strerror(zmq_errno()));
        coordinator_destroy(&self);
        return NULL;
    }
    char *last = zsock_last_endpoint(self->router);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", last ? last : self->bind);
    free(last);
    const plan_extra_t *extra = plan->extra;
    self->chaos = chaos_new(extra ? extra->chaos : NULL);
    if (config->ctl_bind) {
        *exit_code = SURGE_EXIT_USAGE;
        self->ctl = ctl_new(config->ctl_bind, config->ctl_curve ? config->curve : NULL,
                            config->insecure, err, err_size);
        if (!self->ctl) {
            coordinator_destroy(&self);
            return NULL;
        }
        ctl_write_endpoint_file(self->ctl, self->out_dir);
        self->ctl_endpoint = ctl_endpoint(self->ctl);
        self->timeline.rate_override = ctl_rate_override;
        self->timeline.rate_override_arg = self->ctl;
    }
    if (observe_open(self, err, err_size) != 0) {
        *exit_code = SURGE_EXIT_USAGE;
        coordinator_destroy(&self);
        return NULL;
    }
    self->progress_tty = config->progress == PROGRESS_LINE ||
                         (config->progress == PROGRESS_AUTO && isatty(STDERR_FILENO));
    *exit_code = SURGE_EXIT_OK;
    return self;
}

void coordinator_destroy(coordinator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    coordinator_t *self = *self_p;
    if (self->router)
        zmq_socket_monitor(zsock_resolve(self->router), NULL, 0);
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->router);
    observe_close(self);
    ctl_destroy(&self->ctl);
    chaos_destroy(&self->chaos);
    outputs_close(self);
    merge_destroy(&self->merge);
    registry_destroy_all(self);
    sequence_free(self);
    free(self->bind);
    free(self->out_dir);
    free(self);
    *self_p = NULL;
}

const char *coordinator_endpoint(const coordinator_t *self)
{
    return self->endpoint;
}

const char *coordinator_out_dir(const coordinator_t *self)
{
    return self->out_dir;
}

void coordinator_request_stop(coordinator_t *self)
{
    self->stop_requested = 1;
}

const metrics_t *coordinator_phase_metrics(const coordinator_t *self, int phase_index)
{
    if (phase_index < 0 || phase_index >= self->timeline.phase_count)
        return NULL;
    return self->merged->phase_metrics[phase_index];
}

const metrics_t *coordinator_total_metrics(const coordinator_t *self)
{
    return self->merged->run_metrics;
}

static int ready_count(const coordinator_t *self)
{
    int n = 0;
    for (int i = 0; i < self->worker_count; i++) {
        const worker_t *w = self->workers[i];
        n += w->state == WORKER_LIVE && w->heartbeats > 0;
    }
    return n;
}

/* Gives the phase sequence_next just appended its times: right after the previous one
   when it continues it, else on the first grid point a lead time from now. */
static void schedule_decided(coordinator_t *self, int64_t now)
{
    int i = self->timeline.phase_count - 1;
    int64_t at = 0;
    if (i > 0)
        at = self->timeline.phase_end_ns[i - 1] +
             self->timeline.phases[i - 1].phase.settle_ms * 1000000LL;
    int64_t soonest = now - self->run_t0_ns + self->lead_ns;
    if (at < soonest)
        at = soonest;
    merge_phase_decided(self->merge);
    self->timeline.phase_start_ns[i] = align_up(at, self->interval_ns);
    self->timeline.phase_end_ns[i] =
        self->timeline.phase_start_ns[i] + self->timeline.phases[i].phase.duration_ms * 1000000LL;
    self->timeline.run_end_ns = self->timeline.phase_end_ns[i];
}

/* True when phase `last` is over on the fleet: every live worker has reported, from an
   interval that ends after the phase, nothing in flight, and every interval reported so
   far has closed (so the completions of the phase's last requests are in its totals
   before anyone judges them). */
static bool phase_recovered(const coordinator_t *self, int last)
{
    int64_t end_index =
        (self->timeline.phase_end_ns[last] + self->interval_ns - 1) / self->interval_ns;
    if (self->merged->next_close < end_index)
        return false;
    for (int i = 0; i < self->worker_count; i++) {
        const worker_t *w = self->workers[i];
        if (w->state != WORKER_LIVE || !w->has_plan)
            continue;
        if (w->max_interval_seen < end_index - 1 || w->inflight > 0 ||
            self->merged->next_close <= w->max_interval_seen)
            return false;
    }
    return true;
}

/* Decides the phase after the last one. One that continues the same stage is decided at
   once (it starts when the last ends); otherwise the last phase must end and the fleet
   recover from it first (sequence.c says why), bounded by recovery_ns. */
static void decide_next_phase(coordinator_t *self, int64_t now)
{
    if (sequence_next_continues(self)) {
        if (sequence_next(self))
            schedule_decided(self, now);
        return;
    }
    int last = self->timeline.phase_count - 1;
    const plan_phase_t *p = &self->timeline.phases[last].phase;
    if (now < self->run_t0_ns + self->timeline.phase_end_ns[last] + p->settle_ms * 1000000LL)
        return;
    if (sequence_is_over(self)) {
        /* Nothing follows: the drain (bounded by --drain) waits for the last requests,
           not a recovery wait before it, so the run ends by its plan plus its drain. */
        self->plan_finished = true;
        return;
    }
    if (!self->recovering_since_ns)
        self->recovering_since_ns = now;
    bool recovered = phase_recovered(self, last);
    /* A wait that ends with the fleet drained is the plan's own (its requests finished);
       one that ends because the tail never drained (a hung target) comes out of one
       budget, the drain: the run's wall time stays its plan plus its drain. */
    int64_t allowed_ns = self->drain_ns - self->recovery_spent_ns;
    if (allowed_ns > self->recovery_ns)
        allowed_ns = self->recovery_ns;
    if (!recovered && now - self->recovering_since_ns < allowed_ns)
        return;
    if (!recovered)
        self->recovery_spent_ns += now - self->recovering_since_ns;
    if (!recovered)
        log_warn("requests of phase %s still in flight %.0f s after its end: going on", p->name,
                 (double)(now - self->recovering_since_ns) / 1e9);
    else if (now - self->recovering_since_ns > 2 * self->interval_ns)
        log_info("phase %s: the fleet drained %.1f s after its end", p->name,
                 (double)(now - self->recovering_since_ns) / 1e9);
    self->recovering_since_ns = 0;
    if (sequence_next(self))
        schedule_decided(self, now);
    else
        self->plan_finished = true;
}

static void start_run(coordinator_t *self, int64_t now)
{
    /* Far enough ahead that every worker has the plan and a clock offset before t0. */
    int64_t delay = 2 * self->hb_ns > 1000000000LL ? 2 * self->hb_ns : 1000000000LL;
    self->run_t0_ns = now + delay;
    self->start_wall_ns = clock_wall_ns() + delay;
    merge_start(self->merge, self->run_t0_ns);
    outputs_begin(self);
    observe_run_started(self);
    int n = 0;
    for (int i = 0; i < self->worker_count; i++) {
        worker_t *w = self->workers[i];
        if (w->state == WORKER_LIVE) {
            send_plan(self, w);
            w->first_interval = 0;
            n++;
        }
    }
    /* The first phase is decided once the workers are ready (await_ready). */
    self->awaiting_ready = true;
    self->awaiting_since_ns = now;
    log_info("run %s: %d workers, start in %.1f s, results in %s", self->run_id, n,
             (double)delay / 1e9, self->out_dir);
}

static void fail_run(coordinator_t *self, const char *why);

/* Before the first phase: waits until every worker that reports readiness is ready (it
   checked the plan and its targets answered), so no load starts before a preflight
   failure is known. Fails the run when no worker can run the plan, naming the reasons,
   or when workers stay unready past the preflight's own bound. */
static void await_ready(coordinator_t *self, int64_t now)
{
    int with_plan = 0, waiting = 0;
    for (int i = 0; i < self->worker_count; i++) {
        const worker_t *w = self->workers[i];
        if (w->state != WORKER_LIVE || !w->has_plan)
            continue;
        with_plan++;
        waiting += w->ready == PROTO_READY_NOT_YET;
    }
    if (with_plan == 0 && self->refusals > 0) {
        char why[sizeof self->failure];
        snprintf(why, sizeof why, "no worker can run the plan (%d refused it): %s", self->refusals,
                 self->refusal_reasons);
        fail_run(self, why);
        return;
    }
    if (with_plan > 0 && waiting == 0) {
        self->awaiting_ready = false;
        if (now - self->awaiting_since_ns > self->interval_ns)
            log_info("%d workers ready after %.1f s", with_plan,
                     (double)(now - self->awaiting_since_ns) / 1e9);
        if (sequence_next(self))
            schedule_decided(self, now);
        else
            self->plan_finished = true;
        return;
    }
    /* A worker's preflight makes two requests per target, each bounded by 10 s. */
    int64_t bound_ns =
        self->cfg.ready_timeout_ms * 1000000LL + 2LL * self->plan->target_count * 10 * 1000000000LL;
    if (waiting > 0 && now - self->awaiting_since_ns > bound_ns) {
        char why[160];
        snprintf(why, sizeof why, "%d of %d workers not ready %.0f s after the plan was sent",
                 waiting, with_plan, (double)(now - self->awaiting_since_ns) / 1e9);
        fail_run(self, why);
    }
}

static const char *state_name(run_state_t state)
{
    return state == STATE_WAITING    ? "waiting"
           : state == STATE_RUNNING  ? "running"
           : state == STATE_DRAINING ? "draining"
                                     : "done";
}

/* `surge ctl stop`: the plan ends now, as if it had been planned this way: every phase
   ends here at the latest, and the normal end follows (stop, drain, results). */
static void cut_plan_short(coordinator_t *self, int64_t now)
{
    int64_t offset = now - self->run_t0_ns;
    for (int i = 0; i < self->timeline.phase_count; i++) {
        if (self->timeline.phase_end_ns[i] > offset)
            self->timeline.phase_end_ns[i] = offset > self->timeline.phase_start_ns[i]
                                                 ? offset
                                                 : self->timeline.phase_start_ns[i];
    }
    self->timeline.run_end_ns = offset;
    self->plan_finished = true;
    self->operator_stopped = true;
}

static int live_with_plan(const coordinator_t *self)
{
    int n = 0;
    for (int i = 0; i < self->worker_count; i++)
        n += self->workers[i]->state == WORKER_LIVE && self->workers[i]->has_plan;
    return n;
}

static void fail_run(coordinator_t *self, const char *why)
{
    if (self->failed)
        return;
    self->failed = true;
    snprintf(self->failure, sizeof self->failure, "%s", why);
    log_error("%s", why);
}

/* A measured phase whose every request failed (or was dropped) measured nothing: the
   run fails, saying which phase and how, unless the plan says errors are what it tests
   (expect_errors, for the run or the phase). */
static void check_phases_measured_something(coordinator_t *self)
{
    for (int i = 0; i < self->timeline.phase_count && !self->failed; i++) {
        const plan_phase_t *p = &self->timeline.phases[i].phase;
        const metrics_t *m = coordinator_phase_metrics(self, i); /* NULL: it never ran */
        if (!p->measure || p->expect_errors || self->plan->expect_errors || !m)
            continue;
        const metrics_counters_t *c = &m->c;
        if (c->ok > 0 || c->failed + c->dropped == 0)
            continue;
        int worst = 0;
        for (int k = 1; k < ERR_CLASS_COUNT; k++)
            worst = c->errors[k] > c->errors[worst] ? k : worst;
        char why[400];
        if (c->failed > 0)
            snprintf(why, sizeof why,
                     "phase %s: all %lld requests failed (%lld %s): it measured nothing "
                     "(expect_errors: true in the plan when that is what it tests)",
                     p->name, (long long)c->failed, (long long)c->errors[worst],
                     error_class_name((error_class_t)worst));
        else
            snprintf(why, sizeof why,
                     "phase %s: all %lld arrivals were dropped (a cap was reached): it "
                     "measured nothing",
                     p->name, (long long)c->dropped);
        fail_run(self, why);
    }
}

int coordinator_run(coordinator_t *self)
{
    zpoller_t *poller = zpoller_new(self->router, self->monitor, NULL);
    ctl_commands_t commands = {self->chaos, announce_again, self};
    if (self->ctl)
        zpoller_add(poller, ctl_socket(self->ctl));
    run_state_t state = STATE_WAITING;
    int64_t drain_deadline = 0, finish_deadline = 0;
    bool abort_sent = false;
    log_info("coordinator on %s: waiting for %d workers (at least %d within %lld s)",
             self->endpoint, self->cfg.workers, self->cfg.min_workers,
             (long long)self->cfg.ready_timeout_ms / 1000);

    while (state != STATE_DONE) {
        void *which = zpoller_wait(poller, TICK_MS);
        if (which == self->monitor)
            on_monitor_event(self);
        for (int i = 0; i < MAX_MESSAGES_PER_TICK && (zsock_events(self->router) & ZMQ_POLLIN);
             i++) {
            zmsg_t *zmsg = zmsg_recv(self->router);
            if (!zmsg)
                break;
            on_message(self, zmsg, state);
            zmsg_destroy(&zmsg);
        }
        if (zpoller_terminated(poller) && !self->stop_requested)
            self->stop_requested = 1; /* czmq saw SIGINT */
        int64_t now = clock_now_ns();
        log_throttle_flush(&self->handshake_log, now, false, HANDSHAKE_FAILURES);
        if (self->ctl)
            ctl_handle(self->ctl, run_view_of(self), &commands, state_name(state), now);
        chaos_tick(self->chaos, run_view_of(self), now,
                   state == STATE_RUNNING && !self->operator_stopped);

        if (self->stop_requested && (state == STATE_WAITING || state == STATE_RUNNING)) {
            self->interrupted = true;
            log_warn("interrupted: stopping the fleet");
            if (state == STATE_WAITING) {
                state = STATE_DONE;
                break;
            }
            send_stop_all(self, true, "interrupted");
            abort_sent = true;
            state = STATE_DRAINING;
            drain_deadline = now;
            finish_deadline = now + COORD_LEASE_BEATS * self->hb_ns;
        }

        switch (state) {
        case STATE_WAITING: {
            registry_expire(self, now);
            int ready = ready_count(self);
            bool timed_out = now - self->created_ns > self->cfg.ready_timeout_ms * 1000000LL;
            if (ready >= self->cfg.workers || (timed_out && ready >= self->cfg.min_workers)) {
                start_run(self, now);
                state = STATE_RUNNING;
            } else if (timed_out) {
                char why[160];
                snprintf(why, sizeof why, "only %d of %d workers ready after %lld s", ready,
                         self->cfg.min_workers, (long long)self->cfg.ready_timeout_ms / 1000);
                fail_run(self, why);
                state = STATE_DONE;
            }
            break;
        }
        case STATE_RUNNING: {
            if (registry_expire(self, now) > 0)
                self->segments_dirty = true;
            if (self->ctl && ctl_stop_requested(self->ctl) && !self->operator_stopped)
                cut_plan_short(self, now);
            int next = self->announced_phase + 1;
            if (!self->operator_stopped && next < self->timeline.phase_count &&
                now >= self->run_t0_ns + self->timeline.phase_start_ns[next] - self->lead_ns) {
                send_phase(self, next, self->run_t0_ns + self->timeline.phase_start_ns[next]);
                self->announced_phase = next;
            } else if (self->segments_dirty && self->announced_phase >= 0) {
                int p = self->announced_phase;
                int64_t t0 = self->run_t0_ns + self->timeline.phase_start_ns[p];
                int64_t end = self->run_t0_ns + self->timeline.phase_end_ns[p];
                int64_t from = now + self->hb_ns / 2;
                if (from < t0)
                    from = t0;
                if (from < end - self->hb_ns / 2)
                    send_phase(self, p, from);
                self->segments_dirty = false;
            }
            if (self->awaiting_ready)
                await_ready(self, now);
            else if (!self->plan_finished && self->announced_phase >= 0 &&
                     self->announced_phase == self->timeline.phase_count - 1)
                decide_next_phase(self, now);
            if (live_with_plan(self) == 0) {
                if (!self->no_workers_since_ns)
                    self->no_workers_since_ns = now;
                else if (now - self->no_workers_since_ns > self->cfg.ready_timeout_ms * 1000000LL)
                    fail_run(self, "every worker is gone");
            } else {
                self->no_workers_since_ns = 0;
            }
            if (self->failed ||
                (self->plan_finished && now >= self->run_t0_ns + self->timeline.run_end_ns)) {
                send_stop_all(self, false, "the plan is complete");
                state = STATE_DRAINING;
                /* what the waits between phases left of the drain (decide_next_phase) */
                drain_deadline = now + (self->recovery_spent_ns < self->drain_ns
                                            ? self->drain_ns - self->recovery_spent_ns
                                            : 0);
                finish_deadline = drain_deadline + COORD_LEASE_BEATS * self->hb_ns;
            }
            break;
        }
        case STATE_DRAINING:
            registry_expire(self, now);
            if (live_with_plan(self) == 0 || now >= finish_deadline) {
                state = STATE_DONE;
            } else if (now >= drain_deadline && !abort_sent) {
                log_warn("requests still in flight after the drain time: aborting them");
                send_stop_all(self, true, "drain time is over");
                abort_sent = true;
            }
            break;
        case STATE_DONE:
            break;
        }
        merge_close_ready(self->merge, now, state == STATE_DONE);
        observe_tick(self, state_name(state), now);
        progress_update(self, now, false);
    }
    zpoller_destroy(&poller);
    progress_update(self, clock_now_ns(), true);
    progress_finish(self);
    if (!self->interrupted)
        check_phases_measured_something(self);

    char err[256];
    if (outputs_write_results(self, err, sizeof err) != 0) {
        log_error("cannot write results.json: %s", err);
        return SURGE_EXIT_RUNTIME;
    }
    log_throttle_flush(&self->handshake_log, clock_now_ns(), true, HANDSHAKE_FAILURES);
    log_info("results in %s (%lld intervals, %lld late snapshots)", self->out_dir,
             (long long)self->merged->next_close, (long long)self->merged->late_snapshots);
    if (report_write_dir(self->out_dir, err, sizeof err) != 0)
        log_warn("cannot write report.html: %s", err); /* the results are complete without it */
    observe_run_finished(self);
    if (self->failed || self->interrupted)
        return SURGE_EXIT_RUNTIME;
    return self->verdict_failed ? SURGE_EXIT_VERDICT : SURGE_EXIT_OK;
}
