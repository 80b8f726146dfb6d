/*  chaos_plan.c: the plan file's `chaos:` (chaos_plan.h, docs/chaos.md). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/chaos_plan.h"
#include "plan/plan_yaml.h"

/* ---- the plan file's `chaos:` -------------------------------------------------------- */

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t err_size;
} reader_t;

__attribute__((format(printf, 3, 4))) static int fail(reader_t *r, const yaml_node_t *node,
                                                      const char *fmt, ...)
{
    size_t line = node ? node->start_mark.line + 1 : 1,
           col = node ? node->start_mark.column + 1 : 1;
    int n = snprintf(r->err, r->err_size, "%s:%zu:%zu: chaos: ", r->file, line, col);
    if (n >= 0 && (size_t)n < r->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *text_of(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* The value of `key` in a mapping, checking every key against allowed (NULL-terminated). */
static int map_fields(reader_t *r, yaml_node_t *node, const char *what, const char *const *allowed,
                      yaml_node_t **values)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(r, node, "%s: expected a mapping", what);
    for (int i = 0; allowed[i]; i++)
        values[i] = NULL;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *value = yaml_document_get_node(r->doc, p->value);
        const char *k = text_of(key);
        if (!k || !value)
            return fail(r, key ? key : node, "%s: expected plain keys", what);
        int index = -1;
        for (int i = 0; allowed[i]; i++) {
            if (strcmp(allowed[i], k) == 0)
                index = i;
        }
        if (index < 0) {
            buf_t keys;
            buf_init(&keys);
            for (int i = 0; allowed[i]; i++)
                buf_printf(&keys, "%s%s", i ? ", " : "", allowed[i]);
            fail(r, key, "%s: unknown key '%.60s' (expected one of: %s)", what, k, keys.data);
            buf_free(&keys);
            return -1;
        }
        if (values[index])
            return fail(r, key, "%s: duplicate key '%s'", what, k);
        values[index] = value;
    }
    return 0;
}

static int get_text(reader_t *r, yaml_node_t *node, const char *key, const char **out)
{
    const char *t = text_of(node);
    if (!t || !*t)
        return fail(r, node, "'%s': expected a non-empty string", key);
    if (strlen(t) != node->data.scalar.length)
        return fail(r, node, "'%s': NUL byte in a string", key);
    *out = t;
    return 0;
}

static int get_duration(reader_t *r, yaml_node_t *node, const char *key, int64_t *out_ms)
{
    const char *t = text_of(node);
    if (!t || plan_yaml_parse_duration_ms(t, out_ms) != 0)
        return fail(r, node, "'%s': expected a duration with a unit (500ms, 20s, 5m)", key);
    return 0;
}

static int get_number(reader_t *r, yaml_node_t *node, const char *key, double min, double max,
                      double *out)
{
    const char *t = text_of(node);
    char *end = NULL;
    double v = t ? strtod(t, &end) : NAN;
    if (!t || end == t || *end || !(v >= min && v <= max))
        return fail(r, node, "'%s': expected a number from %g to %g", key, min, max);
    *out = v;
    return 0;
}

static int read_at(reader_t *r, yaml_node_t *node, const char *const *phases, int phase_count,
                   chaos_action_spec_t *a)
{
    if (node->type == YAML_SCALAR_NODE)
        return get_duration(r, node, "at", &a->after_ms);
    static const char *const keys[] = {"phase", "after", NULL};
    yaml_node_t *v[2];
    if (map_fields(r, node, "'at'", keys, v) != 0)
        return -1;
    const char *name = NULL;
    if (!v[0])
        return fail(r, node, "'at': expected 'phase' (or write at: 90s for a time from the start)");
    if (get_text(r, v[0], "phase", &name) != 0)
        return -1;
    bool known = false;
    for (int i = 0; i < phase_count && !known; i++)
        known = strcmp(phases[i], name) == 0;
    if (!known)
        return fail(r, v[0], "'at': no phase named '%.60s'", name);
    a->phase = strdup(name);
    return v[1] ? get_duration(r, v[1], "after", &a->after_ms) : 0;
}

static int read_run(reader_t *r, yaml_node_t *node, chaos_action_spec_t *a)
{
    if (node->type == YAML_SCALAR_NODE) {
        const char *t = NULL;
        if (get_text(r, node, "run", &t) != 0)
            return -1;
        a->shell = strdup(t);
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(r, node, "'run': expected a command line (string) or an argv list");
    int n = (int)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n < 1 || n > CHAOS_MAX_ARGV)
        return fail(r, node, "'run': expected 1 to %d arguments", CHAOS_MAX_ARGV);
    a->argv = calloc((size_t)n + 1, sizeof *a->argv);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(r->doc, node->data.sequence.items.start[i]);
        const char *t = text_of(item);
        if (!t || strlen(t) != item->data.scalar.length)
            return fail(r, item ? item : node, "'run': every argument must be a string");
        a->argv[i] = strdup(t);
    }
    return 0;
}

static int read_action(reader_t *r, yaml_node_t *node, const char *const *phases, int phase_count,
                       chaos_action_spec_t *a)
{
    static const char *const keys[] = {"at", "run", "timeout", "fault", "name", "mark", NULL};
    yaml_node_t *v[6];
    a->line = (int)node->start_mark.line + 1;
    a->timeout_ms = CHAOS_DEFAULT_TIMEOUT_MS;
    if (map_fields(r, node, "an action", keys, v) != 0)
        return -1;
    if (!v[0])
        return fail(r, node, "an action needs 'at' (90s, or {phase: NAME, after: 20s})");
    if (read_at(r, v[0], phases, phase_count, a) != 0)
        return -1;
    if (v[1] && read_run(r, v[1], a) != 0)
        return -1;
    if (v[2]) {
        if (!v[1])
            return fail(r, v[2], "'timeout' applies to 'run'");
        if (get_duration(r, v[2], "timeout", &a->timeout_ms) != 0)
            return -1;
        if (a->timeout_ms <= 0)
            return fail(r, v[2], "'timeout': expected a positive duration");
    }
    if (v[3]) {
        const char *t = text_of(v[3]);
        if (t && strcmp(t, "start") == 0)
            a->fault = CHAOS_FAULT_START;
        else if (t && strcmp(t, "end") == 0)
            a->fault = CHAOS_FAULT_END;
        else
            return fail(r, v[3], "'fault': expected start or end");
        if (!v[4])
            return fail(r, v[3], "'fault' needs 'name' (the fault window's name)");
    }
    if (v[4]) {
        const char *t = NULL;
        if (!v[3])
            return fail(r, v[4], "'name' names a fault window: add 'fault: start' or 'fault: end'");
        if (get_text(r, v[4], "name", &t) != 0)
            return -1;
        a->name = strdup(t);
    }
    if (v[5]) {
        const char *t = NULL;
        if (get_text(r, v[5], "mark", &t) != 0)
            return -1;
        a->mark = strdup(t);
    }
    if (!v[1] && !v[3] && !v[5])
        return fail(r, node, "an action needs 'run', 'fault' or 'mark'");
    return 0;
}

static int read_impact(reader_t *r, yaml_node_t *node, impact_config_t *c)
{
    static const char *const keys[] = {"baseline", "recovery",   "error_rate",
                                       "ttft",     "throughput", NULL};
    yaml_node_t *v[5];
    if (map_fields(r, node, "'impact'", keys, v) != 0)
        return -1;
    double x = 0;
    if (v[0]) {
        if (get_number(r, v[0], "baseline", 1, 1000, &x) != 0)
            return -1;
        c->baseline_intervals = (int)x;
    }
    if (v[1]) {
        if (get_number(r, v[1], "recovery", 1, 1000, &x) != 0)
            return -1;
        c->recovery_intervals = (int)x;
    }
    double *fractions[] = {&c->error_rate_tolerance, &c->ttft_tolerance, &c->throughput_tolerance};
    for (int i = 0; i < 3; i++) {
        if (!v[2 + i])
            continue;
        const char *t = text_of(v[2 + i]);
        double f;
        bool percent = t && *t && t[strlen(t) - 1] == '%';
        if (!t || plan_yaml_parse_fraction(t, &f) != 0) {
            /* ttft may exceed 100%: "+150%" of the baseline. */
            char *end = NULL;
            f = t ? strtod(t, &end) : NAN;
            if (!t || end == t || (percent ? strcmp(end, "%") != 0 : *end != '\0') || !(f >= 0) ||
                f > 100000)
                return fail(r, v[2 + i], "'%s': expected a fraction (0.02) or a percentage (50%%)",
                            keys[2 + i]);
            if (percent)
                f /= 100;
        }
        *fractions[i] = f;
    }
    return 0;
}

int chaos_plan_read(yaml_document_t *doc, yaml_node_t *node, const char *file,
                    const char *const *phases, int phase_count, chaos_plan_t **out, char *err,
                    size_t err_size)
{
    reader_t r = {doc, file, err, err_size};
    chaos_plan_t *plan = calloc(1, sizeof *plan);
    *out = plan;
    impact_config_defaults(&plan->impact);
    yaml_node_t *list = node;
    if (node->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"actions", "impact", NULL};
        yaml_node_t *v[2];
        if (map_fields(&r, node, "'chaos'", keys, v) != 0)
            return -1;
        if (v[1] && read_impact(&r, v[1], &plan->impact) != 0)
            return -1;
        list = v[0];
        if (!list)
            return 0;
    }
    if (list->type != YAML_SEQUENCE_NODE)
        return fail(&r, list, "expected a list of actions (or {actions: [...], impact: {...}})");
    int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > CHAOS_MAX_ACTIONS)
        return fail(&r, list, "%d actions (at most %d)", n, CHAOS_MAX_ACTIONS);
    plan->actions = calloc((size_t)n + 1, sizeof *plan->actions);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, list->data.sequence.items.start[i]);
        plan->count++;
        if (!item || read_action(&r, item, phases, phase_count, &plan->actions[i]) != 0)
            return item ? -1 : fail(&r, list, "malformed list");
    }
    /* Each window must open before it closes: a plan that ends a fault it never started
       would produce a row with no start. Checked in time order where times are comparable
       (same origin). */
    for (int i = 0; i < n; i++) {
        const chaos_action_spec_t *a = &plan->actions[i];
        if (a->fault != CHAOS_FAULT_END)
            continue;
        bool opened = false;
        for (int k = 0; k < n && !opened; k++) {
            const chaos_action_spec_t *b = &plan->actions[k];
            opened = b->fault == CHAOS_FAULT_START && strcmp(b->name, a->name) == 0;
        }
        if (!opened) {
            snprintf(err, err_size,
                     "%s:%d:1: chaos: 'fault: end' of '%.60s', which no action starts", file,
                     a->line, a->name);
            return -1;
        }
    }
    return 0;
}

void chaos_plan_destroy(chaos_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chaos_plan_t *self = *self_p;
    for (int i = 0; i < self->count; i++) {
        chaos_action_spec_t *a = &self->actions[i];
        free(a->phase);
        for (int k = 0; a->argv && a->argv[k]; k++)
            free(a->argv[k]);
        free(a->argv);
        free(a->shell);
        free(a->name);
        free(a->mark);
    }
    free(self->actions);
    free(self);
    *self_p = NULL;
}
