/*  allow.c: the worker's target allow-list (see allow.h). Checked once per plan, never
    on the request path.

    The target's host is read with libcurl's URL parser, the one that reads the URL
    when the request is sent, so the allow-list and the connection can never disagree
    about which host a URL names (a hand-written split and libcurl differ on
    `http://a@b@c/`, backslashes, percent-escapes). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/allow.h"

#define HOST_MAX 256

typedef enum {
    HOST_INVALID,
    HOST_NAME, /* a DNS name: letters, digits, '-', '_', dots */
    HOST_IPV4,
    HOST_IPV6,
} host_kind_t;

typedef enum {
    PATTERN_ANY,     /* "*": any valid host */
    PATTERN_NAME,    /* hostname labels, '*' = one or more whole labels */
    PATTERN_V4_GLOB, /* octets, '*' = one or more whole octets */
    PATTERN_V6_GLOB, /* fnmatch over the canonical text (inet_ntop) */
    PATTERN_V4_CIDR, /* an address (/32 when no length) */
    PATTERN_V6_CIDR, /* an address (/128 when no length) */
} pattern_kind_t;

typedef struct {
    pattern_kind_t kind;
    char text[HOST_MAX]; /* the host part: a glob, or the address of a CIDR */
    unsigned char addr[16];
    int prefix_bits;
    long port; /* 0 = any */
} pattern_t;

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

static bool only_chars(const char *s, const char *set)
{
    return s[strspn(s, set)] == '\0';
}

/* Dot-separated labels, none empty, each of `set` characters. */
static bool labels_ok(const char *s, const char *set)
{
    if (!*s || !only_chars(s, set))
        return false;
    return s[0] != '.' && s[strlen(s) - 1] != '.' && !strstr(s, "..");
}

/* "ADDR" or "ADDR/BITS" of family af into p; -1 when it is not one. */
static int cidr_parse(const char *text, int af, pattern_t *p)
{
    char addr[HOST_MAX];
    int max_bits = af == AF_INET ? 32 : 128;
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen >= sizeof addr)
        return -1;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(af, addr, p->addr) != 1)
        return -1;
    p->prefix_bits = max_bits;
    if (slash) {
        const char *b = slash + 1;
        if (!*b || strlen(b) > 3 || !only_chars(b, "0123456789"))
            return -1;
        p->prefix_bits = atoi(b);
        if (p->prefix_bits > max_bits)
            return -1;
    }
    p->kind = af == AF_INET ? PATTERN_V4_CIDR : PATTERN_V6_CIDR;
    return 0;
}

#define GLOB_CHARS "*?[]!"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
#define V4_CHARS   "0123456789."
#define V6_CHARS   "0123456789abcdefABCDEF:."
#define CIDR_V4    V4_CHARS "/"
#define CIDR_V6    V6_CHARS "/"
#define GLOB_V4    V4_CHARS GLOB_CHARS "-"
#define GLOB_V6    V6_CHARS GLOB_CHARS "-"
#define GLOB_NAME  NAME_CHARS GLOB_CHARS

/* Reads one pattern; -1 with why (a short phrase) when it is not one. */
static int pattern_parse(const char *pattern, pattern_t *p, const char **why)
{
    memset(p, 0, sizeof *p);
    *why = "want HOST[:PORT] (port 1..65535; [v6]:PORT for IPv6)";
    if (!pattern ||
        host_port_split(pattern, strlen(pattern), p->text, sizeof p->text, &p->port) != 0)
        return -1;
    char *h = p->text;
    size_t hlen = strlen(h);
    if (hlen > 1 && h[hlen - 1] == '.' && !strchr(h, ':'))
        h[hlen - 1] = '\0'; /* the root label: "vllm.svc." is "vllm.svc" */
    if (pattern[0] == '[' && !strchr(h, ':')) {
        *why = "brackets hold an IPv6 address ([fd00::1]:8000)";
        return -1;
    }
    if (strcmp(h, "*") == 0) {
        p->kind = PATTERN_ANY;
        return 0;
    }
    if (strchr(h, ':')) { /* IPv6: an address, a CIDR or a glob over the address */
        *why = "not an IPv6 address, CIDR (fd00::/8) or address glob (fd00::*)";
        if (only_chars(h, CIDR_V6) && cidr_parse(h, AF_INET6, p) == 0)
            return 0;
        if (strpbrk(h, GLOB_CHARS) && only_chars(h, GLOB_V6)) {
            p->kind = PATTERN_V6_GLOB;
            return 0;
        }
        return -1;
    }
    if (only_chars(h, GLOB_V4 "/")) { /* digits only: an IPv4 address, CIDR or octet glob */
        *why = "not an IPv4 address (10.0.0.5), CIDR (10.0.0.0/16) or octet glob (10.0.*)";
        if (only_chars(h, CIDR_V4) && cidr_parse(h, AF_INET, p) == 0)
            return 0;
        if (strpbrk(h, GLOB_CHARS) && labels_ok(h, GLOB_V4)) {
            p->kind = PATTERN_V4_GLOB;
            return 0;
        }
        return -1;
    }
    *why = "a hostname pattern is dot-separated labels of letters, digits, '-', '_' and "
           "globs (*.svc.cluster.local, vllm-[0-7].svc)";
    if (!labels_ok(h, GLOB_NAME))
        return -1;
    p->kind = PATTERN_NAME;
    return 0;
}

int allow_pattern_check(const char *pattern, char *err, size_t err_size)
{
    pattern_t p;
    const char *why;
    if (pattern_parse(pattern, &p, &why) != 0) {
        snprintf(err, err_size, "allow-list pattern '%s': %s", pattern ? pattern : "", why);
        return -1;
    }
    return 0;
}

/* ---- targets ---------------------------------------------------------------------- */

/* The host (brackets dropped), its kind and the port a URL would connect to, read the
   way libcurl reads it; -1 when they cannot be read or the scheme is not http(s). */
static int url_host_port(const char *url, char *host, size_t host_size, host_kind_t *kind,
                         unsigned char addr[16], long *port)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *text = NULL, *port_text = NULL, *zone = NULL;
    int rc = -1;
    if (!h || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &text, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_PORT, &port_text, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto done;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        goto done;
    if (curl_url_get(h, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK)
        goto done; /* fe80::1%eth0: a link-local scope is not a target */
    *port = port_parse(port_text, strlen(port_text));
    size_t len = strlen(text);
    const char *start = text;
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        start++;
        len -= 2;
    }
    if (*port < 0 || len == 0 || len >= host_size)
        goto done;
    memcpy(host, start, len);
    host[len] = '\0';
    struct in_addr v4;
    if (start != text) {
        if (inet_pton(AF_INET6, host, addr) != 1)
            goto done;
        *kind = HOST_IPV6;
    } else if (inet_pton(AF_INET, host, addr) == 1) {
        *kind = HOST_IPV4;
    } else if (inet_aton(host, &v4) != 0) {
        goto done; /* 0x7f.1, 2130706433: an address in disguise, never a name */
    } else {
        if (len > 1 && host[len - 1] == '.')
            host[--len] = '\0'; /* the root label: "vllm.svc." is "vllm.svc" */
        if (!labels_ok(host, NAME_CHARS))
            goto done;
        *kind = HOST_NAME;
    }
    rc = 0;
done:
    curl_free(scheme);
    curl_free(text);
    curl_free(port_text);
    curl_free(zone);
    curl_url_cleanup(h);
    return rc;
}

#define LABELS_MAX 128 /* a 255-byte host has at most 128 labels */

/* Does the label list `name` (n labels) match the pattern's labels (m)? A pattern label
   "*" takes one or more whole labels; any other is an fnmatch glob within one label,
   case-insensitive. Dynamic programming, not backtracking: a hostile 128-label host
   against a pattern of several '*' costs m * n steps, not a combinatorial search.
   at[i][j]: pattern labels i.. match name labels j.. */
static bool labels_match(char **pat, int m, char **name, int n)
{
    static _Thread_local bool at[LABELS_MAX + 1][LABELS_MAX + 1];
    for (int j = 0; j <= n; j++)
        at[m][j] = j == n;
    for (int i = m - 1; i >= 0; i--) {
        bool star = strcmp(pat[i], "*") == 0;
        at[i][n] = false;
        for (int j = n - 1; j >= 0; j--) {
            if (star) /* take name[j], then stop here or take more */
                at[i][j] = at[i + 1][j + 1] || at[i][j + 1];
            else
                at[i][j] = at[i + 1][j + 1] && fnmatch(pat[i], name[j], FNM_CASEFOLD) == 0;
        }
    }
    return at[0][0];
}

/* Splits s in place at dots; -1 when it has more than LABELS_MAX labels. */
static int labels_split(char *s, char **out)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(s, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (n == LABELS_MAX)
            return -1;
        out[n++] = tok;
    }
    return n;
}

static bool dotted_match(const char *pattern, const char *host)
{
    char p[HOST_MAX], h[HOST_MAX];
    char *pl[LABELS_MAX], *hl[LABELS_MAX];
    snprintf(p, sizeof p, "%s", pattern);
    snprintf(h, sizeof h, "%s", host);
    int m = labels_split(p, pl), n = labels_split(h, hl);
    return m >= 0 && n >= 0 && labels_match(pl, m, hl, n);
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

static bool host_matches(const pattern_t *p, const char *host, host_kind_t kind,
                         const unsigned char *addr)
{
    char canonical[INET6_ADDRSTRLEN];
    switch (p->kind) {
    case PATTERN_ANY:
        return true;
    case PATTERN_NAME:
        return kind == HOST_NAME && dotted_match(p->text, host);
    case PATTERN_V4_GLOB:
        return kind == HOST_IPV4 && dotted_match(p->text, host);
    case PATTERN_V4_CIDR:
        return kind == HOST_IPV4 && prefix_match(p->addr, addr, p->prefix_bits);
    case PATTERN_V6_CIDR:
        return kind == HOST_IPV6 && prefix_match(p->addr, addr, p->prefix_bits);
    case PATTERN_V6_GLOB:
        return kind == HOST_IPV6 && inet_ntop(AF_INET6, addr, canonical, sizeof canonical) &&
               fnmatch(p->text, canonical, FNM_CASEFOLD) == 0;
    }
    return false;
}

bool allow_target_permitted(const char *const *patterns, int pattern_count, const char *url,
                            char *host_port, size_t host_port_size)
{
    char host[HOST_MAX];
    unsigned char addr[16] = {0};
    host_kind_t kind = HOST_INVALID;
    long port = 0;
    bool readable = url && url_host_port(url, host, sizeof host, &kind, addr, &port) == 0;
    if (host_port && host_port_size) {
        if (!readable)
            snprintf(host_port, host_port_size, "an unreadable host");
        else
            snprintf(host_port, host_port_size, kind == HOST_IPV6 ? "[%s]:%ld" : "%s:%ld", host,
                     port);
    }
    if (pattern_count <= 0)
        return true;
    if (!readable)
        return false;
    for (int i = 0; i < pattern_count; i++) {
        pattern_t p;
        const char *why;
        if (pattern_parse(patterns[i], &p, &why) != 0)
            continue; /* refused at startup; never matches */
        if ((p.port == 0 || p.port == port) && host_matches(&p, host, kind, addr))
            return true;
    }
    return false;
}
