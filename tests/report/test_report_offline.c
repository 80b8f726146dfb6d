/*  test_report_offline: report/ renders a results directory on its own.

    This program links surge_report (and what it needs: plan/, common/) and nothing of the
    running system: no coordinator, no ZeroMQ. `report_links_no_zeromq` (CMakeLists.txt)
    checks the same from the linked binary's side.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "report/report.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    CHECK(fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return text;
}

static void test_report_renders_a_results_dir_without_the_running_system(void)
{
    char dir[] = "/tmp/surge-report-offline-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    write_file(dir, "results.json",
               "{\"format_version\": 2, \"plan\": {\"name\": \"offline <check>\"},"
               " \"run\": {\"duration_s\": 2, \"requests\": {\"total\": 4, \"ok\": 4,"
               " \"errors\": 0}, \"error_rate\": 0, \"ttft_ms\": {\"p50\": 12, \"p99\": 30}},"
               " \"phases\": [{\"name\": \"steady\", \"kind\": \"constant\", \"measure\": true,"
               " \"summary\": {\"requests\": {\"total\": 4, \"ok\": 4, \"errors\": 0},"
               " \"error_rate\": 0, \"ttft_ms\": {\"p50\": 12, \"p99\": 30}}}]}\n");
    write_file(dir, "intervals.jsonl",
               "{\"interval\": 0, \"t_s\": 0, \"requests\": {\"total\": 2}}\n"
               "{\"interval\": 1, \"t_s\": 1, \"requests\": {\"total\": 2}}\n");
    char err[512] = "";
    int rc = report_write_dir(dir, err, sizeof err);
    CHECK_MSG(rc == 0, "report_write_dir: %s", err);
    char *html = read_file(dir, "report.html");
    REQUIRE(html != NULL);
    CHECK(strstr(html, "<html") != NULL);
    CHECK(strstr(html, "offline &lt;check&gt;") != NULL); /* the plan's name, escaped */
    CHECK(strstr(html, "<check>") == NULL);
    free(html);
    char *csv = read_file(dir, "phases.csv");
    CHECK(csv != NULL && strstr(csv, "steady") != NULL);
    free(csv);
    const char *names[] = {"results.json",  "intervals.jsonl", "report.html", "phases.csv",
                           "intervals.csv", "stages.csv",      "server.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

CHECK_MAIN(test_report_renders_a_results_dir_without_the_running_system)
