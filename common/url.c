/*  url.c: target URLs shown without their secrets, and URLs built with libcurl's URL
    API (see url.h). Called when a run starts and when something is written or logged,
    never per request. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/url.h"

#define REDACTED "redacted"

/* A part of h, or NULL when it has none (curl_free it). */
static char *part_get(CURLU *h, CURLUPart what)
{
    char *s = NULL;
    if (curl_url_get(h, what, &s, 0) != CURLUE_OK)
        return NULL;
    return s;
}

/* Every value of a query (names kept): "a=1&b&c=" -> "a=redacted&redacted&c=redacted".
   A component without '=' is a value (`?SECRET`). */
static char *query_redact(const char *query)
{
    buf_t out;
    buf_init(&out);
    const char *p = query;
    for (;;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (out.len)
            buf_append_char(&out, '&');
        if (eq)
            buf_append(&out, p, (size_t)(eq - p) + 1);
        if (len > 0)
            buf_append_str(&out, REDACTED);
        if (!p[len])
            break;
        p += len + 1;
    }
    if (!out.data)
        buf_append_str(&out, "");
    return buf_take(&out);
}

/* For what libcurl cannot parse: keep the scheme and what follows the last '@', drop
   everything that could be a secret (all before that '@', all after a '?' or '#'). */
static char *redact_by_hand(const char *url)
{
    buf_t out;
    buf_init(&out);
    size_t head = strcspn(url, "?#");
    const char *end = url + head;
    /* A scheme is letters, digits, '+', '-', '.' before "://" (not a "://" in a query). */
    size_t scheme_len =
        strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    const char *authority = url + scheme_len + 3 <= end && strncmp(url + scheme_len, "://", 3) == 0
                                ? url + scheme_len + 3
                                : url;
    const char *at = NULL; /* the last '@' before the query, '/' or not: conservative */
    for (const char *p = authority; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (at) {
        buf_append(&out, url, (size_t)(authority - url));
        buf_append_str(&out, REDACTED);
        buf_append(&out, at, (size_t)(end - at));
    } else {
        buf_append(&out, url, head);
    }
    if (*end == '?')
        buf_append_str(&out, "?" REDACTED);
    if (!out.data)
        buf_append_str(&out, "");
    return buf_take(&out);
}

char *url_redact(const char *url)
{
    if (!url)
        return strdup("");
    if (!strpbrk(url, "@?#"))
        return strdup(url); /* nothing to hide: shown as the plan wrote it */
    CURLU *h = curl_url();
    if (!h)
        return NULL;
    char *out = NULL;
    if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(h);
        return redact_by_hand(url);
    }
    char *user = part_get(h, CURLUPART_USER), *password = part_get(h, CURLUPART_PASSWORD),
         *options = part_get(h, CURLUPART_OPTIONS), *query = part_get(h, CURLUPART_QUERY);
    if (user || password || options) {
        curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(h, CURLUPART_OPTIONS, NULL, 0);
        curl_url_set(h, CURLUPART_USER, REDACTED, 0);
    }
    if (query) {
        char *q = query_redact(query);
        curl_url_set(h, CURLUPART_QUERY, q, 0);
        free(q);
    }
    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
    char *text = part_get(h, CURLUPART_URL);
    out = text ? strdup(text) : redact_by_hand(url);
    curl_free(text);
    curl_free(user);
    curl_free(password);
    curl_free(options);
    curl_free(query);
    curl_url_cleanup(h);
    return out;
}

char *url_with_path(const char *base, const char *suffix, bool keep_credentials, char *err,
                    size_t err_size)
{
    CURLU *h = curl_url();
    if (!h) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (!base || curl_url_set(h, CURLUPART_URL, base, 0) != CURLUE_OK) {
        char *shown = url_redact(base);
        snprintf(err, err_size, "%s: not a URL", shown ? shown : "");
        free(shown);
        curl_url_cleanup(h);
        return NULL;
    }
    char *base_path = part_get(h, CURLUPART_PATH);
    size_t suffix_path_len = strcspn(suffix, "?#");
    const char *suffix_query = suffix[suffix_path_len] == '?' ? suffix + suffix_path_len + 1 : NULL;
    buf_t path;
    buf_init(&path);
    if (base_path)
        buf_append_str(&path, base_path);
    while (path.len > 0 && path.data[path.len - 1] == '/')
        path.data[--path.len] = '\0';
    if (suffix[0] != '/')
        buf_append_char(&path, '/');
    buf_append(&path, suffix, suffix_path_len);
    curl_free(base_path);
    curl_url_set(h, CURLUPART_PATH, path.data, 0);
    buf_free(&path);
    if (!keep_credentials) {
        curl_url_set(h, CURLUPART_USER, NULL, 0);
        curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(h, CURLUPART_OPTIONS, NULL, 0);
        curl_url_set(h, CURLUPART_QUERY, NULL, 0);
    }
    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
    if (suffix_query) {
        char *q = strndup(suffix_query, strcspn(suffix_query, "#"));
        if (q && *q)
            curl_url_set(h, CURLUPART_QUERY, q, CURLU_APPENDQUERY);
        free(q);
    }
    char *text = part_get(h, CURLUPART_URL);
    char *out = text ? strdup(text) : NULL;
    curl_free(text);
    curl_url_cleanup(h);
    if (!out)
        snprintf(err, err_size, "cannot build a URL from the target's");
    return out;
}
