/*  verdict.c: spread, saturation search, SLA checks, cost and users (see verdict.h).

    Everything here is arithmetic on summaries; the executor decides when to call it.
*/
#include "plan/verdict.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

/* ---- Summaries -------------------------------------------------------------------- */

long long summary_count(const json_t *summary, const char *path)
{
    double v = json_path_number(summary, path);
    if (!isfinite(v))
        return 0;
    const double cap = 4611686018427387904.0; /* 2^62 */
    return v > cap ? (long long)cap : v < -cap ? -(long long)cap : (long long)v;
}

spread_t spread_of(const double *values, int count)
{
    spread_t s = {.count = count, .mean = NAN, .min = NAN, .max = NAN, .stddev = NAN};
    if (count < 1)
        return s;
    double sum = 0;
    s.min = s.max = values[0];
    for (int i = 0; i < count; i++) {
        sum += values[i];
        s.min = fmin(s.min, values[i]);
        s.max = fmax(s.max, values[i]);
    }
    s.mean = sum / count;
    double squares = 0;
    for (int i = 0; i < count; i++)
        squares += (values[i] - s.mean) * (values[i] - s.mean);
    s.stddev = sqrt(squares / count);
    return s;
}

static json_t *spread_json(const spread_t *s)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:i}", "mean", s->mean, "min", s->min, "max", s->max,
                     "stddev", s->stddev, "n", (json_int_t)s->count);
}

/* Averages the object `first` (the shape) over every summary, at `path` (dot prefix). */
static json_t *average_object(json_t *const *summaries, int count, const json_t *first,
                              const char *path, json_t *spread)
{
    json_t *out = json_object();
    const char *key;
    json_t *value;
    double *values = calloc((size_t)count, sizeof *values);
    json_object_foreach((json_t *)first, key, value)
    {
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        if (json_is_object(value)) {
            json_object_set_new(out, key, average_object(summaries, count, value, sub, spread));
        } else if (json_is_number(value) && values) {
            int n = 0;
            for (int i = 0; i < count; i++) {
                double v = json_path_number(summaries[i], sub);
                if (!isnan(v))
                    values[n++] = v;
            }
            spread_t s = spread_of(values, n);
            json_object_set_new(out, key, json_real(s.mean));
            json_object_set_new(spread, sub, spread_json(&s));
        } else {
            json_object_set(out, key, value);
        }
    }
    free(values);
    return out;
}

json_t *summary_average(json_t *const *summaries, int count)
{
    if (count < 1 || !json_is_object(summaries[0]))
        return NULL;
    json_t *spread = json_object();
    json_t *out = average_object(summaries, count, summaries[0], "", spread);
    json_object_set_new(out, "spread", spread);
    json_object_set_new(out, "iterations", json_integer(count));
    return out;
}

/* ---- Saturation search ------------------------------------------------------------ */

/* Rates are compared with this slack so that 0.1 + 0.2 steps do not skip a level. */
#define RATE_EPSILON 1e-9

typedef enum { SEARCH_RAMP, SEARCH_BISECT, SEARCH_DONE } search_state_t;

struct _sat_search_t {
    sat_config_t config;
    double baseline_ttft_p99_ms;
    search_state_t state;
    int coarse_done;  /* coarse levels run so far */
    double pending;   /* the rate handed out by next() and not yet observed, or < 0 */
    bool has_good;    /* some level was good */
    double last_good; /* highest good rate */
    double first_bad; /* lowest bad rate (bisection upper bound) */
    int refinements;
    sat_level_t levels[SAT_MAX_LEVELS];
    int level_count;
};

void sat_config_defaults(sat_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->ttft_p99_factor = 3.0;
    config->max_error_rate = 0.01;
    config->max_rate_shortfall = 0.10;
    config->operating_fraction = 0.7;
    config->max_refinements = 4;
}

int sat_config_check(const sat_config_t *c, char *err, size_t err_size)
{
    if (!(c->start_rps > 0) || !(c->step_rps > 0) || !(c->max_rps >= c->start_rps)) {
        snprintf(err, err_size, "needs start_rate > 0, step_rate > 0 and max_rate >= start_rate");
        return -1;
    }
    if ((c->max_rps - c->start_rps) / c->step_rps > SAT_MAX_LEVELS / 2) {
        snprintf(err, err_size, "at most %d coarse levels: raise step_rate or lower max_rate",
                 SAT_MAX_LEVELS / 2);
        return -1;
    }
    if (c->resolution_rps < 0 || c->max_refinements < 0 || c->max_refinements > 32) {
        snprintf(err, err_size, "resolution must be >= 0 and refinements 0 to 32");
        return -1;
    }
    if (!(c->operating_fraction >= 0 && c->operating_fraction <= 1)) {
        snprintf(err, err_size, "operating point fraction must be within 0..1");
        return -1;
    }
    if (!(c->ttft_p99_factor > 0) && !(c->ttft_p99_max_ms > 0) && c->max_error_rate < 0 &&
        c->max_rate_shortfall < 0) {
        snprintf(err, err_size,
                 "no stop condition: give at least one of ttft_p99_factor, "
                 "ttft_p99_ms, error_rate, rate_shortfall");
        return -1;
    }
    return 0;
}

sat_search_t *sat_search_new(const sat_config_t *config, double baseline_ttft_p99_ms)
{
    char err[160];
    if (sat_config_check(config, err, sizeof err) != 0)
        return NULL;
    sat_search_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (!(self->config.resolution_rps > 0))
        self->config.resolution_rps = config->step_rps / 4;
    if (self->config.max_refinements == 0)
        self->config.max_refinements = 4;
    if (!(self->config.operating_fraction > 0))
        self->config.operating_fraction = 0.7;
    self->baseline_ttft_p99_ms = baseline_ttft_p99_ms > 0 ? baseline_ttft_p99_ms : NAN;
    self->pending = -1;
    return self;
}

void sat_search_destroy(sat_search_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool sat_search_next(sat_search_t *self, double *rate_rps_out)
{
    if (self->pending >= 0) { /* asked twice without observing: the same level again */
        *rate_rps_out = self->pending;
        return true;
    }
    if (self->level_count >= SAT_MAX_LEVELS)
        self->state = SEARCH_DONE;
    if (self->state == SEARCH_RAMP) {
        double rate = self->config.start_rps + self->coarse_done * self->config.step_rps;
        if (rate > self->config.max_rps + RATE_EPSILON) {
            self->state = SEARCH_DONE; /* never saturated within max_rps */
        } else {
            self->pending = rate;
        }
    } else if (self->state == SEARCH_BISECT) {
        double good = self->has_good ? self->last_good : 0;
        if (self->first_bad - good <= self->config.resolution_rps + RATE_EPSILON ||
            self->refinements >= self->config.max_refinements) {
            self->state = SEARCH_DONE;
        } else {
            self->pending = (good + self->first_bad) / 2;
        }
    }
    if (self->state == SEARCH_DONE)
        return false;
    *rate_rps_out = self->pending;
    return true;
}

/* Fills level->good and level->reason from the summary and the config. */
static void judge_level(const sat_search_t *self, sat_level_t *level)
{
    const sat_config_t *c = &self->config;
    level->good = true;
    level->reason[0] = '\0';
    double delivered = !isnan(level->completed_rps) ? level->completed_rps : level->achieved_rps;
    if (isnan(level->ttft_p99_ms) && !(delivered > 0)) {
        level->good = false;
        snprintf(level->reason, sizeof level->reason, "no request completed");
    } else if (c->max_error_rate >= 0 && level->error_rate > c->max_error_rate) {
        level->good = false;
        snprintf(level->reason, sizeof level->reason, "error rate %.4g > %.4g", level->error_rate,
                 c->max_error_rate);
    } else if (c->ttft_p99_max_ms > 0 && level->ttft_p99_ms > c->ttft_p99_max_ms) {
        level->good = false;
        snprintf(level->reason, sizeof level->reason, "p99 TTFT %.1f ms > %.1f ms",
                 level->ttft_p99_ms, c->ttft_p99_max_ms);
    } else if (c->ttft_p99_factor > 0 && !isnan(self->baseline_ttft_p99_ms) &&
               level->ttft_p99_ms > c->ttft_p99_factor * self->baseline_ttft_p99_ms) {
        level->good = false;
        snprintf(level->reason, sizeof level->reason, "p99 TTFT %.1f ms > %.3g x baseline %.1f ms",
                 level->ttft_p99_ms, c->ttft_p99_factor, self->baseline_ttft_p99_ms);
    } else if (c->max_rate_shortfall >= 0 && !isnan(delivered) &&
               delivered < level->rate_rps * (1 - c->max_rate_shortfall)) {
        level->good = false;
        snprintf(level->reason, sizeof level->reason,
                 "delivered %.3g req/s < offered %.3g req/s - %.0f%% (queues grow)", delivered,
                 level->rate_rps, c->max_rate_shortfall * 100);
    }
}

bool sat_search_observe(sat_search_t *self, const json_t *summary)
{
    if (self->pending < 0 || self->level_count >= SAT_MAX_LEVELS)
        return false; /* nothing was asked: a caller bug, ignored */
    sat_level_t *level = &self->levels[self->level_count++];
    memset(level, 0, sizeof *level);
    level->rate_rps = self->pending;
    level->refinement = self->state == SEARCH_BISECT;
    level->ttft_p99_ms = json_path_number(summary, "ttft_ms.p99");
    level->error_rate = json_path_number(summary, "error_rate");
    level->achieved_rps = json_path_number(summary, "achieved_rps");
    /* What the cluster completed during the level (by time): the level's own requests all
       complete eventually, so only this shows a queue growing. */
    level->completed_rps = json_path_number(summary, "delivered_rps");
    if (isnan(level->completed_rps))
        level->completed_rps = json_path_number(summary, "completed_rps");
    level->output_tokens_per_s = json_path_number(summary, "output_tokens_per_s");
    judge_level(self, level);
    self->pending = -1;

    if (level->good) {
        if (!self->has_good || level->rate_rps > self->last_good)
            self->last_good = level->rate_rps;
        self->has_good = true;
    } else if (self->state == SEARCH_RAMP || level->rate_rps < self->first_bad) {
        self->first_bad = level->rate_rps;
    }
    if (self->state == SEARCH_RAMP) {
        self->coarse_done++;
        if (!level->good)
            self->state = SEARCH_BISECT; /* stop ramping: refine below the first bad level */
    } else if (self->state == SEARCH_BISECT) {
        self->refinements++;
    }
    return level->good;
}

void sat_search_result(const sat_search_t *self, sat_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->reached = self->first_bad > 0;
    out->first_bad_rps = self->first_bad;
    out->saturation_rps = self->has_good ? self->last_good : 0;
    out->level_count = self->level_count;
    for (int i = 0; i < self->level_count; i++) {
        const sat_level_t *l = &self->levels[i];
        if (l->output_tokens_per_s > out->max_output_tokens_per_s) {
            out->max_output_tokens_per_s = l->output_tokens_per_s;
            out->max_output_tokens_rate_rps = l->rate_rps;
        }
        double delivered = !isnan(l->completed_rps) ? l->completed_rps : l->achieved_rps;
        if (delivered > out->max_throughput_rps)
            out->max_throughput_rps = delivered;
    }
    out->operating_point_rps = self->config.operating_fraction * out->saturation_rps;
}

const sat_level_t *sat_search_levels(const sat_search_t *self, int *count_out)
{
    *count_out = self->level_count;
    return self->levels;
}

void sat_search_write_json(const sat_search_t *self, jsonw_t *w)
{
    sat_result_t r;
    sat_search_result(self, &r);
    jsonw_object_begin(w);
    jsonw_kv_double(w, "rps", r.saturation_rps);
    jsonw_kv_double(w, "max_output_tokens_per_s", r.max_output_tokens_per_s);
    jsonw_kv_double(w, "max_output_tokens_rate_rps", r.max_output_tokens_rate_rps);
    jsonw_kv_double(w, "max_throughput_rps", r.max_throughput_rps);
    jsonw_kv_double(w, "operating_point_rps", r.operating_point_rps);
    jsonw_kv_double(w, "operating_fraction", self->config.operating_fraction);
    jsonw_kv_bool(w, "reached", r.reached);
    if (r.reached)
        jsonw_kv_double(w, "first_bad_rps", r.first_bad_rps);
    else
        jsonw_kv_double(w, "max_tested_rps", r.saturation_rps);
    jsonw_kv_double(w, "baseline_ttft_p99_ms", self->baseline_ttft_p99_ms);
    jsonw_key(w, "levels");
    jsonw_array_begin(w);
    for (int i = 0; i < self->level_count; i++) {
        const sat_level_t *l = &self->levels[i];
        jsonw_object_begin(w);
        jsonw_kv_double(w, "rate_rps", l->rate_rps);
        jsonw_kv_bool(w, "good", l->good);
        jsonw_kv_bool(w, "refinement", l->refinement);
        if (!l->good)
            jsonw_kv_string(w, "reason", l->reason);
        jsonw_kv_double(w, "ttft_p99_ms", l->ttft_p99_ms);
        jsonw_kv_double(w, "error_rate", l->error_rate);
        jsonw_kv_double(w, "achieved_rps", l->achieved_rps);
        jsonw_kv_double(w, "completed_rps", l->completed_rps);
        jsonw_kv_double(w, "output_tokens_per_s", l->output_tokens_per_s);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

/* ---- SLA checks --------------------------------------------------------------------- */

static const char *const hist_stats[] = {"p50", "p90", "p95",  "p99",    "p999",
                                         "min", "max", "mean", "stddev", "count"};
static const char *const scalar_metrics[] = {"error_rate",
                                             "duration_s",
                                             "offered_rps",
                                             "achieved_rps",
                                             "completed_rps",
                                             "goodput_rps",
                                             "delivered_rps",
                                             "output_tokens_per_s",
                                             "input_tokens_per_s",
                                             "output_tokens",
                                             "input_tokens",
                                             "bytes_in",
                                             "requests.total",
                                             "requests.ok",
                                             "requests.errors",
                                             "requests.dropped",
                                             "requests.scheduled",
                                             "requests.sent",
                                             "tokens_estimated_requests"};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

bool sla_metric_known(const char *path)
{
    for (int i = 0; i < COUNT_OF(scalar_metrics); i++) {
        if (strcmp(path, scalar_metrics[i]) == 0)
            return true;
    }
    if (strncmp(path, "errors_by_class.", 16) == 0)
        return error_class_parse(path + 16) >= 0;
    const char *dot = strchr(path, '.');
    if (!dot || dot - path < 4 || strncmp(dot - 3, "_ms", 3) != 0)
        return false;
    char hist[32];
    size_t len = (size_t)(dot - 3 - path);
    if (len >= sizeof hist)
        return false;
    memcpy(hist, path, len);
    hist[len] = '\0';
    if (metric_hist_parse(hist) < 0)
        return false;
    for (int i = 0; i < COUNT_OF(hist_stats); i++) {
        if (strcmp(dot + 1, hist_stats[i]) == 0)
            return true;
    }
    return false;
}

int sla_check_parse(const char *text, sla_check_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    size_t len = 0;
    while (p[len] && (isalnum((unsigned char)p[len]) || p[len] == '_' || p[len] == '.'))
        len++;
    if (len == 0 || len >= sizeof out->metric) {
        snprintf(err, err_size,
                 "expected 'METRIC <= LIMIT' or 'METRIC >= LIMIT' "
                 "(e.g. 'ttft_ms.p99 <= 800')");
        return -1;
    }
    memcpy(out->metric, p, len);
    out->metric[len] = '\0';
    if (!sla_metric_known(out->metric)) {
        snprintf(err, err_size,
                 "unknown metric '%s' (expected e.g. ttft_ms.p99, itl_ms.p50, e2e_ms.max, "
                 "error_rate, goodput_rps, output_tokens_per_s; docs/plans.md lists them)",
                 out->metric);
        return -1;
    }
    p += len;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "<=", 2) == 0) {
        out->op = SLA_AT_MOST;
    } else if (strncmp(p, ">=", 2) == 0) {
        out->op = SLA_AT_LEAST;
    } else {
        snprintf(err, err_size, "expected '<=' or '>=' after '%s'", out->metric);
        return -1;
    }
    p += 2;
    char *end = NULL;
    double limit = strtod(p, &end);
    if (end == p || !isfinite(limit)) {
        snprintf(err, err_size, "expected a number after the operator in '%s'", text);
        return -1;
    }
    while (isspace((unsigned char)*end))
        end++;
    bool is_ms = strstr(out->metric, "_ms.") != NULL;
    if (*end == '%') {
        limit /= 100;
        end++;
    } else if (is_ms && strncmp(end, "ms", 2) == 0) {
        end += 2;
    } else if (is_ms && *end == 's') {
        limit *= 1000;
        end++;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end) {
        snprintf(err, err_size, "unexpected '%s' after the limit (a number, a percentage%s)", end,
                 is_ms ? " or a duration in ms/s" : "");
        return -1;
    }
    out->limit = limit;
    return 0;
}

void sla_check_format(const sla_check_t *check, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s %s %.6g", check->metric,
             check->op == SLA_AT_MOST ? "<=" : ">=", check->limit);
}

bool sla_evaluate(const sla_check_t *checks, int count, const json_t *summary,
                  sla_result_t *results)
{
    bool all = true;
    for (int i = 0; i < count; i++) {
        sla_result_t *r = &results[i];
        r->check = checks[i];
        r->phase = NULL;
        r->actual = json_path_number(summary, checks[i].metric);
        if (isnan(r->actual))
            r->passed = false; /* no data is not a pass */
        else if (checks[i].op == SLA_AT_MOST)
            r->passed = r->actual <= checks[i].limit;
        else
            r->passed = r->actual >= checks[i].limit;
        all = all && r->passed;
    }
    return all;
}

void sla_write_text(const sla_result_t *results, int count, FILE *out)
{
    bool all = true, phases = false;
    for (int i = 0; i < count; i++)
        phases = phases || results[i].phase;
    if (phases)
        fprintf(out, "%-20s ", "phase");
    fprintf(out, "%-32s %-4s %12s %12s  %s\n", "SLA check", "", "limit", "actual", "result");
    for (int i = 0; i < count; i++) {
        const sla_result_t *r = &results[i];
        char actual[32];
        if (isnan(r->actual))
            snprintf(actual, sizeof actual, "no data");
        else
            snprintf(actual, sizeof actual, "%.4g", r->actual);
        if (phases)
            fprintf(out, "%-20s ", r->phase ? r->phase : "(run)");
        fprintf(out, "%-32s %-4s %12.4g %12s  %s\n", r->check.metric,
                r->check.op == SLA_AT_MOST ? "<=" : ">=", r->check.limit, actual,
                r->passed ? "PASS" : "FAIL");
        all = all && r->passed;
    }
    fprintf(out, "SLA: %s (%d check%s)\n", all ? "PASS" : "FAIL", count, count == 1 ? "" : "s");
}

void sla_write_json(const sla_result_t *results, int count, jsonw_t *w)
{
    bool all = true;
    for (int i = 0; i < count; i++)
        all = all && results[i].passed;
    jsonw_object_begin(w);
    jsonw_kv_bool(w, "passed", all);
    jsonw_key(w, "checks");
    jsonw_array_begin(w);
    for (int i = 0; i < count; i++) {
        const sla_result_t *r = &results[i];
        jsonw_object_begin(w);
        jsonw_kv_string(w, "metric", r->check.metric);
        jsonw_kv_string(w, "op", r->check.op == SLA_AT_MOST ? "<=" : ">=");
        jsonw_kv_double(w, "limit", r->check.limit);
        jsonw_kv_double(w, "actual", r->actual); /* NAN is written as null */
        jsonw_kv_bool(w, "passed", r->passed);
        if (r->phase)
            jsonw_kv_string(w, "phase", r->phase);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

static void xml_escape_into(buf_t *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&':
            buf_append_str(out, "&amp;");
            break;
        case '<':
            buf_append_str(out, "&lt;");
            break;
        case '>':
            buf_append_str(out, "&gt;");
            break;
        case '"':
            buf_append_str(out, "&quot;");
            break;
        case '\'':
            buf_append_str(out, "&apos;");
            break;
        default:
            /* XML 1.0 forbids most control characters even when escaped */
            buf_append_char(out, (unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' ? '?' : *p);
        }
    }
}

void sla_write_junit(const sla_result_t *results, int count, const char *suite_name, double time_s,
                     buf_t *out)
{
    int failures = 0;
    for (int i = 0; i < count; i++)
        failures += !results[i].passed;
    buf_append_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    buf_append_str(out, "  <testsuite name=\"");
    xml_escape_into(out, suite_name ? suite_name : "surge.sla");
    buf_printf(out, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n", count,
               failures, isfinite(time_s) ? time_s : 0.0);
    for (int i = 0; i < count; i++) {
        const sla_result_t *r = &results[i];
        char name[192], check[128];
        sla_check_format(&r->check, check, sizeof check);
        if (r->phase)
            snprintf(name, sizeof name, "%.60s: %s", r->phase, check);
        else
            snprintf(name, sizeof name, "%s", check);
        buf_append_str(out, "    <testcase classname=\"surge.sla\" name=\"");
        xml_escape_into(out, name);
        buf_append_str(out, "\"");
        if (r->passed) {
            buf_append_str(out, "/>\n");
            continue;
        }
        char message[256];
        const char *in = r->phase ? " in phase " : "";
        const char *phase = r->phase ? r->phase : "";
        if (isnan(r->actual))
            snprintf(message, sizeof message, "%s%s%.60s: no data", r->check.metric, in, phase);
        else
            snprintf(message, sizeof message, "%s%s%.60s = %.6g, limit %s %.6g", r->check.metric,
                     in, phase, r->actual,
                     r->check.op == SLA_AT_MOST ? "<=" : ">=", r->check.limit);
        buf_append_str(out, ">\n      <failure type=\"sla\" message=\"");
        xml_escape_into(out, message);
        buf_append_str(out, "\">");
        xml_escape_into(out, message);
        buf_append_str(out, "</failure>\n    </testcase>\n");
    }
    buf_append_str(out, "  </testsuite>\n</testsuites>\n");
}

/* ---- Cost and users ----------------------------------------------------------------- */

double cost_per_million_output_tokens(const cost_config_t *config, double output_tokens_per_s)
{
    double utilisation = config->utilisation > 0 ? config->utilisation : 1.0;
    if (!(output_tokens_per_s > 0) || config->gpu_count <= 0)
        return NAN;
    double cost_per_s = config->gpu_count * config->price_per_gpu_hour / 3600.0;
    return cost_per_s / (output_tokens_per_s * utilisation) * 1e6;
}

static void cost_point(const cost_config_t *config, const char *key, double tokens_per_s,
                       jsonw_t *w)
{
    jsonw_key(w, key);
    jsonw_object_begin(w);
    jsonw_kv_double(w, "output_tokens_per_s", tokens_per_s);
    jsonw_kv_double(w, "per_million_output_tokens",
                    cost_per_million_output_tokens(config, tokens_per_s));
    jsonw_object_end(w);
}

void cost_write_json(const cost_config_t *config, double max_tokens_per_s, double op_tokens_per_s,
                     jsonw_t *w)
{
    jsonw_object_begin(w);
    jsonw_kv_int(w, "gpu_count", config->gpu_count);
    jsonw_kv_double(w, "price_per_gpu_hour", config->price_per_gpu_hour);
    jsonw_kv_string(w, "currency", config->currency[0] ? config->currency : "USD");
    jsonw_kv_double(w, "utilisation", config->utilisation > 0 ? config->utilisation : 1.0);
    cost_point(config, "at_max_throughput", max_tokens_per_s, w);
    if (op_tokens_per_s > 0)
        cost_point(config, "at_operating_point", op_tokens_per_s, w);
    jsonw_object_end(w);
}

double users_supported(double rate_rps, double request_duration_s, double think_time_s)
{
    if (!(rate_rps >= 0) || !(request_duration_s >= 0) || !(think_time_s >= 0))
        return NAN;
    return rate_rps * (request_duration_s + think_time_s);
}

void users_write_json(double rate_rps, double request_duration_s, double think_time_s, jsonw_t *w)
{
    jsonw_object_begin(w);
    jsonw_kv_double(w, "rate_rps", rate_rps);
    jsonw_kv_double(w, "request_duration_s", request_duration_s);
    jsonw_kv_double(w, "think_time_s", think_time_s);
    jsonw_kv_double(w, "users", users_supported(rate_rps, request_duration_s, think_time_s));
    jsonw_object_end(w);
}
