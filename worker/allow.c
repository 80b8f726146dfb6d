/*  allow.c: the worker's target allow-list (see allow.h). Checked once per plan, never
    on the request path. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/allow.h"

#define HOST_MAX 256

/* Reads "PORT" (all digits, 1..65535) of len bytes; -1 when it is not one. */
static long port_parse(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    long port = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* Splits "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address (several
   colons, no port) into host (brackets dropped) and port (0 = none). 0 or -1. */
static int host_port_split(const char *s, size_t len, char *host, size_t host_size, long *port)
{
    const char *h = s, *rest = NULL;
    size_t hlen = len;
    *port = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        rest = close + 1;
        size_t rest_len = len - (size_t)(rest - s);
        if (rest_len > 0) {
            if (rest[0] != ':' || (*port = port_parse(rest + 1, rest_len - 1)) < 0)
                return -1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        bool one_colon = colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s));
        if (one_colon) {
            hlen = (size_t)(colon - s);
            if ((*port = port_parse(colon + 1, len - hlen - 1)) < 0)
                return -1;
        }
    }
    if (hlen == 0 || hlen >= host_size)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}

int allow_pattern_check(const char *pattern, char *err, size_t err_size)
{
    char host[HOST_MAX];
    long port;
    if (!pattern || host_port_split(pattern, strlen(pattern), host, sizeof host, &port) != 0) {
        snprintf(err, err_size,
                 "allow-list pattern '%s': want HOSTGLOB[:PORT] (port 1..65535; "
                 "[v6]:PORT for IPv6)",
                 pattern ? pattern : "");
        return -1;
    }
    return 0;
}

/* The host and port a URL would connect to; -1 when they cannot be read. */
static int url_host_port(const char *url, char *host, size_t host_size, long *port)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return -1;
    long default_port = 0;
    size_t scheme_len = (size_t)(sep - url);
    if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        default_port = 80;
    else if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
        default_port = 443;
    else
        return -1;
    const char *authority = sep + 3;
    size_t len = strcspn(authority, "/?#");
    /* user:password@host: the host is after the last '@' */
    for (size_t i = len; i > 0; i--) {
        if (authority[i - 1] == '@') {
            authority += i;
            len -= i;
            break;
        }
    }
    if (host_port_split(authority, len, host, host_size, port) != 0)
        return -1;
    if (*port == 0)
        *port = default_port;
    return 0;
}

bool allow_target_permitted(const char *const *patterns, int pattern_count, const char *url,
                            char *host_port, size_t host_port_size)
{
    char host[HOST_MAX];
    long port = 0;
    bool readable = url && url_host_port(url, host, sizeof host, &port) == 0;
    if (host_port && host_port_size) {
        if (!readable)
            snprintf(host_port, host_port_size, "%s", url ? url : "");
        else
            snprintf(host_port, host_port_size, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host,
                     port);
    }
    if (pattern_count <= 0)
        return true;
    if (!readable)
        return false;
    for (int i = 0; i < pattern_count; i++) {
        char glob[HOST_MAX];
        long want_port;
        if (!patterns[i] ||
            host_port_split(patterns[i], strlen(patterns[i]), glob, sizeof glob, &want_port) != 0)
            continue; /* refused at startup; never matches */
        if (fnmatch(glob, host, FNM_CASEFOLD) == 0 && (want_port == 0 || want_port == port))
            return true;
    }
    return false;
}
