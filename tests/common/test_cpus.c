/*  test_cpus.c: the CPUs a process may use (common/cpus.h): the quota texts of cgroup v2
    and v1, and a real affinity mask narrowed to one CPU. */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/cpus.h"

static void test_cgroup_quota_texts(void)
{
    CHECK(cpus_of_cpu_max("max 100000\n") == 0);
    CHECK(cpus_of_cpu_max("200000 100000\n") == 2.0);
    CHECK(cpus_of_cpu_max("150000 100000") == 1.5);
    CHECK(cpus_of_cpu_max("50000 100000") == 0.5);
    CHECK(cpus_of_cpu_max("") == 0);
    CHECK(cpus_of_cpu_max("12x 100000") == 0);
    CHECK(cpus_of_cpu_max(NULL) == 0);
    CHECK(cpus_of_cfs(-1, 100000) == 0); /* v1: no quota */
    CHECK(cpus_of_cfs(400000, 100000) == 4.0);
    CHECK(cpus_of_cfs(100000, 0) == 0);
}

static void test_an_affinity_mask_of_one_cpu_counts_one(void)
{
    cpu_set_t old, one;
    REQUIRE(sched_getaffinity(0, sizeof old, &old) == 0);
    int before = cpus_usable();
    CHECK(before >= 1 && before <= CPU_COUNT(&old));
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &old)) {
            CPU_SET(c, &one);
            break;
        }
    }
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK_INT_EQ(cpus_usable(), 1);
    CHECK_INT_EQ(cpus_for_engine_threads(), 1);
    sched_setaffinity(0, sizeof old, &old);
    CHECK_INT_EQ(cpus_usable(), before);
}

CHECK_MAIN(test_cgroup_quota_texts, test_an_affinity_mask_of_one_cpu_counts_one)
