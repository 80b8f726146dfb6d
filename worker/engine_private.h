/*  engine_private.h: what the engine's files share, and nobody else sees.

    engine.c   the engine object: config copy, threads, commands, interval collection
    loop.c     one engine thread: epoll + timerfd + curl multi, interval rotation
    pacer.c    when to send: open-loop arrivals with catch-up, closed-loop users
    request.c  one request: building, streaming measurement, classification, records
    target.c   targets: request URLs, bodies, headers, balancing

    Threading: everything under engine_shared_t is written once in engine_new and read
    by every thread afterwards, except the atomics. A thread's own state (its loop,
    requests, pacer and current interval) is touched only by that thread; the engine
    talks to it through the mailbox under engine->lock (one lock per command or per
    interval, never per request).
*/
#ifndef SURGE_WORKER_ENGINE_PRIVATE_H
#define SURGE_WORKER_ENGINE_PRIVATE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "common/oai_event.h"
#include "common/schedule.h"
#include "common/sse.h"
#include "worker/engine.h"

/* A non-streaming body larger than this is refused as malformed: no answer of an
   OpenAI-compatible server comes near it, and a hostile one must not grow us. */
#define ENGINE_MAX_BODY_BYTES (4 * 1024 * 1024)
/* JSON tokens a non-streaming body may hold. The per-event parser holds 2,048, plenty
   for one SSE chunk, but a whole answer with logprobs has ~35 tokens per output token.
   A JSON token takes at least 2 bytes and real answers average more than 4, so a quarter
   of the body cap fits any answer a server sends (20 MiB of address space per thread,
   allocated only when the thread parses its first non-streaming body; only the pages a
   body uses become resident). */
#define ENGINE_BODY_MAX_JSON_TOKENS (ENGINE_MAX_BODY_BYTES / 4)
/* Default cap of one SSE event. vLLM chunks are a few hundred bytes (a few KiB with
   logprobs); the parser preallocates this per open stream, so it sets the memory per
   stream. engine_config_t.max_event_bytes overrides it. */
#define ENGINE_DEFAULT_MAX_EVENT_BYTES (8 * 1024)
/* libcurl's receive buffer per transfer (its default is 16 KiB). SSE events are small;
   4 KiB keeps the memory per stream down at no cost in callbacks. */
#define ENGINE_RECV_BUFFER_BYTES 4096
#define ENGINE_GROUP_MAX         64

/* ---- targets (target.c) --------------------------------------------------------- */

typedef struct {
    int count;
    char **base_urls;    /* as given, without a trailing '/' */
    char **request_urls; /* base + /v1/chat/completions or /v1/completions */
    char **models_urls;  /* base + /v1/models (pre-warming) */
    char **bodies;       /* one per prompt, built once: the hot path never builds JSON */
    size_t *body_lens;
    int body_count;
    struct curl_slist *headers; /* includes Authorization when a key is set */
    engine_balance_t balance;
    _Atomic int64_t *inflight; /* per target, for least-in-flight */
} targets_t;

int targets_init(targets_t *self, const engine_config_t *config, char *err, size_t err_size);
void targets_free(targets_t *self);
/* A single-turn request body as targets_init builds them (extra_body merged in), for
   conversation.c to frame its own bodies with; malloc'd, NULL when extra_body is not a
   JSON object. */
char *targets_body_build(const engine_config_t *config, const char *prompt, int max_tokens);
/* Picks a target for the next request; rr_counter and rng are the calling thread's. */
int targets_pick(targets_t *self, uint64_t *rr_counter, uint64_t *rng);

/* ---- shared, read-only after engine_new (engine.c) -------------------------------- */

typedef struct {
    targets_t targets;
    bool stream;
    int64_t timeout_ms;
    char *capture_header; /* NULL or the header name */
    size_t capture_header_len;
    char *ca_file;
    bool insecure_tls;
    size_t max_event_bytes;
    int64_t run_t0_ns;
    int64_t interval_ns;
    bool record_requests;
    double slo_ttft_ms, slo_tpot_ms, slo_e2e_ms;
    int max_inflight; /* whole engine, 0 = none */
    int max_connections_per_target;
    bool connection_per_user;
    bool prewarm;
    engine_idle_t idle;
    int thread_count;
    int *body_class;            /* the class of each body (targets.body_count entries), or NULL */
    int class_count;            /* 0 = no per-class metrics */
    struct conv_shared_s *conv; /* conversations (worker/conversation.c), or NULL */
    int turn_count;             /* per-turn metrics buckets: 0 or ENGINE_MAX_TURN_BUCKETS */

    _Atomic int64_t inflight;
    _Atomic int64_t sent_total;
    _Atomic int64_t lag_us_last;
    _Atomic int running_threads;
} engine_shared_t;

/* ---- one interval of one thread ------------------------------------------------- */

/* One phase's share of an interval. Almost every interval holds the requests of one
   phase only; then its records are the interval's total and `metrics` stays unused (the
   hot path records nothing twice). When a second phase appears (the interval where a
   level hands over to the next, or a backlog ending), the interval splits: the total so
   far is copied into the first part once and every record goes to its own part too. */
typedef struct {
    int phase_index;
    int64_t tail_requests, tail_max_ns; /* see engine_phase_part_t */
    metrics_t *metrics;                 /* split intervals only; allocated once, reused */
} phase_part_t;

typedef struct interval_s {
    int64_t index;
    metrics_t *total;       /* 3 digits */
    metrics_t **per_target; /* 2 digits each */
    metrics_t **per_class;  /* class_count entries, 2 digits each (NULL when 0) */
    int class_count;        /* fixed at interval_new */
    metrics_t **per_turn;   /* conversations: turn_count entries by turn index (NULL when 0) */
    int turn_count;         /* fixed at interval_new: 0 or ENGINE_MAX_TURN_BUCKETS */
    phase_part_t *parts;    /* the phases with records here, in order of appearance */
    int part_count, part_cap;
    bool split; /* parts[i].metrics hold the records (else parts[0] is the total) */
    buf_t jsonl;
    struct interval_s *next;
} interval_t;

interval_t *interval_new(int target_count, int class_count, int turn_count);
void interval_destroy(interval_t **self_p, int target_count);
void interval_reset(interval_t *self, int target_count);
bool interval_is_empty(const interval_t *self, int target_count);
/* The part of phase_index, added on first use (splitting the interval when it is the
   second phase); NULL when out of memory. The common case is one compare. Records of the
   phase go to the total, and also to part->metrics once self->split. */
phase_part_t *interval_part_slow(interval_t *self, int phase_index);
static inline phase_part_t *interval_part(interval_t *self, int phase_index)
{
    if (self->part_count > 0 && self->parts[0].phase_index == phase_index)
        return &self->parts[0];
    return interval_part_slow(self, phase_index);
}
/* Where a record of phase_index goes besides the total and its target's metrics: the
   part's own metrics once the interval is split, else NULL (the total is the phase's). */
static inline metrics_t *interval_phase_metrics(interval_t *self, int phase_index)
{
    phase_part_t *part = interval_part(self, phase_index);
    return part && self->split ? part->metrics : NULL;
}
/* Where a record of a request of class_index goes besides the total: that class's
   metrics, or NULL when the engine has no classes (class_index -1). */
static inline metrics_t *interval_class_metrics(interval_t *self, int class_index)
{
    return class_index >= 0 && class_index < self->class_count ? self->per_class[class_index]
                                                               : NULL;
}
/* Where a record of a conversation's turn (1-based) goes besides the total: its turn
   bucket (the last one holds every later turn), or NULL for a single-turn request (turn
   0) or an engine without conversations. */
static inline metrics_t *interval_turn_metrics(interval_t *self, int turn)
{
    if (turn <= 0 || self->turn_count <= 0)
        return NULL;
    return self->per_turn[turn <= self->turn_count ? turn - 1 : self->turn_count - 1];
}
/* Arrivals of phase_index that were never sent: scheduled and dropped (never skipped). */
static inline void interval_count_dropped(interval_t *self, int phase_index, int64_t n)
{
    metrics_t *into[2] = {self->total, interval_phase_metrics(self, phase_index)};
    for (int k = 0; k < 2 && into[k]; k++) {
        into[k]->c.scheduled += n;
        into[k]->c.dropped += n;
    }
}
/* The metrics of part i: its own once split, else the total (borrowed). */
const metrics_t *interval_part_metrics(const interval_t *self, int i);
/* Adds other's records into self (the engine's per-interval merge of its threads). */
void interval_add(interval_t *self, const interval_t *other, int target_count);

/* ---- requests (request.c) ------------------------------------------------------- */

typedef struct engine_thread_s engine_thread_t;

typedef struct request_s {
    engine_thread_t *thread; /* borrowed: the owner */
    CURL *easy;
    sse_parser_t *sse;
    buf_t body; /* non-streaming answers only */
    struct request_s *next_free;
    struct request_s *prev_inflight, *next_inflight; /* the thread's in-flight list */

    int target;
    int64_t user;         /* closed-loop user, -1 for open-loop arrivals */
    int64_t index;        /* global arrival index, -1 when closed-loop */
    int class_index;      /* its prompt's class, -1 when the engine has none */
    int phase_index;      /* the phase that sent it: its records count there */
    int64_t phase_end_ns; /* that phase's planned end (for its tail) */
    bool prewarm;         /* a connection warm-up: never recorded */
    bool aborted;
    /* Conversations: the one this turn belongs to (borrowed; the pacer owns it), the
       turn's index (1-based; 0 = a single-turn request), its body (built per turn, the
       buffer reused) and the answer's text as received (reused). */
    struct conversation_s *conv;
    int turn;
    int turns_dropped; /* history turns left out of this turn's body (context cap) */
    buf_t conv_body;
    buf_t answer;

    int64_t t_sched_ns, t_send_ns, t_first_byte_ns, t_first_token_ns, t_prev_content_ns;
    int64_t t_last_byte_ns;
    int64_t chunks, bytes;
    oai_tokens_t tokens;     /* output/input token accounting (common/oai_event.h) */
    int64_t tokens_received; /* output tokens already counted as received */
    long status;
    bool done_seen, finish_seen, stream_error, malformed, body_too_large;
    char group[ENGINE_GROUP_MAX];
} request_t;

request_t *request_new(engine_thread_t *thread);
void request_destroy(request_t **self_p);
/* Sets every option for one transfer (after curl_easy_reset). share: a connection cache
   dedicated to one user, or NULL for the thread's pool. */
void request_prepare(request_t *self, int target, int body_index, CURLSH *share);
/* Classifies, records into the thread's current interval, writes the request record.
   true when the request succeeded. */
bool request_finish(request_t *self, CURLcode result, int64_t now_ns);

/* ---- pacing (pacer.c) ----------------------------------------------------------- */

typedef struct {
    int64_t next_ns;             /* intended send time */
    request_t *request;          /* in flight, or NULL */
    struct conversation_s *conv; /* the conversation the user holds, or NULL; owned */
    int64_t conv_seq;            /* conversations this user started */
    CURLSH *share;               /* connection_per_user */
    int heap_pos;                /* position in the due-heap, -1 when not waiting */
} user_t;

/* Requests one pacer_run hands out before the loop reads the ready sockets (pacer.c says
   why). At ~30 us a send, about half a millisecond of sending between two reads. */
#define PACER_SEND_BUDGET 16
/* Phases whose arrivals one call may drop: the phase being replaced (or halted) and the
   one that replaces it. */
#define PACER_DROPPED_PHASES 2

/* One send that is due: an open-loop arrival (index >= 0), a closed-loop user's send
   (user >= 0), or an open-loop conversation's later turn (both -1). */
typedef struct {
    int64_t t_sched_ns;          /* its intended time: the lag is measured from it */
    int64_t index;               /* global arrival index, -1 otherwise */
    int64_t user;                /* closed-loop user, -1 otherwise */
    CURLSH *share;               /* the user's own connection cache, or NULL */
    struct conversation_s *conv; /* the conversation of this turn, or NULL (the pacer's) */
    bool waits_on_cap; /* refused by the in-flight cap, it waits (a concurrency phase's user)
                          instead of counting as dropped */
} pacer_send_t;

/* What the pacer found due, for the loop to act on: sends to start in order (all of the
   active phase), and arrivals that will never be sent, to count as scheduled and dropped
   (an arrival that cannot be sent is counted, never silently skipped). Caller-provided,
   so pacing allocates nothing. */
typedef struct {
    pacer_send_t sends[PACER_SEND_BUDGET];
    int send_count;
    int phase_index;      /* the phase of the sends: their records count there */
    int64_t phase_end_ns; /* its planned end (for the tail) */
    struct {
        int phase_index;
        int64_t count;
    } dropped[PACER_DROPPED_PHASES];
    int dropped_count;
} pacer_due_t;

/* How a conversation's turn left it: the loop counts the ends. */
typedef enum {
    PACER_CONV_GOES_ON = 0, /* more turns, or cut off by a phase's end or a halt */
    PACER_CONV_COMPLETED,   /* its last turn was answered */
    PACER_CONV_ABANDONED,   /* a turn failed */
} pacer_conv_end_t;

typedef struct {
    /* this thread's place, fixed at pacer_init */
    int thread_index, thread_count;
    const struct conv_shared_s *conv; /* conversations (borrowed), or NULL */
    bool connection_per_user;
    /* the active phase (this thread's share of it) */
    bool active;
    engine_phase_t phase;
    int64_t end_ns;
    /* open loop */
    schedule_t *schedule;
    double seg_from, seg_to;
    bool have_next;
    uint64_t next_index;
    int64_t next_deadline_ns, prev_deadline_ns, last_fire_ns;
    /* closed loop */
    user_t *users;
    int64_t user_capacity, user_count; /* allocated / active in this phase */
    int64_t first_user;                /* global id of users[0] */
    int *heap;                         /* user indices by next_ns */
    int heap_len;
    /* open-loop conversations waiting for their next turn, by next_ns (owned) */
    struct conversation_s **conv_heap;
    int conv_heap_len, conv_heap_cap;
    int64_t conv_open; /* open-loop conversations alive: waiting or a turn in flight */
    /* phase waiting for its t0 */
    bool has_pending;
    engine_phase_t pending;
    uint64_t rng;
} pacer_t;

/* Thread thread_index of thread_count; conv: the engine's conversations or NULL. */
void pacer_init(pacer_t *self, uint64_t seed, int thread_index, int thread_count,
                const struct conv_shared_s *conv, bool connection_per_user);
void pacer_free(pacer_t *self);
/* Takes a phase (activated at its t0, possibly now). */
void pacer_set_phase(pacer_t *self, const engine_phase_t *phase);
/* Ends the current and any pending phase now; arrivals already due but not sent (held
   back by catch-up) are put in due->dropped (due is overwritten; it holds no sends). */
void pacer_halt(pacer_t *self, int64_t now_ns, pacer_due_t *due);
/* Fills due with what is due at now_ns, at most PACER_SEND_BUDGET sends (pacer.c);
   returns the next time something is due: now_ns when the budget ran out, INT64_MAX
   when nothing is. The caller starts every send and reports each with
   pacer_send_result before the next call. */
int64_t pacer_run(pacer_t *self, int64_t now_ns, pacer_due_t *due);
/* What became of a send of due: sent is its request, or NULL when the in-flight cap (or
   memory) refused it and nothing went out. */
void pacer_send_result(pacer_t *self, const pacer_send_t *send, request_t *sent, int64_t now_ns);
/* A closed-loop user's request ended: schedules the user's next send. */
void pacer_user_done(pacer_t *self, int64_t user, int64_t now_ns);
/* A conversation's turn ended (ok: answered in full; its answer is in r->answer):
   records it in the history and schedules the next turn after the think time, or ends the
   conversation; says whether it ended completed or abandoned (for the caller to count
   in r's phase). Before pacer_user_done. */
pacer_conv_end_t pacer_conversation_turn_done(pacer_t *self, request_t *r, bool ok, int64_t now_ns);

/* ---- conversations (conversation.c) ------------------------------------------------ */

typedef struct conv_shared_s conv_shared_t;
typedef struct conversation_s conversation_t;

/* Copies and checks the conversation config; NULL with a reason (or *err empty and NULL
   when conversations are off). */
conv_shared_t *conv_shared_new(const engine_config_t *config, char *err, size_t err_size);
void conv_shared_destroy(conv_shared_t **self_p);
/* A new conversation: id_phase/id_a/id_b name it in requests.jsonl ("P.A" for the arrival
   A of phase P, "P.uU.S" for user U's S-th); `pick` chooses its dataset conversation. */
conversation_t *conversation_new(const conv_shared_t *shared, int phase, int64_t id_a, int64_t id_b,
                                 uint64_t pick);
void conversation_destroy(conversation_t **self_p);
/* Builds the body of the conversation's next turn into out (the one allocation of a
   turn, amortised by out's reuse); returns the turn's index (1-based) and sets
   *dropped to the history turns left out to stay within the context. */
int conversation_next_body(conversation_t *self, buf_t *out, int *dropped);
/* Records the turn just answered (its user text and the answer received). true when the
   conversation has more turns. */
bool conversation_answered(conversation_t *self, const char *answer, size_t answer_len);
/* Think time before the next turn, drawn. */
int64_t conversation_think_ns(conversation_t *self);
int conversation_target(const conversation_t *self); /* -1 until its first turn / none */
void conversation_set_target(conversation_t *self, int target);
bool conversation_affinity(const conv_shared_t *shared);
const char *conversation_id(const conversation_t *self);
int64_t conversation_next_ns(const conversation_t *self);
void conversation_set_next_ns(conversation_t *self, int64_t next_ns);

/* ---- the thread (loop.c) -------------------------------------------------------- */

typedef struct {
    bool has_phase;
    engine_phase_t phase;
    bool halt, abort_inflight, flush, stop;
} mailbox_t;

struct engine_thread_s {
    struct _engine_t *engine; /* borrowed */
    engine_shared_t *shared;  /* borrowed */
    int id;
    pthread_t pthread;
    int epoll_fd, timer_fd, wake_fd;
    int64_t timer_armed_ns;
    CURLM *multi;
    int64_t curl_deadline_ns; /* INT64_MAX: none */
    oai_parser_t *oai;        /* one SSE event at a time (small, always there) */
    oai_parser_t *body_oai;   /* whole non-streaming bodies; NULL until the first one */
    request_t *free_requests;
    request_t *inflight_head;
    int64_t inflight;
    uint64_t body_counter;
    _Atomic bool running; /* a phase is active or pending (engine_status) */
    uint64_t rr_counter, rng;
    pacer_t pacer;
    idle_t idle;    /* poll or sleep (worker/idle.h) */
    uint64_t sends; /* requests handed to curl, ever */

    interval_t *cur; /* being recorded */
    int64_t cur_end_ns;

    /* under engine->lock */
    mailbox_t mailbox;
    uint64_t acked_generation;
    interval_t *closed_head, *closed_tail; /* closed intervals, oldest first */
    interval_t *free_intervals;
    _Atomic int64_t closed_through; /* highest index closed (written by the thread) */
};

struct _engine_t {
    engine_shared_t shared;
    engine_thread_t *threads;
    int thread_count;
    pthread_mutex_t lock;
    pthread_cond_t acked;
    uint64_t generation;
    uint64_t epoch;
    bool has_epoch;
    /* engine_collect */
    int64_t first_index; /* the interval current when the engine started */
    int64_t next_collect_index;
    interval_t *merged;
    engine_phase_part_t *part_views; /* the merged interval's parts, as handed out */
    int part_view_cap;
};

int engine_thread_start(engine_thread_t *self, struct _engine_t *engine, int id, char *err,
                        size_t err_size);
void engine_thread_join(engine_thread_t *self);
/* The interval a request ending now belongs to (rotates first if due). */
interval_t *engine_thread_interval(engine_thread_t *self, int64_t now_ns);
/* Wakes the thread to read its mailbox. */
void engine_thread_wake(engine_thread_t *self);

#endif
