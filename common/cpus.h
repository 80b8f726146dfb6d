/*  cpus.h: how many CPUs this process may really use.

    sysconf(_SC_NPROCESSORS_ONLN) counts the machine's CPUs. In a Kubernetes pod that is
    the node's (64 on a 64-core node), whatever the pod's CPU limit; one engine thread per
    node CPU in a pod limited to 2 CPUs is throttled by the kernel every period, and the
    throttling lands in every timing. cpus_usable() is the smallest of the online CPUs,
    the process's affinity mask (cpusets, taskset) and its cgroup's CPU quota (cgroup v2
    cpu.max, else v1 cpu.cfs_quota_us / cpu.cfs_period_us), the quota rounded up.
*/
#ifndef SURGE_COMMON_CPUS_H
#define SURGE_COMMON_CPUS_H

#include <stdbool.h>

/* At least 1. */
int cpus_usable(void);

/* Default engine threads of a worker: cpus_usable(), except that under a CPU quota it
   keeps half a CPU for the worker's own threads (heartbeats, snapshots): floor(quota -
   0.5), at least 1. A busy engine thread uses its whole CPU (worker/idle.h). */
int cpus_for_engine_threads(void);

/* The CPUs of a quota given as cgroup v2 cpu.max text ("150000 100000": 1.5), or of a
   v1 quota and period in microseconds; 0 when there is none ("max", -1) or the text is
   not understood. */
double cpus_of_cpu_max(const char *text);
double cpus_of_cfs(long long quota_us, long long period_us);

#endif
