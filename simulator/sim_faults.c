/*  sim_faults.c: fault windows, the --fault flag's syntax, and their exposition. */
#include "simulator/sim_faults.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

static const char *const kind_names[SIM_FAULT_KIND_COUNT] = {
    [SIM_FAULT_DOWN] = "down",
    [SIM_FAULT_UNAVAILABLE] = "503",
    [SIM_FAULT_SLOW] = "slow",
    [SIM_FAULT_ERROR_RATE] = "error_rate",
    [SIM_FAULT_DROP_MID_STREAM] = "drop_mid_stream",
    [SIM_FAULT_STALL] = "stall",
};

const char *sim_fault_kind_name(sim_fault_kind_t kind)
{
    return kind < SIM_FAULT_KIND_COUNT ? kind_names[kind] : "?";
}

int sim_fault_kind_parse(const char *name, sim_fault_kind_t *kind)
{
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++) {
        if (name && strcmp(name, kind_names[i]) == 0) {
            *kind = (sim_fault_kind_t)i;
            return 0;
        }
    }
    return -1;
}

static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int sim_fault_spec_parse(const char *text, sim_fault_spec_t *spec, char *err, size_t err_size)
{
    *spec = (sim_fault_spec_t){.kind = SIM_FAULT_KIND_COUNT, .factor = 2, .fraction = 1};
    char copy[256];
    if (strlen(text) >= sizeof copy) {
        snprintf(err, err_size, "--fault: too long");
        return -1;
    }
    strcpy(copy, text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, err_size, "--fault '%s': expected key=value, got '%s'", text, item);
            return -1;
        }
        *eq = '\0';
        const char *key = item, *value = eq + 1;
        double *target = NULL;
        if (strcmp(key, "kind") == 0) {
            if (sim_fault_kind_parse(value, &spec->kind) != 0) {
                snprintf(err, err_size,
                         "--fault '%s': unknown kind '%s' (down, 503, slow, error_rate, "
                         "drop_mid_stream, stall)",
                         text, value);
                return -1;
            }
            continue;
        } else if (strcmp(key, "duration_s") == 0) {
            target = &spec->duration_s;
        } else if (strcmp(key, "start_s") == 0) {
            target = &spec->start_s;
        } else if (strcmp(key, "factor") == 0) {
            target = &spec->factor;
        } else if (strcmp(key, "fraction") == 0) {
            target = &spec->fraction;
        } else {
            snprintf(err, err_size, "--fault '%s': unknown key '%s'", text, key);
            return -1;
        }
        if (parse_double(value, target) != 0) {
            snprintf(err, err_size, "--fault '%s': %s is not a number: '%s'", text, key, value);
            return -1;
        }
    }
    if (spec->kind == SIM_FAULT_KIND_COUNT) {
        snprintf(err, err_size, "--fault '%s': kind=... is required", text);
        return -1;
    }
    return 0;
}

static double json_number_or(const json_t *obj, const char *key, double fallback, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return fallback;
    if (!json_is_number(v)) {
        *bad = true;
        return fallback;
    }
    return json_number_value(v);
}

int sim_fault_spec_from_json(const json_t *root, sim_fault_spec_t *spec, char *err, size_t err_size)
{
    *spec = (sim_fault_spec_t){.factor = 2, .fraction = 1};
    json_t *kind = json_object_get(root, "kind");
    bool bad = false;
    spec->duration_s = json_number_or(root, "duration_s", 0, &bad);
    spec->start_s = json_number_or(root, "start_s", 0, &bad);
    spec->factor = json_number_or(root, "factor", 2, &bad);
    spec->fraction = json_number_or(root, "fraction", 1, &bad);
    if (!json_is_string(kind) || sim_fault_kind_parse(json_string_value(kind), &spec->kind) != 0) {
        snprintf(err, err_size,
                 "kind must be one of down, 503, slow, error_rate, drop_mid_stream, stall");
        return -1;
    }
    if (bad) {
        snprintf(err, err_size, "duration_s, start_s, factor and fraction must be numbers");
        return -1;
    }
    return 0;
}

void sim_faults_init(sim_faults_t *self)
{
    memset(self, 0, sizeof *self);
}

int sim_faults_set(sim_faults_t *self, const sim_fault_spec_t *spec, int64_t now_ns, char *err,
                   size_t err_size)
{
    if (spec->kind >= SIM_FAULT_KIND_COUNT) {
        snprintf(err, err_size, "unknown fault kind");
        return -1;
    }
    if (!(spec->start_s >= 0) || spec->start_s > 86400 || spec->duration_s > 86400) {
        snprintf(err, err_size, "start_s must be in [0, 86400] and duration_s at most 86400");
        return -1;
    }
    if (spec->kind == SIM_FAULT_DOWN && !(spec->duration_s > 0)) {
        snprintf(err, err_size, "down needs duration_s > 0: nothing could bring it back");
        return -1;
    }
    if (spec->kind == SIM_FAULT_SLOW && !(spec->factor >= 1 && spec->factor <= 1000)) {
        snprintf(err, err_size, "slow needs factor in [1, 1000]");
        return -1;
    }
    if ((spec->kind == SIM_FAULT_ERROR_RATE || spec->kind == SIM_FAULT_DROP_MID_STREAM) &&
        !(spec->fraction > 0 && spec->fraction <= 1)) {
        snprintf(err, err_size, "fraction must be in (0, 1]");
        return -1;
    }
    sim_fault_state_t *state = &self->kinds[spec->kind];
    state->set = true;
    state->start_ns = now_ns + (int64_t)(spec->start_s * NS_PER_S);
    state->end_ns = spec->duration_s > 0 ? state->start_ns + (int64_t)(spec->duration_s * NS_PER_S)
                                         : SIM_FAULT_FOREVER;
    state->factor = spec->factor;
    state->fraction = spec->fraction;
    state->injected_total++;
    return 0;
}

void sim_faults_clear(sim_faults_t *self, int kind)
{
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++) {
        if (kind < 0 || kind == i)
            self->kinds[i].set = false;
    }
}

bool sim_faults_active(const sim_faults_t *self, sim_fault_kind_t kind, int64_t now_ns)
{
    const sim_fault_state_t *s = &self->kinds[kind];
    return s->set && now_ns >= s->start_ns && now_ns < s->end_ns;
}

sim_fault_state_t *sim_faults_get(sim_faults_t *self, sim_fault_kind_t kind)
{
    return &self->kinds[kind];
}

void sim_faults_write_json(const sim_faults_t *self, jsonw_t *w, int64_t now_ns)
{
    jsonw_object_begin(w);
    jsonw_key(w, "faults");
    jsonw_array_begin(w);
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++) {
        const sim_fault_state_t *s = &self->kinds[i];
        if (!s->set || now_ns >= s->end_ns)
            continue;
        jsonw_object_begin(w);
        jsonw_kv_string(w, "kind", kind_names[i]);
        jsonw_kv_bool(w, "active", sim_faults_active(self, (sim_fault_kind_t)i, now_ns));
        double starts_in = s->start_ns > now_ns ? (double)(s->start_ns - now_ns) / NS_PER_S : 0;
        jsonw_kv_double(w, "starts_in_s", starts_in);
        jsonw_key(w, "remaining_s");
        if (s->end_ns == SIM_FAULT_FOREVER)
            jsonw_null(w);
        else
            jsonw_double(w, (double)(s->end_ns - now_ns) / NS_PER_S);
        jsonw_kv_double(w, "factor", s->factor);
        jsonw_kv_double(w, "fraction", s->fraction);
        jsonw_kv_int(w, "hits", s->hits_total);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

void sim_faults_write_metrics(const sim_faults_t *self, buf_t *out, int64_t now_ns)
{
    buf_append_str(out, "# HELP surge_sim_fault_active 1 while an injected fault of this kind "
                        "is in effect.\n# TYPE surge_sim_fault_active gauge\n");
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++)
        buf_printf(out, "surge_sim_fault_active{kind=\"%s\"} %d\n", kind_names[i],
                   sim_faults_active(self, (sim_fault_kind_t)i, now_ns) ? 1 : 0);
    buf_append_str(out, "# HELP surge_sim_faults_injected_total Faults set, by kind.\n"
                        "# TYPE surge_sim_faults_injected_total counter\n");
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++)
        buf_printf(out, "surge_sim_faults_injected_total{kind=\"%s\"} %lld\n", kind_names[i],
                   (long long)self->kinds[i].injected_total);
    buf_append_str(out, "# HELP surge_sim_fault_hits_total Requests (steps for slow and stall) a "
                        "fault affected.\n# TYPE surge_sim_fault_hits_total counter\n");
    for (int i = 0; i < SIM_FAULT_KIND_COUNT; i++)
        buf_printf(out, "surge_sim_fault_hits_total{kind=\"%s\"} %lld\n", kind_names[i],
                   (long long)self->kinds[i].hits_total);
}
