/*  ctl_watch.c: `surge ctl watch` (ctl_watch.h, docs/live.md).

    For operators on a jump host without a browser: the ctl `status` answer (the same
    document `surge ctl --json status` prints) drawn as a dozen lines, replaced in place
    once a second: phase and time left, offered / sent / completed rates and in-flight,
    TTFT / ITL / E2E percentiles, errors by class, schedule lag with the client-limited
    warning, workers, the targets' own figures, open fault windows and marks. It reads;
    it never steers.
*/
#include "cli/ctl_watch.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/exit_codes.h"
#include "common/json_path.h"

#define WATCH_CLIENT_LAG_LIMIT_MS 50.0 /* report.h's CLIENT_LAG_P99_LIMIT_MS */
#define WATCH_MISSES_MAX          2    /* answers missed in a row: the coordinator is gone */

typedef struct {
    char *data;
    size_t size, len;
    int width;
    int col; /* characters on the current line */
} frame_t;

/* Appends, cutting each line at the width (the frame must not wrap, or it scrolls). */
static void say(frame_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(frame_t *f, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (const char *c = text; *c && f->len + 1 < f->size; c++) {
        if (*c == '\n') {
            f->col = 0;
        } else if (f->col >= f->width) {
            continue;
        } else {
            f->col++;
        }
        f->data[f->len++] = *c;
    }
    f->data[f->len] = '\0';
}

static const char *str(const json_t *o, const char *path)
{
    const char *s = json_string_value(json_path(o, path));
    return s ? s : "";
}

static void fig(frame_t *f, const char *label, double v, int decimals)
{
    if (isnan(v))
        say(f, "  %s -", label);
    else
        say(f, "  %s %.*f", label, decimals, v);
}

static void percentiles(frame_t *f, const char *name, const json_t *s, const char *key)
{
    char path[64];
    say(f, "%-9s", name);
    static const char *const ps[] = {"p50", "p90", "p99"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s.%s", key, ps[i]);
        fig(f, ps[i], json_path_number(s, path), 1);
    }
    say(f, "\n");
}

void ctl_watch_frame(const json_t *st, int width, char *out, size_t size)
{
    frame_t f = {out, size, 0, width > 20 ? width : 20, 0};
    out[0] = '\0';
    const json_t *last = json_path(st, "last_interval"), *s = json_path(last, "summary");
    char clock[16];
    time_t now = time(NULL);
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&now));
    say(&f, "surge watch  run %s  %s%s", str(st, "run_id"), str(st, "state"),
        json_is_true(json_path(st, "paused")) ? " (PAUSED)" : "");
    if (!isnan(json_path_number(st, "t_s")))
        say(&f, " at %.1f s", json_path_number(st, "t_s"));
    say(&f, "  %s\n", clock);
    const json_t *ph = json_path(st, "phase");
    if (json_is_object(ph)) {
        const char *load = str(ph, "load");
        say(&f, "phase    %s (%s", str(ph, "name"), str(ph, "kind"));
        if (strcmp(load, "rate") == 0)
            say(&f, ", %.1f req/s%s", json_path_number(ph, "rate_rps"),
                json_is_true(json_path(ph, "rate_overridden")) ? " set-rate" : "");
        else if (strcmp(load, "concurrency") == 0)
            say(&f, ", concurrency %.0f", json_path_number(ph, "concurrency"));
        else
            say(&f, ", %.0f users", json_path_number(ph, "users"));
        double left = json_path_number(ph, "end_s") - json_path_number(st, "t_s");
        say(&f, ")  %.0f s left in the phase\n", left > 0 ? left : 0);
    } else {
        say(&f, "phase    none yet\n");
    }
    if (!json_is_object(s)) {
        say(&f, "interval none closed yet\n");
    } else {
        say(&f, "interval #%.0f at %.0f s\n", json_path_number(last, "index"),
            json_path_number(last, "start_s"));
        say(&f, "rates   ");
        fig(&f, "offered", json_path_number(s, "offered_rps"), 1);
        fig(&f, "sent", json_path_number(s, "achieved_rps"), 1);
        fig(&f, "completed", json_path_number(s, "completed_rps"), 1);
        say(&f, "  req/s");
        fig(&f, "in-flight", json_path_number(st, "inflight"), 0);
        say(&f, "\n");
        say(&f, "tokens  ");
        fig(&f, "output/s", json_path_number(s, "output_tokens_per_s"), 0);
        fig(&f, "input/s", json_path_number(s, "input_tokens_per_s"), 0);
        say(&f, "\n");
        percentiles(&f, "TTFT ms", s, "ttft_ms");
        percentiles(&f, "ITL ms", s, "itl_ms");
        percentiles(&f, "E2E ms", s, "e2e_ms");
        say(&f, "errors    %.2f%%", 100 * json_path_number(s, "error_rate"));
        const char *k;
        const json_t *v;
        int shown = 0;
        json_object_foreach((json_t *)json_path(s, "errors_by_class"), k, v)
        {
            if (json_integer_value(v) > 0)
                say(&f, "%s%s %lld", shown++ ? ", " : "  (", k, (long long)json_integer_value(v));
        }
        say(&f, "%s\n", shown ? ")" : "");
        double lag = json_path_number(s, "lag_ms.p99"),
               dropped = json_path_number(s, "requests.dropped");
        say(&f, "lag ms  ");
        fig(&f, "p99", lag, 2);
        fig(&f, "dropped", dropped, 0);
        if (lag > WATCH_CLIENT_LAG_LIMIT_MS || dropped > 0)
            say(&f, "  CLIENT-LIMITED: add workers or threads");
        say(&f, "\n");
    }
    say(&f, "workers   %.0f live of %.0f, %.0f lost\n", json_path_number(st, "workers.live"),
        json_path_number(st, "workers.expected"), json_path_number(st, "workers.lost"));
    size_t i;
    const json_t *t;
    json_array_foreach(json_path(st, "targets"), i, t)
    {
        say(&f, "target    %s", str(t, "url"));
        fig(&f, "running", json_path_number(t, "running"), 0);
        fig(&f, "waiting", json_path_number(t, "waiting"), 0);
        fig(&f, "KV%", 100 * json_path_number(t, "kv_cache_usage"), 0);
        if (json_path_number(t, "scrape_errors") > 0)
            fig(&f, "scrape errors", json_path_number(t, "scrape_errors"), 0);
        say(&f, "\n");
    }
    const char *open = str(st, "open_faults");
    say(&f, "chaos     fault windows open: %s; marks %.0f\n", *open ? open : "none",
        json_path_number(st, "marks"));
}

static int terminal_width(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 100;
}

int ctl_watch(ctl_watch_fetch_fn fetch, void *ctx, int64_t every_ms, FILE *out, bool tty)
{
    static char frame[16384];
    int misses = 0;
    bool seen = false, ending = false; /* ending: draining, done, or the phase's end near */
    for (;;) {
        json_t *st = NULL;
        int rc = fetch(ctx, &st);
        if (rc != SURGE_EXIT_OK) {
            if (!seen)
                return rc;
            if (++misses >= WATCH_MISSES_MAX) {
                fprintf(out, "\nthe coordinator no longer answers: %s\n",
                        ending ? "the run is over" : "it stopped before the end of its phase");
                return ending ? SURGE_EXIT_OK : rc;
            }
        } else {
            misses = 0;
            seen = true;
            const char *state = str(st, "state");
            /* The coordinator exits soon after the plan's end, perhaps between two looks. */
            ending = strcmp(state, "draining") == 0 || strcmp(state, "done") == 0 ||
                     json_path_number(st, "phase.end_s") - json_path_number(st, "t_s") <
                         2.0 * (double)every_ms / 1e3;
            bool done = strcmp(state, "done") == 0;
            ctl_watch_frame(st, tty ? terminal_width(out) : 200, frame, sizeof frame);
            json_decref(st); /* state pointed into it */
            if (tty)
                fputs("\033[H\033[2J", out); /* home, clear: the frame replaces the last */
            fputs(frame, out);
            if (!tty)
                fputc('\n', out);
            fflush(out);
            if (done)
                return SURGE_EXIT_OK;
        }
        struct timespec ts = {every_ms / 1000, (every_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
