/*  request.c: one request from send to record.

    Timestamps are taken where the bytes arrive: clock_now_ns() at the top of libcurl's
    write callback. An SSE event split across callbacks is re-assembled by the parser
    and carries the time of the callback that completed it; events completed by the
    same callback share its time.

      t_send        the request is handed to curl (curl_multi_add_handle): on a warm
                    keep-alive connection this is the write of the request; a new
                    connection's connect and TLS time is part of the service time
      first token   first event with non-empty content or reasoning
      end           the last byte of the response (the completion message otherwise)

    Hot path: a request_t is reused for thousands of requests (curl_easy_reset keeps the
    connections, which belong to the multi); nothing here allocates per event or per
    token. The only growth is the non-streaming body buffer (reused) and the interval's
    request records; with conversations, a turn's body (built per turn into a reused
    buffer, conversation.c) and its answer's text (reassembled into a reused buffer, up
    to ENGINE_CONV_MAX_ANSWER_BYTES).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>

#include "common/clock.h"
#include "common/jsonw.h"
#include "worker/engine_private.h"

/* A conversation keeps at most this much of one answer as history: a hostile or runaway
   server cannot grow a conversation without bound (an answer of 32,768 tokens is
   ~128 KiB). */
#define ENGINE_CONV_MAX_ANSWER_BYTES (256 * 1024)

static void easy_configure(request_t *self);

/* ---- parsed request URLs -----------------------------------------------------------

   Handing libcurl a parsed URL (CURLOPT_CURLU) instead of a string saves it parsing and
   re-serialising the URL on every transfer: ~12,000 instructions per request
   (bench/bench_engine_cost.sh). libcurl only reads the handle, and only while a transfer
   starts; each engine thread keeps its own, parsed on first use and freed when the
   thread exits (a thread key's destructor: the thread is the only one to use them). */

typedef struct {
    const targets_t *targets; /* the engine the thread serves */
    CURLU *urls[ENGINE_MAX_TARGETS];
} url_cache_t;

static pthread_key_t url_cache_key;
static pthread_once_t url_cache_once = PTHREAD_ONCE_INIT;
static bool url_cache_ok;

static void url_cache_free(void *arg)
{
    url_cache_t *cache = arg;
    for (int i = 0; i < ENGINE_MAX_TARGETS; i++)
        curl_url_cleanup(cache->urls[i]);
    free(cache);
}

static void url_cache_init(void)
{
    url_cache_ok = pthread_key_create(&url_cache_key, url_cache_free) == 0;
}

/* The calling thread's parsed request URL of a target, or NULL (then the string is
   used). */
static CURLU *request_url(const targets_t *targets, int target)
{
    pthread_once(&url_cache_once, url_cache_init);
    if (!url_cache_ok)
        return NULL;
    url_cache_t *cache = pthread_getspecific(url_cache_key);
    if (!cache) {
        cache = calloc(1, sizeof *cache);
        if (!cache || pthread_setspecific(url_cache_key, cache) != 0) {
            free(cache);
            return NULL;
        }
    }
    if (cache->targets != targets) { /* never, while an engine thread serves one engine */
        for (int i = 0; i < ENGINE_MAX_TARGETS; i++)
            curl_url_cleanup(cache->urls[i]);
        memset(cache->urls, 0, sizeof cache->urls);
        cache->targets = targets;
    }
    if (!cache->urls[target]) {
        CURLU *u = curl_url();
        if (u && curl_url_set(u, CURLUPART_URL, targets->request_urls[target], 0) != CURLUE_OK) {
            curl_url_cleanup(u);
            u = NULL;
        }
        cache->urls[target] = u;
    }
    return cache->urls[target];
}

request_t *request_new(engine_thread_t *thread)
{
    request_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->thread = thread;
    self->easy = curl_easy_init();
    self->sse = sse_parser_new(thread->shared->max_event_bytes);
    buf_init(&self->body);
    buf_init(&self->conv_body);
    buf_init(&self->answer);
    if (!self->easy || !self->sse) {
        request_destroy(&self);
        return NULL;
    }
    easy_configure(self);
    return self;
}

void request_destroy(request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    request_t *self = *self_p;
    if (self->easy) {
        /* the parsed URL may be freed already (its thread exited) */
        curl_easy_setopt(self->easy, CURLOPT_CURLU, (CURLU *)NULL);
        curl_easy_cleanup(self->easy);
    }
    sse_parser_destroy(&self->sse);
    buf_free(&self->body);
    buf_free(&self->conv_body);
    buf_free(&self->answer);
    free(self);
    *self_p = NULL;
}

/* ---- streaming measurement ------------------------------------------------------ */

/* A conversation's answer, as received: the event's content text unescaped onto the
   request's (reused) answer buffer, up to ENGINE_CONV_MAX_ANSWER_BYTES. */
static void answer_append(request_t *self, const oai_event_t *ev)
{
    if (self->answer.len + ev->content_json_len > ENGINE_CONV_MAX_ANSWER_BYTES)
        return;
    char *at = buf_reserve(&self->answer, ev->content_json_len + 1);
    self->answer.len += oai_json_unescape(ev->content_json, ev->content_json_len, at);
}

static int on_event(void *arg, const sse_event_t *event)
{
    request_t *self = arg;
    oai_event_t ev;
    self->chunks++;
    oai_event_kind_t kind = oai_parser_parse(self->thread->oai, event->data, event->data_len, &ev);
    int64_t now = self->t_last_byte_ns; /* the time of the callback completing the event */
    switch (kind) {
    case OAI_EVENT_DONE:
        self->done_seen = true;
        return 0;
    case OAI_EVENT_ERROR:
        self->stream_error = true;
        return 0;
    case OAI_EVENT_MALFORMED:
        self->malformed = true;
        return 0;
    case OAI_EVENT_CHUNK:
    default:
        break;
    }
    if (self->conv && ev.content_json)
        answer_append(self, &ev);
    bool first = self->tokens.content_events == 0;
    int64_t carried = oai_tokens_add(&self->tokens, &ev);
    if (carried > 0) {
        /* Throughput counts tokens in the interval they arrive in (metrics.h). */
        interval_t *iv = engine_thread_interval(self->thread, now);
        self->tokens_received += carried;
        iv->total->c.output_tokens_received += carried;
        iv->per_target[self->target]->c.output_tokens_received += carried;
        metrics_t *cls = interval_class_metrics(iv, self->class_index);
        if (cls)
            cls->c.output_tokens_received += carried;
        metrics_t *turn = interval_turn_metrics(iv, self->turn);
        if (turn)
            turn->c.output_tokens_received += carried;
    }
    if (oai_event_has_output(&ev)) {
        if (first) {
            self->t_first_token_ns = now;
        } else {
            /* ITL: every gap between consecutive content events (vLLM's definition),
               recorded when the gap ends, in the phase that sent the request. */
            interval_t *iv = engine_thread_interval(self->thread, now);
            int64_t gap_us = (now - self->t_prev_content_ns) / NS_PER_US;
            metrics_t *into[5] = {iv->total, iv->per_target[self->target],
                                  interval_phase_metrics(iv, self->phase_index),
                                  interval_class_metrics(iv, self->class_index),
                                  interval_turn_metrics(iv, self->turn)};
            for (int k = 0; k < 5; k++) {
                if (into[k])
                    metrics_record_us(into[k], METRIC_ITL, gap_us);
            }
        }
        self->t_prev_content_ns = now;
    }
    if (ev.finish_reason[0])
        self->finish_seen = true;
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    request_t *self = arg;
    size_t n = size * nmemb;
    int64_t now = clock_now_ns();
    if (self->t_first_byte_ns == 0) {
        self->t_first_byte_ns = now;
        curl_easy_getinfo(self->easy, CURLINFO_RESPONSE_CODE, &self->status);
    }
    self->t_last_byte_ns = now;
    self->bytes += (int64_t)n;
    if (self->prewarm || self->status < 200 || self->status > 299)
        return n; /* counted, not parsed: the status code classifies it */
    if (self->thread->shared->stream) {
        if (sse_parser_feed(self->sse, data, n, on_event, self) == SSE_ERR_OVERSIZE)
            self->malformed = true;
        return n;
    }
    if (self->body.len + n > ENGINE_MAX_BODY_BYTES) {
        self->body_too_large = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    buf_append(&self->body, data, n);
    return n;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    request_t *self = arg;
    size_t n = size * nmemb;
    const engine_shared_t *shared = self->thread->shared;
    size_t name_len = shared->capture_header_len;
    if (name_len && n > name_len && line[name_len] == ':' &&
        strncasecmp(line, shared->capture_header, name_len) == 0) {
        const char *v = line + name_len + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t len = (size_t)(end - v);
        if (len >= sizeof self->group)
            len = sizeof self->group - 1;
        memcpy(self->group, v, len);
        self->group[len] = '\0';
    }
    return n;
}

/* Every connection the engine opens closes with a reset (SO_LINGER 0), not a FIN. A request
   the engine gave up on (halted when the coordinator is lost, timed out) may still sit in
   the socket's send queue; a plain close would let the kernel keep retransmitting it, so a
   fenced worker's request could reach the server seconds later, after a link comes back.
   A reset discards it. TCP_NODELAY is set by CURLOPT_TCP_NODELAY. */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    (void)arg;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        struct linger reset_on_close = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
    }
    return CURL_SOCKOPT_OK;
}

/* The options that are the same for every transfer of this engine, set once per easy
   handle: curl_easy_reset and ~15 setopts per request cost ~4,000 instructions
   (bench/bench_engine_cost.sh); request_prepare sets only what changes. */
static void easy_configure(request_t *self)
{
    const engine_shared_t *shared = self->thread->shared;
    CURL *e = self->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, self);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)ENGINE_RECV_BUFFER_BYTES);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, self);
    if (shared->capture_header) {
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, self);
    }
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* Targets are contacted directly: a proxy from http_proxy/https_proxy in the
       environment would add its own latency to every timing (docs/worker.md). */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (shared->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)shared->timeout_ms);
    if (shared->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, shared->ca_file);
    if (shared->insecure_tls) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void request_prepare(request_t *self, int target, int body_index, CURLSH *share)
{
    const engine_shared_t *shared = self->thread->shared;
    const targets_t *targets = &shared->targets;
    CURL *e = self->easy;

    self->target = target;
    self->t_first_byte_ns = self->t_first_token_ns = self->t_prev_content_ns = 0;
    self->t_last_byte_ns = 0;
    self->chunks = self->bytes = 0;
    oai_tokens_reset(&self->tokens);
    self->tokens_received = 0;
    self->status = 0;
    self->done_seen = self->finish_seen = self->stream_error = self->malformed = false;
    self->body_too_large = self->aborted = false;
    self->group[0] = '\0';
    sse_parser_reset(self->sse);
    buf_clear(&self->body);
    buf_clear(&self->answer);

    /* Everything a previous transfer of this handle may have set differently. */
    if (self->prewarm) {
        curl_easy_setopt(e, CURLOPT_CURLU, (CURLU *)NULL);
        curl_easy_setopt(e, CURLOPT_URL, targets->models_urls[target]);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        CURLU *url = request_url(targets, target);
        curl_easy_setopt(e, CURLOPT_CURLU, url); /* takes precedence over CURLOPT_URL */
        if (!url)
            curl_easy_setopt(e, CURLOPT_URL, targets->request_urls[target]);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, targets->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, targets->bodies[body_index]);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)targets->body_lens[body_index]);
    }
    curl_easy_setopt(e, CURLOPT_SHARE, share);
}

/* ---- classification ------------------------------------------------------------- */

static int class_of_status(long status)
{
    if (status == 429)
        return ERR_HTTP_429;
    if (status >= 400 && status <= 499)
        return ERR_HTTP_4XX;
    if (status >= 500 && status <= 599)
        return ERR_HTTP_5XX;
    if (status < 200 || status > 299)
        return ERR_OTHER;
    return -1;
}

/* What went wrong inside a 2xx answer, or -1. */
static int class_of_content(request_t *self, bool complete)
{
    if (self->stream_error)
        return ERR_STREAM_ERROR;
    if (self->malformed)
        return ERR_MALFORMED;
    if (!self->thread->shared->stream)
        return complete ? -1 : ERR_TRUNCATED;
    int partial = sse_parser_finish(self->sse);
    if (self->chunks == 0 && self->bytes > 0)
        return ERR_MALFORMED; /* a 200 whose body holds no event at all is not SSE */
    if (!complete || partial || !(self->done_seen || self->finish_seen))
        return ERR_TRUNCATED;
    return -1;
}

/* The thread's parser for whole bodies, made on first use: a thread that only streams
   never pays for it. */
static oai_parser_t *body_parser(engine_thread_t *thread)
{
    if (!thread->body_oai)
        thread->body_oai = oai_parser_new(ENGINE_BODY_MAX_JSON_TOKENS);
    return thread->body_oai;
}

static void parse_body(request_t *self)
{
    oai_parser_t *parser = body_parser(self->thread);
    if (!parser) {
        self->malformed = true; /* no memory to read it: never counted as a success */
        return;
    }
    oai_event_t ev;
    oai_event_kind_t kind =
        oai_parser_parse(parser, self->body.data ? self->body.data : "", self->body.len, &ev);
    if (kind == OAI_EVENT_ERROR) {
        self->stream_error = true;
    } else if (kind != OAI_EVENT_CHUNK) {
        self->malformed = true;
    } else {
        if (self->conv && ev.content_json)
            answer_append(self, &ev);
        oai_tokens_add(&self->tokens, &ev);
        if (ev.finish_reason[0])
            self->finish_seen = true;
    }
}

static int classify(request_t *self, CURLcode result)
{
    if (self->aborted)
        return ERR_ABORTED;
    if (self->body_too_large)
        return ERR_MALFORMED;
    switch (result) {
    case CURLE_OK: {
        int c = class_of_status(self->status);
        if (c >= 0)
            return c;
        if (!self->thread->shared->stream)
            parse_body(self);
        return class_of_content(self, true);
    }
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
        return ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return ERR_TLS;
    case CURLE_OPERATION_TIMEDOUT:
        return ERR_TIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY: {
        /* The connection broke: an error status still says what the server meant. */
        int c = self->status ? class_of_status(self->status) : -1;
        if (c >= 0)
            return c;
        if (result == CURLE_WEIRD_SERVER_REPLY)
            return ERR_MALFORMED;
        c = self->status ? class_of_content(self, false) : -1;
        return c >= 0 ? c : ERR_TRUNCATED;
    }
    default:
        return ERR_OTHER;
    }
}

/* ---- recording ------------------------------------------------------------------ */

static double ms_of(int64_t ns)
{
    return (double)ns / 1e6;
}

/* What request_finish worked out once, for the metrics and the record. */
typedef struct {
    int error; /* error_class_t, or -1 */
    int64_t end_ns;
    int64_t output_tokens, input_tokens;
    bool estimated; /* output_tokens counted from events: the server gave no usage */
    bool has_first_token;
} outcome_t;

static void write_record(const request_t *self, interval_t *iv, const outcome_t *o)
{
    const engine_shared_t *shared = self->thread->shared;
    jsonw_t w;
    jsonw_init(&w, &iv->jsonl);
    jsonw_object_begin(&w);
    jsonw_kv_double(&w, "t_sched_s", (double)(self->t_sched_ns - shared->run_t0_ns) / 1e9);
    jsonw_kv_double(&w, "t_send_s", (double)(self->t_send_ns - shared->run_t0_ns) / 1e9);
    jsonw_kv_int(&w, "index", self->index);
    jsonw_kv_int(&w, "phase", self->phase_index);
    jsonw_kv_int(&w, "target", self->target);
    jsonw_key(&w, "class"); /* the prompt's class in the workload mix (results.json classes) */
    self->class_index >= 0 ? jsonw_int(&w, self->class_index) : jsonw_null(&w);
    jsonw_kv_int(&w, "status", self->status);
    if (o->error >= 0)
        jsonw_kv_string(&w, "error", error_class_name((error_class_t)o->error));
    else {
        jsonw_key(&w, "error");
        jsonw_null(&w);
    }
    bool has_ttft = o->has_first_token && shared->stream;
    jsonw_key(&w, "ttft_ms");
    has_ttft ? jsonw_double(&w, ms_of(self->t_first_token_ns - self->t_send_ns)) : jsonw_null(&w);
    jsonw_key(&w, "ttft_sched_ms");
    has_ttft ? jsonw_double(&w, ms_of(self->t_first_token_ns - self->t_sched_ns)) : jsonw_null(&w);
    jsonw_kv_double(&w, "e2e_ms", ms_of(o->end_ns - self->t_send_ns));
    jsonw_kv_double(&w, "response_ms", ms_of(o->end_ns - self->t_sched_ns));
    jsonw_kv_double(&w, "lag_ms", ms_of(self->t_send_ns - self->t_sched_ns));
    jsonw_kv_int(&w, "output_tokens", o->output_tokens);
    jsonw_kv_int(&w, "input_tokens", o->input_tokens);
    jsonw_kv_bool(&w, "tokens_estimated", o->estimated);
    jsonw_kv_int(&w, "chunks", self->chunks);
    jsonw_key(&w, "group");
    self->group[0] ? jsonw_string(&w, self->group) : jsonw_null(&w);
    if (self->turn > 0) { /* a conversation's turn (docs/results.md) */
        jsonw_kv_string(&w, "conversation", conversation_id(self->conv));
        jsonw_kv_int(&w, "turn", self->turn);
        jsonw_kv_int(&w, "history_dropped", self->turns_dropped);
    }
    jsonw_object_end(&w);
    buf_append_char(&iv->jsonl, '\n');
}

static void record_ok(request_t *self, metrics_t *m, const outcome_t *o)
{
    const engine_shared_t *shared = self->thread->shared;
    int64_t output_tokens = o->output_tokens;
    int64_t e2e_ns = o->end_ns - self->t_send_ns;
    metrics_record_us(m, METRIC_E2E, e2e_ns / NS_PER_US);
    metrics_record_us(m, METRIC_RESPONSE, (o->end_ns - self->t_sched_ns) / NS_PER_US);
    bool slo = true;
    if (shared->stream && o->has_first_token) {
        int64_t ttft_ns = self->t_first_token_ns - self->t_send_ns;
        metrics_record_us(m, METRIC_TTFT, ttft_ns / NS_PER_US);
        metrics_record_us(m, METRIC_TTFT_SCHED,
                          (self->t_first_token_ns - self->t_sched_ns) / NS_PER_US);
        if (shared->slo_ttft_ms > 0 && ms_of(ttft_ns) > shared->slo_ttft_ms)
            slo = false;
        if (output_tokens > 1) {
            int64_t tpot_ns = (e2e_ns - ttft_ns) / (output_tokens - 1);
            metrics_record_us(m, METRIC_TPOT, tpot_ns / NS_PER_US);
            if (shared->slo_tpot_ms > 0 && ms_of(tpot_ns) > shared->slo_tpot_ms)
                slo = false;
        }
    } else if (shared->slo_ttft_ms > 0 || shared->slo_tpot_ms > 0) {
        slo = false; /* no first token to judge: not good */
    }
    if (shared->slo_e2e_ms > 0 && ms_of(e2e_ns) > shared->slo_e2e_ms)
        slo = false;
    m->c.ok++;
    m->c.output_tokens += output_tokens;
    m->c.input_tokens += o->input_tokens;
    if (o->estimated)
        m->c.tokens_estimated++;
    if (slo)
        m->c.slo_ok++;
}

bool request_finish(request_t *self, CURLcode result, int64_t now_ns)
{
    outcome_t o;
    o.error = classify(self, result);
    o.end_ns = self->t_last_byte_ns ? self->t_last_byte_ns : now_ns;
    /* One rule for token counts, common/oai_event.h: server usage, else one per event
       with output, flagged as estimated. */
    o.output_tokens = oai_tokens_output(&self->tokens, &o.estimated);
    o.input_tokens = self->tokens.usage_prompt_tokens >= 0 ? self->tokens.usage_prompt_tokens : 0;
    o.has_first_token = self->tokens.content_events > 0;

    interval_t *iv = engine_thread_interval(self->thread, now_ns);
    /* Tokens the server's final count says arrived and no event counted yet (usage at
       the end of a stream, a whole non-streaming answer) arrive now. */
    if (o.output_tokens > self->tokens_received) {
        int64_t rest = o.output_tokens - self->tokens_received;
        iv->total->c.output_tokens_received += rest;
        iv->per_target[self->target]->c.output_tokens_received += rest;
        metrics_t *cls = interval_class_metrics(iv, self->class_index);
        if (cls)
            cls->c.output_tokens_received += rest;
        metrics_t *turn = interval_turn_metrics(iv, self->turn);
        if (turn)
            turn->c.output_tokens_received += rest;
    }
    phase_part_t *part = interval_part(iv, self->phase_index);
    if (part && o.end_ns > self->phase_end_ns) {
        part->tail_requests++;
        if (o.end_ns - self->phase_end_ns > part->tail_max_ns)
            part->tail_max_ns = o.end_ns - self->phase_end_ns;
    }
    metrics_t *into[5] = {
        iv->total, iv->per_target[self->target], part && iv->split ? part->metrics : NULL,
        interval_class_metrics(iv, self->class_index), interval_turn_metrics(iv, self->turn)};
    for (int k = 0; k < 5; k++) {
        metrics_t *m = into[k];
        if (!m)
            continue;
        m->c.bytes_in += self->bytes;
        if (o.error >= 0)
            metrics_count_error(m, (error_class_t)o.error);
        else
            record_ok(self, m, &o);
    }
    if (self->thread->shared->record_requests)
        write_record(self, iv, &o);
    return o.error < 0;
}
