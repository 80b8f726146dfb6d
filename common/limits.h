/*  limits.h: the largest load a plan may ask for, stated once.

    The worker's decoder (proto/proto_decode.c) refuses a phase or plan message with a
    value outside these ranges, and plan validation (plan/plan.c, for plan files
    and flags alike) refuses the same values with exit 2 before any load. They used to
    be written twice, and a plan that passed one and not the other (`--rate 1e12`,
    `--duration 100000h`) ran with every worker refusing every phase: a run that
    measured nothing and reported success. Anything that checks one of these limits
    includes this header.

    Each limit is far above any real load test and small enough that the arithmetic on
    it cannot overflow.
*/
#ifndef SURGE_LIMITS_H
#define SURGE_LIMITS_H

/* Requests per second of the whole fleet (one phase): 10 million. A schedule computes
   arrival times in double nanoseconds; far beyond this one arrival is below 1 ns apart. */
#define LIMIT_RATE_PER_S 1e7

/* Requests in flight (concurrency) or simulated users of one closed-loop phase. */
#define LIMIT_CONCURRENCY (1 << 24)
#define LIMIT_USERS       (1 << 24)

/* One phase's duration: a year. Phase times are int64 ns (292 years) added to
   monotonic times within 2^60 ns (proto.h), so this keeps every sum in range. */
#define LIMIT_PHASE_DURATION_MS (366LL * 86400 * 1000)

/* Per-request timeout: a day. */
#define LIMIT_TIMEOUT_MS 86400000LL

/* Mean think time of a user: a day. */
#define LIMIT_THINK_TIME_S 86400.0

/* Shape of gamma (bursty) arrivals. */
#define LIMIT_GAMMA_SHAPE 1e6

/* max_tokens of a request (plan-wide or per prompt). */
#define LIMIT_MAX_TOKENS (1 << 24)

/* Per-worker cap on requests in flight (max_inflight). */
#define LIMIT_MAX_INFLIGHT (1 << 24)

/* Snapshot interval, ms. */
#define LIMIT_INTERVAL_MIN_MS 10
#define LIMIT_INTERVAL_MAX_MS 3600000

#endif
