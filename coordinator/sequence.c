/*  sequence.c: which phase runs next (docs/plans.md, "How a plan runs").

    The coordinator asks for one phase at a time, so a plan can depend on what it
    measured:

      - the plan's phases run in order, copied as they are;
      - a saturation stage skips its written-out coarse ramp: each level's rate comes from
        sat_search_next() (plan/verdict.h), the level runs as the stage's
        level_template (settle part, then its iterations), and the average of its measured
        parts is given to sat_search_observe() before the next level is chosen; the TTFT
        floor is the first baseline stage's measured summary;
      - a phase at `rate: operating_point` runs at rate_fraction x the operating point of
        the search before it (skipped, with a warning, when that search found no good
        rate: the SLA then has no data and fails).

    Recovery: phases of one stage follow each other at once (a ramp is continuous, a
    settle part leads into its level), and so does the stage after a warm-up (warming up
    is for measuring from steady state). Before any other stage and between search levels
    the coordinator waits until every phase interval is closed and the fleet reports
    nothing in flight, at most the recovery bound (coordinator.c): a search level is judged
    on all of its requests, and the next phase starts on an idle cluster. A stage's
    `recover: true|false` overrides the default (a search always recovers). Requests count
    in the phase that sent them either way (merge.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/coord_internal.h"
#include "plan/plan_yaml.h"

static const plan_extra_t *extra_of(const coordinator_t *self)
{
    return self->plan->extra;
}

int sequence_init(coordinator_t *self, char *err, size_t err_size)
{
    const plan_t *plan = self->plan;
    const plan_extra_t *x = extra_of(self);
    if (x && x->phase_count != plan->phase_count) {
        snprintf(err, err_size, "%s: the plan's extra does not match its phases", plan->source);
        return -1;
    }
    /* The run's phases never outnumber the plan's plus every search at its longest. */
    int cap = plan->phase_count;
    for (int i = 0; x && i < x->stage_count; i++) {
        const plan_stage_t *s = &x->stages[i];
        if (s->type == PLAN_STAGE_SATURATION)
            cap += SAT_MAX_LEVELS * (s->iterations + (s->settle_ms > 0 ? 1 : 0));
    }
    self->timeline.phase_cap = cap;
    self->timeline.phases = calloc((size_t)cap, sizeof *self->timeline.phases);
    self->timeline.phase_start_ns = calloc((size_t)cap, sizeof(int64_t));
    self->timeline.phase_end_ns = calloc((size_t)cap, sizeof(int64_t));
    self->seq.search_stage = -1;
    if (x)
        self->seq.searches = calloc((size_t)(x->stage_count + 1), sizeof(sat_search_t *));
    if (!self->timeline.phases || !self->timeline.phase_start_ns || !self->timeline.phase_end_ns ||
        (x && !self->seq.searches)) {
        snprintf(err, err_size, "out of memory for %d phases", cap);
        return -1;
    }
    return 0;
}

void sequence_free(coordinator_t *self)
{
    for (int i = 0; i < self->timeline.phase_count; i++) {
        free(self->timeline.phases[i].phase.name);
        free(self->timeline.phases[i].phase.kind);
    }
    free(self->timeline.phases);
    self->timeline.phases = NULL;
    free(self->timeline.phase_start_ns);
    free(self->timeline.phase_end_ns);
    self->timeline.phase_start_ns = self->timeline.phase_end_ns = NULL;
    const plan_extra_t *x = extra_of(self);
    for (int i = 0; self->seq.searches && x && i < x->stage_count; i++)
        sat_search_destroy(&self->seq.searches[i]);
    free(self->seq.searches);
    self->seq.searches = NULL;
}

/* Appends a copy of `phase` named `name` (NULL: its own name). */
static run_phase_t *append(coordinator_t *self, const plan_phase_t *phase, const char *name,
                           const char *kind)
{
    if (self->timeline.phase_count >= self->timeline.phase_cap)
        return NULL;
    run_phase_t *r = &self->timeline.phases[self->timeline.phase_count++];
    memset(r, 0, sizeof *r);
    r->phase = *phase;
    r->phase.name = strdup(name ? name : phase->name);
    r->phase.kind = strdup(kind ? kind : phase->kind);
    if (!r->phase.name || !r->phase.kind)
        abort(); /* out of memory in the middle of a run: nothing sensible to do */
    r->plan_index = -1;
    r->stage = -1;
    return r;
}

/* The average of the measured, non-settle run phases of `stage` (only `level` when >= 0);
   new reference or NULL. */
static json_t *stage_average(coordinator_t *self, int stage, int level)
{
    json_t **runs = calloc((size_t)(self->timeline.phase_count + 1), sizeof *runs);
    int n = 0;
    for (int i = 0; runs && i < self->timeline.phase_count; i++) {
        const run_phase_t *r = &self->timeline.phases[i];
        if (r->stage != stage || r->settle || (level >= 0 && r->level != level))
            continue;
        json_t *s = phase_summary_json(self, i);
        if (s)
            runs[n++] = s;
    }
    json_t *avg = n ? summary_average(runs, n) : NULL;
    for (int i = 0; i < n; i++)
        json_decref(runs[i]);
    free(runs);
    return avg;
}

static double baseline_ttft_p99_ms(coordinator_t *self)
{
    const plan_extra_t *x = extra_of(self);
    for (int i = 0; i < x->stage_count; i++) {
        if (!x->stages[i].baseline)
            continue;
        json_t *b = stage_average(self, i, -1);
        double ms = json_path_number(b, "ttft_ms.p99");
        json_decref(b);
        return ms;
    }
    return NAN;
}

/* Appends the parts of search level `level` at `rate`: settle (if any), iterations. */
static void append_level_part(coordinator_t *self)
{
    const plan_extra_t *x = extra_of(self);
    sequence_t *seq = &self->seq;
    const plan_stage_t *s = &x->stages[seq->search_stage];
    int parts = s->iterations + (s->settle_ms > 0 ? 1 : 0);
    int part = parts - seq->level_parts_left; /* 0-based */
    bool settle = s->settle_ms > 0 && part == 0;
    int iteration = part - (s->settle_ms > 0 ? 1 : 0);
    char name[200];
    int n = snprintf(name, sizeof name, "%s.%d", s->name, seq->level + 1);
    if (settle)
        snprintf(name + n, sizeof name - (size_t)n, ".settle");
    else if (s->iterations > 1)
        snprintf(name + n, sizeof name - (size_t)n, ".i%d", iteration + 1);
    run_phase_t *r = append(self, &s->level_template, name, s->kind);
    if (!r)
        return;
    r->phase.load = PHASE_LOAD_RATE;
    r->phase.schedule.start_rate_per_s = r->phase.schedule.end_rate_per_s = seq->level_rate_rps;
    r->phase.duration_ms = settle ? s->settle_ms : s->hold_ms;
    r->phase.settle_ms = 0;
    r->phase.measure = s->measured && !settle;
    r->stage = seq->search_stage;
    r->level = seq->level;
    r->settle = settle;
    r->continues = part > 0;
    seq->level_parts_left--;
}

static bool start_level(coordinator_t *self)
{
    sequence_t *seq = &self->seq;
    const plan_stage_t *s = &extra_of(self)->stages[seq->search_stage];
    double rate;
    if (!sat_search_next(seq->searches[seq->search_stage], &rate))
        return false;
    seq->level++;
    seq->level_rate_rps = rate;
    seq->level_parts_left = s->iterations + (s->settle_ms > 0 ? 1 : 0);
    log_info("%s: level %d at %.2f req/s", s->name, seq->level + 1, rate);
    append_level_part(self);
    return true;
}

static void finish_search(coordinator_t *self)
{
    sequence_t *seq = &self->seq;
    const plan_extra_t *x = extra_of(self);
    const plan_stage_t *s = &x->stages[seq->search_stage];
    sat_result_t result = {0};
    if (seq->searches[seq->search_stage])
        sat_search_result(seq->searches[seq->search_stage], &result);
    seq->operating_point_rps = result.operating_point_rps;
    if (result.reached)
        log_info("%s: saturation at %.2f req/s (first bad %.2f), operating point %.2f req/s",
                 s->name, result.saturation_rps, result.first_bad_rps, result.operating_point_rps);
    else
        log_info("%s: not saturated up to %.2f req/s, operating point %.2f req/s", s->name,
                 result.saturation_rps, result.operating_point_rps);
    seq->next_plan_phase = s->first_phase + s->phase_count;
    seq->search_stage = -1;
}

bool sequence_next_continues(const coordinator_t *self)
{
    const plan_extra_t *x = extra_of(self);
    const sequence_t *seq = &self->seq;
    if (self->timeline.phase_count == 0)
        return false;
    if (!x)
        return seq->next_plan_phase < self->plan->phase_count;
    if (seq->search_stage >= 0)
        return seq->level_parts_left > 0;
    int next = seq->next_plan_phase;
    const run_phase_t *last = &self->timeline.phases[self->timeline.phase_count - 1];
    if (next >= self->plan->phase_count)
        return false;
    const plan_stage_t *stage = &x->stages[x->phases[next].stage];
    if (stage->type == PLAN_STAGE_SATURATION)
        return false; /* its floor (the baseline) must be complete */
    if (x->phases[next].stage == last->stage)
        return true;
    if (stage->recover >= 0)
        return !stage->recover;
    /* A warm-up hands over at once: warming up is for measuring from steady state. */
    return last->stage >= 0 && !x->stages[last->stage].measured;
}

bool sequence_is_over(const coordinator_t *self)
{
    return self->seq.search_stage < 0 && self->seq.next_plan_phase >= self->plan->phase_count;
}

bool sequence_next(coordinator_t *self)
{
    const plan_t *plan = self->plan;
    const plan_extra_t *x = extra_of(self);
    sequence_t *seq = &self->seq;

    if (!x) {
        if (seq->next_plan_phase >= plan->phase_count)
            return false;
        run_phase_t *r = append(self, &plan->phases[seq->next_plan_phase], NULL, NULL);
        r->plan_index = seq->next_plan_phase++;
        r->continues = self->timeline.phase_count > 1;
        return true;
    }

    if (seq->search_stage >= 0) {
        if (seq->level_parts_left > 0) {
            append_level_part(self);
            return true;
        }
        /* The level is over: judge it, then go on (or end the search). */
        json_t *level = stage_average(self, seq->search_stage, seq->level);
        sat_search_t *search = seq->searches[seq->search_stage];
        bool good = sat_search_observe(search, level ? level : json_null());
        int count;
        const sat_level_t *levels = sat_search_levels(search, &count);
        log_info("%s: level %d at %.2f req/s %s%s%s", x->stages[seq->search_stage].name,
                 seq->level + 1, seq->level_rate_rps, good ? "good" : "bad",
                 !good && count ? ": " : "", !good && count ? levels[count - 1].reason : "");
        json_decref(level);
        if (start_level(self))
            return true;
        finish_search(self);
    }

    while (seq->next_plan_phase < plan->phase_count) {
        int i = seq->next_plan_phase;
        const plan_phase_extra_t *e = &x->phases[i];
        const plan_stage_t *s = &x->stages[e->stage];
        bool same_stage = self->timeline.phase_count > 0 &&
                          self->timeline.phases[self->timeline.phase_count - 1].stage == e->stage;
        if (s->type == PLAN_STAGE_SATURATION) {
            seq->search_stage = e->stage;
            seq->level = -1;
            seq->level_parts_left = 0;
            double floor_ms = baseline_ttft_p99_ms(self);
            sat_search_destroy(&seq->searches[e->stage]);
            seq->searches[e->stage] = sat_search_new(&s->search, floor_ms);
            if (seq->searches[e->stage] && start_level(self))
                return true;
            if (!seq->searches[e->stage])
                log_warn("%s: the search settings do not check anything: skipped", s->name);
            seq->search_stage = e->stage;
            finish_search(self);
            continue;
        }
        seq->next_plan_phase++;
        plan_phase_t phase = plan->phases[i];
        if (e->rate_ref == PLAN_RATE_OPERATING_POINT) {
            double rate = e->rate_fraction * seq->operating_point_rps;
            if (!(rate > 0)) {
                log_warn("phase %s: no operating point to run at (the search found no good "
                         "rate): skipped",
                         phase.name);
                seq->skipped_operating_point = true;
                continue;
            }
            phase.schedule.start_rate_per_s = phase.schedule.end_rate_per_s = rate;
            log_info("phase %s at the operating point: %.2f req/s", phase.name, rate);
        }
        run_phase_t *r = append(self, &phase, NULL, NULL);
        if (!r)
            return false;
        r->plan_index = i;
        r->stage = e->stage;
        r->level = e->level;
        r->settle = e->settle;
        r->continues = same_stage;
        return true;
    }
    return false;
}

/* ---- Verdicts --------------------------------------------------------------------------- */

static void write_junit(const char *path, const buf_t *xml)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(xml->data, 1, xml->len, f) != xml->len) {
        log_error("cannot write the JUnit XML to %s", path);
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    log_info("JUnit XML in %s", path);
}

static void write_json_value(jsonw_t *w, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
        jsonw_raw(w, text);
    else
        jsonw_null(w);
    free(text);
}

/* results.json "stages": each stage of the plan file with, per level, the average of its
   measured phases (iterations) and their spread, as the verdicts see them. */
static void write_stages(coordinator_t *self, jsonw_t *w)
{
    const plan_extra_t *x = extra_of(self);
    jsonw_key(w, "stages");
    jsonw_array_begin(w);
    for (int s = 0; s < x->stage_count; s++) {
        const plan_stage_t *stage = &x->stages[s];
        int max_level = -1;
        for (int i = 0; i < self->timeline.phase_count; i++) {
            if (self->timeline.phases[i].stage == s && self->timeline.phases[i].level > max_level)
                max_level = self->timeline.phases[i].level;
        }
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", stage->name);
        jsonw_kv_string(w, "kind", stage->kind);
        jsonw_kv_int(w, "iterations", stage->iterations);
        jsonw_kv_bool(w, "ran", max_level >= 0);
        jsonw_key(w, "levels");
        jsonw_array_begin(w);
        for (int level = 0; level <= max_level; level++) {
            jsonw_object_begin(w);
            jsonw_kv_int(w, "level", level);
            jsonw_key(w, "phases");
            jsonw_array_begin(w);
            for (int i = 0; i < self->timeline.phase_count; i++) {
                const run_phase_t *r = &self->timeline.phases[i];
                if (r->stage == s && r->level == level && !r->settle)
                    jsonw_string(w, r->phase.name);
            }
            jsonw_array_end(w);
            json_t *avg = stage_average(self, s, level);
            jsonw_key(w, "summary");
            if (avg)
                write_json_value(w, avg);
            else
                jsonw_null(w);
            json_decref(avg);
            jsonw_object_end(w);
        }
        jsonw_array_end(w);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

bool sequence_write_verdicts(coordinator_t *self, jsonw_t *w, json_t *overall, FILE *sla_table)
{
    const plan_t *plan = self->plan;
    const plan_extra_t *x = extra_of(self);
    if (!x)
        return true;
    write_stages(self, w);
    /* Static phases map back to their plan index; search levels are in the searches. */
    json_t **summaries = calloc((size_t)plan->phase_count + 1, sizeof *summaries);
    if (!summaries)
        return false;
    for (int i = 0; i < self->timeline.phase_count; i++) {
        int p = self->timeline.phases[i].plan_index;
        if (p >= 0 && !summaries[p])
            summaries[p] = phase_summary_json(self, i);
    }
    const sat_search_t *search = NULL;
    for (int i = 0; i < x->stage_count; i++) {
        if (x->stages[i].type == PLAN_STAGE_SATURATION)
            search = self->seq.searches[i];
    }
    buf_t junit;
    buf_init(&junit);
    bool passed = plan_verdicts_write(plan, x, summaries, overall, search, w, sla_table,
                                      x->junit_path ? &junit : NULL);
    if (x->junit_path && junit.len)
        write_junit(x->junit_path, &junit);
    buf_free(&junit);
    for (int i = 0; i < plan->phase_count; i++)
        json_decref(summaries[i]);
    free(summaries);
    return passed;
}
