/*  target.c: the targets of a run, what is sent to them, and which one gets a request.

    Everything here is built once in engine_new: request URLs, one JSON body per prompt
    (with the extra body fields merged in), the header list (with the API key). The
    hot path only picks a target and points libcurl at prebuilt bytes.

    The API key is read here and goes nowhere but the Authorization header: never into
    a log line, an error message or a request record.
*/
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/rng.h"
#include "common/url.h"
#include "worker/engine_private.h"

/* Reads the key from the environment or a file; "" when none is configured. The
   caller wipes and frees it. Errors name the variable or the file, never the key. */
static int api_key_read(const engine_config_t *config, char **key_out, char *err, size_t err_size)
{
    *key_out = NULL;
    buf_t key;
    buf_init(&key);
    if (config->api_key_env && *config->api_key_env) {
        const char *value = getenv(config->api_key_env);
        if (!value || !*value) {
            snprintf(err, err_size, "API key: environment variable %s is not set",
                     config->api_key_env);
            return -1;
        }
        buf_append_str(&key, value);
    } else if (config->api_key_file && *config->api_key_file) {
        FILE *f = fopen(config->api_key_file, "r");
        if (!f) {
            snprintf(err, err_size, "API key: cannot read %s: %s", config->api_key_file,
                     strerror(errno));
            return -1;
        }
        char chunk[256];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && key.len < 8192)
            buf_append(&key, chunk, n);
        explicit_bzero(chunk, sizeof chunk);
        fclose(f);
    } else {
        *key_out = calloc(1, 1);
        return 0;
    }
    /* Trim surrounding whitespace (files end with a newline). */
    size_t start = 0, end = key.len;
    while (start < end && isspace((unsigned char)key.data[start]))
        start++;
    while (end > start && isspace((unsigned char)key.data[end - 1]))
        end--;
    for (size_t i = start; i < end; i++) {
        if ((unsigned char)key.data[i] < 0x21 || key.data[i] == 0x7f) {
            snprintf(err, err_size, "API key from %s contains a control or space character",
                     config->api_key_env ? config->api_key_env : config->api_key_file);
            explicit_bzero(key.data, key.len);
            buf_free(&key);
            return -1;
        }
    }
    char *out = malloc(end - start + 1);
    memcpy(out, key.data + start, end - start);
    out[end - start] = '\0';
    if (key.data)
        explicit_bzero(key.data, key.len);
    buf_free(&key);
    *key_out = out;
    return 0;
}

/* One request body. extra (a parsed JSON object, or NULL) wins over the fields surge
   sets itself, so a plan can override anything (e.g. "stream_options"). */
static char *body_build(const engine_config_t *config, const char *prompt, int max_tokens,
                        json_t *extra)
{
    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
#define SET_BY_EXTRA(key) (extra && json_object_get(extra, key))
    jsonw_object_begin(&w);
    if (!SET_BY_EXTRA("model"))
        jsonw_kv_string(&w, "model", config->model ? config->model : "");
    if (config->api == ENGINE_API_CHAT) {
        if (!SET_BY_EXTRA("messages")) {
            jsonw_key(&w, "messages");
            jsonw_array_begin(&w);
            jsonw_object_begin(&w);
            jsonw_kv_string(&w, "role", "user");
            jsonw_kv_string(&w, "content", prompt);
            jsonw_object_end(&w);
            jsonw_array_end(&w);
        }
    } else if (!SET_BY_EXTRA("prompt")) {
        jsonw_kv_string(&w, "prompt", prompt);
    }
    if (max_tokens > 0 && !SET_BY_EXTRA("max_tokens"))
        jsonw_kv_int(&w, "max_tokens", max_tokens);
    if (config->ignore_eos && !SET_BY_EXTRA("ignore_eos"))
        jsonw_kv_bool(&w, "ignore_eos", true);
    if (!SET_BY_EXTRA("stream"))
        jsonw_kv_bool(&w, "stream", config->stream);
    if (config->stream && (config->include_usage || config->continuous_usage_stats) &&
        !SET_BY_EXTRA("stream_options")) {
        jsonw_key(&w, "stream_options");
        jsonw_object_begin(&w);
        if (config->include_usage)
            jsonw_kv_bool(&w, "include_usage", true);
        if (config->continuous_usage_stats)
            jsonw_kv_bool(&w, "continuous_usage_stats", true);
        jsonw_object_end(&w);
    }
#undef SET_BY_EXTRA
    if (extra) {
        const char *key;
        json_t *value;
        json_object_foreach(extra, key, value)
        {
            char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!text)
                continue;
            jsonw_key(&w, key);
            jsonw_raw(&w, text);
            free(text);
        }
    }
    jsonw_object_end(&w);
    return buf_take(&out);
}

char *targets_body_build(const engine_config_t *config, const char *prompt, int max_tokens)
{
    json_t *extra = NULL;
    if (config->extra_body_json && *config->extra_body_json) {
        extra = json_loads(config->extra_body_json, 0, NULL);
        if (!json_is_object(extra)) {
            json_decref(extra);
            return NULL; /* targets_init reports it */
        }
    }
    char *body = body_build(config, prompt, max_tokens, extra);
    json_decref(extra);
    return body;
}

static bool url_scheme_ok(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

int targets_init(targets_t *self, const engine_config_t *config, char *err, size_t err_size)
{
    memset(self, 0, sizeof *self);
    if (config->target_count <= 0 || !config->target_urls) {
        snprintf(err, err_size, "no target URL");
        return -1;
    }
    if (config->target_count > ENGINE_MAX_TARGETS) {
        snprintf(err, err_size, "%d targets: at most %d", config->target_count, ENGINE_MAX_TARGETS);
        return -1;
    }
    if (config->prompt_count <= 0 || !config->prompts) {
        snprintf(err, err_size, "no prompt");
        return -1;
    }
    for (int i = 0; config->prompt_max_tokens && i < config->prompt_count; i++) {
        if (config->prompt_max_tokens[i] < 0) {
            snprintf(err, err_size, "prompt %d: max_tokens %d is negative", i,
                     config->prompt_max_tokens[i]);
            return -1;
        }
    }
    int n = config->target_count;
    self->count = n;
    self->balance = config->balance;
    self->base_urls = calloc((size_t)n, sizeof(char *));
    self->request_urls = calloc((size_t)n, sizeof(char *));
    self->models_urls = calloc((size_t)n, sizeof(char *));
    self->inflight = calloc((size_t)n, sizeof(*self->inflight));
    const char *path = config->api == ENGINE_API_CHAT ? "/v1/chat/completions" : "/v1/completions";
    for (int i = 0; i < n; i++) {
        const char *url = config->target_urls[i];
        if (!url || !url_scheme_ok(url)) {
            char *shown = url_redact(url);
            snprintf(err, err_size, "target %d (%s): only http:// and https:// URLs", i,
                     shown ? shown : "(null)");
            free(shown);
            targets_free(self);
            return -1;
        }
        self->base_urls[i] = strdup(url);
        size_t len = strlen(self->base_urls[i]);
        while (len > 0 && self->base_urls[i][len - 1] == '/')
            self->base_urls[i][--len] = '\0';
        /* The path goes after the base's path and before its query: a base of
           http://h/?key=K asks http://h/v1/completions?key=K (docs/plans.md). */
        char why[256];
        self->request_urls[i] = url_with_path(url, path, true, why, sizeof why);
        self->models_urls[i] = url_with_path(url, "/v1/models", true, why, sizeof why);
        if (!self->request_urls[i] || !self->models_urls[i]) {
            snprintf(err, err_size, "target %d: %s", i, why);
            targets_free(self);
            return -1;
        }
    }

    json_t *extra = NULL;
    if (config->extra_body_json && *config->extra_body_json) {
        json_error_t jerr;
        extra = json_loads(config->extra_body_json, 0, &jerr);
        if (!extra || !json_is_object(extra)) {
            snprintf(err, err_size, "extra body: %s (line %d, column %d)",
                     extra ? "not a JSON object" : jerr.text, jerr.line, jerr.column);
            json_decref(extra);
            targets_free(self);
            return -1;
        }
    }
    self->body_count = config->prompt_count;
    self->bodies = calloc((size_t)self->body_count, sizeof(char *));
    self->body_lens = calloc((size_t)self->body_count, sizeof(size_t));
    for (int i = 0; i < self->body_count; i++) {
        /* A workload template's own max_tokens wins; 0 (or no list) means the run's. */
        int max_tokens = config->prompt_max_tokens && config->prompt_max_tokens[i] > 0
                             ? config->prompt_max_tokens[i]
                             : config->max_tokens;
        self->bodies[i] =
            body_build(config, config->prompts[i] ? config->prompts[i] : "", max_tokens, extra);
        self->body_lens[i] = strlen(self->bodies[i]);
    }
    json_decref(extra);

    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, config->stream ? "Accept: text/event-stream"
                                            : "Accept: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip before the body */
    for (int i = 0; i < config->header_count; i++) {
        const char *line = config->headers[i];
        if (!line || !strchr(line, ':') || strpbrk(line, "\r\n")) {
            snprintf(err, err_size, "header %d: expected \"Name: value\" on one line", i);
            curl_slist_free_all(h);
            targets_free(self);
            return -1;
        }
        h = curl_slist_append(h, line);
    }
    char *key = NULL;
    if (api_key_read(config, &key, err, err_size) != 0) {
        curl_slist_free_all(h);
        targets_free(self);
        return -1;
    }
    if (*key) {
        size_t len = strlen("Authorization: Bearer ") + strlen(key) + 1;
        char *line = malloc(len);
        snprintf(line, len, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, line);
        explicit_bzero(line, len);
        free(line);
        explicit_bzero(key, strlen(key));
    }
    free(key);
    self->headers = h;
    return 0;
}

void targets_free(targets_t *self)
{
    for (int i = 0; i < self->count; i++) {
        if (self->base_urls)
            free(self->base_urls[i]);
        if (self->request_urls)
            free(self->request_urls[i]);
        if (self->models_urls)
            free(self->models_urls[i]);
    }
    free(self->base_urls);
    free(self->request_urls);
    free(self->models_urls);
    free((void *)self->inflight);
    for (int i = 0; i < self->body_count; i++)
        free(self->bodies[i]);
    free(self->bodies);
    free(self->body_lens);
    /* The Authorization line lives in the list: wipe it before it goes back. */
    for (struct curl_slist *h = self->headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(self->headers);
    memset(self, 0, sizeof *self);
}

int targets_pick(targets_t *self, uint64_t *rr_counter, uint64_t *rng)
{
    int n = self->count;
    if (n == 1)
        return 0;
    switch (self->balance) {
    case ENGINE_BALANCE_RANDOM:
        return (int)(rng_next(rng) % (uint64_t)n);
    case ENGINE_BALANCE_LEAST_INFLIGHT: {
        /* Ties go round-robin, so an idle cluster is still spread evenly. */
        int start = (int)((*rr_counter)++ % (uint64_t)n), best = start;
        int64_t best_load = atomic_load_explicit(&self->inflight[start], memory_order_relaxed);
        for (int k = 1; k < n && best_load > 0; k++) {
            int i = (start + k) % n;
            int64_t load = atomic_load_explicit(&self->inflight[i], memory_order_relaxed);
            if (load < best_load) {
                best = i;
                best_load = load;
            }
        }
        return best;
    }
    case ENGINE_BALANCE_ROUND_ROBIN:
    default:
        return (int)((*rr_counter)++ % (uint64_t)n);
    }
}
