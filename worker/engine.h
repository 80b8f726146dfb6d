/*  engine.h: the load engine, a library: `surge worker` wraps it for the fleet and
    tests drive it directly, without a coordinator.

    An engine owns N engine threads (default: one per core). Each thread runs one event
    loop (epoll + curl_multi_socket_action) with its own connection pools to every
    target, paces its share of the arrivals on absolute monotonic deadlines, streams
    the responses through the SSE and event parsers, and records into its own
    metrics_t per target (and per class of a workload mix, when the config has classes).
    At each interval boundary (aligned to run_t0_ns) a thread swaps its metrics out;
    engine_collect() merges the closed intervals of every thread and hands each out
    exactly once. No lock is taken per request.

    Phases: a phase describes the *global* load (the whole fleet's rate, concurrency or
    users) plus this engine's segment [from, to) of the unit interval. The engine
    computes the one global arrival sequence (common/schedule.h) and fires only the
    global indices in its segment; integer quantities (concurrency, users) are split
    as round(N*to) - round(N*from). Several engines given complementary segments
    together produce exactly the single-engine schedule.

    Ownership: the engine copies everything it keeps from the config and phase structs;
    the caller's strings are borrowed only for the duration of the call.
*/
#ifndef SURGE_WORKER_ENGINE_H
#define SURGE_WORKER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dist.h"
#include "common/metrics.h"
#include "common/schedule.h"
#include "worker/idle.h"

#define ENGINE_MAX_TARGETS 256
/* Request classes of a workload mix (= WORKLOAD_MAX_CLASSES): each interval holds one
   metrics_t per class, so the cap bounds that memory per thread. */
#define ENGINE_MAX_CLASSES 32

/* Conversations (worker/conversation.c): turns of one conversation recorded by turn
   index, the later ones in the last (= PROTO_MAX_TURNS / 2: turn 32 and beyond share a
   bucket, so an interval holds at most this many metrics_t per thread). */
#define ENGINE_MAX_TURN_BUCKETS 32
/* History budget when the config names no context: the model's context in tokens. */
#define ENGINE_CONV_DEFAULT_CONTEXT_TOKENS 32768

typedef enum { ENGINE_API_CHAT = 0, ENGINE_API_COMPLETIONS = 1 } engine_api_t;
typedef enum {
    ENGINE_BALANCE_ROUND_ROBIN = 0,
    ENGINE_BALANCE_RANDOM,
    ENGINE_BALANCE_LEAST_INFLIGHT
} engine_balance_t;

/* Multi-turn conversations (docs/workloads.md#conversations). Borrowed for engine_new
   and copied. Each turn's body is the chat `messages`: the system prompt (and the shared
   prefix, for the drawn fraction), the earlier user turns with the answers actually
   received, then the new user turn; the oldest turns are dropped when the history would
   pass context_tokens (estimated as bytes / chars_per_token). */
typedef struct {
    bool enabled;
    dist_t turns;              /* turns of a synthetic conversation (DIST_NONE = 1) */
    dist_t think_time_ms;      /* after an answer, before the next turn (DIST_NONE = 0) */
    const char *system_prompt; /* NULL or "" = none */
    const char *shared_prefix; /* NULL or "" = none */
    double shared_prefix_fraction;
    bool affinity_none; /* each turn through the balancer (default: the first turn's target) */
    /* A dataset's conversations, or none (synthetic: user turns are the prompts): the
       i-th is the next turn_counts[i] strings of turn_texts. */
    const int *turn_counts;
    int conversation_count;
    const char *const *turn_texts;
    int turn_text_count;
    int context_tokens;     /* 0 = ENGINE_CONV_DEFAULT_CONTEXT_TOKENS */
    double chars_per_token; /* 0 = 4 */
} engine_conversations_t;

typedef struct {
    /* Targets: base URLs ("http://127.0.0.1:8000"); requests go to base + /v1/... */
    const char *const *target_urls;
    int target_count;
    engine_balance_t balance;
    engine_api_t api;
    const char *model;
    bool stream;                 /* default true */
    int max_tokens;              /* 0 = not sent */
    bool ignore_eos;             /* vLLM extension */
    bool include_usage;          /* stream_options.include_usage (default true) */
    bool continuous_usage_stats; /* vLLM stream_options.continuous_usage_stats */
    const char *extra_body_json; /* a JSON object merged into every request body, or NULL */
    const char *const *headers;  /* "Name: value" lines, or NULL */
    int header_count;
    const char *api_key_env;    /* name of an environment variable holding the key */
    const char *api_key_file;   /* or a file holding it; never logged */
    const char *ca_file;        /* https: CA bundle; NULL = system default */
    bool insecure_tls;          /* https: do not verify (explicit opt-in) */
    int64_t timeout_ms;         /* per request, 0 = none */
    const char *capture_header; /* response header to group results by, or NULL */
    int max_event_bytes;        /* cap of one SSE event (preallocated per open stream);
                                   0 = 8 KiB. A larger event is counted as malformed. */

    /* Prompts, borrowed for the call and copied: one is picked per request. */
    const char *const *prompts;
    int prompt_count;
    const int *prompt_max_tokens; /* per prompt (prompt_count entries), or NULL: max_tokens for
                                     all; an entry of 0 also means max_tokens */
    /* Classes of a workload mix: each prompt's class (prompt_count entries, each in
       [0, class_count)), or NULL with class_count 0: no per-class metrics. */
    const int *prompt_class;
    int class_count; /* 0..ENGINE_MAX_CLASSES */
    /* Conversations (enabled = false: every request a single turn, bodies pre-built). */
    engine_conversations_t conversations;

    int threads;                    /* 0 = one per core */
    int max_inflight;               /* cap on in-flight requests (whole engine), 0 = none */
    int max_connections_per_target; /* 0 = no cap */
    bool connection_per_user;       /* one dedicated connection per virtual user */
    bool prewarm;                   /* open connections before the first phase */
    engine_idle_t idle;             /* poll or sleep when nothing is due (worker/idle.h) */

    int64_t run_t0_ns;    /* CLOCK_MONOTONIC (local) origin of the intervals */
    int64_t interval_ns;  /* snapshot interval (default 1 s) */
    bool record_requests; /* build one JSON line per request (requests.jsonl) */

    /* SLOs for goodput (DistServe): a request counts in slo_ok when it succeeded and met
       every SLO that is > 0. */
    double slo_ttft_ms, slo_tpot_ms, slo_e2e_ms;
} engine_config_t;

typedef struct {
    uint64_t epoch;           /* stamped by the coordinator; later epochs replace earlier */
    int phase_index;          /* the plan's phase: every request it sends counts there */
    phase_load_t load;        /* common/schedule.h */
    schedule_spec_t schedule; /* PHASE_LOAD_RATE: the global arrival process */
    int concurrency;          /* PHASE_LOAD_CONCURRENCY: global in-flight target */
    int users;                /* PHASE_LOAD_USERS: global user count */
    double think_time_mean_s; /* users: exponential think time between answer and next send */
    double segment_from, segment_to; /* this engine's share of the global load, [from, to) */
    int64_t t0_ns;                   /* local monotonic start of the phase */
    /* New segments of a running phase: this epoch takes over at from_ns (local monotonic),
       continuing the SAME global sequence (same t0, seed and indices); arrivals before it
       belonged to the previous assignment. 0 (or <= t0_ns) = from the phase start. */
    int64_t from_ns;
    int64_t duration_ns; /* phase length; arrivals stop after t0 + duration */
} engine_phase_t;

/* The requests of one phase that ended in an interval (the by-phase view, metrics.h). */
typedef struct {
    int phase_index;
    const metrics_t *metrics; /* 3 significant digits; output_tokens_received is 0 */
    int64_t tail_requests;    /* of them, ended after the phase's planned end */
    int64_t tail_max_ns;      /* how long after that end the latest of them ended */
} engine_phase_part_t;

typedef struct engine_interval_s {
    int64_t index;          /* interval number since run_t0 */
    const metrics_t *total; /* all targets merged (3 significant digits) */
    /* The same records split by the phase that scheduled them: one part per phase with
       any record in the interval; their sum equals total except output_tokens_received. */
    const engine_phase_part_t *phases;
    int phase_count;
    const metrics_t *const *per_target; /* target_count entries (2 significant digits) */
    int target_count;
    /* The same records by the class of the request's prompt (engine_config_t.prompt_class):
       class_count entries (2 significant digits), NULL when the engine has no classes. */
    const metrics_t *const *per_class;
    int class_count;
    /* With conversations: the same records by turn index (per_turn[k] holds turn k + 1,
       the last also every later turn), turn_count = ENGINE_MAX_TURN_BUCKETS entries (3
       significant digits, holding counters only once used); NULL / 0 without
       conversations. */
    const metrics_t *const *per_turn;
    int turn_count;
    const char *requests_jsonl; /* one JSON line per request ended in this interval, or NULL */
    size_t requests_jsonl_len;
} engine_interval_t;

typedef void(engine_interval_fn)(void *arg, const engine_interval_t *interval);

typedef struct {
    int64_t inflight;    /* requests in flight now */
    int64_t sent_total;  /* since the engine started */
    int64_t lag_us_last; /* schedule lag of the most recent send */
    bool running;        /* a phase is active */
} engine_status_t;

typedef struct _engine_t engine_t;

/* Starts the engine threads (idle until a phase). NULL with a reason in err on bad config
   (unknown scheme, no targets, no prompts, unreadable API key file, ...). */
engine_t *engine_new(const engine_config_t *config, char *err, size_t err_size);
/* Stops every thread, aborts in-flight requests, frees everything; *self_p = NULL. */
void engine_destroy(engine_t **self_p);

/* Schedules a phase: from its takeover time (from_ns, else t0_ns) the engine runs it,
   replacing the current phase; arrivals of the replaced phase intended before the takeover
   and not sent yet are counted as dropped. New segments for a running phase: the same
   phase (t0, seed) with a future from_ns, so the global sequence continues with no gap, no
   overlap and no restart of its indices. A phase with an epoch not greater than the
   current one is ignored (idempotent). */
int engine_start_phase(engine_t *self, const engine_phase_t *phase, char *err, size_t err_size);
/* Stops sending new requests now; arrivals already due but not sent are counted as
   dropped (scheduled = sent + dropped). abort_inflight: also cancel requests in flight
   (self-fencing when the coordinator is lost); otherwise they finish and are recorded. */
void engine_halt(engine_t *self, bool abort_inflight);
/* Hands every interval closed up to now (or all, when flush) to fn, once each, in index
   order; flush also closes the current partial interval (at the end of a run). */
void engine_collect(engine_t *self, bool flush, engine_interval_fn *fn, void *arg);
void engine_status(engine_t *self, engine_status_t *out);

#endif
