/*  verdict.h: turning measured summaries into answers (docs/plans.md).

    Pure functions over phase summaries: no sockets, no clocks, no files. A summary is
    the JSON object metrics_write_summary() writes (a jansson json_t: "ttft_ms": {"p99"},
    "error_rate", "offered_rps", "achieved_rps", "output_tokens_per_s", ...), so every
    verdict reads the very numbers results.json shows, and tests feed synthetic ones.

      spread     iterations of one level averaged, with their spread (mean/min/max/stddev)
      sat_search the saturation search: a state machine that says which rate to run next
                 and judges each level good or bad (ramp, then bisection, early stop)
      sla        threshold checks on any numeric field of a summary ("ttft_ms.p99 <= 800"),
                 rendered as a PASS/FAIL table, as results JSON and as JUnit XML
      cost       cost per million output tokens from GPU count, price and utilisation
      users      concurrent users a rate supports (Little's law)
*/
#ifndef SURGE_PLAN_VERDICT_H
#define SURGE_PLAN_VERDICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/json_path.h"
#include "common/jsonw.h"

/* ---- Summaries -------------------------------------------------------------------- */

/* A summary's figures are read with common/json_path.h: json_path_number(summary,
   "ttft_ms.p99") is NAN when the path is absent or not a number (a histogram with no
   sample is null). summary_count is the number at path as a whole count: 0 when absent
   or not finite, clamped to +-2^62 (a results directory read by `surge report` may hold
   anything: casting NaN or a huge double to an integer is undefined). */
long long summary_count(const json_t *summary, const char *path);

typedef struct {
    int count;
    double mean, min, max, stddev; /* population stddev; NAN when count is 0 */
} spread_t;

spread_t spread_of(const double *values, int count);

/* The average of `count` summaries of the same shape (iterations of one level): every
   numeric field is the mean of that field over the summaries that have it as a number,
   and "spread" holds, for every numeric field by dot path, {"mean","min","max","stddev",
   "n"}. Non-numeric fields are copied from the first summary. New reference, or NULL
   when count < 1. */
json_t *summary_average(json_t *const *summaries, int count);

/* ---- Saturation search ------------------------------------------------------------ */

#define SAT_MAX_LEVELS 256 /* coarse steps + refinements: a bound on the search's length */

typedef struct {
    double start_rps;          /* first level */
    double step_rps;           /* coarse step between levels */
    double max_rps;            /* never offer more than this */
    double resolution_rps;     /* bisection stops when bad - good <= this (0 = step / 4) */
    int max_refinements;       /* bisection levels at most (0 = 4) */
    double ttft_p99_factor;    /* bad when P99 TTFT > factor x baseline P99 (0 = off) */
    double ttft_p99_max_ms;    /* bad when P99 TTFT > this (0 = off) */
    double max_error_rate;     /* bad when the error rate > this (< 0 = off) */
    double max_rate_shortfall; /* bad when achieved < offered x (1 - this): queues grow
                                  (< 0 = off) */
    double operating_fraction; /* operating point = fraction x saturation (0 = 0.7) */
} sat_config_t;

/* Defaults: ttft_p99_factor 3, max_error_rate 0.01, max_rate_shortfall 0.1, fraction 0.7,
   resolution step/4, 4 refinements; rates are left 0 for the caller. */
void sat_config_defaults(sat_config_t *config);
/* 0, or -1 with what is wrong in err (rates, fractions, no stop condition). */
int sat_config_check(const sat_config_t *config, char *err, size_t err_size);

typedef struct {
    double rate_rps; /* offered */
    bool good;
    bool refinement;  /* a bisection level (not a coarse step) */
    char reason[160]; /* why it is bad ("p99 TTFT 912 ms > 3 x baseline 210 ms"), or "" */
    double ttft_p99_ms, error_rate, achieved_rps, completed_rps, output_tokens_per_s;
} sat_level_t;

typedef struct {
    bool reached;          /* a bad level was found (else: not saturated at max_rps) */
    double saturation_rps; /* highest good rate (0 when even the first was bad) */
    double first_bad_rps;  /* lowest bad rate, or 0 */
    double max_output_tokens_per_s;
    double max_output_tokens_rate_rps; /* the offered rate it came at */
    double max_throughput_rps;         /* highest completed (else achieved) request rate */
    double operating_point_rps;        /* fraction x saturation_rps */
    int level_count;
} sat_result_t;

typedef struct _sat_search_t sat_search_t;

/* baseline_ttft_p99_ms: the floor of TTFT (from the baseline phase); <= 0 or NAN turns
   the factor condition off. NULL when the config does not check. */
sat_search_t *sat_search_new(const sat_config_t *config, double baseline_ttft_p99_ms);
void sat_search_destroy(sat_search_t **self_p);

/* The rate of the next level to run, or false when the search is over. Ramp: start,
   start + step, ... up to max; after the first bad level, bisection between the last
   good and the first bad level until they are within the resolution. Nothing above a
   bad level is ever offered again. */
bool sat_search_next(sat_search_t *self, double *rate_rps_out);
/* Judges the level just run (the rate sat_search_next returned) from its summary
   (averaged over iterations when there were several). Returns true when good. */
bool sat_search_observe(sat_search_t *self, const json_t *summary);
void sat_search_result(const sat_search_t *self, sat_result_t *out);
const sat_level_t *sat_search_levels(const sat_search_t *self, int *count_out);
/* results.json "saturation": {rps, max_output_tokens_per_s, max_output_tokens_rate_rps,
   max_throughput_rps, operating_point_rps, reached, first_bad_rps, operating_fraction,
   levels: [{rate_rps, good, refinement, reason, ttft_p99_ms, ...}]} */
void sat_search_write_json(const sat_search_t *self, jsonw_t *w);

/* ---- SLA checks --------------------------------------------------------------------- */

typedef enum { SLA_AT_MOST = 0, SLA_AT_LEAST = 1 } sla_op_t;

typedef struct {
    char metric[64]; /* dot path into a summary: "ttft_ms.p99", "error_rate", "goodput_rps" */
    sla_op_t op;
    double limit;
} sla_check_t;

typedef struct {
    sla_check_t check;
    double actual; /* NAN when the summary has no such number (no data: fails) */
    bool passed;
    const char *phase; /* the phase (plan stage) judged, borrowed; NULL: the whole run */
} sla_result_t;

/* True when `path` names a numeric field of a summary (docs/plans.md lists them). */
bool sla_metric_known(const char *path);
/* Parses "ttft_ms.p99 <= 800" / "goodput_rps >= 5" / "error_rate < 1%". 0, or -1 with
   what was expected in err. */
int sla_check_parse(const char *text, sla_check_t *out, char *err, size_t err_size);
/* "ttft_ms.p99 <= 800" */
void sla_check_format(const sla_check_t *check, char *out, size_t out_size);

/* Evaluates every check against one summary into results[count]; true when all pass. */
bool sla_evaluate(const sla_check_t *checks, int count, const json_t *summary,
                  sla_result_t *results);
/* Results of several judged phases (each phase's checks in turn) in one table, document
   and JUnit suite: the functions below show each result's phase when it has one. */
/* The PASS/FAIL table for a terminal. */
void sla_write_text(const sla_result_t *results, int count, FILE *out);
/* results.json "sla": {"passed", "checks": [{"metric","op","limit","actual","passed",
   "phase"?}]} ("phase" when the check judged a phase, not the whole run) */
void sla_write_json(const sla_result_t *results, int count, jsonw_t *w);
/* A JUnit XML document (one testsuite, one testcase per check, <failure> when it fails),
   appended to out. suite_name is escaped. */
void sla_write_junit(const sla_result_t *results, int count, const char *suite_name, double time_s,
                     buf_t *out);

/* ---- Cost and users ----------------------------------------------------------------- */

typedef struct {
    int gpu_count;
    double price_per_gpu_hour; /* in `currency` */
    double utilisation;        /* fraction of paid time spent serving at this throughput (0..1] */
    char currency[8];          /* "USD" */
} cost_config_t;

/* gpu_count x price / 3600 / (output_tokens_per_s x utilisation) x 1e6; NAN when the
   throughput is not > 0. */
double cost_per_million_output_tokens(const cost_config_t *config, double output_tokens_per_s);
/* results.json "cost": {gpu_count, price_per_gpu_hour, currency, utilisation,
   at_max_throughput: {output_tokens_per_s, per_million_output_tokens},
   at_operating_point: {...}} (the latter only when op_tokens_per_s > 0) */
void cost_write_json(const cost_config_t *config, double max_tokens_per_s, double op_tokens_per_s,
                     jsonw_t *w);

/* Little's law: users = rate x (request duration + think time). */
double users_supported(double rate_rps, double request_duration_s, double think_time_s);
/* results.json "users": {rate_rps, request_duration_s, think_time_s, users} */
void users_write_json(double rate_rps, double request_duration_s, double think_time_s, jsonw_t *w);

#endif
