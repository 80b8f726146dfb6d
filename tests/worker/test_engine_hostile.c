/*  test_engine_hostile.c: every way a server can misbehave ends in its own error class,
    and nothing crashes or leaks (this test runs under ASan + UBSan in CI).

    One engine, one target per misbehaviour (hostile_server.py picks the mode from the
    path prefix), round-robin: the per-target breakdown says how each was classified.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "testkit.h"

typedef struct {
    const char *mode; /* path mode, or "refused" / "tls" */
    int expected;     /* error class, or -1 for success */
} case_t;

static const case_t cases[] = {
    {"ok", -1},
    {"http500", ERR_HTTP_5XX},
    {"http429", ERR_HTTP_429},
    {"http404", ERR_HTTP_4XX},
    {"reset", ERR_TRUNCATED},
    {"badjson", ERR_MALFORMED},
    {"garbage", ERR_MALFORMED},
    {"error_event", ERR_STREAM_ERROR},
    {"truncated", ERR_TRUNCATED},
    {"never_ends", ERR_TIMEOUT},
    {"silent", ERR_TIMEOUT},
    {"huge", ERR_MALFORMED},
    {"refused", ERR_CONNECT},
    {"tls", ERR_TLS},
};
#define CASES      ((int)(sizeof cases / sizeof cases[0]))
#define PER_TARGET 2

/* A loopback port nobody listens on: bound by the kernel, then closed. */
static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_each_misbehaviour_lands_in_its_error_class(void)
{
    testkit_server_t srv;
    if (!testkit_server_start(&srv, "hostile_server.py", NULL)) {
        check_skip("python3 or hostile_server.py unavailable");
        return;
    }
    static char url_buf[CASES][128];
    const char *urls[CASES];
    for (int i = 0; i < CASES; i++) {
        if (strcmp(cases[i].mode, "refused") == 0)
            snprintf(url_buf[i], sizeof url_buf[i], "http://127.0.0.1:%d", unused_port());
        else if (strcmp(cases[i].mode, "tls") == 0)
            snprintf(url_buf[i], sizeof url_buf[i], "https://127.0.0.1:%d/m/ok", srv.port);
        else
            snprintf(url_buf[i], sizeof url_buf[i], "%s/m/%s", srv.url, cases[i].mode);
        urls[i] = url_buf[i];
    }
    engine_config_t config = testkit_config(urls, CASES);
    config.threads = 1; /* one round-robin counter: exactly PER_TARGET requests each */
    config.timeout_ms = 1500;
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    CHECK_MSG(engine, "engine_new: %s", err);
    if (!engine) {
        testkit_server_stop(&srv);
        return;
    }
    testkit_run_t run;
    testkit_run_init(&run, CASES);
    int total = CASES * PER_TARGET;
    engine_phase_t phase =
        testkit_rate_phase(ARRIVAL_CONSTANT, total / 0.5, 0.5, clock_now_ns() + 10 * NS_PER_MS);
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    CHECK(testkit_run_until_idle(engine, &run, 15000));
    engine_destroy(&engine);

    CHECK_INT_EQ(run.total->c.sent, total);
    CHECK_INT_EQ(run.total->c.ok + run.total->c.failed, total);
    for (int i = 0; i < CASES; i++) {
        const metrics_t *m = run.per_target[i];
        if (cases[i].expected < 0) {
            CHECK_MSG(m->c.ok == PER_TARGET, "%s: %lld ok", cases[i].mode, (long long)m->c.ok);
            continue;
        }
        int64_t got = m->c.errors[cases[i].expected];
        if (got != PER_TARGET) {
            char classes[256] = "";
            for (int c = 0; c < ERR_CLASS_COUNT; c++) {
                if (m->c.errors[c]) {
                    size_t l = strlen(classes);
                    snprintf(classes + l, sizeof classes - l, " %s=%lld",
                             error_class_name((error_class_t)c), (long long)m->c.errors[c]);
                }
            }
            check_fail(__FILE__, __LINE__, "%s: expected %d x %s, got ok=%lld%s", cases[i].mode,
                       PER_TARGET, error_class_name((error_class_t)cases[i].expected),
                       (long long)m->c.ok, classes);
        }
    }
    /* Request records carry the class names too. */
    CHECK(run.jsonl.data && strstr(run.jsonl.data, "\"error\":\"timeout\""));
    CHECK(strstr(run.jsonl.data, "\"error\":\"http_429\""));
    testkit_run_free(&run);
    testkit_server_stop(&srv);
}

static void test_halt_with_abort_cancels_requests_in_flight(void)
{
    testkit_server_t srv;
    if (!testkit_server_start(&srv, "hostile_server.py", NULL)) {
        check_skip("python3 or hostile_server.py unavailable");
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "%s/m/silent", srv.url);
    const char *urls[1] = {url};
    engine_config_t config = testkit_config(urls, 1);
    config.timeout_ms = 0; /* only the abort can end these */
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    engine_phase_t phase = testkit_rate_phase(ARRIVAL_CONSTANT, 50, 10, clock_now_ns());
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    usleep(200000);
    engine_status_t st;
    engine_status(engine, &st);
    CHECK(st.running);
    CHECK(st.inflight > 0);
    engine_halt(engine, true);
    engine_status(engine, &st);
    CHECK(!st.running);
    CHECK_INT_EQ(st.inflight, 0);
    int64_t sent = st.sent_total;
    usleep(100000);
    engine_status(engine, &st);
    CHECK_INT_EQ(st.sent_total, sent); /* halted means no new request */
    testkit_run_t run;
    testkit_run_init(&run, 1);
    engine_collect(engine, true, testkit_collect_fn, &run);
    CHECK_INT_EQ(run.total->c.sent, sent);
    CHECK_INT_EQ(run.total->c.errors[ERR_ABORTED], sent); /* aborted, counted as such */
    testkit_run_free(&run);
    engine_destroy(&engine);
    testkit_server_stop(&srv);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The engine keeps idle pooled sockets registered in epoll (worker/loop.c, "parked"). A
   server that hangs up on an idle keep-alive connection makes that socket readable
   forever: the engine must drop it (not wake on it again and again) and open a new
   connection for the next request. A loop spinning on it would burn a core for the whole
   run; a healthy one sleeps between the requests (8 requests over 1.6 s). */
static void test_server_closing_idle_pooled_socket_is_not_spun_on(void)
{
    testkit_server_t srv;
    if (!testkit_server_start(&srv, "hostile_server.py", NULL)) {
        check_skip("python3 or hostile_server.py unavailable");
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "%s/m/idle_close", srv.url);
    const char *urls[1] = {url};
    engine_config_t config = testkit_config(urls, 1);
    config.threads = 1;
    config.timeout_ms = 2000;
    char err[256];
    engine_t *engine = engine_new(&config, err, sizeof err);
    REQUIRE(engine);
    double cpu0 = cpu_seconds();
    int64_t wall0 = clock_now_ns();
    engine_phase_t phase =
        testkit_rate_phase(ARRIVAL_CONSTANT, 5, 1.6, clock_now_ns() + 10 * NS_PER_MS);
    CHECK(engine_start_phase(engine, &phase, err, sizeof err) == 0);
    testkit_run_t run;
    testkit_run_init(&run, 1);
    CHECK(testkit_run_until_idle(engine, &run, 10000));
    double cpu = cpu_seconds() - cpu0;
    double wall = (double)(clock_now_ns() - wall0) / 1e9;
    engine_destroy(&engine);
    CHECK_INT_EQ(run.total->c.sent, 8);
    CHECK_INT_EQ(run.total->c.ok, 8);
    CHECK_MSG(cpu < 0.5 * wall, "the engine used %.2f s of CPU in %.2f s: spinning on a socket",
              cpu, wall);
    testkit_run_free(&run);
    testkit_server_stop(&srv);
}

CHECK_MAIN(test_each_misbehaviour_lands_in_its_error_class,
           test_halt_with_abort_cancels_requests_in_flight,
           test_server_closing_idle_pooled_socket_is_not_spun_on)
