/*  sim.h: `surge sim`, a simulated vLLM node (the public face of simulator/).

    The server speaks vLLM's OpenAI-compatible HTTP API and answers with the timing an
    engine would have: every replica runs an iteration-level model of vLLM's scheduler
    (continuous batching, paged KV cache, chunked prefill, preemption by recompute;
    simulator/sim_engine.h) and tokens leave when its simulated steps end. Profiles are
    named presets of that model calibrated against public figures (docs/simulator.md).

        sim_config_t cfg;  sim_config_defaults(&cfg);
        cfg.profile = sim_profile_find("tiny");
        sim_server_t *server = sim_server_new(&cfg, err, sizeof err);
        printf("listening on http://%s:%d\n", cfg.host, sim_server_port(server));
        sim_server_run(server);            // until SIGINT/SIGTERM or sim_server_stop
        sim_server_destroy(&server);

    One process is one event loop on one thread; --replicas N puts N engines behind its
    one port, so a 64-GPU cluster fits on one machine.
*/
#ifndef SURGE_SIM_H
#define SURGE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- profiles ------------------------------------------------------------------ */

/* One simulated GPU replica (a vLLM engine), and what its steps cost. */
typedef struct {
    const char *name;           /* "tiny", "llama-3.1-8b-h100", ... */
    const char *model;          /* served model name by default */
    int block_size_tokens;      /* KV cache block size (vLLM --block-size) */
    int total_kv_blocks;        /* KV blocks that fit in GPU memory */
    int max_num_seqs;           /* vLLM --max-num-seqs */
    int max_num_batched_tokens; /* vLLM --max-num-batched-tokens (chunked prefill budget) */
    int max_model_len;          /* prompt + max_tokens above this is a 400 */
    /* step_ns = step_base_ns + decode_seq_ns * decoding sequences
                 + prefill_token_ns * prefill tokens + context_token_ns * KV tokens read */
    int64_t step_base_ns;
    int64_t decode_seq_ns;
    int64_t prefill_token_ns;
    double context_token_ns;
    int output_mean_tokens; /* mean of the output length when ignore_eos is not set */
} sim_profile_t;

/* The preset named `name`, or NULL. Presets live for the whole process. */
const sim_profile_t *sim_profile_find(const char *name);
/* The i-th preset (0..), NULL past the end: for --help and docs. */
const sim_profile_t *sim_profile_at(int index);

/* ---- faults -------------------------------------------------------------------- */

typedef enum {
    SIM_FAULT_DOWN,            /* refuse connections: the listening socket is closed */
    SIM_FAULT_UNAVAILABLE,     /* answer 503 to every API request ("503") */
    SIM_FAULT_SLOW,            /* every engine step takes `factor` times longer */
    SIM_FAULT_ERROR_RATE,      /* `fraction` of new requests fail with 500 */
    SIM_FAULT_DROP_MID_STREAM, /* `fraction` of responses lose their connection mid-way */
    SIM_FAULT_STALL,           /* engines stop stepping: open streams go silent */
    SIM_FAULT_KIND_COUNT
} sim_fault_kind_t;

/* "down", "503", "slow", "error_rate", "drop_mid_stream", "stall". */
const char *sim_fault_kind_name(sim_fault_kind_t kind);
/* Returns 0 and fills *kind, or -1 for an unknown name. */
int sim_fault_kind_parse(const char *name, sim_fault_kind_t *kind);

typedef struct {
    sim_fault_kind_t kind;
    double start_s;    /* delay from now (admin) or from server start (flags) */
    double duration_s; /* <= 0: until cleared (not allowed for down) */
    double factor;     /* slow: step time multiplier (> 1) */
    double fraction;   /* error_rate, drop_mid_stream: share of requests hit, (0, 1] */
} sim_fault_spec_t;

/* Parses "kind=slow,duration_s=5,factor=3,start_s=2" (the --fault flag). Returns 0 or -1
   with a reason in err. Unset fields get defaults: factor 2, fraction 1, start 0,
   duration until cleared. */
int sim_fault_spec_parse(const char *text, sim_fault_spec_t *spec, char *err, size_t err_size);

/* ---- the server ---------------------------------------------------------------- */

#define SIM_MAX_STARTUP_FAULTS 16

typedef struct {
    const char *host;             /* listen address (default 127.0.0.1); borrowed */
    int port;                     /* 0: the kernel picks */
    const sim_profile_t *profile; /* borrowed; default "tiny" */
    const char *model;            /* served model name; NULL: the profile's */
    uint64_t seed;                /* output lengths, token text, fault draws */
    int replicas;                 /* engines behind the port (>= 1) */
    int max_queue;                /* waiting requests per replica beyond which new ones
                                     are refused; 0 = unbounded */
    int queue_full_status;        /* 429 or 503 */
    bool prefix_caching;          /* off by default, as in the published methodology */
    size_t max_body_bytes;        /* larger request bodies get 413 */
    bool handle_signals;          /* SIGINT/SIGTERM stop sim_server_run */
    int fault_count;
    sim_fault_spec_t faults[SIM_MAX_STARTUP_FAULTS]; /* scheduled at start */
} sim_config_t;

void sim_config_defaults(sim_config_t *cfg);

typedef struct _sim_server_t sim_server_t;

/* Binds the listening socket (so the port is known on return) and builds the engines.
   NULL with a reason in err on failure (bad config, address in use). */
sim_server_t *sim_server_new(const sim_config_t *cfg, char *err, size_t err_size);
void sim_server_destroy(sim_server_t **self_p);
/* The bound port (useful when cfg.port was 0). */
int sim_server_port(const sim_server_t *self);
/* Serves until stopped. Returns 0 on a clean stop, -1 on an event-loop failure. */
int sim_server_run(sim_server_t *self);
/* Asks sim_server_run to return (from the loop's thread, e.g. a callback). */
void sim_server_stop(sim_server_t *self);

#endif
