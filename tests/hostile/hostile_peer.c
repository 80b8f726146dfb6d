/*  hostile_peer.c: a fake worker and a fake coordinator that lie, for hostile_test.py.

    Written against proto/ and libzmq directly (not the agent or the coordinator), so it
    can send what no real peer would: truncated and garbage frames, wrong types, unknown
    types, other protocol versions, forged and replayed snapshots, absurd phases, floods.

      hostile_peer worker ENDPOINT
          Against a real `surge coordinator` started with --workers 3 (two real workers
          and this one). Before the run: junk of every class, a hello flood, a frame over
          the size cap. Then it joins as "fake-0", leaves with a bye as soon as it has the
          plan (so it gets no segment), and during the run sends one genuine snapshot
          (ok = LEGIT_OK), replays it, and sends forged ones. Prints "expect CLASS N" for
          each refusal class the coordinator must count, "legit ok N" and "replays N".

      hostile_peer coordinator
          Binds a ROUTER on loopback and prints "coordinator on ENDPOINT". A real worker
          whose id starts with "version" gets a welcome of protocol version 2. Any other
          gets junk, a welcome, junk plans, a flood of acks for unknown seqs, a plan naming
          ALLOWED_URL (env), absurd phases, one valid phase; then silence ("silent" is
          printed) until the worker fences; when it says hello again it gets a plan naming
          FORBIDDEN_URL (env), which it must refuse with a bye.

    Every loop is bounded in count and in time; the program exits by itself.
*/
#include <czmq.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/histogram.h"
#include "common/metrics.h"
#include "proto/proto.h"

#define HB_MS               100  /* the fake coordinator's heartbeat */
#define LEGIT_OK            7    /* the one genuine snapshot's ok count */
#define HELLO_FLOOD         300  /* hellos of one worker id */
#define ID_FLOOD            4200 /* hellos of distinct ids: more than the registry holds (4096) */
#define VERSION_FLOOD       50   /* hellos in protocol version 2 */
#define ACK_FLOOD           5000
#define REPLAYS_BEFORE      4 /* copies of the genuine snapshot sent right after it */
#define REPLAYS_AFTER       3 /* copies sent after its ack */
#define REQUEST_LINES_VALID 2
#define AMPLIFY_PROMPTS     12000 /* prompts of the plan that would cost a worker 720 MB */
#define STRANGER_FLOOD      200   /* plain-text connections failing their handshakes at once */

/* ---- msgpack helpers (junk needs raw bytes) ---------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} raw_t;

static void raw_init(raw_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

static void raw_str(raw_t *r, const char *s)
{
    msgpack_pack_str(&r->pk, strlen(s));
    msgpack_pack_str_body(&r->pk, s, strlen(s));
}

static void raw_kv_str(raw_t *r, const char *k, const char *v)
{
    raw_str(r, k);
    raw_str(r, v);
}

static void raw_kv_int(raw_t *r, const char *k, int64_t v)
{
    raw_str(r, k);
    msgpack_pack_int64(&r->pk, v);
}

static void send_raw(zsock_t *sock, zframe_t *identity, const void *data, size_t len)
{
    proto_send_bytes(sock, identity, data, len);
}

static void send_raw_done(zsock_t *sock, zframe_t *identity, raw_t *r)
{
    send_raw(sock, identity, r->sb.data, r->sb.size);
    msgpack_sbuffer_destroy(&r->sb);
}

static void send_msg(zsock_t *sock, zframe_t *identity, const proto_msg_t *msg, int version)
{
    buf_t out;
    buf_init(&out);
    proto_encode_version(msg, version, &out);
    send_raw(sock, identity, out.data, out.len);
    buf_free(&out);
}

/* ---- the fake worker ----------------------------------------------------------------- */

static int expected[32];
static const char *expected_names[32];
static int expected_count;

static void expect(const char *class_name, int n)
{
    for (int i = 0; i < expected_count; i++) {
        if (strcmp(expected_names[i], class_name) == 0) {
            expected[i] += n;
            return;
        }
    }
    expected_names[expected_count] = class_name;
    expected[expected_count++] = n;
}

static proto_msg_t hello_msg(const char *id, uint64_t inc)
{
    proto_msg_t msg = {.type = PROTO_HELLO};
    msg.u.hello = (proto_hello_t){.worker_id = (char *)id,
                                  .incarnation = inc,
                                  .software = "hostile",
                                  .threads = 1,
                                  .capacity = 1};
    return msg;
}

/* Junk from a connection that never says hello: every message must be refused. */
static void junk_before_hello(zsock_t *s)
{
    unsigned char garbage[64];
    for (int i = 0; i < 3; i++) { /* random bytes */
        for (size_t k = 0; k < sizeof garbage; k++)
            garbage[k] = (unsigned char)rand();
        garbage[0] = 0xc1; /* never valid msgpack: always malformed */
        send_raw(s, NULL, garbage, sizeof garbage);
    }
    send_raw(s, NULL, "", 0); /* empty frame */
    expect("malformed", 4);

    buf_t out; /* truncated: a real hello cut at every third byte */
    buf_init(&out);
    proto_msg_t hello = hello_msg("truncated", 1);
    proto_encode(&hello, &out);
    int truncated = 0;
    for (size_t cut = 1; cut < out.len; cut += 3, truncated++)
        send_raw(s, NULL, out.data, cut);
    buf_free(&out);
    expect("malformed", truncated);

    raw_t r; /* not a map */
    raw_init(&r);
    msgpack_pack_array(&r.pk, 2);
    raw_str(&r, "v");
    raw_str(&r, "t");
    send_raw_done(s, NULL, &r);
    expect("malformed", 1);

    for (int i = 0; i < 2; i++) { /* multi-frame junk */
        zmsg_t *m = zmsg_new();
        zmsg_addstr(m, "junk");
        zmsg_addstr(m, "more junk");
        zmsg_addstr(m, "and more");
        zmsg_send(&m, s);
    }
    expect("frames", 2);

    raw_init(&r); /* unknown type */
    msgpack_pack_map(&r.pk, 2);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "launch_missiles");
    send_raw_done(s, NULL, &r);
    expect("unknown_type", 1);

    raw_init(&r); /* wrong type for a known key: threads as a string */
    msgpack_pack_map(&r.pk, 8);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "hello");
    raw_kv_str(&r, "id", "wrong-type");
    raw_kv_int(&r, "inc", 1);
    raw_kv_str(&r, "sw", "x");
    raw_kv_str(&r, "threads", "four");
    raw_kv_int(&r, "capacity", 1);
    raw_str(&r, "allow");
    msgpack_pack_array(&r.pk, 0);
    send_raw_done(s, NULL, &r);
    expect("wrong_type", 1);

    raw_init(&r); /* a missing field: hello without id */
    msgpack_pack_map(&r.pk, 2);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "hello");
    send_raw_done(s, NULL, &r);
    expect("missing_field", 1);

    char *long_id = malloc(PROTO_MAX_STRING_BYTES + 100); /* over the string cap */
    memset(long_id, 'x', PROTO_MAX_STRING_BYTES + 99);
    long_id[PROTO_MAX_STRING_BYTES + 99] = '\0';
    hello = hello_msg(long_id, 1);
    send_msg(s, NULL, &hello, PROTO_VERSION);
    free(long_id);
    raw_init(&r); /* a map over the key cap */
    msgpack_pack_map(&r.pk, PROTO_MAX_MAP_KEYS + 10);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "hello");
    for (int i = 0; i < PROTO_MAX_MAP_KEYS + 8; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        raw_kv_int(&r, key, i);
    }
    send_raw_done(s, NULL, &r);
    expect("oversize", 2);

    hello = hello_msg("zero-threads", 1); /* out of range */
    hello.u.hello.threads = 0;
    send_msg(s, NULL, &hello, PROTO_VERSION);
    expect("bad_value", 1);

    proto_msg_t hb = {.type = PROTO_HEARTBEAT}; /* heartbeats, a bye from nobody */
    hb.u.heartbeat = (proto_heartbeat_t){clock_now_ns(), 0, 0, PROTO_READY_UNSAID};
    for (int i = 0; i < 5; i++)
        send_msg(s, NULL, &hb, PROTO_VERSION);
    proto_msg_t bye = {.type = PROTO_BYE};
    bye.u.bye.reason = "never came";
    send_msg(s, NULL, &bye, PROTO_VERSION);
    expect("unknown_peer", 6);

    proto_msg_t ack = {.type = PROTO_ACK}; /* coordinator-only types */
    ack.u.ack.seq = 1;
    send_msg(s, NULL, &ack, PROTO_VERSION);
    proto_msg_t stop = {.type = PROTO_STOP};
    stop.u.stop = (proto_stop_t){1, true, "stop everything"};
    send_msg(s, NULL, &stop, PROTO_VERSION);
    expect("unexpected_type", 2);

    proto_msg_t other = {.type = PROTO_HEARTBEAT}; /* another version, not a hello */
    other.u.heartbeat = (proto_heartbeat_t){clock_now_ns(), 0, 0, PROTO_READY_UNSAID};
    send_msg(s, NULL, &other, PROTO_VERSION + 1);
    expect("version", 1);
}

static void hello_floods(zsock_t *s)
{
    for (int i = 0; i < VERSION_FLOOD; i++) {
        proto_msg_t hello = hello_msg("version-flood", 9);
        send_msg(s, NULL, &hello, PROTO_VERSION + 1);
    }
    expect("version", VERSION_FLOOD);
    for (int i = 0; i < HELLO_FLOOD; i++) {
        proto_msg_t hello = hello_msg("flood", 42);
        send_msg(s, NULL, &hello, PROTO_VERSION);
    }
    for (int i = 0; i < ID_FLOOD; i++) {
        char id[32];
        snprintf(id, sizeof id, "flood-%d", i);
        proto_msg_t hello = hello_msg(id, (uint64_t)i + 1000);
        send_msg(s, NULL, &hello, PROTO_VERSION);
    }
}

/* Waits up to timeout_ms for a message of `type` on s; keeps the lease alive meanwhile
   (answers nothing: the fake worker only needs the coordinator to hear it). */
static bool wait_for(zsock_t *s, proto_type_t type, int timeout_ms, proto_msg_t *out)
{
    int64_t deadline = clock_now_ns() + (int64_t)timeout_ms * 1000000;
    int64_t next_hb = 0;
    while (clock_now_ns() < deadline) {
        if (clock_now_ns() >= next_hb) {
            proto_msg_t hb = {.type = PROTO_HEARTBEAT};
            hb.u.heartbeat = (proto_heartbeat_t){clock_now_ns(), 0, 0, PROTO_READY_UNSAID};
            send_msg(s, NULL, &hb, PROTO_VERSION);
            next_hb = clock_now_ns() + 50 * 1000000LL;
        }
        zsock_set_rcvtimeo(s, 20);
        zframe_t *f = zframe_recv(s);
        if (!f)
            continue;
        proto_msg_t msg;
        char err[256];
        int rc = proto_decode(&msg, zframe_data(f), zframe_size(f), err, sizeof err);
        zframe_destroy(&f);
        if (rc == PROTO_OK && msg.type == type) {
            if (out)
                *out = msg;
            else
                proto_msg_clear(&msg);
            return true;
        }
        proto_msg_clear(&msg);
    }
    return false;
}

static metrics_t *legit_metrics(int digits, int64_t ok)
{
    metrics_t *m = metrics_new(digits);
    m->c.scheduled = m->c.sent = m->c.ok = ok;
    m->c.output_tokens = ok * 3;
    for (int64_t i = 0; i < ok; i++)
        metrics_record_us(m, METRIC_E2E, 1000 + i);
    return m;
}

static void send_snapshot(zsock_t *s, uint64_t seq, int64_t interval, const char *id,
                          metrics_t *total, metrics_t **targets, int target_count)
{
    proto_msg_t msg = {.type = PROTO_SNAPSHOT};
    msg.u.snapshot = (proto_snapshot_t){.seq = seq,
                                        .interval = interval,
                                        .worker_id = (char *)id,
                                        .epoch = 1,
                                        .total = total,
                                        .per_target = targets,
                                        .target_count = target_count};
    send_msg(s, NULL, &msg, PROTO_VERSION);
}

/* Encodes a snapshot, then lets `edit` corrupt the bytes (histograms) before sending. */
static void send_corrupt_histogram(zsock_t *s, uint64_t seq, int64_t interval)
{
    metrics_t *m = legit_metrics(HIST_DEFAULT_DIGITS, 50);
    buf_t out;
    buf_init(&out);
    proto_msg_t msg = {.type = PROTO_SNAPSHOT};
    msg.u.snapshot = (proto_snapshot_t){
        .seq = seq, .interval = interval, .worker_id = "fake-0", .epoch = 1, .total = m};
    proto_encode(&msg, &out);
    /* The V2 payload starts with a cookie 0x1c8493..: stomp on what follows it. */
    unsigned char *d = (unsigned char *)out.data;
    for (size_t i = 0; i + 4 < out.len; i++) {
        if (d[i] == 0x1c && d[i + 1] == 0x84 && d[i + 2] == 0x93) {
            for (size_t k = i + 8; k < i + 24 && k < out.len; k++)
                d[k] ^= 0x5a;
            break;
        }
    }
    send_raw(s, NULL, out.data, out.len);
    buf_free(&out);
    metrics_destroy(&m);
}

static int fake_worker(const char *endpoint)
{
    srand(12345);
    zsock_t *junk = zsock_new(ZMQ_DEALER);
    zsock_set_maxmsgsize(junk, -1);
    if (zsock_connect(junk, "%s", endpoint) != 0) {
        fprintf(stderr, "cannot connect to %s\n", endpoint);
        return 3;
    }
    zclock_sleep(200); /* the connection is up before the junk goes */
    junk_before_hello(junk);
    hello_floods(junk);
    printf("junk and floods sent\n");
    fflush(stdout);

    /* A frame over ZMQ_MAXMSGSIZE: libzmq drops that connection before any decoding. */
    zsock_t *huge = zsock_new(ZMQ_DEALER);
    zsock_connect(huge, "%s", endpoint);
    size_t huge_len = PROTO_MAX_MESSAGE_BYTES + 1024 * 1024;
    char *huge_data = calloc(1, huge_len);
    send_raw(huge, NULL, huge_data, huge_len);
    free(huge_data);
    /* Just under it, but over the requests cap: decoded, refused as oversize. */
    buf_t big;
    buf_init(&big);
    {
        raw_t r;
        raw_init(&r);
        size_t len = PROTO_MAX_REQUESTS_BYTES + 1024;
        char *body = calloc(1, len);
        msgpack_pack_map(&r.pk, 3);
        raw_kv_int(&r, "v", PROTO_VERSION);
        raw_kv_str(&r, "t", "bye");
        raw_str(&r, "reason");
        msgpack_pack_str(&r.pk, len);
        msgpack_pack_str_body(&r.pk, body, len);
        send_raw_done(junk, NULL, &r);
        free(body);
        expect("oversize", 1);
    }
    buf_free(&big);

    /* Let the flood's workers' leases expire (3 heartbeats of the coordinator's). */
    zclock_sleep(1500);

    /* Join for real: ready (heartbeats), then leave as soon as the plan comes. */
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_identity(s, "fake-0/77");
    zsock_connect(s, "%s", endpoint);
    proto_msg_t hello = hello_msg("fake-0", 77);
    send_msg(s, NULL, &hello, PROTO_VERSION);
    proto_msg_t welcome;
    if (!wait_for(s, PROTO_WELCOME, 10000, &welcome)) {
        fprintf(stderr, "fake-0: no welcome\n");
        return 3;
    }
    if (!welcome.u.welcome.accepted) { /* the registry full of the flood's ids */
        fprintf(stderr, "fake-0 refused: %s\n", welcome.u.welcome.reason);
        return 3;
    }
    proto_msg_clear(&welcome);
    printf("fake joined\n");
    fflush(stdout);
    proto_msg_t plan;
    if (!wait_for(s, PROTO_PLAN, 60000, &plan)) {
        fprintf(stderr, "fake-0: no plan\n");
        return 3;
    }
    proto_msg_t bye = {.type = PROTO_BYE};
    bye.u.bye.reason = "the fake worker leaves before the first phase";
    send_msg(s, NULL, &bye, PROTO_VERSION);
    int64_t run_t0 = plan.u.plan.run_t0_ns; /* same host: the same monotonic clock */
    int64_t interval_ns = plan.u.plan.interval_ms * 1000000LL;
    int targets = plan.u.plan.target_count;
    proto_msg_clear(&plan);
    printf("fake left\n");
    fflush(stdout);

    /* Into the run: the first phase starts on the interval grid a heartbeat or more after
       run_t0; two intervals in, the measured phase is on. */
    while (clock_now_ns() < run_t0 + 2 * interval_ns + interval_ns / 2)
        zclock_sleep(20);
    int64_t now_index = (clock_now_ns() - run_t0) / interval_ns;

    /* One genuine snapshot and its replays: counted once. */
    metrics_t *legit = legit_metrics(HIST_DEFAULT_DIGITS, LEGIT_OK);
    metrics_t **per_target = calloc((size_t)targets, sizeof *per_target);
    for (int i = 0; i < targets; i++)
        per_target[i] = i == 0 ? legit_metrics(2, LEGIT_OK) : metrics_new(2);
    for (int i = 0; i <= REPLAYS_BEFORE; i++)
        send_snapshot(s, 1, now_index, "fake-0", legit, per_target, targets);
    proto_msg_t ack;
    if (!wait_for(s, PROTO_ACK, 5000, &ack) || ack.u.ack.seq != 1) {
        fprintf(stderr, "fake-0: seq 1 was not acked\n");
        return 3;
    }
    proto_msg_clear(&ack);
    for (int i = 0; i < REPLAYS_AFTER; i++) /* an old seq after its ack */
        send_snapshot(s, 1, now_index, "fake-0", legit, per_target, targets);
    printf("legit ok %d\nreplays %d\n", LEGIT_OK, REPLAYS_BEFORE + REPLAYS_AFTER);

    /* Forged ones, each with a fresh seq so only the forgery can keep it out. */
    uint64_t seq = 2;
    /* The genuine interval again under a new seq: one snapshot per interval. */
    send_snapshot(s, seq++, now_index, "fake-0", legit, per_target, targets);
    expect("duplicate_interval", 1);
    {
        /* requests.jsonl lines: REQUEST_LINES_VALID objects with a marker, and lines that
           are not one bounded JSON object (counted in requests_lines_refused). */
        static char big[9000];
        memset(big, ' ', sizeof big - 1);
        memcpy(big, "{\"hostile_big\": 1", 17);
        big[sizeof big - 2] = '}';
        buf_t lines;
        buf_init(&lines);
        for (int i = 0; i < REQUEST_LINES_VALID; i++)
            buf_printf(&lines, "{\"hostile_marker\": %d}\n", i);
        buf_append_str(&lines, "not json\n[1, 2]\n{\"hostile_marker\": 9} trailing\n");
        buf_append_str(&lines, big);
        buf_append_str(&lines, "\n{\"hostile_marker\": \"unterminated\n");
        metrics_t *empty = metrics_new(HIST_DEFAULT_DIGITS);
        proto_msg_t msg = {.type = PROTO_SNAPSHOT};
        msg.u.snapshot = (proto_snapshot_t){.seq = seq++,
                                            .interval = now_index + 1,
                                            .worker_id = "fake-0",
                                            .epoch = 1,
                                            .total = empty,
                                            .requests_jsonl = lines.data,
                                            .requests_jsonl_len = lines.len};
        send_msg(s, NULL, &msg, PROTO_VERSION);
        metrics_destroy(&empty);
        buf_free(&lines);
        printf("request lines valid %d refused %d\n", REQUEST_LINES_VALID, 5);
    }
    send_snapshot(s, seq++, now_index, "w1", legit, per_target, targets); /* another's id */
    expect("foreign_id", 1);
    send_snapshot(s, seq++, now_index + 1000, "fake-0", legit, per_target, targets);
    send_snapshot(s, seq++, INT64_MAX / 2, "fake-0", legit, per_target, targets);
    expect("interval", 2);
    metrics_t *absurd = legit_metrics(HIST_DEFAULT_DIGITS, 1);
    absurd->c.ok = INT64_MAX / 4; /* within the decoder's cap, above any real interval */
    for (int i = 0; i < 8; i++)   /* enough to wrap a plain int64 sum */
        send_snapshot(s, seq++, now_index, "fake-0", absurd, per_target, targets);
    metrics_destroy(&absurd);
    absurd = metrics_new(HIST_DEFAULT_DIGITS);
    hist_record_n(absurd->hist[METRIC_E2E], 5000, 1LL << 50); /* absurd histogram count */
    send_snapshot(s, seq++, now_index, "fake-0", absurd, per_target, targets);
    metrics_destroy(&absurd);
    {
        /* By-phase parts (docs/protocol.md): one with absurd counts, one naming a phase the
           run never decided. */
        metrics_t *parts_m[2] = {legit_metrics(HIST_DEFAULT_DIGITS, 1),
                                 legit_metrics(HIST_DEFAULT_DIGITS, 1)};
        parts_m[0]->c.ok = INT64_MAX / 4;
        proto_phase_part_t parts[2] = {{.phase_index = 0, .metrics = parts_m[0]},
                                       {.phase_index = 1, .metrics = parts_m[1]}};
        proto_msg_t msg = {.type = PROTO_SNAPSHOT};
        msg.u.snapshot = (proto_snapshot_t){.seq = seq++,
                                            .interval = now_index,
                                            .worker_id = "fake-0",
                                            .epoch = 1,
                                            .total = legit,
                                            .per_target = per_target,
                                            .target_count = targets,
                                            .phases = parts,
                                            .phase_count = 2};
        send_msg(s, NULL, &msg, PROTO_VERSION);
        parts[0] = (proto_phase_part_t){.phase_index = 9999, .tail_requests = 1};
        msg.u.snapshot.seq = seq++;
        msg.u.snapshot.phase_count = 1;
        send_msg(s, NULL, &msg, PROTO_VERSION);
        metrics_destroy(&parts_m[0]);
        metrics_destroy(&parts_m[1]);
    }
    expect("implausible", 10);
    send_corrupt_histogram(s, seq++, now_index);
    absurd = metrics_new(HIST_DEFAULT_DIGITS); /* a histogram of another layout */
    hist_destroy(&absurd->hist[METRIC_TTFT]);
    char herr[128];
    absurd->hist[METRIC_TTFT] = hist_new(1, 1000, 2, herr, sizeof herr);
    hist_record(absurd->hist[METRIC_TTFT], 10);
    send_snapshot(s, seq++, now_index, "fake-0", absurd, per_target, targets);
    metrics_destroy(&absurd);
    expect("bad_value", 3);
    {
        raw_t r; /* negative counter, negative inflight, seq 0: bad values */
        for (int k = 0; k < 4; k++) {
            raw_init(&r);
            msgpack_pack_map(&r.pk, 9);
            raw_kv_int(&r, "v", PROTO_VERSION);
            raw_kv_str(&r, "t", "snapshot");
            raw_kv_int(&r, "seq", k == 2 ? 0 : (int64_t)seq++);
            raw_kv_int(&r, "interval", k == 3 ? -5 : now_index);
            raw_kv_str(&r, "id", "fake-0");
            raw_kv_int(&r, "epoch", 1);
            raw_kv_int(&r, "inflight", k == 1 ? -1 : 0);
            raw_str(&r, "total");
            msgpack_pack_map(&r.pk, 4);
            raw_kv_int(&r, "d", 3);
            raw_str(&r, "c");
            msgpack_pack_map(&r.pk, 1);
            raw_kv_int(&r, "ok", k == 0 ? -100 : 100);
            raw_str(&r, "e");
            msgpack_pack_map(&r.pk, 0);
            raw_str(&r, "h");
            msgpack_pack_map(&r.pk, 0);
            raw_str(&r, "targets");
            msgpack_pack_array(&r.pk, 0);
            send_raw_done(s, NULL, &r);
        }
        expect("bad_value", 4);
        raw_init(&r); /* wrong type: seq as a string */
        msgpack_pack_map(&r.pk, 3);
        raw_kv_int(&r, "v", PROTO_VERSION);
        raw_kv_str(&r, "t", "snapshot");
        raw_kv_str(&r, "seq", "1");
        send_raw_done(s, NULL, &r);
        expect("wrong_type", 1);
    }
    metrics_t **many = calloc(PROTO_MAX_TARGETS + 1, sizeof *many); /* over the target cap */
    for (int i = 0; i <= PROTO_MAX_TARGETS; i++)
        many[i] = metrics_new(2);
    send_snapshot(s, seq++, now_index, "fake-0", legit, many, PROTO_MAX_TARGETS + 1);
    for (int i = 0; i <= PROTO_MAX_TARGETS; i++)
        metrics_destroy(&many[i]);
    free(many);
    expect("oversize", 1);

    /* Heartbeats and snapshots from a connection that never said hello, during the run
       (not `junk`: its hello floods made it a worker's connection). */
    zsock_t *stranger = zsock_new(ZMQ_DEALER);
    zsock_connect(stranger, "%s", endpoint);
    zclock_sleep(100);
    proto_msg_t hb = {.type = PROTO_HEARTBEAT};
    hb.u.heartbeat = (proto_heartbeat_t){clock_now_ns(), 0, 0, PROTO_READY_UNSAID};
    for (int i = 0; i < 20; i++)
        send_msg(stranger, NULL, &hb, PROTO_VERSION);
    proto_msg_t snap = {.type = PROTO_SNAPSHOT};
    snap.u.snapshot = (proto_snapshot_t){.seq = 1,
                                         .interval = now_index,
                                         .worker_id = "w1",
                                         .epoch = 1,
                                         .total = legit,
                                         .per_target = per_target,
                                         .target_count = targets};
    send_msg(stranger, NULL, &snap, PROTO_VERSION);
    expect("unknown_peer", 21);

    zclock_sleep(500); /* let libzmq deliver before the sockets close */
    for (int i = 0; i < expected_count; i++)
        printf("expect %s %d\n", expected_names[i], expected[i]);
    printf("fake worker done\n");
    fflush(stdout);
    metrics_destroy(&legit);
    for (int i = 0; i < targets; i++)
        metrics_destroy(&per_target[i]);
    free(per_target);
    zsock_destroy(&s);
    zsock_destroy(&stranger);
    zsock_destroy(&huge);
    zsock_destroy(&junk);
    return 0;
}

/* ---- the fake coordinator ------------------------------------------------------------ */

typedef struct {
    zsock_t *router;
    zframe_t *peer; /* the worker's routing id; owned */
    bool answer_heartbeats;
    int64_t silent_since_ns;
    int64_t last_worker_time_ns; /* of its last heartbeat */
    char run_id[32];
} fake_coord_t;

static void coord_send(fake_coord_t *c, const proto_msg_t *msg)
{
    send_msg(c->router, c->peer, msg, PROTO_VERSION);
}

static void coord_send_raw(fake_coord_t *c, raw_t *r)
{
    send_raw_done(c->router, c->peer, r);
}

/* Receives for up to timeout_ms, answering heartbeats while allowed. Returns the first
   message of `type` (hello: its worker id in *id_out), or false. */
static bool coord_wait(fake_coord_t *c, proto_type_t type, int timeout_ms, char *id_out,
                       size_t id_size, char *reason_out, size_t reason_size)
{
    int64_t deadline = clock_now_ns() + (int64_t)timeout_ms * 1000000;
    while (clock_now_ns() < deadline) {
        zsock_set_rcvtimeo(c->router, 20);
        zmsg_t *m = zmsg_recv(c->router);
        if (!m)
            continue;
        if (zmsg_size(m) != 2) {
            zmsg_destroy(&m);
            continue;
        }
        zframe_t *identity = zmsg_pop(m);
        zframe_t *payload = zmsg_pop(m);
        proto_msg_t msg;
        char err[256];
        int rc = proto_decode(&msg, zframe_data(payload), zframe_size(payload), err, sizeof err);
        bool found = false;
        if (rc == PROTO_OK) {
            if (msg.type == PROTO_HELLO || !c->peer) {
                zframe_destroy(&c->peer);
                c->peer = zframe_dup(identity);
            }
            if (msg.type == PROTO_HEARTBEAT)
                c->last_worker_time_ns = msg.u.heartbeat.time_ns;
            if (msg.type == PROTO_HEARTBEAT && c->answer_heartbeats) {
                proto_msg_t reply = {.type = PROTO_HEARTBEAT};
                reply.u.heartbeat = (proto_heartbeat_t){clock_now_ns(), msg.u.heartbeat.time_ns, 0,
                                                        PROTO_READY_UNSAID};
                coord_send(c, &reply);
            }
            if (msg.type == type) {
                found = true;
                if (type == PROTO_HELLO && id_out)
                    snprintf(id_out, id_size, "%s", msg.u.hello.worker_id);
                if (type == PROTO_BYE && reason_out)
                    snprintf(reason_out, reason_size, "%s", msg.u.bye.reason);
            }
        }
        proto_msg_clear(&msg);
        zframe_destroy(&identity);
        zframe_destroy(&payload);
        zmsg_destroy(&m);
        if (found)
            return true;
    }
    return false;
}

static proto_msg_t plan_msg(const char *url, char **targets_storage, char **prompts)
{
    targets_storage[0] = (char *)url;
    prompts[0] = "hello";
    proto_msg_t msg = {.type = PROTO_PLAN};
    msg.u.plan = (proto_plan_t){.targets = targets_storage,
                                .target_count = 1,
                                .model = "count",
                                .api = "chat",
                                .stream = true,
                                .max_tokens = 8,
                                .prompts = prompts,
                                .prompt_count = 1,
                                .interval_ms = 1000,
                                .run_t0_ns = clock_now_ns(),
                                .extra_body_json = "",
                                .api_key_env = ""};
    return msg;
}

static proto_msg_t phase_msg(uint64_t epoch, double rate, int64_t duration_ns)
{
    proto_msg_t msg = {.type = PROTO_PHASE};
    int64_t t0 = clock_now_ns() + 300 * 1000000LL;
    msg.u.phase = (proto_phase_t){.epoch = epoch,
                                  .phase_index = 0,
                                  .name = "hostile",
                                  .load = PHASE_LOAD_RATE,
                                  .schedule = {.arrival = ARRIVAL_CONSTANT,
                                               .gamma_shape = 1,
                                               .start_rate_per_s = rate,
                                               .end_rate_per_s = rate,
                                               .duration_ns = duration_ns,
                                               .seed = 1},
                                  .segment_from = 0,
                                  .segment_to = 1,
                                  .t0_ns = t0,
                                  .takeover_ns = t0};
    return msg;
}

/* Phase maps that the decoder must refuse: each with one field out of bounds. */
static void send_absurd_phases(fake_coord_t *c)
{
    struct {
        const char *key;
        double value;
    } bad[] = {{"rate0", 1e12},       {"rate0", -5},        {"rate1", NAN},
               {"rate0", INFINITY},   {"from", -0.5},       {"to", 1.5},
               {"from", NAN},         {"think_s", -1},      {"gamma_shape", -2},
               {"duration_ns", -1e9}, {"duration_ns", 1e18}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_t r;
        raw_init(&r);
        msgpack_pack_map(&r.pk, 18);
        raw_kv_int(&r, "v", PROTO_VERSION);
        raw_kv_str(&r, "t", "phase");
        raw_kv_int(&r, "epoch", 100 + (int64_t)i);
        raw_kv_int(&r, "index", 0);
        raw_kv_str(&r, "name", "absurd");
        raw_kv_str(&r, "load", "rate");
        raw_kv_str(&r, "arrival", "constant");
        const char *keys[] = {"gamma_shape", "rate0", "rate1", "think_s", "from", "to"};
        double values[] = {1, 10, 10, 0, 0, 1};
        for (int k = 0; k < 6; k++) {
            raw_str(&r, keys[k]);
            msgpack_pack_double(&r.pk, strcmp(keys[k], bad[i].key) == 0 ? bad[i].value : values[k]);
        }
        raw_kv_int(&r, "seed", 1);
        raw_kv_int(&r, "concurrency", 0);
        raw_kv_int(&r, "users", 0);
        raw_kv_int(&r, "t0", clock_now_ns());
        raw_str(&r, "duration_ns");
        if (strcmp(bad[i].key, "duration_ns") == 0)
            msgpack_pack_int64(&r.pk, (int64_t)bad[i].value);
        else
            msgpack_pack_int64(&r.pk, 1000000000LL);
        coord_send_raw(c, &r);
    }
    /* Reversed segment, unknown load and arrival, a huge concurrency: through the encoder. */
    proto_msg_t ph = phase_msg(200, 10, 1000000000LL);
    ph.u.phase.segment_from = 0.8;
    ph.u.phase.segment_to = 0.2;
    coord_send(c, &ph);
    raw_t r;
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "phase");
    raw_kv_str(&r, "load", "infinite");
    coord_send_raw(c, &r);
    ph = phase_msg(201, 0, 1000000000LL);
    ph.u.phase.load = PHASE_LOAD_CONCURRENCY;
    ph.u.phase.concurrency = 1 << 30; /* over the 2^24 cap */
    coord_send(c, &ph);
}

/* Clocks at the ends of int64: heartbeats that echo the worker's real time (so they pass
   its echo check and reach its NTP arithmetic), a plan and a phase starting there. */
static void send_absurd_clocks(fake_coord_t *c, const char *url)
{
    int64_t times[] = {INT64_MIN, INT64_MAX, INT64_MIN / 2, INT64_MAX / 2};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        proto_msg_t hb = {.type = PROTO_HEARTBEAT};
        int64_t echo = c->last_worker_time_ns;
        hb.u.heartbeat =
            (proto_heartbeat_t){times[i], echo, clock_now_ns() - echo, PROTO_READY_UNSAID};
        coord_send(c, &hb);
        hb.u.heartbeat = (proto_heartbeat_t){times[i], echo, INT64_MAX, PROTO_READY_UNSAID};
        coord_send(c, &hb);
    }
    char *targets[1], *prompts[1];
    proto_msg_t plan = plan_msg(url, targets, prompts);
    plan.u.plan.run_t0_ns = INT64_MIN;
    coord_send(c, &plan);
    proto_msg_t ph = phase_msg(300, 10, 1000000000LL);
    ph.u.phase.t0_ns = ph.u.phase.takeover_ns = INT64_MAX;
    coord_send(c, &ph);
    ph = phase_msg(301, 10, 1000000000LL);
    ph.u.phase.t0_ns = ph.u.phase.takeover_ns = INT64_MIN;
    coord_send(c, &ph);
}

static void send_junk_to_worker(fake_coord_t *c)
{
    unsigned char garbage[32];
    for (size_t k = 0; k < sizeof garbage; k++)
        garbage[k] = (unsigned char)rand();
    garbage[0] = 0xc1;
    send_raw(c->router, c->peer, garbage, sizeof garbage);
    zmsg_t *m = zmsg_new(); /* multi-frame */
    zmsg_append(m, &(zframe_t *){zframe_dup(c->peer)});
    zmsg_addstr(m, "one");
    zmsg_addstr(m, "two");
    zmsg_send(&m, c->router);
    raw_t r; /* welcome with wrong types */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 6);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "welcome");
    raw_kv_str(&r, "accepted", "yes");
    raw_kv_str(&r, "reason", "");
    raw_kv_str(&r, "run", "junk");
    raw_kv_str(&r, "hb_ms", "fast");
    coord_send_raw(c, &r);
    raw_init(&r); /* unknown type */
    msgpack_pack_map(&r.pk, 2);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "self_destruct");
    coord_send_raw(c, &r);
    proto_msg_t hello = hello_msg("coordinator?", 1); /* a worker-only type */
    coord_send(c, &hello);
    proto_msg_t welcome = {.type = PROTO_WELCOME}; /* truncated welcome */
    welcome.u.welcome = (proto_welcome_t){true, "", "truncated", HB_MS};
    buf_t out;
    buf_init(&out);
    proto_encode(&welcome, &out);
    send_raw(c->router, c->peer, out.data, out.len / 2);
    buf_free(&out);
}

static void send_junk_plans(fake_coord_t *c, const char *url)
{
    char *targets[1], *prompts[1];
    proto_msg_t plan = plan_msg(url, targets, prompts);
    buf_t out;
    buf_init(&out);
    proto_encode(&plan, &out);
    send_raw(c->router, c->peer, out.data, out.len - 3); /* truncated */
    buf_free(&out);
    plan.u.plan.api = "telnet"; /* bad value */
    coord_send(c, &plan);
    plan.u.plan.api = "chat";
    plan.u.plan.target_count = 0; /* no target */
    coord_send(c, &plan);
    raw_t r; /* targets of the wrong type */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_kv_int(&r, "v", PROTO_VERSION);
    raw_kv_str(&r, "t", "plan");
    raw_kv_int(&r, "targets", 8000);
    coord_send_raw(c, &r);

    /* A small plan that would make the worker build gigabytes: every prompt's request
       body repeats extra_body (AMPLIFY_PROMPTS x 60 KiB = 720 MB from ~75 KB). */
    char **many = calloc(AMPLIFY_PROMPTS, sizeof *many);
    for (int i = 0; i < AMPLIFY_PROMPTS; i++)
        many[i] = "";
    size_t pad = 60 << 10;
    char *extra = malloc(pad + 32);
    int n = snprintf(extra, pad + 32, "{\"pad\": \"");
    memset(extra + n, 'x', pad);
    snprintf(extra + n + pad, 32, "\"}");
    plan.u.plan.target_count = 1;
    plan.u.plan.prompts = many;
    plan.u.plan.prompt_count = AMPLIFY_PROMPTS;
    plan.u.plan.extra_body_json = extra;
    coord_send(c, &plan);
    free(extra);
    free(many);
}

static int fake_coordinator(void)
{
    const char *allowed = getenv("ALLOWED_URL"), *forbidden = getenv("FORBIDDEN_URL");
    if (!allowed || !forbidden) {
        fprintf(stderr, "ALLOWED_URL and FORBIDDEN_URL must be set\n");
        return 2;
    }
    fake_coord_t c = {.router = zsock_new(ZMQ_ROUTER)};
    zsock_set_router_handover(c.router, 1);
    if (zmq_bind(zsock_resolve(c.router), "tcp://127.0.0.1:*") != 0)
        return 3;
    char *endpoint = zsock_last_endpoint(c.router);
    printf("coordinator on %s\n", endpoint);
    fflush(stdout);
    free(endpoint);
    int64_t deadline = clock_now_ns() + 120 * 1000000000LL;
    int workers = 0;
    while (workers < 2 && clock_now_ns() < deadline) {
        char id[128] = "";
        c.answer_heartbeats = false;
        if (!coord_wait(&c, PROTO_HELLO, 1000, id, sizeof id, NULL, 0))
            continue;
        workers++;
        printf("hello from %s\n", id);
        fflush(stdout);
        if (strncmp(id, "version", 7) == 0) {
            proto_msg_t welcome = {.type = PROTO_WELCOME};
            welcome.u.welcome = (proto_welcome_t){true, "", "hostile-run", HB_MS};
            send_msg(c.router, c.peer, &welcome, PROTO_VERSION + 1);
            printf("welcome in version %d sent\n", PROTO_VERSION + 1);
            fflush(stdout);
            continue;
        }
        send_junk_to_worker(&c);
        proto_msg_t welcome = {.type = PROTO_WELCOME};
        welcome.u.welcome = (proto_welcome_t){true, "", "hostile-run", HB_MS};
        coord_send(&c, &welcome);
        c.answer_heartbeats = true;
        coord_wait(&c, PROTO_TYPE_COUNT, 300, NULL, 0, NULL, 0); /* heartbeats: a clock offset */
        send_junk_plans(&c, allowed);
        for (int i = 0; i < ACK_FLOOD; i++) {
            proto_msg_t ack = {.type = PROTO_ACK};
            ack.u.ack.seq = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
            coord_send(&c, &ack);
        }
        char *targets[1], *prompts[1];
        proto_msg_t plan = plan_msg(allowed, targets, prompts);
        coord_send(&c, &plan);
        coord_wait(&c, PROTO_TYPE_COUNT, 300, NULL, 0, NULL, 0);
        coord_send(&c, &plan); /* again, while its engine runs */
        send_absurd_clocks(&c, allowed);
        send_absurd_phases(&c);
        printf("absurd phases sent\n");
        fflush(stdout);
        coord_wait(&c, PROTO_TYPE_COUNT, 1000, NULL, 0, NULL, 0);
        printf("valid phase sent\n");
        fflush(stdout);
        proto_msg_t phase = phase_msg(1000, 20, 30 * 1000000000LL);
        coord_send(&c, &phase);
        coord_wait(&c, PROTO_TYPE_COUNT, 2000, NULL, 0, NULL, 0);
        c.answer_heartbeats = false;
        printf("silent\n");
        fflush(stdout);
        /* The worker fences, then says hello again: give it a plan it must refuse. */
        if (!coord_wait(&c, PROTO_HELLO, 5000, id, sizeof id, NULL, 0)) {
            printf("no hello after the silence\n");
            continue;
        }
        printf("hello again from %s\n", id);
        coord_send(&c, &welcome);
        c.answer_heartbeats = true;
        plan = plan_msg(forbidden, targets, prompts);
        coord_send(&c, &plan);
        char reason[1024] = "";
        if (coord_wait(&c, PROTO_BYE, 5000, NULL, 0, reason, sizeof reason))
            printf("bye: %s\n", reason);
        else
            printf("no bye after the forbidden plan\n");
        fflush(stdout);
    }
    zframe_destroy(&c.peer);
    zsock_destroy(&c.router);
    printf("fake coordinator done\n");
    return 0;
}

/* ---- amplification: messages that cost the receiver more than their bytes ----------- */

#define AMPLIFY_COPIES  20  /* of each amplifying message, per sender */
#define AMPLIFY_TARGETS 256 /* per-target breakdowns in the counter-budget message */

/* Every histogram holds a count every 512 counters (one per 4 KiB page of counters) from
   1 us to 1 h, so a decoder must allocate its whole layout and touch every page of it. */
static metrics_t *spread_metrics(int digits)
{
    metrics_t *m = metrics_new(digits);
    m->c.ok = m->c.sent = m->c.scheduled = 1;
    for (int h = 0; h < METRIC_HIST_COUNT; h++) {
        int64_t counter = 0;
        for (int64_t v = HIST_DEFAULT_LOWEST; v <= HIST_DEFAULT_HIGHEST;
             v = hist_highest_equivalent(m->hist[h], v) + 1, counter++) {
            if (counter % 512 == 0)
                metrics_record_us(m, (metric_hist_t)h, v);
        }
        metrics_record_us(m, (metric_hist_t)h, HIST_DEFAULT_HIGHEST);
    }
    return m;
}

static void encode_snapshot(buf_t *out, const char *id, metrics_t *total, metrics_t **targets,
                            int target_count)
{
    proto_msg_t msg = {.type = PROTO_SNAPSHOT};
    msg.u.snapshot = (proto_snapshot_t){.seq = 1,
                                        .interval = 0,
                                        .worker_id = (char *)id,
                                        .epoch = 1,
                                        .total = total,
                                        .per_target = targets,
                                        .target_count = target_count};
    buf_init(out);
    proto_encode(&msg, out);
}

/* hostile_peer amplify ENDPOINT: against a `surge coordinator --workers 1`. A connection that
   never says hello, then "amp-0" once it has the plan, each send AMPLIFY_COPIES of:
   a snapshot whose 7 histograms claim 5 significant digits over 1 us..1 h (2.1 M counters,
   16 MiB each, in a few hundred bytes), and one of the layouts workers send whose 256
   per-target histograms all span 1 us..1 h (47 MiB of counters in ~100 KB). Prints the
   sizes, then "amplified". With ENDPOINT file:DIR it writes the two messages into DIR
   instead (tests/fuzz/seeds/fuzz_proto_memory). */
static int amplify(const char *endpoint)
{
    buf_t five, wide;
    metrics_t *total5 = spread_metrics(5);
    encode_snapshot(&five, "amp-0", total5, NULL, 0);
    metrics_destroy(&total5);
    metrics_t *total3 = spread_metrics(3);
    metrics_t **targets = calloc(AMPLIFY_TARGETS, sizeof *targets);
    for (int i = 0; i < AMPLIFY_TARGETS; i++)
        targets[i] = spread_metrics(2);
    encode_snapshot(&wide, "amp-0", total3, targets, AMPLIFY_TARGETS);
    for (int i = 0; i < AMPLIFY_TARGETS; i++)
        metrics_destroy(&targets[i]);
    free(targets);
    metrics_destroy(&total3);
    printf("five-digit snapshot %zu bytes, wide snapshot %zu bytes\n", five.len, wide.len);
    fflush(stdout);
    if (strncmp(endpoint, "file:", 5) == 0) { /* seeds for fuzz_proto_memory */
        char path[4096];
        const buf_t *both[2] = {&five, &wide};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", endpoint + 5, i ? "wide_snapshot" : "five_digits");
            FILE *f = fopen(path, "wb");
            if (f) {
                fwrite(both[i]->data, 1, both[i]->len, f);
                fclose(f);
            }
        }
        buf_free(&five);
        buf_free(&wide);
        return 0;
    }

    zsock_t *stranger = zsock_new(ZMQ_DEALER);
    zsock_connect(stranger, "%s", endpoint);
    for (int i = 0; i < AMPLIFY_COPIES; i++) {
        send_raw(stranger, NULL, five.data, five.len);
        send_raw(stranger, NULL, wide.data, wide.len);
    }
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_connect(s, "%s", endpoint);
    proto_msg_t hello = hello_msg("amp-0", 77);
    send_msg(s, NULL, &hello, PROTO_VERSION);
    int rc = 0;
    if (!wait_for(s, PROTO_PLAN, 20000, NULL)) {
        printf("no plan\n");
        rc = 1;
    }
    for (int i = 0; rc == 0 && i < AMPLIFY_COPIES; i++) {
        send_raw(s, NULL, five.data, five.len);
        send_raw(s, NULL, wide.data, wide.len);
    }
    /* A worker id that would forge a log line and clear the operator's terminal. */
    zsock_t *forger = zsock_new(ZMQ_DEALER);
    zsock_connect(forger, "%s", endpoint);
    proto_msg_t forged = hello_msg("evil\nsurge[coordinator] INFO  forged line\x1b[2J", 78);
    send_msg(forger, NULL, &forged, PROTO_VERSION);
    wait_for(forger, PROTO_WELCOME, 2000, NULL);
    zsock_destroy(&forger);
    wait_for(s, PROTO_HEARTBEAT, 1000, NULL); /* the coordinator has read what came before */
    proto_msg_t bye = {.type = PROTO_BYE};
    bye.u.bye.reason = "done";
    send_msg(s, NULL, &bye, PROTO_VERSION);
    zclock_sleep(300);
    zsock_destroy(&s);
    zsock_destroy(&stranger);
    buf_free(&five);
    buf_free(&wide);
    printf("amplified\n");
    fflush(stdout);
    return rc;
}

/* ---- a stranger at a local run ------------------------------------------------------- */

/* Says hello (capacity PROTO_MAX_CAPACITY) and a forged snapshot of "local-1" on sock for
   2 s; returns the type of the first answer, or -1 when none came. */
static int stranger_try(zsock_t *sock)
{
    proto_msg_t hello = hello_msg("stranger", 99);
    hello.u.hello.capacity = PROTO_MAX_CAPACITY;
    metrics_t *m = legit_metrics(HIST_DEFAULT_DIGITS, 1000);
    int64_t deadline = clock_now_ns() + 2000 * 1000000LL;
    int answer = -1;
    uint64_t seq = 1;
    while (answer < 0 && clock_now_ns() < deadline) {
        send_msg(sock, NULL, &hello, PROTO_VERSION);
        send_snapshot(sock, seq++, 1, "local-1", m, NULL, 0);
        zsock_set_rcvtimeo(sock, 100);
        zframe_t *f = zframe_recv(sock);
        if (!f)
            continue;
        proto_msg_t msg;
        char err[256];
        if (proto_decode(&msg, zframe_data(f), zframe_size(f), err, sizeof err) == PROTO_OK)
            answer = (int)msg.type;
        proto_msg_clear(&msg);
        zframe_destroy(&f);
    }
    metrics_destroy(&m);
    return answer;
}

/* hostile_peer stranger ENDPOINT SERVER_KEY: a local process that is not one of a `surge
   run`'s workers tries to join it, in plain text and then with CURVE under a key of its
   own (SERVER_KEY: the coordinator's public certificate, which is no secret). Prints
   "plain: ..." and "curve: ...", "no answer" when it was kept out. */
static int stranger(const char *endpoint, const char *server_key)
{
    zsock_t *plain = zsock_new(ZMQ_DEALER);
    zsock_set_linger(plain, 0);
    zsock_set_sndtimeo(plain, 100); /* no handshake, no peer: a send would block for good */
    zsock_connect(plain, "%s", endpoint);
    int a = stranger_try(plain);
    printf("plain: %s\n", a < 0 ? "no answer" : proto_type_name((proto_type_t)a));
    zsock_destroy(&plain);

    zsock_t *curve = zsock_new(ZMQ_DEALER);
    zsock_set_linger(curve, 0);
    zsock_set_sndtimeo(curve, 100);
    zcert_t *own = zcert_new();
    zcert_t *server = zcert_load(server_key);
    if (!server) {
        printf("curve: cannot read %s\n", server_key);
        return 1;
    }
    zcert_apply(own, curve);
    zsock_set_curve_serverkey(curve, zcert_public_txt(server));
    zsock_connect(curve, "%s", endpoint);
    a = stranger_try(curve);
    printf("curve: %s\n", a < 0 ? "no answer" : proto_type_name((proto_type_t)a));
    zsock_destroy(&curve);
    zcert_destroy(&own);
    zcert_destroy(&server);

    /* A handshake flood: plain-text connections to a CURVE socket fail their handshake,
       and libzmq retries each every 100 ms. */
    zsock_t *flood[STRANGER_FLOOD];
    for (int i = 0; i < STRANGER_FLOOD; i++) {
        flood[i] = zsock_new(ZMQ_DEALER);
        zsock_set_linger(flood[i], 0);
        zsock_connect(flood[i], "%s", endpoint);
    }
    zclock_sleep(1500);
    for (int i = 0; i < STRANGER_FLOOD; i++)
        zsock_destroy(&flood[i]);
    printf("flood: %d connections for 1.5 s\n", STRANGER_FLOOD);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "stranger") == 0)
        return stranger(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "amplify") == 0)
        return amplify(argv[2]);
    if (argc == 3 && strcmp(argv[1], "worker") == 0)
        return fake_worker(argv[2]);
    if (argc == 2 && strcmp(argv[1], "coordinator") == 0)
        return fake_coordinator();
    fprintf(stderr, "usage: hostile_peer worker ENDPOINT | hostile_peer amplify ENDPOINT | "
                    "hostile_peer stranger ENDPOINT SERVER_KEY | hostile_peer coordinator\n");
    return 2;
}
