/*  preflight.c: each target answers and serves the model, before any load (preflight.h).

    Not a hot path: a handful of requests per run, in a thread of their own, with plain
    curl easy handles. The requests are the load's own (targets_init builds them from the
    same config: URL, headers, API key, extra body), made small: one prompt, max_tokens 1,
    not streamed, so the answer is one JSON document whose error text can be quoted.
*/
#include "worker/preflight.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/engine_private.h"

#define PREFLIGHT_MAX_BODY_BYTES (64 << 10) /* an error page or a model list */
#define PREFLIGHT_QUOTE_CHARS    300        /* how much of a server's answer a reason quotes */
#define PREFLIGHT_CONNECT_MS     5000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

struct preflight_s {
    targets_t targets;
    char *model;
    char *ca_file;
    bool insecure_tls;
    int64_t timeout_ms;
    pthread_t thread;
    bool started;
    atomic_bool cancel;
    atomic_int result; /* 0 running, 1 passed, -1 failed */
    char why[1024];    /* written by the thread before result is set */
};

typedef struct {
    long status;
    CURLcode code;
    char curl_error[CURL_ERROR_SIZE];
    buf_t body;
} answer_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    buf_t *body = arg;
    size_t len = size * n;
    if (body->len + len <= PREFLIGHT_MAX_BODY_BYTES)
        buf_append(body, data, len);
    return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const preflight_t *self = arg;
    return atomic_load(&self->cancel) ? 1 : 0; /* non-zero aborts the transfer */
}

/* One request; body NULL for a GET. */
static void ask(preflight_t *self, const char *url, const char *body, size_t body_len,
                answer_t *answer)
{
    memset(answer, 0, sizeof *answer);
    buf_init(&answer->body);
    CURL *e = curl_easy_init();
    if (!e) {
        answer->code = CURLE_OUT_OF_MEMORY;
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, self->targets.headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(self->timeout_ms < PREFLIGHT_CONNECT_MS ? self->timeout_ms : PREFLIGHT_CONNECT_MS));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)self->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &answer->body);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, self);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, answer->curl_error);
    if (self->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, self->ca_file);
    if (self->insecure_tls) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    answer->code = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &answer->status);
    curl_easy_cleanup(e);
}

/* The server's own words: error.message, message, detail or error (OpenAI, vLLM, TGI,
   FastAPI shapes), else the start of the body, on one line. */
static void server_words(const buf_t *body, char *out, size_t size)
{
    const char *text = NULL;
    json_t *doc = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    if (json_is_object(doc)) {
        json_t *error = json_object_get(doc, "error");
        json_t *candidates[] = {json_is_object(error) ? json_object_get(error, "message") : NULL,
                                json_object_get(doc, "message"), json_object_get(doc, "detail"),
                                error};
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !text; i++) {
            if (json_is_string(candidates[i]))
                text = json_string_value(candidates[i]);
        }
    }
    if (!text)
        text = body->len ? body->data : "(empty answer)";
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < size && n < PREFLIGHT_QUOTE_CHARS; p++)
        out[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    out[n] = '\0';
    json_decref(doc);
}

static void fail_with(preflight_t *self, int target, const char *detail)
{
    snprintf(self->why, sizeof self->why, "preflight: target %d %.200s: %.780s", target,
             self->targets.base_urls[target], detail);
}

/* The transport failed: no status to read. */
static void fail_transport(preflight_t *self, int target, const answer_t *a)
{
    char detail[400];
    if (a->code == CURLE_OPERATION_TIMEDOUT)
        snprintf(detail, sizeof detail, "no answer within %lld ms", (long long)self->timeout_ms);
    else
        snprintf(detail, sizeof detail, "%s%s%s", curl_easy_strerror(a->code),
                 a->curl_error[0] ? ": " : "", a->curl_error);
    fail_with(self, target, detail);
}

/* 1 when the server lists the model (it answers and serves it: nothing more to ask); 0
   when that is not settled (no list, or a list without the model, which `listed` then
   names): the small request decides; -1 when the server cannot be reached or refuses us
   (reason set). */
static int check_models(preflight_t *self, int target, char *listed, size_t listed_size)
{
    answer_t a;
    ask(self, self->targets.models_urls[target], NULL, 0, &a);
    int rc = 0;
    if (a.code != CURLE_OK) {
        fail_transport(self, target, &a);
        rc = -1;
    } else if (a.status == 401 || a.status == 403) {
        char words[PREFLIGHT_QUOTE_CHARS + 1], detail[400];
        server_words(&a.body, words, sizeof words);
        snprintf(detail, sizeof detail, "GET /v1/models: HTTP %ld: %s", a.status, words);
        fail_with(self, target, detail);
        rc = -1;
    } else if (a.status == 200) {
        json_t *doc = json_loadb(a.body.data, a.body.len, 0, NULL);
        json_t *data = json_is_object(doc) ? json_object_get(doc, "data") : NULL;
        if (json_is_array(data) && json_array_size(data) > 0) {
            bool served = false;
            size_t used = 0;
            size_t i;
            json_t *item;
            json_array_foreach(data, i, item)
            {
                const char *id = json_string_value(json_object_get(item, "id"));
                if (!id)
                    continue;
                served = served || strcmp(id, self->model) == 0;
                if (used < listed_size - 1)
                    used += (size_t)snprintf(listed + used, listed_size - used, "%s%s",
                                             used ? ", " : "", id);
            }
            if (served) {
                listed[0] = '\0';
                rc = 1;
            }
        }
        json_decref(doc);
    }
    buf_free(&a.body);
    return rc;
}

static int check_request(preflight_t *self, int target, const char *listed)
{
    answer_t a;
    ask(self, self->targets.request_urls[target], self->targets.bodies[0],
        self->targets.body_lens[0], &a);
    int rc = 0;
    if (a.code != CURLE_OK) {
        fail_transport(self, target, &a);
        rc = -1;
    } else if (a.status < 200 || a.status >= 300) {
        char words[PREFLIGHT_QUOTE_CHARS + 1], detail[800];
        server_words(&a.body, words, sizeof words);
        const char *path = strstr(self->targets.request_urls[target], "/v1/");
        snprintf(detail, sizeof detail, "POST %s (model `%.100s`): HTTP %ld: %s%s%.300s%s",
                 path ? path : "/v1/...", self->model, a.status, words,
                 *listed ? " (GET /v1/models lists: " : "", listed, *listed ? ")" : "");
        fail_with(self, target, detail);
        rc = -1;
    }
    buf_free(&a.body);
    return rc;
}

static void *preflight_thread(void *arg)
{
    preflight_t *self = arg;
    int result = 1;
    for (int i = 0; i < self->targets.count && result > 0; i++) {
        char listed[400] = "";
        int listed_rc = check_models(self, i, listed, sizeof listed);
        if (listed_rc < 0 || (listed_rc == 0 && check_request(self, i, listed) != 0))
            result = -1;
        if (atomic_load(&self->cancel) && result > 0) {
            snprintf(self->why, sizeof self->why, "preflight: cancelled");
            result = -1;
        }
    }
    atomic_store(&self->result, result);
    return NULL;
}

preflight_t *preflight_start(const engine_config_t *config, int64_t timeout_ms, char *err,
                             size_t err_size)
{
    pthread_once(&curl_once, curl_init_once);
    preflight_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "preflight: out of memory");
        return NULL;
    }
    /* The load's request, made small: one short prompt, one token, one JSON answer. */
    static const char *const hello[] = {"Hi"};
    engine_config_t small = *config;
    small.prompts = hello;
    small.prompt_count = 1;
    small.prompt_max_tokens = NULL;
    small.max_tokens = 1;
    small.ignore_eos = false;
    small.stream = false;
    small.include_usage = false;
    small.continuous_usage_stats = false;
    if (targets_init(&self->targets, &small, err, err_size) != 0) {
        free(self);
        return NULL;
    }
    self->model = strdup(config->model ? config->model : "");
    self->ca_file = config->ca_file ? strdup(config->ca_file) : NULL;
    self->insecure_tls = config->insecure_tls;
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    if (pthread_create(&self->thread, NULL, preflight_thread, self) != 0) {
        snprintf(err, err_size, "preflight: cannot start a thread");
        preflight_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

int preflight_poll(preflight_t *self, char *why, size_t why_size)
{
    int result = atomic_load(&self->result);
    if (result < 0)
        snprintf(why, why_size, "%s", self->why);
    return result;
}

void preflight_destroy(preflight_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    preflight_t *self = *self_p;
    if (self->started) {
        atomic_store(&self->cancel, true);
        pthread_join(self->thread, NULL);
    }
    targets_free(&self->targets);
    free(self->model);
    free(self->ca_file);
    free(self);
    *self_p = NULL;
}
