/*  duration.c: durations with their unit (see duration.h). */
#include "common/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int duration_parse_ms(const char *text, int64_t *out_ms)
{
    /* "min" before "m": the longest unit that matches wins. */
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"min", 60000}, {"m", 60000}, {"h", 3600000}};
    if (!text)
        return -1;
    const char *p = text;
    double total = 0;
    int parts = 0;
    int last_unit = -1; /* units must go from larger to smaller: 1h30m, not 30m1h */
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -1;
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0))
            return -1;
        int unit = -1;
        for (int i = 0; i < (int)(sizeof units / sizeof units[0]); i++) {
            size_t len = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, len) == 0 && !isalpha((unsigned char)end[len])) {
                unit = i;
                break;
            }
        }
        if (unit < 0)
            return -1;
        if (last_unit >= 0 && units[unit].ms >= units[last_unit].ms)
            return -1;
        last_unit = unit;
        total += v * units[unit].ms;
        p = end + strlen(units[unit].unit);
        parts++;
    }
    if (parts == 0 || !(total <= (double)DURATION_MAX_MS))
        return -1;
    *out_ms = (int64_t)llround(total);
    return 0;
}
