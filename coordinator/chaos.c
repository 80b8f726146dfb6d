/*  chaos.c: the plan's chaos actions, the run's chaos record, the impact table (see
    chaos.h, docs/chaos.md).

    Sections: the plan file's `chaos:` (parsing), the record (marks, fault windows,
    overrides, intervals), commands (fork/exec, pipes, timeouts), results.json.
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/chaos.h"
#include "coordinator/run_view.h"
#include "plan/plan_yaml.h"

#define MAX_ENV_VARS (PLAN_MAX_TARGETS + 16)

/* ---- the record ---------------------------------------------------------------------- */

typedef struct {
    double t_s;
    char *text;
    const char *source; /* static */
} mark_t;

typedef struct {
    char *name;
    double start_s, end_s; /* end NaN while open */
    const char *source;
} fault_t;

typedef struct {
    double t_s;
    char *command, *phase;
    double rate_rps; /* < 0: none */
    const char *source;
} override_t;

/* A planned action at run time. */
typedef struct {
    const chaos_action_spec_t *spec; /* borrowed from the plan */
    bool fired, finished, timed_out;
    char not_run[128]; /* why it never ran ("" when it did) */
    double fired_s, duration_s;
    int64_t started_ns, exited_ns;
    pid_t pid;
    int fd; /* read end of the output pipe, -1 when closed */
    int status;
    buf_t output;
    int64_t output_dropped;
} action_t;

struct _chaos_t {
    const chaos_plan_t *plan; /* borrowed; may be NULL */
    impact_config_t impact;
    mark_t *marks;
    int mark_count;
    fault_t *faults;
    int fault_count;
    override_t *overrides;
    int override_count;
    action_t *actions;
    int action_count;
    impact_interval_t *intervals;
    int interval_count, interval_cap;
};

chaos_t *chaos_new(const chaos_plan_t *plan)
{
    chaos_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->plan = plan;
    if (plan)
        self->impact = plan->impact;
    else
        impact_config_defaults(&self->impact);
    self->marks = calloc(CHAOS_MAX_RECORDS, sizeof *self->marks);
    self->faults = calloc(CHAOS_MAX_RECORDS, sizeof *self->faults);
    self->overrides = calloc(CHAOS_MAX_RECORDS, sizeof *self->overrides);
    self->action_count = plan ? plan->count : 0;
    self->actions = calloc((size_t)self->action_count + 1, sizeof *self->actions);
    for (int i = 0; i < self->action_count; i++) {
        self->actions[i].spec = &plan->actions[i];
        self->actions[i].fd = -1;
        buf_init(&self->actions[i].output);
    }
    return self;
}

static void action_kill(action_t *a)
{
    if (a->pid > 0) {
        kill(-a->pid, SIGKILL);
        kill(a->pid, SIGKILL);
        waitpid(a->pid, &a->status, 0);
        a->pid = 0;
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

void chaos_destroy(chaos_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chaos_t *self = *self_p;
    for (int i = 0; i < self->action_count; i++) {
        action_kill(&self->actions[i]);
        buf_free(&self->actions[i].output);
    }
    for (int i = 0; i < self->mark_count; i++)
        free(self->marks[i].text);
    for (int i = 0; i < self->fault_count; i++)
        free(self->faults[i].name);
    for (int i = 0; i < self->override_count; i++) {
        free(self->overrides[i].command);
        free(self->overrides[i].phase);
    }
    free(self->marks);
    free(self->faults);
    free(self->overrides);
    free(self->actions);
    free(self->intervals);
    free(self);
    *self_p = NULL;
}

void chaos_mark(chaos_t *self, double t_s, const char *text, const char *source)
{
    if (self->mark_count >= CHAOS_MAX_RECORDS)
        return;
    self->marks[self->mark_count++] = (mark_t){t_s, strdup(text), source};
    log_info("mark at %.1f s (%s): %s", t_s, source, text);
}

static fault_t *open_fault(chaos_t *self, const char *name)
{
    for (int i = self->fault_count - 1; i >= 0; i--) {
        if (isnan(self->faults[i].end_s) && strcmp(self->faults[i].name, name) == 0)
            return &self->faults[i];
    }
    return NULL;
}

int chaos_fault_start(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                      size_t err_size)
{
    if (open_fault(self, name)) {
        snprintf(err, err_size, "fault window '%s' is already open", name);
        return -1;
    }
    if (self->fault_count >= CHAOS_MAX_RECORDS) {
        snprintf(err, err_size, "too many fault windows (%d)", CHAOS_MAX_RECORDS);
        return -1;
    }
    self->faults[self->fault_count++] = (fault_t){strdup(name), t_s, NAN, source};
    log_info("fault window '%s' opens at %.1f s (%s)", name, t_s, source);
    return 0;
}

int chaos_fault_end(chaos_t *self, double t_s, const char *name, const char *source, char *err,
                    size_t err_size)
{
    fault_t *f = open_fault(self, name);
    if (!f) {
        snprintf(err, err_size, "no open fault window named '%s'", name);
        return -1;
    }
    f->end_s = t_s > f->start_s ? t_s : f->start_s;
    log_info("fault window '%s' closes at %.1f s (%s)", name, t_s, source);
    return 0;
}

void chaos_override(chaos_t *self, double t_s, const char *command, const char *phase,
                    double rate_rps, const char *source)
{
    if (self->override_count >= CHAOS_MAX_RECORDS)
        return;
    self->overrides[self->override_count++] =
        (override_t){t_s, strdup(command), strdup(phase ? phase : ""), rate_rps, source};
}

void chaos_open_faults(const chaos_t *self, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < self->fault_count && len < size; i++) {
        if (isnan(self->faults[i].end_s)) {
            int n = snprintf(out + len, size - len, "%s%s", len ? "," : "", self->faults[i].name);
            len += n > 0 ? (size_t)n : 0;
        }
    }
}

int chaos_mark_count(const chaos_t *self)
{
    return self->mark_count;
}

/* "marks": [{t_s, text, source}] (results.json and /live.json alike). */
static void write_marks(const chaos_t *self, jsonw_t *w)
{
    jsonw_key(w, "marks");
    jsonw_array_begin(w);
    for (int i = 0; self && i < self->mark_count; i++) {
        jsonw_object_begin(w);
        jsonw_kv_double(w, "t_s", self->marks[i].t_s);
        jsonw_kv_string(w, "text", self->marks[i].text);
        jsonw_kv_string(w, "source", self->marks[i].source);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

void chaos_write_events(const chaos_t *self, jsonw_t *w)
{
    write_marks(self, w);
    jsonw_key(w, "faults");
    jsonw_array_begin(w);
    for (int i = 0; self && i < self->fault_count; i++) {
        const fault_t *f = &self->faults[i];
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", f->name);
        jsonw_kv_double(w, "start_s", f->start_s);
        jsonw_key(w, "end_s");
        if (isnan(f->end_s))
            jsonw_null(w);
        else
            jsonw_double(w, f->end_s);
        jsonw_kv_string(w, "source", f->source);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

void chaos_add_interval(chaos_t *self, double start_s, double end_s, const metrics_t *m)
{
    if (self->interval_count == self->interval_cap) {
        int cap = self->interval_cap ? 2 * self->interval_cap : 256;
        impact_interval_t *grown = realloc(self->intervals, (size_t)cap * sizeof *grown);
        if (!grown)
            return;
        self->intervals = grown;
        self->interval_cap = cap;
    }
    const hist_t *ttft = m->hist[METRIC_TTFT];
    double p50 =
        hist_total_count(ttft) > 0 ? (double)hist_value_at_percentile(ttft, 50) / 1000.0 : NAN;
    self->intervals[self->interval_count++] = (impact_interval_t){
        start_s, end_s, (double)(m->c.ok + m->c.failed), (double)m->c.failed, p50};
}

void chaos_write_interval(const chaos_t *self, double start_s, double end_s, jsonw_t *w)
{
    int marks = 0, faults = 0;
    for (int i = 0; i < self->mark_count; i++)
        marks += self->marks[i].t_s >= start_s && self->marks[i].t_s < end_s;
    for (int i = 0; i < self->fault_count; i++) {
        const fault_t *f = &self->faults[i];
        faults += f->start_s < end_s && (isnan(f->end_s) || f->end_s > start_s);
    }
    if (!marks && !faults)
        return;
    jsonw_key(w, "chaos");
    jsonw_object_begin(w);
    jsonw_key(w, "marks");
    jsonw_array_begin(w);
    for (int i = 0; i < self->mark_count; i++) {
        if (self->marks[i].t_s >= start_s && self->marks[i].t_s < end_s)
            jsonw_string(w, self->marks[i].text);
    }
    jsonw_array_end(w);
    jsonw_key(w, "faults");
    jsonw_array_begin(w);
    for (int i = 0; i < self->fault_count; i++) {
        const fault_t *f = &self->faults[i];
        if (f->start_s < end_s && (isnan(f->end_s) || f->end_s > start_s))
            jsonw_string(w, f->name);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

/* ---- commands ---------------------------------------------------------------------- */

/* The environment of a command: ours, plus what a chaos script needs to find the run.
   Built before fork: the child of a threaded process may only exec. */
static char **command_env(const run_view_t *run, const action_t *a, buf_t *storage)
{
    extern char **environ;
    int ours = 0;
    while (environ[ours])
        ours++;
    char **env = calloc((size_t)ours + MAX_ENV_VARS + 1, sizeof *env);
    if (!env)
        return NULL;
    int n = 0;
    for (int i = 0; i < ours; i++) {
        if (strncmp(environ[i], "SURGE_TARGET", 12) != 0 &&
            strncmp(environ[i], "SURGE_CTL_ENDPOINT=", 19) != 0 &&
            strncmp(environ[i], "SURGE_RESULTS_DIR=", 18) != 0 &&
            strncmp(environ[i], "SURGE_FAULT=", 12) != 0)
            env[n++] = environ[i];
    }
    /* Offsets into storage, turned into pointers once it stops growing. */
    size_t offsets[MAX_ENV_VARS];
    int extra = 0;
    const plan_t *plan = run_view_plan(run);
    offsets[extra++] = storage->len;
    buf_append_str(storage, "SURGE_TARGETS=");
    for (int i = 0; i < plan->target_count; i++)
        buf_printf(storage, "%s%s", i ? " " : "", plan->target_urls[i]);
    buf_append_char(storage, '\0');
    for (int i = 0; i < plan->target_count && extra < MAX_ENV_VARS - 4; i++) {
        offsets[extra++] = storage->len;
        buf_printf(storage, "SURGE_TARGET_%d=%s", i, plan->target_urls[i]);
        buf_append_char(storage, '\0');
    }
    offsets[extra++] = storage->len;
    buf_printf(storage, "SURGE_CTL_ENDPOINT=%s", run_view_ctl_endpoint(run));
    buf_append_char(storage, '\0');
    offsets[extra++] = storage->len;
    buf_printf(storage, "SURGE_RESULTS_DIR=%s", run_view_out_dir(run));
    buf_append_char(storage, '\0');
    offsets[extra++] = storage->len;
    buf_printf(storage, "SURGE_FAULT=%s", a->spec->name ? a->spec->name : "");
    buf_append_char(storage, '\0');
    for (int i = 0; i < extra; i++)
        env[n++] = storage->data + offsets[i];
    env[n] = NULL;
    return env;
}

static void action_start(chaos_t *self, const run_view_t *run, action_t *a, double t_s)
{
    const chaos_action_spec_t *s = a->spec;
    buf_t storage;
    buf_init(&storage);
    char **env = command_env(run, a, &storage);
    int fds[2];
    if (!env || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(a->not_run, sizeof a->not_run, "cannot start: %s", strerror(errno));
        free(env);
        buf_free(&storage);
        return;
    }
    char *shell_argv[] = {"/bin/sh", "-c", s->shell, NULL};
    char *const *argv = s->argv ? s->argv : shell_argv;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: only async-signal-safe calls until exec. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        execvpe(argv[0], argv, env);
        static const char msg[] = "cannot execute the command\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    if (devnull >= 0)
        close(devnull);
    close(fds[1]);
    free(env);
    buf_free(&storage);
    if (pid < 0) {
        close(fds[0]);
        snprintf(a->not_run, sizeof a->not_run, "fork failed: %s", strerror(errno));
        return;
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists before a kill */
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    a->pid = pid;
    a->fd = fds[0];
    a->started_ns = clock_now_ns();
    log_info("chaos action (line %d) at %.1f s: %s%s", s->line, t_s,
             s->shell ? s->shell : s->argv[0], s->shell ? "" : " ...");
    (void)self;
}

static void action_read(action_t *a)
{
    char chunk[4096];
    while (a->fd >= 0) {
        ssize_t n = read(a->fd, chunk, sizeof chunk);
        if (n > 0) {
            size_t room =
                a->output.len < CHAOS_OUTPUT_MAX_BYTES ? CHAOS_OUTPUT_MAX_BYTES - a->output.len : 0;
            size_t keep = (size_t)n < room ? (size_t)n : room;
            buf_append(&a->output, chunk, keep);
            a->output_dropped += n - (ssize_t)keep;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close(a->fd); /* EOF or an error */
        a->fd = -1;
    }
}

static void action_poll(action_t *a, int64_t now)
{
    action_read(a);
    if (a->pid > 0) {
        int status;
        pid_t r = waitpid(a->pid, &status, WNOHANG);
        if (r == a->pid) {
            a->status = status;
            a->pid = 0;
            a->exited_ns = now;
        } else if (now - a->started_ns > a->spec->timeout_ms * NS_PER_MS) {
            log_warn("chaos action (line %d): still running after %.1f s: killed", a->spec->line,
                     (double)a->spec->timeout_ms / 1e3);
            a->timed_out = true;
            kill(-a->pid, SIGKILL);
            kill(a->pid, SIGKILL);
            waitpid(a->pid, &a->status, 0);
            a->pid = 0;
            a->exited_ns = now;
        }
    }
    /* Done once it exited and its output is read, or a second after it exited when a
       process it left behind still holds the pipe. */
    if (a->pid == 0 && (a->fd < 0 || now - a->exited_ns > NS_PER_S)) {
        if (a->fd >= 0)
            close(a->fd);
        a->fd = -1;
        a->finished = true;
        a->duration_s = (double)(a->exited_ns - a->started_ns) / 1e9;
        if (!a->timed_out && (!WIFEXITED(a->status) || WEXITSTATUS(a->status) != 0))
            log_warn("chaos action (line %d) failed (%s %d)", a->spec->line,
                     WIFEXITED(a->status) ? "exit status" : "signal",
                     WIFEXITED(a->status) ? WEXITSTATUS(a->status) : WTERMSIG(a->status));
    }
}

/* When the action is due (coordinator monotonic time), or 0 when it cannot be known yet. */
static int64_t action_due_ns(const run_view_t *run, const chaos_action_spec_t *s)
{
    int64_t t0 = run_view_t0_ns(run);
    if (!t0)
        return 0;
    if (!s->phase)
        return t0 + s->after_ms * NS_PER_MS;
    const plan_extra_t *x = run_view_plan(run)->extra;
    const run_timeline_t *tl = run_view_timeline(run);
    for (int i = 0; i < tl->phase_count; i++) {
        const run_phase_t *r = &tl->phases[i];
        bool named = strcmp(r->phase.name, s->phase) == 0 ||
                     (x && r->stage >= 0 && strcmp(x->stages[r->stage].name, s->phase) == 0);
        if (named)
            return t0 + tl->phase_start_ns[i] + s->after_ms * NS_PER_MS;
    }
    return 0;
}

static void action_fire(chaos_t *self, const run_view_t *run, action_t *a, int64_t now)
{
    const chaos_action_spec_t *s = a->spec;
    double t_s = (double)(now - run_view_t0_ns(run)) / 1e9;
    char err[256];
    a->fired = true;
    a->fired_s = t_s;
    if (s->mark)
        chaos_mark(self, t_s, s->mark, "plan");
    if (s->fault == CHAOS_FAULT_START &&
        chaos_fault_start(self, t_s, s->name, "plan", err, sizeof err) != 0)
        log_warn("chaos action (line %d): %s", s->line, err);
    if (s->fault == CHAOS_FAULT_END &&
        chaos_fault_end(self, t_s, s->name, "plan", err, sizeof err) != 0)
        log_warn("chaos action (line %d): %s", s->line, err);
    if (s->shell || s->argv)
        action_start(self, run, a, t_s);
    else
        a->finished = true;
}

void chaos_tick(chaos_t *self, const run_view_t *run, int64_t now, bool may_fire)
{
    for (int i = 0; i < self->action_count; i++) {
        action_t *a = &self->actions[i];
        if (!a->fired && may_fire) {
            int64_t due = action_due_ns(run, a->spec);
            if (due && now >= due)
                action_fire(self, run, a, now);
        }
        if (a->fired && !a->finished && !a->not_run[0])
            action_poll(a, now);
    }
}

/* ---- results.json ---------------------------------------------------------------- */

static void write_nullable(jsonw_t *w, const char *key, double value)
{
    jsonw_key(w, key);
    if (isfinite(value))
        jsonw_double(w, value);
    else
        jsonw_null(w);
}

static void write_action(jsonw_t *w, action_t *a)
{
    const chaos_action_spec_t *s = a->spec;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "line", s->line);
    if (s->phase)
        jsonw_kv_string(w, "phase", s->phase);
    jsonw_kv_double(w, "after_s", (double)s->after_ms / 1e3);
    if (s->shell) {
        jsonw_kv_string(w, "run", s->shell);
    } else if (s->argv) {
        jsonw_key(w, "run");
        jsonw_array_begin(w);
        for (int k = 0; s->argv[k]; k++)
            jsonw_string(w, s->argv[k]);
        jsonw_array_end(w);
    }
    if (s->fault)
        jsonw_kv_string(w, "fault", s->fault == CHAOS_FAULT_START ? "start" : "end");
    if (s->name)
        jsonw_kv_string(w, "name", s->name);
    if (s->mark)
        jsonw_kv_string(w, "mark", s->mark);
    jsonw_kv_bool(w, "ran", a->fired && !a->not_run[0]);
    write_nullable(w, "at_s", a->fired ? a->fired_s : NAN);
    if (a->not_run[0] || !a->fired)
        jsonw_kv_string(w, "not_run", a->not_run[0] ? a->not_run : "the run ended first");
    if ((s->shell || s->argv) && a->fired && !a->not_run[0]) {
        write_nullable(w, "duration_s", a->finished ? a->duration_s : NAN);
        jsonw_kv_bool(w, "timed_out", a->timed_out);
        jsonw_key(w, "exit_status");
        if (a->finished && !a->timed_out && WIFEXITED(a->status))
            jsonw_int(w, WEXITSTATUS(a->status));
        else
            jsonw_null(w);
        if (a->finished && WIFSIGNALED(a->status))
            jsonw_kv_int(w, "signal", WTERMSIG(a->status));
        jsonw_key(w, "output");
        jsonw_string_len(w, a->output.data ? a->output.data : "", a->output.len);
        jsonw_kv_int(w, "output_truncated_bytes", a->output_dropped);
    }
    jsonw_object_end(w);
}

void chaos_write_results(chaos_t *self, jsonw_t *w, double run_end_s)
{
    if (!self->action_count && !self->mark_count && !self->fault_count && !self->override_count)
        return;
    /* Commands still running at the end are killed: the record says so. */
    for (int i = 0; i < self->action_count; i++) {
        action_t *a = &self->actions[i];
        if (a->fired && !a->finished && !a->not_run[0]) {
            a->timed_out = true;
            action_kill(a);
            a->exited_ns = clock_now_ns();
            a->finished = true;
            a->duration_s = (double)(a->exited_ns - a->started_ns) / 1e9;
        }
    }
    jsonw_key(w, "chaos");
    jsonw_object_begin(w);
    const impact_config_t *t = &self->impact;
    jsonw_key(w, "tolerance");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "baseline_intervals", t->baseline_intervals);
    jsonw_kv_int(w, "recovery_intervals", t->recovery_intervals);
    jsonw_kv_double(w, "error_rate", t->error_rate_tolerance);
    jsonw_kv_double(w, "ttft", t->ttft_tolerance);
    jsonw_kv_double(w, "throughput", t->throughput_tolerance);
    jsonw_object_end(w);

    jsonw_key(w, "faults");
    jsonw_array_begin(w);
    double previous_end = 0;
    for (int i = 0; i < self->fault_count; i++) {
        const fault_t *f = &self->faults[i];
        bool closed = !isnan(f->end_s);
        double end_s = closed ? f->end_s : run_end_s;
        impact_t r;
        impact_analyze(self->intervals, self->interval_count, f->start_s, end_s, previous_end,
                       &self->impact, &r);
        previous_end = end_s;
        jsonw_object_begin(w);
        jsonw_kv_string(w, "name", f->name);
        jsonw_kv_string(w, "source", f->source);
        jsonw_kv_double(w, "start_s", f->start_s);
        jsonw_kv_double(w, "end_s", end_s);
        jsonw_kv_bool(w, "closed", closed);
        write_nullable(w, "detection_s", r.detection_s);
        write_nullable(w, "recovery_s", r.recovery_s);
        write_nullable(w, "error_rate", r.error_rate);
        write_nullable(w, "throughput_change_pct", r.throughput_change_pct);
        write_nullable(w, "ttft_change_pct", r.ttft_change_pct);
        jsonw_kv_bool(w, "detected", isfinite(r.detection_s));
        jsonw_kv_bool(w, "recovered", isfinite(r.recovery_s));
        write_nullable(w, "rps", r.rps);
        write_nullable(w, "ttft_p50_ms", r.ttft_p50_ms);
        jsonw_key(w, "baseline");
        jsonw_object_begin(w);
        jsonw_kv_int(w, "intervals", r.baseline_count);
        write_nullable(w, "error_rate", r.baseline_error_rate);
        write_nullable(w, "rps", r.baseline_rps);
        write_nullable(w, "ttft_p50_ms", r.baseline_ttft_p50_ms);
        jsonw_object_end(w);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);

    write_marks(self, w);

    jsonw_key(w, "overrides");
    jsonw_array_begin(w);
    for (int i = 0; i < self->override_count; i++) {
        const override_t *o = &self->overrides[i];
        jsonw_object_begin(w);
        jsonw_kv_double(w, "t_s", o->t_s);
        jsonw_kv_string(w, "command", o->command);
        jsonw_kv_string(w, "phase", o->phase);
        write_nullable(w, "rate_rps", o->rate_rps >= 0 ? o->rate_rps : NAN);
        jsonw_kv_string(w, "source", o->source);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);

    jsonw_key(w, "actions");
    jsonw_array_begin(w);
    for (int i = 0; i < self->action_count; i++)
        write_action(w, &self->actions[i]);
    jsonw_array_end(w);
    jsonw_object_end(w);
}
