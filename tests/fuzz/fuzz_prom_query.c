/*  fuzz_prom_query: a Prometheus server's /api/v1/query_range answer (coordinator/
    prom_query.c) is outside input. Any bytes: series or a reason, never a crash, an
    out-of-bounds access or a leak; and what is written is valid JSON (it goes into
    results.json) with at most 64 series of at most 10000 points, each [t, value-or-null]
    with t a number.

    Input: the answer body. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "coordinator/prom_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    prom_query_config_t cfg = {
        .url = "http://prometheus:9090", .run_t0_wall_ns = 1700000000000000000LL, .step_ms = 1000};
    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    jsonw_object_begin(&w);
    char why[512];
    const char *error =
        prom_query_answer_write(&cfg, (const char *)data, size, &w, why, sizeof why);
    jsonw_object_end(&w);
    json_error_t jerr;
    json_t *doc = json_loadb(out.data, out.len, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "not JSON (%s): %.300s\n", jerr.text, out.data);
        abort();
    }
    json_t *series = json_object_get(doc, "series");
    if (error ? series != NULL : !json_is_array(series) || json_array_size(series) > 64) {
        fprintf(stderr, "series and error disagree: %s / %.300s\n", error ? error : "-", out.data);
        abort();
    }
    size_t i, k;
    json_t *s, *pt;
    json_array_foreach(series, i, s)
    {
        json_t *points = json_object_get(s, "points");
        if (!json_is_string(json_object_get(s, "labels")) || json_array_size(points) > 10000)
            abort();
        json_array_foreach(points, k, pt)
        {
            json_t *v = json_array_get(pt, 1);
            if (json_array_size(pt) != 2 || !json_is_number(json_array_get(pt, 0)) ||
                !(json_is_number(v) || json_is_null(v)))
                abort();
        }
    }
    json_decref(doc);
    buf_free(&out);
    return 0;
}
