/*  test_agent_config.c: the worker library itself refuses to talk plain text to a
    coordinator off loopback (worker/agent.h, agent_config_check), whoever calls it:
    `surge worker` only parses flags. */
#include <signal.h>
#include <string.h>

#include "check.h"
#include "common/exit_codes.h"
#include "worker/agent.h"

static int check_of(const agent_config_t *config, char *why, size_t size)
{
    why[0] = '\0';
    return agent_config_check(config, why, size);
}

static void test_a_non_loopback_coordinator_without_curve_is_refused_with_a_reason(void)
{
    agent_config_t config = {.endpoint = "tcp://192.0.2.1:5555"};
    char why[1024];
    CHECK(check_of(&config, why, sizeof why) != 0);
    CHECK_MSG(strstr(why, "tcp://192.0.2.1:5555") && strstr(why, "not a loopback endpoint") &&
                  strstr(why, "surge keygen keys --name worker") && strstr(why, "--insecure"),
              "reason: %s", why);
}

static void test_agent_run_refuses_it_too_before_connecting(void)
{
    agent_config_t config = {.endpoint = "tcp://192.0.2.1:5555"};
    volatile sig_atomic_t stop = 1;
    CHECK_INT_EQ(agent_run(&config, &stop), SURGE_EXIT_USAGE);
}

static void test_insecure_or_curve_or_loopback_is_accepted(void)
{
    char why[1024];
    agent_config_t insecure = {.endpoint = "tcp://192.0.2.1:5555", .insecure = true};
    CHECK_MSG(check_of(&insecure, why, sizeof why) == 0, "%s", why);
    agent_config_t curve = {.endpoint = "tcp://192.0.2.1:5555",
                            .cert_path = "w.key_secret",
                            .coordinator_key_path = "c.key"};
    CHECK_MSG(check_of(&curve, why, sizeof why) == 0, "%s", why);
    agent_config_t loopback = {.endpoint = "tcp://127.0.0.1:5555"};
    CHECK_MSG(check_of(&loopback, why, sizeof why) == 0, "%s", why);
}

static void test_curve_needs_both_certificates(void)
{
    char why[1024];
    agent_config_t cert_only = {.endpoint = "tcp://127.0.0.1:5555", .cert_path = "w.key_secret"};
    CHECK(check_of(&cert_only, why, sizeof why) != 0 && strstr(why, "--coordinator-key"));
    agent_config_t key_only = {.endpoint = "tcp://127.0.0.1:5555", .coordinator_key_path = "c.key"};
    CHECK(check_of(&key_only, why, sizeof why) != 0 && strstr(why, "--cert"));
}

static void test_a_missing_endpoint_is_refused(void)
{
    char why[1024];
    agent_config_t none = {0};
    CHECK(check_of(&none, why, sizeof why) != 0 && strstr(why, "endpoint"));
}

CHECK_MAIN(test_a_non_loopback_coordinator_without_curve_is_refused_with_a_reason,
           test_agent_run_refuses_it_too_before_connecting,
           test_insecure_or_curve_or_loopback_is_accepted, test_curve_needs_both_certificates,
           test_a_missing_endpoint_is_refused)
