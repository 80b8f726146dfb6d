/*  impact.c: the fault impact table's figures (definitions in impact.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan/impact.h"

#define EPSILON_S 1e-6 /* interval bounds are sums of doubles */

void impact_config_defaults(impact_config_t *config)
{
    config->baseline_intervals = 5;
    config->recovery_intervals = 3;
    config->error_rate_tolerance = 0.02;
    config->ttft_tolerance = 0.5;
    config->throughput_tolerance = 0.5;
}

static double error_rate_of(const impact_interval_t *iv)
{
    return iv->requests > 0 ? iv->errors / iv->requests : 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

bool impact_outside(const impact_t *b, const impact_config_t *config, const impact_interval_t *iv)
{
    if (b->baseline_count == 0)
        return false;
    double width = iv->end_s - iv->start_s;
    if (error_rate_of(iv) > b->baseline_error_rate + config->error_rate_tolerance)
        return true;
    if (isfinite(b->baseline_ttft_p50_ms) && isfinite(iv->ttft_p50_ms) &&
        iv->ttft_p50_ms > b->baseline_ttft_p50_ms * (1 + config->ttft_tolerance))
        return true;
    if (width > 0 && b->baseline_rps > 0 &&
        (iv->requests - iv->errors) / width < b->baseline_rps * (1 - config->throughput_tolerance))
        return true;
    return false;
}

static void baseline_of(const impact_interval_t *iv, int count, double start_s, double not_before_s,
                        const impact_config_t *config, impact_t *out)
{
    double requests = 0, errors = 0, seconds = 0;
    double *p50 = calloc((size_t)config->baseline_intervals + 1, sizeof *p50);
    int n = 0, with_ttft = 0;
    for (int i = count - 1; i >= 0 && n < config->baseline_intervals; i--) {
        if (iv[i].end_s > start_s + EPSILON_S || iv[i].requests <= 0)
            continue;
        if (iv[i].start_s < not_before_s - EPSILON_S)
            break;
        requests += iv[i].requests;
        errors += iv[i].errors;
        seconds += iv[i].end_s - iv[i].start_s;
        if (p50 && isfinite(iv[i].ttft_p50_ms))
            p50[with_ttft++] = iv[i].ttft_p50_ms;
        n++;
    }
    out->baseline_count = n;
    out->baseline_error_rate = n ? errors / requests : NAN;
    out->baseline_rps = n && seconds > 0 ? (requests - errors) / seconds : NAN;
    out->baseline_ttft_p50_ms = NAN;
    if (with_ttft) {
        qsort(p50, (size_t)with_ttft, sizeof *p50, compare_doubles);
        out->baseline_ttft_p50_ms =
            with_ttft % 2 ? p50[with_ttft / 2] : (p50[with_ttft / 2 - 1] + p50[with_ttft / 2]) / 2;
    }
    free(p50);
}

static void during_of(const impact_interval_t *iv, int count, double start_s, double end_s,
                      impact_t *out)
{
    for (int pass = 0; pass < 2; pass++) {
        double requests = 0, errors = 0, seconds = 0, ttft_sum = 0;
        int n = 0, with_ttft = 0;
        for (int i = 0; i < count; i++) {
            double mid = (iv[i].start_s + iv[i].end_s) / 2;
            bool in = pass == 0 ? mid >= start_s && mid < end_s
                                : iv[i].end_s > start_s && iv[i].start_s < end_s;
            if (!in)
                continue;
            requests += iv[i].requests;
            errors += iv[i].errors;
            seconds += iv[i].end_s - iv[i].start_s;
            if (isfinite(iv[i].ttft_p50_ms)) {
                ttft_sum += iv[i].ttft_p50_ms;
                with_ttft++;
            }
            n++;
        }
        if (n == 0)
            continue;
        out->error_rate = requests > 0 ? errors / requests : 0;
        out->rps = seconds > 0 ? (requests - errors) / seconds : NAN;
        out->ttft_p50_ms = with_ttft ? ttft_sum / with_ttft : NAN;
        return;
    }
}

void impact_analyze(const impact_interval_t *iv, int count, double start_s, double end_s,
                    double not_before_s, const impact_config_t *config, impact_t *out)
{
    memset(out, 0, sizeof *out);
    out->start_s = start_s;
    out->end_s = end_s;
    out->detection_s = out->recovery_s = NAN;
    out->error_rate = out->rps = out->ttft_p50_ms = NAN;
    out->throughput_change_pct = out->ttft_change_pct = NAN;
    baseline_of(iv, count, start_s, not_before_s, config, out);
    during_of(iv, count, start_s, end_s, out);
    if (out->baseline_count == 0)
        return;
    if (out->baseline_rps > 0 && isfinite(out->rps))
        out->throughput_change_pct = 100 * (out->rps / out->baseline_rps - 1);
    if (out->baseline_ttft_p50_ms > 0 && isfinite(out->ttft_p50_ms))
        out->ttft_change_pct = 100 * (out->ttft_p50_ms / out->baseline_ttft_p50_ms - 1);

    for (int i = 0; i < count; i++) {
        if (iv[i].end_s <= start_s + EPSILON_S || iv[i].start_s >= end_s - EPSILON_S)
            continue;
        if (impact_outside(out, config, &iv[i])) {
            out->detection_s = iv[i].end_s - start_s;
            break;
        }
    }
    int run = 0;
    for (int i = 0; i < count; i++) {
        if (iv[i].start_s < end_s - EPSILON_S)
            continue;
        run = impact_outside(out, config, &iv[i]) ? 0 : run + 1;
        if (run >= config->recovery_intervals) {
            double first = iv[i - run + 1].start_s - end_s;
            out->recovery_s = first > 0 ? first : 0;
            break;
        }
    }
}
