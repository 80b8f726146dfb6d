/*  proto_fields.h: what the encoder and the decoder share (internal to proto/).

    Field tables: a struct that travels as a msgpack map is described once, as a table of
    {key, type, offset, rules}; proto_encode.c writes every field of the table (its map
    size is counted from the table), proto_decode.c reads them with the table's rules:
    required or not, the range of a number, the cap of a string or a list, the default
    of an optional field. Adding a field to a message is one line here. What a table
    cannot say (lists of metrics, fields that depend on others, checks across fields)
    stays written out in the two files.

    Counters travel by name so that a counter added to metrics_counters_t is a new key
    (ignored by older peers) rather than a shifted array.
*/
#ifndef SURGE_PROTO_FIELDS_H
#define SURGE_PROTO_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "common/metrics.h"
#include "common/schedule.h"
#include "proto/proto.h"

/* Keys every message carries besides its table's: "v" and "t". */
#define PROTO_ENVELOPE_KEYS 2

/* ---- field tables ------------------------------------------------------------------ */

typedef enum {
    PROTO_FIELD_INT,       /* int: a msgpack int in [min, max] */
    PROTO_FIELD_I64,       /* int64_t: a msgpack int in [min, max] */
    PROTO_FIELD_U64,       /* uint64_t: a non-negative msgpack int */
    PROTO_FIELD_F64,       /* double: a msgpack number in [fmin, fmax] (NaN refused) */
    PROTO_FIELD_BOOL,      /* bool */
    PROTO_FIELD_STR,       /* char *: a str of at most max bytes, no NUL ("" when absent) */
    PROTO_FIELD_STR_ARRAY, /* char **, its int count at count_offset: at most max_items
                              strings of at most max bytes each */
    PROTO_FIELD_ENUM,      /* an enum (int-sized) travelling as its name (a str of at most
                              max bytes): enum_name / enum_parse */
} proto_field_type_t;

typedef struct {
    const char *key; /* on the wire */
    proto_field_type_t type;
    size_t offset;       /* in the struct the table describes */
    bool required;       /* decoding: absent is PROTO_ERR_MISSING */
    bool omit_empty;     /* encoding: left out when "" or NULL (STR) or false (BOOL); then
                            optional for the decoder */
    int64_t min, max;    /* INT, I64: the range; STR, STR_ARRAY, ENUM: the byte cap */
    double fmin, fmax;   /* F64: the range */
    double dflt;         /* INT, I64, F64, BOOL: the value when absent (optional) */
    size_t count_offset; /* STR_ARRAY */
    int max_items;       /* STR_ARRAY */
    const char *(*enum_name)(int value); /* ENUM: "?" when out of range */
    int (*enum_parse)(const char *name); /* ENUM: -1 when unknown */
} proto_field_t;

#define PROTO_FIELD_COUNT(table) (sizeof(table) / sizeof(table)[0])

/* Table rows: S is the struct, F its member, K the key, REQ whether it is required. */
#define PF_INT(S, F, K, REQ, LO, HI, DFLT)                                                         \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_INT, .offset = offsetof(S, F), .required = REQ, .min = LO,   \
        .max = HI, .dflt = DFLT                                                                    \
    }
#define PF_I64(S, F, K, REQ, LO, HI, DFLT)                                                         \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_I64, .offset = offsetof(S, F), .required = REQ, .min = LO,   \
        .max = HI, .dflt = DFLT                                                                    \
    }
#define PF_U64(S, F, K, REQ)                                                                       \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_U64, .offset = offsetof(S, F), .required = REQ               \
    }
#define PF_F64(S, F, K, REQ, LO, HI, DFLT)                                                         \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_F64, .offset = offsetof(S, F), .required = REQ, .fmin = LO,  \
        .fmax = HI, .dflt = DFLT                                                                   \
    }
#define PF_BOOL(S, F, K, REQ, DFLT)                                                                \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_BOOL, .offset = offsetof(S, F), .required = REQ,             \
        .dflt = DFLT                                                                               \
    }
#define PF_STR(S, F, K, REQ, CAP)                                                                  \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_STR, .offset = offsetof(S, F), .required = REQ, .max = CAP   \
    }
#define PF_STR_ARRAY(S, F, COUNT, K, REQ, MAX_ITEMS, CAP)                                          \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_STR_ARRAY, .offset = offsetof(S, F), .required = REQ,        \
        .max = CAP, .count_offset = offsetof(S, COUNT), .max_items = MAX_ITEMS                     \
    }
#define PF_ENUM(S, F, K, CAP, NAME, PARSE)                                                         \
    {                                                                                              \
        .key = K, .type = PROTO_FIELD_ENUM, .offset = offsetof(S, F), .required = true,            \
        .max = CAP, .enum_name = NAME, .enum_parse = PARSE                                         \
    }

_Static_assert(sizeof(phase_load_t) == sizeof(int) && sizeof(arrival_kind_t) == sizeof(int) &&
                   sizeof(dist_kind_t) == sizeof(int) && sizeof(proto_affinity_t) == sizeof(int),
               "PROTO_FIELD_ENUM reads and writes enums as int");

/* Whether the encoder writes field f of the struct at base. */
static inline bool proto_field_present(const proto_field_t *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    if (!f->omit_empty)
        return true;
    if (f->type == PROTO_FIELD_STR) {
        const char *text = *(const char *const *)at;
        return text && *text;
    }
    if (f->type == PROTO_FIELD_BOOL)
        return *(const bool *)at;
    return true;
}

/* Keys the encoder writes for the struct at base: its map's size (with others'). */
static inline size_t proto_fields_present(const proto_field_t *fields, size_t n, const void *base)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += proto_field_present(&fields[i], base);
    return count;
}

/* Enums by name (the int-typed views the tables call). */
static inline const char *proto_arrival_name(int value)
{
    return arrival_kind_name((arrival_kind_t)value);
}
static inline int proto_arrival_parse(const char *name)
{
    return arrival_kind_parse(name);
}
static inline const char *proto_load_name(int value)
{
    return phase_load_name((phase_load_t)value);
}
static inline int proto_load_parse(const char *name)
{
    return phase_load_parse(name);
}

static const char *const proto_dist_names[] = {"none", "fixed", "uniform", "normal"};
#define PROTO_DIST_COUNT 4
static const char *const proto_affinity_names[] = {"conversation", "none"};
#define PROTO_AFFINITY_COUNT 2

static inline int proto_name_parse(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++) {
        if (name && strcmp(name, names[i]) == 0)
            return i;
    }
    return -1;
}
static inline const char *proto_dist_name(int value)
{
    return (unsigned)value < PROTO_DIST_COUNT ? proto_dist_names[value] : "?";
}
static inline int proto_dist_parse(const char *name)
{
    return proto_name_parse(proto_dist_names, PROTO_DIST_COUNT, name);
}
static inline const char *proto_affinity_name(int value)
{
    return (unsigned)value < PROTO_AFFINITY_COUNT ? proto_affinity_names[value] : "?";
}
static inline int proto_affinity_parse(const char *name)
{
    return proto_name_parse(proto_affinity_names, PROTO_AFFINITY_COUNT, name);
}

/* ---- the tables ------------------------------------------------------------------ */

#define S proto_hello_t
static const proto_field_t proto_hello_fields[] = {
    PF_STR(S, worker_id, "id", true, PROTO_MAX_STRING_BYTES),
    PF_U64(S, incarnation, "inc", true),
    PF_STR(S, software, "sw", true, PROTO_MAX_STRING_BYTES),
    PF_INT(S, threads, "threads", true, 1, 4096, 1),
    PF_INT(S, capacity, "capacity", true, 1, PROTO_MAX_CAPACITY, 1),
    PF_STR_ARRAY(S, allow, allow_count, "allow", true, PROTO_MAX_ALLOW, PROTO_MAX_STRING_BYTES),
};
#undef S

#define S proto_welcome_t
static const proto_field_t proto_welcome_fields[] = {
    PF_BOOL(S, accepted, "accepted", true, false),
    PF_STR(S, reason, "reason", true, PROTO_MAX_STRING_BYTES),
    PF_STR(S, run_id, "run", true, PROTO_MAX_STRING_BYTES),
    PF_I64(S, heartbeat_ms, "hb_ms", true, 10, 60000, 1000),
};
#undef S

static const proto_field_t proto_ack_fields[] = {PF_U64(proto_ack_t, seq, "seq", true)};

/* "ready" (worker -> coordinator, said or not) is written out beside these. */
#define S proto_heartbeat_t
static const proto_field_t proto_heartbeat_fields[] = {
    PF_I64(S, time_ns, "time", true, -PROTO_MAX_TIME_NS, PROTO_MAX_TIME_NS, 0),
    PF_I64(S, echo_ns, "echo", true, -PROTO_MAX_TIME_NS, PROTO_MAX_TIME_NS, 0),
    PF_I64(S, hold_ns, "hold", true, 0, PROTO_MAX_TIME_NS, 0),
};
#undef S

#define S proto_stop_t
static const proto_field_t proto_stop_fields[] = {
    PF_U64(S, epoch, "epoch", true),
    PF_BOOL(S, abort, "abort", true, false),
    PF_STR(S, reason, "reason", true, PROTO_MAX_STRING_BYTES),
};
#undef S

#define S proto_bye_t
static const proto_field_t proto_bye_fields[] = {
    PF_STR(S, reason, "reason", true, PROTO_MAX_STRING_BYTES),
    {.key = "failed", .type = PROTO_FIELD_BOOL, .offset = offsetof(S, failed), .omit_empty = true},
};
#undef S

#define S proto_ctl_request_t
static const proto_field_t proto_ctl_request_fields[] = {
    PF_U64(S, id, "id", true),
    PF_STR(S, command, "cmd", true, PROTO_MAX_CTL_COMMAND),
    PF_STR(S, text, "text", false, PROTO_MAX_STRING_BYTES),
    PF_F64(S, value, "value", false, 0, LIMIT_RATE_PER_S, 0),
};
#undef S

#define S proto_ctl_reply_t
static const proto_field_t proto_ctl_reply_fields[] = {
    PF_U64(S, id, "id", true),
    PF_BOOL(S, ok, "ok", true, false),
    PF_STR(S, error, "error", false, PROTO_MAX_STRING_BYTES),
    PF_STR(S, body_json, "body", false, PROTO_MAX_CTL_BODY_BYTES),
};
#undef S

/* A snapshot's own fields; its metrics and optional parts are written out beside them. */
#define S proto_snapshot_t
static const proto_field_t proto_snapshot_fields[] = {
    PF_U64(S, seq, "seq", true),
    PF_I64(S, interval, "interval", true, 0, INT64_MAX / 2, 0),
    PF_STR(S, worker_id, "id", true, PROTO_MAX_STRING_BYTES),
    PF_U64(S, epoch, "epoch", true),
    PF_I64(S, inflight, "inflight", true, 0, INT64_MAX / 2, 0),
};
#undef S

/* One entry of a snapshot's "phases" ("m", its metrics, beside them when several). */
#define S proto_phase_part_t
static const proto_field_t proto_phase_part_fields[] = {
    PF_INT(S, phase_index, "p", true, 0, PROTO_MAX_PHASE_INDEX, 0),
    PF_I64(S, tail_requests, "tail", true, 0, INT64_MAX / 4, 0),
    PF_I64(S, tail_max_ns, "tail_ns", true, 0, PROTO_MAX_TIME_NS, 0),
};
#undef S

/* A distribution of a plan's "conv", its values within [0, HI]: the turns of a
   conversation (PROTO_MAX_TURNS) or a think time (PROTO_MAX_THINK_MS). */
#define PROTO_DIST_FIELDS(HI)                                                                      \
    {                                                                                              \
        PF_ENUM(dist_t, kind, "kind", 16, proto_dist_name, proto_dist_parse),                      \
            PF_F64(dist_t, mean, "mean", true, 0, HI, 0),                                          \
            PF_F64(dist_t, stddev, "stddev", true, 0, HI, 0),                                      \
            PF_INT(dist_t, min, "min", true, 0, HI, 0), PF_INT(dist_t, max, "max", true, 0, HI, 0) \
    }
static const proto_field_t proto_turns_dist_fields[] = PROTO_DIST_FIELDS(PROTO_MAX_TURNS);
static const proto_field_t proto_think_dist_fields[] = PROTO_DIST_FIELDS(PROTO_MAX_THINK_MS);

/* A plan's "conv": these, its two distributions ("turns", "think_ms") and its dataset
   ("turn_counts" beside "turn_texts") written out beside them. */
#define S proto_conversations_t
static const proto_field_t proto_conversations_fields[] = {
    PF_STR(S, system_prompt, "system", true, PROTO_MAX_PROMPT_BYTES),
    PF_STR(S, shared_prefix, "prefix", true, PROTO_MAX_PROMPT_BYTES),
    PF_F64(S, shared_prefix_fraction, "prefix_frac", true, 0, 1, 0),
    PF_INT(S, context_tokens, "context", false, 0, PROTO_MAX_CONTEXT_TOKENS, 0),
    PF_F64(S, chars_per_token, "cpt", false, 0, 64, 0),
    PF_ENUM(S, affinity, "affinity", 32, proto_affinity_name, proto_affinity_parse),
    PF_STR_ARRAY(S, turn_texts, turn_text_count, "turn_texts", true, PROTO_MAX_TURN_TEXTS,
                 PROTO_MAX_PROMPT_BYTES),
};
#undef S

/* The schedule spec (common/schedule.h): in a phase message, its keys sit beside the
   phase's own. */
#define S schedule_spec_t
static const proto_field_t proto_schedule_fields[] = {
    PF_ENUM(S, arrival, "arrival", 32, proto_arrival_name, proto_arrival_parse),
    PF_F64(S, gamma_shape, "gamma_shape", true, 0, LIMIT_GAMMA_SHAPE, 1),
    PF_F64(S, start_rate_per_s, "rate0", true, 0, LIMIT_RATE_PER_S, 0),
    PF_F64(S, end_rate_per_s, "rate1", true, 0, LIMIT_RATE_PER_S, 0),
    PF_U64(S, seed, "seed", true),
    PF_I64(S, duration_ns, "duration_ns", true, 0, LIMIT_PHASE_DURATION_MS * 1000000LL, 0),
};
#undef S

/* A phase's own fields ("takeover" absent = "t0": the decoder fills it in). */
#define S proto_phase_t
static const proto_field_t proto_phase_fields[] = {
    PF_U64(S, epoch, "epoch", true),
    PF_INT(S, phase_index, "index", true, 0, PROTO_MAX_PHASE_INDEX, 0),
    PF_STR(S, name, "name", true, PROTO_MAX_STRING_BYTES),
    PF_ENUM(S, load, "load", 32, proto_load_name, proto_load_parse),
    PF_INT(S, concurrency, "concurrency", true, 0, LIMIT_CONCURRENCY, 0),
    PF_INT(S, users, "users", true, 0, LIMIT_USERS, 0),
    PF_F64(S, think_time_mean_s, "think_s", true, 0, LIMIT_THINK_TIME_S, 0),
    PF_F64(S, segment_from, "from", true, 0, 1, 0),
    PF_F64(S, segment_to, "to", true, 0, 1, 0),
    PF_I64(S, t0_ns, "t0", true, -PROTO_MAX_TIME_NS, PROTO_MAX_TIME_NS, 0),
    PF_I64(S, takeover_ns, "takeover", false, -PROTO_MAX_TIME_NS, PROTO_MAX_TIME_NS, 0),
};
#undef S

#define PROTO_MAX_TOKENS_VALUE LIMIT_MAX_TOKENS /* the cap of max_tokens, per prompt too */

/* The plan's fields but its per-prompt lists (prompt_max_tokens, classes, prompt_class)
   and conversations ("conv"), which depend on the prompts or are maps of their own.
   Optional keys let a worker take the plan of a coordinator that sends none. The
   encoder writes "balance" as "round_robin" when empty. */
#define S proto_plan_t
static const proto_field_t proto_plan_fields[] = {
    PF_STR_ARRAY(S, targets, target_count, "targets", true, PROTO_MAX_TARGETS,
                 PROTO_MAX_STRING_BYTES),
    PF_STR(S, model, "model", true, PROTO_MAX_STRING_BYTES),
    PF_STR(S, api, "api", true, 32),
    PF_BOOL(S, stream, "stream", true, true),
    PF_INT(S, max_tokens, "max_tokens", true, 0, PROTO_MAX_TOKENS_VALUE, 0),
    PF_BOOL(S, ignore_eos, "ignore_eos", true, false),
    PF_STR_ARRAY(S, prompts, prompt_count, "prompts", true, PROTO_MAX_PROMPTS,
                 PROTO_MAX_PROMPT_BYTES),
    PF_I64(S, interval_ms, "interval_ms", true, LIMIT_INTERVAL_MIN_MS, LIMIT_INTERVAL_MAX_MS, 1000),
    PF_I64(S, run_t0_ns, "run_t0", true, -PROTO_MAX_TIME_NS, PROTO_MAX_TIME_NS, 0),
    PF_BOOL(S, record_requests, "record", true, false),
    PF_I64(S, timeout_ms, "timeout_ms", true, 0, LIMIT_TIMEOUT_MS, 0),
    PF_INT(S, max_inflight, "max_inflight", true, 0, LIMIT_MAX_INFLIGHT, 0),
    PF_F64(S, slo_ttft_ms, "slo_ttft_ms", true, 0, 1e9, 0),
    PF_F64(S, slo_tpot_ms, "slo_tpot_ms", true, 0, 1e9, 0),
    PF_F64(S, slo_e2e_ms, "slo_e2e_ms", true, 0, 1e9, 0),
    PF_STR(S, extra_body_json, "extra_body", true, 65536),
    PF_STR(S, api_key_env, "api_key_env", true, 256),
    {.key = "api_key_file",
     .type = PROTO_FIELD_STR,
     .offset = offsetof(S, api_key_file),
     .omit_empty = true,
     .max = PROTO_MAX_STRING_BYTES},
    PF_STR_ARRAY(S, headers, header_count, "headers", false, PROTO_MAX_HEADERS,
                 PROTO_MAX_STRING_BYTES),
    PF_STR(S, balance, "balance", false, 32),
    PF_STR(S, capture_header, "capture_header", false, 256),
    PF_STR(S, ca_file, "ca_file", false, PROTO_MAX_STRING_BYTES),
    PF_BOOL(S, insecure_tls, "insecure_tls", false, false),
    PF_INT(S, max_connections_per_target, "max_conns_per_target", false, 0, 1 << 20, 0),
    PF_BOOL(S, connection_per_user, "conn_per_user", false, false),
    PF_BOOL(S, prewarm, "prewarm", false, false),
    PF_BOOL(S, preflight, "preflight", false, true),
};
#undef S

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

#endif
