/*  outputs.c: the results directory (docs/results.md).

    intervals.jsonl  one line per closed interval, appended and flushed (write(2)) at once,
                     so a killed coordinator leaves every closed interval on disk
    requests.jsonl   (--record-requests) the workers' per-request lines, as they arrive
    <metric>.hlog    HdrHistogram interval logs, one file per metric, Tag = phase name
    results.json     the whole run, written once at the end to a temporary file, fsynced
                     and renamed over the final name (readers never see half a file)
    .lock            held with flock(2) while the run writes the directory: a second run
                     given the same directory is refused before it writes anything (two
                     runs appending to one intervals.jsonl interleave their lines). The
                     kernel drops the lock when the process ends, even killed.
    interrupted-STAMP/  a killed run's files (intervals.jsonl but no results.json), moved
                     there by the next run given the directory, which says so: they may be
                     the only record of what that run measured, so they are never truncated.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "common/url.h"
#include "coordinator/coord_internal.h"
#include "report/report.h"
#include "plan/plan_yaml.h"

/* 2: a phase's figures are those of the requests it scheduled, whenever they ended, and
   output_tokens_per_s counts tokens as they arrived (docs/results.md, "Two views"). */
#define RESULTS_FORMAT_VERSION 2

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static FILE *open_in(coordinator_t *self, const char *name, char *err, size_t err_size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", self->out_dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
    return f;
}

static bool exists_in(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* The files a run writes into its directory (a killed run may have left any of them). */
static bool is_run_output(const char *name)
{
    static const char *const names[] = {"intervals.jsonl", "requests.jsonl", "results.json",
                                        "report.html",     "ctl.endpoint",   "ctl.coordinator.key",
                                        "ctl.key_secret"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".hlog") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".csv") == 0);
}

/* A directory holding intervals.jsonl and no results.json is a killed run's: its files are
   moved into DIR/interrupted-STAMP/ rather than truncated by this run. 0, or -1 with a
   reason in err. */
static int move_interrupted_run_aside(coordinator_t *self, char *err, size_t err_size)
{
    if (!exists_in(self->out_dir, "intervals.jsonl") || exists_in(self->out_dir, "results.json"))
        return 0;
    char stamp[32], aside[4200];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(aside, sizeof aside, "%s/interrupted-%s", self->out_dir, stamp);
    for (int k = 2; mkdir(aside, 0755) != 0; k++) {
        if (errno != EEXIST || k > 99) {
            snprintf(err, err_size, "%s: cannot move an interrupted run's files aside: %s", aside,
                     strerror(errno));
            return -1;
        }
        snprintf(aside, sizeof aside, "%s/interrupted-%s-%d", self->out_dir, stamp, k);
    }
    DIR *dir = opendir(self->out_dir);
    if (!dir) {
        snprintf(err, err_size, "%s: %s", self->out_dir, strerror(errno));
        return -1;
    }
    int moved = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!is_run_output(e->d_name))
            continue;
        char from[4400], to[4400];
        snprintf(from, sizeof from, "%s/%s", self->out_dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", aside, e->d_name);
        if (strcmp(e->d_name, "ctl.key_secret") == 0) {
            unlink(from); /* a dead run's operator key opens nothing: not kept */
            continue;
        }
        if (rename(from, to) != 0) {
            snprintf(err, err_size, "cannot move %s to %s: %s", from, to, strerror(errno));
            closedir(dir);
            return -1;
        }
        moved++;
    }
    closedir(dir);
    log_warn("%s held the files of a run that did not finish (intervals.jsonl, no "
             "results.json): %d moved to %s, not overwritten",
             self->out_dir, moved, aside);
    return 0;
}

int outputs_open(coordinator_t *self, char *err, size_t err_size)
{
    if (mkdir_p(self->out_dir) != 0) {
        snprintf(err, err_size, "%s: cannot create the results directory: %s", self->out_dir,
                 strerror(errno));
        return -1;
    }
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/.lock", self->out_dir);
    self->out_lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->out_lock_fd < 0) {
        snprintf(err, err_size, "%s: %s", lock_path, strerror(errno));
        return -1;
    }
    if (flock(self->out_lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(self->out_lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, err_size,
                 "%s: the results directory is in use by another run (pid %s); give this "
                 "one its own --out",
                 self->out_dir, pid[0] ? pid : "unknown");
        close(self->out_lock_fd);
        self->out_lock_fd = -1;
        return OUTPUTS_IN_USE;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(self->out_lock_fd, 0) != 0 ||
        pwrite(self->out_lock_fd, pid, (size_t)len, 0) != len)
        log_warn("%s: cannot write the pid: %s", lock_path, strerror(errno));
    if (move_interrupted_run_aside(self, err, err_size) != 0)
        return -1;
    self->intervals_file = open_in(self, "intervals.jsonl", err, err_size);
    if (!self->intervals_file)
        return -1;
    if (self->cfg.record_requests) {
        self->requests_file = open_in(self, "requests.jsonl", err, err_size);
        if (!self->requests_file)
            return -1;
    }
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.hlog", metric_hist_name((metric_hist_t)i));
        self->hlog_files[i] = open_in(self, name, err, err_size);
        if (!self->hlog_files[i])
            return -1;
    }
    buf_init(&self->scratch);
    buf_init(&self->interval_line);
    return 0;
}

void outputs_close(coordinator_t *self)
{
    if (self->intervals_file)
        fclose(self->intervals_file);
    if (self->requests_file)
        fclose(self->requests_file);
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (self->hlog_files[i])
            fclose(self->hlog_files[i]);
        self->hlog_files[i] = NULL;
    }
    self->intervals_file = self->requests_file = NULL;
    buf_free(&self->scratch);
    buf_free(&self->interval_line);
    if (self->out_lock_fd >= 0)
        close(self->out_lock_fd); /* releases the lock */
    self->out_lock_fd = -1;
}

void outputs_begin(coordinator_t *self)
{
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        buf_clear(&self->scratch);
        char comment[256];
        snprintf(comment, sizeof comment, "surge %s run %s: %s in microseconds, Tag = phase",
                 SURGE_VERSION, self->run_id, metric_hist_name((metric_hist_t)i));
        hist_log_header(&self->scratch, self->start_wall_ns, comment);
        fwrite(self->scratch.data, 1, self->scratch.len, self->hlog_files[i]);
        fflush(self->hlog_files[i]);
    }
}

void outputs_write_interval(coordinator_t *self, const merge_interval_t *iv)
{
    buf_clear(&self->interval_line);
    if (!self->intervals_file)
        return;
    int64_t index = iv->index;
    int phase = iv->phase;
    double interval_s = (double)self->interval_ns / 1e9;
    double start_s = (double)index * interval_s;
    /* "" and -1 outside every phase's window (before the first, a gap, the drain) */
    const char *phase_name = phase >= 0 && phase < self->timeline.phase_count
                                 ? self->timeline.phases[phase].phase.name
                                 : "";

    buf_t *line = &self->interval_line;
    jsonw_t w;
    jsonw_init(&w, line);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "interval", index);
    jsonw_kv_double(&w, "start_s", start_s);
    jsonw_kv_double(&w, "end_s", start_s + interval_s);
    jsonw_kv_string(&w, "phase", phase_name);
    jsonw_kv_int(&w, "phase_index", phase);
    jsonw_kv_int(&w, "workers_reported", iv->reporters);
    jsonw_kv_int(&w, "workers_live", registry_live_count(self));
    jsonw_kv_int(&w, "inflight", iv->inflight);
    jsonw_key(&w, "summary");
    int64_t mid_ns = index * self->interval_ns + self->interval_ns / 2;
    metrics_write_summary(iv->metrics, &w, interval_s,
                          timeline_planned_rate_at(&self->timeline, mid_ns));
    if (self->chaos) /* its impact table took the interval first (a merge listener) */
        chaos_write_interval(self->chaos, start_s, start_s + interval_s, &w);
    if (self->ctl && ctl_phase_overridden(self->ctl, phase))
        jsonw_kv_bool(&w, "overridden", true);
    scrape_write_interval(self->scrape, index, &w);
    jsonw_object_end(&w);
    buf_append_char(line, '\n');
    fwrite(line->data, 1, line->len, self->intervals_file);
    /* fflush hands the line to the kernel: a killed coordinator (even kill -9) keeps it.
       No fsync here: this runs on the control loop, and an fsync on a busy disk can stall
       for seconds, longer than a worker lease, which would declare live workers dead.
       Durability against a machine crash comes from the fsync of results.json at the end. */
    fflush(self->intervals_file);
    if (self->requests_file)
        fflush(self->requests_file);

    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_total_count(iv->metrics->hist[i]) == 0)
            continue;
        buf_clear(&self->scratch);
        hist_log_interval(&self->scratch, phase_name, start_s, interval_s, iv->metrics->hist[i],
                          1000.0);
        fwrite(self->scratch.data, 1, self->scratch.len, self->hlog_files[i]);
        fflush(self->hlog_files[i]);
    }
}

/* A worker's line is 17 fields of numbers and a group name (a plan string, at most
   PROTO_MAX_STRING_BYTES): ~4.5 KiB at most. */
#define COORD_MAX_REQUEST_LINE_BYTES 8192

static bool request_line_ok(const char *line, size_t len)
{
    if (len > COORD_MAX_REQUEST_LINE_BYTES)
        return false;
    json_t *value = json_loadb(line, len, 0, NULL);
    bool ok = json_is_object(value);
    json_decref(value);
    return ok;
}

void outputs_write_requests(coordinator_t *self, const char *lines, size_t len)
{
    if (!self->requests_file)
        return;
    /* Lines come from workers, so a lying one could forge records or break the file's
       format for every reader: each line must be one bounded JSON object. */
    const char *at = lines, *end = lines + len;
    while (at < end) {
        const char *newline = memchr(at, '\n', (size_t)(end - at));
        size_t n = (size_t)((newline ? newline : end) - at);
        if (n && request_line_ok(at, n)) {
            fwrite(at, 1, n, self->requests_file);
            fputc('\n', self->requests_file);
        } else if (n) {
            if (self->requests_lines_refused++ == 0)
                log_warn("a worker's requests.jsonl line is not one JSON object of at most %d "
                         "bytes: dropped (counted in results.json requests_lines_refused)",
                         COORD_MAX_REQUEST_LINE_BYTES);
        }
        at += n + 1;
    }
}

static void write_plan(jsonw_t *w, const plan_t *plan)
{
    jsonw_key(w, "plan");
    jsonw_object_begin(w);
    jsonw_kv_string(w, "source", plan->source);
    if (plan->name)
        jsonw_kv_string(w, "name", plan->name);
    jsonw_key(w, "targets");
    jsonw_array_begin(w);
    for (int i = 0; i < plan->target_count; i++) {
        char *shown = url_redact(plan->target_urls[i]); /* no userinfo, no query values */
        jsonw_string(w, shown ? shown : "");
        free(shown);
    }
    jsonw_array_end(w);
    jsonw_kv_string(w, "model", plan->model);
    jsonw_kv_string(w, "api", plan->api);
    jsonw_kv_bool(w, "stream", plan->stream);
    jsonw_kv_int(w, "max_tokens", plan->max_tokens);
    jsonw_kv_bool(w, "ignore_eos", plan->ignore_eos);
    jsonw_kv_int(w, "prompts", plan->prompt_count);
    jsonw_kv_int(w, "interval_ms", plan->interval_ms);
    jsonw_kv_int(w, "seed", (int64_t)plan->seed);
    jsonw_kv_int(w, "duration_ms", plan_duration_ms(plan));
    if (plan->override_count > 0) { /* command-line overrides of the plan file */
        jsonw_key(w, "overrides");
        jsonw_array_begin(w);
        for (int i = 0; i < plan->override_count; i++)
            jsonw_string(w, plan->overrides[i]);
        jsonw_array_end(w);
    }
    jsonw_object_end(w);
}

static void write_phases(coordinator_t *self, jsonw_t *w)
{
    const plan_extra_t *x = self->plan->extra;
    jsonw_key(w, "phases");
    jsonw_array_begin(w);
    for (int i = 0; i < self->timeline.phase_count; i++) {
        const run_phase_t *r = &self->timeline.phases[i];
        const plan_phase_t *p = &r->phase;
        double start_s = (double)self->timeline.phase_start_ns[i] / 1e9;
        double end_s = (double)self->timeline.phase_end_ns[i] / 1e9;
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", p->name);
        jsonw_kv_string(w, "kind", p->kind);
        if (x && r->stage >= 0) {
            jsonw_kv_string(w, "stage", x->stages[r->stage].name);
            jsonw_kv_int(w, "level", r->level);
        }
        jsonw_kv_bool(w, "settle", r->settle);
        jsonw_kv_string(w, "load",
                        p->load == PHASE_LOAD_RATE          ? "rate"
                        : p->load == PHASE_LOAD_CONCURRENCY ? "concurrency"
                                                            : "users");
        jsonw_kv_bool(w, "measured", p->measure);
        jsonw_kv_double(w, "start_s", start_s);
        jsonw_kv_double(w, "end_s", end_s);
        if (p->load == PHASE_LOAD_RATE) {
            jsonw_kv_double(w, "target_rps", phase_offered_rps(p, end_s - start_s));
            jsonw_kv_double(w, "start_rps", p->schedule.start_rate_per_s);
            jsonw_kv_double(w, "end_rps", p->schedule.end_rate_per_s);
            jsonw_kv_string(w, "arrival", arrival_kind_name(p->schedule.arrival));
        } else if (p->load == PHASE_LOAD_CONCURRENCY) {
            jsonw_kv_int(w, "concurrency", p->concurrency);
        } else {
            jsonw_kv_int(w, "users", p->users);
            jsonw_kv_double(w, "think_time_s", p->think_time_mean_s);
        }
        bool ran = self->merged->phase_metrics[i] != NULL;
        jsonw_kv_bool(w, "ran", ran);
        /* pause / set-rate changed its load: its figures are not the plan's own */
        jsonw_kv_bool(w, "overridden", self->ctl && ctl_phase_overridden(self->ctl, i));
        jsonw_key(w, "summary");
        if (ran)
            phase_summary_write(self, i, w);
        else
            jsonw_null(w);
        /* The tail a saturated phase leaves: its requests that ended after its end. */
        jsonw_key(w, "tail");
        jsonw_object_begin(w);
        jsonw_kv_int(w, "requests", self->merged->phase_tail_requests[i]);
        jsonw_kv_double(w, "last_end_after_s", (double)self->merged->phase_tail_max_ns[i] / 1e9);
        jsonw_object_end(w);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* The span after the last phase's window, by time: what ended and arrived there. */
static void write_drain(coordinator_t *self, jsonw_t *w)
{
    jsonw_key(w, "drain");
    if (self->merged->drain_first_index < 0 || self->timeline.phase_count == 0) {
        jsonw_null(w);
        return;
    }
    double interval_s = (double)self->interval_ns / 1e9;
    double start_s = (double)self->timeline.phase_end_ns[self->timeline.phase_count - 1] / 1e9;
    double end_s = (double)(self->merged->drain_last_index + 1) * interval_s;
    const metrics_counters_t *c = &self->merged->drain_metrics->c;
    jsonw_object_begin(w);
    jsonw_kv_double(w, "start_s", start_s);
    jsonw_kv_double(w, "end_s", end_s);
    jsonw_kv_int(w, "requests_ended", c->ok + c->failed);
    jsonw_kv_int(w, "output_tokens_received", c->output_tokens_received);
    jsonw_object_end(w);
}

/* Conversations (docs/results.md): turns[], the run's records by turn index (the last
   bucket holds every later turn, "and_later"), and the conversation counts. */
static void write_conversations(coordinator_t *self, jsonw_t *w, double measured_s)
{
    if (!self->merged->turn_metrics)
        return;
    int last = 0; /* the highest turn bucket with a request */
    for (int i = 0; i < PROTO_MAX_TURN_BUCKETS; i++) {
        const metrics_t *m = self->merged->turn_metrics[i];
        if (m && (m->c.sent || m->c.ok || m->c.failed))
            last = i + 1;
    }
    jsonw_key(w, "turns");
    jsonw_array_begin(w);
    for (int i = 0; i < last; i++) {
        const metrics_t *m = self->merged->turn_metrics[i];
        jsonw_object_begin(w);
        jsonw_kv_int(w, "turn", i + 1);
        jsonw_kv_bool(w, "and_later", i == PROTO_MAX_TURN_BUCKETS - 1);
        jsonw_kv_double(w, "input_tokens_mean",
                        m && m->c.ok ? (double)m->c.input_tokens / (double)m->c.ok : 0.0);
        jsonw_key(w, "summary");
        metrics_write_summary(m ? m : self->merged->run_metrics, w, measured_s, 0);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    const metrics_counters_t *c = &self->merged->run_metrics->c;
    jsonw_key(w, "conversations");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "completed", c->conversations_completed);
    jsonw_kv_int(w, "abandoned", c->conversations_abandoned);
    jsonw_kv_int(w, "context_truncated", c->context_truncated);
    jsonw_object_end(w);
}

static void write_workers(coordinator_t *self, jsonw_t *w)
{
    int64_t total = 0;
    for (int i = 0; i < self->worker_count; i++)
        total += self->workers[i]->requests;
    jsonw_key(w, "workers");
    jsonw_array_begin(w);
    for (int i = 0; i < self->worker_count; i++) {
        const worker_t *wk = self->workers[i];
        jsonw_object_begin(w);
        jsonw_kv_string(w, "id", wk->id);
        jsonw_kv_double(w, "share", wk->to - wk->from);
        jsonw_kv_double(w, "requests_share", total ? (double)wk->requests / (double)total : 0);
        jsonw_kv_int(w, "requests", wk->requests);
        jsonw_kv_int(w, "threads", wk->threads);
        jsonw_kv_int(w, "capacity", wk->capacity);
        jsonw_kv_int(w, "snapshots", wk->snapshots);
        jsonw_kv_int(w, "duplicate_snapshots", wk->duplicates);
        jsonw_kv_int(w, "returns", wk->returns);
        jsonw_key(w, "lost_at_s");
        if (wk->lost_at_ns && self->run_t0_ns)
            jsonw_double(w, (double)(wk->lost_at_ns - self->run_t0_ns) / 1e9);
        else
            jsonw_null(w);
        jsonw_kv_string(w, "state",
                        wk->state == WORKER_LIVE   ? "finished"
                        : wk->state == WORKER_LEFT ? "left"
                                                   : "lost");
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

static void write_document(coordinator_t *self, jsonw_t *w)
{
    const plan_t *plan = self->plan;
    char started[40] = "";
    if (self->start_wall_ns)
        clock_format_iso8601(self->start_wall_ns, started, sizeof started);
    char host[256] = "";
    gethostname(host, sizeof host - 1);

    jsonw_object_begin(w);
    jsonw_kv_int(w, "format_version", RESULTS_FORMAT_VERSION);
    jsonw_kv_string(w, "run_id", self->run_id);
    jsonw_kv_string(w, "started_at", started);
    jsonw_kv_string(w, "status",
                    self->failed             ? "failed"
                    : self->interrupted      ? "interrupted"
                    : self->operator_stopped ? "stopped"
                                             : "completed");
    if (self->failed)
        jsonw_kv_string(w, "failure", self->failure);
    write_plan(w, plan);

    jsonw_key(w, "environment");
    jsonw_object_begin(w);
    jsonw_kv_string(w, "surge_version", SURGE_VERSION);
    jsonw_kv_int(w, "protocol_version", PROTO_VERSION);
    jsonw_kv_string(w, "coordinator_host", host);
    jsonw_kv_string(w, "endpoint", self->endpoint);
    jsonw_kv_int(w, "heartbeat_ms", self->hb_ns / 1000000);
    jsonw_kv_int(w, "interval_ms", self->interval_ns / 1000000);
    jsonw_object_end(w);

    /* How the fleet was protected: a reader must see an open (--insecure) run as such. */
    jsonw_key(w, "security");
    jsonw_object_begin(w);
    jsonw_kv_bool(w, "curve", self->cfg.curve != NULL);
    jsonw_kv_bool(w, "insecure", self->cfg.insecure);
    jsonw_object_end(w);

    /* The run summary covers the measured phases (warm-up excluded). */
    double measured_s = 0, received_s = 0, expected = 0;
    for (int i = 0; i < self->timeline.phase_count; i++) {
        const plan_phase_t *p = &self->timeline.phases[i].phase;
        if (!p->measure || !self->merged->phase_metrics[i])
            continue;
        double d = phase_duration_s(self, i);
        measured_s += d;
        received_s += phase_received_s(self, i);
        expected += phase_offered_rps(p, d) * d;
    }
    double offered = measured_s > 0 ? expected / measured_s : 0;
    buf_t overall_text;
    buf_init(&overall_text);
    jsonw_t ow;
    jsonw_init(&ow, &overall_text);
    metrics_write_summary_window(self->merged->run_metrics, &ow, measured_s, received_s,
                                 self->merged->run_window_ok, offered);
    json_t *overall = json_loadb(overall_text.data, overall_text.len, 0, NULL);
    buf_free(&overall_text);
    jsonw_key(w, "summary");
    metrics_write_summary_window(self->merged->run_metrics, w, measured_s, received_s,
                                 self->merged->run_window_ok, offered);
    write_phases(self, w);
    write_drain(self, w);
    write_workers(self, w);

    jsonw_key(w, "targets");
    jsonw_array_begin(w);
    for (int i = 0; i < plan->target_count; i++) {
        jsonw_object_begin(w);
        char *shown = url_redact(plan->target_urls[i]);
        jsonw_kv_string(w, "url", shown ? shown : "");
        free(shown);
        jsonw_key(w, "summary");
        metrics_write_summary(self->merged->target_metrics[i], w, measured_s, 0);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    /* A mix of 2+ classes: the same totals by the class of each request's prompt. */
    if (self->merged->class_metrics) {
        jsonw_key(w, "classes");
        jsonw_array_begin(w);
        for (int i = 0; i < plan->class_count; i++) {
            jsonw_object_begin(w);
            jsonw_kv_string(w, "name", plan->class_names[i]);
            jsonw_key(w, "summary");
            metrics_write_summary(self->merged->class_metrics[i], w, measured_s, 0);
            jsonw_object_end(w);
        }
        jsonw_array_end(w);
    }
    write_conversations(self, w, measured_s);
    /* The plan's answers: saturation, SLA, cost, users (sequence.c). */
    if (!sequence_write_verdicts(self, w, overall, NULL))
        self->verdict_failed = true;
    json_decref(overall);
    observe_write_results(self, w); /* server (scrape summary), prometheus (range queries) */
    if (self->chaos)
        chaos_write_results(self->chaos, w,
                            (double)(self->merged->next_close * self->interval_ns) / 1e9);
    if (self->ctl)
        ctl_write_results(self->ctl, w);
    jsonw_kv_int(w, "intervals", self->merged->next_close);
    jsonw_kv_int(w, "late_snapshots", self->merged->late_snapshots);
    jsonw_kv_int(w, "rejected_messages", self->rejected_messages);
    jsonw_kv_int(w, "requests_lines_refused", self->requests_lines_refused);
    jsonw_key(w, "rejected_by"); /* only the classes that happened: {} on a quiet run */
    jsonw_object_begin(w);
    for (int i = 0; i < REJECT_CLASS_COUNT; i++) {
        if (self->rejected_by[i])
            jsonw_kv_int(w, reject_class_name((reject_class_t)i), self->rejected_by[i]);
    }
    jsonw_object_end(w);
    jsonw_object_end(w);
}

int outputs_write_results(coordinator_t *self, char *err, size_t err_size)
{
    buf_t text;
    buf_init(&text);
    jsonw_t w;
    jsonw_init(&w, &text);
    write_document(self, &w);
    buf_append_char(&text, '\n');

    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/.results.json.tmp", self->out_dir);
    snprintf(path, sizeof path, "%s/results.json", self->out_dir);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < text.len) {
            ssize_t n = write(fd, text.data + done, text.len - done);
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        if (done == text.len && fsync(fd) == 0 && close(fd) == 0) {
            fd = -1;
            rc = rename(tmp, path);
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
    } else {
        int dir = open(self->out_dir, O_RDONLY | O_DIRECTORY);
        if (dir >= 0) {
            fsync(dir); /* the rename itself survives a crash */
            close(dir);
        }
    }
    /* The terminal summary reads the very document written, so it shows what results.json
       says and nothing else. */
    json_t *doc = json_loadb(text.data, text.len, 0, NULL);
    if (doc && self->cfg.summary)
        summary_print(doc, stdout);
    json_decref(doc);
    buf_free(&text);
    return rc;
}
