/*  clock.h: the one clock helper.

    Every measurement uses CLOCK_MONOTONIC in nanoseconds (`_ns`); histograms take
    microseconds (`_us`). Wall-clock time appears only in outputs, to say when a
    run happened. Pacing sleeps to absolute monotonic deadlines.
*/
#ifndef SURGE_CLOCK_H
#define SURGE_CLOCK_H

#include <stdint.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t clock_now_ns(void);
/* CLOCK_REALTIME now, in nanoseconds since the Unix epoch (for reports only). */
int64_t clock_wall_ns(void);
/* Sleeps until the absolute monotonic deadline (TIMER_ABSTIME), resuming after signals. */
void clock_sleep_until_ns(int64_t deadline_ns);
/* Formats a wall-clock time as ISO-8601 UTC ("2026-11-22T15:40:46.123Z"). */
void clock_format_iso8601(int64_t wall_ns, char *buf, int size);

#endif
