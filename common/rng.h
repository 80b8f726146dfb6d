/*  rng.h: the one pseudo-random generator of surge.

    splitmix64 (Steele, Lea, Flood 2014): one 64-bit word of state, a few
    multiply-xorshifts per draw, and the same sequence for the same seed on every host,
    which is what a simulator that must be deterministic for a seed, a workload that
    must be reproducible, and tests that must not flake need. Not cryptographic.
    Streams that need a longer period (the global arrival sequence) seed a bigger
    generator from it (common/schedule.c).

        uint64_t state = seed;
        double u = rng_unit(&state);                  in [0, 1)
        double e = -log(rng_unit_positive(&state));   in (0, 1]: safe under log()
        uint64_t i = rng_below(&state, n);            in [0, n)
*/
#ifndef SURGE_RNG_H
#define SURGE_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 random bits. */
static inline double rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1]: safe under log() (exponential and gamma draws). */
static inline double rng_unit_positive(uint64_t *state)
{
    return ((double)(rng_next(state) >> 11) + 1.0) * 0x1.0p-53;
}

/* Uniform in [0, n) by a modulo (a bias of n / 2^64, nothing at the sizes surge draws
   from: lists, lengths); 0 when n is 0. */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
    return n ? rng_next(state) % n : 0;
}

#endif
