/*  ctl.c: the operator's control socket and the load overrides (see ctl.h,
    docs/chaos.md). Runs on the coordinator's loop: every request is answered within the
    tick it arrives in, and none waits on anything.
*/
#include <czmq.h>
#include <math.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/chaos.h"
#include "coordinator/coordinator.h"
#include "coordinator/ctl.h"
#include "coordinator/live.h"
#include "coordinator/run_view.h"

#define MAX_REQUESTS_PER_TICK 64 /* then back to the workers: ctl never starves them */
#define MAX_HISTORY           4096
#define CTL_MAX_MESSAGE_BYTES (PROTO_MAX_STRING_BYTES + 1024)

typedef enum { OVERRIDE_PAUSE, OVERRIDE_RESUME, OVERRIDE_SET_RATE } override_kind_t;

typedef struct {
    int64_t at_ns; /* offset from run_t0 at which it takes over */
    override_kind_t kind;
    int phase;
    double rate_rps;
} history_t;

struct _ctl_t {
    zsock_t *sock;
    char endpoint[256];
    bool curve;

    bool paused;
    bool rate_active; /* set-rate in force for rate_phase */
    int rate_phase;
    double rate_rps;
    bool new_sequence; /* the next announcement starts the override's own sequence */
    int64_t seq_t0_ns; /* coordinator time of its origin */
    uint64_t seq_seed; /* and its seed */
    uint64_t seq_count;

    history_t history[MAX_HISTORY];
    int history_count;
    int overridden[PLAN_MAX_PHASES]; /* phase indices touched; small, linear search */
    int overridden_count;

    bool stop;
    double stopped_at_s;
    int64_t requests, refused;
};

ctl_t *ctl_new(const char *bind, const curve_server_t *curve, bool insecure, char *err,
               size_t err_size)
{
    if (!endpoint_is_loopback(bind) && !insecure && !curve) {
        snprintf(err, err_size,
                 "--ctl-bind %s is not a loopback endpoint: without CURVE anyone who can reach "
                 "it could pause, re-aim or stop the fleet. Create an operator key with `surge "
                 "keygen keys --name operator`, put operator.key in a directory of allowed "
                 "operators (mkdir operators; cp keys/operator.key operators/), run the "
                 "coordinator with --cert keys/coordinator.key_secret --ctl-allowed-keys "
                 "operators, and `surge ctl --cert keys/operator.key_secret --coordinator-key "
                 "keys/coordinator.key ...` (docs/chaos.md, docs/security.md); or bind ctl on "
                 "127.0.0.1 and reach it through an SSH tunnel or kubectl port-forward; or pass "
                 "--insecure",
                 bind);
        return NULL;
    }
    ctl_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock) {
        free(self);
        snprintf(err, err_size, "cannot create the ctl socket");
        return NULL;
    }
    zsock_set_maxmsgsize(self->sock, CTL_MAX_MESSAGE_BYTES);
    zsock_set_linger(self->sock, 100);
    zsock_set_sndhwm(self->sock, 1000);
    if (curve) {
        curve_server_apply_ctl(curve, self->sock);
        self->curve = true;
    }
    /* zmq_bind: "*" ports from the kernel (coordinator.c says why). */
    if (zmq_bind(zsock_resolve(self->sock), bind) != 0) {
        snprintf(err, err_size, "cannot bind the ctl socket %s: %s", bind,
                 zmq_strerror(zmq_errno()));
        ctl_destroy(&self);
        return NULL;
    }
    char *last = zsock_last_endpoint(self->sock);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", last ? last : bind);
    free(last);
    return self;
}

void ctl_destroy(ctl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

const char *ctl_endpoint(const ctl_t *self)
{
    return self->endpoint;
}

void ctl_write_endpoint_file(const ctl_t *self, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ctl.endpoint", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", self->endpoint);
        fclose(f);
    }
    log_info("ctl on %s%s (also in %s): surge ctl --coordinator %s status", self->endpoint,
             self->curve ? " (CURVE, operator keys)" : "", path, self->endpoint);
}

void *ctl_socket(ctl_t *self)
{
    return self->sock;
}

bool ctl_stop_requested(const ctl_t *self)
{
    return self->stop;
}

/* ---- overrides --------------------------------------------------------------------- */

static void mark_overridden(ctl_t *self, int index)
{
    for (int i = 0; i < self->overridden_count; i++) {
        if (self->overridden[i] == index)
            return;
    }
    if (self->overridden_count < PLAN_MAX_PHASES)
        self->overridden[self->overridden_count++] = index;
}

bool ctl_phase_overridden(const ctl_t *self, int index)
{
    for (int i = 0; i < self->overridden_count; i++) {
        if (self->overridden[i] == index)
            return true;
    }
    return false;
}

void ctl_adjust_phase(ctl_t *self, int index, proto_phase_t *ph)
{
    if (self->rate_active && self->rate_phase != index)
        self->rate_active = false; /* set-rate holds for its phase only */
    if (self->paused) {
        mark_overridden(self, index);
        ph->schedule.start_rate_per_s = ph->schedule.end_rate_per_s = 0;
        ph->concurrency = 0;
        ph->users = 0;
        return;
    }
    if (!self->rate_active)
        return; /* the plan's sequence, continued from the takeover */
    if (self->new_sequence) {
        /* Its own global sequence from the takeover: the same for every worker, so the
           segments still partition it. */
        self->seq_t0_ns = ph->takeover_ns;
        self->seq_seed =
            ph->schedule.seed * 6364136223846793005ULL + 1442695040888963407ULL + ++self->seq_count;
        self->new_sequence = false;
    }
    int64_t end = ph->t0_ns + ph->schedule.duration_ns;
    ph->t0_ns = self->seq_t0_ns;
    if (ph->takeover_ns < ph->t0_ns)
        ph->takeover_ns = ph->t0_ns;
    ph->schedule.duration_ns = end - ph->t0_ns;
    ph->schedule.start_rate_per_s = ph->schedule.end_rate_per_s = self->rate_rps;
    ph->schedule.seed = self->seq_seed;
}

double ctl_rate_at(const ctl_t *self, int64_t offset_ns, int phase, double planned)
{
    bool paused = false, rate = false;
    double rate_rps = 0;
    for (int i = 0; i < self->history_count && self->history[i].at_ns <= offset_ns; i++) {
        const history_t *h = &self->history[i];
        if (h->kind == OVERRIDE_PAUSE)
            paused = true;
        else if (h->kind == OVERRIDE_RESUME)
            paused = false;
        else if (h->phase == phase) {
            rate = true;
            rate_rps = h->rate_rps;
        }
    }
    if (paused)
        return 0;
    return rate ? rate_rps : planned;
}

static void record(ctl_t *self, const run_view_t *run, const ctl_commands_t *cmd,
                   override_kind_t kind, int phase, double rate, int64_t at_ns, const char *command)
{
    int64_t t0 = run_view_t0_ns(run);
    if (self->history_count < MAX_HISTORY)
        self->history[self->history_count++] = (history_t){at_ns - t0, kind, phase, rate};
    if (phase >= 0)
        mark_overridden(self, phase);
    chaos_override(cmd->chaos, (double)(at_ns - t0) / 1e9, command,
                   phase >= 0 ? run_view_timeline(run)->phases[phase].phase.name : "", rate, "ctl");
}

/* The phase running now (announced and not over), or -1 between phases. */
static int current_phase(const run_view_t *run, int64_t now)
{
    int p = run_view_announced_phase(run);
    if (p < 0 || now >= run_view_t0_ns(run) + run_view_timeline(run)->phase_end_ns[p] -
                            run_view_heartbeat_ns(run) / 2)
        return -1;
    return p;
}

/* When a change asked now takes over: half a heartbeat ahead, as re-segmentation does
   (never before the phase's own start). */
static int64_t takeover_at(const run_view_t *run, int phase, int64_t now)
{
    int64_t at = now + run_view_heartbeat_ns(run) / 2;
    int64_t start =
        phase >= 0 ? run_view_t0_ns(run) + run_view_timeline(run)->phase_start_ns[phase] : 0;
    if (phase >= 0 && at < start)
        at = start;
    return at;
}

/* ---- requests ---------------------------------------------------------------------- */

typedef struct {
    bool ok;
    char error[512];
    buf_t body;
} answer_t;

__attribute__((format(printf, 2, 3))) static void refuse(answer_t *a, const char *fmt, ...)
{
    a->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->error, sizeof a->error, fmt, ap);
    va_end(ap);
}

/* Refuses and leaves the command handler. */
#define REFUSE(...)                                                                                \
    do {                                                                                           \
        refuse(__VA_ARGS__);                                                                       \
        return;                                                                                    \
    } while (0)

static void write_status(ctl_t *self, const run_view_t *run, const char *state, int64_t now,
                         jsonw_t *w)
{
    const run_timeline_t *tl = run_view_timeline(run);
    int64_t t0 = run_view_t0_ns(run), interval_ns = run_view_interval_ns(run);
    jsonw_object_begin(w);
    jsonw_kv_string(w, "run_id", run_view_id(run));
    jsonw_kv_string(w, "state", state);
    jsonw_kv_string(w, "results_dir", run_view_out_dir(run));
    jsonw_key(w, "t_s");
    if (t0)
        jsonw_double(w, (double)(now - t0) / 1e9);
    else
        jsonw_null(w);
    jsonw_kv_bool(w, "paused", self->paused);
    int p = run_view_announced_phase(run);
    jsonw_key(w, "phase");
    if (p >= 0) {
        const plan_phase_t *ph = &tl->phases[p].phase;
        int64_t offset = now - t0;
        double planned = timeline_planned_rate_at(tl, offset);
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", ph->name);
        jsonw_kv_int(w, "index", p);
        jsonw_kv_string(w, "kind", ph->kind);
        jsonw_kv_string(w, "load",
                        ph->load == PHASE_LOAD_RATE          ? "rate"
                        : ph->load == PHASE_LOAD_CONCURRENCY ? "concurrency"
                                                             : "users");
        jsonw_kv_double(w, "start_s", (double)tl->phase_start_ns[p] / 1e9);
        jsonw_kv_double(w, "end_s", (double)tl->phase_end_ns[p] / 1e9);
        if (ph->load == PHASE_LOAD_RATE) {
            jsonw_kv_double(w, "rate_rps", planned);
            jsonw_kv_bool(w, "rate_overridden", self->rate_active && self->rate_phase == p);
        } else if (ph->load == PHASE_LOAD_CONCURRENCY) {
            jsonw_kv_int(w, "concurrency", self->paused ? 0 : ph->concurrency);
        } else {
            jsonw_kv_int(w, "users", self->paused ? 0 : ph->users);
        }
        jsonw_object_end(w);
    } else {
        jsonw_null(w);
    }
    run_view_fleet_t fleet = run_view_fleet(run);
    jsonw_key(w, "workers");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "live", fleet.live);
    jsonw_kv_int(w, "expected", fleet.expected);
    jsonw_kv_int(w, "lost", fleet.lost);
    jsonw_object_end(w);
    jsonw_kv_int(w, "inflight", fleet.inflight);
    live_write_targets(run_view_scrape(run), w); /* their scraped figures (surge ctl watch) */
    jsonw_key(w, "last_interval");
    const merge_totals_t *merged = run_view_merged(run);
    if (merged->last_closed && merged->last_closed_index >= 0) {
        double interval_s = (double)interval_ns / 1e9;
        jsonw_object_begin(w);
        jsonw_kv_int(w, "index", merged->last_closed_index);
        jsonw_kv_double(w, "start_s", (double)merged->last_closed_index * interval_s);
        jsonw_key(w, "summary");
        metrics_write_summary(merged->last_closed, w, interval_s,
                              timeline_planned_rate_at(tl, merged->last_closed_index * interval_ns +
                                                               interval_ns / 2));
        jsonw_object_end(w);
    } else {
        jsonw_null(w);
    }
    char open[1024];
    chaos_open_faults(run_view_chaos(run), open, sizeof open);
    jsonw_kv_string(w, "open_faults", open);
    jsonw_kv_int(w, "marks", chaos_mark_count(run_view_chaos(run)));
    jsonw_object_end(w);
}

static void do_override(ctl_t *self, const run_view_t *run, const ctl_commands_t *commands,
                        const proto_ctl_request_t *rq, int64_t now, answer_t *a)
{
    int p = current_phase(run, now);
    const run_timeline_t *tl = run_view_timeline(run);
    const char *cmd = rq->command;
    if (strcmp(cmd, "pause") == 0) {
        if (self->paused)
            REFUSE(a, "already paused");
        self->paused = true;
        record(self, run, commands, OVERRIDE_PAUSE, p, -1, takeover_at(run, p, now), "pause");
    } else if (strcmp(cmd, "resume") == 0) {
        if (!self->paused)
            REFUSE(a, "not paused");
        self->paused = false;
        if (self->rate_active)
            self->new_sequence = true;
        record(self, run, commands, OVERRIDE_RESUME, p, -1, takeover_at(run, p, now), "resume");
    } else { /* set-rate */
        if (p < 0)
            REFUSE(a, "no phase is running now (between phases or at the end): nothing to "
                      "set the rate of");
        const plan_phase_t *ph = &tl->phases[p].phase;
        if (ph->load != PHASE_LOAD_RATE)
            REFUSE(a,
                   "phase %s is closed-loop (%s): set-rate applies to rate phases; "
                   "pause and resume work in every phase",
                   ph->name, ph->load == PHASE_LOAD_CONCURRENCY ? "concurrency" : "users");
        if (!(rq->value > 0))
            REFUSE(a, "set-rate needs a rate above 0 req/s (pause stops the load)");
        self->rate_active = true;
        self->rate_phase = p;
        self->rate_rps = rq->value;
        self->new_sequence = true;
        record(self, run, commands, OVERRIDE_SET_RATE, p, rq->value, takeover_at(run, p, now),
               "set-rate");
    }
    /* The loop re-announces the current phase half a heartbeat ahead (the same path as
       re-segmentation); between phases the next announcement carries the change. */
    if (p >= 0)
        commands->announce_again(commands->arg);
    if (strcmp(cmd, "set-rate") == 0)
        log_info("ctl: set-rate %g req/s for phase %s", rq->value, tl->phases[p].phase.name);
    else
        log_info("ctl: %s", cmd);
    jsonw_t w;
    jsonw_init(&w, &a->body);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "command", cmd);
    jsonw_kv_double(&w, "takeover_s",
                    (double)(takeover_at(run, p, now) - run_view_t0_ns(run)) / 1e9);
    jsonw_kv_string(&w, "phase", p >= 0 ? tl->phases[p].phase.name : "");
    jsonw_object_end(&w);
}

static void dispatch(ctl_t *self, const run_view_t *run, const ctl_commands_t *commands,
                     const char *state, const proto_ctl_request_t *rq, int64_t now, answer_t *a)
{
    const char *cmd = rq->command;
    bool running = strcmp(state, "running") == 0;
    int64_t t0 = run_view_t0_ns(run);
    double t_s = t0 ? (double)(now - t0) / 1e9 : 0;
    jsonw_t w;
    jsonw_init(&w, &a->body);
    a->ok = true;
    if (strcmp(cmd, "status") == 0) {
        write_status(self, run, state, now, &w);
        return;
    }
    static const char *const known[] = {"mark",   "mark-start", "mark-end", "pause",
                                        "resume", "set-rate",   "stop"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        is_known = is_known || strcmp(cmd, known[i]) == 0;
    if (!is_known) {
        self->refused++;
        REFUSE(a,
               "unknown command '%.40s' (status, mark, mark-start, mark-end, pause, "
               "resume, set-rate, stop)",
               cmd);
    }
    if (!running || !t0)
        REFUSE(a, "the run is %s: %s applies to a running run", state, cmd);
    if (now < t0)
        REFUSE(a, "the run starts in %.1f s: try again then", (double)(t0 - now) / 1e9);
    if (strncmp(cmd, "mark", 4) == 0) {
        if (!rq->text || !rq->text[0])
            REFUSE(a, "%s needs a text (a mark) or a name (a fault window)", cmd);
        char err[256];
        if (strcmp(cmd, "mark") == 0)
            chaos_mark(commands->chaos, t_s, rq->text, "ctl");
        else if (strcmp(cmd, "mark-start") == 0 &&
                 chaos_fault_start(commands->chaos, t_s, rq->text, "ctl", err, sizeof err) != 0)
            REFUSE(a, "%s", err);
        else if (strcmp(cmd, "mark-end") == 0 &&
                 chaos_fault_end(commands->chaos, t_s, rq->text, "ctl", err, sizeof err) != 0)
            REFUSE(a, "%s", err);
        jsonw_object_begin(&w);
        jsonw_kv_string(&w, "command", cmd);
        jsonw_kv_double(&w, "t_s", t_s);
        jsonw_kv_string(&w, "text", rq->text);
        jsonw_object_end(&w);
        return;
    }
    if (strcmp(cmd, "stop") == 0) {
        if (!self->stop) {
            self->stop = true;
            self->stopped_at_s = t_s;
            chaos_override(commands->chaos, t_s, "stop", "", -1, "ctl");
            log_info("ctl: stop asked at %.1f s: ending the run", t_s);
        }
        jsonw_object_begin(&w);
        jsonw_kv_string(&w, "command", cmd);
        jsonw_kv_double(&w, "t_s", self->stopped_at_s);
        jsonw_kv_string(&w, "results_dir", run_view_out_dir(run));
        jsonw_object_end(&w);
        return;
    }
    do_override(self, run, commands, rq, now, a);
}

static void answer(ctl_t *self, zframe_t *identity, uint64_t id, answer_t *a)
{
    proto_msg_t reply = {.type = PROTO_CTL_REPLY};
    reply.u.ctl_reply = (proto_ctl_reply_t){id, a->ok, a->ok ? "" : a->error,
                                            a->ok && a->body.data ? a->body.data : ""};
    proto_send_to(self->sock, identity, &reply);
}

void ctl_handle(ctl_t *self, const run_view_t *run, const ctl_commands_t *commands,
                const char *state, int64_t now)
{
    for (int i = 0; i < MAX_REQUESTS_PER_TICK && (zsock_events(self->sock) & ZMQ_POLLIN); i++) {
        zmsg_t *zmsg = zmsg_recv(self->sock);
        if (!zmsg)
            break;
        self->requests++;
        answer_t a = {.ok = false};
        buf_init(&a.body);
        zframe_t *identity = zmsg_first(zmsg);
        zframe_t *payload = zmsg_next(zmsg);
        proto_msg_t msg;
        char err[256];
        uint64_t id = 0;
        if (zmsg_size(zmsg) != 2) {
            self->refused++;
            refuse(&a, "a request is one frame (got %zu)", zmsg_size(zmsg) - 1);
        } else if (proto_decode(&msg, zframe_data(payload), zframe_size(payload), err,
                                sizeof err) != PROTO_OK) {
            self->refused++;
            refuse(&a, "unreadable request: %s", err);
            proto_msg_clear(&msg);
        } else if (msg.type != PROTO_CTL_REQUEST) {
            self->refused++;
            refuse(&a, "a %s message on the ctl socket: only ctl_request is accepted",
                   proto_type_name(msg.type));
            proto_msg_clear(&msg);
        } else {
            id = msg.u.ctl_request.id;
            dispatch(self, run, commands, state, &msg.u.ctl_request, now, &a);
            proto_msg_clear(&msg);
        }
        if (!a.ok)
            log_warn("ctl: refused: %s", a.error);
        if (identity)
            answer(self, identity, id, &a);
        buf_free(&a.body);
        zmsg_destroy(&zmsg);
    }
}

void ctl_write_results(const ctl_t *self, jsonw_t *w)
{
    jsonw_key(w, "ctl");
    jsonw_object_begin(w);
    jsonw_kv_string(w, "endpoint", self->endpoint);
    jsonw_kv_bool(w, "curve", self->curve);
    jsonw_kv_int(w, "requests", self->requests);
    jsonw_kv_int(w, "refused", self->refused);
    jsonw_key(w, "stopped_at_s");
    if (self->stop)
        jsonw_double(w, self->stopped_at_s);
    else
        jsonw_null(w);
    jsonw_object_end(w);
}
