/*  proto_encode.c: proto_msg_t -> msgpack (see proto.h, docs/protocol.md).

    Field names are short but readable. A msgpack map header carries its size, so every
    map's size is known before it is written: from its field table (proto_fields.h) plus
    the optional parts a table cannot describe, each counted where it is written.
*/
#include <msgpack.h>
#include <string.h>

#include "common/histogram.h"
#include "proto/proto.h"
#include "proto/proto_fields.h"

const char *proto_type_name(proto_type_t type)
{
    return (unsigned)type < PROTO_TYPE_COUNT ? proto_type_names[type] : "?";
}

static int write_to_buf(void *data, const char *bytes, size_t len)
{
    buf_append((buf_t *)data, bytes, len);
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text ? text : "", len);
}

static void kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    pack_str(pk, key);
    pack_str(pk, value);
}

static void kv_i64(msgpack_packer *pk, const char *key, int64_t value)
{
    pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

static void kv_u64(msgpack_packer *pk, const char *key, uint64_t value)
{
    pack_str(pk, key);
    msgpack_pack_uint64(pk, value);
}

static void kv_f64(msgpack_packer *pk, const char *key, double value)
{
    pack_str(pk, key);
    msgpack_pack_double(pk, value);
}

static void kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    pack_str(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void kv_str_array(msgpack_packer *pk, const char *key, char *const *items, int count)
{
    pack_str(pk, key);
    msgpack_pack_array(pk, (size_t)(count > 0 ? count : 0));
    for (int i = 0; i < count; i++)
        pack_str(pk, items[i]);
}

/* Writes every field of the table that is present in the struct at base. */
static void pack_fields(msgpack_packer *pk, const proto_field_t *fields, size_t n, const void *base)
{
    for (size_t i = 0; i < n; i++) {
        const proto_field_t *f = &fields[i];
        const char *at = (const char *)base + f->offset;
        if (!proto_field_present(f, base))
            continue;
        switch (f->type) {
        case PROTO_FIELD_INT:
            kv_i64(pk, f->key, *(const int *)at);
            break;
        case PROTO_FIELD_I64:
            kv_i64(pk, f->key, *(const int64_t *)at);
            break;
        case PROTO_FIELD_U64:
            kv_u64(pk, f->key, *(const uint64_t *)at);
            break;
        case PROTO_FIELD_F64:
            kv_f64(pk, f->key, *(const double *)at);
            break;
        case PROTO_FIELD_BOOL:
            kv_bool(pk, f->key, *(const bool *)at);
            break;
        case PROTO_FIELD_STR:
            kv_str(pk, f->key, *(const char *const *)at);
            break;
        case PROTO_FIELD_STR_ARRAY:
            kv_str_array(pk, f->key, *(char *const *const *)at,
                         *(const int *)((const char *)base + f->count_offset));
            break;
        case PROTO_FIELD_ENUM:
            kv_str(pk, f->key, f->enum_name(*(const int *)at));
            break;
        }
    }
}

#define PACK_FIELDS(pk, table, base) pack_fields(pk, table, PROTO_FIELD_COUNT(table), base)
#define FIELDS_PRESENT(table, base)  proto_fields_present(table, PROTO_FIELD_COUNT(table), base)

/* {"d": digits, "c": {counter: n}, "e": {class: n}, "h": {name: V2 bin}, "o": {name: n}}.
   Empty histograms, zero error classes and zero out-of-range counts are left out. */
static void pack_metrics(msgpack_packer *pk, const metrics_t *m, buf_t *scratch)
{
    size_t errors = 0, hists = 0, oor = 0;
    for (int i = 0; i < ERR_CLASS_COUNT; i++)
        errors += m->c.errors[i] != 0;
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        hists += hist_total_count(m->hist[i]) > 0;
        oor += hist_out_of_range(m->hist[i]) > 0;
    }
    msgpack_pack_map(pk, 5);
    kv_i64(pk, "d", hist_digits(m->hist[0]));

    pack_str(pk, "c");
    msgpack_pack_map(pk, PROTO_COUNTER_FIELD_COUNT);
    for (size_t i = 0; i < PROTO_COUNTER_FIELD_COUNT; i++) {
        const int64_t *value =
            (const int64_t *)((const char *)&m->c + proto_counter_fields[i].offset);
        kv_i64(pk, proto_counter_fields[i].name, *value);
    }

    pack_str(pk, "e");
    msgpack_pack_map(pk, errors);
    for (int i = 0; i < ERR_CLASS_COUNT; i++) {
        if (m->c.errors[i])
            kv_i64(pk, error_class_name((error_class_t)i), m->c.errors[i]);
    }

    pack_str(pk, "h");
    msgpack_pack_map(pk, hists);
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_total_count(m->hist[i]) == 0)
            continue;
        buf_clear(scratch);
        hist_encode_compressed(m->hist[i], scratch);
        pack_str(pk, metric_hist_name((metric_hist_t)i));
        msgpack_pack_bin(pk, scratch->len);
        msgpack_pack_bin_body(pk, scratch->data, scratch->len);
    }

    pack_str(pk, "o");
    msgpack_pack_map(pk, oor);
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_out_of_range(m->hist[i]))
            kv_i64(pk, metric_hist_name((metric_hist_t)i), hist_out_of_range(m->hist[i]));
    }
}

/* A map of its own under key: the fields of table, no others. */
static void pack_submap(msgpack_packer *pk, const char *key, const proto_field_t *fields, size_t n,
                        const void *base)
{
    pack_str(pk, key);
    msgpack_pack_map(pk, proto_fields_present(fields, n, base));
    pack_fields(pk, fields, n, base);
}

/* The plan's "conv" map (docs/protocol.md). */
static void pack_conversations(msgpack_packer *pk, const proto_conversations_t *c)
{
    pack_str(pk, "conv");
    msgpack_pack_map(pk, FIELDS_PRESENT(proto_conversations_fields, c) +
                             3 /* turns, think_ms, turn_counts */);
    pack_submap(pk, "turns", proto_turns_dist_fields, PROTO_FIELD_COUNT(proto_turns_dist_fields),
                &c->turns);
    pack_submap(pk, "think_ms", proto_think_dist_fields, PROTO_FIELD_COUNT(proto_think_dist_fields),
                &c->think_time_ms);
    PACK_FIELDS(pk, proto_conversations_fields, c);
    pack_str(pk, "turn_counts");
    msgpack_pack_array(pk, (size_t)c->conversation_count);
    for (int i = 0; i < c->conversation_count; i++)
        msgpack_pack_int(pk, c->turn_counts[i]);
}

/* A message whose table says it all. */
#define PACK_MESSAGE(pk, table, base)                                                              \
    do {                                                                                           \
        msgpack_pack_map(pk, PROTO_ENVELOPE_KEYS + FIELDS_PRESENT(table, base));                   \
        PACK_FIELDS(pk, table, base);                                                              \
    } while (0)

static void pack_body(msgpack_packer *pk, const proto_msg_t *msg)
{
    buf_t scratch;
    switch (msg->type) {
    case PROTO_HELLO:
        PACK_MESSAGE(pk, proto_hello_fields, &msg->u.hello);
        break;
    case PROTO_WELCOME:
        PACK_MESSAGE(pk, proto_welcome_fields, &msg->u.welcome);
        break;
    case PROTO_PLAN: {
        proto_plan_t p = msg->u.plan; /* borrowed pointers: a shallow copy to normalise */
        if (!p.balance || !*p.balance)
            p.balance = "round_robin";
        /* Optional: left out when the run has one max_tokens for all (older workers
           ignore it as an unknown key). */
        bool per_prompt = p.prompt_max_tokens && p.prompt_count > 0;
        bool classes = p.prompt_class && p.class_count > 0; /* optional: a workload mix */
        bool conversations = p.conversations != NULL;       /* optional: multi-turn */
        msgpack_pack_map(pk, PROTO_ENVELOPE_KEYS + FIELDS_PRESENT(proto_plan_fields, &p) +
                                 (per_prompt ? 1 : 0) + (classes ? 2 : 0) +
                                 (conversations ? 1 : 0));
        PACK_FIELDS(pk, proto_plan_fields, &p);
        if (per_prompt) {
            pack_str(pk, "prompt_max_tokens");
            msgpack_pack_array(pk, (size_t)p.prompt_count);
            for (int i = 0; i < p.prompt_count; i++)
                msgpack_pack_int(pk, p.prompt_max_tokens[i]);
        }
        if (classes) {
            kv_str_array(pk, "classes", p.classes, p.class_count);
            pack_str(pk, "prompt_class");
            msgpack_pack_array(pk, (size_t)p.prompt_count);
            for (int i = 0; i < p.prompt_count; i++)
                msgpack_pack_int(pk, p.prompt_class[i]);
        }
        if (conversations)
            pack_conversations(pk, p.conversations);
        break;
    }
    case PROTO_PHASE: {
        /* The phase's fields and its schedule's, side by side in one map. */
        const proto_phase_t *p = &msg->u.phase;
        msgpack_pack_map(pk, PROTO_ENVELOPE_KEYS + FIELDS_PRESENT(proto_phase_fields, p) +
                                 FIELDS_PRESENT(proto_schedule_fields, &p->schedule));
        PACK_FIELDS(pk, proto_phase_fields, p);
        PACK_FIELDS(pk, proto_schedule_fields, &p->schedule);
        break;
    }
    case PROTO_SNAPSHOT: {
        const proto_snapshot_t *s = &msg->u.snapshot;
        bool has_requests = s->requests_jsonl && s->requests_jsonl_len > 0;
        bool has_classes = s->per_class && s->class_count > 0;
        bool has_turns = s->per_turn && s->turn_count > 0;
        msgpack_pack_map(pk, PROTO_ENVELOPE_KEYS + FIELDS_PRESENT(proto_snapshot_fields, s) +
                                 2 /* total, targets */ + (has_requests ? 1 : 0) +
                                 (s->phase_count > 0 ? 1 : 0) + (has_classes ? 1 : 0) +
                                 (has_turns ? 1 : 0));
        PACK_FIELDS(pk, proto_snapshot_fields, s);
        buf_init(&scratch);
        pack_str(pk, "total");
        pack_metrics(pk, s->total, &scratch);
        pack_str(pk, "targets");
        msgpack_pack_array(pk, (size_t)(s->target_count > 0 ? s->target_count : 0));
        for (int i = 0; i < s->target_count; i++)
            pack_metrics(pk, s->per_target[i], &scratch);
        buf_free(&scratch);
        if (has_requests) {
            pack_str(pk, "requests");
            msgpack_pack_bin(pk, s->requests_jsonl_len);
            msgpack_pack_bin_body(pk, s->requests_jsonl, s->requests_jsonl_len);
        }
        if (s->phase_count > 0) {
            /* [{"p": index, "tail": n, "tail_ns": ns, "m": metrics}]; "m" only when the
               snapshot names more than one phase (else the total is the phase's). */
            pack_str(pk, "phases");
            msgpack_pack_array(pk, (size_t)s->phase_count);
            buf_init(&scratch);
            for (int i = 0; i < s->phase_count; i++) {
                const proto_phase_part_t *part = &s->phases[i];
                bool with_metrics = s->phase_count > 1 && part->metrics;
                msgpack_pack_map(pk, FIELDS_PRESENT(proto_phase_part_fields, part) +
                                         (with_metrics ? 1 : 0));
                PACK_FIELDS(pk, proto_phase_part_fields, part);
                if (with_metrics) {
                    pack_str(pk, "m");
                    pack_metrics(pk, part->metrics, &scratch);
                }
            }
            buf_free(&scratch);
        }
        if (has_classes) {
            /* [metrics], one per class of the plan, in its order (like "targets") */
            pack_str(pk, "classes");
            msgpack_pack_array(pk, (size_t)s->class_count);
            buf_init(&scratch);
            for (int i = 0; i < s->class_count; i++)
                pack_metrics(pk, s->per_class[i], &scratch);
            buf_free(&scratch);
        }
        if (has_turns) {
            /* [metrics], one per turn index from turn 1 (like "classes") */
            pack_str(pk, "turns");
            msgpack_pack_array(pk, (size_t)s->turn_count);
            buf_init(&scratch);
            for (int i = 0; i < s->turn_count; i++)
                pack_metrics(pk, s->per_turn[i], &scratch);
            buf_free(&scratch);
        }
        break;
    }
    case PROTO_ACK:
        PACK_MESSAGE(pk, proto_ack_fields, &msg->u.ack);
        break;
    case PROTO_HEARTBEAT: {
        /* "ready" only when said (a worker's; older coordinators ignore the key) */
        const proto_heartbeat_t *h = &msg->u.heartbeat;
        bool said = h->ready != PROTO_READY_UNSAID;
        msgpack_pack_map(pk,
                         PROTO_ENVELOPE_KEYS + FIELDS_PRESENT(proto_heartbeat_fields, h) + said);
        PACK_FIELDS(pk, proto_heartbeat_fields, h);
        if (said)
            kv_bool(pk, "ready", h->ready == PROTO_READY_YES);
        break;
    }
    case PROTO_STOP:
        PACK_MESSAGE(pk, proto_stop_fields, &msg->u.stop);
        break;
    case PROTO_CTL_REQUEST:
        PACK_MESSAGE(pk, proto_ctl_request_fields, &msg->u.ctl_request);
        break;
    case PROTO_CTL_REPLY:
        PACK_MESSAGE(pk, proto_ctl_reply_fields, &msg->u.ctl_reply);
        break;
    case PROTO_BYE:
    default: {
        proto_bye_t none = {0}; /* a type out of range says just "reason": "" */
        PACK_MESSAGE(pk, proto_bye_fields, msg->type == PROTO_BYE ? &msg->u.bye : &none);
        break;
    }
    }
}

void proto_encode_version(const proto_msg_t *msg, int version, buf_t *out)
{
    /* "v" and "t" come first so a reader can identify a message from its first bytes;
       pack_body writes the map header counting them, so we splice them in after it. */
    buf_t body;
    buf_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, write_to_buf);
    pack_body(&pk, msg);

    /* The body starts with a map header for (2 + n) entries; copy it, then v and t,
       then the rest. */
    size_t header_len = 1;
    unsigned char first = (unsigned char)body.data[0];
    if (first == 0xde)
        header_len = 3;
    else if (first == 0xdf)
        header_len = 5;
    buf_append(out, body.data, header_len);
    msgpack_packer_init(&pk, out, write_to_buf);
    kv_i64(&pk, "v", version);
    kv_str(&pk, "t", proto_type_name(msg->type));
    buf_append(out, body.data + header_len, body.len - header_len);
    buf_free(&body);
}

void proto_encode(const proto_msg_t *msg, buf_t *out)
{
    proto_encode_version(msg, PROTO_VERSION, out);
}
