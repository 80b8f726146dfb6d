/*  scrape.c: the targets' /metrics on the run's clock, in a thread of its own (scrape.h).

    The coordinator's loop must answer heartbeats within a tick, so nothing here runs on
    it: the thread fetches, parses and maps; the loop only copies finished figures out
    under the mutex when an interval closes.

    When: a scrape for interval k starts `lead` before the interval's end (a fifth of the
    interval, at most 200 ms) and every request times out after half an interval (100 ms
    to 5 s), so a healthy target's figures are ready when the workers' snapshots close
    the interval, and a hanging one is given up before the next scrape is due.
*/
#include "coordinator/scrape.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/url.h"
#include "common/prom.h"

#define SCRAPE_RING            64        /* intervals kept for a late close */
#define SCRAPE_MAX_PAGE_BYTES  (8 << 20) /* a big vLLM node's page is ~200 KB */
#define SCRAPE_MAX_LEAD_NS     (200 * NS_PER_MS)
#define SCRAPE_MIN_TIMEOUT_MS  100
#define SCRAPE_MAX_TIMEOUT_MS  5000
#define SCRAPE_LOGGED_FAILURES 3 /* per target; then only counted (a dead /metrics each second) */

/* ---- names: what each server calls the figures -------------------------------------- */

typedef enum {
    RAW_RUNNING = 0,
    RAW_WAITING,
    RAW_KV_USAGE,
    RAW_PREEMPTIONS,
    RAW_QUEUE_SUM_S,
    RAW_QUEUE_COUNT,
    RAW_PROMPT_TOKENS,
    RAW_GENERATION_TOKENS,
    RAW_PREFIX_QUERIES,
    RAW_PREFIX_HITS,
    RAW_PREFIX_HIT_RATE,
    RAW_COUNT
} raw_key_t;

/* The first name the page has wins; `mean` averages over label sets (a fraction per
   engine) where the others add up (requests, tokens). */
static const struct {
    raw_key_t key;
    bool mean;
    const char *names[4];
} sources[] = {
    {RAW_RUNNING,
     false,
     {"vllm:num_requests_running", "sglang:num_running_reqs", "tgi_batch_current_size"}},
    {RAW_WAITING, false, {"vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"}},
    {RAW_KV_USAGE,
     true,
     {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"}},
    {RAW_PREEMPTIONS, false, {"vllm:num_preemptions_total", "vllm:num_preemptions"}},
    {RAW_QUEUE_SUM_S,
     false,
     {"vllm:request_queue_time_seconds_sum", "sglang:queue_time_seconds_sum",
      "tgi_request_queue_duration_sum"}},
    {RAW_QUEUE_COUNT,
     false,
     {"vllm:request_queue_time_seconds_count", "sglang:queue_time_seconds_count",
      "tgi_request_queue_duration_count"}},
    {RAW_PROMPT_TOKENS,
     false,
     {"vllm:prompt_tokens_total", "sglang:prompt_tokens_total", "tgi_request_input_length_sum"}},
    {RAW_GENERATION_TOKENS,
     false,
     {"vllm:generation_tokens_total", "sglang:generation_tokens_total",
      "tgi_request_generated_tokens_sum"}},
    /* Prompt tokens looked up in the prefix cache and, of those, found: vLLM V1's names,
       then the gpu_ ones V1 had before 0.10. */
    {RAW_PREFIX_QUERIES,
     false,
     {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}},
    {RAW_PREFIX_HITS, false, {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}},
    /* A hit rate the server computes itself (SGLang; vLLM V0): used without the counters. */
    {RAW_PREFIX_HIT_RATE, true, {"sglang:cache_hit_rate", "vllm:gpu_prefix_cache_hit_rate"}},
};

typedef struct {
    double v[RAW_COUNT];
    bool has[RAW_COUNT];
    int64_t at_ns;
} reading_t;

/* ---- state ------------------------------------------------------------------------ */

typedef struct {
    int64_t index;
    server_figures_t f;
} slot_t;

typedef struct {
    char *base; /* the plan's target URL, redacted: the key in intervals.jsonl, results.json */
    char *url;  /* base's path + path, no userinfo, no base query (url_with_path) */
    /* scraper thread only */
    CURL *easy;
    buf_t body;
    bool too_big;
    char curl_error[CURL_ERROR_SIZE];
    reading_t prev;
    bool has_prev;
    int logged_failures;
    /* guarded by scrape_t.lock */
    slot_t ring[SCRAPE_RING];
    server_figures_t latest;
    bool has_latest;
    int64_t scrapes, errors;
    char last_error[256];
    double max[SERVER_KEY_COUNT], sum[SERVER_KEY_COUNT];
    int64_t n[SERVER_KEY_COUNT];
    double preemptions, prompt_tokens, generation_tokens, queue_sum_s, queue_count, counted_s;
    double prefix_queries, prefix_hits; /* the run's increases, when the target counts them */
    bool prefix_counted;
} target_t;

struct _scrape_t {
    target_t *targets;
    int count;
    int64_t run_t0_ns, interval_ns, lead_ns;
    long timeout_ms;
    CURLM *multi;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop; /* guarded by lock */
};

static const char *const key_names[SERVER_KEY_COUNT] = {"running",
                                                        "waiting",
                                                        "kv_cache_usage",
                                                        "preemptions",
                                                        "queue_time_ms",
                                                        "prompt_tokens_per_s",
                                                        "generation_tokens_per_s",
                                                        "prefix_cache_hit_rate"};

const char *server_key_name(server_key_t key)
{
    return (unsigned)key < SERVER_KEY_COUNT ? key_names[key] : "?";
}

/* ---- lifecycle -------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    target_t *t = arg;
    size_t n = size * nmemb;
    if (t->body.len + n > SCRAPE_MAX_PAGE_BYTES) {
        t->too_big = true;
        return 0; /* libcurl aborts the transfer */
    }
    buf_append(&t->body, data, n);
    return n;
}

scrape_t *scrape_new(const char *const *base_urls, int count, const char *path, char *err,
                     size_t err_size)
{
    if (!path || !*path)
        path = SCRAPE_DEFAULT_PATH;
    for (int i = 0; i < count; i++) {
        if (strncmp(base_urls[i], "http://", 7) != 0 && strncmp(base_urls[i], "https://", 8) != 0) {
            char *shown = url_redact(base_urls[i]);
            snprintf(err, err_size, "target %s: only http:// and https:// can be scraped",
                     shown ? shown : "");
            free(shown);
            return NULL;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: it is not thread-safe */
    scrape_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->targets = calloc((size_t)(count > 0 ? count : 1), sizeof *self->targets);
    self->count = count;
    self->multi = curl_multi_init();
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < count; i++) {
        target_t *t = &self->targets[i];
        /* The target as shown (results.json keys, live labels): without its secrets. The
           scrape's URL: the base's path + path, with no userinfo and none of the base's
           query, so no credential meant for the inference API reaches /metrics. */
        t->base = url_redact(base_urls[i]);
        char why[256];
        t->url = url_with_path(base_urls[i], path, false, why, sizeof why);
        buf_init(&t->body);
        for (int k = 0; k < SCRAPE_RING; k++)
            t->ring[k].index = -1;
        t->easy = curl_easy_init();
        if (!t->easy || !t->url || !t->base) {
            snprintf(err, err_size, "%s", t->url ? "out of memory" : why);
            scrape_destroy(&self);
            return NULL;
        }
        curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
        curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->curl_error);
        curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "surge/" SURGE_VERSION " (scrape)");
        curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when offered */
    }
    return self;
}

void scrape_destroy(scrape_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    scrape_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock(&self->lock);
        self->stop = true;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < self->count; i++) {
        target_t *t = &self->targets[i];
        if (t->easy)
            curl_easy_cleanup(t->easy);
        buf_free(&t->body);
        free(t->base);
        free(t->url);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self->targets);
    free(self);
    *self_p = NULL;
}

/* ---- one page --------------------------------------------------------------------- */

/* Maps a parsed page; false when it has none of the known names. */
static bool read_page(const prom_doc_t *doc, reading_t *r)
{
    bool any = false;
    for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++) {
        for (int k = 0; k < 4 && sources[s].names[k]; k++) {
            int n = 0;
            double sum = prom_doc_sum(doc, sources[s].names[k], &n);
            if (n == 0)
                continue;
            double v = sources[s].mean ? sum / n : sum;
            if (v == v) { /* a NaN from the server is as good as absent */
                r->v[sources[s].key] = v;
                r->has[sources[s].key] = true;
                any = true;
            }
            break;
        }
    }
    return any;
}

/* A counter's increase from a to b; a decrease means the counter was reset to zero in
   between (a restarted server), so all of b is new, as Prometheus's increase() says. */
static double increase(double a, double b)
{
    return b >= a ? b - a : b;
}

static bool both(const reading_t *a, const reading_t *b, raw_key_t k)
{
    return a->has[k] && b->has[k];
}

/* The prefix-cache hit rate of an interval: the server's own counters when it has them
   (the increase of hits over the increase of queries, so that every token looked up
   weighs the same; no query: not defined), else the gauge it computes. The counters'
   increases go to *queries and *hits (0 when not counted). */
static void prefix_hit_rate_of(const reading_t *prev, bool has_prev, const reading_t *r,
                               server_figures_t *f, double *queries, double *hits)
{
    *queries = *hits = 0;
    if (r->has[RAW_PREFIX_QUERIES] && r->has[RAW_PREFIX_HITS]) {
        if (!has_prev || !both(prev, r, RAW_PREFIX_QUERIES) || !both(prev, r, RAW_PREFIX_HITS))
            return;
        *queries = increase(prev->v[RAW_PREFIX_QUERIES], r->v[RAW_PREFIX_QUERIES]);
        *hits = increase(prev->v[RAW_PREFIX_HITS], r->v[RAW_PREFIX_HITS]);
        if (*queries > 0) {
            f->value[SERVER_PREFIX_CACHE_HIT_RATE] = *hits / *queries;
            f->has[SERVER_PREFIX_CACHE_HIT_RATE] = true;
        }
    } else if (r->has[RAW_PREFIX_HIT_RATE]) {
        f->value[SERVER_PREFIX_CACHE_HIT_RATE] = r->v[RAW_PREFIX_HIT_RATE];
        f->has[SERVER_PREFIX_CACHE_HIT_RATE] = true;
    }
}

static void figures_of(const reading_t *prev, bool has_prev, const reading_t *r,
                       server_figures_t *f, double *covered_s, double *prefix_queries,
                       double *prefix_hits)
{
    memset(f, 0, sizeof *f);
    prefix_hit_rate_of(prev, has_prev, r, f, prefix_queries, prefix_hits);
    const raw_key_t gauges[] = {RAW_RUNNING, RAW_WAITING, RAW_KV_USAGE};
    const server_key_t to[] = {SERVER_RUNNING, SERVER_WAITING, SERVER_KV_CACHE_USAGE};
    for (int i = 0; i < 3; i++) {
        if (r->has[gauges[i]]) {
            f->value[to[i]] = r->v[gauges[i]];
            f->has[to[i]] = true;
        }
    }
    *covered_s = 0;
    if (!has_prev || r->at_ns <= prev->at_ns)
        return;
    double dt_s = (double)(r->at_ns - prev->at_ns) / 1e9;
    *covered_s = dt_s;
    if (both(prev, r, RAW_PREEMPTIONS)) {
        f->value[SERVER_PREEMPTIONS] = increase(prev->v[RAW_PREEMPTIONS], r->v[RAW_PREEMPTIONS]);
        f->has[SERVER_PREEMPTIONS] = true;
    }
    if (both(prev, r, RAW_QUEUE_SUM_S) && both(prev, r, RAW_QUEUE_COUNT)) {
        double count = increase(prev->v[RAW_QUEUE_COUNT], r->v[RAW_QUEUE_COUNT]);
        double sum = increase(prev->v[RAW_QUEUE_SUM_S], r->v[RAW_QUEUE_SUM_S]);
        if (count > 0) { /* no request left the queue: the mean is not defined */
            f->value[SERVER_QUEUE_TIME_MS] = sum / count * 1000.0;
            f->has[SERVER_QUEUE_TIME_MS] = true;
        }
    }
    const raw_key_t counters[] = {RAW_PROMPT_TOKENS, RAW_GENERATION_TOKENS};
    const server_key_t rates[] = {SERVER_PROMPT_TOKENS_PER_S, SERVER_GENERATION_TOKENS_PER_S};
    for (int i = 0; i < 2; i++) {
        if (both(prev, r, counters[i])) {
            f->value[rates[i]] = increase(prev->v[counters[i]], r->v[counters[i]]) / dt_s;
            f->has[rates[i]] = true;
        }
    }
}

/* Under the lock: the figures into the ring, the latest and the run's summary. */
static void publish(target_t *t, int64_t index, const server_figures_t *f, double covered_s,
                    double prefix_queries, double prefix_hits)
{
    t->latest = *f;
    t->has_latest = true;
    if (index < 0)
        return; /* the baseline before the run: only a reference for the counters */
    t->ring[index % SCRAPE_RING] = (slot_t){index, *f};
    for (int k = 0; k < SERVER_KEY_COUNT; k++) {
        if (!f->has[k])
            continue;
        if (t->n[k] == 0 || f->value[k] > t->max[k])
            t->max[k] = f->value[k];
        t->sum[k] += f->value[k];
        t->n[k]++;
    }
    if (f->has[SERVER_PREEMPTIONS])
        t->preemptions += f->value[SERVER_PREEMPTIONS];
    if (f->has[SERVER_PROMPT_TOKENS_PER_S])
        t->prompt_tokens += f->value[SERVER_PROMPT_TOKENS_PER_S] * covered_s;
    if (f->has[SERVER_GENERATION_TOKENS_PER_S]) {
        t->generation_tokens += f->value[SERVER_GENERATION_TOKENS_PER_S] * covered_s;
        t->counted_s += covered_s;
    }
    if (prefix_queries > 0) {
        t->prefix_queries += prefix_queries;
        t->prefix_hits += prefix_hits;
        t->prefix_counted = true;
    }
}

static void finish_target(scrape_t *self, target_t *t, CURLcode code, int64_t index)
{
    char why[256] = "";
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    reading_t r = {.at_ns = clock_now_ns()};
    if (t->too_big) {
        snprintf(why, sizeof why, "the page is larger than %d bytes", SCRAPE_MAX_PAGE_BYTES);
    } else if (code != CURLE_OK) {
        snprintf(why, sizeof why, "%s",
                 t->curl_error[0] ? t->curl_error : curl_easy_strerror(code));
    } else if (status != 200) {
        snprintf(why, sizeof why, "HTTP %ld", status);
    } else {
        char err[200];
        prom_doc_t *doc =
            prom_parse(t->body.data ? t->body.data : "", t->body.len, NULL, err, sizeof err);
        if (!doc)
            snprintf(why, sizeof why, "not Prometheus text: %s", err);
        else if (!read_page(doc, &r))
            snprintf(why, sizeof why, "none of the known metric names (vLLM, SGLang, TGI)");
        prom_doc_destroy(&doc);
    }
    server_figures_t f;
    double covered_s = 0, prefix_queries = 0, prefix_hits = 0;
    if (!why[0]) {
        figures_of(&t->prev, t->has_prev, &r, &f, &covered_s, &prefix_queries, &prefix_hits);
        t->prev = r;
        t->has_prev = true;
    } else if (t->logged_failures++ < SCRAPE_LOGGED_FAILURES) {
        log_warn("scrape %s: %s%s", t->url, why,
                 t->logged_failures == SCRAPE_LOGGED_FAILURES ? " (further failures only counted)"
                                                              : "");
    }
    pthread_mutex_lock(&self->lock);
    t->scrapes++;
    if (why[0]) {
        t->errors++;
        snprintf(t->last_error, sizeof t->last_error, "%s", why);
    } else {
        publish(t, index, &f, covered_s, prefix_queries, prefix_hits);
    }
    pthread_mutex_unlock(&self->lock);
}

static bool stopping(scrape_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool stop = self->stop;
    pthread_mutex_unlock(&self->lock);
    return stop;
}

/* Every target at once; each is finished as its answer (or its timeout) comes. */
static void scrape_round(scrape_t *self, int64_t index)
{
    for (int i = 0; i < self->count; i++) {
        target_t *t = &self->targets[i];
        buf_clear(&t->body);
        t->too_big = false;
        t->curl_error[0] = '\0';
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, self->timeout_ms);
        curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, self->timeout_ms);
        curl_multi_add_handle(self->multi, t->easy);
    }
    int running = self->count;
    while (running > 0) {
        curl_multi_perform(self->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(self->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            target_t *t = NULL;
            for (int i = 0; !t && i < self->count; i++)
                t = self->targets[i].easy == msg->easy_handle ? &self->targets[i] : NULL;
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(self->multi, msg->easy_handle);
            if (t)
                finish_target(self, t, code, index);
        }
        if (running > 0) {
            if (stopping(self))
                break;
            curl_multi_poll(self->multi, NULL, 0, 100, NULL);
        }
    }
    for (int i = 0; i < self->count; i++)
        curl_multi_remove_handle(self->multi, self->targets[i].easy); /* no-op when done */
}

/* Sleeps until deadline_ns; false when asked to stop meanwhile. */
static bool wait_until(scrape_t *self, int64_t deadline_ns)
{
    struct timespec ts = {deadline_ns / NS_PER_S, deadline_ns % NS_PER_S};
    pthread_mutex_lock(&self->lock);
    while (!self->stop && clock_now_ns() < deadline_ns) {
        if (pthread_cond_timedwait(&self->wake, &self->lock, &ts) != 0)
            break;
    }
    bool go = !self->stop;
    pthread_mutex_unlock(&self->lock);
    return go;
}

static void *scrape_thread(void *arg)
{
    scrape_t *self = arg;
    int64_t I = self->interval_ns;
    for (int64_t k = -1;;) {
        if (!wait_until(self, self->run_t0_ns + (k + 1) * I - self->lead_ns))
            break;
        scrape_round(self, k);
        /* The next scrape whose time has not passed: a slow round skips, never piles up. */
        int64_t now = clock_now_ns();
        k++;
        while (self->run_t0_ns + (k + 1) * I - self->lead_ns < now)
            k++;
    }
    return NULL;
}

int scrape_start(scrape_t *self, int64_t run_t0_ns, int64_t interval_ns)
{
    if (self->started || self->count == 0)
        return 0;
    self->run_t0_ns = run_t0_ns;
    self->interval_ns = interval_ns;
    self->lead_ns = interval_ns / 5 < SCRAPE_MAX_LEAD_NS ? interval_ns / 5 : SCRAPE_MAX_LEAD_NS;
    long half_ms = (long)(interval_ns / 2 / NS_PER_MS);
    self->timeout_ms = half_ms < SCRAPE_MIN_TIMEOUT_MS   ? SCRAPE_MIN_TIMEOUT_MS
                       : half_ms > SCRAPE_MAX_TIMEOUT_MS ? SCRAPE_MAX_TIMEOUT_MS
                                                         : half_ms;
    if (pthread_create(&self->thread, NULL, scrape_thread, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

/* ---- reading the figures (the coordinator's thread) --------------------------------- */

static void write_figures(jsonw_t *w, const server_figures_t *f)
{
    jsonw_object_begin(w);
    for (int k = 0; k < SERVER_KEY_COUNT; k++) {
        if (f->has[k])
            jsonw_kv_double(w, key_names[k], f->value[k]);
    }
    jsonw_object_end(w);
}

void scrape_write_interval(scrape_t *self, int64_t index, jsonw_t *w)
{
    if (!self || index < 0)
        return;
    bool any = false;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->count; i++) {
        const slot_t *s = &self->targets[i].ring[index % SCRAPE_RING];
        if (s->index != index)
            continue;
        if (!any) {
            jsonw_key(w, "server");
            jsonw_object_begin(w);
            any = true;
        }
        jsonw_key(w, self->targets[i].base);
        write_figures(w, &s->f);
    }
    if (any)
        jsonw_object_end(w);
    pthread_mutex_unlock(&self->lock);
}

static void kv_max_mean(jsonw_t *w, const target_t *t, server_key_t k)
{
    if (t->n[k] == 0)
        return;
    char name[64];
    snprintf(name, sizeof name, "max_%s", key_names[k]);
    jsonw_kv_double(w, name, t->max[k]);
    snprintf(name, sizeof name, "mean_%s", key_names[k]);
    jsonw_kv_double(w, name, t->sum[k] / (double)t->n[k]);
}

void scrape_write_summary(scrape_t *self, jsonw_t *w)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    jsonw_key(w, "server");
    jsonw_object_begin(w);
    for (int i = 0; i < self->count; i++) {
        const target_t *t = &self->targets[i];
        jsonw_key(w, t->base);
        jsonw_object_begin(w);
        jsonw_kv_string(w, "scrape_url", t->url);
        jsonw_kv_int(w, "scrapes", t->scrapes);
        jsonw_kv_int(w, "scrape_errors", t->errors);
        jsonw_key(w, "last_error");
        if (t->last_error[0])
            jsonw_string(w, t->last_error);
        else
            jsonw_null(w);
        jsonw_kv_int(w, "intervals",
                     t->n[SERVER_RUNNING] > t->n[SERVER_KV_CACHE_USAGE]
                         ? t->n[SERVER_RUNNING]
                         : t->n[SERVER_KV_CACHE_USAGE]);
        kv_max_mean(w, t, SERVER_RUNNING);
        kv_max_mean(w, t, SERVER_WAITING);
        kv_max_mean(w, t, SERVER_KV_CACHE_USAGE);
        kv_max_mean(w, t, SERVER_QUEUE_TIME_MS);
        kv_max_mean(w, t, SERVER_PREFIX_CACHE_HIT_RATE);
        if (t->prefix_counted) { /* the run's own rate: every token looked up weighs the same */
            jsonw_kv_double(w, "prefix_cache_queries", t->prefix_queries);
            jsonw_kv_double(w, "prefix_cache_hits", t->prefix_hits);
            jsonw_kv_double(w, "prefix_cache_hit_rate", t->prefix_hits / t->prefix_queries);
        }
        if (t->n[SERVER_PREEMPTIONS])
            jsonw_kv_double(w, "preemptions", t->preemptions);
        if (t->n[SERVER_PROMPT_TOKENS_PER_S])
            jsonw_kv_double(w, "prompt_tokens", t->prompt_tokens);
        if (t->n[SERVER_GENERATION_TOKENS_PER_S]) {
            jsonw_kv_double(w, "generation_tokens", t->generation_tokens);
            jsonw_kv_double(w, "generation_tokens_per_s",
                            t->counted_s > 0 ? t->generation_tokens / t->counted_s : 0);
        }
        jsonw_object_end(w);
    }
    jsonw_object_end(w);
    pthread_mutex_unlock(&self->lock);
}

int scrape_target_count(const scrape_t *self)
{
    return self ? self->count : 0;
}

const char *scrape_target_url(const scrape_t *self, int target)
{
    return target >= 0 && target < self->count ? self->targets[target].base : "";
}

bool scrape_latest(scrape_t *self, int target, server_figures_t *out, int64_t *errors)
{
    if (!self || target < 0 || target >= self->count)
        return false;
    pthread_mutex_lock(&self->lock);
    const target_t *t = &self->targets[target];
    bool has = t->has_latest;
    if (has)
        *out = t->latest;
    if (errors)
        *errors = t->errors;
    pthread_mutex_unlock(&self->lock);
    return has;
}
