/*  plan.c: the plan model and its flag-form builder (see plan.h). */
#include "plan/plan.h"
#include "plan/plan_yaml.h"
#include "plan/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

static char *dup_or_null(const char *text)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        abort(); /* out of memory while building a plan: nothing sensible to do */
    return copy;
}

static void *grow(void *array, int count, size_t item_size)
{
    void *bigger = realloc(array, (size_t)(count + 1) * item_size);
    if (!bigger)
        abort();
    return bigger;
}

plan_t *plan_new(void)
{
    plan_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->source = dup_or_null("flags");
    self->api = dup_or_null("chat");
    self->stream = true;
    self->preflight = true;
    self->interval_ms = 1000;
    self->seed = 1;
    self->sim_replicas = 1;
    return self;
}

static void free_strings(char **strings, int count)
{
    for (int i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

void plan_destroy(plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    plan_t *self = *self_p;
    free(self->source);
    free(self->name);
    free_strings(self->target_urls, self->target_count);
    free(self->model);
    free(self->api);
    free(self->extra_body_json);
    free(self->api_key_env);
    free(self->capture_header);
    free(self->ca_file);
    plan_clear_prompts(self);
    for (int i = 0; i < self->phase_count; i++) {
        free(self->phases[i].name);
        free(self->phases[i].kind);
    }
    free(self->phases);
    for (int i = 0; i < self->slo_count; i++)
        free(self->slos[i].metric);
    free(self->slos);
    free(self->sim_profile);
    free(self->out_dir);
    plan_extra_destroy(&self->extra);
    free_strings(self->overrides, self->override_count);
    free(self);
    *self_p = NULL;
}

void plan_set_string(char **field, const char *value)
{
    free(*field);
    *field = dup_or_null(value);
}

void plan_add_target(plan_t *self, const char *url)
{
    self->target_urls = grow(self->target_urls, self->target_count, sizeof(char *));
    self->target_urls[self->target_count++] = dup_or_null(url);
}

void plan_add_prompt(plan_t *self, const char *prompt)
{
    plan_add_prompt_sized(self, prompt, 0);
}

static void plan_add_class(plan_t *self, const char *name)
{
    self->class_names = grow(self->class_names, self->class_count, sizeof(char *));
    self->class_names[self->class_count++] = dup_or_null(name);
}

static void plan_add_prompt_of_class(plan_t *self, const char *prompt, int max_tokens,
                                     int class_index)
{
    self->prompts = grow(self->prompts, self->prompt_count, sizeof(char *));
    self->prompt_max_tokens = grow(self->prompt_max_tokens, self->prompt_count, sizeof(int));
    self->prompt_class = grow(self->prompt_class, self->prompt_count, sizeof(int));
    self->prompts[self->prompt_count] = dup_or_null(prompt);
    self->prompt_max_tokens[self->prompt_count] = max_tokens > 0 ? max_tokens : 0;
    self->prompt_class[self->prompt_count] = class_index;
    self->prompt_count++;
}

void plan_add_prompt_sized(plan_t *self, const char *prompt, int max_tokens)
{
    if (self->class_count == 0)
        plan_add_class(self, "default"); /* the workload's name for a plan without a mix */
    plan_add_prompt_of_class(self, prompt, max_tokens, 0);
}

void plan_clear_prompts(plan_t *self)
{
    free_strings(self->prompts, self->prompt_count);
    free(self->prompt_max_tokens);
    free(self->prompt_class);
    self->prompts = NULL;
    self->prompt_max_tokens = NULL;
    self->prompt_class = NULL;
    self->prompt_count = 0;
    free_strings(self->class_names, self->class_count);
    self->class_names = NULL;
    self->class_count = 0;
}

void plan_set_pool(plan_t *self, const workload_t *pool)
{
    plan_clear_prompts(self);
    for (int c = 0; c < pool->class_count; c++)
        plan_add_class(self, pool->class_names[c]);
    for (int i = 0; i < pool->count; i++)
        plan_add_prompt_of_class(self, pool->items[i].prompt, pool->items[i].max_tokens,
                                 pool->items[i].class_index);
}

plan_phase_t *plan_add_phase(plan_t *self, const char *name, const char *kind)
{
    if (self->phase_count >= PLAN_MAX_PHASES)
        return NULL;
    self->phases = grow(self->phases, self->phase_count, sizeof(plan_phase_t));
    plan_phase_t *phase = &self->phases[self->phase_count++];
    memset(phase, 0, sizeof *phase);
    phase->name = dup_or_null(name);
    phase->kind = dup_or_null(kind ? kind : "constant");
    phase->load = PHASE_LOAD_RATE;
    phase->measure = true;
    phase->schedule.arrival = ARRIVAL_CONSTANT;
    phase->schedule.gamma_shape = 1.0;
    return phase;
}

void plan_add_override(plan_t *self, const char *what, const char *value, const char *was)
{
    size_t len = strlen(what) + strlen(value) + (was ? strlen(was) : 0) + 32;
    char *line = malloc(len);
    if (!line)
        abort();
    snprintf(line, len, "%s: %s (the plan says %s)", what, value, was ? was : "nothing");
    self->overrides = grow(self->overrides, self->override_count, sizeof(char *));
    self->overrides[self->override_count++] = line;
}

plan_slo_t *plan_add_slo(plan_t *self, const char *metric, double percentile, double limit)
{
    self->slos = grow(self->slos, self->slo_count, sizeof(plan_slo_t));
    plan_slo_t *slo = &self->slos[self->slo_count++];
    slo->metric = dup_or_null(metric);
    slo->percentile = percentile;
    slo->limit = limit;
    return slo;
}

int plan_validate(const plan_t *self, char *err, size_t err_size)
{
    const char *src = self->source ? self->source : "plan";
    if (self->target_count < 1 || self->target_count > PLAN_MAX_TARGETS) {
        snprintf(err, err_size, "%s: needs 1 to %d targets", src, PLAN_MAX_TARGETS);
        return -1;
    }
    if (!self->model || !*self->model) {
        snprintf(err, err_size, "%s: no model", src);
        return -1;
    }
    if (self->prompt_count < 1) {
        snprintf(err, err_size, "%s: no prompts", src);
        return -1;
    }
    if (!self->api || (strcmp(self->api, "chat") != 0 && strcmp(self->api, "completions") != 0)) {
        snprintf(err, err_size, "%s: api must be chat or completions", src);
        return -1;
    }
    if (self->interval_ms < 100 || self->interval_ms > 60000) {
        snprintf(err, err_size, "%s: interval must be 100 ms to 60 s", src);
        return -1;
    }
    if (self->phase_count < 1) {
        snprintf(err, err_size, "%s: no phases", src);
        return -1;
    }
    /* The limits the workers enforce (common/limits.h): a plan past them would be refused
       by every worker and measure nothing. */
    if (self->timeout_ms < 0 || self->timeout_ms > LIMIT_TIMEOUT_MS) {
        snprintf(err, err_size, "%s: timeout must be 0 to %lld s", src,
                 (long long)LIMIT_TIMEOUT_MS / 1000);
        return -1;
    }
    if (self->max_tokens < 0 || self->max_tokens > LIMIT_MAX_TOKENS) {
        snprintf(err, err_size, "%s: max_tokens must be 0 to %d", src, LIMIT_MAX_TOKENS);
        return -1;
    }
    for (int i = 0; self->prompt_max_tokens && i < self->prompt_count; i++) {
        if (self->prompt_max_tokens[i] < 0 || self->prompt_max_tokens[i] > LIMIT_MAX_TOKENS) {
            snprintf(err, err_size, "%s: a request's max_tokens must be 0 to %d", src,
                     LIMIT_MAX_TOKENS);
            return -1;
        }
    }
    if (self->max_inflight < 0 || self->max_inflight > LIMIT_MAX_INFLIGHT) {
        snprintf(err, err_size, "%s: max_inflight must be 0 to %d", src, LIMIT_MAX_INFLIGHT);
        return -1;
    }
    for (int i = 0; i < self->phase_count; i++) {
        const plan_phase_t *p = &self->phases[i];
        const char *name = p->name ? p->name : "?";
        if (p->duration_ms <= 0) {
            snprintf(err, err_size, "%s: phase %s: duration must be > 0", src, name);
            return -1;
        }
        if (p->duration_ms > LIMIT_PHASE_DURATION_MS) {
            snprintf(err, err_size, "%s: phase %s: duration %.0f h is above the limit of %lld h",
                     src, name, (double)p->duration_ms / 3.6e6,
                     (long long)(LIMIT_PHASE_DURATION_MS / 3600000));
            return -1;
        }
        if (p->settle_ms < 0) {
            snprintf(err, err_size, "%s: phase %s: settle time must be >= 0", src, name);
            return -1;
        }
        switch (p->load) {
        case PHASE_LOAD_RATE:
            if (p->schedule.start_rate_per_s < 0 || p->schedule.end_rate_per_s < 0 ||
                (p->schedule.start_rate_per_s == 0 && p->schedule.end_rate_per_s == 0)) {
                snprintf(err, err_size, "%s: phase %s: rate must be > 0", src, name);
                return -1;
            }
            if (!(p->schedule.start_rate_per_s <= LIMIT_RATE_PER_S &&
                  p->schedule.end_rate_per_s <= LIMIT_RATE_PER_S)) {
                snprintf(err, err_size,
                         "%s: phase %s: rate %.10g req/s is above the limit of %.10g req/s", src,
                         name,
                         p->schedule.start_rate_per_s > p->schedule.end_rate_per_s
                             ? p->schedule.start_rate_per_s
                             : p->schedule.end_rate_per_s,
                         LIMIT_RATE_PER_S);
                return -1;
            }
            if (p->schedule.arrival == ARRIVAL_GAMMA &&
                !(p->schedule.gamma_shape > 0 && p->schedule.gamma_shape <= LIMIT_GAMMA_SHAPE)) {
                snprintf(err, err_size, "%s: phase %s: burstiness must be > 0 and <= %g", src, name,
                         LIMIT_GAMMA_SHAPE);
                return -1;
            }
            break;
        case PHASE_LOAD_CONCURRENCY:
            if (p->concurrency <= 0 || p->concurrency > LIMIT_CONCURRENCY) {
                snprintf(err, err_size, "%s: phase %s: concurrency must be 1 to %d", src, name,
                         LIMIT_CONCURRENCY);
                return -1;
            }
            break;
        case PHASE_LOAD_USERS:
            if (p->users <= 0 || p->users > LIMIT_USERS) {
                snprintf(err, err_size, "%s: phase %s: users must be 1 to %d", src, name,
                         LIMIT_USERS);
                return -1;
            }
            if (!(p->think_time_mean_s >= 0 && p->think_time_mean_s <= LIMIT_THINK_TIME_S)) {
                snprintf(err, err_size, "%s: phase %s: think time must be 0 to %.0f s", src, name,
                         LIMIT_THINK_TIME_S);
                return -1;
            }
            break;
        default:
            snprintf(err, err_size, "%s: phase %s: unknown load", src, name);
            return -1;
        }
    }
    return 0;
}

int64_t plan_duration_ms(const plan_t *self)
{
    int64_t total = 0;
    for (int i = 0; i < self->phase_count; i++)
        total += self->phases[i].duration_ms + self->phases[i].settle_ms;
    return total;
}

plan_t *plan_new_from_flags(const plan_flags_t *flags, char *err, size_t err_size)
{
    if (!flags->target || !*flags->target) {
        snprintf(err, err_size, "--target is required without a plan file");
        return NULL;
    }
    if (!flags->model || !*flags->model) {
        snprintf(err, err_size, "--model is required without a plan file");
        return NULL;
    }
    if (flags->rate_per_s <= 0 && flags->concurrency <= 0) {
        snprintf(err, err_size, "give --rate R or --concurrency N");
        return NULL;
    }
    if (flags->duration_ms <= 0) {
        snprintf(err, err_size, "--duration must be > 0");
        return NULL;
    }
    int arrival = arrival_kind_parse(flags->arrival ? flags->arrival : "poisson");
    if (arrival < 0) {
        snprintf(err, err_size, "--arrival: unknown process '%s' (constant, poisson, gamma)",
                 flags->arrival);
        return NULL;
    }

    plan_t *self = plan_new();
    plan_add_target(self, flags->target);
    plan_set_string(&self->model, flags->model);
    if (flags->api)
        plan_set_string(&self->api, flags->api);
    self->max_tokens = flags->max_tokens;
    self->ignore_eos = flags->ignore_eos;
    if (flags->seed)
        self->seed = flags->seed;
    /* The built-in workload, as a plan file without `workload:` has it (docs/workloads.md). */
    int count;
    const default_prompt_t *prompts = default_prompts(&count);
    for (int i = 0; i < count; i++)
        plan_add_prompt(self, prompts[i].text);

    for (int warm = flags->warmup_ms > 0 ? 1 : 0; warm >= 0; warm--) {
        plan_phase_t *p =
            plan_add_phase(self, warm ? "warmup" : "main",
                           warm ? "warmup" : (flags->rate_per_s > 0 ? "constant" : "concurrency"));
        p->measure = !warm;
        p->duration_ms = warm ? flags->warmup_ms : flags->duration_ms;
        if (flags->rate_per_s > 0) {
            p->load = PHASE_LOAD_RATE;
            p->schedule.start_rate_per_s = p->schedule.end_rate_per_s = flags->rate_per_s;
            p->schedule.arrival = (arrival_kind_t)arrival;
            p->schedule.gamma_shape = flags->burstiness > 0 ? flags->burstiness : 1.0;
        } else {
            p->load = PHASE_LOAD_CONCURRENCY;
            p->concurrency = flags->concurrency;
        }
    }
    if (plan_validate(self, err, err_size) != 0) {
        plan_destroy(&self);
        return NULL;
    }
    return self;
}
