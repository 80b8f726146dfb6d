/*  chaos.h: a chaos campaign: the plan's `chaos:` actions, the run's marks, fault windows
    and load overrides, and the fault impact table written to results.json `chaos`
    (docs/chaos.md).

    Planned actions fire on the coordinator's control loop and never block it: a command
    is forked with its output on a pipe that the loop reads without waiting, and it is
    killed (its whole process group) at its timeout. Commands get the run's targets,
    ctl endpoint and results directory in their environment (SURGE_TARGETS,
    SURGE_TARGET_0..N, SURGE_CTL_ENDPOINT, SURGE_RESULTS_DIR, SURGE_FAULT).

    Ownership: chaos_plan_t (from the plan file) belongs to the plan's extra; chaos_t (the
    run's record) to the coordinator, which creates it with chaos_new and frees it with
    chaos_destroy.
*/
#ifndef SURGE_COORDINATOR_CHAOS_H
#define SURGE_COORDINATOR_CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <yaml.h>

#include "common/jsonw.h"
#include "common/metrics.h"
#include "coordinator/impact.h"

#define CHAOS_MAX_ACTIONS        256
#define CHAOS_MAX_RECORDS        4096 /* marks, faults, overrides: a long campaign's worth */
#define CHAOS_OUTPUT_MAX_BYTES   4096 /* of each command's output kept in results.json */
#define CHAOS_DEFAULT_TIMEOUT_MS 60000

typedef enum { CHAOS_FAULT_NONE = 0, CHAOS_FAULT_START, CHAOS_FAULT_END } chaos_fault_op_t;

/* One entry of the plan's `chaos:` list. */
typedef struct {
    int line;         /* 1-based line in the plan file */
    char *phase;      /* at: {phase: NAME}: from that phase's start; NULL: from the run's start */
    int64_t after_ms; /* how long after that origin */
    char **argv;      /* run: [argv...] (NULL-terminated), or NULL */
    char *shell;      /* run: "a shell command" (/bin/sh -c), or NULL */
    int64_t timeout_ms;
    chaos_fault_op_t fault;
    char *name; /* the fault window's name (with fault) */
    char *mark; /* a mark's text, or NULL */
} chaos_action_spec_t;

typedef struct chaos_plan {
    chaos_action_spec_t *actions;
    int count;
    impact_config_t impact; /* the tolerance of the impact table */
} chaos_plan_t;

/* Reads the plan's `chaos:` value: a list of actions, or a mapping {actions: [...],
   impact: {baseline, recovery, error_rate, ttft, throughput}}. phase_names (count entries)
   are the plan's phase names an `at: {phase: ...}` may name. 0, or -1 with
   "FILE:LINE:COL: message" in err. */
int chaos_plan_read(yaml_document_t *doc, yaml_node_t *node, const char *file,
                    const char *const *phase_names, int phase_count, chaos_plan_t **out, char *err,
                    size_t err_size);
void chaos_plan_destroy(chaos_plan_t **self_p);

struct _coordinator_t;
typedef struct _chaos_t chaos_t;

/* The run's record; plan may be NULL (marks and faults from `surge ctl` only). */
chaos_t *chaos_new(const chaos_plan_t *plan);
/* Kills commands still running (and reaps them) and frees everything. */
void chaos_destroy(chaos_t **self_p);

/* Records, at t_s seconds from the run's start; source is "plan" or "ctl". */
void chaos_mark(chaos_t *self, double t_s, const char *text, const char *source);
/* Opens / closes the fault window `name`. -1 with a reason (already open, not open). */
int chaos_fault_start(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                      size_t err_size);
int chaos_fault_end(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                    size_t err_size);
/* A load override (pause, resume, set-rate; rate_rps < 0 when none) on phase `phase`. */
void chaos_override(chaos_t *self, double t_s, const char *command, const char *phase,
                    double rate_rps, const char *source);
/* Names of the fault windows open now, comma-separated, into out. */
void chaos_open_faults(const chaos_t *self, char *out, size_t size);
int chaos_mark_count(const chaos_t *self);
/* The live page (live.c): every mark as "marks": [{t_s, text, source}] and every fault
   window as "faults": [{name, start_s, end_s (null while open), source}], as two keys of
   the object being written. */
void chaos_write_events(const chaos_t *self, jsonw_t *w);

/* A closed interval's figures, for the impact table. */
void chaos_add_interval(chaos_t *self, double start_s, double end_s, const metrics_t *m);
/* intervals.jsonl: the marks and open fault windows of [start_s, end_s) as
   "chaos": {...} (nothing when there are none). */
void chaos_write_interval(const chaos_t *self, double start_s, double end_s, jsonw_t *w);

/* On each tick of the control loop: fires due actions, reads their output, reaps them,
   kills those past their timeout. may_fire: the run is on (no new action otherwise). */
void chaos_tick(chaos_t *self, struct _coordinator_t *coordinator, int64_t now_ns, bool may_fire);

/* The terminal summary's impact table, from results.json `chaos` (nothing without faults). */
void chaos_print_summary(const json_t *chaos, FILE *out);

/* results.json "chaos" (key and value), when the plan has actions or anything was
   recorded. run_end_s closes fault windows still open. */
void chaos_write_results(chaos_t *self, jsonw_t *w, double run_end_s);

#endif
