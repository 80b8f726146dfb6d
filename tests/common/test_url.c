/*  test_url.c: common/url.h: what is shown of a target URL holds none of its secrets,
    and URLs built from a base keep their query a query. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/url.h"

static void check_redacted(const char *url, const char *want)
{
    char *shown = url_redact(url);
    CHECK_STR_EQ(shown, want);
    free(shown);
}

static void test_userinfo_and_query_values_are_never_shown(void)
{
    check_redacted("http://user:PASS@vllm:8000/?key=SECRET",
                   "http://redacted@vllm:8000/?key=redacted");
    check_redacted("https://vllm/v1?key=SECRET&api-version=2&SECRET2",
                   "https://vllm/v1?key=redacted&api-version=redacted&redacted");
    check_redacted("http://:PASS@h", "http://redacted@h/");
    check_redacted("http://h/#SECRET", "http://h/");
    check_redacted("sim://user:PASS@vllm-8b?SECRET", "sim://redacted@vllm-8b/?redacted");
}

static void test_a_url_without_secrets_is_shown_as_written(void)
{
    check_redacted("http://127.0.0.1:8000", "http://127.0.0.1:8000");
    check_redacted("sim://vllm-8b", "sim://vllm-8b");
    check_redacted(NULL, "");
}

static void test_what_libcurl_cannot_parse_is_redacted_by_hand(void)
{
    const char *bad[] = {"http://us er:PASS@h o/?key=SECRET", "no scheme:PASS@x?SECRET",
                         "http://[zz:PASS@h/#SECRET"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *shown = url_redact(bad[i]);
        CHECK_MSG(shown && !strstr(shown, "PASS") && !strstr(shown, "SECRET"), "%s -> %s", bad[i],
                  shown ? shown : "(null)");
        free(shown);
    }
}

static void test_a_path_is_appended_to_the_path_and_the_query_stays_a_query(void)
{
    char err[256];
    char *u = url_with_path("http://h:8000/?key=S", "/metrics", false, err, sizeof err);
    CHECK_STR_EQ(u, "http://h:8000/metrics");
    free(u);
    u = url_with_path("http://user:P@h:8000/base/?key=S", "/v1/chat/completions", true, err,
                      sizeof err);
    CHECK_STR_EQ(u, "http://user:P@h:8000/base/v1/chat/completions?key=S");
    free(u);
    u = url_with_path("http://user:P@h:8000?key=S#frag", "metrics?name=x", false, err, sizeof err);
    CHECK_STR_EQ(u, "http://h:8000/metrics?name=x");
    free(u);
    u = url_with_path("http://h?key=S", "/tokenize?a=1", true, err, sizeof err);
    CHECK_STR_EQ(u, "http://h/tokenize?key=S&a=1");
    free(u);
    u = url_with_path("http://user:PASS@h o/?key=SECRET", "/m", true, err, sizeof err);
    CHECK(u == NULL);
    CHECK_MSG(!strstr(err, "PASS") && !strstr(err, "SECRET"), "%s", err);
}

CHECK_MAIN(test_userinfo_and_query_values_are_never_shown,
           test_a_url_without_secrets_is_shown_as_written,
           test_what_libcurl_cannot_parse_is_redacted_by_hand,
           test_a_path_is_appended_to_the_path_and_the_query_stays_a_query)
