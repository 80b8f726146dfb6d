/*  schedule.c: the one global arrival sequence and its segments (see schedule.h).

    Determinism is the whole point: every worker of a fleet must draw the same points
    from the same spec, so the generator is a fixed algorithm (xoshiro256** seeded by
    splitmix64) and the arithmetic is plain IEEE double, identical on every host that
    runs the same binary.

    Hot path: schedule_next runs once per global arrival on every engine thread (each
    thread walks the whole sequence and keeps its own indices); it allocates nothing.
*/
#include "common/schedule.h"

#include "common/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2^64 / golden ratio, rounded to odd: the Weyl step. Multiplying the index by it
   modulo 2^64 is frac(i * (phi - 1)) in 64-bit fixed point, exactly, on every host. */
#define WEYL_STEP 0x9E3779B97F4A7C15ULL

struct _schedule_t {
    schedule_spec_t spec;
    uint64_t rng[4];      /* xoshiro256** state */
    uint64_t next_index;  /* index the next call returns */
    double op_time;       /* operational time of the last point (unit-rate process) */
    double total_op_time; /* Lambda(duration): no point at or beyond it */
    double duration_s;
    double ramp_a; /* (r1 - r0) / (2 D): Lambda(t) = r0 t + a t^2 */
    bool done;
};

/* ---- PRNG: xoshiro256**, seeded by splitmix64 (common/rng.h) ---------------- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1]: never 0, so log() below is always finite. */
static double rng_uniform_open0(uint64_t s[4])
{
    return ((double)(xoshiro_next(s) >> 11) + 1.0) * 0x1.0p-53;
}

static double rng_exponential(uint64_t s[4])
{
    return -log(rng_uniform_open0(s));
}

static double rng_normal(uint64_t s[4])
{
    /* Box-Muller, one of the pair (the other is thrown away to keep no hidden state). */
    double u1 = rng_uniform_open0(s), u2 = rng_uniform_open0(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Gamma(shape, 1): Marsaglia and Tsang; shapes below 1 use the boost
   Gamma(k) = Gamma(k + 1) * U^(1/k). */
static double rng_gamma(uint64_t s[4], double shape)
{
    if (shape < 1.0) {
        double u = rng_uniform_open0(s);
        return rng_gamma(s, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = rng_normal(s);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = rng_uniform_open0(s);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

/* ---- the sequence ---------------------------------------------------------------- */

schedule_t *schedule_new(const schedule_spec_t *spec)
{
    schedule_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->spec = *spec;
    uint64_t seed = spec->seed;
    for (int i = 0; i < 4; i++)
        self->rng[i] = rng_next(&seed);
    self->duration_s = (double)spec->duration_ns / 1e9;
    double r0 = spec->start_rate_per_s, r1 = spec->end_rate_per_s;
    if (!(r0 >= 0) || !(r1 >= 0) || spec->duration_ns <= 0 || (r0 == 0 && r1 == 0))
        self->done = true;
    if (spec->arrival == ARRIVAL_GAMMA && !(spec->gamma_shape > 0))
        self->done = true;
    self->ramp_a = self->duration_s > 0 ? (r1 - r0) / (2.0 * self->duration_s) : 0.0;
    self->total_op_time = schedule_expected_count(spec);
    return self;
}

void schedule_destroy(schedule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* Gap in operational time (unit rate) before the next point. */
static double draw_gap(schedule_t *self)
{
    switch (self->spec.arrival) {
    case ARRIVAL_POISSON:
        return rng_exponential(self->rng);
    case ARRIVAL_GAMMA: {
        /* gamma(k, 1/k): mean 1, coefficient of variation 1/sqrt(k). */
        double k = self->spec.gamma_shape;
        return rng_gamma(self->rng, k) / k;
    }
    case ARRIVAL_CONSTANT:
    default:
        return 1.0;
    }
}

/* Inverse of Lambda(t) = r0 t + a t^2, in the form that stays accurate when a -> 0. */
static double real_time_of(const schedule_t *self, double op_time)
{
    double r0 = self->spec.start_rate_per_s, a = self->ramp_a;
    if (a == 0.0)
        return op_time / r0;
    double disc = r0 * r0 + 4.0 * a * op_time;
    if (disc < 0)
        disc = 0;
    return 2.0 * op_time / (r0 + sqrt(disc));
}

bool schedule_next(schedule_t *self, uint64_t *index_out, int64_t *offset_ns_out)
{
    if (self->done)
        return false;
    /* Constant arrivals start at t = 0; random ones a first gap later, as a renewal
       process observed from time 0 would. */
    if (self->spec.arrival == ARRIVAL_CONSTANT)
        self->op_time = (double)self->next_index;
    else
        self->op_time += draw_gap(self);
    if (self->op_time >= self->total_op_time) {
        self->done = true;
        return false;
    }
    double t_s = real_time_of(self, self->op_time);
    int64_t offset_ns = (int64_t)llround(t_s * 1e9);
    if (offset_ns >= self->spec.duration_ns) {
        self->done = true;
        return false;
    }
    *index_out = self->next_index++;
    *offset_ns_out = offset_ns;
    return true;
}

/* ---- segments -------------------------------------------------------------------- */

/* x in [0, 1) as 64-bit fixed point; a double below 1 is at most 1 - 2^-53, so the
   product always fits. */
static uint64_t fixed_point_of(double x)
{
    if (x <= 0)
        return 0;
    return (uint64_t)ldexp(x, 64);
}

bool schedule_segment_contains(double from, double to, uint64_t index)
{
    if (!(from < to))
        return false; /* an empty segment ([1, 1) included) holds no index */
    uint64_t u = index * WEYL_STEP;
    if (from > 0 && u < fixed_point_of(from))
        return false;
    if (to < 1.0 && u >= fixed_point_of(to))
        return false;
    return true;
}

int64_t schedule_segment_first(int64_t n, double from)
{
    return (int64_t)llround((double)n * from);
}

int64_t schedule_segment_share(int64_t n, double from, double to)
{
    return (int64_t)llround((double)n * to) - (int64_t)llround((double)n * from);
}

double schedule_expected_count(const schedule_spec_t *spec)
{
    if (spec->duration_ns <= 0)
        return 0;
    double d = (double)spec->duration_ns / 1e9;
    return (spec->start_rate_per_s + spec->end_rate_per_s) * 0.5 * d;
}

static const char *const arrival_names[] = {"constant", "poisson", "gamma"};

int arrival_kind_parse(const char *name)
{
    for (int i = 0; i < 3; i++) {
        if (name && strcmp(name, arrival_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *arrival_kind_name(arrival_kind_t kind)
{
    return (unsigned)kind < 3 ? arrival_names[kind] : "?";
}

static const char *const load_names[PHASE_LOAD_COUNT] = {"rate", "concurrency", "users"};

int phase_load_parse(const char *name)
{
    for (int i = 0; i < PHASE_LOAD_COUNT; i++) {
        if (name && strcmp(name, load_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *phase_load_name(phase_load_t load)
{
    return (unsigned)load < PHASE_LOAD_COUNT ? load_names[load] : "?";
}
