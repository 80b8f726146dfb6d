/*  fuzz_plan_yaml.c: any bytes as a plan file: the loader returns a plan or an error naming
    a place, never crashes, leaks or runs away (alias bombs, deep nesting). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plan/plan_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    plan_extra_t *extra = NULL;
    plan_t *plan =
        plan_yaml_load_text((const char *)data, size, "fuzz.yaml", &extra, err, sizeof err);
    if (!plan && (!err[0] || strncmp(err, "fuzz.yaml", 9) != 0))
        __builtin_trap(); /* every error names the file */
    if (plan) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            plan_yaml_describe(plan, extra, devnull);
            fclose(devnull);
        }
    }
    plan_extra_destroy(&extra);
    plan_destroy(&plan);
    return 0;
}
