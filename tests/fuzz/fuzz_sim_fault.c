/*  fuzz_sim_fault: the body of `POST /admin/fault` to a `surge sim` (simulator/sim_http.c
    hands it to sim_fault_spec_from_json, then sim_faults_set). Any bytes: a fault armed or
    a 400 reason, never a crash, an out-of-bounds access, a leak or undefined arithmetic on
    the clock; and what the sim then shows stays well-formed: GET /admin/faults is valid
    JSON, /metrics is valid Prometheus text (common/prom.h parses it).

    Input: the request body; then the same body again 1 h later (a second fault set while
    the first may still be armed). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "common/prom.h"
#include "simulator/sim_faults.h"

static void check_shown(const sim_faults_t *faults, int64_t now_ns)
{
    buf_t out;
    buf_init(&out);
    jsonw_t w;
    jsonw_init(&w, &out);
    sim_faults_write_json(faults, &w, now_ns);
    json_error_t jerr;
    json_t *doc = json_loadb(out.data, out.len, 0, &jerr);
    if (!json_is_object(doc)) {
        fprintf(stderr, "/admin/faults is not JSON (%s): %s\n", jerr.text, out.data);
        abort();
    }
    json_decref(doc);
    buf_clear(&out);
    sim_faults_write_metrics(faults, &out, now_ns);
    char err[256];
    prom_doc_t *page = prom_parse(out.data ? out.data : "", out.len, NULL, err, sizeof err);
    if (!page) {
        fprintf(stderr, "/metrics is not Prometheus text (%s): %s\n", err, out.data);
        abort();
    }
    prom_doc_destroy(&page);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    sim_faults_t faults;
    sim_faults_init(&faults);
    const int64_t t0 = 1000000000000LL; /* a monotonic time 1000 s after boot */
    const int64_t hour_ns = 3600LL * 1000000000LL;
    for (int round = 0; round < 2; round++) {
        int64_t now = t0 + round * hour_ns;
        sim_fault_spec_t spec;
        char err[256];
        if (sim_fault_spec_from_json(root, &spec, err, sizeof err) == 0)
            sim_faults_set(&faults, &spec, now, err, sizeof err);
        for (int k = 0; k < SIM_FAULT_KIND_COUNT; k++) {
            sim_faults_active(&faults, (sim_fault_kind_t)k, now);
            sim_faults_active(&faults, (sim_fault_kind_t)k, now + hour_ns / 2);
        }
        check_shown(&faults, now);
    }
    json_decref(root);
    return 0;
}
