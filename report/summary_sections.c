/*  summary_sections.c: the terminal summary's tables of the server's own figures and of
    the chaos impact (summary.c), from results.json `server` and `chaos`.
*/
#include <jansson.h>
#include <stdio.h>

#include "report/report.h"

#define SCRAPE_SUMMARY_TARGETS 8 /* targets listed; the rest are counted */

static void print_seconds(FILE *out, const json_t *f, const char *key, const char *none)
{
    const json_t *v = json_object_get(f, key);
    if (json_is_number(v))
        fprintf(out, " %13.1f", json_number_value(v));
    else
        fprintf(out, " %13s", none);
}

static void print_pct(FILE *out, const json_t *f, const char *key, double scale)
{
    const json_t *v = json_object_get(f, key);
    if (json_is_number(v))
        fprintf(out, " %+10.1f%%", scale * json_number_value(v));
    else
        fprintf(out, " %11s", "-");
}

void chaos_print_summary(const json_t *chaos, FILE *out)
{
    const json_t *faults = json_object_get(chaos, "faults");
    if (json_array_size(faults) == 0)
        return;
    fprintf(out, "\nchaos impact:\n%-22s %8s %8s %13s %13s %11s %11s %11s\n", "fault", "start s",
            "end s", "detection s", "recovery s", "errors", "throughput", "TTFT p50");
    size_t i;
    const json_t *f;
    json_array_foreach(faults, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        fprintf(out, "%-22.22s %8.1f %8.1f", name ? name : "?",
                json_number_value(json_object_get(f, "start_s")),
                json_number_value(json_object_get(f, "end_s")));
        print_seconds(out, f, "detection_s", "not detected");
        print_seconds(out, f, "recovery_s", "not recovered");
        const json_t *e = json_object_get(f, "error_rate");
        if (json_is_number(e))
            fprintf(out, " %10.2f%%", 100 * json_number_value(e));
        else
            fprintf(out, " %11s", "-");
        print_pct(out, f, "throughput_change_pct", 1);
        print_pct(out, f, "ttft_change_pct", 1);
        fprintf(out, "\n");
    }
}

void scrape_print_summary(const json_t *server, FILE *out)
{
    if (!json_is_object(server) || json_object_size(server) == 0)
        return;
    fprintf(out, "\nserver metrics (each target's own /metrics):\n");
    const char *url;
    const json_t *s;
    int shown = 0;
    json_object_foreach((json_t *)server, url, s)
    {
        if (shown++ == SCRAPE_SUMMARY_TARGETS) {
            fprintf(out, "  ... and %zu more targets (results.json server)\n",
                    json_object_size(server) - SCRAPE_SUMMARY_TARGETS);
            break;
        }
        json_int_t scrapes = json_integer_value(json_object_get(s, "scrapes"));
        json_int_t errors = json_integer_value(json_object_get(s, "scrape_errors"));
        const char *last = json_string_value(json_object_get(s, "last_error"));
        fprintf(out, "  %-32s", url);
        if (scrapes > 0 && errors == scrapes) {
            fprintf(out, " every scrape failed (%lld): %.120s\n", (long long)errors,
                    last ? last : "?");
            continue;
        }
        const struct {
            const char *key, *label;
            double scale;
        } peaks[] = {{"max_running", "running max %.0f", 1},
                     {"max_waiting", "waiting max %.0f", 1},
                     {"max_kv_cache_usage", "KV cache max %.0f%%", 100},
                     {"prefix_cache_hit_rate", "prefix cache hits %.0f%%", 100},
                     {"preemptions", "preemptions %.0f", 1}};
        for (size_t i = 0; i < sizeof peaks / sizeof peaks[0]; i++) {
            const json_t *v = json_object_get(s, peaks[i].key);
            if (json_is_number(v)) {
                fputs("  ", out);
                fprintf(out, peaks[i].label, json_number_value(v) * peaks[i].scale);
            }
        }
        fprintf(out, "  scrape errors %lld", (long long)errors);
        if (errors > 0 && last)
            fprintf(out, " (last: %.80s)", last);
        fputc('\n', out);
    }
}
