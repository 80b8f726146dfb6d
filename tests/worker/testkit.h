/*  testkit.h: what the worker tests share: test servers as real processes, and an
    engine run collected into one metrics_t and one requests.jsonl buffer. */
#ifndef SURGE_TESTS_WORKER_TESTKIT_H
#define SURGE_TESTS_WORKER_TESTKIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "worker/engine.h"

typedef struct {
    pid_t pid;
    int port;
    char url[64]; /* http://127.0.0.1:PORT */
} testkit_server_t;

/* Starts tests/worker/<script> with args (NULL-terminated) and waits for "PORT n".
   Returns false (and the test should skip) when python3 is missing. */
bool testkit_server_start(testkit_server_t *srv, const char *script, const char *const *args);
void testkit_server_stop(testkit_server_t *srv);
/* GET path on the server; the body into out (NUL-terminated). */
bool testkit_http_get(const testkit_server_t *srv, const char *path, char *out, size_t size);
/* Reads an integer field from the server's /stats JSON. */
long testkit_server_stat(const testkit_server_t *srv, const char *field);

typedef struct {
    metrics_t *total;
    metrics_t *per_target[16];
    int target_count;
    metrics_t *per_class[ENGINE_MAX_CLASSES]; /* as the intervals carry them, else NULL */
    int class_count;
    buf_t jsonl;
    int intervals;
} testkit_run_t;

void testkit_run_init(testkit_run_t *run, int target_count);
void testkit_run_free(testkit_run_t *run);
/* engine_interval_fn: merges every interval into run. */
void testkit_collect_fn(void *arg, const engine_interval_t *interval);
/* Waits until the engine is idle (phase over, nothing in flight) or timeout_ms, collecting
   as it goes, then flushes. Returns false on timeout. */
bool testkit_run_until_idle(engine_t *engine, testkit_run_t *run, int timeout_ms);

/* A default engine config for one or more targets (borrowed URLs). */
engine_config_t testkit_config(const char *const *urls, int count);
engine_phase_t testkit_rate_phase(arrival_kind_t kind, double rate, double seconds, int64_t t0_ns);

#endif
