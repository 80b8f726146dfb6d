/*  plan_yaml.c: the YAML plan loader (see plan_yaml.h, docs/plans.md).

    libyaml builds the document tree (every node keeps its position); we walk it with one
    rule: every mapping is read against the list of keys it may hold, so a typo is an
    error that names the key, where it is and what was expected, never a silently ignored
    setting. The first error stops the load (like a compiler's first error, it is the one
    that is certainly not a consequence of another).
*/
#include "plan/plan_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/duration.h"
#include "common/jsonw.h"
#include "common/limits.h"
#include "common/url.h"
#include "plan/chaos_plan.h"

/* Walking aliases can revisit shared nodes: bound the work so an alias bomb is an error. */
#define MAX_NODE_VISITS 200000
#define MAX_JSON_DEPTH  32
#define MAX_FIELDS      40
#define MAX_HEADERS     64
#define MAX_SLA_CHECKS  64
#define MAX_STAGES      256

typedef struct {
    const char *file;
    char dir[512]; /* the plan file's directory, for relative paths ("" = cwd) */
    yaml_document_t doc;
    char *err;
    size_t err_size;
    long visits;
    plan_t *plan;
    plan_extra_t *extra;
    yaml_node_t *workload_node;      /* where workload errors found while building point */
    yaml_node_t *conversations_node; /* workload.conversations, when given */
    const char *section;             /* named after the position in errors ("chaos"), or NULL */
} ctx_t;

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        abort(); /* out of memory while loading a plan */
    return q;
}

static char *xstrdup(const char *text)
{
    char *copy = strdup(text ? text : "");
    if (!copy)
        abort();
    return copy;
}

__attribute__((format(printf, 3, 4))) static int fail(ctx_t *c, const yaml_node_t *node,
                                                      const char *fmt, ...)
{
    size_t line = node ? node->start_mark.line + 1 : 1;
    size_t col = node ? node->start_mark.column + 1 : 1;
    int n = snprintf(c->err, c->err_size, "%s:%zu:%zu: %s%s", c->file, line, col,
                     c->section ? c->section : "", c->section ? ": " : "");
    if (n >= 0 && (size_t)n < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static yaml_node_t *node_at(ctx_t *c, int index)
{
    return yaml_document_get_node(&c->doc, index);
}

static const char *node_type_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *scalar(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

/* ---- Mappings read against their allowed keys ------------------------------------------ */

typedef struct {
    const char *const *allowed;
    yaml_node_t *value[MAX_FIELDS];
    yaml_node_t *key[MAX_FIELDS];
} fields_t;

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void list_keys(const char *const *allowed, buf_t *out)
{
    for (int i = 0; allowed[i]; i++)
        buf_printf(out, "%s%s", i ? ", " : "", allowed[i]);
}

/* Reads mapping `node` (the value of something called `what`) into f; every key must be
   in `allowed` (NULL-terminated) and appear once. */
static int read_fields(ctx_t *c, yaml_node_t *node, const char *what, const char *const *allowed,
                       fields_t *f)
{
    memset(f, 0, sizeof *f);
    f->allowed = allowed;
    if (node->type != YAML_MAPPING_NODE)
        return fail(c, node, "expected a mapping (key: value lines) for %s, got %s", what,
                    node_type_name(node));
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        if (++c->visits > MAX_NODE_VISITS)
            return fail(c, node, "plan too large (or too many aliases)");
        yaml_node_t *key = node_at(c, pair->key);
        yaml_node_t *value = node_at(c, pair->value);
        if (!key || !value)
            return fail(c, node, "malformed mapping");
        if (key->type != YAML_SCALAR_NODE)
            return fail(c, key, "expected a plain key in %s, got %s", what, node_type_name(key));
        int index = -1;
        for (int i = 0; allowed[i] && i < MAX_FIELDS; i++) {
            if (strcmp(allowed[i], scalar(key)) == 0)
                index = i;
        }
        if (index < 0) {
            buf_t keys;
            buf_init(&keys);
            list_keys(allowed, &keys);
            const char *near = NULL;
            for (int i = 0; allowed[i]; i++) {
                if (edit_distance(scalar(key), allowed[i]) <= 2)
                    near = allowed[i];
            }
            char hint[80] = "";
            if (near)
                snprintf(hint, sizeof hint, "did you mean '%s'? ", near);
            fail(c, key, "unknown key '%.60s' in %s (%sexpected one of: %s)", scalar(key), what,
                 hint, keys.data ? keys.data : "");
            buf_free(&keys);
            return -1;
        }
        if (f->value[index])
            return fail(c, key, "duplicate key '%s' in %s (first at line %zu)", scalar(key), what,
                        f->key[index]->start_mark.line + 1);
        f->value[index] = value;
        f->key[index] = key;
    }
    return 0;
}

static yaml_node_t *field(const fields_t *f, const char *name)
{
    for (int i = 0; f->allowed[i] && i < MAX_FIELDS; i++) {
        if (strcmp(f->allowed[i], name) == 0)
            return f->value[i];
    }
    return NULL;
}

/* ---- Scalars ------------------------------------------------------------------------------ */

static int want_scalar(ctx_t *c, const yaml_node_t *node, const char *key, const char *expected)
{
    if (node->type != YAML_SCALAR_NODE)
        return fail(c, node, "'%s': expected %s, got %s", key, expected, node_type_name(node));
    return 0;
}

static int get_string(ctx_t *c, const yaml_node_t *node, const char *key, const char **out)
{
    if (want_scalar(c, node, key, "a string") != 0)
        return -1;
    *out = scalar(node);
    if (!**out)
        return fail(c, node, "'%s': expected a non-empty string", key);
    if (memchr(*out, '\0', node->data.scalar.length))
        return fail(c, node, "'%s': NUL byte in a string", key);
    return 0;
}

static int get_bool(ctx_t *c, const yaml_node_t *node, const char *key, bool *out)
{
    if (want_scalar(c, node, key, "true or false") != 0)
        return -1;
    if (strcmp(scalar(node), "true") == 0)
        *out = true;
    else if (strcmp(scalar(node), "false") == 0)
        *out = false;
    else
        return fail(c, node, "'%s': expected true or false, got '%.40s'", key, scalar(node));
    return 0;
}

static int get_double(ctx_t *c, const yaml_node_t *node, const char *key, double min, double max,
                      double *out)
{
    if (want_scalar(c, node, key, "a number") != 0)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(scalar(node), &end);
    if (end == scalar(node) || *end || errno || !isfinite(v))
        return fail(c, node, "'%s': expected a number, got '%.40s'", key, scalar(node));
    if (v < min || v > max)
        return fail(c, node, "'%s': expected a number from %g to %g, got %g", key, min, max, v);
    *out = v;
    return 0;
}

static int get_int(ctx_t *c, const yaml_node_t *node, const char *key, long min, long max, int *out)
{
    if (want_scalar(c, node, key, "an integer") != 0)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(scalar(node), &end, 10);
    if (end == scalar(node) || *end || errno)
        return fail(c, node, "'%s': expected an integer, got '%.40s'", key, scalar(node));
    if (v < min || v > max)
        return fail(c, node, "'%s': expected an integer from %ld to %ld, got %ld", key, min, max,
                    v);
    *out = (int)v;
    return 0;
}

int plan_yaml_parse_rate(const char *text, double *out_per_s)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v) || v < 0 || !isdigit((unsigned char)*text))
        return -1;
    double per = 1;
    if (*end == '\0' || strcmp(end, "/s") == 0)
        per = 1;
    else if (strcmp(end, "/min") == 0 || strcmp(end, "/m") == 0)
        per = 60;
    else if (strcmp(end, "/h") == 0)
        per = 3600;
    else
        return -1;
    *out_per_s = v / per;
    return 0;
}

int plan_yaml_parse_fraction(const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v))
        return -1;
    if (strcmp(end, "%") == 0)
        v /= 100;
    else if (*end)
        return -1;
    if (v < 0 || v > 1)
        return -1;
    *out = v;
    return 0;
}

static int get_duration(ctx_t *c, const yaml_node_t *node, const char *key, bool allow_zero,
                        int64_t *out_ms)
{
    if (want_scalar(c, node, key, "a duration") != 0)
        return -1;
    if (duration_parse_ms(scalar(node), out_ms) != 0)
        return fail(c, node,
                    "'%s': expected a duration with a unit (500ms, 90s, 30m, 1h, 1h30m), "
                    "got '%.40s'",
                    key, scalar(node));
    if (!allow_zero && *out_ms <= 0)
        return fail(c, node, "'%s': expected a duration > 0", key);
    return 0;
}

static int get_rate(ctx_t *c, const yaml_node_t *node, const char *key, double *out)
{
    if (want_scalar(c, node, key, "a rate") != 0)
        return -1;
    if (plan_yaml_parse_rate(scalar(node), out) != 0)
        return fail(c, node, "'%s': expected a rate (20, 20/s, 1200/min, 72000/h), got '%.40s'",
                    key, scalar(node));
    if (!(*out > 0))
        return fail(c, node, "'%s': expected a rate > 0", key);
    if (*out > LIMIT_RATE_PER_S) /* what the workers accept (common/limits.h) */
        return fail(c, node, "'%s': %.10g requests/s is above the limit of %.10g", key, *out,
                    LIMIT_RATE_PER_S);
    return 0;
}

static int get_fraction(ctx_t *c, const yaml_node_t *node, const char *key, double *out)
{
    if (want_scalar(c, node, key, "a fraction") != 0)
        return -1;
    if (plan_yaml_parse_fraction(scalar(node), out) != 0)
        return fail(c, node,
                    "'%s': expected a fraction from 0 to 1 or a percentage (0.7, 70%%), "
                    "got '%.40s'",
                    key, scalar(node));
    return 0;
}

static int get_sequence(ctx_t *c, yaml_node_t *node, const char *key, int max,
                        yaml_node_item_t **start, int *count)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(c, node, "'%s': expected a list, got %s", key, node_type_name(node));
    *start = node->data.sequence.items.start;
    *count = (int)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (*count > max)
        return fail(c, node, "'%s': at most %d entries, got %d", key, max, *count);
    c->visits += *count;
    if (c->visits > MAX_NODE_VISITS)
        return fail(c, node, "plan too large (or too many aliases)");
    return 0;
}

/* A path from the plan: relative ones are taken from the plan file's directory. */
static char *resolve_path(ctx_t *c, const char *path)
{
    if (path[0] == '/' || !c->dir[0])
        return xstrdup(path);
    buf_t out;
    buf_init(&out);
    buf_printf(&out, "%s/%s", c->dir, path);
    return buf_take(&out);
}

/* ---- extra_body: YAML to JSON ------------------------------------------------------------- */

static bool plain_is_number(const char *text)
{
    char *end = NULL;
    if (!*text || isspace((unsigned char)*text))
        return false;
    double v = strtod(text, &end);
    return *end == '\0' && isfinite(v) && (isdigit((unsigned char)*text) || *text == '-');
}

static int yaml_to_json(ctx_t *c, yaml_node_t *node, jsonw_t *w, int depth)
{
    if (++c->visits > MAX_NODE_VISITS)
        return fail(c, node, "plan too large (or too many aliases)");
    if (depth > MAX_JSON_DEPTH)
        return fail(c, node, "'extra_body': nested deeper than %d levels", MAX_JSON_DEPTH);
    if (node->type == YAML_SCALAR_NODE) {
        const char *text = scalar(node);
        bool plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0))
            jsonw_bool(w, text[0] == 't');
        else if (plain && (strcmp(text, "null") == 0 || strcmp(text, "~") == 0 || !*text))
            jsonw_null(w);
        else if (plain && plain_is_number(text))
            jsonw_raw(w, text);
        else
            jsonw_string_len(w, text, node->data.scalar.length);
        return 0;
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        jsonw_array_begin(w);
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            yaml_node_t *item = node_at(c, *it);
            if (!item || yaml_to_json(c, item, w, depth + 1) != 0)
                return -1;
        }
        jsonw_array_end(w);
        return 0;
    }
    if (node->type == YAML_MAPPING_NODE) {
        jsonw_object_begin(w);
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
            yaml_node_t *key = node_at(c, pair->key);
            yaml_node_t *value = node_at(c, pair->value);
            if (!key || !value || key->type != YAML_SCALAR_NODE)
                return fail(c, key ? key : node, "'extra_body': keys must be plain strings");
            jsonw_key(w, scalar(key));
            if (yaml_to_json(c, value, w, depth + 1) != 0)
                return -1;
        }
        jsonw_object_end(w);
        return 0;
    }
    return fail(c, node, "'extra_body': unexpected node");
}

/* ---- Top-level blocks ----------------------------------------------------------------------- */

static int read_targets(ctx_t *c, yaml_node_t *node)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "targets", PLAN_MAX_TARGETS, &items, &count) != 0)
        return -1;
    if (count == 0)
        return fail(c, node, "'targets': expected at least one URL");
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        const char *url;
        if (!item || get_string(c, item, "targets", &url) != 0)
            return -1;
        bool sim = strncmp(url, "sim://", 6) == 0;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 && !sim)
            return fail(c, item,
                        "'targets': expected an http://, https:// or sim:// URL, got "
                        "'%.60s'",
                        url);
        if (sim) {
            if (!url[6])
                return fail(c, item, "'targets': sim:// needs a profile (sim://tiny)");
            if (c->plan->sim_profile && strcmp(c->plan->sim_profile, url + 6) != 0)
                return fail(c, item, "'targets': one simulated profile per plan (already %s)",
                            c->plan->sim_profile);
            plan_set_string(&c->plan->sim_profile, url + 6);
        }
        plan_add_target(c->plan, url);
    }
    return 0;
}

/* Header names that carry credentials: the plan is copied into results.json and sent to
   every worker, so a secret in it is published. Exact names, and any name holding one of
   the words below (X-Auth-Token, X-Goog-Api-Key, Ocp-Apim-Subscription-Key, ...). A
   false positive costs a renamed header; a miss publishes a key. */
bool plan_header_is_secret(const char *name)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie", NULL};
    static const char *const words[] = {"auth",   "token",   "secret",     "password",  "passwd",
                                        "cookie", "api-key", "api_key",    "apikey",    "-key",
                                        "_key",   "session", "credential", "signature", NULL};
    for (int i = 0; exact[i]; i++) {
        if (strcasecmp(name, exact[i]) == 0)
            return true;
    }
    for (int i = 0; words[i]; i++) {
        if (strcasestr(name, words[i]))
            return true;
    }
    return strcasecmp(name, "key") == 0;
}

static int read_headers(ctx_t *c, yaml_node_t *node)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(c, node, "'headers': expected a mapping of header names to values, got %s",
                    node_type_name(node));
    plan_extra_t *x = c->extra;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(c, pair->key);
        yaml_node_t *value = node_at(c, pair->value);
        const char *name, *text;
        if (!key || !value || get_string(c, key, "headers", &name) != 0 ||
            want_scalar(c, value, name, "a header value") != 0)
            return -1;
        text = scalar(value);
        for (const char *p = name; *p; p++) {
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                return fail(c, key, "'headers': '%.40s' is not a header name (letters, digits, -)",
                            name);
        }
        if (strpbrk(text, "\r\n"))
            return fail(c, value, "'headers': a value cannot span lines");
        if (plan_header_is_secret(name))
            return fail(c, key,
                        "'headers': '%.40s' carries a credential, and secrets do not belong in "
                        "a plan (it is copied into results.json and sent to every worker); use "
                        "api_key_env or api_key_file",
                        name);
        if (x->header_count >= MAX_HEADERS)
            return fail(c, key, "'headers': at most %d", MAX_HEADERS);
        x->headers = xrealloc(x->headers, (size_t)(x->header_count + 1) * sizeof(char *));
        buf_t line;
        buf_init(&line);
        buf_printf(&line, "%s: %s", name, text);
        x->headers[x->header_count++] = buf_take(&line);
    }
    return 0;
}

static const char *const simulator_keys[] = {"replicas", NULL};
static const char *const prometheus_keys[] = {"url", "step", "queries", NULL};

/* `prometheus:` {url, step, queries: {NAME: PROMQL}} (coordinator/prom_query.h). */
static int read_prometheus(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "prometheus", prometheus_keys, &f) != 0)
        return -1;
    plan_extra_t *x = c->extra;
    yaml_node_t *v;
    const char *text;
    if ((v = field(&f, "url"))) {
        if (get_string(c, v, "url", &text) != 0)
            return -1;
        if (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0)
            return fail(c, v, "'prometheus.url': expected an http:// or https:// URL");
        x->prometheus_url = xstrdup(text);
    }
    if ((v = field(&f, "step")) &&
        get_duration(c, v, "prometheus.step", false, &x->prometheus_step_ms) != 0)
        return -1;
    if (!(v = field(&f, "queries")))
        return 0;
    if (v->type != YAML_MAPPING_NODE)
        return fail(c, v, "'prometheus.queries': expected a mapping of names to PromQL");
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *key = node_at(c, pair->key), *value = node_at(c, pair->value);
        const char *name, *expr;
        if (!key || !value || get_string(c, key, "prometheus.queries", &name) != 0 ||
            get_string(c, value, name, &expr) != 0)
            return -1;
        if (x->prometheus_query_count >= 32)
            return fail(c, key, "'prometheus.queries': at most 32");
        int n = x->prometheus_query_count++;
        x->prometheus_names = xrealloc(x->prometheus_names, (size_t)(n + 1) * sizeof(char *));
        x->prometheus_exprs = xrealloc(x->prometheus_exprs, (size_t)(n + 1) * sizeof(char *));
        x->prometheus_names[n] = xstrdup(name);
        x->prometheus_exprs[n] = xstrdup(expr);
    }
    return 0;
}
static const char *const slo_keys[] = {"ttft_ms", "tpot_ms", "e2e_ms", NULL};
static const char *const cost_keys[] = {"gpu_count", "price_per_gpu_hour", "currency",
                                        "utilisation", NULL};
static const char *const users_keys[] = {"think_time", NULL};
static const char *const outputs_keys[] = {"dir", "record_requests", "junit", NULL};

static int read_slo(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "slo", slo_keys, &f) != 0)
        return -1;
    double *targets[] = {&c->plan->slo_ttft_ms, &c->plan->slo_tpot_ms, &c->plan->slo_e2e_ms};
    for (int i = 0; slo_keys[i]; i++) {
        if (f.value[i] && get_double(c, f.value[i], slo_keys[i], 0, 3.6e6, targets[i]) != 0)
            return -1;
    }
    return 0;
}

static int read_cost(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    cost_config_t *cost = &c->extra->cost;
    if (read_fields(c, node, "cost", cost_keys, &f) != 0)
        return -1;
    if (!field(&f, "gpu_count") || !field(&f, "price_per_gpu_hour"))
        return fail(c, node, "'cost': expected gpu_count and price_per_gpu_hour");
    cost->utilisation = 1.0;
    snprintf(cost->currency, sizeof cost->currency, "USD");
    if (get_int(c, field(&f, "gpu_count"), "gpu_count", 1, 1000000, &cost->gpu_count) != 0 ||
        get_double(c, field(&f, "price_per_gpu_hour"), "price_per_gpu_hour", 0, 1e6,
                   &cost->price_per_gpu_hour) != 0)
        return -1;
    yaml_node_t *v;
    if ((v = field(&f, "utilisation"))) {
        if (get_fraction(c, v, "utilisation", &cost->utilisation) != 0)
            return -1;
        if (!(cost->utilisation > 0))
            return fail(c, v, "'utilisation': expected a fraction > 0");
    }
    if ((v = field(&f, "currency"))) {
        const char *currency;
        if (get_string(c, v, "currency", &currency) != 0)
            return -1;
        if (strlen(currency) >= sizeof cost->currency)
            return fail(c, v, "'currency': expected a short code (USD, EUR)");
        snprintf(cost->currency, sizeof cost->currency, "%s", currency);
    }
    c->extra->has_cost = true;
    return 0;
}

static int read_users(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "users", users_keys, &f) != 0)
        return -1;
    int64_t ms = 0;
    if (field(&f, "think_time") &&
        get_duration(c, field(&f, "think_time"), "think_time", true, &ms) != 0)
        return -1;
    c->extra->has_users = true;
    c->extra->users_think_time_s = (double)ms / 1000.0;
    return 0;
}

static int read_outputs(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "outputs", outputs_keys, &f) != 0)
        return -1;
    const char *text;
    yaml_node_t *v;
    if ((v = field(&f, "dir"))) {
        if (get_string(c, v, "dir", &text) != 0)
            return -1;
        plan_set_string(&c->plan->out_dir, text);
    }
    if ((v = field(&f, "record_requests")) &&
        get_bool(c, v, "record_requests", &c->plan->record_requests) != 0)
        return -1;
    if ((v = field(&f, "junit"))) {
        if (get_string(c, v, "junit", &text) != 0)
            return -1;
        free(c->extra->junit_path);
        c->extra->junit_path = xstrdup(text);
    }
    return 0;
}

/* ---- SLA ------------------------------------------------------------------------------------ */

static const char *const sla_keys[] = {"phase", "checks", "junit", NULL};
static const char *const sla_check_keys[] = {"metric",   "percentile", "limit",
                                             "limit_ms", "min",        NULL};

static int add_sla_check(ctx_t *c, yaml_node_t *node, const sla_check_t *check)
{
    plan_extra_t *x = c->extra;
    if (x->sla_check_count >= MAX_SLA_CHECKS)
        return fail(c, node, "'sla': at most %d checks", MAX_SLA_CHECKS);
    x->sla_checks = xrealloc(x->sla_checks, (size_t)(x->sla_check_count + 1) * sizeof(sla_check_t));
    x->sla_checks[x->sla_check_count++] = *check;
    return 0;
}

/* {metric: ttft, percentile: 99, limit_ms: 450} / {metric: goodput_rps, min: 5} */
static int read_sla_mapping(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "an SLA check", sla_check_keys, &f) != 0)
        return -1;
    const char *metric;
    if (!field(&f, "metric"))
        return fail(c, node,
                    "SLA check: expected 'metric' (ttft, itl, e2e, error_rate, "
                    "goodput_rps, or a summary path such as ttft_ms.p99)");
    if (get_string(c, field(&f, "metric"), "metric", &metric) != 0)
        return -1;
    sla_check_t check = {0};
    yaml_node_t *pct = field(&f, "percentile");
    double percentile = 0;
    if (pct) {
        if (get_double(c, pct, "percentile", 0, 100, &percentile) != 0)
            return -1;
        double p = percentile;
        const char *stat = p == 50     ? "p50"
                           : p == 90   ? "p90"
                           : p == 95   ? "p95"
                           : p == 99   ? "p99"
                           : p == 99.9 ? "p999"
                           : p == 100  ? "max"
                                       : NULL;
        if (!stat)
            return fail(c, pct,
                        "'percentile': expected 50, 90, 95, 99, 99.9 or 100 (the "
                        "percentiles results.json reports)");
        snprintf(check.metric, sizeof check.metric, "%.40s_ms.%s", metric, stat);
    } else {
        snprintf(check.metric, sizeof check.metric, "%.60s", metric);
    }
    if (!sla_metric_known(check.metric))
        return fail(c, field(&f, "metric"),
                    "'metric': unknown metric '%s' (expected ttft, itl, tpot, e2e with a "
                    "percentile, or error_rate, goodput_rps, output_tokens_per_s, ...; "
                    "docs/plans.md lists them)",
                    check.metric);
    int limits = !!field(&f, "limit") + !!field(&f, "limit_ms") + !!field(&f, "min");
    if (limits != 1)
        return fail(c, node,
                    "SLA check: expected exactly one of limit, limit_ms (at most) or min "
                    "(at least)");
    yaml_node_t *v;
    if ((v = field(&f, "limit_ms"))) {
        if (!strstr(check.metric, "_ms."))
            return fail(c, v, "'limit_ms': %s is not a latency; use limit or min", check.metric);
        check.op = SLA_AT_MOST;
        if (get_double(c, v, "limit_ms", 0, 1e9, &check.limit) != 0)
            return -1;
    } else {
        v = field(&f, "limit") ? field(&f, "limit") : field(&f, "min");
        check.op = field(&f, "limit") ? SLA_AT_MOST : SLA_AT_LEAST;
        const char *key = field(&f, "limit") ? "limit" : "min";
        if (want_scalar(c, v, key, "a number") != 0)
            return -1;
        if (strchr(scalar(v), '%')) {
            if (get_fraction(c, v, key, &check.limit) != 0)
                return -1;
        } else if (get_double(c, v, key, -1e12, 1e12, &check.limit) != 0) {
            return -1;
        }
    }
    /* The same check in plan_t's form, for code that reads plan->slos. */
    const char *dot = strstr(check.metric, "_ms.p");
    if (check.op == SLA_AT_MOST && dot && pct) {
        char hist[32];
        snprintf(hist, sizeof hist, "%.*s", (int)(dot - check.metric), check.metric);
        plan_add_slo(c->plan, hist, percentile, check.limit);
    } else if (check.op == SLA_AT_MOST && strcmp(check.metric, "error_rate") == 0) {
        plan_add_slo(c->plan, "error_rate", 0, check.limit);
    }
    return add_sla_check(c, node, &check);
}

static int read_sla_checks(ctx_t *c, yaml_node_t *node)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "sla", MAX_SLA_CHECKS, &items, &count) != 0)
        return -1;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        if (!item)
            return -1;
        if (item->type == YAML_SCALAR_NODE) {
            sla_check_t check;
            char why[200];
            if (sla_check_parse(scalar(item), &check, why, sizeof why) != 0)
                return fail(c, item, "SLA check: %s", why);
            if (add_sla_check(c, item, &check) != 0)
                return -1;
        } else if (read_sla_mapping(c, item) != 0) {
            return -1;
        }
    }
    return 0;
}

static int read_sla(ctx_t *c, yaml_node_t *node)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return read_sla_checks(c, node);
    fields_t f;
    if (read_fields(c, node, "sla", sla_keys, &f) != 0)
        return -1;
    if (!field(&f, "checks"))
        return fail(c, node, "'sla': expected 'checks' (a list)");
    const char *text;
    yaml_node_t *v;
    if ((v = field(&f, "phase"))) {
        if (get_string(c, v, "phase", &text) != 0)
            return -1;
        c->extra->sla_phase = xstrdup(text);
    }
    if ((v = field(&f, "junit"))) {
        if (get_string(c, v, "junit", &text) != 0)
            return -1;
        free(c->extra->junit_path);
        c->extra->junit_path = xstrdup(text);
    }
    return read_sla_checks(c, field(&f, "checks"));
}

/* ---- Workload ------------------------------------------------------------------------------- */

static const char *const dataset_keys[] = {"path", "format", "field", "input_field", "limit", NULL};
static const char *const template_keys[] = {"text", "values", NULL};
static const char *const length_keys[] = {"dist", "mean", "stddev", "min", "max", NULL};
static const char *const synthetic_keys[] = {"input_tokens", "output_tokens", NULL};
static const char *const class_keys[] = {"name",         "weight",        "dataset",
                                         "templates",    "prompts",       "builtin",
                                         "input_tokens", "output_tokens", NULL};
static const char *const workload_keys[] = {
    "dataset",   "templates",     "prompts",  "builtin", "input_tokens", "output_tokens", "mix",
    "pool_size", "unique_prefix", "tokenize", "seed",    "synthetic",    "conversations", NULL};
static const char *const conversation_keys[] = {"turns",
                                                "think_time",
                                                "system_prompt_tokens",
                                                "shared_prefix_tokens",
                                                "shared_prefix_fraction",
                                                "affinity",
                                                "context_tokens",
                                                NULL};
static const char *const think_time_keys[] = {"dist", "mean", "stddev", "min", "max", NULL};

static int read_dataset(ctx_t *c, yaml_node_t *node, workload_class_t *cls)
{
    fields_t f;
    if (node->type == YAML_SCALAR_NODE) { /* dataset: path */
        const char *path;
        if (get_string(c, node, "dataset", &path) != 0)
            return -1;
        char *full = resolve_path(c, path);
        if (access(full, R_OK) != 0) {
            fail(c, node, "'dataset': cannot read '%s': %s", full, strerror(errno));
            free(full);
            return -1;
        }
        workload_class_add_dataset(cls, full);
        free(full);
        return 0;
    }
    if (read_fields(c, node, "a dataset", dataset_keys, &f) != 0)
        return -1;
    const char *text;
    if (!field(&f, "path"))
        return fail(c, node, "dataset: expected 'path'");
    if (get_string(c, field(&f, "path"), "path", &text) != 0)
        return -1;
    char *full = resolve_path(c, text);
    if (access(full, R_OK) != 0) {
        fail(c, field(&f, "path"), "'path': cannot read dataset '%s': %s", full, strerror(errno));
        free(full);
        return -1;
    }
    dataset_spec_t *d = workload_class_add_dataset(cls, full);
    free(full);
    yaml_node_t *v;
    if ((v = field(&f, "format"))) {
        if (get_string(c, v, "format", &text) != 0)
            return -1;
        int format = dataset_format_parse(text);
        if (format < 0)
            return fail(c, v,
                        "'format': expected alpaca, sharegpt, jsonl, text or auto, got "
                        "'%.40s'",
                        text);
        d->format = (dataset_format_t)format;
    }
    if ((v = field(&f, "field"))) {
        if (get_string(c, v, "field", &text) != 0)
            return -1;
        workload_set_string(&d->field, text);
    }
    if ((v = field(&f, "input_field"))) {
        if (get_string(c, v, "input_field", &text) != 0)
            return -1;
        workload_set_string(&d->input_field, text);
    }
    if ((d->field || d->input_field) && d->format != DATASET_JSONL && d->format != DATASET_AUTO)
        return fail(c, field(&f, "field") ? field(&f, "field") : field(&f, "input_field"),
                    "'field' applies to the jsonl format only");
    if ((v = field(&f, "limit")) && get_int(c, v, "limit", 1, WORKLOAD_MAX_PROMPTS, &d->limit) != 0)
        return -1;
    return 0;
}

static int read_datasets(ctx_t *c, yaml_node_t *node, workload_class_t *cls)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return read_dataset(c, node, cls);
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "dataset", 64, &items, &count) != 0)
        return -1;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        if (!item || read_dataset(c, item, cls) != 0)
            return -1;
    }
    return 0;
}

static int read_templates(ctx_t *c, yaml_node_t *node, workload_class_t *cls)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "templates", 256, &items, &count) != 0)
        return -1;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        fields_t f;
        const char *text;
        if (!item || read_fields(c, item, "a template", template_keys, &f) != 0)
            return -1;
        if (!field(&f, "text"))
            return fail(c, item, "template: expected 'text' (\"Summarize {topic} in {n} words\")");
        if (get_string(c, field(&f, "text"), "text", &text) != 0)
            return -1;
        template_spec_t *t = workload_class_add_template(cls, text);
        yaml_node_t *values = field(&f, "values");
        if (values) {
            if (values->type != YAML_MAPPING_NODE)
                return fail(c, values,
                            "'values': expected a mapping of placeholder names to "
                            "lists of values, got %s",
                            node_type_name(values));
            for (yaml_node_pair_t *pair = values->data.mapping.pairs.start;
                 pair < values->data.mapping.pairs.top; pair++) {
                yaml_node_t *key = node_at(c, pair->key);
                yaml_node_t *list = node_at(c, pair->value);
                const char *name;
                yaml_node_item_t *vals;
                int nvals;
                if (!key || !list || get_string(c, key, "values", &name) != 0 ||
                    get_sequence(c, list, name, 10000, &vals, &nvals) != 0)
                    return -1;
                if (nvals == 0)
                    return fail(c, list, "'%s': expected at least one value", name);
                template_var_t *var = template_add_var(t, name);
                for (int k = 0; k < nvals; k++) {
                    yaml_node_t *val = node_at(c, vals[k]);
                    if (!val || want_scalar(c, val, name, "a value") != 0)
                        return -1;
                    template_var_add_value(var, scalar(val));
                }
            }
        }
        char why[200];
        if (template_check(t, why, sizeof why) != 0)
            return fail(c, field(&f, "text"), "%s", why);
    }
    return 0;
}

static int read_prompts(ctx_t *c, yaml_node_t *node, workload_class_t *cls)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "prompts", 100000, &items, &count) != 0)
        return -1;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        const char *text;
        if (!item || get_string(c, item, "prompts", &text) != 0)
            return -1;
        prompt_list_add(&cls->prompts, text, strlen(text));
    }
    return 0;
}

static int read_length(ctx_t *c, yaml_node_t *node, const char *key, length_dist_t *out)
{
    memset(out, 0, sizeof *out);
    if (node->type == YAML_SCALAR_NODE) { /* a number: fixed */
        double v;
        if (get_double(c, node, key, 1, WORKLOAD_MAX_TOKENS, &v) != 0)
            return -1;
        out->kind = LENGTH_FIXED;
        out->mean = v;
        out->min = out->max = (int)v;
        return 0;
    }
    fields_t f;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    if (read_fields(c, node, what, length_keys, &f) != 0)
        return -1;
    const char *dist = "normal";
    if (field(&f, "dist") && get_string(c, field(&f, "dist"), "dist", &dist) != 0)
        return -1;
    int kind = length_kind_parse(dist);
    if (kind < 0)
        return fail(c, field(&f, "dist"), "'dist': expected fixed, uniform or normal, got '%.40s'",
                    dist);
    out->kind = (length_kind_t)kind;
    yaml_node_t *v;
    double num;
    if ((v = field(&f, "mean"))) {
        if (get_double(c, v, "mean", 1, WORKLOAD_MAX_TOKENS, &out->mean) != 0)
            return -1;
    } else if (kind != LENGTH_UNIFORM) {
        return fail(c, node, "%s: %s needs 'mean'", what, dist);
    }
    if ((v = field(&f, "stddev"))) {
        if (kind != LENGTH_NORMAL)
            return fail(c, v, "'stddev' applies to the normal distribution only");
        if (get_double(c, v, "stddev", 0, WORKLOAD_MAX_TOKENS, &out->stddev) != 0)
            return -1;
    } else if (kind == LENGTH_NORMAL) {
        return fail(c, node, "%s: normal needs 'stddev'", what);
    }
    out->min = 1;
    out->max = kind == LENGTH_NORMAL ? (int)ceil(out->mean + 4 * out->stddev) : (int)out->mean;
    if (kind == LENGTH_UNIFORM && (!field(&f, "min") || !field(&f, "max")))
        return fail(c, node, "%s: uniform needs 'min' and 'max'", what);
    if ((v = field(&f, "min"))) {
        if (get_double(c, v, "min", 1, WORKLOAD_MAX_TOKENS, &num) != 0)
            return -1;
        out->min = (int)num;
    }
    if ((v = field(&f, "max"))) {
        if (get_double(c, v, "max", 1, WORKLOAD_MAX_TOKENS, &num) != 0)
            return -1;
        out->max = (int)num;
    }
    if (kind == LENGTH_FIXED) {
        if (field(&f, "min") || field(&f, "max"))
            return fail(c, field(&f, "min") ? field(&f, "min") : field(&f, "max"),
                        "'min'/'max' do not apply to a fixed length");
        out->min = out->max = (int)out->mean;
    }
    char why[160];
    if (length_dist_check(out, why, sizeof why) != 0)
        return fail(c, node, "%s: %s", what, why);
    return 0;
}

static int read_builtin(ctx_t *c, yaml_node_t *node, workload_class_t *cls)
{
    const char *text;
    if (get_string(c, node, "builtin", &text) != 0)
        return -1;
    if (strcmp(text, "chat") != 0 && strcmp(text, "code") != 0 &&
        strcmp(text, "summarization") != 0 && strcmp(text, "all") != 0)
        return fail(c, node, "'builtin': expected chat, code, summarization or all, got '%.40s'",
                    text);
    workload_set_string(&cls->builtin, text);
    return 0;
}

/* The keys a class and the workload share: sources and lengths. */
static int read_class_common(ctx_t *c, const fields_t *f, workload_class_t *cls)
{
    yaml_node_t *v;
    if ((v = field(f, "dataset")) && read_datasets(c, v, cls) != 0)
        return -1;
    if ((v = field(f, "templates")) && read_templates(c, v, cls) != 0)
        return -1;
    if ((v = field(f, "prompts")) && read_prompts(c, v, cls) != 0)
        return -1;
    if ((v = field(f, "builtin")) && read_builtin(c, v, cls) != 0)
        return -1;
    if ((v = field(f, "input_tokens")) && read_length(c, v, "input_tokens", &cls->input_tokens))
        return -1;
    if ((v = field(f, "output_tokens")) &&
        read_length(c, v, "output_tokens", &cls->output_tokens) != 0)
        return -1;
    return 0;
}

static int read_mix(ctx_t *c, yaml_node_t *node, workload_spec_t *spec)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "mix", WORKLOAD_MAX_CLASSES, &items, &count) != 0)
        return -1;
    if (count == 0)
        return fail(c, node, "'mix': expected at least one class");
    double total = 0;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        fields_t f;
        const char *name;
        if (!item || read_fields(c, item, "a workload class", class_keys, &f) != 0)
            return -1;
        if (!field(&f, "name") || !field(&f, "weight"))
            return fail(c, item, "workload class: expected 'name' and 'weight'");
        if (get_string(c, field(&f, "name"), "name", &name) != 0)
            return -1;
        for (int k = 0; k < spec->class_count; k++) {
            if (strcmp(spec->classes[k].name, name) == 0)
                return fail(c, field(&f, "name"), "duplicate class name '%.40s'", name);
        }
        workload_class_t *cls = workload_spec_add_class(spec, name);
        yaml_node_t *w = field(&f, "weight");
        if (want_scalar(c, w, "weight", "a weight") != 0)
            return -1;
        if (strchr(scalar(w), '%')) {
            if (get_fraction(c, w, "weight", &cls->weight) != 0)
                return -1;
        } else if (get_double(c, w, "weight", 0, 1e9, &cls->weight) != 0) {
            return -1;
        }
        total += cls->weight;
        if (read_class_common(c, &f, cls) != 0)
            return -1;
    }
    if (!(total > 0))
        return fail(c, node, "'mix': the weights add up to 0");
    return 0;
}

/* think_time: a duration (fixed), or {dist, mean, stddev, min, max} with durations, held in
   a length distribution of milliseconds. */
static int read_think_time(ctx_t *c, yaml_node_t *node, length_dist_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t ms;
    if (node->type == YAML_SCALAR_NODE) {
        if (get_duration(c, node, "think_time", true, &ms) != 0)
            return -1;
        if (ms > WORKLOAD_MAX_THINK_MS)
            return fail(c, node, "'think_time': at most %ds", WORKLOAD_MAX_THINK_MS / 1000);
        out->kind = LENGTH_FIXED;
        out->mean = (double)ms;
        out->min = out->max = (int)ms;
        return 0;
    }
    fields_t f;
    if (read_fields(c, node, "'think_time'", think_time_keys, &f) != 0)
        return -1;
    const char *dist = "normal";
    if (field(&f, "dist") && get_string(c, field(&f, "dist"), "dist", &dist) != 0)
        return -1;
    int kind = length_kind_parse(dist);
    if (kind < 0)
        return fail(c, field(&f, "dist"), "'dist': expected fixed, uniform or normal, got '%.40s'",
                    dist);
    out->kind = (length_kind_t)kind;
    static const char *const names[] = {"mean", "stddev", "min", "max"};
    int64_t value[4] = {0, 0, 0, WORKLOAD_MAX_THINK_MS};
    for (int i = 0; i < 4; i++) {
        yaml_node_t *v = field(&f, names[i]);
        if (!v)
            continue;
        if (get_duration(c, v, names[i], true, &value[i]) != 0)
            return -1;
        if (value[i] > WORKLOAD_MAX_THINK_MS)
            return fail(c, v, "'%s': at most %ds", names[i], WORKLOAD_MAX_THINK_MS / 1000);
    }
    if (kind != LENGTH_UNIFORM && !field(&f, "mean"))
        return fail(c, node, "'think_time': %s needs 'mean'", dist);
    if (kind == LENGTH_NORMAL && !field(&f, "stddev"))
        return fail(c, node, "'think_time': normal needs 'stddev'");
    if (kind != LENGTH_NORMAL && field(&f, "stddev"))
        return fail(c, field(&f, "stddev"), "'stddev' applies to the normal distribution only");
    if (kind == LENGTH_UNIFORM && (!field(&f, "min") || !field(&f, "max")))
        return fail(c, node, "'think_time': uniform needs 'min' and 'max'");
    if (kind == LENGTH_FIXED && (field(&f, "min") || field(&f, "max")))
        return fail(c, field(&f, "min") ? field(&f, "min") : field(&f, "max"),
                    "'min'/'max' do not apply to a fixed think time");
    out->mean = (double)value[0];
    out->stddev = (double)value[1];
    out->min = (int)value[2];
    out->max = kind == LENGTH_FIXED ? (int)value[0] : (int)value[3];
    if (kind == LENGTH_FIXED)
        out->min = (int)value[0];
    if (out->min > out->max)
        return fail(c, node, "'think_time': min is above max");
    return 0;
}

static int read_conversations(ctx_t *c, yaml_node_t *node, workload_spec_t *spec)
{
    fields_t f;
    if (read_fields(c, node, "'conversations'", conversation_keys, &f) != 0)
        return -1;
    conversation_spec_t *cs = &spec->conversations;
    cs->enabled = true;
    yaml_node_t *v;
    if ((v = field(&f, "turns"))) {
        if (read_length(c, v, "turns", &cs->turns) != 0)
            return -1;
        int most = cs->turns.kind == LENGTH_FIXED ? (int)cs->turns.mean : cs->turns.max;
        if (most > WORKLOAD_MAX_TURNS)
            return fail(c, v, "'turns': at most %d turns a conversation, got %d",
                        WORKLOAD_MAX_TURNS, most);
    }
    if ((v = field(&f, "think_time")) && read_think_time(c, v, &cs->think_time_ms) != 0)
        return -1;
    if ((v = field(&f, "system_prompt_tokens")) &&
        get_int(c, v, "system_prompt_tokens", 0, WORKLOAD_MAX_PREFIX_TOKENS,
                &cs->system_prompt_tokens) != 0)
        return -1;
    if ((v = field(&f, "shared_prefix_tokens")) &&
        get_int(c, v, "shared_prefix_tokens", 0, WORKLOAD_MAX_PREFIX_TOKENS,
                &cs->shared_prefix_tokens) != 0)
        return -1;
    if ((v = field(&f, "shared_prefix_fraction"))) {
        if (get_fraction(c, v, "shared_prefix_fraction", &cs->shared_prefix_fraction) != 0)
            return -1;
        if (cs->shared_prefix_fraction > 0 && cs->shared_prefix_tokens == 0)
            return fail(c, v, "'shared_prefix_fraction': needs 'shared_prefix_tokens'");
    } else if (cs->shared_prefix_tokens > 0) {
        cs->shared_prefix_fraction = 1; /* a shared prefix alone is shared by every one */
    }
    if ((v = field(&f, "context_tokens")) &&
        get_int(c, v, "context_tokens", 16, LIMIT_MAX_TOKENS, &cs->context_tokens) != 0)
        return -1;
    if ((v = field(&f, "affinity"))) {
        const char *text;
        if (get_string(c, v, "affinity", &text) != 0)
            return -1;
        int affinity = conversation_affinity_parse(text);
        if (affinity < 0)
            return fail(c, v, "'affinity': expected conversation or none, got '%.40s'", text);
        cs->affinity = (conversation_affinity_t)affinity;
    }
    return 0;
}

static int read_workload(ctx_t *c, yaml_node_t *node)
{
    fields_t f;
    if (read_fields(c, node, "workload", workload_keys, &f) != 0)
        return -1;
    workload_spec_t *spec = workload_spec_new();
    if (!spec)
        abort();
    c->workload_node = node;
    c->extra->workload_spec = spec;
    if (read_class_common(c, &f, &spec->defaults) != 0)
        return -1;
    yaml_node_t *v;
    if ((v = field(&f, "synthetic"))) { /* shorthand: fixed input and output lengths */
        fields_t s;
        if (read_fields(c, v, "'synthetic'", synthetic_keys, &s) != 0)
            return -1;
        if (field(&f, "input_tokens") || field(&f, "output_tokens"))
            return fail(c, v, "'synthetic' and input_tokens/output_tokens: give one of them");
        if (field(&s, "input_tokens") && read_length(c, field(&s, "input_tokens"), "input_tokens",
                                                     &spec->defaults.input_tokens) != 0)
            return -1;
        if (field(&s, "output_tokens") &&
            read_length(c, field(&s, "output_tokens"), "output_tokens",
                        &spec->defaults.output_tokens) != 0)
            return -1;
    }
    if ((v = field(&f, "mix")) && read_mix(c, v, spec) != 0)
        return -1;
    if ((v = field(&f, "conversations"))) {
        if (read_conversations(c, v, spec) != 0)
            return -1;
        if (field(&f, "mix"))
            return fail(c, v, "'conversations' and 'mix': give one of them");
        c->conversations_node = v;
    }
    if ((v = field(&f, "pool_size")) &&
        get_int(c, v, "pool_size", 1, WORKLOAD_MAX_ITEMS, &spec->pool_size) != 0)
        return -1;
    if ((v = field(&f, "unique_prefix")) &&
        get_bool(c, v, "unique_prefix", &spec->unique_prefix) != 0)
        return -1;
    if ((v = field(&f, "tokenize")) && get_bool(c, v, "tokenize", &spec->tokenize) != 0)
        return -1;
    if ((v = field(&f, "seed"))) {
        double seed;
        if (get_double(c, v, "seed", 0, 9007199254740992.0, &seed) != 0)
            return -1;
        spec->seed = (uint64_t)seed;
    }
    return 0;
}

/* ---- Phases ---------------------------------------------------------------------------------- */

typedef enum {
    KIND_WARMUP,
    KIND_BASELINE,
    KIND_CONSTANT,
    KIND_SOAK,
    KIND_SLA,
    KIND_CONCURRENCY,
    KIND_USERS,
    KIND_RAMP,
    KIND_SATURATION,
    KIND_COUNT
} stage_kind_t;

static const char *const kind_names[KIND_COUNT] = {
    "warmup", "baseline", "constant", "soak", "sla", "concurrency", "users", "ramp", "saturation"};

#define COMMON_PHASE_KEYS                                                                          \
    "name", "kind", "arrival", "burstiness", "seed", "settle", "pause", "recover", "expect_errors"
static const char *const simple_keys[] = {COMMON_PHASE_KEYS, "iterations", "rate",
                                          "concurrency",     "users",      "think_time",
                                          "duration",        NULL};
static const char *const ramp_keys[] = {COMMON_PHASE_KEYS,
                                        "iterations",
                                        "rates",
                                        "concurrencies",
                                        "start_rate",
                                        "step_rate",
                                        "end_rate",
                                        "start_concurrency",
                                        "step_concurrency",
                                        "end_concurrency",
                                        "step_duration",
                                        "duration",
                                        NULL};
static const char *const saturation_keys[] = {
    COMMON_PHASE_KEYS, "iterations", "start_rate",  "step_rate",       "max_rate", "step_duration",
    "stop_when",       "resolution", "refinements", "operating_point", NULL};
static const char *const stop_when_keys[] = {"ttft_p99_factor", "ttft_p99_ms", "error_rate",
                                             "rate_shortfall", NULL};

/* Load settings every kind shares; fills the template phase. */
static int read_phase_common(ctx_t *c, const fields_t *f, plan_phase_t *tpl, int *iterations,
                             int64_t *settle_ms, int64_t *pause_ms)
{
    yaml_node_t *v;
    const char *text;
    tpl->schedule.arrival = ARRIVAL_POISSON;
    tpl->schedule.gamma_shape = 1.0;
    if ((v = field(f, "arrival"))) {
        if (get_string(c, v, "arrival", &text) != 0)
            return -1;
        int arrival = arrival_kind_parse(text);
        if (arrival < 0)
            return fail(c, v, "'arrival': expected constant, poisson or gamma, got '%.40s'", text);
        tpl->schedule.arrival = (arrival_kind_t)arrival;
    }
    if ((v = field(f, "burstiness"))) {
        if (tpl->schedule.arrival != ARRIVAL_GAMMA)
            return fail(c, v, "'burstiness' applies to arrival: gamma only");
        if (get_double(c, v, "burstiness", 1e-3, 1e3, &tpl->schedule.gamma_shape) != 0)
            return -1;
    }
    if ((v = field(f, "seed"))) {
        double seed;
        if (get_double(c, v, "seed", 0, 9007199254740992.0, &seed) != 0)
            return -1;
        tpl->schedule.seed = (uint64_t)seed;
    }
    if ((v = field(f, "settle")) && get_duration(c, v, "settle", true, settle_ms) != 0)
        return -1;
    if ((v = field(f, "pause")) && get_duration(c, v, "pause", true, pause_ms) != 0)
        return -1;
    if ((v = field(f, "iterations")) && get_int(c, v, "iterations", 1, 100, iterations) != 0)
        return -1;
    if ((v = field(f, "expect_errors")) &&
        get_bool(c, v, "expect_errors", &tpl->expect_errors) != 0)
        return -1;
    return 0;
}

/* Appends one phase copied from the template (name built here). */
static plan_phase_t *add_phase(ctx_t *c, yaml_node_t *where, const plan_stage_t *stage,
                               const plan_phase_t *tpl, int level, int iteration, bool settle,
                               int64_t duration_ms, plan_rate_ref_t ref, double fraction)
{
    char name[160];
    int n = snprintf(name, sizeof name, "%s", stage->name);
    if (stage->levels > 1)
        n += snprintf(name + n, sizeof name - (size_t)n, ".%d", level + 1);
    if (settle)
        snprintf(name + n, sizeof name - (size_t)n, ".settle");
    else if (stage->iterations > 1)
        snprintf(name + n, sizeof name - (size_t)n, ".i%d", iteration + 1);
    plan_phase_t *p = plan_add_phase(c->plan, name, stage->kind);
    if (!p) {
        fail(c, where, "the plan expands to more than %d phases: fewer levels or iterations",
             PLAN_MAX_PHASES);
        return NULL;
    }
    char *keep_name = p->name, *keep_kind = p->kind;
    *p = *tpl;
    p->name = keep_name;
    p->kind = keep_kind;
    p->measure = stage->measured && !settle;
    p->duration_ms = duration_ms;
    p->settle_ms = 0;
    plan_extra_t *x = c->extra;
    x->phases = xrealloc(x->phases, (size_t)c->plan->phase_count * sizeof(plan_phase_extra_t));
    x->phase_count = c->plan->phase_count;
    plan_phase_extra_t *e = &x->phases[c->plan->phase_count - 1];
    e->stage = c->extra->stage_count - 1;
    e->level = level;
    e->iteration = settle ? -1 : iteration;
    e->settle = settle;
    e->rate_ref = ref;
    e->rate_fraction = fraction;
    return p;
}

/* Writes out one level: settle phase (if any), then the iterations. */
static int add_level(ctx_t *c, yaml_node_t *where, plan_stage_t *stage, const plan_phase_t *tpl,
                     int level, plan_rate_ref_t ref, double fraction)
{
    if (stage->settle_ms > 0 &&
        !add_phase(c, where, stage, tpl, level, 0, true, stage->settle_ms, ref, fraction))
        return -1;
    for (int i = 0; i < stage->iterations; i++) {
        if (!add_phase(c, where, stage, tpl, level, i, false, stage->hold_ms, ref, fraction))
            return -1;
    }
    return 0;
}

/* The last saturation stage before the current one, or NULL. */
static const plan_stage_t *last_search(const ctx_t *c)
{
    for (int i = c->extra->stage_count - 2; i >= 0; i--) {
        if (c->extra->stages[i].type == PLAN_STAGE_SATURATION)
            return &c->extra->stages[i];
    }
    return NULL;
}

static int read_simple(ctx_t *c, yaml_node_t *node, const fields_t *f, plan_stage_t *stage,
                       plan_phase_t *tpl, stage_kind_t kind)
{
    yaml_node_t *rate = field(f, "rate"), *conc = field(f, "concurrency"),
                *users = field(f, "users"), *v;
    int loads = !!rate + !!conc + !!users;
    if (loads == 0 && kind == KIND_BASELINE) {
        tpl->load = PHASE_LOAD_CONCURRENCY; /* one request at a time: the floor of latency */
        tpl->concurrency = 1;
    } else if (loads != 1) {
        return fail(c, node, "phase '%s': expected exactly one of rate, concurrency or users",
                    stage->name);
    }
    plan_rate_ref_t ref = PLAN_RATE_FIXED;
    double fraction = 1.0;
    if (rate) {
        tpl->load = PHASE_LOAD_RATE;
        if (want_scalar(c, rate, "rate", "a rate") != 0)
            return -1;
        const char *text = scalar(rate);
        if (strcmp(text, "operating_point") == 0 || strcmp(text, "saturation") == 0) {
            const plan_stage_t *search = last_search(c);
            if (!search)
                return fail(c, rate, "'rate: %s' needs a saturation phase before this one", text);
            ref = PLAN_RATE_OPERATING_POINT;
            /* the saturation rate is the operating point divided by its fraction */
            fraction = text[0] == 's' ? 1.0 / search->search.operating_fraction : 1.0;
            tpl->schedule.start_rate_per_s =
                search->search.start_rps; /* placeholder until the search ends */
        } else if (get_rate(c, rate, "rate", &tpl->schedule.start_rate_per_s) != 0) {
            return -1;
        }
        tpl->schedule.end_rate_per_s = tpl->schedule.start_rate_per_s;
    } else if (conc) {
        tpl->load = PHASE_LOAD_CONCURRENCY;
        if (get_int(c, conc, "concurrency", 1, 1000000, &tpl->concurrency) != 0)
            return -1;
    } else if (users) {
        tpl->load = PHASE_LOAD_USERS;
        if (get_int(c, users, "users", 1, 10000000, &tpl->users) != 0)
            return -1;
    }
    if ((v = field(f, "think_time"))) {
        int64_t ms;
        if (!users)
            return fail(c, v, "'think_time' applies to users only");
        if (get_duration(c, v, "think_time", true, &ms) != 0)
            return -1;
        tpl->think_time_mean_s = (double)ms / 1000.0;
    }
    if ((field(f, "arrival") || field(f, "burstiness")) && !rate)
        return fail(c, field(f, "arrival") ? field(f, "arrival") : field(f, "burstiness"),
                    "'arrival' applies to rate phases only (closed loops have no arrivals)");
    if (!field(f, "duration"))
        return fail(c, node, "phase '%s': expected 'duration' (90s, 30m)", stage->name);
    if (get_duration(c, field(f, "duration"), "duration", false, &stage->hold_ms) != 0)
        return -1;
    stage->levels = 1;
    return add_level(c, node, stage, tpl, 0, ref, fraction);
}

/* Levels from an explicit list or from start/step/end. */
static int ramp_levels(ctx_t *c, yaml_node_t *node, const fields_t *f, const char *list_key,
                       const char *start_key, const char *step_key, const char *end_key,
                       bool integer, double *levels, int max, int *count)
{
    yaml_node_t *list = field(f, list_key);
    yaml_node_t *start = field(f, start_key), *step = field(f, step_key), *end = field(f, end_key);
    if (list && (start || step || end))
        return fail(c, list, "'%s' and %s/%s/%s: give one of them", list_key, start_key, step_key,
                    end_key);
    *count = 0;
    if (list) {
        yaml_node_item_t *items;
        int n;
        if (get_sequence(c, list, list_key, max, &items, &n) != 0)
            return -1;
        if (n == 0)
            return fail(c, list, "'%s': expected at least one level", list_key);
        for (int i = 0; i < n; i++) {
            yaml_node_t *item = node_at(c, items[i]);
            int iv;
            if (!item)
                return -1;
            if (integer ? get_int(c, item, list_key, 1, 1000000, &iv)
                        : get_rate(c, item, list_key, &levels[i]))
                return -1;
            if (integer)
                levels[i] = iv;
        }
        *count = n;
        return 0;
    }
    if (!start || !step || !end)
        return fail(c, node, "ramp: expected '%s' or all of %s, %s and %s", list_key, start_key,
                    step_key, end_key);
    double a, s, b;
    int ia, is, ib;
    if (integer) {
        if (get_int(c, start, start_key, 1, 1000000, &ia) ||
            get_int(c, step, step_key, 1, 1000000, &is) ||
            get_int(c, end, end_key, 1, 1000000, &ib))
            return -1;
        a = ia, s = is, b = ib;
    } else if (get_rate(c, start, start_key, &a) || get_rate(c, step, step_key, &s) ||
               get_rate(c, end, end_key, &b)) {
        return -1;
    }
    if (b < a)
        return fail(c, end, "'%s' must be >= '%s'", end_key, start_key);
    if ((b - a) / s + 1 > max)
        return fail(c, step, "ramp: more than %d steps: raise '%s'", max, step_key);
    for (double r = a; r <= b + 1e-9 && *count < max; r += s)
        levels[(*count)++] = r;
    return 0;
}

#define MAX_RAMP_LEVELS 200

static int read_ramp(ctx_t *c, yaml_node_t *node, const fields_t *f, plan_stage_t *stage,
                     plan_phase_t *tpl)
{
    bool by_rate = field(f, "rates") || field(f, "start_rate") || field(f, "step_rate") ||
                   field(f, "end_rate");
    bool by_conc = field(f, "concurrencies") || field(f, "start_concurrency") ||
                   field(f, "step_concurrency") || field(f, "end_concurrency");
    if (by_rate == by_conc)
        return fail(c, node,
                    "ramp '%s': expected rates (rates, or start_rate/step_rate/end_rate) "
                    "or concurrencies (concurrencies, or start_/step_/end_concurrency)",
                    stage->name);
    if (by_conc && (field(f, "arrival") || field(f, "burstiness")))
        return fail(c, field(f, "arrival") ? field(f, "arrival") : field(f, "burstiness"),
                    "'arrival' applies to rate ramps only");
    /* A linear ramp: start_rate to end_rate over `duration`, no steps. */
    if (by_rate && !field(f, "step_rate") && !field(f, "rates")) {
        if (!field(f, "start_rate") || !field(f, "end_rate") || !field(f, "duration"))
            return fail(c, node,
                        "linear ramp '%s': expected start_rate, end_rate and duration "
                        "(or step_rate and step_duration for steps)",
                        stage->name);
        if (field(f, "step_duration"))
            return fail(c, field(f, "step_duration"), "'step_duration' needs step_rate or rates");
        if (get_rate(c, field(f, "start_rate"), "start_rate", &tpl->schedule.start_rate_per_s) ||
            get_rate(c, field(f, "end_rate"), "end_rate", &tpl->schedule.end_rate_per_s) ||
            get_duration(c, field(f, "duration"), "duration", false, &stage->hold_ms))
            return -1;
        tpl->load = PHASE_LOAD_RATE;
        stage->levels = 1;
        return add_level(c, node, stage, tpl, 0, PLAN_RATE_FIXED, 1.0);
    }
    if (field(f, "duration"))
        return fail(c, field(f, "duration"),
                    "a stepped ramp holds each step for 'step_duration', not 'duration'");
    if (!field(f, "step_duration"))
        return fail(c, node, "ramp '%s': expected 'step_duration' (how long each step is held)",
                    stage->name);
    if (get_duration(c, field(f, "step_duration"), "step_duration", false, &stage->hold_ms) != 0)
        return -1;
    double levels[MAX_RAMP_LEVELS];
    int count;
    if (by_rate ? ramp_levels(c, node, f, "rates", "start_rate", "step_rate", "end_rate", false,
                              levels, MAX_RAMP_LEVELS, &count)
                : ramp_levels(c, node, f, "concurrencies", "start_concurrency", "step_concurrency",
                              "end_concurrency", true, levels, MAX_RAMP_LEVELS, &count))
        return -1;
    stage->levels = count;
    for (int i = 0; i < count; i++) {
        if (by_rate) {
            tpl->load = PHASE_LOAD_RATE;
            tpl->schedule.start_rate_per_s = tpl->schedule.end_rate_per_s = levels[i];
        } else {
            tpl->load = PHASE_LOAD_CONCURRENCY;
            tpl->concurrency = (int)levels[i];
        }
        if (add_level(c, node, stage, tpl, i, PLAN_RATE_FIXED, 1.0) != 0)
            return -1;
    }
    return 0;
}

static int read_saturation(ctx_t *c, yaml_node_t *node, const fields_t *f, plan_stage_t *stage,
                           plan_phase_t *tpl)
{
    sat_config_t *s = &stage->search;
    sat_config_defaults(s);
    if (!field(f, "start_rate") || !field(f, "step_rate") || !field(f, "max_rate") ||
        !field(f, "step_duration"))
        return fail(c, node,
                    "saturation '%s': expected start_rate, step_rate, max_rate and "
                    "step_duration",
                    stage->name);
    if (get_rate(c, field(f, "start_rate"), "start_rate", &s->start_rps) ||
        get_rate(c, field(f, "step_rate"), "step_rate", &s->step_rps) ||
        get_rate(c, field(f, "max_rate"), "max_rate", &s->max_rps) ||
        get_duration(c, field(f, "step_duration"), "step_duration", false, &stage->hold_ms))
        return -1;
    if (s->max_rps < s->start_rps)
        return fail(c, field(f, "max_rate"), "'max_rate' must be >= 'start_rate'");
    yaml_node_t *v;
    if ((v = field(f, "resolution")) && get_rate(c, v, "resolution", &s->resolution_rps) != 0)
        return -1;
    if ((v = field(f, "refinements")) &&
        get_int(c, v, "refinements", 0, 32, &s->max_refinements) != 0)
        return -1;
    if (v && s->max_refinements == 0)
        s->resolution_rps = s->max_rps; /* 0 refinements: the coarse ramp only */
    if ((v = field(f, "operating_point"))) {
        if (get_fraction(c, v, "operating_point", &s->operating_fraction) != 0)
            return -1;
        if (!(s->operating_fraction > 0))
            return fail(c, v, "'operating_point': expected a fraction > 0");
    }
    if ((v = field(f, "stop_when"))) {
        fields_t sw;
        if (read_fields(c, v, "'stop_when'", stop_when_keys, &sw) != 0)
            return -1;
        /* Naming any condition replaces the defaults: what is listed is what stops. */
        s->ttft_p99_factor = 0;
        s->ttft_p99_max_ms = 0;
        s->max_error_rate = -1;
        s->max_rate_shortfall = -1;
        yaml_node_t *w;
        if ((w = field(&sw, "ttft_p99_factor")) &&
            get_double(c, w, "ttft_p99_factor", 1.0, 1e6, &s->ttft_p99_factor) != 0)
            return -1;
        if ((w = field(&sw, "ttft_p99_ms")) &&
            get_double(c, w, "ttft_p99_ms", 0.001, 3.6e6, &s->ttft_p99_max_ms) != 0)
            return -1;
        if ((w = field(&sw, "error_rate")) && get_fraction(c, w, "error_rate", &s->max_error_rate))
            return -1;
        if ((w = field(&sw, "rate_shortfall")) &&
            get_fraction(c, w, "rate_shortfall", &s->max_rate_shortfall) != 0)
            return -1;
    }
    char why[200];
    if (sat_config_check(s, why, sizeof why) != 0)
        return fail(c, node, "saturation '%s': %s", stage->name, why);
    tpl->load = PHASE_LOAD_RATE;
    stage->levels = 0;
    for (double r = s->start_rps; r <= s->max_rps + 1e-9; r += s->step_rps)
        stage->levels++;
    for (int i = 0; i < stage->levels; i++) {
        tpl->schedule.start_rate_per_s = tpl->schedule.end_rate_per_s =
            s->start_rps + i * s->step_rps;
        if (add_level(c, node, stage, tpl, i, PLAN_RATE_FIXED, 1.0) != 0)
            return -1;
    }
    stage->level_template = *tpl;
    stage->level_template.name = stage->level_template.kind = NULL;
    stage->level_template.schedule.start_rate_per_s =
        stage->level_template.schedule.end_rate_per_s = s->start_rps;
    stage->level_template.duration_ms = stage->hold_ms;
    stage->level_template.measure = true;
    return 0;
}

static int read_phase(ctx_t *c, yaml_node_t *node, int index)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(c, node, "phase %d: expected a mapping with at least 'kind', got %s", index + 1,
                    node_type_name(node));
    /* kind first: it decides which keys the phase may have */
    yaml_node_t *kind_node = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(c, pair->key);
        if (key && key->type == YAML_SCALAR_NODE && strcmp(scalar(key), "kind") == 0)
            kind_node = node_at(c, pair->value);
    }
    if (!kind_node)
        return fail(c, node, "phase %d: expected 'kind' (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    index + 1, kind_names[0], kind_names[1], kind_names[2], kind_names[3],
                    kind_names[4], kind_names[5], kind_names[6], kind_names[7], kind_names[8]);
    const char *kind_text;
    if (get_string(c, kind_node, "kind", &kind_text) != 0)
        return -1;
    int kind = -1;
    for (int i = 0; i < KIND_COUNT; i++) {
        if (strcmp(kind_text, kind_names[i]) == 0)
            kind = i;
    }
    if (kind < 0)
        return fail(c, kind_node,
                    "'kind': expected warmup, baseline, constant, soak, sla, concurrency, users, "
                    "ramp or saturation, got '%.40s'",
                    kind_text);
    const char *const *keys = kind == KIND_RAMP         ? ramp_keys
                              : kind == KIND_SATURATION ? saturation_keys
                                                        : simple_keys;
    char what[64];
    snprintf(what, sizeof what, "a %s phase", kind_text);
    fields_t f;
    if (read_fields(c, node, what, keys, &f) != 0)
        return -1;

    const char *name = kind_text;
    if (field(&f, "name") && get_string(c, field(&f, "name"), "name", &name) != 0)
        return -1;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return fail(c, field(&f, "name"),
                        "'name': expected letters, digits, - or _ (it names files and phases), "
                        "got '%.40s'",
                        name);
    }
    if (strlen(name) > 64)
        return fail(c, field(&f, "name"), "'name': at most 64 characters");
    plan_extra_t *x = c->extra;
    for (int i = 0; i < x->stage_count; i++) {
        if (strcmp(x->stages[i].name, name) == 0)
            return fail(c, field(&f, "name") ? field(&f, "name") : kind_node,
                        "duplicate phase name '%s' (first at line %d)%s", name, x->stages[i].line,
                        field(&f, "name") ? "" : ": give each a 'name'");
    }
    if (x->stage_count >= MAX_STAGES)
        return fail(c, node, "at most %d phases", MAX_STAGES);
    x->stages = xrealloc(x->stages, (size_t)(x->stage_count + 1) * sizeof(plan_stage_t));
    plan_stage_t *stage = &x->stages[x->stage_count++];
    memset(stage, 0, sizeof *stage);
    stage->name = xstrdup(name);
    stage->kind = xstrdup(kind_text);
    stage->line = (int)node->start_mark.line + 1;
    stage->first_phase = c->plan->phase_count;
    stage->iterations = 1;
    stage->measured = kind != KIND_WARMUP;
    stage->baseline = kind == KIND_BASELINE;
    stage->sla = kind == KIND_SLA;
    stage->type = kind == KIND_RAMP         ? PLAN_STAGE_RAMP
                  : kind == KIND_SATURATION ? PLAN_STAGE_SATURATION
                                            : PLAN_STAGE_SIMPLE;

    plan_phase_t tpl;
    memset(&tpl, 0, sizeof tpl);
    int64_t pause_ms = 0;
    if (read_phase_common(c, &f, &tpl, &stage->iterations, &stage->settle_ms, &pause_ms) != 0)
        return -1;
    stage->recover = -1;
    yaml_node_t *recover = field(&f, "recover");
    if (recover) {
        bool yes;
        if (get_bool(c, recover, "recover", &yes) != 0)
            return -1;
        if (kind == KIND_SATURATION && !yes)
            return fail(c, recover,
                        "'recover: false' on a saturation search: the search always waits "
                        "for the fleet to drain, so its floor and its levels are complete");
        stage->recover = yes;
    }
    int rc = kind == KIND_RAMP         ? read_ramp(c, node, &f, stage, &tpl)
             : kind == KIND_SATURATION ? read_saturation(c, node, &f, stage, &tpl)
                                       : read_simple(c, node, &f, stage, &tpl, (stage_kind_t)kind);
    if (rc != 0)
        return -1;
    stage = &x->stages[x->stage_count - 1];
    stage->phase_count = c->plan->phase_count - stage->first_phase;
    if (pause_ms > 0 && stage->phase_count > 0)
        c->plan->phases[c->plan->phase_count - 1].settle_ms = pause_ms;
    return 0;
}

static int read_phases(ctx_t *c, yaml_node_t *node)
{
    yaml_node_item_t *items;
    int count;
    if (get_sequence(c, node, "phases", MAX_STAGES, &items, &count) != 0)
        return -1;
    if (count == 0)
        return fail(c, node, "'phases': expected at least one phase");
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        if (!item || read_phase(c, item, i) != 0)
            return -1;
    }
    return 0;
}

/* ---- chaos: ------------------------------------------------------------------------------ */

static const char *const chaos_keys[] = {"actions", "impact", NULL};
static const char *const chaos_action_keys[] = {"at",   "run",  "timeout", "fault",
                                                "name", "mark", NULL};
static const char *const chaos_at_keys[] = {"phase", "after", NULL};
static const char *const chaos_impact_keys[] = {"baseline", "recovery",   "error_rate",
                                                "ttft",     "throughput", NULL};

/* at: 90s (from the run's start), or at: {phase: NAME, after: 20s}. */
static int read_chaos_at(ctx_t *c, yaml_node_t *node, const char *const *phases, int phase_count,
                         chaos_action_spec_t *a)
{
    if (node->type == YAML_SCALAR_NODE)
        return get_duration(c, node, "at", true, &a->after_ms);
    fields_t f;
    if (read_fields(c, node, "'at'", chaos_at_keys, &f) != 0)
        return -1;
    yaml_node_t *phase = field(&f, "phase"), *after = field(&f, "after");
    const char *name = NULL;
    if (!phase)
        return fail(c, node, "'at': expected 'phase' (or write at: 90s for a time from the start)");
    if (get_string(c, phase, "phase", &name) != 0)
        return -1;
    bool known = false;
    for (int i = 0; i < phase_count && !known; i++)
        known = strcmp(phases[i], name) == 0;
    if (!known)
        return fail(c, phase, "'at': no phase named '%.60s'", name);
    a->phase = xstrdup(name);
    return after ? get_duration(c, after, "after", true, &a->after_ms) : 0;
}

/* run: "a shell command", or run: [argv...]. */
static int read_chaos_run(ctx_t *c, yaml_node_t *node, chaos_action_spec_t *a)
{
    const char *text = NULL;
    if (node->type == YAML_SCALAR_NODE) {
        if (get_string(c, node, "run", &text) != 0)
            return -1;
        a->shell = xstrdup(text);
        return 0;
    }
    yaml_node_item_t *items;
    int n;
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(c, node, "'run': expected a command line (string) or an argv list");
    if (get_sequence(c, node, "run", CHAOS_MAX_ARGV, &items, &n) != 0)
        return -1;
    if (n < 1)
        return fail(c, node, "'run': expected 1 to %d arguments", CHAOS_MAX_ARGV);
    a->argv = xrealloc(NULL, ((size_t)n + 1) * sizeof *a->argv);
    memset(a->argv, 0, ((size_t)n + 1) * sizeof *a->argv);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        if (!item)
            return fail(c, node, "malformed list");
        /* An argument may be empty (sh -c ""), but it is a string without NUL bytes. */
        if (item->type != YAML_SCALAR_NODE || memchr(scalar(item), '\0', item->data.scalar.length))
            return fail(c, item, "'run': every argument must be a string");
        a->argv[i] = xstrdup(scalar(item));
    }
    return 0;
}

static int read_chaos_action(ctx_t *c, yaml_node_t *node, const char *const *phases,
                             int phase_count, chaos_action_spec_t *a)
{
    a->line = (int)node->start_mark.line + 1;
    a->timeout_ms = CHAOS_DEFAULT_TIMEOUT_MS;
    fields_t f;
    if (read_fields(c, node, "an action", chaos_action_keys, &f) != 0)
        return -1;
    yaml_node_t *at = field(&f, "at"), *run = field(&f, "run"), *timeout = field(&f, "timeout"),
                *fault = field(&f, "fault"), *name = field(&f, "name"), *mark = field(&f, "mark");
    if (!at)
        return fail(c, node, "an action needs 'at' (90s, or {phase: NAME, after: 20s})");
    if (read_chaos_at(c, at, phases, phase_count, a) != 0)
        return -1;
    if (run && read_chaos_run(c, run, a) != 0)
        return -1;
    if (timeout) {
        if (!run)
            return fail(c, timeout, "'timeout' applies to 'run'");
        if (get_duration(c, timeout, "timeout", false, &a->timeout_ms) != 0)
            return -1;
    }
    const char *text = NULL;
    if (fault) {
        if (want_scalar(c, fault, "fault", "start or end") != 0)
            return -1;
        if (strcmp(scalar(fault), "start") == 0)
            a->fault = CHAOS_FAULT_START;
        else if (strcmp(scalar(fault), "end") == 0)
            a->fault = CHAOS_FAULT_END;
        else
            return fail(c, fault, "'fault': expected start or end, got '%.40s'", scalar(fault));
        if (!name)
            return fail(c, fault, "'fault' needs 'name' (the fault window's name)");
    }
    if (name) {
        if (!fault)
            return fail(c, name, "'name' names a fault window: add 'fault: start' or 'fault: end'");
        if (get_string(c, name, "name", &text) != 0)
            return -1;
        a->name = xstrdup(text);
    }
    if (mark) {
        if (get_string(c, mark, "mark", &text) != 0)
            return -1;
        a->mark = xstrdup(text);
    }
    if (!run && !fault && !mark)
        return fail(c, node, "an action needs 'run', 'fault' or 'mark'");
    return 0;
}

/* A tolerance: a fraction (0.02) or a percentage (50%); ttft may exceed 100% ("+150%" of the
   baseline), up to 1000x. */
static int get_tolerance(ctx_t *c, yaml_node_t *node, const char *key, double *out)
{
    if (want_scalar(c, node, key, "a fraction or a percentage") != 0)
        return -1;
    const char *t = scalar(node);
    if (plan_yaml_parse_fraction(t, out) == 0)
        return 0;
    bool percent = *t && t[strlen(t) - 1] == '%';
    char *end = NULL;
    double f = strtod(t, &end);
    if (end == t || (percent ? strcmp(end, "%") != 0 : *end != '\0') || !(f >= 0) || f > 100000)
        return fail(c, node, "'%s': expected a fraction (0.02) or a percentage (50%%)", key);
    *out = percent ? f / 100 : f;
    return 0;
}

static int read_chaos_impact(ctx_t *c, yaml_node_t *node, impact_config_t *impact)
{
    fields_t f;
    if (read_fields(c, node, "'impact'", chaos_impact_keys, &f) != 0)
        return -1;
    yaml_node_t *v;
    if ((v = field(&f, "baseline")) &&
        get_int(c, v, "baseline", 1, 1000, &impact->baseline_intervals) != 0)
        return -1;
    if ((v = field(&f, "recovery")) &&
        get_int(c, v, "recovery", 1, 1000, &impact->recovery_intervals) != 0)
        return -1;
    if ((v = field(&f, "error_rate")) &&
        get_tolerance(c, v, "error_rate", &impact->error_rate_tolerance) != 0)
        return -1;
    if ((v = field(&f, "ttft")) && get_tolerance(c, v, "ttft", &impact->ttft_tolerance) != 0)
        return -1;
    if ((v = field(&f, "throughput")) &&
        get_tolerance(c, v, "throughput", &impact->throughput_tolerance) != 0)
        return -1;
    return 0;
}

/* Each window must open before it closes: a plan that ends a fault it never started would
   produce a row with no start. */
static int check_chaos_windows(ctx_t *c, const chaos_plan_t *plan)
{
    for (int i = 0; i < plan->count; i++) {
        const chaos_action_spec_t *a = &plan->actions[i];
        if (a->fault != CHAOS_FAULT_END)
            continue;
        bool opened = false;
        for (int k = 0; k < plan->count && !opened; k++) {
            const chaos_action_spec_t *b = &plan->actions[k];
            opened = b->fault == CHAOS_FAULT_START && strcmp(b->name, a->name) == 0;
        }
        if (!opened) {
            snprintf(c->err, c->err_size,
                     "%s:%d:1: chaos: 'fault: end' of '%.60s', which no action starts", c->file,
                     a->line, a->name);
            return -1;
        }
    }
    return 0;
}

/* `chaos:` (docs/chaos.md): a list of actions, or {actions: [...], impact: {...}}. An
   `at: {phase: NAME}` may name a phase of the file or one of the phases it is written
   out as. */
static int read_chaos_plan(ctx_t *c, yaml_node_t *node, const char *const *phases, int phase_count)
{
    chaos_plan_t *plan = xrealloc(NULL, sizeof *plan);
    memset(plan, 0, sizeof *plan);
    c->extra->chaos = plan;
    impact_config_defaults(&plan->impact);
    yaml_node_t *list = node;
    if (node->type == YAML_MAPPING_NODE) {
        fields_t f;
        if (read_fields(c, node, "'chaos'", chaos_keys, &f) != 0)
            return -1;
        yaml_node_t *impact = field(&f, "impact");
        if (impact && read_chaos_impact(c, impact, &plan->impact) != 0)
            return -1;
        list = field(&f, "actions");
        if (!list)
            return 0;
    }
    if (list->type != YAML_SEQUENCE_NODE)
        return fail(c, list, "expected a list of actions (or {actions: [...], impact: {...}})");
    yaml_node_item_t *items;
    int n;
    if (get_sequence(c, list, "actions", CHAOS_MAX_ACTIONS, &items, &n) != 0)
        return -1;
    plan->actions = xrealloc(NULL, ((size_t)n + 1) * sizeof *plan->actions);
    memset(plan->actions, 0, ((size_t)n + 1) * sizeof *plan->actions);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = node_at(c, items[i]);
        plan->count++;
        if (!item)
            return fail(c, list, "malformed list");
        if (read_chaos_action(c, item, phases, phase_count, &plan->actions[i]) != 0)
            return -1;
    }
    return check_chaos_windows(c, plan);
}

static int read_chaos(ctx_t *c, yaml_node_t *node)
{
    int count = c->extra->stage_count + c->plan->phase_count;
    const char **names = xrealloc(NULL, (size_t)(count + 1) * sizeof *names);
    int n = 0;
    for (int i = 0; i < c->extra->stage_count; i++)
        names[n++] = c->extra->stages[i].name;
    for (int i = 0; i < c->plan->phase_count; i++)
        names[n++] = c->plan->phases[i].name;
    c->section = "chaos";
    int rc = read_chaos_plan(c, node, names, n);
    c->section = NULL;
    free(names);
    return rc;
}

/* ---- The document ------------------------------------------------------------------------- */

/* clang-format off */
static const char *const top_keys[] = {
    "name", "description", "targets", "model", "api", "stream", "max_tokens", "ignore_eos",
    "timeout", "headers", "api_key_env", "api_key_file", "extra_body", "max_inflight", "balance",
    "seed", "interval", "simulator", "workload", "slo", "phases", "sla", "cost", "users", "outputs",
    "chaos", "server_metrics", "prometheus",
    /* connections and TLS: engine options (worker/engine.h) */
    "max_connections_per_target", "connection_per_user", "prewarm", "capture_header", "ca_file",
    "insecure_tls",
    /* a run that measured nothing (docs/plans.md) */
    "preflight", "expect_errors", NULL};
/* clang-format on */

/* The engine's connection and TLS options (worker/engine.h), top-level keys. */
static int read_connections(ctx_t *c, const fields_t *f)
{
    plan_t *plan = c->plan;
    yaml_node_t *v;
    const char *text;
    if ((v = field(f, "max_connections_per_target")) &&
        get_int(c, v, "max_connections_per_target", 1, 1 << 20,
                &plan->max_connections_per_target) != 0)
        return -1;
    if ((v = field(f, "connection_per_user")) &&
        get_bool(c, v, "connection_per_user", &plan->connection_per_user) != 0)
        return -1;
    if ((v = field(f, "prewarm")) && get_bool(c, v, "prewarm", &plan->prewarm) != 0)
        return -1;
    if ((v = field(f, "capture_header"))) {
        if (get_string(c, v, "capture_header", &text) != 0)
            return -1;
        for (const char *p = text; *p; p++) {
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                return fail(c, v,
                            "'capture_header': '%.40s' is not a header name (letters, digits, -)",
                            text);
        }
        if (strlen(text) > 255)
            return fail(c, v, "'capture_header': at most 255 characters");
        plan_set_string(&plan->capture_header, text);
    }
    if ((v = field(f, "ca_file"))) {
        if (get_string(c, v, "ca_file", &text) != 0)
            return -1;
        char *path = resolve_path(c, text);
        plan_set_string(&plan->ca_file, path);
        free(path);
    }
    if ((v = field(f, "insecure_tls")) && get_bool(c, v, "insecure_tls", &plan->insecure_tls) != 0)
        return -1;
    if (plan->ca_file && plan->insecure_tls)
        return fail(c, field(f, "insecure_tls"),
                    "give ca_file (verify with this CA) or insecure_tls (do not verify), not both");
    return 0;
}

static int read_top(ctx_t *c, yaml_node_t *root)
{
    fields_t f;
    if (read_fields(c, root, "the plan", top_keys, &f) != 0)
        return -1;
    plan_t *plan = c->plan;
    plan_extra_t *x = c->extra;
    static const char *const required[] = {"targets", "model", "phases"};
    for (int i = 0; i < 3; i++) {
        if (!field(&f, required[i]))
            return fail(c, root, "the plan: expected '%s'", required[i]);
    }
    yaml_node_t *v;
    const char *text;
    if ((v = field(&f, "name"))) {
        if (get_string(c, v, "name", &text) != 0)
            return -1;
        plan_set_string(&plan->name, text);
    }
    if ((v = field(&f, "description"))) {
        if (get_string(c, v, "description", &text) != 0)
            return -1;
        x->description = xstrdup(text);
    }
    if (read_targets(c, field(&f, "targets")) != 0)
        return -1;
    if (get_string(c, field(&f, "model"), "model", &text) != 0)
        return -1;
    plan_set_string(&plan->model, text);
    if ((v = field(&f, "api"))) {
        if (get_string(c, v, "api", &text) != 0)
            return -1;
        if (strcmp(text, "chat") != 0 && strcmp(text, "completions") != 0)
            return fail(c, v, "'api': expected chat or completions, got '%.40s'", text);
        plan_set_string(&plan->api, text);
    }
    if ((v = field(&f, "stream")) && get_bool(c, v, "stream", &plan->stream) != 0)
        return -1;
    if ((v = field(&f, "max_tokens")) &&
        get_int(c, v, "max_tokens", 1, WORKLOAD_MAX_TOKENS, &plan->max_tokens) != 0)
        return -1;
    if ((v = field(&f, "ignore_eos")) && get_bool(c, v, "ignore_eos", &plan->ignore_eos) != 0)
        return -1;
    if ((v = field(&f, "preflight")) && get_bool(c, v, "preflight", &plan->preflight) != 0)
        return -1;
    if ((v = field(&f, "expect_errors")) &&
        get_bool(c, v, "expect_errors", &plan->expect_errors) != 0)
        return -1;
    if ((v = field(&f, "timeout")) && get_duration(c, v, "timeout", false, &plan->timeout_ms))
        return -1;
    if ((v = field(&f, "headers")) && read_headers(c, v) != 0)
        return -1;
    if ((v = field(&f, "api_key_env"))) {
        if (get_string(c, v, "api_key_env", &text) != 0)
            return -1;
        for (const char *p = text; *p; p++) {
            if (!isalnum((unsigned char)*p) && *p != '_')
                return fail(c, v,
                            "'api_key_env': expected the NAME of an environment variable "
                            "(letters, digits, _), not the key itself");
        }
        plan_set_string(&plan->api_key_env, text);
    }
    if ((v = field(&f, "api_key_file"))) {
        if (get_string(c, v, "api_key_file", &text) != 0)
            return -1;
        x->api_key_file = resolve_path(c, text);
    }
    if (plan->api_key_env && x->api_key_file)
        return fail(c, field(&f, "api_key_file"), "give api_key_env or api_key_file, not both");
    if ((v = field(&f, "extra_body"))) {
        if (v->type != YAML_MAPPING_NODE)
            return fail(c, v, "'extra_body': expected a mapping (merged into every request body)");
        buf_t json;
        buf_init(&json);
        jsonw_t w;
        jsonw_init(&w, &json);
        if (yaml_to_json(c, v, &w, 0) != 0) {
            buf_free(&json);
            return -1;
        }
        plan->extra_body_json = buf_take(&json);
    }
    if ((v = field(&f, "max_inflight")) &&
        get_int(c, v, "max_inflight", 0, 10000000, &plan->max_inflight) != 0)
        return -1;
    if ((v = field(&f, "balance"))) {
        if (get_string(c, v, "balance", &text) != 0)
            return -1;
        if (strcmp(text, "round_robin") != 0 && strcmp(text, "random") != 0 &&
            strcmp(text, "least_inflight") != 0)
            return fail(c, v, "'balance': expected round_robin, random or least_inflight");
        x->balance = xstrdup(text);
    }
    if (read_connections(c, &f) != 0)
        return -1;
    if ((v = field(&f, "seed"))) {
        double seed;
        if (get_double(c, v, "seed", 1, 9007199254740992.0, &seed) != 0)
            return -1;
        plan->seed = (uint64_t)seed;
    }
    if ((v = field(&f, "prometheus")) && read_prometheus(c, v) != 0)
        return -1;
    if ((v = field(&f, "server_metrics"))) {
        if (get_string(c, v, "server_metrics", &text) != 0)
            return -1;
        if (strcmp(text, "off") != 0 && text[0] != '/')
            return fail(c, v,
                        "'server_metrics': expected the path of the targets' Prometheus page "
                        "(/metrics) or off");
        x->server_metrics_path = xstrdup(strcmp(text, "off") == 0 ? "" : text);
    }
    if ((v = field(&f, "interval"))) {
        if (get_duration(c, v, "interval", false, &plan->interval_ms) != 0)
            return -1;
        if (plan->interval_ms < 100 || plan->interval_ms > 60000)
            return fail(c, v, "'interval': expected 100ms to 60s");
    }
    if ((v = field(&f, "simulator"))) {
        fields_t s;
        if (read_fields(c, v, "'simulator'", simulator_keys, &s) != 0)
            return -1;
        if (!plan->sim_profile)
            return fail(c, v, "'simulator' applies to sim:// targets only");
        if (field(&s, "replicas") &&
            get_int(c, field(&s, "replicas"), "replicas", 1, 64, &plan->sim_replicas) != 0)
            return -1;
    }
    if ((v = field(&f, "slo")) && read_slo(c, v) != 0)
        return -1;
    if ((v = field(&f, "cost")) && read_cost(c, v) != 0)
        return -1;
    if ((v = field(&f, "users")) && read_users(c, v) != 0)
        return -1;
    if ((v = field(&f, "outputs")) && read_outputs(c, v) != 0)
        return -1;
    if ((v = field(&f, "workload")) && read_workload(c, v) != 0)
        return -1;
    if (read_phases(c, field(&f, "phases")) != 0)
        return -1;
    if ((v = field(&f, "sla")) && read_sla(c, v) != 0)
        return -1;
    if ((v = field(&f, "chaos")) && read_chaos(c, v) != 0)
        return -1;

    /* Cross-checks that need the whole plan. */
    if (x->sla_phase) {
        plan_stage_t *judged = NULL;
        for (int i = 0; i < x->stage_count; i++) {
            if (strcmp(x->stages[i].name, x->sla_phase) == 0)
                judged = &x->stages[i];
            x->stages[i].sla = false;
        }
        if (!judged)
            return fail(c, field(&f, "sla"), "'sla': no phase named '%s'", x->sla_phase);
        judged->sla = true;
    }
    bool has_sla_stage = false;
    for (int i = 0; i < x->stage_count; i++)
        has_sla_stage = has_sla_stage || x->stages[i].sla;
    if (has_sla_stage && x->sla_check_count == 0)
        return fail(c, root, "a phase of kind sla needs checks: add an 'sla:' list");
    if (x->junit_path && x->sla_check_count == 0)
        return fail(c, root, "'junit' needs SLA checks");
    return 0;
}

/* Builds the request pool so that a dataset error is a validation error, not a surprise
   at run time. */
static int build_workload(ctx_t *c)
{
    plan_extra_t *x = c->extra;
    char why[512];
    workload_options_t options = {.seed = c->plan->seed};
    if (!x->workload_spec) {
        int count;
        const default_prompt_t *prompts = default_prompts(&count);
        for (int i = 0; i < count; i++)
            plan_add_prompt(c->plan, prompts[i].text);
        return 0;
    }
    x->workload = workload_build(x->workload_spec, &options, why, sizeof why);
    if (!x->workload)
        return fail(c, c->workload_node, "workload: %s", why);
    double sum = 0;
    int sized = 0;
    plan_set_pool(c->plan, x->workload); /* prompts, max_tokens and classes */
    for (int i = 0; i < x->workload->count; i++) {
        sum += x->workload->items[i].max_tokens;
        sized += x->workload->items[i].max_tokens > 0;
    }
    /* Each request carries its own max_tokens (plan_t.prompt_max_tokens); the mean output
       length is the plan-wide value for anything that has none (and for reports). */
    if (c->plan->max_tokens == 0 && sized > 0)
        c->plan->max_tokens = (int)lround(sum / sized);
    return 0;
}

static void set_dir(ctx_t *c, const char *path)
{
    c->dir[0] = '\0';
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (slash && (size_t)(slash - path) < sizeof c->dir)
        snprintf(c->dir, sizeof c->dir, "%.*s", (int)(slash - path), path);
    if (slash == path)
        snprintf(c->dir, sizeof c->dir, "/");
}

static plan_t *load(ctx_t *c, const unsigned char *text, size_t len, plan_extra_t **extra_out)
{
    if (len > PLAN_YAML_MAX_BYTES) {
        snprintf(c->err, c->err_size, "%s:1:1: larger than %d bytes", c->file, PLAN_YAML_MAX_BYTES);
        return NULL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(c->err, c->err_size, "%s: cannot start the YAML parser", c->file);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, &c->doc)) {
        const char *context = parser.context ? parser.context : NULL;
        yaml_mark_t mark = parser.problem ? parser.problem_mark : parser.context_mark;
        snprintf(c->err, c->err_size, "%s:%zu:%zu: YAML syntax error: %s%s%s", c->file,
                 mark.line + 1, mark.column + 1, parser.problem ? parser.problem : "unknown",
                 context ? " " : "", context ? context : "");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    plan_t *plan = NULL;
    if (!root) {
        snprintf(c->err, c->err_size,
                 "%s:1:1: empty plan: expected a mapping with targets, model and phases", c->file);
        goto done;
    }
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        snprintf(c->err, c->err_size, "%s:%zu:%zu: YAML syntax error after the first document: %s",
                 c->file, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "unknown");
        goto done;
    }
    yaml_node_t *second = yaml_document_get_root_node(&next);
    if (second) {
        fail(c, second, "one YAML document per plan (found a second after '---')");
        yaml_document_delete(&next);
        goto done;
    }
    yaml_document_delete(&next);

    c->plan = plan_new();
    c->extra = calloc(1, sizeof *c->extra);
    if (!c->plan || !c->extra)
        abort();
    plan_set_string(&c->plan->source, c->file);
    if (read_top(c, root) != 0 || build_workload(c) != 0)
        goto done;
    if (c->conversations_node && strcmp(c->plan->api, "chat") != 0) {
        fail(c, c->conversations_node,
             "'conversations': need `api: chat` (a conversation is "
             "a list of chat messages)");
        goto done;
    }
    char why[512];
    if (plan_validate(c->plan, why, sizeof why) != 0) {
        snprintf(c->err, c->err_size, "%s:1:1: %s", c->file, why);
        goto done;
    }
    plan = c->plan;
    c->plan = NULL;
done:
    plan_destroy(&c->plan);
    if (plan && extra_out)
        *extra_out = c->extra;
    else
        plan_extra_destroy(&c->extra);
    yaml_document_delete(&c->doc);
    yaml_parser_delete(&parser);
    return plan;
}

plan_t *plan_yaml_load_text(const char *text, size_t len, const char *name,
                            plan_extra_t **extra_out, char *err, size_t err_size)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.file = name ? name : "plan";
    c.err = err;
    c.err_size = err_size;
    if (extra_out)
        *extra_out = NULL;
    return load(&c, (const unsigned char *)text, len, extra_out);
}

plan_t *plan_yaml_load(const char *path, plan_extra_t **extra_out, char *err, size_t err_size)
{
    if (extra_out)
        *extra_out = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    buf_t text;
    buf_init(&text);
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0 && text.len <= PLAN_YAML_MAX_BYTES)
        buf_append(&text, chunk, got);
    fclose(file);
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.file = path;
    c.err = err;
    c.err_size = err_size;
    set_dir(&c, path);
    plan_t *plan =
        load(&c, (const unsigned char *)(text.data ? text.data : ""), text.len, extra_out);
    buf_free(&text);
    return plan;
}

plan_t *plan_load_file(const char *path, char *err, size_t err_size)
{
    plan_extra_t *extra = NULL;
    plan_t *plan = plan_yaml_load(path, &extra, err, err_size);
    if (plan)
        plan->extra = extra;
    return plan;
}

void plan_extra_destroy(plan_extra_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    plan_extra_t *x = *self_p;
    free(x->description);
    for (int i = 0; i < x->stage_count; i++) {
        free(x->stages[i].name);
        free(x->stages[i].kind);
    }
    free(x->stages);
    free(x->phases);
    for (int i = 0; i < x->header_count; i++)
        free(x->headers[i]);
    free(x->headers);
    free(x->api_key_file);
    free(x->balance);
    free(x->server_metrics_path);
    free(x->prometheus_url);
    for (int i = 0; i < x->prometheus_query_count; i++) {
        free(x->prometheus_names[i]);
        free(x->prometheus_exprs[i]);
    }
    free(x->prometheus_names);
    free(x->prometheus_exprs);
    workload_spec_destroy(&x->workload_spec);
    workload_destroy(&x->workload);
    free(x->sla_checks);
    free(x->sla_phase);
    free(x->junit_path);
    chaos_plan_destroy(&x->chaos);
    free(x);
    *self_p = NULL;
}

/* ---- Description (surge validate) ------------------------------------------------------------ */

static void describe_duration(int64_t ms, FILE *out)
{
    if (ms % 3600000 == 0)
        fprintf(out, "%lldh", (long long)(ms / 3600000));
    else if (ms >= 60000 && ms % 60000 == 0)
        fprintf(out, "%lldm", (long long)(ms / 60000));
    else if (ms >= 60000)
        fprintf(out, "%lldm%llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
    else if (ms % 1000 == 0)
        fprintf(out, "%llds", (long long)(ms / 1000));
    else
        fprintf(out, "%lldms", (long long)ms);
}

static void describe_load(const plan_phase_t *p, FILE *out)
{
    if (p->load == PHASE_LOAD_RATE && p->schedule.end_rate_per_s != p->schedule.start_rate_per_s)
        fprintf(out, "%g to %g req/s", p->schedule.start_rate_per_s, p->schedule.end_rate_per_s);
    else if (p->load == PHASE_LOAD_RATE)
        fprintf(out, "%g req/s", p->schedule.start_rate_per_s);
    else if (p->load == PHASE_LOAD_CONCURRENCY)
        fprintf(out, "concurrency %d", p->concurrency);
    else
        fprintf(out, "%d users (think %gs)", p->users, p->think_time_mean_s);
}

static void describe_stage(const plan_t *plan, const plan_extra_t *x, const plan_stage_t *s,
                           FILE *out)
{
    const plan_phase_t *first = &plan->phases[s->first_phase + (s->settle_ms > 0 ? 1 : 0)];
    const plan_phase_extra_t *fe = &x->phases[s->first_phase];
    fprintf(out, "%s (%s", s->name, s->kind);
    if (s->type == PLAN_STAGE_SATURATION) {
        const sat_config_t *c = &s->search;
        fprintf(out, ": %g to %g req/s in steps of %g, ", c->start_rps, c->max_rps, c->step_rps);
        describe_duration(s->hold_ms, out);
        fprintf(out, " a level; bad when");
        int any = 0;
        if (c->ttft_p99_factor > 0)
            fprintf(out, "%s P99 TTFT > %gx baseline", any++ ? "," : "", c->ttft_p99_factor);
        if (c->ttft_p99_max_ms > 0)
            fprintf(out, "%s P99 TTFT > %g ms", any++ ? "," : "", c->ttft_p99_max_ms);
        if (c->max_error_rate >= 0)
            fprintf(out, "%s errors > %g%%", any++ ? "," : "", c->max_error_rate * 100);
        if (c->max_rate_shortfall >= 0)
            fprintf(out, "%s delivered < offered - %g%%", any++ ? "," : "",
                    c->max_rate_shortfall * 100);
        fprintf(out, "; operating point %g%% of saturation", c->operating_fraction * 100);
    } else if (s->type == PLAN_STAGE_RAMP && s->levels > 1) {
        const plan_phase_t *last = &plan->phases[s->first_phase + s->phase_count - 1];
        fprintf(out, ": %d steps from ", s->levels);
        describe_load(first, out);
        fprintf(out, " to ");
        describe_load(last, out);
        fprintf(out, ", ");
        describe_duration(s->hold_ms, out);
        fprintf(out, " each");
    } else {
        fprintf(out, ": ");
        if (fe->rate_ref == PLAN_RATE_OPERATING_POINT)
            fprintf(out, "%s",
                    fe->rate_fraction == 1.0 ? "the operating point" : "the saturation rate");
        else
            describe_load(first, out);
        fprintf(out, " for ");
        describe_duration(s->hold_ms, out);
    }
    if (s->settle_ms > 0) {
        fprintf(out, ", settle ");
        describe_duration(s->settle_ms, out);
    }
    if (s->iterations > 1)
        fprintf(out, ", %d iterations", s->iterations);
    if (!s->measured)
        fprintf(out, ", not measured");
    if (s->sla)
        fprintf(out, ", judged by the SLA");
    fprintf(out, ")");
}

void plan_yaml_describe(const plan_t *plan, const plan_extra_t *x, FILE *out)
{
    fprintf(out, "%s: plan '%s'", plan->source ? plan->source : "plan",
            plan->name ? plan->name : "(unnamed)");
    if (plan->sim_profile)
        fprintf(out, " against a simulated cluster (profile %s, %d replica%s)", plan->sim_profile,
                plan->sim_replicas, plan->sim_replicas == 1 ? "" : "s");
    else {
        char *shown = url_redact(plan->target_urls[0]);
        fprintf(out, " against %d target%s (%s%s)", plan->target_count,
                plan->target_count == 1 ? "" : "s", shown ? shown : "",
                plan->target_count > 1 ? ", ..." : "");
        free(shown);
    }
    fprintf(out, ", model %s, %s API%s", plan->model, plan->api, plan->stream ? ", streaming" : "");
    if (plan->insecure_tls)
        fprintf(out, " (TLS certificates NOT verified: insecure_tls)");
    else if (plan->ca_file)
        fprintf(out, " (TLS verified with the CA in %s)", plan->ca_file);
    if (x && x->workload) {
        fprintf(out, "; workload: %d request templates", x->workload->count);
        if (x->workload->class_count > 1) {
            fprintf(out, " in %d classes (", x->workload->class_count);
            for (int i = 0; i < x->workload->class_count; i++)
                fprintf(out, "%s%s", i ? ", " : "", x->workload->class_names[i]);
            fprintf(out, ")");
        }
        const conversation_spec_t *cs = &x->workload_spec->conversations;
        if (cs->enabled) {
            if (x->workload->conversations.count > 0)
                fprintf(out, ", as %d dataset conversations", x->workload->conversations.count);
            else if (cs->turns.kind == LENGTH_FIXED || cs->turns.kind == LENGTH_NONE)
                fprintf(out, ", as conversations of %d turns",
                        cs->turns.kind == LENGTH_FIXED ? (int)cs->turns.mean : 1);
            else
                fprintf(out, ", as conversations of %d to %d turns", cs->turns.min, cs->turns.max);
            fprintf(out, " (affinity %s)", conversation_affinity_name(cs->affinity));
        }
    } else {
        fprintf(out, "; workload: %d prompts", plan->prompt_count);
    }
    fprintf(out, "; phases: ");
    for (int i = 0; x && i < x->stage_count; i++) {
        fprintf(out, "%s", i ? ", " : "");
        describe_stage(plan, x, &x->stages[i], out);
    }
    if (x && x->sla_check_count > 0) {
        fprintf(out, "; SLA: ");
        for (int i = 0; i < x->sla_check_count; i++) {
            char text[128];
            sla_check_format(&x->sla_checks[i], text, sizeof text);
            fprintf(out, "%s%s", i ? ", " : "", text);
        }
        int judged = 0;
        for (int i = 0; i < x->stage_count; i++) {
            if (x->stages[i].sla)
                fprintf(out, "%s%s", judged++ ? ", " : " judged per phase: ", x->stages[i].name);
        }
        if (!judged)
            fprintf(out, " judged over the whole run");
        if (x->junit_path)
            fprintf(out, " (JUnit XML to %s)", x->junit_path);
    }
    if (x && x->has_cost)
        fprintf(out, "; cost: %d GPUs at %g %s/GPU-hour", x->cost.gpu_count,
                x->cost.price_per_gpu_hour, x->cost.currency);
    if (x && x->has_users)
        fprintf(out, "; users estimated with %gs think time", x->users_think_time_s);
    if (x && x->chaos && x->chaos->count > 0)
        fprintf(out, "; chaos: %d planned action%s", x->chaos->count,
                x->chaos->count == 1 ? "" : "s");
    fprintf(out, "; %d phases, at most ", plan->phase_count);
    describe_duration(plan_duration_ms(plan), out);
    fprintf(out, ".\n");
}

/* ---- Verdicts of a finished run ---------------------------------------------------------- */

/* The average of the measured phases of one level of a stage (all levels when level < 0);
   new reference, NULL when none of them ran. */
static json_t *stage_summary(const plan_extra_t *x, const plan_stage_t *stage, int level,
                             json_t *const *phase_summaries)
{
    json_t *runs[PLAN_MAX_PHASES];
    int n = 0;
    for (int i = stage->first_phase; i < stage->first_phase + stage->phase_count; i++) {
        const plan_phase_extra_t *e = &x->phases[i];
        if (!e->settle && (level < 0 || e->level == level) && phase_summaries[i])
            runs[n++] = phase_summaries[i];
    }
    return n ? summary_average(runs, n) : NULL;
}

/* Replays the search over the levels that ran: the adaptive executor's levels are the
   coarse ramp's, so this gives the same answers as long as they ran in order. */
static sat_search_t *replay_search(const plan_t *plan, const plan_extra_t *x,
                                   const plan_stage_t *stage, double baseline_ms,
                                   json_t *const *phase_summaries)
{
    sat_search_t *search = sat_search_new(&stage->search, baseline_ms);
    double rate;
    while (search && sat_search_next(search, &rate)) {
        int level = -1;
        for (int i = stage->first_phase; i < stage->first_phase + stage->phase_count; i++) {
            if (fabs(plan->phases[i].schedule.start_rate_per_s - rate) < 1e-9)
                level = x->phases[i].level;
        }
        json_t *summary = level >= 0 ? stage_summary(x, stage, level, phase_summaries) : NULL;
        if (!summary)
            break; /* a refinement level the written-out ramp does not have, or not run */
        sat_search_observe(search, summary);
        json_decref(summary);
    }
    return search;
}

bool plan_verdicts_write(const plan_t *plan, const plan_extra_t *x, json_t *const *phase_summaries,
                         const json_t *overall, const sat_search_t *search, jsonw_t *w,
                         FILE *sla_table, buf_t *junit_out)
{
    const plan_stage_t *baseline = NULL, *saturation = NULL, *at_op = NULL;
    int judged_count = 0; /* stages marked sla: each is judged */
    for (int i = 0; i < x->stage_count; i++) {
        const plan_stage_t *s = &x->stages[i];
        if (s->baseline && !baseline)
            baseline = s;
        if (s->type == PLAN_STAGE_SATURATION)
            saturation = s;
        judged_count += s->sla;
        if (s->phase_count > 0 && x->phases[s->first_phase].rate_ref == PLAN_RATE_OPERATING_POINT)
            at_op = s;
    }
    double baseline_ms = NAN;
    if (baseline) {
        json_t *b = stage_summary(x, baseline, -1, phase_summaries);
        baseline_ms = json_path_number(b, "ttft_ms.p99");
        json_decref(b);
    }

    sat_result_t sat = {0};
    if (saturation) {
        sat_search_t *replayed =
            search ? NULL : replay_search(plan, x, saturation, baseline_ms, phase_summaries);
        const sat_search_t *ran = search ? search : replayed;
        if (ran) {
            sat_search_result(ran, &sat);
            jsonw_key(w, "saturation");
            sat_search_write_json(ran, w);
        }
        sat_search_destroy(&replayed);
    }

    /* Every stage marked sla is judged on its own (its measured phases averaged), one
       after the other in one table; without any, the whole run is. */
    bool passed = true;
    if (x->sla_check_count > 0) {
        int n = x->sla_check_count;
        int groups = judged_count > 0 ? judged_count : 1;
        sla_result_t *results = calloc((size_t)(groups * n), sizeof *results);
        if (!results)
            return false;
        double duration_s = 0;
        int g = 0;
        for (int i = 0; i < x->stage_count || g == 0; i++) {
            const plan_stage_t *s = i < x->stage_count ? &x->stages[i] : NULL;
            if (s ? !s->sla : judged_count > 0)
                continue; /* not judged; past the stages, the whole run when none was */
            json_t *stage = s ? stage_summary(x, s, -1, phase_summaries) : NULL;
            const json_t *summary = s ? stage : overall;
            passed = sla_evaluate(x->sla_checks, n, summary, &results[g * n]) && passed;
            for (int k = 0; k < n; k++)
                results[g * n + k].phase = s ? s->name : NULL;
            double d = json_path_number(summary, "duration_s");
            duration_s += isnan(d) ? 0 : d;
            json_decref(stage);
            g++;
        }
        jsonw_key(w, "sla");
        sla_write_json(results, g * n, w);
        if (sla_table)
            sla_write_text(results, g * n, sla_table);
        if (junit_out)
            sla_write_junit(results, g * n, plan->name ? plan->name : "surge.sla", duration_s,
                            junit_out);
        free(results);
    }

    json_t *op_summary = at_op ? stage_summary(x, at_op, -1, phase_summaries) : NULL;
    if (x->has_cost) {
        double max_tps = saturation ? sat.max_output_tokens_per_s
                                    : json_path_number(overall, "output_tokens_per_s");
        double op_tps = json_path_number(op_summary, "output_tokens_per_s");
        jsonw_key(w, "cost");
        cost_write_json(&x->cost, max_tps, isnan(op_tps) ? 0 : op_tps, w);
    }
    if (x->has_users) {
        const json_t *basis = op_summary ? op_summary : overall;
        double rate = saturation && sat.operating_point_rps > 0
                          ? sat.operating_point_rps
                          : json_path_number(basis, "completed_rps");
        double e2e_s = json_path_number(basis, "e2e_ms.mean") / 1000.0;
        jsonw_key(w, "users");
        users_write_json(rate, e2e_s, x->users_think_time_s, w);
    }
    json_decref(op_summary);
    return passed;
}
