/*  prom_query.c: Prometheus range queries over the run's window (see prom_query.h).

    Runs once, at the end of the run, after the fleet has stopped: the coordinator's loop
    is over, so waiting here for the server delays only the writing of results.json.
*/
#include "coordinator/prom_query.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/url.h"

#define PROM_QUERY_TIMEOUT_MS 10000
#define PROM_QUERY_MAX_BYTES  (16 << 20)
#define PROM_QUERY_MAX_SERIES 64
#define PROM_QUERY_MAX_POINTS 10000

const char *const prom_query_default_names[] = {"gpu_utilization_pct", "gpu_memory_used_mib",
                                                "gpu_power_w"};
const char *const prom_query_default_exprs[] = {
    "avg(DCGM_FI_DEV_GPU_UTIL)", "sum(DCGM_FI_DEV_FB_USED)", "sum(DCGM_FI_DEV_POWER_USAGE)"};
const int prom_query_default_count = 3;

/* ---- querying --------------------------------------------------------------------- */

typedef struct {
    buf_t body;
    bool too_big;
} answer_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    answer_t *a = arg;
    size_t n = size * nmemb;
    if (a->body.len + n > PROM_QUERY_MAX_BYTES) {
        a->too_big = true;
        return 0;
    }
    buf_append(&a->body, data, n);
    return n;
}

/* GETs the query's answer into a; NULL on success, else why (static or in why). */
static const char *fetch(CURL *curl, const prom_query_config_t *cfg, const char *expr, answer_t *a,
                         char *why, size_t why_size)
{
    char *q = curl_easy_escape(curl, expr, 0);
    if (!q)
        return "out of memory";
    buf_t path;
    buf_init(&path);
    buf_printf(&path, "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=%.3f", q,
               (double)cfg->start_wall_ns / 1e9, (double)cfg->end_wall_ns / 1e9,
               (double)cfg->step_ms / 1e3);
    curl_free(q);
    /* The server's own userinfo and query stay (its credentials); the path goes after its
       path, the query after its query (common/url.h). */
    char *url = url_with_path(cfg->url, path.data, true, why, why_size);
    buf_free(&path);
    if (!url)
        return why;
    char curl_error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)PROM_QUERY_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "surge/" SURGE_VERSION " (prometheus)");
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode rc = curl_easy_perform(curl);
    free(url);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (a->too_big)
        snprintf(why, why_size, "the answer is larger than %d bytes", PROM_QUERY_MAX_BYTES);
    else if (rc != CURLE_OK)
        snprintf(why, why_size, "%s", curl_error[0] ? curl_error : curl_easy_strerror(rc));
    else if (status != 200 && status != 400 && status != 422)
        snprintf(why, why_size, "HTTP %ld", status); /* 400/422 carry Prometheus's error */
    else
        return NULL;
    return why;
}

/* The label set as {a="b", ...} text: the series' name in the report. */
static void labels_text(const json_t *metric, buf_t *out)
{
    const char *key;
    const json_t *value;
    buf_append_char(out, '{');
    bool first = true;
    json_object_foreach((json_t *)metric, key, value)
    {
        buf_printf(out, "%s%s=\"%s\"", first ? "" : ", ", key,
                   json_is_string(value) ? json_string_value(value) : "?");
        first = false;
    }
    buf_append_char(out, '}');
}

/* Writes the answer's series, or returns why it has none. */
static const char *write_matrix(const prom_query_config_t *cfg, const json_t *doc, jsonw_t *w,
                                char *why, size_t why_size)
{
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!status)
        return "not a Prometheus API answer";
    if (strcmp(status, "success") != 0) {
        snprintf(why, why_size, "%s: %s",
                 json_string_value(json_object_get(doc, "errorType"))
                     ? json_string_value(json_object_get(doc, "errorType"))
                     : "error",
                 json_string_value(json_object_get(doc, "error"))
                     ? json_string_value(json_object_get(doc, "error"))
                     : "no reason given");
        return why;
    }
    const json_t *data = json_object_get(doc, "data");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    const json_t *result = json_object_get(data, "result");
    if (!type || strcmp(type, "matrix") != 0 || !json_is_array(result))
        return "the answer is not a matrix";
    jsonw_key(w, "series");
    jsonw_array_begin(w);
    size_t i;
    const json_t *s;
    json_array_foreach(result, i, s)
    {
        if (i >= PROM_QUERY_MAX_SERIES)
            break;
        jsonw_object_begin(w);
        buf_t name;
        buf_init(&name);
        labels_text(json_object_get(s, "metric"), &name);
        jsonw_kv_string(w, "labels", name.data ? name.data : "{}");
        buf_free(&name);
        jsonw_key(w, "points");
        jsonw_array_begin(w);
        size_t k;
        const json_t *pt;
        json_array_foreach(json_object_get(s, "values"), k, pt)
        {
            if (k >= PROM_QUERY_MAX_POINTS)
                break;
            double ts = json_number_value(json_array_get(pt, 0));
            const char *text = json_string_value(json_array_get(pt, 1));
            if (!json_is_number(json_array_get(pt, 0)) || !text)
                continue;
            char *end;
            double v = strtod(text, &end);
            jsonw_array_begin(w);
            jsonw_double(w, ts - (double)cfg->run_t0_wall_ns / 1e9);
            if (end != text && *end == '\0' && isfinite(v))
                jsonw_double(w, v);
            else
                jsonw_null(w); /* NaN, +Inf: a gap */
            jsonw_array_end(w);
        }
        jsonw_array_end(w);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    return NULL;
}

const char *prom_query_answer_write(const prom_query_config_t *cfg, const char *body, size_t len,
                                    jsonw_t *w, char *why, size_t why_size)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body ? body : "", body ? len : 0, 0, &jerr);
    if (!doc) {
        snprintf(why, why_size, "the answer is not JSON: line %d:%d: %s", jerr.line, jerr.column,
                 jerr.text);
        return why;
    }
    /* write_matrix writes "series" only when it succeeds, before "error". */
    const char *error = write_matrix(cfg, doc, w, why, why_size);
    json_decref(doc);
    return error;
}

void prom_query_write(const prom_query_config_t *cfg, jsonw_t *w)
{
    char start[40], end[40];
    clock_format_iso8601(cfg->start_wall_ns, start, sizeof start);
    clock_format_iso8601(cfg->end_wall_ns, end, sizeof end);
    jsonw_key(w, "prometheus");
    jsonw_object_begin(w);
    char *shown = url_redact(cfg->url); /* a Prometheus behind basic auth: not its password */
    jsonw_kv_string(w, "url", shown ? shown : "");
    free(shown);
    jsonw_kv_string(w, "start", start);
    jsonw_kv_string(w, "end", end);
    jsonw_kv_double(w, "step_s", (double)cfg->step_ms / 1e3);
    jsonw_key(w, "queries");
    jsonw_array_begin(w);
    CURL *curl = curl_easy_init();
    for (int i = 0; i < cfg->count; i++) {
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", cfg->names[i]);
        jsonw_kv_string(w, "expr", cfg->exprs[i]);
        char why[512] = "";
        const char *error = curl ? NULL : "out of memory";
        answer_t a = {.too_big = false};
        buf_init(&a.body);
        if (curl) {
            curl_easy_reset(curl);
            error = fetch(curl, cfg, cfg->exprs[i], &a, why, sizeof why);
        }
        if (!error)
            error = prom_query_answer_write(cfg, a.body.data, a.body.len, w, why, sizeof why);
        buf_free(&a.body);
        jsonw_key(w, "error");
        if (error) {
            jsonw_string(w, error);
            log_warn("prometheus query %s: %s", cfg->names[i], error);
        } else {
            jsonw_null(w);
        }
        jsonw_object_end(w);
    }
    if (curl)
        curl_easy_cleanup(curl);
    jsonw_array_end(w);
    jsonw_object_end(w);
}
