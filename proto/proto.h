/*  proto.h: the wire messages between coordinator and workers (docs/protocol.md).

    Every message is one msgpack map carrying "v" (PROTO_VERSION) and "t" (the type
    name), one ZeroMQ frame (after the ROUTER's identity frame on the coordinator side).
    Decoding is strict: a message that is not exactly one map, lacks a field, has a
    field of the wrong type, a value out of range or over a size cap, or an unknown
    type, is rejected with a reason naming the field. Unknown keys are ignored, so a
    newer peer may add fields without a version bump. Histograms travel as msgpack bin
    holding HdrHistogram's V2 compressed encoding.

    Ownership: proto_decode fills a proto_msg_t whose strings, arrays and metrics it
    owns; proto_msg_clear frees them. For encoding, the caller fills a proto_msg_t with
    borrowed pointers (nothing is freed) and calls proto_encode.

    No input can crash the decoder: the msgpack structure is checked (container sizes
    against the bytes left, nesting depth) before msgpack-c allocates anything for it,
    so the memory a message can cost is bounded by a small multiple of its size.
*/
#ifndef SURGE_PROTO_H
#define SURGE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/dist.h"
#include "common/metrics.h"
#include "common/schedule.h"

#define PROTO_VERSION 1

/* Caps, each with its reason. */
#define PROTO_MAX_MESSAGE_BYTES  (16 << 20) /* a snapshot with requests.jsonl of a busy interval */
#define PROTO_MAX_STRING_BYTES   4096       /* ids, names, URLs, reasons */
#define PROTO_MAX_PROMPT_BYTES   (1 << 20)  /* one prompt (long-context workloads) */
#define PROTO_MAX_PROMPTS        100000     /* a dataset's worth */
#define PROTO_MAX_TARGETS        256        /* = ENGINE_MAX_TARGETS */
#define PROTO_MAX_ALLOW          256        /* allow-list entries announced in hello */
#define PROTO_MAX_HEADERS        64         /* a plan's headers: = the plan file's own cap */
#define PROTO_MAX_HIST_BYTES     (1 << 20) /* one V2 histogram (a full 1 us..1 h one is ~200 KiB) */
#define PROTO_MAX_REQUESTS_BYTES (12 << 20) /* requests.jsonl lines of one interval */
#define PROTO_MAX_MAP_KEYS       64         /* keys of any map: known fields plus room to grow */
#define PROTO_MAX_DEPTH          6          /* our deepest message nests 4 levels */
/* Monotonic times (run_t0, t0, takeover, heartbeats) are within +-2^60 ns (36 years of
   uptime): then the clock-offset arithmetic (sums of a few of them) cannot overflow. */
#define PROTO_MAX_TIME_NS (1LL << 60)
/* Memory a message may cost (issue 18: a 1 KB snapshot of 5-digit histograms cost 112 MiB,
   a 208 KB plan 826 MB). msgpack-c spends 16-32 bytes per object, so objects are counted
   before it unpacks (a plan of PROTO_MAX_PROMPTS prompts and their max_tokens is 200,000). */
#define PROTO_MAX_ELEMENTS (1 << 18)
/* Histogram layouts: exactly the ones a worker sends (worker/engine.c: metrics_new(3) for
   the total, metrics_new(2) per target), refused from their header before any counter is
   allocated; and at most PROTO_MAX_DECODED_COUNTERS counters (16 MiB) decoded per
   message: a snapshot of 64 targets whose every histogram spans 1 us..1 h needs 1.66 M. */
#define PROTO_TOTAL_DIGITS         3
#define PROTO_TARGET_DIGITS        2
#define PROTO_MAX_DECODED_COUNTERS (1 << 21)
/* A worker builds one request body per prompt, each repeating the model name and
   extra_body: prompts x (model + extra_body + PROTO_BODY_OVERHEAD_BYTES) is capped, so a
   small plan cannot make a worker build gigabytes (the prompts themselves are already
   bounded by the message size). 100,000 prompts may repeat 670 bytes each. */
#define PROTO_MAX_PLAN_REPEATED_BYTES (64 << 20)
#define PROTO_BODY_OVERHEAD_BYTES     128 /* the JSON keys body_build adds around a prompt */
/* Cap of a worker's hello capacity: its share of the load is capacity / the fleet's sum,
   so one peer announcing 2^20 took a whole run (issue 18). 4096 = the most engine threads
   a worker may announce (threads is 1..4096, and capacity defaults to threads). */
#define PROTO_MAX_CAPACITY 4096
/* Phases one snapshot may name: those whose requests ended in one interval. A request
   lives at most its timeout, so even a ramp of 1 s levels with 60 s requests names ~60. */
#define PROTO_MAX_SNAPSHOT_PHASES 256
#define PROTO_MAX_PHASE_INDEX     (1 << 20)  /* positions in a plan; a search adds < 1,000 */
#define PROTO_MAX_CTL_COMMAND     32         /* "set-rate", "mark-start", ... */
#define PROTO_MAX_CTL_BODY_BYTES  (64 << 10) /* a status document (JSON text) */

/* Classes of a workload mix (plan "classes", snapshot "classes"): = WORKLOAD_MAX_CLASSES,
   the most a plan file can declare, and ENGINE_MAX_CLASSES, what an engine records. */
#define PROTO_MAX_CLASSES          32
#define PROTO_MAX_CLASS_NAME_BYTES 256 /* a class name from a plan file */

/* Conversations (plan "conv", docs/protocol.md; issue 20). A conversation resends its
   history every turn, so what a plan may ask one worker to hold is capped here:
   PROTO_MAX_TURNS = WORKLOAD_MAX_TURNS (turns of one conversation); PROTO_MAX_THINK_MS =
   WORKLOAD_MAX_THINK_MS (10 min); a system prompt or shared prefix is at most one prompt
   (PROTO_MAX_PROMPT_BYTES); and a dataset's conversations travel as at most
   PROTO_MAX_CONVERSATIONS conversations of PROTO_MAX_TURN_TEXTS user turns in all, which
   with a full pool keeps a plan within PROTO_MAX_ELEMENTS' order (the coordinator sends the
   first ones of a larger dataset). */
#define PROTO_MAX_TURNS         64
#define PROTO_MAX_THINK_MS      600000
#define PROTO_MAX_CONVERSATIONS 8192
#define PROTO_MAX_TURN_TEXTS    32768
/* ... and at most this many bytes of them: half a message, so a dataset of long turns
   leaves room for the pool's prompts under PROTO_MAX_MESSAGE_BYTES. */
#define PROTO_MAX_TURN_TEXT_BYTES (8 << 20)
#define PROTO_MAX_CONTEXT_TOKENS  (1 << 24) /* = LIMIT_MAX_TOKENS: no model has more */
/* Turn buckets of a snapshot ("turns"): = ENGINE_MAX_TURN_BUCKETS, turn 32 and beyond
   share the last, so a snapshot holds at most this many more metrics. */
#define PROTO_MAX_TURN_BUCKETS 32

typedef enum {
    PROTO_HELLO = 0,
    PROTO_WELCOME,
    PROTO_PLAN,
    PROTO_PHASE,
    PROTO_SNAPSHOT,
    PROTO_ACK,
    PROTO_HEARTBEAT,
    PROTO_STOP,
    PROTO_BYE,
    PROTO_CTL_REQUEST, /* operator (surge ctl) -> coordinator, on the ctl socket only */
    PROTO_CTL_REPLY,   /* coordinator -> operator */
    PROTO_TYPE_COUNT
} proto_type_t;

/* Why a message was rejected (negative return values of proto_decode). */
typedef enum {
    PROTO_OK = 0,
    PROTO_ERR_MALFORMED = -1,    /* not msgpack, truncated, trailing bytes, too deep */
    PROTO_ERR_NOT_MAP = -2,      /* the message is not a map */
    PROTO_ERR_VERSION = -3,      /* "v" is not PROTO_VERSION (msg->version holds the peer's) */
    PROTO_ERR_UNKNOWN_TYPE = -4, /* "t" names no message type */
    PROTO_ERR_MISSING = -5,      /* a required field is absent */
    PROTO_ERR_WRONG_TYPE = -6,   /* a field has the wrong msgpack type */
    PROTO_ERR_OVERSIZE = -7,     /* a size cap was exceeded */
    PROTO_ERR_BAD_VALUE = -8,    /* a value out of range (segment outside [0,1], bad histogram) */
} proto_error_t;

/* worker -> coordinator, first message of every connection (and after a reconnect). */
typedef struct {
    char *worker_id;      /* hostname:pid, or --id */
    uint64_t incarnation; /* grows at each (re)connection of the same worker process */
    char *software;       /* surge version string ("0.1.0") */
    int threads;          /* engine threads */
    int capacity;         /* relative weight for segment sizing (default: threads) */
    char **allow;         /* allow-list summary (host patterns); may be empty */
    int allow_count;
} proto_hello_t;

/* coordinator -> worker: the answer to hello. */
typedef struct {
    bool accepted;
    char *reason; /* why refused (names both versions on a mismatch); "" when accepted */
    char *run_id;
    int64_t heartbeat_ms; /* both sides send a heartbeat every heartbeat_ms */
} proto_welcome_t;

/* Distributions of turns and think time travel as common/dist.h's dist_t. */
typedef enum { PROTO_AFFINITY_CONVERSATION = 0, PROTO_AFFINITY_NONE } proto_affinity_t;

/* What a worker needs to hold conversations (plan "conv"). */
typedef struct {
    dist_t turns;                  /* turns of a synthetic conversation: 1..PROTO_MAX_TURNS;
                                            NONE = 1 */
    dist_t think_time_ms;          /* 0..PROTO_MAX_THINK_MS; NONE = 0 */
    char *system_prompt;           /* "" = none */
    char *shared_prefix;           /* "" = none */
    double shared_prefix_fraction; /* 0..1 of conversations carry it; 0 when no prefix */
    proto_affinity_t affinity;
    int context_tokens;     /* the model's context: history beyond it is dropped, oldest
                               first (0 = the worker's default); optional on the wire */
    double chars_per_token; /* the workload's, to estimate tokens (0 = 4); optional */
    /* A dataset's conversations (none: synthetic, user turns drawn from the prompts).
       Conversation i is the next turn_counts[i] (1..PROTO_MAX_TURNS) strings of
       turn_texts, in order; the counts add up to turn_text_count. */
    int *turn_counts;
    int conversation_count;
    char **turn_texts;
    int turn_text_count;
} proto_conversations_t;

/* coordinator -> worker: the engine configuration for this run. */
typedef struct {
    char **targets; /* base URLs */
    int target_count;
    char *model;
    char *api; /* "chat" or "completions" */
    bool stream;
    int max_tokens;
    bool ignore_eos;
    char **prompts;
    int prompt_count;
    int *prompt_max_tokens; /* per prompt (prompt_count entries, 0 = max_tokens), or NULL */
    /* Optional, together: the workload mix. classes names them (class_count entries,
       1..PROTO_MAX_CLASSES); prompt_class is each prompt's class (prompt_count entries,
       each in [0, class_count)). NULL / 0 when absent: no per-class metrics. */
    int *prompt_class;
    char **classes;
    int class_count;
    int64_t interval_ms;
    int64_t run_t0_ns; /* coordinator monotonic time of interval 0 */
    bool record_requests;
    int64_t timeout_ms;
    int max_inflight;
    double slo_ttft_ms, slo_tpot_ms, slo_e2e_ms;
    char *extra_body_json; /* "" = none */
    char *api_key_env;     /* "" = none */
    char *api_key_file;    /* a path on the worker's host (the key never travels); "" = none */
    /* Optional keys (a worker given none keeps the engine's defaults): */
    char **headers; /* "Name: value" lines sent with every request (no CR/LF) */
    int header_count;
    char *balance;        /* "round_robin" (default), "random" or "least_inflight" */
    char *capture_header; /* response header whose value is requests.jsonl's group; "" = none */
    char *ca_file;        /* https: a CA bundle on the worker's host; "" = the system's */
    bool insecure_tls;    /* https: do not verify the certificate (explicit opt-in) */
    int max_connections_per_target; /* per worker; 0 = no cap */
    bool connection_per_user;       /* users: one dedicated connection per virtual user */
    bool prewarm;                   /* open the connections before the first phase */
    bool preflight; /* check every target before any load (optional, default true) */
    /* Optional: multi-turn conversations; NULL = every request a single turn. Owned by a
       decoded message, borrowed by the encoder. */
    proto_conversations_t *conversations;
} proto_plan_t;

/* coordinator -> worker: run this (global) load from t0, this worker's segment [from, to). */
typedef struct {
    uint64_t epoch;  /* later epochs replace earlier ones; equal or older ones are ignored */
    int phase_index; /* position in the plan */
    char *name;
    phase_load_t load;
    /* The global arrival process (rate phases; the others send it too, unused):
       schedule.duration_ns is the phase's length from t0 ("duration_ns"). */
    schedule_spec_t schedule;
    int concurrency;
    int users;
    double think_time_mean_s;
    double segment_from, segment_to;
    int64_t t0_ns;       /* coordinator monotonic time the phase starts (its sequence's origin) */
    int64_t takeover_ns; /* new segments of a running phase take over here (coordinator time);
                            = t0_ns for the phase's first assignment */
} proto_phase_t;

/* The requests of one phase that ended in a snapshot's interval (by the phase that
   scheduled them, docs/protocol.md). metrics is NULL when the snapshot names one phase
   only: the total is then that phase's (less output_tokens_received). */
typedef struct {
    int phase_index;
    metrics_t *metrics;
    int64_t tail_requests; /* of them, ended after the phase's planned end */
    int64_t tail_max_ns;   /* how long after that end the latest of them ended */
} proto_phase_part_t;

/* worker -> coordinator: one closed interval of measurements. */
typedef struct {
    uint64_t seq;     /* per worker process, from 1; acked by the coordinator */
    int64_t interval; /* interval index since run_t0 */
    char *worker_id;
    uint64_t epoch;         /* last phase epoch the worker had applied */
    int64_t inflight;       /* gauge at collection time */
    metrics_t *total;       /* never NULL in a decoded snapshot */
    metrics_t **per_target; /* target_count entries (2 significant digits) */
    int target_count;
    char *requests_jsonl; /* one JSON line per request, or NULL */
    size_t requests_jsonl_len;
    proto_phase_part_t *phases; /* by scheduling phase; absent (0) from older workers */
    int phase_count;
    /* By the class of each request's prompt (the plan's classes): class_count entries
       (2 significant digits); absent (0) when the plan has no classes. */
    metrics_t **per_class;
    int class_count;
    /* With conversations: by turn index (per_turn[k] = turn k + 1, the last bucket also
       every later turn), turn_count entries (3 significant digits: per-turn percentiles
       are compared with the run's, PROTO_TOTAL_DIGITS), at most
       PROTO_MAX_TURN_BUCKETS; absent (0) without conversations. */
    metrics_t **per_turn;
    int turn_count;
} proto_snapshot_t;

typedef struct {
    uint64_t seq;
} proto_ack_t;

/* both ways: liveness, and the round trip that estimates clock offsets (NTP's formula):
   echo_ns is the last time_ns received from the peer, hold_ns how long it was held
   before this reply (so RTT = now - echo_ns - hold_ns). */
typedef struct {
    int64_t time_ns;
    int64_t echo_ns; /* 0 = nothing to echo yet */
    int64_t hold_ns;
    int ready; /* proto_ready_t; worker -> coordinator only */
} proto_heartbeat_t;

/* A worker's heartbeats say whether it can take load: "ready" false while it has no plan
   or checks it (allow-list, API key, preflight), true once its engine is built. A peer
   that never says (older workers, test peers) is not waited for. */
typedef enum {
    PROTO_READY_UNSAID = 0, /* no "ready" key */
    PROTO_READY_NOT_YET,    /* "ready": false */
    PROTO_READY_YES,        /* "ready": true */
} proto_ready_t;

/* coordinator -> worker: stop sending load. abort: cancel in-flight requests too. */
typedef struct {
    uint64_t epoch;
    bool abort;
    char *reason;
} proto_stop_t;

/* either way: leaving for good (after the last snapshot was acked). */
typedef struct {
    char *reason;
    bool failed; /* worker -> coordinator: it could not run the plan (refused it, or the
                    preflight failed); the reason says why. Optional, default false */
} proto_bye_t;

/* operator -> coordinator (the ctl socket, docs/chaos.md). The command is a word the
   coordinator checks (status, mark, mark-start, mark-end, pause, resume, set-rate, stop);
   text is the mark's text or the fault window's name, value the rate of set-rate. */
typedef struct {
    uint64_t id; /* echoed in the reply */
    char *command;
    char *text;   /* "" when absent */
    double value; /* 0 when absent; 0..1e7 */
} proto_ctl_request_t;

/* coordinator -> operator: the answer to one request. */
typedef struct {
    uint64_t id;
    bool ok;
    char *error;     /* why refused; "" when ok */
    char *body_json; /* a JSON object (status, the recorded mark...); "" = none */
} proto_ctl_reply_t;

typedef struct {
    int version; /* of a decoded message; proto_encode always writes PROTO_VERSION */
    proto_type_t type;
    bool owned; /* set by proto_decode: proto_msg_clear frees the pointers */
    union {
        proto_hello_t hello;
        proto_welcome_t welcome;
        proto_plan_t plan;
        proto_phase_t phase;
        proto_snapshot_t snapshot;
        proto_ack_t ack;
        proto_heartbeat_t heartbeat;
        proto_stop_t stop;
        proto_bye_t bye;
        proto_ctl_request_t ctl_request;
        proto_ctl_reply_t ctl_reply;
    } u;
} proto_msg_t;

const char *proto_type_name(proto_type_t type); /* "hello", ... ; "?" when out of range */

/* Appends the encoding of msg to out. Borrowed pointers in msg may be NULL for empty
   strings and arrays. Metrics are encoded with their histograms in V2. */
void proto_encode(const proto_msg_t *msg, buf_t *out);
/* Test-only: encodes with another protocol version (to prove refusals). */
void proto_encode_version(const proto_msg_t *msg, int version, buf_t *out);

/* Decodes one message. Returns PROTO_OK, or a proto_error_t with a reason in err (the
   field and the rule it broke); msg is then cleared, except version and type, which are
   kept when they could be read (so a version mismatch can be answered). */
int proto_decode(proto_msg_t *msg, const void *data, size_t len, char *err, size_t err_size);
/* Reads only the envelope ("v" and "t") of a message, allocating nothing in proportion to
   it: for a receiver that must know who may send a type before it decodes the body (a
   snapshot from a connection that never said hello is refused unread). PROTO_OK with
   *type set, or the error proto_decode would give for the envelope. */
int proto_peek_type(const void *data, size_t len, proto_type_t *type);
/* Frees what a decoded message owns and zeroes it (no-op for encoder-filled messages). */
void proto_msg_clear(proto_msg_t *msg);

/* ---- ZeroMQ helpers (czmq) ------------------------------------------------------- */
/* The socket types are czmq's; declared here as void to keep this header light. */

/* DEALER side: sends msg as one frame. 0 or -1. */
int proto_send(void *zsock, const proto_msg_t *msg);
/* ROUTER side: sends [identity][msg]. identity is a zframe_t (borrowed). 0 or -1. */
int proto_send_to(void *zsock, void *identity, const proto_msg_t *msg);
/* Sends already-encoded bytes (re-sending kept snapshots); identity NULL on a DEALER. */
int proto_send_bytes(void *zsock, void *identity, const void *data, size_t len);

#endif
