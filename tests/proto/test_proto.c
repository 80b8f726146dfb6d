/*  test_proto.c: every wire message survives a round trip, and every class of bad input
    is refused with its reason (docs/protocol.md). */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/histogram.h"
#include "proto/proto.h"

static int decode_buf(proto_msg_t *msg, const buf_t *b, char *err, size_t err_size)
{
    return proto_decode(msg, b->data, b->len, err, err_size);
}

static int round_trip(const proto_msg_t *in, proto_msg_t *out)
{
    buf_t b;
    buf_init(&b);
    proto_encode(in, &b);
    char err[256];
    int rc = decode_buf(out, &b, err, sizeof err);
    if (rc != PROTO_OK)
        fprintf(stderr, "decode: %s\n", err);
    buf_free(&b);
    return rc;
}

static void test_hello_round_trips(void)
{
    char *allow[] = {"127.0.0.1", "*.cluster.local"};
    proto_msg_t in = {.type = PROTO_HELLO};
    in.u.hello = (proto_hello_t){"host:42", 3, "0.1.0", 8, 16, allow, 2};
    proto_msg_t out;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.type, PROTO_HELLO);
    CHECK_INT_EQ(out.version, PROTO_VERSION);
    CHECK_STR_EQ(out.u.hello.worker_id, "host:42");
    CHECK_INT_EQ(out.u.hello.incarnation, 3);
    CHECK_STR_EQ(out.u.hello.software, "0.1.0");
    CHECK_INT_EQ(out.u.hello.threads, 8);
    CHECK_INT_EQ(out.u.hello.capacity, 16);
    REQUIRE(out.u.hello.allow_count == 2);
    CHECK_STR_EQ(out.u.hello.allow[1], "*.cluster.local");
    proto_msg_clear(&out);
}

static void test_welcome_plan_phase_round_trip(void)
{
    proto_msg_t in = {.type = PROTO_WELCOME};
    in.u.welcome = (proto_welcome_t){false, "version 2 refused", "run-1", 250};
    proto_msg_t out;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(!out.u.welcome.accepted);
    CHECK_STR_EQ(out.u.welcome.reason, "version 2 refused");
    CHECK_STR_EQ(out.u.welcome.run_id, "run-1");
    CHECK_INT_EQ(out.u.welcome.heartbeat_ms, 250);
    proto_msg_clear(&out);

    char *targets[] = {"http://127.0.0.1:8000", "http://127.0.0.1:8001"};
    char *prompts[] = {"hello", "a longer prompt \xc3\xa9"};
    in = (proto_msg_t){.type = PROTO_PLAN};
    proto_plan_t *p = &in.u.plan;
    p->targets = targets;
    p->target_count = 2;
    p->model = "m";
    p->api = "completions";
    p->stream = true;
    p->max_tokens = 64;
    p->ignore_eos = true;
    p->prompts = prompts;
    p->prompt_count = 2;
    p->interval_ms = 500;
    p->run_t0_ns = -123456789;
    p->record_requests = true;
    p->timeout_ms = 30000;
    p->slo_ttft_ms = 500.5;
    p->extra_body_json = "{\"top_p\":1}";
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.plan.target_count, 2);
    CHECK_STR_EQ(out.u.plan.targets[1], "http://127.0.0.1:8001");
    CHECK_STR_EQ(out.u.plan.api, "completions");
    CHECK_STR_EQ(out.u.plan.prompts[1], prompts[1]);
    CHECK_INT_EQ(out.u.plan.run_t0_ns, -123456789);
    CHECK(out.u.plan.record_requests && out.u.plan.ignore_eos && out.u.plan.stream);
    CHECK(out.u.plan.slo_ttft_ms == 500.5);
    CHECK_STR_EQ(out.u.plan.extra_body_json, "{\"top_p\":1}");
    CHECK_STR_EQ(out.u.plan.api_key_env, "");
    proto_msg_clear(&out);

    in = (proto_msg_t){.type = PROTO_PHASE};
    in.u.phase = (proto_phase_t){.epoch = 7,
                                 .phase_index = 2,
                                 .name = "step-2",
                                 .load = PHASE_LOAD_RATE,
                                 .schedule = {.arrival = ARRIVAL_GAMMA,
                                              .gamma_shape = 0.5,
                                              .start_rate_per_s = 10,
                                              .end_rate_per_s = 20.25,
                                              .duration_ns = 60000000000LL,
                                              .seed = UINT64_MAX},
                                 .segment_from = 0.25,
                                 .segment_to = 0.75,
                                 .t0_ns = 5000000000LL,
                                 .takeover_ns = 7500000000LL};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.phase.epoch, 7);
    CHECK_STR_EQ(out.u.phase.name, "step-2");
    CHECK_INT_EQ(out.u.phase.schedule.arrival, ARRIVAL_GAMMA);
    CHECK(out.u.phase.schedule.start_rate_per_s == 10);
    CHECK(out.u.phase.schedule.end_rate_per_s == 20.25 && out.u.phase.schedule.gamma_shape == 0.5);
    CHECK(out.u.phase.schedule.seed == UINT64_MAX);
    CHECK(out.u.phase.segment_from == 0.25 && out.u.phase.segment_to == 0.75);
    CHECK_INT_EQ(out.u.phase.schedule.duration_ns, 60000000000LL);
    CHECK_INT_EQ(out.u.phase.t0_ns, 5000000000LL);
    CHECK_INT_EQ(out.u.phase.takeover_ns, 7500000000LL);
    proto_msg_clear(&out);
}

static void test_small_messages_round_trip(void)
{
    proto_msg_t in = {.type = PROTO_ACK}, out;
    in.u.ack.seq = 99;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.ack.seq, 99);
    proto_msg_clear(&out);

    in = (proto_msg_t){.type = PROTO_HEARTBEAT};
    in.u.heartbeat = (proto_heartbeat_t){-5, 1234567890123LL, 17, PROTO_READY_UNSAID};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.heartbeat.time_ns, -5);
    CHECK_INT_EQ(out.u.heartbeat.echo_ns, 1234567890123LL);
    CHECK_INT_EQ(out.u.heartbeat.hold_ns, 17);
    proto_msg_clear(&out);

    in = (proto_msg_t){.type = PROTO_STOP};
    in.u.stop = (proto_stop_t){4, true, "coordinator lost"};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(out.u.stop.abort);
    CHECK_INT_EQ(out.u.stop.epoch, 4);
    CHECK_STR_EQ(out.u.stop.reason, "coordinator lost");
    proto_msg_clear(&out);

    in = (proto_msg_t){.type = PROTO_BYE};
    in.u.bye.reason = NULL; /* NULL strings encode as "" */
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_STR_EQ(out.u.bye.reason, "");
    proto_msg_clear(&out);
}

static metrics_t *sample_metrics(int digits, int n, int64_t scale)
{
    metrics_t *m = metrics_new(digits);
    for (int i = 1; i <= n; i++) {
        metrics_record_us(m, METRIC_TTFT, i * scale);
        metrics_record_us(m, METRIC_E2E, i * scale * 10);
    }
    hist_record(m->hist[METRIC_ITL], HIST_DEFAULT_HIGHEST * 2); /* out of range */
    m->c.sent = n;
    m->c.ok = n - 2;
    metrics_count_error(m, ERR_HTTP_5XX);
    metrics_count_error(m, ERR_TIMEOUT);
    m->c.output_tokens = 1000;
    return m;
}

static bool metrics_equal(const metrics_t *a, const metrics_t *b)
{
    if (memcmp(&a->c, &b->c, sizeof a->c) != 0)
        return false;
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (hist_total_count(a->hist[i]) != hist_total_count(b->hist[i]) ||
            hist_out_of_range(a->hist[i]) != hist_out_of_range(b->hist[i]) ||
            hist_digits(a->hist[i]) != hist_digits(b->hist[i]))
            return false;
        for (double p = 0; p <= 100; p += 12.5) {
            if (hist_value_at_percentile(a->hist[i], p) != hist_value_at_percentile(b->hist[i], p))
                return false;
        }
    }
    return true;
}

static void test_snapshot_carries_metrics_exactly(void)
{
    metrics_t *total = sample_metrics(3, 500, 997);
    metrics_t *t0 = sample_metrics(2, 200, 1009);
    metrics_t *t1 = metrics_new(2);
    const metrics_t *per_target[] = {t0, t1};
    const char *lines = "{\"a\":1}\n{\"a\":2}\n";
    proto_msg_t in = {.type = PROTO_SNAPSHOT}, out;
    in.u.snapshot = (proto_snapshot_t){.seq = 12,
                                       .interval = 34,
                                       .worker_id = "w1",
                                       .epoch = 3,
                                       .inflight = 17,
                                       .total = total,
                                       .per_target = (metrics_t **)per_target,
                                       .target_count = 2,
                                       .requests_jsonl = (char *)lines,
                                       .requests_jsonl_len = strlen(lines)};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    const proto_snapshot_t *s = &out.u.snapshot;
    CHECK_INT_EQ(s->seq, 12);
    CHECK_INT_EQ(s->interval, 34);
    CHECK_STR_EQ(s->worker_id, "w1");
    CHECK_INT_EQ(s->inflight, 17);
    CHECK(metrics_equal(s->total, total));
    REQUIRE(s->target_count == 2);
    CHECK(metrics_equal(s->per_target[0], t0));
    CHECK(metrics_equal(s->per_target[1], t1));
    CHECK_INT_EQ(s->requests_jsonl_len, strlen(lines));
    CHECK_STR_EQ(s->requests_jsonl, lines);
    proto_msg_clear(&out);
    metrics_destroy(&total);
    metrics_destroy(&t0);
    metrics_destroy(&t1);
}

static void test_snapshot_carries_its_phase_parts(void)
{
    metrics_t *total = sample_metrics(3, 500, 997);
    metrics_t *a = sample_metrics(3, 300, 991), *b = sample_metrics(3, 200, 983);
    proto_phase_part_t parts[] = {
        {.phase_index = 4, .metrics = a, .tail_requests = 7, .tail_max_ns = 2500000000LL},
        {.phase_index = 5, .metrics = b}};
    proto_msg_t in = {.type = PROTO_SNAPSHOT}, out;
    in.u.snapshot = (proto_snapshot_t){.seq = 1,
                                       .interval = 2,
                                       .worker_id = "w",
                                       .total = total,
                                       .phases = parts,
                                       .phase_count = 2};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    const proto_snapshot_t *s = &out.u.snapshot;
    REQUIRE(s->phase_count == 2);
    CHECK_INT_EQ(s->phases[0].phase_index, 4);
    CHECK_INT_EQ(s->phases[0].tail_requests, 7);
    CHECK_INT_EQ(s->phases[0].tail_max_ns, 2500000000LL);
    CHECK(metrics_equal(s->phases[0].metrics, a));
    CHECK_INT_EQ(s->phases[1].phase_index, 5);
    CHECK(metrics_equal(s->phases[1].metrics, b));
    proto_msg_clear(&out);

    /* One phase travels without metrics: the total is that phase's. */
    in.u.snapshot.phase_count = 1;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    REQUIRE(out.u.snapshot.phase_count == 1);
    CHECK(out.u.snapshot.phases[0].metrics == NULL);
    CHECK_INT_EQ(out.u.snapshot.phases[0].tail_requests, 7);
    proto_msg_clear(&out);

    /* Several phases, one without its metrics: refused, naming the field. */
    parts[1].metrics = NULL;
    in.u.snapshot.phase_count = 2;
    buf_t bytes;
    buf_init(&bytes);
    proto_encode(&in, &bytes);
    char err[256];
    CHECK_INT_EQ(proto_decode(&out, bytes.data, bytes.len, err, sizeof err), PROTO_ERR_MISSING);
    CHECK(strstr(err, "phases[].m") != NULL);
    buf_free(&bytes);
    metrics_destroy(&total);
    metrics_destroy(&a);
    metrics_destroy(&b);
}

/* ---- rejections --------------------------------------------------------------- */

static int write_cb(void *data, const char *bytes, size_t len)
{
    buf_append((buf_t *)data, bytes, len);
    return 0;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* An ack map with v, t and the given extra pairs (key, value-kind). */
static int decode_ack_variant(const char *type, int version, const char *seq_kind, bool extra_key,
                              char *err, size_t err_size)
{
    buf_t b;
    buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, write_cb);
    msgpack_pack_map(&pk, 2 + (seq_kind ? 1 : 0) + (extra_key ? 1 : 0));
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, version);
    pk_str(&pk, "t");
    pk_str(&pk, type);
    if (extra_key) {
        pk_str(&pk, "from_the_future");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_nil(&pk);
    }
    if (seq_kind) {
        pk_str(&pk, "seq");
        if (strcmp(seq_kind, "int") == 0)
            msgpack_pack_uint64(&pk, 5);
        else if (strcmp(seq_kind, "str") == 0)
            pk_str(&pk, "5");
        else
            msgpack_pack_int(&pk, -5);
    }
    proto_msg_t msg;
    int rc = decode_buf(&msg, &b, err, err_size);
    proto_msg_clear(&msg);
    buf_free(&b);
    return rc;
}

/* A plan for 2 prompts encoded by proto_encode without `key`, then given that key with a
   value written by `pack` (appended: the map is the whole message). */
static int decode_plan_with_key(const char *key, void (*pack)(msgpack_packer *pk), proto_msg_t *out,
                                char *err, size_t err_size)
{
    char *targets[] = {"http://127.0.0.1:8000"};
    char *prompts[] = {"a", "b"};
    proto_msg_t in = {.type = PROTO_PLAN};
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = 2,
                               .interval_ms = 1000};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    if ((unsigned char)b.data[0] != 0xde) { /* map16: two bytes of count follow */
        check_fail(__FILE__, __LINE__, "plan map header 0x%02x", (unsigned char)b.data[0]);
        buf_free(&b);
        return -100;
    }
    unsigned count = ((unsigned char)b.data[1] << 8 | (unsigned char)b.data[2]) + 1;
    b.data[1] = (char)(count >> 8);
    b.data[2] = (char)(count & 0xff);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, write_cb);
    pk_str(&pk, key);
    pack(&pk);
    int rc = decode_buf(out, &b, err, err_size);
    buf_free(&b);
    return rc;
}

static int decode_plan_with(void (*pack)(msgpack_packer *pk), proto_msg_t *out, char *err,
                            size_t err_size)
{
    return decode_plan_with_key("prompt_max_tokens", pack, out, err, err_size);
}

static void pack_two_ints(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 128);
    msgpack_pack_int(pk, 0);
}

static void pack_three_ints(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_int(pk, 1);
}

static void pack_a_str_item(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    pk_str(pk, "64");
}

static void pack_a_negative_item(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, -1);
    msgpack_pack_int(pk, 1);
}

static void pack_a_huge_item(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int64(pk, 1LL << 40);
}

static void pack_not_an_array(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 64);
}

static void test_plan_carries_per_prompt_max_tokens_strictly(void)
{
    /* Through the encoder: the list travels, one int per prompt. */
    char *targets[] = {"http://127.0.0.1:8000"};
    char *prompts[] = {"short", "long", "default"};
    int per_prompt[] = {16, 4096, 0};
    proto_msg_t in = {.type = PROTO_PLAN}, out;
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .max_tokens = 256,
                               .prompts = prompts,
                               .prompt_count = 3,
                               .prompt_max_tokens = per_prompt,
                               .interval_ms = 1000};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    REQUIRE(out.u.plan.prompt_max_tokens != NULL);
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(out.u.plan.prompt_max_tokens[i], per_prompt[i]);
    CHECK_INT_EQ(out.u.plan.max_tokens, 256);
    proto_msg_clear(&out);
    /* Without the list (one max_tokens for all, or an older coordinator): NULL. */
    in.u.plan.prompt_max_tokens = NULL;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(out.u.plan.prompt_max_tokens == NULL);
    proto_msg_clear(&out);

    char err[256];
    CHECK_INT_EQ(decode_plan_with(pack_two_ints, &out, err, sizeof err), PROTO_OK);
    REQUIRE(out.u.plan.prompt_max_tokens != NULL);
    CHECK_INT_EQ(out.u.plan.prompt_max_tokens[0], 128);
    proto_msg_clear(&out);
    /* Strict: one entry per prompt, ints in [0, 2^24], an array. */
    CHECK_INT_EQ(decode_plan_with(pack_three_ints, &out, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "prompt_max_tokens: 3 entries for 2 prompts") != NULL);
    CHECK_INT_EQ(decode_plan_with(pack_a_str_item, &out, err, sizeof err), PROTO_ERR_WRONG_TYPE);
    CHECK(strstr(err, "prompt_max_tokens[1]") != NULL);
    CHECK_INT_EQ(decode_plan_with(pack_a_negative_item, &out, err, sizeof err),
                 PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "prompt_max_tokens[0]") != NULL);
    CHECK_INT_EQ(decode_plan_with(pack_a_huge_item, &out, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK_INT_EQ(decode_plan_with(pack_not_an_array, &out, err, sizeof err), PROTO_ERR_WRONG_TYPE);
    CHECK(out.u.plan.prompt_max_tokens == NULL); /* a refused message owns nothing */
}

static void test_plan_carries_headers_balance_connections_and_tls(void)
{
    char *targets[] = {"https://127.0.0.1:8443", "https://127.0.0.1:8444"};
    char *prompts[] = {"hi"};
    char *headers[] = {"X-Tenant: team-a", "X-Trace: 1"};
    proto_msg_t in = {.type = PROTO_PLAN}, out;
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 2,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = 1,
                               .interval_ms = 1000,
                               .headers = headers,
                               .header_count = 2,
                               .balance = "least_inflight",
                               .capture_header = "X-Pool",
                               .ca_file = "/etc/surge/ca.pem",
                               .insecure_tls = true,
                               .max_connections_per_target = 3,
                               .connection_per_user = true,
                               .prewarm = true};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.plan.header_count, 2);
    CHECK_STR_EQ(out.u.plan.headers[1], "X-Trace: 1");
    CHECK_STR_EQ(out.u.plan.balance, "least_inflight");
    CHECK_STR_EQ(out.u.plan.capture_header, "X-Pool");
    CHECK_STR_EQ(out.u.plan.ca_file, "/etc/surge/ca.pem");
    CHECK(out.u.plan.insecure_tls && out.u.plan.connection_per_user && out.u.plan.prewarm);
    CHECK_INT_EQ(out.u.plan.max_connections_per_target, 3);
    proto_msg_clear(&out);

    /* A plan that sets none of them: the engine's defaults. */
    char err[256];
    CHECK_INT_EQ(decode_plan_with(pack_two_ints, &out, err, sizeof err), PROTO_OK);
    CHECK_INT_EQ(out.u.plan.header_count, 0);
    CHECK_STR_EQ(out.u.plan.balance, "round_robin");
    CHECK_STR_EQ(out.u.plan.capture_header, "");
    CHECK_STR_EQ(out.u.plan.ca_file, "");
    CHECK(!out.u.plan.insecure_tls && !out.u.plan.prewarm && !out.u.plan.connection_per_user);
    proto_msg_clear(&out);

    /* A header line that would smuggle another header, a policy we do not know. */
    buf_t b;
    char *smuggling[] = {"X-A: 1\r\nX-Admin: yes"};
    in.u.plan.headers = smuggling;
    in.u.plan.header_count = 1;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "headers") != NULL);
    buf_free(&b);
    in.u.plan.headers = headers;
    in.u.plan.balance = "fastest";
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "balance") != NULL);
    buf_free(&b);
}

static void pack_two_class_names(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_str(pk, "short");
    pk_str(pk, "long");
}

static void test_plan_carries_prompt_classes_strictly(void)
{
    char *targets[] = {"http://127.0.0.1:8000"};
    char *prompts[] = {"a", "b", "c"};
    char *classes[] = {"short", "long"};
    int prompt_class[] = {1, 0, 1};
    proto_msg_t in = {.type = PROTO_PLAN}, out;
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = 3,
                               .prompt_class = prompt_class,
                               .classes = classes,
                               .class_count = 2,
                               .interval_ms = 1000};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    REQUIRE(out.u.plan.prompt_class != NULL);
    REQUIRE(out.u.plan.class_count == 2);
    CHECK_STR_EQ(out.u.plan.classes[0], "short");
    CHECK_STR_EQ(out.u.plan.classes[1], "long");
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(out.u.plan.prompt_class[i], prompt_class[i]);
    proto_msg_clear(&out);
    /* Without classes (an older coordinator): none, and no per-class metrics. */
    in.u.plan.prompt_class = NULL;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(out.u.plan.prompt_class == NULL && out.u.plan.classes == NULL);
    CHECK_INT_EQ(out.u.plan.class_count, 0);
    proto_msg_clear(&out);

    /* Strict: a class index outside the names, more classes than the cap, names without
       the prompts' classes. */
    char err[256];
    buf_t b;
    int outside[] = {0, 2, 1};
    in.u.plan.prompt_class = outside;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "prompt_class[1]: outside [0, 2)") != NULL);
    CHECK(out.u.plan.prompt_class == NULL && out.u.plan.classes == NULL);
    buf_free(&b);

    char *many[PROTO_MAX_CLASSES + 1];
    for (int i = 0; i <= PROTO_MAX_CLASSES; i++)
        many[i] = "c";
    in.u.plan.prompt_class = prompt_class;
    in.u.plan.classes = many;
    in.u.plan.class_count = PROTO_MAX_CLASSES + 1;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);
    CHECK(strstr(err, "classes") != NULL);
    buf_free(&b);

    CHECK_INT_EQ(decode_plan_with_key("classes", pack_two_class_names, &out, err, sizeof err),
                 PROTO_ERR_MISSING);
    CHECK(strstr(err, "prompt_class") != NULL);
    CHECK_INT_EQ(decode_plan_with_key("prompt_class", pack_two_ints, &out, err, sizeof err),
                 PROTO_ERR_MISSING);
    CHECK(strstr(err, "classes") != NULL);
}

/* Conversations (issue 20): the plan's "conv" carries the turn and think-time
   distributions, the shared texts, the affinity and a dataset's conversations exactly;
   absent, a plan has none; and every cap and inconsistency is refused naming the field. */
static void test_plan_carries_conversations_and_refuses_what_breaks_their_caps(void)
{
    char *targets[] = {"http://127.0.0.1:8000"};
    char *prompts[] = {"a"};
    char *texts[] = {"first of one", "second of one", "only of two"};
    int counts[] = {2, 1};
    proto_conversations_t conv = {
        .turns = {.kind = DIST_UNIFORM, .min = 2, .max = 8},
        .think_time_ms = {.kind = DIST_NORMAL, .mean = 5000, .stddev = 1000, .max = 9000},
        .system_prompt = "You are terse.",
        .shared_prefix = "A shared document.",
        .shared_prefix_fraction = 0.5,
        .affinity = PROTO_AFFINITY_NONE,
        .context_tokens = 768,
        .chars_per_token = 3.5,
        .turn_counts = counts,
        .conversation_count = 2,
        .turn_texts = texts,
        .turn_text_count = 3};
    proto_msg_t in = {.type = PROTO_PLAN}, out;
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = 1,
                               .interval_ms = 1000,
                               .conversations = &conv};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    const proto_conversations_t *c = out.u.plan.conversations;
    REQUIRE(c != NULL);
    CHECK(c->turns.kind == DIST_UNIFORM && c->turns.min == 2 && c->turns.max == 8);
    CHECK(c->think_time_ms.kind == DIST_NORMAL && c->think_time_ms.mean == 5000 &&
          c->think_time_ms.stddev == 1000 && c->think_time_ms.max == 9000);
    CHECK_STR_EQ(c->system_prompt, "You are terse.");
    CHECK_STR_EQ(c->shared_prefix, "A shared document.");
    CHECK(c->shared_prefix_fraction == 0.5);
    CHECK(c->affinity == PROTO_AFFINITY_NONE);
    CHECK_INT_EQ(c->context_tokens, 768);
    CHECK(c->chars_per_token == 3.5);
    REQUIRE(c->conversation_count == 2 && c->turn_text_count == 3);
    CHECK_INT_EQ(c->turn_counts[0], 2);
    CHECK_INT_EQ(c->turn_counts[1], 1);
    for (int i = 0; i < 3; i++)
        CHECK_STR_EQ(c->turn_texts[i], texts[i]);
    proto_msg_clear(&out);

    /* absent: single turns */
    in.u.plan.conversations = NULL;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(out.u.plan.conversations == NULL);
    proto_msg_clear(&out);
    in.u.plan.conversations = &conv;

    char err[256];
    buf_t b;
    struct {
        const char *what;
        int rc;
    } cases[] = {
        {"conv.turns.max: 65 outside [0, 64]", PROTO_ERR_BAD_VALUE},
        {"field mean: 65 outside [0, 64]", PROTO_ERR_BAD_VALUE},
        {"conv.think_ms.max: 600001 outside [0, 600000]", PROTO_ERR_BAD_VALUE},
        {"conv.turn_counts: 4 turns in all, but 3 turn_texts", PROTO_ERR_BAD_VALUE},
        {"conv.turn_counts[0]: outside [1, 64]", PROTO_ERR_BAD_VALUE},
        {"conv.prefix_frac: 0.5 without a prefix", PROTO_ERR_BAD_VALUE},
        {"conv.affinity", PROTO_ERR_BAD_VALUE},
        {"turn_texts", PROTO_ERR_OVERSIZE},
        {"conv.turns: needs 1 <= min <= max <= 64", PROTO_ERR_BAD_VALUE},
        {"conv.turn_texts: 9437175 bytes (cap 8388608)", PROTO_ERR_OVERSIZE},
    };
    char *mib = malloc(1 << 20);
    REQUIRE(mib != NULL);
    memset(mib, 'x', 1 << 20);
    mib[(1 << 20) - 1] = '\0';
    char *nine[9];
    for (int i = 0; i < 9; i++)
        nine[i] = mib;
    static char *many[PROTO_MAX_TURN_TEXTS + 1];
    for (int i = 0; i <= PROTO_MAX_TURN_TEXTS; i++)
        many[i] = "t";
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        proto_conversations_t bad = conv;
        int bad_counts[] = {2, 1};
        bad.turn_counts = bad_counts;
        /* clang-format off */
        switch (k) {
        case 0: bad.turns.max = PROTO_MAX_TURNS + 1; break;
        case 1: bad.turns = (dist_t){.kind = DIST_FIXED, .mean = 65}; break;
        case 2: bad.think_time_ms.max = PROTO_MAX_THINK_MS + 1; break;
        case 3: bad_counts[0] = 3; break;
        case 4: bad_counts[0] = 0; break;
        case 5: bad.shared_prefix = ""; break;
        case 6: bad.affinity = (proto_affinity_t)7; break;
        case 7: bad.turn_texts = many; bad.turn_text_count = PROTO_MAX_TURN_TEXTS + 1; break;
        case 8: bad.turns = (dist_t){.kind = DIST_UNIFORM, .min = 5, .max = 2}; break;
        case 9: bad_counts[0] = 9; bad.conversation_count = 1; bad.turn_texts = nine;
                bad.turn_text_count = 9; break;
        }
        /* clang-format on */
        in.u.plan.conversations = &bad;
        buf_init(&b);
        proto_encode(&in, &b);
        CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), cases[k].rc);
        CHECK_MSG(strstr(err, cases[k].what) != NULL, "case %d: %s", k, err);
        CHECK(out.u.plan.conversations == NULL);
        buf_free(&b);
    }
    free(mib);
}

static void test_snapshot_carries_per_class_metrics_and_refuses_too_many(void)
{
    metrics_t *total = sample_metrics(3, 300, 997);
    metrics_t *c0 = sample_metrics(2, 100, 1009);
    metrics_t *c1 = sample_metrics(2, 200, 4001);
    metrics_t *per_class[PROTO_MAX_CLASSES + 1];
    for (int i = 0; i <= PROTO_MAX_CLASSES; i++)
        per_class[i] = i == 0 ? c0 : c1;
    proto_msg_t in = {.type = PROTO_SNAPSHOT}, out;
    in.u.snapshot = (proto_snapshot_t){.seq = 1,
                                       .interval = 2,
                                       .worker_id = "w1",
                                       .total = total,
                                       .per_class = per_class,
                                       .class_count = 2};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    REQUIRE(out.u.snapshot.class_count == 2);
    CHECK(metrics_equal(out.u.snapshot.per_class[0], c0));
    CHECK(metrics_equal(out.u.snapshot.per_class[1], c1));
    proto_msg_clear(&out);
    /* Absent: a plan without classes. */
    in.u.snapshot.class_count = 0;
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK_INT_EQ(out.u.snapshot.class_count, 0);
    CHECK(out.u.snapshot.per_class == NULL);
    proto_msg_clear(&out);

    in.u.snapshot.class_count = PROTO_MAX_CLASSES + 1;
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    char err[256];
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);
    CHECK(strstr(err, "classes") != NULL);
    CHECK(out.u.snapshot.per_class == NULL);
    buf_free(&b);
    metrics_destroy(&total);
    metrics_destroy(&c0);
    metrics_destroy(&c1);
}

/* Conversations: a snapshot's per-turn metrics (3 digits, like the total) travel exactly;
   more buckets than PROTO_MAX_TURN_BUCKETS, or another layout, are refused. */
static void test_snapshot_carries_per_turn_metrics_and_refuses_too_many(void)
{
    metrics_t *total = sample_metrics(3, 300, 997);
    metrics_t *t1 = sample_metrics(3, 100, 1009);
    metrics_t *t2 = sample_metrics(3, 200, 4001);
    metrics_t *two_digits = sample_metrics(2, 50, 7);
    metrics_t *per_turn[PROTO_MAX_TURN_BUCKETS + 1];
    for (int i = 0; i <= PROTO_MAX_TURN_BUCKETS; i++)
        per_turn[i] = i == 0 ? t1 : t2;
    proto_msg_t in = {.type = PROTO_SNAPSHOT}, out;
    in.u.snapshot = (proto_snapshot_t){.seq = 1,
                                       .interval = 2,
                                       .worker_id = "w1",
                                       .total = total,
                                       .per_turn = per_turn,
                                       .turn_count = 2};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    REQUIRE(out.u.snapshot.turn_count == 2);
    CHECK(metrics_equal(out.u.snapshot.per_turn[0], t1));
    CHECK(metrics_equal(out.u.snapshot.per_turn[1], t2));
    CHECK_INT_EQ(out.u.snapshot.class_count, 0);
    proto_msg_clear(&out);

    char err[256];
    buf_t b;
    in.u.snapshot.turn_count = PROTO_MAX_TURN_BUCKETS + 1;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);
    CHECK(strstr(err, "turns") != NULL);
    CHECK(out.u.snapshot.per_turn == NULL);
    buf_free(&b);
    per_turn[0] = two_digits;
    in.u.snapshot.turn_count = 1;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK_MSG(strstr(err, "turns[].d") != NULL, "%s", err);
    buf_free(&b);
    metrics_destroy(&total);
    metrics_destroy(&t1);
    metrics_destroy(&t2);
    metrics_destroy(&two_digits);
}

static void test_unknown_keys_are_ignored(void)
{
    char err[256];
    CHECK_INT_EQ(decode_ack_variant("ack", PROTO_VERSION, "int", true, err, sizeof err), PROTO_OK);
}

static void test_wrong_field_type_is_refused_naming_the_field(void)
{
    char err[256];
    CHECK_INT_EQ(decode_ack_variant("ack", PROTO_VERSION, "str", false, err, sizeof err),
                 PROTO_ERR_WRONG_TYPE);
    CHECK(strstr(err, "seq") != NULL);
    CHECK_INT_EQ(decode_ack_variant("ack", PROTO_VERSION, "neg", false, err, sizeof err),
                 PROTO_ERR_BAD_VALUE);
}

static void test_missing_field_is_refused_naming_the_field(void)
{
    char err[256];
    CHECK_INT_EQ(decode_ack_variant("ack", PROTO_VERSION, NULL, false, err, sizeof err),
                 PROTO_ERR_MISSING);
    CHECK(strstr(err, "seq") != NULL);
}

static void test_unknown_type_is_refused(void)
{
    char err[256];
    CHECK_INT_EQ(
        decode_ack_variant("launch_missiles", PROTO_VERSION, "int", false, err, sizeof err),
        PROTO_ERR_UNKNOWN_TYPE);
    CHECK(strstr(err, "launch_missiles") != NULL);
}

static void test_other_version_is_refused_and_reported(void)
{
    char err[256];
    CHECK_INT_EQ(decode_ack_variant("ack", PROTO_VERSION + 1, "int", false, err, sizeof err),
                 PROTO_ERR_VERSION);
    /* The version is kept so the coordinator can name it in its refusal. */
    proto_msg_t in = {.type = PROTO_HELLO}, out;
    in.u.hello = (proto_hello_t){"w", 1, "9.9", 1, 1, NULL, 0};
    buf_t b;
    buf_init(&b);
    proto_encode_version(&in, 99, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_VERSION);
    CHECK_INT_EQ(out.version, 99);
    CHECK_INT_EQ(out.type, PROTO_HELLO);
    CHECK(strstr(err, "99") != NULL);
    proto_msg_clear(&out);
    buf_free(&b);
}

static void test_truncated_and_trailing_bytes_are_refused(void)
{
    proto_msg_t in = {.type = PROTO_HEARTBEAT}, out;
    in.u.heartbeat = (proto_heartbeat_t){1, 2, 3, PROTO_READY_UNSAID};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    char err[256];
    for (size_t cut = 0; cut < b.len; cut++) {
        int rc = proto_decode(&out, b.data, cut, err, sizeof err);
        CHECK_MSG(rc == PROTO_ERR_MALFORMED, "cut at %zu: %d", cut, rc);
        proto_msg_clear(&out);
    }
    buf_append(&b, "\x01", 1);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_MALFORMED);
    CHECK(strstr(err, "trailing") != NULL);
    buf_free(&b);
}

static void test_not_a_map_and_garbage_are_refused(void)
{
    proto_msg_t out;
    char err[256];
    CHECK_INT_EQ(proto_decode(&out, "\x93\x01\x02\x03", 4, err, sizeof err), PROTO_ERR_NOT_MAP);
    CHECK_INT_EQ(proto_decode(&out, "GET / HTTP/1.1\r\n", 16, err, sizeof err),
                 PROTO_ERR_MALFORMED);
    CHECK_INT_EQ(proto_decode(&out, "\xc1", 1, err, sizeof err), PROTO_ERR_MALFORMED);
    /* An array claiming 4 billion elements in 5 bytes: refused before any allocation. */
    CHECK_INT_EQ(proto_decode(&out, "\xdd\xff\xff\xff\xff", 5, err, sizeof err),
                 PROTO_ERR_MALFORMED);
    /* Nesting deeper than any message needs. */
    char deep[64];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    CHECK_INT_EQ(proto_decode(&out, deep, sizeof deep, err, sizeof err), PROTO_ERR_MALFORMED);
    CHECK(strstr(err, "nesting") != NULL);
    CHECK_INT_EQ(proto_decode(&out, "", 0, err, sizeof err), PROTO_ERR_MALFORMED);
}

static void test_oversize_values_are_refused(void)
{
    char err[256];
    proto_msg_t out;
    /* A worker id over PROTO_MAX_STRING_BYTES. */
    char *id = malloc(PROTO_MAX_STRING_BYTES + 2);
    memset(id, 'x', PROTO_MAX_STRING_BYTES + 1);
    id[PROTO_MAX_STRING_BYTES + 1] = '\0';
    proto_msg_t in = {.type = PROTO_HELLO};
    in.u.hello = (proto_hello_t){id, 1, "0.1.0", 1, 1, NULL, 0};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);
    CHECK(strstr(err, "id") != NULL);
    free(id);

    /* A map with more keys than any message has. */
    buf_clear(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, write_cb);
    msgpack_pack_map(&pk, PROTO_MAX_MAP_KEYS + 1);
    for (int i = 0; i <= PROTO_MAX_MAP_KEYS; i++) {
        msgpack_pack_int(&pk, i);
        msgpack_pack_nil(&pk);
    }
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);

    /* A message above PROTO_MAX_MESSAGE_BYTES is refused unread. */
    CHECK_INT_EQ(proto_decode(&out, b.data, (size_t)PROTO_MAX_MESSAGE_BYTES + 1, err, sizeof err),
                 PROTO_ERR_OVERSIZE);
    buf_free(&b);
}

static void test_bad_values_are_refused(void)
{
    char err[256];
    proto_msg_t in = {.type = PROTO_PHASE}, out;
    in.u.phase = (proto_phase_t){.epoch = 1,
                                 .name = "p",
                                 .segment_from = 0.75,
                                 .segment_to = 0.25,
                                 .schedule.duration_ns = 1};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "segment") != NULL);

    /* A histogram that is not V2. */
    buf_clear(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, write_cb);
    msgpack_pack_map(&pk, 9);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, PROTO_VERSION);
    pk_str(&pk, "t");
    pk_str(&pk, "snapshot");
    pk_str(&pk, "seq");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "interval");
    msgpack_pack_int(&pk, 0);
    pk_str(&pk, "id");
    pk_str(&pk, "w");
    pk_str(&pk, "epoch");
    msgpack_pack_int(&pk, 0);
    pk_str(&pk, "inflight");
    msgpack_pack_int(&pk, 0);
    pk_str(&pk, "targets");
    msgpack_pack_array(&pk, 0);
    pk_str(&pk, "total");
    msgpack_pack_map(&pk, 4);
    pk_str(&pk, "d");
    msgpack_pack_int(&pk, 3);
    pk_str(&pk, "c");
    msgpack_pack_map(&pk, 0);
    pk_str(&pk, "e");
    msgpack_pack_map(&pk, 0);
    pk_str(&pk, "h");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "ttft");
    msgpack_pack_bin(&pk, 8);
    msgpack_pack_bin_body(&pk, "notahist", 8);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "ttft") != NULL);
    buf_free(&b);
}

/* Issue 18: what a peer may claim is bounded before it costs anything. */
static void test_hello_capacity_above_the_cap_is_refused(void)
{
    proto_msg_t in = {.type = PROTO_HELLO}, out;
    in.u.hello = (proto_hello_t){"stranger", 1, "x", 1, PROTO_MAX_CAPACITY, NULL, 0};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    proto_msg_clear(&out);
    in.u.hello.capacity = PROTO_MAX_CAPACITY + 1;
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    char err[256];
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "capacity") != NULL);
    buf_free(&b);
}

static void test_snapshot_layouts_other_than_the_workers_are_refused(void)
{
    char err[256];
    proto_msg_t in = {.type = PROTO_SNAPSHOT}, out;
    metrics_t *five = metrics_new(5); /* 2.1 M counters per histogram if decoded */
    metrics_record_us(five, METRIC_E2E, 1);
    metrics_record_us(five, METRIC_E2E, HIST_DEFAULT_HIGHEST);
    in.u.snapshot = (proto_snapshot_t){.seq = 1, .worker_id = "w", .total = five};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK(strstr(err, "total.d") != NULL);
    /* A total of 2 digits, or a per-target breakdown of 3: not what a worker sends. */
    metrics_t *two = metrics_new(2), *three = metrics_new(3);
    in.u.snapshot.total = two;
    buf_clear(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    metrics_t *targets[] = {three};
    in.u.snapshot.total = three;
    in.u.snapshot.per_target = targets;
    in.u.snapshot.target_count = 1;
    buf_clear(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    /* The envelope alone is readable without decoding the histograms. */
    proto_type_t type;
    CHECK_INT_EQ(proto_peek_type(b.data, b.len, &type), PROTO_OK);
    CHECK_INT_EQ(type, PROTO_SNAPSHOT);
    CHECK_INT_EQ(proto_peek_type("\x81\xa1t\xa5hello", 9, &type), PROTO_ERR_MISSING);
    buf_free(&b);
    metrics_destroy(&five);
    metrics_destroy(&two);
    metrics_destroy(&three);
}

static void test_a_plan_whose_bodies_repeat_too_much_is_refused(void)
{
    char *targets[] = {"http://127.0.0.1:1"};
    int n = 12000;
    char **prompts = calloc((size_t)n, sizeof *prompts);
    for (int i = 0; i < n; i++)
        prompts[i] = "";
    size_t pad = 60 << 10;
    char *extra = malloc(pad + 16);
    memset(extra, ' ', pad + 15);
    extra[0] = '{';
    extra[pad + 14] = '}';
    extra[pad + 15] = '\0';
    proto_msg_t in = {.type = PROTO_PLAN}, out;
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = n,
                               .interval_ms = 1000,
                               .extra_body_json = extra,
                               .api_key_env = ""};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    char err[256];
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_OVERSIZE);
    CHECK(strstr(err, "request bodies") != NULL);
    in.u.plan.prompt_count = 100; /* 6 MiB of bodies: fine */
    CHECK_INT_EQ(round_trip(&in, &out), PROTO_OK);
    proto_msg_clear(&out);
    buf_free(&b);
    free(extra);
    free(prompts);
}

/* Issue 17: a worker says whether it is ready and why it cannot run a plan; absent keys
   (an older peer, a coordinator's heartbeat) read as "not said" and "not failed", and a
   plan without "preflight" asks for one. */
static void test_readiness_refusal_and_preflight_travel_and_default_when_absent(void)
{
    proto_msg_t in = {.type = PROTO_HEARTBEAT}, out;
    int states[] = {PROTO_READY_UNSAID, PROTO_READY_NOT_YET, PROTO_READY_YES};
    for (int i = 0; i < 3; i++) {
        in.u.heartbeat = (proto_heartbeat_t){1, 2, 3, states[i]};
        REQUIRE(round_trip(&in, &out) == PROTO_OK);
        CHECK_INT_EQ(out.u.heartbeat.ready, states[i]);
        proto_msg_clear(&out);
    }

    in = (proto_msg_t){.type = PROTO_BYE};
    in.u.bye = (proto_bye_t){"preflight: target 0 http://x: HTTP 404", true};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(out.u.bye.failed);
    CHECK_STR_EQ(out.u.bye.reason, "preflight: target 0 http://x: HTTP 404");
    proto_msg_clear(&out);
    in.u.bye = (proto_bye_t){"run complete", false};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(!out.u.bye.failed);
    proto_msg_clear(&out);

    char *targets[] = {"http://127.0.0.1:8000"};
    char *prompts[] = {"hi"};
    in = (proto_msg_t){.type = PROTO_PLAN};
    in.u.plan = (proto_plan_t){.targets = targets,
                               .target_count = 1,
                               .model = "m",
                               .api = "chat",
                               .prompts = prompts,
                               .prompt_count = 1,
                               .interval_ms = 1000,
                               .preflight = false};
    REQUIRE(round_trip(&in, &out) == PROTO_OK);
    CHECK(!out.u.plan.preflight);
    proto_msg_clear(&out);

    /* A plan from an encoder that knows no "preflight": remove the key by hand. */
    buf_t b;
    buf_init(&b);
    in.u.plan.preflight = true;
    proto_encode(&in, &b);
    const char key[] = "\xa9preflight\xc3"; /* fixstr "preflight", true */
    char *at = memmem(b.data, b.len, key, sizeof key - 1);
    REQUIRE(at != NULL);
    memmove(at, at + sizeof key - 1, b.len - (size_t)(at - b.data) - (sizeof key - 1));
    b.len -= sizeof key - 1;
    REQUIRE((unsigned char)b.data[0] == 0xde); /* map16: one key fewer */
    b.data[2] = (char)((unsigned char)b.data[2] - 1);
    char err[256];
    REQUIRE(proto_decode(&out, b.data, b.len, err, sizeof err) == PROTO_OK);
    CHECK(out.u.plan.preflight);
    proto_msg_clear(&out);
    buf_free(&b);
}

/* The encoding of in with its top-level key `drop` left out (the map re-packed). */
static void encode_without(const proto_msg_t *in, const char *drop, buf_t *out)
{
    buf_t b;
    buf_init(&b);
    proto_encode(in, &b);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    REQUIRE(msgpack_unpack_next(&u, b.data, b.len, &off) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_map *map = &u.data.via.map;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_cb);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < map->size; i++)
        kept += !(map->ptr[i].key.via.str.size == strlen(drop) &&
                  memcmp(map->ptr[i].key.via.str.ptr, drop, strlen(drop)) == 0);
    msgpack_pack_map(&pk, kept);
    for (uint32_t i = 0; i < map->size; i++) {
        if (map->ptr[i].key.via.str.size == strlen(drop) &&
            memcmp(map->ptr[i].key.via.str.ptr, drop, strlen(drop)) == 0)
            continue;
        msgpack_pack_object(&pk, map->ptr[i].key);
        msgpack_pack_object(&pk, map->ptr[i].val);
    }
    msgpack_unpacked_destroy(&u);
    buf_free(&b);
}

/* The phase and its schedule travel through field tables: every key is still required
   (the refusal names it), but "takeover", which defaults to "t0". */
static void test_every_phase_key_but_takeover_is_required(void)
{
    proto_msg_t in = {.type = PROTO_PHASE}, out;
    in.u.phase = (proto_phase_t){.epoch = 3,
                                 .phase_index = 1,
                                 .name = "ramp",
                                 .load = PHASE_LOAD_USERS,
                                 .schedule = {.arrival = ARRIVAL_POISSON,
                                              .gamma_shape = 1,
                                              .start_rate_per_s = 1,
                                              .end_rate_per_s = 2,
                                              .duration_ns = 1000,
                                              .seed = 9},
                                 .users = 4,
                                 .segment_to = 1,
                                 .t0_ns = 77,
                                 .takeover_ns = 99};
    const char *keys[] = {"epoch", "index", "name",        "load",  "arrival", "gamma_shape",
                          "rate0", "rate1", "seed",        "users", "think_s", "concurrency",
                          "from",  "to",    "duration_ns", "t0"};
    char err[256];
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        buf_t b;
        buf_init(&b);
        encode_without(&in, keys[k], &b);
        CHECK_MSG(decode_buf(&out, &b, err, sizeof err) == PROTO_ERR_MISSING, "%s", keys[k]);
        CHECK_MSG(strstr(err, keys[k]) != NULL, "%s: %s", keys[k], err);
        buf_free(&b);
    }
    buf_t b;
    buf_init(&b);
    encode_without(&in, "takeover", &b);
    REQUIRE(decode_buf(&out, &b, err, sizeof err) == PROTO_OK);
    CHECK_INT_EQ(out.u.phase.takeover_ns, 77);
    CHECK_INT_EQ(out.u.phase.load, PHASE_LOAD_USERS);
    CHECK_INT_EQ(out.u.phase.schedule.arrival, ARRIVAL_POISSON);
    CHECK_INT_EQ(out.u.phase.schedule.seed, 9);
    proto_msg_clear(&out);
    buf_free(&b);

    /* an unknown load is refused naming the field and what it may be */
    in.u.phase.load = (phase_load_t)7;
    buf_init(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(decode_buf(&out, &b, err, sizeof err), PROTO_ERR_BAD_VALUE);
    CHECK_MSG(strstr(err, "field load: unknown '?' (rate, concurrency, users)") != NULL, "%s", err);
    buf_free(&b);
}

CHECK_MAIN(test_hello_round_trips, test_welcome_plan_phase_round_trip,
           test_plan_carries_conversations_and_refuses_what_breaks_their_caps,
           test_snapshot_carries_per_turn_metrics_and_refuses_too_many,
           test_small_messages_round_trip, test_snapshot_carries_metrics_exactly,
           test_snapshot_carries_its_phase_parts, test_unknown_keys_are_ignored,
           test_wrong_field_type_is_refused_naming_the_field,
           test_missing_field_is_refused_naming_the_field, test_unknown_type_is_refused,
           test_other_version_is_refused_and_reported,
           test_truncated_and_trailing_bytes_are_refused, test_not_a_map_and_garbage_are_refused,
           test_oversize_values_are_refused, test_bad_values_are_refused,
           test_plan_carries_per_prompt_max_tokens_strictly,
           test_plan_carries_headers_balance_connections_and_tls,
           test_hello_capacity_above_the_cap_is_refused,
           test_snapshot_layouts_other_than_the_workers_are_refused,
           test_a_plan_whose_bodies_repeat_too_much_is_refused,
           test_plan_carries_prompt_classes_strictly,
           test_snapshot_carries_per_class_metrics_and_refuses_too_many,
           test_readiness_refusal_and_preflight_travel_and_default_when_absent,
           test_every_phase_key_but_takeover_is_required)
