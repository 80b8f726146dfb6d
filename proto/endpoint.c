/*  endpoint.c: loopback or not (see endpoint.h). */
#include "proto/endpoint.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* A ZeroMQ port: digits (0..65535), or czmq's ephemeral "*" / "!", optionally with a
   range ("*[60000-]"). */
static bool endpoint_port_ok(const char *p)
{
    if (*p == '*' || *p == '!') {
        p++;
        if (!*p)
            return true;
        size_t len = strlen(p);
        return p[0] == '[' && p[len - 1] == ']' && len - 2 == strspn(p + 1, "0123456789-");
    }
    size_t digits = strspn(p, "0123456789");
    return digits >= 1 && digits <= 5 && !p[digits] && atol(p) <= 65535;
}

/* Exactly "tcp://HOST:PORT" with HOST 127.x.y.z, localhost or [::1]: anything else
   (a ZeroMQ source;destination pair "tcp://127.0.0.1:0;0.0.0.0:25999", an interface
   name, a hostname that merely starts with 127.) is not loopback. */
bool endpoint_is_loopback(const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6, *colon = strrchr(host, ':');
    if (!colon || !endpoint_port_ok(colon + 1))
        return false;
    char text[64];
    size_t len = (size_t)(colon - host);
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy(text, host, len);
    text[len] = '\0';
    if (strcmp(text, "localhost") == 0 || strcmp(text, "[::1]") == 0)
        return true;
    unsigned char v4[4];
    return inet_pton(AF_INET, text, v4) == 1 && v4[0] == 127;
}
