/*  chaos_plan.h: the plan's `chaos:` actions, as read from the plan file (docs/chaos.md).

    The run's record of them (marks, fault windows, commands) is coordinator/chaos.h; this is
    only what the plan says. chaos_plan_t belongs to the plan's extra.
*/
#ifndef SURGE_PLAN_CHAOS_PLAN_H
#define SURGE_PLAN_CHAOS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "plan/impact.h"

#define CHAOS_MAX_ACTIONS        256
#define CHAOS_MAX_ARGV           64 /* words of one `run: [argv...]` */
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

/* plan_yaml.c reads the plan's `chaos:` value (a list of actions, or a mapping {actions:
   [...], impact: {baseline, recovery, error_rate, ttft, throughput}}) into the plan's
   extra, with the plan file's reader: errors are "FILE:LINE:COL: chaos: message". */
void chaos_plan_destroy(chaos_plan_t **self_p);

#endif
