/*  scrape.h: the targets' own Prometheus /metrics, scraped on the run's clock
    (docs/report.md "Server-side metrics", docs/results.md `server`).

    A scraper owns one thread. Once per interval, shortly before the interval ends (so
    that the figures are there when the coordinator closes it), it fetches every target's
    metrics page at once (libcurl multi, short timeouts, a size cap), parses it
    (common/prom.h) and maps vLLM's, SGLang's and TGI's names to common keys:

      running, waiting, kv_cache_usage           gauges: the value at the scrape
      preemptions                                counter: the increase over the interval
      queue_time_ms                              histogram: mean of the interval's requests
      prompt_tokens_per_s, generation_tokens_per_s   counters: increase / seconds between scrapes
      prefix_cache_hit_rate      vLLM's prefix-cache counters: hits increase / queries
                                 increase (tokens) over the interval; else SGLang's
                                 cache_hit_rate gauge at the scrape

    A counter that went down was reset (a restarted server): the increase is its new
    value, as Prometheus's rate() counts it. A target whose page is down, slow, too big,
    malformed or carries none of the known names is counted (scrape errors, the last
    reason) and has no figures for that interval; nothing waits for it.

    Thread safety: the coordinator's thread calls scrape_write_* and scrape_latest while
    the scraper's thread fills the figures; one mutex guards them, held only to copy.
*/
#ifndef SURGE_SCRAPE_H
#define SURGE_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <stdio.h>

#include "common/jsonw.h"

#define SCRAPE_DEFAULT_PATH "/metrics"

typedef enum {
    SERVER_RUNNING = 0,
    SERVER_WAITING,
    SERVER_KV_CACHE_USAGE,
    SERVER_PREEMPTIONS,
    SERVER_QUEUE_TIME_MS,
    SERVER_PROMPT_TOKENS_PER_S,
    SERVER_GENERATION_TOKENS_PER_S,
    SERVER_PREFIX_CACHE_HIT_RATE,
    SERVER_KEY_COUNT
} server_key_t;

/* One target's figures for one interval; has[k] false = not known (a gap). */
typedef struct {
    double value[SERVER_KEY_COUNT];
    bool has[SERVER_KEY_COUNT];
} server_figures_t;

typedef struct _scrape_t scrape_t;

/* base_urls: the targets (http://host:port, copied); path: appended to each one's path
   ("/metrics") with libcurl's URL API; the scrape sends no userinfo and none of the
   base's query (common/url.h).
   NULL with a reason in err when a URL is not http(s). */
scrape_t *scrape_new(const char *const *base_urls, int count, const char *path, char *err,
                     size_t err_size);
/* Stops the thread (within one request timeout) and frees everything. */
void scrape_destroy(scrape_t **self_p);

/* Starts the thread: a baseline scrape just before run_t0_ns (CLOCK_MONOTONIC), then one
   just before the end of every interval of interval_ns. 0 on success. */
int scrape_start(scrape_t *self, int64_t run_t0_ns, int64_t interval_ns);

/* Writes `"server": {URL: {key: number, ...}, ...}` into the object w is writing, for the
   targets that have figures for interval `index`; nothing when none has. */
void scrape_write_interval(scrape_t *self, int64_t index, jsonw_t *w);
/* Writes `"server": {URL: {scrapes, scrape_errors, last_error, max_running, ...}}` (the
   whole run per target, docs/results.md) into the object w is writing. */
void scrape_write_summary(scrape_t *self, jsonw_t *w);

int scrape_target_count(const scrape_t *self);
const char *scrape_target_url(const scrape_t *self, int target); /* redacted (url_redact) */
/* The latest figures of a target and its error count so far; false when it has none. */
bool scrape_latest(scrape_t *self, int target, server_figures_t *out, int64_t *errors);

const char *server_key_name(server_key_t key); /* "running", "kv_cache_usage", ... */

#endif
