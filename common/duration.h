/*  duration.h: the one duration grammar of surge, for plan files and flags alike
    (docs/plans.md, "Values").

        "500ms", "90s", "30m" (or "30min"), "1h", "1h30m", "2.5s", "1m30s"

    A number followed by its unit, with compound parts going from the larger unit to
    the smaller. A bare number ("30") is refused: seconds or minutes is exactly the
    ambiguity a unit removes. No sign, no spaces, nothing above DURATION_MAX_MS.
*/
#ifndef SURGE_DURATION_H
#define SURGE_DURATION_H

#include <stdint.h>

/* 31 years: above it a duration is a typo, not a load test (and stays far from int64). */
#define DURATION_MAX_MS 1000000000000LL

/* Parses text into milliseconds (rounded to the nearest). 0, or -1 when text is not a
   duration (*out_ms untouched). */
int duration_parse_ms(const char *text, int64_t *out_ms);

#endif
