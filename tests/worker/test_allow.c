/*  test_allow.c: the worker's target allow-list (worker/allow.h): HOSTGLOB[:PORT]
    patterns, what they let through and what they refuse. The end-to-end proof (a refused
    target is never contacted, the coordinator hears why) is tests/fleet's
    fleet_allow_target_refused. */
#include <string.h>

#include "check.h"
#include "worker/allow.h"

static bool permitted(const char *pattern, const char *url)
{
    const char *patterns[1] = {pattern};
    return allow_target_permitted(patterns, 1, url, NULL, 0);
}

static void test_a_pattern_with_a_port_allows_only_that_port(void)
{
    CHECK(permitted("127.0.0.1:8000", "http://127.0.0.1:8000"));
    CHECK(permitted("127.0.0.1:8000", "http://127.0.0.1:8000/v1/"));
    CHECK(!permitted("127.0.0.1:8000", "http://127.0.0.1:8001"));
    CHECK(!permitted("127.0.0.1:8000", "http://127.0.0.1")); /* port 80 */
    CHECK(permitted("example.com:443", "https://example.com/v1"));
    CHECK(!permitted("example.com:443", "http://example.com/v1"));
    CHECK(permitted("vllm.svc:80", "http://user:secret@vllm.svc/v1"));
}

static void test_a_pattern_without_a_port_allows_every_port_of_its_hosts(void)
{
    CHECK(permitted("*.inference.svc.cluster.local",
                    "http://vllm-3.inference.svc.cluster.local:8000"));
    CHECK(permitted("*.inference.svc.cluster.local", "https://VLLM-3.Inference.svc.cluster.local"));
    CHECK(
        !permitted("*.inference.svc.cluster.local", "http://inference.svc.cluster.local.evil:80"));
    CHECK(permitted("10.0.*", "http://10.0.3.4:9000"));
    CHECK(!permitted("10.0.*", "http://10.1.3.4:9000"));
    CHECK(permitted("vllm-[0-7].svc:8000", "http://vllm-5.svc:8000"));
    CHECK(!permitted("vllm-[0-7].svc:8000", "http://vllm-8.svc:8000"));
}

static void test_ipv6_targets_match_bracketed_and_bare_patterns(void)
{
    CHECK(permitted("[::1]:8000", "http://[::1]:8000"));
    CHECK(!permitted("[::1]:8000", "http://[::1]:8001"));
    CHECK(permitted("::1", "http://[::1]:8001"));
    CHECK(permitted("[fd00::*]", "http://[fd00::17]:80"));
    CHECK(!permitted("::1", "http://127.0.0.1:8000"));
}

static void test_an_empty_list_allows_anything_and_bad_urls_are_refused(void)
{
    CHECK(allow_target_permitted(NULL, 0, "http://anything:1", NULL, 0));
    CHECK(!permitted("*", "ftp://host:21"));
    CHECK(!permitted("*", "http://host:99999"));
    CHECK(!permitted("*", "not a url"));
    char where[64];
    const char *patterns[1] = {"a:1"};
    CHECK(!allow_target_permitted(patterns, 1, "http://[::1]/v1", where, sizeof where));
    CHECK_STR_EQ(where, "[::1]:80");
    CHECK(!allow_target_permitted(patterns, 1, "https://b.example", where, sizeof where));
    CHECK_STR_EQ(where, "b.example:443");
}

static void test_malformed_patterns_are_refused_with_a_reason(void)
{
    char err[256];
    const char *good[] = {"host", "host:1", "*.svc:65535", "[::1]:80", "::1", "fd00::*", "10.0.*"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(allow_pattern_check(good[i], err, sizeof err) == 0, "%s: %s", good[i], err);
    const char *bad[] = {"",    "host:", "host:0",  "host:65536", "host:80x",
                         ":80", "[::1",  "[::1]80", "[]:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_MSG(allow_pattern_check(bad[i], err, sizeof err) != 0, "'%s' accepted", bad[i]);
        CHECK(strstr(err, "HOSTGLOB[:PORT]") != NULL);
    }
}

CHECK_MAIN(test_a_pattern_with_a_port_allows_only_that_port,
           test_a_pattern_without_a_port_allows_every_port_of_its_hosts,
           test_ipv6_targets_match_bracketed_and_bare_patterns,
           test_an_empty_list_allows_anything_and_bad_urls_are_refused,
           test_malformed_patterns_are_refused_with_a_reason)
