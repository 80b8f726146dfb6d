/*  fuzz_report_dir: `surge report DIR` reads a results directory that may come from
    anywhere (a colleague's run, a CI artifact). Any results.json and intervals.jsonl:
    report.html, the CSVs and the terminal summary are written or refused with a reason,
    never a crash, an out-of-bounds access or a leak; and text from the files never
    becomes markup in report.html (a "<b>fuzz</b>" in any field stays escaped, so a
    "</script>" in a name cannot end a script block).

    Input layout: results.json, a NUL, intervals.jsonl (no NUL: no intervals file; an
    empty results.json: none). Files go to a private directory under /dev/shm (else
    /tmp), reused by every input. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"

static char dir[256];

static void file_put(const char *name, const uint8_t *data, size_t len, bool present)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    if (!present)
        return;
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, len, f);
    fclose(f);
}

/* The directory goes when the fuzzer exits (a crash leaves it, with its input). */
static void dir_remove(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/surge-fuzz-report-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(dir_remove);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t results_len = nul ? (size_t)(nul - data) : size;
    file_put("results.json", data, results_len, results_len > 0);
    file_put("intervals.jsonl", nul ? nul + 1 : data, nul ? size - results_len - 1 : 0,
             nul != NULL);
    char err[1024];
    if (report_write_dir(dir, err, sizeof err) == 0) {
        char path[512];
        snprintf(path, sizeof path, "%s/report.html", dir);
        FILE *f = fopen(path, "rb");
        if (!f)
            abort();
        static char html[8 << 20];
        size_t n = fread(html, 1, sizeof html - 1, f);
        html[n] = '\0';
        fclose(f);
        if (strstr(html, "<b>fuzz</b>")) {
            fprintf(stderr, "text from the results became markup in report.html\n");
            abort();
        }
    }
    FILE *null = fopen("/dev/null", "w");
    report_print_summary(dir, null, err, sizeof err);
    fclose(null);
    return 0;
}
