/*  preflight.h: before any load, each target answers and serves the model.

    A wrong model name, an unreachable target or a TLS failure used to show up only as
    100% errors in a run that ended `completed`. The worker now checks its targets when
    the plan arrives, before it builds its engine (docs/worker.md, "Preflight"):

      1. GET base/v1/models: a transport failure (refused, unreachable, TLS, timeout) or
         a 401/403 fails; a 200 whose list names the plan's model passes the target:
         it answers and serves the model, and nothing more is sent to it;
      2. otherwise (no list: a server without the route; or a list without the model),
         one small request (the plan's api, max_tokens 1, not streamed) must answer 2xx.
    So a target that lists its models (vLLM, SGLang, TGI, the simulator) gets no
    request it would count: its own counters stay equal to the run's.

    A failure is reported in the server's own words (vLLM: "The model `x` does not
    exist."), with the target's index and URL, never the API key. The checks run in a
    thread of their own so the agent's loop keeps its heartbeats; targets are checked
    one after the other, each request bounded by timeout_ms.

    Ownership: preflight_start copies what it needs from the config (the caller's may go
    away); preflight_destroy cancels a check in progress and joins the thread.
*/
#ifndef SURGE_WORKER_PREFLIGHT_H
#define SURGE_WORKER_PREFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "worker/engine.h"

typedef struct preflight_s preflight_t;

/* Starts the checks of config's targets (model, api, key, TLS options). NULL with a
   reason in err when the config cannot make requests (the same reasons engine_new
   gives: a missing key, a bad URL). */
preflight_t *preflight_start(const engine_config_t *config, int64_t timeout_ms, char *err,
                             size_t err_size);

/* 0 while the checks run; 1 when every target passed; -1 when one failed, with the
   reason in why. */
int preflight_poll(preflight_t *self, char *why, size_t why_size);

void preflight_destroy(preflight_t **self_p);

#endif
