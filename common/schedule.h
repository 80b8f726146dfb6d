/*  schedule.h: the one global arrival sequence, and its partition into segments.

    Every worker is given the same schedule_spec_t (arrival process, rate or linear rate
    ramp, seed, duration) and computes the same global sequence of arrivals
    (index i, offset t_i from the phase start). It fires only the indices that fall in
    its segment [from, to) of the unit interval. Index i is placed at the point
    u_i = frac(i * (golden ratio - 1)) (a Weyl sequence, computed exactly in 64-bit
    fixed point), so:
      - segments that cover [0, 1) partition the indices exactly: the union of what the
        workers send is the planned schedule, with no rounding drift;
      - neighbouring arrivals land far apart on the unit interval, so they go to
        different workers (striping, as k6's execution segments do);
      - a segment of length L receives L*n +- O(log n) of the first n arrivals.

    Arrival times: the process draws points in "operational time" (unit rate: constant
    = 1 apart, Poisson = exponential gaps, gamma = gamma(shape, 1/shape) gaps) and maps
    them through the inverse of the cumulative rate Lambda(t) = r0*t + (r1-r0)*t^2/(2D),
    so a ramp from r0 to r1 keeps the process's shape at every instant.

    Integer quantities (concurrency, users) split as round(N*to) - round(N*from), which
    always sums to N over a partition.
*/
#ifndef SURGE_SCHEDULE_H
#define SURGE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    ARRIVAL_CONSTANT = 0,
    ARRIVAL_POISSON = 1,
    ARRIVAL_GAMMA = 2,
} arrival_kind_t;

typedef struct {
    arrival_kind_t arrival;
    double gamma_shape;      /* ARRIVAL_GAMMA: shape k (1 = Poisson, < 1 burstier) */
    double start_rate_per_s; /* global rate at the phase start */
    double end_rate_per_s;   /* global rate at the phase end (= start for a flat rate) */
    int64_t duration_ns;     /* no arrival at or after this offset */
    uint64_t seed;
} schedule_spec_t;

/* What a phase holds constant: the arrival rate (open loop: the schedule above), the
   requests in flight (closed loop) or the users (closed loop with think time). One enum
   for the plan, the wire ("load": its name) and the engine. */
typedef enum {
    PHASE_LOAD_RATE = 0,
    PHASE_LOAD_CONCURRENCY = 1,
    PHASE_LOAD_USERS = 2,
} phase_load_t;
#define PHASE_LOAD_COUNT 3

typedef struct _schedule_t schedule_t;

schedule_t *schedule_new(const schedule_spec_t *spec);
void schedule_destroy(schedule_t **self_p);
/* Next arrival of the global sequence: its index and its offset from the phase start.
   false when the next arrival would fall at or after duration_ns. */
bool schedule_next(schedule_t *self, uint64_t *index_out, int64_t *offset_ns_out);

/* True when global index i belongs to the segment [from, to) (0 <= from <= to <= 1). */
bool schedule_segment_contains(double from, double to, uint64_t index);
/* round(n*to) - round(n*from): this segment's part of an integer quantity n. */
int64_t schedule_segment_share(int64_t n, double from, double to);
/* First index of this segment's part of n: round(n*from). */
int64_t schedule_segment_first(int64_t n, double from);
/* Expected number of arrivals of the whole sequence: integral of the rate. */
double schedule_expected_count(const schedule_spec_t *spec);
/* Parses "constant", "poisson", "gamma"; -1 when unknown. */
int arrival_kind_parse(const char *name);
const char *arrival_kind_name(arrival_kind_t kind);
/* Parses "rate", "concurrency", "users"; -1 when unknown. */
int phase_load_parse(const char *name);
const char *phase_load_name(phase_load_t load); /* "?" when out of range */

#endif
