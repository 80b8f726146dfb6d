/*  bench_engine_config.h: the engine configuration the engine benchmarks share
    (bench_engine.c, bench_engine_cost.c): one target, streaming chat with usage, one
    short prompt, 1 s intervals, a 60 s timeout. Each benchmark changes what it measures.
*/
#ifndef SURGE_BENCH_ENGINE_CONFIG_H
#define SURGE_BENCH_ENGINE_CONFIG_H

#include <string.h>

#include "common/clock.h"
#include "worker/engine.h"

static inline engine_config_t bench_engine_config(const char *const *url, int threads)
{
    static const char *const prompts[] = {"Benchmark prompt."};
    engine_config_t c;
    memset(&c, 0, sizeof c);
    c.target_urls = url;
    c.target_count = 1;
    c.api = ENGINE_API_CHAT;
    c.model = "bench";
    c.stream = true;
    c.include_usage = true;
    c.prompts = prompts;
    c.prompt_count = 1;
    c.threads = threads;
    c.timeout_ms = 60000;
    c.interval_ns = NS_PER_S;
    return c;
}

#endif
