/*  cpus.c: see cpus.h. */
#include "common/cpus.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double cpus_of_cfs(long long quota_us, long long period_us)
{
    if (quota_us <= 0 || period_us <= 0)
        return 0;
    return (double)quota_us / (double)period_us;
}

double cpus_of_cpu_max(const char *text)
{
    char quota[32];
    long long period;
    if (!text || sscanf(text, "%31s %lld", quota, &period) != 2 || strcmp(quota, "max") == 0)
        return 0;
    char *end;
    long long q = strtoll(quota, &end, 10);
    if (*end != '\0')
        return 0;
    return cpus_of_cfs(q, period);
}

static bool read_small(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    return n > 0;
}

/* The quota of this process's cgroup in CPUs, 0 when none is found. */
static double cgroup_quota(void)
{
    char text[256], line[512], path[700];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "0::", 3) != 0)
                continue;
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", line + 3);
            if (read_small(path, text, sizeof text)) {
                fclose(f);
                return cpus_of_cpu_max(text);
            }
        }
        fclose(f);
    }
    if (read_small("/sys/fs/cgroup/cpu.max", text, sizeof text)) /* a cgroup namespace */
        return cpus_of_cpu_max(text);
    char period[64];
    if (read_small("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", text, sizeof text) &&
        read_small("/sys/fs/cgroup/cpu/cpu.cfs_period_us", period, sizeof period))
        return cpus_of_cfs(atoll(text), atoll(period));
    return 0;
}

static int cpus_online_and_affine(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = online > 0 ? (int)online : 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int mine = CPU_COUNT(&set);
        if (mine > 0 && mine < n)
            n = mine;
    }
    return n;
}

int cpus_usable(void)
{
    int n = cpus_online_and_affine();
    double quota = cgroup_quota();
    if (quota > 0 && ceil(quota) < n)
        n = (int)ceil(quota);
    return n > 0 ? n : 1;
}

int cpus_for_engine_threads(void)
{
    int n = cpus_online_and_affine();
    double quota = cgroup_quota();
    if (quota > 0 && floor(quota - 0.5) < n)
        n = (int)floor(quota - 0.5);
    return n > 0 ? n : 1;
}
