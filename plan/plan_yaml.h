/*  plan_yaml.h: the YAML plan file (docs/plans.md) and what it says beyond plan_t.

    plan_yaml_load() parses a plan file strictly (unknown keys, wrong types, bad units and
    duplicate keys are errors naming FILE:LINE:COL and what was expected) into:

      - a plan_t (plan/plan.h) that the executor can run as it is: every stage of
        the file written out as flat phases (a ramp as one phase per step, a settle time
        as an unmeasured phase before the step, iterations as repeated phases, a
        saturation search as its coarse ramp: start, start + step, ... max);
      - a plan_extra_t with what plan_t does not carry: which phases belong to which stage
        of the file, the saturation search settings, phases whose rate is decided at run
        time (the operating point), SLA checks, JUnit path, cost and users inputs,
        headers, the API-key file and the workload (its built request pool included).

    An executor that knows plan_extra_t runs a saturation stage adaptively: it takes the
    stage's level_template, asks sat_search_next() (plan/verdict.h) for each level's
    rate, and skips the stage's static phases; one that does not simply runs the coarse
    ramp. plan_load_file() (plan.h) is this loader with the extra dropped.

    Ownership: plan_extra_t owns everything in it; plan_extra_destroy frees it.
*/
#ifndef SURGE_PLAN_PLAN_YAML_H
#define SURGE_PLAN_PLAN_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plan/plan.h"
#include "plan/verdict.h"
#include "plan/workload.h"

#define PLAN_YAML_MAX_BYTES (4 << 20) /* a plan file larger than this is refused */

typedef enum {
    PLAN_RATE_FIXED = 0,      /* the phase's rate_per_s */
    PLAN_RATE_OPERATING_POINT /* rate_fraction x the operating point of the last saturation
                                 search before it; rate_per_s is a placeholder (the search's
                                 start rate) until then */
} plan_rate_ref_t;

typedef enum {
    PLAN_STAGE_SIMPLE = 0, /* one load (rate, concurrency or users) held for a duration */
    PLAN_STAGE_RAMP,       /* steps of rate or concurrency, or one linear rate ramp */
    PLAN_STAGE_SATURATION  /* the saturation search */
} plan_stage_type_t;

/* One entry of `phases:` in the file. */
typedef struct {
    char *name; /* owned; unique in the plan */
    char *kind; /* owned: warmup, baseline, constant, soak, sla, ramp, saturation, ... */
    plan_stage_type_t type;
    int line;        /* 1-based line of the entry in the file */
    int first_phase; /* its phases: plan->phases[first_phase .. first_phase + phase_count) */
    int phase_count;
    int levels;        /* ramp steps / coarse search levels (1 for a simple stage) */
    int iterations;    /* measured repetitions per level, averaged with their spread */
    int64_t settle_ms; /* unmeasured time at the start of each level */
    int64_t hold_ms;   /* measured time of each iteration */
    bool measured;     /* false for warm-up */
    bool baseline;     /* its summary gives the search its TTFT floor */
    bool sla;          /* judged by the SLA checks (kind sla, or sla.phase names it) */
    int recover;       /* wait for the fleet to drain before it starts: 1 yes, 0 no, -1 the default
                          (yes, except right after a warm-up; docs/plans.md "Recovery") */
    sat_config_t search;         /* PLAN_STAGE_SATURATION */
    plan_phase_t level_template; /* PLAN_STAGE_SATURATION: one level's load (arrival,
                                    seed, duration = hold_ms); name, kind NULL */
} plan_stage_t;

/* Parallel to plan->phases. */
typedef struct {
    int stage;     /* index in extra->stages */
    int level;     /* 0-based step / level within the stage */
    int iteration; /* 0-based repetition within the level; -1 for a settle phase */
    bool settle;   /* the unmeasured settle part at the start of a level */
    plan_rate_ref_t rate_ref;
    double rate_fraction; /* PLAN_RATE_OPERATING_POINT: multiplies the operating point */
} plan_phase_extra_t;

typedef struct plan_extra {
    char *description; /* owned, may be NULL */

    plan_stage_t *stages; /* owned */
    int stage_count;
    plan_phase_extra_t *phases; /* owned; plan->phase_count entries */
    int phase_count;

    /* Requests */
    char **headers; /* "Name: value", owned */
    int header_count;
    char *api_key_file; /* owned, or NULL; never logged */
    char *balance;      /* round_robin (default), random, least_inflight; owned */
    /* server_metrics: the targets' Prometheus page; NULL = /metrics, "" = off (scrape.h) */
    char *server_metrics_path;
    /* prometheus: range queries over the run's window (prom_query.h); url NULL = none */
    char *prometheus_url;
    int64_t prometheus_step_ms; /* 0 = the run's interval */
    /* owned; prometheus_query_count each */
    char **prometheus_names, **prometheus_exprs;
    int prometheus_query_count;

    /* Workload: the spec and the request pool built from it (prompts, per-item max_tokens
       and class); plan->prompts holds the same prompts. NULL: the default prompts. */
    workload_spec_t *workload_spec;
    workload_t *workload;

    /* SLA */
    sla_check_t *sla_checks; /* owned */
    int sla_check_count;
    char *sla_phase;  /* stage judged; NULL: the stages of kind sla, else the whole run */
    char *junit_path; /* owned, or NULL: no JUnit XML */

    /* Derived answers */
    bool has_cost;
    cost_config_t cost;
    bool has_users;
    double users_think_time_s;

    /* Chaos: the `chaos:` actions and impact tolerance (coordinator/chaos.h); NULL = none */
    struct chaos_plan *chaos;
} plan_extra_t;

/* Loads and checks a plan file. NULL with "FILE:LINE:COL: message" in err. extra_out may
   be NULL (the extra is then dropped). Relative dataset paths are taken from the plan
   file's directory. */
plan_t *plan_yaml_load(const char *path, plan_extra_t **extra_out, char *err, size_t err_size);
/* The same on text in memory; `name` stands for the file in messages, and relative paths
   are taken from the current directory. */
plan_t *plan_yaml_load_text(const char *text, size_t len, const char *name,
                            plan_extra_t **extra_out, char *err, size_t err_size);
void plan_extra_destroy(plan_extra_t **self_p);

/* One paragraph saying what the plan will do (surge validate). */
void plan_yaml_describe(const plan_t *plan, const plan_extra_t *extra, FILE *out);

/* After a run: the plan's verdicts from the summary of every phase (phase_summaries[i] is
   plan->phases[i]'s summary object as results.json has it, NULL when it did not run) and
   the run's overall summary. Writes the results.json keys "saturation" (when the plan has
   a search: `search`, the one the executor ran for the last saturation stage, or when
   NULL the search replayed over the written-out levels that ran), "sla", "cost" and
   "users" (when the plan asks) into the object `w` is writing; prints the PASS/FAIL table to
   sla_table and appends JUnit XML to junit_out when they are not NULL. The SLA judges every
   stage marked sla, each on its own (its measured phases averaged), else the overall summary.
   Returns false when an SLA check failed (exit code 1). */
bool plan_verdicts_write(const plan_t *plan, const plan_extra_t *extra,
                         json_t *const *phase_summaries, const json_t *overall,
                         const sat_search_t *search, jsonw_t *w, FILE *sla_table, buf_t *junit_out);

/* Strict value parsers shared with the CLI; 0 on success, -1 when text is not one.
   Rates: "20", "20/s", "1200/min", "72000/h". Fractions: "70%" or "0.7" (0..1).
   Durations are common/duration.h's, for files and flags alike. */
/* True when a `headers:` name carries a credential (Authorization, Cookie, X-Api-Key,
   X-Goog-Api-Key, Ocp-Apim-Subscription-Key, any *token*, *secret*, *-key* ...): such
   headers are refused in a plan, which is published in results.json. */
bool plan_header_is_secret(const char *name);
int plan_yaml_parse_rate(const char *text, double *out_per_s);
int plan_yaml_parse_fraction(const char *text, double *out);

#endif
