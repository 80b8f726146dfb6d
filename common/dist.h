/*  dist.h: a small distribution of integers (turns of a conversation, a think time in
    milliseconds), as the plan file writes them and the wire carries them.

      none     not set: dist_sample gives `none_value`
      fixed    always round(mean)
      uniform  an integer uniform in [min, max]
      normal   round(normal(mean, stddev)) clipped to [min, max] (clipping, not redrawing,
               as LLMPerf does: the bounds carry the tails' mass)

    plan/workload.h's length_dist_t is the same shape for token lengths.
*/
#ifndef SURGE_DIST_H
#define SURGE_DIST_H

#include <math.h>
#include <stdint.h>

#include "common/rng.h"

typedef enum { DIST_NONE = 0, DIST_FIXED, DIST_UNIFORM, DIST_NORMAL } dist_kind_t;

typedef struct {
    dist_kind_t kind;
    double mean, stddev;
    int min, max;
} dist_t;

static inline int64_t dist_sample(const dist_t *d, int64_t none_value, uint64_t *rng)
{
    switch (d->kind) {
    case DIST_FIXED:
        return (int64_t)llround(d->mean);
    case DIST_UNIFORM:
        return d->max > d->min ? d->min + (int64_t)rng_below(rng, (uint64_t)(d->max - d->min + 1))
                               : d->min;
    case DIST_NORMAL: {
        double z = sqrt(-2.0 * log(rng_unit_positive(rng))) * cos(2 * M_PI * rng_unit(rng));
        double v = round(d->mean + d->stddev * z);
        return (int64_t)fmin(fmax(v, d->min), d->max);
    }
    default:
        return none_value;
    }
}

#endif
