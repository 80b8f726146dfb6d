/*  summary.c: the end-of-run summary on the terminal (docs/results.md, "On the terminal").

    Printed from the results.json document just written, so the terminal never says
    something the file does not: the phases table, the classes of a workload mix, the
    saturation answer, the SLA PASS/FAIL table, cost and users, and a warning when the
    client, not the target, set the pace (its schedule lag or dropped arrivals).
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plan/verdict.h"
#include "report/report.h"

static double number(const json_t *obj, const char *path)
{
    return json_path_number(obj, path);
}

static const char *text(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void print_ms(FILE *out, double ms)
{
    if (isnan(ms))
        fprintf(out, " %8s", "-");
    else
        fprintf(out, " %8.1f", ms);
}

static void print_phases(const json_t *results, FILE *out)
{
    const json_t *phases = json_object_get(results, "phases");
    /* sent/s and the percentiles are the phase's own requests; done/s and tok/s what the
       cluster completed and delivered inside its window; in flight: Little's law; tail: its
       requests that ended after it (docs/results.md, "Two views"). */
    fprintf(out, "\n%-22s %-11s %10s %9s %9s %9s %8s %8s %8s %7s %9s %6s\n", "phase", "kind",
            "load", "sent/s", "done/s", "tok/s", "ttft p50", "ttft p99", "e2e p99", "errors",
            "in flight", "tail");
    size_t i;
    const json_t *p;
    json_array_foreach(phases, i, p)
    {
        char load[32];
        if (json_object_get(p, "target_rps"))
            snprintf(load, sizeof load, "%.2f/s", number(p, "target_rps"));
        else if (json_object_get(p, "concurrency"))
            snprintf(load, sizeof load, "conc %.0f", number(p, "concurrency"));
        else
            snprintf(load, sizeof load, "users %.0f", number(p, "users"));
        const json_t *s = json_object_get(p, "summary");
        fprintf(out, "%-22.22s %-11.11s %10s", text(p, "name"), text(p, "kind"), load);
        if (!json_is_object(s)) {
            fprintf(out, "  (did not run)\n");
            continue;
        }
        fprintf(out, " %9.2f %9.2f %9.0f", number(s, "achieved_rps"), number(s, "delivered_rps"),
                number(s, "output_tokens_per_s"));
        print_ms(out, number(s, "ttft_ms.p50"));
        print_ms(out, number(s, "ttft_ms.p99"));
        print_ms(out, number(s, "e2e_ms.p99"));
        fprintf(out, " %6.2f%%", 100.0 * number(s, "error_rate"));
        double inflight = number(s, "concurrency_achieved"); /* Little's law */
        if (isnan(inflight))
            fprintf(out, " %9s", "-");
        else
            fprintf(out, " %9.1f", inflight);
        double tail = number(p, "tail.requests");
        fprintf(out, " %6.0f", isnan(tail) ? 0 : tail);
        fprintf(out, "%s%s\n",
                json_is_false(json_object_get(p, "measured")) ? "  (not counted)" : "",
                json_is_true(json_object_get(p, "overridden")) ? "  (overridden by ctl)" : "");
    }
}

/* The stddev over a stage level's iterations of the field at `path` (results.json
   stages[].levels[].summary.spread), NAN when absent. */
static double spread_stddev(const json_t *summary, const char *path)
{
    const json_t *spread = json_object_get(json_object_get(summary, "spread"), path);
    return json_is_number(json_object_get(spread, "stddev"))
               ? json_number_value(json_object_get(spread, "stddev"))
               : NAN;
}

/* Stages run more than once (`iterations:`): the mean of their iterations, as the
   verdicts see it, with the spread of TTFT p99 (results.json stages[]). */
static void print_iterations(const json_t *results, FILE *out)
{
    bool header = false;
    size_t i, k;
    const json_t *stage, *level;
    json_array_foreach(json_object_get(results, "stages"), i, stage)
    {
        if (number(stage, "iterations") < 2)
            continue;
        size_t levels = json_array_size(json_object_get(stage, "levels"));
        json_array_foreach(json_object_get(stage, "levels"), k, level)
        {
            const json_t *s = json_object_get(level, "summary");
            if (!json_is_object(s))
                continue;
            if (!header) {
                fprintf(out,
                        "\niterations averaged (mean of the runs; +- the standard deviation of "
                        "TTFT p99)\n");
                fprintf(out, "%-22s %4s %9s %9s %8s %17s %8s %7s\n", "stage", "runs", "sent/s",
                        "done/s", "ttft p50", "ttft p99", "e2e p99", "errors");
                header = true;
            }
            char name[64];
            if (levels > 1)
                snprintf(name, sizeof name, "%.40s.%d", text(stage, "name"),
                         (int)(summary_count(level, "level") % 1000000) + 1);
            else
                snprintf(name, sizeof name, "%.40s", text(stage, "name"));
            fprintf(out, "%-22.22s %4d %9.2f %9.2f", name,
                    (int)(summary_count(s, "iterations") % 1000000), number(s, "achieved_rps"),
                    number(s, "delivered_rps"));
            print_ms(out, number(s, "ttft_ms.p50"));
            print_ms(out, number(s, "ttft_ms.p99"));
            double sd = spread_stddev(s, "ttft_ms.p99");
            if (isnan(sd))
                fprintf(out, " %8s", "");
            else
                fprintf(out, " +-%6.1f", sd);
            print_ms(out, number(s, "e2e_ms.p99"));
            fprintf(out, " %6.2f%%\n", 100.0 * number(s, "error_rate"));
        }
    }
}

/* A workload mix of 2+ classes (results.json classes[], whole run): each class's
   requests, errors, latencies and output tokens. */
static void print_classes(const json_t *results, FILE *out)
{
    const json_t *classes = json_object_get(results, "classes");
    if (json_array_size(classes) < 2)
        return;
    fprintf(out, "\n%-22s %9s %7s %8s %8s %8s %13s\n", "class", "requests", "errors", "ttft p50",
            "ttft p99", "e2e p99", "output tokens");
    size_t i;
    const json_t *c;
    json_array_foreach(classes, i, c)
    {
        const json_t *s = json_object_get(c, "summary");
        fprintf(out, "%-22.22s %9.0f %6.2f%%", text(c, "name"), number(s, "requests.total"),
                100.0 * number(s, "error_rate"));
        print_ms(out, number(s, "ttft_ms.p50"));
        print_ms(out, number(s, "ttft_ms.p99"));
        print_ms(out, number(s, "e2e_ms.p99"));
        fprintf(out, " %13.0f\n", number(s, "output_tokens"));
    }
}

/* Conversations (results.json turns[], whole run): each turn index's requests, errors,
   latencies and mean input tokens, then the conversations' ends. */
static void print_turns(const json_t *results, FILE *out)
{
    const json_t *turns = json_object_get(results, "turns");
    if (json_array_size(turns) == 0)
        return;
    fprintf(out, "\n%-6s %9s %7s %8s %8s %8s %8s %12s\n", "turn", "requests", "errors", "ttft p50",
            "ttft p99", "itl p50", "e2e p99", "input tokens");
    size_t i;
    const json_t *t;
    json_array_foreach(turns, i, t)
    {
        const json_t *s = json_object_get(t, "summary");
        char name[16];
        snprintf(name, sizeof name, "%.0f%s", number(t, "turn"),
                 json_is_true(json_object_get(t, "and_later")) ? "+" : "");
        fprintf(out, "%-6s %9.0f %6.2f%%", name, number(s, "requests.total"),
                100.0 * number(s, "error_rate"));
        print_ms(out, number(s, "ttft_ms.p50"));
        print_ms(out, number(s, "ttft_ms.p99"));
        print_ms(out, number(s, "itl_ms.p50"));
        print_ms(out, number(s, "e2e_ms.p99"));
        fprintf(out, " %12.0f\n", number(t, "input_tokens_mean"));
    }
    const json_t *c = json_object_get(results, "conversations");
    fprintf(out, "conversations: %.0f completed, %.0f abandoned on error", number(c, "completed"),
            number(c, "abandoned"));
    if (number(c, "context_truncated") > 0)
        fprintf(out, "; %.0f turns cut to fit the context", number(c, "context_truncated"));
    fprintf(out, "\n");
}

static void print_saturation(const json_t *sat, FILE *out)
{
    if (!json_is_object(sat))
        return;
    fprintf(out, "\nsaturation: ");
    if (json_is_true(json_object_get(sat, "reached")))
        fprintf(out, "%.2f req/s (the first bad level was %.2f req/s", number(sat, "rps"),
                number(sat, "first_bad_rps"));
    else
        fprintf(out, "not reached up to %.2f req/s (", number(sat, "rps"));
    const json_t *levels = json_object_get(sat, "levels");
    size_t i;
    const json_t *l;
    const char *why = NULL;
    json_array_foreach(levels, i, l)
    {
        if (json_is_false(json_object_get(l, "good")) &&
            fabs(number(l, "rate_rps") - number(sat, "first_bad_rps")) < 1e-9)
            why = text(l, "reason");
    }
    if (why && *why)
        fprintf(out, ": %s", why);
    fprintf(out, ")\n");
    fprintf(out, "  max throughput %.2f req/s; max %.0f output tokens/s at %.2f req/s\n",
            number(sat, "max_throughput_rps"), number(sat, "max_output_tokens_per_s"),
            number(sat, "max_output_tokens_rate_rps"));
    fprintf(out, "  recommended operating point: %.2f req/s (%.0f%% of saturation)\n",
            number(sat, "operating_point_rps"), 100.0 * number(sat, "operating_fraction"));
}

static void print_sla(const json_t *sla, FILE *out)
{
    if (!json_is_object(sla))
        return;
    fprintf(out, "\nSLA: %s\n", json_is_true(json_object_get(sla, "passed")) ? "PASS" : "FAIL");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(sla, "checks"), i, c)
    {
        char check[128];
        snprintf(check, sizeof check, "%s %s %g", text(c, "metric"), text(c, "op"),
                 number(c, "limit"));
        double actual = number(c, "actual");
        fprintf(out, "  %-4s  %-32s actual ",
                json_is_true(json_object_get(c, "passed")) ? "PASS" : "FAIL", check);
        if (isnan(actual))
            fprintf(out, "(no data)");
        else
            fprintf(out, "%g", actual);
        const char *phase = text(c, "phase"); /* the phase judged, when not the whole run */
        if (*phase)
            fprintf(out, "  (phase %s)", phase);
        fputc('\n', out);
    }
}

static void print_cost_users(const json_t *results, FILE *out)
{
    const json_t *cost = json_object_get(results, "cost");
    if (json_is_object(cost)) {
        const char *cur = text(cost, "currency");
        fprintf(out,
                "\ncost per million output tokens (%.0f GPUs at %g %s/GPU-hour, %.0f%% utilised):",
                number(cost, "gpu_count"), number(cost, "price_per_gpu_hour"), cur,
                100.0 * number(cost, "utilisation"));
        double max = number(cost, "at_max_throughput.per_million_output_tokens");
        double op = number(cost, "at_operating_point.per_million_output_tokens");
        if (!isnan(max))
            fprintf(out, " %.2f %s at max throughput", max, cur);
        if (!isnan(op))
            fprintf(out, "%s %.2f %s at the operating point", isnan(max) ? "" : ",", op, cur);
        fprintf(out, "\n");
    }
    const json_t *users = json_object_get(results, "users");
    if (json_is_object(users) && !isnan(number(users, "users")))
        fprintf(out,
                "users: about %.0f concurrent users at %.2f req/s (%.2f s per request + %g s "
                "think time)\n",
                number(users, "users"), number(users, "rate_rps"),
                number(users, "request_duration_s"), number(users, "think_time_s"));
}

/* The client limited the test when any measured phase lagged or dropped arrivals. */
static void print_client_warning(const json_t *results, FILE *out)
{
    double worst_lag = 0;
    long long dropped = 0;
    const char *lag_phase = "", *drop_phase = "";
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(results, "phases"), i, p)
    {
        const json_t *s = json_object_get(p, "summary");
        if (!json_is_object(s) || json_is_false(json_object_get(p, "measured")))
            continue;
        double lag = number(s, "lag_ms.p99");
        if (!isnan(lag) && lag > worst_lag) {
            worst_lag = lag;
            lag_phase = text(p, "name");
        }
        long long d = summary_count(s, "requests.dropped");
        if (d > 0) {
            if (!dropped)
                drop_phase = text(p, "name");
            if (__builtin_add_overflow(dropped, d, &dropped))
                dropped = LLONG_MAX;
        }
    }
    if (worst_lag > CLIENT_LAG_P99_LIMIT_MS)
        fprintf(out,
                "\nWARNING: the client limited this test: schedule lag P99 %.1f ms in phase %s "
                "(over %.0f ms): requests left later than planned; add workers or threads\n",
                worst_lag, lag_phase, CLIENT_LAG_P99_LIMIT_MS);
    if (dropped > 0)
        fprintf(out,
                "\nWARNING: the client limited this test: %lld arrivals dropped (first in phase "
                "%s) because a cap was reached (max_inflight or connections)\n",
                dropped, drop_phase);
}

void summary_print(const json_t *results, FILE *out)
{
    print_phases(results, out);
    print_iterations(results, out);
    print_classes(results, out);
    print_turns(results, out);
    const json_t *overall = json_object_get(results, "summary");
    if (json_is_object(overall)) {
        double ttft_p99 = number(overall, "ttft_ms.p99");
        char ttft[32] = "-"; /* no data: a dash, never "nan ms" */
        if (!isnan(ttft_p99))
            snprintf(ttft, sizeof ttft, "%.1f ms", ttft_p99);
        fprintf(out,
                "\noverall (measured phases): %lld requests, %.2f%% errors, TTFT p99 %s, "
                "%.0f output tokens/s\n",
                summary_count(overall, "requests.total"), 100.0 * number(overall, "error_rate"),
                ttft, number(overall, "output_tokens_per_s"));
    }
    print_saturation(json_object_get(results, "saturation"), out);
    print_sla(json_object_get(results, "sla"), out);
    chaos_print_summary(json_object_get(results, "chaos"), out); /* the impact table */
    scrape_print_summary(json_object_get(results, "server"), out);
    print_cost_users(results, out);
    print_client_warning(results, out);
    fflush(out);
}
