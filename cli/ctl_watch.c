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

static const json_t *at(const json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

static double num(const json_t *o, const char *path)
{
    const json_t *v = at(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *o, const char *path)
{
    const char *s = json_string_value(at(o, path));
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
        fig(f, ps[i], num(s, path), 1);
    }
    say(f, "\n");
}

void ctl_watch_frame(const json_t *st, int width, char *out, size_t size)
{
    frame_t f = {out, size, 0, width > 20 ? width : 20, 0};
    out[0] = '\0';
    const json_t *last = at(st, "last_interval"), *s = at(last, "summary");
    char clock[16];
    time_t now = time(NULL);
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&now));
    say(&f, "surge watch  run %s  %s%s", str(st, "run_id"), str(st, "state"),
        json_is_true(at(st, "paused")) ? " (PAUSED)" : "");
    if (!isnan(num(st, "t_s")))
        say(&f, " at %.1f s", num(st, "t_s"));
    say(&f, "  %s\n", clock);
    const json_t *ph = at(st, "phase");
    if (json_is_object(ph)) {
        const char *load = str(ph, "load");
        say(&f, "phase    %s (%s", str(ph, "name"), str(ph, "kind"));
        if (strcmp(load, "rate") == 0)
            say(&f, ", %.1f req/s%s", num(ph, "rate_rps"),
                json_is_true(at(ph, "rate_overridden")) ? " set-rate" : "");
        else if (strcmp(load, "concurrency") == 0)
            say(&f, ", concurrency %.0f", num(ph, "concurrency"));
        else
            say(&f, ", %.0f users", num(ph, "users"));
        double left = num(ph, "end_s") - num(st, "t_s");
        say(&f, ")  %.0f s left in the phase\n", left > 0 ? left : 0);
    } else {
        say(&f, "phase    none yet\n");
    }
    if (!json_is_object(s)) {
        say(&f, "interval none closed yet\n");
    } else {
        say(&f, "interval #%.0f at %.0f s\n", num(last, "index"), num(last, "start_s"));
        say(&f, "rates   ");
        fig(&f, "offered", num(s, "offered_rps"), 1);
        fig(&f, "sent", num(s, "achieved_rps"), 1);
        fig(&f, "completed", num(s, "completed_rps"), 1);
        say(&f, "  req/s");
        fig(&f, "in-flight", num(st, "inflight"), 0);
        say(&f, "\n");
        say(&f, "tokens  ");
        fig(&f, "output/s", num(s, "output_tokens_per_s"), 0);
        fig(&f, "input/s", num(s, "input_tokens_per_s"), 0);
        say(&f, "\n");
        percentiles(&f, "TTFT ms", s, "ttft_ms");
        percentiles(&f, "ITL ms", s, "itl_ms");
        percentiles(&f, "E2E ms", s, "e2e_ms");
        say(&f, "errors    %.2f%%", 100 * num(s, "error_rate"));
        const char *k;
        const json_t *v;
        int shown = 0;
        json_object_foreach((json_t *)at(s, "errors_by_class"), k, v)
        {
            if (json_integer_value(v) > 0)
                say(&f, "%s%s %lld", shown++ ? ", " : "  (", k, (long long)json_integer_value(v));
        }
        say(&f, "%s\n", shown ? ")" : "");
        double lag = num(s, "lag_ms.p99"), dropped = num(s, "requests.dropped");
        say(&f, "lag ms  ");
        fig(&f, "p99", lag, 2);
        fig(&f, "dropped", dropped, 0);
        if (lag > WATCH_CLIENT_LAG_LIMIT_MS || dropped > 0)
            say(&f, "  CLIENT-LIMITED: add workers or threads");
        say(&f, "\n");
    }
    say(&f, "workers   %.0f live of %.0f, %.0f lost\n", num(st, "workers.live"),
        num(st, "workers.expected"), num(st, "workers.lost"));
    size_t i;
    const json_t *t;
    json_array_foreach(at(st, "targets"), i, t)
    {
        say(&f, "target    %s", str(t, "url"));
        fig(&f, "running", num(t, "running"), 0);
        fig(&f, "waiting", num(t, "waiting"), 0);
        fig(&f, "KV%", 100 * num(t, "kv_cache_usage"), 0);
        if (num(t, "scrape_errors") > 0)
            fig(&f, "scrape errors", num(t, "scrape_errors"), 0);
        say(&f, "\n");
    }
    const char *open = str(st, "open_faults");
    say(&f, "chaos     fault windows open: %s; marks %.0f\n", *open ? open : "none",
        num(st, "marks"));
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
                     num(st, "phase.end_s") - num(st, "t_s") < 2.0 * (double)every_ms / 1e3;
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
