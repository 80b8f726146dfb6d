/*  plan.h: a test plan, the one thing the coordinator executes.

    A plan is what to hit (targets, model, request options), with what (prompts), and an
    ordered list of phases run one after the other; each phase gets its own summary in
    results.json (phases[]). The YAML loader (plan_load_file, plan/plan_yaml.c)
    and the flag form of `surge run` (plan_new_from_flags) both build a plan_t; the
    coordinator never cares which.

    Phases: every phase describes the *global* load of the whole fleet; the coordinator
    splits it across workers (docs/fleet.md). A ramp with steps is written out as one
    phase per step by whoever builds the plan, so the executor only knows flat and
    linear-ramp phases:
      PHASE_LOAD_RATE         open loop: arrivals at schedule.start_rate_per_s (to
                              end_rate_per_s when ramping linearly), process
                              schedule.arrival
      PHASE_LOAD_CONCURRENCY  closed loop: `concurrency` requests always in flight
      PHASE_LOAD_USERS        closed loop: `users` users with exponential think time
    `kind` is the user's word for the phase (warmup, baseline, constant, ramp, step,
    soak, ...), reported verbatim; a phase with `measure` false (warm-up) is run and
    reported but left out of the run's overall summary.

    Ownership: plan_t owns every string and array in it (free()d by plan_destroy);
    use plan_set_string / plan_add_* to fill it. Units are in the field names.
*/
#ifndef SURGE_PLAN_PLAN_H
#define SURGE_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/schedule.h"
#include "plan/workload.h"

#define PLAN_MAX_PHASES  1024
#define PLAN_MAX_TARGETS 256

typedef struct {
    char *name; /* unique within the plan ("warmup", "step-3"); owned */
    char *kind; /* the user's word: warmup, baseline, constant, ramp, step, soak...; owned */
    phase_load_t load;
    bool measure; /* counted in the overall summary (false for warm-up) */

    /* PHASE_LOAD_RATE: the global arrival process, as the workers receive it
       (common/schedule.h): start_rate_per_s, end_rate_per_s (= start for a flat phase),
       arrival, gamma_shape. seed 0 = derived from the plan seed and the phase index;
       duration_ns is left 0 here: the coordinator stamps each assignment's (duration_ms,
       shortened by a stop). */
    schedule_spec_t schedule;

    /* PHASE_LOAD_CONCURRENCY / PHASE_LOAD_USERS */
    int concurrency;
    int users;
    double think_time_mean_s;

    int64_t duration_ms;
    int64_t settle_ms;  /* idle time after the phase before the next one starts */
    bool expect_errors; /* 100% errors here is what the plan tests: it does not fail the run */
} plan_phase_t;

/* A service-level objective: percentile `percentile` of `metric` (a metrics.h histogram
   name: ttft, itl, tpot, e2e, ...) must stay at or below limit_ms; or, for metric
   "error_rate", the error rate at or below `limit` (a fraction). */
typedef struct {
    char *metric; /* owned */
    double percentile;
    double limit; /* milliseconds for latencies, a fraction for error_rate */
} plan_slo_t;

struct plan_extra; /* plan/plan_yaml.h: what a plan file says beyond plan_t */

typedef struct {
    char *source; /* file the plan came from, or "flags"; owned */
    char *name;   /* plan name for the report; owned, may be NULL */

    /* What to hit */
    char **target_urls; /* owned array of owned strings ("http://host:8000", "sim://vllm-8b") */
    int target_count;
    char *model;     /* owned */
    char *api;       /* "chat" (default) or "completions"; owned */
    bool stream;     /* default true */
    int max_tokens;  /* 0 = not sent */
    bool ignore_eos; /* vLLM extension */
    int64_t timeout_ms;
    char *extra_body_json; /* JSON object merged into every request body, or NULL; owned */
    char *api_key_env;     /* name of the env var holding the API key, or NULL; owned */
    int max_inflight;      /* per worker cap, 0 = none */
    /* Connections and TLS, passed to every worker's engine (worker/engine.h) */
    int max_connections_per_target; /* per worker, 0 = no cap */
    bool connection_per_user;       /* users phases: one connection per virtual user */
    bool prewarm;                   /* open the connections before the first phase */
    char *capture_header;           /* response header filling requests.jsonl group; owned */
    char *ca_file;                  /* https: CA bundle path (on the workers' hosts); owned */
    bool insecure_tls;              /* https: do not verify certificates */
    bool preflight;                 /* workers check every target before any load (default true) */
    bool expect_errors;             /* every phase may fail whole without failing the run */

    /* With what */
    char **prompts;         /* owned array of owned strings */
    int *prompt_max_tokens; /* owned, prompt_count entries: each prompt's own max_tokens
                               (0 = max_tokens), from the workload's length distribution */
    int *prompt_class;      /* owned, prompt_count entries: each prompt's index in class_names */
    int prompt_count;
    /* The classes of the workload mix (docs/workloads.md), owned; a plan without a mix has
       one, "default" (the workload's own name for it), which is the run itself. Workers
       record per class, and results.json has classes[], only when there are 2 or more. */
    char **class_names;
    int class_count;

    /* How */
    plan_phase_t *phases; /* owned, executed in order */
    int phase_count;
    uint64_t seed;       /* plan seed; phases without a seed derive theirs from it */
    int64_t interval_ms; /* snapshot interval (default 1000) */

    /* Goodput SLOs sent to the workers (0 = none) and the SLA table to check */
    double slo_ttft_ms, slo_tpot_ms, slo_e2e_ms;
    plan_slo_t *slos; /* owned */
    int slo_count;

    /* Simulated cluster (targets "sim://PROFILE"): profile and replica count for `run` */
    char *sim_profile; /* owned, or NULL */
    int sim_replicas;

    /* Outputs (flags override) */
    char *out_dir; /* owned, or NULL for results/<timestamp> */
    bool record_requests;

    /* Stages, saturation search, operating point, SLA, cost, users, workload of a plan
       file: the executor reads them (coordinator/sequence.c). */
    struct plan_extra *extra; /* owned (plan/plan_yaml.h); NULL for flag plans */

    /* What the command line changed in a plan file ("model: X (the plan says Y)"), owned;
       results.json plan.overrides */
    char **overrides;
    int override_count;
} plan_t;

/* An empty plan with the defaults above (stream, chat, 1 s interval). */
plan_t *plan_new(void);
void plan_destroy(plan_t **self_p);

/* Replaces *field with a copy of value (NULL clears it). */
void plan_set_string(char **field, const char *value);
void plan_add_target(plan_t *self, const char *url);
void plan_add_prompt(plan_t *self, const char *prompt);
/* A prompt with its own max_tokens (0 = the plan's max_tokens), of class 0 ("default"
   when the plan had no class yet). */
void plan_add_prompt_sized(plan_t *self, const char *prompt, int max_tokens);
/* Forgets every prompt and class (to rebuild the pool). */
void plan_clear_prompts(plan_t *self);
/* Replaces the prompts and classes with a built request pool's (plan/workload.h):
   each template's prompt, max_tokens and class, and the pool's class names. */
void plan_set_pool(plan_t *self, const workload_t *pool);
/* Appends a phase with defaults (rate load, constant arrival, measured) named `name`;
   returns it for the caller to fill. NULL when PLAN_MAX_PHASES is reached. */
plan_phase_t *plan_add_phase(plan_t *self, const char *name, const char *kind);
/* Records that `what` was set to `value` over the plan's `was` (a command-line override). */
void plan_add_override(plan_t *self, const char *what, const char *value, const char *was);
plan_slo_t *plan_add_slo(plan_t *self, const char *metric, double percentile, double limit);

/* Checks what the executor needs: targets, model, prompts, at least one phase, positive
   durations, rates >= 0 (> 0 somewhere in each rate phase), concurrency/users > 0.
   Returns 0, or -1 with a reason naming the phase in err. */
int plan_validate(const plan_t *self, char *err, size_t err_size);

/* Total planned duration (phases + settle times), ms. */
int64_t plan_duration_ms(const plan_t *self);

/* The flag form of `surge run` / `surge coordinator` with no plan file. */
typedef struct {
    const char *target; /* URL, or "sim://PROFILE" */
    const char *model;
    double rate_per_s; /* open loop when > 0 */
    int concurrency;   /* closed loop when > 0 (and rate is 0) */
    int64_t duration_ms;
    int64_t warmup_ms;   /* 0 = no warm-up phase */
    const char *arrival; /* "constant", "poisson" (default), "gamma" */
    double burstiness;   /* gamma shape (arrival gamma) */
    int max_tokens;
    bool ignore_eos;
    const char *api; /* "chat" (default) or "completions" */
    uint64_t seed;
} plan_flags_t;

/* A one-phase (or warm-up + one) plan from flags, with the built-in workload (surge's
   default prompts, plan/default_prompts.c). NULL with a
   reason in err when the flags do not make a valid plan. */
plan_t *plan_new_from_flags(const plan_flags_t *flags, char *err, size_t err_size);

/* Loads a YAML plan (plan/plan_yaml.c) with its extra. Errors name file:line:col. */
plan_t *plan_load_file(const char *path, char *err, size_t err_size);
void plan_extra_destroy(struct plan_extra **self_p);

#endif
