/*  ctl_answer.c: `surge ctl`'s printing of a coordinator's answer (see ctl_answer.h). */
#include "coordinator/ctl_answer.h"

#include <math.h>
#include <string.h>

/* A number of the answer (o.a or o.a.b), NaN when absent or not a number. */
static double number_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A string of the answer as it may be shown: "?" when absent or not a string, control
   characters as '?', cut to the buffer. */
static const char *text_at(const json_t *o, const char *key, char *buf, size_t size)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        return "?";
    size_t n = 0;
    for (; s[n] && n + 1 < size; n++)
        buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    buf[n] = '\0';
    return buf;
}

#define TEXT_MAX 512

static void print_status(FILE *out, const json_t *s)
{
    char run_id[TEXT_MAX], state[TEXT_MAX], name[TEXT_MAX], load_text[TEXT_MAX],
        open_text[TEXT_MAX];
    const json_t *phase = json_object_get(s, "phase");
    fprintf(out, "run %s: %s", text_at(s, "run_id", run_id, sizeof run_id),
            text_at(s, "state", state, sizeof state));
    if (json_is_number(json_object_get(s, "t_s")))
        fprintf(out, " at %.1f s", number_at(s, "t_s", NULL));
    fprintf(out, "%s\n", json_is_true(json_object_get(s, "paused")) ? " (PAUSED)" : "");
    if (json_is_object(phase)) {
        const char *load = text_at(phase, "load", load_text, sizeof load_text);
        fprintf(out, "phase %s (%s): ", text_at(phase, "name", name, sizeof name), load);
        if (strcmp(load, "rate") == 0)
            fprintf(out, "%.2f req/s%s", number_at(phase, "rate_rps", NULL),
                    json_is_true(json_object_get(phase, "rate_overridden")) ? " (set-rate)" : "");
        else if (strcmp(load, "concurrency") == 0)
            fprintf(out, "concurrency %.0f", number_at(phase, "concurrency", NULL));
        else
            fprintf(out, "%.0f users", number_at(phase, "users", NULL));
        fprintf(out, ", %.1f s to %.1f s\n", number_at(phase, "start_s", NULL),
                number_at(phase, "end_s", NULL));
    } else {
        fprintf(out, "phase: none yet\n");
    }
    fprintf(out, "workers: %.0f live of %.0f\n", number_at(s, "workers", "live"),
            number_at(s, "workers", "expected"));
    const json_t *last = json_object_get(s, "last_interval");
    const json_t *sum = json_object_get(last, "summary");
    if (json_is_object(sum))
        fprintf(out,
                "last interval (%.0f s): %.1f req/s done, errors %.2f%%, TTFT p50 %.1f ms, p99 "
                "%.1f ms\n",
                number_at(last, "start_s", NULL), number_at(sum, "achieved_rps", NULL),
                100 * number_at(sum, "error_rate", NULL), number_at(sum, "ttft_ms", "p50"),
                number_at(sum, "ttft_ms", "p99"));
    const char *open = text_at(s, "open_faults", open_text, sizeof open_text);
    fprintf(out, "open fault windows: %s; marks: %.0f\n",
            *open && strcmp(open, "?") != 0 ? open : "none", number_at(s, "marks", NULL));
}

void ctl_answer_print(FILE *out, const char *command, const json_t *b)
{
    char text[TEXT_MAX], dir[TEXT_MAX], phase_text[TEXT_MAX];
    if (strcmp(command, "status") == 0) {
        print_status(out, b);
        return;
    }
    if (strncmp(command, "mark", 4) == 0) {
        fprintf(out, "%s at %.1f s: %s\n",
                strcmp(command, "mark") == 0         ? "mark"
                : strcmp(command, "mark-start") == 0 ? "fault window opened"
                                                     : "fault window closed",
                number_at(b, "t_s", NULL), text_at(b, "text", text, sizeof text));
    } else if (strcmp(command, "stop") == 0) {
        fprintf(out, "stopping at %.1f s; results in %s\n", number_at(b, "t_s", NULL),
                text_at(b, "results_dir", dir, sizeof dir));
    } else {
        const char *phase = json_string_value(json_object_get(b, "phase"))
                                ? text_at(b, "phase", phase_text, sizeof phase_text)
                                : "";
        fprintf(out, "%s from %.1f s%s%s\n", command, number_at(b, "takeover_s", NULL),
                *phase ? " in phase " : "", phase);
    }
}
