/*  impact.h: what a fault did, from the merged intervals (docs/chaos.md, "Impact").

    Pure functions over a list of intervals (no I/O, no clock), so every definition below
    is unit-tested with synthetic intervals (tests/chaos/test_impact.c).

    For a fault window [start_s, end_s):
      baseline   the last `baseline_intervals` intervals that ended at or before start_s
                 (and began at or after not_before_s: the previous fault's end), with at
                 least one finished request. Baseline error rate = errors / requests over
                 them; baseline TTFT P50 = the median of their TTFT P50s; baseline
                 throughput = successful requests per second over them (a refused
                 connection fails fast: counting it would show a fault as a speed-up).
      outside    an interval leaves the tolerance when its error rate exceeds the
                 baseline's by more than error_rate_tolerance (absolute), or its TTFT P50
                 exceeds the baseline's by more than ttft_tolerance (relative), or it
                 completed fewer than (1 - throughput_tolerance) x the baseline's
                 successful requests per second (a stalled node fails nothing and answers nothing).
      detection  detection_s = end of the first interval that is outside, among those
                 ending after start_s and starting before end_s, minus start_s (the data
                 can only show a fault once an interval closes). NaN: not detected.
      during     the intervals whose middle lies in [start_s, end_s) (when none: those
                 overlapping it): error_rate = errors / requests, throughput_change_pct =
                 100 x (their requests per second / baseline's - 1), ttft_change_pct = 100
                 x (mean of their TTFT P50s / baseline's - 1).
      recovery   the first run of `recovery_intervals` consecutive intervals inside the
                 tolerance, starting at or after end_s; recovery_s = its first interval's
                 start - end_s. NaN ("not recovered") when the data ends first.
*/
#ifndef SURGE_PLAN_IMPACT_H
#define SURGE_PLAN_IMPACT_H

#include <stdbool.h>

typedef struct {
    double start_s, end_s; /* from the run's start */
    double requests;       /* finished (ok + failed) */
    double errors;         /* failed */
    double ttft_p50_ms;    /* NaN when no request had a first token */
} impact_interval_t;

typedef struct {
    int baseline_intervals;      /* N (default 5) */
    int recovery_intervals;      /* K (default 3) */
    double error_rate_tolerance; /* absolute, default 0.02 (2 percentage points) */
    double ttft_tolerance;       /* relative, default 0.5 (+50%) */
    double throughput_tolerance; /* relative drop, default 0.5 (-50%) */
} impact_config_t;

typedef struct {
    double start_s, end_s;
    int baseline_count; /* 0: no baseline, every figure below is NaN */
    double baseline_error_rate, baseline_ttft_p50_ms, baseline_rps;
    double detection_s; /* NaN: not detected */
    double recovery_s;  /* NaN: not recovered */
    double error_rate, rps, ttft_p50_ms;
    double throughput_change_pct, ttft_change_pct;
} impact_t;

void impact_config_defaults(impact_config_t *config);

/* True when the interval is outside the baseline's tolerance (see above). */
bool impact_outside(const impact_t *baseline, const impact_config_t *config,
                    const impact_interval_t *interval);

/* Analyses the fault [start_s, end_s) over intervals (in time order). not_before_s
   bounds the baseline (the previous fault's end; 0 for the first). */
void impact_analyze(const impact_interval_t *intervals, int count, double start_s, double end_s,
                    double not_before_s, const impact_config_t *config, impact_t *out);

#endif
