/*  sim_http.c: the simulator's HTTP front end (libevent evhttp) and its event loop.

    One thread, one event_base. Each replica has a step timer: a step is begun on the
    engine (which says how long it takes), and when the timer fires the step ends and its
    tokens are written to their streams. Steps run back to back on absolute times (the
    next starts when the previous was due to end) so simulated time keeps pace with the
    wall clock even when a timer fires a little late.

    Request lifetime: a request that enters an engine gets a sim_request_t and a close
    callback on its connection. It leaves in exactly one of three ways: its last token
    (reply ends, close callback cleared), its client going away or a fault cutting the
    connection (close callback: abort in the engine), or the server being torn down.
    When libevent detaches a request from a connection that died (client EOF) the request
    becomes ours to free; when the connection is freed with the request attached
    (evhttp_connection_free, evhttp_free) libevent frees it.

    Hot path (token delivery): one JSON chunk written into a reused buffer, no allocation
    per token beyond what evbuffer does to queue bytes.
*/
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "simulator/sim.h"
#include "simulator/sim_engine.h"
#include "simulator/sim_faults.h"
#include "simulator/sim_metrics.h"
#include "simulator/sim_text.h"

#define FAULT_TICK_MS     20              /* how often fault windows are checked (down, stall) */
#define STEP_CATCH_UP_NS  (2 * NS_PER_MS) /* later than this, a step starts "now" */
#define HTTP_TIMEOUT_S    600             /* idle keep-alive and stalled streams live this long */
#define MAX_HEADERS_BYTES 65536
/* evhttp refuses bodies over its own limit while reading them, with an HTML 413 of its
   own. So evhttp gets a looser ceiling and the handler enforces --max-body-bytes with a
   vLLM-style JSON 413; only a body over the ceiling gets libevent's answer. */
#define BODY_CEILING_FACTOR     4
#define BODY_CEILING_MIN_BYTES  (64 << 20)
#define MAX_PROMPT_BLOCK_HASHES 8192
#define MAX_TOKENIZE_IDS        1000000

typedef struct _sim_request_t sim_request_t;

typedef struct {
    sim_server_t *server;
    int index;
    sim_engine_t *engine;
    struct event *step_timer;
    bool stepping;
    int64_t step_end_ns; /* when the step under way (or the last one) ends */
} replica_t;

struct _sim_request_t {
    sim_request_t *prev, *next; /* server->requests */
    sim_server_t *server;
    replica_t *replica;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    sim_seq_t *seq;
    bool chat, stream, include_usage, continuous_usage;
    bool drop_decided, drop_armed, drop_pending;
    sim_request_t *next_drop;
    char id[48];
    int64_t created_s;
    int prompt_tokens;
    int max_tokens;
    int output_tokens;
    int64_t arrival_ns, admit_ns, first_token_ns, last_token_ns;
    uint64_t word_rng;
    buf_t text; /* non-stream: the completion so far */
};

struct _sim_server_t {
    sim_config_t cfg;
    char host[256];
    char model[256];
    int port;
    struct event_base *base;
    struct evhttp *http;
    bool down;
    replica_t *replicas;
    int replica_count;
    sim_metrics_t *metrics;
    sim_faults_t faults;
    struct event *fault_tick;
    struct event *sigint_event, *sigterm_event;
    uint64_t request_rng;    /* request ids, output lengths, word streams */
    uint64_t fault_rng;      /* fault draws, kept apart so faults never change the output */
    sim_request_t *requests; /* every request inside an engine */
    sim_request_t *drops;    /* connections to cut once the current step is delivered */
    int64_t step_now_ns;     /* time of the step being begun or delivered */
    buf_t scratch;           /* a chunk or a body being built */
    struct evbuffer *chunk;
};

static void server_http_start(sim_server_t *self, char *err, size_t err_size);

/* ---- small helpers ------------------------------------------------------------- */

static void send_json(sim_server_t *self, struct evhttp_request *req, int status,
                      const char *reason, const char *body, size_t len)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "application/json");
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
    sim_metrics_count_status(self->metrics, status);
}

static const char *status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static const char *error_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequestError";
    case 403:
        return "PermissionDeniedError";
    case 404:
        return "NotFoundError";
    case 405:
        return "MethodNotAllowed";
    case 413:
        return "RequestEntityTooLarge";
    case 429:
        return "RateLimitError";
    case 503:
        return "ServiceUnavailableError";
    default:
        return "InternalServerError";
    }
}

/* vLLM's error body: {"error": {"message", "type", "param", "code"}}. */
static void send_error(sim_server_t *self, struct evhttp_request *req, int status, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static void send_error(sim_server_t *self, struct evhttp_request *req, int status, const char *fmt,
                       ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    buf_t body;
    buf_init(&body);
    jsonw_t w;
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    jsonw_key(&w, "error");
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "message", message);
    jsonw_kv_string(&w, "type", error_type(status));
    jsonw_key(&w, "param");
    jsonw_null(&w);
    jsonw_kv_int(&w, "code", status);
    jsonw_object_end(&w);
    jsonw_object_end(&w);
    send_json(self, req, status, status_reason(status), body.data, body.len);
    buf_free(&body);
}

static bool peer_is_loopback(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon)
        return false;
    char *address = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &address, &port);
    if (!address)
        return false;
    return strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0 ||
           strncmp(address, "::ffff:127.", 11) == 0;
}

/* The request body parsed as a JSON object, or NULL after answering 400 (malformed JSON,
   with where; or valid JSON that is not an object). The caller owns the result. */
static json_t *body_json_object(sim_server_t *self, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    buf_clear(&self->scratch);
    char *dst = buf_reserve(&self->scratch, len);
    evbuffer_copyout(in, dst, len);
    self->scratch.len = len;
    dst[len] = '\0';
    json_error_t jerr;
    json_t *root = json_loadb(self->scratch.data, self->scratch.len, 0, &jerr);
    if (json_is_object(root))
        return root;
    if (root)
        send_error(self, req, 400, "The request body must be a JSON object.");
    else
        send_error(self, req, 400, "Malformed JSON at line %d, column %d: %s", jerr.line,
                   jerr.column, jerr.text);
    json_decref(root);
    return NULL;
}

/* ---- requests inside engines --------------------------------------------------- */

static void request_unlink_and_free(sim_request_t *r)
{
    sim_server_t *self = r->server;
    if (r->prev)
        r->prev->next = r->next;
    else
        self->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    buf_free(&r->text);
    free(r);
}

/* The connection closed under a request: the client left, a fault cut it, or the
   server is shutting down. */
static void request_connection_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    sim_request_t *r = arg;
    sim_server_t *self = r->server;
    if (r->seq)
        sim_engine_abort(r->replica->engine, r->seq);
    r->seq = NULL;
    sim_metrics_count_end(self->metrics, SIM_END_ABORT);
    /* Detached (client EOF): the request is ours to free. Attached: libevent frees it
       together with the connection right after this callback. */
    if (evhttp_request_get_connection(r->req) == NULL)
        evhttp_request_free(r->req);
    if (r->drop_pending) {
        /* It was queued to be dropped: take it off that list. */
        sim_request_t **p = &self->drops;
        while (*p && *p != r)
            p = &(*p)->next_drop;
        if (*p)
            *p = r->next_drop;
    }
    request_unlink_and_free(r);
}

static void write_usage(jsonw_t *w, int prompt_tokens, int completion_tokens)
{
    jsonw_key(w, "usage");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "prompt_tokens", prompt_tokens);
    jsonw_kv_int(w, "total_tokens", prompt_tokens + completion_tokens);
    jsonw_kv_int(w, "completion_tokens", completion_tokens);
    jsonw_object_end(w);
}

static void write_chunk_head(sim_request_t *r, jsonw_t *w)
{
    jsonw_object_begin(w);
    jsonw_kv_string(w, "id", r->id);
    jsonw_kv_string(w, "object", r->chat ? "chat.completion.chunk" : "text_completion");
    jsonw_kv_int(w, "created", r->created_s);
    jsonw_kv_string(w, "model", r->server->model);
}

static const char *finish_reason(const sim_request_t *r)
{
    return r->output_tokens >= r->max_tokens ? "length" : "stop";
}

/* One SSE event carrying a choice: the role opener (chat, before the first token), or a
   token (finished: with finish_reason). */
static void append_choice_event(sim_request_t *r, buf_t *out, const char *word, bool role,
                                int completion_tokens, bool finished)
{
    buf_append_str(out, "data: ");
    jsonw_t w;
    jsonw_init(&w, out);
    write_chunk_head(r, &w);
    jsonw_key(&w, "choices");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "index", 0);
    if (r->chat) {
        jsonw_key(&w, "delta");
        jsonw_object_begin(&w);
        if (role)
            jsonw_kv_string(&w, "role", "assistant");
        jsonw_kv_string(&w, "content", role ? "" : word);
        jsonw_object_end(&w);
    } else {
        jsonw_kv_string(&w, "text", word);
    }
    jsonw_key(&w, "logprobs");
    jsonw_null(&w);
    jsonw_key(&w, "finish_reason");
    if (finished)
        jsonw_string(&w, finish_reason(r));
    else
        jsonw_null(&w);
    jsonw_key(&w, "stop_reason");
    jsonw_null(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
    if (r->continuous_usage)
        write_usage(&w, r->prompt_tokens, completion_tokens);
    jsonw_object_end(&w);
    buf_append_str(out, "\n\n");
}

static void append_final_events(sim_request_t *r, buf_t *out)
{
    if (r->include_usage) {
        buf_append_str(out, "data: ");
        jsonw_t w;
        jsonw_init(&w, out);
        write_chunk_head(r, &w);
        jsonw_key(&w, "choices");
        jsonw_array_begin(&w);
        jsonw_array_end(&w);
        write_usage(&w, r->prompt_tokens, r->output_tokens);
        jsonw_object_end(&w);
        buf_append_str(out, "\n\n");
    }
    buf_append_str(out, "data: [DONE]\n\n");
}

static void send_full_response(sim_request_t *r)
{
    sim_server_t *self = r->server;
    buf_t *out = &self->scratch;
    buf_clear(out);
    jsonw_t w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "id", r->id);
    jsonw_kv_string(&w, "object", r->chat ? "chat.completion" : "text_completion");
    jsonw_kv_int(&w, "created", r->created_s);
    jsonw_kv_string(&w, "model", self->model);
    jsonw_key(&w, "choices");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "index", 0);
    if (r->chat) {
        jsonw_key(&w, "message");
        jsonw_object_begin(&w);
        jsonw_kv_string(&w, "role", "assistant");
        jsonw_key(&w, "content");
        jsonw_string_len(&w, r->text.data ? r->text.data : "", r->text.len);
        jsonw_key(&w, "tool_calls");
        jsonw_array_begin(&w);
        jsonw_array_end(&w);
        jsonw_object_end(&w);
    } else {
        jsonw_key(&w, "text");
        jsonw_string_len(&w, r->text.data ? r->text.data : "", r->text.len);
    }
    jsonw_key(&w, "logprobs");
    jsonw_null(&w);
    jsonw_kv_string(&w, "finish_reason", finish_reason(r));
    jsonw_key(&w, "stop_reason");
    jsonw_null(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
    write_usage(&w, r->prompt_tokens, r->output_tokens);
    jsonw_object_end(&w);
    send_json(self, r->req, 200, "OK", out->data, out->len);
}

/* ---- engine callbacks ---------------------------------------------------------- */

static void on_admit(void *user, void *arg)
{
    (void)arg;
    sim_request_t *r = user;
    if (!r->admit_ns) {
        r->admit_ns = r->server->step_now_ns;
        sim_metrics_observe(r->server->metrics, SIM_HIST_QUEUE,
                            (double)(r->admit_ns - r->arrival_ns) / NS_PER_S);
    }
}

static void maybe_schedule_drop(sim_request_t *r, int token_index)
{
    sim_server_t *self = r->server;
    if (r->drop_decided ||
        !sim_faults_active(&self->faults, SIM_FAULT_DROP_MID_STREAM, self->step_now_ns))
        return;
    /* Mid-stream: the connection is cut when the next token is due, so the client has
       seen a 200 and data (this token has had a loop turn to reach the socket). */
    if (token_index < 1)
        return;
    r->drop_decided = true;
    sim_fault_state_t *fault = sim_faults_get(&self->faults, SIM_FAULT_DROP_MID_STREAM);
    if (rng_unit_positive(&self->fault_rng) > fault->fraction)
        return;
    fault->hits_total++;
    r->drop_armed = true;
}

static void on_token(void *user, int index, bool finished, void *arg)
{
    (void)arg;
    sim_request_t *r = user;
    sim_server_t *self = r->server;
    int64_t now = self->step_now_ns;
    if (finished)
        r->seq = NULL;   /* the engine has let go of it */
    if (r->drop_armed) { /* cut after this step, in server_process_drops; nothing more */
        if (!r->drop_pending) {
            r->drop_pending = true;
            r->next_drop = self->drops;
            self->drops = r;
        }
        return;
    }
    if (index == 1) {
        r->first_token_ns = now;
        sim_metrics_observe(self->metrics, SIM_HIST_TTFT, (double)(now - r->arrival_ns) / NS_PER_S);
    } else {
        sim_metrics_observe(self->metrics, SIM_HIST_ITL,
                            (double)(now - r->last_token_ns) / NS_PER_S);
    }
    r->last_token_ns = now;
    const char *word = sim_word(rng_next(&r->word_rng));

    if (r->stream) {
        buf_t *out = &self->scratch;
        buf_clear(out);
        if (r->chat && index == 1)
            append_choice_event(r, out, "", true, 0, false);
        append_choice_event(r, out, word, false, index, finished);
        if (finished)
            append_final_events(r, out);
        evbuffer_add(self->chunk, out->data, out->len);
        evhttp_send_reply_chunk(r->req, self->chunk);
        evbuffer_drain(self->chunk, evbuffer_get_length(self->chunk)); /* if not taken */
    } else {
        buf_append_str(&r->text, word);
    }
    if (!finished) {
        maybe_schedule_drop(r, index);
        return;
    }

    double e2e_s = (double)(now - r->arrival_ns) / NS_PER_S;
    sim_metrics_observe(self->metrics, SIM_HIST_E2E, e2e_s);
    if (r->output_tokens > 1)
        sim_metrics_observe(self->metrics, SIM_HIST_TPOT,
                            (double)(now - r->first_token_ns) / NS_PER_S / (r->output_tokens - 1));
    sim_metrics_count_end(self->metrics,
                          r->output_tokens >= r->max_tokens ? SIM_END_LENGTH : SIM_END_STOP);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (r->stream) {
        evhttp_send_reply_end(r->req);
        sim_metrics_count_status(self->metrics, 200);
    } else {
        send_full_response(r);
    }
    request_unlink_and_free(r);
}

/* Cuts the connections a drop_mid_stream fault picked during the step just delivered.
   Freeing the connection runs its close callback, which aborts and frees the request. */
static void server_process_drops(sim_server_t *self)
{
    while (self->drops) {
        sim_request_t *r = self->drops;
        self->drops = r->next_drop;
        r->drop_pending = false;
        struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
        if (evcon)
            evhttp_connection_free(evcon);
        else
            request_connection_closed(NULL, r);
    }
}

/* ---- stepping ------------------------------------------------------------------ */

static void replica_kick(replica_t *rep)
{
    sim_server_t *self = rep->server;
    if (rep->stepping || !sim_engine_has_work(rep->engine))
        return;
    int64_t now = clock_now_ns();
    if (sim_faults_active(&self->faults, SIM_FAULT_STALL, now))
        return; /* the fault tick kicks us again when the stall ends */
    int64_t start =
        rep->step_end_ns && now - rep->step_end_ns < STEP_CATCH_UP_NS ? rep->step_end_ns : now;
    self->step_now_ns = start;
    int64_t step_ns = sim_engine_step_begin(rep->engine);
    if (step_ns < 0)
        return;
    if (sim_faults_active(&self->faults, SIM_FAULT_SLOW, now)) {
        sim_fault_state_t *slow = sim_faults_get(&self->faults, SIM_FAULT_SLOW);
        step_ns = (int64_t)((double)step_ns * slow->factor);
        slow->hits_total++;
    }
    rep->stepping = true;
    rep->step_end_ns = start + step_ns;
    int64_t wait_ns = rep->step_end_ns - now;
    if (wait_ns < 0)
        wait_ns = 0;
    struct timeval tv = {.tv_sec = wait_ns / NS_PER_S, .tv_usec = (wait_ns % NS_PER_S) / 1000};
    evtimer_add(rep->step_timer, &tv);
}

static void replica_step_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    replica_t *rep = arg;
    sim_server_t *self = rep->server;
    rep->stepping = false;
    self->step_now_ns = clock_now_ns();
    sim_engine_step_end(rep->engine);
    server_process_drops(self);
    replica_kick(rep);
}

static void server_kick_all(sim_server_t *self)
{
    for (int i = 0; i < self->replica_count; i++)
        replica_kick(&self->replicas[i]);
}

/* ---- API routes ---------------------------------------------------------------- */

/* The least loaded replica (running + waiting), lowest index on ties: deterministic. */
static replica_t *pick_replica(sim_server_t *self)
{
    replica_t *best = &self->replicas[0];
    int best_load = -1;
    for (int i = 0; i < self->replica_count; i++) {
        sim_engine_stats_t st;
        sim_engine_stats(self->replicas[i].engine, &st);
        int load = st.running + st.waiting;
        if (best_load < 0 || load < best_load) {
            best = &self->replicas[i];
            best_load = load;
        }
    }
    return best;
}

typedef struct {
    bool chat;
    const char *text; /* the prompt text (completions) or NULL */
    size_t text_len;
    int prompt_tokens;
    buf_t joined;               /* chat: the messages' text, for /tokenize's ids */
    sim_block_hasher_t *blocks; /* prefix caching: the prompt's tokens go here; or NULL */
} prompt_t;

static void prompt_push(prompt_t *p, uint64_t token)
{
    if (p->blocks)
        sim_block_hasher_push(p->blocks, token);
}

static void prompt_push_text(prompt_t *p, const char *text, size_t len)
{
    if (p->blocks)
        sim_block_hasher_push_text(p->blocks, text, len);
}

static void prompt_end_text(prompt_t *p)
{
    if (p->blocks)
        sim_block_hasher_end_text(p->blocks);
}

static void prompt_message_begin(prompt_t *p, const char *role)
{
    if (p->blocks)
        sim_block_hasher_message_begin(p->blocks, role);
}

static void prompt_message_end(prompt_t *p)
{
    if (p->blocks)
        sim_block_hasher_message_end(p->blocks);
}

/* Reads `prompt` (completions) or `messages` (chat) and counts tokens (sim_text.h); with
   p->blocks, pushes the same tokens there, in order, for the prefix cache's hashes.
   Returns 0, or -1 after answering 400. */
static int read_prompt(sim_server_t *self, struct evhttp_request *req, json_t *root, bool chat,
                       prompt_t *p)
{
    p->chat = chat;
    if (!chat) {
        json_t *prompt = json_object_get(root, "prompt");
        if (json_is_array(prompt) && json_array_size(prompt) == 1 &&
            json_is_string(json_array_get(prompt, 0)))
            prompt = json_array_get(prompt, 0);
        if (json_is_string(prompt)) {
            p->text = json_string_value(prompt);
            p->text_len = json_string_length(prompt);
            p->prompt_tokens = 1 + sim_text_tokens(p->text_len);
            prompt_push(p, SIM_TOKEN_BOS);
            prompt_push_text(p, p->text, p->text_len);
            prompt_end_text(p);
            return 0;
        }
        if (json_is_array(prompt) && json_array_size(prompt) > 0) {
            size_t i;
            json_t *id;
            json_array_foreach(prompt, i, id)
            {
                if (!json_is_integer(id) || json_integer_value(id) < 0) {
                    send_error(self, req, 400,
                               "prompt must be a string, an array of one string, or an array "
                               "of token ids (surge sim serves one prompt per request)");
                    return -1;
                }
                prompt_push(p, (uint64_t)json_integer_value(id));
            }
            p->prompt_tokens = (int)json_array_size(prompt);
            return 0;
        }
        send_error(self, req, 400,
                   prompt ? "prompt must be a string, an array of one string, or an array of "
                            "token ids (surge sim serves one prompt per request)"
                          : "Field required: prompt");
        return -1;
    }
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        send_error(self, req, 400, "messages must be a non-empty array");
        return -1;
    }
    int tokens = 1 + SIM_TEXT_CHAT_TAIL_TOKENS;
    prompt_push(p, SIM_TOKEN_BOS);
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg)
    {
        json_t *role = json_object_get(msg, "role");
        json_t *content = json_object_get(msg, "content");
        if (!json_is_object(msg) || !json_is_string(role)) {
            send_error(self, req, 400, "messages[%zu] must be an object with a string role", i);
            return -1;
        }
        size_t bytes = 0;
        buf_append_str(&p->joined, json_string_value(role));
        prompt_message_begin(p, json_string_value(role));
        if (json_is_string(content)) {
            bytes = json_string_length(content);
            buf_append(&p->joined, json_string_value(content), bytes);
            prompt_push_text(p, json_string_value(content), bytes);
        } else if (json_is_array(content)) {
            size_t k;
            json_t *part;
            json_array_foreach(content, k, part)
            {
                json_t *text = json_object_get(part, "text");
                if (!json_is_object(part) || !json_is_string(text)) {
                    send_error(self, req, 400,
                               "messages[%zu].content[%zu]: surge sim takes text parts only", i, k);
                    return -1;
                }
                bytes += json_string_length(text);
                buf_append(&p->joined, json_string_value(text), json_string_length(text));
                prompt_push_text(p, json_string_value(text), json_string_length(text));
            }
        } else if (content && !json_is_null(content)) {
            send_error(self, req, 400,
                       "messages[%zu].content must be a string, an array of "
                       "text parts, or null",
                       i);
            return -1;
        }
        prompt_message_end(p);
        tokens += SIM_TEXT_CHAT_MSG_TOKENS + sim_text_tokens(bytes);
    }
    if (p->blocks)
        sim_block_hasher_assistant_header(p->blocks); /* the header the answer follows */
    p->prompt_tokens = tokens;
    p->text = p->joined.data;
    p->text_len = p->joined.len;
    return 0;
}

/* Checks the "model" field. Returns 0, or -1 after answering 404. */
static int check_model(sim_server_t *self, struct evhttp_request *req, json_t *root)
{
    json_t *model = json_object_get(root, "model");
    if (!model || json_is_null(model))
        return 0; /* vLLM serves its one model when none is named */
    if (!json_is_string(model) || strcmp(json_string_value(model), self->model) != 0) {
        send_error(self, req, 404, "The model `%s` does not exist.",
                   json_is_string(model) ? json_string_value(model) : "(not a string)");
        return -1;
    }
    return 0;
}

static bool is_optional_bool(json_t *v)
{
    return !v || json_is_null(v) || json_is_boolean(v);
}

static void handle_generate(sim_server_t *self, struct evhttp_request *req, bool chat)
{
    int64_t now = clock_now_ns();
    if (sim_faults_active(&self->faults, SIM_FAULT_UNAVAILABLE, now)) {
        sim_faults_get(&self->faults, SIM_FAULT_UNAVAILABLE)->hits_total++;
        send_error(self, req, 503, "The engine is unavailable (injected fault).");
        return;
    }
    if (sim_faults_active(&self->faults, SIM_FAULT_ERROR_RATE, now)) {
        sim_fault_state_t *fault = sim_faults_get(&self->faults, SIM_FAULT_ERROR_RATE);
        if (rng_unit_positive(&self->fault_rng) <= fault->fraction) {
            fault->hits_total++;
            send_error(self, req, 500, "Internal server error (injected fault).");
            return;
        }
    }
    json_t *root = body_json_object(self, req);
    if (!root)
        return;
    prompt_t prompt = {0};
    buf_init(&prompt.joined);
    /* Room for 131072 tokens (the largest preset's context) at block size 16; blocks past
       it are never cached. */
    uint64_t hashes[MAX_PROMPT_BLOCK_HASHES];
    sim_block_hasher_t blocks;
    sim_block_hasher_init(&blocks, self->cfg.profile->block_size_tokens, hashes,
                          MAX_PROMPT_BLOCK_HASHES);
    if (self->cfg.prefix_caching)
        prompt.blocks = &blocks;
    if (check_model(self, req, root) != 0 || read_prompt(self, req, root, chat, &prompt) != 0)
        goto done;

    json_t *stream = json_object_get(root, "stream");
    json_t *ignore_eos = json_object_get(root, "ignore_eos");
    json_t *options = json_object_get(root, "stream_options");
    json_t *n = json_object_get(root, "n");
    if (!is_optional_bool(stream) || !is_optional_bool(ignore_eos)) {
        send_error(self, req, 400, "stream and ignore_eos must be booleans");
        goto done;
    }
    if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1)) {
        send_error(self, req, 400, "n must be 1 (surge sim generates one choice)");
        goto done;
    }
    json_t *temperature = json_object_get(root, "temperature");
    if (temperature && !json_is_null(temperature) &&
        !(json_is_number(temperature) && json_number_value(temperature) >= 0)) {
        send_error(self, req, 400, "temperature must be a number >= 0");
        goto done;
    }
    bool streaming = json_is_true(stream);
    bool include_usage = false, continuous = false;
    if (options && !json_is_null(options)) {
        if (!streaming) {
            send_error(self, req, 400, "Stream options can only be defined when `stream=True`.");
            goto done;
        }
        json_t *iu = json_object_get(options, "include_usage");
        json_t *cu = json_object_get(options, "continuous_usage_stats");
        if (!json_is_object(options) || !is_optional_bool(iu) || !is_optional_bool(cu)) {
            send_error(self, req, 400, "stream_options must be an object of booleans");
            goto done;
        }
        include_usage = json_is_true(iu);
        continuous = include_usage && json_is_true(cu); /* as vLLM: needs include_usage */
    }
    const sim_profile_t *profile = self->cfg.profile;
    json_t *max_tokens_json = json_object_get(root, chat ? "max_completion_tokens" : "max_tokens");
    if (chat && (!max_tokens_json || json_is_null(max_tokens_json)))
        max_tokens_json = json_object_get(root, "max_tokens");
    int64_t max_tokens;
    if (!max_tokens_json || json_is_null(max_tokens_json)) {
        /* vLLM's defaults: 16 for completions, the rest of the context for chat. */
        max_tokens = chat ? profile->max_model_len - prompt.prompt_tokens : 16;
    } else if (!json_is_integer(max_tokens_json) || json_integer_value(max_tokens_json) < 1) {
        send_error(self, req, 400, "max_tokens must be an integer >= 1");
        goto done;
    } else {
        max_tokens = json_integer_value(max_tokens_json);
    }
    if (max_tokens < 1 || (int64_t)prompt.prompt_tokens + max_tokens > profile->max_model_len) {
        send_error(self, req, 400,
                   "This model's maximum context length is %d tokens. However, you requested "
                   "%lld tokens (%d in the messages, %lld in the completion). Please reduce the "
                   "length of the messages or completion.",
                   profile->max_model_len, (long long)(prompt.prompt_tokens + max_tokens),
                   prompt.prompt_tokens, (long long)max_tokens);
        goto done;
    }

    replica_t *rep = pick_replica(self);
    if (self->cfg.max_queue > 0) {
        sim_engine_stats_t st;
        sim_engine_stats(rep->engine, &st);
        if (st.waiting >= self->cfg.max_queue) {
            send_error(self, req, self->cfg.queue_full_status,
                       "The server is overloaded: %d requests are waiting.", st.waiting);
            goto done;
        }
    }

    sim_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        send_error(self, req, 500, "out of memory");
        goto done;
    }
    r->server = self;
    r->replica = rep;
    r->req = req;
    r->chat = chat;
    r->stream = streaming;
    r->include_usage = include_usage;
    r->continuous_usage = continuous;
    r->prompt_tokens = prompt.prompt_tokens;
    r->max_tokens = (int)max_tokens;
    r->arrival_ns = now;
    r->created_s = (int64_t)time(NULL);
    buf_init(&r->text);
    uint64_t id_bits = rng_next(&self->request_rng);
    r->word_rng = rng_next(&self->request_rng);
    uint64_t length_draw = rng_next(&self->request_rng);
    snprintf(r->id, sizeof r->id, "%s-%016llx%016llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)id_bits, (unsigned long long)r->word_rng);
    if (json_is_true(ignore_eos)) {
        r->output_tokens = r->max_tokens;
    } else {
        /* Exponential around the profile's mean: most answers short, a long tail. */
        uint64_t state = length_draw;
        double draw = -log(rng_unit_positive(&state)) * profile->output_mean_tokens;
        int64_t len = (int64_t)ceil(draw);
        if (len < 1)
            len = 1;
        r->output_tokens = len < max_tokens ? (int)len : (int)max_tokens;
    }
    if (prompt.blocks) {
        /* The answer's tokens too (the words on_token will draw, one token each), so that
           the next turn, which resends it, finds its blocks cached. */
        uint64_t words = r->word_rng;
        for (int i = 0; i < r->output_tokens && blocks.count < blocks.max; i++) {
            const char *word = sim_word(rng_next(&words));
            prompt_push_text(&prompt, word, strlen(word));
            prompt_end_text(&prompt);
        }
    }
    r->seq =
        sim_engine_submit(rep->engine, r, r->prompt_tokens, r->output_tokens, hashes, blocks.count);
    if (!r->seq) {
        buf_free(&r->text);
        free(r);
        send_error(self, req, 400, "The request does not fit the KV cache of this model.");
        goto done;
    }
    r->next = self->requests;
    if (self->requests)
        self->requests->prev = r;
    self->requests = r;
    r->evcon = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(r->evcon, request_connection_closed, r);
    if (streaming) {
        struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
        evhttp_add_header(headers, "Content-Type", "text/event-stream; charset=utf-8");
        evhttp_add_header(headers, "Cache-Control", "no-cache");
        evhttp_send_reply_start(req, 200, "OK");
    }
    replica_kick(rep);
done:
    buf_free(&prompt.joined);
    json_decref(root);
}

static void handle_tokenize(sim_server_t *self, struct evhttp_request *req)
{
    json_t *root = body_json_object(self, req);
    if (!root)
        return;
    prompt_t prompt = {0};
    buf_init(&prompt.joined);
    bool chat = json_object_get(root, "messages") != NULL;
    if (check_model(self, req, root) == 0 && read_prompt(self, req, root, chat, &prompt) == 0) {
        buf_t *out = &self->scratch;
        buf_clear(out);
        jsonw_t w;
        jsonw_init(&w, out);
        jsonw_object_begin(&w);
        jsonw_kv_int(&w, "count", prompt.prompt_tokens);
        jsonw_kv_int(&w, "max_model_len", self->cfg.profile->max_model_len);
        jsonw_key(&w, "tokens");
        jsonw_array_begin(&w);
        /* Token ids: BOS, then one per 4 bytes of text (or the ids given). */
        json_t *given = json_object_get(root, "prompt");
        if (!chat && json_is_array(given) && !json_is_string(json_array_get(given, 0))) {
            size_t i;
            json_t *id;
            json_array_foreach(given, i, id) jsonw_int(&w, json_integer_value(id));
        } else {
            jsonw_int(&w, 128000);
            int count = prompt.prompt_tokens - 1;
            for (int i = 0; i < count && i < MAX_TOKENIZE_IDS; i++) {
                size_t at = (size_t)i * SIM_TEXT_BYTES_PER_TOKEN;
                int32_t id = 0;
                if (prompt.text && at < prompt.text_len) {
                    size_t n = prompt.text_len - at;
                    sim_text_token_ids(prompt.text + at, n < 4 ? n : 4, &id, 1);
                } else {
                    id = 128006 + (i % 4); /* template tokens of chat */
                }
                jsonw_int(&w, id);
            }
        }
        jsonw_array_end(&w);
        jsonw_object_end(&w);
        /* scratch holds the output now; the request body is no longer needed */
        send_json(self, req, 200, "OK", out->data, out->len);
    }
    buf_free(&prompt.joined);
    json_decref(root);
}

static void handle_models(sim_server_t *self, struct evhttp_request *req)
{
    buf_t *out = &self->scratch;
    buf_clear(out);
    jsonw_t w;
    jsonw_init(&w, out);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "object", "list");
    jsonw_key(&w, "data");
    jsonw_array_begin(&w);
    jsonw_object_begin(&w);
    jsonw_kv_string(&w, "id", self->model);
    jsonw_kv_string(&w, "object", "model");
    jsonw_kv_int(&w, "created", (int64_t)time(NULL));
    jsonw_kv_string(&w, "owned_by", "vllm");
    jsonw_kv_string(&w, "root", self->model);
    jsonw_key(&w, "parent");
    jsonw_null(&w);
    jsonw_kv_int(&w, "max_model_len", self->cfg.profile->max_model_len);
    jsonw_key(&w, "permission");
    jsonw_array_begin(&w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    jsonw_array_end(&w);
    jsonw_object_end(&w);
    send_json(self, req, 200, "OK", out->data, out->len);
}

static void handle_metrics(sim_server_t *self, struct evhttp_request *req)
{
    sim_engine_stats_t *stats = calloc((size_t)self->replica_count, sizeof *stats);
    if (!stats) {
        send_error(self, req, 500, "out of memory");
        return;
    }
    for (int i = 0; i < self->replica_count; i++)
        sim_engine_stats(self->replicas[i].engine, &stats[i]);
    buf_t *out = &self->scratch;
    buf_clear(out);
    sim_metrics_render(self->metrics, out, self->model, stats, self->replica_count, &self->faults,
                       clock_now_ns());
    free(stats);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, out->data, out->len);
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
    sim_metrics_count_status(self->metrics, 200);
}

/* ---- admin: faults ------------------------------------------------------------- */

static void send_faults(sim_server_t *self, struct evhttp_request *req)
{
    buf_t *out = &self->scratch;
    buf_clear(out);
    jsonw_t w;
    jsonw_init(&w, out);
    sim_faults_write_json(&self->faults, &w, clock_now_ns());
    send_json(self, req, 200, "OK", out->data, out->len);
}

static void handle_fault_post(sim_server_t *self, struct evhttp_request *req)
{
    json_t *root = body_json_object(self, req);
    if (!root)
        return;
    sim_fault_spec_t spec;
    char err[256];
    if (sim_fault_spec_from_json(root, &spec, err, sizeof err) != 0) {
        send_error(self, req, 400, "%s", err);
    } else if (sim_faults_set(&self->faults, &spec, clock_now_ns(), err, sizeof err) != 0) {
        send_error(self, req, 400, "%s", err);
    } else {
        log_info("fault %s set: start in %.3f s, duration %.3f s, factor %g, fraction %g",
                 sim_fault_kind_name(spec.kind), spec.start_s, spec.duration_s, spec.factor,
                 spec.fraction);
        send_faults(self, req);
    }
    json_decref(root);
}

static void handle_fault_delete(sim_server_t *self, struct evhttp_request *req)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    int kind = -1;
    if (query) {
        struct evkeyvalq params;
        evhttp_parse_query_str(query, &params);
        const char *name = evhttp_find_header(&params, "kind");
        sim_fault_kind_t k = SIM_FAULT_KIND_COUNT;
        bool bad = name && sim_fault_kind_parse(name, &k) != 0;
        if (bad)
            send_error(self, req, 400, "unknown fault kind '%s'", name);
        evhttp_clear_headers(&params); /* name points into params: used above only */
        if (bad)
            return;
        if (k != SIM_FAULT_KIND_COUNT)
            kind = (int)k;
    }
    sim_faults_clear(&self->faults, kind);
    server_kick_all(self); /* a cleared stall lets the engines go on */
    send_faults(self, req);
}

/* ---- dispatch ------------------------------------------------------------------ */

static void handle_request(struct evhttp_request *req, void *arg)
{
    sim_server_t *self = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
    bool post = method == EVHTTP_REQ_POST;
    int64_t now = clock_now_ns();

    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > self->cfg.max_body_bytes) {
        send_error(self, req, 413, "The request body is larger than %zu bytes.",
                   self->cfg.max_body_bytes);
        return;
    }
    if (strcmp(path, "/v1/completions") == 0 || strcmp(path, "/v1/chat/completions") == 0) {
        if (!post)
            send_error(self, req, 405, "Method Not Allowed");
        else
            handle_generate(self, req, path[4] == 'c' && path[5] == 'h');
    } else if (strcmp(path, "/v1/models") == 0 && get) {
        handle_models(self, req);
    } else if (strcmp(path, "/health") == 0 && get) {
        if (sim_faults_active(&self->faults, SIM_FAULT_UNAVAILABLE, now))
            send_error(self, req, 503, "The engine is unavailable (injected fault).");
        else
            send_json(self, req, 200, "OK", "", 0);
    } else if (strcmp(path, "/metrics") == 0 && get) {
        handle_metrics(self, req);
    } else if (strcmp(path, "/tokenize") == 0 && post) {
        handle_tokenize(self, req);
    } else if (strcmp(path, "/version") == 0 && get) {
        static const char body[] = "{\"version\":\"surge-sim " SURGE_VERSION "\"}";
        send_json(self, req, 200, "OK", body, sizeof body - 1);
    } else if (strncmp(path, "/admin/", 7) == 0) {
        if (!peer_is_loopback(req))
            send_error(self, req, 403, "The admin endpoint answers loopback clients only.");
        else if (strcmp(path, "/admin/fault") == 0 && post)
            handle_fault_post(self, req);
        else if (strcmp(path, "/admin/fault") == 0 && method == EVHTTP_REQ_DELETE)
            handle_fault_delete(self, req);
        else if (strcmp(path, "/admin/faults") == 0 && get)
            send_faults(self, req);
        else
            send_error(self, req, 404, "Not Found: %s", path);
    } else {
        send_error(self, req, 404, "Not Found: %s", path);
    }
}

/* ---- faults that act on the loop: down and stall ------------------------------- */

static void server_http_stop(sim_server_t *self)
{
    if (!self->http)
        return;
    /* Frees every connection: close callbacks abort their requests. */
    evhttp_free(self->http);
    self->http = NULL;
}

static void fault_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sim_server_t *self = arg;
    int64_t now = clock_now_ns();
    bool want_down = sim_faults_active(&self->faults, SIM_FAULT_DOWN, now);
    if (want_down && !self->down) {
        log_warn("fault down: closing the listening socket and every connection");
        server_http_stop(self);
        self->down = true;
    } else if (!want_down && self->down) {
        char err[256];
        server_http_start(self, err, sizeof err);
        if (self->http) {
            log_info("fault down over: listening again on %s:%d", self->host, self->port);
            self->down = false;
        } else {
            log_warn("fault down over but cannot listen again yet: %s", err);
        }
    }
    if (sim_faults_active(&self->faults, SIM_FAULT_STALL, now))
        sim_faults_get(&self->faults, SIM_FAULT_STALL)->hits_total++;
    else
        server_kick_all(self);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sim_server_stop(arg);
}

/* ---- lifecycle ----------------------------------------------------------------- */

void sim_config_defaults(sim_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->profile = sim_profile_find("tiny");
    cfg->seed = 1;
    cfg->replicas = 1;
    cfg->queue_full_status = 429;
    cfg->max_body_bytes = 8 << 20;
}

static void server_http_start(sim_server_t *self, char *err, size_t err_size)
{
    struct evhttp *http = evhttp_new(self->base);
    if (!http) {
        snprintf(err, err_size, "evhttp_new failed");
        return;
    }
    size_t ceiling = self->cfg.max_body_bytes * BODY_CEILING_FACTOR;
    if (ceiling < BODY_CEILING_MIN_BYTES)
        ceiling = BODY_CEILING_MIN_BYTES;
    evhttp_set_max_body_size(http, (ev_ssize_t)ceiling);
    evhttp_set_max_headers_size(http, MAX_HEADERS_BYTES);
    evhttp_set_timeout(http, HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http, handle_request, self);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(http, self->host, (ev_uint16_t)self->port);
    if (!bound) {
        snprintf(err, err_size, "cannot listen on %s:%d (address in use or invalid)", self->host,
                 self->port);
        evhttp_free(http);
        return;
    }
    /* Accepted connections inherit it: without it the first token waits ~40 ms behind the
       response headers (Nagle's algorithm against the client's delayed ACK), and every
       client would read a TTFT 40 ms longer than the engine's. */
    int nodelay = 1;
    setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &nodelay,
               sizeof nodelay);
    if (self->port == 0) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&addr, &len) == 0)
            self->port =
                ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                 : ((struct sockaddr_in *)&addr)->sin_port);
    }
    self->http = http;
}

sim_server_t *sim_server_new(const sim_config_t *cfg, char *err, size_t err_size)
{
    if (!cfg->profile) {
        snprintf(err, err_size, "no profile");
        return NULL;
    }
    if (cfg->replicas < 1 || cfg->replicas > 4096) {
        snprintf(err, err_size, "--replicas must be in [1, 4096], got %d", cfg->replicas);
        return NULL;
    }
    if (cfg->queue_full_status != 429 && cfg->queue_full_status != 503) {
        snprintf(err, err_size, "--queue-full-status must be 429 or 503, got %d",
                 cfg->queue_full_status);
        return NULL;
    }
    sim_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    snprintf(self->host, sizeof self->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    snprintf(self->model, sizeof self->model, "%s", cfg->model ? cfg->model : cfg->profile->model);
    self->cfg.host = self->host;
    self->cfg.model = self->model;
    self->port = cfg->port;
    self->request_rng = cfg->seed;
    self->fault_rng = cfg->seed ^ 0x5eed5eed5eed5eedULL;
    buf_init(&self->scratch);
    sim_faults_init(&self->faults);
    self->base = event_base_new();
    self->metrics = sim_metrics_new();
    self->chunk = evbuffer_new();
    self->replicas = calloc((size_t)cfg->replicas, sizeof *self->replicas);
    if (!self->base || !self->metrics || !self->chunk || !self->replicas) {
        snprintf(err, err_size, "out of memory");
        sim_server_destroy(&self);
        return NULL;
    }
    self->replica_count = cfg->replicas;
    sim_engine_callbacks_t callbacks = {.on_token = on_token, .on_admit = on_admit};
    for (int i = 0; i < cfg->replicas; i++) {
        replica_t *rep = &self->replicas[i];
        rep->server = self;
        rep->index = i;
        rep->engine = sim_engine_new(cfg->profile, cfg->prefix_caching, callbacks);
        rep->step_timer = evtimer_new(self->base, replica_step_done, rep);
        if (!rep->engine || !rep->step_timer) {
            snprintf(err, err_size, "out of memory building replica %d", i);
            sim_server_destroy(&self);
            return NULL;
        }
    }
    int64_t now = clock_now_ns();
    for (int i = 0; i < cfg->fault_count; i++) {
        if (sim_faults_set(&self->faults, &cfg->faults[i], now, err, err_size) != 0) {
            sim_server_destroy(&self);
            return NULL;
        }
    }
    server_http_start(self, err, err_size);
    if (!self->http) {
        sim_server_destroy(&self);
        return NULL;
    }
    self->fault_tick = event_new(self->base, -1, EV_PERSIST, fault_tick, self);
    struct timeval tick = {.tv_sec = 0, .tv_usec = FAULT_TICK_MS * 1000};
    event_add(self->fault_tick, &tick);
    if (cfg->handle_signals) {
        self->sigint_event = evsignal_new(self->base, SIGINT, on_signal, self);
        self->sigterm_event = evsignal_new(self->base, SIGTERM, on_signal, self);
        event_add(self->sigint_event, NULL);
        event_add(self->sigterm_event, NULL);
        signal(SIGPIPE, SIG_IGN);
    }
    return self;
}

int sim_server_port(const sim_server_t *self)
{
    return self->port;
}

int sim_server_run(sim_server_t *self)
{
    /* Startup faults may begin immediately (down at t=0 included). */
    fault_tick(-1, 0, self);
    return event_base_dispatch(self->base) < 0 ? -1 : 0;
}

void sim_server_stop(sim_server_t *self)
{
    event_base_loopbreak(self->base);
}

void sim_server_destroy(sim_server_t **self_p)
{
    sim_server_t *self = *self_p;
    if (!self)
        return;
    server_http_stop(self);  /* aborts every request: their close callbacks run */
    while (self->requests) { /* none expected; never touch a request libevent may own */
        sim_request_t *r = self->requests;
        if (r->seq)
            sim_engine_abort(r->replica->engine, r->seq);
        request_unlink_and_free(r);
    }
    for (int i = 0; self->replicas && i < self->replica_count; i++) {
        if (self->replicas[i].step_timer)
            event_free(self->replicas[i].step_timer);
        sim_engine_destroy(&self->replicas[i].engine);
    }
    free(self->replicas);
    if (self->fault_tick)
        event_free(self->fault_tick);
    if (self->sigint_event)
        event_free(self->sigint_event);
    if (self->sigterm_event)
        event_free(self->sigterm_event);
    if (self->chunk)
        evbuffer_free(self->chunk);
    sim_metrics_destroy(&self->metrics);
    if (self->base)
        event_base_free(self->base);
    buf_free(&self->scratch);
    free(self);
    *self_p = NULL;
}
