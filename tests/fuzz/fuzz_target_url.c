/*  fuzz_target_url: a worker's allow-list against a hostile coordinator's target URL, and
    what is shown of that URL (issue 18). Any pattern and any URL must give an answer,
    never a crash, an out-of-bounds access or a leak; and the answers must hold:

    - an address pattern (digits, dots, globs, a CIDR) admits only a URL whose host, as
      libcurl reads it, is a numeric IPv4 address; a hostname pattern (letters) only a
      URL whose host is no address: a name never passes for an address, nor the reverse;
    - a URL the allow-list admits can be turned into a request URL (url_with_path);
    - url_redact shows no password, no user but "redacted" and no query value but
      "redacted", whatever the URL; a /metrics URL built without credentials has none.

    Input layout: the pattern, a newline, the URL (a NUL ends the URL). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/url.h"
#include "worker/allow.h"

static char *part(CURLU *h, CURLUPart what)
{
    char *s = NULL;
    return curl_url_get(h, what, &s, 0) == CURLUE_OK ? s : NULL;
}

/* Every '&'-component of a shown query is "redacted" or "NAME=redacted". */
static void check_query_shown(const char *query, const char *shown)
{
    const char *p = query;
    for (;;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        const char *value = eq ? eq + 1 : p;
        size_t vlen = len - (size_t)(value - p);
        if (len > 0 && !(vlen == 8 && memcmp(value, "redacted", 8) == 0)) {
            fprintf(stderr, "a query value is shown: %s\n", shown);
            abort();
        }
        if (!p[len])
            break;
        p += len + 1;
    }
}

/* The shown URL, read back, holds no secret. */
static void check_shown(const char *shown, bool keep_user)
{
    CURLU *h = curl_url();
    if (curl_url_set(h, CURLUPART_URL, shown, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        char *user = part(h, CURLUPART_USER), *password = part(h, CURLUPART_PASSWORD);
        char *query = part(h, CURLUPART_QUERY);
        if (password || (user && (!keep_user || strcmp(user, "redacted") != 0))) {
            fprintf(stderr, "userinfo is shown: %s\n", shown);
            abort();
        }
        if (query)
            check_query_shown(query, shown);
        curl_free(user);
        curl_free(password);
        curl_free(query);
    } else {
        const char *q = strchr(shown, '?');
        if (q)
            check_query_shown(q + 1, shown);
        const char *authority = strstr(shown, "://");
        authority = authority ? authority + 3 : shown;
        const char *at = strchr(authority, '@');
        if (at && !(at - authority == 8 && memcmp(authority, "redacted", 8) == 0) &&
            at < authority + strcspn(authority, "/?#")) {
            fprintf(stderr, "userinfo is shown: %s\n", shown);
            abort();
        }
    }
    curl_url_cleanup(h);
}

static bool only(const char *s, const char *set)
{
    return s[strspn(s, set)] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the URL early: C strings */
    char *nl = strchr(text, '\n');
    const char *pattern = text, *url = "";
    if (nl) {
        *nl = '\0';
        url = nl + 1;
    }

    char err[512];
    bool valid = allow_pattern_check(pattern, err, sizeof err) == 0;
    char where[300];
    const char *patterns[1] = {pattern};
    bool allowed = allow_target_permitted(patterns, 1, url, where, sizeof where);
    if (allowed && !valid) {
        fprintf(stderr, "an invalid pattern admitted a URL\n");
        abort();
    }
    if (allowed) {
        char *request = url_with_path(url, "/v1/completions", true, err, sizeof err);
        if (!request) {
            fprintf(stderr, "an admitted URL cannot be requested: %s\n", err);
            abort();
        }
        free(request);
        CURLU *h = curl_url();
        char *host = NULL;
        if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
            fprintf(stderr, "an admitted URL has no host\n");
            abort();
        }
        unsigned char addr[16];
        /* The host part of an IPv4 or hostname pattern: before its one colon, if any. */
        const char *colon = strchr(pattern, ':');
        bool one_colon = colon && !strchr(colon + 1, ':');
        size_t hlen = one_colon ? (size_t)(colon - pattern) : strlen(pattern);
        char host_part[300];
        snprintf(host_part, sizeof host_part, "%.*s", (int)hlen, pattern);
        if (hlen > 1 && host_part[hlen - 1] == '.')
            host_part[hlen - 1] = '\0'; /* the root label, ignored */
        bool is_v4 = inet_pton(AF_INET, host, addr) == 1;
        bool is_addr = is_v4 || host[0] == '[';
        if (pattern[0] != '[' && only(host_part, "0123456789./*?[]!-") &&
            strcmp(host_part, "*") != 0 && !is_v4) {
            fprintf(stderr, "address pattern %s admitted host %s\n", pattern, host);
            abort();
        }
        if (strpbrk(host_part, "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ_") && is_addr) {
            fprintf(stderr, "hostname pattern %s admitted address %s\n", pattern, host);
            abort();
        }
        curl_free(host);
        curl_url_cleanup(h);
    }

    char *shown = url_redact(url);
    if (!shown)
        abort();
    check_shown(shown, true);
    free(shown);
    char *metrics = url_with_path(url, "/metrics", false, err, sizeof err);
    if (metrics) {
        check_shown(metrics, false);
        free(metrics);
    }
    free(text);
    return 0;
}
