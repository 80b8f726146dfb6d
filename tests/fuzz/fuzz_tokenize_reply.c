/*  fuzz_tokenize_reply: a target's /tokenize answer (plan/workload.c, `tokenize:
    true`) is outside input. Any bytes: a ratio or -1, never a crash, an out-of-bounds
    access or a leak; and the ratio, when there is one, is in 1..12 characters per token
    and is the sample's length over the reply's integer "count".

    Input layout: two bytes of sample length (little-endian), the reply body. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 70000)
        return 0;
    size_t sample_chars = (size_t)data[0] | (size_t)data[1] << 8;
    const char *reply = (const char *)data + 2;
    size_t len = size - 2;
    double ratio = workload_tokenize_reply_ratio(reply, len, sample_chars);
    if (ratio == -1)
        return 0;
    json_t *root = json_loadb(reply, len, 0, NULL);
    json_t *count = json_object_get(root, "count");
    if (!(ratio >= 1 && ratio <= 12) || !json_is_integer(count) ||
        fabs(ratio - (double)sample_chars / (double)json_integer_value(count)) > 1e-9) {
        fprintf(stderr, "ratio %g from a reply that does not say so\n", ratio);
        abort();
    }
    json_decref(root);
    return 0;
}
