/*  check.c: runs the test functions named by CHECK_MAIN and reports each. */
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int current_failures;
static bool current_skipped;

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failures++;
}

void check_skip(const char *why)
{
    fprintf(stderr, "    SKIP: %s\n", why);
    current_skipped = true;
}

int check_run(const char *prog, const char *names, check_fn **fns, int count)
{
    int failed = 0, skipped = 0;
    const char *only = getenv("CHECK_ONLY");
    const char *p = names;
    for (int i = 0; i < count; i++) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        p += n;
        if (only && strcmp(only, name) != 0)
            continue;
        current_failures = 0;
        current_skipped = false;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fns[i]();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        const char *verdict = current_failures ? "FAIL" : current_skipped ? "SKIP" : "ok";
        fprintf(stderr, "%-4s %s (%.0f ms)\n", verdict, name, ms);
        failed += current_failures ? 1 : 0;
        skipped += (!current_failures && current_skipped) ? 1 : 0;
    }
    fprintf(stderr, "%s: %d tests, %d failed, %d skipped\n", prog, count, failed, skipped);
    if (failed)
        return 1;
    return skipped == count ? 77 : 0;
}
