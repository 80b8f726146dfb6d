/*  clock.c: thin wrappers over clock_gettime/clock_nanosleep. */
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void clock_sleep_until_ns(int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / NS_PER_S, .tv_nsec = deadline_ns % NS_PER_S};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void clock_format_iso8601(int64_t wall_ns, char *buf, int size)
{
    time_t secs = (time_t)(wall_ns / NS_PER_S);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, (size_t)size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((wall_ns % NS_PER_S) / NS_PER_MS));
}
