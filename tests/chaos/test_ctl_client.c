/*  test_ctl_client.c: coordinator/ctl_client.h against a stand-in ctl socket (a ROUTER
    in a czmq actor): an answer comes back as its JSON, a refusal as the coordinator's
    reason, silence as "no answer" once the timeout has passed, and a half CURVE config
    is refused before any socket. */
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "coordinator/ctl_client.h"
#include "proto/proto.h"

#define ENDPOINT "tcp://127.0.0.1:*"

/* Answers each request: "status" ok with {"state":"running"}, "pause" refused "not
   running", anything else not at all. Sends its endpoint on the pipe first. */
static void fake_ctl(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(router, ENDPOINT);
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "tcp://127.0.0.1:%d", port);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which != router)
            break; /* $TERM, or interrupted */
        zframe_t *identity = zframe_recv(router);
        zframe_t *body = zframe_recv(router);
        proto_msg_t req;
        char err[256];
        if (identity && body &&
            proto_decode(&req, zframe_data(body), zframe_size(body), err, sizeof err) == PROTO_OK) {
            proto_msg_t reply = {.type = PROTO_CTL_REPLY};
            const char *command = req.u.ctl_request.command;
            if (strcmp(command, "status") == 0) {
                reply.u.ctl_reply =
                    (proto_ctl_reply_t){req.u.ctl_request.id, true, "", "{\"state\":\"running\"}"};
                proto_send_to(router, identity, &reply);
            } else if (strcmp(command, "pause") == 0) {
                reply.u.ctl_reply =
                    (proto_ctl_reply_t){req.u.ctl_request.id, false, "not running", ""};
                proto_send_to(router, identity, &reply);
            }
            proto_msg_clear(&req);
        }
        zframe_destroy(&identity);
        zframe_destroy(&body);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

/* A client of a fresh stand-in; *fake is the caller's to destroy. */
static ctl_client_t *client_of_fake(zactor_t **fake, int64_t timeout_ms)
{
    *fake = zactor_new(fake_ctl, NULL);
    char *endpoint = zstr_recv(*fake);
    char err[256];
    ctl_client_config_t config = {endpoint, NULL, NULL, timeout_ms};
    ctl_client_t *c = ctl_client_new(&config, err, sizeof err);
    CHECK_MSG(c, "%s", err);
    zstr_free(&endpoint); /* the client keeps its own copy */
    return c;
}

static void test_an_answer_comes_back_as_its_json(void)
{
    zactor_t *fake;
    ctl_client_t *c = client_of_fake(&fake, 5000);
    REQUIRE(c);
    char *body = NULL, err[1024];
    CHECK_INT_EQ(ctl_client_call(c, "status", "", 0, &body, err, sizeof err), CTL_CLIENT_OK);
    CHECK_STR_EQ(body, "{\"state\":\"running\"}");
    free(body);
    ctl_client_destroy(&c);
    zactor_destroy(&fake);
    CHECK(c == NULL);
}

static void test_a_refusal_carries_the_coordinators_reason(void)
{
    zactor_t *fake;
    ctl_client_t *c = client_of_fake(&fake, 5000);
    REQUIRE(c);
    char *body = NULL, err[1024];
    CHECK_INT_EQ(ctl_client_call(c, "pause", NULL, 0, &body, err, sizeof err), CTL_CLIENT_REFUSED);
    CHECK(body == NULL);
    CHECK_STR_EQ(err, "not running");
    ctl_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_silence_is_no_answer_after_the_timeout_and_the_next_call_is_not_confused(void)
{
    zactor_t *fake;
    ctl_client_t *c = client_of_fake(&fake, 200);
    REQUIRE(c);
    char *body = NULL, err[1024];
    int64_t t0 = clock_now_ns();
    CHECK_INT_EQ(ctl_client_call(c, "stop", "", 0, &body, err, sizeof err), CTL_CLIENT_NO_ANSWER);
    int64_t waited_ms = (clock_now_ns() - t0) / 1000000;
    CHECK_MSG(waited_ms >= 150 && waited_ms < 3000, "waited %lld ms", (long long)waited_ms);
    CHECK_MSG(strstr(err, "no answer from") != NULL, "%s", err);
    CHECK(body == NULL);
    CHECK_INT_EQ(ctl_client_call(c, "status", "", 0, &body, err, sizeof err), CTL_CLIENT_OK);
    CHECK_STR_EQ(body, "{\"state\":\"running\"}");
    free(body);
    ctl_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_half_a_curve_config_is_refused_before_any_socket(void)
{
    char err[256] = "";
    ctl_client_config_t config = {"tcp://127.0.0.1:1", "op.key_secret", NULL, 1000};
    CHECK(ctl_client_new(&config, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "--coordinator-key") != NULL, "%s", err);
    ctl_client_config_t none = {NULL, NULL, NULL, 1000};
    CHECK(ctl_client_new(&none, err, sizeof err) == NULL);
}

static void test_an_unreadable_certificate_is_a_config_error(void)
{
    char err[1024] = "";
    ctl_client_config_t config = {"tcp://127.0.0.1:1", "/nonexistent/op.key_secret",
                                  "/nonexistent/c.key", 1000};
    ctl_client_t *c = ctl_client_new(&config, err, sizeof err);
    REQUIRE(c);
    char *body = NULL;
    CHECK_INT_EQ(ctl_client_call(c, "status", "", 0, &body, err, sizeof err),
                 CTL_CLIENT_BAD_CONFIG);
    ctl_client_destroy(&c);
}

static void test_a_run_directory_gives_its_endpoint_and_operator_key(void)
{
    char dir[] = "/tmp/surge-ctl-client-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[256];
    ctl_run_dir_t run;
    ctl_run_dir_read(dir, &run);
    CHECK(!run.has_endpoint_file && !run.endpoint[0] && !run.cert_path[0]);
    snprintf(path, sizeof path, "%s/ctl.endpoint", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("tcp://127.0.0.1:40123\n", f);
    fclose(f);
    char key[256];
    snprintf(key, sizeof key, "%s/ctl.key_secret", dir);
    f = fopen(key, "w");
    REQUIRE(f);
    fclose(f);
    ctl_run_dir_read(dir, &run);
    CHECK(run.has_endpoint_file);
    CHECK_STR_EQ(run.endpoint, "tcp://127.0.0.1:40123");
    CHECK_STR_EQ(run.cert_path, key);
    char coordinator_key[256];
    snprintf(coordinator_key, sizeof coordinator_key, "%s/ctl.coordinator.key", dir);
    CHECK_STR_EQ(run.coordinator_key_path, coordinator_key);
    unlink(key);
    unlink(path);
    rmdir(dir);
}

CHECK_MAIN(test_an_answer_comes_back_as_its_json, test_a_refusal_carries_the_coordinators_reason,
           test_silence_is_no_answer_after_the_timeout_and_the_next_call_is_not_confused,
           test_half_a_curve_config_is_refused_before_any_socket,
           test_an_unreadable_certificate_is_a_config_error,
           test_a_run_directory_gives_its_endpoint_and_operator_key)
