/*  coord_internal.h: the coordinator's state, shared by the files that run it (not
    public): coordinator.c, registry.c, reject.c, sequence.c, outputs.c, phase_summary.c,
    progress.c, observe.c, and run_view.c (which alone lets others read it).

    coordinator.c  the control loop: messages, barrier, phases, leases, end of run; it
                   wires the parts below together (the merge's listeners, ctl's commands)
    registry.c     workers: lookup, admission, leases, segments by capacity
    reject.c       why a peer's message is refused
    sequence.c     which phase runs next: the plan's phases in order, saturation levels
                   chosen by the search, operating-point rates, recovery between stages
    outputs.c      the results directory: intervals.jsonl, requests.jsonl, *.hlog,
                   results.json
    phase_summary.c  a phase's summary as results.json has it (outputs.c, sequence.c)
    progress.c     the live progress line
    observe.c      the scraper and the live server started, fed and stopped
    Classes with a header of their own, which never see coordinator_t:
    timeline.h     the phases decided and their windows (which phase a moment is in, the
                   planned rate)
    merge.h        snapshots into intervals and phases; tells listeners of closed intervals
    run_view.h     the coordinator read-only, for ctl.c, chaos.c and live.c
    ctl.h chaos.h live.h scrape.h   the operator's socket, the chaos record, the live page,
                   the targets' /metrics

    Where each figure comes from: phases and their windows, self->timeline (sequence.c
    decides, coordinator.c schedules); everything merged from snapshots (by interval, by
    phase, the run, drain, targets, classes, turns, late snapshots, the last closed
    interval), self->merged (merge.h, read-only here); workers and their counts,
    self->workers (registry.c); refusals, rejected_by (reject.c); the targets' own figures,
    self->scrape.
*/
#ifndef SURGE_COORD_INTERNAL_H
#define SURGE_COORD_INTERNAL_H

#include <czmq.h>
#include <signal.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "coordinator/chaos.h"
#include "coordinator/coordinator.h"
#include "coordinator/ctl.h"
#include "coordinator/live.h"
#include "coordinator/merge.h"
#include "coordinator/run_view.h"
#include "coordinator/scrape.h"
#include "coordinator/timeline.h"
#include "plan/verdict.h"
#include "proto/proto.h"

#define COORD_MAX_WORKERS 4096
#define COORD_MAX_SEQ     10000000 /* per worker process; 115 days of 1 s snapshots */
#define COORD_LEASE_BEATS 3        /* silent this many heartbeats = dead */
/* Failed handshakes logged one by one per second; the rest as one count (a stranger failed
   1,362 in 3 s before this cap, issue 18). */
#define COORD_HANDSHAKE_LOGS_PER_S 5
/* No counter of one snapshot (one worker, one interval) can honestly exceed this: an
   hour-long interval at 40 Gbit/s is 1.8e13 bytes. Bigger ones are forged (reject.c). */
#define COORD_MAX_COUNT_PER_SNAPSHOT (1LL << 48)

/* Why a peer's message was refused: results.json rejected_by (reject.c). */
typedef enum {
    REJECT_FRAMES = 0,   /* not exactly one frame after the routing id */
    REJECT_MALFORMED,    /* not one msgpack map */
    REJECT_VERSION,      /* another protocol version */
    REJECT_UNKNOWN_TYPE, /* "t" names no message type */
    REJECT_MISSING,      /* a required field is absent */
    REJECT_WRONG_TYPE,   /* a field of the wrong msgpack type */
    REJECT_OVERSIZE,     /* over a cap */
    REJECT_BAD_VALUE,    /* out of range, a corrupt histogram */
    REJECT_HANDSHAKE,    /* a connection failed the ZeroMQ/CURVE handshake */
    REJECT_UNKNOWN_PEER, /* heartbeat, snapshot or bye from a connection that never said hello */
    REJECT_UNEXPECTED,   /* a coordinator-only message type sent by a worker */
    REJECT_INTERVAL,     /* snapshot of an interval the worker cannot have measured */
    REJECT_FOREIGN_ID,   /* snapshot naming another worker than its sender */
    REJECT_UNPLANNED,    /* snapshot from a worker that was never sent a plan */
    REJECT_IMPLAUSIBLE,  /* snapshot with a count above COORD_MAX_COUNT_PER_SNAPSHOT */
    REJECT_DUPLICATE_INTERVAL, /* a second snapshot (another seq) for an interval merged */
    REJECT_CLASS_COUNT
} reject_class_t;

typedef enum { WORKER_LIVE = 0, WORKER_DEAD, WORKER_LEFT } worker_state_t;

typedef struct {
    char *id;
    uint64_t incarnation; /* random per worker process */
    zframe_t *identity;   /* ROUTER routing id of its connection; owned */
    int threads, capacity;
    worker_state_t state;
    int64_t joined_ns, last_heard_ns, lost_at_ns; /* coordinator monotonic; lost 0 = never */
    int heartbeats;                               /* received since the last hello */
    bool has_plan;                                /* the plan message was sent on this connection */
    int ready;                     /* proto_ready_t from its heartbeats: whether it can take load */
    int64_t first_interval;        /* snapshots expected from this index on */
    int64_t planned_from_interval; /* at its first plan; -1 = never planned */
    int64_t max_interval_seen;     /* -1 = none */
    double from, to;               /* current segment (0, 0 = none) */
    int64_t inflight;              /* last reported gauge */
    int64_t requests;              /* finished requests merged (ok + failed) */
    int64_t snapshots, duplicates;
    int returns;   /* times it came back after its lease expired */
    uint8_t *seen; /* seq bitmap; owned */
    size_t seen_bytes;
    uint8_t *intervals_merged; /* interval bitmap; owned */
    size_t intervals_merged_bytes;
} worker_t;

typedef struct {
    int next_plan_phase;     /* the next plan->phases entry to consider */
    int search_stage;        /* stage of the search in progress, -1 when none */
    sat_search_t **searches; /* per stage, the search that ran there; owned */
    double level_rate_rps;   /* the level in progress */
    int level, level_parts_left;
    double operating_point_rps;   /* of the last finished search; 0 = none */
    bool skipped_operating_point; /* a phase at the operating point could not run */
} sequence_t;

struct _coordinator_t {
    const plan_t *plan; /* borrowed */
    coordinator_config_t cfg;
    char *bind, *out_dir;
    char endpoint[256];
    char run_id[64];
    zsock_t *router;
    zsock_t *monitor; /* PAIR receiving the ROUTER's handshake-failure events */

    worker_t **workers;
    int worker_count;

    int64_t hb_ns, interval_ns, lead_ns, grace_ns, drain_ns, recovery_ns;
    int64_t created_ns, run_t0_ns, start_wall_ns; /* run_t0 0 until the barrier passed */

    /* The phases decided so far (sequence.c), with their times as offsets from run_t0;
       read-only to everyone else (timeline.h). */
    run_timeline_t timeline;
    int announced_phase;         /* -1 before the first */
    bool plan_finished;          /* sequence_next said there is no phase after the last */
    int64_t recovering_since_ns; /* waiting for in-flight work to drain, 0 = not */
    int64_t recovery_spent_ns;   /* waits between phases that timed out: out of the drain */
    sequence_t seq;
    bool verdict_failed; /* an SLA check failed: exit 1 */
    uint64_t epoch;
    bool segments_dirty;
    int64_t no_workers_since_ns;

    /* merge (merge.h): the merged figures; `merged` is merge_totals(merge), read-only */
    merge_t *merge;
    const merge_totals_t *merged;
    int64_t rejected_messages;
    int64_t rejected_by[REJECT_CLASS_COUNT]; /* rejected_messages by class (reject.c) */
    int64_t requests_lines_refused;          /* requests.jsonl lines from workers not written */
    log_throttle_t handshake_log; /* failed handshakes: COORD_HANDSHAKE_LOGS_PER_S logged */

    /* outputs */
    FILE *intervals_file, *requests_file;
    int out_lock_fd; /* RESULTS_DIR/.lock, held (flock) while the run writes there; -1 */
    FILE *hlog_files[METRIC_HIST_COUNT];
    buf_t scratch;
    buf_t interval_line; /* the last closed interval's intervals.jsonl line (live page) */

    /* progress */
    bool progress_tty;
    int64_t last_progress_ns;

    /* observability (live.c, scrape.c): the targets' /metrics (NULL when off) and our own
       (NULL without --metrics-listen) */
    scrape_t *scrape;
    live_t *live;

    /* chaos (ctl.c, chaos.c): the operator's socket (NULL without --ctl-bind) and the
       campaign's record; operator_stopped once `surge ctl stop` cut the plan short */
    ctl_t *ctl;
    const char *ctl_endpoint; /* ctl's, borrowed; NULL without --ctl-bind */
    chaos_t *chaos;
    bool operator_stopped;

    volatile sig_atomic_t stop_requested;
    bool interrupted, failed;
    char failure[1536];

    /* Before the first phase: every worker that says whether it is ready (plan checked,
       preflight passed, engine built) must say so (docs/fleet.md). A worker that cannot
       run the plan leaves with a failed bye; its reason is kept, each distinct one once. */
    bool awaiting_ready;
    int64_t awaiting_since_ns;
    int refusals;
    char refusal_reasons[1200];
};

/* registry.c */
worker_t *registry_find_identity(coordinator_t *self, zframe_t *identity);
worker_t *registry_find(coordinator_t *self, const char *id, uint64_t incarnation);
worker_t *registry_add(coordinator_t *self, const proto_hello_t *hello, zframe_t *identity);
void registry_destroy_all(coordinator_t *self);
int registry_live_count(const coordinator_t *self);
/* Marks seq as seen; false when it was already (a duplicate) or out of range. */
bool registry_mark_seq(worker_t *worker, uint64_t seq);
/* Whether a snapshot of this interval was merged from the worker already. */
bool registry_interval_merged(const worker_t *worker, int64_t interval);
/* Marks it merged (a worker sends one snapshot per interval). */
void registry_mark_interval(worker_t *worker, int64_t interval);
/* A merged snapshot's counts in its sender's record (requests, in-flight gauge, the
   highest interval seen). */
void registry_count_snapshot(worker_t *worker, const proto_snapshot_t *snap);
/* Whether every live worker that had a plan by interval `index` has sent it (and at least
   one had): the interval can close before its grace (merge.h, merge_config_t.complete). */
bool registry_interval_complete(const coordinator_t *self, int64_t index);
/* Splits [0, 1) among live workers by capacity (ordered by id), into worker->from/to. */
void registry_assign_segments(coordinator_t *self);
/* Expires leases; returns how many workers died now. */
int registry_expire(coordinator_t *self, int64_t now_ns);

/* reject.c */
void coord_reject(coordinator_t *self, reject_class_t why); /* counts one refusal */
const char *reject_class_name(reject_class_t why);          /* results.json key */
reject_class_t reject_class_of_decode(int proto_error);
/* -1 when the snapshot may be merged, else the reject_class_t that refuses it whole, with
   the reason in why. */
int snapshot_refusal(const coordinator_t *self, const worker_t *w, const proto_snapshot_t *snap,
                     char *why, size_t why_size);

/* sequence.c */
int sequence_init(coordinator_t *self, char *err, size_t err_size);
void sequence_free(coordinator_t *self);
/* Whether the phase after the last decided one follows it at once (same stage, known
   without measuring: a settle part, an iteration, a ramp step, a flag plan's phases). */
bool sequence_next_continues(const coordinator_t *self);
/* True when no phase can follow the last decided one (no plan entry left, no search in
   progress): known without measuring anything. */
bool sequence_is_over(const coordinator_t *self);
/* Decides the next phase (measuring the level that just ended when a search runs),
   appends it to self->phases without times, and returns true; false when the plan is
   over. */
bool sequence_next(coordinator_t *self);
/* Inside results.json: "saturation", "sla", "cost", "users" (when the plan has them);
   the SLA table goes to sla_table, JUnit XML to the plan's path. False when an SLA check
   failed. */
bool sequence_write_verdicts(coordinator_t *self, jsonw_t *w, json_t *overall, FILE *sla_table);

/* phase_summary.c */
/* The summary of run phase i as results.json has it (new reference; NULL when it did not
   run). */
json_t *phase_summary_json(const coordinator_t *self, int i);
/* The same, written as the value of the key being written (the phase ran). */
void phase_summary_write(const coordinator_t *self, int i, jsonw_t *w);
/* The plan's mean offered rate of a rate phase over duration_s (0 for closed-loop). */
double phase_offered_rps(const plan_phase_t *p, double duration_s);
/* Phase i's planned window, in seconds. */
double phase_duration_s(const coordinator_t *self, int i);
/* The intervals whose start lies in phase i's window, in seconds: where its received
   tokens were counted (merge.c). */
double phase_received_s(const coordinator_t *self, int i);

/* outputs.c */
/* 0, -1 on error, OUTPUTS_IN_USE when another live run holds the directory. */
#define OUTPUTS_IN_USE (-2)
int outputs_open(coordinator_t *self, char *err, size_t err_size);
void outputs_close(coordinator_t *self);
/* At the run's start (run_t0 and the wall time are known): the *.hlog headers. */
void outputs_begin(coordinator_t *self);
/* A merge listener (merge.h): the closed interval's line in intervals.jsonl (kept in
   interval_line for the live page) and its *.hlog entries. */
void outputs_write_interval(coordinator_t *self, const merge_interval_t *iv);
/* Appends a worker's requests.jsonl lines, each only when it is one JSON object of at most
   COORD_MAX_REQUEST_LINE_BYTES; others are counted in requests_lines_refused. */
void outputs_write_requests(coordinator_t *self, const char *lines, size_t len);
int outputs_write_results(coordinator_t *self, char *err, size_t err_size);

/* observe.c: the observability hooks. observe_open starts the scraper object and the live
   server (-1 with a reason when --metrics-listen cannot bind); observe_run_started starts
   scraping on the run's clock; observe_run_finished publishes the final page and lingers. */
int observe_open(coordinator_t *self, char *err, size_t err_size);
void observe_close(coordinator_t *self);
void observe_run_started(coordinator_t *self);
/* Each turn of the control loop: the live page's state (`state`: waiting, running, ...). */
void observe_tick(coordinator_t *self, const char *state, int64_t now_ns);
void observe_run_finished(coordinator_t *self);
/* results.json: "server" (the scraper's summary) and "prometheus" (range queries over the
   run's window, when a Prometheus URL was given; blocks up to 10 s per query). */
void observe_write_results(coordinator_t *self, jsonw_t *w);

/* progress.c */
void progress_update(coordinator_t *self, int64_t now_ns, bool force);
void progress_finish(coordinator_t *self);

#endif
