/*  test_allow.c: the worker's target allow-list (worker/allow.h): HOST[:PORT]
    patterns (hostname patterns, IP addresses, CIDRs, address globs), what they let
    through and what they refuse. The end-to-end proof (a refused
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
    CHECK(permitted("10.0.*.7", "http://10.0.3.7:9000"));
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
        CHECK(strstr(err, "HOST[:PORT]") != NULL);
    }
    const char *good_new[] = {"10.0.0.0/16:8000", "[fd00::/8]:8000", "10.0.0.5",
                              "*:8000",           "vllm-*:8000",     "*.svc.*.local"};
    for (size_t i = 0; i < sizeof good_new / sizeof good_new[0]; i++)
        CHECK_MSG(allow_pattern_check(good_new[i], err, sizeof err) == 0, "%s: %s", good_new[i],
                  err);
    /* Malformed addresses say what an address pattern is. */
    const char *bad_new[] = {"10.0",    "10.0.0.0/33", "10..0.*",    "fd00::/129",  "10.0.0.0/",
                             "a..b",    ".svc",        "a b",        "vllm%2e.svc", "10.0.0.0/16x",
                             "fd00:zz", "[*]:80",      "[10.0.0.1]", "ex\\ample"};
    for (size_t i = 0; i < sizeof bad_new / sizeof bad_new[0]; i++) {
        err[0] = '\0';
        CHECK_MSG(allow_pattern_check(bad_new[i], err, sizeof err) != 0, "'%s' accepted",
                  bad_new[i]);
        CHECK_MSG(strstr(err, bad_new[i]) != NULL, "%s", err);
    }
}

/* Issue 18: `10.0.*:8000` (the docs' example) let `10.0.attacker.example:8000` through,
   since the glob ran over the host's text whatever it was. */
static void test_a_dns_name_under_an_ip_glob_is_refused(void)
{
    CHECK(permitted("10.0.*:8000", "http://10.0.3.4:8000"));
    CHECK(!permitted("10.0.*:8000", "http://10.0.attacker.example:8000"));
    CHECK(!permitted("10.0.*:8000", "http://10.0.0.1.nip.io:8000"));
    CHECK(!permitted("10.0.*", "http://10.0.0.1.attacker.example:80/"));
    CHECK(!permitted("10.0.0.0/16:8000", "http://10.0.attacker.example:8000"));
    CHECK(!permitted("10.0.0.5:8000", "http://10.0.0.5.attacker.example:8000"));
    /* An address in disguise is read as the address libcurl will connect to (it
       normalises 0x0a.0.0.1 and 2130706433), never as a name. */
    CHECK(permitted("10.0.*", "http://0x0a.0.0.1/"));
    CHECK(permitted("*.example", "http://167772161.example/")); /* a name */
    CHECK(!permitted("1677*", "http://167772161/"));
    CHECK(permitted("127.0.0.1", "http://2130706433/"));
    CHECK(!permitted("10.0.*", "http://0x0b.0.0.1/"));
    /* A hostname pattern never matches an address, and an address one never a name. */
    CHECK(!permitted("*.svc.cluster.local", "http://10.0.0.1/"));
    CHECK(!permitted("vllm-*", "http://[::1]/"));
}

static void test_cidrs_match_their_range_only(void)
{
    CHECK(permitted("10.0.0.0/16:8000", "http://10.0.255.1:8000"));
    CHECK(!permitted("10.0.0.0/16:8000", "http://10.1.0.1:8000"));
    CHECK(!permitted("10.0.0.0/16:8000", "http://10.0.0.1:8001"));
    CHECK(permitted("10.0.0.128/25", "http://10.0.0.200/"));
    CHECK(!permitted("10.0.0.128/25", "http://10.0.0.127/"));
    CHECK(permitted("0.0.0.0/0", "http://192.0.2.1/"));
    CHECK(!permitted("0.0.0.0/0", "http://example.com/"));
    CHECK(permitted("[fd00::/8]:8000", "http://[fd12:3456::1]:8000"));
    CHECK(!permitted("[fd00::/8]:8000", "http://[fe80::1]:8000"));
    CHECK(!permitted("[fd00::/8]", "http://10.0.0.1/"));
    CHECK(permitted("[fd00::1]", "http://[fd00:0:0::1]/")); /* same address, other spelling */
}

static void test_hostname_stars_take_whole_labels_case_insensitively(void)
{
    CHECK(permitted("*.svc.cluster.local", "http://a.b.svc.cluster.local/"));
    CHECK(!permitted("*.svc.cluster.local", "http://svc.cluster.local/"));
    CHECK(!permitted("*.svc.cluster.local", "http://evilsvc.cluster.local/"));
    CHECK(permitted("vllm-*:8000", "http://VLLM-0:8000"));
    CHECK(!permitted("vllm-*:8000", "http://vllm-0.attacker.example:8000"));
    CHECK(permitted("vllm-*.svc", "http://vllm-12.svc/"));
    CHECK(!permitted("vllm-*.svc", "http://vllm-1.x.svc/"));
    CHECK(permitted("a.*.local", "http://a.b.c.local/"));
    CHECK(permitted("vllm.svc", "http://vllm.svc./")); /* the root label */
    CHECK(permitted("vllm.svc.:80", "http://vllm.svc/"));
    CHECK(permitted("*", "http://anything.example/"));
    CHECK(permitted("*", "http://10.0.0.1/"));
    /* The host is read the way libcurl reads it for the request, userinfo and all. */
    CHECK(!permitted("allowed.svc", "http://allowed.svc@evil.example/"));
    CHECK(!permitted("allowed.svc", "http://allowed.svc%2eevil.example/"));
    CHECK(!permitted("allowed.svc:80", "http://allowed.svc:80\\@evil.example/"));
    /* A long name against several stars is decided without a combinatorial search. */
    char url[400] = "http://";
    for (int i = 0; i < 120; i++)
        strcat(url, "a.");
    strcat(url, "b/");
    CHECK(!permitted("*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.c", url));
    CHECK(permitted("*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.b", url));
}

CHECK_MAIN(test_a_pattern_with_a_port_allows_only_that_port,
           test_a_pattern_without_a_port_allows_every_port_of_its_hosts,
           test_ipv6_targets_match_bracketed_and_bare_patterns,
           test_an_empty_list_allows_anything_and_bad_urls_are_refused,
           test_malformed_patterns_are_refused_with_a_reason,
           test_a_dns_name_under_an_ip_glob_is_refused, test_cidrs_match_their_range_only,
           test_hostname_stars_take_whole_labels_case_insensitively)
