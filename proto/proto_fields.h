/*  proto_fields.h: names shared by the encoder and the decoder (internal to proto/).

    Counters travel by name so that a counter added to metrics_counters_t is a new key
    (ignored by older peers) rather than a shifted array.
*/
#ifndef SURGE_PROTO_FIELDS_H
#define SURGE_PROTO_FIELDS_H

#include <stddef.h>

#include "common/metrics.h"
#include "common/schedule.h"
#include "proto/proto.h"

typedef struct {
    const char *name;
    size_t offset; /* of an int64_t inside metrics_counters_t */
} proto_counter_field_t;

#define PROTO_COUNTER(field)                                                                       \
    {                                                                                              \
#field, offsetof(metrics_counters_t, field)                                                \
    }
static const proto_counter_field_t proto_counter_fields[] = {
    PROTO_COUNTER(scheduled),
    PROTO_COUNTER(sent),
    PROTO_COUNTER(ok),
    PROTO_COUNTER(failed),
    PROTO_COUNTER(dropped),
    PROTO_COUNTER(output_tokens),
    PROTO_COUNTER(input_tokens),
    PROTO_COUNTER(tokens_estimated),
    PROTO_COUNTER(slo_ok),
    PROTO_COUNTER(bytes_in),
    PROTO_COUNTER(output_tokens_received),
    PROTO_COUNTER(conversations_completed),
    PROTO_COUNTER(conversations_abandoned),
    PROTO_COUNTER(context_truncated),
};
#undef PROTO_COUNTER
#define PROTO_COUNTER_FIELD_COUNT (sizeof proto_counter_fields / sizeof proto_counter_fields[0])

static const char *const proto_type_names[PROTO_TYPE_COUNT] = {
    "hello",     "welcome", "plan", "phase",       "snapshot",  "ack",
    "heartbeat", "stop",    "bye",  "ctl_request", "ctl_reply",
};

static const char *const proto_dist_names[] = {"none", "fixed", "uniform", "normal"};
#define PROTO_DIST_COUNT 4
static const char *const proto_affinity_names[] = {"conversation", "none"};
#define PROTO_AFFINITY_COUNT 2

#endif
