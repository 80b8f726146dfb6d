/*  agent.c: the worker's side of the wire protocol (see agent.h, docs/fleet.md).

    One loop, 20 ms ticks: read every message waiting, then do the timed duties
    (heartbeat, lease check, collect closed intervals, re-send unacked snapshots).
    Nothing here waits on the engine for long: engine calls post to the engine threads'
    mailboxes and return.
*/
#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cpus.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "common/url.h"
#include "proto/curve.h"
#include "proto/endpoint.h"
#include "proto/proto.h"
#include "worker/agent.h"
#include "worker/allow.h"
#include "worker/engine.h"
#include "worker/preflight.h"

#define TICK_MS        20
#define LEASE_BEATS    3
#define MAX_UNACKED    900 /* 15 minutes of 1 s snapshots; older ones are dropped, logged */
#define DEFAULT_HB_MS  500
#define BYE_WAIT_BEATS 6 /* at the end, how long to wait for the last acks */

typedef enum { AGENT_HELLO, AGENT_ACTIVE, AGENT_DRAINING, AGENT_DONE } agent_state_t;

typedef struct unacked_s {
    uint64_t seq;
    int64_t sent_ns;
    buf_t bytes;
    struct unacked_s *next;
} unacked_t;

typedef struct {
    const agent_config_t *cfg;
    zsock_t *sock;
    char id[256];
    uint64_t incarnation;
    int version;
    agent_state_t state;
    char run_id[PROTO_MAX_STRING_BYTES + 1];
    int64_t hb_ns;

    /* clock */
    int64_t offset_ns; /* coordinator time - local time */
    /* The offset the engine's run_t0 was converted with. Every later schedule time (phase
       t0, takeover) is converted with it too: were a refined offset used instead, this
       worker's arrivals would shift against its own interval grid and records by the
       difference (seen: 5.6 ms under a loaded ASan run). */
    int64_t engine_offset_ns;
    int64_t best_rtt_ns;   /* INT64_MAX until the first sample */
    int64_t lease_base_ns; /* latest of our heartbeat times the coordinator echoed */
    int64_t last_peer_time_ns, last_peer_rx_ns;
    int64_t next_hb_ns, next_hello_ns, lost_since_ns;

    /* load */
    proto_msg_t plan;  /* decoded, owned; type PROTO_PLAN when we have one */
    proto_msg_t phase; /* latest phase, owned */
    bool phase_pending;
    uint64_t applied_epoch;
    engine_t *engine;
    bool halted;
    preflight_t *preflight; /* the checks in progress, NULL when none */
    bool preflight_passed;  /* this run's plan passed them (or asked for none) */

    /* snapshots */
    uint64_t next_seq;
    unacked_t *unacked;
    int unacked_count;
    int64_t drain_deadline_ns, bye_deadline_ns;
    bool stop_abort;
    int exit_code;
} agent_t;

/* ---- sending --------------------------------------------------------------------- */

/* One frame, never blocking: a DEALER with no connected peer (the coordinator is gone, or
   a CURVE handshake never completes) would block a plain send, and this loop must keep
   its heartbeat and lease clock running to fence on time. A frame that cannot go is
   dropped; heartbeats and unacked snapshots are sent again anyway. */
static void send_bytes(agent_t *self, const void *data, size_t len)
{
    zmq_send(zsock_resolve(self->sock), data, len, ZMQ_DONTWAIT);
}

static void send_msg(agent_t *self, const proto_msg_t *msg)
{
    buf_t out;
    buf_init(&out);
    proto_encode_version(msg, self->version, &out);
    send_bytes(self, out.data, out.len);
    buf_free(&out);
}

static void send_hello(agent_t *self)
{
    proto_msg_t msg = {.type = PROTO_HELLO};
    int threads = self->cfg->threads > 0 ? self->cfg->threads : cpus_for_engine_threads();
    if (threads < 1)
        threads = 1;
    msg.u.hello = (proto_hello_t){self->id,
                                  self->incarnation,
                                  SURGE_VERSION,
                                  threads,
                                  self->cfg->capacity > 0 ? self->cfg->capacity : threads,
                                  (char **)self->cfg->allow,
                                  self->cfg->allow_count};
    send_msg(self, &msg);
}

static void send_heartbeat(agent_t *self, int64_t now)
{
    proto_msg_t msg = {.type = PROTO_HEARTBEAT};
    msg.u.heartbeat = (proto_heartbeat_t){now, self->last_peer_time_ns,
                                          self->last_peer_rx_ns ? now - self->last_peer_rx_ns : 0,
                                          self->engine ? PROTO_READY_YES : PROTO_READY_NOT_YET};
    send_msg(self, &msg);
    self->next_hb_ns = now + self->hb_ns;
}

static void resend_unacked(agent_t *self, int64_t now, int64_t older_than_ns)
{
    for (unacked_t *u = self->unacked; u; u = u->next) {
        if (now - u->sent_ns >= older_than_ns) {
            send_bytes(self, u->bytes.data, u->bytes.len);
            u->sent_ns = now;
        }
    }
}

static void drop_acked(agent_t *self, uint64_t seq)
{
    for (unacked_t **p = &self->unacked; *p; p = &(*p)->next) {
        if ((*p)->seq == seq) {
            unacked_t *u = *p;
            *p = u->next;
            buf_free(&u->bytes);
            free(u);
            self->unacked_count--;
            return;
        }
    }
}

static void free_unacked(agent_t *self)
{
    while (self->unacked) {
        unacked_t *u = self->unacked;
        self->unacked = u->next;
        buf_free(&u->bytes);
        free(u);
    }
    self->unacked_count = 0;
}

static void on_interval(void *arg, const engine_interval_t *interval)
{
    agent_t *self = arg;
    engine_status_t status;
    engine_status(self->engine, &status);
    proto_phase_part_t parts[PROTO_MAX_SNAPSHOT_PHASES];
    int part_count = interval->phase_count;
    if (part_count > PROTO_MAX_SNAPSHOT_PHASES) {
        log_error("interval %lld: requests of %d phases ended in it; only %d fit a snapshot, "
                  "the others count in the time series only",
                  (long long)interval->index, part_count, PROTO_MAX_SNAPSHOT_PHASES);
        part_count = PROTO_MAX_SNAPSHOT_PHASES;
    }
    for (int i = 0; i < part_count; i++)
        parts[i] = (proto_phase_part_t){.phase_index = interval->phases[i].phase_index,
                                        .metrics = (metrics_t *)interval->phases[i].metrics,
                                        .tail_requests = interval->phases[i].tail_requests,
                                        .tail_max_ns = interval->phases[i].tail_max_ns};
    proto_msg_t msg = {.type = PROTO_SNAPSHOT};
    msg.u.snapshot = (proto_snapshot_t){.seq = ++self->next_seq,
                                        .interval = interval->index,
                                        .worker_id = self->id,
                                        .epoch = self->applied_epoch,
                                        .inflight = status.inflight,
                                        .total = (metrics_t *)interval->total,
                                        .per_target = (metrics_t **)interval->per_target,
                                        .target_count = interval->target_count,
                                        .requests_jsonl = (char *)interval->requests_jsonl,
                                        .requests_jsonl_len = interval->requests_jsonl_len,
                                        .phases = parts,
                                        .phase_count = part_count,
                                        .per_class = (metrics_t **)interval->per_class,
                                        .class_count = interval->class_count,
                                        .per_turn = (metrics_t **)interval->per_turn,
                                        .turn_count = interval->turn_count};
    unacked_t *u = calloc(1, sizeof *u);
    if (!u)
        return;
    u->seq = msg.u.snapshot.seq;
    u->sent_ns = clock_now_ns();
    buf_init(&u->bytes);
    proto_encode_version(&msg, self->version, &u->bytes);
    send_bytes(self, u->bytes.data, u->bytes.len);

    /* Append (order matters for re-sending), dropping the oldest past the cap. */
    unacked_t **tail = &self->unacked;
    while (*tail)
        tail = &(*tail)->next;
    *tail = u;
    if (++self->unacked_count > MAX_UNACKED) {
        log_warn("%d snapshots unacknowledged: dropping seq %llu", self->unacked_count,
                 (unsigned long long)self->unacked->seq);
        drop_acked(self, self->unacked->seq);
    }
}

/* ---- engine ---------------------------------------------------------------------- */

static void send_bye(agent_t *self, const char *reason)
{
    proto_msg_t msg = {.type = PROTO_BYE};
    msg.u.bye.reason = (char *)reason;
    send_msg(self, &msg);
}

/* This worker cannot run the plan: it says why in a failed bye (the coordinator shows
   it as an error and fails the run when no worker can run it) and leaves with exit 3. */
static void refuse_plan(agent_t *self, const char *reason)
{
    log_error("%s", reason);
    proto_msg_t msg = {.type = PROTO_BYE};
    msg.u.bye = (proto_bye_t){(char *)reason, true};
    send_msg(self, &msg);
    self->state = AGENT_DONE;
    self->exit_code = SURGE_EXIT_RUNTIME;
}

/* A plan may name a key file on this host. It is read only inside --api-key-dir, so a
   coordinator cannot make this worker send the first line of any file it can read to a
   target. Real paths: a Secret mount's symlinks (key -> ..data/key) resolve inside. */
static bool key_file_allowed(const char *dir, const char *file, char *why, size_t size)
{
    char real_dir[PATH_MAX], real_file[PATH_MAX];
    if (!dir) {
        snprintf(why, size,
                 "this worker reads key files only inside its --api-key-dir, and "
                 "it was given none");
        return false;
    }
    if (!realpath(dir, real_dir)) {
        snprintf(why, size, "--api-key-dir %s: %s", dir, strerror(errno));
        return false;
    }
    if (!realpath(file, real_file)) {
        snprintf(why, size, "cannot resolve it on this host: %s", strerror(errno));
        return false;
    }
    size_t n = strlen(real_dir);
    bool inside = strncmp(real_file, real_dir, n) == 0 &&
                  (real_file[n] == '/' || (n > 0 && real_dir[n - 1] == '/'));
    if (!inside)
        snprintf(why, size, "%s is not inside this worker's --api-key-dir %s", real_file, real_dir);
    return inside;
}

/* The allow-list, checked when a plan arrives, before anything could be sent: a plan
   naming any target outside it is refused whole, and the coordinator is told which
   target and which patterns in the bye's reason (it logs it with our id). */
static bool plan_allowed(agent_t *self, const proto_plan_t *p)
{
    for (int i = 0; i < p->target_count; i++) {
        char where[300];
        if (allow_target_permitted(self->cfg->allow, self->cfg->allow_count, p->targets[i], where,
                                   sizeof where))
            continue;
        char patterns[1024] = "";
        size_t used = 0;
        for (int k = 0; k < self->cfg->allow_count && used < sizeof patterns; k++)
            used += (size_t)snprintf(patterns + used, sizeof patterns - used, "%s%s", k ? ", " : "",
                                     self->cfg->allow[k]);
        char reason[1600];
        char *shown = url_redact(p->targets[i]);
        snprintf(reason, sizeof reason,
                 "plan refused: target %d %s (%s) is not in this worker's --allow-target list "
                 "(%s)",
                 i, shown ? shown : "", where, patterns);
        free(shown);
        refuse_plan(self, reason);
        return false;
    }
    char why[PATH_MAX * 2 + 128];
    if (p->api_key_file && *p->api_key_file &&
        !key_file_allowed(self->cfg->api_key_dir, p->api_key_file, why, sizeof why)) {
        log_error("plan refused: api_key_file %.*s: %s", 1024, p->api_key_file, why);
        /* The coordinator is told only which rule refused: the real path, and whether the
           file exists, would let it map this host's files. */
        refuse_plan(self, self->cfg->api_key_dir
                              ? "plan refused: api_key_file is not a readable file inside this "
                                "worker's --api-key-dir"
                              : "plan refused: api_key_file: this worker reads key files only "
                                "inside its --api-key-dir, and it was given none");
        return false;
    }
    return true;
}

/* The engine configuration the plan describes (borrowing the plan's strings). */
static void config_of_plan(const agent_t *self, engine_config_t *out)
{
    const proto_plan_t *p = &self->plan.u.plan;
    engine_config_t config = {0};
    config.target_urls = (const char *const *)p->targets;
    config.target_count = p->target_count;
    config.api = strcmp(p->api, "completions") == 0 ? ENGINE_API_COMPLETIONS : ENGINE_API_CHAT;
    config.model = p->model;
    config.stream = p->stream;
    config.max_tokens = p->max_tokens;
    config.ignore_eos = p->ignore_eos;
    config.include_usage = true;
    config.extra_body_json = *p->extra_body_json ? p->extra_body_json : NULL;
    config.api_key_env = *p->api_key_env ? p->api_key_env : NULL;
    config.api_key_file = p->api_key_file && *p->api_key_file ? p->api_key_file : NULL;
    config.timeout_ms = p->timeout_ms;
    config.prompts = (const char *const *)p->prompts;
    config.prompt_count = p->prompt_count;
    config.prompt_max_tokens = p->prompt_max_tokens; /* NULL: max_tokens for every prompt */
    config.prompt_class = p->prompt_class;           /* NULL: no classes (class_count 0) */
    config.class_count = p->prompt_class ? p->class_count : 0;
    config.threads = self->cfg->threads;
    config.idle = self->cfg->idle;
    config.max_inflight = p->max_inflight;
    config.headers = (const char *const *)p->headers;
    config.header_count = p->header_count;
    config.balance = strcmp(p->balance, "random") == 0           ? ENGINE_BALANCE_RANDOM
                     : strcmp(p->balance, "least_inflight") == 0 ? ENGINE_BALANCE_LEAST_INFLIGHT
                                                                 : ENGINE_BALANCE_ROUND_ROBIN;
    config.capture_header = *p->capture_header ? p->capture_header : NULL;
    config.ca_file = *p->ca_file ? p->ca_file : NULL;
    config.insecure_tls = p->insecure_tls;
    config.max_connections_per_target = p->max_connections_per_target;
    config.connection_per_user = p->connection_per_user;
    config.prewarm = p->prewarm;
    config.interval_ns = p->interval_ms * NS_PER_MS;
    config.record_requests = p->record_requests;
    config.slo_ttft_ms = p->slo_ttft_ms;
    config.slo_tpot_ms = p->slo_tpot_ms;
    config.slo_e2e_ms = p->slo_e2e_ms;
    const proto_conversations_t *c = p->conversations; /* NULL: single turns */
    if (c) {
        engine_conversations_t *e = &config.conversations;
        e->enabled = true;
        e->turns = c->turns;
        e->think_time_ms = c->think_time_ms;
        e->system_prompt = c->system_prompt;
        e->shared_prefix = c->shared_prefix;
        e->shared_prefix_fraction = c->shared_prefix_fraction;
        e->affinity_none = c->affinity == PROTO_AFFINITY_NONE;
        e->turn_counts = c->turn_counts;
        e->conversation_count = c->conversation_count;
        e->turn_texts = (const char *const *)c->turn_texts;
        e->turn_text_count = c->turn_text_count;
        e->context_tokens = c->context_tokens;
        e->chars_per_token = c->chars_per_token;
    }
    *out = config;
}

/* 1 once the plan's preflight passed (or it asked for none), 0 while it runs, -1 when it
   failed (the plan was refused). */
static int preflight_step(agent_t *self, const engine_config_t *config)
{
    if (self->preflight_passed)
        return 1;
    const proto_plan_t *p = &self->plan.u.plan;
    if (!p->preflight) {
        self->preflight_passed = true;
        return 1;
    }
    char why[1200];
    if (!self->preflight) {
        self->preflight = preflight_start(
            config, p->timeout_ms > 0 && p->timeout_ms < 10000 ? p->timeout_ms : 10000, why,
            sizeof why);
        if (!self->preflight) {
            char reason[1300];
            snprintf(reason, sizeof reason, "plan refused: %s", why);
            refuse_plan(self, reason);
            return -1;
        }
        log_info("preflight: checking %d targets", p->target_count);
    }
    int rc = preflight_poll(self->preflight, why, sizeof why);
    if (rc == 0)
        return 0;
    preflight_destroy(&self->preflight);
    if (rc < 0) {
        refuse_plan(self, why);
        return -1;
    }
    log_info("preflight: %d targets answer and serve %s", p->target_count, p->model);
    self->preflight_passed = true;
    return 1;
}

/* Builds the engine once we have the plan, it passed its preflight, and a clock offset. */
static void engine_ensure(agent_t *self)
{
    if (self->engine || self->plan.type != PROTO_PLAN || self->state == AGENT_DONE)
        return;
    const proto_plan_t *p = &self->plan.u.plan;
    engine_config_t config;
    config_of_plan(self, &config);
    if (preflight_step(self, &config) <= 0 || self->best_rtt_ns == INT64_MAX)
        return;
    self->engine_offset_ns = self->offset_ns;
    config.run_t0_ns = p->run_t0_ns - self->engine_offset_ns;
    char err[512];
    self->engine = engine_new(&config, err, sizeof err);
    if (!self->engine) {
        char reason[600];
        snprintf(reason, sizeof reason, "cannot start the engine: %s", err);
        refuse_plan(self, reason);
        return;
    }
    if (p->insecure_tls)
        log_warn("insecure_tls: the targets' TLS certificates are not verified (the plan asks)");
    log_info("engine ready: %d targets, clock offset %+.3f ms (rtt %.3f ms)", p->target_count,
             (double)self->offset_ns / 1e6, (double)self->best_rtt_ns / 1e6);
    send_heartbeat(self, clock_now_ns()); /* says ready at once */
}

static void phase_apply(agent_t *self)
{
    if (!self->phase_pending || !self->engine)
        return;
    const proto_phase_t *p = &self->phase.u.phase;
    engine_phase_t phase = {0};
    phase.epoch = p->epoch;
    phase.phase_index = p->phase_index;
    phase.load = p->load;
    phase.schedule = p->schedule;
    phase.concurrency = p->concurrency;
    phase.users = p->users;
    phase.think_time_mean_s = p->think_time_mean_s;
    phase.segment_from = p->segment_from;
    phase.segment_to = p->segment_to;
    phase.t0_ns = p->t0_ns - self->engine_offset_ns;
    phase.from_ns = p->takeover_ns > p->t0_ns ? p->takeover_ns - self->engine_offset_ns : 0;
    phase.duration_ns = p->schedule.duration_ns;
    char err[256];
    if (engine_start_phase(self->engine, &phase, err, sizeof err) != 0)
        log_error("phase %s refused by the engine: %s", p->name, err);
    else
        log_info("phase %s (epoch %llu): segment [%.4f, %.4f) from %+.3f s", p->name,
                 (unsigned long long)p->epoch, p->segment_from, p->segment_to,
                 (double)((phase.from_ns ? phase.from_ns : phase.t0_ns) - clock_now_ns()) / 1e9);
    self->applied_epoch = p->epoch;
    self->phase_pending = false;
    self->halted = false;
}

static void fence(agent_t *self, int64_t now, const char *why)
{
    if (self->engine && !self->halted) {
        engine_halt(self->engine, true);
        self->halted = true;
    }
    log_warn("%s: load stopped, looking for the coordinator again", why);
    self->state = AGENT_HELLO;
    self->lost_since_ns = now;
    self->next_hello_ns = now;
    self->phase_pending = false;
}

/* ---- receiving ------------------------------------------------------------------- */

static void on_heartbeat(agent_t *self, const proto_heartbeat_t *hb, int64_t now)
{
    self->last_peer_time_ns = hb->time_ns;
    self->last_peer_rx_ns = now;
    if (hb->echo_ns <= 0 || hb->echo_ns > now)
        return;
    if (hb->echo_ns > self->lease_base_ns)
        self->lease_base_ns = hb->echo_ns;
    /* NTP: t1 = echo (ours), coordinator received at time - hold, replied at time, t4 = now. */
    int64_t rtt = now - hb->echo_ns - hb->hold_ns;
    if (rtt < 0)
        rtt = 0;
    if (rtt <= self->best_rtt_ns) {
        self->best_rtt_ns = rtt;
        self->offset_ns = ((hb->time_ns - hb->hold_ns - hb->echo_ns) + (hb->time_ns - now)) / 2;
    }
}

static void on_message(agent_t *self, zmsg_t *zmsg, int64_t now)
{
    zframe_t *frame = zmsg_first(zmsg);
    if (!frame || zmsg_size(zmsg) != 1) {
        log_warn("coordinator sent a message of %zu frames: ignored", zmsg_size(zmsg));
        return;
    }
    proto_msg_t msg;
    char err[256];
    int rc = proto_decode(&msg, zframe_data(frame), zframe_size(frame), err, sizeof err);
    if (rc == PROTO_ERR_VERSION) {
        log_error("the coordinator speaks protocol version %d, this worker %d: cannot join",
                  msg.version, self->version);
        self->state = AGENT_DONE;
        self->exit_code = SURGE_EXIT_RUNTIME;
        return;
    }
    if (rc != PROTO_OK) {
        log_warn("coordinator message refused: %s", err);
        return;
    }
    switch (msg.type) {
    case PROTO_WELCOME:
        if (!msg.u.welcome.accepted) {
            log_error("the coordinator refused this worker: %s", msg.u.welcome.reason);
            self->state = AGENT_DONE;
            self->exit_code = SURGE_EXIT_RUNTIME;
            break;
        }
        if (self->run_id[0] && strcmp(self->run_id, msg.u.welcome.run_id) != 0) {
            log_info("a new run (%s): starting over", msg.u.welcome.run_id);
            engine_destroy(&self->engine);
            preflight_destroy(&self->preflight);
            self->preflight_passed = false;
            proto_msg_clear(&self->plan);
            free_unacked(self);
        }
        snprintf(self->run_id, sizeof self->run_id, "%s", msg.u.welcome.run_id);
        self->hb_ns = msg.u.welcome.heartbeat_ms * NS_PER_MS;
        if (self->state == AGENT_HELLO) {
            self->state = AGENT_ACTIVE;
            self->lease_base_ns = now;
            log_info("joined run %s (heartbeat %lld ms)", self->run_id,
                     (long long)msg.u.welcome.heartbeat_ms);
        }
        send_heartbeat(self, now);
        resend_unacked(self, now, 0);
        break;
    case PROTO_PLAN:
        if (!plan_allowed(self, &msg.u.plan))
            break;
        proto_msg_clear(&self->plan);
        self->plan = msg;
        msg.owned = false; /* moved */
        engine_ensure(self);
        break;
    case PROTO_PHASE:
        if (self->phase_pending && msg.u.phase.epoch <= self->phase.u.phase.epoch)
            break;
        if (msg.u.phase.epoch <= self->applied_epoch)
            break; /* a duplicate: commands are idempotent */
        proto_msg_clear(&self->phase);
        self->phase = msg;
        msg.owned = false;
        self->phase_pending = true;
        break;
    case PROTO_HEARTBEAT:
        on_heartbeat(self, &msg.u.heartbeat, now);
        engine_ensure(self);
        break;
    case PROTO_ACK:
        drop_acked(self, msg.u.ack.seq);
        break;
    case PROTO_STOP:
        if (self->state == AGENT_DRAINING && (!msg.u.stop.abort || self->stop_abort))
            break;
        log_info("stop (%s)%s", msg.u.stop.reason, msg.u.stop.abort ? ", aborting in-flight" : "");
        if (self->engine)
            engine_halt(self->engine, msg.u.stop.abort);
        self->halted = true;
        self->phase_pending = false;
        self->stop_abort = msg.u.stop.abort;
        if (self->state != AGENT_DRAINING) {
            self->state = AGENT_DRAINING;
            self->drain_deadline_ns = INT64_MAX;
            self->bye_deadline_ns = 0;
        }
        break;
    default:
        log_warn("unexpected %s message from the coordinator: ignored", proto_type_name(msg.type));
        break;
    }
    if (msg.owned)
        proto_msg_clear(&msg);
}

/* ---- the loop -------------------------------------------------------------------- */

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v ^ (uint64_t)clock_wall_ns() ^ ((uint64_t)getpid() << 32);
}

/* At the end: once nothing is in flight (or on abort), flush the last partial interval,
   wait for the acks, say bye. */
static void drain_step(agent_t *self, int64_t now)
{
    if (self->bye_deadline_ns == 0) {
        engine_status_t status = {0};
        if (self->engine)
            engine_status(self->engine, &status);
        if (status.inflight > 0 && !self->stop_abort)
            return;
        if (self->engine)
            engine_collect(self->engine, true, on_interval, self);
        self->bye_deadline_ns = now + BYE_WAIT_BEATS * self->hb_ns;
        return;
    }
    if (self->engine)
        engine_collect(self->engine, false, on_interval, self);
    if (self->unacked_count == 0 || now >= self->bye_deadline_ns) {
        if (self->unacked_count)
            log_warn("%d snapshots never acknowledged", self->unacked_count);
        send_bye(self, "run complete");
        self->state = AGENT_DONE;
        self->exit_code = self->unacked_count ? SURGE_EXIT_RUNTIME : SURGE_EXIT_OK;
    }
}

int agent_config_check(const agent_config_t *config, char *why, size_t why_size)
{
    if (!config->endpoint || !*config->endpoint) {
        snprintf(why, why_size, "no coordinator endpoint (tcp://HOST:PORT)");
        return -1;
    }
    if (!config->cert_path != !config->coordinator_key_path) {
        snprintf(why, why_size, "CURVE needs both --cert FILE and --coordinator-key FILE");
        return -1;
    }
    if (!endpoint_is_loopback(config->endpoint) && !config->insecure && !config->cert_path) {
        snprintf(why, why_size,
                 "%s is not a loopback endpoint: without CURVE keys anyone on the path could "
                 "steer this worker. Create keys with `surge keygen keys --name worker` (and "
                 "`--name coordinator` for the coordinator), then run `surge worker --cert "
                 "keys/worker.key_secret --coordinator-key keys/coordinator.key ...` "
                 "(docs/security.md); or pass --insecure to accept that",
                 config->endpoint);
        return -1;
    }
    return 0;
}

int agent_run(const agent_config_t *config, volatile sig_atomic_t *stop)
{
    char why[1024];
    if (agent_config_check(config, why, sizeof why) != 0) {
        log_error("%s", why);
        return SURGE_EXIT_USAGE;
    }
    agent_t agent = {0}, *self = &agent;
    self->cfg = config;
    self->version = config->protocol_version > 0 ? config->protocol_version : PROTO_VERSION;
    self->hb_ns = DEFAULT_HB_MS * NS_PER_MS;
    self->best_rtt_ns = INT64_MAX;
    self->incarnation = random_u64();
    if (config->worker_id) {
        snprintf(self->id, sizeof self->id, "%s", config->worker_id);
    } else {
        char host[200] = "worker";
        gethostname(host, sizeof host - 1);
        snprintf(self->id, sizeof self->id, "%s:%d", host, (int)getpid());
    }
    int64_t reconnect_ns =
        (config->reconnect_timeout_ms > 0 ? config->reconnect_timeout_ms : 60000) * NS_PER_MS;

    self->sock = zsock_new(ZMQ_DEALER);
    /* A stable routing id: after a reconnect the coordinator (ROUTER_HANDOVER) still knows
       which worker this is, even before our next hello. */
    char routing_id[256]; /* ZeroMQ routing ids are at most 255 bytes */
    snprintf(routing_id, sizeof routing_id, "%.200s/%016llx", self->id,
             (unsigned long long)self->incarnation);
    zsock_set_identity(self->sock, routing_id);
    zsock_set_sndtimeo(self->sock, 0); /* never block the loop; a full queue drops */
    zsock_set_linger(self->sock, 500);
    zsock_set_reconnect_ivl(self->sock, 100);
    zsock_set_maxmsgsize(self->sock, PROTO_MAX_MESSAGE_BYTES + 4096);
    if (config->cert_path) {
        char err[4400];
        if (curve_client_apply(self->sock, config->cert_path, config->coordinator_key_path, err,
                               sizeof err) != 0) {
            log_error("%s", err);
            zsock_destroy(&self->sock);
            return SURGE_EXIT_USAGE;
        }
    }
    if (zsock_connect(self->sock, "%s", config->endpoint) != 0) {
        log_error("cannot connect to %s", config->endpoint);
        zsock_destroy(&self->sock);
        return SURGE_EXIT_USAGE;
    }
    log_info("worker %s connecting to %s%s", self->id, config->endpoint,
             config->cert_path ? " (CURVE)" : "");
    self->state = AGENT_HELLO;
    self->lost_since_ns = clock_now_ns();
    self->exit_code = SURGE_EXIT_OK;

    zpoller_t *poller = zpoller_new(self->sock, NULL);
    while (self->state != AGENT_DONE) {
        zpoller_wait(poller, TICK_MS);
        int64_t now = clock_now_ns();
        while (self->state != AGENT_DONE && (zsock_events(self->sock) & ZMQ_POLLIN)) {
            zmsg_t *zmsg = zmsg_recv(self->sock);
            if (!zmsg)
                break;
            on_message(self, zmsg, now);
            zmsg_destroy(&zmsg);
        }
        if (self->state == AGENT_DONE)
            break;
        now = clock_now_ns();
        if (*stop && self->state != AGENT_DRAINING) {
            log_info("signal: stopping the load and sending what was measured");
            if (self->engine)
                engine_halt(self->engine, true);
            self->stop_abort = true;
            self->state = AGENT_DRAINING;
            self->bye_deadline_ns = 0;
        }
        switch (self->state) {
        case AGENT_HELLO:
            if (now >= self->next_hello_ns) {
                send_hello(self);
                send_heartbeat(self, now);
                self->next_hello_ns = now + self->hb_ns;
            }
            if (now - self->lost_since_ns > reconnect_ns) {
                /* With CURVE a wrong coordinator key or a refused worker key looks the same
                   from here as no coordinator: the handshake never completes. */
                log_error("cannot reach%s the coordinator at %s for %.1f s: giving up",
                          config->cert_path ? " or authenticate" : "", config->endpoint,
                          (double)reconnect_ns / NS_PER_S);
                self->state = AGENT_DONE;
                self->exit_code = SURGE_EXIT_RUNTIME;
            }
            break;
        case AGENT_ACTIVE:
            /* The lease: the coordinator must have echoed one of our heartbeats within the
               last 3 intervals, or it may consider us dead and hand our segment on. */
            if (now - self->lease_base_ns > LEASE_BEATS * self->hb_ns) {
                fence(self, now, "the coordinator is silent for 3 heartbeats");
                break;
            }
            if (now >= self->next_hb_ns)
                send_heartbeat(self, now);
            engine_ensure(self);
            phase_apply(self);
            resend_unacked(self, now, LEASE_BEATS * self->hb_ns);
            break;
        case AGENT_DRAINING:
            if (now >= self->next_hb_ns)
                send_heartbeat(self, now);
            if (!self->stop_abort && now - self->lease_base_ns > LEASE_BEATS * self->hb_ns) {
                log_warn("the coordinator is silent for 3 heartbeats: aborting in-flight requests");
                if (self->engine)
                    engine_halt(self->engine, true);
                self->stop_abort = true;
            }
            drain_step(self, now);
            if (self->state == AGENT_DRAINING && now - self->lease_base_ns > 2 * reconnect_ns) {
                self->state = AGENT_DONE;
                self->exit_code = SURGE_EXIT_RUNTIME;
            }
            break;
        case AGENT_DONE:
            break;
        }
        if (self->engine && self->state != AGENT_DONE)
            engine_collect(self->engine, false, on_interval, self);
    }
    zpoller_destroy(&poller);
    preflight_destroy(&self->preflight);
    engine_destroy(&self->engine);
    proto_msg_clear(&self->plan);
    proto_msg_clear(&self->phase);
    free_unacked(self);
    zsock_destroy(&self->sock);
    return self->exit_code;
}
